/*
 * mmapio.h - memory-mapped file I/O that is safe to use on files other
 * processes may change.
 *
 * Conventions (liburing style):
 *   - Functions that can fail return a negative errno value (-EINVAL, -EIO,
 *     ...) and never set errno. Counts are returned as non-negative ssize_t.
 *   - Offsets are file offsets (bytes from the start of the file).
 *   - "MT-safe" means the call may run concurrently with any other MT-safe
 *     call on the same map. mmapio_close() is never concurrent with anything
 *     else on the same map.
 *   - Structures the caller fills or receives (struct mmapio_opts, struct
 *     mmapio_stats) end in reserved words. Zero-fill them (= {0}): a
 *     non-zero reserved word of mmapio_opts is -EINVAL, so that a later
 *     version can give it a meaning; mmapio_get_stats() zeroes the ones of
 *     mmapio_stats.
 *
 * Signals: the library installs one process-wide SIGBUS and SIGSEGV handler
 * at the first mmapio_open(), mmapio_open_fd(), mmapio_copy(),
 * mmapio_fault_sigaction() or mmapio_fault_install(). It turns faults inside its own copies into error
 * returns and hands every other fault to the handler the program had
 * (SIG_DFL still kills with the same signal). A program that installs
 * handlers for those signals later replaces it: call mmapio_fault_install()
 * again afterwards, or install them through mmapio_fault_sigaction(). Copies
 * made by a thread that blocks SIGBUS/SIGSEGV are not fault-safe: a fault
 * there kills the process, as the kernel does for any blocked fault.
 *
 * fork: the child inherits every map (RDWR maps stay shared with the
 * parent, MAP_SHARED; a COW map's pages become the child's own copies), the
 * signal handler and each map's settings. It has no background thread at
 * first: a new interval flusher is started in it when maps with that policy
 * exist, and async pre-warm jobs queued or running in the parent are
 * dropped there (mmapio_prewarm_wait() in the child does not wait for
 * them). The flusher's and the pre-warm worker's locks are held across
 * fork() (pthread_atfork); a map's own lock is not: fork only while no
 * other thread is inside mmapio_resize(), mmapio_refresh(),
 * mmapio_rebind_fd(), mmapio_set_access() or mmapio_close() on a map the
 * child will use.
 *
 * The map's base address never moves: mmapio reserves address space beyond
 * the file size at open, so growing the file maps new pages in place.
 */
#ifndef MMAPIO_H
#define MMAPIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(MMAPIO_EMBEDDED)
/* Built into another shared object (the shim): keep the API inside it. */
#define MMAPIO_API __attribute__((visibility("hidden")))
#elif defined(__GNUC__)
#define MMAPIO_API __attribute__((visibility("default")))
#else
#define MMAPIO_API
#endif

/*
 * Version of this header. The library's shared object is
 * libmmapio.so.MAJOR; mmapio.pc and the Debian packages carry the same
 * numbers (the Makefile reads them from here). mmapio_version() returns the
 * version of the library actually running, as MMAPIO_VERSION_NUMBER does
 * for the header: a program built against one header may run with a newer
 * shared library of the same MAJOR.
 */
/* Largest single transfer, as the kernel's (MAX_RW_COUNT: INT_MAX & PAGE_MASK). */
#define MMAPIO_MAX_RW 0x7ffff000UL

#define MMAPIO_VERSION_MAJOR 0
#define MMAPIO_VERSION_MINOR 1
#define MMAPIO_VERSION_PATCH 0
#define MMAPIO_VERSION_NUMBER \
	(MMAPIO_VERSION_MAJOR * 10000 + MMAPIO_VERSION_MINOR * 100 + MMAPIO_VERSION_PATCH)
MMAPIO_API int mmapio_version(void); /* the running library's MMAPIO_VERSION_NUMBER */

typedef struct mmapio_map mmapio_map;

/* Mapping modes. */
enum mmapio_mode {
	MMAPIO_RDONLY = 0, /* PROT_READ, MAP_SHARED */
	MMAPIO_RDWR = 1,   /* PROT_READ|PROT_WRITE, MAP_SHARED: writes reach the file */
	MMAPIO_COW = 2,    /* PROT_READ|PROT_WRITE, MAP_PRIVATE: writes stay in this process */
};

/* Open flags (mmapio_opts.flags). */
#define MMAPIO_F_CREATE 0x1u	 /* path open: create the file if missing (0666 & ~umask) */
#define MMAPIO_F_BORROW_FD 0x2u	 /* fd open: use the caller's fd as is; never dup or close it */
#define MMAPIO_F_NO_DIRTY 0x4u	 /* do not track dirty pages (flush() then syncs the whole map) */
/*
 * At close, drop the file's pages and descriptor at once but keep the map
 * structure and its address range (PROT_NONE, size 0) for the next 64 such
 * closes. For lock-free readers that may still hold the map while another
 * thread closes it: they see an empty file or get an error, never freed
 * memory or whatever was mapped at that address next.
 */
#define MMAPIO_F_DEFER_UNMAP 0x8u
/*
 * mmapio_close() does not flush: dirty pages stay in the page cache for
 * the kernel's writeback, as after close(2) of a written file. (By default
 * close makes them durable first, like mmapio_flush().)
 */
#define MMAPIO_F_NO_CLOSE_FLUSH 0x10u
/*
 * Keep no descriptor: the one given to mmapio_open_fd (or opened by
 * mmapio_open) serves the setup only. Calls that must look at the file
 * take a descriptor of it from the caller (mmapio_read_fd,
 * mmapio_write_fd, mmapio_refresh_fd); mmapio_read and mmapio_write then
 * answer -ESTALE where they would have looked (a file that changed size
 * under them), mmapio_refresh and mmapio_resize -EBADF. For a caller that
 * does not own the descriptors it has (an interposer): a map that kept one
 * could use a number its owner has closed, or reused for another file.
 */
#define MMAPIO_F_NO_FD 0x20u

/* Pre-warming at open (mmapio_opts.prewarm). */
enum mmapio_prewarm {
	MMAPIO_PREWARM_NONE = 0,  /* nothing: pages fault in on first access */
	MMAPIO_PREWARM_LAZY = 1,  /* MADV_WILLNEED: kernel reads ahead, nobody waits */
	MMAPIO_PREWARM_EAGER = 2, /* populate every page before open returns */
	MMAPIO_PREWARM_ASYNC = 3, /* populate in the background worker; open returns at once */
};

/* Huge-page policy at open (mmapio_opts.huge) and tier in use. */
enum mmapio_huge {
	MMAPIO_HUGE_OFF = 0,  /* policy: never ask; tier: normal pages */
	MMAPIO_HUGE_AUTO = 1, /* policy: best tier the file allows */
	MMAPIO_HUGE_THP = 2,  /* tier: MADV_HUGEPAGE accepted for the mapping */
	MMAPIO_HUGE_TLBFS = 3 /* tier: file lives on hugetlbfs, mapped with huge pages */
};

/* Flush policies. */
enum mmapio_flush_policy {
	MMAPIO_FLUSH_MANUAL = 0,   /* only mmapio_flush()/mmapio_flush_range()/close */
	MMAPIO_FLUSH_ALWAYS = 1,   /* after every mmapio_write() */
	MMAPIO_FLUSH_BYTES = 2,	   /* when >= arg bytes were written since the last flush */
	MMAPIO_FLUSH_WRITES = 3,   /* every arg calls to mmapio_write() */
	MMAPIO_FLUSH_INTERVAL = 4, /* every arg milliseconds, by the shared flusher thread */
};

struct mmapio_opts {
	unsigned flags;		  /* MMAPIO_F_* */
	uint64_t reserve;	  /* address space to reserve, bytes; 0: max(1 GiB, 2 x size) */
	int prewarm;		  /* enum mmapio_prewarm */
	int huge;		  /* MMAPIO_HUGE_OFF or MMAPIO_HUGE_AUTO */
	int flush_policy;	  /* enum mmapio_flush_policy */
	uint64_t flush_arg;	  /* bytes, writes or milliseconds, per policy */
	uint64_t reserved[8];	  /* must be zero (-EINVAL otherwise) */
};

/*
 * Open and close.
 *
 * mmapio_open: open path (O_RDONLY for RDONLY and COW, O_RDWR for RDWR) and map it.
 * mmapio_open_fd: map an open descriptor. By default the fd is duplicated
 *   (F_DUPFD_CLOEXEC) and the caller keeps its own; with MMAPIO_F_BORROW_FD the
 *   caller's fd is used directly and must stay open until mmapio_close() or
 *   mmapio_rebind_fd(). The fd must be readable; RDWR needs it writable too.
 * Zero-length files are fine. opts may be NULL (defaults: zero-filled).
 * Errors: -EINVAL (bad mode/opts), -ENODEV/-EACCES (not mappable), errors of
 *   open/fstat/mmap.
 * mmapio_close: final flush (RDWR, unless MMAPIO_F_NO_CLOSE_FLUSH), unmap,
 *   close the owned fd. Returns the first flush error not yet reported, else
 *   0. The map is freed either way.
 */
MMAPIO_API int mmapio_open(mmapio_map **out, const char *path, int mode,
			   const struct mmapio_opts *opts);
MMAPIO_API int mmapio_open_fd(mmapio_map **out, int fd, int mode,
			      const struct mmapio_opts *opts);
MMAPIO_API int mmapio_close(mmapio_map *m);
/* Point a borrowed-fd map at another descriptor of the same file. MT-safe. */
MMAPIO_API int mmapio_rebind_fd(mmapio_map *m, int fd);

/* Accessors. All MT-safe, no syscall. */
MMAPIO_API uint64_t mmapio_size(const mmapio_map *m);	  /* file size as last seen */
MMAPIO_API uint64_t mmapio_reserved(const mmapio_map *m); /* address space reserved */
MMAPIO_API int mmapio_mode(const mmapio_map *m);
MMAPIO_API int mmapio_fd(const mmapio_map *m);
MMAPIO_API size_t mmapio_page_size(const mmapio_map *m); /* 4 KiB, or huge on hugetlbfs */
MMAPIO_API int mmapio_huge_tier(const mmapio_map *m);	 /* enum mmapio_huge */

/*
 * Bounded I/O, pread/pwrite-like. MT-safe, lock-free, no syscall unless a
 * fault happens.
 *
 * mmapio_read: copies min(len, size - off) bytes; 0 at or past the end.
 * mmapio_write: same bounds (writes never grow the file: use mmapio_resize);
 *   marks the pages dirty and applies the flush policy.
 * mmapio_read_fd, mmapio_write_fd: the same, looking at the file (its size,
 *   pread for a page that keeps faulting, statvfs) through fd, a descriptor
 *   of the same file that the caller keeps open during the call, instead of
 *   the map's own (see MMAPIO_F_NO_FD).
 * Like read(2), a call longer than MMAPIO_MAX_RW bytes is cut to that length.
 * Errors: -EINVAL (off < 0, len > SSIZE_MAX, or off + len past INT64_MAX:
 *   what pread(2) answers for these),
 *   -EBADF (write on an RDONLY map), -EFAULT (buf is not valid memory),
 *   -EIO (the page has no backing: I/O error), -ENOSPC (writing into a hole
 *   with no space left), -EFBIG (the range reaches past the reservation
 *   into the file: a short count would read as the end of the file, so
 *   none is given; pread(2) on the map's descriptor answers such a call),
 *   -ESTALE (a map without a descriptor had to look at the file: call
 *   mmapio_refresh_fd, or ask the kernel). A file that shrank under the call is noticed: the call
 *   returns what pread/pwrite would for the new size (short, or 0). So is
 *   one that another program shrank earlier without this library's
 *   knowledge, at the cost of one page probe or fstat on a read that ends
 *   in a zero byte or a write whose last target byte is zero (io.c).
 */
MMAPIO_API ssize_t mmapio_read(mmapio_map *m, off_t off, void *buf, size_t len);
MMAPIO_API ssize_t mmapio_write(mmapio_map *m, off_t off, const void *buf, size_t len);
MMAPIO_API ssize_t mmapio_read_fd(mmapio_map *m, int fd, off_t off, void *buf, size_t len);
MMAPIO_API ssize_t mmapio_write_fd(mmapio_map *m, int fd, off_t off, const void *buf,
				   size_t len);

/*
 * The read fast path, inline (as liburing inlines its ring accessors): an
 * offset inside the mapped size goes straight to the fault-safe copy, one
 * call like memcpy; everything else, and any fault, takes the library's
 * out-of-line mmapio_read(). Define MMAPIO_NO_INLINE to call the library
 * for everything.
 *
 * What this makes part of the ABI: the first bytes of every map, laid out
 * as struct mmapio__head below (on LP64, bytes 0-7: base, the address of
 * file offset 0, which never changes while the map is open; bytes 8-15:
 * size, how many bytes from base may be read, stored with release order
 * and loaded with acquire order), and the two functions mmapio__copy() and
 * mmapio__read_zero_tail() with their current meaning. Programs compiled
 * with this header read those fields directly; a later library of the same
 * MAJOR keeps them. The rest of struct mmapio_map is private.
 */
struct mmapio__head {
	unsigned char *base;
	uint64_t size;
};
MMAPIO_API int mmapio__copy(void *dst, const void *src, size_t n, void **fault_addr);
/* The copy of n bytes at off ended in a zero byte: returns n if the file
 * still reaches off + n, else reads again within its new size. */
MMAPIO_API ssize_t mmapio__read_zero_tail(mmapio_map *m, off_t off, void *buf, size_t len,
					  size_t n);
MMAPIO_API ssize_t mmapio__read_zero_tail_fd(mmapio_map *m, int fd, off_t off, void *buf,
					     size_t len, size_t n);

#if !defined(MMAPIO_NO_INLINE) && defined(__GNUC__)
/* fd: the caller's descriptor (mmapio_read_fd), or -2: the map's own. */
static inline ssize_t mmapio__read_inline(mmapio_map *m, int fd, off_t off, void *buf,
					  size_t len)
{
	const struct mmapio__head *h = (const struct mmapio__head *)(const void *)m;
	uint64_t size = __atomic_load_n(&h->size, __ATOMIC_ACQUIRE);
	/* The whole range inside the mapped size; anything else (the end of
	 * the file, a range past the reservation, a negative off, which as
	 * uint64_t is above any size, len 0, for which len - 1 wraps) is the
	 * library's. */
	if (__builtin_expect((uint64_t)off < size && len - 1 < MMAPIO_MAX_RW &&
			     len <= size - (uint64_t)off, 1)) {
		if (__builtin_expect(mmapio__copy(buf, h->base + off, len, (void **)0) == 0, 1)) {
			if (__builtin_expect(((const unsigned char *)buf)[len - 1] != 0, 1))
				return (ssize_t)len;
			return fd == -2 ? mmapio__read_zero_tail(m, off, buf, len, len)
					: mmapio__read_zero_tail_fd(m, fd, off, buf, len, len);
		}
	}
	return fd == -2 ? (mmapio_read)(m, off, buf, len) : (mmapio_read_fd)(m, fd, off, buf, len);
}
#define mmapio_read(m, off, buf, len) mmapio__read_inline((m), -2, (off), (buf), (len))
#define mmapio_read_fd(m, fd, off, buf, len) mmapio__read_inline((m), (fd), (off), (buf), (len))
#endif

/*
 * Zero-copy view of [off, off + len), clamped to the end of the file.
 * Returns the number of bytes available at *ptr (0 at or past the end) or a
 * negative errno. Direct access through the pointer is NOT fault-safe: if
 * another process truncates the file, touching pages past the new end raises
 * SIGBUS. Writes through a view of an RDWR map are not tracked: call
 * mmapio_mark_dirty() so that mmapio_flush() covers them. MT-safe.
 */
MMAPIO_API ssize_t mmapio_view(mmapio_map *m, off_t off, size_t len, void **ptr);
MMAPIO_API int mmapio_mark_dirty(mmapio_map *m, off_t off, size_t len);

/*
 * Iteration over [off, off + len) in chunks of `chunk` bytes (0: the page
 * size) without copying: each mmapio_iter_next() yields a view.
 *	struct mmapio_iter it;
 *	mmapio_iter_init(&it, m, 0, UINT64_MAX, 0);
 *	while ((n = mmapio_iter_next(&it, &p)) > 0) use(p, n);
 * Returns bytes in the chunk, 0 at the end, negative errno on error. The
 * end is re-read at each step, so a file that grows or shrinks is followed.
 */
struct mmapio_iter {
	mmapio_map *m;
	uint64_t pos, end;
	size_t chunk;
};
MMAPIO_API void mmapio_iter_init(struct mmapio_iter *it, mmapio_map *m, uint64_t off,
				 uint64_t len, size_t chunk);
MMAPIO_API ssize_t mmapio_iter_next(struct mmapio_iter *it, void **ptr);

/*
 * Size changes. MT-safe; readers keep running without locks and never see
 * the base move.
 * mmapio_resize: ftruncate to new_size and follow it (RDWR only).
 *   -EFBIG when new_size exceeds the reservation.
 * mmapio_refresh: fstat the file and follow a size another process set.
 *   Growth past the reservation maps up to the reservation (reads beyond
 *   it return -EFBIG).
 */
MMAPIO_API int mmapio_resize(mmapio_map *m, uint64_t new_size);
MMAPIO_API int mmapio_refresh(mmapio_map *m);
/* mmapio_refresh through fd, a descriptor of the same file the caller keeps
 * open during the call (new pages are mapped through it: a writable map
 * needs a descriptor open for writing). */
MMAPIO_API int mmapio_refresh_fd(mmapio_map *m, int fd);
/*
 * Give back the address space reserved past the part of the file mapped
 * now: growth past it is then -EFBIG (pread(2) answers such a call). For a
 * process whose address space became scarce, such as one that lowered its
 * RLIMIT_AS. MT-safe.
 */
MMAPIO_API int mmapio_trim_reserve(mmapio_map *m);

/*
 * Flushing (RDWR maps; a no-op returning 0 on RDONLY and COW, which accept
 * only MMAPIO_FLUSH_MANUAL as policy: -EBADF for any other).
 * mmapio_flush_range: round [off, off + len) out to page boundaries and
 *   msync(MS_SYNC) exactly those pages; they are durable on return.
 * mmapio_flush: msync only the pages written through mmapio_write() or
 *   marked dirty since the last flush, adjacent pages coalesced into one call.
 * Both return 0 or the first error; a failed page stays dirty for the next
 * flush. Errors of background (interval) flushes are kept and returned by
 * the next mmapio_flush(), mmapio_flush_error() or mmapio_close().
 * MT-safe.
 */
MMAPIO_API int mmapio_flush_range(mmapio_map *m, off_t off, size_t len);
MMAPIO_API int mmapio_flush(mmapio_map *m);
MMAPIO_API int mmapio_set_flush_policy(mmapio_map *m, int policy, uint64_t arg);
MMAPIO_API int mmapio_flush_error(mmapio_map *m); /* fetch and clear the sticky error */

/*
 * Pre-warming: make [off, off + len) resident so later accesses do not fault.
 * Returns the tier that ran (>= 0) or a negative errno. The tiers:
 */
enum mmapio_tier {
	MMAPIO_TIER_POPULATE = 1, /* MADV_POPULATE_READ / _WRITE (Linux 5.14+) */
	MMAPIO_TIER_TOUCH = 2,	  /* MADV_WILLNEED plus a fault-safe touch of one byte per page */
	MMAPIO_TIER_WILLNEED = 3, /* hint only (MMAPIO_PREWARM_LAZY) */
	MMAPIO_TIER_ASYNC = 4,	  /* queued to the background worker */
};
MMAPIO_API int mmapio_prewarm(mmapio_map *m, off_t off, size_t len);
MMAPIO_API int mmapio_prewarm_async(mmapio_map *m, off_t off, size_t len);
/* Wait until every async prewarm queued for m has finished; returns its tier or error. */
MMAPIO_API int mmapio_prewarm_wait(mmapio_map *m);

/* Advice and locking; ranges are rounded out to pages for the caller. MT-safe. */
enum mmapio_advice {
	MMAPIO_ADV_NORMAL = 0,
	MMAPIO_ADV_SEQUENTIAL = 1,
	MMAPIO_ADV_RANDOM = 2,
	MMAPIO_ADV_WILLNEED = 3,
	MMAPIO_ADV_DONTNEED = 4,
	MMAPIO_ADV_HUGEPAGE = 5,
	MMAPIO_ADV_NOHUGEPAGE = 6,
};
MMAPIO_API int mmapio_advise(mmapio_map *m, off_t off, size_t len, int advice);
/*
 * The access advice of the whole map, kept for pages that growth maps
 * later (mmapio_advise applies to the pages mapped now only):
 * MMAPIO_ADV_NORMAL (the default: a fault reads the device's readahead
 * window around its page), MMAPIO_ADV_SEQUENTIAL, or MMAPIO_ADV_RANDOM (a
 * fault reads its own page only: use it for random access to data that
 * may not be cached). -EINVAL for any other advice. MT-safe.
 */
MMAPIO_API int mmapio_set_access(mmapio_map *m, int advice);
MMAPIO_API int mmapio_get_access(const mmapio_map *m);
MMAPIO_API int mmapio_lock(mmapio_map *m, off_t off, size_t len);
MMAPIO_API int mmapio_unlock(mmapio_map *m, off_t off, size_t len);

/* Counters, for tests and tuning. MT-safe snapshot. */
struct mmapio_stats {
	uint64_t faults;	 /* faults recovered inside mmapio copies */
	uint64_t flushes;	 /* msync calls made */
	uint64_t flushed_bytes;	 /* bytes covered by those calls */
	uint64_t flush_errors;	 /* flushes that failed */
	uint64_t remaps;	 /* growth/shrink operations */
	uint64_t reserved[8];	 /* set to zero by mmapio_get_stats() */
};
MMAPIO_API void mmapio_get_stats(const mmapio_map *m, struct mmapio_stats *st);

/*
 * Fault-safe copy, usable on any memory (the shim uses it for user buffers).
 * Copies n bytes; returns 0, or -EFAULT (SIGSEGV) / -EIO (SIGBUS) when either
 * side faulted; *fault_addr (may be NULL) receives the faulting address.
 * The SIGBUS/SIGSEGV handler is installed at the first mmapio_open(); call
 * mmapio_fault_install() again if the program later installs its own
 * handlers (the program's handler is kept and runs for every fault that is
 * not inside an mmapio copy).
 */
MMAPIO_API int mmapio_copy(void *dst, const void *src, size_t n, void **fault_addr);
MMAPIO_API int mmapio_fault_install(void);
/*
 * For interposers (the shim) and programs that manage signals: behaves like
 * sigaction(2) for SIGBUS and SIGSEGV, but records `act` as the program's
 * handler behind mmapio's instead of replacing it; `old` gets the program's
 * previous one. Other signals go straight to sigaction(2).
 */
struct sigaction;
MMAPIO_API int mmapio_fault_sigaction(int sig, const struct sigaction *act,
				      struct sigaction *old);
/* "x86_64-fixup" (no per-call cost) or "portable-sigsetjmp". */
MMAPIO_API const char *mmapio_fault_method(void);

#if defined(MMAPIO_EMBEDDED) || defined(MMAPIO_WANT_SYS)
/*
 * For a library that embeds libmmapio and interposes libc (the LD_PRELOAD
 * shim): the calls through which libmmapio reaches the kernel, so that they
 * never come back into the interposer's wrappers. Call before anything
 * else; a NULL member keeps libc's. Not part of the shared library.
 */
#include <signal.h>
struct mmapio_sys {
	int (*open)(const char *, int, ...);
	int (*close)(int);
	ssize_t (*read)(int, void *, size_t);
	ssize_t (*pread)(int, void *, size_t, off_t);
	int (*fcntl)(int, int, ...);
	int (*ftruncate)(int, off_t);
	int (*sigaction)(int, const struct sigaction *, struct sigaction *);
	int (*sigmask)(int, const sigset_t *, sigset_t *); /* pthread_sigmask */
};
__attribute__((visibility("hidden"))) void mmapio_embed_sys(const struct mmapio_sys *sys);
#endif

/* Human-readable message for a negative return value. */
MMAPIO_API const char *mmapio_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif /* MMAPIO_H */
