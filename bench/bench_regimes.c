/*
 * bench_regimes.c - the shim's MMAPIO_MODE arms in every page-cache regime
 * a user meets.
 *
 * A speed claim holds only with its regime named. This bench runs one
 * workload program under LD_PRELOAD=libmmapio_preload.so with
 * MMAPIO_MODE=never, auto and always, in three regimes:
 *
 *   hot    the file is in the page cache before every run (the driver
 *          reads it whole first) and memory is free;
 *   cold   the driver writes the file back and drops it from the page
 *          cache (fdatasync + posix_fadvise(POSIX_FADV_DONTNEED)) before
 *          every run; memory is free, so the cache warms during the run;
 *   memcg  cold as above, and the workload runs inside a memory cgroup
 *          limited to 256 MiB (cgroup v2 memory.max, or v1
 *          memory.limit_in_bytes): the 1 GiB file cannot stay cached.
 *          Needs root and a memory controller; reported as skip otherwise.
 *
 * Workloads (the file is 1 GiB of non-zero random bytes, kept in the
 * build directory between runs):
 *   4 KiB random pread, 4 KiB random in-place pwrite, 4 KiB sequential
 *   read(), 128 KiB sequential read() (pass after pass), 16 KiB read()s
 *   of the whole file once (what wc, grep or a checksum do: a map's first
 *   pass costs more than read(2)), and 4 KiB random preads from two
 *   threads sharing one descriptor.
 * Each run lasts a fixed time (--secs, default 2; the one-pass row stops
 * at the end of the file, or at the deadline if that comes first) from
 * a fresh process;
 * its figure is operations per second over the whole run (in the cold
 * regimes the cache warms as it goes, and that is part of the answer).
 *
 * Every round runs every arm of a row once, in an order that rotates from
 * round to round; a row's figure is the median over rounds with [min-max],
 * and its ratios (auto/never, always/never) are medians of the ratios of
 * the same round. Afterwards each row's auto and always arms run once more
 * with MMAPIO_STATS, untimed, to print what the shim decided and why.
 *
 * Targets (--check exits 2 if one is missed): auto at least 0.95x never
 * on every row; at least 1.5x on hot random 4 KiB reads; at least 1.0x on
 * cold random 4 KiB reads.
 *
 * Run: build/bench/bench_regimes [--quick] [--rounds N] [--secs S]
 *        [--rows SUBSTR[,SUBSTR]] [--dir DIR] [--check] [--list]
 * The shim is ../libmmapio_preload.so next to the binary, or $MMAPIO_PRELOAD.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

#define FILE_SIZE (1ull << 30)
#define MEMCG_LIMIT (256ull << 20)
#define SEED 0x7e61e5ull
#define MAXROUNDS 32

enum arm { A_NEVER, A_AUTO, A_ALWAYS, NARMS };
static const char *const arm_name[NARMS] = { "never", "auto", "always" };

enum regime { R_HOT, R_COLD, R_MEMCG, NREGIMES };
static const char *const regime_name[NREGIMES] = { "hot", "cold", "memcg" };

enum wl { W_RREAD, W_RWRITE, W_SEQ4K, W_SEQ128K, W_ONCE16K, W_RREAD2T, NWL };
static const struct {
	const char *key, *name;
	size_t len;
	int threads;
	bool write, seq, once;
} wls[NWL] = {
	[W_RREAD] = { "rread4k", "4 KiB random pread", 4096, 1, false, false },
	[W_RWRITE] = { "rwrite4k", "4 KiB random pwrite", 4096, 1, true, false },
	[W_SEQ4K] = { "seq4k", "4 KiB sequential read()", 4096, 1, false, true },
	[W_SEQ128K] = { "seq128k", "128 KiB sequential read()", 128 << 10, 1, false, true },
	[W_ONCE16K] = { "once16k", "16 KiB read(), one pass", 16 << 10, 1, false, true, true },
	[W_RREAD2T] = { "rread4k2t", "4 KiB random pread, 2 threads", 4096, 2, false, false },
};

/* ---- the workload (child) ---------------------------------------------- */

struct worker {
	int fd, wl;
	uint64_t size, deadline, ops;
	unsigned seed;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	size_t len = wls[w->wl].len;
	unsigned char *buf = malloc(len);
	struct bench_rng rng;
	uint64_t slots = w->size / len, ops = 0;

	if (!buf)
		return NULL;
	bench_rng_seed(&rng, SEED + w->seed);
	bench_fill_nonzero(&rng, buf, len);
	for (;;) {
		for (int k = 0; k < 32; k++, ops++) {
			ssize_t n;
			if (wls[w->wl].seq) {
				n = read(w->fd, buf, len);
				if (n == 0 && wls[w->wl].once)
					goto done; /* the whole file, once: wc, grep, a checksum */
				if (n == 0) {
					lseek(w->fd, 0, SEEK_SET);
					n = read(w->fd, buf, len);
				}
			} else {
				off_t off = (off_t)(bench_rng_below(&rng, slots) * len);
				n = wls[w->wl].write ? pwrite(w->fd, buf, len, off)
						     : pread(w->fd, buf, len, off);
			}
			if (n <= 0) {
				perror("bench_regimes: I/O");
				exit(1);
			}
		}
		if (bench_now_ns() >= w->deadline)
			break;
	}
done:
	w->ops = ops;
	free(buf);
	return NULL;
}

/* --child WL FILE SECS: print "ops elapsed_ns". */
static int child_main(char **argv)
{
	int wl = atoi(argv[0]);
	double secs = atof(argv[2]);
	if (wl < 0 || wl >= NWL || secs <= 0)
		return 2;
	int fd = open(argv[1], wls[wl].write ? O_RDWR : O_RDONLY);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	struct worker w[2];
	pthread_t t[2];
	uint64_t start = bench_now_ns();
	for (int i = 0; i < wls[wl].threads; i++) {
		w[i] = (struct worker){ .fd = fd, .wl = wl, .size = FILE_SIZE,
					.deadline = start + (uint64_t)(secs * 1e9), .seed = (unsigned)i };
		if (pthread_create(&t[i], NULL, work, &w[i]) != 0)
			return 1;
	}
	uint64_t ops = 0;
	for (int i = 0; i < wls[wl].threads; i++) {
		pthread_join(t[i], NULL);
		ops += w[i].ops;
	}
	printf("%llu %llu\n", (unsigned long long)ops,
	       (unsigned long long)(bench_now_ns() - start));
	close(fd);
	return 0;
}

/* ---- regimes (driver) ---------------------------------------------------- */

static char data_path[PATH_MAX + 64], shim_path[PATH_MAX + 64], self_path[PATH_MAX];
static char memcg_dir[PATH_MAX + 64], memcg_why[256];
static bool memcg_v2;

static int data_file(const char *dir)
{
	struct stat st;
	snprintf(data_path, sizeof data_path, "%s/regimes-1g.dat", dir);
	if (stat(data_path, &st) == 0 && (uint64_t)st.st_size == FILE_SIZE)
		return 0;
	fprintf(stderr, "bench_regimes: creating %s (1 GiB)\n", data_path);
	int fd = open(data_path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	unsigned char *buf = malloc(1 << 20);
	struct bench_rng rng;
	if (fd < 0 || !buf) {
		perror(data_path);
		return -1;
	}
	bench_rng_seed(&rng, SEED);
	for (uint64_t off = 0; off < FILE_SIZE; off += 1 << 20) {
		bench_fill_nonzero(&rng, buf, 1 << 20);
		if (pwrite(fd, buf, 1 << 20, (off_t)off) != 1 << 20) {
			perror(data_path);
			return -1;
		}
	}
	fdatasync(fd);
	close(fd);
	free(buf);
	return 0;
}

static void cache_drop(void)
{
	int fd = open(data_path, O_RDONLY);
	if (fd < 0)
		return;
	fdatasync(fd);
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	close(fd);
}

static void cache_fill(void)
{
	int fd = open(data_path, O_RDONLY);
	char *buf = malloc(1 << 20);
	if (fd >= 0 && buf)
		while (read(fd, buf, 1 << 20) > 0)
			;
	free(buf);
	if (fd >= 0)
		close(fd);
}

static int write_str(const char *dir, const char *name, const char *val)
{
	char p[2 * PATH_MAX];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	int fd = open(p, O_WRONLY);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -1;
}

/* A memory cgroup of MEMCG_LIMIT for the workload, v2 first, then v1. */
static bool memcg_setup(void)
{
	char lim[32];
	snprintf(lim, sizeof lim, "%llu", (unsigned long long)MEMCG_LIMIT);
	if (geteuid() != 0) {
		snprintf(memcg_why, sizeof memcg_why, "needs root (to create a memory cgroup)");
		return false;
	}
	static const char *const v2roots[] = { "/sys/fs/cgroup", "/sys/fs/cgroup/unified" };
	for (size_t i = 0; i < 2; i++) {
		char ctl[PATH_MAX + 64];
		snprintf(ctl, sizeof ctl, "%s/cgroup.controllers", v2roots[i]);
		FILE *f = fopen(ctl, "r");
		char line[256] = "";
		if (!f)
			continue;
		if (!fgets(line, sizeof line, f))
			line[0] = 0;
		fclose(f);
		if (!strstr(line, "memory"))
			continue;
		write_str(v2roots[i], "cgroup.subtree_control", "+memory");
		snprintf(memcg_dir, sizeof memcg_dir, "%s/mmapio-bench-%d", v2roots[i], (int)getpid());
		if (mkdir(memcg_dir, 0755) == 0 && write_str(memcg_dir, "memory.max", lim) == 0) {
			write_str(memcg_dir, "memory.swap.max", "0");
			memcg_v2 = true;
			return true;
		}
		rmdir(memcg_dir);
	}
	snprintf(memcg_dir, sizeof memcg_dir, "/sys/fs/cgroup/memory/mmapio-bench-%d", (int)getpid());
	if (mkdir(memcg_dir, 0755) == 0 && write_str(memcg_dir, "memory.limit_in_bytes", lim) == 0)
		return true;
	rmdir(memcg_dir);
	memcg_dir[0] = 0;
	snprintf(memcg_why, sizeof memcg_why, "no memory cgroup controller (v2 or v1) available");
	return false;
}

static void memcg_cleanup(void)
{
	if (memcg_dir[0])
		rmdir(memcg_dir);
}

static void on_signal(int sig)
{
	memcg_cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Run one arm of a row; returns ops/s, or -1. With stats, the shim's
 * JSON line goes to that path. */
static double run_arm(int regime, int wl, int arm, double secs, const char *stats)
{
	if (regime == R_HOT)
		cache_fill();
	else
		cache_drop();
	int p[2];
	if (pipe(p) != 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		char wlbuf[16], secbuf[32], pidbuf[32];
		close(p[0]);
		dup2(p[1], 1);
		if (regime == R_MEMCG) {
			snprintf(pidbuf, sizeof pidbuf, "%d", (int)getpid());
			if (write_str(memcg_dir, "cgroup.procs", pidbuf) != 0)
				_exit(3);
		}
		setenv("LD_PRELOAD", shim_path, 1);
		setenv("MMAPIO_MODE", arm_name[arm], 1);
		if (stats)
			setenv("MMAPIO_STATS", stats, 1);
		else
			unsetenv("MMAPIO_STATS");
		snprintf(wlbuf, sizeof wlbuf, "%d", wl);
		snprintf(secbuf, sizeof secbuf, "%g", secs);
		execl(self_path, self_path, "--child", wlbuf, data_path, secbuf, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	char out[128] = "";
	ssize_t n = read(p[0], out, sizeof out - 1);
	close(p[0]);
	int status;
	waitpid(pid, &status, 0);
	unsigned long long ops, ns;
	if (n <= 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
	    sscanf(out, "%llu %llu", &ops, &ns) != 2 || ns == 0) {
		fprintf(stderr, "bench_regimes: %s/%s/%s failed (status %d)\n", regime_name[regime],
			wls[wl].key, arm_name[arm], status);
		return -1;
	}
	return (double)ops * 1e9 / (double)ns;
}

/* ---- results --------------------------------------------------------------- */

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(const double *v, int n, double *lo, double *hi)
{
	double s[MAXROUNDS];
	memcpy(s, v, (size_t)n * sizeof *v);
	qsort(s, (size_t)n, sizeof *s, cmp_d);
	*lo = s[0];
	*hi = s[n - 1];
	return n & 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static void fmt_ops(char *out, size_t cap, double v)
{
	if (v >= 1e6)
		snprintf(out, cap, "%.2fM", v / 1e6);
	else if (v >= 1e4)
		snprintf(out, cap, "%.0fk", v / 1e3);
	else
		snprintf(out, cap, "%.0f", v);
}

/* The decision and reason of the data file in a stats file, first line. */
static void decision_of(const char *stats, char *out, size_t cap)
{
	FILE *f = fopen(stats, "r");
	char line[8192];
	snprintf(out, cap, "?");
	if (!f)
		return;
	if (fgets(line, sizeof line, f)) {
		char *p = strstr(line, "regimes-1g.dat\""), *d, *r, *s;
		if (p && (d = strstr(p, "\"decision\":\"")) && (r = strstr(p, "\"reason\":\"")) &&
		    (s = strstr(p, "\"served_calls\":"))) {
			d += 12;
			r += 10;
			char *re = strchr(r, '"');
			int dl = (int)strcspn(d, "\""), rl = re ? (int)(re - r) : 0;
			snprintf(out, cap, "%.*s (%.*s), %llu served", dl, d, rl, r,
				 strtoull(s + 15, NULL, 10));
		}
	}
	fclose(f);
}

struct target {
	int regime, wl;
	double min;
};
static const struct target targets[] = {
	{ R_HOT, W_RREAD, 1.5 },
	{ R_COLD, W_RREAD, 1.0 },
};

static double target_of(int regime, int wl)
{
	for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++)
		if (targets[i].regime == regime && targets[i].wl == wl)
			return targets[i].min;
	return 0.95;
}

static bool selected(int regime, int wl, const char *filter)
{
	char key[64];
	if (!filter)
		return true;
	snprintf(key, sizeof key, "%s.%s", regime_name[regime], wls[wl].key);
	char *copy = strdup(filter), *save = NULL;
	bool hit = false;
	for (char *t = strtok_r(copy, ",", &save); t && !hit; t = strtok_r(NULL, ",", &save))
		hit = strstr(key, t) != NULL;
	free(copy);
	return hit;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_regimes [--quick] [--rounds N] [--secs S] [--rows SUBSTR[,...]]\n"
		   "                     [--dir DIR] [--check] [--list]\n");
}

int main(int argc, char **argv)
{
	if (argc >= 5 && !strcmp(argv[1], "--child"))
		return child_main(argv + 2);
	int rounds = 5;
	double secs = 2;
	const char *filter = NULL, *dir = NULL;
	bool check = false, list = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			rounds = 3;
			secs = 1;
		} else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) {
			rounds = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--secs") && i + 1 < argc) {
			secs = atof(argv[++i]);
		} else if (!strcmp(argv[i], "--rows") && i + 1 < argc) {
			filter = argv[++i];
		} else if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
			dir = argv[++i];
		} else if (!strcmp(argv[i], "--check")) {
			check = true;
		} else if (!strcmp(argv[i], "--list")) {
			list = true;
		} else {
			usage(!strcmp(argv[i], "--help") ? stdout : stderr);
			return strcmp(argv[i], "--help") ? 1 : 0;
		}
	}
	if (list) {
		for (int r = 0; r < NREGIMES; r++)
			for (int w = 0; w < NWL; w++)
				printf("%s.%s  %s, %s\n", regime_name[r], wls[w].key, wls[w].name,
				       regime_name[r]);
		return 0;
	}
	if (rounds < 1 || rounds > MAXROUNDS || secs <= 0) {
		usage(stderr);
		return 1;
	}
	ssize_t n = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
	if (n <= 0)
		return 1;
	self_path[n] = 0;
	const char *env_shim = getenv("MMAPIO_PRELOAD");
	if (env_shim)
		snprintf(shim_path, sizeof shim_path, "%s", env_shim);
	else
		snprintf(shim_path, sizeof shim_path, "%.*s/../libmmapio_preload.so",
			 (int)(strrchr(self_path, '/') - self_path), self_path);
	if (access(shim_path, R_OK) != 0) {
		fprintf(stderr, "bench_regimes: no shim at %s\n", shim_path);
		return 1;
	}
	char defdir[PATH_MAX];
	if (!dir) {
		snprintf(defdir, sizeof defdir, "%.*s/../bench-data",
			 (int)(strrchr(self_path, '/') - self_path), self_path);
		mkdir(defdir, 0755);
		dir = defdir;
	}
	if (data_file(dir) != 0)
		return 1;
	bool have_memcg = memcg_setup();
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	char cpu[128];
	bench_cpu_model(cpu, sizeof cpu);
	printf("bench_regimes: %s, %ld CPUs, %s, 1 GiB file, %d rounds of %g s per arm; "
	       "memcg limit 256 MiB (%s)\n",
	       cpu, sysconf(_SC_NPROCESSORS_ONLN), bench_fs_name(dir), rounds, secs,
	       have_memcg ? (memcg_v2 ? "cgroup v2" : "cgroup v1") : memcg_why);

	int missed = 0;
	char stats[PATH_MAX + 64];
	snprintf(stats, sizeof stats, "%s/regimes-stats.jsonl", dir);
	for (int rg = 0; rg < NREGIMES; rg++) {
		bool any = false;
		for (int w = 0; w < NWL; w++)
			any |= selected(rg, w, filter);
		if (!any)
			continue;
		printf("\n%s regime%s\n", regime_name[rg],
		       rg == R_HOT ? " (file cached before every run)"
		       : rg == R_COLD ? " (file dropped from the cache before every run, memory free)"
				      : " (dropped before every run, 256 MiB memory cgroup)");
		if (rg == R_MEMCG && !have_memcg) {
			printf("skip: %s\n", memcg_why);
			continue;
		}
		printf("%-30s %22s %22s %22s %20s %20s  %s\n", "row (ops/s)", "never", "auto",
		       "always", "auto/never", "always/never", "target");
		for (int w = 0; w < NWL; w++) {
			if (!selected(rg, w, filter))
				continue;
			double v[NARMS][MAXROUNDS], ratio[2][MAXROUNDS];
			bool failed = false;
			for (int r = 0; r < rounds && !failed; r++) {
				for (int k = 0; k < NARMS; k++) {
					int a = (k + r) % NARMS;
					v[a][r] = run_arm(rg, w, a, secs, NULL);
					failed |= v[a][r] < 0;
				}
				ratio[0][r] = v[A_AUTO][r] / v[A_NEVER][r];
				ratio[1][r] = v[A_ALWAYS][r] / v[A_NEVER][r];
			}
			if (failed) {
				printf("%-30s failed\n", wls[w].name);
				missed++;
				continue;
			}
			char cells[5][64];
			for (int a = 0; a < NARMS; a++) {
				double lo, hi, m = median(v[a], rounds, &lo, &hi);
				char sm[16], sl[16], sh[16];
				fmt_ops(sm, sizeof sm, m);
				fmt_ops(sl, sizeof sl, lo);
				fmt_ops(sh, sizeof sh, hi);
				snprintf(cells[a], sizeof cells[a], "%s [%s-%s]", sm, sl, sh);
			}
			double want = target_of(rg, w), auto_ratio = 0;
			for (int q = 0; q < 2; q++) {
				double lo, hi, m = median(ratio[q], rounds, &lo, &hi);
				snprintf(cells[3 + q], sizeof cells[3 + q], "%.2f [%.2f-%.2f]", m, lo, hi);
				if (q == 0)
					auto_ratio = m;
			}
			bool ok = auto_ratio >= want;
			missed += !ok;
			/* A miss by less than the printed rounding shows its digits. */
			char verdict[32];
			snprintf(verdict, sizeof verdict, ok ? "met" : "MISSED (%.3f)", auto_ratio);
			printf("%-30s %22s %22s %22s %20s %20s  %.2f %s\n", wls[w].name, cells[0],
			       cells[1], cells[2], cells[3], cells[4], want, verdict);
			fflush(stdout);
		}
		for (int w = 0; w < NWL; w++) {
			if (!selected(rg, w, filter))
				continue;
			for (int a = A_AUTO; a <= A_ALWAYS; a++) {
				char d[512];
				unlink(stats);
				if (run_arm(rg, w, a, secs, stats) < 0)
					continue;
				decision_of(stats, d, sizeof d);
				printf("  %s, %s: %s\n", wls[w].name, arm_name[a], d);
			}
		}
		fflush(stdout);
	}
	unlink(stats);
	memcg_cleanup();
	if (missed)
		printf("\n%d row(s) missed their target\n", missed);
	return check && missed ? 2 : 0;
}
