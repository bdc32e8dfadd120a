/*
 * Loading valid files: every key of the documented example lands in the right field,
 * defaults are filled in, relative paths resolve against the config file's directory (also
 * when loaded from disk by a relative path), lookups find entries by name, and a missing
 * file is -ENOENT with a one-line message.
 */
#include "helpers.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

static const char full[] = "version: 1\n"
			   "threads: 4\n"
			   "state_dir: state\n"
			   "listeners:\n"
			   "  - name: pg\n"
			   "    address: 127.0.0.1:6432\n"
			   "    protocol: postgres\n"
			   "    tls: { cert: server.crt, key: /abs/server.key }\n"
			   "  - name: pg6\n"
			   "    address: '[::1]:6433'\n"
			   "    protocol: postgres\n"
			   "admin:\n"
			   "  address: 127.0.0.1:9187\n"
			   "identity:\n"
			   "  clock_skew: 30s\n"
			   "  issuers:\n"
			   "    - issuer: https://idp.example.com/\n"
			   "      audience: ringgate\n"
			   "      jwks_file: jwks.json\n"
			   "      groups_claim: roles\n"
			   "      required_claims: [sub, exp, aud]\n"
			   "    - issuer: https://other.example.com/\n"
			   "      audience: rg\n"
			   "      jwks_url: https://other.example.com/.well-known/jwks.json\n"
			   "      jwks_refresh: 10m\n"
			   "      unknown_kid_refresh: 5s\n"
			   "      session_outlives_token: true\n"
			   "      max_token_lifetime: 15m\n"
			   "targets:\n"
			   "  - name: appdb\n"
			   "    protocol: postgres\n"
			   "    address: db.internal:5432\n"
			   "    database: app\n"
			   "    user: app_rw\n"
			   "    password_file: secrets/appdb.pw\n"
			   "    tls: { mode: verify-full, ca: ca.crt, server_name: db.internal,\n"
			   "           channel_binding: require }\n"
			   "    connect_timeout: 1500ms\n"
			   "    scram_max_iterations: 250000\n"
			   "  - name: local\n"
			   "    protocol: postgres\n"
			   "    address: /run/postgresql/.s.PGSQL.5432\n"
			   "    database: app\n"
			   "    user: app_ro\n"
			   "    password_env: LOCAL_PW\n"
			   "policy:\n"
			   "  bundle: policy.rgb\n"
			   "  public_key: bundle.pub\n"
			   "  hmac_key_file: mask.key\n"
			   "limits:\n"
			   "  idle_timeout: 2h\n"
			   "  max_sessions: 500\n"
			   "  max_pending_logins: 40\n"
			   "  max_pending_per_address: 0\n"
			   "  password_timeout: 2500ms\n"
			   "  login_timeout: 30s\n";

static void test_full_example_fills_every_field(void **state)
{
	struct rg_config *cfg = expect_ok(full);
	const struct rg_config_listener *l;
	const struct rg_config_target *t;
	const struct rg_config_issuer *is;

	(void)state;
	assert_int_equal(cfg->version, 1);
	assert_int_equal(cfg->threads, 4);
	assert_int_equal(rg_config_threads(cfg), 4);
	assert_string_equal(cfg->state_dir, "/etc/rg/state");
	assert_string_equal(cfg->path, "t.yaml");
	assert_string_equal(cfg->dir, "/etc/rg");

	assert_int_equal(cfg->n_listeners, 2);
	l = rg_config_listener(cfg, "pg");
	assert_ptr_equal(l, &cfg->listeners[0]);
	assert_int_equal(l->loc.line, 5);
	assert_int_equal(l->loc.col, 5);
	assert_int_equal(l->protocol, RG_CONFIG_PROTO_POSTGRES);
	assert_int_equal(l->address.kind, RG_CONFIG_ADDR_INET);
	assert_string_equal(l->address.host, "127.0.0.1");
	assert_int_equal(l->address.port, 6432);
	assert_true(l->address.numeric);
	assert_int_equal(l->address.sa.ss_family, AF_INET);
	assert_int_equal(ntohs(((struct sockaddr_in *)&l->address.sa)->sin_port), 6432);
	assert_true(l->tls_enabled);
	assert_string_equal(l->tls.cert, "/etc/rg/server.crt");
	assert_string_equal(l->tls.key, "/abs/server.key");
	assert_true(l->tls.require); /* a TLS listener refuses clear-text logins by default */
	l = rg_config_listener(cfg, "pg6");
	assert_non_null(l);
	assert_false(l->tls_enabled);
	assert_string_equal(l->address.host, "::1");
	assert_string_equal(l->address.text, "[::1]:6433");
	assert_int_equal(l->address.sa.ss_family, AF_INET6);
	assert_null(rg_config_listener(cfg, "nope"));

	assert_true(cfg->admin.enabled);
	assert_int_equal(cfg->admin.address.port, 9187);

	assert_int_equal(cfg->identity.clock_skew_ms, 30000);
	assert_int_equal(cfg->identity.n_issuers, 2);
	is = rg_config_issuer(cfg, "https://idp.example.com/");
	assert_non_null(is);
	assert_string_equal(is->audience, "ringgate");
	assert_string_equal(is->jwks_file, "/etc/rg/jwks.json");
	assert_null(is->jwks_url);
	assert_int_equal(is->jwks_refresh_ms, 5 * 60 * 1000);
	assert_int_equal(is->unknown_kid_refresh_ms, 30 * 1000);
	assert_string_equal(is->groups_claim, "roles");
	assert_int_equal(is->n_required_claims, 3);
	assert_string_equal(is->required_claims[2], "aud");
	assert_false(is->session_outlives_token); /* sessions end with their token */
	assert_int_equal(is->max_token_lifetime_ms, 0);	/* no limit unless set */
	is = rg_config_issuer(cfg, "https://other.example.com/");
	assert_non_null(is);
	assert_null(is->jwks_file);
	assert_string_equal(is->jwks_url, "https://other.example.com/.well-known/jwks.json");
	assert_int_equal(is->jwks_refresh_ms, 10 * 60 * 1000);
	assert_int_equal(is->unknown_kid_refresh_ms, 5 * 1000);
	assert_true(is->session_outlives_token);
	assert_int_equal(is->max_token_lifetime_ms, 15 * 60 * 1000);
	assert_string_equal(is->groups_claim, "groups");
	assert_int_equal(is->n_required_claims, 2);
	assert_string_equal(is->required_claims[0], "sub");
	assert_string_equal(is->required_claims[1], "exp");

	assert_int_equal(cfg->n_targets, 2);
	t = rg_config_target(cfg, "appdb");
	assert_non_null(t);
	assert_int_equal(t->address.kind, RG_CONFIG_ADDR_INET);
	assert_false(t->address.numeric);
	assert_string_equal(t->address.host, "db.internal");
	assert_int_equal(t->address.port, 5432);
	assert_string_equal(t->database, "app");
	assert_string_equal(t->user, "app_rw");
	assert_string_equal(t->password_file, "/etc/rg/secrets/appdb.pw");
	assert_null(t->password_env);
	assert_int_equal(t->tls.mode, RG_CONFIG_TLS_VERIFY_FULL);
	assert_string_equal(t->tls.ca, "/etc/rg/ca.crt");
	assert_string_equal(t->tls.server_name, "db.internal");
	assert_int_equal(t->tls.channel_binding, RG_CONFIG_CB_REQUIRE);
	assert_int_equal(t->connect_timeout_ms, 1500);
	assert_int_equal(t->scram_max_iterations, 250000);
	t = rg_config_target(cfg, "local");
	assert_non_null(t);
	assert_int_equal(t->address.kind, RG_CONFIG_ADDR_UNIX);
	assert_string_equal(t->address.path, "/run/postgresql/.s.PGSQL.5432");
	assert_int_equal(t->address.sa.ss_family, AF_UNIX);
	assert_string_equal(t->password_env, "LOCAL_PW");
	assert_int_equal(t->tls.mode, RG_CONFIG_TLS_DISABLE);
	assert_int_equal(t->connect_timeout_ms, 5000);
	assert_int_equal(t->scram_max_iterations, 100000); /* RG_AUTH_SCRAM_DEFAULT_MAX_... */
	assert_null(rg_config_target(cfg, "app"));

	assert_string_equal(cfg->policy.bundle, "/etc/rg/policy.rgb");
	assert_string_equal(cfg->policy.public_key, "/etc/rg/bundle.pub");
	assert_string_equal(cfg->policy.hmac_key_file, "/etc/rg/mask.key");
	assert_int_equal(cfg->limits.idle_timeout_ms, 2 * 3600 * 1000);
	assert_int_equal(cfg->limits.max_sessions, 500);
	assert_int_equal(cfg->limits.max_pending_logins, 40);
	assert_int_equal(cfg->limits.max_pending_per_address, 0);
	assert_int_equal(cfg->limits.password_timeout_ms, 2500);
	assert_int_equal(cfg->limits.login_timeout_ms, 30000);
	rg_config_free(cfg);
}

static void test_listener_tls_require_can_be_turned_off(void **state)
{
	static const char head[] = "version: 1\n"
				   "listeners:\n"
				   "  - name: pg\n"
				   "    address: 127.0.0.1:6432\n"
				   "    protocol: postgres\n";
	static const char tail[] = "targets:\n"
				   "  - name: appdb\n"
				   "    protocol: postgres\n"
				   "    address: /run/pg/.s.PGSQL.5432\n"
				   "    database: app\n"
				   "    user: app\n"
				   "    password_env: PW\n";
	char yaml[1024];
	(void)state;
	snprintf(yaml, sizeof(yaml), "%s    tls: { cert: /c.crt, key: /c.key, require: false }\n%s",
		 head, tail);
	struct rg_config *cfg = expect_ok(yaml);
	assert_true(cfg->listeners[0].tls_enabled);
	assert_false(cfg->listeners[0].tls.require);
	rg_config_free(cfg);
	snprintf(yaml, sizeof(yaml), "%s    tls: { cert: /c.crt, key: /c.key, require: maybe }\n%s",
		 head, tail);
	expect_errors(yaml, "t.yaml:6:48: listeners[0].tls.require: expected true or false, "
			    "got 'maybe'\n");
}

static void test_admin_section_keys_and_defaults(void **state)
{
	struct rg_config *cfg;

	(void)state;
	cfg = expect_ok(MINIMAL "admin: { address: '127.0.0.1:9187' }\n");
	assert_true(cfg->admin.enabled);
	assert_string_equal(cfg->admin.url, "http://127.0.0.1:9187");
	assert_int_equal(cfg->admin.n_operators, 0);
	assert_false(cfg->admin.tls_enabled);
	assert_false(cfg->admin.insecure_plaintext);
	rg_config_free(cfg);

	/* A wildcard address is not a URL anyone can open: loopback of its family. */
	cfg = expect_ok(MINIMAL "admin: { address: '[::]:9187',\n"
				"         tls: { cert: a.crt, key: a.key } }\n");
	assert_string_equal(cfg->admin.url, "https://[::1]:9187");
	assert_true(cfg->admin.tls_enabled);
	assert_string_equal(cfg->admin.tls_cert, "/etc/rg/a.crt");
	assert_string_equal(cfg->admin.tls_key, "/etc/rg/a.key");
	rg_config_free(cfg);

	cfg = expect_ok(MINIMAL "admin:\n"
				"  address: 0.0.0.0:9187\n"
				"  insecure_plaintext: true\n"
				"  url: https://gw.example.com/ringgate//\n"
				"  operators: [ops, sre]\n");
	assert_string_equal(cfg->admin.url, "https://gw.example.com/ringgate");
	assert_true(cfg->admin.insecure_plaintext);
	assert_int_equal(cfg->admin.n_operators, 2);
	assert_string_equal(cfg->admin.operators[0], "ops");
	assert_string_equal(cfg->admin.operators[1], "sre");
	rg_config_free(cfg);
}

static void test_minimal_file_gets_defaults(void **state)
{
	struct rg_config *cfg = expect_ok("version: 1\n" MINIMAL_LISTENERS "targets:\n"
					  "  - name: appdb\n"
					  "    protocol: postgres\n"
					  "    address: 127.0.0.1:5432\n"
					  "    database: app\n"
					  "    user: app_rw\n"
					  "    password_env: APPDB_PASSWORD\n");

	(void)state;
	assert_int_equal(cfg->threads, 0);
	assert_true(rg_config_threads(cfg) >= 1);
	assert_string_equal(cfg->state_dir, "/var/lib/ringgate");
	assert_false(cfg->admin.enabled);
	assert_int_equal(cfg->identity.n_issuers, 0);
	assert_int_equal(cfg->identity.clock_skew_ms, 60000);
	assert_null(cfg->policy.bundle);
	assert_int_equal(cfg->limits.idle_timeout_ms, 3600 * 1000);
	assert_int_equal(cfg->limits.max_sessions, 10000);
	assert_int_equal(cfg->limits.max_pending_logins, 128);
	assert_int_equal(cfg->limits.max_pending_per_address, 32);
	assert_int_equal(cfg->limits.password_timeout_ms, 10000);
	assert_int_equal(cfg->limits.login_timeout_ms, 60000);
	/* Secure by default: TCP targets verify the server unless told otherwise. */
	assert_int_equal(cfg->targets[0].tls.mode, RG_CONFIG_TLS_VERIFY_FULL);
	assert_null(cfg->targets[0].tls.ca);
	assert_int_equal(cfg->targets[0].tls.channel_binding, RG_CONFIG_CB_PREFER);
	/* SCRAM only unless the config says otherwise (issue #9 item 3) */
	assert_int_equal(cfg->targets[0].allowed_auth, RG_CONFIG_AUTH_SCRAM);
	assert_int_equal(cfg->targets[0].connect_timeout_ms, 5000);
	rg_config_free(cfg);
}

static void test_quoted_values_and_flow_style_are_accepted(void **state)
{
	struct rg_config *cfg = expect_ok("{version: 1, listeners: [{name: \"pg\", address: "
					  "'0.0.0.0:6432', protocol: postgres, insecure_plaintext: true}],\n"
					  " targets: [{name: a, protocol: postgres, address: "
					  "'h:1', database: \"x y\", user: u, password_env: P}],\n"
					  " limits: {idle_timeout: 0s}}\n");

	(void)state;
	assert_true(cfg->listeners[0].insecure_plaintext);
	assert_string_equal(cfg->targets[0].database, "x y");
	assert_string_equal(cfg->targets[0].address.host, "h");
	assert_int_equal(cfg->limits.idle_timeout_ms, 0);
	rg_config_free(cfg);
}

static void test_load_resolves_paths_against_config_dir(void **state)
{
	char tmpl[] = "/tmp/rgcfgXXXXXX", path[PATH_MAX], cwd[PATH_MAX], rel[PATH_MAX],
	     expect[PATH_MAX + 32];
	char *dir = mkdtemp(tmpl), *errs = NULL;
	struct rg_config *cfg = NULL;
	size_t len = 0;
	FILE *f, *e;

	(void)state;
	assert_non_null(dir);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	snprintf(path, sizeof(path), "%s/ringgate.yaml", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(MINIMAL "policy: { bundle: policy.rgb }\n", f);
	fclose(f);

	/* Load by a path relative to the cwd: resolution still uses the file's directory. */
	assert_int_equal(chdir("/tmp"), 0);
	snprintf(rel, sizeof(rel), "%s/ringgate.yaml", dir + strlen("/tmp/"));
	e = open_memstream(&errs, &len);
	assert_int_equal(rg_config_load(rel, &cfg, e), 0);
	fclose(e);
	assert_string_equal(errs, "");
	free(errs);
	snprintf(expect, sizeof(expect), "%s/policy.rgb", dir);
	assert_string_equal(cfg->policy.bundle, expect);
	assert_string_equal(cfg->dir, dir);
	rg_config_free(cfg);

	/* Through a symlink in another dir: paths resolve next to the link, as the user sees it. */
	{
		char tmpl2[] = "/tmp/rgcfgXXXXXX", link[PATH_MAX + 32];
		char *dir2 = mkdtemp(tmpl2);

		assert_non_null(dir2);
		snprintf(link, sizeof(link), "%s/link.yaml", dir2);
		assert_int_equal(symlink(path, link), 0);
		assert_int_equal(rg_config_load(link, &cfg, NULL), 0);
		snprintf(expect, sizeof(expect), "%s/policy.rgb", dir2);
		assert_string_equal(cfg->policy.bundle, expect);
		rg_config_free(cfg);
		unlink(link);
		rmdir(dir2);
	}

	assert_int_equal(chdir(cwd), 0);
	unlink(path);
	rmdir(dir);
}

static void test_load_missing_file_is_enoent(void **state)
{
	struct rg_config *cfg = (void *)1;
	char *errs = NULL;
	size_t len = 0;
	FILE *e = open_memstream(&errs, &len);

	(void)state;
	assert_int_equal(rg_config_load("/nonexistent/ringgate.yaml", &cfg, e), -ENOENT);
	fclose(e);
	assert_null(cfg);
	assert_string_equal(errs, "/nonexistent/ringgate.yaml: No such file or directory\n");
	free(errs);
}

static void test_load_directory_is_einval(void **state)
{
	struct rg_config *cfg = NULL;
	char *errs = NULL;
	size_t len = 0;
	FILE *e = open_memstream(&errs, &len);

	(void)state;
	assert_int_equal(rg_config_load("/tmp", &cfg, e), -EINVAL);
	fclose(e);
	assert_string_equal(errs, "/tmp: not a regular file\n");
	free(errs);
}

static void test_null_errs_stream_is_allowed(void **state)
{
	struct rg_config *cfg = NULL;

	(void)state;
	assert_int_equal(rg_config_parse("version: 2\n", 11, NULL, NULL, &cfg, NULL), -EINVAL);
	assert_null(cfg);
	assert_int_equal(rg_config_parse(MINIMAL, strlen(MINIMAL), NULL, NULL, &cfg, NULL), 0);
	assert_string_equal(cfg->dir, ".");
	rg_config_free(cfg);
	rg_config_free(NULL);
}

static void test_enum_names(void **state)
{
	(void)state;
	assert_string_equal(rg_config_proto_name(RG_CONFIG_PROTO_POSTGRES), "postgres");
	assert_string_equal(rg_config_proto_name(RG_CONFIG_PROTO_MYSQL), "mysql");
	assert_string_equal(rg_config_tls_mode_name(RG_CONFIG_TLS_DISABLE), "disable");
	assert_string_equal(rg_config_tls_mode_name(RG_CONFIG_TLS_REQUIRE), "require");
	assert_string_equal(rg_config_tls_mode_name(RG_CONFIG_TLS_VERIFY_FULL), "verify-full");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full_example_fills_every_field),
	    cmocka_unit_test(test_listener_tls_require_can_be_turned_off),
		cmocka_unit_test(test_minimal_file_gets_defaults),
	    cmocka_unit_test(test_admin_section_keys_and_defaults),
	    cmocka_unit_test(test_quoted_values_and_flow_style_are_accepted),
	    cmocka_unit_test(test_load_resolves_paths_against_config_dir),
	    cmocka_unit_test(test_load_missing_file_is_enoent),
	    cmocka_unit_test(test_load_directory_is_einval),
	    cmocka_unit_test(test_null_errs_stream_is_allowed),
	    cmocka_unit_test(test_enum_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
