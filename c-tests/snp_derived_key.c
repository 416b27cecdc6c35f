/*
 * SEV-SNP derived keys (MSG_KEY_REQ) on the firmware model through the C API: a guest with a
 * secrets page asks for keys with libsev_snp_guest_model_derived_key. The same request gives
 * the same key; a selected field that differs between two guests (measurement, policy) gives
 * another key, an unselected one does not; HOST_DATA always counts; the VMRK and VCEK roots
 * differ; another model chip gives another key; every refusal has its libsev status and
 * firmware status, and leaves `out` untouched; NULL arguments are refused.
 */
#include "test_util.h"

#include <errno.h>

static libsev_error err;

#define SECRETS_GPA 0x2000ull
#define CODE_GPA 0x10000ull

struct launch {
    uint64_t policy;
    uint8_t content;
    uint8_t host_data;
    int vcek_disabled;
    int finish;
};

static const struct launch base = {LIBSEV_SNP_POLICY_DEFAULT, 0x90, 0x33, 0, 1};

/* A guest with a secrets page and two pages of `l.content`, finished unless `l.finish` is 0. */
static libsev_snp_guest *launch(libsev_platform *p, struct launch l) {
    libsev_snp_guest *g = NULL;
    uint8_t secrets[4096], code[8192], hd[LIBSEV_SNP_HOST_DATA_LEN];
    memset(secrets, 0, sizeof secrets);
    memset(code, l.content, sizeof code);
    memset(hd, l.host_data, sizeof hd);
    MUST_E(err, libsev_snp_guest_new(p, &g, &err));
    MUST_E(err, libsev_snp_guest_init2(g, 0, 0, &err));
    MUST_E(err, libsev_snp_launch_start(g, l.policy, NULL, &err));
    MUST_E(err, libsev_snp_launch_update(g, SECRETS_GPA, secrets, sizeof secrets,
                                         LIBSEV_SNP_PAGE_SECRETS, &err));
    MUST_E(err, libsev_snp_launch_update(g, CODE_GPA, code, sizeof code, LIBSEV_SNP_PAGE_NORMAL,
                                         &err));
    if (l.finish)
        MUST_E(err, libsev_snp_launch_finish(g, NULL, 0, NULL, 0, 0, l.vcek_disabled, hd, &err));
    return g;
}

/* A key that must be derived (at VMPL 0, no GUEST_SVN, no TCB unless given). */
static void key(libsev_snp_guest *g, uint32_t sel, uint64_t gfs, uint32_t svn, uint64_t tcb,
                uint8_t out[LIBSEV_SNP_DERIVED_KEY_LEN]) {
    memset(out, 0, LIBSEV_SNP_DERIVED_KEY_LEN);
    MUST_E(err, libsev_snp_guest_model_derived_key(g, sel, gfs, 0, svn, tcb, out, &err));
    CHECK(!all_bytes(out, LIBSEV_SNP_DERIVED_KEY_LEN, 0));
}

static int same(const uint8_t *a, const uint8_t *b) {
    return memcmp(a, b, LIBSEV_SNP_DERIVED_KEY_LEN) == 0;
}

/* A refused request: its libsev status, the firmware's status, and `out` left as it was. */
static void refused(libsev_snp_guest *g, uint32_t sel, uint64_t gfs, uint32_t vmpl, uint32_t svn,
                    uint64_t tcb, uint32_t want, uint32_t want_fw, int line) {
    uint8_t out[LIBSEV_SNP_DERIVED_KEY_LEN];
    uint32_t st;
    memset(out, 0xAA, sizeof out);
    memset(&err, 0, sizeof err);
    st = libsev_snp_guest_model_derived_key(g, sel, gfs, vmpl, svn, tcb, out, &err);
    if (st != want || err.fw_error != want_fw || err.os_errno != EIO) {
        fprintf(stderr,
                "%s:%d: key_select %#x, GFS %#llx: status %u (%s), fw %#x, errno %d; expected "
                "%u (%s), fw %#x, EIO; message: %s\n",
                __FILE__, line, (unsigned)sel, (unsigned long long)gfs, (unsigned)st,
                libsev_status_str(st), (unsigned)err.fw_error, (int)err.os_errno,
                (unsigned)want, libsev_status_str(want), (unsigned)want_fw, err.message);
        failures++;
    }
    CHECK(all_bytes(out, sizeof out, 0xAA));
}
#define REFUSED(g, sel, gfs, vmpl, svn, tcb, want, fw) \
    refused(g, sel, gfs, vmpl, svn, tcb, want, fw, __LINE__)

static void test_keys(void) {
    libsev_platform *p = model_platform(0x60, &err);
    libsev_snp_guest *a = launch(p, base), *twin = launch(p, base), *g;
    struct launch l;
    uint8_t k1[32], k2[32], k3[32], k4[32];
    const uint64_t all = LIBSEV_SNP_GFS_POLICY | LIBSEV_SNP_GFS_MEASUREMENT |
                         LIBSEV_SNP_GFS_IMAGE_ID | LIBSEV_SNP_GFS_FAMILY_ID;

    /* The same request twice: the same key; another selection: another key. */
    key(a, 0, all, 0, 0, k1);
    key(a, 0, all, 0, 0, k2);
    CHECK(same(k1, k2));
    key(a, 0, 0, 0, 0, k3);
    CHECK(!same(k1, k3));
    /* An identical launch: the same VCEK-rooted key, another VMRK-rooted one. */
    key(twin, LIBSEV_SNP_KEY_SEL_VCEK, all, 0, 0, k2);
    CHECK(same(k1, k2));
    key(a, LIBSEV_SNP_KEY_ROOT_VMRK, all, 0, 0, k3);
    key(twin, LIBSEV_SNP_KEY_ROOT_VMRK, all, 0, 0, k4);
    CHECK(!same(k3, k4));
    CHECK(!same(k1, k3));
    /* Unselected GUEST_SVN and TCB_VERSION change nothing (and are not checked). */
    key(a, 0, all, 0, 0, k1);
    key(a, 0, all, 9, ~0ull, k2);
    CHECK(same(k1, k2));

    /* Other contents: only a key over the measurement changes. */
    l = base;
    l.content = 0x91;
    g = launch(p, l);
    key(a, 0, LIBSEV_SNP_GFS_POLICY, 0, 0, k1);
    key(g, 0, LIBSEV_SNP_GFS_POLICY, 0, 0, k2);
    CHECK(same(k1, k2));
    key(a, 0, LIBSEV_SNP_GFS_MEASUREMENT, 0, 0, k1);
    key(g, 0, LIBSEV_SNP_GFS_MEASUREMENT, 0, 0, k2);
    CHECK(!same(k1, k2));
    libsev_snp_guest_free(g);

    /* Another policy: only a key over the policy changes. */
    l = base;
    l.policy = LIBSEV_SNP_POLICY_DEFAULT | 1; /* ABI minor 1 */
    g = launch(p, l);
    key(a, 0, LIBSEV_SNP_GFS_MEASUREMENT, 0, 0, k1);
    key(g, 0, LIBSEV_SNP_GFS_MEASUREMENT, 0, 0, k2);
    CHECK(same(k1, k2));
    key(a, 0, LIBSEV_SNP_GFS_POLICY, 0, 0, k1);
    key(g, 0, LIBSEV_SNP_GFS_POLICY, 0, 0, k2);
    CHECK(!same(k1, k2));
    libsev_snp_guest_free(g);

    /* Other host data: every key changes. */
    l = base;
    l.host_data = 0x34;
    g = launch(p, l);
    key(a, 0, 0, 0, 0, k1);
    key(g, 0, 0, 0, 0, k2);
    CHECK(!same(k1, k2));
    libsev_snp_guest_free(g);

    /* Another model chip derives other keys; the same seed is the same chip. */
    {
        libsev_platform *q = model_platform(0x61, &err), *r = model_platform(0x60, &err);
        libsev_snp_guest *gq = launch(q, base), *gr = launch(r, base);
        key(a, 0, all, 0, 0, k1);
        key(gq, 0, all, 0, 0, k2);
        key(gr, 0, all, 0, 0, k3);
        CHECK(!same(k1, k2));
        CHECK(same(k1, k3));
        libsev_snp_guest_free(gq);
        libsev_snp_guest_free(gr);
        libsev_platform_free(q);
        libsev_platform_free(r);
    }
    libsev_snp_guest_free(twin);
    libsev_snp_guest_free(a);
    libsev_platform_free(p);
}

static void test_refusals(void) {
    libsev_platform *p = model_platform(0x62, &err);
    libsev_snp_guest *g = launch(p, base), *g2;
    libsev_snp_platform_status_info st;
    struct launch l;
    uint8_t out[32];
    uint64_t committed;

    MUST_E(err, libsev_snp_platform_status(p, &st, &err));
    committed = st.reported_tcb;
    CHECK((committed >> 56) < 0xFF); /* the microcode SPL can go one up */

    /* Reserved key_select bits; unknown GFS bits; GUEST_SVN above the ID block's (none: 0);
     * a TCB component above the committed TCB or a reserved TCB byte. */
    REFUSED(g, 1u << 3, 0, 0, 0, 0, LIBSEV_STATUS_FW_INVALID_PARAM, 0x16);
    REFUSED(g, LIBSEV_SNP_KEY_ROOT_VMRK | 1u << 31, 0, 0, 0, 0, LIBSEV_STATUS_FW_INVALID_PARAM, 0x16);
    REFUSED(g, 0, 1ull << 6, 0, 0, 0, LIBSEV_STATUS_FW_INVALID_PARAM, 0x16);
    REFUSED(g, 0, LIBSEV_SNP_GFS_GUEST_SVN, 0, 1, 0, LIBSEV_STATUS_FW_INVALID_PARAM, 0x16);
    REFUSED(g, 0, LIBSEV_SNP_GFS_TCB_VERSION, 0, 0, committed + (1ull << 56),
            LIBSEV_STATUS_FW_INVALID_PARAM, 0x16);
    REFUSED(g, LIBSEV_SNP_KEY_ROOT_VMRK, LIBSEV_SNP_GFS_TCB_VERSION, 0, 0, committed | 1ull << 16,
            LIBSEV_STATUS_FW_INVALID_PARAM, 0x16);
    key(g, 0, LIBSEV_SNP_GFS_TCB_VERSION | LIBSEV_SNP_GFS_GUEST_SVN, 0, committed, out);

    /* KEY_SEL: the VLEK without one loaded, and 3, are INVALID_KEY (before the GFS check);
     * with the VMRK root KEY_SEL is not looked at. */
    REFUSED(g, LIBSEV_SNP_KEY_SEL_VLEK, 0, 0, 0, 0, LIBSEV_STATUS_FW_INVALID_KEY, 0x27);
    REFUSED(g, 3u << 1, 1ull << 6, 0, 0, 0, LIBSEV_STATUS_FW_INVALID_KEY, 0x27);
    key(g, LIBSEV_SNP_KEY_ROOT_VMRK | 3u << 1, 0, 0, 0, out);

    /* MASK_CHIP_KEY: no VCEK or VLEK root; the VMRK still works. */
    MUST_E(err, libsev_snp_set_config(p, 0, 0, 1, &err));
    REFUSED(g, 0, 0, 0, 0, 0, LIBSEV_STATUS_FW_INVALID_KEY, 0x27);
    REFUSED(g, LIBSEV_SNP_KEY_SEL_VCEK, 0, 0, 0, 0, LIBSEV_STATUS_FW_INVALID_KEY, 0x27);
    key(g, LIBSEV_SNP_KEY_ROOT_VMRK, 0, 0, 0, out);
    MUST_E(err, libsev_snp_set_config(p, 0, 0, 0, &err));
    key(g, 0, 0, 0, 0, out);

    /* The VCEK disabled at launch finish. */
    l = base;
    l.vcek_disabled = 1;
    g2 = launch(p, l);
    REFUSED(g2, LIBSEV_SNP_KEY_SEL_VCEK, 0, 0, 0, 0, LIBSEV_STATUS_FW_INVALID_KEY, 0x27);
    REFUSED(g2, 0, 0, 0, 0, 0, LIBSEV_STATUS_FW_INVALID_KEY, 0x27);
    key(g2, LIBSEV_SNP_KEY_ROOT_VMRK, 0, 0, 0, out);
    libsev_snp_guest_free(g2);

    /* Command-level: a guest not yet running. */
    l = base;
    l.finish = 0;
    g2 = launch(p, l);
    REFUSED(g2, 0, 0, 0, 0, 0, LIBSEV_STATUS_FW_INVALID_GUEST_STATE, 0x02);
    libsev_snp_guest_free(g2);

    /* NULL out and NULL guest; a NULL err is allowed. */
    CHECK_ST_E(err, libsev_snp_guest_model_derived_key(g, 0, 0, 0, 0, 0, NULL, &err),
               LIBSEV_STATUS_NULL_ARGUMENT);
    CHECK_ST_E(err, libsev_snp_guest_model_derived_key(NULL, 0, 0, 0, 0, 0, out, &err),
               LIBSEV_STATUS_NULL_ARGUMENT);
    CHECK_ST_E(err, libsev_snp_guest_model_derived_key(g, 1u << 3, 0, 0, 0, 0, out, NULL),
               LIBSEV_STATUS_FW_INVALID_PARAM);
    libsev_snp_guest_free(g);
    libsev_platform_free(p);
}

int main(void) {
    test_keys();
    test_refusals();
    if (failures) {
        fprintf(stderr, "snp_derived_key: %d check(s) failed\n", failures);
        return 1;
    }
    printf("snp_derived_key: ok\n");
    return 0;
}
