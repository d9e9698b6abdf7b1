// flags.c: strict parsing of flag values shared by every subcommand.
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int cli_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("gpt: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

int parse_int_flag(const char *flag, const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0')
        return cli_error("%s: '%s' is not a whole number", flag, s);
    if (v < lo || v > hi) return cli_error("%s: %ld is out of range [%ld, %ld]", flag, v, lo, hi);
    *out = v;
    return 0;
}

int parse_float_flag(const char *flag, const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || !isfinite(v))
        return cli_error("%s: '%s' is not a number", flag, s);
    if (v < lo || v > hi) return cli_error("%s: %g is out of range [%g, %g]", flag, v, lo, hi);
    *out = v;
    return 0;
}

int parse_u64_flag(const char *flag, const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    if (s[0] == '-') return cli_error("%s: '%s' must not be negative", flag, s);
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end != '\0') return cli_error("%s: '%s' is not a whole number", flag, s);
    *out = v;
    return 0;
}

const char *flag_value(int argc, char **argv, int *i) {
    if (*i + 1 >= argc) {
        cli_error("%s needs a value", argv[*i]);
        return NULL;
    }
    *i += 1;
    return argv[*i];
}

// Physical cores: distinct (physical id, core id) pairs in /proc/cpuinfo;
// falls back to the online logical CPUs.
int physical_cores(void) {
    long logical = sysconf(_SC_NPROCESSORS_ONLN);
    if (logical < 1) logical = 1;
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return (int)logical;
    char line[256];
    int phys = -1, n = 0;
    int seen[1024][2];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "physical id", 11) == 0) phys = atoi(strchr(line, ':') + 1);
        if (strncmp(line, "core id", 7) == 0 && strchr(line, ':')) {
            int core = atoi(strchr(line, ':') + 1), dup = 0;
            for (int k = 0; k < n; k++) dup |= seen[k][0] == phys && seen[k][1] == core;
            if (!dup && n < 1024) seen[n][0] = phys, seen[n][1] = core, n++;
        }
    }
    fclose(f);
    return n > 0 && n <= logical ? n : (int)logical;
}
