/*
 * parse.h - the grammars of MMAPIO_* values. Pure functions: no globals,
 * no allocation, no I/O; unit-tested and fuzzed (tests/preload/,
 * tests/fuzz/).
 */
#ifndef MMAPIO_PARSE_H
#define MMAPIO_PARSE_H
#include <stdbool.h>
#include <stdint.h>

/* "4096", "64K", "4M", "1G", "2T" (binary multiples; k/m/g/t, and a
 * trailing "B" or "iB" accepted). No sign, no spaces, no overflow. */
bool parse_size(const char *s, uint64_t *out);

/* "0", "250" (milliseconds), "500us", "50ms", "2s", "1m"/"1min". Result in
 * milliseconds; sub-millisecond values round up to 1. */
bool parse_duration_ms(const char *s, uint64_t *out);

/* "1", "0", "on", "off", "yes", "no", "true", "false" (any case). */
bool parse_bool(const char *s, bool *out);

/* Index of s in the NULL-terminated word list (case-insensitive), or -1. */
int parse_word(const char *s, const char *const *words);

/* A plain non-negative decimal integer up to max. */
bool parse_uint(const char *s, uint64_t max, uint64_t *out);
#endif
