/*
 * files.c - one mapping per file, shared by every descriptor of it.
 *
 * A file is identified by (st_dev, st_ino) in a uthash table guarded by one
 * mutex, taken at open, dup and close only. The map borrows one of the
 * program's own descriptors (MMAPIO_F_BORROW_FD) instead of opening the
 * file again: an extra descriptor would change the numbers open() returns
 * and count against the program's limit. Before that descriptor is closed
 * the map is rebound to another one of the same file; when the last goes,
 * the map is closed with MMAPIO_F_DEFER_UNMAP so that a reader racing the
 * close cannot crash.
 *
 * File structures are recycled, never freed, for the same reason.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include "shim.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct file *table;
static struct file *free_files;

/*
 * Holding the lock also marks the thread busy: an open() or close() the
 * core makes while we map a file (it may read sysfs) passes straight
 * through instead of coming back here for the lock.
 */
void files_lock(void)
{
	shim_busy++;
	pthread_mutex_lock(&lock);
}

void files_unlock(void)
{
	pthread_mutex_unlock(&lock);
	shim_busy--;
}

static void fork_prepare(void) { pthread_mutex_lock(&lock); }
static void fork_parent(void) { pthread_mutex_unlock(&lock); }
static void fork_child(void)
{
	if (stats_on) /* the child counts its own calls only (stats.c) */
		for (struct file *f = table; f; f = f->hh.next)
			stats_zero_file(f);
	pthread_mutex_unlock(&lock);
}

void files_init(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

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

/* Another descriptor of f to borrow, preferring one the map's mode allows. */
static int pick_fd(struct file *f, int except)
{
	int any = -1;
	for (int i = 0; i < f->nfds; i++) {
		int fd = f->fds[i];
		if (fd == except)
			continue;
		struct ofd *o = fd_get(fd);
		if (!f->writable || (o && (o->flags & O_ACCMODE) == O_RDWR))
			return fd;
		any = fd;
	}
	return any;
}

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
	f->bound_fd = -1;
	return f;
}

static void file_release(struct file *f)
{
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

/* Map f through fd (or another of its descriptors). Under lock. */
static bool file_map(struct file *f, int fd, int flags)
{
	struct mmapio_opts o = { 0 };
	int wfd = rw_fd(f, fd, flags);
	if (wfd >= 0)
		fd = wfd;
	o.flags = MMAPIO_F_BORROW_FD | MMAPIO_F_DEFER_UNMAP;
	/* close(2) does not write back; neither do we, unless the user asked
	 * for periodic flushing, which bounds loss at close too. */
	if (!cfg.flush_ms)
		o.flags |= MMAPIO_F_NO_CLOSE_FLUSH;
	o.reserve = cfg.reserve;
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
		f->reason = "mmap failed";
		shim_log(LOG_INFO, "%s: not mapped: %s", f->path, mmapio_strerror(rc));
		return false;
	}
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
	f->map = m;
	f->writable = wfd >= 0;
	f->bound_fd = fd;
	atomic_store_explicit(&f->state, FILE_MAPPED, memory_order_release);
	return true;
}

/* While auto mode watches a file the kernel serves it: "kernel", and the reason says so. */
const char *file_decision(const struct file *f)
{
	return atomic_load(&((struct file *)f)->state) == FILE_MAPPED ? "map" : "kernel";
}

static void note_decision(struct file *f)
{
	const char *name = file_decision(f);
	stats_record_decision(f->path, name, f->reason);
	shim_log(LOG_INFO, "%s: %s (%s)", f->path, name, f->reason);
}

void files_promote(struct ofd *o, int fd, struct decision d)
{
	struct file *f = o->file;
	files_lock();
	if (f && o->file == f && atomic_load(&f->state) == FILE_WATCH) {
		const char *before = f->reason;
		f->reason = d.reason;
		if (d.v == V_MAP)
			file_map(f, fd, o->flags);
		else if (d.v == V_KERNEL)
			atomic_store(&f->state, FILE_KERNEL); /* e.g. too many threads now */
		if (before != f->reason)
			note_decision(f);
	}
	files_unlock();
}

static bool never_path(const char *path)
{
	/* Asked at every open in auto mode: the first two bytes settle most. */
	if (path[0] != '/' || (path[1] != 'p' && path[1] != 's' && path[1] != 'd'))
		return false;
	return !strncmp(path, "/proc/", 6) || !strncmp(path, "/sys/", 5) ||
	       !strncmp(path, "/dev/", 5);
}

/*
 * Decide on the file behind fd and attach a description to it: `o` when a
 * pending description has been watched (auto mode), else a new one.
 * calls/small: the reads watched so far. Under no lock; takes it.
 */
static void decide_and_attach(int fd, const char *path, int flags, struct ofd *pending,
			      uint32_t calls, uint32_t small)
{
	struct stat st;
	struct statfs sf;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	/* Never: no read access, O_PATH (no I/O at all), O_DIRECT (the
	 * program wants to bypass the page cache). A truncating open of a
	 * file we map elsewhere still changes its size. */
	if ((flags & O_ACCMODE) == O_WRONLY || (flags & (O_PATH | O_DIRECT))) {
		if (flags & O_TRUNC)
			files_refresh_stat(&st);
		return;
	}
	/*
	 * Decide cheaply first: the size and thread rules need nothing more
	 * than fstat. Only a file that may be mapped costs the fstatfs and
	 * the glob match (they can only turn a "map" into "kernel").
	 */
	struct file_facts facts = {
		.regular = true,
		.selected = true,
		.size = (uint64_t)st.st_size,
		.threads = cfg.mode == MODE_AUTO ? policy_threads() : 1,
		.calls = calls,
		.small = small,
	};
	struct decision d = policy_decide(&cfg, &facts);
	if (d.v != V_KERNEL) {
		const char *why = NULL;
		if (fstatfs(fd, &sf) < 0)
			return;
		facts.fs_magic = (long)sf.f_type;
		facts.sparse = (uint64_t)st.st_blocks * 512 < (uint64_t)st.st_size;
		facts.selected = policy_selected(fd, path, &why);
		facts.unselected_why = why;
		d = policy_decide(&cfg, &facts);
	}
	if (d.v != V_KERNEL && path && never_path(path)) /* e.g. /dev/shm files are regular */
		d = (struct decision){ V_KERNEL, "system path" };

	if (flags & O_TRUNC)
		coherence_bump_stat(&st);
	files_lock();
	struct file_key key = { st.st_dev, st.st_ino };
	struct file *f;
	HASH_FIND(hh, table, &key, sizeof key, f);
	if (!f && d.v == V_KERNEL) {
		/*
		 * The kernel serves it for good: do not track it at all, so its
		 * calls cost one table lookup, like a pipe's (the many-small-
		 * files case). Its passthrough calls are then not counted.
		 */
		stats_record_decision(path ? path : "?", "kernel", d.reason);
		shim_log(LOG_INFO, "%s: kernel (%s)", path ? path : "?", d.reason);
		goto out;
	}
	if (!f) {
		if (!(f = file_new(key, path)))
			goto out;
		HASH_ADD(hh, table, key, sizeof key, f);
		f->reason = d.reason;
		f->threads = (int)facts.threads;
		f->tmpfs = (unsigned long)facts.fs_magic == 0x01021994UL;
		atomic_store(&f->state, d.v == V_WATCH ? FILE_WATCH : FILE_KERNEL);
		if (d.v == V_MAP)
			file_map(f, fd, flags);
		note_decision(f);
	} else if (atomic_load(&f->state) == FILE_MAPPED &&
		   (uint64_t)st.st_size != mmapio_size(f->map)) {
		mmapio_rebind_fd(f->map, fd); /* O_TRUNC, or another writer */
		mmapio_refresh(f->map);
		mmapio_rebind_fd(f->map, f->bound_fd);
	}
	if (pending) {
		/* Every descriptor that shares the pending description (dups). */
		int hw = fd_highwater();
		for (int i = 0; i <= hw; i++)
			if (fd_get(i) == pending)
				add_fd(f, i);
		pending->file = f;
		goto out;
	}
	struct ofd *o = ofd_alloc();
	if (!o || add_fd(f, fd) < 0) {
		if (o)
			ofd_free(o);
		if (f->nfds == 0)
			file_release(f);
		goto out;
	}
	o->file = f;
	o->flags = flags;
	atomic_store(&o->refs, 1);
	/* The shadow offset starts where the kernel's is: 0 after open.
	 * O_APPEND: the kernel chooses every write's offset, so it keeps it. */
	atomic_store(&o->off, 0);
	atomic_store(&o->noshadow, (flags & O_APPEND) != 0);
	atomic_store(&o->shadow, atomic_load(&f->state) == FILE_MAPPED && !(flags & O_APPEND));
	fd_put(fd, o);
out:
	files_unlock();
}

/*
 * Auto mode: a descriptor costs nothing at open (no fstat): it gets a
 * pending description whose reads the kernel serves while we count them
 * (pattern.c). A file that reaches its end below MMAPIO_MIN_SIZE is left
 * alone for good; one read WATCH_CALLS times is decided then, with fstat.
 * This keeps open-read-close of many small files at the kernel's cost.
 */
static bool open_pending(int fd, const char *path, int flags)
{
	if (cfg.mode != MODE_AUTO || (flags & (O_TRUNC | O_PATH | O_DIRECT | O_DIRECTORY)) ||
	    (flags & O_ACCMODE) == O_WRONLY || (path && never_path(path)))
		return false;
	/* No lock: this is every open of every small file (fdtable.c). */
	struct ofd *o = ofd_alloc();
	if (!o)
		return false;
	o->flags = flags;
	atomic_store(&o->pending, true);
	atomic_store(&o->refs, 1);
	atomic_store(&o->off, 0); /* mirrors the kernel's offset while pending */
	atomic_store(&o->noshadow, (flags & O_APPEND) != 0);
	o->path = (cfg.include || cfg.exclude || stats_on || cfg.log_level >= LOG_INFO) && path
			  ? strdup(path)
			  : NULL;
	if (fd_put_nolock(fd, o) == 0)
		return true;
	files_lock();
	int r = fd_put(fd, o);
	files_unlock();
	if (r < 0)
		ofd_free(o);
	return r == 0;
}

void files_on_open(int fd, const char *path, int flags)
{
	if (fd < 0 || cfg.mode == MODE_NEVER)
		return;
	if (!open_pending(fd, path, flags))
		decide_and_attach(fd, path, flags, NULL, 0, 0);
}

/* A pending description has been read often enough: decide now. */
void files_decide_pending(struct ofd *o, int fd)
{
	char link[64], buf[4096];
	const char *path = o->path;
	if (!path) {
		snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
		ssize_t n = readlink(link, buf, sizeof buf - 1);
		buf[n > 0 ? n : 0] = 0;
		path = buf;
	}
	decide_and_attach(fd, path, o->flags, o, atomic_load(&o->w_calls), atomic_load(&o->w_small));
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
	struct file *f = o->file;
	if (atomic_fetch_sub(&o->refs, 1) == 1) {
		/* Last reference here: the kernel's offset becomes the truth
		 * for whoever else holds this description (SCM_RIGHTS, ...).
		 * Not for a stale entry: that number is another file now. */
		if (!stale)
			offset_sync(o, fd);
		ofd_free(o);
	}
	if (f) {
		del_fd(f, fd);
		if (f->nfds == 0) {
			file_release(f);
		} else if (atomic_load(&f->state) == FILE_MAPPED && f->bound_fd == fd) {
			f->bound_fd = pick_fd(f, fd);
			mmapio_rebind_fd(f->map, f->bound_fd);
		}
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
			if (o && atomic_fetch_sub(&o->refs, 1) == 1)
				ofd_free(o);
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

/*
 * Another shim instance changed f's size (coherence.c): follow it. No
 * files lock: mmapio_refresh() takes the map's own, and runs through the
 * descriptor the map is bound to, which is open while f is.
 */
void files_resync(struct file *f)
{
	uint64_t g = atomic_load_explicit(&gen_table[f->gen_slot], memory_order_acquire);
	mmapio_map *m = f->map;
	if (m && atomic_load(&f->state) == FILE_MAPPED && mmapio_refresh(m) == 0)
		atomic_store(&f->gen_seen, g);
}

/* The size of o's file may have changed through fd: tell the others, follow. */
void files_refresh(struct ofd *o, int fd)
{
	struct file *f = o ? o->file : NULL;
	if (!f) {
		struct stat st; /* a description without a file yet (pending) */
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
			files_refresh_stat(&st);
		return;
	}
	atomic_store(&f->kdirty, true);
	coherence_bump(f->gen_slot);
	if (atomic_load(&f->state) != FILE_MAPPED)
		return;
	uint64_t g = atomic_load(&gen_table[f->gen_slot]);
	files_lock();
	if (atomic_load(&f->state) == FILE_MAPPED) {
		mmapio_rebind_fd(f->map, fd);
		if (mmapio_refresh(f->map) == 0)
			atomic_store(&f->gen_seen, g);
		mmapio_rebind_fd(f->map, f->bound_fd);
		struct stat st;
		if (f->tmpfs && fstat(fd, &st) == 0 &&
		    (uint64_t)st.st_blocks * 512 < (uint64_t)st.st_size) {
			/* Grown with a hole: from now on the kernel reads it. The
			 * map stays until the last close; shadow offsets still work
			 * (read.c falls back to pread at the shadow offset). */
			atomic_store(&f->state, FILE_KERNEL);
			f->reason = "sparse file on tmpfs";
			note_decision(f);
		}
	}
	files_unlock();
}

/* After a size change through a descriptor we do not track (O_WRONLY, truncate(2)). */
void files_refresh_stat(const struct stat *st)
{
	coherence_bump_stat(st);
	if (!table)
		return;
	files_lock();
	struct file_key key = { st->st_dev, st->st_ino };
	struct file *f;
	HASH_FIND(hh, table, &key, sizeof key, f);
	if (f && atomic_load(&f->state) == FILE_MAPPED &&
	    (uint64_t)st->st_size != mmapio_size(f->map))
		mmapio_refresh(f->map); /* through the bound fd: same file */
	files_unlock();
}

void files_fold_all(void (*fn)(struct file *))
{
	files_lock();
	for (struct file *f = table; f; f = f->hh.next)
		fn(f);
	files_unlock();
}
