/* libsev-tool: the subcommands (each takes argv from its own name on). */
#ifndef LIBSEV_TOOL_CMDS_H
#define LIBSEV_TOOL_CMDS_H

int cmd_probe(int argc, char **argv);   /* host.c */
int cmd_export(int argc, char **argv);  /* host.c */
int cmd_verify(int argc, char **argv);  /* owner.c */
int cmd_session(int argc, char **argv); /* owner.c */
int cmd_secret(int argc, char **argv);  /* owner.c */
int cmd_report(int argc, char **argv);  /* owner.c */
int cmd_measure(int argc, char **argv); /* measure.c */
int cmd_snp_report(int argc, char **argv); /* snp.c */

#endif
