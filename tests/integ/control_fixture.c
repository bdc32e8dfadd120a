/*
 * rg_control_fixture: a TEST FIXTURE that writes approval requests into a control store
 * file, as a held session would. The admin tests use it to put requests of any shape (any
 * requester, reviewer group, scope, expiry, statement bytes) in the running gateway's
 * <state_dir>/control.db (SQLite in WAL mode allows a second process) without a session
 * for each; test_admin_page also drives the real hold. Never part of ringgate: it is built
 * for tests/integ only.
 *
 *   rg_control_fixture DB insert [--iss I] [--sub S] [--groups a,b] [--peer P] [--target T]
 *                      [--rule R] [--reviewers G] [--sql TEXT] [--expires-in MS]
 *                      [--scope once|fingerprint] [--ttl S]      prints the new id
 *   rg_control_fixture DB status ID                                 prints its status
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control.h"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int insert(struct rg_control *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"iss", required_argument, NULL, 'i'},	  {"sub", required_argument, NULL, 's'},
	    {"groups", required_argument, NULL, 'g'},	  {"peer", required_argument, NULL, 'p'},
	    {"target", required_argument, NULL, 't'},	  {"rule", required_argument, NULL, 'r'},
	    {"reviewers", required_argument, NULL, 'R'}, {"sql", required_argument, NULL, 'q'},
	    {"expires-in", required_argument, NULL, 'e'}, {"scope", required_argument, NULL, 'S'},
	    {"ttl", required_argument, NULL, 'T'},	  {NULL, 0, NULL, 0},
	};
	struct rg_appr a = {
	    .issuer = "https://dev-issuer.ringgate.test/",
	    .subject = "agent-1",
	    .peer = "127.0.0.1:50000",
	    .target = "appdb",
	    .rule = "approve-writes",
	    .reviewers = "reviewers",
	    .sql = "UPDATE customers SET email = 'x' WHERE id = 1",
	    .fingerprint = "0123456789abcdef",
	};
	char *groups[RG_APPR_MAX_GROUPS], *gcopy = NULL, *save = NULL;
	int64_t expires_in = 5 * 60 * 1000;
	int opt, r;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'i': a.issuer = optarg; break;
		case 's': a.subject = optarg; break;
		case 'g': gcopy = optarg; break;
		case 'p': a.peer = optarg; break;
		case 't': a.target = optarg; break;
		case 'r': a.rule = optarg; break;
		case 'R': a.reviewers = optarg; break;
		case 'q': a.sql = optarg; break;
		case 'e': expires_in = strtoll(optarg, NULL, 10); break;
		case 'S': a.scope = strcmp(optarg, "fingerprint") ? RG_APPR_SCOPE_ONCE
								  : RG_APPR_SCOPE_FINGERPRINT; break;
		case 'T': a.grant_ttl_s = (uint32_t)strtoul(optarg, NULL, 10); break;
		default: return 2;
		}
	}
	for (char *g = gcopy ? strtok_r(gcopy, ",", &save) : NULL; g && a.ngroups < RG_APPR_MAX_GROUPS;
	     g = strtok_r(NULL, ",", &save))
		groups[a.ngroups++] = g;
	a.groups = groups;
	a.created_ms = now_ms();
	a.expires_ms = a.created_ms + expires_in;
	snprintf(a.node, sizeof(a.node), "fixture");
	if (rg_control_new_id(a.id))
		return 1;
	r = rg_control_insert(c, &a);
	if (r) {
		fprintf(stderr, "insert: %s\n", rg_control_strerror(r));
		return 1;
	}
	printf("%s\n", a.id);
	return 0;
}

int main(int argc, char **argv)
{
	struct rg_control *c = NULL;
	struct rg_appr *a = NULL;
	char err[512];
	int rc = 2;

	if (argc < 3) {
		fprintf(stderr, "usage: %s DB insert [options] | DB status ID\n", argv[0]);
		return 2;
	}
	if (rg_control_open_sqlite(argv[1], &c, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (!strcmp(argv[2], "insert")) {
		rc = insert(c, argc - 2, argv + 2);
	} else if (!strcmp(argv[2], "status") && argc == 4) {
		rc = rg_control_get(c, argv[3], &a) ? 1 : 0;
		if (!rc)
			printf("%s\n", rg_appr_status_name(a->status));
		rg_appr_free(a);
	}
	rg_control_close(c);
	return rc;
}
