/*
 * test_fault.c - SIGBUS/SIGSEGV inside mmapio's copies become error returns;
 * every other fault still reaches the program's own handler (or kills it,
 * with SIG_DFL).
 *
 * Scenarios that depend on the process's signal state run in a fresh child
 * process: the test binary re-executes itself as
 *     test_fault --child <scenario> [args...]
 * so that no handler of cmocka or of an earlier test is around, and the
 * handler mmapio installs at the first mmapio_open() is the one under test.
 * The parent checks the child's exit status (exit code 0 = every check
 * passed; other codes name the failed check, and the child prints why).
 *
 * In-process tests call mmapio_fault_install() first: cmocka installs its
 * own SIGSEGV/SIGBUS handlers with signal() around every test, which
 * replaces mmapio's; mmapio_fault_install() is the documented way to put
 * mmapio's back in front (with cmocka's kept behind it).
 */
#include "tutil.h"
#include "testing.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/wait.h>

/* ------------------------------------------------------------------ */
/* child side                                                          */
/* ------------------------------------------------------------------ */

#define CFAIL(code, ...)                                                        \
	do {                                                                    \
		fprintf(stderr, "child %s:%d: ", __func__, __LINE__);            \
		fprintf(stderr, __VA_ARGS__);                                   \
		fprintf(stderr, "\n");                                          \
		fflush(stderr);                                                 \
		_exit(code);                                                    \
	} while (0)

static size_t c_ps;
static char *c_bad;		/* a PROT_NONE page for wild accesses */
static volatile sig_atomic_t c_hits;
static void *volatile c_addr;
static volatile sig_atomic_t c_signo, c_code, c_masked, c_ctx;
static sigjmp_buf c_env;
static int c_bus_fd = -1;	/* file whose size a plain SIGBUS handler fixes */

static void h_info_jump(int sig, siginfo_t *si, void *ctx)
{
	sigset_t cur;
	c_hits++;
	c_signo = sig;
	c_addr = si->si_addr;
	c_code = si->si_code;
	c_ctx = ctx != NULL;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	c_masked = sigismember(&cur, SIGUSR2) == 1 && sigismember(&cur, sig) == 1;
	siglongjmp(c_env, 1);
}

static void h_plain_fix_segv(int sig)
{
	sigset_t cur;
	c_hits++;
	c_signo = sig;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	c_masked = sigismember(&cur, SIGUSR2) == 1 && sigismember(&cur, sig) == 1;
	mprotect(c_bad, c_ps, PROT_READ | PROT_WRITE); /* the access is retried and succeeds */
}

static void h_plain_fix_bus(int sig)
{
	c_hits++;
	c_signo = sig;
	if (ftruncate(c_bus_fd, (off_t)(2 * c_ps)) != 0) /* the page gets backing */
		_exit(90);
}

static void c_setup_bad_page(void)
{
	c_ps = (size_t)sysconf(_SC_PAGESIZE);
	c_bad = mmap(NULL, c_ps, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (c_bad == MAP_FAILED)
		CFAIL(80, "mmap: %s", strerror(errno));
}

static mmapio_map *c_open(const char *path, int mode)
{
	mmapio_map *m = NULL;
	int r = mmapio_open(&m, path, mode, NULL);
	if (r != 0)
		CFAIL(81, "mmapio_open(%s) = %d", path, r);
	return m;
}

/* A library fault: must come back as -EFAULT without running the program's handler. */
static void c_library_fault(mmapio_map *m, int expect_hits)
{
	char ok[16];
	ssize_t r = mmapio_read(m, 0, c_bad, 16);
	if (r != -EFAULT)
		CFAIL(20, "mmapio_read into PROT_NONE = %zd, expected -EFAULT", r);
	r = mmapio_read(m, 0, (void *)1, 16);
	if (r != -EFAULT)
		CFAIL(21, "mmapio_read into (void*)1 = %zd, expected -EFAULT", r);
	void *fa = NULL;
	int rc = mmapio_copy(ok, c_bad + 8, 8, &fa);
	if (rc != -EFAULT || (char *)fa < c_bad + 8 || (char *)fa >= c_bad + 16)
		CFAIL(22, "mmapio_copy from PROT_NONE = %d fa %p, expected -EFAULT at %p", rc, fa,
		      (void *)(c_bad + 8));
	if (c_hits != expect_hits)
		CFAIL(23, "the program's handler ran for a fault inside mmapio (%d hits, want %d)",
		      (int)c_hits, expect_hits);
}

/* A wild write outside the library: the program's handler must run. */
static void c_wild_write(int info_style, int expect_hits)
{
	if (info_style) {
		if (sigsetjmp(c_env, 1) == 0) {
			*(volatile char *)(c_bad + 5) = 1;
			CFAIL(30, "write to a PROT_NONE page did not fault");
		}
		if (c_hits != expect_hits)
			CFAIL(31, "handler hits %d, want %d", (int)c_hits, expect_hits);
		if (c_signo != SIGSEGV || c_addr != c_bad + 5 || c_code != SEGV_ACCERR)
			CFAIL(32, "handler got sig %d addr %p code %d, want SIGSEGV %p SEGV_ACCERR",
			      (int)c_signo, c_addr, (int)c_code, (void *)(c_bad + 5));
		if (!c_ctx)
			CFAIL(33, "handler got no ucontext");
	} else {
		*(volatile char *)(c_bad + 5) = 42;
		if (c_hits != expect_hits)
			CFAIL(34, "handler hits %d, want %d", (int)c_hits, expect_hits);
		if (*(volatile char *)(c_bad + 5) != 42 || c_signo != SIGSEGV)
			CFAIL(35, "retried write lost or wrong signal %d", (int)c_signo);
		mprotect(c_bad, c_ps, PROT_NONE);
	}
	if (!c_masked)
		CFAIL(36, "sa_mask (SIGUSR2) and the signal itself were not blocked in the handler");
	/* after the handler, nothing stays blocked */
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	if (sigismember(&cur, SIGSEGV) || sigismember(&cur, SIGUSR2))
		CFAIL(37, "signal mask not restored after the handler");
}

static void c_make_act(struct sigaction *a, int info_style, int sig)
{
	memset(a, 0, sizeof *a);
	sigemptyset(&a->sa_mask);
	sigaddset(&a->sa_mask, SIGUSR2);
	if (info_style) {
		a->sa_sigaction = h_info_jump;
		a->sa_flags = SA_SIGINFO;
	} else {
		a->sa_handler = sig == SIGSEGV ? h_plain_fix_segv : h_plain_fix_bus;
	}
}

/*
 * Program SIGSEGV handler, installed:
 *   how = "before": with sigaction() before the first mmapio_open()
 *   how = "after":  with mmapio_fault_sigaction() after it
 *   how = "reinstall": with sigaction() after mmapio_open(), then mmapio_fault_install()
 */
static int child_prog_segv(const char *path, const char *how, const char *style)
{
	int info = !strcmp(style, "siginfo");
	c_setup_bad_page();
	struct sigaction act, q;
	c_make_act(&act, info, SIGSEGV);
	mmapio_map *m;
	if (!strcmp(how, "before")) {
		if (sigaction(SIGSEGV, &act, NULL))
			CFAIL(40, "sigaction");
		m = c_open(path, MMAPIO_RDONLY);
	} else if (!strcmp(how, "after")) {
		m = c_open(path, MMAPIO_RDONLY);
		struct sigaction old;
		memset(&old, 0x55, sizeof old);
		if (mmapio_fault_sigaction(SIGSEGV, &act, &old) != 0)
			CFAIL(41, "mmapio_fault_sigaction failed");
		if (old.sa_handler != SIG_DFL)
			CFAIL(42, "old disposition is not SIG_DFL");
		/* mmapio's handler stays the installed one */
		sigaction(SIGSEGV, NULL, &q);
		if ((q.sa_flags & SA_SIGINFO) ? q.sa_sigaction == h_info_jump
					      : q.sa_handler == h_plain_fix_segv)
			CFAIL(43, "mmapio_fault_sigaction replaced mmapio's handler");
		/* and reports ours back */
		memset(&q, 0, sizeof q);
		if (mmapio_fault_sigaction(SIGSEGV, NULL, &q) != 0)
			CFAIL(44, "mmapio_fault_sigaction(NULL) failed");
		if (info ? !(q.sa_flags & SA_SIGINFO) || q.sa_sigaction != h_info_jump
			 : (q.sa_flags & SA_SIGINFO) || q.sa_handler != h_plain_fix_segv)
			CFAIL(45, "mmapio_fault_sigaction does not report the program's handler");
		if (!sigismember(&q.sa_mask, SIGUSR2))
			CFAIL(46, "sa_mask not kept");
	} else {
		m = c_open(path, MMAPIO_RDONLY);
		if (sigaction(SIGSEGV, &act, NULL))
			CFAIL(47, "sigaction");
		if (mmapio_fault_install() != 0)
			CFAIL(48, "mmapio_fault_install failed");
	}
	c_library_fault(m, 0);
	c_wild_write(info, 1);
	c_wild_write(info, 2); /* again: still installed, mask not stuck */
	c_library_fault(m, 2);
	char b[8];
	if (mmapio_read(m, 0, b, 8) != 8 || tu_check(b, 0, 8) != -1)
		CFAIL(49, "normal read after faults failed");
	mmapio_close(m);
	return 0;
}

/*
 * Program SIGBUS handler for a SIGBUS outside the library: a raw mapping of
 * a 1-page file, 2 pages long; the second page is past EOF.
 *   how = "before" | "after" (see child_prog_segv)
 */
static int child_prog_bus(const char *path, const char *rawpath, const char *how,
			  const char *style)
{
	int info = !strcmp(style, "siginfo");
	c_setup_bad_page();
	struct sigaction act;
	c_make_act(&act, info, SIGBUS);
	mmapio_map *m;
	if (!strcmp(how, "before")) {
		if (sigaction(SIGBUS, &act, NULL))
			CFAIL(50, "sigaction");
		m = c_open(path, MMAPIO_RDONLY);
	} else {
		m = c_open(path, MMAPIO_RDONLY);
		if (mmapio_fault_sigaction(SIGBUS, &act, NULL) != 0)
			CFAIL(51, "mmapio_fault_sigaction failed");
	}
	c_bus_fd = open(rawpath, O_RDWR);
	if (c_bus_fd < 0 || ftruncate(c_bus_fd, (off_t)c_ps))
		CFAIL(52, "open/ftruncate %s", rawpath);
	char *raw = mmap(NULL, 2 * c_ps, PROT_READ, MAP_SHARED, c_bus_fd, 0);
	if (raw == MAP_FAILED)
		CFAIL(53, "mmap");

	/* inside the library: -EIO, program handler not run */
	char b[16];
	void *fa = NULL;
	int rc = mmapio_copy(b, raw + c_ps + 16, 16, &fa);
	if (rc != -EIO || (char *)fa < raw + c_ps + 16 || (char *)fa >= raw + c_ps + 32)
		CFAIL(54, "mmapio_copy from past EOF = %d fa %p, want -EIO at %p", rc, fa,
		      (void *)(raw + c_ps + 16));
	if (c_hits)
		CFAIL(55, "program handler ran for a library SIGBUS");

	/* outside: the program's handler */
	if (info) {
		if (sigsetjmp(c_env, 1) == 0) {
			(void)*(volatile char *)(raw + c_ps + 3);
			CFAIL(56, "read past EOF did not raise SIGBUS");
		}
		if (c_hits != 1 || c_signo != SIGBUS || c_addr != raw + c_ps + 3 ||
		    c_code != BUS_ADRERR)
			CFAIL(57, "handler: hits %d sig %d addr %p code %d", (int)c_hits, (int)c_signo,
			      c_addr, (int)c_code);
		if (!c_masked)
			CFAIL(58, "sa_mask not applied during the handler");
	} else {
		char v = *(volatile char *)(raw + c_ps + 3); /* handler extends the file */
		if (c_hits != 1 || c_signo != SIGBUS || v != 0)
			CFAIL(59, "handler: hits %d sig %d v %d", (int)c_hits, (int)c_signo, v);
		if (ftruncate(c_bus_fd, (off_t)c_ps) != 0)
			CFAIL(67, "ftruncate back to one page: %s", strerror(errno));
	}
	/* the library still recovers afterwards */
	rc = mmapio_copy(b, raw + c_ps + 16, 16, &fa);
	if (rc != -EIO)
		CFAIL(60, "second mmapio_copy from past EOF = %d", rc);
	c_library_fault(m, 1);
	if (c_hits != 1)
		CFAIL(61, "hits %d after library faults", (int)c_hits);
	munmap(raw, 2 * c_ps);
	close(c_bus_fd);
	mmapio_close(m);
	return 0;
}

/* Default disposition: after mmapio_open(), a wild access must still kill us. */
static int child_dfl_kills(const char *path, const char *rawpath, const char *sig)
{
	struct rlimit rl = { 0, 0 };
	setrlimit(RLIMIT_CORE, &rl);
	c_setup_bad_page();
	mmapio_map *m = c_open(path, MMAPIO_RDONLY);
	c_library_fault(m, 0); /* mmapio's handler is in place and working */
	if (!strcmp(sig, "segv")) {
		*(volatile char *)(c_bad + 1) = 1;
	} else if (!strcmp(sig, "raise")) {
		raise(SIGSEGV);
	} else {
		int fd = open(rawpath, O_RDWR);
		if (fd < 0 || ftruncate(fd, (off_t)c_ps))
			CFAIL(70, "open/ftruncate");
		char *raw = mmap(NULL, 2 * c_ps, PROT_READ, MAP_SHARED, fd, 0);
		if (raw == MAP_FAILED)
			CFAIL(71, "mmap");
		(void)*(volatile char *)(raw + c_ps);
	}
	return 99; /* survived */
}

/*
 * SA_RESETHAND: the program's handler runs once, then the disposition is
 * SIG_DFL (reported so by mmapio_fault_sigaction) and the next wild fault
 * kills the process with SIGSEGV. The parent expects that death.
 */
static int child_resethand(const char *path)
{
	struct rlimit rl = { 0, 0 };
	setrlimit(RLIMIT_CORE, &rl);
	c_setup_bad_page();
	struct sigaction act, q;
	c_make_act(&act, 1, SIGSEGV);
	act.sa_flags |= SA_RESETHAND;
	if (sigaction(SIGSEGV, &act, NULL))
		CFAIL(62, "sigaction");
	mmapio_map *m = c_open(path, MMAPIO_RDONLY);
	c_library_fault(m, 0);
	c_wild_write(1, 1);
	c_library_fault(m, 1); /* mmapio's own handler is still in front */
	memset(&q, 0, sizeof q);
	if (mmapio_fault_sigaction(SIGSEGV, NULL, &q) != 0 || q.sa_handler != SIG_DFL)
		CFAIL(63, "after SA_RESETHAND the program's disposition is not SIG_DFL");
	*(volatile char *)(c_bad + 1) = 1; /* must kill */
	return 99;
}

/*
 * Signals sent with raise()/kill() (si_code <= 0) are not faults: with a
 * program handler it runs (and may simply return); with SIG_IGN they are
 * dropped; with SIG_DFL they kill (see child_dfl_kills "raise").
 */
static void h_count_info(int sig, siginfo_t *si, void *ctx)
{
	(void)ctx;
	c_hits++;
	c_signo = sig;
	c_code = si->si_code;
}

static int child_raise(const char *path, const char *disp)
{
	struct sigaction act;
	memset(&act, 0, sizeof act);
	sigemptyset(&act.sa_mask);
	if (!strcmp(disp, "handler")) {
		act.sa_sigaction = h_count_info;
		act.sa_flags = SA_SIGINFO;
	} else {
		act.sa_handler = SIG_IGN;
	}
	if (sigaction(SIGSEGV, &act, NULL) || sigaction(SIGBUS, &act, NULL))
		CFAIL(64, "sigaction");
	c_setup_bad_page();
	mmapio_map *m = c_open(path, MMAPIO_RDONLY);
	c_library_fault(m, 0);
	raise(SIGSEGV);
	raise(SIGBUS);
	int want = !strcmp(disp, "handler") ? 2 : 0;
	if (c_hits != want)
		CFAIL(65, "raise(): program handler ran %d times, want %d", (int)c_hits, want);
	if (want && (c_signo != SIGBUS || c_code != SI_TKILL))
		CFAIL(66, "raise(): got sig %d code %d, want SIGBUS SI_TKILL", (int)c_signo, (int)c_code);
	c_library_fault(m, want);
	mmapio_close(m);
	if (!strcmp(disp, "ignore-then-fault")) {
		struct rlimit rl = { 0, 0 };
		setrlimit(RLIMIT_CORE, &rl);
		*(volatile char *)(c_bad + 1) = 1; /* an ignored SIGSEGV fault still kills */
		return 99;
	}
	return 0;
}

/* A fresh process: the first mmapio_open() installs the handler by itself. */
static int child_efault_after_open(const char *path)
{
	c_setup_bad_page();
	mmapio_map *m = c_open(path, MMAPIO_RDWR);
	c_library_fault(m, 0);
	ssize_t r = mmapio_write(m, 0, c_bad, 16);
	if (r != -EFAULT)
		CFAIL(24, "mmapio_write from PROT_NONE = %zd", r);
	mmapio_close(m);
	return 0;
}

static int read_cmd(int fd, int block)
{
	struct pollfd p = { fd, POLLIN, 0 };
	if (poll(&p, 1, block ? 10000 : 0) <= 0)
		return block ? -2 : -1;
	char c;
	if (read(fd, &c, 1) != 1)
		return -2;
	return c;
}

static void send_byte(int fd, char c)
{
	if (write(fd, &c, 1) != 1)
		_exit(85);
}

/*
 * Reader (or writer) that keeps going while the parent truncates the file.
 * Protocol on the pipes: child sends 'R' when mapped; parent shrinks the file
 * step by step and finally to 0, then sends 'T'; child checks and sends 'A';
 * parent restores the file and sends 'G'; child refreshes, checks, sends 'B';
 * parent truncates to 0 and sends 'Z'; child checks that a read (with no
 * refresh in between) faults, recovers and returns 0.
 */
static int child_truncate(const char *path, const char *mode, int cmd_fd, int ack_fd)
{
	int rw = !strcmp(mode, "rw");
	mmapio_map *m = c_open(path, rw ? MMAPIO_RDWR : MMAPIO_RDONLY);
	const uint64_t N0 = mmapio_size(m);
	size_t cap = 3 * (size_t)sysconf(_SC_PAGESIZE);
	uint8_t *buf = malloc(cap), *src = malloc(cap);
	if (!buf || !src || N0 == 0)
		CFAIL(1, "setup");
	send_byte(ack_fd, 'R');

	uint64_t seed = 88172645463325252ull;
	unsigned long n = 0, shorts = 0, eios = 0;
	int c;
	while ((c = (n % 32) ? -1 : read_cmd(cmd_fd, 0)) != 'T') {
		if (c == -2)
			CFAIL(2, "parent went away");
		seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
		off_t off = (off_t)(seed % N0);
		size_t len = 1 + (size_t)(seed >> 33) % cap;
		ssize_t r;
		if (rw && (n & 3) == 1) {
			tu_fill(src, (uint64_t)off, len); /* rewrite the same bytes */
			r = mmapio_write(m, off, src, len);
		} else {
			r = mmapio_read(m, off, buf, len);
			/* zeros are fine: the tail of a partial last page past the new
			 * EOF reads as zeros until a fault reveals the new size */
			for (ssize_t i = 0; i < r; i++)
				if (buf[i] != tu_pat((uint64_t)off + (uint64_t)i) && buf[i] != 0)
					CFAIL(3, "wrong byte at %lld", (long long)off + (long long)i);
		}
		if (r == -EIO)
			eios++;
		else if (r < 0 || (size_t)r > len)
			CFAIL(4, "%s(off %lld, len %zu) = %zd", rw && (n & 3) == 1 ? "write" : "read",
			      (long long)off, len, r);
		else if ((size_t)r < len)
			shorts++;
		if (n % 4099 == 0 && mmapio_refresh(m) != 0)
			CFAIL(5, "mmapio_refresh failed");
		n++;
	}
	/* the file is now empty: pread would return 0 */
	ssize_t r = mmapio_read(m, 0, buf, 100);
	if (r != 0)
		CFAIL(6, "read at 0 of an emptied file = %zd, want 0", r);
	if (rw && (r = mmapio_write(m, 10, src, 100)) != 0)
		CFAIL(7, "write at 10 of an emptied file = %zd, want 0", r);
	if (mmapio_refresh(m) != 0 || mmapio_size(m) != 0)
		CFAIL(8, "after refresh size %llu", (unsigned long long)mmapio_size(m));
	send_byte(ack_fd, 'A');

	if ((c = read_cmd(cmd_fd, 1)) != 'G')
		CFAIL(9, "expected G, got %d", c);
	if (mmapio_refresh(m) != 0 || mmapio_size(m) != N0)
		CFAIL(10, "size after regrow %llu", (unsigned long long)mmapio_size(m));
	if ((r = mmapio_read(m, (off_t)(N0 - cap), buf, cap)) != (ssize_t)cap ||
	    tu_check(buf, N0 - cap, cap) != -1)
		CFAIL(11, "read after regrow = %zd", r);
	struct mmapio_stats st0, st1;
	mmapio_get_stats(m, &st0);
	send_byte(ack_fd, 'B');

	if ((c = read_cmd(cmd_fd, 1)) != 'Z')
		CFAIL(12, "expected Z, got %d", c);
	/* no refresh: the map still believes N0; the copy must fault and recover */
	r = rw ? mmapio_write(m, (off_t)(N0 / 2), src, 100) : mmapio_read(m, (off_t)(N0 / 2), buf, 100);
	if (r != 0)
		CFAIL(13, "%s in a truncated region = %zd, want 0", rw ? "write" : "read", r);
	mmapio_get_stats(m, &st1);
	if (st1.faults <= st0.faults)
		CFAIL(14, "stats.faults did not count the recovered fault");
	if (mmapio_size(m) != 0)
		CFAIL(15, "the fault did not update the size (%llu)", (unsigned long long)mmapio_size(m));
	if (mmapio_read(m, 0, buf, 10) != 0)
		CFAIL(16, "read after recovery");
	mmapio_close(m);
	fprintf(stderr, "child_truncate(%s): %lu ops, %lu short, %lu EIO, %llu faults recovered\n",
		mode, n, shorts, eios, (unsigned long long)st1.faults);
	free(buf);
	free(src);
	return 0;
}

static int child_main(int argc, char **argv)
{
	/* argv[0] = scenario */
	const char *s = argv[0];
	if (!strcmp(s, "prog-segv") && argc == 4)
		return child_prog_segv(argv[1], argv[2], argv[3]);
	if (!strcmp(s, "prog-bus") && argc == 5)
		return child_prog_bus(argv[1], argv[2], argv[3], argv[4]);
	if (!strcmp(s, "dfl-kills") && argc == 4)
		return child_dfl_kills(argv[1], argv[2], argv[3]);
	if (!strcmp(s, "resethand") && argc == 2)
		return child_resethand(argv[1]);
	if (!strcmp(s, "raise") && argc == 3)
		return child_raise(argv[1], argv[2]);
	if (!strcmp(s, "efault-after-open") && argc == 2)
		return child_efault_after_open(argv[1]);
	if (!strcmp(s, "truncate") && argc == 5)
		return child_truncate(argv[1], argv[2], atoi(argv[3]), atoi(argv[4]));
	fprintf(stderr, "unknown child scenario %s\n", s);
	return 127;
}

/* ------------------------------------------------------------------ */
/* parent side                                                         */
/* ------------------------------------------------------------------ */

static char self_exe[PATH_MAX];

/* Start `self --child args...`; returns the pid. */
static pid_t spawn_child(const char *const *args, int nargs)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		char *av[16];
		av[0] = (char *)"test_fault";
		av[1] = (char *)"--child";
		for (int i = 0; i < nargs && i < 13; i++)
			av[2 + i] = (char *)args[i];
		av[2 + nargs] = NULL;
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execv(self_exe, av);
		_exit(126);
	}
	return pid;
}

/* Wait up to timeout_ms; kills the child and fails on timeout. */
static int wait_child(pid_t pid, unsigned timeout_ms)
{
	int st = 0;
	uint64_t end = tu_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return st;
		if (r < 0)
			fail_msg("waitpid: %s", strerror(errno));
		if (tu_now_ns() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			fail_msg("child %d timed out", (int)pid);
		}
		tu_sleep_ms(2);
	}
}

static void expect_exit0(int st, const char *what)
{
	if (WIFSIGNALED(st))
		fail_msg("%s: child killed by signal %d (%s)", what, WTERMSIG(st), strsignal(WTERMSIG(st)));
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("%s: child exited with code %d", what, WEXITSTATUS(st));
}

static const char *make_named(char *buf, size_t cap, const char *name, uint64_t size)
{
	tu_path(buf, cap, name);
	if (tu_make_file(buf, size))
		fail_msg("cannot create %s", buf);
	return buf;
}

static void run_truncate(const char *mode)
{
	char path[PATH_MAX];
	const uint64_t N0 = 64 * tu_ps;
	make_named(path, sizeof path, "trunc", N0);
	int cmd[2], ack[2];
	assert_int_equal(pipe(cmd), 0);
	assert_int_equal(pipe(ack), 0);
	char a1[16], a2[16];
	snprintf(a1, sizeof a1, "%d", cmd[0]);
	snprintf(a2, sizeof a2, "%d", ack[1]);
	const char *args[] = { "truncate", path, mode, a1, a2 };
	/* a child that died must fail the test, not kill us with SIGPIPE */
	struct sigaction ign, old_pipe;
	memset(&ign, 0, sizeof ign);
	ign.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &ign, &old_pipe);
	pid_t pid = spawn_child(args, 5);
	assert_true(pid > 0);
	close(cmd[0]);
	close(ack[1]);
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	char c = 0;
	struct pollfd p = { ack[0], POLLIN, 0 };
	int ok = poll(&p, 1, 5000) == 1 && read(ack[0], &c, 1) == 1 && c == 'R';

	/* shrink step by step while the child hammers */
	const uint64_t steps[] = { 48 * tu_ps, 40 * tu_ps + 77, 20 * tu_ps, 7 * tu_ps + 100,
				   3 * tu_ps, tu_ps + 1, tu_ps, 1, 0 };
	for (size_t i = 0; ok && i < sizeof steps / sizeof steps[0]; i++) {
		tu_sleep_ms(15);
		ok = ftruncate(fd, (off_t)steps[i]) == 0;
	}
	tu_sleep_ms(15);
	/* each command is sent only after the previous acknowledgement */
	const char cmds[] = { 'T', 'G', 'Z' }, acks[] = { 'A', 'B', 0 };
	for (int i = 0; ok && i < 3; i++) {
		if (cmds[i] == 'G') {
			ok = tu_make_file(path, N0) == 0; /* same inode: O_TRUNC + rewrite */
		} else if (cmds[i] == 'Z') {
			ok = ftruncate(fd, 0) == 0;
		}
		ok = ok && write(cmd[1], &cmds[i], 1) == 1;
		if (ok && acks[i]) {
			p.revents = 0;
			ok = poll(&p, 1, 10000) == 1 && read(ack[0], &c, 1) == 1 && c == acks[i];
		}
	}
	int st = wait_child(pid, 15000);
	close(fd);
	close(cmd[1]);
	close(ack[0]);
	sigaction(SIGPIPE, &old_pipe, NULL);
	expect_exit0(st, "truncate-under-reader");
	assert_true(ok);
}

/* (1) truncation by another process while a child reads. */
static void test_truncate_under_reader(void **state)
{
	(void)state;
	run_truncate("ro");
}

static void test_truncate_under_writer(void **state)
{
	(void)state;
	run_truncate("rw");
}

/* A fresh process: mmapio_open() installs the handler; bad buffers give -EFAULT. */
static void test_efault_fresh_process(void **state)
{
	(void)state;
	char path[PATH_MAX];
	make_named(path, sizeof path, "fresh", 2 * tu_ps);
	const char *args[] = { "efault-after-open", path };
	expect_exit0(wait_child(spawn_child(args, 2), 10000), "efault-after-open");
}

/* (2) bad user buffers, in this process. */
static void test_bad_user_buffer(void **state)
{
	(void)state;
	T_OK(mmapio_fault_install());
	char path[PATH_MAX];
	make_named(path, sizeof path, "badbuf", 3 * tu_ps);
	mmapio_map *m = NULL;
	T_OK(mmapio_open(&m, path, MMAPIO_RDWR, NULL));
	T_OK(mmapio_fault_install());
	char *pg = mmap(NULL, 3 * tu_ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(pg != MAP_FAILED);
	char *none = pg + tu_ps, *ro = pg + 2 * tu_ps;
	assert_int_equal(mprotect(none, tu_ps, PROT_NONE), 0);
	assert_int_equal(mprotect(ro, tu_ps, PROT_READ), 0);
	struct mmapio_stats s0, s1;
	mmapio_get_stats(m, &s0);

	T_EQ(mmapio_read(m, 0, (void *)1, 100), -EFAULT);
	T_EQ(mmapio_read(m, 10, none, 100), -EFAULT);
	T_EQ(mmapio_read(m, 10, ro, 100), -EFAULT);	    /* read-only destination */
	T_EQ(mmapio_read(m, 0, none, 3 * tu_ps), -EFAULT); /* whole-file read */
	T_EQ(mmapio_write(m, 0, none, 100), -EFAULT);
	T_EQ(mmapio_write(m, 0, (const void *)1, 100), -EFAULT);
	mmapio_get_stats(m, &s1);
	T_EQ(s1.faults - s0.faults, 6);

	/* the map is unharmed: the file's bytes are intact and I/O works */
	char b[200];
	T_EQ(mmapio_read(m, 0, b, sizeof b), sizeof b);
	T_EQ(tu_check(b, 0, sizeof b), -1);
	T_EQ(mmapio_read(m, 10, none - 50, 50), 50); /* valid right up to the PROT_NONE page */
	T_EQ(tu_check(none - 50, 10, 50), -1);
	T_EQ(mmapio_write(m, 0, b, 100), 100);
	T_EQ(mmapio_read(m, 0, pg, 100), 100);
	T_EQ(tu_check(pg, 0, 100), -1);
	munmap(pg, 3 * tu_ps);
	T_OK(mmapio_close(m));
}

static void test_copy_bad_pointers(void **state)
{
	(void)state;
	T_OK(mmapio_fault_install());
	char *pg = mmap(NULL, 2 * tu_ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(pg != MAP_FAILED);
	char *none = pg + tu_ps;
	assert_int_equal(mprotect(none, tu_ps, PROT_NONE), 0);
	char good[256], src[256];
	for (int i = 0; i < 256; i++)
		src[i] = (char)i;

	void *fa = (void *)0xdead;
	T_OK(mmapio_copy(good, src, sizeof src, &fa));
	assert_memory_equal(good, src, sizeof src);
	T_OK(mmapio_copy(good, src, 10, NULL));
	T_OK(mmapio_copy(none, (const void *)1, 0, &fa)); /* nothing to copy */

	fa = NULL;
	T_EQ(mmapio_copy(good, none, 100, &fa), -EFAULT); /* bad source */
	assert_true((char *)fa >= none && (char *)fa < none + 100);
	fa = NULL;
	T_EQ(mmapio_copy(none + 17, good, 100, &fa), -EFAULT); /* bad destination */
	assert_true((char *)fa >= none + 17 && (char *)fa < none + 117);
	fa = NULL;
	T_EQ(mmapio_copy(good, (const void *)1, 64, &fa), -EFAULT);
	assert_true((uintptr_t)fa >= 1 && (uintptr_t)fa < 65);
	fa = NULL;
	T_EQ(mmapio_copy((void *)8, good, 64, &fa), -EFAULT);
	assert_true((uintptr_t)fa >= 8 && (uintptr_t)fa < 72);
	/* straddling: the first 40 bytes are valid, the fault is in the PROT_NONE page */
	fa = NULL;
	T_EQ(mmapio_copy(good, none - 40, 200, &fa), -EFAULT);
	assert_true((char *)fa >= none && (char *)fa < none + 160);
	T_EQ(mmapio_copy(good, none, 100, NULL), -EFAULT);
	/* every size class, each reporting its fault address through
	 * fault_addr (the rep movsb class keeps it in another register) */
	static char big[5 * 4096];
	static const size_t sizes[] = { 1, 3, 7, 12, 24, 48, 100, 1500, 2049, 8000 };
	for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
		size_t n = sizes[k];
		fa = NULL;
		T_EQ(mmapio_copy(big, none, n, &fa), -EFAULT);
		assert_true((char *)fa >= none && (char *)fa < none + n);
		fa = NULL;
		T_EQ(mmapio_copy(none, big, n, &fa), -EFAULT);
		assert_true((char *)fa >= none && (char *)fa < none + n);
		fa = (void *)0xdead;
		T_OK(mmapio_copy(big, big + n + 8, n, &fa));
		assert_ptr_equal(fa, (void *)0xdead);
	}

	/* SIGBUS: past EOF of a raw shared mapping */
	char path[PATH_MAX];
	make_named(path, sizeof path, "copybus", tu_ps);
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	char *raw = mmap(NULL, 2 * tu_ps, PROT_READ, MAP_SHARED, fd, 0);
	assert_true(raw != MAP_FAILED);
	fa = NULL;
	T_EQ(mmapio_copy(good, raw + tu_ps + 8, 100, &fa), -EIO);
	assert_true((char *)fa >= raw + tu_ps + 8 && (char *)fa < raw + tu_ps + 108);
	fa = NULL;
	T_EQ(mmapio_copy(good, raw + tu_ps - 50, 100, &fa), -EIO);
	assert_true((char *)fa >= raw + tu_ps && (char *)fa < raw + tu_ps + 50);
	T_OK(mmapio_copy(good, raw, 100, &fa));
	T_EQ(tu_check(good, 0, 100), -1);
	munmap(raw, 2 * tu_ps);
	close(fd);
	munmap(pg, 2 * tu_ps);
}

struct copy_thr {
	char *none;
	atomic_int bad;
};

static void *copy_thread(void *a)
{
	struct copy_thr *t = a;
	char good[64], src[64];
	memset(src, 7, sizeof src);
	for (int i = 0; i < 4000 && !atomic_load(&t->bad); i++) {
		void *fa = NULL;
		if (i & 1) {
			if (mmapio_copy(good, t->none + (i % 64), 32, &fa) != -EFAULT ||
			    (char *)fa != t->none + (i % 64))
				atomic_store(&t->bad, 1);
		} else if (mmapio_copy(good, src, sizeof src, &fa) != 0 || good[63] != 7) {
			atomic_store(&t->bad, 2);
		}
	}
	return NULL;
}

/* Faults in several threads at once are each recovered in their own thread. */
static void test_copy_faults_threads(void **state)
{
	(void)state;
	T_OK(mmapio_fault_install());
	struct copy_thr t;
	t.none = mmap(NULL, tu_ps, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(t.none != MAP_FAILED);
	atomic_init(&t.bad, 0);
	pthread_t th[3];
	for (int i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&th[i], NULL, copy_thread, &t), 0);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	T_EQ(atomic_load(&t.bad), 0);
	munmap(t.none, tu_ps);
}

static void run_child_ok(const char *const *args, int n, const char *what)
{
	expect_exit0(wait_child(spawn_child(args, n), 10000), what);
}

/* (3) program SIGSEGV handlers, both styles, installed before and after mmapio. */
static void test_program_segv_handler(void **state)
{
	(void)state;
	char path[PATH_MAX];
	make_named(path, sizeof path, "progsegv", 2 * tu_ps);
	const char *hows[] = { "before", "after", "reinstall" };
	const char *styles[] = { "siginfo", "plain" };
	for (int h = 0; h < 3; h++)
		for (int s = 0; s < 2; s++) {
			char what[64];
			snprintf(what, sizeof what, "prog-segv %s %s", hows[h], styles[s]);
			const char *args[] = { "prog-segv", path, hows[h], styles[s] };
			run_child_ok(args, 4, what);
		}
}

/* (4) SIG_DFL still kills, with the right signal. */
static void test_sig_dfl_still_kills(void **state)
{
	(void)state;
	char path[PATH_MAX], raw[PATH_MAX];
	make_named(path, sizeof path, "dfl", 2 * tu_ps);
	make_named(raw, sizeof raw, "dflraw", tu_ps);
	const char *sigs[] = { "segv", "bus", "raise" };
	const int want[] = { SIGSEGV, SIGBUS, SIGSEGV };
	for (int i = 0; i < 3; i++) {
		const char *args[] = { "dfl-kills", path, raw, sigs[i] };
		int st = wait_child(spawn_child(args, 4), 10000);
		if (WIFEXITED(st))
			fail_msg("dfl-kills %s: child exited with code %d instead of dying", sigs[i],
				 WEXITSTATUS(st));
		assert_true(WIFSIGNALED(st));
		T_EQ(WTERMSIG(st), want[i]);
	}
}

static void expect_killed(int st, int sig, const char *what)
{
	if (WIFEXITED(st))
		fail_msg("%s: child exited with code %d instead of dying", what, WEXITSTATUS(st));
	assert_true(WIFSIGNALED(st));
	if (WTERMSIG(st) != sig)
		fail_msg("%s: child killed by signal %d, want %d", what, WTERMSIG(st), sig);
}

/* SA_RESETHAND: one run of the program's handler, then the default kills. */
static void test_program_handler_resethand(void **state)
{
	(void)state;
	char path[PATH_MAX];
	make_named(path, sizeof path, "resethand", 2 * tu_ps);
	const char *args[] = { "resethand", path };
	expect_killed(wait_child(spawn_child(args, 2), 10000), SIGSEGV, "resethand");
}

/* Signals from raise()/kill() reach the program's handler, or are ignored. */
static void test_raised_signals(void **state)
{
	(void)state;
	char path[PATH_MAX];
	make_named(path, sizeof path, "raise", 2 * tu_ps);
	const char *a1[] = { "raise", path, "handler" };
	run_child_ok(a1, 3, "raise handler");
	const char *a2[] = { "raise", path, "ignore" };
	run_child_ok(a2, 3, "raise ignore");
	const char *a3[] = { "raise", path, "ignore-then-fault" };
	expect_killed(wait_child(spawn_child(a3, 3), 10000), SIGSEGV, "raise ignore-then-fault");
}

/* (5) SIGBUS outside the library goes to the program's SIGBUS handler. */
static void test_program_sigbus_handler(void **state)
{
	(void)state;
	char path[PATH_MAX], raw[PATH_MAX];
	make_named(path, sizeof path, "progbus", 2 * tu_ps);
	make_named(raw, sizeof raw, "progbusraw", tu_ps);
	const char *hows[] = { "before", "after" };
	const char *styles[] = { "siginfo", "plain" };
	for (int h = 0; h < 2; h++)
		for (int s = 0; s < 2; s++) {
			char what[64];
			snprintf(what, sizeof what, "prog-bus %s %s", hows[h], styles[s]);
			const char *args[] = { "prog-bus", path, raw, hows[h], styles[s] };
			run_child_ok(args, 5, what);
		}
}

/* Other signals pass straight through mmapio_fault_sigaction. */
static volatile sig_atomic_t usr1_hits;
static void on_usr1(int sig)
{
	(void)sig;
	usr1_hits++;
}

static void test_fault_sigaction_other_signals(void **state)
{
	(void)state;
	struct sigaction a, old, cur;
	memset(&a, 0, sizeof a);
	a.sa_handler = on_usr1;
	sigemptyset(&a.sa_mask);
	T_OK(mmapio_fault_sigaction(SIGUSR1, &a, &old));
	assert_int_equal(sigaction(SIGUSR1, NULL, &cur), 0);
	assert_true(cur.sa_handler == on_usr1);
	usr1_hits = 0;
	raise(SIGUSR1);
	T_EQ(usr1_hits, 1);
	T_OK(mmapio_fault_sigaction(SIGUSR1, &old, NULL));
}

/* (6) */
static void test_fault_method(void **state)
{
	(void)state;
	const char *s = mmapio_fault_method();
	assert_non_null(s);
	assert_true(strlen(s) > 0);
	if (strcmp(s, "x86_64-fixup") && strcmp(s, "portable-sigsetjmp"))
		fail_msg("unexpected fault method \"%s\"", s);
#if defined(__x86_64__)
	print_message("fault method: %s\n", s);
#endif
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "--child"))
		return child_main(argc - 2, argv + 2);
	ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
	if (n <= 0) {
		perror("readlink /proc/self/exe");
		return 1;
	}
	self_exe[n] = 0;

	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fault_method),
		cmocka_unit_test(test_truncate_under_reader),
		cmocka_unit_test(test_truncate_under_writer),
		cmocka_unit_test(test_efault_fresh_process),
		cmocka_unit_test(test_bad_user_buffer),
		cmocka_unit_test(test_copy_bad_pointers),
		cmocka_unit_test(test_copy_faults_threads),
		cmocka_unit_test(test_program_segv_handler),
		cmocka_unit_test(test_sig_dfl_still_kills),
		cmocka_unit_test(test_program_sigbus_handler),
		cmocka_unit_test(test_program_handler_resethand),
		cmocka_unit_test(test_raised_signals),
		cmocka_unit_test(test_fault_sigaction_other_signals),
	};
	return cmocka_run_group_tests(tests, tu_group_setup, tu_group_teardown);
}
