/*
 * Refusals from C, on the firmware model, through the installed library:
 *  1. every guest command in every state the allowed-state matrix (sev-spec §2.6) forbids
 *     gives FW_INVALID_GUEST_STATE (fw 0x02, errno EIO); the KVM layer refuses first where
 *     the kernel does: before KVM_SEV_INIT (ENOTTY: NO_SEV_SUPPORT; RECEIVE_UPDATE_DATA:
 *     EINVAL), before LAUNCH_START (no /dev/sev fd bound to the VM yet: EBADF, BAD_FD),
 *     LAUNCH_UPDATE_VMSA on a non-ES guest (ENOTTY); a second LAUNCH_START is refused by
 *     KVM's activation (FW_ASID_OWNED) and the first guest keeps its handle. After each
 *     refusal the guest is in the same state and still usable (the launch continues to
 *     RUNNING, a SUPDATE guest cancels back to RUNNING, an RUPDATE guest finishes, ...);
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
    C_LAUNCH_START,
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
    "LAUNCH_START",       "LAUNCH_UPDATE_DATA", "LAUNCH_UPDATE_VMSA", "LAUNCH_MEASURE", "LAUNCH_SECRET",
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
    case C_LAUNCH_START:
        return s == S_NEW;
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
    /* A second LAUNCH_START passes the firmware's checks, but KVM's activation of the new
     * guest finds the VM's ASID owned by the first one (which keeps its handle). */
    if (c == C_LAUNCH_START)
        return LIBSEV_STATUS_FW_ASID_OWNED;
    if (s == S_NEW) /* KVM issues with the /dev/sev fd it records at LAUNCH_START /
                     * RECEIVE_START; before that there is none: EBADF */
        return LIBSEV_STATUS_BAD_FD;
    return LIBSEV_STATUS_FW_INVALID_GUEST_STATE;
}

/* A guest in state s (no session, policy 0; RUPDATE guests on dst_plat), RAM registered. */
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
    case C_LAUNCH_START:
        return libsev_guest_launch_start(g, 0, 0, NULL, 0, NULL, 0, NULL, &err);
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
            uint32_t got, want, handle;

            if (s != S_NOINIT && allowed((enum cmd)c, (enum gstate)s))
                continue;
            g = new_guest((enum gstate)s);
            handle = libsev_guest_handle(g);
            got = issue(g, (enum cmd)c);
            CHECK(libsev_guest_handle(g) == handle);
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

/* ---------------------------------------------------------------------------------------- */
/* 2. NULL arguments                                                                         */

#define NUL(call) CHECK_ST_E(err, (call), LIBSEV_STATUS_NULL_ARGUMENT)

static void test_null_arguments(void) {
    libsev_guest *g = new_guest(S_LSECRET), *gout = (libsev_guest *)&err;
    libsev_platform *pout = (libsev_platform *)&err;
    libsev_owner_session *s = NULL, *sout = (libsev_owner_session *)&err;
    libsev_platform_status_info ps;
    libsev_guest_status_info gs;
    libsev_attestation_info ai;
    uint8_t b[8192], d32[32], mn[LIBSEV_MNONCE_LEN];
    size_t n = 0, n2 = 0;
    int checks = 0;

    memset(b, 0, sizeof b);
    memset(mn, 0, sizeof mn);
    MUST_E(err, libsev_owner_session_new(dst_pdh, LIBSEV_SEV_CERT_LEN, 0, &s, &err));

    /* certificates and attestation */
    NUL(libsev_chain_verify(NULL, 2084, b, 6252, NULL, 0, b, 3200, 0, NULL, &err));
    NUL(libsev_chain_verify(b, 2084, NULL, 6252, NULL, 0, b, 3200, 0, NULL, &err));
    NUL(libsev_chain_verify(b, 2084, b, 6252, NULL, 2084, b, 3200, 0, NULL, &err));
    NUL(libsev_chain_verify(b, 2084, b, 6252, NULL, 0, NULL, 3200, 0, NULL, &err));
    NUL(libsev_chain_verify_blob(NULL, 8336, b, 3200, 0, NULL, &err));
    NUL(libsev_attestation_verify(NULL, 208, b, 2084, &ai, &err));
    NUL(libsev_attestation_verify(b, 208, NULL, 2084, &ai, &err));
    NUL(libsev_attestation_verify(b, 208, b, 2084, NULL, &err));
    checks += 8;
    /* platform */
    NUL(libsev_platform_open(NULL, &err));
    NUL(libsev_platform_open_kvm(-1, NULL, &err));
    NUL(libsev_platform_open_kvm_without_sev(NULL, &err));
    NUL(libsev_model_config_init(NULL));
    NUL(libsev_platform_new_emulated(NULL, NULL, &err));
    NUL(libsev_platform_status(NULL, &ps, &err));
    NUL(libsev_platform_status(src_plat, NULL, &err));
    NUL(libsev_platform_pek_gen(NULL, &err));
    NUL(libsev_platform_pdh_gen(NULL, &err));
    NUL(libsev_platform_factory_reset(NULL, &err));
    NUL(libsev_platform_pek_csr(NULL, b, sizeof b, &n, &err));
    NUL(libsev_platform_pek_csr(src_plat, b, sizeof b, NULL, &err));
    NUL(libsev_platform_pek_cert_import(NULL, b, 2084, b, 2084, &err));
    NUL(libsev_platform_pek_cert_import(src_plat, NULL, 2084, b, 2084, &err));
    NUL(libsev_platform_pek_cert_import(src_plat, b, 2084, NULL, 2084, &err));
    NUL(libsev_platform_pdh_cert_export(NULL, b, 2084, &n, b + 2084, 6252, &n2, &err));
    NUL(libsev_platform_pdh_cert_export(src_plat, b, 2084, NULL, b + 2084, 6252, &n2, &err));
    NUL(libsev_platform_pdh_cert_export(src_plat, b, 2084, &n, b + 2084, 6252, NULL, &err));
    NUL(libsev_platform_get_id(NULL, b, sizeof b, &n, &err));
    NUL(libsev_platform_get_id(src_plat, b, sizeof b, NULL, &err));
    NUL(libsev_platform_emulated_ask_ark(NULL, b, sizeof b, &n, &err));
    NUL(libsev_platform_emulated_ask_ark(src_plat, b, sizeof b, NULL, &err));
    NUL(libsev_platform_emulated_cek(NULL, b, sizeof b, &n, &err));
    NUL(libsev_platform_emulated_cek(src_plat, b, sizeof b, NULL, &err));
    NUL(libsev_probe(NULL));
    CHECK(pout == (libsev_platform *)&err);
    checks += 25;
    /* guest */
    NUL(libsev_guest_new(NULL, &gout, &err));
    NUL(libsev_guest_new(src_plat, NULL, &err));
    NUL(libsev_guest_attach(NULL, 0, &gout, &err));
    NUL(libsev_guest_attach(src_plat, 0, NULL, &err));
    CHECK(gout == (libsev_guest *)&err); /* not written on failure */
    NUL(libsev_guest_init(NULL, &err));
    NUL(libsev_guest_es_init(NULL, &err));
    NUL(libsev_guest_init2(NULL, 0, 0, &err));
    NUL(libsev_guest_launch_start(NULL, 0, 0, NULL, 0, NULL, 0, NULL, &err));
    NUL(libsev_guest_launch_start(g, 0, 0, NULL, 2084, b, 128, NULL, &err));
    NUL(libsev_guest_launch_start(g, 0, 0, b, 2084, NULL, 128, NULL, &err));
    NUL(libsev_guest_launch_update_data(NULL, ram, 16, &err));
    NUL(libsev_guest_launch_update_data(g, NULL, 16, &err));
    NUL(libsev_guest_launch_update_vmsa(NULL, &err));
    NUL(libsev_guest_launch_measure(NULL, b, 48, &n, &err));
    NUL(libsev_guest_launch_measure(g, b, 48, NULL, &err));
    NUL(libsev_guest_launch_secret(NULL, b, 52, ram, 16, b, 16, &err));
    NUL(libsev_guest_launch_secret(g, NULL, 52, ram, 16, b, 16, &err));
    NUL(libsev_guest_launch_secret(g, b, 52, NULL, 16, b, 16, &err));
    NUL(libsev_guest_launch_secret(g, b, 52, ram, 16, NULL, 16, &err));
    NUL(libsev_guest_launch_finish(NULL, &err));
    NUL(libsev_guest_status(NULL, &gs, &err));
    NUL(libsev_guest_status(g, NULL, &err));
    NUL(libsev_guest_dbg_decrypt(NULL, ram, b, 16, &err));
    NUL(libsev_guest_dbg_decrypt(g, NULL, b, 16, &err));
    NUL(libsev_guest_dbg_decrypt(g, ram, NULL, 16, &err));
    NUL(libsev_guest_dbg_encrypt(NULL, b, ram, 16, &err));
    NUL(libsev_guest_dbg_encrypt(g, NULL, ram, 16, &err));
    NUL(libsev_guest_dbg_encrypt(g, b, NULL, 16, &err));
    NUL(libsev_guest_attestation_report(NULL, mn, b, 208, &n, &err));
    NUL(libsev_guest_attestation_report(g, NULL, b, 208, &n, &err));
    NUL(libsev_guest_attestation_report(g, mn, b, 208, NULL, &err));
    NUL(libsev_guest_send_start(NULL, b, 2084, b, 6252, b, 3200, b, 128, &n, NULL, &err));
    NUL(libsev_guest_send_start(g, NULL, 2084, b, 6252, b, 3200, b, 128, &n, NULL, &err));
    NUL(libsev_guest_send_start(g, b, 2084, NULL, 6252, b, 3200, b, 128, &n, NULL, &err));
    NUL(libsev_guest_send_start(g, b, 2084, b, 6252, NULL, 3200, b, 128, &n, NULL, &err));
    NUL(libsev_guest_send_start(g, b, 2084, b, 6252, b, 3200, b, 128, NULL, NULL, &err));
    NUL(libsev_guest_send_update_data(NULL, ram, 16, b, 52, &n, b + 64, 16, &n2, &err));
    NUL(libsev_guest_send_update_data(g, NULL, 16, b, 52, &n, b + 64, 16, &n2, &err));
    NUL(libsev_guest_send_update_data(g, ram, 16, b, 52, NULL, b + 64, 16, &n2, &err));
    NUL(libsev_guest_send_update_data(g, ram, 16, b, 52, &n, b + 64, 16, NULL, &err));
    NUL(libsev_guest_send_finish(NULL, &err));
    NUL(libsev_guest_send_cancel(NULL, &err));
    NUL(libsev_guest_receive_start(NULL, 0, 0, b, 2084, b, 128, NULL, &err));
    NUL(libsev_guest_receive_start(g, 0, 0, NULL, 2084, b, 128, NULL, &err));
    NUL(libsev_guest_receive_start(g, 0, 0, b, 2084, NULL, 128, NULL, &err));
    NUL(libsev_guest_receive_update_data(NULL, b, 52, ram, 16, b, 16, &err));
    NUL(libsev_guest_receive_update_data(g, NULL, 52, ram, 16, b, 16, &err));
    NUL(libsev_guest_receive_update_data(g, b, 52, NULL, 16, b, 16, &err));
    NUL(libsev_guest_receive_update_data(g, b, 52, ram, 16, NULL, 16, &err));
    NUL(libsev_guest_receive_finish(NULL, &err));
    NUL(libsev_guest_register_region(NULL, ram, 4096, &err));
    NUL(libsev_guest_register_region(g, NULL, 4096, &err));
    NUL(libsev_guest_unregister_region(NULL, ram, 4096, &err));
    NUL(libsev_guest_unregister_region(g, NULL, 4096, &err));
    checks += 58;
    /* owner */
    NUL(libsev_owner_session_new(NULL, 2084, 0, &sout, &err));
    NUL(libsev_owner_session_new(dst_pdh, 2084, 0, NULL, &err));
    CHECK(sout == (libsev_owner_session *)&err);
    NUL(libsev_owner_session_godh(NULL, b, sizeof b, &n, &err));
    NUL(libsev_owner_session_godh(s, b, sizeof b, NULL, &err));
    NUL(libsev_owner_session_blob(NULL, b, sizeof b, &n, &err));
    NUL(libsev_owner_session_blob(s, b, sizeof b, NULL, &err));
    NUL(libsev_owner_session_measure_update(NULL, b, 16, &err));
    NUL(libsev_owner_session_measure_update(s, NULL, 16, &err));
    NUL(libsev_owner_session_set_launch_digest(NULL, d32, &err));
    NUL(libsev_owner_session_set_launch_digest(s, NULL, &err));
    NUL(libsev_owner_session_launch_digest(NULL, d32, &err));
    NUL(libsev_owner_session_launch_digest(s, NULL, &err));
    NUL(libsev_owner_session_verify_measurement(NULL, 1, 55, 25, b, NULL, &err));
    NUL(libsev_owner_session_verify_measurement(s, 1, 55, 25, NULL, NULL, &err));
    NUL(libsev_owner_session_package_secret(NULL, b, 16, 0, b + 64, b + 128, 16, &n, &err));
    NUL(libsev_owner_session_package_secret(s, NULL, 16, 0, b + 64, b + 128, 16, &n, &err));
    NUL(libsev_owner_session_export(NULL, b, sizeof b, &n, &err));
    NUL(libsev_owner_session_export(s, b, sizeof b, NULL, &err));
    NUL(libsev_owner_session_import(NULL, 100, &sout, &err));
    NUL(libsev_owner_session_import(b, 100, NULL, &err));
    checks += 20;
    {
        libsev_launch_digest *ld = NULL, *ldout = (libsev_launch_digest *)&err;
        CHECK(libsev_launch_digest_new(&ld, &err) == LIBSEV_STATUS_OK && ld != NULL);
        NUL(libsev_launch_digest_new(NULL, &err));
        NUL(libsev_launch_digest_update(NULL, b, 16, &err));
        NUL(libsev_launch_digest_update(ld, NULL, 16, &err));
        NUL(libsev_launch_digest_value(NULL, d32, &err));
        NUL(libsev_launch_digest_value(ld, NULL, &err));
        CHECK(ldout == (libsev_launch_digest *)&err);
        CHECK(strlen(libsev_launch_digest_last_error(ld)) > 0);
        CHECK(strcmp(libsev_launch_digest_last_error(NULL), "") == 0);
        libsev_launch_digest_free(ld);
        libsev_launch_digest_free(NULL);
        checks += 5;
    }
    /* functions without a status: NULL is harmless */
    CHECK(strcmp(libsev_platform_last_error(NULL), "") == 0);
    CHECK(strcmp(libsev_guest_last_error(NULL), "") == 0);
    CHECK(strcmp(libsev_owner_session_last_error(NULL), "") == 0);
    CHECK(!libsev_platform_is_emulated(NULL));
    CHECK(libsev_guest_vm_fd(NULL) == -1 && libsev_guest_handle(NULL) == 0);
    libsev_platform_free(NULL);
    libsev_guest_free(NULL);
    libsev_owner_session_free(NULL);
    /* The guest that saw all this is still fine. */
    CHECK(guest_state(g, &err) == ST_LSECRET);
    continue_guest(g, S_LSECRET);
    CHECK_ST_E(err, libsev_guest_unregister_region(g, ram, RAM, &err), LIBSEV_STATUS_OK);
    libsev_guest_free(g);
    libsev_owner_session_free(s);
    printf("error_matrix: %d NULL-argument calls refused with NULL_ARGUMENT\n", checks);
}

/* ---------------------------------------------------------------------------------------- */
/* 3. Short buffers                                                                          */

/* Call `call` (which uses buffer `buf` of `len` bytes and writes `*np`) with a short buffer:
 * BUFFER_TOO_SMALL, *np = want, buffer untouched. */
#define SHORT(buf, want, np, call)                                                        \
    do {                                                                                  \
        memset(buf, 0xee, sizeof buf);                                                    \
        *(np) = 0;                                                                        \
        CHECK_ST_E(err, (call), LIBSEV_STATUS_BUFFER_TOO_SMALL);                          \
        CHECK(*(np) == (want));                                                           \
        CHECK(all_bytes(buf, sizeof buf, 0xee));                                          \
        shorts++;                                                                         \
    } while (0)

static void test_short_buffers(void) {
    libsev_guest *g;
    libsev_owner_session *s = NULL;
    uint8_t b[8192], b2[8192], mn[LIBSEV_MNONCE_LEN], secret[32];
    size_t n = 0, n2 = 0, cek_len = LIBSEV_SEV_CERT_LEN;
    int shorts = 0;

    memset(mn, 9, sizeof mn);
    memset(secret, 1, sizeof secret);
    SHORT(b, (size_t)LIBSEV_SEV_CERT_LEN, &n, libsev_platform_pek_csr(src_plat, b, 2083, &n, &err));
    SHORT(b, (size_t)LIBSEV_SEV_CERT_LEN, &n,
          libsev_platform_emulated_cek(src_plat, b, cek_len - 1, &n, &err));
    SHORT(b, ask_ark_len, &n, libsev_platform_emulated_ask_ark(src_plat, b, 16, &n, &err));
    SHORT(b, (size_t)LIBSEV_CHIP_ID_LEN, &n, libsev_platform_get_id(src_plat, b, 63, &n, &err));
    /* The emulated certificates exist only on the model: a kernel platform refuses, writes
     * nothing and says where a real chip's certificates come from. */
    {
        libsev_platform *kp = NULL;
        CHECK_ST_E(err, libsev_platform_open_kvm_without_sev(&kp, &err), LIBSEV_STATUS_OK);
        if (kp != NULL) {
            memset(b, 0xee, sizeof b);
            CHECK_ST_E(err, libsev_platform_emulated_cek(kp, b, sizeof b, &n, &err),
                       LIBSEV_STATUS_INVALID_STATE);
            CHECK(strstr(err.message, "key server") != NULL);
            CHECK_ST_E(err, libsev_platform_emulated_ask_ark(kp, b, sizeof b, &n, &err),
                       LIBSEV_STATUS_INVALID_STATE);
            CHECK(all_bytes(b, sizeof b, 0xee));
            libsev_platform_free(kp);
        }
    }
    /* Two outputs: one short buffer means neither is written, both sizes are. */
    memset(b2, 0xee, sizeof b2);
    SHORT(b, (size_t)LIBSEV_SEV_CERT_LEN, &n,
          libsev_platform_pdh_cert_export(src_plat, b, 2084, &n, b2, 6251, &n2, &err));
    CHECK(n2 == LIBSEV_CERT_CHAIN_LEN && all_bytes(b2, sizeof b2, 0xee));

    g = new_guest(S_LUPDATE);
    SHORT(b, (size_t)LIBSEV_MEASUREMENT_LEN, &n, libsev_guest_launch_measure(g, b, 47, &n, &err));
    CHECK(guest_state(g, &err) == ST_LUPDATE);
    continue_guest(g, S_LUPDATE);
    SHORT(b, (size_t)LIBSEV_ATTESTATION_REPORT_LEN, &n,
          libsev_guest_attestation_report(g, mn, b, 207, &n, &err));
    SHORT(b, (size_t)LIBSEV_SESSION_BLOB_LEN, &n,
          libsev_guest_send_start(g, dst_pdh, LIBSEV_SEV_CERT_LEN, dst_chain,
                                  LIBSEV_CERT_CHAIN_LEN, ask_ark, ask_ark_len, b, 127, &n, NULL,
                                  &err));
    CHECK(guest_state(g, &err) == ST_RUNNING); /* a size query only */
    MUST_E(err, libsev_guest_send_start(g, dst_pdh, LIBSEV_SEV_CERT_LEN, dst_chain,
                                        LIBSEV_CERT_CHAIN_LEN, ask_ark, ask_ark_len, b, 128, &n,
                                        NULL, &err));
    memset(b2, 0xee, sizeof b2);
    SHORT(b, (size_t)LIBSEV_SECRET_HEADER_LEN, &n,
          libsev_guest_send_update_data(g, ram, 4096, b, 51, &n, b2, 4096, &n2, &err));
    CHECK(n2 == 4096 && all_bytes(b2, sizeof b2, 0xee));
    CHECK_ST_E(err, libsev_guest_send_cancel(g, &err), LIBSEV_STATUS_OK);
    CHECK_ST_E(err, libsev_guest_unregister_region(g, ram, RAM, &err), LIBSEV_STATUS_OK);
    libsev_guest_free(g);

    MUST_E(err, libsev_owner_session_new(dst_pdh, LIBSEV_SEV_CERT_LEN, 0, &s, &err));
    SHORT(b, (size_t)LIBSEV_GODH_CERT_LEN, &n, libsev_owner_session_godh(s, b, 100, &n, &err));
    SHORT(b, (size_t)LIBSEV_SESSION_BLOB_LEN, &n, libsev_owner_session_blob(s, b, 0, &n, &err));
    n = 0;
    CHECK_ST_E(err, libsev_owner_session_export(s, NULL, 0, &n, &err),
               LIBSEV_STATUS_BUFFER_TOO_SMALL);
    CHECK(n > 0 && n < sizeof b);
    n2 = n;
    SHORT(b, n2, &n, libsev_owner_session_export(s, b, n2 - 1, &n, &err));
    libsev_owner_session_free(s);
    printf("error_matrix: %d short-buffer calls: BUFFER_TOO_SMALL, size reported, nothing "
           "written\n",
           shorts);
}

/* ---------------------------------------------------------------------------------------- */
/* 4. Zero and unaligned lengths and addresses (sev-spec 2.7, in check order)               */

static void test_lengths_and_alignment(void) {
    libsev_guest *g = new_guest(S_LUPDATE);
    uint8_t hdr[LIBSEV_SECRET_HEADER_LEN], trans[64], m[LIBSEV_MEASUREMENT_LEN], b[64];
    size_t n = 0;

    memset(hdr, 0, sizeof hdr);
    memset(trans, 0, sizeof trans);
    /* LAUNCH_UPDATE_DATA: address before length; both the firmware's verdict. */
    CHECK_ST_E(err, libsev_guest_launch_update_data(g, ram + 8, 15, &err),
               LIBSEV_STATUS_FW_INVALID_ADDRESS);
    CHECK(err.fw_error == 0x09);
    CHECK_ST_E(err, libsev_guest_launch_update_data(g, ram + 1, 4096, &err),
               LIBSEV_STATUS_FW_INVALID_ADDRESS);
    CHECK_ST_E(err, libsev_guest_launch_update_data(g, ram, 4095, &err),
               LIBSEV_STATUS_FW_INVALID_LENGTH);
    CHECK(err.fw_error == 0x04);
    CHECK_ST_E(err, libsev_guest_launch_update_data(g, ram, 8, &err),
               LIBSEV_STATUS_FW_INVALID_LENGTH);
    /* Length 0: KVM's sev_pin_memory refuses an empty range before the firmware (EINVAL). */
    CHECK_ST_E(err, libsev_guest_launch_update_data(g, ram, 0, &err),
               LIBSEV_STATUS_KERNEL_REJECTED);
    CHECK(err.os_errno == EINVAL && err.fw_error == 0);
    CHECK(guest_state(g, &err) == ST_LUPDATE);
    MUST_E(err, libsev_guest_launch_measure(g, m, sizeof m, &n, &err));

    /* LAUNCH_SECRET: address, then lengths, then state, then MAC. */
    CHECK_ST_E(err, libsev_guest_launch_secret(g, hdr, sizeof hdr, ram + 8, 64, trans, 64, &err),
               LIBSEV_STATUS_FW_INVALID_ADDRESS);
    CHECK_ST_E(err, libsev_guest_launch_secret(g, hdr, 51, ram, 64, trans, 64, &err),
               LIBSEV_STATUS_FW_INVALID_LENGTH);
    CHECK_ST_E(err, libsev_guest_launch_secret(g, hdr, sizeof hdr, ram, 24, trans, 24, &err),
               LIBSEV_STATUS_FW_INVALID_LENGTH);
    CHECK_ST_E(err, libsev_guest_launch_secret(g, hdr, sizeof hdr, ram, 64, trans, 48, &err),
               LIBSEV_STATUS_FW_INVALID_LENGTH);
    /* guest_len 0: KVM pins the guest range first and refuses an empty one (EINVAL). */
    CHECK_ST_E(err, libsev_guest_launch_secret(g, hdr, sizeof hdr, ram, 0, trans, 0, &err),
               LIBSEV_STATUS_KERNEL_REJECTED);
    /* Well-formed but not from the owner: the MAC check. */
    memcpy(b, ram, sizeof b);
    CHECK_ST_E(err, libsev_guest_launch_secret(g, hdr, sizeof hdr, ram, 64, trans, 64, &err),
               LIBSEV_STATUS_FW_BAD_MEASUREMENT);
    CHECK(memcmp(b, ram, sizeof b) == 0);
    CHECK(guest_state(g, &err) == ST_LSECRET);
    continue_guest(g, S_LSECRET);
    /* DBG_*: KVM bounces unaligned ranges through its own pages; an empty range is EINVAL. */
    CHECK_ST_E(err, libsev_guest_dbg_decrypt(g, ram, b, 0, &err), LIBSEV_STATUS_KERNEL_REJECTED);
    CHECK_ST_E(err, libsev_guest_dbg_decrypt(g, ram + 3, b, 21, &err), LIBSEV_STATUS_OK);
    CHECK_ST_E(err, libsev_guest_unregister_region(g, ram, RAM, &err), LIBSEV_STATUS_OK);
    /* Unregistering a range that was never registered: KVM says EINVAL. */
    CHECK_ST_E(err, libsev_guest_unregister_region(g, ram, RAM, &err),
               LIBSEV_STATUS_KERNEL_REJECTED);
    libsev_guest_free(g);
    printf("error_matrix: zero/unaligned lengths and addresses refused in the firmware's "
           "check order\n");
}

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
