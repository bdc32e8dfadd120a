/*
 * rows.c: result sets and prepared statements (see mysql-wire.h): column count and
 * ColumnDefinition41, text and binary rows as field spans (payload offset + length, so a
 * masker can find and rewrite a value without copying the row), COM_STMT_PREPARE's answer,
 * and the statement commands, above all COM_STMT_EXECUTE, whose parameters the gateway
 * records.
 *
 * The binary protocol has no per-value length for numbers: a value's size comes from its
 * type, so one table (type_class) decides for every MYSQL_TYPE_* how many bytes follow,
 * and types that never travel on the wire are refused rather than guessed. Parameters that
 * arrived through COM_STMT_SEND_LONG_DATA are absent from the execute packet, as in the
 * server's own parser; reading them from it would shift every later parameter.
 */
#include "wire-int.h"

/* Fixed size (> 0), TEMPORAL (length byte + 0..12 bytes), LENENC (string), NONE (0 bytes),
 * or BAD (never on the wire). */
enum { TC_BAD = -1, TC_NONE = 0, TC_TEMPORAL = 100, TC_LENENC = 101, TC_TIME = 102 };

static int type_class(uint8_t t)
{
	switch (t) {
	case RG_MY_TYPE_TINY:
		return 1;
	case RG_MY_TYPE_SHORT:
	case RG_MY_TYPE_YEAR:
		return 2;
	case RG_MY_TYPE_LONG:
	case RG_MY_TYPE_INT24:
	case RG_MY_TYPE_FLOAT:
		return 4;
	case RG_MY_TYPE_LONGLONG:
	case RG_MY_TYPE_DOUBLE:
		return 8;
	case RG_MY_TYPE_NULL:
		return TC_NONE;
	case RG_MY_TYPE_DATE:
	case RG_MY_TYPE_DATETIME:
	case RG_MY_TYPE_TIMESTAMP:
		return TC_TEMPORAL;
	case RG_MY_TYPE_TIME:
		return TC_TIME;
	case RG_MY_TYPE_DECIMAL:
	case RG_MY_TYPE_NEWDECIMAL:
	case RG_MY_TYPE_VARCHAR:
	case RG_MY_TYPE_BIT:
	case RG_MY_TYPE_ENUM:
	case RG_MY_TYPE_SET:
	case RG_MY_TYPE_TINY_BLOB:
	case RG_MY_TYPE_MEDIUM_BLOB:
	case RG_MY_TYPE_LONG_BLOB:
	case RG_MY_TYPE_BLOB:
	case RG_MY_TYPE_VAR_STRING:
	case RG_MY_TYPE_STRING:
	case RG_MY_TYPE_GEOMETRY:
	case RG_MY_TYPE_JSON:
	case RG_MY_TYPE_VECTOR:
		return TC_LENENC;
	}
	return TC_BAD; /* NEWDATE, TIMESTAMP2, DATETIME2, TIME2, TYPED_ARRAY, BOOL, unknown */
}

ssize_t rg_my_binary_value(uint8_t type, const uint8_t *p, size_t n, uint32_t *data_off,
			   uint64_t *data_len)
{
	int tc = type_class(type);
	uint64_t len;
	int k;

	*data_off = 0;
	*data_len = 0;
	switch (tc) {
	case TC_BAD:
		return RG_MY_E_VALUE;
	case TC_NONE:
		return 0;
	case TC_TEMPORAL:
	case TC_TIME:
		if (n < 1)
			return RG_MY_E_TRUNCATED;
		len = p[0];
		if (tc == TC_TEMPORAL ? len != 0 && len != 4 && len != 7 && len != 11
				      : len != 0 && len != 8 && len != 12)
			return RG_MY_E_VALUE;
		if (n - 1 < len)
			return RG_MY_E_TRUNCATED;
		*data_off = 1;
		*data_len = len;
		return 1 + (ssize_t)len;
	case TC_LENENC:
		k = rg_my_lenenc_decode(p, n, &len, NULL);
		if (k < 0)
			return k;
		if (len > n - (size_t)k)
			return RG_MY_E_TRUNCATED;
		*data_off = (uint32_t)k;
		*data_len = len;
		return k + (ssize_t)len;
	}
	if (n < (size_t)tc)
		return RG_MY_E_TRUNCATED;
	*data_len = (uint64_t)tc;
	return tc;
}

/* ---- Result set metadata ------------------------------------------------------------------- */

int rg_my_read_column_count(const uint8_t *p, size_t n, uint64_t caps, uint64_t *count)
{
	struct rg_my_rd r;

	if (caps & (RG_MY_MARIADB_CLIENT_CACHE_METADATA | RG_MY_CLIENT_OPTIONAL_RESULTSET_METADATA))
		return RG_MY_E_PROTOCOL;
	if (n && (p[0] == 0x00 || p[0] == 0xff || p[0] == 0xfb))
		return RG_MY_E_WRONG_TYPE; /* OK, ERR, LOCAL INFILE request */
	rg_my_rd_init(&r, p, n);
	TRY(rg_my_rd_lenenc(&r, count, NULL));
	TRY(rg_my_rd_end(&r));
	return *count ? 0 : RG_MY_E_VALUE;
}

int rg_my_read_column(const uint8_t *p, size_t n, uint64_t caps, bool field_list,
		      struct rg_my_column *out)
{
	struct rg_my_rd r;
	uint64_t v;

	memset(out, 0, sizeof(*out));
	rg_my_rd_init(&r, p, n);
	TRY(rg_my_rd_lenenc_str(&r, &out->catalog));
	TRY(rg_my_rd_lenenc_str(&r, &out->schema));
	TRY(rg_my_rd_lenenc_str(&r, &out->table));
	TRY(rg_my_rd_lenenc_str(&r, &out->org_table));
	TRY(rg_my_rd_lenenc_str(&r, &out->name));
	TRY(rg_my_rd_lenenc_str(&r, &out->org_name));
	out->ext.p = out->defval.p = r.p + r.off;
	out->ext.off = out->defval.off = (uint32_t)r.off;
	if (caps & RG_MY_MARIADB_CLIENT_EXTENDED_METADATA)
		TRY(rg_my_rd_lenenc_str(&r, &out->ext));
	TRY(rg_my_rd_lenenc(&r, &v, NULL));
	if (v != 0x0c)
		return RG_MY_E_VALUE;
	TRY(rg_my_rd_fixed(&r, 2, &v));
	out->charset = (uint16_t)v;
	TRY(rg_my_rd_fixed(&r, 4, &v));
	out->length = (uint32_t)v;
	TRY(rg_my_rd_u8(&r, &out->type));
	TRY(rg_my_rd_fixed(&r, 2, &v));
	out->flags = (uint16_t)v;
	TRY(rg_my_rd_u8(&r, &out->decimals));
	TRY(rg_my_rd_fixed(&r, 2, &v)); /* filler */
	if (field_list && rg_my_rd_left(&r)) {
		bool is_null;

		TRY(rg_my_rd_lenenc(&r, &v, &is_null));
		if (!is_null) {
			if (v > rg_my_rd_left(&r))
				return RG_MY_E_TRUNCATED;
			TRY(rg_my_rd_bytes(&r, (size_t)v, &out->defval));
			out->has_defval = true;
		}
	}
	return rg_my_rd_end(&r);
}

ssize_t rg_my_write_column(uint8_t *buf, size_t cap, uint8_t seq, const struct rg_my_column *c)
{
	struct wr w;

	wr_init(&w, buf, cap);
	wr_lenenc_str(&w, c->catalog.p, c->catalog.len);
	wr_lenenc_str(&w, c->schema.p, c->schema.len);
	wr_lenenc_str(&w, c->table.p, c->table.len);
	wr_lenenc_str(&w, c->org_table.p, c->org_table.len);
	wr_lenenc_str(&w, c->name.p, c->name.len);
	wr_lenenc_str(&w, c->org_name.p, c->org_name.len);
	wr_lenenc(&w, 0x0c);
	wr_le(&w, c->charset, 2);
	wr_le(&w, c->length, 4);
	wr_le(&w, c->type, 1);
	wr_le(&w, c->flags, 2);
	wr_le(&w, c->decimals, 1);
	wr_zero(&w, 2);
	return wr_finish(&w, seq);
}

/* ---- Rows ------------------------------------------------------------------------------------ */

/* OK-as-EOF and ERR are not rows (a row starting with 0xfe is 0xffffff bytes or more). */
static int not_a_row(const uint8_t *p, size_t n)
{
	if (n && (p[0] == 0xff || (p[0] == 0xfe && n < RG_MY_MAX_PACKET)))
		return RG_MY_E_WRONG_TYPE;
	return 0;
}

int rg_my_read_text_row(const uint8_t *p, size_t n, uint32_t ncols, struct rg_my_field *f,
			size_t cap)
{
	struct rg_my_rd r;

	TRY(not_a_row(p, n));
	if (cap < ncols)
		return RG_MY_E_TOO_MANY;
	rg_my_rd_init(&r, p, n);
	for (uint32_t i = 0; i < ncols; i++) {
		uint64_t len;
		bool is_null;

		TRY(rg_my_rd_lenenc(&r, &len, &is_null));
		f[i].is_null = is_null;
		f[i].off = (uint32_t)r.off;
		f[i].len = len;
		if (len > rg_my_rd_left(&r))
			return RG_MY_E_TRUNCATED;
		r.off += (size_t)len;
	}
	return rg_my_rd_end(&r);
}

ssize_t rg_my_write_text_row(uint8_t *buf, size_t cap, uint8_t seq, const struct rg_my_value *v,
			     size_t n)
{
	struct wr w;

	wr_init(&w, buf, cap);
	for (size_t i = 0; i < n; i++) {
		if (!v[i].data)
			wr_le(&w, 0xfb, 1);
		else
			wr_lenenc_str(&w, v[i].data, v[i].len);
	}
	return wr_finish(&w, seq);
}

int rg_my_read_binary_row(const uint8_t *p, size_t n, uint32_t ncols, const uint8_t *types,
			  struct rg_my_field *f, size_t cap)
{
	struct rg_my_rd r;
	struct rg_my_str bitmap;
	uint8_t h;

	TRY(not_a_row(p, n));
	if (cap < ncols)
		return RG_MY_E_TOO_MANY;
	rg_my_rd_init(&r, p, n);
	TRY(rg_my_rd_u8(&r, &h));
	if (h != 0x00)
		return RG_MY_E_WRONG_TYPE;
	TRY(rg_my_rd_bytes(&r, ((size_t)ncols + 9) / 8, &bitmap));
	for (uint32_t i = 0; i < ncols; i++) {
		uint32_t bit = i + 2, doff;
		uint64_t dlen;
		ssize_t k;

		f[i].is_null = bitmap.p[bit / 8] & (1u << (bit % 8));
		f[i].off = (uint32_t)r.off;
		f[i].len = 0;
		if (f[i].is_null)
			continue;
		k = rg_my_binary_value(types[i], r.p + r.off, rg_my_rd_left(&r), &doff, &dlen);
		if (k < 0)
			return (int)k;
		f[i].off = (uint32_t)(r.off + doff);
		f[i].len = dlen;
		r.off += (size_t)k;
	}
	return rg_my_rd_end(&r);
}

/* ---- Runs of rows -------------------------------------------------------------------------- */

size_t rg_my_rowrun_frame(struct rg_my_rowrun *rr, const uint8_t *p, size_t n, uint8_t seq)
{
	size_t at = 0;

	rr->p = p;
	rr->rows = 0;
	while (n - at >= RG_MY_HDR) {
		const uint8_t *q = p + at + RG_MY_HDR;
		size_t len = (size_t)le_get(p + at, 3);

		/* the kernel's copy is not in this core's cache yet, and each row's start hangs
		 * on the length before it: ask for the lines ahead (a hint, never a fault) */
		__builtin_prefetch(p + at + 512);
		if (p[at + 3] != seq || len >= RG_MY_MAX_PACKET || len > n - at - RG_MY_HDR ||
		    !len || q[0] == 0xff || q[0] == 0xfe)
			break;
		at += RG_MY_HDR + len;
		seq = rg_my_seq_next(seq);
		rr->rows++;
	}
	rr->framed = at;
	rr->seq_next = seq;
	return at;
}

/* ---- Prepared statements --------------------------------------------------------------- */

int rg_my_read_prepare_ok(const uint8_t *p, size_t n, struct rg_my_prepare_ok *out)
{
	struct rg_my_rd r;
	uint8_t h;
	uint64_t v;

	memset(out, 0, sizeof(*out));
	rg_my_rd_init(&r, p, n);
	TRY(rg_my_rd_u8(&r, &h));
	if (h != 0x00)
		return RG_MY_E_WRONG_TYPE;
	TRY(rg_my_rd_fixed(&r, 4, &v));
	out->stmt_id = (uint32_t)v;
	TRY(rg_my_rd_fixed(&r, 2, &v));
	out->ncols = (uint16_t)v;
	TRY(rg_my_rd_fixed(&r, 2, &v));
	out->nparams = (uint16_t)v;
	TRY(rg_my_rd_fixed(&r, 1, &v)); /* reserved */
	if (rg_my_rd_left(&r)) {	/* "if more data": every 4.1+ server sends it */
		TRY(rg_my_rd_fixed(&r, 2, &v));
		out->warnings = (uint16_t)v;
	}
	return rg_my_rd_end(&r);
}

ssize_t rg_my_write_prepare_ok(uint8_t *buf, size_t cap, uint8_t seq,
			       const struct rg_my_prepare_ok *ok)
{
	struct wr w;

	wr_init(&w, buf, cap);
	wr_le(&w, 0x00, 1);
	wr_le(&w, ok->stmt_id, 4);
	wr_le(&w, ok->ncols, 2);
	wr_le(&w, ok->nparams, 2);
	wr_zero(&w, 1);
	wr_le(&w, ok->warnings, 2);
	return wr_finish(&w, seq);
}

int rg_my_read_execute(const uint8_t *p, size_t n, uint16_t nparams, const uint8_t *prev_types,
		       const uint8_t *long_data, struct rg_my_execute *out,
		       struct rg_my_param *params, size_t cap)
{
	struct rg_my_rd r;
	struct rg_my_str s;
	uint8_t c;
	uint64_t v;

	memset(out, 0, sizeof(*out));
	rg_my_rd_init(&r, p, n);
	TRY(rg_my_rd_u8(&r, &c));
	if (c != RG_MY_COM_STMT_EXECUTE)
		return RG_MY_E_WRONG_TYPE;
	TRY(rg_my_rd_fixed(&r, 4, &v));
	out->stmt_id = (uint32_t)v;
	TRY(rg_my_rd_u8(&r, &out->flags));
	if (out->flags & RG_MY_PARAMETER_COUNT_AVAILABLE)
		return RG_MY_E_PROTOCOL; /* query attributes are never negotiated */
	TRY(rg_my_rd_fixed(&r, 4, &v));
	out->iterations = (uint32_t)v;
	out->nparams = nparams;
	if (!nparams)
		return rg_my_rd_end(&r);
	if (cap < nparams)
		return RG_MY_E_TOO_MANY;
	TRY(rg_my_rd_bytes(&r, ((size_t)nparams + 7) / 8, &s));
	out->null_bitmap = s.p;
	TRY(rg_my_rd_u8(&r, &c));
	if (c > 1)
		return RG_MY_E_VALUE;
	out->new_params_bound = c;
	if (c) {
		TRY(rg_my_rd_bytes(&r, (size_t)nparams * 2, &s));
		out->types = s.p;
	} else {
		if (!prev_types)
			return RG_MY_E_PROTOCOL; /* no types were ever bound */
		out->types = prev_types;
	}
	for (uint16_t i = 0; i < nparams; i++) {
		struct rg_my_param *q = &params[i];
		uint32_t doff;
		uint64_t dlen;
		ssize_t k;

		memset(q, 0, sizeof(*q));
		q->type = out->types[2 * i];
		q->is_unsigned = out->types[2 * i + 1] & RG_MY_PARAM_UNSIGNED;
		q->off = (uint32_t)r.off;
		/* The server checks long data before the NULL bit, and reads nothing for it. */
		if (long_data && (long_data[i / 8] & (1u << (i % 8)))) {
			q->long_data = true;
			continue;
		}
		if (out->null_bitmap[i / 8] & (1u << (i % 8))) {
			q->is_null = true;
			continue;
		}
		k = rg_my_binary_value(q->type, r.p + r.off, rg_my_rd_left(&r), &doff, &dlen);
		if (k < 0)
			return (int)k;
		q->off = (uint32_t)(r.off + doff);
		q->len = dlen;
		r.off += (size_t)k;
	}
	return rg_my_rd_end(&r);
}

ssize_t rg_my_write_execute(uint8_t *buf, size_t cap, uint32_t stmt_id, uint8_t flags,
			    const uint8_t *types, const struct rg_my_value *v, uint16_t nparams)
{
	struct wr w;
	uint8_t bitmap[8192] = {0};

	wr_init(&w, buf, cap);
	wr_le(&w, RG_MY_COM_STMT_EXECUTE, 1);
	wr_le(&w, stmt_id, 4);
	wr_le(&w, flags, 1);
	wr_le(&w, 1, 4);
	if (!nparams)
		return wr_finish(&w, 0);
	for (uint16_t i = 0; i < nparams; i++)
		if (!v[i].data)
			bitmap[i / 8] |= (uint8_t)(1u << (i % 8));
	wr_bytes(&w, bitmap, ((size_t)nparams + 7) / 8);
	wr_le(&w, 1, 1);
	wr_bytes(&w, types, (size_t)nparams * 2);
	for (uint16_t i = 0; i < nparams; i++) {
		int tc = type_class(types[2 * i]);

		if (!v[i].data)
			continue;
		switch (tc) {
		case TC_BAD:
			return RG_MY_E_ARG;
		case TC_NONE:
			if (v[i].len)
				return RG_MY_E_ARG;
			break;
		case TC_TEMPORAL:
		case TC_TIME:
			if (tc == TC_TEMPORAL
				? v[i].len != 0 && v[i].len != 4 && v[i].len != 7 && v[i].len != 11
				: v[i].len != 0 && v[i].len != 8 && v[i].len != 12)
				return RG_MY_E_ARG;
			wr_le(&w, v[i].len, 1);
			wr_bytes(&w, v[i].data, (size_t)v[i].len);
			break;
		case TC_LENENC:
			wr_lenenc_str(&w, v[i].data, v[i].len);
			break;
		default:
			if (v[i].len != (uint64_t)tc)
				return RG_MY_E_ARG;
			wr_bytes(&w, v[i].data, (size_t)tc);
		}
	}
	return wr_finish(&w, 0);
}

int rg_my_read_long_data(const uint8_t *p, size_t n, struct rg_my_long_data *out)
{
	struct rg_my_rd r;
	uint8_t c;
	uint64_t v;

	memset(out, 0, sizeof(*out));
	rg_my_rd_init(&r, p, n);
	TRY(rg_my_rd_u8(&r, &c));
	if (c != RG_MY_COM_STMT_SEND_LONG_DATA)
		return RG_MY_E_WRONG_TYPE;
	TRY(rg_my_rd_fixed(&r, 4, &v));
	out->stmt_id = (uint32_t)v;
	TRY(rg_my_rd_fixed(&r, 2, &v));
	out->param_id = (uint16_t)v;
	return rg_my_rd_rest(&r, &out->data);
}

int rg_my_read_fetch(const uint8_t *p, size_t n, struct rg_my_fetch *out)
{
	struct rg_my_rd r;
	uint8_t c;
	uint64_t v;

	memset(out, 0, sizeof(*out));
	rg_my_rd_init(&r, p, n);
	TRY(rg_my_rd_u8(&r, &c));
	if (c != RG_MY_COM_STMT_FETCH)
		return RG_MY_E_WRONG_TYPE;
	TRY(rg_my_rd_fixed(&r, 4, &v));
	out->stmt_id = (uint32_t)v;
	TRY(rg_my_rd_fixed(&r, 4, &v));
	out->num_rows = (uint32_t)v;
	return rg_my_rd_end(&r);
}

int rg_my_read_stmt_id(const uint8_t *p, size_t n, uint8_t cmd, uint32_t *stmt_id)
{
	struct rg_my_rd r;
	uint8_t c;
	uint64_t v;

	if (cmd != RG_MY_COM_STMT_CLOSE && cmd != RG_MY_COM_STMT_RESET)
		return RG_MY_E_ARG;
	rg_my_rd_init(&r, p, n);
	TRY(rg_my_rd_u8(&r, &c));
	if (c != cmd)
		return RG_MY_E_WRONG_TYPE;
	TRY(rg_my_rd_fixed(&r, 4, &v));
	*stmt_id = (uint32_t)v;
	return rg_my_rd_end(&r);
}
