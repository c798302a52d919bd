/*
 * fdtable.c - descriptor number -> open file description, without locks.
 *
 * An array of atomic pointers indexed by fd. Readers (every interposed
 * call) do one acquire load of the table and one of the entry; a NULL
 * entry means "not ours": pass the call through. Writers (open, dup,
 * close) hold files_lock().
 *
 * Sized from RLIMIT_NOFILE at start (capped so a huge limit does not cost
 * memory up front) and grown by doubling when a larger fd shows up. Old
 * arrays are never freed: a reader may still be looking at one. The
 * entries they hold are copied, so a stale array only ever answers for
 * fds that were open when it was current.
 *
 * Open file descriptions come from a pool and are never returned to
 * malloc, so a racing reader that loaded a pointer just before a close
 * still reads valid memory (see DEFER_UNMAP in files.c for the mapping).
 *
 * Auto mode's pending descriptions (files.c) are opened and closed without
 * files_lock(): with two threads opening and closing many small files,
 * the lock's cache line and the pool's moved between the cores at every
 * call (bench_shim, 2 threads: auto 1.11-1.24x never). Without the lock,
 * fd_put_nolock()/fd_take_nolock() store into the table and then check
 * that no growth copied it meanwhile (grow_seq, a sequence count that is
 * odd while a larger table is filled), and descriptions come from a
 * pool that needs no lock either (ofd_alloc below).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include "shim.h"

_Atomic(struct fdtab *) fdtab;
static _Atomic int highwater = -1;
static _Atomic unsigned grow_seq;

static void raise_highwater(int fd)
{
	int hw = atomic_load_explicit(&highwater, memory_order_relaxed);
	while (fd > hw && !atomic_compare_exchange_weak(&highwater, &hw, fd))
		;
}

static struct fdtab *tab_new(size_t n, const struct fdtab *old)
{
	struct fdtab *t = calloc(1, sizeof *t + n * sizeof t->e[0]);
	if (!t)
		return NULL;
	t->n = n;
	if (old)
		for (size_t i = 0; i < old->n; i++)
			atomic_init(&t->e[i], atomic_load(&old->e[i]));
	return t;
}

static void ofd_pool_init(void);

void fdtable_init(void)
{
	ofd_pool_init();
	struct rlimit rl;
	size_t n = 1024;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur > n)
		n = rl.rlim_cur > 65536 ? 65536 : (size_t)rl.rlim_cur;
	if (!atomic_load(&fdtab))
		atomic_store(&fdtab, tab_new(n, NULL));
}

int fd_put(int fd, struct ofd *o)
{
	struct fdtab *t = atomic_load(&fdtab);
	if (fd < 0)
		return -1;
	if (!t || (size_t)fd >= t->n) {
		size_t n = t ? t->n : 1024;
		while (n <= (size_t)fd)
			n *= 2;
		atomic_fetch_add(&grow_seq, 1); /* odd: entries are being copied */
		struct fdtab *nt = tab_new(n, t);
		if (nt)
			atomic_store_explicit(&fdtab, nt, memory_order_release);
		atomic_fetch_add(&grow_seq, 1);
		if (!nt)
			return -1;
		t = nt;
	}
	atomic_store_explicit(&t->e[fd], o, memory_order_release);
	if (o)
		raise_highwater(fd);
	return 0;
}

struct ofd *fd_take(int fd)
{
	struct fdtab *t = atomic_load(&fdtab);
	if (fd < 0 || !t || (size_t)fd >= t->n)
		return NULL;
	return atomic_exchange(&t->e[fd], NULL);
}

/*
 * Without files_lock(): store o for fd if the table is large enough and
 * no growth copied the old table around the store. Returns 0, or -1: do
 * it under the lock (a growth that raced may hold a stale copy of the
 * entry, which fd_put() then overwrites).
 */
static _Atomic(struct ofd *) *entry_nolock(int fd, unsigned *seq)
{
	*seq = atomic_load(&grow_seq);
	struct fdtab *t = atomic_load_explicit(&fdtab, memory_order_acquire);
	if ((*seq & 1) || fd < 0 || !t || (size_t)fd >= t->n)
		return NULL;
	return &t->e[fd];
}

int fd_put_nolock(int fd, struct ofd *o)
{
	unsigned s;
	_Atomic(struct ofd *) *e = entry_nolock(fd, &s);
	if (!e)
		return -1;
	atomic_store(e, o); /* seq_cst: ordered before the load below */
	if (atomic_load(&grow_seq) != s)
		return -1;
	raise_highwater(fd);
	return 0;
}

/* Likewise for fd_take(); *o gets the entry. -1: redo it under the lock. */
int fd_take_nolock(int fd, struct ofd **o)
{
	unsigned s;
	_Atomic(struct ofd *) *e = entry_nolock(fd, &s);
	*o = e ? atomic_exchange(e, NULL) : NULL;
	return e && atomic_load(&grow_seq) == s ? 0 : -1;
}

int fd_highwater(void) { return atomic_load(&highwater); }

/*
 * One pool for every description, with no lock: each thread frees into
 * and allocates from its own cache (up to CACHE_MAX; a thread that opens
 * and closes many files touches no shared line), which spills into, and is
 * refilled from, a shared stack. The stack is pushed with a compare-
 * exchange and taken whole with one exchange, so no pop ever races (no
 * ABA). A thread's cache goes back to the stack when the thread exits.
 * Descriptions never go back to malloc (see the top).
 */
#define CACHE_MAX 64
static _Atomic(struct ofd *) freed;
static pthread_key_t cache_key;
static __thread __attribute__((tls_model("initial-exec"))) struct ofd *tl_cache;
static __thread __attribute__((tls_model("initial-exec"))) int tl_count;
static __thread __attribute__((tls_model("initial-exec"))) bool tl_keyed;

static void push_list(struct ofd *first, struct ofd *last)
{
	struct ofd *head = atomic_load_explicit(&freed, memory_order_relaxed);
	do
		last->next_free = head;
	while (!atomic_compare_exchange_weak(&freed, &head, first));
}

static void cache_flush(void *unused)
{
	(void)unused;
	struct ofd *first = tl_cache, *last = first;
	if (!first)
		return;
	while (last->next_free)
		last = last->next_free;
	tl_cache = NULL;
	tl_count = 0;
	push_list(first, last);
}

static bool pool_keyed; /* the key exists (calls can come before init) */

static void ofd_pool_init(void)
{
	if (!pool_keyed && pthread_key_create(&cache_key, cache_flush) == 0)
		pool_keyed = true;
}

/* This thread's cache will hold something: have cache_flush run at exit. */
static inline void keep_on_exit(void)
{
	if (!tl_keyed && pool_keyed) {
		tl_keyed = true;
		pthread_setspecific(cache_key, (void *)1);
	}
}

struct ofd *ofd_alloc(void)
{
	struct ofd *o = tl_cache;
	if (!o) {
		o = atomic_exchange(&freed, NULL);
		tl_count = 0;
		for (struct ofd *p = o; p; p = p->next_free)
			tl_count++;
		if (tl_count > 1)
			keep_on_exit();
	}
	if (o) {
		tl_cache = o->next_free;
		tl_count--;
	} else if (!(o = malloc(sizeof *o))) {
		return NULL;
	}
	memset(o, 0, sizeof *o);
	return o;
}

void ofd_free(struct ofd *o)
{
	free(o->path);
	o->path = NULL;
	o->file = NULL;
	if (tl_count >= CACHE_MAX) {
		o->next_free = NULL;
		push_list(o, o);
		return;
	}
	keep_on_exit();
	o->next_free = tl_cache;
	tl_cache = o;
	tl_count++;
}
