/* A small file-driven hypervisor for libsev-tool's launch test (c-tests/tool/launch.sh).
 *
 * It plays QEMU's part of a legacy SEV launch on the firmware model and talks to the guest
 * owner (libsev-tool) through files in a work directory, the way QEMU takes dh-cert-file,
 * session-file and sev-inject-launch-secret's arguments:
 *
 *   wait for godh.b64 + session.b64 -> KVM_SEV_INIT, LAUNCH_START(policy), REG_REGION,
 *   LAUNCH_UPDATE_DATA(firmware image) -> LAUNCH_MEASURE -> write measurement.b64, query-sev
 *   wait for secret-header.b64 + secret-payload.b64 -> LAUNCH_SECRET after the image
 *   -> DBG_DECRYPT of the secret area -> write guest-secret.bin -> LAUNCH_FINISH
 *   wait for mnonce.bin -> GET_ATTESTATION_REPORT -> write report.b64
 *
 * Files appear complete (the tool and this program both write a temporary file and rename
 * it). Exit status: 0 done, 1 a libsev call failed (its message and status on stderr), 2 usage,
 * I/O or a timeout waiting for a file.
 *
 * usage: hv --platform-dir DIR --work DIR --firmware FILE --policy N [--timeout SECONDS]
 */
#define _GNU_SOURCE
#include <libsev.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *work;
static int timeout_s = 60;
static libsev_error err;

static void die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void die(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("hv: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(code);
}

/* A failed libsev call: its message, status and firmware status, then exit 1. */
#define TRY(call)                                                                              \
    do {                                                                                       \
        uint32_t st_ = (call);                                                                 \
        if (st_ != LIBSEV_STATUS_OK)                                                           \
            die(1, "%s: %s (libsev status %u %s, firmware status 0x%02x %s)", #call,           \
                err.message, st_, libsev_status_str(st_), err.fw_error,                        \
                libsev_fw_error_str(err.fw_error));                                            \
    } while (0)

static char *path_of(const char *name) {
    char *p;
    if (asprintf(&p, "%s/%s", work, name) < 0)
        die(2, "out of memory");
    return p;
}

/* Read a whole file. */
static uint8_t *slurp(const char *path, size_t *len) {
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0)
        die(2, "cannot read %s: %s", path, strerror(errno));
    uint8_t *buf = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (buf && got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n <= 0)
            die(2, "cannot read %s", path);
        got += (size_t)n;
    }
    close(fd);
    if (!buf)
        die(2, "out of memory");
    *len = got;
    return buf;
}

/* Wait until a file exists in the work directory, then read it. */
static uint8_t *wait_for(const char *name, size_t *len) {
    char *p = path_of(name);
    for (int i = 0; access(p, F_OK) != 0; i++) {
        if (i >= timeout_s * 20)
            die(2, "timed out after %d s waiting for %s", timeout_s, p);
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    uint8_t *d = slurp(p, len);
    free(p);
    return d;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static uint8_t *unbase64(const uint8_t *in, size_t len, size_t *out_len, const char *what) {
    uint8_t *out = malloc(len);
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; out && i < len; i++) {
        if (in[i] == '=' || in[i] == '\n' || in[i] == '\r' || in[i] == ' ')
            continue;
        const char *c = in[i] ? strchr(b64, in[i]) : NULL;
        if (!c)
            die(2, "%s is not base64", what);
        acc = acc << 6 | (uint32_t)(c - b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    if (!out)
        die(2, "out of memory");
    *out_len = o;
    return out;
}

static char *base64(const uint8_t *in, size_t len) {
    char *out = malloc(4 * ((len + 2) / 3) + 2);
    size_t o = 0;
    if (!out)
        die(2, "out of memory");
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0) |
                     (i + 2 < len ? in[i + 2] : 0);
        out[o++] = b64[v >> 18 & 63];
        out[o++] = b64[v >> 12 & 63];
        out[o++] = i + 1 < len ? b64[v >> 6 & 63] : '=';
        out[o++] = i + 2 < len ? b64[v & 63] : '=';
    }
    out[o++] = '\n';
    out[o] = 0;
    return out;
}

/* Write a file in the work directory through a temporary file and rename. */
static void put(const char *name, const void *data, size_t len) {
    char *p = path_of(name), *tmp;
    if (asprintf(&tmp, "%s.tmp", p) < 0)
        die(2, "out of memory");
    FILE *f = fopen(tmp, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fflush(f) != 0 || fsync(fileno(f)) != 0 ||
        fclose(f) != 0 || rename(tmp, p) != 0)
        die(2, "cannot write %s: %s", p, strerror(errno));
    free(tmp);
    free(p);
}

static void put_b64(const char *name, const uint8_t *d, size_t len) {
    char *s = base64(d, len);
    put(name, s, strlen(s));
    free(s);
}

int main(int argc, char **argv) {
    const char *pdir = NULL, *fw_path = NULL;
    uint32_t policy = 0;
    bool have_policy = false;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--platform-dir") == 0)
            pdir = argv[i + 1];
        else if (strcmp(argv[i], "--work") == 0)
            work = argv[i + 1];
        else if (strcmp(argv[i], "--firmware") == 0)
            fw_path = argv[i + 1];
        else if (strcmp(argv[i], "--policy") == 0)
            policy = (uint32_t)strtoul(argv[i + 1], NULL, 0), have_policy = true;
        else if (strcmp(argv[i], "--timeout") == 0)
            timeout_s = atoi(argv[i + 1]);
        else
            die(2, "unknown option %s", argv[i]);
    }
    if (!pdir || !work || !fw_path || !have_policy || argc % 2 == 0)
        die(2, "usage: hv --platform-dir DIR --work DIR --firmware FILE --policy N [--timeout S]");

    /* The platform: the model, its identity in pdir (the owner exported its chain from it). */
    libsev_model_config cfg;
    libsev_platform *platform = NULL;
    libsev_platform_status_info ps;
    TRY(libsev_model_config_init(&cfg));
    cfg.state_dir = pdir;
    TRY(libsev_platform_new_emulated(&cfg, &platform, &err));
    TRY(libsev_platform_status(platform, &ps, &err));

    /* The firmware image, at the start of guest RAM; the secret goes to the next page. */
    size_t fw_len;
    uint8_t *fw = slurp(fw_path, &fw_len);
    if (fw_len == 0 || fw_len % 16)
        die(2, "%s: %zu bytes, not a non-empty multiple of 16", fw_path, fw_len);
    size_t secret_off = (fw_len + 4095) & ~(size_t)4095;
    size_t ram_len = secret_off + 64 * 1024;
    uint8_t *ram = mmap(NULL, ram_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ram == MAP_FAILED)
        die(2, "mmap: %s", strerror(errno));
    memcpy(ram, fw, fw_len);
    free(fw);

    /* LAUNCH_START with the owner's session (QEMU: dh-cert-file, session-file). */
    size_t n, godh_n, blob_n;
    uint8_t *godh_t = wait_for("godh.b64", &n);
    uint8_t *godh = unbase64(godh_t, n, &godh_n, "godh.b64");
    uint8_t *blob_t = wait_for("session.b64", &n);
    uint8_t *blob = unbase64(blob_t, n, &blob_n, "session.b64");
    libsev_guest *guest = NULL;
    uint32_t handle = 0;
    TRY(libsev_guest_new(platform, &guest, &err));
    TRY(libsev_guest_init(guest, &err));
    TRY(libsev_guest_launch_start(guest, policy, 0, godh, godh_n, blob, blob_n, &handle, &err));
    TRY(libsev_guest_register_region(guest, ram, ram_len, &err));
    TRY(libsev_guest_launch_update_data(guest, ram, fw_len, &err));
    uint8_t meas[LIBSEV_MEASUREMENT_LEN];
    TRY(libsev_guest_launch_measure(guest, meas, sizeof meas, &n, &err));
    put_b64("measurement.b64", meas, n);
    char *q;
    if (asprintf(&q, "api-major %u\napi-minor %u\nbuild-id %u\npolicy 0x%08x\nhandle %u\n",
                 ps.api_major, ps.api_minor, ps.build, policy, handle) < 0)
        die(2, "out of memory");
    put("query-sev", q, strlen(q));
    free(q);
    printf("hv: launched handle %u, policy 0x%08x; measurement written\n", handle, policy);
    fflush(stdout);

    /* LAUNCH_SECRET (QEMU: sev-inject-launch-secret packet-header, secret). */
    size_t hdr_n, trans_n;
    uint8_t *hdr_t = wait_for("secret-header.b64", &n);
    uint8_t *hdr = unbase64(hdr_t, n, &hdr_n, "secret-header.b64");
    uint8_t *trans_t = wait_for("secret-payload.b64", &n);
    uint8_t *trans = unbase64(trans_t, n, &trans_n, "secret-payload.b64");
    if (trans_n == 0 || trans_n > ram_len - secret_off)
        die(2, "secret payload of %zu bytes does not fit", trans_n);
    TRY(libsev_guest_launch_secret(guest, hdr, hdr_n, ram + secret_off, trans_n, trans, trans_n,
                                   &err));
    /* What the guest reads there (debug policy only). */
    uint8_t *plain = malloc(trans_n);
    if (!plain)
        die(2, "out of memory");
    TRY(libsev_guest_dbg_decrypt(guest, ram + secret_off, plain, trans_n, &err));
    put("guest-secret.bin", plain, trans_n);
    free(plain);
    TRY(libsev_guest_launch_finish(guest, &err));
    libsev_guest_status_info gs;
    TRY(libsev_guest_status(guest, &gs, &err));
    if (gs.state != 3)
        die(1, "guest state %u after LAUNCH_FINISH, not RUNNING", gs.state);
    printf("hv: secret injected (%zu bytes), guest RUNNING\n", trans_n);
    fflush(stdout);

    /* GET_ATTESTATION_REPORT with the owner's nonce. */
    uint8_t *nonce = wait_for("mnonce.bin", &n);
    if (n != LIBSEV_MNONCE_LEN)
        die(2, "mnonce.bin: %zu bytes, not %d", n, LIBSEV_MNONCE_LEN);
    uint8_t report[LIBSEV_ATTESTATION_REPORT_LEN];
    TRY(libsev_guest_attestation_report(guest, nonce, report, sizeof report, &n, &err));
    put_b64("report.b64", report, n);
    printf("hv: attestation report written\n");

    TRY(libsev_guest_unregister_region(guest, ram, ram_len, &err));
    libsev_guest_free(guest);
    libsev_platform_free(platform);
    munmap(ram, ram_len);
    free(godh_t), free(godh), free(blob_t), free(blob), free(hdr_t), free(hdr);
    free(trans_t), free(trans), free(nonce);
    return 0;
}
