/*
 * prog_cancel: read, pread, readv, write and pwrite are cancellation points.
 * A thread loops on one of them on a file (served from the map under the
 * shim); the main thread cancels it and joins. The join must return with
 * PTHREAD_CANCELED, as without the shim; a watchdog (alarm, 20 s) turns a
 * thread that never sees the cancellation into a different output.
 */
#include "common.h"
#include <pthread.h>
#include <signal.h>

static int fd;
static volatile int started;

static void *loop(void *arg)
{
	int kind = (int)(intptr_t)arg;
	unsigned char buf[256];
	memset(buf, 7, sizeof buf);
	struct iovec v = { buf, sizeof buf };
	for (unsigned long i = 0;; i++) {
		off_t off = (off_t)(i * 4096 % (1 << 20));
		switch (kind) {
		case 0: if (pread(fd, buf, sizeof buf, off) < 0) return NULL; break;
		case 1: if (read(fd, buf, sizeof buf) == 0) lseek(fd, 0, SEEK_SET); break;
		case 2: if (readv(fd, &v, 1) == 0) lseek(fd, 0, SEEK_SET); break;
		case 3: if (pwrite(fd, buf, sizeof buf, off) < 0) return NULL; break;
		case 4: if (preadv(fd, &v, 1, off) < 0) return NULL; break;
		}
		started = 1;
	}
}

static void on_alarm(int sig)
{
	(void)sig;
	static const char m[] = "watchdog: the thread was not cancelled\n";
	ssize_t w = write(1, m, sizeof m - 1);
	(void)w;
	_exit(3);
}

int main(int argc, char **argv)
{
	t_init(argc, argv);
	mkfile("c.bin", 1 << 20, 51);
	fd = (int)CK(open("c.bin", O_RDWR), "open");
	signal(SIGALRM, on_alarm);
	static const char *const names[] = { "pread", "read", "readv", "pwrite", "preadv" };
	for (int k = 0; k < 5; k++) {
		pthread_t t;
		started = 0;
		alarm(20);
		CK(pthread_create(&t, NULL, loop, (void *)(intptr_t)k), "pthread_create (%s loop)", names[k]);
		while (!started)
			sched_yield();
		CK(pthread_cancel(t), "pthread_cancel");
		void *ret = NULL;
		CK(pthread_join(t, &ret), "pthread_join");
		SAY("  %s loop: %s\n", names[k], ret == PTHREAD_CANCELED ? "cancelled" : "returned");
		alarm(0);
	}
	CK(close(fd), "close");
	return 0;
}
