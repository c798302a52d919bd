/*
 * access.c - a program with one access pattern, for the auto-mode tests.
 *   access small FILE N      N random 4 KiB preads
 *   access stream FILE [P]   read() the whole file in 1 MiB chunks, P times
 *                            (default 1)
 *   access write FILE N      N in-place 4 KiB pwrites, no fsync, then
 *                            poll the file's dirty pages with cachestat(2)
 *                            for up to 3 s and print how many remain
 *   access demote FILE N     N random 4 KiB preads; the file dropped from
 *                            the page cache (posix_fadvise DONTNEED), N more;
 *                            the whole file read in order, N more
 *   access grow FILE N       create FILE (O_RDWR|O_CREAT, as a database
 *                            does), grow it with 4 KiB pwrites to 8 MiB,
 *                            then N random 4 KiB preads
 *   access v2 FILE N         N random 4 KiB preadv2 (flags 0) reads
 * Prints a checksum (and for write, the dirty count) on stdout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifndef __NR_cachestat
#define __NR_cachestat 451
#endif
struct cs_range {
	uint64_t off, len;
};
struct cs {
	uint64_t cache, dirty, writeback, evicted, recently_evicted;
};

static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

/* Dirty pages of fd's file as the kernel counts them, or -1 (no cachestat). */
static long dirty_pages(int fd)
{
	struct cs_range r = { 0, 0 };
	struct cs c;
	if (syscall(__NR_cachestat, fd, &r, &c, 0) < 0)
		return -1;
	return (long)c.dirty + (long)c.writeback;
}

static unsigned char buf[1 << 20];
static uint64_t x = 88172645463325252ULL;

/* n random 4 KiB reads of a file of `size` bytes, by pread or preadv2. */
static uint64_t random_reads(int fd, off_t size, long n, bool v2, uint64_t h)
{
	for (long i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		off_t off = (off_t)(x % (uint64_t)(size / 4096)) * 4096;
		struct iovec v = { buf, 4096 };
		ssize_t k = v2 ? preadv2(fd, &v, 1, off, 0) : pread(fd, buf, 4096, off);
		h = fnv(h, buf, k > 0 ? (size_t)k : 0);
	}
	return h;
}

static int grow(const char *path, long n)
{
	int fd = open(path, O_RDWR | O_CREAT, 0644);
	if (fd < 0)
		return perror("open"), 1;
	uint64_t h = 0xcbf29ce484222325ULL;
	ssize_t k = pread(fd, buf, 100, 0); /* a database reads its header first */
	h = fnv(h, buf, k > 0 ? (size_t)k : 0);
	for (off_t off = 0; off < (8 << 20); off += 4096) {
		memset(buf, (int)(off >> 12) | 1, 4096);
		if (pwrite(fd, buf, 4096, off) != 4096)
			return perror("pwrite"), 1;
	}
	h = random_reads(fd, 8 << 20, n, false, h);
	printf("%016llx\n", (unsigned long long)h);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	const char *mode = argv[1];
	long n = argc > 3 ? atol(argv[3]) : 0;
	if (!strcmp(mode, "grow"))
		return grow(argv[2], n);
	int fd = open(argv[2], strcmp(mode, "write") ? O_RDONLY : O_RDWR);
	if (fd < 0)
		return perror("open"), 1;
	off_t size = lseek(fd, 0, SEEK_END);
	lseek(fd, 0, SEEK_SET);
	uint64_t h = 0xcbf29ce484222325ULL;
	if (!strcmp(mode, "small") || !strcmp(mode, "v2")) {
		h = random_reads(fd, size, n, !strcmp(mode, "v2"), h);
	} else if (!strcmp(mode, "demote")) {
		h = random_reads(fd, size, n, false, h);
		fdatasync(fd); /* dirty pages are not dropped */
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		h = random_reads(fd, size, n, false, h);
		for (off_t off = 0; off < size; off += sizeof buf)
			if (pread(fd, buf, sizeof buf, off) <= 0)
				return perror("pread"), 1;
		h = random_reads(fd, size, n, false, h);
	} else if (!strcmp(mode, "stream")) {
		for (long pass = 0; pass < (argc > 3 ? n : 1); pass++) {
			ssize_t k;
			while ((k = read(fd, buf, sizeof buf)) > 0)
				h = fnv(h, buf, (size_t)k);
			lseek(fd, 0, SEEK_SET);
		}
	} else if (!strcmp(mode, "write")) {
		memset(buf, 'w', 4096);
		for (long i = 0; i < n; i++) {
			off_t off = (off_t)(i % (size / 4096)) * 4096;
			if (pwrite(fd, buf, 4096, off) != 4096)
				return perror("pwrite"), 1;
		}
		long d = dirty_pages(fd);
		if (d < 0) {
			printf("cachestat unavailable\n");
			return 3;
		}
		struct timespec t0, t;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		do {
			usleep(20000);
			d = dirty_pages(fd);
			clock_gettime(CLOCK_MONOTONIC, &t);
		} while (d > 0 && (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < 3000);
		printf("dirty %ld after %ld ms\n", d,
		       (long)((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000));
		return 0;
	}
	printf("%016llx\n", (unsigned long long)h);
	return 0;
}
