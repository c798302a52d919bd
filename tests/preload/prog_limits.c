/*
 * prog_limits: resource limits, for the work the shim does in the kernel's
 * place and for what the shim takes itself.
 *  - RLIMIT_FSIZE: in-place writes at or past the limit fail with EFBIG
 *    (SIGXFSZ ignored), or kill with SIGXFSZ (default action, in a child);
 *    a write crossing it is cut; limits changed with setrlimit, prlimit and
 *    ulimit while running count at once.
 *  - RLIMIT_AS: under a limit with 1.5 GiB of room, reading a file (which the
 *    shim maps) must not take the room a later 900 MiB mapping needs; nor
 *    when the limit is set after the file was read (the map reserved its
 *    address space without a limit, 1 GiB by default).
 *  - mlockall(MCL_CURRENT): must not read in the pages of a file the program
 *    read a little of (the shim's map would be locked whole).
 */
#include "common.h"
#include <signal.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ulimit.h>

#define KIB 1024

static void sec(const char *s) { printf("== %s\n", s); }

static void set_fsize(rlim_t lim, bool via_prlimit)
{
	struct rlimit rl = { lim, RLIM_INFINITY };
	if (via_prlimit)
		CK(prlimit(0, RLIMIT_FSIZE, &rl, NULL), "prlimit(RLIMIT_FSIZE, %llu)", (unsigned long long)lim);
	else
		CK(setrlimit(RLIMIT_FSIZE, &rl), "setrlimit(RLIMIT_FSIZE, %llu)", (unsigned long long)lim);
}

static void fsize(void)
{
	sec("RLIMIT_FSIZE");
	mkfile("f.bin", 256 * KIB, 41);
	unsigned char w[8192];
	memset(w, 0x5a, sizeof w);
	int fd = (int)CK(open("f.bin", O_RDWR), "open");
	for (int i = 0; i < 4; i++)
		prd(fd, 4096, i * 20000, "pread");
	signal(SIGXFSZ, SIG_IGN);
	set_fsize(64 * KIB, false);
	CK(pwrite(fd, w, 4096, 8 * KIB), "pwrite 4 KiB at 8 KiB");
	CK(pwrite(fd, w, 4096, 128 * KIB), "pwrite 4 KiB at 128 KiB");
	CK(pwrite(fd, w, 8192, 60 * KIB), "pwrite 8 KiB at 60 KiB");
	CK(pwrite(fd, w, 1, 64 * KIB), "pwrite 1 byte at 64 KiB");
	CK(lseek(fd, 62 * KIB, SEEK_SET), "lseek(62 KiB)");
	CK(write(fd, w, 4096), "write 4 KiB at 62 KiB");
	state("f", fd);
	struct iovec v[2] = { { w, 2048 }, { w + 2048, 4096 } };
	CK(pwritev(fd, v, 2, 63 * KIB), "pwritev 6 KiB at 63 KiB");
	prd(fd, 16384, 56 * KIB, "read back");
	set_fsize(256 * KIB, true);
	CK(pwrite(fd, w, 4096, 128 * KIB), "pwrite 4 KiB at 128 KiB, limit raised");
	prd(fd, 8192, 126 * KIB, "read back");
	CK(ulimit(UL_SETFSIZE, 96L * KIB / 512), "ulimit(UL_SETFSIZE, 96 KiB)");
	CK(pwrite(fd, w, 4096, 100 * KIB), "pwrite 4 KiB at 100 KiB, ulimit 96 KiB");
	CK(pwrite(fd, w, 8192, 92 * KIB), "pwrite 8 KiB at 92 KiB, ulimit 96 KiB");
	set_fsize(256 * KIB, false);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGXFSZ, SIG_DFL);
		set_fsize(64 * KIB, false);
		fflush(stdout);
		if (pwrite(fd, w, 4096, 200 * KIB) < 0)
			printf("child: %s\n", ename(errno));
		printf("child: not killed\n");
		fflush(stdout);
		_exit(0);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	SAY("child: %s %d\n", WIFSIGNALED(st) ? "killed by signal" : "exit",
	    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	set_fsize(RLIM_INFINITY, false);
	whole("after", fd);
	CK(close(fd), "close");
}

static uint64_t vm_size(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long long pages = 0;
	if (f) {
		if (fscanf(f, "%llu", &pages) != 1)
			pages = 0;
		fclose(f);
	}
	return pages * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* The program's own large mapping, which the shim's must leave room for. */
static void try_mmap_900m(void)
{
	void *p = mmap(NULL, 900ull * KIB * KIB, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	SAY("mmap 900 MiB: %s\n", p == MAP_FAILED ? ename(errno) : "ok");
	if (p != MAP_FAILED)
		munmap(p, 900ull * KIB * KIB);
}

static void address_space(void)
{
	sec("RLIMIT_AS");
	mkfile("a.bin", 8 * KIB * KIB, 42);
	struct rlimit old;
	getrlimit(RLIMIT_AS, &old);
	struct rlimit rl = { vm_size() + 1536ull * KIB * KIB, old.rlim_max };
	CK(setrlimit(RLIMIT_AS, &rl), "setrlimit(RLIMIT_AS, now + 1.5 GiB)");
	int fd = (int)CK(open("a.bin", O_RDONLY), "open");
	for (int i = 0; i < 10; i++)
		prd(fd, 4096, i * 700000, "pread");
	try_mmap_900m();
	CK(setrlimit(RLIMIT_AS, &old), "setrlimit(RLIMIT_AS, as before)");
	whole("after", fd);
	CK(close(fd), "close");

	uint64_t before = vm_size();
	fd = (int)CK(open("a.bin", O_RDONLY), "open, no limit");
	for (int i = 0; i < 10; i++)
		prd(fd, 4096, i * 700000, "pread");
	rl.rlim_cur = before + 1024ull * KIB * KIB;
	CK(setrlimit(RLIMIT_AS, &rl), "setrlimit(RLIMIT_AS, 1 GiB more than before the open)");
	try_mmap_900m();
	CK(setrlimit(RLIMIT_AS, &old), "setrlimit(RLIMIT_AS, as before)");
	whole("after", fd);
	CK(close(fd), "close");
}

/* Pages of fd's file in the page cache (cachestat(2); -1 without it). */
static long cached(int fd)
{
	struct {
		uint64_t off, len;
	} r = { 0, 0 };
	uint64_t c[5];
	if (syscall(451, fd, &r, c, 0) < 0)
		return -1;
	return (long)c[0];
}

static void lock_all(void)
{
	sec("mlockall");
	mkfile("m.bin", 32 * KIB * KIB, 43);
	int fd = (int)CK(open("m.bin", O_RDONLY), "open");
	fsync(fd);
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	long before = cached(fd);
	for (int i = 0; i < 8; i++)
		prd(fd, 100, i * 3000000 + 17, "pread");
	long read_in = cached(fd);
	if (before != 0 || read_in < 0) {
		SAY("skip: the page cache cannot be dropped or read here\n");
		CK(close(fd), "close");
		return;
	}
	errno = 0;
	int r = mlockall(MCL_CURRENT);
	SAY("mlockall(MCL_CURRENT) = %s\n", r == 0 ? "0" : ename(errno));
	if (r == 0) {
		long now = cached(fd);
		SAY("pages cached: %s\n", now <= read_in + 64 ? "only what was read" : "more");
		munlockall();
	}
	prd(fd, 100, 5, "pread");
	CK(close(fd), "close");
}

int main(int argc, char **argv)
{
	t_init(argc, argv);
	fsize();
	address_space();
	lock_all();
	return 0;
}
