/*
 * procs.c - the moments another party can see a file offset we shadow:
 * fork, vfork, exec, posix_spawn, system, popen (a new process shares the
 * description), fdopen (stdio reads through glibc's internal calls, which
 * no preload sees), sendfile, splice and copy_file_range (the kernel moves
 * the offset itself).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include "shim.h"

/* ---- fork: through pthread_atfork, which covers fork() and libc's own forks ---- */

static void fork_prepare(void) { offset_sync_all(false); }

/* Both sides now share every description: the kernel owns the offsets. */
static void fork_after(void)
{
	int hw = fd_highwater();
	for (int fd = 0; fd <= hw; fd++) {
		struct ofd *o = fd_get(fd);
		if (o) {
			atomic_store(&o->noshadow, true);
			atomic_store(&o->shadow, false);
		}
	}
}

void procs_init(void)
{
	/* Registered after files_init(): prepare runs first (LIFO), before
	 * the files lock is taken; the after-handlers run last. */
	pthread_atfork(fork_prepare, fork_after, fork_after);
}

/* Before a new process image or a spawned child can see our descriptors. */
static void before_spawn(void)
{
	offset_sync_all(true);
}

/*
 * vfork: the child borrows our memory and stack until it execs or exits,
 * so vfork cannot be wrapped by a C function that returns twice into the
 * same frame. vfork_x86_64.S calls shim_vfork_prepare() and then jumps to
 * the real vfork, whose return goes straight to our caller.
 */
void *shim_vfork_prepare(void)
{
	before_spawn();
	return (void *)REAL(vfork);
}

/* ---- exec ---- */

/* A successful exec discards this image: report its stats first. */
static void before_exec(void)
{
	offset_sync_all(false);
	/* Not in a vfork child: the counters it would write and reset are
	 * its parent's, which reports them itself. */
	if (stats_on && stats_own_process()) {
		int e = errno;
		stats_write();
		stats_reset();
		errno = e;
	}
}

static int shim_execve(const char *path, char *const argv[], char *const envp[])
{
	before_exec();
	return REAL(execve)(path, argv, envp);
}

static int shim_execv(const char *path, char *const argv[])
{
	before_exec();
	return REAL(execv)(path, argv);
}

static int shim_execvp(const char *file, char *const argv[])
{
	before_exec();
	return REAL(execvp)(file, argv);
}

EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	return shim_execve(path, argv, envp);
}

EXPORT int execv(const char *path, char *const argv[])
{
	return shim_execv(path, argv);
}

EXPORT int execvp(const char *file, char *const argv[])
{
	return shim_execvp(file, argv);
}

EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	before_exec();
	return REAL(execvpe)(file, argv, envp);
}

EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	before_exec();
	return REAL(fexecve)(fd, argv, envp);
}

EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[],
		    int flags)
{
	before_exec();
	if (MISSING(execveat))
		return -1;
	return real.execveat(dirfd, path, argv, envp, flags);
}

/* execl, execlp, execle: gather the variadic list, then the v-form. */
#define GATHER_ARGS(arg0, argv, envp_out)                                          \
	size_t n_ = 1;                                                              \
	va_list ap_;                                                                \
	va_start(ap_, arg0);                                                        \
	while (va_arg(ap_, char *))                                                 \
		n_++;                                                               \
	va_end(ap_);                                                                \
	char **argv = __builtin_alloca((n_ + 1) * sizeof(char *));                  \
	va_start(ap_, arg0);                                                        \
	argv[0] = (char *)arg0;                                                     \
	for (size_t i_ = 1; i_ <= n_; i_++)                                         \
		argv[i_] = va_arg(ap_, char *);                                     \
	envp_out;                                                                   \
	va_end(ap_)

EXPORT int execl(const char *path, const char *arg0, ...)
{
	GATHER_ARGS(arg0, argv, (void)0);
	return shim_execv(path, argv);
}

EXPORT int execlp(const char *file, const char *arg0, ...)
{
	GATHER_ARGS(arg0, argv, (void)0);
	return shim_execvp(file, argv);
}

EXPORT int execle(const char *path, const char *arg0, ...)
{
	char **envp;
	GATHER_ARGS(arg0, argv, envp = va_arg(ap_, char **));
	return shim_execve(path, argv, envp);
}

/* ---- spawning ---- */

EXPORT int posix_spawn(pid_t *pid, const char *path, const void *fa, const void *attr,
		       char *const argv[], char *const envp[])
{
	before_spawn();
	return REAL(posix_spawn)(pid, path, fa, attr, argv, envp);
}

EXPORT int posix_spawnp(pid_t *pid, const char *file, const void *fa, const void *attr,
			char *const argv[], char *const envp[])
{
	before_spawn();
	return REAL(posix_spawnp)(pid, file, fa, attr, argv, envp);
}

EXPORT int system(const char *cmd)
{
	before_spawn();
	return REAL(system)(cmd);
}

EXPORT FILE *popen(const char *cmd, const char *type)
{
	before_spawn();
	return REAL(popen)(cmd, type);
}

/* stdio owns the descriptor from now on, and closes it behind our back. */
EXPORT FILE *fdopen(int fd, const char *mode)
{
	struct ofd *o = fd_get(fd);
	if (o && !shim_busy) {
		int e = errno;
		shim_busy++;
		offset_sync(o, fd);
		files_on_close(fd);
		shim_busy--;
		errno = e;
	}
	return REAL(fdopen)(fd, mode);
}

/* ---- the kernel moves the offset itself ---- */

/* Before: sync the kernel's offset of fd if the call will use it. */
static struct ofd *kernel_uses_offset(int fd, const off_t *offp)
{
	struct ofd *o = offp ? NULL : fd_get(fd);
	if (o) {
		count_pass(o);
		offset_sync(o, fd);
	}
	return o;
}

/*
 * After: our shadow follows what the kernel did (o is NULL when the call
 * had its own offset); a written file may have grown.
 */
static void kernel_moved(struct ofd *o, int fd, ssize_t n, bool wrote)
{
	if (n <= 0)
		return;
	int e = errno;
	if (o && atomic_load(&o->shadow))
		atomic_fetch_add(&o->off, n);
	struct ofd *w = wrote ? fd_get(fd) : NULL;
	if (w)
		files_follow(w, fd);
	errno = e;
}

EXPORT ssize_t sendfile(int out, int in, off_t *off, size_t count)
{
	struct ofd *oi = kernel_uses_offset(in, off);
	struct ofd *oo = kernel_uses_offset(out, NULL);
	struct file *rf = resize_begin(fd_get(out));
	ssize_t n = REAL(sendfile)(out, in, off, count);
	resize_end(rf);
	kernel_moved(oi, in, n, false);
	kernel_moved(oo, out, n, true);
	return n;
}
EXPORT ssize_t sendfile64(int out, int in, off_t *off, size_t count)
	__attribute__((alias("sendfile")));

EXPORT ssize_t splice(int in, off_t *offin, int out, off_t *offout, size_t len,
		      unsigned flags)
{
	struct ofd *oi = kernel_uses_offset(in, offin);
	struct ofd *oo = kernel_uses_offset(out, offout);
	struct file *rf = resize_begin(fd_get(out));
	ssize_t n = REAL(splice)(in, offin, out, offout, len, flags);
	resize_end(rf);
	kernel_moved(oi, in, n, false);
	kernel_moved(oo, out, n, true);
	return n;
}

EXPORT ssize_t copy_file_range(int in, off_t *offin, int out, off_t *offout, size_t len,
			       unsigned flags)
{
	if (MISSING(copy_file_range))
		return -1;
	struct ofd *oi = kernel_uses_offset(in, offin);
	struct ofd *oo = kernel_uses_offset(out, offout);
	struct file *rf = resize_begin(fd_get(out));
	ssize_t n = real.copy_file_range(in, offin, out, offout, len, flags);
	resize_end(rf);
	kernel_moved(oi, in, n, false);
	kernel_moved(oo, out, n, true);
	return n;
}

/*
 * sendmsg with SCM_RIGHTS: the receiving process shares the description
 * from now on. The message is user memory: it is copied with the
 * fault-safe copy, and anything unusual is left for the kernel to judge
 * (after unshadowing every description, to be safe).
 */
static void before_send_fds(const struct msghdr *msg)
{
	struct msghdr h;
	char ctl[4096];
	if (!msg || mmapio_copy(&h, msg, sizeof h, NULL) < 0 || !h.msg_control ||
	    h.msg_controllen == 0)
		return;
	if (h.msg_controllen > sizeof ctl ||
	    mmapio_copy(ctl, h.msg_control, h.msg_controllen, NULL) < 0) {
		offset_sync_all(true);
		return;
	}
	h.msg_control = ctl;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int *fds = (int *)CMSG_DATA(c);
		for (size_t i = 0; i < n; i++) {
			struct ofd *o = fd_get(fds[i]);
			if (o)
				offset_unshadow(o, fds[i]);
		}
	}
}

EXPORT ssize_t sendmsg(int sock, const struct msghdr *msg, int flags)
{
	if (fd_highwater() >= 0) {
		int e = errno;
		before_send_fds(msg);
		errno = e;
	}
	return REAL(sendmsg)(sock, msg, flags);
}

EXPORT int sendmmsg(int sock, struct mmsghdr *vec, unsigned n, int flags)
{
	if (fd_highwater() >= 0) {
		int e = errno;
		for (unsigned i = 0; i < n && i < 1024; i++) {
			struct mmsghdr m;
			if (mmapio_copy(&m, &vec[i], sizeof m, NULL) < 0)
				break;
			before_send_fds(&m.msg_hdr);
		}
		errno = e;
	}
	return REAL(sendmmsg)(sock, vec, n, flags);
}
