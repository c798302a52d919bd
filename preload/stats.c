/*
 * stats.c - what the shim did, for people and for tests.
 *
 * Counters are only touched when MMAPIO_STATS is set (one predictable
 * branch otherwise). Per file, they live in the file's state while it is
 * open and are folded into a record keyed by path when it closes, so a
 * file opened a thousand times is one entry. At exit (and before a
 * successful exec) one JSON object is appended as a single line to the
 * MMAPIO_STATS file, or written to stderr: a process tree adds one line
 * per process image.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "shim.h"

#define MAX_RECORDS 10000 /* beyond: folded into one "(other files)" entry */

struct shim_totals totals;
bool stats_on;

#define HISTORY 8 /* decisions kept per file; more are counted */

struct record {
	char *path;
	const char *decision, *reason;
	uint64_t served, passthrough, bytes, flushed;
	uint64_t sampled, missed;   /* sampled calls, and those whose pages were not cached */
	const char *tier, *advice;  /* how residency was seen; the map's advice */
	struct {
		const char *decision, *reason;
	} history[HISTORY];	    /* the first HISTORY - 1 decisions, then the latest */
	unsigned decisions;
	UT_hash_handle hh;
};
static struct record *records;
static unsigned nrecords;
static pthread_mutex_t rec_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t owner; /* the process whose counters these are */

/*
 * fork: the child starts from zero, so that each line counts the calls of
 * its own process only (a child used to report its parent's counts again,
 * and a tree's lines summed to more than was served). rec_lock is held
 * across fork so that the child never inherits it locked mid-update.
 * Registered before files.c's handlers: the prepare handlers run in the
 * reverse order, so the files lock is taken first, as everywhere else.
 */
#ifdef MMAPIO_DEBUG
static TLS bool rec_held; /* this thread holds rec_lock */
#define REC_LOCK() (pthread_mutex_lock(&rec_lock), rec_held = true)
#define REC_UNLOCK() (rec_held = false, pthread_mutex_unlock(&rec_lock))
#else
#define REC_LOCK() pthread_mutex_lock(&rec_lock)
#define REC_UNLOCK() pthread_mutex_unlock(&rec_lock)
#endif

/* Under rec_lock. */
static void zero_counts(void)
{
#ifdef MMAPIO_DEBUG
	SHIM_ASSERT(rec_held);
#endif
	atomic_store(&totals.served, 0);
	atomic_store(&totals.passthrough, 0);
	atomic_store(&totals.bytes, 0);
	atomic_store(&totals.faults, 0);
	for (struct record *r = records; r; r = r->hh.next)
		r->served = r->passthrough = r->bytes = r->flushed = r->sampled = r->missed = 0;
}

static void fork_prepare(void) { REC_LOCK(); }
static void fork_parent(void) { REC_UNLOCK(); }
static void fork_child(void)
{
	owner = getpid();
	zero_counts();
	REC_UNLOCK();
}

void stats_init(void)
{
	owner = getpid();
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/* False in a vfork child, which shares our memory but is not us. */
bool stats_own_process(void) { return getpid() == owner; }

static struct record *record_get(const char *path)
{
	struct record *r;
	HASH_FIND_STR(records, path, r);
	if (r)
		return r;
	if (nrecords >= MAX_RECORDS)
		path = "(other files)";
	HASH_FIND_STR(records, path, r);
	if (r || !(r = calloc(1, sizeof *r)))
		return r;
	if (!(r->path = strdup(path))) {
		free(r);
		return NULL;
	}
	HASH_ADD_KEYPTR(hh, records, r->path, strlen(r->path), r);
	nrecords++;
	return r;
}

/* Under rec_lock. The same decision again (another open of the file) is not news. */
static void record_decision(struct record *r, const char *decision, const char *reason)
{
#ifdef MMAPIO_DEBUG
	SHIM_ASSERT(rec_held);
#endif
	if (r->decisions && r->decision == decision && r->reason == reason)
		return;
	r->decision = decision;
	r->reason = reason;
	unsigned i = r->decisions < HISTORY ? r->decisions : HISTORY - 1;
	r->history[i].decision = decision;
	r->history[i].reason = reason;
	r->decisions++;
}

void stats_record_decision(const char *path, const char *decision, const char *reason)
{
	if (!stats_on)
		return;
	REC_LOCK();
	struct record *r = record_get(path);
	if (r)
		record_decision(r, decision, reason);
	REC_UNLOCK();
}

/* A description with no file (auto mode's pending ones, closed or at the
 * report): its calls went to the kernel, and count for its path's record. */
void stats_pending_closed(struct ofd *o)
{
	uint64_t p = atomic_exchange(&o->st_pass, 0);
	if (!stats_on || !p)
		return;
	REC_LOCK();
	struct record *r = record_get(o->path ? o->path : "?");
	if (r) {
		r->passthrough += p;
		if (!r->decisions)
			record_decision(r, "kernel", "auto: closed before it was decided");
	}
	REC_UNLOCK();
}

static const char *tier_name(int t)
{
	return t == TIER_CACHESTAT ? "cachestat" : t == TIER_FAULTS ? "major faults" : "none";
}

static const char *advice_name(int a)
{
	return a == MMAPIO_ADV_RANDOM ? "random" : a == MMAPIO_ADV_SEQUENTIAL ? "sequential"
									       : "normal";
}

static void fold(struct file *f)
{
	struct record *r = record_get(f->path ? f->path : "?");
	uint64_t s = atomic_exchange(&f->st.served, 0);
	uint64_t p = atomic_exchange(&f->st.passthrough, 0);
	uint64_t b = atomic_exchange(&f->st.bytes, 0);
	uint64_t fl = 0;
	if (f->map) {
		struct mmapio_stats ms;
		mmapio_get_stats(f->map, &ms);
		fl = ms.flushed_bytes - f->flushed_seen;
		f->flushed_seen = ms.flushed_bytes;
		/* Faults the core recovered (bad buffers, pages lost to truncation). */
		atomic_fetch_add(&totals.faults, ms.faults - f->faults_seen);
		f->faults_seen = ms.faults;
	}
	uint64_t sa = atomic_exchange(&f->sampled, 0), mi = atomic_exchange(&f->missed, 0);
	if (!r)
		return;
	record_decision(r, file_decision(f), f->reason);
	r->sampled += sa;
	r->missed += mi;
	r->tier = tier_name(atomic_load(&f->tier));
	r->advice = f->map ? advice_name(f->advice) : NULL;
	r->flushed += fl;
	r->served += s;
	r->passthrough += p;
	r->bytes += b;
}

/* A fork child's copy of an open file: its counts are the parent's. */
void stats_zero_file(struct file *f)
{
	atomic_store(&f->st.served, 0);
	atomic_store(&f->st.passthrough, 0);
	atomic_store(&f->st.bytes, 0);
	atomic_store(&f->sampled, 0);
	atomic_store(&f->missed, 0);
	if (f->map) {
		struct mmapio_stats ms;
		mmapio_get_stats(f->map, &ms);
		f->flushed_seen = ms.flushed_bytes;
		f->faults_seen = ms.faults;
	}
}

void stats_file_closed(struct file *f)
{
	if (!stats_on)
		return;
	REC_LOCK();
	fold(f);
	REC_UNLOCK();
}

/* A growable output buffer; the report is built in memory, written once. */
struct buf {
	char *p;
	size_t n, cap;
};

static void put(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct buf *b, const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
		va_end(ap);
		if (k < 0)
			return;
		if (b->p && b->n + (size_t)k < b->cap) {
			b->n += (size_t)k;
			return;
		}
		size_t cap = (b->cap + (size_t)k + 1) * 2;
		char *np = realloc(b->p, cap);
		if (!np)
			return;
		b->p = np;
		b->cap = cap;
	}
}

static void put_json_string(struct buf *b, const char *s)
{
	put(b, "\"");
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			put(b, "\\%c", c);
		else if (c < 0x20)
			put(b, "\\u%04x", c);
		else
			put(b, "%c", c);
	}
	put(b, "\"");
}

static const char *mode_name(int m)
{
	return m == MODE_NEVER ? "never" : m == MODE_ALWAYS ? "always" : "auto";
}

void stats_write(void)
{
	if (!stats_on || !cfg.stats)
		return;
	struct buf b = { 0 };
	files_fold_all(stats_file_closed); /* lock order: files, then records */
	REC_LOCK();
	uint64_t flushed = 0;
	for (struct record *r = records; r; r = r->hh.next)
		flushed += r->flushed;
	put(&b, "{\"pid\":%d,\"mode\":\"%s\",\"served_calls\":%lu,\"passthrough_calls\":%lu,"
		"\"bytes_served\":%lu,\"faults_recovered\":%lu,\"flushed_bytes\":%lu,\"files\":[",
	    (int)getpid(), mode_name(cfg.mode), (unsigned long)atomic_load(&totals.served),
	    (unsigned long)atomic_load(&totals.passthrough),
	    (unsigned long)atomic_load(&totals.bytes), (unsigned long)atomic_load(&totals.faults),
	    (unsigned long)flushed);
	const char *sep = "";
	for (struct record *r = records; r; r = r->hh.next) {
		put(&b, "%s{\"path\":", sep);
		put_json_string(&b, r->path);
		put(&b, ",\"decision\":");
		put_json_string(&b, r->decision ? r->decision : "kernel");
		put(&b, ",\"reason\":");
		put_json_string(&b, r->reason ? r->reason : "");
		put(&b, ",\"served_calls\":%lu,\"passthrough_calls\":%lu,\"bytes_served\":%lu,"
			"\"flushed_bytes\":%lu,\"sampled_calls\":%lu,\"sampled_misses\":%lu",
		    (unsigned long)r->served, (unsigned long)r->passthrough,
		    (unsigned long)r->bytes, (unsigned long)r->flushed, (unsigned long)r->sampled,
		    (unsigned long)r->missed);
		if (r->sampled) {
			put(&b, ",\"residency\":");
			put_json_string(&b, r->tier);
		}
		if (r->advice) {
			put(&b, ",\"advice\":");
			put_json_string(&b, r->advice);
		}
		put(&b, ",\"decisions\":%u,\"history\":[", r->decisions);
		unsigned kept = r->decisions < HISTORY ? r->decisions : HISTORY;
		for (unsigned i = 0; i < kept; i++) {
			put(&b, "%s{\"decision\":", i ? "," : "");
			put_json_string(&b, r->history[i].decision);
			put(&b, ",\"reason\":");
			put_json_string(&b, r->history[i].reason);
			put(&b, "}");
		}
		put(&b, "]}");
		sep = ",";
	}
	put(&b, "]}\n");
	REC_UNLOCK();
	if (!b.p)
		return;

	int fd = 2;
	if (strcmp(cfg.stats, "stderr") != 0)
		fd = REAL(open)(cfg.stats, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd >= 0) {
		for (size_t off = 0; off < b.n;) {
			ssize_t k = REAL(write)(fd, b.p + off, b.n - off);
			if (k <= 0)
				break;
			off += (size_t)k;
		}
		if (fd != 2)
			REAL(close)(fd);
	} else {
		shim_log(LOG_WARN, "cannot write stats to %s: %s", cfg.stats, strerror(errno));
	}
	free(b.p);
}

void stats_reset(void)
{
	REC_LOCK();
	zero_counts();
	REC_UNLOCK();
}
