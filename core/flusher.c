/*
 * flusher.c - one background thread flushes every map whose policy is
 * MMAPIO_FLUSH_INTERVAL, each on its own period.
 *
 * One thread for the process, not one per map: a program with a thousand
 * mapped files must not get a thousand threads. The thread starts with the
 * first such map and stops (joined) when the last one leaves. At process
 * exit, an atexit handler flushes every registered map one last time and
 * stops the thread. In a fork child the thread does not exist: the child
 * handler starts a new one if maps are registered.
 *
 * Flush errors land in the map's sticky error (mmapio_flush_error()).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include "internal.h"

static pthread_mutex_t fl_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t fl_cond;
static pthread_once_t fl_once = PTHREAD_ONCE_INIT;
static mmapio_map *fl_head;
static int fl_count;
static bool fl_running;	 /* a thread exists (maybe stopping) */
static bool fl_stopping; /* it was told to exit and someone will join it */
static bool fl_exited;	 /* process exit: never start again */
static pthread_t fl_thread;

static uint64_t interval_ns(mmapio_map *m)
{
	return atomic_load(&m->flush_arg) * 1000000u;
}

static void *flusher_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&fl_lock);
	while (!fl_stopping) {
		uint64_t now = mmapio__now_ns(), next = UINT64_MAX;
		for (mmapio_map *m = fl_head; m; m = m->fl_next) {
			if (m->fl_due_ns <= now) {
				/* Under fl_lock: close waits for us to finish. */
				mmapio_flush(m);
				m->fl_due_ns = mmapio__now_ns() + interval_ns(m);
			}
			if (m->fl_due_ns < next)
				next = m->fl_due_ns;
		}
		if (next == UINT64_MAX) {
			pthread_cond_wait(&fl_cond, &fl_lock);
		} else {
			struct timespec ts = { (time_t)(next / 1000000000u),
					       (long)(next % 1000000000u) };
			pthread_cond_timedwait(&fl_cond, &fl_lock, &ts);
		}
	}
	pthread_mutex_unlock(&fl_lock);
	return NULL;
}

/* Under fl_lock. */
static void start_locked(void)
{
	sigset_t all, old;
	if (fl_exited)
		return;
	/* The thread must not take the program's signals. */
	sigfillset(&all);
	SYS(sigmask)(SIG_SETMASK, &all, &old);
	if (pthread_create(&fl_thread, NULL, flusher_main, NULL) == 0)
		fl_running = true;
	SYS(sigmask)(SIG_SETMASK, &old, NULL);
}

/* Tell the thread to exit and join it. Takes and returns with fl_lock held. */
static void stop_locked(void)
{
	if (!fl_running || fl_stopping)
		return;
	fl_stopping = true;
	pthread_cond_broadcast(&fl_cond);
	pthread_mutex_unlock(&fl_lock);
	pthread_join(fl_thread, NULL);
	pthread_mutex_lock(&fl_lock);
	fl_running = false;
	fl_stopping = false;
	if (fl_count > 0) /* registered while we were joining */
		start_locked();
}

static void at_exit(void)
{
	pthread_mutex_lock(&fl_lock);
	fl_exited = true;
	stop_locked();
	for (mmapio_map *m = fl_head; m; m = m->fl_next)
		mmapio_flush(m);
	pthread_mutex_unlock(&fl_lock);
}

static void cond_init(void)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&fl_cond, &ca);
	pthread_condattr_destroy(&ca);
}

/*
 * The child runs on the thread that forked, which holds fl_lock since
 * fork_prepare: it unlocks it (re-initialising a held mutex is undefined,
 * and ThreadSanitizer would count it held for good). The condition
 * variable may show the parent's waiting flusher: made anew.
 */
static void fork_child(void)
{
	cond_init();
	fl_running = fl_stopping = false;
	if (fl_count > 0)
		start_locked();
	pthread_mutex_unlock(&fl_lock);
}

static void fork_prepare(void) { pthread_mutex_lock(&fl_lock); }
static void fork_parent(void) { pthread_mutex_unlock(&fl_lock); }

static void init_once(void)
{
	cond_init();
	pthread_atfork(fork_prepare, fork_parent, fork_child);
	atexit(at_exit);
}

void mmapio__flusher_init(void)
{
	pthread_once(&fl_once, init_once);
}

void mmapio__flusher_register(mmapio_map *m, uint64_t interval_ms)
{
	(void)interval_ms;
	pthread_once(&fl_once, init_once);
	pthread_mutex_lock(&fl_lock);
	if (!m->fl_registered) {
		m->fl_next = fl_head;
		fl_head = m;
		m->fl_registered = true;
		fl_count++;
	}
	m->fl_due_ns = mmapio__now_ns() + interval_ns(m);
	if (!fl_running)
		start_locked();
	pthread_cond_broadcast(&fl_cond);
	pthread_mutex_unlock(&fl_lock);
}

void mmapio__flusher_unregister(mmapio_map *m)
{
	pthread_mutex_lock(&fl_lock);
	if (!m->fl_registered) {
		pthread_mutex_unlock(&fl_lock);
		return;
	}
	for (mmapio_map **p = &fl_head; *p; p = &(*p)->fl_next) {
		if (*p == m) {
			*p = m->fl_next;
			m->fl_registered = false;
			fl_count--;
			break;
		}
	}
	if (fl_count == 0)
		stop_locked();
	pthread_mutex_unlock(&fl_lock);
}

int mmapio__flusher_maps(void)
{
	pthread_mutex_lock(&fl_lock);
	int n = fl_count;
	pthread_mutex_unlock(&fl_lock);
	return n;
}

int mmapio__flusher_running(void)
{
	pthread_mutex_lock(&fl_lock);
	int r = fl_running;
	pthread_mutex_unlock(&fl_lock);
	return r;
}
