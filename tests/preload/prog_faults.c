/*
 * prog_faults: bad user buffers and the program's own signal handlers.
 *  - read/pread/readv into a PROT_NONE page, a read-only page, NULL, a kernel
 *    address: -1 EFAULT exactly as the kernel says (offset unchanged)
 *  - a buffer whose tail crosses into a PROT_NONE page: whatever partial
 *    count the kernel gives
 *  - write/pwrite from bad buffers, in place and extending; file unchanged
 *  - the same with SIGSEGV/SIGBUS blocked (checked in a child, so a crash is
 *    reported as a line instead of killing the run)
 *  - the program's own SIGSEGV handler still sees its own faults (and not the
 *    shim's), with the right si_addr/si_code
 *  - the program's own SIGBUS from touching its own mapping beyond EOF
 */
#include "common.h"
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

static long pg;
static unsigned char *none; /* PROT_NONE page */
static unsigned char *ro;   /* PROT_READ page */
static unsigned char *edge; /* 2 pages: RW then PROT_NONE */
static void *volatile g_null; /* NULL the compiler cannot see */

static void sec(const char *s) { printf("== %s\n", s); }

static sigjmp_buf jb;
static volatile sig_atomic_t seg_calls, bus_calls;
static void *volatile last_addr;
static volatile int last_code;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	seg_calls++;
	last_addr = si->si_addr;
	last_code = si->si_code;
	siglongjmp(jb, 1);
}

static void on_bus(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	bus_calls++;
	last_addr = si->si_addr;
	last_code = si->si_code;
	siglongjmp(jb, 2);
}

static void bad_reads(const char *tag, int fd)
{
	struct iovec iv[2];
	CK(lseek(fd, 0, SEEK_SET), "%s lseek 0", tag);
	CK(read(fd, none, 100), "%s read into PROT_NONE", tag);
	state(tag, fd);
	CK(read(fd, ro, 100), "%s read into PROT_READ", tag);
	CK(read(fd, g_null, 100), "%s read into NULL", tag);
	CK(read(fd, (void *)0xffffffffff600000UL, 100), "%s read into kernel address", tag);
	CK(read(fd, none, 0), "%s read 0 bytes into PROT_NONE", tag);
	state(tag, fd);
	CK(pread(fd, none, 100, 10), "%s pread into PROT_NONE", tag);
	CK(pread(fd, none, 100, 1 << 20), "%s pread into PROT_NONE past EOF", tag);
	CK(read(fd, edge + pg - 100, 4096), "%s read 4096 with only 100 valid bytes", tag);
	state(tag, fd);
	SAY("  valid part fnv=%016llx\n", (unsigned long long)fnv(edge + pg - 100, 100));
	CK(pread(fd, edge + pg - 1, 2, 0), "%s pread 2 with 1 valid byte", tag);
	iv[0].iov_base = edge;
	iv[0].iov_len = 100;
	iv[1].iov_base = none;
	iv[1].iov_len = 100;
	CK(lseek(fd, 0, SEEK_SET), "%s lseek 0", tag);
	CK(readv(fd, iv, 2), "%s readv good+bad iov", tag);
	state(tag, fd);
	iv[0].iov_base = none;
	CK(preadv(fd, iv, 2, 0), "%s preadv bad+good iov", tag);
	unsigned char ok[64];
	CK(read(fd, ok, 64), "%s read after faults", tag);
	SAY("  fnv=%016llx\n", (unsigned long long)fnv(ok, 64));
}

static void bad_writes(const char *tag, int fd)
{
	CK(lseek(fd, 0, SEEK_SET), "%s lseek 0", tag);
	CK(write(fd, none, 100), "%s write from PROT_NONE in place", tag);
	CK(pwrite(fd, none, 100, 500), "%s pwrite from PROT_NONE in place", tag);
	CK(pwrite(fd, g_null, 100, 500), "%s pwrite from NULL", tag);
	state(tag, fd);
	memset(edge + pg - 100, 'E', 100);
	CK(pwrite(fd, edge + pg - 100, 4096, 4096), "%s pwrite 4096 with 100 valid bytes in place", tag);
	struct stat st;
	fstat(fd, &st);
	CK(pwrite(fd, none, 100, st.st_size), "%s pwrite from PROT_NONE extending", tag);
	CK(pwrite(fd, edge + pg - 100, 300, st.st_size - 100), "%s pwrite 300 (100 valid) across EOF", tag);
	state(tag, fd);
	whole(tag, fd);
}

/* One step per child, SIGSEGV and SIGBUS blocked: a crash shows as a line, the others still run. */
static void blocked_step(const char *name, int step)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		sigset_t s;
		sigemptyset(&s);
		sigaddset(&s, SIGSEGV);
		sigaddset(&s, SIGBUS);
		sigprocmask(SIG_BLOCK, &s, NULL);
		int fd = open(name, O_RDWR);
		unsigned char b[4096];
		switch (step) {
		case 0: CK(read(fd, none, 100), "  [blocked] read into PROT_NONE"); break;
		case 1: CK(pread(fd, ro, 100, 0), "  [blocked] pread into PROT_READ"); break;
		case 2: CK(pwrite(fd, none, 100, 0), "  [blocked] pwrite from PROT_NONE in place"); break;
		case 3: CK(read(fd, edge + pg - 100, 4096), "  [blocked] read 4096 with 100 valid bytes"); break;
		default: {
			/* the file shrinks under the descriptor, then reads/writes where data used to be */
			prd(fd, 100, 8192, "  [blocked] before shrink");
			int o = open(name, O_RDWR);
			CK(ftruncate(o, 100), "  [blocked] ftruncate 100 via another fd");
			CK(pread(fd, b, 4096, 8192), "  [blocked] pread past new EOF");
			CK(pread(fd, b, 4096, 0), "  [blocked] pread straddling new EOF");
			CK(read(fd, b, 4096), "  [blocked] read at 0");
			CK(pwrite(fd, "x", 1, 8192), "  [blocked] pwrite past new EOF");
			state("  [blocked]", fd);
			close(o);
		}
		}
		close(fd);
		exit(0);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	if (WIFEXITED(st))
		SAY("  step %d child: exit %d\n", step, WEXITSTATUS(st));
	else
		SAY("  step %d child: killed by signal %d\n", step, WTERMSIG(st));
}

int main(int argc, char **argv)
{
	t_init(argc, argv);
	pg = sysconf(_SC_PAGESIZE);
	none = mmap(NULL, (size_t)pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ro = mmap(NULL, (size_t)pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	edge = mmap(NULL, 2 * (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (none == MAP_FAILED || ro == MAP_FAILED || edge == MAP_FAILED || mprotect(edge + pg, (size_t)pg, PROT_NONE)) {
		printf("setup failed\n");
		return 3;
	}

	mkfile("f.bin", 3 * 4096 + 500, 71);

	sec("bad buffers, default signal dispositions");
	int fd = (int)CK(open("f.bin", O_RDWR), "open RDWR");
	bad_reads("rdwr", fd);
	bad_writes("rdwr", fd);
	CK(close(fd), "close");
	fd = (int)CK(open("f.bin", O_RDONLY), "open RDONLY");
	bad_reads("rdonly", fd);
	CK(close(fd), "close");

	sec("bad buffers with SIGSEGV/SIGBUS blocked");
	for (int step = 0; step < 5; step++) {
		mkfile("b.bin", 4 * 4096, 72);
		blocked_step("b.bin", step);
	}

	sec("program's own SIGSEGV/SIGBUS handlers");
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	CK(sigaction(SIGSEGV, &sa, NULL), "sigaction SIGSEGV");
	sa.sa_sigaction = on_bus;
	CK(sigaction(SIGBUS, &sa, NULL), "sigaction SIGBUS");
	mkfile("f.bin", 3 * 4096 + 500, 71);
	fd = (int)CK(open("f.bin", O_RDWR), "open RDWR");
	bad_reads("handlers", fd);
	bad_writes("handlers", fd);
	SAY("program SIGSEGV handler calls so far: %d, SIGBUS: %d\n", (int)seg_calls, (int)bus_calls);
	if (sigsetjmp(jb, 1) == 0) {
		*(volatile unsigned char *)(none + 17) = 1;
		SAY("store to PROT_NONE did not fault\n");
	} else {
		SAY("own SIGSEGV caught: calls=%d addr-match=%d code=%s\n", (int)seg_calls,
			last_addr == (void *)(none + 17), last_code == SEGV_ACCERR ? "SEGV_ACCERR" : "other");
	}
	{
		/* the program's own mapping of the file the shim serves, touched beyond EOF */
		unsigned char *p = mmap(NULL, 4 * 4096, PROT_READ, MAP_SHARED, fd, 0);
		CK(ftruncate(fd, 4096), "ftruncate to one page");
		if (sigsetjmp(jb, 1) == 0) {
			volatile unsigned char c = p[2 * 4096 + 5];
			(void)c;
			SAY("touch beyond EOF did not fault\n");
		} else {
			SAY("own SIGBUS caught: calls=%d addr-match=%d code=%s\n", (int)bus_calls,
				last_addr == (void *)(p + 2 * 4096 + 5), last_code == BUS_ADRERR ? "BUS_ADRERR" : "other");
		}
		unsigned char b[8192];
		CK(pread(fd, b, 8192, 0), "pread after shrink");
		CK(pread(fd, b, 100, 3 * 4096), "pread at old tail");
		state("f", fd);
		munmap(p, 4 * 4096);
	}
	/* reads into a bad buffer again, with the handler installed after the file was used */
	CK(pread(fd, none, 100, 0), "pread into PROT_NONE with handler");
	SAY("program handler calls: SIGSEGV %d SIGBUS %d\n", (int)seg_calls, (int)bus_calls);
	CK(close(fd), "close");

	sec("handler installed with signal()");
	signal(SIGSEGV, SIG_DFL);
	fd = (int)CK(open("b.bin", O_RDONLY), "open");
	CK(read(fd, none, 10), "read into PROT_NONE (SIG_DFL)");
	signal(SIGSEGV, SIG_IGN);
	CK(read(fd, none, 10), "read into PROT_NONE (SIG_IGN)");
	signal(SIGSEGV, SIG_DFL);
	rd(fd, 10, "good read");
	CK(close(fd), "close");
	SAY("done\n");
	return 0;
}
