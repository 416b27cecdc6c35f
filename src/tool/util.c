/* libsev-tool: shared helpers (errors and exit codes, files, encodings, options). */
#define _GNU_SOURCE
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

const char *tool_cmd = "";

void msg(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "libsev-tool%s%s: ", *tool_cmd ? " " : "", tool_cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int lib_fail(const char *what, uint32_t status, const libsev_error *err) {
    fflush(stdout); /* what was printed before the failure comes first */
    const char *m = err && err->message[0] ? err->message : libsev_status_str(status);
    if (err && err->fw_error)
        msg("%s: %s (libsev status %u: %s; firmware status 0x%02x %s)", what, m, status,
            libsev_status_str(status), err->fw_error, libsev_fw_error_str(err->fw_error));
    else
        msg("%s: %s (libsev status %u: %s)", what, m, status, libsev_status_str(status));
    /* 1-99: bad argument from us or the user; 200-299: the OS refused. */
    if ((status >= 1 && status <= 99) || (status >= 200 && status <= 299))
        return EXIT_USAGE;
    return EXIT_REFUSED;
}

int usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "libsev-tool%s%s: ", *tool_cmd ? " " : "", tool_cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(see 'libsev-tool %s --help')\n", *tool_cmd ? tool_cmd : "");
    va_end(ap);
    return EXIT_USAGE;
}

void wipe(void *p, size_t len) {
    volatile uint8_t *v = p;
    while (len--)
        *v++ = 0;
}

/* ------------------------------------------------------------------------------------------ */
/* reading */

bool read_file(const char *path, blob *out) {
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        msg("cannot open %s: %s", path, strerror(errno));
        return false;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
        msg("cannot read %s: %s", path, S_ISDIR(st.st_mode) ? "a directory" : strerror(errno));
        close(fd);
        return false;
    }
    /* Regular files, but also /dev/null or a pipe (st_size 0: read until the end). */
    size_t cap = (size_t)st.st_size + 1, len = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        msg("%s: out of memory", path);
        close(fd);
        return false;
    }
    for (;;) {
        if (len == cap) {
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb) {
                msg("%s: out of memory", path);
                free(buf);
                close(fd);
                return false;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            msg("cannot read %s: %s", path, strerror(errno));
            free(buf);
            close(fd);
            return false;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    out->data = buf;
    out->len = len;
    return true;
}

bool map_file(const char *path, blob *out) {
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        msg("cannot open %s: %s", path, strerror(errno));
        return false;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return read_file(path, out); /* /dev/null, a pipe: read it */
    }
    if (st.st_size == 0) {
        close(fd);
        return true;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        msg("cannot map %s: %s", path, strerror(errno));
        return false;
    }
    out->data = p;
    out->len = (size_t)st.st_size;
    out->mapped = true;
    return true;
}

void blob_free(blob *b) {
    if (b->mapped && b->data)
        munmap(b->data, b->len);
    else if (b->data) {
        wipe(b->data, b->len);
        free(b->data);
    }
    memset(b, 0, sizeof *b);
}

bool read_bin(const char *path, const char *what, size_t want, blob *out) {
    blob raw;
    if (!read_file(path, &raw))
        return false;
    if (want && raw.len == want) {
        *out = raw;
        return true;
    }
    /* Otherwise it must be base64 text. */
    uint8_t *dec = malloc(3 * (raw.len / 4) + 3);
    size_t n = dec ? b64_decode((const char *)raw.data, raw.len, dec) : (size_t)-1;
    if (!want && (n == (size_t)-1 || n == 0)) {
        /* Any length: binary that is not base64 text is taken as it is. */
        free(dec);
        if (raw.len == 0) {
            blob_free(&raw);
            msg("%s: empty %s", path, what);
            return false;
        }
        *out = raw;
        return true;
    }
    blob_free(&raw);
    if (n == (size_t)-1 || n != want) {
        free(dec);
        msg("%s: not a %s (expected %zu bytes, raw or base64)", path, what, want);
        return false;
    }
    out->data = dec;
    out->len = n;
    out->mapped = false;
    return true;
}

/* ------------------------------------------------------------------------------------------ */
/* all-or-nothing output */

#define MAX_OUT 8

struct outset {
    int n;
    bool committed;
    struct {
        char *path, *tmp, *dir;
    } f[MAX_OUT];
};

outset *out_new(void) { return calloc(1, sizeof(outset)); }

static char *dir_of(const char *path) {
    char *copy = strdup(path);
    if (!copy)
        return NULL;
    char *d = strdup(dirname(copy));
    free(copy);
    return d;
}

static bool write_all(int fd, const uint8_t *d, size_t len) {
    while (len) {
        ssize_t n = write(fd, d, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            return false;
        }
        d += n;
        len -= (size_t)n;
    }
    return true;
}

bool out_add(outset *o, const char *path, const uint8_t *data, size_t len, unsigned mode) {
    if (!o || o->n == MAX_OUT) {
        msg("internal: too many output files");
        return false;
    }
    for (int i = 0; i < o->n; i++)
        if (strcmp(o->f[i].path, path) == 0) {
            msg("%s is given for two outputs", path);
            return false;
        }
    char *dir = dir_of(path);
    char *base_copy = strdup(path);
    char *tmp = NULL;
    if (!dir || !base_copy ||
        asprintf(&tmp, "%s/.%s.tmp-XXXXXX", dir, basename(base_copy)) < 0) {
        free(dir);
        free(base_copy);
        msg("out of memory");
        return false;
    }
    free(base_copy);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        msg("cannot write %s: %s", path, strerror(errno));
        free(tmp);
        free(dir);
        return false;
    }
    /* Record it at once so that a failure below removes it. */
    o->f[o->n].path = strdup(path);
    o->f[o->n].tmp = tmp;
    o->f[o->n].dir = dir;
    o->n++;
    if (fchmod(fd, mode) != 0 || !write_all(fd, data, len) || fsync(fd) != 0) {
        msg("cannot write %s: %s", path, strerror(errno));
        close(fd);
        return false;
    }
    if (close(fd) != 0) {
        msg("cannot write %s: %s", path, strerror(errno));
        return false;
    }
    return o->f[o->n - 1].path != NULL;
}

bool out_add_fmt(outset *o, const char *path, const uint8_t *data, size_t len, bool base64,
                 unsigned mode) {
    if (!base64)
        return out_add(o, path, data, len, mode);
    size_t n = 4 * ((len + 2) / 3);
    char *text = malloc(n + 2);
    if (!text) {
        msg("out of memory");
        return false;
    }
    b64_encode(data, len, text);
    text[n] = '\n';
    bool ok = out_add(o, path, (const uint8_t *)text, n + 1, mode);
    wipe(text, n + 2);
    free(text);
    return ok;
}

bool out_commit(outset *o) {
    int done = 0;
    for (; done < o->n; done++) {
        if (rename(o->f[done].tmp, o->f[done].path) != 0) {
            msg("cannot write %s: %s", o->f[done].path, strerror(errno));
            break;
        }
    }
    if (done < o->n) {
        /* Undo the renames already made: all or nothing. */
        for (int i = 0; i < done; i++)
            unlink(o->f[i].path);
        return false;
    }
    for (int i = 0; i < o->n; i++) {
        int dfd = open(o->f[i].dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    o->committed = true;
    return true;
}

void out_free(outset *o) {
    if (!o)
        return;
    for (int i = 0; i < o->n; i++) {
        if (!o->committed)
            unlink(o->f[i].tmp);
        free(o->f[i].path);
        free(o->f[i].tmp);
        free(o->f[i].dir);
    }
    free(o);
}

/* ------------------------------------------------------------------------------------------ */
/* encodings */

void hex_encode(const uint8_t *in, size_t len, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = 0;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool hex_decode(const char *s, uint8_t *out, size_t len) {
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        s += 2;
    if (strlen(s) != 2 * len)
        return false;
    for (size_t i = 0; i < len; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void b64_encode(const uint8_t *in, size_t len, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[o++] = b64chars[v >> 18 & 63];
        out[o++] = b64chars[v >> 12 & 63];
        out[o++] = i + 1 < len ? b64chars[v >> 6 & 63] : '=';
        out[o++] = i + 2 < len ? b64chars[v & 63] : '=';
    }
    out[o] = 0;
}

size_t b64_decode(const char *in, size_t len, uint8_t *out) {
    uint32_t acc = 0;
    int bits = 0, pad = 0;
    size_t o = 0, chars = 0;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
            continue;
        if (c == '=') {
            pad++;
            chars++;
            continue;
        }
        const char *p = c ? strchr(b64chars, c) : NULL;
        if (!p || pad)
            return (size_t)-1;
        acc = acc << 6 | (uint32_t)(p - b64chars);
        bits += 6;
        chars++;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    if (chars % 4 != 0 || pad > 2)
        return (size_t)-1;
    return o;
}

void print_encoded(const uint8_t *d, size_t len, bool base64) {
    char *s = malloc(base64 ? 4 * ((len + 2) / 3) + 1 : 2 * len + 1);
    if (!s)
        return;
    if (base64)
        b64_encode(d, len, s);
    else
        hex_encode(d, len, s);
    puts(s);
    free(s);
}

/* ------------------------------------------------------------------------------------------ */
/* options */

/* "--name VALUE" or "--name=VALUE" at argv[*i]: sets *val (NULL when the value is missing)
 * and advances *i past a separate value. */
static bool opt_val(int argc, char **argv, int *i, const char *name, const char **val) {
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0)
        return false;
    if (a[n] == '=') {
        *val = a + n + 1;
        return true;
    }
    if (a[n] != 0)
        return false;
    if (*i + 1 >= argc) {
        *val = NULL; /* the caller reports the missing value */
        return true;
    }
    *val = argv[++*i];
    return true;
}

/* "--name" exactly at argv[i]. */
static bool opt_flag(char **argv, int i, const char *name) { return strcmp(argv[i], name) == 0; }

int parse_opts(int argc, char **argv, const opt_spec *opts, const char *help,
               const char **operand, const char *operand_name) {
    for (int i = 1; i < argc; i++) {
        const char *name = argv[i];
        const char **v = NULL;
        bool flag = false;
        if (opt_flag(argv, i, "--help") || opt_flag(argv, i, "-h"))
            return fputs(help, stdout), EXIT_OK;
        for (const opt_spec *o = opts; o->name && !v && !flag; o++) {
            if (o->flag && opt_flag(argv, i, o->name))
                flag = *o->flag = true;
            else if (o->val && opt_val(argc, argv, &i, o->name, o->val))
                v = o->val;
        }
        if (flag)
            continue;
        if (v) {
            if (!*v)
                return usage_error("%s needs a value", name);
        } else if (!operand) {
            return usage_error("unknown argument '%s'", name);
        } else if (name[0] == '-' && name[1]) {
            return usage_error("unknown option '%s'", name);
        } else if (*operand) {
            return usage_error("one %s only", operand_name);
        } else {
            *operand = name;
        }
    }
    return OPTS_PARSED;
}

bool parse_u64(const char *s, uint64_t *out) {
    if (!s || !*s || *s == '-')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

bool parse_u32(const char *s, uint32_t *out) {
    uint64_t v;
    if (!parse_u64(s, &v) || v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

int open_platform(const char *spec, libsev_platform **out) {
    libsev_error err;
    uint32_t st;
    if (!spec) {
        st = libsev_platform_open(out, &err);
    } else if (strcmp(spec, "kvm") == 0) {
        st = libsev_platform_open_kvm(-1, out, &err);
    } else if (strcmp(spec, "emulated") == 0 || strncmp(spec, "emulated:", 9) == 0) {
        libsev_model_config cfg;
        st = libsev_model_config_init(&cfg);
        if (st == LIBSEV_STATUS_OK) {
            if (spec[8] == ':')
                cfg.state_dir = spec + 9;
            st = libsev_platform_new_model(&cfg, out, &err);
        } else {
            err.message[0] = 0;
        }
    } else {
        return usage_error("--platform must be kvm, emulated or emulated:DIR, not '%s'", spec);
    }
    if (st != LIBSEV_STATUS_OK)
        return lib_fail("opening the platform", st, &err);
    return EXIT_OK;
}
