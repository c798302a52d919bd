/*
 * sample.c - watching files after the first decision, cheaply.
 *
 * A decision made on the first calls can go wrong later: the data stops
 * fitting in the page cache (a memory cgroup, a busy machine), the access
 * pattern changes, the file grows. So every tracked file keeps being
 * watched, by sampling its calls:
 *
 *   - Each thread counts down its calls on tracked files; when the count
 *     runs out, that call is sampled and the count restarts at the file's
 *     period. A sampled call notes whether it continued the previous call
 *     on its description (sequential), whether it was small, and whether
 *     its pages were in the page cache (residency.c) before it ran.
 *   - A sampled call the map would serve from pages that are not cached is
 *     served by the kernel instead (it would have cost a page fault that
 *     waits for the disk, more than the read(2) of the same data).
 *   - Every WINDOW samples, the file's window is judged (files.c
 *     files_reconsider, policy.c): the map's advice follows the pattern,
 *     and auto mode maps or hands back the file.
 *
 * The period adapts: a file whose samples miss the page cache is sampled
 * at every call (its calls wait for the disk anyway, and each miss caught
 * is a fault avoided); a clean window lengthens it 4x, up to PERIOD_MAX
 * calls (one cachestat per 256 calls: ~1 ns a call). The common path pays
 * a thread-local decrement.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <unistd.h>
#include "shim.h"

TLS struct sample_tls sample_tls;

/*
 * The call after a sampled positional call, on any description: if it
 * continues that one, the pattern is sequential there. A thread that
 * interleaves two descriptions never closes a pair with a match: its
 * positional calls look random (safe: random advice, or the kernel).
 */
void pair_close(struct ofd *o, int64_t off)
{
	const struct ofd *p = sample_tls.pair_o;
	struct file *f = o->file;
	sample_tls.pair_o = NULL;
	sample_tls.left = sample_tls.left_after;
	if (p == o && off == sample_tls.pair_end && f)
		atomic_fetch_add_explicit(&f->s_seq, 1, memory_order_relaxed);
}

#define PERIOD_FIRST 16 /* after the first window */
#define PERIOD_MAX 256
#define PERIOD_WATCH 16 /* kernel-served files: a probe per 16 syscalls */

void sample_start(struct file *f, bool mapped)
{
	atomic_store(&f->s_n, 0);
	atomic_store(&f->s_probed, 0);
	atomic_store(&f->s_miss, 0);
	atomic_store(&f->s_wmiss, 0);
	atomic_store(&f->s_writes, 0);
	atomic_store(&f->s_seq, 0);
	atomic_store(&f->s_small, 0);
	atomic_store(&f->s_bytes, 0);
	/* A new map samples its first window call by call: the pattern and
	 * the page cache are learnt before a fault can read around a page
	 * nobody asked for. Other threads join when their own count runs out
	 * (PERIOD_MAX calls at most); this one, which decided, at once. */
	atomic_store(&f->s_period, mapped ? 0 : PERIOD_WATCH);
	if (mapped)
		sample_tls.left = sample_tls.left_after = 0;
}

/*
 * A watched file whose decision no probe can change until it is read again
 * (policy.c, read once in order) is sampled at the longest period: only the
 * bytes the kernel moves matter, and those are counted at every call
 * (pattern.c), which wakes the watching when they reach until_moved.
 */
/* A sampling period p held between lo and PERIOD_MAX. */
static int bounded(int p, int lo)
{
	return p < lo ? lo : p > PERIOD_MAX ? PERIOD_MAX : p;
}

void sample_pace(struct file *f, uint64_t until_moved)
{
	if (atomic_load(&f->state) == FILE_MAPPED)
		return;
	atomic_store(&f->until_moved, until_moved);
	/* Otherwise the period count() chose stands: this runs after every
	 * window judged "watch", and setting PERIOD_WATCH here (as it once
	 * did) undid every longer period. Only a period shorter than a
	 * watched file's (a map's just handed back, a wake's) is raised. */
	int p = atomic_load(&f->s_period);
	atomic_store(&f->s_period, until_moved ? PERIOD_MAX : bounded(p, PERIOD_WATCH));
}

/* Read again: sample call by call, so the next window decides soon. */
void sample_wake(struct file *f)
{
	atomic_store(&f->until_moved, 0);
	atomic_store(&f->s_period, 0);
	sample_tls.left = 0;
}

/*
 * One sampled call: count it in the window; at the end of a window, judge
 * it. Returns false when the caller should let the kernel serve the call
 * (its pages are not all cached).
 */
static void count(struct ofd *o, int fd, struct file *f, const struct sample *s)
{
	atomic_fetch_add_explicit(&f->sampled, 1, memory_order_relaxed);
	if (s->probed) {
		atomic_fetch_add_explicit(&f->s_probed, 1, memory_order_relaxed);
		if (s->miss) {
			atomic_fetch_add_explicit(&f->s_miss, 1, memory_order_relaxed);
			if (s->write)
				atomic_fetch_add_explicit(&f->s_wmiss, 1, memory_order_relaxed);
			atomic_fetch_add_explicit(&f->missed, 1, memory_order_relaxed);
		}
	}
	if (s->seq) /* read()/write(); positional calls count when their pair closes */
		atomic_fetch_add_explicit(&f->s_seq, 1, memory_order_relaxed);
	if (s->small)
		atomic_fetch_add_explicit(&f->s_small, 1, memory_order_relaxed);
	if (s->write)
		atomic_fetch_add_explicit(&f->s_writes, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&f->s_bytes, s->len, memory_order_relaxed);
	if (atomic_fetch_add(&f->s_n, 1) + 1 != WINDOW)
		return;
	/* This thread ended the window: it judges it. */
	struct window w = {
		.n = WINDOW,
		.probed = atomic_exchange(&f->s_probed, 0),
		.miss = atomic_exchange(&f->s_miss, 0),
		.wmiss = atomic_exchange(&f->s_wmiss, 0),
		.writes = atomic_exchange(&f->s_writes, 0),
		.seq = atomic_exchange(&f->s_seq, 0),
		.small = atomic_exchange(&f->s_small, 0),
		.bytes = atomic_exchange(&f->s_bytes, 0),
	};
	atomic_fetch_sub(&f->s_n, WINDOW);
	int mapped = atomic_load(&f->state) == FILE_MAPPED;
	if (mapped) {
		/* Misses: look before every call until a window is clean
		 * (where we can look before: cachestat). */
		int p = atomic_load(&f->s_period);
		if (w.miss)
			p = atomic_load(&f->tier) == TIER_CACHESTAT ? 0 : PERIOD_FIRST;
		else
			p = bounded(p * 4, PERIOD_FIRST);
		atomic_store(&f->s_period, p);
	} else if (w.miss && atomic_load(&f->until_moved) == 0) {
		/* Watched and missing: the kernel serves it whatever we see, so
		 * look less often (a probe per 16 calls cost ~8% of cached 4 KiB
		 * pwrites); a clean window halves it again. */
		atomic_store(&f->s_period, bounded(atomic_load(&f->s_period) * 2, PERIOD_WATCH));
	} else if (atomic_load(&f->until_moved) == 0 && !w.writes) {
		/* A clean window brings the next decision closer: look more
		 * often. Not a written file's: it needs WRITE_CLEAN_WINDOWS
		 * clean windows in a row (policy.c), and one miss starts them
		 * over, so looking faster only costs; it keeps its period. */
		int p = atomic_load(&f->s_period);
		atomic_store(&f->s_period, bounded(p / 2, PERIOD_WATCH));
	}
	files_reconsider(o, fd, &w);
}

/* Before a call on a tracked file: is it sampled, and what does it look like? */
static bool begin(struct ofd *o, struct file *f, int64_t off, size_t len, struct sample *s)
{
	s->seq = off < 0 && stream_implicit(o);
	if (unlikely(sample_tls.pair_o))
		pair_close(o, off);
	if (--sample_tls.left >= 0)
		return false;
	int period = atomic_load_explicit(&f->s_period, memory_order_relaxed);
	sample_tls.left = period;
	if (off >= 0) { /* the next call comes here, to close the pair */
		sample_tls.pair_o = o;
		sample_tls.pair_end = off + (int64_t)len;
		sample_tls.left_after = period;
		sample_tls.left = 0;
	}
	s->small = len < cfg.small_read;
	s->len = len;
	s->probed = s->miss = s->write = false;
	s->majflt = UINT64_MAX;
	return true;
}

/* The tier of f's residency probe, learnt at its first probe. */
static int probe(struct file *f, int fd, uint64_t off, size_t len)
{
	int tier = atomic_load_explicit(&f->tier, memory_order_relaxed);
	if (tier == TIER_FAULTS)
		return -1;
	int r = residency_cached(fd, off, len);
	if (tier == TIER_UNKNOWN) /* any thread learns the same answer */
		atomic_store(&f->tier, r < 0 ? TIER_FAULTS : TIER_CACHESTAT);
	return r;
}

bool sample_served_begin(struct ofd *o, int fd, int64_t off, int64_t at, size_t len,
			 struct sample *s)
{
	struct file *f = o->file;
	s->active = begin(o, f, off, len, s);
	if (!s->active || len == 0)
		return true;
	int r = probe(f, fd, (uint64_t)at, len);
	if (r >= 0) {
		s->probed = true;
		s->miss = r == 0;
		return r == 1;
	}
	s->majflt = residency_majflt();
	return true;
}

void sample_served_end(struct ofd *o, int fd, struct sample *s)
{
	if (!s->active)
		return;
	int e = errno;
	if (s->majflt != UINT64_MAX) {
		s->probed = true;
		s->miss = residency_majflt() > s->majflt;
	}
	count(o, fd, o->file, s);
	errno = e;
}

/*
 * Before a call the kernel serves on a file being watched: the pattern,
 * and (sampled) whether its pages were cached, for the decision to map.
 */
void sample_kernel(struct ofd *o, int fd, int64_t off, int64_t at, size_t len, bool write)
{
	struct file *f = o->file;
	struct sample s;
	if (!begin(o, f, off, len, &s))
		return;
	s.write = write;
	int e = errno;
	if (len && at >= 0) {
		int r = probe(f, fd, (uint64_t)at, len);
		s.probed = r >= 0;
		s.miss = r == 0;
	}
	count(o, fd, f, &s);
	errno = e;
}
