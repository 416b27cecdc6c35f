/*
 * Hostile guest memory through the installed library:
 *
 *  - LAUNCH_UPDATE_DATA ranges issued in pieces (longer than 2 GiB) that a later piece would
 *    refuse (2 GiB + 8 bytes; 2 GiB + 16 with a read-only or unmapped tail) are refused
 *    before the first piece: guest memory and the launch digest are unchanged.
 *  - DBG_ENCRYPT / DBG_DECRYPT over every source and destination offset within a 16-byte
 *    granule and around a page boundary, and many lengths: every byte is written exactly
 *    (checked against DBG_DECRYPT of the whole area and plain memcmp), nothing around it.
 *  - Read-only, PROT_NONE and unmapped memory for LAUNCH_UPDATE_DATA, REGISTER_REGION and
 *    DBG_DECRYPT's destination: the kernel's errno (ENOMEM: the pages cannot be pinned),
 *    nothing written, no crash.
 */
#define _GNU_SOURCE
#include "test_util.h"

#include <errno.h>
#include <stdint.h>
#include <unistd.h>

#define PAGE 4096u

static libsev_error err;

static libsev_guest *launched(libsev_platform *p, uint8_t *mem, size_t len) {
    libsev_guest *g = NULL;
    uint32_t h = 0;
    MUST_E(err, libsev_guest_new(p, &g, &err));
    MUST_E(err, libsev_guest_init(g, &err));
    MUST_E(err, libsev_guest_launch_start(g, 0, 0, NULL, 0, NULL, 0, &h, &err));
    if (mem != NULL)
        MUST_E(err, libsev_guest_register_region(g, mem, len, &err));
    return g;
}

static void measure(libsev_guest *g, uint8_t out[LIBSEV_MEASUREMENT_LEN]) {
    size_t n = 0;
    MUST_E(err, libsev_guest_launch_measure(g, out, LIBSEV_MEASUREMENT_LEN, &n, &err));
}

/* Defect 3. */
static void update_data_is_atomic(libsev_platform *p) {
    const size_t big = ((size_t)1 << 31) + 16;
    size_t map_len = big + PAGE;
    uint8_t *mem = mmap(NULL, map_len, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    uint8_t m1[LIBSEV_MEASUREMENT_LEN], m2[LIBSEV_MEASUREMENT_LEN];
    libsev_guest *ref, *g;
    uint32_t s;
    if (mem == MAP_FAILED) {
        printf("update_data_is_atomic: skipped (no 2 GiB of address space)\n");
        return;
    }
    memset(mem, 0x3c, PAGE);
    /* The reference digest: this guest only measures one page. */
    ref = launched(p, NULL, 0);
    g = launched(p, NULL, 0);
    /* 2 GiB + 8: the last piece's length is not a multiple of 16. */
    s = libsev_guest_launch_update_data(g, mem, ((size_t)1 << 31) + 8, &err);
    CHECK_ST_E(err, s, LIBSEV_STATUS_FW_INVALID_LENGTH);
    CHECK(strstr(err.message, "before the first piece") != NULL);
    CHECK(all_bytes(mem, PAGE, 0x3c));
    /* 2 GiB + 16 whose last page is read-only, then unmapped. */
    CHECK(mprotect(mem + (big & ~(size_t)(PAGE - 1)), PAGE, PROT_READ) == 0);
    s = libsev_guest_launch_update_data(g, mem, big, &err);
    CHECK_ST_E(err, s, LIBSEV_STATUS_OUT_OF_MEMORY);
    CHECK(err.os_errno == ENOMEM);
    CHECK(munmap(mem + (big & ~(size_t)(PAGE - 1)), PAGE) == 0);
    s = libsev_guest_launch_update_data(g, mem, big, &err);
    CHECK_ST_E(err, s, LIBSEV_STATUS_OUT_OF_MEMORY);
    CHECK(all_bytes(mem, PAGE, 0x3c));
    /* The launch is intact: still LUPDATE, a page updates and the launch is measured. */
    CHECK(guest_state(g, &err) == ST_LUPDATE);
    MUST_E(err, libsev_guest_launch_update_data(g, mem, PAGE, &err));
    CHECK(!all_bytes(mem, PAGE, 0x3c));
    measure(g, m1);
    MUST_E(err, libsev_guest_launch_update_data(ref, mem + PAGE, PAGE, &err));
    measure(ref, m2);
    libsev_guest_free(g);
    libsev_guest_free(ref);
    munmap(mem, big & ~(size_t)(PAGE - 1));
}

/* Defect 9: exhaustive offsets and lengths. */
static void dbg_every_offset(libsev_platform *p) {
    const size_t area = 4 * PAGE;
    uint8_t *guest = map_ram(area), *plain = map_ram(area), *ref = map_ram(area),
            *got = map_ram(area), *src = map_ram(area);
    libsev_guest *g;
    static const size_t lens[] = {1,  2,  7,  8,  15, 16,  17,  31,  32,   33,  47,
                                  48, 63, 64, 95, 96, 97,  112, 200, 4095, 4096, 4097, 4113};
    size_t offs[40], n_offs = 0, i, a, b, l, bad = 0, cases = 0;
    int valgrind = getenv("LIBSEV_UNDER_VALGRIND") != NULL;

    fill_image(plain, area, 7);
    memcpy(guest, plain, area);
    g = launched(p, guest, area);
    MUST_E(err, libsev_guest_launch_update_data(g, guest, area, &err));
    /* Offsets within the first granule and just before the second page. */
    for (i = 0; i < 16; i += valgrind ? 5 : 1)
        offs[n_offs++] = i;
    for (i = PAGE - 17; i < PAGE; i += valgrind ? 5 : 1)
        offs[n_offs++] = i;
    for (a = 0; a < n_offs; a++)
        for (b = 0; b < n_offs; b++)
            for (l = 0; l < sizeof lens / sizeof lens[0]; l++) {
                size_t so = offs[a], d = offs[b] + PAGE, len = lens[l];
                if (valgrind && (l % 3) != 0)
                    continue;
                cases++;
                /* DBG_DECRYPT from guest+so into got+d: exactly the plaintext, nothing
                 * around it. */
                memset(got, 0xee, area);
                MUST_E(err, libsev_guest_dbg_decrypt(g, guest + so, got + d, len, &err));
                if (memcmp(got + d, plain + so, len) != 0 || !all_bytes(got, d, 0xee) ||
                    !all_bytes(got + d + len, area - d - len, 0xee))
                    bad++;
                /* DBG_ENCRYPT of fresh bytes from src+so into guest+d, checked by
                 * decrypting the whole guest area and comparing with the expectation. */
                fill_image(src + so, len, 1000 + cases);
                MUST_E(err, libsev_guest_dbg_encrypt(g, src + so, guest + d, len, &err));
                memcpy(plain + d, src + so, len);
                MUST_E(err, libsev_guest_dbg_decrypt(g, guest, ref, area, &err));
                if (memcmp(ref, plain, area) != 0) {
                    if (bad < 5)
                        fprintf(stderr, "DBG_ENCRYPT src+%zu -> guest+%zu, %zu bytes: wrong\n",
                                so, d, len);
                    bad++;
                    memcpy(plain, ref, area); /* resynchronise */
                }
            }
    printf("dbg_every_offset: %zu cases, %zu wrong\n", cases, bad);
    CHECK(bad == 0);
    libsev_guest_free(g);
    munmap(guest, area);
    munmap(plain, area);
    munmap(ref, area);
    munmap(got, area);
    munmap(src, area);
}

/* Defect 10. */
static void protected_memory(libsev_platform *p) {
    uint8_t *m = map_ram(4 * PAGE), buf[64];
    libsev_guest *g;
    uint32_t s;
    memset(m, 0x5a, 4 * PAGE);
    CHECK(mprotect(m + PAGE, PAGE, PROT_READ) == 0);
    CHECK(mprotect(m + 2 * PAGE, PAGE, PROT_NONE) == 0);
    CHECK(munmap(m + 3 * PAGE, PAGE) == 0);
    g = launched(p, m, PAGE);
    for (int i = 1; i <= 3; i++) {
        s = libsev_guest_register_region(g, m + i * PAGE, PAGE, &err);
        CHECK_ST_E(err, s, LIBSEV_STATUS_OUT_OF_MEMORY);
        CHECK(err.os_errno == ENOMEM);
        s = libsev_guest_launch_update_data(g, m + i * PAGE, PAGE, &err);
        CHECK_ST_E(err, s, LIBSEV_STATUS_OUT_OF_MEMORY);
        CHECK(err.os_errno == ENOMEM);
        s = libsev_guest_launch_update_data(g, m + PAGE - 64, 128, &err);
        CHECK_ST_E(err, s, LIBSEV_STATUS_OUT_OF_MEMORY);
    }
    CHECK(all_bytes(m, PAGE, 0x5a) && all_bytes(m + PAGE, PAGE, 0x5a));
    MUST_E(err, libsev_guest_launch_update_data(g, m, PAGE, &err));
    for (int i = 1; i <= 3; i++) {
        s = libsev_guest_dbg_decrypt(g, m, m + i * PAGE, 64, &err);
        CHECK_ST_E(err, s, LIBSEV_STATUS_OUT_OF_MEMORY);
        CHECK(err.os_errno == ENOMEM);
        s = libsev_guest_dbg_decrypt(g, m + i * PAGE, buf, 64, &err);
        if (i > 1)
            CHECK_ST_E(err, s, LIBSEV_STATUS_OUT_OF_MEMORY);
    }
    CHECK(all_bytes(m + PAGE, PAGE, 0x5a));
    libsev_guest_free(g);
    munmap(m, 3 * PAGE);
}

int main(void) {
    libsev_platform *p = model_platform(9, &err);
    update_data_is_atomic(p);
    dbg_every_offset(p);
    protected_memory(p);
    libsev_platform_free(p);
    if (failures) {
        fprintf(stderr, "hostile_memory: %d failures\n", failures);
        return 1;
    }
    printf("hostile_memory: ok\n");
    return 0;
}
