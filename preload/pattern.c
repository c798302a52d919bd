/*
 * pattern.c - what the calls the kernel serves on tracked files look like.
 *
 * Before the first decision, in auto mode, a new descriptor is "pending"
 * (decide.c): not even fstat'ed. Its calls are counted here (two or three
 * relaxed atomic adds next to a syscall): how many, how many small (below
 * MMAPIO_SMALL_READ), how many continued the previous one (sequential).
 * After WATCH_CALLS of them its file is decided. A read-only description
 * that reaches the end of a file smaller than MMAPIO_MIN_SIZE is left to
 * the kernel at once (kernel_only); one that can write keeps being
 * watched, since the program may grow the file (a database it creates).
 *
 * After the first decision, calls on a file the kernel serves while auto
 * mode watches it are sampled (sample.c) before they run: their pages'
 * residency can only be seen before the kernel reads them in.
 *
 * Once mapped, descriptions of the file adopt a shadow offset lazily, on
 * their next read() or write(), from the kernel's current offset.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include "shim.h"

static void before(struct ofd *o, int fd, int64_t off, int64_t at, size_t len, bool write)
{
	if (atomic_load_explicit(&o->pending, memory_order_relaxed)) {
		/* Every call of a pending description is looked at: the
		 * previous positional one ended at o->w_end (0 at first: a
		 * read from the start counts as in order). */
		bool seq = off < 0 ? stream_implicit(o) : atomic_load(&o->w_end) == off;
		if (off >= 0)
			atomic_store(&o->w_end, off + (int64_t)len);
		if (seq)
			atomic_fetch_add_explicit(&o->w_seq, 1, memory_order_relaxed);
		return;
	}
	struct file *f = o->file;
	if (!f)
		return;
	int state = atomic_load_explicit(&f->state, memory_order_relaxed);
	if (state == FILE_WATCH)
		sample_kernel(o, fd, off, at, len, write);
	else if (unlikely(sample_tls.pair_o))
		pair_close(o, off);
}

void pattern_before(struct ofd *o, int fd, int64_t off, int64_t at, size_t len)
{
	before(o, fd, off, at, len, false);
}

/* A write: a miss it meets costs a map a disk read the kernel would not do. */
void pattern_before_write(struct ofd *o, int fd, int64_t off, int64_t at, size_t len)
{
	before(o, fd, off, at, len, true);
}

/* A pending description (decide.c): decide when it is time. */
static void observe_pending(struct ofd *o, int fd, size_t len, ssize_t n, int64_t end)
{
	if (n < 0)
		return;
	/* The end of a file smaller than MMAPIO_MIN_SIZE, read through a
	 * description that cannot grow it: never worth a map. */
	if ((size_t)n < len && end >= 0 && (uint64_t)end < cfg.min_size &&
	    (o->flags & O_ACCMODE) == O_RDONLY) {
		atomic_store(&o->kernel_only, true); /* before pending: see kernel_read() */
		atomic_store(&o->pending, false);
		return;
	}
	if (len < cfg.small_read)
		atomic_fetch_add_explicit(&o->w_small, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&o->w_bytes, len, memory_order_relaxed);
	if (atomic_fetch_add_explicit(&o->w_calls, 1, memory_order_relaxed) + 1 < WATCH_CALLS)
		return;
	/* One thread decides: the one that ends the pending state. */
	if (atomic_exchange(&o->pending, false))
		files_decide_pending(o, fd);
}

void pattern_observe(struct ofd *o, int fd, size_t len, ssize_t n, int64_t end)
{
	if (!atomic_load_explicit(&o->pending, memory_order_relaxed)) {
		/* A watched file: what the kernel moved tells a file read
		 * again from one read once (policy.c). */
		struct file *f = o->file;
		if (n <= 0 || !f || atomic_load_explicit(&f->state, memory_order_relaxed) != FILE_WATCH)
			return;
		/* Not a locked add (this is every call the kernel serves on a
		 * watched file): a count lost to a race only delays the wake. */
		uint64_t was = atomic_load_explicit(&f->kbytes, memory_order_relaxed);
		atomic_store_explicit(&f->kbytes, was + (uint64_t)n, memory_order_relaxed);
		uint64_t until = atomic_load_explicit(&f->until_moved, memory_order_relaxed);
		if (until && was < until && was + (uint64_t)n >= until)
			sample_wake(f);
		return;
	}
	int e = errno;
	observe_pending(o, fd, len, n, end);
	errno = e;
}
