/*
 * decide.c - the first decision on a descriptor: track it or not, map its
 * file or not.
 *
 * Auto mode decides lazily: a new descriptor costs nothing at open (not
 * even an fstat). It gets a "pending" description whose calls the kernel
 * serves while pattern.c counts them; a read-only one that reaches the end
 * of a file smaller than MMAPIO_MIN_SIZE is left alone for good, and one
 * used WATCH_CALLS times is decided then (files_decide_pending). This
 * keeps open-read-close of many small files at the kernel's cost.
 *
 * The other modes, and opens auto mode cannot leave pending (O_TRUNC, a
 * write-only descriptor), are decided at open.
 *
 * Deciding gathers the facts cheaply first: the size and thread rules
 * need nothing but fstat. Only a file that may still be mapped costs
 * fstatfs and the glob match, and only one the policy would map costs, in
 * auto mode, the memory room (memory.c) and how much of the file is
 * cached (residency.c): see decide_costly().
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include "shim.h"

bool never_path(const char *path)
{
	/* Asked at every open in auto mode: the first two bytes settle most. */
	if (path[0] != '/' || (path[1] != 'p' && path[1] != 's' && path[1] != 'd'))
		return false;
	return !strncmp(path, "/proc/", 6) || !strncmp(path, "/sys/", 5) ||
	       !strncmp(path, "/dev/", 5);
}

/* What fstat says, and the calls a pending description has seen. */
static struct file_facts first_facts(const struct stat *st, int flags, const struct ofd *pending)
{
	struct file_facts f = {
		.regular = true,
		.selected = true,
		.writable = (flags & O_ACCMODE) == O_RDWR,
		.size = (uint64_t)st->st_size,
		.threads = cfg.mode == MODE_AUTO ? proc_threads() : 1,
		.room = UINT64_MAX,
		.cached_pct = -1,
		.clean_need = 0,
	};
	if (pending) {
		f.calls = atomic_load(&pending->w_calls);
		f.small = atomic_load(&pending->w_small);
		f.seq = atomic_load(&pending->w_seq);
		f.bytes = f.moved = atomic_load(&pending->w_bytes);
	}
	return f;
}

/* The facts that cost more than fstat, for a file that may be mapped. */
static bool more_facts(int fd, const char *path, const struct stat *st, struct file_facts *f)
{
	struct statfs sf;
	const char *why = NULL;
	if (fstatfs(fd, &sf) < 0)
		return false;
	f->fs_magic = (long)sf.f_type;
	f->sparse = (uint64_t)st->st_blocks * 512 < (uint64_t)st->st_size;
	f->selected = policy_selected(fd, path, &why);
	f->unselected_why = why;
	return true;
}

/*
 * The facts that cost most can only turn a map into a watch (policy.c's
 * memory and page-cache rules): the room the page cache has (a walk of
 * the process's memory cgroups and /proc/meminfo) and, at the first
 * decision, the share of the file that is cached (cachestat of eight
 * ranges). So they are gathered only when the policy would map: a file
 * the pattern keeps with the kernel (read once, in order) never pays
 * them. Measured: the first decision of a process went from ~240 us to
 * ~XX us for such a file.
 */
struct decision decide_costly(struct file_facts *f, int fd, bool first)
{
	struct decision d = policy_decide(&cfg, f);
	if (d.v != V_MAP || cfg.mode != MODE_AUTO)
		return d;
	f->room = memory_room();
	if (first)
		f->cached_pct = residency_percent(fd, f->size);
	return policy_decide(&cfg, f);
}

static struct decision decide(int fd, const char *path, const struct stat *st,
			      struct file_facts *facts)
{
	struct decision d = policy_decide(&cfg, facts);
	if (d.v != V_KERNEL) {
		if (!more_facts(fd, path, st, facts))
			return (struct decision){ .v = V_KERNEL, .reason = "fstatfs failed", .advice = -1 };
		d = decide_costly(facts, fd, true);
	}
	if (d.v != V_KERNEL && path && never_path(path)) /* e.g. /dev/shm files are regular */
		d = (struct decision){ .v = V_KERNEL, .reason = "system path", .advice = -1 };
	return d;
}

/*
 * A pending description decided "kernel" with no file to track: from now
 * on its calls take the kernel_only path, and stats fold its counts into
 * the file's record at close.
 */
static void leave_to_kernel(struct ofd *pending, const char *path, struct decision d)
{
	stats_record_decision(path ? path : "?", "kernel", d.reason);
	shim_log(LOG_INFO, "%s: kernel (%s)", path ? path : "?", d.reason);
	if (pending)
		atomic_store(&pending->kernel_only, true);
}

/*
 * Decide on the file behind fd and attach a description to it: `pending`
 * when a pending description has been watched (auto mode), else a new one.
 * Under no lock; takes it.
 */
static void decide_and_attach(int fd, const char *path, int flags, struct ofd *pending)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		if (pending)
			atomic_store(&pending->kernel_only, true);
		return;
	}
	/* Never: no read access, O_PATH (no I/O at all), O_DIRECT (the
	 * program wants to bypass the page cache). A truncating open of a
	 * file we map elsewhere still changes its size. */
	if ((flags & O_ACCMODE) == O_WRONLY || (flags & (O_PATH | O_DIRECT))) {
		if (flags & O_TRUNC)
			files_follow_stat(&st);
		return;
	}
	struct file_facts facts = first_facts(&st, flags, pending);
	struct decision d = decide(fd, path, &st, &facts);
	if (flags & O_TRUNC)
		coherence_bump_stat(&st);
	struct file_key key = { st.st_dev, st.st_ino };
	files_lock();
	if (!files_find(key) && d.v == V_KERNEL) {
		/*
		 * The kernel serves it for good: do not track it, so its calls
		 * cost one table lookup, like a pipe's (the many-small-files
		 * case).
		 */
		leave_to_kernel(pending, path, d);
	} else {
		files_attach(fd, key, path, flags, pending, d, &facts);
	}
	files_unlock();
}

/*
 * Auto mode: a descriptor costs nothing at open; see the top. No lock:
 * this is every open of every small file (fdtable.c).
 */
static bool open_pending(int fd, const char *path, int flags)
{
	if (cfg.mode != MODE_AUTO || (flags & (O_TRUNC | O_PATH | O_DIRECT | O_DIRECTORY)) ||
	    (flags & O_ACCMODE) == O_WRONLY || (path && never_path(path)))
		return false;
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
	if (stats_on) /* where its counts go, for a report that takes no lock (stats.c) */
		atomic_store(&o->stat_rec, stats_record_of(path));
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
		decide_and_attach(fd, path, flags, NULL);
}

/* A pending description has been used often enough: decide now. */
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
	decide_and_attach(fd, path, o->flags, o);
}
