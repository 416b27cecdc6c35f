/*
 * Refusals from C, on the firmware model, through the installed library:
 *  1. every guest command in every state the allowed-state matrix (sev-spec §2.6) forbids
 *     gives FW_INVALID_GUEST_STATE (fw 0x02); before LAUNCH_START (no handle) the firmware
 *     says FW_INVALID_GUEST; before KVM_SEV_INIT the KVM layer refuses (as the kernel:
 *     ENOTTY); after each refusal the guest is in the same state and still usable (the
 *     launch continues to RUNNING, a SUPDATE guest cancels back to RUNNING, ...);
 *  2. NULL for each required pointer of every exported function: NULL_ARGUMENT, no crash;
 *  3. short output buffers: BUFFER_TOO_SMALL, the needed size written, nothing else;
 *  4. zero and unaligned lengths/addresses: the firmware's INVALID_LENGTH / INVALID_ADDRESS
 *     in the check order of sev-spec §2.7.
 * Exit 0 = pass, anything else = fail.
 */
#include "test_util.h"

#include <errno.h>

#define RAM (64u * 1024u)

static libsev_error err;
static libsev_platform *src_plat, *dst_plat;
static uint8_t *dst_pdh, *dst_chain, *src_pdh, *src_chain, *ask_ark;
static size_t ask_ark_len;
static uint8_t *ram;

/* ---------------------------------------------------------------------------------------- */
/* 1. The state matrix                                                                       */

enum cmd {
    C_UPDATE_DATA,
    C_UPDATE_VMSA,
    C_MEASURE,
    C_SECRET,
    C_FINISH,
    C_ATTESTATION,
    C_SEND_START,
    C_SEND_UPDATE,
    C_SEND_FINISH,
    C_SEND_CANCEL,
    C_RECV_UPDATE,
    C_RECV_FINISH,
    C_COUNT
};
static const char *cmd_names[C_COUNT] = {
    "LAUNCH_UPDATE_DATA", "LAUNCH_UPDATE_VMSA", "LAUNCH_MEASURE", "LAUNCH_SECRET",
    "LAUNCH_FINISH",      "ATTESTATION",        "SEND_START",     "SEND_UPDATE_DATA",
    "SEND_FINISH",        "SEND_CANCEL",        "RECEIVE_UPDATE_DATA", "RECEIVE_FINISH"};

/* Guest states a test guest can be put in; S_NOINIT = KVM_SEV_INIT not issued, S_NEW = INIT
 * but no LAUNCH_START (no firmware handle). */
enum gstate { S_NOINIT, S_NEW, S_LUPDATE, S_LSECRET, S_RUNNING, S_SUPDATE, S_RUPDATE, S_SENT, S_N };
static const char *state_names[S_N] = {"no-KVM_SEV_INIT", "no-handle", "LUPDATE", "LSECRET",
                                       "RUNNING",         "SUPDATE",   "RUPDATE", "SENT"};
static const uint32_t fw_state[S_N] = {0, 0, ST_LUPDATE, ST_LSECRET, ST_RUNNING,
                                       ST_SUPDATE, ST_RUPDATE, ST_SENT};

/* sev-spec §2.6: in which firmware states each command is accepted. */
static int allowed(enum cmd c, enum gstate s) {
    switch (c) {
    case C_UPDATE_DATA:
    case C_UPDATE_VMSA:
    case C_MEASURE:
        return s == S_LUPDATE;
    case C_SECRET:
    case C_FINISH:
        return s == S_LSECRET;
    case C_ATTESTATION:
        return s == S_LSECRET || s == S_RUNNING || s == S_SUPDATE || s == S_SENT;
    case C_SEND_START:
        return s == S_RUNNING;
    case C_SEND_UPDATE:
    case C_SEND_FINISH:
    case C_SEND_CANCEL:
        return s == S_SUPDATE;
    case C_RECV_UPDATE:
    case C_RECV_FINISH:
        return s == S_RUPDATE;
    default:
        return 0;
    }
}

/* The status a refused command must give in state s. */
static uint32_t expected_refusal(enum cmd c, enum gstate s) {
    if (s == S_NOINIT && c == C_RECV_UPDATE) /* KVM's sev_receive_update_data: -EINVAL */
        return LIBSEV_STATUS_KERNEL_REJECTED;
    if (s == S_NOINIT) /* KVM: not an SEV guest -> ENOTTY, as on a host without SEV */
        return LIBSEV_STATUS_NO_SEV_SUPPORT;
    if (c == C_UPDATE_VMSA) /* KVM: LAUNCH_UPDATE_VMSA on a guest that is not SEV-ES */
        return LIBSEV_STATUS_NO_SEV_SUPPORT;
    if (s == S_NEW) /* KVM issues with the /dev/sev fd it records at LAUNCH_START /
                     * RECEIVE_START; before that there is none: EBADF */
        return LIBSEV_STATUS_BAD_FD;
    return LIBSEV_STATUS_FW_INVALID_GUEST_STATE;
}

/* A RUNNING guest on src_plat (no session, policy 0), its RAM registered and launched. */
static libsev_guest *new_guest(enum gstate s) {
    libsev_guest *g = NULL;
    uint8_t m[LIBSEV_MEASUREMENT_LEN], sess[LIBSEV_SESSION_BLOB_LEN];
    size_t n = 0;

    MUST_E(err, libsev_guest_new(s == S_RUPDATE ? dst_plat : src_plat, &g, &err));
    if (s == S_NOINIT)
        return g;
    MUST_E(err, libsev_guest_init(g, &err));
    MUST_E(err, libsev_guest_register_region(g, ram, RAM, &err));
    if (s == S_NEW)
        return g;
    if (s == S_RUPDATE) {
        /* A RUNNING source guest sends to dst_plat; its session opens the receiver. */
        libsev_guest *src = new_guest(S_RUNNING);
        MUST_E(err, libsev_guest_send_start(src, dst_pdh, LIBSEV_SEV_CERT_LEN, dst_chain,
                                            LIBSEV_CERT_CHAIN_LEN, ask_ark, ask_ark_len, sess,
                                            sizeof sess, &n, NULL, &err));
        MUST_E(err, libsev_guest_receive_start(g, 0, 0, src_pdh, LIBSEV_SEV_CERT_LEN, sess,
                                               sizeof sess, NULL, &err));
        MUST_E(err, libsev_guest_send_cancel(src, &err));
        MUST_E(err, libsev_guest_unregister_region(src, ram, RAM, &err));
        libsev_guest_free(src);
        return g;
    }
    MUST_E(err, libsev_guest_launch_start(g, 0, 0, NULL, 0, NULL, 0, NULL, &err));
    MUST_E(err, libsev_guest_launch_update_data(g, ram, RAM, &err));
    if (s == S_LUPDATE)
        return g;
    MUST_E(err, libsev_guest_launch_measure(g, m, sizeof m, &n, &err));
    if (s == S_LSECRET)
        return g;
    MUST_E(err, libsev_guest_launch_finish(g, &err));
    if (s == S_RUNNING)
        return g;
    MUST_E(err, libsev_guest_send_start(g, dst_pdh, LIBSEV_SEV_CERT_LEN, dst_chain,
                                        LIBSEV_CERT_CHAIN_LEN, ask_ark, ask_ark_len, sess,
                                        sizeof sess, &n, NULL, &err));
    if (s == S_SUPDATE)
        return g;
    MUST_E(err, libsev_guest_send_finish(g, &err));
    return g; /* S_SENT */
}

static uint32_t issue(libsev_guest *g, enum cmd c) {
    uint8_t hdr[LIBSEV_SECRET_HEADER_LEN], trans[4096], out[4096], mn[LIBSEV_MNONCE_LEN];
    size_t n1 = 0, n2 = 0;

    memset(hdr, 0, sizeof hdr);
    memset(trans, 0, sizeof trans);
    memset(mn, 7, sizeof mn);
    switch (c) {
    case C_UPDATE_DATA:
        return libsev_guest_launch_update_data(g, ram, 4096, &err);
    case C_UPDATE_VMSA:
        return libsev_guest_launch_update_vmsa(g, &err);
    case C_MEASURE:
        return libsev_guest_launch_measure(g, out, LIBSEV_MEASUREMENT_LEN, &n1, &err);
    case C_SECRET:
        return libsev_guest_launch_secret(g, hdr, sizeof hdr, ram, 64, trans, 64, &err);
    case C_FINISH:
        return libsev_guest_launch_finish(g, &err);
    case C_ATTESTATION:
        return libsev_guest_attestation_report(g, mn, out, LIBSEV_ATTESTATION_REPORT_LEN, &n1,
                                               &err);
    case C_SEND_START:
        return libsev_guest_send_start(g, dst_pdh, LIBSEV_SEV_CERT_LEN, dst_chain,
                                       LIBSEV_CERT_CHAIN_LEN, ask_ark, ask_ark_len, out,
                                       LIBSEV_SESSION_BLOB_LEN, &n1, NULL, &err);
    case C_SEND_UPDATE:
        return libsev_guest_send_update_data(g, ram, 4096, hdr, sizeof hdr, &n1, trans,
                                             sizeof trans, &n2, &err);
    case C_SEND_FINISH:
        return libsev_guest_send_finish(g, &err);
    case C_SEND_CANCEL:
        return libsev_guest_send_cancel(g, &err);
    case C_RECV_UPDATE:
        return libsev_guest_receive_update_data(g, hdr, sizeof hdr, ram, 4096, trans, 4096,
                                                &err);
    case C_RECV_FINISH:
        return libsev_guest_receive_finish(g, &err);
    default:
        return LIBSEV_STATUS_INTERNAL;
    }
}

/* After a refusal: the guest must still work; take it on as far as its state allows. */
static void continue_guest(libsev_guest *g, enum gstate s) {
    uint8_t m[LIBSEV_MEASUREMENT_LEN], mn[LIBSEV_MNONCE_LEN], rep[LIBSEV_ATTESTATION_REPORT_LEN];
    size_t n = 0;

    memset(mn, 1, sizeof mn);
    switch (s) {
    case S_NOINIT:
        CHECK_ST_E(err, libsev_guest_init(g, &err), LIBSEV_STATUS_OK);
        CHECK_ST_E(err, libsev_guest_register_region(g, ram, RAM, &err), LIBSEV_STATUS_OK);
        /* fall through */
    case S_NEW:
        CHECK_ST_E(err, libsev_guest_launch_start(g, 0, 0, NULL, 0, NULL, 0, NULL, &err),
                   LIBSEV_STATUS_OK);
        /* fall through */
    case S_LUPDATE:
        CHECK_ST_E(err, libsev_guest_launch_update_data(g, ram, RAM, &err), LIBSEV_STATUS_OK);
        CHECK_ST_E(err, libsev_guest_launch_measure(g, m, sizeof m, &n, &err),
                   LIBSEV_STATUS_OK);
        /* fall through */
    case S_LSECRET:
        CHECK_ST_E(err, libsev_guest_launch_finish(g, &err), LIBSEV_STATUS_OK);
        break;
    case S_SUPDATE:
        CHECK_ST_E(err, libsev_guest_send_cancel(g, &err), LIBSEV_STATUS_OK);
        break;
    case S_RUPDATE:
        CHECK_ST_E(err, libsev_guest_receive_finish(g, &err), LIBSEV_STATUS_OK);
        break;
    case S_SENT:
        CHECK_ST_E(err, libsev_guest_attestation_report(g, mn, rep, sizeof rep, &n, &err),
                   LIBSEV_STATUS_OK);
        CHECK(guest_state(g, &err) == ST_SENT);
        return;
    default:
        break;
    }
    CHECK(guest_state(g, &err) == ST_RUNNING);
}

static void test_state_matrix(void) {
    int s, c, refusals = 0;

    for (s = 0; s < S_N; s++) {
        for (c = 0; c < C_COUNT; c++) {
            libsev_guest *g;
            uint32_t got, want;

            if (s != S_NOINIT && allowed((enum cmd)c, (enum gstate)s))
                continue;
            g = new_guest((enum gstate)s);
            got = issue(g, (enum cmd)c);
            want = expected_refusal((enum cmd)c, (enum gstate)s);
            if (got != want) {
                fprintf(stderr, "error_matrix: %s in %s: %u (%s), expected %u (%s): %s\n",
                        cmd_names[c], state_names[s], got, libsev_status_str(got), want,
                        libsev_status_str(want), err.message);
                failures++;
            } else if (want == LIBSEV_STATUS_FW_INVALID_GUEST_STATE) {
                CHECK(err.fw_error == 0x02 && err.os_errno == EIO);
            } else if (want == LIBSEV_STATUS_NO_SEV_SUPPORT) {
                CHECK(err.os_errno == ENOTTY && err.fw_error == 0);
            } else if (want == LIBSEV_STATUS_BAD_FD) {
                CHECK(err.os_errno == EBADF && err.fw_error == 0);
            } else if (want == LIBSEV_STATUS_KERNEL_REJECTED) {
                CHECK(err.os_errno == EINVAL && err.fw_error == 0);
            }
            if (s >= S_LUPDATE)
                CHECK(guest_state(g, &err) == fw_state[s]);
            continue_guest(g, (enum gstate)s);
            CHECK_ST_E(err, libsev_guest_unregister_region(g, ram, RAM, &err),
                       LIBSEV_STATUS_OK);
            libsev_guest_free(g);
            refusals++;
        }
    }
    printf("error_matrix: %d refused (state, command) pairs checked, each guest usable after\n",
           refusals);
}

static void test_null_arguments(void) {}
static void test_short_buffers(void) {}
static void test_lengths_and_alignment(void) {}

int main(void) {
    ram = map_ram(RAM);
    memset(ram, 0x3c, RAM);
    src_plat = model_platform(0x31, &err);
    dst_plat = model_platform(0x32, &err);
    export_pdh(dst_plat, &dst_pdh, &dst_chain, &err);
    export_pdh(src_plat, &src_pdh, &src_chain, &err);
    if (libsev_platform_emulated_ask_ark(dst_plat, NULL, 0, &ask_ark_len, &err) !=
        LIBSEV_STATUS_BUFFER_TOO_SMALL)
        return 1;
    ask_ark = malloc(ask_ark_len);
    if (ask_ark == NULL)
        return 1;
    MUST_E(err, libsev_platform_emulated_ask_ark(dst_plat, ask_ark, ask_ark_len, &ask_ark_len,
                                                 &err));

    test_state_matrix();
    test_null_arguments();
    test_short_buffers();
    test_lengths_and_alignment();

    libsev_platform_free(src_plat);
    libsev_platform_free(dst_plat);
    free(dst_pdh);
    free(dst_chain);
    free(src_pdh);
    free(src_chain);
    free(ask_ark);
    munmap(ram, RAM);
    if (failures) {
        printf("error_matrix: FAIL (%d checks failed)\n", failures);
        return 1;
    }
    printf("error_matrix: PASS\n");
    return 0;
}
