/*
 * Last-error texts under threads (issue: a failure on another thread freed the string that
 * libsev_platform_last_error had returned: a heap use-after-free under ASan/valgrind).
 *
 * The header's rule: the returned text belongs to the calling thread and stays valid until
 * that thread asks again for the same handle (or the handle is freed); failures on other
 * threads never change or free it. `libsev_*_last_error_copy` copies it out instead.
 *
 *  1. a platform shared by two threads: one fails over and over with two different messages,
 *     the other reads libsev_platform_last_error and every byte of it each time;
 *  2. a text read once stays intact (same bytes) while the other thread fails 2000 times;
 *  3. the same on a guest handle and an owner session (misuse across threads must still be
 *     memory safe: the header promises "waiting, not memory safety");
 *  4. the copy API: two-call rule, NUL included, and it never changes the last error.
 * Exit 0 = pass, anything else = fail.
 */
#include "test_util.h"

#include <pthread.h>

#define ROUNDS 20000
/* `failures` from several threads */
#define FAIL() __atomic_fetch_add(&failures, 1, __ATOMIC_RELAXED)

static libsev_platform *plat;
static libsev_guest *guest;
static libsev_owner_session *sess;
static volatile int stop;
static pthread_barrier_t go;

static const char *msg_a = "out_len is NULL";
static const char *msg_b = "pek is NULL";

static void *fail_platform(void *arg) {
    int i, rounds = *(int *)arg;
    libsev_error e;
    pthread_barrier_wait(&go);
    for (i = 0; i < rounds && !stop; i++) {
        if (i & 1) {
            if (libsev_platform_pek_csr(plat, NULL, 0, NULL, &e) != LIBSEV_STATUS_NULL_ARGUMENT)
                FAIL();
        } else {
            if (libsev_platform_pek_cert_import(plat, NULL, 0, NULL, 0, &e) !=
                LIBSEV_STATUS_NULL_ARGUMENT)
                FAIL();
        }
        /* failures on the guest and the session too */
        if (libsev_guest_status(guest, NULL, &e) != LIBSEV_STATUS_NULL_ARGUMENT)
            FAIL();
        if (libsev_owner_session_godh(sess, NULL, 0, NULL, &e) != LIBSEV_STATUS_NULL_ARGUMENT)
            FAIL();
    }
    return NULL;
}

static int known(const char *s, const char *a, const char *b) {
    return strcmp(s, a) == 0 || strcmp(s, b) == 0 || s[0] == 0;
}

static void *read_texts(void *arg) {
    int i, rounds = *(int *)arg, bad = 0;
    pthread_barrier_wait(&go);
    for (i = 0; i < rounds; i++) {
        const char *p = libsev_platform_last_error(plat);
        const char *g = libsev_guest_last_error(guest);
        const char *s = libsev_owner_session_last_error(sess);
        /* every byte is read: a freed string shows up under ASan and valgrind */
        if (!known(p, msg_a, msg_b) || (strcmp(g, "out is NULL") != 0 && g[0] != 0) ||
            (strcmp(s, "out_len is NULL") != 0 && s[0] != 0))
            bad++;
    }
    if (bad) {
        fprintf(stderr, "%d unexpected texts\n", bad);
        FAIL();
    }
    return NULL;
}

int main(void) {
    libsev_error e;
    pthread_t a, b;
    int rounds = getenv("LIBSEV_UNDER_VALGRIND") ? ROUNDS / 20 : ROUNDS;
    int burst = 2000;
    const char *kept;
    char copy[64], tiny[4];
    size_t n = 0;
    uint8_t pdh[LIBSEV_SEV_CERT_LEN], chain[LIBSEV_CERT_CHAIN_LEN];
    size_t x, y;

    memset(&e, 0, sizeof e);
    plat = model_platform(0x21, &e);
    MUST_E(e, libsev_guest_new(plat, &guest, &e));
    MUST_E(e, libsev_platform_pdh_cert_export(plat, pdh, sizeof pdh, &x, chain, sizeof chain, &y,
                                              &e));
    MUST_E(e, libsev_owner_session_new(pdh, sizeof pdh, 0, &sess, &e));

    /* 1 and 3: reader and failer at once. */
    pthread_barrier_init(&go, NULL, 2);
    pthread_create(&a, NULL, fail_platform, &rounds);
    pthread_create(&b, NULL, read_texts, &rounds);
    pthread_join(b, NULL);
    stop = 1;
    pthread_join(a, NULL);
    pthread_barrier_destroy(&go);

    /* 2: a text this thread holds survives 2000 failures elsewhere. */
    CHECK(libsev_platform_pek_csr(plat, NULL, 0, NULL, &e) == LIBSEV_STATUS_NULL_ARGUMENT);
    kept = libsev_platform_last_error(plat);
    CHECK(strcmp(kept, msg_a) == 0);
    stop = 0;
    pthread_barrier_init(&go, NULL, 1);
    pthread_create(&a, NULL, fail_platform, &burst);
    pthread_join(a, NULL);
    pthread_barrier_destroy(&go);
    CHECK(strcmp(kept, msg_a) == 0);
    /* The next call returns the newest text (the burst's last round was odd: msg_a). */
    CHECK(strcmp(libsev_platform_last_error(plat), msg_a) == 0);

    /* 4: the copy API. */
    CHECK_ST_E(e, libsev_platform_last_error_copy(plat, NULL, 0, &n),
               LIBSEV_STATUS_BUFFER_TOO_SMALL);
    CHECK(n == strlen(msg_a) + 1);
    memset(tiny, 0x55, sizeof tiny);
    CHECK_ST_E(e, libsev_platform_last_error_copy(plat, tiny, sizeof tiny, &n),
               LIBSEV_STATUS_BUFFER_TOO_SMALL);
    CHECK(all_bytes((const uint8_t *)tiny, sizeof tiny, 0x55));
    memset(copy, 0x7f, sizeof copy);
    CHECK_ST_E(e, libsev_platform_last_error_copy(plat, copy, sizeof copy, &n), LIBSEV_STATUS_OK);
    CHECK(n == strlen(msg_a) + 1 && strcmp(copy, msg_a) == 0 && copy[n] == 0x7f);
    /* ... and the short-buffer failures above did not become the last error. */
    CHECK(strcmp(libsev_platform_last_error(plat), msg_a) == 0);
    CHECK_ST_E(e, libsev_platform_last_error_copy(NULL, copy, sizeof copy, &n),
               LIBSEV_STATUS_NULL_ARGUMENT);
    CHECK_ST_E(e, libsev_guest_last_error_copy(guest, copy, sizeof copy, &n), LIBSEV_STATUS_OK);
    CHECK(strcmp(copy, "out is NULL") == 0);
    CHECK_ST_E(e, libsev_owner_session_last_error_copy(sess, copy, sizeof copy, &n),
               LIBSEV_STATUS_OK);
    CHECK(strcmp(copy, "out_len is NULL") == 0);
    {
        /* a fresh handle: "" (size 1) */
        libsev_guest *g2;
        MUST_E(e, libsev_guest_new(plat, &g2, &e));
        CHECK_ST_E(e, libsev_guest_last_error_copy(g2, copy, sizeof copy, &n), LIBSEV_STATUS_OK);
        CHECK(n == 1 && copy[0] == 0);
        libsev_guest_free(g2);
    }

    libsev_owner_session_free(sess);
    libsev_guest_free(guest);
    libsev_platform_free(plat);
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("OK\n");
    return 0;
}
