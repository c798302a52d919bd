/*
 * prog_locks: calls that see a descriptor's file offset other than read,
 * write and lseek, and raw system calls.
 *  - raw read syscalls (syscall(SYS_read), which no preload sees) move the
 *    kernel's offset; libc's lseek must then report it, and the next read()
 *    continue from there;
 *  - fcntl record locks and OFD locks with l_whence = SEEK_CUR, and lockf(),
 *    are placed relative to the offset: another process (F_GETLK) and
 *    another description (F_OFD_GETLK) must see them where the program put
 *    them after lseek() and read();
 *  - ioctl(FIONREAD) answers size - offset;
 *  - /proc/self/fdinfo/N shows the offset.
 * Prints every result; a child prints what it sees and exits.
 */
#include "common.h"
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define SIZE (64 * 1024)

static void sec(const char *s) { printf("== %s\n", s); }

/* The lock another description sees over [start, start + len), if any. */
static void who_locks(int fd, int cmd, off_t start, off_t len, const char *tag)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = start, .l_len = len };
	long long r = CK(fcntl(fd, cmd, &fl), "%s GETLK [%lld, +%lld)", tag, (long long)start,
			 (long long)len);
	if (r == 0)
		printf("  %s: type %s start %lld len %lld\n", tag,
		       fl.l_type == F_UNLCK ? "unlocked" : fl.l_type == F_WRLCK ? "write" : "read",
		       (long long)fl.l_start, (long long)fl.l_len);
}

static void fdinfo_pos(int fd)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
	int f = open(path, O_RDONLY);
	ssize_t n = f >= 0 ? read(f, buf, sizeof buf - 1) : -1;
	if (f >= 0)
		close(f);
	buf[n > 0 ? n : 0] = 0;
	char *p = strstr(buf, "pos:");
	printf("  fdinfo %.*s\n", p ? (int)strcspn(p, "\n") : 4, p ? p : "none");
}

int main(int argc, char **argv)
{
	t_init(argc, argv);
	mkfile("l.bin", SIZE, 31);
	unsigned char buf[8192];

	sec("raw system calls before libc");
	int fd = (int)CK(open("l.bin", O_RDWR), "open");
	CK(syscall(SYS_read, fd, buf, 100), "syscall(SYS_read, 100)");
	CK(syscall(SYS_read, fd, buf, 100), "syscall(SYS_read, 100)");
	CK(lseek(fd, 0, SEEK_CUR), "lseek(CUR) after raw reads");
	rd(fd, 300, "then read()");
	CK(lseek(fd, 0, SEEK_CUR), "lseek(CUR)");
	for (int i = 0; i < 4; i++)
		rd(fd, 4096, "read");
	state("l", fd);

	sec("record locks relative to the offset");
	CK(lseek(fd, 12288, SEEK_SET), "lseek(12288)");
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_CUR, .l_start = -1000, .l_len = 50 };
	CK(fcntl(fd, F_SETLK, &fl), "F_SETLK SEEK_CUR -1000 +50");
	rd(fd, 2000, "read");
	struct flock fl2 = { .l_type = F_WRLCK, .l_whence = SEEK_CUR, .l_start = 100, .l_len = 10 };
	CK(fcntl(fd, F_SETLKW, &fl2), "F_SETLKW SEEK_CUR +100 +10");
	CK(lseek(fd, 20480, SEEK_SET), "lseek(20480)");
	CK(lockf(fd, F_LOCK, 4096), "lockf(F_LOCK, 4096)");
	rd(fd, 1000, "read");
	CK(lockf(fd, F_TLOCK, 16), "lockf(F_TLOCK, 16)");
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		int c = open("l.bin", O_RDONLY);
		who_locks(c, F_GETLK, 0, SIZE, "child: first lock");
		who_locks(c, F_GETLK, 11200, 200, "child: around 11288");
		who_locks(c, F_GETLK, 14300, 200, "child: around 14388");
		who_locks(c, F_GETLK, 20000, 1000, "child: around 20480");
		who_locks(c, F_GETLK, 24400, 1000, "child: after 24575");
		who_locks(c, F_GETLK, 21400, 100, "child: around 21480");
		/* A lock query relative to the child's own offset, after reads. */
		rd(c, 4096, "child read");
		CK(lseek(c, 12288, SEEK_SET), "child lseek(12288)");
		struct flock q = { .l_type = F_WRLCK, .l_whence = SEEK_CUR, .l_start = -1000, .l_len = 50 };
		CK(fcntl(c, F_GETLK, &q), "child F_GETLK SEEK_CUR -1000 +50");
		printf("  child: type %s start %lld len %lld\n", q.l_type == F_UNLCK ? "unlocked" : "locked",
		       (long long)q.l_start, (long long)q.l_len);
		fflush(stdout);
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	SAY("child exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	CK(lockf(fd, F_ULOCK, 0), "lockf(F_ULOCK, 0) from here");

	/* The fork shared fd's description with the child: from here on,
	 * descriptions opened after it (a shared one is the kernel's). */
	CK(close(fd), "close");
	fd = (int)CK(open("l.bin", O_RDWR), "open again");
	rd(fd, 100, "read");

	sec("open file description locks");
	int other = (int)CK(open("l.bin", O_RDONLY), "open another");
	CK(lseek(fd, 30000, SEEK_SET), "lseek(30000)");
	rd(fd, 500, "read");
	struct flock ofd = { .l_type = F_WRLCK, .l_whence = SEEK_CUR, .l_start = -30, .l_len = 20 };
	CK(fcntl(fd, F_OFD_SETLK, &ofd), "F_OFD_SETLK SEEK_CUR -30 +20");
	who_locks(other, F_OFD_GETLK, 30400, 200, "other description");
	rd(other, 8000, "other read");
	struct flock q = { .l_type = F_RDLCK, .l_whence = SEEK_CUR, .l_start = 22470, .l_len = 1 };
	CK(fcntl(other, F_OFD_GETLK, &q), "other F_OFD_GETLK SEEK_CUR +22470 +1");
	printf("  other: type %s start %lld len %lld pid %d\n", q.l_type == F_UNLCK ? "unlocked" : "locked",
	       (long long)q.l_start, (long long)q.l_len, q.l_pid);

	sec("FIONREAD and fdinfo");
	CK(lseek(fd, 1000, SEEK_SET), "lseek(1000)");
	rd(fd, 100, "read");
	int avail = -1;
	CK(ioctl(fd, FIONREAD, &avail), "ioctl(FIONREAD)");
	SAY("  FIONREAD %d\n", avail);
	rd(fd, 4000, "read");
	fdinfo_pos(fd);
	CK(lseek(fd, 7, SEEK_CUR), "lseek(CUR +7)");
	fdinfo_pos(fd);
	CK(close(other), "close another");
	CK(close(fd), "close");
	return 0;
}
