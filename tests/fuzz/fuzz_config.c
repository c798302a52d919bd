/*
 * fuzz_config.c - fuzz target for the MMAPIO_* value parsers and for
 * config_load() as a whole: any byte string as any variable's value must
 * leave a valid configuration and never crash.
 *
 * Input: first byte picks the variable, the rest is its value.
 * Built with libFuzzer by `make fuzz`; tests/fuzz/replay.c runs the same
 * target over the seed corpus in `make test`.
 *
 * config_load() creates the MMAPIO_STATS file, so the values of the path
 * variables are kept inside the current directory (both runners start in a
 * scratch directory): every '/' becomes '_', and a value that started with
 * '/' gets the current directory in front (the absolute-path branch is still
 * taken). Without that, inputs such as "/x" created files anywhere, as root.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "parse.h"
#include "shim.h"

static const char *const vars[] = {
	"MMAPIO_MODE",	      "MMAPIO_INCLUDE",	      "MMAPIO_EXCLUDE",	   "MMAPIO_MIN_SIZE",
	"MMAPIO_MAX_SIZE",    "MMAPIO_MAX_THREADS",   "MMAPIO_PREWARM",	   "MMAPIO_PREWARM_MAX",
	"MMAPIO_WRITES",      "MMAPIO_FSYNC",	      "MMAPIO_FLUSH_INTERVAL", "MMAPIO_HUGEPAGES",
	"MMAPIO_NETFS",	      "MMAPIO_STATS",	      "MMAPIO_LOG",	   "MMAPIO_LOG_FILE",
	"MMAPIO_RESERVE",     "MMAPIO_SMALL_READ",    "MMAPIO_LARGE_READ",
};

/* The value for a path variable: one name in the current directory. */
static char *confined(const char *s)
{
	char cwd[2048];
	const char *dir = s[0] == '/' && getcwd(cwd, sizeof cwd) ? cwd : NULL;
	size_t n = strlen(s);
	char *p = malloc(sizeof cwd + n + 2);
	if (!p)
		return NULL;
	int k = dir ? snprintf(p, sizeof cwd + 1, "%s/", dir) : 0;
	for (size_t i = 0; i <= n; i++)
		p[k + i] = s[i] == '/' ? '_' : s[i];
	return p;
}

static int is_path_var(const char *var)
{
	return !strcmp(var, "MMAPIO_STATS") || !strcmp(var, "MMAPIO_LOG_FILE");
}

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
	char *v = is_path_var(var) ? confined(s) : s;
	if (!v) {
		free(s);
		return 0;
	}
	setenv(var, v, 1);
	if (v != s)
		free(v);
	config_load();
	if (cfg.mode < MODE_NEVER || cfg.mode > MODE_AUTO || cfg.min_size > cfg.max_size ||
	    cfg.log_level < 0 || cfg.log_level > 3 || cfg.prewarm < 0 || cfg.prewarm > 3)
		abort();
	unsetenv(var);
	free(s);
	return 0;
}
