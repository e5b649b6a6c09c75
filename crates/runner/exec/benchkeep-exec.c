/*
 * benchkeep-exec: runs one command the way GNU time does, and reports what it cost.
 *
 * Why this is C and not Rust: Linux carries the spawning process's memory high-water mark into
 * the spawned process (exec records the old address space's peak in the process's maxrss). A
 * command that benchkeep spawned directly would report benchkeep's own peak memory whenever it
 * was larger than the command's: `true` read 7.5-16 MiB. The sound way is to spawn from a small
 * process, as GNU time does; a Rust helper would carry its own ~1.8 MiB (dynamically linked) into
 * every command, and benchkeep forbids the `unsafe` a smaller one would need. This file is the
 * whole helper: posix_spawnp, wait4, write one line. benchkeep-runner's build script
 * compiles it with the C compiler Rust already links with, and the runner writes it to a cache
 * directory on first use (see src/exec_helper.rs).
 *
 * Usage: benchkeep-exec REPORT PROGRAM [ARG...]
 *   REPORT is an existing file, truncated and given one line:
 *   "benchkeep-exec 1 status=S exec_errno=E wall_ns=W user_ns=U system_ns=Y maxrss_bytes=M"
 *   S is the raw wait status; E is the errno of a failed exec (0 when the program started).
 * Exit status: 0 when the report was written, 125 when this helper itself failed (a message on
 * stderr says why).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HELPER_FAILED 125

extern char **environ;

static int fail(const char *what) {
    fprintf(stderr, "benchkeep-exec: %s: %s\n", what, strerror(errno));
    return HELPER_FAILED;
}

static long long nanos(struct timeval tv) {
    return (long long)tv.tv_sec * 1000000000LL + (long long)tv.tv_usec * 1000LL;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fputs("benchkeep-exec: usage: benchkeep-exec REPORT PROGRAM [ARG...]\n", stderr);
        return HELPER_FAILED;
    }
    int report = open(argv[1], O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (report < 0) return fail(argv[1]);
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    /* posix_spawnp: glibc and musl start the child with a vfork-style clone, so nothing of this
     * process is copied and exec's error comes back as the return value. At exec the kernel
     * records this (statically linked, ~1 MiB) process's peak in the child, as GNU time's fork
     * does with its own. */
    pid_t child;
    int exec_errno = posix_spawnp(&child, argv[2], NULL, NULL, argv + 2, environ);
    if (exec_errno != 0) {
        if (dprintf(report,
                    "benchkeep-exec 1 status=0 exec_errno=%d wall_ns=0 user_ns=0 system_ns=0 "
                    "maxrss_bytes=0\n",
                    exec_errno) < 0)
            return fail(argv[1]);
        return close(report) == 0 ? 0 : fail(argv[1]);
    }

    int status = 0;
    struct rusage usage;
    pid_t waited;
    do {
        waited = wait4(child, &status, 0, &usage);
    } while (waited < 0 && errno == EINTR);
    clock_gettime(CLOCK_MONOTONIC, &end);
    if (waited < 0) return fail("wait4");

    long long wall = (long long)(end.tv_sec - start.tv_sec) * 1000000000LL + (end.tv_nsec - start.tv_nsec);
#ifdef __APPLE__
    long long maxrss = (long long)usage.ru_maxrss; /* bytes on macOS */
#else
    long long maxrss = (long long)usage.ru_maxrss * 1024LL; /* KiB on Linux and the BSDs */
#endif
    if (dprintf(report,
                "benchkeep-exec 1 status=%d exec_errno=%d wall_ns=%lld user_ns=%lld system_ns=%lld "
                "maxrss_bytes=%lld\n",
                status, exec_errno, wall, nanos(usage.ru_utime), nanos(usage.ru_stime), maxrss) < 0)
        return fail(argv[1]);
    if (close(report) != 0) return fail(argv[1]);
    return 0;
}
