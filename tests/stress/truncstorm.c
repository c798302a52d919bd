/*
 * truncstorm.c - a file truncated by another process under readers and
 * writers.
 *
 *   truncstorm DIR OPS [-X] [-F]
 *
 * Processes, all started from this one (so all under the shim when it is
 * preloaded):
 *   - a truncator: shrinks the file hard and often, grows it, punches holes,
 *     truncates by path, and writes pat(offset) ranges (stress.h);
 *   - 2 reader processes x 2 threads, each thread with its own descriptor
 *     (so all of them share the shim's one mapping of the file): read,
 *     pread, preadv of up to 1 MiB at random offsets;
 *   - 1 writer process: pwrite and write of pat() ranges (in place or
 *     extending), each followed by a pread of the same range.
 * Every read must return a count within the request, and every byte must be
 * 0 or pat(offset): the only values anybody ever stores. read() must move
 * the offset by exactly its count. No error is expected. Every worker must
 * exit 0: a SIGBUS or SIGSEGV shows as a signal in the summary. Each reader
 * and writer thread runs OPS operations; the truncator runs until they end.
 *
 * -F: the truncator runs without the shim (it re-executes itself with
 * LD_PRELOAD removed). Under the shim, size changes are announced to the
 * other shim instances through a shared generation table (coherence.c), so
 * readers mostly refresh before touching a vanished page; a foreign
 * truncator announces nothing and the readers' copies really fault (SIGBUS)
 * and must recover.
 *
 * -X (self-test): the truncator stores bytes that are not the pattern over
 * the first MiB before the workers start and in one write out of ten; the
 * readers must notice and the run must fail.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include "stress.h"

#define MAXSZ (4u << 20)
#define MAXIO (1u << 20)

static const char *path = "storm.dat";
static long nops;
static bool selftest;

static void bad(const char *who, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bad(const char *who, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fprintf(stderr, "truncstorm: %s: %s\n", who, msg);
	exit(1);
}

static void check(const char *who, const unsigned char *b, uint64_t off, ssize_t n, size_t len)
{
	if (n < 0)
		bad(who, "error %s at offset %llu", errname(errno), (unsigned long long)off);
	if ((size_t)n > len)
		bad(who, "returned %zd for a %zu-byte request", n, len);
	long k = pat_check(b, off, (size_t)n);
	if (k >= 0)
		bad(who, "byte at offset %llu is 0x%02x: neither 0 nor the pattern 0x%02x",
		    (unsigned long long)(off + (uint64_t)k), b[k], pat(off + (uint64_t)k));
}

static volatile sig_atomic_t stop;
static void on_term(int sig) { (void)sig; stop = 1; }

/* ready: a pipe to write one byte to once running (the workers start then). */
static void truncator(uint64_t s, int ready)
{
	signal(SIGTERM, on_term);
	int fd = open(path, O_RDWR);
	unsigned char *b = malloc(MAXIO);
	if (fd < 0 || !b)
		bad("truncator", "open: %s", errname(errno));
	if (selftest) { /* start with a wrong first MiB, so the readers cannot miss it */
		pat_fill(b, 0, MAXIO);
		for (size_t k = 0; k < MAXIO; k++)
			b[k] ^= 0x80;
		if (pwrite(fd, b, MAXIO, 0) != MAXIO)
			bad("truncator", "pwrite: %s", errname(errno));
	}
	if (write(ready, "r", 1) != 1)
		bad("truncator", "ready pipe: %s", errname(errno));
	close(ready);
	while (!stop) {
		uint64_t r = rnd(&s, 100);
		struct stat st;
		fstat(fd, &st);
		if (r < 30) { /* hard shrink */
			if (ftruncate(fd, (off_t)rnd(&s, (uint64_t)st.st_size / 4 + 1)))
				bad("truncator", "ftruncate: %s", errname(errno));
		} else if (r < 45) {
			if (ftruncate(fd, (off_t)rnd(&s, MAXSZ + 1)))
				bad("truncator", "ftruncate: %s", errname(errno));
		} else if (r < 85) {
			uint64_t off = rnd(&s, MAXSZ);
			size_t len = 1 + rnd(&s, MAXIO);
			if (len > MAXSZ - off)
				len = MAXSZ - off;
			pat_fill(b, off, len);
			if (selftest && rnd(&s, 10) == 0)
				for (size_t k = 0; k < len; k++)
					b[k] ^= 0x80; /* still odd: never 0, never the pattern */
			if (pwrite(fd, b, len, (off_t)off) != (ssize_t)len)
				bad("truncator", "pwrite: %s", errname(errno));
		} else if (r < 95) {
			fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				  (off_t)rnd(&s, MAXSZ), (off_t)(1 + rnd(&s, MAXIO)));
		} else {
			if (truncate(path, (off_t)rnd(&s, 65536)))
				bad("truncator", "truncate: %s", errname(errno));
		}
	}
	exit(0); /* exit, not _exit: the shim writes its stats at exit */
}

struct rarg {
	uint64_t seed;
	char who[32];
	long served;
};

static void *reader(void *arg)
{
	struct rarg *a = arg;
	uint64_t s = a->seed;
	int fd = open(path, rnd(&s, 2) ? O_RDONLY : O_RDWR);
	unsigned char *b = malloc(MAXIO);
	if (fd < 0 || !b)
		bad(a->who, "open: %s", errname(errno));
	for (long i = 0; i < nops; i++) {
		uint64_t r = rnd(&s, 100);
		size_t len = 1 + rnd(&s, rnd(&s, 4) ? 65536 : MAXIO);
		if (r < 40) {
			off_t before = lseek(fd, 0, SEEK_CUR);
			ssize_t n = read(fd, b, len);
			check(a->who, b, (uint64_t)before, n, len);
			off_t after = lseek(fd, 0, SEEK_CUR);
			if (after != before + n)
				bad(a->who, "read of %zd bytes moved the offset from %lld to %lld", n,
				    (long long)before, (long long)after);
			if (n < (ssize_t)len || rnd(&s, 3) == 0)
				lseek(fd, (off_t)rnd(&s, MAXSZ), SEEK_SET);
		} else if (r < 80) {
			uint64_t off = rnd(&s, MAXSZ);
			ssize_t n = pread(fd, b, len, (off_t)off);
			check(a->who, b, off, n, len);
		} else if (r < 95) {
			uint64_t off = rnd(&s, MAXSZ);
			size_t half = len / 2;
			struct iovec v[2] = { { b, half }, { b + half, len - half } };
			ssize_t n = preadv(fd, v, 2, (off_t)off);
			check(a->who, b, off, n, len);
		} else {
			struct stat st;
			off_t end = lseek(fd, 0, SEEK_END);
			if (end < 0 || (uint64_t)end > MAXSZ || fstat(fd, &st) || (uint64_t)st.st_size > MAXSZ)
				bad(a->who, "end %lld size %lld", (long long)end, (long long)st.st_size);
		}
	}
	close(fd);
	return NULL;
}

static void writer(uint64_t s)
{
	int fd = open(path, O_RDWR);
	unsigned char *b = malloc(MAXIO), *c = malloc(MAXIO);
	if (fd < 0 || !b || !c)
		bad("writer", "open: %s", errname(errno));
	for (long i = 0; i < nops; i++) {
		uint64_t off = rnd(&s, MAXSZ);
		size_t len = 1 + rnd(&s, 65536);
		if (len > MAXSZ - off)
			len = MAXSZ - off;
		pat_fill(b, off, len);
		ssize_t n;
		if (rnd(&s, 2)) {
			n = pwrite(fd, b, len, (off_t)off);
		} else {
			if (lseek(fd, (off_t)off, SEEK_SET) != (off_t)off)
				bad("writer", "lseek: %s", errname(errno));
			n = write(fd, b, len);
			if (n == (ssize_t)len && lseek(fd, 0, SEEK_CUR) != (off_t)(off + len))
				bad("writer", "write left the offset at %lld, expected %llu",
				    (long long)lseek(fd, 0, SEEK_CUR), (unsigned long long)(off + len));
		}
		if (n != (ssize_t)len)
			bad("writer", "write of %zu bytes at %llu returned %zd (%s)", len,
			    (unsigned long long)off, n, n < 0 ? errname(errno) : "short");
		ssize_t m = pread(fd, c, len, (off_t)off);
		check("writer (read back)", c, off, m, len);
	}
	exit(0);
}

static void reader_proc(uint64_t s, int id)
{
	pthread_t t[2];
	struct rarg a[2];
	for (int k = 0; k < 2; k++) {
		a[k].seed = s + (uint64_t)k * 7919;
		snprintf(a[k].who, sizeof a[k].who, "reader %d.%d", id, k);
		pthread_create(&t[k], NULL, reader, &a[k]);
	}
	for (int k = 0; k < 2; k++)
		pthread_join(t[k], NULL);
	exit(0);
}

int main(int argc, char **argv)
{
	if (argc >= 4 && !strcmp(argv[1], "--truncator")) {
		selftest = !strcmp(argv[3], "-X");
		truncator(11, atoi(argv[2]));
	}
	if (argc < 3) {
		fprintf(stderr, "usage: truncstorm DIR OPS [-X] [-F]\n");
		return 2;
	}
	nops = atol(argv[2]);
	bool foreign = false;
	for (int k = 3; k < argc; k++) {
		selftest |= !strcmp(argv[k], "-X");
		foreign |= !strcmp(argv[k], "-F");
	}
	mkdir(argv[1], 0755);
	if (chdir(argv[1])) {
		perror(argv[1]);
		return 2;
	}
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	unsigned char *b = malloc(MAXSZ);
	pat_fill(b, 0, MAXSZ);
	if (fd < 0 || write(fd, b, MAXSZ) != MAXSZ || close(fd)) {
		perror(path);
		return 2;
	}
	fflush(stdout);
	int ready[2];
	if (pipe(ready)) {
		perror("pipe");
		return 2;
	}
	pid_t tr = fork();
	if (tr == 0) {
		close(ready[0]);
		if (foreign) {
			char fdarg[16];
			snprintf(fdarg, sizeof fdarg, "%d", ready[1]);
			unsetenv("LD_PRELOAD");
			execl("/proc/self/exe", "truncstorm", "--truncator", fdarg, selftest ? "-X" : "-",
			      (char *)NULL);
			bad("truncator", "exec: %s", errname(errno));
		}
		truncator(11, ready[1]);
	}
	close(ready[1]);
	char t;
	if (read(ready[0], &t, 1) != 1) {
		printf("truncstorm: the truncator did not start\n");
		return 1;
	}
	close(ready[0]);
	pid_t w[3];
	for (int k = 0; k < 3; k++) {
		w[k] = fork();
		if (w[k] == 0) {
			if (k == 2)
				writer(99);
			reader_proc(1000 + (uint64_t)k * 104729, k);
		}
	}
	int failed = 0;
	for (int k = 0; k < 3; k++) {
		int st;
		waitpid(w[k], &st, 0);
		const char *who = k == 2 ? "writer" : "reader process";
		if (WIFSIGNALED(st)) {
			printf("truncstorm: %s killed by signal %d (%s)\n", who, WTERMSIG(st),
			       strsignal(WTERMSIG(st)));
			failed = 1;
		} else if (WEXITSTATUS(st)) {
			printf("truncstorm: %s failed (exit %d)\n", who, WEXITSTATUS(st));
			failed = 1;
		}
	}
	kill(tr, SIGTERM);
	int st;
	waitpid(tr, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		printf("truncstorm: truncator ended early (status 0x%x)\n", st);
		failed = 1;
	}
	if (!failed)
		printf("truncstorm: 4 reader threads and 1 writer x %ld operations each under a "
		       "truncating process%s: every result plausible, no signal\n", nops,
		       foreign ? " without the shim" : "");
	return failed;
}
