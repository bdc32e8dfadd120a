/*
 * One test per error class: each feeds a small file with that mistake and asserts the exact
 * text printed (file:line:col: key.path: message), so a change in wording or position is a
 * deliberate, reviewed change. The last tests check that all errors of a file come out in
 * one run and that unsupported YAML constructs are refused rather than half-handled.
 * MINIMAL (helpers.h) is 13 lines; sections appended to it start at line 14.
 */
#include "helpers.h"

static void test_yaml_syntax_error_stops_with_position(void **state)
{
	(void)state;
	expect_errors("version: 1\nlisteners: [ { name: pg }\ntargets: x\n",
		      "t.yaml:3:1: YAML syntax error: did not find expected ',' or ']' while "
		      "parsing a flow sequence\n");
}

static void test_empty_file_is_refused(void **state)
{
	(void)state;
	expect_errors("", "t.yaml:1:1: empty configuration (expected a mapping with version: 1)\n");
	expect_errors("# only a comment\n",
		      "t.yaml:1:1: empty configuration (expected a mapping with version: 1)\n");
}

static void test_top_level_must_be_a_mapping(void **state)
{
	(void)state;
	expect_errors("- version: 1\n",
		      "t.yaml:1:1: configuration: expected a mapping, got a sequence\n");
}

static void test_unknown_key_names_expected_keys(void **state)
{
	(void)state;
	expect_errors(MINIMAL "verbose: true\n",
		      "t.yaml:14:1: verbose: unknown key (expected one of: version, threads, "
		      "state_dir, listeners, admin, identity, targets, policy, limits, approvals, "
		      "control, audit)\n");
	expect_errors("version: 1\n"
		      "listeners:\n"
		      "  - name: pg\n"
		      "    address: 127.0.0.1:6432\n"
		      "    protocol: postgres\n"
		      "    tls: { cert: a, key: b, ca: c }\n" MINIMAL_TARGETS,
		      "t.yaml:6:29: listeners[0].tls.ca: unknown key (expected one of: cert, "
		      "key, require)\n");
}

static void test_keys_must_be_non_empty_strings(void **state)
{
	(void)state;
	expect_errors(MINIMAL "? [a]\n: 1\n\"\": 2\n",
		      "t.yaml:14:3: configuration: keys must be non-empty strings\n"
		      "t.yaml:16:1: configuration: keys must be non-empty strings\n");
}

static void test_duplicate_key_points_at_first(void **state)
{
	(void)state;
	expect_errors(MINIMAL "threads: 2\nthreads: 3\n",
		      "t.yaml:15:1: threads: duplicate key (first at line 14)\n");
}

static void test_missing_required_key(void **state)
{
	(void)state;
	expect_errors(MINIMAL_LISTENERS MINIMAL_TARGETS,
		      "t.yaml:1:1: configuration: missing required key 'version'\n");
	expect_errors("version: 1\n"
		      "listeners:\n"
		      "  - name: pg\n"
		      "    protocol: postgres\n" MINIMAL_TARGETS,
		      "t.yaml:3:5: listeners[0]: missing required key 'address'\n");
}

static void test_wrong_node_types(void **state)
{
	(void)state;
	expect_errors("version: 1\nlisteners: pg\n" MINIMAL_TARGETS "admin: 127.0.0.1:1\n"
		      "state_dir: [a]\n",
		      "t.yaml:2:12: listeners: expected a sequence, got a scalar\n"
		      "t.yaml:11:8: admin: expected a mapping, got a scalar\n"
		      "t.yaml:12:12: state_dir: expected a string, got a sequence\n");
}

static void test_null_and_empty_values(void **state)
{
	(void)state;
	expect_errors(MINIMAL "state_dir:\nadmin: ~\npolicy: { bundle: '' }\n",
		      "t.yaml:14:11: state_dir: expected a string, got null\n"
		      "t.yaml:15:8: admin: expected a mapping, got null\n"
		      "t.yaml:16:19: policy.bundle: must not be empty\n");
}

static void test_string_with_nul_byte_is_refused(void **state)
{
	(void)state;
	expect_errors(MINIMAL "state_dir: \"/var\\0/x\"\n",
		      "t.yaml:14:12: state_dir: contains a NUL byte\n");
}

static void test_bad_integers(void **state)
{
	(void)state;
	expect_errors(MINIMAL "threads: four\nlimits: { max_sessions: 0 }\n",
		      "t.yaml:14:10: threads: expected an integer 0..1024, got 'four'\n"
		      "t.yaml:15:25: limits.max_sessions: 0 out of range 1..1000000\n");
	/* Quoted numbers, signs and leading zeros (octal in YAML 1.1) are not integers here. */
	expect_errors(MINIMAL "threads: '4'\nlimits: { max_sessions: -1 }\n",
		      "t.yaml:14:10: threads: expected an integer 0..1024, got '4'\n"
		      "t.yaml:15:25: limits.max_sessions: expected an integer 1..1000000, got "
		      "'-1'\n");
	expect_errors(MINIMAL "limits:\n  max_pending_logins: 0\n  max_pending_per_address: -1\n"
			      "  password_timeout: 0s\n  login_timeout: 2h\n",
		      "t.yaml:15:23: limits.max_pending_logins: 0 out of range 1..1000000\n"
		      "t.yaml:16:28: limits.max_pending_per_address: expected an integer "
		      "0..1000000, got '-1'\n"
		      "t.yaml:17:21: limits.password_timeout: duration '0s' out of range 1ms..1h\n"
		      "t.yaml:18:18: limits.login_timeout: duration '2h' out of range 1ms..1h\n");
	expect_errors(MINIMAL "threads: 010\n",
		      "t.yaml:14:10: threads: expected an integer 0..1024, got '010'\n");
	expect_errors(MINIMAL "threads: 99999999999999999999999\n",
		      "t.yaml:14:10: threads: expected an integer 0..1024, got "
		      "'99999999999999999999999'\n");
}

static void test_unsupported_version(void **state)
{
	(void)state;
	expect_errors("version: 2\n" MINIMAL_LISTENERS MINIMAL_TARGETS,
		      "t.yaml:1:10: version: unsupported version 2 (this ringgate reads "
		      "version 1)\n");
}

static void test_bad_durations(void **state)
{
	(void)state;
	expect_errors(MINIMAL "limits:\n"
			      "  idle_timeout: 60\n"
			      "identity:\n"
			      "  clock_skew: 2d\n"
			      "  issuers:\n"
			      "    - issuer: i\n"
			      "      audience: a\n"
			      "      jwks_file: j\n"
			      "      jwks_refresh: 0s\n"
			      "      unknown_kid_refresh: 25h\n",
		      "t.yaml:15:17: limits.idle_timeout: bad duration '60': missing unit (ms, "
		      "s, m or h)\n"
		      "t.yaml:17:15: identity.clock_skew: bad duration '2d': unknown unit "
		      "(expected ms, s, m or h)\n"
		      "t.yaml:22:21: identity.issuers[0].jwks_refresh: duration '0s' out of "
		      "range 1s..24h\n"
		      "t.yaml:23:28: identity.issuers[0].unknown_kid_refresh: duration '25h' out of "
		      "range 1s..24h\n");
}

static void test_bad_addresses(void **state)
{
	(void)state;
	expect_errors("version: 1\n"
		      "listeners:\n"
		      "  - { name: a, protocol: postgres, address: 'localhost:6432' }\n"
		      "  - { name: b, protocol: postgres, address: '::1:6432' }\n"
		      "  - { name: c, protocol: postgres, address: '127.0.0.1' }\n"
		      "  - { name: d, protocol: postgres, address: '[::1]6432' }\n"
		      "  - { name: e, protocol: postgres, address: '/tmp/s' }\n"
		      "  - { name: f, protocol: postgres, address: '[zz]:1' }\n"
		      "  - { name: g, protocol: postgres, address: '1.2.3.4:x' }\n"
		      "targets:\n"
		      "  - { name: t, protocol: postgres, address: 'bad_host:5432',\n"
		      "      database: d, user: u, password_env: P }\n",
		      "t.yaml:3:45: listeners[0].address: bad address 'localhost:6432': host "
		      "must be an IP address\n"
		      "t.yaml:4:45: listeners[1].address: bad address '::1:6432': IPv6 "
		      "addresses need brackets, as in [::1]:port\n"
		      "t.yaml:5:45: listeners[2].address: bad address '127.0.0.1': expected "
		      "host:port\n"
		      "t.yaml:6:45: listeners[3].address: bad address '[::1]6432': expected "
		      "':port' after ']'\n"
		      "t.yaml:7:45: listeners[4].address: bad address '/tmp/s': unix socket "
		      "paths are not allowed here\n"
		      "t.yaml:8:45: listeners[5].address: bad address '[zz]:1': not an IPv6 "
		      "address inside [ ]\n"
		      "t.yaml:9:45: listeners[6].address: bad address '1.2.3.4:x': port is not "
		      "a number\n"
		      "t.yaml:11:45: targets[0].address: bad address 'bad_host:5432': host is "
		      "neither an IP address nor a valid DNS name\n");
}

static void test_port_out_of_range(void **state)
{
	(void)state;
	expect_errors(MINIMAL "admin: { address: '127.0.0.1:65536' }\n",
		      "t.yaml:14:19: admin.address: bad address '127.0.0.1:65536': port out of "
		      "range 1..65535\n");
	expect_errors(MINIMAL "admin: { address: '127.0.0.1:0' }\n",
		      "t.yaml:14:19: admin.address: bad address '127.0.0.1:0': port out of "
		      "range 1..65535\n");
}

static void test_invalid_name(void **state)
{
	(void)state;
	expect_errors("version: 1\n" MINIMAL_LISTENERS "targets:\n"
		      "  - { name: 'app db', protocol: postgres, address: 'h:1',\n"
		      "      database: d, user: u, password_env: P }\n",
		      "t.yaml:7:13: targets[0].name: 'app db' is not a valid name (1..63 of A-Z "
		      "a-z 0-9 _ . -)\n");
}

static void test_duplicate_names(void **state)
{
	(void)state;
	expect_errors("version: 1\n"
		      "listeners:\n"
		      "  - { name: pg, protocol: postgres, address: '127.0.0.1:1' }\n"
		      "  - { name: pg, protocol: postgres, address: '127.0.0.1:2' }\n"
		      "targets:\n"
		      "  - { name: t, protocol: postgres, address: 'h:1',\n"
		      "      database: d, user: u, password_env: P }\n"
		      "  - { name: t, protocol: postgres, address: 'h:2',\n"
		      "      database: d, user: u, password_env: P }\n",
		      "t.yaml:4:5: listeners[1]: duplicate listener name 'pg' (first at line 3)\n"
		      "t.yaml:8:5: targets[1]: duplicate target name 't' (first at line 6)\n");
}

static void test_duplicate_issuer(void **state)
{
	(void)state;
	expect_errors(
	    MINIMAL "identity:\n"
		    "  issuers:\n"
		    "    - { issuer: i, audience: a, jwks_file: j }\n"
		    "    - { issuer: i, audience: b, jwks_file: k }\n",
	    "t.yaml:17:7: identity.issuers[1]: duplicate issuer 'i' (first at line 16)\n");
}

static void test_exactly_one_of(void **state)
{
	(void)state;
	expect_errors("version: 1\n" MINIMAL_LISTENERS "targets:\n"
		      "  - { name: a, protocol: postgres, address: 'h:1', database: d, user: u }\n"
		      "  - { name: b, protocol: postgres, address: 'h:1', database: d, user: u,\n"
		      "      password_env: P, password_file: f }\n"
		      "identity:\n"
		      "  issuers:\n"
		      "    - { issuer: i, audience: a }\n"
		      "    - { issuer: j, audience: a, jwks_file: f, jwks_url: 'https://x/' }\n",
		      "t.yaml:7:5: targets[0]: exactly one of password_file or password_env is "
		      "required\n"
		      "t.yaml:9:39: targets[1]: password_file and password_env are mutually "
		      "exclusive\n"
		      "t.yaml:12:7: identity.issuers[0]: exactly one of jwks_file or jwks_url is "
		      "required\n"
		      "t.yaml:13:57: identity.issuers[1]: jwks_file and jwks_url are mutually "
		      "exclusive\n");
}

static void test_listener_tls_needs_cert_and_key(void **state)
{
	(void)state;
	expect_errors("version: 1\n"
		      "listeners:\n"
		      "  - name: pg\n"
		      "    address: 127.0.0.1:6432\n"
		      "    protocol: postgres\n"
		      "    tls: { cert: server.crt }\n" MINIMAL_TARGETS,
		      "t.yaml:6:10: listeners[0].tls: missing required key 'key'\n");
}

static void test_unknown_protocol(void **state)
{
	(void)state;
	expect_errors("version: 1\n"
		      "listeners:\n"
		      "  - name: pg\n"
		      "    address: 127.0.0.1:6432\n"
		      "    protocol: oracle\n" MINIMAL_TARGETS,
		      "t.yaml:5:15: listeners[0].protocol: unknown protocol 'oracle' (expected "
		      "postgres or mysql)\n");
}

static void test_target_tls_rules(void **state)
{
	(void)state;
	expect_errors("version: 1\n" MINIMAL_LISTENERS "targets:\n"
		      "  - name: a\n"
		      "    protocol: postgres\n"
		      "    address: /run/pg/.s.PGSQL.5432\n"
		      "    database: d\n"
		      "    user: u\n"
		      "    password_env: P\n"
		      "    tls: { mode: require, ca: ca.crt }\n"
		      "  - name: b\n"
		      "    protocol: postgres\n"
		      "    address: h:1\n"
		      "    database: d\n"
		      "    user: u\n"
		      "    password_env: P\n"
		      "    tls: { mode: prefer, server_name: h }\n"
		      "  - name: c\n"
		      "    protocol: postgres\n"
		      "    address: h:1\n"
		      "    database: d\n"
		      "    user: u\n"
		      "    password_env: P\n"
		      "    tls: { mode: disable, server_name: h }\n",
		      "t.yaml:13:18: targets[0].tls.mode: TLS is not available over a unix "
		      "socket\n"
		      "t.yaml:13:31: targets[0].tls.ca: only used with mode verify-full\n"
		      "t.yaml:20:18: targets[1].tls.mode: unknown mode 'prefer' (expected "
		      "disable, require or verify-full)\n"
		      "t.yaml:27:40: targets[2].tls.server_name: not used with mode disable\n");
}

static void test_target_channel_binding_values(void **state)
{
	(void)state;
	expect_errors("version: 1\n" MINIMAL_LISTENERS "targets:\n"
		      "  - name: a\n"
		      "    protocol: postgres\n"
		      "    address: h:1\n"
		      "    database: d\n"
		      "    user: u\n"
		      "    password_env: P\n"
		      "    tls: { mode: require, channel_binding: always }\n"
		      "  - name: b\n"
		      "    protocol: postgres\n"
		      "    address: h:1\n"
		      "    database: d\n"
		      "    user: u\n"
		      "    password_env: P\n"
		      "    tls: { mode: disable, channel_binding: require }\n",
		      "t.yaml:13:44: targets[0].tls.channel_binding: unknown value 'always' "
		      "(expected prefer, require or disable)\n"
		      "t.yaml:20:44: targets[1].tls.channel_binding: not used with mode disable\n");
}

/* allowed_auth: known methods only, once each; a required channel binding needs SCRAM; mode
 * require without channel_binding binds by default (nothing else proves the certificate). */
static void test_target_allowed_auth(void **state)
{
	struct rg_config *cfg;

	(void)state;
	expect_errors("version: 1\n" MINIMAL_LISTENERS "targets:\n"
		      "  - name: a\n"
		      "    protocol: postgres\n"
		      "    address: h:1\n"
		      "    database: d\n"
		      "    user: u\n"
		      "    password_env: P\n"
		      "    allowed_auth: [md5, kerberos, md5]\n"
		      "  - name: b\n"
		      "    protocol: postgres\n"
		      "    address: h:1\n"
		      "    database: d\n"
		      "    user: u\n"
		      "    password_env: P\n"
		      "    tls: { mode: require }\n"
		      "    allowed_auth: [password]\n"
		      "  - name: c\n"
		      "    protocol: postgres\n"
		      "    address: h:1\n"
		      "    database: d\n"
		      "    user: u\n"
		      "    password_env: P\n"
		      "    allowed_auth: []\n",
		      "t.yaml:13:25: targets[0].allowed_auth[1]: unknown method 'kerberos' "
		      "(expected scram-sha-256, md5, password or none)\n"
		      "t.yaml:13:35: targets[0].allowed_auth[2]: 'md5' listed twice\n"
		      "t.yaml:21:19: targets[1].allowed_auth: tls.channel_binding require needs "
		      "scram-sha-256\n"
		      "t.yaml:28:19: targets[2].allowed_auth: needs at least 1 entry\n");
	cfg = expect_ok("version: 1\n" MINIMAL_LISTENERS "targets:\n"
			"  - name: a\n"
			"    protocol: postgres\n"
			"    address: h:1\n"
			"    database: d\n"
			"    user: u\n"
			"    password_env: P\n"
			"    tls: { mode: require }\n"
			"    allowed_auth: [scram-sha-256, none, md5, password]\n");
	assert_int_equal(cfg->targets[0].allowed_auth, RG_CONFIG_AUTH_SCRAM | RG_CONFIG_AUTH_NONE |
							   RG_CONFIG_AUTH_MD5 |
							   RG_CONFIG_AUTH_PASSWORD);
	assert_int_equal(cfg->targets[0].tls.channel_binding, RG_CONFIG_CB_REQUIRE);
	rg_config_free(cfg);
}

/* roles: each names a user other than the target's, once, with a secret and groups. */
static void test_target_roles(void **state)
{
	struct rg_config *cfg;

	(void)state;
	expect_errors("version: 1\n" MINIMAL_LISTENERS "targets:\n"
		      "  - name: a\n"
		      "    protocol: postgres\n"
		      "    address: h:1\n"
		      "    database: d\n"
		      "    user: u\n"
		      "    password_env: P\n"
		      "    roles:\n"
		      "      - { user: u, password_env: Q, groups: [g] }\n"
		      "      - { user: r, password_env: Q, groups: [] }\n"
		      "      - { user: r, groups: [g] }\n",
		      "t.yaml:14:9: targets[0].roles[0]: user 'u' is already the target's user\n"
		      "t.yaml:15:45: targets[0].roles[1].groups: needs at least 1 entry\n"
		      "t.yaml:16:9: targets[0].roles[2]: exactly one of password_file or "
		      "password_env is required\n"
		      "t.yaml:16:9: targets[0].roles[2]: user 'r' listed twice\n");
	cfg = expect_ok("version: 1\n" MINIMAL_LISTENERS "targets:\n"
			"  - name: a\n"
			"    protocol: postgres\n"
			"    address: h:1\n"
			"    database: d\n"
			"    user: u\n"
			"    password_env: P\n"
			"    tls: { mode: disable }\n"
			"    roles:\n"
			"      - { user: reader, password_file: r.pw, groups: [readers, bi] }\n");
	assert_int_equal(cfg->targets[0].n_roles, 1);
	assert_string_equal(cfg->targets[0].roles[0].user, "reader");
	assert_string_equal(cfg->targets[0].roles[0].password_file, "/etc/rg/r.pw");
	assert_int_equal(cfg->targets[0].roles[0].n_groups, 2);
	assert_string_equal(cfg->targets[0].roles[0].groups[1], "bi");
	rg_config_free(cfg);
}

/* A token is a bearer credential: off the host, a listener without tls is an error unless
 * insecure_plaintext says the operator means it. */
static void test_plaintext_listener_off_loopback_needs_insecure_plaintext(void **state)
{
	(void)state;
	expect_errors("version: 1\n"
		      "listeners:\n"
		      "  - { name: a, protocol: postgres, address: '0.0.0.0:1' }\n"
		      "  - { name: b, protocol: postgres, address: '10.1.2.3:2' }\n"
		      "  - { name: c, protocol: postgres, address: '[::]:3' }\n"
		      "  - { name: d, protocol: postgres, address: '127.0.0.2:4' }\n"
		      "  - { name: e, protocol: postgres, address: '[::1]:5' }\n"
		      "  - { name: f, protocol: postgres, address: '[::ffff:127.0.0.1]:6' }\n"
		      "  - { name: g, protocol: postgres, address: '0.0.0.0:7',\n"
		      "      insecure_plaintext: true }\n"
		      "  - { name: h, protocol: postgres, address: '0.0.0.0:8',\n"
		      "      insecure_plaintext: false }\n"
		      "  - { name: i, protocol: postgres, address: '0.0.0.0:9',\n"
		      "      tls: { cert: c, key: k }, insecure_plaintext: true }\n" MINIMAL_TARGETS,
		      "t.yaml:3:45: listeners[0].address: 0.0.0.0:1 is not a loopback address "
		      "and the listener has no tls: agents' tokens would cross the network in "
		      "clear text (add tls, or set insecure_plaintext: true)\n"
		      "t.yaml:4:45: listeners[1].address: 10.1.2.3:2 is not a loopback address "
		      "and the listener has no tls: agents' tokens would cross the network in "
		      "clear text (add tls, or set insecure_plaintext: true)\n"
		      "t.yaml:5:45: listeners[2].address: [::]:3 is not a loopback address and "
		      "the listener has no tls: agents' tokens would cross the network in clear "
		      "text (add tls, or set insecure_plaintext: true)\n"
		      "t.yaml:11:45: listeners[7].address: 0.0.0.0:8 is not a loopback address "
		      "and the listener has no tls: agents' tokens would cross the network in "
		      "clear text (add tls, or set insecure_plaintext: true)\n"
		      "t.yaml:14:53: listeners[8].insecure_plaintext: not used with tls\n");
}

static void test_token_lifetime_keys(void **state)
{
	(void)state;
	expect_errors(MINIMAL
		      "identity:\n"
		      "  issuers:\n"
		      "    - { issuer: i, audience: a, jwks_file: j, max_token_lifetime: 0s }\n"
		      "    - { issuer: k, audience: a, jwks_file: j, max_token_lifetime: 8d }\n"
		      "    - { issuer: l, audience: a, jwks_file: j, max_token_lifetime: 169h }\n"
		      "    - { issuer: m, audience: a, jwks_file: j, session_outlives_token: 1 }\n",
		      "t.yaml:16:67: identity.issuers[0].max_token_lifetime: duration '0s' out of "
		      "range 1s..168h\n"
		      "t.yaml:17:67: identity.issuers[1].max_token_lifetime: bad duration '8d': "
		      "unknown unit (expected ms, s, m or h)\n"
		      "t.yaml:18:67: identity.issuers[2].max_token_lifetime: duration '169h' out of "
		      "range 1s..168h\n"
		      "t.yaml:19:71: identity.issuers[3].session_outlives_token: expected true or "
		      "false, got '1'\n");
}

static void test_scram_max_iterations_range(void **state)
{
	(void)state;
	expect_errors("version: 1\n" MINIMAL_LISTENERS "targets:\n"
		      "  - { name: a, protocol: postgres, address: 'h:1', database: d, user: u,\n"
		      "      password_env: P, scram_max_iterations: 4095 }\n"
		      "  - { name: b, protocol: postgres, address: 'h:1', database: d, user: u,\n"
		      "      password_env: P, scram_max_iterations: 10000001 }\n",
		      "t.yaml:8:46: targets[0].scram_max_iterations: 4095 out of range "
		      "4096..10000000\n"
		      "t.yaml:10:46: targets[1].scram_max_iterations: 10000001 out of range "
		      "4096..10000000\n");
}

static void test_jwks_url_must_be_https(void **state)
{
	(void)state;
	expect_errors(MINIMAL
		      "identity:\n"
		      "  issuers:\n"
		      "    - { issuer: i, audience: a, jwks_url: 'http://idp/jwks' }\n"
		      "    - { issuer: j, audience: a, jwks_url: 'http://127.0.0.1:8080/j' }\n"
		      "    - { issuer: k, audience: a, jwks_url: 'http://localhost.evil/j' }\n"
		      "    - { issuer: l, audience: a, jwks_url: 'http://localhost:80@evil/j' }\n"
		      "    - { issuer: m, audience: a, jwks_url: 'http://[::1]:80/j' }\n",
		      "t.yaml:16:43: identity.issuers[0].jwks_url: 'http://idp/jwks' must be an "
		      "https:// URL (http:// only to 127.0.0.1, [::1] or localhost)\n"
		      "t.yaml:18:43: identity.issuers[2].jwks_url: 'http://localhost.evil/j' "
		      "must be an https:// URL (http:// only to 127.0.0.1, [::1] or "
		      "localhost)\n"
		      "t.yaml:19:43: identity.issuers[3].jwks_url: jwks_url must not contain a "
		      "user name or password (userinfo before '@')\n");
}

static void test_webhooks_must_be_https(void **state)
{
	(void)state;
	expect_errors(MINIMAL
		      "approvals:\n"
		      "  webhooks: ['https://hooks.example/x', 'http://hooks.example/y',\n"
		      "             'http://127.0.0.1:9/z']\n"
		      "  webhook_timeout: 2m\n",
		      "t.yaml:15:41: approvals.webhooks[1]: 'http://hooks.example/y' must be an "
		      "https:// URL (http:// only to 127.0.0.1, [::1] or localhost)\n"
		      "t.yaml:17:20: approvals.webhook_timeout: duration '2m' out of range 1s..1m\n");
}

static void test_password_env_must_be_a_variable_name(void **state)
{
	(void)state;
	expect_errors("version: 1\n" MINIMAL_LISTENERS "targets:\n"
		      "  - { name: a, protocol: postgres, address: 'h:1', database: d, user: u,\n"
		      "      password_env: 1PW }\n",
		      "t.yaml:8:21: targets[0].password_env: '1PW' is not a valid environment "
		      "variable name\n");
}

static void test_empty_sequences(void **state)
{
	(void)state;
	expect_errors("version: 1\nlisteners: []\ntargets: []\nidentity: { issuers: [] }\n",
		      "t.yaml:2:12: listeners: needs at least 1 entry\n"
		      "t.yaml:3:10: targets: needs at least 1 entry\n"
		      "t.yaml:4:22: identity.issuers: needs at least 1 entry\n");
}

static void test_overlapping_addresses(void **state)
{
	(void)state;
	expect_errors("version: 1\n"
		      "listeners:\n"
		      "  - { name: a, protocol: postgres, address: '127.0.0.1:6432' }\n"
		      "  - { name: b, protocol: postgres, address: '0.0.0.0:6432',\n"
		      "      insecure_plaintext: true }\n"
		      "admin: { address: '127.0.0.1:6432' }\n" MINIMAL_TARGETS,
		      "t.yaml:4:5: listeners[1]: address 0.0.0.0:6432 overlaps listeners[0] "
		      "(127.0.0.1:6432)\n"
		      "t.yaml:6:19: admin.address: 127.0.0.1:6432 overlaps listeners[0] "
		      "(127.0.0.1:6432)\n"
		      "t.yaml:6:19: admin.address: 127.0.0.1:6432 overlaps listeners[1] "
		      "(0.0.0.0:6432)\n");
}

static void test_admin_errors(void **state)
{
	(void)state;
	/* Tokens in clear text off the host: refused unless written down. */
	expect_errors(MINIMAL "admin: { address: '0.0.0.0:9187' }\n",
		      "t.yaml:14:19: admin.address: 0.0.0.0:9187 is not a loopback address and "
		      "admin has no tls: reviewers' tokens would cross the network in clear text "
		      "(add tls, or set insecure_plaintext: true)\n");
	expect_errors(MINIMAL "admin:\n"
			      "  address: 127.0.0.1:9187\n"
			      "  url: ftp://x\n"
			      "  operators: ops\n"
			      "  tls: { cert: a }\n"
			      "  insecure_plaintext: true\n"
			      "  metrics: true\n",
		      "t.yaml:16:8: admin.url: 'ftp://x' is not an http:// or https:// URL with a "
		      "host (printable ASCII, no spaces or quotes, at most 200 bytes)\n"
		      "t.yaml:17:14: admin.operators: expected a sequence, got a scalar\n"
		      "t.yaml:18:8: admin.tls: missing required key 'key'\n"
		      "t.yaml:19:23: admin.insecure_plaintext: not used with tls\n"
		      "t.yaml:20:3: admin.metrics: unknown key (expected one of: address, url, "
		      "operators, tls, insecure_plaintext)\n");
	expect_errors(MINIMAL "admin: { address: '127.0.0.1:9187', url: 'http://a<b' }\n",
		      "t.yaml:14:42: admin.url: 'http://a<b' is not an http:// or https:// URL "
		      "with a host (printable ASCII, no spaces or quotes, at most 200 bytes)\n");
	expect_errors(MINIMAL "admin: { address: '127.0.0.1:9187', url: 'https://h/"
			      "0123456789012345678901234567890123456789012345678901234567890123456789"
			      "0123456789012345678901234567890123456789012345678901234567890123456789"
			      "0123456789012345678901234567890123456789012345678901234567890' }\n",
		      "t.yaml:14:42: admin.url: 'https://h/"
		      "0123456789012345678901234567890123456789012345678901234567890123456789"
		      "0123456789012345678901234567890123456789012345678901234567890123456789"
		      "0123456789012345678901234567890123456789012345678901234567890' is not an "
		      "http:// or https:// URL with a host (printable ASCII, no spaces or quotes, "
		      "at most 200 bytes)\n");
	expect_errors(MINIMAL "admin: { address: '127.0.0.1:9187', url: 'https:///x' }\n",
		      "t.yaml:14:42: admin.url: 'https:///x' is not an http:// or https:// URL "
		      "with a host (printable ASCII, no spaces or quotes, at most 200 bytes)\n");
}

static void test_unsupported_yaml_constructs(void **state)
{
	(void)state;
	expect_errors("version: 1\nlisteners: &l [ *l ]\n",
		      "t.yaml:2:12: YAML anchors and tags are not supported\n");
	expect_errors(MINIMAL "state_dir: *x\n", "t.yaml:14:12: YAML aliases are not supported\n");
	expect_errors(MINIMAL "threads: !!int 4\n",
		      "t.yaml:14:10: YAML anchors and tags are not supported\n");
	expect_errors(MINIMAL "---\nversion: 1\n",
		      "t.yaml:14:1: only one YAML document is allowed\n");
}

static void test_nesting_is_bounded(void **state)
{
	char yaml[256];

	(void)state;
	snprintf(yaml, sizeof(yaml), "version: 1\nx: %.*s\n", 40,
		 "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[");
	/* The root mapping is the first level, so the 32nd '[' is one too many. */
	expect_errors(yaml, "t.yaml:2:35: nesting deeper than 32 levels\n");
}

/* A file with one mistake per section reports all of them, in file order per section. */
static void test_all_errors_are_reported_in_one_run(void **state)
{
	(void)state;
	expect_errors("version: 1\n"
		      "threads: -2\n"
		      "listeners:\n"
		      "  - name: pg\n"
		      "    address: 127.0.0.1:99999\n"
		      "    protocol: postgres\n"
		      "    color: blue\n"
		      "targets:\n"
		      "  - name: appdb\n"
		      "    protocol: postgres\n"
		      "    address: 127.0.0.1:5432\n"
		      "    user: app_rw\n"
		      "    password_env: P\n"
		      "    connect_timeout: fast\n"
		      "limits: { idle_timeout: 1w }\n",
		      "t.yaml:2:10: threads: expected an integer 0..1024, got '-2'\n"
		      "t.yaml:5:14: listeners[0].address: bad address '127.0.0.1:99999': port "
		      "out of range 1..65535\n"
		      "t.yaml:7:5: listeners[0].color: unknown key (expected one of: name, "
		      "address, protocol, tls, insecure_plaintext)\n"
		      "t.yaml:9:5: targets[0]: missing required key 'database'\n"
		      "t.yaml:14:22: targets[0].connect_timeout: bad duration 'fast': expected "
		      "an integer followed by ms, s, m or h\n"
		      "t.yaml:15:25: limits.idle_timeout: bad duration '1w': unknown unit "
		      "(expected ms, s, m or h)\n");
}

/* MySQL (docs/config.md): database optional, the pinned RSA key its own, PostgreSQL-only
 * keys refused; a plaintext mysql listener only on loopback with insecure_plaintext. */
#define MY_TARGET                                                                                  \
	"targets:\n"                                                                               \
	"  - name: shop\n"                                                                         \
	"    protocol: mysql\n"                                                                    \
	"    address: 127.0.0.1:3306\n"                                                            \
	"    user: app\n"                                                                          \
	"    password_env: SHOP_PW\n"                                                              \
	"    tls: { mode: require }\n"
#define MY_LISTENER                                                                                \
	"listeners:\n"                                                                             \
	"  - name: my\n"                                                                           \
	"    address: 127.0.0.1:3307\n"                                                            \
	"    protocol: mysql\n"                                                                    \
	"    insecure_plaintext: true\n"

static void test_mysql_target_keys(void **state)
{
	struct rg_config *cfg;

	(void)state;
	cfg = expect_ok("version: 1\n" MY_LISTENER MY_TARGET
			"    server_public_key_file: keys/shop.pem\n");
	assert_null(cfg->targets[0].database);
	assert_string_equal(cfg->targets[0].server_public_key_file, "/etc/rg/keys/shop.pem");
	assert_int_equal(cfg->targets[0].tls.channel_binding, RG_CONFIG_CB_DISABLE);
	rg_config_free(cfg);
	expect_errors("version: 1\n" MY_LISTENER MY_TARGET "    allowed_auth: [md5]\n"
		      "    roles: []\n    scram_max_iterations: 5000\n",
		      "t.yaml:14:19: targets[0].allowed_auth: only used with protocol postgres\n"
		      "t.yaml:15:12: targets[0].roles: only used with protocol postgres\n"
		      "t.yaml:16:27: targets[0].scram_max_iterations: only used with protocol "
		      "postgres\n");
	expect_errors("version: 1\n" MINIMAL_LISTENERS MINIMAL_TARGETS
		      "    server_public_key_file: k.pem\n",
		      "t.yaml:14:29: targets[0].server_public_key_file: only used with protocol "
		      "mysql\n");
}

static void test_mysql_plaintext_listener_needs_loopback_and_key(void **state)
{
	(void)state;
	expect_errors("version: 1\n"
		      "listeners:\n  - name: my\n    address: 127.0.0.1:3307\n"
		      "    protocol: mysql\n" MY_TARGET,
		      "t.yaml:3:5: listeners[0]: a mysql listener without tls needs "
		      "insecure_plaintext: true (loopback development only: tokens travel in clear "
		      "text)\n");
	expect_errors("version: 1\n"
		      "listeners:\n  - name: my\n    address: 10.0.0.1:3307\n"
		      "    protocol: mysql\n    insecure_plaintext: true\n" MY_TARGET,
		      "t.yaml:4:14: listeners[0].address: 10.0.0.1:3307 is not a loopback address "
		      "and the mysql listener has no tls: agents' tokens would cross the network in "
		      "clear text (add tls; a plaintext mysql listener is for loopback development "
		      "only)\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_yaml_syntax_error_stops_with_position),
	    cmocka_unit_test(test_empty_file_is_refused),
	    cmocka_unit_test(test_top_level_must_be_a_mapping),
	    cmocka_unit_test(test_unknown_key_names_expected_keys),
	    cmocka_unit_test(test_keys_must_be_non_empty_strings),
	    cmocka_unit_test(test_duplicate_key_points_at_first),
	    cmocka_unit_test(test_missing_required_key),
	    cmocka_unit_test(test_wrong_node_types),
	    cmocka_unit_test(test_null_and_empty_values),
	    cmocka_unit_test(test_string_with_nul_byte_is_refused),
	    cmocka_unit_test(test_bad_integers),
	    cmocka_unit_test(test_unsupported_version),
	    cmocka_unit_test(test_bad_durations),
	    cmocka_unit_test(test_bad_addresses),
	    cmocka_unit_test(test_port_out_of_range),
	    cmocka_unit_test(test_invalid_name),
	    cmocka_unit_test(test_duplicate_names),
	    cmocka_unit_test(test_duplicate_issuer),
	    cmocka_unit_test(test_exactly_one_of),
	    cmocka_unit_test(test_listener_tls_needs_cert_and_key),
	    cmocka_unit_test(test_unknown_protocol),
	    cmocka_unit_test(test_target_tls_rules),
	    cmocka_unit_test(test_target_channel_binding_values),
	    cmocka_unit_test(test_target_allowed_auth),
	    cmocka_unit_test(test_target_roles),
	    cmocka_unit_test(test_jwks_url_must_be_https),
	    cmocka_unit_test(test_webhooks_must_be_https),
	    cmocka_unit_test(test_scram_max_iterations_range),
	    cmocka_unit_test(test_token_lifetime_keys),
	    cmocka_unit_test(test_plaintext_listener_off_loopback_needs_insecure_plaintext),
	    cmocka_unit_test(test_password_env_must_be_a_variable_name),
	    cmocka_unit_test(test_empty_sequences),
	    cmocka_unit_test(test_overlapping_addresses),
	    cmocka_unit_test(test_admin_errors),
	    cmocka_unit_test(test_unsupported_yaml_constructs),
	    cmocka_unit_test(test_nesting_is_bounded),
	    cmocka_unit_test(test_all_errors_are_reported_in_one_run),
	    cmocka_unit_test(test_mysql_target_keys),
	    cmocka_unit_test(test_mysql_plaintext_listener_needs_loopback_and_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
