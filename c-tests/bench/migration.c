/*
 * C-ABI counterpart of src/benches/migration.rs: a guest of LIBSEV_BENCH_MIB MiB (1 GiB by
 * default) launched on one firmware model and streamed page by page (SEND_UPDATE_DATA ->
 * shared ring -> RECEIVE_UPDATE_DATA) to a second model in a forked process, through the
 * installed library. Printed in the Rust benchmark's line format, as a ratio against
 * `openssl speed -hmac sha256` measured in the same run (CPU time of the busier side, and the
 * wall time for reference), then the per-packet cost of each command in one process.
 */
#define _GNU_SOURCE /* sched_setaffinity, CPU_SET */
#include "bench_util.h"

#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096
#define HDR 52
#define FRAME (HDR + PAGE)
#define BATCH 32
#define SLOTS 8
#define SLOT_BYTES (BATCH * FRAME)

static void xwrite(int fd, const void *p, size_t n) {
    const uint8_t *b = p;
    while (n) {
        ssize_t k = write(fd, b, n);
        if (k <= 0) {
            perror("write");
            exit(1);
        }
        b += k;
        n -= (size_t)k;
    }
}

static void xread(int fd, void *p, size_t n) {
    uint8_t *b = p;
    while (n) {
        ssize_t k = read(fd, b, n);
        if (k <= 0) {
            perror("read");
            exit(1);
        }
        b += k;
        n -= (size_t)k;
    }
}

/* With LIBSEV_BENCH_PIN=1, pin the calling process to `cpu` (as the Rust benchmark does). */
static void pin_to_cpu(int cpu) {
    const char *v = getenv("LIBSEV_BENCH_PIN");
    if (!v || strcmp(v, "1") != 0)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof set, &set);
}

static void export_pdh(libsev_platform *p, uint8_t *pdh, uint8_t *chain) {
    size_t pl = 0, cl = 0;
    TRY(libsev_platform_pdh_cert_export(p, pdh, LIBSEV_SEV_CERT_LEN, &pl, chain,
                                        LIBSEV_CERT_CHAIN_LEN, &cl, NULL));
}

/* A launched (RUNNING) guest of `len` bytes of the pattern on platform `p`. */
static libsev_guest *launched(libsev_platform *p, uint8_t *mem, size_t len) {
    libsev_guest *g = NULL;
    uint32_t handle = 0;
    uint8_t m[LIBSEV_MEASUREMENT_LEN];
    size_t ml = 0;
    TRY(libsev_guest_new(p, &g, NULL));
    TRY(libsev_guest_init(g, NULL));
    TRY(libsev_guest_launch_start(g, 0, 0, NULL, 0, NULL, 0, &handle, NULL));
    fill_pattern(mem, len);
    TRY(libsev_guest_register_region(g, mem, len, NULL));
    TRY(libsev_guest_launch_update_data(g, mem, len, NULL));
    TRY(libsev_guest_launch_measure(g, m, sizeof m, &ml, NULL));
    TRY(libsev_guest_launch_finish(g, NULL));
    return g;
}

static libsev_guest *send_started(libsev_guest *g, libsev_platform *target, uint8_t *session,
                                  uint32_t *policy) {
    uint8_t pdh[LIBSEV_SEV_CERT_LEN], chain[LIBSEV_CERT_CHAIN_LEN];
    static uint8_t amd[3200]; /* policy 0: not read, but KVM requires the buffer */
    size_t sl = 0;
    export_pdh(target, pdh, chain);
    TRY(libsev_guest_send_start(g, pdh, sizeof pdh, chain, sizeof chain, amd, sizeof amd, session,
                                LIBSEV_SESSION_BLOB_LEN, &sl, policy, NULL));
    return g;
}

static void send_page(libsev_guest *g, const uint8_t *page, uint8_t *frame) {
    size_t hl = 0, tl = 0;
    TRY(libsev_guest_send_update_data(g, page, PAGE, frame, HDR, &hl, frame + HDR, PAGE, &tl,
                                      NULL));
}

static void receive_page(libsev_guest *g, const uint8_t *frame, uint8_t *page) {
    TRY(libsev_guest_receive_update_data(g, frame, HDR, page, PAGE, frame + HDR, PAGE, NULL));
}

/* The receiving process (as `target` in the Rust benchmark). */
static void target(int s, uint8_t *ring, size_t len) {
    pin_to_cpu(1);
    uint8_t *mem = map_region(len, MAP_POPULATE);
    libsev_platform *p = model(2);
    uint8_t pdh[LIBSEV_SEV_CERT_LEN], chain[LIBSEV_CERT_CHAIN_LEN];
    export_pdh(p, pdh, chain);
    xwrite(s, pdh, sizeof pdh);
    xwrite(s, chain, sizeof chain);
    uint8_t start[4 + LIBSEV_SESSION_BLOB_LEN + LIBSEV_SEV_CERT_LEN];
    xread(s, start, sizeof start);
    uint32_t policy, handle = 0;
    memcpy(&policy, start, 4);

    libsev_guest *g = NULL;
    TRY(libsev_guest_new(p, &g, NULL));
    TRY(libsev_guest_init(g, NULL));
    TRY(libsev_guest_receive_start(g, policy, 0, start + 4 + LIBSEV_SESSION_BLOB_LEN,
                                   LIBSEV_SEV_CERT_LEN, start + 4, LIBSEV_SESSION_BLOB_LEN,
                                   &handle, NULL));
    TRY(libsev_guest_register_region(g, mem, len, NULL));

    double busy = 0, cpu0 = cpu_secs();
    uint64_t pre0 = preempted();
    size_t pages = len / PAGE;
    for (size_t b = 0, first = 0; first < pages; b++, first += BATCH) {
        uint32_t n;
        xread(s, &n, 4);
        size_t want = pages - first < BATCH ? pages - first : BATCH;
        if (n != want) {
            fprintf(stderr, "packet count %u, expected %zu\n", n, want);
            _exit(1);
        }
        const uint8_t *frames = ring + (b % SLOTS) * SLOT_BYTES;
        double t = now_secs();
        for (size_t i = 0; i < n; i++)
            receive_page(g, frames + i * FRAME, mem + (first + i) * PAGE);
        busy += now_secs() - t;
        uint8_t tok = 1;
        xwrite(s, &tok, 1);
    }
    double cpu = cpu_secs() - cpu0;
    uint64_t pre = preempted() - pre0;
    TRY(libsev_guest_receive_finish(g, NULL));
    uint64_t fig[3] = {(uint64_t)(busy * 1e9), (uint64_t)(cpu * 1e9), pre};
    xwrite(s, fig, sizeof fig);

    /* The first and the last page decrypt to the source's pattern. */
    static uint8_t out[PAGE];
    size_t offs[2] = {0, len - PAGE};
    for (int k = 0; k < 2; k++) {
        TRY(libsev_guest_dbg_decrypt(g, mem + offs[k], out, PAGE, NULL));
        uint8_t ok = 1;
        for (size_t i = 0; i < PAGE / 8; i++) {
            uint64_t w, want = pattern(offs[k] / 8 + i);
            memcpy(&w, out + 8 * i, 8);
            ok &= w == want;
        }
        xwrite(s, &ok, 1);
    }
    libsev_guest_free(g);
    libsev_platform_free(p);
    _exit(0);
}

/* Per-packet cost in one process, no IPC: (send, receive) in microseconds per 4 KiB packet. */
static void per_packet(size_t n, double *send, double *recv) {
    libsev_platform *sp = model(3), *tp = model(4);
    size_t len = n * PAGE;
    uint8_t *mem = map_region(len, MAP_POPULATE), *dmem = map_region(len, MAP_POPULATE);
    uint8_t *frames = map_region(n * FRAME, MAP_POPULATE);
    memset(frames, 1, n * FRAME);
    uint8_t session[LIBSEV_SESSION_BLOB_LEN];
    uint32_t policy = 0, handle = 0;
    libsev_guest *src = send_started(launched(sp, mem, len), tp, session, &policy);
    double t = now_secs();
    for (size_t i = 0; i < n; i++)
        send_page(src, mem + i * PAGE, frames + i * FRAME);
    *send = (now_secs() - t) / (double)n * 1e6;

    uint8_t src_pdh[LIBSEV_SEV_CERT_LEN], chain[LIBSEV_CERT_CHAIN_LEN];
    export_pdh(sp, src_pdh, chain);
    libsev_guest *dst = NULL;
    TRY(libsev_guest_new(tp, &dst, NULL));
    TRY(libsev_guest_init(dst, NULL));
    TRY(libsev_guest_receive_start(dst, policy, 0, src_pdh, sizeof src_pdh, session,
                                   sizeof session, &handle, NULL));
    TRY(libsev_guest_register_region(dst, dmem, len, NULL));
    t = now_secs();
    for (size_t i = 0; i < n; i++)
        receive_page(dst, frames + i * FRAME, dmem + i * PAGE);
    *recv = (now_secs() - t) / (double)n * 1e6;
    libsev_guest_free(src);
    libsev_guest_free(dst);
    libsev_platform_free(sp);
    libsev_platform_free(tp);
    munmap(frames, n * FRAME);
    munmap(mem, len);
    munmap(dmem, len);
}

int main(void) {
    size_t len = bench_len();
    double hmac = openssl_speed("-hmac sha256", "hmac(sha256)");
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
        perror("socketpair");
        return 1;
    }
    uint8_t *ring = map_region(SLOTS * SLOT_BYTES, MAP_SHARED | MAP_POPULATE);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        close(sv[0]);
        target(sv[1], ring, len);
    }
    close(sv[1]);
    int s = sv[0];
    pin_to_cpu(0);

    libsev_platform *p = model(1);
    uint8_t *mem = map_region(len, MAP_POPULATE);
    libsev_guest *g = launched(p, mem, len);

    uint8_t pdh[LIBSEV_SEV_CERT_LEN], chain[LIBSEV_CERT_CHAIN_LEN];
    xread(s, pdh, sizeof pdh);
    xread(s, chain, sizeof chain);
    static uint8_t amd[3200];
    uint8_t start[4 + LIBSEV_SESSION_BLOB_LEN + LIBSEV_SEV_CERT_LEN], chain2[LIBSEV_CERT_CHAIN_LEN];
    uint32_t policy = 0;
    size_t sl = 0;
    TRY(libsev_guest_send_start(g, pdh, sizeof pdh, chain, sizeof chain, amd, sizeof amd,
                                start + 4, LIBSEV_SESSION_BLOB_LEN, &sl, &policy, NULL));
    memcpy(start, &policy, 4);
    export_pdh(p, start + 4 + LIBSEV_SESSION_BLOB_LEN, chain2);
    xwrite(s, start, sizeof start);

    double busy = 0, cpu0 = cpu_secs(), t0 = now_secs();
    uint64_t pre0 = preempted();
    size_t pages = len / PAGE, credits = SLOTS, returned = 0;
    uint8_t tok;
    for (size_t b = 0, first = 0; first < pages; b++, first += BATCH) {
        uint32_t n = (uint32_t)(pages - first < BATCH ? pages - first : BATCH);
        if (credits == 0) {
            xread(s, &tok, 1);
            credits = 1;
            returned++;
        }
        uint8_t *frames = ring + (b % SLOTS) * SLOT_BYTES;
        double t = now_secs();
        for (uint32_t i = 0; i < n; i++)
            send_page(g, mem + (first + i) * PAGE, frames + i * FRAME);
        busy += now_secs() - t;
        xwrite(s, &n, 4);
        credits--;
    }
    TRY(libsev_guest_send_finish(g, NULL));
    double cpu = cpu_secs() - cpu0;
    uint64_t pre = preempted() - pre0;
    for (size_t k = returned; k < (pages + BATCH - 1) / BATCH; k++)
        xread(s, &tok, 1);
    uint64_t fig[3];
    xread(s, fig, sizeof fig);
    double secs = now_secs() - t0;
    double rbusy = (double)fig[0] / 1e9, rcpu = (double)fig[1] / 1e9;
    uint8_t ok[2];
    xread(s, ok, 2);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!(ok[0] == 1 && ok[1] == 1 && status == 0)) {
        fprintf(stderr, "the target did not receive the guest intact\n");
        return 1;
    }
    libsev_guest_status_info gs;
    TRY(libsev_guest_status(g, &gs, NULL));
    if (gs.state != 6) {
        fprintf(stderr, "the source is in state %u, not SENT\n", gs.state);
        return 1;
    }

    double rate = (double)len / secs, cpu_rate = (double)len / (cpu > rcpu ? cpu : rcpu);
    char a[32], b[32], h[32], ratios[160];
    gbs(a, sizeof a, rate);
    gbs(b, sizeof b, cpu_rate);
    if (hmac > 0) {
        gbs(h, sizeof h, hmac);
        snprintf(ratios, sizeof ratios,
                 "openssl hmac(sha256) %s ; ratio %.2f (CPU time of the busier side), %.2f (wall)",
                 h, cpu_rate / hmac, rate / hmac);
    } else {
        snprintf(ratios, sizeof ratios, "openssl not available: no ratio");
    }
    printf("migration: %zu bytes in %.3f s wall = %s ; %s per busier side's CPU second (send "
           "%.3f s CPU, %.3f s in SEND_UPDATE_DATA, preempted %llu times; receive %.3f s CPU, "
           "%.3f s in RECEIVE_UPDATE_DATA, preempted %llu times) ; %s ; target >= 0.50\n",
           len, secs, a, b, cpu, busy, (unsigned long long)pre, rcpu, rbusy,
           (unsigned long long)fig[2], ratios);
    libsev_guest_free(g);
    libsev_platform_free(p);
    munmap(mem, len);

    double send, recv;
    per_packet(4096, &send, &recv);
    char hp[32] = "n/a";
    if (hmac > 0)
        snprintf(hp, sizeof hp, "%.2f us", 4096.0 / hmac * 1e6);
    printf("per packet (one process, no IPC): SEND_UPDATE_DATA %.2f us, RECEIVE_UPDATE_DATA %.2f "
           "us ; HMAC-SHA256 of 4 KiB at the openssl rate: %s\n",
           send, recv, hp);
    return 0;
}
