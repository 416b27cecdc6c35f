/*
 * Huge lengths with memory that really is that long (issue: an allocation sized by the
 * caller's length killed the process). A 256 GiB range is mapped PROT_NONE with MAP_NORESERVE
 * (address space only: any access would fault, so "nothing read or written" is checked by the
 * process surviving), and handed to every call that takes a length:
 *
 *  - SEND_UPDATE_DATA of 256 GiB into a 256 GiB transport buffer, on a guest in SUPDATE (where
 *    the header-length query succeeds): LIBSEV_STATUS_INVALID_LENGTH, the sizes written to
 *    *_out_len, no allocation (libsev 0.1.0 allocated a 256 GiB bounce buffer and aborted);
 *  - the same with a short transport buffer: BUFFER_TOO_SMALL with the sizes;
 *  - RECEIVE_UPDATE_DATA, LAUNCH_SECRET, DBG_DECRYPT/ENCRYPT with a 256 GiB length, and the
 *    owner's package_secret with a 256 GiB secret: INVALID_LENGTH, nothing touched;
 *  - a 256 GiB writable (MAP_NORESERVE) output buffer for GET_ATTESTATION_REPORT: the report
 *    (208 bytes) is written into it by one call, nothing else is touched or allocated.
 *
 * Where the address space cannot be had (valgrind limits it), 8 GiB (still beyond every
 * 32-bit length field) stands in, and the test says so.
 * Exit 0 = pass, anything else = fail.
 */
#include "test_util.h"

#include <errno.h>

#define PAGE 4096u
#define CERT LIBSEV_SEV_CERT_LEN
#define CHAIN LIBSEV_CERT_CHAIN_LEN

static libsev_error err;

#define CHECK_ST(got, want) CHECK_ST_E(err, got, want)
#define MUST(call) MUST_E(err, call)

static uint8_t *map_huge(size_t *len, int prot) {
    size_t sizes[] = {(size_t)256 << 30, (size_t)8 << 30};
    unsigned i;
    for (i = 0; i < 2; i++) {
        void *p = mmap(NULL, sizes[i], prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p != MAP_FAILED) {
            if (i > 0)
                printf("note: a 256 GiB mapping failed (%s); using %zu GiB\n", strerror(errno),
                       sizes[i] >> 30);
            *len = sizes[i];
            return p;
        }
    }
    /* 77: the run-time skip (valgrind's address space manager may refuse even 8 GiB). */
    printf("cannot map %zu GiB of address space here (%s)\n", sizes[1] >> 30, strerror(errno));
    exit(77);
}

int main(void) {
    libsev_platform *p;
    libsev_guest *g;
    libsev_owner_session *s;
    uint8_t *ram, *huge, *huge2, *huge_rw;
    size_t huge_len, huge2_len, rw_len, hl = 0, tl = 0, n = 0;
    uint8_t pdh[CERT], chain[CHAIN], amd[8192], session[LIBSEV_SESSION_BLOB_LEN];
    uint8_t hdr[LIBSEV_SECRET_HEADER_LEN], small[64], nonce[LIBSEV_MNONCE_LEN];
    uint8_t godh[LIBSEV_GODH_CERT_LEN], blob[LIBSEV_SESSION_BLOB_LEN];
    uint8_t m[LIBSEV_MEASUREMENT_LEN], image[16 * PAGE];
    libsev_platform_status_info ps;
    uint32_t pol = 0;
    size_t a = 0, b = 0, amd_len = 0;

    memset(&err, 0, sizeof err);
    huge = map_huge(&huge_len, PROT_NONE);
    huge2 = map_huge(&huge2_len, PROT_NONE);
    huge_rw = map_huge(&rw_len, PROT_READ | PROT_WRITE);
    printf("mapped %zu GiB twice (PROT_NONE) and %zu GiB (writable, not reserved)\n",
           huge_len >> 30, rw_len >> 30);

    p = model_platform(0x2b, &err);
    MUST(libsev_platform_pdh_cert_export(p, pdh, CERT, &a, chain, CHAIN, &b, &err));
    MUST(libsev_platform_emulated_cek(p, chain + 2 * CERT, CERT, &n, &err));
    MUST(libsev_platform_emulated_ask_ark(p, amd, sizeof amd, &amd_len, &err));

    /* A guest launched with an owner session; the measurement verifies; RUNNING. */
    MUST(libsev_owner_session_new(pdh, CERT, 0, &s, &err));
    MUST(libsev_owner_session_godh(s, godh, sizeof godh, &a, &err));
    MUST(libsev_owner_session_blob(s, blob, sizeof blob, &a, &err));
    ram = map_ram(16 * PAGE);
    fill_image(image, sizeof image, 7);
    memcpy(ram, image, sizeof image);
    MUST(libsev_guest_new(p, &g, &err));
    MUST(libsev_guest_init(g, &err));
    MUST(libsev_guest_launch_start(g, 0, 0, godh, sizeof godh, blob, sizeof blob, NULL, &err));
    MUST(libsev_guest_register_region(g, ram, 16 * PAGE, &err));
    MUST(libsev_guest_launch_update_data(g, ram, 16 * PAGE, &err));
    MUST(libsev_owner_session_measure_update(s, image, sizeof image, &err));
    MUST(libsev_guest_launch_measure(g, m, sizeof m, &a, &err));
    MUST(libsev_platform_status(p, &ps, &err));
    MUST(libsev_owner_session_verify_measurement(s, ps.api_major, ps.api_minor, ps.build, m, NULL,
                                                 &err));
    MUST(libsev_guest_launch_finish(g, &err));

    /* A huge writable output buffer: one report, written at its start. */
    memset(nonce, 0x3c, sizeof nonce);
    n = 0;
    CHECK_ST(libsev_guest_attestation_report(g, nonce, huge_rw, rw_len, &n, &err),
             LIBSEV_STATUS_OK);
    CHECK(n == LIBSEV_ATTESTATION_REPORT_LEN);
    CHECK(memcmp(huge_rw, nonce, sizeof nonce) == 0);
    CHECK(all_bytes(huge_rw + n, PAGE - n, 0));

    MUST(libsev_guest_send_start(g, pdh, CERT, chain, CHAIN, amd, amd_len, session,
                                 sizeof session, &a, &pol, &err));
    CHECK(guest_state(g, &err) == ST_SUPDATE);

    /* The defect: a 256 GiB packet into a 256 GiB transport buffer. */
    hl = tl = 0;
    CHECK_ST(libsev_guest_send_update_data(g, huge, huge_len, hdr, sizeof hdr, &hl, huge2,
                                           huge2_len, &tl, &err),
             LIBSEV_STATUS_INVALID_LENGTH);
    CHECK(hl == LIBSEV_SECRET_HEADER_LEN && tl == huge_len);
    CHECK(err.command == LIBSEV_CMD_SEND_UPDATE_DATA);
    /* A short transport buffer: the sizes, nothing else. */
    CHECK_ST(libsev_guest_send_update_data(g, huge, huge_len, hdr, sizeof hdr, &hl, small,
                                           sizeof small, &tl, &err),
             LIBSEV_STATUS_BUFFER_TOO_SMALL);
    CHECK(tl == huge_len);
    CHECK(strstr(err.message, "trans_buf") != NULL);
    /* The guest is unharmed: a normal packet still goes. */
    {
        static uint8_t trans[PAGE];
        CHECK_ST(libsev_guest_send_update_data(g, ram, PAGE, hdr, sizeof hdr, &hl, trans,
                                               sizeof trans, &tl, &err),
                 LIBSEV_STATUS_OK);
        CHECK(tl == PAGE);
    }

    /* Neighbours: every other length the kernel holds in 32 bits. */
    CHECK_ST(libsev_guest_receive_update_data(g, hdr, sizeof hdr, ram, PAGE, huge, huge_len,
                                              &err),
             LIBSEV_STATUS_INVALID_LENGTH);
    CHECK_ST(libsev_guest_launch_secret(g, hdr, sizeof hdr, ram, PAGE, huge, huge_len, &err),
             LIBSEV_STATUS_INVALID_LENGTH);
    CHECK_ST(libsev_guest_dbg_decrypt(g, huge, huge2, huge_len, &err),
             LIBSEV_STATUS_INVALID_LENGTH);
    CHECK_ST(libsev_guest_dbg_encrypt(g, huge, huge2, huge_len, &err),
             LIBSEV_STATUS_INVALID_LENGTH);
    CHECK_ST(libsev_guest_send_start(g, huge, huge_len, chain, CHAIN, amd, amd_len, session,
                                     sizeof session, &a, &pol, &err),
             LIBSEV_STATUS_INVALID_LENGTH);
    CHECK(guest_state(g, &err) == ST_SUPDATE);

    /* The owner's side: a 256 GiB secret is refused by its length, unread (with and without
     * padding, and with a huge output buffer). */
    CHECK_ST(libsev_owner_session_package_secret(s, huge, huge_len, 0, hdr, small, sizeof small,
                                                 &tl, &err),
             LIBSEV_STATUS_INVALID_LENGTH);
    CHECK_ST(libsev_owner_session_package_secret(s, huge, huge_len, LIBSEV_SECRET_PAD, hdr,
                                                 huge_rw, rw_len, &tl, &err),
             LIBSEV_STATUS_INVALID_LENGTH);
    libsev_owner_session_free(s);

    libsev_guest_free(g);
    libsev_platform_free(p);
    munmap(huge, huge_len);
    munmap(huge2, huge2_len);
    munmap(huge_rw, rw_len);
    munmap(ram, 16 * PAGE);
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("OK\n");
    return 0;
}
