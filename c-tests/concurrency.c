/*
 * Eight guests launched at the same time from eight threads on one model platform (shared
 * handle), each with its own guest owner session, policy and image: every measurement
 * verifies with its own session (and not with a neighbour's), every secret arrives, every
 * guest reaches RUNNING, the firmware handles are distinct and the platform counts 8 guests.
 * Exit 0 = pass, anything else = fail.
 */
#include "test_util.h"

#include <pthread.h>

#define THREADS 8
#define RAM (512u * 1024u)

static libsev_platform *plat;
static libsev_platform_status_info ps;
static uint8_t *pdh, *chain;
static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t start;

struct job {
    int index;
    uint32_t policy;
    uint8_t *ram, *image;
    libsev_guest *guest;
    libsev_owner_session *session;
    uint8_t measurement[LIBSEV_MEASUREMENT_LEN];
    uint32_t handle;
    int ok;
    char why[300];
};

#define STEP(call)                                                                          \
    do {                                                                                    \
        uint32_t s_ = (call);                                                               \
        if (s_ != LIBSEV_STATUS_OK) {                                                       \
            snprintf(j->why, sizeof j->why, "%.80s: %.60s: %.150s", #call,                    \
                     libsev_status_str(s_), e.message);                                     \
            return NULL;                                                                    \
        }                                                                                   \
    } while (0)

static void *launch(void *arg) {
    struct job *j = arg;
    libsev_error e;
    uint8_t godh[LIBSEV_GODH_CERT_LEN], blob[LIBSEV_SESSION_BLOB_LEN], expected[32];
    uint8_t secret[48], hdr[LIBSEV_SECRET_HEADER_LEN], trans[48], back[48];
    libsev_guest_status_info st;
    size_t n = 0;

    memset(&e, 0, sizeof e);
    fill_image(j->image, RAM, 0x1000u + (uint64_t)j->index);
    memcpy(j->ram, j->image, RAM);
    STEP(libsev_owner_session_new(pdh, LIBSEV_SEV_CERT_LEN, j->policy, &j->session, &e));
    STEP(libsev_owner_session_godh(j->session, godh, sizeof godh, &n, &e));
    STEP(libsev_owner_session_blob(j->session, blob, sizeof blob, &n, &e));
    STEP(libsev_guest_new(plat, &j->guest, &e));
    pthread_barrier_wait(&start); /* all eight launch at once */
    STEP(libsev_guest_init(j->guest, &e));
    STEP(libsev_guest_launch_start(j->guest, j->policy, 0, godh, sizeof godh, blob, sizeof blob,
                                   &j->handle, &e));
    STEP(libsev_guest_register_region(j->guest, j->ram, RAM, &e));
    STEP(libsev_guest_launch_update_data(j->guest, j->ram, RAM, &e));
    STEP(libsev_owner_session_measure_update(j->session, j->image, RAM, &e));
    STEP(libsev_guest_launch_measure(j->guest, j->measurement, sizeof j->measurement, &n, &e));
    STEP(libsev_owner_session_verify_measurement(j->session, ps.api_major, ps.api_minor,
                                                 ps.build, j->measurement, expected, &e));
    memset(secret, 0, sizeof secret);
    snprintf((char *)secret, sizeof secret, "secret of guest %d", j->index);
    STEP(libsev_owner_session_package_secret(j->session, secret, sizeof secret, 0, hdr, trans,
                                             sizeof trans, &n, &e));
    STEP(libsev_guest_launch_secret(j->guest, hdr, sizeof hdr, j->ram + 4096, n, trans, n, &e));
    STEP(libsev_guest_launch_finish(j->guest, &e));
    STEP(libsev_guest_status(j->guest, &st, &e));
    if (st.state != ST_RUNNING || st.handle != j->handle || st.policy != j->policy) {
        snprintf(j->why, sizeof j->why, "status: state %u handle %u policy 0x%x", st.state,
                 st.handle, st.policy);
        return NULL;
    }
    if ((j->policy & 1) == 0) {
        STEP(libsev_guest_dbg_decrypt(j->guest, j->ram + 4096, back, sizeof back, &e));
        if (memcmp(back, secret, sizeof back) != 0) {
            snprintf(j->why, sizeof j->why, "the guest holds another secret");
            return NULL;
        }
    }
    j->ok = 1;
    return NULL;
}

int main(void) {
    struct job jobs[THREADS];
    pthread_t tid[THREADS];
    libsev_error err;
    libsev_model_config cfg;
    libsev_platform_status_info after;
    uint8_t expected[32];
    int i, k;

    memset(&err, 0, sizeof err);
    MUST_E(err, libsev_model_config_init(&cfg));
    if (cfg.asids < THREADS)
        cfg.asids = THREADS;
    MUST_E(err, libsev_platform_new_emulated(&cfg, &plat, &err));
    MUST_E(err, libsev_platform_status(plat, &ps, &err));
    export_pdh(plat, &pdh, &chain, &err);
    if (pthread_barrier_init(&start, NULL, THREADS) != 0)
        return 1;
    printf("concurrency: %d threads launch %d guests on one model platform (%u ASIDs)\n",
           THREADS, THREADS, cfg.asids);

    for (i = 0; i < THREADS; i++) {
        memset(&jobs[i], 0, sizeof jobs[i]);
        jobs[i].index = i;
        jobs[i].policy = (i % 2) ? 0x1u : 0x0u; /* half of them NODBG */
        jobs[i].ram = map_ram(RAM);
        jobs[i].image = malloc(RAM);
        if (jobs[i].image == NULL)
            return 1;
    }
    for (i = 0; i < THREADS; i++)
        if (pthread_create(&tid[i], NULL, launch, &jobs[i]) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            return 1;
        }
    for (i = 0; i < THREADS; i++)
        pthread_join(tid[i], NULL);

    for (i = 0; i < THREADS; i++) {
        if (!jobs[i].ok) {
            pthread_mutex_lock(&fail_lock);
            fprintf(stderr, "concurrency: guest %d failed: %s\n", i, jobs[i].why);
            failures++;
            pthread_mutex_unlock(&fail_lock);
        }
        for (k = 0; k < i; k++)
            CHECK(jobs[k].handle != jobs[i].handle);
    }
    /* A measurement verifies only with its own session: guest 0's does not verify with
     * guest 2's session (same policy, other keys and image). */
    if (jobs[0].ok && jobs[2].ok) {
        libsev_owner_session *s = NULL;
        MUST_E(err, libsev_owner_session_new(pdh, LIBSEV_SEV_CERT_LEN, 0, &s, &err));
        MUST_E(err, libsev_owner_session_measure_update(s, jobs[0].image, RAM, &err));
        CHECK_ST_E(err,
                   libsev_owner_session_verify_measurement(s, ps.api_major, ps.api_minor,
                                                           ps.build, jobs[0].measurement,
                                                           expected, &err),
                   LIBSEV_STATUS_MEASUREMENT_MISMATCH);
        libsev_owner_session_free(s);
    }
    MUST_E(err, libsev_platform_status(plat, &after, &err));
    CHECK(after.guest_count == THREADS && after.state == 2);

    for (i = 0; i < THREADS; i++) {
        if (jobs[i].guest != NULL && jobs[i].ok)
            CHECK_ST_E(err,
                       libsev_guest_unregister_region(jobs[i].guest, jobs[i].ram, RAM, &err),
                       LIBSEV_STATUS_OK);
        libsev_guest_free(jobs[i].guest);
        libsev_owner_session_free(jobs[i].session);
        munmap(jobs[i].ram, RAM);
        free(jobs[i].image);
    }
    MUST_E(err, libsev_platform_status(plat, &after, &err));
    CHECK(after.guest_count == 0);
    pthread_barrier_destroy(&start);
    libsev_platform_free(plat);
    free(pdh);
    free(chain);
    if (failures) {
        printf("concurrency: FAIL (%d checks failed)\n", failures);
        return 1;
    }
    printf("concurrency: %d guests RUNNING, all measurements verified, handles distinct\n",
           THREADS);
    printf("concurrency: PASS\n");
    return 0;
}
