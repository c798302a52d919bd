/*
 * residency.c - is a range of a file in the page cache?
 *
 * A read from a map of data that is not cached is a page fault that waits
 * for the disk, and costs more than the same read through read(2) (the
 * fault is taken, the I/O waited for with the memory-map lock dropped, and
 * the fault retried). So the shim looks before it serves, on sampled calls
 * (sample.c). Two tiers:
 *
 *   cachestat(2) (Linux 6.5+) on the caller's descriptor: how many pages of
 *     a range are cached, without touching them. ~240 ns on the development
 *     machine, against ~730 ns for mincore(2) of one page of a map. The
 *     kernel answers only for files the caller owns or could open for
 *     writing (EPERM otherwise: the page cache is a side channel); mincore
 *     has the same rule, and for other files it reports every page as
 *     resident, so it would be no better.
 *   major faults otherwise: getrusage(RUSAGE_THREAD) before and after a
 *     served call says whether that call read from the disk. It cannot look
 *     before, so a sampled miss is still paid once.
 *
 * Neither tier reads or faults in anything: looking never changes what
 * the page cache holds.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "shim.h"

#ifndef __NR_cachestat
#define __NR_cachestat 451 /* the same number on every architecture */
#endif

struct cs_range {
	uint64_t off, len;
};
struct cs {
	uint64_t cache, dirty, writeback, evicted, recently_evicted;
};

static _Atomic bool no_cachestat; /* the kernel has none (ENOSYS) */

/* Pages of [off, off + len) in the page cache; -1: cannot tell (see top). */
static int64_t cached_pages(int fd, uint64_t off, uint64_t len)
{
	if (atomic_load_explicit(&no_cachestat, memory_order_relaxed))
		return -1;
	struct cs_range r = { off, len };
	struct cs c;
	int e = errno;
	long rc = syscall(__NR_cachestat, fd, &r, &c, 0);
	if (rc < 0 && errno == ENOSYS)
		atomic_store(&no_cachestat, true);
	errno = e;
	return rc < 0 ? -1 : (int64_t)c.cache;
}

int residency_cached(int fd, uint64_t off, uint64_t len)
{
	if (len == 0)
		return 1;
	uint64_t first = off / PAGE, last = (off + len - 1) / PAGE;
	int64_t n = cached_pages(fd, first * PAGE, (last - first + 1) * PAGE);
	return n < 0 ? -1 : (uint64_t)n >= last - first + 1;
}

/*
 * Percent of a file of `size` bytes that is cached, estimated from eight
 * ranges of 16 pages spread over it (a whole-file cachestat walks every
 * page: 8 ms for 1 GiB); -1 when the kernel will not say.
 */
int residency_percent(int fd, uint64_t size)
{
	const uint64_t span = 16 * PAGE;
	if (size <= 8 * span) {
		int64_t n = cached_pages(fd, 0, size);
		uint64_t pages = (size + PAGE - 1) / PAGE;
		return n < 0 ? -1 : pages ? (int)(100 * (uint64_t)n / pages) : 100;
	}
	uint64_t got = 0, step = (size - span) / 7 / PAGE * PAGE;
	for (int i = 0; i < 8; i++) {
		int64_t n = cached_pages(fd, (uint64_t)i * step, span);
		if (n < 0)
			return -1;
		got += (uint64_t)n;
	}
	return (int)(100 * got / (8 * span / PAGE));
}

/* This thread's major faults so far (the fallback tier). */
uint64_t residency_majflt(void)
{
	struct rusage ru;
	int e = errno;
	int rc = getrusage(RUSAGE_THREAD, &ru);
	errno = e;
	return rc == 0 ? (uint64_t)ru.ru_majflt : 0;
}
