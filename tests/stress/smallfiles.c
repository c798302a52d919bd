/*
 * smallfiles.c - threads opening, reading and closing many small files.
 *
 *   smallfiles DIR N
 *
 * The workload of auto mode's lock-free path (preload/fdtable.c,
 * files.c open_pending/untrack_fd): 96 files of 1-16 KiB and one of 1 MiB
 * (the one auto mode maps: it is read in 4 KiB pieces, so it is decided
 * after a few calls). Two threads run N rounds each; a round opens a
 * random file, sometimes dups the descriptor and reads through both,
 * reads it to its end with read() in random piece sizes, sometimes seeks
 * back and reads it again, checks every byte, and closes. Every 64 rounds
 * a short-lived third thread does one round and exits (its cache of
 * descriptions goes back to the pool). Prints one line; exit 1 on any
 * wrong byte, count or errno.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "stress.h"

#define NSMALL 96
#define BIG (1u << 20)

static long nrounds;
static size_t sizes[NSMALL + 1];

/* Content of file k at offset o: never 0, differs between files. */
static unsigned char byte_at(int k, uint64_t o) { return pat(o + (uint64_t)k * 7919); }

static void path_of(int k, char *buf, size_t cap)
{
	snprintf(buf, cap, k == NSMALL ? "big.dat" : "small-%02d.dat", k);
}

struct targ {
	uint64_t seed;
	long rounds, dups, rereads, bytes;
	char err[200];
};

/* Read fd to its end from `from` in random pieces; check every byte. */
static int read_all(struct targ *a, int fd, int k, uint64_t from)
{
	static __thread unsigned char buf[20000];
	uint64_t at = from;
	for (;;) {
		size_t want = k == NSMALL ? 4096 : 1 + rnd(&a->seed, sizeof buf);
		ssize_t n = read(fd, buf, want);
		if (n < 0) {
			snprintf(a->err, sizeof a->err, "file %d: read at %llu: %s", k,
				 (unsigned long long)at, strerror(errno));
			return -1;
		}
		if (n == 0)
			break;
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != byte_at(k, at + (uint64_t)i)) {
				snprintf(a->err, sizeof a->err, "file %d: byte %llu is %u, want %u", k,
					 (unsigned long long)(at + (uint64_t)i), buf[i],
					 byte_at(k, at + (uint64_t)i));
				return -1;
			}
		at += (uint64_t)n;
		a->bytes += n;
	}
	if (at != sizes[k]) {
		snprintf(a->err, sizeof a->err, "file %d: read %llu bytes to its end, size %zu", k,
			 (unsigned long long)at, sizes[k]);
		return -1;
	}
	return 0;
}

static int round_once(struct targ *a)
{
	char path[64];
	int k = rnd(&a->seed, 16) == 0 ? NSMALL : (int)rnd(&a->seed, NSMALL);
	path_of(k, path, sizeof path);
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		snprintf(a->err, sizeof a->err, "open %s: %s", path, strerror(errno));
		return -1;
	}
	int dfd = -1;
	if (rnd(&a->seed, 8) == 0) { /* a dup shares the description and its offset */
		dfd = dup(fd);
		a->dups++;
	}
	int rc = read_all(a, dfd >= 0 ? dfd : fd, k, 0);
	if (rc == 0 && rnd(&a->seed, 8) == 0) {
		a->rereads++;
		if (lseek(fd, 0, SEEK_SET) != 0)
			rc = -1, snprintf(a->err, sizeof a->err, "lseek: %s", strerror(errno));
		else
			rc = read_all(a, fd, k, 0);
	}
	if (dfd >= 0 && close(dfd))
		rc = -1, snprintf(a->err, sizeof a->err, "close dup: %s", strerror(errno));
	if (close(fd))
		rc = -1, snprintf(a->err, sizeof a->err, "close: %s", strerror(errno));
	a->rounds++;
	return rc;
}

static void *short_lived(void *p)
{
	round_once(p);
	return NULL;
}

static void *worker(void *p)
{
	struct targ *a = p;
	for (long r = 0; r < nrounds && !a->err[0]; r++) {
		if (r % 64 == 63) {
			struct targ b = { .seed = a->seed + (uint64_t)r };
			pthread_t t;
			if (pthread_create(&t, NULL, short_lived, &b) == 0)
				pthread_join(t, NULL);
			if (b.err[0])
				snprintf(a->err, sizeof a->err, "short-lived thread: %.150s", b.err);
			continue;
		}
		if (round_once(a))
			break;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: smallfiles DIR N\n");
		return 2;
	}
	nrounds = atol(argv[2]);
	mkdir(argv[1], 0755);
	if (chdir(argv[1])) {
		perror(argv[1]);
		return 2;
	}
	uint64_t s = 42;
	static unsigned char buf[BIG];
	for (int k = 0; k <= NSMALL; k++) {
		char path[64];
		sizes[k] = k == NSMALL ? BIG : 1024 + rnd(&s, 15 * 1024);
		for (size_t i = 0; i < sizes[k]; i++)
			buf[i] = byte_at(k, i);
		path_of(k, path, sizeof path);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || write(fd, buf, sizes[k]) != (ssize_t)sizes[k] || close(fd)) {
			perror(path);
			return 2;
		}
	}
	struct targ a[2] = { { .seed = 1 }, { .seed = 2 } };
	pthread_t th[2];
	for (int t = 0; t < 2; t++)
		pthread_create(&th[t], NULL, worker, &a[t]);
	for (int t = 0; t < 2; t++)
		pthread_join(th[t], NULL);
	int bad = 0;
	for (int t = 0; t < 2; t++)
		if (a[t].err[0]) {
			printf("smallfiles: thread %d: %s\n", t, a[t].err);
			bad = 1;
		}
	if (!bad)
		printf("smallfiles: 2 threads x %ld rounds (%ld dup, %ld read again), %ld bytes, "
		       "all correct\n",
		       nrounds, a[0].dups + a[1].dups, a[0].rereads + a[1].rereads,
		       a[0].bytes + a[1].bytes);
	return bad;
}
