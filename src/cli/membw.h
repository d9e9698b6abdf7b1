// membw.h: the machine's memory read bandwidth, as `gpt bench` measures it:
// the roofline that decode speed is compared with.
//
// A pass reads a list of byte ranges with n threads (equal shares of their
// concatenation, each share in address order) twice, with two readers: one
// that only loads, and one that also prefetches 8 KiB ahead into L2 as the
// decode kernels do (on some machines that reads 10-20% faster, on others
// it changes nothing). The pass counts the faster of the two, so that the
// roofline is the fastest read this machine does, not a slow one.
#ifndef GPT_MEMBW_H
#define GPT_MEMBW_H

#include <stddef.h>

typedef struct {
    const void *p;
    size_t bytes;
} membw_range;

// GB/s (1e9 bytes) of one pass over the ranges with n_threads (1..64)
// threads, or 0 if a thread could not be started.
double membw_read(const membw_range *ranges, int n_ranges, int n_threads);

// The bandwidth buffer lives in a child process, so that neither its 512 MiB
// nor their page faults count in the caller's peak RSS; it is allocated
// (huge pages where the kernel gives them) and touched once, at start, and
// then read on request as often as the caller likes: before, between and
// after the timed runs, close in time to what they are compared with.
typedef struct membw_probe membw_probe;

#define MEMBW_BYTES ((size_t)512 << 20)  // far beyond any last-level cache

// NULL if the child or its buffer could not be made.
membw_probe *membw_probe_start(int n_threads);
// n passes, GB/s each into gbs[n]; returns how many were measured.
int membw_probe_passes(membw_probe *p, int n, double *gbs);
void membw_probe_stop(membw_probe *p);

// How much of the mapping that holds addr is resident in 2 MiB pages (the
// kernel's FilePmdMapped and AnonHugePages over Rss, from /proc/self/smaps):
// 0..1, or -1 where the kernel does not say.
double membw_huge_share(const void *addr);

#endif
