/*
 * jwks_url rule (rg_auth_jwks_url_check, shared by the config loader and the verifier):
 * https:// anywhere, http:// only to loopback, judged on the host libcurl's parser sees.
 * Each refused URL below once passed a prefix check or would read differently to another
 * parser; messages never quote a URL that carries userinfo.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "auth.h"

static void accept_url(const char *u)
{
	char err[256] = "";
	int rc = rg_auth_jwks_url_check(u, err, sizeof(err));

	if (rc)
		print_error("refused %s: %s\n", u, err);
	assert_int_equal(rc, 0);
}

static void refuse_url(const char *u, const char *needle)
{
	char err[256] = "";
	int rc = rg_auth_jwks_url_check(u, err, sizeof(err));

	if (rc != -EINVAL || !strstr(err, needle))
		print_error("%s: rc %d, err \"%s\", wanted \"%s\"\n", u, rc, err, needle);
	assert_int_equal(rc, -EINVAL);
	assert_non_null(strstr(err, needle));
}

static void test_https_and_loopback_http_are_accepted(void **state)
{
	(void)state;
	accept_url("https://idp.example.com/.well-known/jwks.json");
	accept_url("https://idp.example.com:8443/j?x=@y");
	accept_url("http://127.0.0.1:8080/j");
	accept_url("http://localhost/j");
	accept_url("http://[::1]:9/j");
	accept_url("HTTP://LOCALHOST/x"); /* scheme and host names are case-insensitive */
	accept_url("HTTPS://IDP.EXAMPLE/x");
	accept_url("http://localhost#@evil"); /* '@' in the fragment: the host is localhost */
	accept_url("http://localhost?@evil");
	accept_url("http://127.1/"); /* curl connects to 127.0.0.1 */
	accept_url("http://[0:0:0:0:0:0:0:1]/");
}

static void test_userinfo_is_refused_without_quoting_the_url(void **state)
{
	static const char *const urls[] = {
	    "http://localhost:80@elsewhere/", /* the old prefix check's bypass */
	    "http://127.0.0.1@evil.example/",
	    "https://user:s3cret@idp.example/j",
	    "http://@localhost/",
	    "http://:@localhost/",
	    "http://localhost;x=y@evil/",
	    "http://localhost\\@evil.com/",
	    "ftp://u:s3cret@x/",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		char err[256] = "";

		refuse_url(urls[i], "must not contain a user name or password");
		rg_auth_jwks_url_check(urls[i], err, sizeof(err));
		assert_null(strstr(err, "s3cret"));
		assert_null(strstr(err, "evil"));
		assert_null(strstr(err, "elsewhere"));
	}
}

static void test_non_loopback_http_is_refused(void **state)
{
	(void)state;
	refuse_url("http://idp/jwks", "must be an https:// URL");
	refuse_url("http://127.0.0.1.evil.com/", "must be an https:// URL");
	refuse_url("http://localhost.evil/j", "must be an https:// URL");
	refuse_url("http://localhost./j", "must be an https:// URL");
	refuse_url("http://127.0.0.2/j", "must be an https:// URL");
	refuse_url("http://[::ffff:127.0.0.1]/j", "must be an https:// URL");
	refuse_url("http://[::1%25lo]/j", "must be an https:// URL");
	refuse_url("ftp://example/jwks", "must be an https:// URL");
	refuse_url("file:///etc/jwks.json", "must be an https:// URL");
	refuse_url("localhost/jwks", "must be an https:// URL");
}

static void test_odd_spellings_are_refused(void **state)
{
	(void)state;
	/* curl would read these as http://localhost/x and https://x/: spelled otherwise */
	refuse_url("http:/localhost/x", "must be an https:// URL");
	refuse_url("https:///x", "must be an https:// URL");
	refuse_url("https://", "must be an https:// URL");
	refuse_url("http:\\\\localhost\\j", "must be an https:// URL");
	refuse_url("http://localhost\\j", "backslash");
	refuse_url("https://idp.example/a b", "backslash, space");
	refuse_url("https://idp.example/\x01", "backslash, space");
	refuse_url("https://id\xc3\xa9.example/", "non-ASCII");
	refuse_url("https://idp.example:99999/", "not a valid URL");
}

static void test_verifier_refuses_what_the_rule_refuses(void **state)
{
	struct rg_auth_config cfg;
	struct rg_auth_verifier *v = (void *)1;
	char err[256] = "";

	(void)state;
	rg_auth_config_init(&cfg);
	cfg.issuer = "https://issuer.example";
	cfg.audience = "ringgate";
	cfg.jwks_url = "http://localhost:80@127.0.0.1:9/";
	assert_int_equal(rg_auth_verifier_new(&cfg, &v, err, sizeof(err)), -EINVAL);
	assert_null(v);
	assert_non_null(strstr(err, "must not contain a user name or password"));
	cfg.jwks_url = "http://127.0.0.1.evil.com/";
	assert_int_equal(rg_auth_verifier_new(&cfg, &v, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "must be an https:// URL"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_https_and_loopback_http_are_accepted),
	    cmocka_unit_test(test_userinfo_is_refused_without_quoting_the_url),
	    cmocka_unit_test(test_non_loopback_http_is_refused),
	    cmocka_unit_test(test_odd_spellings_are_refused),
	    cmocka_unit_test(test_verifier_refuses_what_the_rule_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
