/*
 * prog_rw: the read and write families on regular files.
 * read/pread/pread64/readv/preadv/preadv64/preadv2 (short read at EOF, 0 past
 * EOF, EINVAL on negative offsets, EBADF on closed fds), write/pwrite/writev/
 * pwritev/pwritev2 in place and extending, O_APPEND (and the Linux pwrite
 * quirk), O_WRONLY/O_RDONLY access errors, fsync/fdatasync/sync_file_range,
 * several files open at once, the program's own mmap of a file the shim also
 * serves, the open/openat/open64/openat64/creat/creat64/__open_2 entry points.
 */
#include "common.h"
#include <limits.h>
#include <sys/mman.h>
#include <sys/resource.h>

static int g_varflags; /* non-constant open flags: makes fortified builds call __open_2 */
static volatile int g_neg = -1, g_big = IOV_MAX + 1; /* opaque bad iovcnt values */
/* The sections' buffer: an array, so that fortified builds know its size (__read_chk, ...). */
static unsigned char buf[65536];

static void sec(const char *s) { printf("== %s\n", s); }

static long long rdv(int fd, const size_t *lens, int n, off_t off, int kind, const char *tag)
{
	/* kind 0 readv, 1 preadv, 2 preadv2(flags 0), 3 preadv64, 4 preadv64v2 */
	static unsigned char store[8][20000];
	struct iovec iov[8];
	for (int i = 0; i < n; i++) {
		iov[i].iov_base = store[i];
		iov[i].iov_len = lens[i];
	}
	errno = 0;
	ssize_t r;
	switch (kind) {
	case 0: r = readv(fd, iov, n); break;
	case 1: r = preadv(fd, iov, n, off); break;
	case 2: r = preadv2(fd, iov, n, off, 0); break;
	case 3: r = preadv64(fd, iov, n, off); break;
	default: r = preadv64v2(fd, iov, n, off, 0); break;
	}
	int e = errno;
	static const char *names[] = {"readv", "preadv", "preadv2", "preadv64", "preadv64v2"};
	printf("%s %s(fd%d, n=%d, off=%lld) = %zd", tag, names[kind], fd, n, (long long)off, r);
	if (r < 0) {
		printf(" %s\n", ename(e));
	} else {
		size_t left = (size_t)r;
		for (int i = 0; i < n; i++) {
			size_t k = left < lens[i] ? left : lens[i];
			printf(" [%zu:%016llx]", k, (unsigned long long)fnv(store[i], k));
			left -= k;
		}
		printf("\n");
	}
	errno = e;
	return r;
}

static void wpat(unsigned char *b, size_t n, int tag)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)('A' + (tag + i) % 26);
}

static void sec_create(void)
{
	sec("create");
	int fd = (int)CK(open("a.bin", O_CREAT | O_TRUNC | O_RDWR, 0644), "open(a.bin, CREAT|TRUNC|RDWR)");
	{
		unsigned char *big = malloc(16234);
		gen(big, 16234, 1, 0);
		CK(write(fd, big, 10000), "write 10000");
		CK(write(fd, big + 10000, 5000), "write 5000");
		CK(write(fd, big + 15000, 1234), "write 1234");
		free(big);
	}
	state("a", fd);
	CK(close(fd), "close");
	SAY("expected fnv of a.bin: %016llx\n", (unsigned long long)gen_fnv(1, 0, 16234));
}

static int sec_read(void)
{
	sec("read");
	int fd = (int)CK(open("a.bin", O_RDONLY), "open(a.bin, RDONLY)");
	rd(fd, 100, "r1");
	state("a", fd);
	rd(fd, 4096, "r2");
	rd(fd, 0, "r0");
	state("a", fd);
	rd(fd, 20000, "short");
	state("a", fd);
	rd(fd, 100, "eof");
	rd(fd, 100, "eof2");
	CK(lseek(fd, 16000, SEEK_SET), "lseek 16000");
	rd(fd, 1000, "tail");
	state("a", fd);
	CK(lseek(fd, 30000, SEEK_SET), "lseek 30000 (past EOF)");
	rd(fd, 100, "pasteof");
	state("a", fd);
	CK(lseek(fd, 0, SEEK_SET), "lseek 0");
	{
		/* read byte by byte across a page boundary */
		uint64_t h = FNV_INIT;
		long long tot = 0;
		CK(lseek(fd, 4090, SEEK_SET), "lseek 4090");
		for (int i = 0; i < 12; i++) {
			ssize_t k = read(fd, buf, 1);
			if (k > 0) {
				h = fnv_add(h, buf, 1);
				tot += k;
			}
		}
		SAY("12 single-byte reads: total=%lld fnv=%016llx\n", tot, (unsigned long long)h);
		state("a", fd);
	}
	{
		/* full file with a large heap buffer (plain read symbol even when fortified) */
		unsigned char *big = malloc(1 << 20);
		CK(lseek(fd, 0, SEEK_SET), "lseek 0");
		long long r = CK(read(fd, big, 1 << 20), "read 1MiB buffer");
		SAY("  fnv=%016llx\n", (unsigned long long)fnv(big, r > 0 ? (size_t)r : 0));
		free(big);
		state("a", fd);
	}
	return fd;
}

static void sec_pread(int fd)
{
	sec("pread");
	CK(lseek(fd, 123, SEEK_SET), "lseek 123");
	prd(fd, 100, 0, "p0");
	prd(fd, 4096, 4000, "p4000");
	prd(fd, 100, 16200, "pshort");
	prd(fd, 100, 16234, "peof");
	prd(fd, 100, 20000, "ppast");
	prd(fd, 100, -1, "pneg");
	prd(fd, 0, 5, "pzero");
	prd(fd, 65536, 0, "pall");
	state("a (off must still be 123)", fd);
	long long r = CK(pread64(fd, buf, rd_cap - 65203, 7777), "pread64 333 @7777 (__pread64_chk when fortified)");
	SAY("  fnv=%016llx\n", (unsigned long long)fnv(buf, r > 0 ? (size_t)r : 0));
	CK(pread64(fd, buf, 10, -4096), "pread64 @-4096");
	CK(pread64(fd, buf, 10, (off_t)1 << 40), "pread64 @1TiB");
	state("a", fd);
}

static void sec_readv(int fd)
{
	sec("readv family");
	size_t l3[3] = {10, 4000, 20000};
	size_t l2[2] = {1000, 3000};
	size_t lz[3] = {100, 0, 100};
	CK(lseek(fd, 0, SEEK_SET), "lseek 0");
	rdv(fd, l3, 3, 0, 0, "v1");
	state("a", fd);
	rdv(fd, l2, 2, 0, 0, "v-eof");
	CK(lseek(fd, 50, SEEK_SET), "lseek 50");
	rdv(fd, lz, 3, 0, 0, "v-zero-len-middle");
	state("a", fd);
	rdv(fd, l2, 0, 0, 0, "v-iovcnt0");
	rdv(fd, l2, 2, 5000, 1, "pv");
	rdv(fd, l2, 2, 16000, 1, "pv-short");
	rdv(fd, l2, 2, 17000, 1, "pv-past");
	rdv(fd, l2, 2, -1, 1, "pv-neg");
	rdv(fd, l2, 2, 9000, 3, "pv64");
	state("a (off 250)", fd);
	rdv(fd, l2, 2, 300, 2, "pv2@300");
	state("a (off 250)", fd);
	rdv(fd, l2, 2, -1, 2, "pv2@-1 uses+advances offset");
	state("a (off 4250)", fd);
	rdv(fd, l2, 2, -1, 4, "pv64v2@-1");
	state("a", fd);
	rdv(fd, l2, 2, -2, 2, "pv2@-2");
	struct iovec iv = {buf, 10};
	CK(preadv2(fd, &iv, 1, 0, 0x40000000), "preadv2 bad flag");
	CK(readv(fd, &iv, g_neg), "readv iovcnt -1");
	CK(readv(fd, &iv, g_big), "readv iovcnt IOV_MAX+1");
	state("a", fd);
}

static void sec_ebadf(int fd)
{
	sec("EBADF");
	CK(close(fd), "close");
	struct iovec iv = {buf, 10};
	struct stat st;
	CK(read(fd, buf, 10), "read closed");
	CK(pread(fd, buf, 10, 0), "pread closed");
	CK(readv(fd, &iv, 1), "readv closed");
	CK(preadv(fd, &iv, 1, 0), "preadv closed");
	CK(write(fd, buf, 10), "write closed");
	CK(lseek(fd, 0, SEEK_SET), "lseek closed");
	CK(fstat(fd, &st), "fstat closed");
	CK(fsync(fd), "fsync closed");
	CK(close(fd), "close closed");
	CK(read(-1, buf, 10), "read fd -1");
	CK(read(1000, buf, 10), "read fd 1000");
	CK(pread(-5, buf, 10, 0), "pread fd -5");
}

static void sec_write(void)
{
	sec("write in place and extending");
	mkfile("b.bin", 8292, 2);
	int rfd = (int)CK(open("b.bin", O_RDONLY), "open(b.bin, RDONLY) reader");
	int fd = (int)CK(open("b.bin", O_RDWR), "open(b.bin, RDWR)");
	wpat(buf, 200, 0);
	CK(write(fd, buf, 100), "write 100 @0 in place");
	state("b", fd);
	prd(rfd, 200, 0, "reader");
	CK(lseek(fd, -50, SEEK_END), "lseek END-50");
	wpat(buf, 200, 1);
	CK(write(fd, buf, 200), "write 200 across EOF");
	state("b", fd);
	state("b reader", rfd);
	prd(rfd, 300, 8192, "reader tail");
	wpat(buf, 500, 2);
	CK(pwrite(fd, buf, 500, 4000), "pwrite 500 @4000 in place (spans a page)");
	state("b", fd);
	CK(pwrite(fd, buf, 10, 8442 + 5000), "pwrite 10 past EOF (hole)");
	state("b", fd);
	prd(rfd, 6000, 8000, "reader hole");
	CK(pwrite(fd, buf, 10, -1), "pwrite @-1");
	CK(pwrite64(fd, buf, 7, 1), "pwrite64 7 @1");
	CK(write(fd, buf, 0), "write 0");
	CK(pwrite(fd, buf, 0, 100000), "pwrite 0 @100000");
	state("b", fd);
	{
		unsigned char x[3][50];
		wpat(x[0], 50, 3);
		wpat(x[1], 50, 4);
		wpat(x[2], 50, 5);
		struct iovec iv[3] = {{x[0], 50}, {x[1], 0}, {x[2], 50}};
		CK(lseek(fd, 1000, SEEK_SET), "lseek 1000");
		CK(writev(fd, iv, 3), "writev 100 in place");
		state("b", fd);
		CK(pwritev(fd, iv, 3, 2000), "pwritev 100 @2000");
		CK(pwritev64(fd, iv, 3, 2100), "pwritev64 100 @2100");
		state("b", fd);
		struct stat st;
		fstat(fd, &st);
		CK(pwritev(fd, iv, 3, st.st_size - 10), "pwritev across EOF");
		state("b", fd);
		CK(pwritev2(fd, iv, 3, -1, 0), "pwritev2 @-1 (current offset)");
		state("b", fd);
		CK(pwritev2(fd, iv, 1, 0, RWF_APPEND), "pwritev2 RWF_APPEND");
		state("b", fd);
		CK(writev(fd, iv, g_neg), "writev iovcnt -1");
		CK(pwritev(fd, iv, 1, -7), "pwritev @-7");
	}
	whole("b via writer", fd);
	whole("b via reader", rfd);
	rd(rfd, 65536, "reader from its own offset");
	state("b reader", rfd);
	CK(close(fd), "close writer");
	CK(close(rfd), "close reader");
	fd = (int)CK(open("b.bin", O_RDONLY), "reopen b.bin");
	whole("b reopened", fd);
	CK(write(fd, buf, 10), "write on RDONLY");
	CK(pwrite(fd, buf, 10, 0), "pwrite on RDONLY");
	CK(ftruncate(fd, 10), "ftruncate on RDONLY");
	CK(fsync(fd), "fsync on RDONLY");
	CK(fdatasync(fd), "fdatasync on RDONLY");
	CK(close(fd), "close");
}

static void sec_append(void)
{
	sec("O_APPEND");
	mkfile("c.bin", 5000, 3);
	int fd = (int)CK(open("c.bin", O_RDWR | O_APPEND), "open(c.bin, RDWR|APPEND)");
	state("c", fd);
	rd(fd, 100, "c read from 0");
	wpat(buf, 64, 6);
	CK(write(fd, buf, 10), "append 10");
	state("c", fd);
	CK(lseek(fd, 0, SEEK_SET), "lseek 0");
	CK(write(fd, buf, 20), "append 20 after lseek 0");
	state("c", fd);
	CK(pwrite(fd, buf, 30, 0), "pwrite 30 @0 (appends on Linux)");
	state("c", fd);
	prd(fd, 100, 4990, "c tail");
	prd(fd, 30, 0, "c head (unchanged)");
	CK(fcntl(fd, F_GETFL) & (O_ACCMODE | O_APPEND), "F_GETFL & (ACCMODE|APPEND)");
	CK(fcntl(fd, F_SETFL, 0), "F_SETFL 0 (clear O_APPEND)");
	CK(lseek(fd, 0, SEEK_SET), "lseek 0");
	CK(write(fd, buf, 5), "write 5 @0 now in place");
	state("c", fd);
	CK(fcntl(fd, F_SETFL, O_APPEND), "F_SETFL O_APPEND again");
	CK(write(fd, buf, 5), "write 5 appends");
	state("c", fd);
	whole("c", fd);
	CK(close(fd), "close");
	fd = (int)CK(open("c.bin", O_RDWR), "open(c.bin, RDWR)");
	CK(fcntl(fd, F_SETFL, O_APPEND), "F_SETFL O_APPEND on a plain RDWR fd");
	CK(lseek(fd, 10, SEEK_SET), "lseek 10");
	CK(write(fd, buf, 7), "write 7 must append");
	state("c", fd);
	whole("c", fd);
	CK(close(fd), "close");
	fd = (int)CK(open("c2.bin", O_WRONLY | O_CREAT | O_APPEND, 0644), "open(c2.bin, WRONLY|CREAT|APPEND)");
	CK(write(fd, buf, 40), "append 40");
	CK(pwrite(fd, buf, 40, 0), "pwrite 40 @0");
	CK(read(fd, buf, 10), "read on WRONLY");
	state("c2", fd);
	CK(close(fd), "close");
}

static void sec_wronly(void)
{
	sec("O_WRONLY");
	mkfile("w.bin", 10000, 4);
	int rfd = (int)CK(open("w.bin", O_RDONLY), "open(w.bin, RDONLY)");
	rd(rfd, 10, "reader");
	int fd = (int)CK(open("w.bin", O_WRONLY), "open(w.bin, WRONLY)");
	wpat(buf, 100, 7);
	CK(write(fd, buf, 100), "write 100 in place");
	CK(read(fd, buf, 10), "read on WRONLY");
	CK(pread(fd, buf, 10, 0), "pread on WRONLY");
	CK(lseek(fd, 0, SEEK_END), "lseek END");
	CK(write(fd, buf, 100), "write 100 extending");
	state("w", fd);
	CK(ftruncate(fd, 9000), "ftruncate 9000 via WRONLY");
	state("w", fd);
	state("w reader", rfd);
	prd(rfd, 200, 0, "reader");
	prd(rfd, 200, 8900, "reader tail");
	rd(rfd, 50, "reader continues at 10");
	CK(fsync(fd), "fsync");
	CK(fdatasync(fd), "fdatasync");
	CK(sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE), "sync_file_range");
	CK(close(fd), "close writer");
	CK(close(rfd), "close reader");
}

static void sec_fsync(void)
{
	sec("fsync after writes");
	int fd = (int)CK(open("b.bin", O_RDWR), "open(b.bin, RDWR)");
	CK(pwrite(fd, "hello", 5, 10), "pwrite in place");
	CK(fsync(fd), "fsync");
	CK(pwrite(fd, "world", 5, 20), "pwrite in place");
	CK(fdatasync(fd), "fdatasync");
	CK(syncfs(fd), "syncfs");
	whole("b", fd);
	CK(close(fd), "close");
}

static void sec_several_files(void)
{
	sec("several files at once");
	const char *names[5] = {"m0.bin", "m1.bin", "m2.bin", "m3.bin", "m4.bin"};
	int fds[5];
	uint64_t h[5];
	long long tot[5];
	for (int i = 0; i < 5; i++) {
		mkfile(names[i], 3000 + 7000 * (size_t)i, 10 + (uint64_t)i);
		fds[i] = (int)CK(open(names[i], O_RDONLY), "open(%s)", names[i]);
		h[i] = FNV_INIT;
		tot[i] = 0;
	}
	int live = 5;
	while (live) {
		live = 0;
		for (int i = 0; i < 5; i++) {
			ssize_t k = read(fds[i], buf, 777);
			if (k > 0) {
				h[i] = fnv_add(h[i], buf, (size_t)k);
				tot[i] += k;
				live++;
			}
		}
	}
	for (int i = 0; i < 5; i++)
		SAY("%s: %lld bytes fnv=%016llx expect=%016llx\n", names[i], tot[i], (unsigned long long)h[i],
			(unsigned long long)gen_fnv(10 + (uint64_t)i, 0, 3000 + 7000 * (size_t)i));
	CK(close(fds[2]), "close m2");
	CK(close(fds[0]), "close m0");
	int a = (int)CK(open("m4.bin", O_RDONLY), "open m4 again (reuses lowest fd)");
	int b = (int)CK(open("m3.bin", O_RDONLY), "open m3 again");
	rd(a, 100, "m4 second description");
	state("m4 first description", fds[4]);
	prd(b, 100, 0, "m3");
	CK(close(a), "close");
	CK(close(b), "close");
	CK(close(fds[1]), "close");
	CK(close(fds[3]), "close");
	CK(close(fds[4]), "close");
}

static void sec_many_fds(void)
{
	sec("many descriptors, high descriptor numbers");
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rlim_t want = rl.rlim_max < 70000 ? rl.rlim_max : 70000;
	rl.rlim_cur = want;
	SAY("raise RLIMIT_NOFILE to %s\n", setrlimit(RLIMIT_NOFILE, &rl) == 0 ? "min(hard, 70000)" : "failed");
	static int fds[300];
	int opened = 0, good = 0;
	for (int i = 0; i < 300; i++) {
		fds[i] = open(i % 2 ? "m1.bin" : "m3.bin", O_RDONLY);
		if (fds[i] >= 0)
			opened++;
	}
	SAY("300 opens: ok=%d first=%d last=%d\n", opened, fds[0], fds[299]);
	for (int i = 0; i < 300; i++) {
		ssize_t k = pread(fds[i], buf, 20000, 0);
		if (k == (i % 2 ? 10000 : 20000))
			good++;
	}
	SAY("300 preads right: %d\n", good);
	for (int i = 0; i < 300; i++)
		close(fds[i]);
	int fd = (int)CK(open("a.bin", O_RDONLY), "open a.bin");
	rd(fd, 10, "low");
	int h1 = (int)CK(dup2(fd, 4000), "dup2 to 4000");
	rd(h1, 10, "fd4000");
	int h2 = (int)CK(dup2(fd, 65000), "dup2 to 65000 (fails if the hard limit is lower)");
	if (h2 >= 0) {
		rd(h2, 10, "fd65000");
		prd(h2, 10, 16230, "fd65000");
		CK(close(h2), "close 65000");
	}
	state("low", fd);
	CK(close(h1), "close 4000");
	CK(close(fd), "close");
	int h3 = (int)CK(fcntl(0, F_DUPFD, 3000), "F_DUPFD 3000 (stdin)");
	if (h3 >= 0)
		CK(close(h3), "close");
	h3 = (int)CK(open("a.bin", O_RDONLY), "open after closing (lowest free)");
	h1 = (int)CK(fcntl(h3, F_DUPFD, 5000), "F_DUPFD 5000");
	CK(close(h3), "close low");
	rd(h1, 100, "fd5000");
	state("fd5000", h1);
	CK(close(h1), "close");
}

static void sec_own_mmap(void)
{
	sec("own mmap of a served file");
	mkfile("map.bin", 3 * 4096 + 100, 5);
	int fd = (int)CK(open("map.bin", O_RDWR), "open(map.bin, RDWR)");
	{
		size_t len = 3 * 4096 + 100;
		unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		SAY("mmap %s\n", p == MAP_FAILED ? "failed" : "ok");
		if (p != MAP_FAILED) {
			CK(pwrite(fd, "0123456789", 10, 4090), "pwrite 10 @4090");
			SAY("mapping sees: %016llx\n", (unsigned long long)fnv(p + 4090, 10));
			memcpy(p + 5000, "abcdefghijklmnopqrstuvwxyz", 26);
			prd(fd, 40, 4995, "pread sees mapping store");
			rd(fd, 6000, "read sees mapping store");
			CK(msync(p, len, MS_SYNC), "msync");
			CK(ftruncate(fd, 5 * 4096), "ftruncate grow to 5 pages");
			CK(pwrite(fd, "TAIL", 4, 5 * 4096 - 4), "pwrite last 4 bytes");
			prd(fd, 100, 3 * 4096 + 50, "pread grown region");
			SAY("old mapping end: %016llx\n", (unsigned long long)fnv(p + len - 50, 50));
			CK(munmap(p, len), "munmap");
			whole("map", fd);
		}
		unsigned char *q = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 4096);
		if (q != MAP_FAILED) {
			SAY("private map page1: %016llx\n", (unsigned long long)fnv(q, 4096));
			CK(munmap(q, 4096), "munmap");
		}
	}
	CK(close(fd), "close");
}

static void sec_open_entry_points(void)
{
	sec("open entry points");
	int fd = (int)CK(open("a.bin", O_RDONLY | g_varflags), "open var flags (__open_2 when fortified)");
	rd(fd, 50, "open");
	CK(close(fd), "close");
	fd = (int)CK(open64("a.bin", O_RDONLY | g_varflags), "open64 var flags");
	rd(fd, 50, "open64");
	CK(close(fd), "close");
	fd = (int)CK(openat(AT_FDCWD, "a.bin", O_RDONLY | g_varflags), "openat var flags");
	rd(fd, 50, "openat");
	CK(close(fd), "close");
	{
		int dfd = (int)CK(open(".", O_RDONLY | O_DIRECTORY), "open(., DIRECTORY)");
		fd = (int)CK(openat64(dfd, "a.bin", O_RDONLY | g_varflags), "openat64 var flags");
		prd(fd, 50, 16000, "openat64");
		CK(close(fd), "close");
		fd = (int)CK(openat(dfd, "a.bin", O_RDONLY | O_CLOEXEC), "openat CLOEXEC");
		CK(fcntl(fd, F_GETFD), "F_GETFD");
		rd(fd, 50, "openat cloexec");
		CK(close(fd), "close");
		CK(close(dfd), "close dir");
	}
	fd = (int)CK(creat("cr.bin", 0644), "creat");
	CK(write(fd, "creat-data", 10), "write");
	CK(read(fd, buf, 10), "read on creat fd");
	state("cr", fd);
	CK(close(fd), "close");
	fd = (int)CK(creat64("cr.bin", 0644), "creat64 (truncates)");
	state("cr", fd);
	CK(close(fd), "close");
	CK(open("a.bin", O_CREAT | O_EXCL | O_RDWR, 0644), "open existing with O_EXCL");
	CK(open("nope.bin", O_RDONLY), "open missing");
	CK(open("a.bin/x", O_RDONLY), "open through a file");
	fd = (int)CK(open("a.bin", O_RDONLY | O_NOFOLLOW), "open NOFOLLOW regular");
	CK(close(fd), "close");
	fd = (int)CK(open("s.bin", O_RDWR | O_CREAT | O_SYNC, 0644), "open SYNC");
	CK(fcntl(fd, F_GETFL) & (O_ACCMODE | O_SYNC | O_DSYNC), "F_GETFL & (ACCMODE|SYNC|DSYNC)");
	CK(write(fd, "sync-data", 9), "write");
	CK(pwrite(fd, "S", 1, 0), "pwrite in place");
	whole("s", fd);
	CK(close(fd), "close");
}

static void sec_trunc_while_open(void)
{
	sec("O_TRUNC while another description is open");
	mkfile("t.bin", 9000, 6);
	int rfd = (int)CK(open("t.bin", O_RDONLY), "open reader");
	rd(rfd, 100, "reader");
	int fd = (int)CK(open("t.bin", O_RDWR | O_TRUNC), "open RDWR|TRUNC");
	state("t reader", rfd);
	rd(rfd, 100, "reader after trunc");
	prd(rfd, 100, 0, "reader after trunc");
	CK(write(fd, "fresh content, fifty bytes long..................", 50), "write 50");
	rd(rfd, 100, "reader at 100 (past new EOF)");
	prd(rfd, 100, 0, "reader pread 0");
	CK(close(fd), "close");
	CK(close(rfd), "close");
}

int main(int argc, char **argv)
{
	t_init(argc, argv);
	g_varflags = argc > 100 ? O_CREAT : 0;

	sec_create();
	int fd = sec_read();
	sec_pread(fd);
	sec_readv(fd);
	sec_ebadf(fd); /* closes fd */
	sec_write();
	sec_append();
	sec_wronly();
	sec_fsync();
	sec_several_files();
	sec_many_fds();
	sec_own_mmap();
	sec_open_entry_points();
	sec_trunc_while_open();

	SAY("done\n");
	return 0;
}
