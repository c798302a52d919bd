/*
 * bug_tmpfs_hole_read.c - reproducer (currently fails under the shim).
 *
 * read(2) of a hole in a tmpfs file returns zeros without allocating
 * anything. Reading the same hole through a shared mapping faults pages in
 * (shmem allocates a page for a read fault), so under the shim merely
 * reading a sparse file consumes tmpfs space: on a full enough tmpfs,
 * another program's write then fails with ENOSPC.
 *
 *   bug_tmpfs_hole_read DIR    DIR must be a fresh 1 MiB tmpfs (run.sh
 *                              mounts one); prints "ok" or "BUG: ..."
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	static char b[65536];
	char sparse[4096], other[4096];
	const char *dir = argc > 1 ? argv[1] : ".";
	snprintf(sparse, sizeof sparse, "%s/sparse.dat", dir);
	snprintf(other, sizeof other, "%s/other.dat", dir);
	int fd = open(sparse, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, 3 << 20) != 0 || close(fd) != 0)
		return perror(sparse), 2;
	struct statvfs before, after;
	statvfs(dir, &before);
	fd = open(sparse, O_RDONLY);
	long total = 0;
	ssize_t n;
	while ((n = read(fd, b, sizeof b)) > 0)
		total += n;
	close(fd);
	statvfs(dir, &after);
	int o = open(other, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	memset(b, 'x', sizeof b);
	errno = 0;
	ssize_t w = write(o, b, sizeof b);
	int e = errno;
	close(o);
	if (after.f_bfree != before.f_bfree || w != (ssize_t)sizeof b) {
		printf("BUG: reading %ld bytes of holes took %lu of %lu free blocks; a 64 KiB write "
		       "to another file then returned %zd %s\n", total,
		       (unsigned long)(before.f_bfree - after.f_bfree), (unsigned long)before.f_bfree,
		       w, w < 0 ? strerrorname_np(e) : "");
		return 1;
	}
	printf("ok\n");
	return 0;
}
