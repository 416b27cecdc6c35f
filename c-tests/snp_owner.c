/*
 * The SEV-SNP guest owner through the installed header, with AMD's real certificates:
 * the real Turin VCEK verifies to AMD's Turin root and fails against Milan's and Genoa's;
 * every truncation and (sampled under valgrind) every flipped byte of the VCEK is refused with
 * a certificate status; reports of every wrong length and unsigned reports get clear statuses
 * and a verdict naming the failed check; the extended-report certificate table; ID blocks
 * signed with the published test keys give the published ID block and key digests; the
 * expected SNP measurement's known answers and Debian's OVMF for 1-64 vCPUs.
 *
 * Data: $LIBSEV_TESTDATA/../snp (the shared testdata/snp directory).
 * Exit 0 = pass, 77 = skip, anything else = fail (see c-tests/run.sh).
 */
#include "test_util.h"

static char datadir[4096];

#define CHECK_ST CHECK_ST_E

struct buf {
    uint8_t *p;
    size_t n;
};

static struct buf slurp(const char *rel) {
    char path[8192];
    struct buf b = {NULL, 0};
    FILE *f;
    long len;

    snprintf(path, sizeof path, "%s/%s", datadir, rel);
    f = fopen(path, "rb");
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) <= 0 ||
        fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(1);
    }
    b.n = (size_t)len;
    b.p = malloc(b.n);
    if (b.p == NULL || fread(b.p, 1, b.n, f) != b.n) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(1);
    }
    fclose(f);
    return b;
}

static void unhex(const char *s, uint8_t *out, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned v;
        sscanf(s + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
}

static uint32_t verify(struct buf ark, struct buf ask, const uint8_t *leaf, size_t leaf_len,
                       uint32_t gen, uint32_t flags, libsev_snp_chain **out, libsev_error *e) {
    return libsev_snp_chain_verify(ark.p, ark.n, ask.p, ask.n, leaf, leaf_len, gen, flags, out,
                                   e);
}

static libsev_snp_chain *turin_chain(void) {
    struct buf ark = slurp("builtin/turin/ark.pem"), ask = slurp("builtin/turin/ask.pem");
    struct buf vcek = slurp("turin/vcek.der");
    libsev_snp_chain *c = NULL;
    libsev_error e;
    libsev_snp_chain_facts info;
    struct buf other[2][2];
    const char *gens[2] = {"milan", "genoa"};
    size_t n, i, stride;

    CHECK_ST(e, verify(ark, ask, vcek.p, vcek.n, LIBSEV_SNP_GEN_ANY, 0, &c, &e),
             LIBSEV_STATUS_OK);
    CHECK(c != NULL);
    if (c == NULL)
        exit(1);
    CHECK_ST(e, libsev_snp_chain_info(c, &info, &e), LIBSEV_STATUS_OK);
    CHECK(info.root_kind == LIBSEV_ROOT_AMD);
    CHECK(info.generation == LIBSEV_SNP_GEN_TURIN);
    CHECK(info.leaf_kind == 0);
    CHECK(info.hw_id_len == 8);
    CHECK(info.tcb.microcode == 9 && info.tcb.fmc == 0);
    {
        uint8_t want[8];
        unhex("1e550a8ee5cf9f4d", want, 8);
        CHECK(memcmp(info.hw_id, want, 8) == 0);
    }
    {
        /* Required generation: Turin passes, Milan is refused as an unknown root. */
        libsev_snp_chain *x = NULL;
        CHECK_ST(e, verify(ark, ask, vcek.p, vcek.n, LIBSEV_SNP_GEN_TURIN, 0, &x, &e),
                 LIBSEV_STATUS_OK);
        libsev_snp_chain_free(x);
        x = NULL;
        CHECK_ST(e, verify(ark, ask, vcek.p, vcek.n, LIBSEV_SNP_GEN_MILAN, 0, &x, &e),
                 LIBSEV_STATUS_UNKNOWN_ROOT);
        CHECK(x == NULL);
        CHECK_ST(e, verify(ark, ask, vcek.p, vcek.n, 9, 0, &x, &e),
                 LIBSEV_STATUS_INVALID_ARGUMENT);
        CHECK_ST(e, verify(ark, ask, vcek.p, vcek.n, 0, 2, &x, &e),
                 LIBSEV_STATUS_INVALID_ARGUMENT);
        CHECK_ST(e, verify(ark, ask, vcek.p, vcek.n, 0, 0, NULL, &e),
                 LIBSEV_STATUS_NULL_ARGUMENT);
        CHECK_ST(e, verify(ark, ask, NULL, vcek.n, 0, 0, &x, &e), LIBSEV_STATUS_NULL_ARGUMENT);
        CHECK(x == NULL);
    }
    /* Milan's and Genoa's ASK/ARK do not certify a Turin VCEK. */
    for (i = 0; i < 2; i++) {
        char p[64];
        libsev_snp_chain *x = NULL;
        snprintf(p, sizeof p, "builtin/%s/ark.pem", gens[i]);
        other[i][0] = slurp(p);
        snprintf(p, sizeof p, "builtin/%s/ask.pem", gens[i]);
        other[i][1] = slurp(p);
        CHECK_ST(e, verify(other[i][0], other[i][1], vcek.p, vcek.n, 0, 0, &x, &e),
                 LIBSEV_STATUS_CHAIN_BROKEN);
        CHECK(x == NULL);
        /* Turin's ARK with the other ASK: the ASK's signature is not the ARK's. */
        CHECK(verify(ark, other[i][1], vcek.p, vcek.n, 0, 0, &x, &e) != LIBSEV_STATUS_OK);
        free(other[i][0].p);
        free(other[i][1].p);
    }
    /* Every truncation of the VCEK is a malformed certificate. */
    for (n = 0; n < vcek.n; n++) {
        libsev_snp_chain *x = NULL;
        uint32_t st = verify(ark, ask, vcek.p, n, 0, 0, &x, &e);
        if (n == 0)
            CHECK_ST(e, st, LIBSEV_STATUS_INVALID_LENGTH);
        else
            CHECK_ST(e, st, LIBSEV_STATUS_BAD_CERTIFICATE);
        CHECK(x == NULL);
    }
    /* Every flipped byte (every 13th under valgrind) is refused. */
    stride = under_valgrind() ? 13 : 1;
    for (i = 0; i < vcek.n; i += stride) {
        libsev_snp_chain *x = NULL;
        uint32_t st;
        vcek.p[i] ^= 0x01;
        st = verify(ark, ask, vcek.p, vcek.n, 0, 0, &x, &e);
        vcek.p[i] ^= 0x01;
        if (st != LIBSEV_STATUS_BAD_CERTIFICATE && st != LIBSEV_STATUS_BAD_SIGNATURE &&
            st != LIBSEV_STATUS_CHAIN_BROKEN) {
            fprintf(stderr, "flipped VCEK byte %zu: status %u (%s): %s\n", i, (unsigned)st,
                    libsev_status_str(st), e.message);
            failures++;
        }
        CHECK(x == NULL);
    }
    free(ark.p);
    free(ask.p);
    free(vcek.p);
    return c;
}

static void reports(const libsev_snp_chain *c) {
    uint8_t r[1200];
    libsev_snp_policy pol;
    libsev_snp_verdict v;
    libsev_error e;
    size_t n;

    memset(&pol, 0, sizeof pol);
    memset(r, 0, sizeof r);
    for (n = 0; n <= sizeof r; n++) {
        memset(&v, 0xAB, sizeof v);
        if (n == 1184)
            continue;
        CHECK_ST(e, libsev_snp_report_verify(r, n, c, &pol, &v, &e), LIBSEV_STATUS_BAD_REPORT);
        CHECK(v.failed == 0xABABABABABABABABull); /* untouched */
    }
    /* Version 0 is not a report. */
    CHECK_ST(e, libsev_snp_report_verify(r, 1184, c, &pol, &v, &e), LIBSEV_STATUS_BAD_REPORT);
    /* A version-2 report with the Turin chip id, unsigned: the verdict names the signature
     * and the other checks that fail on an empty report. */
    r[0] = 2;
    r[0x34] = 1;
    unhex("1e550a8ee5cf9f4d", r + 0x1A0, 8);
    r[0x180 + 7] = 9; /* REPORTED_TCB: ucode 9, as the VCEK */
    r[0x38 + 7] = 9;
    r[0x1E0 + 7] = 9;
    CHECK_ST(e, libsev_snp_report_verify(r, 1184, c, &pol, &v, &e),
             LIBSEV_STATUS_REPORT_CHECK_FAILED);
    CHECK(v.failed == LIBSEV_SNP_CHECK_SIGNATURE);
    CHECK(strstr(v.message, "signature") != NULL);
    CHECK(strstr(e.message, "signature") != NULL);
    CHECK(v.report_version == 2);
    CHECK(v.reported_tcb.microcode == 9);
    /* With a measurement expected, the verdict names it too. */
    pol.expect = LIBSEV_SNP_EXPECT_MEASUREMENT | LIBSEV_SNP_EXPECT_VMPL;
    pol.measurement[0] = 1;
    pol.vmpl = 1;
    CHECK_ST(e, libsev_snp_report_verify(r, 1184, c, &pol, &v, &e),
             LIBSEV_STATUS_REPORT_CHECK_FAILED);
    CHECK(v.failed == (LIBSEV_SNP_CHECK_SIGNATURE | LIBSEV_SNP_CHECK_MEASUREMENT |
                       LIBSEV_SNP_CHECK_VMPL));
    CHECK(strstr(v.message, "measurement") != NULL && strstr(v.message, "vmpl") != NULL);
    pol.expect = 1u << 30;
    CHECK_ST(e, libsev_snp_report_verify(r, 1184, c, &pol, &v, &e),
             LIBSEV_STATUS_INVALID_ARGUMENT);
    CHECK_ST(e, libsev_snp_report_verify(r, 1184, NULL, &pol, &v, &e),
             LIBSEV_STATUS_NULL_ARGUMENT);
    CHECK(strcmp(libsev_snp_check_name(LIBSEV_SNP_CHECK_CHIP_ID), "chip_id") == 0);
    CHECK(strcmp(libsev_snp_check_name(3), "unknown") == 0);
}

static void cert_table(void) {
    struct buf vcek = slurp("turin/vcek.der");
    static const uint8_t vcek_guid[16] = {0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64,
                                          0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd};
    size_t tlen = 48 + vcek.n, out_len = 0, n;
    uint8_t *t = calloc(1, tlen), *out = malloc(vcek.n);
    uint32_t off = 48, len = (uint32_t)vcek.n;
    libsev_error e;

    memcpy(t, vcek_guid, 16);
    memcpy(t + 16, &off, 4);
    memcpy(t + 20, &len, 4);
    memcpy(t + 48, vcek.p, vcek.n);
    CHECK_ST(e, libsev_snp_cert_table_get(t, tlen, LIBSEV_SNP_CERT_VCEK, NULL, 0, &out_len, &e),
             LIBSEV_STATUS_BUFFER_TOO_SMALL);
    CHECK(out_len == vcek.n);
    CHECK_ST(e,
             libsev_snp_cert_table_get(t, tlen, LIBSEV_SNP_CERT_VCEK, out, vcek.n, &out_len, &e),
             LIBSEV_STATUS_OK);
    CHECK(memcmp(out, vcek.p, vcek.n) == 0);
    CHECK_ST(e,
             libsev_snp_cert_table_get(t, tlen, LIBSEV_SNP_CERT_ARK, out, vcek.n, &out_len, &e),
             LIBSEV_STATUS_CHAIN_BROKEN);
    for (n = 0; n < tlen; n += (n < 64 ? 1 : 97)) {
        CHECK_ST(e,
                 libsev_snp_cert_table_get(t, n, LIBSEV_SNP_CERT_VCEK, out, vcek.n, &out_len, &e),
                 LIBSEV_STATUS_BAD_CERTIFICATE);
    }
    CHECK_ST(e, libsev_snp_cert_table_get(t, tlen, 7, out, vcek.n, &out_len, &e),
             LIBSEV_STATUS_INVALID_ARGUMENT);
    free(t);
    free(out);
    free(vcek.p);
}

static void id_block(void) {
    struct buf idk = slurp("measurement/test_id_key.pem");
    struct buf ak = slurp("measurement/test_auth_key.pem");
    struct buf pub = slurp("measurement/test_auth_block.bin");
    libsev_snp_id_block *io = calloc(1, sizeof *io), *again = calloc(1, sizeof *again);
    uint8_t want_id[48], want_author[48], d[48];
    libsev_error e;

    unhex("a14d638341e5674628fe1e02fbedebe5e5ab4faf1dd72d8966068e615bb99efd13d214b35c231715b38e"
          "263dc6059745",
          io->ld, 48);
    io->version = 1;
    io->policy = 0x30000;
    memcpy(again, io, sizeof *io);
    CHECK_ST(e, libsev_snp_id_block_sign(io, idk.p, idk.n, ak.p, ak.n, &e), LIBSEV_STATUS_OK);
    unhex("59fb2c686dfa4fef49f38339aa775c90051c28d57383ddc3baf3b5eb4b1496df3b0dbbdcbae5fe2767"
          "7a644820773fe2",
          want_id, 48);
    unhex("eed81169fb0cb5e0ec34794f128fd4e0c4a46f67c65a1adfa81fcb24bcc088c272369b7ffc3eb2b6af"
          "6a4284a1b36c5f",
          want_author, 48);
    CHECK(memcmp(io->id_key_digest, want_id, 48) == 0);
    CHECK(memcmp(io->author_key_digest, want_author, 48) == 0);
    CHECK(io->author_key_en == 1);
    CHECK(memcmp(io->id_block, io->ld, 48) == 0);
    CHECK(io->id_block[0x50] == 1 && io->id_block[0x5A] == 3);
    /* The key structures equal the published ID auth's; only the signatures differ. */
    CHECK(memcmp(io->id_auth + 0x240, pub.p + 0x240, 0x404) == 0);
    CHECK(memcmp(io->id_auth + 0x880, pub.p + 0x880, 0x404) == 0);
    /* Deterministic signatures (RFC 6979). */
    CHECK_ST(e, libsev_snp_id_block_sign(again, idk.p, idk.n, ak.p, ak.n, &e), LIBSEV_STATUS_OK);
    CHECK(memcmp(again, io, sizeof *io) == 0);
    CHECK_ST(e, libsev_snp_key_digest(ak.p, ak.n, d, &e), LIBSEV_STATUS_OK);
    CHECK(memcmp(d, want_author, 48) == 0);
    /* Without an author key. */
    CHECK_ST(e, libsev_snp_id_block_sign(again, idk.p, idk.n, NULL, 0, &e), LIBSEV_STATUS_OK);
    CHECK(again->author_key_en == 0);
    CHECK(memcmp(again->id_key_digest, want_id, 48) == 0);
    /* A key that is not one: nothing written. */
    memcpy(again, io, sizeof *io);
    CHECK_ST(e, libsev_snp_id_block_sign(again, pub.p, 100, NULL, 0, &e),
             LIBSEV_STATUS_CRYPTO_ERROR);
    CHECK(memcmp(again, io, sizeof *io) == 0);
    CHECK_ST(e, libsev_snp_id_block_sign(NULL, idk.p, idk.n, NULL, 0, &e),
             LIBSEV_STATUS_NULL_ARGUMENT);
    free(io);
    free(again);
    free(idk.p);
    free(ak.p);
    free(pub.p);
}

static void measurement(void) {
    struct buf amd = slurp("measurement/ovmf_AmdSev_suffix.bin");
    struct buf x64 = slurp("measurement/ovmf_OvmfX64_suffix.bin");
    libsev_snp_measure m;
    uint8_t d[48], want[48], prev[48];
    libsev_error e;
    FILE *f;

    memset(&m, 0, sizeof m);
    m.ovmf = amd.p;
    m.ovmf_len = amd.n;
    m.vcpus = 1;
    m.vcpu_signature = 0x00800F12; /* EPYC-v4 */
    m.vmm = 0;                     /* QEMU */
    m.guest_features = 1;
    m.direct_boot = 1; /* empty kernel and initrd, no -append */
    CHECK_ST(e, libsev_snp_expected_measurement(&m, d, &e), LIBSEV_STATUS_OK);
    unhex("ddc5224521617a536ee7ce9dd6224d1b58a8d4fda1c741f3ac99fc4bfa04ba6e9fc98646d4a07a9079"
          "397fa3852819b5",
          want, 48);
    CHECK(memcmp(d, want, 48) == 0);
    m.vcpus = 4;
    m.guest_features = 0x21;
    CHECK_ST(e, libsev_snp_expected_measurement(&m, d, &e), LIBSEV_STATUS_OK);
    unhex("4953b1fb416fa874980e8442b3706d345926d5f38879134e00813c5d7abcbe78eafe7b422907be0b4698"
          "e2414a631942",
          want, 48);
    CHECK(memcmp(d, want, 48) == 0);
    /* A kernel for an image without the kernel-hashes section; bad arguments. */
    m.ovmf = x64.p;
    m.ovmf_len = x64.n;
    memset(d, 0xEE, 48);
    CHECK_ST(e, libsev_snp_expected_measurement(&m, d, &e), LIBSEV_STATUS_BAD_FIRMWARE_IMAGE);
    CHECK(d[0] == 0xEE && d[47] == 0xEE);
    m.direct_boot = 0;
    m.vcpus = 0;
    CHECK_ST(e, libsev_snp_expected_measurement(&m, d, &e), LIBSEV_STATUS_INVALID_ARGUMENT);
    m.vcpus = 1;
    m.vmm = 3;
    CHECK_ST(e, libsev_snp_expected_measurement(&m, d, &e), LIBSEV_STATUS_INVALID_ARGUMENT);
    m.vmm = 0;
    m.ovmf_len = 4000;
    CHECK_ST(e, libsev_snp_expected_measurement(&m, d, &e), LIBSEV_STATUS_BAD_FIRMWARE_IMAGE);
    CHECK_ST(e, libsev_snp_expected_measurement(NULL, d, &e), LIBSEV_STATUS_NULL_ARGUMENT);
    free(amd.p);
    free(x64.p);

    /* Debian's OVMF: every vCPU count gives a digest, each different from the last. */
    f = fopen("/usr/share/OVMF/OVMF_CODE.fd", "rb");
    if (f == NULL) {
        printf("snp_owner: /usr/share/OVMF/OVMF_CODE.fd absent (package ovmf): "
               "skipping the Debian OVMF part\n");
        return;
    }
    fclose(f);
    {
        char save[4096];
        struct buf code;
        unsigned n;
        snprintf(save, sizeof save, "%s", datadir);
        snprintf(datadir, sizeof datadir, "/usr/share/OVMF");
        code = slurp("OVMF_CODE.fd");
        snprintf(datadir, sizeof datadir, "%s", save);
        memset(&m, 0, sizeof m);
        m.ovmf = code.p;
        m.ovmf_len = code.n;
        m.vcpu_signature = 0x00A00F11; /* EPYC-Milan */
        m.guest_features = 1;
        memset(prev, 0, 48);
        for (n = 1; n <= (under_valgrind() ? 4u : 64u); n++) {
            m.vcpus = n;
            CHECK_ST(e, libsev_snp_expected_measurement(&m, d, &e), LIBSEV_STATUS_OK);
            CHECK(memcmp(d, prev, 48) != 0);
            memcpy(prev, d, 48);
        }
        free(code.p);
    }
}

int main(void) {
    const char *td = getenv("LIBSEV_TESTDATA");
    libsev_snp_chain *c;

    if (td == NULL) {
        printf("skip: LIBSEV_TESTDATA is not set\n");
        return 77;
    }
    snprintf(datadir, sizeof datadir, "%s/../snp", td);
    c = turin_chain();
    reports(c);
    libsev_snp_chain_free(c);
    libsev_snp_chain_free(NULL);
    cert_table();
    id_block();
    measurement();
    if (failures) {
        fprintf(stderr, "snp_owner: %d failures\n", failures);
        return 1;
    }
    printf("snp_owner: ok\n");
    return 0;
}
