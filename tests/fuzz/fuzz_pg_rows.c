/*
 * fuzz_pg_rows: rows.c's rewriting of DataRows, ErrorResponse / NoticeResponse and COPY
 * lines, with a policy compiled once per process whose styles stress the output rules
 * (static texts holding quotes, tabs, commas and backslashes; hmac; null; a column rule).
 *
 * Input: byte 0 picks the message kind and whether the row's field count differs from
 * the shape; byte 1 the column count; then two bytes per column (type, format); the rest
 * is split into values on 0x1f (a value that is exactly 0x1e is SQL NULL). Oracles
 * (abort()): only the documented results come back; a rewritten message validates with
 * the wire readers and keeps the field count; NULL stays NULL; a changed value of a JSON
 * column is valid JSON (a jsonb binary one keeps its version byte), of a non-text type is
 * NULL; ErrorResponse fields keep their codes and order, fields that are not masked keep
 * their bytes; a COPY line keeps its tabs, newlines, backslashes, commas and quotes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pg-int.h"
#include "policy.h"
#include "rulec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *POLICY = "version: 1\n"
			    "pack: f\n"
			    "masks:\n"
			    "  - id: f.col\n"
			    "    columns: [\"public.t.c0\"]\n"
			    "    style: static\n"
			    "    text: \"{\\\"\\t,\\\\\"\n"
			    "  - id: f.card\n"
			    "    detector: credit_card\n"
			    "    style: partial\n"
			    "  - id: f.mail\n"
			    "    detector: email\n"
			    "    style: hmac\n"
			    "  - id: f.ssn\n"
			    "    detector: us_ssn\n"
			    "    style: static\n"
			    "    text: \"a\\\"b\\tc,d\\\\e\"\n"
			    "  - id: f.ip\n"
			    "    detector: ipv4\n"
			    "    style: \"null\"\n"
			    "  - id: f.phone\n"
			    "    detector: phone_e164\n"
			    "    style: redact\n";

static struct rg_policy *pol;
static struct rg_policy_ctx *ctx;
static struct rg_policy_plan *plans[2]; /* without / with the column rule on column 0 */
static const struct rg_mask_plan *plan[2];
static struct rg_pg_rowmask rm;
static struct rg_acc out;
static uint8_t msg[1 << 16];

static const uint32_t TYPES[] = {25, 1043, 1042, 19, 705, 114, 3802, 17, 20, 1009, 0, 1082};
static const int16_t FORMATS[] = {0, 1, -1};

static void init(void)
{
	struct rulec_program prog;
	struct rulec_diags d = {0};
	struct rulec_buf b = {0};
	char err[256];
	const char *cols[1] = {"public.t.c0"};
	static const struct rg_identity id = {.subject = "f"};
	static const struct rg_request req = { .protocol = "postgres", .target = "db", .identity = &id };

	memset(&prog, 0, sizeof(prog));
	if (rulec_parse_buffer("f.yaml", POLICY, strlen(POLICY), &prog, &d) ||
	    rulec_check_program(&prog, &d) || rulec_compile(&prog, &b, &d))
		abort();
	rulec_diags_free(&d);
	rulec_program_free(&prog);
	if (rg_policy_load_mem(b.p, b.n, NULL, &pol, err, sizeof(err)))
		abort();
	rulec_buf_free(&b);
	ctx = rg_policy_ctx_new(pol, (const uint8_t *)"k", 1);
	for (int i = 0; i < 2; i++) {
		plans[i] = rg_policy_mask_plan_new();
		if (!ctx || !plans[i] ||
		    rg_policy_mask_plan_build(ctx, &req, i ? cols : NULL, 1, plans[i], &plan[i]))
			abort();
	}
}

static bool text_type(uint32_t t)
{
	return t == 25 || t == 1043 || t == 1042 || t == 19 || t == 705;
}

/* What may be written for a changed value: 0 anything, 1 JSON, 2 jsonb binary, 3 NULL. */
static int rule(const struct rg_pg_rcol *c)
{
	if (c->format == 0)
		return text_type(c->type_oid) ? 0 : c->type_oid == 114 || c->type_oid == 3802 ? 1 : 3;
	if (c->format == 1)
		return text_type(c->type_oid) || c->type_oid == 17 ? 0
		       : c->type_oid == 114			   ? 1
		       : c->type_oid == 3802			   ? 2
								   : 3;
	return 3;
}

static void check_row(const struct rg_pg_shape *sh, const struct rg_pg_field *in, uint16_t n)
{
	struct rg_pg_msg m;
	struct rg_pg_field f[64];
	uint16_t k;

	if (rg_pg_msg_view(out.p, out.len, &m) || rg_pg_validate(RG_PG_BE, &m) ||
	    rg_pg_read_datarow(&m, f, 64, &k) || k != n)
		abort();
	for (uint16_t i = 0; i < n; i++) {
		if (in[i].len < 0) {
			if (f[i].len != -1)
				abort();
			continue;
		}
		if (f[i].len == in[i].len && !memcmp(f[i].data, in[i].data, (size_t)in[i].len))
			continue;
		if (f[i].len == -1)
			continue; /* NULL is always allowed */
		switch (rule(sh ? &sh->cols[i] : &(struct rg_pg_rcol){0, 0, 0, -1})) {
		case 1:
			if (!rg_pg_json_valid(f[i].data, (size_t)f[i].len))
				abort();
			break;
		case 2:
			if (f[i].len < 1 || f[i].data[0] != 1 ||
			    !rg_pg_json_valid(f[i].data + 1, (size_t)f[i].len - 1))
				abort();
			break;
		case 3:
			abort();
		default:
			break;
		}
	}
}

static bool structural(uint8_t b)
{
	return b == '\t' || b == '\n' || b == '\r' || b == '\\' || b == ',' || b == '"';
}

static void check_copy(const uint8_t *in, size_t n)
{
	struct rg_pg_msg m;
	size_t i = 0, j = 0;

	if (rg_pg_msg_view(out.p, out.len, &m) || m.type != 'd')
		abort();
	for (;;) {
		while (i < n && !structural(in[i]))
			i++;
		while (j < m.body_len && !structural(m.body[j]))
			j++;
		if (i == n || j == m.body_len) {
			if (i != n || j != m.body_len)
				abort();
			return;
		}
		if (in[i++] != m.body[j++])
			abort();
	}
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A rewritten binary COPY message: the same header and tuples, each field the same bytes
 * or NULL (-1). in parsed (it was rewritten), so only the output is bounds-checked. */
static void check_copy_binary(const uint8_t *in, size_t n)
{
	struct rg_pg_msg m;
	size_t i = 0, j = 0;

	if (rg_pg_msg_view(out.p, out.len, &m) || m.type != 'd')
		abort();
	const uint8_t *o = m.body;
	size_t on = m.body_len;
	if (n >= 11 && !memcmp(in, "PGCOPY\n\377\r\n", 11)) {
		size_t h = 19 + be32(in + 15);
		if (on < h || memcmp(in, o, h))
			abort();
		i = j = h;
	}
	while (i < n) {
		if (on - j < 2 || memcmp(in + i, o + j, 2))
			abort();
		int16_t cnt = (int16_t)(in[i] << 8 | in[i + 1]);
		i += 2;
		j += 2;
		for (int16_t k = 0; k < cnt; k++) {
			int32_t a = (int32_t)be32(in + i);
			size_t la = 4 + (a > 0 ? (size_t)a : 0);
			if (on - j < 4)
				abort();
			int32_t b = (int32_t)be32(o + j);
			if (b == -1) {
				j += 4;
			} else {
				if (b != a || on - j < la || memcmp(in + i, o + j, la))
					abort();
				j += la;
			}
			i += la;
		}
	}
	if (j != on)
		abort();
}

static void check_notice(const struct rg_pg_msg *in)
{
	struct rg_pg_msg m;
	struct rg_pg_iter a, b;
	uint8_t ca, cb;
	const char *va, *vb;
	int ra, rb;

	if (rg_pg_msg_view(out.p, out.len, &m) || m.type != in->type ||
	    rg_pg_validate(RG_PG_BE, &m) || rg_pg_notice_begin(in, &a) || rg_pg_notice_begin(&m, &b))
		abort();
	for (;;) {
		ra = rg_pg_notice_next(&a, &ca, &va);
		rb = rg_pg_notice_next(&b, &cb, &vb);
		if (ra != rb || ra < 0)
			abort();
		if (!ra)
			return;
		if (ca != cb)
			abort();
		if (!strchr("MDHWq", ca) && strcmp(va, vb))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rg_pg_rcol cols[64];
	struct rg_pg_field f[64];
	struct rg_pg_msg m;
	uint16_t ncols, nf = 0;
	size_t i = 0;
	int r;

	if (!pol)
		init();
	if (size < 2)
		return 0;
	uint8_t mode = data[0];
	ncols = data[1] % 9;
	i = 2;
	for (uint16_t c = 0; c < ncols; c++, i += 2) {
		uint8_t t = i < size ? data[i] : 0, fm = i + 1 < size ? data[i + 1] : 0;
		cols[c] = (struct rg_pg_rcol){TYPES[t % (sizeof(TYPES) / sizeof(*TYPES))], 0, 0,
					      FORMATS[fm % 3]};
	}
	/* values split on 0x1f; exactly 0x1e is NULL */
	size_t start = i < size ? i : size;
	for (size_t j = start; j <= size && nf < 64; j++) {
		if (j == size || data[j] == 0x1f) {
			f[nf].data = data + start;
			f[nf].len = (int32_t)(j - start);
			if (f[nf].len == 1 && data[start] == 0x1e)
				f[nf].len = -1, f[nf].data = NULL;
			nf++;
			start = j + 1;
		}
	}
	switch (mode % 3) {
	case 0: { /* DataRow */
		bool mismatch = mode & 8;
		uint16_t n = mismatch ? nf : ncols;
		for (uint16_t c = nf; c < n && c < 64; c++)
			f[c] = (struct rg_pg_field){(const uint8_t *)"", 0, 0};
		ssize_t len = rg_pg_write_datarow(msg, sizeof(msg), f, n);
		if (len <= 0 || (size_t)len > sizeof(msg) || rg_pg_msg_view(msg, (size_t)len, &m))
			return 0;
		struct rg_pg_shape sh = {1, cols, ncols, true};
		const struct rg_pg_shape *shp = mode & 16 ? NULL : &sh;
		r = rg_pg_mask_datarow(ctx, plan[(mode >> 2) & 1], shp, &m, &rm, &out);
		if (r == RG_PG_MASK_E_SHAPE) {
			if (!shp || n == ncols)
				abort();
		} else if (r == RG_PG_MASK_REWRITTEN) {
			if (shp && n != ncols)
				abort();
			check_row(shp, f, n);
		} else if (r != RG_PG_MASK_UNCHANGED) {
			abort();
		}
		break;
	}
	case 1: { /* ErrorResponse / NoticeResponse: values as fields M, D, H, W, q, C, S */
		static const char codes[] = "MDHWqCS";
		size_t n = 0;
		msg[n++] = mode & 4 ? 'E' : 'N';
		n += 4;
		for (uint16_t k = 0; k < nf && k < 7; k++) {
			if (f[k].len < 0 || memchr(f[k].data, 0, (size_t)f[k].len))
				continue;
			msg[n++] = (uint8_t)codes[k];
			memcpy(msg + n, f[k].data, (size_t)f[k].len);
			n += (size_t)f[k].len;
			msg[n++] = 0;
		}
		msg[n++] = 0;
		uint32_t l = (uint32_t)(n - 1);
		msg[1] = (uint8_t)(l >> 24), msg[2] = (uint8_t)(l >> 16), msg[3] = (uint8_t)(l >> 8),
		msg[4] = (uint8_t)l;
		if (rg_pg_msg_view(msg, n, &m))
			abort();
		r = rg_pg_mask_notice(ctx, plan[0], &m, &rm, &out);
		if (r == RG_PG_MASK_REWRITTEN)
			check_notice(&m);
		else if (r != RG_PG_MASK_UNCHANGED)
			abort();
		break;
	}
	default: { /* CopyData */
		size_t body = size - (i < size ? i : size);
		if (body + 5 > sizeof(msg))
			return 0;
		msg[0] = 'd';
		uint32_t l = (uint32_t)(body + 4);
		msg[1] = (uint8_t)(l >> 24), msg[2] = (uint8_t)(l >> 16), msg[3] = (uint8_t)(l >> 8),
		msg[4] = (uint8_t)l;
		memcpy(msg + 5, data + size - body, body);
		if (rg_pg_msg_view(msg, body + 5, &m))
			abort();
		r = rg_pg_mask_copy_data(ctx, plan[0], (mode >> 2) & 1, &m, &rm, &out);
		if ((mode >> 2) & 1) {
			if (r == RG_PG_MASK_REWRITTEN)
				check_copy_binary(m.body, m.body_len);
			else if (r != RG_PG_MASK_UNCHANGED && r != RG_PG_MASK_E_UNSUPPORTED)
				abort();
		} else if (r == RG_PG_MASK_REWRITTEN) {
			check_copy(m.body, m.body_len);
		} else if (r != RG_PG_MASK_UNCHANGED) {
			abort();
		}
		break;
	}
	}
	return 0;
}
