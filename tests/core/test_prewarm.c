/*
 * test_prewarm.c - pre-warming makes pages resident (checked with mincore()
 * on the map's base after the file's page cache was dropped).
 */
#include "tutil.h"
#include "testing.h"

#include <sys/utsname.h>
#include <signal.h>
#include <sys/wait.h>

#define NPAGES 256

/* Pages of path that are in the page cache (a raw mapping + mincore). */
static long file_resident(const char *path)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	struct stat st;
	fstat(fd, &st);
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -1;
	long n = tu_resident(p, (size_t)st.st_size);
	munmap(p, (size_t)st.st_size);
	return n;
}

/*
 * Create a NPAGES-page file and drop it from the page cache. Skips the test
 * when the file system keeps the pages anyway (tmpfs): nothing to prove there.
 */
static void cold_file(char *path, const char *name, uint64_t size)
{
	tu_path(path, PATH_MAX, name);
	T_OK(tu_make_file(path, size));
	tu_drop_cache(path);
	long r = file_resident(path);
	long total = (long)((size + tu_ps - 1) / tu_ps);
	if (r < 0)
		fail_msg("mincore on %s failed", path);
	if (r > total / 2) {
		print_message("page cache of %s cannot be dropped here (%ld/%ld resident): skipping\n",
			      path, r, total);
		skip();
	}
}

static long map_resident(mmapio_map *m)
{
	return tu_resident(mmapio__base(m), (size_t)mmapio_size(m));
}

static mmapio_map *open_mode(const char *path, int mode, int prewarm)
{
	struct mmapio_opts o = { .prewarm = prewarm };
	mmapio_map *m = NULL;
	int r = mmapio_open(&m, path, mode, &o);
	if (r)
		fail_msg("mmapio_open(%s, prewarm %d) = %d", path, prewarm, r);
	return m;
}

/* On Linux >= 5.14, MADV_POPULATE_READ exists: the POPULATE tier must be used. */
static int kernel_has_populate(void)
{
	struct utsname u;
	int maj = 0, min = 0;
	if (uname(&u) || sscanf(u.release, "%d.%d", &maj, &min) != 2)
		return 0;
	return maj > 5 || (maj == 5 && min >= 14);
}

static void test_prewarm_makes_resident(void **state)
{
	(void)state;
	char path[PATH_MAX];
	const uint64_t size = NPAGES * tu_ps;
	const int modes[] = { MMAPIO_RDONLY, MMAPIO_RDWR, MMAPIO_COW };
	for (int i = 0; i < 3; i++) {
		cold_file(path, "warm", size);
		mmapio_map *m = open_mode(path, modes[i], MMAPIO_PREWARM_NONE);
		long before = map_resident(m);
		assert_true(before < NPAGES);
		int t = mmapio_prewarm(m, 0, size);
		if (kernel_has_populate())
			T_EQ(t, MMAPIO_TIER_POPULATE);
		else
			assert_true(t == MMAPIO_TIER_POPULATE || t == MMAPIO_TIER_TOUCH);
		T_EQ(map_resident(m), NPAGES);
		/* data intact */
		uint8_t b[64];
		T_EQ(mmapio_read(m, (off_t)(size - 64), b, sizeof b), sizeof b);
		T_EQ(tu_check(b, size - 64, sizeof b), -1);
		T_OK(mmapio_close(m));
	}
}

/* An unaligned range is rounded out to whole pages. */
static void test_prewarm_unaligned(void **state)
{
	(void)state;
	char path[PATH_MAX];
	const uint64_t size = NPAGES * tu_ps;
	cold_file(path, "unaligned", size);
	mmapio_map *m = open_mode(path, MMAPIO_RDONLY, MMAPIO_PREWARM_NONE);
	const uint64_t first = 100; /* page 100 onwards: far from what readahead at 0 brings */
	assert_true(mmapio_prewarm(m, (off_t)(first * tu_ps + 100), 3 * tu_ps) > 0);
	unsigned char vec[NPAGES];
	T_OK(tu_resident_vec(mmapio__base(m), size, vec));
	/* [100P + 100, 103P + 100) touches pages 100..103 */
	for (uint64_t p = first; p <= first + 3; p++)
		if (!vec[p])
			fail_msg("page %llu not resident after prewarm", (unsigned long long)p);
	T_OK(mmapio_close(m));
}

/* Ranges past EOF are clamped to the file. */
static void test_prewarm_clamps(void **state)
{
	(void)state;
	char path[PATH_MAX];
	const uint64_t size = NPAGES * tu_ps - 123; /* partial last page */
	cold_file(path, "clamp", size);
	mmapio_map *m = open_mode(path, MMAPIO_RDONLY, MMAPIO_PREWARM_NONE);
	assert_true(mmapio_prewarm(m, 0, size + 100 * tu_ps) > 0);
	T_EQ(map_resident(m), NPAGES);
	assert_true(mmapio_prewarm(m, 0, SIZE_MAX) > 0);
	assert_true(mmapio_prewarm(m, (off_t)(size + tu_ps), 10) >= 0);   /* wholly past EOF */
	assert_true(mmapio_prewarm(m, (off_t)(size - 10), 5 * tu_ps) > 0); /* straddles EOF */
	T_EQ(mmapio_prewarm(m, -1, 10), -EINVAL);
	assert_true(mmapio_prewarm(m, 0, 0) >= 0);
	T_OK(mmapio_close(m));

	/* empty file */
	tu_path(path, sizeof path, "clamp0");
	T_OK(tu_make_file(path, 0));
	m = open_mode(path, MMAPIO_RDONLY, MMAPIO_PREWARM_EAGER);
	assert_true(mmapio_prewarm(m, 0, 1 << 20) >= 0);
	assert_true(mmapio_prewarm_async(m, 0, 1 << 20) >= 0);
	assert_true(mmapio_prewarm_wait(m) >= 0);
	T_OK(mmapio_close(m));
}

static void test_prewarm_eager_at_open(void **state)
{
	(void)state;
	char path[PATH_MAX];
	cold_file(path, "eager", NPAGES * tu_ps);
	mmapio_map *m = open_mode(path, MMAPIO_RDONLY, MMAPIO_PREWARM_EAGER);
	T_EQ(map_resident(m), NPAGES);
	T_OK(mmapio_close(m));
}

static void test_prewarm_async_at_open(void **state)
{
	(void)state;
	char path[PATH_MAX];
	cold_file(path, "async", NPAGES * tu_ps);
	mmapio_map *m = open_mode(path, MMAPIO_RDONLY, MMAPIO_PREWARM_ASYNC);
	int t = mmapio_prewarm_wait(m);
	if (kernel_has_populate())
		T_EQ(t, MMAPIO_TIER_POPULATE);
	else
		assert_true(t > 0);
	T_EQ(map_resident(m), NPAGES);
	T_OK(mmapio_close(m));
}

static void test_prewarm_async_explicit(void **state)
{
	(void)state;
	char path[PATH_MAX];
	cold_file(path, "async2", NPAGES * tu_ps);
	mmapio_map *m = open_mode(path, MMAPIO_RDWR, MMAPIO_PREWARM_NONE);
	assert_true(map_resident(m) < NPAGES);
	T_EQ(mmapio_prewarm_async(m, 0, NPAGES * tu_ps / 2), MMAPIO_TIER_ASYNC);
	T_EQ(mmapio_prewarm_async(m, (off_t)(NPAGES * tu_ps / 2), NPAGES * tu_ps), MMAPIO_TIER_ASYNC);
	assert_true(mmapio_prewarm_wait(m) > 0);
	T_EQ(map_resident(m), NPAGES);
	assert_true(mmapio_prewarm_wait(m) >= 0); /* nothing queued: returns at once */
	T_EQ(mmapio_prewarm_async(m, -5, 10), -EINVAL);
	T_OK(mmapio_close(m));
}

/* LAZY asks the kernel to read ahead; the pages arrive without anyone waiting. */
static void test_prewarm_lazy_at_open(void **state)
{
	(void)state;
	char path[PATH_MAX];
	cold_file(path, "lazy", NPAGES * tu_ps);
	mmapio_map *m = open_mode(path, MMAPIO_RDONLY, MMAPIO_PREWARM_LAZY);
	uint64_t end = tu_now_ns() + 2000000000ull;
	long r;
	while ((r = map_resident(m)) < NPAGES && tu_now_ns() < end)
		tu_sleep_ms(5);
	T_EQ(r, NPAGES);
	T_OK(mmapio_close(m));
}

/* Async prewarm, then close at once: no crash, nothing left mapped or open. */
static void test_prewarm_async_then_close(void **state)
{
	(void)state;
	char path[PATH_MAX];
	tu_path(path, sizeof path, "asyncclose");
	T_OK(tu_make_file(path, 8u << 20));
	int fds0 = tu_fd_count();
	for (int i = 0; i < 20; i++) {
		tu_drop_cache(path);
		mmapio_map *m = open_mode(path, i % 2 ? MMAPIO_RDWR : MMAPIO_RDONLY,
					  i % 3 ? MMAPIO_PREWARM_ASYNC : MMAPIO_PREWARM_NONE);
		T_EQ(mmapio_prewarm_async(m, 0, 8u << 20), MMAPIO_TIER_ASYNC);
		T_EQ(mmapio_prewarm_async(m, 4096, 1 << 20), MMAPIO_TIER_ASYNC);
		T_OK(mmapio_close(m));
		T_EQ(tu_maps_count(path), 0);
	}
	T_EQ(tu_fd_count(), fds0);
	/* the worker still serves new maps */
	tu_drop_cache(path);
	mmapio_map *m = open_mode(path, MMAPIO_RDONLY, MMAPIO_PREWARM_NONE);
	T_EQ(mmapio_prewarm_async(m, 0, 8u << 20), MMAPIO_TIER_ASYNC);
	assert_true(mmapio_prewarm_wait(m) > 0);
	T_EQ(map_resident(m), (8u << 20) / tu_ps);
	T_OK(mmapio_close(m));
}

/* A fork child can still prewarm asynchronously (its own worker). */
static void test_prewarm_async_in_fork_child(void **state)
{
	(void)state;
	char path[PATH_MAX];
	cold_file(path, "forkpw", NPAGES * tu_ps);
	mmapio_map *m = open_mode(path, MMAPIO_RDONLY, MMAPIO_PREWARM_NONE);
	T_EQ(mmapio_prewarm_async(m, 0, tu_ps), MMAPIO_TIER_ASYNC); /* the worker exists */
	assert_true(mmapio_prewarm_wait(m) > 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		alarm(10); /* a missing worker would make the wait hang */
		if (mmapio_prewarm_async(m, 0, NPAGES * tu_ps) != MMAPIO_TIER_ASYNC)
			_exit(2);
		if (mmapio_prewarm_wait(m) <= 0)
			_exit(3);
		if (map_resident(m) != NPAGES)
			_exit(4);
		mmapio_close(m);
		_exit(0);
	}
	tu_wait_ok(pid, "fork child");
	T_EQ(mmapio_prewarm_async(m, 0, NPAGES * tu_ps), MMAPIO_TIER_ASYNC);
	assert_true(mmapio_prewarm_wait(m) > 0);
	T_OK(mmapio_close(m));
}

/* A file that shrank under the map: prewarm reports an error or clamps, never crashes. */
static void test_prewarm_after_truncate(void **state)
{
	(void)state;
	/* a fallback tier touches pages with the fault-safe copy: have mmapio's
	 * handler in front of cmocka's (cmocka reinstalls its own per test) */
	T_OK(mmapio_fault_install());
	char path[PATH_MAX];
	tu_path(path, sizeof path, "ptrunc");
	T_OK(tu_make_file(path, NPAGES * tu_ps));
	mmapio_map *m = open_mode(path, MMAPIO_RDONLY, MMAPIO_PREWARM_NONE);
	assert_int_equal(truncate(path, (off_t)(10 * tu_ps)), 0);
	int t = mmapio_prewarm(m, 0, NPAGES * tu_ps); /* sync: must not raise SIGBUS */
	print_message("prewarm over a truncated tail: %d\n", t);
	T_EQ(mmapio_prewarm_async(m, 0, NPAGES * tu_ps), MMAPIO_TIER_ASYNC);
	t = mmapio_prewarm_wait(m);
	print_message("async prewarm over a truncated tail: %d\n", t);
	T_OK(mmapio_refresh(m));
	T_EQ(mmapio_prewarm(m, 0, NPAGES * tu_ps) > 0, 1);
	T_EQ(map_resident(m), 10);
	T_OK(mmapio_close(m));
}

/*
 * The touch tier (kernels without MADV_POPULATE_READ) in a thread that
 * blocks SIGSEGV and SIGBUS: a fault there is not delivered but kills the
 * process, so the touch must stop at the hint. The child would be killed
 * by SIGBUS otherwise (the file shrank under the map).
 */
int mmapio__touch(mmapio_map *m, uint64_t start, uint64_t end);

static void test_touch_with_faults_blocked(void **state)
{
	(void)state;
	char path[PATH_MAX];
	tu_path(path, sizeof path, "touchblk");
	T_OK(tu_make_file(path, 8 * tu_ps));
	mmapio_map *m = open_mode(path, MMAPIO_RDONLY, MMAPIO_PREWARM_NONE);
	assert_int_equal(truncate(path, (off_t)tu_ps), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		sigset_t s;
		sigemptyset(&s);
		sigaddset(&s, SIGSEGV);
		sigaddset(&s, SIGBUS);
		pthread_sigmask(SIG_BLOCK, &s, NULL);
		_exit(mmapio__touch(m, 0, 8 * tu_ps) == MMAPIO_TIER_WILLNEED ? 0 : 2);
	}
	tu_wait_ok(pid, "child with SIGSEGV/SIGBUS blocked");
	/* with the signals deliverable, the same touch reports the lost pages */
	T_OK(mmapio_fault_install());
	assert_true(mmapio__touch(m, 0, 8 * tu_ps) < 0);
	T_OK(mmapio_close(m));
}

/*
 * fork while the worker runs a job: the child has no worker, so the job it
 * inherited must not be waited for. Best effort at catching the moment
 * (the job must be running at the fork): 20 tries on a cold 32 MiB file;
 * a child that hangs is stopped by alarm() and fails the test.
 */
static void test_fork_during_async_job(void **state)
{
	(void)state;
	char path[PATH_MAX];
	for (int i = 0; i < 20; i++) {
		cold_file(path, "forkjob", 32u << 20);
		mmapio_map *m = open_mode(path, MMAPIO_RDONLY, MMAPIO_PREWARM_NONE);
		T_EQ(mmapio_prewarm_async(m, 0, 32u << 20), MMAPIO_TIER_ASYNC);
		fflush(NULL);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			alarm(5);
			mmapio_prewarm_wait(m);
			_exit(0);
		}
		tu_wait_ok(pid, "child of a fork during a prewarm job");
		assert_true(mmapio_prewarm_wait(m) > 0);
		T_OK(mmapio_close(m));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prewarm_makes_resident),
		cmocka_unit_test(test_prewarm_unaligned),
		cmocka_unit_test(test_prewarm_clamps),
		cmocka_unit_test(test_prewarm_eager_at_open),
		cmocka_unit_test(test_prewarm_async_at_open),
		cmocka_unit_test(test_prewarm_async_explicit),
		cmocka_unit_test(test_prewarm_lazy_at_open),
		cmocka_unit_test(test_prewarm_async_then_close),
		cmocka_unit_test(test_prewarm_async_in_fork_child),
		cmocka_unit_test(test_prewarm_after_truncate),
		cmocka_unit_test(test_touch_with_faults_blocked),
		cmocka_unit_test(test_fork_during_async_job),
	};
	return cmocka_run_group_tests(tests, tu_group_setup, tu_group_teardown);
}
