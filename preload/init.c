/*
 * init.c - start and end of the shim's life in a process.
 */
#define _GNU_SOURCE
#include "shim.h"

_Atomic bool shim_ready;

void procs_init(void);

__attribute__((constructor)) static void shim_init(void)
{
	shim_resolve();
	config_load();
	fdtable_init();
	if (cfg.mode != MODE_NEVER)
		coherence_init();
	files_init();
	procs_init();
	if (cfg.mode != MODE_NEVER)
		mmapio_fault_install();
	atomic_store_explicit(&shim_ready, true, memory_order_release);
	shim_log(LOG_DEBUG, "ready, mode %d", cfg.mode);
}

__attribute__((destructor)) static void shim_fini(void)
{
	stats_write();
}
