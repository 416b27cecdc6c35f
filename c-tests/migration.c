/*
 * Live migration end to end from C: two processes (fork), each with its own firmware-model
 * platform and its own state directory, stream a guest over a socketpair.
 *
 * Source (parent): launches a debug-policy guest whose memory holds a pattern made from a seed
 * (LAUNCH_UPDATE_DATA, LAUNCH_MEASURE, LAUNCH_FINISH), receives the target's PDH, its chain
 * PEK || OCA || CEK (the CEK signed by the emulated ASK) and the emulated ASK || ARK, then
 * SEND_START, one SEND_UPDATE_DATA per page written straight into the frame it sends (zero
 * copy), SEND_FINISH (GUEST_STATUS must say SENT).
 * Target (child): RECEIVE_START with the source's PDH and the session, RECEIVE_UPDATE_DATA per
 * packet into its own mmapped memory, RECEIVE_FINISH (RUNNING), then DBG_DECRYPT of the whole
 * memory compared exactly with the pattern regenerated from the seed the source sent.
 *
 * Two rounds: a small guest with neither SEV nor DOMAIN in its policy (the target PDH gets only
 * the sanity check), then the full-size guest with the SEV policy bit (the target's chain is
 * verified up to the ARK).
 *
 * Negative cases: a packet with a flipped transport byte or a flipped header MAC byte is
 * refused with LIBSEV_STATUS_FW_BAD_MEASUREMENT and leaves the target memory unchanged (raw
 * ciphertext and decrypted contents); a PEK or PDH with a flipped signed byte, or an ARK with
 * a flipped signature byte, gives LIBSEV_STATUS_FW_BAD_SIGNATURE, a foreign ASK || ARK (AMD
 * Rome's, from LIBSEV_TESTDATA; `make check` sets it) LIBSEV_STATUS_FW_INVALID_CERTIFICATE at
 * SEND_START with the SEV bit; a NOSEND guest, and a DOMAIN guest sent to a platform with
 * another OCA, get LIBSEV_STATUS_FW_POLICY_FAILURE; SEND_CANCEL returns the source to RUNNING
 * and a second SEND_START succeeds; the session-length query leaves the guest RUNNING.
 *
 * Size: 256 MiB (LIBSEV_MIGRATION_MIB overrides); 4 MiB when LIBSEV_UNDER_VALGRIND is set
 * (c-tests/run.sh sets it for the valgrind run). Exit 0 = pass, anything else = fail.
 */
#define _DEFAULT_SOURCE /* mkdtemp, MAP_ANONYMOUS, nftw */
#define _XOPEN_SOURCE 700

#include <libsev.h>

#include <errno.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096u
#define HDR 52u
#define CERT LIBSEV_SEV_CERT_LEN
#define CHAIN LIBSEV_CERT_CHAIN_LEN
#define POLICY_NOSEND 0x08u
#define POLICY_DOMAIN 0x10u
#define POLICY_SEV 0x20u
#define END_OF_PAGES UINT64_MAX

static int failures;
static const char *who = "source";

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "[%s] %s:%d: check failed: %s\n", who, __FILE__, __LINE__,   \
                    #cond);                                                              \
            failures++;                                                                  \
        }                                                                                \
    } while (0)

#define CHECK_STATUS(got, want)                                                              \
    do {                                                                                     \
        uint32_t g_ = (got), w_ = (want);                                                    \
        if (g_ != w_) {                                                                      \
            fprintf(stderr, "[%s] %s:%d: %s is %u (%s), expected %u (%s); message: %s\n",    \
                    who, __FILE__, __LINE__, #got, (unsigned)g_, libsev_status_str(g_),      \
                    (unsigned)w_, libsev_status_str(w_), err.message);                       \
            failures++;                                                                      \
        }                                                                                    \
    } while (0)

/* A failure after which the process cannot go on (I/O, setup). */
#define REQUIRE(cond)                                                                      \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "[%s] %s:%d: fatal: %s (errno %d: %s)\n", who, __FILE__,       \
                    __LINE__, #cond, errno, strerror(errno));                              \
            exit(2);                                                                       \
        }                                                                                  \
    } while (0)

static libsev_error err;

/* ------------------------------------------------------------------------------------------ */
/* helpers */

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void write_all(int fd, const void *buf, size_t n) {
    const uint8_t *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        REQUIRE(w > 0);
        p += w;
        n -= (size_t)w;
    }
}

static void read_all(int fd, void *buf, size_t n) {
    uint8_t *p = buf;
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        REQUIRE(r > 0);
        p += r;
        n -= (size_t)r;
    }
}

/* The guest pattern: splitmix64 of (seed + index of the 8-byte word). */
static uint64_t mix(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static void fill_pattern(uint8_t *dst, size_t len, uint64_t seed, size_t offset) {
    size_t i;
    for (i = 0; i < len; i += 8) {
        uint64_t v = mix(seed + (offset + i) / 8);
        memcpy(dst + i, &v, 8);
    }
}

static uint8_t *map_region(size_t len) {
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(p != MAP_FAILED);
    return p;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static libsev_platform *new_model(char *dir_template) {
    libsev_model_config cfg;
    libsev_platform *p = NULL;
    REQUIRE(mkdtemp(dir_template) != NULL);
    CHECK_STATUS(libsev_model_config_init(&cfg), LIBSEV_STATUS_OK);
    cfg.state_dir = dir_template;
    CHECK_STATUS(libsev_platform_new_emulated(&cfg, &p, &err), LIBSEV_STATUS_OK);
    REQUIRE(p != NULL);
    return p;
}

static void free_model(libsev_platform *p, const char *dir) {
    libsev_platform_free(p);
    CHECK(nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == 0);
}

static uint32_t guest_state(libsev_guest *g) {
    libsev_guest_status_info st;
    memset(&st, 0, sizeof st);
    CHECK_STATUS(libsev_guest_status(g, &st, &err), LIBSEV_STATUS_OK);
    return st.state;
}

static void export_pdh(libsev_platform *p, uint8_t pdh[CERT], uint8_t chain[CHAIN]) {
    size_t pl = 0, cl = 0;
    CHECK_STATUS(libsev_platform_pdh_cert_export(p, pdh, CERT, &pl, chain, CHAIN, &cl, &err),
                 LIBSEV_STATUS_OK);
    CHECK(pl == CERT && cl == CHAIN);
}

/* ------------------------------------------------------------------------------------------ */
/* wire format */

/* What the target sends first: its PDH, PEK || OCA || ASK-signed CEK, and ASK || ARK. */
struct target_certs {
    uint8_t pdh[CERT];
    uint8_t chain[CHAIN];
    uint32_t amd_len;
    uint8_t amd[8192];
};

/* One migration round from the source: size 0 ends the conversation. */
struct round_hdr {
    uint64_t size;
    uint64_t seed;
    uint32_t policy;
    uint8_t session[LIBSEV_SESSION_BLOB_LEN];
    uint8_t src_pdh[CERT];
};

/* One packet, exactly as it travels: SEND_UPDATE_DATA writes hdr and trans in place. */
struct frame {
    uint64_t offset;
    uint8_t hdr[HDR];
    uint8_t trans[PAGE];
};

/* ------------------------------------------------------------------------------------------ */
/* target */

/* Try a tampered copy of `f` at `dst`: refused, and the memory there is unchanged. */
static void tampered_refused(libsev_guest *g, uint8_t *mem, size_t mem_len, const struct frame *f,
                             size_t dst, int flip_mac) {
    static struct frame bad;
    static uint8_t before_raw[PAGE], before_plain[PAGE], after_plain[PAGE];

    bad = *f;
    if (flip_mac)
        bad.hdr[HDR - 1] ^= 0x01; /* the last byte of the 32-byte MAC */
    else
        bad.trans[PAGE / 2] ^= 0x80;
    CHECK(dst + PAGE <= mem_len);
    memcpy(before_raw, mem + dst, PAGE);
    CHECK_STATUS(libsev_guest_dbg_decrypt(g, mem + dst, before_plain, PAGE, &err),
                 LIBSEV_STATUS_OK);
    CHECK_STATUS(
        libsev_guest_receive_update_data(g, bad.hdr, HDR, mem + dst, PAGE, bad.trans, PAGE, &err),
        LIBSEV_STATUS_FW_BAD_MEASUREMENT);
    CHECK(err.fw_error == 0x0B); /* BAD_MEASUREMENT */
    CHECK(memcmp(before_raw, mem + dst, PAGE) == 0);
    CHECK_STATUS(libsev_guest_dbg_decrypt(g, mem + dst, after_plain, PAGE, &err),
                 LIBSEV_STATUS_OK);
    CHECK(memcmp(before_plain, after_plain, PAGE) == 0);
}

/* Receive one guest; returns 0 when everything checked out. */
static int target_round(libsev_platform *p, int fd, const struct round_hdr *rh) {
    libsev_guest *g = NULL;
    uint32_t handle = 0;
    size_t len = (size_t)rh->size, off, pages = 0;
    uint8_t *mem, *plain, *want;
    static struct frame f;
    int before = failures, tampered = 0;
    double t0, t_recv, t_verify;

    CHECK_STATUS(libsev_guest_new(p, &g, &err), LIBSEV_STATUS_OK);
    REQUIRE(g != NULL);
    CHECK_STATUS(libsev_guest_init(g, &err), LIBSEV_STATUS_OK);
    CHECK_STATUS(libsev_guest_receive_start(g, rh->policy, 0, rh->src_pdh, CERT, rh->session,
                                            sizeof rh->session, &handle, &err),
                 LIBSEV_STATUS_OK);
    CHECK(handle != 0 && handle == libsev_guest_handle(g));
    CHECK(guest_state(g) == 5); /* RUPDATE */

    mem = map_region(len);
    CHECK_STATUS(libsev_guest_register_region(g, mem, len, &err), LIBSEV_STATUS_OK);

    t0 = now_s();
    for (;;) {
        read_all(fd, &f, sizeof f);
        if (f.offset == END_OF_PAGES)
            break;
        REQUIRE(f.offset % PAGE == 0 && f.offset + PAGE <= len);
        /* Page 1's packet: first tampered at page 0 (already received: data must survive),
         * with its MAC tampered at its own address (still empty), then for real. */
        if (f.offset == PAGE) {
            tampered_refused(g, mem, len, &f, 0, 0);
            tampered_refused(g, mem, len, &f, PAGE, 1);
            tampered = 1;
        }
        CHECK_STATUS(libsev_guest_receive_update_data(g, f.hdr, HDR, mem + f.offset, PAGE,
                                                      f.trans, PAGE, &err),
                     LIBSEV_STATUS_OK);
        pages++;
    }
    t_recv = now_s() - t0;
    CHECK(pages == len / PAGE);
    CHECK(tampered || len < 2 * PAGE);
    CHECK_STATUS(libsev_guest_receive_finish(g, &err), LIBSEV_STATUS_OK);
    CHECK(guest_state(g) == 3); /* RUNNING */

    /* The memory is ciphertext under the target's key; decrypted it is exactly the pattern. */
    plain = malloc(1u << 20);
    want = malloc(1u << 20);
    REQUIRE(plain != NULL && want != NULL);
    fill_pattern(want, PAGE, rh->seed, 0);
    CHECK(memcmp(mem, want, PAGE) != 0);
    t0 = now_s();
    for (off = 0; off < len; off += 1u << 20) {
        size_t n = len - off < (1u << 20) ? len - off : (1u << 20);
        CHECK_STATUS(libsev_guest_dbg_decrypt(g, mem + off, plain, n, &err), LIBSEV_STATUS_OK);
        fill_pattern(want, n, rh->seed, off);
        if (memcmp(plain, want, n) != 0) {
            fprintf(stderr, "[target] decrypted memory differs from the source in [%zu, +%zu)\n",
                    off, n);
            failures++;
            break;
        }
    }
    t_verify = now_s() - t0;
    printf("target: policy 0x%x: received %zu MiB in %.3f s (%.0f MiB/s), verified in %.3f s\n",
           rh->policy, len >> 20, t_recv, (double)len / (1 << 20) / t_recv, t_verify);
    free(plain);
    free(want);
    libsev_guest_free(g);
    munmap(mem, len);
    return failures != before;
}

static void run_target(int fd) {
    char dir[] = "/tmp/libsev-migration-target-XXXXXX";
    libsev_platform *p;
    static struct target_certs tc;
    static struct round_hdr rh;
    size_t n = 0;
    uint32_t result;

    who = "target";
    p = new_model(dir);
    export_pdh(p, tc.pdh, tc.chain);
    /* PDH_CERT_EXPORT's CEK is unsigned; AMD's key server (here: the model) signs it. */
    CHECK_STATUS(libsev_platform_emulated_cek(p, tc.chain + 2 * CERT, CERT, &n, &err),
                 LIBSEV_STATUS_OK);
    CHECK(n == CERT);
    CHECK_STATUS(libsev_platform_emulated_ask_ark(p, NULL, 0, &n, &err),
                 LIBSEV_STATUS_BUFFER_TOO_SMALL);
    REQUIRE(n > 0 && n <= sizeof tc.amd);
    CHECK_STATUS(libsev_platform_emulated_ask_ark(p, tc.amd, sizeof tc.amd, &n, &err),
                 LIBSEV_STATUS_OK);
    tc.amd_len = (uint32_t)n;
    write_all(fd, &tc, sizeof tc);

    for (;;) {
        read_all(fd, &rh, sizeof rh);
        if (rh.size == 0)
            break;
        result = (uint32_t)target_round(p, fd, &rh);
        write_all(fd, &result, sizeof result);
    }
    free_model(p, dir);
}

/* ------------------------------------------------------------------------------------------ */
/* source */

/* A RUNNING guest with `policy` whose `len` bytes at `mem` hold the pattern of `seed`. */
static libsev_guest *launch(libsev_platform *p, uint32_t policy, uint8_t *mem, size_t len,
                            uint64_t seed) {
    libsev_guest *g = NULL;
    uint8_t m[LIBSEV_MEASUREMENT_LEN];
    size_t ml = 0;

    CHECK_STATUS(libsev_guest_new(p, &g, &err), LIBSEV_STATUS_OK);
    REQUIRE(g != NULL);
    CHECK_STATUS(libsev_guest_init(g, &err), LIBSEV_STATUS_OK);
    CHECK_STATUS(libsev_guest_launch_start(g, policy, 0, NULL, 0, NULL, 0, NULL, &err),
                 LIBSEV_STATUS_OK);
    fill_pattern(mem, len, seed, 0);
    CHECK_STATUS(libsev_guest_register_region(g, mem, len, &err), LIBSEV_STATUS_OK);
    CHECK_STATUS(libsev_guest_launch_update_data(g, mem, len, &err), LIBSEV_STATUS_OK);
    CHECK_STATUS(libsev_guest_launch_measure(g, m, sizeof m, &ml, &err), LIBSEV_STATUS_OK);
    CHECK(ml == sizeof m);
    CHECK_STATUS(libsev_guest_launch_finish(g, &err), LIBSEV_STATUS_OK);
    CHECK(guest_state(g) == 3);
    return g;
}

static uint32_t send_start(libsev_guest *g, const uint8_t *pdh, const uint8_t *chain,
                           const uint8_t *amd, size_t amd_len, uint8_t *session) {
    size_t sl = 0;
    uint32_t pol = 0xFFFFFFFFu;
    return libsev_guest_send_start(g, pdh, CERT, chain, CHAIN, amd, amd_len, session,
                                   LIBSEV_SESSION_BLOB_LEN, &sl, &pol, &err);
}

/* AMD Rome's ASK || ARK from the shared test data: a real chain, but not this model's root. */
static size_t foreign_ask_ark(uint8_t *buf, size_t cap) {
    const char *dir = getenv("LIBSEV_TESTDATA");
    const char *names[2] = {"ask.cert", "ark.cert"};
    size_t total = 0;
    int i;
    if (dir == NULL)
        return 0;
    for (i = 0; i < 2; i++) {
        char path[1024];
        FILE *f;
        size_t n;
        snprintf(path, sizeof path, "%s/builtin/rome/%s", dir, names[i]);
        f = fopen(path, "rb");
        if (f == NULL)
            return 0;
        n = fread(buf + total, 1, cap - total, f);
        fclose(f);
        total += n;
    }
    return total;
}

/* The refusals at SEND_START and SEND_CANCEL, on small guests of this platform. */
static void source_negative(libsev_platform *p, const struct target_certs *tc) {
    uint8_t *mem = map_region(16 * PAGE);
    uint8_t session[LIBSEV_SESSION_BLOB_LEN];
    static uint8_t chain[CHAIN], foreign[8192];
    size_t sl = 0, fl;
    uint32_t pol = 0;
    libsev_guest *g;

    /* NOSEND. */
    g = launch(p, POLICY_NOSEND, mem, 16 * PAGE, 1);
    CHECK_STATUS(send_start(g, tc->pdh, tc->chain, tc->amd, tc->amd_len, session),
                 LIBSEV_STATUS_FW_POLICY_FAILURE);
    CHECK(err.fw_error == 0x07);
    CHECK(guest_state(g) == 3);
    libsev_guest_free(g);

    /* DOMAIN: the target's chain verifies (OCA -> PEK -> PDH) but its OCA is not ours. */
    g = launch(p, POLICY_DOMAIN, mem, 16 * PAGE, 3);
    CHECK_STATUS(send_start(g, tc->pdh, tc->chain, tc->amd, tc->amd_len, session),
                 LIBSEV_STATUS_FW_POLICY_FAILURE);
    CHECK(guest_state(g) == 3);
    libsev_guest_free(g);

    /* SEV bit: a PEK with a flipped byte in its signed key area (reserved part of the
     * public-key field, so the certificate still parses) does not verify under the CEK. */
    g = launch(p, POLICY_SEV, mem, 16 * PAGE, 2);
    memcpy(chain, tc->chain, CHAIN);
    chain[0x10 + 0x200] ^= 0x01;
    CHECK_STATUS(send_start(g, tc->pdh, chain, tc->amd, tc->amd_len, session),
                 LIBSEV_STATUS_FW_BAD_SIGNATURE);
    CHECK(guest_state(g) == 3);
    /* ... a PDH with a flipped signed byte does not verify under the PEK ... */
    {
        static uint8_t pdh[CERT];
        memcpy(pdh, tc->pdh, CERT);
        pdh[0x10 + 0x200] ^= 0x01;
        CHECK_STATUS(send_start(g, pdh, tc->chain, tc->amd, tc->amd_len, session),
                     LIBSEV_STATUS_FW_BAD_SIGNATURE);
    }
    /* ... an ARK whose self-signature is broken (last byte of its signature) ... */
    {
        static uint8_t amd[sizeof tc->amd];
        memcpy(amd, tc->amd, tc->amd_len);
        amd[tc->amd_len - 1] ^= 0x01;
        CHECK_STATUS(send_start(g, tc->pdh, tc->chain, amd, tc->amd_len, session),
                     LIBSEV_STATUS_FW_BAD_SIGNATURE);
    }
    /* ... and a foreign ASK || ARK is not this firmware's root. */
    fl = foreign_ask_ark(foreign, sizeof foreign);
    if (fl > 0) {
        CHECK_STATUS(send_start(g, tc->pdh, tc->chain, foreign, fl, session),
                     LIBSEV_STATUS_FW_INVALID_CERTIFICATE);
    } else {
        printf("source: LIBSEV_TESTDATA/builtin/rome not found: foreign ASK||ARK case not run\n");
    }
    CHECK(guest_state(g) == 3);

    /* The session-length query: BUFFER_TOO_SMALL with 128, guest still RUNNING. */
    CHECK_STATUS(libsev_guest_send_start(g, tc->pdh, CERT, tc->chain, CHAIN, tc->amd,
                                         tc->amd_len, NULL, 0, &sl, &pol, &err),
                 LIBSEV_STATUS_BUFFER_TOO_SMALL);
    CHECK(sl == LIBSEV_SESSION_BLOB_LEN);
    CHECK(guest_state(g) == 3);

    /* SEND_CANCEL: SUPDATE -> RUNNING, and SEND_START works again. */
    CHECK_STATUS(send_start(g, tc->pdh, tc->chain, tc->amd, tc->amd_len, session),
                 LIBSEV_STATUS_OK);
    CHECK(guest_state(g) == 4);
    CHECK_STATUS(libsev_guest_send_cancel(g, &err), LIBSEV_STATUS_OK);
    CHECK(guest_state(g) == 3);
    CHECK_STATUS(libsev_guest_send_cancel(g, &err), LIBSEV_STATUS_FW_INVALID_GUEST_STATE);
    CHECK_STATUS(send_start(g, tc->pdh, tc->chain, tc->amd, tc->amd_len, session),
                 LIBSEV_STATUS_OK);
    CHECK(guest_state(g) == 4);
    CHECK_STATUS(libsev_guest_send_finish(g, &err), LIBSEV_STATUS_OK);
    CHECK(guest_state(g) == 6);
    libsev_guest_free(g);
    munmap(mem, 16 * PAGE);
}

/* Launch and send one guest of `len` bytes with `policy`. */
static void source_round(libsev_platform *p, int fd, const struct target_certs *tc,
                         uint32_t policy, size_t len, uint64_t seed) {
    static struct round_hdr rh;
    static struct frame f;
    uint8_t *mem = map_region(len);
    libsev_guest *g;
    size_t off, hl = 0, tl = 0;
    uint32_t pol = 0, result = 1;
    double t0, t_launch, t_send;

    t0 = now_s();
    g = launch(p, policy, mem, len, seed);
    t_launch = now_s() - t0;
    memset(&rh, 0, sizeof rh);
    rh.size = len;
    rh.seed = seed;
    {
        size_t sl = 0;
        CHECK_STATUS(libsev_guest_send_start(g, tc->pdh, CERT, tc->chain, CHAIN, tc->amd,
                                             tc->amd_len, rh.session, sizeof rh.session, &sl,
                                             &pol, &err),
                     LIBSEV_STATUS_OK);
        CHECK(sl == LIBSEV_SESSION_BLOB_LEN);
    }
    CHECK(pol == policy);
    CHECK(guest_state(g) == 4); /* SUPDATE */
    rh.policy = pol;
    {
        static uint8_t chain[CHAIN];
        export_pdh(p, rh.src_pdh, chain);
    }
    write_all(fd, &rh, sizeof rh);

    /* The size query: both sizes, nothing issued. */
    CHECK_STATUS(libsev_guest_send_update_data(g, mem, PAGE, NULL, 0, &hl, NULL, 0, &tl, &err),
                 LIBSEV_STATUS_BUFFER_TOO_SMALL);
    CHECK(hl == HDR && tl == PAGE);

    t0 = now_s();
    for (off = 0; off < len; off += PAGE) {
        f.offset = off;
        CHECK_STATUS(libsev_guest_send_update_data(g, mem + off, PAGE, f.hdr, HDR, &hl, f.trans,
                                                   PAGE, &tl, &err),
                     LIBSEV_STATUS_OK);
        write_all(fd, &f, sizeof f);
    }
    f.offset = END_OF_PAGES;
    write_all(fd, &f, sizeof f);
    CHECK(hl == HDR && tl == PAGE);
    CHECK_STATUS(libsev_guest_send_finish(g, &err), LIBSEV_STATUS_OK);
    CHECK(guest_state(g) == 6); /* SENT */
    t_send = now_s() - t0;
    CHECK_STATUS(libsev_guest_send_finish(g, &err), LIBSEV_STATUS_FW_INVALID_GUEST_STATE);

    read_all(fd, &result, sizeof result);
    CHECK(result == 0);
    printf("source: policy 0x%x: %zu MiB launched in %.3f s, sent in %.3f s (%.0f MiB/s, "
           "including the wait for the target); target result %u\n",
           policy, len >> 20, t_launch, t_send, (double)len / (1 << 20) / t_send, result);
    libsev_guest_free(g);
    munmap(mem, len);
}

static size_t guest_size(void) {
    const char *v = getenv("LIBSEV_MIGRATION_MIB");
    long mib = 256;
    if (v != NULL && *v != '\0')
        mib = strtol(v, NULL, 10);
    else if (getenv("LIBSEV_UNDER_VALGRIND") != NULL)
        mib = 4;
    if (mib < 1 || mib > 4095) {
        fprintf(stderr, "LIBSEV_MIGRATION_MIB must be 1..4095, not '%s'\n", v);
        exit(2);
    }
    return (size_t)mib << 20;
}

int main(void) {
    int sv[2], status = 0;
    pid_t pid;
    size_t len = guest_size();
    double t0 = now_s();

    setvbuf(stdout, NULL, _IOLBF, 0);
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    fflush(NULL);
    pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        close(sv[0]);
        run_target(sv[1]);
        close(sv[1]);
        if (failures)
            fprintf(stderr, "[target] %d check(s) failed\n", failures);
        exit(failures ? 1 : 0);
    }
    close(sv[1]);
    {
        char dir[] = "/tmp/libsev-migration-source-XXXXXX";
        libsev_platform *p = new_model(dir);
        static struct target_certs tc;
        static struct round_hdr end;

        read_all(sv[0], &tc, sizeof tc);
        source_negative(p, &tc);
        /* Neither SEV nor DOMAIN: only the PDH sanity check authenticates the target. */
        source_round(p, sv[0], &tc, 0, len < (1u << 20) ? len : (1u << 20), 0x1234);
        /* The SEV bit: the target's chain verifies up to the (emulated) ARK. */
        source_round(p, sv[0], &tc, POLICY_SEV, len, 0xC0FFEE);
        memset(&end, 0, sizeof end);
        write_all(sv[0], &end, sizeof end);
        free_model(p, dir);
    }
    close(sv[0]);
    REQUIRE(waitpid(pid, &status, 0) == pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "[source] the target process failed (status 0x%x)\n", status);
        failures++;
    }
    printf("migration: %zu MiB guest, total %.3f s\n", len >> 20, now_s() - t0);
    if (failures) {
        fprintf(stderr, "[source] %d check(s) failed\n", failures);
        return 1;
    }
    printf("migration: all checks passed\n");
    return 0;
}
