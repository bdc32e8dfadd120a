/*
 * rows: the policy's masks applied to what the target sends: DataRows, the texts of
 * ErrorResponse / NoticeResponse, and COPY TO STDOUT rows.
 *
 * Owns the mapping from a column's type and format to what the masker may see and what
 * may be written back, and the rebuilding of the messages. One call of the policy's
 * masker per message (it prefilters and scans each field alone); when it reports nothing
 * changed the caller forwards the original bytes untouched, which is the common case.
 *
 * Invariant: what is written back always decodes for the column's type and format (see
 * pg-int.h, "masking rows and messages"): free text takes masked text, JSON stays JSON (or
 * becomes the JSON null), everything else a mask touched becomes SQL NULL; NULLs stay
 * NULL. Never: I/O, or allocation per message once the scratch and the caller's output
 * buffer have grown.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pg-int.h"
#include "policy.h"

/* Type OIDs (pg_type.dat; fixed across server versions). */
#define OID_BYTEA 17
#define OID_NAME 19
#define OID_TEXT 25
#define OID_JSON 114
#define OID_UNKNOWN 705
#define OID_BPCHAR 1042
#define OID_VARCHAR 1043
#define OID_JSONB 3802

#define JSONB_VERSION 1 /* jsonb's binary form: one version byte, then JSON text */
#define JSON_DEPTH_MAX 1000

enum cls {
	C_FREE = 0,  /* any bytes a mask writes decode */
	C_JSON,	     /* JSON text: must stay valid JSON */
	C_JSONB_BIN, /* jsonb binary: version byte + JSON text */
	C_OTHER,     /* anything else: a changed value becomes NULL */
};

void rg_pg_rowmask_free(struct rg_pg_rowmask *rm)
{
	free(rm->f);
	free(rm->pre);
	rm->f = NULL;
	rm->pre = NULL;
	rm->fcap = 0;
}

static int reserve(struct rg_pg_rowmask *rm, size_t n)
{
	if (n <= rm->fcap)
		return 0;
	size_t cap = rm->fcap ? rm->fcap : 16;
	while (cap < n)
		cap *= 2;
	struct rg_mask_field *f = realloc(rm->f, cap * sizeof(*f));
	if (!f)
		return RG_PG_MASK_E_NOMEM;
	rm->f = f;
	uint8_t *pre = realloc(rm->pre, cap);
	if (!pre)
		return RG_PG_MASK_E_NOMEM;
	rm->pre = pre;
	rm->fcap = (uint32_t)cap;
	return 0;
}

static bool free_text_oid(const struct rg_pg_rowmask *rm, uint32_t oid)
{
	switch (oid) {
	case OID_TEXT:
	case OID_VARCHAR:
	case OID_BPCHAR:
	case OID_NAME:
	case OID_UNKNOWN:
		return true;
	default:
		for (uint8_t i = 0; i < rm->nextra && i < RG_PG_MASK_EXTRA_TEXT; i++)
			if (rm->extra_text[i] == oid)
				return true;
		return false;
	}
}

static enum cls classify(const struct rg_pg_rowmask *rm, const struct rg_pg_rcol *c)
{
	if (!c)
		return C_OTHER;
	if (c->format == 0) {
		if (free_text_oid(rm, c->type_oid))
			return C_FREE;
		if (c->type_oid == OID_JSON || c->type_oid == OID_JSONB)
			return C_JSON;
		return C_OTHER;
	}
	if (c->format == 1) {
		if (free_text_oid(rm, c->type_oid) || c->type_oid == OID_BYTEA)
			return C_FREE;
		if (c->type_oid == OID_JSON)
			return C_JSON;
		if (c->type_oid == OID_JSONB)
			return C_JSONB_BIN;
	}
	return C_OTHER;
}

/* ---- JSON validation (RFC 8259), iterative with a bounded stack ---------------------- */

static size_t ws(const uint8_t *p, size_t n, size_t i)
{
	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
		i++;
	return i;
}

static bool hex(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* A string at p[i] == '"'; returns the index after it, or 0. */
static size_t json_string(const uint8_t *p, size_t n, size_t i)
{
	for (i++; i < n; i++) {
		uint8_t c = p[i];
		if (c == '"')
			return i + 1;
		if (c < 0x20)
			return 0;
		if (c == '\\') {
			if (++i >= n)
				return 0;
			switch (p[i]) {
			case '"':
			case '\\':
			case '/':
			case 'b':
			case 'f':
			case 'n':
			case 'r':
			case 't':
				break;
			case 'u':
				if (i + 4 >= n || !hex(p[i + 1]) || !hex(p[i + 2]) || !hex(p[i + 3]) ||
				    !hex(p[i + 4]))
					return 0;
				i += 4;
				break;
			default:
				return 0;
			}
		}
	}
	return 0;
}

/* A number or literal at p[i]; returns the index after it, or 0. */
static size_t json_scalar(const uint8_t *p, size_t n, size_t i)
{
	static const char *const lit[] = {"true", "false", "null"};
	for (int k = 0; k < 3; k++) {
		size_t l = strlen(lit[k]);
		if (n - i >= l && !memcmp(p + i, lit[k], l))
			return i + l;
	}
	size_t s = i;
	if (i < n && p[i] == '-')
		i++;
	if (i >= n || !digit(p[i]))
		return 0;
	if (p[i] == '0')
		i++;
	else
		while (i < n && digit(p[i]))
			i++;
	if (i < n && p[i] == '.') {
		if (++i >= n || !digit(p[i]))
			return 0;
		while (i < n && digit(p[i]))
			i++;
	}
	if (i < n && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < n && (p[i] == '+' || p[i] == '-'))
			i++;
		if (i >= n || !digit(p[i]))
			return 0;
		while (i < n && digit(p[i]))
			i++;
	}
	return i > s ? i : 0;
}

bool rg_pg_json_valid(const uint8_t *p, size_t n)
{
	uint8_t stack[JSON_DEPTH_MAX]; /* '{' or '[' */
	size_t depth = 0, i = ws(p, n, 0);

	for (;;) {
		/* a value at i */
		if (i >= n)
			return false;
		if (p[i] == '{' || p[i] == '[') {
			if (depth == JSON_DEPTH_MAX)
				return false;
			stack[depth++] = p[i];
			i = ws(p, n, i + 1);
			if (i < n && p[i] == (stack[depth - 1] == '{' ? '}' : ']')) {
				depth--;
				i++;
				goto after_value;
			}
			if (stack[depth - 1] == '{')
				goto key;
			continue;
		}
		if (p[i] == '"')
			i = json_string(p, n, i);
		else
			i = json_scalar(p, n, i);
		if (!i)
			return false;
	after_value:
		i = ws(p, n, i);
		if (!depth)
			return i == n;
		if (i < n && p[i] == ',') {
			i = ws(p, n, i + 1);
			if (stack[depth - 1] == '[')
				continue;
			goto key;
		}
		if (i < n && p[i] == (stack[depth - 1] == '{' ? '}' : ']')) {
			depth--;
			i++;
			goto after_value;
		}
		return false;
	key:
		if (i >= n || p[i] != '"' || !(i = json_string(p, n, i)))
			return false;
		i = ws(p, n, i);
		if (i >= n || p[i] != ':')
			return false;
		i = ws(p, n, i + 1);
	}
}

/* ---- output ----------------------------------------------------------------------------- */

static int put(struct rg_acc *out, const void *p, size_t n)
{
	return n && rg_acc_append(out, p, n) ? RG_PG_MASK_E_NOMEM : 0;
}

static int put32(struct rg_acc *out, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
	return put(out, b, 4);
}

/* Start a message of type t in out (length patched by finish). */
static int start(struct rg_acc *out, uint8_t t)
{
	out->len = 0;
	return put(out, &t, 1) || put32(out, 0) ? RG_PG_MASK_E_NOMEM : 0;
}

static int finish(struct rg_acc *out)
{
	if (out->len - 1 > RG_PG_LEN_MAX)
		return RG_PG_MASK_E_TOO_LONG;
	uint32_t len = (uint32_t)(out->len - 1);
	out->p[1] = (uint8_t)(len >> 24);
	out->p[2] = (uint8_t)(len >> 16);
	out->p[3] = (uint8_t)(len >> 8);
	out->p[4] = (uint8_t)len;
	return RG_PG_MASK_REWRITTEN;
}

static int put_field(struct rg_acc *out, const uint8_t *pre, size_t npre, const uint8_t *p,
		     size_t n)
{
	if (npre + n > INT32_MAX)
		return RG_PG_MASK_E_TOO_LONG;
	return put32(out, (uint32_t)(npre + n)) || put(out, pre, npre) || put(out, p, n)
		   ? RG_PG_MASK_E_NOMEM
		   : 0;
}

static const uint8_t JSON_NULL[] = "null";

/* ---- DataRow ---------------------------------------------------------------------------- */

/*
 * Most rows hold nothing to mask. One pass over the fields asks the masker about each
 * (rg_policy_mask_field_clear: its shortcuts and prefilter, no field list, no output); true
 * means no field can change and the row goes out as it came. Anything else (a field that
 * may match, a column rule on a column, binary jsonb, a malformed row) is left to the full
 * path, which decides and reports errors.
 */
static bool row_clear(struct rg_policy_ctx *c, const struct rg_mask_plan *plan,
		      const struct rg_pg_shape *shape, const struct rg_pg_msg *row)
{
	struct rg_pg_iter it;
	struct rg_pg_field f;
	uint16_t n;

	if (rg_pg_datarow_begin(row, &it, &n) || (shape && shape->ncols != n))
		return false;
	for (uint16_t i = 0; i < n; i++) {
		if (rg_pg_field_next(&it, &f) != 1)
			return false;
		if (plan && plan->column_action && i < plan->ncolumns &&
		    plan->column_action[i] >= 0)
			return false;
		if (f.len < 0)
			continue;
		const struct rg_pg_rcol *col = shape ? &shape->cols[i] : NULL;
		if (col && col->format == 1 && col->type_oid == OID_JSONB)
			return false;
		if (!rg_policy_mask_field_clear(c, plan, f.data, (size_t)f.len))
			return false;
	}
	return rg_pg_field_next(&it, &f) == 0;
}

int rg_pg_mask_datarow(struct rg_policy_ctx *c, const struct rg_mask_plan *plan,
		       const struct rg_pg_shape *shape, const struct rg_pg_msg *row,
		       struct rg_pg_rowmask *rm, struct rg_acc *out)
{
	struct rg_pg_iter it;
	struct rg_pg_field f;
	struct rg_mask_result res;
	uint16_t n;
	int r;

	if (row_clear(c, plan, shape, row))
		return RG_PG_MASK_UNCHANGED;
	if (rg_pg_datarow_begin(row, &it, &n) || (shape && shape->ncols != n))
		return RG_PG_MASK_E_SHAPE;
	if ((r = reserve(rm, n)))
		return r;
	for (uint16_t i = 0; i < n; i++) {
		if (rg_pg_field_next(&it, &f) != 1)
			return RG_PG_MASK_E_SHAPE;
		const struct rg_pg_rcol *col = shape ? &shape->cols[i] : NULL;
		rm->pre[i] = 0;
		/* only binary jsonb has a version byte (classify's C_JSONB_BIN) */
		if (col && col->format == 1 && col->type_oid == OID_JSONB && f.len >= 1 &&
		    f.data[0] == JSONB_VERSION)
			rm->pre[i] = 1;
		rm->f[i] = (struct rg_mask_field){f.len < 0 ? NULL : f.data + rm->pre[i],
						  f.len < 0 ? 0 : (uint32_t)f.len - rm->pre[i],
						  f.len < 0};
	}
	if (rg_pg_field_next(&it, &f) != 0)
		return RG_PG_MASK_E_SHAPE;
	if (rg_policy_mask_row(c, plan, rm->f, n, &res))
		return RG_PG_MASK_E_MASKER;
	rm->hit = res.detectors_hit;
	if (!res.changed)
		return RG_PG_MASK_UNCHANGED;

	uint8_t cnt[2] = {(uint8_t)(n >> 8), (uint8_t)n};
	if ((r = start(out, RG_PG_BE_DATA_ROW)) || (r = put(out, cnt, 2)))
		return r;
	for (uint16_t i = 0; i < n; i++) {
		const struct rg_mask_out_field *o = &res.fields[i];
		const uint8_t *pre = rm->pre[i] ? rm->f[i].data - 1 : NULL;
		enum cls k = classify(rm, shape ? &shape->cols[i] : NULL);

		if (rm->f[i].is_null || (o->changed && (o->is_null || k == C_OTHER))) {
			r = put32(out, UINT32_MAX); /* -1: NULL */
		} else if (!o->changed) {
			r = put_field(out, pre, rm->pre[i], o->data, o->len);
		} else if (k == C_JSONB_BIN && !rm->pre[i]) {
			r = put32(out, UINT32_MAX); /* unknown jsonb version: cannot rebuild */
		} else if ((k == C_JSON || k == C_JSONB_BIN) && !rg_pg_json_valid(o->data, o->len)) {
			/* masked text that is no longer JSON (a number masked, a static text
			 * with quotes): the JSON null keeps the value decodable */
			r = put_field(out, pre, rm->pre[i], JSON_NULL, 4);
		} else {
			r = put_field(out, pre, rm->pre[i], o->data, o->len);
		}
		if (r)
			return r;
	}
	return finish(out);
}

static uint32_t rd32(const uint8_t *p);

/* ---- runs of DataRows ------------------------------------------------------------------- */

/* The fields of the row body b[0..len): true when there are exactly ncols and they fill it
 * (what rg_pg_datarow_begin and rg_pg_field_next accept). */
static inline bool row_fields(const uint8_t *b, size_t len, uint16_t ncols)
{
	size_t i = 2;

	if (len < 2 || (uint16_t)(b[0] << 8 | b[1]) != ncols)
		return false;
	for (uint16_t k = 0; k < ncols; k++) {
		uint32_t l;

		if (len - i < 4)
			return false;
		l = rd32(b + i);
		i += 4;
		if (l == UINT32_MAX)
			continue; /* NULL */
		if (l > RG_PG_LEN_MAX || l > len - i)
			return false;
		i += l;
	}
	return i == len;
}

size_t rg_pg_rowrun_frame(struct rg_pg_rowrun *rr, const uint8_t *p, size_t n, uint32_t max_len,
			  int32_t ncols)
{
	size_t at = 0;

	rr->p = p;
	rr->rows = 0;
	rr->nends = 0;
	rr->checked = ncols >= 0;
	while (n - at >= 5 && p[at] == RG_PG_BE_DATA_ROW) {
		uint32_t len = rd32(p + at + 1);

		/* the kernel's copy into the buffer does not leave it in this core's cache, and
		 * each row's start hangs on the length before it: ask for the lines ahead (a
		 * hint, never a fault, also past the end) */
		__builtin_prefetch(p + at + 512);
		__builtin_prefetch(p + at + 576);

		if (len < 4 || len > max_len || len > RG_PG_LEN_MAX || len > n - at - 1)
			break;
		if (ncols >= 0 && !row_fields(p + at + 5, len - 4, (uint16_t)ncols))
			break;
		at += (size_t)len + 1;
		if (rr->nends == rr->rows && rr->nends < RG_PG_ROWRUN_ENDS && at <= UINT32_MAX)
			rr->end[rr->nends++] = (uint32_t)at;
		rr->rows++;
	}
	rr->framed = at;
	return at;
}

size_t rg_pg_rowrun_clear(const struct rg_pg_rowrun *rr, struct rg_policy_ctx *c,
			  const struct rg_mask_plan *plan, const struct rg_pg_shape *shape,
			  size_t off, uint32_t *nrows)
{
	size_t lim, at = off;

	*nrows = 0;
	if (!rr->checked || off >= rr->framed)
		return off;
	for (uint16_t i = 0; i < shape->ncols; i++) {
		if (plan && plan->column_action && i < plan->ncolumns &&
		    plan->column_action[i] >= 0)
			return off;
		if (shape->cols[i].format == 1 && shape->cols[i].type_oid == OID_JSONB)
			return off;
	}
	lim = rg_policy_mask_run_clear(c, plan, rr->p, rr->framed, off);
	/* rows whose last field ends 4 or more bytes before lim (a row ends with its last
	 * field, or with its count when it has none): from the ends noted while framing, the
	 * first row ending after off being the one at off, then past them by their lengths */
	uint32_t lo = 0, hi = rr->nends;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (rr->end[mid] > off)
			hi = mid;
		else
			lo = mid + 1;
	}
	for (; lo < rr->nends; lo++) {
		if (lim != SIZE_MAX && (size_t)rr->end[lo] + 4 > lim)
			return at;
		at = rr->end[lo];
		(*nrows)++;
	}
	while (at < rr->framed) {
		size_t end = at + 1 + rd32(rr->p + at + 1);

		if (lim != SIZE_MAX && end + 4 > lim)
			break;
		at = end;
		(*nrows)++;
	}
	return at;
}

/* ---- FunctionCallResponse ----------------------------------------------------------------- */

int rg_pg_mask_fcall_result(struct rg_policy_ctx *c, const struct rg_mask_plan *plan,
			    const struct rg_pg_msg *m, struct rg_pg_rowmask *rm, struct rg_acc *out)
{
	struct rg_mask_result res;
	uint32_t len;
	int r;

	if (m->body_len < 4)
		return RG_PG_MASK_E_SHAPE;
	len = rd32(m->body);
	if (len == UINT32_MAX)
		return RG_PG_MASK_UNCHANGED; /* NULL */
	if ((uint64_t)len + 4 != m->body_len)
		return RG_PG_MASK_E_SHAPE;
	if ((r = reserve(rm, 1)))
		return r;
	rm->f[0] = (struct rg_mask_field){m->body + 4, len, false};
	if (rg_policy_mask_row(c, plan, rm->f, 1, &res))
		return RG_PG_MASK_E_MASKER;
	rm->hit = res.detectors_hit;
	if (!res.changed)
		return RG_PG_MASK_UNCHANGED;
	/* the result's type is not known here: NULL decodes for every type */
	if ((r = start(out, RG_PG_BE_FUNCTION_RESULT)) || (r = put32(out, UINT32_MAX)))
		return r;
	return finish(out);
}

/* ---- ErrorResponse / NoticeResponse ----------------------------------------------------- */

static bool notice_masked_code(uint8_t code)
{
	return code == 'M' || code == 'D' || code == 'H' || code == 'W' || code == 'q';
}

#define NOTICE_FIELDS_MAX 64 /* PostgreSQL sends at most 18 kinds */

int rg_pg_mask_notice(struct rg_policy_ctx *c, const struct rg_mask_plan *plan,
		      const struct rg_pg_msg *m, struct rg_pg_rowmask *rm, struct rg_acc *out)
{
	static const char masked[] = "[masked]";
	struct rg_mask_plan detectors = {NULL, 0, plan ? plan->enabled : NULL,
					  plan ? plan->detectors : 0};
	struct rg_mask_result res;
	struct rg_pg_iter it;
	const char *v;
	uint8_t code;
	size_t n = 0;
	int r;

	if (m->type != RG_PG_BE_ERROR && m->type != RG_PG_BE_NOTICE)
		return RG_PG_MASK_E_SHAPE;
	if ((r = reserve(rm, NOTICE_FIELDS_MAX)))
		return r;
	if (rg_pg_notice_begin(m, &it))
		return RG_PG_MASK_E_SHAPE;
	while ((r = rg_pg_notice_next(&it, &code, &v)) == 1) {
		if (!notice_masked_code(code))
			continue;
		if (n == NOTICE_FIELDS_MAX)
			return RG_PG_MASK_E_SHAPE;
		rm->f[n++] = (struct rg_mask_field){(const uint8_t *)v, (uint32_t)strlen(v), false};
	}
	if (r < 0)
		return RG_PG_MASK_E_SHAPE;
	if (!n)
		return RG_PG_MASK_UNCHANGED;
	if (rg_policy_mask_row(c, &detectors, rm->f, n, &res))
		return RG_PG_MASK_E_MASKER;
	rm->hit = res.detectors_hit;
	if (!res.changed)
		return RG_PG_MASK_UNCHANGED;

	if ((r = start(out, m->type)))
		return r;
	rg_pg_notice_begin(m, &it);
	n = 0;
	while (rg_pg_notice_next(&it, &code, &v) == 1) {
		const uint8_t *p = (const uint8_t *)v;
		size_t len = strlen(v);
		if (notice_masked_code(code)) {
			const struct rg_mask_out_field *o = &res.fields[n++];
			if (o->changed && o->is_null) {
				p = (const uint8_t *)masked;
				len = sizeof(masked) - 1;
			} else if (o->changed) {
				p = o->data;
				len = o->len;
				if (memchr(p, 0, len)) { /* a NUL would end the field early */
					p = (const uint8_t *)masked;
					len = sizeof(masked) - 1;
				}
			}
		}
		if (put(out, &code, 1) || put(out, p, len) || put(out, "", 1))
			return RG_PG_MASK_E_NOMEM;
	}
	if (put(out, "", 1))
		return RG_PG_MASK_E_NOMEM;
	return finish(out);
}

/* ---- COPY TO STDOUT --------------------------------------------------------------------- */

static bool structural(uint8_t b)
{
	return b == '\t' || b == '\n' || b == '\r' || b == '\\' || b == ',' || b == '"';
}

/* Whether a and b hold the same structural bytes in the same order. */
static bool same_structure(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
	size_t i = 0, j = 0;

	for (;;) {
		while (i < na && !structural(a[i]))
			i++;
		while (j < nb && !structural(b[j]))
			j++;
		if (i == na || j == nb)
			return i == na && j == nb;
		if (a[i++] != b[j++])
			return false;
	}
}

static const uint8_t PGCOPY[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0};

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * Walk a binary COPY message: the header if it starts with the signature, then tuples
 * (int16 count, then int32 length -1 or >= 0 and the bytes) and possibly the trailer (-1)
 * as the last thing. With fields, each field is stored there (rm grown as needed) and
 * *nf counts them. Returns the header's length, or -1 if the bytes do not parse.
 */
static ssize_t copy_binary_walk(const uint8_t *p, size_t n, struct rg_pg_rowmask *rm,
				size_t *nf)
{
	size_t off = 0, hdr = 0;

	*nf = 0;
	if (n >= sizeof(PGCOPY) && !memcmp(p, PGCOPY, sizeof(PGCOPY))) {
		if (n < sizeof(PGCOPY) + 8)
			return -1;
		uint32_t ext = rd32(p + sizeof(PGCOPY) + 4);
		if (ext > n - sizeof(PGCOPY) - 8)
			return -1;
		off = hdr = sizeof(PGCOPY) + 8 + ext;
	}
	while (off < n) {
		if (n - off < 2)
			return -1;
		int16_t cnt = (int16_t)(p[off] << 8 | p[off + 1]);
		off += 2;
		if (cnt == -1)
			return off == n ? (ssize_t)hdr : -1; /* the trailer ends the data */
		if (cnt < 0)
			return -1;
		for (int16_t i = 0; i < cnt; i++) {
			if (n - off < 4)
				return -1;
			int32_t len = (int32_t)rd32(p + off);
			off += 4;
			if (len < -1 || (len > 0 && (size_t)len > n - off))
				return -1;
			if (reserve(rm, *nf + 1))
				return -2;
			rm->f[(*nf)++] = (struct rg_mask_field){len < 0 ? NULL : p + off,
							     len < 0 ? 0 : (uint32_t)len, len < 0};
			if (len > 0)
				off += (size_t)len;
		}
	}
	return (ssize_t)hdr;
}

static int copy_binary(struct rg_policy_ctx *c, const struct rg_mask_plan *detectors,
		       const struct rg_pg_msg *m, struct rg_pg_rowmask *rm, struct rg_acc *out)
{
	struct rg_mask_result res;
	size_t nf, k = 0, off;
	ssize_t hdr = copy_binary_walk(m->body, m->body_len, rm, &nf);
	int r;

	if (hdr == -2)
		return RG_PG_MASK_E_NOMEM;
	if (hdr < 0)
		return RG_PG_MASK_E_UNSUPPORTED;
	if (!nf)
		return RG_PG_MASK_UNCHANGED;
	if (rg_policy_mask_row(c, detectors, rm->f, nf, &res))
		return RG_PG_MASK_E_MASKER;
	rm->hit = res.detectors_hit;
	if (!res.changed)
		return RG_PG_MASK_UNCHANGED;
	if ((r = start(out, RG_PG_BE_COPY_DATA)) || (r = put(out, m->body, (size_t)hdr)))
		return r;
	/* the same walk again, copying counts and unchanged fields, NULL for changed ones */
	for (off = (size_t)hdr; off < m->body_len;) {
		const uint8_t *p = m->body;
		int16_t cnt = (int16_t)(p[off] << 8 | p[off + 1]);
		if ((r = put(out, p + off, 2)))
			return r;
		off += 2;
		for (int16_t i = 0; cnt > 0 && i < cnt; i++, k++) {
			int32_t len = (int32_t)rd32(p + off);
			size_t whole = 4 + (len > 0 ? (size_t)len : 0);
			r = res.fields[k].changed ? put32(out, UINT32_MAX) : put(out, p + off, whole);
			if (r)
				return r;
			off += whole;
		}
	}
	return finish(out);
}

int rg_pg_mask_copy_data(struct rg_policy_ctx *c, const struct rg_mask_plan *plan, int format,
			 const struct rg_pg_msg *m, struct rg_pg_rowmask *rm, struct rg_acc *out)
{
	struct rg_mask_plan detectors = {NULL, 0, plan ? plan->enabled : NULL,
					  plan ? plan->detectors : 0};
	struct rg_mask_result res;
	int r;

	if (m->type != RG_PG_BE_COPY_DATA)
		return RG_PG_MASK_E_SHAPE;
	if (format != 0)
		return copy_binary(c, &detectors, m, rm, out);
	if ((r = reserve(rm, 1)))
		return r;
	rm->f[0] = (struct rg_mask_field){m->body, m->body_len, false};
	if (rg_policy_mask_row(c, &detectors, rm->f, 1, &res))
		return RG_PG_MASK_E_MASKER;
	rm->hit = res.detectors_hit;
	if (!res.changed)
		return RG_PG_MASK_UNCHANGED;
	const struct rg_mask_out_field *o = &res.fields[0];
	if ((r = start(out, RG_PG_BE_COPY_DATA)))
		return r;
	if (!o->is_null && same_structure(m->body, m->body_len, o->data, o->len)) {
		if ((r = put(out, o->data, o->len)))
			return r;
		return finish(out);
	}
	/* the whole line redacted: only letters, digits and non-ASCII bytes change */
	size_t at = out->len;
	if ((r = put(out, m->body, m->body_len)))
		return r;
	for (size_t i = at; i < out->len; i++) {
		uint8_t b = out->p[i];
		if ((b >= '0' && b <= '9') || (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') ||
		    b >= 0x80)
			out->p[i] = '*';
	}
	return finish(out);
}
