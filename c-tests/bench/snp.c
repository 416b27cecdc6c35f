/*
 * C-ABI counterpart of src/benches/snp.rs: SNP_LAUNCH_UPDATE of LIBSEV_BENCH_MIB MiB (1 GiB by
 * default) of NORMAL pages on the firmware model through the installed library, printed as
 * bytes/s and as a ratio against `openssl speed -evp sha384` measured in the same run (each
 * page is hashed once with SHA-384 and its PAGE_INFO record once, so SHA-384 is the bound),
 * then an attestation report's cost (its ECDSA P-384 signature dominates).
 */
#include "bench_util.h"

int main(void) {
    size_t len = bench_len();
    double sha = openssl_speed("-elapsed -evp sha384", "sha384");
    char a[32], b[32];
    libsev_platform *p = model(9);
    libsev_snp_guest *g = NULL;
    uint8_t *mem = map_region(len, 0), page[4096], rd[64], report[LIBSEV_SNP_REPORT_LEN];
    double t, secs, rate, cpu;
    int i, rounds = 50;

    fill_pattern(mem, len);
    TRY(libsev_snp_guest_new(p, &g, NULL));
    TRY(libsev_snp_guest_init2(g, 0, 0, NULL));
    TRY(libsev_snp_launch_start(g, LIBSEV_SNP_POLICY_DEFAULT, NULL, NULL));
    t = now_secs();
    cpu = cpu_secs();
    TRY(libsev_snp_launch_update(g, 0, mem, len, LIBSEV_SNP_PAGE_NORMAL, NULL));
    secs = now_secs() - t;
    cpu = cpu_secs() - cpu;
    rate = (double)len / secs;
    gbs(a, sizeof a, rate);
    if (sha > 0) {
        gbs(b, sizeof b, sha);
        printf("snp_launch_update: %zu bytes in %.3f s = %s ; openssl sha384 %s ; ratio %.2f "
               "(target >= 0.80)\n",
               len, secs, a, b, rate / sha);
    } else {
        printf("snp_launch_update: %zu bytes in %.3f s = %s ; openssl not available: no ratio\n",
               len, secs, a);
    }
    printf("snp_launch_update: %.2f s of CPU time (%.2f cores busy on average)\n", cpu, cpu / secs);
    /* The secrets page, then the report path: MSG_REPORT_REQ sealed, signed, opened. */
    memset(page, 0, sizeof page);
    TRY(libsev_snp_launch_update(g, (uint64_t)len + 4096 * 16, page, sizeof page,
                                 LIBSEV_SNP_PAGE_SECRETS, NULL));
    TRY(libsev_snp_launch_finish(g, NULL, 0, NULL, 0, 0, 0, NULL, NULL));
    memset(rd, 7, sizeof rd);
    t = now_secs();
    for (i = 0; i < rounds; i++)
        TRY(libsev_snp_guest_model_report(g, rd, 0, report, NULL));
    printf("snp_report: %.3f ms per attestation report (%d rounds)\n",
           (now_secs() - t) * 1e3 / rounds, rounds);
    libsev_snp_guest_free(g);
    libsev_platform_free(p);
    munmap(mem, len);
    return 0;
}
