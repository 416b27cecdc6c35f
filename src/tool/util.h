/* libsev-tool: shared helpers (errors and exit codes, files, encodings, options). */
#ifndef LIBSEV_TOOL_UTIL_H
#define LIBSEV_TOOL_UTIL_H

#include <libsev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Exit statuses: 0 success, 1 a refusal (bad chain, mismatch, not ready), 2 usage or I/O. */
enum { EXIT_OK = 0, EXIT_REFUSED = 1, EXIT_USAGE = 2 };

extern const char *tool_cmd; /* the subcommand, for messages */

/* Print "libsev-tool CMD: ..." to stderr. */
void msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Report a failed libsev call (its message, status number and name, firmware status) and
 * return the exit status it maps to: argument and OS failures are 2, the rest 1. */
int lib_fail(const char *what, uint32_t status, const libsev_error *err);
/* A usage error: the message, a pointer to --help, and EXIT_USAGE. */
int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Files. */
typedef struct {
    uint8_t *data;
    size_t len;
    bool mapped; /* mmap'ed (read_file_map) rather than malloc'ed */
} blob;

/* Read a whole file (malloc'ed); on failure print why and return false. */
bool read_file(const char *path, blob *out);
/* Map a whole file read-only (for large images); an empty file gives len 0. */
bool map_file(const char *path, blob *out);
void blob_free(blob *b);
/* Read a binary input that is either exactly `want` raw bytes or base64 text (whitespace
 * ignored) decoding to `want` bytes; `want` 0 accepts any length of either. */
bool read_bin(const char *path, const char *what, size_t want, blob *out);

/* A set of output files written all-or-nothing: each is written to a temporary file in its
 * own directory, flushed with fsync; out_commit renames them all into place (and fsyncs the
 * directories). Nothing is left behind on any failure. */
typedef struct outset outset;
outset *out_new(void);
/* Stage one file with `mode` (0600 for secrets). Returns false (printing why) on failure. */
bool out_add(outset *o, const char *path, const uint8_t *data, size_t len, unsigned mode);
/* Stage `data` as raw bytes or base64 text (with a final newline). */
bool out_add_fmt(outset *o, const char *path, const uint8_t *data, size_t len, bool base64,
                 unsigned mode);
bool out_commit(outset *o);
/* Remove every staged temporary file and free the set (after commit: only frees). */
void out_free(outset *o);

/* Encodings. */
void hex_encode(const uint8_t *in, size_t len, char *out); /* out: 2*len+1 */
/* Parse exactly `len` bytes of hex (optional 0x prefix); false on anything else. */
bool hex_decode(const char *s, uint8_t *out, size_t len);
/* out: 4*((len+2)/3)+1 bytes. */
void b64_encode(const uint8_t *in, size_t len, char *out);
/* Decode standard base64, skipping whitespace; out must hold 3*(len/4)+3 bytes. Returns the
 * decoded length, or (size_t)-1 on a bad character or padding. */
size_t b64_decode(const char *in, size_t len, uint8_t *out);
/* Print `len` bytes as hex or base64 followed by a newline. */
void print_encoded(const uint8_t *d, size_t len, bool base64);

/* Option parsing: a tiny long-option matcher. */
/* One entry of a subcommand's option table: an option with a value ("--name VALUE" or
 * "--name=VALUE", stored in *val; a default already there stays unless given) or a flag
 * ("--name" exactly, sets *flag). A table ends with OPTS_END. */
typedef struct {
    const char *name;
    const char **val;
    bool *flag;
} opt_spec;
#define OPT_VAL(n, p) {.name = (n), .val = (p)}
#define OPT_FLAG(n, p) {.name = (n), .flag = (p)}
#define OPTS_END {.name = NULL}

/* parse_opts's result when the subcommand goes on (every other result is its exit status). */
enum { OPTS_PARSED = -1 };
/* Parse a subcommand's words (argv[1..argc-1]) in order against `opts`. "--help" or "-h"
 * prints `help` to stdout and gives EXIT_OK. An option whose value is missing is a usage
 * error ("NAME needs a value"). Any other word is the subcommand's one operand when it takes
 * one (`operand` not NULL: stored there; a word starting with '-' is an "unknown option",
 * a second operand "one OPERAND_NAME only"), else an "unknown argument". Usage errors are
 * reported and give EXIT_USAGE. */
int parse_opts(int argc, char **argv, const opt_spec *opts, const char *help,
               const char **operand, const char *operand_name);
bool parse_u32(const char *s, uint32_t *out);
bool parse_u64(const char *s, uint64_t *out);

/* The platform named by --platform (NULL: LIBSEV_PLATFORM, as libsev_platform_open). */
int open_platform(const char *spec, libsev_platform **out);

/* Wipe a buffer in a way the compiler keeps. */
void wipe(void *p, size_t len);

#endif
