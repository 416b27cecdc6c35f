/*
 * The log callback calls back into libsev (issue: a callback that called
 * libsev_set_log_callback, or any libsev function on the guest whose command was being
 * logged, or a platform call while another thread set the callback, deadlocked).
 *
 * The header's rule: the callback runs with no libsev lock held and may call any libsev
 * function. Four guest threads run commands on their own guests (successes log at DEBUG,
 * failures at WARN) on one shared model platform; from inside every callback the thread calls
 * (on the guest whose command is being logged) libsev_guest_status, libsev_guest_handle,
 * libsev_guest_vm_fd, libsev_guest_last_error, and libsev_platform_status,
 * libsev_platform_last_error, libsev_status_str, and libsev_set_log_callback (re-installing
 * itself, or removing itself and installing itself again). A fifth thread keeps replacing
 * and removing the callback meanwhile. A watchdog fails the test if anything hangs.
 *
 * Then: when libsev_set_log_callback returns (called outside a callback), the old callback
 * is not running on any thread and is never called again, so its user data may be freed:
 * a callback whose context was retired after the switch fails the test if it runs.
 * Exit 0 = pass, anything else = fail.
 */
#include "test_util.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#define THREADS 4
#define FAIL() __atomic_fetch_add(&failures, 1, __ATOMIC_RELAXED)

static libsev_platform *plat;
static __thread libsev_guest *current; /* the guest this thread is commanding */
static __thread int depth;
static long calls, reentrant;
static volatile int stop, reinstall = 1;
static int rounds;

struct ctx {
    int magic;
    volatile int retired;
};

static void callback(libsev_log_level level, const char *message, void *user) {
    struct ctx *c = user;
    libsev_error e;
    libsev_guest_status_info st;
    libsev_platform_status_info ps;
    uint32_t s;

    (void)level;
    __atomic_fetch_add(&calls, 1, __ATOMIC_RELAXED);
    if (c == NULL || c->magic != 0x5e5 || c->retired) {
        fprintf(stderr, "callback with a retired or bad context: %s\n", message);
        FAIL();
        return;
    }
    if (depth++ > 0) {
        /* libsev calls made from inside a callback are not logged: no recursion */
        fprintf(stderr, "callback re-entered itself: %s\n", message);
        FAIL();
    }
    if (current != NULL) {
        s = libsev_guest_status(current, &st, &e);
        /* before LAUNCH_START the VM has no /dev/sev fd bound yet: BAD_FD, as on KVM */
        if (s != LIBSEV_STATUS_OK && s != LIBSEV_STATUS_BAD_FD) {
            fprintf(stderr, "GUEST_STATUS from the callback: %u %s\n", s, e.message);
            FAIL();
        }
        (void)libsev_guest_handle(current);
        (void)libsev_guest_vm_fd(current);
        if (strlen(libsev_guest_last_error(current)) > 1000)
            FAIL();
    }
    if (libsev_platform_status(plat, &ps, &e) != LIBSEV_STATUS_OK) {
        fprintf(stderr, "PLATFORM_STATUS from the callback: %s\n", e.message);
        FAIL();
    }
    if (strlen(libsev_platform_last_error(plat)) > 1000 || libsev_status_str(0) == NULL)
        FAIL();
    /* replace itself, or remove itself and come back */
    if (!reinstall) {
        /* (phase 2: the context is about to be retired) */
    } else if (calls & 1) {
        libsev_set_log_callback(callback, c, LIBSEV_LOG_DEBUG);
    } else {
        libsev_set_log_callback(NULL, NULL, LIBSEV_LOG_DEBUG);
        libsev_set_log_callback(callback, c, LIBSEV_LOG_DEBUG);
    }
    __atomic_fetch_add(&reentrant, 1, __ATOMIC_RELAXED);
    depth--;
}

static struct ctx live = {0x5e5, 0};

static void *guest_thread(void *arg) {
    libsev_error e;
    libsev_guest *g;
    int i;
    (void)arg;
    if (libsev_guest_new(plat, &g, &e) != LIBSEV_STATUS_OK) {
        FAIL();
        return NULL;
    }
    current = g;
    if (libsev_guest_init(g, &e) != LIBSEV_STATUS_OK ||
        libsev_guest_launch_start(g, 0, 0, NULL, 0, NULL, 0, NULL, &e) != LIBSEV_STATUS_OK)
        FAIL();
    for (i = 0; i < rounds; i++) {
        libsev_guest_status_info st;
        if (libsev_guest_status(g, &st, &e) != LIBSEV_STATUS_OK) /* DEBUG line */
            FAIL();
        /* LAUNCH_FINISH in LUPDATE: refused by the firmware (WARN line) */
        if (libsev_guest_launch_finish(g, &e) != LIBSEV_STATUS_FW_INVALID_GUEST_STATE)
            FAIL();
    }
    current = NULL;
    libsev_guest_free(g);
    return NULL;
}

static void *toggle_thread(void *arg) {
    (void)arg;
    while (!stop) {
        libsev_set_log_callback(NULL, NULL, LIBSEV_LOG_DEBUG);
        libsev_set_log_callback(callback, &live, LIBSEV_LOG_DEBUG);
        usleep(100);
    }
    return NULL;
}

static void watchdog(int sig) {
    (void)sig;
    static const char m[] = "log_reentrancy: hung (deadlock)\n";
    if (write(2, m, sizeof m - 1) < 0) {
    }
    _exit(2);
}

int main(void) {
    libsev_error e;
    pthread_t t[THREADS], tog;
    struct ctx *old;
    long before;
    int i;

    signal(SIGALRM, watchdog);
    alarm(getenv("LIBSEV_UNDER_VALGRIND") ? 600 : 120);
    rounds = getenv("LIBSEV_UNDER_VALGRIND") ? 20 : 300;
    memset(&e, 0, sizeof e);
    plat = model_platform(0x4c, &e);

    libsev_set_log_callback(callback, &live, LIBSEV_LOG_DEBUG);
    pthread_create(&tog, NULL, toggle_thread, NULL);
    for (i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, guest_thread, NULL);
    for (i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    stop = 1;
    pthread_join(tog, NULL);
    printf("%ld callbacks, %ld of them called back into libsev\n", calls, reentrant);
    CHECK(calls > 0 && reentrant > 0);

    /* Retiring a context: once the switch returns, the old callback never runs again. */
    old = malloc(sizeof *old);
    old->magic = 0x5e5;
    old->retired = 0;
    reinstall = 0;
    libsev_set_log_callback(callback, old, LIBSEV_LOG_DEBUG);
    stop = 0;
    pthread_create(&t[0], NULL, guest_thread, NULL);
    usleep(2000);
    libsev_set_log_callback(NULL, NULL, LIBSEV_LOG_DEBUG);
    /* No delivery of `old` is running now, and none starts: retire (and poison) it. */
    old->retired = 1;
    before = __atomic_load_n(&calls, __ATOMIC_RELAXED);
    pthread_join(t[0], NULL);
    CHECK(__atomic_load_n(&calls, __ATOMIC_RELAXED) == before);
    free(old);

    libsev_platform_free(plat);
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("OK\n");
    return 0;
}
