/*
 * libsev_guest_attach with fds that are not VMs, on the firmware model and on a kernel
 * platform without /dev/sev (the header promises the same answers on both, so that code tested
 * on the model takes the same path on hardware):
 *  - a closed fd: LIBSEV_STATUS_BAD_FD, os_errno EBADF, *out untouched (libsev 0.1.0's model
 *    accepted it);
 *  - a negative fd: LIBSEV_STATUS_INVALID_ARGUMENT;
 *  - NULL platform / NULL out: LIBSEV_STATUS_NULL_ARGUMENT;
 *  every one an argument check: command LIBSEV_CMD_NONE, fw_error 0 (0.1.0 said CREATE_VM);
 *  - an open fd is accepted (the kernel decides at the first command).
 * Exit 0 = pass, anything else = fail.
 */
#include "test_util.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

static libsev_error err;

#define CHECK_ST(got, want) CHECK_ST_E(err, got, want)

static void argument_error(uint32_t st, uint32_t want, int want_errno, const char *what) {
    CHECK_ST(st, want);
    if (err.command != LIBSEV_CMD_NONE || err.fw_error != 0 || err.os_errno != want_errno) {
        fprintf(stderr, "%s: command %u fw_error %u os_errno %d (expected NONE, 0, %d): %s\n",
                what, err.command, err.fw_error, err.os_errno, want_errno, err.message);
        failures++;
    }
}

static void on(libsev_platform *p, const char *name) {
    libsev_guest *g = (libsev_guest *)&err; /* a sentinel: must stay untouched */
    libsev_guest *sentinel = g;
    int fds[2], open_fd;

    printf("%s\n", name);
    if (pipe(fds) != 0) {
        perror("pipe");
        exit(1);
    }
    close(fds[0]);
    close(fds[1]);
    /* fds[0] is closed now (and nothing else opens an fd meanwhile). */
    argument_error(libsev_guest_attach(p, fds[0], &g, &err), LIBSEV_STATUS_BAD_FD, EBADF,
                   "closed fd");
    CHECK(g == sentinel);
    CHECK(strstr(err.message, "not an open") != NULL);
    argument_error(libsev_guest_attach(p, -1, &g, &err), LIBSEV_STATUS_INVALID_ARGUMENT, 0,
                   "negative fd");
    CHECK(g == sentinel);
    argument_error(libsev_guest_attach(NULL, 0, &g, &err), LIBSEV_STATUS_NULL_ARGUMENT, 0,
                   "NULL platform");
    argument_error(libsev_guest_attach(p, 0, NULL, &err), LIBSEV_STATUS_NULL_ARGUMENT, 0,
                   "NULL out");
    CHECK(g == sentinel);

    open_fd = open("/dev/null", O_RDWR);
    CHECK_ST(libsev_guest_attach(p, open_fd, &g, &err), LIBSEV_STATUS_OK);
    CHECK(g != sentinel && g != NULL);
    if (g != sentinel) {
        CHECK(libsev_guest_vm_fd(g) == open_fd || libsev_platform_is_emulated(p));
        libsev_guest_free(g);
    }
    CHECK(fcntl(open_fd, F_GETFD) != -1); /* never closed by libsev */
    close(open_fd);
}

int main(void) {
    libsev_platform *model, *kvm = NULL;

    memset(&err, 0, sizeof err);
    model = model_platform(0x11, &err);
    on(model, "model platform");
    MUST_E(err, libsev_platform_open_kvm_without_sev(&kvm, &err));
    on(kvm, "kernel platform without /dev/sev");
    libsev_platform_free(model);
    libsev_platform_free(kvm);
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("OK\n");
    return 0;
}
