/* SPDX-License-Identifier: Apache-2.0 */
/* testing.h: the in-tree unit test harness. Each case runs in a forked
 * child with a time limit, so a crash or hang fails one case, not the file.
 *
 *   static void test_foo(void) { NT_EQ_INT(1 + 1, 2); }
 *   int main(void) {
 *       static const struct nt_case cases[] = { NT_CASE(test_foo), {0} };
 *       return nt_run(cases);
 *   }
 *
 * NT_ONLY=name runs a single case; NT_NOFORK=1 runs in-process (debugger);
 * NT_TIMEOUT_S=n replaces the per-case limit (a long sweep whose ctest
 * TIMEOUT is the real bound). */
#ifndef NAOS_BASE_TESTING_H
#define NAOS_BASE_TESTING_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct nt_case {
    const char *name;
    void (*fn)(void);
};
#define NT_CASE(f) {#f, f}
#define NT_TIMEOUT_S 60

#define NT_FAIL(...)                                                         \
    do {                                                                     \
        fprintf(stderr, "  FAIL %s:%d: ", __FILE__, __LINE__);               \
        fprintf(stderr, __VA_ARGS__);                                        \
        fprintf(stderr, "\n");                                               \
        exit(1);                                                             \
    } while (0)
#define NT_TRUE(c)                                                           \
    do {                                                                     \
        if (!(c))                                                            \
            NT_FAIL("expected true: %s", #c);                                \
    } while (0)
#define NT_FALSE(c)                                                          \
    do {                                                                     \
        if (c)                                                               \
            NT_FAIL("expected false: %s", #c);                               \
    } while (0)
#define NT_EQ_INT(a, b)                                                      \
    do {                                                                     \
        long long nt_a = (long long)(a), nt_b = (long long)(b);              \
        if (nt_a != nt_b)                                                    \
            NT_FAIL("%s == %s: %lld != %lld", #a, #b, nt_a, nt_b);           \
    } while (0)
#define NT_EQ_STR(a, b)                                                      \
    do {                                                                     \
        const char *nt_a = (a), *nt_b = (b);                                 \
        if (nt_a == NULL || nt_b == NULL || strcmp(nt_a, nt_b) != 0)         \
            NT_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b,                    \
                    nt_a ? nt_a : "(null)", nt_b ? nt_b : "(null)");         \
    } while (0)
#define NT_CONTAINS(hay, needle)                                             \
    do {                                                                     \
        const char *nt_h = (hay), *nt_n = (needle);                          \
        if (nt_h == NULL || strstr(nt_h, nt_n) == NULL)                      \
            NT_FAIL("%s contains \"%s\": got \"%s\"", #hay, nt_n,            \
                    nt_h ? nt_h : "(null)");                                 \
    } while (0)

static inline int
nt_run(const struct nt_case *cases)
{
    const char *only = getenv("NT_ONLY");
    int nofork = getenv("NT_NOFORK") != NULL;
    const char *tmo = getenv("NT_TIMEOUT_S");
    unsigned limit = tmo && *tmo ? (unsigned)strtoul(tmo, NULL, 10) : 0;
    if (limit == 0)
        limit = NT_TIMEOUT_S;
    int passed = 0, failed = 0;
    for (const struct nt_case *c = cases; c->name; c++) {
        if (only && strcmp(only, c->name) != 0)
            continue;
        fflush(NULL);
        int ok;
        if (nofork) {
            c->fn();
            ok = 1;
        } else {
            pid_t pid = fork();
            if (pid == 0) {
                alarm(limit);
                c->fn();
                fflush(NULL);
                _exit(0);
            }
            int st = 0;
            while (waitpid(pid, &st, 0) < 0) {
            }
            ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
            if (WIFSIGNALED(st))
                fprintf(stderr, "  killed by signal %d%s\n", WTERMSIG(st),
                        WTERMSIG(st) == SIGALRM ? " (timeout)" : "");
        }
        printf("%s %s\n", ok ? "ok  " : "FAIL", c->name);
        if (ok)
            passed++;
        else
            failed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

#endif
