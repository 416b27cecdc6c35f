/* The SEV-SNP side of libsev-tool's launch test (c-tests/tool/launch.sh): launch an OVMF image
 * with SEV metadata on the firmware model as QEMU does (the image, its metadata sections, one
 * reset VMSA per vCPU), finish with the given host data, and write what a guest owner receives:
 * the guest's attestation report for the given report data, and the certificate table the host
 * serves. Exit 0 done, 1 a libsev call failed (its message on stderr), 2 usage or I/O.
 *
 * usage: snp_guest OVMF VCPUS CPU_MODEL NONCE_HEX HOST_DATA_HEX REPORT_OUT CERTS_OUT
 */
#include <libsev.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static libsev_error err;

#define TRY(call)                                                                           \
    do {                                                                                    \
        uint32_t st_ = (call);                                                              \
        if (st_ != LIBSEV_STATUS_OK) {                                                      \
            fprintf(stderr, "snp_guest: %s: %s (%s)\n", #call, err.message,                 \
                    libsev_status_str(st_));                                                \
            exit(1);                                                                        \
        }                                                                                   \
    } while (0)

static void unhex(const char *h, uint8_t *out, size_t n) {
    memset(out, 0, n);
    for (size_t i = 0; i < n && h[2 * i] && h[2 * i + 1]; i++) {
        unsigned b;
        if (sscanf(h + 2 * i, "%2x", &b) != 1)
            exit(2);
        out[i] = (uint8_t)b;
    }
}

static void put(const char *path, const void *d, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(d, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "snp_guest: cannot write %s\n", path);
        exit(2);
    }
}

int main(int argc, char **argv) {
    if (argc != 8) {
        fprintf(stderr, "usage: snp_guest OVMF VCPUS CPU_MODEL NONCE_HEX HOST_DATA_HEX REPORT CERTS\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f)
        return 2;
    fseek(f, 0, SEEK_END);
    size_t n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *img = malloc(n), nonce[64], hd[32], report[LIBSEV_SNP_REPORT_LEN];
    if (!img || fread(img, 1, n, f) != n)
        return 2;
    fclose(f);
    uint32_t vcpus = (uint32_t)strtoul(argv[2], NULL, 0), sig;
    unhex(argv[4], nonce, sizeof nonce);
    unhex(argv[5], hd, sizeof hd);

    libsev_ovmf_info info;
    libsev_ovmf_section sec[32];
    size_t ns;
    libsev_model_config cfg;
    libsev_platform *p = NULL;
    libsev_snp_guest *g = NULL;
    TRY(libsev_ovmf_info_get(img, n, &info, &err));
    TRY(libsev_ovmf_metadata(img, n, sec, 32, &ns, &err));
    TRY(libsev_cpu_model_signature(argv[3], &sig, &err));
    TRY(libsev_model_config_init(&cfg));
    TRY(libsev_platform_new_model(&cfg, &p, &err));
    TRY(libsev_snp_guest_new(p, &g, &err));
    TRY(libsev_snp_guest_init2(g, 0, 0, &err));
    for (uint32_t v = 0; v < vcpus; v++)
        TRY(libsev_snp_guest_add_vcpu_reset(g, LIBSEV_VMM_QEMU, sig, v, info.sev_es_reset_addr, &err));
    TRY(libsev_snp_launch_start(g, LIBSEV_SNP_POLICY_DEFAULT, NULL, &err));
    TRY(libsev_snp_launch_update(g, (1ull << 32) - n, img, n, LIBSEV_SNP_PAGE_NORMAL, &err));
    for (size_t i = 0; i < ns; i++) {
        static uint8_t page[4096];
        memset(page, 0, sizeof page);
        if (sec[i].kind == 2) {
            TRY(libsev_snp_launch_update(g, sec[i].gpa, page, 4096, LIBSEV_SNP_PAGE_SECRETS, &err));
        } else if (sec[i].kind == 3) {
            uint32_t r[4], leaf = 0;
            __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(0));
            page[0] = 1;
            memcpy(page + 16 + 24, r, 16);
            TRY(libsev_snp_launch_update(g, sec[i].gpa, page, 4096, LIBSEV_SNP_PAGE_CPUID, &err));
        } else {
            TRY(libsev_snp_launch_update(g, sec[i].gpa, NULL, sec[i].size, LIBSEV_SNP_PAGE_ZERO, &err));
        }
    }
    TRY(libsev_snp_launch_finish(g, NULL, 0, NULL, 0, 0, 0, hd, &err));
    TRY(libsev_snp_guest_model_report(g, nonce, 0, report, &err));
    put(argv[6], report, sizeof report);
    size_t tlen = 0;
    if (libsev_snp_model_cert_table(p, NULL, 0, &tlen, &err) != LIBSEV_STATUS_BUFFER_TOO_SMALL)
        return 1;
    uint8_t *table = malloc(tlen);
    TRY(libsev_snp_model_cert_table(p, table, tlen, &tlen, &err));
    put(argv[7], table, tlen);
    free(table);
    libsev_snp_guest_free(g);
    libsev_platform_free(p);
    free(img);
    return 0;
}
