/*
 * offset.c - shadow file offsets.
 *
 * read() and write() on a mapped file advance a shadow offset kept in the
 * open file description's state, not the kernel's: moving the kernel's
 * would cost the very syscall the map saves. The kernel's offset is brought
 * in line ("synced") whenever someone else could look at it:
 *   - lseek() that we do not answer ourselves, and any call passed through
 *     to the kernel on that description (read.c, write.c),
 *   - fork (the child shares the description), exec, posix_spawn, system,
 *     popen, fdopen, sendfile/splice/copy_file_range (procs.c),
 *   - the close of our last reference to it (files.c).
 * After a fork or spawn the description is shared with another process,
 * whose moves we cannot see: it stops using the shadow for good
 * ("unshadow"); pread/pwrite, which take no offset, are still served.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <unistd.h>
#include "shim.h"

/*
 * lseek answers we give without the kernel: SEEK_SET and SEEK_CUR landing
 * inside the file as far as its map knows it. Beyond its end the answer
 * depends on the file system's maximum file size (EINVAL past it: 16 GiB
 * for ext2 with 1 KiB blocks, 4 GiB for vfat), so the kernel decides.
 */
static int64_t self_seek_max(const struct ofd *o)
{
	struct file *f = o->file;
	mmapio_map *m = f ? f->map : NULL;
	return m ? (int64_t)mmapio_size(m) : 0;
}

void offset_sync(struct ofd *o, int fd)
{
	if (!atomic_load(&o->shadow) || !atomic_load(&o->stale))
		return;
	int saved = errno;
	if (REAL(lseek)(fd, (off_t)atomic_load(&o->off), SEEK_SET) >= 0)
		atomic_store(&o->stale, false);
	errno = saved;
}

/* The kernel moved the offset itself (RWF_APPEND): ours follows. */
void offset_adopt_kernel(struct ofd *o, int fd)
{
	if (atomic_load(&o->noshadow))
		return;
	int saved = errno;
	off_t cur = REAL(lseek)(fd, 0, SEEK_CUR);
	if (cur >= 0) {
		atomic_store(&o->off, cur);
		atomic_store(&o->stale, false);
	}
	errno = saved;
}

void offset_unshadow(struct ofd *o, int fd)
{
	offset_sync(o, fd);
	atomic_store(&o->noshadow, true);
	atomic_store(&o->shadow, false);
}

/*
 * Sync every description we track. With unshadow_inheritable, also stop
 * shadowing the ones a new process is about to share (fd without
 * FD_CLOEXEC, for exec/spawn; every fd, for fork: pass a NULL check).
 */
void offset_sync_all(bool unshadow_inheritable)
{
	int hw = fd_highwater();
	int saved = errno;
	for (int fd = 0; fd <= hw; fd++) {
		struct ofd *o = fd_get(fd);
		if (!o)
			continue;
		offset_sync(o, fd);
		if (unshadow_inheritable && atomic_load(&o->shadow)) {
			int fl = REAL(fcntl)(fd, F_GETFD);
			if (fl >= 0 && !(fl & FD_CLOEXEC)) {
				atomic_store(&o->noshadow, true);
				atomic_store(&o->shadow, false);
			}
		}
	}
	errno = saved;
}

off_t shim_lseek(struct ofd *o, int fd, off_t off, int whence)
{
	if (atomic_load(&o->shadow)) {
		int64_t cur = atomic_load(&o->off), to = -1;
		if (whence == SEEK_SET)
			to = off;
		else if (whence == SEEK_CUR && !__builtin_add_overflow(cur, off, &to))
			;
		else
			to = -1;
		if (to >= 0 && to <= self_seek_max(o)) {
			if (to != cur) {
				atomic_store(&o->off, to);
				atomic_store(&o->stale, true);
				atomic_store_explicit(&o->seeked, true, memory_order_relaxed);
			}
			return (off_t)to;
		}
		offset_sync(o, fd);
	}
	count_pass(o);
	off_t r = REAL(lseek)(fd, off, whence);
	if (r >= 0 && !atomic_load(&o->noshadow)) { /* not shadowed: mirror */
		if (atomic_exchange(&o->off, r) != r)
			atomic_store_explicit(&o->seeked, true, memory_order_relaxed);
		atomic_store(&o->stale, false);
	}
	return r;
}

/*
 * Taking a shadow offset from the kernel (auto mode, once a file is
 * mapped) must not overlap a call still using the kernel's offset on the
 * same description: that call would read or write at the old kernel
 * offset after the shadow had taken over from it (measured: one 4 KiB
 * chunk read twice by two threads sharing a description). Such calls
 * count themselves in kernel_users; the adopter raises `adopting`, waits
 * for them to leave, reads the kernel's offset, and switches. Dekker
 * style (sequentially consistent), like map writes and resizes (write.c).
 */
bool kernel_offset_enter(struct ofd *o)
{
	for (;;) {
		atomic_fetch_add(&o->kernel_users, 1);
		if (!atomic_load(&o->adopting)) {
			if (!atomic_load(&o->shadow))
				return true;
			atomic_fetch_sub(&o->kernel_users, 1);
			return false;
		}
		atomic_fetch_sub(&o->kernel_users, 1);
		while (atomic_load(&o->adopting))
			sched_yield();
	}
}

void kernel_offset_leave(struct ofd *o)
{
	atomic_fetch_sub(&o->kernel_users, 1);
}

/*
 * A description starts without a shadow offset, even on a mapped file: it
 * takes one from the kernel (one lseek) just before the map serves its
 * first read() or write(). Until then the kernel's offset is the only one,
 * so a program that moves it with raw system calls (syscall(SYS_read),
 * which no preload sees) finds lseek() and everything else in step.
 * Returns whether o shadows its offset now.
 */
bool offset_take(struct ofd *o, int fd)
{
	struct file *f = o->file;
	if (atomic_load_explicit(&o->shadow, memory_order_relaxed))
		return true;
	if (!f || atomic_load_explicit(&f->state, memory_order_acquire) != FILE_MAPPED ||
	    atomic_load(&o->noshadow) || atomic_load(&o->pending) || (o->flags & O_DIRECT))
		return false;
	offset_adopt(o, fd);
	return atomic_load(&o->shadow);
}

void offset_adopt(struct ofd *o, int fd)
{
	int e = errno;
	files_lock();
	if (!atomic_load(&o->shadow) && !atomic_load(&o->noshadow)) {
		atomic_store(&o->adopting, true);
		while (atomic_load(&o->kernel_users) > 0)
			sched_yield();
		off_t cur = REAL(lseek)(fd, 0, SEEK_CUR);
		if (cur >= 0) {
			atomic_store(&o->off, cur);
			atomic_store(&o->stale, false);
			atomic_store(&o->shadow, true);
		}
		atomic_store(&o->adopting, false);
	}
	files_unlock();
	errno = e;
}

/*
 * Other calls that read the kernel's offset of a description. lockf()
 * locks from the current offset (glibc calls its own fcntl, which no
 * preload sees); ioctl(FIONREAD) on a regular file answers size - offset.
 * Any ioctl on a tracked description gets the offset synced first: it is a
 * no-op unless the shadow moved, and ioctls on files are rare.
 */
EXPORT int lockf(int fd, int cmd, off_t len)
{
	struct ofd *o = fd_get(fd);
	if (o)
		offset_sync(o, fd);
	return REAL(lockf)(fd, cmd, len);
}
EXPORT int lockf64(int fd, int cmd, off_t len) __attribute__((alias("lockf")));

EXPORT int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	va_start(ap, req);
	void *arg = va_arg(ap, void *); /* one pointer-sized argument, per the ABI */
	va_end(ap);
	struct ofd *o = fd_get(fd);
	if (o)
		offset_sync(o, fd);
	return REAL(ioctl)(fd, req, arg);
}
