/*
 * The model's state directory from C: separate processes (forked children, each with a fresh
 * platform on the same directory) see the same chip id and PDH; PDH_GEN in one process gives
 * a new PDH that the next process sees; the chain still verifies to the test root after
 * the restart; a platform without a state directory has another identity. The directory
 * (mkdtemp) is removed at the end.
 * Exit 0 = pass, anything else = fail.
 */
#define _GNU_SOURCE
#include "test_util.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define ID_MAX 256

struct identity {
    uint8_t chip_id[ID_MAX];
    size_t chip_id_len;
    uint8_t pdh[LIBSEV_SEV_CERT_LEN];
    uint32_t chain_ok;
};

static char dir[64];

/* In a child: open the model on `state_dir` (NULL = ephemeral), optionally PDH_GEN, verify
 * the chain, and write the identity to `fd`. Returns the exit status. */
static int child(const char *state_dir, int pdh_gen, int fd) {
    libsev_error e;
    libsev_model_config cfg;
    libsev_platform *p = NULL;
    struct identity id;
    uint8_t chain[LIBSEV_CERT_CHAIN_LEN], cek[LIBSEV_SEV_CERT_LEN], ask_ark[4096];
    size_t n = 0, m = 0, ask_ark_len = 0;
    libsev_chain_result r;
    int rc = 1;

    memset(&id, 0, sizeof id);
    memset(&e, 0, sizeof e);
    if (libsev_model_config_init(&cfg) != LIBSEV_STATUS_OK)
        return 1;
    cfg.state_dir = state_dir;
    if (libsev_platform_new_emulated(&cfg, &p, &e) != LIBSEV_STATUS_OK) {
        fprintf(stderr, "persistence: child: %s\n", e.message);
        return 1;
    }
    if ((pdh_gen && libsev_platform_pdh_gen(p, &e) != LIBSEV_STATUS_OK) ||
        libsev_platform_get_id(p, id.chip_id, sizeof id.chip_id, &id.chip_id_len, &e) !=
            LIBSEV_STATUS_OK ||
        libsev_platform_pdh_cert_export(p, id.pdh, sizeof id.pdh, &n, chain, sizeof chain, &m,
                                        &e) != LIBSEV_STATUS_OK ||
        libsev_platform_emulated_cek(p, cek, sizeof cek, &n, &e) != LIBSEV_STATUS_OK ||
        libsev_platform_emulated_ask_ark(p, ask_ark, sizeof ask_ark, &ask_ark_len, &e) !=
            LIBSEV_STATUS_OK) {
        fprintf(stderr, "persistence: child: %s\n", e.message);
        goto out;
    }
    id.chain_ok = libsev_chain_verify(id.pdh, sizeof id.pdh, chain, sizeof chain, cek,
                                      sizeof cek, ask_ark, ask_ark_len,
                                      LIBSEV_VERIFY_ALLOW_TEST_ROOT, &r, &e);
    if (write(fd, &id, sizeof id) != (ssize_t)sizeof id)
        goto out;
    rc = 0;
out:
    libsev_platform_free(p);
    return rc;
}

/* Run child() in a forked process and read its identity back through a pipe. */
static int run_child(const char *state_dir, int pdh_gen, struct identity *out) {
    int fds[2], status = 0;
    pid_t pid;
    size_t got = 0;

    if (pipe(fds) != 0)
        return -1;
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int rc;
        close(fds[0]);
        rc = child(state_dir, pdh_gen, fds[1]);
        close(fds[1]);
        exit(rc);
    }
    close(fds[1]);
    while (got < sizeof *out) {
        ssize_t r = read(fds[0], (uint8_t *)out + got, sizeof *out - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fds[0]);
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
        got != sizeof *out) {
        fprintf(stderr, "persistence: child failed (status 0x%x, %zu bytes)\n", status, got);
        return -1;
    }
    return 0;
}

/* Remove the state directory and whatever the model put in it (one level, plus subdirs). */
static int remove_tree(const char *path) {
    DIR *d = opendir(path);
    struct dirent *ent;
    char sub[512];
    struct stat st;

    if (d == NULL)
        return -1;
    while ((ent = readdir(d)) != NULL) {
        if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0)
            continue;
        snprintf(sub, sizeof sub, "%s/%s", path, ent->d_name);
        if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
            remove_tree(sub);
        else
            unlink(sub);
    }
    closedir(d);
    return rmdir(path);
}

static int count_entries(const char *path) {
    DIR *d = opendir(path);
    struct dirent *ent;
    int n = 0;
    if (d == NULL)
        return -1;
    while ((ent = readdir(d)) != NULL)
        if (strcmp(ent->d_name, ".") != 0 && strcmp(ent->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

int main(void) {
    struct identity a, b, c, d, eph;
    const char *tmp = getenv("TMPDIR");
    struct stat st;

    snprintf(dir, sizeof dir, "%s/libsev-persist-XXXXXX",
             tmp != NULL && strlen(tmp) < 32 ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    printf("persistence: state directory %s\n", dir);

    /* Two processes on the same directory: same chip id, same PDH. */
    if (run_child(dir, 0, &a) != 0 || run_child(dir, 0, &b) != 0)
        goto done;
    CHECK(count_entries(dir) > 0);
    CHECK(a.chip_id_len >= LIBSEV_CHIP_ID_LEN && a.chip_id_len == b.chip_id_len);
    CHECK(memcmp(a.chip_id, b.chip_id, a.chip_id_len) == 0);
    CHECK(memcmp(a.pdh, b.pdh, sizeof a.pdh) == 0);
    CHECK(a.chain_ok == LIBSEV_STATUS_OK && b.chain_ok == LIBSEV_STATUS_OK);
    printf("persistence: second process sees the same chip id and PDH\n");

    /* PDH_GEN in a third process: new PDH, same chip; a fourth process sees the new PDH. */
    if (run_child(dir, 1, &c) != 0 || run_child(dir, 0, &d) != 0)
        goto done;
    CHECK(memcmp(c.pdh, a.pdh, sizeof a.pdh) != 0);
    CHECK(memcmp(d.pdh, c.pdh, sizeof c.pdh) == 0);
    CHECK(memcmp(d.chip_id, a.chip_id, a.chip_id_len) == 0);
    CHECK(c.chain_ok == LIBSEV_STATUS_OK && d.chain_ok == LIBSEV_STATUS_OK);
    printf("persistence: PDH_GEN changed the PDH and the next process sees the new one\n");

    /* Without a state directory the identity is a fresh one. */
    if (run_child(NULL, 0, &eph) != 0)
        goto done;
    CHECK(memcmp(eph.chip_id, a.chip_id, a.chip_id_len) != 0);
    CHECK(memcmp(eph.pdh, d.pdh, sizeof d.pdh) != 0);
    CHECK(eph.chain_ok == LIBSEV_STATUS_OK);
    printf("persistence: an ephemeral platform has another chip id and PDH\n");
done:
    CHECK(remove_tree(dir) == 0);
    CHECK(stat(dir, &st) != 0 && errno == ENOENT);
    if (failures) {
        printf("persistence: FAIL (%d checks failed)\n", failures);
        return 1;
    }
    printf("persistence: PASS\n");
    return 0;
}
