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

/* The tables start from defaults (F, W) and set what a row is about. */
#pragma GCC diagnostic ignored "-Woverride-init"

#define EXT4 0xEF53L
#define NFS 0x6969L
#define FUSE 0x65735546L
#define PROC 0x9FA0L
#define TMPFS 0x01021994L
#define HUGETLBFS 0x958458f6L

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

/* Facts of a local file with nothing else known: no memory bound, residency unknown. */
#define F(...)                                                                            \
	((struct file_facts){ .regular = true, .selected = true, .room = UINT64_MAX,        \
			      .cached_pct = -1, __VA_ARGS__ })
#define MIB (1ULL << 20)
/* Auto mode after its first 8 calls, all small: a, b the pattern and state. */
#define W(...) F(.fs_magic = EXT4, .size = MIB, .threads = 1, .calls = 8, .small = 8, __VA_ARGS__)

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
	/* a small file a descriptor can write may grow: watched, not left */
	{ "auto tiny writable", MODE_AUTO, false,
	  F(.fs_magic = EXT4, .size = 4096, .threads = 1, .writable = true), V_WATCH, "grow" },
	{ "auto huge mapped", MODE_AUTO, false, W(.size = 1ULL << 41, .mapped = true), V_WATCH,
	  "MAX_SIZE" },
	{ "auto threads mapped", MODE_AUTO, false, W(.threads = 9, .mapped = true), V_WATCH,
	  "THREADS" },
	/* memory: a sequential reader of a file the page cache cannot keep */
	{ "auto streaming past room", MODE_AUTO, false, W(.seq = 8, .size = 1024 * MIB, .room = 256 * MIB),
	  V_WATCH, "streaming" },
	{ "auto streaming 6 of 8", MODE_AUTO, false, W(.seq = 6, .size = 1024 * MIB, .room = 256 * MIB),
	  V_WATCH, "streaming" },
	{ "auto mostly random past room", MODE_AUTO, false,
	  W(.seq = 5, .size = 1024 * MIB, .room = 256 * MIB), V_MAP, "small reads" },
	{ "auto streaming within room", MODE_AUTO, false, W(.seq = 8, .size = 64 * MIB, .room = 256 * MIB),
	  V_MAP, "small reads" },
	{ "auto streaming mapped past room", MODE_AUTO, false,
	  W(.seq = 8, .size = 1024 * MIB, .room = 256 * MIB, .mapped = true), V_WATCH, "streaming" },
	/* read once, in order, a page or more a call: the kernel's until read again */
	{ "auto read once 16K", MODE_AUTO, false,
	  W(.seq = 8, .size = 64 * MIB, .bytes = 8 * 16384, .moved = 8 * 16384), V_WATCH, "not yet read again" },
	{ "auto read once 4K", MODE_AUTO, false,
	  W(.seq = 8, .size = 64 * MIB, .bytes = 8 * 4096, .moved = 8 * 4096), V_WATCH, "not yet read again" },
	{ "auto read once below a page", MODE_AUTO, false,
	  W(.seq = 8, .size = 64 * MIB, .bytes = 8 * 4095, .moved = 8 * 4095), V_MAP, "small reads" },
	{ "auto read once, almost twice", MODE_AUTO, false,
	  W(.seq = 8, .size = 64 * MIB, .bytes = 8 * 16384, .moved = 128 * MIB - 1), V_WATCH, "not yet read again" },
	{ "auto read twice", MODE_AUTO, false,
	  W(.seq = 8, .size = 64 * MIB, .bytes = 8 * 16384, .moved = 128 * MIB), V_MAP, "small reads" },
	{ "auto read twice past room", MODE_AUTO, false,
	  W(.seq = 8, .size = 64 * MIB, .bytes = 8 * 16384, .moved = 128 * MIB, .room = 32 * MIB), V_WATCH,
	  "streaming" },
	{ "auto read once, mapped", MODE_AUTO, false,
	  W(.seq = 8, .size = 64 * MIB, .bytes = 8 * 16384, .mapped = true), V_MAP, "small reads" },
	{ "auto random 16K", MODE_AUTO, false, W(.seq = 0, .size = 64 * MIB, .bytes = 8 * 16384), V_MAP,
	  "small reads" },
	{ "always read once", MODE_ALWAYS, false, W(.seq = 8, .size = 64 * MIB, .bytes = 8 * 16384), V_MAP,
	  "always" },
	/* writes: a miss costs the map a read from the disk */
	{ "auto write miss", MODE_AUTO, false, W(.probed = 16, .misses = 1, .writes = 16, .write_misses = 1),
	  V_WATCH, "writes miss" },
	{ "auto mapped write miss", MODE_AUTO, false,
	  W(.mapped = true, .probed = 16, .misses = 1, .writes = 16, .write_misses = 1), V_WATCH,
	  "map's writes were missing" },
	{ "auto writes, clean but not long enough", MODE_AUTO, false,
	  W(.probed = 16, .writes = 16, .clean_run = 63), V_WATCH, "whole file" },
	{ "auto writes, clean long enough", MODE_AUTO, false,
	  W(.probed = 16, .writes = 16, .clean_run = 64), V_MAP, "small reads" },
	{ "auto reads, one clean window", MODE_AUTO, false, W(.probed = 16, .clean_run = 1), V_MAP,
	  "small reads" },
	/* residency */
	{ "auto random cold file", MODE_AUTO, false, W(.cached_pct = 10), V_WATCH, "half" },
	{ "auto random half cached", MODE_AUTO, false, W(.cached_pct = 50), V_MAP, "small reads" },
	{ "auto sequential cold file", MODE_AUTO, false, W(.seq = 8, .cached_pct = 0), V_MAP,
	  "small reads" },
	{ "auto mapped missing", MODE_AUTO, false, W(.mapped = true, .probed = 16, .misses = 2),
	  V_WATCH, "the map was missing" },
	{ "auto mapped rare misses", MODE_AUTO, false, W(.mapped = true, .probed = 16, .misses = 1),
	  V_MAP, "small reads" },
	{ "auto mapped few probes", MODE_AUTO, false, W(.mapped = true, .probed = 7, .misses = 7),
	  V_MAP, "small reads" },
	{ "auto watched missing", MODE_AUTO, false, W(.probed = 16, .misses = 8), V_WATCH,
	  "reads miss" },
	{ "auto watched clean, waiting", MODE_AUTO, false,
	  W(.probed = 16, .clean_run = 1, .clean_need = 2), V_WATCH, "waiting" },
	{ "auto watched clean enough", MODE_AUTO, false,
	  W(.probed = 16, .clean_run = 2, .clean_need = 2, .cached_pct = 5), V_MAP, "small reads" },
	{ "always ignores misses", MODE_ALWAYS, false, W(.mapped = true, .probed = 16, .misses = 16),
	  V_MAP, "always" },
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

/* Read once: the watch slows down until the kernel has moved the file twice; no other watch does. */
static void test_once_until_moved(void **state)
{
	(void)state;
	struct shim_config c = base(MODE_AUTO);
	struct file_facts f = W(.seq = 8, .size = 64 * MIB, .bytes = 8 * 16384, .moved = 8 * 16384);
	struct decision d = policy_decide(&c, &f);
	assert_int_equal(d.v, V_WATCH);
	assert_int_equal(d.until_moved, 128 * MIB);
	f = W(.probed = 16, .misses = 8);
	d = policy_decide(&c, &f);
	assert_int_equal(d.v, V_WATCH);
	assert_int_equal(d.until_moved, 0);
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

/*
 * The map's advice: the default for calls in order, random advice for
 * calls at random (whatever is cached: see policy_advice), and no change
 * for a mixed pattern.
 */
static void test_advice(void **state)
{
	(void)state;
	struct {
		struct file_facts f;
		int want;
	} t[] = {
		{ W(.seq = 8), MMAPIO_ADV_NORMAL },
		{ W(.seq = 6, .cached_pct = 0), MMAPIO_ADV_NORMAL },
		{ W(.seq = 0, .cached_pct = 0), MMAPIO_ADV_RANDOM },
		{ W(.seq = 2, .cached_pct = 99), MMAPIO_ADV_RANDOM },
		{ W(.seq = 0, .cached_pct = 100), MMAPIO_ADV_RANDOM },
		{ W(.seq = 0), MMAPIO_ADV_RANDOM },
		{ W(.seq = 3), -1 },				/* mixed: keep */
		{ W(.seq = 5), -1 },
		{ F(.calls = 0), -1 },
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (policy_advice(&t[i].f) != t[i].want)
			fail_msg("advice row %zu: %d, want %d", i, policy_advice(&t[i].f), t[i].want);
	struct shim_config c = base(MODE_AUTO);
	struct file_facts f = W(.cached_pct = 80);
	assert_int_equal(policy_decide(&c, &f).advice, MMAPIO_ADV_RANDOM);
}

/* File systems in memory are mapped only with MMAPIO_TMPFS=1, never sparse. */
static void test_memfs(void **state)
{
	(void)state;
	const long fss[] = { TMPFS, HUGETLBFS };
	for (int i = 0; i < 2; i++) {
		for (int mode = MODE_ALWAYS; mode <= MODE_AUTO; mode++) {
			struct shim_config c = base(mode);
			struct file_facts f = W(.fs_magic = fss[i]);
			struct decision d = policy_decide(&c, &f);
			assert_int_equal(d.v, V_KERNEL);
			assert_non_null(strstr(d.reason, "MMAPIO_TMPFS"));
			c.tmpfs = true;
			assert_int_equal(policy_decide(&c, &f).v, V_MAP);
			f.sparse = true;
			d = policy_decide(&c, &f);
			assert_int_equal(d.v, V_KERNEL);
			assert_non_null(strstr(d.reason, "sparse"));
		}
	}
}

/* Sanity of the live thread count the shim feeds in. */
static void test_threads(void **state)
{
	(void)state;
	uint64_t n = proc_threads();
	assert_true(n >= 1 && n < 100000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_pure),
		cmocka_unit_test(test_once_until_moved),
		cmocka_unit_test(test_default_maps_after_window),
		cmocka_unit_test(test_advice),
		cmocka_unit_test(test_memfs),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
