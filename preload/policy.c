/*
 * policy.c - which files are served from a map, and why.
 *
 * policy_decide() is a pure function of what is known about a file when
 * it is opened; the reason it returns is shown in the stats and the log.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <unistd.h>
#include "shim.h"

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

static bool matches(char **globs, const char *a, const char *b)
{
	for (char **g = globs; g && *g; g++)
		if (fnmatch(*g, a, 0) == 0 || (b && fnmatch(*g, b, 0) == 0))
			return true;
	return false;
}

/* The path as opened, and (when globs are set) its resolved absolute form. */
static bool selected(const struct file_facts *f, const char **reason)
{
	if (!cfg.include && !cfg.exclude)
		return true;
	char link[64], abs[4096];
	const char *resolved = NULL;
	snprintf(link, sizeof link, "/proc/self/fd/%d", f->fd);
	ssize_t n = readlink(link, abs, sizeof abs - 1);
	if (n > 0) {
		abs[n] = 0;
		resolved = abs;
	}
	const char *p = f->path ? f->path : "";
	if (cfg.include && !matches(cfg.include, p, resolved)) {
		*reason = "not in MMAPIO_INCLUDE";
		return false;
	}
	if (cfg.exclude && matches(cfg.exclude, p, resolved)) {
		*reason = "in MMAPIO_EXCLUDE";
		return false;
	}
	return true;
}

struct decision policy_decide(const struct file_facts *f)
{
	const char *why;
	if (!f->regular)
		return (struct decision){ false, "not a regular file" };
	if (is_pseudo(f->fs_magic))
		return (struct decision){ false, "pseudo file system" };
	if (is_netfs(f->fs_magic) && !cfg.netfs)
		return (struct decision){ false, "network file system (MMAPIO_NETFS=0)" };
	if (!selected(f, &why))
		return (struct decision){ false, why };
	if (cfg.mode == MODE_ALWAYS)
		return (struct decision){ true, "MMAPIO_MODE=always" };
	if (f->size < cfg.min_size)
		return (struct decision){ false, "smaller than MMAPIO_MIN_SIZE" };
	if (f->size > cfg.max_size)
		return (struct decision){ false, "larger than MMAPIO_MAX_SIZE" };
	return (struct decision){ true, "auto: size within bounds" };
}
