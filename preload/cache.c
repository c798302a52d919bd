/*
 * cache.c - the page cache as the program sees it.
 *
 * Pages mapped by a process are not dropped by posix_fadvise(DONTNEED)
 * (the kernel's invalidation skips mapped pages) nor by the system's cache
 * dropping. A program that drops a file's cache (a benchmark, a backup tool
 * that does not want to evict others' data, LTP's preadv203 before
 * RWF_NOWAIT reads) must see the kernel's answer afterwards: so before the
 * real call, the map lets go of its pages in the range (MADV_DONTNEED on a
 * shared file map drops our page table entries only: data, dirty pages
 * included, stays in the page cache for the kernel to write back or drop).
 *
 * Not covered: another process under the shim that maps the same file
 * keeps its pages mapped, and `echo 1 > /proc/sys/vm/drop_caches` cannot
 * be seen from here (README, Limitations).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include "shim.h"

EXPORT int posix_fadvise(int fd, off_t off, off_t len, int advice)
{
	struct ofd *o = fd_get(fd);
	if (o && advice == POSIX_FADV_DONTNEED && off >= 0 && len >= 0)
		files_drop_pages(o, (uint64_t)off, len ? (uint64_t)len : UINT64_MAX);
	return REAL(posix_fadvise)(fd, off, len, advice);
}
EXPORT int posix_fadvise64(int fd, off_t off, off_t len, int advice)
	__attribute__((alias("posix_fadvise")));
