/*
 * The SEV launch flow from C on the firmware model, through the installed library:
 *  1. without an owner session (no GODH/session: TEK/TIK zero, policy unchecked): the launch
 *     reaches RUNNING, the measurement has the right size, and an owner session with real
 *     keys does NOT verify it (MEASUREMENT_MISMATCH, expected value still reported);
 *  2. with a session and a debug policy: the image is fed in two LAUNCH_UPDATE_DATA pieces
 *     and the owner measures the same pieces; measurement verifies; secret arrives;
 *     DBG_ENCRYPT/DBG_DECRYPT round-trip;
 *  3. with NODBG: DBG_DECRYPT and DBG_ENCRYPT are refused with FW_POLICY_FAILURE, the
 *     destination untouched;
 *  4. a launch whose policy differs from the session's is refused (policy MAC,
 *     FW_BAD_MEASUREMENT) and the same guest then launches with the right policy.
 * Exit 0 = pass, anything else = fail.
 */
#include "test_util.h"

#define RAM (1024u * 1024u) /* 1 MiB: small enough for valgrind */
#define PIECE1 (256u * 1024u)

static libsev_error err;
static libsev_platform *plat;
static uint8_t *pdh, *chain;
static libsev_platform_status_info ps;

/* Launch with a session for `policy` to RUNNING, checking the measurement and the secret. */
static libsev_guest *launch_with_session(uint32_t policy, uint8_t *ram, uint8_t *image) {
    libsev_owner_session *s = NULL;
    libsev_guest *g = NULL;
    uint8_t godh[LIBSEV_GODH_CERT_LEN], blob[LIBSEV_SESSION_BLOB_LEN];
    uint8_t m[LIBSEV_MEASUREMENT_LEN], expected[32];
    uint8_t secret[32], hdr[LIBSEV_SECRET_HEADER_LEN], trans[32];
    size_t n = 0;
    uint32_t handle = 0;

    MUST_E(err, libsev_owner_session_new(pdh, LIBSEV_SEV_CERT_LEN, policy, &s, &err));
    MUST_E(err, libsev_owner_session_godh(s, godh, sizeof godh, &n, &err));
    MUST_E(err, libsev_owner_session_blob(s, blob, sizeof blob, &n, &err));

    MUST_E(err, libsev_guest_new(plat, &g, &err));
    MUST_E(err, libsev_guest_init(g, &err));
    MUST_E(err, libsev_guest_launch_start(g, policy, 0, godh, sizeof godh, blob, sizeof blob,
                                          &handle, &err));
    CHECK(handle != 0 && guest_state(g, &err) == ST_LUPDATE);
    MUST_E(err, libsev_guest_register_region(g, ram, RAM, &err));
    memcpy(ram, image, RAM);
    /* Two pieces, in the order the owner measures them. */
    MUST_E(err, libsev_guest_launch_update_data(g, ram, PIECE1, &err));
    MUST_E(err, libsev_guest_launch_update_data(g, ram + PIECE1, RAM - PIECE1, &err));
    CHECK(memcmp(ram, image, 4096) != 0 && memcmp(ram + PIECE1, image + PIECE1, 4096) != 0);
    MUST_E(err, libsev_owner_session_measure_update(s, image, PIECE1, &err));
    MUST_E(err, libsev_owner_session_measure_update(s, image + PIECE1, RAM - PIECE1, &err));
    MUST_E(err, libsev_guest_launch_measure(g, m, sizeof m, &n, &err));
    CHECK(n == LIBSEV_MEASUREMENT_LEN && guest_state(g, &err) == ST_LSECRET);
    CHECK_ST_E(err,
               libsev_owner_session_verify_measurement(s, ps.api_major, ps.api_minor, ps.build,
                                                       m, expected, &err),
               LIBSEV_STATUS_OK);
    CHECK(memcmp(expected, m, 32) == 0);

    memset(secret, 0, sizeof secret);
    snprintf((char *)secret, sizeof secret, "secret for policy 0x%x", policy);
    MUST_E(err, libsev_owner_session_package_secret(s, secret, sizeof secret, 0, hdr, trans,
                                                    sizeof trans, &n, &err));
    CHECK_ST_E(err,
               libsev_guest_launch_secret(g, hdr, sizeof hdr, ram + 4096, n, trans, n, &err),
               LIBSEV_STATUS_OK);
    CHECK(memcmp(ram + 4096, secret, sizeof secret) != 0); /* the host sees ciphertext */
    MUST_E(err, libsev_guest_launch_finish(g, &err));
    CHECK(guest_state(g, &err) == ST_RUNNING);
    libsev_owner_session_free(s);
    return g;
}

static void test_without_session(uint8_t *ram, uint8_t *image) {
    libsev_guest *g = NULL;
    libsev_owner_session *s = NULL;
    uint8_t m[LIBSEV_MEASUREMENT_LEN], expected[32];
    size_t n = 0;
    uint32_t handle = 0;

    printf("launch_flow: without an owner session (TEK/TIK zero, policy not checked)\n");
    MUST_E(err, libsev_guest_new(plat, &g, &err));
    MUST_E(err, libsev_guest_init(g, &err));
    /* Reserved policy bits would fail the policy check, which does not run without a session. */
    CHECK_ST_E(err, libsev_guest_launch_start(g, 0x40, 0, NULL, 0, NULL, 0, &handle, &err),
               LIBSEV_STATUS_OK);
    CHECK(handle != 0);
    MUST_E(err, libsev_guest_register_region(g, ram, RAM, &err));
    memcpy(ram, image, RAM);
    MUST_E(err, libsev_guest_launch_update_data(g, ram, RAM, &err));
    memset(m, 0, sizeof m);
    MUST_E(err, libsev_guest_launch_measure(g, m, sizeof m, &n, &err));
    CHECK(n == LIBSEV_MEASUREMENT_LEN && !all_bytes(m, 32, 0));
    CHECK(guest_state(g, &err) == ST_LSECRET);
    /* An owner with real keys cannot verify a measurement made with the zero TIK. */
    MUST_E(err, libsev_owner_session_new(pdh, LIBSEV_SEV_CERT_LEN, 0, &s, &err));
    MUST_E(err, libsev_owner_session_measure_update(s, image, RAM, &err));
    memset(expected, 0, sizeof expected);
    CHECK_ST_E(err,
               libsev_owner_session_verify_measurement(s, ps.api_major, ps.api_minor, ps.build,
                                                       m, expected, &err),
               LIBSEV_STATUS_MEASUREMENT_MISMATCH);
    CHECK(!all_bytes(expected, 32, 0) && memcmp(expected, m, 32) != 0);
    libsev_owner_session_free(s);
    MUST_E(err, libsev_guest_launch_finish(g, &err));
    CHECK(guest_state(g, &err) == ST_RUNNING);
    MUST_E(err, libsev_guest_unregister_region(g, ram, RAM, &err));
    libsev_guest_free(g);
}

static void test_debug_policy(uint8_t *ram, uint8_t *image) {
    libsev_guest *g;
    uint8_t buf[4096], back[4096];

    printf("launch_flow: session, policy 0x0 (debugging allowed)\n");
    g = launch_with_session(0x0, ram, image);
    MUST_E(err, libsev_guest_dbg_decrypt(g, ram, buf, sizeof buf, &err));
    CHECK(memcmp(buf, image, sizeof buf) == 0);
    MUST_E(err, libsev_guest_dbg_decrypt(g, ram + 4096, buf, 32, &err));
    CHECK(strcmp((const char *)buf, "secret for policy 0x0") == 0);
    /* DBG_ENCRYPT then DBG_DECRYPT gives the plaintext back; the host sees ciphertext. */
    memset(buf, 0x5a, sizeof buf);
    MUST_E(err, libsev_guest_dbg_encrypt(g, buf, ram + 8192, sizeof buf, &err));
    CHECK(!all_bytes(ram + 8192, sizeof buf, 0x5a));
    MUST_E(err, libsev_guest_dbg_decrypt(g, ram + 8192, back, sizeof back, &err));
    CHECK(all_bytes(back, sizeof back, 0x5a));
    MUST_E(err, libsev_guest_unregister_region(g, ram, RAM, &err));
    libsev_guest_free(g);
}

static void test_nodbg_policy(uint8_t *ram, uint8_t *image) {
    libsev_guest *g;
    uint8_t dst[4096], src[4096], before[4096];

    printf("launch_flow: session, policy 0x1 (NODBG): DBG_DECRYPT/DBG_ENCRYPT refused\n");
    g = launch_with_session(0x1, ram, image);
    memset(dst, 0xee, sizeof dst);
    CHECK_ST_E(err, libsev_guest_dbg_decrypt(g, ram, dst, sizeof dst, &err),
               LIBSEV_STATUS_FW_POLICY_FAILURE);
    CHECK(err.fw_error == 0x07 && err.command == LIBSEV_CMD_DBG_DECRYPT);
    CHECK(all_bytes(dst, sizeof dst, 0xee));
    memset(src, 0x11, sizeof src);
    memcpy(before, ram + 8192, sizeof before);
    CHECK_ST_E(err, libsev_guest_dbg_encrypt(g, src, ram + 8192, sizeof src, &err),
               LIBSEV_STATUS_FW_POLICY_FAILURE);
    CHECK(memcmp(before, ram + 8192, sizeof before) == 0);
    CHECK(guest_state(g, &err) == ST_RUNNING);
    MUST_E(err, libsev_guest_unregister_region(g, ram, RAM, &err));
    libsev_guest_free(g);
}

static void test_policy_mismatch(void) {
    libsev_owner_session *s = NULL;
    libsev_guest *g = NULL;
    uint8_t godh[LIBSEV_GODH_CERT_LEN], blob[LIBSEV_SESSION_BLOB_LEN];
    size_t n = 0;
    uint32_t handle = 0;

    printf("launch_flow: LAUNCH_START with another policy than the session's is refused\n");
    MUST_E(err, libsev_owner_session_new(pdh, LIBSEV_SEV_CERT_LEN, 0x1, &s, &err));
    MUST_E(err, libsev_owner_session_godh(s, godh, sizeof godh, &n, &err));
    MUST_E(err, libsev_owner_session_blob(s, blob, sizeof blob, &n, &err));
    MUST_E(err, libsev_guest_new(plat, &g, &err));
    MUST_E(err, libsev_guest_init(g, &err));
    CHECK_ST_E(err,
               libsev_guest_launch_start(g, 0x0, 0, godh, sizeof godh, blob, sizeof blob,
                                         &handle, &err),
               LIBSEV_STATUS_FW_BAD_MEASUREMENT);
    CHECK(err.fw_error == 0x0b && handle == 0 && libsev_guest_handle(g) == 0);
    /* A flipped byte in the blob is refused too. */
    blob[40] ^= 1;
    CHECK_ST_E(err,
               libsev_guest_launch_start(g, 0x1, 0, godh, sizeof godh, blob, sizeof blob,
                                         &handle, &err),
               LIBSEV_STATUS_FW_BAD_MEASUREMENT);
    blob[40] ^= 1;
    CHECK_ST_E(err,
               libsev_guest_launch_start(g, 0x1, 0, godh, sizeof godh, blob, sizeof blob,
                                         &handle, &err),
               LIBSEV_STATUS_OK);
    CHECK(handle != 0 && guest_state(g, &err) == ST_LUPDATE);
    libsev_guest_free(g);
    libsev_owner_session_free(s);
}

int main(void) {
    uint8_t *ram = map_ram(RAM), *image = malloc(RAM);

    if (image == NULL)
        return 1;
    fill_image(image, RAM, 0x1234);
    plat = model_platform(0x21, &err);
    MUST_E(err, libsev_platform_pek_gen(plat, &err)); /* initialises the platform */
    MUST_E(err, libsev_platform_status(plat, &ps, &err));
    export_pdh(plat, &pdh, &chain, &err);

    test_without_session(ram, image);
    test_debug_policy(ram, image);
    test_nodbg_policy(ram, image);
    test_policy_mismatch();

    libsev_platform_free(plat);
    free(pdh);
    free(chain);
    free(image);
    munmap(ram, RAM);
    if (failures) {
        printf("launch_flow: FAIL (%d checks failed)\n", failures);
        return 1;
    }
    printf("launch_flow: PASS\n");
    return 0;
}
