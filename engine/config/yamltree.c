/*
 * yamltree: libyaml events -> a position-carrying tree (see config-int.h), plus the error
 * sink and the arena used by the rest of the module.
 *
 * Only the YAML the schema needs is accepted: one document of mappings, sequences and
 * scalars. Aliases, anchors and tags are refused with a positioned error, and nesting is
 * capped, so any input, however hostile, gives a finite tree or an error and never a cycle.
 * A syntax error stops parsing (libyaml cannot resume), so it is the only error reported.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "config-int.h"

void cfg_error(struct cfg_errs *e, uint32_t line, uint32_t col, const char *fmt, ...)
{
	struct cfg_msg *m;
	char *text = NULL;
	va_list ap;
	int r;

	e->count++;
	if (!e->out)
		return;
	va_start(ap, fmt);
	r = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (r < 0) {
		fprintf(e->out, "%s:%u:%u: (out of memory formatting this error)\n", e->file, line,
			col);
		return;
	}
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 16;

		m = realloc(e->msgs, cap * sizeof(*m));
		if (!m) {
			/* Cannot keep it for sorting: print now rather than lose it. */
			fprintf(e->out, "%s:%u:%u: %s\n", e->file, line, col, text);
			free(text);
			return;
		}
		e->msgs = m;
		e->cap = cap;
	}
	e->msgs[e->n] = (struct cfg_msg){.line = line, .col = col, .seq = e->n, .text = text};
	e->n++;
}

static int msg_cmp(const void *a, const void *b)
{
	const struct cfg_msg *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void cfg_errs_flush(struct cfg_errs *e)
{
	if (e->n)
		qsort(e->msgs, e->n, sizeof(*e->msgs), msg_cmp);
	for (size_t i = 0; i < e->n; i++) {
		fprintf(e->out, "%s:%u:%u: %s\n", e->file, e->msgs[i].line, e->msgs[i].col,
			e->msgs[i].text);
		free(e->msgs[i].text);
	}
	free(e->msgs);
	e->msgs = NULL;
	e->n = e->cap = 0;
}

/* ---- arena ---------------------------------------------------------------------------- */

struct arena_chunk {
	struct arena_chunk *next;
	max_align_t data[];
};

struct rg_config_arena {
	struct arena_chunk *chunks;
};

struct rg_config_arena *cfg_arena_new(void)
{
	return calloc(1, sizeof(struct rg_config_arena));
}

void cfg_arena_free(struct rg_config_arena *a)
{
	if (!a)
		return;
	while (a->chunks) {
		struct arena_chunk *c = a->chunks;
		a->chunks = c->next;
		free(c);
	}
	free(a);
}

/* One chunk per allocation: a config makes a few hundred at most, and exact-size blocks let
 * AddressSanitizer catch overruns. */
void *cfg_alloc(struct rg_config_arena *a, size_t n)
{
	struct arena_chunk *c;

	if (n > SIZE_MAX - sizeof(*c))
		return NULL;
	c = calloc(1, sizeof(*c) + (n ? n : 1));
	if (!c)
		return NULL;
	c->next = a->chunks;
	a->chunks = c;
	return c->data;
}

char *cfg_strdup(struct rg_config_arena *a, const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = cfg_alloc(a, n);

	if (d)
		memcpy(d, s, n);
	return d;
}

/* ---- tree ----------------------------------------------------------------------------- */

const char *cfg_kind_name(const struct cfg_node *n)
{
	switch (n->kind) {
	case CFG_SCALAR:
		return "a scalar";
	case CFG_MAP:
		return "a mapping";
	case CFG_SEQ:
		return "a sequence";
	}
	return "?";
}

void cfg_tree_free(struct cfg_node *n)
{
	if (!n)
		return;
	if (n->kind == CFG_SCALAR) {
		free(n->str);
	} else {
		size_t nk = n->kind == CFG_MAP ? n->n * 2 : n->n;
		/* An unfinished mapping may hold a key without its value yet. */
		if (n->kind == CFG_MAP && n->cap && nk < n->cap && n->kids[nk])
			nk++;
		for (size_t i = 0; i < nk; i++)
			cfg_tree_free(n->kids[i]);
		free(n->kids);
	}
	free(n);
}

struct builder {
	struct cfg_errs *e;
	const char *buf;
	size_t len;
	struct cfg_node *root;
	struct cfg_node *stack[CFG_MAX_DEPTH];
	size_t nkids[CFG_MAX_DEPTH]; /* kids appended so far to stack[i] */
	int depth;
	int docs;
};

static struct cfg_node *node_new(enum cfg_node_kind kind, const yaml_mark_t *m)
{
	struct cfg_node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->kind = kind;
	n->line = (uint32_t)m->line + 1;
	n->col = (uint32_t)m->column + 1;
	return n;
}

/* Attach n to the open collection (or as root). On failure n is freed. */
static int attach(struct builder *b, struct cfg_node *n)
{
	struct cfg_node *p;
	size_t *nk;

	if (b->depth == 0) {
		b->root = n;
		return 0;
	}
	p = b->stack[b->depth - 1];
	nk = &b->nkids[b->depth - 1];
	if (*nk + 1 >= p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 8;
		struct cfg_node **k = realloc(p->kids, cap * sizeof(*k));
		if (!k) {
			cfg_tree_free(n);
			return -ENOMEM;
		}
		memset(k + p->cap, 0, (cap - p->cap) * sizeof(*k));
		p->kids = k;
		p->cap = cap;
	}
	p->kids[(*nk)++] = n;
	/* Keep n current so that cfg_tree_free sees every attached node after an error. */
	p->n = p->kind == CFG_MAP ? *nk / 2 : *nk;
	return 0;
}

static int on_event(struct builder *b, yaml_event_t *ev)
{
	const yaml_mark_t *m = &ev->start_mark;
	uint32_t line = (uint32_t)m->line + 1, col = (uint32_t)m->column + 1;
	struct cfg_node *n;
	int rc;

	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++b->docs > 1) {
			cfg_error(b->e, line, col, "only one YAML document is allowed");
			return -EINVAL;
		}
		return 0;
	case YAML_ALIAS_EVENT:
		cfg_error(b->e, line, col, "YAML aliases are not supported");
		return -EINVAL;
	case YAML_SCALAR_EVENT:
		if (ev->data.scalar.anchor || ev->data.scalar.tag)
			goto anchor_or_tag;
		n = node_new(CFG_SCALAR, m);
		if (!n)
			return -ENOMEM;
		n->len = ev->data.scalar.length;
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		n->str = malloc(n->len + 1);
		if (!n->str) {
			free(n);
			return -ENOMEM;
		}
		memcpy(n->str, ev->data.scalar.value, n->len);
		n->str[n->len] = '\0';
		return attach(b, n);
	case YAML_MAPPING_START_EVENT:
	case YAML_SEQUENCE_START_EVENT:
		if (ev->type == YAML_MAPPING_START_EVENT
			? (ev->data.mapping_start.anchor || ev->data.mapping_start.tag)
			: (ev->data.sequence_start.anchor || ev->data.sequence_start.tag))
			goto anchor_or_tag;
		if (b->depth == CFG_MAX_DEPTH) {
			cfg_error(b->e, line, col, "nesting deeper than %d levels", CFG_MAX_DEPTH);
			return -EINVAL;
		}
		n = node_new(ev->type == YAML_MAPPING_START_EVENT ? CFG_MAP : CFG_SEQ, m);
		if (!n)
			return -ENOMEM;
		rc = attach(b, n);
		if (rc)
			return rc;
		b->nkids[b->depth] = 0;
		b->stack[b->depth++] = n;
		return 0;
	case YAML_MAPPING_END_EVENT:
	case YAML_SEQUENCE_END_EVENT:
		if (b->depth > 0)
			b->depth--;
		return 0;
	default:
		return 0;
	}
anchor_or_tag:
	cfg_error(b->e, line, col, "YAML anchors and tags are not supported");
	return -EINVAL;
}

/* Reader errors (bad UTF-8, control characters) carry a byte offset, not a mark. */
static void offset_to_mark(const char *buf, size_t len, size_t off, uint32_t *line, uint32_t *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off && i < len; i++) {
		if (buf[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

static void report_parser_error(struct builder *b, const yaml_parser_t *p)
{
	uint32_t line, col;

	if (p->error == YAML_READER_ERROR) {
		offset_to_mark(b->buf, b->len, p->problem_offset, &line, &col);
		cfg_error(b->e, line, col, "YAML syntax error: %s",
			  p->problem ? p->problem : "unreadable input");
		return;
	}
	line = (uint32_t)p->problem_mark.line + 1;
	col = (uint32_t)p->problem_mark.column + 1;
	if (p->context)
		cfg_error(b->e, line, col, "YAML syntax error: %s %s", p->problem ? p->problem : "",
			  p->context);
	else
		cfg_error(b->e, line, col, "YAML syntax error: %s",
			  p->problem ? p->problem : "invalid YAML");
}

int cfg_tree_parse(const char *buf, size_t len, struct cfg_errs *e, struct cfg_node **root)
{
	struct builder b = {.e = e, .buf = buf, .len = len};
	yaml_parser_t p;
	yaml_event_t ev;
	int rc = 0;
	bool done = false;

	*root = NULL;
	if (!yaml_parser_initialize(&p))
		return -ENOMEM;
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	while (!done) {
		if (!yaml_parser_parse(&p, &ev)) {
			if (p.error == YAML_MEMORY_ERROR) {
				rc = -ENOMEM;
			} else {
				report_parser_error(&b, &p);
				rc = -EINVAL;
			}
			break;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		rc = on_event(&b, &ev);
		yaml_event_delete(&ev);
		if (rc)
			break;
	}
	yaml_parser_delete(&p);
	if (rc) {
		cfg_tree_free(b.root);
		return rc;
	}
	*root = b.root;
	return 0;
}
