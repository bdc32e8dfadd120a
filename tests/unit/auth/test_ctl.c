/*
 * ringgatectl dev issuer, end to end: `dev-issuer init` writes a 0600 key, a JWKS whose
 * kid is the RFC 7638 thumbprint and the issuer file; `token` prints an ES256 JWT that a
 * file-backed rg_auth verifier accepts with the requested sub, groups and lifetime.
 * Runs the built binary ($RG_BUILD/engine/ctl/ringgatectl); skips (77) when it is absent.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth.h"
#include "kit.h"

static char dir[64];
static char *bin;

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/rg-auth-ctl-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char *cmd = kit_fmt("rm -rf '%s'", dir);

	(void)state;
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup failed\n");
	free(cmd);
	return 0;
}

/* Run ringgatectl with args; returns exit status, stdout in *out (malloc'd) if out. */
static int ctl(char **out, const char *args)
{
	char *cmd = kit_fmt("'%s' %s 2>/dev/null", bin, args);
	FILE *p = popen(cmd, "r");
	char buf[8192];
	size_t n;
	int st;

	assert_non_null(p);
	n = fread(buf, 1, sizeof(buf) - 1, p);
	buf[n] = '\0';
	st = pclose(p);
	if (out)
		*out = strdup(buf);
	free(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_dev_issuer_token_verifies_with_its_jwks(void **state)
{
	char *args = kit_fmt("dev-issuer init --dir %s/iss --issuer https://dev.example", dir);
	char *key = kit_fmt("%s/iss/issuer.key", dir), *jwks = kit_fmt("%s/iss/jwks.json", dir);
	char *tok = NULL, *targs;
	struct rg_auth_config cfg;
	struct rg_auth_verifier *v;
	struct rg_auth_identity id;
	struct rg_auth_fail why;
	struct stat st;
	char err[256];

	(void)state;
	assert_int_equal(ctl(NULL, args), 0);
	assert_int_equal(stat(key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* A second init must not silently replace the key. */
	assert_int_equal(ctl(NULL, args), 1);

	targs = kit_fmt("token --dir %s/iss --sub agent-1 --audience ringgate --groups dev,ops "
			"--ttl 2m --claim tenant=acme", dir);
	assert_int_equal(ctl(&tok, targs), 0);
	tok[strcspn(tok, "\n")] = '\0';

	rg_auth_config_init(&cfg);
	cfg.issuer = "https://dev.example";
	cfg.audience = "ringgate";
	cfg.jwks_file = jwks;
	static const char *const req[] = { "tenant", "jti", "iat", "nbf" };
	cfg.required_claims = req;
	cfg.n_required_claims = 4;
	assert_int_equal(rg_auth_verifier_new(&cfg, &v, err, sizeof(err)), 0);
	assert_int_equal(rg_auth_verify(v, tok, strlen(tok), time(NULL), &id, &why), RG_AUTH_OK);
	assert_string_equal(id.sub, "agent-1");
	assert_int_equal(id.n_groups, 2);
	assert_string_equal(rg_auth_identity_group(&id, 1), "ops");
	assert_true(id.exp > time(NULL) + 60 && id.exp <= time(NULL) + 120);
	assert_true(strlen(id.jti) > 0);
	/* After its ttl (plus skew) it is refused. */
	assert_int_equal(rg_auth_verify(v, tok, strlen(tok), time(NULL) + 200, NULL, &why),
			 RG_AUTH_E_EXPIRED);
	rg_auth_verifier_free(v);
	free(args);
	free(targs);
	free(key);
	free(jwks);
	free(tok);
}

static void test_token_refuses_bad_arguments(void **state)
{
	char *a;

	(void)state;
	a = kit_fmt("token --dir %s/iss --sub s --audience a --claim sub=root", dir);
	assert_int_equal(ctl(NULL, a), 2);
	free(a);
	a = kit_fmt("token --dir %s/iss --sub s --audience a --ttl 2d", dir);
	assert_int_equal(ctl(NULL, a), 2);
	free(a);
	a = kit_fmt("token --dir %s/iss --sub s", dir);
	assert_int_equal(ctl(NULL, a), 2);
	free(a);
	a = kit_fmt("token --dir %s/nothing --sub s --audience a", dir);
	assert_int_equal(ctl(NULL, a), 1);
	free(a);
	assert_int_equal(ctl(NULL, "no-such-command"), 2);
}

static void test_help_says_development_only(void **state)
{
	char *out;

	(void)state;
	assert_int_equal(ctl(&out, "dev-issuer init --help"), 0);
	assert_non_null(strstr(out, "DEVELOPMENT issuer"));
	assert_non_null(strstr(out, "never for production"));
	free(out);
	assert_int_equal(ctl(&out, "token --help"), 0);
	assert_non_null(strstr(out, "DEVELOPMENT issuer"));
	free(out);
	assert_int_equal(ctl(&out, "--help"), 0);
	assert_non_null(strstr(out, "dev-issuer init"));
	free(out);
}

int main(void)
{
	const char *b = getenv("RG_BUILD");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dev_issuer_token_verifies_with_its_jwks),
		cmocka_unit_test(test_token_refuses_bad_arguments),
		cmocka_unit_test(test_help_says_development_only),
	};
	int rc;

	bin = kit_fmt("%s/engine/ctl/ringgatectl", b ? b : ".");
	if (access(bin, X_OK) != 0) {
		fprintf(stderr, "skip: %s not built\n", bin);
		free(bin);
		return 77;
	}
	rc = cmocka_run_group_tests(tests, setup, teardown);
	free(bin);
	return rc;
}
