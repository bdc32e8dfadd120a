/*
 * diag: collected diagnostics. rulec reports every error of a run, not just the first,
 * each as `file:line:col: message` so editors and CI logs can jump to it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

void rulec_diag_add(struct rulec_diags *d, struct rulec_pos pos, const char *fmt, ...)
{
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		struct rulec_diag *v = realloc(d->v, cap * sizeof(*v));
		if (!v)
			abort(); /* out of memory in a CLI tool: nothing sensible left to do */
		d->v = v;
		d->cap = cap;
	}
	va_list ap;
	va_start(ap, fmt);
	char *msg = NULL;
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	d->v[d->n].pos = pos;
	d->v[d->n].msg = msg;
	d->n++;
}

void rulec_diags_print(const struct rulec_diags *d, FILE *out)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct rulec_diag *g = &d->v[i];
		if (g->pos.file && g->pos.line > 0)
			fprintf(out, "%s:%d:%d: %s\n", g->pos.file, g->pos.line, g->pos.col,
				g->msg);
		else if (g->pos.file)
			fprintf(out, "%s: %s\n", g->pos.file, g->msg);
		else
			fprintf(out, "rulec: %s\n", g->msg);
	}
}

void rulec_diags_free(struct rulec_diags *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->v[i].msg);
	free(d->v);
	memset(d, 0, sizeof(*d));
}
