/*
 * libsev demo: a QEMU-style hypervisor launching an SEV guest on libsev's built-in firmware
 * model, and a guest owner (a second process, talking over a socket) that verifies the
 * platform before trusting it with a secret.
 *
 *   hypervisor (parent)                          guest owner (forked child)
 *   -------------------                          --------------------------
 *   PLATFORM_STATUS, GET_ID, PDH_CERT_EXPORT,
 *   emulated CEK + ASK||ARK (key server role) --> verify PDH <- PEK <- OCA/CEK <- ASK <- ARK
 *                                             <-- GODH certificate + session blob, policy
 *   KVM_SEV_INIT, LAUNCH_START, REG_REGION,
 *   load a 16 MiB firmware image into guest RAM,
 *   LAUNCH_UPDATE_DATA (in place), LAUNCH_MEASURE --> measure its own copy of the image,
 *                                                     verify the measurement
 *                                             <-- LAUNCH_SECRET packet
 *   LAUNCH_SECRET, read back (DBG_DECRYPT)    --> compare with what it sent
 *   tampered packet refused, LAUNCH_FINISH,
 *   GET_ATTESTATION_REPORT                    --> verify the report with the PEK
 *
 * Usage: demo [--platform-from-env]
 *   default: libsev_platform_new_emulated (the model, whatever LIBSEV_PLATFORM says)
 *   --platform-from-env: libsev_platform_open, i.e. LIBSEV_PLATFORM decides, as an unmodified
 *   hypervisor would do (LIBSEV_PLATFORM=emulated for the model).
 *
 * Exit status 0 when every step succeeded and every check held; 1 otherwise.
 */
#define _GNU_SOURCE
#include <libsev.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024u * 1024u)
#define GUEST_RAM_SIZE (64u * MIB)
#define IMAGE_SIZE (16u * MIB)
#define IMAGE_GPA (GUEST_RAM_SIZE - IMAGE_SIZE) /* "flash" at the top of guest RAM */
#define SECRET_LEN 64u

/* Guest policy the owner asks for: 0 = debugging allowed, key sharing allowed, no ES. */
#define DEMO_POLICY 0x00000000u

/* ---------------------------------------------------------------------------------------- */
/* The firmware image. Both sides generate it from the same recipe: the hypervisor loads it   */
/* into guest RAM, the owner measures its own copy (as an owner measures its OVMF build).     */

struct image_header {
    uint8_t zero_vector[16];
    uint8_t fs_guid[16];
    uint64_t fv_length;
    char signature[4]; /* "_FVH", as in a UEFI firmware volume header */
    uint32_t attributes;
    char product[32];
    uint64_t secret_gpa; /* where the firmware expects the launch secret (like OVMF's table) */
    uint32_t secret_len;
    uint32_t reserved;
};

static void make_firmware_image(uint8_t *img, size_t len) {
    struct image_header h;
    uint64_t x = 0x5eed0f0fdeadbeefull;
    size_t i;

    for (i = 0; i + 8 <= len; i += 8) { /* xorshift64* stream */
        uint64_t v;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        v = x * 0x2545f4914f6cdd1dull;
        memcpy(img + i, &v, 8);
    }
    memset(&h, 0, sizeof h);
    memcpy(h.fs_guid, "\x78\xe5\x8c\x8c\x3d\x8a\x1c\x4f\x99\x35\x89\x61\x85\xc3\x2d\xd3", 16);
    h.fv_length = len;
    memcpy(h.signature, "_FVH", 4);
    h.attributes = 0x0004feff;
    snprintf(h.product, sizeof h.product, "libsev demo firmware 1.0");
    h.secret_gpa = 0x00800000; /* 8 MiB into guest RAM */
    h.secret_len = SECRET_LEN;
    memcpy(img, &h, sizeof h);
    /* A reset vector in the last 16 bytes: jmp to a (fictitious) SEC entry, then hlt. */
    memcpy(img + len - 16, "\x90\x90\xe9\x3d\xff\xf4\xeb\xfd\x00\x00\x00\x00\x00\x00\x00\x00", 16);
}

/* ---------------------------------------------------------------------------------------- */
/* A tiny framed protocol over a socket: u32 tag, u32 length, payload.                       */

enum tag {
    T_PLATFORM = 1, /* api_major, api_minor, build, state */
    T_CHIP_ID,
    T_PDH,
    T_CHAIN,
    T_CEK,
    T_ASK_ARK,
    T_POLICY,
    T_GODH,
    T_BLOB,
    T_MEASUREMENT,
    T_SECRET_HDR,
    T_SECRET_TRANS,
    T_READBACK,
    T_NONCE,
    T_REPORT,
    T_VERDICT, /* one byte: 1 = ok */
};

struct msg {
    uint8_t *p;
    size_t n;
};

static int write_all(int fd, const void *buf, size_t n) {
    const uint8_t *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, void *buf, size_t n) {
    uint8_t *p = buf;
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static int send_msg(int fd, uint32_t tag, const void *p, size_t n) {
    uint32_t h[2] = {tag, (uint32_t)n};
    if (write_all(fd, h, sizeof h) != 0 || write_all(fd, p, n) != 0) {
        fprintf(stderr, "demo: sending message %u failed: %s\n", tag, strerror(errno));
        return -1;
    }
    return 0;
}

/* Receive a message with the expected tag (and, if want_len != 0, exactly that length). */
static int recv_msg(int fd, uint32_t tag, size_t want_len, struct msg *m) {
    uint32_t h[2];
    m->p = NULL;
    m->n = 0;
    if (read_all(fd, h, sizeof h) != 0) {
        fprintf(stderr, "demo: peer closed the channel while waiting for message %u\n", tag);
        return -1;
    }
    if (h[0] != tag || h[1] > 64u * MIB || (want_len != 0 && h[1] != want_len)) {
        fprintf(stderr, "demo: expected message %u (%zu bytes), got %u (%u bytes)\n", tag,
                want_len, h[0], h[1]);
        return -1;
    }
    m->n = h[1];
    m->p = malloc(m->n ? m->n : 1);
    if (m->p == NULL || read_all(fd, m->p, m->n) != 0) {
        fprintf(stderr, "demo: reading message %u failed\n", tag);
        free(m->p);
        m->p = NULL;
        return -1;
    }
    return 0;
}

static void msg_free(struct msg *m) {
    free(m->p);
    m->p = NULL;
    m->n = 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Helpers                                                                                   */

static libsev_error err;

/* Check a libsev call; on failure print where, the status and libsev's message. */
#define TRY(call)                                                                           \
    do {                                                                                    \
        uint32_t st_ = (call);                                                              \
        if (st_ != LIBSEV_STATUS_OK) {                                                      \
            fprintf(stderr, "demo: %s failed: %s (status %u, fw 0x%02x, errno %d): %s\n",   \
                    #call, libsev_status_str(st_), st_, err.fw_error, err.os_errno,         \
                    err.message);                                                           \
            goto out;                                                                       \
        }                                                                                   \
    } while (0)

#define REQUIRE(cond, ...)                                                                  \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            fprintf(stderr, "demo: check failed (%s): ", #cond);                            \
            fprintf(stderr, __VA_ARGS__);                                                   \
            fputc('\n', stderr);                                                            \
            goto out;                                                                       \
        }                                                                                   \
    } while (0)

static void hex(char *dst, const uint8_t *p, size_t n) {
    static const char d[] = "0123456789abcdef";
    size_t i;
    for (i = 0; i < n; i++) {
        dst[2 * i] = d[p[i] >> 4];
        dst[2 * i + 1] = d[p[i] & 15];
    }
    dst[2 * n] = '\0';
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static const char *guest_state_name(uint32_t s) {
    static const char *names[] = {"UNINIT", "LUPDATE", "LSECRET", "RUNNING",
                                  "SUPDATE", "RUPDATE", "SENT"};
    return s < 7 ? names[s] : "?";
}

static const char *platform_state_name(uint32_t s) {
    static const char *names[] = {"UNINIT", "INIT", "WORKING"};
    return s < 3 ? names[s] : "?";
}

static void describe_policy(char *dst, size_t n, uint32_t policy) {
    snprintf(dst, n, "0x%08x (debugging %s, key sharing %s, SEV-ES %s, migration %s)", policy,
             (policy & 1) ? "forbidden" : "allowed", (policy & 2) ? "forbidden" : "allowed",
             (policy & 4) ? "required" : "not required", (policy & 8) ? "forbidden" : "allowed");
}

/* ---------------------------------------------------------------------------------------- */
/* The guest owner (child process)                                                           */

static int guest_owner(int fd) {
    int rc = 1;
    struct msg plat = {0}, chip = {0}, pdh = {0}, chain = {0}, cek = {0}, ask_ark = {0};
    struct msg meas = {0}, readback = {0}, report = {0};
    libsev_chain_result cr;
    libsev_owner_session *session = NULL;
    libsev_attestation_info ai;
    uint8_t godh[LIBSEV_GODH_CERT_LEN], blob[LIBSEV_SESSION_BLOB_LEN];
    uint8_t secret[SECRET_LEN], hdr[LIBSEV_SECRET_HEADER_LEN], trans[SECRET_LEN];
    uint8_t digest[32], expected[32], nonce[LIBSEV_MNONCE_LEN], ok = 1;
    uint8_t *image = NULL;
    uint32_t policy = DEMO_POLICY;
    size_t n = 0;
    char h[2 * 64 + 1];
    int ufd;

    if (recv_msg(fd, T_PLATFORM, 4, &plat) || recv_msg(fd, T_CHIP_ID, 0, &chip) ||
        recv_msg(fd, T_PDH, LIBSEV_SEV_CERT_LEN, &pdh) ||
        recv_msg(fd, T_CHAIN, LIBSEV_CERT_CHAIN_LEN, &chain) ||
        recv_msg(fd, T_CEK, LIBSEV_SEV_CERT_LEN, &cek) || recv_msg(fd, T_ASK_ARK, 0, &ask_ark))
        goto out;

    /* 1. The chain: PDH <- PEK <- OCA and CEK <- ASK <- ARK, with the key server's CEK. */
    memset(&cr, 0, sizeof cr);
    TRY(libsev_chain_verify(pdh.p, pdh.n, chain.p, chain.n, cek.p, cek.n, ask_ark.p, ask_ark.n,
                            LIBSEV_VERIFY_ALLOW_TEST_ROOT, &cr, &err));
    REQUIRE(cr.failed_link == LIBSEV_LINK_NONE, "failed link %u", cr.failed_link);
    printf("chain:    PDH <- PEK <- OCA/CEK <- ASK <- ARK verified (root: %s%s)\n",
           cr.root_kind == LIBSEV_ROOT_TEST_ONLY ? "libsev test-only root, allowed for this demo"
           : cr.root_kind == LIBSEV_ROOT_AMD     ? "AMD "
                                                 : "unknown",
           cr.root_kind == LIBSEV_ROOT_AMD ? cr.generation_name : "");
    /* Without the explicit permission the same chain must be refused. */
    REQUIRE(libsev_chain_verify(pdh.p, pdh.n, chain.p, chain.n, cek.p, cek.n, ask_ark.p,
                                ask_ark.n, 0, NULL, &err) ==
                (cr.root_kind == LIBSEV_ROOT_TEST_ONLY ? LIBSEV_STATUS_TEST_ROOT_NOT_ALLOWED
                                                       : LIBSEV_STATUS_OK),
            "the test-only root was accepted without LIBSEV_VERIFY_ALLOW_TEST_ROOT");

    /* 2. The session for this PDH: GODH certificate and session blob for LAUNCH_START. */
    TRY(libsev_owner_session_new(pdh.p, pdh.n, policy, &session, &err));
    TRY(libsev_owner_session_godh(session, godh, sizeof godh, &n, &err));
    TRY(libsev_owner_session_blob(session, blob, sizeof blob, &n, &err));
    if (send_msg(fd, T_POLICY, &policy, sizeof policy) ||
        send_msg(fd, T_GODH, godh, sizeof godh) || send_msg(fd, T_BLOB, blob, sizeof blob))
        goto out;

    /* 3. The expected launch digest, from the owner's own copy of the firmware. */
    image = malloc(IMAGE_SIZE);
    REQUIRE(image != NULL, "out of memory");
    make_firmware_image(image, IMAGE_SIZE);
    TRY(libsev_owner_session_measure_update(session, image, IMAGE_SIZE, &err));
    TRY(libsev_owner_session_launch_digest(session, digest, &err));

    if (recv_msg(fd, T_MEASUREMENT, LIBSEV_MEASUREMENT_LEN, &meas))
        goto out;
    TRY(libsev_owner_session_verify_measurement(session, plat.p[0], plat.p[1], plat.p[2], meas.p,
                                                expected, &err));
    hex(h, meas.p, 8);
    printf("measure:  LAUNCH_MEASURE %s... verified by the owner (launch digest ", h);
    hex(h, digest, 8);
    printf("%s..., API %u.%u)\n", h, plat.p[0], plat.p[1]);

    /* 4. The secret, for this guest only. */
    memset(secret, 0, sizeof secret);
    snprintf((char *)secret, sizeof secret, "disk-key=8c1f2e0b7a5d4c3b9e6f0a1d2c3b4a59; owner=demo");
    TRY(libsev_owner_session_package_secret(session, secret, sizeof secret, 0, hdr, trans,
                                            sizeof trans, &n, &err));
    REQUIRE(n == sizeof trans, "transport length %zu", n);
    if (send_msg(fd, T_SECRET_HDR, hdr, sizeof hdr) || send_msg(fd, T_SECRET_TRANS, trans, n))
        goto out;
    if (recv_msg(fd, T_READBACK, SECRET_LEN, &readback))
        goto out;
    ok = memcmp(readback.p, secret, SECRET_LEN) == 0;
    if (send_msg(fd, T_VERDICT, &ok, 1))
        goto out;
    REQUIRE(ok, "the guest holds other bytes than the secret the owner sent");

    /* 5. Attestation after the launch: fresh nonce, report signed by the PEK. */
    ufd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    REQUIRE(ufd >= 0 && read_all(ufd, nonce, sizeof nonce) == 0, "no /dev/urandom");
    close(ufd);
    if (send_msg(fd, T_NONCE, nonce, sizeof nonce) ||
        recv_msg(fd, T_REPORT, LIBSEV_ATTESTATION_REPORT_LEN, &report))
        goto out;
    /* The PEK is the first certificate of PEK || OCA || CEK, which the chain check covered. */
    TRY(libsev_attestation_verify(report.p, report.n, chain.p, LIBSEV_SEV_CERT_LEN, &ai, &err));
    REQUIRE(memcmp(ai.mnonce, nonce, sizeof nonce) == 0, "the report carries another nonce");
    REQUIRE(memcmp(ai.launch_digest, digest, sizeof digest) == 0,
            "the report's launch digest is not the owner's");
    REQUIRE(ai.policy == policy, "report policy 0x%x", ai.policy);
    printf("attest:   GET_ATTESTATION_REPORT signed by the PEK: owner's nonce, launch digest "
           "and policy match\n");
    rc = 0;
out:
    libsev_owner_session_free(session);
    free(image);
    msg_free(&plat);
    msg_free(&chip);
    msg_free(&pdh);
    msg_free(&chain);
    msg_free(&cek);
    msg_free(&ask_ark);
    msg_free(&meas);
    msg_free(&readback);
    msg_free(&report);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* The hypervisor (parent process)                                                           */

static int hypervisor(int fd, int from_env) {
    int rc = 1;
    libsev_platform *platform = NULL;
    libsev_guest *guest = NULL;
    libsev_platform_status_info ps;
    libsev_guest_status_info gs;
    struct msg policy_m = {0}, godh = {0}, blob = {0}, hdr = {0}, trans = {0}, verdict = {0};
    struct msg nonce = {0};
    uint8_t *ram = MAP_FAILED, *image, *secret_hva;
    uint8_t *pdh = NULL, *chain = NULL, *cek = NULL, *ask_ark = NULL, *chip = NULL;
    uint8_t meas[LIBSEV_MEASUREMENT_LEN], plain[SECRET_LEN], before[SECRET_LEN];
    uint8_t check[4096], report[LIBSEV_ATTESTATION_REPORT_LEN], plat_info[4];
    size_t pdh_n = 0, chain_n = 0, cek_n = 0, ask_ark_n = 0, chip_n = 0, n = 0;
    struct image_header ih;
    uint32_t handle = 0, policy, st;
    char h[2 * 64 + 1], pol[160];
    double t0, t1;
    int registered = 0;

    /* sev_kvm_init: the platform, PLATFORM_STATUS, the chip id. */
    if (from_env)
        TRY(libsev_platform_open(&platform, &err));
    else
        TRY(libsev_platform_new_emulated(NULL, &platform, &err));
    TRY(libsev_platform_status(platform, &ps, &err));
    TRY(libsev_platform_get_id(platform, NULL, 0, &chip_n, &err) == LIBSEV_STATUS_BUFFER_TOO_SMALL
            ? LIBSEV_STATUS_OK
            : LIBSEV_STATUS_INTERNAL);
    chip = malloc(chip_n);
    REQUIRE(chip != NULL, "out of memory");
    TRY(libsev_platform_get_id(platform, chip, chip_n, &chip_n, &err));
    hex(h, chip, 8);
    printf("platform: %s, API %u.%u build %u, state %s, chip id %s...\n",
           libsev_platform_is_emulated(platform) ? "built-in SEV firmware model" : "/dev/sev",
           ps.api_major, ps.api_minor, ps.build, platform_state_name(ps.state), h);

    /* query-sev-capabilities: PDH and PEK || OCA || CEK; the key server's CEK and ASK||ARK. */
    TRY(libsev_platform_pdh_cert_export(platform, NULL, 0, &pdh_n, NULL, 0, &chain_n, &err) ==
                LIBSEV_STATUS_BUFFER_TOO_SMALL
            ? LIBSEV_STATUS_OK
            : LIBSEV_STATUS_INTERNAL);
    pdh = malloc(pdh_n);
    chain = malloc(chain_n);
    REQUIRE(pdh != NULL && chain != NULL, "out of memory");
    TRY(libsev_platform_pdh_cert_export(platform, pdh, pdh_n, &pdh_n, chain, chain_n, &chain_n,
                                        &err));
    TRY(libsev_platform_emulated_cek(platform, NULL, 0, &cek_n, &err) ==
                LIBSEV_STATUS_BUFFER_TOO_SMALL
            ? LIBSEV_STATUS_OK
            : LIBSEV_STATUS_INTERNAL);
    TRY(libsev_platform_emulated_ask_ark(platform, NULL, 0, &ask_ark_n, &err) ==
                LIBSEV_STATUS_BUFFER_TOO_SMALL
            ? LIBSEV_STATUS_OK
            : LIBSEV_STATUS_INTERNAL);
    cek = malloc(cek_n);
    ask_ark = malloc(ask_ark_n);
    REQUIRE(cek != NULL && ask_ark != NULL, "out of memory");
    TRY(libsev_platform_emulated_cek(platform, cek, cek_n, &cek_n, &err));
    TRY(libsev_platform_emulated_ask_ark(platform, ask_ark, ask_ark_n, &ask_ark_n, &err));
    plat_info[0] = ps.api_major;
    plat_info[1] = ps.api_minor;
    plat_info[2] = ps.build;
    plat_info[3] = ps.state;
    if (send_msg(fd, T_PLATFORM, plat_info, 4) || send_msg(fd, T_CHIP_ID, chip, chip_n) ||
        send_msg(fd, T_PDH, pdh, pdh_n) || send_msg(fd, T_CHAIN, chain, chain_n) ||
        send_msg(fd, T_CEK, cek, cek_n) || send_msg(fd, T_ASK_ARK, ask_ark, ask_ark_n))
        goto out;

    /* The owner answers with its policy, GODH certificate and session blob
     * (QEMU: -object sev-guest,policy=...,dh-cert-file=...,session-file=...). */
    if (recv_msg(fd, T_POLICY, 4, &policy_m) || recv_msg(fd, T_GODH, 0, &godh) ||
        recv_msg(fd, T_BLOB, 0, &blob))
        goto out;
    memcpy(&policy, policy_m.p, 4);
    describe_policy(pol, sizeof pol, policy);
    printf("policy:   %s\n", pol);

    /* Guest RAM, and the firmware image loaded at the top of it (QEMU's pflash). */
    ram = mmap(NULL, GUEST_RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(ram != MAP_FAILED, "mmap of %u MiB guest RAM: %s", GUEST_RAM_SIZE / MIB,
            strerror(errno));
    image = ram + IMAGE_GPA;
    make_firmware_image(image, IMAGE_SIZE);
    memcpy(&ih, image, sizeof ih);
    REQUIRE(memcmp(ih.signature, "_FVH", 4) == 0 && ih.fv_length == IMAGE_SIZE,
            "the firmware image has no volume header");
    REQUIRE(ih.secret_gpa + ih.secret_len <= IMAGE_GPA && ih.secret_gpa % 16 == 0,
            "the firmware's secret area is outside RAM");
    secret_hva = ram + ih.secret_gpa;

    /* sev_kvm_init -> KVM_SEV_INIT, sev_launch_start, sev_ram_block_added. */
    TRY(libsev_guest_new(platform, &guest, &err));
    TRY(libsev_guest_init(guest, &err));
    TRY(libsev_guest_launch_start(guest, policy, 0, godh.p, godh.n, blob.p, blob.n, &handle,
                                  &err));
    TRY(libsev_guest_register_region(guest, ram, GUEST_RAM_SIZE, &err));
    registered = 1;

    /* sev_encrypt_flash -> LAUNCH_UPDATE_DATA, in place. */
    memcpy(check, image, sizeof check);
    t0 = now_ms();
    TRY(libsev_guest_launch_update_data(guest, image, IMAGE_SIZE, &err));
    t1 = now_ms();
    REQUIRE(memcmp(check, image, sizeof check) != 0, "the image is still plaintext");
    printf("launch:   KVM_SEV_INIT; LAUNCH_START handle %u; REG_REGION %u MiB; "
           "LAUNCH_UPDATE_DATA %u MiB in place in %.1f ms (%.0f MiB/s); host now sees "
           "ciphertext\n",
           handle, GUEST_RAM_SIZE / MIB, IMAGE_SIZE / MIB, t1 - t0,
           (double)(IMAGE_SIZE / MIB) / ((t1 - t0) / 1e3));
    /* The guest (through the debug interface) still sees the firmware's plaintext. */
    TRY(libsev_guest_dbg_decrypt(guest, image, before, sizeof before, &err));
    REQUIRE(memcmp(before, check, sizeof before) == 0, "DBG_DECRYPT does not give the image");

    /* sev_launch_get_measure -> LAUNCH_MEASURE (size query first, as QEMU does). */
    TRY(libsev_guest_launch_measure(guest, NULL, 0, &n, &err) == LIBSEV_STATUS_BUFFER_TOO_SMALL
            ? LIBSEV_STATUS_OK
            : LIBSEV_STATUS_INTERNAL);
    REQUIRE(n == sizeof meas, "measurement size %zu", n);
    TRY(libsev_guest_launch_measure(guest, meas, sizeof meas, &n, &err));
    fflush(stdout);
    if (send_msg(fd, T_MEASUREMENT, meas, sizeof meas))
        goto out;

    /* sev_inject_launch_secret -> LAUNCH_SECRET into the firmware's secret area. */
    if (recv_msg(fd, T_SECRET_HDR, LIBSEV_SECRET_HEADER_LEN, &hdr) ||
        recv_msg(fd, T_SECRET_TRANS, 0, &trans))
        goto out;
    REQUIRE(trans.n == ih.secret_len, "secret of %zu bytes for a %u-byte area", trans.n,
            ih.secret_len);
    TRY(libsev_guest_launch_secret(guest, hdr.p, hdr.n, secret_hva, trans.n, trans.p, trans.n,
                                   &err));
    TRY(libsev_guest_dbg_decrypt(guest, secret_hva, plain, sizeof plain, &err));
    plain[sizeof plain - 1] = '\0';
    printf("secret:   LAUNCH_SECRET %zu bytes injected at GPA 0x%" PRIx64
           "; the guest reads back \"%s\" (via DBG_DECRYPT, debug policy)\n",
           trans.n, ih.secret_gpa, (const char *)plain);
    TRY(libsev_guest_dbg_decrypt(guest, secret_hva, plain, sizeof plain, &err));
    fflush(stdout);
    if (send_msg(fd, T_READBACK, plain, sizeof plain) || recv_msg(fd, T_VERDICT, 1, &verdict))
        goto out;
    REQUIRE(verdict.p[0] == 1, "the owner says the guest holds the wrong secret");
    printf("owner:    confirms the guest holds exactly the secret it sent\n");

    /* The attack: a host that changes one ciphertext byte of the packet is refused, and the
     * guest's memory stays as it was. */
    memcpy(before, secret_hva, sizeof before);
    trans.p[5] ^= 0x01;
    st = libsev_guest_launch_secret(guest, hdr.p, hdr.n, secret_hva, trans.n, trans.p, trans.n,
                                    &err);
    REQUIRE(st == LIBSEV_STATUS_FW_BAD_MEASUREMENT,
            "tampered packet: %s (status %u): %s", libsev_status_str(st), st, err.message);
    REQUIRE(memcmp(before, secret_hva, sizeof before) == 0, "guest memory changed");
    printf("attack:   tampered secret packet refused: firmware status 0x%02x %s (libsev status "
           "%u); guest memory unchanged\n",
           err.fw_error, libsev_fw_error_str(err.fw_error), st);

    /* sev_launch_finish -> LAUNCH_FINISH. */
    TRY(libsev_guest_launch_finish(guest, &err));
    TRY(libsev_guest_status(guest, &gs, &err));
    REQUIRE(gs.state == 3 && gs.handle == handle && gs.policy == policy, "guest status %u",
            gs.state);
    printf("finish:   LAUNCH_FINISH; GUEST_STATUS: %s (handle %u, policy 0x%08x)\n",
           guest_state_name(gs.state), gs.handle, gs.policy);

    /* query-sev-attestation-report -> GET_ATTESTATION_REPORT with the owner's nonce. */
    fflush(stdout);
    if (recv_msg(fd, T_NONCE, LIBSEV_MNONCE_LEN, &nonce))
        goto out;
    TRY(libsev_guest_attestation_report(guest, nonce.p, report, sizeof report, &n, &err));
    if (send_msg(fd, T_REPORT, report, n))
        goto out;
    rc = 0;
out:
    if (registered && libsev_guest_unregister_region(guest, ram, GUEST_RAM_SIZE, &err) != 0) {
        fprintf(stderr, "demo: unregister: %s\n", err.message);
        rc = 1;
    }
    libsev_guest_free(guest);
    libsev_platform_free(platform);
    if (ram != MAP_FAILED)
        munmap(ram, GUEST_RAM_SIZE);
    free(chip);
    free(pdh);
    free(chain);
    free(cek);
    free(ask_ark);
    msg_free(&policy_m);
    msg_free(&godh);
    msg_free(&blob);
    msg_free(&hdr);
    msg_free(&trans);
    msg_free(&verdict);
    msg_free(&nonce);
    return rc;
}

int main(int argc, char **argv) {
    int sv[2], from_env = 0, status = 0, rc;
    pid_t pid;

    if (argc == 2 && strcmp(argv[1], "--platform-from-env") == 0) {
        from_env = 1;
    } else if (argc != 1) {
        fprintf(stderr, "usage: %s [--platform-from-env]\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("libsev %s demo: a hypervisor (pid %d) and a guest owner (second process)\n",
           libsev_version(), (int)getpid());
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        perror("socketpair");
        return 1;
    }
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        close(sv[0]);
        rc = guest_owner(sv[1]);
        close(sv[1]);
        fflush(stdout);
        exit(rc);
    }
    close(sv[1]);
    rc = hypervisor(sv[0], from_env);
    close(sv[0]); /* the owner sees EOF if the hypervisor stopped early */
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "demo: the guest owner process failed (status 0x%x)\n", status);
        rc = 1;
    }
    if (rc == 0)
        printf("OK\n");
    else
        fprintf(stderr, "demo: FAILED\n");
    return rc;
}
