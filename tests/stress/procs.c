/*
 * procs.c - process and descriptor life cycles under the shim.
 *
 *   procs CASE DIR
 *
 * Each case prints deterministic lines (offsets, counts, hashes, signal
 * numbers; never pids or addresses) so that run.sh can compare the output
 * with and without the shim byte for byte. Cases:
 *   fork        parent and child read and write one shared description in turns
 *   exec        exec of a program that goes on reading the inherited descriptor
 *   spawn       the same through posix_spawn
 *   vfork       the same through vfork + execve
 *   threads     4 threads read() one descriptor: no byte twice, none skipped
 *   signals     the program's own SIGSEGV/SIGBUS handlers, outside file I/O
 *   closerange  close_range/closefrom, then the numbers are reused for other files
 *   rawclose    the same with the raw close_range system call (no libc wrapper)
 *   manyfiles   more than 1024 open files (RLIMIT_NOFILE raised), all read
 * Internal: procs child FD  (the exec'd side of exec/spawn/vfork)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "stress.h"

extern char **environ;

static uint64_t fnv(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ULL;
	return h;
}

static void die(const char *what)
{
	printf("FATAL %s: %s\n", what, errname(errno));
	fflush(stdout);
	exit(3);
}

/* A file of n bytes of pat(), created through the kernel path. */
static void make_file(const char *path, size_t n, unsigned salt)
{
	unsigned char *b = malloc(n ? n : 1);
	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)(pat(i) + salt);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, b, n) != (ssize_t)n || close(fd) != 0)
		die(path);
	free(b);
}

static off_t cur(int fd)
{
	return lseek(fd, 0, SEEK_CUR);
}

static void show_read(const char *who, int fd, size_t len)
{
	unsigned char b[65536];
	errno = 0;
	ssize_t n = read(fd, b, len);
	printf("%s: read(%zu) = %zd%s%s hash %016llx, offset now %lld\n", who, len, n,
	       n < 0 ? " " : "", n < 0 ? errname(errno) : "",
	       (unsigned long long)fnv(b, n > 0 ? (size_t)n : 0), (long long)cur(fd));
}

/* ---------------------------------------------------------------- fork */

static int case_fork(void)
{
	make_file("shared.dat", 65536, 0);
	int fd = open("shared.dat", O_RDWR);
	if (fd < 0)
		die("open");
	show_read("parent before fork", fd, 1000);
	int p2c[2], c2p[2];
	if (pipe(p2c) || pipe(c2p))
		die("pipe");
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		char t;
		show_read("child", fd, 500);
		printf("child: write(100) = %zd, offset now %lld\n", write(fd, "0123456789" "0123456789" "0123456789" "0123456789" "0123456789" "0123456789" "0123456789" "0123456789" "0123456789" "0123456789", 100), (long long)cur(fd));
		for (int i = 0; i < 5; i++) {
			fflush(stdout);
			if (write(c2p[1], "x", 1) != 1 || read(p2c[0], &t, 1) != 1)
				_exit(4);
			show_read("child turn", fd, 333);
		}
		printf("child: pread(10, 1500) hash %016llx\n", ({
			unsigned char b[10];
			(unsigned long long)(pread(fd, b, 10, 1500) == 10 ? fnv(b, 10) : 0);
		}));
		fflush(stdout);
		if (write(c2p[1], "x", 1) != 1)
			_exit(4);
		_exit(0);
	}
	char t;
	for (int i = 0; i < 5; i++) {
		if (read(c2p[0], &t, 1) != 1)
			die("pipe read");
		show_read("parent turn", fd, 777);
		fflush(stdout);
		if (write(p2c[1], "x", 1) != 1)
			die("pipe write");
	}
	if (read(c2p[0], &t, 1) != 1)
		die("pipe read");
	int st;
	waitpid(pid, &st, 0);
	printf("parent: child exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	show_read("parent after child", fd, 5000);
	printf("parent: lseek(SEEK_END) = %lld\n", (long long)lseek(fd, 0, SEEK_END));
	show_read("parent at end", fd, 100);
	/* The write the child made is visible in the parent. */
	char b[100];
	printf("parent: pread(100, 1500) = %zd, '%.10s'\n", pread(fd, b, 100, 1500), b);
	return 0;
}

/* ------------------------------------------------- exec, spawn, vfork */

static int child_side(int fd)
{
	printf("exec'd child: inherited offset %lld\n", (long long)cur(fd));
	show_read("exec'd child", fd, 4096);
	unsigned char b[8192];
	long total = 0;
	ssize_t n;
	while ((n = read(fd, b, sizeof b)) > 0)
		total += n;
	printf("exec'd child: read %ld more bytes to the end, last %zd, offset %lld\n", total, n,
	       (long long)cur(fd));
	if (lseek(fd, 2000, SEEK_SET) != 2000)
		die("lseek");
	printf("exec'd child: left the offset at %lld\n", (long long)cur(fd));
	return 0;
}

static int case_exec(const char *how)
{
	make_file("inherit.dat", 300000, 7);
	int fd = open("inherit.dat", O_RDONLY);
	if (fd < 0)
		die("open");
	show_read("parent", fd, 1234);
	show_read("parent", fd, 10);
	char fdarg[16];
	snprintf(fdarg, sizeof fdarg, "%d", fd);
	char *argv[] = { "procs", "child", fdarg, NULL };
	fflush(stdout);
	pid_t pid = -1;
	if (!strcmp(how, "exec")) {
		pid = fork();
		if (pid == 0) {
			execve("/proc/self/exe", argv, environ);
			_exit(127);
		}
	} else if (!strcmp(how, "spawn")) {
		int rc = posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv, environ);
		if (rc) {
			errno = rc;
			die("posix_spawn");
		}
	} else {
		pid = vfork();
		if (pid == 0) {
			execve("/proc/self/exe", argv, environ);
			_exit(127);
		}
	}
	int st;
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		die("wait");
	printf("parent: child exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	printf("parent: offset after the child moved it: %lld\n", (long long)cur(fd));
	show_read("parent", fd, 100);
	/* Another exec after more reads: the second child must see this offset. */
	show_read("parent", fd, 50000);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		execve("/proc/self/exe", argv, environ);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	printf("parent: second child exit %d, offset %lld\n",
	       WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), (long long)cur(fd));
	return 0;
}

/* -------------------------------------------------------------- threads */

#define TREC 8
#define TFILE (4u << 20)
static int tfd;
struct tres {
	unsigned char *seen; /* one per record */
	long reads, bytes, bad;
};

static void *reader(void *arg)
{
	struct tres *r = arg;
	unsigned char b[TREC * 700];
	uint64_t s = (uint64_t)(uintptr_t)arg;
	for (;;) {
		size_t len = TREC * (1 + rnd(&s, 700));
		ssize_t n = read(tfd, b, len);
		if (n <= 0)
			break;
		r->reads++;
		r->bytes += n;
		if (n % TREC) {
			r->bad++;
			continue;
		}
		for (ssize_t k = 0; k < n; k += TREC) {
			uint64_t v;
			memcpy(&v, b + k, sizeof v);
			if (v >= TFILE / TREC)
				r->bad++;
			else
				r->seen[v]++;
		}
	}
	return NULL;
}

static int case_threads(void)
{
	uint64_t *w = malloc(TFILE);
	for (uint64_t i = 0; i < TFILE / TREC; i++)
		w[i] = i;
	int fd = open("records.dat", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, w, TFILE) != (ssize_t)TFILE || close(fd))
		die("records");
	tfd = open("records.dat", O_RDONLY);
	if (tfd < 0)
		die("open");
	enum { NT = 4 };
	pthread_t th[NT];
	struct tres res[NT];
	for (int t = 0; t < NT; t++) {
		res[t] = (struct tres){ calloc(TFILE / TREC, 1), 0, 0, 0 };
		pthread_create(&th[t], NULL, reader, &res[t]);
	}
	long twice = 0, missing = 0, bad = 0, bytes = 0;
	for (int t = 0; t < NT; t++)
		pthread_join(th[t], NULL);
	for (uint64_t i = 0; i < TFILE / TREC; i++) {
		int c = 0;
		for (int t = 0; t < NT; t++)
			c += res[t].seen[i];
		twice += c > 1;
		missing += c == 0;
	}
	for (int t = 0; t < NT; t++)
		bad += res[t].bad, bytes += res[t].bytes;
	printf("threads: %d threads read %ld bytes; records read twice %ld, skipped %ld, "
	       "misaligned %ld; final offset %lld\n",
	       NT, bytes, twice, missing, bad, (long long)cur(tfd));
	return twice || missing || bad;
}

/* -------------------------------------------------------------- signals */

static sigjmp_buf jb;
static volatile sig_atomic_t got_sig, got_code, addr_ok;
static volatile void *expect_addr;

static void handler(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	got_sig = sig;
	got_code = si->si_code;
	addr_ok = si->si_addr == expect_addr;
	siglongjmp(jb, 1);
}

static void plain_handler(int sig)
{
	got_sig = sig;
	siglongjmp(jb, 1);
}

static void file_io(const char *tag)
{
	int fd = open("sig.dat", O_RDONLY);
	unsigned char b[5000];
	ssize_t n = pread(fd, b, sizeof b, 100);
	printf("%s: file I/O pread = %zd hash %016llx\n", tag, n,
	       (unsigned long long)fnv(b, n > 0 ? (size_t)n : 0));
	close(fd);
}

static void trigger(const char *what, volatile unsigned char *p, bool write_it)
{
	got_sig = got_code = addr_ok = 0;
	expect_addr = p;
	if (sigsetjmp(jb, 1) == 0) {
		if (write_it)
			*p = 1;
		else
			(void)*p;
		printf("%s: no signal\n", what);
	} else {
		printf("%s: handler ran for signal %d, si_code %d, si_addr %s\n", what, (int)got_sig,
		       (int)got_code, addr_ok ? "matches" : "differs");
	}
}

static int case_signals(void)
{
	make_file("sig.dat", 20000, 3);
	make_file("short.dat", 100, 4);
	long pg = sysconf(_SC_PAGESIZE);
	file_io("before handlers");

	struct sigaction sa = { 0 }, old = { 0 };
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	printf("sigaction(SIGSEGV) = %d\n", sigaction(SIGSEGV, &sa, &old));
	printf("previous SIGSEGV handler was %s\n", old.sa_handler == SIG_DFL ? "SIG_DFL" : "other");
	printf("sigaction(SIGBUS) = %d\n", sigaction(SIGBUS, &sa, NULL));
	struct sigaction back;
	sigaction(SIGSEGV, NULL, &back);
	printf("reading SIGSEGV back: %s\n",
	       back.sa_sigaction == handler && (back.sa_flags & SA_SIGINFO) ? "our handler" : "something else");

	unsigned char *none = mmap(NULL, (size_t)pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	trigger("SIGSEGV read of a PROT_NONE page", none, false);
	file_io("between faults");
	trigger("SIGSEGV write to a PROT_NONE page", none + 8, true);
	unsigned char *ro = mmap(NULL, (size_t)pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	trigger("SIGSEGV write to a read-only page", ro + 16, true);

	/* SIGBUS: our own mapping of a 100-byte file, touched past its last page. */
	int fd = open("short.dat", O_RDONLY);
	unsigned char *m = mmap(NULL, (size_t)pg * 4, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	trigger("SIGBUS read past the end of our own file mapping", m + 2 * pg + 5, false);
	file_io("after SIGBUS");
	trigger("SIGBUS again", m + 3 * pg, false);

	/* signal(): BSD semantics, handler stays installed. */
	signal(SIGSEGV, plain_handler);
	for (int i = 0; i < 2; i++) {
		got_sig = 0;
		if (sigsetjmp(jb, 1) == 0)
			(void)*(volatile unsigned char *)none;
		printf("signal() handler round %d: signal %d\n", i, (int)got_sig);
	}
	/* Restore the default: a fault now kills, as without the shim. */
	for (int sig = SIGBUS; sig; sig = sig == SIGBUS ? SIGSEGV : 0) {
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			signal(sig, SIG_DFL);
			if (sig == SIGSEGV)
				(void)*(volatile unsigned char *)none;
			else
				(void)*(volatile unsigned char *)(m + 2 * pg);
			_exit(0);
		}
		int st;
		waitpid(pid, &st, 0);
		printf("child with SIG_DFL for signal %d: %s %d\n", sig,
		       WIFSIGNALED(st) ? "killed by signal" : "exited", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	}
	/* SIG_IGN for SIGSEGV: a real fault still kills (the kernel forces it). */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGSEGV, SIG_IGN);
		(void)*(volatile unsigned char *)none;
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	printf("child with SIG_IGN for SIGSEGV: %s %d\n", WIFSIGNALED(st) ? "killed by signal" : "exited",
	       WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	/* raise() of SIGBUS/SIGSEGV goes to the handler too. */
	sigaction(SIGBUS, &sa, NULL);
	got_sig = 0;
	if (sigsetjmp(jb, 1) == 0)
		raise(SIGBUS);
	printf("raise(SIGBUS): handler saw signal %d, si_code %d\n", (int)got_sig, (int)got_code);
	file_io("at the end");
	return 0;
}

/* ---------------------------------------------------------- close_range */

static int case_closerange(bool raw)
{
	enum { N = 6 };
	char name[32];
	int fds[N];
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof name, "old%d.dat", i);
		make_file(name, 70000 + (size_t)i * 1000, (unsigned)i);
		fds[i] = open(name, O_RDWR);
		show_read(name, fds[i], 3000);
	}
	int r;
	if (raw)
		r = (int)syscall(SYS_close_range, 3u, ~0u, 0u);
	else
		r = close_range(3, ~0u, 0);
	printf("close_range(3, ~0) = %d\n", r);
	for (int i = 0; i < N; i++) {
		char b[4];
		errno = 0;
		ssize_t n = read(fds[i], b, sizeof b);
		printf("read on closed fd #%d: %zd %s\n", i, n, n < 0 ? errname(errno) : "");
	}
	/* The numbers come back for other files: reads must see the new files. */
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof name, "new%d.dat", i);
		make_file(name, 50000 + (size_t)i * 777, (unsigned)(100 + i));
		int fd = open(name, O_RDONLY);
		printf("%s: fd #%d reused: %s\n", name, i, fd == fds[i] ? "yes" : "no");
		show_read(name, fd, 60000);
		printf("%s: lseek(SEEK_END) = %lld\n", name, (long long)lseek(fd, 0, SEEK_END));
	}
	/* closefrom, and close_range with CLOSE_RANGE_CLOEXEC. */
	if (!raw) {
		closefrom(3);
		int fd = open("new0.dat", O_RDONLY);
		printf("after closefrom(3): open returned fd %d\n", fd);
		show_read("new0.dat again", fd, 10);
		printf("close_range(CLOEXEC) = %d, FD_CLOEXEC now %d\n",
		       close_range(3, ~0u, CLOSE_RANGE_CLOEXEC), fcntl(fd, F_GETFD) & FD_CLOEXEC);
		show_read("new0.dat still open", fd, 10);
	}
	return 0;
}

/* ------------------------------------------------------------ manyfiles */

static int case_manyfiles(void)
{
	enum { N = 1500 };
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rlim_t want = N + 64;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
		printf("SKIP hard RLIMIT_NOFILE %llu < %llu\n", (unsigned long long)rl.rlim_max,
		       (unsigned long long)want);
		return 77;
	}
	rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		die("setrlimit");
	static int fds[N];
	char name[32];
	uint64_t h = 0;
	long bytes = 0;
	unsigned char *b = malloc(20000);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof name, "m%04d.dat", i);
		make_file(name, 4096 + (size_t)(i % 97) * 100, (unsigned)i);
		fds[i] = open(name, i % 2 ? O_RDONLY : O_RDWR);
		if (fds[i] < 0)
			die("open");
	}
	for (int i = 0; i < N; i++) {
		ssize_t n, t = 0;
		while ((n = read(fds[i], b + t, 20000 - (size_t)t)) > 0)
			t += n;
		bytes += t;
		h ^= fnv(b, (size_t)t) + (uint64_t)i;
		/* and positioned reads on the high descriptors */
		if (pread(fds[i], b, 100, 50) != 100)
			die("pread");
		h += fnv(b, 100);
	}
	printf("manyfiles: %d files open, first fd %d, last fd %d, %ld bytes read, hash %016llx\n",
	       N, fds[0], fds[N - 1], bytes, (unsigned long long)h);
	/* Writing in place on a descriptor above 1024 */
	int hi = fds[N - 2];
	ssize_t wn = pwrite(hi, "HELLO", 5, 10);
	ssize_t rn = pread(hi, b, 5, 10);
	printf("manyfiles: pwrite on fd %d = %zd, pread back %zd '%.5s'\n", hi, wn, rn, (char *)b);
	for (int i = 0; i < N; i++)
		close(fds[i]);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "child"))
		return child_side(atoi(argv[2]));
	if (argc != 3) {
		fprintf(stderr, "usage: procs fork|exec|spawn|vfork|threads|signals|closerange|"
				"rawclose|manyfiles DIR\n");
		return 2;
	}
	mkdir(argv[2], 0755);
	if (chdir(argv[2]) != 0)
		die(argv[2]);
	const char *c = argv[1];
	if (!strcmp(c, "fork"))
		return case_fork();
	if (!strcmp(c, "exec") || !strcmp(c, "spawn") || !strcmp(c, "vfork"))
		return case_exec(c);
	if (!strcmp(c, "threads"))
		return case_threads();
	if (!strcmp(c, "signals"))
		return case_signals();
	if (!strcmp(c, "closerange"))
		return case_closerange(false);
	if (!strcmp(c, "rawclose"))
		return case_closerange(true);
	if (!strcmp(c, "manyfiles"))
		return case_manyfiles();
	fprintf(stderr, "procs: unknown case %s\n", c);
	return 2;
}
