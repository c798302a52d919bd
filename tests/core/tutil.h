/*
 * tutil.h - small helpers shared by the cmocka suites in tests/core/.
 *
 * Header only (everything static inline) so that each test_<unit>.c stays a
 * standalone program built from one source file:
 *   gcc -std=gnu11 -Wall -Wextra -O1 -g -Iinclude -Icore tests/core/test_X.c \
 *       build/libmmapio.a -lcmocka -lpthread -o build/tests/test_X
 *
 * Every suite works in a fresh mkdtemp() directory under $TMPDIR (or /tmp),
 * created by tu_group_setup() and removed with its files by
 * tu_group_teardown().
 */
#ifndef MMAPIO_TESTS_TUTIL_H
#define MMAPIO_TESTS_TUTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "mmapio.h"

/*
 * Equality assertion that prints both sides as signed decimals (cmocka's
 * assert_int_equal prints negative errno values as huge unsigned numbers).
 */
#define T_EQ(a, b)                                                                      \
	do {                                                                            \
		long long t_a_ = (long long)(a), t_b_ = (long long)(b);                 \
		if (t_a_ != t_b_)                                                       \
			fail_msg("%s:%d: %s is %lld, expected %s (%lld)", __FILE__, __LINE__, \
				 #a, t_a_, #b, t_b_);                                   \
	} while (0)

/* Shorthand for "returns 0", printing the errno name on failure. */
#define T_OK(expr)                                                                      \
	do {                                                                            \
		long long t_r_ = (long long)(expr);                                     \
		if (t_r_ != 0)                                                          \
			fail_msg("%s:%d: %s returned %lld (%s), expected 0", __FILE__, __LINE__, \
				 #expr, t_r_, t_r_ < 0 ? strerror((int)-t_r_) : "positive"); \
	} while (0)

static char tu_dir[512];
static size_t tu_ps; /* sysconf(_SC_PAGESIZE) */

static inline int tu_group_setup(void **state)
{
	(void)state;
	const char *t = getenv("TMPDIR");
	if (!t || !*t)
		t = "/tmp";
	snprintf(tu_dir, sizeof tu_dir, "%s/mmapio-test-XXXXXX", t);
	if (!mkdtemp(tu_dir)) {
		snprintf(tu_dir, sizeof tu_dir, "/tmp/mmapio-test-XXXXXX");
		if (!mkdtemp(tu_dir)) {
			perror("mkdtemp");
			return -1;
		}
	}
	tu_ps = (size_t)sysconf(_SC_PAGESIZE);
	return 0;
}

static inline int tu_group_teardown(void **state)
{
	(void)state;
	DIR *d = opendir(tu_dir);
	if (d) {
		struct dirent *e;
		char p[PATH_MAX + 300];
		while ((e = readdir(d)) != NULL) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			snprintf(p, sizeof p, "%s/%s", tu_dir, e->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(tu_dir);
	return 0;
}

/* Wait for a forked child; fail the test unless it exited with status 0. */
static inline void tu_wait_ok(pid_t pid, const char *what)
{
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("%s: %s %d", what, WIFEXITED(st) ? "exit code" : "killed by signal",
			 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

/* Path of a file named `name` inside the suite's temporary directory. */
static inline const char *tu_path(char *buf, size_t cap, const char *name)
{
	snprintf(buf, cap, "%s/%s", tu_dir, name);
	return buf;
}

/* Deterministic content: the byte at file offset i. Differs between pages. */
static inline uint8_t tu_pat(uint64_t i)
{
	return (uint8_t)(i ^ (i >> 8) ^ (i >> 16) ^ 0xA5);
}

static inline void tu_fill(uint8_t *buf, uint64_t off, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = tu_pat(off + i);
}

/* Index of the first byte of buf that is not tu_pat(off + i), or -1. */
static inline long tu_check(const void *buf, uint64_t off, size_t len)
{
	const uint8_t *b = buf;
	for (size_t i = 0; i < len; i++)
		if (b[i] != tu_pat(off + i))
			return (long)i;
	return -1;
}

/* Create (or truncate) path with `size` bytes of tu_pat content. 0 or -errno. */
static inline int tu_make_file(const char *path, uint64_t size)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	uint8_t buf[65536];
	uint64_t off = 0;
	while (off < size) {
		size_t n = size - off < sizeof buf ? (size_t)(size - off) : sizeof buf;
		tu_fill(buf, off, n);
		ssize_t w = pwrite(fd, buf, n, (off_t)off);
		if (w <= 0) {
			int e = w < 0 ? errno : EIO;
			close(fd);
			return -e;
		}
		off += (uint64_t)w;
	}
	close(fd);
	return 0;
}

static inline off_t tu_file_size(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -1;
	return st.st_size;
}

/* Write back and drop the page cache of path (best effort). */
static inline void tu_drop_cache(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	fsync(fd);
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	close(fd);
}

/* Number of resident pages among the pages of [addr, addr + len) (addr page aligned). */
static inline long tu_resident(const void *addr, size_t len)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	size_t n = (len + ps - 1) / ps;
	if (n == 0)
		return 0;
	unsigned char *vec = malloc(n);
	if (!vec)
		return -ENOMEM;
	if (mincore((void *)addr, len, vec) < 0) {
		int e = errno;
		free(vec);
		return -e;
	}
	long c = 0;
	for (size_t i = 0; i < n; i++)
		c += vec[i] & 1;
	free(vec);
	return c;
}

/* Residency of each page: out[i] = 1 if page i of [addr, addr+len) is resident. */
static inline int tu_resident_vec(const void *addr, size_t len, unsigned char *out)
{
	if (mincore((void *)addr, len, out) < 0)
		return -errno;
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	for (size_t i = 0; i < (len + ps - 1) / ps; i++)
		out[i] &= 1;
	return 0;
}

/*
 * Copy the VmFlags line of the VMA that contains addr (from /proc/self/smaps)
 * into out. Returns 0, or -ENOENT when no VMA contains addr.
 */
static inline int tu_vmflags(const void *addr, char *out, size_t cap)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	if (!f)
		return -errno;
	char line[1024];
	int in = 0, found = -ENOENT;
	uintptr_t a = (uintptr_t)addr;
	while (fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		char c;
		if (sscanf(line, "%lx-%lx %c", &lo, &hi, &c) == 3) { /* a VMA header line */
			in = (a >= lo && a < hi);
			continue;
		}
		if (in && !strncmp(line, "VmFlags:", 8)) {
			size_t l = strlen(line + 8);
			if (l >= cap)
				l = cap - 1;
			memcpy(out, line + 8, l);
			out[l] = 0;
			found = 0;
			break;
		}
	}
	fclose(f);
	return found;
}

/* Does the VmFlags string contain the two-letter flag fl (e.g. "sr", "lo")? */
static inline int tu_has_flag(const char *flags, const char *fl)
{
	char tok[8];
	const char *p = flags;
	int n;
	while (sscanf(p, "%7s%n", tok, &n) == 1) {
		if (!strcmp(tok, fl))
			return 1;
		p += n;
	}
	return 0;
}

static inline uint64_t tu_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void tu_sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Number of lines of /proc/self/maps that mention `needle` (e.g. a file path). */
static inline int tu_maps_count(const char *needle)
{
	FILE *f = fopen("/proc/self/maps", "re");
	if (!f)
		return -1;
	char line[1024];
	int n = 0;
	while (fgets(line, sizeof line, f))
		if (strstr(line, needle))
			n++;
	fclose(f);
	return n;
}

/* Number of open descriptors of this process. */
static inline int tu_fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the DIR's own fd */
}

static inline uint64_t tu_round_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) / a * a;
}

#endif
