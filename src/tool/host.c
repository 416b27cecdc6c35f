/* libsev-tool probe / export: the host administrator's side. */
#define _GNU_SOURCE
#include "cmds.h"
#include "util.h"

#include <cpuid.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------------------ */
/* probe */

static const char probe_help[] =
    "usage: libsev-tool probe [--platform kvm|emulated[:DIR]]\n"
    "\n"
    "Check, item by item, whether SEV guests can run here, with a reason for each item\n"
    "(like 'sevctl ok'): the CPU and its SEV/SEV-ES/SNP support, the kvm_amd 'sev' parameter,\n"
    "/dev/kvm, KVM's SEV support, /dev/sev, the firmware version and state, the SEV ASIDs.\n"
    "Items marked (informational) do not count towards the verdict.\n"
    "With --platform emulated[:DIR] the answer is for libsev's firmware model (DIR keeps its\n"
    "identity) instead of this host.\n"
    "\n"
    "Exit status: 0 when SEV guests can run, 1 when not, 2 on usage errors.\n";

static int failures;

/* One line: required items count towards the verdict; `st` is "PASS", "FAIL" or "SKIP". */
static void item(bool required, const char *st, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void item(bool required, const char *st, const char *name, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("[ %s ] - %s%s: ", st, name, required ? "" : " (informational)");
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
    if (required && strcmp(st, "PASS") != 0)
        failures++;
}

static const char *state_name(unsigned s) {
    return s == 0 ? "UNINIT" : s == 1 ? "INIT" : s == 2 ? "WORKING" : "unknown";
}

static bool read_param(const char *path, char *buf, size_t len) {
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool ok = fgets(buf, (int)len, f) != NULL;
    fclose(f);
    if (ok)
        buf[strcspn(buf, "\n")] = 0;
    return ok;
}

/* The firmware's PLATFORM_STATUS as one PASS/FAIL item. */
static bool firmware_item(libsev_platform *p) {
    libsev_platform_status_info info;
    libsev_error err;
    uint32_t st = libsev_platform_status(p, &info, &err);
    if (st != LIBSEV_STATUS_OK) {
        item(true, "FAIL", "firmware", "PLATFORM_STATUS failed: %s (libsev status %u)",
             err.message, st);
        return false;
    }
    item(true, "PASS", "firmware", "API %u.%u build %u, platform state %s, %u guest%s", info.api_major,
         info.api_minor, info.build, state_name(info.state), info.guest_count,
         info.guest_count == 1 ? "" : "s");
    return true;
}

static int probe_emulated(const char *spec) {
    if (!libsev_has_feature(LIBSEV_FEATURE_FIRMWARE_MODEL)) {
        item(true, "FAIL", "firmware model", "this libsev was built without the firmware model");
        goto verdict;
    }
    item(true, "PASS", "firmware model", "built into libsev %s", libsev_version());
    libsev_platform *p = NULL;
    if (open_platform(spec, &p) != EXIT_OK) {
        item(true, "FAIL", "platform", "the model did not open (see the message above)");
        goto verdict;
    }
    item(true, "PASS", "platform", "%s", spec[8] == ':' ? "model with a state directory (persistent identity)"
                                                        : "model with an ephemeral identity");
    firmware_item(p);
    libsev_model_config cfg;
    if (libsev_model_config_init(&cfg) == LIBSEV_STATUS_OK)
        item(true, cfg.asids > 0 ? "PASS" : "FAIL", "SEV ASIDs", "%u (the model's configuration)",
             cfg.asids);
    /* The chain must verify up to the model's test-only root. */
    uint8_t pdh[LIBSEV_SEV_CERT_LEN], chain[LIBSEV_CERT_CHAIN_LEN], cek[LIBSEV_SEV_CERT_LEN];
    uint8_t askark[4096];
    size_t n1, n2, n3, n4;
    libsev_error err;
    uint32_t st = libsev_platform_pdh_cert_export(p, pdh, sizeof pdh, &n1, chain, sizeof chain, &n2, &err);
    if (st == LIBSEV_STATUS_OK)
        st = libsev_platform_model_cek(p, cek, sizeof cek, &n3, &err);
    if (st == LIBSEV_STATUS_OK)
        st = libsev_platform_model_ask_ark(p, askark, sizeof askark, &n4, &err);
    libsev_chain_result res;
    if (st == LIBSEV_STATUS_OK)
        st = libsev_chain_verify(pdh, n1, chain, n2, cek, n3, askark, n4,
                                 LIBSEV_VERIFY_ALLOW_TEST_ROOT, &res, &err);
    if (st == LIBSEV_STATUS_OK)
        item(true, "PASS", "certificate chain", "PDH <- PEK <- OCA/CEK <- ASK <- ARK verified (root: %s, for tests only)",
             res.generation_name);
    else
        item(true, "FAIL", "certificate chain", "%s (libsev status %u)", err.message, st);
    item(false, libsev_has_feature(LIBSEV_FEATURE_OWNER) ? "PASS" : "FAIL", "owner side",
         "chain verification, sessions, measurements and secrets");
#ifdef LIBSEV_ES_PROFILE_ES_INIT
    item(false, "PASS", "SEV-ES", "the model launches SEV-ES guests, building each vCPU's VMSA as KVM does");
#else
    item(false, "SKIP", "SEV-ES", "the model checks ES initialisation and policy; it has no vCPUs, so "
                                  "VMSA contents are not modelled");
#endif
#ifdef LIBSEV_SNP_DIGEST_LEN
    {
        /* SNP_PLATFORM_STATUS, then the model chip's VCEK chain from its certificate table. */
        libsev_snp_platform_status_info ss;
        uint8_t table[16384];
        size_t tn = 0;
        st = libsev_snp_platform_status(p, &ss, &err);
        if (st == LIBSEV_STATUS_OK)
            st = libsev_snp_model_cert_table(p, table, sizeof table, &tn, &err);
        if (st == LIBSEV_STATUS_OK)
            item(false, "PASS", "SEV-SNP",
                 "SNP_PLATFORM_STATUS API %u.%u build %u, reported TCB %016llx; the model launches "
                 "SNP guests and signs their reports with a VCEK of the test-only root",
                 ss.api_major, ss.api_minor, ss.build_id, (unsigned long long)ss.reported_tcb);
        else
            item(false, "FAIL", "SEV-SNP", "%s (libsev status %u)", err.message, st);
    }
#else
    item(false, "SKIP", "SEV-SNP", "not modelled by this libsev");
#endif
    libsev_platform_free(p);
verdict:
    printf(failures ? "SEV guests cannot run on this platform (%d item%s failed)\n"
                    : "SEV guests can run on the firmware model (not a security boundary)\n",
           failures, failures == 1 ? "" : "s");
    return failures ? EXIT_REFUSED : EXIT_OK;
}

static int probe_host(void) {
    unsigned a, b, c, d;
    char vendor[13] = {0};
    __cpuid(0, a, b, c, d);
    memcpy(vendor, &b, 4);
    memcpy(vendor + 4, &d, 4);
    memcpy(vendor + 8, &c, 4);
    bool amd = strcmp(vendor, "AuthenticAMD") == 0 || strcmp(vendor, "HygonGenuine") == 0;
    item(true, amd ? "PASS" : "FAIL", "CPU vendor", "%s%s", vendor,
         amd ? "" : " (SEV needs an AMD EPYC or Hygon CPU)");
    unsigned maxext = __get_cpuid_max(0x80000000, NULL);
    bool sev = false;
    if (maxext < 0x8000001f) {
        item(true, "FAIL", "SEV (CPUID 0x8000001f)", "the CPU has no memory-encryption leaf");
    } else {
        __cpuid(0x8000001f, a, b, c, d);
        sev = a & 2;
        item(true, sev ? "PASS" : "FAIL", "SEV (CPUID 0x8000001f EAX bit 1)",
             sev ? "supported, C-bit at position %u" : "not supported by this CPU", b & 63);
        item(false, a & 8 ? "PASS" : "FAIL", "SEV-ES (EAX bit 3)", a & 8 ? "supported" : "not supported");
        item(false, a & 16 ? "PASS" : "FAIL", "SEV-SNP (EAX bit 4)",
#ifdef LIBSEV_SNP_DIGEST_LEN
             a & 16 ? "supported" : "not supported");
#else
             a & 16 ? "supported (libsev does not launch SNP guests yet)" : "not supported");
#endif
        if (sev) {
            /* ECX: the highest ASID; EDX: the lowest ASID usable by plain SEV guests. */
            unsigned n = c >= d && d > 0 ? c - d + 1 : 0;
            item(true, n ? "PASS" : "FAIL", "SEV ASIDs", "%u (ASIDs %u-%u; below %u for SEV-ES/SNP)",
                 n, d, c, d);
        } else {
            item(true, "SKIP", "SEV ASIDs", "no SEV");
        }
    }
    char param[32];
    if (read_param("/sys/module/kvm_amd/parameters/sev", param, sizeof param)) {
        bool on = strcmp(param, "Y") == 0 || strcmp(param, "1") == 0;
        item(true, on ? "PASS" : "FAIL", "kvm_amd sev parameter", on ? "%s" : "%s (load kvm_amd with sev=1)", param);
    } else {
        item(true, "FAIL", "kvm_amd sev parameter", "/sys/module/kvm_amd/parameters/sev is absent (kvm_amd not loaded)");
    }
    libsev_probe_result pr;
    if (libsev_probe(&pr) != LIBSEV_STATUS_OK) {
        item(true, "FAIL", "libsev probe", "libsev_probe failed");
    } else {
        item(true, pr.kvm.available ? "PASS" : "FAIL", "/dev/kvm", "%s", pr.kvm.reason);
        item(true, pr.kvm_sev.available ? "PASS" : "FAIL", "KVM SEV support", "%s", pr.kvm_sev.reason);
        item(true, pr.sev_device.available ? "PASS" : "FAIL", "/dev/sev", "%s", pr.sev_device.reason);
        if (pr.sev_device.available) {
            libsev_platform *p = NULL;
            libsev_error err;
            uint32_t st = libsev_platform_open_kvm(-1, &p, &err);
            if (st == LIBSEV_STATUS_OK) {
                firmware_item(p);
                libsev_platform_free(p);
            } else {
                item(true, "FAIL", "firmware", "%s (libsev status %u)", err.message, st);
            }
        } else {
            item(true, "SKIP", "firmware", "no /dev/sev to ask");
        }
    }
    printf(failures ? "SEV guests cannot run on this host (%d item%s failed or not checked)\n"
                    : "SEV guests can run on this host\n",
           failures, failures == 1 ? "" : "s");
    return failures ? EXIT_REFUSED : EXIT_OK;
}

int cmd_probe(int argc, char **argv) {
    const char *platform = NULL;
    const opt_spec opts[] = {OPT_VAL("--platform", &platform), OPTS_END};
    int prc = parse_opts(argc, argv, opts, probe_help, NULL, NULL);
    if (prc != OPTS_PARSED)
        return prc;
    if (!platform) {
        const char *env = getenv("LIBSEV_PLATFORM");
        if (env && *env)
            platform = env;
    }
    if (platform && strcmp(platform, "kvm") != 0) {
        if (strcmp(platform, "emulated") != 0 && strncmp(platform, "emulated:", 9) != 0)
            return usage_error("--platform must be kvm, emulated or emulated:DIR, not '%s'", platform);
        return probe_emulated(platform);
    }
    return probe_host();
}

/* ------------------------------------------------------------------------------------------ */
/* export */

static const char export_help[] =
    "usage: libsev-tool export [--platform kvm|emulated[:DIR]] [--full [--cek FILE --ask-ark FILE]]\n"
    "                          [--pdh FILE] [--id FILE] CHAIN_FILE\n"
    "\n"
    "Write the platform's certificates (raw, as 'sevctl export'): CHAIN_FILE gets\n"
    "PDH || PEK || OCA || CEK (4 x 2084 bytes, PDH_CERT_EXPORT; the CEK is unsigned).\n"
    "  --full      use the CEK signed by AMD and append ASK || ARK, so that the file verifies on\n"
    "              its own. On the firmware model these are its test-only root; on a real chip\n"
    "              fetch them from AMD's key server by chip id and give them with --cek and\n"
    "              --ask-ark.\n"
    "  --pdh FILE  also write the PDH alone (the input of 'libsev-tool session').\n"
    "  --id FILE   also write the chip id (GET_ID, raw).\n"
    "  --platform  as for 'probe'; default: the LIBSEV_PLATFORM environment variable (kvm).\n"
    "\n"
    "Exit status: 0 written, 1 refused by libsev or the firmware, 2 usage or I/O error.\n";

int cmd_export(int argc, char **argv) {
    const char *platform = NULL, *cek_path = NULL, *askark_path = NULL, *pdh_path = NULL;
    const char *id_path = NULL, *chain_path = NULL;
    bool full = false;
    const opt_spec opts[] = {
        OPT_FLAG("--full", &full),          OPT_VAL("--platform", &platform),
        OPT_VAL("--cek", &cek_path),        OPT_VAL("--ask-ark", &askark_path),
        OPT_VAL("--pdh", &pdh_path),        OPT_VAL("--id", &id_path),
        OPTS_END};
    int prc = parse_opts(argc, argv, opts, export_help, &chain_path, "CHAIN_FILE");
    if (prc != OPTS_PARSED)
        return prc;
    if (!chain_path)
        return usage_error("missing CHAIN_FILE");
    if (!full && (cek_path || askark_path))
        return usage_error("--cek and --ask-ark go with --full");
    if ((cek_path == NULL) != (askark_path == NULL))
        return usage_error("--cek and --ask-ark go together");

    libsev_platform *p = NULL;
    int rc = open_platform(platform, &p);
    if (rc)
        return rc;
    libsev_error err;
    uint8_t pdh[LIBSEV_SEV_CERT_LEN], plat[LIBSEV_CERT_CHAIN_LEN], id[8 * LIBSEV_CHIP_ID_LEN];
    size_t pdh_n = 0, plat_n = 0, id_n = 0;
    blob cek = {0}, askark = {0};
    uint8_t *file = NULL;
    outset *o = NULL;
    uint32_t st = libsev_platform_pdh_cert_export(p, pdh, sizeof pdh, &pdh_n, plat, sizeof plat,
                                                  &plat_n, &err);
    if (st != LIBSEV_STATUS_OK) {
        rc = lib_fail("PDH_CERT_EXPORT", st, &err);
        goto out;
    }
    st = libsev_platform_get_id(p, id, sizeof id, &id_n, &err);
    if (st != LIBSEV_STATUS_OK) {
        rc = lib_fail("GET_ID", st, &err);
        goto out;
    }
    if (full && cek_path) {
        if (!read_bin(cek_path, "CEK certificate", LIBSEV_SEV_CERT_LEN, &cek) ||
            !read_bin(askark_path, "ASK || ARK", 0, &askark)) {
            rc = EXIT_USAGE;
            goto out;
        }
    } else if (full) {
        if (!libsev_platform_is_model(p)) {
            char idhex[2 * LIBSEV_CHIP_ID_LEN + 1];
            hex_encode(id, LIBSEV_CHIP_ID_LEN, idhex);
            msg("--full on a real chip needs the CEK signed by AMD and AMD's ASK || ARK: fetch "
                "them from AMD's key server (CEK by chip id %s) and give --cek and --ask-ark",
                idhex);
            rc = EXIT_USAGE;
            goto out;
        }
        size_t n = 0;
        cek.data = malloc(LIBSEV_SEV_CERT_LEN);
        st = cek.data ? libsev_platform_model_cek(p, cek.data, LIBSEV_SEV_CERT_LEN, &cek.len, &err)
                      : LIBSEV_STATUS_OUT_OF_MEMORY;
        if (st == LIBSEV_STATUS_OK) {
            st = libsev_platform_model_ask_ark(p, NULL, 0, &n, &err);
            if (st == LIBSEV_STATUS_BUFFER_TOO_SMALL && (askark.data = malloc(n)) != NULL)
                st = libsev_platform_model_ask_ark(p, askark.data, n, &askark.len, &err);
        }
        if (st != LIBSEV_STATUS_OK) {
            rc = lib_fail("the model's signed CEK and ASK || ARK", st, &err);
            goto out;
        }
    }
    size_t total = pdh_n + plat_n + askark.len;
    file = malloc(total);
    if (!file) {
        msg("out of memory");
        rc = EXIT_USAGE;
        goto out;
    }
    memcpy(file, pdh, pdh_n);
    memcpy(file + pdh_n, plat, plat_n);
    if (full) /* the signed CEK replaces the exported (unsigned) one */
        memcpy(file + pdh_n + 2 * LIBSEV_SEV_CERT_LEN, cek.data, LIBSEV_SEV_CERT_LEN);
    if (askark.len)
        memcpy(file + pdh_n + plat_n, askark.data, askark.len);
    o = out_new();
    if (!o || !out_add(o, chain_path, file, total, 0644) ||
        (pdh_path && !out_add(o, pdh_path, pdh, pdh_n, 0644)) ||
        (id_path && !out_add(o, id_path, id, id_n, 0644)) || !out_commit(o)) {
        rc = EXIT_USAGE;
        goto out;
    }
    char idhex[2 * LIBSEV_CHIP_ID_LEN + 1];
    hex_encode(id, id_n < LIBSEV_CHIP_ID_LEN ? id_n : LIBSEV_CHIP_ID_LEN, idhex);
    printf("%s: PDH || PEK || OCA || CEK%s (%zu bytes)%s\n", chain_path,
           full ? " (signed) || ASK || ARK" : "", total,
           libsev_platform_is_model(p) ? ", firmware model" : "");
    printf("chip id: %s\n", idhex);
    rc = EXIT_OK;
out:
    out_free(o);
    free(file);
    blob_free(&cek);
    blob_free(&askark);
    libsev_platform_free(p);
    return rc;
}
