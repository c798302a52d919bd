/*
 * procfs.c - what the shim reads from /proc and /sys: small text files,
 * read whole through a descriptor open for one read(2) and closed at once
 * (a descriptor kept would shift the numbers the program's open() returns).
 * Only when deciding on a file, never on a read or write.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "shim.h"

bool proc_read_file(const char *path, char *buf, size_t cap)
{
	int fd = REAL(open)(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	size_t n = 0;
	for (ssize_t k; n < cap - 1 && (k = REAL(read)(fd, buf + n, cap - 1 - n)) > 0;)
		n += (size_t)k;
	REAL(close)(fd);
	buf[n] = 0;
	return n > 0;
}

/*
 * Live threads: field 20 of /proc/self/stat, read at most every 100 ms.
 */
uint64_t proc_threads(void)
{
	static _Atomic uint64_t cached, when_ns;
	uint64_t now = shim_now_ns();
	if (atomic_load(&cached) && now - atomic_load(&when_ns) < 100000000u)
		return atomic_load(&cached);
	char buf[1024];
	uint64_t threads = 1;
	if (proc_read_file("/proc/self/stat", buf, sizeof buf)) {
		/* comm may hold spaces and parentheses: fields start after the last ')'. */
		char *p = strrchr(buf, ')');
		for (int field = 2; p && field < 20; field++)
			p = strchr(p + 1, ' ');
		if (p)
			threads = strtoull(p + 1, NULL, 10);
	}
	atomic_store(&cached, threads ? threads : 1);
	atomic_store(&when_ns, now);
	return threads;
}

/* Address space in use by the process (/proc/self/statm: pages), UINT64_MAX unknown. */
uint64_t proc_vm_size(void)
{
	char buf[128];
	unsigned long long pages = 0;
	if (!proc_read_file("/proc/self/statm", buf, sizeof buf) || sscanf(buf, "%llu", &pages) != 1)
		return UINT64_MAX;
	return pages * PAGE;
}
