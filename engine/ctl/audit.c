/*
 * audit.c: `ringgatectl audit cat` prints an audit trail's records as JSON lines, and
 * `ringgatectl audit verify` checks an audit trail (engine/evidence) offline with
 * the checkpoint key's public half and names the first record that does not hold. Exit 0
 * when every record holds and the trail is sealed, 1 when it is broken or unreadable, 3 when
 * it holds but records follow the last checkpoint (a crash, or a cut tail).
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "evidence.h"

void ctl_audit_cat_help(FILE *out)
{
	fprintf(out, "usage: ringgatectl audit cat --dir DIR\n"
		     "  Print every event record of the audit trail in DIR, oldest first, one JSON\n"
		     "  object per line with its sequence number and time added (\"seq\",\n"
		     "  \"time_us\"). Stops at the first record that does not hold; run\n"
		     "  `ringgatectl audit verify` to know why.\n");
}

static bool cat_one(void *arg, uint64_t seq, int64_t t, const char *p, size_t len)
{
	json_t *o = json_loadb(p, len, 0, NULL);
	char *txt;

	(void)arg;
	if (!o || !json_is_object(o)) {
		json_decref(o);
		o = json_pack("{s:s%}", "raw", p, len);
	}
	json_object_set_new(o, "seq", json_integer((json_int_t)seq));
	json_object_set_new(o, "time_us", json_integer((json_int_t)t));
	txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
	if (txt)
		puts(txt);
	free(txt);
	json_decref(o);
	return true;
}

int ctl_audit_cat(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"dir", required_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *dir = NULL;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'd') {
			dir = optarg;
		} else if (c == 'h') {
			ctl_audit_cat_help(stdout);
			return 0;
		} else {
			ctl_audit_cat_help(stderr);
			return 2;
		}
	}
	if (!dir) {
		ctl_audit_cat_help(stderr);
		return 2;
	}
	if (rg_audit_each(dir, cat_one, NULL)) {
		fprintf(stderr, "ringgatectl: %s: cannot read the trail\n", dir);
		return 1;
	}
	return 0;
}

void ctl_audit_verify_help(FILE *out)
{
	fprintf(out, "usage: ringgatectl audit verify --dir DIR --key PUBLIC_KEY.pem [--json]\n"
		     "  Verify the audit trail in DIR (state_dir/audit): checksums, the hash chain,\n"
		     "  sequence numbers and the Ed25519-signed checkpoints. Exit 0: intact and\n"
		     "  sealed; 3: intact, records after the last checkpoint; 1: broken (the first\n"
		     "  bad record is named) or unreadable.\n");
}

int ctl_audit_verify(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"dir", required_argument, NULL, 'd'},
	    {"key", required_argument, NULL, 'k'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *dir = NULL, *key = NULL;
	struct rg_audit_report r;
	int c, json = 0;
	static const char *const names[] = {"ok", "unsealed", "broken", "unreadable"};

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			ctl_audit_verify_help(stdout);
			return 0;
		default:
			ctl_audit_verify_help(stderr);
			return 2;
		}
	}
	if (!dir || !key) {
		ctl_audit_verify_help(stderr);
		return 2;
	}
	if (rg_audit_verify(dir, key, &r)) {
		fprintf(stderr, "ringgatectl: %s: not an Ed25519 public key (PEM)\n", key);
		return 1;
	}
	if (json) {
		json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:s, s:I, s:I, s:s}", "verdict",
				      names[r.verdict], "records", (json_int_t)r.records,
				      "segments", (json_int_t)r.segments, "checkpoints",
				      (json_int_t)r.checkpoints, "unsealed", (json_int_t)r.unsealed,
				      "file", r.file, "offset", (json_int_t)r.offset, "seq",
				      (json_int_t)r.seq, "why", r.why);
		char *txt = o ? json_dumps(o, JSON_COMPACT) : NULL;

		if (txt)
			puts(txt);
		free(txt);
		json_decref(o);
	}
	else if (r.verdict == RG_AUDIT_OK)
		printf("ok: %llu records in %llu segments, %llu checkpoints, sealed\n",
		       (unsigned long long)r.records, (unsigned long long)r.segments,
		       (unsigned long long)r.checkpoints);
	else if (r.verdict == RG_AUDIT_UNSEALED)
		printf("intact but unsealed: %llu records in %llu segments; %llu after the last "
		       "checkpoint%s%s\n",
		       (unsigned long long)r.records, (unsigned long long)r.segments,
		       (unsigned long long)r.unsealed, r.why[0] ? "; " : "", r.why);
	else
		printf("%s: %s: record at offset %llu (sequence %llu expected): %s\n",
		       names[r.verdict], r.file[0] ? r.file : dir, (unsigned long long)r.offset,
		       (unsigned long long)r.seq, r.why);
	return r.verdict == RG_AUDIT_OK ? 0 : r.verdict == RG_AUDIT_UNSEALED ? 3 : 1;
}
