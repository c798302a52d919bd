/*
 * prog_statsfork: preads in a parent and in its children, for the count
 * of served calls per process (run.sh, case stats-fork). The parent does
 * 50 preads, then: a fork child does 7 and exits; a fork child does 5 and
 * execs /bin/true; a vfork child execs /bin/true; the parent does 10
 * more. Every pread is 100 bytes inside a 256 KiB file, so under
 * MMAPIO_MODE=always each one is served: the stats lines of the whole
 * tree must add up to exactly 72. Prints what each process read.
 */
#include "common.h"
#include <sys/wait.h>

#define SIZE (64 * 4096)

static unsigned long reads(int fd, int n, unsigned salt)
{
	unsigned char b[100];
	unsigned long sum = 0;
	for (int i = 0; i < n; i++) {
		off_t off = (off_t)(((unsigned)i * 7919u + salt) % (SIZE / 4096)) * 4096 + 17;
		if (pread(fd, b, sizeof b, off) != (ssize_t)sizeof b)
			return 0;
		sum += fnv(b, sizeof b) & 0xffff;
	}
	return sum;
}

static int wait_status(pid_t p)
{
	int st;
	return waitpid(p, &st, 0) == p && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int main(int argc, char **argv)
{
	t_init(argc, argv);
	mkfile("sf.bin", SIZE, 5);
	int fd = (int)CK(open("sf.bin", O_RDONLY), "open");
	SAY("parent 50: %lu\n", reads(fd, 50, 1));
	fflush(stdout);

	pid_t p = fork();
	if (p == 0) {
		SAY("child exit 7: %lu\n", reads(fd, 7, 2));
		exit(0);
	}
	SAY("child exit: status %d\n", wait_status(p));
	fflush(stdout);

	p = fork();
	if (p == 0) {
		SAY("child exec 5: %lu\n", reads(fd, 5, 3));
		fflush(stdout);
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	SAY("child exec: status %d\n", wait_status(p));

	p = vfork();
	if (p == 0) {
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	SAY("vfork child exec: status %d\n", wait_status(p));
	SAY("parent 10: %lu\n", reads(fd, 10, 4));
	return 0;
}
