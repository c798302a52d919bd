/*
 * policy.c - which files are served from a map, and why.
 *
 * policy_decide() is a pure function of the configuration and what is
 * known about a file: where it lives, its size, the process's thread
 * count, and (in auto mode) the reads seen so far. Its reason string is
 * what the stats and MMAPIO_LOG=info show.
 *
 * The auto rules, in order:
 *   - never a pseudo file system (/proc, sysfs, ...), nor a network file
 *     system unless MMAPIO_NETFS=1: their pages are not a coherent local
 *     page cache;
 *   - MMAPIO_INCLUDE / MMAPIO_EXCLUDE;
 *   - size in [MMAPIO_MIN_SIZE, MMAPIO_MAX_SIZE]: below, mmap+munmap cost
 *     more than the reads they save (the many-small-files case);
 *   - threads <= MMAPIO_MAX_THREADS: mmap and munmap take the process's
 *     memory-map lock and shoot down TLBs on every core running it;
 *   - then watch WATCH_CALLS reads through the kernel before mapping: a
 *     map costs tens of microseconds to set up and tear down (measured:
 *     ~45 us per 4-16 KiB file opened, read and closed, against 6 us
 *     without), so a file read only a few times is not worth it;
 *   - at least half of the watched reads "small" (below MMAPIO_SMALL_READ;
 *     by default every read counts as small: large reads pay off once the
 *     map's page tables exist, which the next rule settles);
 *   - a file read in order, a page or more a call, stays with the kernel
 *     until it is read again (ONCE_PASSES, below);
 *   - memory: streaming a file larger than the page cache the process can
 *     keep (memory.c) stays with the kernel;
 *   - the page cache: misses in the sampled calls (sample.c) hand a map
 *     back or keep a watched file with the kernel, with hysteresis.
 * MMAPIO_MODE=always skips the size, thread and pattern rules.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/magic.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include "shim.h"

/*
 * File systems in memory (tmpfs and shmem, memfd's too; hugetlbfs) allocate
 * a page for a read fault on a hole, where read(2) returns zeros without
 * allocating: reading a sparse file through a map fills memory and the
 * file system (st_blocks grows; another writer gets ENOSPC). A hole the
 * program made is seen (sparse files are never mapped, and one that turns
 * sparse through the shim goes back to the kernel), but not one punched by
 * another program (fallocate -p), which the next read through the map
 * would fill: so they are mapped only with MMAPIO_TMPFS=1.
 */
bool policy_is_memfs(long magic)
{
	return (unsigned long)magic == TMPFS_MAGIC || (unsigned long)magic == HUGETLBFS_MAGIC;
}

/* statfs magics of file systems where a map is not the page cache we know. */
static bool is_netfs(long magic)
{
	switch ((unsigned long)magic) {
	case 0x6969:	 /* NFS */
	case 0x517B:	 /* SMB */
	case 0xFF534D42: /* CIFS */
	case 0xFE534D42: /* SMB2 */
	case 0x65735546: /* FUSE */
	case 0x01021997: /* 9P / v9fs */
	case 0x00C36400: /* Ceph */
	case 0x0BD00BD0: /* Lustre */
	case 0x47504653: /* GPFS */
	case 0x5346414F: /* AFS */
	case 0x6B414653: /* kAFS */
	case 0x73757245: /* Coda */
	case 0x7461636F: /* OCFS2 */
	case 0x01161970: /* GFS2 */
	case 0x564C:	 /* NCP */
		return true;
	}
	return false;
}

static bool is_pseudo(long magic)
{
	switch ((unsigned long)magic) {
	case 0x9FA0:	 /* proc */
	case 0x62656572: /* sysfs */
	case 0x64626720: /* debugfs */
	case 0x74726163: /* tracefs */
	case 0x27E0EB:	 /* cgroup */
	case 0x63677270: /* cgroup2 */
	case 0x6E736673: /* nsfs */
	case 0xCAFE4A11: /* bpf */
	case 0x73636673: /* securityfs */
		return true;
	}
	return false;
}

/*
 * Read once, in order: a map's first pass over a file can cost more than
 * read(2), however hot the file: each page's table entry is made by a
 * fault as the copy first touches it (~0.25 us a page), which read(2)
 * never pays. Once the entries exist, a pass through the map is about
 * twice as fast as read(2). How much the first pass costs depends on the
 * page cache's folios: a file written in small pieces (small folios)
 * loses, one read back through readahead (large folios; read_ahead_kb is
 * 8 MiB here) wins: 169 MB in 16 KiB calls, kernel against map, 13.3
 * against 23.9 ms as written, 14.2 against 7.5 ms after a drop and a
 * read back. Nothing the shim can ask tells which beforehand: the minor
 * faults were the same (one per 16 pages, fault-around) and a trial map
 * timing its first 16 calls saw the same cost in both (tried and left
 * out, 2026-11-30: readahead grows its folios as it goes, so a file's
 * first MiB is in small folios either way; README, Limitations). So the rule takes the side that never loses much: a
 * file read once stays with the kernel, and the win on large folios is
 * left to MMAPIO_MODE=always (README, Limitations). One pass over a hot
 * 169 MB file written in small pieces, from a fresh process (medians of
 * 5, 2026-11-30; never vs always, ms):
 *     read size     512    1 KiB   4 KiB   16 KiB  128 KiB  1 MiB
 *     kernel      115.2     63.4    23.4     16.2     13.5   14.5
 *     map          32.2     25.8    24.0     23.5     22.7   23.8
 * and for several passes in one process (16 KiB: 2 passes 34.4 vs 29.8,
 * 4 passes 64.9 vs 41.5; 128 KiB: 25.5 vs 27.6, 52.8 vs 39.6). So calls
 * of a page or more, in order, stay with the kernel until the process
 * has had the kernel move ONCE_PASSES times the file's size: the second
 * full pass is what pays for the map (a ski-rental bound: a program that
 * reads such a file twice runs as without the shim, three times at
 * ~0.8x, more often faster). Smaller calls are mapped at once: the
 * system calls they save outweigh the faults from the first pass on.
 */
#define ONCE_MIN_CALL 4096u
#define WRITE_CLEAN_WINDOWS 64u
#define ONCE_PASSES 2u

static struct decision verdict(enum verdict v, const char *reason)
{
	return (struct decision){ .v = v, .reason = reason, .advice = -1 };
}

/* A size rule fails: a file we track (a map, or a descriptor that may grow
 * it) stays watched; any other goes to the kernel for good. */
static struct decision size_rule(const struct file_facts *f, const char *reason)
{
	return verdict(f->mapped || f->writable ? V_WATCH : V_KERNEL, reason);
}

struct decision policy_decide(const struct shim_config *c, const struct file_facts *f)
{
	if (!f->regular)
		return verdict(V_KERNEL, "not a regular file");
	if (is_pseudo(f->fs_magic))
		return verdict(V_KERNEL, "pseudo file system");
	if (is_netfs(f->fs_magic) && !c->netfs)
		return verdict(V_KERNEL, "network file system (MMAPIO_NETFS=0)");
	if (!f->selected)
		return verdict(V_KERNEL, f->unselected_why);
	if (policy_is_memfs(f->fs_magic) && !c->tmpfs)
		return verdict(V_KERNEL, "file system in memory (MMAPIO_TMPFS=0)");
	if (f->sparse && policy_is_memfs(f->fs_magic))
		return verdict(V_KERNEL, "sparse file on tmpfs");
	if (c->mode == MODE_NEVER)
		return verdict(V_KERNEL, "MMAPIO_MODE=never");
	if (c->mode == MODE_ALWAYS)
		return (struct decision){ .v = V_MAP, .reason = "MMAPIO_MODE=always",
					  .advice = policy_advice(f) };
	if (f->size < c->min_size)
		return size_rule(f, f->writable ? "smaller than MMAPIO_MIN_SIZE (watching it grow)"
						: "smaller than MMAPIO_MIN_SIZE");
	if (f->size > c->max_size)
		return size_rule(f, "larger than MMAPIO_MAX_SIZE");
	if (f->threads > c->max_threads)
		return size_rule(f, "more threads than MMAPIO_MAX_THREADS");
	if (f->calls < WATCH_CALLS)
		return verdict(V_WATCH, "auto: watching the access pattern");
	/* Mostly large reads: the kernel keeps serving, and we keep watching. */
	if (2 * f->small < f->calls)
		return verdict(V_WATCH, "auto: large reads");
	bool seq = 4 * f->seq >= 3 * f->calls;
	if (seq && f->size > f->room)
		return verdict(V_WATCH, "auto: streaming a file larger than the page cache it can keep");
	if (seq && !f->mapped && f->bytes >= ONCE_MIN_CALL * (uint64_t)f->calls &&
	    f->moved < ONCE_PASSES * f->size)
		return (struct decision){ .v = V_WATCH,
					  .reason = "auto: read in order, a page or more a call, not yet read again",
					  .advice = -1,
					  .until_moved = ONCE_PASSES * f->size };
	/* A write that misses costs the map a read from the disk that pwrite(2)
	 * of whole pages does not do (~100x the write, against the ~1 us the
	 * map saves): one in a window is too many. */
	if (f->write_misses > 0)
		return verdict(V_WATCH, f->mapped ? "auto: the map's writes were missing the page cache"
						  : "auto: writes miss the page cache");
	if (f->probed >= WINDOW / 2 && 8 * f->misses >= f->probed)
		return verdict(V_WATCH, f->mapped ? "auto: the map was missing the page cache"
						  : "auto: reads miss the page cache");
	if (!f->mapped && f->clean_run < f->clean_need)
		return verdict(V_WATCH, "auto: waiting for the page cache to warm");
	/* Writes break even at about 1 miss in 300 (the ~0.6 us a map saves
	 * on a cached 4 KiB pwrite against a read from the disk): map only
	 * after WRITE_CLEAN_WINDOWS windows in a row without a miss, ~1,000
	 * probes. Measured: random 4 KiB pwrites of a cold 1 GiB file with
	 * free memory, auto 0.67x the kernel's rate with the read rule alone. */
	if (!f->mapped && f->writes && f->clean_run < WRITE_CLEAN_WINDOWS)
		return verdict(V_WATCH, "auto: waiting for the whole file to be cached (writes)");
	if (!f->mapped && f->probed == 0 && !seq && f->cached_pct >= 0 && f->cached_pct < 50)
		return verdict(V_WATCH, "auto: less than half of the file is cached");
	return (struct decision){ .v = V_MAP,
				  .reason = c->small_read == UINT64_MAX ? "auto: read often" : "auto: small reads",
				  .advice = policy_advice(f) };
}

/*
 * The advice of a map, from the calls seen: read in order, the default
 * (the kernel reads ahead of faults); at random, MMAPIO_ADV_RANDOM (a
 * fault reads only its page). With the default, one 4 KiB random read of
 * a file that did not fit in a 256 MiB memory cgroup read 5.8-7.7 MiB
 * from disk, and after a hot file was dropped from the cache, the first
 * two random reads through its map brought all of its 16 MiB back. The
 * price of random advice: the kernel ignores accesses through such a map
 * when it ages pages for reclaim (vma_has_recency()), so under memory
 * pressure its pages go before pages read with read(2); the misses that
 * follow are what the sampled calls see, and auto mode then hands the
 * file back. Mixed patterns keep the advice they have. -1: no change.
 */
int policy_advice(const struct file_facts *f)
{
	if (f->calls == 0)
		return -1;
	if (4 * f->seq >= 3 * f->calls)
		return MMAPIO_ADV_NORMAL;
	if (4 * f->seq <= f->calls)
		return MMAPIO_ADV_RANDOM;
	return -1;
}

static bool matches(char **globs, const char *a, const char *b)
{
	for (char **g = globs; g && *g; g++)
		if (fnmatch(*g, a, 0) == 0 || (b && fnmatch(*g, b, 0) == 0))
			return true;
	return false;
}

/* MMAPIO_INCLUDE/EXCLUDE on the path as opened and its resolved form. */
bool policy_selected(int fd, const char *path, const char **why)
{
	if (!cfg.include && !cfg.exclude)
		return true;
	char link[64], abs[4096];
	const char *resolved = NULL;
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, abs, sizeof abs - 1);
	if (n > 0) {
		abs[n] = 0;
		resolved = abs;
	}
	const char *p = path ? path : "";
	if (cfg.include && !matches(cfg.include, p, resolved)) {
		*why = "not in MMAPIO_INCLUDE";
		return false;
	}
	if (cfg.exclude && matches(cfg.exclude, p, resolved)) {
		*why = "in MMAPIO_EXCLUDE";
		return false;
	}
	return true;
}
