/*
 * fuzz_mask: rg_masker_row over arbitrary rows, with every detector enabled.
 *
 * Input: byte 0 selects the masker (all-redact, mixed styles with column rules, or hmac
 * without a key) and the plan bits; the rest is split into fields on 0x1f, a field that
 * is exactly 0x1e is SQL NULL. Oracles besides the sanitizers: unchanged fields point at
 * their input, an all-redact masker never changes a field's length, and every output
 * field is readable. Databases and maskers are built once per process.
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
	struct rg_masker *m;
};

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
	if (!s->m)
		abort();
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
	struct rg_mask_plan plan = {col, nf, en};
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
	return 0;
}
