#define _GNU_SOURCE
#include "confide_system.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <numa.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

int confide_pin_current_thread(const int *cpus, int count) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int i = 0; i < count; i++) {
        if (cpus[i] >= 0 && cpus[i] < CPU_SETSIZE) CPU_SET(cpus[i], &set);
    }
    return sched_setaffinity(0, sizeof(set), &set);
}

static int list_cpus(pid_t who, int *out, int capacity) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(who, sizeof(set), &set) != 0) return -1;
    int count = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE && count < capacity; cpu++) {
        if (CPU_ISSET(cpu, &set)) out[count++] = cpu;
    }
    return count;
}

int confide_current_thread_cpus(int *out, int capacity) { return list_cpus(0, out, capacity); }

int confide_process_cpus(int *out, int capacity) { return list_cpus(getpid(), out, capacity); }

int confide_thread_id(void) { return (int)syscall(SYS_gettid); }

int confide_numa_available(void) { return numa_available() >= 0 ? 1 : 0; }

void confide_numa_prefer_node(int node) {
    if (numa_available() >= 0 && node >= 0 && node <= numa_max_node()) numa_set_preferred(node);
}

int confide_return_large_blocks(int threshold) {
#ifdef M_MMAP_THRESHOLD
    return mallopt(M_MMAP_THRESHOLD, threshold) == 1;
#else
    (void)threshold;
    return 0;
#endif
}

int confide_sealed_memory_file(const char *name, const void *bytes, size_t count) {
    int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) return -1;
    const unsigned char *cursor = bytes;
    size_t left = count;
    while (left > 0) {
        ssize_t written = write(fd, cursor, left);
        if (written < 0 && errno == EINTR) continue;
        if (written <= 0) {
            int saved = errno;
            close(fd);
            errno = saved == 0 ? EIO : saved;
            return -1;
        }
        cursor += written;
        left -= (size_t)written;
    }
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}
