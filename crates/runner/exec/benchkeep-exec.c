/*
 * benchkeep-exec: starts one command over and over, the way GNU time does, and reports what each
 * execution cost.
 *
 * Why this is C and not Rust: Linux carries the spawning process's memory high-water mark into
 * the spawned process (exec records the old address space's peak in the process's maxrss). A
 * command that benchkeep spawned directly reported benchkeep's own peak memory whenever it was
 * larger than the command's: `true` read 7.5-16 MiB. The sound way is to spawn from a small
 * process, as GNU time does; a Rust helper would carry its own ~1.8 MiB (dynamically linked) into
 * every command, and benchkeep forbids the `unsafe` a smaller one would need. benchkeep-runner's
 * build script compiles this file with the C compiler Rust already links with, and the runner
 * writes it to a cache directory on first use (see src/exec_helper.rs).
 *
 * Usage: benchkeep-exec --serve VARIABLE INPUT PROGRAM [ARG...]
 *   Standard input is a socket. Each request on it is a line "run VALUE": the helper starts
 *   PROGRAM in a process group of its own, with standard input from the file INPUT (opened
 *   afresh for each execution, so each reads it from the start; /dev/null for none) and VARIABLE=VALUE
 *   added to its environment, says "started PID" (so that a timeout can kill that group), waits
 *   for it, and answers on the same socket with one line:
 *   "benchkeep-exec 1 status=S exec_errno=E wall_ns=W user_ns=U system_ns=Y maxrss_bytes=M"
 *   S is the raw wait status; E is the errno of a failed start (0 when the program started; a
 *   program that cannot start gets no "started" line). The
 *   helper stays running between executions, so each costs one process start, not two; it exits
 *   0 at the end of its input, and 125 when it fails itself (a message on stderr says why). On
 *   SIGTERM, and on Linux when benchkeep dies however it dies, it kills the running command's
 *   process group and exits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HELPER_FAILED 125
#define REQUEST_MAX 256

extern char **environ;

/* The command running now (it leads its own process group), for the SIGTERM handler. */
static volatile pid_t running = 0;

/* SIGTERM, and on Linux the death of benchkeep (PR_SET_PDEATHSIG): the command's group goes too,
 * so a benchkeep killed with SIGKILL leaves nothing running. */
static void terminated(int signal_number) {
    (void)signal_number;
    if (running > 0) kill(-running, SIGKILL);
    _exit(HELPER_FAILED);
}

static int end_with_benchkeep(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = terminated;
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGTERM, &action, NULL) != 0) return -1;
#ifdef __linux__
    pid_t parent = getppid();
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) return -1;
    /* benchkeep may have died before the request took effect. */
    if (getppid() != parent) terminated(SIGTERM);
#endif
    return 0;
}

static int fail(const char *what) {
    fprintf(stderr, "benchkeep-exec: %s: %s\n", what, strerror(errno));
    return HELPER_FAILED;
}

static long long nanos(struct timeval tv) {
    return (long long)tv.tv_sec * 1000000000LL + (long long)tv.tv_usec * 1000LL;
}

/* Reads one request line from standard input: 1 with a line, 0 at the end, -1 on an error.
 * Requests come one at a time (each waits for its answer), so a read returns a whole line; the
 * buffer keeps whatever follows a newline all the same. */
static int read_request(char *line, size_t size) {
    static char buffer[REQUEST_MAX];
    static size_t filled = 0;
    for (;;) {
        char *newline = memchr(buffer, '\n', filled);
        if (newline != NULL) {
            size_t length = (size_t)(newline - buffer);
            if (length >= size) {
                errno = EMSGSIZE;
                return -1;
            }
            memcpy(line, buffer, length);
            line[length] = '\0';
            filled -= length + 1;
            memmove(buffer, newline + 1, filled);
            return 1;
        }
        if (filled == sizeof buffer) {
            errno = EMSGSIZE;
            return -1;
        }
        ssize_t got = read(STDIN_FILENO, buffer + filled, sizeof buffer - filled);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return -1;
        if (got == 0) return filled == 0 ? 0 : -1;
        filled += (size_t)got;
    }
}

static int write_all(const char *text, size_t length) {
    while (length > 0) {
        ssize_t put = write(STDIN_FILENO, text, length);
        if (put < 0 && errno == EINTR) continue;
        if (put <= 0) return -1;
        text += put;
        length -= (size_t)put;
    }
    return 0;
}

/* This process's environment with VARIABLE=VALUE in place of any earlier VARIABLE. */
static char **environment_with(const char *assignment, size_t name_length) {
    size_t count = 0;
    while (environ[count] != NULL) count++;
    char **env = malloc((count + 2) * sizeof *env);
    if (env == NULL) return NULL;
    size_t kept = 0;
    for (size_t i = 0; i < count; i++) {
        if (strncmp(environ[i], assignment, name_length + 1) != 0) env[kept++] = environ[i];
    }
    env[kept++] = (char *)assignment;
    env[kept] = NULL;
    return env;
}

int main(int argc, char **argv) {
    if (argc < 5 || strcmp(argv[1], "--serve") != 0) {
        fputs("benchkeep-exec: usage: benchkeep-exec --serve VARIABLE INPUT PROGRAM [ARG...]\n",
              stderr);
        return HELPER_FAILED;
    }
    if (end_with_benchkeep() != 0) return fail("signal handling");
    const char *variable = argv[2];
    size_t name_length = strlen(variable);
    const char *input = argv[3];
    char **command = argv + 4;

    /* The command reads INPUT; the socket on standard input is this helper's alone. */
    posix_spawn_file_actions_t actions;
    if (posix_spawn_file_actions_init(&actions) != 0 ||
        posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, input, O_RDONLY, 0) != 0)
        return fail("posix_spawn_file_actions");
    /* Each execution leads a process group of its own, as a command started by a shell does:
     * `kill 0` in it, or `kill -- -$$`, reaches what it started and not this helper. */
    posix_spawnattr_t attributes;
    if (posix_spawnattr_init(&attributes) != 0 ||
        posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP) != 0 ||
        posix_spawnattr_setpgroup(&attributes, 0) != 0)
        return fail("posix_spawnattr");

    char request[REQUEST_MAX];
    char assignment[REQUEST_MAX * 2];
    for (;;) {
        int got = read_request(request, sizeof request);
        if (got == 0) return 0;
        if (got < 0) return fail("reading a request");
        if (strncmp(request, "run ", 4) != 0) {
            errno = EINVAL;
            return fail(request);
        }
        snprintf(assignment, sizeof assignment, "%s=%s", variable, request + 4);
        char **env = environment_with(assignment, name_length);
        if (env == NULL) return fail("malloc");

        struct timespec start, end;
        clock_gettime(CLOCK_MONOTONIC, &start);
        /* posix_spawnp: glibc and musl start the child with a vfork-style clone, so nothing of
         * this process is copied and exec's error comes back as the return value. At exec the
         * kernel records this small process's peak in the child, as GNU time's fork does with
         * its own; a fork from here read the same memory but 16% more time for `true`. */
        pid_t child;
        int exec_errno = posix_spawnp(&child, command[0], &actions, &attributes, command, env);
        free(env);
        if (exec_errno == 0) running = child;
        if (exec_errno == 0) {
            char started[64];
            int length = snprintf(started, sizeof started, "started %ld\n", (long)child);
            if (write_all(started, (size_t)length) != 0) return fail("writing a report");
        }
        int status = 0;
        struct rusage usage;
        memset(&usage, 0, sizeof usage);
        if (exec_errno == 0) {
            pid_t waited;
            do {
                waited = wait4(child, &status, 0, &usage);
            } while (waited < 0 && errno == EINTR);
            if (waited < 0) return fail("wait4");
            running = 0;
        }
        clock_gettime(CLOCK_MONOTONIC, &end);

        long long wall = exec_errno != 0 ? 0
            : (long long)(end.tv_sec - start.tv_sec) * 1000000000LL + (end.tv_nsec - start.tv_nsec);
#ifdef __APPLE__
        long long maxrss = (long long)usage.ru_maxrss; /* bytes on macOS */
#else
        long long maxrss = (long long)usage.ru_maxrss * 1024LL; /* KiB on Linux and the BSDs */
#endif
        char report[256];
        int length = snprintf(report, sizeof report,
                              "benchkeep-exec 1 status=%d exec_errno=%d wall_ns=%lld user_ns=%lld "
                              "system_ns=%lld maxrss_bytes=%lld\n",
                              status, exec_errno, wall, nanos(usage.ru_utime), nanos(usage.ru_stime),
                              maxrss);
        if (length < 0 || (size_t)length >= sizeof report || write_all(report, (size_t)length) != 0)
            return fail("writing a report");
    }
}
