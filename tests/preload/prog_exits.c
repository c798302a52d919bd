/*
 * prog_exits: every way a process can end, one fork child each, and what
 * a program can see of its signal dispositions (run.sh, case
 * prog_exits.lines, counts the stats lines: one per process).
 *
 * Child i does 10 + i preads of 100 bytes (all served under
 * MMAPIO_MODE=always, so each child's line is known by its count), then
 * ends: exit, _exit, _Exit, quick_exit, abort() (SIGABRT, default action),
 * SIGTERM / SIGINT / SIGHUP / SIGALRM / SIGPIPE with the default action,
 * its own SIGTERM handler that _exits, its own handler that returns and
 * then exit(), SIGTERM ignored, SIG_DFL set again after a handler, and a
 * SIGTERM taken while another thread preads. The parent prints how each
 * ended (exit status, or the signal and whether a core was dumped; core
 * files are off) and the actions sigaction/signal/sysv_signal/sigset/
 * ssignal/siginterrupt report, which must read as without the shim.
 */
#include "common.h"
#include <pthread.h>
/* sigset and siginterrupt are obsolete, and what some programs still call. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#include <signal.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>

#define SIZE (64 * 4096)

static int fd;

static void reads(int n)
{
	unsigned char b[100];
	for (int i = 0; i < n; i++)
		if (pread(fd, b, sizeof b, (off_t)((i * 7919) % 60) * 4096 + 17) != (ssize_t)sizeof b)
			_exit(99);
}

static void say(const char *s) { (void)!write(1, s, strlen(s)); }

static void on_term_exit(int sig)
{
	(void)sig;
	say("  handler ran, _exit(3)\n");
	_exit(3);
}

static volatile sig_atomic_t got;
static void on_term_return(int sig) { got = sig; }

static void *reader(void *arg)
{
	(void)arg;
	unsigned char b[100];
	for (unsigned i = 0;; i++)
		if (pread(fd, b, sizeof b, (off_t)(i % 60) * 4096) != (ssize_t)sizeof b)
			_exit(98);
	return NULL;
}

static void show(const char *what, int sig)
{
	struct sigaction a;
	if (sigaction(sig, NULL, &a) != 0) {
		printf("  %s: sigaction failed\n", what);
		return;
	}
	const char *h = a.sa_handler == SIG_DFL ? "SIG_DFL" : a.sa_handler == SIG_IGN ? "SIG_IGN"
		      : (a.sa_flags & SA_SIGINFO) ? "a sigaction" : "a handler";
	unsigned masked = 0;
	for (int s = 1; s < 32; s++)
		masked |= sigismember(&a.sa_mask, s) ? 1u << (s - 1) : 0;
	printf("  %s: %s flags=%#x mask=%#x\n", what, h, (unsigned)a.sa_flags, masked);
}

static const char *name(sighandler_t h)
{
	return h == SIG_DFL ? "SIG_DFL" : h == SIG_IGN ? "SIG_IGN" : h == SIG_ERR ? "SIG_ERR"
	     : h == SIG_HOLD ? "SIG_HOLD" : "a handler";
}

/* What a program can ask about its actions: as without the shim. */
static void dispositions(void)
{
	show("SIGTERM at start", SIGTERM);
	show("SIGINT at start", SIGINT);
	show("SIGPIPE at start", SIGPIPE);
	printf("  signal(SIGINT, SIG_DFL) -> %s\n", name(signal(SIGINT, SIG_DFL)));
	printf("  signal(SIGHUP, h) -> %s\n", name(signal(SIGHUP, on_term_return)));
	printf("  signal(SIGHUP, SIG_DFL) -> %s\n", name(signal(SIGHUP, SIG_DFL)));
	show("SIGHUP after", SIGHUP);
	struct sigaction a, old;
	memset(&a, 0, sizeof a);
	a.sa_handler = SIG_DFL;
	a.sa_flags = SA_RESTART | SA_NODEFER;
	sigemptyset(&a.sa_mask);
	sigaddset(&a.sa_mask, SIGUSR2);
	printf("  sigaction(SIGUSR1, SIG_DFL|SA_RESTART|SA_NODEFER) = %d\n", sigaction(SIGUSR1, &a, &old));
	show("SIGUSR1 after", SIGUSR1);
	a.sa_handler = SIG_IGN;
	struct sigaction *volatile same = &a; /* old == act: allowed, and read first */
	printf("  sigaction(SIGUSR1, SIG_IGN) = %d\n", sigaction(SIGUSR1, same, same));
	printf("  ... the old one: %s flags=%#x\n", name(a.sa_handler), (unsigned)a.sa_flags);
	show("SIGUSR1 now", SIGUSR1);
	printf("  sysv_signal(SIGUSR1, SIG_DFL) -> %s\n", name(sysv_signal(SIGUSR1, SIG_DFL)));
	printf("  sysv_signal(SIGUSR1, SIG_DFL) -> %s\n", name(sysv_signal(SIGUSR1, SIG_DFL)));
	printf("  sigset(SIGALRM, SIG_HOLD) -> %s\n", name(sigset(SIGALRM, SIG_HOLD)));
	printf("  sigset(SIGALRM, SIG_DFL) -> %s\n", name(sigset(SIGALRM, SIG_DFL)));
	printf("  ssignal(SIGUSR2, SIG_DFL) -> %s\n", name(ssignal(SIGUSR2, SIG_DFL)));
	printf("  siginterrupt(SIGUSR2, 1) = %d\n", siginterrupt(SIGUSR2, 1));
	show("SIGUSR2 after", SIGUSR2);
	printf("  siginterrupt(SIGUSR2, 0) = %d\n", siginterrupt(SIGUSR2, 0));
	show("SIGUSR2 after", SIGUSR2);
	printf("  sigaction(0) = %d, sigaction(SIGKILL, SIG_IGN) = %d\n", sigaction(0, NULL, &old),
	       sigaction(SIGKILL, &a, NULL));
}

static void end(int how)
{
	struct sigaction a;
	int p[2];
	pthread_t t;
	struct itimerval it = { { 0, 0 }, { 0, 10000 } };
	switch (how) {
	case 0:
		exit(2);
	case 1:
		_exit(7);
	case 2:
		_Exit(8);
	case 3:
		quick_exit(5);
	case 4:
		abort();
	case 5:
		kill(getpid(), SIGTERM);
		break;
	case 6:
		raise(SIGINT);
		break;
	case 7:
		kill(getpid(), SIGHUP);
		break;
	case 8:
		setitimer(ITIMER_REAL, &it, NULL);
		break;
	case 9:
		if (pipe(p) == 0) {
			close(p[0]);
			(void)!write(p[1], "x", 1);
		}
		say("  write to a closed pipe returned\n");
		_exit(1);
	case 10:
		memset(&a, 0, sizeof a);
		a.sa_handler = on_term_exit;
		sigaction(SIGTERM, &a, NULL);
		show("own handler", SIGTERM);
		kill(getpid(), SIGTERM);
		break;
	case 11:
		signal(SIGTERM, on_term_return);
		kill(getpid(), SIGTERM);
		printf("  handler returned: got %d\n", (int)got);
		exit(4);
	case 12:
		signal(SIGTERM, SIG_IGN);
		kill(getpid(), SIGTERM);
		say("  SIGTERM ignored\n");
		exit(0);
	case 13:
		signal(SIGTERM, on_term_return);
		signal(SIGTERM, SIG_DFL);
		show("SIG_DFL again", SIGTERM);
		kill(getpid(), SIGTERM);
		break;
	case 14:
		pthread_create(&t, NULL, reader, NULL);
		usleep(20000);
		kill(getpid(), SIGTERM);
		break;
	case 15:
		dispositions();
		fflush(stdout);
		exit(0);
	}
	for (;;)
		pause();
}

static const char *const ways[] = {
	"exit(2)", "_exit(7)", "_Exit(8)", "quick_exit(5)", "abort()", "SIGTERM", "raise(SIGINT)",
	"SIGHUP", "SIGALRM", "SIGPIPE", "own SIGTERM handler", "handler returns, exit(4)",
	"SIGTERM ignored", "SIG_DFL set again", "SIGTERM while a thread reads", "dispositions",
};

int main(int argc, char **argv)
{
	t_init(argc, argv);
	struct rlimit nocore = { 0, 0 };
	setrlimit(RLIMIT_CORE, &nocore);
	mkfile("ex.bin", SIZE, 9);
	fd = (int)CK(open("ex.bin", O_RDONLY), "open");
	int n = (int)(sizeof ways / sizeof ways[0]);
	for (int i = 0; i < n; i++) {
		printf("%s:\n", ways[i]);
		fflush(stdout);
		pid_t p = fork();
		if (p == 0) {
			reads(10 + i);
			end(i);
		}
		int st;
		if (waitpid(p, &st, 0) != p)
			printf("  waitpid failed\n");
		else if (WIFEXITED(st))
			printf("  exited %d\n", WEXITSTATUS(st));
		else if (WIFSIGNALED(st))
			printf("  killed by %s%s\n", sigabbrev_np(WTERMSIG(st)) ? sigabbrev_np(WTERMSIG(st)) : "?",
			       WCOREDUMP(st) ? ", core dumped" : "");
	}
	reads(5);
	printf("processes: %d\n", n + 1);
	return 0;
}
