/*
 * pattern.c - auto mode's second look: the reads a file actually gets.
 *
 * A file that passes the open-time rules starts in FILE_WATCH: the kernel
 * serves it and every read is counted (two relaxed atomic adds next to a
 * syscall). Every WATCH_CALLS reads, policy_decide() looks at the window:
 * mostly small reads map the file (promotion; with the default
 * MMAPIO_SMALL_READ every read is small); mostly large ones keep the
 * kernel and start a new window, so a file whose use changes later can
 * still be promoted.
 *
 * Before any of that, in auto mode, a new descriptor is "pending": not
 * even fstat'ed until it has been read WATCH_CALLS times, so that opening,
 * reading and closing many small files costs what it costs without us.
 *
 * Once mapped, descriptors of the file adopt a shadow offset lazily, on
 * their next read() or write(), from the kernel's current offset.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <unistd.h>
#include "shim.h"

/* A pending description (files.c open_pending): decide when it is time. */
static void observe_pending(struct ofd *o, int fd, size_t len, ssize_t n, int64_t end)
{
	if (n < 0)
		return;
	/* The end of a file smaller than MMAPIO_MIN_SIZE: never worth a map. */
	if ((size_t)n < len && end >= 0 && (uint64_t)end < cfg.min_size) {
		atomic_store(&o->kernel_only, true); /* before pending: see kernel_read() */
		atomic_store(&o->pending, false);
		return;
	}
	if (len < cfg.small_read)
		atomic_fetch_add_explicit(&o->w_small, 1, memory_order_relaxed);
	if (atomic_fetch_add_explicit(&o->w_calls, 1, memory_order_relaxed) + 1 < WATCH_CALLS)
		return;
	/* One thread decides: the one that ends the pending state. */
	if (atomic_exchange(&o->pending, false))
		files_decide_pending(o, fd);
}

void pattern_observe(struct ofd *o, int fd, size_t len, ssize_t n, int64_t end)
{
	int e = errno;
	if (atomic_load_explicit(&o->pending, memory_order_relaxed)) {
		observe_pending(o, fd, len, n, end);
		errno = e;
		return;
	}
	struct file *f = o->file;
	if (n <= 0 || !f || atomic_load_explicit(&f->state, memory_order_relaxed) != FILE_WATCH) {
		errno = e;
		return;
	}
	if (len < cfg.small_read)
		atomic_fetch_add_explicit(&f->w_small, 1, memory_order_relaxed);
	uint32_t calls = atomic_fetch_add_explicit(&f->w_calls, 1, memory_order_relaxed) + 1;
	if (calls % WATCH_CALLS) {
		errno = e;
		return;
	}
	struct file_facts facts = {
		.regular = true,
		.selected = true,
		.size = 0, /* already within bounds at open */
		.threads = policy_threads(),
		.calls = WATCH_CALLS,
		.small = atomic_exchange(&f->w_small, 0),
	};
	struct shim_config c = cfg;
	c.min_size = 0; /* the size rule was applied at open */
	struct decision d = policy_decide(&c, &facts);
	files_promote(o, fd, d);
	errno = e;
}

