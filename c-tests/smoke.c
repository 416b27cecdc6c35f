/*
 * Smoke test of the C ABI basics: version, status and firmware-status strings, the
 * libsev_error channel, and the log callback.
 *
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

#define CHECK_STR(got, want)                                                        \
    do {                                                                            \
        const char *g_ = (got), *w_ = (want);                                       \
        if (g_ == NULL || strcmp(g_, w_) != 0) {                                    \
            fprintf(stderr, "%s:%d: %s is \"%s\", expected \"%s\"\n", __FILE__,     \
                    __LINE__, #got, g_ ? g_ : "(NULL)", w_);                        \
            failures++;                                                             \
        }                                                                           \
    } while (0)

static void test_version(void) {
    const char *v = libsev_version();
    char expect[64];

    CHECK(v != NULL);
    if (v == NULL)
        return;
    CHECK(v[0] != '\0');
    CHECK_STR(v, LIBSEV_VERSION_STRING);
    snprintf(expect, sizeof expect, "%d.%d.%d", LIBSEV_VERSION_MAJOR, LIBSEV_VERSION_MINOR,
             LIBSEV_VERSION_PATCH);
    CHECK_STR(v, expect);
    /* A static string: the same pointer every time. */
    CHECK(libsev_version() == v);
}

static void test_status_str(void) {
    static const uint32_t known[] = {
        LIBSEV_STATUS_OK,
        LIBSEV_STATUS_NULL_ARGUMENT,
        LIBSEV_STATUS_BUFFER_TOO_SMALL,
        LIBSEV_STATUS_INVALID_STATE,
        LIBSEV_STATUS_OS_ERROR,
        LIBSEV_STATUS_FW_BAD_MEASUREMENT,
        LIBSEV_STATUS_FW_OTHER,
        LIBSEV_STATUS_BAD_SIGNATURE,
        LIBSEV_STATUS_MODEL_CONFIG,
        LIBSEV_STATUS_INTERNAL,
    };
    const char *unknown = libsev_status_str(123456u);
    size_t i;

    CHECK(unknown != NULL && unknown[0] != '\0');
    CHECK_STR(libsev_status_str(0xFFFFFFFFu), unknown);
    /* Numbers between families are not statuses. */
    CHECK_STR(libsev_status_str(8), unknown);
    CHECK_STR(libsev_status_str(999), unknown);

    for (i = 0; i < sizeof known / sizeof known[0]; i++) {
        const char *s = libsev_status_str(known[i]);
        CHECK(s != NULL && s[0] != '\0');
        if (s != NULL && strcmp(s, unknown) == 0) {
            fprintf(stderr, "status %u is described as unknown\n", (unsigned)known[i]);
            failures++;
        }
        /* Static: stable across calls. */
        CHECK(libsev_status_str(known[i]) == s);
    }
    /* Distinct statuses, distinct descriptions. */
    CHECK(strcmp(libsev_status_str(LIBSEV_STATUS_OK),
                 libsev_status_str(LIBSEV_STATUS_NULL_ARGUMENT)) != 0);
}

static void test_fw_error_str(void) {
    CHECK_STR(libsev_fw_error_str(0x00), "SUCCESS");
    CHECK_STR(libsev_fw_error_str(0x0B), "BAD_MEASUREMENT");
    CHECK_STR(libsev_fw_error_str(0x18), "SECURE_DATA_INVALID");
    CHECK_STR(libsev_fw_error_str(0x1E), "UNKNOWN");
    CHECK_STR(libsev_fw_error_str(0x7FFFFFFFu), "UNKNOWN");
    CHECK(libsev_fw_error_str(0x0B) == libsev_fw_error_str(0x0B));

    CHECK(libsev_fw_error_description(0x0B) != NULL);
    CHECK(strlen(libsev_fw_error_description(0x0B)) > 0);
    CHECK(strcmp(libsev_fw_error_description(0x0B), libsev_fw_error_description(0x01)) != 0);
    CHECK(strlen(libsev_fw_error_description(0x1E)) > 0);
}

struct log_record {
    unsigned calls;
    libsev_log_level last_level;
    char last_message[LIBSEV_ERROR_MESSAGE_LEN];
};

static void on_log(libsev_log_level level, const char *message, void *user) {
    struct log_record *r = user;
    r->calls++;
    r->last_level = level;
    snprintf(r->last_message, sizeof r->last_message, "%s", message ? message : "(NULL)");
}

/* A call that fails its argument check: `out` is NULL. */
static libsev_status failing_call(libsev_error *err) {
    return libsev_platform_new_emulated(NULL, NULL, err);
}

static void test_error_channel(void) {
    libsev_error err;
    libsev_platform *platform = NULL;
    libsev_owner_session *session = (libsev_owner_session *)&err; /* a sentinel */
    libsev_status st;

    /* Failure: every field written. */
    memset(&err, 0xAB, sizeof err);
    st = failing_call(&err);
    CHECK(st == LIBSEV_STATUS_NULL_ARGUMENT);
    CHECK(err.status == (uint32_t)st);
    CHECK(err.fw_error == 0);
    CHECK(err.os_errno == 0);
    CHECK(err.command == LIBSEV_CMD_NONE);
    CHECK(memchr(err.message, '\0', sizeof err.message) != NULL);
    CHECK(strlen(err.message) > 0);
    CHECK(strstr(err.message, "out") != NULL);

    /* The error pointer is optional. */
    CHECK(failing_call(NULL) == LIBSEV_STATUS_NULL_ARGUMENT);

    /* On failure the output handle is not written. */
    st = libsev_owner_session_new(NULL, 0, 0, &session, &err);
    CHECK(st == LIBSEV_STATUS_NULL_ARGUMENT);
    CHECK(err.status == (uint32_t)st);
    CHECK(session == (libsev_owner_session *)&err);
    CHECK(strstr(err.message, "pdh") != NULL);

    /* Success: status 0 and the rest cleared. */
    memset(&err, 0xAB, sizeof err);
    st = libsev_platform_new_emulated(NULL, &platform, &err);
    CHECK(st == LIBSEV_STATUS_OK);
    CHECK(platform != NULL);
    CHECK(err.status == 0);
    CHECK(err.fw_error == 0);
    CHECK(err.os_errno == 0);
    CHECK(err.command == LIBSEV_CMD_NONE);
    CHECK(err.message[0] == '\0');
    if (platform != NULL)
        CHECK(libsev_platform_last_error(platform) != NULL);
    libsev_platform_free(platform);
    libsev_platform_free(NULL);
    libsev_owner_session_free(NULL);
}

static void test_log_callback(void) {
    struct log_record rec;
    libsev_error err;

    memset(&rec, 0, sizeof rec);
    libsev_set_log_callback(on_log, &rec, LIBSEV_LOG_TRACE);
    CHECK(failing_call(&err) == LIBSEV_STATUS_NULL_ARGUMENT);
    CHECK(rec.calls >= 1);
    CHECK(rec.last_level == LIBSEV_LOG_DEBUG);
    CHECK_STR(rec.last_message, err.message);

    /* Messages above max_level are dropped. */
    memset(&rec, 0, sizeof rec);
    libsev_set_log_callback(on_log, &rec, LIBSEV_LOG_ERROR);
    CHECK(failing_call(&err) == LIBSEV_STATUS_NULL_ARGUMENT);
    CHECK(rec.calls == 0);

    /* Removed: no more calls. */
    libsev_set_log_callback(on_log, &rec, LIBSEV_LOG_TRACE);
    libsev_set_log_callback(NULL, NULL, LIBSEV_LOG_TRACE);
    CHECK(failing_call(&err) == LIBSEV_STATUS_NULL_ARGUMENT);
    CHECK(rec.calls == 0);
}

int main(void) {
    test_version();
    test_status_str();
    test_fw_error_str();
    test_error_channel();
    test_log_callback();
    if (failures) {
        fprintf(stderr, "smoke: %d check(s) failed\n", failures);
        return 1;
    }
    printf("smoke: all checks passed (libsev %s)\n", libsev_version());
    return 0;
}
