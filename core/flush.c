/*
 * flush.c - dirty-page tracking, page-rounded microflush and the
 * write-count flush policies.
 *
 * Every page written through mmapio_write() gets a bit in m->dirty, set
 * after the copy completes; m->dirty_hint bounds the words that hold set
 * bits, so a flush of a large, mostly clean map scans little. A flush
 * clears the bits it takes before calling msync(), so a write racing the
 * flush either lands before the msync reads the page or sets the bit again
 * for the next flush. Nothing is lost, and no lock is taken.
 *
 * Durability: msync(MS_SYNC) on a shared file mapping writes the range and
 * waits, like fdatasync(2) of that range. MS_ASYNC is never used for
 * durability: on Linux it has done nothing since 2.6.19 (dirty pages are
 * tracked by the kernel anyway), so a library that "flushes" with it
 * promises what it does not do.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/mman.h>
#include "internal.h"

void (*mmapio__msync_hook)(const mmapio_map *m, uint64_t off, uint64_t len);

static uint64_t hint_make(uint64_t lo, uint64_t hi) { return lo | (hi << 32); }

/* Widen the hint to include words [lo, hi]. */
static void hint_add(mmapio_map *m, uint64_t lo, uint64_t hi)
{
	uint64_t h = atomic_load_explicit(&m->dirty_hint, memory_order_relaxed);
	for (;;) {
		uint64_t l0 = h & UINT32_MAX, h0 = h >> 32;
		bool empty = h == DIRTY_HINT_EMPTY;
		uint64_t nl = empty || lo < l0 ? lo : l0;
		uint64_t nh = empty || hi > h0 ? hi : h0;
		uint64_t n = hint_make(nl, nh);
		if (n == h)
			return;
		if (atomic_compare_exchange_weak(&m->dirty_hint, &h, n))
			return;
	}
}

/* Set (set=true) or clear the bits of pages [p0, p1). Returns whether any changed. */
static void bits_update(mmapio_map *m, uint64_t p0, uint64_t p1, bool set)
{
	for (uint64_t p = p0; p < p1;) {
		uint64_t w = p / 64, b = p % 64;
		uint64_t n = p1 - p < 64 - b ? p1 - p : 64 - b;
		uint64_t mask = (n == 64 ? ~0ULL : ((1ULL << n) - 1)) << b;
		if (set) {
			/* Skip the locked op when the bits are already set. */
			if ((atomic_load_explicit(&m->dirty[w], memory_order_relaxed) & mask) != mask)
				atomic_fetch_or(&m->dirty[w], mask);
		} else {
			atomic_fetch_and(&m->dirty[w], ~mask);
		}
		p += n;
	}
}

void mmapio__mark_dirty(mmapio_map *m, uint64_t off, uint64_t len)
{
	if (!m->dirty || !len)
		return;
	uint64_t p0 = off >> m->pgshift, p1 = ((off + len - 1) >> m->pgshift) + 1;
	if (p1 > (uint64_t)m->dirty_words * 64)
		p1 = (uint64_t)m->dirty_words * 64;
	/*
	 * Order the caller's stores to the page before our read of the bits:
	 * if we saw a bit still set and skipped, a flush that clears it later
	 * must also see our data when it msyncs.
	 */
	atomic_thread_fence(memory_order_seq_cst);
	bits_update(m, p0, p1, true);
	hint_add(m, p0 / 64, (p1 - 1) / 64);
}

void mmapio__drop_dirty(mmapio_map *m, uint64_t from)
{
	if (!m->dirty)
		return;
	uint64_t p0 = round_up(from, m->pgsz) >> m->pgshift;
	bits_update(m, p0, (uint64_t)m->dirty_words * 64, false);
}

void mmapio__set_error(mmapio_map *m, int err)
{
	int zero = 0;
	atomic_fetch_add(&m->st.flush_errors, 1);
	atomic_compare_exchange_strong(&m->flush_err, &zero, err);
}

/* msync [start, end) of the map: bytes, page aligned. */
static int sync_span(mmapio_map *m, uint64_t start, uint64_t end)
{
	if (mmapio__msync_hook)
		mmapio__msync_hook(m, start, end - start);
	atomic_fetch_add(&m->st.flushes, 1);
	if (msync(m->base + start, end - start, MS_SYNC) < 0) {
		int err = -errno;
		mmapio__set_error(m, err);
		return err;
	}
	atomic_fetch_add(&m->st.flushed_bytes, end - start);
	return 0;
}

/* Sync pages [p0, p1) taken from the bitmap; on failure mark them dirty again. */
static int sync_pages(mmapio_map *m, uint64_t p0, uint64_t p1)
{
	uint64_t start = p0 << m->pgshift, end = p1 << m->pgshift;
	uint64_t limit = m->mapped;
	if (end > limit)
		end = limit;
	if (start >= end)
		return 0;
	int rc = sync_span(m, start, end);
	if (rc < 0) {
		bits_update(m, p0, p1, true);
		hint_add(m, p0 / 64, (p1 - 1) / 64);
	}
	return rc;
}

int mmapio_flush_range(mmapio_map *m, off_t off, size_t len)
{
	uint64_t start, end;
	if (!m || off < 0)
		return -EINVAL;
	if (m->mode != MMAPIO_RDWR)
		return 0;
	if (!mmapio__page_span(m, (uint64_t)off, len, m->mapped, &start, &end))
		return 0;
	if (m->dirty)
		bits_update(m, start >> m->pgshift, end >> m->pgshift, false);
	return sync_pages(m, start >> m->pgshift, end >> m->pgshift);
}

int mmapio_flush(mmapio_map *m)
{
	if (!m)
		return -EINVAL;
	if (m->mode != MMAPIO_RDWR)
		return 0;
	atomic_store(&m->pending_bytes, 0);
	atomic_store(&m->pending_writes, 0);
	if (!m->dirty)
		return m->mapped ? sync_span(m, 0, m->mapped) : 0;

	uint64_t h = atomic_exchange(&m->dirty_hint, DIRTY_HINT_EMPTY);
	if (h == DIRTY_HINT_EMPTY)
		return 0;
	uint64_t lo = h & UINT32_MAX, hi = h >> 32;
	int first = 0;
	uint64_t run = UINT64_MAX; /* first page of the current run */
	uint64_t next = 0;	   /* page after the current run */
	for (uint64_t w = lo; w <= hi && w < m->dirty_words; w++) {
		uint64_t bits = atomic_exchange(&m->dirty[w], 0);
		while (bits) {
			uint64_t p = w * 64 + (uint64_t)__builtin_ctzll(bits);
			bits &= bits - 1;
			if (run != UINT64_MAX && p == next) {
				next++;
				continue;
			}
			if (run != UINT64_MAX) {
				int rc = sync_pages(m, run, next);
				if (rc < 0 && !first)
					first = rc;
			}
			run = p;
			next = p + 1;
		}
	}
	if (run != UINT64_MAX) {
		int rc = sync_pages(m, run, next);
		if (rc < 0 && !first)
			first = rc;
	}
	return first;
}

int mmapio_flush_error(mmapio_map *m)
{
	return m ? atomic_exchange(&m->flush_err, 0) : -EINVAL;
}

int mmapio_set_flush_policy(mmapio_map *m, int policy, uint64_t arg)
{
	if (!m || policy < MMAPIO_FLUSH_MANUAL || policy > MMAPIO_FLUSH_INTERVAL)
		return -EINVAL;
	if (policy >= MMAPIO_FLUSH_BYTES && arg == 0)
		return -EINVAL;
	if (m->mode != MMAPIO_RDWR)
		return policy == MMAPIO_FLUSH_MANUAL ? 0 : -EBADF;
	mmapio__flusher_unregister(m);
	atomic_store(&m->flush_arg, arg);
	atomic_store(&m->pending_bytes, 0);
	atomic_store(&m->pending_writes, 0);
	atomic_store(&m->policy, policy);
	if (policy == MMAPIO_FLUSH_INTERVAL)
		mmapio__flusher_register(m, arg);
	return 0;
}

/* After a successful write of n bytes at off into an RDWR map. */
void mmapio__after_write(mmapio_map *m, uint64_t off, size_t n)
{
	mmapio__mark_dirty(m, off, n);
	int policy = atomic_load_explicit(&m->policy, memory_order_relaxed);
	if (likely(policy == MMAPIO_FLUSH_MANUAL || policy == MMAPIO_FLUSH_INTERVAL))
		return;
	uint64_t arg = atomic_load_explicit(&m->flush_arg, memory_order_relaxed);
	switch (policy) {
	case MMAPIO_FLUSH_ALWAYS:
		mmapio_flush_range(m, (off_t)off, n);
		break;
	case MMAPIO_FLUSH_BYTES:
		if (atomic_fetch_add(&m->pending_bytes, n) + n >= arg)
			mmapio_flush(m);
		break;
	case MMAPIO_FLUSH_WRITES:
		if (atomic_fetch_add(&m->pending_writes, 1) + 1 >= arg)
			mmapio_flush(m);
		break;
	}
}
