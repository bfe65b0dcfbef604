/* Thin wrappers over Linux scheduling and libnuma calls whose macros and variadic forms Swift cannot
   import. Every function returns -1 (or does nothing) when the facility is unavailable. */
#ifndef CONFIDE_SYSTEM_H
#define CONFIDE_SYSTEM_H

#include <stddef.h>

/** Pins the calling thread to the given CPUs. Returns 0, or -1 with errno set. */
int confide_pin_current_thread(const int *cpus, int count);

/** Writes the CPUs the calling thread may run on into `out` (up to `capacity`); returns how many, or -1. */
int confide_current_thread_cpus(int *out, int capacity);

/** Writes the CPUs the process may run on into `out` (up to `capacity`); returns how many, or -1. */
int confide_process_cpus(int *out, int capacity);

/** The calling thread's kernel thread id. */
int confide_thread_id(void);

/** Whether libnuma can be used on this machine (1) or not (0). */
int confide_numa_available(void);

/** Makes `node` the preferred node for the calling thread's future allocations (no-op without NUMA). */
void confide_numa_prefer_node(int node);

/**
 * Makes the C allocator serve every allocation of `threshold` bytes or more with its own mapping and return it
 * to the OS when freed (glibc's mmap threshold, fixed instead of growing with the largest block freed), so
 * that request and response buffers do not stay resident after a burst. Returns 1 when the allocator took the
 * setting, 0 otherwise.
 */
int confide_return_large_blocks(int threshold);

/**
 * Copies `count` bytes into a new anonymous memory file and seals it against every change (write, grow, shrink,
 * further seals), so that what is later opened through `/proc/self/fd/<fd>` is exactly these bytes. `name`
 * labels the file for debugging. Returns the descriptor (close-on-exec), or -1 with errno set.
 */
int confide_sealed_memory_file(const char *name, const void *bytes, size_t count);

#endif
