/*
 * mask.c: the policy's masks applied to MySQL result rows, text protocol (COM_QUERY) and
 * binary protocol (COM_STMT_EXECUTE, COM_STMT_FETCH). Owns a session's result columns (from
 * each result's ColumnDefinition41 packets: schema.org_table.org_name names a column rule's
 * glob, the type and character set say whether detectors see the field: text, not binary
 * strings, whose bytes are not text and would be corrupted), the session's mask plan, the
 * rebuilding of a row, the proof that runs of rows need no masking (one prefilter pass over
 * their text fields copied apart, else the per-field checks; my_rows_run / my_rows_clear,
 * pure like the row masker my_rows_mask), the masking of the target's ERR packets (their
 * messages echo row values; detectors only, code and SQLSTATE kept), and the per-session
 * count of masked rows by detector.
 *
 * Invariants: what is written back decodes for the column's type: string types take masked
 * text in a new length-encoded string, anything else a mask touched (numbers, temporals,
 * JSON, which clients parse) becomes SQL NULL (0xfb in a text row, the NULL bitmap's bit in
 * a binary row); NULLs stay NULL; a rewritten row is one packet with the original's sequence
 * id. A row that needs rewriting and does not fit one packet (16 MiB) is not sent: the
 * session ends with an ERR (fail closed). Rows nothing matches are left to the caller to
 * forward by reference. The plan is per session, rebuilt per result and per bundle.
 */
#include "my-int.h"

#define MY_CURSORS_MAX 16 /* statements whose EXECUTE opened a cursor, columns kept */

#define NO_ORIGIN UINT32_MAX

#define CHARSET_BINARY 63

struct my_mcol {
	uint8_t type;	 /* enum rg_my_type */
	bool detect;	 /* detectors look at its values (my_mask_detect_column) */
	uint32_t origin; /* "schema.table.column" at names.p + origin, NO_ORIGIN: an expression */
};

/* A result's columns; grown to the widest result, nothing allocated per result after that. */
struct my_mres {
	struct my_mcol *cols;
	uint32_t n, cap;
	struct rg_acc names; /* the origins, NUL-terminated, one after the other */
};

struct my_mask {
	struct my_mres cur; /* the columns of the result being relayed */
	uint32_t want;	    /* definitions announced by the column count */
	bool complete;	    /* cur holds all of them */
	struct {
		uint32_t stmt;
		struct my_mres cols;
	} cursors[MY_CURSORS_MAX];
	unsigned ncursors;
	struct my_mres *rows_of; /* the columns rows are masked with: &cur or a cursor's */
	/* the plan for rows_of under bundle plan_gen (valid while plan_ok) */
	struct rg_policy_plan *plan;
	uint64_t plan_gen;
	bool plan_ok;
	/* the columns of rows_of as the row masker wants them (valid while plan_ok) */
	struct my_rows rows;
	const char **origins;
	uint32_t ocap;
	struct rg_acc out; /* an ERR rewritten */
	struct my_mask_counts counts;
	/* ERR packets: the detector rules of the session (no columns), under bundle eplan_gen */
	struct rg_policy_plan *eplan;
	uint64_t eplan_gen;
};

/* ---- pure parts -------------------------------------------------------------------------- */

bool my_mask_string_type(uint8_t type)
{
	switch (type) {
	case RG_MY_TYPE_VARCHAR:
	case RG_MY_TYPE_VAR_STRING:
	case RG_MY_TYPE_STRING:
	case RG_MY_TYPE_TINY_BLOB:
	case RG_MY_TYPE_MEDIUM_BLOB:
	case RG_MY_TYPE_LONG_BLOB:
	case RG_MY_TYPE_BLOB:
	case RG_MY_TYPE_ENUM:
	case RG_MY_TYPE_SET:
	case RG_MY_TYPE_JSON:
		return true;
	default:
		return false;
	}
}

bool my_mask_detect_column(uint8_t type, uint16_t charset)
{
	return my_mask_string_type(type) && (charset != CHARSET_BINARY || type == RG_MY_TYPE_JSON);
}

/* Whether masked text may be written back into a field of this type (else: NULL). JSON is
 * scanned but a changed JSON value becomes NULL: clients parse type 245 as JSON. */
static bool text_writable(uint8_t type)
{
	return my_mask_string_type(type) && type != RG_MY_TYPE_JSON;
}

static int put(struct rg_acc *out, const void *p, size_t n)
{
	return n && rg_acc_append(out, p, n) ? RG_MY_E_ARG : 0;
}

static int put_lenenc_str(struct rg_acc *out, const uint8_t *p, size_t n)
{
	uint8_t h[9];

	return put(out, h, rg_my_lenenc_encode(h, n)) || put(out, p, n) ? RG_MY_E_ARG : 0;
}

/*
 * Rebuild the row payload p[0..n) (already parsed into f[0..ncols) by the text or binary
 * reader with types) with the masker's fields o[0..ncols), as one packet with sequence id
 * seq appended to out (header included). Returns 0, RG_MY_E_TOO_LONG when the result does
 * not fit one packet, RG_MY_E_ARG when out of memory, or a reader's error.
 */
int my_mask_rebuild(bool binary, const uint8_t *types, uint32_t ncols, const uint8_t *p, size_t n,
		    const struct rg_my_field *f, const struct rg_mask_out_field *o, uint8_t seq,
		    struct rg_acc *out)
{
	size_t base = out->len, bm_at = 0, pos;
	uint8_t hdr[4] = {0};
	int r = 0;

	if ((r = put(out, hdr, 4)))
		return r;
	if (binary) {
		size_t nb = ((size_t)ncols + 9) / 8;

		if (n < 1 + nb)
			return RG_MY_E_TRUNCATED;
		if ((r = put(out, p, 1 + nb)))
			return r;
		bm_at = base + 5;
		pos = 1 + nb;
		for (uint32_t i = 0; i < ncols && !r; i++) {
			uint32_t doff;
			uint64_t dlen;
			ssize_t k;

			if (f[i].is_null)
				continue;
			k = rg_my_binary_value(types[i], p + pos, n - pos, &doff, &dlen);
			if (k < 0)
				return (int)k;
			if (!o[i].changed) {
				r = put(out, p + pos, (size_t)k);
			} else if (o[i].is_null || !text_writable(types[i])) {
				uint32_t bit = i + 2;

				out->p[bm_at + bit / 8] |= (uint8_t)(1u << (bit % 8));
			} else {
				r = put_lenenc_str(out, o[i].data, o[i].len);
			}
			pos += (size_t)k;
		}
		if (!r && pos != n)
			return RG_MY_E_TRAILING;
	} else {
		for (uint32_t i = 0; i < ncols && !r; i++) {
			static const uint8_t null_field = 0xfb;

			if (f[i].is_null ||
			    (o[i].changed && (o[i].is_null || !text_writable(types[i]))))
				r = put(out, &null_field, 1);
			else if (!o[i].changed)
				r = put_lenenc_str(out, p + f[i].off, (size_t)f[i].len);
			else
				r = put_lenenc_str(out, o[i].data, o[i].len);
		}
	}
	if (r)
		return r;
	if (out->len - base - 4 >= RG_MY_MAX_PACKET)
		return RG_MY_E_TOO_LONG;
	n = out->len - base - 4;
	out->p[base] = (uint8_t)n;
	out->p[base + 1] = (uint8_t)(n >> 8);
	out->p[base + 2] = (uint8_t)(n >> 16);
	out->p[base + 3] = seq;
	return 0;
}

/* ---- the session's columns ---------------------------------------------------------------- */

static void mres_clear(struct my_mres *r)
{
	r->n = 0;
	r->names.len = 0;
}

static void mres_free(struct my_mres *r)
{
	free(r->cols);
	rg_acc_free(&r->names);
	memset(r, 0, sizeof(*r));
}

static struct my_mask *mask_get(struct my_sess *ms)
{
	if (!ms->mask)
		ms->mask = calloc(1, sizeof(*ms->mask));
	return ms->mask;
}

void my_mask_free(struct my_sess *ms)
{
	struct my_mask *mk = ms->mask;

	if (!mk)
		return;
	mres_free(&mk->cur);
	for (unsigned i = 0; i < mk->ncursors; i++)
		mres_free(&mk->cursors[i].cols);
	rg_policy_mask_plan_free(mk->plan);
	rg_policy_mask_plan_free(mk->eplan);
	free(mk->origins);
	my_rows_free(&mk->rows);
	rg_acc_free(&mk->out);
	free(mk);
	ms->mask = NULL;
}

const struct my_mask_counts *my_mask_counts(const struct my_sess *ms)
{
	static const struct my_mask_counts none;

	return ms->mask ? &ms->mask->counts : &none;
}

int my_mask_cols_begin(struct my_sess *ms, uint64_t ncols)
{
	struct my_mask *mk = mask_get(ms);

	if (!mk)
		return -ENOMEM;
	mres_clear(&mk->cur);
	mk->want = ncols > UINT32_MAX ? UINT32_MAX : (uint32_t)ncols;
	mk->complete = false;
	mk->plan_ok = false;
	mk->rows_of = &mk->cur;
	return 0;
}

/* rg_acc_append, for runs that may be empty (and then NULL) */
static int app(struct rg_acc *a, const void *p, size_t n)
{
	return n ? rg_acc_append(a, p, n) : 0;
}

/* The column's origin appended to names: its offset, NO_ORIGIN for an expression (no column
 * rule can name it), or -ENOMEM. */
static int64_t origin_of(const struct rg_my_column *c, struct rg_acc *names)
{
	size_t at = names->len;

	if (!c->org_table.len || !c->org_name.len)
		return NO_ORIGIN;
	if (at > UINT32_MAX - 1024 || app(names, c->schema.p, c->schema.len) ||
	    app(names, ".", 1) || app(names, c->org_table.p, c->org_table.len) ||
	    app(names, ".", 1) || app(names, c->org_name.p, c->org_name.len) || app(names, "", 1))
		return -ENOMEM;
	return (int64_t)at;
}

int my_mask_col(struct my_sess *ms, const uint8_t *p, size_t n)
{
	struct my_mask *mk = ms->mask;
	struct rg_my_column c;
	struct my_mcol *mc;
	int64_t o;

	if (!mk)
		return -ENOMEM;
	if (mk->cur.n >= mk->want || rg_my_read_column(p, n, ms->caps, false, &c)) {
		/* the relay follows the response without reading definitions; its rows are
		 * forwarded when no mask rule is in force, else they fail closed */
		mk->want = UINT32_MAX;
		mk->complete = false;
		return 0;
	}
	if (mk->cur.n == mk->cur.cap) {
		uint32_t cap = mk->cur.cap ? mk->cur.cap * 2 : 16;
		struct my_mcol *nc = realloc(mk->cur.cols, cap * sizeof(*nc));

		if (!nc)
			return -ENOMEM;
		mk->cur.cols = nc;
		mk->cur.cap = cap;
	}
	if ((o = origin_of(&c, &mk->cur.names)) < 0)
		return -ENOMEM;
	mc = &mk->cur.cols[mk->cur.n];
	mc->type = c.type;
	mc->detect = my_mask_detect_column(c.type, c.charset);
	mc->origin = (uint32_t)o;
	mk->cur.n++;
	mk->complete = mk->cur.n == mk->want;
	return 0;
}

static int mres_copy(struct my_mres *dst, const struct my_mres *src)
{
	mres_clear(dst);
	if (dst->cap < src->n) {
		struct my_mcol *nc = realloc(dst->cols, src->n * sizeof(*nc));

		if (!nc)
			return -ENOMEM;
		dst->cols = nc;
		dst->cap = src->n;
	}
	if (app(&dst->names, src->names.p, src->names.len))
		return -ENOMEM;
	if (src->n)
		memcpy(dst->cols, src->cols, src->n * sizeof(*dst->cols));
	dst->n = src->n;
	return 0;
}

int my_mask_cursor_keep(struct my_sess *ms, uint32_t stmt)
{
	struct my_mask *mk = ms->mask;
	unsigned i;

	if (!mk || !mk->complete)
		return 0;
	if (stmt == UINT32_MAX && ms->have_last_stmt)
		stmt = ms->last_stmt; /* MariaDB's "last prepared", answered by now */
	for (i = 0; i < mk->ncursors && mk->cursors[i].stmt != stmt; i++)
		;
	if (i == mk->ncursors) {
		if (mk->ncursors < MY_CURSORS_MAX)
			mk->ncursors++;
		else
			i = stmt % MY_CURSORS_MAX; /* forget one: its FETCH then fails closed */
	}
	mk->cursors[i].stmt = stmt;
	if (mk->rows_of == &mk->cursors[i].cols)
		mk->plan_ok = false; /* its columns change */
	return mres_copy(&mk->cursors[i].cols, &mk->cur);
}

void my_mask_stmt_closed(struct my_sess *ms, uint32_t stmt)
{
	struct my_mask *mk = ms->mask;

	for (unsigned i = 0; mk && i < mk->ncursors; i++) {
		if (mk->cursors[i].stmt != stmt)
			continue;
		if (mk->rows_of == &mk->cursors[i].cols)
			mk->rows_of = &mk->cur, mk->plan_ok = false;
		mres_free(&mk->cursors[i].cols);
		if (i != --mk->ncursors) {
			mk->cursors[i] = mk->cursors[mk->ncursors];
			if (mk->rows_of == &mk->cursors[mk->ncursors].cols)
				mk->rows_of = &mk->cursors[i].cols;
		}
		memset(&mk->cursors[mk->ncursors], 0, sizeof(mk->cursors[0]));
		return;
	}
}

/* ---- one row, and runs of rows (pure: no session) ------------------------------------------ */

void my_rows_free(struct my_rows *r)
{
	free(r->fidx);
	free(r->fspan);
	free(r->scan);
	free(r->rstart);
	free(r->send);
	free(r->types);
	free(r->detect);
	free(r->rf);
	free(r->f);
	rg_acc_free(&r->out);
	memset(r, 0, sizeof(*r));
}

int my_rows_shape(struct my_rows *r, uint32_t ncols)
{
	uint32_t cap;

	r->ncols = 0;
	r->col_rules = false;
	if (ncols > r->cap) {
		cap = r->cap ? r->cap : 16;
		while (cap < ncols)
			cap *= 2;
		{
			struct rg_my_field *rf = realloc(r->rf, cap * sizeof(*rf));

			if (!rf)
				return -ENOMEM;
			r->rf = rf;
		}
		{
			struct rg_mask_field *f = realloc(r->f, cap * sizeof(*f));

			if (!f)
				return -ENOMEM;
			r->f = f;
		}
		{
			uint8_t *t = realloc(r->types, cap);

			if (!t)
				return -ENOMEM;
			r->types = t;
		}
		{
			uint8_t *d = realloc(r->detect, cap);

			if (!d)
				return -ENOMEM;
			r->detect = d;
		}
		r->cap = cap;
	}
	r->ncols = ncols;
	return 0;
}

/* Whether the plan puts a column rule on column i (whether it is enabled or not: the masker
 * decides that; a row with one always goes to it). */
static inline bool col_rule(const struct rg_mask_plan *plan, uint32_t i)
{
	return plan && plan->column_action && i < plan->ncolumns && plan->column_action[i] >= 0;
}

void my_rows_plan(struct my_rows *r, const struct rg_mask_plan *plan)
{
	r->col_rules = false;
	for (uint32_t i = 0; i < r->ncols && !r->col_rules; i++)
		r->col_rules = col_rule(plan, i);
}

int my_rows_mask(struct my_rows *r, struct rg_policy_ctx *ctx, const struct rg_mask_plan *plan,
		 bool binary, const uint8_t *p, size_t n, uint32_t npackets, uint8_t seq)
{
	struct rg_mask_result mr;
	bool need = false;
	int e;

	r->hit = 0;
	e = binary ? rg_my_read_binary_row(p, n, r->ncols, r->types, r->rf, r->cap)
		   : rg_my_read_text_row(p, n, r->ncols, r->rf, r->cap);
	if (e)
		return e;
	/* the masker sees text fields (detectors) and fields a column rule names; others
	 * (numbers, dates, binary strings) are handed over empty so no detector fires there */
	for (uint32_t i = 0; i < r->ncols; i++) {
		const struct rg_my_field *f = &r->rf[i];
		bool cr = col_rule(plan, i), scan = r->detect[i] || cr;

		if (f->len > UINT32_MAX)
			return RG_MY_E_TOO_LONG;
		r->f[i] =
		    (struct rg_mask_field){f->is_null || !scan ? p : p + f->off,
					   f->is_null || !scan ? 0 : (uint32_t)f->len, f->is_null};
		if (!f->is_null && (cr || (scan && !rg_policy_mask_field_clear(
						       ctx, plan, r->f[i].data, r->f[i].len))))
			need = true;
	}
	if (!need)
		return 0;
	if (rg_policy_mask_row(ctx, plan, r->f, r->ncols, &mr))
		return -ENOMEM;
	if (!mr.changed)
		return 0;
	if (npackets > 1)
		return RG_MY_E_TOO_LONG; /* the packet count must not change: fail closed */
	r->out.len = 0;
	e = my_mask_rebuild(binary, r->types, r->ncols, p, n, r->rf, mr.fields, seq, &r->out);
	if (e)
		return e;
	r->hit = mr.detectors_hit;
	return 1;
}

#define SCAN_GAP 4 /* zero bytes after each field in the scan buffer (rg_masker_run_clear) */

/* The text fields of row q[0..n) (a framed row's payload): their offsets and lengths in
 * r->rf, only those detectors look at and not NULL marked in use; returns how many fields
 * or -1 when it does not read. */
static int row_fields(struct my_rows *r, bool binary, const uint8_t *q, size_t n)
{
	size_t at = 0;

	if (binary)
		return rg_my_read_binary_row(q, n, r->ncols, r->types, r->rf, r->cap)
			   ? -1
			   : (int)r->ncols;
	for (uint32_t i = 0; i < r->ncols; i++) {
		uint64_t len;
		uint8_t b;

		if (at >= n)
			return -1;
		b = q[at];
		if (b == 0xfb) {
			r->rf[i] = (struct rg_my_field){(uint32_t)at, 0, true};
			at++;
			continue;
		}
		if (b < 0xfb) {
			len = b;
			at++;
		} else {
			unsigned w = b == 0xfc ? 2 : b == 0xfd ? 3 : 8;

			if (b == 0xff || n - at - 1 < w)
				return -1;
			len = 0;
			for (unsigned k = 0; k < w; k++)
				len |= (uint64_t)q[at + 1 + k] << (8 * k);
			at += 1 + w;
		}
		if (len > n - at)
			return -1;
		r->rf[i] = (struct rg_my_field){(uint32_t)at, len, false};
		at += (size_t)len;
	}
	return at == n ? (int)r->ncols : -1;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t c = *cap ? *cap : 64;
	void *n;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	if (!(n = realloc(*p, c * elem)))
		return -ENOMEM;
	*p = n;
	*cap = c;
	return 0;
}

size_t my_rows_run(struct my_rows *r, bool binary, const struct rg_my_rowrun *rr)
{
	size_t at = 0, nf = 0;
	uint32_t j = 0;

	r->nrun = 0;
	r->slen = 0;
	r->run_ok = false;
	r->p = rr->p;
	if (grow((void **)&r->rstart, &r->rcap, (size_t)rr->rows + 1, sizeof(*r->rstart)) ||
	    grow((void **)&r->send, &r->ecap, (size_t)rr->rows + 1, sizeof(*r->send)) ||
	    grow((void **)&r->fidx, &r->icap, (size_t)rr->rows + 1, sizeof(*r->fidx)) ||
	    grow((void **)&r->scan, &r->scap, rr->framed + (size_t)rr->rows * r->ncols * SCAN_GAP,
		 1))
		return 0;
	/* the rows that read with the result's columns (the first that does not, and what
	 * follows it, are the per-message path's: it fails closed there), their text fields
	 * copied into scan as they are read */
	for (; at < rr->framed; j++) {
		const uint8_t *q = rr->p + at;
		size_t len = (size_t)q[0] | (size_t)q[1] << 8 | (size_t)q[2] << 16;

		if (row_fields(r, binary, q + RG_MY_HDR, len) < 0)
			break;
		if (grow((void **)&r->fspan, &r->fcap, nf + r->ncols, sizeof(*r->fspan)))
			return 0;
		r->rstart[j] = at;
		r->fidx[j] = nf;
		for (uint32_t i = 0; i < r->ncols; i++) {
			const struct rg_my_field *f = &r->rf[i];

			if (!r->detect[i] || f->is_null)
				continue;
			memcpy(r->scan + r->slen, q + RG_MY_HDR + f->off, (size_t)f->len);
			memset(r->scan + r->slen + f->len, 0, SCAN_GAP);
			r->fspan[nf++] = r->slen;
			r->slen += (size_t)f->len + SCAN_GAP;
		}
		r->send[j] = r->slen;
		at += RG_MY_HDR + len;
	}
	r->rstart[j] = at;
	r->fidx[j] = nf;
	r->nrun = j;
	r->run_ok = true;
	return at;
}

/* Whether row j of the run is one my_rows_mask leaves alone because every text field it
 * scans is clear: the same field checks (rg_policy_mask_field_clear), on the field copies
 * in scan, without reading the row again. */
static bool row_clear(const struct my_rows *r, const struct rg_policy_ctx *ctx,
		      const struct rg_mask_plan *plan, uint32_t j)
{
	for (size_t k = r->fidx[j]; k < r->fidx[j + 1]; k++) {
		size_t s = r->fspan[k];
		size_t e = k + 1 < r->fidx[j + 1] ? r->fspan[k + 1] : r->send[j];

		if (!rg_policy_mask_field_clear(ctx, plan, r->scan + s, e - s - SCAN_GAP))
			return false;
	}
	return true;
}

size_t my_rows_clear(struct my_rows *r, const struct rg_policy_ctx *ctx,
		     const struct rg_mask_plan *plan, const struct rg_my_rowrun *rr, size_t off,
		     uint32_t *nrows)
{
	uint32_t lo = 0, hi, j;
	size_t lim, from;

	*nrows = 0;
	if (r->col_rules || !r->run_ok || r->p != rr->p || off >= rr->framed)
		return off;
	/* the row at off */
	hi = r->nrun;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (r->rstart[mid] < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo >= r->nrun || r->rstart[lo] != off)
		return off;
	/* one prefilter pass over the text fields of the rows from there, laid out in the scan
	 * buffer (each followed by zeros: no length byte, number or binary string in between):
	 * a field [a, b) there with b + 4 <= lim is clear (rg_masker_run_clear) */
	from = lo ? r->send[lo - 1] : 0;
	lim =
	    from < r->slen ? rg_policy_mask_run_clear(ctx, plan, r->scan, r->slen, from) : SIZE_MAX;
	for (j = lo; j < r->nrun; j++) {
		/* a row's last field ends SCAN_GAP bytes before send; a row without a field
		 * scanned has nothing to prove */
		if (lim != SIZE_MAX && r->send[j] > lim && r->fidx[j + 1] > r->fidx[j])
			break;
		(*nrows)++;
	}
	if (j > lo)
		return r->rstart[j];
	/* a possible hit in the row at off: rows are proven one by one with the checks
	 * my_rows_mask makes of each field, up to the first row that may need masking; the
	 * next call starts with a pass again */
	for (; j < r->nrun && row_clear(r, ctx, plan, j); j++)
		(*nrows)++;
	return r->rstart[j];
}

/* ---- the session's rows ------------------------------------------------------------------- */

/* Whether the row's columns are ready: FETCH rows use the columns of that statement's
 * EXECUTE, any other row those of its own result. */
static struct my_mres *rows_columns(struct my_mask *mk, const struct my_cmd *c)
{
	if (c->cmd != RG_MY_COM_STMT_FETCH)
		return mk->complete ? &mk->cur : NULL;
	for (unsigned i = 0; i < mk->ncursors; i++)
		if (mk->cursors[i].stmt == c->stmt_id)
			return &mk->cursors[i].cols;
	return NULL;
}

/* The plan for res under the bundle of ctx (generation gen), built when it is not the one
 * the session holds, with the row masker's columns: 0 or -ENOMEM. */
static int plan_for(struct my_sess *ms, struct my_mask *mk, struct my_mres *res,
		    struct rg_policy_ctx *ctx, uint64_t gen, const struct rg_mask_plan **plan)
{
	if (mk->rows_of == res && mk->plan_ok && mk->plan_gen == gen &&
	    (*plan = rg_policy_mask_plan_get(mk->plan, ctx)))
		return 0;
	if (!mk->plan && !(mk->plan = rg_policy_mask_plan_new()))
		return -ENOMEM;
	if (mk->ocap < res->n) {
		const char **o = realloc(mk->origins, res->n * sizeof(*o));

		if (!o)
			return -ENOMEM;
		mk->origins = o;
		mk->ocap = res->n;
	}
	for (uint32_t i = 0; i < res->n; i++)
		mk->origins[i] = res->cols[i].origin == NO_ORIGIN
				     ? NULL
				     : (const char *)res->names.p + res->cols[i].origin;
	mk->plan_ok = false;
	if (rg_policy_mask_plan_build(ctx, &ms->req, mk->origins, res->n, mk->plan, plan) ||
	    my_rows_shape(&mk->rows, res->n))
		return -ENOMEM;
	for (uint32_t i = 0; i < res->n; i++) {
		mk->rows.types[i] = res->cols[i].type;
		mk->rows.detect[i] = res->cols[i].detect;
	}
	my_rows_plan(&mk->rows, *plan);
	mk->rows_of = res;
	mk->plan_gen = gen;
	mk->plan_ok = true;
	return 0;
}

/* A row rewritten: the session's counts, the command's stmt_end and /metrics. */
static void count_masked(struct my_sess *ms, uint32_t hit)
{
	struct my_mask *mk = ms->mask;

	mk->counts.rows++;
	mk->counts.det_hit |= hit;
	for (uint32_t h = hit; h; h &= h - 1)
		mk->counts.det[__builtin_ctz(h)]++;
	my_ev_masked(ms, hit);
	if (ms->cnt) {
		ms->cnt->rows_masked++;
		for (uint32_t h = hit; h; h &= h - 1)
			ms->cnt->mask_det[__builtin_ctz(h)]++;
	}
}

int my_mask_row(struct my_sess *ms, const struct my_cmd *c, const struct rg_my_msg *m,
		const struct rg_acc **out)
{
	struct my_mask *mk;
	struct my_mres *res;
	struct rg_policy_ctx *ctx = NULL;
	const struct rg_mask_plan *plan = NULL;
	const uint8_t *p;
	uint8_t *heap = NULL;
	uint64_t gen = 0;
	int r;

	*out = NULL;
	if (!rg_gw_policy_masking(ms->m->svc, ms->worker, &ctx, &gen) || !ctx)
		return 0; /* no mask rules in force */
	mk = mask_get(ms);
	if (!mk)
		return -ENOMEM;
	res = rows_columns(mk, c);
	if (!res)
		return RG_MY_E_VALUE; /* rows whose columns are unknown: fail closed */
	if (plan_for(ms, mk, res, ctx, gen, &plan))
		return -ENOMEM;
	p = my_msg_payload(m, &heap);
	if (!p)
		return -ENOMEM;
	r = my_rows_mask(&mk->rows, ctx, plan, c->binary, p, (size_t)m->len, m->npackets,
			 m->seq_first);
	free(heap);
	if (r <= 0)
		return r;
	count_masked(ms, mk->rows.hit);
	*out = &mk->rows.out;
	return 0;
}

int my_mask_rows_ready(struct my_sess *ms, const struct my_cmd *c, struct rg_policy_ctx **ctx,
		       const struct rg_mask_plan **plan, struct my_rows **rows, uint64_t *gen)
{
	struct my_mask *mk = ms->mask;

	*plan = NULL;
	*rows = NULL;
	*gen = 0;
	if (!rg_gw_policy_masking(ms->m->svc, ms->worker, ctx, gen) || !*ctx) {
		*ctx = NULL;
		return 0;
	}
	if (!mk || !mk->plan_ok || mk->plan_gen != *gen || !mk->rows_of ||
	    mk->rows_of != rows_columns(mk, c) ||
	    !(*plan = rg_policy_mask_plan_get(mk->plan, *ctx)) || mk->rows.col_rules)
		return -1;
	*rows = &mk->rows;
	return 1;
}

/* ---- ERR packets ---------------------------------------------------------------------------- */

int my_mask_err_pkt(struct rg_policy_ctx *ctx, const struct rg_mask_plan *plan, const uint8_t *p,
		    size_t n, uint8_t seq, struct rg_acc *out, uint32_t *hit)
{
	static const char masked[] = "[masked]";
	struct rg_mask_plan det = {NULL, 0, plan ? plan->enabled : NULL,
				   plan ? plan->detectors : 0};
	struct rg_my_err_pkt e;
	struct rg_mask_field f;
	struct rg_mask_result mr;
	const struct rg_mask_out_field *o;
	uint8_t hdr[4] = {0};
	size_t at = out->len, pre, len;

	*hit = 0;
	if (rg_my_read_err(p, n, &e) || !e.message.len)
		return 0; /* no message: a progress report (never negotiated), a bare code */
	if (e.message.len > UINT32_MAX)
		return RG_MY_E_TOO_LONG;
	f = (struct rg_mask_field){e.message.p, (uint32_t)e.message.len, false};
	if (rg_policy_mask_row(ctx, &det, &f, 1, &mr))
		return -ENOMEM;
	if (!mr.changed)
		return 0;
	o = &mr.fields[0];
	pre = (size_t)(e.message.p - p); /* 0xff, the code, '#' and the SQLSTATE: kept */
	if (put(out, hdr, 4) || put(out, p, pre) ||
	    (o->is_null ? put(out, masked, sizeof(masked) - 1) : put(out, o->data, o->len)))
		return RG_MY_E_ARG;
	len = out->len - at - 4;
	if (len >= RG_MY_MAX_PACKET)
		return RG_MY_E_TOO_LONG;
	out->p[at] = (uint8_t)len;
	out->p[at + 1] = (uint8_t)(len >> 8);
	out->p[at + 2] = (uint8_t)(len >> 16);
	out->p[at + 3] = seq;
	*hit = mr.detectors_hit;
	return 1;
}

int my_mask_err(struct my_sess *ms, const struct rg_my_msg *m, const struct rg_acc **out)
{
	struct rg_policy_ctx *ctx = NULL;
	const struct rg_mask_plan *plan;
	struct my_mask *mk;
	uint64_t gen = 0;
	uint32_t hit;
	int r;

	*out = NULL;
	if (!rg_gw_policy_masking(ms->m->svc, ms->worker, &ctx, &gen) || !ctx)
		return 0; /* no mask rules in force */
	if (m->npackets > 1)
		return RG_MY_E_TOO_LONG; /* an ERR of 16 MiB: nothing sends one; fail closed */
	mk = mask_get(ms);
	if (!mk)
		return -ENOMEM;
	if (mk->eplan_gen != gen || !(plan = rg_policy_mask_plan_get(mk->eplan, ctx))) {
		if (!mk->eplan && !(mk->eplan = rg_policy_mask_plan_new()))
			return -ENOMEM;
		if (rg_policy_mask_plan_build(ctx, &ms->req, NULL, 0, mk->eplan, &plan))
			return -ENOMEM;
		mk->eplan_gen = gen;
	}
	mk->out.len = 0;
	r = my_mask_err_pkt(ctx, plan, m->payload, (size_t)m->len, m->seq_first, &mk->out, &hit);
	if (r <= 0)
		return r;
	/* counted as PostgreSQL counts a masked ErrorResponse: one masked message */
	count_masked(ms, hit);
	*out = &mk->out;
	return 0;
}
