/*
 * stress.h - small helpers shared by the reliability programs of
 * tests/stress (each program is one .c file; this header is all they share).
 *
 *   - a seeded PRNG (splitmix64): every run is reproducible from its seed;
 *   - the "known pattern" used wherever another process races us: a byte
 *     at file offset o is either 0 (a hole, or a range truncated away and
 *     re-extended) or pat(o), never anything else. pat() is never 0;
 *   - errno names for deterministic output.
 */
#ifndef MMAPIO_STRESS_H
#define MMAPIO_STRESS_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline uint64_t sm64(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, n); n > 0. */
static inline uint64_t rnd(uint64_t *s, uint64_t n)
{
	return n ? sm64(s) % n : 0;
}

/* The racing-writer pattern: never 0, depends on the offset only. */
static inline unsigned char pat(uint64_t off)
{
	return (unsigned char)(((off * 2654435761u) >> 13) & 0xff) | 1;
}

static inline void pat_fill(unsigned char *b, uint64_t off, size_t n)
{
	for (size_t i = 0; i < n; i++)
		b[i] = pat(off + i);
}

/* Index of the first byte of b (read at file offset off) that is neither 0
 * nor pat(off + i), or -1 when every byte is plausible. */
static inline long pat_check(const unsigned char *b, uint64_t off, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != 0 && b[i] != pat(off + i))
			return (long)i;
	return -1;
}

static inline const char *errname(int e)
{
	const char *s = strerrorname_np(e);
	static __thread char buf[24];
	if (s)
		return s;
	snprintf(buf, sizeof buf, "E%d", e);
	return buf;
}

/* Seeds may be given in decimal or 0x-hex. */
static inline uint64_t parse_u64(const char *s)
{
	return strtoull(s, NULL, 0);
}

#endif
