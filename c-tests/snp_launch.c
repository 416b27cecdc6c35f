/*
 * SEV-SNP launches on the firmware model through the C API: Debian's OVMF (its SEV metadata
 * decides each range's page type), with and without an ID block, CPUID pages that pass and
 * fail (the corrected page comes back), every launch command in every state that forbids it,
 * the /dev/sev SNP platform commands, and an SNP VM on the real KVM transport where this host
 * has one (otherwise the reason is printed).
 */
#include "test_util.h"

#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

static libsev_error err;
static const char *ovmf_path = "/usr/share/OVMF/OVMF_CODE.fd";

/* --- OVMF: the footer GUID table and the SEV metadata ------------------------------------- */

static const uint8_t table_guid[16] = {0xde, 0x82, 0xb5, 0x96, 0xb2, 0x1f, 0xf7, 0x45,
                                       0xba, 0xea, 0xa3, 0x66, 0xc5, 0x5a, 0x08, 0x2d};
static const uint8_t meta_guid[16] = {0x66, 0x65, 0x88, 0xdc, 0x4a, 0x98, 0x98, 0x47,
                                      0xa7, 0x5e, 0x55, 0x85, 0xa7, 0xbf, 0x67, 0xcc};

struct section {
    uint32_t gpa, size, type;
};

static uint32_t le32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* The SEV metadata sections of an OVMF image; returns their count (0 if none). */
static size_t sev_metadata(const uint8_t *img, size_t n, struct section *out, size_t max) {
    size_t end, start, p, len;
    if (n < 0x40)
        return 0;
    end = n - 0x20;
    if (memcmp(img + end - 16, table_guid, 16) != 0)
        return 0;
    len = le16(img + end - 18);
    if (len > end)
        return 0;
    start = end - len;
    p = end - 18;
    while (p >= start + 18) {
        uint16_t elen = le16(img + p - 18);
        if (elen < 18 || elen > p - start)
            return 0;
        if (memcmp(img + p - 16, meta_guid, 16) == 0) {
            uint32_t off = le32(img + p - 22), count, i;
            const uint8_t *h;
            if (off > n || off < 16)
                return 0;
            h = img + n - off;
            if (memcmp(h, "ASEV", 4) != 0 || le32(h + 8) != 1)
                return 0;
            count = le32(h + 12);
            if (count > max || 16 + 12 * (size_t)count > off)
                return 0;
            for (i = 0; i < count; i++) {
                out[i].gpa = le32(h + 16 + 12 * i);
                out[i].size = le32(h + 20 + 12 * i);
                out[i].type = le32(h + 24 + 12 * i);
            }
            return count;
        }
        p -= elen;
    }
    return 0;
}

static uint8_t *read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    uint8_t *b;
    long sz;
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    b = malloc((size_t)sz);
    if (b == NULL || fread(b, 1, (size_t)sz, f) != (size_t)sz) {
        fclose(f);
        free(b);
        return NULL;
    }
    fclose(f);
    *n = (size_t)sz;
    return b;
}

/* --- CPUID page from this CPU (the model validates against the CPU it runs on) ------------ */

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

static size_t add_leaf(uint8_t *page, size_t i, uint32_t leaf, uint32_t sub, uint64_t xcr0) {
    unsigned a, b, c, d;
    uint8_t *e = page + 16 + 48 * i;
    __cpuid_count(leaf, sub, a, b, c, d);
    put32(e, leaf);
    put32(e + 4, sub);
    memcpy(e + 8, &xcr0, 8);
    if (leaf == 0xD) /* as QEMU: x87+SSE only, size of the legacy area */
        b = 0x240;
    put32(e + 24, a);
    put32(e + 28, b);
    put32(e + 32, c);
    put32(e + 36, d);
    return i + 1;
}

static void host_cpuid_page(uint8_t *page) {
    size_t n = 0;
    memset(page, 0, 4096);
    n = add_leaf(page, n, 0, 0, 0);
    n = add_leaf(page, n, 1, 0, 0);
    n = add_leaf(page, n, 7, 0, 0);
    n = add_leaf(page, n, 0xD, 0, 1);
    n = add_leaf(page, n, 0xD, 1, 1);
    n = add_leaf(page, n, 0x80000000u, 0, 0);
    n = add_leaf(page, n, 0x80000001u, 0, 0);
    put32(page, (uint32_t)n);
}

/* --- launches ----------------------------------------------------------------------------- */

static uint8_t vmsa[4096];

static libsev_snp_guest *new_guest(libsev_platform *p, int vcpus) {
    libsev_snp_guest *g = NULL;
    int i;
    MUST_E(err, libsev_snp_guest_new(p, &g, &err));
    MUST_E(err, libsev_snp_guest_init2(g, 0, 0, &err));
    for (i = 0; i < vcpus; i++) {
        vmsa[0] = (uint8_t)i; /* a distinct register state per vCPU */
        MUST_E(err, libsev_snp_guest_set_vmsa(g, (uint32_t)i, vmsa, sizeof vmsa, &err));
    }
    MUST_E(err, libsev_snp_launch_start(g, LIBSEV_SNP_POLICY_DEFAULT, NULL, &err));
    return g;
}

/* OVMF as QEMU launches it: the image below 4 GiB, then each metadata section. */
static void launch_ovmf(libsev_snp_guest *g, uint8_t *img, size_t n, const struct section *s,
                        size_t ns) {
    uint8_t page[4096];
    size_t i;
    MUST_E(err, libsev_snp_launch_update(g, (1ull << 32) - n, img, n, LIBSEV_SNP_PAGE_NORMAL, &err));
    for (i = 0; i < ns; i++) {
        switch (s[i].type) {
        case 2:
            memset(page, 0, sizeof page);
            MUST_E(err, libsev_snp_launch_update(g, s[i].gpa, page, 4096, LIBSEV_SNP_PAGE_SECRETS, &err));
            break;
        case 3:
            host_cpuid_page(page);
            MUST_E(err, libsev_snp_launch_update(g, s[i].gpa, page, 4096, LIBSEV_SNP_PAGE_CPUID, &err));
            break;
        default: /* SEC_MEM, SVSM_CAA, kernel hashes without a kernel: ZERO */
            MUST_E(err, libsev_snp_launch_update(g, s[i].gpa, NULL, s[i].size, LIBSEV_SNP_PAGE_ZERO, &err));
        }
    }
}

static void test_ovmf_launches(libsev_platform *p) {
    size_t n = 0, ns, i;
    struct section s[16];
    uint8_t *img = read_file(ovmf_path, &n);
    uint8_t ld1[48], ld2[48], ld3[48], secrets[4096];
    libsev_snp_guest *g;
    if (img == NULL) {
        printf("snp_launch: %s is absent (install Debian's ovmf): OVMF launches skipped\n", ovmf_path);
        return;
    }
    ns = sev_metadata(img, n, s, 16);
    CHECK(ns > 0);
    for (i = 0; i < ns; i++)
        printf("snp_launch: OVMF section %#x+%#x type %u\n", s[i].gpa, s[i].size, s[i].type);

    /* Two identical launches give the same digest; a different vCPU count does not. */
    g = new_guest(p, 1);
    launch_ovmf(g, img, n, s, ns);
    MUST_E(err, libsev_snp_launch_finish(g, NULL, 0, NULL, 0, 0, 0, NULL, &err));
    MUST_E(err, libsev_snp_guest_model_measurement(g, ld1, &err));
    CHECK(!all_bytes(ld1, 48, 0));
    for (i = 0; i < ns; i++)
        if (s[i].type == 2) {
            MUST_E(err, libsev_snp_guest_model_read_page(g, s[i].gpa, secrets, &err));
            CHECK(le32(secrets) == 3);                 /* secrets page version */
            CHECK(!all_bytes(secrets + 0x20, 32, 0)); /* VMPCK0 */
        }
    {
        /* A report as the guest obtains it: report data, measurement, signed (r, s non-zero). */
        uint8_t rd[64], report[LIBSEV_SNP_REPORT_LEN];
        memset(rd, 0xC5, sizeof rd);
        MUST_E(err, libsev_snp_guest_model_report(g, rd, 0, report, &err));
        CHECK(le32(report) == 2);
        CHECK(memcmp(report + 0x50, rd, 64) == 0);
        CHECK(memcmp(report + 0x90, ld1, 48) == 0);
        CHECK(!all_bytes(report + 0x2A0, 48, 0) && !all_bytes(report + 0x2E8, 48, 0));
        {
            size_t need = 0;
            uint8_t *table;
            CHECK_ST_E(err, libsev_snp_model_cert_table(p, NULL, 0, &need, &err), LIBSEV_STATUS_BUFFER_TOO_SMALL);
            CHECK(need > 3 * 24);
            table = malloc(need);
            MUST_E(err, libsev_snp_model_cert_table(p, table, need, &need, &err));
            CHECK(table[0] == 0xc0 && table[1] == 0xb4); /* the ARK's GUID, RFC 4122 order */
            free(table);
        }
        /* NULL report data is refused. */
        CHECK_ST_E(err, libsev_snp_guest_model_report(g, NULL, 0, report, &err), LIBSEV_STATUS_NULL_ARGUMENT);
    }
    libsev_snp_guest_free(g);
    g = new_guest(p, 1);
    launch_ovmf(g, img, n, s, ns);
    MUST_E(err, libsev_snp_launch_finish(g, NULL, 0, NULL, 0, 0, 0, NULL, &err));
    MUST_E(err, libsev_snp_guest_model_measurement(g, ld2, &err));
    CHECK(memcmp(ld1, ld2, 48) == 0);
    libsev_snp_guest_free(g);
    g = new_guest(p, 4);
    launch_ovmf(g, img, n, s, ns);
    MUST_E(err, libsev_snp_launch_finish(g, NULL, 0, NULL, 0, 0, 0, NULL, &err));
    MUST_E(err, libsev_snp_guest_model_measurement(g, ld3, &err));
    CHECK(memcmp(ld1, ld3, 48) != 0);
    libsev_snp_guest_free(g);

    /* With an ID block: each check in the firmware's order. */
    {
        uint8_t block[96], auth[4096];
        uint64_t pol = LIBSEV_SNP_POLICY_DEFAULT;
        g = new_guest(p, 1);
        launch_ovmf(g, img, n, s, ns);
        memset(block, 0, sizeof block);
        memset(auth, 0, sizeof auth);
        memcpy(block, ld1, 48); /* the measurement of the 1-vCPU launch */
        memcpy(block + 0x58, &pol, 8);
        put32(auth, 1);
        put32(auth + 4, 1);
        put32(auth + 0x240, 2); /* curve P-384, point (0, 0): not on the curve */
        CHECK_ST_E(err, libsev_snp_launch_finish(g, block, 96, auth, 4096, 1, 0, NULL, &err),
                   LIBSEV_STATUS_FW_BAD_SIGNATURE);
        CHECK(err.fw_error == 0x0A && err.os_errno == EIO);
        libsev_snp_guest_free(g);

        g = new_guest(p, 1);
        launch_ovmf(g, img, n, s, ns);
        block[0] ^= 1;
        CHECK_ST_E(err, libsev_snp_launch_finish(g, block, 96, auth, 4096, 1, 0, NULL, &err),
                   LIBSEV_STATUS_FW_BAD_MEASUREMENT);
        libsev_snp_guest_free(g);
        block[0] ^= 1;

        g = new_guest(p, 1);
        launch_ovmf(g, img, n, s, ns);
        pol |= 1u << 19;
        memcpy(block + 0x58, &pol, 8);
        CHECK_ST_E(err, libsev_snp_launch_finish(g, block, 96, auth, 4096, 1, 0, NULL, &err),
                   LIBSEV_STATUS_FW_POLICY_FAILURE);
        libsev_snp_guest_free(g);
        pol = LIBSEV_SNP_POLICY_DEFAULT;
        memcpy(block + 0x58, &pol, 8);

        g = new_guest(p, 1);
        launch_ovmf(g, img, n, s, ns);
        put32(auth, 0);
        CHECK_ST_E(err, libsev_snp_launch_finish(g, block, 96, auth, 4096, 1, 0, NULL, &err),
                   LIBSEV_STATUS_FW_INVALID_PARAM);
        /* Wrong lengths are refused before the kernel. */
        CHECK_ST_E(err, libsev_snp_launch_finish(g, block, 95, auth, 4096, 1, 0, NULL, &err),
                   LIBSEV_STATUS_INVALID_LENGTH);
        CHECK_ST_E(err, libsev_snp_launch_finish(g, block, 96, NULL, 0, 1, 0, NULL, &err),
                   LIBSEV_STATUS_INVALID_ARGUMENT);
        libsev_snp_guest_free(g);
    }
    free(img);
}

static void test_cpuid_pages(libsev_platform *p) {
    uint8_t page[4096], sent[4096];
    libsev_snp_guest *g = new_guest(p, 0);
    host_cpuid_page(page);
    /* leaf 7 EBX with every bit set: this CPU lacks some, the firmware corrects them */
    put32(page + 16 + 48 * 2 + 28, 0xFFFFFFFFu);
    memcpy(sent, page, sizeof page);
    CHECK_ST_E(err, libsev_snp_launch_update(g, 0x5000, page, 4096, LIBSEV_SNP_PAGE_CPUID, &err),
               LIBSEV_STATUS_FW_INVALID_PARAM);
    CHECK(err.fw_error == 0x16 && err.os_errno == EIO);
    CHECK(memcmp(page, sent, sizeof page) != 0);
    {
        unsigned a, b, c, d;
        __cpuid_count(7, 0, a, b, c, d);
        CHECK(le32(page + 16 + 48 * 2 + 28) == b);
        (void)a, (void)c, (void)d;
    }
    /* the corrected page passes */
    CHECK_ST_E(err, libsev_snp_launch_update(g, 0x5000, page, 4096, LIBSEV_SNP_PAGE_CPUID, &err),
               LIBSEV_STATUS_OK);
    /* more than 64 entries */
    host_cpuid_page(page);
    put32(page, 65);
    CHECK_ST_E(err, libsev_snp_launch_update(g, 0x6000, page, 4096, LIBSEV_SNP_PAGE_CPUID, &err),
               LIBSEV_STATUS_FW_INVALID_PARAM);
    libsev_snp_guest_free(g);
}

static void test_forbidden_states(libsev_platform *p) {
    libsev_snp_guest *g = NULL;
    uint8_t page[4096];
    memset(page, 0x5A, sizeof page);
    memset(vmsa, 0, sizeof vmsa);

    /* Not initialised: KVM's ENOTTY for every launch command. */
    MUST_E(err, libsev_snp_guest_new(p, &g, &err));
    CHECK_ST_E(err, libsev_snp_launch_start(g, LIBSEV_SNP_POLICY_DEFAULT, NULL, &err), LIBSEV_STATUS_NO_SEV_SUPPORT);
    CHECK_ST_E(err, libsev_snp_launch_update(g, 0, page, 4096, LIBSEV_SNP_PAGE_NORMAL, &err), LIBSEV_STATUS_NO_SEV_SUPPORT);
    CHECK_ST_E(err, libsev_snp_launch_finish(g, NULL, 0, NULL, 0, 0, 0, NULL, &err), LIBSEV_STATUS_NO_SEV_SUPPORT);
    CHECK_ST_E(err, libsev_snp_guest_set_vmsa(g, 0, vmsa, 4096, &err), LIBSEV_STATUS_INVALID_STATE);

    /* Initialised, no launch context: UPDATE and FINISH are EINVAL, a second INIT2 EPERM. */
    MUST_E(err, libsev_snp_guest_init2(g, 0, 0, &err));
    CHECK_ST_E(err, libsev_snp_guest_init2(g, 0, 0, &err), LIBSEV_STATUS_PERMISSION_DENIED);
    CHECK_ST_E(err, libsev_snp_launch_update(g, 0, page, 4096, LIBSEV_SNP_PAGE_NORMAL, &err), LIBSEV_STATUS_KERNEL_REJECTED);
    CHECK_ST_E(err, libsev_snp_launch_finish(g, NULL, 0, NULL, 0, 0, 0, NULL, &err), LIBSEV_STATUS_KERNEL_REJECTED);
    /* Policy with reserved bit 17 clear: KVM's EINVAL; SMT clear: the firmware's POLICY_FAILURE. */
    CHECK_ST_E(err, libsev_snp_launch_start(g, 0x10000, NULL, &err), LIBSEV_STATUS_KERNEL_REJECTED);
    CHECK_ST_E(err, libsev_snp_launch_start(g, 0x20000, NULL, &err), LIBSEV_STATUS_FW_POLICY_FAILURE);

    /* Launching: a second START is EINVAL; bad lengths, types; overlap. */
    MUST_E(err, libsev_snp_launch_start(g, LIBSEV_SNP_POLICY_DEFAULT, NULL, &err));
    CHECK_ST_E(err, libsev_snp_launch_start(g, LIBSEV_SNP_POLICY_DEFAULT, NULL, &err), LIBSEV_STATUS_KERNEL_REJECTED);
    CHECK_ST_E(err, libsev_snp_launch_update(g, 0, page, 100, LIBSEV_SNP_PAGE_NORMAL, &err), LIBSEV_STATUS_KERNEL_REJECTED);
    CHECK_ST_E(err, libsev_snp_launch_update(g, 0, page, 4096, 2 /* VMSA */, &err), LIBSEV_STATUS_KERNEL_REJECTED);
    CHECK_ST_E(err, libsev_snp_launch_update(g, 0x123, page, 4096, LIBSEV_SNP_PAGE_NORMAL, &err), LIBSEV_STATUS_UNALIGNED);
    CHECK_ST_E(err, libsev_snp_launch_update(g, 0, NULL, 4096, LIBSEV_SNP_PAGE_NORMAL, &err), LIBSEV_STATUS_NULL_ARGUMENT);
    MUST_E(err, libsev_snp_launch_update(g, 0, page, 4096, LIBSEV_SNP_PAGE_NORMAL, &err));
    CHECK_ST_E(err, libsev_snp_launch_update(g, 0, page, 4096, LIBSEV_SNP_PAGE_NORMAL, &err), LIBSEV_STATUS_OS_ERROR);
    CHECK(err.os_errno == EIO && err.fw_error == 0);
    MUST_E(err, libsev_snp_guest_set_vmsa(g, 0, vmsa, 4096, &err));
    CHECK_ST_E(err, libsev_snp_guest_set_vmsa(g, 1, vmsa, 100, &err), LIBSEV_STATUS_INVALID_LENGTH);

    /* Running: the firmware refuses further launch updates; VMSAs can no longer change. */
    MUST_E(err, libsev_snp_launch_finish(g, NULL, 0, NULL, 0, 0, 0, NULL, &err));
    CHECK_ST_E(err, libsev_snp_launch_update(g, 0x1000, page, 4096, LIBSEV_SNP_PAGE_NORMAL, &err), LIBSEV_STATUS_FW_INVALID_GUEST_STATE);
    CHECK_ST_E(err, libsev_snp_launch_finish(g, NULL, 0, NULL, 0, 0, 0, NULL, &err), LIBSEV_STATUS_FW_INVALID_GUEST_STATE);
    CHECK_ST_E(err, libsev_snp_launch_start(g, LIBSEV_SNP_POLICY_DEFAULT, NULL, &err), LIBSEV_STATUS_KERNEL_REJECTED);
    CHECK_ST_E(err, libsev_snp_guest_init2(g, 0, 0, &err), LIBSEV_STATUS_PERMISSION_DENIED);
    CHECK_ST_E(err, libsev_snp_guest_set_vmsa(g, 0, vmsa, 4096, &err), LIBSEV_STATUS_INVALID_STATE);
    CHECK(strlen(libsev_snp_guest_last_error(g)) > 0);
    libsev_snp_guest_free(g);

    /* NULL handles */
    CHECK_ST_E(err, libsev_snp_guest_init2(NULL, 0, 0, &err), LIBSEV_STATUS_NULL_ARGUMENT);
    CHECK_ST_E(err, libsev_snp_guest_new(p, NULL, &err), LIBSEV_STATUS_NULL_ARGUMENT);
    libsev_snp_guest_free(NULL);
}

static void test_platform_commands(libsev_platform *p) {
    libsev_snp_platform_status_info st;
    uint8_t sticks[384], blob[432];
    MUST_E(err, libsev_snp_platform_status(p, &st, &err));
    CHECK(st.state == 1 && st.api_major == 1 && st.current_tcb == st.reported_tcb);
    CHECK_ST_E(err, libsev_snp_set_config(p, st.reported_tcb + (1ull << 56), 0, 0, &err), LIBSEV_STATUS_FW_INVALID_PARAM);
    MUST_E(err, libsev_snp_set_config(p, st.reported_tcb - (1ull << 56), 0, 0, &err));
    MUST_E(err, libsev_snp_commit(p, &err));
    memset(sticks, 7, sizeof sticks);
    MUST_E(err, libsev_snp_model_wrap_vlek(p, sticks, st.reported_tcb, blob, &err));
    MUST_E(err, libsev_snp_vlek_load(p, blob, sizeof blob, &err));
    blob[40] ^= 1;
    CHECK_ST_E(err, libsev_snp_vlek_load(p, blob, sizeof blob, &err), LIBSEV_STATUS_FW_BAD_MEASUREMENT);
    CHECK_ST_E(err, libsev_snp_vlek_load(p, blob, 10, &err), LIBSEV_STATUS_INVALID_LENGTH);
    MUST_E(err, libsev_snp_platform_status(p, &st, &err));
    CHECK(st.vlek_en == 1);
    CHECK_ST_E(err, libsev_snp_platform_status(p, NULL, &err), LIBSEV_STATUS_NULL_ARGUMENT);
}

static void test_kvm_transport(void) {
    libsev_platform *k = NULL;
    libsev_snp_guest *g = NULL;
    uint32_t s;
    if (access("/dev/kvm", R_OK | W_OK) != 0) {
        printf("snp_launch: /dev/kvm not usable: KVM SNP VM skipped\n");
        return;
    }
    MUST_E(err, libsev_platform_open_kvm_without_sev(&k, &err));
    s = libsev_snp_guest_new(k, &g, &err);
    if (s != LIBSEV_STATUS_OK) {
        printf("snp_launch: KVM SNP VM skipped: %s\n", err.message);
        CHECK(g == NULL);
        CHECK(err.os_errno == EINVAL || err.os_errno == ENOTTY);
    } else {
        s = libsev_snp_guest_init2(g, 0, 0, &err);
        printf("snp_launch: KVM created an SNP VM; INIT2: %s\n", s == 0 ? "ok" : err.message);
        libsev_snp_guest_free(g);
    }
    libsev_platform_free(k);
}

int main(void) {
    libsev_platform *p = model_platform(0x53, &err);
    test_platform_commands(p);
    test_forbidden_states(p);
    test_cpuid_pages(p);
    test_ovmf_launches(p);
    libsev_platform_free(p);
    test_kvm_transport();
    if (failures) {
        fprintf(stderr, "snp_launch: %d check(s) failed\n", failures);
        return 1;
    }
    printf("snp_launch: ok\n");
    return 0;
}
