/*
 * bug_wronly_extend.c - reproducer (currently fails under the shim).
 *
 * The file grows through a descriptor the shim does not track (here an
 * O_WRONLY|O_APPEND one of the same process; another process's write does
 * the same). A pread or read on a mapped descriptor that starts before the
 * old end and reaches past it must return the new bytes, as the kernel
 * does. Under the shim it stops at the old end (a short count): the map's
 * size is only refreshed when a read would return 0.
 *
 *   bug_wronly_extend DIR      prints "ok" (exit 0) or "BUG: ..." (exit 1)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char path[4096], b[300];
	snprintf(path, sizeof path, "%s/wronly_extend.dat", argc > 1 ? argv[1] : ".");
	memset(b, 'a', sizeof b);
	int rw = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (rw < 0 || write(rw, b, 100) != 100)
		return perror(path), 2;
	int wo = open(path, O_WRONLY | O_APPEND);
	if (wo < 0 || write(wo, b, 50) != 50)
		return perror("append"), 2;
	int bad = 0;
	ssize_t n = pread(rw, b, 200, 0);
	if (n != 150) {
		printf("BUG: after a 100-byte file grew to 150 bytes through an O_WRONLY descriptor, "
		       "pread(200 bytes at 0) returned %zd, expected 150\n", n);
		bad = 1;
	}
	/* The same with read(): grow again, read from 140 through the old end. */
	if (write(wo, b, 50) != 50 || lseek(rw, 140, SEEK_SET) != 140)
		return perror("append"), 2;
	n = read(rw, b, 200);
	if (n != 60) {
		printf("BUG: after the file grew from 150 to 200 bytes through an O_WRONLY descriptor, "
		       "read(200 bytes at 140) returned %zd, expected 60\n", n);
		bad = 1;
	}
	if (!bad)
		printf("ok\n");
	return bad;
}
