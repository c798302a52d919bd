/*
 * sys.c - the calls through which the library reaches the kernel.
 *
 * By default libc's own. Inside the LD_PRELOAD shim, libc's open, read,
 * pread, close, fcntl, ftruncate, sigaction and pthread_sigmask are the
 * shim's wrappers (the shim exports them, and is first in the lookup
 * order): a pread in a fault fallback would come back into the shim's
 * pread, which serves from the very map that faulted. So the shim hands
 * over its table of the real functions at start (mmapio_embed_sys), and
 * the core calls everything that may be interposed through SYS(name).
 * Calls nobody interposes (fstat, mmap, madvise, msync, ...) are direct.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include "internal.h"

struct mmapio_sys mmapio__sys = {
	.open = open,
	.close = close,
	.read = read,
	.pread = pread,
	.fcntl = fcntl,
	.ftruncate = ftruncate,
	.sigaction = sigaction,
	.sigmask = pthread_sigmask,
};

void mmapio_embed_sys(const struct mmapio_sys *s)
{
#define TAKE(f)                           \
	if (s->f)                         \
		mmapio__sys.f = s->f
	TAKE(open);
	TAKE(close);
	TAKE(read);
	TAKE(pread);
	TAKE(fcntl);
	TAKE(ftruncate);
	TAKE(sigaction);
	TAKE(sigmask);
#undef TAKE
}
