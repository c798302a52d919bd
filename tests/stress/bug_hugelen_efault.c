/*
 * bug_hugelen_efault.c - reproducer (currently fails under the shim).
 *
 * read/pread with a length whose range [buf, buf + len) does not fit in the
 * user address space (len = SSIZE_MAX, or a buffer address in the kernel
 * half) fail with EFAULT in the kernel's access_ok() before anything is
 * read, even at the end of the file. The shim copies the bytes that are
 * available (or returns 0 at the end) instead.
 *
 *   bug_hugelen_efault DIR     prints "ok" (exit 0) or "BUG: ..." lines (exit 1)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int bad;

static void expect_efault(const char *what, ssize_t n, int e)
{
	if (n != -1 || e != EFAULT) {
		printf("BUG: %s returned %zd (errno %s), expected -1 EFAULT\n", what, n,
		       n < 0 ? strerrorname_np(e) : "none");
		bad = 1;
	}
}

int main(int argc, char **argv)
{
	char path[4096];
	static char b[8192];
	snprintf(path, sizeof path, "%s/hugelen.dat", argc > 1 ? argv[1] : ".");
	memset(b, 'x', 100);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, b, 100) != 100 || lseek(fd, 0, SEEK_SET) != 0)
		return perror(path), 2;
	volatile size_t huge = SSIZE_MAX; /* volatile: keep the compiler's checks out */
	void *volatile kernel = (void *)0xffffffffffff0000ULL;
	ssize_t n;
	errno = 0, n = pread(fd, b, huge, 0);
	expect_efault("pread(len SSIZE_MAX, inside the file)", n, errno);
	errno = 0, n = pread(fd, b, huge, 100);
	expect_efault("pread(len SSIZE_MAX, at the end)", n, errno);
	errno = 0, n = read(fd, b, huge);
	expect_efault("read(len SSIZE_MAX)", n, errno);
	if (lseek(fd, 0, SEEK_CUR) != 0) {
		printf("BUG: the failed read moved the offset to %lld\n", (long long)lseek(fd, 0, SEEK_CUR));
		bad = 1;
	}
	errno = 0, n = pread(fd, kernel, 10, 100);
	expect_efault("pread(kernel address, at the end)", n, errno);
	if (!bad)
		printf("ok\n");
	return bad;
}
