/*
 * fuzz_mask: rg_masker_row over arbitrary rows, with every detector enabled.
 *
 * Input: byte 0 selects the masker (all-redact, mixed styles with column rules, or hmac
 * without a key) and the plan bits; the rest is split into fields on 0x1f, a field that
 * is exactly 0x1e is SQL NULL. Oracles besides the sanitizers: unchanged fields point at
 * their input, an all-redact masker never changes a field's length, and every output
 * field is readable. Differential oracle: the row is masked again under every prefilter
 * implementation the CPU has (plain C, SSE2, AVX2, AVX-512, forced with
 * rg_mask_prefilter_use) and by a twin masker that SOM-scans every field (prefilter off);
 * all outputs must be identical, and per field every implementation must name the same
 * detectors. Any difference aborts. The run check (rg_masker_run_clear) over the whole
 * input, the separators as framing, may prove only fields their own check passes over.
 * Databases and maskers are built once per process.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mask.h"

#define NDET RG_DET__COUNT
#define MAXF 64

struct setup {
	struct rg_mask_action acts[NDET + 2];
	size_t nacts;
	hs_database_t *db;
	struct rg_masker *m, *ref; /* ref: prefilter off */
};

static const enum rg_mask_prefilter_impl impls[] = {RG_MASK_PF_SCALAR, RG_MASK_PF_SSE2,
						    RG_MASK_PF_AVX2, RG_MASK_PF_AVX512,
						    RG_MASK_PF_AVX512VBMI};
#define NIMPL (sizeof(impls) / sizeof(impls[0]))

/* A copy of one masked row, to compare with the next. */
struct snap {
	bool changed;
	uint32_t matches;
	uint64_t rules_hit;
	size_t nf;
	struct rg_mask_out_field f[MAXF];
	uint32_t off[MAXF];
	uint8_t *buf;
	size_t blen;
};

static void take(struct snap *sn, const struct rg_mask_result *r, size_t nf, size_t cap)
{
	sn->changed = r->changed;
	sn->matches = r->matches;
	sn->rules_hit = r->rules_hit;
	sn->nf = nf;
	sn->blen = 0;
	for (size_t i = 0; i < nf; i++) {
		sn->f[i] = r->fields[i];
		sn->off[i] = (uint32_t)sn->blen;
		if (!r->fields[i].is_null && r->fields[i].len) {
			if (sn->blen + r->fields[i].len > cap)
				abort();
			memcpy(sn->buf + sn->blen, r->fields[i].data, r->fields[i].len);
			sn->blen += r->fields[i].len;
		}
	}
}

static void same(const struct snap *a, const struct snap *b)
{
	if (a->changed != b->changed || a->matches != b->matches ||
	    a->rules_hit != b->rules_hit || a->nf != b->nf)
		abort();
	for (size_t i = 0; i < a->nf; i++) {
		const struct rg_mask_out_field *x = &a->f[i], *y = &b->f[i];
		if (x->changed != y->changed || x->is_null != y->is_null || x->len != y->len)
			abort();
		if (!x->is_null && x->len && memcmp(a->buf + a->off[i], b->buf + b->off[i], x->len))
			abort();
	}
}

static struct setup sets[3];

static void build(struct setup *s, int kind)
{
	char err[256];

	for (int d = 0; d < NDET; d++) {
		struct rg_mask_action a = {
		    .detector = d, .style = RG_MASK_REDACT, .rule_index = (uint32_t)d};
		if (kind == 1) {
			static const enum rg_mask_style st[] = {RG_MASK_PARTIAL, RG_MASK_HMAC,
								RG_MASK_NULL, RG_MASK_STATIC,
								RG_MASK_REDACT};
			a.style = st[d % 5];
			a.keep = (uint8_t)(d * 3);
			a.static_text = d % 2 ? "[x]" : NULL;
		} else if (kind == 2) {
			a.style = RG_MASK_HMAC;
		}
		s->acts[s->nacts++] = a;
	}
	if (kind == 1) {
		s->acts[s->nacts++] =
		    (struct rg_mask_action){.detector = -1, .style = RG_MASK_PARTIAL, .keep = 2};
		s->acts[s->nacts++] =
		    (struct rg_mask_action){.detector = -1, .style = RG_MASK_HMAC};
	}
	if (rg_mask_compile(s->acts, s->nacts, &s->db, err, sizeof(err)) != 0)
		abort();
	s->m = rg_masker_new(s->db, s->acts, s->nacts, kind == 1 ? (const uint8_t *)"key" : NULL,
			     kind == 1 ? 3 : 0);
	s->ref = rg_masker_new(s->db, s->acts, s->nacts, kind == 1 ? (const uint8_t *)"key" : NULL,
			       kind == 1 ? 3 : 0);
	if (!s->m || !s->ref)
		abort();
	rg_masker_set_prefilter(s->ref, false);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct rg_mask_field f[MAXF];
	int32_t col[MAXF];
	uint8_t en[NDET + 2];
	struct rg_mask_result r;
	size_t nf = 0;

	if (!ready) {
		for (int k = 0; k < 3; k++)
			build(&sets[k], k);
		ready = 1;
	}
	if (size < 1)
		return 0;
	uint8_t ctl = data[0];
	struct setup *s = &sets[(ctl & 3) % 3];
	const uint8_t *p = data + 1, *end = data + size;
	while (nf < MAXF) {
		const uint8_t *q = memchr(p, 0x1f, (size_t)(end - p));
		if (!q)
			q = end;
		bool null = q - p == 1 && p[0] == 0x1e;
		f[nf++] =
		    (struct rg_mask_field){null ? NULL : p, null ? 0 : (uint32_t)(q - p), null};
		if (q == end)
			break;
		p = q + 1;
	}
	for (size_t i = 0; i < nf; i++)
		col[i] = -1;
	for (size_t a = 0; a < s->nacts; a++)
		en[a] = (uint8_t)(!(ctl & 0x10) || (a * 7 + ctl) % 3 != 0);
	if (s->nacts > NDET) {
		col[0] = (ctl & 4) ? NDET : -1;
		if (nf > 1)
			col[1] = (ctl & 8) ? NDET + 1 : -1;
		if (nf > 2 && (ctl & 0x20))
			col[2] = 1000; /* out of range: must fail closed */
	}
	struct rg_mask_plan plan = {col, nf, en, 0};
	if (rg_masker_row(s->m, (ctl & 0x40) ? NULL : &plan, f, nf, &r) != 0)
		abort();
	volatile uint8_t sink = 0;
	for (size_t i = 0; i < nf; i++) {
		const struct rg_mask_out_field *o = &r.fields[i];
		if (!o->changed && (o->data != f[i].data || o->len != f[i].len))
			abort();
		if (o->changed && !r.changed)
			abort();
		if (s == &sets[0] && !o->is_null && o->len != f[i].len)
			abort();
		if (!o->is_null)
			for (uint32_t k = 0; k < o->len; k++)
				sink ^= o->data[k];
	}
	(void)sink;

	/* differential: the reference (no prefilter), then every implementation */
	static struct snap want, got;
	static uint8_t *wbuf, *gbuf;
	size_t cap = size * 8 + 32 * MAXF + 64; /* hmac/static grow short spans */
	wbuf = realloc(wbuf, cap);
	gbuf = realloc(gbuf, cap);
	if (!wbuf || !gbuf)
		abort();
	want.buf = wbuf;
	got.buf = gbuf;
	const struct rg_mask_plan *pl = (ctl & 0x40) ? NULL : &plan;
	if (rg_masker_row(s->ref, pl, f, nf, &r) != 0)
		abort();
	take(&want, &r, nf, cap);
	unsigned per0[MAXF];
	bool have0 = false;
	for (size_t k = 0; k < NIMPL; k++) {
		if (rg_mask_prefilter_use(impls[k]) != 0)
			continue;
		if (rg_masker_row(s->m, pl, f, nf, &r) != 0)
			abort();
		take(&got, &r, nf, cap);
		same(&want, &got);
		for (size_t i = 0; i < nf; i++) {
			unsigned per = 0;
			for (int d = 0; d < NDET; d++)
				if (rg_mask_prefilter(f[i].data, f[i].len, 1u << d))
					per |= 1u << d;
			if ((rg_mask_prefilter(f[i].data, f[i].len, ~0u) != 0) != (per != 0))
				abort();
			if (!have0)
				per0[i] = per;
			else if (per0[i] != per)
				abort();
		}
		have0 = true;
		/* the run check over the whole input, 0x1f separators as the framing between
		 * the fields, from the field ctl picks: a field it proves (ending 4 bytes or
		 * more before what it returns) is one the field's own check passes over */
		size_t from = (size_t)(ctl >> 2) % nf, lim;
		lim = rg_masker_run_clear(s->m, pl, data + 1, size - 1,
					  (size_t)((f[from].data ? f[from].data : data + 1) -
						   (data + 1)));
		for (size_t i = from; i < nf; i++) {
			size_t fe;
			if (!f[i].data)
				continue;
			fe = (size_t)(f[i].data - (data + 1)) + f[i].len;
			if (lim != SIZE_MAX && fe + 4 > lim)
				break;
			if (!rg_masker_field_clear(s->m, pl, f[i].data, f[i].len))
				abort();
		}
	}
	rg_mask_prefilter_use(RG_MASK_PF_AUTO);
	return 0;
}
