/*
 * fsx.c - randomized file-operation exerciser checked against a model.
 *
 * In the spirit of the classic fsx, written for mmapio: a long random
 * sequence of read, write, pread, pwrite, readv, writev, preadv, pwritev,
 * lseek (SET/CUR/END/DATA/HOLE), ftruncate/truncate (grow and shrink),
 * fsync/fdatasync, close/reopen (every access mode, O_APPEND, O_TRUNC), dup,
 * dup2, dup3 and F_DUPFD on one or more files, plus calls that must fail
 * (bad descriptors, negative offsets, bad whence, too many iovecs, buffers
 * the kernel refuses with EFAULT). Every result is checked against an
 * in-memory model of each file and of each open file description:
 *   - the return value and errno,
 *   - the bytes read, and that nothing past the returned count was touched,
 *   - the descriptor number open/dup return (the lowest free one: a shim
 *     must not consume descriptors),
 *   - the file offset, via lseek(fd, 0, SEEK_CUR), after every operation,
 *   - the file size, via fstat, after every operation,
 *   - the whole content of every file at regular intervals, both through a
 *     descriptor and through a mapping of our own.
 * On the first mismatch it prints the seed, the operation index and the last
 * operations, and exits 1. At the end it writes NAME.expected next to each
 * file so that a process without the shim can compare (cmp) what reached
 * the file.
 *
 *   fsx [-s SEED] [-n OPS] [-f NFILES] [-d DIR] [-S MAXSIZE] [-r FILE] [-q] [-A]
 *
 * -A opens every descriptor O_RDWR (with or without O_APPEND): no O_RDONLY
 * or O_WRONLY descriptors, which steers clear of two shim bugs that have
 * their own reproducers (bug_wronly_extend.c, bug_rdonly_rebind.c), so the
 * rest of the operation space still gets long runs while they are open.
 *
 * -r FILE: a child process concurrently truncates, extends, punches and
 * writes FILE, only ever storing pat(offset) (stress.h). The exerciser
 * interleaves reads of FILE (read, pread, readv, lseek SEEK_END, fstat)
 * whose results must be plausible: a count within the request, an offset
 * advanced by exactly the count, every byte 0 or pat(offset), no error.
 *
 * Hidden: -X N corrupts the model after operation N (one byte of a file's
 * content, or its size) and verifies at once: the run must then fail. The
 * test suite uses it to prove that the checker detects mismatches.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "stress.h"

#define MAXF 8
#define MAXD 64
#define MAXFDS 24
#define FDLIM 1024
#define HIST 20
#define MAXLEN (256u << 10)

struct mfile {
	char path[PATH_MAX];
	unsigned char *d; /* maxsize bytes; beyond size always 0 */
	uint64_t size;
};
struct mdesc {
	bool used;
	int file;
	int acc;	/* O_RDONLY, O_WRONLY, O_RDWR */
	bool append;
	int64_t off;
	int refs;
};
struct mfd {
	int fd;
	int desc;
};

static struct mfile F[MAXF];
static int nf = 3;
static struct mdesc D[MAXD];
static struct mfd FD[MAXFDS];
static int nfd;
static bool fdused[FDLIM];

static uint64_t seed = 1, nops = 10000, maxsize = 256 << 10, opi, inject = UINT64_MAX;
static uint64_t rs; /* the PRNG state */
static const char *dir = ".";
static const char *racefile;
static bool quiet;
static bool avoid_known; /* -A: open O_RDWR only (see usage) */
static char hist[HIST][320];
static unsigned long counts[32];
static const char *opnames[32];
static unsigned char *rbuf, *wbuf, *vbuf;
static unsigned char *efault_page; /* one RW page followed by one PROT_NONE page */
static long pagesz;
static pid_t racer = -1;

/* ---------------------------------------------------------------- logging */

static void logop(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logop(const char *fmt, ...)
{
	char *h = hist[opi % HIST];
	int k = snprintf(h, sizeof hist[0], "#%llu ", (unsigned long long)opi);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(h + k, sizeof hist[0] - (size_t)k, fmt, ap);
	va_end(ap);
}

/* Append a result to the current history line. */
static void logres(ssize_t r, int e)
{
	char *h = hist[opi % HIST];
	size_t k = strlen(h);
	if (r < 0)
		snprintf(h + k, sizeof hist[0] - k, " -> -1 %s", errname(e));
	else
		snprintf(h + k, sizeof hist[0] - k, " -> %zd", r);
}

static void kill_racer(void)
{
	if (racer > 0) {
		kill(racer, SIGKILL);
		waitpid(racer, NULL, 0);
		racer = -1;
	}
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...)
{
	kill_racer();
	fflush(stdout);
	fprintf(stderr, "fsx: MISMATCH seed=%llu op=%llu: ", (unsigned long long)seed,
		(unsigned long long)opi);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nfsx: last operations (oldest first):\n");
	uint64_t first = opi + 1 > HIST ? opi + 1 - HIST : 0;
	for (uint64_t i = first; i <= opi; i++)
		if (hist[i % HIST][0])
			fprintf(stderr, "  %s\n", hist[i % HIST]);
	fprintf(stderr, "fsx: reproduce with: fsx -s %llu -n %llu -f %d -S %llu%s%s\n",
		(unsigned long long)seed, (unsigned long long)nops, nf,
		(unsigned long long)maxsize, racefile ? " -r " : "", racefile ? racefile : "");
	exit(1);
}

/* ------------------------------------------------------------------ model */

static int lowest_free(int min)
{
	for (int i = min < 0 ? 0 : min; i < FDLIM; i++)
		if (!fdused[i])
			return i;
	return -1;
}

static int desc_new(int file, int acc, bool append)
{
	for (int i = 0; i < MAXD; i++) {
		if (!D[i].used) {
			D[i] = (struct mdesc){ true, file, acc, append, 0, 0 };
			return i;
		}
	}
	fprintf(stderr, "fsx: out of model descriptions\n");
	exit(2);
}

static void fd_add(int fd, int desc)
{
	if (nfd == MAXFDS || fd < 0 || fd >= FDLIM) {
		fprintf(stderr, "fsx: model fd table full\n");
		exit(2);
	}
	FD[nfd++] = (struct mfd){ fd, desc };
	D[desc].refs++;
	fdused[fd] = true;
}

/* Forget FD[i] (the caller closed it, or dup2 replaced it). */
static void fd_del(int i)
{
	int d = FD[i].desc;
	fdused[FD[i].fd] = false;
	if (--D[d].refs == 0)
		D[d].used = false;
	FD[i] = FD[--nfd];
}

static int fd_index(int fd)
{
	for (int i = 0; i < nfd; i++)
		if (FD[i].fd == fd)
			return i;
	return -1;
}

static int fds_of(int file)
{
	int n = 0;
	for (int i = 0; i < nfd; i++)
		n += D[FD[i].desc].file == file;
	return n;
}

static bool readable(int i) { return D[FD[i].desc].acc != O_WRONLY; }
static bool writable(int i) { return D[FD[i].desc].acc != O_RDONLY; }

/* ---------------------------------------------------------------- checks */

static void check_state(int i)
{
	int fd = FD[i].fd;
	struct mdesc *d = &D[FD[i].desc];
	errno = 0;
	off_t cur = lseek(fd, 0, SEEK_CUR);
	if (cur != d->off)
		fail("offset of fd %d is %lld (%s), model says %lld", fd, (long long)cur,
		     cur < 0 ? errname(errno) : "ok", (long long)d->off);
	struct stat st;
	if (fstat(fd, &st) < 0)
		fail("fstat(%d): %s", fd, errname(errno));
	if ((uint64_t)st.st_size != F[d->file].size)
		fail("size of file %d (fd %d) is %lld, model says %llu", d->file, fd,
		     (long long)st.st_size, (unsigned long long)F[d->file].size);
}

static void expect_err(const char *what, ssize_t r, int e, int want)
{
	if (r != -1 || e != want)
		fail("%s returned %zd (%s), expected -1 %s", what, r, r < 0 ? errname(e) : "ok",
		     errname(want));
}

/* Run call with errno cleared and expect -1 with errno want. */
#define EXPECT_ERR(what, call, want)                         \
	do {                                                 \
		errno = 0;                                   \
		ssize_t r_ = (call);                         \
		int e_ = errno;                              \
		expect_err(what, r_, e_, want);              \
	} while (0)

static void compare(const char *what, const unsigned char *got, int file, uint64_t off,
		    size_t n)
{
	const unsigned char *want = F[file].d + off;
	if (memcmp(got, want, n) == 0)
		return;
	size_t k = 0;
	while (got[k] == want[k])
		k++;
	fail("%s: file %d byte at offset %llu is 0x%02x, model says 0x%02x (%zu bytes compared)",
	     what, file, (unsigned long long)(off + k), got[k], want[k], n);
}

static void verify_file(int f, const char *why)
{
	/* Through a descriptor: any readable one of this file, or a fresh one. */
	int idx = -1;
	for (int i = 0; i < nfd; i++)
		if (D[FD[i].desc].file == f && readable(i))
			idx = i;
	int fd, tmp = -1;
	if (idx >= 0) {
		fd = FD[idx].fd;
	} else {
		int want = lowest_free(0);
		tmp = fd = open(F[f].path, O_RDONLY);
		if (fd != want)
			fail("verify: open returned %d (%s), expected %d", fd, errname(errno), want);
	}
	uint64_t size = F[f].size;
	struct stat st;
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != size)
		fail("verify(%s): size of file %d is %lld, model says %llu", why, f,
		     (long long)st.st_size, (unsigned long long)size);
	for (uint64_t off = 0; off < size;) {
		size_t want = size - off > MAXLEN ? MAXLEN : (size_t)(size - off);
		ssize_t r = pread(fd, vbuf, want, (off_t)off);
		if (r != (ssize_t)want)
			fail("verify(%s): pread(%d, %zu, %llu) returned %zd (%s)", why, fd, want,
			     (unsigned long long)off, r, r < 0 ? errname(errno) : "short");
		compare(why, vbuf, f, off, want);
		off += want;
	}
	ssize_t r = pread(fd, vbuf, 10, (off_t)size);
	if (r != 0)
		fail("verify(%s): pread at end returned %zd", why, r);
	/* Through a mapping of our own: the same page cache the shim writes. */
	if (size > 0) {
		void *p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			fail("verify: mmap: %s", errname(errno));
		compare("verify(own mmap)", p, f, 0, size);
		munmap(p, size);
	}
	if (tmp >= 0 && close(tmp) != 0)
		fail("verify: close: %s", errname(errno));
}

static void verify_all(const char *why)
{
	for (int f = 0; f < nf; f++)
		verify_file(f, why);
}

/* ------------------------------------------------------------ generators */

static size_t pick_len(void)
{
	uint64_t r = rnd(&rs, 100);
	if (r < 4)
		return 0;
	if (r < 50)
		return 1 + rnd(&rs, 512);
	if (r < 85)
		return 1 + rnd(&rs, 16384);
	return 1 + rnd(&rs, MAXLEN);
}

/* An offset for pread/pwrite: mostly inside or near the end of the file. */
static int64_t pick_off(int f)
{
	uint64_t size = F[f].size, r = rnd(&rs, 100);
	if (r < 2)
		return -1 - (int64_t)rnd(&rs, 1000); /* EINVAL */
	if (r < 60)
		return (int64_t)rnd(&rs, size + 1);
	if (r < 75)
		return (int64_t)(size > 100 ? size - rnd(&rs, 100) : rnd(&rs, size + 1));
	if (r < 85)
		return (int64_t)(size + rnd(&rs, 8192));
	return (int64_t)rnd(&rs, maxsize);
}

static void fill(unsigned char *b, size_t n)
{
	uint64_t x = sm64(&rs);
	for (size_t i = 0; i < n; i++) {
		if ((i & 7) == 0)
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		b[i] = (unsigned char)(x >> ((i & 7) * 8));
	}
}

/* Split len bytes of base into 0..4 iovecs (some may be empty). */
static int split(struct iovec *v, unsigned char *base, size_t len)
{
	int cnt = (int)rnd(&rs, 5);
	if (cnt == 0 && len > 0)
		cnt = 1;
	size_t done = 0;
	for (int i = 0; i < cnt; i++) {
		size_t k = i == cnt - 1 ? len - done : rnd(&rs, len - done + 1);
		v[i].iov_base = base + done;
		v[i].iov_len = k;
		done += k;
	}
	return cnt;
}

static int pick_fd(bool (*ok)(int))
{
	int cand[MAXFDS], n = 0;
	for (int i = 0; i < nfd; i++)
		if (!ok || ok(i))
			cand[n++] = i;
	return n ? cand[rnd(&rs, (uint64_t)n)] : -1;
}

/* ------------------------------------------------------------ operations */

enum { OP_READ, OP_PREAD, OP_READV, OP_PREADV, OP_WRITE, OP_PWRITE, OP_WRITEV, OP_PWRITEV,
       OP_LSEEK, OP_TRUNC, OP_FSYNC, OP_REOPEN, OP_DUP, OP_CLOSE, OP_CLOSEALL, OP_BADFD,
       OP_EFAULT, OP_VERIFY, OP_RACE, OP_NUM };

static void op_read(int kind)
{
	int i = pick_fd(NULL);
	int fd = FD[i].fd, f = D[FD[i].desc].file;
	struct mdesc *d = &D[FD[i].desc];
	size_t len = pick_len();
	bool positional = kind == OP_PREAD || kind == OP_PREADV;
	bool vec = kind == OP_READV || kind == OP_PREADV;
	int64_t off = positional ? pick_off(f) : d->off;
	struct iovec v[4];
	int cnt = 0;
	memset(rbuf, 0xA5, len + 64);
	if (vec)
		cnt = split(v, rbuf, len);
	logop("%s fd=%d len=%zu%s off=%lld (size %llu)", opnames[kind], fd, len,
	      vec ? (cnt ? "" : " iovcnt=0") : "", (long long)off,
	      (unsigned long long)F[f].size);
	errno = 0;
	ssize_t r;
	switch (kind) {
	case OP_READ: r = read(fd, rbuf, len); break;
	case OP_PREAD: r = pread(fd, rbuf, len, off); break;
	case OP_READV: r = readv(fd, v, cnt); break;
	default: r = preadv(fd, v, cnt, off); break;
	}
	int e = errno;
	logres(r, e);
	if ((positional && off < 0) || !readable(i)) {
		expect_err(opnames[kind], r, e, positional && off < 0 ? EINVAL : EBADF);
		check_state(i);
		return;
	}
	if (vec) {
		len = 0;
		for (int k = 0; k < cnt; k++)
			len += v[k].iov_len;
	}
	uint64_t size = F[f].size;
	size_t want = (uint64_t)off >= size ? 0 : (size - (uint64_t)off < len ? (size_t)(size - (uint64_t)off) : len);
	if (r != (ssize_t)want)
		fail("%s(fd %d, %zu bytes at %lld) returned %zd (%s), expected %zu", opnames[kind],
		     fd, len, (long long)off, r, r < 0 ? errname(e) : "ok", want);
	compare(opnames[kind], rbuf, f, (uint64_t)off, want);
	for (size_t k = want; k < len + 64; k++)
		if (rbuf[k] != 0xA5)
			fail("%s returned %zd but wrote the buffer at index %zu", opnames[kind], r, k);
	if (!positional)
		d->off += (int64_t)want;
	check_state(i);
}

/* Apply a write of n bytes at pos to the model of file f. */
static void model_write(int f, uint64_t pos, const unsigned char *b, size_t n)
{
	if (n == 0)
		return;
	memcpy(F[f].d + pos, b, n);
	if (pos + n > F[f].size)
		F[f].size = pos + n;
}

static void op_write(int kind)
{
	int i = pick_fd(NULL);
	int fd = FD[i].fd, f = D[FD[i].desc].file;
	struct mdesc *d = &D[FD[i].desc];
	bool positional = kind == OP_PWRITE || kind == OP_PWRITEV;
	bool vec = kind == OP_WRITEV || kind == OP_PWRITEV;
	int64_t off = positional ? pick_off(f) : d->off;
	size_t len = pick_len();
	/* Where the bytes land: O_APPEND wins even over pwrite's offset (Linux). */
	uint64_t pos = d->append ? F[f].size : (uint64_t)(off < 0 ? 0 : off);
	if (writable(i) && !(positional && off < 0)) {
		if (pos >= maxsize)
			len = 0;
		else if (len > maxsize - pos)
			len = (size_t)(maxsize - pos);
	}
	fill(wbuf, len);
	struct iovec v[4];
	int cnt = vec ? split(v, wbuf, len) : 0;
	logop("%s fd=%d len=%zu off=%lld%s (size %llu)", opnames[kind], fd, len,
	      (long long)off, d->append ? " append" : "", (unsigned long long)F[f].size);
	errno = 0;
	ssize_t r;
	switch (kind) {
	case OP_WRITE: r = write(fd, wbuf, len); break;
	case OP_PWRITE: r = pwrite(fd, wbuf, len, off); break;
	case OP_WRITEV: r = writev(fd, v, cnt); break;
	default: r = pwritev(fd, v, cnt, off); break;
	}
	int e = errno;
	logres(r, e);
	if ((positional && off < 0) || !writable(i)) {
		expect_err(opnames[kind], r, e, positional && off < 0 ? EINVAL : EBADF);
		check_state(i);
		return;
	}
	if (r != (ssize_t)len)
		fail("%s(fd %d, %zu bytes at %llu) returned %zd (%s)", opnames[kind], fd, len,
		     (unsigned long long)pos, r, r < 0 ? errname(e) : "ok");
	model_write(f, pos, wbuf, len);
	if (!positional && len > 0)
		d->off = (int64_t)(pos + len);
	check_state(i);
}

static void op_lseek(void)
{
	int i = pick_fd(NULL);
	int fd = FD[i].fd, f = D[FD[i].desc].file;
	struct mdesc *d = &D[FD[i].desc];
	int64_t size = (int64_t)F[f].size, delta = 0, base = 0;
	int whence;
	bool loose = false; /* the answer depends on the file system's limits */
	uint64_t r = rnd(&rs, 100);
	if (r < 35) {
		whence = SEEK_SET;
		delta = (int64_t)rnd(&rs, maxsize + maxsize / 4) - 50;
		if (rnd(&rs, 50) == 0) {
			delta = rnd(&rs, 2) ? (int64_t)1 << 41 : INT64_MAX;
			loose = true;
		}
	} else if (r < 65) {
		whence = SEEK_CUR;
		base = d->off;
		delta = (int64_t)rnd(&rs, (uint64_t)d->off + maxsize / 2 + 100) - d->off - 50;
	} else if (r < 88) {
		whence = SEEK_END;
		base = size;
		delta = (int64_t)rnd(&rs, (uint64_t)size + maxsize / 4 + 100) - size - 50;
	} else if (r < 94) {
		whence = rnd(&rs, 2) ? SEEK_DATA : SEEK_HOLE;
		delta = (int64_t)rnd(&rs, (uint64_t)size + 100);
	} else {
		whence = 5 + (int)rnd(&rs, 100); /* invalid */
		delta = (int64_t)rnd(&rs, 100);
	}
	logop("lseek fd=%d off=%lld whence=%d (cur %lld size %lld)", fd, (long long)delta,
	      whence, (long long)d->off, (long long)size);
	errno = 0;
	off_t res = lseek(fd, delta, whence);
	int e = errno;
	logres(res, e);
	if (whence > SEEK_HOLE) {
		expect_err("lseek(bad whence)", res, e, EINVAL);
	} else if (whence == SEEK_DATA || whence == SEEK_HOLE) {
		if (delta >= size) {
			expect_err("lseek(SEEK_DATA/HOLE past end)", res, e, ENXIO);
		} else if (whence == SEEK_DATA && res == -1 && e == ENXIO) {
			/* No data after delta: the rest of the file must be a hole. */
			for (int64_t k = delta; k < size; k++)
				if (F[f].d[k])
					fail("SEEK_DATA from %lld: ENXIO, but the model has data at %lld",
					     (long long)delta, (long long)k);
		} else {
			if (res < delta || res > size || (whence == SEEK_DATA && res == size))
				fail("lseek(%lld, %s) = %lld, outside [%lld, %lld]", (long long)delta,
				     whence == SEEK_DATA ? "SEEK_DATA" : "SEEK_HOLE", (long long)res,
				     (long long)delta, (long long)size);
			if (whence == SEEK_DATA)
				for (int64_t k = delta; k < res; k++)
					if (F[f].d[k])
						fail("SEEK_DATA from %lld skipped data at %lld",
						     (long long)delta, (long long)k);
			if (whence == SEEK_HOLE && res < size && F[f].d[res])
				fail("SEEK_HOLE returned %lld, where the model has data",
				     (long long)res);
			d->off = res;
		}
	} else {
		int64_t want = base + delta;
		if (want < 0) {
			expect_err("lseek(negative result)", res, e, EINVAL);
		} else if (loose && res == -1 && e == EINVAL) {
			/* beyond this file system's maximum file size */
		} else if (res != want) {
			fail("lseek(fd %d, %lld, %d) = %lld (%s), expected %lld", fd, (long long)delta,
			     whence, (long long)res, res < 0 ? errname(e) : "ok", (long long)want);
		} else {
			d->off = want;
		}
	}
	check_state(i);
	/* Park descriptors far beyond the limit back in range. */
	if (d->off > (int64_t)(4 * maxsize)) {
		if (lseek(fd, 0, SEEK_SET) != 0)
			fail("lseek back to 0: %s", errname(errno));
		d->off = 0;
	}
}

static void model_resize(int f, uint64_t n)
{
	if (n < F[f].size)
		memset(F[f].d + n, 0, F[f].size - n);
	F[f].size = n;
}

static void op_trunc(void)
{
	int i = pick_fd(NULL);
	int fd = FD[i].fd, f = D[FD[i].desc].file;
	uint64_t size = F[f].size, r = rnd(&rs, 100);
	int64_t n;
	if (r < 3)
		n = -1 - (int64_t)rnd(&rs, 100);
	else if (r < 50)
		n = (int64_t)rnd(&rs, size + 1);
	else
		n = (int64_t)(size + rnd(&rs, maxsize - size + 1));
	bool by_path = rnd(&rs, 8) == 0;
	logop("%s fd=%d len=%lld (size %llu)", by_path ? "truncate(path)" : "ftruncate", fd,
	      (long long)n, (unsigned long long)size);
	errno = 0;
	int res = by_path ? truncate(F[f].path, n) : ftruncate(fd, n);
	int e = errno;
	logres(res, e);
	if (n < 0 || (!by_path && !writable(i))) {
		expect_err(by_path ? "truncate" : "ftruncate", res, e, EINVAL);
	} else {
		if (res != 0)
			fail("%s(%lld) failed: %s", by_path ? "truncate" : "ftruncate", (long long)n,
			     errname(e));
		model_resize(f, (uint64_t)n);
	}
	check_state(i);
}

static void op_fsync(void)
{
	int i = pick_fd(NULL);
	bool data = rnd(&rs, 2);
	logop("%s fd=%d", data ? "fdatasync" : "fsync", FD[i].fd);
	int r = data ? fdatasync(FD[i].fd) : fsync(FD[i].fd);
	logres(r, errno);
	if (r != 0)
		fail("fsync(%d): %s", FD[i].fd, errname(errno));
	check_state(i);
}

/* Open file f with a random mode, checking the descriptor number. */
static void open_file(int f)
{
	static const int accs[] = { O_RDWR, O_RDWR, O_RDWR, O_RDONLY, O_RDONLY, O_WRONLY };
	int acc = avoid_known ? O_RDWR : accs[rnd(&rs, 6)];
	bool append = acc != O_RDONLY && rnd(&rs, 5) == 0;
	bool trunc = acc != O_RDONLY && rnd(&rs, 20) == 0;
	int want = lowest_free(0);
	int flags = acc | (append ? O_APPEND : 0) | (trunc ? O_TRUNC : 0);
	logop("open file %d %s%s%s", f, acc == O_RDWR ? "O_RDWR" : acc == O_RDONLY ? "O_RDONLY" : "O_WRONLY",
	      append ? "|O_APPEND" : "", trunc ? "|O_TRUNC" : "");
	int fd = open(F[f].path, flags);
	logres(fd, errno);
	if (fd != want)
		fail("open returned %d (%s), expected descriptor %d", fd, fd < 0 ? errname(errno) : "ok",
		     want);
	if (trunc)
		model_resize(f, 0);
	fd_add(fd, desc_new(f, acc, append));
	check_state(nfd - 1);
}

static void close_index(int i)
{
	int fd = FD[i].fd;
	errno = 0;
	int r = close(fd);
	if (r != 0)
		fail("close(%d): %s", fd, errname(errno));
	fd_del(i);
}

static void op_reopen(void)
{
	int i = pick_fd(NULL);
	int f = D[FD[i].desc].file;
	logop("close fd=%d (file %d)", FD[i].fd, f);
	close_index(i);
	open_file(f);
}

static void op_close(void)
{
	/* Close a descriptor of a file that keeps another one. */
	int i = pick_fd(NULL);
	int f = D[FD[i].desc].file;
	if (fds_of(f) < 2)
		return op_reopen();
	logop("close fd=%d (file %d keeps %d)", FD[i].fd, f, fds_of(f) - 1);
	close_index(i);
}

static void op_closeall(void)
{
	int f = (int)rnd(&rs, (uint64_t)nf);
	logop("close every descriptor of file %d", f);
	for (int i = nfd - 1; i >= 0; i--)
		if (D[FD[i].desc].file == f)
			close_index(i);
	verify_file(f, "after closing all");
	open_file(f);
}

static void op_dup(void)
{
	if (nfd >= MAXFDS - 2)
		return op_close();
	int i = pick_fd(NULL);
	int fd = FD[i].fd, desc = FD[i].desc;
	uint64_t r = rnd(&rs, 100);
	int got, want;
	errno = 0;
	if (r < 35) {
		want = lowest_free(0);
		logop("dup fd=%d", fd);
		got = dup(fd);
	} else if (r < 55) {
		int min = 3 + (int)rnd(&rs, 40);
		want = lowest_free(min);
		logop("fcntl(F_DUPFD%s, %d) fd=%d", r < 45 ? "" : "_CLOEXEC", min, fd);
		got = fcntl(fd, r < 45 ? F_DUPFD : F_DUPFD_CLOEXEC, min);
	} else if (r < 95) {
		/* dup2/dup3 onto a free number or onto another open descriptor. */
		int j = pick_fd(NULL);
		bool onto_open = rnd(&rs, 2) && j != i;
		int target = onto_open ? FD[j].fd : lowest_free(3 + (int)rnd(&rs, 30));
		bool three = rnd(&rs, 3) == 0;
		logop("%s(%d, %d)%s", three ? "dup3" : "dup2", fd, target,
		      onto_open ? " replacing an open descriptor" : "");
		got = three ? dup3(fd, target, O_CLOEXEC) : dup2(fd, target);
		want = target;
		if (got == want && onto_open) {
			int jf = D[FD[j].desc].file;
			fd_del(j);
			if (fd_index(fd) < 0)
				fail("model lost fd %d", fd);
			i = fd_index(fd);
			logres(got, errno);
			fd_add(got, desc);
			if (fds_of(jf) == 0)
				open_file(jf);
			check_state(fd_index(got));
			return;
		}
	} else {
		/* dup2(fd, fd) is a no-op; dup3(fd, fd) is EINVAL. */
		bool three = rnd(&rs, 2);
		logop("%s(%d, %d)", three ? "dup3" : "dup2", fd, fd);
		got = three ? dup3(fd, fd, 0) : dup2(fd, fd);
		logres(got, errno);
		if (three)
			expect_err("dup3(fd, fd)", got, errno, EINVAL);
		else if (got != fd)
			fail("dup2(fd, fd) returned %d", got);
		check_state(i);
		return;
	}
	logres(got, errno);
	if (got != want)
		fail("dup returned %d (%s), expected %d", got, got < 0 ? errname(errno) : "ok", want);
	fd_add(got, desc);
	check_state(nfd - 1);
}

/* Calls on a descriptor number nobody has open: EBADF, as from the kernel. */
static void op_badfd(void)
{
	int fd = lowest_free(3 + (int)rnd(&rs, 20));
	char b[16];
	struct stat st;
	logop("calls on closed fd %d", fd);
	errno = 0;
	EXPECT_ERR("read(closed fd)", read(fd, b, sizeof b), EBADF);
	EXPECT_ERR("pread(closed fd)", pread(fd, b, sizeof b, 0), EBADF);
	EXPECT_ERR("write(closed fd)", write(fd, b, sizeof b), EBADF);
	EXPECT_ERR("lseek(closed fd)", lseek(fd, 0, SEEK_CUR), EBADF);
	EXPECT_ERR("fstat(closed fd)", fstat(fd, &st), EBADF);
	EXPECT_ERR("fsync(closed fd)", fsync(fd), EBADF);
	EXPECT_ERR("ftruncate(closed fd)", ftruncate(fd, 0), EBADF);
	EXPECT_ERR("close(closed fd)", close(fd), EBADF);
	/* Bad iovec counts on a real descriptor. */
	int i = pick_fd(readable);
	if (i >= 0) {
		static struct iovec v[IOV_MAX + 1];
		volatile int neg = -1, many = IOV_MAX + 1; /* hidden from the compiler's checks */
		for (int k = 0; k <= IOV_MAX; k++)
			v[k] = (struct iovec){ b, 1 };
		EXPECT_ERR("readv(iovcnt=-1)", readv(FD[i].fd, v, neg), EINVAL);
		EXPECT_ERR("readv(iovcnt=IOV_MAX+1)", readv(FD[i].fd, v, many), EINVAL);
		check_state(i);
	}
}

/*
 * Buffers the kernel refuses. The copy from a mapping must fail the way the
 * kernel's copy_to_user/copy_from_user does: -1 EFAULT when nothing could
 * be copied, a short count when the buffer runs into an unmapped page, and
 * never a SIGSEGV.
 */
static void op_efault(void)
{
	unsigned char *bad = efault_page + pagesz; /* PROT_NONE */
	uint64_t r = rnd(&rs, 4);
	int i = r < 2 ? pick_fd(readable) : pick_fd(writable);
	if (i < 0)
		return;
	int fd = FD[i].fd, f = D[FD[i].desc].file;
	struct mdesc *d = &D[FD[i].desc];
	uint64_t size = F[f].size;
	if (r == 0) { /* pread into a buffer that is entirely bad */
		int64_t off = (int64_t)rnd(&rs, size + 2);
		size_t len = 1 + rnd(&rs, 8192);
		logop("pread fd=%d len=%zu off=%lld into PROT_NONE", fd, len, (long long)off);
		errno = 0;
		ssize_t n = pread(fd, bad, len, off);
		logres(n, errno);
		if ((uint64_t)off >= size) {
			if (n != 0)
				fail("pread at/after the end into a bad buffer returned %zd (%s), kernel "
				     "returns 0", n, n < 0 ? errname(errno) : "ok");
		} else {
			expect_err("pread into PROT_NONE", n, errno, EFAULT);
		}
	} else if (r == 1) { /* read() into a buffer whose tail is bad */
		size_t good = 1 + rnd(&rs, 200), len = good + 1 + rnd(&rs, 8192);
		unsigned char *b = bad - good;
		logop("read fd=%d len=%zu into %zu good bytes then PROT_NONE (off %lld size %llu)",
		      fd, len, good, (long long)d->off, (unsigned long long)size);
		errno = 0;
		ssize_t n = read(fd, b, len);
		logres(n, errno);
		uint64_t avail = (uint64_t)d->off >= size ? 0 : size - (uint64_t)d->off;
		if (avail == 0) {
			if (n != 0)
				fail("read at the end into a half-bad buffer returned %zd", n);
		} else if (avail <= good) {
			if (n != (ssize_t)avail)
				fail("read of %llu available bytes into %zu good ones returned %zd (%s)",
				     (unsigned long long)avail, good, n, n < 0 ? errname(errno) : "ok");
		} else if (n < 1 || n > (ssize_t)good) {
			fail("read into %zu good bytes then PROT_NONE returned %zd (%s), expected 1..%zu",
			     good, n, n < 0 ? errname(errno) : "ok", good);
		}
		if (n > 0) {
			compare("read into a half-bad buffer", b, f, (uint64_t)d->off, (size_t)n);
			d->off += n;
		}
	} else if (r == 2) { /* pwrite from a bad buffer, inside the file */
		if (size == 0)
			return;
		int64_t off = (int64_t)rnd(&rs, size);
		size_t len = 1 + rnd(&rs, size - (uint64_t)off);
		logop("pwrite fd=%d len=%zu off=%lld from PROT_NONE%s", fd, len, (long long)off,
		      d->append ? " (append)" : "");
		if (d->append)
			return; /* would extend: not an in-place case */
		errno = 0;
		ssize_t n = pwrite(fd, bad, len, off);
		logres(n, errno);
		expect_err("pwrite from PROT_NONE", n, errno, EFAULT);
	} else { /* pwrite from a half-bad buffer, inside the file */
		if (size < 2 || d->append)
			return;
		size_t good = 1 + rnd(&rs, 100);
		int64_t off = (int64_t)rnd(&rs, size - 1);
		size_t len = size - (uint64_t)off;
		if (len <= good)
			return;
		fill(bad - good, good);
		logop("pwrite fd=%d len=%zu off=%lld from %zu good bytes then PROT_NONE", fd, len,
		      (long long)off, good);
		errno = 0;
		ssize_t n = pwrite(fd, bad - good, len, off);
		logres(n, errno);
		if (!(n == -1 && errno == EFAULT) && (n < 1 || n > (ssize_t)good))
			fail("pwrite from %zu good bytes then PROT_NONE returned %zd (%s)", good, n,
			     n < 0 ? errname(errno) : "ok");
		if (n > 0)
			model_write(f, (uint64_t)off, bad - good, (size_t)n);
		/* The bytes after what the kernel says it wrote must be unchanged. */
		verify_file(f, "after a partial write from a bad buffer");
	}
	check_state(i);
}

/* ------------------------------------------------------------- race file */

static int race_fd[2] = { -1, -1 };
static uint64_t race_max = 1 << 20;
static unsigned long race_ops, race_bytes, race_nonzero;

static void racer_loop(const char *path, uint64_t s)
{
	int fd = open(path, O_RDWR);
	if (fd < 0)
		_exit(3);
	unsigned char *b = malloc(65536);
	for (;;) {
		uint64_t r = rnd(&s, 100);
		if (r < 35) {
			if (ftruncate(fd, (off_t)rnd(&s, race_max + 1)) != 0)
				_exit(4);
		} else if (r < 85) {
			uint64_t off = rnd(&s, race_max);
			size_t len = 1 + rnd(&s, 65536);
			if (len > race_max - off)
				len = (size_t)(race_max - off);
			pat_fill(b, off, len);
			if (pwrite(fd, b, len, (off_t)off) != (ssize_t)len)
				_exit(5);
		} else if (r < 95) {
			uint64_t off = rnd(&s, race_max);
			fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
				  (off_t)(1 + rnd(&s, 262144)));
		} else {
			if (truncate(path, 0) != 0)
				_exit(6);
		}
	}
}

static void race_start(void)
{
	int fd = open(racefile, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		perror(racefile);
		exit(2);
	}
	close(fd);
	fflush(stdout);
	racer = fork();
	if (racer == 0)
		racer_loop(racefile, seed ^ 0x5eed);
	race_fd[0] = open(racefile, O_RDONLY);
	race_fd[1] = open(racefile, O_RDWR);
	if (racer < 0 || race_fd[0] < 0 || race_fd[1] < 0) {
		perror("race setup");
		exit(2);
	}
	fdused[race_fd[0]] = fdused[race_fd[1]] = true;
}

/* One read of the raced file: plausible, or a mismatch. */
static void op_race(void)
{
	int fd = race_fd[rnd(&rs, 2)];
	uint64_t r = rnd(&rs, 100);
	size_t len = 1 + rnd(&rs, MAXLEN);
	errno = 0;
	if (r < 30) {
		off_t before = lseek(fd, 0, SEEK_CUR);
		logop("race: read fd=%d len=%zu at %lld", fd, len, (long long)before);
		ssize_t n = read(fd, rbuf, len);
		logres(n, errno);
		if (n < 0 || (size_t)n > len)
			fail("race: read returned %zd (%s)", n, n < 0 ? errname(errno) : "ok");
		long bad = pat_check(rbuf, (uint64_t)before, (size_t)n);
		if (bad >= 0)
			fail("race: read byte at %lld is 0x%02x: neither 0 nor the pattern 0x%02x",
			     (long long)before + bad, rbuf[bad], pat((uint64_t)before + (uint64_t)bad));
		off_t after = lseek(fd, 0, SEEK_CUR);
		if (after != before + n)
			fail("race: offset %lld after reading %zd bytes at %lld", (long long)after, n,
			     (long long)before);
		if (n == 0 || rnd(&rs, 4) == 0)
			lseek(fd, (off_t)rnd(&rs, race_max), SEEK_SET);
		race_bytes += (unsigned long)n;
		race_nonzero += n > 0;
	} else if (r < 60) {
		uint64_t off = rnd(&rs, race_max);
		logop("race: pread fd=%d len=%zu off=%llu", fd, len, (unsigned long long)off);
		ssize_t n = pread(fd, rbuf, len, (off_t)off);
		logres(n, errno);
		if (n < 0 || (size_t)n > len)
			fail("race: pread returned %zd (%s)", n, n < 0 ? errname(errno) : "ok");
		long bad = pat_check(rbuf, off, (size_t)n);
		if (bad >= 0)
			fail("race: pread byte at %llu is 0x%02x: neither 0 nor the pattern 0x%02x",
			     (unsigned long long)off + (unsigned long long)bad, rbuf[bad],
			     pat(off + (uint64_t)bad));
		race_bytes += (unsigned long)n;
		race_nonzero += n > 0;
	} else if (r < 75) {
		uint64_t off = rnd(&rs, race_max);
		struct iovec v[4];
		int cnt = split(v, rbuf, len);
		logop("race: preadv fd=%d len=%zu off=%llu", fd, len, (unsigned long long)off);
		ssize_t n = preadv(fd, v, cnt, (off_t)off);
		logres(n, errno);
		if (n < 0 || (size_t)n > len)
			fail("race: preadv returned %zd (%s)", n, n < 0 ? errname(errno) : "ok");
		long bad = pat_check(rbuf, off, (size_t)n);
		if (bad >= 0)
			fail("race: preadv byte at %llu is 0x%02x", (unsigned long long)off + (unsigned long long)bad,
			     rbuf[bad]);
		race_bytes += (unsigned long)n;
	} else if (r < 90) {
		/* Write the pattern too: in place through the map, or extending. */
		uint64_t off = rnd(&rs, race_max);
		size_t k = len > race_max - off ? (size_t)(race_max - off) : len;
		pat_fill(wbuf, off, k);
		logop("race: pwrite fd=%d len=%zu off=%llu", race_fd[1], k, (unsigned long long)off);
		ssize_t n = pwrite(race_fd[1], wbuf, k, (off_t)off);
		logres(n, errno);
		if (n != (ssize_t)k)
			fail("race: pwrite returned %zd (%s)", n, n < 0 ? errname(errno) : "ok");
	} else {
		logop("race: lseek SEEK_END / fstat fd=%d", fd);
		off_t end = lseek(fd, 0, SEEK_END);
		struct stat st;
		if (end < 0 || (uint64_t)end > race_max || fstat(fd, &st) != 0 ||
		    (uint64_t)st.st_size > race_max)
			fail("race: end %lld, size %lld: outside [0, %llu]", (long long)end,
			     (long long)st.st_size, (unsigned long long)race_max);
	}
	race_ops++;
}

/* ------------------------------------------------------------------ main */

static void usage(void)
{
	fprintf(stderr, "usage: fsx [-s SEED] [-n OPS] [-f NFILES] [-d DIR] [-S MAXSIZE] "
			"[-r FILE] [-q] [-A]\n"
			"  -A  open every descriptor O_RDWR (steers clear of the shim bugs\n"
			"      reproduced by bug_wronly_extend and bug_rdonly_rebind)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int c;
	while ((c = getopt(argc, argv, "s:n:f:d:S:r:qAX:")) != -1) {
		switch (c) {
		case 's': seed = parse_u64(optarg); break;
		case 'n': nops = parse_u64(optarg); break;
		case 'f': nf = atoi(optarg); break;
		case 'd': dir = optarg; break;
		case 'S': maxsize = parse_u64(optarg); break;
		case 'r': racefile = optarg; break;
		case 'q': quiet = true; break;
		case 'A': avoid_known = true; break;
		case 'X': inject = parse_u64(optarg); break;
		default: usage();
		}
	}
	if (nf < 1 || nf > MAXF || maxsize < 1024 || maxsize > (64u << 20))
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	rs = seed;
	pagesz = sysconf(_SC_PAGESIZE);
	const char *names[OP_NUM] = { "read", "pread", "readv", "preadv", "write", "pwrite",
				      "writev", "pwritev", "lseek", "truncate", "fsync", "reopen",
				      "dup", "close", "closeall", "badfd", "efault", "verify",
				      "race" };
	memcpy(opnames, names, sizeof names);
	rbuf = malloc(MAXLEN + 4096);
	wbuf = malloc(MAXLEN + 4096);
	vbuf = malloc(MAXLEN + 4096);
	efault_page = mmap(NULL, (size_t)pagesz * 2, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!rbuf || !wbuf || !vbuf || efault_page == MAP_FAILED ||
	    mprotect(efault_page + pagesz, (size_t)pagesz, PROT_NONE) != 0) {
		perror("fsx: setup");
		return 2;
	}
	/* Descriptors already open (stdio, whatever the caller passed). */
	for (int fd = 0; fd < FDLIM; fd++)
		fdused[fd] = fcntl(fd, F_GETFD) >= 0;

	/* The racer first: it must not inherit (and so share) our descriptors. */
	if (racefile)
		race_start();
	/* The files: created with random content through the kernel path. */
	for (int f = 0; f < nf; f++) {
		snprintf(F[f].path, sizeof F[f].path, "%s/fsx.%d", dir, f);
		F[f].d = calloc(1, maxsize);
		int want = lowest_free(0);
		int fd = open(F[f].path, O_RDWR | O_CREAT | O_TRUNC, 0644);
		if (fd < 0) {
			perror(F[f].path);
			return 2;
		}
		if (fd != want)
			fail("open returned %d, expected %d", fd, want);
		fd_add(fd, desc_new(f, O_RDWR, false));
		size_t n = (size_t)rnd(&rs, maxsize / 2 + 1);
		fill(wbuf, n);
		if (write(fd, wbuf, n) != (ssize_t)n) {
			perror("initial write");
			return 2;
		}
		model_write(f, 0, wbuf, n);
		D[FD[nfd - 1].desc].off = (int64_t)n;
		check_state(nfd - 1);
	}

	static const struct { int op, w; } mix[] = {
		{ OP_READ, 14 }, { OP_PREAD, 14 }, { OP_READV, 5 }, { OP_PREADV, 3 },
		{ OP_WRITE, 11 }, { OP_PWRITE, 11 }, { OP_WRITEV, 4 }, { OP_PWRITEV, 3 },
		{ OP_LSEEK, 10 }, { OP_TRUNC, 5 }, { OP_FSYNC, 1 }, { OP_REOPEN, 3 },
		{ OP_DUP, 3 }, { OP_CLOSE, 2 }, { OP_CLOSEALL, 1 }, { OP_BADFD, 1 },
		{ OP_EFAULT, 2 },
	};
	int total = 0;
	for (size_t k = 0; k < sizeof mix / sizeof mix[0]; k++)
		total += mix[k].w;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (opi = 0; opi < nops; opi++) {
		int op = -1;
		if (racefile && rnd(&rs, 100) < 15) {
			op = OP_RACE;
			op_race();
		} else if (opi % 2000 == 1999) {
			op = OP_VERIFY;
			logop("verify all files");
			verify_all("periodic verify");
		} else {
			int x = (int)rnd(&rs, (uint64_t)total);
			for (size_t k = 0; k < sizeof mix / sizeof mix[0]; k++) {
				if (x < mix[k].w) {
					op = mix[k].op;
					break;
				}
				x -= mix[k].w;
			}
			switch (op) {
			case OP_READ: case OP_PREAD: case OP_READV: case OP_PREADV:
				op_read(op); break;
			case OP_WRITE: case OP_PWRITE: case OP_WRITEV: case OP_PWRITEV:
				op_write(op); break;
			case OP_LSEEK: op_lseek(); break;
			case OP_TRUNC: op_trunc(); break;
			case OP_FSYNC: op_fsync(); break;
			case OP_REOPEN: op_reopen(); break;
			case OP_DUP: op_dup(); break;
			case OP_CLOSE: op_close(); break;
			case OP_CLOSEALL: op_closeall(); break;
			case OP_BADFD: op_badfd(); break;
			case OP_EFAULT: op_efault(); break;
			}
		}
		counts[op]++;
		if (opi == inject) {
			/* Hidden self-test: the model now disagrees with the file. */
			int f = (int)rnd(&rs, (uint64_t)nf);
			if (F[f].size > 0)
				F[f].d[rnd(&rs, F[f].size)] ^= 0x40;
			else
				F[f].size = 1;
			fprintf(stderr, "fsx: injected a model mismatch into file %d after op %llu\n",
				f, (unsigned long long)opi);
			verify_all("after injection");
		}
	}
	opi = nops;
	logop("final verify");
	verify_all("final verify");
	kill_racer();
	/* Close everything (the shim unmaps), reopen and verify again. */
	for (int i = nfd - 1; i >= 0; i--)
		close_index(i);
	verify_all("after final close");
	for (int f = 0; f < nf; f++) {
		char p[PATH_MAX + 16];
		snprintf(p, sizeof p, "%.4000s.expected", F[f].path);
		int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || write(fd, F[f].d, F[f].size) != (ssize_t)F[f].size || close(fd) != 0) {
			perror(p);
			return 2;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("fsx: seed %llu: %llu operations on %d files passed in %.1fs\n",
	       (unsigned long long)seed, (unsigned long long)nops, nf, secs);
	if (!quiet) {
		printf("fsx: ops:");
		for (int k = 0; k < OP_NUM; k++)
			if (counts[k])
				printf(" %s=%lu", opnames[k], counts[k]);
		printf("\n");
	}
	if (racefile)
		printf("fsx: raced file: %lu checked operations, %lu bytes read (all 0 or pattern)\n",
		       race_ops, race_bytes);
	return 0;
}
