/*
 * test_policy.c - the auto heuristic as a pure function: a table of file
 * facts and pattern counters against the verdict and its reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "shim.h"

#define EXT4 0xEF53L
#define NFS 0x6969L
#define FUSE 0x65735546L
#define PROC 0x9FA0L

static struct shim_config base(int mode)
{
	struct shim_config c = { 0 };
	c.mode = mode;
	c.min_size = 64 << 10;
	c.max_size = 1ULL << 40;
	c.max_threads = 8;
	c.small_read = 64 << 10;
	c.large_read = 1 << 20;
	return c;
}

struct row {
	const char *name;
	int mode;
	bool netfs_ok;
	struct file_facts f;
	enum verdict want;
	const char *reason; /* substring */
};

#define F(...) ((struct file_facts){ .regular = true, .selected = true, __VA_ARGS__ })

static const struct row rows[] = {
	{ "pipe-like", MODE_ALWAYS, false, { .regular = false }, V_KERNEL, "regular" },
	{ "procfs", MODE_ALWAYS, false, F(.fs_magic = PROC, .size = 1 << 20), V_KERNEL, "pseudo" },
	{ "nfs", MODE_AUTO, false, F(.fs_magic = NFS, .size = 1 << 20), V_KERNEL, "network" },
	{ "nfs always", MODE_ALWAYS, false, F(.fs_magic = NFS, .size = 1 << 20), V_KERNEL, "network" },
	{ "fuse allowed", MODE_ALWAYS, true, F(.fs_magic = FUSE, .size = 1 << 20), V_MAP, "always" },
	{ "excluded", MODE_ALWAYS, false,
	  { .regular = true, .selected = false, .unselected_why = "in MMAPIO_EXCLUDE" }, V_KERNEL,
	  "EXCLUDE" },
	{ "never", MODE_NEVER, false, F(.fs_magic = EXT4, .size = 1 << 20), V_KERNEL, "never" },
	{ "always small", MODE_ALWAYS, false, F(.fs_magic = EXT4, .size = 10), V_MAP, "always" },
	{ "always many threads", MODE_ALWAYS, false, F(.fs_magic = EXT4, .size = 1 << 20, .threads = 100),
	  V_MAP, "always" },
	{ "auto tiny", MODE_AUTO, false, F(.fs_magic = EXT4, .size = 4096, .threads = 1), V_KERNEL,
	  "MIN_SIZE" },
	{ "auto at min", MODE_AUTO, false, F(.fs_magic = EXT4, .size = 64 << 10, .threads = 1), V_WATCH,
	  "watching" },
	{ "auto huge", MODE_AUTO, false, F(.fs_magic = EXT4, .size = 1ULL << 41, .threads = 1), V_KERNEL,
	  "MAX_SIZE" },
	{ "auto threads", MODE_AUTO, false, F(.fs_magic = EXT4, .size = 1 << 20, .threads = 9), V_KERNEL,
	  "THREADS" },
	{ "auto threads at limit", MODE_AUTO, false,
	  F(.fs_magic = EXT4, .size = 1 << 20, .threads = 8), V_WATCH, "watching" },
	{ "auto 7 calls", MODE_AUTO, false,
	  F(.fs_magic = EXT4, .size = 1 << 20, .threads = 1, .calls = 7, .small = 7), V_WATCH,
	  "watching" },
	{ "auto small reads", MODE_AUTO, false,
	  F(.fs_magic = EXT4, .size = 1 << 20, .threads = 1, .calls = 8, .small = 8), V_MAP, "small" },
	{ "auto half small", MODE_AUTO, false,
	  F(.fs_magic = EXT4, .size = 1 << 20, .threads = 1, .calls = 8, .small = 4), V_MAP, "small" },
	{ "auto large reads", MODE_AUTO, false,
	  F(.fs_magic = EXT4, .size = 1 << 20, .threads = 1, .calls = 8, .small = 3), V_WATCH, "large" },
};

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct shim_config c = base(rows[i].mode);
		c.netfs = rows[i].netfs_ok;
		struct decision d = policy_decide(&c, &rows[i].f);
		if (d.v != rows[i].want || !strstr(d.reason, rows[i].reason))
			fail_msg("row '%s': verdict %d (%s), want %d (%s)", rows[i].name, d.v, d.reason,
				 rows[i].want, rows[i].reason);
	}
}

/* The same facts twice give the same answer: nothing hidden is consulted. */
static void test_pure(void **state)
{
	(void)state;
	struct shim_config c = base(MODE_AUTO);
	struct file_facts f = F(.fs_magic = EXT4, .size = 1 << 20, .threads = 1, .calls = 8, .small = 6);
	struct decision a = policy_decide(&c, &f), b = policy_decide(&c, &f);
	assert_int_equal(a.v, b.v);
	assert_string_equal(a.reason, b.reason);
}

/* The default MMAPIO_SMALL_READ counts every read as small: a watched file is mapped. */
static void test_default_maps_after_window(void **state)
{
	(void)state;
	struct shim_config c = base(MODE_AUTO);
	c.small_read = UINT64_MAX;
	struct file_facts f = F(.fs_magic = EXT4, .size = 1 << 20, .threads = 1, .calls = 8, .small = 8);
	struct decision d = policy_decide(&c, &f);
	assert_int_equal(d.v, V_MAP);
	assert_non_null(strstr(d.reason, "read often"));
	f.calls = 7;
	assert_int_equal(policy_decide(&c, &f).v, V_WATCH);
}

/* Sanity of the live thread count the shim feeds in. */
static void test_threads(void **state)
{
	(void)state;
	uint64_t n = policy_threads();
	assert_true(n >= 1 && n < 100000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_pure),
		cmocka_unit_test(test_default_maps_after_window),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
