/*
 * `make demo-es`: an SEV-ES launch the way QEMU does it, on the firmware model, with Debian's
 * OVMF and real vCPUs on this host's /dev/kvm (no SEV needed). The guest owner checks the
 * measurement from its own copy of the inputs, then sends a secret.
 *
 * Hypervisor: KVM_CREATE_VM → libsev_guest_attach → KVM_SEV_ES_INIT → LAUNCH_START (SEV-ES
 * policy) → OVMF into guest RAM, LAUNCH_UPDATE_DATA → KVM_CREATE_VCPU ×N with QEMU's reset
 * registers (libsev_vcpu_set_reset_state: the APs start at OVMF's SEV-ES reset block) →
 * libsev_guest_add_vcpu ×N → LAUNCH_UPDATE_VMSA → LAUNCH_MEASURE.
 * Owner: libsev_owner_session_verify_es_launch (image, N, CPU model, QEMU, ES_INIT profile).
 * Exit 0 = OK, 77 = skipped (no /dev/kvm or no OVMF; says why), else failure.
 */
#include <libsev.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define NVCPU 4
#define CPU_MODEL "EPYC-v4"

static libsev_error err;

static void die(const char *what) {
    fprintf(stderr, "demo-es: %s failed: %s (status %u)\n", what, err.message,
            (unsigned)err.status);
    exit(1);
}
#define TRY(call, what)                       \
    do {                                      \
        if ((call) != LIBSEV_STATUS_OK)       \
            die(what);                        \
    } while (0)

static uint8_t *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long n;
    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n)) != NULL && fread(buf, 1, (size_t)n, f) == (size_t)n) {
        *len = (size_t)n;
    } else {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

static void hex8(const uint8_t *p) {
    int i;
    for (i = 0; i < 8; i++)
        printf("%02x", p[i]);
}

int main(void) {
    const char *path = "/usr/share/OVMF/OVMF_CODE.fd";
    libsev_model_config cfg;
    libsev_platform *plat = NULL;
    libsev_platform_status_info ps;
    libsev_owner_session *s = NULL;
    libsev_guest *g = NULL;
    libsev_ovmf_info info;
    libsev_es_launch l;
    uint8_t *ovmf, *ram, *pdh, *chain;
    uint8_t godh[LIBSEV_GODH_CERT_LEN], blob[LIBSEV_SESSION_BLOB_LEN];
    uint8_t m[LIBSEV_MEASUREMENT_LEN], digest[32], back[64];
    uint8_t secret[64], hdr[LIBSEV_SECRET_HEADER_LEN], trans[64];
    uint32_t sig = 0, handle = 0;
    size_t len = 0, n = 0, a = 0, b = 0;
    int kvm, vm, vcpu[NVCPU], i;

    kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0) {
        printf("demo-es: SKIP: /dev/kvm cannot be opened (%s); the demo creates real vCPUs\n",
               strerror(errno));
        return 77;
    }
    ovmf = read_file(path, &len);
    if (ovmf == NULL) {
        printf("demo-es: SKIP: %s is missing (install Debian's ovmf package)\n", path);
        close(kvm);
        return 77;
    }
    printf("libsev %s demo-es: an SEV-ES launch on the firmware model, %d vCPUs on /dev/kvm\n",
           libsev_version(), NVCPU);

    /* The platform (the model) and the owner's session. */
    TRY(libsev_model_config_init(&cfg), "model config");
    TRY(libsev_platform_new_emulated(&cfg, &plat, &err), "platform");
    TRY(libsev_platform_pek_gen(plat, &err), "PEK_GEN");
    TRY(libsev_platform_status(plat, &ps, &err), "PLATFORM_STATUS");
    pdh = malloc(LIBSEV_SEV_CERT_LEN);
    chain = malloc(LIBSEV_CERT_CHAIN_LEN);
    if (pdh == NULL || chain == NULL)
        return 1;
    TRY(libsev_platform_pdh_cert_export(plat, pdh, LIBSEV_SEV_CERT_LEN, &a, chain,
                                        LIBSEV_CERT_CHAIN_LEN, &b, &err),
        "PDH_CERT_EXPORT");
    TRY(libsev_owner_session_new(pdh, LIBSEV_SEV_CERT_LEN, LIBSEV_POLICY_ES, &s, &err),
        "owner session");
    TRY(libsev_owner_session_godh(s, godh, sizeof godh, &n, &err), "GODH");
    TRY(libsev_owner_session_blob(s, blob, sizeof blob, &n, &err), "session blob");

    /* The firmware image. */
    TRY(libsev_ovmf_info_get(ovmf, len, &info, &err), "OVMF tables");
    printf("firmware: %s, %zu bytes at GPA 0x%llx; SEV-ES AP reset block 0x%x; %u SEV "
           "metadata sections\n",
           path, len, (unsigned long long)info.gpa, info.sev_es_reset_addr,
           info.metadata_sections);

    /* The hypervisor: its own KVM VM, attached to libsev. */
    vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0) {
        perror("KVM_CREATE_VM");
        return 1;
    }
    TRY(libsev_guest_attach(plat, vm, &g, &err), "attach");
    TRY(libsev_guest_es_init(g, &err), "KVM_SEV_ES_INIT");
    TRY(libsev_guest_launch_start(g, LIBSEV_POLICY_ES, 0, godh, sizeof godh, blob, sizeof blob,
                                  &handle, &err),
        "LAUNCH_START");
    ram = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ram == MAP_FAILED)
        return 1;
    memcpy(ram, ovmf, len);
    TRY(libsev_guest_register_region(g, ram, len, &err), "REG_REGION");
    TRY(libsev_guest_launch_update_data(g, ram, len, &err), "LAUNCH_UPDATE_DATA");
    printf("launch:   KVM_SEV_ES_INIT; LAUNCH_START policy 0x%x (SEV-ES), handle %u; "
           "LAUNCH_UPDATE_DATA %zu KiB of OVMF\n",
           (unsigned)LIBSEV_POLICY_ES, (unsigned)handle, len / 1024);

    TRY(libsev_cpu_model_signature(CPU_MODEL, &sig, &err), "CPU model");
    for (i = 0; i < NVCPU; i++) {
        vcpu[i] = ioctl(vm, KVM_CREATE_VCPU, i);
        if (vcpu[i] < 0) {
            perror("KVM_CREATE_VCPU");
            return 1;
        }
        TRY(libsev_vcpu_set_reset_state(vcpu[i], LIBSEV_VMM_QEMU, sig, (uint32_t)i,
                                        info.sev_es_reset_addr, &err),
            "reset registers");
        TRY(libsev_guest_add_vcpu(g, vcpu[i], &err), "add vCPU");
    }
    TRY(libsev_guest_launch_update_vmsa(g, &err), "LAUNCH_UPDATE_VMSA");
    printf("vcpus:    %d KVM vCPUs, QEMU reset state (%s, RDX 0x%x; APs at CS.base 0x%x "
           "IP 0x%x); LAUNCH_UPDATE_VMSA encrypted %d VMSAs\n",
           NVCPU, CPU_MODEL, sig, info.sev_es_reset_addr & 0xffff0000u,
           info.sev_es_reset_addr & 0xffffu, NVCPU);
    TRY(libsev_guest_launch_measure(g, m, sizeof m, &n, &err), "LAUNCH_MEASURE");

    /* The owner, from its own copy of the inputs. */
    memset(&l, 0, sizeof l);
    l.ovmf = ovmf;
    l.ovmf_len = len;
    l.vcpus = NVCPU;
    l.cpu_model = CPU_MODEL;
    l.vmm = LIBSEV_VMM_QEMU;
    l.init = LIBSEV_ES_PROFILE_ES_INIT;
    TRY(libsev_es_launch_digest(&l, digest, &err), "expected digest");
    /* An owner who assumes another vCPU count refuses the launch, naming what it assumed. */
    l.vcpus = NVCPU + 1;
    if (libsev_owner_session_verify_es_launch(s, &l, ps.api_major, ps.api_minor, ps.build, m,
                                              NULL, &err) != LIBSEV_STATUS_MEASUREMENT_MISMATCH) {
        fprintf(stderr, "demo-es: a wrong vCPU count was not refused: %s\n", err.message);
        return 1;
    }
    printf("attack:   an owner assuming %d vCPUs refuses it: %.200s\n", NVCPU + 1,
           err.message);
    l.vcpus = NVCPU;
    TRY(libsev_owner_session_verify_es_launch(s, &l, ps.api_major, ps.api_minor, ps.build, m,
                                              NULL, &err),
        "owner verification");
    printf("measure:  LAUNCH_MEASURE ");
    hex8(m);
    printf("... verified by the owner (expected SEV-ES launch digest ");
    hex8(digest);
    printf("...: OVMF + %d VMSAs, KVM_SEV_ES_INIT profile)\n", NVCPU);
    memset(secret, 0, sizeof secret);
    snprintf((char *)secret, sizeof secret, "disk-key=5e5e0e5a7c1d; owner=demo-es");
    TRY(libsev_owner_session_package_secret(s, secret, sizeof secret, 0, hdr, trans,
                                            sizeof trans, &n, &err),
        "package secret");
    TRY(libsev_guest_launch_secret(g, hdr, sizeof hdr, ram + 4096, n, trans, n, &err),
        "LAUNCH_SECRET");
    TRY(libsev_guest_dbg_decrypt(g, ram + 4096, back, sizeof back, &err), "DBG_DECRYPT");
    if (memcmp(back, secret, sizeof secret) != 0) {
        fprintf(stderr, "demo-es: the secret did not arrive\n");
        return 1;
    }
    printf("secret:   LAUNCH_SECRET %zu bytes; the guest reads back \"%s\"\n", n,
           (const char *)back);
    TRY(libsev_guest_launch_finish(g, &err), "LAUNCH_FINISH");
    printf("finish:   LAUNCH_FINISH; guest RUNNING\nOK\n");

    TRY(libsev_guest_unregister_region(g, ram, len, &err), "UNREG_REGION");
    libsev_guest_free(g);
    libsev_owner_session_free(s);
    libsev_platform_free(plat);
    for (i = 0; i < NVCPU; i++)
        close(vcpu[i]);
    close(vm);
    close(kvm);
    munmap(ram, len);
    free(ovmf);
    free(pdh);
    free(chain);
    return 0;
}
