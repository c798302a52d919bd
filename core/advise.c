/*
 * advise.c - madvise, mlock and munlock on page-rounded ranges.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/mman.h>
#include "internal.h"

static const int advice_map[] = {
	[MMAPIO_ADV_NORMAL] = MADV_NORMAL,     [MMAPIO_ADV_SEQUENTIAL] = MADV_SEQUENTIAL,
	[MMAPIO_ADV_RANDOM] = MADV_RANDOM,     [MMAPIO_ADV_WILLNEED] = MADV_WILLNEED,
	[MMAPIO_ADV_DONTNEED] = MADV_DONTNEED, [MMAPIO_ADV_HUGEPAGE] = MADV_HUGEPAGE,
	[MMAPIO_ADV_NOHUGEPAGE] = MADV_NOHUGEPAGE,
};

/* The mapped pages of [off, off + len); false when there are none. */
static bool span(mmapio_map *m, off_t off, size_t len, uint64_t *start, uint64_t *end)
{
	uint64_t size = atomic_load_explicit(&m->size, memory_order_acquire);
	return mmapio__page_span(m, (uint64_t)off, len, round_up(size, m->pgsz), start, end);
}

int mmapio_advise(mmapio_map *m, off_t off, size_t len, int advice)
{
	uint64_t s, e;
	if (!m || off < 0 || advice < 0 ||
	    advice >= (int)(sizeof advice_map / sizeof advice_map[0]))
		return -EINVAL;
	if (!span(m, off, len, &s, &e))
		return 0;
	/*
	 * MADV_DONTNEED on a shared file mapping only drops this process's
	 * page table entries; the data stays in the page cache and dirty pages
	 * are still written back. On a COW map it discards private changes.
	 */
	return madvise(m->base + s, e - s, advice_map[advice]) < 0 ? -errno : 0;
}

/*
 * The access advice of the whole map. A piece mapped later by growth is a
 * new mapping with default advice, so the advice is kept and applied to
 * it too (mmapio__follow). Default advice makes a fault read the device's
 * readahead window around the page (read_ahead_kb: 128 KiB is common, 8
 * MiB was seen): right for a map read in order, ruinous for random reads
 * of data that is not cached. MADV_RANDOM makes a fault read its page only.
 */
static bool is_access(int advice)
{
	return advice == MMAPIO_ADV_NORMAL || advice == MMAPIO_ADV_SEQUENTIAL ||
	       advice == MMAPIO_ADV_RANDOM;
}

int mmapio__access_apply(mmapio_map *m, void *addr, size_t len)
{
	MMAPIO_ASSERT(MAP_HELD(m));
	int a = atomic_load(&m->access);
	if (a == MMAPIO_ADV_NORMAL)
		return 0; /* what a new mapping has */
	return madvise(addr, len, advice_map[a]) < 0 ? -errno : 0;
}

int mmapio_set_access(mmapio_map *m, int advice)
{
	if (!m || !is_access(advice))
		return -EINVAL;
	map_lock(m);
	int rc = 0;
	atomic_store(&m->access, advice);
	if (m->mapped && madvise(m->base, m->mapped, advice_map[advice]) < 0)
		rc = -errno;
	map_unlock(m);
	return rc;
}

int mmapio_get_access(const mmapio_map *m)
{
	return atomic_load(&((mmapio_map *)m)->access);
}

int mmapio_lock(mmapio_map *m, off_t off, size_t len)
{
	uint64_t s, e;
	if (!m || off < 0)
		return -EINVAL;
	if (!span(m, off, len, &s, &e))
		return 0;
	return mlock(m->base + s, e - s) < 0 ? -errno : 0;
}

int mmapio_unlock(mmapio_map *m, off_t off, size_t len)
{
	uint64_t s, e;
	if (!m || off < 0)
		return -EINVAL;
	if (!span(m, off, len, &s, &e))
		return 0;
	return munlock(m->base + s, e - s) < 0 ? -errno : 0;
}
