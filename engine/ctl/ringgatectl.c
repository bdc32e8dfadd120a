/*
 * ringgatectl: ringgate's admin command line. main() only dispatches through the command
 * table below; each command family lives in its own file (see ctl.h). To add a command,
 * write its run/help functions in a new file and add one row here.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"

static const struct ctl_cmd cmds[] = {
	{ "dev-issuer", "init", "create a DEVELOPMENT token issuer (key, JWKS) in a directory",
	  ctl_dev_issuer_init, ctl_dev_issuer_init_help },
	{ "token", NULL, "print a JWT signed by a DEVELOPMENT issuer", ctl_token, ctl_token_help },
	{ "approvals", "list", "list approval requests (--json: a JSON array)", ctl_approvals_list,
	  ctl_approvals_list_help },
	{ "approvals", "show", "show one approval request", ctl_approvals_show,
	  ctl_approvals_show_help },
	{ "approvals", "approve", "approve a pending request (--reason)", ctl_approvals_approve,
	  ctl_approvals_decide_help },
	{ "approvals", "deny", "deny a pending request (--reason)", ctl_approvals_deny,
	  ctl_approvals_decide_help },
	{ "audit", "cat", "print an audit trail's records as JSON lines", ctl_audit_cat,
	  ctl_audit_cat_help },
	{ "audit", "verify", "verify an audit trail offline (names the first bad record)",
	  ctl_audit_verify, ctl_audit_verify_help },
	{ "audit", "query", "the records that match filters (sub, target, time, verdict, rule)",
	  ctl_audit_query, ctl_audit_query_help },
	{ "audit", "tail", "the last records as JSON lines; -f follows the trail",
	  ctl_audit_tail, ctl_audit_tail_help },
	{ "sessions", "list", "the sessions in a gateway's audit trail (--json: a JSON array)",
	  ctl_sessions_list, ctl_sessions_list_help },
	{ "replay", NULL, "show a recorded session as psql showed it to the agent", ctl_replay,
	  ctl_replay_help },
};

#define N_CMDS (sizeof(cmds) / sizeof(cmds[0]))

static void usage(FILE *out)
{
	fprintf(out, "usage: ringgatectl <command> [options]   (ringgatectl <command> --help)\n\n"
		     "commands:\n");
	for (size_t i = 0; i < N_CMDS; i++) {
		char name[64];

		snprintf(name, sizeof(name), "%s%s%s", cmds[i].name, cmds[i].sub ? " " : "",
			 cmds[i].sub ? cmds[i].sub : "");
		fprintf(out, "  %-20s %s\n", name, cmds[i].summary);
	}
}

static bool is_help(const char *a)
{
	return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 || strcmp(a, "help") == 0;
}

int main(int argc, char **argv)
{
	if (argc < 2 || is_help(argv[1])) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	for (size_t i = 0; i < N_CMDS; i++) {
		const struct ctl_cmd *c = &cmds[i];
		int skip = 1;

		if (strcmp(argv[1], c->name) != 0)
			continue;
		if (c->sub) {
			if (argc < 3 || strcmp(argv[2], c->sub) != 0)
				continue;
			skip = 2;
		}
		for (int a = skip + 1; a < argc; a++) {
			if (is_help(argv[a])) {
				c->help(stdout);
				return 0;
			}
		}
		/* The command sees argv[0] = its own name, then its options. */
		return c->run(argc - skip, argv + skip);
	}
	fprintf(stderr, "ringgatectl: unknown command \"%s%s%s\"\n\n", argv[1],
		argc > 2 ? " " : "", argc > 2 ? argv[2] : "");
	usage(stderr);
	return 2;
}
