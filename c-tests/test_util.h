/*
 * Small helpers shared by the C tests launch_flow.c, error_matrix.c, concurrency.c and
 * persistence.c (header-only; each test is still one program built from one .c file).
 */
#ifndef LIBSEV_C_TEST_UTIL_H
#define LIBSEV_C_TEST_UTIL_H

#include <libsev.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static int failures;

/* Whether the program runs under valgrind (c-tests/run.sh sets this): tests choose smaller
 * sizes and fewer rounds then. */
static inline int under_valgrind(void) {
    const char *v = getenv("LIBSEV_UNDER_VALGRIND");
    return v != NULL && v[0] == '1';
}


/* The current test's libsev_error (each thread of concurrency.c uses its own). */
#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                              \
        }                                                                            \
    } while (0)

/* Compare a status; on a mismatch print both and libsev's message from `e`. */
#define CHECK_ST_E(e, got, want)                                                          \
    do {                                                                                  \
        uint32_t g_ = (got), w_ = (want);                                                 \
        if (g_ != w_) {                                                                   \
            fprintf(stderr, "%s:%d: %s is %u (%s), expected %u (%s); message: %s\n",      \
                    __FILE__, __LINE__, #got, (unsigned)g_, libsev_status_str(g_),        \
                    (unsigned)w_, libsev_status_str(w_), (e).message);                    \
            failures++;                                                                   \
        }                                                                                 \
    } while (0)

/* Abort the test on a failure that leaves nothing sensible to check afterwards. */
#define MUST_E(e, call)                                                                   \
    do {                                                                                  \
        uint32_t s_ = (call);                                                             \
        if (s_ != LIBSEV_STATUS_OK) {                                                     \
            fprintf(stderr, "%s:%d: %s failed: %u (%s): %s\n", __FILE__, __LINE__, #call, \
                    (unsigned)s_, libsev_status_str(s_), (e).message);                    \
            exit(1);                                                                      \
        }                                                                                 \
    } while (0)

static inline int all_bytes(const uint8_t *p, size_t n, uint8_t v) {
    size_t i;
    for (i = 0; i < n; i++)
        if (p[i] != v)
            return 0;
    return 1;
}

/* Anonymous private memory standing in for guest RAM (exits on failure). */
static inline uint8_t *map_ram(size_t n) {
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    return p;
}

/* A deterministic "firmware image": a xorshift64* stream from `seed`. */
static inline void fill_image(uint8_t *p, size_t n, uint64_t seed) {
    uint64_t x = seed | 1;
    size_t i;
    for (i = 0; i + 8 <= n; i += 8) {
        uint64_t v;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        v = x * 0x2545f4914f6cdd1dull;
        memcpy(p + i, &v, 8);
    }
}

/* A model platform with a fixed seed (NULL seed byte 0 = OS randomness). */
static inline libsev_platform *model_platform(uint8_t seed_byte, libsev_error *e) {
    libsev_model_config cfg;
    libsev_platform *p = NULL;
    uint8_t seed[LIBSEV_MODEL_SEED_LEN];

    memset(seed, seed_byte, sizeof seed);
    MUST_E(*e, libsev_model_config_init(&cfg));
    if (seed_byte != 0)
        cfg.seed = seed;
    MUST_E(*e, libsev_platform_new_emulated(&cfg, &p, e));
    return p;
}

/* The platform's PDH and PEK || OCA || CEK (both malloc'ed; exits on failure). */
static inline void export_pdh(libsev_platform *p, uint8_t **pdh, uint8_t **chain,
                              libsev_error *e) {
    size_t a = 0, b = 0;
    *pdh = malloc(LIBSEV_SEV_CERT_LEN);
    *chain = malloc(LIBSEV_CERT_CHAIN_LEN);
    if (*pdh == NULL || *chain == NULL)
        exit(1);
    MUST_E(*e, libsev_platform_pdh_cert_export(p, *pdh, LIBSEV_SEV_CERT_LEN, &a, *chain,
                                               LIBSEV_CERT_CHAIN_LEN, &b, e));
}

static inline uint32_t guest_state(libsev_guest *g, libsev_error *e) {
    libsev_guest_status_info st;
    memset(&st, 0xff, sizeof st);
    if (libsev_guest_status(g, &st, e) != LIBSEV_STATUS_OK)
        return 0xffffffffu;
    return st.state;
}

enum { ST_UNINIT = 0, ST_LUPDATE, ST_LSECRET, ST_RUNNING, ST_SUPDATE, ST_RUPDATE, ST_SENT };

#endif
