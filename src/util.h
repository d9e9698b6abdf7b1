// util.h: small helpers shared by every part of gpt: error reporting,
// checked arithmetic, half-precision conversion, little file helpers.
#ifndef GPT_UTIL_H
#define GPT_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gpt.h"  // GPT_ERR_LEN

// Every function that can fail returns 0 on success or -1 on failure and
// fills an error buffer of GPT_ERR_LEN bytes with one line that names the
// file and the field ("model.gguf: tensor 'blk.0.attn_qkv.weight': ...").

// printf-style: write a message into err (which may be NULL) and return -1.
int gpt_fail(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// Overflow-checked size arithmetic: return 0 and set *out, or -1 on overflow.
static inline int mul_u64(uint64_t a, uint64_t b, uint64_t *out) {
    if (a != 0 && b > UINT64_MAX / a) return -1;
    *out = a * b;
    return 0;
}
static inline int add_u64(uint64_t a, uint64_t b, uint64_t *out) {
    if (b > UINT64_MAX - a) return -1;
    *out = a + b;
    return 0;
}

// IEEE half and bfloat16 <-> float, exact and round-to-nearest-even.
float fp16_to_fp32(uint16_t h);
uint16_t fp32_to_fp16(float f);
float bf16_to_fp32(uint16_t h);

// Little-endian reads from an unaligned byte pointer.
static inline uint32_t rd_u32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t rd_u64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

// A read-only memory map of a whole file. map_file fails cleanly on a
// missing file, a directory or an empty file.
typedef struct {
    const uint8_t *data;
    size_t size;
} mapped_file;
int map_file(mapped_file *m, const char *path, char *err);
// malloc for large tables filled once and probed at random (the tokenizer's):
// 2 MiB aligned and advised to 2 MiB pages when at least that big, so that
// filling them takes a few page faults instead of one per 4 KiB. free() it.
void *alloc_table(size_t bytes);
void unmap_file(mapped_file *m);

// Read a whole (small) file into a NUL-terminated malloc'd buffer, refusing
// files larger than max_bytes. The caller frees *out.
int read_file_all(const char *path, size_t max_bytes, char **out, size_t *len, char *err);

// Number of physical cores (distinct core ids in /proc/cpuinfo), or the
// online logical CPUs when that cannot be read: the default thread count.
int physical_cores(void);

// Milliseconds from a monotonic clock.
double now_ms(void);

// qsort's comparison of doubles, ascending
int cmp_double(const void *a, const void *b);
// The median of v[0..n) (v is left as it is), 0 when n is 0.
double median(const double *v, int n);

#endif
