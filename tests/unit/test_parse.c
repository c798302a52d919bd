/*
 * test_parse.c - the MMAPIO_* value grammars (preload/parse.c): every
 * grammar, and every class of bad value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "parse.h"

static void test_sizes(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		uint64_t v;
	} good[] = {
		{ "0", 0 },	       { "4096", 4096 },	{ "64K", 65536 },
		{ "64k", 65536 },      { "64KiB", 65536 },	{ "64KB", 65536 },
		{ "4M", 4u << 20 },    { "1G", 1u << 30 },	{ "2T", 2ULL << 40 },
		{ "17B", 17 },	       { "16777215T", 16777215ULL << 40 },
		{ "18446744073709551615", UINT64_MAX },
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		uint64_t v = 1;
		assert_true(parse_size(good[i].s, &v));
		assert_int_equal(v, good[i].v);
	}
	static const char *const bad[] = {
		"",	"-1",  "+1", " 1",  "1 ",	"1x",	 "4Kx",	 "K",	"1KK",	"1.5M",
		"0x10", "1e3", "∞",  "４K", "16777216T", "18446744073709551616", "99999999999999999999999",
		"1iB",	"1Ki", NULL,
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		uint64_t v = 7;
		assert_false(parse_size(bad[i], &v));
		assert_int_equal(v, 7); /* untouched on failure */
	}
}

static void test_durations(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		uint64_t ms;
	} good[] = {
		{ "0", 0 },	     { "250", 250 }, { "50ms", 50 }, { "2s", 2000 }, { "1m", 60000 },
		{ "1min", 60000 }, { "500us", 1 }, { "1500us", 2 }, { "0us", 0 },	{ "2S", 2000 },
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		uint64_t v = 1234;
		assert_true(parse_duration_ms(good[i].s, &v));
		assert_int_equal(v, good[i].ms);
	}
	static const char *const bad[] = { "",	   "-5ms", "5 ms", "5h",   "ms",   "1.5s",
					   "5msx", "∞",	   "18446744073709551615s", NULL };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		uint64_t v = 3;
		assert_false(parse_duration_ms(bad[i], &v));
	}
}

static void test_bools_and_words(void **state)
{
	(void)state;
	bool b;
	const char *yes[] = { "1", "on", "ON", "yes", "true", "True" };
	const char *no[] = { "0", "off", "no", "false", "FALSE" };
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		b = false;
		assert_true(parse_bool(yes[i], &b));
		assert_true(b);
	}
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
		b = true;
		assert_true(parse_bool(no[i], &b));
		assert_false(b);
	}
	const char *badb[] = { "", "2", "y", "enable", " on", "on ", NULL };
	for (size_t i = 0; i < sizeof badb / sizeof badb[0]; i++)
		assert_false(parse_bool(badb[i], &b));

	static const char *const modes[] = { "never", "always", "auto", 0 };
	assert_int_equal(parse_word("auto", modes), 2);
	assert_int_equal(parse_word("ALWAYS", modes), 1);
	assert_int_equal(parse_word("alway", modes), -1);
	assert_int_equal(parse_word("", modes), -1);
	assert_int_equal(parse_word(NULL, modes), -1);
	assert_int_equal(parse_word("auto ", modes), -1);
}

static void test_uint(void **state)
{
	(void)state;
	uint64_t v;
	assert_true(parse_uint("64", 100, &v));
	assert_int_equal(v, 64);
	assert_true(parse_uint("100", 100, &v));
	assert_false(parse_uint("101", 100, &v));
	assert_false(parse_uint("-1", 100, &v));
	assert_false(parse_uint("", 100, &v));
	assert_false(parse_uint("1k", 100000, &v));
	assert_false(parse_uint("99999999999999999999999", UINT64_MAX, &v));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_bools_and_words),
		cmocka_unit_test(test_uint),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
