// util.c: error messages, half-precision conversion, file mapping.
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int gpt_fail(char *err, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, GPT_ERR_LEN, fmt, ap);
        va_end(ap);
        // messages quote names and tokens from untrusted files: keep them
        // one line and free of terminal control bytes
        for (char *p = err; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7F) *p = '?';
    }
    return -1;
}

// ---- half precision -------------------------------------------------------

float fp16_to_fp32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1F;
    uint32_t man = h & 0x3FF;
    uint32_t bits;
    if (exp == 0x1F) {  // inf or nan
        bits = sign | 0x7F800000u | (man << 13);
    } else if (exp != 0) {  // normal
        bits = sign | ((exp + 112) << 23) | (man << 13);
    } else if (man == 0) {  // zero
        bits = sign;
    } else {  // subnormal: normalise
        int e = -1;
        do {
            e++;
            man <<= 1;
        } while ((man & 0x400) == 0);
        bits = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3FF) << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t fp32_to_fp16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t ax = x & 0x7FFFFFFFu;
    if (ax >= 0x7F800000u)  // inf or nan (keep nan quiet)
        return sign | 0x7C00 | (ax > 0x7F800000u ? 0x200 : 0);
    if (ax >= 0x477FF000u) return sign | 0x7C00;  // rounds to >= 65520: inf
    if (ax < 0x38800000u) {                       // below the smallest normal half
        // subnormal half: value = m * 2^-24; round to nearest even
        float a;
        memcpy(&a, &ax, 4);
        float scaled = a * 16777216.0f;  // exact: a * 2^24
        uint32_t m = (uint32_t)scaled;
        float rem = scaled - (float)m;
        if (rem > 0.5f || (rem == 0.5f && (m & 1))) m++;
        return sign | (uint16_t)m;
    }
    // normal: rebias the exponent and round the mantissa to nearest even
    uint32_t r = ax - 0x38000000u;  // exponent 127 -> 15
    uint32_t lsb = (r >> 13) & 1;
    r += 0xFFF + lsb;
    return sign | (uint16_t)(r >> 13);
}

float bf16_to_fp32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

// ---- files ------------------------------------------------------------------

int map_file(mapped_file *m, const char *path, char *err) {
    m->data = NULL;
    m->size = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return gpt_fail(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return gpt_fail(err, "%s: cannot stat: %s", path, strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return gpt_fail(err, "%s: not a regular file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return gpt_fail(err, "%s: file is empty", path);
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return gpt_fail(err, "%s: cannot map: %s", path, strerror(errno));
    // Ask for 2 MiB pages: pages the file faults in from disk are then read
    // into 2 MiB folios and mapped whole, and streaming weights through 4 KiB
    // pages costs decode up to a quarter of its speed (TLB walks, and the
    // hardware prefetcher stops at every page). Pages already cached keep
    // the folio size they were cached with; kernels without large folios
    // for the file system ignore the advice.
#ifdef MADV_HUGEPAGE
    madvise(p, (size_t)st.st_size, MADV_HUGEPAGE);
#endif
    m->data = p;
    m->size = (size_t)st.st_size;
    return 0;
}

void *alloc_table(size_t bytes) {
    const size_t huge = (size_t)2 << 20;
    if (bytes < huge) return malloc(bytes ? bytes : 1);
    size_t rounded = (bytes + huge - 1) / huge * huge;
    void *p = aligned_alloc(huge, rounded);
#ifdef MADV_HUGEPAGE
    if (p) madvise(p, rounded, MADV_HUGEPAGE);
#endif
    return p;
}

void unmap_file(mapped_file *m) {
    if (m->data) munmap((void *)m->data, m->size);
    m->data = NULL;
    m->size = 0;
}

int read_file_all(const char *path, size_t max_bytes, char **out, size_t *len, char *err) {
    *out = NULL;
    if (len) *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return gpt_fail(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return gpt_fail(err, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > max_bytes) {
        fclose(f);
        return gpt_fail(err, "%s: file is too large (%lld bytes, at most %zu expected)", path,
                        (long long)st.st_size, max_bytes);
    }
    size_t n = (size_t)st.st_size;
    char *buf = malloc(n + 1);
    if (!buf) {
        fclose(f);
        return gpt_fail(err, "%s: out of memory reading %zu bytes", path, n);
    }
    size_t got = fread(buf, 1, n, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || got != n) {
        free(buf);
        return gpt_fail(err, "%s: read error", path);
    }
    buf[n] = '\0';
    *out = buf;
    if (len) *len = n;
    return 0;
}

double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
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
        const char *colon = strchr(line, ':');
        if (!colon) continue;
        if (strncmp(line, "physical id", 11) == 0) phys = atoi(colon + 1);
        if (strncmp(line, "core id", 7) == 0) {
            int core = atoi(colon + 1), dup = 0;
            for (int k = 0; k < n; k++) dup |= seen[k][0] == phys && seen[k][1] == core;
            if (!dup && n < 1024) seen[n][0] = phys, seen[n][1] = core, n++;
        }
    }
    fclose(f);
    return n > 0 && n <= logical ? n : (int)logical;
}

int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double median(const double *v, int n) {
    if (n <= 0) return 0;
    double *s = malloc((size_t)n * sizeof *s);
    if (!s) return v[0];
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    double m = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    free(s);
    return m;
}
