/*
 * map.c - open, close, and the one layout a map ever has: a fixed base with
 * address space reserved past the end of the file.
 *
 * At open we reserve `reserve` bytes of PROT_NONE anonymous memory
 * (MAP_NORESERVE: no memory is committed) and map the file over the start
 * of it with MAP_FIXED. Growing maps the new pages of the file right after
 * the old ones, in place; shrinking replaces the tail with PROT_NONE
 * memory again. The base never moves, so readers can hold no lock: the
 * only shared state they read is `size`, published with release order
 * after the pages behind it are mapped.
 *
 * A reader that loaded the old size while a shrink is in progress may touch
 * a page that is gone (SIGBUS before the tail is replaced, SIGSEGV after);
 * io.c recovers from both and retries against the new size.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "internal.h"

#define DEFAULT_RESERVE (1ULL << 30)
#define RESERVE_ALIGN (2ULL << 20) /* so THP can line huge pages up with the file */

#ifdef MMAPIO_DEBUG
__thread const mmapio_map *mmapio__held;
#endif

uint64_t mmapio__now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int prot_of(int mode)
{
	return mode == MMAPIO_RDONLY ? PROT_READ : PROT_READ | PROT_WRITE;
}

static int share_of(int mode)
{
	return mode == MMAPIO_COW ? MAP_PRIVATE : MAP_SHARED;
}

static uint64_t default_reserve(uint64_t size)
{
	if (sizeof(void *) < 8)
		return size + (64ULL << 20); /* 32-bit: address space is scarce */
	uint64_t r = size > DEFAULT_RESERVE / 2 ? size * 2 : DEFAULT_RESERVE;
	return r < size ? size : r; /* overflow: just the file */
}

/* Reserve len bytes of address space aligned to align. */
static void *reserve_space(uint64_t len, uint64_t align)
{
	size_t total = len + align;
	unsigned char *p = mmap(NULL, total, PROT_NONE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	uintptr_t a = round_up((uintptr_t)p, align);
	size_t head = a - (uintptr_t)p, tail = total - head - len;
	if (head)
		munmap(p, head);
	if (tail)
		munmap((unsigned char *)a + len, tail);
	return (void *)a;
}

/* Give [off, off + len) of the reservation back to PROT_NONE. */
static int unmap_tail(mmapio_map *m, uint64_t off, uint64_t len)
{
	void *p = mmap(m->base + off, len, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
	return p == MAP_FAILED ? -errno : 0;
}

/*
 * Make the map follow a file of new_size bytes, mapping new pages through
 * fd (a descriptor of the file). Caller holds m->lock and has already
 * changed the file (or seen it change).
 */
int mmapio__follow(mmapio_map *m, int fd, uint64_t new_size)
{
	MMAPIO_ASSERT(MAP_HELD(m));
	uint64_t usable = new_size < m->reserve ? new_size : m->reserve;
	uint64_t want = round_up(usable, m->pgsz);
	if (want > m->reserve)
		want = round_down(m->reserve, m->pgsz);

	if (want > m->mapped) {
		/* A failed mmap (e.g. a writable map rebound to a read-only
		 * descriptor) leaves the old sizes: callers keep seeing the end
		 * they can serve, and refresh again next time. */
		void *p = mmap(m->base + m->mapped, want - m->mapped, prot_of(m->mode),
			       share_of(m->mode) | MAP_FIXED, fd, (off_t)m->mapped);
		if (p == MAP_FAILED)
			return -errno;
		mmapio__huge_apply(m, p, want - m->mapped);
		mmapio__access_apply(m, p, want - m->mapped);
		m->mapped = want;
		atomic_store_explicit(&m->size, usable, memory_order_release);
		atomic_store_explicit(&m->file_size, new_size, memory_order_release);
		atomic_fetch_add(&m->st.remaps, 1);
	} else {
		/* Publish the smaller size before the pages go away. */
		atomic_store_explicit(&m->size, usable, memory_order_release);
		atomic_store_explicit(&m->file_size, new_size, memory_order_release);
		if (want < m->mapped) {
			int rc = unmap_tail(m, want, m->mapped - want);
			if (rc < 0)
				return rc;
			m->mapped = want;
			mmapio__drop_dirty(m, want);
			atomic_fetch_add(&m->st.remaps, 1);
		}
	}
	return 0;
}

static int setup(mmapio_map *m, const struct mmapio_opts *o)
{
	struct stat st;
	int fd = atomic_load(&m->fd);

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -ENODEV;
	/* A file opened without read access cannot be mapped at all. */
	int fl = SYS(fcntl)(fd, F_GETFL);
	if (fl < 0)
		return -errno;
	if ((fl & O_ACCMODE) == O_WRONLY)
		return -EACCES;
	if (m->mode == MMAPIO_RDWR && (fl & O_ACCMODE) != O_RDWR)
		return -EACCES;

	m->pgsz = (size_t)sysconf(_SC_PAGESIZE);
	m->huge_tier = MMAPIO_HUGE_OFF;
	int tier = mmapio__huge_probe(fd, &m->pgsz, o->huge == MMAPIO_HUGE_AUTO);
	if (tier == MMAPIO_HUGE_TLBFS)
		m->huge_tier = tier; /* the file system decides; not a choice */
	else if (o->huge == MMAPIO_HUGE_AUTO && tier == MMAPIO_HUGE_THP)
		m->huge_tier = MMAPIO_HUGE_THP;
	m->pgshift = (unsigned)__builtin_ctzl(m->pgsz);

	uint64_t size = (uint64_t)st.st_size;
	uint64_t align = m->pgsz > RESERVE_ALIGN ? m->pgsz : RESERVE_ALIGN;
	m->reserve = round_up(o->reserve ? o->reserve : default_reserve(size), align);
	m->base = reserve_space(m->reserve, align);
	if (!m->base)
		return -ENOMEM;

	if (!(m->flags & MMAPIO_F_NO_DIRTY) && m->mode == MMAPIO_RDWR) {
		uint64_t pages = m->reserve >> m->pgshift;
		m->dirty_words = (size_t)((pages + 63) / 64);
		m->dirty = calloc(m->dirty_words, sizeof *m->dirty);
		if (!m->dirty)
			return -ENOMEM;
	}
	atomic_store(&m->dirty_hint, DIRTY_HINT_EMPTY);

	map_lock(m);
	int rc = mmapio__follow(m, fd, size);
	map_unlock(m);
	return rc;
}

static int valid_opts(int mode, const struct mmapio_opts *o)
{
	if (mode != MMAPIO_RDONLY && mode != MMAPIO_RDWR && mode != MMAPIO_COW)
		return 0;
	if (o->flags & ~(MMAPIO_F_CREATE | MMAPIO_F_BORROW_FD | MMAPIO_F_NO_DIRTY |
			 MMAPIO_F_DEFER_UNMAP | MMAPIO_F_NO_CLOSE_FLUSH | MMAPIO_F_NO_FD))
		return 0;
	if (o->prewarm < MMAPIO_PREWARM_NONE || o->prewarm > MMAPIO_PREWARM_ASYNC)
		return 0;
	if (o->huge != MMAPIO_HUGE_OFF && o->huge != MMAPIO_HUGE_AUTO)
		return 0;
	if (o->flush_policy < MMAPIO_FLUSH_MANUAL || o->flush_policy > MMAPIO_FLUSH_INTERVAL)
		return 0;
	for (size_t i = 0; i < sizeof o->reserved / sizeof o->reserved[0]; i++)
		if (o->reserved[i]) /* a later version's field: not understood here */
			return 0;
	return 1;
}

static void destroy_now(mmapio_map *m)
{
	if (m->base)
		munmap(m->base, m->reserve);
	if (m->own_fd)
		SYS(close)(atomic_load(&m->fd));
	free(m->dirty);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/*
 * Quarantine (MMAPIO_F_DEFER_UNMAP): a closed map gives up its file pages
 * and its descriptor at once, but its structure and address range live on
 * (PROT_NONE, size 0, fd -1) until QUARANTINE more maps have been closed
 * this way. A reader that loaded the map just before the close then finds
 * an empty file, or faults in its copy and fails to refresh: it returns
 * an error instead of touching freed memory or someone else's mapping.
 */
#define QUARANTINE 64
static mmapio_map *quarantine[QUARANTINE];
static unsigned quarantine_next;
static pthread_mutex_t quarantine_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * Keep only the first `keep` bytes of the reservation (page-rounded, at
 * least a page): the rest goes back to the process. Under lock; nothing
 * past `keep` may be mapped or readable (size <= keep).
 */
static void trim_locked(mmapio_map *m, uint64_t keep)
{
	MMAPIO_ASSERT(MAP_HELD(m));
	keep = round_up(keep ? keep : 1, m->pgsz);
	if (m->base && keep < m->reserve && munmap(m->base + keep, m->reserve - keep) == 0)
		m->reserve = keep;
}

static void retire(mmapio_map *m)
{
	map_lock(m);
	uint64_t was = m->mapped;
	atomic_store(&m->size, 0);
	atomic_store(&m->file_size, 0);
	if (m->base && mmap(m->base, m->reserve, PROT_NONE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1,
			    0) == MAP_FAILED) {
		munmap(m->base, m->reserve); /* cannot keep it reserved: release */
		m->base = NULL;
	}
	/* A reader racing the close touches at most what was mapped: the
	 * reservation past it goes back now, not after 64 more closes. */
	trim_locked(m, was);
	m->mapped = 0;
	if (m->own_fd)
		SYS(close)(atomic_load(&m->fd));
	m->own_fd = false;
	atomic_store(&m->fd, -1);
	map_unlock(m);

	pthread_mutex_lock(&quarantine_lock);
	unsigned i = quarantine_next++ % QUARANTINE;
	mmapio_map *old = quarantine[i];
	quarantine[i] = m;
	pthread_mutex_unlock(&quarantine_lock);
	if (old)
		destroy_now(old);
}

static void destroy(mmapio_map *m)
{
	if (m->flags & MMAPIO_F_DEFER_UNMAP)
		retire(m);
	else
		destroy_now(m);
}

static int open_common(mmapio_map **out, int fd, bool own, int mode,
		       const struct mmapio_opts *o)
{
	mmapio_map *m = calloc(1, sizeof *m);
	if (!m) {
		if (own)
			SYS(close)(fd);
		return -ENOMEM;
	}
	pthread_mutex_init(&m->lock, NULL);
	atomic_store(&m->fd, fd);
	m->own_fd = own;
	m->mode = mode;
	m->flags = o->flags;

	int rc = mmapio__fault_init();
	if (rc == 0)
		rc = setup(m, o);
	if (rc == 0 && (o->flags & MMAPIO_F_NO_FD)) {
		/* The descriptor served the setup only. */
		if (own)
			SYS(close)(fd);
		m->own_fd = false;
		atomic_store(&m->fd, -1);
	}
	if (rc == 0 && mode == MMAPIO_RDWR)
		rc = mmapio_set_flush_policy(m, o->flush_policy, o->flush_arg);
	if (rc < 0) {
		destroy_now(m);
		return rc;
	}
	switch (o->prewarm) {
	case MMAPIO_PREWARM_LAZY:
		mmapio_advise(m, 0, mmapio_size(m), MMAPIO_ADV_WILLNEED);
		break;
	case MMAPIO_PREWARM_EAGER:
		mmapio_prewarm(m, 0, mmapio_size(m));
		break;
	case MMAPIO_PREWARM_ASYNC:
		mmapio_prewarm_async(m, 0, mmapio_size(m));
		break;
	}
	*out = m;
	return 0;
}

int mmapio_open(mmapio_map **out, const char *path, int mode, const struct mmapio_opts *opts)
{
	static const struct mmapio_opts none;
	const struct mmapio_opts *o = opts ? opts : &none;

	if (!out || !path || !valid_opts(mode, o) || (o->flags & MMAPIO_F_BORROW_FD))
		return -EINVAL;
	int fl = (mode == MMAPIO_RDWR ? O_RDWR : O_RDONLY) | O_CLOEXEC;
	if (o->flags & MMAPIO_F_CREATE)
		fl |= O_CREAT;
	int fd = SYS(open)(path, fl, 0666);
	if (fd < 0)
		return -errno;
	return open_common(out, fd, true, mode, o);
}

int mmapio_open_fd(mmapio_map **out, int fd, int mode, const struct mmapio_opts *opts)
{
	static const struct mmapio_opts none;
	const struct mmapio_opts *o = opts ? opts : &none;

	if (!out || fd < 0 || !valid_opts(mode, o) || (o->flags & MMAPIO_F_CREATE))
		return -EINVAL;
	if (o->flags & MMAPIO_F_BORROW_FD)
		return open_common(out, fd, false, mode, o);
	int d = SYS(fcntl)(fd, F_DUPFD_CLOEXEC, 0);
	if (d < 0)
		return -errno;
	return open_common(out, d, true, mode, o);
}

int mmapio_close(mmapio_map *m)
{
	if (!m)
		return -EINVAL;
	mmapio__prewarm_cancel(m);
	mmapio__flusher_unregister(m);
	int rc = m->flags & MMAPIO_F_NO_CLOSE_FLUSH ? 0 : mmapio_flush(m);
	int err = mmapio_flush_error(m);
	destroy(m);
	return err ? err : rc;
}

int mmapio_rebind_fd(mmapio_map *m, int fd)
{
	if (!m || fd < 0 || m->own_fd || (m->flags & MMAPIO_F_NO_FD))
		return -EINVAL;
	map_lock(m);
	atomic_store(&m->fd, fd);
	map_unlock(m);
	return 0;
}

int mmapio_resize(mmapio_map *m, uint64_t new_size)
{
	if (!m)
		return -EINVAL;
	if (m->mode != MMAPIO_RDWR)
		return -EBADF;
	if (new_size > (uint64_t)INT64_MAX)
		return -EINVAL;
	if (new_size > m->reserve)
		return -EFBIG;
	if (atomic_load(&m->fd) < 0)
		return -EBADF; /* MMAPIO_F_NO_FD */
	map_lock(m);
	int rc = 0;
	uint64_t old = atomic_load(&m->size);
	if (new_size < old) {
		/* Readers must stop at the new end before the pages vanish. */
		atomic_store_explicit(&m->size, new_size, memory_order_release);
	}
	if (SYS(ftruncate)(atomic_load(&m->fd), (off_t)new_size) < 0) {
		rc = -errno;
		atomic_store_explicit(&m->size, old, memory_order_release);
	} else {
		rc = mmapio__follow(m, atomic_load(&m->fd), new_size);
	}
	map_unlock(m);
	return rc;
}

int mmapio_trim_reserve(mmapio_map *m)
{
	if (!m)
		return -EINVAL;
	map_lock(m);
	trim_locked(m, m->mapped);
	map_unlock(m);
	return 0;
}

int mmapio_refresh_fd(mmapio_map *m, int fd)
{
	struct stat st;
	if (!m)
		return -EINVAL;
	if (fd < 0)
		return -EBADF;
	map_lock(m);
	int rc = 0;
	if (fstat(fd, &st) < 0)
		rc = -errno;
	else if ((uint64_t)st.st_size != atomic_load(&m->file_size))
		rc = mmapio__follow(m, fd, (uint64_t)st.st_size);
	map_unlock(m);
	return rc;
}

int mmapio_refresh(mmapio_map *m)
{
	return m ? mmapio_refresh_fd(m, atomic_load(&m->fd)) : -EINVAL;
}

uint64_t mmapio_size(const mmapio_map *m)
{
	return atomic_load_explicit(&((mmapio_map *)m)->file_size, memory_order_acquire);
}
uint64_t mmapio_reserved(const mmapio_map *m) { return m->reserve; }
int mmapio_mode(const mmapio_map *m) { return m->mode; }
int mmapio_fd(const mmapio_map *m) { return atomic_load(&((mmapio_map *)m)->fd); }
size_t mmapio_page_size(const mmapio_map *m) { return m->pgsz; }
int mmapio_huge_tier(const mmapio_map *m) { return m->huge_tier; }
void *mmapio__base(const mmapio_map *m) { return m->base; }

void mmapio_get_stats(const mmapio_map *m, struct mmapio_stats *st)
{
	mmapio_map *w = (mmapio_map *)m;
	st->faults = atomic_load(&w->st.faults);
	st->flushes = atomic_load(&w->st.flushes);
	st->flushed_bytes = atomic_load(&w->st.flushed_bytes);
	st->flush_errors = atomic_load(&w->st.flush_errors);
	st->remaps = atomic_load(&w->st.remaps);
	memset(st->reserved, 0, sizeof st->reserved);
}

int mmapio_version(void)
{
	return MMAPIO_VERSION_NUMBER;
}

const char *mmapio_strerror(int err)
{
	return strerror(err < 0 ? -err : err);
}
