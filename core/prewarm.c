/*
 * prewarm.c - make a range resident before it is used.
 *
 * Tiers, best first:
 *   POPULATE: madvise(MADV_POPULATE_READ or _WRITE), Linux 5.14+. The
 *     kernel faults every page in (reading from disk as needed) and reports
 *     an error instead of raising SIGBUS. For RDWR maps we populate for
 *     reading: _WRITE would dirty every page of a shared mapping.
 *   TOUCH: madvise(MADV_WILLNEED) to start readahead, then one fault-safe
 *     byte read per page, so a page lost to truncation is an error, not a
 *     crash.
 * Asynchronous prewarming runs the same code on one shared worker thread;
 * mmapio_close() dequeues the map's pending jobs and waits for a running one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include "internal.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

/*
 * The touch is fault-safe only where a fault can be delivered to our
 * handler: a thread that blocks SIGSEGV or SIGBUS would be killed by the
 * kernel instead (it forces a blocked synchronous fault signal). There we
 * stop at the hint. One pthread_sigmask per call, not per page.
 */
static bool faults_blocked(void)
{
	sigset_t cur;
	return SYS(sigmask)(SIG_BLOCK, NULL, &cur) != 0 || sigismember(&cur, SIGSEGV) ||
	       sigismember(&cur, SIGBUS);
}

int mmapio__touch(mmapio_map *m, uint64_t start, uint64_t end)
{
	unsigned char sink;
	madvise(m->base + start, end - start, MADV_WILLNEED);
	if (faults_blocked())
		return MMAPIO_TIER_WILLNEED;
	for (uint64_t off = start; off < end; off += m->pgsz) {
		int rc = mmapio__copy(&sink, m->base + off, 1, NULL);
		if (rc < 0)
			return rc;
	}
	return MMAPIO_TIER_TOUCH;
}

static int prewarm_span(mmapio_map *m, uint64_t off, uint64_t len, bool retried)
{
	uint64_t start, end;
	uint64_t size = atomic_load_explicit(&m->size, memory_order_acquire);
	if (off >= size || !mmapio__page_span(m, off, len, round_up(size, m->pgsz), &start, &end))
		return MMAPIO_TIER_POPULATE; /* nothing to do */
	if (madvise(m->base + start, end - start, MADV_POPULATE_READ) == 0)
		return MMAPIO_TIER_POPULATE;
	if (errno == EFAULT) {
		/* Pages past a new end of file (another process truncated it):
		 * follow the size and warm what is left, once. */
		if (!retried && mmapio_refresh(m) == 0)
			return prewarm_span(m, off, len, true);
		return -EIO;
	}
	if (errno != EINVAL)
		return -errno; /* EIO, ENOMEM, EINTR... */
	/* EINVAL: no MADV_POPULATE_READ here, or part of the range lost its
	 * pages to a shrink racing us (the reservation is PROT_NONE): touch
	 * what the current size still covers. */
	size = atomic_load_explicit(&m->size, memory_order_acquire);
	if (!mmapio__page_span(m, start, end - start, round_up(size, m->pgsz), &start, &end))
		return MMAPIO_TIER_TOUCH;
	return mmapio__touch(m, start, end);
}

int mmapio_prewarm(mmapio_map *m, off_t off, size_t len)
{
	if (!m || off < 0)
		return -EINVAL;
	return prewarm_span(m, (uint64_t)off, len, false);
}

struct job {
	struct job *next;
	mmapio_map *m;
	uint64_t off, len;
};

static pthread_mutex_t pw_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pw_cond = PTHREAD_COND_INITIALIZER; /* work queued */
static pthread_cond_t pw_done = PTHREAD_COND_INITIALIZER; /* a job finished */
static struct job *pw_head, **pw_tail = &pw_head;
static mmapio_map *pw_current; /* map the worker is warming now */
static bool pw_started;
static pthread_once_t pw_once = PTHREAD_ONCE_INIT;

static void *worker(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&pw_lock);
	for (;;) {
		while (!pw_head)
			pthread_cond_wait(&pw_cond, &pw_lock);
		struct job *j = pw_head;
		pw_head = j->next;
		if (!pw_head)
			pw_tail = &pw_head;
		pw_current = j->m;
		pthread_mutex_unlock(&pw_lock);
		int rc = prewarm_span(j->m, j->off, j->len, false);
		pthread_mutex_lock(&pw_lock);
		if (j->m->pw_result >= 0)
			j->m->pw_result = rc;
		j->m->pw_pending--;
		pw_current = NULL;
		pthread_cond_broadcast(&pw_done);
		free(j);
	}
	return NULL;
}

/* The child has no worker: forget the parent's queue. pw_lock is held since
 * fork_prepare by the thread that forked, the child's one thread: it is
 * unlocked, not re-initialised (undefined for a held mutex). */
static void fork_child(void)
{
	pthread_cond_init(&pw_cond, NULL);
	pthread_cond_init(&pw_done, NULL);
	for (struct job *j = pw_head, *n; j; j = n) {
		n = j->next;
		j->m->pw_pending = 0;
		free(j);
	}
	pw_head = NULL;
	pw_tail = &pw_head;
	if (pw_current) /* its job was running in the parent: nothing runs it here */
		pw_current->pw_pending = 0;
	pw_current = NULL;
	pw_started = false;
	pthread_mutex_unlock(&pw_lock);
}
static void fork_prepare(void) { pthread_mutex_lock(&pw_lock); }
static void fork_parent(void) { pthread_mutex_unlock(&pw_lock); }
static void init_once(void) { pthread_atfork(fork_prepare, fork_parent, fork_child); }

void mmapio__prewarm_init(void)
{
	pthread_once(&pw_once, init_once);
}

int mmapio_prewarm_async(mmapio_map *m, off_t off, size_t len)
{
	if (!m || off < 0)
		return -EINVAL;
	struct job *j = malloc(sizeof *j);
	if (!j)
		return -ENOMEM;
	*j = (struct job){ NULL, m, (uint64_t)off, len };
	pthread_once(&pw_once, init_once);
	pthread_mutex_lock(&pw_lock);
	if (!pw_started) {
		pthread_t t;
		sigset_t all, old;
		/* The worker takes none of the program's signals, but its own
		 * faults must reach the handler: a touch of a page that a shrink
		 * took away would otherwise kill the process (see
		 * faults_blocked()). */
		sigfillset(&all);
		sigdelset(&all, SIGSEGV);
		sigdelset(&all, SIGBUS);
		SYS(sigmask)(SIG_SETMASK, &all, &old);
		int rc = pthread_create(&t, NULL, worker, NULL);
		SYS(sigmask)(SIG_SETMASK, &old, NULL);
		if (rc != 0) {
			pthread_mutex_unlock(&pw_lock);
			free(j);
			return prewarm_span(m, (uint64_t)off, len, false); /* do it here instead */
		}
		pthread_detach(t);
		pw_started = true;
	}
	if (m->pw_pending == 0)
		m->pw_result = 0;
	m->pw_pending++;
	*pw_tail = j;
	pw_tail = &j->next;
	pthread_cond_signal(&pw_cond);
	pthread_mutex_unlock(&pw_lock);
	return MMAPIO_TIER_ASYNC;
}

int mmapio_prewarm_wait(mmapio_map *m)
{
	if (!m)
		return -EINVAL;
	pthread_mutex_lock(&pw_lock);
	while (m->pw_pending > 0)
		pthread_cond_wait(&pw_done, &pw_lock);
	int rc = m->pw_result;
	pthread_mutex_unlock(&pw_lock);
	return rc;
}

void mmapio__prewarm_cancel(mmapio_map *m)
{
	pthread_mutex_lock(&pw_lock);
	for (struct job **p = &pw_head; *p;) {
		struct job *j = *p;
		if (j->m == m) {
			*p = j->next;
			m->pw_pending--;
			free(j);
		} else {
			p = &j->next;
		}
	}
	pw_tail = &pw_head;
	while (*pw_tail)
		pw_tail = &(*pw_tail)->next;
	while (pw_current == m)
		pthread_cond_wait(&pw_done, &pw_lock);
	pthread_mutex_unlock(&pw_lock);
}
