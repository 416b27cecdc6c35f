/*
 * C-ABI counterpart of src/benches/model.rs: LAUNCH_UPDATE_DATA and DBG_DECRYPT over a guest
 * region of LIBSEV_BENCH_MIB MiB (1 GiB by default) on the firmware model, through the
 * installed library, each printed as bytes/s and as a ratio against `openssl speed` measured
 * in the same run (SHA-256 for the launch update, AES-128-XTS for debug decryption), in the
 * same line format as the Rust benchmark.
 */
#include "bench_util.h"

static long vm_hwm_kib(void) {
    char line[256];
    long kib = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    fclose(f);
    return kib;
}

int main(void) {
    size_t len = bench_len();
    double sha = openssl_speed("-elapsed -evp sha256", "sha256");
    double xts = openssl_speed("-elapsed -evp aes-128-xts", "aes-128-xts");
    char a[32], b[32];

    libsev_platform *p = model(7);
    libsev_guest *g = NULL;
    uint32_t handle = 0;
    TRY(libsev_guest_new(p, &g, NULL));
    TRY(libsev_guest_init(g, NULL));
    TRY(libsev_guest_launch_start(g, 0, 0, NULL, 0, NULL, 0, &handle, NULL));

    uint8_t *mem = map_region(len, 0);
    fill_pattern(mem, len);
    TRY(libsev_guest_register_region(g, mem, len, NULL));

    /* LAUNCH_UPDATE_DATA over the whole region, in place. */
    double t = now_secs();
    TRY(libsev_guest_launch_update_data(g, mem, len, NULL));
    double secs = now_secs() - t, rate = (double)len / secs;
    long hwm = vm_hwm_kib();
    gbs(a, sizeof a, rate);
    if (sha > 0) {
        gbs(b, sizeof b, sha);
        printf("launch_update_data: %zu bytes in %.3f s = %s ; openssl sha256 %s ; ratio %.2f "
               "(target >= 0.80)\n",
               len, secs, a, b, rate / sha);
    } else {
        printf("launch_update_data: %zu bytes in %.3f s = %s ; openssl not available: no ratio\n",
               len, secs, a);
    }
    if (hwm >= 0) {
        long limit = (long)(len / 1024) + 64 * 1024;
        printf("peak RSS (VmHWM) after the launch: %ld MiB for a %zu MiB region (limit %ld MiB): "
               "%s\n",
               hwm / 1024, len / MIB, limit / 1024, hwm <= limit ? "ok" : "OVER");
    }

    /* DBG_DECRYPT of the whole region, read out in 64 MiB pieces into one buffer. */
    size_t piece = len < 64 * MIB ? len : 64 * MIB;
    uint8_t *out = map_region(piece, 0);
    memset(out, 0, piece);
    t = now_secs();
    for (size_t off = 0; off < len; off += piece) {
        size_t n = len - off < piece ? len - off : piece;
        TRY(libsev_guest_dbg_decrypt(g, mem + off, out, n, NULL));
    }
    secs = now_secs() - t;
    rate = (double)len / secs;
    uint64_t want = pattern((len - piece) / 8), got;
    memcpy(&got, out, 8);
    if (got != want) {
        fprintf(stderr, "DBG_DECRYPT did not give the plaintext back\n");
        return 1;
    }
    gbs(a, sizeof a, rate);
    if (xts > 0) {
        gbs(b, sizeof b, xts);
        printf("dbg_decrypt: %zu bytes in %.3f s = %s ; openssl aes-128-xts %s ; ratio %.2f "
               "(target >= 0.40)\n",
               len, secs, a, b, rate / xts);
    } else {
        printf("dbg_decrypt: %zu bytes in %.3f s = %s ; openssl not available: no ratio\n", len,
               secs, a);
    }
    libsev_guest_free(g);
    libsev_platform_free(p);
    munmap(out, piece);
    munmap(mem, len);
    return 0;
}
