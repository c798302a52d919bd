/*
 * prog_inherit: descriptors a program inherits (inherit.c). The parent
 * opens inherit_a.bin on descriptor 0 and inherit_b.bin on descriptor 3,
 * forks, and the child execs this program again in "child" mode: it
 * starts with both open, the description of descriptor 0 shared with the
 * parent. Under the shim the child finds them at its start.
 *
 * inherit_a.bin holds, in each 8-byte word, its own offset, so a read
 * tells where it was made. Turn by turn (pipes): the child reads, preads
 * and readvs descriptor 0; the parent continues from the child's offset
 * and moves it; the child continues from there; the child reads
 * descriptor 3 to its end, past it, and from SEEK_END. Then both read
 * descriptor 0 at the same time, 1000 bytes per read() until its end:
 * every 1000-byte record must be read exactly once, by one of them, with
 * every word at its place, as the kernel guarantees for read(2) on a
 * shared description. (run.sh, case prog_inherit.served: the child's line
 * shows inherit_b.bin served.)
 */
#include "common.h"
#include <sys/wait.h>

#define A_SIZE 400500	       /* 400 whole 1000-byte records and one of 500 */
#define B_SIZE (2 * 1048576 + 123)
#define REC 1000
#define NREC (A_SIZE / REC + 1)

static int to_child, from_child, to_parent, from_parent;

static void post(int fd) { (void)!write(fd, "x", 1); }
static void await(int fd)
{
	char c;
	if (read(fd, &c, 1) != 1) {
		printf("pipe closed\n");
		exit(1);
	}
}

static uint64_t word_at(const unsigned char *b)
{
	uint64_t w;
	memcpy(&w, b, sizeof w);
	return w;
}

/* read() of n bytes on fd: the offset its first word names, and whether every word is in place. */
static void rd_words(int fd, size_t n, const char *tag)
{
	unsigned char b[65536];
	ssize_t r = read(fd, b, n);
	if (r < 8) {
		printf("%s read(fd%d, %zu) = %zd\n", tag, fd, n, r);
		return;
	}
	uint64_t first = word_at(b);
	int good = 1;
	for (ssize_t i = 0; i + 8 <= r; i += 8)
		good &= word_at(b + i) == first + (uint64_t)i;
	printf("%s read(fd%d, %zu) = %zd at %llu%s\n", tag, fd, n, r, (unsigned long long)first,
	       good ? "" : " (words out of place)");
}

static void make_a(void)
{
	unsigned char *b = malloc(A_SIZE);
	for (size_t i = 0; i < A_SIZE; i += 8) {
		uint64_t w = i;
		memcpy(b + i, &w, A_SIZE - i < 8 ? A_SIZE - i : 8);
	}
	int fd = open("inherit_a.bin", O_CREAT | O_TRUNC | O_WRONLY, 0644);
	printf("inherit_a.bin: %s\n", fd >= 0 && write(fd, b, A_SIZE) == A_SIZE ? "made" : "failed");
	close(fd);
	free(b);
}

/* Read descriptor 0 in records until its end; the start of each record goes to out. */
static int records(int *starts, int max)
{
	unsigned char b[REC];
	int n = 0, bad = 0;
	for (;;) {
		ssize_t r = read(0, b, REC);
		if (r <= 0)
			break;
		uint64_t first = word_at(b);
		for (ssize_t i = 0; i + 8 <= r; i += 8)
			bad |= word_at(b + i) != first + (uint64_t)i;
		bad |= first % REC != 0 || r != (first + REC <= A_SIZE ? REC : A_SIZE - (ssize_t)first);
		if (n < max)
			starts[n++] = (int)(first / REC);
	}
	return bad ? -1 : n;
}

static void child(void)
{
	/* 1: the child reads first */
	state("child", 0);
	rd_words(0, 4096, "child");
	rd_words(0, 4096, "child");
	prd(0, 100, 50000, "child");
	struct iovec v[2];
	unsigned char x[1000], y[3000];
	v[0] = (struct iovec){ x, sizeof x };
	v[1] = (struct iovec){ y, sizeof y };
	CK(readv(0, v, 2), "child readv(fd0, 1000+3000)");
	state("child", 0);
	rd(3, 16384, "child");
	state("child", 3);
	post(to_parent);
	/* 3: after the parent moved the shared offset */
	await(from_parent);
	rd_words(0, 4096, "child");
	state("child", 0);
	long long total = 0, calls = 0, r;
	uint64_t h = FNV_INIT;
	unsigned char b[16384];
	while ((r = read(3, b, sizeof b)) > 0) {
		h = fnv_add(h, b, (size_t)r);
		total += r;
		calls++;
	}
	printf("child fd3 to its end: %lld calls, %lld bytes, fnv=%016llx, last = %lld\n", calls,
	       total, (unsigned long long)h, r);
	rd(3, 4096, "child past the end");
	state("child", 3);
	CK(lseek(3, -100, SEEK_END), "child lseek(fd3, -100, SEEK_END)");
	rd(3, 4096, "child");
	rd(3, 4096, "child");
	prd(3, 65536, B_SIZE - 1000, "child");
	state("child", 3);
	post(to_parent);
	/* 4: both read records at the same time */
	await(from_parent);
	static int starts[NREC * 2];
	int n = records(starts, NREC * 2);
	int out = open("child_records.txt", O_CREAT | O_TRUNC | O_WRONLY, 0644);
	for (int i = 0; i < n; i++)
		dprintf(out, "%d\n", starts[i]);
	dprintf(out, "%d\n", n < 0 ? -1 : -2);
	close(out);
	post(to_parent);
	exit(0);
}

int main(int argc, char **argv)
{
	t_init(argc, argv);
	if (argc == 5 && !strcmp(argv[2], "child")) {
		to_parent = atoi(argv[3]);
		from_parent = atoi(argv[4]);
		(void)to_child;
		(void)from_child;
		child();
	}
	make_a();
	mkfile("inherit_b.bin", B_SIZE, 21);
	int a = (int)CK(open("inherit_a.bin", O_RDONLY), "open a");
	int b = (int)CK(open("inherit_b.bin", O_RDONLY), "open b");
	CK(dup2(a, 0), "dup2(a, 0)");
	CK(dup2(b, 3), "dup2(b, 3)"); /* over a's own number */
	CK(close(b), "close b");
	int p1[2], p2[2];
	if (pipe(p1) != 0 || pipe(p2) != 0)
		return 1;
	to_child = p1[1], from_parent = p1[0], to_parent = p2[1], from_child = p2[0];
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		char s1[16], s2[16];
		snprintf(s1, sizeof s1, "%d", to_parent);
		snprintf(s2, sizeof s2, "%d", from_parent);
		execl("/proc/self/exe", argv[0], ".", "child", s1, s2, (char *)NULL);
		_exit(127);
	}
	close(3);
	/* 2: continue from where the child stopped, then move the offset */
	await(from_child);
	state("parent", 0);
	rd_words(0, 1000, "parent");
	CK(lseek(0, 100000, SEEK_SET), "parent lseek(fd0, 100000)");
	post(to_child);
	await(from_child);
	state("parent", 0);
	/* 4: both at once, from the start */
	CK(lseek(0, 0, SEEK_SET), "parent lseek(fd0, 0)");
	fflush(stdout);
	post(to_child);
	static int mine[NREC * 2];
	int n = records(mine, NREC * 2);
	await(from_child);
	int count[NREC] = { 0 }, bad = n < 0, total = 0;
	for (int i = 0; i < n; i++, total++)
		bad |= mine[i] < 0 || mine[i] >= NREC || count[mine[i]]++;
	FILE *f = fopen("child_records.txt", "r");
	int k = 0;
	while (f && fscanf(f, "%d", &k) == 1 && k >= 0) {
		bad |= k >= NREC || count[k]++;
		total++;
	}
	bad |= !f || k != -2;
	if (f)
		fclose(f);
	for (int i = 0; i < NREC; i++)
		bad |= count[i] != 1;
	printf("both at once: %d records read%s\n", total,
	       bad ? ", NOT each exactly once with its words in place" : ", each exactly once, every word in place");
	state("parent", 0);
	int st;
	waitpid(p, &st, 0);
	printf("child: %s %d\n", WIFEXITED(st) ? "exited" : "killed", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	return 0;
}
