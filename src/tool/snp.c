/* libsev-tool snp-report: the SEV-SNP guest owner's check of an attestation report. */
#define _GNU_SOURCE
#include "cmds.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char snp_report_help[] =
    "usage: libsev-tool snp-report --report FILE (--certs FILE | --ark FILE --ask FILE --vcek FILE)\n"
    "                              [--generation milan|genoa|turin] [--allow-test-root]\n"
    "                              [--measurement HEX] [--nonce HEX] [--host-data HEX]\n"
    "                              [--vmpl N] [--policy-allowed N]\n"
    "\n"
    "Verify an SEV-SNP attestation report (1184 bytes, raw or base64) as its guest owner: the\n"
    "certificate chain VCEK (or VLEK) <- ASK <- ARK to AMD's pinned roots, taken from an\n"
    "extended-report certificate table (--certs) or from three certificate files (DER or PEM),\n"
    "the report's signature with the certified key, its chip id and TCB against the certificate,\n"
    "then each expected value given: the launch digest (--measurement, 48 bytes, e.g. from\n"
    "`libsev-tool measure --mode snp`), the report data (--nonce, up to 64 bytes, zero-padded),\n"
    "the host data (--host-data, 32 bytes), the VMPL, and the policy bits allowed (bit 17 is\n"
    "always required). Prints the report's fields and each failed check by name.\n"
    "  --allow-test-root  accept libsev's test-only root (the firmware model's chip): tests only\n"
    "\n"
    "Exit status: 0 verified, 1 refused (chain, signature or a check), 2 usage or I/O error.\n";

/* The certificate of `kind` from an extended-report certificate table; `quiet`: a missing
 * entry is EXIT_REFUSED without a message (the caller tries another kind). */
static int cert_from_table(const blob *t, uint32_t kind, bool quiet, blob *out) {
    libsev_error err;
    size_t n = 0;
    uint32_t st = libsev_snp_cert_table_get(t->data, t->len, kind, NULL, 0, &n, &err);
    if (quiet && st == LIBSEV_STATUS_CHAIN_BROKEN)
        return EXIT_REFUSED;
    if (st != LIBSEV_STATUS_BUFFER_TOO_SMALL)
        return lib_fail("reading the certificate table", st, &err);
    out->data = malloc(n);
    out->len = n;
    out->mapped = false;
    if (!out->data) {
        msg("out of memory");
        return EXIT_USAGE;
    }
    st = libsev_snp_cert_table_get(t->data, t->len, kind, out->data, n, &n, &err);
    if (st)
        return lib_fail("reading the certificate table", st, &err);
    return EXIT_OK;
}

static void print_hex(const char *label, const uint8_t *d, size_t n) {
    char h[2 * 64 + 1];
    hex_encode(d, n, h);
    printf("%-13s %s\n", label, h);
}

/* Up to `max` bytes of hex into `out` (zero-padded); false on bad hex or too long. */
static bool hex_upto(const char *s, uint8_t *out, size_t max) {
    size_t n = strlen(s);
    if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        s += 2, n -= 2;
    if (n % 2 || n / 2 > max)
        return false;
    memset(out, 0, max);
    return n == 0 || hex_decode(s, out, n / 2);
}

int cmd_snp_report(int argc, char **argv) {
    const char *report_path = NULL, *certs = NULL, *ark_p = NULL, *ask_p = NULL, *vcek_p = NULL;
    const char *gen_s = NULL, *meas = NULL, *nonce = NULL, *hd = NULL, *vmpl_s = NULL;
    const char *allowed_s = NULL;
    bool allow_test = false;
    const opt_spec opts[] = {
        OPT_FLAG("--allow-test-root", &allow_test), OPT_VAL("--report", &report_path),
        OPT_VAL("--certs", &certs),                 OPT_VAL("--ark", &ark_p),
        OPT_VAL("--ask", &ask_p),                   OPT_VAL("--vcek", &vcek_p),
        OPT_VAL("--generation", &gen_s),            OPT_VAL("--measurement", &meas),
        OPT_VAL("--nonce", &nonce),                 OPT_VAL("--host-data", &hd),
        OPT_VAL("--vmpl", &vmpl_s),                 OPT_VAL("--policy-allowed", &allowed_s),
        OPTS_END,
    };
    int prc = parse_opts(argc, argv, opts, snp_report_help, NULL, NULL);
    if (prc != OPTS_PARSED)
        return prc;
    if (!report_path)
        return usage_error("--report is required");
    if (!certs == !(ark_p || ask_p || vcek_p) || (!certs && !(ark_p && ask_p && vcek_p)))
        return usage_error("give --certs FILE, or --ark, --ask and --vcek");
    uint32_t gen = LIBSEV_SNP_GEN_ANY;
    if (gen_s) {
        if (!strcmp(gen_s, "milan"))
            gen = LIBSEV_SNP_GEN_MILAN;
        else if (!strcmp(gen_s, "genoa"))
            gen = LIBSEV_SNP_GEN_GENOA;
        else if (!strcmp(gen_s, "turin"))
            gen = LIBSEV_SNP_GEN_TURIN;
        else
            return usage_error("--generation must be milan, genoa or turin");
    }
    libsev_snp_policy pol;
    memset(&pol, 0, sizeof pol);
    pol.policy_required = 1u << 17;
    if (meas) {
        if (!hex_decode(meas, pol.measurement, sizeof pol.measurement))
            return usage_error("--measurement needs 48 bytes of hex");
        pol.expect |= LIBSEV_SNP_EXPECT_MEASUREMENT;
    }
    if (nonce) {
        if (!hex_upto(nonce, pol.report_data, sizeof pol.report_data))
            return usage_error("--nonce needs up to 64 bytes of hex");
        pol.expect |= LIBSEV_SNP_EXPECT_REPORT_DATA;
    }
    if (hd) {
        if (!hex_decode(hd, pol.host_data, sizeof pol.host_data))
            return usage_error("--host-data needs 32 bytes of hex");
        pol.expect |= LIBSEV_SNP_EXPECT_HOST_DATA;
    }
    if (vmpl_s) {
        if (!parse_u32(vmpl_s, &pol.vmpl) || pol.vmpl > 3)
            return usage_error("--vmpl needs 0 to 3");
        pol.expect |= LIBSEV_SNP_EXPECT_VMPL;
    }
    if (allowed_s) {
        if (!parse_u64(allowed_s, &pol.policy_allowed))
            return usage_error("--policy-allowed needs a number");
        pol.expect |= LIBSEV_SNP_EXPECT_POLICY_ALLOWED;
    }

    int rc = EXIT_USAGE;
    blob rep = {0}, table = {0}, ark = {0}, ask = {0}, vcek = {0};
    libsev_snp_chain *chain = NULL;
    libsev_error err;
    if (!read_bin(report_path, "SNP attestation report", LIBSEV_SNP_REPORT_LEN, &rep))
        goto out;
    if (certs) {
        if (!read_file(certs, &table))
            goto out;
        if ((rc = cert_from_table(&table, LIBSEV_SNP_CERT_ARK, false, &ark)) ||
            (rc = cert_from_table(&table, LIBSEV_SNP_CERT_ASK, false, &ask)))
            goto out;
        /* A VLEK-signed report's table carries the VLEK instead of a VCEK. */
        rc = cert_from_table(&table, LIBSEV_SNP_CERT_VCEK, true, &vcek);
        if (rc == EXIT_REFUSED)
            rc = cert_from_table(&table, LIBSEV_SNP_CERT_VLEK, false, &vcek);
        if (rc)
            goto out;
    } else if (!read_file(ark_p, &ark) || !read_file(ask_p, &ask) || !read_file(vcek_p, &vcek)) {
        goto out;
    }
    uint32_t st = libsev_snp_chain_verify(ark.data, ark.len, ask.data, ask.len, vcek.data, vcek.len,
                                          gen, allow_test ? LIBSEV_VERIFY_ALLOW_TEST_ROOT : 0,
                                          &chain, &err);
    if (st) {
        rc = lib_fail("the certificate chain does not verify", st, &err);
        goto out;
    }
    libsev_snp_chain_facts facts;
    if ((st = libsev_snp_chain_info(chain, &facts, &err))) {
        rc = lib_fail("reading the chain", st, &err);
        goto out;
    }
    static const char *gens[] = {"unknown", "Milan", "Genoa", "Turin"};
    printf("chain         %s <- ASK <- ARK (%s, %s root)\n", facts.leaf_kind ? "VLEK" : "VCEK",
           gens[facts.generation < 4 ? facts.generation : 0],
           facts.root_kind == LIBSEV_ROOT_TEST_ONLY ? "libsev's test-only" : "AMD's");
    libsev_snp_verdict v;
    st = libsev_snp_report_verify(rep.data, rep.len, chain, &pol, &v, &err);
    if (st != LIBSEV_STATUS_OK && st != LIBSEV_STATUS_REPORT_CHECK_FAILED) {
        rc = lib_fail("reading the report", st, &err);
        goto out;
    }
    printf("version       %u\nvmpl          %u\nguest_svn     %u\npolicy        0x%llx\n",
           v.report_version, v.vmpl, v.guest_svn, (unsigned long long)v.policy);
    print_hex("measurement", v.measurement, sizeof v.measurement);
    print_hex("report_data", v.report_data, sizeof v.report_data);
    printf("reported_tcb  bl %u tee %u snp %u ucode %u\n", v.reported_tcb.bootloader,
           v.reported_tcb.tee, v.reported_tcb.snp, v.reported_tcb.microcode);
    if (st == LIBSEV_STATUS_OK) {
        printf("verified      %s\n", v.message);
        rc = EXIT_OK;
    } else {
        for (int b = 0; b < 64; b++)
            if (v.failed & (1ull << b))
                printf("FAILED        %s\n", libsev_snp_check_name(1ull << b));
        msg("the report is refused: %s", v.message);
        rc = EXIT_REFUSED;
    }
out:
    libsev_snp_chain_free(chain);
    blob_free(&rep);
    blob_free(&table);
    blob_free(&ark);
    blob_free(&ask);
    blob_free(&vcek);
    return rc;
}
