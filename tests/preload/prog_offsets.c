/*
 * prog_offsets: file offsets and sizes.
 * lseek/lseek64 SEEK_SET/CUR/END/DATA/HOLE (past EOF, negative -> EINVAL,
 * bad whence, huge offsets), sparse files, ftruncate/truncate grow and shrink
 * then read, dup/dup2/dup3/F_DUPFD/F_DUPFD_CLOEXEC sharing one offset and the
 * status flags, dup2 over a served descriptor, two independent descriptions,
 * calls that move the kernel offset behind the shim's back
 * (sendfile/copy_file_range/splice), and stdio on a descriptor (fdopen,
 * fclose closing it, fdopen "a" setting O_APPEND through glibc's internal fcntl).
 */
#include "common.h"
#include <limits.h>
#include <sys/sendfile.h>

static void sec(const char *s) { printf("== %s\n", s); }

int main(int argc, char **argv)
{
	t_init(argc, argv);
	unsigned char buf[65536];

	sec("lseek");
	mkfile("o.bin", 20000, 21);
	int fd = (int)CK(open("o.bin", O_RDONLY), "open(o.bin)");
	CK(lseek(fd, 100, SEEK_SET), "SET 100");
	CK(lseek(fd, 50, SEEK_CUR), "CUR +50");
	CK(lseek(fd, -200, SEEK_CUR), "CUR -200");
	state("o", fd);
	rd(fd, 10, "at 150");
	CK(lseek(fd, 0, SEEK_END), "END 0");
	CK(lseek(fd, -10, SEEK_END), "END -10");
	rd(fd, 100, "last 10");
	CK(lseek(fd, 1000, SEEK_END), "END +1000");
	rd(fd, 100, "past EOF");
	state("o", fd);
	CK(lseek(fd, -1, SEEK_SET), "SET -1");
	CK(lseek(fd, -30000, SEEK_END), "END -30000");
	CK(lseek(fd, 0, 7), "whence 7");
	state("o (unchanged)", fd);
	CK(lseek(fd, LLONG_MAX, SEEK_SET), "SET LLONG_MAX");
	CK(lseek(fd, (off_t)1 << 40, SEEK_SET), "SET 1TiB");
	rd(fd, 10, "at 1TiB");
	CK(lseek(fd, LLONG_MAX - 5, SEEK_CUR), "CUR overflow");
	CK(lseek(fd, 0, SEEK_DATA), "DATA 0");
	CK(lseek(fd, 19999, SEEK_DATA), "DATA 19999");
	CK(lseek(fd, 20000, SEEK_DATA), "DATA 20000");
	CK(lseek(fd, -1, SEEK_DATA), "DATA -1");
	CK(lseek(fd, 0, SEEK_HOLE), "HOLE 0");
	CK(lseek(fd, 12345, SEEK_HOLE), "HOLE 12345");
	CK(lseek(fd, 20000, SEEK_HOLE), "HOLE 20000");
	state("o", fd);
	rd(fd, 10, "after HOLE");
	CK(lseek64(fd, 5000, SEEK_SET), "lseek64 SET 5000");
	CK(lseek64(fd, 5, SEEK_CUR), "lseek64 CUR 5");
	rd(fd, 16, "at 5005");
	CK(lseek64(fd, -5, SEEK_END), "lseek64 END -5");
	rd(fd, 16, "last 5");
	/* reads interleaved with relative seeks */
	CK(lseek(fd, 0, SEEK_SET), "SET 0");
	for (int i = 0; i < 6; i++) {
		rd(fd, 333, "step");
		CK(lseek(fd, 1000, SEEK_CUR), "CUR +1000");
	}
	CK(close(fd), "close");

	sec("sparse");
	fd = (int)CK(open("sp.bin", O_RDWR | O_CREAT | O_TRUNC, 0644), "open(sp.bin)");
	CK(ftruncate(fd, 1 << 20), "ftruncate 1MiB");
	CK(pwrite(fd, "data-at-512K", 12, 512 * 1024), "pwrite @512K (inside size)");
	CK(lseek(fd, 900 * 1024, SEEK_SET), "SET 900K");
	CK(write(fd, "data-at-900K", 12), "write @900K");
	CK(lseek(fd, 0, SEEK_DATA), "DATA 0");
	CK(lseek(fd, 0, SEEK_HOLE), "HOLE 0");
	CK(lseek(fd, 600 * 1024, SEEK_DATA), "DATA 600K");
	CK(lseek(fd, 512 * 1024, SEEK_HOLE), "HOLE 512K");
	CK(lseek(fd, 1000 * 1024, SEEK_DATA), "DATA 1000K");
	CK(lseek(fd, 1000 * 1024, SEEK_HOLE), "HOLE 1000K");
	prd(fd, 100, 512 * 1024 - 50, "around 512K");
	whole("sp", fd);
	CK(close(fd), "close");

	sec("large sparse file (8 GiB)");
	{
		const off_t big = (off_t)8 << 30;
		fd = (int)CK(open("big.bin", O_RDWR | O_CREAT | O_TRUNC, 0644), "open(big.bin)");
		CK(write(fd, "head", 4), "write head");
		CK(pwrite(fd, "tail-of-a-big-file", 18, big - 10), "pwrite at 8GiB-10");
		state("big", fd);
		prd(fd, 100, big - 20, "big tail");
		prd(fd, 4096, (off_t)4 << 30, "big middle (hole)");
		prd(fd, 10, 0, "big head");
		CK(lseek(fd, 4, SEEK_DATA), "DATA 4");
		CK(lseek(fd, 0, SEEK_HOLE), "HOLE 0");
		CK(lseek(fd, -5, SEEK_END), "END -5");
		rd(fd, 100, "big last 5");
		CK(lseek(fd, (off_t)6 << 30, SEEK_SET), "SET 6GiB");
		rd(fd, 100, "big at 6GiB");
		CK(write(fd, "six", 3), "write at 6GiB (in place)");
		prd(fd, 5, ((off_t)6 << 30) + 99, "big after write");
		CK(ftruncate(fd, 100), "ftruncate 100");
		prd(fd, 100, big - 20, "big tail after shrink");
		whole("big", fd);
		CK(close(fd), "close");
		CK(unlink("big.bin"), "unlink");
	}

	sec("ftruncate");
	mkfile("t.bin", 10000, 22);
	fd = (int)CK(open("t.bin", O_RDWR), "open(t.bin, RDWR)");
	rd(fd, 3000, "head");
	CK(ftruncate(fd, 2000), "ftruncate 2000");
	state("t", fd);
	rd(fd, 100, "past new EOF");
	prd(fd, 1000, 1500, "straddling new EOF");
	CK(lseek(fd, 0, SEEK_END), "END");
	CK(ftruncate(fd, 50000), "ftruncate 50000");
	CK(lseek(fd, 3000, SEEK_SET), "SET 3000");
	rd(fd, 1000, "zeros in grown part");
	prd(fd, 200, 1900, "data then zeros");
	CK(pwrite(fd, "in-grown-area", 13, 30000), "pwrite into grown area");
	prd(fd, 40, 29990, "grown area");
	CK(lseek(fd, 49990, SEEK_SET), "SET 49990");
	CK(write(fd, "twenty-bytes-long!!!", 20), "write across EOF");
	state("t", fd);
	CK(ftruncate(fd, -1), "ftruncate -1");
	CK(ftruncate64(fd, 40000), "ftruncate64 40000");
	CK(ftruncate(fd, 40000), "ftruncate same size");
	state("t", fd);
	CK(truncate("t.bin", 100), "truncate(path) 100");
	state("t", fd);
	rd(fd, 100, "after truncate(path)");
	prd(fd, 200, 0, "after truncate(path)");
	CK(truncate("t.bin", 70000), "truncate(path) 70000");
	prd(fd, 200, 60000, "zeros");
	prd(fd, 200, 69900, "end");
	CK(ftruncate(fd, 0), "ftruncate 0");
	prd(fd, 10, 0, "empty");
	CK(write(fd, "x", 1), "write 1 at old offset (makes hole)");
	state("t", fd);
	whole("t", fd);
	CK(close(fd), "close");

	sec("growth by another descriptor");
	mkfile("g.bin", 5000, 23);
	fd = (int)CK(open("g.bin", O_RDONLY), "open reader");
	{
		int w = (int)CK(open("g.bin", O_WRONLY | O_APPEND), "open appender");
		rd(fd, 5000, "reader to EOF");
		rd(fd, 100, "reader at EOF");
		gen(buf, 9000, 24, 0);
		CK(write(w, buf, 9000), "append 9000");
		rd(fd, 65536, "reader sees growth");
		state("g", fd);
		CK(ftruncate(w, 3000), "shrink through appender");
		rd(fd, 100, "reader past EOF");
		prd(fd, 100, 2950, "reader pread");
		CK(close(w), "close appender");
	}
	CK(close(fd), "close");

	sec("dup family");
	fd = (int)CK(open("o.bin", O_RDONLY), "open(o.bin)");
	rd(fd, 10, "fd");
	int d = (int)CK(dup(fd), "dup");
	rd(d, 10, "dup");
	state("fd", fd);
	CK(lseek(d, 100, SEEK_SET), "lseek(dup, 100)");
	state("fd", fd);
	rd(fd, 10, "fd");
	state("dup", d);
	CK(close(fd), "close original");
	rd(d, 10, "dup after close of original");
	int d50 = (int)CK(dup2(d, 50), "dup2(d, 50)");
	rd(d50, 10, "fd50");
	state("d", d);
	CK(dup2(d, d), "dup2(d, d)");
	int d51 = (int)CK(dup3(d, 51, O_CLOEXEC), "dup3(d, 51, CLOEXEC)");
	CK(fcntl(d51, F_GETFD), "F_GETFD 51");
	CK(fcntl(d50, F_GETFD), "F_GETFD 50");
	CK(dup3(d, d, 0), "dup3(d, d)");
	CK(dup3(d, 52, 12345), "dup3 bad flags");
	int d60 = (int)CK(fcntl(d, F_DUPFD, 60), "F_DUPFD 60");
	int d70 = (int)CK(fcntl(d, F_DUPFD_CLOEXEC, 70), "F_DUPFD_CLOEXEC 70");
	int dlow = (int)CK(fcntl(d, F_DUPFD, 0), "F_DUPFD 0");
	rd(d60, 10, "fd60");
	rd(d70, 10, "fd70");
	rd(dlow, 10, "fdlow");
	state("d51", d51);
	{
		int other = (int)CK(open("t.bin", O_RDONLY), "open(t.bin)");
		rd(other, 1, "other");
		CK(dup2(d, other), "dup2(d, other): other now o.bin");
		rd(other, 10, "other");
		state("d", d);
		CK(close(other), "close other");
	}
	CK(close(d51), "close 51");
	CK(close(d60), "close 60");
	CK(close(d70), "close 70");
	CK(close(dlow), "close low");
	rd(d50, 10, "fd50 still works");
	CK(close(d50), "close 50");
	CK(close(d), "close d");
	CK(dup(d), "dup closed");
	CK(dup2(d, 55), "dup2 closed");
	CK(dup2(0, 1 << 20), "dup2 to huge fd");
	CK(fcntl(d, F_DUPFD, 0), "F_DUPFD closed");
	{
		/* writes through dups share the offset; flags are per description */
		mkfile("dw.bin", 1000, 25);
		int w1 = (int)CK(open("dw.bin", O_RDWR), "open(dw.bin, RDWR)");
		int w2 = (int)CK(dup(w1), "dup");
		CK(write(w1, "1111111111", 10), "write w1");
		CK(write(w2, "2222222222", 10), "write w2");
		state("w1", w1);
		CK(fcntl(w2, F_SETFL, O_APPEND), "F_SETFL(w2, O_APPEND)");
		CK(fcntl(w1, F_GETFL) & O_APPEND, "F_GETFL(w1) & O_APPEND");
		CK(write(w1, "3333333333", 10), "write w1 (appends via shared flags)");
		state("w1", w1);
		CK(fcntl(w1, F_SETFL, 0), "F_SETFL(w1, 0)");
		CK(lseek(w2, 5, SEEK_SET), "lseek(w2, 5)");
		CK(write(w1, "44444", 5), "write w1 at 5");
		state("w2", w2);
		whole("dw", w1);
		CK(close(w1), "close");
		CK(close(w2), "close");
	}

	sec("independent descriptions");
	{
		int a = (int)CK(open("o.bin", O_RDWR), "open a");
		int b = (int)CK(open("o.bin", O_RDONLY), "open b");
		rd(a, 100, "a");
		rd(b, 50, "b");
		rd(a, 100, "a");
		state("a", a);
		state("b", b);
		CK(write(a, "written-by-a", 12), "write a @200");
		CK(lseek(b, 195, SEEK_SET), "lseek b 195");
		rd(b, 30, "b sees a's write");
		CK(close(a), "close a");
		rd(b, 10, "b continues");
		CK(close(b), "close b");
	}

	sec("sendfile / copy_file_range / splice");
	{
		int in = (int)CK(open("o.bin", O_RDONLY), "open in");
		int out = (int)CK(open("out.bin", O_RDWR | O_CREAT | O_TRUNC, 0644), "open out");
		rd(in, 1000, "in");
		CK(sendfile(out, in, NULL, 500), "sendfile(out, in, NULL, 500)");
		state("in", in);
		state("out", out);
		rd(in, 100, "in after sendfile");
		off_t so = 10000;
		CK(sendfile(out, in, &so, 300), "sendfile with offset ptr");
		SAY("  so=%lld\n", (long long)so);
		state("in", in);
		CK(write(out, "<w>", 3), "write out");
		CK(copy_file_range(in, NULL, out, NULL, 300, 0), "copy_file_range(NULL, NULL, 300)");
		state("in", in);
		state("out", out);
		CK(write(out, "<w2>", 4), "write out");
		loff_t ci = 15000, co = 0;
		CK(copy_file_range(in, &ci, out, &co, 100, 0), "copy_file_range(&15000, &0, 100)");
		SAY("  ci=%lld co=%lld\n", (long long)ci, (long long)co);
		state("in", in);
		state("out", out);
		rd(in, 100, "in");
		int p[2];
		CK(pipe(p), "pipe");
		CK(splice(in, NULL, p[1], NULL, 200, 0), "splice(in, NULL, pipe, 200)");
		state("in", in);
		rd(p[0], 1000, "pipe");
		CK(write(p[1], "from-the-pipe", 13), "write pipe");
		CK(splice(p[0], NULL, out, NULL, 13, 0), "splice(pipe, out, NULL)");
		state("out", out);
		CK(write(out, "<w3>", 4), "write out");
		CK(close(p[0]), "close");
		CK(close(p[1]), "close");
		whole("out", out);
		rd(in, 50, "in");
		CK(close(in), "close");
		CK(close(out), "close");
	}

	sec("stdio on a descriptor");
	{
		fd = (int)CK(open("o.bin", O_RDONLY), "open");
		rd(fd, 10, "before fdopen");
		FILE *f = fdopen(fd, "r");
		SAY("fdopen %s\n", f ? "ok" : "failed");
		if (f) {
			size_t k = fread(buf, 1, 100, f);
			SAY("fread 100 = %zu fnv=%016llx\n", k, (unsigned long long)fnv(buf, k));
			SAY("ftell = %ld\n", ftell(f));
			state("after fread", fd);
			rd(fd, 10, "read after fread");
			SAY("fseek 0 = %d\n", fseek(f, 0, SEEK_SET));
			k = fread(buf, 1, 10, f);
			SAY("fread 10 = %zu fnv=%016llx\n", k, (unsigned long long)fnv(buf, k));
			state("after fseek+fread", fd);
			SAY("fclose = %d\n", fclose(f));
			CK(read(fd, buf, 10), "read after fclose");
			CK(lseek(fd, 0, SEEK_CUR), "lseek after fclose");
			int n = (int)CK(open("t.bin", O_RDONLY), "open t.bin (reuses the number)");
			prd(n, 100, 0, "t.bin");
			rd(n, 100, "t.bin");
			CK(close(n), "close");
		}
		f = fopen("o.bin", "r");
		SAY("fopen %s\n", f ? "ok" : "failed");
		if (f) {
			size_t k = fread(buf, 1, 5000, f);
			SAY("fread 5000 = %zu fnv=%016llx\n", k, (unsigned long long)fnv(buf, k));
			rd(fileno(f), 10, "read(fileno)");
			CK(lseek(fileno(f), 0, SEEK_CUR), "lseek(fileno)");
			SAY("fclose = %d\n", fclose(f));
		}
		mkfile("ap.bin", 1000, 26);
		fd = (int)CK(open("ap.bin", O_RDWR), "open ap.bin RDWR");
		rd(fd, 100, "ap");
		f = fdopen(fd, "a");
		SAY("fdopen a %s\n", f ? "ok" : "failed");
		CK(fcntl(fd, F_GETFL) & O_APPEND, "F_GETFL & O_APPEND");
		CK(lseek(fd, 0, SEEK_SET), "lseek 0");
		CK(write(fd, "XYZ", 3), "write 3 (appends: fdopen set O_APPEND)");
		state("ap", fd);
		if (f) {
			SAY("fputs = %d\n", fputs("-stdio-", f));
			SAY("fclose = %d\n", fclose(f));
		}
		fd = (int)CK(open("ap.bin", O_RDONLY), "reopen");
		whole("ap", fd);
		CK(close(fd), "close");
		/* fdopen for writing at a shadow offset */
		mkfile("ws.bin", 1000, 27);
		fd = (int)CK(open("ws.bin", O_RDWR), "open ws.bin RDWR");
		rd(fd, 300, "ws");
		f = fdopen(fd, "r+");
		if (f) {
			SAY("fputs = %d\n", fputs("<stdio-at-300>", f));
			SAY("fflush = %d\n", fflush(f));
			state("ws", fd);
			SAY("fclose = %d\n", fclose(f));
		}
		fd = (int)CK(open("ws.bin", O_RDONLY), "reopen");
		prd(fd, 30, 290, "ws");
		CK(close(fd), "close");
	}

	SAY("done\n");
	return 0;
}
