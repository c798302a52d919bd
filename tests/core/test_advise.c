/*
 * test_advise.c - advice and locking on unaligned ranges: the library rounds
 * out to pages, applies the advice to exactly those pages (checked in the
 * VMA flags of /proc/self/smaps and by the effect of DONTNEED on a COW map),
 * and rejects unknown advice.
 */
#include "tutil.h"
#include "testing.h"

#include <sys/resource.h>

#define NP 8 /* pages in the test file */

static mmapio_map *open_mode(char *path, const char *name, int mode)
{
	tu_path(path, PATH_MAX, name);
	T_OK(tu_make_file(path, NP * tu_ps));
	mmapio_map *m = NULL;
	int r = mmapio_open(&m, path, mode, NULL);
	if (r)
		fail_msg("mmapio_open(%s) = %d", path, r);
	return m;
}

/* Does page `pg` of the map have VmFlags flag `fl`? */
static int page_flag(mmapio_map *m, uint64_t pg, const char *fl)
{
	char flags[1024];
	T_OK(tu_vmflags((char *)mmapio__base(m) + pg * tu_ps + 1, flags, sizeof flags));
	return tu_has_flag(flags, fl);
}

/* Every advice value returns 0 on an unaligned range, and lands on the right pages. */
static void test_every_advice_unaligned(void **state)
{
	(void)state;
	char path[PATH_MAX];
	const int modes[] = { MMAPIO_RDONLY, MMAPIO_RDWR, MMAPIO_COW };
	for (int mi = 0; mi < 3; mi++) {
		mmapio_map *m = open_mode(path, "adv", modes[mi]);
		/* [100, 3P + 107) rounds out to pages 0..3 */
		const off_t off = 100;
		const size_t len = 3 * tu_ps + 7;
		for (int a = MMAPIO_ADV_NORMAL; a <= MMAPIO_ADV_NOHUGEPAGE; a++)
			if (mmapio_advise(m, off, len, a) != 0)
				fail_msg("mode %d: advice %d on an unaligned range = %d", modes[mi], a,
					 mmapio_advise(m, off, len, a));

		T_OK(mmapio_advise(m, off, len, MMAPIO_ADV_SEQUENTIAL));
		T_EQ(page_flag(m, 0, "sr"), 1);
		T_EQ(page_flag(m, 3, "sr"), 1); /* partially covered page: rounded out */
		T_EQ(page_flag(m, 4, "sr"), 0); /* beyond: untouched */
		T_EQ(page_flag(m, 6, "sr"), 0);

		T_OK(mmapio_advise(m, off, len, MMAPIO_ADV_RANDOM));
		T_EQ(page_flag(m, 2, "rr"), 1);
		T_EQ(page_flag(m, 2, "sr"), 0);
		T_EQ(page_flag(m, 5, "rr"), 0);

		T_OK(mmapio_advise(m, off, len, MMAPIO_ADV_NORMAL));
		T_EQ(page_flag(m, 2, "rr"), 0);
		T_EQ(page_flag(m, 2, "sr"), 0);

		T_OK(mmapio_advise(m, (off_t)(5 * tu_ps + 1), 1, MMAPIO_ADV_HUGEPAGE));
		T_EQ(page_flag(m, 5, "hg"), 1);
		T_EQ(page_flag(m, 4, "hg"), 0);
		T_EQ(page_flag(m, 6, "hg"), 0);
		T_OK(mmapio_advise(m, (off_t)(5 * tu_ps + 1), 1, MMAPIO_ADV_NOHUGEPAGE));
		T_EQ(page_flag(m, 5, "nh"), 1);
		T_EQ(page_flag(m, 5, "hg"), 0);

		/* the data did not change through any of it */
		uint8_t b[256];
		T_EQ(mmapio_read(m, (off_t)(5 * tu_ps - 128), b, sizeof b), sizeof b);
		T_EQ(tu_check(b, 5 * tu_ps - 128, sizeof b), -1);
		/* whole file, past EOF, zero length */
		T_OK(mmapio_advise(m, 0, NP * tu_ps, MMAPIO_ADV_WILLNEED));
		T_OK(mmapio_advise(m, 0, SIZE_MAX, MMAPIO_ADV_NORMAL));
		T_OK(mmapio_advise(m, (off_t)(NP * tu_ps + tu_ps), 10, MMAPIO_ADV_RANDOM));
		T_OK(mmapio_advise(m, 10, 0, MMAPIO_ADV_RANDOM));
		T_OK(mmapio_close(m));
	}
}

static void test_bad_advice(void **state)
{
	(void)state;
	char path[PATH_MAX];
	mmapio_map *m = open_mode(path, "bad", MMAPIO_RDONLY);
	T_EQ(mmapio_advise(m, 0, tu_ps, 7), -EINVAL);
	T_EQ(mmapio_advise(m, 0, tu_ps, -1), -EINVAL);
	T_EQ(mmapio_advise(m, 0, tu_ps, 1000), -EINVAL);
	T_EQ(mmapio_advise(m, 0, tu_ps, INT32_MIN), -EINVAL);
	T_EQ(mmapio_advise(m, -1, tu_ps, MMAPIO_ADV_NORMAL), -EINVAL);
	T_EQ(mmapio_lock(m, -1, tu_ps), -EINVAL);
	T_EQ(mmapio_unlock(m, -1, tu_ps), -EINVAL);
	T_OK(mmapio_close(m));
}

/*
 * DONTNEED drops exactly the rounded pages: on a COW map the private
 * copies of those pages are discarded (the file's bytes come back), the
 * others keep theirs. On an RDWR map the written data stays (shared).
 */
static void test_dontneed_effect(void **state)
{
	(void)state;
	char path[PATH_MAX];
	mmapio_map *m = open_mode(path, "dontneed_cow", MMAPIO_COW);
	uint8_t w[16], r[16];
	memset(w, 0xEE, sizeof w);
	for (uint64_t pg = 1; pg <= 3; pg++)
		T_EQ(mmapio_write(m, (off_t)(pg * tu_ps + 8), w, sizeof w), sizeof w);
	/* [2P + 5, 2P + 15): only page 2 */
	T_OK(mmapio_advise(m, (off_t)(2 * tu_ps + 5), 10, MMAPIO_ADV_DONTNEED));
	T_EQ(mmapio_read(m, (off_t)(2 * tu_ps + 8), r, sizeof r), sizeof r);
	T_EQ(tu_check(r, 2 * tu_ps + 8, sizeof r), -1); /* private copy gone */
	T_EQ(mmapio_read(m, (off_t)(1 * tu_ps + 8), r, sizeof r), sizeof r);
	assert_memory_equal(r, w, sizeof w);
	T_EQ(mmapio_read(m, (off_t)(3 * tu_ps + 8), r, sizeof r), sizeof r);
	assert_memory_equal(r, w, sizeof w);
	T_OK(mmapio_close(m));

	m = open_mode(path, "dontneed_rw", MMAPIO_RDWR);
	T_EQ(mmapio_write(m, (off_t)(2 * tu_ps + 8), w, sizeof w), sizeof w);
	T_OK(mmapio_advise(m, 0, NP * tu_ps, MMAPIO_ADV_DONTNEED));
	T_EQ(mmapio_read(m, (off_t)(2 * tu_ps + 8), r, sizeof r), sizeof r);
	assert_memory_equal(r, w, sizeof w);
	T_OK(mmapio_close(m));
}

static int memlock_ok(size_t need)
{
	struct rlimit rl;
	if (geteuid() == 0)
		return 1; /* CAP_IPC_LOCK */
	if (getrlimit(RLIMIT_MEMLOCK, &rl))
		return 0;
	return rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need + (64u << 10);
}

/*
 * Does mlock() work here? Sanitizer runtimes (ASan) intercept mlock() and
 * make it a no-op that returns 0; then there is nothing to check.
 */
static int mlock_works(void)
{
	char fl[1024];
	void *p = mmap(NULL, tu_ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 0;
	int ok = mlock(p, tu_ps) == 0 && tu_vmflags(p, fl, sizeof fl) == 0 && tu_has_flag(fl, "lo");
	munlock(p, tu_ps);
	munmap(p, tu_ps);
	return ok;
}

static void test_lock_unlock(void **state)
{
	(void)state;
	if (!memlock_ok(NP * tu_ps)) {
		print_message("RLIMIT_MEMLOCK too small for the lock test: skipping\n");
		skip();
	}
	if (!mlock_works()) {
		print_message("mlock() has no effect in this process (sanitizer?): skipping\n");
		skip();
	}
	char path[PATH_MAX];
	const int modes[] = { MMAPIO_RDONLY, MMAPIO_RDWR };
	for (int mi = 0; mi < 2; mi++) {
		tu_path(path, sizeof path, "lock");
		T_OK(tu_make_file(path, NP * tu_ps));
		tu_drop_cache(path);
		mmapio_map *m = NULL;
		T_OK(mmapio_open(&m, path, modes[mi], NULL));
		unsigned char vec[NP];
		T_OK(tu_resident_vec(mmapio__base(m), NP * tu_ps, vec));
		int cold = 0;
		for (int i = 0; i < NP; i++)
			cold += !vec[i];
		if (cold == 0)
			print_message("note: page cache could not be dropped; residency check is weak\n");

		/* [100, 2P + 110) rounds out to pages 0..2 */
		T_OK(mmapio_lock(m, 100, 2 * tu_ps + 10));
		T_OK(tu_resident_vec(mmapio__base(m), NP * tu_ps, vec));
		for (int i = 0; i <= 2; i++)
			if (!vec[i])
				fail_msg("page %d not resident after mmapio_lock", i);
		T_EQ(page_flag(m, 0, "lo"), 1);
		T_EQ(page_flag(m, 2, "lo"), 1);
		T_EQ(page_flag(m, 3, "lo"), 0);
		T_EQ(page_flag(m, 6, "lo"), 0);

		T_OK(mmapio_unlock(m, 100, 2 * tu_ps + 10));
		T_EQ(page_flag(m, 0, "lo"), 0);
		T_EQ(page_flag(m, 2, "lo"), 0);

		/* past EOF and zero length: nothing to do */
		T_OK(mmapio_lock(m, (off_t)(NP * tu_ps + 5), 100));
		T_OK(mmapio_lock(m, 0, 0));
		/* whole file, then unlock all */
		T_OK(mmapio_lock(m, 0, SIZE_MAX));
		T_EQ(page_flag(m, NP - 1, "lo"), 1);
		T_OK(mmapio_unlock(m, 0, SIZE_MAX));
		T_EQ(page_flag(m, NP - 1, "lo"), 0);
		/* locked pages keep working through I/O */
		T_OK(mmapio_lock(m, 0, tu_ps));
		uint8_t b[32];
		T_EQ(mmapio_read(m, 10, b, sizeof b), sizeof b);
		T_EQ(tu_check(b, 10, sizeof b), -1);
		T_OK(mmapio_close(m)); /* closing with a locked range is fine */
	}
}

/*
 * mmapio_set_access covers the whole map, and pages mapped later by growth
 * (a new mapping, which the kernel gives default advice) get it too.
 */
static void test_access_kept_across_growth(void **state)
{
	(void)state;
	char path[PATH_MAX];
	mmapio_map *m = open_mode(path, "access", MMAPIO_RDWR);
	T_EQ(mmapio_get_access(m), MMAPIO_ADV_NORMAL);
	T_OK(mmapio_set_access(m, MMAPIO_ADV_RANDOM));
	T_EQ(mmapio_get_access(m), MMAPIO_ADV_RANDOM);
	T_EQ(page_flag(m, 0, "rr"), 1);
	T_EQ(page_flag(m, NP - 1, "rr"), 1);
	T_OK(mmapio_resize(m, 3 * NP * tu_ps));
	T_EQ(page_flag(m, NP, "rr"), 1);      /* grown: a new mapping */
	T_EQ(page_flag(m, 3 * NP - 1, "rr"), 1);
	T_OK(mmapio_set_access(m, MMAPIO_ADV_SEQUENTIAL));
	T_EQ(page_flag(m, 2 * NP, "sr"), 1);
	T_EQ(page_flag(m, 2 * NP, "rr"), 0);
	T_OK(mmapio_set_access(m, MMAPIO_ADV_NORMAL));
	T_EQ(page_flag(m, 2 * NP, "sr"), 0);
	T_EQ(mmapio_set_access(m, MMAPIO_ADV_WILLNEED), -EINVAL);
	T_EQ(mmapio_set_access(m, MMAPIO_ADV_DONTNEED), -EINVAL);
	T_EQ(mmapio_set_access(NULL, MMAPIO_ADV_RANDOM), -EINVAL);
	T_OK(mmapio_close(m));
}

/* Pages of path in the page cache, seen through a map of our own. */
static long cached_pages(const char *path, uint64_t pages)
{
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	void *p = mmap(NULL, pages * tu_ps, PROT_READ, MAP_SHARED, fd, 0);
	assert_true(p != MAP_FAILED);
	long cached = tu_resident(p, pages * tu_ps);
	munmap(p, pages * tu_ps);
	close(fd);
	return cached;
}

/*
 * The effect that matters: with MMAPIO_ADV_RANDOM a read of a page that is
 * not cached brings in that page only; with the default, the kernel reads
 * around it (unless the device's readahead is off).
 */
static void test_access_random_reads_one_page(void **state)
{
	(void)state;
	char path[PATH_MAX];
	const uint64_t pages = 256;
	tu_path(path, PATH_MAX, "access-fault");
	T_OK(tu_make_file(path, pages * tu_ps));
	for (int advice = MMAPIO_ADV_RANDOM; advice >= MMAPIO_ADV_NORMAL;
	     advice -= MMAPIO_ADV_RANDOM - MMAPIO_ADV_NORMAL) {
		tu_drop_cache(path);
		if (cached_pages(path, pages) != 0)
			skip(); /* this file system keeps its pages (tmpfs) */
		mmapio_map *m = NULL;
		T_OK(mmapio_open(&m, path, MMAPIO_RDONLY, NULL));
		T_OK(mmapio_set_access(m, advice));
		uint8_t b[64];
		T_EQ(mmapio_read(m, (off_t)(pages / 2 * tu_ps + 8), b, sizeof b), sizeof b);
		T_EQ(tu_check(b, pages / 2 * tu_ps + 8, sizeof b), -1);
		long cached = cached_pages(path, pages);
		if (advice == MMAPIO_ADV_RANDOM)
			T_EQ(cached, 1);
		else if (cached == 1)
			skip(); /* the device reads no window around a fault */
		T_OK(mmapio_close(m));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_advice_unaligned),
		cmocka_unit_test(test_bad_advice),
		cmocka_unit_test(test_access_kept_across_growth),
		cmocka_unit_test(test_access_random_reads_one_page),
		cmocka_unit_test(test_dontneed_effect),
		cmocka_unit_test(test_lock_unlock),
	};
	return cmocka_run_group_tests(tests, tu_group_setup, tu_group_teardown);
}
