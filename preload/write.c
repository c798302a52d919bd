/*
 * write.c - the write family, ftruncate and fsync.
 *
 * A write goes into the map only when it changes nothing but bytes inside
 * the file: the map is writable (the file was first mapped from an O_RDWR
 * descriptor and MMAPIO_WRITES=map), the descriptor may write, it is not
 * O_APPEND (the kernel picks the offset) nor O_SYNC/O_DSYNC (the write
 * must be durable when it returns), and the whole range lies inside the
 * current size. Everything else (extending the file, zero-length writes,
 * faults) is the kernel's, and afterwards the map follows the new size.
 *
 * Durability: pages written through the map are dirty page-cache pages
 * like any other, so fsync/fdatasync (always passed to the kernel) write
 * them back. Not the same: the file's mtime changes at the first write to
 * a clean page and at writeback, not at every write; inotify sees no
 * IN_MODIFY for them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>
#include "iov.h"
#include "shim.h"

static inline mmapio_map *writable_map(struct ofd *o, int fd)
{
	struct file *f = o->file;
	if (!f || atomic_load_explicit(&f->state, memory_order_acquire) != FILE_MAPPED ||
	    !f->writable || (o->flags & O_ACCMODE) != O_RDWR || unlikely(!faults_deliverable()) ||
	    (o->flags & (O_APPEND | O_SYNC | O_DSYNC)))
		return NULL;
	if (coherence_stale(f))
		files_follow_other(f, fd);
	return f->map;
}

/* Write all of buf at off into m (looking at the file through fd), or -1: ask the kernel. */
static ssize_t map_copy_in(struct ofd *o, int fd, mmapio_map *m, const void *buf, size_t len,
			   off_t off)
{
	if (len == 0 || !user_range_ok(buf, len))
		return -1;
	struct file *f = o->file;
	if (!map_write_begin(f))
		return -1;
	uint64_t size = mmapio_size(m);
	if ((uint64_t)off > size || len > size - (uint64_t)off) {
		map_write_end(f);
		return -1; /* extends the file */
	}
	ssize_t n = mmapio_write_fd(m, fd, off, buf, len);
	map_write_end(f);
	if (unlikely(n != (ssize_t)len)) {
		return -1; /* the kernel writes it all again: same bytes */
	}
	count_served(o, len);
	return n;
}

/*
 * Write all of buf at file offset off into the map, or return -1: ask the
 * kernel. call_off: the call's own offset (-1 for write()). A sampled write
 * into pages that are not cached goes to the kernel: through the map it
 * would first read them from the disk, which pwrite(2) of whole pages
 * does not (sample.c).
 */
static ssize_t map_pwrite(struct ofd *o, int fd, const void *buf, size_t len, off_t off,
			  int64_t call_off)
{
	mmapio_map *m = writable_map(o, fd);
	if (!m || off < 0 || len == 0 || len > MMAPIO_MAX_RW)
		return -1;
	uint64_t size = mmapio_size(m);
	if ((uint64_t)off > size || len > size - (uint64_t)off)
		return -1; /* extends the file: not a sample of the map's writes */
	struct sample s;
	ssize_t n = -1;
	bool go = sample_served_begin(o, fd, call_off, off, len, &s);
	s.write = true;
	if (s.active) /* a limit lowered behind our back counts from here (limits.c) */
		limits_read_fsize();
	if (go && limits_write_ok((uint64_t)off, len)) /* else the kernel's EFBIG, SIGXFSZ, cut */
		n = map_copy_in(o, fd, m, buf, len, off);
	sample_served_end(o, fd, &s);
	return n;
}

static ssize_t map_pwritev(struct ofd *o, int fd, const struct iovec *iov, int cnt, off_t off,
			   int64_t call_off)
{
	struct iovec v[SHIM_IOV_MAX];
	size_t total, done = 0;
	mmapio_map *m = writable_map(o, fd);
	if (!m || off < 0 || !iov_load(iov, cnt, v, &total) || total == 0 ||
	    total > MMAPIO_MAX_RW)
		return -1;
	uint64_t size = mmapio_size(m);
	if ((uint64_t)off > size || total > size - (uint64_t)off ||
	    !limits_write_ok((uint64_t)off, total))
		return -1;
	struct sample s;
	bool ok = sample_served_begin(o, fd, call_off, off, total, &s);
	s.write = true;
	for (int i = 0; ok && i < cnt; i++) {
		if (v[i].iov_len &&
		    map_copy_in(o, fd, m, v[i].iov_base, v[i].iov_len, off + (off_t)done) < 0)
			ok = false;
		done += v[i].iov_len;
	}
	sample_served_end(o, fd, &s);
	return ok ? (ssize_t)done : -1;
}

/*
 * After the kernel wrote n bytes ending at `end` (-1: unknown, the kernel
 * chose the offset): if that went past the map's size, follow the growth.
 */
static void after_kernel_write(struct ofd *o, int fd, ssize_t n, int64_t end)
{
	struct file *f = o->file;
	if (n > 0 && f)
		atomic_store_explicit(&f->kdirty, true, memory_order_relaxed);
	if (o->flags & O_APPEND) /* Linux appends even pwrite()s */
		end = -1;
	if (n > 0 && f && atomic_load(&f->state) == FILE_MAPPED &&
	    (end < 0 || end > (int64_t)mmapio_size(f->map))) {
		int e = errno;
		files_follow(o, fd);
		errno = e;
	}
}

/*
 * Where a write the kernel serves may be probed: inside the file as its
 * latest decision saw it. A page the write finds uncached is one a write
 * through a map would first read from the disk, where pwrite(2) of whole
 * pages reads nothing; past the end nothing is ever cached, and a file
 * that grows by appending must not look like one that misses.
 */
static int64_t write_probe_at(const struct ofd *o, off_t off, size_t len)
{
	const struct file *f = o->file;
	if (!f || off < 0)
		return -1;
	uint64_t known = atomic_load_explicit(&f->known_size, memory_order_relaxed);
	return (uint64_t)off + len <= known ? (int64_t)off : -1;
}

static ssize_t kernel_pwrite(struct ofd *o, int fd, const void *buf, size_t len, off_t off)
{
	count_pass(o);
	pattern_before_write(o, fd, off, write_probe_at(o, off, len), len);
	struct file *rf = resize_begin(o);
	ssize_t n = REAL(pwrite)(fd, buf, len, off);
	resize_end(rf);
	after_kernel_write(o, fd, n, off + n);
	pattern_observe(o, fd, len, n, -1); /* auto: writes count like reads */
	return n;
}

/*
 * write()/writev() through the kernel: on a description whose offset the
 * kernel owns (its file is not mapped), or one the shim will not serve.
 */
static ssize_t kernel_write(struct ofd *o, int fd, const void *buf, const struct iovec *iov,
			    int cnt, size_t len)
{
	count_pass(o);
	/* Not shadowed: keep an adoption of the offset from overlapping us. */
	pattern_before(o, fd, -1, -1, len); /* before entering: see read.c, kernel_read */
	bool guarded = !atomic_load(&o->shadow) && kernel_offset_enter(o);
	offset_sync(o, fd);
	struct file *rf = resize_begin(o);
	ssize_t n = iov ? REAL(writev)(fd, iov, cnt) : REAL(write)(fd, buf, len);
	int e = errno;
	resize_end(rf);
	if (n > 0 && !atomic_load(&o->noshadow)) /* not shadowed: a mirror */
		atomic_fetch_add(&o->off, n);
	if (guarded)
		kernel_offset_leave(o);
	after_kernel_write(o, fd, n, -1);
	pattern_observe(o, fd, len, n, -1);
	errno = e;
	return n;
}

/*
 * write()/writev() on a shadowed description. The range [old, old + len)
 * is claimed on the shadow offset first, atomically, so that threads
 * sharing the description never write over each other (the kernel holds
 * f_pos_lock for this). Then either the map takes it, if it lies inside
 * the file, or the kernel does, as a pwrite at the claimed offset: that
 * is what write(2) does on a regular file without O_APPEND, and it never
 * needs the kernel's own offset. A short or failed write gives back the
 * part of the claim it did not use.
 */
static ssize_t shim_write(struct ofd *o, int fd, const void *buf, const struct iovec *iov,
			  int cnt, size_t len)
{
	if (!offset_take(o, fd) || len > MMAPIO_MAX_RW)
		return kernel_write(o, fd, buf, iov, cnt, len);
	int64_t old = atomic_load_explicit(&o->off, memory_order_relaxed);
	do {
		if ((int64_t)len > INT64_MAX - old) /* the kernel's EFBIG/EINVAL */
			return kernel_write(o, fd, buf, iov, cnt, len);
	} while (!atomic_compare_exchange_weak(&o->off, &old, old + (int64_t)len));

	ssize_t n = -1;
	if (len > 0)
		n = iov ? map_pwritev(o, fd, iov, cnt, old, -1) : map_pwrite(o, fd, buf, len, old, -1);
	if (n < 0) {
		count_pass(o);
		struct file *rf = resize_begin(o);
		n = iov ? REAL(pwritev)(fd, iov, cnt, old) : REAL(pwrite)(fd, buf, len, old);
		resize_end(rf);
	}
	int e = errno;
	if (n != (ssize_t)len) {
		int64_t expect = old + (int64_t)len;
		atomic_compare_exchange_strong(&o->off, &expect, old + (n > 0 ? n : 0));
	}
	atomic_store_explicit(&o->stale, true, memory_order_relaxed);
	after_kernel_write(o, fd, n, old + n);
	errno = e;
	return n;
}

EXPORT ssize_t write(int fd, const void *buf, size_t len)
{
	struct ofd *o = fd_get(fd);
	if (likely(!o))
		return REAL(write)(fd, buf, len);
	cancel_point();
	return shim_write(o, fd, buf, NULL, 0, len);
}

EXPORT ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	struct ofd *o = fd_get(fd);
	if (likely(!o))
		return REAL(pwrite)(fd, buf, len, off);
	cancel_point();
	ssize_t n = map_pwrite(o, fd, buf, len, off, off);
	return n >= 0 ? n : kernel_pwrite(o, fd, buf, len, off);
}
EXPORT ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off)
	__attribute__((alias("pwrite")));

EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	struct ofd *o = fd_get(fd);
	if (likely(!o))
		return REAL(writev)(fd, iov, cnt);
	cancel_point();
	struct iovec v[SHIM_IOV_MAX];
	size_t total;
	if (!iov_load(iov, cnt, v, &total))
		return kernel_write(o, fd, NULL, iov, cnt, 0);
	return shim_write(o, fd, NULL, iov, cnt, total);
}

static ssize_t kernel_pwritev(struct ofd *o, int fd, const struct iovec *iov, int cnt,
			      off_t off, int flags)
{
	if (o) {
		struct iovec v[SHIM_IOV_MAX];
		size_t total = 0;
		count_pass(o);
		if (off >= 0 && iov_load(iov, cnt, v, &total))
			pattern_before(o, fd, off, -1, total);
	}
	struct file *rf = resize_begin(o);
	ssize_t n = flags ? REAL(pwritev2)(fd, iov, cnt, off, flags)
			  : REAL(pwritev)(fd, iov, cnt, off);
	resize_end(rf);
	if (o)
		after_kernel_write(o, fd, n, flags & RWF_APPEND ? -1 : off + n);
	return n;
}

EXPORT ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	struct ofd *o = fd_get(fd);
	if (likely(!o))
		return REAL(pwritev)(fd, iov, cnt, off);
	cancel_point();
	ssize_t n = map_pwritev(o, fd, iov, cnt, off, off);
	return n >= 0 ? n : kernel_pwritev(o, fd, iov, cnt, off, 0);
}
EXPORT ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off_t off)
	__attribute__((alias("pwritev")));

EXPORT ssize_t pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	struct ofd *o = fd_get(fd);
	if (likely(!o))
		return REAL(pwritev2)(fd, iov, cnt, off, flags);
	cancel_point();
	if (flags == 0 && off == -1) {
		struct iovec v[SHIM_IOV_MAX];
		size_t total;
		if (iov_load(iov, cnt, v, &total))
			return shim_write(o, fd, NULL, iov, cnt, total);
	} else if (flags == 0) {
		ssize_t n = map_pwritev(o, fd, iov, cnt, off, off);
		if (n >= 0)
			return n;
	}
	if (off == -1) {
		count_pass(o);
		offset_sync(o, fd);
		struct file *rf = resize_begin(o);
		ssize_t n = REAL(pwritev2)(fd, iov, cnt, off, flags);
		int e = errno;
		resize_end(rf);
		if (n > 0 && (flags & RWF_APPEND))
			offset_adopt_kernel(o, fd); /* the kernel moved it to the new end */
		else if (n > 0 && !atomic_load(&o->noshadow))
			atomic_fetch_add(&o->off, n);
		after_kernel_write(o, fd, n, -1);
		errno = e;
		return n;
	}
	return kernel_pwritev(o, fd, iov, cnt, off, flags);
}
EXPORT ssize_t pwritev64v2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
	__attribute__((alias("pwritev2")));

/* A call that may change fd's file size succeeded: tell the others, follow. */
static void size_changed(int fd)
{
	int e = errno;
	struct ofd *o = fd_get(fd);
	struct stat st;
	if (o)
		files_follow(o, fd);
	else if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) /* e.g. O_WRONLY */
		files_follow_stat(&st);
	errno = e;
}

EXPORT int ftruncate(int fd, off_t len)
{
	struct file *rf = resize_begin(fd_get(fd));
	int r = REAL(ftruncate)(fd, len);
	resize_end(rf);
	if (r == 0)
		size_changed(fd);
	return r;
}
EXPORT int ftruncate64(int fd, off_t len) __attribute__((alias("ftruncate")));

EXPORT int truncate(const char *path, off_t len)
{
	int r = REAL(truncate)(path, len);
	if (r == 0) {
		int e = errno;
		struct stat st;
		if (stat(path, &st) == 0)
			files_follow_stat(&st);
		errno = e;
	}
	return r;
}
EXPORT int truncate64(const char *path, off_t len) __attribute__((alias("truncate")));

/*
 * fsync/fdatasync. By default the real call runs: it writes back every
 * dirty page of the file, those written through the map included.
 *
 * MMAPIO_FSYNC=range: if every write to the file since the last real sync
 * went through the map, msync(MS_SYNC) exactly its dirty pages instead,
 * page-rounded and coalesced (mmapio_flush). That is fdatasync's promise
 * for those pages (their data, and the size and allocation needed to read
 * them back); fsync's extra promise, the other metadata such as mtime, is
 * not kept. Writes through descriptors the shim does not track (opened
 * write-only, or in another process) are not covered. Any write through
 * the kernel, a flush error, or a file not mapped writable: the real call.
 */
static int shim_sync(int fd, bool data)
{
	struct ofd *o = fd_get(fd);
	struct file *f = o ? o->file : NULL;
	if (f && cfg.fsync_range && atomic_load(&f->state) == FILE_MAPPED && f->writable &&
	    !atomic_load(&f->kdirty)) {
		cancel_point();
		if (mmapio_flush(f->map) == 0 && mmapio_flush_error(f->map) == 0) {
			count_served(o, 0);
			return 0;
		}
	}
	if (o)
		count_pass(o);
	if (f)
		atomic_store(&f->kdirty, false); /* before: a racing write sets it again */
	int r = data ? REAL(fdatasync)(fd) : REAL(fsync)(fd);
	if (r < 0 && f) {
		int e = errno;
		atomic_store(&f->kdirty, true);
		errno = e;
	}
	return r;
}

EXPORT int fsync(int fd) { return shim_sync(fd, false); }
EXPORT int fdatasync(int fd) { return shim_sync(fd, true); }

/* fallocate can change the size (plain mode grows; COLLAPSE_RANGE shrinks). */
EXPORT int fallocate(int fd, int mode, off_t off, off_t len)
{
	struct file *rf = resize_begin(fd_get(fd));
	int r = REAL(fallocate)(fd, mode, off, len);
	resize_end(rf);
	if (r == 0)
		size_changed(fd);
	return r;
}
EXPORT int fallocate64(int fd, int mode, off_t off, off_t len) __attribute__((alias("fallocate")));
