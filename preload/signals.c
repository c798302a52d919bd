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
	if (!ours(sig))
		return REAL(sigaction)(sig, act, old);
	return mmapio_fault_sigaction(sig, act, old);
}

/* glibc's signal(): BSD semantics (SA_RESTART, the signal blocked in its handler). */
EXPORT sighandler_t signal(int sig, sighandler_t handler)
{
	static sighandler_t (*real_signal)(int, sighandler_t);
	if (!ours(sig)) {
		if (!real_signal)
			real_signal = (sighandler_t(*)(int, sighandler_t))dlsym_next("signal");
		return real_signal(sig, handler);
	}
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
