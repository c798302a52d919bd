/*
 * read.c - the read family.
 *
 * A call on a descriptor we do not track costs one table lookup before the
 * real call. On a mapped file, the bytes come from the map: no syscall, no
 * lock, no allocation. Anything the map cannot answer exactly is asked of
 * the kernel instead, with the same arguments, so errors, partial reads
 * into a half-valid buffer, and I/O errors are the kernel's own:
 *   - a negative return from mmapio_read_fd (bad offset, EFAULT, EIO, a page
 *     lost to truncation, a range past the reservation),
 *   - flags we do not emulate (preadv2's RWF_NOWAIT, ...),
 *   - descriptors that stopped shadowing their offset (shared after fork).
 * At the end of the file we ask the core to refresh the size (one fstat,
 * where read(2) would have been one syscall too): another process may have
 * grown it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include "iov.h"
#include "shim.h"


static inline mmapio_map *map_of(struct ofd *o, int fd)
{
	struct file *f = o->file;
	if (!f || atomic_load_explicit(&f->state, memory_order_acquire) != FILE_MAPPED ||
	    (o->flags & O_DIRECT) || unlikely(!faults_deliverable()))
		return NULL;
	if (coherence_stale(f))
		files_follow_other(f, fd);
	return f->map;
}

/*
 * Auto mode: a large read continuing where the previous one ended is
 * streaming, which readahead and one copy already serve at memory speed:
 * the kernel takes it (MMAPIO_LARGE_READ).
 */
static inline bool streaming(struct ofd *o, size_t len, off_t off)
{
	return unlikely(len >= cfg.large_read) && cfg.mode == MODE_AUTO &&
	       atomic_load_explicit(&o->last_end, memory_order_relaxed) == off;
}

/* Bytes read from m at off, looking at the file through fd; -1: ask the kernel. */
static ssize_t map_copy(struct ofd *o, int fd, mmapio_map *m, void *buf, size_t len, off_t off)
{
	ssize_t n = mmapio_read_fd(m, fd, off, buf, len);
	if (unlikely(n >= 0 && (size_t)n < len)) {
		/* Short: the end of the file as far as we know. Has another
		 * process grown it? One fstat, where read(2) was one syscall. */
		uint64_t before = mmapio_size(m);
		if (mmapio_refresh_fd(m, fd) < 0)
			return -1;
		if (mmapio_size(m) != before)
			n = mmapio_read_fd(m, fd, off, buf, len);
	}
	if (unlikely(n < 0))
		return -1;
	if (unlikely(cfg.large_read != UINT64_MAX))
		atomic_store_explicit(&o->last_end, off + n, memory_order_relaxed);
	count_served(o, (size_t)n);
	return n;
}

/*
 * Bytes read from the map at file offset off, or -1: ask the kernel. The
 * call is the program's read() (call_off -1) or a positional read at
 * call_off; sampled calls look at the page cache first (sample.c).
 */
static ssize_t map_pread(struct ofd *o, int fd, void *buf, size_t len, off_t off,
			 int64_t call_off)
{
	mmapio_map *m = map_of(o, fd);
	if (unlikely(!m) || streaming(o, len, off) || unlikely(!user_range_ok(buf, len)))
		return -1;
	struct sample s;
	ssize_t n = -1;
	if (sample_served_begin(o, fd, call_off, off, len, &s))
		n = map_copy(o, fd, m, buf, len, off);
	sample_served_end(o, fd, &s);
	return n;
}

/* preadv from the map: all vectors or none (-1: ask the kernel). */
static ssize_t map_preadv(struct ofd *o, int fd, const struct iovec *iov, int cnt, off_t off,
			  int64_t call_off)
{
	struct iovec v[SHIM_IOV_MAX];
	size_t total;
	mmapio_map *m = map_of(o, fd);
	if (!m || off < 0 || !iov_load(iov, cnt, v, &total))
		return -1;
	if (total > MMAPIO_MAX_RW)
		return -1;
	struct sample s;
	if (!sample_served_begin(o, fd, call_off, off, total, &s)) {
		sample_served_end(o, fd, &s);
		return -1;
	}
	size_t done = 0;
	for (int i = 0; i < cnt; i++) {
		if (!v[i].iov_len)
			continue;
		ssize_t n = -1;
		if (!streaming(o, v[i].iov_len, off + (off_t)done) &&
		    user_range_ok(v[i].iov_base, v[i].iov_len))
			n = map_copy(o, fd, m, v[i].iov_base, v[i].iov_len, off + (off_t)done);
		if (n < 0) {
			done = SIZE_MAX; /* the kernel redoes it all: reads have no side effects */
			break;
		}
		done += (size_t)n;
		if ((size_t)n < v[i].iov_len)
			break;
	}
	sample_served_end(o, fd, &s);
	return done == SIZE_MAX ? -1 : (ssize_t)done;
}

static ssize_t kernel_pread(struct ofd *o, int fd, void *buf, size_t len, off_t off,
			    int64_t call_off)
{
	count_pass(o);
	pattern_before(o, fd, call_off, off, len);
	ssize_t n = REAL(pread)(fd, buf, len, off);
	if (n > 0 && cfg.large_read != UINT64_MAX)
		atomic_store_explicit(&o->last_end, off + n, memory_order_relaxed);
	pattern_observe(o, fd, len, n, n >= 0 ? off + n : -1);
	return n;
}

/*
 * Claim [old, old + want) of the shadow offset for this call, so threads
 * sharing a description never read the same bytes twice. Returns old.
 * *serve says whether the map may answer; if not (no map, a buffer range
 * the kernel would refuse, a size we cannot refresh), the whole request is
 * claimed for the kernel's pread, and settle() gives back what it did not
 * read.
 */
static int64_t claim(struct ofd *o, int fd, const void *buf, size_t len, int64_t *got,
		     bool *serve)
{
	mmapio_map *m = map_of(o, fd);
	bool ok = m && user_range_ok(buf, len);
	int64_t old = atomic_load_explicit(&o->off, memory_order_relaxed);
	/* About to reach our end of the file: has another writer moved it?
	 * (one fstat, where read(2) would have been one syscall) */
	if (ok && (uint64_t)old + len > mmapio_size(m) && mmapio_refresh_fd(m, fd) < 0)
		ok = false;
	*serve = ok;
	for (;;) {
		uint64_t want = len > MMAPIO_MAX_RW ? MMAPIO_MAX_RW : len;
		if (ok) {
			uint64_t size = mmapio_size(m);
			if ((uint64_t)old >= size)
				want = 0;
			else if (want > size - (uint64_t)old)
				want = size - (uint64_t)old;
		}
		if (want == 0 ||
		    atomic_compare_exchange_weak(&o->off, &old, old + (int64_t)want)) {
			*got = (int64_t)want;
			return old;
		}
	}
}

/* The call took [old, old + claimed) but moved n bytes: fix the offset. */
static void settle(struct ofd *o, int64_t old, int64_t claimed, ssize_t n)
{
	int64_t want = old + (n > 0 ? n : 0), expect = old + claimed;
	if (want != expect)
		atomic_compare_exchange_strong(&o->off, &expect, want);
	atomic_store_explicit(&o->stale, true, memory_order_relaxed);
}

/*
 * read() on a description whose offset the kernel owns. If its file is
 * mapped, the description takes a shadow offset first (offset_take) and
 * the map serves it.
 */
static ssize_t shim_read(struct ofd *o, int fd, void *buf, size_t len);

static ssize_t kernel_read(struct ofd *o, int fd, void *buf, size_t len)
{
	/* A small file read to its end while pending: no map will ever take
	 * its offset (it has no file, and no decision will come), so there
	 * is nothing to count or watch. The rest of open-read-close of many
	 * small files costs what it costs without us. */
	if (atomic_load_explicit(&o->kernel_only, memory_order_relaxed)) {
		count_pass(o);
		return REAL(read)(fd, buf, len);
	}
	ssize_t n;
	/* Shared with another process: served by claiming the range from the kernel (inherit.c). */
	if (atomic_load_explicit(&o->noshadow, memory_order_relaxed) && shared_read(o, fd, buf, len, &n))
		return n;
	if (offset_take(o, fd))
		return shim_read(o, fd, buf, len); /* it shadows its offset now */
	/* Before entering: a sample may decide on the file, which takes the
	 * files lock, and an adoption holding that lock waits for the calls
	 * counted in kernel_users to leave (offset.c). */
	pattern_before(o, fd, -1, kernel_offset(o), len);
	if (!kernel_offset_enter(o))
		return shim_read(o, fd, buf, len);
	count_pass(o);
	n = REAL(read)(fd, buf, len);
	int64_t end = -1;
	if (!atomic_load(&o->noshadow) && n >= 0)
		end = atomic_fetch_add(&o->off, n) + n; /* the kernel's offset, mirrored */
	kernel_offset_leave(o);
	pattern_observe(o, fd, len, n, end);
	return n;
}

/*
 * The common case of pread() and read(), inline in them: a mapped file, no
 * stats, no streaming rule, the whole range inside the map. Returns the
 * map, or NULL when anything deserves a closer look (the slow paths).
 * Measured: 64-byte random preads went from 98.8 to 72.4 ns once these
 * checks and the copy sat in pread itself instead of two calls down
 * (bench_shim).
 */
static inline mmapio_map *fast_map(struct ofd *o, const void *buf, size_t len)
{
	struct file *f = o->file;
	if (unlikely(!f || atomic_load_explicit(&f->state, memory_order_acquire) != FILE_MAPPED ||
		     (o->flags & O_DIRECT) || faults_ok <= 0 || coherence_stale(f) || stats_on ||
		     cfg.large_read != UINT64_MAX || !user_range_ok(buf, len) || !sample_skip()))
		return NULL;
	return f->map;
}

static inline ssize_t pread_fast(struct ofd *o, int fd, void *buf, size_t len, off_t off)
{
	mmapio_map *m = fast_map(o, buf, len);
	if (!m)
		return -1;
	ssize_t n = mmapio_read_fd(m, fd, off, buf, len);
	return likely(n == (ssize_t)len) ? n : -1;
}

/*
 * read()'s: claim [old, old + len) on the shadow offset when it lies
 * inside the map, copy. After a claim, a copy that comes up short is
 * finished by the kernel at the claimed offset (never given back to the
 * slow path: another thread may already have claimed past it). Returns
 * whether it handled the call (*res: its result).
 */
static inline bool read_fast(struct ofd *o, int fd, void *buf, size_t len, ssize_t *res)
{
	mmapio_map *m = fast_map(o, buf, len);
	if (!m || !atomic_load_explicit(&o->shadow, memory_order_relaxed) || len == 0)
		return false;
	int64_t old = atomic_load_explicit(&o->off, memory_order_relaxed);
	uint64_t size = mmapio_size(m);
	if ((uint64_t)old >= size || len > size - (uint64_t)old ||
	    !atomic_compare_exchange_strong(&o->off, &old, old + (int64_t)len))
		return false;
	atomic_store_explicit(&o->stale, true, memory_order_relaxed);
	sample_skipped_implicit(o);
	ssize_t n = mmapio_read_fd(m, fd, old, buf, len);
	if (unlikely(n != (ssize_t)len)) {
		n = kernel_pread(o, fd, buf, len, old, -1);
		int e = errno;
		settle(o, old, (int64_t)len, n);
		errno = e;
	}
	*res = n;
	return true;
}

static ssize_t shim_read(struct ofd *o, int fd, void *buf, size_t len)
{
	if (!atomic_load_explicit(&o->shadow, memory_order_relaxed))
		return kernel_read(o, fd, buf, len);
	int64_t claimed;
	bool serve;
	int64_t old = claim(o, fd, buf, len, &claimed, &serve);
	/* Nothing claimed: at the end, or len 0; map_pread refreshes the size. */
	ssize_t n = serve ? map_pread(o, fd, buf, claimed ? (size_t)claimed : len, old, -1) : -1;
	if (unlikely(n < 0)) {
		n = kernel_pread(o, fd, buf, len, old, -1);
		int e = errno;
		settle(o, old, claimed, n);
		errno = e;
		return n;
	}
	settle(o, old, claimed, n);
	return n;
}

EXPORT ssize_t read(int fd, void *buf, size_t len)
{
	struct ofd *o = fd_get(fd);
	if (likely(!o))
		return REAL(read)(fd, buf, len);
	cancel_point();
	ssize_t n;
	return likely(read_fast(o, fd, buf, len, &n)) ? n : shim_read(o, fd, buf, len);
}

EXPORT ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen)
{
	if (len > buflen)
		__chk_fail(); /* glibc's own message and abort, as without the shim */
	return read(fd, buf, len);
}

static __attribute__((noinline)) ssize_t pread_slow(struct ofd *o, int fd, void *buf,
						    size_t len, off_t off)
{
	ssize_t n = map_pread(o, fd, buf, len, off, off);
	return n >= 0 ? n : kernel_pread(o, fd, buf, len, off, off);
}

EXPORT ssize_t pread(int fd, void *buf, size_t len, off_t off)
{
	struct ofd *o = fd_get(fd);
	if (likely(!o))
		return REAL(pread)(fd, buf, len, off);
	cancel_point();
	ssize_t n = pread_fast(o, fd, buf, len, off);
	return likely(n >= 0) ? n : pread_slow(o, fd, buf, len, off);
}
EXPORT ssize_t pread64(int fd, void *buf, size_t len, off_t off) __attribute__((alias("pread")));

EXPORT ssize_t __pread_chk(int fd, void *buf, size_t len, off_t off, size_t buflen)
{
	if (len > buflen)
		__chk_fail();
	return pread(fd, buf, len, off);
}
EXPORT ssize_t __pread64_chk(int fd, void *buf, size_t len, off_t off, size_t buflen)
	__attribute__((alias("__pread_chk")));

/* preadv/preadv2 through the kernel (off -1: at the kernel's offset). */
static ssize_t kernel_preadv(struct ofd *o, int fd, const struct iovec *iov, int cnt, off_t off,
			     int flags)
{
	struct iovec v[SHIM_IOV_MAX];
	size_t total = 0;
	if (!iov_load(iov, cnt, v, &total))
		total = 0;
	count_pass(o);
	pattern_before(o, fd, off, off, total);
	ssize_t n = flags ? REAL(preadv2)(fd, iov, cnt, off, flags) : REAL(preadv)(fd, iov, cnt, off);
	pattern_observe(o, fd, total, n, n >= 0 && off >= 0 ? off + n : -1);
	return n;
}

static ssize_t shim_readv(struct ofd *o, int fd, const struct iovec *iov, int cnt)
{
	struct iovec v[SHIM_IOV_MAX];
	size_t total = 0;
	bool kernel = !offset_take(o, fd);
	if (kernel) {
		if (!iov_load(iov, cnt, v, &total))
			total = 0;
		pattern_before(o, fd, -1, kernel_offset(o), total); /* before entering: see kernel_read */
	}
	if (kernel && kernel_offset_enter(o)) {
		count_pass(o);
		ssize_t n = REAL(readv)(fd, iov, cnt);
		int64_t end = -1;
		if (!atomic_load(&o->noshadow) && n >= 0)
			end = atomic_fetch_add(&o->off, n) + n; /* the kernel's offset, mirrored */
		kernel_offset_leave(o);
		pattern_observe(o, fd, total, n, end);
		return n;
	}
	if (!iov_load(iov, cnt, v, &total)) {
		offset_sync(o, fd);
		count_pass(o);
		ssize_t n = REAL(readv)(fd, iov, cnt);
		if (n > 0)
			atomic_fetch_add(&o->off, n);
		return n;
	}
	int64_t claimed;
	bool serve;
	int64_t old = claim(o, fd, NULL, total, &claimed, &serve);
	ssize_t n = serve ? map_preadv(o, fd, iov, cnt, old, -1) : -1;
	if (n < 0) {
		count_pass(o);
		pattern_before(o, fd, -1, old, total);
		n = REAL(preadv)(fd, iov, cnt, old);
	}
	int e = errno;
	settle(o, old, claimed, n);
	errno = e;
	return n;
}

EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	struct ofd *o = fd_get(fd);
	if (likely(!o))
		return REAL(readv)(fd, iov, cnt);
	cancel_point();
	return shim_readv(o, fd, iov, cnt);
}

EXPORT ssize_t preadv(int fd, const struct iovec *iov, int cnt, off_t off)
{
	struct ofd *o = fd_get(fd);
	if (likely(!o))
		return REAL(preadv)(fd, iov, cnt, off);
	cancel_point();
	ssize_t n = map_preadv(o, fd, iov, cnt, off, off);
	if (n >= 0)
		return n;
	return kernel_preadv(o, fd, iov, cnt, off, 0);
}
EXPORT ssize_t preadv64(int fd, const struct iovec *iov, int cnt, off_t off)
	__attribute__((alias("preadv")));

EXPORT ssize_t preadv2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	struct ofd *o = fd_get(fd);
	if (likely(!o))
		return REAL(preadv2)(fd, iov, cnt, off, flags);
	cancel_point();
	if (flags == 0 && off == -1)
		return shim_readv(o, fd, iov, cnt);
	if (flags == 0) {
		ssize_t n = map_preadv(o, fd, iov, cnt, off, off);
		if (n >= 0)
			return n;
	}
	if (off == -1)
		offset_sync(o, fd);
	ssize_t r = kernel_preadv(o, fd, iov, cnt, off, flags);
	if (off == -1 && r > 0 && atomic_load(&o->shadow))
		atomic_fetch_add(&o->off, r);
	return r;
}
EXPORT ssize_t preadv64v2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
	__attribute__((alias("preadv2")));
