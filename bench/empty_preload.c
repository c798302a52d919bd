/*
 * empty_preload.c - a library that does nothing, preloaded by bench_shim's
 * table 3 as the limit of what any LD_PRELOAD library costs a process
 * start (the loader finding, mapping and relocating one more object).
 */
int mmapio_bench_empty_preload;
