/*
 * The platform and guest C API basics, and the real KVM path of this host.
 *
 *  - version and status strings; NULL arguments give LIBSEV_STATUS_NULL_ARGUMENT, never a crash;
 *  - LIBSEV_PLATFORM selection (garbage is refused with a message naming the variable; no
 *    silent fallback to the model when /dev/sev is missing);
 *  - the buffer rule on the firmware model (NULL and short buffers: size in *out_len,
 *    nothing written, no state change for LAUNCH_MEASURE);
 *  - libsev_probe and libsev_has_feature;
 *  - real KVM: the test creates a VM with KVM_CREATE_VM, hands the fd to libsev_guest_attach,
 *    and checks INIT: on a KVM without SEV, LIBSEV_STATUS_NO_SEV_SUPPORT with os_errno ENOTTY,
 *    fw_error 0 and a message (and a WARN log line); the fd stays open and the test closes it.
 *
 * Exit 0 = pass, 77 = skip (/dev/kvm absent), anything else = fail.
 */
#define _DEFAULT_SOURCE /* setenv, unsetenv, MAP_ANONYMOUS */

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

static int failures;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                              \
        }                                                                            \
    } while (0)

#define CHECK_STATUS(got, want)                                                          \
    do {                                                                                 \
        uint32_t g_ = (got), w_ = (want);                                                \
        if (g_ != w_) {                                                                  \
            fprintf(stderr, "%s:%d: %s is %u (%s), expected %u (%s); message: %s\n",     \
                    __FILE__, __LINE__, #got, (unsigned)g_, libsev_status_str(g_),       \
                    (unsigned)w_, libsev_status_str(w_), err.message);                   \
            failures++;                                                                  \
        }                                                                                \
    } while (0)

static libsev_error err;

static int all_bytes(const uint8_t *p, size_t n, uint8_t v) {
    size_t i;
    for (i = 0; i < n; i++)
        if (p[i] != v)
            return 0;
    return 1;
}

static void test_strings(void) {
    const char *v = libsev_version();
    const char *unknown = libsev_status_str(123456u);

    CHECK(v != NULL && v[0] != '\0');
    CHECK(strcmp(v, LIBSEV_VERSION_STRING) == 0);
    CHECK(unknown != NULL && unknown[0] != '\0');
    CHECK(strcmp(libsev_status_str(LIBSEV_STATUS_NO_SEV_SUPPORT), unknown) != 0);
    CHECK(strcmp(libsev_status_str(LIBSEV_STATUS_BUFFER_TOO_SMALL), unknown) != 0);
    CHECK(strcmp(libsev_fw_error_str(0x04), "INVALID_LENGTH") == 0);
    CHECK(strcmp(libsev_fw_error_str(0x02), "INVALID_GUEST_STATE") == 0);
    CHECK(strcmp(libsev_fw_error_str(0x12345u), "UNKNOWN") == 0);
}

static void test_null_arguments(void) {
    libsev_platform *p = NULL;
    libsev_guest *g = NULL;
    size_t n = 0;

    CHECK_STATUS(libsev_platform_open(NULL, &err), LIBSEV_STATUS_NULL_ARGUMENT);
    CHECK(err.status == LIBSEV_STATUS_NULL_ARGUMENT);
    CHECK(strstr(err.message, "out") != NULL);
    CHECK_STATUS(libsev_platform_open_kvm_without_sev(NULL, NULL), LIBSEV_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(libsev_platform_status(NULL, NULL, &err), LIBSEV_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(libsev_platform_pek_csr(NULL, NULL, 0, &n, &err), LIBSEV_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(libsev_guest_new(NULL, &g, &err), LIBSEV_STATUS_NULL_ARGUMENT);
    CHECK(g == NULL);
    CHECK_STATUS(libsev_guest_init(NULL, &err), LIBSEV_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(libsev_guest_launch_update_data(NULL, NULL, 16, &err),
                 LIBSEV_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(libsev_model_config_init(NULL), LIBSEV_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(libsev_probe(NULL), LIBSEV_STATUS_NULL_ARGUMENT);
    CHECK(libsev_guest_vm_fd(NULL) == -1);
    CHECK(libsev_guest_handle(NULL) == 0);
    CHECK(libsev_platform_last_error(NULL) != NULL);
    CHECK(libsev_guest_last_error(NULL) != NULL);
    CHECK(!libsev_platform_is_emulated(NULL));
    libsev_platform_free(NULL);
    libsev_guest_free(NULL);

    /* A NULL required pointer inside a call on a live handle. */
    CHECK_STATUS(libsev_platform_open_kvm_without_sev(&p, &err), LIBSEV_STATUS_OK);
    CHECK_STATUS(libsev_platform_pek_csr(p, NULL, 0, NULL, &err), LIBSEV_STATUS_NULL_ARGUMENT);
    CHECK(strstr(libsev_platform_last_error(p), "out_len") != NULL);
    /* Without /dev/sev, platform commands say so. */
    CHECK_STATUS(libsev_platform_pek_gen(p, &err), LIBSEV_STATUS_NO_DEVICE);
    CHECK(err.os_errno == ENODEV);
    CHECK(strstr(err.message, "/dev/sev") != NULL);
    libsev_platform_free(p);
}

static void test_platform_env(void) {
    libsev_platform *p = NULL;

    setenv("LIBSEV_PLATFORM", "no-such-platform", 1);
    CHECK_STATUS(libsev_platform_open(&p, &err), LIBSEV_STATUS_MODEL_CONFIG);
    CHECK(p == NULL);
    CHECK(strstr(err.message, "LIBSEV_PLATFORM") != NULL);

    setenv("LIBSEV_PLATFORM", "emulated", 1);
    CHECK_STATUS(libsev_platform_open(&p, &err), LIBSEV_STATUS_OK);
    CHECK(p != NULL && libsev_platform_is_emulated(p));
    libsev_platform_free(p);
    p = NULL;

    unsetenv("LIBSEV_PLATFORM");
    if (access("/dev/sev", F_OK) != 0) {
        /* The kernel is the default, and there is no silent fallback to the model. */
        CHECK_STATUS(libsev_platform_open(&p, &err), LIBSEV_STATUS_NO_DEVICE);
        CHECK(p == NULL);
        CHECK(err.os_errno == ENOENT);
        CHECK(strstr(err.message, "LIBSEV_PLATFORM=emulated") != NULL);
    } else {
        printf("kvm_basic: /dev/sev exists; the missing-device path is not checked\n");
    }
}

static void test_buffers_on_the_model(void) {
    libsev_model_config cfg;
    libsev_platform *p = NULL;
    libsev_guest *g = NULL;
    libsev_guest_status_info st;
    uint8_t seed[LIBSEV_MODEL_SEED_LEN];
    uint8_t csr[LIBSEV_SEV_CERT_LEN];
    uint8_t m[LIBSEV_MEASUREMENT_LEN];
    uint8_t *mem;
    size_t n = 0;
    uint32_t handle = 0;

    memset(seed, 0x42, sizeof seed);
    CHECK_STATUS(libsev_model_config_init(&cfg), LIBSEV_STATUS_OK);
    CHECK(cfg.state_dir == NULL && cfg.seed == NULL && cfg.asids > 0);
    cfg.seed = seed;
    CHECK_STATUS(libsev_platform_new_emulated(&cfg, &p, &err), LIBSEV_STATUS_OK);
    if (p == NULL)
        return;

    /* PEK_CSR: NULL buffer, then short, then exact. */
    CHECK_STATUS(libsev_platform_pek_csr(p, NULL, 0, &n, &err), LIBSEV_STATUS_BUFFER_TOO_SMALL);
    CHECK(n == LIBSEV_SEV_CERT_LEN);
    memset(csr, 0xEE, sizeof csr);
    n = 0;
    CHECK_STATUS(libsev_platform_pek_csr(p, csr, sizeof csr - 1, &n, &err),
                 LIBSEV_STATUS_BUFFER_TOO_SMALL);
    CHECK(n == LIBSEV_SEV_CERT_LEN);
    CHECK(all_bytes(csr, sizeof csr, 0xEE));
    CHECK_STATUS(libsev_platform_pek_csr(p, csr, sizeof csr, &n, &err), LIBSEV_STATUS_OK);
    CHECK(!all_bytes(csr, sizeof csr, 0xEE));

    /* A guest on the model: a short measurement buffer is a size query only. */
    CHECK_STATUS(libsev_guest_new(p, &g, &err), LIBSEV_STATUS_OK);
    libsev_platform_free(p); /* the guest keeps the platform alive */
    if (g == NULL)
        return;
    mem = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(mem != MAP_FAILED);
    if (mem == MAP_FAILED) {
        libsev_guest_free(g);
        return;
    }
    memset(mem, 0x11, 4096);
    CHECK_STATUS(libsev_guest_init(g, &err), LIBSEV_STATUS_OK);
    CHECK_STATUS(libsev_guest_launch_start(g, 0, 0, NULL, 0, NULL, 0, &handle, &err),
                 LIBSEV_STATUS_OK);
    CHECK(handle != 0 && libsev_guest_handle(g) == handle);
    CHECK_STATUS(libsev_guest_register_region(g, mem, 4096, &err), LIBSEV_STATUS_OK);
    /* Misalignment is the firmware's verdict, with both error channels. */
    CHECK_STATUS(libsev_guest_launch_update_data(g, mem + 8, 4080, &err),
                 LIBSEV_STATUS_FW_INVALID_ADDRESS);
    CHECK(err.fw_error == 0x09 && err.os_errno == EIO);
    CHECK(err.command == LIBSEV_CMD_LAUNCH_UPDATE_DATA);
    CHECK_STATUS(libsev_guest_launch_update_data(g, mem, 4096, &err), LIBSEV_STATUS_OK);
    CHECK(!all_bytes(mem, 4096, 0x11));

    memset(m, 0xEE, sizeof m);
    CHECK_STATUS(libsev_guest_launch_measure(g, NULL, 0, &n, &err),
                 LIBSEV_STATUS_BUFFER_TOO_SMALL);
    CHECK(n == LIBSEV_MEASUREMENT_LEN);
    CHECK_STATUS(libsev_guest_launch_measure(g, m, sizeof m - 1, &n, &err),
                 LIBSEV_STATUS_BUFFER_TOO_SMALL);
    CHECK(all_bytes(m, sizeof m, 0xEE));
    CHECK_STATUS(libsev_guest_status(g, &st, &err), LIBSEV_STATUS_OK);
    CHECK(st.state == 1); /* still LUPDATE */
    CHECK_STATUS(libsev_guest_launch_measure(g, m, sizeof m, &n, &err), LIBSEV_STATUS_OK);
    CHECK(n == LIBSEV_MEASUREMENT_LEN && !all_bytes(m, sizeof m, 0xEE));
    CHECK_STATUS(libsev_guest_status(g, &st, &err), LIBSEV_STATUS_OK);
    CHECK(st.state == 2 && st.handle == handle); /* LSECRET */

    CHECK_STATUS(libsev_guest_unregister_region(g, mem, 4096, &err), LIBSEV_STATUS_OK);
    libsev_guest_free(g);
    munmap(mem, 4096);
}

static void test_probe_and_features(void) {
    libsev_probe_result r;

    CHECK(libsev_has_feature(LIBSEV_FEATURE_KVM_TRANSPORT));
    CHECK(libsev_has_feature(LIBSEV_FEATURE_FIRMWARE_MODEL));
    CHECK(libsev_has_feature(LIBSEV_FEATURE_OWNER));
    CHECK(libsev_has_feature(LIBSEV_FEATURE_MIGRATION));
    CHECK(libsev_has_feature(LIBSEV_FEATURE_STATE_DIR));
    CHECK(!libsev_has_feature(0));
    CHECK(!libsev_has_feature(4242));

    memset(&r, 0, sizeof r);
    CHECK_STATUS(libsev_probe(&r), LIBSEV_STATUS_OK);
    CHECK(r.kvm.reason[0] != '\0' && r.kvm_sev.reason[0] != '\0');
    CHECK(r.sev_device.reason[0] != '\0');
    CHECK(r.kvm.available == (access("/dev/kvm", R_OK | W_OK) == 0));
    if (access("/dev/sev", F_OK) != 0) {
        CHECK(!r.sev_device.available && r.sev_device.os_errno == ENOENT);
    }
    printf("kvm_basic: probe: kvm=%d (%s); kvm_sev=%d (%s); /dev/sev=%d (%s)\n",
           r.kvm.available, r.kvm.reason, r.kvm_sev.available, r.kvm_sev.reason,
           r.sev_device.available, r.sev_device.reason);
}

struct log_record {
    unsigned warnings;
    char last_warning[512];
};

static void on_log(libsev_log_level level, const char *message, void *user) {
    struct log_record *r = user;
    if (level == LIBSEV_LOG_WARN) {
        r->warnings++;
        snprintf(r->last_warning, sizeof r->last_warning, "%s", message);
    }
}

/* Returns 77 when /dev/kvm is absent. */
static int test_real_kvm(void) {
    libsev_probe_result r;
    libsev_platform *p = NULL;
    libsev_guest *g = NULL;
    struct log_record rec;
    int kvm, vm;
    uint32_t st;

    kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0) {
        if (errno == ENOENT) {
            printf("SKIP: /dev/kvm is absent on this host\n");
            return 77;
        }
        printf("SKIP: /dev/kvm cannot be opened: %s\n", strerror(errno));
        return 77;
    }
    vm = ioctl(kvm, KVM_CREATE_VM, 0);
    CHECK(vm >= 0);
    if (vm < 0) {
        fprintf(stderr, "KVM_CREATE_VM: %s\n", strerror(errno));
        close(kvm);
        return 1;
    }
    CHECK_STATUS(libsev_probe(&r), LIBSEV_STATUS_OK);

    CHECK_STATUS(libsev_platform_open_kvm_without_sev(&p, &err), LIBSEV_STATUS_OK);
    CHECK_STATUS(libsev_guest_attach(p, vm, &g, &err), LIBSEV_STATUS_OK);
    if (g != NULL) {
        CHECK(libsev_guest_vm_fd(g) == vm);
        memset(&rec, 0, sizeof rec);
        libsev_set_log_callback(on_log, &rec, LIBSEV_LOG_DEBUG);
        st = libsev_guest_init(g, &err);
        libsev_set_log_callback(NULL, NULL, LIBSEV_LOG_DEBUG);
        if (r.kvm_sev.available) {
            printf("kvm_basic: this KVM has SEV; INIT is expected to succeed\n");
            CHECK_STATUS(st, LIBSEV_STATUS_OK);
        } else {
            CHECK_STATUS(st, LIBSEV_STATUS_NO_SEV_SUPPORT);
            CHECK(err.status == LIBSEV_STATUS_NO_SEV_SUPPORT);
            CHECK(err.os_errno == ENOTTY);
            CHECK(err.fw_error == 0);
            CHECK(err.command == LIBSEV_CMD_INIT);
            CHECK(strstr(err.message, "no SEV support") != NULL);
            CHECK(strcmp(libsev_guest_last_error(g), err.message) == 0 ||
                  strncmp(libsev_guest_last_error(g), err.message,
                          LIBSEV_ERROR_MESSAGE_LEN - 1) == 0);
            CHECK(rec.warnings == 1 && strstr(rec.last_warning, "INIT") != NULL);
            printf("kvm_basic: INIT on this KVM: %s\n", err.message);
        }
    }
    libsev_platform_free(p);
    libsev_guest_free(g);
    /* libsev never closes the caller's VM fd. */
    CHECK(fcntl(vm, F_GETFD) != -1);
    CHECK(close(vm) == 0);
    CHECK(close(kvm) == 0);
    return 0;
}

int main(void) {
    int rc;

    test_strings();
    test_null_arguments();
    test_platform_env();
    test_buffers_on_the_model();
    test_probe_and_features();
    rc = test_real_kvm();
    if (failures) {
        fprintf(stderr, "kvm_basic: %d check(s) failed\n", failures);
        return 1;
    }
    if (rc != 0)
        return rc;
    printf("kvm_basic: all checks passed\n");
    return 0;
}
