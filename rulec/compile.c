/*
 * compile: a checked rule program -> bundle bytes (format in engine/policy/bundle_format.h).
 *
 * Owns the decisions made once, offline, so the data path does little: which literals a
 * rule needs before it can possibly match (the Hyperscan prefilter), which names go into
 * the xxh3-keyed index, each rule's specificity, the Hyperscan databases for text
 * predicates and masking detectors. Output is deterministic: same input, same bytes (no
 * time, no host, insertion order everywhere). The front end already rejected bad input,
 * so errors here are resource or Hyperscan failures, still reported with positions.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <hs/hs.h>
#include <xxhash.h>

#include "bundle_format.h"
#include "rulec.h"

void rulec_buf_free(struct rulec_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static void buf_reserve(struct rulec_buf *b, size_t more)
{
	if (b->n + more <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->n + more)
		cap *= 2;
	uint8_t *p = realloc(b->p, cap);
	if (!p)
		abort();
	b->p = p;
	b->cap = cap;
}

static size_t buf_put(struct rulec_buf *b, const void *data, size_t len)
{
	buf_reserve(b, len);
	size_t off = b->n;
	if (len)
		memcpy(b->p + off, data, len);
	b->n += len;
	return off;
}

static void buf_align(struct rulec_buf *b, size_t a)
{
	static const uint8_t zero[16];
	while (b->n % a)
		buf_put(b, zero, 1);
}

/* ---- string table with de-duplication (open addressing over offsets) ---- */

struct strtab {
	struct rulec_buf b;
	uint32_t *slots; /* offset+1, 0 = empty */
	size_t nslots, used;
};

static void strtab_init(struct strtab *t)
{
	memset(t, 0, sizeof(*t));
	buf_put(&t->b, "", 1);
	t->nslots = 1024;
	t->slots = calloc(t->nslots, sizeof(*t->slots));
	if (!t->slots)
		abort();
}

static void strtab_grow(struct strtab *t)
{
	size_t n = t->nslots * 2;
	uint32_t *s = calloc(n, sizeof(*s));
	if (!s)
		abort();
	for (size_t i = 0; i < t->nslots; i++) {
		if (!t->slots[i])
			continue;
		const char *str = (const char *)t->b.p + t->slots[i] - 1;
		size_t h = XXH3_64bits(str, strlen(str)) & (n - 1);
		while (s[h])
			h = (h + 1) & (n - 1);
		s[h] = t->slots[i];
	}
	free(t->slots);
	t->slots = s;
	t->nslots = n;
}

static uint32_t str_add(struct strtab *t, const char *s)
{
	if (!s || !*s)
		return 0;
	size_t len = strlen(s);
	if (t->used * 2 >= t->nslots)
		strtab_grow(t);
	size_t h = XXH3_64bits(s, len) & (t->nslots - 1);
	while (t->slots[h]) {
		const char *cur = (const char *)t->b.p + t->slots[h] - 1;
		if (strcmp(cur, s) == 0)
			return t->slots[h] - 1;
		h = (h + 1) & (t->nslots - 1);
	}
	uint32_t off = (uint32_t)buf_put(&t->b, s, len + 1);
	t->slots[h] = off + 1;
	t->used++;
	return off;
}

/* ---- u32 pool ---- */

struct pool {
	uint32_t *v;
	size_t n, cap;
};

static void pool_push(struct pool *p, uint32_t x)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 256;
		p->v = realloc(p->v, p->cap * sizeof(*p->v));
		if (!p->v)
			abort();
	}
	p->v[p->n++] = x;
}

static struct rg_bundle_list pool_strv(struct pool *p, struct strtab *t,
				       const struct rulec_strv *sv)
{
	struct rg_bundle_list l = { (uint32_t)p->n, (uint32_t)sv->n };
	for (size_t i = 0; i < sv->n; i++)
		pool_push(p, sv->v[i] ? str_add(t, sv->v[i]) : UINT32_MAX);
	return l;
}

static struct rg_bundle_match pool_match(struct pool *p, struct strtab *t,
					 const struct rulec_match *m)
{
	struct rg_bundle_match bm;
	bm.protocols = pool_strv(p, t, &m->protocols);
	bm.targets = pool_strv(p, t, &m->targets);
	bm.subjects = pool_strv(p, t, &m->subjects);
	bm.issuers = pool_strv(p, t, &m->issuers);
	bm.groups_any = pool_strv(p, t, &m->groups_any);
	bm.groups_none = pool_strv(p, t, &m->groups_none);
	return bm;
}

static unsigned match_specificity(const struct rulec_match *m)
{
	return (m->protocols.n > 0) + (m->targets.n > 0) + (m->subjects.n > 0) +
	       (m->issuers.n > 0) + (m->groups_any.n > 0) + (m->groups_none.n > 0);
}

static unsigned rule_specificity(const struct rulec_rule *r)
{
	return match_specificity(&r->match) + (r->ops != 0) +
	       (r->without_where != RULEC_UNSET) + (r->tables.n > 0) + (r->table_access != 0) +
	       (r->functions.n > 0) +
	       (r->fingerprints.n > 0) + (r->literals.n > 0) + (r->regexes.n > 0);
}

/* ---- prefilter literal selection ---- */

static void to_lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

static bool is_glob_char(char c)
{
	return c == '*' || c == '?' || c == '[' || c == ']' || c == '\\';
}

static bool is_glob(const char *s)
{
	for (; *s; s++)
		if (is_glob_char(*s))
			return true;
	return false;
}

/* Longest run of literal characters in the last dot-separated part of a glob, lower-cased.
 * The name part of an identifier must occur in the statement text (unless U&-escaped).
 * Returns the run length (0 if none). */
static size_t glob_name_literal(const char *glob, char *out, size_t outlen)
{
	const char *name = glob;
	const char *dot = strrchr(glob, '.');
	if (dot && !strchr(dot, ']'))
		name = dot + 1;
	size_t best = 0, best_at = 0, run = 0;
	for (size_t i = 0;; i++) {
		char c = name[i];
		if (c == '[') { /* skip a bracket expression */
			const char *end = strchr(name + i, ']');
			run = 0;
			if (!end)
				break;
			i = (size_t)(end - name);
			continue;
		}
		if (c == 0 || is_glob_char(c)) {
			if (c == '\\' && name[i + 1]) {
				/* escaped char: end the run conservatively */
				i++;
			}
			run = 0;
			if (c == 0)
				break;
			continue;
		}
		run++;
		if (run > best) {
			best = run;
			best_at = i + 1 - run;
		}
	}
	if (best >= outlen)
		best = outlen - 1;
	memcpy(out, name + best_at, best);
	out[best] = 0;
	to_lower(out);
	return best;
}

struct litset {
	char **v;
	size_t n, cap;
	size_t minlen;
	bool escapes; /* identifiers: add the U& trigger */
};

static void litset_add(struct litset *s, const char *lit)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i], lit) == 0)
			return;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 8;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if (!s->v)
			abort();
	}
	s->v[s->n++] = strdup(lit);
	size_t len = strlen(lit);
	if (s->n == 1 || len < s->minlen)
		s->minlen = len;
}

static void litset_free(struct litset *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static bool lits_from_globs(const struct rulec_strv *globs, struct litset *s)
{
	char lit[256];
	for (size_t i = 0; i < globs->n; i++) {
		if (glob_name_literal(globs->v[i], lit, sizeof(lit)) == 0)
			return false;
		litset_add(s, lit);
	}
	s->escapes = true;
	return globs->n > 0;
}

static bool lits_from_ops(uint64_t ops, struct litset *s)
{
	if (!ops)
		return false;
	for (int op = 0; op < RG_OP__COUNT; op++) {
		if (!(ops & RG_OP_BIT(op)))
			continue;
		const char *const *kw = rg_sql_op_keywords((enum rg_sql_op)op);
		if (!kw)
			return false;
		for (; *kw; kw++)
			litset_add(s, *kw);
	}
	return true;
}

static bool lits_from_text(const struct rulec_strv *lits, struct litset *s)
{
	for (size_t i = 0; i < lits->n; i++) {
		if (strchr(lits->v[i], '$') || !lits->v[i][0])
			return false; /* may straddle a constant replaced by normalization */
		char *low = strdup(lits->v[i]);
		to_lower(low);
		litset_add(s, low);
		free(low);
	}
	return lits->n > 0;
}

/* Pick the required-literal set with the longest shortest literal. false = the rule has
 * no literal every matching statement must contain: it is evaluated for every statement. */
static bool rule_literals(const struct rulec_rule *r, struct litset *best)
{
	struct litset c[4];
	bool ok[4];
	memset(c, 0, sizeof(c));
	uint64_t ops = r->ops;
	if (!ops && r->without_where == RULEC_TRUE)
		ops = RG_OP_BIT(RG_OP_UPDATE) | RG_OP_BIT(RG_OP_DELETE);
	ok[0] = lits_from_globs(&r->functions, &c[0]);
	ok[1] = lits_from_globs(&r->tables, &c[1]);
	ok[2] = lits_from_text(&r->literals, &c[2]);
	ok[3] = lits_from_ops(ops, &c[3]);
	int pick = -1;
	for (int i = 0; i < 4; i++)
		if (ok[i] && (pick < 0 || c[i].minlen > c[pick].minlen))
			pick = i;
	for (int i = 0; i < 4; i++) {
		if (i == pick)
			*best = c[i];
		else
			litset_free(&c[i]);
	}
	return pick >= 0;
}

/* ---- Hyperscan helpers ---- */

static int serialize_db(hs_database_t *db, struct rulec_buf *out)
{
	char *bytes = NULL;
	size_t len = 0;
	if (hs_serialize_database(db, &bytes, &len) != HS_SUCCESS)
		return -1;
	buf_put(out, bytes, len);
	free(bytes);
	return 0;
}

struct patterns {
	const char **expr;
	unsigned *flags, *ids;
	size_t *lens;
	size_t n, cap;
};

static void pat_add(struct patterns *p, const char *e, unsigned flags, unsigned id)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 64;
		p->expr = realloc(p->expr, p->cap * sizeof(*p->expr));
		p->flags = realloc(p->flags, p->cap * sizeof(*p->flags));
		p->ids = realloc(p->ids, p->cap * sizeof(*p->ids));
		p->lens = realloc(p->lens, p->cap * sizeof(*p->lens));
		if (!p->expr || !p->flags || !p->ids || !p->lens)
			abort();
	}
	p->expr[p->n] = e;
	p->flags[p->n] = flags;
	p->ids[p->n] = id;
	p->lens[p->n] = strlen(e);
	p->n++;
}

static void pat_free(struct patterns *p)
{
	free(p->expr);
	free(p->flags);
	free(p->ids);
	free(p->lens);
	memset(p, 0, sizeof(*p));
}

/* ---- sections ---- */

struct sections {
	struct rg_bundle_section v[16];
	struct rulec_buf data[16];
	size_t n;
};

static struct rulec_buf *sec_new(struct sections *s, uint32_t type, uint32_t count)
{
	struct rg_bundle_section *sec = &s->v[s->n];
	memset(sec, 0, sizeof(*sec));
	sec->type = type;
	sec->count = count;
	memset(&s->data[s->n], 0, sizeof(s->data[s->n]));
	return &s->data[s->n++];
}

struct index_builder {
	struct rg_bundle_index_entry *v;
	size_t n, cap;
};

static void index_add(struct index_builder *ib, uint64_t key, uint32_t rule, uint32_t kind)
{
	if (ib->n == ib->cap) {
		ib->cap = ib->cap ? ib->cap * 2 : 64;
		ib->v = realloc(ib->v, ib->cap * sizeof(*ib->v));
		if (!ib->v)
			abort();
	}
	ib->v[ib->n++] = (struct rg_bundle_index_entry){ key, rule, kind };
}

/* An exact name is indexed under its own text; a qualified one also under its bare name
 * with the kind in upper case, so an unqualified reference (schema decided by search_path
 * at run time) can find the rules that name it with some schema. */
static void index_name(struct index_builder *ib, char kind, const char *name, uint32_t rule)
{
	index_add(ib, rg_bundle_name_key(kind, NULL, name), rule, (uint32_t)kind);
	const char *dot = strrchr(name, '.');
	if (dot)
		index_add(ib, rg_bundle_name_key((char)(kind - 'a' + 'A'), NULL, dot + 1), rule,
			  (uint32_t)(kind - 'a' + 'A'));
}

static uint64_t parse_hex64(const char *s)
{
	return strtoull(s, NULL, 16);
}

static int build_tests(const struct rulec_program *prog, struct strtab *st, struct pool *pl,
		       struct rulec_buf *out)
{
	for (size_t i = 0; i < prog->ntests; i++) {
		const struct rulec_test *t = &prog->tests[i];
		struct rg_bundle_test bt;
		memset(&bt, 0, sizeof(bt));
		bt.kind = t->kind == RULEC_TEST_ROW;
		bt.file_str = str_add(st, t->pos.file);
		bt.line = (uint32_t)t->pos.line;
		bt.owner_str = str_add(st, t->owner);
		bt.subject_str = str_add(st, t->identity.subject ? t->identity.subject : "test-agent");
		bt.issuer_str =
			str_add(st, t->identity.issuer ? t->identity.issuer : "https://issuer.test");
		bt.target_str = str_add(st, t->target ? t->target : "test");
		bt.protocol_str = str_add(st, t->protocol ? t->protocol : "postgres");
		bt.groups = pool_strv(pl, st, &t->identity.groups);
		bt.sql_str = str_add(st, t->sql);
		bt.expect = (uint8_t)t->expect;
		bt.has_shadow = t->has_shadow;
		bt.expect_shadow = (uint8_t)t->expect_shadow;
		bt.mysql_modes = (uint8_t)t->mysql_modes;
		const char *er = t->expect_rule;
		if (!er && t->expect != RG_VERDICT_ALLOW && t->kind == RULEC_TEST_SQL)
			er = t->owner;
		bt.expect_rule_str = str_add(st, er);
		bt.row = pool_strv(pl, st, &t->row);
		bt.columns = pool_strv(pl, st, &t->columns);
		bt.expect_row = pool_strv(pl, st, &t->expect_row);
		if (t->kind == RULEC_TEST_SESSION) {
			bt.kind = 2;
			bt.limits_checked = t->limits_checked;
			bt.limits_none = t->limits_none;
			for (int k = 0; k < RG_LIMIT__COUNT; k++)
				if ((t->limits_checked & ~t->limits_none) >> k & 1)
					bt.limits[k] = t->limits[k];
		}
		buf_put(out, &bt, sizeof(bt));
	}
	return 0;
}

int rulec_compile(const struct rulec_program *prog, struct rulec_buf *out, struct rulec_diags *d)
{
	int rc = -1;
	struct strtab st;
	struct pool pl = { 0 };
	struct sections secs;
	struct patterns pre = { 0 }, text = { 0 };
	struct index_builder ib = { 0 };
	struct pool always = { 0 };
	struct litset *lits = calloc(prog->nrules + 1, sizeof(*lits));
	struct rg_mask_action *acts = calloc(prog->nmasks + 1, sizeof(*acts));
	hs_database_t *db = NULL;
	hs_compile_error_t *cerr = NULL;
	uint32_t meta_flags = 0;
	int on_unparseable = -1;

	if (!lits || !acts)
		abort();
	strtab_init(&st);
	memset(&secs, 0, sizeof(secs));
	memset(out, 0, sizeof(*out));

	struct rulec_buf *rules = sec_new(&secs, RG_SEC_RULES, (uint32_t)prog->nrules);
	for (size_t i = 0; i < prog->nrules; i++) {
		const struct rulec_rule *r = &prog->rules[i];
		struct rg_bundle_rule br;
		memset(&br, 0, sizeof(br));
		br.id_str = str_add(&st, r->id);
		br.message_str = str_add(&st, r->message);
		br.file_str = str_add(&st, r->pos.file);
		br.line = (uint32_t)r->pos.line;
		br.approval_group_str = str_add(&st, r->approval_group);
		br.approval_ttl_s = r->approval_ttl_s;
		br.approval_expire_s = r->approval_expire_s;
		br.approval_scope = (uint8_t)r->approval_scope;
		br.ops = r->ops;
		br.action = (uint8_t)r->action;
		br.enforce = r->enforce;
		br.without_where = (int8_t)r->without_where;
		br.table_access = r->table_access;
		memcpy(br.sqlstate, r->sqlstate[0] ? r->sqlstate : "42501", 6);
		br.sqlstate[5] = 0;
		br.specificity = rule_specificity(r);
		br.match = pool_match(&pl, &st, &r->match);
		br.tables = pool_strv(&pl, &st, &r->tables);
		br.functions = pool_strv(&pl, &st, &r->functions);
		br.fingerprints.start = (uint32_t)pl.n;
		br.fingerprints.count = (uint32_t)r->fingerprints.n;
		for (size_t k = 0; k < r->fingerprints.n; k++) {
			uint64_t fp = parse_hex64(r->fingerprints.v[k]);
			pool_push(&pl, (uint32_t)fp);
			pool_push(&pl, (uint32_t)(fp >> 32));
			index_add(&ib, rg_bundle_fp_key(fp), (uint32_t)i, 'p');
			meta_flags |= RG_META_NEED_FINGERPRINT;
		}
		br.literals.start = (uint32_t)pl.n;
		br.literals.count = (uint32_t)r->literals.n;
		for (size_t k = 0; k < r->literals.n; k++) {
			char *low = strdup(r->literals.v[k]);
			to_lower(low);
			pool_push(&pl, str_add(&st, low));
			free(low);
		}
		br.nregex = (uint32_t)r->regexes.n;
		for (size_t k = 0; k < r->regexes.n; k++)
			pat_add(&text, r->regexes.v[k],
				HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH | HS_FLAG_DOTALL,
				(unsigned)i);
		if (r->literals.n || r->regexes.n)
			meta_flags |= RG_META_NEED_NORMALIZE;

		/* Exact names go to the xxh3 index; globs are matched per rule. */
		bool exact = r->tables.n > 0;
		for (size_t k = 0; k < r->tables.n; k++)
			exact = exact && !is_glob(r->tables.v[k]);
		if (exact) {
			br.flags |= RG_RULE_TABLES_EXACT;
			for (size_t k = 0; k < r->tables.n; k++)
				index_name(&ib, 't', r->tables.v[k], (uint32_t)i);
		}
		exact = r->functions.n > 0;
		for (size_t k = 0; k < r->functions.n; k++)
			exact = exact && !is_glob(r->functions.v[k]);
		if (exact) {
			br.flags |= RG_RULE_FUNCS_EXACT;
			for (size_t k = 0; k < r->functions.n; k++) {
				char *low = strdup(r->functions.v[k]);
				to_lower(low);
				index_name(&ib, 'f', low, (uint32_t)i);
				free(low);
			}
		}

		if (rule_literals(r, &lits[i])) {
			for (size_t k = 0; k < lits[i].n; k++)
				pat_add(&pre, lits[i].v[k], HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH,
					(unsigned)i);
			if (lits[i].escapes)
				pat_add(&pre, "u&", HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH,
					(unsigned)i);
		} else {
			pool_push(&always, (uint32_t)i);
		}
		buf_put(rules, &br, sizeof(br));
	}

	for (size_t i = 0; i < prog->npacks; i++)
		if (prog->packs[i].on_unparseable > on_unparseable)
			on_unparseable = prog->packs[i].on_unparseable;
	if (on_unparseable < 0)
		on_unparseable = RG_VERDICT_DENY;

	struct rulec_buf *masks = sec_new(&secs, RG_SEC_MASKS, (uint32_t)prog->nmasks);
	for (size_t i = 0; i < prog->nmasks; i++) {
		const struct rulec_mask *m = &prog->masks[i];
		struct rg_bundle_mask bm;
		memset(&bm, 0, sizeof(bm));
		bm.id_str = str_add(&st, m->id);
		bm.file_str = str_add(&st, m->pos.file);
		bm.line = (uint32_t)m->pos.line;
		bm.detector = m->detector;
		bm.style = (uint8_t)m->style;
		bm.keep = m->keep;
		bm.static_str = str_add(&st, m->static_text);
		bm.match = pool_match(&pl, &st, &m->match);
		bm.columns = pool_strv(&pl, &st, &m->columns);
		buf_put(masks, &bm, sizeof(bm));
		acts[i] = (struct rg_mask_action){ .detector = m->detector,
						   .style = m->style,
						   .keep = m->keep,
						   .static_text = m->static_text,
						   .rule_index = (uint32_t)i };
	}

	if (pre.n) {
		if (hs_compile_lit_multi(pre.expr, pre.flags, pre.ids, pre.lens, (unsigned)pre.n,
					 HS_MODE_BLOCK, NULL, &db, &cerr) != HS_SUCCESS) {
			rulec_diag_add(d, (struct rulec_pos){ 0 }, "prefilter compile failed: %s",
				       cerr ? cerr->message : "?");
			goto out;
		}
		if (serialize_db(db, sec_new(&secs, RG_SEC_HS_PREFILTER, (uint32_t)pre.n)))
			goto out;
		hs_free_database(db);
		db = NULL;
	}
	if (text.n) {
		if (hs_compile_multi(text.expr, text.flags, text.ids, (unsigned)text.n,
				     HS_MODE_BLOCK, NULL, &db, &cerr) != HS_SUCCESS) {
			struct rulec_pos pos = { 0 };
			if (cerr && cerr->expression >= 0 && (size_t)cerr->expression < text.n)
				pos = prog->rules[text.ids[cerr->expression]].pos;
			rulec_diag_add(d, pos, "text regex compile failed: %s",
				       cerr ? cerr->message : "?");
			goto out;
		}
		if (serialize_db(db, sec_new(&secs, RG_SEC_HS_TEXT, (uint32_t)text.n)))
			goto out;
		hs_free_database(db);
		db = NULL;
	}
	if (prog->nmasks) {
		char err[256];
		if (rg_mask_compile(acts, prog->nmasks, &db, err, sizeof(err)) != 0) {
			rulec_diag_add(d, (struct rulec_pos){ 0 }, "mask compile failed: %s", err);
			goto out;
		}
		if (db) {
			if (serialize_db(db, sec_new(&secs, RG_SEC_HS_MASK, 0)))
				goto out;
			hs_free_database(db);
			db = NULL;
		}
	}

	uint32_t slots = 0;
	if (ib.n) {
		slots = 16;
		while (slots < ib.n * 2)
			slots *= 2;
		struct rulec_buf *ix = sec_new(&secs, RG_SEC_NAME_INDEX, slots);
		struct rg_bundle_index_entry *tab = calloc(slots, sizeof(*tab));
		if (!tab)
			abort();
		for (uint32_t k = 0; k < slots; k++)
			tab[k].rule = UINT32_MAX;
		for (size_t k = 0; k < ib.n; k++) {
			uint32_t h = (uint32_t)ib.v[k].key & (slots - 1);
			while (tab[h].rule != UINT32_MAX)
				h = (h + 1) & (slots - 1);
			tab[h] = ib.v[k];
		}
		buf_put(ix, tab, slots * sizeof(*tab));
		free(tab);
	}

	struct rulec_buf *limits = sec_new(&secs, RG_SEC_LIMITS, (uint32_t)prog->nlimits);
	for (size_t i = 0; i < prog->nlimits; i++) {
		const struct rulec_limit *l = &prog->limits[i];
		struct rg_bundle_limit bl;
		memset(&bl, 0, sizeof(bl));
		bl.id_str = str_add(&st, l->id);
		bl.file_str = str_add(&st, l->pos.file);
		bl.line = (uint32_t)l->pos.line;
		bl.set = l->set;
		for (int k = 0; k < RG_LIMIT__COUNT; k++)
			bl.value[k] = (l->set >> k & 1) ? l->value[k] : 0;
		bl.match = pool_match(&pl, &st, &l->match);
		buf_put(limits, &bl, sizeof(bl));
	}

	struct rulec_buf *tests = sec_new(&secs, RG_SEC_TESTS, (uint32_t)prog->ntests);
	build_tests(prog, &st, &pl, tests);

	/* packs string and meta come last so every string is in the table */
	struct rg_bundle_meta meta;
	memset(&meta, 0, sizeof(meta));
	{
		size_t len = 1;
		for (size_t i = 0; i < prog->npacks; i++)
			len += strlen(prog->packs[i].name ? prog->packs[i].name : "") + 1;
		char *packs = calloc(1, len);
		if (!packs)
			abort();
		for (size_t i = 0; i < prog->npacks; i++) {
			if (i)
				strcat(packs, ",");
			strcat(packs, prog->packs[i].name ? prog->packs[i].name : "");
		}
		meta.packs_str = str_add(&st, packs);
		free(packs);
	}
	meta.nrules = (uint32_t)prog->nrules;
	meta.nmasks = (uint32_t)prog->nmasks;
	meta.nlimits = (uint32_t)prog->nlimits;
	meta.ntests = (uint32_t)prog->ntests;
	meta.on_unparseable = (uint32_t)on_unparseable;
	meta.flags = meta_flags;
	meta.always_rules = (uint32_t)pl.n;
	meta.always_count = (uint32_t)always.n;
	for (size_t i = 0; i < always.n; i++)
		pool_push(&pl, always.v[i]);
	meta.index_slots = slots;
	meta.detector_catalog = RG_DETECTOR_CATALOG_VERSION;
	buf_put(sec_new(&secs, RG_SEC_META, 1), &meta, sizeof(meta));
	buf_put(sec_new(&secs, RG_SEC_LISTS, (uint32_t)pl.n), pl.v, pl.n * sizeof(uint32_t));
	buf_put(sec_new(&secs, RG_SEC_STRTAB, 0), st.b.p, st.b.n);

	/* assemble: header, section table, sections */
	struct rg_bundle_header hdr;
	memset(&hdr, 0, sizeof(hdr));
	memcpy(hdr.magic, RG_BUNDLE_MAGIC, 8);
	hdr.version = RG_BUNDLE_VERSION;
	hdr.header_size = RG_BUNDLE_HEADER_SIZE;
	hdr.nsections = (uint32_t)secs.n;
	snprintf(hdr.hs_version, sizeof(hdr.hs_version), "%s", hs_version());
	hs_platform_info_t plat;
	if (hs_populate_platform(&plat) == HS_SUCCESS) {
		hdr.hs_cpu_features = plat.cpu_features;
		hdr.hs_tune = plat.tune;
	}
	buf_put(out, &hdr, sizeof(hdr));
	size_t table_at = buf_put(out, secs.v, secs.n * sizeof(secs.v[0]));
	for (size_t i = 0; i < secs.n; i++) {
		buf_align(out, 8);
		secs.v[i].offset = out->n - RG_BUNDLE_HEADER_SIZE;
		secs.v[i].len = secs.data[i].n;
		buf_put(out, secs.data[i].p, secs.data[i].n);
	}
	buf_align(out, 8);
	memcpy(out->p + table_at, secs.v, secs.n * sizeof(secs.v[0]));
	struct rg_bundle_header *h = (struct rg_bundle_header *)out->p;
	h->body_len = out->n - RG_BUNDLE_HEADER_SIZE;
	h->body_xxh3 = XXH3_64bits(out->p + RG_BUNDLE_HEADER_SIZE, h->body_len);
	rc = 0;
out:
	if (cerr)
		hs_free_compile_error(cerr);
	if (db)
		hs_free_database(db);
	for (size_t i = 0; i < secs.n; i++)
		rulec_buf_free(&secs.data[i]);
	for (size_t i = 0; i < prog->nrules; i++)
		litset_free(&lits[i]);
	free(lits);
	free(acts);
	pat_free(&pre);
	pat_free(&text);
	free(ib.v);
	free(always.v);
	free(pl.v);
	free(st.slots);
	rulec_buf_free(&st.b);
	if (rc)
		rulec_buf_free(out);
	return rc;
}
