/*
 * log.c - one line per message on stderr, or appended to MMAPIO_LOG_FILE.
 *
 * The log file is opened for each message and closed again: a descriptor
 * held open would shift the numbers the program's own open() calls return.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include "shim.h"

void shim_log(int level, const char *fmt, ...)
{
	if (level > cfg.log_level)
		return;
	static const char *names[] = { "error", "warn", "info", "debug" };
	char line[1024];
	int e = errno;
	int n = snprintf(line, sizeof line, "mmapio[%d] %s: ", (int)getpid(), names[level]);
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	n += k < 0 ? 0 : k;
	if (n > (int)sizeof line - 2)
		n = (int)sizeof line - 2;
	line[n++] = '\n';

	int fd = 2;
	if (cfg.log_file)
		fd = REAL(open)(cfg.log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd >= 0) {
		ssize_t w = REAL(write)(fd, line, (size_t)n);
		(void)w;
		if (fd != 2)
			REAL(close)(fd);
	}
	errno = e;
}
