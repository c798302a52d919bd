/*
 * test_flush.c - page-rounded microflush, dirty-page coalescing, flush
 * policies, the shared interval flusher, and the flush counters.
 *
 * Every msync() the library makes is seen through mmapio__msync_hook
 * (core/testing.h), which records (map, off, len) after page rounding.
 */
#include "tutil.h"
#include "testing.h"

#include <pthread.h>
#include <sys/wait.h>

#define MAXREC 512
static pthread_mutex_t rec_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rec {
	const mmapio_map *m;
	uint64_t off, len;
} recs[MAXREC];
static int nrec;

static void hook(const mmapio_map *m, uint64_t off, uint64_t len)
{
	pthread_mutex_lock(&rec_lock);
	if (nrec < MAXREC)
		recs[nrec] = (struct rec){ m, off, len };
	nrec++;
	pthread_mutex_unlock(&rec_lock);
}

static void rec_reset(void)
{
	pthread_mutex_lock(&rec_lock);
	nrec = 0;
	pthread_mutex_unlock(&rec_lock);
}

static int rec_count(void)
{
	pthread_mutex_lock(&rec_lock);
	int n = nrec;
	pthread_mutex_unlock(&rec_lock);
	return n;
}

static int cmp_rec(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;
	return x->off < y->off ? -1 : x->off > y->off;
}

/* Snapshot of the records, sorted by offset; returns the count. */
static int rec_sorted(struct rec *out)
{
	pthread_mutex_lock(&rec_lock);
	int n = nrec < MAXREC ? nrec : MAXREC;
	memcpy(out, recs, (size_t)n * sizeof *out);
	pthread_mutex_unlock(&rec_lock);
	qsort(out, (size_t)n, sizeof *out, cmp_rec);
	return n;
}

static void dump_recs(void)
{
	struct rec r[MAXREC];
	int n = rec_sorted(r);
	for (int i = 0; i < n; i++)
		print_message("  msync [%llu, %llu)\n", (unsigned long long)r[i].off,
			      (unsigned long long)(r[i].off + r[i].len));
}

/* Exactly these ranges (byte offsets, sorted), each from map m. */
static void expect_ranges(const mmapio_map *m, int n, const uint64_t (*want)[2], const char *what)
{
	struct rec r[MAXREC];
	int got = rec_sorted(r);
	int ok = got == n;
	for (int i = 0; ok && i < n; i++)
		ok = r[i].m == m && r[i].off == want[i][0] && r[i].off + r[i].len == want[i][1];
	if (!ok) {
		print_message("%s: got %d msync calls, want %d:\n", what, got, n);
		dump_recs();
		for (int i = 0; i < n; i++)
			print_message("  want [%llu, %llu)\n", (unsigned long long)want[i][0],
				      (unsigned long long)want[i][1]);
		fail_msg("%s: msync calls differ", what);
	}
}

static int setup_hook(void **state)
{
	(void)state;
	mmapio__msync_hook = hook;
	rec_reset();
	return 0;
}

static int teardown_hook(void **state)
{
	(void)state;
	mmapio__msync_hook = NULL;
	return 0;
}

static mmapio_map *open_rw(const char *name, uint64_t size, int policy, uint64_t arg,
			   unsigned flags, char *path)
{
	tu_path(path, PATH_MAX, name);
	T_OK(tu_make_file(path, size));
	struct mmapio_opts o = { .flags = flags, .flush_policy = policy, .flush_arg = arg };
	mmapio_map *m = NULL;
	int r = mmapio_open(&m, path, MMAPIO_RDWR, &o);
	if (r)
		fail_msg("mmapio_open(%s, policy %d) = %d", path, policy, r);
	return m;
}

static void write_at(mmapio_map *m, uint64_t off, size_t len)
{
	uint8_t buf[16384];
	assert_true(len <= sizeof buf);
	memset(buf, 0x5A, len);
	T_EQ(mmapio_write(m, (off_t)off, buf, len), len);
}

static void test_flush_range_rounding(void **state)
{
	(void)state;
	const uint64_t P = tu_ps;
	char path[PATH_MAX];
	mmapio_map *m = open_rw("range", 16 * P, MMAPIO_FLUSH_MANUAL, 0, 0, path);

	rec_reset();
	T_OK(mmapio_flush_range(m, 100, 10));
	expect_ranges(m, 1, (const uint64_t[][2]){ { 0, P } }, "flush_range(100, 10)");

	rec_reset();
	T_OK(mmapio_flush_range(m, (off_t)(P - 96), 200)); /* 4000, 200 with 4 KiB pages */
	expect_ranges(m, 1, (const uint64_t[][2]){ { 0, 2 * P } }, "flush_range(P-96, 200)");

	rec_reset();
	T_OK(mmapio_flush_range(m, (off_t)P, P)); /* already aligned: exactly one page */
	expect_ranges(m, 1, (const uint64_t[][2]){ { P, 2 * P } }, "flush_range(P, P)");

	rec_reset();
	T_OK(mmapio_flush_range(m, (off_t)(3 * P + 1), 2 * P)); /* touches 3 pages */
	expect_ranges(m, 1, (const uint64_t[][2]){ { 3 * P, 6 * P } }, "flush_range(3P+1, 2P)");

	rec_reset();
	T_EQ(mmapio_flush_range(m, -1, 10), -EINVAL);
	T_EQ(rec_count(), 0);
	T_OK(mmapio_close(m)); /* nothing dirty: no msync at close */
	T_EQ(rec_count(), 0);
}

/* Dirty pages 1,2,3 and 7 become exactly two msync calls, once. */
static void test_dirty_coalescing(void **state)
{
	(void)state;
	const uint64_t P = tu_ps;
	char path[PATH_MAX];
	mmapio_map *m = open_rw("dirty", 16 * P, MMAPIO_FLUSH_MANUAL, 0, 0, path);

	rec_reset();
	write_at(m, 1 * P + 10, 1);
	write_at(m, 2 * P, P);	 /* the whole page */
	write_at(m, 3 * P + P - 1, 1); /* last byte of page 3 */
	write_at(m, 7 * P + 100, 50);
	write_at(m, 2 * P + 5, 5); /* again: still one page */
	T_EQ(rec_count(), 0); /* manual policy: writes alone never msync */
	T_OK(mmapio_flush(m));
	expect_ranges(m, 2, (const uint64_t[][2]){ { P, 4 * P }, { 7 * P, 8 * P } }, "flush()");

	rec_reset();
	T_OK(mmapio_flush(m));
	T_EQ(rec_count(), 0); /* nothing dirty any more */

	/* a write across a page boundary dirties both pages */
	rec_reset();
	write_at(m, 5 * P - 2, 4);
	T_OK(mmapio_flush(m));
	expect_ranges(m, 1, (const uint64_t[][2]){ { 4 * P, 6 * P } }, "straddling write");

	/* first and last page of the file; pages 0 and 15 are not adjacent */
	rec_reset();
	write_at(m, 0, 1);
	write_at(m, 16 * P - 1, 1);
	T_OK(mmapio_flush(m));
	expect_ranges(m, 2, (const uint64_t[][2]){ { 0, P }, { 15 * P, 16 * P } }, "ends");

	/* flush_range cleans what it syncs: a later flush() skips those pages */
	rec_reset();
	write_at(m, 9 * P, 1);
	write_at(m, 11 * P, 1);
	T_OK(mmapio_flush_range(m, (off_t)(9 * P), 1));
	rec_reset();
	T_OK(mmapio_flush(m));
	expect_ranges(m, 1, (const uint64_t[][2]){ { 11 * P, 12 * P } }, "flush after flush_range");

	/* the data reached the file */
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	uint8_t b[4];
	T_EQ(pread(fd, b, 4, (off_t)(5 * P - 2)), 4);
	for (int i = 0; i < 4; i++)
		T_EQ(b[i], 0x5A);
	close(fd);
	rec_reset();
	T_OK(mmapio_close(m));
	T_EQ(rec_count(), 0);
}

/* Writes through a view are tracked once marked dirty. */
static void test_mark_dirty(void **state)
{
	(void)state;
	const uint64_t P = tu_ps;
	char path[PATH_MAX];
	mmapio_map *m = open_rw("mark", 16 * P, MMAPIO_FLUSH_MANUAL, 0, 0, path);
	void *p;
	T_EQ(mmapio_view(m, (off_t)(10 * P), 16, &p), 16);
	memcpy(p, "view-write-data!", 16);
	rec_reset();
	T_OK(mmapio_flush(m));
	T_EQ(rec_count(), 0); /* untracked until marked */
	T_OK(mmapio_mark_dirty(m, (off_t)(10 * P + 3), 5));
	T_OK(mmapio_flush(m));
	expect_ranges(m, 1, (const uint64_t[][2]){ { 10 * P, 11 * P } }, "mark_dirty");
	rec_reset();
	T_OK(mmapio_mark_dirty(m, (off_t)(12 * P - 1), 2));
	T_OK(mmapio_flush(m));
	expect_ranges(m, 1, (const uint64_t[][2]){ { 11 * P, 13 * P } }, "mark_dirty straddling");
	T_OK(mmapio_close(m));
}

/* MMAPIO_F_NO_DIRTY: flush() syncs the whole map in one call. */
static void test_no_dirty_flag(void **state)
{
	(void)state;
	const uint64_t P = tu_ps;
	char path[PATH_MAX];
	mmapio_map *m = open_rw("nodirty", 8 * P + 100, MMAPIO_FLUSH_MANUAL, 0, MMAPIO_F_NO_DIRTY, path);
	write_at(m, 3 * P, 10);
	rec_reset();
	T_OK(mmapio_flush(m));
	expect_ranges(m, 1, (const uint64_t[][2]){ { 0, 9 * P } }, "no-dirty flush");
	T_OK(mmapio_close(m));
}

static void test_policy_always(void **state)
{
	(void)state;
	const uint64_t P = tu_ps;
	char path[PATH_MAX];
	mmapio_map *m = open_rw("always", 16 * P, MMAPIO_FLUSH_ALWAYS, 0, 0, path);
	for (uint64_t k = 0; k < 5; k++) {
		rec_reset();
		write_at(m, k * 3 * P + 7, 10);
		expect_ranges(m, 1, (const uint64_t[][2]){ { k * 3 * P, k * 3 * P + P } }, "ALWAYS write");
	}
	rec_reset();
	write_at(m, 2 * P - 5, 10); /* straddles pages 1 and 2 */
	expect_ranges(m, 1, (const uint64_t[][2]){ { P, 3 * P } }, "ALWAYS straddling write");
	rec_reset();
	T_OK(mmapio_flush(m)); /* everything already synced */
	T_EQ(rec_count(), 0);

	/* switching a manual map to ALWAYS at run time */
	T_OK(mmapio_set_flush_policy(m, MMAPIO_FLUSH_MANUAL, 0));
	rec_reset();
	write_at(m, 0, 1);
	T_EQ(rec_count(), 0);
	T_OK(mmapio_set_flush_policy(m, MMAPIO_FLUSH_ALWAYS, 0));
	write_at(m, 5 * P, 1);
	T_EQ(rec_count(), 1);
	T_OK(mmapio_close(m));
}

static void test_policy_bytes(void **state)
{
	(void)state;
	const uint64_t P = tu_ps;
	char path[PATH_MAX];
	mmapio_map *m = open_rw("bytes", 16 * P, MMAPIO_FLUSH_BYTES, 8192, 0, path);
	rec_reset();
	for (int i = 0; i < 8; i++) { /* 8000 bytes: under the threshold */
		write_at(m, (uint64_t)i * 1000, 1000);
		T_EQ(rec_count(), 0);
	}
	write_at(m, 8000, 1000); /* 9000: crosses 8192 */
	expect_ranges(m, 1, (const uint64_t[][2]){ { 0, tu_round_up(9000, P) } }, "BYTES 9th write");
	/* the count starts again after the flush */
	rec_reset();
	for (int i = 0; i < 8; i++) {
		write_at(m, 10 * P + (uint64_t)i * 1000, 1000);
		T_EQ(rec_count(), 0);
	}
	write_at(m, 10 * P + 8000, 1000);
	T_EQ(rec_count(), 1);
	/* exactly the threshold counts */
	rec_reset();
	write_at(m, 0, 4096);
	T_EQ(rec_count(), 0);
	write_at(m, 4096, 4096);
	T_EQ(rec_count(), 1);
	/* a manual flush() resets the count too */
	rec_reset();
	write_at(m, 0, 8000);
	T_OK(mmapio_flush(m));
	T_EQ(rec_count(), 1);
	write_at(m, 0, 1000);
	T_EQ(rec_count(), 1);
	T_OK(mmapio_close(m));
}

static void test_policy_writes(void **state)
{
	(void)state;
	const uint64_t P = tu_ps;
	char path[PATH_MAX];
	mmapio_map *m = open_rw("writes", 16 * P, MMAPIO_FLUSH_WRITES, 3, 0, path);
	rec_reset();
	int expect = 0;
	for (int i = 1; i <= 9; i++) {
		/* writes 1, 2, 3 go to pages 1, 2, 3; 4, 5, 6 again; ... */
		write_at(m, (uint64_t)((i - 1) % 3 + 1) * P + (uint64_t)i, 10);
		if (i % 3 == 0)
			expect++;
		if (rec_count() != expect)
			fail_msg("after write %d: %d msync calls, want %d", i, rec_count(), expect);
	}
	/* each flush covered the three pages of its three writes, in one call */
	expect_ranges(m, 3, (const uint64_t[][2]){ { P, 4 * P }, { P, 4 * P }, { P, 4 * P } },
		      "WRITES 3");
	T_OK(mmapio_close(m));
}

static int wait_for(int (*cond)(void *), void *arg, unsigned ms)
{
	uint64_t end = tu_now_ns() + (uint64_t)ms * 1000000ull;
	while (!cond(arg)) {
		if (tu_now_ns() > end)
			return 0;
		tu_sleep_ms(2);
	}
	return 1;
}

static int has_calls(void *arg)
{
	return rec_count() >= *(int *)arg;
}

static int flusher_stopped(void *arg)
{
	(void)arg;
	return mmapio__flusher_running() == 0;
}

static void test_policy_interval(void **state)
{
	(void)state;
	const uint64_t P = tu_ps;
	char path[PATH_MAX], path2[PATH_MAX];
	T_EQ(mmapio__flusher_maps(), 0);
	mmapio_map *m = open_rw("interval", 16 * P, MMAPIO_FLUSH_INTERVAL, 20, 0, path);
	T_EQ(mmapio__flusher_maps(), 1);
	T_EQ(mmapio__flusher_running(), 1);

	/* clean map: the flusher has nothing to sync */
	rec_reset();
	tu_sleep_ms(80);
	T_EQ(rec_count(), 0);

	uint64_t t0 = tu_now_ns();
	write_at(m, 4 * P + 1, 10);
	int one = 1;
	if (!wait_for(has_calls, &one, 2000))
		fail_msg("no flush within 2 s of a write with a 20 ms interval");
	uint64_t dt_ms = (tu_now_ns() - t0) / 1000000;
	print_message("interval flush after %llu ms\n", (unsigned long long)dt_ms);
	expect_ranges(m, 1, (const uint64_t[][2]){ { 4 * P, 5 * P } }, "interval flush");
	T_EQ(mmapio__flusher_running(), 1);

	/* a second map shares the thread */
	mmapio_map *m2 = open_rw("interval2", 4 * P, MMAPIO_FLUSH_INTERVAL, 20, 0, path2);
	T_EQ(mmapio__flusher_maps(), 2);
	T_EQ(mmapio__flusher_running(), 1);
	T_OK(mmapio_close(m));
	T_EQ(mmapio__flusher_maps(), 1);
	T_EQ(mmapio__flusher_running(), 1);
	rec_reset();
	write_at(m2, 0, 1);
	if (!wait_for(has_calls, &one, 2000))
		fail_msg("second map not flushed after the first closed");
	T_OK(mmapio_close(m2));
	T_EQ(mmapio__flusher_maps(), 0);
	if (!wait_for(flusher_stopped, NULL, 2000))
		fail_msg("flusher thread still running 2 s after the last interval map closed");

	/* switching policy registers and unregisters */
	m = open_rw("interval3", 4 * P, MMAPIO_FLUSH_MANUAL, 0, 0, path);
	T_EQ(mmapio__flusher_maps(), 0);
	T_OK(mmapio_set_flush_policy(m, MMAPIO_FLUSH_INTERVAL, 20));
	T_EQ(mmapio__flusher_maps(), 1);
	T_EQ(mmapio__flusher_running(), 1);
	T_OK(mmapio_set_flush_policy(m, MMAPIO_FLUSH_MANUAL, 0));
	T_EQ(mmapio__flusher_maps(), 0);
	if (!wait_for(flusher_stopped, NULL, 2000))
		fail_msg("flusher thread still running after the policy went back to manual");
	rec_reset();
	write_at(m, 0, 1);
	tu_sleep_ms(60);
	T_EQ(rec_count(), 0); /* manual again: nobody flushes */
	T_OK(mmapio_close(m)); /* but close does */
	T_EQ(rec_count(), 1);
}

/* A fork child with an interval map gets a flusher thread of its own. */
static void test_interval_in_fork_child(void **state)
{
	(void)state;
	const uint64_t P = tu_ps;
	char path[PATH_MAX];
	mmapio_map *m = open_rw("forkint", 4 * P, MMAPIO_FLUSH_INTERVAL, 20, 0, path);
	T_EQ(mmapio__flusher_running(), 1);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* no cmocka assertions in the child: exit codes only */
		pthread_mutex_init(&rec_lock, NULL);
		alarm(10);
		if (mmapio__flusher_running() != 1 || mmapio__flusher_maps() != 1)
			_exit(2);
		nrec = 0;
		uint8_t b = 1;
		if (mmapio_write(m, (off_t)(2 * P), &b, 1) != 1)
			_exit(3);
		uint64_t end = tu_now_ns() + 2000000000ull;
		while (rec_count() == 0 && tu_now_ns() < end)
			tu_sleep_ms(2);
		if (rec_count() == 0)
			_exit(4);
		if (recs[0].off != 2 * P || recs[0].len != P)
			_exit(5);
		if (mmapio_close(m) != 0 || mmapio__flusher_maps() != 0)
			_exit(6);
		_exit(0);
	}
	tu_wait_ok(pid, "fork child");
	T_EQ(mmapio__flusher_running(), 1); /* the parent's thread is unaffected */
	T_OK(mmapio_close(m));
	T_EQ(mmapio__flusher_maps(), 0);
}

/* close makes a final flush of the dirty pages. */
static void test_close_final_flush(void **state)
{
	(void)state;
	const uint64_t P = tu_ps;
	char path[PATH_MAX];
	mmapio_map *m = open_rw("close", 16 * P, MMAPIO_FLUSH_MANUAL, 0, 0, path);
	write_at(m, 2 * P, 1);
	write_at(m, 5 * P + 9, 100);
	write_at(m, 6 * P, 1);
	rec_reset();
	T_OK(mmapio_close(m));
	expect_ranges(m, 2, (const uint64_t[][2]){ { 2 * P, 3 * P }, { 5 * P, 7 * P } }, "close");
}

/* get_stats counts what the hook sees. */
static void test_stats_match_hook(void **state)
{
	(void)state;
	const uint64_t P = tu_ps;
	char path[PATH_MAX];
	mmapio_map *m = open_rw("stats", 32 * P, MMAPIO_FLUSH_MANUAL, 0, 0, path);
	struct mmapio_stats s0, s1;
	mmapio_get_stats(m, &s0);
	rec_reset();
	T_OK(mmapio_flush_range(m, 5, 10));
	T_OK(mmapio_flush_range(m, (off_t)(10 * P), 3 * P));
	write_at(m, P, 1);
	write_at(m, 20 * P, 1);
	write_at(m, 21 * P, 1);
	T_OK(mmapio_flush(m));
	T_OK(mmapio_flush(m));
	T_OK(mmapio_set_flush_policy(m, MMAPIO_FLUSH_ALWAYS, 0));
	write_at(m, 30 * P, 2 * P);
	mmapio_get_stats(m, &s1);
	struct rec r[MAXREC];
	int n = rec_sorted(r);
	uint64_t bytes = 0;
	for (int i = 0; i < n; i++)
		bytes += r[i].len;
	T_EQ(n, 5);
	T_EQ(s1.flushes - s0.flushes, n);
	T_EQ(s1.flushed_bytes - s0.flushed_bytes, bytes);
	T_EQ(bytes, (1 + 3 + 1 + 2 + 2) * P);
	T_EQ(s1.flush_errors, 0);
	T_OK(mmapio_flush_error(m));
	T_OK(mmapio_close(m));
}

/* Flushing RDONLY and COW maps: 0, no msync, whatever the policy. */
static void test_flush_rdonly_cow_noop(void **state)
{
	(void)state;
	const uint64_t P = tu_ps;
	char path[PATH_MAX];
	tu_path(path, sizeof path, "noop");
	T_OK(tu_make_file(path, 8 * P));
	const int modes[] = { MMAPIO_RDONLY, MMAPIO_COW };
	for (int i = 0; i < 2; i++) {
		struct mmapio_opts o = { .flush_policy = MMAPIO_FLUSH_ALWAYS };
		mmapio_map *m = NULL;
		T_OK(mmapio_open(&m, path, modes[i], &o));
		rec_reset();
		if (modes[i] == MMAPIO_COW) {
			write_at(m, 0, 10);
			write_at(m, 3 * P, 10);
		}
		T_OK(mmapio_flush(m));
		T_OK(mmapio_flush_range(m, 0, 8 * P));
		T_OK(mmapio_flush_range(m, 100, 10));
		T_OK(mmapio_flush_error(m));
		struct mmapio_stats st;
		mmapio_get_stats(m, &st);
		T_EQ(st.flushes, 0);
		T_OK(mmapio_close(m));
		T_EQ(rec_count(), 0);
	}
	T_EQ(mmapio__flusher_maps(), 0);
}

static void test_set_policy_invalid(void **state)
{
	(void)state;
	char path[PATH_MAX];
	mmapio_map *m = open_rw("inval", tu_ps, MMAPIO_FLUSH_MANUAL, 0, 0, path);
	T_EQ(mmapio_set_flush_policy(m, 99, 0), -EINVAL);
	T_EQ(mmapio_set_flush_policy(m, -1, 0), -EINVAL);
	T_OK(mmapio_close(m));
}

/* Growing and shrinking keeps dirty tracking right: no msync past the end. */
static void test_dirty_across_resize(void **state)
{
	(void)state;
	const uint64_t P = tu_ps;
	char path[PATH_MAX];
	mmapio_map *m = open_rw("resize", 4 * P, MMAPIO_FLUSH_MANUAL, 0, 0, path);
	T_OK(mmapio_resize(m, 40 * P));
	write_at(m, 1 * P, 1);
	write_at(m, 30 * P, 1);
	write_at(m, 39 * P, 1);
	T_OK(mmapio_resize(m, 20 * P)); /* drops dirty pages 30 and 39 with the file's tail */
	rec_reset();
	T_OK(mmapio_flush(m));
	expect_ranges(m, 1, (const uint64_t[][2]){ { P, 2 * P } }, "after shrink");
	T_OK(mmapio_close(m));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_flush_range_rounding, setup_hook, teardown_hook),
		cmocka_unit_test_setup_teardown(test_dirty_coalescing, setup_hook, teardown_hook),
		cmocka_unit_test_setup_teardown(test_mark_dirty, setup_hook, teardown_hook),
		cmocka_unit_test_setup_teardown(test_no_dirty_flag, setup_hook, teardown_hook),
		cmocka_unit_test_setup_teardown(test_policy_always, setup_hook, teardown_hook),
		cmocka_unit_test_setup_teardown(test_policy_bytes, setup_hook, teardown_hook),
		cmocka_unit_test_setup_teardown(test_policy_writes, setup_hook, teardown_hook),
		cmocka_unit_test_setup_teardown(test_policy_interval, setup_hook, teardown_hook),
		cmocka_unit_test_setup_teardown(test_interval_in_fork_child, setup_hook, teardown_hook),
		cmocka_unit_test_setup_teardown(test_close_final_flush, setup_hook, teardown_hook),
		cmocka_unit_test_setup_teardown(test_stats_match_hook, setup_hook, teardown_hook),
		cmocka_unit_test_setup_teardown(test_flush_rdonly_cow_noop, setup_hook, teardown_hook),
		cmocka_unit_test_setup_teardown(test_set_policy_invalid, setup_hook, teardown_hook),
		cmocka_unit_test_setup_teardown(test_dirty_across_resize, setup_hook, teardown_hook),
	};
	return cmocka_run_group_tests(tests, tu_group_setup, tu_group_teardown);
}
