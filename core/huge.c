/*
 * huge.c - which huge-page tier a file can have.
 *
 *   TLBFS: the file lives on hugetlbfs. Every mapping of it uses huge pages
 *     (MAP_HUGETLB is for anonymous memory; a hugetlbfs file gets them by
 *     itself), so offsets and lengths must be multiples of the huge page
 *     size, which statfs reports as f_bsize. That becomes the map's page.
 *   THP: transparent huge pages for the page cache. madvise(MADV_HUGEPAGE)
 *     on the mapping asks for them; whether the kernel then uses them for a
 *     file depends on the file system (large folios; tmpfs follows
 *     shmem_enabled) and on /sys/kernel/mm/transparent_hugepage/enabled.
 *     We report THP when THP is not disabled system-wide (nor for tmpfs in
 *     shmem_enabled) and madvise accepted the request.
 *   OFF: normal pages.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <unistd.h>
#include "internal.h"

#define HUGETLBFS_MAGIC 0x958458f6
#define TMPFS_MAGIC 0x01021994

/* Does the sysfs file select (in brackets) "never" or "deny"? */
static bool thp_disabled(const char *path)
{
	char buf[128];
	int fd = SYS(open)(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return true;
	ssize_t n = SYS(read)(fd, buf, sizeof buf - 1);
	SYS(close)(fd);
	if (n <= 0)
		return true;
	buf[n] = 0;
	return strstr(buf, "[never]") || strstr(buf, "[deny]");
}

int mmapio__huge_probe(int fd, size_t *pgsz, bool want_thp)
{
	struct statfs sf;
	if (fstatfs(fd, &sf) < 0)
		return MMAPIO_HUGE_OFF;
	if ((unsigned long)sf.f_type == HUGETLBFS_MAGIC) {
		*pgsz = (size_t)sf.f_bsize;
		return MMAPIO_HUGE_TLBFS;
	}
	if (!want_thp || thp_disabled("/sys/kernel/mm/transparent_hugepage/enabled"))
		return MMAPIO_HUGE_OFF;
	if ((unsigned long)sf.f_type == TMPFS_MAGIC &&
	    thp_disabled("/sys/kernel/mm/transparent_hugepage/shmem_enabled"))
		return MMAPIO_HUGE_OFF;
	return MMAPIO_HUGE_THP;
}

/* Called for each newly mapped piece of the file. */
int mmapio__huge_apply(mmapio_map *m, void *addr, size_t len)
{
	if (m->huge_tier != MMAPIO_HUGE_THP)
		return 0;
	if (madvise(addr, len, MADV_HUGEPAGE) < 0) {
		m->huge_tier = MMAPIO_HUGE_OFF; /* the kernel said no */
		return -errno;
	}
	return 0;
}
