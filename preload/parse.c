/*
 * parse.c - value grammars for the MMAPIO_* variables (see parse.h).
 */
#include <strings.h>
#include "parse.h"

static bool digits(const char **sp, uint64_t *out)
{
	const char *s = *sp;
	uint64_t v = 0;
	if (*s < '0' || *s > '9')
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(*s - '0'), &v))
			return false;
	}
	*sp = s;
	*out = v;
	return true;
}

bool parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v;
	if (!s || !digits(&s, &v) || *s || v > max)
		return false;
	*out = v;
	return true;
}

bool parse_size(const char *s, uint64_t *out)
{
	uint64_t v;
	unsigned shift = 0;
	if (!s || !digits(&s, &v))
		return false;
	switch (*s) {
	case 'k': case 'K': shift = 10; s++; break;
	case 'm': case 'M': shift = 20; s++; break;
	case 'g': case 'G': shift = 30; s++; break;
	case 't': case 'T': shift = 40; s++; break;
	}
	if (shift && (s[0] == 'i' || s[0] == 'I') && (s[1] == 'b' || s[1] == 'B'))
		s += 2;
	else if (*s == 'b' || *s == 'B')
		s++;
	if (*s)
		return false;
	if (shift && v > (UINT64_MAX >> shift))
		return false;
	*out = v << shift;
	return true;
}

bool parse_duration_ms(const char *s, uint64_t *out)
{
	uint64_t v;
	if (!s || !digits(&s, &v))
		return false;
	uint64_t ms;
	if (!*s || !strcasecmp(s, "ms")) {
		ms = v;
	} else if (!strcasecmp(s, "us")) {
		ms = v / 1000 + (v % 1000 != 0);
	} else if (!strcasecmp(s, "s")) {
		if (__builtin_mul_overflow(v, 1000, &ms))
			return false;
	} else if (!strcasecmp(s, "m") || !strcasecmp(s, "min")) {
		if (__builtin_mul_overflow(v, 60000, &ms))
			return false;
	} else {
		return false;
	}
	*out = ms;
	return true;
}

bool parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "1", "on", "yes", "true", 0 };
	static const char *const no[] = { "0", "off", "no", "false", 0 };
	if (parse_word(s, yes) >= 0) {
		*out = true;
		return true;
	}
	if (parse_word(s, no) >= 0) {
		*out = false;
		return true;
	}
	return false;
}

int parse_word(const char *s, const char *const *words)
{
	if (!s)
		return -1;
	for (int i = 0; words[i]; i++)
		if (!strcasecmp(s, words[i]))
			return i;
	return -1;
}
