/*
 * bench_shim.c - benchmark of the LD_PRELOAD shim (build/libmmapio_preload.so).
 *
 * One binary, two roles. Run without --child it is the driver: it creates
 * the hot test files, then re-executes itself (/proc/self/exe) once per
 * row, arm and round with the workload on the command line and the arm in
 * the environment, reads the child's own measurement from a pipe, and
 * prints the tables. The shim is only ever loaded into children.
 *
 * Arms (environment of the child):
 *   baseline  no LD_PRELOAD: the program as it is
 *   never     LD_PRELOAD=shim, MMAPIO_MODE=never
 *   always    LD_PRELOAD=shim, MMAPIO_MODE=always   ("shim" in table 1)
 *   auto      LD_PRELOAD=shim, MMAPIO_MODE=auto
 *   limit     no LD_PRELOAD; the workload copies from its own mmap of the
 *             file with memcpy: what serving from a map can cost at best
 * The shim is found at ../libmmapio_preload.so next to the binary (i.e.
 * build/libmmapio_preload.so), or at $MMAPIO_PRELOAD. Other MMAPIO_*
 * variables in the driver's environment are passed on to the shim arms (to
 * try a tuning); MMAPIO_MODE and MMAPIO_STATS are set per arm.
 *
 * Table 1 - the shim against the kernel and against a raw map, for a program
 * doing pread() on a hot 256 MiB file:
 *   random preads of 64 B, 512 B, 4 KiB, 64 KiB (offsets aligned to the
 *   size), read() 4 KiB sequential (lseek to 0 at EOF), random 4 KiB preads
 *   from two threads (aggregate ns/op), and the cost the shim adds to a
 *   descriptor it does not track (pread of 1 byte from /dev/zero).
 *   speedup = baseline / shim, overhead = shim / limit.
 * Table 2 - MMAPIO_MODE never / always / auto side by side (and baseline):
 *   (a) 2000 small files of 4-16 KiB opened, read with read() in 64 KiB
 *       buffers and closed, by 1 and by 2 threads (per file);
 *   (b) the 256 MiB file read sequentially with 1 MiB read()s (per pass),
 *       opened and closed for every pass as a program reading it would,
 *       and again on one descriptor kept open (lseek to 0 between passes:
 *       the shim's map stays populated);
 *   (c) random 4 KiB preads on the 256 MiB file.
 *   Target: auto within 3% of the better of always and never.
 * Table 3 - starting a process: /bin/true spawned and waited for, without
 *   the shim, with a preloaded library that does nothing (the limit: what
 *   any LD_PRELOAD library costs; empty_preload.so next to this program),
 *   and under the shim (never, auto), interleaved; what loading the shim
 *   adds to every program start, whatever it then serves. The binaries
 *   are cached: hot only (a cold start is the disk's, not the shim's).
 *
 * Method. Each child opens the file(s), makes one warm-up pass over the
 * whole file for the pread/read rows (16 KiB sequential reads by the arm's
 * own method: under the shim they populate its map; in auto mode they are
 * small reads, so the file gets promoted), runs the loop untimed for a
 * short while, then runs it for a time budget cut into slices (5, or 3
 * with --quick), each timed with CLOCK_MONOTONIC around the loop only
 * (the clock is read once per 256 ops, or per file / pass). The child
 * reports its fastest slice: on a shared machine the slices that another
 * process preempted are the slow ones (--mean: the whole budget instead).
 * Every round runs every arm of every row once, the arm order rotating
 * from round to round; the result is the median over rounds. All arms of
 * a row draw the same offsets. Random reads are independent by default (a
 * throughput figure, in which every instruction added per call lowers the
 * number of cache/TLB misses the CPU overlaps); --dependent makes each
 * offset depend on the previous read's data (per-call latency).
 *
 * Served check. Before the timed rounds every shim arm of every row runs
 * once more, briefly, with MMAPIO_STATS set; the driver reads served_calls
 * and passthrough_calls from the report. The timed runs go without
 * MMAPIO_STATS, because with it the shim counts every call with four
 * atomic additions (shared cache lines across threads), which is part of
 * the stats feature, not of serving (--stats-in-timed to include it).
 *
 * Build: make   (or gcc -std=gnu11 -O2 -Wall -Wextra bench/bench_shim.c \
 *                   -pthread -o build/bench/bench_shim)
 * Run:   build/bench/bench_shim [--quick] [--rows SUBSTR[,SUBSTR]] [--json PATH]
 *                               [--rounds N] [--ms MS] [--dependent] [--mean]
 *                               [--stats-in-timed] [--check] [--list]
 * Exit status: 0; 1 on a setup error or a failed child (crash, timeout);
 * 2 with --check when a target is missed or a served check fails.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

/* Keep the compiler from dropping or merging copies into p. */
#define CLOBBER(p) __asm__ __volatile__("" : : "r"(p) : "memory")

#define BIG_SIZE (256ull << 20)
#define NSMALL 2000
#define SMALL_MIN 4096
#define SMALL_MAX 16384
#define WARM_CHUNK (16u << 10)	/* < MMAPIO_SMALL_READ: auto may promote during warm-up */
#define BUF_SIZE (2u << 20)
#define BATCH 256		/* ops between two clock reads */
#define MAXSLICES 16
#define SEED 0x5eed5eedull
#define CHILD_TIMEOUT_MS 120000
#define OVERHEAD_TARGET 1.15
#define ADDED_NS_TARGET 3.0
#define AUTO_TARGET 1.03

/* ---- arms and rows ----------------------------------------------------- */

enum arm { A_BASE, A_NEVER, A_ALWAYS, A_AUTO, A_LIMIT, NARMS };
static const char *const arm_key[NARMS] = { "baseline", "never", "always", "auto", "limit" };
static const char *const arm_mode[NARMS] = { NULL, "never", "always", "auto", NULL };
#define B(a) (1u << (a))

enum wl { WL_PREAD, WL_READSEQ, WL_DEVZERO, WL_SMALL, WL_BIGSEQ, WL_BIGOPEN, WL_PCANCEL, NWL };
static const char *const wl_name[NWL] = { "pread", "readseq", "devzero", "smallfiles",
					  "bigseq", "bigopen", "pcancel" };

struct row {
	int table; /* 1: shim against kernel and raw map, 2: MMAPIO_MODE side by side */
	const char *key, *name;
	int wl;
	size_t len;
	int threads;
	unsigned arms;	    /* B(arm) set */
	double speedup_min; /* table 1: baseline/shim target, 0 none */
	int overhead;	    /* table 1: shim/limit <= OVERHEAD_TARGET */
	unsigned serve;	    /* arms that must serve (served_calls > 0) */
	unsigned noserve;   /* arms that must not */
	const char *unit;
	double div; /* ns -> unit */
};

#define T1_ARMS (B(A_BASE) | B(A_ALWAYS) | B(A_LIMIT))
#define T2_ARMS (B(A_BASE) | B(A_NEVER) | B(A_ALWAYS) | B(A_AUTO))
static const struct row rows[] = {
	{ 1, "shim.pread_64", "pread 64 B random", WL_PREAD, 64, 1, T1_ARMS, 15, 1, B(A_ALWAYS), 0,
	  "ns/op", 1 },
	{ 1, "shim.pread_512", "pread 512 B random", WL_PREAD, 512, 1, T1_ARMS, 0, 1, B(A_ALWAYS),
	  0, "ns/op", 1 },
	{ 1, "shim.pread_4k", "pread 4 KiB random", WL_PREAD, 4096, 1, T1_ARMS, 1.8, 1, B(A_ALWAYS),
	  0, "ns/op", 1 },
	{ 1, "shim.pread_64k", "pread 64 KiB random", WL_PREAD, 65536, 1, T1_ARMS, 0, 1,
	  B(A_ALWAYS), 0, "ns/op", 1 },
	{ 1, "shim.read_seq_4k", "read 4 KiB sequential", WL_READSEQ, 4096, 1, T1_ARMS, 0, 1,
	  B(A_ALWAYS), 0, "ns/op", 1 },
	{ 1, "shim.pread_4k_2t", "pread 4 KiB random, 2 threads", WL_PREAD, 4096, 2, T1_ARMS, 0, 1,
	  B(A_ALWAYS), 0, "ns/op", 1 },
	/* After one pthread_cancel, every served call checks for a pending
	 * cancellation (pthread_testcancel): its price next to shim.pread_64. */
	{ 1, "shim.pread_64_cancel", "pread 64 B random, after a pthread_cancel", WL_PCANCEL, 64, 1,
	  T1_ARMS, 0, 1, B(A_ALWAYS), 0, "ns/op", 1 },
	{ 1, "shim.devzero", "pread 1 B /dev/zero (untracked fd)", WL_DEVZERO, 1, 1,
	  B(A_BASE) | B(A_ALWAYS), 0, 0, 0, B(A_ALWAYS), "ns/op", 1 },
	{ 2, "mode.small_1t", "(a) 2000 small files, 1 thread", WL_SMALL, 65536, 1, T2_ARMS, 0, 0,
	  B(A_ALWAYS), B(A_NEVER), "us/file", 1e3 },
	{ 2, "mode.small_2t", "(a) 2000 small files, 2 threads", WL_SMALL, 65536, 2, T2_ARMS, 0, 0,
	  B(A_ALWAYS), B(A_NEVER), "us/file", 1e3 },
	{ 2, "mode.seq_1m", "(b) 256 MiB open+read() 1 MiB+close", WL_BIGOPEN, 1u << 20, 1, T2_ARMS,
	  0, 0, B(A_ALWAYS), B(A_NEVER), "ms/pass", 1e6 },
	{ 2, "mode.seq_1m_fd", "(b) same, fd kept open, lseek 0", WL_BIGSEQ, 1u << 20, 1, T2_ARMS,
	  0, 0, B(A_ALWAYS), B(A_NEVER), "ms/pass", 1e6 },
	{ 2, "mode.pread_4k", "(c) 256 MiB pread 4 KiB random", WL_PREAD, 4096, 1, T2_ARMS, 0, 0,
	  B(A_ALWAYS) | B(A_AUTO), B(A_NEVER), "ns/op", 1 },
};
#define NROWS (sizeof(rows) / sizeof(rows[0]))

/* ---- small helpers ------------------------------------------------------ */

static void fmt_num(char *out, size_t cap, double v)
{
	if (isnan(v))
		snprintf(out, cap, "-");
	else if (v < 10)
		snprintf(out, cap, "%.2f", v);
	else if (v < 10000)
		snprintf(out, cap, "%.1f", v);
	else
		snprintf(out, cap, "%.0f", v);
}

/* ======================================================================== */
/* child: one workload, one arm; prints "best_ns mean_ns ops wall_ns bad sink" */
/* ======================================================================== */

struct cx {
	int wl, mapped; /* mapped: the limit arm, memcpy from our own mmap */
	int dep;	/* pread: each offset depends on the previous op's data */
	const char *path;
	size_t len;
	int threads;
	uint64_t budget; /* ns of timed loop, all slices */
	int slices;
	int fd;
	uint64_t size;
	const unsigned char *base;
	char **paths;
	int npaths;
	pthread_barrier_t bar;
};

struct worker {
	struct cx *c;
	int id;
	struct bench_rng rng;
	unsigned char *buf;
	uint64_t cur; /* readseq cursor of the limit arm */
	uint64_t t0, t1, ops, bad, sink;
	uint64_t s_t0[MAXSLICES], s_t1[MAXSLICES], s_ops[MAXSLICES];
};

/* 0, but the compiler cannot know it: makes an offset depend on data. */
static volatile uint64_t g_zero;

/*
 * Random preads (or memcpys) of c->len at aligned offsets, for budget ns.
 * Independent ops by default (throughput: the CPU overlaps several misses);
 * with c->dep each offset waits for the previous op's data (latency).
 */
static void loop_pread(struct worker *w, uint64_t budget)
{
	const struct cx *c = w->c;
	const size_t len = c->len;
	const uint64_t slots = c->size / len;
	const uint64_t z = c->dep ? g_zero : 0;
	unsigned char *buf = w->buf;
	uint64_t ops = 0, bad = 0, t0 = bench_now_ns(), t;

	if (c->dep && c->mapped) {
		do {
			for (int i = 0; i < BATCH; i++) {
				uint64_t off = (bench_rng_below(&w->rng, slots) + (buf[0] & z)) * len;
				memcpy(buf, c->base + off, len);
				CLOBBER(buf);
			}
			ops += BATCH;
			t = bench_now_ns();
		} while (t - t0 < budget);
	} else if (c->dep) {
		do {
			for (int i = 0; i < BATCH; i++) {
				uint64_t off = (bench_rng_below(&w->rng, slots) + (buf[0] & z)) * len;
				ssize_t n = pread(c->fd, buf, len, (off_t)off);
				bad += n != (ssize_t)len;
				CLOBBER(buf);
			}
			ops += BATCH;
			t = bench_now_ns();
		} while (t - t0 < budget);
	} else if (c->mapped) {
		do {
			for (int i = 0; i < BATCH; i++) {
				uint64_t off = bench_rng_below(&w->rng, slots) * len;
				memcpy(buf, c->base + off, len);
				CLOBBER(buf);
			}
			ops += BATCH;
			t = bench_now_ns();
		} while (t - t0 < budget);
	} else {
		do {
			for (int i = 0; i < BATCH; i++) {
				uint64_t off = bench_rng_below(&w->rng, slots) * len;
				ssize_t n = pread(c->fd, buf, len, (off_t)off);
				bad += n != (ssize_t)len;
				CLOBBER(buf);
			}
			ops += BATCH;
			t = bench_now_ns();
		} while (t - t0 < budget);
	}
	w->t0 = t0, w->t1 = t, w->ops = ops, w->bad += bad;
}

/* read() of c->len in sequence; at EOF (a read returning 0) lseek to 0. */
static void loop_readseq(struct worker *w, uint64_t budget)
{
	const struct cx *c = w->c;
	const size_t len = c->len;
	unsigned char *buf = w->buf;
	uint64_t ops = 0, bad = 0, t0 = bench_now_ns(), t;

	if (c->mapped) {
		uint64_t cur = w->cur;
		do {
			for (int i = 0; i < BATCH; i++) {
				if (cur + len > c->size) {
					cur = 0;
					continue;
				}
				memcpy(buf, c->base + cur, len);
				CLOBBER(buf);
				cur += len;
			}
			ops += BATCH;
			t = bench_now_ns();
		} while (t - t0 < budget);
		w->cur = cur;
	} else {
		do {
			for (int i = 0; i < BATCH; i++) {
				ssize_t n = read(c->fd, buf, len);
				CLOBBER(buf);
				if (n == (ssize_t)len)
					continue;
				if (n != 0)
					bad++;
				if (lseek(c->fd, 0, SEEK_SET) != 0)
					bad++;
			}
			ops += BATCH;
			t = bench_now_ns();
		} while (t - t0 < budget);
	}
	w->t0 = t0, w->t1 = t, w->ops = ops, w->bad += bad;
}

static void loop_devzero(struct worker *w, uint64_t budget)
{
	const struct cx *c = w->c;
	unsigned char *buf = w->buf;
	uint64_t ops = 0, bad = 0, t0 = bench_now_ns(), t;

	do {
		for (int i = 0; i < BATCH; i++) {
			bad += pread(c->fd, buf, 1, 0) != 1;
			CLOBBER(buf);
		}
		ops += BATCH;
		t = bench_now_ns();
	} while (t - t0 < budget);
	w->t0 = t0, w->t1 = t, w->ops = ops, w->bad += bad;
}

/* Passes over this worker's share of the small files: open, read() to EOF, close. */
static void loop_small(struct worker *w, uint64_t budget)
{
	const struct cx *c = w->c;
	unsigned char *buf = w->buf;
	uint64_t ops = 0, bad = 0, sink = 0, t0 = bench_now_ns(), t;

	do {
		for (int i = w->id; i < c->npaths; i += c->threads) {
			int fd = open(c->paths[i], O_RDONLY | O_CLOEXEC);
			ssize_t n;
			if (fd < 0) {
				bad++;
				continue;
			}
			while ((n = read(fd, buf, c->len)) > 0)
				sink += buf[n - 1];
			bad += n < 0;
			close(fd);
			ops++;
		}
		t = bench_now_ns();
	} while (t - t0 < budget);
	w->t0 = t0, w->t1 = t, w->ops = ops, w->bad += bad, w->sink += sink;
}

/* Whole-file passes: lseek to 0, read() c->len at a time to EOF. */
static void loop_bigseq(struct worker *w, uint64_t budget)
{
	const struct cx *c = w->c;
	unsigned char *buf = w->buf;
	uint64_t ops = 0, bad = 0, sink = 0, t0 = bench_now_ns(), t;

	do {
		uint64_t total = 0;
		ssize_t n;
		if (lseek(c->fd, 0, SEEK_SET) != 0)
			bad++;
		while ((n = read(c->fd, buf, c->len)) > 0) {
			total += (uint64_t)n;
			sink += buf[n - 1];
		}
		bad += n < 0 || total != c->size;
		ops++;
		t = bench_now_ns();
	} while (t - t0 < budget);
	w->t0 = t0, w->t1 = t, w->ops = ops, w->bad += bad, w->sink += sink;
}

/* Whole-file passes as a program does them: open, read() c->len at a time, close. */
static void loop_bigopen(struct worker *w, uint64_t budget)
{
	const struct cx *c = w->c;
	unsigned char *buf = w->buf;
	uint64_t ops = 0, bad = 0, sink = 0, t0 = bench_now_ns(), t;

	do {
		uint64_t total = 0;
		ssize_t n;
		int fd = open(c->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			bad++;
		} else {
			while ((n = read(fd, buf, c->len)) > 0) {
				total += (uint64_t)n;
				sink += buf[n - 1];
			}
			bad += n < 0 || total != c->size;
			close(fd);
		}
		ops++;
		t = bench_now_ns();
	} while (t - t0 < budget);
	w->t0 = t0, w->t1 = t, w->ops = ops, w->bad += bad, w->sink += sink;
}

static void run_loop(struct worker *w, uint64_t budget)
{
	switch (w->c->wl) {
	case WL_PREAD:
	case WL_PCANCEL: loop_pread(w, budget); break;
	case WL_READSEQ: loop_readseq(w, budget); break;
	case WL_DEVZERO: loop_devzero(w, budget); break;
	case WL_SMALL: loop_small(w, budget); break;
	case WL_BIGSEQ: loop_bigseq(w, budget); break;
	case WL_BIGOPEN: loop_bigopen(w, budget); break;
	}
}

/* Warm-up: a short untimed run of the loop, then the timed one. */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t warm = w->c->budget / 8;

	if (warm < 1000000)
		warm = 1000000;
	run_loop(w, warm);
	for (int k = 0; k < w->c->slices; k++) {
		if (w->c->threads > 1)
			pthread_barrier_wait(&w->c->bar);
		run_loop(w, w->c->budget / (uint64_t)w->c->slices);
		w->s_t0[k] = w->t0, w->s_t1[k] = w->t1, w->s_ops[k] = w->ops;
	}
	return NULL;
}

/* One pass over the whole file, WARM_CHUNK at a time, by the arm's method. */
static int warm_file(struct cx *c, unsigned char *buf)
{
	uint64_t sink = 0;
	for (uint64_t off = 0; off < c->size; off += WARM_CHUNK) {
		size_t want = c->size - off < WARM_CHUNK ? (size_t)(c->size - off) : WARM_CHUNK;
		if (c->mapped) {
			memcpy(buf, c->base + off, want);
		} else if (pread(c->fd, buf, want, (off_t)off) != (ssize_t)want) {
			fprintf(stderr, "bench_shim child: warm-up pread at %llu: %s\n",
				(unsigned long long)off, strerror(errno));
			return -1;
		}
		CLOBBER(buf);
		sink += buf[want - 1];
	}
	return sink ? 0 : -1; /* the data is non-zero */
}

static void *wait_forever(void *arg)
{
	(void)arg;
	for (;;)
		pause(); /* a cancellation point */
	return NULL;
}

/* A program that has cancelled a thread once: what cancellation points cost after. */
static int cancel_once(void)
{
	pthread_t t;
	if (pthread_create(&t, NULL, wait_forever, NULL) != 0 || pthread_cancel(t) != 0)
		return -1;
	return pthread_join(t, NULL);
}

/* argv: exe --child WORKLOAD sys|mmap|sysdep|mmapdep PATH LEN THREADS BUDGET_NS NFILES SLICES */
static int child_main(int argc, char **argv)
{
	struct cx c = { .fd = -1 };
	struct worker w[2];
	pthread_t tid[2];
	int wl = -1;

	if (argc != 10) {
		fprintf(stderr, "bench_shim child: bad arguments\n");
		return 2;
	}
	for (int i = 0; i < NWL; i++)
		if (!strcmp(argv[2], wl_name[i]))
			wl = i;
	c.wl = wl;
	c.mapped = !strncmp(argv[3], "mmap", 4);
	c.dep = strstr(argv[3], "dep") != NULL;
	const char *path = argv[4];
	c.path = path;
	c.len = strtoul(argv[5], NULL, 10);
	c.threads = atoi(argv[6]);
	c.budget = strtoull(argv[7], NULL, 10);
	c.npaths = atoi(argv[8]);
	c.slices = atoi(argv[9]);
	if (wl < 0 || !c.len || c.len > BUF_SIZE || c.threads < 1 || c.threads > 2 ||
	    c.slices < 1 || c.slices > MAXSLICES) {
		fprintf(stderr, "bench_shim child: bad arguments\n");
		return 2;
	}

	if (wl == WL_SMALL) {
		c.paths = calloc((size_t)c.npaths, sizeof(*c.paths));
		for (int i = 0; c.paths && i < c.npaths; i++)
			if (asprintf(&c.paths[i], "%s/f%05d", path, i) < 0)
				return 2;
		if (!c.paths)
			return 2;
	} else if (wl == WL_BIGOPEN) {
		/* no descriptor kept open: each pass opens the file anew, so the
		 * shim sees the file come and go as with a program run per file */
		struct stat st;
		if (stat(path, &st) != 0) {
			fprintf(stderr, "bench_shim child: %s: %s\n", path, strerror(errno));
			return 2;
		}
		c.size = (uint64_t)st.st_size;
	} else {
		struct stat st;
		c.fd = open(path, O_RDONLY | O_CLOEXEC);
		if (c.fd < 0 || fstat(c.fd, &st) != 0) {
			fprintf(stderr, "bench_shim child: %s: %s\n", path, strerror(errno));
			return 2;
		}
		c.size = (uint64_t)st.st_size;
		if (c.mapped) {
			void *p = mmap(NULL, c.size, PROT_READ, MAP_SHARED, c.fd, 0);
			if (p == MAP_FAILED) {
				fprintf(stderr, "bench_shim child: mmap: %s\n", strerror(errno));
				return 2;
			}
			c.base = p;
		}
		if (wl != WL_DEVZERO && c.size < c.len) {
			fprintf(stderr, "bench_shim child: file too small\n");
			return 2;
		}
	}

	for (int i = 0; i < c.threads; i++) {
		void *buf = NULL;
		if (posix_memalign(&buf, 4096, BUF_SIZE) != 0)
			return 2;
		memset(buf, 0, BUF_SIZE);
		w[i] = (struct worker){ .c = &c, .id = i, .buf = buf };
		/* The same seeds in every arm: the arms draw the same offsets. */
		bench_rng_seed(&w[i].rng, SEED + (uint64_t)i * 7919);
	}
	if ((wl == WL_PREAD || wl == WL_PCANCEL || wl == WL_READSEQ) && warm_file(&c, w[0].buf) != 0)
		return 2;
	if (wl == WL_PCANCEL && cancel_once() != 0)
		return 2;

	if (c.threads == 1) {
		worker_main(&w[0]);
	} else {
		pthread_barrier_init(&c.bar, NULL, (unsigned)c.threads);
		for (int i = 0; i < c.threads; i++)
			if (pthread_create(&tid[i], NULL, worker_main, &w[i]) != 0)
				return 2;
		for (int i = 0; i < c.threads; i++)
			pthread_join(tid[i], NULL);
	}

	/* Per slice: wall time from the first thread's start to the last one's
	 * end, over the ops of all threads. The fastest slice is the one least
	 * disturbed by other processes; the mean covers them all. */
	uint64_t ops = 0, wall = 0, bad = 0, sink = 0;
	double best = 0;
	for (int k = 0; k < c.slices; k++) {
		uint64_t sops = 0, t0 = UINT64_MAX, t1 = 0;
		for (int i = 0; i < c.threads; i++) {
			sops += w[i].s_ops[k];
			t0 = w[i].s_t0[k] < t0 ? w[i].s_t0[k] : t0;
			t1 = w[i].s_t1[k] > t1 ? w[i].s_t1[k] : t1;
		}
		double ns = sops ? (double)(t1 - t0) / (double)sops : 0;
		if (sops && (best == 0 || ns < best))
			best = ns;
		ops += sops;
		wall += t1 - t0;
	}
	for (int i = 0; i < c.threads; i++) {
		bad += w[i].bad;
		sink += w[i].sink;
	}
	printf("%.4f %.4f %llu %llu %llu %llu\n", best, ops ? (double)wall / (double)ops : 0.0,
	       (unsigned long long)ops, (unsigned long long)wall, (unsigned long long)bad,
	       (unsigned long long)sink);
	fflush(stdout);
	/* return, not _exit: the shim writes its MMAPIO_STATS report at exit */
	return 0;
}

/* ======================================================================== */
/* driver                                                                     */
/* ======================================================================== */

static char g_exe[PATH_MAX], g_preload[PATH_MAX];
static char g_big[PATH_MAX], g_dir[PATH_MAX], g_stats[PATH_MAX];
static char *g_small[NSMALL];
static int g_nsmall;

static void cleanup(void)
{
	for (int i = 0; i < g_nsmall; i++)
		if (g_small[i])
			unlink(g_small[i]);
	g_nsmall = 0;
	if (g_dir[0])
		rmdir(g_dir);
	if (g_big[0])
		unlink(g_big);
	if (g_stats[0])
		unlink(g_stats);
	g_dir[0] = g_big[0] = g_stats[0] = 0;
}

static volatile pid_t g_child; /* the child running now, 0 if none */

static void on_signal(int sig)
{
	pid_t pid = g_child;
	if (pid > 0) { /* before the files go: it could write its stats file again */
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

struct check {
	int ran;
	char fail[64]; /* crash / exit status, "" if fine */
	uint64_t served, passthrough;
};

struct result {
	double s[NARMS][64];
	int n[NARMS];
	char fail[NARMS][64]; /* first failure of a timed run */
	struct check chk[NARMS];
	double med[NARMS], min[NARMS], max[NARMS];
	uint64_t bad;
};

struct opts {
	int quick, check, stats_timed, list, mean, dep;
	int rounds;
	double ms;
	const char *json, *rows;
};

static char **child_env(int arm, const char *stats)
{
	extern char **environ;
	size_t n = 0, k = 0;
	while (environ[n])
		n++;
	char **env = calloc(n + 4, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const char *e = environ[i];
		if (!strncmp(e, "LD_PRELOAD=", 11) || !strncmp(e, "MMAPIO_MODE=", 12) ||
		    !strncmp(e, "MMAPIO_STATS=", 13) || !strncmp(e, "MMAPIO_PRELOAD=", 15))
			continue;
		env[k++] = (char *)e;
	}
	if (arm_mode[arm]) {
		if (asprintf(&env[k++], "LD_PRELOAD=%s", g_preload) < 0 ||
		    asprintf(&env[k++], "MMAPIO_MODE=%s", arm_mode[arm]) < 0)
			return NULL;
		if (stats && asprintf(&env[k++], "MMAPIO_STATS=%s", stats) < 0)
			return NULL;
	}
	env[k] = NULL;
	return env;
}

static void free_env(char **env, int arm, const char *stats)
{
	size_t k = 0;
	if (!env)
		return;
	while (env[k])
		k++;
	if (arm_mode[arm])
		for (size_t i = k - (stats ? 3 : 2); i < k; i++)
			free(env[i]);
	free(env);
}

/*
 * Run one child. Returns 0 and *ns (ns/op) on success; else -1 with a
 * short reason in fail.
 */
static int g_slices = 5, g_use_mean, g_dep;

static int run_child(const struct row *r, int arm, uint64_t budget_ns, const char *stats,
		     double *ns, uint64_t *bad, char *fail, size_t failcap)
{
	char len[32], thr[16], bud[32], nf[16], sl[16];
	const char *path = r->wl == WL_SMALL ? g_dir : r->wl == WL_DEVZERO ? "/dev/zero" : g_big;
	snprintf(len, sizeof(len), "%zu", r->len);
	snprintf(thr, sizeof(thr), "%d", r->threads);
	snprintf(bud, sizeof(bud), "%llu", (unsigned long long)budget_ns);
	snprintf(nf, sizeof(nf), "%d", NSMALL);
	snprintf(sl, sizeof(sl), "%d", g_slices);
	const char *method = arm == A_LIMIT ? (g_dep ? "mmapdep" : "mmap") : (g_dep ? "sysdep" : "sys");
	char *argv[] = { g_exe, "--child", (char *)wl_name[r->wl], (char *)method,
			 (char *)path, len, thr, bud, nf, sl, NULL };
	char **env = child_env(arm, stats);
	int pfd[2];
	char out[256];
	size_t got = 0;
	int status = 0, timed_out = 0;

	fail[0] = 0;
	if (!env || pipe2(pfd, O_CLOEXEC) != 0) {
		snprintf(fail, failcap, "setup: %s", strerror(errno));
		free_env(env, arm, stats);
		return -1;
	}
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(pfd[1], 1);
		execve(g_exe, argv, env);
		_exit(127);
	}
	if (pid > 0)
		g_child = pid;
	close(pfd[1]);
	free_env(env, arm, stats);
	if (pid < 0) {
		close(pfd[0]);
		snprintf(fail, failcap, "fork: %s", strerror(errno));
		return -1;
	}
	uint64_t deadline = bench_now_ns() + (uint64_t)CHILD_TIMEOUT_MS * 1000000ull;
	for (;;) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		uint64_t now = bench_now_ns();
		if (now >= deadline) {
			kill(pid, SIGKILL);
			timed_out = 1;
			break;
		}
		int k = poll(&p, 1, (int)((deadline - now) / 1000000u) + 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			continue;
		ssize_t n = read(pfd[0], out + got, sizeof(out) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == sizeof(out) - 1)
			break;
	}
	out[got] = 0;
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	g_child = 0;
	if (timed_out) {
		snprintf(fail, failcap, "TIMEOUT");
		return -1;
	}
	if (WIFSIGNALED(status)) {
		snprintf(fail, failcap, "CRASH signal %d", WTERMSIG(status));
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(fail, failcap, "EXIT %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return -1;
	}
	unsigned long long ops, el, b, sink;
	double best, mean;
	if (sscanf(out, "%lf %lf %llu %llu %llu %llu", &best, &mean, &ops, &el, &b, &sink) != 6 ||
	    !ops) {
		snprintf(fail, failcap, "NO RESULT");
		return -1;
	}
	*ns = g_use_mean ? mean : best;
	*bad = b;
	return 0;
}

/* Sum served_calls and passthrough_calls over the report lines in path. */
static int read_stats(const char *path, uint64_t *served, uint64_t *pass)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	int lines = 0;

	*served = *pass = 0;
	if (!f)
		return -1;
	while (getline(&line, &cap, f) > 0) {
		/* process totals come first, before the "files" array */
		char *s = strstr(line, "\"served_calls\":");
		char *p = strstr(line, "\"passthrough_calls\":");
		if (!s || !p)
			continue;
		*served += strtoull(s + 15, NULL, 10);
		*pass += strtoull(p + 20, NULL, 10);
		lines++;
	}
	free(line);
	fclose(f);
	return lines ? 0 : -1;
}

static int make_small_files(void)
{
	struct bench_rng rng;
	unsigned char *buf = malloc(SMALL_MAX);
	uint64_t total = 0;

	snprintf(g_dir, sizeof(g_dir), "%s/mmapio-shim-small-XXXXXX", bench_tmpdir());
	if (!buf || !mkdtemp(g_dir)) {
		fprintf(stderr, "bench_shim: mkdtemp %s: %s\n", g_dir, strerror(errno));
		g_dir[0] = 0;
		free(buf);
		return -1;
	}
	bench_rng_seed(&rng, SEED ^ 0xf11e5);
	for (int i = 0; i < NSMALL; i++) {
		size_t sz = SMALL_MIN + (size_t)bench_rng_below(&rng, SMALL_MAX - SMALL_MIN + 1);
		if (asprintf(&g_small[i], "%s/f%05d", g_dir, i) < 0)
			goto fail;
		g_nsmall = i + 1;
		int fd = open(g_small[i], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0)
			goto fail;
		bench_fill_nonzero(&rng, buf, sz);
		ssize_t w = write(fd, buf, sz);
		close(fd);
		if (w != (ssize_t)sz)
			goto fail;
		total += sz;
	}
	/* one sync for all of them, so no writeback runs during measurements */
	int dfd = open(g_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		syncfs(dfd);
		close(dfd);
	}
	for (int i = 0; i < NSMALL; i++) { /* read once: hot */
		int fd = open(g_small[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0 || read(fd, buf, SMALL_MAX) < SMALL_MIN) {
			if (fd >= 0)
				close(fd);
			goto fail;
		}
		close(fd);
	}
	free(buf);
	printf("  small files: %d in %s, %llu bytes\n", NSMALL, g_dir, (unsigned long long)total);
	return 0;
fail:
	fprintf(stderr, "bench_shim: small files in %s: %s\n", g_dir, strerror(errno));
	free(buf);
	return -1;
}

static int row_selected(const struct row *r, const char *filter)
{
	if (!filter || !*filter)
		return 1;
	char *copy = strdup(filter), *save = NULL;
	int hit = 0;
	for (char *t = strtok_r(copy, ",", &save); t && !hit; t = strtok_r(NULL, ",", &save))
		hit = strcasestr(r->key, t) || strcasestr(r->name, t);
	free(copy);
	return hit;
}

static int narms_of(const struct row *r, int *list)
{
	int n = 0;
	for (int a = 0; a < NARMS; a++)
		if (r->arms & B(a))
			list[n++] = a;
	return n;
}

static void summarize(struct result *res)
{
	for (int a = 0; a < NARMS; a++) {
		uint64_t v[64];
		int n = 0;
		res->med[a] = res->min[a] = res->max[a] = NAN;
		for (int i = 0; i < res->n[a]; i++)
			if (!isnan(res->s[a][i]))
				v[n++] = (uint64_t)(res->s[a][i] * 1000.0); /* ps: keep the decimals */
		if (!n)
			continue;
		res->med[a] = bench_median_u64(v, (size_t)n) / 1000.0;
		res->min[a] = (double)v[0] / 1000.0;
		res->max[a] = (double)v[n - 1] / 1000.0;
	}
}

/* Median over rounds of shim - baseline, the two run back to back in each round. */
static double paired_diff(const struct result *res, int a, int b)
{
	uint64_t v[64];
	int n = 0;
	const int64_t bias = 1000000000; /* keep it unsigned for the median helper */
	for (int i = 0; i < res->n[a] && i < res->n[b]; i++)
		if (!isnan(res->s[a][i]) && !isnan(res->s[b][i]))
			v[n++] = (uint64_t)((res->s[a][i] - res->s[b][i]) * 1000.0 + (double)bias);
	if (!n)
		return NAN;
	return (bench_median_u64(v, (size_t)n) - (double)bias) / 1000.0;
}

/*
 * Median over rounds of s[a] / s[b]. The arms of a row run back to back in
 * each round, so a ratio within one round compares them under the same
 * load; on a shared machine the load shifts between rounds.
 */
static double paired_ratio(const struct result *res, int a, int b)
{
	uint64_t v[64];
	int n = 0;
	for (int i = 0; i < res->n[a] && i < res->n[b]; i++)
		if (!isnan(res->s[a][i]) && !isnan(res->s[b][i]) && res->s[b][i] > 0)
			v[n++] = (uint64_t)(res->s[a][i] / res->s[b][i] * 1e6);
	if (!n)
		return NAN;
	return bench_median_u64(v, (size_t)n) / 1e6;
}

/* Relative spread (max - min) / median, largest over the row's arms, in %. */
static double spread_pct(const struct result *res, unsigned arms)
{
	double s = 0;
	for (int a = 0; a < NARMS; a++)
		if ((arms & B(a)) && !isnan(res->med[a]) && res->med[a] > 0) {
			double x = (res->max[a] - res->min[a]) / res->med[a] * 100.0;
			s = x > s ? x : s;
		}
	return s;
}

/* "served" cell for one arm: share of calls the map served, or a warning. */
static void served_cell(char *out, size_t cap, const struct row *r, const struct check *c, int a)
{
	if (!c->ran) {
		snprintf(out, cap, "-");
	} else if (c->fail[0]) {
		snprintf(out, cap, "%s", c->fail);
	} else if ((r->serve & B(a)) && c->served == 0) {
		snprintf(out, cap, "WARN 0 served");
	} else if ((r->noserve & B(a)) && c->served != 0) {
		snprintf(out, cap, "WARN served %llu", (unsigned long long)c->served);
	} else if (c->served + c->passthrough == 0) {
		snprintf(out, cap, "untracked");
	} else {
		snprintf(out, cap, "%.1f%%",
			 100.0 * (double)c->served / (double)(c->served + c->passthrough));
	}
}

static int served_bad(const struct row *r, const struct check *c, int a)
{
	return c->ran && (c->fail[0] || ((r->serve & B(a)) && c->served == 0) ||
			  ((r->noserve & B(a)) && c->served != 0));
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench_shim [--quick] [--rows SUBSTR[,SUBSTR...]] [--json PATH]\n"
		"                  [--rounds N] [--ms MS] [--dependent] [--mean]\n"
		"                  [--stats-in-timed] [--check] [--list]\n"
		"  --quick           3 rounds, short loops (~15 s)\n"
		"  --rows S          only rows whose key or name contains S (case-insensitive)\n"
		"  --json PATH       also write the results as JSON\n"
		"  --rounds N        rounds (default 9, quick 3); the result is the median\n"
		"  --ms MS           timed loop per child in ms (default 80, quick 12)\n"
		"  --dependent       random reads wait for the previous read's data (latency)\n"
		"  --mean            a child's result is its whole timed loop, not its fastest\n"
		"                    slice\n"
		"  --stats-in-timed  set MMAPIO_STATS in the timed runs too (costs time per call)\n"
		"  --check           exit 2 if a target is missed or the shim did not serve\n"
		"  --list            list the rows and exit\n"
		"  env: MMAPIO_PRELOAD=path of the shim (default ../libmmapio_preload.so next\n"
		"       to this binary); TMPDIR for the test files; other MMAPIO_* go to the\n"
		"       shim arms\n");
}

static void json_num(FILE *f, double v)
{
	if (isnan(v) || isinf(v))
		fputs("null", f);
	else
		fprintf(f, "%.4f", v);
}

#define MAXCELLS (NROWS * 12)
static char cellbuf[MAXCELLS][160];

/* One run of the driver: its options, the rows it measures and their results. */
struct run {
	struct opts o;
	int sel[NROWS], nsel;
	struct result res[NROWS];
	int misses, crashes, notserved;
	uint64_t t_start, budget;
	struct utsname un;
	char cpu[256];
};

/* The command line into o. Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--quick")) {
			o->quick = 1;
		} else if (!strcmp(a, "--check")) {
			o->check = 1;
		} else if (!strcmp(a, "--stats-in-timed")) {
			o->stats_timed = 1;
		} else if (!strcmp(a, "--dependent")) {
			o->dep = 1;
		} else if (!strcmp(a, "--mean")) {
			o->mean = 1;
		} else if (!strcmp(a, "--list")) {
			o->list = 1;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (v && !strcmp(a, "--json")) {
			o->json = v, i++;
		} else if (v && !strcmp(a, "--rows")) {
			o->rows = v, i++;
		} else if (v && !strcmp(a, "--rounds")) {
			o->rounds = atoi(v), i++;
			if (o->rounds < 1 || o->rounds > 64) {
				fprintf(stderr, "bench_shim: --rounds must be 1..64\n");
				return 1;
			}
		} else if (v && !strcmp(a, "--ms")) {
			o->ms = atof(v), i++;
			if (!(o->ms >= 1 && o->ms <= 10000)) {
				fprintf(stderr, "bench_shim: --ms must be 1..10000\n");
				return 1;
			}
		} else {
			fprintf(stderr, "bench_shim: unknown option or missing value: %s\n", a);
			usage(stderr);
			return 1;
		}
	}
	if (!o->rounds)
		o->rounds = o->quick ? 3 : 9;
	if (!o->ms)
		o->ms = o->quick ? 12 : 80;
	return -1;
}

/* The rows --rows selects (--list: print every row). Returns -1 to go on, else the exit status. */
/* Table 3's one row (print_table3), for --rows and --list. */
static const struct row start_row = { .table = 3, .key = "start", .name = "process start" };

static int select_rows(struct run *run)
{
	for (size_t r = 0; r < NROWS; r++)
		if (row_selected(&rows[r], run->o.rows))
			run->sel[run->nsel++] = (int)r;
	if (run->o.list) {
		for (size_t r = 0; r < NROWS; r++)
			printf("%-16s table %d  %s\n", rows[r].key, rows[r].table, rows[r].name);
		printf("%-16s table %d  %s\n", start_row.key, start_row.table, start_row.name);
		return 0;
	}
	if (!run->nsel && !row_selected(&start_row, run->o.rows)) {
		fprintf(stderr, "bench_shim: no row matches '%s' (--list shows them)\n", run->o.rows);
		return 1;
	}
	return -1;
}

/* The binary (re-executed as the child) and the shim: g_exe, g_preload. */
static int find_binaries(void)
{
	ssize_t n = readlink("/proc/self/exe", g_exe, sizeof(g_exe) - 1);
	if (n <= 0) {
		fprintf(stderr, "bench_shim: readlink /proc/self/exe: %s\n", strerror(errno));
		return -1;
	}
	g_exe[n] = 0;
	const char *pre = getenv("MMAPIO_PRELOAD");
	if (pre && *pre) {
		snprintf(g_preload, sizeof(g_preload), "%s", pre);
	} else {
		static const char rel[] = "/../libmmapio_preload.so";
		char tmp[PATH_MAX];
		const char *slash = strrchr(g_exe, '/');
		size_t dl = slash ? (size_t)(slash - g_exe) : 0;
		if (dl + sizeof(rel) > sizeof(tmp)) {
			fprintf(stderr, "bench_shim: path too long: %s\n", g_exe);
			return -1;
		}
		memcpy(tmp, g_exe, dl);
		memcpy(tmp + dl, rel, sizeof(rel));
		if (!realpath(tmp, g_preload))
			memcpy(g_preload, tmp, sizeof(tmp));
	}
	if (access(g_preload, R_OK) != 0) {
		fprintf(stderr, "bench_shim: shim not found at %s (build it with make, or set "
				"MMAPIO_PRELOAD)\n", g_preload);
		return -1;
	}
	return 0;
}

/* The machine and the method, printed before anything runs. */
static void print_setup(struct run *run)
{
	const struct opts *o = &run->o;
	char thp[256];
	if (uname(&run->un) != 0)
		snprintf(run->un.release, sizeof(run->un.release), "?");
	bench_cpu_model(run->cpu, sizeof(run->cpu));
	bench_read_first_line("/sys/kernel/mm/transparent_hugepage/enabled", thp, sizeof(thp));
	printf("mmapio LD_PRELOAD shim benchmark%s\n", o->quick ? " --quick" : "");
	printf("  kernel     : %s %s %s\n", run->un.sysname, run->un.release, run->un.machine);
	printf("  cpu        : %s (%ld online)\n", run->cpu, sysconf(_SC_NPROCESSORS_ONLN));
	printf("  THP        : %s\n", thp);
	printf("  shim       : %s\n", g_preload);
	printf("  files      : %s (%s)\n", bench_tmpdir(), bench_fs_name(bench_tmpdir()));
	printf("  method     : median of %d rounds; per child %.0f ms timed in %d slices, %s; "
	       "arm order rotates\n", o->rounds, o->ms, g_slices,
	       o->mean ? "mean of all" : "fastest slice");
	printf("  reads      : %s\n", o->dep ? "dependent (each offset waits for the previous "
					       "data: latency)" : "independent (throughput)");
	{
		extern char **environ;
		for (char **e = environ; *e; e++)
			if (!strncmp(*e, "MMAPIO_", 7) && strncmp(*e, "MMAPIO_MODE=", 12) &&
			    strncmp(*e, "MMAPIO_STATS=", 13) && strncmp(*e, "MMAPIO_PRELOAD=", 15))
				printf("  passing    : %s to the shim arms\n", *e);
	}
	fflush(stdout);
}

/* The hot big file, the small files and the stats file the selected rows need. */
static int make_test_files(const struct run *run)
{
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	int need_big = 0, need_small = 0;
	for (int i = 0; i < run->nsel; i++) {
		int wl = rows[run->sel[i]].wl;
		need_big |= wl == WL_PREAD || wl == WL_PCANCEL || wl == WL_READSEQ ||
			    wl == WL_BIGSEQ || wl == WL_BIGOPEN;
		need_small |= wl == WL_SMALL;
	}
	if (need_big) {
		int fd = bench_hot_file_create("mmapio-shim", BIG_SIZE, SEED, g_big, sizeof(g_big));
		if (fd < 0) {
			g_big[0] = 0;
			return -1;
		}
		close(fd);
		printf("  big file   : %s, %llu MiB, hot\n", g_big,
		       (unsigned long long)(BIG_SIZE >> 20));
	}
	if (need_small && make_small_files() != 0)
		return -1;
	snprintf(g_stats, sizeof(g_stats), "%s/mmapio-shim-stats-XXXXXX", bench_tmpdir());
	int sfd = mkstemp(g_stats);
	if (sfd < 0) {
		fprintf(stderr, "bench_shim: mkstemp %s: %s\n", g_stats, strerror(errno));
		g_stats[0] = 0;
		return -1;
	}
	close(sfd);
	fflush(stdout);
	return 0;
}

/* Served check: each shim arm of each row once, briefly, with MMAPIO_STATS. */
static void served_check(struct run *run)
{
	const uint64_t check_budget = run->budget < 5000000 ? run->budget : 5000000;
	fprintf(stderr, "bench_shim: served check ...\n");
	for (int i = 0; i < run->nsel; i++) {
		const struct row *r = &rows[run->sel[i]];
		for (int a = 0; a < NARMS; a++) {
			struct check *c = &run->res[run->sel[i]].chk[a];
			double ns;
			uint64_t bad;
			if (!(r->arms & B(a)) || !arm_mode[a])
				continue;
			if (truncate(g_stats, 0) != 0)
				fprintf(stderr, "bench_shim: truncate %s: %s\n", g_stats, strerror(errno));
			c->ran = 1;
			if (run_child(r, a, check_budget, g_stats, &ns, &bad, c->fail,
				      sizeof(c->fail)) != 0) {
				run->crashes++;
				fprintf(stderr, "bench_shim: %s / %s (stats run): %s\n", r->key,
					arm_key[a], c->fail);
				continue;
			}
			if (read_stats(g_stats, &c->served, &c->passthrough) != 0)
				snprintf(c->fail, sizeof(c->fail), "NO STATS");
		}
	}
}

/* The timed rounds: every arm of every row once per round, the arm order rotating. */
static void timed_rounds(struct run *run)
{
	const struct opts *o = &run->o;
	for (int round = 0; round < o->rounds; round++) {
		fprintf(stderr, "bench_shim: round %d/%d (%.1f s)\n", round + 1, o->rounds,
			(double)(bench_now_ns() - run->t_start) / 1e9);
		for (int i = 0; i < run->nsel; i++) {
			const struct row *r = &rows[run->sel[i]];
			struct result *rs = &run->res[run->sel[i]];
			int list[NARMS], na = narms_of(r, list);
			for (int k = 0; k < na; k++) {
				int a = list[(k + round) % na];
				double ns = NAN;
				uint64_t bad = 0;
				char fail[64];
				const char *st = o->stats_timed && arm_mode[a] ? g_stats : NULL;
				if (run_child(r, a, run->budget, st, &ns, &bad, fail, sizeof(fail)) != 0) {
					ns = NAN;
					run->crashes++;
					if (!rs->fail[a][0])
						snprintf(rs->fail[a], sizeof(rs->fail[a]), "%s", fail);
					fprintf(stderr, "bench_shim: %s / %s: %s\n", r->key, arm_key[a],
						fail);
				}
				if (bad && !rs->bad)
					fprintf(stderr, "bench_shim: %s / %s: %llu short or failed "
							"calls\n", r->key, arm_key[a],
						(unsigned long long)bad);
				rs->bad += bad;
				rs->s[a][rs->n[a]++] = ns;
			}
		}
	}
	for (int i = 0; i < run->nsel; i++)
		summarize(&run->res[run->sel[i]]);
}

/* Table 1: the shim against the kernel (speedup) and against a raw map (overhead). */
static void print_table1(struct run *run)
{
	const char *h1[] = { "pread on a hot 256 MiB file", "baseline", "shim", "limit",
			     "speedup", "target", "overhead", "target", "spread", "served" };
	const char *cells[MAXCELLS];
	size_t nrow = 0, nc1 = sizeof(h1) / sizeof(h1[0]), ci = 0;
	for (int i = 0; i < run->nsel; i++) {
		const struct row *r = &rows[run->sel[i]];
		struct result *rs = &run->res[run->sel[i]];
		if (r->table != 1)
			continue;
		char *c[10];
		for (size_t k = 0; k < nc1; k++) {
			c[k] = cellbuf[ci++];
			c[k][0] = 0;
			cells[nrow * nc1 + k] = c[k];
		}
		snprintf(c[0], 80, "%s", r->name);
		int cols[3] = { A_BASE, A_ALWAYS, A_LIMIT };
		for (int k = 0; k < 3; k++) {
			if (!(r->arms & B(cols[k])))
				snprintf(c[1 + k], 80, "-");
			else if (rs->fail[cols[k]][0] && isnan(rs->med[cols[k]]))
				snprintf(c[1 + k], 80, "%s", rs->fail[cols[k]]);
			else
				fmt_num(c[1 + k], 80, rs->med[cols[k]]);
		}
		double sp = paired_ratio(rs, A_BASE, A_ALWAYS);
		double ov = paired_ratio(rs, A_ALWAYS, A_LIMIT);
		if (r->wl == WL_DEVZERO) {
			double added = paired_diff(rs, A_ALWAYS, A_BASE);
			snprintf(c[6], 80, "%+.1f ns", added);
			int pass = !isnan(added) && added <= ADDED_NS_TARGET;
			snprintf(c[7], 80, "<=%.0f ns %s", ADDED_NS_TARGET, pass ? "PASS" : "MISS");
			run->misses += !pass;
			snprintf(c[4], 80, "%.2fx", sp);
		} else {
			snprintf(c[4], 80, "%.2fx", sp);
			if (r->speedup_min > 0) {
				int pass = !isnan(sp) && sp >= r->speedup_min;
				snprintf(c[5], 80, ">=%.3gx %s", r->speedup_min, pass ? "PASS" : "MISS");
				run->misses += !pass;
			}
			snprintf(c[6], 80, "%.3f", ov);
			if (r->overhead) {
				int pass = !isnan(ov) && ov <= OVERHEAD_TARGET;
				snprintf(c[7], 80, "<=%.2f %s", OVERHEAD_TARGET, pass ? "PASS" : "MISS");
				run->misses += !pass;
			}
		}
		snprintf(c[8], 80, "%.0f%%", spread_pct(rs, r->arms));
		served_cell(c[9], 80, r, &rs->chk[A_ALWAYS], A_ALWAYS);
		run->notserved += served_bad(r, &rs->chk[A_ALWAYS], A_ALWAYS);
		nrow++;
	}
	if (nrow) {
		printf("\nTable 1, the shim against the kernel and a raw map: ns per call, median of "
		       "%d rounds.\n"
		       "  speedup = baseline/shim, overhead = shim/limit, each the median of the "
		       "per-round ratios\n"
		       "  (the arms of a row run back to back)\n"
		       "  baseline: no shim; shim: LD_PRELOAD, MMAPIO_MODE=always; limit: memcpy "
		       "from the program's own mmap\n"
		       "  spread: largest (max-min)/median over the arms; served: share of the "
		       "shim's calls served from the map\n\n", run->o.rounds);
		bench_table_print(stdout, nc1, h1, cells, nrow);
	}
}

/* Table 2: MMAPIO_MODE never / always / auto side by side. */
static void print_table2(struct run *run)
{
	const char *h2[] = { "workload", "unit", "baseline", "never",
			     "always", "auto", "auto/better", "target", "spread",
			     "served never/always/auto" };
	const char *cells[MAXCELLS];
	size_t nrow = 0, nc2 = sizeof(h2) / sizeof(h2[0]), ci = 0;
	double mbs[NARMS] = { NAN, NAN, NAN, NAN, NAN };
	int have_seq = 0;
	for (int i = 0; i < run->nsel; i++) {
		const struct row *r = &rows[run->sel[i]];
		struct result *rs = &run->res[run->sel[i]];
		if (r->table != 2)
			continue;
		char *c[10];
		for (size_t k = 0; k < nc2; k++) {
			c[k] = cellbuf[ci++];
			c[k][0] = 0;
			cells[nrow * nc2 + k] = c[k];
		}
		snprintf(c[0], 80, "%s", r->name);
		snprintf(c[1], 80, "%s", r->unit);
		int cols[4] = { A_BASE, A_NEVER, A_ALWAYS, A_AUTO };
		for (int k = 0; k < 4; k++) {
			if (rs->fail[cols[k]][0] && isnan(rs->med[cols[k]]))
				snprintf(c[2 + k], 80, "%s", rs->fail[cols[k]]);
			else
				fmt_num(c[2 + k], 80, rs->med[cols[k]] / r->div);
		}
		/* the better mode by its median, then auto against it round by round */
		int better = !(rs->med[A_ALWAYS] >= rs->med[A_NEVER]) ? A_ALWAYS : A_NEVER;
		double ratio = paired_ratio(rs, A_AUTO, better);
		int pass = !isnan(ratio) && ratio <= AUTO_TARGET;
		run->misses += !pass;
		snprintf(c[6], 80, "%.3f (%s)", ratio, arm_key[better]);
		snprintf(c[7], 80, "<=%.2f %s", AUTO_TARGET, pass ? "PASS" : "MISS");
		snprintf(c[8], 80, "%.0f%%", spread_pct(rs, r->arms));
		char s1[40], s2[40], s3[40];
		served_cell(s1, sizeof(s1), r, &rs->chk[A_NEVER], A_NEVER);
		served_cell(s2, sizeof(s2), r, &rs->chk[A_ALWAYS], A_ALWAYS);
		served_cell(s3, sizeof(s3), r, &rs->chk[A_AUTO], A_AUTO);
		snprintf(c[9], 160, "%s / %s / %s", s1, s2, s3);
		for (int a = A_NEVER; a <= A_AUTO; a++)
			run->notserved += served_bad(r, &rs->chk[a], a);
		if (r->wl == WL_BIGOPEN) {
			have_seq = 1;
			for (int a = 0; a < NARMS; a++)
				mbs[a] = (double)BIG_SIZE / (1 << 20) / (rs->med[a] / 1e9);
		}
		nrow++;
	}
	if (nrow) {
		printf("\nTable 2, MMAPIO_MODE side by side: median of %d rounds, all modes under the shim "
		       "(baseline: no shim)\n"
		       "  auto/better: median of the per-round ratios auto / the better of never "
		       "and always (by median)\n"
		       "  target: auto at most 3%% slower than the better of always and never\n\n",
		       run->o.rounds);
		bench_table_print(stdout, nc2, h2, cells, nrow);
		if (have_seq)
			printf("  (b) open+read+close in MiB/s: baseline %.0f, never %.0f, always %.0f, auto %.0f\n",
			       mbs[A_BASE], mbs[A_NEVER], mbs[A_ALWAYS], mbs[A_AUTO]);
	}
}

/* One row's arms in the JSON file: medians, extremes, samples, served check. */
static void json_arms(FILE *f, const struct row *r, const struct result *rs)
{
	int first = 1;
	for (int a = 0; a < NARMS; a++) {
		if (!(r->arms & B(a)))
			continue;
		fprintf(f, "%s\"%s\":{\"median\":", first ? "" : ",", arm_key[a]);
		first = 0;
		json_num(f, rs->med[a]);
		fprintf(f, ",\"min\":");
		json_num(f, rs->min[a]);
		fprintf(f, ",\"max\":");
		json_num(f, rs->max[a]);
		fprintf(f, ",\"samples\":[");
		for (int k = 0; k < rs->n[a]; k++) {
			fprintf(f, k ? "," : "");
			json_num(f, rs->s[a][k]);
		}
		fprintf(f, "],\"failure\":");
		bench_json_str(f, rs->fail[a]);
		if (rs->chk[a].ran) {
			fprintf(f, ",\"check\":{\"served_calls\":%llu,"
				   "\"passthrough_calls\":%llu,\"failure\":",
				(unsigned long long)rs->chk[a].served,
				(unsigned long long)rs->chk[a].passthrough);
			bench_json_str(f, rs->chk[a].fail);
			fprintf(f, "}");
		}
		fprintf(f, "}");
	}
}

/* The results as JSON (--json PATH). */
static int write_json(const struct run *run)
{
	const struct opts *o = &run->o;
	FILE *f = fopen(o->json, "w");
	if (!f) {
		fprintf(stderr, "bench_shim: %s: %s\n", o->json, strerror(errno));
		return -1;
	}
	fprintf(f, "{\"bench\":\"bench_shim\",\"kernel\":");
	bench_json_str(f, run->un.release);
	fprintf(f, ",\"cpu\":");
	bench_json_str(f, run->cpu);
	fprintf(f, ",\"ncpu\":%ld,\"quick\":%s,\"rounds\":%d,\"loop_ms\":%.1f,"
		   "\"slices\":%d,\"statistic\":\"%s\",\"dependent\":%s,"
		   "\"stats_in_timed\":%s,\"rows\":[",
		sysconf(_SC_NPROCESSORS_ONLN), o->quick ? "true" : "false", o->rounds, o->ms,
		g_slices, o->mean ? "mean" : "fastest slice", o->dep ? "true" : "false",
		o->stats_timed ? "true" : "false");
	for (int i = 0; i < run->nsel; i++) {
		const struct row *r = &rows[run->sel[i]];
		const struct result *rs = &run->res[run->sel[i]];
		fprintf(f, "%s{\"key\":", i ? "," : "");
		bench_json_str(f, r->key);
		fprintf(f, ",\"name\":");
		bench_json_str(f, r->name);
		fprintf(f, ",\"table\":%d,\"unit\":\"ns/op\",\"display_unit\":\"%s\",\"arms\":{", r->table, r->unit);
		json_arms(f, r, rs);
		fprintf(f, "}");
		if (r->table == 1 && r->wl == WL_DEVZERO) {
			fprintf(f, ",\"added_ns\":");
			json_num(f, paired_diff(rs, A_ALWAYS, A_BASE));
			fprintf(f, ",\"added_ns_target\":%.1f", ADDED_NS_TARGET);
		} else if (r->table == 1) {
			fprintf(f, ",\"speedup\":");
			json_num(f, paired_ratio(rs, A_BASE, A_ALWAYS));
			fprintf(f, ",\"overhead\":");
			json_num(f, paired_ratio(rs, A_ALWAYS, A_LIMIT));
			if (r->speedup_min > 0)
				fprintf(f, ",\"speedup_target\":%.2f", r->speedup_min);
			fprintf(f, ",\"overhead_target\":%.2f", OVERHEAD_TARGET);
		} else {
			int better = !(rs->med[A_ALWAYS] >= rs->med[A_NEVER]) ? A_ALWAYS
									      : A_NEVER;
			fprintf(f, ",\"better_mode\":\"%s\",\"auto_vs_better\":",
				arm_key[better]);
			json_num(f, paired_ratio(rs, A_AUTO, better));
			fprintf(f, ",\"auto_target\":%.2f", AUTO_TARGET);
		}
		fprintf(f, ",\"bad_calls\":%llu}", (unsigned long long)rs->bad);
	}
	fprintf(f, "],\"targets_missed\":%d,\"served_warnings\":%d,\"failed_runs\":%d}\n",
		run->misses, run->notserved, run->crashes);
	fclose(f);
	printf("JSON written to %s\n", o->json);
	return 0;
}

/*
 * Table 3: microseconds to posix_spawn /bin/true and wait for it, per arm,
 * rounds x START_SPAWNS spawns, arms in rotating order; medians of the
 * rounds' means.
 */
#define START_SPAWNS 50

/* The environment of table 3's limit arm: no shim, the empty library preloaded. */
static char **empty_env(const char *lib)
{
	char **env = child_env(A_BASE, NULL); /* room for more than it fills */
	size_t k = 0;
	while (env && env[k])
		k++;
	if (env && asprintf(&env[k], "LD_PRELOAD=%s", lib) < 0) {
		free(env);
		return NULL;
	}
	return env;
}

static void free_empty_env(char **env)
{
	size_t k = 0;
	while (env && env[k])
		k++;
	if (k)
		free(env[k - 1]);
	free_env(env, A_BASE, NULL);
}

static void print_table3(struct run *run)
{
	/* The limit is table 3's own arm (A_LIMIT is table 1's raw map). */
	enum { T3_EMPTY = NARMS };
	static const int arms[] = { A_BASE, T3_EMPTY, A_NEVER, A_AUTO };
	enum { N = sizeof arms / sizeof arms[0] };
	if (!row_selected(&start_row, run->o.rows))
		return;
	int rounds = run->o.rounds;
	uint64_t us[N][64];
	if (rounds > 64)
		rounds = 64;
	char *argv[] = { "/bin/true", NULL };
	char empty[PATH_MAX];
	const char *slash = strrchr(g_exe, '/');
	snprintf(empty, sizeof empty, "%.*s/empty_preload.so", slash ? (int)(slash - g_exe) : 1,
		 slash ? g_exe : ".");
	if (access(empty, R_OK) != 0) {
		printf("\nTable 3: %s missing (make builds it)\n", empty);
		return;
	}
	for (int r = 0; r < rounds; r++) {
		for (int k = 0; k < N; k++) {
			int i = (k + r) % N;
			int lim = arms[i] == T3_EMPTY;
			char **env = lim ? empty_env(empty) : child_env(arms[i], NULL);
			uint64_t t0 = bench_now_ns();
			for (int j = 0; j < START_SPAWNS; j++) {
				pid_t pid;
				int st;
				if (!env || posix_spawn(&pid, argv[0], NULL, NULL, argv, env) != 0 ||
				    waitpid(pid, &st, 0) != pid) {
					printf("\nTable 3: cannot spawn %s\n", argv[0]);
					lim ? free_empty_env(env) : free_env(env, arms[i], NULL);
					return;
				}
			}
			us[i][r] = (bench_now_ns() - t0) / START_SPAWNS / 1000;
			lim ? free_empty_env(env) : free_env(env, arms[i], NULL);
		}
	}
	double m[N];
	for (int i = 0; i < N; i++)
		m[i] = bench_median_u64(us[i], (size_t)rounds);
	printf("\nTable 3, starting a process: %s spawned and waited for, us, median of %d "
	       "rounds of %d\n  baseline %.0f, limit (an empty library preloaded) %.0f (%+.0f), "
	       "never %.0f (%+.0f), auto %.0f (%+.0f)\n",
	       argv[0], rounds, START_SPAWNS, m[0], m[1], m[1] - m[0], m[2], m[2] - m[0], m[3],
	       m[3] - m[0]);
}

int main(int argc, char **argv)
{
	static struct run run;
	int rc;

	run.t_start = bench_now_ns();
	if (argc > 1 && !strcmp(argv[1], "--child"))
		return child_main(argc, argv);
	if ((rc = parse_args(argc, argv, &run.o)) >= 0)
		return rc;
	g_slices = run.o.quick ? 3 : 5;
	g_use_mean = run.o.mean;
	g_dep = run.o.dep;
	run.budget = (uint64_t)(run.o.ms * 1e6);
	if ((rc = select_rows(&run)) >= 0)
		return rc;
	if (find_binaries() != 0)
		return 1;
	print_setup(&run);
	if (make_test_files(&run) != 0)
		return 1;
	served_check(&run);
	timed_rounds(&run);
	print_table1(&run);
	print_table2(&run);
	print_table3(&run);
	printf("\n%d target(s) missed, %d served-check warning(s), %d failed child run(s); "
	       "%.1f s\n", run.misses, run.notserved, run.crashes,
	       (double)(bench_now_ns() - run.t_start) / 1e9);
	if (run.o.json && write_json(&run) != 0)
		return 1;
	if (run.crashes)
		return 1;
	return (run.o.check && (run.misses || run.notserved)) ? 2 : 0;
}
