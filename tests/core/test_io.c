/*
 * test_io.c - bounded reads and writes, COW isolation, views, iteration,
 * and growth while other threads read.
 */
#include "tutil.h"
#include "testing.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>

static mmapio_map *open_ok(const char *path, int mode, const struct mmapio_opts *o)
{
	mmapio_map *m = NULL;
	int r = mmapio_open(&m, path, mode, o);
	if (r != 0)
		fail_msg("mmapio_open(%s, mode %d) = %d (%s)", path, mode, r, strerror(-r));
	assert_non_null(m);
	return m;
}

static ssize_t pread_ret(int fd, void *buf, size_t len, off_t off)
{
	ssize_t r = pread(fd, buf, len, off);
	return r < 0 ? -errno : r;
}

/* mmapio_read gives what pread gives: bytes, short counts at EOF, 0 past it. */
static void test_read_like_pread(void **state)
{
	(void)state;
	char path[PATH_MAX];
	tu_path(path, sizeof path, "read");
	const uint64_t N = 3 * tu_ps + 123;
	T_OK(tu_make_file(path, N));
	mmapio_map *m = open_ok(path, MMAPIO_RDONLY, NULL);
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);

	const struct {
		int64_t off;
		size_t len;
	} c[] = {
		{ 0, 0 },
		{ 0, 1 },
		{ 0, (size_t)N },
		{ 0, (size_t)N + 1000 },
		{ 1, (size_t)tu_ps },
		{ (int64_t)tu_ps - 3, 7 },
		{ (int64_t)N - 10, 100 },
		{ (int64_t)N - 1, 1 },
		{ (int64_t)N, 10 },
		{ (int64_t)N, 0 },
		{ (int64_t)N + 1, 10 },
		{ (int64_t)N + 5000, 10 },
		{ INT64_MAX - 200, 100 },
		{ -1, 10 },
		{ INT64_MIN, 10 },
	};
	const size_t cap = (size_t)N + 2000;
	uint8_t *a = malloc(cap), *b = malloc(cap);
	assert_true(a && b);
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		memset(a, 0xEE, cap);
		memset(b, 0xEE, cap);
		ssize_t rm = mmapio_read(m, (off_t)c[i].off, a, c[i].len);
		ssize_t rk = pread_ret(fd, b, c[i].len, (off_t)c[i].off);
		if (rm != rk)
			fail_msg("case %zu: mmapio_read(off %lld, len %zu) = %zd, pread = %zd", i,
				 (long long)c[i].off, c[i].len, rm, rk);
		if (rm > 0 && memcmp(a, b, (size_t)rm))
			fail_msg("case %zu: data differs from pread", i);
		if (rm >= 0 && rm < (ssize_t)cap && a[rm] != 0xEE)
			fail_msg("case %zu: wrote past the returned count", i);
	}
	/* the explicit contract, independent of pread */
	T_EQ(mmapio_read(m, -1, a, 10), -EINVAL);
	T_EQ(mmapio_read(m, 0, a, (size_t)SSIZE_MAX + 1), -EINVAL);
	T_EQ(mmapio_read(m, 0, a, SIZE_MAX), -EINVAL);
	free(a);
	free(b);
	close(fd);
	T_OK(mmapio_close(m));
}

/*
 * off + len past INT64_MAX: -EINVAL, which is what pread(2) answers
 * (rw_verify_area); the test checks both the contract and the kernel.
 */
static void test_offset_overflow(void **state)
{
	(void)state;
	char path[PATH_MAX];
	tu_path(path, sizeof path, "ovf");
	T_OK(tu_make_file(path, tu_ps));
	mmapio_map *m = open_ok(path, MMAPIO_RDWR, NULL);
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	uint8_t b[100] = { 0 };
	const struct {
		int64_t off;
		size_t len;
	} c[] = {
		{ INT64_MAX - 1, 100 }, { INT64_MAX, 1 }, { INT64_MAX - 99, 100 },
		{ INT64_MAX - 100, 100 }, { INT64_MAX - 200, 100 }, { INT64_MAX, 0 },
		{ 1, (size_t)INT64_MAX },
	};
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		ssize_t rm = mmapio_read(m, (off_t)c[i].off, b, c[i].len);
		ssize_t rk = pread_ret(fd, b, c[i].len, (off_t)c[i].off);
		int wraps = c[i].len > (uint64_t)INT64_MAX - (uint64_t)c[i].off;
		if (rm != (wraps ? -EINVAL : 0))
			fail_msg("mmapio_read(off %lld, len %zu) = %zd, want %d", (long long)c[i].off,
				 c[i].len, rm, wraps ? -EINVAL : 0);
		/* pread checks the buffer first for huge lengths (EFAULT): compare the rest */
		if (c[i].len <= sizeof b && rm != rk)
			fail_msg("mmapio_read(off %lld, len %zu) = %zd but pread = %zd", (long long)c[i].off,
				 c[i].len, rm, rk);
		ssize_t wm = mmapio_write(m, (off_t)c[i].off, b, c[i].len);
		if (wm != (wraps ? -EINVAL : 0))
			fail_msg("mmapio_write(off %lld, len %zu) = %zd", (long long)c[i].off, c[i].len, wm);
	}
	T_EQ(tu_file_size(path), tu_ps); /* nothing grew */
	close(fd);
	T_OK(mmapio_close(m));
}

static void test_write_bounds(void **state)
{
	(void)state;
	char path[PATH_MAX];
	tu_path(path, sizeof path, "write");
	const uint64_t N = 2 * tu_ps + 50;
	T_OK(tu_make_file(path, N));
	mmapio_map *m = open_ok(path, MMAPIO_RDWR, NULL);
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	uint8_t w[200], r[200];
	memset(w, 0x3C, sizeof w);

	T_EQ(mmapio_write(m, (off_t)(N - 10), w, 100), 10); /* short at EOF */
	T_EQ(mmapio_write(m, (off_t)N, w, 10), 0);	    /* 0 at EOF */
	T_EQ(mmapio_write(m, (off_t)(N + 4096), w, 10), 0); /* 0 past it */
	T_EQ(mmapio_write(m, 0, w, 0), 0);
	T_EQ(mmapio_write(m, -1, w, 10), -EINVAL);
	T_EQ(mmapio_write(m, 0, w, (size_t)SSIZE_MAX + 1), -EINVAL);
	T_EQ(tu_file_size(path), N); /* writes never grow the file */
	T_EQ(mmapio_size(m), N);

	T_EQ(pread(fd, r, 20, (off_t)(N - 20)), 20);
	T_EQ(tu_check(r, N - 20, 10), -1);
	for (int i = 10; i < 20; i++)
		T_EQ(r[i], 0x3C);

	/* a write across a page boundary, read back both ways */
	tu_fill(w, 1000, sizeof w);
	T_EQ(mmapio_write(m, (off_t)(tu_ps - 100), w, sizeof w), sizeof w);
	T_EQ(pread(fd, r, sizeof r, (off_t)(tu_ps - 100)), sizeof r);
	assert_memory_equal(r, w, sizeof w);
	memset(r, 0, sizeof r);
	T_EQ(mmapio_read(m, (off_t)(tu_ps - 100), r, sizeof r), sizeof r);
	assert_memory_equal(r, w, sizeof w);
	/* neighbours untouched */
	T_EQ(pread(fd, r, 10, (off_t)(tu_ps - 110)), 10);
	T_EQ(tu_check(r, tu_ps - 110, 10), -1);
	close(fd);
	T_OK(mmapio_close(m));
}

static void test_write_rdonly_ebadf(void **state)
{
	(void)state;
	char path[PATH_MAX];
	tu_path(path, sizeof path, "wro");
	T_OK(tu_make_file(path, tu_ps));
	mmapio_map *m = open_ok(path, MMAPIO_RDONLY, NULL);
	uint8_t w[10] = { 1, 2, 3 };
	T_EQ(mmapio_write(m, 0, w, sizeof w), -EBADF);
	T_EQ(mmapio_write(m, 100, w, 1), -EBADF);
	uint8_t r[10];
	T_EQ(mmapio_read(m, 0, r, sizeof r), sizeof r);
	T_EQ(tu_check(r, 0, sizeof r), -1);
	T_OK(mmapio_close(m));
}

/* Writes through a COW map stay in this process. */
static void test_cow_isolation(void **state)
{
	(void)state;
	char path[PATH_MAX];
	tu_path(path, sizeof path, "cow");
	const uint64_t N = 4 * tu_ps;
	T_OK(tu_make_file(path, N));
	mmapio_map *m = open_ok(path, MMAPIO_COW, NULL);
	const off_t off = (off_t)tu_ps + 5;
	uint8_t w[100], r[100];
	memset(w, 0xC0, sizeof w);
	T_EQ(mmapio_write(m, off, w, sizeof w), sizeof w);
	T_EQ(mmapio_read(m, off, r, sizeof r), sizeof r);
	assert_memory_equal(r, w, sizeof w); /* this process sees its own writes */

	/* a fresh pread sees the file's bytes */
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	T_EQ(pread(fd, r, sizeof r, off), sizeof r);
	T_EQ(tu_check(r, (uint64_t)off, sizeof r), -1);
	close(fd);

	/* so does another process mapping the file */
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		mmapio_map *c = NULL;
		uint8_t cr[100];
		if (mmapio_open(&c, path, MMAPIO_RDONLY, NULL) != 0)
			_exit(2);
		if (mmapio_read(c, off, cr, sizeof cr) != (ssize_t)sizeof cr)
			_exit(3);
		if (tu_check(cr, (uint64_t)off, sizeof cr) != -1)
			_exit(4);
		int cfd = open(path, O_RDONLY);
		if (cfd < 0 || pread(cfd, cr, sizeof cr, off) != (ssize_t)sizeof cr)
			_exit(5);
		if (tu_check(cr, (uint64_t)off, sizeof cr) != -1)
			_exit(6);
		mmapio_close(c);
		_exit(0);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	T_EQ(WEXITSTATUS(st), 0);

	/* flush is a no-op, close keeps the file as it was */
	T_OK(mmapio_flush(m));
	T_OK(mmapio_close(m));
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	T_EQ(pread(fd, r, sizeof r, off), sizeof r);
	T_EQ(tu_check(r, (uint64_t)off, sizeof r), -1);
	close(fd);
}

/* RDWR writes land in the page cache at once (pread sees them), and vice versa. */
static void test_rdwr_coherent_with_pread(void **state)
{
	(void)state;
	char path[PATH_MAX];
	tu_path(path, sizeof path, "rdwr");
	T_OK(tu_make_file(path, 3 * tu_ps));
	mmapio_map *m = open_ok(path, MMAPIO_RDWR, NULL);
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	uint8_t w[300], r[300];
	for (int round = 0; round < 5; round++) {
		off_t off = (off_t)(round * 777);
		memset(w, 0x40 + round, sizeof w);
		T_EQ(mmapio_write(m, off, w, sizeof w), sizeof w);
		T_EQ(pread(fd, r, sizeof r, off), sizeof r);
		assert_memory_equal(r, w, sizeof w);
		/* and the other way round */
		memset(w, 0x80 + round, sizeof w);
		T_EQ(pwrite(fd, w, sizeof w, off + 10), sizeof w);
		T_EQ(mmapio_read(m, off + 10, r, sizeof r), sizeof r);
		assert_memory_equal(r, w, sizeof w);
	}
	close(fd);
	T_OK(mmapio_close(m));
	/* still there after close */
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	T_EQ(pread(fd, r, sizeof r, 4 * 777 + 10), sizeof r);
	for (size_t i = 0; i < sizeof r; i++)
		T_EQ(r[i], 0x84);
	close(fd);
}

static void test_view_clamps(void **state)
{
	(void)state;
	char path[PATH_MAX];
	tu_path(path, sizeof path, "view");
	const uint64_t N = 2 * tu_ps + 300;
	T_OK(tu_make_file(path, N));
	mmapio_map *m = open_ok(path, MMAPIO_RDONLY, NULL);
	void *p0 = NULL, *p = NULL;
	T_EQ(mmapio_view(m, 0, N + 1000, &p0), N);
	assert_non_null(p0);
	T_EQ(tu_check(p0, 0, N), -1);
	T_EQ(mmapio_view(m, 0, SIZE_MAX / 2, &p), N);
	T_EQ(p, p0);
	T_EQ(mmapio_view(m, 10, 20, &p), 20);
	T_EQ(p, (char *)p0 + 10);
	T_EQ(mmapio_view(m, (off_t)(N - 5), 100, &p), 5);
	T_EQ(p, (char *)p0 + N - 5);
	T_EQ(tu_check(p, N - 5, 5), -1);
	T_EQ(mmapio_view(m, (off_t)N, 10, &p), 0);
	T_EQ(mmapio_view(m, (off_t)(N + tu_ps), 10, &p), 0);
	T_EQ(mmapio_view(m, -1, 10, &p), -EINVAL);
	T_OK(mmapio_close(m));
}

/* Iteration yields exactly the file's bytes, in order, as views (no copy). */
static void test_iter(void **state)
{
	(void)state;
	char path[PATH_MAX];
	tu_path(path, sizeof path, "iter");
	const uint64_t N = 5 * tu_ps + 777;
	T_OK(tu_make_file(path, N));
	mmapio_map *m = open_ok(path, MMAPIO_RDONLY, NULL);
	void *p0;
	T_EQ(mmapio_view(m, 0, N, &p0), N);

	const size_t chunks[] = { 1000, 0, 1, 3 * tu_ps, N, N + 1 };
	for (size_t ci = 0; ci < sizeof chunks / sizeof chunks[0]; ci++) {
		size_t chunk = chunks[ci];
		size_t want = chunk ? chunk : tu_ps;
		struct mmapio_iter it;
		mmapio_iter_init(&it, m, 0, UINT64_MAX, chunk);
		uint64_t pos = 0;
		unsigned steps = 0;
		void *p;
		ssize_t n;
		while ((n = mmapio_iter_next(&it, &p)) > 0) {
			if (p != (char *)p0 + pos)
				fail_msg("chunk %zu: view at pos %llu is %p, expected %p", chunk,
					 (unsigned long long)pos, p, (void *)((char *)p0 + pos));
			if ((size_t)n > want)
				fail_msg("chunk %zu: got %zd bytes", chunk, n);
			if (pos + (uint64_t)n < N && (size_t)n != want)
				fail_msg("chunk %zu: short chunk %zd before the end", chunk, n);
			if (tu_check(p, pos, (size_t)n) != -1)
				fail_msg("chunk %zu: wrong bytes at %llu", chunk, (unsigned long long)pos);
			pos += (uint64_t)n;
			steps++;
		}
		T_EQ(n, 0);
		T_EQ(pos, N);
		T_EQ(steps, (N + want - 1) / want);
		T_EQ(mmapio_iter_next(&it, &p), 0); /* stays at the end */
	}

	/* a sub-range, and one that runs past EOF */
	struct mmapio_iter it;
	void *p;
	ssize_t n;
	uint64_t pos = 100;
	mmapio_iter_init(&it, m, 100, 5000, 700);
	while ((n = mmapio_iter_next(&it, &p)) > 0) {
		T_EQ(p, (char *)p0 + pos);
		T_EQ(tu_check(p, pos, (size_t)n), -1);
		pos += (uint64_t)n;
	}
	T_EQ(n, 0);
	T_EQ(pos, 5100);
	pos = N - 50;
	mmapio_iter_init(&it, m, N - 50, 1000, 0);
	while ((n = mmapio_iter_next(&it, &p)) > 0) {
		T_EQ(p, (char *)p0 + pos);
		pos += (uint64_t)n;
	}
	T_EQ(pos, N);
	mmapio_iter_init(&it, m, N + 10, 1000, 0);
	T_EQ(mmapio_iter_next(&it, &p), 0);
	T_OK(mmapio_close(m));
}

/* The iterator follows growth: the end is re-read at each step. */
static void test_iter_follows_growth(void **state)
{
	(void)state;
	char path[PATH_MAX];
	tu_path(path, sizeof path, "itergrow");
	T_OK(tu_make_file(path, 2 * tu_ps));
	mmapio_map *m = open_ok(path, MMAPIO_RDWR, NULL);
	struct mmapio_iter it;
	void *p;
	mmapio_iter_init(&it, m, 0, UINT64_MAX, 0);
	T_EQ(mmapio_iter_next(&it, &p), tu_ps);
	T_EQ(mmapio_iter_next(&it, &p), tu_ps);
	T_OK(mmapio_resize(m, 3 * tu_ps));
	T_EQ(mmapio_iter_next(&it, &p), tu_ps);
	T_EQ(p, (char *)mmapio__base(m) + 2 * tu_ps);
	T_EQ(mmapio_iter_next(&it, &p), 0);
	T_OK(mmapio_close(m));
}

/* ---- growth while other threads read ---- */

struct grow_ctx {
	mmapio_map *m;
	void *base;
	uint64_t initial, final;
	atomic_int stop;
	atomic_int bad;
	atomic_ulong reads;
	char why[2][160];
};

struct reader_arg {
	struct grow_ctx *g;
	int id;
};

static void *reader(void *a)
{
	struct reader_arg *ra = a;
	struct grow_ctx *g = ra->g;
	size_t cap = (size_t)g->final + 4096;
	uint8_t *buf = malloc(cap);
	unsigned long n = 0;
	uint64_t seed = 0x9e3779b97f4a7c15ull * (uint64_t)(ra->id + 1);
	while (!atomic_load(&g->stop) && buf) {
		/* whole-map reads, random reads, and reads at the size just published */
		seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
		off_t off = 0;
		size_t len = cap;
		if (n % 3 == 1) {
			off = (off_t)(seed % g->final);
			len = 1 + (size_t)(seed >> 40) % 20000;
		} else if (n % 3 == 2) {
			uint64_t sz = mmapio_size(g->m);
			off = (off_t)(sz > 50 ? sz - 50 : 0);
			len = 100;
		}
		ssize_t r = mmapio_read(g->m, off, buf, len);
		const char *err = NULL;
		if (r < 0)
			err = "error return";
		else if ((size_t)r > len || (uint64_t)off + (uint64_t)r > g->final)
			err = "too long";
		else if (off == 0 && (uint64_t)r < g->initial)
			err = "shorter than the initial size";
		else {
			for (ssize_t i = 0; i < r; i++) {
				uint64_t o = (uint64_t)off + (uint64_t)i;
				uint8_t want = o < g->initial ? tu_pat(o) : 0;
				if (buf[i] != want) {
					err = "wrong byte";
					break;
				}
			}
		}
		void *p = NULL;
		if (!err && (mmapio_view(g->m, 0, 1, &p) != 1 || p != g->base))
			err = "base moved";
		if (err) {
			snprintf(g->why[ra->id], sizeof g->why[0], "reader %d: %s (off %lld len %zu r %zd)",
				 ra->id, err, (long long)off, len, r);
			atomic_store(&g->bad, 1);
			break;
		}
		n++;
	}
	free(buf);
	atomic_fetch_add(&g->reads, n);
	return NULL;
}

static void test_growth_while_reading(void **state)
{
	(void)state;
	char path[PATH_MAX];
	tu_path(path, sizeof path, "growmt");
	struct grow_ctx g;
	memset(&g, 0, sizeof g);
	g.initial = tu_ps + 100;
	g.final = g.initial + 1000 * (tu_ps + 13);
	T_OK(tu_make_file(path, g.initial));
	g.m = open_ok(path, MMAPIO_RDWR, NULL);
	void *p;
	T_EQ(mmapio_view(g.m, 0, 1, &p), 1);
	g.base = p;
	atomic_init(&g.stop, 0);
	atomic_init(&g.bad, 0);
	atomic_init(&g.reads, 0);

	pthread_t th[2];
	struct reader_arg ra[2] = { { &g, 0 }, { &g, 1 } };
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, reader, &ra[i]), 0);
	uint64_t sz = g.initial;
	int errs = 0;
	for (int i = 0; i < 1000 && !atomic_load(&g.bad); i++) {
		sz += tu_ps + 13;
		int r = mmapio_resize(g.m, sz);
		if (r)
			errs++;
		if (i % 100 == 0)
			tu_sleep_ms(1);
	}
	tu_sleep_ms(20);
	atomic_store(&g.stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	if (atomic_load(&g.bad))
		fail_msg("%s %s", g.why[0], g.why[1]);
	T_EQ(errs, 0);
	T_EQ(sz, g.final);
	T_EQ(mmapio_size(g.m), g.final);
	assert_true(atomic_load(&g.reads) > 2);
	T_EQ(mmapio_view(g.m, 0, 1, &p), 1);
	T_EQ(p, g.base);
	uint8_t b;
	T_EQ(mmapio_read(g.m, (off_t)(g.final - 1), &b, 1), 1);
	T_EQ(b, 0);
	T_OK(mmapio_close(g.m));
}

/*
 * The same with shrinking too: the file goes up and down (never below the
 * initial size) while readers run. Readers get data, short counts or 0, never
 * an error; the base stays put.
 */
static void test_resize_up_down_while_reading(void **state)
{
	(void)state;
	/* readers fault on pages a shrink took away: mmapio's handler must be in
	 * front of the one cmocka installs around every test */
	T_OK(mmapio_fault_install());
	char path[PATH_MAX];
	tu_path(path, sizeof path, "updown");
	struct grow_ctx g;
	memset(&g, 0, sizeof g);
	g.initial = 2 * tu_ps + 100;
	g.final = g.initial + 1024 * tu_ps; /* the largest size used */
	T_OK(tu_make_file(path, g.initial));
	g.m = open_ok(path, MMAPIO_RDWR, NULL);
	void *p;
	T_EQ(mmapio_view(g.m, 0, 1, &p), 1);
	g.base = p;
	atomic_init(&g.stop, 0);
	atomic_init(&g.bad, 0);
	atomic_init(&g.reads, 0);
	pthread_t th[2];
	struct reader_arg ra[2] = { { &g, 0 }, { &g, 1 } };
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, reader, &ra[i]), 0);
	int errs = 0;
	uint64_t seed = 12345;
	for (int i = 0; i < 2000 && !atomic_load(&g.bad); i++) {
		seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
		uint64_t sz = g.initial + seed % (g.final - g.initial + 1);
		if (mmapio_resize(g.m, sz))
			errs++;
	}
	T_OK(mmapio_resize(g.m, g.final));
	tu_sleep_ms(10);
	atomic_store(&g.stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	if (atomic_load(&g.bad))
		fail_msg("%s %s", g.why[0], g.why[1]);
	T_EQ(errs, 0);
	assert_true(atomic_load(&g.reads) > 2);
	T_EQ(mmapio_view(g.m, 0, 1, &p), 1);
	T_EQ(p, g.base);
	struct mmapio_stats st;
	mmapio_get_stats(g.m, &st);
	print_message("%lu reads, %llu faults recovered\n", (unsigned long)atomic_load(&g.reads),
		      (unsigned long long)st.faults);
	T_OK(mmapio_close(g.m));
}

/*
 * A shrink the library is not told about (truncate(2) on the path, as
 * another program would do). The page holding the new end stays mapped
 * with its tail zeroed by the kernel, so nothing faults there: the zero-
 * tail check (io.c, reaches()) must notice, by the probe of the next page
 * or, at our last page, by fstat. Each case is checked against pread.
 */
static void fill_file(const char *path, size_t size)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	char *b = malloc(size);
	assert_non_null(b);
	memset(b, 'a', size);
	assert_int_equal(pwrite(fd, b, size, 0), (ssize_t)size);
	free(b);
	close(fd);
}

static void test_unannounced_shrink(void **state)
{
	(void)state;
	char path[PATH_MAX];
	tu_path(path, sizeof path, "shrink-unannounced");
	size_t ps = tu_ps, big = 6 * ps;
	char *buf = malloc(big), *ref = malloc(big);
	assert_non_null(buf);
	assert_non_null(ref);
	int fd;
	assert_int_equal(mmapio_fault_install(), 0); /* after cmocka's own handlers */

	for (int inl = 0; inl < 2; inl++) { /* the inline path, then the library's */
		fill_file(path, 5 * ps + 100);
		mmapio_map *m = open_ok(path, MMAPIO_RDWR, NULL);
		fd = open(path, O_RDONLY);
		assert_true(fd >= 0);

		/* Inside page 1 while the map knows 5 pages: page 2 is gone. */
		assert_int_equal(truncate(path, (off_t)(ps + 100)), 0);
		ssize_t r = inl ? (mmapio_read)(m, 0, buf, 2 * ps) : mmapio_read(m, 0, buf, 2 * ps);
		assert_int_equal(r, pread_ret(fd, ref, 2 * ps, 0));
		assert_int_equal(r, (ssize_t)(ps + 100));
		assert_memory_equal(buf, ref, (size_t)r);
		assert_int_equal(mmapio_size(m), ps + 100);
		r = inl ? (mmapio_read)(m, (off_t)(ps + 100), buf, 10)
			: mmapio_read(m, (off_t)(ps + 100), buf, 10);
		assert_int_equal(r, 0);

		/* Grown back (zeros), then cut inside our last page: fstat. */
		assert_int_equal(truncate(path, (off_t)(3 * ps)), 0);
		assert_int_equal(mmapio_refresh(m), 0);
		assert_int_equal(truncate(path, (off_t)(2 * ps + 10)), 0);
		r = inl ? (mmapio_read)(m, (off_t)(2 * ps), buf, ps) : mmapio_read(m, (off_t)(2 * ps), buf, ps);
		assert_int_equal(r, 10);
		assert_int_equal(r, pread_ret(fd, ref, ps, (off_t)(2 * ps)));

		/* A write whose last target byte is past the new end: short,
		 * as at the end of the file, and the file keeps its size. */
		assert_int_equal(truncate(path, (off_t)(3 * ps)), 0);
		assert_int_equal(mmapio_refresh(m), 0);
		assert_int_equal(truncate(path, (off_t)(ps + 10)), 0);
		memset(buf, 'w', 100);
		assert_int_equal(mmapio_write(m, (off_t)ps, buf, 100), 10);
		struct stat st;
		assert_int_equal(fstat(fd, &st), 0);
		assert_int_equal(st.st_size, (off_t)(ps + 10));
		assert_int_equal(pread_ret(fd, ref, 100, (off_t)ps), 10);
		assert_memory_equal(ref, buf, 10);

		/* Zeros inside the file are data: a read ending in one is whole. */
		assert_int_equal(truncate(path, (off_t)(4 * ps)), 0); /* page 1 tail, 2, 3: zeros */
		assert_int_equal(mmapio_refresh(m), 0);
		r = inl ? (mmapio_read)(m, (off_t)ps, buf, 2 * ps) : mmapio_read(m, (off_t)ps, buf, 2 * ps);
		assert_int_equal(r, (ssize_t)(2 * ps));
		assert_int_equal(pread_ret(fd, ref, 2 * ps, (off_t)ps), r);
		assert_memory_equal(buf, ref, (size_t)r);
		memset(buf, 0, 64);
		assert_int_equal(mmapio_write(m, (off_t)(3 * ps - 64), buf, 64), 64);
		assert_int_equal(mmapio_size(m), 4 * ps);

		close(fd);
		assert_int_equal(mmapio_close(m), 0);
	}
	free(buf);
	free(ref);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_like_pread),
		cmocka_unit_test(test_offset_overflow),
		cmocka_unit_test(test_write_bounds),
		cmocka_unit_test(test_write_rdonly_ebadf),
		cmocka_unit_test(test_cow_isolation),
		cmocka_unit_test(test_rdwr_coherent_with_pread),
		cmocka_unit_test(test_view_clamps),
		cmocka_unit_test(test_iter),
		cmocka_unit_test(test_iter_follows_growth),
		cmocka_unit_test(test_growth_while_reading),
		cmocka_unit_test(test_resize_up_down_while_reading),
		cmocka_unit_test(test_unannounced_shrink),
	};
	return cmocka_run_group_tests(tests, tu_group_setup, tu_group_teardown);
}
