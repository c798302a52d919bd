/*
 * prog_threads: threads sharing descriptors. Prints only order-independent
 * facts (totals, coverage, checksums of sorted chunks, counts of errors).
 *  - 2 threads pread() the whole file over and over on one descriptor
 *  - 2 threads read() one shared offset, then 3 with read()/readv()/preadv2(-1):
 *    every byte read exactly once, no torn chunk, offset ends at the size
 *  - 2 threads write() records through one shared offset inside the file
 *    (in place): no record lost or overwritten, each thread's in order
 *  - 2 threads append with O_APPEND on their own descriptors
 *  - 2 threads open/read/close different files in a loop while a third preads
 *  - readers pread a file that a writer thread keeps extending
 *  - fork() while another thread is opening and closing files (no deadlock
 *    in the child, which also reads and exits normally)
 */
#include "common.h"
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>

#define WORDS_MAGIC 0x5eed5eed00000000ULL
#define FSIZE (1000 * 4096 + 1000)

static unsigned char *ref; /* expected content of th.bin */
static int g_fd;

static void sec(const char *s) { printf("== %s\n", s); }

static void make_ref(void)
{
	ref = malloc(FSIZE);
	for (size_t k = 0; k < FSIZE / 8; k++) {
		uint64_t w = (k * 8) ^ WORDS_MAGIC;
		memcpy(ref + k * 8, &w, 8);
	}
	int fd = open("th.bin", O_CREAT | O_TRUNC | O_WRONLY, 0644);
	ssize_t w = write(fd, ref, FSIZE);
	printf("create th.bin: fd=%d write=%zd close=%d\n", fd, w, close(fd));
}

/* ---- 1. pread threads ---- */
struct pr_arg {
	int dir;
	long mismatches, errors;
};

static void *pread_thread(void *p)
{
	struct pr_arg *a = p;
	unsigned char *copy = malloc(FSIZE);
	size_t nchunks = (FSIZE + 4095) / 4096;
	for (int pass = 0; pass < 10; pass++) {
		memset(copy, 0, FSIZE);
		for (size_t i = 0; i < nchunks; i++) {
			size_t c = a->dir ? nchunks - 1 - i : i;
			off_t off = (off_t)c * 4096;
			size_t want = FSIZE - (size_t)off < 4096 ? FSIZE - (size_t)off : 4096;
			ssize_t r = pread(g_fd, copy + off, 4096, off);
			if (r != (ssize_t)want)
				a->errors++;
		}
		if (memcmp(copy, ref, FSIZE) != 0)
			a->mismatches++;
	}
	free(copy);
	return NULL;
}

/* ---- 2. shared-offset readers ---- */
struct chunk {
	long long off;
	long len;
};
struct rd_arg {
	int kind; /* 0 read 4096, 1 readv 512+488, 2 preadv2(-1) 1024 */
	struct chunk *chunks;
	long n, cap;
	long torn, errors, unaligned;
};

static void *shared_reader(void *p)
{
	struct rd_arg *a = p;
	unsigned char buf[4096];
	for (;;) {
		ssize_t r;
		if (a->kind == 0) {
			r = read(g_fd, buf, 4096);
		} else if (a->kind == 1) {
			struct iovec iv[2] = {{buf, 512}, {buf + 512, 488}};
			r = readv(g_fd, iv, 2);
		} else {
			struct iovec iv = {buf, 1024};
			r = preadv2(g_fd, &iv, 1, -1, 0);
		}
		if (r < 0) {
			a->errors++;
			break;
		}
		if (r == 0)
			break;
		uint64_t w0;
		if (r < 8 || r % 8) {
			a->unaligned++;
			continue;
		}
		memcpy(&w0, buf, 8);
		long long off = (long long)(w0 ^ WORDS_MAGIC);
		if (off < 0 || off + r > FSIZE || memcmp(buf, ref + off, (size_t)r) != 0) {
			a->torn++;
			continue;
		}
		if (a->n == a->cap) {
			a->cap = a->cap ? a->cap * 2 : 1024;
			a->chunks = realloc(a->chunks, (size_t)a->cap * sizeof *a->chunks);
		}
		a->chunks[a->n].off = off;
		a->chunks[a->n].len = (long)r;
		a->n++;
	}
	return NULL;
}

static int cmp_chunk(const void *x, const void *y)
{
	const struct chunk *a = x, *b = y;
	return a->off < b->off ? -1 : a->off > b->off;
}

/* ---- 3./4. writers ---- */
#define REC 256
#define NREC 2000
struct wr_arg {
	int tid, fd;
	long errors;
};

static void mkrec(unsigned char *rec, uint32_t tid, uint32_t seq)
{
	memset(rec, (int)('a' + tid), REC);
	uint32_t m = 0xC0FFEE00u;
	memcpy(rec, &m, 4);
	memcpy(rec + 4, &tid, 4);
	memcpy(rec + 8, &seq, 4);
}

static void *writer(void *p)
{
	struct wr_arg *a = p;
	unsigned char rec[REC];
	for (uint32_t s = 0; s < NREC; s++) {
		mkrec(rec, (uint32_t)a->tid, s);
		if (write(a->fd, rec, REC) != REC)
			a->errors++;
	}
	return NULL;
}

/* fn(a) and fn(b) on two threads at once; returns when both are done. */
static void pair(void *(*fn)(void *), void *a, void *b)
{
	pthread_t ta, tb;
	pthread_create(&ta, NULL, fn, a);
	pthread_create(&tb, NULL, fn, b);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
}

/* Thread 0 writes its records through f0, thread 1 through f1, at once. */
static void two_writers(int f0, int f1)
{
	struct wr_arg a = {0, f0, 0}, b = {1, f1, 0};
	pair(writer, &a, &b);
	SAY("  write errors=%ld,%ld\n", a.errors, b.errors);
}

static void check_records(const char *name, int nthreads)
{
	int fd = open(name, O_RDONLY);
	struct stat st;
	fstat(fd, &st);
	long n = (long)(st.st_size / REC);
	unsigned char *all = malloc((size_t)st.st_size + 1);
	ssize_t r = pread(fd, all, (size_t)st.st_size, 0);
	close(fd);
	long valid = 0, dup = 0, order_bad = 0;
	char *seen = calloc((size_t)nthreads * NREC, 1);
	long last[8];
	for (int t = 0; t < 8; t++)
		last[t] = -1;
	for (long i = 0; i < n && r == st.st_size; i++) {
		const unsigned char *rec = all + i * REC;
		uint32_t m, tid, seq;
		memcpy(&m, rec, 4);
		memcpy(&tid, rec + 4, 4);
		memcpy(&seq, rec + 8, 4);
		unsigned char exp[REC];
		if (m != 0xC0FFEE00u || tid >= (uint32_t)nthreads || seq >= NREC)
			continue;
		mkrec(exp, tid, seq);
		if (memcmp(exp, rec, REC) != 0)
			continue;
		valid++;
		if (seen[tid * NREC + seq]++)
			dup++;
		if ((long)seq <= last[tid])
			order_bad++;
		last[tid] = seq;
	}
	printf("  %s: size=%lld records=%ld valid=%ld duplicates=%ld out-of-order=%ld\n", name,
		   (long long)st.st_size, n, valid, dup, order_bad);
	free(seen);
	free(all);
}

/* ---- 5. churn ---- */
static atomic_int churn_stop;
struct churn_arg {
	const char *name;
	uint64_t expect;
	long cycles, ok, tries;
};

static void *churn(void *p)
{
	struct churn_arg *a = p;
	unsigned char buf[20000];
	for (long i = 0; i < a->cycles || (a->cycles == 0 && !atomic_load(&churn_stop)); i++) {
		a->tries++;
		int fd = open(a->name, O_RDONLY);
		if (fd < 0)
			continue;
		ssize_t r = read(fd, buf, sizeof buf);
		if (r > 0 && fnv(buf, (size_t)r) == a->expect)
			a->ok++;
		close(fd);
		if (a->cycles == 0 && i > 100000)
			break;
	}
	return NULL;
}

/* ---- 6. growth ---- */
static atomic_long published;
static atomic_int grow_done;
struct gr_arg {
	int fd;
	unsigned seed;
	long bad, shortr, errors, reads;
};

static void *grow_reader(void *p)
{
	struct gr_arg *a = p;
	unsigned char buf[8192];
	while (!atomic_load(&grow_done) || a->reads < 1000) {
		long sz = atomic_load(&published);
		if (sz < 8192)
			continue;
		a->seed = a->seed * 1103515245u + 12345u;
		long off = (long)(a->seed % (unsigned)(sz - 8191));
		ssize_t r = pread(a->fd, buf, 8192, off);
		a->reads++;
		if (r < 0)
			a->errors++;
		else if (r != 8192)
			a->shortr++;
		else if (memcmp(buf, ref + off, 8192) != 0)
			a->bad++;
		if (a->reads > 2000000)
			break;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	t_init(argc, argv);
	make_ref();

	sec("two threads pread one descriptor");
	g_fd = (int)CK(open("th.bin", O_RDONLY), "open");
	{
		struct pr_arg a = {0, 0, 0}, b = {1, 0, 0};
		pair(pread_thread, &a, &b);
		SAY("  ascending: mismatched passes=%ld bad returns=%ld\n", a.mismatches, a.errors);
		SAY("  descending: mismatched passes=%ld bad returns=%ld\n", b.mismatches, b.errors);
		state("th", g_fd);
	}

	sec("threads consume one shared offset: 2 x read(), then read()+readv()+preadv2(-1)");
	for (int round = 0; round < 4; round++) {
		int nt = round < 2 ? 2 : 3;
		CK(lseek(g_fd, round * 8, SEEK_SET), "round %d (%d threads): lseek %d", round, nt, round * 8);
		struct rd_arg a[3];
		pthread_t t[3];
		memset(a, 0, sizeof a);
		for (int i = 0; i < nt; i++) {
			a[i].kind = nt == 2 ? 0 : i;
			pthread_create(&t[i], NULL, shared_reader, &a[i]);
		}
		for (int i = 0; i < nt; i++)
			pthread_join(t[i], NULL);
		long n = a[0].n + a[1].n + a[2].n;
		struct chunk *all = malloc((size_t)(n ? n : 1) * sizeof *all);
		long k = 0, torn = 0, errors = 0, unaligned = 0;
		for (int i = 0; i < 3; i++) {
			memcpy(all + k, a[i].chunks, (size_t)a[i].n * sizeof *all);
			k += a[i].n;
			torn += a[i].torn;
			errors += a[i].errors;
			unaligned += a[i].unaligned;
			free(a[i].chunks);
		}
		qsort(all, (size_t)n, sizeof *all, cmp_chunk);
		long long pos = round * 8, total = 0;
		long gaps = 0, overlaps = 0;
		uint64_t h = FNV_INIT;
		for (long i = 0; i < n; i++) {
			if (all[i].off > pos)
				gaps++;
			if (all[i].off < pos)
				overlaps++;
			pos = all[i].off + all[i].len;
			total += all[i].len;
			h = fnv_add(h, ref + all[i].off, (size_t)all[i].len);
		}
		SAY("  total=%lld end=%lld gaps=%ld overlaps=%ld torn=%ld unaligned=%ld errors=%ld "
			"sorted-fnv=%016llx expect=%016llx\n",
			total, pos, gaps, overlaps, torn, unaligned, errors, (unsigned long long)h,
			(unsigned long long)fnv(ref + round * 8, FSIZE - (size_t)round * 8));
		free(all);
		state("th", g_fd);
	}
	CK(close(g_fd), "close");

	sec("two threads write() through one shared offset, in place");
	{
		int fd = (int)CK(open("wr.bin", O_RDWR | O_CREAT | O_TRUNC, 0644), "open wr.bin");
		unsigned char *z = calloc(2 * NREC, REC);
		CK(write(fd, z, 2 * NREC * REC), "prefill with zeros");
		free(z);
		CK(lseek(fd, 0, SEEK_SET), "lseek 0");
		two_writers(fd, fd);
		state("wr", fd);
		CK(close(fd), "close");
		check_records("wr.bin", 2);
	}
	{
		int fd = (int)CK(open("wh.bin", O_RDWR | O_CREAT | O_TRUNC, 0644), "open wh.bin");
		CK(ftruncate(fd, 2 * NREC * REC), "presize with a hole");
		two_writers(fd, fd);
		state("wh", fd);
		CK(close(fd), "close");
		check_records("wh.bin", 2);
	}
	{
		int fd = (int)CK(open("we.bin", O_RDWR | O_CREAT | O_TRUNC, 0644), "open we.bin (empty: extending writes)");
		two_writers(fd, fd);
		state("we", fd);
		CK(close(fd), "close");
		check_records("we.bin", 2);
	}

	sec("two threads O_APPEND on their own descriptors");
	{
		int f0 = (int)CK(open("ap.bin", O_RDWR | O_CREAT | O_TRUNC | O_APPEND, 0644), "open ap.bin");
		int f1 = (int)CK(open("ap.bin", O_RDWR | O_APPEND), "open ap.bin again");
		two_writers(f0, f1);
		/* each descriptor's offset is the end of its own last append: racy, not printed */
		struct stat st;
		CK(fstat(f0, &st), "fstat");
		SAY("  size=%lld\n", (long long)st.st_size);
		CK(close(f0), "close");
		CK(close(f1), "close");
		check_records("ap.bin", 2);
	}

	sec("open/read/close churn in two threads while a third preads");
	{
		mkfile("c0.bin", 7000, 41);
		mkfile("c1.bin", 13000, 42);
		struct churn_arg a = {"c0.bin", gen_fnv(41, 0, 7000), 400, 0, 0};
		struct churn_arg b = {"c1.bin", gen_fnv(42, 0, 13000), 400, 0, 0};
		g_fd = (int)CK(open("th.bin", O_RDONLY), "open th.bin");
		struct pr_arg c = {0, 0, 0};
		pthread_t ta, tb, tc;
		pthread_create(&ta, NULL, churn, &a);
		pthread_create(&tb, NULL, churn, &b);
		pthread_create(&tc, NULL, pread_thread, &c);
		pthread_join(ta, NULL);
		pthread_join(tb, NULL);
		pthread_join(tc, NULL);
		SAY("  churn ok: %ld/400 %ld/400; pread thread mismatched passes=%ld bad returns=%ld\n", a.ok,
			b.ok, c.mismatches, c.errors);
		CK(close(g_fd), "close");
		int probe = (int)CK(open("c0.bin", O_RDONLY), "open (lowest free fd: nothing leaked)");
		CK(close(probe), "close");
	}

	sec("readers pread while a writer thread extends the file");
	{
		int w = (int)CK(open("gr.bin", O_RDWR | O_CREAT | O_TRUNC, 0644), "open gr.bin writer");
		int r = (int)CK(open("gr.bin", O_RDONLY), "open gr.bin reader");
		atomic_store(&published, 0);
		atomic_store(&grow_done, 0);
		struct gr_arg a = {r, 1, 0, 0, 0, 0}, b = {r, 2, 0, 0, 0, 0};
		pthread_t ta, tb;
		pthread_create(&ta, NULL, grow_reader, &a);
		pthread_create(&tb, NULL, grow_reader, &b);
		long werr = 0;
		for (long off = 0; off < 1000L * 4096; off += 4096) {
			if (write(w, ref + off, 4096) != 4096)
				werr++;
			atomic_store(&published, off + 4096);
		}
		atomic_store(&grow_done, 1);
		pthread_join(ta, NULL);
		pthread_join(tb, NULL);
		SAY("  writer errors=%ld; readers: mismatches=%ld,%ld short=%ld,%ld errors=%ld,%ld\n", werr, a.bad,
			b.bad, a.shortr, b.shortr, a.errors, b.errors);
		state("gr reader", r);
		CK(close(w), "close");
		CK(close(r), "close");
	}

	sec("fork while another thread opens and closes");
	{
		atomic_store(&churn_stop, 0);
		struct churn_arg a = {"c0.bin", gen_fnv(41, 0, 7000), 0, 0, 0};
		pthread_t ta;
		pthread_create(&ta, NULL, churn, &a);
		int ok = 0, hung = 0, bad = 0;
		fflush(stdout);
		for (int i = 0; i < 30; i++) {
			pid_t pid = fork();
			if (pid == 0) {
				unsigned char buf[20000];
				int fd = open("c1.bin", O_RDONLY);
				ssize_t r = read(fd, buf, sizeof buf);
				int good = r == 13000 && fnv(buf, 13000) == gen_fnv(42, 0, 13000);
				close(fd);
				exit(good ? 0 : 1);
			}
			int st = 0, done = 0;
			for (int ms = 0; ms < 20000 && !done; ms++) {
				if (waitpid(pid, &st, WNOHANG) == pid)
					done = 1;
				else {
					struct timespec ts = {0, 1000000};
					nanosleep(&ts, NULL);
				}
			}
			if (!done) {
				kill(pid, SIGKILL);
				waitpid(pid, &st, 0);
				hung++;
			} else if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
				ok++;
			else
				bad++;
		}
		atomic_store(&churn_stop, 1);
		pthread_join(ta, NULL);
		SAY("  forks=30 ok=%d hung=%d bad=%d; churn thread all reads good: %s\n", ok, hung, bad,
			a.ok == a.tries && a.tries > 0 ? "yes" : "no");
	}
	SAY("done\n");
	return 0;
}
