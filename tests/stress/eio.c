/*
 * eio.c - I/O errors from the block layer, compared with the kernel's.
 *
 *   eio writeback MNT FILLDIR   MNT: an ext4 on a loop device whose backing
 *                               file lives on a small tmpfs at FILLDIR
 *   eio shutdown MNT            MNT: an ext4 (loop) that may be shut down
 *
 * writeback: writes and fsyncs 256 KiB, then fills the tmpfs under the loop
 * device, then writes into the file's holes in place (through the shim's
 * map when preloaded): the page cache takes the writes, and writeback fails
 * at fsync because the loop device cannot store the blocks. Prints every
 * result: fsync must report EIO (or whatever the kernel reports without the
 * shim: run.sh compares the two outputs), the fsynced data must read back
 * intact, and nothing may crash.
 *
 * shutdown: the file system is shut down (EXT4_IOC_SHUTDOWN, no log flush)
 * under an open, mapped file; then every call reports what the kernel says
 * (EIO for reads and writes of the data, EIO for fsync).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "stress.h"

#define GOOD (256u << 10)
#define SIZE (1u << 20)
#define EXT4_IOC_SHUTDOWN _IOR('X', 125, uint32_t)
#define EXT4_GOING_FLAGS_NOLOGFLUSH 0x2

static void show(const char *what, long r, int e)
{
	printf("%s: %ld%s%s\n", what, r, r < 0 ? " " : "", r < 0 ? errname(e) : "");
}

/* errno is read after the call: a plain show(x, call, errno) would not. */
#define SHOW(what, call)                    \
	do {                                \
		errno = 0;                  \
		long r_ = (long)(call);     \
		show(what, r_, errno);      \
	} while (0)

static void gen(unsigned char *b, uint64_t off, size_t n, int g)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)(pat(off + i) + g);
}

static int setup(const char *mnt, unsigned char *b)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/eio.dat", mnt);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		perror(path);
		exit(2);
	}
	gen(b, 0, GOOD, 1);
	SHOW("write 256 KiB", (long)write(fd, b, GOOD));
	SHOW("ftruncate to 1 MiB (holes after 256 KiB)", ftruncate(fd, SIZE));
	SHOW("fsync", fsync(fd));
	return fd;
}

static void readback(int fd, unsigned char *b, unsigned char *c)
{
	errno = 0;
	ssize_t n = pread(fd, c, GOOD, 0);
	gen(b, 0, GOOD, 1);
	printf("pread of the fsynced 256 KiB: %zd %s, %s\n", n, n < 0 ? errname(errno) : "",
	       n == GOOD && !memcmp(b, c, GOOD) ? "intact" : "NOT intact");
}

static int writeback(const char *mnt, const char *filldir)
{
	unsigned char *b = malloc(SIZE), *c = malloc(SIZE);
	int fd = setup(mnt, b);
	/* Fill the tmpfs under the loop device. */
	char fill[4096];
	snprintf(fill, sizeof fill, "%s/filler", filldir);
	int ff = open(fill, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	memset(c, 0xEE, 65536);
	long filled = 0;
	ssize_t n;
	while ((n = write(ff, c, 65536)) > 0)
		filled += n;
	int fe = errno;
	close(ff);
	printf("filled the loop device's backing store (%s)\n", n < 0 ? errname(fe) : "?");
	(void)filled;
	/* In-place writes into the holes: fine in the page cache. */
	for (uint64_t off = GOOD; off < 3 * GOOD; off += 65536) {
		gen(b, off, 65536, 2);
		errno = 0;
		n = pwrite(fd, b, 65536, (off_t)off);
		printf("pwrite 64 KiB at %llu: %zd %s\n", (unsigned long long)off, n,
		       n < 0 ? errname(errno) : "");
	}
	SHOW("fsync after the device filled up", fsync(fd));
	SHOW("fsync again", fsync(fd));
	readback(fd, b, c);
	errno = 0;
	n = pread(fd, c, 2 * GOOD, GOOD);
	printf("pread of the unwritten-back 512 KiB: %zd %s\n", n, n < 0 ? errname(errno) : "");
	struct stat st;
	fstat(fd, &st);
	printf("size %lld\n", (long long)st.st_size);
	SHOW("close", close(fd));
	return 0;
}

static int shutdown_case(const char *mnt)
{
	unsigned char *b = malloc(SIZE), *c = malloc(SIZE);
	int fd = setup(mnt, b);
	SHOW("pread 4 KiB (now cached)", (long)pread(fd, c, 4096, 0));
	uint32_t how = EXT4_GOING_FLAGS_NOLOGFLUSH;
	errno = 0;
	int r = ioctl(fd, EXT4_IOC_SHUTDOWN, &how);
	SHOW("EXT4_IOC_SHUTDOWN", r);
	if (r) {
		printf("SKIP: cannot shut the file system down\n");
		return 77;
	}
	SHOW("pread 4 KiB of cached data", (long)pread(fd, c, 4096, 0));
	SHOW("pread 4 KiB in a hole", (long)pread(fd, c, 4096, 600000));
	SHOW("read 100", (long)read(fd, c, 100));
	gen(b, 0, 4096, 3);
	SHOW("pwrite 4 KiB in place (cached page)", (long)pwrite(fd, b, 4096, 0));
	SHOW("pwrite 4 KiB in place (hole)", (long)pwrite(fd, b, 4096, 700000));
	SHOW("fsync", fsync(fd));
	struct stat st;
	SHOW("fstat", fstat(fd, &st));
	SHOW("close", close(fd));
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && !strcmp(argv[1], "writeback"))
		return writeback(argv[2], argv[3]);
	if (argc == 3 && !strcmp(argv[1], "shutdown"))
		return shutdown_case(argv[2]);
	fprintf(stderr, "usage: eio writeback MNT FILLDIR | eio shutdown MNT\n");
	return 2;
}
