/*
 * config.c - the MMAPIO_* environment variables, read once at start.
 *
 * A bad value never stops the program: the setting keeps its default and
 * one line on stderr names the variable, the value given and the value
 * used. The grammars are in parse.c; the README lists every variable.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "parse.h"
#include "shim.h"

struct shim_config cfg = {
	.mode = MODE_NEVER, /* until config_load() has run */
	.log_level = LOG_WARN,
};

static const struct shim_config defaults = {
	.mode = MODE_AUTO,
	.min_size = 64 << 10,
	.max_size = UINT64_MAX,
	.max_threads = 64,
	.prewarm = PREWARM_NONE,
	.prewarm_max = UINT64_MAX,
	.writes_map = true,
	.fsync_range = false,
	.flush_ms = 0,
	.hugepages = false,
	.netfs = false,
	.tmpfs = false,
	.log_level = LOG_WARN,
	.reserve = 0,
	.small_read = UINT64_MAX, /* every read counts as small: see policy.c */
	.large_read = UINT64_MAX, /* the streaming rule is off: see policy.c */
};

/*
 * Bad values are reported at warn level and above (always, unless
 * MMAPIO_LOG=error) and go to stderr, not MMAPIO_LOG_FILE: the user must
 * see them where they ran the command.
 */
static void bad(const char *var, const char *val, const char *used)
{
	if (cfg.log_level < LOG_WARN || !val)
		return;
	/* The value is the user's bytes: show control bytes escaped. */
	char shown[256];
	size_t k = 0;
	for (const unsigned char *p = (const unsigned char *)val; *p && k < sizeof shown - 5; p++) {
		if (*p < 0x20 || *p == 0x7f)
			k += (size_t)snprintf(shown + k, sizeof shown - k, "\\x%02x", *p);
		else
			shown[k++] = (char)*p;
	}
	shown[k] = 0;
	char line[512];
	int n = snprintf(line, sizeof line, "mmapio: %s='%s' is not valid; using %s\n", var,
			 shown, used);
	if (n > (int)sizeof line - 1)
		n = (int)sizeof line - 1;
	ssize_t w = REAL(write)(2, line, (size_t)n);
	(void)w;
}

/*
 * The stats file: made absolute now (the program may chdir before exit)
 * and checked now (at exit nobody may be left to read the complaint).
 */
static char *stats_path(char *p)
{
	if (!p || !strcmp(p, "stderr"))
		return p;
	char *abs = p;
	if (p[0] != '/') {
		char cwd[4096];
		if (getcwd(cwd, sizeof cwd) && asprintf(&abs, "%s/%s", cwd, p) < 0)
			abs = NULL;
		if (abs != p)
			free(p);
		if (!abs)
			return NULL;
	}
	int fd = REAL(open)(abs, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0) {
		char used[64];
		snprintf(used, sizeof used, "no stats (cannot write it: %s)", strerror(errno));
		bad("MMAPIO_STATS", abs, used);
		free(abs);
		return NULL;
	}
	REAL(close)(fd);
	return abs;
}

static const char *env(const char *name)
{
	return getenv(name);
}

static void word(const char *var, const char *const *words, int *out, int def)
{
	const char *v = env(var);
	int i;
	*out = def;
	if (!v)
		return;
	if ((i = parse_word(v, words)) >= 0)
		*out = i;
	else
		bad(var, v, words[def]);
}

static void size(const char *var, uint64_t *out, uint64_t def)
{
	const char *v = env(var);
	*out = def;
	if (!v)
		return;
	if (!parse_size(v, out)) {
		*out = def;
		char used[32];
		if (def == UINT64_MAX)
			snprintf(used, sizeof used, "unlimited");
		else
			snprintf(used, sizeof used, "%llu", (unsigned long long)def);
		bad(var, v, used);
	}
}

static void boolean(const char *var, bool *out, bool def)
{
	const char *v = env(var);
	*out = def;
	if (v && !parse_bool(v, out)) {
		*out = def;
		bad(var, v, def ? "1" : "0");
	}
}

/* "a:b:c" -> {"a","b","c",NULL}; empty elements are an error. */
static char **globs(const char *var)
{
	const char *v = env(var);
	if (!v)
		return NULL;
	size_t n = 1;
	for (const char *p = v; *p; p++)
		n += *p == ':';
	char *copy = strdup(v);
	char **list = calloc(n + 1, sizeof *list);
	if (!copy || !list) {
		free(copy);
		free(list);
		return NULL;
	}
	size_t i = 0;
	for (char *save, *tok = strtok_r(copy, ":", &save); tok; tok = strtok_r(NULL, ":", &save))
		list[i++] = tok;
	if (i != n) { /* "", "a::b", ":a" */
		free(copy);
		free(list);
		bad(var, v, "unset");
		return NULL;
	}
	return list;
}

static char *path(const char *var)
{
	const char *v = env(var);
	if (!v)
		return NULL;
	if (!*v) {
		bad(var, v, "unset");
		return NULL;
	}
	return strdup(v);
}

void config_load(void)
{
	static const char *const modes[] = { "never", "always", "auto", 0 };
	static const char *const prewarms[] = { "none", "willneed", "populate", "async", 0 };
	static const char *const writes[] = { "kernel", "map", 0 };
	static const char *const fsyncs[] = { "kernel", "range", 0 };
	static const char *const huge[] = { "off", "auto", 0 };
	static const char *const levels[] = { "error", "warn", "info", "debug", 0 };
	struct shim_config c = defaults;
	int w;

	/* The log level first: it decides whether bad values are reported. */
	cfg.log_level = defaults.log_level;
	word("MMAPIO_LOG", levels, &c.log_level, LOG_WARN);
	cfg.log_level = c.log_level;

	word("MMAPIO_MODE", modes, &c.mode, MODE_AUTO);
	c.include = globs("MMAPIO_INCLUDE");
	c.exclude = globs("MMAPIO_EXCLUDE");
	size("MMAPIO_MIN_SIZE", &c.min_size, defaults.min_size);
	size("MMAPIO_MAX_SIZE", &c.max_size, defaults.max_size);
	const char *t = env("MMAPIO_MAX_THREADS");
	if (t && !parse_uint(t, 1u << 20, &c.max_threads)) {
		c.max_threads = defaults.max_threads;
		bad("MMAPIO_MAX_THREADS", t, "64");
	}
	word("MMAPIO_PREWARM", prewarms, &c.prewarm, PREWARM_NONE);
	size("MMAPIO_PREWARM_MAX", &c.prewarm_max, defaults.prewarm_max);
	word("MMAPIO_WRITES", writes, &w, 1);
	c.writes_map = w == 1;
	word("MMAPIO_FSYNC", fsyncs, &w, 0);
	c.fsync_range = w == 1;
	const char *fi = env("MMAPIO_FLUSH_INTERVAL");
	if (fi && !parse_duration_ms(fi, &c.flush_ms)) {
		c.flush_ms = 0;
		bad("MMAPIO_FLUSH_INTERVAL", fi, "0 (off)");
	}
	word("MMAPIO_HUGEPAGES", huge, &w, 0);
	c.hugepages = w == 1;
	boolean("MMAPIO_NETFS", &c.netfs, false);
	boolean("MMAPIO_TMPFS", &c.tmpfs, false);
	c.stats = path("MMAPIO_STATS");
	c.log_file = path("MMAPIO_LOG_FILE");
	size("MMAPIO_RESERVE", &c.reserve, 0);
	size("MMAPIO_SMALL_READ", &c.small_read, defaults.small_read);
	size("MMAPIO_LARGE_READ", &c.large_read, defaults.large_read);
	if (c.large_read == 0)
		c.large_read = UINT64_MAX; /* 0: off */
	if (c.min_size > c.max_size) {
		/* A small MMAPIO_MAX_SIZE pulls the default minimum down with it;
		 * an explicit minimum above the maximum is an error. */
		uint64_t used_min = defaults.min_size > c.max_size ? 0 : defaults.min_size;
		if (env("MMAPIO_MIN_SIZE")) {
			char used[64];
			snprintf(used, sizeof used, "%llu (it exceeded MMAPIO_MAX_SIZE)",
				 (unsigned long long)used_min);
			bad("MMAPIO_MIN_SIZE", env("MMAPIO_MIN_SIZE"), used);
		}
		c.min_size = used_min;
	}
	c.stats = stats_path(c.stats);
	cfg = c;
	stats_on = cfg.stats != NULL;
}
