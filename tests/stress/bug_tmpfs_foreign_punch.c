/*
 * bug_tmpfs_foreign_punch.c - reproducer (failed under the shim until tmpfs
 * files stopped being mapped by default: MMAPIO_TMPFS).
 *
 * A program reads a tmpfs file through read() and pread(); under the shim
 * that is a map. Another program punches a hole in it (fallocate -p; here
 * a child making the raw system call, which no preload sees). The first
 * program reads the range again: read(2) returns zeros without allocating
 * anything, but a read fault on the hole of a shared map allocates a page
 * (shmem), so the file's st_blocks grows back and a later write by the
 * program finds the file system full.
 *
 *   bug_tmpfs_foreign_punch DIR   DIR must be a fresh 1 MiB tmpfs (run.sh
 *                                 mounts one); prints "ok" or "BUG: ..."
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define SIZE (768 * 1024)

static long blocks(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 ? (long)st.st_blocks : -1;
}

int main(int argc, char **argv)
{
	static char b[SIZE];
	char path[4096], other[4096];
	const char *dir = argc > 1 ? argv[1] : ".";
	snprintf(path, sizeof path, "%s/data.dat", dir);
	snprintf(other, sizeof other, "%s/other.dat", dir);
	memset(b, 'd', sizeof b);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, b, SIZE) != SIZE)
		return perror(path), 2;
	for (int pass = 0; pass < 4; pass++) /* read often: auto mode maps it too */
		for (off_t off = 0; off < SIZE; off += 4096)
			if (pread(fd, b, 4096, off) != 4096)
				return perror("pread"), 2;
	pid_t pid = fork();
	if (pid == 0) /* another program: the raw call, as fallocate(1) would */
		_exit(syscall(SYS_fallocate, fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      (off_t)0, (off_t)(SIZE / 2)) == 0 ? 0 : 1);
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return fprintf(stderr, "punching failed\n"), 2;
	long punched = blocks(fd);
	for (off_t off = 0; off < SIZE; off += 4096)
		if (pread(fd, b, 4096, off) != 4096)
			return perror("pread after the punch"), 2;
	long after = blocks(fd);
	int o = open(other, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	memset(b, 'o', SIZE / 2);
	ssize_t w = o >= 0 ? write(o, b, SIZE / 2) : -1;
	int e = errno;
	if (after != punched || w != SIZE / 2) {
		printf("BUG: reading the punched hole took st_blocks from %ld to %ld; a %d-byte write "
		       "then gave %zd (%s)\n", punched, after, SIZE / 2, w, w < 0 ? strerror(e) : "short");
		return 1;
	}
	printf("ok: st_blocks %ld after the punch and after reading it; the write fits\n", after);
	return 0;
}
