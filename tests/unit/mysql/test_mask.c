/*
 * Unit tests for engine/proto/mysql/mask.c's row rebuild (my_mask_rebuild): text and binary
 * rows with fields unchanged, masked to a longer text (the length prefix grows from one byte
 * to three), masked to NULL, and a mask on a non-string column (becomes NULL: 0xfb in text
 * rows, the NULL bitmap's bit in binary rows). Every output is one packet with the given
 * sequence id whose payload the module's own readers parse back; an oversize result fails.
 * ERR packets (my_mask_err_pkt) under the shipped PII pack (rules/pii/pii.yaml) compiled
 * here: values echoed in the server's messages masked, code and SQLSTATE kept, messages
 * without a match and packets without a message left alone, a "null" rule's "[masked]".
 */
#include "kit.h"
#include "my-int.h"
#include "rulec.h"

#define KEY "ringgate-test-key"	     /* the key the pack's own row tests use */
#define H_ALICE "h:448c4819359ddb4d" /* alice@example.com under KEY (the pack's hmac) */

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

static struct rg_policy *pii(void)
{
	char path[1024];
	const char *src = getenv("RG_SRC");

	snprintf(path, sizeof(path), "%s/rules/pii/pii.yaml", src ? src : ".");
	return compile(path, NULL);
}

static const struct rg_identity ID = {.subject = "agent"};
static const struct rg_request REQ = {.protocol = "mysql", .target = "db", .identity = &ID};

static const uint8_t TYPES[4] = {RG_MY_TYPE_LONG, RG_MY_TYPE_VAR_STRING, RG_MY_TYPE_DATE,
				 RG_MY_TYPE_BLOB};

static void check_header(const struct rg_acc *out, uint8_t seq)
{
	size_t n = out->p[0] | (size_t)out->p[1] << 8 | (size_t)out->p[2] << 16;

	assert_int_equal(n + 4, out->len);
	assert_int_equal(out->p[3], seq);
}

static void test_text_row_rebuilt(void **state)
{
	/* id 7, email, a date, NULL */
	const struct rg_my_value v[4] = {
	    {"7", 1}, {"ada@example.com", 15}, {"1990-01-31", 10}, {NULL, 0}};
	uint8_t buf[128], big[300];
	struct rg_my_field f[4], g[4];
	struct rg_mask_out_field o[4] = {{0}};
	struct rg_acc out = {0};
	ssize_t n = rg_my_write_text_row(buf, sizeof(buf), 3, v, 4);
	(void)state;

	assert_true(n > 4);
	assert_int_equal(rg_my_read_text_row(buf + 4, (size_t)n - 4, 4, f, 4), 0);
	memset(big, 'h', sizeof(big));
	o[1] = (struct rg_mask_out_field){.changed = true, .data = big, .len = sizeof(big)};
	o[2] = (struct rg_mask_out_field){.changed = true, .is_null = true};
	assert_int_equal(my_mask_rebuild(false, TYPES, 4, buf + 4, (size_t)n - 4, f, o, 9, &out),
			 0);
	check_header(&out, 9);
	assert_int_equal(rg_my_read_text_row(out.p + 4, out.len - 4, 4, g, 4), 0);
	assert_int_equal(g[0].len, 1);
	assert_memory_equal(out.p + 4 + g[0].off, "7", 1);
	assert_int_equal(g[1].len, sizeof(big));
	assert_int_equal(out.p[4 + g[1].off - 3], 0xfc); /* 2-byte length: 0xfc + 2 bytes */
	assert_memory_equal(out.p + 4 + g[1].off, big, sizeof(big));
	assert_true(g[2].is_null && g[3].is_null);

	/* a mask on a non-string column (an INT): NULL, never text a client cannot parse */
	memset(o, 0, sizeof(o));
	o[0] = (struct rg_mask_out_field){.changed = true, .data = (const uint8_t *)"*", .len = 1};
	out.len = 0;
	assert_int_equal(my_mask_rebuild(false, TYPES, 4, buf + 4, (size_t)n - 4, f, o, 2, &out),
			 0);
	assert_int_equal(rg_my_read_text_row(out.p + 4, out.len - 4, 4, g, 4), 0);
	assert_true(g[0].is_null && !g[1].is_null && g[3].is_null);
	assert_memory_equal(out.p + 4 + g[1].off, "ada@example.com", 15);
	rg_acc_free(&out);
}

static void test_binary_row_rebuilt(void **state)
{
	/* 0x00, bitmap (4 + 9) / 8 = 1 byte (col 3 NULL: bit 5), INT 7, "ada@x.io", DATE */
	const uint8_t row[] = {0x00, 0x20, 7,	0,   0,	  0, 8,	   'a',	 'd', 'a',
			       '@',  'x',  '.', 'i', 'o', 4, 0xc6, 0x07, 1,   31};
	struct rg_my_field f[4], g[4];
	struct rg_mask_out_field o[4] = {{0}};
	struct rg_acc out = {0};
	(void)state;

	assert_int_equal(rg_my_read_binary_row(row, sizeof(row), 4, TYPES, f, 4), 0);
	o[1] = (struct rg_mask_out_field){
	    .changed = true, .data = (const uint8_t *)"h:0123", .len = 6};
	o[2] = (struct rg_mask_out_field){.changed = true, .is_null = true};
	assert_int_equal(my_mask_rebuild(true, TYPES, 4, row, sizeof(row), f, o, 5, &out), 0);
	check_header(&out, 5);
	assert_int_equal(out.p[5], 0x20 | 0x10); /* the DATE's bit (2 + 2) set */
	assert_int_equal(rg_my_read_binary_row(out.p + 4, out.len - 4, 4, TYPES, g, 4), 0);
	assert_false(g[0].is_null);
	assert_memory_equal(out.p + 4 + g[0].off, BYTES(7, 0, 0, 0), 4);
	assert_int_equal(g[1].len, 6);
	assert_memory_equal(out.p + 4 + g[1].off, "h:0123", 6);
	assert_true(g[2].is_null && g[3].is_null);

	/* nothing changed: the same bytes */
	memset(o, 0, sizeof(o));
	out.len = 0;
	assert_int_equal(my_mask_rebuild(true, TYPES, 4, row, sizeof(row), f, o, 1, &out), 0);
	assert_int_equal(out.len, sizeof(row) + 4);
	assert_memory_equal(out.p + 4, row, sizeof(row));

	/* a masked non-string value (the INT): its bit set, its bytes gone */
	o[0] = (struct rg_mask_out_field){.changed = true, .data = (const uint8_t *)"x", .len = 1};
	out.len = 0;
	assert_int_equal(my_mask_rebuild(true, TYPES, 4, row, sizeof(row), f, o, 1, &out), 0);
	assert_int_equal(out.len, sizeof(row) + 4 - 4);
	assert_int_equal(rg_my_read_binary_row(out.p + 4, out.len - 4, 4, TYPES, g, 4), 0);
	assert_true(g[0].is_null && !g[1].is_null);

	/* a truncated row is refused, never rebuilt */
	out.len = 0;
	assert_true(my_mask_rebuild(true, TYPES, 4, row, sizeof(row) - 1, f, o, 1, &out) < 0);
	rg_acc_free(&out);
}

static void test_oversize_row_fails(void **state)
{
	const struct rg_my_value v[2] = {{"1", 1}, {"x", 1}}; /* INT, VAR_STRING */
	uint8_t buf[32];
	struct rg_my_field f[2];
	struct rg_mask_out_field o[2] = {{0}};
	struct rg_acc out = {0};
	ssize_t n = rg_my_write_text_row(buf, sizeof(buf), 1, v, 2);
	uint8_t *huge = malloc(RG_MY_MAX_PACKET);
	(void)state;

	assert_non_null(huge);
	memset(huge, 'z', RG_MY_MAX_PACKET);
	assert_int_equal(rg_my_read_text_row(buf + 4, (size_t)n - 4, 2, f, 2), 0);
	o[1] =
	    (struct rg_mask_out_field){.changed = true, .data = huge, .len = RG_MY_MAX_PACKET - 4};
	assert_int_equal(
	    my_mask_rebuild(false, TYPES + 0, 2, buf + 4, (size_t)n - 4, f, o, 1, &out),
	    RG_MY_E_TOO_LONG);
	free(huge);
	rg_acc_free(&out);
}

static void test_string_types(void **state)
{
	(void)state;
	assert_true(my_mask_string_type(RG_MY_TYPE_VAR_STRING));
	assert_true(my_mask_string_type(RG_MY_TYPE_STRING));
	assert_true(my_mask_string_type(RG_MY_TYPE_BLOB));
	assert_true(my_mask_string_type(RG_MY_TYPE_ENUM));
	assert_true(my_mask_string_type(RG_MY_TYPE_JSON));
	assert_false(my_mask_string_type(RG_MY_TYPE_LONGLONG));
	assert_false(my_mask_string_type(RG_MY_TYPE_DATE));
	assert_false(my_mask_string_type(RG_MY_TYPE_NEWDECIMAL));
	assert_false(my_mask_string_type(RG_MY_TYPE_GEOMETRY));
	/* detectors: text strings only; binary strings keep their bytes; JSON is text */
	assert_true(my_mask_detect_column(RG_MY_TYPE_VAR_STRING, 45));
	assert_true(my_mask_detect_column(RG_MY_TYPE_BLOB, 33));
	assert_false(my_mask_detect_column(RG_MY_TYPE_BLOB, 63));
	assert_false(my_mask_detect_column(RG_MY_TYPE_STRING, 63));
	assert_true(my_mask_detect_column(RG_MY_TYPE_JSON, 63));
	assert_false(my_mask_detect_column(RG_MY_TYPE_LONGLONG, 63));
}

/* An ERR payload as the server writes it (with the SQLSTATE marker when state is set). */
static size_t err_payload(uint8_t *out, uint16_t code, const char *state, const char *msg)
{
	size_t at = 0;

	out[at++] = 0xff;
	out[at++] = (uint8_t)code;
	out[at++] = (uint8_t)(code >> 8);
	if (state) {
		out[at++] = '#';
		memcpy(out + at, state, 5);
		at += 5;
	}
	memcpy(out + at, msg, strlen(msg));
	return at + strlen(msg);
}

/* The rewritten packet in out: one header with seq, then an ERR the reader accepts. */
static void read_back(const struct rg_acc *out, uint8_t seq, struct rg_my_err_pkt *e)
{
	check_header(out, seq);
	assert_int_equal(rg_my_read_err(out->p + 4, out->len - 4, e), 0);
}

static void test_err_values_masked(void **state)
{
	struct rg_policy *p = pii();
	struct rg_policy_ctx *c = rg_policy_ctx_new(p, (const uint8_t *)KEY, strlen(KEY));
	struct rg_policy_plan *pl = rg_policy_mask_plan_new();
	const struct rg_mask_plan *plan;
	struct rg_acc out = {0};
	struct rg_my_err_pkt e;
	uint8_t in[600];
	uint32_t hit;
	size_t n;
	(void)state;

	assert_non_null(c);
	assert_int_equal(rg_policy_mask_plan_build(c, &REQ, NULL, 0, pl, &plan), 0);

	/* a duplicate key echoes the value: the email is masked by its rule (hmac) */
	n = err_payload(in, 1062, "23000", "Duplicate entry 'alice@example.com' for key 'email'");
	assert_int_equal(my_mask_err_pkt(c, plan, in, n, 1, &out, &hit), 1);
	read_back(&out, 1, &e);
	assert_int_equal(e.code, 1062);
	assert_string_equal(e.sqlstate, "23000");
	assert_int_equal(e.message.len, strlen("Duplicate entry '" H_ALICE "' for key 'email'"));
	assert_memory_equal(e.message.p, "Duplicate entry '" H_ALICE "' for key 'email'",
			    e.message.len);
	assert_int_equal(hit, 1u << RG_DET_EMAIL);
	/* the bytes before the message are the original's */
	assert_memory_equal(out.p + 4, in, 9);

	/* an invalid value echoed with its column: the card partially masked */
	out.len = 0;
	n = err_payload(in, 1366, "22007",
			"Incorrect integer value: '4111 1111 1111 1111' for column `shop`.`t`.`n` "
			"at row 1");
	assert_int_equal(my_mask_err_pkt(c, plan, in, n, 7, &out, &hit), 1);
	read_back(&out, 7, &e);
	assert_int_equal(e.code, 1366);
	assert_string_equal(e.sqlstate, "22007");
	assert_memory_equal(e.message.p,
			    "Incorrect integer value: '**** **** **** 1111' for column "
			    "`shop`.`t`.`n` at row 1",
			    e.message.len);
	assert_int_equal(hit, 1u << RG_DET_CREDIT_CARD);

	/* nothing to mask: unchanged, nothing written */
	out.len = 0;
	n = err_payload(in, 1146, "42S02", "Table 'shop.nope' doesn't exist");
	assert_int_equal(my_mask_err_pkt(c, plan, in, n, 1, &out, &hit), 0);
	assert_int_equal(out.len, 0);
	/* an invalid card (Luhn) is not a card */
	n = err_payload(in, 1062, "23000", "Duplicate entry '4111 1111 1111 1112' for key 'c'");
	assert_int_equal(my_mask_err_pkt(c, plan, in, n, 1, &out, &hit), 0);

	/* no SQLSTATE marker (a pre-4.1 form): the code kept, the message masked */
	n = err_payload(in, 1062, NULL, "Duplicate entry 'alice@example.com' for key 'email'");
	assert_int_equal(my_mask_err_pkt(c, plan, in, n, 2, &out, &hit), 1);
	read_back(&out, 2, &e);
	assert_int_equal(e.code, 1062);
	assert_string_equal(e.sqlstate, "");
	assert_memory_equal(e.message.p, "Duplicate entry '" H_ALICE "' for key 'email'",
			    e.message.len);

	/* no message, a progress report (0xffff), not an ERR: left alone */
	out.len = 0;
	assert_int_equal(my_mask_err_pkt(c, plan, BYTES(0xff, 0x26, 0x04), 3, 1, &out, &hit), 0);
	assert_int_equal(my_mask_err_pkt(c, plan, BYTES(0xff, 0xff, 0xff, 1, 1, 0, 'a', '@', 'b'),
					 9, 1, &out, &hit),
			 0);
	assert_int_equal(my_mask_err_pkt(c, plan, BYTES(0x00, 0, 0, 2, 0, 0, 0), 7, 1, &out, &hit),
			 0);
	assert_int_equal(out.len, 0);

	/* a plan that disables every rule (another target's identity would): nothing masked */
	{
		uint8_t none[64] = {0};
		struct rg_mask_plan off = {NULL, 0, none, RG_MASK_PLAN_DETECTORS};

		n = err_payload(in, 1062, "23000",
				"Duplicate entry 'alice@example.com' for key 'e'");
		assert_int_equal(my_mask_err_pkt(c, &off, in, n, 1, &out, &hit), 0);
	}
	rg_acc_free(&out);
	rg_policy_mask_plan_free(pl);
	rg_policy_ctx_free(c);
	rg_policy_free(p);
}

static void test_err_null_rule(void **state)
{
	static const char *Y = "version: 1\n"
			       "pack: t\n"
			       "masks:\n"
			       "  - id: t.mail\n"
			       "    detector: email\n"
			       "    style: \"null\"\n";
	struct rg_policy *p = compile(NULL, Y);
	struct rg_policy_ctx *c = rg_policy_ctx_new(p, NULL, 0);
	struct rg_acc out = {0};
	struct rg_my_err_pkt e;
	uint8_t in[200];
	uint32_t hit;
	size_t n = err_payload(in, 1062, "23000", "Duplicate entry 'bob@example.org' for key 'e'");
	(void)state;

	assert_int_equal(my_mask_err_pkt(c, NULL, in, n, 3, &out, &hit), 1);
	read_back(&out, 3, &e);
	assert_int_equal(e.code, 1062);
	assert_string_equal(e.sqlstate, "23000");
	assert_int_equal(e.message.len, 8);
	assert_memory_equal(e.message.p, "[masked]", 8);
	rg_acc_free(&out);
	rg_policy_ctx_free(c);
	rg_policy_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_text_row_rebuilt),
	    cmocka_unit_test(test_binary_row_rebuilt),
	    cmocka_unit_test(test_oversize_row_fails),
	    cmocka_unit_test(test_string_types),
	    cmocka_unit_test(test_err_values_masked),
	    cmocka_unit_test(test_err_null_rule),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
