/*
 * Bundle round trip: YAML -> rulec_compile -> rg_policy_load_mem -> verdicts. Covers the
 * on-disk contract (determinism, truncation, corruption, foreign versions, signatures)
 * and the evaluation semantics documented in docs/rules.md (precedence, shadow mode,
 * identity matching, unparseable statements, prefilter soundness).
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "bundle_format.h"
#include "rulec.h"

static const char *POLICY = "version: 1\n"
			    "pack: t\n"
			    "rules:\n"
			    "  - id: t.no-drop\n"
			    "    sql: { operation: drop }\n"
			    "    action: deny\n"
			    "    message: no drops\n"
			    "  - id: t.dba-drop-scratch\n"
			    "    match: { identity: { groups_any: [dba] } }\n"
			    "    sql: { operation: drop, tables: [\"scratch.*\"] }\n"
			    "    action: allow\n"
			    "  - id: t.nowhere\n"
			    "    sql: { without_where: true }\n"
			    "    action: deny\n"
			    "    sqlstate: \"42P99\"\n"
			    "  - id: t.sleep\n"
			    "    sql: { functions: [\"pg_sleep*\"] }\n"
			    "    action: deny\n"
			    "  - id: t.users-write\n"
			    "    sql: { tables: [public.users], table_access: write }\n"
			    "    action: require_approval\n"
			    "    approval: { group: dba, ttl: 15m }\n"
			    "  - id: t.audit-read\n"
			    "    sql: { tables: [audit.log] }\n"
			    "    action: log\n"
			    "  - id: t.shadow-truncate\n"
			    "    sql: { operation: truncate }\n"
			    "    action: deny\n"
			    "    enforce: false\n"
			    "  - id: t.ci-no-ddl\n"
			    "    match: { identity: { subject: \"ci-*\" } }\n"
			    "    sql: { operation: create }\n"
			    "    action: deny\n"
			    "masks:\n"
			    "  - id: t.cards\n"
			    "    detector: credit_card\n"
			    "    style: partial\n"
			    "limits:\n"
			    "  - id: t.all\n"
			    "    max_session_duration: 12h\n"
			    "    max_denials: 20\n"
			    "  - id: t.agents\n"
			    "    match: { target: \"prod-*\", identity: { groups_any: [agents] } }\n"
			    "    max_rows: 1000\n"
			    "    max_bytes: 10MiB\n"
			    "tests:\n"
			    "  - sql: \"DROP TABLE x\"\n"
			    "    expect: deny\n"
			    "    rule: t.no-drop\n";

/* Compile n files together, as `rulec compile a.yaml b.yaml` would. */
static struct rulec_buf compile_files(const char *const *names, const char *const *yamls,
				      size_t n)
{
	struct rulec_program prog;
	struct rulec_diags d = { 0 };
	memset(&prog, 0, sizeof(prog));
	int rc = 0;
	for (size_t i = 0; i < n; i++)
		rc |= rulec_parse_buffer(names[i], yamls[i], strlen(yamls[i]), &prog, &d);
	if (rc == 0)
		rc = rulec_check_program(&prog, &d);
	if (d.n)
		rulec_diags_print(&d, stderr);
	assert_int_equal(rc, 0);
	struct rulec_buf b = { 0 };
	assert_int_equal(rulec_compile(&prog, &b, &d), 0);
	rulec_diags_free(&d);
	rulec_program_free(&prog);
	return b;
}

static struct rulec_buf compile_yaml(const char *yaml)
{
	const char *name = "t.yaml";
	return compile_files(&name, &yaml, 1);
}

static struct rg_policy *load(const struct rulec_buf *b)
{
	struct rg_policy *p = NULL;
	char err[256] = "";
	int rc = rg_policy_load_mem(b->p, b->n, NULL, &p, err, sizeof(err));
	if (rc)
		fprintf(stderr, "load: %s\n", err);
	assert_int_equal(rc, 0);
	return p;
}

struct who {
	const char *sub;
	const char *groups[4];
	size_t ngroups;
};

static enum rg_verdict decide(struct rg_policy_ctx *c, const struct who *w, const char *sql,
			      struct rg_decision *d)
{
	struct rg_identity id = { .issuer = "https://issuer.test",
				  .subject = w ? w->sub : "agent",
				  .groups = w ? w->groups : NULL,
				  .ngroups = w ? w->ngroups : 0 };
	struct rg_request req = { .protocol = "postgres", .target = "db", .identity = &id };
	assert_int_equal(rg_policy_verdict(c, &req, sql, strlen(sql), d), 0);
	return d->verdict;
}

static bool has_rule(const struct rg_decision *d, const char *id)
{
	for (size_t i = 0; i < d->nrules; i++)
		if (strcmp(d->rules[i]->id, id) == 0)
			return true;
	return false;
}

static void test_compile_is_deterministic(void **state)
{
	(void)state;
	struct rulec_buf a = compile_yaml(POLICY), b = compile_yaml(POLICY);
	assert_int_equal(a.n, b.n);
	assert_memory_equal(a.p, b.p, a.n);
	rulec_buf_free(&a);
	rulec_buf_free(&b);
}

static void test_truncated_bundle_is_rejected_at_every_length(void **state)
{
	(void)state;
	struct rulec_buf b = compile_yaml(POLICY);
	for (size_t n = 0; n < b.n; n++) {
		struct rg_policy *p = (void *)1;
		char err[256] = "";
		int rc = rg_policy_load_mem(b.p, n, NULL, &p, err, sizeof(err));
		assert_true(rc == -EBADMSG || rc == -EPROTO);
		assert_null(p);
		assert_true(strlen(err) > 0);
	}
	rulec_buf_free(&b);
}

static void test_corrupt_body_fails_checksum(void **state)
{
	(void)state;
	struct rulec_buf b = compile_yaml(POLICY);
	for (size_t off = RG_BUNDLE_HEADER_SIZE; off < b.n; off += 7) {
		b.p[off] ^= 0x5a;
		struct rg_policy *p = NULL;
		char err[256] = "";
		assert_int_equal(rg_policy_load_mem(b.p, b.n, NULL, &p, err, sizeof(err)),
				 -EBADMSG);
		assert_non_null(strstr(err, "checksum"));
		b.p[off] ^= 0x5a;
	}
	rulec_buf_free(&b);
}

static void test_foreign_magic_and_version_are_rejected(void **state)
{
	(void)state;
	struct rulec_buf b = compile_yaml(POLICY);
	struct rg_policy *p = NULL;
	char err[256];
	struct rg_bundle_header *h = (struct rg_bundle_header *)b.p;
	h->version = 99;
	assert_int_equal(rg_policy_load_mem(b.p, b.n, NULL, &p, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "version 99"));
	h->version = RG_BUNDLE_VERSION;
	b.p[0] = 'X';
	assert_int_equal(rg_policy_load_mem(b.p, b.n, NULL, &p, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "magic"));
	rulec_buf_free(&b);
}

/* A body whose checksum is recomputed after tampering must still be caught by the
 * structural checks, never by a crash. */
static void test_tampered_sections_with_valid_checksum_never_crash(void **state)
{
	(void)state;
	struct rulec_buf b = compile_yaml(POLICY);
	struct rg_bundle_header *h = (struct rg_bundle_header *)b.p;
	uint8_t *body = b.p + RG_BUNDLE_HEADER_SIZE;
	for (size_t off = 0; off < h->body_len; off++) {
		static const uint8_t vals[] = { 0xff, 0x80, 0x01 };
		uint8_t saved = body[off];
		for (size_t v = 0; v < sizeof(vals); v++) {
			body[off] = vals[v];
			h->body_xxh3 = XXH3_64bits(body, h->body_len);
			struct rg_policy *p = NULL;
			char err[256];
			if (rg_policy_load_mem(b.p, b.n, NULL, &p, err, sizeof(err)) == 0) {
				/* accepted: it must still be usable */
				struct rg_policy_ctx *c = rg_policy_ctx_new(p, NULL, 0);
				if (c) {
					struct rg_decision d;
					decide(c, NULL, "DROP TABLE x; SELECT pg_sleep(1)", &d);
					rg_policy_ctx_free(c);
				}
				const char *groups[] = { "agents" };
				struct rg_identity id = { .subject = "a", .groups = groups, .ngroups = 1 };
				struct rg_request req = { .protocol = "postgres",
							  .target = "prod-db",
							  .identity = &id };
				struct rg_limits lim;
				assert_true(rg_policy_limits(p, &req, &lim) <= RG_LIMIT__COUNT);
				rg_policy_free(p);
			}
		}
		body[off] = saved;
	}
	rulec_buf_free(&b);
}

static void write_key(EVP_PKEY *k, const char *path, bool priv)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(priv ? PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL)
			      : PEM_write_PUBKEY(f, k),
			 1);
	fclose(f);
}

static void test_signature_is_required_and_verified(void **state)
{
	(void)state;
	char dir[] = "/tmp/rg-sig-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char priv[256], pub[256], other[256];
	snprintf(priv, sizeof(priv), "%s/k.pem", dir);
	snprintf(pub, sizeof(pub), "%s/k.pub", dir);
	snprintf(other, sizeof(other), "%s/o.pub", dir);
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	EVP_PKEY *o = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	write_key(k, priv, true);
	write_key(k, pub, false);
	write_key(o, other, false);

	struct rulec_buf b = compile_yaml(POLICY);
	struct rg_policy *p = NULL;
	char err[256];
	struct rg_policy_opts opts = { .pubkey_pem = pub };
	assert_int_equal(rg_policy_load_mem(b.p, b.n, &opts, &p, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "not signed"));

	assert_int_equal(rulec_sign(&b, priv, err, sizeof(err)), 0);
	assert_int_equal(rg_policy_load_mem(b.p, b.n, &opts, &p, err, sizeof(err)), 0);
	struct rg_policy_info info;
	rg_policy_get_info(p, &info);
	assert_true(info.signed_bundle);
	rg_policy_free(p);

	/* a signed bundle also loads where no key is configured */
	assert_int_equal(rg_policy_load_mem(b.p, b.n, NULL, &p, err, sizeof(err)), 0);
	rg_policy_free(p);

	opts.pubkey_pem = other;
	assert_int_equal(rg_policy_load_mem(b.p, b.n, &opts, &p, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "does not verify"));

	/* stripping the signed flag breaks the signature coverage of the header */
	opts.pubkey_pem = pub;
	((struct rg_bundle_header *)b.p)->flags = 0;
	assert_int_not_equal(rg_policy_load_mem(b.p, b.n, &opts, &p, err, sizeof(err)), 0);

	rulec_buf_free(&b);
	EVP_PKEY_free(k);
	EVP_PKEY_free(o);
	unlink(priv);
	unlink(pub);
	unlink(other);
	rmdir(dir);
}

static void test_verdicts_follow_precedence(void **state)
{
	(void)state;
	struct rulec_buf b = compile_yaml(POLICY);
	struct rg_policy *p = load(&b);
	struct rg_policy_ctx *c = rg_policy_ctx_new(p, NULL, 0);
	struct rg_decision d;
	struct who dba = { "alice", { "dba" }, 1 };

	assert_int_equal(decide(c, NULL, "DROP TABLE scratch.t", &d), RG_VERDICT_DENY);
	assert_string_equal(d.rule->id, "t.no-drop");
	assert_string_equal(d.rule->sqlstate, "42501");
	/* a more specific allow cancels the deny for dba */
	assert_int_equal(decide(c, &dba, "DROP TABLE scratch.t", &d), RG_VERDICT_ALLOW);
	assert_true(has_rule(&d, "t.dba-drop-scratch"));
	/* ...but only when everything in the string is covered */
	assert_int_equal(decide(c, &dba, "DROP TABLE scratch.t, public.x", &d), RG_VERDICT_DENY);
	assert_int_equal(decide(c, &dba, "DROP TABLE t", &d), RG_VERDICT_DENY);
	/* without where, anywhere */
	assert_int_equal(decide(c, NULL, "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
				&d),
			 RG_VERDICT_DENY);
	assert_string_equal(d.rule->sqlstate, "42P99");
	assert_int_equal(decide(c, NULL, "DELETE FROM t WHERE id = 1", &d), RG_VERDICT_ALLOW);
	/* functions, any case, schema-qualified, escaped */
	assert_int_equal(decide(c, NULL, "SELECT PG_CATALOG.PG_SLEEP(1)", &d), RG_VERDICT_DENY);
	assert_int_equal(decide(c, NULL, "SELECT U&\"\\0070g_sleep\"(1)", &d), RG_VERDICT_DENY);
	assert_int_equal(decide(c, NULL, "SELECT 'pg_sleep(1)'", &d), RG_VERDICT_ALLOW);
	/* hold with approval metadata; table access */
	assert_int_equal(decide(c, NULL, "UPDATE users SET a = 1 WHERE id = 2", &d),
			 RG_VERDICT_HOLD);
	assert_string_equal(d.rule->approval_group, "dba");
	assert_int_equal(d.rule->approval_ttl_s, 900);
	assert_int_equal(decide(c, NULL, "SELECT * FROM public.users", &d), RG_VERDICT_ALLOW);
	/* strictest wins */
	assert_int_equal(decide(c, NULL, "SELECT * FROM audit.log; DROP TABLE x", &d),
			 RG_VERDICT_DENY);
	assert_true(has_rule(&d, "t.audit-read"));
	assert_int_equal(decide(c, NULL, "SELECT * FROM audit.log", &d), RG_VERDICT_LOG);
	/* shadow */
	assert_int_equal(decide(c, NULL, "TRUNCATE t", &d), RG_VERDICT_ALLOW);
	assert_int_equal(d.shadow_verdict, RG_VERDICT_DENY);
	assert_true(has_rule(&d, "t.shadow-truncate"));
	/* identity globs */
	struct who ci = { "ci-build", { 0 }, 0 };
	assert_int_equal(decide(c, &ci, "CREATE TABLE t (a int)", &d), RG_VERDICT_DENY);
	assert_int_equal(decide(c, NULL, "CREATE TABLE t (a int)", &d), RG_VERDICT_ALLOW);
	/* unparseable: denied by the built-in rule */
	assert_int_equal(decide(c, NULL, "SELEC 1 FROM", &d), RG_VERDICT_DENY);
	assert_string_equal(d.rule->id, "builtin.unparseable");
	assert_string_equal(d.rule->sqlstate, "42601");
	assert_int_equal(decide(c, NULL, "", &d), RG_VERDICT_ALLOW);

	unsigned n = 0;
	assert_int_equal(rg_policy_run_tests(p, NULL, 0, stderr, false, &n), 0);
	assert_int_equal(n, 1);
	rg_policy_ctx_free(c);
	rg_policy_free(p);
	rulec_buf_free(&b);
}

static void test_prefilter_never_changes_a_decision(void **state)
{
	(void)state;
	static const char *corpus[] = {
		"SELECT 1",
		"DROP TABLE x",
		"drop table if exists \"Users\" cascade",
		"SELECT 'drop table x'",
		"/* drop */ SELECT 1",
		"-- truncate\nSELECT 1",
		"TRUNCATE t",
		"UPDATE t SET a = 1",
		"UPDATE t SET a = 1 WHERE b",
		"delete from t",
		"EXPLAIN ANALYZE DELETE FROM t",
		"PREPARE p AS DELETE FROM t",
		"CREATE RULE r AS ON INSERT TO t DO INSTEAD DELETE FROM u",
		"SELECT pg_sleep(1)",
		"SELECT * FROM pg_sleep_for('1s')",
		"SELECT U&\"\\0070g_sleep\"(1)",
		"SELECT * FROM audit.log",
		"SELECT * FROM \"audit\".\"log\"",
		"INSERT INTO users VALUES (1)",
		"INSERT INTO public.users SELECT * FROM audit.log",
		"CREATE TABLE x AS SELECT 1",
		"TABLE users",
		"VALUES (1)",
		"DO $$ BEGIN DROP TABLE x; END $$",
		"SELEC garbage",
		"",
		";;;",
		"BEGIN; DELETE FROM t; COMMIT",
	};
	struct rulec_buf b = compile_yaml(POLICY);
	struct rg_policy *p = load(&b);
	struct rg_policy_ctx *fast = rg_policy_ctx_new(p, NULL, 0);
	struct rg_policy_ctx *slow = rg_policy_ctx_new(p, NULL, 0);
	rg_policy_ctx_set_prefilter(slow, false);
	struct who people[] = { { "agent", { 0 }, 0 }, { "alice", { "dba" }, 1 },
				{ "ci-x", { "ci" }, 1 } };
	for (size_t w = 0; w < 3; w++) {
		for (size_t i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++) {
			struct rg_decision a, s;
			decide(fast, &people[w], corpus[i], &a);
			decide(slow, &people[w], corpus[i], &s);
			if (a.verdict != s.verdict || a.shadow_verdict != s.shadow_verdict ||
			    a.nrules != s.nrules)
				fail_msg("prefilter changed the decision for '%s' (%s vs %s)",
					 corpus[i], rg_verdict_name(a.verdict),
					 rg_verdict_name(s.verdict));
		}
	}
	rg_policy_ctx_free(fast);
	rg_policy_ctx_free(slow);
	rg_policy_free(p);
	rulec_buf_free(&b);
}

/* Read a file of the source tree (RG_SRC) into a NUL-terminated buffer; *n its size. */
static char *read_src(const char *rel, size_t *n)
{
	const char *src = getenv("RG_SRC");
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", src ? src : ".", rel);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	char *buf = calloc(1, 1 << 20);
	assert_non_null(buf);
	*n = fread(buf, 1, (1 << 20) - 1, f);
	fclose(f);
	return buf;
}

static void decide_mysql(struct rg_policy_ctx *c, unsigned modes, const char *sql, size_t len,
			 struct rg_decision *d)
{
	struct rg_identity id = { .issuer = "https://issuer.test", .subject = "agent" };
	struct rg_my_lexing lx = { 101100, RG_MY_MARIADB, modes };
	struct rg_request req = {
		.protocol = "mysql", .target = "db", .identity = &id, .mysql = &lx
	};
	assert_int_equal(rg_policy_verdict(c, &req, sql, len, d), 0);
}

/* The shipped baseline over the MySQL classifier's corpus (tests/fuzz/corpus/mysqlclass,
 * first byte below 32: sql_mode flags), under every lexing mode: the Hyperscan prefilter
 * must never change a decision, so the keyword table holds for MySQL statements too. */
static void test_prefilter_never_changes_a_mysql_decision(void **state)
{
	(void)state;
	size_t n;
	char *yaml = read_src("rules/baseline/baseline.yaml", &n);
	const char *name = "baseline.yaml", *text = yaml;
	struct rulec_buf b = compile_files(&name, &text, 1);
	struct rg_policy *p = load(&b);
	struct rg_policy_ctx *fast = rg_policy_ctx_new(p, NULL, 0);
	struct rg_policy_ctx *slow = rg_policy_ctx_new(p, NULL, 0);
	rg_policy_ctx_set_prefilter(slow, false);
	const char *src = getenv("RG_SRC");
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/mysqlclass", src ? src : ".");
	DIR *d = opendir(dir);
	assert_non_null(d);
	size_t checked = 0, denied = 0;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		char rel[512];
		snprintf(rel, sizeof(rel), "tests/fuzz/corpus/mysqlclass/%s", e->d_name);
		size_t len;
		char *sql = read_src(rel, &len);
		const char *q = sql;
		if (len && (unsigned char)q[0] < 32)
			q++, len--;
		for (unsigned modes = 0; modes < 4; modes++) {
			struct rg_decision a, s;
			decide_mysql(fast, modes, q, len, &a);
			decide_mysql(slow, modes, q, len, &s);
			if (a.verdict != s.verdict || a.shadow_verdict != s.shadow_verdict ||
			    a.nrules != s.nrules)
				fail_msg("prefilter changed the decision for %s, modes %u (%s vs %s)",
					 e->d_name, modes, rg_verdict_name(a.verdict),
					 rg_verdict_name(s.verdict));
			checked++;
			denied += a.verdict == RG_VERDICT_DENY;
		}
		free(sql);
	}
	closedir(d);
	assert_true(checked > 400 && denied > 100);
	rg_policy_ctx_free(fast);
	rg_policy_ctx_free(slow);
	rg_policy_free(p);
	rulec_buf_free(&b);
	free(yaml);
}

/* The verdict cache keys MySQL decisions by the session's lexing state: the same text is
 * a string under one sql_mode and a hidden DROP under another. */
static void test_mysql_verdict_cache_keys_on_sql_mode(void **state)
{
	(void)state;
	struct rulec_buf b = compile_yaml(POLICY);
	struct rg_policy *p = load(&b);
	struct rg_policy_ctx *c = rg_policy_ctx_new(p, NULL, 0);
	static const char sql[] = "SELECT 'a\\';DROP TABLE t;-- '";
	struct rg_decision d;
	for (int round = 0; round < 2; round++) {
		decide_mysql(c, 0, sql, strlen(sql), &d);
		assert_int_equal(d.verdict, RG_VERDICT_ALLOW);
		decide_mysql(c, RG_MY_NO_BACKSLASH_ESCAPES, sql, strlen(sql), &d);
		assert_int_equal(d.verdict, RG_VERDICT_DENY);
		assert_int_equal(d.cached, round == 1);
	}
	rg_policy_ctx_free(c);
	rg_policy_free(p);
	rulec_buf_free(&b);
}

static void test_mask_row_through_policy(void **state)
{
	(void)state;
	struct rulec_buf b = compile_yaml(POLICY);
	struct rg_policy *p = load(&b);
	struct rg_policy_ctx *c = rg_policy_ctx_new(p, NULL, 0);
	struct rg_identity id = { .subject = "agent" };
	struct rg_request req = { .protocol = "postgres", .target = "db", .identity = &id };
	const struct rg_mask_plan *plan;
	assert_int_equal(rg_policy_mask_plan(c, &req, NULL, 2, &plan), 0);
	const char *card = "card 4111111111111111 ok";
	struct rg_mask_field f[2] = {
		{ (const uint8_t *)card, (uint32_t)strlen(card), false },
		{ (const uint8_t *)"no pii", 6, false },
	};
	struct rg_mask_result r;
	assert_int_equal(rg_policy_mask_row(c, plan, f, 2, &r), 0);
	assert_true(r.changed);
	assert_true(r.fields[0].changed);
	assert_false(r.fields[1].changed);
	assert_int_equal(r.fields[0].len, strlen(card));
	assert_memory_equal(r.fields[0].data, "card ************1111 ok", strlen(card));
	rg_policy_ctx_free(c);
	rg_policy_free(p);
	rulec_buf_free(&b);
}

static void test_verdict_cache_is_per_identity_and_exact(void **state)
{
	(void)state;
	struct rulec_buf b = compile_yaml(POLICY);
	struct rg_policy *p = load(&b);
	struct rg_policy_ctx *c = rg_policy_ctx_new(p, NULL, 0);
	struct rg_decision d;
	struct who ci = { "ci-build", { 0 }, 0 };
	assert_int_equal(decide(c, &ci, "CREATE TABLE t (a int)", &d), RG_VERDICT_DENY);
	assert_false(d.cached);
	assert_int_equal(decide(c, &ci, "CREATE TABLE t (a int)", &d), RG_VERDICT_DENY);
	assert_true(d.cached);
	assert_string_equal(d.rule->id, "t.ci-no-ddl");
	assert_true(has_rule(&d, "t.ci-no-ddl"));
	/* another identity class is decided afresh */
	assert_int_equal(decide(c, NULL, "CREATE TABLE t (a int)", &d), RG_VERDICT_ALLOW);
	assert_false(d.cached);
	/* a different text is never served from the cache */
	assert_int_equal(decide(c, &ci, "CREATE TABLE u (a int)", &d), RG_VERDICT_DENY);
	assert_false(d.cached);
	/* and the cache can be turned off */
	rg_policy_ctx_set_cache(c, false);
	assert_int_equal(decide(c, &ci, "CREATE TABLE t (a int)", &d), RG_VERDICT_DENY);
	assert_false(d.cached);
	rg_policy_ctx_free(c);
	rg_policy_free(p);
	rulec_buf_free(&b);
}

/* ---- limits ---- */

static const char *LIM_A = "version: 1\n"
			   "pack: a\n"
			   "limits:\n"
			   "  - id: a.all\n"
			   "    max_session_duration: 12h\n"
			   "    max_denials: 20\n"
			   "  - id: a.agents-prod\n"
			   "    match: {target: \"prod-*\", identity: {groups_any: [agents]}}\n"
			   "    max_session_duration: 8h\n"
			   "    max_rows: 100000\n"
			   "    max_bytes: 1GiB\n";

static const char *LIM_B = "version: 1\n"
			   "pack: b\n"
			   "limits:\n"
			   "  - id: b.ci\n"
			   "    match: {identity: {subject: \"ci-*\"}}\n"
			   "    max_rows: 5000\n"
			   "    idle_timeout: 5m\n"
			   "  - id: b.tie\n"
			   "    match: {identity: {subject: \"ci-*\"}}\n"
			   "    max_rows: 5000\n"
			   "    max_denials: 0\n"
			   "  - id: b.other-issuer\n"
			   "    match: {protocol: mysql, identity: {issuer: \"https://other.test/*\"}}\n"
			   "    max_statements: 1\n"
			   "  - id: b.not-agents\n"
			   "    match: {target: \"prod-*\", identity: {groups_none: [agents]}}\n"
			   "    max_statements: 50\n";

static int limits_of(const struct rg_policy *p, const char *protocol, const char *issuer,
		     const char *sub, const char *group, const char *target, struct rg_limits *l)
{
	const char *groups[] = { group };
	struct rg_identity id = { .issuer = issuer,
				  .subject = sub,
				  .groups = groups,
				  .ngroups = group ? 1 : 0 };
	struct rg_request req = { .protocol = protocol, .target = target, .identity = &id };
	return rg_policy_limits(p, &req, l);
}

static void assert_limit(const struct rg_limits *l, enum rg_limit_kind k, uint64_t value,
			 const char *id)
{
	if (!id) {
		assert_null(l->v[k].id);
		assert_true(l->v[k].value == 0);
		return;
	}
	assert_non_null(l->v[k].id);
	assert_string_equal(l->v[k].id, id);
	assert_true(l->v[k].value == value);
}

static void test_limits_strictest_value_wins_across_packs(void **state)
{
	(void)state;
	const char *names[] = { "a.yaml", "b.yaml" };
	const char *yamls[] = { LIM_A, LIM_B };
	struct rulec_buf b = compile_files(names, yamls, 2);
	struct rg_policy *p = load(&b);
	struct rg_policy_info info;
	rg_policy_get_info(p, &info);
	assert_int_equal(info.nlimits, 6);
	struct rg_limits l;
	const char *iss = "https://issuer.test";

	/* outside the agents group on prod: the catch-all and the groups_none entry */
	assert_int_equal(limits_of(p, "postgres", iss, "alice", "dba", "prod-db", &l), 3);
	assert_limit(&l, RG_LIMIT_SESSION_DURATION, 12 * 3600, "a.all");
	assert_limit(&l, RG_LIMIT_DENIALS, 20, "a.all");
	assert_limit(&l, RG_LIMIT_STATEMENTS, 50, "b.not-agents");
	assert_limit(&l, RG_LIMIT_ROWS, 0, NULL);
	assert_limit(&l, RG_LIMIT_IDLE_TIMEOUT, 0, NULL);
	assert_limit(&l, RG_LIMIT_BYTES, 0, NULL);
	/* agents on prod: the smaller duration wins over the catch-all's */
	assert_int_equal(limits_of(p, "postgres", iss, "agent-7", "agents", "prod-db", &l), 4);
	assert_limit(&l, RG_LIMIT_SESSION_DURATION, 8 * 3600, "a.agents-prod");
	assert_limit(&l, RG_LIMIT_ROWS, 100000, "a.agents-prod");
	assert_limit(&l, RG_LIMIT_BYTES, UINT64_C(1) << 30, "a.agents-prod");
	assert_limit(&l, RG_LIMIT_DENIALS, 20, "a.all");
	assert_limit(&l, RG_LIMIT_STATEMENTS, 0, NULL);
	/* a CI bot in agents on prod: keys come from three entries of two packs; on the tie
	 * for max_rows the entry first in program order is named; 0 is a value, not "none" */
	assert_int_equal(limits_of(p, "postgres", iss, "ci-build", "agents", "prod-db", &l), 5);
	assert_limit(&l, RG_LIMIT_SESSION_DURATION, 8 * 3600, "a.agents-prod");
	assert_limit(&l, RG_LIMIT_ROWS, 5000, "b.ci");
	assert_limit(&l, RG_LIMIT_IDLE_TIMEOUT, 300, "b.ci");
	assert_limit(&l, RG_LIMIT_DENIALS, 0, "b.tie");
	assert_limit(&l, RG_LIMIT_BYTES, UINT64_C(1) << 30, "a.agents-prod");
	/* the same bot elsewhere: target globs */
	assert_int_equal(limits_of(p, "postgres", iss, "ci-build", "agents", "staging-db", &l), 4);
	assert_limit(&l, RG_LIMIT_SESSION_DURATION, 12 * 3600, "a.all");
	assert_limit(&l, RG_LIMIT_BYTES, 0, NULL);
	assert_limit(&l, RG_LIMIT_ROWS, 5000, "b.ci");
	/* protocol and issuer */
	assert_int_equal(limits_of(p, "mysql", "https://other.test/x", "bob", NULL, "db", &l), 3);
	assert_limit(&l, RG_LIMIT_STATEMENTS, 1, "b.other-issuer");
	assert_int_equal(limits_of(p, "postgres", "https://other.test/x", "bob", NULL, "db", &l),
			 2);
	assert_limit(&l, RG_LIMIT_STATEMENTS, 0, NULL);
	/* no identity at all: only entries without identity selectors */
	struct rg_request anon = { .protocol = "postgres", .target = "db" };
	assert_int_equal(rg_policy_limits(p, &anon, &l), 2);
	assert_limit(&l, RG_LIMIT_DENIALS, 20, "a.all");

	/* the FATAL's text names the limit, its value as written and the entry */
	char msg[160];
	limits_of(p, "postgres", iss, "ci-build", "agents", "prod-db", &l);
	rg_limit_message(&l, RG_LIMIT_ROWS, msg, sizeof(msg));
	assert_string_equal(msg, "session ended: max_rows 5000 (limit b.ci) exceeded");
	rg_limit_message(&l, RG_LIMIT_SESSION_DURATION, msg, sizeof(msg));
	assert_string_equal(msg,
			    "session ended: max_session_duration 8h (limit a.agents-prod) exceeded");
	rg_limit_message(&l, RG_LIMIT_BYTES, msg, sizeof(msg));
	assert_string_equal(msg, "session ended: max_bytes 1GiB (limit a.agents-prod) exceeded");
	rg_limit_message(&l, RG_LIMIT_IDLE_TIMEOUT, msg, sizeof(msg));
	assert_string_equal(msg, "session ended: idle_timeout 5m (limit b.ci) exceeded");
	assert_int_equal(rg_limit_message(&l, RG_LIMIT_STATEMENTS, msg, sizeof(msg)), 0);
	assert_string_equal(msg, "");
	assert_string_equal(rg_limit_sqlstate(RG_LIMIT_IDLE_TIMEOUT), "57P05");
	assert_string_equal(rg_limit_sqlstate(RG_LIMIT_ROWS), "57P01");
	rg_policy_free(p);
	rulec_buf_free(&b);
}

static void test_limit_names_and_values_print_as_written(void **state)
{
	(void)state;
	for (int k = 0; k < RG_LIMIT__COUNT; k++)
		assert_int_equal(rg_limit_from_name(rg_limit_name((enum rg_limit_kind)k)), k);
	assert_null(rg_limit_name(RG_LIMIT__COUNT));
	assert_int_equal(rg_limit_from_name("max_row"), -1);
	static const struct {
		enum rg_limit_kind k;
		uint64_t v;
		const char *want;
	} cases[] = {
		{ RG_LIMIT_IDLE_TIMEOUT, 90, "90s" },
		{ RG_LIMIT_IDLE_TIMEOUT, 120, "2m" },
		{ RG_LIMIT_SESSION_DURATION, 7200, "2h" },
		{ RG_LIMIT_SESSION_DURATION, 3660, "61m" },
		{ RG_LIMIT_BYTES, 0, "0B" },
		{ RG_LIMIT_BYTES, 123, "123B" },
		{ RG_LIMIT_BYTES, 1000000, "1MB" },
		{ RG_LIMIT_BYTES, 1024000, "1000KiB" },
		{ RG_LIMIT_BYTES, UINT64_C(5) << 40, "5TiB" },
		{ RG_LIMIT_BYTES, UINT64_C(1000000000000000), "1000TB" },
		{ RG_LIMIT_ROWS, 1000000, "1000000" },
		{ RG_LIMIT_DENIALS, 0, "0" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[32];
		rg_limit_format_value(cases[i].k, cases[i].v, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].want);
	}
}

/* The loader refuses limit records an engine cannot honour, even with a valid checksum. */
static void test_loader_refuses_unknown_limit_kinds(void **state)
{
	(void)state;
	struct rulec_buf b = compile_yaml(POLICY);
	struct rg_bundle_header *h = (struct rg_bundle_header *)b.p;
	uint8_t *body = b.p + RG_BUNDLE_HEADER_SIZE;
	const struct rg_bundle_section *secs = (const struct rg_bundle_section *)body;
	struct rg_bundle_limit *bl = NULL;
	for (uint32_t i = 0; i < h->nsections; i++)
		if (secs[i].type == RG_SEC_LIMITS) {
			assert_int_equal(secs[i].count, 2);
			bl = (struct rg_bundle_limit *)(body + secs[i].offset);
		}
	assert_non_null(bl);
	struct rg_policy *p = NULL;
	char err[256];
	/* a kind from the future */
	bl[1].set |= 1u << RG_LIMIT__COUNT;
	h->body_xxh3 = XXH3_64bits(body, h->body_len);
	assert_int_equal(rg_policy_load_mem(b.p, b.n, NULL, &p, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "limit 1 malformed");
	bl[1].set &= ~(1u << RG_LIMIT__COUNT);
	/* a value in a slot that is not set */
	bl[0].value[RG_LIMIT_ROWS] = 7;
	h->body_xxh3 = XXH3_64bits(body, h->body_len);
	assert_int_equal(rg_policy_load_mem(b.p, b.n, NULL, &p, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "limit 0 malformed");
	bl[0].value[RG_LIMIT_ROWS] = 0;
	/* a match list past the pool */
	bl[1].match.targets.start = UINT32_MAX - 1;
	h->body_xxh3 = XXH3_64bits(body, h->body_len);
	assert_int_equal(rg_policy_load_mem(b.p, b.n, NULL, &p, err, sizeof(err)), -EBADMSG);
	rulec_buf_free(&b);
}

static void test_session_tests_run_against_the_bundle(void **state)
{
	(void)state;
	const char *yaml = "version: 1\n"						/* 1 */
			   "pack: s\n"							/* 2 */
			   "limits:\n"							/* 3 */
			   "  - id: s.all\n"						/* 4 */
			   "    max_session_duration: 12h\n"				/* 5 */
			   "    tests:\n"							/* 6 */
			   "      - session: {subject: x}\n"				/* 7 */
			   "        expect: {max_session_duration: 12h, max_rows: none}\n" /* 8 */
			   "  - id: s.ci\n"						/* 9 */
			   "    match: {identity: {subject: \"ci-*\", groups_any: [ci]}, "
			   "target: \"prod-*\"}\n"					/* 10 */
			   "    max_rows: 1000\n"						/* 11 */
			   "    max_bytes: 10MB\n"						/* 12 */
			   "    tests:\n"							/* 13 */
			   "      - session: {subject: ci-1, groups: [ci], target: prod-db}\n"
			   "        expect: {max_rows: 1000, max_bytes: 10000000, "
			   "max_session_duration: 12h}\n"				/* 15 */
			   "      - session: {subject: ci-1, groups: [ci], target: staging}\n"
			   "        expect: {max_rows: 1000}\n"				/* 17 */
			   "      - session: {subject: ci-1, groups: [ci], target: prod-db}\n"
			   "        expect: {max_rows: none, max_bytes: 1MB}\n"		/* 19 */
			   "tests:\n"							/* 20 */
			   "  - session: {subject: ci-1, groups: [ci], target: prod-db}\n"
			   "    expect: {idle_timeout: none}\n";
	struct rulec_buf b = compile_yaml(yaml);
	struct rg_policy *p = load(&b);
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	assert_non_null(f);
	unsigned n = 0;
	assert_int_equal(rg_policy_run_tests(p, NULL, 0, f, false, &n), 2);
	fclose(f);
	assert_int_equal(n, 5);
	assert_string_equal(out, "t.yaml:16: FAIL: session subject ci-1, groups [ci], target staging "
				 "-> max_rows none; expected max_rows 1000\n"
				 "t.yaml:18: FAIL: session subject ci-1, groups [ci], target prod-db "
				 "-> max_rows 1000 (limit s.ci), max_bytes 10MB (limit s.ci); "
				 "expected max_rows none, max_bytes 1MB\n");
	free(out);
	rg_policy_free(p);
	rulec_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compile_is_deterministic),
		cmocka_unit_test(test_truncated_bundle_is_rejected_at_every_length),
		cmocka_unit_test(test_corrupt_body_fails_checksum),
		cmocka_unit_test(test_foreign_magic_and_version_are_rejected),
		cmocka_unit_test(test_tampered_sections_with_valid_checksum_never_crash),
		cmocka_unit_test(test_signature_is_required_and_verified),
		cmocka_unit_test(test_verdicts_follow_precedence),
		cmocka_unit_test(test_prefilter_never_changes_a_decision),
		cmocka_unit_test(test_prefilter_never_changes_a_mysql_decision),
		cmocka_unit_test(test_mysql_verdict_cache_keys_on_sql_mode),
		cmocka_unit_test(test_mask_row_through_policy),
		cmocka_unit_test(test_verdict_cache_is_per_identity_and_exact),
		cmocka_unit_test(test_limits_strictest_value_wins_across_packs),
		cmocka_unit_test(test_limit_names_and_values_print_as_written),
		cmocka_unit_test(test_loader_refuses_unknown_limit_kinds),
		cmocka_unit_test(test_session_tests_run_against_the_bundle),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
