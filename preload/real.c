/*
 * real.c - the functions the shim wraps, as libc (or the next library in
 * the search order) defines them: dlsym(RTLD_NEXT, name). Every one of
 * them is in this table, and only here (shim.h, REAL and MISSING).
 *
 * Resolved once, in the constructor, before main, which also hands the
 * core the ones it needs (init.c, mmapio_embed_sys), so that it never
 * calls back into the shim's own wrappers. A call that arrives earlier
 * (another library's constructor opening a file) resolves the table on
 * the spot; the table holds plain pointers, written at most once with the
 * same values, so a race between two early threads is harmless.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include "shim.h"

struct real_fns real;

struct entry {
	const char *name, *alt;
	size_t off;
};
#define E(f) { #f, NULL, offsetof(struct real_fns, f) }
#define E2(f, name, alt) { name, alt, offsetof(struct real_fns, f) }

static const struct entry entries[] = {
	E(openat), E(close), E(close_range), E(pread), E(readv), E(preadv), E(preadv2),
	E(write), E(pwrite), E(writev), E(pwritev), E(pwritev2), E(lseek), E(fsync),
	E(fdatasync), E(ftruncate), E(truncate), E(dup), E(dup2), E(dup3),
	E2(fcntl, "fcntl64", "fcntl"), E(fork), E(vfork), E(execve), E(execv), E(execvp),
	E(execvpe), E(fexecve), E(execveat), E(posix_spawn), E(posix_spawnp), E(system),
	E(popen), E(fdopen), E(sendfile), E(splice), E(copy_file_range), E(sigaction),
	E(posix_fadvise), E(lockf), E(ioctl), E(setrlimit), E(setrlimit64), E(prlimit), E(prlimit64), E(mlockall), E(munlockall),
	E(pthread_cancel), E(ulimit), E(closefrom), E(sendmsg), E(sendmmsg), E(signal), E(pthread_sigmask),
	E(sigprocmask), E(fallocate), E(_exit), E(sysv_signal), E(sigset), E(siginterrupt),
	/* read and open last: the checks in REAL() look at the first member used */
	E(read), E(open),
};

void shim_resolve(void)
{
	for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++) {
		void **slot = (void **)((char *)&real + entries[i].off);
		if (*slot)
			continue;
		void *p = dlsym(RTLD_NEXT, entries[i].name);
		if (!p && entries[i].alt)
			p = dlsym(RTLD_NEXT, entries[i].alt);
		*slot = p;
	}
}

