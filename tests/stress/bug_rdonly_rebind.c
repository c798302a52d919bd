/*
 * bug_rdonly_rebind.c - reproducer (currently fails under the shim).
 *
 * A file first opened O_RDWR gets a writable (PROT_WRITE, MAP_SHARED) map.
 * When its last O_RDWR descriptor is closed while an O_RDONLY one stays
 * open, the map is rebound to the read-only descriptor. Growing the map
 * then fails (mmap PROT_WRITE on an O_RDONLY fd: EACCES), so after the file
 * grows, reads past the old end return 0 where the kernel returns data.
 *
 *   bug_rdonly_rebind DIR      prints "ok" (exit 0) or "BUG: ..." (exit 1)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char path[4096], b[100];
	snprintf(path, sizeof path, "%s/rdonly_rebind.dat", argc > 1 ? argv[1] : ".");
	memset(b, 'a', sizeof b);
	int rw = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (rw < 0 || write(rw, b, 100) != 100)
		return perror(path), 2;
	int ro = open(path, O_RDONLY);
	if (ro < 0 || close(rw) != 0)
		return perror("open/close"), 2;
	if (truncate(path, 10000) != 0)
		return perror("truncate"), 2;
	ssize_t n = pread(ro, b, 100, 5000);
	if (n != 100) {
		printf("BUG: after the O_RDWR descriptor was closed and the file grew from 100 to "
		       "10000 bytes, pread(100 bytes at 5000) on the O_RDONLY one returned %zd, "
		       "expected 100\n", n);
		return 1;
	}
	printf("ok\n");
	return 0;
}
