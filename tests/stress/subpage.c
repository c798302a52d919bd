/*
 * subpage: writes into holes where a file system block is smaller than a
 * page (ext4 -b 1024). write(2) allocates the blocks it writes; a store
 * through a map would allocate every block of the page. Run in DIR (on such
 * a file system) with and without the shim: the output must be the same.
 *   subpage DIR
 * 1. a sparse 64 KiB file, read a few times (the shim maps it), then 1-byte
 *    writes into holes in 8 pages: st_blocks after each, and the file's
 *    data/hole layout (SEEK_DATA/SEEK_HOLE);
 * 2. lseek past the largest file the file system allows (16 GiB for ext4
 *    without extents and 1 KiB blocks): EINVAL, and the offset stays;
 * 3. the file system filled until 8 blocks are free, then 1-byte writes
 *    into holes of 10 pages of another sparse file: how many succeed, and
 *    their errors.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

static void layout(int fd)
{
	off_t end = lseek(fd, 0, SEEK_END), at = 0;
	printf("  layout:");
	while (at < end) {
		off_t d = lseek(fd, at, SEEK_DATA);
		if (d < 0)
			break;
		off_t h = lseek(fd, d, SEEK_HOLE);
		printf(" data [%lld, %lld)", (long long)d, (long long)h);
		at = h;
	}
	printf("\n");
}

static long blocks(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 ? (long)st.st_blocks : -1;
}

int main(int argc, char **argv)
{
	if (argc != 2 || chdir(argv[1]) != 0)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	char buf[4096];
	int fd = open("holes", O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, 64 * 1024) != 0)
		return perror("holes"), 1;
	for (int i = 0; i < 16; i++)
		if (pread(fd, buf, sizeof buf, i * 4096) != sizeof buf)
			return perror("pread"), 1;
	printf("sparse: blocks %ld\n", blocks(fd));
	for (int p = 0; p < 8; p++) {
		ssize_t w = pwrite(fd, "x", 1, p * 8192 + 1500);
		printf("pwrite 1 byte at %d = %zd, blocks %ld\n", p * 8192 + 1500, w, blocks(fd));
	}
	layout(fd);
	errno = 0;
	off_t r = lseek(fd, (off_t)20 << 30, SEEK_SET);
	printf("lseek(20 GiB) = %lld %s, then at %lld\n", (long long)r, r < 0 ? strerrorname_np(errno) : "",
	       (long long)lseek(fd, 0, SEEK_CUR));
	fsync(fd);
	close(fd);

	/* Nearly full: 8 free blocks left. */
	struct statvfs sv;
	int filler = open("filler", O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (filler < 0 || fstatvfs(filler, &sv) != 0)
		return perror("filler"), 1;
	fd = open("nearfull", O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, 40 * 4096) != 0)
		return perror("nearfull"), 1;
	for (int i = 0; i < 10; i++)
		if (pread(fd, buf, sizeof buf, i * 4096) != sizeof buf)
			return perror("pread"), 1;
	off_t size = (off_t)(sv.f_bavail - 8) * (off_t)sv.f_bsize;
	if (fallocate(filler, 0, 0, size) != 0)
		return perror("fallocate"), 1;
	fsync(filler);
	int ok = 0;
	for (int p = 0; p < 10; p++) {
		errno = 0;
		ssize_t w = pwrite(fd, "y", 1, p * 4 * 4096 + 100);
		ok += w == 1;
		printf("near full: pwrite 1 byte in page %d = %zd %s\n", p * 4, w, w < 0 ? strerrorname_np(errno) : "");
	}
	int s = fsync(fd);
	printf("near full: %d of 10 written; fsync %d; blocks %ld\n", ok, s, blocks(fd));
	for (int p = 0; p < 10; p++) {
		char c = 0;
		ssize_t r = pread(fd, &c, 1, p * 4 * 4096 + 100);
		printf("  page %d: %zd '%c'\n", p * 4, r, c ? c : '0');
	}
	layout(fd);
	close(fd);
	close(filler);
	return 0;
}
