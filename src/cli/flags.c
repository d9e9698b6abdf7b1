// flags.c: strict parsing of flag values shared by every subcommand.
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "gpt.h"

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

int parse_kv_flag(const char *flag, const char *s, int *out) {
    if (!strcmp(s, "auto")) *out = GPT_KV_AUTO;
    else if (!strcmp(s, "f32")) *out = GPT_KV_F32;
    else if (!strcmp(s, "f16")) *out = GPT_KV_F16;
    else return cli_error("%s: '%s' is not a KV cache type (auto, f32, f16)", flag, s);
    return 0;
}

const char *kv_type_name(int kv) { return kv == GPT_KV_F16 ? "f16" : "f32"; }

const char *flag_value(int argc, char **argv, int *i) {
    if (*i + 1 >= argc) {
        cli_error("%s needs a value", argv[*i]);
        return NULL;
    }
    *i += 1;
    return argv[*i];
}
