/*
 * bug_raw_close_stale_fd.c - reproducer (currently fails under the shim).
 *
 * A program (or a library) closes descriptors with the raw close_range
 * system call, which no preload can see. The shim keeps its entry for the
 * number; when open() hands the number out again for another file, the
 * shim keeps using the stale entry when the new descriptor is O_WRONLY
 * (files_on_open returns before replacing it): a write to the new file is
 * placed at the old description's shadow offset (here the new file gets a
 * 5000-byte hole before its data), and a write that fits inside the old
 * file goes into the old file's map instead. Root cause is the raw system
 * call (a documented limit of any preload), but the damage is silent
 * corruption; dropping any entry for a number the kernel has just returned
 * from open() (any flags) would contain it.
 *
 *   bug_raw_close_stale_fd DIR  prints "ok" (exit 0) or "BUG: ..." (exit 1)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char a[4096], bpath[4096], buf[5000], back[5000];
	const char *dir = argc > 1 ? argv[1] : ".";
	snprintf(a, sizeof a, "%s/stale_old.dat", dir);
	snprintf(bpath, sizeof bpath, "%s/stale_new.dat", dir);
	memset(buf, 'O', sizeof buf);
	int fd = open(a, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, buf, sizeof buf) != sizeof buf || pread(fd, back, 10, 0) != 10)
		return perror(a), 2;
	if (syscall(SYS_close_range, (unsigned)fd, (unsigned)fd, 0u) != 0)
		return perror("close_range"), 2;
	int nfd = open(bpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	memset(buf, 'N', sizeof buf);
	ssize_t w = write(nfd, buf, sizeof buf);
	close(nfd);
	struct stat st;
	stat(bpath, &st);
	int check = open(a, O_RDONLY);
	ssize_t r = pread(check, back, sizeof back, 0);
	int old_intact = r == (ssize_t)sizeof back && back[0] == 'O' && back[4999] == 'O';
	if (w != (ssize_t)sizeof buf || st.st_size != (off_t)sizeof buf || !old_intact) {
		printf("BUG: after a raw close_range and reuse of fd %d: write to the new file "
		       "returned %zd, new file size %lld (expected 5000), old file %s\n",
		       nfd, w, (long long)st.st_size, old_intact ? "intact" : "overwritten");
		return 1;
	}
	printf("ok\n");
	return 0;
}
