/*
 * killwriter.c - kill -9 of a writer right after fsync returns; a fresh
 * process then finds all fsynced data.
 *
 *   killwriter run DIR SEED stop|cont    (run.sh runs this under the shim)
 *   killwriter verify DIR SEED stop|cont (run.sh runs this without it)
 *
 * run: forks a writer that opens DIR/kill.dat itself (so its descriptors
 * are its own, served from the shim's map) and runs rounds: in each round
 * it writes 48 non-overlapping ranges of up to 4 KiB at random places of a
 * 2 MiB file (pwrite, lseek+write, writev in turn: in-place writes that the
 * shim serves from its writable map) and appends a 1000-byte record (an
 * extending write: the kernel's), then fsync (odd rounds) or fdatasync
 * (even rounds), and then tells the parent through a pipe which round is
 * durable. The parent SIGKILLs it as soon as it reads round K (K from
 * SEED), and records K in DIR/kill.round.
 *   stop: the writer waits after reporting, so at the kill the file must be
 *         exactly the state after round K. Before the kill the parent also
 *         checks that no page of the file is dirty or under writeback in the
 *         page cache (/proc/self/pagemap + /proc/kpageflags, as root): the
 *         fsync really wrote back what went through the map. As a check of
 *         the check, round 1 also reports before its fsync, when dirty
 *         pages must be found.
 *   cont: the writer goes straight on with round K+1, so the kill lands in
 *         the middle of it: every byte must be that of state K or of state
 *         K+1, and the size between the two.
 * verify: replays the PRNG to build both states and checks the file.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include "stress.h"

#define BASE (2u << 20)
#define NRANGES 48
#define SLOT 4096u
#define REC 1000u
#define ROUNDS 12

static unsigned char val(uint64_t off, unsigned round)
{
	return (unsigned char)(pat(off) * (round + 1) + round);
}

struct range {
	uint64_t off;
	size_t len;
};

/* The ranges of round r (1-based), deterministic from the seed. */
static void ranges(uint64_t seed, unsigned r, struct range *rg)
{
	uint64_t s = seed * 1000003 + r;
	bool used[BASE / SLOT] = { false };
	for (int i = 0; i < NRANGES; i++) {
		uint64_t slot;
		do
			slot = rnd(&s, BASE / SLOT);
		while (used[slot]);
		used[slot] = true;
		size_t len = 1 + rnd(&s, SLOT);
		rg[i].off = slot * SLOT + rnd(&s, SLOT - len + 1);
		rg[i].len = len;
	}
}

/* Apply round r to an image of the file (size *size). */
static void apply(unsigned char *img, uint64_t *size, uint64_t seed, unsigned r)
{
	struct range rg[NRANGES];
	ranges(seed, r, rg);
	for (int i = 0; i < NRANGES; i++)
		for (size_t k = 0; k < rg[i].len; k++)
			img[rg[i].off + k] = val(rg[i].off + k, r);
	for (size_t k = 0; k < REC; k++)
		img[*size + k] = val(*size + k, r);
	*size += REC;
}

static void writer(const char *path, uint64_t seed, bool stop, int tok, int go)
{
	int fd = open(path, O_RDWR);
	if (fd < 0)
		_exit(3);
	unsigned char *b = malloc(SLOT);
	for (unsigned r = 1; r <= ROUNDS; r++) {
		struct range rg[NRANGES];
		ranges(seed, r, rg);
		for (int i = 0; i < NRANGES; i++) {
			for (size_t k = 0; k < rg[i].len; k++)
				b[k] = val(rg[i].off + k, r);
			ssize_t n;
			if (i % 3 == 0) {
				n = pwrite(fd, b, rg[i].len, (off_t)rg[i].off);
			} else if (i % 3 == 1) {
				lseek(fd, (off_t)rg[i].off, SEEK_SET);
				n = write(fd, b, rg[i].len);
			} else {
				struct iovec v[2] = { { b, rg[i].len / 2 },
						      { b + rg[i].len / 2, rg[i].len - rg[i].len / 2 } };
				lseek(fd, (off_t)rg[i].off, SEEK_SET);
				n = writev(fd, v, 2);
			}
			if (n != (ssize_t)rg[i].len)
				_exit(4);
		}
		struct stat st;
		fstat(fd, &st);
		unsigned char rec[REC];
		for (size_t k = 0; k < REC; k++)
			rec[k] = val((uint64_t)st.st_size + k, r);
		if (pwrite(fd, rec, REC, st.st_size) != REC)
			_exit(5);
		char t = 'P';
		if (stop && r == 1) { /* the check of the check: dirty before fsync */
			if (write(tok, &t, 1) != 1 || read(go, &t, 1) != 1)
				_exit(6);
		}
		if ((r % 2 ? fsync(fd) : fdatasync(fd)) != 0)
			_exit(7);
		t = (char)r;
		if (write(tok, &t, 1) != 1)
			_exit(8);
		if (stop && read(go, &t, 1) != 1)
			_exit(9);
	}
	_exit(0);
}

/* Does pid have a shared writable mapping of a file named kill.dat? */
static bool maps_writable(pid_t pid)
{
	char p[64], line[4096];
	snprintf(p, sizeof p, "/proc/%d/maps", (int)pid);
	FILE *f = fopen(p, "r");
	bool yes = false;
	while (f && fgets(line, sizeof line, f))
		if (strstr(line, "rw-s") && strstr(line, "/kill.dat"))
			yes = true;
	if (f)
		fclose(f);
	return yes;
}

/* Pages of path that are dirty or under writeback; -1 if we cannot tell. */
static long dirty_pages(const char *path, long *pages)
{
	int fd = open(path, O_RDONLY);
	int pm = open("/proc/self/pagemap", O_RDONLY);
	int kf = open("/proc/kpageflags", O_RDONLY);
	struct stat st;
	long dirty = -1;
	if (fd < 0 || pm < 0 || kf < 0 || fstat(fd, &st))
		goto out;
	long pg = sysconf(_SC_PAGESIZE);
	size_t n = (size_t)((st.st_size + pg - 1) / pg);
	volatile unsigned char *m = mmap(NULL, n * (size_t)pg, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		goto out;
	dirty = 0;
	*pages = (long)n;
	for (size_t i = 0; i < n; i++) {
		(void)m[i * (size_t)pg]; /* map the page-cache page */
		uint64_t e, flags;
		uint64_t vpn = ((uintptr_t)m + i * (size_t)pg) / (uint64_t)pg;
		if (pread(pm, &e, 8, (off_t)(vpn * 8)) != 8 || !(e >> 63) ||
		    !(e & ((1ULL << 55) - 1))) {
			dirty = -1; /* no PFN: not root, or no page */
			break;
		}
		uint64_t pfn = e & ((1ULL << 55) - 1);
		if (pread(kf, &flags, 8, (off_t)(pfn * 8)) != 8) {
			dirty = -1;
			break;
		}
		if (flags & ((1ULL << 4) | (1ULL << 8))) /* KPF_DIRTY, KPF_WRITEBACK */
			dirty++;
	}
	munmap((void *)m, n * (size_t)pg);
out:
	if (fd >= 0)
		close(fd);
	if (pm >= 0)
		close(pm);
	if (kf >= 0)
		close(kf);
	return dirty;
}

static int run(const char *dir, uint64_t seed, bool stop)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/kill.dat", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, BASE) || fsync(fd) || close(fd)) {
		perror(path);
		return 2;
	}
	unsigned K = 1 + (unsigned)(seed % (ROUNDS - 2));
	int tok[2], go[2];
	if (pipe(tok) || pipe(go))
		return 2;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		close(tok[0]);
		close(go[1]);
		writer(path, seed, stop, tok[1], go[0]);
	}
	close(tok[1]);
	close(go[0]);
	int rc = 0;
	for (;;) {
		char t;
		if (read(tok[0], &t, 1) != 1) {
			printf("killwriter: the writer died before round %u\n", K);
			return 1;
		}
		if (t == 'P') {
			long pages = 0, d = dirty_pages(path, &pages);
			if (d < 0)
				printf("killwriter: page flags unreadable: dirty-page check skipped\n");
			else if (d == 0) {
				printf("killwriter: FAIL: no dirty page before fsync: the check cannot see dirt\n");
				rc = 1;
			} else
				printf("killwriter: before fsync %ld of %ld pages dirty (the check sees dirt)\n", d, pages);
			if (write(go[1], "g", 1) != 1)
				return 2;
			continue;
		}
		if ((unsigned char)t == K) {
			bool mapped = maps_writable(pid);
			if (stop) {
				long pages = 0, d = dirty_pages(path, &pages);
				if (d > 0) {
					printf("killwriter: FAIL: %ld of %ld pages still dirty after fsync returned\n", d, pages);
					rc = 1;
				} else if (d == 0) {
					printf("killwriter: after fsync of round %u: 0 of %ld pages dirty\n", K, pages);
				}
			}
			kill(pid, SIGKILL);
			printf("killwriter: writer maps kill.dat shared-writable: %s\n", mapped ? "yes" : "no");
			break;
		}
		if (stop && write(go[1], "g", 1) != 1)
			return 2;
	}
	int st;
	waitpid(pid, &st, 0);
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL) {
		printf("killwriter: writer ended with status 0x%x, not by our SIGKILL\n", st);
		return 1;
	}
	char rp[4200];
	snprintf(rp, sizeof rp, "%s/kill.round", dir);
	FILE *f = fopen(rp, "w");
	if (!f || fprintf(f, "%u\n", K) < 0 || fclose(f))
		return 2;
	printf("killwriter: writer SIGKILLed right after fsync of round %u (%s)\n", K,
	       stop ? "while waiting" : "while writing the next round");
	return rc;
}

static int verify(const char *dir, uint64_t seed, bool stop)
{
	char path[4096], rp[4200];
	snprintf(path, sizeof path, "%s/kill.dat", dir);
	snprintf(rp, sizeof rp, "%s/kill.round", dir);
	FILE *f = fopen(rp, "r");
	unsigned K;
	if (!f || fscanf(f, "%u", &K) != 1) {
		printf("verify: no round recorded\n");
		return 1;
	}
	fclose(f);
	size_t cap = BASE + (ROUNDS + 1) * REC;
	unsigned char *a = calloc(1, cap), *b = calloc(1, cap), *got = calloc(1, cap);
	uint64_t sa = BASE, sb;
	for (unsigned r = 1; r <= K; r++)
		apply(a, &sa, seed, r);
	memcpy(b, a, cap);
	sb = sa;
	apply(b, &sb, seed, K + 1);
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : pread(fd, got, cap, 0);
	if (n < (ssize_t)sa || n > (ssize_t)sb) {
		printf("verify: file has %zd bytes, expected %llu..%llu\n", n, (unsigned long long)sa,
		       (unsigned long long)sb);
		return 1;
	}
	long from_next = 0;
	for (ssize_t i = 0; i < n; i++) {
		if (got[i] == a[i])
			continue;
		if (got[i] == b[i]) {
			from_next++;
			continue;
		}
		printf("verify: byte %zd is 0x%02x: round %u wrote 0x%02x (fsynced), round %u 0x%02x\n",
		       i, got[i], K, a[i], K + 1, b[i]);
		return 1;
	}
	if (stop && (from_next || n != (ssize_t)sa)) {
		printf("verify: the writer was stopped after round %u, yet the file has %zd bytes "
		       "(expected %llu) and %ld bytes of round %u\n", K, n, (unsigned long long)sa,
		       from_next, K + 1);
		return 1;
	}
	printf("verify: all data fsynced by round %u intact (%zd bytes; %ld bytes from the "
	       "interrupted round %u)\n", K, n, from_next, K + 1);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 5 && !strcmp(argv[1], "run"))
		return run(argv[2], parse_u64(argv[3]), !strcmp(argv[4], "stop"));
	if (argc == 5 && !strcmp(argv[1], "verify"))
		return verify(argv[2], parse_u64(argv[3]), !strcmp(argv[4], "stop"));
	fprintf(stderr, "usage: killwriter run|verify DIR SEED stop|cont\n");
	return 2;
}
