/*
 * Demo: an SEV-SNP launch and its attestation on libsev's firmware model.
 *
 *   make demo-snp
 *
 * The guest owner computes the launch digest it expects for Debian's OVMF. The hypervisor
 * creates an SNP VM (KVM_SEV_INIT2), gives it two vCPUs in QEMU's reset state, starts the
 * launch with QEMU's default policy, launches OVMF and every section of its SEV metadata
 * (ZERO / SECRETS / CPUID pages) and finishes the launch with the owner's host data. The guest
 * asks the firmware for an attestation report bound to the owner's nonce; the owner takes the
 * VCEK chain out of the certificate table the host serves, verifies it (to libsev's test-only
 * root: the model's chip is not AMD's) and the report against what it expects.
 * Exits 77 (skip) when OVMF is not installed.
 */
#include <libsev.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OVMF "/usr/share/OVMF/OVMF_CODE.fd"
#define VCPUS 2

static libsev_error err;

static void must(uint32_t s, const char *what) {
    if (s != LIBSEV_STATUS_OK) {
        fprintf(stderr, "%s failed: %s (%s)\n", what, libsev_status_str(s), err.message);
        exit(1);
    }
}

static void hex(const char *label, const uint8_t *b, size_t n) {
    size_t i;
    printf("%s", label);
    for (i = 0; i < n; i++)
        printf("%02x", b[i]);
    printf("\n");
}

/* A CPUID page with this CPU's basic leaves (the firmware checks it against the CPU). */
static void cpuid_page(uint8_t *page) {
    static const uint32_t leaves[] = {0, 1, 0x80000000u};
    uint32_t i, r[4];
    memset(page, 0, 4096);
    for (i = 0; i < 3; i++) {
        __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaves[i]), "c"(0));
        memcpy(page + 16 + 48 * i, &leaves[i], 4);
        memcpy(page + 16 + 48 * i + 24, r, 16);
    }
    page[0] = 3;
}

static uint8_t *cert(const uint8_t *table, size_t tlen, uint32_t kind, size_t *n) {
    uint8_t *c;
    if (libsev_snp_cert_table_get(table, tlen, kind, NULL, 0, n, &err) != LIBSEV_STATUS_BUFFER_TOO_SMALL)
        must(err.status, "certificate table");
    c = malloc(*n);
    must(libsev_snp_cert_table_get(table, tlen, kind, c, *n, n, &err), "certificate table");
    return c;
}

int main(void) {
    static uint8_t page[4096];
    libsev_model_config cfg;
    libsev_platform *plat = NULL;
    libsev_snp_guest *g = NULL;
    libsev_snp_platform_status_info st;
    libsev_ovmf_info info;
    libsev_ovmf_section sec[16];
    libsev_snp_measure m;
    libsev_snp_chain *chain = NULL;
    libsev_snp_chain_facts facts;
    libsev_snp_policy pol;
    libsev_snp_verdict verdict;
    uint8_t expected[48], ld[48], nonce[64], host_data[32], report[LIBSEV_SNP_REPORT_LEN];
    uint8_t *img, *table, *ark, *ask, *vcek;
    size_t n, nsec, i, tlen = 0, nark, nask, nvcek;
    uint32_t sig, v, s;
    FILE *f = fopen(OVMF, "rb");

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
    must(libsev_ovmf_info_get(img, n, &info, &err), "libsev_ovmf_info_get");
    must(libsev_ovmf_metadata(img, n, sec, 16, &nsec, &err), "libsev_ovmf_metadata");
    must(libsev_cpu_model_signature("EPYC-Milan", &sig, &err), "libsev_cpu_model_signature");

    /* The guest owner: what it expects, and its nonce and host data. */
    memset(&m, 0, sizeof m);
    m.ovmf = img;
    m.ovmf_len = n;
    m.vcpus = VCPUS;
    m.cpu_model = "EPYC-Milan";
    m.vmm = LIBSEV_VMM_QEMU;
    must(libsev_snp_expected_measurement(&m, expected, &err), "libsev_snp_expected_measurement");
    printf("owner: %s, %d vCPUs EPYC-Milan, QEMU\n", OVMF, VCPUS);
    hex("owner: expected launch digest ", expected, 48);
    memset(nonce, 0, sizeof nonce);
    memcpy(nonce, "demo-snp nonce", 14);
    memset(host_data, 0x42, sizeof host_data);

    /* The hypervisor. */
    must(libsev_model_config_init(&cfg), "libsev_model_config_init");
    must(libsev_platform_new_model(&cfg, &plat, &err), "libsev_platform_new_model");
    must(libsev_snp_platform_status(plat, &st, &err), "SNP_PLATFORM_STATUS");
    printf("host: SNP platform API %u.%u build %u, current TCB %016llx, reported TCB %016llx\n",
           st.api_major, st.api_minor, st.build_id, (unsigned long long)st.current_tcb,
           (unsigned long long)st.reported_tcb);
    must(libsev_snp_guest_new(plat, &g, &err), "libsev_snp_guest_new");
    must(libsev_snp_guest_init2(g, 0, 0, &err), "KVM_SEV_INIT2");
    for (v = 0; v < VCPUS; v++)
        must(libsev_snp_guest_add_vcpu_reset(g, LIBSEV_VMM_QEMU, sig, v, info.sev_es_reset_addr, &err),
             "vCPU");
    must(libsev_snp_launch_start(g, LIBSEV_SNP_POLICY_DEFAULT, NULL, &err), "SNP_LAUNCH_START");
    printf("host: SNP_LAUNCH_START, policy %#llx\n", (unsigned long long)LIBSEV_SNP_POLICY_DEFAULT);
    must(libsev_snp_launch_update(g, (1ull << 32) - n, img, n, LIBSEV_SNP_PAGE_NORMAL, &err),
         "SNP_LAUNCH_UPDATE (OVMF)");
    printf("host: SNP_LAUNCH_UPDATE OVMF, %zu bytes of NORMAL pages at %#llx\n", n,
           (unsigned long long)((1ull << 32) - n));
    for (i = 0; i < nsec; i++) {
        const char *name = "ZERO";
        memset(page, 0, sizeof page);
        if (sec[i].kind == 2) {
            name = "SECRETS";
            s = libsev_snp_launch_update(g, sec[i].gpa, page, 4096, LIBSEV_SNP_PAGE_SECRETS, &err);
        } else if (sec[i].kind == 3) {
            name = "CPUID";
            cpuid_page(page);
            s = libsev_snp_launch_update(g, sec[i].gpa, page, 4096, LIBSEV_SNP_PAGE_CPUID, &err);
        } else {
            s = libsev_snp_launch_update(g, sec[i].gpa, NULL, sec[i].size, LIBSEV_SNP_PAGE_ZERO, &err);
        }
        must(s, "SNP_LAUNCH_UPDATE (metadata section)");
        printf("host: SNP_LAUNCH_UPDATE metadata section %#x+%#x as %s\n", sec[i].gpa, sec[i].size, name);
    }
    must(libsev_snp_launch_finish(g, NULL, 0, NULL, 0, 0, 0, host_data, &err), "SNP_LAUNCH_FINISH");
    must(libsev_snp_guest_model_measurement(g, ld, &err), "measurement");
    printf("host: SNP_LAUNCH_FINISH, %d VMSAs launched; the guest runs\n", VCPUS);
    hex("model: launch digest            ", ld, 48);

    /* The guest asks for a report; the host serves its certificate table. */
    must(libsev_snp_guest_model_report(g, nonce, 0, report, &err), "MSG_REPORT_REQ");
    if (libsev_snp_model_cert_table(plat, NULL, 0, &tlen, &err) != LIBSEV_STATUS_BUFFER_TOO_SMALL)
        must(err.status, "certificate table size");
    table = malloc(tlen);
    must(libsev_snp_model_cert_table(plat, table, tlen, &tlen, &err), "certificate table");
    printf("guest: attestation report (%zu bytes), certificate table (%zu bytes)\n", sizeof report, tlen);

    /* The owner verifies. */
    ark = cert(table, tlen, LIBSEV_SNP_CERT_ARK, &nark);
    ask = cert(table, tlen, LIBSEV_SNP_CERT_ASK, &nask);
    vcek = cert(table, tlen, LIBSEV_SNP_CERT_VCEK, &nvcek);
    must(libsev_snp_chain_verify(ark, nark, ask, nask, vcek, nvcek, LIBSEV_SNP_GEN_ANY,
                                 LIBSEV_VERIFY_ALLOW_TEST_ROOT, &chain, &err),
         "VCEK chain");
    must(libsev_snp_chain_info(chain, &facts, &err), "chain info");
    printf("owner: VCEK <- ASK <- ARK verified (%s root), VCEK for TCB bl %u tee %u snp %u ucode %u\n",
           facts.root_kind == LIBSEV_ROOT_TEST_ONLY ? "libsev's test-only" : "AMD",
           facts.tcb.bootloader, facts.tcb.tee, facts.tcb.snp, facts.tcb.microcode);
    memset(&pol, 0, sizeof pol);
    pol.expect = LIBSEV_SNP_EXPECT_MEASUREMENT | LIBSEV_SNP_EXPECT_HOST_DATA |
                 LIBSEV_SNP_EXPECT_REPORT_DATA | LIBSEV_SNP_EXPECT_VMPL |
                 LIBSEV_SNP_EXPECT_POLICY_ALLOWED;
    memcpy(pol.measurement, expected, 48);
    memcpy(pol.host_data, host_data, 32);
    memcpy(pol.report_data, nonce, 64);
    pol.policy_required = LIBSEV_SNP_POLICY_DEFAULT;
    pol.policy_allowed = LIBSEV_SNP_POLICY_DEFAULT | 0xFFFF;
    must(libsev_snp_report_verify(report, sizeof report, chain, &pol, &verdict, &err), "report");
    printf("owner: report verified: %s\n", verdict.message);
    report[0x90] ^= 1;
    s = libsev_snp_report_verify(report, sizeof report, chain, &pol, &verdict, &err);
    printf("owner: the same report with one MEASUREMENT bit flipped: %s\n       %s\n",
           libsev_status_str(s), verdict.message);

    libsev_snp_chain_free(chain);
    free(ark);
    free(ask);
    free(vcek);
    free(table);
    libsev_snp_guest_free(g);
    libsev_platform_free(plat);
    free(img);
    return s == LIBSEV_STATUS_REPORT_CHECK_FAILED ? 0 : 1;
}
