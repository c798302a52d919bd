/*
 * bench/common.h - small helpers shared by the libmmapio benchmarks.
 *
 * Header-only (every function is static) so each bench is a single
 * translation unit: gcc -std=gnu11 -O2 -Iinclude bench/X.c build/libmmapio.a
 *
 *   bench_now_ns()          monotonic clock in nanoseconds
 *   struct bench_rng        xorshift64 PRNG (never seeded with 0)
 *   bench_hot_file_create() temp file of N bytes of non-zero pseudo-random
 *                           data, synced to disk and read once (page-cache hot)
 *   bench_table_print()     fixed-width text table with auto-sized columns
 *   bench_parse_size()      "256M", "1g", "65536" -> bytes
 *   bench_median_u64()      median of an array (sorts it)
 *   bench_read_first_line() first line of a small file (/sys, /proc), "?" if none
 *   bench_json_str()        a C string as a JSON string literal
 */
#ifndef MMAPIO_BENCH_COMMON_H
#define MMAPIO_BENCH_COMMON_H

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/vfs.h>
#include <unistd.h>

/* ---- clock ------------------------------------------------------------ */

static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- PRNG ------------------------------------------------------------- */

struct bench_rng {
	uint64_t s;
};

static inline void bench_rng_seed(struct bench_rng *r, uint64_t seed)
{
	/* splitmix64 step so that nearby seeds give unrelated streams; never 0 */
	uint64_t z = seed + 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	r->s = z ? z : 0x2545f4914f6cdd1dull;
}

static inline uint64_t bench_rng_next(struct bench_rng *r)
{
	uint64_t x = r->s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	r->s = x;
	return x;
}

/* Uniform in [0, n), n > 0 (Lemire's multiply-shift; bias < n / 2^64). */
static inline uint64_t bench_rng_below(struct bench_rng *r, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)bench_rng_next(r) * n) >> 64);
}

/* Fill buf with pseudo-random bytes, none of them zero. */
static inline void bench_fill_nonzero(struct bench_rng *r, void *buf, size_t len)
{
	unsigned char *p = (unsigned char *)buf;
	while (len >= 8) {
		uint64_t v = bench_rng_next(r) | 0x0101010101010101ull;
		memcpy(p, &v, 8);
		p += 8;
		len -= 8;
	}
	while (len--)
		*p++ = (unsigned char)(bench_rng_next(r) | 1u);
}

/* ---- hot file --------------------------------------------------------- */

/* Directory for scratch files: $TMPDIR if set and non-empty, else /tmp. */
static inline const char *bench_tmpdir(void)
{
	const char *d = getenv("TMPDIR");
	return (d && *d) ? d : "/tmp";
}

/*
 * Create "<tmpdir>/<prefix>-XXXXXX" of exactly `size` bytes of non-zero
 * pseudo-random data (deterministic for a given seed), fdatasync it so no
 * writeback runs later during measurements, then read it once sequentially
 * so that every page is in the page cache. The path is stored in
 * path[pathcap]. Returns an O_RDWR fd, or -1 with errno set and a message on
 * stderr (the file is removed on failure).
 */
static inline int bench_hot_file_create(const char *prefix, uint64_t size, uint64_t seed,
					char *path, size_t pathcap)
{
	const size_t chunk = 1u << 20;
	unsigned char *buf = NULL;
	struct bench_rng rng;
	uint64_t done;
	int fd, n, saved;

	n = snprintf(path, pathcap, "%s/%s-XXXXXX", bench_tmpdir(), prefix);
	if (n < 0 || (size_t)n >= pathcap) {
		errno = ENAMETOOLONG;
		fprintf(stderr, "bench: temp path too long\n");
		return -1;
	}
	fd = mkstemp(path);
	if (fd < 0) {
		saved = errno;
		fprintf(stderr, "bench: mkstemp(%s): %s\n", path, strerror(errno));
		errno = saved;
		return -1;
	}
	buf = (unsigned char *)malloc(chunk);
	if (!buf) {
		saved = ENOMEM;
		goto fail;
	}
	bench_rng_seed(&rng, seed);
	for (done = 0; done < size;) {
		size_t want = (size - done) < chunk ? (size_t)(size - done) : chunk;
		size_t off = 0;
		bench_fill_nonzero(&rng, buf, want);
		while (off < want) {
			ssize_t w = pwrite(fd, buf + off, want - off, (off_t)(done + off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				saved = w < 0 ? errno : EIO;
				goto fail;
			}
			off += (size_t)w;
		}
		done += want;
	}
	if (fdatasync(fd) != 0) {
		saved = errno;
		goto fail;
	}
	/* read once: make it hot (and check it is all there) */
	for (done = 0; done < size;) {
		size_t want = (size - done) < chunk ? (size_t)(size - done) : chunk;
		ssize_t r = pread(fd, buf, want, (off_t)done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			saved = r < 0 ? errno : EIO;
			goto fail;
		}
		done += (uint64_t)r;
	}
	free(buf);
	return fd;
fail:
	fprintf(stderr, "bench: creating %s (%llu bytes): %s\n", path,
		(unsigned long long)size, strerror(saved));
	free(buf);
	close(fd);
	unlink(path);
	errno = saved;
	return -1;
}

/* ---- misc ------------------------------------------------------------- */

/* "4096", "64k", "256M", "1G", "1GiB" (binary units) -> bytes; 0 on error. */
static inline uint64_t bench_parse_size(const char *s)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1;

	if (!s || !isdigit((unsigned char)*s))
		return 0;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno)
		return 0;
	switch (tolower((unsigned char)*end)) {
	case '\0':
		break;
	case 'k':
		mul = 1ull << 10;
		end++;
		break;
	case 'm':
		mul = 1ull << 20;
		end++;
		break;
	case 'g':
		mul = 1ull << 30;
		end++;
		break;
	case 't':
		mul = 1ull << 40;
		end++;
		break;
	default:
		return 0;
	}
	if (mul > 1 && (!strcmp(end, "iB") || !strcmp(end, "ib") || !strcmp(end, "B") ||
			!strcmp(end, "b")))
		end += strlen(end);
	if (*end || (v && mul > UINT64_MAX / v))
		return 0;
	return (uint64_t)v * mul;
}

static inline int bench_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* Median of v[0..n) (n > 0); sorts v in place. Even n: mean of the middle two. */
static inline double bench_median_u64(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), bench_cmp_u64);
	if (n & 1)
		return (double)v[n / 2];
	return ((double)v[n / 2 - 1] + (double)v[n / 2]) / 2.0;
}

/* ---- table printer ---------------------------------------------------- */

/*
 * Print a table of nrows x ncols strings (cells[r * ncols + c]) under a
 * header row, columns sized to fit. Column 0 is left-aligned, the others
 * right-aligned. A NULL cell prints as empty.
 */
#define BENCH_TABLE_MAXCOLS 16
static inline void bench_table_print(FILE *out, size_t ncols, const char *const *hdr,
				     const char *const *cells, size_t nrows)
{
	size_t w[BENCH_TABLE_MAXCOLS] = { 0 };
	size_t r, c, total = 0;

	if (ncols > BENCH_TABLE_MAXCOLS)
		ncols = BENCH_TABLE_MAXCOLS;
	for (c = 0; c < ncols; c++) {
		w[c] = strlen(hdr[c]);
		for (r = 0; r < nrows; r++) {
			const char *s = cells[r * ncols + c];
			size_t l = s ? strlen(s) : 0;
			if (l > w[c])
				w[c] = l;
		}
		total += w[c] + (c ? 2 : 0);
	}
	for (c = 0; c < ncols; c++)
		fprintf(out, c ? "  %*s" : "%-*s", (int)w[c], hdr[c]);
	fputc('\n', out);
	for (c = 0; c < total; c++)
		fputc('-', out);
	fputc('\n', out);
	for (r = 0; r < nrows; r++) {
		for (c = 0; c < ncols; c++) {
			const char *s = cells[r * ncols + c];
			fprintf(out, c ? "  %*s" : "%-*s", (int)w[c], s ? s : "");
		}
		fputc('\n', out);
	}
}

/* The CPU model line of /proc/cpuinfo, for the table header. */
static inline void bench_cpu_model(char *out, size_t cap)
{
	static const char *const keys[] = { "model name", "Model", "Hardware", "cpu model",
					    "uarch", "cpu" };
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];

	snprintf(out, cap, "unknown");
	if (!f)
		return;
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		rewind(f);
		while (fgets(line, sizeof(line), f)) {
			size_t kl = strlen(keys[k]);
			char *p = line + kl;
			if (strncmp(line, keys[k], kl) != 0)
				continue;
			while (*p == ' ' || *p == '\t')
				p++;
			if (*p != ':')
				continue;
			p++;
			while (*p == ' ' || *p == '\t')
				p++;
			p[strcspn(p, "\n")] = 0;
			snprintf(out, cap, "%s", p);
			fclose(f);
			return;
		}
	}
	fclose(f);
}

/* A name for the file system the bench files live on. */
static inline const char *bench_fs_name(const char *dir)
{
	struct statfs sf;

	if (statfs(dir, &sf) != 0)
		return "?";
	switch ((unsigned long)sf.f_type) {
	case 0xEF53: return "ext2/3/4";
	case 0x01021994: return "tmpfs";
	case 0x58465342: return "xfs";
	case 0x9123683E: return "btrfs";
	case 0x2FC12FC1: return "zfs";
	case 0x794C7630: return "overlayfs";
	case 0x958458f6: return "hugetlbfs";
	case 0xF2F52010: return "f2fs";
	case 0x6969: return "nfs";
	case 0x65735546: return "fuse";
	default: return "other";
	}
}

/* ---- small files and JSON --------------------------------------------- */

/* The first line of a file, without its newline; "?" if it cannot be read. */
static inline void bench_read_first_line(const char *path, char *out, size_t cap)
{
	FILE *f = fopen(path, "r");

	snprintf(out, cap, "?");
	if (!f)
		return;
	if (fgets(out, (int)cap, f))
		out[strcspn(out, "\n")] = 0;
	fclose(f);
}

/* s as a JSON string: quotes, backslashes and control bytes escaped. */
static inline void bench_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

#endif /* MMAPIO_BENCH_COMMON_H */
