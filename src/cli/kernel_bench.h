// kernel_bench.h: `gpt bench --kernels`: how fast each decode kernel turns
// weight rows into a matrix-vector product, from memory and from cache,
// against a plain read of the same bytes with the same threads. Decode
// speed is the slower of what the memory delivers and what the kernel can
// compute; these figures say which one binds, type by type.
#ifndef GPT_KERNEL_BENCH_H
#define GPT_KERNEL_BENCH_H

// Prints one table row per weight type (F32, F16, Q8_0, Q4_0), row length
// (768 and 3072, GPT-2 124M's) and thread count; reps timed passes each,
// medians. Returns 0, or 1 after printing an error.
int bench_kernels(const long *threads, int n_threads, int reps);

#endif
