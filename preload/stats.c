/*
 * stats.c - what the shim did, for people and for tests.
 *
 * Counters are only touched when MMAPIO_STATS is set (one predictable
 * branch otherwise). Per file, they live in the file's state while it is
 * open and are folded into a record keyed by path when it closes, so a
 * file opened a thousand times is one entry. One JSON object is appended
 * as a single line to the MMAPIO_STATS file, or written to stderr, when
 * the process ends (exit, _exit, _Exit, quick_exit, a fatal signal:
 * exitreport.c) and before a successful exec: a process tree adds one
 * line per process image.
 *
 * The report is built without malloc, stdio or locks, so that it can be
 * made where the process may be anywhere (an _exit called from a signal
 * handler, a fatal signal): records are allocated when a decision is
 * recorded (never at report time), published with a release store and
 * never freed or moved, and their counters are atomic; each path is
 * stored already escaped for JSON. A report on the way out that cannot
 * take the files lock adds the counts of files still open by walking the
 * descriptor table (lock-free, its entries are never freed). Memory for
 * the line comes from mmap; the stats file is opened with open(2) and
 * written with one write(2), as before.
 *
 * Bound: MAX_RECORDS paths per process; later files are counted together
 * in one "(other files)" record.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "shim.h"

#define MAX_RECORDS 10000 /* beyond: folded into one "(other files)" entry */
#define HISTORY 8	  /* decisions kept per file (the first 7, the latest); more are counted */

struct shim_totals totals;
bool stats_on;

static const char closed_undecided[] = "auto: closed before it was decided";

struct stat_record {
	unsigned id;		     /* index in recs[] */
	char *path;		     /* the hash key */
	char *json;		     /* the path as a JSON string, quotes included */
	size_t json_len;
	_Atomic uint64_t served, passthrough, bytes, flushed;
	_Atomic uint64_t sampled, missed; /* sampled calls, and those whose pages were not cached */
	_Atomic int tier;	     /* TIER_*: how residency was seen */
	_Atomic int advice;	     /* the map's MMAPIO_ADV_*, or -1: never mapped */
	_Atomic unsigned decisions;  /* published after the history entry it counts */
	/*
	 * The first HISTORY - 1 decisions, then the latest in one of the two
	 * last entries, alternately: a report that interrupts a change still
	 * reads a whole (decision, reason) pair, the one the count names.
	 */
	struct {
		_Atomic(const char *) decision, reason;
	} history[HISTORY + 1];
	UT_hash_handle hh;
};

/* Writers (decisions, new records) hold rec_lock; reports read recs[] without it. */
static struct stat_record *records; /* by path, under rec_lock */
static struct stat_record *recs[MAX_RECORDS + 1];
static _Atomic unsigned nrecs;
static _Atomic size_t json_bytes;   /* the paths' JSON, summed: the report's size */
static pthread_mutex_t rec_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t owner; /* the process whose counters these are */
#ifdef MMAPIO_DEBUG
static TLS bool rec_held; /* this thread holds rec_lock */
#define REC_LOCK() (pthread_mutex_lock(&rec_lock), rec_held = true)
#define REC_UNLOCK() (rec_held = false, pthread_mutex_unlock(&rec_lock))
#define REC_HELD() SHIM_ASSERT(rec_held)
#else
#define REC_LOCK() pthread_mutex_lock(&rec_lock)
#define REC_UNLOCK() pthread_mutex_unlock(&rec_lock)
#define REC_HELD() ((void)0)
#endif

/*
 * Who is writing the line of this process image: 0 nobody yet, a thread
 * id while one does, -1 written. The line is written once, by whoever
 * comes first: exit, _exit, a fatal signal.
 */
static _Atomic int report_state;

/* Under rec_lock. */
static void zero_counts(void)
{
	REC_HELD();
	atomic_store(&totals.served, 0);
	atomic_store(&totals.passthrough, 0);
	atomic_store(&totals.bytes, 0);
	atomic_store(&totals.faults, 0);
	unsigned n = atomic_load_explicit(&nrecs, memory_order_acquire);
	for (unsigned i = 0; i < n; i++) {
		struct stat_record *r = recs[i];
		atomic_store(&r->served, 0);
		atomic_store(&r->passthrough, 0);
		atomic_store(&r->bytes, 0);
		atomic_store(&r->flushed, 0);
		atomic_store(&r->sampled, 0);
		atomic_store(&r->missed, 0);
	}
}

/*
 * fork: the child starts from zero, so that each line counts the calls of
 * its own process only (a child used to report its parent's counts again,
 * and a tree's lines summed to more than was served). rec_lock is held
 * across fork so that the child never inherits it locked mid-update.
 * Registered before files.c's handlers: the prepare handlers run in the
 * reverse order, so the files lock is taken first, as everywhere else.
 */
static void fork_prepare(void) { REC_LOCK(); }
static void fork_parent(void) { REC_UNLOCK(); }
static void fork_child(void)
{
	owner = getpid();
	atomic_store(&report_state, 0);
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

/* ---- records ---- */

static size_t json_escape(char *out, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;
	out[n++] = '"';
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			out[n++] = '\\';
			out[n++] = (char)c;
		} else if (c < 0x20) {
			memcpy(out + n, "\\u00", 4);
			out[n + 4] = hex[c >> 4];
			out[n + 5] = hex[c & 15];
			n += 6;
		} else {
			out[n++] = (char)c;
		}
	}
	out[n++] = '"';
	out[n] = 0;
	return n;
}

/* Under rec_lock. */
static struct stat_record *record_get(const char *path)
{
	REC_HELD();
	struct stat_record *r;
	HASH_FIND_STR(records, path, r);
	if (r)
		return r;
	unsigned n = atomic_load_explicit(&nrecs, memory_order_relaxed);
	if (n >= MAX_RECORDS)
		path = "(other files)";
	HASH_FIND_STR(records, path, r);
	if (r || n > MAX_RECORDS || !(r = calloc(1, sizeof *r)))
		return r;
	size_t len = strlen(path);
	r->path = strdup(path);
	r->json = malloc(6 * len + 3);
	if (!r->path || !r->json) {
		free(r->path);
		free(r->json);
		free(r);
		return NULL;
	}
	r->json_len = json_escape(r->json, path);
	r->id = n;
	atomic_init(&r->advice, -1);
	atomic_init(&r->tier, TIER_UNKNOWN);
	HASH_ADD_KEYPTR(hh, records, r->path, len, r);
	atomic_fetch_add_explicit(&json_bytes, r->json_len, memory_order_relaxed);
	recs[n] = r;
	atomic_store_explicit(&nrecs, n + 1, memory_order_release);
	return r;
}

/* The latest decision of d (d > 0) recorded: its history entry. */
static unsigned latest(unsigned d)
{
	return d - 1 < HISTORY - 1 ? d - 1 : HISTORY - 1 + ((d - 1) & 1);
}

/* Under rec_lock. The same decision again (another open of the file) is not news. */
static void record_decision(struct stat_record *r, const char *decision, const char *reason)
{
	REC_HELD();
	unsigned d = atomic_load_explicit(&r->decisions, memory_order_relaxed);
	if (d) {
		unsigned l = latest(d);
		if (atomic_load_explicit(&r->history[l].decision, memory_order_relaxed) == decision &&
		    atomic_load_explicit(&r->history[l].reason, memory_order_relaxed) == reason)
			return;
	}
	unsigned i = latest(d + 1);
	atomic_store_explicit(&r->history[i].decision, decision, memory_order_relaxed);
	atomic_store_explicit(&r->history[i].reason, reason, memory_order_relaxed);
	atomic_store_explicit(&r->decisions, d + 1, memory_order_release);
}

void stats_record_decision(const char *path, const char *decision, const char *reason)
{
	if (!stats_on)
		return;
	REC_LOCK();
	struct stat_record *r = record_get(path);
	if (r)
		record_decision(r, decision, reason);
	REC_UNLOCK();
}

/* A file's decision (files.c): also where its record is, for reports on the way out. */
void stats_file_decision(struct file *f, const char *decision)
{
	if (!stats_on)
		return;
	REC_LOCK();
	struct stat_record *r = record_get(f->path ? f->path : "?");
	if (r) {
		record_decision(r, decision, f->reason);
		atomic_store_explicit(&f->stat_rec, r, memory_order_release);
	}
	REC_UNLOCK();
}

struct stat_record *stats_record_of(const char *path)
{
	if (!stats_on)
		return NULL;
	REC_LOCK();
	struct stat_record *r = record_get(path ? path : "?");
	REC_UNLOCK();
	return r;
}

/* A description with no file (auto mode's pending ones, closed or at the
 * report): its calls went to the kernel, and count for its path's record. */
void stats_pending_closed(struct ofd *o)
{
	uint64_t p = atomic_exchange(&o->st_pass, 0);
	if (!stats_on || !p)
		return;
	REC_LOCK();
	struct stat_record *r = atomic_load(&o->stat_rec);
	if (!r)
		r = record_get(o->path ? o->path : "?");
	if (r) {
		atomic_fetch_add(&r->passthrough, p);
		if (!atomic_load(&r->decisions))
			record_decision(r, "kernel", closed_undecided);
	}
	REC_UNLOCK();
}

static void fold(struct file *f)
{
	struct stat_record *r = atomic_load(&f->stat_rec);
	if (!r)
		r = record_get(f->path ? f->path : "?");
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
	atomic_fetch_add(&r->sampled, sa);
	atomic_fetch_add(&r->missed, mi);
	atomic_store(&r->tier, atomic_load(&f->tier));
	atomic_store(&r->advice, f->map ? f->advice : -1);
	atomic_fetch_add(&r->flushed, fl);
	atomic_fetch_add(&r->served, s);
	atomic_fetch_add(&r->passthrough, p);
	atomic_fetch_add(&r->bytes, b);
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

/* ---- the report: async-signal-safe from here on ---- */

/* One record as the report saw it. */
struct row {
	struct stat_record *r;
	uint64_t served, passthrough, bytes, flushed, sampled, missed;
	int tier, advice;
	unsigned decisions;
	const char *hist[HISTORY][2]; /* decision, reason; the last one kept is the latest */
};

static const char *tier_name(int t)
{
	return t == TIER_CACHESTAT ? "cachestat" : t == TIER_FAULTS ? "major faults" : "none";
}

static const char *advice_name(int a)
{
	return a == MMAPIO_ADV_RANDOM ? "random" : a == MMAPIO_ADV_SEQUENTIAL ? "sequential"
									       : "normal";
}

static const char *mode_name(int m)
{
	return m == MODE_NEVER ? "never" : m == MODE_ALWAYS ? "always" : "auto";
}

/* Counts the bytes when p is NULL; the second pass writes them. */
struct out {
	char *p;
	size_t n;
};

static void out_mem(struct out *o, const char *s, size_t k)
{
	if (o->p)
		memcpy(o->p + o->n, s, k);
	o->n += k;
}

static void out_str(struct out *o, const char *s) { out_mem(o, s, strlen(s)); }

static void out_u64(struct out *o, uint64_t v)
{
	char b[20];
	int i = sizeof b;
	do
		b[--i] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	out_mem(o, b + i, sizeof b - (size_t)i);
}

/* A JSON string; the strings printed this way are the shim's own (reasons, names). */
static void out_json(struct out *o, const char *s)
{
	char b[6 * 128 + 3];
	if (strlen(s) < 128)
		out_mem(o, b, json_escape(b, s));
	else
		out_str(o, "\"?\"");
}

static void out_key(struct out *o, const char *key, uint64_t v)
{
	out_str(o, key);
	out_u64(o, v);
}

static void format(struct out *o, const struct row *rows, unsigned n)
{
	uint64_t served = 0, pass = 0, bytes = 0, flushed = 0;
	for (unsigned i = 0; i < n; i++) {
		served += rows[i].served;
		pass += rows[i].passthrough;
		bytes += rows[i].bytes;
		flushed += rows[i].flushed;
	}
	out_str(o, "{\"pid\":");
	out_u64(o, (uint64_t)getpid());
	out_str(o, ",\"mode\":\"");
	out_str(o, mode_name(cfg.mode));
	out_key(o, "\",\"served_calls\":", served);
	out_key(o, ",\"passthrough_calls\":", pass);
	out_key(o, ",\"bytes_served\":", bytes);
	out_key(o, ",\"faults_recovered\":", atomic_load(&totals.faults));
	out_key(o, ",\"flushed_bytes\":", flushed);
	out_str(o, ",\"files\":[");
	for (unsigned i = 0; i < n; i++) {
		const struct row *w = &rows[i];
		out_str(o, i ? ",{\"path\":" : "{\"path\":");
		out_mem(o, w->r->json, w->r->json_len);
		unsigned kept = w->decisions < HISTORY ? w->decisions : HISTORY;
		out_str(o, ",\"decision\":");
		out_json(o, w->hist[kept - 1][0]);
		out_str(o, ",\"reason\":");
		out_json(o, w->hist[kept - 1][1]);
		out_key(o, ",\"served_calls\":", w->served);
		out_key(o, ",\"passthrough_calls\":", w->passthrough);
		out_key(o, ",\"bytes_served\":", w->bytes);
		out_key(o, ",\"flushed_bytes\":", w->flushed);
		out_key(o, ",\"sampled_calls\":", w->sampled);
		out_key(o, ",\"sampled_misses\":", w->missed);
		if (w->sampled) {
			out_str(o, ",\"residency\":");
			out_json(o, tier_name(w->tier));
		}
		if (w->advice >= 0) {
			out_str(o, ",\"advice\":");
			out_json(o, advice_name(w->advice));
		}
		out_key(o, ",\"decisions\":", w->decisions);
		out_str(o, ",\"history\":[");
		for (unsigned k = 0; k < kept; k++) {
			out_str(o, k ? ",{\"decision\":" : "{\"decision\":");
			out_json(o, w->hist[k][0]);
			out_str(o, ",\"reason\":");
			out_json(o, w->hist[k][1]);
			out_str(o, "}");
		}
		out_str(o, "]}");
	}
	out_str(o, "]}\n");
}

/* Record i as it stands; false: nothing to say about it. */
static bool snapshot(unsigned i, struct row *w)
{
	struct stat_record *r = recs[i];
	w->r = r;
	w->served += atomic_load_explicit(&r->served, memory_order_relaxed);
	w->passthrough += atomic_load_explicit(&r->passthrough, memory_order_relaxed);
	w->bytes += atomic_load_explicit(&r->bytes, memory_order_relaxed);
	w->flushed += atomic_load_explicit(&r->flushed, memory_order_relaxed);
	w->sampled += atomic_load_explicit(&r->sampled, memory_order_relaxed);
	w->missed += atomic_load_explicit(&r->missed, memory_order_relaxed);
	if (w->tier == TIER_UNKNOWN)
		w->tier = atomic_load_explicit(&r->tier, memory_order_relaxed);
	if (w->advice < 0)
		w->advice = atomic_load_explicit(&r->advice, memory_order_relaxed);
	unsigned d = atomic_load_explicit(&r->decisions, memory_order_acquire);
	if (!d) {
		/* Opened, no decision yet (a pending description still open). */
		if (!w->served && !w->passthrough)
			return false;
		w->decisions = 1;
		w->hist[0][0] = "kernel";
		w->hist[0][1] = closed_undecided;
		return true;
	}
	w->decisions = d;
	unsigned kept = d < HISTORY ? d : HISTORY;
	for (unsigned k = 0; k < kept; k++) {
		unsigned e = k + 1 == kept ? latest(d) : k;
		w->hist[k][0] = atomic_load_explicit(&r->history[e].decision, memory_order_relaxed);
		w->hist[k][1] = atomic_load_explicit(&r->history[e].reason, memory_order_relaxed);
		if (!w->hist[k][0] || !w->hist[k][1]) { /* cannot be: a torn read */
			w->hist[k][0] = "kernel";
			w->hist[k][1] = "";
		}
	}
	return true;
}

/* ---- counts still held by open files, for a report that takes no lock ---- */

static void sort_ptrs(uintptr_t *a, size_t n) /* heapsort: no recursion, no allocation */
{
	for (size_t start = n / 2, end = n; end > 1;) {
		size_t root;
		uintptr_t t;
		if (start > 0) {
			root = --start;
		} else {
			t = a[0];
			a[0] = a[--end];
			a[end] = t;
			root = 0;
		}
		for (size_t c; (c = 2 * root + 1) < end; root = c) {
			if (c + 1 < end && a[c + 1] > a[c])
				c++;
			if (a[root] >= a[c])
				break;
			t = a[root];
			a[root] = a[c];
			a[c] = t;
		}
	}
}

/*
 * Every file and pending description reachable from the descriptor table,
 * each once (several descriptors may share one), low bit set for a
 * description. Their counts go into rows[] by record id.
 */
static void add_open_counts(struct row *rows, unsigned n, uintptr_t *seen, int hw)
{
	size_t k = 0;
	for (int fd = 0; fd <= hw; fd++) {
		struct ofd *o = fd_get(fd);
		if (!o)
			continue;
		struct file *f = o->file;
		seen[k++] = f ? (uintptr_t)f : (uintptr_t)o | 1;
	}
	sort_ptrs(seen, k);
	for (size_t i = 0; i < k; i++) {
		if (i && seen[i] == seen[i - 1])
			continue;
		struct stat_record *r;
		if (seen[i] & 1) {
			struct ofd *o = (struct ofd *)(seen[i] & ~(uintptr_t)1);
			r = atomic_load_explicit(&o->stat_rec, memory_order_acquire);
			if (r && r->id < n)
				rows[r->id].passthrough += atomic_load(&o->st_pass);
			continue;
		}
		struct file *f = (struct file *)seen[i];
		r = atomic_load_explicit(&f->stat_rec, memory_order_acquire);
		if (!r || r->id >= n)
			continue;
		struct row *w = &rows[r->id];
		w->served += atomic_load(&f->st.served);
		w->passthrough += atomic_load(&f->st.passthrough);
		w->bytes += atomic_load(&f->st.bytes);
		w->sampled += atomic_load(&f->sampled);
		w->missed += atomic_load(&f->missed);
		w->tier = atomic_load(&f->tier);
		if (__atomic_load_n(&f->map, __ATOMIC_RELAXED))
			w->advice = __atomic_load_n(&f->advice, __ATOMIC_RELAXED);
	}
}

/* ---- writing the line ---- */

/* Block every signal that is not a fault of this thread's own instructions. */
static void block_signals(uint64_t *old)
{
	uint64_t all = ~0ULL, sync = 0;
	static const int faults[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS };
	for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++)
		sync |= 1ULL << (faults[i] - 1);
	all &= ~sync;
	syscall(SYS_rt_sigprocmask, SIG_BLOCK, &all, old, sizeof all);
}

static void restore_signals(const uint64_t *old)
{
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, old, NULL, sizeof *old);
}

static bool sigpipe_pending(void)
{
	uint64_t p = 0;
	syscall(SYS_rt_sigpending, &p, sizeof p);
	return p & (1ULL << (SIGPIPE - 1));
}

/*
 * One write(2) of the line: O_APPEND keeps lines of concurrent processes
 * whole. The file is opened now (the lowest free descriptor number, for
 * the length of the call) and closed again. A SIGPIPE our own write to a
 * closed pipe raised is taken back (signals are blocked meanwhile).
 */
static int emit(const char *p, size_t n)
{
	int fd = 2, err = 0;
	if (strcmp(cfg.stats, "stderr") != 0)
		fd = REAL(open)(cfg.stats, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return errno;
	bool pipe_was = sigpipe_pending();
	for (size_t off = 0; off < n;) {
		ssize_t k = REAL(write)(fd, p + off, n - off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			err = k < 0 ? errno : EIO;
			break;
		}
		off += (size_t)k;
	}
	if (err == EPIPE && !pipe_was) {
		uint64_t set = 1ULL << (SIGPIPE - 1);
		struct timespec zero = { 0, 0 };
		syscall(SYS_rt_sigtimedwait, &set, NULL, &zero, sizeof set);
	}
	if (fd != 2)
		REAL(close)(fd);
	return err;
}

/*
 * Build the line from the records (plus, with open_counts, what open files
 * still hold) in memory from mmap, and write it. Returns 0 or an errno.
 */
static int report(bool open_counts)
{
	unsigned n = atomic_load_explicit(&nrecs, memory_order_acquire);
	int hw = open_counts ? fd_highwater() : -1;
	size_t rows_sz = ((size_t)n * sizeof(struct row) + 4095) & ~(size_t)4095;
	size_t seen_sz = ((size_t)(hw + 1) * sizeof(uintptr_t) + 4095) & ~(size_t)4095;
	size_t room = rows_sz + seen_sz;
	void *mem = room ? mmap(NULL, room, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				-1, 0)
			 : NULL;
	if (mem == MAP_FAILED)
		return ENOMEM;
	struct row *rows = mem;
	for (unsigned i = 0; i < n; i++) {
		rows[i].tier = TIER_UNKNOWN;
		rows[i].advice = -1;
	}
	if (open_counts && hw >= 0)
		add_open_counts(rows, n, (uintptr_t *)((char *)mem + rows_sz), hw);
	unsigned kept = 0;
	for (unsigned i = 0; i < n; i++) {
		struct row w = rows[i];
		if (snapshot(i, &w))
			rows[kept++] = w;
	}
	struct out o = { NULL, 0 };
	format(&o, rows, kept);
	size_t len = o.n;
	char *line = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int err = ENOMEM;
	if (line != MAP_FAILED) {
		o = (struct out){ line, 0 };
		format(&o, rows, kept);
		err = emit(line, o.n);
		munmap(line, len);
	}
	if (mem)
		munmap(mem, room);
	return err;
}

static int my_tid(void) { return (int)syscall(SYS_gettid); }

/*
 * The line of this image, by this thread, unless one is written already.
 * With `wait`, a line another thread is writing is waited for (up to 2 s):
 * the process is about to end. Signals are blocked while the line is
 * built, so that no fatal signal can cut a line short in this thread.
 */
static bool claim(bool wait, uint64_t *mask)
{
	int me = my_tid();
	block_signals(mask);
	for (int waited = 0;; waited++) {
		int s = 0;
		if (atomic_compare_exchange_strong(&report_state, &s, me))
			return true;
		if (s == -1 || !wait || waited >= 2000) {
			restore_signals(mask);
			return false;
		}
		struct timespec ms = { 0, 1000000 };
		nanosleep(&ms, NULL);
	}
}

/* At exit and before exec: everything folded first, under the locks. */
void stats_write(void)
{
	uint64_t mask;
	if (!stats_on || !cfg.stats || !claim(false, &mask))
		return;
	files_fold_all(stats_file_closed); /* lock order: files, then records */
	int err = report(false);
	atomic_store(&report_state, -1);
	restore_signals(&mask);
	if (err)
		shim_log(LOG_WARN, "cannot write stats to %s: %s", cfg.stats, strerror(err));
}

/* On the way out where locks may be held (_exit, a fatal signal): async-signal-safe. */
void stats_write_final(void)
{
	uint64_t mask;
	if (!stats_on || !cfg.stats || !stats_own_process() || !claim(true, &mask))
		return;
	int e = errno;
	report(true);
	atomic_store(&report_state, -1);
	restore_signals(&mask);
	errno = e;
}

/* After the line written before an exec: if the exec fails, the image goes on from zero. */
void stats_reset(void)
{
	REC_LOCK();
	zero_counts();
	REC_UNLOCK();
	atomic_store(&report_state, 0);
}
