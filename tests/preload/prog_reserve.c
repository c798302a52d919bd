/*
 * prog_reserve: reads and writes across the end of the shim's address-space
 * reservation. A map reserves max(1 GiB, 2 x size) past its base (or
 * MMAPIO_RESERVE); a file that grows past it has bytes the map cannot
 * reach, and a call that reaches them must still return the whole count
 * (a short read looks like the end of the file).
 *  1. the default: a file mapped while small, grown past 1 GiB (sparse),
 *     read and written around 1 GiB;
 *  2. the program runs itself again with MMAPIO_RESERVE=1M (nothing without
 *     the shim): a 5 MiB file read whole, in pieces and by preadv across
 *     the reservation's end (2 MiB, after alignment), and written across it.
 */
#include "common.h"

#define MIB (1024 * 1024)

static unsigned char big[5 * MIB], pat[2 * MIB];

static void sec(const char *s) { printf("== %s\n", s); }

static void around_1g(void)
{
	sec("grown past the default reservation");
	mkfile("g.bin", 8 * MIB, 5);
	int fd = (int)CK(open("g.bin", O_RDWR), "open");
	prd(fd, 4096, 4096, "mapped while small");
	int other = (int)CK(open("g.bin", O_RDWR), "open another");
	CK(ftruncate(other, (off_t)1536 * MIB), "ftruncate(1.5 GiB), sparse");
	gen(pat, sizeof pat, 6, 0);
	off_t at = (off_t)1024 * MIB - MIB / 2;
	CK(pwrite(fd, pat, MIB, at), "pwrite 1 MiB at 1 GiB - 512 KiB");
	errno = 0;
	ssize_t n = pread(fd, big, MIB, at);
	printf("pread 1 MiB at 1 GiB - 512 KiB = %zd fnv=%016llx\n", n,
	       (unsigned long long)fnv(big, n > 0 ? (size_t)n : 0));
	CK(lseek(fd, at - 4096, SEEK_SET), "lseek(1 GiB - 516 KiB)");
	for (int i = 0; i < 3; i++)
		rd(fd, 65536, "read across");
	struct iovec v[2] = { { big, 300 * 1024 }, { big + 300 * 1024, 400 * 1024 } };
	n = preadv(fd, v, 2, at + 100);
	printf("preadv 700 KiB across = %zd fnv=%016llx\n", n,
	       (unsigned long long)fnv(big, n > 0 ? (size_t)n : 0));
	CK(ftruncate(other, 8 * MIB), "ftruncate back to 8 MiB");
	CK(close(other), "close another");
	CK(close(fd), "close");
}

static void small_reserve(void)
{
	sec("MMAPIO_RESERVE=1M");
	mkfile("r.bin", 5 * MIB, 7);
	int fd = (int)CK(open("r.bin", O_RDWR), "open");
	ssize_t n = read(fd, big, sizeof big);
	printf("read 5 MiB = %zd fnv=%016llx\n", n, (unsigned long long)fnv(big, n > 0 ? (size_t)n : 0));
	n = pread(fd, big, MIB, MIB + MIB / 2);
	printf("pread 1 MiB at 1.5 MiB = %zd fnv=%016llx\n", n,
	       (unsigned long long)fnv(big, n > 0 ? (size_t)n : 0));
	CK(lseek(fd, 0, SEEK_SET), "lseek(0)");
	uint64_t h = FNV_INIT;
	long long total = 0;
	for (;;) {
		n = read(fd, big, 65536 + 17);
		if (n <= 0)
			break;
		h = fnv_add(h, big, (size_t)n);
		total += n;
	}
	printf("read() in 65553-byte pieces: %lld bytes fnv=%016llx, last %zd\n", total,
	       (unsigned long long)h, n);
	struct iovec v[3] = { { big, MIB }, { big + MIB, MIB }, { big + 2 * MIB, 100 } };
	n = preadv(fd, v, 3, MIB / 2);
	printf("preadv 2 MiB + 100 at 512 KiB = %zd fnv=%016llx\n", n,
	       (unsigned long long)fnv(big, n > 0 ? (size_t)n : 0));
	gen(pat, 8192, 8, 0);
	CK(pwrite(fd, pat, 8192, 2 * MIB - 4096), "pwrite 8 KiB across 2 MiB");
	prd(fd, 8192, 2 * MIB - 4096, "read it back");
	whole("after", fd);
	CK(close(fd), "close");
}

int main(int argc, char **argv)
{
	if (!getenv("MMAPIO_RESERVE")) {
		t_init(argc, argv);
		around_1g();
		fflush(stdout);
		setenv("MMAPIO_RESERVE", "1M", 1);
		execv("/proc/self/exe", argv);
		perror("execv");
		return 1;
	}
	t_init(argc, argv);
	small_reserve();
	return 0;
}
