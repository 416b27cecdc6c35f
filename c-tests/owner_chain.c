/*
 * Guest-owner chain verification through the installed header: the real Naples and Rome
 * chains verify to their AMD roots; a single flipped byte in any signed region of any
 * certificate fails and names the link that certifies that certificate; each chain fails with
 * the other generation's ASK||ARK. Also a short owner-session round trip.
 *
 * Data: the directory in $LIBSEV_TESTDATA (the shared testdata/sev directory).
 * Exit 0 = pass, 77 = skip, anything else = fail (see c-tests/run.sh).
 */
#include <libsev.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEV_CERT_LEN 2084u
#define SEV_SIGNED_LEN 0x414u

static int failures;
static const char *datadir;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                              \
        }                                                                            \
    } while (0)

struct buf {
    uint8_t *p;
    size_t n;
};

/* Read DATADIR/rel; returns 0 on success. */
static int read_file(const char *rel, struct buf *out) {
    char path[4096];
    FILE *f;
    long len;

    snprintf(path, sizeof path, "%s/%s", datadir, rel);
    f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "cannot open %s\n", path);
        return -1;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return -1;
    }
    out->p = malloc((size_t)len);
    out->n = (size_t)len;
    if (out->p == NULL || fread(out->p, 1, out->n, f) != out->n) {
        fclose(f);
        free(out->p);
        out->p = NULL;
        return -1;
    }
    fclose(f);
    return 0;
}

static void concat(struct buf *dst, const struct buf *a, const struct buf *b) {
    dst->n = a->n + b->n;
    dst->p = malloc(dst->n);
    if (dst->p == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    memcpy(dst->p, a->p, a->n);
    memcpy(dst->p + a->n, b->p, b->n);
}

struct gen {
    const char *name;
    uint32_t generation;
    struct buf chain;    /* chain.bin: PDH PEK OCA CEK ASK ARK */
    struct buf sevchain; /* sev-chain.bin: PDH PEK OCA CEK */
    struct buf ask_ark;  /* builtin ask.cert || ark.cert */
};

static int load_gen(struct gen *g) {
    char rel[256];
    struct buf ask, ark;

    snprintf(rel, sizeof rel, "%s/chain.bin", g->name);
    if (read_file(rel, &g->chain))
        return -1;
    snprintf(rel, sizeof rel, "%s/sev-chain.bin", g->name);
    if (read_file(rel, &g->sevchain))
        return -1;
    snprintf(rel, sizeof rel, "builtin/%s/ask.cert", g->name);
    if (read_file(rel, &ask))
        return -1;
    snprintf(rel, sizeof rel, "builtin/%s/ark.cert", g->name);
    if (read_file(rel, &ark)) {
        free(ask.p);
        return -1;
    }
    concat(&g->ask_ark, &ask, &ark);
    free(ask.p);
    free(ark.p);
    return 0;
}

static void free_gen(struct gen *g) {
    free(g->chain.p);
    free(g->sevchain.p);
    free(g->ask_ark.p);
}

/* The real chain verifies, in both the three-part and the one-blob layouts. */
static void test_verifies(const struct gen *g) {
    libsev_chain_result r;
    libsev_error err;
    libsev_status st;
    const uint8_t *c = g->sevchain.p;
    int i;

    memset(&r, 0xAB, sizeof r);
    st = libsev_chain_verify(c, SEV_CERT_LEN, c + SEV_CERT_LEN, 3 * SEV_CERT_LEN, NULL, 0,
                             g->ask_ark.p, g->ask_ark.n, 0, &r, &err);
    if (st != LIBSEV_STATUS_OK)
        fprintf(stderr, "%s: %s\n", g->name, err.message);
    CHECK(st == LIBSEV_STATUS_OK);
    CHECK(r.status == LIBSEV_STATUS_OK);
    CHECK(r.root_kind == LIBSEV_ROOT_AMD);
    CHECK(r.generation == g->generation);
    CHECK(r.generation_name != NULL && strcmp(r.generation_name, g->name) == 0);
    CHECK(r.failed_link == LIBSEV_LINK_NONE);
    for (i = 0; i < LIBSEV_CHAIN_LINK_COUNT; i++)
        CHECK(r.link_status[i] == LIBSEV_STATUS_OK);
    CHECK(err.status == LIBSEV_STATUS_OK);

    /* The separately supplied CEK replaces the one in plat_certs. */
    st = libsev_chain_verify(c, SEV_CERT_LEN, c + SEV_CERT_LEN, 3 * SEV_CERT_LEN,
                             c + 3 * SEV_CERT_LEN, SEV_CERT_LEN, g->ask_ark.p, g->ask_ark.n, 0,
                             &r, NULL);
    CHECK(st == LIBSEV_STATUS_OK);

    memset(&r, 0, sizeof r);
    st = libsev_chain_verify_blob(g->chain.p, g->chain.n, NULL, 0, NULL, 0, 0, &r, &err);
    CHECK(st == LIBSEV_STATUS_OK);
    CHECK(r.generation == g->generation);
    st = libsev_chain_verify_blob(g->sevchain.p, g->sevchain.n, NULL, 0, g->ask_ark.p,
                                  g->ask_ark.n, 0,
                                  &r, &err);
    CHECK(st == LIBSEV_STATUS_OK);
}

static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Flip one byte at several offsets of every signed region; the named link must be the one
 * that certifies the damaged certificate, and every link above it must still pass. */
static void test_flips(const struct gen *g) {
    struct region {
        const char *what;
        size_t start, len;
        uint32_t link;
    } regions[6];
    size_t amd = 4 * SEV_CERT_LEN;
    size_t ask_total = (g->chain.n - amd) / 2; /* ASK and ARK have the same size here */
    size_t ask_signed = 0x40 + rd32(g->chain.p + amd + 0x38) / 8 + rd32(g->chain.p + amd + 0x3C) / 8;
    size_t ark = amd + ask_total;
    size_t ark_signed = 0x40 + rd32(g->chain.p + ark + 0x38) / 8 + rd32(g->chain.p + ark + 0x3C) / 8;
    uint8_t *copy = malloc(g->chain.n);
    size_t i, k;
    int tested = 0;

    regions[0] = (struct region){"PDH", 0, SEV_SIGNED_LEN, LIBSEV_LINK_PDH_BY_PEK};
    regions[1] = (struct region){"PEK", SEV_CERT_LEN, SEV_SIGNED_LEN, LIBSEV_LINK_PEK_BY_OCA};
    regions[2] = (struct region){"OCA", 2 * SEV_CERT_LEN, SEV_SIGNED_LEN, LIBSEV_LINK_OCA_SELF};
    regions[3] = (struct region){"CEK", 3 * SEV_CERT_LEN, SEV_SIGNED_LEN, LIBSEV_LINK_CEK_BY_ASK};
    regions[4] = (struct region){"ASK", amd, ask_signed, LIBSEV_LINK_ASK_BY_ARK};
    regions[5] = (struct region){"ARK", ark, ark_signed, LIBSEV_LINK_ARK_SELF};
    CHECK(copy != NULL);
    CHECK(ask_signed < ask_total && ark_signed < g->chain.n - ark);
    if (copy == NULL)
        return;

    for (i = 0; i < 6; i++) {
        const struct region *rg = &regions[i];
        size_t offs[6];
        offs[0] = 0;
        offs[1] = 8; /* usage (SEV) / key id (AMD) */
        offs[2] = 0x3C; /* key material (SEV) / modulus size (AMD) */
        offs[3] = rg->len / 2;
        offs[4] = rg->len - 48;
        offs[5] = rg->len - 1;
        for (k = 0; k < sizeof offs / sizeof offs[0]; k++) {
            libsev_chain_result r;
            libsev_error err;
            libsev_status st;
            uint32_t l;

            memcpy(copy, g->chain.p, g->chain.n);
            copy[rg->start + offs[k]] ^= 0x01;
            memset(&r, 0, sizeof r);
            st = libsev_chain_verify_blob(copy, g->chain.n, NULL, 0, NULL, 0, 0, &r, &err);
            tested++;
            if (st == LIBSEV_STATUS_OK || r.failed_link != rg->link) {
                fprintf(stderr, "%s %s+0x%zx: status %u (%s), failed link %u (%s), want %s\n",
                        g->name, rg->what, offs[k], (unsigned)st, err.message,
                        (unsigned)r.failed_link, libsev_chain_link_str(r.failed_link),
                        libsev_chain_link_str(rg->link));
                failures++;
                continue;
            }
            CHECK(r.status == (uint32_t)st);
            CHECK(r.link_status[rg->link] != LIBSEV_STATUS_OK);
            for (l = LIBSEV_LINK_ARK_SELF; l < rg->link; l++)
                CHECK(r.link_status[l] == LIBSEV_STATUS_OK);
            CHECK(strstr(err.message, libsev_chain_link_str(rg->link)) != NULL);
        }
    }
    CHECK(tested == 36);
    free(copy);
}

/* A chain with the other generation's ASK||ARK fails at the CEK. */
static void test_other_generation(const struct gen *g, const struct gen *other) {
    libsev_chain_result r;
    libsev_error err;
    libsev_status st;

    memset(&r, 0, sizeof r);
    st = libsev_chain_verify_blob(g->sevchain.p, g->sevchain.n, NULL, 0, other->ask_ark.p,
                                  other->ask_ark.n, 0, &r, &err);
    CHECK(st != LIBSEV_STATUS_OK);
    CHECK(st == LIBSEV_STATUS_BAD_SIGNATURE || st == LIBSEV_STATUS_CHAIN_BROKEN);
    CHECK(r.failed_link == LIBSEV_LINK_CEK_BY_ASK);
    CHECK(r.root_kind == LIBSEV_ROOT_AMD);
    CHECK(r.generation == other->generation);
    CHECK(r.link_status[LIBSEV_LINK_ARK_SELF] == LIBSEV_STATUS_OK);
    CHECK(r.link_status[LIBSEV_LINK_ASK_BY_ARK] == LIBSEV_STATUS_OK);
    CHECK(err.command == LIBSEV_CMD_OWNER);
}

/* Argument errors: status set, result untouched; unknown flags refused. */
static void test_arguments(const struct gen *g) {
    libsev_chain_result r;
    libsev_error err;

    memset(&r, 0x5A, sizeof r);
    CHECK(libsev_chain_verify(NULL, SEV_CERT_LEN, g->sevchain.p, 3 * SEV_CERT_LEN, NULL, 0,
                              g->ask_ark.p, g->ask_ark.n, 0, &r, &err) ==
          LIBSEV_STATUS_NULL_ARGUMENT);
    CHECK(err.status == LIBSEV_STATUS_NULL_ARGUMENT);
    CHECK(libsev_chain_verify(g->sevchain.p, SEV_CERT_LEN - 1, g->sevchain.p, 3 * SEV_CERT_LEN,
                              NULL, 0, g->ask_ark.p, g->ask_ark.n, 0, &r, &err) ==
          LIBSEV_STATUS_INVALID_LENGTH);
    CHECK(libsev_chain_verify_blob(g->chain.p, g->chain.n, NULL, 0, NULL, 0, 0x80, &r, &err) ==
          LIBSEV_STATUS_INVALID_ARGUMENT);
    CHECK(libsev_chain_verify_blob(g->chain.p, g->chain.n - 1, NULL, 0, NULL, 0, 0, &r, &err) ==
          LIBSEV_STATUS_INVALID_LENGTH);
    CHECK(r.status == 0x5A5A5A5Au && r.failed_link == 0x5A5A5A5Au);
    CHECK(libsev_chain_verify_blob(g->chain.p, g->chain.n, NULL, 0, NULL, 0, 0, NULL, NULL) ==
          LIBSEV_STATUS_OK);
}

/* The owner session from C: sizes, the state gate on secrets, export/import. */
static void test_session(const struct gen *g) {
    libsev_owner_session *s = NULL, *t = NULL;
    libsev_error err;
    uint8_t godh[LIBSEV_GODH_CERT_LEN], blob[LIBSEV_SESSION_BLOB_LEN], hdr[LIBSEV_SECRET_HEADER_LEN];
    uint8_t secret[32] = {1}, trans[32], state[256], m[LIBSEV_MEASUREMENT_LEN] = {0}, exp[32];
    size_t n = 0, state_len = 0;

    CHECK(libsev_owner_session_new(g->sevchain.p, SEV_CERT_LEN, 0x1, &s, &err) ==
          LIBSEV_STATUS_OK);
    if (s == NULL)
        return;
    CHECK(libsev_owner_session_godh(s, NULL, 0, &n, &err) == LIBSEV_STATUS_BUFFER_TOO_SMALL);
    CHECK(n == sizeof godh);
    CHECK(libsev_owner_session_godh(s, godh, sizeof godh, &n, &err) == LIBSEV_STATUS_OK);
    CHECK(rd32(godh + 8) == 0x1003 && rd32(godh + 12) == 0x3);
    CHECK(libsev_owner_session_blob(s, blob, sizeof blob, &n, &err) == LIBSEV_STATUS_OK);
    CHECK(n == sizeof blob);
    memset(hdr, 0xCC, sizeof hdr);
    CHECK(libsev_owner_session_package_secret(s, secret, sizeof secret, 0, hdr, trans,
                                              sizeof trans, &n, &err) ==
          LIBSEV_STATUS_INVALID_STATE);
    CHECK(hdr[0] == 0xCC && hdr[51] == 0xCC);
    CHECK(strlen(libsev_owner_session_last_error(s)) > 0);
    CHECK(libsev_owner_session_measure_update(s, secret, sizeof secret, &err) ==
          LIBSEV_STATUS_OK);
    CHECK(libsev_owner_session_verify_measurement(s, 0, 22, 1, m, exp, &err) ==
          LIBSEV_STATUS_MEASUREMENT_MISMATCH);
    CHECK(libsev_owner_session_export(s, state, sizeof state, &state_len, &err) ==
          LIBSEV_STATUS_OK);
    CHECK(state_len > 0 && state_len <= sizeof state);
    CHECK(libsev_owner_session_import(state, state_len, &t, &err) == LIBSEV_STATUS_OK);
    CHECK(libsev_owner_session_godh(t, godh, sizeof godh, &n, &err) == LIBSEV_STATUS_INVALID_STATE);
    libsev_owner_session_free(t);
    t = NULL;
    state[20] ^= 1; /* damaged secret state is refused, not half-imported */
    CHECK(libsev_owner_session_import(state, state_len, &t, &err) ==
          LIBSEV_STATUS_BAD_STATE_BLOB);
    CHECK(t == NULL);
    libsev_owner_session_free(s);
    libsev_owner_session_free(NULL);
}

int main(void) {
    struct gen gens[2] = {
        {"naples", LIBSEV_GENERATION_NAPLES, {0}, {0}, {0}},
        {"rome", LIBSEV_GENERATION_ROME, {0}, {0}, {0}},
    };
    int i;

    datadir = getenv("LIBSEV_TESTDATA");
    if (datadir == NULL || datadir[0] == '\0') {
        printf("skip: LIBSEV_TESTDATA is not set (the shared testdata/sev directory)\n");
        return 77;
    }
    for (i = 0; i < 2; i++) {
        if (load_gen(&gens[i])) {
            /* The directory was named but is incomplete: that is a broken setup, not a skip. */
            fprintf(stderr, "owner_chain: test data for %s missing under %s\n", gens[i].name,
                    datadir);
            return 1;
        }
    }
    for (i = 0; i < 2; i++) {
        test_verifies(&gens[i]);
        test_flips(&gens[i]);
        test_other_generation(&gens[i], &gens[1 - i]);
        test_arguments(&gens[i]);
        test_session(&gens[i]);
    }
    for (i = 0; i < 2; i++)
        free_gen(&gens[i]);
    if (failures) {
        fprintf(stderr, "owner_chain: %d check(s) failed\n", failures);
        return 1;
    }
    printf("owner_chain: ok\n");
    return 0;
}
