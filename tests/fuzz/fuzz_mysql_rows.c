/*
 * fuzz_mysql_rows: the masking of MySQL result rows (engine/proto/mysql/mask.c my_rows_*)
 * and its run path (rows.c rg_my_rowrun_*, the relay's my_be_rows), with a policy compiled
 * once per process (detectors with every style, a column rule on column 0 in one plan).
 *
 * Input: byte 0 flags (bit 0 binary rows, bit 1 the plan with the column rule, bit 2 also
 * frame the raw bytes after the header as rows), byte 1 the first sequence id, byte 2 the
 * column count (1..8), then one byte per column (its type and character set from TYPES);
 * the rest is split into values on 0x1f (a value that is exactly 0x1e is SQL NULL), used in
 * turn to build rows as the server writes them (binary numbers and dates take their fixed
 * sizes from the value's bytes). Oracles (abort()): the rows of the run as the relay walks
 * it (proven rows as they are, the others through my_rows_mask) are byte for byte what
 * my_rows_mask gives row by row; every row a run proves is one my_rows_mask leaves alone; a
 * rewritten row is one packet with the row's sequence id that the reader accepts with the
 * same columns, NULLs still NULL. Raw bytes framed as a run: every row framed reads with
 * the reader, and the packet that ended the run, when it is whole and looks like a row,
 * does not (the framer's own text-row check agrees with rg_my_read_text_row).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "my-int.h"
#include "rulec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *POLICY =
    "version: 1\n"
    "pack: f\n"
    "masks:\n"
    "  - id: f.col\n"
    "    columns: [\"shop.t.c0\"]\n"
    "    style: static\n"
    "    text: \"xx\"\n"
    "  - id: f.card\n"
    "    detector: credit_card\n"
    "    style: partial\n"
    "  - id: f.mail\n"
    "    detector: email\n"
    "    style: hmac\n"
    "  - id: f.ssn\n"
    "    detector: us_ssn\n"
    "    style: static\n"
    "    text: \"a much longer replacement text than the value it replaces, "
    "so that a one-byte length grows to three bytes: 0123456789012345678901"
    "23456789012345678901234567890123456789012345678901234567890123456789012"
    "345678901234567890123456789\"\n"
    "  - id: f.ip\n"
    "    detector: ipv4\n"
    "    style: \"null\"\n"
    "  - id: f.phone\n"
    "    detector: phone_e164\n"
    "    style: redact\n";

/* type, character set (63: binary) */
static const uint8_t TYPES[][2] = {
    {RG_MY_TYPE_VAR_STRING, 45}, {RG_MY_TYPE_LONG, 63},	      {RG_MY_TYPE_VAR_STRING, 63},
    {RG_MY_TYPE_DATE, 63},	 {RG_MY_TYPE_BLOB, 45},	      {RG_MY_TYPE_JSON, 63},
    {RG_MY_TYPE_LONGLONG, 63},	 {RG_MY_TYPE_DATETIME, 63},   {RG_MY_TYPE_STRING, 33},
    {RG_MY_TYPE_ENUM, 45},	 {RG_MY_TYPE_NEWDECIMAL, 63}, {RG_MY_TYPE_TINY, 63},
};
#define NTYPES (sizeof(TYPES) / sizeof(TYPES[0]))
#define MAXC 8

static struct rg_policy *pol;
static struct rg_policy_ctx *ctx;
static const struct rg_mask_plan *plan[2]; /* without / with the column rule */
static struct my_rows rows;
static struct rg_acc ref, got;
static uint8_t buf[1 << 17];
static struct rg_my_rowrun rr;

static void init(void)
{
	struct rulec_program prog;
	struct rulec_diags d = {0};
	struct rulec_buf b = {0};
	char err[256];
	const char *cols[MAXC] = {"shop.t.c0", "shop.t.c1", "shop.t.c2", "shop.t.c3",
				  "shop.t.c4", "shop.t.c5", "shop.t.c6", "shop.t.c7"};
	static const struct rg_identity id = {.subject = "f"};
	static const struct rg_request req = {.protocol = "mysql", .target = "db", .identity = &id};

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
		struct rg_policy_plan *pl = rg_policy_mask_plan_new();

		if (!ctx || !pl ||
		    rg_policy_mask_plan_build(ctx, &req, i ? cols : NULL, i ? MAXC : 0, pl,
					      &plan[i]))
			abort();
	}
}

static size_t put_lenenc(uint8_t *o, size_t n)
{
	return rg_my_lenenc_encode(o, n);
}

/* One row from the values at *v (cycling through [vals, end)) as a packet at buf + at with
 * sequence id seq; returns its end, 0 when it does not fit. */
static size_t build_row(bool binary, uint32_t ncols, const uint8_t *types, const uint8_t *vals,
			size_t nvals, size_t *vi, uint8_t seq, size_t at)
{
	uint8_t *p = buf + at + 4;
	size_t len = 0, cap = sizeof(buf) - at - 4;

	if (cap < 1 + MAXC * 9 + 16)
		return 0;
	if (binary) {
		p[0] = 0;
		memset(p + 1, 0, (ncols + 9) / 8);
		len = 1 + (ncols + 9) / 8;
	}
	for (uint32_t i = 0; i < ncols; i++) {
		/* the next value: up to 0x1f or the end */
		const uint8_t *v = vals + *vi, *e = memchr(v, 0x1f, nvals - *vi);
		size_t n = e ? (size_t)(e - v) : nvals - *vi;
		uint32_t doff;
		uint64_t dlen;

		*vi = e ? *vi + n + 1 : 0;
		if (*vi >= nvals)
			*vi = 0;
		if (cap - len < n + 32)
			return 0;
		if (n == 1 && v[0] == 0x1e) { /* NULL */
			if (binary)
				p[1 + (i + 2) / 8] |= (uint8_t)(1u << ((i + 2) % 8));
			else
				p[len++] = 0xfb;
			continue;
		}
		if (binary && types[i] != RG_MY_TYPE_VAR_STRING && !my_mask_string_type(types[i]) &&
		    types[i] != RG_MY_TYPE_NEWDECIMAL) {
			/* fixed sizes and dates: the reader's own sizes, the value's bytes */
			uint8_t tmp[16] = {0};
			ssize_t k;

			bool temporal =
			    types[i] == RG_MY_TYPE_DATE || types[i] == RG_MY_TYPE_DATETIME;

			if (temporal) {
				static const uint8_t L[4] = {0, 4, 7, 11};

				tmp[0] = L[n % 4];
			}
			memcpy(tmp + temporal, v, n < 12 ? n : 12);
			k = rg_my_binary_value(types[i], tmp, sizeof(tmp), &doff, &dlen);
			if (k < 0)
				abort();
			memcpy(p + len, tmp, (size_t)k);
			len += (size_t)k;
			continue;
		}
		len += put_lenenc(p + len, n);
		memcpy(p + len, v, n);
		len += n;
	}
	buf[at] = (uint8_t)len;
	buf[at + 1] = (uint8_t)(len >> 8);
	buf[at + 2] = (uint8_t)(len >> 16);
	buf[at + 3] = seq;
	return at + 4 + len;
}

static int read_row(bool binary, const uint8_t *p, size_t n, uint32_t ncols, const uint8_t *types,
		    struct rg_my_field *f)
{
	return binary ? rg_my_read_binary_row(p, n, ncols, types, f, MAXC)
		      : rg_my_read_text_row(p, n, ncols, f, MAXC);
}

/* Row by row: the row at buf + at masked (or kept) into out. */
static size_t one(bool binary, const struct rg_mask_plan *pl, size_t at, struct rg_acc *out)
{
	size_t len = buf[at] | (size_t)buf[at + 1] << 8 | (size_t)buf[at + 2] << 16;
	int r = my_rows_mask(&rows, ctx, pl, binary, buf + at + 4, len, 1, buf[at + 3]);

	if (r < 0 && r != RG_MY_E_TOO_LONG)
		abort(); /* every row built here reads */
	if (r == 1) {
		struct rg_my_field a[MAXC], b[MAXC];
		size_t ol =
		    rows.out.p[0] | (size_t)rows.out.p[1] << 8 | (size_t)rows.out.p[2] << 16;

		if (ol + 4 != rows.out.len || rows.out.p[3] != buf[at + 3] ||
		    read_row(binary, buf + at + 4, len, rows.ncols, rows.types, a) ||
		    read_row(binary, rows.out.p + 4, ol, rows.ncols, rows.types, b))
			abort();
		for (uint32_t i = 0; i < rows.ncols; i++)
			if (a[i].is_null && !b[i].is_null)
				abort();
		if (rg_acc_append(out, rows.out.p, rows.out.len))
			abort();
	} else if (rg_acc_append(out, buf + at, 4 + len)) {
		abort();
	}
	return at + 4 + len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rg_my_field f[MAXC];
	uint8_t types[MAXC];
	bool binary, colrule;
	uint32_t ncols, k;
	uint8_t seq;
	size_t n = 0, vi = 0, at, framed;
	const uint8_t *vals;
	size_t nvals;

	if (!pol)
		init();
	if (size < 4)
		return 0;
	binary = data[0] & 1;
	colrule = data[0] & 2;
	seq = data[1];
	ncols = 1 + data[2] % MAXC;
	if (size < 3 + ncols)
		return 0;
	if (my_rows_shape(&rows, ncols))
		abort();
	for (uint32_t i = 0; i < ncols; i++) {
		const uint8_t *t = TYPES[data[3 + i] % NTYPES];

		types[i] = rows.types[i] = t[0];
		rows.detect[i] = my_mask_detect_column(t[0], t[1]);
	}
	my_rows_plan(&rows, plan[colrule]);
	vals = data + 3 + ncols;
	nvals = size - 3 - ncols;

	/* raw bytes as a run: the rows my_rows_run keeps read with the reader, and the one it
	 * stopped at (if the framer took it) does not */
	if ((data[0] & 4) && nvals) {
		size_t ok;

		memcpy(buf, vals, nvals < sizeof(buf) ? nvals : sizeof(buf));
		framed =
		    rg_my_rowrun_frame(&rr, buf, nvals < sizeof(buf) ? nvals : sizeof(buf), seq);
		ok = framed ? my_rows_run(&rows, binary, &rr) : 0;
		for (at = 0; at < framed;) {
			size_t len = buf[at] | (size_t)buf[at + 1] << 8 | (size_t)buf[at + 2] << 16;
			bool reads = !read_row(binary, buf + at + 4, len, ncols, types, f);

			if (at < ok ? !reads : reads)
				abort(); /* my_rows_run's check is not the reader's */
			if (at >= ok)
				break;
			(void)one(binary, plan[colrule], at, &ref);
			at += 4 + len;
		}
		if (framed && at != ok)
			abort();
		ref.len = 0;
		return 0;
	}
	if (!nvals)
		return 0;

	/* rows built from the values, up to 300 of them */
	for (int i = 0; i < 300; i++) {
		size_t e = build_row(binary, ncols, types, vals, nvals, &vi, (uint8_t)(seq + i), n);

		if (!e)
			break;
		n = e;
	}
	ref.len = got.len = 0;
	for (at = 0; at < n;)
		at = one(binary, plan[colrule], at, &ref);
	framed = rg_my_rowrun_frame(&rr, buf, n, seq);
	if (framed != n || my_rows_run(&rows, binary, &rr) != n)
		abort(); /* rows built as the server writes them all frame, and read */
	for (at = 0; at < framed;) {
		size_t end = my_rows_clear(&rows, ctx, plan[colrule], &rr, at, &k);

		if (end > at) {
			for (size_t q = at; q < end; k--) {
				size_t len =
				    buf[q] | (size_t)buf[q + 1] << 8 | (size_t)buf[q + 2] << 16;

				if (my_rows_mask(&rows, ctx, plan[colrule], binary, buf + q + 4,
						 len, 1, buf[q + 3]) != 0)
					abort(); /* a proven row the masker would change */
				q += 4 + len;
			}
			if (k || rg_acc_append(&got, buf + at, end - at))
				abort();
			at = end;
			continue;
		}
		at = one(binary, plan[colrule], at, &got);
	}
	if (got.len != ref.len || memcmp(got.p, ref.p, ref.len))
		abort();
	return 0;
}
