/*
 * The interposer's kernel semantics, checked from a plain C program run with
 * LD_PRELOAD=libsev-preload.so (by c-tests/qemu/sev.sh): what a hypervisor sees on the /dev/sev
 * placeholder and on a real KVM VM fd, against the kernel's rules (write-backs, the `error`
 * field, errnos, errno left alone on success, request numbers compared on 32 bits).
 *
 *   semantics on    LIBSEV_PLATFORM selects the model: everything below
 *   semantics off   LIBSEV_PLATFORM unset: open("/dev/sev") behaves as without the interposer
 *
 * Needs /dev/kvm (sev.sh skips before it otherwise). Exit status 0 pass, 1 fail.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/psp-sev.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;

#define CHECK(cond, ...)                                                                          \
    do {                                                                                          \
        if (!(cond)) {                                                                            \
            failures++;                                                                           \
            fprintf(stderr, "semantics: FAIL line %d: %s: ", __LINE__, #cond);                    \
            fprintf(stderr, __VA_ARGS__);                                                         \
            fprintf(stderr, "\n");                                                                \
        }                                                                                         \
    } while (0)

/* ioctl as QEMU calls it: the request as a sign-extended int. */
static int ioctl_int(int fd, int request, void *arg)
{
    return ioctl(fd, (unsigned long)(long)request, arg);
}

static int sev_cmd(int fd, uint32_t cmd, void *data, uint32_t *error)
{
    struct sev_issue_cmd c = {.cmd = cmd, .data = (uint64_t)(uintptr_t)data, .error = 0xdead};
    int r = ioctl_int(fd, (int)SEV_ISSUE_CMD, &c);
    if (error)
        *error = c.error;
    return r;
}

static int vm_op(int vm, uint32_t id, void *data, int sev_fd, uint32_t *error)
{
    struct kvm_sev_cmd c = {.id = id, .data = (uint64_t)(uintptr_t)data, .sev_fd = (uint32_t)sev_fd,
                            .error = 0xdead};
    int r = ioctl_int(vm, (int)KVM_MEMORY_ENCRYPT_OP, &c);
    int e = errno;
    CHECK(c.sev_fd == (uint32_t)sev_fd, "sev_fd written back changed: %u", c.sev_fd);
    if (error)
        *error = c.error;
    errno = e;
    return r;
}

static int sev_fd_g;

static void *status_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < 50; i++) {
        struct sev_user_data_status st;
        uint32_t err;
        if (sev_cmd(sev_fd_g, SEV_PLATFORM_STATUS, &st, &err) != 0 || err != 0)
            return (void *)1;
    }
    return NULL;
}

static void platform_side(void)
{
    struct sev_user_data_status st;
    uint32_t err;
    int fd = open("/dev/sev", O_RDWR | O_CLOEXEC);
    CHECK(fd >= 0, "open(/dev/sev): %s", strerror(errno));
    CHECK(fcntl(fd, F_GETFD) == FD_CLOEXEC, "O_CLOEXEC not honoured");
    struct stat sb;
    CHECK(fstat(fd, &sb) == 0 && S_ISCHR(sb.st_mode), "fstat of the placeholder");

    errno = 4242;
    memset(&st, 0, sizeof st);
    CHECK(sev_cmd(fd, SEV_PLATFORM_STATUS, &st, &err) == 0, "PLATFORM_STATUS: %s", strerror(errno));
    CHECK(errno == 4242, "errno changed by a successful ioctl: %d", errno);
    CHECK(err == 0, "error field after success: %u", err);
    CHECK(st.api_major > 0 || st.api_minor > 0, "PLATFORM_STATUS gave no API version");

    /* The kernel looks at the low 32 bits of the request only. */
    struct sev_issue_cmd c = {.cmd = SEV_PLATFORM_STATUS, .data = (uint64_t)(uintptr_t)&st};
    CHECK(ioctl(fd, 0xabcd000000000000ul | SEV_ISSUE_CMD, &c) == 0, "high request bits: %s",
          strerror(errno));

    /* Argument copies: EFAULT, nothing served. */
    CHECK(ioctl(fd, SEV_ISSUE_CMD, NULL) == -1 && errno == EFAULT, "NULL arg: errno %d", errno);
    CHECK(ioctl(fd, SEV_ISSUE_CMD, (void *)8) == -1 && errno == EFAULT, "bad arg: errno %d", errno);
    CHECK(ioctl(fd, 0x1234, &c) == -1 && errno == EINVAL, "other request: errno %d", errno);
    CHECK(sev_cmd(fd, SEV_PLATFORM_STATUS, (void *)8, &err) == -1 && errno == EFAULT,
          "bad data: errno %d", errno);
    /* An unknown command: EINVAL before any write-back (error keeps the caller's value). */
    CHECK(sev_cmd(fd, 99, &st, &err) == -1 && errno == EINVAL && err == 0xdead,
          "unknown cmd: errno %d error %#x", errno, err);

    /* The struct in read-only memory: the command runs, the copy back fails (EFAULT). */
    struct sev_issue_cmd *ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                                    -1, 0);
    CHECK(ro != MAP_FAILED, "mmap");
    ro->cmd = SEV_PLATFORM_STATUS;
    ro->data = (uint64_t)(uintptr_t)&st;
    CHECK(mprotect(ro, 4096, PROT_READ) == 0, "mprotect");
    CHECK(ioctl(fd, SEV_ISSUE_CMD, ro) == -1 && errno == EFAULT, "read-only struct: errno %d",
          errno);
    munmap(ro, 4096);

    /* Write-class commands need a writable fd (EPERM); status does not. */
    int rd = open("/dev/sev", O_RDONLY);
    CHECK(rd >= 0, "open O_RDONLY");
    CHECK(sev_cmd(rd, SEV_PEK_GEN, NULL, &err) == -1 && errno == EPERM && err == 0xdead,
          "PEK_GEN on O_RDONLY: errno %d error %#x", errno, err);
    CHECK(sev_cmd(rd, SEV_PLATFORM_STATUS, &st, &err) == 0, "status on O_RDONLY");
    close(rd);

    /* O_PATH: no ioctl reaches a driver. */
    int p = open("/dev/sev", O_PATH);
    CHECK(p >= 0, "O_PATH open");
    CHECK(sev_cmd(p, SEV_PLATFORM_STATUS, &st, &err) == -1 && errno == EBADF, "O_PATH ioctl: %d",
          errno);
    close(p);

    /* openat and dup name the device too; closing one copy leaves the other. */
    int at = openat(AT_FDCWD, "/dev/sev", O_RDWR);
    CHECK(at >= 0, "openat");
    int d = dup(at);
    CHECK(d >= 0, "dup");
    close(at);
    CHECK(sev_cmd(d, SEV_PLATFORM_STATUS, &st, &err) == 0, "status on a dup: %s", strerror(errno));
    close(d);

    /* Threads share the one platform. */
    sev_fd_g = fd;
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, status_thread, NULL);
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        CHECK(r == NULL, "thread %d failed", i);
    }
    close(fd);
}

static void vm_side(void)
{
    uint32_t err;
    int sev = open("/dev/sev", O_RDWR);
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    CHECK(sev >= 0 && kvm >= 0, "open /dev/sev and /dev/kvm");
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    CHECK(vm >= 0, "KVM_CREATE_VM: %s", strerror(errno));
    /* Other VM ioctls reach the real KVM. */
    CHECK(ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY) > 0, "KVM_CHECK_EXTENSION on the VM");

    CHECK(ioctl_int(vm, (int)KVM_MEMORY_ENCRYPT_OP, NULL) == 0, "NULL argp returns 0");
    CHECK(vm_op(vm, KVM_SEV_LAUNCH_START, NULL, sev, &err) == -1 && errno == ENOTTY,
          "command before INIT: errno %d", errno);
    CHECK(vm_op(vm, KVM_SEV_INIT, NULL, sev, &err) == 0, "KVM_SEV_INIT: %s", strerror(errno));
    CHECK(vm_op(vm, KVM_SEV_INIT, NULL, sev, &err) == -1 && errno == EINVAL, "second INIT");

    size_t len = 2 * 4096;
    uint8_t *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(mem != MAP_FAILED, "mmap");
    memset(mem, 0x5a, len);
    struct kvm_enc_region reg = {.addr = (uint64_t)(uintptr_t)mem, .size = len};
    CHECK(ioctl_int(vm, (int)KVM_MEMORY_ENCRYPT_REG_REGION, &reg) == 0, "REG_REGION: %s",
          strerror(errno));
    CHECK(ioctl_int(vm, (int)KVM_MEMORY_ENCRYPT_REG_REGION, (void *)8) == -1 && errno == EFAULT,
          "REG_REGION bad arg");
    struct kvm_enc_region bad = {.addr = reg.addr, .size = 4096};
    CHECK(ioctl_int(vm, (int)KVM_MEMORY_ENCRYPT_UNREG_REGION, &bad) == -1 && errno == EINVAL,
          "UNREG of another size: errno %d", errno);

    /* LAUNCH_START names /dev/sev by fd: any other fd is EBADF. */
    struct kvm_sev_launch_start ls = {.policy = 0x1};
    CHECK(vm_op(vm, KVM_SEV_LAUNCH_START, &ls, kvm, &err) == -1 && errno == EBADF,
          "LAUNCH_START with the KVM fd as sev_fd: errno %d", errno);
    CHECK(vm_op(vm, KVM_SEV_LAUNCH_START, &ls, sev, &err) == 0 && err == 0,
          "LAUNCH_START: %s error %u", strerror(errno), err);
    CHECK(ls.handle != 0, "LAUNCH_START wrote no handle back");

    struct kvm_sev_launch_update_data up = {.uaddr = (uint64_t)(uintptr_t)mem, .len = 4096};
    CHECK(vm_op(vm, KVM_SEV_LAUNCH_UPDATE_DATA, &up, sev, &err) == 0, "LAUNCH_UPDATE_DATA: %s",
          strerror(errno));
    CHECK(mem[0] != 0x5a || mem[1] != 0x5a || mem[2] != 0x5a, "memory not encrypted in place");
    struct kvm_sev_guest_status gs = {0};
    CHECK(vm_op(vm, KVM_SEV_GUEST_STATUS, &gs, sev, &err) == 0 && gs.handle == ls.handle &&
              gs.policy == 0x1,
          "GUEST_STATUS: handle %u policy %u", gs.handle, gs.policy);
    /* A firmware refusal: EIO and the status in `error` (LAUNCH_SECRET before MEASURE). */
    uint8_t hdr[52] = {0}, trans[16] = {0};
    struct kvm_sev_launch_secret sec = {.hdr_uaddr = (uint64_t)(uintptr_t)hdr, .hdr_len = 52,
                                        .guest_uaddr = reg.addr + 4096, .guest_len = 16,
                                        .trans_uaddr = (uint64_t)(uintptr_t)trans, .trans_len = 16};
    CHECK(vm_op(vm, KVM_SEV_LAUNCH_SECRET, &sec, sev, &err) == -1 && errno == EIO && err != 0 &&
              err != 0xdead,
          "LAUNCH_SECRET out of state: errno %d error %#x", errno, err);

    /* A forked child cannot use its parent's VM: KVM answers EIO for another process's VM. */
    pid_t pid = fork();
    if (pid == 0) {
        int r = vm_op(vm, KVM_SEV_GUEST_STATUS, &gs, sev, &err);
        _exit(r == -1 && errno == EIO ? 0 : 1);
    }
    int wst;
    CHECK(pid > 0 && waitpid(pid, &wst, 0) == pid && WIFEXITED(wst) && WEXITSTATUS(wst) == 0,
          "the forked child's VM ioctl did not fail with EIO");

    CHECK(ioctl_int(vm, (int)KVM_MEMORY_ENCRYPT_UNREG_REGION, &reg) == 0, "UNREG_REGION");
    /* Closing the VM fd destroys the model's VM; the number reused by another file is not a VM. */
    CHECK(close(vm) == 0, "close(vm)");
    int other = open("/dev/null", O_RDWR);
    CHECK(other >= 0, "open /dev/null");
    CHECK(vm_op(other, KVM_SEV_GUEST_STATUS, &gs, sev, &err) == -1 && errno == ENOTTY,
          "a reused fd number is still taken for the VM: errno %d", errno);
    close(other);
    munmap(mem, len);
    close(kvm);
    close(sev);
}

int main(int argc, char **argv)
{
    if (argc != 2 || (strcmp(argv[1], "on") && strcmp(argv[1], "off"))) {
        fprintf(stderr, "usage: semantics on|off\n");
        return 2;
    }
    if (!strcmp(argv[1], "off")) {
        struct stat sb;
        int real_errno = stat("/dev/sev", &sb) == 0 ? 0 : errno;
        errno = 0;
        int fd = open("/dev/sev", O_RDWR);
        int e = errno;
        CHECK((fd < 0 && e == real_errno) || (fd >= 0 && real_errno == 0),
              "open(/dev/sev) without LIBSEV_PLATFORM: fd %d errno %d, stat errno %d", fd, e,
              real_errno);
        if (fd >= 0)
            close(fd);
    } else {
        platform_side();
        vm_side();
    }
    if (failures) {
        fprintf(stderr, "semantics (%s): %d checks failed\n", argv[1], failures);
        return 1;
    }
    printf("semantics (%s): all checks passed\n", argv[1]);
    return 0;
}
