/* libsev-tool verify / session / secret / report: the guest owner's side. */
#define _GNU_SOURCE
#include "cmds.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CERT LIBSEV_SEV_CERT_LEN
#define SEV_CHAIN (4 * CERT) /* PDH || PEK || OCA || CEK */

/* Print the policy bits in words. */
static void print_policy(uint32_t p) {
    printf("policy:        0x%08x (debugging %s, key sharing %s, SEV-ES %s, migration %s, "
           "minimum firmware API %u.%u)\n",
           p, p & 1 ? "forbidden" : "allowed", p & 2 ? "forbidden" : "allowed",
           p & 4 ? "required" : "not required", p & 8 ? "forbidden" : "allowed", p >> 16 & 0xff,
           p >> 24 & 0xff);
}

/* A chain file (PDH || PEK || OCA || CEK, optionally || ASK || ARK) checked link by link.
 * On success (0) the PDH and PEK are copied out when asked for. */
static int verify_chain(const char *chain_path, const char *askark_path, const char *cek_path,
                        bool allow_test_root, bool print, uint8_t *pdh_out, uint8_t *pek_out) {
    blob chain = {0}, askark = {0}, cek = {0};
    int rc = EXIT_USAGE;
    if (!read_bin(chain_path, "certificate chain", 0, &chain))
        goto out;
    if (chain.len < SEV_CHAIN) {
        msg("%s: %zu bytes, too short for PDH || PEK || OCA || CEK (%d bytes)", chain_path, chain.len,
            SEV_CHAIN);
        rc = EXIT_REFUSED;
        goto out;
    }
    if (askark_path && chain.len > SEV_CHAIN) {
        rc = usage_error("%s already holds ASK || ARK; --ask-ark is for a 4-certificate chain",
                         chain_path);
        goto out;
    }
    if (askark_path && !read_bin(askark_path, "ASK || ARK", 0, &askark))
        goto out;
    if (cek_path && !read_bin(cek_path, "CEK certificate", CERT, &cek))
        goto out;
    const uint8_t *ak = askark_path ? askark.data : chain.data + SEV_CHAIN;
    size_t ak_len = askark_path ? askark.len : chain.len - SEV_CHAIN;
    if (ak_len == 0) {
        msg("%s has no ASK || ARK: export it with --full, or give --ask-ark", chain_path);
        rc = EXIT_USAGE;
        goto out;
    }
    libsev_chain_result res;
    libsev_error err;
    memset(&res, 0, sizeof res);
    uint32_t st = libsev_chain_verify(chain.data, CERT, chain.data + CERT, 3 * CERT,
                                      cek_path ? cek.data : NULL, cek_path ? CERT : 0, ak, ak_len,
                                      allow_test_root ? LIBSEV_VERIFY_ALLOW_TEST_ROOT : 0, &res, &err);
    if (st != LIBSEV_STATUS_OK && st != res.status) {
        /* An argument error: the result was not written. */
        rc = lib_fail("verifying the chain", st, &err);
        goto out;
    }
    if (print) {
        for (uint32_t l = LIBSEV_LINK_ARK_SELF; l <= LIBSEV_LINK_PDH_BY_PEK; l++) {
            uint32_t ls = res.link_status[l];
            printf("%-20s %s%s%s\n", libsev_chain_link_str(l), ls ? "FAILED: " : "ok",
                   ls ? libsev_status_str(ls) : "", l == res.failed_link ? "  <- first failure" : "");
        }
        printf("root: %s%s\n", res.generation_name,
               res.root_kind == LIBSEV_ROOT_TEST_ONLY
                   ? (allow_test_root ? " (libsev's test-only root, allowed by --allow-test-root)"
                                      : " (libsev's test-only root: refused without --allow-test-root)")
               : res.root_kind == LIBSEV_ROOT_AMD ? " (AMD)"
                                                  : "");
    }
    if (st != LIBSEV_STATUS_OK) {
        rc = lib_fail("the chain does not verify", st, &err);
        goto out;
    }
    if (pdh_out)
        memcpy(pdh_out, chain.data, CERT);
    if (pek_out)
        memcpy(pek_out, chain.data + CERT, CERT);
    rc = EXIT_OK;
out:
    blob_free(&chain);
    blob_free(&askark);
    blob_free(&cek);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */

static const char verify_help[] =
    "usage: libsev-tool verify [--ask-ark FILE] [--cek FILE] [--allow-test-root] CHAIN_FILE\n"
    "\n"
    "Verify a legacy SEV platform chain link by link, root to leaf, printing each link:\n"
    "CHAIN_FILE is PDH || PEK || OCA || CEK (2084 bytes each, as 'libsev-tool export' or\n"
    "'sevctl export' write it), followed by ASK || ARK unless --ask-ark gives them (AMD's\n"
    "ask_ark_*.cert). --cek replaces the chain's CEK with the one AMD's key server signed for the\n"
    "chip. A chain ending at libsev's test-only root (the firmware model's) is refused unless\n"
    "--allow-test-root is given. SNP (VCEK/VLEK) chains are not supported by this libsev yet.\n"
    "\n"
    "Exit status: 0 verified, 1 refused (the failing link is named), 2 usage or I/O error.\n";

int cmd_verify(int argc, char **argv) {
    const char *askark = NULL, *cek = NULL, *chain = NULL;
    bool allow = false;
    const opt_spec opts[] = {OPT_FLAG("--allow-test-root", &allow), OPT_VAL("--ask-ark", &askark),
                             OPT_VAL("--cek", &cek), OPTS_END};
    int prc = parse_opts(argc, argv, opts, verify_help, &chain, "CHAIN_FILE");
    if (prc != OPTS_PARSED)
        return prc;
    if (!chain)
        return usage_error("missing CHAIN_FILE");
    int rc = verify_chain(chain, askark, cek, allow, true, NULL, NULL);
    if (rc == EXIT_OK)
        printf("chain verified\n");
    return rc;
}

/* ------------------------------------------------------------------------------------------ */

static const char session_help[] =
    "usage: libsev-tool session (--pdh FILE | --chain FILE [--ask-ark FILE] [--allow-test-root])\n"
    "                           --policy POLICY --godh OUT --session OUT --state OUT\n"
    "                           [--format base64|raw]\n"
    "\n"
    "Create the guest owner's launch session for the platform whose PDH is given: an ephemeral\n"
    "ECDH key, the transport keys TEK/TIK wrapped for that PDH. Writes\n"
    "  --godh OUT     the GODH certificate   (QEMU sev-guest dh-cert-file)\n"
    "  --session OUT  the session blob       (QEMU sev-guest session-file)\n"
    "  --state OUT    the owner's state: TEK, TIK, policy. SECRET, written with mode 0600;\n"
    "                 'libsev-tool secret' needs it.\n"
    "--format: base64 (default; what QEMU reads) or raw bytes for --godh and --session.\n"
    "--chain verifies the platform chain first (as 'verify'); --pdh trusts a PDH you verified.\n"
    "POLICY is the guest policy (e.g. 0x1 = no debugging); bits 6-15 must be 0.\n"
    "\n"
    "Exit status: 0 written, 1 refused (bad PDH or chain), 2 usage or I/O error. The three files\n"
    "are written all or none.\n";

static int parse_format(const char *f, bool *base64) {
    if (strcmp(f, "base64") == 0)
        *base64 = true;
    else if (strcmp(f, "raw") == 0)
        *base64 = false;
    else
        return usage_error("--format must be base64 or raw, not '%s'", f);
    return EXIT_OK;
}

int cmd_session(int argc, char **argv) {
    const char *pdh_path = NULL, *chain = NULL, *askark = NULL, *policy_s = NULL, *godh_path = NULL;
    const char *session_path = NULL, *state_path = NULL, *format = "base64";
    bool allow = false, b64 = true;
    const opt_spec opts[] = {
        OPT_FLAG("--allow-test-root", &allow), OPT_VAL("--pdh", &pdh_path),
        OPT_VAL("--chain", &chain),            OPT_VAL("--ask-ark", &askark),
        OPT_VAL("--policy", &policy_s),        OPT_VAL("--godh", &godh_path),
        OPT_VAL("--session", &session_path),   OPT_VAL("--state", &state_path),
        OPT_VAL("--format", &format),          OPTS_END};
    int prc = parse_opts(argc, argv, opts, session_help, NULL, NULL);
    if (prc != OPTS_PARSED)
        return prc;
    uint32_t policy;
    if ((pdh_path == NULL) == (chain == NULL))
        return usage_error("give exactly one of --pdh and --chain");
    if (!policy_s || !parse_u32(policy_s, &policy))
        return usage_error("--policy needs a number (e.g. 0x1)");
    if (!godh_path || !session_path || !state_path)
        return usage_error("--godh, --session and --state are required");
    if (parse_format(format, &b64))
        return EXIT_USAGE;

    uint8_t pdh[CERT];
    if (chain) {
        int rc = verify_chain(chain, askark, NULL, allow, false, pdh, NULL);
        if (rc)
            return rc;
    } else {
        blob b;
        if (!read_bin(pdh_path, "PDH certificate", CERT, &b))
            return EXIT_USAGE;
        memcpy(pdh, b.data, CERT);
        blob_free(&b);
    }
    libsev_owner_session *s = NULL;
    libsev_error err;
    uint8_t godh[LIBSEV_GODH_CERT_LEN], sblob[LIBSEV_SESSION_BLOB_LEN], *state = NULL;
    size_t gn, sn, stn = 0;
    outset *o = NULL;
    int rc = EXIT_USAGE;
    uint32_t st = libsev_owner_session_new(pdh, CERT, policy, &s, &err);
    if (st != LIBSEV_STATUS_OK) {
        rc = lib_fail("creating the session", st, &err);
        goto out;
    }
    if ((st = libsev_owner_session_godh(s, godh, sizeof godh, &gn, &err)) ||
        (st = libsev_owner_session_blob(s, sblob, sizeof sblob, &sn, &err))) {
        rc = lib_fail("reading the session", st, &err);
        goto out;
    }
    st = libsev_owner_session_export(s, NULL, 0, &stn, &err);
    if (st != LIBSEV_STATUS_BUFFER_TOO_SMALL || !(state = malloc(stn)) ||
        (st = libsev_owner_session_export(s, state, stn, &stn, &err)) != LIBSEV_STATUS_OK) {
        rc = lib_fail("exporting the session state", st, &err);
        goto out;
    }
    o = out_new();
    if (!o || !out_add_fmt(o, godh_path, godh, gn, b64, 0644) ||
        !out_add_fmt(o, session_path, sblob, sn, b64, 0644) ||
        !out_add(o, state_path, state, stn, 0600) || !out_commit(o))
        goto out;
    printf("session for policy 0x%08x: GODH -> %s, session blob -> %s, owner state (secret, 0600) -> %s\n",
           policy, godh_path, session_path, state_path);
    rc = EXIT_OK;
out:
    out_free(o);
    if (state) {
        wipe(state, stn);
        free(state);
    }
    libsev_owner_session_free(s);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */

static const char secret_help[] =
    "usage: libsev-tool secret --state FILE --measurement FILE --api MAJOR.MINOR --build N\n"
    "                          (--launch-digest HEX | --ovmf FILE) --secret FILE [--pad]\n"
    "                          --header OUT --payload OUT [--format base64|raw]\n"
    "\n"
    "Verify the hypervisor's LAUNCH_MEASURE output against what the guest should be, and only\n"
    "then package a secret for LAUNCH_SECRET.\n"
    "  --state FILE        the owner state written by 'libsev-tool session'\n"
    "  --measurement FILE  LAUNCH_MEASURE's 48 bytes (raw, or base64 as QEMU's\n"
    "                      query-sev-launch-measure prints them)\n"
    "  --api, --build      the firmware's API version and build (QEMU query-sev: api-major,\n"
    "                      api-minor, build-id)\n"
    "  --launch-digest HEX the expected launch digest ('libsev-tool measure'), or\n"
    "  --ovmf FILE         the firmware image the hypervisor encrypted (digest = its SHA-256)\n"
    "  --secret FILE       the plaintext (a multiple of 16 bytes, or --pad to zero-pad it)\n"
    "  --header, --payload the packet header (52 bytes) and encrypted secret, for QEMU's\n"
    "                      sev-inject-launch-secret (packet-header, secret); base64 by default\n"
    "\n"
    "Exit status: 0 packaged, 1 refused (measurement mismatch, damaged state), 2 usage or I/O\n"
    "error. Nothing is written unless the measurement verified.\n";

int cmd_secret(int argc, char **argv) {
    const char *state_path = NULL, *meas_path = NULL, *api_s = NULL, *build_s = NULL;
    const char *ld_hex = NULL, *ovmf_path = NULL, *secret_path = NULL, *hdr_path = NULL;
    const char *payload_path = NULL, *format = "base64";
    bool pad = false, b64 = true;
    const opt_spec opts[] = {
        OPT_FLAG("--pad", &pad),              OPT_VAL("--state", &state_path),
        OPT_VAL("--measurement", &meas_path), OPT_VAL("--api", &api_s),
        OPT_VAL("--build", &build_s),         OPT_VAL("--launch-digest", &ld_hex),
        OPT_VAL("--ovmf", &ovmf_path),        OPT_VAL("--secret", &secret_path),
        OPT_VAL("--header", &hdr_path),       OPT_VAL("--payload", &payload_path),
        OPT_VAL("--format", &format),         OPTS_END};
    int prc = parse_opts(argc, argv, opts, secret_help, NULL, NULL);
    if (prc != OPTS_PARSED)
        return prc;
    unsigned maj, min;
    uint32_t build;
    char extra;
    if (!state_path || !meas_path || !secret_path || !hdr_path || !payload_path)
        return usage_error("--state, --measurement, --secret, --header and --payload are required");
    if (!api_s || sscanf(api_s, "%u.%u%c", &maj, &min, &extra) != 2 || maj > 255 || min > 255)
        return usage_error("--api needs MAJOR.MINOR (e.g. 1.55)");
    if (!build_s || !parse_u32(build_s, &build) || build > 255)
        return usage_error("--build needs a number 0-255");
    if ((ld_hex == NULL) == (ovmf_path == NULL))
        return usage_error("give exactly one of --launch-digest and --ovmf");
    uint8_t ld[32];
    if (ld_hex && !hex_decode(ld_hex, ld, sizeof ld))
        return usage_error("--launch-digest needs 64 hex digits");
    if (parse_format(format, &b64))
        return EXIT_USAGE;

    blob state = {0}, meas = {0}, secret = {0}, image = {0};
    libsev_owner_session *s = NULL;
    libsev_launch_digest *d = NULL;
    libsev_error err;
    uint8_t *trans = NULL, hdr[LIBSEV_SECRET_HEADER_LEN];
    size_t tn = 0;
    outset *o = NULL;
    int rc = EXIT_USAGE;
    if (!read_file(state_path, &state) || !read_bin(meas_path, "LAUNCH_MEASURE output", LIBSEV_MEASUREMENT_LEN, &meas) ||
        !read_file(secret_path, &secret))
        goto out;
    if (ovmf_path) {
        uint32_t st;
        if (!map_file(ovmf_path, &image))
            goto out;
        if ((st = libsev_launch_digest_new(&d, &err)) ||
            (st = libsev_launch_digest_update(d, image.data, image.len, &err)) ||
            (st = libsev_launch_digest_value(d, ld, &err))) {
            rc = lib_fail("computing the launch digest", st, &err);
            goto out;
        }
    }
    uint32_t st = libsev_owner_session_import(state.data, state.len, &s, &err);
    if (st != LIBSEV_STATUS_OK) {
        rc = lib_fail(state_path, st, &err);
        if (st == LIBSEV_STATUS_BAD_STATE_BLOB)
            rc = EXIT_REFUSED;
        goto out;
    }
    if ((st = libsev_owner_session_set_launch_digest(s, ld, &err))) {
        rc = lib_fail("setting the launch digest", st, &err);
        goto out;
    }
    uint8_t expected[32];
    st = libsev_owner_session_verify_measurement(s, (uint8_t)maj, (uint8_t)min, (uint8_t)build,
                                                 meas.data, expected, &err);
    if (st != LIBSEV_STATUS_OK) {
        rc = lib_fail("the launch measurement does not verify; no secret packaged", st, &err);
        if (st == LIBSEV_STATUS_MEASUREMENT_MISMATCH) {
            char eh[65], rh[65];
            hex_encode(expected, 32, eh);
            hex_encode(meas.data, 32, rh);
            msg("expected MEASURE %s, the firmware reported %s", eh, rh);
        }
        goto out;
    }
    st = libsev_owner_session_package_secret(s, secret.data, secret.len, pad ? LIBSEV_SECRET_PAD : 0,
                                             hdr, NULL, 0, &tn, &err);
    if (st == LIBSEV_STATUS_BUFFER_TOO_SMALL && (trans = malloc(tn)) != NULL)
        st = libsev_owner_session_package_secret(s, secret.data, secret.len,
                                                 pad ? LIBSEV_SECRET_PAD : 0, hdr, trans, tn, &tn, &err);
    if (st != LIBSEV_STATUS_OK) {
        rc = lib_fail("packaging the secret", st, &err);
        goto out;
    }
    o = out_new();
    if (!o || !out_add_fmt(o, hdr_path, hdr, sizeof hdr, b64, 0644) ||
        !out_add_fmt(o, payload_path, trans, tn, b64, 0644) || !out_commit(o))
        goto out;
    char mh[65], lh[65];
    hex_encode(meas.data, 32, mh);
    hex_encode(ld, 32, lh);
    printf("measurement verified: %s (launch digest %s, firmware API %u.%u build %u)\n", mh, lh, maj,
           min, build);
    printf("secret packaged: %zu bytes (guest_len %zu) -> %s, %s\n", tn, tn, hdr_path, payload_path);
    rc = EXIT_OK;
out:
    out_free(o);
    if (trans) {
        wipe(trans, tn);
        free(trans);
    }
    wipe(hdr, sizeof hdr);
    libsev_owner_session_free(s);
    libsev_launch_digest_free(d);
    blob_free(&state);
    blob_free(&meas);
    blob_free(&secret);
    blob_free(&image);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */

static const char report_help[] =
    "usage: libsev-tool report --report FILE (--pek FILE | --chain FILE [--ask-ark FILE]\n"
    "                          [--allow-test-root]) [--nonce HEX] [--launch-digest HEX]\n"
    "                          [--policy POLICY]\n"
    "\n"
    "Verify a legacy SEV attestation report (208 bytes from GET_ATTESTATION_REPORT, raw or\n"
    "base64 as QEMU's query-sev-attestation-report prints it) with the platform's PEK and print\n"
    "its fields. --chain verifies the platform chain first and takes its PEK; --pek takes a PEK\n"
    "from a chain you verified. --nonce, --launch-digest and --policy are compared with the\n"
    "report's. SNP reports are not supported by this libsev yet.\n"
    "\n"
    "Exit status: 0 verified (and matching), 1 refused, 2 usage or I/O error.\n";

int cmd_report(int argc, char **argv) {
    const char *report_path = NULL, *pek_path = NULL, *chain = NULL, *askark = NULL;
    const char *nonce_hex = NULL, *ld_hex = NULL, *policy_s = NULL;
    bool allow = false;
    const opt_spec opts[] = {
        OPT_FLAG("--allow-test-root", &allow), OPT_VAL("--report", &report_path),
        OPT_VAL("--pek", &pek_path),           OPT_VAL("--chain", &chain),
        OPT_VAL("--ask-ark", &askark),         OPT_VAL("--nonce", &nonce_hex),
        OPT_VAL("--launch-digest", &ld_hex),   OPT_VAL("--policy", &policy_s),
        OPTS_END};
    int prc = parse_opts(argc, argv, opts, report_help, NULL, NULL);
    if (prc != OPTS_PARSED)
        return prc;
    uint8_t nonce[16], ld[32];
    uint32_t policy = 0;
    if (!report_path)
        return usage_error("--report is required");
    if ((pek_path == NULL) == (chain == NULL))
        return usage_error("give exactly one of --pek and --chain");
    if (nonce_hex && !hex_decode(nonce_hex, nonce, sizeof nonce))
        return usage_error("--nonce needs 32 hex digits");
    if (ld_hex && !hex_decode(ld_hex, ld, sizeof ld))
        return usage_error("--launch-digest needs 64 hex digits");
    if (policy_s && !parse_u32(policy_s, &policy))
        return usage_error("--policy needs a number");
    uint8_t pek[CERT];
    if (chain) {
        int rc = verify_chain(chain, askark, NULL, allow, false, NULL, pek);
        if (rc)
            return rc;
    } else {
        blob b;
        if (!read_bin(pek_path, "PEK certificate", CERT, &b))
            return EXIT_USAGE;
        memcpy(pek, b.data, CERT);
        blob_free(&b);
    }
    blob rep;
    if (!read_bin(report_path, "legacy attestation report", LIBSEV_ATTESTATION_REPORT_LEN, &rep))
        return EXIT_USAGE;
    libsev_attestation_info info;
    libsev_error err;
    uint32_t st = libsev_attestation_verify(rep.data, rep.len, pek, CERT, &info, &err);
    blob_free(&rep);
    if (st != LIBSEV_STATUS_OK)
        return lib_fail("the report does not verify with this PEK", st, &err);
    char h[65];
    printf("signature:     verified with the PEK\n");
    hex_encode(info.mnonce, 16, h);
    printf("mnonce:        %s\n", h);
    hex_encode(info.launch_digest, 32, h);
    printf("launch digest: %s\n", h);
    print_policy(info.policy);
    int rc = EXIT_OK;
    if (nonce_hex && memcmp(nonce, info.mnonce, 16) != 0) {
        msg("the report's mnonce is not %s (a replayed report?)", nonce_hex);
        rc = EXIT_REFUSED;
    }
    if (ld_hex && memcmp(ld, info.launch_digest, 32) != 0) {
        msg("the report's launch digest is not the expected %s", ld_hex);
        rc = EXIT_REFUSED;
    }
    if (policy_s && policy != info.policy) {
        msg("the report's policy is 0x%08x, not 0x%08x", info.policy, policy);
        rc = EXIT_REFUSED;
    }
    if (rc == EXIT_OK && (nonce_hex || ld_hex || policy_s))
        printf("expected values match\n");
    return rc;
}
