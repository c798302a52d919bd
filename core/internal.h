/*
 * internal.h - the map structure and the helpers the core's files share.
 * Nothing here is exported: every function is hidden (see the Makefile's
 * -fvisibility=hidden); only MMAPIO_API names in mmapio.h leave the library.
 */
#ifndef MMAPIO_INTERNAL_H
#define MMAPIO_INTERNAL_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#define MMAPIO_NO_INLINE /* the library defines the out-of-line mmapio_read() */
#define MMAPIO_WANT_SYS
#include "mmapio.h"

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)


/* An empty dirty-range hint: low word index above the high one. */
#define DIRTY_HINT_EMPTY ((uint64_t)UINT32_MAX)

struct mmapio_map {
	/* Read on every call: keep together. These two are struct mmapio__head
	 * (mmapio.h), which the inline read path reads: same offsets. */
	unsigned char *base;	    /* never moves while the map is open */
	_Atomic uint64_t size;	    /* bytes callers may touch: min(file size, reserve) */
	_Atomic uint64_t file_size; /* the file's size as last seen */
	int mode;		    /* enum mmapio_mode */
	_Atomic int fd;
	_Atomic int policy;	    /* enum mmapio_flush_policy */
	unsigned pgshift;	    /* log2 of pgsz */
	size_t pgsz;

	/* Dirty pages: one bit each, set after a write's copy completes. */
	_Atomic uint64_t *dirty;
	size_t dirty_words;
	_Atomic uint64_t dirty_hint; /* low 32 bits: first word; high 32: last word */

	_Atomic uint64_t flush_arg;
	_Atomic uint64_t pending_bytes, pending_writes;
	_Atomic int flush_err;	     /* first unreported flush error, or 0 */

	/* Layout: changed under lock only (resize, refresh). */
	pthread_mutex_t lock;
	uint64_t reserve;	    /* bytes of address space at base */
	uint64_t mapped;	    /* bytes of the file mapped at base (page multiple) */
	unsigned flags;		    /* MMAPIO_F_* */
	bool own_fd;
	int huge_tier;
	_Atomic int access;	    /* MMAPIO_ADV_NORMAL/SEQUENTIAL/RANDOM for the whole map */

	/* Shared interval flusher (flusher.c), under its lock. */
	struct mmapio_map *fl_next;
	uint64_t fl_due_ns;
	bool fl_registered;

	/* Async prewarm (prewarm.c), under its lock. */
	int pw_pending;
	int pw_result;

	struct {
		_Atomic uint64_t faults, flushes, flushed_bytes, flush_errors, remaps;
	} st;
};

/* fault.c, copy_*.S: the fault-safe copy (declared in mmapio.h). Returns 0, -EFAULT or -EIO. */
_Static_assert(__builtin_offsetof(struct mmapio_map, base) ==
		       __builtin_offsetof(struct mmapio__head, base) &&
	       __builtin_offsetof(struct mmapio_map, size) ==
		       __builtin_offsetof(struct mmapio__head, size) &&
	       sizeof(_Atomic uint64_t) == sizeof(uint64_t),
	       "struct mmapio__head must match the start of struct mmapio_map");
int mmapio__fault_init(void);

/* map.c */
int mmapio__follow(mmapio_map *m, int fd, uint64_t new_size); /* under m->lock */

/* flush.c */
void mmapio__mark_dirty(mmapio_map *m, uint64_t off, uint64_t len);
void mmapio__after_write(mmapio_map *m, uint64_t off, size_t n);
/* Whether the byte at p is non-zero (1) or zero (0), tested by a write
 * access that keeps it, or -EIO/-EFAULT (copy_x86_64.S, fault.c): the
 * probe of a write's target, see io.c. */
int mmapio__probe_write(unsigned char *p);
void mmapio__drop_dirty(mmapio_map *m, uint64_t from); /* pages at or past from */
void mmapio__set_error(mmapio_map *m, int err);

/* flusher.c, prewarm.c: register fork and exit handlers (once). */
void mmapio__flusher_init(void);
void mmapio__prewarm_init(void);

/* flusher.c */
void mmapio__flusher_register(mmapio_map *m, uint64_t interval_ms);
void mmapio__flusher_unregister(mmapio_map *m);

/* prewarm.c */
void mmapio__prewarm_cancel(mmapio_map *m);
int mmapio__touch(mmapio_map *m, uint64_t off, uint64_t len);

/* advise.c: the map's access advice, on a newly mapped piece (under lock). */
int mmapio__access_apply(mmapio_map *m, void *addr, size_t len);

/* huge.c */
/* Tier the file allows; sysfs is read only when want_thp. */
int mmapio__huge_probe(int fd, size_t *pgsz, bool want_thp);
int mmapio__huge_apply(mmapio_map *m, void *addr, size_t len);

/* sys.c: every call that may be interposed goes through here (SYS(pread)...). */
extern struct mmapio_sys mmapio__sys;
#define SYS(name) (mmapio__sys.name)

/*
 * Preconditions as assertions in a debug build (-DMMAPIO_DEBUG: make
 * test-asan and the stress suite's TSan build): "caller holds m->lock" is
 * checked there, not only said. Elsewhere they are nothing: an assertion
 * must never stop a program the library runs in.
 */
#ifdef MMAPIO_DEBUG
#include <assert.h>
#define MMAPIO_ASSERT(x) assert(x)
extern __thread const mmapio_map *mmapio__held; /* the map whose lock this thread holds */
#define MAP_HELD(m) (mmapio__held == (m))
#else
#define MMAPIO_ASSERT(x) ((void)0)
#endif
static inline void map_lock(mmapio_map *m)
{
	pthread_mutex_lock(&m->lock);
#ifdef MMAPIO_DEBUG
	mmapio__held = m;
#endif
}
static inline void map_unlock(mmapio_map *m)
{
#ifdef MMAPIO_DEBUG
	mmapio__held = NULL;
#endif
	pthread_mutex_unlock(&m->lock);
}

/* util */
uint64_t mmapio__now_ns(void);

static inline uint64_t round_up(uint64_t x, uint64_t a) { return (x + a - 1) & ~(a - 1); }
static inline uint64_t round_down(uint64_t x, uint64_t a) { return x & ~(a - 1); }

/*
 * Check a caller's (off, len) the way pread(2) does, then clamp len to
 * MMAPIO_MAX_RW. Returns 0 or -EINVAL.
 */
static inline int mmapio__check_range(off_t off, size_t *len)
{
	if (off < 0 || *len > (size_t)INT64_MAX)
		return -EINVAL;
	if (*len > (uint64_t)INT64_MAX - (uint64_t)off)
		return -EINVAL;
	if (*len > MMAPIO_MAX_RW)
		*len = MMAPIO_MAX_RW;
	return 0;
}

/* Round [off, off + len) out to pages and clamp to the mapped part. */
static inline bool mmapio__page_span(const mmapio_map *m, uint64_t off, uint64_t len,
				     uint64_t limit, uint64_t *start, uint64_t *end)
{
	uint64_t e = off + len < off ? UINT64_MAX : off + len;
	*start = round_down(off, m->pgsz);
	*end = e > limit ? limit : round_up(e, m->pgsz);
	if (*end > limit)
		*end = limit;
	return *start < *end;
}
#endif
