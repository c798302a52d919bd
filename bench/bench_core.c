/*
 * bench_core.c - core I/O benchmark for libmmapio.
 *
 * Every row times three arms on the same hot file, in the same run:
 *   baseline  pread()/pwrite() on the fd
 *   mmapio    mmapio_read()/mmapio_write() on an MMAPIO_RDWR map of the file
 *   limit     memcpy() on a raw mmap(MAP_SHARED) of the file
 * Rows: random reads of 64 B, 512 B, 4 KiB, 64 KiB (offsets aligned to the
 * size, uniform over the file but its last 32 MiB) and random in-place
 * 4 KiB writes (manual flush policy, no flush inside the timed loop); then
 * 64 B and 4 KiB reads of the last 32 MiB, which are zeros (ZERO_SPAN).
 *
 * Method. For each row one offset sequence of rounds x ops is drawn and cut
 * into `rounds` segments. Each round runs every arm once over ops offsets,
 * interleaved (the arm order rotates each round: ABC, BCA, CAB, ...). Every
 * arm covers every segment exactly once, so all arms see the same offsets,
 * but within a round the arms use segments rounds/3 apart, so no arm reads
 * lines that another arm just pulled into the CPU caches. The per-arm result
 * is the median over rounds of (batch time / ops). Both mappings are fully
 * populated (page tables filled) before timing, so no arm takes page faults.
 *
 * Reads are independent by default: the next op does not wait for the
 * previous one, so the CPU overlaps several cache/TLB misses and ns/op is a
 * throughput figure in which every extra instruction per op counts.
 * --dependent makes each offset depend on the previous op's data (pointer
 * chasing): ns/op is then the latency of one read.
 *
 * Build:  gcc -std=gnu11 -O2 -Wall -Wextra -Iinclude bench/bench_core.c \
 *             build/libmmapio.a -lpthread -o build/bench/bench_core
 * Run:    build/bench/bench_core [--quick] [--file-size BYTES] [--json PATH]
 *                                [--rounds N] [--dependent] [--check]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "mmapio.h"
#include "common.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define OVERHEAD_TARGET 1.15
#define DEFAULT_FILE_SIZE (256ull << 20)
#define MAX_LEN (64u << 10)

/* Keep the compiler from dropping or merging copies into/out of p. */
#define CLOBBER(p) __asm__ __volatile__("" : : "r"(p) : "memory")

enum { ARM_BASE, ARM_MMAPIO, ARM_LIMIT, NARMS };
static const char *const arm_name[NARMS] = { "baseline", "mmapio", "limit" };

struct row_spec {
	const char *name; /* table label */
	const char *key;  /* JSON key */
	size_t len;
	int write;
	uint32_t ops_full, ops_quick; /* ops per arm per round */
	int zero; /* reads from the zero-filled tail: the zero-tail check's price */
};

/*
 * The last ZERO_SPAN bytes of the file are zeros, read only by the "zero
 * data" rows: a read that ends in a zero byte makes the library check that
 * the file still reaches that far (core/io.c, reaches()): a probe of the
 * next page. The other rows use the rest, whose bytes are never zero.
 */
#define ZERO_SPAN (32ull << 20)

/*
 * Op counts per arm per round. Measured on a 2-core EPYC VM (pread 64 B
 * ~0.7 us, 4 KiB pwrite ~5 us): a full run (31 rounds) takes ~26 s in all
 * (~30 s with --dependent); --quick (11 rounds, 1/4 of the ops, 1/2 for
 * 64 B) ~5 s. Even the fastest batch (64 B via memcpy) lasts > 2 ms, so
 * timer and interrupt noise stay small. The 64 B quick count is kept high so
 * that a segment's lines have left the 32 MiB L3 before another arm reads
 * them again.
 */
static const struct row_spec rows[] = {
	{ "read 64 B", "read_64", 64, 0, 196608, 98304, 0 },
	{ "read 512 B", "read_512", 512, 0, 131072, 32768, 0 },
	{ "read 4 KiB", "read_4k", 4096, 0, 65536, 16384, 0 },
	{ "read 64 KiB", "read_64k", 65536, 0, 8192, 2048, 0 },
	{ "write 4 KiB", "write_4k", 4096, 1, 32768, 8192, 0 },
	{ "read 64 B, zero data", "read_64_zero", 64, 0, 196608, 98304, 1 },
	{ "read 4 KiB, zero data", "read_4k_zero", 4096, 0, 65536, 16384, 1 },
};
#define NROWS (sizeof(rows) / sizeof(rows[0]))

struct arm_stat {
	double med, min, max; /* ns per op over rounds */
};

struct row_result {
	struct arm_stat arm[NARMS];
	uint32_t ops, rounds;
	double speedup, overhead;
	int has_target, pass;
};

struct ctx {
	int fd;
	uint64_t size;
	unsigned char *raw;    /* raw mmap(MAP_SHARED) of the file */
	mmapio_map *m;	       /* MMAPIO_RDWR map of the file */
	unsigned char *mbase;  /* mmapio's mapping (from mmapio_view), for prefaulting */
	unsigned char *dst;    /* read destination */
	unsigned char *src;    /* write source */
	uint64_t bad;	       /* short / failed ops */
	int first_err;	       /* first negative return seen in a timed loop */
};

static volatile uint64_t g_sink;

/* ---- cleanup ---------------------------------------------------------- */

static char g_path[PATH_MAX];
static volatile sig_atomic_t g_have_path;

static void remove_file(void)
{
	if (g_have_path) {
		g_have_path = 0;
		unlink(g_path);
	}
}

static void on_signal(int sig)
{
	if (g_have_path)
		unlink(g_path);
	g_have_path = 0;
	signal(sig, SIG_DFL);
	raise(sig);
}

/* "bench_core: <what>: <msg>[: strerror(err)]", then exit (atexit removes the file). */
static void die(const char *what, const char *msg, long err)
{
	fprintf(stderr, "bench_core: %s: %s", what, msg);
	if (err)
		fprintf(stderr, ": %s", strerror((int)err));
	fputc('\n', stderr);
	exit(1);
}

/* ---- timed loops ------------------------------------------------------ */

/*
 * Reads. With dep == 0 the ops are independent (throughput: the CPU may
 * overlap the cache/TLB misses of several ops). With dep == 1 each offset
 * depends on a byte read by the previous op (latency: pointer-chasing). The
 * dependency is "+ (acc & zero)" where zero is loaded from a volatile, so the
 * offsets stay the same but the CPU must wait for the previous copy.
 * read_loop is instantiated per arm and mode, so no arm pays for branches on
 * arm or mode inside its loop.
 */
static volatile uint64_t g_zero;

static inline __attribute__((always_inline)) uint64_t
read_loop(struct ctx *c, const off_t *offs, size_t n, size_t len, int arm, int dep)
{
	unsigned char *dst = c->dst;
	const unsigned char *base = c->raw;
	mmapio_map *m = c->m;
	uint64_t acc = 0, bad = 0, zero = dep ? g_zero : 0;
	int fd = c->fd;

	for (size_t i = 0; i < n; i++) {
		off_t off = offs[i];
		ssize_t r;
		if (dep)
			off += (off_t)(acc & zero);
		if (arm == ARM_BASE) {
			r = pread(fd, dst, len, off);
			if (r < 0)
				r = -errno;
		} else if (arm == ARM_MMAPIO) {
			r = mmapio_read(m, off, dst, len);
		} else {
			memcpy(dst, base + off, len);
			r = (ssize_t)len;
		}
		if ((size_t)r != len) {
			bad++;
			if (r < 0 && !c->first_err)
				c->first_err = (int)r;
		}
		CLOBBER(dst);
		acc += dst[i & (len - 1)];
	}
	c->bad += bad;
	return acc;
}

/* Writes stamp the op index into the source so no two writes are identical. */
static inline __attribute__((always_inline)) uint64_t
write_loop(struct ctx *c, const off_t *offs, size_t n, size_t len, int arm)
{
	unsigned char *src = c->src;
	unsigned char *base = c->raw;
	mmapio_map *m = c->m;
	uint64_t bad = 0;
	int fd = c->fd;

	for (size_t i = 0; i < n; i++) {
		uint64_t stamp = i | 0x0101010101010101ull;
		ssize_t r;
		memcpy(src, &stamp, sizeof(stamp));
		if (arm == ARM_BASE) {
			r = pwrite(fd, src, len, offs[i]);
			if (r < 0)
				r = -errno;
		} else if (arm == ARM_MMAPIO) {
			r = mmapio_write(m, offs[i], src, len);
		} else {
			memcpy(base + offs[i], src, len);
			r = (ssize_t)len;
		}
		CLOBBER(base);
		if ((size_t)r != len) {
			bad++;
			if (r < 0 && !c->first_err)
				c->first_err = (int)r;
		}
	}
	c->bad += bad;
	return n;
}

#define NOINLINE __attribute__((noinline))
#define DEF_READ(name, arm, dep)                                                       \
	static NOINLINE uint64_t name(struct ctx *c, const off_t *o, size_t n, size_t len) \
	{                                                                              \
		return read_loop(c, o, n, len, arm, dep);                              \
	}
#define DEF_WRITE(name, arm)                                                           \
	static NOINLINE uint64_t name(struct ctx *c, const off_t *o, size_t n, size_t len) \
	{                                                                              \
		return write_loop(c, o, n, len, arm);                                  \
	}
DEF_READ(loop_pread, ARM_BASE, 0)
DEF_READ(loop_mmapio_read, ARM_MMAPIO, 0)
DEF_READ(loop_memcpy_read, ARM_LIMIT, 0)
DEF_READ(loop_pread_dep, ARM_BASE, 1)
DEF_READ(loop_mmapio_read_dep, ARM_MMAPIO, 1)
DEF_READ(loop_memcpy_read_dep, ARM_LIMIT, 1)
DEF_WRITE(loop_pwrite, ARM_BASE)
DEF_WRITE(loop_mmapio_write, ARM_MMAPIO)
DEF_WRITE(loop_memcpy_write, ARM_LIMIT)

typedef uint64_t (*loop_fn)(struct ctx *, const off_t *, size_t, size_t);
static const loop_fn read_loops[NARMS] = { loop_pread, loop_mmapio_read, loop_memcpy_read };
static const loop_fn read_loops_dep[NARMS] = { loop_pread_dep, loop_mmapio_read_dep,
					       loop_memcpy_read_dep };
static const loop_fn write_loops[NARMS] = { loop_pwrite, loop_mmapio_write, loop_memcpy_write };

/* ---- setup helpers ---------------------------------------------------- */

/* Fill the page tables of [p, p + len): MADV_POPULATE_*, else touch each page. */
static void populate(unsigned char *p, uint64_t len, int write)
{
	long pg = sysconf(_SC_PAGESIZE);

	if (madvise(p, len, write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ) == 0)
		return;
	for (uint64_t o = 0; o < len; o += (uint64_t)pg) {
		volatile unsigned char *q = p + o;
		unsigned char v = *q;
		if (write)
			*q = v;
	}
}

/* Rss and FilePmdMapped (KiB) of the VMA containing addr, from /proc/self/smaps. */
static int vma_info(const void *addr, unsigned long *start, unsigned long *end,
		    unsigned long *rss_kb, unsigned long *pmd_kb)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int in = 0, found = 0;

	if (!f)
		return -1;
	*rss_kb = *pmd_kb = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long s, e, v;
		char c0 = line[0];
		if ((c0 >= '0' && c0 <= '9') || (c0 >= 'a' && c0 <= 'f')) {
			if (found)
				break;
			in = sscanf(line, "%lx-%lx", &s, &e) == 2 && (unsigned long)addr >= s &&
			     (unsigned long)addr < e;
			if (in) {
				*start = s;
				*end = e;
				found = 1;
			}
			continue;
		}
		if (!in)
			continue;
		if (sscanf(line, "Rss: %lu kB", &v) == 1)
			*rss_kb = v;
		else if (sscanf(line, "FilePmdMapped: %lu kB", &v) == 1)
			*pmd_kb = v;
	}
	fclose(f);
	return found ? 0 : -1;
}

static void print_vma(const char *label, const void *addr)
{
	unsigned long s, e, rss, pmd;

	if (vma_info(addr, &s, &e, &rss, &pmd) != 0) {
		printf("  %-7s map: base %p (smaps unavailable)\n", label, addr);
		return;
	}
	printf("  %-7s map: base %p (2 MiB aligned: %s), vma %lu MiB, resident %.1f MiB, "
	       "PMD-mapped %.1f MiB\n",
	       label, addr, ((uintptr_t)addr & ((2u << 20) - 1)) ? "no" : "yes", (e - s) >> 20,
	       rss / 1024.0, pmd / 1024.0);
}

/* ---- one row ---------------------------------------------------------- */

static void run_row(struct ctx *c, const struct row_spec *rs, uint32_t ops, uint32_t rounds,
		    int dep, uint64_t seed, struct row_result *res)
{
	const loop_fn *loops = rs->write ? write_loops : dep ? read_loops_dep : read_loops;
	uint64_t span = c->size - ZERO_SPAN, base = rs->zero ? span : 0;
	uint64_t nslots = (rs->zero ? ZERO_SPAN : span) / rs->len;
	size_t total = (size_t)rounds * ops, nwarm = ops < 512 ? ops : 512;
	off_t *offs = malloc((total + nwarm) * sizeof(*offs));
	uint64_t *t[NARMS];
	uint32_t shift = rounds / NARMS ? rounds / NARMS : 1;
	struct bench_rng rng;
	uint64_t acc = 0;

	for (int a = 0; a < NARMS; a++)
		t[a] = malloc(rounds * sizeof(uint64_t));
	if (!offs || !t[0] || !t[1] || !t[2])
		die(rs->name, "out of memory", 0);

	bench_rng_seed(&rng, seed);
	for (size_t i = 0; i < total + nwarm; i++)
		offs[i] = (off_t)(base + bench_rng_below(&rng, nslots) * rs->len);

	/* untimed warm-up of each arm on offsets outside the measured sequence */
	for (int a = 0; a < NARMS; a++)
		acc += loops[a](c, offs + total, nwarm, rs->len);

	for (uint32_t r = 0; r < rounds; r++) {
		for (int j = 0; j < NARMS; j++) {
			int a = (int)((r + (uint32_t)j) % NARMS);
			uint32_t seg = (r + (uint32_t)a * shift) % rounds;
			const off_t *o = offs + (size_t)seg * ops;
			uint64_t t0 = bench_now_ns();
			acc += loops[a](c, o, ops, rs->len);
			t[a][r] = bench_now_ns() - t0;
		}
	}
	g_sink += acc;

	res->ops = ops;
	res->rounds = rounds;
	for (int a = 0; a < NARMS; a++) {
		double med = bench_median_u64(t[a], rounds); /* sorts t[a] */
		res->arm[a].med = med / ops;
		res->arm[a].min = (double)t[a][0] / ops;
		res->arm[a].max = (double)t[a][rounds - 1] / ops;
		free(t[a]);
	}
	free(offs);
	res->speedup = res->arm[ARM_BASE].med / res->arm[ARM_MMAPIO].med;
	res->overhead = res->arm[ARM_MMAPIO].med / res->arm[ARM_LIMIT].med;
	res->has_target = !rs->write && !rs->zero;
	res->pass = res->overhead <= OVERHEAD_TARGET;
}

/* The three arms must see the same bytes before anything is timed. */
static void sanity_check(struct ctx *c)
{
	static unsigned char a[4096], b[4096];
	struct bench_rng rng;
	ssize_t r;

	bench_rng_seed(&rng, 7);
	for (int i = 0; i < 64; i++) {
		off_t off = (off_t)bench_rng_below(&rng, c->size - sizeof(a) + 1);
		if (i == 0)
			off = 0;
		else if (i == 1)
			off = (off_t)(c->size - sizeof(a));
		if (pread(c->fd, a, sizeof(a), off) != (ssize_t)sizeof(a))
			die("sanity", "pread failed", errno);
		r = mmapio_read(c->m, off, b, sizeof(b));
		if (r != (ssize_t)sizeof(b)) {
			fprintf(stderr, "bench_core: sanity: mmapio_read(off=%lld) = %zd (%s)\n",
				(long long)off, r, r < 0 ? mmapio_strerror((int)r) : "short");
			exit(1);
		}
		if (memcmp(a, b, sizeof(a)) || memcmp(a, c->raw + off, sizeof(a)))
			die("sanity", "arms disagree on the file contents", 0);
	}
	/* past the end */
	r = mmapio_read(c->m, (off_t)c->size, b, 1);
	if (r != 0)
		fprintf(stderr, "bench_core: warning: mmapio_read at EOF returned %zd, want 0\n",
			r);
}

/* ---- main ------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench_core [--quick] [--file-size BYTES] [--json PATH] [--rounds N] "
		"[--dependent] [--check]\n"
		"  --quick            ~5 s run (fewer ops and rounds)\n"
		"  --file-size BYTES  size of the hot file (default 256M; suffixes k/M/G)\n"
		"  --json PATH        also write the results as JSON to PATH\n"
		"  --rounds N         interleaved rounds per row (default 31, quick 11)\n"
		"  --dependent        read rows as a dependent chain (latency) instead of\n"
		"                     independent ops (throughput, the default)\n"
		"  --check            exit 2 if a read row misses the overhead target\n");
}

int main(int argc, char **argv)
{
	uint64_t file_size = DEFAULT_FILE_SIZE;
	const char *json_path = NULL;
	int quick = 0, check = 0, dep = 0;
	long rounds_opt = 0;
	struct ctx c = { .fd = -1 };
	struct row_result res[NROWS];
	struct utsname un;
	char cpu[256], thp[256];
	long pgsz = sysconf(_SC_PAGESIZE);
	uint64_t t_start = bench_now_ns(), t0;
	int err, misses = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = NULL;
		if (!strcmp(a, "--quick")) {
			quick = 1;
		} else if (!strcmp(a, "--check")) {
			check = 1;
		} else if (!strcmp(a, "--dependent")) {
			dep = 1;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strncmp(a, "--file-size", 11) || !strncmp(a, "--json", 6) ||
			   !strncmp(a, "--rounds", 8)) {
			const char *eq = strchr(a, '=');
			size_t nl = eq ? (size_t)(eq - a) : strlen(a);
			if (eq)
				v = eq + 1;
			else if (i + 1 < argc)
				v = argv[++i];
			if (!v) {
				fprintf(stderr, "bench_core: %s needs a value\n", a);
				return 1;
			}
			if (nl == 11 && !strncmp(a, "--file-size", 11)) {
				file_size = bench_parse_size(v);
				if (!file_size) {
					fprintf(stderr, "bench_core: bad --file-size '%s'\n", v);
					return 1;
				}
			} else if (nl == 6 && !strncmp(a, "--json", 6)) {
				json_path = v;
			} else if (nl == 8 && !strncmp(a, "--rounds", 8)) {
				rounds_opt = strtol(v, NULL, 10);
				if (rounds_opt < NARMS || rounds_opt > 10000) {
					fprintf(stderr, "bench_core: --rounds must be %d..10000\n",
						NARMS);
					return 1;
				}
			} else {
				fprintf(stderr, "bench_core: unknown option '%s'\n", a);
				usage(stderr);
				return 1;
			}
		} else {
			fprintf(stderr, "bench_core: unknown option '%s'\n", a);
			usage(stderr);
			return 1;
		}
	}
	/* whole 64 KiB slots, at least 16 of them */
	file_size &= ~(uint64_t)(MAX_LEN - 1);
	if (file_size < 16ull * MAX_LEN) {
		fprintf(stderr, "bench_core: --file-size must be at least 1 MiB\n");
		return 1;
	}
	uint32_t rounds = rounds_opt ? (uint32_t)rounds_opt : quick ? 11 : 31;

	/* machine info */
	if (uname(&un) != 0)
		snprintf(un.release, sizeof(un.release), "?");
	bench_cpu_model(cpu, sizeof(cpu));
	bench_read_first_line("/sys/kernel/mm/transparent_hugepage/enabled", thp, sizeof(thp));
	printf("libmmapio core benchmark (mmapio %d.%d)%s%s\n", MMAPIO_VERSION_MAJOR,
	       MMAPIO_VERSION_MINOR, quick ? " --quick" : "", dep ? " --dependent" : "");
	printf("  kernel     : %s %s\n", un.release, un.machine);
	printf("  cpu        : %s (%ld online)\n", cpu, sysconf(_SC_NPROCESSORS_ONLN));
	printf("  page size  : %ld\n", pgsz);
	printf("  THP        : %s\n", thp);
	fflush(stdout);

	/* hot file */
	atexit(remove_file);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	t0 = bench_now_ns();
	g_have_path = 0;
	c.fd = bench_hot_file_create("mmapio-bench-core", file_size, 0x6d6d6170696f, g_path,
				     sizeof(g_path));
	if (c.fd < 0)
		return 1;
	g_have_path = 1;
	c.size = file_size;
	if (file_size <= 2 * ZERO_SPAN)
		die("--file-size", "must be above 64 MiB (the last 32 MiB are zeros)", 0);
	{
		static unsigned char zeros[1 << 20];
		for (uint64_t off = file_size - ZERO_SPAN; off < file_size; off += sizeof zeros)
			if (pwrite(c.fd, zeros, sizeof zeros, (off_t)off) != (ssize_t)sizeof zeros)
				die("zero tail", "pwrite failed", errno);
	}
	printf("  file       : %s, %llu MiB on %s (created + synced + read in %.2f s)\n", g_path,
	       (unsigned long long)(file_size >> 20), bench_fs_name(bench_tmpdir()),
	       (bench_now_ns() - t0) / 1e9);

	/* raw map */
	c.raw = mmap(NULL, file_size, PROT_READ | PROT_WRITE, MAP_SHARED, c.fd, 0);
	if (c.raw == MAP_FAILED)
		die("mmap", "failed", errno);

	/* mmapio map */
	struct mmapio_opts o = { 0 };
	o.prewarm = MMAPIO_PREWARM_NONE;
	o.huge = MMAPIO_HUGE_OFF;
	o.flush_policy = MMAPIO_FLUSH_MANUAL;
	err = mmapio_open_fd(&c.m, c.fd, MMAPIO_RDWR, &o);
	if (err < 0) {
		fprintf(stderr, "bench_core: mmapio_open_fd: %s\n", mmapio_strerror(err));
		return 1;
	}
	if (mmapio_size(c.m) != file_size) {
		fprintf(stderr, "bench_core: mmapio_size() = %llu, file is %llu\n",
			(unsigned long long)mmapio_size(c.m), (unsigned long long)file_size);
		return 1;
	}
	void *vp = NULL;
	ssize_t vn = mmapio_view(c.m, 0, file_size, &vp);
	if (vn != (ssize_t)file_size || !vp) {
		fprintf(stderr, "bench_core: mmapio_view(0, size) = %zd\n", vn);
		return 1;
	}
	c.mbase = vp;
	printf("  fault      : %s\n", mmapio_fault_method());

	/* populate both maps: the timed loops must not take page faults */
	t0 = bench_now_ns();
	err = mmapio_prewarm(c.m, 0, file_size);
	printf("  prewarm    : mmapio_prewarm(whole file) -> %s%d in %.1f ms\n",
	       err < 0 ? "error " : "tier ", err, (bench_now_ns() - t0) / 1e6);
	populate(c.mbase, file_size, 0);
	populate(c.raw, file_size, 0);
	print_vma("mmapio", c.mbase);
	print_vma("raw", c.raw);
	printf("  mmapio     : reserved %llu MiB, page size %zu, huge tier %d, flush manual\n",
	       (unsigned long long)(mmapio_reserved(c.m) >> 20), mmapio_page_size(c.m),
	       mmapio_huge_tier(c.m));

	c.dst = aligned_alloc(4096, MAX_LEN);
	c.src = aligned_alloc(4096, MAX_LEN);
	if (!c.dst || !c.src)
		die("buffers", "out of memory", 0);
	memset(c.dst, 0, MAX_LEN);
	{
		struct bench_rng r;
		bench_rng_seed(&r, 99);
		bench_fill_nonzero(&r, c.src, MAX_LEN);
	}
	sanity_check(&c);
	printf("  method     : %u interleaved rounds per row, rotating arm order; "
	       "median ns/op per arm\n",
	       rounds);
	printf("  reads      : %s\n\n",
	       dep ? "dependent chain (each offset waits for the previous op's data: latency)"
		   : "independent ops (the CPU may overlap misses: throughput)");
	fflush(stdout);

	/* rows */
	for (size_t i = 0; i < NROWS; i++) {
		const struct row_spec *rs = &rows[i];
		uint32_t ops = quick ? rs->ops_quick : rs->ops_full;
		if (rs->write) {
			/* writable PTEs (pages dirty) in both maps before timing */
			populate(c.mbase, file_size, 1);
			populate(c.raw, file_size, 1);
		}
		c.bad = 0;
		c.first_err = 0;
		run_row(&c, rs, ops, rounds, dep, 1000 + i, &res[i]);
		if (c.bad) {
			fprintf(stderr, "bench_core: %s: %llu ops failed or were short (%s)\n",
				rs->name, (unsigned long long)c.bad,
				c.first_err ? mmapio_strerror(c.first_err) : "short count");
			return 1;
		}
	}

	/* table */
	{
		enum { NC = 7 };
		static const char *const hdr[NC] = { "row",	"baseline ns/op", "mmapio ns/op",
						     "limit ns/op", "speedup",	      "overhead",
						     "<=1.15" };
		static char buf[NROWS][NC][32];
		const char *cells[NROWS * NC];
		for (size_t i = 0; i < NROWS; i++) {
			const struct row_result *r = &res[i];
			snprintf(buf[i][0], 32, "%s%s", rows[i].name,
				 dep && !rows[i].write ? " dep" : "");
			for (int a = 0; a < NARMS; a++)
				snprintf(buf[i][1 + a], 32, "%.1f", r->arm[a].med);
			snprintf(buf[i][4], 32, "%.2fx", r->speedup);
			snprintf(buf[i][5], 32, "%.3f", r->overhead);
			snprintf(buf[i][6], 32, "%s", !r->has_target ? "-" : r->pass ? "PASS" : "MISS");
			if (r->has_target && !r->pass)
				misses++;
			for (int k = 0; k < NC; k++)
				cells[i * NC + k] = buf[i][k];
		}
		bench_table_print(stdout, NC, hdr, cells, NROWS);
		printf("\nspeedup = baseline/mmapio, overhead = mmapio/limit "
		       "(target <= %.2f on read rows)\n",
		       OVERHEAD_TARGET);
		printf("ops per arm per round:");
		for (size_t i = 0; i < NROWS; i++)
			printf(" %s %u%s", rows[i].name, res[i].ops, i + 1 < NROWS ? "," : "\n");
		size_t ntargets = 0;
		for (size_t i = 0; i < NROWS; i++)
			ntargets += res[i].has_target;
		printf("read targets: %zu/%zu PASS\n", ntargets - (size_t)misses, ntargets);
		if (!dep)
			printf("(independent reads: every instruction mmapio adds per op lowers the "
			       "number of misses in flight; --dependent gives per-op latency)\n");
	}

	/* the manual-flush debt of the write row, reported, not part of any row */
	{
		struct mmapio_stats st0, st1;
		mmapio_get_stats(c.m, &st0);
		t0 = bench_now_ns();
		err = mmapio_flush(c.m);
		double ms = (bench_now_ns() - t0) / 1e6;
		mmapio_get_stats(c.m, &st1);
		printf("post-run mmapio_flush(): %s, %llu msync calls, %.1f MiB, %.0f ms\n",
		       err ? mmapio_strerror(err) : "ok",
		       (unsigned long long)(st1.flushes - st0.flushes),
		       (st1.flushed_bytes - st0.flushed_bytes) / 1048576.0, ms);
	}

	if (json_path) {
		FILE *f = fopen(json_path, "w");
		if (!f) {
			fprintf(stderr, "bench_core: %s: %s\n", json_path, strerror(errno));
		} else {
			fprintf(f,
				"{\n  \"bench\": \"core\",\n  \"quick\": %s,\n"
				"  \"read_mode\": \"%s\",\n",
				quick ? "true" : "false", dep ? "dependent" : "independent");
			fprintf(f, "  \"machine\": {\"kernel\": ");
			bench_json_str(f, un.release);
			fprintf(f, ", \"arch\": ");
			bench_json_str(f, un.machine);
			fprintf(f, ", \"cpu\": ");
			bench_json_str(f, cpu);
			fprintf(f, ", \"cpus\": %ld, \"page_size\": %ld, \"thp\": ",
				sysconf(_SC_NPROCESSORS_ONLN), pgsz);
			bench_json_str(f, thp);
			fprintf(f, ", \"fs\": ");
			bench_json_str(f, bench_fs_name(bench_tmpdir()));
			fprintf(f, "},\n  \"fault_method\": ");
			bench_json_str(f, mmapio_fault_method());
			fprintf(f,
				",\n  \"file_size\": %llu,\n  \"rounds\": %u,\n"
				"  \"overhead_target\": %.2f,\n  \"rows\": [\n",
				(unsigned long long)file_size, rounds, OVERHEAD_TARGET);
			for (size_t i = 0; i < NROWS; i++) {
				const struct row_result *r = &res[i];
				fprintf(f,
					"    {\"name\": \"%s\", \"op\": \"%s\", \"bytes\": %zu, "
					"\"ops_per_round\": %u, \"rounds\": %u",
					rows[i].key, rows[i].write ? "write" : "read", rows[i].len,
					r->ops, r->rounds);
				for (int a = 0; a < NARMS; a++)
					fprintf(f,
						", \"%s_ns\": %.2f, \"%s_ns_min\": %.2f, "
						"\"%s_ns_max\": %.2f",
						arm_name[a], r->arm[a].med, arm_name[a], r->arm[a].min,
						arm_name[a], r->arm[a].max);
				fprintf(f, ", \"speedup\": %.4f, \"overhead\": %.4f, \"pass\": %s}%s\n",
					r->speedup, r->overhead,
					!r->has_target ? "null" : r->pass ? "true" : "false",
					i + 1 < NROWS ? "," : "");
			}
			fprintf(f, "  ]\n}\n");
			if (fclose(f) != 0)
				fprintf(stderr, "bench_core: writing %s failed\n", json_path);
		}
	}

	/* teardown */
	t0 = bench_now_ns();
	munmap(c.raw, file_size);
	err = mmapio_close(c.m);
	if (err)
		fprintf(stderr, "bench_core: mmapio_close: %s\n", mmapio_strerror(err));
	close(c.fd);
	remove_file();
	free(c.dst);
	free(c.src);
	printf("total %.1f s (teardown %.0f ms)\n", (bench_now_ns() - t_start) / 1e9,
	       (bench_now_ns() - t0) / 1e6);
	return (check && misses) ? 2 : 0;
}
