/*
 * init.c - start and end of the shim's life in a process.
 */
#define _GNU_SOURCE
#include <unistd.h>
#include "shim.h"

_Atomic bool shim_ready;
size_t shim_pagesize = 4096; /* until init: the usual one */

void procs_init(void);

__attribute__((constructor)) static void shim_init(void)
{
	shim_resolve();
	/* Before anything reaches the core: its calls must not come back here. */
	mmapio_embed_sys(&(struct mmapio_sys){
		.open = real.open,
		.close = real.close,
		.read = real.read,
		.pread = real.pread,
		.fcntl = real.fcntl,
		.ftruncate = real.ftruncate,
		.sigaction = (int (*)(int, const struct sigaction *, struct sigaction *))real.sigaction,
		.sigmask = (int (*)(int, const sigset_t *, sigset_t *))real.pthread_sigmask,
	});
	long ps = sysconf(_SC_PAGESIZE);
	if (ps > 0)
		shim_pagesize = (size_t)ps;
	config_load();
	limits_read();
	fdtable_init();
	if (cfg.mode != MODE_NEVER) {
		/* Before files_init(): the core's fork handlers must be
		 * registered first, so that ours (files lock) run before
		 * theirs at fork, the order we nest them in (files.c). */
		mmapio_fault_install();
	}
	stats_init();
	exitreport_init();
	files_init();
	procs_init();
	if (cfg.mode != MODE_NEVER) {
		shim_busy++;
		inherit_init();
		shim_busy--;
	}
	atomic_store_explicit(&shim_ready, true, memory_order_release);
	shim_log(LOG_DEBUG, "ready, mode %d", cfg.mode);
}

__attribute__((destructor)) static void shim_fini(void)
{
	stats_write();
}
