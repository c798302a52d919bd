/*
 * open.c - where descriptors come and go: the open family, close,
 * close_range, closefrom, dup, dup2, dup3, fcntl, lseek.
 *
 * Every name a binary may link against is here: glibc's 64-bit aliases
 * (open64, lseek64, ...) and the _FORTIFY_SOURCE entry points (__open_2,
 * ...). A descriptor is tracked only after the real call returned it, and
 * untracked before the real close, so the map never borrows a dead fd.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>
#include "shim.h"

TLS int shim_busy;

/*
 * A descriptor number the kernel just handed out cannot still be ours: an
 * entry left for it was closed behind our back (a raw close syscall, a
 * library's internal close). Forget it before anything else.
 */
static void drop_stale(int fd)
{
	if (fd_get(fd))
		files_forget(fd);
}

/*
 * /proc/<pid>/fdinfo/N shows the kernel's offset when it is read: bring
 * every shadowed one in line once a program has opened one (a path
 * relative to a directory descriptor of /proc is not recognised: see
 * README, offsets). Only after the open succeeded: before it, path may be
 * a bad pointer, for which the kernel answers EFAULT.
 */
static void after_open(int fd, const char *path)
{
	if (fd >= 0 && path[0] == '/' && path[1] == 'p' && !strncmp(path, "/proc/", 6) &&
	    strstr(path, "/fdinfo") && fd_highwater() >= 0) {
		int e = errno;
		offset_sync_all(false);
		errno = e;
	}
}

static int track_open(int fd, const char *path, int flags)
{
	if (fd >= 0 && atomic_load_explicit(&shim_ready, memory_order_acquire) && !shim_busy) {
		int e = errno;
		shim_busy++;
		drop_stale(fd);
		files_on_open(fd, path, flags);
		shim_busy--;
		errno = e;
	}
	return fd;
}

static bool needs_mode(int flags)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

EXPORT int open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	if (needs_mode(flags)) {
		va_list ap;
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	int fd = REAL(open)(path, flags, mode);
	after_open(fd, path);
	return track_open(fd, path, flags);
}
EXPORT int open64(const char *path, int flags, ...) __attribute__((alias("open")));

EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	if (needs_mode(flags)) {
		va_list ap;
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	int fd = REAL(openat)(dirfd, path, flags, mode);
	after_open(fd, path);
	return track_open(fd, path, flags);
}
EXPORT int openat64(int dirfd, const char *path, int flags, ...) __attribute__((alias("openat")));

EXPORT int creat(const char *path, mode_t mode)
{
	return open(path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}
EXPORT int creat64(const char *path, mode_t mode) __attribute__((alias("creat")));

/* _FORTIFY_SOURCE: glibc checks that O_CREAT came with a mode; so do we. */
EXPORT int __open_2(const char *path, int flags)
{
	if (needs_mode(flags))
		__chk_fail();
	return open(path, flags);
}
EXPORT int __open64_2(const char *path, int flags) __attribute__((alias("__open_2")));

EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	if (needs_mode(flags))
		__chk_fail();
	return openat(dirfd, path, flags);
}
EXPORT int __openat64_2(int dirfd, const char *path, int flags)
	__attribute__((alias("__openat_2")));

static void untrack(int fd)
{
	if (fd_get(fd) && !shim_busy) {
		int e = errno;
		shim_busy++;
		files_on_close(fd);
		shim_busy--;
		errno = e;
	}
}

EXPORT int close(int fd)
{
	untrack(fd);
	return REAL(close)(fd);
}

static void untrack_range(unsigned first, unsigned last)
{
	int hw = fd_highwater();
	for (unsigned fd = first; fd <= last && (int)fd <= hw && fd <= (unsigned)INT32_MAX; fd++)
		untrack((int)fd);
}

EXPORT int close_range(unsigned first, unsigned last, int flags)
{
	if (MISSING(close_range))
		return -1;
	if (!(flags & CLOSE_RANGE_CLOEXEC) && first <= last)
		untrack_range(first, last);
	return real.close_range(first, last, flags);
}

EXPORT void closefrom(int low)
{
	if (low >= 0)
		untrack_range((unsigned)low, ~0u);
	if (REAL(closefrom))
		real.closefrom(low);
}

static int track_dup(int oldfd, int newfd)
{
	struct ofd *o;
	if (newfd >= 0 && (o = fd_get(oldfd)) && !shim_busy) {
		int e = errno;
		shim_busy++;
		if (newfd != oldfd)
			drop_stale(newfd);
		files_on_dup(newfd, o);
		shim_busy--;
		errno = e;
	}
	return newfd;
}

EXPORT int dup(int fd)
{
	return track_dup(fd, REAL(dup)(fd));
}

EXPORT int dup2(int oldfd, int newfd)
{
	if (oldfd == newfd)
		return REAL(dup2)(oldfd, newfd);
	untrack(newfd); /* dup2 closes it */
	return track_dup(oldfd, REAL(dup2)(oldfd, newfd));
}

EXPORT int dup3(int oldfd, int newfd, int flags)
{
	if (oldfd != newfd)
		untrack(newfd);
	return track_dup(oldfd, REAL(dup3)(oldfd, newfd, flags));
}

/*
 * F_SETFL can turn O_APPEND or O_DIRECT on for a description we serve:
 * the offset goes back to the kernel first, and the flags we test are
 * refreshed from the kernel's own view.
 */
static int setfl(struct ofd *o, int fd, long arg)
{
	if ((arg & O_APPEND) || (arg & O_DIRECT))
		offset_unshadow(o, fd);
	int r = REAL(fcntl)(fd, F_SETFL, arg);
	int e = errno;
	int fl = REAL(fcntl)(fd, F_GETFL);
	if (fl >= 0)
		o->flags = fl;
	errno = e;
	return r;
}

EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *); /* int or pointer: both fit, per the ABI */
	va_end(ap);
	struct ofd *o = fd_get(fd);
	if (likely(!o))
		return REAL(fcntl)(fd, cmd, arg);
	switch (cmd) {
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
		return track_dup(fd, REAL(fcntl)(fd, cmd, arg));
	case F_SETFL:
		return setfl(o, fd, (long)arg);
	case F_GETLK:
	case F_SETLK:
	case F_SETLKW:
	case F_OFD_GETLK:
	case F_OFD_SETLK:
	case F_OFD_SETLKW:
		/* A lock's l_whence may be SEEK_CUR: the kernel's offset. */
		offset_sync(o, fd);
		return REAL(fcntl)(fd, cmd, arg);
	case F_ADD_SEALS:
		files_before_seal(o, (long)arg);
		return REAL(fcntl)(fd, cmd, arg);
	default:
		return REAL(fcntl)(fd, cmd, arg);
	}
}
EXPORT int fcntl64(int fd, int cmd, ...) __attribute__((alias("fcntl")));

EXPORT off_t lseek(int fd, off_t off, int whence)
{
	struct ofd *o = fd_get(fd);
	if (likely(!o))
		return REAL(lseek)(fd, off, whence);
	return shim_lseek(o, fd, off, whence);
}
EXPORT off_t lseek64(int fd, off_t off, int whence) __attribute__((alias("lseek")));
