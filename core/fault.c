/*
 * fault.c - turn SIGBUS and SIGSEGV inside mmapio's copies into error
 * returns, and hand every other one to the program, exactly as before.
 *
 * Why: a page of a shared file mapping has no backing once another process
 * truncates the file below it, or when writing it needs a block the disk
 * no longer has, or when reading it fails; touching it raises SIGBUS. A
 * caller's bad buffer raises SIGSEGV where read(2) would have said EFAULT.
 * A library must not crash its host for either.
 *
 * Two methods:
 *   x86_64-fixup: copy_x86_64.S holds the only instructions that touch
 *     mapped memory on behalf of callers. The handler checks the faulting
 *     instruction pointer against that range and, if it matches, rewrites
 *     the saved context to resume at the routine's error exit. Free when
 *     nothing faults.
 *   portable-sigsetjmp: elsewhere (or with -DMMAPIO_FAULT_PORTABLE), each
 *     copy sets a thread-local jump buffer (sigsetjmp without saving the
 *     signal mask: no syscall) and the handler siglongjmps to it. Costs a
 *     sigsetjmp per copy.
 *
 * The program's own handlers: the previous disposition is recorded when
 * ours is installed, and a fault that is not ours is forwarded to it with
 * the semantics the kernel would have applied (see forward()). A program
 * that installs its handler later replaces ours; mmapio_fault_sigaction()
 * (which the shim routes sigaction() and signal() through) records it
 * behind ours instead.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <ucontext.h>
#include "internal.h"
#if defined(__x86_64__) && __has_include(<sys/platform/x86.h>)
#include <sys/platform/x86.h> /* glibc 2.33+ */
#endif

#if defined(__x86_64__) && !defined(MMAPIO_FAULT_PORTABLE)
#define FAULT_FIXUP 1
extern const char mmapio__copy_begin[], mmapio__copy_end[], mmapio__copy_fixup[],
	mmapio__copy_rep[], mmapio__probe_insn[];
#else
#define FAULT_FIXUP 0
#endif

/*
 * The program's handler for SIGBUS (0) and SIGSEGV (1). Two slots each,
 * so a signal handler reading one never sees a half-written struct while
 * mmapio_fault_sigaction() fills the other.
 */
static struct sigaction prog[2][2];
static _Atomic int prog_cur[2];
static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int installed;

static int sig_index(int sig) { return sig == SIGBUS ? 0 : sig == SIGSEGV ? 1 : -1; }

/* The shim interposes sigaction(): the kernel's, through sys.c. */
static int real_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	return SYS(sigaction)(sig, act, old);
}

/*
 * Deliver a fault that is not ours as if mmapio had never installed a
 * handler:
 *  - SIG_DFL: reset the disposition; a fault raised by an instruction
 *    (si_code > 0) happens again when we return and now terminates the
 *    process with the same signal and core dump; one sent by kill() is
 *    raised again.
 *  - SIG_IGN: the kernel does not let a synchronous fault be ignored (it
 *    resets to SIG_DFL and kills); a kill()ed one is dropped.
 *  - a handler: called with the mask its sigaction asked for, honouring
 *    SA_SIGINFO and SA_RESETHAND.
 */
static void forward(int sig, siginfo_t *si, void *uc)
{
	int i = sig_index(sig);
	struct sigaction a = prog[i][atomic_load_explicit(&prog_cur[i], memory_order_acquire)];
	bool synchronous = si->si_code > 0;

	if (a.sa_handler == SIG_DFL || (a.sa_handler == SIG_IGN && synchronous)) {
		struct sigaction dfl;
		memset(&dfl, 0, sizeof dfl);
		dfl.sa_handler = SIG_DFL;
		real_sigaction(sig, &dfl, NULL);
		atomic_store(&installed, 0);
		if (!synchronous)
			raise(sig);
		return;
	}
	if (a.sa_handler == SIG_IGN)
		return;

	if (a.sa_flags & SA_RESETHAND) {
		int next = !atomic_load(&prog_cur[i]);
		memset(&prog[i][next], 0, sizeof prog[i][next]);
		prog[i][next].sa_handler = SIG_DFL;
		atomic_store_explicit(&prog_cur[i], next, memory_order_release);
	}
	sigset_t mask = a.sa_mask, old;
	if (!(a.sa_flags & SA_NODEFER))
		sigaddset(&mask, sig);
	SYS(sigmask)(SIG_BLOCK, &mask, &old);
	if (a.sa_flags & SA_SIGINFO)
		a.sa_sigaction(sig, si, uc);
	else
		a.sa_handler(sig);
	SYS(sigmask)(SIG_SETMASK, &old, NULL);
}

#if FAULT_FIXUP
/* Read by copy_x86_64.S: use the AVX2 paths. */
unsigned char mmapio__avx2;

/*
 * glibc has already asked the CPU (and the kernel, for the saved AVX
 * state) while loading the program: reading its answer costs nothing.
 * __builtin_cpu_init() asks again with a dozen CPUID instructions, each
 * a trap to the hypervisor in a VM: it was ~5% of the time the shim adds
 * to starting a process here (perf, 300 runs of /bin/true).
 */
__attribute__((constructor)) static void detect_cpu(void)
{
#if __has_include(<sys/platform/x86.h>)
	mmapio__avx2 = CPU_FEATURE_ACTIVE(AVX2) ? 1 : 0;
#else
	__builtin_cpu_init();
	mmapio__avx2 = __builtin_cpu_supports("avx2") ? 1 : 0;
#endif
}

static void handler(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	uintptr_t ip = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];

	if (si->si_code > 0 && ((ip >= (uintptr_t)mmapio__copy_begin &&
				 ip < (uintptr_t)mmapio__copy_end) ||
				ip == (uintptr_t)mmapio__probe_insn)) {
		uc->uc_mcontext.gregs[REG_RIP] = (greg_t)(uintptr_t)mmapio__copy_fixup;
		uc->uc_mcontext.gregs[REG_RAX] = sig == SIGBUS ? -EIO : -EFAULT;
		uc->uc_mcontext.gregs[REG_RDX] = (greg_t)(uintptr_t)si->si_addr;
		/* rep movsb counts in %rcx, so that path parked fault_addr in %r8 */
		if (ip == (uintptr_t)mmapio__copy_rep)
			uc->uc_mcontext.gregs[REG_RCX] = uc->uc_mcontext.gregs[REG_R8];
		return;
	}
	forward(sig, si, ucv);
}

const char *mmapio_fault_method(void) { return "x86_64-fixup"; }
#else
/* initial-exec: a preloaded library's TLS is static, and a signal handler
 * must not trigger the lazy allocation of a dynamic TLS block. */
#define TLS __thread __attribute__((tls_model("initial-exec")))
static TLS sigjmp_buf *copy_jb;
static TLS int copy_sig;
static TLS void *copy_addr;

static void handler(int sig, siginfo_t *si, void *ucv)
{
	if (si->si_code > 0 && copy_jb) {
		sigjmp_buf *jb = copy_jb;
		copy_jb = NULL;
		copy_sig = sig;
		copy_addr = si->si_addr;
		siglongjmp(*jb, 1); /* SA_NODEFER: the mask needs no restoring */
	}
	forward(sig, si, ucv);
}

int mmapio__copy(void *dst, const void *src, size_t n, void **fault_addr)
{
	sigjmp_buf jb;
	if (sigsetjmp(jb, 0)) {
		if (fault_addr)
			*fault_addr = copy_addr;
		return copy_sig == SIGBUS ? -EIO : -EFAULT;
	}
	copy_jb = &jb;
	atomic_signal_fence(memory_order_seq_cst);
	memcpy(dst, src, n);
	atomic_signal_fence(memory_order_seq_cst);
	copy_jb = NULL;
	return 0;
}

int mmapio__probe_write(unsigned char *p)
{
	sigjmp_buf jb;
	if (sigsetjmp(jb, 0))
		return copy_sig == SIGBUS ? -EIO : -EFAULT;
	copy_jb = &jb;
	atomic_signal_fence(memory_order_seq_cst);
	int old = __atomic_fetch_or(p, 0, __ATOMIC_RELAXED); /* a write access: see the .S */
	atomic_signal_fence(memory_order_seq_cst);
	copy_jb = NULL;
	return old != 0;
}

const char *mmapio_fault_method(void) { return "portable-sigsetjmp"; }
#endif

static bool is_ours(const struct sigaction *a)
{
	return (a->sa_flags & SA_SIGINFO) && a->sa_sigaction == handler;
}

/* Record `a` as the program's handler for sig (index i). */
static void set_prog(int i, const struct sigaction *a)
{
	int next = !atomic_load(&prog_cur[i]);
	prog[i][next] = *a;
	atomic_store_explicit(&prog_cur[i], next, memory_order_release);
}

/*
 * Put our handler in front for SIGBUS and SIGSEGV. Idempotent; if someone
 * replaced ours since, their handler becomes the one we forward to.
 */
int mmapio_fault_install(void)
{
	static const int sigs[2] = { SIGBUS, SIGSEGV };
	struct sigaction ours, cur;
	int rc = 0;

	memset(&ours, 0, sizeof ours);
	ours.sa_sigaction = handler;
	/* SA_NODEFER: a fault inside a forwarded handler must reach us again.
	 * SA_ONSTACK: a program with an alternate stack (stack overflow
	 * handlers) gets its handler run there, as before. */
	ours.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK | SA_RESTART;
	sigemptyset(&ours.sa_mask);

	/*
	 * The core's fork handlers are registered here, at the first use of
	 * the library, not when a flusher or worker first starts: a program
	 * (or the shim) that registers its own handlers after this point has
	 * its prepare handler run before ours, so it can take its locks
	 * first, in the order it takes them when calling into the core.
	 */
	mmapio__flusher_init();
	mmapio__prewarm_init();
	pthread_mutex_lock(&install_lock);
	for (int i = 0; i < 2; i++) {
		if (real_sigaction(sigs[i], NULL, &cur) < 0) {
			rc = -errno;
			break;
		}
		if (is_ours(&cur))
			continue;
		set_prog(i, &cur);
		if (real_sigaction(sigs[i], &ours, NULL) < 0) {
			rc = -errno;
			break;
		}
	}
	if (rc == 0)
		atomic_store(&installed, 1);
	pthread_mutex_unlock(&install_lock);
	return rc;
}

int mmapio__fault_init(void)
{
	if (likely(atomic_load_explicit(&installed, memory_order_acquire)))
		return 0;
	return mmapio_fault_install();
}

int mmapio_fault_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	int i = sig_index(sig);
	if (i < 0)
		return real_sigaction(sig, act, old);
	int rc = mmapio__fault_init();
	if (rc < 0) {
		errno = -rc;
		return -1;
	}
	pthread_mutex_lock(&install_lock);
	if (old)
		*old = prog[i][atomic_load(&prog_cur[i])];
	if (act)
		set_prog(i, act);
	pthread_mutex_unlock(&install_lock);
	/* forward() may have reset the disposition to SIG_DFL: take it back. */
	return mmapio_fault_install() < 0 ? -1 : 0;
}

int mmapio_copy(void *dst, const void *src, size_t n, void **fault_addr)
{
	int rc = mmapio__fault_init();
	if (rc < 0)
		return rc;
	return mmapio__copy(dst, src, n, fault_addr);
}
