/* libsev-tool: the command line for SEV host administrators and guest owners, written
 * against libsev's installed header and library only (like any other consumer).
 *
 * Exit statuses: 0 success, 1 a refusal (bad chain, mismatch, host not ready), 2 usage or
 * I/O errors. Output files are written all-or-nothing (temporary file, fsync, rename). */
#include "cmds.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *what;
} commands[] = {
    {"probe", cmd_probe, "is this host ready to run SEV guests? (item by item, PASS/FAIL)"},
    {"export", cmd_export, "write the platform's PDH and certificate chain"},
    {"verify", cmd_verify, "verify a platform certificate chain, link by link"},
    {"session", cmd_session, "create a launch session (GODH, session blob, owner state)"},
    {"measure", cmd_measure, "compute the expected launch digest (sev-snp-measure options)"},
    {"secret", cmd_secret, "verify a launch measurement, then package a secret"},
    {"report", cmd_report, "verify an attestation report and print its fields"},
    {"snp-report", cmd_snp_report, "verify an SEV-SNP attestation report to AMD's roots"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: libsev-tool COMMAND [OPTIONS]   (libsev %s)\n\ncommands:\n",
            libsev_version());
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].what);
    fprintf(f, "\n'libsev-tool COMMAND --help' describes each command.\n"
               "Exit status: 0 success, 1 refused (bad chain, mismatch, host not ready),\n"
               "2 usage or I/O error. Output files are never left half-written.\n");
}

int main(int argc, char **argv) {
    if (argc < 2)
        return usage(stderr), EXIT_USAGE;
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0)
        return usage(stdout), EXIT_OK;
    if (strcmp(argv[1], "--version") == 0) {
        printf("libsev-tool %s\n", libsev_version());
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            tool_cmd = commands[i].name;
            int rc = commands[i].run(argc - 1, argv + 1);
            if (fflush(stdout) != 0 && rc == EXIT_OK) {
                msg("cannot write to standard output");
                rc = EXIT_USAGE;
            }
            return rc;
        }
    }
    fprintf(stderr, "libsev-tool: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
