/*
 * files.c - one entry per file, shared by every descriptor of it: its
 * map, its state, and the changes of state.
 *
 * A file is identified by (st_dev, st_ino) in a uthash table guarded by one
 * mutex, taken at open, dup, close and when a decision changes, never on a
 * read or write. A map holds no descriptor (MMAPIO_F_NO_FD): it is made
 * through one of the program's own (opening the file again would change
 * the numbers open() returns, count against the program's limit, and
 * closing it would drop the program's POSIX locks on the file), and every
 * later look at the file goes through the descriptor of the call that
 * needs it (mmapio_read_fd, mmapio_refresh_fd). A map that kept a number
 * could use it after the program closed it in another thread, or after a
 * raw close and a reuse for another file. When the file's last descriptor
 * goes, the map is closed with MMAPIO_F_DEFER_UNMAP so that a reader
 * racing the close cannot crash.
 *
 * States (enum file_state): the kernel serves a file for good (KERNEL), or
 * while we watch it (WATCH), or the map serves it (MAPPED). Auto mode moves
 * a file between WATCH and MAPPED both ways as its sampled calls say
 * (files_reconsider); a demoted file keeps its map, without its pages, for
 * the next promotion.
 *
 * File structures are recycled, never freed, for the same reason.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include "shim.h"

#define CLEAN_NEED_MAX 32 /* windows without misses before a map is tried again, at most */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct file *table;
static struct file *free_files;

/*
 * Holding the lock also marks the thread busy: an open() or close() the
 * core makes while we map a file (it may read sysfs) passes straight
 * through instead of coming back here for the lock.
 */
#ifdef MMAPIO_DEBUG
static TLS bool holding; /* files_held() */
#endif

void files_lock(void)
{
	shim_busy++;
	pthread_mutex_lock(&lock);
#ifdef MMAPIO_DEBUG
	holding = true;
#endif
}

void files_unlock(void)
{
#ifdef MMAPIO_DEBUG
	holding = false;
#endif
	pthread_mutex_unlock(&lock);
	shim_busy--;
}

bool files_held(void)
{
#ifdef MMAPIO_DEBUG
	return holding;
#else
	return true;
#endif
}

static void fork_prepare(void) { pthread_mutex_lock(&lock); }
static void fork_parent(void) { pthread_mutex_unlock(&lock); }
static void fork_child(void)
{
	if (stats_on) { /* the child counts its own calls only (stats.c) */
		for (struct file *f = table; f; f = f->hh.next)
			stats_zero_file(f);
		for (int fd = 0, hw = fd_highwater(); fd <= hw; fd++) {
			struct ofd *o = fd_get(fd);
			if (o)
				atomic_store(&o->st_pass, 0);
		}
	}
	pthread_mutex_unlock(&lock);
}

void files_init(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

struct file *files_find(struct file_key key)
{
	SHIM_ASSERT(files_held());
	struct file *f;
	HASH_FIND(hh, table, &key, sizeof key, f);
	return f;
}

/* ---- the descriptors of a file ---- */

static int add_fd(struct file *f, int fd)
{
	if (f->nfds == f->cap) {
		int cap = f->cap ? f->cap * 2 : 4;
		int *p = realloc(f->fds, (size_t)cap * sizeof *p);
		if (!p)
			return -1;
		f->fds = p;
		f->cap = cap;
	}
	f->fds[f->nfds++] = fd;
	return 0;
}

static void del_fd(struct file *f, int fd)
{
	for (int i = 0; i < f->nfds; i++) {
		if (f->fds[i] == fd) {
			f->fds[i] = f->fds[--f->nfds];
			return;
		}
	}
}

/* An O_RDWR descriptor of f, if writes may go to the map; else -1. */
static int rw_fd(struct file *f, int fd, int flags)
{
	if (!cfg.writes_map)
		return -1;
	if ((flags & O_ACCMODE) == O_RDWR)
		return fd;
	for (int i = 0; i < f->nfds; i++) {
		struct ofd *o = fd_get(f->fds[i]);
		if (o && (o->flags & O_ACCMODE) == O_RDWR)
			return f->fds[i];
	}
	return -1;
}

/* ---- the table ---- */

static struct file *file_new(struct file_key key, const char *path)
{
	struct file *f = free_files;
	if (f)
		free_files = f->hh.next;
	else if (!(f = malloc(sizeof *f)))
		return NULL;
	memset(f, 0, sizeof *f);
	f->key = key;
	f->gen_slot = coherence_slot(key.dev, key.ino);
	atomic_store(&f->gen_seen, atomic_load(&gen_table[f->gen_slot]));
	f->path = strdup(path ? path : "?");
	f->clean_need = 1;
	f->cached_pct = -1;
	f->advice = MMAPIO_ADV_NORMAL;
	return f;
}

static void file_release(struct file *f)
{
	SHIM_ASSERT(files_held());
	HASH_DEL(table, f);
	stats_file_closed(f);
	if (f->map) {
		mmapio_map *m = f->map;
		atomic_store(&f->state, FILE_KERNEL);
		f->map = NULL;
		mmapio_close(m);
	}
	free(f->path);
	free(f->fds);
	f->path = NULL;
	f->fds = NULL;
	f->hh.next = free_files;
	free_files = f;
}

/* ---- maps ---- */

static void set_advice(struct file *f, int advice)
{
	if (advice < 0 || advice == f->advice || !f->map)
		return;
	if (mmapio_set_access(f->map, advice) == 0)
		f->advice = advice;
}

/*
 * The map as of the size seen through fd. A map created earlier (the file
 * was handed back to the kernel since) is reused: only its pages went.
 */
static mmapio_map *map_of_fd(struct file *f, int fd, int flags)
{
	SHIM_ASSERT(files_held());
	if (f->map) {
		mmapio_refresh_fd(f->map, fd);
		return f->map;
	}
	struct mmapio_opts o = { 0 };
	uint64_t reserve = limits_reserve(fd);
	if (atomic_load(&limit_no_maps) || reserve == UINT64_MAX) {
		shim_log(LOG_INFO, "%s: not mapped: %s", f->path,
			 atomic_load(&limit_no_maps) ? "mlockall(MCL_FUTURE)" : "RLIMIT_AS leaves no room");
		return NULL;
	}
	/*
	 * Where a file system block is smaller than a page (ext4 -b 1024), a
	 * store through the map into a hole allocates every block of the page
	 * (page_mkwrite), where write(2) allocates the blocks it writes:
	 * st_blocks, SEEK_HOLE and running out of space would differ. Such
	 * files are mapped for reads only; writes go to the kernel.
	 */
	struct statfs sf;
	bool small_blocks = fstatfs(fd, &sf) == 0 && (uint64_t)sf.f_bsize < PAGE;
	int wfd = small_blocks ? -1 : rw_fd(f, fd, flags);
	if (small_blocks && (flags & O_ACCMODE) == O_RDWR)
		shim_log(LOG_INFO, "%s: writes to the kernel: %ld-byte blocks, smaller than a page",
			 f->path, (long)sf.f_bsize);
	if (wfd >= 0)
		fd = wfd;
	o.flags = MMAPIO_F_BORROW_FD | MMAPIO_F_NO_FD | MMAPIO_F_DEFER_UNMAP;
	/* close(2) does not write back; neither do we, unless the user asked
	 * for periodic flushing, which bounds loss at close too. */
	if (!cfg.flush_ms)
		o.flags |= MMAPIO_F_NO_CLOSE_FLUSH;
	o.reserve = reserve;
	/*
	 * Huge pages only for maps we never write through: a write fault on a
	 * huge folio dirties (and on ext4 allocates) the whole 2 MiB, which
	 * turns holes into data (SEEK_DATA changes) and writes back more.
	 */
	o.huge = cfg.hugepages && wfd < 0 ? MMAPIO_HUGE_AUTO : MMAPIO_HUGE_OFF;
	if (wfd >= 0 && cfg.flush_ms) {
		o.flush_policy = MMAPIO_FLUSH_INTERVAL;
		o.flush_arg = cfg.flush_ms;
	}
	mmapio_map *m;
	int rc = mmapio_open_fd(&m, fd, wfd >= 0 ? MMAPIO_RDWR : MMAPIO_RDONLY, &o);
	if (rc < 0) {
		shim_log(LOG_INFO, "%s: not mapped: %s", f->path, mmapio_strerror(rc));
		return NULL;
	}
	f->map = m;
	f->writable = wfd >= 0;
	f->advice = MMAPIO_ADV_NORMAL;
	return m;
}

static void prewarm(mmapio_map *m)
{
	uint64_t warm = mmapio_size(m) < cfg.prewarm_max ? mmapio_size(m) : cfg.prewarm_max;
	switch (cfg.prewarm) {
	case PREWARM_WILLNEED:
		mmapio_advise(m, 0, warm, MMAPIO_ADV_WILLNEED);
		break;
	case PREWARM_POPULATE:
		mmapio_prewarm(m, 0, warm);
		break;
	case PREWARM_ASYNC:
		mmapio_prewarm_async(m, 0, warm);
		break;
	}
}

/* Serve f from a map, through fd (or another of its descriptors). Under lock. */
static bool file_map(struct file *f, int fd, int flags, int advice)
{
	SHIM_ASSERT(files_held());
	bool fresh = f->map == NULL;
	mmapio_map *m = map_of_fd(f, fd, flags);
	if (!m) {
		f->reason = "mmap failed";
		return false;
	}
	set_advice(f, advice);
	if (fresh)
		prewarm(m);
	sample_start(f, true);
	atomic_store_explicit(&f->state, FILE_MAPPED, memory_order_release);
	return true;
}

/*
 * Hand a mapped file back to the kernel: its calls go through read(2) and
 * friends from now on, and the map lets go of its pages (MADV_DONTNEED on
 * a shared file map drops our page table entries only; the data stays in
 * the page cache, dirty pages included), so that reclaim treats them as it
 * treats the pages of any file read with read(2). Under lock.
 */
static void file_unmap(struct file *f)
{
	SHIM_ASSERT(files_held());
	atomic_store_explicit(&f->state, FILE_WATCH, memory_order_release);
	if (f->map)
		mmapio_advise(f->map, 0, SIZE_MAX, MMAPIO_ADV_DONTNEED);
	sample_start(f, false);
	f->clean_run = 0;
	f->clean_need = f->clean_need * 2 > CLEAN_NEED_MAX ? CLEAN_NEED_MAX : f->clean_need * 2;
}

/* While auto mode watches a file the kernel serves it: "kernel", and the reason says so. */
const char *file_decision(const struct file *f)
{
	return atomic_load(&((struct file *)f)->state) == FILE_MAPPED ? "map" : "kernel";
}

static void note_decision(struct file *f)
{
	const char *name = file_decision(f);
	f->decisions++;
	stats_file_decision(f, name);
	shim_log(LOG_INFO, "%s: %s (%s; %llu of %llu sampled calls missed the page cache)",
		 f->path, name, f->reason, (unsigned long long)atomic_load(&f->missed),
		 (unsigned long long)atomic_load(&f->sampled));
}

/*
 * The file goes to the kernel for good and its map away (quarantined:
 * readers racing this still find valid memory). Under lock.
 */
static void file_retire(struct file *f, const char *reason)
{
	SHIM_ASSERT(files_held());
	mmapio_map *m = f->map;
	atomic_store_explicit(&f->state, FILE_KERNEL, memory_order_release);
	f->map = NULL;
	f->reason = reason;
	if (m)
		mmapio_close(m);
	note_decision(f);
}

/* Carry out decision d on f, through fd. Under lock. */
static void apply(struct file *f, int fd, int flags, struct decision d)
{
	SHIM_ASSERT(files_held());
	int state = atomic_load(&f->state);
	const char *before = f->reason;
	int was = state;
	f->reason = d.reason;
	if (d.v == V_MAP && state != FILE_MAPPED)
		file_map(f, fd, flags, d.advice);
	else if (d.v == V_MAP)
		set_advice(f, d.advice);
	else if (state == FILE_MAPPED)
		file_unmap(f);
	if (d.v == V_KERNEL)
		atomic_store(&f->state, FILE_KERNEL);
	if (d.v == V_WATCH)
		sample_pace(f, d.until_moved);
	if (before != f->reason || was != atomic_load(&f->state))
		note_decision(f);
}

/* ---- decisions after the first ---- */

static struct file_facts window_facts(struct file *f, const struct window *w,
				      const struct stat *st, int flags)
{
	return (struct file_facts){
		.regular = true,
		.selected = true,
		.writable = (flags & O_ACCMODE) == O_RDWR,
		.mapped = atomic_load(&f->state) == FILE_MAPPED,
		.size = (uint64_t)st->st_size,
		.threads = cfg.mode == MODE_AUTO ? proc_threads() : 1,
		.room = UINT64_MAX, /* decide_costly() */
		.cached_pct = -1,
		.calls = w->n,
		.small = w->small,
		.seq = w->seq,
		.bytes = w->bytes,
		.moved = atomic_load(&f->kbytes),
		.probed = w->probed,
		.misses = w->miss,
		.writes = w->writes,
		.write_misses = w->wmiss,
		.clean_run = f->clean_run,
		.clean_need = f->clean_need,
	};
}

void files_reconsider(struct ofd *o, int fd, const struct window *w)
{
	struct file *f = o->file;
	struct stat st;
	int e = errno;
	if (!f || atomic_load(&f->state) == FILE_KERNEL || fstat(fd, &st) < 0) {
		errno = e;
		return;
	}
	files_lock();
	if (o->file == f && atomic_load(&f->state) != FILE_KERNEL) {
		atomic_store_explicit(&f->known_size, (uint64_t)st.st_size, memory_order_relaxed);
		bool clean = w->probed == 0 || (8 * w->miss < w->probed && w->wmiss == 0);
		f->clean_run = clean ? f->clean_run + 1 : 0;
		struct file_facts facts = window_facts(f, w, &st, o->flags);
		struct decision d = decide_costly(&facts, fd, false);
		if (cfg.mode == MODE_AUTO)
			apply(f, fd, o->flags, d);
		else if (atomic_load(&f->state) == FILE_MAPPED)
			set_advice(f, policy_advice(&facts));
	}
	files_unlock();
	errno = e;
}

/* ---- descriptors come and go ---- */

/* The pending description's calls so far count for its file now. */
static void adopt_pending_counts(struct file *f, struct ofd *o)
{
	uint64_t p = atomic_exchange(&o->st_pass, 0);
	atomic_fetch_add_explicit(&f->kbytes, atomic_exchange(&o->w_bytes, 0), memory_order_relaxed);
	atomic_fetch_add_explicit(&f->st.passthrough, p, memory_order_relaxed);
}

void files_attach(int fd, struct file_key key, const char *path, int flags, struct ofd *pending,
		  struct decision d, const struct file_facts *facts)
{
	SHIM_ASSERT(files_held());
	struct file *f = files_find(key);
	if (!f) {
		if (!(f = file_new(key, path)))
			return;
		HASH_ADD(hh, table, key, sizeof key, f);
		f->reason = d.reason;
		f->threads = (int)facts->threads;
		f->tmpfs = policy_is_memfs(facts->fs_magic);
		f->cached_pct = facts->cached_pct;
		atomic_store_explicit(&f->known_size, facts->size, memory_order_relaxed);
		sample_start(f, false);
		atomic_store(&f->state, d.v == V_WATCH ? FILE_WATCH : FILE_KERNEL);
		sample_pace(f, d.until_moved);
		if (d.v == V_MAP)
			file_map(f, fd, flags, d.advice);
		note_decision(f);
	} else if (atomic_load(&f->state) == FILE_MAPPED &&
		   (uint64_t)facts->size != mmapio_size(f->map)) {
		mmapio_refresh_fd(f->map, fd); /* O_TRUNC, or another writer */
	}
	if (pending) {
		/* Every descriptor that shares the pending description (dups). */
		int hw = fd_highwater();
		for (int i = 0; i <= hw; i++)
			if (fd_get(i) == pending)
				add_fd(f, i);
		adopt_pending_counts(f, pending);
		pending->file = f;
		return;
	}
	struct ofd *o = ofd_alloc();
	if (!o || add_fd(f, fd) < 0) {
		if (o)
			ofd_free(o);
		if (f->nfds == 0)
			file_release(f);
		return;
	}
	o->file = f;
	o->flags = flags;
	atomic_store(&o->refs, 1);
	/* No shadow offset until the map serves a read() or write() through
	 * it (offset_take); until then o->off mirrors the kernel's: 0 after
	 * open. O_APPEND: the kernel chooses every write's offset, for good. */
	atomic_store(&o->off, 0);
	atomic_store(&o->noshadow, (flags & O_APPEND) != 0);
	fd_put(fd, o);
}

void files_on_dup(int newfd, struct ofd *o)
{
	files_lock();
	struct file *f = o->file;
	if (!f || add_fd(f, newfd) == 0) { /* no file yet: pending, or the kernel's */
		atomic_fetch_add(&o->refs, 1);
		fd_put(newfd, o);
	}
	files_unlock();
}

/* Under the lock: o has been taken from fd's entry. */
static void release(struct ofd *o, int fd, bool stale)
{
	SHIM_ASSERT(files_held());
	struct file *f = o->file;
	if (atomic_fetch_sub(&o->refs, 1) == 1) {
		/* Last reference here: the kernel's offset becomes the truth
		 * for whoever else holds this description (SCM_RIGHTS, ...).
		 * Not for a stale entry: that number is another file now. */
		if (!stale)
			offset_sync(o, fd);
		if (f)
			adopt_pending_counts(f, o); /* a count that raced the attach */
		else
			stats_pending_closed(o);
		ofd_free(o);
	}
	if (f) {
		del_fd(f, fd);
		if (f->nfds == 0)
			file_release(f);
	}
}

static void untrack_fd(int fd, bool stale)
{
	struct ofd *o = fd_get(fd);
	if (!o)
		return;
	if (atomic_load(&o->kernel_only)) {
		/* A small file read to its end while pending: no file, no
		 * shadow offset, and none will come, so closing it needs no
		 * lock (fdtable.c). */
		int r = fd_take_nolock(fd, &o);
		if (r == 0 && (!o || atomic_load(&o->kernel_only))) {
			if (o && atomic_fetch_sub(&o->refs, 1) == 1) {
				stats_pending_closed(o);
				ofd_free(o);
			}
			return;
		}
		files_lock();
		struct ofd *again = r < 0 ? fd_take(fd) : NULL; /* a growth raced */
		if (!o)
			o = again;
		if (o)
			release(o, fd, stale);
		files_unlock();
		return;
	}
	files_lock();
	o = fd_take(fd);
	if (o)
		release(o, fd, stale);
	files_unlock();
}

void files_on_close(int fd) { untrack_fd(fd, false); }

/* fd was closed behind our back and the number handed out again. */
void files_forget(int fd) { untrack_fd(fd, true); }

/* ---- size changes ---- */

/*
 * Map writes and size changes must not overlap on one file. When the
 * kernel extends a file (a write past the end, ftruncate up, fallocate) it
 * zeroes the rest of the block that held the old end of file, under its
 * page lock, which a store through a map does not take. A map write into
 * that block, let through because the new size was already visible, can
 * be zeroed a moment later: measured, one 256-byte record in about sixty
 * runs lost with two threads appending through one descriptor. So each
 * file counts map writes in flight and size changes in flight, Dekker
 * style (sequentially consistent): a map write that sees a size change in
 * flight goes to the kernel; a size change waits for map writes in flight
 * to finish. Size changes by processes outside the shim are not covered.
 */
struct file *resize_begin(struct ofd *o)
{
	struct file *f = o ? o->file : NULL;
	/* Any file with a writable map: one just handed back to the kernel
	 * may still have a map write in flight. */
	if (!f || !f->map || !f->writable)
		return NULL;
	atomic_fetch_add(&f->resizing, 1);
	while (atomic_load(&f->map_writers))
		sched_yield(); /* a map write is a copy of at most 2 GiB, usually tiny */
	return f;
}

void resize_end(struct file *f) /* leaves errno alone */
{
	if (f)
		atomic_fetch_sub(&f->resizing, 1);
}



/*
 * Another shim instance changed f's size (coherence.c): follow it, through
 * fd, the descriptor of the call that noticed (open for that call's
 * length). The files lock keeps the map from being closed meanwhile.
 */
void files_follow_other(struct file *f, int fd)
{
	uint64_t g = atomic_load_explicit(&gen_table[f->gen_slot], memory_order_acquire);
	if (!f->map || atomic_load(&f->state) != FILE_MAPPED)
		return;
	files_lock();
	if (f->map && mmapio_refresh_fd(f->map, fd) == 0)
		atomic_store(&f->gen_seen, g);
	files_unlock();
}

/* The size of o's file may have changed through fd: tell the others, follow. */
void files_follow(struct ofd *o, int fd)
{
	struct file *f = o ? o->file : NULL;
	if (!f) {
		struct stat st; /* a description without a file yet (pending) */
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
			files_follow_stat(&st);
		return;
	}
	atomic_store(&f->kdirty, true);
	coherence_bump(f->gen_slot);
	if (!f->map)
		return;
	uint64_t g = atomic_load(&gen_table[f->gen_slot]);
	files_lock();
	if (f->map) {
		if (mmapio_refresh_fd(f->map, fd) == 0)
			atomic_store(&f->gen_seen, g);
		struct stat st;
		if (atomic_load(&f->state) == FILE_MAPPED && f->tmpfs && fstat(fd, &st) == 0 &&
		    (uint64_t)st.st_blocks * 512 < (uint64_t)st.st_size) {
			/* Grown with a hole: from now on the kernel reads it. The
			 * map stays until the last close; shadow offsets still work
			 * (read.c falls back to pread at the shadow offset). */
			file_unmap(f);
			atomic_store(&f->state, FILE_KERNEL);
			f->reason = "sparse file on tmpfs";
			note_decision(f);
		}
	}
	files_unlock();
}

/*
 * After a size change through a descriptor we do not track (O_WRONLY,
 * truncate(2)): the generation table says so, to us as to other shim
 * instances, and the next call on the file follows through its own
 * descriptor (read.c map_of).
 */
void files_follow_stat(const struct stat *st)
{
	coherence_bump_stat(st);
}

/*
 * F_SEAL_WRITE and F_SEAL_FUTURE_WRITE fail with EBUSY while the file has a
 * shared mapping that could be made writable: ours counts (a map through
 * an O_RDWR descriptor has VM_MAYWRITE even when read-only). Let it go.
 */
void files_retire_all(const char *reason)
{
	files_lock();
	for (struct file *f = table; f; f = f->hh.next)
		if (f->map)
			file_retire(f, reason);
	files_unlock();
}

void files_trim_all(void)
{
	files_lock();
	for (struct file *f = table; f; f = f->hh.next)
		if (f->map)
			mmapio_trim_reserve(f->map);
	files_unlock();
}

void files_before_seal(struct ofd *o, long seals)
{
	struct file *f = o->file;
	if (!f || !(seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)))
		return;
	files_lock();
	if (o->file == f && f->map)
		file_retire(f, "sealed against writes");
	files_unlock();
}

void files_drop_pages(struct ofd *o, uint64_t off, uint64_t len)
{
	struct file *f = o->file;
	if (!f || !f->map)
		return;
	files_lock(); /* the map lives while f does; the lock keeps f */
	if (o->file == f && f->map)
		mmapio_advise(f->map, (off_t)off, len > SIZE_MAX ? SIZE_MAX : (size_t)len,
			      MMAPIO_ADV_DONTNEED);
	files_unlock();
}

void files_fold_all(void (*fn)(struct file *))
{
	files_lock();
	/* Calls counted on descriptions first: pending ones have no file. */
	for (int fd = 0, hw = fd_highwater(); fd <= hw; fd++) {
		struct ofd *o = fd_get(fd);
		if (o && o->file)
			adopt_pending_counts(o->file, o);
		else if (o)
			stats_pending_closed(o);
	}
	for (struct file *f = table; f; f = f->hh.next)
		fn(f);
	files_unlock();
}
