/*
 * Demo: an SEV-SNP launch on libsev's firmware model, as a hypervisor drives it.
 *
 *   make demo-snp
 *
 * Creates an SNP VM, initialises it (KVM_SEV_INIT2), hands in one vCPU's VMSA, starts the
 * launch with QEMU's default policy, launches Debian's OVMF and every section its SEV metadata
 * names (ZERO / SECRETS / CPUID pages), finishes the launch and prints the launch digest the
 * guest's attestation reports will carry. Exits 77 (skip) when OVMF is not installed.
 */
#include <libsev.h>

#include <cpuid.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OVMF "/usr/share/OVMF/OVMF_CODE.fd"

static libsev_error err;

static void must(uint32_t s, const char *what) {
    if (s != LIBSEV_STATUS_OK) {
        fprintf(stderr, "%s failed: %s\n", what, err.message);
        exit(1);
    }
}

static uint32_t le32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

int main(void) {
    static const uint8_t meta_guid[16] = {0x66, 0x65, 0x88, 0xdc, 0x4a, 0x98, 0x98, 0x47,
                                          0xa7, 0x5e, 0x55, 0x85, 0xa7, 0xbf, 0x67, 0xcc};
    static uint8_t vmsa[4096], page[4096], secrets[4096];
    libsev_model_config cfg;
    libsev_platform *plat = NULL;
    libsev_snp_guest *g = NULL;
    libsev_snp_platform_status_info st;
    uint8_t ld[LIBSEV_SNP_DIGEST_LEN], *img;
    const uint8_t *h = NULL;
    size_t n, p, end, i;
    FILE *f = fopen(OVMF, "rb");
    uint32_t count, secrets_gpa = 0;

    if (f == NULL) {
        printf("demo-snp: %s is not installed (Debian package ovmf); nothing to launch\n", OVMF);
        return 77;
    }
    fseek(f, 0, SEEK_END);
    n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    img = malloc(n);
    if (img == NULL || fread(img, 1, n, f) != n)
        return 1;
    fclose(f);
    /* The footer GUID table ends 0x20 bytes before the end; find the SEV metadata entry. */
    end = n - 0x20;
    for (p = end - 18; p > end - (img[end - 18] | img[end - 17] << 8) && p >= 18;) {
        size_t len = img[p - 18] | img[p - 17] << 8;
        if (memcmp(img + p - 16, meta_guid, 16) == 0) {
            h = img + n - le32(img + p - 22);
            break;
        }
        if (len < 18)
            break;
        p -= len;
    }
    if (h == NULL || memcmp(h, "ASEV", 4) != 0) {
        printf("demo-snp: %s has no SEV metadata\n", OVMF);
        return 77;
    }

    must(libsev_model_config_init(&cfg), "libsev_model_config_init");
    must(libsev_platform_new_emulated(&cfg, &plat, &err), "libsev_platform_new_emulated");
    must(libsev_snp_guest_new(plat, &g, &err), "libsev_snp_guest_new");
    must(libsev_snp_guest_init2(g, 0, 0, &err), "KVM_SEV_INIT2");
    must(libsev_snp_platform_status(plat, &st, &err), "SNP_PLATFORM_STATUS");
    printf("SNP platform: API %u.%u build %u, state %u, current TCB %016llx, reported TCB %016llx\n",
           st.api_major, st.api_minor, st.build_id, st.state, (unsigned long long)st.current_tcb,
           (unsigned long long)st.reported_tcb);
    vmsa[0x3B0] = 1; /* a minimal register state; KVM builds the real one from the vCPU */
    must(libsev_snp_guest_set_vmsa(g, 0, vmsa, sizeof vmsa, &err), "set vCPU 0 VMSA");
    must(libsev_snp_launch_start(g, LIBSEV_SNP_POLICY_DEFAULT, NULL, &err), "SNP_LAUNCH_START");
    printf("SNP_LAUNCH_START: policy %#llx\n", (unsigned long long)LIBSEV_SNP_POLICY_DEFAULT);
    must(libsev_snp_launch_update(g, (1ull << 32) - n, img, n, LIBSEV_SNP_PAGE_NORMAL, &err),
         "SNP_LAUNCH_UPDATE (OVMF)");
    printf("SNP_LAUNCH_UPDATE: OVMF %zu bytes as NORMAL pages at %#llx\n", n,
           (unsigned long long)((1ull << 32) - n));
    count = le32(h + 12);
    for (i = 0; i < count; i++) {
        uint32_t gpa = le32(h + 16 + 12 * i), size = le32(h + 20 + 12 * i), type = le32(h + 24 + 12 * i);
        const char *name = "ZERO";
        memset(page, 0, sizeof page);
        if (type == 2) {
            name = "SECRETS";
            secrets_gpa = gpa;
            must(libsev_snp_launch_update(g, gpa, page, 4096, LIBSEV_SNP_PAGE_SECRETS, &err), "SECRETS");
        } else if (type == 3) {
            unsigned a, b, c, d, k = 0, leaves[3] = {0, 1, 0x80000000u};
            name = "CPUID";
            for (k = 0; k < 3; k++) {
                uint8_t *e = page + 16 + 48 * k;
                __cpuid_count(leaves[k], 0, a, b, c, d);
                memcpy(e, &leaves[k], 4);
                memcpy(e + 24, &a, 4);
                memcpy(e + 28, &b, 4);
                memcpy(e + 32, &c, 4);
                memcpy(e + 36, &d, 4);
            }
            page[0] = 3;
            must(libsev_snp_launch_update(g, gpa, page, 4096, LIBSEV_SNP_PAGE_CPUID, &err), "CPUID");
        } else {
            must(libsev_snp_launch_update(g, gpa, NULL, size, LIBSEV_SNP_PAGE_ZERO, &err), "ZERO");
        }
        printf("SNP_LAUNCH_UPDATE: metadata section %#x+%#x (type %u) as %s\n", gpa, size, type, name);
    }
    must(libsev_snp_launch_finish(g, NULL, 0, NULL, 0, 0, 0, NULL, &err), "SNP_LAUNCH_FINISH");
    must(libsev_snp_guest_model_measurement(g, ld, &err), "measurement");
    printf("SNP_LAUNCH_FINISH: 1 vCPU VMSA launched; the guest runs\nlaunch digest: ");
    for (i = 0; i < sizeof ld; i++)
        printf("%02x", ld[i]);
    printf("\n");
    {
        uint8_t rd[64] = {0}, report[LIBSEV_SNP_REPORT_LEN];
        memcpy(rd, "demo nonce", 10);
        must(libsev_snp_guest_model_report(g, rd, 0, report, &err), "MSG_REPORT_REQ");
        printf("attestation report (version %u, signed by the model VCEK): MEASUREMENT ", le32(report));
        for (i = 0x90; i < 0xC0; i++)
            printf("%02x", report[i]);
        printf("\n");
    }
    if (secrets_gpa != 0) {
        must(libsev_snp_guest_model_read_page(g, secrets_gpa, secrets, &err), "secrets page");
        printf("guest's secrets page: version %u, VMPCK0 %s\n", le32(secrets),
               secrets[0x20] | secrets[0x21] ? "set" : "(zero?)");
    }
    libsev_snp_guest_free(g);
    libsev_platform_free(plat);
    free(img);
    return 0;
}
