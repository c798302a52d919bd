/*
 * inherit.c - descriptors a program inherits (`wc -l < FILE`, `cmd 3< FILE`),
 * and read() on open file descriptions shared with another process.
 *
 * At start, the regular files open for reading on descriptors 0 to 63 are
 * tracked as if the program had just opened them (decide.c), with one
 * difference: their description may be shared with the parent or with
 * siblings (`{ a; b; } < FILE` hands b the offset where a stopped), so the
 * kernel owns their offset for good ("noshadow", like a description a
 * fork shared). Finding them costs an fstat of descriptors 0-2 and one
 * poll() of 3-63 with no events (closed ones answer POLLNVAL), then an
 * fstat of each open one: about 4 us per process start (README).
 *
 * pread and friends take no offset and are served from the map as on any
 * tracked file. read() on a description whose offset the kernel owns is
 * served by claiming its range from the kernel first, then copying:
 * lseek(fd, len, SEEK_CUR) moves the shared offset atomically (the kernel
 * serialises it with read(2) on the same description, f_pos_lock), and its
 * answer says where the range starts. One syscall that copies nothing
 * instead of one that copies: 4 KiB reads of a hot file took 278 ns
 * against 452 through read(2), 16 KiB 734-800 ns against 987, 64 KiB
 * 2350-2430 ns against 3121 (README, Descriptors a program inherits). A
 * read that would cross the end of the file as we know it is the
 * kernel's: it alone knows where the end is at that moment. A claim that
 * crossed it anyway (another process had moved the offset since our last
 * read) gives back what lies past the end with a relative lseek.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include "shim.h"

#define INHERIT_FDS 64 /* descriptors looked at: 0 to 63 */

static void adopt(int fd)
{
	struct stat st;
	if (fd_get(fd) || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	int flags = REAL(fcntl)(fd, F_GETFL);
	if (flags < 0 || (flags & O_ACCMODE) == O_WRONLY || (flags & O_PATH))
		return;
	char link[32], path[4096];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof path - 1);
	path[n > 0 ? n : 0] = 0;
	files_on_open(fd, n > 0 ? path : NULL, flags);
	struct ofd *o = fd_get(fd);
	if (o) { /* shared with whoever passed it on: the kernel owns the offset */
		atomic_store(&o->noshadow, true);
		atomic_store(&o->shadow, false);
	}
}

void inherit_init(void)
{
	for (int fd = 0; fd < 3; fd++)
		adopt(fd);
	struct pollfd p[INHERIT_FDS - 3];
	int k = INHERIT_FDS;
	for (int fd = 3; fd < k; fd++)
		p[fd - 3] = (struct pollfd){ .fd = fd, .events = 0 };
	struct rlimit rl;
	if (poll(p, (nfds_t)(k - 3), 0) < 0) {
		/* EINVAL: more entries than RLIMIT_NOFILE, which then is below 64 */
		if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur <= 3 || rl.rlim_cur >= (rlim_t)k)
			return;
		k = (int)rl.rlim_cur;
		if (poll(p, (nfds_t)(k - 3), 0) < 0)
			return;
	}
	for (int fd = 3; fd < k; fd++)
		if (!(p[fd - 3].revents & POLLNVAL))
			adopt(fd);
}

/* Give back the part of a claimed range that was not read: the offset moves back by it. */
static void give_back(int fd, size_t claimed, ssize_t got)
{
	size_t back = claimed - (got > 0 ? (size_t)got : 0);
	if (back)
		REAL(lseek)(fd, -(off_t)back, SEEK_CUR);
}

bool shared_read(struct ofd *o, int fd, void *buf, size_t len, ssize_t *res)
{
	struct file *f = o->file;
	if (!f || atomic_load_explicit(&f->state, memory_order_acquire) != FILE_MAPPED ||
	    (o->flags & O_DIRECT) || len == 0 || !user_range_ok(buf, len) ||
	    (len >= cfg.large_read && cfg.mode == MODE_AUTO) || !faults_deliverable())
		return false;
	if (coherence_stale(f))
		files_follow_other(f, fd);
	mmapio_map *m = f->map;
	size_t want = len > MMAPIO_MAX_RW ? MMAPIO_MAX_RW : len;
	int e = errno;
	int64_t at = atomic_load_explicit(&o->shared_pos, memory_order_relaxed) - 1;
	if (at < 0 && (at = REAL(lseek)(fd, 0, SEEK_CUR)) < 0) {
		errno = e;
		return false;
	}
	if ((uint64_t)at + want > mmapio_size(m) &&
	    (mmapio_refresh_fd(m, fd) < 0 || (uint64_t)at + want > mmapio_size(m))) {
		/* The end of the file: the kernel's read says where it is. */
		atomic_store_explicit(&o->shared_pos, 0, memory_order_relaxed);
		errno = e;
		return false;
	}
	struct sample s;
	if (!sample_served_begin(o, fd, -1, at, want, &s)) {
		sample_served_end(o, fd, &s);
		errno = e;
		return false;
	}
	off_t end = REAL(lseek)(fd, (off_t)want, SEEK_CUR);
	if (end < 0) { /* e.g. past the largest offset: the kernel's read answers */
		sample_served_end(o, fd, &s);
		errno = e;
		return false;
	}
	int64_t old = end - (int64_t)want;
	uint64_t size = mmapio_size(m);
	size_t avail = want;
	if ((uint64_t)end > size) { /* the offset had moved: we claimed past our end */
		mmapio_refresh_fd(m, fd);
		size = mmapio_size(m);
		uint64_t left = (uint64_t)old >= size ? 0 : size - (uint64_t)old;
		avail = left < want ? (size_t)left : want;
	}
	ssize_t n = avail ? mmapio_read_fd(m, fd, old, buf, avail) : 0;
	bool served = n == (ssize_t)avail;
	if (!served) { /* the map cannot answer exactly: the kernel, at the claimed offset */
		count_pass(o);
		n = REAL(pread)(fd, buf, avail, old);
	}
	int pe = errno;
	give_back(fd, want, n);
	if (served)
		count_served(o, (size_t)n);
	atomic_store_explicit(&o->shared_pos, n >= 0 ? old + n + 1 : 0, memory_order_relaxed);
	sample_served_end(o, fd, &s);
	errno = n < 0 ? pe : e;
	*res = n;
	return true;
}
