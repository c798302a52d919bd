/*
 * shim.h - what the shim's files share. Where each concern lives (and the
 * tests that hold it to its promises):
 *   init.c       start and end of the shim in a process
 *   real.c       the real libc functions (dlsym RTLD_NEXT), usable before init
 *   config.c     MMAPIO_* environment variables; parse.c their grammars
 *                (tests/unit/test_parse.c, tests/fuzz, tests/stress badenv)
 *   fdtable.c    fd -> open file description, lock-free lookup
 *   open.c       open/creat/close/dup/fcntl/lseek entry points
 *   decide.c     the first decision on a descriptor (auto mode's lazy one)
 *   files.c      one entry per file (dev, ino): its map, descriptors, state
 *   policy.c     which files are mapped, and why (tests/unit/test_policy.c)
 *   procfs.c     what the shim reads from /proc and /sys (threads, vm size)
 *   pattern.c    the calls the kernel serves on tracked files
 *   sample.c     watching files by sampling their calls; windows
 *   residency.c  is a range in the page cache (cachestat, major faults)
 *   memory.c     the page cache the process can keep (memory cgroups)
 *                (tests/policy for the four above)
 *   offset.c     shadow file offsets; syncing the kernel's offset
 *   read.c       read family;  write.c  write family, ftruncate, fsync
 *   iov.h        reading a caller's iovec array safely
 *   cache.c      posix_fadvise: the page cache as without the shim
 *   limits.c     resource limits (RLIMIT_FSIZE, RLIMIT_AS, mlockall)
 *   coherence.c  size changes published between shim instances
 *   procs.c      fork, vfork, exec, posix_spawn, system, popen, fdopen,
 *                sendfile, splice, copy_file_range, SCM_RIGHTS
 *   vfork_x86_64.S  vfork, which a C wrapper cannot return from twice
 *   signals.c    sigaction/signal routed around the core's fault handler
 *   stats.c      counters and the JSON report;  log.c  MMAPIO_LOG messages
 *   exitreport.c the stats line on _exit, _Exit, quick_exit, fatal signals
 *                (tests/preload/prog_exits.c, run.sh prog_exits.lines)
 *   inherit.c    descriptors open at start; read() on shared descriptions
 *                (tests/preload/prog_inherit.c, run.sh inherited-*)
 * The differential programs of tests/preload run every entry point with and
 * without the shim; tests/stress is the reliability suite.
 */
#ifndef MMAPIO_SHIM_H
#define MMAPIO_SHIM_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <uthash.h>
#include "mmapio.h"

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define EXPORT __attribute__((visibility("default")))
#define TLS __thread __attribute__((tls_model("initial-exec")))

/* Per thread: calls until the next sample; a sampled positional call's
 * description and end, which the thread's next call is compared with
 * (that call takes the slow path: left is 0 meanwhile), and the count to
 * resume then. */
struct sample_tls {
	int left, left_after;
	const struct ofd *pair_o;
	int64_t pair_end;
};
extern TLS struct sample_tls sample_tls;
/* A call on o at off (-1: read()/write()) right after a sampled one. */
struct ofd;
void pair_close(struct ofd *o, int64_t off);

/* ---- real.c ---- */
struct real_fns {
	int (*open)(const char *, int, ...);
	int (*openat)(int, const char *, int, ...);
	int (*close)(int);
	int (*close_range)(unsigned, unsigned, int);
	ssize_t (*read)(int, void *, size_t);
	ssize_t (*pread)(int, void *, size_t, off_t);
	ssize_t (*readv)(int, const struct iovec *, int);
	ssize_t (*preadv)(int, const struct iovec *, int, off_t);
	ssize_t (*preadv2)(int, const struct iovec *, int, off_t, int);
	ssize_t (*write)(int, const void *, size_t);
	ssize_t (*pwrite)(int, const void *, size_t, off_t);
	ssize_t (*writev)(int, const struct iovec *, int);
	ssize_t (*pwritev)(int, const struct iovec *, int, off_t);
	ssize_t (*pwritev2)(int, const struct iovec *, int, off_t, int);
	off_t (*lseek)(int, off_t, int);
	int (*fsync)(int);
	int (*fdatasync)(int);
	int (*ftruncate)(int, off_t);
	int (*truncate)(const char *, off_t);
	int (*dup)(int);
	int (*dup2)(int, int);
	int (*dup3)(int, int, int);
	int (*fcntl)(int, int, ...);
	pid_t (*fork)(void);
	pid_t (*vfork)(void);
	int (*execve)(const char *, char *const[], char *const[]);
	int (*execv)(const char *, char *const[]);
	int (*execvp)(const char *, char *const[]);
	int (*execvpe)(const char *, char *const[], char *const[]);
	int (*fexecve)(int, char *const[], char *const[]);
	int (*execveat)(int, const char *, char *const[], char *const[], int);
	int (*posix_spawn)(pid_t *, const char *, const void *, const void *, char *const[],
			   char *const[]);
	int (*posix_spawnp)(pid_t *, const char *, const void *, const void *, char *const[],
			    char *const[]);
	int (*system)(const char *);
	void *(*popen)(const char *, const char *);
	void *(*fdopen)(int, const char *);
	ssize_t (*sendfile)(int, int, off_t *, size_t);
	ssize_t (*splice)(int, off_t *, int, off_t *, size_t, unsigned);
	ssize_t (*copy_file_range)(int, off_t *, int, off_t *, size_t, unsigned);
	int (*sigaction)(int, const void *, void *);
	int (*posix_fadvise)(int, off_t, off_t, int);
	int (*lockf)(int, int, off_t);
	int (*ioctl)(int, unsigned long, ...);
	int (*setrlimit)(int, const void *);
	int (*setrlimit64)(int, const void *);
	int (*prlimit)(pid_t, int, const void *, void *);
	int (*prlimit64)(pid_t, int, const void *, void *);
	int (*mlockall)(int);
	int (*munlockall)(void);
	int (*pthread_cancel)(pthread_t);
	long (*ulimit)(int, ...);
	void (*closefrom)(int);
	ssize_t (*sendmsg)(int, const void *, int);
	int (*sendmmsg)(int, void *, unsigned, int);
	void (*(*signal)(int, void (*)(int)))(int);
	int (*pthread_sigmask)(int, const void *, void *);
	int (*sigprocmask)(int, const void *, void *);
	int (*fallocate)(int, int, off_t, off_t);
	/* exitreport.c */
	void (*_exit)(int);
	void (*(*sysv_signal)(int, void (*)(int)))(int);
	void (*(*sigset)(int, void (*)(int)))(int);
	int (*siginterrupt)(int, int);
};
extern struct real_fns real;
void shim_resolve(void);
/*
 * The one way to the real functions. REAL(name): the next definition of
 * name after the shim (libc's), all resolved at once in the constructor
 * (shim_resolve), or on the spot by a call that comes before it. A symbol
 * the libc lacks (close_range, closefrom, execveat, copy_file_range,
 * preadv2 on an older glibc) stays NULL; only a program built against a
 * newer libc can call the shim's wrapper then, and the wrapper answers as
 * that libc's system call would where the kernel lacks it: -1 with ENOSYS
 * (MISSING(name)), or nothing for a function that returns nothing.
 */
#define REAL(name) (likely(real.name != NULL) ? real.name : (shim_resolve(), real.name))
#define MISSING(name) (REAL(name) == NULL && (errno = ENOSYS, true))

/* ---- config.c ---- */
enum shim_mode { MODE_NEVER, MODE_ALWAYS, MODE_AUTO };
enum shim_prewarm { PREWARM_NONE, PREWARM_WILLNEED, PREWARM_POPULATE, PREWARM_ASYNC };
struct shim_config {
	int mode;		   /* MMAPIO_MODE */
	char **include, **exclude; /* MMAPIO_INCLUDE/EXCLUDE: NULL-terminated globs, or NULL */
	uint64_t min_size, max_size; /* MMAPIO_MIN_SIZE, MMAPIO_MAX_SIZE */
	uint64_t max_threads;	   /* MMAPIO_MAX_THREADS */
	int prewarm;		   /* MMAPIO_PREWARM */
	uint64_t prewarm_max;	   /* MMAPIO_PREWARM_MAX */
	bool writes_map;	   /* MMAPIO_WRITES=map */
	bool fsync_range;	   /* MMAPIO_FSYNC=range */
	uint64_t flush_ms;	   /* MMAPIO_FLUSH_INTERVAL, 0 = off */
	bool hugepages;		   /* MMAPIO_HUGEPAGES=auto */
	bool netfs;		   /* MMAPIO_NETFS */
	bool tmpfs;		   /* MMAPIO_TMPFS: file systems in memory may be mapped */
	char *stats;		   /* MMAPIO_STATS: NULL, "stderr" or a path */
	int log_level;		   /* MMAPIO_LOG: 0 error .. 3 debug */
	char *log_file;		   /* MMAPIO_LOG_FILE */
	uint64_t reserve;	   /* MMAPIO_RESERVE: address space per map */
	uint64_t small_read;	   /* MMAPIO_SMALL_READ: reads below favour the map */
	uint64_t large_read;	   /* MMAPIO_LARGE_READ: sequential reads from here stay with the kernel */
};
extern struct shim_config cfg;
void config_load(void);

/* ---- log.c ---- */
enum { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };
void shim_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- stats.c ---- */
struct file_stats {
	_Atomic uint64_t served, passthrough, bytes;
};
struct shim_totals {
	_Atomic uint64_t served, passthrough, bytes, faults;
};
extern struct shim_totals totals;
extern bool stats_on;
struct file;
void stats_record_decision(const char *path, const char *decision, const char *reason);
void stats_file_closed(struct file *f); /* fold a file's counters into its record */
void stats_write(void);
void stats_reset(void);
void stats_init(void);		 /* before files_init(): fork handler order */
bool stats_own_process(void);	 /* not a vfork child */
void stats_zero_file(struct file *f); /* in a fork child, files lock held */
struct ofd;
void stats_pending_closed(struct ofd *o); /* a description closed with no file: its counts */
/* A file's decision changed (files.c): record it, and where the file's counts go. */
void stats_file_decision(struct file *f, const char *decision);
struct stat_record;
struct stat_record *stats_record_of(const char *path); /* a pending description's record */
/* The line on the way out, where locks may be held (exitreport.c): async-signal-safe. */
void stats_write_final(void);

/* ---- exitreport.c: the stats line on _exit, _Exit, quick_exit and fatal signals ---- */
extern _Atomic uint64_t fatal_sigs; /* bit s: sigaction(s) goes through exitreport.c */
static inline bool fatal_covered(int sig)
{
	return (unsigned)sig < 64 &&
	       ((atomic_load_explicit(&fatal_sigs, memory_order_relaxed) >> sig) & 1);
}
int fatal_sigaction(int sig, const void *act, void *old); /* struct sigaction */
void *fatal_signal(int sig, void *handler);		  /* sighandler_t */
void exitreport_init(void);

/* ---- inherit.c: descriptors open before the program started ---- */
void inherit_init(void);
/* read() on a description whose offset the kernel owns and another process
 * may share: served from the map when it can be (true, *n its result). */
bool shared_read(struct ofd *o, int fd, void *buf, size_t len, ssize_t *n);

enum verdict { V_KERNEL, V_WATCH, V_MAP };
struct decision {
	enum verdict v;
	const char *reason;
	int advice;		   /* for the map: MMAPIO_ADV_*, or -1: leave it */
	uint64_t until_moved;	   /* V_WATCH: no probe can change it before the kernel has
				    * moved this many bytes for the file (0: not so) */
};

/* ---- files.c: one per (dev, ino) ---- */
struct file_key {
	dev_t dev;
	ino_t ino;
};
enum file_state {
	FILE_KERNEL,  /* the kernel serves it, for good */
	FILE_WATCH,   /* the kernel serves it while we watch the access pattern */
	FILE_MAPPED,  /* served from f->map */
};
struct file {
	struct file_key key;
	_Atomic int state;	   /* enum file_state */
	uint32_t gen_slot;	   /* coherence.c: this file's generation slot */
	_Atomic uint64_t gen_seen; /* ... and its value when we last refreshed */
	mmapio_map *map;	   /* set before state becomes FILE_MAPPED; kept until release */
	_Atomic uint64_t kbytes;   /* bytes the kernel moved for its calls while watched (pattern.c) */
	_Atomic uint64_t until_moved; /* sample.c: kbytes at which a slow watch wakes (0: none) */
	_Atomic uint64_t known_size; /* at the latest decision: writes below it are probed */
	int threads;		   /* live threads when last decided */
	bool writable;		   /* map is RDWR */
	char *path;		   /* as first opened */
	const char *reason;	   /* of the current state */
	uint64_t flushed_seen;	   /* map's flushed bytes already folded into stats */
	_Atomic bool kdirty;	   /* written through the kernel since the last real sync */
	_Atomic int map_writers;   /* write.c: map writes in flight */
	_Atomic int resizing;	   /* write.c: size changes through the kernel in flight */
	bool tmpfs;		   /* on tmpfs: a hole read through a map allocates memory */
	uint64_t faults_seen;	   /* map's recovered faults already folded into stats */
	int nfds, cap;		   /* descriptors of this file (a map is made through one) */
	int *fds;
	/* sample.c: the current window of sampled calls */
	_Atomic uint32_t s_n, s_probed, s_miss, s_seq, s_small, s_writes, s_wmiss;
	_Atomic uint64_t s_bytes;  /* asked for by the window's calls */
	_Atomic int s_period;	   /* calls between samples; 0: every call */
	_Atomic int tier;	   /* TIER_*: how residency is learnt */
	_Atomic uint64_t sampled, missed; /* all sampled calls, and misses among them */
	/* files.c, under the lock: what the next decision remembers */
	uint32_t clean_run, clean_need; /* windows without misses, and needed to map */
	int cached_pct;		   /* of the file at the first decision, -1 unknown */
	int advice;		   /* the map's (MMAPIO_ADV_*) */
	uint32_t decisions;	   /* changes of state, for stats */
	struct file_stats st;
	_Atomic(struct stat_record *) stat_rec; /* stats.c: where st goes (set at the first decision) */
	UT_hash_handle hh;
};

/* ---- sample.c: watching tracked files by sampling their calls ---- */
#define WINDOW 16  /* sampled calls per judgement */
enum { TIER_UNKNOWN, TIER_CACHESTAT, TIER_FAULTS };
struct sample {
	bool active, seq, small, probed, miss, write;
	size_t len;
	uint64_t majflt;
};
struct window {
	uint32_t n, probed, miss, seq, small;
	uint32_t writes, wmiss;	   /* sampled writes, and their misses (among miss) */
	uint64_t bytes;
};

void sample_start(struct file *f, bool mapped);
/* A watched file's sampling: slow until the kernel has moved until_moved
 * bytes for it (0: the usual pace); then sample_wake() from pattern.c. */
void sample_pace(struct file *f, uint64_t until_moved);
void sample_wake(struct file *f);
/* Around a call the map would serve at file offset `at` (off: the call's own
 * offset, -1 for read()/write()); false: let the kernel serve it. A call
 * the fast path counted down before it gave up is counted again: it only
 * brings its sample closer. */
bool sample_served_begin(struct ofd *o, int fd, int64_t off, int64_t at, size_t len,
			 struct sample *s);
void sample_served_end(struct ofd *o, int fd, struct sample *s);
/* Before a call the kernel serves on a tracked file (at -1: offset unknown). */
void sample_kernel(struct ofd *o, int fd, int64_t off, int64_t at, size_t len, bool write);

/* ---- coherence.c: size changes made by other processes ---- */
extern _Atomic uint64_t *gen_table;
uint32_t coherence_slot(dev_t dev, ino_t ino);
void coherence_bump(uint32_t slot);
void coherence_bump_stat(const struct stat *st);
/* Has another shim instance changed the file's size since we last looked? */
static inline bool coherence_stale(const struct file *f)
{
	return unlikely(atomic_load_explicit(&gen_table[f->gen_slot], memory_order_acquire) !=
			atomic_load_explicit(&f->gen_seen, memory_order_relaxed));
}

/* ---- fdtable.c: one per open file description ---- */
struct ofd {
	_Atomic int refs;	   /* fds in our table pointing here */
	struct file *file;
	int flags;		   /* open flags (O_ACCMODE, O_APPEND, ...) */
	_Atomic int64_t off;	   /* shadow offset when shadow is set; else, unless
				    * noshadow, a mirror of the kernel's */
	_Atomic bool shadow;	   /* read()/write() use the shadow offset */
	_Atomic bool stale;	   /* the kernel's offset lags the shadow */
	_Atomic bool noshadow;	   /* never again: O_APPEND, or shared with another process */
	_Atomic bool adopting;	   /* offset.c: a shadow offset is being taken from the kernel */
	_Atomic int kernel_users;  /* offset.c: calls in flight using the kernel's offset */
	_Atomic int64_t last_end;  /* where the previous read ended (auto mode) */
	_Atomic bool seeked;	   /* lseek moved the offset since the last read()/write() */
	_Atomic uint64_t st_pass;  /* stats: calls passed through before there is a file */
	_Atomic(struct stat_record *) stat_rec; /* stats.c: a pending one's record */
	_Atomic int64_t shared_pos; /* inherit.c: the kernel's offset after our last read, + 1 (0: unknown) */
	/* Auto mode, before the file is decided (files.c open_pending): */
	_Atomic bool pending;	   /* reads are being watched; file is NULL */
	_Atomic bool kernel_only;  /* left pending at the end of a small file: never mapped */
	_Atomic uint32_t w_calls, w_small, w_seq; /* calls seen, small, sequential */
	_Atomic uint64_t w_bytes;  /* asked for by those calls */
	_Atomic int64_t w_end;	   /* where the last positional one ended */
	char *path;		   /* as opened, when needed for globs, stats or logs */
	struct ofd *next_free;
};
struct fdtab {
	size_t n;
	_Atomic(struct ofd *) e[];
};
extern _Atomic(struct fdtab *) fdtab;

static inline struct ofd *fd_get(int fd)
{
	struct fdtab *t = atomic_load_explicit(&fdtab, memory_order_acquire);
	if (unlikely((unsigned)fd >= (t ? t->n : 0)))
		return NULL;
	return atomic_load_explicit(&t->e[fd], memory_order_acquire);
}
/*
 * sample.c's pattern: does a description's next call continue its last?
 * read()/write() continue unless an lseek moved the offset in between
 * (o->seeked, cleared by every read() and write()). For a sampled
 * positional call, the thread's next call tells (a "pair", sample.c).
 */
static inline bool stream_implicit(struct ofd *o)
{
	if (likely(!atomic_load_explicit(&o->seeked, memory_order_relaxed)))
		return true;
	atomic_store_explicit(&o->seeked, false, memory_order_relaxed);
	return false;
}
/* The fast paths: a call on a mapped file counts down to its sample; when
 * the count runs out (or any other condition fails) they take the slow
 * path, which samples. */
static inline bool sample_skip(void)
{
	return likely(--sample_tls.left >= 0);
}
/* A read() or write() the fast path served: its pattern. */
static inline void sample_skipped_implicit(struct ofd *o)
{
	stream_implicit(o);
}

int fd_put(int fd, struct ofd *o);  /* grows the table; -1 if out of memory */
struct ofd *fd_take(int fd);	    /* remove and return the entry */
int fd_put_nolock(int fd, struct ofd *o); /* without files_lock(); -1: use fd_put */
int fd_take_nolock(int fd, struct ofd **o);
int fd_highwater(void);
struct ofd *ofd_alloc(void);	    /* MT-safe, no lock */
void ofd_free(struct ofd *o);
void fdtable_init(void);

struct file_facts;
/* files.c: the table of files, their maps and descriptors, state changes */
void files_lock(void);
void files_unlock(void);
bool files_held(void); /* this thread holds the files lock (always true without MMAPIO_DEBUG) */
void files_init(void);
struct file *files_find(struct file_key key);		/* under the lock */
/* Track fd (a new description, or `pending`'s now decided) on the file
 * keyed `key`, created with decision d if new. Under the lock. */
void files_attach(int fd, struct file_key key, const char *path, int flags, struct ofd *pending,
		  struct decision d, const struct file_facts *facts);
/* fd now also refers to o (dup). Caller holds nothing. */
void files_on_dup(int newfd, struct ofd *o);
/* fd is about to be closed: untrack it. */
void files_on_close(int fd);
/* fd was closed behind our back (raw syscall) and is a new file now: drop its entry. */
void files_forget(int fd);
/* A window of sampled calls on o's file ended (sample.c): decide again. */
void files_reconsider(struct ofd *o, int fd, const struct window *w);
/* Follow a size change: made through fd (files_follow), through a
 * descriptor we do not track (files_follow_stat), or seen in the
 * generation table as made by another process (files_follow_other). */
void files_follow(struct ofd *o, int fd);
void files_follow_stat(const struct stat *st);
void files_follow_other(struct file *f, int fd);
void files_fold_all(void (*fn)(struct file *)); /* for stats, under the files lock */
/* Every map goes and its file to the kernel, for good (mlockall). */
void files_retire_all(const char *reason);
/* Every map gives back the address space it reserved past its file (RLIMIT_AS). */
void files_trim_all(void);
/* F_ADD_SEALS is coming: a writable map would make F_SEAL_WRITE fail (EBUSY). */
void files_before_seal(struct ofd *o, long seals);
/* The map of o's file lets go of its pages in [off, off + len) (cache.c). */
void files_drop_pages(struct ofd *o, uint64_t off, uint64_t len);
const char *file_decision(const struct file *f); /* "map" or "kernel" */

/* decide.c: the first decision on a descriptor */
/* A descriptor was opened (or dup'd onto a new description): maybe track it. */
void files_on_open(int fd, const char *path, int flags);
/* A pending description was used WATCH_CALLS times: decide on its file. */
void files_decide_pending(struct ofd *o, int fd);
bool never_path(const char *path);

/* ---- residency.c: is a range in the page cache? ---- */
int residency_cached(int fd, uint64_t off, uint64_t len); /* 1 yes, 0 no, -1 cannot tell */
int residency_percent(int fd, uint64_t size);		   /* of the file; -1 cannot tell */
uint64_t residency_majflt(void);			   /* this thread's major faults */

/* ---- limits.c: resource limits the shim's work and its own use honour ---- */
extern _Atomic uint64_t limit_fsize;  /* RLIMIT_FSIZE, UINT64_MAX: none */
extern _Atomic bool limit_no_maps;    /* mlockall(MCL_FUTURE) holds */
void limits_read(void);
void limits_read_fsize(void);
uint64_t limits_reserve(int fd); /* a map's reservation; UINT64_MAX: do not map */
/* May a write of len bytes at off go into the map, as far as RLIMIT_FSIZE goes? */
static inline bool limits_write_ok(uint64_t off, size_t len)
{
	return off + len <= atomic_load_explicit(&limit_fsize, memory_order_relaxed);
}

/* ---- memory.c ---- */
uint64_t memory_room(void); /* bytes of page cache this process can keep (UINT64_MAX: no bound) */

/* ---- offset.c ---- */
/* Where the kernel's offset of a description we do not shadow is, if we
 * know (-1: shared with another process, which may move it). */
static inline int64_t kernel_offset(struct ofd *o)
{
	return atomic_load(&o->noshadow) ? -1 : atomic_load(&o->off);
}
void offset_sync(struct ofd *o, int fd);     /* kernel offset := shadow */
void offset_unshadow(struct ofd *o, int fd); /* sync, then let the kernel own it */
void offset_adopt_kernel(struct ofd *o, int fd); /* the kernel moved it (RWF_APPEND) */
void offset_sync_all(bool unshadow_inheritable);
off_t shim_lseek(struct ofd *o, int fd, off_t off, int whence);
/* Around a call that uses the kernel's offset on a non-shadowed description:
 * false means it shadows its offset now (use that instead). */
bool kernel_offset_enter(struct ofd *o);
void kernel_offset_leave(struct ofd *o);
void offset_adopt(struct ofd *o, int fd);
bool offset_take(struct ofd *o, int fd); /* before the map serves o's first read()/write() */

/* ---- files.c: map writes and size changes through the kernel exclude each
 * other on a file (the why is in files.c, above resize_begin) ---- */
struct file *resize_begin(struct ofd *o); /* before a kernel call that may change the size */
void resize_end(struct file *f);	  /* leaves errno alone */
static inline bool map_write_begin(struct file *f)
{
	atomic_fetch_add(&f->map_writers, 1);
	if (likely(atomic_load(&f->resizing) == 0))
		return true;
	atomic_fetch_sub(&f->map_writers, 1);
	return false;
}

static inline void map_write_end(struct file *f) { atomic_fetch_sub(&f->map_writers, 1); }

/* ---- policy.c ---- */
struct file_facts {
	bool regular;
	bool sparse;		   /* allocated blocks cover less than the size */
	long fs_magic;
	bool selected;		   /* passes MMAPIO_INCLUDE/EXCLUDE */
	const char *unselected_why;
	bool writable;		   /* the description can write: a small file may grow */
	bool mapped;		   /* served from a map now */
	uint64_t size;
	uint64_t threads;	   /* live threads in the process */
	uint64_t room;		   /* page cache the process can keep (memory.c) */
	int cached_pct;		   /* of the file, -1 unknown (first decision only) */
	uint32_t calls, small, seq; /* calls seen, the small and the sequential ones */
	uint64_t bytes;		   /* asked for by those calls */
	uint64_t moved;		   /* bytes the kernel has moved for the file while watched */
	uint32_t probed, misses;   /* calls whose pages were checked, and how many missed */
	uint32_t writes, write_misses; /* calls seen that wrote, and their misses */
	uint32_t clean_run, clean_need; /* windows without misses, and needed to map */
};
#define WATCH_CALLS 8 /* reads to see before auto decides on the pattern */
/* Pure: same inputs, same answer. Table-tested in tests/preload/test_policy.c. */
struct decision policy_decide(const struct shim_config *c, const struct file_facts *f);
int policy_advice(const struct file_facts *f); /* MMAPIO_ADV_* for a map, or -1 */
/* decide.c: policy_decide(), gathering the costly facts only when it would map */
struct decision decide_costly(struct file_facts *f, int fd, bool first);
bool policy_is_memfs(long fs_magic);	       /* tmpfs, hugetlbfs: a hole read through a map allocates */
bool policy_selected(int fd, const char *path, const char **why);

/* ---- procfs.c: small files of /proc and /sys ---- */
bool proc_read_file(const char *path, char *buf, size_t cap); /* whole, NUL-terminated */
uint64_t proc_threads(void);  /* live threads, re-read at most every 100 ms */
uint64_t proc_vm_size(void);  /* address space in use, UINT64_MAX unknown */

/* ---- pattern.c ---- */
/* Before a call the kernel serves on a tracked description: its pattern
 * (off: the call's own offset, -1 for read()/write()), and sampling at
 * file offset `at` (-1 unknown). pwrite passes its offset only inside the
 * file as last decided on (write.c, write_probe_at): pages past the end are
 * never cached, and a file that grows must not look like one that misses;
 * the map's own writes are probed once it is mapped. */
void pattern_before(struct ofd *o, int fd, int64_t off, int64_t at, size_t len);
void pattern_before_write(struct ofd *o, int fd, int64_t off, int64_t at, size_t len);
/*
 * A call of len bytes went to the kernel on a tracked description and
 * returned n, ending at file offset end (-1: unknown).
 */
void pattern_observe(struct ofd *o, int fd, size_t len, ssize_t n, int64_t end);

/* ---- read.c / write.c helpers ---- */
/*
 * The kernel checks a user buffer's range before anything else (access_ok):
 * one reaching past the user address space is EFAULT even at the end of a
 * file. The shim lets the kernel answer any such call. The limit is the
 * 4-level paging one; a buffer above it (57-bit address spaces) is simply
 * passed to the kernel too.
 */
#if defined(__x86_64__)
#define USER_END 0x00007ffffffff000UL
#else
#define USER_END (1UL << 47)
#endif
static inline bool user_range_ok(const void *buf, size_t len)
{
	uintptr_t b = (uintptr_t)buf;
	return b <= USER_END && len <= USER_END - b;
}

static inline void count_pass(struct ofd *o)
{
	if (unlikely(stats_on)) {
		atomic_fetch_add_explicit(&totals.passthrough, 1, memory_order_relaxed);
		struct file *f = o ? o->file : NULL;
		if (f)
			atomic_fetch_add_explicit(&f->st.passthrough, 1, memory_order_relaxed);
		else if (o) /* folded into its file's counts later (files.c, stats.c) */
			atomic_fetch_add_explicit(&o->st_pass, 1, memory_order_relaxed);
	}
}
static inline void count_served(struct ofd *o, size_t n)
{
	if (unlikely(stats_on)) {
		atomic_fetch_add_explicit(&totals.served, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&totals.bytes, n, memory_order_relaxed);
		atomic_fetch_add_explicit(&o->file->st.served, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&o->file->st.bytes, n, memory_order_relaxed);
	}
}

/* glibc: "*** buffer overflow detected ***" and abort. */
extern void __chk_fail(void) __attribute__((noreturn));

/*
 * signals.c: can a SIGSEGV/SIGBUS raised in this thread reach the core's
 * handler? Not while the thread blocks them: the kernel then kills the
 * process instead of delivering, so the shim must not touch memory that
 * may fault. 1 yes, -1 no, 0 not known yet (first call in a thread).
 */
extern TLS int faults_ok;
bool faults_check_mask(void);
static inline bool faults_deliverable(void)
{
	return likely(faults_ok > 0) || faults_check_mask();
}

static inline uint64_t shim_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
extern size_t shim_pagesize;
#define PAGE ((uint64_t)shim_pagesize)

/*
 * signals.c: cancellation. read, pread, write, fsync and their relatives
 * are cancellation points; a call the map serves makes no system call, so
 * it acts on a pending cancellation itself. Nothing to do until the program
 * has called pthread_cancel (interposed): one load on tracked calls.
 */
extern _Atomic bool cancel_seen;
static inline void cancel_point(void)
{
	if (unlikely(atomic_load_explicit(&cancel_seen, memory_order_relaxed)))
		pthread_testcancel();
}

/*
 * Preconditions as assertions in a debug build (-DMMAPIO_DEBUG: make
 * test-asan, the stress suite's TSan build): "under the lock" is checked
 * there. Elsewhere nothing: an assertion must never stop the host program.
 */
#ifdef MMAPIO_DEBUG
#include <assert.h>
#define SHIM_ASSERT(x) assert(x)
#else
#define SHIM_ASSERT(x) ((void)0)
#endif

/* Set while the shim runs its own slow paths: nested interposed calls pass through. */
extern TLS int shim_busy;
extern _Atomic bool shim_ready;
#endif
