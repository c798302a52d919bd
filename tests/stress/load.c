/*
 * load.c - two threads x N mixed operations on shared files.
 *
 *   load DIR N [-R]
 *
 * Files: data.dat (1 MiB of two 512 KiB stripes, one per thread, plus a
 * tail that ftruncate moves between 1 and 2 MiB) and words.dat (1 MiB of
 * 8-byte words, each holding its own offset, never written).
 * Descriptors are shared by both threads: one O_RDWR on data.dat, one
 * O_RDONLY on words.dat. Each thread runs N operations:
 *   30% pwrite of random bytes into its own stripe (kept in a private model)
 *   30% pread of its own stripe, compared with the model
 *   15% read() of words.dat through the shared descriptor: whole aligned
 *       words, each equal to its offset, consecutive (at the end: lseek 0)
 *   10% ftruncate(data.dat) to a size in [1 MiB, 2 MiB]
 *   15% pread in the tail [1 MiB, 2 MiB): counts within the request, zeros
 * (the tail is only ever created by growth, so it holds zeros).
 * At the end each stripe is compared in full. Prints one line; exit 1 on
 * any mismatch.
 *
 * -R (self-test for ThreadSanitizer runs): the threads also increment a
 * plain shared counter, a data race TSan must report when this program is
 * built with -fsanitize=thread.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "stress.h"

#define STRIPE (512u << 10)
#define LOW (1u << 20)
#define HIGH (2u << 20)
#define WSIZE (1u << 20)
#define MAXIO 65536

static int dfd, wfd;
static long nops;
static int racy;
static long racy_counter;

struct targ {
	int id;
	unsigned char *model;
	long reads, writes, words, truncs, tails;
	char err[256];
};

static void *worker(void *p)
{
	struct targ *a = p;
	uint64_t s = 0xC0FFEE + (uint64_t)a->id * 7777;
	uint64_t base = (uint64_t)a->id * STRIPE;
	unsigned char *b = malloc(MAXIO), *c = malloc(MAXIO);
	for (long i = 0; i < nops && !a->err[0]; i++) {
		uint64_t r = rnd(&s, 100);
		if (racy)
			racy_counter++; /* deliberately unsynchronized */
		if (r < 30) {
			uint64_t off = rnd(&s, STRIPE);
			size_t len = 1 + rnd(&s, rnd(&s, 8) ? 512 : MAXIO);
			if (len > STRIPE - off)
				len = STRIPE - off;
			for (size_t k = 0; k < len; k++)
				b[k] = (unsigned char)sm64(&s);
			ssize_t n = pwrite(dfd, b, len, (off_t)(base + off));
			if (n != (ssize_t)len)
				snprintf(a->err, sizeof a->err, "pwrite returned %zd (%s)", n,
					 n < 0 ? errname(errno) : "short");
			memcpy(a->model + off, b, len);
			a->writes++;
		} else if (r < 60) {
			uint64_t off = rnd(&s, STRIPE);
			size_t len = 1 + rnd(&s, rnd(&s, 8) ? 512 : MAXIO);
			if (len > STRIPE - off)
				len = STRIPE - off;
			ssize_t n = pread(dfd, c, len, (off_t)(base + off));
			if (n != (ssize_t)len)
				snprintf(a->err, sizeof a->err, "pread of own stripe returned %zd (%s)", n,
					 n < 0 ? errname(errno) : "short");
			else if (memcmp(c, a->model + off, len))
				snprintf(a->err, sizeof a->err, "pread of own stripe at %llu: wrong data",
					 (unsigned long long)(base + off));
			a->reads++;
		} else if (r < 75) {
			size_t len = 8 * (1 + rnd(&s, 512));
			ssize_t n = read(wfd, c, len);
			if (n == 0) {
				lseek(wfd, 0, SEEK_SET);
			} else if (n < 0 || n % 8 || (size_t)n > len) {
				snprintf(a->err, sizeof a->err, "read of words returned %zd (%s)", n,
					 n < 0 ? errname(errno) : "not whole words");
			} else {
				uint64_t first;
				memcpy(&first, c, 8);
				for (ssize_t k = 0; k < n; k += 8) {
					uint64_t v;
					memcpy(&v, c + k, 8);
					if (v != first + (uint64_t)k || v % 8) {
						snprintf(a->err, sizeof a->err,
							 "read of words: word %zd is %llu after %llu", k / 8,
							 (unsigned long long)v, (unsigned long long)first);
						break;
					}
				}
			}
			a->words++;
		} else if (r < 85) {
			if (ftruncate(dfd, (off_t)(LOW + rnd(&s, HIGH - LOW + 1))))
				snprintf(a->err, sizeof a->err, "ftruncate: %s", errname(errno));
			a->truncs++;
		} else {
			uint64_t off = LOW + rnd(&s, HIGH - LOW);
			size_t len = 1 + rnd(&s, MAXIO);
			ssize_t n = pread(dfd, c, len, (off_t)off);
			if (n < 0 || (size_t)n > len)
				snprintf(a->err, sizeof a->err, "pread of the tail returned %zd (%s)", n,
					 n < 0 ? errname(errno) : "too much");
			for (ssize_t k = 0; k < n; k++)
				if (c[k]) {
					snprintf(a->err, sizeof a->err, "tail byte at %llu is 0x%02x, not 0",
						 (unsigned long long)(off + (uint64_t)k), c[k]);
					break;
				}
			a->tails++;
		}
	}
	/* The whole stripe, once more. */
	unsigned char *all = malloc(STRIPE);
	if (!a->err[0] && (pread(dfd, all, STRIPE, (off_t)base) != STRIPE ||
			   memcmp(all, a->model, STRIPE)))
		snprintf(a->err, sizeof a->err, "final check of stripe %d failed", a->id);
	free(all);
	free(b);
	free(c);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: load DIR N [-R]\n");
		return 2;
	}
	nops = atol(argv[2]);
	racy = argc > 3 && !strcmp(argv[3], "-R");
	mkdir(argv[1], 0755);
	if (chdir(argv[1])) {
		perror(argv[1]);
		return 2;
	}
	uint64_t *w = malloc(WSIZE);
	for (uint64_t i = 0; i < WSIZE / 8; i++)
		w[i] = i * 8;
	int fd = open("words.dat", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, w, WSIZE) != WSIZE || close(fd)) {
		perror("words.dat");
		return 2;
	}
	struct targ a[2];
	memset(a, 0, sizeof a);
	dfd = open("data.dat", O_RDWR | O_CREAT | O_TRUNC, 0644);
	unsigned char *init = malloc(LOW);
	uint64_t s = 1;
	for (size_t k = 0; k < LOW; k++)
		init[k] = (unsigned char)sm64(&s);
	if (dfd < 0 || write(dfd, init, LOW) != LOW) {
		perror("data.dat");
		return 2;
	}
	wfd = open("words.dat", O_RDONLY);
	for (int t = 0; t < 2; t++) {
		a[t].id = t;
		a[t].model = malloc(STRIPE);
		memcpy(a[t].model, init + (size_t)t * STRIPE, STRIPE);
	}
	pthread_t th[2];
	for (int t = 0; t < 2; t++)
		pthread_create(&th[t], NULL, worker, &a[t]);
	for (int t = 0; t < 2; t++)
		pthread_join(th[t], NULL);
	int bad = 0;
	for (int t = 0; t < 2; t++)
		if (a[t].err[0]) {
			printf("load: thread %d: %s\n", t, a[t].err);
			bad = 1;
		}
	if (!bad)
		printf("load: 2 threads x %ld operations: %ld pwrite, %ld pread, %ld read, %ld "
		       "ftruncate, %ld tail pread, all correct\n",
		       nops, a[0].writes + a[1].writes, a[0].reads + a[1].reads,
		       a[0].words + a[1].words, a[0].truncs + a[1].truncs, a[0].tails + a[1].tails);
	if (racy)
		printf("load: racy counter %ld\n", racy_counter > 0 ? 1L : 0L);
	return bad;
}
