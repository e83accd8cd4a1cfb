/* gb_kernel.c — io_uring fixed buffers through raw syscalls, /proc/vmstat FOLL_PIN counters,
 * and the CAP_IPC_LOCK fact that decides whether registration is charged to RLIMIT_MEMLOCK (read
 * by gb_limits.c). */
#define _GNU_SOURCE
#include "gb_kernel.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/io_uring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

int gb_io_uring_setup(unsigned entries) {
    struct io_uring_params params;
    memset(&params, 0, sizeof params);
    long fd = syscall(__NR_io_uring_setup, entries, &params);
    return fd < 0 ? -errno : (int)fd;
}

int gb_io_uring_register_buffers(int ring_fd, void *addr, size_t len) {
    if (len == 0 || len % 4096 != 0)
        return -EINVAL;
    size_t n = (len + GB_IORING_MAX_IOVEC_BYTES - 1) / GB_IORING_MAX_IOVEC_BYTES;
    if (n > GB_IORING_MAX_BUFFERS)
        return -EINVAL;
    struct iovec *iov = calloc(n, sizeof *iov);
    if (!iov)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        size_t off = i * GB_IORING_MAX_IOVEC_BYTES;
        iov[i].iov_base = (char *)addr + off;
        iov[i].iov_len = len - off < GB_IORING_MAX_IOVEC_BYTES ? len - off : GB_IORING_MAX_IOVEC_BYTES;
    }
    long rc = syscall(__NR_io_uring_register, ring_fd, IORING_REGISTER_BUFFERS, iov, (unsigned)n);
    int e = errno;
    free(iov);
    return rc < 0 ? -e : 0;
}

int gb_io_uring_unregister_buffers(int ring_fd) {
    long rc = syscall(__NR_io_uring_register, ring_fd, IORING_UNREGISTER_BUFFERS, NULL, 0);
    return rc < 0 ? -errno : 0;
}

int gb_close_fd(int fd) { return close(fd) == 0 ? 0 : -errno; }

int gb_vmstat_foll_pins(uint64_t *acquired, uint64_t *released) {
    FILE *f = fopen("/proc/vmstat", "re");
    if (!f)
        return -errno;
    char line[128];
    int found = 0;
    unsigned long long v;
    while (found != 3 && fgets(line, sizeof line, f)) {
        if (sscanf(line, "nr_foll_pin_acquired %llu", &v) == 1) {
            *acquired = v;
            found |= 1;
        } else if (sscanf(line, "nr_foll_pin_released %llu", &v) == 1) {
            *released = v;
            found |= 2;
        }
    }
    fclose(f);
    return found == 3 ? 0 : -ENOENT;
}

int gb_vmstat_refresh(void) {
    /* kernel: mm/vmstat.c vmstat_refresh() — any write folds every CPU's diffs. */
    int fd = open("/proc/sys/vm/stat_refresh", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = write(fd, "1\n", 2) == 2 ? 0 : -errno;
    close(fd);
    return rc;
}

/* capget/capset on the calling thread (pid 0), 64-bit capability sets (version 3). */
static int caps_get(struct __user_cap_data_struct data[2]) {
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    return syscall(SYS_capget, &hdr, data) == 0 ? 0 : -errno;
}

int gb_thread_has_cap_ipc_lock(void) {
    struct __user_cap_data_struct data[2];
    int rc = caps_get(data);
    if (rc != 0)
        return rc;
    return (data[CAP_TO_INDEX(CAP_IPC_LOCK)].effective & CAP_TO_MASK(CAP_IPC_LOCK)) != 0;
}

int gb_thread_drop_cap_ipc_lock(void) {
    struct __user_cap_data_struct data[2];
    int rc = caps_get(data);
    if (rc != 0)
        return rc;
    data[CAP_TO_INDEX(CAP_IPC_LOCK)].effective &= ~CAP_TO_MASK(CAP_IPC_LOCK);
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    return syscall(SYS_capset, &hdr, data) == 0 ? 0 : -errno;
}
