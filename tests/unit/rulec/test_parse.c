/*
 * test_parse: the rulec front end, YAML -> IR. A full-featured file must land in the IR
 * exactly (data/full.yaml, field by field); every class of error must be reported once,
 * as the exact `file:line:col: message` line a user sees, and parsing goes on after it.
 * Fixtures are inline strings unless the bytes themselves matter (data/).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ir.h"

static char *read_data(const char *name, size_t *len)
{
	const char *src = getenv("RG_SRC");
	char path[4096];
	snprintf(path, sizeof(path), "%s/tests/unit/rulec/data/%s", src ? src : ".", name);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	char *buf = malloc(1 << 20);
	assert_non_null(buf);
	*len = fread(buf, 1, (1 << 20) - 1, f);
	buf[*len] = 0;
	fclose(f);
	return buf;
}

static char *print_diags(const struct rulec_diags *d)
{
	char *out = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&out, &n);
	assert_non_null(f);
	rulec_diags_print(d, f);
	fclose(f);
	return out;
}

/* Parse one buffer as t.yaml, run the cross-file checks, return what a user would see. */
static char *diags_of(const char *yaml, size_t len)
{
	struct rulec_program p = {0};
	struct rulec_diags d = {0};
	int rc = rulec_parse_buffer("t.yaml", yaml, len, &p, &d);
	int rc2 = rulec_check_program(&p, &d);
	char *out = print_diags(&d);
	/* the return codes agree with the diagnostics */
	assert_int_equal(rc == 0 && rc2 == 0, d.n == 0);
	rulec_diags_free(&d);
	rulec_program_free(&p);
	return out;
}

#define EXPECT_DIAGS(yaml, want)                                                                   \
	do {                                                                                       \
		char *got_ = diags_of(yaml, strlen(yaml));                                         \
		assert_string_equal(got_, want);                                                   \
		free(got_);                                                                        \
	} while (0)

/* Rule file header: the rule under test starts on line 4, column 5. */
#define HEAD "version: 1\npack: t\nrules:\n"

static void assert_strv(const struct rulec_strv *v, size_t n, ...)
{
	va_list ap;
	va_start(ap, n);
	assert_int_equal(v->n, n);
	for (size_t i = 0; i < n; i++) {
		const char *want = va_arg(ap, const char *);
		if (want)
			assert_string_equal(v->v[i], want);
		else
			assert_null(v->v[i]);
		assert_non_null(v->pos[i].file);
		assert_true(v->pos[i].line > 0);
	}
	va_end(ap);
}

static void assert_pos(struct rulec_pos p, int line, int col)
{
	assert_string_equal(p.file, "full.yaml");
	assert_int_equal(p.line, line);
	assert_int_equal(p.col, col);
}

static void test_full_file_round_trips_into_ir(void **state)
{
	(void)state;
	size_t len;
	char *buf = read_data("full.yaml", &len);
	struct rulec_program p = {0};
	struct rulec_diags d = {0};
	assert_int_equal(rulec_parse_buffer("full.yaml", buf, len, &p, &d), 0);
	assert_int_equal(rulec_check_program(&p, &d), 0);
	assert_int_equal(d.n, 0);
	free(buf);

	assert_int_equal(p.nfiles, 1);
	assert_string_equal(p.files[0], "full.yaml");
	assert_int_equal(p.npacks, 1);
	assert_string_equal(p.packs[0].name, "baseline");
	assert_string_equal(p.packs[0].file, "full.yaml");
	assert_pos(p.packs[0].pos, 3, 7);
	assert_int_equal(p.packs[0].on_unparseable, RG_VERDICT_LOG);

	assert_int_equal(p.nrules, 3);
	const struct rulec_rule *r = &p.rules[0];
	assert_pos(r->pos, 6, 5);
	assert_string_equal(r->id, "baseline.no-drop");
	assert_string_equal(r->description, "No DROP in production");
	assert_strv(&r->match.protocols, 1, "postgres");
	assert_strv(&r->match.targets, 1, "prod-*");
	assert_pos(r->match.targets.pos[0], 10, 15);
	assert_strv(&r->match.subjects, 2, "ci-*", "deploy-bot");
	assert_pos(r->match.subjects.pos[1], 12, 27);
	assert_strv(&r->match.issuers, 1, "https://idp.example.com/*");
	assert_strv(&r->match.groups_any, 2, "dba", "ops");
	assert_strv(&r->match.groups_none, 1, "breakglass");
	uint64_t copy = RG_OP_BIT(RG_OP_COPY_TO_FILE) | RG_OP_BIT(RG_OP_COPY_FROM_FILE) |
			RG_OP_BIT(RG_OP_COPY_PROGRAM) | RG_OP_BIT(RG_OP_COPY_TO_STDOUT) |
			RG_OP_BIT(RG_OP_COPY_FROM_STDIN);
	assert_true(r->ops == (RG_OP_BIT(RG_OP_DROP) | copy));
	assert_int_equal(r->without_where, RULEC_UNSET);
	assert_strv(&r->tables, 3, "public.users", "audit.*", "orders");
	assert_int_equal(r->table_access, RG_ACCESS_WRITE);
	assert_strv(&r->functions, 2, "pg_sleep*", "pg_catalog.pg_read_file");
	assert_strv(&r->fingerprints, 1, "a0b1c2d3e4f50617"); /* lower-cased */
	assert_strv(&r->literals, 1, "pg_shadow");
	assert_strv(&r->regexes, 1, "\\bpassword\\s*=");
	assert_int_equal(r->action, RG_VERDICT_DENY);
	assert_string_equal(r->message, "DROP is not allowed");
	assert_string_equal(r->sqlstate, "P0001");
	assert_null(r->approval_group);
	assert_false(r->enforce);

	r = &p.rules[1];
	assert_string_equal(r->id, "baseline:wipe");
	assert_null(r->description);
	assert_int_equal(r->match.protocols.n + r->match.targets.n + r->match.subjects.n, 0);
	/* without_where alone: ops stays 0 (update/delete implied), see docs/rules.md */
	assert_true(r->ops == 0);
	assert_int_equal(r->without_where, RULEC_TRUE);
	assert_int_equal(r->tables.n + r->functions.n + r->literals.n + r->regexes.n, 0);
	assert_int_equal(r->table_access, 0);
	assert_int_equal(r->action, RG_VERDICT_HOLD);
	assert_null(r->message);
	assert_string_equal(r->sqlstate, "42501");
	assert_string_equal(r->approval_group, "dba");
	assert_int_equal(r->approval_ttl_s, 900);
	assert_int_equal(r->approval_scope, RG_APPROVAL_FINGERPRINT);
	assert_true(r->enforce);

	r = &p.rules[2];
	assert_string_equal(r->id, "baseline.all");
	assert_int_equal(r->action, RG_VERDICT_LOG);
	assert_true(r->ops == 0);
	assert_int_equal(r->approval_scope, RG_APPROVAL_ONCE);

	assert_int_equal(p.nmasks, 2);
	const struct rulec_mask *m = &p.masks[0];
	assert_pos(m->pos, 53, 5);
	assert_string_equal(m->id, "pii.cards");
	assert_string_equal(m->description, "card numbers");
	assert_strv(&m->match.targets, 1, "prod-*");
	assert_int_equal(m->detector, RG_DET_CREDIT_CARD);
	assert_int_equal(m->columns.n, 0);
	assert_int_equal(m->style, RG_MASK_PARTIAL);
	assert_int_equal(m->keep, 6);
	assert_null(m->static_text);
	m = &p.masks[1];
	assert_string_equal(m->id, "pii.ssn");
	assert_int_equal(m->detector, -1);
	assert_strv(&m->columns, 2, "public.customers.email", "*.*.ssn");
	assert_int_equal(m->style, RG_MASK_STATIC);
	assert_int_equal(m->keep, 0);
	assert_string_equal(m->static_text, "[hidden]");

	assert_int_equal(p.ntests, 6);
	const struct rulec_test *t = &p.tests[0];
	assert_pos(t->pos, 30, 9);
	assert_int_equal(t->kind, RULEC_TEST_SQL);
	assert_string_equal(t->owner, "baseline.no-drop");
	assert_string_equal(t->sql, "DROP TABLE t");
	assert_int_equal(t->expect, RG_VERDICT_DENY);
	assert_true(t->has_shadow);
	assert_int_equal(t->expect_shadow, RG_VERDICT_DENY);
	assert_string_equal(t->expect_rule, "baseline.no-drop"); /* owner by default */
	assert_string_equal(t->identity.subject, "ci-bot");
	assert_string_equal(t->identity.issuer, "https://issuer.test");
	assert_strv(&t->identity.groups, 1, "ci");
	assert_string_equal(t->target, "prod-db");
	assert_string_equal(t->protocol, "postgres");

	t = &p.tests[1]; /* expect allow: no rule checked; defaults filled in */
	assert_int_equal(t->expect, RG_VERDICT_ALLOW);
	assert_false(t->has_shadow);
	assert_null(t->expect_rule);
	assert_string_equal(t->identity.subject, "test-agent");
	assert_string_equal(t->identity.issuer, "https://issuer.test");
	assert_int_equal(t->identity.groups.n, 0);
	assert_string_equal(t->target, "test");
	assert_string_equal(t->protocol, "postgres");

	t = &p.tests[2];
	assert_string_equal(t->owner, "baseline:wipe");
	assert_int_equal(t->expect, RG_VERDICT_HOLD);
	assert_string_equal(t->expect_rule, "baseline.no-drop");
	assert_pos(t->expect_rule_pos, 49, 15);

	t = &p.tests[3];
	assert_int_equal(t->kind, RULEC_TEST_ROW);
	assert_string_equal(t->owner, "pii.cards");
	assert_strv(&t->row, 3, "4111 1111 1111 1111", "hello", NULL);
	assert_strv(&t->columns, 3, "public.t.card", NULL, NULL);
	assert_strv(&t->expect_row, 3, "**** **** **** 1111", "hello", NULL);
	assert_null(t->sql);
	assert_null(t->expect_rule);

	t = &p.tests[4];
	assert_null(t->owner);
	assert_int_equal(t->kind, RULEC_TEST_SQL);
	assert_string_equal(t->sql, "SELECT 'drop table x'");
	assert_int_equal(t->expect, RG_VERDICT_ALLOW);
	assert_null(t->expect_rule);

	t = &p.tests[5]; /* single strings become one-element lists */
	assert_int_equal(t->kind, RULEC_TEST_ROW);
	assert_strv(&t->row, 1, "x");
	assert_strv(&t->expect_row, 1, "x");
	assert_int_equal(t->columns.n, 0);

	rulec_diags_free(&d);
	rulec_program_free(&p);
}

static void test_rule_without_predicates_is_accepted(void **state)
{
	(void)state;
	EXPECT_DIAGS(HEAD "  - id: ops.allow\n"
			  "    match: {identity: {groups_any: ops}}\n"
			  "    sql: {}\n"
			  "    action: allow\n"
			  "  - id: all.log\n"
			  "    action: log\n",
		     "");
}

static void test_operation_aliases_expand(void **state)
{
	(void)state;
	const char *y = HEAD "  - id: a\n    sql: {operation: ddl}\n    action: deny\n"
			     "  - id: b\n    sql: {operation: [write, show]}\n    action: deny\n";
	struct rulec_program p = {0};
	struct rulec_diags d = {0};
	assert_int_equal(rulec_parse_buffer("t.yaml", y, strlen(y), &p, &d), 0);
	assert_int_equal(p.nrules, 2);
	uint64_t ddl = 0, write = 0;
	const int ddl_ops[] = {RG_OP_DROP,	     RG_OP_TRUNCATE,	 RG_OP_ALTER,
			       RG_OP_CREATE,	     RG_OP_CREATE_ROLE,	 RG_OP_ALTER_ROLE,
			       RG_OP_DROP_ROLE,	     RG_OP_ALTER_SYSTEM, RG_OP_CREATE_RULE,
			       RG_OP_CREATE_FUNCTION};
	const int write_ops[] = {RG_OP_INSERT,	       RG_OP_UPDATE,   RG_OP_DELETE,
				 RG_OP_MERGE,	       RG_OP_TRUNCATE, RG_OP_COPY_FROM_FILE,
				 RG_OP_COPY_FROM_STDIN};
	for (size_t i = 0; i < sizeof(ddl_ops) / sizeof(ddl_ops[0]); i++)
		ddl |= RG_OP_BIT(ddl_ops[i]);
	for (size_t i = 0; i < sizeof(write_ops) / sizeof(write_ops[0]); i++)
		write |= RG_OP_BIT(write_ops[i]);
	assert_true(p.rules[0].ops == ddl);
	assert_true(p.rules[1].ops == (write | RG_OP_BIT(RG_OP_SHOW)));
	rulec_diags_free(&d);
	rulec_program_free(&p);
}

/* The complete example of docs/rules.md must stay valid. */
static void test_docs_example_is_valid(void **state)
{
	(void)state;
	const char *src = getenv("RG_SRC");
	char path[4096];
	snprintf(path, sizeof(path), "%s/docs/rules.md", src ? src : ".");
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	char *doc = calloc(1, 1 << 20);
	assert_non_null(doc);
	size_t n = fread(doc, 1, (1 << 20) - 1, f);
	fclose(f);
	assert_true(n > 0);
	char *at = strstr(doc, "## A complete example");
	assert_non_null(at);
	char *b = strstr(at, "```yaml\n");
	assert_non_null(b);
	b += 8;
	char *e = strstr(b, "```");
	assert_non_null(e);
	char *got = diags_of(b, (size_t)(e - b));
	assert_string_equal(got, "");
	free(got);
	free(doc);
}

static void test_style_null_means_the_null_style(void **state)
{
	(void)state;
	const char *y = "version: 1\npack: t\nmasks:\n  - {id: a, columns: a.b.c, style: null}\n"
			"  - {id: b, columns: a.b.c, style: \"null\"}\n";
	struct rulec_program p = {0};
	struct rulec_diags d = {0};
	assert_int_equal(rulec_parse_buffer("t.yaml", y, strlen(y), &p, &d), 0);
	assert_int_equal(p.masks[0].style, RG_MASK_NULL);
	assert_int_equal(p.masks[1].style, RG_MASK_NULL);
	rulec_diags_free(&d);
	rulec_program_free(&p);
	EXPECT_DIAGS("version: 1\npack: t\nmasks:\n  - {id: a, columns: a.b.c, style: ~}\n",
		     "t.yaml:4:36: 'style' must be a string, got null\n");
}

/* Arrays grow by doubling past 8 entries: contents must survive every boundary. */
static void test_many_rules_and_list_entries_keep_their_contents(void **state)
{
	(void)state;
	char *y = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&y, &len);
	assert_non_null(f);
	fprintf(f, "version: 1\npack: t\nrules:\n");
	for (int i = 0; i < 1030; i++) {
		fprintf(f, "  - id: r%d\n    action: deny\n    sql:\n      tables: [", i);
		for (int k = 0; k < i % 20; k++)
			fprintf(f, "%st%d_%d", k ? ", " : "", i, k);
		fprintf(f, "%sx]\n", i % 20 ? ", " : "");
	}
	fclose(f);
	struct rulec_program p = {0};
	struct rulec_diags d = {0};
	assert_int_equal(rulec_parse_buffer("t.yaml", y, len, &p, &d), 0);
	assert_int_equal(p.nrules, 1030);
	for (int i = 0; i < 1030; i++) {
		char want[32];
		snprintf(want, sizeof(want), "r%d", i);
		assert_string_equal(p.rules[i].id, want);
		assert_int_equal(p.rules[i].tables.n, (size_t)(i % 20) + 1);
		for (int k = 0; k < i % 20; k++) {
			snprintf(want, sizeof(want), "t%d_%d", i, k);
			assert_string_equal(p.rules[i].tables.v[k], want);
		}
		assert_int_equal(p.rules[i].pos.line, 4 + 4 * i);
	}
	rulec_diags_free(&d);
	rulec_program_free(&p);
	free(y);
}

/* ---- schema errors ---- */

static void test_unknown_keys_name_the_valid_ones(void **state)
{
	(void)state;
	EXPECT_DIAGS("version: 1\npack: t\nrulez: []\n",
		     "t.yaml:3:1: unknown key 'rulez' in rule file; valid keys are: version, pack, "
		     "on_unparseable, rules, masks, limits, tests\n");
	EXPECT_DIAGS(HEAD "  - id: a\n    actoin: deny\n",
		     "t.yaml:4:5: rule is missing required key 'action'\n"
		     "t.yaml:5:5: unknown key 'actoin' in rule; valid keys are: id, description, "
		     "match, sql, text, action, message, sqlstate, approval, enforce, tests\n");
	EXPECT_DIAGS(HEAD "  - id: a\n    action: deny\n    match:\n      identity: {sub: x}\n",
		     "t.yaml:7:18: unknown key 'sub' in match.identity; valid keys are: subject, "
		     "issuer, groups_any, groups_none\n");
	EXPECT_DIAGS(HEAD "  - id: a\n    action: deny\n    sql: {op: drop}\n",
		     "t.yaml:6:11: unknown key 'op' in sql; valid keys are: operation, "
		     "without_where, tables, table_access, functions, fingerprints\n");
	EXPECT_DIAGS(
	    HEAD "  - id: a\n    action: deny\n    text: {regexp: x}\n",
	    "t.yaml:6:12: unknown key 'regexp' in text; valid keys are: literals, regex\n");
}

static void test_wrong_types_are_reported(void **state)
{
	(void)state;
	EXPECT_DIAGS(HEAD "  - id: a\n    action: deny\n    match: [x]\n"
			  "    sql: {tables: {a: b}}\n    enforce: yes\n    message: [m]\n",
		     "t.yaml:6:12: 'match' must be a mapping, got a list\n"
		     "t.yaml:7:19: 'tables' must be a string or a list, got a mapping\n"
		     "t.yaml:8:14: 'enforce' must be true or false, got 'yes'\n"
		     "t.yaml:9:14: 'message' must be a string, got a list\n");
	EXPECT_DIAGS(HEAD "  - id: a\n    action: deny\n    enforce: \"true\"\n    description:\n",
		     "t.yaml:6:14: 'enforce' must be true or false, got a quoted string\n"
		     "t.yaml:7:17: 'description' must be a string, got null\n");
	EXPECT_DIAGS("version: \"1\"\npack: t\nrules: {a: 1}\n",
		     "t.yaml:1:10: 'version' must be an integer, got '1'\n"
		     "t.yaml:3:8: 'rules' must be a list, got a mapping\n");
	EXPECT_DIAGS("- version: 1\n",
		     "t.yaml:1:1: a rule file must be a mapping with 'version', 'pack' and "
		     "'rules', got a list\n");
}

static void test_bad_enum_values_list_the_valid_ones(void **state)
{
	(void)state;
	EXPECT_DIAGS(
	    "version: 1\npack: t\non_unparseable: hold\nrules:\n"
	    "  - id: a\n    action: block\n    sql: {table_access: rw, tables: x}\n",
	    "t.yaml:3:17: invalid on_unparseable 'hold'; valid values are: deny, allow, "
	    "log\n"
	    "t.yaml:6:13: invalid action 'block'; valid values are: deny, "
	    "require_approval, log, allow\n"
	    "t.yaml:7:25: invalid table_access 'rw'; valid values are: read, write, any\n");
	EXPECT_DIAGS(HEAD "  - id: a\n    action: deny\n    match: {protocol: [postgres, pg]}\n",
		     "t.yaml:6:34: unknown protocol 'pg'; valid values are: postgres, mysql, ssh, "
		     "k8s, http\n");
	EXPECT_DIAGS(
	    HEAD "  - id: a\n    action: deny\n    sql: {operation: [dorp]}\n",
	    "t.yaml:6:23: unknown operation 'dorp'; valid operations are: select, insert, "
	    "update, delete, merge, drop, truncate, alter, create, grant, revoke, "
	    "create_role, alter_role, drop_role, alter_system, copy_to_file, "
	    "copy_from_file, copy_program, copy_to_stdout, copy_from_stdin, do, call, set, "
	    "prepare, execute, deallocate, explain, create_rule, create_function, "
	    "transaction, lock, vacuum, listen, notify, show, other, set_lexing, kill, flush, "
	    "install_plugin, use, unknown, and the aliases ddl, copy, write\n");
}

static void test_sql_mode_only_in_mysql_statement_tests(void **state)
{
	(void)state;
	EXPECT_DIAGS(HEAD "  - id: a\n    action: deny\n    sql: {operation: drop}\n"
			  "    tests:\n"
			  "      - {sql: \"SELECT 1\", expect: allow, sql_mode: ANSI_QUOTES}\n"
			  "      - {sql: \"SELECT 1\", expect: allow, protocol: mysql, "
			  "sql_mode: \"ANSI,ORACLE\"}\n"
			  "      - {sql: \"SELECT 1\", expect: allow, protocol: mysql, "
			  "sql_mode: \"ANSI_QUOTES,NO_BACKSLASH_ESCAPES\"}\n",
		     "t.yaml:8:52: 'sql_mode' is only valid in statement tests ('sql') with "
		     "protocol mysql\n"
		     "t.yaml:9:69: sql_mode 'ANSI,ORACLE' is not supported: ORACLE and MSSQL "
		     "change the grammar the MySQL classifier reads\n");
}

static void test_bad_globs_are_reported(void **state)
{
	(void)state;
	EXPECT_DIAGS(HEAD "  - id: a\n    action: deny\n"
			  "    match: {target: \"prod-[ab\", identity: {subject: \"x]\"}}\n"
			  "    sql:\n      tables: [\"a.b.c\", \".t\", \"s.[]\", \"[z-a]\", ok]\n"
			  "      functions: \"f\\\\\"\n",
		     "t.yaml:6:21: invalid pattern 'prod-[ab' in 'target': unbalanced '['\n"
		     "t.yaml:6:53: invalid pattern 'x]' in 'subject': unbalanced ']'\n"
		     "t.yaml:8:16: invalid pattern 'a.b.c' in 'tables': expected 'table' or "
		     "'schema.table'\n"
		     "t.yaml:8:25: invalid pattern '.t' in 'tables': empty name part\n"
		     "t.yaml:8:31: invalid pattern 's.[]' in 'tables': empty character set '[]'\n"
		     "t.yaml:8:39: invalid pattern '[z-a]' in 'tables': reversed range in "
		     "character set\n"
		     "t.yaml:9:18: invalid pattern 'f\\' in 'functions': trailing '\\'\n");
	EXPECT_DIAGS(HEAD "  - id: a\n    action: deny\n"
			  "    match: {target: [\"..x.\", \"a\\\\.b\"]}\n"
			  "    sql: {tables: [\"s.[a.b]\", \"s.my?table\"]}\n",
		     "t.yaml:7:20: invalid pattern 's.[a.b]' in 'tables': unbalanced '['\n");
	EXPECT_DIAGS("version: 1\npack: t\nmasks:\n  - id: m\n    columns: [\"a.b\", \"a.b.c.d\"]\n"
		     "    style: redact\n",
		     "t.yaml:5:15: invalid pattern 'a.b' in 'columns': expected "
		     "'schema.table.column'\n"
		     "t.yaml:5:22: invalid pattern 'a.b.c.d' in 'columns': expected "
		     "'schema.table.column'\n");
}

static void test_bad_regex_reports_hyperscan_message_at_the_regex(void **state)
{
	(void)state;
	EXPECT_DIAGS(HEAD "  - id: a\n    action: deny\n    text:\n"
			  "      regex:\n        - 'ok\\s+'\n        - '(unclosed'\n",
		     "t.yaml:9:11: invalid regex '(unclosed': Missing close parenthesis for group "
		     "started at index 0.\n");
}

static void test_sql_predicate_rules(void **state)
{
	(void)state;
	EXPECT_DIAGS(
	    HEAD "  - id: a\n    action: deny\n"
		 "    sql: {operation: [update, select], without_where: true}\n"
		 "  - id: b\n    action: deny\n    sql: {table_access: read}\n"
		 "  - id: c\n    action: deny\n"
		 "    sql: {fingerprints: [a0b1c2d3e4f5061, a0b1c2d3e4f5061g]}\n",
	    "t.yaml:6:55: 'without_where' needs 'operation' to be update and/or delete (or "
	    "absent)\n"
	    "t.yaml:9:25: 'table_access' is only valid together with 'tables'\n"
	    "t.yaml:12:26: invalid fingerprint 'a0b1c2d3e4f5061' in 'fingerprints': "
	    "expected 16 hex digits\n"
	    "t.yaml:12:43: invalid fingerprint 'a0b1c2d3e4f5061g' in 'fingerprints': "
	    "expected 16 hex digits\n");
}

static void test_action_sqlstate_and_approval_rules(void **state)
{
	(void)state;
	EXPECT_DIAGS(HEAD "  - id: a\n    action: require_approval\n"
			  "  - id: b\n    action: deny\n    approval: {group: g, ttl: 1m}\n"
			  "  - id: c\n    action: require_approval\n    approval: {scope: never}\n"
			  "  - id: d\n    action: require_approval\n"
			  "    approval: {group: g, ttl: 25h}\n"
			  "  - id: e\n    action: require_approval\n"
			  "    approval: {group: g, ttl: 10}\n    sqlstate: 4250x\n",
		     "t.yaml:4:5: rule is missing required key 'approval' (action is "
		     "require_approval)\n"
		     "t.yaml:8:15: 'approval' is only valid when action is require_approval\n"
		     "t.yaml:11:15: approval is missing required key 'group'\n"
		     "t.yaml:11:15: approval is missing required key 'ttl'\n"
		     "t.yaml:11:23: invalid scope 'never'; valid values are: once, fingerprint\n"
		     "t.yaml:14:31: invalid ttl '25h': must be between 1s and 24h\n"
		     "t.yaml:17:31: invalid ttl '10': expected an integer followed by s, m or h\n"
		     "t.yaml:18:15: invalid sqlstate '4250x': expected 5 characters from 0-9 and "
		     "A-Z\n");
	/* bounds are inclusive */
	EXPECT_DIAGS(HEAD "  - id: a\n    action: require_approval\n"
			  "    approval: {group: g, ttl: 24h}\n"
			  "  - id: b\n    action: require_approval\n"
			  "    approval: {group: g, ttl: 1s}\n"
			  "  - id: c\n    action: require_approval\n"
			  "    approval: {group: g, ttl: 0s}\n",
		     "t.yaml:12:31: invalid ttl '0s': must be between 1s and 24h\n");
}

static void test_missing_required_keys(void **state)
{
	(void)state;
	EXPECT_DIAGS("rules:\n  - description: x\n",
		     "t.yaml:1:1: rule file is missing required key 'version'\n"
		     "t.yaml:1:1: rule file is missing required key 'pack'\n"
		     "t.yaml:2:5: rule is missing required key 'id'\n"
		     "t.yaml:2:5: rule is missing required key 'action'\n");
	EXPECT_DIAGS("version: 1\npack: t\nmasks:\n  - id: m\n  - id: n\n    detector: email\n"
		     "    style: static\n",
		     "t.yaml:4:5: mask is missing required key 'detector' or 'columns'\n"
		     "t.yaml:4:5: mask is missing required key 'style'\n"
		     "t.yaml:5:5: mask is missing required key 'text' (style is static)\n");
}

static void test_empty_lists_are_errors(void **state)
{
	(void)state;
	EXPECT_DIAGS("version: 1\npack: t\nrules: []\nmasks:\n  - id: m\n    columns: []\n"
		     "    style: redact\n    tests: []\n",
		     "t.yaml:3:8: 'rules' must not be an empty list\n"
		     "t.yaml:6:14: 'columns' must not be an empty list\n"
		     "t.yaml:8:12: 'tests' must not be an empty list\n");
	EXPECT_DIAGS(HEAD "  - id: a\n    action: deny\n    match: {target: [], identity: "
			  "{groups_any: []}}\n    text: {literals: [\"\"]}\n",
		     "t.yaml:6:21: 'target' must not be an empty list\n"
		     "t.yaml:6:48: 'groups_any' must not be an empty list\n"
		     "t.yaml:7:23: 'literals' must not be an empty string\n");
}

static void test_ids_and_pack_names_are_checked(void **state)
{
	(void)state;
	EXPECT_DIAGS("version: 1\npack: Base\nrules:\n  - id: a b\n    action: deny\n",
		     "t.yaml:2:7: invalid pack name 'Base': use a-z, 0-9 and _ . -\n"
		     "t.yaml:4:9: invalid id 'a b': use letters, digits and _ . : -\n");
	EXPECT_DIAGS("version: 2\npack: t\n",
		     "t.yaml:1:10: unsupported version 2: this rulec reads version 1\n");
}

static void test_mask_rules(void **state)
{
	(void)state;
	EXPECT_DIAGS(
	    "version: 1\npack: t\nmasks:\n"
	    "  - id: a\n    detector: visa\n    style: partial\n    keep: 33\n"
	    "  - id: b\n    detector: email\n    columns: a.b.c\n    style: redact\n"
	    "    keep: 2\n    text: x\n"
	    "  - id: c\n    detector: iban\n    style: blur\n",
	    "t.yaml:5:15: unknown detector 'visa'; valid detectors are: credit_card, iban, "
	    "us_ssn, aba_routing, email, phone_e164, jwt, aws_access_key, private_key, "
	    "ipv4, ipv6\n"
	    "t.yaml:7:11: 'keep' must be between 1 and 32, got 33\n"
	    "t.yaml:10:14: a mask has either 'detector' or 'columns', not both\n"
	    "t.yaml:12:11: 'keep' is only valid with style partial\n"
	    "t.yaml:13:11: 'text' is only valid with style static\n"
	    "t.yaml:16:12: invalid style 'blur'; valid values are: redact, partial, hmac, "
	    "null, static\n");
}

static void test_test_blocks(void **state)
{
	(void)state;
	EXPECT_DIAGS(HEAD "  - id: a\n    action: deny\n    tests:\n"
			  "      - sql: x\n"
			  "      - row: [a]\n        expect: [a]\n"
			  "      - sql: x\n        expect: maybe\n        columns: [a.b.c]\n"
			  "      - {sql: x, expect: deny, identity: {subject: s, group: g}}\n"
			  "tests:\n"
			  "  - {sql: y, row: [a], expect: allow}\n"
			  "  - {row: [a, b], columns: [s.t.c], expect: [a]}\n"
			  "  - {}\n"
			  "  - {row: [a], expect: [a], shadow: deny, rule: a}\n"
			  "  - {sql: x, expect: deny, protocol: oracle}\n"
			  "masks:\n  - id: m\n    detector: email\n    style: redact\n"
			  "    tests: [{sql: x, expect: allow}]\n",
		     "t.yaml:7:9: test is missing required key 'expect'\n"
		     "t.yaml:8:14: masking tests ('row') belong under a mask or at file level, not "
		     "under a rule\n"
		     "t.yaml:11:17: invalid expect 'maybe'; valid values are: allow, log, hold, "
		     "deny\n"
		     "t.yaml:12:18: 'columns' is only valid in masking tests ('row')\n"
		     "t.yaml:13:55: unknown key 'group' in test identity; valid keys are: subject, "
		     "issuer, groups\n"
		     "t.yaml:15:19: a test has only one of 'sql' (statement test), 'row' (masking "
		     "test) and 'session' (limits test)\n"
		     "t.yaml:16:28: 'columns' must have one entry per field of 'row' (1, not 2)\n"
		     "t.yaml:16:45: 'expect' must have one entry per field of 'row' (1, not 2)\n"
		     "t.yaml:17:5: test is missing required key 'sql' (statement test), 'row' "
		     "(masking test) or 'session' (limits test)\n"
		     "t.yaml:18:37: 'shadow' is only valid in statement tests ('sql')\n"
		     "t.yaml:18:49: 'rule' is only valid in statement tests ('sql')\n"
		     "t.yaml:19:38: unknown protocol 'oracle'; valid values are: postgres, mysql, "
		     "ssh, k8s, http\n"
		     "t.yaml:24:19: statement tests ('sql') belong under a rule or at file level, "
		     "not under a mask\n");
}

/* ---- limits ---- */

static void test_limits_land_in_ir(void **state)
{
	(void)state;
	const char *yaml = "version: 1\npack: t\nlimits:\n"
			   "  - id: l.agents\n"
			   "    description: agents on prod\n"
			   "    match: {target: \"prod-*\", identity: {groups_any: [agents]}}\n"
			   "    max_session_duration: 8h\n"
			   "    idle_timeout: 15m\n"
			   "    max_statements: 10000\n"
			   "    max_rows: 1000000000000000\n"
			   "    max_bytes: 10MiB\n"
			   "    max_denials: 0\n"
			   "  - id: l.bytes\n    max_bytes: 2GB\n"
			   "  - id: l.plain\n    max_bytes: 4096\n    idle_timeout: 90s\n"
			   "  - id: l.kb\n    max_bytes: \"1kB\"\n    max_session_duration: 720h\n"
			   "  - id: l.tib\n    max_bytes: 1TiB\n";
	struct rulec_program p = {0};
	struct rulec_diags d = {0};
	assert_int_equal(rulec_parse_buffer("t.yaml", yaml, strlen(yaml), &p, &d), 0);
	assert_int_equal(rulec_check_program(&p, &d), 0);
	assert_int_equal(p.nlimits, 5);
	const struct rulec_limit *l = &p.limits[0];
	assert_string_equal(l->id, "l.agents");
	assert_string_equal(l->description, "agents on prod");
	assert_int_equal(l->pos.line, 4);
	assert_int_equal(l->pos.col, 5);
	assert_strv(&l->match.targets, 1, "prod-*");
	assert_strv(&l->match.groups_any, 1, "agents");
	assert_int_equal(l->set, (1u << RG_LIMIT__COUNT) - 1);
	assert_int_equal(l->value[RG_LIMIT_SESSION_DURATION], 8 * 3600);
	assert_int_equal(l->value[RG_LIMIT_IDLE_TIMEOUT], 15 * 60);
	assert_int_equal(l->value[RG_LIMIT_STATEMENTS], 10000);
	assert_true(l->value[RG_LIMIT_ROWS] == UINT64_C(1000000000000000));
	assert_int_equal(l->value[RG_LIMIT_BYTES], 10 * 1024 * 1024);
	assert_int_equal(l->value[RG_LIMIT_DENIALS], 0);
	assert_int_equal(p.limits[1].set, 1u << RG_LIMIT_BYTES);
	assert_true(p.limits[1].value[RG_LIMIT_BYTES] == UINT64_C(2000000000));
	assert_int_equal(p.limits[1].match.targets.n, 0);
	assert_int_equal(p.limits[2].value[RG_LIMIT_BYTES], 4096);
	assert_int_equal(p.limits[2].value[RG_LIMIT_IDLE_TIMEOUT], 90);
	assert_int_equal(p.limits[3].value[RG_LIMIT_BYTES], 1000);
	assert_int_equal(p.limits[3].value[RG_LIMIT_SESSION_DURATION], 720 * 3600);
	assert_true(p.limits[4].value[RG_LIMIT_BYTES] == UINT64_C(1) << 40);
	rulec_diags_free(&d);
	rulec_program_free(&p);
}

static void test_limit_errors(void **state)
{
	(void)state;
	/* schema: unknown key, no value, missing id, bad match, wrong types */
	EXPECT_DIAGS("version: 1\npack: t\nlimits:\n"
		     "  - id: a\n    max_row: 5\n"
		     "  - max_rows: 5\n    match: {target: \"x[\"}\n"
		     "  - id: c\n    max_rows: [5]\n    idle_timeout: {a: 1}\n"
		     "  - id: d\n    max_rows:\n    description: [x]\n",
		     "t.yaml:4:5: limit needs at least one of max_session_duration, idle_timeout, "
		     "max_statements, max_rows, max_bytes, max_denials\n"
		     "t.yaml:5:5: unknown key 'max_row' in limit; valid keys are: id, "
		     "description, match, max_session_duration, idle_timeout, max_statements, "
		     "max_rows, max_bytes, max_denials, tests\n"
		     "t.yaml:6:5: limit is missing required key 'id'\n"
		     "t.yaml:7:21: invalid pattern 'x[' in 'target': unbalanced '['\n"
		     "t.yaml:9:15: 'max_rows' must be an integer, got a list\n"
		     "t.yaml:10:19: 'idle_timeout' must be a string, got a mapping\n"
		     "t.yaml:12:14: 'max_rows' must be an integer, got null\n"
		     "t.yaml:13:18: 'description' must be a string, got a list\n");
	/* durations */
	EXPECT_DIAGS(
	    "version: 1\npack: t\nlimits:\n"
	    "  - id: a\n    idle_timeout: 60\n    max_session_duration: 1d\n"
	    "  - id: b\n    idle_timeout: 0s\n    max_session_duration: 721h\n"
	    "  - id: c\n    idle_timeout: 15 m\n    max_session_duration: 99999999999999999999h\n",
	    "t.yaml:5:19: invalid idle_timeout '60': expected an integer followed by s, m "
	    "or h\n"
	    "t.yaml:6:27: invalid max_session_duration '1d': expected an integer followed "
	    "by s, m or h\n"
	    "t.yaml:8:19: invalid idle_timeout '0s': must be between 1s and 720h\n"
	    "t.yaml:9:27: invalid max_session_duration '721h': must be between 1s and "
	    "720h\n"
	    "t.yaml:11:19: invalid idle_timeout '15 m': expected an integer followed by s, "
	    "m or h\n"
	    "t.yaml:12:27: invalid max_session_duration '99999999999999999999h': must be "
	    "between 1s and 720h\n");
	/* bytes and counts */
	EXPECT_DIAGS("version: 1\npack: t\nlimits:\n"
		     "  - id: a\n    max_bytes: 10mb\n    max_rows: -1\n"
		     "  - id: b\n    max_bytes: 1001TB\n    max_statements: \"5\"\n"
		     "  - id: c\n    max_bytes: MiB\n    max_denials: 1000000000000001\n"
		     "  - id: d\n    max_bytes: 10 MB\n    max_denials: 1e3\n",
		     "t.yaml:5:16: invalid max_bytes '10mb': expected an integer, optionally "
		     "followed by B, kB, MB, GB, TB, KiB, MiB, GiB or TiB\n"
		     "t.yaml:6:15: 'max_rows' must be an integer, got '-1'\n"
		     "t.yaml:8:16: invalid max_bytes '1001TB': must be at most 1000TB\n"
		     "t.yaml:9:21: 'max_statements' must be an integer, got '5'\n"
		     "t.yaml:11:16: invalid max_bytes 'MiB': expected an integer, optionally "
		     "followed by B, kB, MB, GB, TB, KiB, MiB, GiB or TiB\n"
		     "t.yaml:12:18: 'max_denials' must be at most 1000000000000000, got "
		     "1000000000000001\n"
		     "t.yaml:14:16: invalid max_bytes '10 MB': expected an integer, optionally "
		     "followed by B, kB, MB, GB, TB, KiB, MiB, GiB or TiB\n"
		     "t.yaml:15:18: 'max_denials' must be an integer, got '1e3'\n");
	/* lists, ids and the shared namespace */
	EXPECT_DIAGS("version: 1\npack: t\nlimits: []\n",
		     "t.yaml:3:9: 'limits' must not be an empty list\n");
	EXPECT_DIAGS("version: 1\npack: t\nlimits: {id: a}\n",
		     "t.yaml:3:9: 'limits' must be a list, got a mapping\n");
	EXPECT_DIAGS(HEAD "  - id: a\n    action: deny\n    tests:\n"
			  "      - {sql: x, expect: deny, rule: l}\n"
			  "limits:\n  - id: a\n    max_rows: 1\n  - id: \"b c\"\n    max_rows: 1\n"
			  "  - id: l\n    max_rows: 1\n",
		     "t.yaml:11:9: invalid id 'b c': use letters, digits and _ . : -\n"
		     "t.yaml:7:38: test names 'l', which is a limit, not a rule\n"
		     "t.yaml:9:5: duplicate id 'a' (first defined at t.yaml:4:5)\n");
}

static void test_session_tests(void **state)
{
	(void)state;
	const char *yaml = "version: 1\npack: t\nlimits:\n"
			   "  - id: l\n    max_rows: 10\n    tests:\n"
			   "      - session: {subject: ci-1, groups: [ci, dev], target: prod-db}\n"
			   "        expect: {max_rows: 10, idle_timeout: none, max_bytes: 2KiB}\n"
			   "tests:\n"
			   "  - session: {}\n    expect: {max_session_duration: 1h}\n";
	struct rulec_program p = {0};
	struct rulec_diags d = {0};
	assert_int_equal(rulec_parse_buffer("t.yaml", yaml, strlen(yaml), &p, &d), 0);
	assert_int_equal(p.ntests, 2);
	const struct rulec_test *t = &p.tests[0];
	assert_int_equal(t->kind, RULEC_TEST_SESSION);
	assert_string_equal(t->owner, "l");
	assert_string_equal(t->identity.subject, "ci-1");
	assert_string_equal(t->identity.issuer, "https://issuer.test");
	assert_strv(&t->identity.groups, 2, "ci", "dev");
	assert_string_equal(t->target, "prod-db");
	assert_string_equal(t->protocol, "postgres");
	assert_int_equal(t->limits_checked, (1u << RG_LIMIT_ROWS) | (1u << RG_LIMIT_IDLE_TIMEOUT) |
						(1u << RG_LIMIT_BYTES));
	assert_int_equal(t->limits_none, 1u << RG_LIMIT_IDLE_TIMEOUT);
	assert_int_equal(t->limits[RG_LIMIT_ROWS], 10);
	assert_int_equal(t->limits[RG_LIMIT_BYTES], 2048);
	assert_null(t->expect_rule);
	t = &p.tests[1];
	assert_null(t->owner);
	assert_string_equal(t->identity.subject, "test-agent");
	assert_string_equal(t->target, "test");
	assert_int_equal(t->limits_checked, 1u << RG_LIMIT_SESSION_DURATION);
	assert_int_equal(t->limits[RG_LIMIT_SESSION_DURATION], 3600);
	rulec_diags_free(&d);
	rulec_program_free(&p);

	EXPECT_DIAGS(
	    HEAD "  - id: a\n    action: deny\n"
		 "    tests: [{session: {}, expect: {max_rows: 1}}]\n"
		 "limits:\n  - id: l\n    max_rows: 1\n    tests:\n"
		 "      - {sql: x, expect: deny}\n"
		 "      - {row: [a], expect: [a]}\n"
		 "      - session: {sub: x, protocol: oracle}\n"
		 "        identity: {subject: x}\n        target: t\n"
		 "        rule: l\n        shadow: deny\n        columns: [a.b.c]\n"
		 "        expect: {max_row: 1, max_bytes: 1mb, idle_timeout: ~}\n"
		 "      - {session: {}, expect: {}}\n"
		 "      - {session: {}, expect: none}\n"
		 "      - {session: []}\n"
		 "      - {session: {}, sql: x, expect: {max_rows: 1}}\n",
	    "t.yaml:6:23: limits tests ('session') belong under a limit or at file level, "
	    "not under a rule\n"
	    "t.yaml:11:15: statement tests ('sql') belong under a rule or at file level, "
	    "not under a limit\n"
	    "t.yaml:12:15: masking tests ('row') belong under a mask or at file level, not "
	    "under a limit\n"
	    "t.yaml:13:19: unknown key 'sub' in session; valid keys are: subject, issuer, "
	    "groups, target, protocol\n"
	    "t.yaml:13:37: unknown protocol 'oracle'; valid values are: postgres, mysql, "
	    "ssh, k8s, http\n"
	    "t.yaml:14:19: 'identity' is not valid in limits tests ('session'); put "
	    "subject, issuer, groups, target and protocol in 'session'\n"
	    "t.yaml:15:17: 'target' is not valid in limits tests ('session'); put subject, "
	    "issuer, groups, target and protocol in 'session'\n"
	    "t.yaml:16:15: 'rule' is only valid in statement tests ('sql')\n"
	    "t.yaml:17:17: 'shadow' is only valid in statement tests ('sql')\n"
	    "t.yaml:18:18: 'columns' is only valid in masking tests ('row')\n"
	    "t.yaml:19:18: unknown key 'max_row' in expect; valid keys are: "
	    "max_session_duration, idle_timeout, max_statements, max_rows, max_bytes, "
	    "max_denials\n"
	    "t.yaml:19:41: invalid max_bytes '1mb': expected an integer, optionally "
	    "followed by B, kB, MB, GB, TB, KiB, MiB, GiB or TiB\n"
	    "t.yaml:19:60: 'idle_timeout' must be a string, got null\n"
	    "t.yaml:20:31: 'expect' must name at least one limit (max_session_duration, "
	    "idle_timeout, max_statements, max_rows, max_bytes, max_denials)\n"
	    "t.yaml:21:31: 'expect' must be a mapping, got a scalar\n"
	    "t.yaml:22:9: test is missing required key 'expect'\n"
	    "t.yaml:22:19: 'session' must be a mapping, got a list\n"
	    "t.yaml:23:19: a test has only one of 'sql' (statement test), 'row' (masking "
	    "test) and 'session' (limits test)\n"
	    "t.yaml:23:28: statement tests ('sql') belong under a rule or at file level, "
	    "not under a limit\n"
	    "t.yaml:23:39: 'expect' must be a string, got a mapping\n");
}

/* ---- YAML-level errors ---- */

static void test_yaml_syntax_error_names_libyaml_problem_and_mark(void **state)
{
	(void)state;
	EXPECT_DIAGS("version: 1\n  pack: t\n",
		     "t.yaml:2:7: YAML syntax error: mapping values are not allowed in this "
		     "context\n");
	EXPECT_DIAGS("version: 1\npack: t\nrules: [\n",
		     "t.yaml:4:1: YAML syntax error: did not find expected node content (while "
		     "parsing a flow node that starts at 4:1)\n");
	EXPECT_DIAGS("version: 1\npack: \"t\x01\"\n",
		     "t.yaml:2:9: YAML syntax error: control characters are not allowed\n");
}

static void test_non_utf8_is_rejected_with_position(void **state)
{
	(void)state;
	size_t len;
	char *buf = read_data("latin1.yaml", &len);
	char *got = diags_of(buf, len);
	assert_string_equal(got, "t.yaml:6:22: file is not valid UTF-8\n");
	free(got);
	free(buf);
	/* overlong encoding of '/' and a lone surrogate */
	EXPECT_DIAGS("version: 1\n\xc0\xaf", "t.yaml:2:1: file is not valid UTF-8\n");
	EXPECT_DIAGS("a: \xed\xa0\x80", "t.yaml:1:4: file is not valid UTF-8\n");
}

static void test_duplicate_mapping_keys(void **state)
{
	(void)state;
	EXPECT_DIAGS(HEAD "  - id: a\n    action: deny\n    id: b\n"
			  "pack: u\n",
		     "t.yaml:6:5: duplicate key 'id' (first at 4:5)\n"
		     "t.yaml:7:1: duplicate key 'pack' (first at 2:1)\n");
}

static void test_aliases_tags_and_complex_keys_are_rejected(void **state)
{
	(void)state;
	EXPECT_DIAGS(HEAD "  - &r {id: a, action: deny}\n  - *r\n"
			  "  - !!map {id: b, action: deny}\n  - {id: c, action: deny, [x]: 1}\n",
		     "t.yaml:5:5: YAML aliases are not supported; repeat the value instead\n"
		     "t.yaml:6:5: YAML tags (tag:yaml.org,2002:map) are not supported\n"
		     "t.yaml:7:27: mapping keys must be strings\n");
}

static void test_multiple_documents_are_an_error(void **state)
{
	(void)state;
	EXPECT_DIAGS("version: 1\npack: t\n---\nversion: 1\npack: u\n",
		     "t.yaml:3:1: a rule file holds one YAML document; put each pack in its own "
		     "file\n");
}

static void test_empty_file_and_nesting_limit(void **state)
{
	(void)state;
	EXPECT_DIAGS("", "t.yaml:1:1: empty rule file: expected 'version', 'pack' and 'rules'\n");
	EXPECT_DIAGS("# nothing\n",
		     "t.yaml:1:1: empty rule file: expected 'version', 'pack' and 'rules'\n");
	char deep[200];
	memset(deep, '[', 100);
	memset(deep + 100, ']', 100);
	char *got = diags_of(deep, sizeof(deep));
	assert_string_equal(got, "t.yaml:1:65: YAML nested deeper than 64 levels\n");
	free(got);
}

static void test_all_errors_of_a_file_are_reported_in_order(void **state)
{
	(void)state;
	size_t len;
	char *buf = read_data("many_errors.yaml", &len);
	struct rulec_program p = {0};
	struct rulec_diags d = {0};
	assert_int_equal(rulec_parse_buffer("many_errors.yaml", buf, len, &p, &d), -1);
	assert_int_equal(d.n, 6);
	for (size_t i = 1; i < d.n; i++)
		assert_true(d.v[i - 1].pos.line <= d.v[i].pos.line);
	/* the good rule after the bad ones still made it into the program */
	assert_int_equal(p.nrules, 4);
	assert_string_equal(p.rules[3].id, "good");
	rulec_diags_free(&d);
	rulec_program_free(&p);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full_file_round_trips_into_ir),
	    cmocka_unit_test(test_rule_without_predicates_is_accepted),
	    cmocka_unit_test(test_operation_aliases_expand),
	    cmocka_unit_test(test_docs_example_is_valid),
	    cmocka_unit_test(test_style_null_means_the_null_style),
	    cmocka_unit_test(test_many_rules_and_list_entries_keep_their_contents),
	    cmocka_unit_test(test_unknown_keys_name_the_valid_ones),
	    cmocka_unit_test(test_wrong_types_are_reported),
	    cmocka_unit_test(test_bad_enum_values_list_the_valid_ones),
	    cmocka_unit_test(test_sql_mode_only_in_mysql_statement_tests),
	    cmocka_unit_test(test_bad_globs_are_reported),
	    cmocka_unit_test(test_bad_regex_reports_hyperscan_message_at_the_regex),
	    cmocka_unit_test(test_sql_predicate_rules),
	    cmocka_unit_test(test_action_sqlstate_and_approval_rules),
	    cmocka_unit_test(test_missing_required_keys),
	    cmocka_unit_test(test_empty_lists_are_errors),
	    cmocka_unit_test(test_ids_and_pack_names_are_checked),
	    cmocka_unit_test(test_mask_rules),
	    cmocka_unit_test(test_test_blocks),
	    cmocka_unit_test(test_limits_land_in_ir),
	    cmocka_unit_test(test_limit_errors),
	    cmocka_unit_test(test_session_tests),
	    cmocka_unit_test(test_yaml_syntax_error_names_libyaml_problem_and_mark),
	    cmocka_unit_test(test_non_utf8_is_rejected_with_position),
	    cmocka_unit_test(test_duplicate_mapping_keys),
	    cmocka_unit_test(test_aliases_tags_and_complex_keys_are_rejected),
	    cmocka_unit_test(test_multiple_documents_are_an_error),
	    cmocka_unit_test(test_empty_file_and_nesting_limit),
	    cmocka_unit_test(test_all_errors_of_a_file_are_reported_in_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
