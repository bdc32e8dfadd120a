/*
 * Unit tests for engine/proto/pg/rows.c with the shipped PII pack (rules/pii/pii.yaml)
 * compiled into a bundle here: cards, SSNs and e-mails masked in text and binary columns,
 * NULLs kept, rows without matches reported unchanged, jsonb kept valid (version byte,
 * JSON null when masking broke the JSON), other types set to NULL when a mask touched
 * them, column rules through a session's own plan, ErrorResponse details, COPY lines, and
 * the JSON validator.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pg-int.h"
#include "policy.h"
#include "rulec.h"

#define KEY "ringgate-test-key" /* the key the pack's own row tests use */
#define H_ALICE "h:448c4819359ddb4d" /* alice@example.com under KEY */

static struct rg_policy *compile(const char *path, const char *yaml)
{
	struct rulec_program prog;
	struct rulec_diags d = {0};
	struct rulec_buf b = {0};
	struct rg_policy *p = NULL;
	char err[256] = "";
	int rc;

	memset(&prog, 0, sizeof(prog));
	if (path)
		rc = rulec_parse_paths(&path, 1, &prog, &d);
	else
		rc = rulec_parse_buffer("t.yaml", yaml, strlen(yaml), &prog, &d);
	if (!rc)
		rc = rulec_check_program(&prog, &d);
	if (d.n)
		rulec_diags_print(&d, stderr);
	assert_int_equal(rc, 0);
	assert_int_equal(rulec_compile(&prog, &b, &d), 0);
	rulec_diags_free(&d);
	rulec_program_free(&prog);
	assert_int_equal(rg_policy_load_mem(b.p, b.n, NULL, &p, err, sizeof(err)), 0);
	rulec_buf_free(&b);
	return p;
}

struct fx {
	struct rg_policy *p;
	struct rg_policy_ctx *c;
	struct rg_policy_plan *pl;
	const struct rg_mask_plan *plan;
	struct rg_pg_rowmask rm;
	struct rg_acc out;
	uint8_t in[4096];
	struct rg_pg_msg msg;
	struct rg_pg_field f[16];
	uint16_t nf;
};

static const struct rg_identity ID = {.subject = "agent"};
static const struct rg_request REQ = { .protocol = "postgres", .target = "db", .identity = &ID };

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	char path[1024];
	const char *src = getenv("RG_SRC");

	snprintf(path, sizeof(path), "%s/rules/pii/pii.yaml", src ? src : ".");
	x->p = compile(path, NULL);
	x->c = rg_policy_ctx_new(x->p, (const uint8_t *)KEY, strlen(KEY));
	x->pl = rg_policy_mask_plan_new();
	assert_non_null(x->c);
	assert_int_equal(rg_policy_mask_plan_build(x->c, &REQ, NULL, 16, x->pl, &x->plan), 0);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;
	rg_acc_free(&x->out);
	rg_pg_rowmask_free(&x->rm);
	rg_policy_mask_plan_free(x->pl);
	rg_policy_ctx_free(x->c);
	rg_policy_free(x->p);
	free(x);
	return 0;
}

/* A DataRow of n fields: texts, NULL for a NULL pointer; lens[i] if given, else strlen. */
static void row(struct fx *x, size_t n, const char *const *v, const size_t *lens)
{
	struct rg_pg_field f[16];
	for (size_t i = 0; i < n; i++) {
		f[i].data = (const uint8_t *)v[i];
		f[i].len = !v[i] ? -1 : lens && lens[i] ? (int32_t)lens[i] : (int32_t)strlen(v[i]);
	}
	ssize_t r = rg_pg_write_datarow(x->in, sizeof(x->in), f, n);
	assert_true(r > 0 && (size_t)r <= sizeof(x->in));
	assert_int_equal(rg_pg_msg_view(x->in, (size_t)r, &x->msg), 0);
}

static struct rg_pg_shape shape(struct rg_pg_rcol *cols, size_t n)
{
	static uint64_t serial;
	return (struct rg_pg_shape){++serial, cols, (uint16_t)n, true};
}

/* Mask the row; on REWRITTEN parse the output into x->f. */
static int mask(struct fx *x, const struct rg_pg_shape *s)
{
	int r = rg_pg_mask_datarow(x->c, x->plan, s, &x->msg, &x->rm, &x->out);
	if (r == RG_PG_MASK_REWRITTEN) {
		struct rg_pg_msg m;
		assert_int_equal(rg_pg_msg_view(x->out.p, x->out.len, &m), 0);
		assert_int_equal(rg_pg_validate(RG_PG_BE, &m), 0);
		assert_int_equal(rg_pg_read_datarow(&m, x->f, 16, &x->nf), 0);
	}
	return r;
}

static bool field_is(const struct fx *x, size_t i, const char *s)
{
	if (!s)
		return x->f[i].len == -1;
	return x->f[i].len == (int32_t)strlen(s) && !memcmp(x->f[i].data, s, strlen(s));
}

#define TXT(oid) {oid, 0, 0, 0}
#define BIN(oid) {oid, 0, 0, 1}

static void test_row_without_matches_is_forwarded_unchanged(void **state)
{
	struct fx *x = *state;
	struct rg_pg_rcol c[3] = {TXT(25), TXT(23), BIN(17)};
	struct rg_pg_shape s = shape(c, 3);
	const char *v[3] = {"hello", NULL, "4111 1111 1111 1112"}; /* fails Luhn */
	row(x, 3, v, NULL);
	x->out.len = 0;
	assert_int_equal(mask(x, &s), RG_PG_MASK_UNCHANGED);
	assert_int_equal(x->out.len, 0);
}

static void test_cards_ssns_and_emails_in_text_columns_are_masked(void **state)
{
	struct fx *x = *state;
	struct rg_pg_rcol c[5] = {TXT(25), TXT(1043), TXT(1042), TXT(25), TXT(25)};
	struct rg_pg_shape s = shape(c, 5);
	const char *v[5] = {"4111 1111 1111 1111", "ssn 536-22-1234", "alice@example.com", NULL,
			    "plain"};
	row(x, 5, v, NULL);
	assert_int_equal(mask(x, &s), RG_PG_MASK_REWRITTEN);
	assert_int_equal(x->nf, 5);
	assert_true(field_is(x, 0, "**** **** **** 1111"));
	assert_true(field_is(x, 1, "ssn ***-**-1234"));
	assert_true(field_is(x, 2, H_ALICE)); /* hmac changes the length */
	assert_true(field_is(x, 3, NULL));    /* NULL stays NULL */
	assert_true(field_is(x, 4, "plain"));
}

static void test_binary_text_and_bytea_columns_are_masked(void **state)
{
	struct fx *x = *state;
	struct rg_pg_rcol c[3] = {BIN(25), BIN(1043), BIN(17)};
	struct rg_pg_shape s = shape(c, 3);
	const char *v[3] = {"alice@example.com", "card 5555555555554444", "\x01\x02 4111111111111111"};
	row(x, 3, v, NULL);
	assert_int_equal(mask(x, &s), RG_PG_MASK_REWRITTEN);
	assert_true(field_is(x, 0, H_ALICE));
	assert_true(field_is(x, 1, "card ************4444"));
	assert_true(field_is(x, 2, "\x01\x02 ************1111"));
}

static void test_jsonb_binary_keeps_its_version_byte_and_stays_json(void **state)
{
	struct fx *x = *state;
	struct rg_pg_rcol c[2] = {BIN(3802), TXT(3802)};
	struct rg_pg_shape s = shape(c, 2);
	const char *v[2] = {"\x01{\"to\": \"alice@example.com\"}", "[\"alice@example.com\", 1]"};
	row(x, 2, v, NULL);
	assert_int_equal(mask(x, &s), RG_PG_MASK_REWRITTEN);
	assert_true(field_is(x, 0, "\x01{\"to\": \"" H_ALICE "\"}"));
	assert_true(field_is(x, 1, "[\"" H_ALICE "\", 1]"));
}

static void test_jsonb_binary_of_an_unknown_version_becomes_null_when_masked(void **state)
{
	struct fx *x = *state;
	struct rg_pg_rcol c[1] = {BIN(3802)};
	struct rg_pg_shape s = shape(c, 1);
	const char *v[1] = {"\x02{\"pan\": 4111111111111111}"}; /* masking breaks it too */
	row(x, 1, v, NULL);
	assert_int_equal(mask(x, &s), RG_PG_MASK_REWRITTEN);
	assert_true(field_is(x, 0, NULL));
}

static void test_masked_json_that_is_no_longer_json_becomes_json_null(void **state)
{
	struct fx *x = *state;
	struct rg_pg_rcol c[3] = {BIN(3802), TXT(114), BIN(114)};
	struct rg_pg_shape s = shape(c, 3);
	/* a card as a JSON number: the partial mask writes '*' where digits must be */
	const char *v[3] = {"\x01{\"pan\": 4111111111111111}", "{\"pan\": 4111111111111111}",
			    "[4111111111111111]"};
	row(x, 3, v, NULL);
	assert_int_equal(mask(x, &s), RG_PG_MASK_REWRITTEN);
	assert_true(field_is(x, 0, "\x01null"));
	assert_true(field_is(x, 1, "null"));
	assert_true(field_is(x, 2, "null"));
}

static void test_other_types_a_mask_touched_become_null(void **state)
{
	struct fx *x = *state;
	/* bigint as text holding a card, a text[] in binary holding an e-mail, an int8 in
	 * binary that holds nothing, a column whose format is unknown */
	struct rg_pg_rcol c[4] = {TXT(20), BIN(1009), BIN(20), {0, 0, 0, -1}};
	struct rg_pg_shape s = shape(c, 4);
	static const char arr[] = "\0\0\0\1\0\0\0\0\0\0\0\x19\0\0\0\1\0\0\0\1\0\0\0\x11"
				  "alice@example.com";
	const char *v[4] = {"4111111111111111", arr, "\0\0\0\0\0\0\0\7", "x alice@example.com"};
	size_t lens[4] = {0, sizeof(arr) - 1, 8, 0};
	row(x, 4, v, lens);
	assert_int_equal(mask(x, &s), RG_PG_MASK_REWRITTEN);
	assert_true(field_is(x, 0, NULL));
	assert_true(field_is(x, 1, NULL));
	assert_int_equal(x->f[2].len, 8);
	assert_memory_equal(x->f[2].data, "\0\0\0\0\0\0\0\7", 8);
	assert_true(field_is(x, 3, NULL));
}

static void test_column_rules_follow_the_sessions_plan(void **state)
{
	struct fx *x = *state;
	const char *cols[3] = {"public.customers.ssn", "public.customers.date_of_birth",
			       "public.customers.name"};
	struct rg_pg_rcol c[3] = {TXT(25), TXT(1082), TXT(25)};
	struct rg_pg_shape s = shape(c, 3);
	const char *v[3] = {"not-an-ssn", "1980-01-02", "Ann"};

	assert_int_equal(rg_policy_mask_plan_build(x->c, &REQ, cols, 3, x->pl, &x->plan), 0);
	row(x, 3, v, NULL);
	assert_int_equal(mask(x, &s), RG_PG_MASK_REWRITTEN);
	assert_true(field_is(x, 0, "***-**-****"));
	assert_true(field_is(x, 1, NULL));
	assert_true(field_is(x, 2, "Ann"));
}

static void test_field_count_other_than_the_shapes_is_refused(void **state)
{
	struct fx *x = *state;
	struct rg_pg_rcol c[2] = {TXT(25), TXT(25)};
	struct rg_pg_shape s = shape(c, 2);
	const char *v[1] = {"alice@example.com"};
	row(x, 1, v, NULL);
	assert_int_equal(mask(x, &s), RG_PG_MASK_E_SHAPE);
	/* without a shape every column is of unknown type: a changed one becomes NULL */
	assert_int_equal(mask(x, NULL), RG_PG_MASK_REWRITTEN);
	assert_true(field_is(x, 0, NULL));
}

static void test_error_detail_values_are_masked(void **state)
{
	struct fx *x = *state;
	struct rg_pg_notice n = {.severity = "ERROR",
				 .severity_nl = "ERROR",
				 .sqlstate = "23505",
				 .message = "duplicate key value violates unique constraint",
				 .detail = "Key (email)=(alice@example.com) already exists.",
				 .table = "users",
				 .constraint = "users_email_key"};
	struct rg_pg_notice got;
	struct rg_pg_msg m, o;
	ssize_t len = rg_pg_write_notice(x->in, sizeof(x->in), 'E', &n);

	assert_true(len > 0);
	assert_int_equal(rg_pg_msg_view(x->in, (size_t)len, &m), 0);
	assert_int_equal(rg_pg_mask_notice(x->c, x->plan, &m, &x->rm, &x->out),
			 RG_PG_MASK_REWRITTEN);
	assert_int_equal(rg_pg_msg_view(x->out.p, x->out.len, &o), 0);
	assert_int_equal(rg_pg_read_notice(&o, &got), 0);
	assert_string_equal(got.detail, "Key (email)=(" H_ALICE ") already exists.");
	assert_string_equal(got.sqlstate, "23505");
	assert_string_equal(got.message, n.message);
	assert_string_equal(got.constraint, "users_email_key");

	/* a notice with nothing sensitive is forwarded as is */
	n.detail = "Key (id)=(42) already exists.";
	len = rg_pg_write_notice(x->in, sizeof(x->in), 'N', &n);
	assert_int_equal(rg_pg_msg_view(x->in, (size_t)len, &m), 0);
	assert_int_equal(rg_pg_mask_notice(x->c, x->plan, &m, &x->rm, &x->out),
			 RG_PG_MASK_UNCHANGED);
	/* a message field quoting a value (RAISE, check constraints on some versions) */
	n.message = "card 4111111111111111 refused";
	len = rg_pg_write_notice(x->in, sizeof(x->in), 'N', &n);
	assert_int_equal(rg_pg_msg_view(x->in, (size_t)len, &m), 0);
	assert_int_equal(rg_pg_mask_notice(x->c, x->plan, &m, &x->rm, &x->out),
			 RG_PG_MASK_REWRITTEN);
	assert_int_equal(rg_pg_msg_view(x->out.p, x->out.len, &o), 0);
	assert_int_equal(o.type, 'N');
	assert_int_equal(rg_pg_read_notice(&o, &got), 0);
	assert_string_equal(got.message, "card ************1111 refused");
}

/* A FunctionCallResponse 'V' with value v (NULL: a NULL result) in x->in. */
static void fcall_msg(struct fx *x, const char *v, size_t *len)
{
	size_t n = v ? strlen(v) : 0;
	uint32_t l = v ? (uint32_t)n : UINT32_MAX;

	x->in[0] = 'V';
	x->in[1] = x->in[2] = 0;
	x->in[3] = (uint8_t)((n + 8) >> 8);
	x->in[4] = (uint8_t)(n + 8);
	x->in[5] = (uint8_t)(l >> 24), x->in[6] = (uint8_t)(l >> 16);
	x->in[7] = (uint8_t)(l >> 8), x->in[8] = (uint8_t)l;
	memcpy(x->in + 9, v ? v : "", n);
	*len = n + 9;
	assert_int_equal(rg_pg_msg_view(x->in, *len, &x->msg), 0);
}

static void test_function_call_results_a_detector_matches_become_null(void **state)
{
	struct fx *x = *state;
	static const uint8_t null_v[] = {'V', 0, 0, 0, 8, 0xff, 0xff, 0xff, 0xff};
	size_t len;

	fcall_msg(x, "card 4111 1111 1111 1111", &len);
	assert_int_equal(rg_pg_mask_fcall_result(x->c, x->plan, &x->msg, &x->rm, &x->out),
			 RG_PG_MASK_REWRITTEN);
	assert_int_equal(x->out.len, sizeof(null_v));
	assert_memory_equal(x->out.p, null_v, sizeof(null_v));
	x->out.len = 0;
	fcall_msg(x, "nothing to see", &len);
	assert_int_equal(rg_pg_mask_fcall_result(x->c, x->plan, &x->msg, &x->rm, &x->out),
			 RG_PG_MASK_UNCHANGED);
	fcall_msg(x, NULL, &len);
	assert_int_equal(rg_pg_mask_fcall_result(x->c, x->plan, &x->msg, &x->rm, &x->out),
			 RG_PG_MASK_UNCHANGED);
	/* a length that disagrees with the message */
	fcall_msg(x, "abc", &len);
	x->in[8] = 9;
	assert_int_equal(rg_pg_mask_fcall_result(x->c, x->plan, &x->msg, &x->rm, &x->out),
			 RG_PG_MASK_E_SHAPE);
}

static void copy_msg(struct fx *x, const char *line)
{
	size_t n = strlen(line);
	x->in[0] = 'd';
	x->in[1] = x->in[2] = 0;
	x->in[3] = (uint8_t)((n + 4) >> 8);
	x->in[4] = (uint8_t)(n + 4);
	memcpy(x->in + 5, line, n);
	assert_int_equal(rg_pg_msg_view(x->in, n + 5, &x->msg), 0);
}

static void test_copy_text_lines_are_masked_keeping_their_separators(void **state)
{
	struct fx *x = *state;

	copy_msg(x, "7\talice@example.com\t4111111111111111\t\\N\n");
	assert_int_equal(rg_pg_mask_copy_data(x->c, x->plan, 0, &x->msg, &x->rm, &x->out),
			 RG_PG_MASK_REWRITTEN);
	const char *want = "7\t" H_ALICE "\t************1111\t\\N\n";
	assert_int_equal(x->out.len, 5 + strlen(want));
	assert_memory_equal(x->out.p + 5, want, strlen(want));
	copy_msg(x, "8,\"no pii, here\"\n");
	assert_int_equal(rg_pg_mask_copy_data(x->c, x->plan, 0, &x->msg, &x->rm, &x->out),
			 RG_PG_MASK_UNCHANGED);
	assert_int_equal(rg_pg_mask_copy_data(x->c, x->plan, 1, &x->msg, &x->rm, &x->out),
			 RG_PG_MASK_E_UNSUPPORTED);
}

static void test_binary_copy_fields_a_detector_matches_become_null(void **state)
{
	struct fx *x = *state;
	/* header (no extension), then one tuple: int4 7, text e-mail, NULL, bytea */
	static const uint8_t body[] = "PGCOPY\n\377\r\n\0" "\0\0\0\0" "\0\0\0\0"
				      "\0\4" "\0\0\0\4\0\0\0\7"
				      "\0\0\0\x11" "alice@example.com"
				      "\377\377\377\377"
				      "\0\0\0\2ok";
	static const uint8_t want[] = "PGCOPY\n\377\r\n\0" "\0\0\0\0" "\0\0\0\0"
				      "\0\4" "\0\0\0\4\0\0\0\7"
				      "\377\377\377\377"
				      "\377\377\377\377"
				      "\0\0\0\2ok";
	static const uint8_t trailer[] = {0xff, 0xff};
	size_t n = sizeof(body) - 1;

	x->in[0] = 'd';
	x->in[1] = x->in[2] = 0;
	x->in[3] = (uint8_t)((n + 4) >> 8);
	x->in[4] = (uint8_t)(n + 4);
	memcpy(x->in + 5, body, n);
	assert_int_equal(rg_pg_msg_view(x->in, n + 5, &x->msg), 0);
	assert_int_equal(rg_pg_mask_copy_data(x->c, x->plan, 1, &x->msg, &x->rm, &x->out),
			 RG_PG_MASK_REWRITTEN);
	assert_int_equal(x->out.len, 5 + sizeof(want) - 1);
	assert_memory_equal(x->out.p + 5, want, sizeof(want) - 1);

	/* the trailer alone, and bytes that are not binary COPY data */
	memcpy(x->in + 5, trailer, 2);
	x->in[4] = 6;
	assert_int_equal(rg_pg_msg_view(x->in, 7, &x->msg), 0);
	assert_int_equal(rg_pg_mask_copy_data(x->c, x->plan, 1, &x->msg, &x->rm, &x->out),
			 RG_PG_MASK_UNCHANGED);
	copy_msg(x, "1\tnot binary\n");
	assert_int_equal(rg_pg_mask_copy_data(x->c, x->plan, 1, &x->msg, &x->rm, &x->out),
			 RG_PG_MASK_E_UNSUPPORTED);
}

static void test_copy_replacement_that_would_break_the_line_redacts_it(void **state)
{
	struct fx *x = *state;
	struct rg_policy *p = compile(NULL, "version: 1\n"
					    "pack: t\n"
					    "masks:\n"
					    "  - id: t.mail\n"
					    "    detector: email\n"
					    "    style: static\n"
					    "    text: \"a\\tb\"\n");
	struct rg_policy_ctx *c = rg_policy_ctx_new(p, NULL, 0);

	copy_msg(x, "7\tbob@example.com\tok\n");
	assert_int_equal(rg_pg_mask_copy_data(c, NULL, 0, &x->msg, &x->rm, &x->out),
			 RG_PG_MASK_REWRITTEN);
	const char *want = "*\t***@*******.***\t**\n";
	assert_int_equal(x->out.len, 5 + strlen(want));
	assert_memory_equal(x->out.p + 5, want, strlen(want));
	rg_policy_ctx_free(c);
	rg_policy_free(p);
}

static void test_json_validator(void **state)
{
	(void)state;
	static const char *ok[] = {"null", " {} ", "[]", "{\"a\": [1, -2.5e+3, true, false, null]}",
				   "\"\\u00e9\\n\"", "0", "[[[]]]", "{\"a\":{\"b\":\"c\"}}"};
	static const char *bad[] = {"",	     "{",	  "[1,]",     "{\"a\" 1}", "01",
				    "1.",    "-",	  "tru",      "\"\\x\"",   "[1] 2",
				    "{1:2}", "\"a\tb\"", "{\"a\":}", "****",    "[*]"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++)
		assert_true(rg_pg_json_valid((const uint8_t *)ok[i], strlen(ok[i])));
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_false(rg_pg_json_valid((const uint8_t *)bad[i], strlen(bad[i])));
	static uint8_t deep[2100];
	memset(deep, '[', 1050);
	memset(deep + 1050, ']', 1050);
	assert_false(rg_pg_json_valid(deep, 2100));
	assert_true(rg_pg_json_valid(deep + 100, 1900));
}

/* ---- runs of rows (rg_pg_rowrun_*) ---------------------------------------------------- */

/* Append a DataRow of n text fields (NULL: SQL NULL) to b at *at. */
static void put_row(uint8_t *b, size_t cap, size_t *at, size_t n, const char *const *v)
{
	struct rg_pg_field f[16];
	for (size_t i = 0; i < n; i++) {
		f[i].data = (const uint8_t *)v[i];
		f[i].len = v[i] ? (int32_t)strlen(v[i]) : -1;
	}
	ssize_t r = rg_pg_write_datarow(b + *at, cap - *at, f, n);
	assert_true(r > 0);
	*at += (size_t)r;
}

/*
 * Walks a run as relay.c does: the rows rg_pg_rowrun_clear proves go out as they are, each
 * other row through rg_pg_mask_datarow. Every proven row must be one rg_pg_mask_datarow
 * leaves unchanged. Returns the rows rewritten; *slow: the rows not proven.
 */
static size_t walk(struct fx *x, const struct rg_mask_plan *plan, const struct rg_pg_shape *s,
		   const uint8_t *b, size_t n, size_t *slow)
{
	struct rg_pg_rowrun rr;
	size_t at = 0, rewritten = 0, framed = rg_pg_rowrun_frame(&rr, b, n, 1u << 30, s->ncols);
	uint32_t k;

	*slow = 0;
	assert_int_equal(framed, n);
	while (at < framed) {
		size_t end = rg_pg_rowrun_clear(&rr, x->c, plan, s, at, &k), total;
		bool proven = end > at;
		if (!proven)
			end = at + 1 +
			      ((size_t)b[at + 1] << 24 | (size_t)b[at + 2] << 16 |
			       (size_t)b[at + 3] << 8 | b[at + 4]);
		for (; at < end; at += total) {
			total = 1 + ((size_t)b[at + 1] << 24 | (size_t)b[at + 2] << 16 |
				     (size_t)b[at + 3] << 8 | b[at + 4]);
			assert_int_equal(rg_pg_msg_view(b + at, total, &x->msg), 0);
			int r = rg_pg_mask_datarow(x->c, plan, s, &x->msg, &x->rm, &x->out);
			assert_true(r >= 0);
			if (proven)
				assert_int_equal(r, RG_PG_MASK_UNCHANGED);
			else
				(*slow)++;
			rewritten += r == RG_PG_MASK_REWRITTEN;
			if (proven)
				k--;
		}
		if (proven)
			assert_int_equal(k, 0);
	}
	return rewritten;
}

/* A run longer than the row ends rg_pg_rowrun_frame notes (RG_PG_ROWRUN_ENDS): the rows
 * proven are counted from the ends noted, then by their lengths, with cards before, at and
 * after the last noted row, so the run check stops on both sides of it. */
static void test_long_runs_count_rows_past_the_noted_ends(void **state)
{
	struct fx *x = *state;
	struct rg_pg_rcol cols[2] = {TXT(23), TXT(25)};
	struct rg_pg_shape s = shape(cols, 2);
	static uint8_t b[65536];
	char id[16];
	size_t slow;

	for (int shift = -3; shift <= 3; shift++) {
		size_t at = 0, want = 0;
		for (int i = 0; i < RG_PG_ROWRUN_ENDS * 3; i++) {
			const char *v[2] = {id, "plain"};
			snprintf(id, sizeof(id), "%d", i);
			if (i == 7 || i == RG_PG_ROWRUN_ENDS - 1 + shift ||
			    i == RG_PG_ROWRUN_ENDS * 2 + shift) {
				v[1] = "4111 1111 1111 1111";
				want++;
			}
			put_row(b, sizeof(b), &at, 2, v);
		}
		assert_int_equal(walk(x, x->plan, &s, b, at, &slow), want);
		assert_true(slow >= want && slow < want + 16);
	}
}

static void test_runs_of_rows_prove_only_rows_without_a_match(void **state)
{
	struct fx *x = *state;
	struct rg_pg_rcol cols[3] = {TXT(23), TXT(25), TXT(1042)};
	struct rg_pg_shape s = shape(cols, 3);
	static uint8_t b[16384];
	static const char *const cards[] = {"4111 1111 1111 1111", "4111111111111111",
					    "ada@example.com", "123-45-6789"};
	char pad[200], id[16];
	size_t slow, proved = 0;

	/* a card (or an e-mail, an SSN) at every offset against the 64-byte blocks, at the
	 * start of a row's first text field, at the end of a row, and at the run's end */
	for (size_t c = 0; c < 4; c++) {
		for (size_t off = 0; off < 130; off++) {
			size_t at = 0, want = 0;
			memset(pad, 'x', off);
			pad[off] = 0;
			for (int i = 0; i < 40; i++) {
				const char *v[3] = {id, pad, "plain padded text     "};
				snprintf(id, sizeof(id), "%d", i);
				if (i % 7 == 3) {
					v[1] = cards[c]; /* right after the field's length */
					want++;
				} else if (i % 11 == 5) {
					v[2] = cards[c]; /* the row's last bytes */
					want++;
				}
				put_row(b, sizeof(b), &at, 3, v);
			}
			const char *last[3] = {"40", pad, cards[c]};
			put_row(b, sizeof(b), &at, 3, last);
			want++;
			assert_int_equal(walk(x, x->plan, &s, b, at, &slow), want);
			assert_true(slow >= want);
			/* (a 64-byte field's length ends in '@', taken for an e-mail's: all
			 * slow then, which costs time, not correctness) */
			proved += slow < 41;
		}
	}
	assert_true(proved > 4 * 120);
}

static void test_runs_of_rows_end_at_what_the_per_message_path_must_judge(void **state)
{
	struct fx *x = *state;
	struct rg_pg_rcol cols[2] = {TXT(23), TXT(25)}, jcols[2] = {TXT(23), BIN(3802)};
	struct rg_pg_shape s = shape(cols, 2), js = shape(jcols, 2);
	static uint8_t b[4096];
	const char *v[2] = {"1", "no match"};
	struct rg_pg_rowrun rr;
	size_t at = 0, r1, r2;
	uint32_t k;

	put_row(b, sizeof(b), &at, 2, v);
	r1 = at;
	put_row(b, sizeof(b), &at, 2, v);
	r2 = at;
	/* whole rows only, of the shape's field count */
	assert_int_equal(rg_pg_rowrun_frame(&rr, b, r2, 1u << 30, 2), r2);
	assert_int_equal(rr.rows, 2);
	assert_int_equal(rg_pg_rowrun_frame(&rr, b, r2 - 1, 1u << 30, 2), r1);
	assert_int_equal(rg_pg_rowrun_frame(&rr, b, r2, 1u << 30, 3), 0);
	assert_int_equal(rg_pg_rowrun_frame(&rr, b, r2, (uint32_t)r1 - 2, 2), 0);
	/* a field whose length runs past its row, a row longer than what is there */
	memcpy(b + r2, b, r1);
	b[r2 + r1 - 1 - 8] = 9;
	assert_int_equal(rg_pg_rowrun_frame(&rr, b, r2 + r1, 1u << 30, 2), r2);
	b[r2 + r1 - 1 - 8] = 8;
	assert_int_equal(rg_pg_rowrun_frame(&rr, b, r2 + r1, 1u << 30, 2), r2 + r1);
	b[r2 + 4]++;
	assert_int_equal(rg_pg_rowrun_frame(&rr, b, r2 + r1, 1u << 30, 2), r2);
	/* another message type ends the run */
	memcpy(b + r2, "C\0\0\0\x0dSELECT 2", 14);
	assert_int_equal(rg_pg_rowrun_frame(&rr, b, r2 + 14, 1u << 30, 2), r2);
	/* framed with the field count: all proven; without it, nothing */
	assert_int_equal(rg_pg_rowrun_frame(&rr, b, r2, 1u << 30, 2), r2);
	assert_int_equal(rg_pg_rowrun_clear(&rr, x->c, x->plan, &s, 0, &k), r2);
	assert_int_equal(k, 2);
	assert_int_equal(rg_pg_rowrun_frame(&rr, b, r2, 1u << 30, -1), r2);
	assert_int_equal(rg_pg_rowrun_clear(&rr, x->c, x->plan, &s, 0, &k), 0);
	/* a column rule on a column, a binary jsonb column: nothing proven */
	assert_int_equal(rg_pg_rowrun_frame(&rr, b, r2, 1u << 30, 2), r2);
	int32_t act[2] = {-1, 0};
	struct rg_mask_plan cp = *x->plan;
	cp.column_action = act;
	cp.ncolumns = 2;
	assert_int_equal(rg_pg_rowrun_clear(&rr, x->c, &cp, &s, 0, &k), 0);
	assert_int_equal(rg_pg_rowrun_clear(&rr, x->c, x->plan, &js, 0, &k), 0);
	assert_int_equal(k, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T_(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	    T_(test_row_without_matches_is_forwarded_unchanged),
	    T_(test_cards_ssns_and_emails_in_text_columns_are_masked),
	    T_(test_binary_text_and_bytea_columns_are_masked),
	    T_(test_jsonb_binary_keeps_its_version_byte_and_stays_json),
	    T_(test_jsonb_binary_of_an_unknown_version_becomes_null_when_masked),
	    T_(test_masked_json_that_is_no_longer_json_becomes_json_null),
	    T_(test_other_types_a_mask_touched_become_null),
	    T_(test_column_rules_follow_the_sessions_plan),
	    T_(test_field_count_other_than_the_shapes_is_refused),
	    T_(test_error_detail_values_are_masked),
	    T_(test_copy_text_lines_are_masked_keeping_their_separators),
	    T_(test_binary_copy_fields_a_detector_matches_become_null),
	    T_(test_copy_replacement_that_would_break_the_line_redacts_it),
	    T_(test_function_call_results_a_detector_matches_become_null),
	    T_(test_runs_of_rows_prove_only_rows_without_a_match),
	    T_(test_long_runs_count_rows_past_the_noted_ends),
	    T_(test_runs_of_rows_end_at_what_the_per_message_path_must_judge),
	    cmocka_unit_test(test_json_validator),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
