/*
 * The guest owner's side of the QEMU test (c-tests/qemu/sev.sh), against the installed libsev.
 * The platform is the one LIBSEV_PLATFORM selects (emulated:DIR: the same model state that the
 * QEMU under libsev-preload.so sees).
 *
 *   owner session DIR POLICY
 *       verify the platform's certificate chain, make a launch session from its PDH and write
 *       DIR/godh.b64 and DIR/session.b64 (QEMU's dh-cert-file and session-file, base64) and
 *       DIR/owner.state (the session's secret state, for `verify`).
 *   owner verify DIR MEASUREMENT_B64 API_MAJOR API_MINOR BUILD FIRMWARE_FILE [VCPUS CPU_MODEL]
 *       verify QEMU's launch measurement: the launch digest is SHA-256 of FIRMWARE_FILE (what
 *       QEMU passes to LAUNCH_UPDATE_DATA), and for SEV-ES (VCPUS and QEMU's CPU_MODEL given)
 *       of the image followed by the VMSA of each vCPU at QEMU's reset state; on success package
 *       a launch secret into DIR/secret-header.b64 and DIR/secret.b64.
 *   owner launch-start DIR POLICY
 *       run LAUNCH_START with DIR's session files through libsev's own API on this platform
 *       and print "fw_error=N NAME" (what the firmware says to those files).
 *   owner fw-name N
 *       print libsev's name of firmware status N.
 *
 * Exit status: 0 success, 1 failure (a message on stderr), 2 usage.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libsev.h>

static int fail(const char *what, libsev_status st, const libsev_error *err)
{
    fprintf(stderr, "owner: %s: %s (status %u, fw_error %u %s)\n", what, libsev_status_str(st),
            st, err ? err->fw_error : 0, err ? libsev_fw_error_str(err->fw_error) : "");
    return 1;
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *b64_encode(const uint8_t *p, size_t n)
{
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    size_t o = 0;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        out[o++] = B64[(v >> 18) & 63];
        out[o++] = B64[(v >> 12) & 63];
        out[o++] = i + 1 < n ? B64[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? B64[v & 63] : '=';
    }
    out[o] = 0;
    return out;
}

/* Decodes base64 (whitespace ignored); returns the length or -1. */
static long b64_decode(const char *s, uint8_t *out, size_t cap)
{
    uint32_t v = 0;
    int bits = 0;
    size_t o = 0;
    for (; *s; s++) {
        const char *c = strchr(B64, *s);
        if (*s == '=' || *s == '\n' || *s == '\r' || *s == ' ')
            continue;
        if (!c)
            return -1;
        v = (v << 6) | (uint32_t)(c - B64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= cap)
                return -1;
            out[o++] = (uint8_t)(v >> bits);
        }
    }
    return (long)o;
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;
    if (!f) {
        fprintf(stderr, "owner: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    for (;;) {
        if (n == cap) {
            uint8_t *b = realloc(buf, cap ? 2 * cap : 65536);
            if (!b) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = b;
            cap = cap ? 2 * cap : 65536;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    fclose(f);
    *len = n;
    return buf;
}

static int write_file(const char *dir, const char *name, const void *p, size_t n, int secret)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || (secret && chmod(path, 0600) != 0) || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "owner: writing %s: %s\n", path, strerror(errno));
        return 1;
    }
    return 0;
}

static int write_b64(const char *dir, const char *name, const uint8_t *p, size_t n)
{
    char *s = b64_encode(p, n);
    int r = s ? write_file(dir, name, s, strlen(s), 0) : 1;
    free(s);
    return r;
}

/* Reads DIR/NAME as base64 into out (cap bytes); returns the length or -1. */
static long read_b64(const char *dir, const char *name, uint8_t *out, size_t cap)
{
    char path[4096];
    size_t n;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    uint8_t *text = read_file(path, &n);
    if (!text)
        return -1;
    char *z = realloc(text, n + 1);
    if (!z) {
        free(text);
        return -1;
    }
    z[n] = 0;
    long r = b64_decode(z, out, cap);
    free(z);
    return r;
}

static int cmd_session(const char *dir, uint32_t policy)
{
    libsev_platform *plat = NULL;
    libsev_owner_session *s = NULL;
    libsev_error err = {0};
    static uint8_t pdh[4096], chain[LIBSEV_CERT_CHAIN_LEN], cek[4096], askark[8192];
    uint8_t godh[4096], blob[256];
    static uint8_t state[8192];
    size_t pdh_len, chain_len, cek_len, askark_len, godh_len, blob_len, state_len;
    libsev_chain_result res;
    libsev_status st;
    int rc = 1;

    if ((st = libsev_platform_open(&plat, &err)))
        return fail("libsev_platform_open", st, &err);
    if ((st = libsev_platform_pdh_cert_export(plat, pdh, sizeof pdh, &pdh_len, chain,
                                              sizeof chain, &chain_len, &err))) {
        fail("PDH_CERT_EXPORT", st, &err);
        goto out;
    }
    if ((st = libsev_platform_emulated_cek(plat, cek, sizeof cek, &cek_len, &err)) ||
        (st = libsev_platform_emulated_ask_ark(plat, askark, sizeof askark, &askark_len, &err))) {
        fail("the model's signed CEK and ASK/ARK", st, &err);
        goto out;
    }
    /* The owner trusts the PDH only through the chain PDH <- PEK <- OCA/CEK <- ASK <- ARK. */
    if ((st = libsev_chain_verify(pdh, pdh_len, chain, chain_len, cek, cek_len, askark,
                                  askark_len, LIBSEV_VERIFY_ALLOW_TEST_ROOT, &res, &err))) {
        fail("certificate chain", st, &err);
        goto out;
    }
    if ((st = libsev_owner_session_new(pdh, pdh_len, policy, &s, &err)) ||
        (st = libsev_owner_session_godh(s, godh, sizeof godh, &godh_len, &err)) ||
        (st = libsev_owner_session_blob(s, blob, sizeof blob, &blob_len, &err)) ||
        (st = libsev_owner_session_export(s, state, sizeof state, &state_len, &err))) {
        fail("launch session", st, &err);
        goto out;
    }
    if (write_b64(dir, "godh.b64", godh, godh_len) || write_b64(dir, "session.b64", blob, blob_len) ||
        write_file(dir, "owner.state", state, state_len, 1))
        goto out;
    printf("owner: chain verified (test root); session for policy 0x%x: GODH %zu bytes, "
           "session %zu bytes\n", policy, godh_len, blob_len);
    rc = 0;
out:
    memset(state, 0, sizeof state);
    libsev_owner_session_free(s);
    libsev_platform_free(plat);
    return rc;
}

static void hex(const char *label, const uint8_t *p, size_t n)
{
    printf("%s", label);
    for (size_t i = 0; i < n; i++)
        printf("%02x", p[i]);
    printf("\n");
}

static int cmd_verify(const char *dir, const char *meas_b64, int major, int minor, int build,
                      const char *fw_path, uint32_t vcpus, const char *cpu_model)
{
    libsev_owner_session *s = NULL;
    libsev_error err = {0};
    libsev_status st;
    uint8_t meas[64], expected[32], digest[32], hdr[52], trans[256];
    static uint8_t state[8192];
    size_t state_len, fw_len, trans_len;
    uint8_t *fw = NULL;
    int rc = 1;
    /* The secret the owner releases once the measurement is right. */
    static const char secret[64] = "libsev demo: the disk key only a verified guest may see.";

    char path[4096];
    snprintf(path, sizeof path, "%s/owner.state", dir);
    uint8_t *st_bytes = read_file(path, &state_len);
    if (!st_bytes || state_len > sizeof state) {
        free(st_bytes);
        return 1;
    }
    memcpy(state, st_bytes, state_len);
    memset(st_bytes, 0, state_len);
    free(st_bytes);
    if (b64_decode(meas_b64, meas, sizeof meas) != 48) {
        fprintf(stderr, "owner: the measurement is not 48 bytes of base64\n");
        goto out;
    }
    if (!(fw = read_file(fw_path, &fw_len)))
        goto out;
    if ((st = libsev_owner_session_import(state, state_len, &s, &err))) {
        fail("session import", st, &err);
        goto out;
    }
    if (vcpus) {
        /* SEV-ES: the image, then one VMSA per vCPU (QEMU's reset state, KVM_SEV_ES_INIT). */
        libsev_es_launch es = {.ovmf = fw, .ovmf_len = fw_len, .vcpus = vcpus,
                               .cpu_model = cpu_model, .vmm = LIBSEV_VMM_QEMU,
                               .init = LIBSEV_ES_PROFILE_ES_INIT};
        if ((st = libsev_es_launch_digest(&es, digest, &err))) {
            fail("SEV-ES launch digest", st, &err);
            goto out;
        }
        printf("owner: SEV-ES: %u vCPUs, CPU model %s\n", vcpus, cpu_model);
        hex("owner: launch digest (firmware and VMSAs): ", digest, 32);
        st = libsev_owner_session_verify_es_launch(s, &es, (uint8_t)major, (uint8_t)minor,
                                                   (uint8_t)build, meas, expected, &err);
    } else {
        if ((st = libsev_owner_session_measure_update(s, fw, fw_len, &err)) ||
            (st = libsev_owner_session_launch_digest(s, digest, &err))) {
            fail("launch digest", st, &err);
            goto out;
        }
        hex("owner: launch digest (SHA-256 of the firmware as loaded): ", digest, 32);
        st = libsev_owner_session_verify_measurement(s, (uint8_t)major, (uint8_t)minor,
                                                     (uint8_t)build, meas, expected, &err);
    }
    hex("owner: MEASURE from QEMU:   ", meas, 32);
    hex("owner: MEASURE expected:    ", expected, 32);
    if (st) {
        fail("measurement", st, &err);
        goto out;
    }
    printf("owner: measurement verified (api %d.%d build %d)\n", major, minor, build);
    if ((st = libsev_owner_session_package_secret(s, (const uint8_t *)secret, sizeof secret, 0,
                                                  hdr, trans, sizeof trans, &trans_len, &err))) {
        fail("packaging the secret", st, &err);
        goto out;
    }
    if (write_b64(dir, "secret-header.b64", hdr, sizeof hdr) ||
        write_b64(dir, "secret.b64", trans, trans_len))
        goto out;
    printf("owner: launch secret packaged (%zu bytes)\n", trans_len);
    rc = 0;
out:
    memset(state, 0, sizeof state);
    free(fw);
    libsev_owner_session_free(s);
    return rc;
}

static int cmd_launch_start(const char *dir, uint32_t policy)
{
    libsev_platform *plat = NULL;
    libsev_guest *g = NULL;
    libsev_error err = {0};
    libsev_status st;
    uint8_t godh[4096], blob[256];
    uint32_t handle = 0;
    long godh_len = read_b64(dir, "godh.b64", godh, sizeof godh);
    long blob_len = read_b64(dir, "session.b64", blob, sizeof blob);
    if (godh_len < 0 || blob_len < 0)
        return 1;
    if ((st = libsev_platform_open(&plat, &err)))
        return fail("libsev_platform_open", st, &err);
    if ((st = libsev_guest_new(plat, &g, &err)) || (st = libsev_guest_init(g, &err))) {
        fail("guest", st, &err);
        libsev_guest_free(g);
        libsev_platform_free(plat);
        return 1;
    }
    st = libsev_guest_launch_start(g, policy, 0, godh, (size_t)godh_len, blob, (size_t)blob_len,
                                   &handle, &err);
    printf("fw_error=%u %s\n", st ? err.fw_error : 0, libsev_fw_error_str(st ? err.fw_error : 0));
    libsev_guest_free(g);
    libsev_platform_free(plat);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "session"))
        return cmd_session(argv[2], (uint32_t)strtoul(argv[3], NULL, 0));
    if (argc == 8 && !strcmp(argv[1], "verify"))
        return cmd_verify(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]), atoi(argv[6]), argv[7],
                          0, NULL);
    if (argc == 10 && !strcmp(argv[1], "verify"))
        return cmd_verify(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]), atoi(argv[6]), argv[7],
                          (uint32_t)strtoul(argv[8], NULL, 0), argv[9]);
    if (argc == 4 && !strcmp(argv[1], "launch-start"))
        return cmd_launch_start(argv[2], (uint32_t)strtoul(argv[3], NULL, 0));
    if (argc == 3 && !strcmp(argv[1], "fw-name")) {
        printf("%s\n", libsev_fw_error_str((uint32_t)strtoul(argv[2], NULL, 0)));
        return 0;
    }
    fprintf(stderr, "usage: owner session DIR POLICY | verify DIR MEAS_B64 MAJOR MINOR BUILD FW [VCPUS CPU] |"
                    " launch-start DIR POLICY | fw-name N\n");
    return 2;
}
