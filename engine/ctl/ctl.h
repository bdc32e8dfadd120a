/*
 * ringgatectl command table entries. Each command family lives in its own file and exports
 * its run/help functions here; ringgatectl.c lists them in one table and dispatches.
 * A run function gets argv starting at the command's first option and returns the exit
 * status (0 ok, 1 failure, 2 usage error). Commands print results on stdout, diagnostics
 * on stderr, and never print secrets except the artefact the user asked for.
 */
#ifndef RG_CTL_H
#define RG_CTL_H

#include <stdio.h>

struct ctl_cmd {
	const char *name;	/* first word: "token", "dev-issuer" */
	const char *sub;	/* second word or NULL: "init" */
	const char *summary;	/* one line for the command list */
	int (*run)(int argc, char **argv);
	void (*help)(FILE *out);
};

/* dev_issuer.c: a DEVELOPMENT token issuer, not for production. */
int ctl_dev_issuer_init(int argc, char **argv);
void ctl_dev_issuer_init_help(FILE *out);
int ctl_token(int argc, char **argv);
void ctl_token_help(FILE *out);

/* approvals.c: the approvals API of a running gateway's admin listener. */
int ctl_approvals_list(int argc, char **argv);
void ctl_approvals_list_help(FILE *out);
int ctl_approvals_show(int argc, char **argv);
void ctl_approvals_show_help(FILE *out);
int ctl_approvals_approve(int argc, char **argv);
int ctl_approvals_deny(int argc, char **argv);
void ctl_approvals_decide_help(FILE *out);

/* audit.c: the audit trail, offline. */
int ctl_audit_cat(int argc, char **argv);
void ctl_audit_cat_help(FILE *out);
int ctl_audit_verify(int argc, char **argv);
void ctl_audit_verify_help(FILE *out);
/* The audit trail's and the recordings' directories of $RINGGATE_CONFIG's gateway, for
 * whichever of audit/rec is empty: 0, or -1 (no config, or it does not load: said). */
int ctl_trail_dirs(char *audit, char *rec, size_t n);
int ctl_audit_query(int argc, char **argv);
void ctl_audit_query_help(FILE *out);
int ctl_audit_tail(int argc, char **argv);
void ctl_audit_tail_help(FILE *out);

/* sessions.c: sessions in the audit trail, and replay of their recordings. */
int ctl_sessions_list(int argc, char **argv);
void ctl_sessions_list_help(FILE *out);
int ctl_replay(int argc, char **argv);
void ctl_replay_help(FILE *out);

#endif
