/*
 * iov.h - reading a caller's iovec array safely.
 *
 * The array itself is user memory: a bad pointer must give the kernel's
 * EFAULT, not a crash in the shim. We copy it with the core's fault-safe
 * copy and let the kernel handle anything unusual (bad count, too many
 * vectors, lengths adding past SSIZE_MAX).
 */
#ifndef MMAPIO_IOV_H
#define MMAPIO_IOV_H
#include <limits.h>
#include <sys/uio.h>
#include "shim.h"

#define SHIM_IOV_MAX 64 /* more vectors than this: the kernel serves the call */

/* Copy iov[0..cnt) to dst and sum the lengths; false: let the kernel answer. */
static inline bool iov_load(const struct iovec *iov, int cnt, struct iovec *dst, size_t *total)
{
	if (cnt <= 0 || cnt > SHIM_IOV_MAX)
		return false;
	if (mmapio_copy(dst, iov, (size_t)cnt * sizeof *iov, NULL) < 0)
		return false;
	size_t sum = 0;
	for (int i = 0; i < cnt; i++) {
		if (__builtin_add_overflow(sum, dst[i].iov_len, &sum) || sum > SSIZE_MAX)
			return false;
	}
	*total = sum;
	return true;
}
#endif
