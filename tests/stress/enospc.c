/*
 * enospc.c - in-place writes into the holes of a sparse file until the
 * file system is full, each acknowledged write followed by fsync.
 *
 *   enospc TMPFS_DIR EXPECTED_OUT
 *
 * TMPFS_DIR is a small file system (run.sh mounts a 1 MiB tmpfs there).
 * The program creates a 3 MiB sparse file, then writes 36,964-byte chunks
 * (not page multiples) at shuffled offsets, with pwrite, lseek+write and
 * pwritev in turn, and fsyncs after each. It prints every return value and
 * errno: run.sh compares the output with the run without the shim, which
 * gets the kernel's own answers (short writes, then -1 ENOSPC). After the
 * first failure it goes on for a few more calls, including an overwrite of
 * an already written chunk, which needs no new space and must succeed.
 * Finally it re-reads the file through the same and a fresh descriptor and
 * checks that every acknowledged byte is intact and every other byte is 0,
 * and writes the expected image to EXPECTED_OUT for a cmp by a process
 * without the shim. A SIGBUS would kill it: run.sh reports the signal.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include "stress.h"

#define FSIZE (3u << 20)
#define CHUNK 36964u

static unsigned char gen(uint64_t off, int g)
{
	return (unsigned char)(pat(off) + 29 * g);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: enospc TMPFS_DIR EXPECTED_OUT\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (chdir(argv[1])) {
		perror(argv[1]);
		return 2;
	}
	int fd = open("sparse.dat", O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, FSIZE)) {
		perror("sparse.dat");
		return 2;
	}
	unsigned char *img = calloc(1, FSIZE), *b = malloc(CHUNK), *r = malloc(FSIZE);
	unsigned nchunks = FSIZE / CHUNK, order[FSIZE / CHUNK];
	uint64_t s = 42;
	for (unsigned i = 0; i < nchunks; i++)
		order[i] = i;
	for (unsigned i = nchunks - 1; i > 0; i--) {
		unsigned j = (unsigned)rnd(&s, i + 1), t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	int after_full = 0, first_ok = -1;
	unsigned long acked = 0;
	for (unsigned i = 0; i < nchunks && after_full < 6; i++) {
		uint64_t off = (uint64_t)order[i] * CHUNK;
		for (unsigned k = 0; k < CHUNK; k++)
			b[k] = gen(off + k, 1);
		const char *how;
		ssize_t n;
		errno = 0;
		switch (i % 3) {
		case 0:
			how = "pwrite";
			n = pwrite(fd, b, CHUNK, (off_t)off);
			break;
		case 1:
			how = "write";
			if (lseek(fd, (off_t)off, SEEK_SET) != (off_t)off) {
				perror("lseek");
				return 2;
			}
			n = write(fd, b, CHUNK);
			break;
		default: {
			how = "pwritev";
			struct iovec v[2] = { { b, 1000 }, { b + 1000, CHUNK - 1000 } };
			n = pwritev(fd, v, 2, (off_t)off);
		}
		}
		int e = errno;
		printf("%2u %-7s chunk %2u (offset %7llu): %zd %s", i, how, order[i],
		       (unsigned long long)off, n, n < 0 ? errname(e) : "");
		if (n > 0) {
			memcpy(img + off, b, (size_t)n);
			acked += (unsigned long)n;
			if (first_ok < 0)
				first_ok = (int)order[i];
		}
		if (how[0] == 'w')
			printf(", offset now %lld", (long long)lseek(fd, 0, SEEK_CUR));
		errno = 0;
		int f = fsync(fd);
		printf(", fsync %d %s\n", f, f ? errname(errno) : "");
		if (n != (ssize_t)CHUNK)
			after_full++;
		if (after_full == 3 && first_ok >= 0) {
			/* Overwrite a chunk that has its pages: no new space needed. */
			uint64_t o2 = (uint64_t)first_ok * CHUNK;
			for (unsigned k = 0; k < CHUNK; k++)
				b[k] = gen(o2 + k, 2);
			errno = 0;
			ssize_t m = pwrite(fd, b, CHUNK, (off_t)o2);
			int e2 = errno;
			int f2 = fsync(fd);
			printf("   overwrite of written chunk %d: %zd %s, fsync %d\n", first_ok, m,
			       m < 0 ? errname(e2) : "", f2);
			if (m > 0)
				memcpy(img + o2, b, (size_t)m);
			after_full++;
		}
	}
	printf("acknowledged %lu bytes\n", acked);
	/* Everything acknowledged is there, and nothing else. */
	for (int pass = 0; pass < 2; pass++) {
		int rfd = pass ? open("sparse.dat", O_RDONLY) : fd;
		size_t got = 0;
		while (got < FSIZE) {
			ssize_t n = pread(rfd, r + got, FSIZE - got, (off_t)got);
			if (n <= 0)
				break;
			got += (size_t)n;
		}
		size_t k = 0;
		while (k < FSIZE && r[k] == img[k])
			k++;
		printf("verify through %s descriptor: %zu bytes read, %s", pass ? "a fresh" : "the same",
		       got, k == FSIZE ? "all intact\n" : "MISMATCH");
		if (k < FSIZE) {
			printf(" at offset %zu: 0x%02x, expected 0x%02x\n", k, r[k], img[k]);
			return 1;
		}
		if (pass)
			close(rfd);
	}
	close(fd);
	FILE *out = fopen(argv[2], "w");
	if (!out || fwrite(img, 1, FSIZE, out) != FSIZE || fclose(out)) {
		perror(argv[2]);
		return 2;
	}
	return 0;
}
