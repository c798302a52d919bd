/*
 * test_huge.c - huge-page tiers: OFF when not asked, THP only when the
 * system allows it and the kernel took the advice, TLBFS for files on
 * hugetlbfs (skipped when no hugetlbfs mount with free pages exists).
 */
#include "tutil.h"
#include "testing.h"

#include <mntent.h>
#include <sys/statfs.h>

#ifndef HUGETLBFS_MAGIC
#define HUGETLBFS_MAGIC 0x958458f6
#endif

/* The selected value of a THP sysfs knob ("always", "madvise", "never", ...), or "" */
static const char *thp_setting(const char *file, char *out, size_t cap)
{
	char buf[256] = "";
	out[0] = 0;
	FILE *f = fopen(file, "re");
	if (!f)
		return out;
	if (fgets(buf, sizeof buf, f)) {
		char *l = strchr(buf, '['), *r = l ? strchr(l, ']') : NULL;
		if (l && r) {
			*r = 0;
			snprintf(out, cap, "%s", l + 1);
		}
	}
	fclose(f);
	return out;
}

static mmapio_map *open_huge(const char *path, int mode, int huge)
{
	struct mmapio_opts o = { .huge = huge };
	mmapio_map *m = NULL;
	int r = mmapio_open(&m, path, mode, &o);
	if (r)
		fail_msg("mmapio_open(%s, huge %d) = %d", path, huge, r);
	return m;
}

/* THP reported => the mapping at addr carries VM_HUGEPAGE ("hg"). */
static void check_thp_flag(const void *addr, int expect)
{
	char fl[512];
	T_OK(tu_vmflags(addr, fl, sizeof fl));
	if (tu_has_flag(fl, "hg") != expect)
		fail_msg("VmFlags at %p: \"%s\": hg %s expected", addr, fl, expect ? "" : "not");
}

static void test_huge_off(void **state)
{
	(void)state;
	char path[PATH_MAX];
	tu_path(path, sizeof path, "off");
	T_OK(tu_make_file(path, 4u << 20));
	mmapio_map *m = NULL;
	T_OK(mmapio_open(&m, path, MMAPIO_RDONLY, NULL)); /* default: OFF */
	T_EQ(mmapio_huge_tier(m), MMAPIO_HUGE_OFF);
	T_EQ(mmapio_page_size(m), tu_ps);
	check_thp_flag(mmapio__base(m), 0); /* never asked */
	T_OK(mmapio_close(m));
	m = open_huge(path, MMAPIO_RDWR, MMAPIO_HUGE_OFF);
	T_EQ(mmapio_huge_tier(m), MMAPIO_HUGE_OFF);
	T_EQ(mmapio_page_size(m), tu_ps);
	check_thp_flag(mmapio__base(m), 0);
	T_OK(mmapio_resize(m, 8u << 20));
	check_thp_flag((char *)mmapio__base(m) + (6u << 20), 0);
	T_OK(mmapio_close(m));

	/* the tier values are not policies */
	struct mmapio_opts o = { .huge = MMAPIO_HUGE_THP };
	T_EQ(mmapio_open(&m, path, MMAPIO_RDONLY, &o), -EINVAL);
	o.huge = MMAPIO_HUGE_TLBFS;
	T_EQ(mmapio_open(&m, path, MMAPIO_RDONLY, &o), -EINVAL);
}

/* AUTO on a regular (disk) file: OFF or THP, consistent with sysfs and the VMA. */
static void test_huge_auto_regular_file(void **state)
{
	(void)state;
	char path[PATH_MAX], en[64];
	tu_path(path, sizeof path, "auto");
	T_OK(tu_make_file(path, 4u << 20));
	struct statfs sf;
	assert_int_equal(statfs(path, &sf), 0);
	int on_tlbfs = (unsigned long)sf.f_type == HUGETLBFS_MAGIC;
	thp_setting("/sys/kernel/mm/transparent_hugepage/enabled", en, sizeof en);
	print_message("THP enabled: [%s]\n", en);

	const int modes[] = { MMAPIO_RDONLY, MMAPIO_RDWR, MMAPIO_COW };
	for (int i = 0; i < 3; i++) {
		mmapio_map *m = open_huge(path, modes[i], MMAPIO_HUGE_AUTO);
		int t = mmapio_huge_tier(m);
		if (t != MMAPIO_HUGE_OFF && t != MMAPIO_HUGE_THP && t != MMAPIO_HUGE_TLBFS)
			fail_msg("huge tier %d", t);
		if (!on_tlbfs)
			assert_true(t != MMAPIO_HUGE_TLBFS);
		if (!strcmp(en, "never") || en[0] == 0)
			assert_true(t != MMAPIO_HUGE_THP);
		if (t != MMAPIO_HUGE_TLBFS)
			T_EQ(mmapio_page_size(m), tu_ps);
		if (i == 0)
			print_message("tier with AUTO on this file system: %d\n", t);
		check_thp_flag(mmapio__base(m), t == MMAPIO_HUGE_THP);
		/* data as usual */
		uint8_t b[100];
		T_EQ(mmapio_read(m, (off_t)(3u << 20), b, sizeof b), sizeof b);
		T_EQ(tu_check(b, 3u << 20, sizeof b), -1);
		if (modes[i] == MMAPIO_RDWR) {
			/* newly mapped growth gets the same treatment */
			void *p0 = mmapio__base(m);
			T_OK(mmapio_resize(m, 12u << 20));
			T_EQ(mmapio__base(m), p0);
			check_thp_flag((char *)p0 + (10u << 20), mmapio_huge_tier(m) == MMAPIO_HUGE_THP);
			T_EQ(mmapio_read(m, (off_t)(12u << 20) - 10, b, sizeof b), 10);
			T_OK(mmapio_resize(m, 4u << 20));
		}
		T_OK(mmapio_close(m));
	}
}

/* AUTO on a memfd (tmpfs/shmem): THP only if shmem_enabled allows it. */
static void test_huge_auto_memfd(void **state)
{
	(void)state;
	int fd = memfd_create("mmapio-huge", MFD_CLOEXEC);
	if (fd < 0) {
		print_message("memfd_create: %s: skipping\n", strerror(errno));
		skip();
	}
	assert_int_equal(ftruncate(fd, 4 << 20), 0);
	char en[64], sh[64];
	thp_setting("/sys/kernel/mm/transparent_hugepage/enabled", en, sizeof en);
	thp_setting("/sys/kernel/mm/transparent_hugepage/shmem_enabled", sh, sizeof sh);
	print_message("THP enabled [%s], shmem_enabled [%s]\n", en, sh);
	struct mmapio_opts o = { .huge = MMAPIO_HUGE_AUTO };
	mmapio_map *m = NULL;
	T_OK(mmapio_open_fd(&m, fd, MMAPIO_RDWR, &o));
	int t = mmapio_huge_tier(m);
	assert_true(t == MMAPIO_HUGE_OFF || t == MMAPIO_HUGE_THP);
	if (!strcmp(en, "never") || !strcmp(sh, "never") || !strcmp(sh, "deny"))
		assert_true(t != MMAPIO_HUGE_THP);
	check_thp_flag(mmapio__base(m), t == MMAPIO_HUGE_THP);
	uint8_t v = 9, w = 0;
	T_EQ(mmapio_write(m, (2 << 20) + 1, &v, 1), 1);
	T_EQ(pread(fd, &w, 1, (2 << 20) + 1), 1);
	T_EQ(w, 9);
	T_OK(mmapio_close(m));
	close(fd);
}

/* A hugetlbfs mount with free pages, or NULL. */
static const char *find_hugetlbfs(char *dir, size_t cap, long *hpsz)
{
	FILE *f = setmntent("/proc/mounts", "re");
	if (!f)
		return NULL;
	struct mntent *e;
	const char *found = NULL;
	while ((e = getmntent(f)) != NULL) {
		if (strcmp(e->mnt_type, "hugetlbfs"))
			continue;
		struct statfs sf;
		if (statfs(e->mnt_dir, &sf) || access(e->mnt_dir, W_OK))
			continue;
		/* f_bavail: free huge pages of this mount's size (unless unlimited: -1) */
		if (sf.f_bfree == 0)
			continue;
		snprintf(dir, cap, "%s", e->mnt_dir);
		*hpsz = (long)sf.f_bsize;
		found = dir;
		break;
	}
	endmntent(f);
	return found;
}

static long free_huge_pages(long hpsz)
{
	char p[128];
	snprintf(p, sizeof p, "/sys/kernel/mm/hugepages/hugepages-%ldkB/free_hugepages", hpsz / 1024);
	FILE *f = fopen(p, "re");
	long n = 0;
	if (f) {
		if (fscanf(f, "%ld", &n) != 1)
			n = 0;
		fclose(f);
	}
	return n;
}

static void test_huge_tlbfs(void **state)
{
	(void)state;
	char dir[PATH_MAX], path[PATH_MAX + 64];
	long hp = 0;
	if (!find_hugetlbfs(dir, sizeof dir, &hp) || free_huge_pages(hp) < 2) {
		print_message("no writable hugetlbfs mount with 2 free huge pages: skipping TLBFS tier\n");
		skip();
	}
	snprintf(path, sizeof path, "%s/mmapio-test-%d", dir, (int)getpid());
	struct mmapio_opts o = { .flags = MMAPIO_F_CREATE, .huge = MMAPIO_HUGE_AUTO };
	mmapio_map *m = NULL;
	int r = mmapio_open(&m, path, MMAPIO_RDWR, &o);
	if (r) {
		unlink(path);
		fail_msg("mmapio_open on hugetlbfs = %d", r);
	}
	T_EQ(mmapio_huge_tier(m), MMAPIO_HUGE_TLBFS);
	T_EQ(mmapio_page_size(m), hp);
	T_EQ((uintptr_t)mmapio__base(m) % (uintptr_t)hp, 0);
	T_OK(mmapio_resize(m, (uint64_t)hp));
	uint8_t v = 0x42, w = 0;
	T_EQ(mmapio_write(m, hp - 1, &v, 1), 1);
	T_EQ(mmapio_read(m, hp - 1, &w, 1), 1);
	T_EQ(w, v);
	T_OK(mmapio_flush(m));
	T_OK(mmapio_resize(m, 2 * (uint64_t)hp));
	T_EQ(mmapio_read(m, 2 * hp - 1, &w, 1), 1);
	T_OK(mmapio_close(m));
	/* on hugetlbfs the tier comes from the file system, even with OFF */
	o.flags = 0;
	o.huge = MMAPIO_HUGE_OFF;
	r = mmapio_open(&m, path, MMAPIO_RDONLY, &o);
	if (r == 0) {
		T_EQ(mmapio_page_size(m), hp);
		T_OK(mmapio_close(m));
	}
	unlink(path);
	T_OK(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_huge_off),
		cmocka_unit_test(test_huge_auto_regular_file),
		cmocka_unit_test(test_huge_auto_memfd),
		cmocka_unit_test(test_huge_tlbfs),
	};
	return cmocka_run_group_tests(tests, tu_group_setup, tu_group_teardown);
}
