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
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include "shim.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct file *table;
static struct file *free_files;

void files_lock(void) { pthread_mutex_lock(&lock); }
void files_unlock(void) { pthread_mutex_unlock(&lock); }

static void fork_prepare(void) { files_lock(); }
static void fork_release(void) { files_unlock(); }

void files_init(void)
{
	pthread_atfork(fork_prepare, fork_release, fork_release);
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

/* Map f from fd; records the decision either way. Under lock. */
static void file_map(struct file *f, int fd, int flags)
{
	struct mmapio_opts o = { 0 };
	bool rw = cfg.writes_map && (flags & O_ACCMODE) == O_RDWR;
	o.flags = MMAPIO_F_BORROW_FD | MMAPIO_F_DEFER_UNMAP;
	o.reserve = cfg.reserve;
	int rc = mmapio_open_fd(&f->map, fd, rw ? MMAPIO_RDWR : MMAPIO_RDONLY, &o);
	if (rc < 0) {
		f->map = NULL;
		f->decision = "kernel";
		f->reason = "mmap failed";
		shim_log(LOG_INFO, "%s: not mapped: %s", f->path, mmapio_strerror(rc));
		return;
	}
	f->writable = rw;
	f->bound_fd = fd;
}

static bool never_path(const char *path)
{
	return !strncmp(path, "/proc/", 6) || !strncmp(path, "/sys/", 5) ||
	       !strncmp(path, "/dev/", 5);
}

void files_on_open(int fd, const char *path, int flags)
{
	struct stat st;
	struct statfs sf;

	if (fd < 0 || cfg.mode == MODE_NEVER)
		return;
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
	if (fstatfs(fd, &sf) < 0)
		return;

	struct file_facts facts = { .path = path, .fd = fd, .flags = flags, .regular = true,
				    .fs_magic = (long)sf.f_type, .size = (uint64_t)st.st_size };
	struct decision d = policy_decide(&facts);
	if (path && never_path(path)) /* e.g. /dev/shm files are regular */
		d = (struct decision){ false, "system path" };

	files_lock();
	struct file_key key = { st.st_dev, st.st_ino };
	struct file *f;
	HASH_FIND(hh, table, &key, sizeof key, f);
	if (!f) {
		if (!(f = file_new(key, path)))
			goto out;
		HASH_ADD(hh, table, key, sizeof key, f);
		f->decision = d.map ? "map" : "kernel";
		f->reason = d.reason;
		if (d.map)
			file_map(f, fd, flags);
		stats_record_decision(f->path, f->decision, f->reason);
		shim_log(LOG_INFO, "%s: %s (%s)", f->path, f->decision, f->reason);
	} else if (f->map && (uint64_t)st.st_size != mmapio_size(f->map)) {
		mmapio_rebind_fd(f->map, fd); /* O_TRUNC, or another writer */
		mmapio_refresh(f->map);
		mmapio_rebind_fd(f->map, f->bound_fd);
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
	/* The shadow offset starts where the kernel's is: 0 after open. */
	atomic_store(&o->off, 0);
	atomic_store(&o->shadow, f->map != NULL && !(flags & O_APPEND));
	fd_put(fd, o);
out:
	files_unlock();
}

void files_on_dup(int newfd, struct ofd *o)
{
	files_lock();
	struct file *f = o->file;
	if (f && add_fd(f, newfd) == 0) {
		atomic_fetch_add(&o->refs, 1);
		fd_put(newfd, o);
	}
	files_unlock();
}

void files_on_close(int fd)
{
	if (!fd_get(fd))
		return;
	files_lock();
	struct ofd *o = fd_take(fd);
	if (!o) {
		files_unlock();
		return;
	}
	struct file *f = o->file;
	if (atomic_fetch_sub(&o->refs, 1) == 1) {
		/* Last reference here: the kernel's offset becomes the truth
		 * for whoever else holds this description (SCM_RIGHTS, ...). */
		offset_sync(o, fd);
		ofd_free(o);
	}
	if (f) {
		del_fd(f, fd);
		if (f->nfds == 0) {
			file_release(f);
		} else if (f->map && f->bound_fd == fd) {
			f->bound_fd = pick_fd(f, fd);
			mmapio_rebind_fd(f->map, f->bound_fd);
		}
	}
	files_unlock();
}

void files_refresh(struct ofd *o, int fd)
{
	struct file *f = o ? o->file : NULL;
	if (!f || !f->map)
		return;
	files_lock();
	if (f->map) {
		mmapio_rebind_fd(f->map, fd);
		mmapio_refresh(f->map);
		mmapio_rebind_fd(f->map, f->bound_fd);
	}
	files_unlock();
}

/* After a size change through a descriptor we do not track (O_WRONLY, truncate(2)). */
void files_refresh_stat(const struct stat *st)
{
	if (!table)
		return;
	files_lock();
	struct file_key key = { st->st_dev, st->st_ino };
	struct file *f;
	HASH_FIND(hh, table, &key, sizeof key, f);
	if (f && f->map && (uint64_t)st->st_size != mmapio_size(f->map))
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
