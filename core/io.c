/*
 * io.c - bounded reads and writes, views and iteration.
 *
 * The hot path is: validate like pread(2), load the size (acquire), copy
 * with the fault-safe routine. No lock, no allocation, no syscall. Only a
 * fault leaves it, for recover() below.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include "internal.h"

#define MAX_RETRIES 4

static bool in_map(const mmapio_map *m, const void *addr)
{
	uintptr_t a = (uintptr_t)addr, b = (uintptr_t)m->base;
	return a >= b && a - b < m->reserve;
}

/*
 * The functions below take `fd`: the descriptor through which to look at
 * the file when they must (its size, pread, statvfs): the map's own for
 * mmapio_read/mmapio_write, the caller's for mmapio_read_fd and
 * mmapio_write_fd, -1 for a map that keeps none (MMAPIO_F_NO_FD), which
 * then answers -ESTALE: the caller looks itself.
 */

/*
 * A copy faulted. If the fault was in the caller's buffer, that is
 * -EFAULT. If it was in the map, the file probably shrank under us: follow
 * the new size and let the caller retry. If the page is still inside the
 * file, it really has no backing: -ENOSPC when writing and the file system is
 * full, else -EIO.
 */
static int recover(mmapio_map *m, int fd, int rc, void *addr, bool writing, bool last_try)
{
	atomic_fetch_add(&m->st.faults, 1);
	if (!in_map(m, addr))
		return -EFAULT;
	if (fd < 0)
		return -ESTALE;
	int r = mmapio_refresh_fd(m, fd);
	if (r < 0)
		return r;
	/* Past the end now (another process's truncate, or our own resize
	 * racing this call): retry, the bounds check will see the new end.
	 * Inside it, the size may have gone down and up again while we
	 * waited for the lock: retry too; a page that really has no backing
	 * faults every time, and io_slow gives up after MAX_RETRIES. */
	if ((uint64_t)((unsigned char *)addr - m->base) >= atomic_load(&m->size) || !last_try)
		return -EAGAIN;
	if (writing) {
		struct statvfs sv;
		if (fstatvfs(fd, &sv) == 0 && sv.f_bavail == 0)
			return -ENOSPC;
	}
	return rc == -EFAULT ? -EIO : rc;
}

/*
 * A shrink we were not told about. Another program may truncate the file
 * at any time; we learn of it when a copy touches a page wholly past the
 * new end (SIGBUS, recover() above), but the page holding the new end
 * stays mapped, so a copy into it reads (or writes) the bytes past the end
 * of the file without any fault. The kernel zeroes that part of the page
 * when it truncates, so such a read ends in a zero byte, and the last
 * target byte of such a write is zero. Only then do we look: the file
 * still reaches `end` if the page after the one holding end - 1 is still
 * there (one probe, no syscall), else ask fstat.
 */
/* A probe's fault is a recovered fault like any other: count it. */
static int counted(mmapio_map *m, int rc)
{
	if (rc < 0)
		atomic_fetch_add(&m->st.faults, 1);
	return rc;
}

static bool probe(mmapio_map *m, uint64_t off, unsigned char *b)
{
	return counted(m, mmapio__copy(b, m->base + off, 1, NULL)) == 0;
}

/* 1: the file reaches end; 0: it does not; -ESTALE: cannot look (fd -1). */
static int reaches(mmapio_map *m, int fd, uint64_t end)
{
	uint64_t next = ((end - 1) | (m->pgsz - 1)) + 1;
	unsigned char b;
	if (next < atomic_load_explicit(&m->size, memory_order_acquire) && probe(m, next, &b))
		return 1;
	if (fd < 0)
		return -ESTALE;
	return mmapio_refresh_fd(m, fd) == 0 && atomic_load(&m->size) >= end;
}

/*
 * A read of n of len bytes at off ended in a zero byte: is it the answer?
 * Not if the file ends before off + n now, nor if the look at its size
 * found it grown and n stopped at the old end. 1 yes, 0 no, -ESTALE.
 */
static int read_stands(mmapio_map *m, int fd, uint64_t off, size_t n, size_t len)
{
	int r = reaches(m, fd, off + n);
	if (r <= 0)
		return r;
	return n == len || atomic_load_explicit(&m->size, memory_order_acquire) <= off + n;
}

/*
 * May a write of n > 0 bytes at off go into the map? See reaches(). The
 * last target byte is read by a write access (mmapio__probe_write): the
 * page takes the write fault the copy would have taken, and no other.
 */
static inline int write_reaches(mmapio_map *m, int fd, uint64_t off, size_t n)
{
	int last = counted(m, mmapio__probe_write(m->base + off + n - 1));
	return likely(last > 0) ? 1 : reaches(m, fd, off + n);
}

/* [off, off + len) reaches past the reservation into the file. */
static bool past_reserve(mmapio_map *m, uint64_t off, size_t len)
{
	uint64_t end = off + len < off ? UINT64_MAX : off + len;
	return end > m->reserve && atomic_load(&m->file_size) > m->reserve;
}

/*
 * Bytes available at off, or 0 at/after the end, or -EFBIG when the range
 * reaches past the reservation into the file (a short count there would
 * read as the end of the file). Only the reservation decides -EFBIG: while
 * a resize is in flight, size and file_size are briefly out of step, and
 * an offset between them is simply at the end.
 */
static inline ssize_t avail(mmapio_map *m, uint64_t off, size_t len)
{
	uint64_t size = atomic_load_explicit(&m->size, memory_order_acquire);
	if (unlikely(len > size - off || off >= size) && past_reserve(m, off, len))
		return -EFBIG;
	if (unlikely(off >= size))
		return 0;
	return (ssize_t)(len < size - off ? len : size - off);
}

/*
 * A page of the map still faults after MAX_RETRIES: either the file is
 * being resized without pause and every try met a moving end (a test does
 * 2000 resizes while two threads read 4 MiB at a time), or the page has
 * no backing (an I/O error). pread(2) on fd, from the same page cache,
 * gives the answer the kernel would give in both cases: the bytes, or its
 * own EIO. Not for a copy-on-write map (its private pages are not in the
 * page cache), nor for a write, which must not extend the file: those get
 * -EIO.
 */
static ssize_t kernel_answer(mmapio_map *m, int fd, off_t off, void *buf, size_t len,
			     bool writing)
{
	if (writing || m->mode == MMAPIO_COW)
		return -EIO;
	if (fd < 0)
		return -ESTALE;
	ssize_t r = SYS(pread)(fd, buf, len, off);
	return r < 0 ? -errno : r;
}

/*
 * Everything off the fast path: bad arguments, the end of the file, a
 * range beyond the reservation, and faults. Kept out of line so the fast
 * path stays a near-leaf function (measured: 55 -> ~40 ns per 64-byte
 * random read once the retry loop left it).
 */
static __attribute__((noinline, cold)) ssize_t io_slow(mmapio_map *m, int fd, off_t off,
						       void *buf, size_t len, bool writing)
{
	int rc = mmapio__check_range(off, &len);
	if (rc < 0)
		return rc;
	/* Two budgets: faults (recover()) and ends that moved while we
	 * looked (reaches()). A file resized without pause by another thread
	 * or program can exhaust the second: the copy then stands, as a read
	 * racing a truncate may see either size. */
	int looks = 0;
	for (int tries = 0;;) {
		ssize_t n = avail(m, (uint64_t)off, len);
		if (n <= 0)
			return n;
		/* A target the file no longer reaches: again, at the new size. */
		if (writing && looks < MAX_RETRIES) {
			int r = write_reaches(m, fd, (uint64_t)off, (size_t)n);
			if (r < 0)
				return r;
			if (r == 0) {
				looks++;
				continue;
			}
		}
		void *fault;
		rc = writing ? mmapio__copy(m->base + off, buf, (size_t)n, &fault)
			     : mmapio__copy(buf, m->base + off, (size_t)n, &fault);
		if (rc == 0 && writing) {
			if (m->mode == MMAPIO_RDWR)
				mmapio__after_write(m, (uint64_t)off, (size_t)n);
			return n;
		}
		if (rc == 0) {
			if (((unsigned char *)buf)[n - 1] != 0 || looks == MAX_RETRIES)
				return n;
			int r = read_stands(m, fd, (uint64_t)off, (size_t)n, len);
			if (r != 0)
				return r > 0 ? n : r;
			looks++;
			continue; /* the end moved: again, at the new size */
		}
		rc = recover(m, fd, rc, fault, writing, tries == MAX_RETRIES - 1);
		if ((rc == -EAGAIN && tries == MAX_RETRIES) || rc == -EIO)
			return kernel_answer(m, fd, off, buf, len, writing);
		if (rc != -EAGAIN)
			return rc;
		tries++;
	}
}

/*
 * The fast path: the whole range inside the mapped size (off + len cannot
 * overflow then: off < size <= reserve).
 */
static inline ssize_t read_at(mmapio_map *m, int fd, off_t off, void *buf, size_t len)
{
	uint64_t size = atomic_load_explicit(&m->size, memory_order_acquire);
	if (likely(off >= 0 && (uint64_t)off < size && len - 1 < MMAPIO_MAX_RW &&
		   len <= size - (uint64_t)off)) {
		if (likely(mmapio__copy(buf, m->base + off, len, NULL) == 0)) {
			if (likely(((unsigned char *)buf)[len - 1] != 0))
				return (ssize_t)len;
			return mmapio__read_zero_tail_fd(m, fd, off, buf, len, len);
		}
	}
	return io_slow(m, fd, off, buf, len, false);
}

static inline ssize_t write_at(mmapio_map *m, int fd, off_t off, const void *buf, size_t len)
{
	if (unlikely(m->mode == MMAPIO_RDONLY))
		return -EBADF;
	uint64_t size = atomic_load_explicit(&m->size, memory_order_acquire);
	if (likely(off >= 0 && (uint64_t)off < size && len - 1 < MMAPIO_MAX_RW &&
		   len <= size - (uint64_t)off)) {
		if (likely(write_reaches(m, fd, (uint64_t)off, len) == 1 &&
			   mmapio__copy(m->base + off, buf, len, NULL) == 0)) {
			if (m->mode == MMAPIO_RDWR)
				mmapio__after_write(m, (uint64_t)off, len);
			return (ssize_t)len;
		}
	}
	return io_slow(m, fd, off, (void *)buf, len, true);
}

ssize_t mmapio_read(mmapio_map *m, off_t off, void *buf, size_t len)
{
	return read_at(m, atomic_load_explicit(&m->fd, memory_order_relaxed), off, buf, len);
}

ssize_t mmapio_read_fd(mmapio_map *m, int fd, off_t off, void *buf, size_t len)
{
	return read_at(m, fd, off, buf, len);
}

ssize_t mmapio__read_zero_tail_fd(mmapio_map *m, int fd, off_t off, void *buf, size_t len,
				  size_t n)
{
	int r = read_stands(m, fd, (uint64_t)off, n, len);
	if (r > 0)
		return (ssize_t)n;
	return r < 0 ? r : io_slow(m, fd, off, buf, len, false);
}

ssize_t mmapio__read_zero_tail(mmapio_map *m, off_t off, void *buf, size_t len, size_t n)
{
	return mmapio__read_zero_tail_fd(m, atomic_load(&m->fd), off, buf, len, n);
}

ssize_t mmapio_write(mmapio_map *m, off_t off, const void *buf, size_t len)
{
	return write_at(m, atomic_load_explicit(&m->fd, memory_order_relaxed), off, buf, len);
}

ssize_t mmapio_write_fd(mmapio_map *m, int fd, off_t off, const void *buf, size_t len)
{
	return write_at(m, fd, off, buf, len);
}

ssize_t mmapio_view(mmapio_map *m, off_t off, size_t len, void **ptr)
{
	if (off < 0)
		return -EINVAL;
	ssize_t n = avail(m, (uint64_t)off, len > SSIZE_MAX ? SSIZE_MAX : len);
	if (n >= 0)
		*ptr = m->base + off;
	return n;
}

int mmapio_mark_dirty(mmapio_map *m, off_t off, size_t len)
{
	if (off < 0)
		return -EINVAL;
	if (m->mode != MMAPIO_RDWR)
		return m->mode == MMAPIO_RDONLY ? -EBADF : 0;
	ssize_t n = avail(m, (uint64_t)off, len);
	if (n > 0)
		mmapio__mark_dirty(m, (uint64_t)off, (uint64_t)n);
	return n < 0 ? (int)n : 0;
}

void mmapio_iter_init(struct mmapio_iter *it, mmapio_map *m, uint64_t off, uint64_t len,
		      size_t chunk)
{
	it->m = m;
	it->pos = off;
	it->end = off + len < off ? UINT64_MAX : off + len;
	it->chunk = chunk ? chunk : m->pgsz;
}

ssize_t mmapio_iter_next(struct mmapio_iter *it, void **ptr)
{
	if (it->pos >= it->end || it->pos > (uint64_t)INT64_MAX)
		return 0;
	uint64_t want = it->end - it->pos;
	ssize_t n = mmapio_view(it->m, (off_t)it->pos, want < it->chunk ? want : it->chunk, ptr);
	if (n > 0)
		it->pos += (uint64_t)n;
	return n;
}
