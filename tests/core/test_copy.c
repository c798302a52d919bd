/*
 * test_copy.c - the fault-safe copy routine against memcpy: every size
 * from 0 to past the rep-movsb threshold, every source and destination
 * alignment in a 64-byte window, on every code path (AVX2 and SSE2 where
 * the CPU has AVX2), with guard bytes around the destination.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "mmapio.h"

#if defined(__x86_64__) && !defined(MMAPIO_FAULT_PORTABLE)
extern unsigned char mmapio__avx2;
#endif

static void check_all_sizes(void)
{
	enum { MAX = 4200, PAD = 64 };
	static unsigned char src[MAX + 2 * PAD], dst[MAX + 3 * PAD], ref[MAX + 3 * PAD];
	for (size_t i = 0; i < sizeof src; i++)
		src[i] = (unsigned char)(i * 131 + 7);
	for (size_t n = 0; n <= MAX; n += n < 300 ? 1 : 37) {
		for (size_t sa = 0; sa < PAD; sa += n < 300 ? 7 : 13) {
			size_t da = (sa * 5 + n) % PAD;
			memset(dst, 0xA5, sizeof dst);
			memset(ref, 0xA5, sizeof ref);
			memcpy(ref + PAD + da, src + sa, n);
			assert_int_equal(mmapio_copy(dst + PAD + da, src + sa, n, NULL), 0);
			if (memcmp(dst, ref, sizeof dst) != 0)
				fail_msg("copy of %zu bytes (src +%zu, dst +%zu) differs", n, sa, da);
		}
	}
}

static void test_copy_default_path(void **state)
{
	(void)state;
	check_all_sizes();
}

static void test_copy_sse_path(void **state)
{
	(void)state;
#if defined(__x86_64__) && !defined(MMAPIO_FAULT_PORTABLE)
	unsigned char saved = mmapio__avx2;
	mmapio__avx2 = 0;
	check_all_sizes();
	mmapio__avx2 = saved;
	if (!saved)
		skip(); /* no AVX2 here: the default test already covered SSE2 */
#else
	skip();
#endif
}

/* The library reads AVX2 from glibc's CPU features (core/fault.c); the
 * compiler's own CPUID check must agree, or the AVX2 path runs where the
 * CPU or the kernel does not support it (or never runs). */
static void test_copy_detects_avx2(void **state)
{
	(void)state;
#if defined(__x86_64__) && !defined(MMAPIO_FAULT_PORTABLE)
	__builtin_cpu_init();
	assert_int_equal(mmapio__avx2, __builtin_cpu_supports("avx2") ? 1 : 0);
#else
	skip();
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_copy_detects_avx2),
		cmocka_unit_test(test_copy_default_path),
		cmocka_unit_test(test_copy_sse_path),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
