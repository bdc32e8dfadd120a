/*
 * rulec: the rule compiler's command line. Flags and dispatch only; the work is in
 * parse.c (front end), compile.c, sign.c, report.c and the policy library.
 *
 *   rulec check PATH...
 *   rulec compile -o OUT.rgb [--sign KEY.pem] PATH...
 *   rulec test [-v] [--pubkey PUB.pem] PATH...|BUNDLE
 *   rulec explain --bundle B [--pubkey PUB.pem] [--sub S] [--groups a,b] [--issuer I]
 *                 [--target T] [--protocol P] [--sql-mode M] [SQL]
 *   rulec inspect [--pubkey PUB.pem] BUNDLE
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bundle_format.h"
#include "rulec.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: rulec check PATH...\n"
		"       rulec compile -o OUT.rgb [--sign KEY.pem] PATH...\n"
		"       rulec test [-v] [--pubkey PUB.pem] PATH...|BUNDLE\n"
		"       rulec explain --bundle B [--pubkey PUB.pem] [--sub S] [--groups a,b]\n"
		"                     [--issuer I] [--target T] [--protocol P] [--sql-mode M]\n"
		"                     [SQL]\n"
		"       rulec inspect [--pubkey PUB.pem] BUNDLE\n"
		"PATH is a rule file (.yaml/.yml) or a directory searched recursively.\n"
		"Rule language: docs/rules.md. Signing key: openssl genpkey -algorithm ed25519\n");
}

/* Parse + check; prints diagnostics. Returns 0 if the program is clean. */
static int load_program(char **paths, int n, struct rulec_program *prog)
{
	struct rulec_diags d = { 0 };
	memset(prog, 0, sizeof(*prog));
	/* cross-file checks run on a partial program too: all errors of a run, in one run */
	int rc = rulec_parse_paths((const char *const *)paths, (size_t)n, prog, &d);
	rc |= rulec_check_program(prog, &d);
	rulec_diags_print(&d, stderr);
	if (d.n)
		fprintf(stderr, "rulec: %zu error%s\n", d.n, d.n == 1 ? "" : "s");
	rc = d.n ? -1 : rc;
	rulec_diags_free(&d);
	return rc;
}

static int compile_paths(char **paths, int n, struct rulec_buf *out)
{
	struct rulec_program prog;
	int rc = load_program(paths, n, &prog);
	if (rc == 0) {
		struct rulec_diags d = { 0 };
		rc = rulec_compile(&prog, out, &d);
		rulec_diags_print(&d, stderr);
		rulec_diags_free(&d);
	}
	rulec_program_free(&prog);
	return rc;
}

static int write_file(const char *path, const uint8_t *p, size_t n)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	size_t off = 0;
	while (off < n) {
		ssize_t w = write(fd, p + off, n - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			close(fd);
			unlink(tmp);
			return -e;
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
		int e = errno;
		unlink(tmp);
		return -e;
	}
	return 0;
}

static bool is_bundle_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return false;
	char magic[8];
	bool yes = fread(magic, 1, 8, f) == 8 && memcmp(magic, RG_BUNDLE_MAGIC, 8) == 0;
	fclose(f);
	return yes;
}

static struct rg_policy *load_bundle(const char *path, const char *pubkey)
{
	struct rg_policy *p;
	char err[512];
	struct rg_policy_opts opts = { .pubkey_pem = pubkey };
	if (rg_policy_load_file(path, &opts, &p, err, sizeof(err)) != 0) {
		fprintf(stderr, "rulec: %s\n", err);
		return NULL;
	}
	return p;
}

static int cmd_check(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	struct rulec_program prog;
	int rc = load_program(argv + 1, argc - 1, &prog);
	if (rc == 0)
		printf("ok: %zu rules, %zu masks, %zu limits, %zu tests in %zu files\n",
		       prog.nrules, prog.nmasks, prog.nlimits, prog.ntests, prog.nfiles);
	rulec_program_free(&prog);
	return rc ? 1 : 0;
}

enum { OPT_SIGN = 256, OPT_PUBKEY, OPT_BUNDLE, OPT_SUB, OPT_GROUPS, OPT_ISSUER, OPT_TARGET,
       OPT_PROTOCOL, OPT_SQL_MODE };

static const struct option long_opts[] = {
	{ "sign", required_argument, NULL, OPT_SIGN },
	{ "pubkey", required_argument, NULL, OPT_PUBKEY },
	{ "bundle", required_argument, NULL, OPT_BUNDLE },
	{ "sub", required_argument, NULL, OPT_SUB },
	{ "groups", required_argument, NULL, OPT_GROUPS },
	{ "issuer", required_argument, NULL, OPT_ISSUER },
	{ "target", required_argument, NULL, OPT_TARGET },
	{ "protocol", required_argument, NULL, OPT_PROTOCOL },
	{ "sql-mode", required_argument, NULL, OPT_SQL_MODE },
	{ "verbose", no_argument, NULL, 'v' },
	{ "output", required_argument, NULL, 'o' },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

struct opts {
	const char *out, *sign, *pubkey, *bundle, *sub, *groups, *issuer, *target, *protocol;
	const char *sql_mode; /* protocol mysql: the session's sql_mode */
	bool verbose;
};

static int parse_opts(int argc, char **argv, struct opts *o)
{
	memset(o, 0, sizeof(*o));
	o->sub = "agent";
	o->issuer = "";
	o->target = "";
	o->protocol = "postgres";
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "+o:vh", long_opts, NULL)) != -1) {
		switch (c) {
		case 'o': o->out = optarg; break;
		case 'v': o->verbose = true; break;
		case OPT_SIGN: o->sign = optarg; break;
		case OPT_PUBKEY: o->pubkey = optarg; break;
		case OPT_BUNDLE: o->bundle = optarg; break;
		case OPT_SUB: o->sub = optarg; break;
		case OPT_GROUPS: o->groups = optarg; break;
		case OPT_ISSUER: o->issuer = optarg; break;
		case OPT_TARGET: o->target = optarg; break;
		case OPT_PROTOCOL: o->protocol = optarg; break;
		case OPT_SQL_MODE: o->sql_mode = optarg; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	return optind;
}

static int cmd_compile(int argc, char **argv)
{
	struct opts o;
	int i = parse_opts(argc, argv, &o);
	if (i < 0 || !o.out || i >= argc) {
		usage(stderr);
		return 2;
	}
	struct rulec_buf b = { 0 };
	if (compile_paths(argv + i, argc - i, &b) != 0)
		return 1;
	char err[512];
	if (o.sign && rulec_sign(&b, o.sign, err, sizeof(err)) != 0) {
		fprintf(stderr, "rulec: %s\n", err);
		rulec_buf_free(&b);
		return 1;
	}
	int rc = write_file(o.out, b.p, b.n);
	if (rc)
		fprintf(stderr, "rulec: cannot write %s: %s\n", o.out, strerror(-rc));
	else
		printf("wrote %s (%zu bytes%s)\n", o.out, b.n, o.sign ? ", signed" : "");
	rulec_buf_free(&b);
	return rc ? 1 : 0;
}

static int cmd_test(int argc, char **argv)
{
	struct opts o;
	int i = parse_opts(argc, argv, &o);
	if (i < 0 || i >= argc) {
		usage(stderr);
		return 2;
	}
	struct rg_policy *p = NULL;
	if (argc - i == 1 && is_bundle_file(argv[i])) {
		p = load_bundle(argv[i], o.pubkey);
	} else {
		struct rulec_buf b = { 0 };
		if (compile_paths(argv + i, argc - i, &b) != 0)
			return 1;
		char err[512];
		if (rg_policy_load_mem(b.p, b.n, NULL, &p, err, sizeof(err)) != 0)
			fprintf(stderr, "rulec: compiled bundle does not load: %s\n", err);
		rulec_buf_free(&b);
	}
	if (!p)
		return 1;
	unsigned n = 0;
	int failed = rg_policy_run_tests(p, NULL, 0, stdout, o.verbose, &n);
	rg_policy_free(p);
	if (failed < 0) {
		fprintf(stderr, "rulec: cannot run tests: %s\n", strerror(-failed));
		return 1;
	}
	printf("%u passed, %d failed\n", n - (unsigned)failed, failed);
	return failed ? 1 : 0;
}

static int cmd_explain(int argc, char **argv)
{
	struct opts o;
	int i = parse_opts(argc, argv, &o);
	if (i < 0 || !o.bundle || i < argc - 1) {
		usage(stderr);
		return 2;
	}
	struct rg_policy *p = load_bundle(o.bundle, o.pubkey);
	if (!p)
		return 1;
	const char *groups[64];
	size_t ng = 0;
	char *gcopy = o.groups ? strdup(o.groups) : NULL;
	for (char *save = NULL, *g = gcopy ? strtok_r(gcopy, ",", &save) : NULL; g && ng < 64;
	     g = strtok_r(NULL, ",", &save))
		groups[ng++] = g;
	struct rg_identity id = { .issuer = o.issuer, .subject = o.sub, .groups = groups,
				  .ngroups = ng };
	struct rg_my_lexing lx = { 101100, RG_MY_MARIADB, 0 };
	if (o.sql_mode && rg_my_sql_mode_flags(o.sql_mode, strlen(o.sql_mode), &lx.modes) != 0) {
		fprintf(stderr, "rulec: sql_mode '%s' is not supported (ORACLE, MSSQL)\n",
			o.sql_mode);
		free(gcopy);
		rg_policy_free(p);
		return 2;
	}
	struct rg_request req = {
		.protocol = o.protocol, .target = o.target, .identity = &id, .mysql = &lx
	};
	int rc = rulec_explain(p, &req, i < argc ? argv[i] : NULL, stdout); /* no SQL: limits */
	free(gcopy);
	rg_policy_free(p);
	return rc ? 1 : 0;
}

static int cmd_inspect(int argc, char **argv)
{
	struct opts o;
	int i = parse_opts(argc, argv, &o);
	if (i < 0 || i != argc - 1) {
		usage(stderr);
		return 2;
	}
	struct rg_policy *p = load_bundle(argv[i], o.pubkey);
	if (!p)
		return 1;
	int rc = rulec_inspect(p, stdout);
	rg_policy_free(p);
	return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{ "check", cmd_check },	    { "compile", cmd_compile }, { "test", cmd_test },
		{ "explain", cmd_explain }, { "inspect", cmd_inspect },
	};
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "rulec: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
