/*
 * fdtable.c - descriptor number -> open file description, without locks.
 *
 * An array of atomic pointers indexed by fd. Readers (every interposed
 * call) do one acquire load of the table and one of the entry; a NULL
 * entry means "not ours": pass the call through. Writers (open, dup,
 * close) hold files_lock().
 *
 * Sized from RLIMIT_NOFILE at start (capped so a huge limit does not cost
 * memory up front) and grown by doubling when a larger fd shows up. Old
 * arrays are never freed: a reader may still be looking at one. The
 * entries they hold are copied, so a stale array only ever answers for
 * fds that were open when it was current.
 *
 * Open file descriptions come from a pool and are never returned to
 * malloc, so a racing reader that loaded a pointer just before a close
 * still reads valid memory (see DEFER_UNMAP in files.c for the mapping).
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include "shim.h"

_Atomic(struct fdtab *) fdtab;
static int highwater = -1;
static struct ofd *free_list;

static struct fdtab *tab_new(size_t n, const struct fdtab *old)
{
	struct fdtab *t = calloc(1, sizeof *t + n * sizeof t->e[0]);
	if (!t)
		return NULL;
	t->n = n;
	if (old)
		for (size_t i = 0; i < old->n; i++)
			atomic_init(&t->e[i], atomic_load(&old->e[i]));
	return t;
}

void fdtable_init(void)
{
	struct rlimit rl;
	size_t n = 1024;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur > n)
		n = rl.rlim_cur > 65536 ? 65536 : (size_t)rl.rlim_cur;
	if (!atomic_load(&fdtab))
		atomic_store(&fdtab, tab_new(n, NULL));
}

int fd_put(int fd, struct ofd *o)
{
	struct fdtab *t = atomic_load(&fdtab);
	if (fd < 0)
		return -1;
	if (!t || (size_t)fd >= t->n) {
		size_t n = t ? t->n : 1024;
		while (n <= (size_t)fd)
			n *= 2;
		struct fdtab *nt = tab_new(n, t);
		if (!nt)
			return -1;
		atomic_store_explicit(&fdtab, nt, memory_order_release);
		t = nt;
	}
	atomic_store_explicit(&t->e[fd], o, memory_order_release);
	if (o && fd > highwater)
		highwater = fd;
	return 0;
}

struct ofd *fd_take(int fd)
{
	struct fdtab *t = atomic_load(&fdtab);
	if (fd < 0 || !t || (size_t)fd >= t->n)
		return NULL;
	return atomic_exchange(&t->e[fd], NULL);
}

int fd_highwater(void) { return highwater; }

struct ofd *ofd_alloc(void)
{
	struct ofd *o = free_list;
	if (o)
		free_list = o->next_free;
	else if (!(o = malloc(sizeof *o)))
		return NULL;
	memset(o, 0, sizeof *o);
	return o;
}

void ofd_free(struct ofd *o)
{
	free(o->path);
	o->path = NULL;
	o->file = NULL;
	o->next_free = free_list;
	free_list = o;
}
