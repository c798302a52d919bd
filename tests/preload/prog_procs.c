/*
 * prog_procs: descriptors shared with other processes.
 * fork (child reads first, then parent; strict ping-pong on one shared
 * offset; child writes in place and extends; child truncates through its own
 * descriptor; child leaving with _exit), exec of prog_execchild through every
 * exec entry point (execv/execl/execle/execlp/execvp/execvpe/execve/fexecve/
 * execveat, also after vfork) continuing on the inherited descriptor,
 * O_CLOEXEC descriptors vanishing at exec, posix_spawn/posix_spawnp (plain,
 * with adddup2/addclose), system() and popen(), and passing a descriptor to
 * another process with SCM_RIGHTS.
 */
#include "common.h"
#include <limits.h>
#include <spawn.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/wait.h>

extern char **environ;

static char helper[PATH_MAX + 64];
static char helper_dir[PATH_MAX + 64];
static const char *helper_name;

static void sec(const char *s) { printf("== %s\n", s); }

/* A one-byte message with room for one descriptor (SCM_RIGHTS). */
static struct msghdr scm_msg(struct iovec *iov, char *cbuf, size_t cap)
{
	struct msghdr mh = {0};
	mh.msg_iov = iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = cap;
	return mh;
}

static void find_helper(void)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0) {
		printf("cannot find own path\n");
		exit(3);
	}
	self[n] = 0;
	const char *suffix = strstr(self, ".fortify") ? ".fortify" : "";
	char *slash = strrchr(self, '/');
	*slash = 0;
	snprintf(helper_dir, sizeof helper_dir, "%s", self);
	snprintf(helper, sizeof helper, "%s/prog_execchild%s", self, suffix);
	helper_name = strrchr(helper, '/') + 1;
	if (access(helper, X_OK) != 0) {
		printf("helper prog_execchild%s missing\n", suffix);
		exit(3);
	}
}

static void waitfor(pid_t pid, const char *what)
{
	int st = 0;
	pid_t r = waitpid(pid, &st, 0);
	if (r != pid)
		printf("  %s: waitpid failed %s\n", what, ename(errno));
	else if (WIFEXITED(st))
		printf("  %s: exit %d\n", what, WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		printf("  %s: killed by signal %d\n", what, WTERMSIG(st));
	else
		printf("  %s: status %#x\n", what, st);
}

/* posix_spawn(p) the helper with args, wait for it, say what spawn returned. */
static void spawn_wait(bool by_path, const posix_spawn_file_actions_t *fa, char **args, const char *what)
{
	pid_t pid;
	fflush(stdout);
	int r = by_path ? posix_spawnp(&pid, helper_name, fa, NULL, args, environ)
			: posix_spawn(&pid, helper, fa, NULL, args, environ);
	if (r == 0)
		waitfor(pid, "spawned");
	SAY("%s = %d\n", what, r);
}

static void tok_send(int fd)
{
	char c = 't';
	if (write(fd, &c, 1) != 1)
		printf("token write failed\n");
}

static void tok_wait(int fd)
{
	char c;
	if (read(fd, &c, 1) != 1)
		printf("token read failed\n");
}

/* fork, exec the helper with the given exec flavour; parent waits. */
static void exec_case(const char *how, int fd)
{
	char fds[16];
	snprintf(fds, sizeof fds, "%d", fd);
	char *args[] = {(char *)helper_name, (char *)how, fds, "r500", "s", "p64@0", NULL};
	char *pargs[] = {(char *)helper, (char *)how, fds, "r500", "s", "p64@0", NULL};
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		if (!strcmp(how, "execv"))
			execv(helper, pargs);
		else if (!strcmp(how, "execve"))
			execve(helper, pargs, environ);
		else if (!strcmp(how, "execl"))
			execl(helper, helper, how, fds, "r500", "s", "p64@0", (char *)NULL);
		else if (!strcmp(how, "execle"))
			execle(helper, helper, how, fds, "r500", "s", "p64@0", (char *)NULL, environ);
		else if (!strcmp(how, "execlp"))
			execlp(helper_name, helper_name, how, fds, "r500", "s", "p64@0", (char *)NULL);
		else if (!strcmp(how, "execvp"))
			execvp(helper_name, args);
		else if (!strcmp(how, "execvpe"))
			execvpe(helper_name, args, environ);
		else if (!strcmp(how, "fexecve")) {
			int efd = open(helper, O_RDONLY | O_CLOEXEC);
			fexecve(efd, pargs, environ);
		} else if (!strcmp(how, "execveat")) {
			int dfd = open(helper_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
			execveat(dfd, helper_name, pargs, environ, 0);
		}
		printf("  %s failed: %s\n", how, ename(errno));
		_exit(127);
	}
	waitfor(pid, how);
}

int main(int argc, char **argv)
{
	t_init(argc, argv);
	find_helper();
	{
		/* PATH search for execlp/execvp/execvpe finds the helper first */
		const char *old = getenv("PATH");
		char *np = malloc(strlen(helper_dir) + (old ? strlen(old) : 0) + 2);
		sprintf(np, "%s:%s", helper_dir, old ? old : "/usr/bin:/bin");
		setenv("PATH", np, 1);
		free(np);
	}
	mkfile("p.bin", 50000, 31);
	int fd, p1[2], p2[2];

	sec("fork: child reads first, then parent");
	fd = (int)CK(open("p.bin", O_RDONLY), "open");
	rd(fd, 100, "parent before fork");
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		state("child start", fd);
		rd(fd, 200, "child");
		state("child", fd);
		prd(fd, 10, 49995, "child");
		exit(0);
	}
	waitfor(pid, "child");
	state("parent after child", fd);
	rd(fd, 100, "parent");
	state("parent", fd);

	sec("fork: parent moves, child observes");
	fflush(stdout);
	CK(pipe(p1), "pipe");
	pid = fork();
	if (pid == 0) {
		tok_wait(p1[0]);
		state("child sees parent's reads", fd);
		rd(fd, 10, "child");
		exit(0);
	}
	rd(fd, 1000, "parent after fork");
	CK(lseek(fd, 50, SEEK_CUR), "parent lseek CUR+50");
	rd(fd, 1, "parent");
	fflush(stdout);
	tok_send(p1[1]);
	waitfor(pid, "child");
	state("parent", fd);
	close(p1[0]);
	close(p1[1]);

	sec("fork: ping-pong on one offset");
	CK(pipe(p1), "pipe");
	CK(pipe(p2), "pipe");
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		for (int i = 0; i < 5; i++) {
			tok_wait(p1[0]);
			rd(fd, 37, "  child");
			state("child", fd);
			tok_send(p2[1]);
		}
		exit(0);
	}
	for (int i = 0; i < 5; i++) {
		tok_send(p1[1]);
		tok_wait(p2[0]);
		rd(fd, 41, "  parent");
		state("parent", fd);
	}
	waitfor(pid, "child");
	state("parent", fd);
	close(p1[0]);
	close(p1[1]);
	close(p2[0]);
	close(p2[1]);

	sec("fork: child leaves with _exit");
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		unsigned char b[100];
		ssize_t k = read(fd, b, sizeof b);
		_exit(k == 100 ? 0 : 1);
	}
	waitfor(pid, "child");
	state("parent", fd);
	rd(fd, 10, "parent");
	CK(close(fd), "close");

	sec("fork: child writes in place and extends");
	mkfile("pw.bin", 8000, 32);
	fd = (int)CK(open("pw.bin", O_RDWR), "open RDWR");
	rd(fd, 100, "parent");
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		CK(pwrite(fd, "child-was-here", 14, 10), "  child pwrite in place");
		CK(write(fd, "child-write-at-100", 18), "  child write at shared offset");
		CK(lseek(fd, 0, SEEK_END), "  child lseek END");
		CK(write(fd, "child-extends-the-file", 22), "  child write extending");
		state("child", fd);
		exit(0);
	}
	waitfor(pid, "child");
	state("parent", fd);
	prd(fd, 40, 0, "parent");
	prd(fd, 40, 7990, "parent");
	CK(lseek(fd, 100, SEEK_SET), "parent lseek 100");
	rd(fd, 18, "parent");
	CK(write(fd, "parent-after", 12), "parent write in place");
	whole("pw", fd);

	sec("fork: child shrinks the file through its own descriptor");
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int o = open("pw.bin", O_RDWR);
		CK(ftruncate(o, 3000), "  child ftruncate 3000");
		CK(close(o), "  child close");
		exit(0);
	}
	waitfor(pid, "child");
	state("parent", fd);
	prd(fd, 100, 2950, "parent straddling");
	prd(fd, 100, 5000, "parent past EOF");
	rd(fd, 100, "parent read at old offset");
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int o = open("pw.bin", O_WRONLY | O_APPEND);
		unsigned char b[9000];
		gen(b, sizeof b, 33, 0);
		CK(write(o, b, sizeof b), "  child appends 9000");
		CK(close(o), "  child close");
		exit(0);
	}
	waitfor(pid, "child");
	state("parent", fd);
	prd(fd, 100, 11950, "parent new tail");
	whole("pw", fd);
	CK(close(fd), "close");

	sec("exec: every entry point continues on the inherited offset");
	fd = (int)CK(open("p.bin", O_RDONLY), "open");
	static const char *hows[] = {"execv", "execve", "execl", "execle", "execlp",
								 "execvp", "execvpe", "fexecve", "execveat"};
	for (size_t i = 0; i < sizeof hows / sizeof hows[0]; i++) {
		rd(fd, 1000, "parent");
		exec_case(hows[i], fd);
		state("parent after exec child", fd);
	}
	CK(lseek(fd, 123, SEEK_SET), "parent lseek 123");
	exec_case("execv", fd);
	state("parent", fd);
	prd(fd, 64, 0, "parent");
	{
		int c = (int)CK(open("p.bin", O_RDONLY | O_CLOEXEC), "open CLOEXEC");
		rd(c, 10, "parent");
		exec_case("execv", c);
		state("parent", c);
		CK(close(c), "close");
	}
	{
		mkfile("pe.bin", 3000, 34);
		int w = (int)CK(open("pe.bin", O_RDWR), "open RDWR");
		CK(write(w, "parent-wrote-this", 17), "parent write");
		char ws[16];
		snprintf(ws, sizeof ws, "%d", w);
		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			execl(helper, helper, "after-write", ws, "s", "r20", "w30", "s", (char *)NULL);
			_exit(127);
		}
		waitfor(pid, "exec child");
		state("parent", w);
		whole("pe", w);
		CK(close(w), "close");
	}

	sec("vfork + execv");
	rd(fd, 10, "parent");
	{
		char fds[16];
		snprintf(fds, sizeof fds, "%d", fd);
		char *args[] = {helper, "vfork", fds, "r100", "s", NULL};
		fflush(stdout);
		pid = vfork();
		if (pid == 0) {
			execv(helper, args);
			_exit(127);
		}
		waitfor(pid, "vfork child");
		state("parent", fd);
	}

	sec("posix_spawn");
	{
		char fds[16];
		snprintf(fds, sizeof fds, "%d", fd);
		rd(fd, 10, "parent");
		char *args[] = {helper, "posix_spawn", fds, "r300", "s", NULL};
		spawn_wait(false, NULL, args, "posix_spawn");
		state("parent", fd);
		rd(fd, 10, "parent");

		char *args2[] = {(char *)helper_name, "posix_spawnp", fds, "r300", "s", NULL};
		spawn_wait(true, NULL, args2, "posix_spawnp");
		state("parent", fd);
		rd(fd, 10, "parent");

		posix_spawn_file_actions_t fa;
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_adddup2(&fa, fd, 10);
		char *args3[] = {helper, "spawn-dup2", "10", "r300", "s", NULL};
		spawn_wait(false, &fa, args3, "posix_spawn adddup2");
		posix_spawn_file_actions_destroy(&fa);
		state("parent", fd);

		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_addclose(&fa, fd);
		char *args4[] = {helper, "spawn-close", fds, "r300", NULL};
		spawn_wait(false, &fa, args4, "posix_spawn addclose");
		posix_spawn_file_actions_destroy(&fa);
		state("parent", fd);

		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_addopen(&fa, 11, "p.bin", O_RDONLY, 0);
		char *args5[] = {helper, "spawn-open", "11", "r300", "s", NULL};
		spawn_wait(false, &fa, args5, "posix_spawn addopen");
		posix_spawn_file_actions_destroy(&fa);
		state("parent", fd);
	}

	sec("system / popen");
	{
		char cmd[PATH_MAX + 200];
		rd(fd, 10, "parent");
		snprintf(cmd, sizeof cmd, "%s system %d r200 s", helper, fd);
		fflush(stdout);
		int r = system(cmd);
		SAY("system = %d\n", r);
		state("parent", fd);
		rd(fd, 10, "parent");
		snprintf(cmd, sizeof cmd, "%s popen %d r200 s", helper, fd);
		fflush(stdout);
		FILE *pp = popen(cmd, "r");
		if (pp) {
			char line[512];
			while (fgets(line, sizeof line, pp))
				printf("  (via popen) %s", line);
			SAY("pclose = %d\n", pclose(pp));
		}
		state("parent", fd);
		rd(fd, 10, "parent");
	}

	sec("SCM_RIGHTS");
	{
		int sv[2];
		CK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), "socketpair");
		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			close(sv[0]);
			char c;
			char cbuf[CMSG_SPACE(sizeof(int))];
			struct iovec iov = {&c, 1};
			struct msghdr mh = scm_msg(&iov, cbuf, sizeof cbuf);
			ssize_t k = recvmsg(sv[1], &mh, 0);
			struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
			if (k != 1 || !cm || cm->cmsg_type != SCM_RIGHTS) {
				printf("  child: no fd received\n");
				exit(1);
			}
			int got;
			memcpy(&got, CMSG_DATA(cm), sizeof got);
			state("child received", got);
			rd(got, 50, "  child");
			state("child", got);
			tok_send(sv[1]);
			exit(0);
		}
		close(sv[1]);
		int x = (int)CK(open("p.bin", O_RDONLY), "parent opens after fork");
		rd(x, 100, "parent");
		char c = 'f';
		char cbuf[CMSG_SPACE(sizeof(int))];
		memset(cbuf, 0, sizeof cbuf);
		struct iovec iov = {&c, 1};
		struct msghdr mh = scm_msg(&iov, cbuf, sizeof cbuf);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &x, sizeof x);
		fflush(stdout);
		errno = 0;
		ssize_t sm = sendmsg(sv[0], &mh, 0);
		int se = errno;
		tok_wait(sv[0]);
		report(sm, se, "sendmsg");
		waitfor(pid, "child");
		state("parent", x);
		rd(x, 10, "parent");
		CK(close(x), "close");
		CK(close(sv[0]), "close");
	}
	CK(close(fd), "close");
	SAY("done\n");
	return 0;
}
