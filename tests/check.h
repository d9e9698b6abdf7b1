// check.h: the one assertion macro the C tests share. A failed CHECK prints
// the file, line and a printf-style message and counts a failure; the test's
// main returns non-zero when any failed, so every check runs in one pass.
#ifndef GPT_TEST_CHECK_H
#define GPT_TEST_CHECK_H

#include <stdio.h>

static int failures = 0, checks = 0;

#define CHECK(cond, ...)                                         \
    do {                                                         \
        checks++;                                                \
        if (!(cond)) {                                           \
            failures++;                                          \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                        \
            fputc('\n', stderr);                                 \
        }                                                        \
    } while (0)

#endif
