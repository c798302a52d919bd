/*
 * test_map.c - opening, closing, modes, descriptors, size changes and
 * accessors of libmmapio maps.
 */
#include "tutil.h"
#include "testing.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>

static void open_ok(mmapio_map **m, const char *path, int mode, const struct mmapio_opts *o)
{
	*m = NULL;
	int r = mmapio_open(m, path, mode, o);
	if (r != 0)
		fail_msg("mmapio_open(%s, mode %d) = %d (%s)", path, mode, r, strerror(-r));
	assert_non_null(*m);
}

static void *view0(mmapio_map *m)
{
	void *p = NULL;
	ssize_t n = mmapio_view(m, 0, 1, &p);
	if (n != 1)
		fail_msg("mmapio_view(0, 1) = %zd, expected 1", n);
	assert_non_null(p);
	return p;
}

/* Open by path in each mode; mode, size, fd access mode, content, accessors. */
static void test_open_path_modes(void **state)
{
	(void)state;
	char path[PATH_MAX];
	tu_path(path, sizeof path, "modes");
	uint64_t size = 3 * tu_ps + 123;
	T_OK(tu_make_file(path, size));

	const int modes[] = { MMAPIO_RDONLY, MMAPIO_RDWR, MMAPIO_COW };
	const int accmode[] = { O_RDONLY, O_RDWR, O_RDONLY };
	for (int i = 0; i < 3; i++) {
		mmapio_map *m;
		open_ok(&m, path, modes[i], NULL);
		T_EQ(mmapio_mode(m), modes[i]);
		T_EQ(mmapio_size(m), size);
		T_EQ(mmapio_page_size(m), tu_ps);
		T_EQ(mmapio_huge_tier(m), MMAPIO_HUGE_OFF);
		assert_true(mmapio_reserved(m) >= size);
		int fd = mmapio_fd(m);
		assert_true(fd >= 0);
		int fl = fcntl(fd, F_GETFL);
		assert_true(fl >= 0);
		T_EQ(fl & O_ACCMODE, accmode[i]);
		/* an owned descriptor does not leak into exec'd programs */
		int fdf = fcntl(fd, F_GETFD);
		assert_true(fdf >= 0 && (fdf & FD_CLOEXEC));
		/* descriptor refers to the file */
		struct stat a, b;
		assert_int_equal(fstat(fd, &a), 0);
		assert_int_equal(stat(path, &b), 0);
		assert_true(a.st_ino == b.st_ino && a.st_dev == b.st_dev);

		uint8_t buf[512];
		T_EQ(mmapio_read(m, 0, buf, sizeof buf), sizeof buf);
		T_EQ(tu_check(buf, 0, sizeof buf), -1);
		T_EQ(mmapio_read(m, (off_t)(size - 100), buf, sizeof buf), 100);
		T_EQ(tu_check(buf, size - 100, 100), -1);
		void *p;
		T_EQ(mmapio_view(m, 0, size, &p), size);
		T_EQ(tu_check(p, 0, size), -1);
		T_EQ(p, mmapio__base(m));
		T_OK(mmapio_close(m));
		/* the owned descriptor was closed by mmapio_close */
		errno = 0;
		T_EQ(fcntl(fd, F_GETFD), -1);
		T_EQ(errno, EBADF);
	}
}

static void test_open_missing_and_create(void **state)
{
	(void)state;
	char path[PATH_MAX];
	tu_path(path, sizeof path, "created");
	unlink(path);
	mmapio_map *m = (mmapio_map *)0x1;
	T_EQ(mmapio_open(&m, path, MMAPIO_RDWR, NULL), -ENOENT);
	T_EQ(mmapio_open(&m, path, MMAPIO_RDONLY, NULL), -ENOENT);
	T_EQ(tu_file_size(path), -1); /* nothing was created */

	mode_t old = umask(027);
	struct mmapio_opts o = { .flags = MMAPIO_F_CREATE };
	int r = mmapio_open(&m, path, MMAPIO_RDWR, &o);
	umask(old);
	T_OK(r);
	T_EQ(mmapio_size(m), 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	T_EQ(st.st_size, 0);
	T_EQ(st.st_mode & 0777, 0666 & ~027);
	T_OK(mmapio_resize(m, 5000));
	uint8_t b[5000];
	tu_fill(b, 0, sizeof b);
	T_EQ(mmapio_write(m, 0, b, sizeof b), sizeof b);
	T_OK(mmapio_close(m));

	/* F_CREATE on an existing file opens it, keeping the content */
	o.flags = MMAPIO_F_CREATE;
	open_ok(&m, path, MMAPIO_RDWR, &o);
	T_EQ(mmapio_size(m), 5000);
	uint8_t c[5000];
	T_EQ(mmapio_read(m, 0, c, sizeof c), sizeof c);
	T_EQ(tu_check(c, 0, sizeof c), -1);
	T_OK(mmapio_close(m));
}

static void test_open_invalid(void **state)
{
	(void)state;
	char path[PATH_MAX];
	tu_path(path, sizeof path, "inval");
	T_OK(tu_make_file(path, tu_ps));
	mmapio_map *m = NULL;
	T_EQ(mmapio_open(&m, path, 3, NULL), -EINVAL);
	T_EQ(mmapio_open(&m, path, -1, NULL), -EINVAL);
	struct mmapio_opts o = { .prewarm = 99 };
	T_EQ(mmapio_open(&m, path, MMAPIO_RDONLY, &o), -EINVAL);
	o = (struct mmapio_opts){ .flush_policy = 99 };
	T_EQ(mmapio_open(&m, path, MMAPIO_RDWR, &o), -EINVAL);
	o = (struct mmapio_opts){ .huge = 42 };
	T_EQ(mmapio_open(&m, path, MMAPIO_RDONLY, &o), -EINVAL);
	o = (struct mmapio_opts){ .flags = 0x80000000u }; /* unknown flag */
	T_EQ(mmapio_open(&m, path, MMAPIO_RDONLY, &o), -EINVAL);

	/* a directory is not mappable */
	assert_true(mmapio_open(&m, tu_dir, MMAPIO_RDONLY, NULL) < 0);
	assert_true(mmapio_open(&m, tu_dir, MMAPIO_RDWR, NULL) < 0);
	/* neither is a pipe */
	int p[2];
	assert_int_equal(pipe(p), 0);
	assert_true(mmapio_open_fd(&m, p[0], MMAPIO_RDONLY, NULL) < 0);
	close(p[0]);
	close(p[1]);
	int r = mmapio_open_fd(&m, -1, MMAPIO_RDONLY, NULL);
	if (r != -EBADF && r != -EINVAL)
		fail_msg("mmapio_open_fd(-1) = %d, expected -EBADF or -EINVAL", r);
	/* a descriptor number that is not open: fstat/dup say EBADF */
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	close(fd);
	T_EQ(mmapio_open_fd(&m, fd, MMAPIO_RDONLY, NULL), -EBADF);
}

/* Default fd open: the descriptor is duplicated; the caller's stays the caller's. */
static void test_open_fd_dup(void **state)
{
	(void)state;
	char path[PATH_MAX];
	tu_path(path, sizeof path, "fddup");
	uint64_t size = 2 * tu_ps + 7;
	T_OK(tu_make_file(path, size));
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);

	mmapio_map *m = NULL;
	T_OK(mmapio_open_fd(&m, fd, MMAPIO_RDWR, NULL));
	assert_non_null(m);
	int mfd = mmapio_fd(m);
	assert_true(mmapio_rebind_fd(m, fd) < 0); /* not borrowed: the map owns its fd */
	T_EQ(mmapio_fd(m), mfd);
	assert_true(mfd >= 0);
	assert_true(mfd != fd);
	int fdf = fcntl(mfd, F_GETFD);
	assert_true(fdf >= 0 && (fdf & FD_CLOEXEC));
	T_EQ(mmapio_size(m), size);

	/* the caller may close its fd at once: the map keeps working, resize included */
	close(fd);
	uint8_t b[100];
	T_EQ(mmapio_read(m, 0, b, sizeof b), sizeof b);
	T_EQ(tu_check(b, 0, sizeof b), -1);
	T_OK(mmapio_resize(m, 4 * tu_ps));
	T_EQ(tu_file_size(path), 4 * tu_ps);
	T_OK(mmapio_close(m));
	errno = 0;
	T_EQ(fcntl(mfd, F_GETFD), -1); /* the duplicate was closed */
	T_EQ(errno, EBADF);

	/* and closing the map never closes the caller's descriptor */
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	T_OK(mmapio_open_fd(&m, fd, MMAPIO_RDONLY, NULL));
	assert_true(mmapio_fd(m) != fd);
	T_OK(mmapio_close(m));
	assert_true(fcntl(fd, F_GETFD) >= 0);
	T_EQ(pread(fd, b, 10, 0), 10);
	close(fd);
}

static void test_open_fd_borrow(void **state)
{
	(void)state;
	char path[PATH_MAX];
	tu_path(path, sizeof path, "fdborrow");
	T_OK(tu_make_file(path, 3 * tu_ps));
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(lseek(fd, 123, SEEK_SET), 123);

	struct mmapio_opts o = { .flags = MMAPIO_F_BORROW_FD };
	mmapio_map *m = NULL;
	T_OK(mmapio_open_fd(&m, fd, MMAPIO_RDWR, &o));
	T_EQ(mmapio_fd(m), fd);
	T_EQ(mmapio_size(m), 3 * tu_ps);
	uint8_t b[64];
	T_EQ(mmapio_read(m, (off_t)tu_ps, b, sizeof b), sizeof b);
	T_EQ(tu_check(b, tu_ps, sizeof b), -1);
	T_OK(mmapio_resize(m, 5 * tu_ps));
	T_EQ(tu_file_size(path), 5 * tu_ps);

	/* rebind to another descriptor of the same file, then drop the first */
	int fd2 = open(path, O_RDWR);
	assert_true(fd2 >= 0);
	T_OK(mmapio_rebind_fd(m, fd2));
	T_EQ(mmapio_fd(m), fd2);
	assert_int_equal(lseek(fd, 0, SEEK_CUR), 123); /* the library never moved our offset */
	close(fd);
	T_OK(mmapio_resize(m, 6 * tu_ps));
	T_EQ(tu_file_size(path), 6 * tu_ps);
	T_OK(mmapio_refresh(m));
	T_EQ(mmapio_size(m), 6 * tu_ps);
	T_OK(mmapio_close(m));
	/* borrowed: still open after close */
	assert_true(fcntl(fd2, F_GETFD) >= 0);
	T_EQ(pread(fd2, b, sizeof b, 0), sizeof b);
	T_EQ(tu_check(b, 0, sizeof b), -1);
	close(fd2);
}

/* The descriptor's access mode must allow the requested mapping mode. */
static void test_open_fd_access(void **state)
{
	(void)state;
	char path[PATH_MAX];
	tu_path(path, sizeof path, "fdacc");
	T_OK(tu_make_file(path, tu_ps));
	mmapio_map *m = NULL;
	int ro = open(path, O_RDONLY);
	int wo = open(path, O_WRONLY);
	assert_true(ro >= 0 && wo >= 0);
	assert_true(mmapio_open_fd(&m, ro, MMAPIO_RDWR, NULL) < 0);   /* needs writable */
	assert_true(mmapio_open_fd(&m, wo, MMAPIO_RDONLY, NULL) < 0); /* needs readable */
	assert_true(mmapio_open_fd(&m, wo, MMAPIO_RDWR, NULL) < 0);
	/* COW only needs a readable fd, and its writes stay private */
	T_OK(mmapio_open_fd(&m, ro, MMAPIO_COW, NULL));
	T_EQ(mmapio_mode(m), MMAPIO_COW);
	uint8_t x = 0x11, y = 0;
	T_EQ(mmapio_write(m, 0, &x, 1), 1);
	T_EQ(mmapio_read(m, 0, &y, 1), 1);
	T_EQ(y, 0x11);
	T_OK(mmapio_close(m));
	T_EQ(pread(ro, &y, 1, 0), 1);
	T_EQ(y, tu_pat(0));
	T_OK(mmapio_open_fd(&m, ro, MMAPIO_RDONLY, NULL));
	T_OK(mmapio_close(m));
	close(ro);
	close(wo);
}

/* Zero-length file, then growth with mmapio_resize. */
static void test_zero_length_then_resize(void **state)
{
	(void)state;
	char path[PATH_MAX];
	tu_path(path, sizeof path, "zero");
	T_OK(tu_make_file(path, 0));
	mmapio_map *m;
	open_ok(&m, path, MMAPIO_RDWR, NULL);
	T_EQ(mmapio_size(m), 0);
	void *base = mmapio__base(m);
	assert_non_null(base);
	const size_t cap = 4 * tu_ps;
	uint8_t *b = calloc(1, cap);
	assert_non_null(b);
	void *p = NULL;
	T_EQ(mmapio_read(m, 0, b, cap), 0);
	T_EQ(mmapio_write(m, 0, b, cap), 0);
	T_EQ(mmapio_view(m, 0, 100, &p), 0);

	uint64_t sz = 3 * tu_ps + 100;
	T_OK(mmapio_resize(m, sz));
	T_EQ(mmapio_size(m), sz);
	T_EQ(tu_file_size(path), sz);
	T_EQ(view0(m), base);
	/* new space reads as zeros */
	T_EQ(mmapio_read(m, 0, b, cap), sz);
	for (uint64_t i = 0; i < sz; i++)
		if (b[i])
			fail_msg("byte %llu of grown file is %u", (unsigned long long)i, b[i]);
	/* and is writable up to the new end, visible to pread */
	tu_fill(b, 0, sz);
	T_EQ(mmapio_write(m, 0, b, cap), sz);
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	memset(b, 0, cap);
	T_EQ(pread(fd, b, cap, 0), sz);
	T_EQ(tu_check(b, 0, sz), -1);
	close(fd);

	/* shrink back to zero and grow again */
	T_OK(mmapio_resize(m, 0));
	T_EQ(mmapio_size(m), 0);
	T_EQ(tu_file_size(path), 0);
	T_EQ(mmapio_read(m, 0, b, 10), 0);
	T_OK(mmapio_resize(m, tu_ps));
	T_EQ(view0(m), base);
	T_EQ(mmapio_read(m, 0, b, 10), 10);
	T_EQ(b[0], 0);
	T_OK(mmapio_close(m));
	free(b);
}

/* The base never moves across many growth steps, including large ones. */
static void test_base_stable_across_growth(void **state)
{
	(void)state;
	char path[PATH_MAX];
	tu_path(path, sizeof path, "grow");
	T_OK(tu_make_file(path, tu_ps));
	mmapio_map *m;
	open_ok(&m, path, MMAPIO_RDWR, NULL);
	void *p0 = view0(m);
	struct mmapio_stats st0, st1;
	mmapio_get_stats(m, &st0);

	const uint64_t sizes[] = { tu_ps + 1, 2 * tu_ps, 10 * tu_ps + 5, 100 * tu_ps,
				   (1u << 20) + 1, 16u << 20, 3 * tu_ps, 32u << 20 };
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		uint64_t s = sizes[i];
		T_OK(mmapio_resize(m, s));
		T_EQ(mmapio_size(m), s);
		T_EQ(view0(m), p0);
		/* the last byte is reachable, via read and via the view */
		uint8_t v = (uint8_t)(i + 1), w = 0;
		T_EQ(mmapio_write(m, (off_t)(s - 1), &v, 1), 1);
		T_EQ(mmapio_read(m, (off_t)(s - 1), &w, 1), 1);
		T_EQ(w, v);
		void *p;
		T_EQ(mmapio_view(m, (off_t)(s - 1), 10, &p), 1);
		T_EQ(p, (char *)p0 + s - 1);
		T_EQ(*(volatile uint8_t *)p, v);
		T_EQ(mmapio_read(m, (off_t)s, &w, 1), 0);
	}
	/* the first page kept its content all along */
	uint8_t b[100];
	T_EQ(mmapio_read(m, 0, b, sizeof b), sizeof b);
	T_EQ(tu_check(b, 0, sizeof b), -1);
	mmapio_get_stats(m, &st1);
	assert_true(st1.remaps > st0.remaps); /* growth/shrink operations are counted */
	T_OK(mmapio_close(m));
}

/* Another descriptor changes the size; mmapio_refresh follows it. */
static void test_refresh_follows_other_fd(void **state)
{
	(void)state;
	char path[PATH_MAX];
	tu_path(path, sizeof path, "refresh");
	uint64_t s0 = 2 * tu_ps;
	T_OK(tu_make_file(path, s0));
	const int modes[] = { MMAPIO_RDONLY, MMAPIO_RDWR };
	for (int mi = 0; mi < 2; mi++) {
		T_OK(tu_make_file(path, s0));
		mmapio_map *m;
		open_ok(&m, path, modes[mi], NULL);
		void *p0 = view0(m);
		int fd = open(path, O_RDWR);
		assert_true(fd >= 0);

		/* grow: a size the map has not seen yet */
		uint64_t s1 = 5 * tu_ps + 17;
		assert_int_equal(ftruncate(fd, (off_t)s1), 0);
		uint8_t w[100], b[200];
		tu_fill(w, 4 * tu_ps, sizeof w);
		T_EQ(pwrite(fd, w, sizeof w, (off_t)(4 * tu_ps)), sizeof w);
		T_EQ(mmapio_size(m), s0); /* "as last seen": no syscall in the accessor */
		T_EQ(mmapio_read(m, (off_t)(4 * tu_ps), b, 10), 0);
		T_OK(mmapio_refresh(m));
		T_EQ(mmapio_size(m), s1);
		T_EQ(view0(m), p0);
		T_EQ(mmapio_read(m, (off_t)(4 * tu_ps), b, sizeof w), sizeof w);
		T_EQ(tu_check(b, 4 * tu_ps, sizeof w), -1);
		T_EQ(mmapio_read(m, (off_t)(s1 - 7), b, 100), 7);
		T_EQ(mmapio_read(m, (off_t)tu_ps, b, 100), 100);
		T_EQ(tu_check(b, tu_ps, 100), -1);

		/* shrink */
		uint64_t s2 = tu_ps + 10;
		assert_int_equal(ftruncate(fd, (off_t)s2), 0);
		T_OK(mmapio_refresh(m));
		T_EQ(mmapio_size(m), s2);
		T_EQ(view0(m), p0);
		T_EQ(mmapio_read(m, 0, b, sizeof b), sizeof b);
		T_EQ(tu_check(b, 0, sizeof b), -1);
		T_EQ(mmapio_read(m, (off_t)(s2 - 10), b, sizeof b), 10);
		T_EQ(mmapio_read(m, (off_t)(2 * tu_ps), b, sizeof b), 0);
		void *p;
		T_EQ(mmapio_view(m, 0, 10 * tu_ps, &p), s2);

		/* to zero */
		assert_int_equal(ftruncate(fd, 0), 0);
		T_OK(mmapio_refresh(m));
		T_EQ(mmapio_size(m), 0);
		T_EQ(mmapio_read(m, 0, b, sizeof b), 0);
		T_EQ(mmapio_view(m, 0, 10, &p), 0);

		/* and back up: zeros, same base */
		assert_int_equal(ftruncate(fd, (off_t)(3 * tu_ps)), 0);
		T_OK(mmapio_refresh(m));
		T_EQ(mmapio_size(m), 3 * tu_ps);
		T_EQ(view0(m), p0);
		T_EQ(mmapio_read(m, (off_t)(2 * tu_ps), b, sizeof b), sizeof b);
		for (size_t i = 0; i < sizeof b; i++)
			T_EQ(b[i], 0);
		/* a refresh with no change is harmless */
		T_OK(mmapio_refresh(m));
		T_EQ(mmapio_size(m), 3 * tu_ps);
		close(fd);
		T_OK(mmapio_close(m));
	}
}

/* A small reservation bounds growth: -EFBIG beyond it. */
static void test_efbig_beyond_reservation(void **state)
{
	(void)state;
	char path[PATH_MAX];
	tu_path(path, sizeof path, "efbig");
	T_OK(tu_make_file(path, tu_ps));
	struct mmapio_opts o = { .reserve = 1u << 20 };
	mmapio_map *m;
	open_ok(&m, path, MMAPIO_RDWR, &o);
	uint64_t R = mmapio_reserved(m);
	assert_true(R >= (1u << 20));
	assert_true(R <= (64u << 20)); /* the small reservation was honoured */
	void *p0 = view0(m);

	T_OK(mmapio_resize(m, R)); /* filling the reservation exactly is fine */
	T_EQ(mmapio_size(m), R);
	uint8_t v = 0x5c, w = 0;
	T_EQ(mmapio_write(m, (off_t)(R - 1), &v, 1), 1);
	T_EQ(mmapio_read(m, (off_t)(R - 1), &w, 1), 1);
	T_EQ(w, v);

	T_EQ(mmapio_resize(m, R + tu_ps), -EFBIG);
	T_EQ(mmapio_resize(m, R + 1), -EFBIG);
	T_EQ(mmapio_resize(m, UINT64_MAX / 2), -EFBIG);
	/* a failed resize changes nothing */
	T_EQ(mmapio_size(m), R);
	T_EQ(tu_file_size(path), R);
	T_EQ(view0(m), p0);

	/* another process grows the file past the reservation: refresh maps up to it */
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)(R + 3 * tu_ps)), 0);
	T_OK(mmapio_refresh(m));
	T_EQ(view0(m), p0);
	T_EQ(mmapio_read(m, (off_t)(R - 1), &w, 1), 1);
	T_EQ(w, v);
	T_EQ(mmapio_read(m, (off_t)R, &w, 1), -EFBIG);
	T_EQ(mmapio_read(m, (off_t)(R + tu_ps), &w, 1), -EFBIG);
	T_EQ(mmapio_write(m, (off_t)(R + tu_ps), &v, 1), -EFBIG);
	/* A range that starts inside and reaches past the reservation is not
	 * answered short (that reads as the end of the file): -EFBIG. */
	uint8_t b[3 * 4096];
	T_EQ(mmapio_read(m, (off_t)(R - 8), b, 16), -EFBIG);
	T_EQ(mmapio_read(m, (off_t)(R - tu_ps), b, sizeof b), -EFBIG);
	T_EQ(mmapio_write(m, (off_t)(R - 8), b, 16), -EFBIG);
	void *p;
	T_EQ(mmapio_view(m, (off_t)(R - 8), 16, &p), -EFBIG);
	T_EQ(mmapio_read(m, (off_t)(R - 16), b, 16), 16); /* up to its end: fine */
	/* Not past the file's end either: a short read at the end stays short. */
	assert_int_equal(ftruncate(fd, (off_t)R - 100), 0);
	T_OK(mmapio_refresh(m));
	T_EQ(mmapio_read(m, (off_t)(R - 200), b, sizeof b), 100);
	close(fd);
	T_OK(mmapio_close(m));
}

/*
 * MMAPIO_F_NO_FD: the map keeps no descriptor; what must look at the file
 * takes the caller's (the *_fd calls), and the calls without one say so.
 */
static void test_no_fd(void **state)
{
	(void)state;
	char path[PATH_MAX];
	tu_path(path, sizeof path, "nofd");
	T_OK(tu_make_file(path, 8 * tu_ps));
	T_OK(mmapio_fault_install()); /* cmocka puts its own handlers in for each test */
	int fds0 = tu_fd_count();
	struct mmapio_opts o = { .flags = MMAPIO_F_NO_FD };
	mmapio_map *m;
	open_ok(&m, path, MMAPIO_RDWR, &o);
	T_EQ(tu_fd_count(), fds0); /* none kept */
	T_EQ(mmapio_fd(m), -1);
	uint8_t b[64];
	T_EQ(mmapio_read(m, 100, b, sizeof b), sizeof b);
	T_EQ(tu_check(b, 100, sizeof b), -1);
	T_EQ(mmapio_refresh(m), -EBADF);
	T_EQ(mmapio_resize(m, 16 * tu_ps), -EBADF);
	T_EQ(mmapio_rebind_fd(m, 0), -EINVAL);

	/* Another descriptor grows the file: followed through it. */
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)(12 * tu_ps)), 0);
	T_EQ(mmapio_size(m), 8 * tu_ps);
	T_OK(mmapio_refresh_fd(m, fd));
	T_EQ(mmapio_size(m), 12 * tu_ps);
	T_EQ(mmapio_write_fd(m, fd, (off_t)(11 * tu_ps), "z", 1), 1);

	/* A shrink nobody told the map about: the zero tail of a read in the
	 * page holding the new end needs a look at the file. */
	assert_int_equal(ftruncate(fd, (off_t)(10 * tu_ps + 100)), 0);
	T_EQ(mmapio_read(m, (off_t)(10 * tu_ps + 64), b, sizeof b), -ESTALE);
	T_EQ(mmapio_read_fd(m, fd, (off_t)(10 * tu_ps + 64), b, sizeof b), 36);
	T_EQ(mmapio_size(m), 10 * tu_ps + 100);
	/* A page wholly past the new end faults: recovered through fd. */
	assert_int_equal(ftruncate(fd, (off_t)(2 * tu_ps)), 0);
	T_EQ(mmapio_read(m, (off_t)(5 * tu_ps), b, sizeof b), -ESTALE);
	T_EQ(mmapio_read_fd(m, fd, (off_t)(5 * tu_ps), b, sizeof b), 0);
	T_EQ(mmapio_size(m), 2 * tu_ps);
	T_EQ(mmapio_write_fd(m, fd, 10, "w", 1), 1);
	close(fd);
	T_OK(mmapio_close(m));
	T_EQ(tu_fd_count(), fds0);

	/* From a descriptor, borrowed: not kept either. */
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	o.flags = MMAPIO_F_NO_FD | MMAPIO_F_BORROW_FD;
	T_OK(mmapio_open_fd(&m, fd, MMAPIO_RDONLY, &o));
	close(fd); /* the map does not need it */
	T_EQ(mmapio_read(m, 3, b, 8), 8);
	T_OK(mmapio_close(m));
}

/* mmapio_trim_reserve gives the address space past the mapped part back. */
static void test_trim_reserve(void **state)
{
	(void)state;
	char path[PATH_MAX];
	tu_path(path, sizeof path, "trim");
	T_OK(tu_make_file(path, 5 * tu_ps + 10));
	mmapio_map *m;
	open_ok(&m, path, MMAPIO_RDWR, NULL);
	assert_true(mmapio_reserved(m) >= (1ull << 30));
	void *p0 = view0(m);
	T_OK(mmapio_trim_reserve(m));
	T_EQ(mmapio_reserved(m), 6 * tu_ps);
	T_EQ(view0(m), p0);
	/* The address space after it is the process's again. */
	void *want = (char *)p0 + 6 * tu_ps;
	void *q = mmap(want, tu_ps, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	assert_true(q == want);
	munmap(q, tu_ps);
	uint8_t b[32];
	T_EQ(mmapio_read(m, (off_t)(5 * tu_ps), b, sizeof b), 10);
	T_EQ(tu_check(b, 5 * tu_ps, 10), -1);
	/* Growth past it: up to the reservation, and -EFBIG across its end. */
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)(8 * tu_ps)), 0);
	T_OK(mmapio_refresh(m));
	T_EQ(mmapio_read(m, (off_t)(6 * tu_ps - 16), b, sizeof b), -EFBIG);
	T_EQ(mmapio_read(m, (off_t)(6 * tu_ps - 16), b, 16), 16);
	T_EQ(mmapio_resize(m, 7 * tu_ps), -EFBIG);
	close(fd);
	T_OK(mmapio_close(m));
}

static void test_resize_not_rdwr(void **state)
{
	(void)state;
	char path[PATH_MAX];
	tu_path(path, sizeof path, "resize_ro");
	T_OK(tu_make_file(path, 2 * tu_ps));
	const int modes[] = { MMAPIO_RDONLY, MMAPIO_COW };
	for (int i = 0; i < 2; i++) {
		mmapio_map *m;
		open_ok(&m, path, modes[i], NULL);
		assert_true(mmapio_resize(m, 4 * tu_ps) < 0);
		assert_true(mmapio_resize(m, tu_ps) < 0);
		T_EQ(tu_file_size(path), 2 * tu_ps);
		T_EQ(mmapio_size(m), 2 * tu_ps);
		uint8_t b[16];
		T_EQ(mmapio_read(m, (off_t)(2 * tu_ps - 8), b, sizeof b), 8);
		T_OK(mmapio_close(m));
	}
}

static void test_accessors_and_default_reserve(void **state)
{
	(void)state;
	char path[PATH_MAX];
	tu_path(path, sizeof path, "acc");
	T_OK(tu_make_file(path, 10));
	mmapio_map *m;
	open_ok(&m, path, MMAPIO_RDONLY, NULL);
	T_EQ(mmapio_size(m), 10);
	T_EQ(mmapio_mode(m), MMAPIO_RDONLY);
	T_EQ(mmapio_page_size(m), tu_ps);
	assert_true(mmapio_reserved(m) >= (1ull << 30)); /* default: max(1 GiB, 2 x size) */
	assert_true(mmapio_reserved(m) % tu_ps == 0);
	assert_non_null(mmapio__base(m));
	assert_true((uintptr_t)mmapio__base(m) % tu_ps == 0);
	struct mmapio_stats st;
	memset(&st, 0xff, sizeof st);
	mmapio_get_stats(m, &st);
	T_EQ(st.faults, 0);
	T_EQ(st.flushes, 0);
	T_EQ(st.flush_errors, 0);
	T_OK(mmapio_close(m));

	/* 2 x size for a big (sparse) file */
	if (sizeof(void *) == 8) {
		tu_path(path, sizeof path, "acc_big");
		int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
		assert_true(fd >= 0);
		uint64_t big = 3ull << 30;
		assert_int_equal(ftruncate(fd, (off_t)big), 0);
		close(fd);
		open_ok(&m, path, MMAPIO_RDONLY, NULL);
		T_EQ(mmapio_size(m), big);
		assert_true(mmapio_reserved(m) >= 2 * big);
		uint8_t b[10] = { 1 };
		T_EQ(mmapio_read(m, (off_t)(big - 5), b, sizeof b), 5);
		T_EQ(b[0], 0);
		T_OK(mmapio_close(m));
		unlink(path);
	}

	const char *s = mmapio_strerror(-EINVAL);
	assert_non_null(s);
	assert_true(strlen(s) > 0);
	s = mmapio_strerror(-EFBIG);
	assert_non_null(s);
	assert_true(strlen(s) > 0);
}

/*
 * MMAPIO_F_DEFER_UNMAP: close drops the file's pages and descriptor at once,
 * but the map structure and its address range stay (PROT_NONE, size 0): a
 * reader still holding the map sees an empty file or an error.
 */
struct defer_reader {
	mmapio_map *m;
	atomic_int stop, bad;
	atomic_long data, zero, err;
};

static void *defer_reader_main(void *a)
{
	struct defer_reader *d = a;
	uint8_t b[3000];
	uint64_t off = 0;
	while (!atomic_load(&d->stop)) {
		off = (off + 4099) % (4 * tu_ps);
		ssize_t r = mmapio_read(d->m, (off_t)off, b, sizeof b);
		if (r > 0) {
			for (ssize_t i = 0; i < r; i++)
				if (b[i] != tu_pat(off + (uint64_t)i))
					atomic_store(&d->bad, 1);
			atomic_fetch_add(&d->data, 1);
		} else if (r == 0) {
			atomic_fetch_add(&d->zero, 1);
		} else {
			atomic_fetch_add(&d->err, 1);
		}
	}
	return NULL;
}

static void test_defer_unmap(void **state)
{
	(void)state;
	T_OK(mmapio_fault_install()); /* cmocka replaced mmapio's handler: put it back */
	char path[PATH_MAX];
	tu_path(path, sizeof path, "defer");
	T_OK(tu_make_file(path, 4 * tu_ps));
	int fds0 = tu_fd_count();
	struct mmapio_opts o = { .flags = MMAPIO_F_DEFER_UNMAP };
	mmapio_map *m;
	open_ok(&m, path, MMAPIO_RDONLY, &o);
	char *base = view0(m);

	/* a reader keeps using the map across the close */
	struct defer_reader d;
	memset(&d, 0, sizeof d);
	d.m = m;
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, defer_reader_main, &d), 0);
	tu_sleep_ms(5);
	T_OK(mmapio_close(m));
	tu_sleep_ms(5);
	atomic_store(&d.stop, 1);
	pthread_join(th, NULL);
	T_EQ(atomic_load(&d.bad), 0);
	assert_true(atomic_load(&d.data) > 0);
	assert_true(atomic_load(&d.zero) + atomic_load(&d.err) > 0);
	print_message("reads: %ld with data, %ld empty, %ld errors\n", atomic_load(&d.data),
		      atomic_load(&d.zero), atomic_load(&d.err));

	/* the closed map: an empty file, nothing mapped, descriptor gone */
	T_EQ(mmapio_size(m), 0);
	char b[16];
	T_EQ(mmapio_read(m, 0, b, sizeof b), 0);
	void *p = NULL;
	T_EQ(mmapio_view(m, 0, 16, &p), 0);
	T_EQ(tu_maps_count(path), 0);
	T_EQ(tu_fd_count(), fds0);
	void *fa = NULL;
	T_EQ(mmapio_copy(b, base + 100, 10, &fa), -EFAULT); /* reserved, PROT_NONE */
	assert_true((char *)fa >= base + 100 && (char *)fa < base + 110);
	/* the range is still taken: a hinted anonymous mapping does not land there */
	p = mmap(base, tu_ps, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(p != MAP_FAILED);
	assert_true(p != (void *)base);
	munmap(p, tu_ps);
}

/* Many maps of the same file at once are independent. */
static void test_many_maps_same_file(void **state)
{
	(void)state;
	char path[PATH_MAX];
	tu_path(path, sizeof path, "many");
	T_OK(tu_make_file(path, 4 * tu_ps));
	int fds0 = tu_fd_count();
	mmapio_map *m[8];
	for (int i = 0; i < 8; i++)
		open_ok(&m[i], path, i % 2 ? MMAPIO_RDWR : MMAPIO_RDONLY, NULL);
	for (int i = 1; i < 8; i++)
		assert_true(mmapio__base(m[i]) != mmapio__base(m[0]));
	uint8_t v = 0x77, w = 0;
	T_EQ(mmapio_write(m[1], 5, &v, 1), 1);
	for (int i = 0; i < 8; i++) {
		T_EQ(mmapio_read(m[i], 5, &w, 1), 1);
		T_EQ(w, v);
	}
	for (int i = 0; i < 8; i++)
		T_OK(mmapio_close(m[i]));
	T_EQ(tu_fd_count(), fds0); /* no descriptor leaked */
	T_EQ(tu_maps_count(path), 0); /* nothing left mapped */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_path_modes),
		cmocka_unit_test(test_open_missing_and_create),
		cmocka_unit_test(test_open_invalid),
		cmocka_unit_test(test_open_fd_dup),
		cmocka_unit_test(test_open_fd_borrow),
		cmocka_unit_test(test_open_fd_access),
		cmocka_unit_test(test_zero_length_then_resize),
		cmocka_unit_test(test_base_stable_across_growth),
		cmocka_unit_test(test_refresh_follows_other_fd),
		cmocka_unit_test(test_efbig_beyond_reservation),
		cmocka_unit_test(test_resize_not_rdwr),
		cmocka_unit_test(test_accessors_and_default_reserve),
		cmocka_unit_test(test_no_fd),
		cmocka_unit_test(test_trim_reserve),
		cmocka_unit_test(test_many_maps_same_file),
		cmocka_unit_test(test_defer_unmap),
	};
	return cmocka_run_group_tests(tests, tu_group_setup, tu_group_teardown);
}
