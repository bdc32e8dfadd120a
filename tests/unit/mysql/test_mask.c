/*
 * Unit tests for engine/proto/mysql/mask.c's row rebuild (my_mask_rebuild): text and binary
 * rows with fields unchanged, masked to a longer text (the length prefix grows from one byte
 * to three), masked to NULL, and a mask on a non-string column (becomes NULL: 0xfb in text
 * rows, the NULL bitmap's bit in binary rows). Every output is one packet with the given
 * sequence id whose payload the module's own readers parse back; an oversize result fails.
 * ERR packets (my_mask_err_pkt) under the shipped PII pack (rules/pii/pii.yaml) compiled
 * here: values echoed in the server's messages masked, code and SQLSTATE kept, messages
 * without a match and packets without a message left alone, a "null" rule's "[masked]".
 * Runs of rows (rg_my_rowrun_frame / my_rows_clear, the relay's fast path): on random
 * text and binary rows (numbers, dates, text and binary strings, NULLs, cards, emails,
 * SSNs, near misses) the run path's output is byte for byte the row-by-row masker's, under
 * every prefilter implementation and with a column rule; every row it proves is one the
 * masker leaves alone; the framer stops where the rows stop (sequence id, EOF, ERR, a row
 * that does not read, a packet of 16 MiB).
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

/* ---- runs of rows ---------------------------------------------------------------------- */

#define RCOLS 6
/* INT, VARCHAR (text), VARBINARY (no detectors), DATE, TEXT (text), VARCHAR with a column
 * rule in the plans that have one (origin shop.customers.ssn) */
static const uint8_t RTYPES[RCOLS] = {RG_MY_TYPE_LONG,	     RG_MY_TYPE_VAR_STRING,
				      RG_MY_TYPE_VAR_STRING, RG_MY_TYPE_DATE,
				      RG_MY_TYPE_BLOB,	     RG_MY_TYPE_VAR_STRING};
static const uint8_t RDETECT[RCOLS] = {0, 1, 0, 0, 1, 1};
static const char *const RORIGIN[RCOLS] = {"shop.t.id", "shop.t.a", "shop.t.b",
					   "shop.t.d",	"shop.t.e", "public.customers.ssn"};

static const char *const POOL[] = {
    "row 17",
    "alice@example.com",
    "4111 1111 1111 1111",
    "4111 1111 1111 1112",
    "536-22-1234",
    "666-12-3456",
    "call +14155552671 now",
    "10.0.0.1",
    "nothing to see here at all, just a longer text that runs past one block of sixty-four",
    "2024-05-01 12:30:45",
    "12345678901234567",
    "a@b",
    "",
    "x",
    "DE89 3704 0044 0532 0130 00",
    "order 12345 shipped",
};

static uint32_t rnd(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(*s >> 33);
}

/* One random value for column i: *v (NULL: SQL NULL) of *n bytes in tmp. */
static const uint8_t *rvalue(uint64_t *s, int i, uint8_t *tmp, size_t *n)
{
	uint32_t k = rnd(s);

	if (k % 7 == 0)
		return NULL;
	switch (RTYPES[i]) {
	case RG_MY_TYPE_LONG:
		*n = (size_t)snprintf((char *)tmp, 32, "%d", (int)(k % 100000) - 500);
		return tmp;
	case RG_MY_TYPE_DATE:
		*n = (size_t)snprintf((char *)tmp, 32, "20%02u-0%u-1%u", k % 30, 1 + k % 9, k % 10);
		return tmp;
	default:
		if (k % 5 == 0) { /* random bytes, digits and separators */
			*n = 1 + rnd(s) % 70;
			for (size_t j = 0; j < *n; j++) {
				uint32_t b = rnd(s);
				tmp[j] =
				    b % 3 ? (uint8_t) "0123456789 -.@+:ab"[b % 18] : (uint8_t)b;
			}
			return tmp;
		}
		*n = strlen(POOL[k % (sizeof(POOL) / sizeof(POOL[0]))]);
		memcpy(tmp, POOL[k % (sizeof(POOL) / sizeof(POOL[0]))], *n);
		return tmp;
	}
}

static size_t lenenc(uint8_t *o, size_t n)
{
	return rg_my_lenenc_encode(o, n);
}

/* One random row as a packet with sequence id seq appended at buf + at; returns its end. */
static size_t rrow(uint64_t *s, bool binary, uint8_t seq, uint8_t *buf, size_t at)
{
	uint8_t tmp[128], *p = buf + at + 4;
	size_t len = 0;

	if (binary) {
		uint8_t *bm = p + 1;

		p[0] = 0;
		memset(bm, 0, (RCOLS + 9) / 8);
		len = 1 + (RCOLS + 9) / 8;
		for (int i = 0; i < RCOLS; i++) {
			size_t n = 0;
			const uint8_t *v = rvalue(s, i, tmp, &n);

			if (!v) {
				bm[(i + 2) / 8] |= (uint8_t)(1u << ((i + 2) % 8));
				continue;
			}
			if (RTYPES[i] == RG_MY_TYPE_LONG) {
				uint32_t x = (uint32_t)atoi((const char *)tmp) * 2654435761u;

				memcpy(p + len, &x, 4); /* any bytes: binary numbers are not text */
				len += 4;
			} else if (RTYPES[i] == RG_MY_TYPE_DATE) {
				p[len] = 4;
				memcpy(p + len + 1, BYTES(0xe8, 0x07, 5, 1), 4);
				len += 5;
			} else {
				len += lenenc(p + len, n);
				memcpy(p + len, v, n);
				len += n;
			}
		}
	} else {
		for (int i = 0; i < RCOLS; i++) {
			size_t n = 0;
			const uint8_t *v = rvalue(s, i, tmp, &n);

			if (!v) {
				p[len++] = 0xfb;
				continue;
			}
			len += lenenc(p + len, n);
			memcpy(p + len, v, n);
			len += n;
		}
	}
	buf[at] = (uint8_t)len;
	buf[at + 1] = (uint8_t)(len >> 8);
	buf[at + 2] = (uint8_t)(len >> 16);
	buf[at + 3] = seq;
	return at + 4 + len;
}

struct runfx {
	struct rg_policy *p;
	struct rg_policy_ctx *c;
	struct rg_policy_plan *pl;
	const struct rg_mask_plan *plan;
	struct my_rows rows;
	struct rg_acc ref, got;
};

static void runfx_init(struct runfx *x, bool col_rule)
{
	memset(x, 0, sizeof(*x));
	x->p = pii();
	x->c = rg_policy_ctx_new(x->p, (const uint8_t *)KEY, strlen(KEY));
	x->pl = rg_policy_mask_plan_new();
	assert_non_null(x->c);
	assert_int_equal(rg_policy_mask_plan_build(x->c, &REQ, col_rule ? RORIGIN : NULL,
						   col_rule ? RCOLS : 0, x->pl, &x->plan),
			 0);
	assert_int_equal(my_rows_shape(&x->rows, RCOLS), 0);
	memcpy(x->rows.types, RTYPES, RCOLS);
	memcpy(x->rows.detect, RDETECT, RCOLS);
	my_rows_plan(&x->rows, x->plan);
	assert_true(x->rows.col_rules == col_rule);
}

static void runfx_free(struct runfx *x)
{
	my_rows_free(&x->rows);
	rg_acc_free(&x->ref);
	rg_acc_free(&x->got);
	rg_policy_mask_plan_free(x->pl);
	rg_policy_ctx_free(x->c);
	rg_policy_free(x->p);
}

/* Mask one row packet b[at..) row by row into out; returns its end. */
static size_t one_row(struct runfx *x, bool binary, const uint8_t *b, size_t at, struct rg_acc *out,
		      int *rewritten)
{
	size_t len = b[at] | (size_t)b[at + 1] << 8 | (size_t)b[at + 2] << 16;
	int r = my_rows_mask(&x->rows, x->c, x->plan, binary, b + at + 4, len, 1, b[at + 3]);

	assert_true(r == 0 || r == 1);
	if (r == 1)
		assert_int_equal(rg_acc_append(out, x->rows.out.p, x->rows.out.len), 0);
	else
		assert_int_equal(rg_acc_append(out, b + at, 4 + len), 0);
	*rewritten += r;
	return at + 4 + len;
}

/* The buffer b[0..n) of rows from seq on, row by row and as the relay walks runs: the same
 * bytes out. Returns the rows the run path proved. */
static uint32_t run_vs_rows(struct runfx *x, bool binary, const uint8_t *b, size_t n, uint8_t seq,
			    int *rewritten)
{
	static struct rg_my_rowrun rr;
	size_t at = 0, framed;
	uint32_t proved = 0, k;
	int rw = 0;

	x->ref.len = x->got.len = 0;
	*rewritten = 0;
	while (at < n)
		at = one_row(x, binary, b, at, &x->ref, rewritten);
	framed = rg_my_rowrun_frame(&rr, b, n, seq);
	assert_int_equal(framed, n);
	assert_int_equal(my_rows_run(&x->rows, binary, &rr), n);
	assert_int_equal(rr.seq_next, (uint8_t)(seq + rr.rows));
	at = 0;
	while (at < framed) {
		size_t end = my_rows_clear(&x->rows, x->c, x->plan, &rr, at, &k);

		if (end > at) {
			/* every row proven is one the masker leaves alone */
			for (size_t q = at; q < end;) {
				size_t len = b[q] | (size_t)b[q + 1] << 8 | (size_t)b[q + 2] << 16;

				assert_int_equal(my_rows_mask(&x->rows, x->c, x->plan, binary,
							      b + q + 4, len, 1, b[q + 3]),
						 0);
				q += 4 + len;
				k--;
			}
			assert_int_equal(k, 0);
			assert_int_equal(rg_acc_append(&x->got, b + at, end - at), 0);
			proved += (uint32_t)((end - at) > 0);
			at = end;
			continue;
		}
		at = one_row(x, binary, b, at, &x->got, &rw);
	}
	assert_int_equal(x->got.len, x->ref.len);
	assert_memory_equal(x->got.p, x->ref.p, x->ref.len);
	return proved;
}

static void test_run_equals_row_by_row(void **state)
{
	static const enum rg_mask_prefilter_impl IMPL[] = {RG_MASK_PF_SCALAR, RG_MASK_PF_SSE2,
							   RG_MASK_PF_AVX2, RG_MASK_PF_AVX512,
							   RG_MASK_PF_AUTO};
	static uint8_t buf[1 << 16];
	uint64_t s = 42;
	(void)state;

	for (int cr = 0; cr < 2; cr++) {
		struct runfx x;
		uint32_t runs = 0;
		int rewritten = 0, total_rw = 0;

		runfx_init(&x, cr);
		for (size_t im = 0; im < sizeof(IMPL) / sizeof(IMPL[0]); im++) {
			if (rg_mask_prefilter_use(IMPL[im]))
				continue; /* not on this CPU */
			for (int round = 0; round < 60; round++) {
				bool binary = round % 2;
				uint8_t seq = (uint8_t)rnd(&s); /* wraps past 255 too */
				size_t n = 0;
				int rows = 1 + (int)(rnd(&s) % 300);

				for (int i = 0; i < rows; i++)
					n = rrow(&s, binary, (uint8_t)(seq + i), buf, n);
				runs += run_vs_rows(&x, binary, buf, n, seq, &rewritten);
				total_rw += rewritten;
			}
		}
		/* the test means something: rows were masked, and (without a column rule) runs
		 * of rows were proven; with one, nothing is proven */
		assert_true(total_rw > 100);
		if (cr)
			assert_int_equal(runs, 0);
		else
			assert_true(runs > 100);
		runfx_free(&x);
	}
	rg_mask_prefilter_use(RG_MASK_PF_AUTO);
}

/* The rows of buf[0..n) from seq on that my_rows_run keeps, for a result of ncols columns
 * of RTYPES (binary or not). */
static size_t run_reads(bool binary, uint32_t ncols, const uint8_t *buf, size_t n, uint8_t seq)
{
	static struct rg_my_rowrun rr;
	struct my_rows r = {0};
	size_t got;

	assert_int_equal(my_rows_shape(&r, ncols), 0);
	for (uint32_t i = 0; i < ncols; i++) {
		r.types[i] = RTYPES[i % RCOLS];
		r.detect[i] = RDETECT[i % RCOLS];
	}
	rg_my_rowrun_frame(&rr, buf, n, seq);
	got = my_rows_run(&r, binary, &rr);
	my_rows_free(&r);
	return got;
}

static void test_rowrun_frame_stops_where_rows_stop(void **state)
{
	static struct rg_my_rowrun rr;
	static uint8_t buf[1 << 16];
	uint64_t s = 7;
	size_t a, b, c, n;
	(void)state;

	a = rrow(&s, false, 5, buf, 0);
	b = rrow(&s, false, 6, buf, a);
	c = rrow(&s, false, 7, buf, b);
	assert_int_equal(rg_my_rowrun_frame(&rr, buf, c, 5), c);
	assert_int_equal(rr.rows, 3);
	assert_int_equal(rr.seq_next, 8);
	/* a wrong sequence id, a partial row */
	assert_int_equal(rg_my_rowrun_frame(&rr, buf, c, 6), 0);
	assert_int_equal(rg_my_rowrun_frame(&rr, buf, c - 1, 5), b);
	/* rows that do not read with 5 or 7 columns are not the run's (my_rows_run) */
	assert_int_equal(run_reads(false, RCOLS, buf, c, 5), c);
	assert_int_equal(run_reads(false, RCOLS - 1, buf, c, 5), 0);
	assert_int_equal(run_reads(false, RCOLS + 1, buf, c, 5), 0);
	/* OK-as-EOF, EOF, ERR, an empty packet and a packet of 16 MiB end the rows */
	{
		static const uint8_t ends[][4] = {{0xfe}, {0xff}, {0x00}};

		for (int i = 0; i < 3; i++) {
			n = c;
			buf[n] = i == 2 ? 0 : 1;
			buf[n + 1] = buf[n + 2] = 0;
			buf[n + 3] = 8;
			buf[n + 4] = ends[i][0];
			n += 4 + buf[c];
			assert_int_equal(rg_my_rowrun_frame(&rr, buf, n, 5), c);
		}
		memcpy(buf + c, BYTES(0xff, 0xff, 0xff, 8), 4);
		assert_int_equal(rg_my_rowrun_frame(&rr, buf, c + 100, 5), c);
	}
	/* a row that does not read after two that do: the run stops before it */
	memcpy(buf + c, BYTES(3, 0, 0, 8, 0xfc, 0xff, 0xff), 7);
	assert_int_equal(rg_my_rowrun_frame(&rr, buf, c + 7, 5), c + 7);
	assert_int_equal(run_reads(false, RCOLS, buf, c + 7, 5), c);
	/* binary rows: read with the types */
	a = rrow(&s, true, 0, buf, 0);
	b = rrow(&s, true, 1, buf, a);
	assert_int_equal(run_reads(true, RCOLS, buf, b, 0), b);
	assert_int_equal(run_reads(true, RCOLS + 8, buf, b, 0), 0); /* a longer bitmap */
	/* a long run, the sequence id wrapping */
	n = 0;
	for (int i = 0; i < 100; i++)
		n = rrow(&s, false, (uint8_t)(200 + i), buf, n);
	assert_int_equal(rg_my_rowrun_frame(&rr, buf, n, 200), n);
	assert_int_equal(rr.rows, 100);
	assert_int_equal(rr.seq_next, (uint8_t)(200 + 100));
	assert_int_equal(run_reads(false, RCOLS, buf, n, 200), n);
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
	    cmocka_unit_test(test_run_equals_row_by_row),
	    cmocka_unit_test(test_rowrun_frame_stops_where_rows_stop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
