/*
 * prog_execchild: helper exec'd (or spawned) by prog_procs. It continues
 * working on a descriptor inherited from its parent and prints what it sees.
 * Not a test on its own: run.sh skips it.
 *
 * usage: prog_execchild TAG FD OP...
 *   rN     read N bytes at the current offset (print return and checksum)
 *   pN@O   pread N bytes at offset O
 *   wN     write N pattern bytes at the current offset
 *   e      read to EOF in 1000-byte steps (print total and checksum)
 *   s      print offset and size
 */
#include "common.h"

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 3) {
		fprintf(stderr, "usage: %s TAG FD OP...\n", argv[0]);
		return 2;
	}
	const char *tag = argv[1];
	int fd = atoi(argv[2]);
	char label[64];
	snprintf(label, sizeof label, "  <%s exec child>", tag);
	for (int i = 3; i < argc; i++) {
		const char *op = argv[i];
		if (op[0] == 'r') {
			rd(fd, (size_t)atol(op + 1), label);
		} else if (op[0] == 'p') {
			const char *at = strchr(op, '@');
			prd(fd, (size_t)atol(op + 1), at ? atol(at + 1) : 0, label);
		} else if (op[0] == 'w') {
			size_t n = (size_t)atol(op + 1);
			unsigned char buf[4096];
			if (n > sizeof buf)
				n = sizeof buf;
			for (size_t k = 0; k < n; k++)
				buf[k] = (unsigned char)('a' + k % 26);
			CK(write(fd, buf, n), "%s write(fd%d, %zu)", label, fd, n);
		} else if (op[0] == 'e') {
			unsigned char buf[1000];
			uint64_t h = FNV_INIT;
			long long tot = 0;
			ssize_t k;
			while ((k = read(fd, buf, sizeof buf)) > 0) {
				h = fnv_add(h, buf, (size_t)k);
				tot += k;
			}
			printf("%s to EOF: %lld bytes fnv=%016llx last=%zd%s%s\n", label, tot,
				   (unsigned long long)h, k, k < 0 ? " " : "", k < 0 ? ename(errno) : "");
		} else if (op[0] == 's') {
			state(label, fd);
		}
	}
	return 0;
}
