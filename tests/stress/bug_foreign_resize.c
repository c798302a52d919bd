/*
 * bug_foreign_resize.c - reproducer of a bug fixed in core/io.c (reaches()).
 *
 * Another process that does not run under the shim changes the file's size
 * (here coreutils truncate(1), started with LD_PRELOAD removed; any program
 * outside the mmapio-run process tree, or a static binary, does the same).
 * It has finished before we read: the kernel's answers are then exact.
 *   - shrink 10000 -> 5000: pread(6000 bytes at 0) must return 5000. The
 *     shim used to return 6000, the last 1000 bytes being zeros past the
 *     end of the file (the page holding the new end is still mapped, so
 *     nothing faults, and the generation table of coherence.c only hears
 *     of size changes made under the shim).
 *   - shrink 10000 -> 5000, then pwrite(100 bytes at 4950): the file must
 *     grow to 5050 with those bytes; the shim used to copy them into the
 *     map past the end, where they were lost.
 *   - grow 5000 -> 9000: pread(4000 bytes at 4000) must return 4000; the
 *     shim stops at the old end.
 *
 *   bug_foreign_resize DIR     prints "ok" (exit 0) or "BUG: ..." (exit 1)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Run truncate -s SIZE PATH in a process without the shim. */
static int foreign_truncate(const char *path, const char *size)
{
	pid_t pid = fork();
	if (pid == 0) {
		unsetenv("LD_PRELOAD");
		execlp("truncate", "truncate", "-s", size, path, (char *)NULL);
		_exit(127);
	}
	int st;
	return waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	char path[4096];
	static char b[10000];
	snprintf(path, sizeof path, "%s/foreign.dat", argc > 1 ? argv[1] : ".");
	memset(b, 'a', sizeof b);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, b, sizeof b) != sizeof b || pread(fd, b, 100, 0) != 100)
		return perror(path), 2;
	int bad = 0;
	if (foreign_truncate(path, "5000"))
		return fprintf(stderr, "truncate(1) failed\n"), 2;
	ssize_t n = pread(fd, b, 6000, 0);
	if (n != 5000) {
		printf("BUG: another process shrank the file from 10000 to 5000 bytes; "
		       "pread(6000 bytes at 0) returned %zd, expected 5000\n", n);
		bad = 1;
	}
	if (foreign_truncate(path, "10000") || pwrite(fd, b, 10000, 0) != 10000 ||
	    pread(fd, b, 100, 0) != 100 || foreign_truncate(path, "5000"))
		return fprintf(stderr, "truncate(1) or pwrite failed\n"), 2;
	static const char w[100] = "written after a shrink by another program";
	struct stat st;
	n = pwrite(fd, w, sizeof w, 4950);
	if (n != sizeof w || fstat(fd, &st) || st.st_size != 5050 ||
	    pread(fd, b, sizeof w, 4950) != sizeof w || memcmp(b, w, sizeof w)) {
		printf("BUG: another process shrank the file from 10000 to 5000 bytes; "
		       "pwrite(100 bytes at 4950) returned %zd, size %lld, data %s\n", n,
		       (long long)st.st_size, memcmp(b, w, sizeof w) ? "lost" : "kept");
		bad = 1;
	}
	if (foreign_truncate(path, "5000"))
		return fprintf(stderr, "truncate(1) failed\n"), 2;
	if (foreign_truncate(path, "9000"))
		return fprintf(stderr, "truncate(1) failed\n"), 2;
	n = pread(fd, b, 4000, 4000);
	if (n != 4000) {
		printf("BUG: another process grew the file from 5000 to 9000 bytes; "
		       "pread(4000 bytes at 4000) returned %zd, expected 4000\n", n);
		bad = 1;
	}
	if (!bad)
		printf("ok\n");
	return bad;
}
