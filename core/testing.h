/*
 * Test seams of the mapping core. Not installed, not exported from the
 * shared library: tests link libmmapio.a, where these symbols resolve.
 */
#ifndef MMAPIO_TESTING_H
#define MMAPIO_TESTING_H
#include <stdint.h>
#include "mmapio.h"

/*
 * Called for every msync() the flush code makes, with the range as a file
 * offset and length, after page rounding. NULL (the default) means no hook.
 */
extern void (*mmapio__msync_hook)(const mmapio_map *m, uint64_t off, uint64_t len);

/* Number of maps registered with the shared interval flusher, and whether its thread runs. */
int mmapio__flusher_maps(void);
int mmapio__flusher_running(void);

/* Base address of the mapping (for mincore() checks in tests). */
void *mmapio__base(const mmapio_map *m);
#endif
