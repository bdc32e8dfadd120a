/*
 * verdict: decide a statement and mask rows, against a loaded policy, per thread.
 *
 * Order of work, cheapest first: one Hyperscan scan of the raw text over every rule's
 * required literals (rulec chose them so that a rule whose literals are all absent cannot
 * match); the surviving candidates are filtered by identity/target; then the statement is
 * parsed (always, unless the policy allows unparseable statements and no candidate is
 * left: a string the parser rejects must be denied, and only the parser can tell) and each
 * candidate's predicates are checked against the parser's facts. Precedence is documented
 * in docs/rules.md: allow rules cancel strictly less specific deny/hold rules; otherwise the
 * strictest verdict wins. Requests of protocol "mysql" are read by the MySQL classifier
 * under the session's lexing state, which is part of the verdict cache's key. Everything
 * mutable lives in the ctx; no allocation per call.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "policy_int.h"

/* Verdict cache: direct-mapped, per thread. Entries keep the statement text and compare it
 * byte for byte, so a hash collision can never return another statement's verdict. */
#define VC_SLOTS 512
#define VC_MAXLEN 240

struct vc_entry {
	uint64_t key;			/* seeded xxh3 of identity class + text; 0 = empty */
	uint64_t who;			/* identity class hash, compared too */
	uint32_t len;
	uint8_t verdict, shadow, nrules, pad;
	uint32_t rule;			/* deciding rule index, UINT32_MAX if none */
	uint32_t rules[RG_DECISION_MAX_RULES];
	char text[VC_MAXLEN];
};

struct rg_policy_ctx {
	const struct rg_policy *p;
	struct rg_sqlclass *sc;
	struct rg_myclass *mc;		/* MySQL sessions' statements */
	hs_scratch_t *scratch;
	size_t words;			/* bitmap words for nrules + 1 rules */
	uint64_t *cand;			/* candidate bitmap */
	uint32_t *cand_list;
	size_t ncand;
	uint64_t *rxhit;		/* rules whose text regex matched */
	uint64_t *thit, *fhit, *phit;	/* name index hits: tables, functions, fingerprints */
	uint32_t *matched;
	struct rg_sql_facts facts;
	struct rg_masker *masker;
	int32_t *col_action;
	uint8_t *enabled;
	size_t plan_cap;
	struct rg_mask_plan plan;
	char lower[256];
	char lower_schema[256];
	bool no_prefilter;
	bool no_cache;
	uint64_t seed;
	struct vc_entry *vc;
};

void rg_policy_ctx_set_prefilter(struct rg_policy_ctx *c, bool on)
{
	c->no_prefilter = !on;
}

void rg_policy_ctx_set_cache(struct rg_policy_ctx *c, bool on)
{
	c->no_cache = !on;
}

static inline void bit_set(uint64_t *b, uint32_t i)
{
	b[i >> 6] |= UINT64_C(1) << (i & 63);
}

static inline bool bit_get(const uint64_t *b, uint32_t i)
{
	return b[i >> 6] >> (i & 63) & 1;
}

struct rg_policy_ctx *rg_policy_ctx_new(const struct rg_policy *p, const uint8_t *hmac_key,
					size_t keylen)
{
	struct rg_policy_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->p = p;
	c->words = (p->meta.nrules + 1 + 63) / 64;
	c->cand = calloc(c->words, 8);
	c->rxhit = calloc(c->words, 8);
	c->thit = calloc(c->words, 8);
	c->fhit = calloc(c->words, 8);
	c->phit = calloc(c->words, 8);
	c->cand_list = calloc(p->meta.nrules + 1, sizeof(uint32_t));
	c->matched = calloc(p->meta.nrules + 1, sizeof(uint32_t));
	c->sc = rg_sqlclass_new();
	c->mc = rg_myclass_new();
	c->vc = calloc(VC_SLOTS, sizeof(*c->vc));
	if (getrandom(&c->seed, sizeof(c->seed), 0) != sizeof(c->seed))
		c->seed = (uint64_t)(uintptr_t)c ^ 0x9e3779b97f4a7c15u;
	c->masker = rg_masker_new(p->maskdb, p->mask_acts, p->meta.nmasks, hmac_key, keylen);
	if (!c->cand || !c->rxhit || !c->thit || !c->fhit || !c->phit || !c->cand_list ||
	    !c->matched || !c->sc || !c->mc || !c->masker || !c->vc)
		goto fail;
	const hs_database_t *dbs[] = { p->prefilter, p->text };
	for (size_t i = 0; i < 2; i++)
		if (dbs[i] && hs_alloc_scratch(dbs[i], &c->scratch) != HS_SUCCESS)
			goto fail;
	return c;
fail:
	rg_policy_ctx_free(c);
	return NULL;
}

void rg_policy_ctx_free(struct rg_policy_ctx *c)
{
	if (!c)
		return;
	hs_free_scratch(c->scratch);
	rg_sqlclass_free(c->sc);
	rg_myclass_free(c->mc);
	rg_masker_free(c->masker);
	free(c->cand);
	free(c->rxhit);
	free(c->thit);
	free(c->fhit);
	free(c->phit);
	free(c->cand_list);
	free(c->matched);
	free(c->vc);
	free(c->col_action);
	free(c->enabled);
	free(c);
}

/* ---- identity / target ---- */

static bool any_glob(const struct rg_strs *s, const char *v, int flags)
{
	if (!v)
		v = "";
	for (uint32_t i = 0; i < s->n; i++)
		if (fnmatch(s->v[i], v, flags) == 0)
			return true;
	return false;
}

static bool has_group(const struct rg_identity *id, const char *g)
{
	for (size_t i = 0; id && i < id->ngroups; i++)
		if (id->groups[i] && strcmp(id->groups[i], g) == 0)
			return true;
	return false;
}

bool rg_match_holds(const struct rg_rt_match *m, const struct rg_request *req)
{
	const struct rg_identity *id = req->identity;
	if (m->protocols.n) {
		bool ok = false;
		for (uint32_t i = 0; i < m->protocols.n && !ok; i++)
			ok = req->protocol && strcmp(m->protocols.v[i], req->protocol) == 0;
		if (!ok)
			return false;
	}
	if (m->targets.n && !any_glob(&m->targets, req->target, 0))
		return false;
	if (m->subjects.n && !any_glob(&m->subjects, id ? id->subject : NULL, 0))
		return false;
	if (m->issuers.n && !any_glob(&m->issuers, id ? id->issuer : NULL, 0))
		return false;
	if (m->groups_any.n) {
		bool ok = false;
		for (uint32_t i = 0; i < m->groups_any.n && !ok; i++)
			ok = has_group(id, m->groups_any.v[i]);
		if (!ok)
			return false;
	}
	for (uint32_t i = 0; i < m->groups_none.n; i++)
		if (has_group(id, m->groups_none.v[i]))
			return false;
	return true;
}

/* ---- predicates ---- */

/* Does a "schema.name" / "name" glob match a resolved name? For an unqualified reference
 * the schema is decided at run time by search_path: deny-type rules (any_mode) assume it
 * may be any schema; allow rules (all_mode) accept it only if the pattern's schema is "*". */
static bool name_matches(const char *pat, const struct rg_sql_name *n, bool all_mode, int flags)
{
	const char *dot = strrchr(pat, '.');
	if (!dot)
		return fnmatch(pat, n->name, flags) == 0;
	char schema[256];
	size_t sl = (size_t)(dot - pat);
	if (sl >= sizeof(schema))
		return false;
	memcpy(schema, pat, sl);
	schema[sl] = 0;
	if (fnmatch(dot + 1, n->name, flags) != 0)
		return false;
	if (n->schema)
		return fnmatch(schema, n->schema, flags) == 0;
	return !all_mode || strcmp(schema, "*") == 0;
}

static bool names_pred(const struct rg_strs *pats, const struct rg_sql_name *names, size_t n,
		       uint8_t access, bool all_mode, int flags)
{
	if (all_mode && n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool hit = false;
		if (!access || (names[i].access & access))
			for (uint32_t k = 0; k < pats->n && !hit; k++)
				hit = name_matches(pats->v[k], &names[i], all_mode, flags);
		if (hit && !all_mode)
			return true;
		if (!hit && all_mode)
			return false;
	}
	return all_mode;
}

static bool fp_listed(const struct rg_rt_rule *r, uint64_t fp)
{
	for (uint32_t i = 0; i < r->nfps; i++)
		if (((uint64_t)r->fps[2 * i + 1] << 32 | r->fps[2 * i]) == fp)
			return true;
	return false;
}

static bool literal_in(const char *text, size_t len, const char *lit)
{
	size_t ll = strlen(lit);
	if (ll > len)
		return false;
	for (size_t i = 0; i + ll <= len; i++)
		if (strncasecmp(text + i, lit, ll) == 0)
			return true;
	return false;
}

#define UPD_DEL (RG_OP_BIT(RG_OP_UPDATE) | RG_OP_BIT(RG_OP_DELETE))

static bool rule_holds(struct rg_policy_ctx *c, uint32_t ri, const struct rg_sql_facts *f,
		       const char *text, size_t textlen)
{
	const struct rg_rt_rule *r = &c->p->rules[ri];
	const struct rg_bundle_rule *b = r->b;
	bool all = b->action == RG_VERDICT_ALLOW;

	if (b->ops) {
		if (all ? (f->ops == 0 || (f->ops & ~b->ops)) : !(f->ops & b->ops))
			return false;
	}
	if (b->without_where != -1) {
		uint64_t target = b->ops ? (b->ops & UPD_DEL) : UPD_DEL;
		bool nowhere = f->ops_without_where & target;
		if (b->without_where == 1 && !nowhere)
			return false;
		if (b->without_where == 0 && (nowhere || !(f->ops & target)))
			return false;
	}
	if (r->tables.n) {
		if (!all && (b->flags & RG_RULE_TABLES_EXACT) && !b->table_access) {
			if (!bit_get(c->thit, ri))
				return false;
		} else if (!names_pred(&r->tables, f->tables, f->ntables, b->table_access, all,
				       0)) {
			return false;
		}
	}
	if (r->functions.n) {
		if (!all && (b->flags & RG_RULE_FUNCS_EXACT)) {
			if (!bit_get(c->fhit, ri))
				return false;
		} else if (!names_pred(&r->functions, f->functions, f->nfunctions, 0, all,
				       FNM_CASEFOLD)) {
			return false;
		}
	}
	if (r->nfps) {
		if (!all) {
			if (!bit_get(c->phit, ri))
				return false;
		} else {
			if (f->nfingerprints == 0)
				return false;
			for (size_t i = 0; i < f->nfingerprints; i++)
				if (!fp_listed(r, f->fingerprints[i]))
					return false;
		}
	}
	if (r->literals.n) {
		bool hit = false;
		for (uint32_t i = 0; i < r->literals.n && !hit; i++)
			hit = literal_in(text, textlen, r->literals.v[i]);
		if (!hit)
			return false;
	}
	if (b->nregex && !bit_get(c->rxhit, ri))
		return false;
	return true;
}

/* ---- Hyperscan callbacks ---- */

/* Make rule ri a candidate, once. */
static inline void add_candidate(struct rg_policy_ctx *c, uint32_t ri)
{
	if (!bit_get(c->cand, ri)) {
		bit_set(c->cand, ri);
		c->cand_list[c->ncand++] = ri;
	}
}

static int on_prefilter(unsigned id, unsigned long long from, unsigned long long to,
			unsigned flags, void *arg)
{
	(void)from, (void)to, (void)flags;
	add_candidate(arg, id);
	return 0;
}

static int on_text(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
		   void *arg)
{
	(void)from, (void)to, (void)flags;
	bit_set(((struct rg_policy_ctx *)arg)->rxhit, id);
	return 0;
}

/* ---- name index ---- */

static void index_lookup(struct rg_policy_ctx *c, uint64_t key, uint32_t kind, uint64_t *hits)
{
	const struct rg_policy *p = c->p;
	uint32_t mask = p->meta.index_slots - 1;
	for (uint32_t h = (uint32_t)key & mask;; h = (h + 1) & mask) {
		const struct rg_bundle_index_entry *e = &p->index[h];
		if (e->rule == UINT32_MAX)
			return;
		if (e->key == key && e->kind == kind)
			bit_set(hits, e->rule);
	}
}

static const char *lower_into(char *dst, size_t cap, const char *s)
{
	size_t i = 0;
	for (; s[i] && i + 1 < cap; i++)
		dst[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' + 'a') : s[i];
	dst[i] = 0;
	return dst;
}

static void index_hits(struct rg_policy_ctx *c, const struct rg_sql_facts *f)
{
	for (size_t i = 0; i < f->ntables; i++) {
		const struct rg_sql_name *n = &f->tables[i];
		if (n->schema)
			index_lookup(c, rg_bundle_name_key('t', n->schema, n->name), 't', c->thit);
		else
			index_lookup(c, rg_bundle_name_key('T', NULL, n->name), 'T', c->thit);
		index_lookup(c, rg_bundle_name_key('t', NULL, n->name), 't', c->thit);
	}
	for (size_t i = 0; i < f->nfunctions; i++) {
		const struct rg_sql_name *n = &f->functions[i];
		const char *name = lower_into(c->lower, sizeof(c->lower), n->name);
		if (n->schema)
			index_lookup(c,
				     rg_bundle_name_key('f',
							lower_into(c->lower_schema,
								   sizeof(c->lower_schema),
								   n->schema),
							name),
				     'f', c->fhit);
		else
			index_lookup(c, rg_bundle_name_key('F', NULL, name), 'F', c->fhit);
		index_lookup(c, rg_bundle_name_key('f', NULL, name), 'f', c->fhit);
	}
	for (size_t i = 0; i < f->nfingerprints; i++)
		index_lookup(c, rg_bundle_fp_key(f->fingerprints[i]), 'p', c->phit);
}

/* ---- decision ---- */

static uint32_t spec_of(const struct rg_policy *p, uint32_t ri)
{
	return ri < p->meta.nrules ? p->rules[ri].b->specificity : 0;
}

/* Apply precedence to matched[0..n), counting shadow rules or not. */
static enum rg_verdict resolve(const struct rg_policy *p, const uint32_t *matched, size_t n,
			       bool with_shadow, const struct rg_rule_info **rule)
{
	int64_t max_allow = -1;
	*rule = NULL;
	for (size_t i = 0; i < n; i++) {
		const struct rg_rule_info *in = &p->infos[matched[i]];
		if ((in->enforce || with_shadow) && in->action == RG_VERDICT_ALLOW &&
		    (int64_t)spec_of(p, matched[i]) > max_allow)
			max_allow = spec_of(p, matched[i]);
	}
	enum rg_verdict v = RG_VERDICT_ALLOW;
	for (size_t i = 0; i < n; i++) {
		const struct rg_rule_info *in = &p->infos[matched[i]];
		if (!(in->enforce || with_shadow) || in->action == RG_VERDICT_ALLOW)
			continue;
		if (in->action >= RG_VERDICT_HOLD && (int64_t)spec_of(p, matched[i]) < max_allow)
			continue; /* cancelled by a more specific allow rule */
		if (in->action > v || (in->action == v && !*rule)) {
			v = in->action;
			*rule = in;
		}
	}
	if (!*rule && max_allow >= 0) {
		for (size_t i = 0; i < n; i++) {
			const struct rg_rule_info *in = &p->infos[matched[i]];
			if ((in->enforce || with_shadow) && in->action == RG_VERDICT_ALLOW &&
			    (int64_t)spec_of(p, matched[i]) == max_allow) {
				*rule = in;
				break;
			}
		}
	}
	return v;
}

static const struct rg_my_lexing default_mysql = { 101100, RG_MY_MARIADB, 0 };

/* The lexing state of a MySQL request; NULL for other protocols. */
static const struct rg_my_lexing *mysql_lexing(const struct rg_request *req)
{
	if (!req->protocol || strcmp(req->protocol, "mysql") != 0)
		return NULL;
	return req->mysql ? req->mysql : &default_mysql;
}

static uint64_t identity_class(const struct rg_request *req, uint64_t seed)
{
	const struct rg_identity *id = req->identity;
	const char *parts[] = { req->protocol, req->target, id ? id->issuer : NULL,
				id ? id->subject : NULL };
	uint64_t h = seed;
	/* each part hashed with its NUL, chained through the seed: no ambiguity between
	 * ("ab","c") and ("a","bc") */
	for (size_t i = 0; i < 4; i++)
		h = XXH3_64bits_withSeed(parts[i] ? parts[i] : "", parts[i] ? strlen(parts[i]) + 1 : 1,
					 h);
	for (size_t i = 0; id && i < id->ngroups; i++)
		if (id->groups[i])
			h = XXH3_64bits_withSeed(id->groups[i], strlen(id->groups[i]) + 1, h);
	/* the same text means something else under another sql_mode or server version */
	const struct rg_my_lexing *lx = mysql_lexing(req);
	if (lx) {
		uint32_t k[3] = { lx->server_version, (uint32_t)lx->dialect, lx->modes };
		h = XXH3_64bits_withSeed(k, sizeof(k), h);
	}
	return h;
}

static struct vc_entry *cache_slot(struct rg_policy_ctx *c, uint64_t who, const char *sql,
				   size_t len, uint64_t *key)
{
	*key = XXH3_64bits_withSeed(sql, len, c->seed ^ who) | 1;
	return &c->vc[*key % VC_SLOTS];
}

static bool cache_get(struct rg_policy_ctx *c, const struct vc_entry *e, uint64_t key,
		      uint64_t who, const char *sql, size_t len, struct rg_decision *out)
{
	if (e->key != key || e->who != who || e->len != len || memcmp(e->text, sql, len) != 0)
		return false;
	const struct rg_policy *p = c->p;
	out->verdict = (enum rg_verdict)e->verdict;
	out->shadow_verdict = (enum rg_verdict)e->shadow;
	out->rule = e->rule == UINT32_MAX ? NULL : &p->infos[e->rule];
	out->nrules = e->nrules;
	for (size_t i = 0; i < e->nrules; i++)
		out->rules[i] = &p->infos[e->rules[i]];
	out->cached = true;
	return true;
}

static void cache_put(struct rg_policy_ctx *c, struct vc_entry *e, uint64_t key, uint64_t who,
		      const char *sql, size_t len, const struct rg_decision *d)
{
	e->key = key;
	e->who = who;
	e->len = (uint32_t)len;
	memcpy(e->text, sql, len);
	e->verdict = (uint8_t)d->verdict;
	e->shadow = (uint8_t)d->shadow_verdict;
	e->rule = d->rule ? (uint32_t)(d->rule - c->p->infos) : UINT32_MAX;
	e->nrules = (uint8_t)d->nrules;
	for (size_t i = 0; i < d->nrules; i++)
		e->rules[i] = (uint32_t)(d->rules[i] - c->p->infos);
}

static int decide(struct rg_policy_ctx *c, const struct rg_request *req, const char *sql,
		  size_t len, struct rg_decision *out);

int rg_policy_verdict(struct rg_policy_ctx *c, const struct rg_request *req, const char *sql,
		      size_t len, struct rg_decision *out)
{
	memset(out, 0, sizeof(*out));
	if (c->no_cache || c->no_prefilter || len > VC_MAXLEN)
		return decide(c, req, sql, len, out);
	uint64_t who = identity_class(req, c->seed), key;
	struct vc_entry *e = cache_slot(c, who, sql, len, &key);
	if (cache_get(c, e, key, who, sql, len, out))
		return 0;
	int rc = decide(c, req, sql, len, out);
	if (rc == 0)
		cache_put(c, e, key, who, sql, len, out);
	return rc;
}

static int decide(struct rg_policy_ctx *c, const struct rg_request *req, const char *sql,
		  size_t len, struct rg_decision *out)
{
	const struct rg_policy *p = c->p;
	uint32_t nrules = p->meta.nrules;
	int rc = 0;

	c->ncand = 0;
	if (c->no_prefilter ||
	    (p->prefilter &&
	     hs_scan(p->prefilter, sql, (unsigned)len, 0, c->scratch, on_prefilter, c) !=
		     HS_SUCCESS)) {
		/* prefilter off, or a scan error (cannot happen short of memory corruption):
		 * every rule is a candidate */
		for (uint32_t i = 0; i < nrules; i++)
			add_candidate(c, i);
	}
	for (uint32_t i = 0; i < p->meta.always_count; i++)
		add_candidate(c, p->always[i]);
	/* identity and target filter; clear the candidate bitmap as we go */
	size_t nc = 0;
	unsigned flags = 0;
	for (size_t i = 0; i < c->ncand; i++) {
		uint32_t ri = c->cand_list[i];
		c->cand[ri >> 6] = 0;
		if (!rg_match_holds(&p->rules[ri].match, req))
			continue;
		c->cand_list[nc++] = ri;
		if (p->rules[ri].nfps)
			flags |= RG_SQLCLASS_FINGERPRINT;
		if (p->rules[ri].literals.n || p->rules[ri].b->nregex)
			flags |= RG_SQLCLASS_NORMALIZE;
	}
	c->ncand = nc;

	if (nc == 0 && p->meta.on_unparseable == RG_VERDICT_ALLOW)
		return 0; /* no rule can match, and parse failures are allowed too */

	if (nc == 0) /* only the unparseable rule can still match */
		flags = RG_SQLCLASS_VALIDATE_ONLY | (c->no_cache ? 0 : RG_SQLCLASS_SHAPE_CACHE);
	const struct rg_my_lexing *lx = mysql_lexing(req);
	if (lx)
		rc = rg_myclass_run(c->mc, lx, sql, len, flags & ~RG_SQLCLASS_SHAPE_CACHE,
				    &c->facts);
	else
		rc = rg_sqlclass_run(c->sc, sql, len, flags, &c->facts);
	if (rc)
		return rc;
	const struct rg_sql_facts *f = &c->facts;
	out->parsed = nc > 0;
	out->facts = nc > 0 ? f : NULL;

	size_t nm = 0;
	if (nc) {
		const char *text = f->normalized ? f->normalized : sql;
		size_t textlen = f->normalized ? f->normalized_len : len;
		bool rx = false;
		for (size_t i = 0; i < nc && !rx; i++)
			rx = p->rules[c->cand_list[i]].b->nregex;
		if (rx && p->text)
			hs_scan(p->text, text, (unsigned)textlen, 0, c->scratch, on_text, c);
		if (p->index)
			index_hits(c, f);
		for (size_t i = 0; i < nc; i++) {
			uint32_t ri = c->cand_list[i];
			if (rule_holds(c, ri, f, text, textlen))
				c->matched[nm++] = ri;
		}
		memset(c->rxhit, 0, c->words * 8);
		memset(c->thit, 0, c->words * 8);
		memset(c->fhit, 0, c->words * 8);
		memset(c->phit, 0, c->words * 8);
	}
	if (f->status == RG_SQL_UNPARSEABLE)
		c->matched[nm++] = nrules; /* the built-in rule */

	out->verdict = resolve(p, c->matched, nm, false, &out->rule);
	const struct rg_rule_info *shadow_rule;
	out->shadow_verdict = resolve(p, c->matched, nm, true, &shadow_rule);
	for (size_t i = 0; i < nm && out->nrules < RG_DECISION_MAX_RULES; i++)
		out->rules[out->nrules++] = &p->infos[c->matched[i]];
	return 0;
}

/* ---- masking ---- */

/* Grow a plan's arrays to ncolumns column actions and nmasks enable flags. */
static int plan_reserve(int32_t **ca, uint8_t **en, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	int32_t *a = realloc(*ca, need * sizeof(*a));
	if (!a)
		return -ENOMEM;
	*ca = a;
	uint8_t *e = realloc(*en, need);
	if (!e)
		return -ENOMEM;
	*en = e;
	*cap = need;
	return 0;
}

/* Fill col_action[0..ncolumns) and enabled[0..nmasks) for req; out points at them. */
static void plan_fill(const struct rg_policy *p, const struct rg_request *req,
		      const char *const *columns, size_t ncolumns, int32_t *col_action,
		      uint8_t *enabled, struct rg_mask_plan *out)
{
	bool any_column_rule = false;
	for (uint32_t i = 0; i < p->meta.nmasks; i++) {
		enabled[i] = rg_match_holds(&p->masks[i].match, req);
		any_column_rule |= enabled[i] && p->masks[i].b->detector < 0;
	}
	for (size_t col = 0; col < ncolumns; col++) {
		col_action[col] = -1;
		if (!any_column_rule || !columns || !columns[col])
			continue;
		for (uint32_t i = 0; i < p->meta.nmasks; i++) {
			const struct rg_rt_mask *m = &p->masks[i];
			if (!enabled[i] || m->b->detector >= 0)
				continue;
			if (any_glob(&m->columns, columns[col], 0)) {
				col_action[col] = (int32_t)i;
				break;
			}
		}
	}
	out->column_action = col_action;
	out->ncolumns = ncolumns;
	out->enabled = enabled;
	/* once per plan, not per row */
	out->detectors = RG_MASK_PLAN_DETECTORS | rg_mask_detectors(p->mask_acts, p->meta.nmasks,
								     enabled);
}

int rg_policy_mask_plan(struct rg_policy_ctx *c, const struct rg_request *req,
			const char *const *columns, size_t ncolumns,
			const struct rg_mask_plan **plan)
{
	const struct rg_policy *p = c->p;
	size_t need = ncolumns > p->meta.nmasks ? ncolumns : p->meta.nmasks;
	if (plan_reserve(&c->col_action, &c->enabled, &c->plan_cap, need))
		return -ENOMEM;
	plan_fill(p, req, columns, ncolumns, c->col_action, c->enabled, &c->plan);
	*plan = &c->plan;
	return 0;
}

struct rg_policy_plan {
	const struct rg_policy *p; /* the policy the indexes refer to */
	int32_t *col_action;
	uint8_t *enabled;
	size_t cap;
	struct rg_mask_plan plan;
};

struct rg_policy_plan *rg_policy_mask_plan_new(void)
{
	return calloc(1, sizeof(struct rg_policy_plan));
}

void rg_policy_mask_plan_free(struct rg_policy_plan *pl)
{
	if (!pl)
		return;
	free(pl->col_action);
	free(pl->enabled);
	free(pl);
}

int rg_policy_mask_plan_build(struct rg_policy_ctx *c, const struct rg_request *req,
			      const char *const *columns, size_t ncolumns,
			      struct rg_policy_plan *pl, const struct rg_mask_plan **plan)
{
	const struct rg_policy *p = c->p;
	size_t need = ncolumns > p->meta.nmasks ? ncolumns : p->meta.nmasks;

	pl->p = NULL;
	if (plan_reserve(&pl->col_action, &pl->enabled, &pl->cap, need ? need : 1))
		return -ENOMEM;
	plan_fill(p, req, columns, ncolumns, pl->col_action, pl->enabled, &pl->plan);
	pl->p = p;
	*plan = &pl->plan;
	return 0;
}

const struct rg_mask_plan *rg_policy_mask_plan_get(const struct rg_policy_plan *pl,
						   const struct rg_policy_ctx *c)
{
	return pl && pl->p && pl->p == c->p ? &pl->plan : NULL;
}

int rg_policy_mask_row(struct rg_policy_ctx *c, const struct rg_mask_plan *plan,
		       const struct rg_mask_field *fields, size_t nfields,
		       struct rg_mask_result *out)
{
	return rg_masker_row(c->masker, plan, fields, nfields, out);
}

bool rg_policy_mask_field_clear(const struct rg_policy_ctx *c, const struct rg_mask_plan *plan,
				const uint8_t *p, size_t len)
{
	return rg_masker_field_clear(c->masker, plan, p, len);
}

size_t rg_policy_mask_run_clear(const struct rg_policy_ctx *c, const struct rg_mask_plan *plan,
				const uint8_t *p, size_t n, size_t from)
{
	return rg_masker_run_clear(c->masker, plan, p, n, from);
}
