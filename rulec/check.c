/*
 * check: the checks that need the whole program, after every file has been parsed.
 *
 * Rule, mask and limit ids share one namespace across all files; pack names are unique; a
 * test's `rule:` must name a rule (not a mask or a limit). Each problem is reported at the later of
 * the two places, naming the earlier one, so the output does not depend on which file the user
 * meant. "Earlier" is program order: files sorted by name, then line and column. Reads
 * the program only; never reports what parse.c already reported.
 */
#include <stdlib.h>
#include <string.h>

#include "ir.h"

enum named_kind { NAMED_RULE, NAMED_MASK, NAMED_LIMIT };

struct named {
	const char *name;
	struct rulec_pos pos;
	size_t file_idx;
	enum named_kind kind;
};

static size_t file_index(const struct rulec_program *p, const char *file)
{
	for (size_t i = 0; i < p->nfiles; i++)
		if (p->files[i] == file)
			return i;
	return p->nfiles;
}

static int poscmp(const struct named *x, const struct named *y)
{
	if (x->file_idx != y->file_idx)
		return x->file_idx < y->file_idx ? -1 : 1;
	if (x->pos.line != y->pos.line)
		return x->pos.line < y->pos.line ? -1 : 1;
	if (x->pos.col != y->pos.col)
		return x->pos.col < y->pos.col ? -1 : 1;
	return 0;
}

static int namedcmp(const void *a, const void *b)
{
	const struct named *x = a, *y = b;
	int r = strcmp(x->name, y->name);
	return r ? r : poscmp(x, y);
}

static void named_add(const struct rulec_program *p, struct named *v, size_t *n, const char *name,
		      struct rulec_pos pos, enum named_kind kind)
{
	if (!name)
		return; /* already reported by the parser */
	v[*n] = (struct named){.name = name, .pos = pos, .kind = kind};
	v[*n].file_idx = file_index(p, pos.file);
	(*n)++;
}

/* Report every repeat of a name in the sorted v[0..n). */
static void report_dups(const struct named *v, size_t n, const char *what, struct rulec_diags *d)
{
	for (size_t i = 1; i < n; i++) {
		const struct named *first = &v[i - 1];
		while (i < n && !strcmp(v[i].name, first->name)) {
			rulec_diag_add(d, v[i].pos, "duplicate %s '%s' (first defined at %s:%d:%d)",
				       what, v[i].name, first->pos.file ? first->pos.file : "?",
				       first->pos.line, first->pos.col);
			i++;
		}
	}
}

static const struct named *find(const struct named *v, size_t n, const char *name)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = strcmp(v[mid].name, name);
		if (r == 0) {
			while (mid > 0 && !strcmp(v[mid - 1].name, name))
				mid--;
			return &v[mid];
		}
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

struct keyed {
	struct rulec_diag d;
	struct named at;
	size_t idx;
};

static int keyedcmp(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;
	int r = poscmp(&x->at, &y->at);
	return r ? r : (x->idx < y->idx ? -1 : x->idx > y->idx);
}

int rulec_check_program(const struct rulec_program *prog, struct rulec_diags *d)
{
	size_t before = d->n, n = 0;
	size_t cap = prog->nrules + prog->nmasks + prog->nlimits + prog->npacks + 1;
	struct named *v = malloc(cap * sizeof(*v));
	if (!v)
		abort();

	for (size_t i = 0; i < prog->nrules; i++)
		named_add(prog, v, &n, prog->rules[i].id, prog->rules[i].pos, NAMED_RULE);
	for (size_t i = 0; i < prog->nmasks; i++)
		named_add(prog, v, &n, prog->masks[i].id, prog->masks[i].pos, NAMED_MASK);
	for (size_t i = 0; i < prog->nlimits; i++)
		named_add(prog, v, &n, prog->limits[i].id, prog->limits[i].pos, NAMED_LIMIT);
	qsort(v, n, sizeof(*v), namedcmp);
	report_dups(v, n, "id", d);

	for (size_t i = 0; i < prog->ntests; i++) {
		const struct rulec_test *t = &prog->tests[i];
		/* the engine's built-in rule for statements the parser rejects */
		if (!t->expect_rule || !strcmp(t->expect_rule, "builtin.unparseable"))
			continue;
		/* any rule of that name will do: a repeated id is reported above */
		const struct named *e = find(v, n, t->expect_rule);
		while (e && e < v + n && e->kind != NAMED_RULE && !strcmp(e->name, t->expect_rule))
			e++;
		struct rulec_pos pos = t->expect_rule_pos.file ? t->expect_rule_pos : t->pos;
		if (e && e < v + n && !strcmp(e->name, t->expect_rule))
			continue;
		if ((e = find(v, n, t->expect_rule)))
			rulec_diag_add(d, pos, "test names '%s', which is a %s, not a rule",
				       t->expect_rule, e->kind == NAMED_MASK ? "mask" : "limit");
		else
			rulec_diag_add(d, pos, "test names unknown rule '%s'", t->expect_rule);
	}

	n = 0;
	for (size_t i = 0; i < prog->npacks; i++)
		named_add(prog, v, &n, prog->packs[i].name, prog->packs[i].pos, NAMED_RULE);
	qsort(v, n, sizeof(*v), namedcmp);
	report_dups(v, n, "pack", d);
	free(v);

	/* Present the findings in source order, like the parser's (stable). */
	size_t dn = d->n - before;
	struct keyed *k = malloc((dn + 1) * sizeof(*k));
	if (!k)
		abort();
	for (size_t i = 0; i < dn; i++) {
		const struct rulec_diag *g = &d->v[before + i];
		k[i] = (struct keyed){.d = *g, .idx = i};
		k[i].at = (struct named){.pos = g->pos, .file_idx = file_index(prog, g->pos.file)};
	}
	qsort(k, dn, sizeof(*k), keyedcmp);
	for (size_t i = 0; i < dn; i++)
		d->v[before + i] = k[i].d;
	free(k);
	return d->n > before ? -1 : 0;
}
