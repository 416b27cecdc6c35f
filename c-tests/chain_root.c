/*
 * Chain verification with a caller-supplied root, through the installed header: the firmware
 * model's chain (test-only root) verifies with that root given as bytes and no flag, reported
 * as LIBSEV_ROOT_SUPPLIED; without it, or with another root, it fails as before; a root that
 * is not an ARK is refused before anything is written; `libsev_chain_verify_blob` takes the
 * CEK override. A real AMD chain stays LIBSEV_ROOT_AMD whatever root is supplied.
 *
 * Data: $LIBSEV_TESTDATA (the shared testdata/sev directory) for the Rome chain and ARK.
 * Exit 0 = pass, 77 = skip, anything else = fail (see c-tests/run.sh).
 */
#include <libsev.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                              \
        }                                                                            \
    } while (0)

/* Read DIR/rel into a malloc'd buffer; NULL on failure. */
static uint8_t *read_file(const char *dir, const char *rel, size_t *n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    uint8_t *p = NULL;
    long len;
    if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0) {
        p = malloc((size_t)len);
        if (p != NULL && fread(p, 1, (size_t)len, f) != (size_t)len) {
            free(p);
            p = NULL;
        }
        *n = (size_t)len;
    }
    fclose(f);
    return p;
}

static void fresh(libsev_chain_result *r) {
    memset(r, 0x5A, sizeof *r);
}

int main(void) {
    const char *dir = getenv("LIBSEV_TESTDATA");
    if (dir == NULL || *dir == 0) {
        printf("LIBSEV_TESTDATA is not set: skipping\n");
        return 77;
    }
    size_t rome_n = 0, rome_ark_n = 0;
    uint8_t *rome = read_file(dir, "rome/chain.bin", &rome_n);
    uint8_t *rome_ark = read_file(dir, "builtin/rome/ark.cert", &rome_ark_n);
    if (rome == NULL || rome_ark == NULL) {
        printf("the Rome chain is missing from %s: skipping\n", dir);
        return 77;
    }

    /* The model's chain: PDH || PEK || OCA || CEK(unsigned), its signed CEK, ASK || ARK. */
    libsev_model_config cfg;
    libsev_platform *p = NULL;
    libsev_error err;
    uint8_t seed[LIBSEV_MODEL_SEED_LEN];
    memset(seed, 9, sizeof seed);
    CHECK(libsev_model_config_init(&cfg) == LIBSEV_STATUS_OK);
    cfg.seed = seed;
    if (libsev_platform_new_model(&cfg, &p, &err) != LIBSEV_STATUS_OK) {
        fprintf(stderr, "model platform: %s\n", err.message);
        return 1;
    }
    uint8_t blob[4 * LIBSEV_SEV_CERT_LEN], cek[LIBSEV_SEV_CERT_LEN], aa[4096];
    size_t pl = 0, cl = 0, cekl = 0, aal = 0;
    CHECK(libsev_platform_pdh_cert_export(p, blob, LIBSEV_SEV_CERT_LEN, &pl,
                                          blob + LIBSEV_SEV_CERT_LEN, LIBSEV_CERT_CHAIN_LEN, &cl,
                                          &err) == LIBSEV_STATUS_OK);
    CHECK(libsev_platform_model_cek(p, cek, sizeof cek, &cekl, &err) == LIBSEV_STATUS_OK);
    CHECK(libsev_platform_model_ask_ark(p, aa, sizeof aa, &aal, &err) == LIBSEV_STATUS_OK);
    const uint8_t *ark = aa + aal / 2;
    size_t ark_n = aal / 2;
    libsev_chain_result r;

    /* The blob form takes the CEK override: without it the unsigned CEK fails its link. */
    fresh(&r);
    CHECK(libsev_chain_verify_blob(blob, sizeof blob, NULL, 0, aa, aal,
                                   LIBSEV_VERIFY_ALLOW_TEST_ROOT, &r, &err) != LIBSEV_STATUS_OK);
    CHECK(r.failed_link == LIBSEV_LINK_CEK_BY_ASK);
    fresh(&r);
    CHECK(libsev_chain_verify_blob(blob, sizeof blob, cek, cekl, aa, aal,
                                   LIBSEV_VERIFY_ALLOW_TEST_ROOT, &r, &err) == LIBSEV_STATUS_OK);
    CHECK(r.root_kind == LIBSEV_ROOT_TEST_ONLY);

    /* No flag, no root: the test root is refused. */
    CHECK(libsev_chain_verify_blob(blob, sizeof blob, cek, cekl, aa, aal, 0, &r, &err) ==
          LIBSEV_STATUS_TEST_ROOT_NOT_ALLOWED);

    /* The test root given as bytes: trusted, reported as supplied (not AMD, not unknown). */
    fresh(&r);
    CHECK(libsev_chain_verify_blob_root(blob, sizeof blob, cek, cekl, aa, aal, ark, ark_n, 0, &r,
                                        &err) == LIBSEV_STATUS_OK);
    CHECK(r.status == LIBSEV_STATUS_OK);
    CHECK(r.root_kind == LIBSEV_ROOT_SUPPLIED);
    CHECK(r.generation == LIBSEV_GENERATION_NONE);
    CHECK(r.generation_name != NULL && strcmp(r.generation_name, "supplied") == 0);
    CHECK(r.failed_link == LIBSEV_LINK_NONE);
    CHECK(err.status == 0);
    fresh(&r);
    CHECK(libsev_chain_verify_root(blob, LIBSEV_SEV_CERT_LEN, blob + LIBSEV_SEV_CERT_LEN,
                                   LIBSEV_CERT_CHAIN_LEN, cek, cekl, aa, aal, ark, ark_n, 0, &r,
                                   &err) == LIBSEV_STATUS_OK);
    CHECK(r.root_kind == LIBSEV_ROOT_SUPPLIED);

    /* Another supplied root does not stand in: the chain is the refused test root again. */
    fresh(&r);
    CHECK(libsev_chain_verify_blob_root(blob, sizeof blob, cek, cekl, aa, aal, rome_ark,
                                        rome_ark_n, 0, &r,
                                        &err) == LIBSEV_STATUS_TEST_ROOT_NOT_ALLOWED);
    CHECK(r.root_kind == LIBSEV_ROOT_TEST_ONLY);

    /* A supplied root still checks every link: a flipped PDH byte fails its link. */
    blob[0x100] ^= 1;
    fresh(&r);
    CHECK(libsev_chain_verify_blob_root(blob, sizeof blob, cek, cekl, aa, aal, ark, ark_n, 0, &r,
                                        &err) != LIBSEV_STATUS_OK);
    CHECK(r.failed_link == LIBSEV_LINK_PDH_BY_PEK);
    blob[0x100] ^= 1;

    /* A real AMD chain stays AMD's whatever root is supplied. */
    fresh(&r);
    CHECK(libsev_chain_verify_blob_root(rome, rome_n, NULL, 0, NULL, 0, ark, ark_n, 0, &r,
                                        &err) == LIBSEV_STATUS_OK);
    CHECK(r.root_kind == LIBSEV_ROOT_AMD);
    CHECK(r.generation == LIBSEV_GENERATION_ROME);

    /* A root that is not an ARK (here the ASK), or none: refused, `out` untouched. */
    fresh(&r);
    CHECK(libsev_chain_verify_blob_root(blob, sizeof blob, cek, cekl, aa, aal, aa, aal / 2, 0,
                                        &r, &err) == LIBSEV_STATUS_BAD_CERTIFICATE);
    CHECK(strstr(err.message, "supplied root") != NULL);
    CHECK(libsev_chain_verify_blob_root(blob, sizeof blob, cek, cekl, aa, aal, NULL, ark_n, 0, &r,
                                        &err) == LIBSEV_STATUS_NULL_ARGUMENT);
    CHECK(libsev_chain_verify_blob_root(blob, sizeof blob, cek, cekl, aa, aal, ark, 0, 0, &r,
                                        &err) == LIBSEV_STATUS_INVALID_LENGTH);
    CHECK(libsev_chain_verify_blob_root(blob, sizeof blob, cek, 100, aa, aal, ark, ark_n, 0, &r,
                                        &err) == LIBSEV_STATUS_INVALID_LENGTH);
    CHECK(r.status == 0x5A5A5A5Au);

    libsev_platform_free(p);
    free(rome);
    free(rome_ark);
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("chain_root: ok\n");
    return 0;
}
