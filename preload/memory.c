/*
 * memory.c - how much page cache this process can keep.
 *
 * A file larger than that cannot stay cached while it is read: its pages
 * are evicted to make room for the next ones. Through a map that costs
 * more than through read(2): every page the kernel reclaims must first be
 * unmapped from our page tables (an rmap walk and a TLB flush), and a
 * page read again faults. Measured in a 256 MiB memory cgroup, reading a
 * 1 GiB file sequentially: 4 KiB read()s 0.80x and 128 KiB read()s 0.72x
 * the kernel's speed through a map (bench_regimes, memcg rows).
 *
 * The room is the smallest of:
 *   - for every memory cgroup from the process's up to the root that has
 *     a limit (cgroup v2 memory.max, v1 hierarchical_memory_limit): the
 *     limit less what the cgroup uses that is not file cache (its anon
 *     memory, shmem, kernel memory): the file cache may take the rest;
 *   - MemAvailable from /proc/meminfo (what the whole machine could give
 *     without swapping; it counts reclaimable cache as available).
 * Read at most once a second, and only when auto mode decides on a file,
 * never on a read or write.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "shim.h"

#define REREAD_NS 1000000000ull

/* The value after "key " at the start of a line of a key-value file. */
static uint64_t field(const char *text, const char *key)
{
	size_t kl = strlen(key);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, key, kl) && (p[kl] == ' ' || p[kl] == ':'))
			return strtoull(p + kl + 1 + strspn(p + kl + 1, " :"), NULL, 10);
	return 0;
}

static uint64_t read_u64(const char *path, uint64_t otherwise)
{
	char buf[64];
	if (!proc_read_file(path, buf, sizeof buf) || !strncmp(buf, "max", 3))
		return otherwise;
	return strtoull(buf, NULL, 10);
}

/* Where the cgroup2 (v2) or the v1 memory hierarchy is mounted. */
static bool mount_of(bool v2, char *out, size_t cap)
{
	static char info[16384];
	if (!proc_read_file("/proc/self/mountinfo", info, sizeof info))
		return false;
	for (char *line = info; line && *line;) {
		char *next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		char *sep = strstr(line, " - ");
		char mnt[512], type[64], opts[512];
		if (sep && sscanf(line, "%*s %*s %*s %*s %511s", mnt) == 1 &&
		    sscanf(sep + 3, "%63s %*s %511s", type, opts) == 2 &&
		    (v2 ? !strcmp(type, "cgroup2")
			: !strcmp(type, "cgroup") && strstr(opts, "memory"))) {
			snprintf(out, cap, "%s", mnt);
			return true;
		}
		line = next;
	}
	return false;
}

static uint64_t room_left(uint64_t limit, uint64_t used, uint64_t file)
{
	uint64_t other = used > file ? used - file : 0;
	return limit > other ? limit - other : 0;
}

/* cgroup v2: the tightest room over the process's cgroup and its ancestors. */
static uint64_t room_v2(const char *rel)
{
	char mnt[512], dir[1024], p[1152];
	static char stat[8192];
	uint64_t room = UINT64_MAX;
	if (!mount_of(true, mnt, sizeof mnt))
		return room;
	snprintf(dir, sizeof dir, "%s%s", mnt, strcmp(rel, "/") ? rel : "");
	for (;;) {
		snprintf(p, sizeof p, "%s/memory.max", dir);
		uint64_t limit = read_u64(p, UINT64_MAX);
		if (limit != UINT64_MAX) {
			snprintf(p, sizeof p, "%s/memory.current", dir);
			uint64_t used = read_u64(p, 0);
			snprintf(p, sizeof p, "%s/memory.stat", dir);
			uint64_t file = 0;
			if (proc_read_file(p, stat, sizeof stat))
				file = field(stat, "active_file") + field(stat, "inactive_file");
			uint64_t r = room_left(limit, used, file);
			room = r < room ? r : room;
		}
		char *slash = strrchr(dir, '/');
		if (!slash || (size_t)(slash - dir) < strlen(mnt))
			break;
		*slash = 0;
	}
	return room;
}

/* cgroup v1: the memory hierarchy's own sums, which include children. */
static uint64_t room_v1(const char *rel)
{
	char mnt[512], p[1152];
	static char stat[8192];
	if (!mount_of(false, mnt, sizeof mnt))
		return UINT64_MAX;
	snprintf(p, sizeof p, "%s%s/memory.stat", mnt, strcmp(rel, "/") ? rel : "");
	if (!proc_read_file(p, stat, sizeof stat))
		return UINT64_MAX;
	uint64_t limit = field(stat, "hierarchical_memory_limit");
	if (limit == 0 || limit >= (1ull << 62))
		return UINT64_MAX;
	snprintf(p, sizeof p, "%s%s/memory.usage_in_bytes", mnt, strcmp(rel, "/") ? rel : "");
	uint64_t used = read_u64(p, 0);
	uint64_t file = field(stat, "total_active_file") + field(stat, "total_inactive_file");
	return room_left(limit, used, file);
}

/* The memory cgroup of this process: v2 "0::/path", v1 "N:...memory...:/path". */
static uint64_t room_cgroup(void)
{
	char buf[4096];
	uint64_t room = UINT64_MAX;
	if (!proc_read_file("/proc/self/cgroup", buf, sizeof buf))
		return room;
	for (char *line = buf, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = 0;
		uint64_t r = UINT64_MAX;
		if (!strcmp(c1 + 1, ""))
			r = room_v2(c2 + 1);
		else if (strstr(c1 + 1, "memory"))
			r = room_v1(c2 + 1);
		room = r < room ? r : room;
	}
	return room;
}

static uint64_t room_machine(void)
{
	char buf[4096];
	if (!proc_read_file("/proc/meminfo", buf, sizeof buf))
		return UINT64_MAX;
	uint64_t kb = field(buf, "MemAvailable");
	return kb ? kb * 1024 : UINT64_MAX;
}

uint64_t memory_room(void)
{
	static _Atomic uint64_t cached = UINT64_MAX, when;
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	uint64_t now = shim_now_ns();
	if (atomic_load(&when) && now - atomic_load(&when) < REREAD_NS)
		return atomic_load(&cached);
	pthread_mutex_lock(&lock); /* the static buffers above */
	uint64_t cg = room_cgroup(), sys = room_machine();
	uint64_t room = cg < sys ? cg : sys;
	atomic_store(&cached, room);
	atomic_store(&when, now);
	pthread_mutex_unlock(&lock);
	return room;
}
