/*
 * Bundle round trip: YAML -> rulec_compile -> rg_policy_load_mem -> verdicts. Covers the
 * on-disk contract (determinism, truncation, corruption, foreign versions, signatures)
 * and the evaluation semantics documented in docs/rules.md (precedence, shadow mode,
 * identity matching, unparseable statements, prefilter soundness).
 */
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
			    "tests:\n"
			    "  - sql: \"DROP TABLE x\"\n"
			    "    expect: deny\n"
			    "    rule: t.no-drop\n";

static struct rulec_buf compile_yaml(const char *yaml)
{
	struct rulec_program prog;
	struct rulec_diags d = { 0 };
	memset(&prog, 0, sizeof(prog));
	int rc = rulec_parse_buffer("t.yaml", yaml, strlen(yaml), &prog, &d);
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
		cmocka_unit_test(test_mask_row_through_policy),
		cmocka_unit_test(test_verdict_cache_is_per_identity_and_exact),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
