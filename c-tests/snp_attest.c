/*
 * SEV-SNP attestation end to end, the hypervisor and the guest owner in two processes.
 *
 * The owner (this program) computes the expected launch digest of Debian's OVMF with
 * libsev_snp_expected_measurement, picks a nonce and host data, and runs a second process
 * (this program again, "host" mode) that launches the guest on the firmware model as QEMU
 * does (OVMF, its SEV metadata sections by VMM type, one reset VMSA per vCPU) and returns the
 * guest's attestation report and the model chip's certificate table through a pipe. The owner
 * takes ARK, ASK and VCEK out of the table, verifies the chain to the test-only root, then the
 * report against its policy; every tampered field is refused naming its check.
 *
 * In one process it also compares the model's launch digest with the owner's for each Debian
 * OVMF image, 1-64 vCPUs, three CPU models, the three VMM types and both VMSA feature sets.
 *
 * Skips (77) when Debian's OVMF is not installed.
 */
#include "test_util.h"

#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

static libsev_error err;

struct image {
    const char *path;
    uint8_t *p;
    size_t n;
    libsev_ovmf_info info;
    libsev_ovmf_section s[32];
    size_t ns;
};

struct config {
    uint32_t vmm, signature, vcpus;
    uint64_t features;
};

static int load_image(struct image *im, const char *path) {
    FILE *f = fopen(path, "rb");
    long len;
    im->path = path;
    if (f == NULL)
        return 0;
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    im->n = (size_t)len;
    im->p = malloc(im->n);
    if (im->p == NULL || fread(im->p, 1, im->n, f) != im->n) {
        fclose(f);
        return 0;
    }
    fclose(f);
    MUST_E(err, libsev_ovmf_info_get(im->p, im->n, &im->info, &err));
    if (!im->info.has_metadata)
        return 0;
    MUST_E(err, libsev_ovmf_metadata(im->p, im->n, im->s, 32, &im->ns, &err));
    return 1;
}

/* --- the hypervisor ------------------------------------------------------------------------ */

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

/* A CPUID page of this CPU's leaves (the model checks it against the CPU it runs on). */
static void cpuid_page(uint8_t *page) {
    static const uint32_t leaves[][2] = {{0, 0}, {1, 0}, {7, 0}, {0x80000000u, 0}, {0x80000001u, 0}};
    size_t i;
    memset(page, 0, 4096);
    for (i = 0; i < sizeof leaves / sizeof leaves[0]; i++) {
        uint8_t *e = page + 16 + 48 * i;
        unsigned a, b, c, d;
        __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(leaves[i][0]), "c"(leaves[i][1]));
        put32(e, leaves[i][0]);
        put32(e + 4, leaves[i][1]);
        put32(e + 24, a);
        put32(e + 28, b);
        put32(e + 32, c);
        put32(e + 36, d);
    }
    put32(page, (uint32_t)i);
}

static void update(libsev_snp_guest *g, uint64_t gpa, size_t size, uint8_t type) {
    uint8_t *buf = NULL;
    if (type != LIBSEV_SNP_PAGE_ZERO) {
        buf = calloc(1, size);
        if (type == LIBSEV_SNP_PAGE_CPUID)
            cpuid_page(buf);
    }
    MUST_E(err, libsev_snp_launch_update(g, gpa, buf, size, type, &err));
    free(buf);
}

/* Launch `im` as QEMU (or EC2, GCE) does and finish with `host_data`. */
static libsev_snp_guest *launch(libsev_platform *p, struct image *im, const struct config *c,
                                const uint8_t *host_data) {
    libsev_snp_guest *g = NULL;
    size_t i;
    uint32_t v;
    MUST_E(err, libsev_snp_guest_new(p, &g, &err));
    MUST_E(err, libsev_snp_guest_init2(g, c->features, 0, &err));
    for (v = 0; v < c->vcpus; v++)
        MUST_E(err, libsev_snp_guest_add_vcpu_reset(g, c->vmm, c->signature, v,
                                                    im->info.sev_es_reset_addr, &err));
    MUST_E(err, libsev_snp_launch_start(g, LIBSEV_SNP_POLICY_DEFAULT, NULL, &err));
    MUST_E(err, libsev_snp_launch_update(g, (1ull << 32) - im->n, im->p, im->n,
                                         LIBSEV_SNP_PAGE_NORMAL, &err));
    for (i = 0; i < im->ns; i++) {
        const libsev_ovmf_section *s = &im->s[i];
        switch (s->kind) {
        case 1: /* SNP_SEC_MEM: GCE launches it unmeasured */
            update(g, s->gpa, s->size,
                   c->vmm == LIBSEV_VMM_GCE ? LIBSEV_SNP_PAGE_UNMEASURED : LIBSEV_SNP_PAGE_ZERO);
            break;
        case 2:
            update(g, s->gpa, s->size, LIBSEV_SNP_PAGE_SECRETS);
            break;
        case 3: /* EC2 launches CPUID pages last */
            if (c->vmm != LIBSEV_VMM_EC2)
                update(g, s->gpa, s->size, LIBSEV_SNP_PAGE_CPUID);
            break;
        default: /* SVSM_CAA; kernel hashes without a kernel */
            update(g, s->gpa, s->size, LIBSEV_SNP_PAGE_ZERO);
        }
    }
    if (c->vmm == LIBSEV_VMM_EC2)
        for (i = 0; i < im->ns; i++)
            if (im->s[i].kind == 3)
                update(g, im->s[i].gpa, im->s[i].size, LIBSEV_SNP_PAGE_CPUID);
    MUST_E(err, libsev_snp_launch_finish(g, NULL, 0, NULL, 0, 0, 0, host_data, &err));
    return g;
}

static void unhex(const char *h, uint8_t *out, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned b = 0;
        if (sscanf(h + 2 * i, "%2x", &b) != 1)
            exit(2);
        out[i] = (uint8_t)b;
    }
}

static int write_all(int fd, const void *p, size_t n) {
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return 0;
        b += w;
        n -= (size_t)w;
    }
    return 1;
}

/* host IMAGE VMM SIGNATURE VCPUS FEATURES NONCE_HEX HOST_DATA_HEX: report ‖ u64 len ‖ table */
static int host_main(char **argv) {
    struct image im;
    struct config c;
    libsev_model_config cfg;
    libsev_platform *p = NULL;
    libsev_snp_guest *g;
    uint8_t nonce[64], hd[32], report[LIBSEV_SNP_REPORT_LEN], *table;
    size_t need = 0;
    uint64_t n64;

    if (!load_image(&im, argv[2]))
        return 2;
    c.vmm = (uint32_t)strtoul(argv[3], NULL, 0);
    c.signature = (uint32_t)strtoul(argv[4], NULL, 0);
    c.vcpus = (uint32_t)strtoul(argv[5], NULL, 0);
    c.features = strtoull(argv[6], NULL, 0);
    unhex(argv[7], nonce, 64);
    unhex(argv[8], hd, 32);
    MUST_E(err, libsev_model_config_init(&cfg));
    MUST_E(err, libsev_platform_new_model(&cfg, &p, &err));
    g = launch(p, &im, &c, hd);
    MUST_E(err, libsev_snp_guest_model_report(g, nonce, 0, report, &err));
    CHECK_ST_E(err, libsev_snp_model_cert_table(p, NULL, 0, &need, &err),
               LIBSEV_STATUS_BUFFER_TOO_SMALL);
    table = malloc(need);
    MUST_E(err, libsev_snp_model_cert_table(p, table, need, &need, &err));
    n64 = need;
    if (!write_all(1, report, sizeof report) || !write_all(1, &n64, 8) || !write_all(1, table, need))
        return 3;
    free(table);
    libsev_snp_guest_free(g);
    libsev_platform_free(p);
    free(im.p);
    return failures ? 1 : 0;
}

/* --- the guest owner ------------------------------------------------------------------------ */

static void hex(const uint8_t *b, size_t n, char *out) {
    size_t i;
    for (i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

static int read_all(int fd, void *p, size_t n) {
    uint8_t *b = p;
    while (n > 0) {
        ssize_t r = read(fd, b, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return 0;
        b += r;
        n -= (size_t)r;
    }
    return 1;
}

/* Run the host process; `*table` is malloc'd. */
static int run_host(const char *self, const struct image *im, const struct config *c,
                    const uint8_t *nonce, const uint8_t *hd, uint8_t *report, uint8_t **table,
                    size_t *table_len) {
    char a_vmm[16], a_sig[16], a_vcpus[16], a_feat[24], a_nonce[129], a_hd[65];
    int fds[2], status = 0, ok;
    uint64_t n64 = 0;
    pid_t pid;
    snprintf(a_vmm, sizeof a_vmm, "%u", c->vmm);
    snprintf(a_sig, sizeof a_sig, "%#x", c->signature);
    snprintf(a_vcpus, sizeof a_vcpus, "%u", c->vcpus);
    snprintf(a_feat, sizeof a_feat, "%#llx", (unsigned long long)c->features);
    hex(nonce, 64, a_nonce);
    hex(hd, 32, a_hd);
    if (pipe(fds) != 0)
        return 0;
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        char *args[] = {(char *)self, "host", (char *)im->path, a_vmm, a_sig, a_vcpus,
                        a_feat, a_nonce, a_hd, NULL};
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execv(self, args);
        _exit(127);
    }
    close(fds[1]);
    ok = read_all(fds[0], report, LIBSEV_SNP_REPORT_LEN) && read_all(fds[0], &n64, 8) &&
         n64 > 0 && n64 < (1u << 20);
    if (ok) {
        *table = malloc(n64);
        *table_len = n64;
        ok = *table != NULL && read_all(fds[0], *table, n64);
    }
    close(fds[0]);
    waitpid(pid, &status, 0);
    return ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static uint8_t *cert_of(const uint8_t *table, size_t n, uint32_t kind, size_t *len) {
    uint8_t *c;
    *len = 0;
    CHECK_ST_E(err, libsev_snp_cert_table_get(table, n, kind, NULL, 0, len, &err),
               LIBSEV_STATUS_BUFFER_TOO_SMALL);
    c = malloc(*len);
    MUST_E(err, libsev_snp_cert_table_get(table, n, kind, c, *len, len, &err));
    return c;
}

static void random_bytes(uint8_t *b, size_t n) {
    FILE *f = fopen("/dev/urandom", "rb");
    if (f == NULL || fread(b, 1, n, f) != n)
        exit(2);
    fclose(f);
}

/* Verify `report`; the status and, in `*v`, the verdict. */
static uint32_t verify(const uint8_t *report, size_t len, libsev_snp_chain *chain,
                       const libsev_snp_policy *pol, libsev_snp_verdict *v) {
    return libsev_snp_report_verify(report, len, chain, pol, v, &err);
}

static void attest(const char *self, struct image *im) {
    struct config c = {LIBSEV_VMM_QEMU, 0, 4, 0};
    libsev_snp_measure m;
    libsev_snp_policy pol;
    libsev_snp_verdict v;
    libsev_snp_chain *chain = NULL;
    libsev_snp_chain_facts facts;
    uint8_t expected[48], nonce[64], hd[32], report[LIBSEV_SNP_REPORT_LEN], t[LIBSEV_SNP_REPORT_LEN];
    uint8_t *table = NULL, *ark, *ask, *vcek;
    size_t tlen = 0, nark, nask, nvcek, i, step;
    static const struct {
        size_t off;
        uint64_t check;
    } fields[] = {
        {0x08, LIBSEV_SNP_CHECK_POLICY},      {0x30, LIBSEV_SNP_CHECK_VMPL},
        {0x50, LIBSEV_SNP_CHECK_REPORT_DATA}, {0x90, LIBSEV_SNP_CHECK_MEASUREMENT},
        {0xC0, LIBSEV_SNP_CHECK_HOST_DATA},   {0x180, LIBSEV_SNP_CHECK_REPORTED_TCB},
        {0x1A0, LIBSEV_SNP_CHECK_CHIP_ID},
    };

    MUST_E(err, libsev_cpu_model_signature("EPYC-Milan", &c.signature, &err));
    memset(&m, 0, sizeof m);
    m.ovmf = im->p;
    m.ovmf_len = im->n;
    m.vcpus = c.vcpus;
    m.cpu_model = "EPYC-Milan";
    m.vmm = LIBSEV_VMM_QEMU;
    MUST_E(err, libsev_snp_expected_measurement(&m, expected, &err));
    random_bytes(nonce, sizeof nonce);
    random_bytes(hd, sizeof hd);
    if (!run_host(self, im, &c, nonce, hd, report, &table, &tlen)) {
        fprintf(stderr, "snp_attest: the host process failed\n");
        failures++;
        return;
    }
    printf("snp_attest: host process returned a %zu-byte report and a %zu-byte certificate table\n",
           sizeof report, tlen);

    ark = cert_of(table, tlen, LIBSEV_SNP_CERT_ARK, &nark);
    ask = cert_of(table, tlen, LIBSEV_SNP_CERT_ASK, &nask);
    vcek = cert_of(table, tlen, LIBSEV_SNP_CERT_VCEK, &nvcek);
    /* The model's chain ends at the test-only root: refused unless allowed. */
    CHECK_ST_E(err, libsev_snp_chain_verify(ark, nark, ask, nask, vcek, nvcek, LIBSEV_SNP_GEN_ANY,
                                            0, &chain, &err),
               LIBSEV_STATUS_TEST_ROOT_NOT_ALLOWED);
    CHECK(chain == NULL);
    MUST_E(err, libsev_snp_chain_verify(ark, nark, ask, nask, vcek, nvcek, LIBSEV_SNP_GEN_ANY,
                                        LIBSEV_VERIFY_ALLOW_TEST_ROOT, &chain, &err));
    MUST_E(err, libsev_snp_chain_info(chain, &facts, &err));
    CHECK(facts.root_kind == LIBSEV_ROOT_TEST_ONLY && facts.leaf_kind == 0);
    CHECK(facts.hw_id_len == 64 && memcmp(facts.hw_id, report + 0x1A0, 64) == 0);

    memset(&pol, 0, sizeof pol);
    pol.expect = LIBSEV_SNP_EXPECT_MEASUREMENT | LIBSEV_SNP_EXPECT_HOST_DATA |
                 LIBSEV_SNP_EXPECT_REPORT_DATA | LIBSEV_SNP_EXPECT_VMPL |
                 LIBSEV_SNP_EXPECT_POLICY_ALLOWED | LIBSEV_SNP_EXPECT_MIN_TCB;
    memcpy(pol.measurement, expected, 48);
    memcpy(pol.host_data, hd, 32);
    memcpy(pol.report_data, nonce, 64);
    pol.vmpl = 0;
    pol.policy_required = LIBSEV_SNP_POLICY_DEFAULT;
    pol.policy_allowed = LIBSEV_SNP_POLICY_DEFAULT | 0xFFFF;
    pol.min_tcb = facts.tcb;
    CHECK_ST_E(err, verify(report, sizeof report, chain, &pol, &v), LIBSEV_STATUS_OK);
    CHECK(v.failed == 0 && memcmp(v.measurement, expected, 48) == 0);
    printf("snp_attest: report verified: measurement, nonce, host data, VMPL, policy, TCB, "
           "signature by the certified VCEK\n");

    /* Each tampered field: refused, naming the field (and the signature, which covers it). */
    for (i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        memcpy(t, report, sizeof t);
        t[fields[i].off] ^= (fields[i].off == 0x08) ? 0x00 : 0x01;
        if (fields[i].off == 0x08)
            t[0x0A] |= 0x08; /* POLICY bit 19: debugging, which the owner does not allow */
        memset(&v, 0, sizeof v);
        CHECK_ST_E(err, verify(t, sizeof t, chain, &pol, &v), LIBSEV_STATUS_REPORT_CHECK_FAILED);
        CHECK(v.failed & fields[i].check);
        CHECK(v.failed & LIBSEV_SNP_CHECK_SIGNATURE);
        CHECK(strstr(v.message, libsev_snp_check_name(fields[i].check)) != NULL);
    }
    /* A wrong expectation with a genuine report: only that check fails. */
    pol.measurement[47] ^= 1;
    CHECK_ST_E(err, verify(report, sizeof report, chain, &pol, &v), LIBSEV_STATUS_REPORT_CHECK_FAILED);
    CHECK(v.failed == LIBSEV_SNP_CHECK_MEASUREMENT);
    pol.measurement[47] ^= 1;
    /* Every significant byte of R and S (every 7th under valgrind): the signature check
     * alone; a byte of their zero padding: not a report. */
    step = under_valgrind() ? 7 : 1;
    for (i = 0x2A0; i < 0x330; i += step) {
        int pad = (i >= 0x2D0 && i < 0x2E8) || i >= 0x318;
        memcpy(t, report, sizeof t);
        t[i] ^= 0x80;
        memset(&v, 0, sizeof v);
        CHECK_ST_E(err, verify(t, sizeof t, chain, &pol, &v),
                   pad ? LIBSEV_STATUS_BAD_REPORT : LIBSEV_STATUS_REPORT_CHECK_FAILED);
        CHECK(v.failed == (pad ? 0 : LIBSEV_SNP_CHECK_SIGNATURE));
    }
    /* Every wrong length: not a report, verdict untouched. */
    for (i = 0; i <= sizeof report + 1; i += (i < 16 || i > sizeof report - 16) ? 1 : 61) {
        uint8_t *cp;
        if (i == sizeof report)
            continue;
        cp = malloc(i + 1);
        memcpy(cp, report, i < sizeof report ? i : sizeof report);
        memset(&v, 0xAB, sizeof v);
        CHECK_ST_E(err, verify(cp, i, chain, &pol, &v), LIBSEV_STATUS_BAD_REPORT);
        CHECK(v.failed == 0xABABABABABABABABull);
        free(cp);
    }
    CHECK_ST_E(err, verify(NULL, 0, chain, &pol, &v), LIBSEV_STATUS_NULL_ARGUMENT);
    CHECK_ST_E(err, verify(report, sizeof report, NULL, &pol, &v), LIBSEV_STATUS_NULL_ARGUMENT);
    CHECK_ST_E(err, verify(report, sizeof report, chain, NULL, &v), LIBSEV_STATUS_NULL_ARGUMENT);
    CHECK_ST_E(err, verify(report, sizeof report, chain, &pol, NULL), LIBSEV_STATUS_NULL_ARGUMENT);
    pol.expect |= 1u << 30;
    CHECK_ST_E(err, verify(report, sizeof report, chain, &pol, &v), LIBSEV_STATUS_INVALID_ARGUMENT);

    libsev_snp_chain_free(chain);
    free(ark);
    free(ask);
    free(vcek);
    free(table);
}

/* The model's launch digest equals the owner's, for one image and configuration. */
static void same_digest(libsev_platform *p, struct image *im, const struct config *c) {
    libsev_snp_measure m;
    libsev_snp_guest *g;
    uint8_t want[48], got[48];
    memset(&m, 0, sizeof m);
    m.ovmf = im->p;
    m.ovmf_len = im->n;
    m.vcpus = c->vcpus;
    m.vcpu_signature = c->signature;
    m.vmm = c->vmm;
    m.guest_features = c->features;
    MUST_E(err, libsev_snp_expected_measurement(&m, want, &err));
    g = launch(p, im, c, NULL);
    MUST_E(err, libsev_snp_guest_model_measurement(g, got, &err));
    if (memcmp(want, got, 48) != 0) {
        fprintf(stderr, "snp_attest: %s, vmm %u, signature %#x, %u vCPUs, features %#llx: the "
                        "model's digest differs from the owner's\n",
                im->path, c->vmm, c->signature, c->vcpus, (unsigned long long)c->features);
        failures++;
    }
    libsev_snp_guest_free(g);
}

static void digests(struct image *images, size_t nimages) {
    static const char *models[] = {"EPYC-v4", "EPYC-Milan", "EPYC-Genoa"};
    static const uint32_t vcpus[] = {1, 2, 7, 64};
    libsev_model_config cfg;
    libsev_platform *p = NULL;
    size_t i, k, n, count = 0;
    uint32_t vmm, v;
    int vg = under_valgrind();
    MUST_E(err, libsev_model_config_init(&cfg));
    MUST_E(err, libsev_platform_new_model(&cfg, &p, &err));
    for (i = 0; i < nimages; i++)
        for (k = 0; k < 3; k++)
            for (vmm = LIBSEV_VMM_QEMU; vmm <= LIBSEV_VMM_GCE; vmm++)
                for (n = 0; n < (vg ? 1u : 4u); n++) {
                    struct config c = {vmm, 0, vcpus[n], (n & 1) ? 0x20 : 0};
                    MUST_E(err, libsev_cpu_model_signature(models[k], &c.signature, &err));
                    same_digest(p, &images[i], &c);
                    count++;
                }
    /* 1 to 64 vCPUs on one image and CPU model. */
    for (v = 1; v <= (vg ? 3u : 64u); v++) {
        struct config c = {LIBSEV_VMM_QEMU, 0x00A10F11, v, 0};
        same_digest(p, &images[0], &c);
        count++;
    }
    printf("snp_attest: %zu launches on the model: each launch digest equals the owner's\n", count);
    libsev_platform_free(p);
}

int main(int argc, char **argv) {
    static const char *paths[] = {"/usr/share/OVMF/OVMF_CODE.fd", "/usr/share/OVMF/OVMF_CODE.secboot.fd",
                                  "/usr/share/OVMF/OVMF_CODE_4M.fd",
                                  "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd"};
    struct image images[4];
    size_t n = 0, i;

    if (argc == 9 && strcmp(argv[1], "host") == 0)
        return host_main(argv);
    for (i = 0; i < 4; i++) {
        memset(&images[n], 0, sizeof images[n]);
        if (load_image(&images[n], paths[i])) {
            printf("snp_attest: %s: %zu SEV metadata sections\n", paths[i], images[n].ns);
            n++;
        } else {
            printf("snp_attest: %s absent or without SEV metadata\n", paths[i]);
            free(images[n].p);
        }
    }
    if (n == 0) {
        printf("skip: no Debian OVMF image with SEV metadata (install the ovmf package)\n");
        return 77;
    }
    attest(argv[0], &images[0]);
    digests(images, n);
    for (i = 0; i < n; i++)
        free(images[i].p);
    if (failures) {
        fprintf(stderr, "snp_attest: %d failures\n", failures);
        return 1;
    }
    printf("snp_attest: ok\n");
    return 0;
}
