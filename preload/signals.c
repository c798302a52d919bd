/*
 * signals.c - keep the core's SIGBUS/SIGSEGV handler in front.
 *
 * The core recovers faults inside its copies with a signal handler. A
 * program that installs its own SIGBUS or SIGSEGV handler would replace
 * it; instead, sigaction() and signal() for those two signals record the
 * program's handler behind the core's (mmapio_fault_sigaction), which
 * forwards every fault that is not its own. What the program reads back
 * (the old action) is its own handler, as without the shim.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <string.h>
#include "shim.h"

static bool ours(int sig) { return sig == SIGBUS || sig == SIGSEGV; }

EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	if (unlikely(fatal_covered(sig))) /* exitreport.c */
		return fatal_sigaction(sig, act, old);
	if (!ours(sig))
		return REAL(sigaction)(sig, act, old);
	return mmapio_fault_sigaction(sig, act, old);
}

/* glibc's signal(): BSD semantics (SA_RESTART, the signal blocked in its handler). */
EXPORT sighandler_t signal(int sig, sighandler_t handler)
{
	if (unlikely(fatal_covered(sig))) /* exitreport.c */
		return (sighandler_t)fatal_signal(sig, (void *)handler);
	if (!ours(sig))
		return REAL(signal)(sig, handler);
	struct sigaction act, old;
	memset(&act, 0, sizeof act);
	act.sa_handler = handler;
	act.sa_flags = SA_RESTART;
	sigemptyset(&act.sa_mask);
	sigaddset(&act.sa_mask, sig);
	if (mmapio_fault_sigaction(sig, &act, &old) < 0)
		return SIG_ERR;
	return old.sa_handler;
}
EXPORT sighandler_t bsd_signal(int sig, sighandler_t handler)
{
	return signal(sig, handler);
}
/* glibc's ssignal is its signal */
EXPORT sighandler_t ssignal(int sig, sighandler_t handler) __attribute__((alias("signal")));

/*
 * Blocked fault signals. A SIGSEGV or SIGBUS raised by an instruction while
 * the thread blocks it is not delivered: the kernel unblocks it, resets it
 * to the default and the process dies. Where read(2) would have returned
 * EFAULT (a bad buffer) or a short count (a truncated file), the shim must
 * then let the kernel do the copy. So each thread knows whether it blocks
 * them: learnt from the real mask at its first served call (threads
 * inherit masks from whoever created them, often with everything blocked),
 * and kept up to date by the calls below.
 */
TLS int faults_ok;

static void note_mask(const sigset_t *mask)
{
	faults_ok = sigismember(mask, SIGSEGV) || sigismember(mask, SIGBUS) ? -1 : 1;
}

bool faults_check_mask(void)
{
	if (faults_ok == 0) {
		sigset_t cur;
		if (REAL(pthread_sigmask)(SIG_BLOCK, NULL, &cur) == 0)
			note_mask(&cur);
	}
	return faults_ok > 0;
}

static int change_mask(int (*fn)(int, const void *, void *), int how, const sigset_t *set,
		       sigset_t *old)
{
	sigset_t mine;
	int r = fn(how, set, old ? old : &mine);
	if (r == 0 && set) {
		sigset_t now = old ? *old : mine; /* the mask before the call */
		static const int sigs[] = { SIGSEGV, SIGBUS };
		for (int i = 0; i < 2; i++) {
			if (how == SIG_SETMASK || sigismember(set, sigs[i])) {
				bool block = how == SIG_UNBLOCK ? false
					   : how == SIG_BLOCK ? true : sigismember(set, sigs[i]);
				if (block)
					sigaddset(&now, sigs[i]);
				else
					sigdelset(&now, sigs[i]);
			}
		}
		note_mask(&now);
	}
	return r;
}

EXPORT int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
	return change_mask(REAL(pthread_sigmask), how, set, old);
}

EXPORT int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
	return change_mask(REAL(sigprocmask), how, set, old);
}

/* ---- cancellation (shim.h, cancel_point) ---- */

_Atomic bool cancel_seen;

EXPORT int pthread_cancel(pthread_t t)
{
	atomic_store(&cancel_seen, true); /* before: the target may check now */
	return REAL(pthread_cancel)(t);
}
