/*
 * An SEV-ES launch from C on the firmware model, the way a hypervisor does it on KVM:
 *  1. Debian's OVMF (OVMF_CODE.fd, OVMF_CODE_4M.fd) is loaded into guest RAM and measured;
 *     N vCPUs are created on a real KVM VM (this host's /dev/kvm, no SEV needed) and given
 *     QEMU's reset registers with plain KVM ioctls (the APs at OVMF's SEV-ES reset block);
 *     their fds go to libsev_guest_add_vcpu; LAUNCH_UPDATE_VMSA; LAUNCH_MEASURE.
 *  2. The guest owner computes the expected SEV-ES launch independently from its own copy of
 *     the inputs and verifies the measurement; a wrong vCPU count or CPU model is a mismatch
 *     whose message names the inputs; then a secret is injected and read back.
 *  3. Refusals: a second LAUNCH_UPDATE_VMSA, the ES policy without KVM_SEV_ES_INIT and the
 *     reverse, VMSAs before the data (accepted by the firmware, refused by the owner's check),
 *     an image without OVMF's tables, a direct boot with an image without a hash-table area.
 *  4. The kernel-hashes helper on the reference OVMF fixture gives the table the owner's
 *     digest assumes.
 * Skips (exit 77) saying why when /dev/kvm or Debian's OVMF is missing.
 */
#include "test_util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define NVCPU 4
#define EPYC_V4 "EPYC-v4"

static libsev_error err;
static libsev_platform *plat;
static uint8_t *pdh, *chain;
static libsev_platform_status_info ps;
static int kvm_fd = -1;

static uint8_t *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long n;
    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return NULL;
    }
    buf = malloc((size_t)n);
    if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* A real KVM VM with NVCPU vCPUs set to QEMU's SEV-ES reset state. */
struct kvm_guest {
    int vm;
    int vcpu[NVCPU];
};

static void set_reset_registers(int fd, int index, uint32_t sig, uint32_t ap_reset) {
    struct kvm_regs regs;
    struct kvm_sregs sregs;
    if (ioctl(fd, KVM_GET_SREGS, &sregs) != 0 || ioctl(fd, KVM_GET_REGS, &regs) != 0) {
        perror("KVM_GET_(S)REGS");
        exit(1);
    }
    /* KVM's reset state is the architectural one; QEMU sets RDX to the CPU model's
     * signature and, for SEV-ES, starts the APs at OVMF's reset block. */
    regs.rdx = sig;
    if (index != 0) {
        sregs.cs.selector = 0xf000;
        sregs.cs.base = ap_reset & 0xffff0000u;
        sregs.cs.limit = 0xffff;
        sregs.cs.type = 0xb;
        sregs.cs.present = 1;
        sregs.cs.s = 1;
        regs.rip = ap_reset & 0xffffu;
    }
    if (ioctl(fd, KVM_SET_SREGS, &sregs) != 0 || ioctl(fd, KVM_SET_REGS, &regs) != 0) {
        perror("KVM_SET_(S)REGS");
        exit(1);
    }
}

static void kvm_guest_new(struct kvm_guest *k, uint32_t sig, uint32_t ap_reset) {
    int i;
    k->vm = ioctl(kvm_fd, KVM_CREATE_VM, 0);
    if (k->vm < 0) {
        perror("KVM_CREATE_VM");
        exit(1);
    }
    for (i = 0; i < NVCPU; i++) {
        k->vcpu[i] = ioctl(k->vm, KVM_CREATE_VCPU, i);
        if (k->vcpu[i] < 0) {
            perror("KVM_CREATE_VCPU");
            exit(1);
        }
        set_reset_registers(k->vcpu[i], i, sig, ap_reset);
    }
}

static void kvm_guest_free(struct kvm_guest *k) {
    int i;
    for (i = 0; i < NVCPU; i++)
        close(k->vcpu[i]);
    close(k->vm);
}

static void launch_inputs(libsev_es_launch *l, const uint8_t *ovmf, size_t len, uint32_t n,
                          const char *model) {
    memset(l, 0, sizeof *l);
    l->ovmf = ovmf;
    l->ovmf_len = len;
    l->vcpus = n;
    l->cpu_model = model;
    l->vmm = LIBSEV_VMM_QEMU;
    l->init = LIBSEV_ES_PROFILE_ES_INIT;
}

/* The whole launch with an owner session, for one OVMF image. */
static void owner_verified_launch(const char *path, const uint8_t *ovmf, size_t len) {
    libsev_owner_session *s = NULL;
    libsev_guest *g = NULL;
    libsev_ovmf_info info;
    libsev_es_launch l;
    struct kvm_guest k;
    uint8_t godh[LIBSEV_GODH_CERT_LEN], blob[LIBSEV_SESSION_BLOB_LEN];
    uint8_t m[LIBSEV_MEASUREMENT_LEN], expected[32], digest[32];
    uint8_t secret[32], hdr[LIBSEV_SECRET_HEADER_LEN], trans[32], back[32];
    uint8_t *ram = map_ram(len);
    uint32_t sig = 0, handle = 0;
    size_t n = 0;
    int i;

    printf("es_launch: %s (%zu bytes), %d vCPUs on /dev/kvm\n", path, len, NVCPU);
    MUST_E(err, libsev_ovmf_info_get(ovmf, len, &info, &err));
    CHECK(info.sev_es_reset_addr != 0 && info.gpa == 0x100000000ull - len);
    MUST_E(err, libsev_cpu_model_signature(EPYC_V4, &sig, &err));
    CHECK(sig == 0x00800f12u);
    kvm_guest_new(&k, sig, info.sev_es_reset_addr);

    MUST_E(err, libsev_owner_session_new(pdh, LIBSEV_SEV_CERT_LEN, LIBSEV_POLICY_ES, &s, &err));
    MUST_E(err, libsev_owner_session_godh(s, godh, sizeof godh, &n, &err));
    MUST_E(err, libsev_owner_session_blob(s, blob, sizeof blob, &n, &err));

    /* The hypervisor: the same calls as on KVM. */
    MUST_E(err, libsev_guest_attach(plat, k.vm, &g, &err));
    MUST_E(err, libsev_guest_es_init(g, &err));
    MUST_E(err, libsev_guest_launch_start(g, LIBSEV_POLICY_ES, 0, godh, sizeof godh, blob,
                                          sizeof blob, &handle, &err));
    MUST_E(err, libsev_guest_register_region(g, ram, len, &err));
    memcpy(ram, ovmf, len);
    MUST_E(err, libsev_guest_launch_update_data(g, ram, len, &err));
    for (i = 0; i < NVCPU; i++)
        MUST_E(err, libsev_guest_add_vcpu(g, k.vcpu[i], &err));
    CHECK_ST_E(err, libsev_guest_add_vcpu(g, k.vcpu[0], &err), LIBSEV_STATUS_INVALID_ARGUMENT);
    MUST_E(err, libsev_guest_launch_update_vmsa(g, &err));
    /* A second LAUNCH_UPDATE_VMSA: the vCPUs' state is protected already. */
    CHECK_ST_E(err, libsev_guest_launch_update_vmsa(g, &err), LIBSEV_STATUS_KERNEL_REJECTED);
    CHECK(err.os_errno == EINVAL);
    MUST_E(err, libsev_guest_launch_measure(g, m, sizeof m, &n, &err));

    /* The owner, from its own copy: wrong count and wrong model are mismatches that say so. */
    launch_inputs(&l, ovmf, len, NVCPU - 1, EPYC_V4);
    CHECK_ST_E(err,
               libsev_owner_session_verify_es_launch(s, &l, ps.api_major, ps.api_minor,
                                                     ps.build, m, expected, &err),
               LIBSEV_STATUS_MEASUREMENT_MISMATCH);
    CHECK(strstr(err.message, "3 vCPU(s)") != NULL && strstr(err.message, "0x00800f12"));
    launch_inputs(&l, ovmf, len, NVCPU, "EPYC-Milan");
    CHECK_ST_E(err,
               libsev_owner_session_verify_es_launch(s, &l, ps.api_major, ps.api_minor,
                                                     ps.build, m, expected, &err),
               LIBSEV_STATUS_MEASUREMENT_MISMATCH);
    CHECK(strstr(err.message, "0x00a00f11") != NULL && strstr(err.message, "4 vCPU(s)"));
    printf("es_launch:   wrong model refused: %.120s...\n", err.message);
    launch_inputs(&l, ovmf, len, NVCPU, EPYC_V4);
    CHECK_ST_E(err,
               libsev_owner_session_verify_es_launch(s, &l, ps.api_major, ps.api_minor,
                                                     ps.build, m, expected, &err),
               LIBSEV_STATUS_OK);
    CHECK(memcmp(expected, m, 32) == 0);
    MUST_E(err, libsev_es_launch_digest(&l, digest, &err));
    printf("es_launch:   launch digest %02x%02x%02x%02x... verified by the owner\n", digest[0],
           digest[1], digest[2], digest[3]);

    /* The secret, read back through DBG_DECRYPT (the policy allows debugging). */
    memset(secret, 0, sizeof secret);
    snprintf((char *)secret, sizeof secret, "es secret %d vcpus", NVCPU);
    MUST_E(err, libsev_owner_session_package_secret(s, secret, sizeof secret, 0, hdr, trans,
                                                    sizeof trans, &n, &err));
    MUST_E(err, libsev_guest_launch_secret(g, hdr, sizeof hdr, ram + 4096, n, trans, n, &err));
    CHECK(memcmp(ram + 4096, secret, sizeof secret) != 0);
    MUST_E(err, libsev_guest_dbg_decrypt(g, ram + 4096, back, sizeof back, &err));
    CHECK(memcmp(back, secret, sizeof secret) == 0);
    MUST_E(err, libsev_guest_launch_finish(g, &err));
    CHECK(guest_state(g, &err) == ST_RUNNING);
    MUST_E(err, libsev_guest_unregister_region(g, ram, len, &err));
    libsev_guest_free(g);
    libsev_owner_session_free(s);
    kvm_guest_free(&k);
    munmap(ram, len);
}

static void refusals(const uint8_t *ovmf, size_t len) {
    libsev_owner_session *s = NULL;
    libsev_guest *g = NULL;
    libsev_ovmf_info info;
    libsev_es_launch l;
    struct kvm_guest k;
    uint8_t godh[LIBSEV_GODH_CERT_LEN], blob[LIBSEV_SESSION_BLOB_LEN];
    uint8_t m[LIBSEV_MEASUREMENT_LEN], digest[32], junk[8192], table[LIBSEV_ES_HASH_TABLE_LEN];
    uint8_t *ram = map_ram(len);
    uint32_t handle = 0;
    uint64_t gpa = 0;
    size_t n = 0;
    int i;

    printf("es_launch: refusals\n");
    MUST_E(err, libsev_ovmf_info_get(ovmf, len, &info, &err));
    /* ES policy without KVM_SEV_ES_INIT, and the reverse: the ASID is of the wrong kind. */
    MUST_E(err, libsev_guest_new(plat, &g, &err));
    MUST_E(err, libsev_guest_init(g, &err));
    CHECK_ST_E(err, libsev_guest_launch_start(g, LIBSEV_POLICY_ES, 0, NULL, 0, NULL, 0, &handle,
                                              &err),
               LIBSEV_STATUS_FW_INVALID_ASID);
    CHECK_ST_E(err, libsev_guest_launch_update_vmsa(g, &err), LIBSEV_STATUS_NO_SEV_SUPPORT);
    libsev_guest_free(g);
    MUST_E(err, libsev_guest_new(plat, &g, &err));
    MUST_E(err, libsev_guest_es_init(g, &err));
    CHECK_ST_E(err, libsev_guest_launch_start(g, 0, 0, NULL, 0, NULL, 0, &handle, &err),
               LIBSEV_STATUS_FW_INVALID_ASID);
    libsev_guest_free(g);

    /* VMSAs before the data: the firmware measures them first; the owner's check fails. */
    kvm_guest_new(&k, 0x00800f12u, info.sev_es_reset_addr);
    MUST_E(err, libsev_owner_session_new(pdh, LIBSEV_SEV_CERT_LEN, LIBSEV_POLICY_ES, &s, &err));
    MUST_E(err, libsev_owner_session_godh(s, godh, sizeof godh, &n, &err));
    MUST_E(err, libsev_owner_session_blob(s, blob, sizeof blob, &n, &err));
    MUST_E(err, libsev_guest_attach(plat, k.vm, &g, &err));
    MUST_E(err, libsev_guest_es_init(g, &err));
    MUST_E(err, libsev_guest_launch_start(g, LIBSEV_POLICY_ES, 0, godh, sizeof godh, blob,
                                          sizeof blob, &handle, &err));
    for (i = 0; i < NVCPU; i++)
        MUST_E(err, libsev_guest_add_vcpu(g, k.vcpu[i], &err));
    MUST_E(err, libsev_guest_launch_update_vmsa(g, &err));
    memcpy(ram, ovmf, len);
    MUST_E(err, libsev_guest_launch_update_data(g, ram, len, &err));
    MUST_E(err, libsev_guest_launch_measure(g, m, sizeof m, &n, &err));
    launch_inputs(&l, ovmf, len, NVCPU, EPYC_V4);
    CHECK_ST_E(err,
               libsev_owner_session_verify_es_launch(s, &l, ps.api_major, ps.api_minor,
                                                     ps.build, m, NULL, &err),
               LIBSEV_STATUS_MEASUREMENT_MISMATCH);
    libsev_guest_free(g);
    libsev_owner_session_free(s);
    kvm_guest_free(&k);

    /* Not a vCPU; not open. */
    MUST_E(err, libsev_guest_new(plat, &g, &err));
    CHECK_ST_E(err, libsev_guest_add_vcpu(g, kvm_fd, &err), LIBSEV_STATUS_INVALID_ARGUMENT);
    CHECK_ST_E(err, libsev_guest_add_vcpu(g, 1000000, &err), LIBSEV_STATUS_BAD_FD);
    CHECK_ST_E(err, libsev_guest_add_vcpu(NULL, 0, &err), LIBSEV_STATUS_NULL_ARGUMENT);
    libsev_guest_free(g);

    /* Images without OVMF's tables; a direct boot the image cannot measure. */
    fill_image(junk, sizeof junk, 7);
    launch_inputs(&l, junk, sizeof junk, 1, EPYC_V4);
    memset(digest, 0xee, sizeof digest);
    CHECK_ST_E(err, libsev_es_launch_digest(&l, digest, &err), LIBSEV_STATUS_BAD_FIRMWARE_IMAGE);
    CHECK(strstr(err.message, "footer table") != NULL && all_bytes(digest, 32, 0xee));
    CHECK_ST_E(err, libsev_ovmf_info_get(junk, sizeof junk, &info, &err),
               LIBSEV_STATUS_BAD_FIRMWARE_IMAGE);
    launch_inputs(&l, ovmf, len, 1, EPYC_V4);
    l.direct_boot = 1;
    l.cmdline = "console=ttyS0";
    CHECK_ST_E(err, libsev_es_launch_digest(&l, digest, &err), LIBSEV_STATUS_BAD_FIRMWARE_IMAGE);
    CHECK(strstr(err.message, "measured direct boot") != NULL);
    CHECK_ST_E(err,
               libsev_es_hash_table(ovmf, len, NULL, 0, NULL, 0, NULL, table, sizeof table, &n,
                                    &gpa, &err),
               LIBSEV_STATUS_BAD_FIRMWARE_IMAGE);
    launch_inputs(&l, ovmf, len, 0, EPYC_V4);
    CHECK_ST_E(err, libsev_es_launch_digest(&l, digest, &err), LIBSEV_STATUS_INVALID_ARGUMENT);
    launch_inputs(&l, ovmf, len, 1, "Skylake");
    CHECK_ST_E(err, libsev_es_launch_digest(&l, digest, &err), LIBSEV_STATUS_INVALID_ARGUMENT);
    munmap(ram, len);
}

/* The hashes helper on the reference AmdSev fixture; the owner's digest agrees. */
static void direct_boot_fixture(void) {
    const char *dir = getenv("LIBSEV_TESTDATA");
    char path[4096];
    uint8_t *img, table[LIBSEV_ES_HASH_TABLE_LEN], d1[32], d2[32];
    size_t len = 0, n = 0;
    uint64_t gpa = 0;
    libsev_es_launch l;
    static const uint8_t kernel[] = "a kernel", initrd[] = "an initrd";

    if (dir == NULL) {
        printf("es_launch: LIBSEV_TESTDATA unset, direct-boot fixture part skipped\n");
        return;
    }
    snprintf(path, sizeof path, "%s/../snp/measurement/ovmf_AmdSev_suffix.bin", dir);
    img = read_file(path, &len);
    if (img == NULL) {
        printf("es_launch: %s missing, direct-boot fixture part skipped\n", path);
        return;
    }
    printf("es_launch: kernel-hashes table on the reference AmdSev fixture\n");
    CHECK_ST_E(err,
               libsev_es_hash_table(img, len, kernel, sizeof kernel, initrd, sizeof initrd,
                                    "console=ttyS0", NULL, 0, &n, &gpa, &err),
               LIBSEV_STATUS_BUFFER_TOO_SMALL);
    CHECK(n == LIBSEV_ES_HASH_TABLE_LEN);
    MUST_E(err, libsev_es_hash_table(img, len, kernel, sizeof kernel, initrd, sizeof initrd,
                                     "console=ttyS0", table, sizeof table, &n, &gpa, &err));
    CHECK(gpa == 0x810c00u && table[16] == 0xa8 && table[17] == 0);
    /* The owner's digest with direct boot = SHA-256(image || table || VMSA): compare two
     * owner computations that differ only in the command line. */
    launch_inputs(&l, img, len, 2, EPYC_V4);
    l.direct_boot = 1;
    l.kernel = kernel;
    l.kernel_len = sizeof kernel;
    l.initrd = initrd;
    l.initrd_len = sizeof initrd;
    l.cmdline = "console=ttyS0";
    MUST_E(err, libsev_es_launch_digest(&l, d1, &err));
    l.cmdline = "console=ttyS1";
    MUST_E(err, libsev_es_launch_digest(&l, d2, &err));
    CHECK(memcmp(d1, d2, 32) != 0);
    free(img);
}

int main(void) {
    static const char *images[] = {"/usr/share/OVMF/OVMF_CODE.fd",
                                   "/usr/share/OVMF/OVMF_CODE_4M.fd"};
    int i, seen = 0, valgrind = getenv("LIBSEV_UNDER_VALGRIND") != NULL;
    uint8_t *first = NULL;
    size_t first_len = 0;

    kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm_fd < 0) {
        printf("es_launch: SKIP: /dev/kvm cannot be opened (%s); the test creates real vCPUs\n",
               strerror(errno));
        return 77;
    }
    plat = model_platform(0x31, &err);
    MUST_E(err, libsev_platform_pek_gen(plat, &err));
    MUST_E(err, libsev_platform_status(plat, &ps, &err));
    export_pdh(plat, &pdh, &chain, &err);

    for (i = 0; i < 2; i++) {
        size_t len = 0;
        uint8_t *img = read_file(images[i], &len);
        if (img == NULL) {
            printf("es_launch: %s not installed (Debian package ovmf)\n", images[i]);
            continue;
        }
        if (!(valgrind && seen > 0))
            owner_verified_launch(images[i], img, len);
        seen++;
        if (first == NULL) {
            first = img;
            first_len = len;
        } else {
            free(img);
        }
    }
    if (seen == 0) {
        printf("es_launch: SKIP: no Debian OVMF image under /usr/share/OVMF (package ovmf)\n");
        libsev_platform_free(plat);
        free(pdh);
        free(chain);
        close(kvm_fd);
        return 77;
    }
    refusals(first, first_len);
    direct_boot_fixture();
    free(first);
    libsev_platform_free(plat);
    free(pdh);
    free(chain);
    close(kvm_fd);
    if (failures) {
        fprintf(stderr, "es_launch: %d check(s) failed\n", failures);
        return 1;
    }
    printf("es_launch: OK\n");
    return 0;
}
