/*
 * exitreport.c - the stats line on the ways out that skip exit handlers:
 * _exit and _Exit (fork children, workers, signal handlers), quick_exit,
 * and fatal signals whose action is the default.
 *
 * The line is built by stats_write_final() (stats.c), which takes no lock
 * and allocates nothing from malloc, so it may run anywhere: in an _exit
 * called from a signal handler, or in our own handler of a fatal signal.
 *
 * Fatal signals. For each signal below whose disposition is SIG_DFL, and
 * only while MMAPIO_STATS is set, the shim stands in for SIG_DFL with a
 * handler that writes the line, restores SIG_DFL and raises the signal
 * again (with its original siginfo where the kernel allows), so that the
 * process ends by the same signal, with the same core dump and exit status
 * as before. What the program can ask sees SIG_DFL: sigaction, signal,
 * sysv_signal, sigset, ssignal and siginterrupt report the action as the
 * program set it (flags and mask as the kernel stored them), and a program
 * that installs its own handler or SIG_IGN gets exactly that; setting
 * SIG_DFL again makes us stand in again. Whether we stand in is asked of
 * the kernel every time (is its handler ours?), so a disposition changed
 * through a path we do not see (a raw rt_sigaction) is simply the
 * program's.
 *
 * Not covered (README, Limitations): SIGKILL and SIGSTOP (cannot be
 * caught); SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS (a fault of the
 * program's own code: its memory may be what broke, and the core dump must
 * show the faulting instruction); real-time signals; a process that is
 * the init of a PID namespace (the kernel ignores SIG_DFL signals for it:
 * a re-raise would not end it); exit_group called with syscall().
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "shim.h"

_Atomic uint64_t fatal_sigs;

/* ---- _exit, _Exit, quick_exit ---- */

EXPORT void _exit(int status)
{
	stats_write_final();
	void (*fn)(int) = real._exit; /* not REAL(): dlsym is not async-signal-safe */
	if (fn)
		fn(status);
	for (;;) /* before init: what glibc's _exit does */
		syscall(SYS_exit_group, status);
}
EXPORT void _Exit(int status) __attribute__((alias("_exit")));

static void at_quick(void) { stats_write_final(); }

/* ---- fatal signals ---- */

/* Their default action ends the process, and nothing in them is synchronous. */
static const int covered[] = { SIGHUP,    SIGINT,  SIGQUIT, SIGABRT, SIGUSR1, SIGUSR2,
			       SIGPIPE,   SIGALRM, SIGTERM, SIGXCPU, SIGXFSZ, SIGVTALRM,
			       SIGPROF,   SIGIO,   SIGPWR,
#ifdef SIGSTKFLT
			       SIGSTKFLT,
#endif
};

/*
 * The program's action for a signal we stand in for (SIG_DFL, with the
 * flags and mask it set). Two slots, so that a sigaction() in a signal
 * handler never reads a half-written one.
 */
static struct sigaction virt[65][2];
static _Atomic int virt_cur[65];
static sigset_t covered_set;

static void virt_set(int sig, const struct sigaction *a)
{
	int next = !atomic_load_explicit(&virt_cur[sig], memory_order_relaxed);
	virt[sig][next] = *a;
	atomic_store_explicit(&virt_cur[sig], next, memory_order_release);
}

static struct sigaction virt_get(int sig)
{
	return virt[sig][atomic_load_explicit(&virt_cur[sig], memory_order_acquire)];
}

static int real_sa(int sig, const struct sigaction *act, struct sigaction *old)
{
	return REAL(sigaction)(sig, act, old);
}

static void on_fatal(int sig, siginfo_t *si, void *uc);

static bool is_ours(const struct sigaction *a)
{
	return (a->sa_flags & SA_SIGINFO) && a->sa_sigaction == on_fatal;
}

/* sig's action is SIG_DFL: stand in for it. */
static void stand_in(int sig)
{
	struct sigaction cur, ours, prev;
	if (real_sa(sig, NULL, &cur) < 0 || cur.sa_handler != SIG_DFL)
		return;
	virt_set(sig, &cur);
	memset(&ours, 0, sizeof ours);
	ours.sa_sigaction = on_fatal;
	ours.sa_flags = SA_SIGINFO | SA_RESTART;
	ours.sa_mask = covered_set;
	if (real_sa(sig, &ours, &prev) == 0 && prev.sa_handler != SIG_DFL && !is_ours(&prev))
		real_sa(sig, &prev, NULL); /* another thread set its own meanwhile: keep it */
}

/*
 * A covered signal arrived while its action was SIG_DFL: write the line,
 * then end the process as SIG_DFL would have. The signal is blocked while
 * we run; raised again and unblocked, it is delivered at once, with
 * SIG_DFL. (It returns only if the process was not ended: a tracer took
 * the signal. The program's SIG_DFL then stays, as it would have.)
 */
static void on_fatal(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	int e = errno;
	stats_write_final();
	struct sigaction dfl = virt_get(sig);
	real_sa(sig, &dfl, NULL);
	pid_t pid = getpid();
	long tid = syscall(SYS_gettid);
	if (syscall(SYS_rt_tgsigqueueinfo, pid, tid, sig, si) < 0) /* EPERM off the main thread */
		syscall(SYS_tgkill, pid, tid, sig);
	uint64_t set = 1ULL << (sig - 1);
	syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &set, NULL, sizeof set);
	errno = e;
}

/* sigaction() for a covered signal (signals.c). */
int fatal_sigaction(int sig, const void *a, void *o)
{
	const struct sigaction *act = a;
	struct sigaction *old = o, k;
	bool dfl = act && act->sa_handler == SIG_DFL; /* read before old, which may be act */
	int r = real_sa(sig, act, &k);
	if (r < 0)
		return r;
	if (old)
		*old = is_ours(&k) ? virt_get(sig) : k;
	if (dfl)
		stand_in(sig);
	return 0;
}

/* signal() and its relatives: the previous handler as the program knows it. */
static sighandler_t wrap(sighandler_t (*fn)(int, sighandler_t), int sig, sighandler_t h)
{
	if (!fn) {
		errno = ENOSYS;
		return SIG_ERR;
	}
	sighandler_t prev = fn(sig, h);
	if (prev == SIG_ERR || !fatal_covered(sig))
		return prev;
	if ((void *)prev == (void *)on_fatal)
		prev = virt_get(sig).sa_handler;
	if (h == SIG_DFL)
		stand_in(sig);
	return prev;
}

void *fatal_signal(int sig, void *handler)
{
	return (void *)wrap(REAL(signal), sig, (sighandler_t)handler);
}

EXPORT sighandler_t sysv_signal(int sig, sighandler_t handler)
{
	return wrap(REAL(sysv_signal), sig, handler);
}

EXPORT sighandler_t sigset(int sig, sighandler_t disp)
{
	return wrap(REAL(sigset), sig, disp);
}

/* glibc re-sets the action with SA_RESTART changed: ours, while we stand in. */
EXPORT int siginterrupt(int sig, int flag)
{
	if (MISSING(siginterrupt))
		return -1;
	int r = REAL(siginterrupt)(sig, flag);
	struct sigaction k;
	if (r == 0 && fatal_covered(sig) && real_sa(sig, NULL, &k) == 0 && is_ours(&k)) {
		struct sigaction v = virt_get(sig);
		if (flag)
			v.sa_flags &= ~SA_RESTART;
		else
			v.sa_flags |= SA_RESTART;
		virt_set(sig, &v);
	}
	return r;
}

void exitreport_init(void)
{
	if (!stats_on || getpid() == 1)
		return;
	at_quick_exit(at_quick);
	uint64_t bits = 0;
	sigemptyset(&covered_set);
	for (size_t i = 0; i < sizeof covered / sizeof covered[0]; i++) {
		sigaddset(&covered_set, covered[i]);
		bits |= 1ULL << covered[i];
	}
	atomic_store(&fatal_sigs, bits);
	for (size_t i = 0; i < sizeof covered / sizeof covered[0]; i++)
		stand_in(covered[i]);
}
