/*
 * limits.c - the process's resource limits, for the work the shim does in
 * the kernel's place and for the resources the shim itself takes.
 *
 *   RLIMIT_FSIZE: the kernel refuses a write at or past the limit (EFBIG and
 *     SIGXFSZ) and cuts one that crosses it, even inside the file. A write
 *     the map would take that reaches past the limit goes to the kernel,
 *     which answers as it would without the shim.
 *   RLIMIT_AS: a map reserves address space past the file (1 GiB or more)
 *     so that it can grow in place; under a finite limit that could make
 *     the program's own mmap or malloc fail. With a limit, a map reserves
 *     only its file rounded up to 2 MiB, and none is made while the maps
 *     would hold more than a quarter of the room the limit leaves; when
 *     the limit is lowered, every map gives back what it reserved past its
 *     file (mmapio_trim_reserve).
 *   mlockall(): MCL_CURRENT would lock and read in every mapped page of our
 *     maps (whole files the program never read, counted against its
 *     RLIMIT_MEMLOCK); MCL_FUTURE would do it to every new map. Before the
 *     real call, every map is retired (its files go to the kernel), and
 *     while MCL_FUTURE holds no file is mapped.
 * The limits are read at start and after every setrlimit/prlimit/ulimit of
 * this process through libc; one changed another way (prlimit(pid) from
 * another process, a raw system call) is seen at the next sampled write
 * (RLIMIT_FSIZE: within one sampling period, 256 calls at most) or the
 * next decision on a file.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <ulimit.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include "shim.h"

_Atomic uint64_t limit_fsize = UINT64_MAX;
static _Atomic uint64_t limit_as = UINT64_MAX;
_Atomic bool limit_no_maps;

static uint64_t read_limit(int res)
{
	struct rlimit rl;
	if (getrlimit(res, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		return UINT64_MAX;
	return (uint64_t)rl.rlim_cur;
}

void limits_read_fsize(void)
{
	atomic_store(&limit_fsize, read_limit(RLIMIT_FSIZE));
}

void limits_read(void)
{
	limits_read_fsize();
	uint64_t as = read_limit(RLIMIT_AS), was = atomic_exchange(&limit_as, as);
	/* Lowered: the maps give back the address space they reserved past
	 * their files (the program's own mmap or malloc must not fail for it). */
	if (as < was && atomic_load(&shim_ready))
		files_trim_all();
}

/*
 * The reservation for a map of fd's file: MMAPIO_RESERVE (0: the core's
 * default) without an address-space limit; else just the file, or
 * UINT64_MAX: do not map.
 */
uint64_t limits_reserve(int fd)
{
	limits_read();
	uint64_t as = atomic_load(&limit_as);
	if (as == UINT64_MAX)
		return cfg.reserve;
	struct stat st;
	if (fstat(fd, &st) != 0)
		return UINT64_MAX;
	uint64_t size = (uint64_t)st.st_size;
	uint64_t want = ((size + (2ull << 20) - 1) & ~((2ull << 20) - 1)) + (2ull << 20);
	if (cfg.reserve && cfg.reserve < want)
		want = cfg.reserve;
	uint64_t used = proc_vm_size();
	if (used == UINT64_MAX || used >= as || want > (as - used) / 4)
		return UINT64_MAX;
	return want;
}

/* A limit of this process may have changed: read them again. */
static int after(int r, pid_t pid, const void *set)
{
	if (r == 0 && set && (pid == 0 || pid == getpid())) {
		int e = errno;
		limits_read();
		errno = e;
	}
	return r;
}

EXPORT int setrlimit(__rlimit_resource_t res, const struct rlimit *rl)
{
	return after(REAL(setrlimit)((int)res, rl), 0, rl);
}

EXPORT int setrlimit64(__rlimit_resource_t res, const struct rlimit64 *rl)
{
	return after(REAL(setrlimit64)((int)res, rl), 0, rl);
}

EXPORT int prlimit(pid_t pid, __rlimit_resource_t res, const struct rlimit *rl,
		   struct rlimit *old)
{
	return after(REAL(prlimit)(pid, (int)res, rl, old), pid, rl);
}

EXPORT int prlimit64(pid_t pid, __rlimit_resource_t res, const struct rlimit64 *rl,
		     struct rlimit64 *old)
{
	return after(REAL(prlimit64)(pid, (int)res, rl, old), pid, rl);
}

EXPORT long ulimit(int cmd, ...)
{
	va_list ap;
	long arg = 0;
	va_start(ap, cmd);
	if (cmd == UL_SETFSIZE) /* the only command with an argument */
		arg = va_arg(ap, long);
	va_end(ap);
	long r = REAL(ulimit)(cmd, arg);
	if (r >= 0 && cmd == UL_SETFSIZE) { /* glibc's ulimit calls its own setrlimit */
		int e = errno;
		limits_read();
		errno = e;
	}
	return r;
}

EXPORT int mlockall(int flags)
{
	if (flags & (MCL_CURRENT | MCL_FUTURE))
		files_retire_all("mlockall");
	if (flags & MCL_FUTURE)
		atomic_store(&limit_no_maps, true);
	return REAL(mlockall)(flags);
}

EXPORT int munlockall(void)
{
	int r = REAL(munlockall)();
	if (r == 0)
		atomic_store(&limit_no_maps, false);
	return r;
}
