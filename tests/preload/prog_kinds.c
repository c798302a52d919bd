/*
 * prog_kinds: every kind of descriptor the shim must leave alone or serve
 * correctly: pipe, socketpair, FIFO, pty (skipped the same way in both runs
 * when unavailable), eventfd, /proc/self/status (only non-volatile facts are
 * printed), /dev/null, /dev/zero, a directory, O_DIRECT (skipped if the
 * filesystem refuses it), F_SETFL O_DIRECT on a served descriptor, O_PATH
 * (read fails EBADF), memfd_create (with seals), O_TMPFILE, a deleted-but-open
 * file, a file replaced by rename, inode reuse after unlink, a symlink,
 * O_WRONLY and O_APPEND files.
 */
#include "common.h"
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <termios.h>

static void sec(const char *s) { printf("== %s\n", s); }

/* Open fd's file again through /proc/self/fd (a new description) and read it. */
static void reread_proc(int fd, const char *tag)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	int g = (int)CK(open(path, O_RDONLY), "reopen via /proc/self/fd");
	rd(g, 100, tag);
	CK(close(g), "close");
}

static void nonseekable(const char *what, int fd)
{
	char b[16];
	CK(lseek(fd, 0, SEEK_CUR), "%s lseek", what);
	CK(pread(fd, b, 1, 0), "%s pread", what);
	CK(pwrite(fd, b, 1, 0), "%s pwrite", what);
	CK(fsync(fd), "%s fsync", what);
	CK(ftruncate(fd, 0), "%s ftruncate", what);
}

int main(int argc, char **argv)
{
	t_init(argc, argv);
	unsigned char buf[65536];

	sec("pipe");
	{
		int p[2];
		CK(pipe(p), "pipe");
		SAY("fds %d %d\n", p[0], p[1]);
		CK(write(p[1], "0123456789", 10), "write");
		rd(p[0], 100, "pipe");
		struct iovec iv[2] = {{(void *)"abc", 3}, {(void *)"defg", 4}};
		CK(writev(p[1], iv, 2), "writev");
		struct iovec rv = {buf, 100};
		CK(readv(p[0], &rv, 1), "readv");
		CK(read(p[1], buf, 1), "read write end");
		CK(write(p[0], "x", 1), "write read end");
		nonseekable("pipe", p[0]);
		struct stat st;
		fstat(p[0], &st);
		SAY("S_ISFIFO %d\n", S_ISFIFO(st.st_mode));
		CK(close(p[1]), "close write end");
		rd(p[0], 10, "pipe EOF");
		CK(close(p[0]), "close");
	}

	sec("socketpair");
	{
		int sv[2];
		CK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), "socketpair");
		SAY("fds %d %d\n", sv[0], sv[1]);
		CK(write(sv[0], "ping", 4), "write");
		rd(sv[1], 100, "sock");
		CK(write(sv[1], "pong!", 5), "write back");
		rd(sv[0], 100, "sock");
		nonseekable("socket", sv[0]);
		CK(shutdown(sv[1], SHUT_WR), "shutdown");
		rd(sv[0], 10, "sock EOF");
		CK(close(sv[0]), "close");
		CK(close(sv[1]), "close");
	}

	sec("fifo");
	{
		CK(mkfifo("ff", 0644), "mkfifo");
		int f = (int)CK(open("ff", O_RDWR), "open fifo RDWR");
		CK(write(f, "through-the-fifo", 16), "write");
		rd(f, 100, "fifo");
		nonseekable("fifo", f);
		CK(close(f), "close");
	}

	sec("pty");
	{
		int m = posix_openpt(O_RDWR | O_NOCTTY);
		if (m < 0 || grantpt(m) != 0 || unlockpt(m) != 0 || !ptsname(m)) {
			SAY("pty unavailable: skipped\n");
			if (m >= 0)
				close(m);
		} else {
			int s = open(ptsname(m), O_RDWR | O_NOCTTY);
			if (s < 0) {
				SAY("pty slave unavailable: skipped\n");
			} else {
				SAY("pty: master fd %d slave fd %d isatty %d\n", m, s, isatty(s));
				struct termios t;
				tcgetattr(s, &t);
				cfmakeraw(&t);
				tcsetattr(s, TCSANOW, &t);
				CK(write(m, "to-slave", 8), "write master");
				struct pollfd pf = {s, POLLIN, 0};
				CK(poll(&pf, 1, 5000), "poll slave");
				rd(s, 100, "slave");
				CK(write(s, "to-master", 9), "write slave");
				pf.fd = m;
				CK(poll(&pf, 1, 5000), "poll master");
				rd(m, 100, "master");
				CK(lseek(s, 0, SEEK_CUR), "lseek slave");
				CK(pread(s, buf, 1, 0), "pread slave");
				CK(close(s), "close slave");
			}
			CK(close(m), "close master");
		}
	}

	sec("eventfd");
	{
		int e = (int)CK(eventfd(3, 0), "eventfd");
		uint64_t v = 4;
		CK(write(e, &v, 8), "write 4");
		v = 0;
		CK(read(e, &v, 8), "read");
		SAY("value %llu\n", (unsigned long long)v);
		CK(read(e, &v, 4), "short read");
		nonseekable("eventfd", e);
		CK(close(e), "close");
	}

	sec("/proc/self/status");
	{
		int f = (int)CK(open("/proc/self/status", O_RDONLY), "open");
		errno = 0;
		ssize_t r = read(f, buf, sizeof buf - 1);
		SAY("read > 0: %s\n", r > 0 ? "yes" : "no");
		if (r > 0) {
			buf[r] = 0;
			SAY("has Name: %s\n", strstr((char *)buf, "Name:") ? "yes" : "no");
		}
		SAY("lseek 0 = %lld\n", (long long)lseek(f, 0, SEEK_SET));
		SAY("pread > 0: %s\n", pread(f, buf, 100, 0) > 0 ? "yes" : "no");
		struct stat st;
		CK(fstat(f, &st), "fstat");
		SAY("st_size %lld\n", (long long)st.st_size);
		long long tot = 0;
		lseek(f, 0, SEEK_SET);
		while ((r = read(f, buf, 64)) > 0)
			tot += r;
		SAY("read to EOF: total > 0: %s, last = %zd\n", tot > 0 ? "yes" : "no", r);
		CK(close(f), "close");
		f = (int)CK(open("/proc/self/maps", O_RDONLY), "open /proc/self/maps");
		SAY("maps readable: %s\n", read(f, buf, 4096) > 0 ? "yes" : "no");
		CK(close(f), "close");
	}

	sec("/dev/null and /dev/zero");
	{
		int n = (int)CK(open("/dev/null", O_RDWR), "open /dev/null");
		rd(n, 100, "null");
		CK(write(n, "discard", 7), "write");
		CK(lseek(n, 100, SEEK_SET), "lseek");
		CK(close(n), "close");
		int z = (int)CK(open("/dev/zero", O_RDONLY), "open /dev/zero");
		rd(z, 1000, "zero");
		prd(z, 1000, 12345, "zero");
		CK(lseek(z, 0, SEEK_END), "lseek END");
		CK(close(z), "close");
	}

	sec("directory");
	{
		int d = (int)CK(open(".", O_RDONLY | O_DIRECTORY), "open .");
		CK(read(d, buf, 100), "read dir");
		CK(pread(d, buf, 100, 0), "pread dir");
		CK(write(d, buf, 1), "write dir");
		CK(fsync(d), "fsync dir");
		CK(close(d), "close");
		CK(open(".", O_RDWR), "open . RDWR");
	}

	mkfile("k.bin", 65536, 51);

	sec("O_DIRECT");
	{
		unsigned char *al = NULL;
		if (posix_memalign((void **)&al, 4096, 3 * 4096) != 0)
			al = NULL;
		int f = open("k.bin", O_RDONLY | O_DIRECT);
		int e = errno;
		if (f < 0) {
			SAY("O_DIRECT open failed (%s): skipped\n", ename(e));
		} else {
			errno = 0;
			ssize_t r = read(f, al, 4096);
			e = errno;
			if (r < 0 && e == EINVAL) {
				SAY("O_DIRECT reads unsupported here: skipped\n");
			} else {
				SAY("O_DIRECT fd %d\n", f);
				SAY("aligned read = %zd fnv=%016llx\n", r, (unsigned long long)fnv(al, r > 0 ? (size_t)r : 0));
				r = pread(f, al, 8192, 4096);
				SAY("aligned pread = %zd fnv=%016llx\n", r, (unsigned long long)fnv(al, r > 0 ? (size_t)r : 0));
				CK(pread(f, al, 4096, 1), "pread unaligned offset");
				CK(pread(f, al + 1, 4096, 0), "pread unaligned buffer");
				CK(pread(f, al, 100, 0), "pread unaligned length");
				CK(pread(f, al, 4096, 65536), "pread at EOF");
				state("direct", f);
				CK(fcntl(f, F_GETFL) & O_DIRECT ? 1 : 0, "F_GETFL has O_DIRECT");
			}
			CK(close(f), "close");
		}
		/* toggle O_DIRECT on a descriptor the shim may already serve */
		f = (int)CK(open("k.bin", O_RDONLY), "open k.bin plain");
		rd(f, 100, "plain");
		errno = 0;
		int sr = fcntl(f, F_SETFL, O_DIRECT);
		e = errno;
		if (sr != 0) {
			SAY("F_SETFL O_DIRECT refused (%s)\n", ename(e));
		} else {
			SAY("F_SETFL O_DIRECT = 0\n");
			CK(read(f, al, 4096), "read at unaligned offset 100 under O_DIRECT");
			CK(lseek(f, 4096, SEEK_SET), "lseek 4096");
			errno = 0;
			ssize_t r = read(f, al, 4096);
			SAY("aligned read under O_DIRECT = %zd%s%s fnv=%016llx\n", r, r < 0 ? " " : "",
				r < 0 ? ename(errno) : "", (unsigned long long)fnv(al, r > 0 ? (size_t)r : 0));
			CK(pread(f, buf, 10, 3), "pread unaligned under O_DIRECT");
			CK(fcntl(f, F_SETFL, 0), "F_SETFL 0");
		}
		rd(f, 100, "plain again");
		state("k", f);
		CK(close(f), "close");
		free(al);
	}

	sec("O_PATH");
	{
		int f = (int)CK(open("k.bin", O_PATH), "open O_PATH");
		CK(read(f, buf, 10), "read");
		CK(pread(f, buf, 10, 0), "pread");
		struct iovec iv = {buf, 10};
		CK(readv(f, &iv, 1), "readv");
		CK(write(f, buf, 10), "write");
		CK(lseek(f, 0, SEEK_SET), "lseek");
		CK(fsync(f), "fsync");
		CK(ftruncate(f, 0), "ftruncate");
		struct stat st;
		CK(fstat(f, &st), "fstat");
		SAY("size %lld\n", (long long)st.st_size);
		int d = (int)CK(dup(f), "dup");
		CK(read(d, buf, 10), "read dup");
		CK(close(d), "close dup");
		reread_proc(f, "reopened");
		CK(close(f), "close");
	}

	sec("memfd");
	{
		int m = (int)CK(memfd_create("mmapio-test", MFD_ALLOW_SEALING), "memfd_create");
		gen(buf, 10000, 52, 0);
		CK(write(m, buf, 10000), "write 10000");
		state("memfd", m);
		CK(lseek(m, 100, SEEK_SET), "lseek 100");
		rd(m, 200, "memfd");
		prd(m, 500, 9800, "memfd");
		CK(ftruncate(m, 20000), "ftruncate 20000");
		prd(m, 100, 9950, "memfd");
		CK(pwrite(m, "in-place", 8, 50), "pwrite in place");
		prd(m, 20, 45, "memfd");
		CK(fcntl(m, F_ADD_SEALS, F_SEAL_SHRINK), "F_ADD_SEALS SHRINK");
		CK(ftruncate(m, 100), "ftruncate shrink (sealed)");
		CK(fcntl(m, F_ADD_SEALS, F_SEAL_WRITE), "F_ADD_SEALS WRITE");
		CK(pwrite(m, "x", 1, 0), "pwrite after write seal");
		CK(fcntl(m, F_GET_SEALS), "F_GET_SEALS");
		whole("memfd", m);
		reread_proc(m, "memfd reopened");
		CK(close(m), "close");
		m = (int)CK(memfd_create("plain", 0), "memfd_create no sealing");
		CK(ftruncate(m, 8192), "ftruncate");
		CK(write(m, "head", 4), "write");
		rd(m, 100, "memfd");
		CK(fcntl(m, F_ADD_SEALS, F_SEAL_WRITE), "F_ADD_SEALS without ALLOW_SEALING");
		CK(close(m), "close");
	}

	sec("O_TMPFILE");
	{
		errno = 0;
		int t = open(".", O_TMPFILE | O_RDWR, 0600);
		if (t < 0) {
			SAY("O_TMPFILE unsupported (%s): skipped\n", ename(errno));
		} else {
			SAY("O_TMPFILE fd %d\n", t);
			gen(buf, 5000, 53, 0);
			CK(write(t, buf, 5000), "write");
			CK(lseek(t, 10, SEEK_SET), "lseek");
			rd(t, 100, "tmpfile");
			CK(pwrite(t, "zz", 2, 4999), "pwrite across EOF");
			whole("tmpfile", t);
			CK(close(t), "close");
		}
	}

	sec("deleted but open");
	{
		mkfile("del.bin", 5000, 54);
		int r = (int)CK(open("del.bin", O_RDONLY), "open reader");
		int w = (int)CK(open("del.bin", O_RDWR), "open writer");
		rd(r, 100, "before unlink");
		CK(unlink("del.bin"), "unlink");
		rd(r, 100, "after unlink");
		struct stat st;
		fstat(r, &st);
		SAY("nlink %lu size %lld\n", (unsigned long)st.st_nlink, (long long)st.st_size);
		CK(pwrite(w, "after-unlink", 12, 150), "pwrite in place");
		CK(lseek(w, 0, SEEK_END), "lseek END");
		CK(write(w, "grow", 4), "write extending");
		prd(r, 20, 145, "reader");
		rd(r, 65536, "reader to EOF");
		CK(ftruncate(w, 1000), "ftruncate");
		prd(r, 100, 950, "reader");
		mkfile("del.bin", 3000, 55);
		int n = (int)CK(open("del.bin", O_RDONLY), "open new del.bin");
		whole("new file", n);
		whole("old file", r);
		CK(close(n), "close");
		CK(close(w), "close");
		CK(close(r), "close");
	}

	sec("replaced by rename");
	{
		mkfile("rn.bin", 4000, 56);
		int old = (int)CK(open("rn.bin", O_RDONLY), "open old");
		rd(old, 100, "old");
		mkfile("rn.tmp", 6000, 57);
		CK(rename("rn.tmp", "rn.bin"), "rename over");
		int nw = (int)CK(open("rn.bin", O_RDONLY), "open new");
		rd(nw, 100, "new");
		rd(old, 100, "old");
		whole("new", nw);
		whole("old", old);
		CK(close(old), "close");
		CK(close(nw), "close");
	}

	sec("inode reuse after unlink");
	{
		int good = 0;
		for (int i = 0; i < 20; i++) {
			char name[32];
			snprintf(name, sizeof name, "iu%d.bin", i % 2);
			size_t sz = 1000 + 517 * (size_t)i;
			gen(buf, sz, 60 + (uint64_t)i, 0);
			int f = open(name, O_CREAT | O_TRUNC | O_RDWR, 0644);
			ssize_t w = write(f, buf, sz);
			close(f);
			f = open(name, O_RDONLY);
			unsigned char rb[20000];
			ssize_t r = read(f, rb, sizeof rb);
			close(f);
			unlink(name);
			if (w == (ssize_t)sz && r == (ssize_t)sz && memcmp(rb, buf, sz) == 0)
				good++;
		}
		SAY("20 create/read/unlink cycles, content right: %d\n", good);
	}

	sec("symlink");
	{
		CK(symlink("k.bin", "link.bin"), "symlink");
		int f = (int)CK(open("link.bin", O_RDONLY), "open via link");
		rd(f, 1000, "link");
		CK(open("link.bin", O_RDONLY | O_NOFOLLOW), "open NOFOLLOW link");
		CK(close(f), "close");
	}

	sec("O_WRONLY and O_APPEND files");
	{
		int w = (int)CK(open("wo.bin", O_WRONLY | O_CREAT | O_TRUNC, 0644), "open WRONLY");
		CK(write(w, "0123456789", 10), "write");
		CK(pwrite(w, "AB", 2, 3), "pwrite");
		CK(read(w, buf, 1), "read");
		CK(lseek(w, 20, SEEK_SET), "lseek 20");
		CK(write(w, "end", 3), "write past EOF");
		state("wo", w);
		CK(close(w), "close");
		int a = (int)CK(open("wo.bin", O_WRONLY | O_APPEND), "open WRONLY|APPEND");
		CK(write(a, "appended", 8), "write");
		CK(pwrite(a, "P", 1, 0), "pwrite (appends)");
		state("wo", a);
		CK(close(a), "close");
		int r = (int)CK(open("wo.bin", O_RDONLY), "open RDONLY");
		rd(r, 100, "wo");
		CK(close(r), "close");
	}
	SAY("done\n");
	return 0;
}
