/*
 * fuzz_config.c - fuzz target for the MMAPIO_* value parsers and for
 * config_load() as a whole: any byte string as any variable's value must
 * leave a valid configuration and never crash.
 *
 * Input: first byte picks the variable, the rest is its value.
 * Built with libFuzzer by `make fuzz`; tests/fuzz/replay.c runs the same
 * target over the seed corpus in `make test`.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "parse.h"
#include "shim.h"

static const char *const vars[] = {
	"MMAPIO_MODE",	      "MMAPIO_INCLUDE",	      "MMAPIO_EXCLUDE",	   "MMAPIO_MIN_SIZE",
	"MMAPIO_MAX_SIZE",    "MMAPIO_MAX_THREADS",   "MMAPIO_PREWARM",	   "MMAPIO_PREWARM_MAX",
	"MMAPIO_WRITES",      "MMAPIO_FSYNC",	      "MMAPIO_FLUSH_INTERVAL", "MMAPIO_HUGEPAGES",
	"MMAPIO_NETFS",	      "MMAPIO_STATS",	      "MMAPIO_LOG",	   "MMAPIO_LOG_FILE",
	"MMAPIO_RESERVE",     "MMAPIO_SMALL_READ",    "MMAPIO_LARGE_READ",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 4096)
		return 0;
	char *s = malloc(size);
	if (!s)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = 0;

	uint64_t u;
	bool b;
	static const char *const words[] = { "a", "bb", 0 };
	if (parse_size(s, &u) && strlen(s) == 0)
		abort(); /* the empty string is never a size */
	parse_duration_ms(s, &u);
	parse_bool(s, &b);
	parse_word(s, words);
	parse_uint(s, 1000, &u);

	const char *var = vars[data[0] % (sizeof vars / sizeof vars[0])];
	setenv("MMAPIO_LOG", "error", 1); /* keep the fuzzer's output quiet */
	setenv(var, s, 1);
	config_load();
	if (cfg.mode < MODE_NEVER || cfg.mode > MODE_AUTO || cfg.min_size > cfg.max_size ||
	    cfg.log_level < 0 || cfg.log_level > 3 || cfg.prewarm < 0 || cfg.prewarm > 3)
		abort();
	unsetenv(var);
	free(s);
	return 0;
}
