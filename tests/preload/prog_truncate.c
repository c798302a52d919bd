/*
 * prog_truncate: a file shrinks and regrows under a reader.
 * A forked child (and, in a later phase, a thread) repeatedly truncates a
 * 16-page file to a pseudo-random shorter size and rewrites the rest, while
 * this process loops over pread/read/readv (phase 1) and also in-place pwrites
 * of the same bytes (phase 2). Only robust facts are printed: no crash, every
 * return is -1 or within 0..len, no errors (the kernel gives none), offsets
 * move by exactly what read returned; then, once the file is still, reads
 * return exactly what the file holds after further shrinks and growths made
 * by other processes and by this one. Exits 0.
 */
#include "common.h"
#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>

#define FULL (16 * 4096)
#define SEED 81

static unsigned char ref[FULL];

static void sec(const char *s) { printf("== %s\n", s); }

/* shrink to a pseudo-random size, then rewrite up to FULL; leaves the file full */
static void churn_file(int o, int iters, unsigned seed)
{
	for (int i = 0; i < iters; i++) {
		seed = seed * 1103515245u + 12345u;
		off_t s = (off_t)((seed >> 8) % FULL);
		if (ftruncate(o, s) != 0)
			break;
		if (pwrite(o, ref + s, (size_t)(FULL - s), s) != FULL - s)
			break;
	}
}

struct counts {
	long ops, out_of_range, errors, offset_errors;
	int last_errno;
};

static void one_round(int pfd, int sfd, int do_writes, unsigned *seed, struct counts *c)
{
	unsigned char buf[3 * 4096 + 100];
	*seed = *seed * 1103515245u + 12345u;
	size_t len = 1 + (*seed >> 4) % sizeof buf;
	off_t off = (off_t)((*seed >> 12) % (FULL + 4096));
	int kind = (int)(*seed % (do_writes ? 4 : 3));
	ssize_t r;
	if (kind == 0) {
		r = pread(pfd, buf, len, off);
	} else if (kind == 1) {
		off_t before = lseek(sfd, 0, SEEK_CUR);
		r = read(sfd, buf, len);
		off_t after = lseek(sfd, 0, SEEK_CUR);
		if (r >= 0 && after != before + r)
			c->offset_errors++;
		if (r == 0)
			lseek(sfd, 0, SEEK_SET);
	} else if (kind == 2) {
		struct iovec iv[2] = {{buf, len / 2}, {buf + len / 2, len - len / 2}};
		r = preadv(pfd, iv, 2, off);
	} else {
		if (off + (off_t)len > FULL)
			len = (size_t)(FULL - off > 0 ? FULL - off : 0);
		r = pwrite(pfd, ref + off, len, off);
	}
	c->ops++;
	if (r < 0) {
		c->errors++;
		c->last_errno = errno;
	} else if ((size_t)r > len) {
		c->out_of_range++;
	}
}

static void print_counts(const char *tag, struct counts *c)
{
	SAY("  %s: ops>0 %s, out-of-range returns %ld, error returns %ld%s%s, offset bookkeeping errors %ld\n",
		tag, c->ops > 0 ? "yes" : "no", c->out_of_range, c->errors, c->errors ? " last " : "",
		c->errors ? ename(c->last_errno) : "", c->offset_errors);
}

static int waitchild(pid_t pid, int block)
{
	int st;
	pid_t r = waitpid(pid, &st, block ? 0 : WNOHANG);
	if (r != pid)
		return -1;
	if (WIFEXITED(st))
		printf("  child exit %d\n", WEXITSTATUS(st));
	else
		printf("  child killed by signal %d\n", WTERMSIG(st));
	return 0;
}

static void race_with_child(int pfd, int sfd, int do_writes, unsigned seed)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		int o = open("tr.bin", O_RDWR);
		churn_file(o, 5000, seed);
		close(o);
		exit(0);
	}
	struct counts c = {0, 0, 0, 0, 0};
	unsigned s = seed ^ 0x9e37u;
	for (;;) {
		for (int i = 0; i < 64; i++)
			one_round(pfd, sfd, do_writes, &s, &c);
		if (waitchild(pid, 0) == 0)
			break;
	}
	print_counts(do_writes ? "reads+writes" : "reads", &c);
}

static atomic_int stop_thread;
static void *thread_churn(void *p)
{
	(void)p;
	int o = open("tr.bin", O_RDWR);
	unsigned seed = 777;
	while (!atomic_load(&stop_thread))
		churn_file(o, 1, seed++);
	close(o);
	return NULL;
}

static void check_still(const char *tag, int fd, off_t expect_size)
{
	struct stat st;
	fstat(fd, &st);
	unsigned char *b = malloc(FULL * 4);
	ssize_t r = pread(fd, b, FULL * 4, 0);
	int same = r == expect_size;
	SAY("  %s: size=%lld pread-all=%zd matches-expected=%s\n", tag, (long long)st.st_size, r,
		same ? "yes" : "no");
	free(b);
}

int main(int argc, char **argv)
{
	t_init(argc, argv);
	gen(ref, FULL, SEED, 0);
	mkfile("tr.bin", FULL, SEED);
	int pfd = (int)CK(open("tr.bin", O_RDWR), "open RDWR");
	int sfd = (int)CK(open("tr.bin", O_RDONLY), "open RDONLY (sequential reader)");

	sec("phase 1: reads while a child truncates and rewrites");
	race_with_child(pfd, sfd, 0, 1);
	whole("after phase 1", pfd);
	SAY("  expected fnv=%016llx\n", (unsigned long long)fnv(ref, FULL));

	sec("phase 2: reads and in-place writes while a child truncates and rewrites");
	race_with_child(pfd, sfd, 1, 2);
	whole("after phase 2", pfd);

	sec("phase 3: reads while a thread truncates and rewrites");
	{
		pthread_t t;
		atomic_store(&stop_thread, 0);
		pthread_create(&t, NULL, thread_churn, NULL);
		struct counts c = {0, 0, 0, 0, 0};
		unsigned s = 3;
		for (int i = 0; i < 50000; i++)
			one_round(pfd, sfd, 1, &s, &c);
		atomic_store(&stop_thread, 1);
		pthread_join(t, NULL);
		print_counts("reads+writes vs thread", &c);
		whole("after phase 3", pfd);
	}

	sec("still file: shrink and growth by other processes, then by this one");
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		int o = open("tr.bin", O_RDWR);
		int r = ftruncate(o, 10000);
		exit(r == 0 ? 0 : 1);
	}
	waitchild(pid, 1);
	check_still("shrunk to 10000 by a child", pfd, 10000);
	{
		unsigned char b[8192];
		ssize_t r = pread(pfd, b, sizeof b, 9000);
		SAY("  pread 8192 @9000 = %zd fnv=%016llx expect=%016llx\n", r,
			(unsigned long long)fnv(b, r > 0 ? (size_t)r : 0), (unsigned long long)fnv(ref + 9000, 1000));
	}
	CK(lseek(sfd, 4000, SEEK_SET), "lseek 4000");
	rd(sfd, 4096, "sequential");
	CK(lseek(sfd, 9990, SEEK_SET), "lseek 9990");
	rd(sfd, 4096, "sequential tail");
	rd(sfd, 4096, "sequential at EOF");
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int o = open("tr.bin", O_RDWR);
		unsigned char big[FULL * 2];
		gen(big, sizeof big, SEED + 1, 0);
		ssize_t r = pwrite(o, big, sizeof big, 10000);
		exit(r == (ssize_t)sizeof big ? 0 : 1);
	}
	waitchild(pid, 1);
	check_still("grown to 141072 by a child", pfd, 10000 + FULL * 2);
	{
		unsigned char b[20000];
		ssize_t r = pread(pfd, b, sizeof b, 5000);
		SAY("  pread 20000 @5000 = %zd fnv=%016llx\n", r, (unsigned long long)fnv(b, r > 0 ? (size_t)r : 0));
		rd(sfd, 100, "sequential continues past old EOF");
	}
	CK(ftruncate(pfd, 3 * 4096 + 7), "ftruncate own fd to 3 pages + 7");
	check_still("own shrink", pfd, 3 * 4096 + 7);
	CK(pwrite(pfd, "tail!", 5, 3 * 4096 + 7), "pwrite at EOF");
	whole("final", pfd);
	whole("final via reader", sfd);
	CK(close(pfd), "close");
	CK(close(sfd), "close");
	SAY("done\n");
	return 0;
}
