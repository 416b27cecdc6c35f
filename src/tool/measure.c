/* libsev-tool measure: the expected launch digest, with sev-snp-measure's options. */
#define _GNU_SOURCE
#include "cmds.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char measure_help[] =
    "usage: libsev-tool measure --mode sev|seves|snp --ovmf FILE [--kernel FILE [--initrd FILE]\n"
    "                           [--append CMDLINE]] [--vcpus N] [--vcpu-type TYPE | --vcpu-sig N |\n"
    "                           --vcpu-family F --vcpu-model M --vcpu-stepping S]\n"
    "                           [--vmm-type QEMU|ec2|gce] [--guest-features N]\n"
    "                           [--vmsa-init init2|es-init]\n"
    "                           [--output-format hex|base64] [-v]\n"
    "\n"
    "Print the launch digest a guest started by QEMU from FILE must have, as sev-snp-measure\n"
    "does (same options, same output), so that scripts can switch.\n"
    "  --mode sev     legacy SEV: SHA-256 over the firmware image QEMU encrypts with\n"
    "                 LAUNCH_UPDATE_DATA, then, with --kernel, over the SEV hashes table QEMU\n"
    "                 fills for kernel-hashes=on (the image must have the table's footer entry)\n"
#ifdef LIBSEV_ES_PROFILE_ES_INIT
    "  --mode seves   SEV-ES: the image, the hashes table with --kernel, then one VMSA per vCPU\n"
    "                 as KVM builds it from the VMM's reset state (needs --vcpus and, for QEMU,\n"
    "                 --vcpu-type, --vcpu-sig or --vcpu-family/-model/-stepping).\n"
    "                 --vmsa-init init2 (default, as sev-snp-measure computes: KVM_SEV_INIT2\n"
    "                 VMs) or es-init (VMs made with KVM_SEV_ES_INIT: no x87/SSE state)\n"
#ifdef LIBSEV_SNP_DIGEST_LEN
    "  --mode snp     SEV-SNP: the SHA-384 launch digest: the image's pages, its SEV metadata\n"
    "                 sections (with --kernel, the kernel-hashes page), then one VMSA per vCPU\n"
    "                 (as for seves; --guest-features, default 0x1: SEV_FEATURES, SNPActive)\n"
#else
    "  --mode snp     SEV-SNP: not supported by this libsev yet (refused)\n"
#endif
#else
    "  --mode seves   SEV-ES, --mode snp: SEV-SNP: not supported by this libsev yet (refused)\n"
#endif
    "The vCPU options matter for SEV-ES and SNP only (VMSAs); --mode sev accepts and ignores them.\n"
    "\n"
    "Exit status: 0 printed, 1 refused (image without kernel-hashes support), 2 usage or I/O\n"
    "error (including a mode this libsev does not support).\n";

/* GUIDs in their little-endian byte order (as stored in the image and the table). */
static void guid_le(const char *s, uint8_t out[16]) {
    /* s: xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx */
    uint8_t be[16];
    char hex[33];
    size_t k = 0;
    for (const char *p = s; *p && k < 32; p++)
        if (*p != '-')
            hex[k++] = *p;
    hex[k] = 0;
    if (!hex_decode(hex, be, 16))
        abort(); /* the constants below are well-formed */
    static const int order[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
    for (int i = 0; i < 16; i++)
        out[i] = be[order[i]];
}

#define FOOTER_GUID "96b582de-1fb2-45f7-baea-a366c55a082d"
#define HASH_TABLE_RV_GUID "7255371f-3a3b-4b04-927b-1da6efa8d454"
#define HASH_TABLE_HEADER_GUID "9438d606-4f22-4cc9-b479-a793d411fd21"
#define KERNEL_ENTRY_GUID "4de79437-abd2-427f-b835-d5b172d2045b"
#define INITRD_ENTRY_GUID "44baf731-3a2f-4bd7-9af1-41e29169781d"
#define CMDLINE_ENTRY_GUID "97d02dd8-bd20-4c94-aa78-e7714d36ab2a"

/* Whether the image's footer table (the GUIDed table OVMF keeps 32 bytes before its end)
 * has the SEV hashes table entry with a non-zero GPA, i.e. whether this OVMF checks the kernel,
 * initrd and command line that QEMU measures. */
static bool has_hashes_table(const uint8_t *img, size_t len) {
    enum { HDR = 18 }; /* u16 size, GUID */
    uint8_t footer[16], rv[16];
    guid_le(FOOTER_GUID, footer);
    guid_le(HASH_TABLE_RV_GUID, rv);
    if (len < 32 + HDR)
        return false;
    size_t start = len - 32 - HDR;
    if (memcmp(img + start + 2, footer, 16) != 0)
        return false;
    size_t size = img[start] | (size_t)img[start + 1] << 8;
    if (size < HDR || size - HDR > start)
        return false;
    size_t lo = start - (size - HDR), end = start; /* entries, walked from the end */
    while (end - lo >= HDR) {
        const uint8_t *e = img + end - HDR;
        size_t esz = e[0] | (size_t)e[1] << 8;
        if (esz < HDR || esz > end - lo)
            return false;
        if (memcmp(e + 2, rv, 16) == 0 && esz >= HDR + 4) {
            const uint8_t *d = img + end - esz;
            uint32_t gpa = d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 | (uint32_t)d[3] << 24;
            return gpa != 0;
        }
        end -= esz;
    }
    return false;
}

/* SHA-256 of a buffer through libsev's digest builder. */
static uint32_t sha256(const uint8_t *d, size_t len, uint8_t out[32], libsev_error *err) {
    libsev_launch_digest *h = NULL;
    uint32_t st = libsev_launch_digest_new(&h, err);
    if (!st)
        st = libsev_launch_digest_update(h, d, len, err);
    if (!st)
        st = libsev_launch_digest_value(h, out, err);
    libsev_launch_digest_free(h);
    return st;
}

/* QEMU's SEV hashes table for kernel-hashes=on, padded to 16 bytes (176 bytes). */
static int hashes_table(const char *kernel, const char *initrd, const char *append, uint8_t t[176]) {
    enum { ENTRY = 16 + 2 + 32, TABLE = 16 + 2 + 3 * ENTRY };
    memset(t, 0, 176);
    guid_le(HASH_TABLE_HEADER_GUID, t);
    t[16] = TABLE & 0xff;
    t[17] = TABLE >> 8;
    const char *guids[3] = {CMDLINE_ENTRY_GUID, INITRD_ENTRY_GUID, KERNEL_ENTRY_GUID};
    for (int i = 0; i < 3; i++) {
        uint8_t *e = t + 18 + i * ENTRY;
        guid_le(guids[i], e);
        e[16] = ENTRY;
        e[17] = 0;
        blob b = {0};
        libsev_error err;
        uint32_t st;
        if (i == 0) { /* the command line with its NUL; "\0" alone without --append */
            const char *c = append ? append : "";
            st = sha256((const uint8_t *)c, strlen(c) + 1, e + 18, &err);
        } else {
            const char *path = i == 1 ? initrd : kernel;
            if (path && !map_file(path, &b))
                return EXIT_USAGE;
            st = sha256(b.data, b.len, e + 18, &err);
            blob_free(&b);
        }
        if (st)
            return lib_fail("hashing", st, &err);
    }
    return EXIT_OK;
}

#ifdef LIBSEV_ES_PROFILE_ES_INIT
/* CPUID(1).EAX from family, model and stepping (AMD's extended family/model encoding). */
static uint32_t cpu_sig(uint32_t family, uint32_t model, uint32_t stepping) {
    uint32_t fam_lo = family > 0xf ? 0xf : family, fam_hi = family > 0xf ? (family - 0xf) & 0xff : 0;
    return fam_hi << 20 | (model >> 4 & 0xf) << 16 | fam_lo << 8 | (model & 0xf) << 4 | (stepping & 0xf);
}

/* The vCPU model from the options, in sev-snp-measure's order: family/model/stepping, then the
 * signature, then the type (a name libsev resolves); the QEMU profile needs one of them. */
static int vcpu_model(const char *vfam, const char *vmodel, const char *vstep, const char *vsig,
                      const char *vtype, bool qemu, const char *mode, uint32_t *sig,
                      const char **cpu_model) {
    uint32_t fam, model, step;
    if (vfam) {
        if (!parse_u32(vfam, &fam) || !parse_u32(vmodel, &model) || !parse_u32(vstep, &step))
            return usage_error("--vcpu-family, --vcpu-model and --vcpu-stepping need numbers");
        *sig = cpu_sig(fam, model, step);
    } else if (vsig) {
        if (!parse_u32(vsig, sig))
            return usage_error("--vcpu-sig needs a number");
    } else if (vtype) {
        *cpu_model = vtype;
    } else if (qemu) {
        return usage_error("missing --vcpu-type or --vcpu-sig or --vcpu-family in guest mode '%s'",
                           mode);
    }
    return EXIT_OK;
}

/* The SEV-ES (`snp` false) or SEV-SNP launch digest: the options both modes share parsed once
 * and the image and boot files mapped once, then libsev_es_launch_digest or
 * libsev_snp_expected_measurement. */
static int measure_guest(bool snp, const char *ovmf, const char *kernel, const char *initrd,
                         const char *append, const char *vcpus_s, const char *vtype,
                         const char *vsig, const char *vfam, const char *vmodel,
                         const char *vstep, const char *vmm_s, const char *features,
                         const char *vmsa_init, bool verbose, bool b64) {
    uint32_t vcpus, sig = 0;
    uint64_t guest_features = 1; /* sev-snp-measure's default: SNPActive */
    const char *cpu_model = NULL;
    if (!parse_u32(vcpus_s, &vcpus))
        return usage_error("--vcpus needs a number");
    uint32_t vmm = strcmp(vmm_s, "ec2") == 0   ? LIBSEV_VMM_EC2
                   : strcmp(vmm_s, "gce") == 0 ? LIBSEV_VMM_GCE
                                               : LIBSEV_VMM_QEMU;
    if (snp && features && !parse_u64(features, &guest_features))
        return usage_error("--guest-features needs a number");
    int rc = vcpu_model(vfam, vmodel, vstep, vsig, vtype, vmm == LIBSEV_VMM_QEMU,
                        snp ? "snp" : "seves", &sig, &cpu_model);
    if (rc != EXIT_OK)
        return rc;
    blob img = {0}, k = {0}, ird = {0};
    rc = EXIT_USAGE;
    if (!map_file(ovmf, &img) || (kernel && !map_file(kernel, &k)) || (initrd && !map_file(initrd, &ird)))
        goto out;
    uint8_t ld[48];
    size_t ld_len = 32;
    libsev_error err;
    uint32_t st = LIBSEV_STATUS_INTERNAL;
    if (!snp) {
        libsev_es_launch l = {
            .ovmf = img.data, .ovmf_len = img.len, .direct_boot = kernel != NULL,
            .kernel = k.data, .kernel_len = k.len, .initrd = ird.data, .initrd_len = ird.len,
            .cmdline = kernel ? append : NULL, .vcpus = vcpus, .vcpu_signature = sig,
            .cpu_model = cpu_model, .vmm = vmm,
            .init = strcmp(vmsa_init, "es-init") == 0 ? LIBSEV_ES_PROFILE_ES_INIT
                                                       : LIBSEV_ES_PROFILE_INIT2,
        };
        st = libsev_es_launch_digest(&l, ld, &err);
    } else {
#ifdef LIBSEV_SNP_DIGEST_LEN
        libsev_snp_measure m = {
            .ovmf = img.data, .ovmf_len = img.len, .direct_boot = kernel != NULL,
            .kernel = k.data, .kernel_len = k.len, .initrd = ird.data, .initrd_len = ird.len,
            .cmdline = kernel ? append : NULL, .vcpus = vcpus, .vcpu_signature = sig,
            .cpu_model = cpu_model, .vmm = vmm, .guest_features = guest_features,
        };
        st = libsev_snp_expected_measurement(&m, ld, &err);
        ld_len = LIBSEV_SNP_DIGEST_LEN;
        if (st == LIBSEV_STATUS_BAD_FIRMWARE_IMAGE && kernel) {
            msg("%s: %s", ovmf, err.message);
            rc = EXIT_REFUSED;
            goto out;
        }
#endif
    }
    if (st != LIBSEV_STATUS_OK) {
        rc = lib_fail(snp ? "computing the SEV-SNP launch digest" : "computing the SEV-ES launch digest",
                      st, &err);
        goto out;
    }
    if (verbose)
        fputs(snp ? "Calculated SNP guest measurement: " : "Calculated SEV_ES guest measurement: ",
              stdout);
    print_encoded(ld, ld_len, b64);
    rc = EXIT_OK;
out:
    blob_free(&img);
    blob_free(&k);
    blob_free(&ird);
    return rc;
}
#endif

int cmd_measure(int argc, char **argv) {
    const char *mode = NULL, *ovmf = NULL, *kernel = NULL, *initrd = NULL, *append = NULL;
    const char *vcpus_s = NULL, *vtype = NULL, *vsig = NULL, *vfam = NULL, *vmodel = NULL;
    const char *vstep = NULL, *vmm = "QEMU", *features = NULL, *outfmt = "hex";
    const char *vmsa_init = "init2";
    bool verbose = false;
    const opt_spec opts[] = {
        OPT_FLAG("-v", &verbose),               OPT_FLAG("--verbose", &verbose),
        OPT_VAL("--mode", &mode),               OPT_VAL("--ovmf", &ovmf),
        OPT_VAL("--kernel", &kernel),           OPT_VAL("--initrd", &initrd),
        OPT_VAL("--append", &append),           OPT_VAL("--vcpus", &vcpus_s),
        OPT_VAL("--vcpu-type", &vtype),         OPT_VAL("--vcpu-sig", &vsig),
        OPT_VAL("--vcpu-family", &vfam),        OPT_VAL("--vcpu-model", &vmodel),
        OPT_VAL("--vcpu-stepping", &vstep),     OPT_VAL("--vmm-type", &vmm),
        OPT_VAL("--guest-features", &features), OPT_VAL("--output-format", &outfmt),
        OPT_VAL("--vmsa-init", &vmsa_init),     OPTS_END,
    };
    int prc = parse_opts(argc, argv, opts, measure_help, NULL, NULL);
    if (prc != OPTS_PARSED)
        return prc;
    /* The same checks as sev-snp-measure, in its order. */
    if (!mode)
        return usage_error("--mode is required (sev, seves or snp)");
    if (!ovmf)
        return usage_error("--ovmf is required");
    if (strcmp(mode, "sev") && strcmp(mode, "seves") && strcmp(mode, "snp"))
        return usage_error("--mode must be sev, seves or snp, not '%s'", mode);
    if (initrd && !kernel)
        return usage_error("--kernel required when using --initrd");
    if (append && !kernel)
        return usage_error("--kernel required when using --append");
    uint32_t n32;
    uint64_t n64;
    if (strcmp(mode, "sev") != 0 && !vcpus_s)
        return usage_error("missing --vcpus N in guest mode '%s'", mode);
    if (vcpus_s && (!parse_u32(vcpus_s, &n32) || n32 == 0))
        return usage_error("--vcpus needs a positive number");
    if (strcmp(vmm, "QEMU") && strcmp(vmm, "ec2") && strcmp(vmm, "gce"))
        return usage_error("unknown VMM type '%s' (QEMU, ec2 or gce)", vmm);
    if ((vsig && !parse_u32(vsig, &n32)) || (features && !parse_u64(features, &n64)))
        return usage_error("--vcpu-sig and --guest-features need numbers");
    if ((vfam || vmodel || vstep) && !(vfam && vmodel && vstep))
        return usage_error("--vcpu-family, --vcpu-model and --vcpu-stepping go together");
    bool b64;
    if (strcmp(outfmt, "hex") == 0)
        b64 = false;
    else if (strcmp(outfmt, "base64") == 0)
        b64 = true;
    else
        return usage_error("--output-format must be hex or base64");
    if (strcmp(vmsa_init, "init2") && strcmp(vmsa_init, "es-init"))
        return usage_error("--vmsa-init must be init2 or es-init");
#ifdef LIBSEV_ES_PROFILE_ES_INIT
    if (strcmp(mode, "seves") == 0)
        return measure_guest(false, ovmf, kernel, initrd, append, vcpus_s, vtype, vsig, vfam, vmodel,
                             vstep, vmm, features, vmsa_init, verbose, b64);
#endif
#ifdef LIBSEV_SNP_DIGEST_LEN
    if (strcmp(mode, "snp") == 0)
        return measure_guest(true, ovmf, kernel, initrd, append, vcpus_s, vtype, vsig, vfam, vmodel,
                             vstep, vmm, features, vmsa_init, verbose, b64);
#endif
    if (strcmp(mode, "sev") != 0) {
        msg("mode '%s' (%s) is not supported by libsev %s yet: it computes the legacy SEV"
#ifdef LIBSEV_ES_PROFILE_ES_INIT
            " and SEV-ES launch digests only (--mode sev, seves)",
#else
            " launch digest only (--mode sev)",
#endif
            mode, strcmp(mode, "seves") == 0 ? "SEV-ES" : "SEV-SNP", libsev_version());
        return EXIT_USAGE;
    }

    blob img;
    if (!map_file(ovmf, &img))
        return EXIT_USAGE;
    int rc = EXIT_OK;
    libsev_launch_digest *d = NULL;
    libsev_error err;
    uint8_t ld[32], table[176];
    uint32_t st = libsev_launch_digest_new(&d, &err);
    if (!st)
        st = libsev_launch_digest_update(d, img.data, img.len, &err);
    if (st) {
        rc = lib_fail("computing the launch digest", st, &err);
        goto out;
    }
    if (kernel) {
        if (!has_hashes_table(img.data, img.len)) {
            msg("%s has no SEV hashes table (footer entry %s): this firmware does not verify the "
                "kernel, initrd and command line, so QEMU cannot measure them",
                ovmf, HASH_TABLE_RV_GUID);
            rc = EXIT_REFUSED;
            goto out;
        }
        if ((rc = hashes_table(kernel, initrd, append, table)) != EXIT_OK)
            goto out;
        if ((st = libsev_launch_digest_update(d, table, sizeof table, &err))) {
            rc = lib_fail("computing the launch digest", st, &err);
            goto out;
        }
    }
    if ((st = libsev_launch_digest_value(d, ld, &err))) {
        rc = lib_fail("computing the launch digest", st, &err);
        goto out;
    }
    if (verbose)
        fputs("Calculated SEV guest measurement: ", stdout);
    print_encoded(ld, sizeof ld, b64);
out:
    libsev_launch_digest_free(d);
    blob_free(&img);
    return rc;
}
