/*
 * test_version.c - the API's room to grow: the version macros and
 * mmapio_version(), the reserved words of struct mmapio_opts and struct
 * mmapio_stats, and the layout the inline read path compiles into programs.
 */
#include "tutil.h"
#include "testing.h"

#include <stdalign.h>

/* The header's number is built from its parts, and the library says the same. */
static void test_version_number(void **state)
{
	(void)state;
	T_EQ(MMAPIO_VERSION_NUMBER,
	     MMAPIO_VERSION_MAJOR * 10000 + MMAPIO_VERSION_MINOR * 100 + MMAPIO_VERSION_PATCH);
	assert_true(MMAPIO_VERSION_MINOR >= 0 && MMAPIO_VERSION_MINOR < 100);
	assert_true(MMAPIO_VERSION_PATCH >= 0 && MMAPIO_VERSION_PATCH < 100);
	T_EQ(mmapio_version(), MMAPIO_VERSION_NUMBER);
	T_EQ(mmapio_version() / 10000, MMAPIO_VERSION_MAJOR);
}

/* opts = {0} and NULL open by path and by descriptor, in every mode. */
static void test_zero_opts_valid(void **state)
{
	(void)state;
	char path[PATH_MAX];
	tu_path(path, sizeof path, "zero");
	T_OK(tu_make_file(path, 3 * tu_ps));
	const int modes[] = { MMAPIO_RDONLY, MMAPIO_RDWR, MMAPIO_COW };
	for (int i = 0; i < 3; i++) {
		struct mmapio_opts o = { 0 };
		mmapio_map *m = NULL;
		T_OK(mmapio_open(&m, path, modes[i], &o));
		T_EQ(mmapio_size(m), 3 * tu_ps);
		T_OK(mmapio_close(m));
		T_OK(mmapio_open(&m, path, modes[i], NULL));
		T_OK(mmapio_close(m));
		int fd = open(path, O_RDWR | O_CLOEXEC);
		assert_true(fd >= 0);
		T_OK(mmapio_open_fd(&m, fd, modes[i], &o));
		T_OK(mmapio_close(m));
		close(fd);
	}
}

/*
 * Any non-zero reserved word is refused with -EINVAL, by path and by
 * descriptor, before anything is opened: no map, no descriptor left.
 */
static void test_reserved_opts_rejected(void **state)
{
	(void)state;
	char path[PATH_MAX];
	tu_path(path, sizeof path, "resv");
	T_OK(tu_make_file(path, tu_ps));
	int fd = open(path, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	int fds = tu_fd_count();
	const size_t nres = sizeof ((struct mmapio_opts *)0)->reserved / sizeof(uint64_t);
	assert_true(nres >= 1);
	const uint64_t values[] = { 1, 0x8000000000000000ull, UINT64_MAX };
	for (size_t i = 0; i < nres; i++) {
		for (size_t v = 0; v < sizeof values / sizeof values[0]; v++) {
			struct mmapio_opts o = { 0 };
			o.reserved[i] = values[v];
			mmapio_map *m = (mmapio_map *)0x1;
			int r = mmapio_open(&m, path, MMAPIO_RDWR, &o);
			if (r != -EINVAL)
				fail_msg("reserved[%zu] = %#llx: mmapio_open returned %d, expected -EINVAL",
					 i, (unsigned long long)values[v], r);
			r = mmapio_open_fd(&m, fd, MMAPIO_RDONLY, &o);
			if (r != -EINVAL)
				fail_msg("reserved[%zu] = %#llx: mmapio_open_fd returned %d, expected -EINVAL",
					 i, (unsigned long long)values[v], r);
			/* also next to valid settings in the known fields */
			o.flags = MMAPIO_F_NO_DIRTY;
			o.prewarm = MMAPIO_PREWARM_LAZY;
			T_EQ(mmapio_open(&m, path, MMAPIO_RDONLY, &o), -EINVAL);
		}
	}
	T_EQ(tu_fd_count(), fds);
	T_EQ(tu_maps_count(path), 0);
	close(fd);
}

/* mmapio_get_stats() writes zeros over whatever the caller had in reserved. */
static void test_stats_reserved_zeroed(void **state)
{
	(void)state;
	char path[PATH_MAX];
	tu_path(path, sizeof path, "stats");
	T_OK(tu_make_file(path, 2 * tu_ps));
	mmapio_map *m = NULL;
	T_OK(mmapio_open(&m, path, MMAPIO_RDWR, NULL));
	uint8_t buf[64];
	tu_fill(buf, 0, sizeof buf);
	T_EQ(mmapio_write(m, 0, buf, sizeof buf), sizeof buf);
	T_OK(mmapio_flush(m));

	struct mmapio_stats st;
	memset(&st, 0xa5, sizeof st);
	mmapio_get_stats(m, &st);
	for (size_t i = 0; i < sizeof st.reserved / sizeof st.reserved[0]; i++)
		if (st.reserved[i] != 0)
			fail_msg("stats.reserved[%zu] = %#llx, expected 0", i,
				 (unsigned long long)st.reserved[i]);
	/* the known counters are still the real ones */
	T_EQ(st.faults, 0);
	T_EQ(st.flushes, 1);
	T_EQ(st.flushed_bytes, tu_ps);
	T_EQ(st.flush_errors, 0);
	T_OK(mmapio_close(m));
}

/*
 * The ABI: the fields the 0.1 structures had keep their offsets (a program
 * built against the old header fills them there), the reserved words end
 * each structure, and the head the inline read path reads is the map's
 * first 16 bytes (LP64).
 */
static void test_layout(void **state)
{
	(void)state;
	T_EQ(offsetof(struct mmapio_opts, flags), 0);
	T_EQ(offsetof(struct mmapio_opts, reserve), 8);
	T_EQ(offsetof(struct mmapio_opts, prewarm), 16);
	T_EQ(offsetof(struct mmapio_opts, huge), 20);
	T_EQ(offsetof(struct mmapio_opts, flush_policy), 24);
	T_EQ(offsetof(struct mmapio_opts, flush_arg), 32);
	T_EQ(offsetof(struct mmapio_opts, reserved), 40);
	T_EQ(sizeof(struct mmapio_opts), 40 + 8 * sizeof(uint64_t));
	T_EQ(offsetof(struct mmapio_stats, faults), 0);
	T_EQ(offsetof(struct mmapio_stats, remaps), 32);
	T_EQ(offsetof(struct mmapio_stats, reserved), 40);
	T_EQ(sizeof(struct mmapio_stats), 40 + 8 * sizeof(uint64_t));
	T_EQ(offsetof(struct mmapio__head, base), 0);
	T_EQ(offsetof(struct mmapio__head, size), sizeof(void *));
	T_EQ(alignof(struct mmapio__head), alignof(uint64_t));

	/* A live map, read through the head as the inline path does. */
	char path[PATH_MAX];
	tu_path(path, sizeof path, "head");
	T_OK(tu_make_file(path, 5 * tu_ps + 7));
	mmapio_map *m = NULL;
	T_OK(mmapio_open(&m, path, MMAPIO_RDWR, NULL));
	const struct mmapio__head *h = (const struct mmapio__head *)(const void *)m;
	assert_ptr_equal(h->base, mmapio__base(m));
	T_EQ(__atomic_load_n(&h->size, __ATOMIC_ACQUIRE), 5 * tu_ps + 7);
	T_OK(mmapio_resize(m, 9 * tu_ps));
	assert_ptr_equal(h->base, mmapio__base(m)); /* the base never moves */
	T_EQ(__atomic_load_n(&h->size, __ATOMIC_ACQUIRE), 9 * tu_ps);
	T_OK(mmapio_close(m));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_number),
		cmocka_unit_test(test_zero_opts_valid),
		cmocka_unit_test(test_reserved_opts_rejected),
		cmocka_unit_test(test_stats_reserved_zeroed),
		cmocka_unit_test(test_layout),
	};
	return cmocka_run_group_tests_name("version", tests, tu_group_setup, tu_group_teardown);
}
