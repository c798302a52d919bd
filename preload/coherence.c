/*
 * coherence.c - noticing size changes made by other processes.
 *
 * A map does not tell us that another process truncated the file: pages
 * wholly past the new end fault (and the core recovers), but the page
 * holding the new end keeps answering, with zeros past it. read(2) would
 * have returned a short count. Asking the kernel (fstat) on every read
 * would cost the syscall the map exists to save.
 *
 * So the shim instances of one user share a table of generation counters
 * in /dev/shm, one 64-bit slot per hash of (dev, ino). Every size change
 * a shim instance makes or sees (ftruncate, truncate, O_TRUNC, a write or
 * copy that extends the file) bumps the file's slot after the change; a
 * served read or write compares the slot with the value it saw last (one
 * load) and refreshes the size when it moved. Collisions only cost a
 * spurious refresh.
 *
 * Covered: every process running under the shim (a process tree started by
 * mmapio-run). Not covered: a process without the shim changing the file;
 * there the map notices at the next fault, short read or refresh.
 * The table is mapped when first needed (the first file the shim tracks,
 * or the first size change it publishes), not at start: a process that
 * never tracks a file (most short-lived ones) skips the six system calls
 * (12-24 us of the constructor, 2026-11-30). Its descriptor is
 * closed at once: no fd of the program's is taken. Without /dev/shm, a
 * private table is used and only fork children share it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "shim.h"

#define GEN_SLOTS 8192 /* 64 KiB */

static _Atomic uint64_t private_table[1]; /* before init: one slot, always 0 */
_Atomic uint64_t *gen_table = private_table;
static uint32_t gen_mask;

static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_open(void)
{
	int saved = errno; /* inside a call the program made: its errno stays its own */
	char path[64];
	size_t len = GEN_SLOTS * sizeof(uint64_t);
	snprintf(path, sizeof path, "/dev/shm/mmapio-gen-%u", (unsigned)getuid());
	void *p = MAP_FAILED;
	int fd = REAL(open)(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0) {
		struct stat st;
		/* Only our own, private file: never one another user planted. */
		if (fstat(fd, &st) == 0 && st.st_uid == getuid() && S_ISREG(st.st_mode) &&
		    (st.st_size == (off_t)len || REAL(ftruncate)(fd, (off_t)len) == 0))
			p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		REAL(close)(fd);
	}
	if (p == MAP_FAILED)
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p != MAP_FAILED) { /* else keep the one-slot table: nothing is shared */
		gen_table = p;
		gen_mask = GEN_SLOTS - 1;
	}
	errno = saved;
}

/* Every slot is computed here first: the table is mapped before any use. */
uint32_t coherence_slot(dev_t dev, ino_t ino)
{
	pthread_once(&table_once, table_open);
	uint64_t h = (uint64_t)ino * 0x9E3779B97F4A7C15ULL ^ (uint64_t)dev * 0xC2B2AE3D27D4EB4FULL;
	return (uint32_t)(h >> 40) & gen_mask;
}

void coherence_bump(uint32_t slot)
{
	atomic_fetch_add_explicit(&gen_table[slot], 1, memory_order_release);
}

void coherence_bump_stat(const struct stat *st)
{
	coherence_bump(coherence_slot(st->st_dev, st->st_ino));
}
