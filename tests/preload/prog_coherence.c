/*
 * prog_coherence: a size change made by another process under the shim (a
 * new shim instance, started by exec, not a fork child sharing our memory)
 * is seen at once by this one's map, through the generation table in
 * /dev/shm (preload/coherence.c).
 *
 * After the other process shrinks the file to the middle of a page, a
 * write into that page past the new end must extend the file, as pwrite(2)
 * does. That page is still mapped and does not fault. The core notices a
 * shrink by itself when the bytes it finds past the end are zero (the
 * kernel zeroes them at truncation; core/io.c, reaches()), so the other
 * process also writes through a map of its own into the rest of that page
 * (allowed past the end within the last page; the bytes stay in the page
 * cache, not in the file). Only the table then tells this process's map
 * that the file is shorter: without it the write would go into the page
 * past the end and the file would stay short (the write lost; checked
 * with the table disabled). Then the other process grows the file, and a
 * read must see the new bytes and the new end. Every result is printed;
 * the shim arm must match the run without it.
 * Usage: prog_coherence DIR (the child: DIR resize N SEED).
 */
#include "common.h"
#include <sys/mman.h>
#include <sys/wait.h>

#define PS 4096
#define FULL (3 * PS)

/* The other process: resize k.bin to n bytes, new bytes from seed. */
static int child(off_t n, unsigned seed)
{
	int fd = open("k.bin", O_RDWR);
	if (fd < 0)
		return 3;
	struct stat st;
	if (fstat(fd, &st) != 0 || ftruncate(fd, n) != 0)
		return 4;
	if (n < st.st_size && n % PS) {
		/* Bytes past the new end, in its page, through a map. */
		off_t page = n - n % PS;
		unsigned char *p = mmap(NULL, PS, PROT_READ | PROT_WRITE, MAP_SHARED, fd, page);
		if (p == MAP_FAILED)
			return 8;
		memset(p + n % PS, 'x', (size_t)(PS - n % PS));
		munmap(p, PS);
	}
	if (n > st.st_size) {
		static unsigned char b[FULL];
		gen(b, (size_t)(n - st.st_size), seed, (uint64_t)st.st_size);
		if (pwrite(fd, b, (size_t)(n - st.st_size), st.st_size) != n - st.st_size)
			return 5;
	}
	return close(fd) ? 6 : 0;
}

/* Run the child as a new program (exec), wait for it. */
static void other(const char *tag, off_t n, unsigned seed)
{
	char ns[32], ss[32];
	snprintf(ns, sizeof ns, "%lld", (long long)n);
	snprintf(ss, sizeof ss, "%u", seed);
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		execl("/proc/self/exe", "prog_coherence", ".", "resize", ns, ss, (char *)NULL);
		_exit(7);
	}
	int ws = 0;
	waitpid(p, &ws, 0);
	SAY("%s: other process resized to %lld: exit %d\n", tag, (long long)n,
	    WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
}

static void seen(const char *tag, int fd)
{
	static unsigned char b[2 * FULL];
	errno = 0;
	ssize_t n = pread(fd, b, sizeof b, 0);
	report(n, errno, "%s pread(whole) fnv=%016llx", tag,
	       (unsigned long long)(n > 0 ? fnv(b, (size_t)n) : 0));
	state(tag, fd);
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[2], "resize")) {
		if (chdir(argv[1]) != 0)
			return 2;
		return child((off_t)atoll(argv[3]), (unsigned)atoi(argv[4]));
	}
	t_init(argc, argv);
	mkfile("k.bin", FULL, 11);
	int fd = CK(open("k.bin", O_RDWR), "open");
	/* Served from the map under the shim: it is mapped read-write now. */
	for (int i = 0; i < 4; i++)
		prd(fd, 100, (off_t)i * 1000 + 5, "pread");
	static unsigned char w[100];
	memset(w, 'w', sizeof w);
	CK(pwrite(fd, w, sizeof w, 200), "pwrite inside");

	other("shrink", PS + PS / 2, 0);
	CK(pwrite(fd, w, sizeof w, PS + PS / 2 + 400), "pwrite past the new end, same page");
	seen("after the write", fd);

	other("grow", FULL + 5000, 12);
	prd(fd, 3000, FULL + 1000, "pread of the grown part");
	seen("after the growth", fd);

	other("shrink again", 1000, 0);
	prd(fd, 3000, 500, "pread across the new end");
	seen("after the second shrink", fd);
	CK(close(fd), "close");
	return 0;
}
