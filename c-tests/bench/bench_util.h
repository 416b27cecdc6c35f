/*
 * Shared helpers of the C benchmarks (not tests: nothing here fails because the machine is
 * slow). Each benchmark prints the same lines as its Rust counterpart under src/benches/, so
 * `make bench` can set the two ratios side by side.
 */
#ifndef LIBSEV_BENCH_UTIL_H
#define LIBSEV_BENCH_UTIL_H

#include <libsev.h>

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

#define MIB ((size_t)1 << 20)

/* A failed libsev call ends the benchmark loudly: a broken path must not print a figure. */
#define TRY(call)                                                                          \
    do {                                                                                   \
        uint32_t st_ = (call);                                                             \
        if (st_ != LIBSEV_STATUS_OK) {                                                     \
            fprintf(stderr, "%s:%d: %s failed: %u %s\n", __FILE__, __LINE__, #call, st_,  \
                    libsev_status_str(st_));                                               \
            exit(1);                                                                       \
        }                                                                                  \
    } while (0)

static inline double now_secs(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* CPU time of the calling process so far (user + system), in seconds. */
static inline double cpu_secs(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Involuntary context switches so far (times the process had work but no core). */
static inline uint64_t preempted(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (uint64_t)u.ru_nivcsw;
}

/* LIBSEV_BENCH_MIB (1..4095), 1024 by default: the size the Rust benchmarks use too. */
static inline size_t bench_len(void) {
    const char *v = getenv("LIBSEV_BENCH_MIB");
    unsigned long mib = v ? strtoul(v, NULL, 10) : 1024;
    if (mib == 0 || mib >= 4096) {
        fprintf(stderr, "LIBSEV_BENCH_MIB must be 1..4095\n");
        exit(2);
    }
    return (size_t)mib * MIB;
}

/* Anonymous memory, as a hypervisor gives its guest; `flags` adds MAP_SHARED/MAP_POPULATE. */
static inline uint8_t *map_region(size_t len, int flags) {
    int kind = (flags & MAP_SHARED) ? MAP_SHARED : MAP_PRIVATE;
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, kind | MAP_ANONYMOUS | (flags & MAP_POPULATE),
                   -1, 0);
    if (p == MAP_FAILED) {
        fprintf(stderr, "mmap of %zu bytes failed\n", len);
        exit(1);
    }
    return p;
}

/* The 8-byte pattern word i: the same as the Rust benchmarks write. */
static inline uint64_t pattern(uint64_t i) {
    return i * 0x9E3779B97F4A7C15ull;
}

static inline void fill_pattern(uint8_t *mem, size_t len) {
    for (size_t i = 0; i < len / 8; i++) {
        uint64_t w = pattern(i);
        memcpy(mem + 8 * i, &w, 8); /* little-endian host */
    }
}

/*
 * `openssl speed ARGS -bytes 16384 -seconds 2`, in bytes/s: the figure on the last line whose
 * lower-cased text starts with `prefix` (openssl prints thousands of bytes per second, "123.45k").
 * 0 when openssl is missing or prints nothing usable.
 */
static inline double openssl_speed(const char *args, const char *prefix) {
    char cmd[256], line[512];
    double result = 0;
    snprintf(cmd, sizeof cmd, "openssl speed %s -bytes 16384 -seconds 2 2>/dev/null", args);
    FILE *f = popen(cmd, "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f)) {
        char low[512];
        size_t i;
        for (i = 0; line[i] && i + 1 < sizeof low; i++)
            low[i] = (char)tolower((unsigned char)line[i]);
        low[i] = 0;
        if (strncmp(low, prefix, strlen(prefix)) != 0)
            continue;
        char *last = NULL, *tok = strtok(line, " \t\n");
        while (tok) {
            last = tok;
            tok = strtok(NULL, " \t\n");
        }
        size_t n = last ? strlen(last) : 0;
        if (n > 1 && last[n - 1] == 'k') {
            last[n - 1] = 0;
            result = strtod(last, NULL) * 1000.0;
        }
    }
    pclose(f);
    return result;
}

static inline void gbs(char *buf, size_t n, double bytes_per_s) {
    snprintf(buf, n, "%.2f GB/s", bytes_per_s / 1e9);
}

/* One model platform with a fixed seed (reproducible identity), as the Rust benchmarks use. */
static inline libsev_platform *model(uint8_t seed_byte) {
    libsev_model_config cfg;
    uint8_t seed[LIBSEV_MODEL_SEED_LEN];
    libsev_platform *p = NULL;
    TRY(libsev_model_config_init(&cfg));
    memset(seed, seed_byte, sizeof seed);
    cfg.seed = seed;
    TRY(libsev_platform_new_model(&cfg, &p, NULL));
    return p;
}

#endif
