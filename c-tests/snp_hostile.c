/*
 * A hostile caller of the SEV-SNP C API, through the installed header only (its comments and
 * README's "C API conventions" are the contract). Every libsev_snp_* function gets NULLs,
 * short/zero/huge lengths, unaligned buffers and GPAs, read-only / PROT_NONE / unmapped /
 * past-EOF memory, overlapping outputs, commands in every wrong order, garbage policy and
 * measurement fields, malformed certificates, tables, reports and keys, several threads on
 * one guest, thousands of guests, fork, and a log callback that calls back into the SNP
 * functions on the very handle being logged.
 *
 * The expected answer is always a documented libsev_status with a message, never a crash,
 * hang, abort, sanitizer report, leak or partial write. Checks that may crash run in a
 * forked child (a crash or hang there is one failure, and the run goes on).
 *
 * Written from outside (an attacker with the header only); it found ten defects, each fixed
 * since and kept here as a regression check, named D1-D10 in the checks: unreadable source
 * pages (D1, D7: KVM's EIO with firmware status 0, never a crash), unbounded ZERO ranges (D2),
 * impossible lengths (D3), a VMPL above 3 in a report request (D4: accepted, as firmware
 * 1.55.25 does, and refused as an owner's expectation), attach with a closed fd (D5), a
 * refused page inside a multi-page CPUID range (D6), a second INIT2 (D8: KVM's EPERM with a
 * message about the guest), a report before LAUNCH_FINISH (D9), argument checks reporting
 * LIBSEV_CMD_NONE (D10).
 *
 * Data (optional parts): $LIBSEV_TESTDATA/../snp, else ../shared/testdata/snp or
 * /work/shared/testdata/snp. Exit 0 = pass, 1 = fail, 77 = skip.
 */
#define _GNU_SOURCE
#include "test_util.h"

#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define VG_ERRORS() ((unsigned)VALGRIND_COUNT_ERRORS)
#endif
#endif
#ifndef VG_ERRORS
#define VG_ERRORS() 0u
#endif

#define PAGE 4096u

/* Call for its effect only (the status does not matter here). */
#define IGNORE(call)                \
    do {                            \
        uint32_t ignored_ = (call); \
        (void)ignored_;             \
    } while (0)

static libsev_platform *plat;
static char datadir[4096];
static int have_data;

/* ---- helpers -------------------------------------------------------------------------- */

/* Status `want`, and the error record filled as README says (message non-empty). */
#define EXPECT(e, call, want)                                                               \
    do {                                                                                    \
        memset(&(e), 0x5a, sizeof(e));                                                      \
        uint32_t got_ = (call);                                                             \
        CHECK_ST_E(e, got_, want);                                                          \
        if (got_ != LIBSEV_STATUS_OK) {                                                     \
            CHECK((e).status == got_);                                                      \
            CHECK(memchr((e).message, 0, sizeof (e).message) != NULL && (e).message[0]);    \
        } else {                                                                            \
            CHECK((e).status == 0 && (e).message[0] == 0 && (e).os_errno == 0);             \
        }                                                                                   \
    } while (0)

static uint8_t *map_prot(size_t n, int prot) {
    uint8_t *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    memset(p, 0x5a, n);
    if (prot != (PROT_READ | PROT_WRITE) && mprotect(p, n, prot) != 0) {
        perror("mprotect");
        exit(1);
    }
    return p;
}

/* A page-aligned address with nothing mapped at it. */
static uint8_t *unmapped(size_t n) {
    uint8_t *p = map_prot(n, PROT_READ | PROT_WRITE);
    munmap(p, n);
    return p;
}

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static uint32_t get32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* A CPUID page of this CPU's leaves (the model checks it against the CPU it runs on);
 * `bad`: leaf 1 ECX claims every feature, which the firmware corrects. */
static void cpuid_page(uint8_t *page, int bad) {
    static const uint32_t leaves[] = {0, 1, 0x80000000u, 0x80000001u};
    uint32_t i, r[4];
    memset(page, 0, PAGE);
    for (i = 0; i < 4; i++) {
        __cpuid_count(leaves[i], 0, r[0], r[1], r[2], r[3]);
        put32(page + 16 + 48 * i, leaves[i]);
        memcpy(page + 16 + 48 * i + 24, r, 16);
    }
    put32(page, 4);
    if (bad)
        put32(page + 16 + 48 * 1 + 24 + 8, 0xFFFFFFFFu);
}

static libsev_snp_guest *guest(int init, int start) {
    libsev_snp_guest *g = NULL;
    libsev_error e;
    MUST_E(e, libsev_snp_guest_new(plat, &g, &e));
    if (init)
        MUST_E(e, libsev_snp_guest_init2(g, 0, 0, &e));
    if (start)
        MUST_E(e, libsev_snp_launch_start(g, LIBSEV_SNP_POLICY_DEFAULT, NULL, &e));
    return g;
}

/* A launched guest with a secrets page at 0x1000 (so it can ask for reports). */
static libsev_snp_guest *launched(void) {
    libsev_snp_guest *g = guest(1, 1);
    libsev_error e;
    uint8_t page[PAGE];
    memset(page, 0, sizeof page);
    MUST_E(e, libsev_snp_guest_add_vcpu_reset(g, LIBSEV_VMM_QEMU, 0x00800F12, 0, 0xFFFFF000u, &e));
    MUST_E(e, libsev_snp_launch_update(g, 0x1000, page, PAGE, LIBSEV_SNP_PAGE_SECRETS, &e));
    MUST_E(e, libsev_snp_launch_finish(g, NULL, 0, NULL, 0, 0, 0, NULL, &e));
    return g;
}

static int page_launched(libsev_snp_guest *g, uint64_t gpa) {
    uint8_t out[PAGE];
    libsev_error e;
    return libsev_snp_guest_model_read_page(g, gpa, out, &e) == LIBSEV_STATUS_OK;
}

/* Run fn(arg) in a forked child with a timeout: a crash, sanitizer report or hang there
 * is a failure here (reported with `name`), and the test goes on. The child reports its
 * verdict through a pipe before it exits, so that valgrind's leak report of the forked copy
 * (memory owned by threads that do not exist in the child) is not taken for a failure;
 * memory errors valgrind finds in the child are counted. */
static void in_child(const char *name, void (*fn)(void *), void *arg, unsigned timeout) {
    pid_t pid;
    int st = 0, fds[2];
    unsigned char verdict = 0xff;
    if (pipe(fds) != 0) {
        perror("pipe");
        exit(1);
    }
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(1);
    }
    if (pid == 0) {
        unsigned base = VG_ERRORS();
        close(fds[0]);
        failures = 0;
        alarm(under_valgrind() ? timeout * 4 : timeout);
        fn(arg);
        fflush(NULL);
        verdict = (failures != 0 || VG_ERRORS() != base) ? 1 : 0;
        if (write(fds[1], &verdict, 1) != 1)
            _exit(2);
        _exit(verdict);
    }
    close(fds[1]);
    while (read(fds[0], &verdict, 1) < 0 && errno == EINTR)
        ;
    close(fds[0]);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (verdict == 0)
        return;
    if (verdict == 1) {
        fprintf(stderr, "%s: failed\n", name);
        failures++;
    } else if (WIFSIGNALED(st)) {
        fprintf(stderr, "%s: the process died with signal %d (%s)%s\n", name, WTERMSIG(st),
                strsignal(WTERMSIG(st)), WTERMSIG(st) == SIGALRM ? ": it hung" : "");
        failures++;
    } else {
        fprintf(stderr, "%s: the process exited with status %d before finishing%s\n", name, WEXITSTATUS(st),
                WEXITSTATUS(st) == 3 ? "" : " (a sanitizer report above?)");
        failures++;
    }
}

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
    b.p = malloc(b.n + 1);
    if (b.p == NULL || fread(b.p, 1, b.n, f) != b.n)
        exit(1);
    fclose(f);
    return b;
}

/* The model chip's certificates (DER) out of its extended-report table. */
static struct buf model_table, m_ark, m_ask, m_vcek;

static struct buf table_cert(uint32_t kind) {
    struct buf b = {NULL, 0};
    libsev_error e;
    CHECK_ST_E(e, libsev_snp_cert_table_get(model_table.p, model_table.n, kind, NULL, 0, &b.n, &e),
               LIBSEV_STATUS_BUFFER_TOO_SMALL);
    b.p = malloc(b.n);
    MUST_E(e, libsev_snp_cert_table_get(model_table.p, model_table.n, kind, b.p, b.n, &b.n, &e));
    return b;
}

static void load_model_certs(void) {
    libsev_error e;
    model_table.n = 0;
    CHECK_ST_E(e, libsev_snp_model_cert_table(plat, NULL, 0, &model_table.n, &e), LIBSEV_STATUS_BUFFER_TOO_SMALL);
    model_table.p = malloc(model_table.n);
    MUST_E(e, libsev_snp_model_cert_table(plat, model_table.p, model_table.n, &model_table.n, &e));
    m_ark = table_cert(LIBSEV_SNP_CERT_ARK);
    m_ask = table_cert(LIBSEV_SNP_CERT_ASK);
    m_vcek = table_cert(LIBSEV_SNP_CERT_VCEK);
}

static libsev_snp_chain *model_chain(void) {
    libsev_snp_chain *c = NULL;
    libsev_error e;
    MUST_E(e, libsev_snp_chain_verify(m_ark.p, m_ark.n, m_ask.p, m_ask.n, m_vcek.p, m_vcek.n,
                                      LIBSEV_SNP_GEN_ANY, LIBSEV_VERIFY_ALLOW_TEST_ROOT, &c, &e));
    return c;
}

/* ---- 1. NULL pointers everywhere ------------------------------------------------------- */

static void null_pointers(void) {
    libsev_error e;
    libsev_snp_guest *g = guest(1, 1), *out = (libsev_snp_guest *)0x1;
    libsev_snp_chain *c = model_chain(), *cout = (libsev_snp_chain *)0x1;
    libsev_snp_platform_status_info st;
    libsev_snp_chain_facts facts;
    libsev_snp_policy pol;
    libsev_snp_verdict v;
    libsev_snp_measure m;
    libsev_snp_id_block io;
    uint8_t buf[8192], key[48];
    size_t n = 0;

    memset(buf, 0, sizeof buf);
    memset(&pol, 0, sizeof pol);
    memset(&m, 0, sizeof m);
    memset(&io, 0, sizeof io);
    memset(key, 0, sizeof key);
    key[47] = 1;

#define NUL(call)                                              \
    do {                                                       \
        EXPECT(e, call, LIBSEV_STATUS_NULL_ARGUMENT);          \
        CHECK(e.command == LIBSEV_CMD_NONE);                   \
    } while (0)
    NUL(libsev_snp_guest_new(NULL, &out, &e));
    NUL(libsev_snp_guest_new(plat, NULL, &e));
    NUL(libsev_snp_guest_attach(NULL, 0, &out, &e));
    NUL(libsev_snp_guest_attach(plat, 0, NULL, &e));
    CHECK(out == (libsev_snp_guest *)0x1);
    CHECK(strcmp(libsev_snp_guest_last_error(NULL), "") == 0);
    CHECK(libsev_snp_guest_last_error_copy(NULL, (char *)buf, sizeof buf, &n) == LIBSEV_STATUS_NULL_ARGUMENT);
    CHECK(libsev_snp_guest_last_error_copy(g, (char *)buf, sizeof buf, NULL) == LIBSEV_STATUS_NULL_ARGUMENT);
    CHECK(libsev_snp_guest_vm_fd(NULL) == -1);
    NUL(libsev_snp_guest_init2(NULL, 0, 0, &e));
    NUL(libsev_snp_guest_set_vmsa(NULL, 0, buf, PAGE, &e));
    NUL(libsev_snp_guest_set_vmsa(g, 0, NULL, PAGE, &e));
    NUL(libsev_snp_guest_add_vcpu_reset(NULL, 0, 0, 0, 0, &e));
    NUL(libsev_snp_launch_start(NULL, LIBSEV_SNP_POLICY_DEFAULT, NULL, &e));
    NUL(libsev_snp_launch_update(NULL, 0, buf, PAGE, LIBSEV_SNP_PAGE_NORMAL, &e));
    EXPECT(e, libsev_snp_launch_update(g, 0, NULL, PAGE, LIBSEV_SNP_PAGE_NORMAL, &e), LIBSEV_STATUS_NULL_ARGUMENT);
    EXPECT(e, libsev_snp_launch_update(g, 0, NULL, PAGE, LIBSEV_SNP_PAGE_CPUID, &e), LIBSEV_STATUS_NULL_ARGUMENT);
    EXPECT(e, libsev_snp_launch_update(g, 0, NULL, PAGE, LIBSEV_SNP_PAGE_SECRETS, &e), LIBSEV_STATUS_NULL_ARGUMENT);
    EXPECT(e, libsev_snp_launch_update(g, 0, NULL, PAGE, LIBSEV_SNP_PAGE_UNMEASURED, &e), LIBSEV_STATUS_NULL_ARGUMENT);
    NUL(libsev_snp_launch_finish(NULL, NULL, 0, NULL, 0, 0, 0, NULL, &e));
    NUL(libsev_snp_launch_finish(g, NULL, 96, buf, 4096, 0, 0, NULL, &e));
    NUL(libsev_snp_launch_finish(g, buf, 96, NULL, 4096, 0, 0, NULL, &e));
    NUL(libsev_snp_guest_model_measurement(NULL, buf, &e));
    NUL(libsev_snp_guest_model_measurement(g, NULL, &e));
    NUL(libsev_snp_guest_model_read_page(NULL, 0x1000, buf, &e));
    NUL(libsev_snp_guest_model_read_page(g, 0x1000, NULL, &e));
    NUL(libsev_snp_guest_model_report(NULL, buf, 0, buf + 64, &e));
    NUL(libsev_snp_guest_model_report(g, NULL, 0, buf + 64, &e));
    NUL(libsev_snp_guest_model_report(g, buf, 0, NULL, &e));
    NUL(libsev_snp_platform_status(NULL, &st, &e));
    NUL(libsev_snp_platform_status(plat, NULL, &e));
    NUL(libsev_snp_commit(NULL, &e));
    NUL(libsev_snp_set_config(NULL, 0, 0, 0, &e));
    NUL(libsev_snp_vlek_load(NULL, buf, LIBSEV_SNP_VLEK_WRAPPED_LEN, &e));
    NUL(libsev_snp_vlek_load(plat, NULL, LIBSEV_SNP_VLEK_WRAPPED_LEN, &e));
    NUL(libsev_snp_model_wrap_vlek(NULL, buf, 0, buf + 512, &e));
    NUL(libsev_snp_model_wrap_vlek(plat, NULL, 0, buf + 512, &e));
    NUL(libsev_snp_model_wrap_vlek(plat, buf, 0, NULL, &e));
    NUL(libsev_snp_model_cert_table(NULL, buf, sizeof buf, &n, &e));
    NUL(libsev_snp_model_cert_table(plat, buf, sizeof buf, NULL, &e));
    NUL(libsev_snp_chain_verify(NULL, 10, m_ask.p, m_ask.n, m_vcek.p, m_vcek.n, 0, 1, &cout, &e));
    NUL(libsev_snp_chain_verify(m_ark.p, m_ark.n, NULL, 10, m_vcek.p, m_vcek.n, 0, 1, &cout, &e));
    NUL(libsev_snp_chain_verify(m_ark.p, m_ark.n, m_ask.p, m_ask.n, NULL, 10, 0, 1, &cout, &e));
    NUL(libsev_snp_chain_verify(m_ark.p, m_ark.n, m_ask.p, m_ask.n, m_vcek.p, m_vcek.n, 0, 1, NULL, &e));
    CHECK(cout == (libsev_snp_chain *)0x1);
    NUL(libsev_snp_chain_info(NULL, &facts, &e));
    NUL(libsev_snp_chain_info(c, NULL, &e));
    libsev_snp_chain_free(NULL);
    NUL(libsev_snp_report_verify(NULL, LIBSEV_SNP_REPORT_LEN, c, &pol, &v, &e));
    NUL(libsev_snp_report_verify(buf, LIBSEV_SNP_REPORT_LEN, NULL, &pol, &v, &e));
    NUL(libsev_snp_report_verify(buf, LIBSEV_SNP_REPORT_LEN, c, NULL, &v, &e));
    NUL(libsev_snp_cert_table_get(NULL, 100, 0, buf, 10, &n, &e));
    NUL(libsev_snp_cert_table_get(model_table.p, model_table.n, 0, buf, sizeof buf, NULL, &e));
    NUL(libsev_snp_id_block_sign(NULL, key, 48, NULL, 0, &e));
    NUL(libsev_snp_id_block_sign(&io, NULL, 48, NULL, 0, &e));
    NUL(libsev_snp_id_block_sign(&io, key, 48, NULL, 48, &e));
    NUL(libsev_snp_key_digest(NULL, 48, buf, &e));
    NUL(libsev_snp_key_digest(key, 48, NULL, &e));
    NUL(libsev_snp_expected_measurement(NULL, buf, &e));
    NUL(libsev_snp_expected_measurement(&m, NULL, &e));
#undef NUL
    /* err NULL is always allowed. */
    CHECK(libsev_snp_guest_new(NULL, &out, NULL) == LIBSEV_STATUS_NULL_ARGUMENT);
    CHECK(libsev_snp_launch_update(g, 1, buf, PAGE, 1, NULL) == LIBSEV_STATUS_UNALIGNED);
    CHECK(libsev_snp_chain_verify(m_ark.p, 1, m_ask.p, 1, m_vcek.p, 1, 0, 1, &cout, NULL) ==
          LIBSEV_STATUS_BAD_CERTIFICATE);
    CHECK(strcmp(libsev_snp_check_name(0), "unknown") == 0);
    CHECK(strcmp(libsev_snp_check_name(UINT64_MAX), "unknown") == 0);
    CHECK(strcmp(libsev_snp_check_name((uint64_t)1 << 24), "unknown") == 0);
    CHECK(strcmp(libsev_snp_check_name(LIBSEV_SNP_CHECK_SIGNATURE | LIBSEV_SNP_CHECK_VMPL), "unknown") == 0);
    for (n = 0; n < 24; n++)
        CHECK(strcmp(libsev_snp_check_name((uint64_t)1 << n), "unknown") != 0);
    libsev_snp_chain_free(c);
    libsev_snp_guest_free(g);
    libsev_snp_guest_free(NULL);
}

/* ---- 2. commands in every wrong order ---------------------------------------------------- */

static void wrong_order(void) {
    libsev_error e;
    libsev_snp_guest *g = guest(0, 0);
    uint8_t page[PAGE], vmsa[PAGE], d[48], r[LIBSEV_SNP_REPORT_LEN], rd[64];

    memset(page, 0x11, sizeof page);
    memset(vmsa, 0, sizeof vmsa);
    memset(rd, 0x42, sizeof rd);
    /* Before init2: KVM's ENOTTY for the launch commands; VMSAs need init2. */
    EXPECT(e, libsev_snp_launch_start(g, LIBSEV_SNP_POLICY_DEFAULT, NULL, &e), LIBSEV_STATUS_NO_SEV_SUPPORT);
    CHECK(e.os_errno == ENOTTY);
    EXPECT(e, libsev_snp_launch_update(g, 0x1000, page, PAGE, 1, &e), LIBSEV_STATUS_NO_SEV_SUPPORT);
    EXPECT(e, libsev_snp_launch_finish(g, NULL, 0, NULL, 0, 0, 0, NULL, &e), LIBSEV_STATUS_NO_SEV_SUPPORT);
    EXPECT(e, libsev_snp_guest_set_vmsa(g, 0, vmsa, PAGE, &e), LIBSEV_STATUS_INVALID_STATE);
    EXPECT(e, libsev_snp_guest_add_vcpu_reset(g, 0, 0x00800F12, 0, 0, &e), LIBSEV_STATUS_INVALID_STATE);
    memset(d, 0x5a, sizeof d);
    EXPECT(e, libsev_snp_guest_model_measurement(g, d, &e), LIBSEV_STATUS_INVALID_STATE);
    CHECK(all_bytes(d, sizeof d, 0x5a));

    /* init2 twice. The header: EINVAL (KERNEL_REJECTED); the model, like KVM (a legacy id on
     * an SNP VM), answers EPERM, and its message blames device permissions. DEFECT D8. */
    MUST_E(e, libsev_snp_guest_init2(g, 0, 0, &e));
    memset(&e, 0, sizeof e);
    {
        uint32_t s = libsev_snp_guest_init2(g, 0, 0, &e);
        CHECK(s == LIBSEV_STATUS_KERNEL_REJECTED || s == LIBSEV_STATUS_PERMISSION_DENIED);
        CHECK((s == LIBSEV_STATUS_KERNEL_REJECTED && e.os_errno == EINVAL) ||
              (s == LIBSEV_STATUS_PERMISSION_DENIED && e.os_errno == EPERM));
        if (strstr(e.message, "/dev/sev") != NULL || strstr(e.message, "/dev/kvm") != NULL) {
            fprintf(stderr, "D8: a second init2 on a model guest blames device "
                            "permissions: %s\n", e.message);
            failures++;
        }
    }
    /* Bad INIT2 arguments: EINVAL. */
    {
        libsev_snp_guest *h = guest(0, 0);
        EXPECT(e, libsev_snp_guest_init2(h, 0x2, 0, &e), LIBSEV_STATUS_KERNEL_REJECTED);
        CHECK(e.os_errno == EINVAL);
        EXPECT(e, libsev_snp_guest_init2(h, UINT64_MAX, 0, &e), LIBSEV_STATUS_KERNEL_REJECTED);
        EXPECT(e, libsev_snp_guest_init2(h, 0, 3, &e), LIBSEV_STATUS_KERNEL_REJECTED);
        EXPECT(e, libsev_snp_guest_init2(h, 0, 0xFFFF, &e), LIBSEV_STATUS_KERNEL_REJECTED);
        EXPECT(e, libsev_snp_guest_init2(h, 0x20, 2, &e), LIBSEV_STATUS_OK);
        libsev_snp_guest_free(h);
    }
    /* init2, no launch context: UPDATE and FINISH are EINVAL (KVM: no SNP context). */
    EXPECT(e, libsev_snp_launch_update(g, 0x1000, page, PAGE, 1, &e), LIBSEV_STATUS_KERNEL_REJECTED);
    CHECK(e.os_errno == EINVAL);
    EXPECT(e, libsev_snp_launch_finish(g, NULL, 0, NULL, 0, 0, 0, NULL, &e), LIBSEV_STATUS_KERNEL_REJECTED);
    CHECK(e.os_errno == EINVAL);
    /* Garbage policies: KVM's EINVAL (bits >= 21, bit 18, bit 17 clear); nothing started. */
    EXPECT(e, libsev_snp_launch_start(g, LIBSEV_SNP_POLICY_DEFAULT | (1ull << 63), NULL, &e), LIBSEV_STATUS_KERNEL_REJECTED);
    EXPECT(e, libsev_snp_launch_start(g, LIBSEV_SNP_POLICY_DEFAULT | (1ull << 21), NULL, &e), LIBSEV_STATUS_KERNEL_REJECTED);
    EXPECT(e, libsev_snp_launch_start(g, LIBSEV_SNP_POLICY_DEFAULT | (1ull << 18), NULL, &e), LIBSEV_STATUS_KERNEL_REJECTED);
    EXPECT(e, libsev_snp_launch_start(g, UINT64_MAX, NULL, &e), LIBSEV_STATUS_KERNEL_REJECTED);
    EXPECT(e, libsev_snp_launch_start(g, 0, NULL, &e), LIBSEV_STATUS_KERNEL_REJECTED);
    CHECK(e.os_errno == EINVAL && e.fw_error == 0);
    /* Start; a second start is EINVAL. */
    {
        uint8_t gosvw[17];
        memset(gosvw, 0, sizeof gosvw);
        EXPECT(e, libsev_snp_launch_start(g, LIBSEV_SNP_POLICY_DEFAULT, gosvw + 1, &e), LIBSEV_STATUS_OK);
    }
    EXPECT(e, libsev_snp_launch_start(g, LIBSEV_SNP_POLICY_DEFAULT, NULL, &e), LIBSEV_STATUS_KERNEL_REJECTED);
    CHECK(e.os_errno == EINVAL);
    /* An unaligned VMSA buffer is fine. */
    {
        uint8_t *u = malloc(PAGE + 1);
        memset(u, 0, PAGE + 1);
        EXPECT(e, libsev_snp_guest_set_vmsa(g, 0, u + 1, PAGE, &e), LIBSEV_STATUS_OK);
        free(u);
    }
    /* A report before LAUNCH_FINISH (the secrets page is there): refused, nothing written.
     * The header: "a guest not launched: LIBSEV_STATUS_FW_INVALID_GUEST". DEFECT D9. */
    memset(page, 0, sizeof page);
    EXPECT(e, libsev_snp_launch_update(g, 0x1000, page, PAGE, LIBSEV_SNP_PAGE_SECRETS, &e), LIBSEV_STATUS_OK);
    memset(r, 0x5a, sizeof r);
    EXPECT(e, libsev_snp_guest_model_report(g, rd, 0, r, &e), LIBSEV_STATUS_FW_INVALID_GUEST_STATE);
    CHECK(all_bytes(r, sizeof r, 0x5a));
    /* Finish; then nothing of the launch is allowed. */
    EXPECT(e, libsev_snp_launch_finish(g, NULL, 0, NULL, 0, 0, 0, NULL, &e), LIBSEV_STATUS_OK);
    EXPECT(e, libsev_snp_launch_update(g, 0x2000, page, PAGE, 1, &e), LIBSEV_STATUS_FW_INVALID_GUEST_STATE);
    CHECK(!page_launched(g, 0x2000));
    EXPECT(e, libsev_snp_launch_finish(g, NULL, 0, NULL, 0, 0, 0, NULL, &e), LIBSEV_STATUS_FW_INVALID_GUEST_STATE);
    EXPECT(e, libsev_snp_launch_start(g, LIBSEV_SNP_POLICY_DEFAULT, NULL, &e), LIBSEV_STATUS_KERNEL_REJECTED);
    EXPECT(e, libsev_snp_guest_set_vmsa(g, 0, vmsa, PAGE, &e), LIBSEV_STATUS_INVALID_STATE);
    EXPECT(e, libsev_snp_guest_add_vcpu_reset(g, 0, 0x00800F12, 1, 0, &e), LIBSEV_STATUS_INVALID_STATE);
    CHECK(libsev_snp_guest_init2(g, 0, 0, &e) != LIBSEV_STATUS_OK);
    EXPECT(e, libsev_snp_guest_model_report(g, rd, 0, r, &e), LIBSEV_STATUS_OK);
    CHECK(memcmp(r + 0x50, rd, 64) == 0);
    /* Reading pages: launched ones only. */
    EXPECT(e, libsev_snp_guest_model_read_page(g, 0x1000, page, &e), LIBSEV_STATUS_OK);
    memset(page, 0x5a, sizeof page);
    EXPECT(e, libsev_snp_guest_model_read_page(g, 0x9000, page, &e), LIBSEV_STATUS_INVALID_ARGUMENT);
    EXPECT(e, libsev_snp_guest_model_read_page(g, UINT64_MAX & ~0xFFFull, page, &e), LIBSEV_STATUS_INVALID_ARGUMENT);
    EXPECT(e, libsev_snp_guest_model_read_page(g, 0x1001, page, &e), LIBSEV_STATUS_UNALIGNED);
    CHECK(all_bytes(page, sizeof page, 0x5a));
    /* The last error is readable and copyable under the buffer rule. */
    {
        char small[4];
        size_t need = 0;
        const char *last = libsev_snp_guest_last_error(g);
        CHECK(last != NULL && last[0] != 0);
        memset(small, 0x5a, sizeof small);
        CHECK(libsev_snp_guest_last_error_copy(g, small, sizeof small, &need) == LIBSEV_STATUS_BUFFER_TOO_SMALL);
        CHECK(need == strlen(last) + 1 && all_bytes((uint8_t *)small, sizeof small, 0x5a));
        CHECK(libsev_snp_guest_last_error_copy(g, NULL, 0, &need) == LIBSEV_STATUS_BUFFER_TOO_SMALL);
    }
    /* The guest keeps its platform alive: a private model platform freed first. */
    {
        libsev_platform *q = NULL;
        libsev_snp_guest *h = NULL;
        MUST_E(e, libsev_platform_new_model(NULL, &q, &e));
        MUST_E(e, libsev_snp_guest_new(q, &h, &e));
        libsev_platform_free(q);
        EXPECT(e, libsev_snp_guest_init2(h, 0, 0, &e), LIBSEV_STATUS_OK);
        EXPECT(e, libsev_snp_launch_start(h, LIBSEV_SNP_POLICY_DEFAULT, NULL, &e), LIBSEV_STATUS_OK);
        libsev_snp_guest_free(h);
    }
    libsev_snp_guest_free(g);
}

/* ---- 3. lengths, GPAs, types --------------------------------------------------------------- */

static void lengths(void) {
    libsev_error e;
    libsev_snp_guest *g = guest(1, 1);
    uint8_t page[2 * PAGE], block[96], *auth = calloc(1, 4096);

    memset(page, 0x33, sizeof page);
    memset(block, 0, sizeof block);
    /* set_vmsa: exactly one page. Its length check is an argument check: CMD_NONE (D10). */
    EXPECT(e, libsev_snp_guest_set_vmsa(g, 0, page, 0, &e), LIBSEV_STATUS_INVALID_LENGTH);
    if (e.command != LIBSEV_CMD_NONE) {
        fprintf(stderr, "D10: set_vmsa's length check reports command %u, not LIBSEV_CMD_NONE\n",
                e.command);
        failures++;
    }
    EXPECT(e, libsev_snp_guest_set_vmsa(g, 0, page, PAGE - 1, &e), LIBSEV_STATUS_INVALID_LENGTH);
    EXPECT(e, libsev_snp_guest_set_vmsa(g, 0, page, PAGE + 1, &e), LIBSEV_STATUS_INVALID_LENGTH);
    EXPECT(e, libsev_snp_guest_set_vmsa(g, 0, page, SIZE_MAX, &e), LIBSEV_STATUS_INVALID_LENGTH);
    EXPECT(e, libsev_snp_guest_set_vmsa(g, 0, page, (size_t)1 << 41, &e), LIBSEV_STATUS_INVALID_LENGTH);
    EXPECT(e, libsev_snp_guest_add_vcpu_reset(g, 3, 0, 0, 0, &e), LIBSEV_STATUS_INVALID_ARGUMENT);
    EXPECT(e, libsev_snp_guest_add_vcpu_reset(g, UINT32_MAX, 0, 0, 0, &e), LIBSEV_STATUS_INVALID_ARGUMENT);

    /* launch_update: GPA alignment (nothing sent), length multiple, page types, wrap. */
    EXPECT(e, libsev_snp_launch_update(g, 0x1001, page, PAGE, 1, &e), LIBSEV_STATUS_UNALIGNED);
    EXPECT(e, libsev_snp_launch_update(g, 0x1800, NULL, PAGE, LIBSEV_SNP_PAGE_ZERO, &e), LIBSEV_STATUS_UNALIGNED);
    CHECK(!page_launched(g, 0x1000));
    EXPECT(e, libsev_snp_launch_update(g, 0x1000, page, 100, 1, &e), LIBSEV_STATUS_KERNEL_REJECTED);
    CHECK(e.os_errno == EINVAL && e.fw_error == 0);
    EXPECT(e, libsev_snp_launch_update(g, 0x1000, page, SIZE_MAX, 1, &e), LIBSEV_STATUS_INVALID_LENGTH);
    EXPECT(e, libsev_snp_launch_update(g, 0x1000, page, PAGE, 0, &e), LIBSEV_STATUS_KERNEL_REJECTED);
    EXPECT(e, libsev_snp_launch_update(g, 0x1000, page, PAGE, 2, &e), LIBSEV_STATUS_KERNEL_REJECTED);
    EXPECT(e, libsev_snp_launch_update(g, 0x1000, page, PAGE, 7, &e), LIBSEV_STATUS_KERNEL_REJECTED);
    EXPECT(e, libsev_snp_launch_update(g, 0x1000, page, PAGE, 255, &e), LIBSEV_STATUS_KERNEL_REJECTED);
    CHECK(e.os_errno == EINVAL);
    EXPECT(e, libsev_snp_launch_update(g, 0xFFFFFFFFFFFFF000ull, page, 2 * PAGE, 1, &e), LIBSEV_STATUS_KERNEL_REJECTED);
    EXPECT(e, libsev_snp_launch_update(g, 0xFFFFFFFFFFFFE000ull, NULL, 4 * PAGE, LIBSEV_SNP_PAGE_ZERO, &e), LIBSEV_STATUS_KERNEL_REJECTED);
    CHECK(!page_launched(g, 0xFFFFFFFFFFFFE000ull));
    EXPECT(e, libsev_snp_launch_update(g, 0x1000, page, 0, 1, &e), LIBSEV_STATUS_OK);
    EXPECT(e, libsev_snp_launch_update(g, 0x1000, NULL, 0, 1, &e), LIBSEV_STATUS_OK);
    CHECK(!page_launched(g, 0x1000));
    /* Unaligned source data is fine; ZERO ignores data. */
    EXPECT(e, libsev_snp_launch_update(g, 0x1000, page + 1, PAGE, 1, &e), LIBSEV_STATUS_OK);
    EXPECT(e, libsev_snp_launch_update(g, 0x2000, page + 3, PAGE, LIBSEV_SNP_PAGE_ZERO, &e), LIBSEV_STATUS_OK);
    /* Overlap: EIO, firmware status 0; the pages before it stay launched. */
    EXPECT(e, libsev_snp_launch_update(g, 0x0000, page, 2 * PAGE, 1, &e), LIBSEV_STATUS_OS_ERROR);
    CHECK(e.os_errno == EIO && e.fw_error == 0);
    CHECK(page_launched(g, 0x0000));
    CHECK(strstr(e.message, "4096 of 8192") != NULL);

    /* launch_finish lengths. */
    EXPECT(e, libsev_snp_launch_finish(g, block, 95, auth, 4096, 0, 0, NULL, &e), LIBSEV_STATUS_INVALID_LENGTH);
    EXPECT(e, libsev_snp_launch_finish(g, block, 97, auth, 4096, 0, 0, NULL, &e), LIBSEV_STATUS_INVALID_LENGTH);
    EXPECT(e, libsev_snp_launch_finish(g, block, 96, auth, 4095, 0, 0, NULL, &e), LIBSEV_STATUS_INVALID_LENGTH);
    EXPECT(e, libsev_snp_launch_finish(g, block, SIZE_MAX, auth, 4096, 0, 0, NULL, &e), LIBSEV_STATUS_INVALID_LENGTH);
    EXPECT(e, libsev_snp_launch_finish(g, block, 96, auth, SIZE_MAX, 0, 0, NULL, &e), LIBSEV_STATUS_INVALID_LENGTH);
    EXPECT(e, libsev_snp_launch_finish(g, block, 96, NULL, 0, 0, 0, NULL, &e), LIBSEV_STATUS_INVALID_ARGUMENT);
    EXPECT(e, libsev_snp_launch_finish(g, NULL, 0, auth, 4096, 0, 0, NULL, &e), LIBSEV_STATUS_INVALID_ARGUMENT);
    /* Unreadable ID block / auth: the kernel's EFAULT, the launch still finishable? No:
     * "not repeatable" only after the firmware ran; EFAULT is before it. */
    {
        uint8_t *bad = unmapped(PAGE);
        uint8_t *none = map_prot(PAGE, PROT_NONE);
        EXPECT(e, libsev_snp_launch_finish(g, bad, 96, auth, 4096, 0, 0, NULL, &e), LIBSEV_STATUS_OS_ERROR);
        CHECK(e.os_errno == EFAULT);
        EXPECT(e, libsev_snp_launch_finish(g, block, 96, none, 4096, 0, 0, NULL, &e), LIBSEV_STATUS_OS_ERROR);
        CHECK(e.os_errno == EFAULT);
        munmap(none, PAGE);
    }
    /* The platform's VLEK lengths. */
    EXPECT(e, libsev_snp_vlek_load(plat, page, 0, &e), LIBSEV_STATUS_INVALID_LENGTH);
    EXPECT(e, libsev_snp_vlek_load(plat, page, LIBSEV_SNP_VLEK_WRAPPED_LEN - 1, &e), LIBSEV_STATUS_INVALID_LENGTH);
    EXPECT(e, libsev_snp_vlek_load(plat, page, LIBSEV_SNP_VLEK_WRAPPED_LEN + 1, &e), LIBSEV_STATUS_INVALID_LENGTH);
    EXPECT(e, libsev_snp_vlek_load(plat, page, SIZE_MAX, &e), LIBSEV_STATUS_INVALID_LENGTH);
    EXPECT(e, libsev_snp_vlek_load(plat, page, (size_t)1 << 41, &e), LIBSEV_STATUS_INVALID_LENGTH);
    {
        uint8_t *bad = unmapped(PAGE);
        EXPECT(e, libsev_snp_vlek_load(plat, bad, LIBSEV_SNP_VLEK_WRAPPED_LEN, &e), LIBSEV_STATUS_OS_ERROR);
        CHECK(e.os_errno == EFAULT);
    }
    /* The certificate table's buffer rule. */
    {
        uint8_t *t = malloc(model_table.n);
        size_t need = 0;
        memset(t, 0x5a, model_table.n);
        EXPECT(e, libsev_snp_model_cert_table(plat, t, model_table.n - 1, &need, &e), LIBSEV_STATUS_BUFFER_TOO_SMALL);
        CHECK(need == model_table.n && all_bytes(t, model_table.n, 0x5a));
        EXPECT(e, libsev_snp_model_cert_table(plat, NULL, 100, &need, &e), LIBSEV_STATUS_BUFFER_TOO_SMALL);
        /* A length no buffer of this process can have: refused, nothing written. */
        EXPECT(e, libsev_snp_model_cert_table(plat, t, SIZE_MAX, &need, &e), LIBSEV_STATUS_INVALID_LENGTH);
        CHECK(need == model_table.n);
        free(t);
    }
    free(auth);
    libsev_snp_guest_free(g);
}

/* ---- 4. hostile source memory for SNP_LAUNCH_UPDATE ---------------------------------------- */

/* D1: a PROT_NONE source. Header: "unreadable data: EFAULT". */
static void prot_none_source(void *arg) {
    libsev_error e;
    libsev_snp_guest *g = guest(1, 1);
    uint8_t *none = map_prot(PAGE, PROT_NONE);
    (void)arg;
    EXPECT(e, libsev_snp_launch_update(g, 0x10000, none, PAGE, LIBSEV_SNP_PAGE_NORMAL, &e), LIBSEV_STATUS_OS_ERROR);
    CHECK(e.os_errno == EIO && e.fw_error == 0);
    CHECK(!page_launched(g, 0x10000));
    libsev_snp_guest_free(g);
}

/* D1: a readable page followed by a PROT_NONE one: EFAULT, the first page launched. */
static void prot_none_tail(void *arg) {
    libsev_error e;
    libsev_snp_guest *g = guest(1, 1);
    uint8_t *m = map_prot(2 * PAGE, PROT_READ | PROT_WRITE);
    (void)arg;
    mprotect(m + PAGE, PAGE, PROT_NONE);
    EXPECT(e, libsev_snp_launch_update(g, 0x10000, m, 2 * PAGE, LIBSEV_SNP_PAGE_NORMAL, &e), LIBSEV_STATUS_OS_ERROR);
    CHECK(e.os_errno == EIO && e.fw_error == 0);
    CHECK(strstr(e.message, "4096 of 8192") != NULL);
    CHECK(!page_launched(g, 0x11000));
    libsev_snp_guest_free(g);
}

/* D1: a CPUID page that is PROT_NONE (read and written back by the firmware). */
static void prot_none_cpuid(void *arg) {
    libsev_error e;
    libsev_snp_guest *g = guest(1, 1);
    uint8_t *none = map_prot(PAGE, PROT_NONE);
    (void)arg;
    EXPECT(e, libsev_snp_launch_update(g, 0x10000, none, PAGE, LIBSEV_SNP_PAGE_CPUID, &e), LIBSEV_STATUS_OS_ERROR);
    CHECK(e.os_errno == EIO && e.fw_error == 0);
    libsev_snp_guest_free(g);
}

/* D1: a shared file mapping past the end of its (empty) file: SIGBUS on access. */
static void past_eof_source(void *arg) {
    libsev_error e;
    libsev_snp_guest *g = guest(1, 1);
    char path[] = "/tmp/snp_hostile_XXXXXX";
    int fd = mkstemp(path);
    uint8_t *m;
    (void)arg;
    if (fd < 0)
        return;
    unlink(path);
    m = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED)
        return;
    EXPECT(e, libsev_snp_launch_update(g, 0x10000, m, PAGE, LIBSEV_SNP_PAGE_NORMAL, &e), LIBSEV_STATUS_OS_ERROR);
    CHECK(e.os_errno == EIO && e.fw_error == 0);
    libsev_snp_guest_free(g);
    close(fd);
}

/* D7: unmapped source: the header says EFAULT; the model gives EIO. */
static void unmapped_source(void *arg) {
    libsev_error e;
    libsev_snp_guest *g = guest(1, 1);
    uint8_t *bad = unmapped(2 * PAGE);
    int t;
    static const uint8_t types[] = {LIBSEV_SNP_PAGE_NORMAL, LIBSEV_SNP_PAGE_UNMEASURED,
                                    LIBSEV_SNP_PAGE_SECRETS, LIBSEV_SNP_PAGE_CPUID};
    (void)arg;
    for (t = 0; t < 4; t++) {
        uint64_t gpa = 0x20000 + 0x1000 * (uint64_t)t;
        EXPECT(e, libsev_snp_launch_update(g, gpa, bad, PAGE, types[t], &e), LIBSEV_STATUS_OS_ERROR);
        if (e.os_errno != EIO || e.fw_error != 0) {
            fprintf(stderr, "D7: unmapped source data (page type %u) gives errno %d, not "
                            "KVM's EIO: %s\n", types[t], e.os_errno, e.message);
            failures++;
        }
        CHECK(!page_launched(g, gpa));
    }
    libsev_snp_guest_free(g);
}

/* D3: a length no buffer can have (a readable page, then nothing mapped): refused before
 * anything is read or launched. */
static void impossible_length(void *arg) {
    libsev_error e;
    libsev_snp_guest *g = guest(1, 1);
    uint8_t *m = map_prot(2 * PAGE, PROT_READ | PROT_WRITE);
    (void)arg;
    munmap(m + PAGE, PAGE);
    EXPECT(e, libsev_snp_launch_update(g, 0x40000, m, 0xFFFFFFFFFFFFF000ull, LIBSEV_SNP_PAGE_NORMAL, &e),
           LIBSEV_STATUS_INVALID_LENGTH);
    if (page_launched(g, 0x40000)) {
        fprintf(stderr, "D3: a length of 2^64-4096 bytes was not refused: the page was read and launched\n");
        failures++;
    }
    EXPECT(e, libsev_snp_launch_update(g, 0x80000, m, 0x8000000000000000ull, LIBSEV_SNP_PAGE_NORMAL, &e),
           LIBSEV_STATUS_INVALID_LENGTH);
    libsev_snp_guest_free(g);
}

static size_t rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, res = 0;
    if (f != NULL) {
        if (fscanf(f, "%lu %lu", &size, &res) != 2)
            res = 0;
        fclose(f);
    }
    return (size_t)res * (size_t)sysconf(_SC_PAGESIZE);
}

static size_t rss_start;
static void *rss_watchdog(void *arg) {
    (void)arg;
    for (;;) {
        usleep(20000);
        if (rss_bytes() > rss_start + ((size_t)1 << 30)) {
            fprintf(stderr, "D2: one launch_update of ZERO pages took more than 1 GiB of "
                            "memory (and is still going)\n");
            _exit(3);
        }
    }
    return NULL;
}

/* D2: ZERO pages need no source, so nothing bounds the range but the model: 2 TiB must be
 * refused with a status, not allocated page by page. */
static void zero_range_dos(void *arg) {
    libsev_error e;
    libsev_snp_guest *g = guest(1, 1);
    pthread_t t;
    uint32_t s;
    (void)arg;
    rss_start = rss_bytes();
    pthread_create(&t, NULL, rss_watchdog, NULL);
    memset(&e, 0, sizeof e);
    s = libsev_snp_launch_update(g, 1ull << 32, NULL, (size_t)1 << 41, LIBSEV_SNP_PAGE_ZERO, &e);
    CHECK(s != LIBSEV_STATUS_OK && s != LIBSEV_STATUS_INTERNAL && e.message[0] != 0);
    libsev_snp_guest_free(g);
}

static void read_only_bad_cpuid(void *arg) {
    libsev_error e;
    libsev_snp_guest *g = guest(1, 1);
    uint8_t *m = map_prot(PAGE, PROT_READ | PROT_WRITE), sent[PAGE];
    (void)arg;
    cpuid_page(m, 1);
    memcpy(sent, m, PAGE);
    mprotect(m, PAGE, PROT_READ);
    EXPECT(e, libsev_snp_launch_update(g, 0x5000, m, PAGE, LIBSEV_SNP_PAGE_CPUID, &e), LIBSEV_STATUS_FW_INVALID_PARAM);
    CHECK(memcmp(m, sent, PAGE) == 0);
    /* a read-only good CPUID page and a read-only SECRETS page are fine */
    mprotect(m, PAGE, PROT_READ | PROT_WRITE);
    cpuid_page(m, 0);
    mprotect(m, PAGE, PROT_READ);
    EXPECT(e, libsev_snp_launch_update(g, 0x6000, m, PAGE, LIBSEV_SNP_PAGE_CPUID, &e), LIBSEV_STATUS_OK);
    EXPECT(e, libsev_snp_launch_update(g, 0x7000, map_prot(PAGE, PROT_READ), PAGE, LIBSEV_SNP_PAGE_SECRETS, &e),
           LIBSEV_STATUS_OK);
    libsev_snp_guest_free(g);
}

static void cpuid_pages(void) {
    libsev_error e;
    libsev_snp_guest *g = guest(1, 1);
    uint8_t *m = map_prot(4 * PAGE, PROT_READ | PROT_WRITE), sent[2 * PAGE];

    /* One refused page (unaligned buffer): FW_INVALID_PARAM, corrected in place, nothing
     * written around it. */
    memset(m, 0x77, 4 * PAGE);
    cpuid_page(m + 5, 1);
    memcpy(sent, m + 5, PAGE);
    EXPECT(e, libsev_snp_launch_update(g, 0x5000, m + 5, PAGE, LIBSEV_SNP_PAGE_CPUID, &e), LIBSEV_STATUS_FW_INVALID_PARAM);
    CHECK(e.fw_error == 0x16 && e.os_errno == EIO);
    CHECK(memcmp(m + 5, sent, PAGE) != 0);
    CHECK(all_bytes(m, 5, 0x77) && all_bytes(m + 5 + PAGE, 3 * PAGE - 5, 0x77));
    CHECK(!page_launched(g, 0x5000));
    /* Too many entries. */
    cpuid_page(m, 0);
    put32(m, 65);
    EXPECT(e, libsev_snp_launch_update(g, 0x6000, m, PAGE, LIBSEV_SNP_PAGE_CPUID, &e), LIBSEV_STATUS_FW_INVALID_PARAM);

    /* D6: two pages, the second refused: the header's answer is FW_INVALID_PARAM with the
     * page corrected; libsev retries the corrected page and reports success. */
    cpuid_page(m, 0);
    cpuid_page(m + PAGE, 1);
    memcpy(sent, m, 2 * PAGE);
    memset(&e, 0, sizeof e);
    {
        uint32_t s = libsev_snp_launch_update(g, 0x8000, m, 2 * PAGE, LIBSEV_SNP_PAGE_CPUID, &e);
        if (s != LIBSEV_STATUS_FW_INVALID_PARAM) {
            fprintf(stderr, "D6: a 2-page CPUID update whose 2nd page the firmware refuses "
                            "returns %u (%s); the 2nd page was %s\n", s, libsev_status_str(s),
                    memcmp(m + PAGE, sent + PAGE, PAGE) != 0 ? "rewritten with the firmware's values and launched"
                                                             : "unchanged");
            failures++;
        } else {
            CHECK(memcmp(m + PAGE, sent + PAGE, PAGE) != 0); /* corrected */
            CHECK(strstr(e.message, "4096 of 8192") != NULL);
        }
        CHECK(memcmp(m, sent, PAGE) == 0); /* the accepted first page is left alone */
    }
    munmap(m, 4 * PAGE);
    libsev_snp_guest_free(g);
}

/* ---- 5. attach ------------------------------------------------------------------------------ */

static void attach(void) {
    libsev_error e;
    libsev_snp_guest *g = (libsev_snp_guest *)0x1;
    int fd = open("/dev/null", O_RDWR);

    /* A model platform accepts any open fd and never closes it. */
    EXPECT(e, libsev_snp_guest_attach(plat, fd, &g, &e), LIBSEV_STATUS_OK);
    CHECK(g != (libsev_snp_guest *)0x1 && libsev_snp_guest_vm_fd(g) == fd);
    libsev_snp_guest_free(g);
    CHECK(fcntl(fd, F_GETFD) != -1);
    close(fd);
    /* D5: a closed fd: "Statuses as libsev_guest_attach": BAD_FD, EBADF, CMD_NONE. */
    g = (libsev_snp_guest *)0x1;
    EXPECT(e, libsev_snp_guest_attach(plat, fd, &g, &e), LIBSEV_STATUS_BAD_FD);
    CHECK(e.os_errno == EBADF && e.command == LIBSEV_CMD_NONE);
    if (g != (libsev_snp_guest *)0x1) {
        fprintf(stderr, "D5: libsev_snp_guest_attach accepted the closed fd %d\n", fd);
        libsev_snp_guest_free(g);
        g = (libsev_snp_guest *)0x1;
    }
    EXPECT(e, libsev_snp_guest_attach(plat, INT32_MAX, &g, &e), LIBSEV_STATUS_BAD_FD);
    if (g != (libsev_snp_guest *)0x1) {
        libsev_snp_guest_free(g);
        g = (libsev_snp_guest *)0x1;
    }
    EXPECT(e, libsev_snp_guest_attach(plat, -1, &g, &e), LIBSEV_STATUS_INVALID_ARGUMENT);
    CHECK(e.command == LIBSEV_CMD_NONE);
    EXPECT(e, libsev_snp_guest_attach(plat, INT32_MIN, &g, &e), LIBSEV_STATUS_INVALID_ARGUMENT);
    CHECK(g == (libsev_snp_guest *)0x1);
    /* the legacy call, for comparison (passes) */
    {
        libsev_guest *lg = (libsev_guest *)0x1;
        EXPECT(e, libsev_guest_attach(plat, fd, &lg, &e), LIBSEV_STATUS_BAD_FD);
        CHECK(lg == (libsev_guest *)0x1 && e.os_errno == EBADF && e.command == LIBSEV_CMD_NONE);
    }
}

/* ---- 6. reports from the model --------------------------------------------------------------- */

static void model_reports(void) {
    libsev_error e;
    libsev_snp_guest *g = launched();
    libsev_snp_chain *c = model_chain();
    libsev_snp_policy pol;
    libsev_snp_verdict v;
    uint8_t r[LIBSEV_SNP_REPORT_LEN + 64], rd[64];
    static const uint32_t bad_vmpl[] = {4, 5, 255, 256, 0x80000000u, UINT32_MAX};
    size_t i;

    memset(rd, 0xC3, sizeof rd);
    memset(&pol, 0, sizeof pol);
    for (i = 0; i <= 3; i++) {
        EXPECT(e, libsev_snp_guest_model_report(g, rd, (uint32_t)i, r, &e), LIBSEV_STATUS_OK);
        CHECK(get32(r + 0x30) == i);
        EXPECT(e, libsev_snp_report_verify(r, LIBSEV_SNP_REPORT_LEN, c, &pol, &v, &e), LIBSEV_STATUS_OK);
    }
    /* D4: "A refusal inside the response (a vmpl above 3, ...) is LIBSEV_STATUS_FW_*". */
    for (i = 0; i < sizeof bad_vmpl / sizeof bad_vmpl[0]; i++) {
        uint32_t s;
        memset(r, 0x5a, sizeof r);
        memset(&e, 0, sizeof e);
        s = libsev_snp_guest_model_report(g, rd, bad_vmpl[i], r, &e);
        /* D4: firmware 1.55.25 does not refuse a VMPL above 3 (snp-spec 4.2): the report
         * carries it, and an owner cannot expect such a VMPL. */
        if (s != LIBSEV_STATUS_OK || get32(r + 0x30) != bad_vmpl[i]) {
            fprintf(stderr, "D4: a report for VMPL %u: status %u (%s)\n", bad_vmpl[i], s,
                    libsev_status_str(s));
            failures++;
        }
    }
    /* The output may overlap the report data (it is read first). */
    memset(r, 0xC3, sizeof r);
    EXPECT(e, libsev_snp_guest_model_report(g, r + 0x50, 0, r, &e), LIBSEV_STATUS_OK);
    CHECK(all_bytes(r + 0x50, 64, 0xC3));
    EXPECT(e, libsev_snp_guest_model_report(g, r, 0, r, &e), LIBSEV_STATUS_OK);
    /* Measurement and pages. */
    {
        uint8_t d[48 + 16];
        memset(d, 0x5a, sizeof d);
        EXPECT(e, libsev_snp_guest_model_measurement(g, d + 1, &e), LIBSEV_STATUS_OK);
        CHECK(d[0] == 0x5a && all_bytes(d + 49, 15, 0x5a));
    }
    /* A guest without a secrets page: no report, nothing written. */
    {
        libsev_snp_guest *h = guest(1, 1);
        MUST_E(e, libsev_snp_launch_finish(h, NULL, 0, NULL, 0, 0, 0, NULL, &e));
        memset(r, 0x5a, sizeof r);
        EXPECT(e, libsev_snp_guest_model_report(h, rd, 0, r, &e), LIBSEV_STATUS_FW_INVALID_PARAM);
        CHECK(all_bytes(r, sizeof r, 0x5a));
        libsev_snp_guest_free(h);
    }
    /* vcek_disabled and no VLEK: FW INVALID_KEY, nothing written. */
    {
        libsev_snp_guest *h = guest(1, 1);
        uint8_t page[PAGE];
        memset(page, 0, sizeof page);
        MUST_E(e, libsev_snp_launch_update(h, 0x1000, page, PAGE, LIBSEV_SNP_PAGE_SECRETS, &e));
        MUST_E(e, libsev_snp_launch_finish(h, NULL, 0, NULL, 0, 0, 1, NULL, &e));
        memset(r, 0x5a, sizeof r);
        EXPECT(e, libsev_snp_guest_model_report(h, rd, 0, r, &e), LIBSEV_STATUS_FW_INVALID_KEY);
        CHECK(all_bytes(r, sizeof r, 0x5a));
        libsev_snp_guest_free(h);
    }
    libsev_snp_chain_free(c);
    libsev_snp_guest_free(g);
}

/* ---- 7. the platform commands and what the verifier makes of their effects ------------------- */

static void platform_commands(void) {
    libsev_error e;
    libsev_model_config cfg;
    libsev_platform *q = NULL, *keep = plat;
    libsev_snp_platform_status_info st, st2;
    libsev_snp_policy pol;
    libsev_snp_verdict v;
    libsev_snp_chain *c;
    libsev_snp_guest *g;
    uint8_t seed[LIBSEV_MODEL_SEED_LEN], r[LIBSEV_SNP_REPORT_LEN], rd[64], sticks[LIBSEV_SNP_VLEK_WRAPPED_LEN],
        blob[LIBSEV_SNP_VLEK_WRAPPED_LEN];

    /* A private model platform: these commands change it. */
    memset(seed, 0x71, sizeof seed);
    MUST_E(e, libsev_model_config_init(&cfg));
    cfg.seed = seed;
    MUST_E(e, libsev_platform_new_model(&cfg, &q, &e));
    plat = q;
    memset(rd, 1, sizeof rd);
    memset(&pol, 0, sizeof pol);
    MUST_E(e, libsev_snp_platform_status(q, &st, &e));
    {
        struct buf save[4] = {model_table, m_ark, m_ask, m_vcek};
        load_model_certs();
        c = model_chain();
        /* Garbage reported TCBs are refused (never above the committed), status untouched. */
        EXPECT(e, libsev_snp_set_config(q, UINT64_MAX, 0, 0, &e), LIBSEV_STATUS_FW_INVALID_PARAM);
        EXPECT(e, libsev_snp_set_config(q, st.reported_tcb + (1ull << 56), 0, 0, &e), LIBSEV_STATUS_FW_INVALID_PARAM);
        MUST_E(e, libsev_snp_platform_status(q, &st2, &e));
        CHECK(st2.reported_tcb == st.reported_tcb && st2.mask_chip_id == 0 && st2.mask_chip_key == 0);
        /* Masked chip id: refused unless allowed. Any non-zero int is "true". */
        EXPECT(e, libsev_snp_set_config(q, 0, 2, 0, &e), LIBSEV_STATUS_OK);
        g = launched();
        MUST_E(e, libsev_snp_guest_model_report(g, rd, 0, r, &e));
        CHECK(all_bytes(r + 0x1A0, 64, 0));
        EXPECT(e, libsev_snp_report_verify(r, sizeof r, c, &pol, &v, &e), LIBSEV_STATUS_REPORT_CHECK_FAILED);
        CHECK(v.failed == LIBSEV_SNP_CHECK_CHIP_ID);
        pol.expect = LIBSEV_SNP_ALLOW_MASKED_CHIP_ID;
        EXPECT(e, libsev_snp_report_verify(r, sizeof r, c, &pol, &v, &e), LIBSEV_STATUS_OK);
        pol.expect = 0;
        libsev_snp_guest_free(g);
        /* Masked chip key: an unsigned report never verifies. */
        EXPECT(e, libsev_snp_set_config(q, 0, 0, -1, &e), LIBSEV_STATUS_OK);
        g = launched();
        MUST_E(e, libsev_snp_guest_model_report(g, rd, 0, r, &e));
        EXPECT(e, libsev_snp_report_verify(r, sizeof r, c, &pol, &v, &e), LIBSEV_STATUS_REPORT_CHECK_FAILED);
        CHECK(v.failed & LIBSEV_SNP_CHECK_SIGNATURE);
        libsev_snp_guest_free(g);
        EXPECT(e, libsev_snp_set_config(q, 0, 0, 0, &e), LIBSEV_STATUS_OK);
        /* VLEK: wrapped with overlapping in/out, garbage TCB refused at load, tampering
         * refused; a VLEK-signed report does not verify with the VCEK chain. */
        memset(sticks, 9, sizeof sticks);
        EXPECT(e, libsev_snp_model_wrap_vlek(q, sticks, UINT64_MAX, blob, &e), LIBSEV_STATUS_OK);
        EXPECT(e, libsev_snp_vlek_load(q, blob, sizeof blob, &e), LIBSEV_STATUS_FW_BAD_SVN);
        EXPECT(e, libsev_snp_model_wrap_vlek(q, sticks, st.reported_tcb, sticks, &e), LIBSEV_STATUS_OK);
        memcpy(blob, sticks, sizeof blob);
        blob[100] ^= 1;
        EXPECT(e, libsev_snp_vlek_load(q, blob, sizeof blob, &e), LIBSEV_STATUS_FW_BAD_MEASUREMENT);
        MUST_E(e, libsev_snp_platform_status(q, &st2, &e));
        CHECK(st2.vlek_en == 0);
        EXPECT(e, libsev_snp_vlek_load(q, sticks, sizeof sticks, &e), LIBSEV_STATUS_OK);
        g = launched();
        MUST_E(e, libsev_snp_guest_model_report(g, rd, 0, r, &e));
        EXPECT(e, libsev_snp_report_verify(r, sizeof r, c, &pol, &v, &e), LIBSEV_STATUS_REPORT_CHECK_FAILED);
        CHECK(v.failed & LIBSEV_SNP_CHECK_SIGNING_KEY);
        libsev_snp_guest_free(g);
        EXPECT(e, libsev_snp_commit(q, &e), LIBSEV_STATUS_OK);
        libsev_snp_chain_free(c);
        free(model_table.p);
        free(m_ark.p);
        free(m_ask.p);
        free(m_vcek.p);
        model_table = save[0];
        m_ark = save[1];
        m_ask = save[2];
        m_vcek = save[3];
    }
    plat = keep;
    libsev_platform_free(q);
}

/* ---- 8. chains ------------------------------------------------------------------------------- */

static uint32_t verify_chain(const uint8_t *a, size_t an, const uint8_t *s, size_t sn,
                             const uint8_t *l, size_t ln, uint32_t gen, uint32_t flags,
                             libsev_error *e) {
    libsev_snp_chain *c = (libsev_snp_chain *)0x1;
    uint32_t st;
    memset(e, 0x5a, sizeof *e);
    st = libsev_snp_chain_verify(a, an, s, sn, l, ln, gen, flags, &c, e);
    if (st == LIBSEV_STATUS_OK) {
        libsev_snp_chain_free(c);
    } else {
        CHECK(c == (libsev_snp_chain *)0x1);
        CHECK(e->status == st && e->message[0] != 0);
    }
    return st;
}

static char *to_pem(const struct buf *der, const char *pre, const char *post) {
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i, o = 0;
    char *s = malloc(der->n * 2 + strlen(pre) + strlen(post) + 100);
    o += (size_t)sprintf(s, "%s-----BEGIN CERTIFICATE-----\n", pre);
    for (i = 0; i < der->n; i += 3) {
        uint32_t v = (uint32_t)der->p[i] << 16;
        size_t k = der->n - i;
        if (k > 1)
            v |= (uint32_t)der->p[i + 1] << 8;
        if (k > 2)
            v |= der->p[i + 2];
        s[o++] = t[v >> 18];
        s[o++] = t[(v >> 12) & 63];
        s[o++] = k > 1 ? t[(v >> 6) & 63] : '=';
        s[o++] = k > 2 ? t[v & 63] : '=';
        if ((i / 3) % 16 == 15)
            s[o++] = '\n';
    }
    o += (size_t)sprintf(s + o, "\n-----END CERTIFICATE-----\n%s", post);
    return s;
}

static void chains(void) {
    libsev_error e;
    const uint32_t T = LIBSEV_VERIFY_ALLOW_TEST_ROOT;
    struct buf a = m_ark, s = m_ask, l = m_vcek;
    uint8_t *b;
    size_t i, n, stride = under_valgrind() ? 61 : 7;
    uint32_t st;

    CHECK(verify_chain(a.p, a.n, s.p, s.n, l.p, l.n, 0, T, &e) == LIBSEV_STATUS_OK);
    CHECK(verify_chain(a.p, a.n, s.p, s.n, l.p, l.n, 0, 0, &e) == LIBSEV_STATUS_TEST_ROOT_NOT_ALLOWED);
    CHECK(verify_chain(a.p, a.n, s.p, s.n, l.p, l.n, 4, T, &e) == LIBSEV_STATUS_INVALID_ARGUMENT);
    CHECK(verify_chain(a.p, a.n, s.p, s.n, l.p, l.n, UINT32_MAX, T, &e) == LIBSEV_STATUS_INVALID_ARGUMENT);
    CHECK(verify_chain(a.p, a.n, s.p, s.n, l.p, l.n, 0, UINT32_MAX, &e) == LIBSEV_STATUS_INVALID_ARGUMENT);
    CHECK(verify_chain(a.p, 0, s.p, s.n, l.p, l.n, 0, T, &e) == LIBSEV_STATUS_INVALID_LENGTH);
    CHECK(verify_chain(NULL, 0, s.p, s.n, l.p, l.n, 0, T, &e) == LIBSEV_STATUS_INVALID_LENGTH);
    CHECK(verify_chain(a.p, a.n, s.p, 0, l.p, l.n, 0, T, &e) == LIBSEV_STATUS_INVALID_LENGTH);
    CHECK(verify_chain(a.p, a.n, s.p, s.n, l.p, 0, 0, T, &e) == LIBSEV_STATUS_INVALID_LENGTH);
    CHECK(verify_chain(a.p, SIZE_MAX, s.p, s.n, l.p, l.n, 0, T, &e) == LIBSEV_STATUS_INVALID_LENGTH);
    /* Wrong roles. */
    CHECK(verify_chain(s.p, s.n, a.p, a.n, l.p, l.n, 0, T, &e) == LIBSEV_STATUS_BAD_CERTIFICATE);
    CHECK(verify_chain(a.p, a.n, a.p, a.n, a.p, a.n, 0, T, &e) == LIBSEV_STATUS_BAD_CERTIFICATE);
    CHECK(verify_chain(l.p, l.n, l.p, l.n, l.p, l.n, 0, T, &e) == LIBSEV_STATUS_BAD_CERTIFICATE);
    st = verify_chain(a.p, a.n, s.p, s.n, s.p, s.n, 0, T, &e);
    CHECK(st == LIBSEV_STATUS_CHAIN_BROKEN || st == LIBSEV_STATUS_BAD_CERTIFICATE);
    /* Truncations (sampled) and trailing bytes. */
    for (n = 1; n < l.n; n += (n < 64 ? 1 : 37))
        CHECK(verify_chain(a.p, a.n, s.p, s.n, l.p, n, 0, T, &e) == LIBSEV_STATUS_BAD_CERTIFICATE);
    b = malloc(l.n + 16);
    memcpy(b, l.p, l.n);
    memset(b + l.n, 0, 16);
    CHECK(verify_chain(a.p, a.n, s.p, s.n, b, l.n + 16, 0, T, &e) == LIBSEV_STATUS_BAD_CERTIFICATE);
    /* Flipped bytes of the leaf and the ASK (sampled): never accepted. */
    for (i = 0; i < l.n; i += stride) {
        memcpy(b, l.p, l.n);
        b[i] ^= 0x40;
        st = verify_chain(a.p, a.n, s.p, s.n, b, l.n, 0, T, &e);
        CHECK(st == LIBSEV_STATUS_BAD_CERTIFICATE || st == LIBSEV_STATUS_BAD_SIGNATURE || st == LIBSEV_STATUS_CHAIN_BROKEN);
    }
    free(b);
    b = malloc(s.n);
    for (i = 0; i < s.n; i += stride * 2) {
        memcpy(b, s.p, s.n);
        b[i] ^= 0x01;
        st = verify_chain(a.p, a.n, b, s.n, l.p, l.n, 0, T, &e);
        CHECK(st != LIBSEV_STATUS_OK && st != LIBSEV_STATUS_INTERNAL && st >= 2000 && st < 2100);
    }
    free(b);
    /* PEM forms: accepted as such; malformed PEM refused. */
    {
        char *p1 = to_pem(&a, "", ""), *p2 = to_pem(&a, "leading text\n", ""), *p3;
        CHECK(verify_chain((uint8_t *)p1, strlen(p1), s.p, s.n, l.p, l.n, 0, T, &e) == LIBSEV_STATUS_OK);
        CHECK(verify_chain((uint8_t *)p2, strlen(p2), s.p, s.n, l.p, l.n, 0, T, &e) == LIBSEV_STATUS_OK);
        p3 = to_pem(&a, "", "\xff\xfe binary tail");
        CHECK(verify_chain((uint8_t *)p3, strlen(p3), s.p, s.n, l.p, l.n, 0, T, &e) == LIBSEV_STATUS_BAD_CERTIFICATE);
        free(p3);
        p3 = malloc(strlen(p1) * 2 + 2);
        if (p3 == NULL)
            exit(1);
        sprintf(p3, "%s%s", p1, p1); /* two certificates where one is expected */
        CHECK(verify_chain((uint8_t *)p3, strlen(p3), s.p, s.n, l.p, l.n, 0, T, &e) == LIBSEV_STATUS_BAD_CERTIFICATE);
        strcpy(p3, p1);
        p3[40] = '!';
        CHECK(verify_chain((uint8_t *)p3, strlen(p1), s.p, s.n, l.p, l.n, 0, T, &e) == LIBSEV_STATUS_BAD_CERTIFICATE);
        p3[40] = 0;
        CHECK(verify_chain((uint8_t *)p3, strlen(p1), s.p, s.n, l.p, l.n, 0, T, &e) == LIBSEV_STATUS_BAD_CERTIFICATE);
        CHECK(verify_chain((uint8_t *)p1, strlen(p1) - 20, s.p, s.n, l.p, l.n, 0, T, &e) == LIBSEV_STATUS_BAD_CERTIFICATE);
        CHECK(verify_chain((const uint8_t *)"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n", 55, s.p,
                           s.n, l.p, l.n, 0, T, &e) == LIBSEV_STATUS_BAD_CERTIFICATE);
        free(p1);
        free(p2);
        free(p3);
    }
    /* Hostile DER: lengths of 4 GiB and 2^64, 200000 nested SEQUENCEs, indefinite lengths,
     * 32 MiB of PEM. */
    {
        static const uint8_t d1[] = {0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x30, 0x00};
        static const uint8_t d2[] = {0x30, 0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x30};
        size_t depth = under_valgrind() ? 20000 : 200000, big = depth * 6;
        uint8_t *nest = malloc(big);
        CHECK(verify_chain(d1, sizeof d1, s.p, s.n, l.p, l.n, 0, T, &e) == LIBSEV_STATUS_BAD_CERTIFICATE);
        CHECK(verify_chain(a.p, a.n, s.p, s.n, d2, sizeof d2, 0, T, &e) == LIBSEV_STATUS_BAD_CERTIFICATE);
        for (i = 0; i < depth; i++) {
            size_t rem = big - (i + 1) * 6;
            nest[i * 6] = 0x30;
            nest[i * 6 + 1] = 0x84;
            nest[i * 6 + 2] = (uint8_t)(rem >> 24);
            nest[i * 6 + 3] = (uint8_t)(rem >> 16);
            nest[i * 6 + 4] = (uint8_t)(rem >> 8);
            nest[i * 6 + 5] = (uint8_t)rem;
        }
        CHECK(verify_chain(a.p, a.n, s.p, s.n, nest, big, 0, T, &e) == LIBSEV_STATUS_BAD_CERTIFICATE);
        CHECK(verify_chain(nest, big, s.p, s.n, l.p, l.n, 0, T, &e) == LIBSEV_STATUS_BAD_CERTIFICATE);
        for (i = 0; i < big; i += 2) {
            nest[i] = 0x30;
            nest[i + 1] = 0x80;
        }
        CHECK(verify_chain(a.p, a.n, s.p, s.n, nest, big, 0, T, &e) == LIBSEV_STATUS_BAD_CERTIFICATE);
        free(nest);
        big = (size_t)32 << 20;
        nest = malloc(big);
        memset(nest, 'Q', big);
        memcpy(nest, "-----BEGIN CERTIFICATE-----\n", 28);
        memcpy(nest + big - 26, "-----END CERTIFICATE-----\n", 26);
        CHECK(verify_chain(nest, big, s.p, s.n, l.p, l.n, 0, T, &e) == LIBSEV_STATUS_BAD_CERTIFICATE);
        free(nest);
    }
    /* AMD's real roots (optional data): the model's VCEK is not theirs. */
    if (have_data) {
        struct buf ark = slurp("builtin/turin/ark.pem"), ask = slurp("builtin/turin/ask.pem");
        struct buf vcek = slurp("turin/vcek.der"), mark = slurp("builtin/milan/ark.pem");
        struct buf askark = slurp("turin/ask_ark.pem");
        CHECK(verify_chain(ark.p, ark.n, ask.p, ask.n, vcek.p, vcek.n, 0, 0, &e) == LIBSEV_STATUS_OK);
        CHECK(verify_chain(ark.p, ark.n, ask.p, ask.n, vcek.p, vcek.n, LIBSEV_SNP_GEN_GENOA, 0, &e) == LIBSEV_STATUS_UNKNOWN_ROOT);
        CHECK(verify_chain(ark.p, ark.n, ask.p, ask.n, l.p, l.n, 0, T, &e) != LIBSEV_STATUS_OK);
        CHECK(verify_chain(a.p, a.n, s.p, s.n, vcek.p, vcek.n, 0, T, &e) != LIBSEV_STATUS_OK);
        CHECK(verify_chain(mark.p, mark.n, ask.p, ask.n, vcek.p, vcek.n, 0, 0, &e) != LIBSEV_STATUS_OK);
        CHECK(verify_chain(askark.p, askark.n, ask.p, ask.n, vcek.p, vcek.n, 0, 0, &e) == LIBSEV_STATUS_BAD_CERTIFICATE);
        CHECK(verify_chain(ask.p, ask.n, ark.p, ark.n, vcek.p, vcek.n, 0, 0, &e) == LIBSEV_STATUS_BAD_CERTIFICATE);
        CHECK(verify_chain(ark.p, ark.n, ask.p, ask.n, ark.p, ark.n, 0, 0, &e) != LIBSEV_STATUS_OK);
        free(ark.p);
        free(ask.p);
        free(vcek.p);
        free(mark.p);
        free(askark.p);
    }
}

/* ---- 9. reports -------------------------------------------------------------------------------- */

static void reports(void) {
    libsev_error e;
    libsev_snp_guest *g = launched();
    libsev_snp_chain *c = model_chain();
    libsev_snp_policy pol;
    libsev_snp_verdict v;
    uint8_t r[LIBSEV_SNP_REPORT_LEN], t[LIBSEV_SNP_REPORT_LEN], rd[64];
    size_t n, i, stride = under_valgrind() ? 23 : 1;
    uint32_t ver;

    memset(rd, 0x9d, sizeof rd);
    memset(&pol, 0, sizeof pol);
    MUST_E(e, libsev_snp_guest_model_report(g, rd, 0, r, &e));
    EXPECT(e, libsev_snp_report_verify(r, sizeof r, c, &pol, &v, &e), LIBSEV_STATUS_OK);
    CHECK(v.failed == 0 && strcmp(v.message, "every check passed") == 0);
    /* Every length 0..1200 but 1184: not a report, verdict untouched. */
    for (n = 0; n <= 1200; n++) {
        uint8_t *cp;
        if (n == sizeof r)
            continue;
        cp = malloc(n ? n : 1);
        memcpy(cp, r, n < sizeof r ? n : sizeof r);
        if (n > sizeof r)
            memset(cp + sizeof r, 0, n - sizeof r);
        memset(&v, 0xAB, sizeof v);
        EXPECT(e, libsev_snp_report_verify(cp, n, c, &pol, &v, &e), LIBSEV_STATUS_BAD_REPORT);
        CHECK(all_bytes((uint8_t *)&v, sizeof v, 0xAB));
        free(cp);
    }
    EXPECT(e, libsev_snp_report_verify(r, SIZE_MAX, c, &pol, &v, &e), LIBSEV_STATUS_INVALID_LENGTH);
    /* Versions outside 2..5. */
    for (ver = 0; ver < 8; ver++) {
        if (ver >= 2 && ver <= 5)
            continue;
        memcpy(t, r, sizeof t);
        put32(t, ver);
        memset(&v, 0xAB, sizeof v);
        EXPECT(e, libsev_snp_report_verify(t, sizeof t, c, &pol, &v, &e), LIBSEV_STATUS_BAD_REPORT);
        CHECK(all_bytes((uint8_t *)&v, sizeof v, 0xAB));
    }
    put32(t, UINT32_MAX);
    EXPECT(e, libsev_snp_report_verify(t, sizeof t, c, &pol, &v, &e), LIBSEV_STATUS_BAD_REPORT);
    /* Every byte flipped (every 23rd under valgrind): never accepted. */
    for (i = 0; i < sizeof r; i += stride) {
        uint32_t s;
        memcpy(t, r, sizeof t);
        t[i] ^= (uint8_t)(1u << (i % 8));
        s = libsev_snp_report_verify(t, sizeof t, c, &pol, &v, &e);
        if (s != LIBSEV_STATUS_BAD_REPORT && s != LIBSEV_STATUS_REPORT_CHECK_FAILED) {
            fprintf(stderr, "report byte %#zx flipped: status %u (%s)\n", i, s, libsev_status_str(s));
            failures++;
        }
    }
    /* Garbage policies: unknown expect bits are refused; every expectation set to 0xFF gives a
     * verdict (message NUL-terminated within its size). */
    pol.expect = 1u << 18;
    EXPECT(e, libsev_snp_report_verify(r, sizeof r, c, &pol, &v, &e), LIBSEV_STATUS_INVALID_ARGUMENT);
    pol.expect = UINT32_MAX;
    EXPECT(e, libsev_snp_report_verify(r, sizeof r, c, &pol, &v, &e), LIBSEV_STATUS_INVALID_ARGUMENT);
    memset(&pol, 0xFF, sizeof pol);
    pol.expect = (1u << 18) - 1;
    pol.vmpl = 3; /* a VMPL above 3 is an argument error (D4) */
    memset(&v, 0xAB, sizeof v);
    EXPECT(e, libsev_snp_report_verify(r, sizeof r, c, &pol, &v, &e), LIBSEV_STATUS_REPORT_CHECK_FAILED);
    CHECK(memchr(v.message, 0, sizeof v.message) != NULL);
    CHECK(v.failed != 0 && (v.failed >> 24) == 0);
    memset(&pol, 0, sizeof pol);
    pol.policy_required = UINT64_MAX;
    EXPECT(e, libsev_snp_report_verify(r, sizeof r, c, &pol, &v, &e), LIBSEV_STATUS_REPORT_CHECK_FAILED);
    CHECK(v.failed == LIBSEV_SNP_CHECK_POLICY);
    memset(&pol, 0, sizeof pol);
    pol.expect = LIBSEV_SNP_EXPECT_VMPL;
    pol.vmpl = UINT32_MAX; /* no VMPL above 3 exists: an argument error (D4) */
    EXPECT(e, libsev_snp_report_verify(r, sizeof r, c, &pol, &v, &e), LIBSEV_STATUS_INVALID_ARGUMENT);
    pol.vmpl = 3;
    EXPECT(e, libsev_snp_report_verify(r, sizeof r, c, &pol, &v, &e), LIBSEV_STATUS_REPORT_CHECK_FAILED);
    CHECK(v.failed == LIBSEV_SNP_CHECK_VMPL);
    memset(&pol, 0, sizeof pol);
    /* The verdict may overlap the report bytes' copy it was given (read first). */
    {
        uint8_t *bv = malloc(sizeof(libsev_snp_verdict) + sizeof r);
        memcpy(bv, r, sizeof r);
        EXPECT(e, libsev_snp_report_verify(bv, sizeof r, c, &pol, (libsev_snp_verdict *)bv, &e), LIBSEV_STATUS_OK);
        free(bv);
    }
    /* The real Turin chain does not verify the model's report. */
    if (have_data) {
        struct buf ark = slurp("builtin/turin/ark.pem"), ask = slurp("builtin/turin/ask.pem");
        struct buf vcek = slurp("turin/vcek.der");
        libsev_snp_chain *tc = NULL;
        MUST_E(e, libsev_snp_chain_verify(ark.p, ark.n, ask.p, ask.n, vcek.p, vcek.n, 0, 0, &tc, &e));
        EXPECT(e, libsev_snp_report_verify(r, sizeof r, tc, &pol, &v, &e), LIBSEV_STATUS_REPORT_CHECK_FAILED);
        CHECK(v.failed & LIBSEV_SNP_CHECK_SIGNATURE);
        libsev_snp_chain_free(tc);
        free(ark.p);
        free(ask.p);
        free(vcek.p);
    }
    libsev_snp_chain_free(c);
    libsev_snp_guest_free(g);
}

/* ---- 10. certificate tables ------------------------------------------------------------------ */

static const uint8_t guid_vcek[16] = {0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64,
                                      0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd};

static void entry(uint8_t *t, int i, const uint8_t *guid, uint32_t off, uint32_t len) {
    if (guid != NULL)
        memcpy(t + 24 * i, guid, 16);
    else
        memset(t + 24 * i, 0x5c, 16);
    put32(t + 24 * i + 16, off);
    put32(t + 24 * i + 20, len);
}

static void table_get(const char *what, const uint8_t *t, size_t tl, uint32_t want) {
    libsev_error e;
    uint8_t out[512];
    size_t ol = 0;
    uint32_t s;
    memset(out, 0x5a, sizeof out);
    memset(&e, 0, sizeof e);
    s = libsev_snp_cert_table_get(t, tl, LIBSEV_SNP_CERT_VCEK, out, sizeof out, &ol, &e);
    if (s != want) {
        fprintf(stderr, "certificate table (%s): status %u (%s), expected %u: %s\n", what, s,
                libsev_status_str(s), want, e.message);
        failures++;
    }
    if (s != LIBSEV_STATUS_OK)
        CHECK(all_bytes(out, sizeof out, 0x5a) && e.message[0] != 0);
}

static void cert_tables(void) {
    libsev_error e;
    uint8_t t[4096];
    size_t i, ol;

    memset(t, 0, sizeof t);
    memset(t + 200, 0x42, 300);
    entry(t, 0, guid_vcek, 200, 100);
    table_get("good", t, sizeof t, LIBSEV_STATUS_OK);
    table_get("only a terminator", t + 24, 24, LIBSEV_STATUS_CHAIN_BROKEN);
    table_get("empty", t, 0, LIBSEV_STATUS_BAD_CERTIFICATE);
    table_get("shorter than an entry", t, 23, LIBSEV_STATUS_BAD_CERTIFICATE);
    for (i = 1; i < 48; i++)
        table_get("truncated", t, i, LIBSEV_STATUS_BAD_CERTIFICATE);
    entry(t, 0, guid_vcek, 4000, 200);
    table_get("past the end", t, sizeof t, LIBSEV_STATUS_BAD_CERTIFICATE);
    entry(t, 0, guid_vcek, 0xFFFFFFF0u, 0x20);
    table_get("offset + length wraps 32 bits", t, sizeof t, LIBSEV_STATUS_BAD_CERTIFICATE);
    entry(t, 0, guid_vcek, 200, 0xFFFFFFFFu);
    table_get("length 4 GiB", t, sizeof t, LIBSEV_STATUS_BAD_CERTIFICATE);
    entry(t, 0, guid_vcek, 200, 0);
    table_get("empty certificate", t, sizeof t, LIBSEV_STATUS_BAD_CERTIFICATE);
    entry(t, 0, guid_vcek, 200, 100);
    entry(t, 1, guid_vcek, 300, 100);
    table_get("duplicate kind", t, sizeof t, LIBSEV_STATUS_BAD_CERTIFICATE);
    memset(t, 0, 48);
    entry(t, 1, guid_vcek, 200, 100);
    table_get("kind after the terminator", t, sizeof t, LIBSEV_STATUS_CHAIN_BROKEN);
    for (i = 0; i < sizeof t / 24; i++)
        entry(t, (int)i, NULL, 0x100, 0x10);
    entry(t, 0, guid_vcek, 200, 100);
    table_get("no terminator, 170 entries", t, sizeof t, LIBSEV_STATUS_BAD_CERTIFICATE);
    /* lengths and kinds */
    memset(t, 0, sizeof t);
    memset(t + 200, 0x42, 100);
    entry(t, 0, guid_vcek, 200, 100);
    EXPECT(e, libsev_snp_cert_table_get(t, SIZE_MAX, 2, t + 1000, 100, &ol, &e), LIBSEV_STATUS_INVALID_LENGTH);
    EXPECT(e, libsev_snp_cert_table_get(t, sizeof t, 4, t + 1000, 100, &ol, &e), LIBSEV_STATUS_INVALID_ARGUMENT);
    EXPECT(e, libsev_snp_cert_table_get(t, sizeof t, UINT32_MAX, t + 1000, 100, &ol, &e), LIBSEV_STATUS_INVALID_ARGUMENT);
    ol = 0;
    EXPECT(e, libsev_snp_cert_table_get(t, sizeof t, 2, t + 1000, 99, &ol, &e), LIBSEV_STATUS_BUFFER_TOO_SMALL);
    CHECK(ol == 100 && all_bytes(t + 1000, 99, 0));
    /* the output overlapping the certificate it copies */
    EXPECT(e, libsev_snp_cert_table_get(t, sizeof t, 2, t + 150, 100, &ol, &e), LIBSEV_STATUS_OK);
    CHECK(all_bytes(t + 150, 100, 0x42));
    /* an unaligned table */
    {
        uint8_t *u = calloc(1, sizeof t + 1);
        memcpy(u + 1, t, sizeof t);
        memset(u + 1 + 200, 0x42, 100);
        table_get("unaligned", u + 1, sizeof t, LIBSEV_STATUS_OK);
        free(u);
    }
}

/* ---- 11. keys and ID blocks ---------------------------------------------------------------------- */

static const uint8_t p384_n[48] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc7, 0x63, 0x4d, 0x81, 0xf4, 0x37, 0x2d, 0xdf,
    0x58, 0x1a, 0x0d, 0xb2, 0x48, 0xb0, 0xa7, 0x7a, 0xec, 0xec, 0x19, 0x6a, 0xcc, 0xc5, 0x29, 0x73};

/* A P-256 private key in PEM (a throwaway key of the wrong curve, generated for this test). */
static const char p256_pem[] =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHcCAQEEIAoNGeK61dX7XDSOkTYLzH5l6WMSH2KXzMTlm8eFgv38oAoGCCqGSM49\n"
    "AwEHoUQDQgAELd6PrJDWjFvcgDcJeA7HCOxzr8cBTd9tebvAZux9614uKUQINmpw\n"
    "z7cVyggDfXZeI7bng94RvaHvgykX8/6zgw==\n"
    "-----END EC PRIVATE KEY-----\n";

static void keys(void) {
    libsev_error e;
    libsev_snp_id_block *io = calloc(1, sizeof *io), *before = calloc(1, sizeof *before);
    uint8_t k[97], d[64], one[48];
    int i;
    static const struct {
        const char *what;
        size_t len;
        int fill;
    } bad[] = {{"zero scalar", 48, 0}, {"scalar n", 48, 1}, {"scalar 2^384-1", 48, 2},
               {"47 bytes", 47, 3},    {"49 bytes", 49, 3}, {"0 bytes", 0, 3},
               {"1 byte", 1, 3}};

    memset(one, 0, sizeof one);
    one[47] = 1;
    io->version = 1;
    io->policy = LIBSEV_SNP_POLICY_DEFAULT;
    memset(io->id_block, 0x5a, sizeof io->id_block);
    memset(io->id_auth, 0x5a, sizeof io->id_auth);
    memset(io->id_key_digest, 0x5a, 48);
    memset(io->author_key_digest, 0x5a, 48);
    io->author_key_en = 0x5a5a5a5a;
    memcpy(before, io, sizeof *io);
    for (i = 0; i < (int)(sizeof bad / sizeof bad[0]); i++) {
        if (bad[i].fill == 0)
            memset(k, 0, sizeof k);
        else if (bad[i].fill == 1)
            memcpy(k, p384_n, 48);
        else if (bad[i].fill == 2)
            memset(k, 0xff, sizeof k);
        else
            memset(k, 0x11, sizeof k);
        EXPECT(e, libsev_snp_id_block_sign(io, k, bad[i].len, NULL, 0, &e), LIBSEV_STATUS_CRYPTO_ERROR);
        CHECK(memcmp(io, before, sizeof *io) == 0);
        /* a good ID key with that bad author key: still nothing written */
        EXPECT(e, libsev_snp_id_block_sign(io, one, 48, k, bad[i].len ? bad[i].len : 1, &e), LIBSEV_STATUS_CRYPTO_ERROR);
        CHECK(memcmp(io, before, sizeof *io) == 0);
        memset(d, 0x5a, sizeof d);
        EXPECT(e, libsev_snp_key_digest(k, bad[i].len, d, &e), LIBSEV_STATUS_CRYPTO_ERROR);
        CHECK(all_bytes(d, sizeof d, 0x5a));
    }
    EXPECT(e, libsev_snp_id_block_sign(io, (const uint8_t *)p256_pem, sizeof p256_pem - 1, NULL, 0, &e),
           LIBSEV_STATUS_CRYPTO_ERROR);
    CHECK(memcmp(io, before, sizeof *io) == 0);
    EXPECT(e, libsev_snp_id_block_sign(io, one, SIZE_MAX, NULL, 0, &e), LIBSEV_STATUS_INVALID_LENGTH);
    CHECK(memcmp(io, before, sizeof *io) == 0);
    /* Public points: off the curve, the zero point, compressed, wrong prefix. */
    memset(k, 0, sizeof k);
    k[0] = 4;
    memset(d, 0x5a, sizeof d);
    EXPECT(e, libsev_snp_key_digest(k, 97, d, &e), LIBSEV_STATUS_CRYPTO_ERROR);
    memset(k + 1, 0x11, 96);
    EXPECT(e, libsev_snp_key_digest(k, 97, d, &e), LIBSEV_STATUS_CRYPTO_ERROR);
    k[0] = 2;
    EXPECT(e, libsev_snp_key_digest(k, 49, d, &e), LIBSEV_STATUS_CRYPTO_ERROR);
    EXPECT(e, libsev_snp_key_digest(k, 97, d, &e), LIBSEV_STATUS_CRYPTO_ERROR);
    CHECK(all_bytes(d, sizeof d, 0x5a));
    EXPECT(e, libsev_snp_key_digest(k, SIZE_MAX, d, &e), LIBSEV_STATUS_INVALID_LENGTH);
    /* A good key; garbage ID block inputs are signed as given; the digest may overwrite the
     * key it was computed from; outputs stay within their sizes. */
    io->version = UINT32_MAX;
    io->policy = UINT64_MAX;
    io->guest_svn = UINT32_MAX;
    EXPECT(e, libsev_snp_id_block_sign(io, one, 48, one, 48, &e), LIBSEV_STATUS_OK);
    CHECK(io->author_key_en == 1);
    CHECK(memcmp(io->id_key_digest, io->author_key_digest, 48) == 0);
    memcpy(d, one, 48);
    memset(d + 48, 0x5a, 16);
    EXPECT(e, libsev_snp_key_digest(d, 48, d, &e), LIBSEV_STATUS_OK);
    CHECK(memcmp(d, io->id_key_digest, 48) == 0 && all_bytes(d + 48, 16, 0x5a));
    free(io);
    free(before);
}

/* ---- 12. the expected measurement ------------------------------------------------------------- */

static void measurement(void) {
    libsev_error e;
    struct buf amd, x64;
    libsev_snp_measure m0, m;
    uint8_t d[64];

    if (!have_data) {
        printf("snp_hostile: no SNP test data: measurement checks skipped\n");
        return;
    }
    amd = slurp("measurement/ovmf_AmdSev_suffix.bin");
    x64 = slurp("measurement/ovmf_OvmfX64_suffix.bin");
    memset(&m0, 0, sizeof m0);
    m0.ovmf = amd.p;
    m0.ovmf_len = amd.n;
    m0.vcpus = 1;
    m0.vcpu_signature = 0x00800F12;
#define MEAS(mod, want)                                                                 \
    do {                                                                                \
        m = m0;                                                                         \
        mod;                                                                            \
        memset(d, 0x5a, sizeof d);                                                      \
        EXPECT(e, libsev_snp_expected_measurement(&m, d, &e), want);                    \
        CHECK(all_bytes(d + 48, 16, 0x5a));                                             \
        if ((want) != LIBSEV_STATUS_OK)                                                 \
            CHECK(all_bytes(d, 48, 0x5a));                                              \
    } while (0)
    MEAS((void)0, LIBSEV_STATUS_OK);
    MEAS(m.vcpus = 0, LIBSEV_STATUS_INVALID_ARGUMENT);
    MEAS(m.vcpus = 513, LIBSEV_STATUS_INVALID_ARGUMENT);
    MEAS(m.vcpus = 100000, LIBSEV_STATUS_INVALID_ARGUMENT);
    MEAS(m.vcpus = UINT32_MAX, LIBSEV_STATUS_INVALID_ARGUMENT);
    MEAS(m.vmm = 3, LIBSEV_STATUS_INVALID_ARGUMENT);
    MEAS(m.vmm = UINT32_MAX, LIBSEV_STATUS_INVALID_ARGUMENT);
    MEAS(m.reserved = 1, LIBSEV_STATUS_INVALID_ARGUMENT);
    MEAS((m.vcpu_signature = 0, m.cpu_model = "EPYC-Nonexistent"), LIBSEV_STATUS_INVALID_ARGUMENT);
    MEAS((m.vcpu_signature = 0, m.cpu_model = ""), LIBSEV_STATUS_INVALID_ARGUMENT);
    MEAS((m.vcpu_signature = 0, m.cpu_model = "EPYC-\xff\xfe"), LIBSEV_STATUS_INVALID_STRING);
    MEAS((m.vcpu_signature = 0, m.cpu_model = NULL), LIBSEV_STATUS_INVALID_ARGUMENT);
    MEAS((m.vcpu_signature = 0, m.cpu_model = "EPYC-Milan"), LIBSEV_STATUS_OK);
    MEAS((m.vmm = LIBSEV_VMM_EC2, m.vcpu_signature = 0, m.cpu_model = NULL), LIBSEV_STATUS_OK);
    MEAS((m.direct_boot = 1, m.kernel = NULL, m.kernel_len = 100), LIBSEV_STATUS_NULL_ARGUMENT);
    MEAS((m.direct_boot = 1, m.kernel = NULL, m.kernel_len = SIZE_MAX), LIBSEV_STATUS_NULL_ARGUMENT);
    MEAS((m.direct_boot = 1, m.initrd = NULL, m.initrd_len = 1), LIBSEV_STATUS_NULL_ARGUMENT);
    MEAS((m.direct_boot = 1, m.kernel = d, m.kernel_len = SIZE_MAX), LIBSEV_STATUS_INVALID_LENGTH);
    MEAS((m.direct_boot = 0, m.kernel = NULL, m.kernel_len = 100), LIBSEV_STATUS_OK); /* ignored */
    MEAS((m.direct_boot = 1, m.cmdline = "console=\xff"), LIBSEV_STATUS_INVALID_STRING);
    MEAS(m.ovmf = NULL, LIBSEV_STATUS_NULL_ARGUMENT);
    MEAS(m.ovmf_len = 0, LIBSEV_STATUS_BAD_FIRMWARE_IMAGE);
    MEAS(m.ovmf_len = 4095, LIBSEV_STATUS_BAD_FIRMWARE_IMAGE);
    MEAS((m.ovmf = amd.p + 1, m.ovmf_len = 4095), LIBSEV_STATUS_BAD_FIRMWARE_IMAGE);
    MEAS(m.ovmf_len = SIZE_MAX, LIBSEV_STATUS_INVALID_LENGTH);
    MEAS((m.ovmf = x64.p, m.ovmf_len = x64.n, m.direct_boot = 1), LIBSEV_STATUS_BAD_FIRMWARE_IMAGE);
    MEAS((m.ovmf = x64.p, m.ovmf_len = x64.n, m.direct_boot = 1, m.kernel = d, m.kernel_len = 8),
         LIBSEV_STATUS_BAD_FIRMWARE_IMAGE);
    {
        /* a random 4 KiB page is no OVMF */
        uint8_t junk[PAGE];
        fill_image(junk, sizeof junk, 7);
        MEAS((m.ovmf = junk, m.ovmf_len = sizeof junk), LIBSEV_STATUS_BAD_FIRMWARE_IMAGE);
    }
    /* the digest may overwrite the image it was computed from */
    {
        uint8_t *img = malloc(amd.n), want[48];
        memcpy(img, amd.p, amd.n);
        m = m0;
        MUST_E(e, libsev_snp_expected_measurement(&m, want, &e));
        m.ovmf = img;
        EXPECT(e, libsev_snp_expected_measurement(&m, img + amd.n - 48, &e), LIBSEV_STATUS_OK);
        CHECK(memcmp(img + amd.n - 48, want, 48) == 0);
        free(img);
    }
#undef MEAS
    free(amd.p);
    free(x64.p);
}

/* ---- 13. threads, many guests, fork, log callback ---------------------------------------------- */

static libsev_snp_guest *shared_guest;

static void *hammer(void *arg) {
    long id = (long)arg;
    libsev_error e;
    uint8_t page[PAGE], out[PAGE], d[48];
    int i, rounds = under_valgrind() ? 20 : 150;
    memset(page, (int)id, sizeof page);
    for (i = 0; i < rounds; i++) {
        uint64_t gpa = 0x1000000ull * (uint64_t)(id + 1) + 0x1000ull * (uint64_t)i;
        uint32_t s = libsev_snp_launch_update(shared_guest, gpa, page, PAGE, LIBSEV_SNP_PAGE_NORMAL, &e);
        /* OK before the finish, the firmware's state refusal after it */
        if (s != LIBSEV_STATUS_OK && s != LIBSEV_STATUS_FW_INVALID_GUEST_STATE) {
            fprintf(stderr, "thread %ld: launch_update: %u (%s): %s\n", id, s, libsev_status_str(s), e.message);
            __atomic_fetch_add(&failures, 1, __ATOMIC_RELAXED);
        }
        if (s == LIBSEV_STATUS_OK && libsev_snp_guest_model_read_page(shared_guest, gpa, out, &e) != LIBSEV_STATUS_OK)
            __atomic_fetch_add(&failures, 1, __ATOMIC_RELAXED);
        IGNORE(libsev_snp_guest_model_measurement(shared_guest, d, &e));
        IGNORE(libsev_snp_guest_set_vmsa(shared_guest, (uint32_t)id, page, PAGE, &e));
        CHECK(libsev_snp_guest_last_error(shared_guest) != NULL);
        if (id == 3 && i == rounds / 2)
            IGNORE(libsev_snp_launch_finish(shared_guest, NULL, 0, NULL, 0, 0, 0, NULL, &e));
    }
    return NULL;
}

static void threads_one_guest(void) {
    pthread_t t[6];
    long i;
    libsev_error e;
    shared_guest = guest(1, 1);
    for (i = 0; i < 6; i++)
        pthread_create(&t[i], NULL, hammer, (void *)i);
    for (i = 0; i < 6; i++)
        pthread_join(t[i], NULL);
    EXPECT(e, libsev_snp_launch_finish(shared_guest, NULL, 0, NULL, 0, 0, 0, NULL, &e),
           LIBSEV_STATUS_FW_INVALID_GUEST_STATE);
    libsev_snp_guest_free(shared_guest);
}

static void many_guests(void) {
    enum { MAX = 1200 };
    static libsev_snp_guest *gs[MAX];
    libsev_error e;
    libsev_snp_platform_status_info st;
    int i, n = 0, started = 0, busy = 0;
    for (i = 0; i < MAX; i++) {
        uint32_t s;
        if (libsev_snp_guest_new(plat, &gs[i], &e) != LIBSEV_STATUS_OK) {
            fprintf(stderr, "guest %d: %s\n", i, e.message);
            failures++;
            break;
        }
        n++;
        s = libsev_snp_guest_init2(gs[i], 0, 0, &e);
        if (s == LIBSEV_STATUS_BUSY) {
            busy++;
            CHECK(e.os_errno == EBUSY);
            continue;
        }
        CHECK_ST_E(e, s, LIBSEV_STATUS_OK);
        if (s == LIBSEV_STATUS_OK && libsev_snp_launch_start(gs[i], LIBSEV_SNP_POLICY_DEFAULT, NULL, &e) == 0)
            started++;
    }
    MUST_E(e, libsev_snp_platform_status(plat, &st, &e));
    CHECK(st.guest_count == (uint32_t)started);
    CHECK(busy > 0); /* the model has fewer ASIDs than MAX */
    for (i = 0; i < n; i++)
        libsev_snp_guest_free(gs[i]);
    MUST_E(e, libsev_snp_platform_status(plat, &st, &e));
    CHECK(st.guest_count == 0);
    libsev_snp_guest_free(guest(1, 1)); /* ASIDs come back */
}

static void forked_guest(void *arg) {
    libsev_snp_guest *g = arg;
    libsev_error e;
    uint8_t page[PAGE], r[LIBSEV_SNP_REPORT_LEN], rd[64];
    memset(page, 0, sizeof page);
    memset(rd, 5, sizeof rd);
    EXPECT(e, libsev_snp_launch_update(g, 0x1000, page, PAGE, LIBSEV_SNP_PAGE_SECRETS, &e), LIBSEV_STATUS_OK);
    EXPECT(e, libsev_snp_launch_finish(g, NULL, 0, NULL, 0, 0, 0, NULL, &e), LIBSEV_STATUS_OK);
    EXPECT(e, libsev_snp_guest_model_report(g, rd, 0, r, &e), LIBSEV_STATUS_OK);
    libsev_snp_guest_free(g);
    libsev_snp_guest_free(guest(1, 1));
}

static volatile int stop_busy;
static void *busy_thread(void *arg) {
    libsev_error e;
    uint64_t gpa = 0x10000000;
    uint8_t page[PAGE];
    memset(page, 1, sizeof page);
    while (!stop_busy) {
        IGNORE(libsev_snp_launch_update(arg, gpa, page, PAGE, 1, &e));
        gpa += PAGE;
    }
    return NULL;
}

static void fork_child_new_guest(void *arg) {
    (void)arg;
    libsev_snp_guest_free(guest(1, 1));
}

static void forks(void) {
    libsev_snp_guest *g = guest(1, 1), *b = guest(1, 1);
    libsev_error e;
    pthread_t t;
    int i;
    /* the child launches the parent's guest; the parent's copy is unaffected */
    in_child("fork: child uses the parent's guest", forked_guest, g, 30);
    EXPECT(e, libsev_snp_launch_update(g, 0x1000, (uint8_t[PAGE]){0}, PAGE, LIBSEV_SNP_PAGE_SECRETS, &e), LIBSEV_STATUS_OK);
    EXPECT(e, libsev_snp_launch_finish(g, NULL, 0, NULL, 0, 0, 0, NULL, &e), LIBSEV_STATUS_OK);
    libsev_snp_guest_free(g);
    /* fork while another thread is inside a call on the same platform */
    pthread_create(&t, NULL, busy_thread, b);
    for (i = 0; i < (under_valgrind() ? 2 : 10); i++)
        in_child("fork during a call on another thread", fork_child_new_guest, NULL, 20);
    stop_busy = 1;
    pthread_join(t, NULL);
    libsev_snp_guest_free(b);
}

static __thread libsev_snp_guest *logging_guest;
static __thread int in_cb;
static long cb_calls;

static void log_cb(libsev_log_level level, const char *message, void *user) {
    libsev_error e;
    uint8_t d[48], out[PAGE], page[PAGE];
    libsev_snp_platform_status_info st;
    (void)level;
    (void)user;
    __atomic_fetch_add(&cb_calls, 1, __ATOMIC_RELAXED);
    if (message == NULL || in_cb++) {
        fprintf(stderr, "log callback re-entered or given NULL\n");
        __atomic_fetch_add(&failures, 1, __ATOMIC_RELAXED);
    }
    if (logging_guest != NULL) {
        memset(page, 0, sizeof page);
        IGNORE(libsev_snp_guest_model_measurement(logging_guest, d, &e));
        IGNORE(libsev_snp_guest_model_read_page(logging_guest, 0x1000, out, &e));
        IGNORE(libsev_snp_launch_update(logging_guest, 0x7000000 + 0x1000 * (uint64_t)(cb_calls % 4096), page, PAGE,
                                       LIBSEV_SNP_PAGE_NORMAL, &e));
        IGNORE(libsev_snp_guest_set_vmsa(logging_guest, 7, page, PAGE, &e));
        IGNORE(libsev_snp_guest_init2(logging_guest, 0, 0, &e));
        CHECK(libsev_snp_guest_last_error(logging_guest) != NULL);
        IGNORE(libsev_snp_platform_status(plat, &st, &e));
        libsev_set_log_callback(log_cb, NULL, LIBSEV_LOG_TRACE);
    }
    in_cb--;
}

static void *log_worker(void *arg) {
    libsev_error e;
    int i, rounds = under_valgrind() ? 3 : 15;
    uint8_t page[PAGE], r[LIBSEV_SNP_REPORT_LEN], rd[64];
    memset(page, 0, sizeof page);
    memset(rd, 0, sizeof rd);
    for (i = 0; i < rounds; i++) {
        libsev_snp_guest *g = NULL;
        if (libsev_snp_guest_new(plat, &g, &e) != LIBSEV_STATUS_OK)
            continue;
        logging_guest = g;
        IGNORE(libsev_snp_launch_start(g, LIBSEV_SNP_POLICY_DEFAULT, NULL, &e)); /* fails: no init2 */
        IGNORE(libsev_snp_guest_init2(g, 0, 0, &e));
        IGNORE(libsev_snp_launch_start(g, LIBSEV_SNP_POLICY_DEFAULT, NULL, &e));
        IGNORE(libsev_snp_launch_update(g, 0x1000, page, PAGE, LIBSEV_SNP_PAGE_SECRETS, &e));
        IGNORE(libsev_snp_launch_update(g, 0x1000, page, PAGE, LIBSEV_SNP_PAGE_SECRETS, &e)); /* fails */
        IGNORE(libsev_snp_launch_finish(g, NULL, 0, NULL, 0, 0, 0, NULL, &e));
        IGNORE(libsev_snp_guest_model_report(g, rd, 0, r, &e));
        logging_guest = NULL;
        libsev_snp_guest_free(g);
    }
    return arg;
}

static void log_reentry(void *arg) {
    pthread_t t[4];
    long i;
    (void)arg;
    libsev_set_log_callback(log_cb, NULL, LIBSEV_LOG_TRACE);
    for (i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, log_worker, NULL);
    for (i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    libsev_set_log_callback(NULL, NULL, LIBSEV_LOG_ERROR);
    CHECK(cb_calls > 0);
}

/* ---- main ------------------------------------------------------------------------------------- */

int main(void) {
    libsev_error e;
    libsev_model_config cfg;
    uint8_t seed[LIBSEV_MODEL_SEED_LEN];
    const char *td = getenv("LIBSEV_TESTDATA");
    FILE *f;

    if (!libsev_has_feature(LIBSEV_FEATURE_FIRMWARE_MODEL)) {
        printf("skip: this libsev has no firmware model\n");
        return 77;
    }
    if (td != NULL)
        snprintf(datadir, sizeof datadir, "%s/../snp", td);
    else
        snprintf(datadir, sizeof datadir, "%s", "../shared/testdata/snp");
    {
        char probe[8300];
        snprintf(probe, sizeof probe, "%s/turin/vcek.der", datadir);
        f = fopen(probe, "rb");
        if (f == NULL && td == NULL) {
            snprintf(datadir, sizeof datadir, "%s", "/work/shared/testdata/snp");
            snprintf(probe, sizeof probe, "%s/turin/vcek.der", datadir);
            f = fopen(probe, "rb");
        }
        if (f != NULL) {
            have_data = 1;
            fclose(f);
        } else {
            printf("snp_hostile: no SNP test data (%s): checks with AMD's certificates skipped\n", datadir);
        }
    }

    memset(seed, 0x5e, sizeof seed);
    MUST_E(e, libsev_model_config_init(&cfg));
    cfg.seed = seed;
    MUST_E(e, libsev_platform_new_model(&cfg, &plat, &e));
    load_model_certs();

    null_pointers();
    wrong_order();
    lengths();
    in_child("D1 launch_update from PROT_NONE memory", prot_none_source, NULL, 20);
    in_child("D1 launch_update whose 2nd page is PROT_NONE", prot_none_tail, NULL, 20);
    in_child("D1 launch_update of a PROT_NONE CPUID page", prot_none_cpuid, NULL, 20);
    in_child("D1 launch_update from a mapping past EOF", past_eof_source, NULL, 20);
    in_child("D7 launch_update from unmapped memory", unmapped_source, NULL, 20);
    in_child("D3 launch_update with an impossible length", impossible_length, NULL, 20);
    in_child("D2 launch_update of 2 TiB of ZERO pages", zero_range_dos, NULL, 30);
    in_child("launch_update of read-only CPUID pages", read_only_bad_cpuid, NULL, 20);
    cpuid_pages();
    attach();
    model_reports();
    platform_commands();
    chains();
    reports();
    cert_tables();
    keys();
    measurement();
    threads_one_guest();
    many_guests();
    forks();
    in_child("log callback calling into the handle being logged", log_reentry, NULL, 60);

    libsev_platform_free(plat);
    free(model_table.p);
    free(m_ark.p);
    free(m_ask.p);
    free(m_vcek.p);
    if (failures) {
        fprintf(stderr, "snp_hostile: %d check(s) failed\n", failures);
        return 1;
    }
    printf("snp_hostile: ok\n");
    return 0;
}
