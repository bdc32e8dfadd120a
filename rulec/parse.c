/*
 * parse: the YAML front end of rulec. Rule files (language version 1, docs/rules.md) become
 * a struct rulec_program (ir.h) that the compiler may trust.
 *
 * Two passes per file: libyaml events are turned into a small tree that keeps every node's
 * position (aliases, explicit tags, duplicate keys and extra documents are refused here),
 * then the tree is checked against the schema and copied into the IR. Every problem goes to
 * the caller's diagnostics with the file:line:col of the offending node and checking goes
 * on, so one run reports everything. Nothing here may crash or leak on any input: the fuzz
 * target drives rulec_parse_buffer directly. Cross-file checks live in check.c.
 * The program's arrays are only ever appended to here, and their capacity is implied by
 * their length (see grow()): nothing else may add entries to them.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <hs/hs.h>
#include <yaml.h>

#include "ir.h"

#define MAX_DEPTH 64	 /* deeper YAML than any rule file needs; bounds recursion */
#define MAX_DIR_DEPTH 32 /* directory recursion */

/* ---- diagnostics context ---- */

struct pctx {
	struct rulec_program *prog;
	struct rulec_diags *d;
	const char *file; /* owned by prog->files */
};

/* ---- YAML tree ---- */

enum ykind { Y_SCALAR, Y_SEQ, Y_MAP, Y_BAD };

/* A node of one document. Maps hold kid[2i] = key, kid[2i+1] = value. Y_BAD stands for a
 * node already reported (an alias); checks skip it silently to avoid follow-up noise. */
struct ynode {
	enum ykind kind;
	int line, col;
	bool plain; /* plain scalar: may be null, bool or int */
	bool dup;   /* key repeated in its mapping (reported); ignored by checks */
	char *s;
	size_t len;
	struct ynode **kid;
	size_t n, cap;
};

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		abort(); /* out of memory in a CLI tool: nothing sensible left to do */
	return p;
}

/* Room for element n of an array that holds n elements. The IR has no capacity fields, so
 * the capacity is implied by n (8, then powers of two): appends stay amortized O(1). */
static void *grow(void *p, size_t n, size_t size)
{
	if (n == 0)
		return xrealloc(p, 8 * size);
	if (n >= 8 && (n & (n - 1)) == 0)
		return xrealloc(p, 2 * n * size);
	return p;
}

static char *xstrndup(const char *s, size_t n)
{
	char *p = xrealloc(NULL, n + 1);
	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

static char *xstrdup(const char *s)
{
	return s ? xstrndup(s, strlen(s)) : NULL;
}

static struct rulec_pos npos(const struct pctx *c, const struct ynode *n)
{
	return (struct rulec_pos){.file = c->file, .line = n->line, .col = n->col};
}

static struct rulec_pos mpos(const struct pctx *c, yaml_mark_t m)
{
	return (struct rulec_pos){
	    .file = c->file, .line = (int)m.line + 1, .col = (int)m.column + 1};
}

static void yfree(struct ynode *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++)
		yfree(n->kid[i]);
	free(n->kid);
	free(n->s);
	free(n);
}

static void yadd(struct ynode *parent, struct ynode *kid)
{
	if (parent->n == parent->cap) {
		parent->cap = parent->cap ? parent->cap * 2 : 8;
		parent->kid = xrealloc(parent->kid, parent->cap * sizeof(*parent->kid));
	}
	parent->kid[parent->n++] = kid;
}

static int keycmp(const void *a, const void *b)
{
	const struct ynode *x = *(const struct ynode *const *)a;
	const struct ynode *y = *(const struct ynode *const *)b;
	size_t n = x->len < y->len ? x->len : y->len;
	int r = memcmp(x->s, y->s, n);
	if (r)
		return r;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	/* same key: document order, so the first one is kept */
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->col < y->col ? -1 : x->col > y->col;
}

/* Report repeated keys of a finished mapping and mark them so checks use the first. */
static void check_dup_keys(struct pctx *c, struct ynode *m)
{
	size_t nk = 0;
	struct ynode **keys = xrealloc(NULL, (m->n / 2 + 1) * sizeof(*keys));
	for (size_t i = 0; i + 1 < m->n; i += 2)
		if (m->kid[i]->kind == Y_SCALAR)
			keys[nk++] = m->kid[i];
	qsort(keys, nk, sizeof(*keys), keycmp);
	for (size_t i = 1; i < nk; i++) {
		struct ynode *first = keys[i - 1];
		while (i < nk && keys[i]->len == first->len &&
		       memcmp(keys[i]->s, first->s, first->len) == 0) {
			keys[i]->dup = true;
			rulec_diag_add(c->d, npos(c, keys[i]),
				       "duplicate key '%s' (first at %d:%d)", keys[i]->s,
				       first->line, first->col);
			i++;
		}
	}
	free(keys);
}

/* Line and column (in characters, 1-based) of byte offset off. */
static struct rulec_pos offset_pos(const struct pctx *c, const char *buf, size_t len, size_t off)
{
	struct rulec_pos pos = {.file = c->file, .line = 1, .col = 1};
	for (size_t i = 0; i < off && i < len; i++) {
		if (buf[i] == '\n') {
			pos.line++;
			pos.col = 1;
		} else if (((unsigned char)buf[i] & 0xc0) != 0x80) {
			pos.col++;
		}
	}
	return pos;
}

static void yaml_error(struct pctx *c, const yaml_parser_t *p, const char *buf, size_t len)
{
	switch (p->error) {
	case YAML_MEMORY_ERROR:
		rulec_diag_add(c->d, (struct rulec_pos){.file = c->file},
			       "out of memory while reading YAML");
		break;
	case YAML_READER_ERROR:
		/* Encoding was checked before; what is left is a forbidden character, and
		 * the reader knows only its byte offset. */
		rulec_diag_add(c->d, offset_pos(c, buf, len, p->problem_offset),
			       "YAML syntax error: %s",
			       p->problem ? p->problem : "unreadable input");
		break;
	default:
		if (p->context)
			rulec_diag_add(c->d, mpos(c, p->problem_mark),
				       "YAML syntax error: %s (%s that starts at %d:%d)",
				       p->problem ? p->problem : "invalid YAML", p->context,
				       (int)p->context_mark.line + 1,
				       (int)p->context_mark.column + 1);
		else
			rulec_diag_add(c->d, mpos(c, p->problem_mark), "YAML syntax error: %s",
				       p->problem ? p->problem : "invalid YAML");
		break;
	}
}

/* Build the tree of the file's only document; NULL if there is none or it is unusable
 * (the reason has been reported). */
static struct ynode *yaml_load(struct pctx *c, const char *buf, size_t len)
{
	yaml_parser_t p;
	yaml_event_t ev;
	struct ynode *stack[MAX_DEPTH + 1];
	int depth = 0, ndocs = 0;
	struct ynode *root = NULL;
	bool fatal = false, done = false;

	if (!yaml_parser_initialize(&p))
		abort();
	yaml_parser_set_input_string(&p, (const unsigned char *)(buf ? buf : ""), buf ? len : 0);
	yaml_parser_set_encoding(&p, YAML_UTF8_ENCODING);
	while (!done) {
		if (!yaml_parser_parse(&p, &ev)) {
			yaml_error(c, &p, buf, len);
			fatal = true;
			break;
		}
		struct ynode *n = NULL;
		const yaml_char_t *tag = NULL;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++ndocs > 1) {
				rulec_diag_add(c->d, mpos(c, ev.start_mark),
					       "a rule file holds one YAML document; put each pack "
					       "in its own file");
				done = true;
			}
			break;
		case YAML_ALIAS_EVENT:
			n = xrealloc(NULL, sizeof(*n));
			memset(n, 0, sizeof(*n));
			n->kind = Y_BAD;
			rulec_diag_add(c->d, mpos(c, ev.start_mark),
				       "YAML aliases are not supported; repeat the value instead");
			break;
		case YAML_SCALAR_EVENT:
			n = xrealloc(NULL, sizeof(*n));
			memset(n, 0, sizeof(*n));
			n->kind = Y_SCALAR;
			n->s = xstrndup((const char *)ev.data.scalar.value, ev.data.scalar.length);
			n->len = ev.data.scalar.length;
			n->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
			tag = ev.data.scalar.tag;
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			n = xrealloc(NULL, sizeof(*n));
			memset(n, 0, sizeof(*n));
			n->kind = ev.type == YAML_MAPPING_START_EVENT ? Y_MAP : Y_SEQ;
			tag = ev.type == YAML_MAPPING_START_EVENT ? ev.data.mapping_start.tag
								  : ev.data.sequence_start.tag;
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			if (depth > 0) {
				depth--;
				if (stack[depth]->kind == Y_MAP)
					check_dup_keys(c, stack[depth]);
			}
			break;
		default:
			break;
		}
		if (n) {
			n->line = (int)ev.start_mark.line + 1;
			n->col = (int)ev.start_mark.column + 1;
			if (tag)
				rulec_diag_add(c->d, mpos(c, ev.start_mark),
					       "YAML tags (%s) are not supported",
					       (const char *)tag);
			if (depth > 0) {
				struct ynode *parent = stack[depth - 1];
				if (parent->kind == Y_MAP && parent->n % 2 == 0 &&
				    n->kind != Y_SCALAR && n->kind != Y_BAD)
					rulec_diag_add(c->d, npos(c, n),
						       "mapping keys must be strings");
				yadd(parent, n);
			} else if (!root) {
				root = n;
			} else {
				yfree(n); /* cannot happen: one node per document */
			}
			if (n->kind == Y_MAP || n->kind == Y_SEQ) {
				if (depth == MAX_DEPTH) {
					rulec_diag_add(c->d, npos(c, n),
						       "YAML nested deeper than %d levels",
						       MAX_DEPTH);
					fatal = true;
					done = true;
				} else {
					stack[depth++] = n;
				}
			}
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	if (fatal) {
		yfree(root);
		return NULL;
	}
	if (ndocs == 0)
		rulec_diag_add(c->d, (struct rulec_pos){.file = c->file, .line = 1, .col = 1},
			       "empty rule file: expected 'version', 'pack' and 'rules'");
	return root;
}

/* Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF). On failure the
 * position of the first bad byte, in characters like libyaml's marks. */
static bool utf8_check(const unsigned char *s, size_t n, int *line, int *col)
{
	size_t i = 0;
	*line = 1;
	*col = 1;
	while (i < n) {
		unsigned char b = s[i];
		size_t len;
		uint32_t cp, min;
		if (b < 0x80) {
			len = 1;
			cp = b;
			min = 0;
		} else if ((b & 0xe0) == 0xc0) {
			len = 2;
			cp = b & 0x1f;
			min = 0x80;
		} else if ((b & 0xf0) == 0xe0) {
			len = 3;
			cp = b & 0x0f;
			min = 0x800;
		} else if ((b & 0xf8) == 0xf0) {
			len = 4;
			cp = b & 0x07;
			min = 0x10000;
		} else {
			return false;
		}
		if (len > n - i)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		if (b == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
		i += len;
	}
	return true;
}

/* ---- typed access to nodes ---- */

static bool is_null(const struct ynode *n)
{
	return n->kind == Y_SCALAR && n->plain &&
	       (n->len == 0 || !strcmp(n->s, "~") || !strcmp(n->s, "null") ||
		!strcmp(n->s, "Null") || !strcmp(n->s, "NULL"));
}

static const char *kind_name(const struct ynode *n)
{
	if (n->kind == Y_MAP)
		return "a mapping";
	if (n->kind == Y_SEQ)
		return "a list";
	if (is_null(n))
		return "null";
	return "a scalar";
}

static void type_error(struct pctx *c, const struct ynode *n, const char *what, const char *want)
{
	rulec_diag_add(c->d, npos(c, n), "'%s' must be %s, got %s", what, want, kind_name(n));
}

/* Fill val[i] with the value of key names[i] (NULL if absent) and report unknown keys.
 * Returns false (after reporting) if m is not a mapping. */
static bool get_keys(struct pctx *c, const struct ynode *m, const char *what,
		     const char *const *names, const struct ynode **val)
{
	size_t nn = 0;
	while (names[nn])
		nn++;
	for (size_t i = 0; i < nn; i++)
		val[i] = NULL;
	if (m->kind == Y_BAD)
		return false;
	if (m->kind != Y_MAP) {
		type_error(c, m, what, "a mapping");
		return false;
	}
	for (size_t i = 0; i + 1 < m->n; i += 2) {
		const struct ynode *k = m->kid[i];
		if (k->kind != Y_SCALAR || k->dup)
			continue;
		size_t j;
		for (j = 0; j < nn; j++)
			if (k->len == strlen(names[j]) && !memcmp(k->s, names[j], k->len))
				break;
		if (j < nn) {
			val[j] = m->kid[i + 1];
			continue;
		}
		char *valid = NULL;
		size_t vlen = 0;
		FILE *f = open_memstream(&valid, &vlen);
		if (!f)
			abort();
		for (j = 0; j < nn; j++)
			fprintf(f, "%s%s", j ? ", " : "", names[j]);
		fclose(f);
		rulec_diag_add(c->d, npos(c, k), "unknown key '%s' in %s; valid keys are: %s", k->s,
			       what, valid);
		free(valid);
	}
	return true;
}

static void missing(struct pctx *c, const struct ynode *m, const char *what, const char *key)
{
	rulec_diag_add(c->d, npos(c, m), "%s is missing required key '%s'", what, key);
}

/* A non-null scalar as a string. */
static bool get_str(struct pctx *c, const struct ynode *n, const char *what, char **out)
{
	if (n->kind == Y_BAD)
		return false;
	if (n->kind != Y_SCALAR || is_null(n)) {
		type_error(c, n, what, "a string");
		return false;
	}
	if (memchr(n->s, 0, n->len)) {
		rulec_diag_add(c->d, npos(c, n), "'%s' must not contain NUL characters", what);
		return false;
	}
	free(*out);
	*out = xstrndup(n->s, n->len);
	return true;
}

static bool get_bool(struct pctx *c, const struct ynode *n, const char *what, bool *out)
{
	static const char *const t[] = {"true", "True", "TRUE"};
	static const char *const f[] = {"false", "False", "FALSE"};
	if (n->kind == Y_BAD)
		return false;
	if (n->kind == Y_SCALAR && n->plain) {
		for (int i = 0; i < 3; i++) {
			if (!strcmp(n->s, t[i])) {
				*out = true;
				return true;
			}
			if (!strcmp(n->s, f[i])) {
				*out = false;
				return true;
			}
		}
	}
	if (n->kind == Y_SCALAR && !n->plain)
		rulec_diag_add(c->d, npos(c, n), "'%s' must be true or false, got a quoted string",
			       what);
	else if (n->kind == Y_SCALAR && !is_null(n))
		rulec_diag_add(c->d, npos(c, n), "'%s' must be true or false, got '%s'", what,
			       n->s);
	else
		type_error(c, n, what, "true or false");
	return false;
}

/* Whether n is a plain, unquoted run of decimal digits; reports it at n if not. */
static bool plain_digits(struct pctx *c, const struct ynode *n, const char *what)
{
	bool ok = n->kind == Y_SCALAR && n->plain && n->len > 0;
	for (size_t i = 0; ok && i < n->len; i++)
		ok = n->s[i] >= '0' && n->s[i] <= '9';
	if (!ok) {
		if (n->kind == Y_SCALAR && !is_null(n))
			rulec_diag_add(c->d, npos(c, n), "'%s' must be an integer, got '%s'", what,
				       n->s);
		else
			type_error(c, n, what, "an integer");
	}
	return ok;
}

/* A plain decimal integer; values past 9 digits are reported as out of range by callers
 * through *out = -1. */
static bool get_int(struct pctx *c, const struct ynode *n, const char *what, long *out)
{
	if (n->kind == Y_BAD || !plain_digits(c, n, what))
		return false;
	*out = n->len > 9 ? -1 : strtol(n->s, NULL, 10);
	return true;
}

static char *join(const char *const *names, size_t n)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);
	if (!f)
		abort();
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%s", i ? ", " : "", names[i]);
	fclose(f);
	return s;
}

/* A string that must be one of names[0..n); returns its index or -1 (reported). */
static int get_enum(struct pctx *c, const struct ynode *n, const char *what,
		    const char *const *names, size_t nn)
{
	char *s = NULL;
	if (!get_str(c, n, what, &s))
		return -1;
	for (size_t i = 0; i < nn; i++) {
		if (!strcmp(s, names[i])) {
			free(s);
			return (int)i;
		}
	}
	char *valid = join(names, nn);
	rulec_diag_add(c->d, npos(c, n), "invalid %s '%s'; valid values are: %s", what, s, valid);
	free(valid);
	free(s);
	return -1;
}

static void strv_add(struct rulec_strv *v, char *s, struct rulec_pos pos)
{
	v->v = grow(v->v, v->n, sizeof(*v->v));
	v->pos = grow(v->pos, v->n, sizeof(*v->pos));
	v->v[v->n] = s;
	v->pos[v->n] = pos;
	v->n++;
}

static void strv_free(struct rulec_strv *v)
{
	for (size_t i = 0; i < v->n; i++)
		free(v->v[i]);
	free(v->v);
	free(v->pos);
	memset(v, 0, sizeof(*v));
}

/* Checks one list item in place (may rewrite it, e.g. lower-case); false = reported. */
typedef bool (*item_check_fn)(struct pctx *c, const struct ynode *n, const char *what, char *s);

enum { LIST_SCALAR_OK = 1, LIST_NULLS_OK = 2 };

/* A list of strings (or, with LIST_SCALAR_OK, a single string meaning a 1-element list).
 * Bad items are reported and left out. Returns false if the value itself is unusable. */
static bool get_strv(struct pctx *c, const struct ynode *n, const char *what,
		     struct rulec_strv *out, item_check_fn check, unsigned flags)
{
	if (n->kind == Y_BAD)
		return false;
	if (n->kind == Y_SCALAR && (flags & LIST_SCALAR_OK) && !is_null(n)) {
		char *s = NULL;
		if (!get_str(c, n, what, &s))
			return false;
		if (check && !check(c, n, what, s)) {
			free(s);
			return false;
		}
		strv_add(out, s, npos(c, n));
		return true;
	}
	if (n->kind != Y_SEQ) {
		type_error(c, n, what, (flags & LIST_SCALAR_OK) ? "a string or a list" : "a list");
		return false;
	}
	if (n->n == 0) {
		rulec_diag_add(c->d, npos(c, n), "'%s' must not be an empty list", what);
		return false;
	}
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *k = n->kid[i];
		char *s = NULL;
		if ((flags & LIST_NULLS_OK) && is_null(k)) {
			strv_add(out, NULL, npos(c, k));
			continue;
		}
		if (!get_str(c, k, what, &s))
			continue;
		if (check && !check(c, k, what, s)) {
			free(s);
			continue;
		}
		strv_add(out, s, npos(c, k));
	}
	return true;
}

/* ---- value checks ---- */

static bool charset_ok(const char *s, const char *extra, bool upper)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		char ch = *s;
		if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		    (upper && ch >= 'A' && ch <= 'Z') || (ch && strchr(extra, ch)))
			continue;
		return false;
	}
	return true;
}

static bool check_nonempty(struct pctx *c, const struct ynode *n, const char *what, char *s)
{
	if (*s)
		return true;
	rulec_diag_add(c->d, npos(c, n), "'%s' must not be an empty string", what);
	return false;
}

static const char *const protocols[] = {"postgres", "mysql", "ssh", "k8s", "http"};
#define NPROTOCOLS (sizeof(protocols) / sizeof(protocols[0]))

static bool check_protocol(struct pctx *c, const struct ynode *n, const char *what, char *s)
{
	for (size_t i = 0; i < NPROTOCOLS; i++)
		if (!strcmp(s, protocols[i]))
			return true;
	char *valid = join(protocols, NPROTOCOLS);
	rulec_diag_add(c->d, npos(c, n), "unknown %s '%s'; valid values are: %s", what, s, valid);
	free(valid);
	return false;
}

/* Glob syntax (fnmatch without flags): * ? [set] [!set] [^set] [a-z] and \ to escape.
 * Checks s[0..n); returns NULL if fine, otherwise the problem. */
static const char *glob_problem(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '\\') {
			if (i + 1 == n)
				return "trailing '\\'";
			i++;
		} else if (ch == ']') {
			return "unbalanced ']'";
		} else if (ch == '[') {
			size_t j = i + 1;
			if (j < n && (s[j] == '!' || s[j] == '^'))
				j++;
			if (j < n && s[j] == ']')
				return "empty character set '[]'";
			int prev = -1; /* previous single character, for ranges */
			while (j < n && s[j] != ']') {
				if (s[j] == '\\') {
					if (j + 1 == n)
						return "trailing '\\'";
					j++;
				}
				int cur = (unsigned char)s[j];
				if (s[j] == '-' && prev >= 0 && j + 1 < n && s[j + 1] != ']') {
					j++;
					if (s[j] == '\\' && j + 1 < n)
						j++;
					if ((unsigned char)s[j] < prev && prev < 0x80)
						return "reversed range in character set";
					prev = -1;
					j++;
					continue;
				}
				prev = cur;
				j++;
			}
			if (j == n)
				return "unbalanced '['";
			i = j;
		}
	}
	return NULL;
}

/* A name pattern is split at every '.' (the engine splits schema and name at the last dot
 * and matches columns as one string, so a dot can never be escaped or sit in a set); each
 * part must be a non-empty glob. maxp = 1: dots are ordinary characters. */
static bool check_glob_parts(struct pctx *c, const struct ynode *n, const char *what, const char *s,
			     int minp, int maxp, const char *shape)
{
	const char *why = NULL;
	int parts = 0;
	if (!*s) {
		why = "empty pattern";
	} else if (maxp == 1) {
		why = glob_problem(s, strlen(s));
		parts = 1;
	} else {
		for (const char *p = s;; parts++) {
			const char *dot = strchr(p, '.');
			size_t len = dot ? (size_t)(dot - p) : strlen(p);
			if (len == 0)
				why = "empty name part";
			else
				why = glob_problem(p, len);
			if (why || !dot) {
				parts++;
				break;
			}
			p = dot + 1;
		}
	}
	if (why) {
		rulec_diag_add(c->d, npos(c, n), "invalid pattern '%s' in '%s': %s", s, what, why);
		return false;
	}
	if (parts < minp || parts > maxp) {
		rulec_diag_add(c->d, npos(c, n), "invalid pattern '%s' in '%s': expected %s", s,
			       what, shape);
		return false;
	}
	return true;
}

/* Targets, subjects, issuers: dots are ordinary characters there. */
static bool check_glob(struct pctx *c, const struct ynode *n, const char *what, char *s)
{
	return check_glob_parts(c, n, what, s, 1, 1, "");
}

static bool check_table(struct pctx *c, const struct ynode *n, const char *what, char *s)
{
	return check_glob_parts(c, n, what, s, 1, 2, "'table' or 'schema.table'");
}

static bool check_function(struct pctx *c, const struct ynode *n, const char *what, char *s)
{
	return check_glob_parts(c, n, what, s, 1, 2, "'function' or 'schema.function'");
}

static bool check_column(struct pctx *c, const struct ynode *n, const char *what, char *s)
{
	return check_glob_parts(c, n, what, s, 3, 3, "'schema.table.column'");
}

static bool check_fingerprint(struct pctx *c, const struct ynode *n, const char *what, char *s)
{
	size_t len = strlen(s);
	bool ok = len == 16;
	for (size_t i = 0; ok && i < len; i++) {
		char ch = s[i];
		if (ch >= 'A' && ch <= 'F')
			s[i] = (char)(ch - 'A' + 'a');
		else
			ok = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
	}
	if (!ok)
		rulec_diag_add(c->d, npos(c, n),
			       "invalid fingerprint '%s' in '%s': expected 16 hex digits", n->s,
			       what);
	return ok;
}

static bool check_regex(struct pctx *c, const struct ynode *n, const char *what, char *s)
{
	hs_database_t *db = NULL;
	hs_compile_error_t *err = NULL;
	(void)what;
	if (hs_compile(s, HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH, HS_MODE_BLOCK, NULL, &db, &err) ==
	    HS_SUCCESS) {
		hs_free_database(db);
		return true;
	}
	rulec_diag_add(c->d, npos(c, n), "invalid regex '%s': %s", s,
		       err && err->message ? err->message : "rejected by Hyperscan");
	hs_free_compile_error(err);
	return false;
}

/* ---- the schema ---- */

static const char *const verdict_names[] = {"allow", "log", "hold", "deny"};
static const enum rg_verdict verdict_vals[] = {RG_VERDICT_ALLOW, RG_VERDICT_LOG, RG_VERDICT_HOLD,
					       RG_VERDICT_DENY};
static const char *const action_names[] = {"deny", "require_approval", "log", "allow"};
static const enum rg_verdict action_vals[] = {RG_VERDICT_DENY, RG_VERDICT_HOLD, RG_VERDICT_LOG,
					      RG_VERDICT_ALLOW};
static const char *const unparseable_names[] = {"deny", "allow", "log"};
static const enum rg_verdict unparseable_vals[] = {RG_VERDICT_DENY, RG_VERDICT_ALLOW,
						   RG_VERDICT_LOG};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void parse_match(struct pctx *c, const struct ynode *n, struct rulec_match *m)
{
	static const char *const keys[] = {"protocol", "target", "identity", NULL};
	static const char *const ikeys[] = {"subject", "issuer", "groups_any", "groups_none", NULL};
	const struct ynode *v[3], *iv[4];
	if (!get_keys(c, n, "match", keys, v))
		return;
	if (v[0])
		get_strv(c, v[0], "protocol", &m->protocols, check_protocol, LIST_SCALAR_OK);
	if (v[1])
		get_strv(c, v[1], "target", &m->targets, check_glob, LIST_SCALAR_OK);
	if (!v[2] || !get_keys(c, v[2], "match.identity", ikeys, iv))
		return;
	if (iv[0])
		get_strv(c, iv[0], "subject", &m->subjects, check_glob, LIST_SCALAR_OK);
	if (iv[1])
		get_strv(c, iv[1], "issuer", &m->issuers, check_glob, LIST_SCALAR_OK);
	if (iv[2])
		get_strv(c, iv[2], "groups_any", &m->groups_any, check_nonempty, LIST_SCALAR_OK);
	if (iv[3])
		get_strv(c, iv[3], "groups_none", &m->groups_none, check_nonempty, LIST_SCALAR_OK);
}

static const uint64_t OPS_UD = RG_OP_BIT(RG_OP_UPDATE) | RG_OP_BIT(RG_OP_DELETE);

static uint64_t op_alias(const char *s)
{
	if (!strcmp(s, "ddl"))
		return RG_OP_BIT(RG_OP_DROP) | RG_OP_BIT(RG_OP_TRUNCATE) | RG_OP_BIT(RG_OP_ALTER) |
		       RG_OP_BIT(RG_OP_CREATE) | RG_OP_BIT(RG_OP_CREATE_ROLE) |
		       RG_OP_BIT(RG_OP_ALTER_ROLE) | RG_OP_BIT(RG_OP_DROP_ROLE) |
		       RG_OP_BIT(RG_OP_ALTER_SYSTEM) | RG_OP_BIT(RG_OP_CREATE_RULE) |
		       RG_OP_BIT(RG_OP_CREATE_FUNCTION);
	if (!strcmp(s, "copy"))
		return RG_OP_BIT(RG_OP_COPY_TO_FILE) | RG_OP_BIT(RG_OP_COPY_FROM_FILE) |
		       RG_OP_BIT(RG_OP_COPY_PROGRAM) | RG_OP_BIT(RG_OP_COPY_TO_STDOUT) |
		       RG_OP_BIT(RG_OP_COPY_FROM_STDIN);
	if (!strcmp(s, "write"))
		return RG_OP_BIT(RG_OP_INSERT) | RG_OP_BIT(RG_OP_UPDATE) | RG_OP_BIT(RG_OP_DELETE) |
		       RG_OP_BIT(RG_OP_MERGE) | RG_OP_BIT(RG_OP_TRUNCATE) |
		       RG_OP_BIT(RG_OP_COPY_FROM_FILE) | RG_OP_BIT(RG_OP_COPY_FROM_STDIN);
	return 0;
}

static bool check_op(struct pctx *c, const struct ynode *n, const char *what, char *s)
{
	if (rg_sql_op_from_name(s) >= 0 || op_alias(s))
		return true;
	const char *names[RG_OP__COUNT];
	for (int i = 0; i < RG_OP__COUNT; i++)
		names[i] = rg_sql_op_name((enum rg_sql_op)((i + 1) % RG_OP__COUNT));
	char *valid = join(names, RG_OP__COUNT);
	rulec_diag_add(
	    c->d, npos(c, n),
	    "unknown %s '%s'; valid operations are: %s, and the aliases ddl, copy, write", what, s,
	    valid);
	free(valid);
	return false;
}

static void parse_sql(struct pctx *c, const struct ynode *n, struct rulec_rule *r)
{
	static const char *const keys[] = {"operation", "without_where", "tables", "table_access",
					   "functions", "fingerprints",	 NULL};
	static const char *const access_names[] = {"read", "write", "any"};
	const struct ynode *v[6];
	if (!get_keys(c, n, "sql", keys, v))
		return;
	if (v[0]) {
		struct rulec_strv ops = {0};
		get_strv(c, v[0], "operation", &ops, check_op, LIST_SCALAR_OK);
		for (size_t i = 0; i < ops.n; i++) {
			int op = rg_sql_op_from_name(ops.v[i]);
			r->ops |= op >= 0 ? RG_OP_BIT(op) : op_alias(ops.v[i]);
		}
		strv_free(&ops);
	}
	bool wo;
	if (v[1] && get_bool(c, v[1], "without_where", &wo)) {
		r->without_where = wo ? RULEC_TRUE : RULEC_FALSE;
		/* No operation means update and delete; the IR keeps ops = 0 so the rule's
		 * specificity counts only the keys written. */
		if (r->ops & ~OPS_UD)
			rulec_diag_add(c->d, npos(c, v[1]),
				       "'without_where' needs 'operation' to be update and/or "
				       "delete (or absent)");
	}
	if (v[2])
		get_strv(c, v[2], "tables", &r->tables, check_table, LIST_SCALAR_OK);
	if (v[3]) {
		int a = get_enum(c, v[3], "table_access", access_names, N(access_names));
		if (a == 0)
			r->table_access = RG_ACCESS_READ;
		else if (a == 1)
			r->table_access = RG_ACCESS_WRITE;
		if (!v[2])
			rulec_diag_add(c->d, npos(c, v[3]),
				       "'table_access' is only valid together with 'tables'");
	}
	if (v[4])
		get_strv(c, v[4], "functions", &r->functions, check_function, LIST_SCALAR_OK);
	if (v[5])
		get_strv(c, v[5], "fingerprints", &r->fingerprints, check_fingerprint,
			 LIST_SCALAR_OK);
}

static void parse_text(struct pctx *c, const struct ynode *n, struct rulec_rule *r)
{
	static const char *const keys[] = {"literals", "regex", NULL};
	const struct ynode *v[2];
	if (!get_keys(c, n, "text", keys, v))
		return;
	if (v[0])
		get_strv(c, v[0], "literals", &r->literals, check_nonempty, LIST_SCALAR_OK);
	if (v[1])
		get_strv(c, v[1], "regex", &r->regexes, check_regex, LIST_SCALAR_OK);
}

/* "15m": an integer and s, m or h; 1s..24h. */
static bool parse_ttl(struct pctx *c, const struct ynode *n, uint32_t *out)
{
	char *s = NULL;
	if (!get_str(c, n, "ttl", &s))
		return false;
	size_t len = strlen(s), i = 0;
	uint64_t v = 0, mult = 0;
	while (i < len && s[i] >= '0' && s[i] <= '9') {
		if (v < 1000000000)
			v = v * 10 + (uint64_t)(s[i] - '0');
		i++;
	}
	if (i > 0 && i + 1 == len)
		mult = s[i] == 's' ? 1 : s[i] == 'm' ? 60 : s[i] == 'h' ? 3600 : 0;
	bool ok = mult && v * mult >= 1 && v * mult <= 86400;
	if (!mult)
		rulec_diag_add(c->d, npos(c, n),
			       "invalid ttl '%s': expected an integer followed by s, m or h", s);
	else if (!ok)
		rulec_diag_add(c->d, npos(c, n), "invalid ttl '%s': must be between 1s and 24h", s);
	else
		*out = (uint32_t)(v * mult);
	free(s);
	return ok;
}

static void parse_approval(struct pctx *c, const struct ynode *n, struct rulec_rule *r)
{
	static const char *const keys[] = {"group", "ttl", "scope", "expires", NULL};
	static const char *const scopes[] = {"once", "fingerprint"};
	const struct ynode *v[4];
	if (!get_keys(c, n, "approval", keys, v))
		return;
	if (!v[0])
		missing(c, n, "approval", "group");
	else if (get_str(c, v[0], "group", &r->approval_group))
		check_nonempty(c, v[0], "group", r->approval_group);
	if (!v[1])
		missing(c, n, "approval", "ttl");
	else
		parse_ttl(c, v[1], &r->approval_ttl_s);
	if (v[2]) {
		int s = get_enum(c, v[2], "scope", scopes, N(scopes));
		if (s >= 0)
			r->approval_scope = s ? RG_APPROVAL_FINGERPRINT : RG_APPROVAL_ONCE;
	}
	r->approval_expire_s = 300; /* how long a request waits for a decision */
	if (v[3])
		parse_ttl(c, v[3], &r->approval_expire_s);
}

enum owner_kind { OWNER_FILE, OWNER_RULE, OWNER_MASK, OWNER_LIMIT };

static const char *const owner_names[] = {"file", "a rule", "a mask", "a limit"};

static bool parse_limit_value(struct pctx *c, const struct ynode *n, enum rg_limit_kind k,
			      uint64_t *out);

/* The keys of an inline test, in the order of parse_test's keys[] (one list for every kind of
 * test, so that a key of another kind is reported where it stands). */
enum test_key {
	K_SQL,
	K_EXPECT,
	K_SHADOW,
	K_RULE,
	K_ROW,
	K_COLUMNS,
	K_IDENTITY,
	K_TARGET,
	K_PROTOCOL,
	K_SESSION,
	K_SQL_MODE
};

/* A test's who: v[0..2] are its subject, issuer and groups nodes (NULL when absent). */
static void get_test_identity(struct pctx *c, const struct ynode *const *v, struct rulec_test *t)
{
	if (v[0])
		get_str(c, v[0], "subject", &t->identity.subject);
	if (v[1])
		get_str(c, v[1], "issuer", &t->identity.issuer);
	if (v[2])
		get_strv(c, v[2], "groups", &t->identity.groups, check_nonempty, LIST_SCALAR_OK);
}

/* A limits test: `session` (who and where, flat) and `expect` (limit keys, or none). */
static void parse_session_test(struct pctx *c, const struct ynode *const *v, struct rulec_test *t)
{
	static const char *const skeys[] = {"subject", "issuer",   "groups",
					    "target",  "protocol", NULL};
	static const char *const lkeys[] = {"max_session_duration",
					    "idle_timeout",
					    "max_statements",
					    "max_rows",
					    "max_bytes",
					    "max_denials",
					    NULL};
	const struct ynode *sv[5], *lv[RG_LIMIT__COUNT];
	for (int k = K_IDENTITY; k <= K_PROTOCOL; k++)
		if (v[k])
			rulec_diag_add(
			    c->d, npos(c, v[k]),
			    "'%s' is not valid in limits tests ('session'); put subject, "
			    "issuer, groups, target and protocol in 'session'",
			    k == K_IDENTITY ? "identity"
			    : k == K_TARGET ? "target"
					    : "protocol");
	if (v[K_SHADOW])
		rulec_diag_add(c->d, npos(c, v[K_SHADOW]),
			       "'shadow' is only valid in statement tests ('sql')");
	if (v[K_RULE])
		rulec_diag_add(c->d, npos(c, v[K_RULE]),
			       "'rule' is only valid in statement tests ('sql')");
	if (v[K_COLUMNS])
		rulec_diag_add(c->d, npos(c, v[K_COLUMNS]),
			       "'columns' is only valid in masking tests ('row')");
	if (get_keys(c, v[K_SESSION], "session", skeys, sv)) {
		get_test_identity(c, sv, t);
		if (sv[3])
			get_str(c, sv[3], "target", &t->target);
		if (sv[4] && get_str(c, sv[4], "protocol", &t->protocol) &&
		    !check_protocol(c, sv[4], "protocol", t->protocol)) {
			free(t->protocol);
			t->protocol = NULL;
		}
	}
	if (!t->identity.subject)
		t->identity.subject = xstrdup("test-agent");
	if (!t->identity.issuer)
		t->identity.issuer = xstrdup("https://issuer.test");
	if (!t->target)
		t->target = xstrdup("test");
	if (!t->protocol)
		t->protocol = xstrdup("postgres");

	if (!v[K_EXPECT]) {
		rulec_diag_add(c->d, t->pos, "test is missing required key 'expect'");
		return;
	}
	if (!get_keys(c, v[K_EXPECT], "expect", lkeys, lv))
		return;
	bool any = false;
	for (int k = 0; k < RG_LIMIT__COUNT; k++) {
		const struct ynode *lim = lv[k];
		if (!lim)
			continue;
		any = true;
		if (lim->kind == Y_SCALAR && lim->plain && !strcmp(lim->s, "none")) {
			t->limits_checked |= 1u << k;
			t->limits_none |= 1u << k;
		} else if (parse_limit_value(c, lim, (enum rg_limit_kind)k, &t->limits[k])) {
			t->limits_checked |= 1u << k;
		}
	}
	if (!any)
		rulec_diag_add(c->d, npos(c, v[K_EXPECT]),
			       "'expect' must name at least one limit (max_session_duration, "
			       "idle_timeout, max_statements, max_rows, max_bytes, max_denials)");
}

/* Entries a list value holds (a single scalar counts as one). */
static size_t nitems(const struct ynode *n)
{
	return n->kind == Y_SEQ ? n->n : 1;
}

static struct rulec_test *new_test(struct rulec_program *p)
{
	p->tests = grow(p->tests, p->ntests, sizeof(*p->tests));
	struct rulec_test *t = &p->tests[p->ntests++];
	memset(t, 0, sizeof(*t));
	return t;
}

static void parse_test(struct pctx *c, const struct ynode *n, const char *owner, enum owner_kind ok)
{
	static const char *const keys[] = {"sql",      "expect",  "shadow",   "rule",
					   "row",      "columns", "identity", "target",
					   "protocol", "session", "sql_mode", NULL};
	static const char *const ikeys[] = {"subject", "issuer", "groups", NULL};
	const struct ynode *v[11], *iv[3];
	if (!get_keys(c, n, "test", keys, v))
		return;
	struct rulec_test *t = new_test(c->prog);
	t->pos = npos(c, n);
	t->owner = xstrdup(owner);
	if (!!v[K_SQL] + !!v[K_ROW] + !!v[K_SESSION] > 1) {
		rulec_diag_add(c->d, npos(c, v[K_SESSION] ? v[K_SESSION] : v[K_ROW]),
			       "a test has only one of 'sql' (statement test), 'row' (masking "
			       "test) and 'session' (limits test)");
	} else if (!v[K_SQL] && !v[K_ROW] && !v[K_SESSION]) {
		rulec_diag_add(c->d, npos(c, n),
			       "test is missing required key 'sql' (statement test), 'row' "
			       "(masking test) or 'session' (limits test)");
		return;
	}
	t->kind = v[K_SQL] ? RULEC_TEST_SQL : v[K_ROW] ? RULEC_TEST_ROW : RULEC_TEST_SESSION;
	if (t->kind == RULEC_TEST_SQL && (ok == OWNER_MASK || ok == OWNER_LIMIT))
		rulec_diag_add(c->d, npos(c, v[K_SQL]),
			       "statement tests ('sql') belong under a rule or at file level, "
			       "not under %s",
			       owner_names[ok]);
	if (t->kind == RULEC_TEST_ROW && (ok == OWNER_RULE || ok == OWNER_LIMIT))
		rulec_diag_add(c->d, npos(c, v[K_ROW]),
			       "masking tests ('row') belong under a mask or at file level, not "
			       "under %s",
			       owner_names[ok]);
	if (t->kind == RULEC_TEST_SESSION) {
		if (ok == OWNER_RULE || ok == OWNER_MASK)
			rulec_diag_add(c->d, npos(c, v[K_SESSION]),
				       "limits tests ('session') belong under a limit or at file "
				       "level, not under %s",
				       owner_names[ok]);
		if (v[K_SQL_MODE])
			rulec_diag_add(c->d, npos(c, v[K_SQL_MODE]),
				       "'sql_mode' is only valid in statement tests ('sql') with "
				       "protocol mysql");
		parse_session_test(c, v, t);
		return;
	}

	/* who and where */
	if (v[K_IDENTITY] && get_keys(c, v[K_IDENTITY], "test identity", ikeys, iv)) {
		get_test_identity(c, iv, t);
	}
	if (!t->identity.subject)
		t->identity.subject = xstrdup("test-agent");
	if (!t->identity.issuer)
		t->identity.issuer = xstrdup("https://issuer.test");
	if (v[K_TARGET])
		get_str(c, v[K_TARGET], "target", &t->target);
	if (!t->target)
		t->target = xstrdup("test");
	if (v[K_PROTOCOL] && get_str(c, v[K_PROTOCOL], "protocol", &t->protocol) &&
	    !check_protocol(c, v[K_PROTOCOL], "protocol", t->protocol)) {
		free(t->protocol);
		t->protocol = NULL;
	}
	if (!t->protocol)
		t->protocol = xstrdup("postgres");
	if (v[K_SQL_MODE]) {
		char *mode = NULL;
		if (t->kind != RULEC_TEST_SQL || strcmp(t->protocol, "mysql") != 0) {
			rulec_diag_add(c->d, npos(c, v[K_SQL_MODE]),
				       "'sql_mode' is only valid in statement tests ('sql') with "
				       "protocol mysql");
		} else if (get_str(c, v[K_SQL_MODE], "sql_mode", &mode) &&
			   rg_my_sql_mode_flags(mode, strlen(mode), &t->mysql_modes) != 0) {
			rulec_diag_add(c->d, npos(c, v[K_SQL_MODE]),
				       "sql_mode '%s' is not supported: ORACLE and MSSQL change "
				       "the grammar the MySQL classifier reads",
				       mode);
		}
		free(mode);
	}

	if (t->kind == RULEC_TEST_SQL) {
		if (v[K_SQL])
			get_str(c, v[K_SQL], "sql", &t->sql);
		if (v[K_COLUMNS])
			rulec_diag_add(c->d, npos(c, v[K_COLUMNS]),
				       "'columns' is only valid in masking tests ('row')");
		if (!v[K_EXPECT]) {
			missing(c, n, "test", "expect");
		} else {
			int e = get_enum(c, v[K_EXPECT], "expect", verdict_names, N(verdict_names));
			if (e >= 0)
				t->expect = verdict_vals[e];
		}
		if (v[K_SHADOW]) {
			int e = get_enum(c, v[K_SHADOW], "shadow", verdict_names, N(verdict_names));
			if (e >= 0) {
				t->has_shadow = true;
				t->expect_shadow = verdict_vals[e];
			}
		}
		if (v[K_RULE]) {
			if (get_str(c, v[K_RULE], "rule", &t->expect_rule))
				t->expect_rule_pos = npos(c, v[K_RULE]);
		} else if (owner && ok == OWNER_RULE && t->expect != RG_VERDICT_ALLOW) {
			t->expect_rule = xstrdup(owner);
			t->expect_rule_pos = t->pos;
		}
		return;
	}

	/* masking test */
	if (v[K_SHADOW])
		rulec_diag_add(c->d, npos(c, v[K_SHADOW]),
			       "'shadow' is only valid in statement tests ('sql')");
	if (v[K_RULE])
		rulec_diag_add(c->d, npos(c, v[K_RULE]),
			       "'rule' is only valid in statement tests ('sql')");
	/* Lengths are compared only when every entry was good, so one mistake is reported
	 * once; a bad 'columns' is dropped to keep fields aligned. */
	const unsigned fl = LIST_SCALAR_OK | LIST_NULLS_OK;
	bool row_ok =
	    get_strv(c, v[K_ROW], "row", &t->row, NULL, fl) && t->row.n == nitems(v[K_ROW]);
	if (v[K_COLUMNS]) {
		bool ok = get_strv(c, v[K_COLUMNS], "columns", &t->columns, check_column, fl) &&
			  t->columns.n == nitems(v[K_COLUMNS]);
		if (ok && row_ok && t->columns.n != t->row.n) {
			rulec_diag_add(
			    c->d, npos(c, v[K_COLUMNS]),
			    "'columns' must have one entry per field of 'row' (%zu, not %zu)",
			    t->columns.n, t->row.n);
			ok = false;
		}
		if (!ok)
			strv_free(&t->columns);
	}
	if (!v[K_EXPECT]) {
		missing(c, n, "test", "expect");
	} else if (get_strv(c, v[K_EXPECT], "expect", &t->expect_row, NULL, fl) &&
		   t->expect_row.n == nitems(v[K_EXPECT]) && row_ok &&
		   t->expect_row.n != t->row.n) {
		rulec_diag_add(c->d, npos(c, v[K_EXPECT]),
			       "'expect' must have one entry per field of 'row' (%zu, not %zu)",
			       t->expect_row.n, t->row.n);
	}
}

static void parse_tests(struct pctx *c, const struct ynode *n, const char *owner,
			enum owner_kind ok)
{
	if (n->kind == Y_BAD)
		return;
	if (n->kind != Y_SEQ) {
		type_error(c, n, "tests", "a list");
		return;
	}
	if (n->n == 0)
		rulec_diag_add(c->d, npos(c, n), "'tests' must not be an empty list");
	for (size_t i = 0; i < n->n; i++)
		parse_test(c, n->kid[i], owner, ok);
}

static bool check_id(struct pctx *c, const struct ynode *n, const char *what, char *s)
{
	if (!charset_ok(s, "_.:-", true)) {
		rulec_diag_add(c->d, npos(c, n), "invalid %s '%s': use letters, digits and _ . : -",
			       what, s);
		return false;
	}
	/* the engine's own rules (builtin.unparseable) live there; tests may name them */
	if (!strncmp(s, "builtin.", 8)) {
		rulec_diag_add(c->d, npos(c, n),
			       "invalid %s '%s': ids starting with 'builtin.' are "
			       "reserved",
			       what, s);
		return false;
	}
	return true;
}

static bool get_id(struct pctx *c, const struct ynode *m, const struct ynode *v, const char *what,
		   char **out)
{
	if (!v) {
		missing(c, m, what, "id");
		return false;
	}
	if (get_str(c, v, "id", out) && check_id(c, v, "id", *out))
		return true;
	free(*out);
	*out = NULL;
	return false;
}

static void parse_rule(struct pctx *c, const struct ynode *n)
{
	static const char *const keys[] = {"id",       "description", "match",	 "sql",
					   "text",     "action",      "message", "sqlstate",
					   "approval", "enforce",     "tests",	 NULL};
	enum {
		K_ID,
		K_DESC,
		K_MATCH,
		K_SQL,
		K_TEXT,
		K_ACTION,
		K_MSG,
		K_SQLSTATE,
		K_APPROVAL,
		K_ENFORCE,
		K_TESTS
	};
	const struct ynode *v[11];
	if (!get_keys(c, n, "rule", keys, v))
		return;
	struct rulec_program *p = c->prog;
	p->rules = grow(p->rules, p->nrules, sizeof(*p->rules));
	struct rulec_rule *r = &p->rules[p->nrules++];
	memset(r, 0, sizeof(*r));
	r->pos = npos(c, n);
	r->without_where = RULEC_UNSET;
	r->action = RG_VERDICT_DENY;
	strcpy(r->sqlstate, "42501");
	r->approval_scope = RG_APPROVAL_ONCE;
	r->enforce = true;

	get_id(c, n, v[K_ID], "rule", &r->id);
	if (v[K_DESC])
		get_str(c, v[K_DESC], "description", &r->description);
	if (v[K_MATCH])
		parse_match(c, v[K_MATCH], &r->match);
	if (v[K_SQL])
		parse_sql(c, v[K_SQL], r);
	if (v[K_TEXT])
		parse_text(c, v[K_TEXT], r);
	int a = -1;
	if (!v[K_ACTION])
		missing(c, n, "rule", "action");
	else if ((a = get_enum(c, v[K_ACTION], "action", action_names, N(action_names))) >= 0)
		r->action = action_vals[a];
	if (v[K_MSG])
		get_str(c, v[K_MSG], "message", &r->message);
	if (v[K_SQLSTATE]) {
		char *s = NULL;
		if (get_str(c, v[K_SQLSTATE], "sqlstate", &s)) {
			bool ok = strlen(s) == 5;
			for (int i = 0; ok && i < 5; i++)
				ok = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'Z');
			if (ok)
				memcpy(r->sqlstate, s, 6);
			else
				rulec_diag_add(c->d, npos(c, v[K_SQLSTATE]),
					       "invalid sqlstate '%s': expected 5 characters from "
					       "0-9 and A-Z",
					       s);
			free(s);
		}
	}
	if (a >= 0 && r->action == RG_VERDICT_HOLD && !v[K_APPROVAL])
		rulec_diag_add(c->d, npos(c, n),
			       "rule is missing required key 'approval' (action is "
			       "require_approval)");
	if (v[K_APPROVAL]) {
		if (a >= 0 && r->action != RG_VERDICT_HOLD)
			rulec_diag_add(c->d, npos(c, v[K_APPROVAL]),
				       "'approval' is only valid when action is "
				       "require_approval");
		else
			parse_approval(c, v[K_APPROVAL], r);
	}
	if (v[K_ENFORCE])
		get_bool(c, v[K_ENFORCE], "enforce", &r->enforce);
	if (v[K_TESTS])
		parse_tests(c, v[K_TESTS], r->id, OWNER_RULE);
}

static bool check_detector(struct pctx *c, const struct ynode *n, const char *what, char *s)
{
	if (rg_detector_from_name(s) >= 0)
		return true;
	const char *names[RG_DET__COUNT];
	for (int i = 0; i < RG_DET__COUNT; i++)
		names[i] = rg_detector_name((enum rg_detector)i);
	char *valid = join(names, RG_DET__COUNT);
	rulec_diag_add(c->d, npos(c, n), "unknown %s '%s'; valid detectors are: %s", what, s,
		       valid);
	free(valid);
	return false;
}

static void parse_mask(struct pctx *c, const struct ynode *n)
{
	static const char *const keys[] = {"id",    "description", "match", "detector", "columns",
					   "style", "keep",	   "text",  "tests",	NULL};
	enum { K_ID, K_DESC, K_MATCH, K_DETECTOR, K_COLUMNS, K_STYLE, K_KEEP, K_TEXT, K_TESTS };
	const struct ynode *v[9];
	if (!get_keys(c, n, "mask", keys, v))
		return;
	struct rulec_program *p = c->prog;
	p->masks = grow(p->masks, p->nmasks, sizeof(*p->masks));
	struct rulec_mask *m = &p->masks[p->nmasks++];
	memset(m, 0, sizeof(*m));
	m->pos = npos(c, n);
	m->detector = -1;
	m->style = RG_MASK_REDACT;

	get_id(c, n, v[K_ID], "mask", &m->id);
	if (v[K_DESC])
		get_str(c, v[K_DESC], "description", &m->description);
	if (v[K_MATCH])
		parse_match(c, v[K_MATCH], &m->match);
	if (v[K_DETECTOR] && v[K_COLUMNS]) {
		rulec_diag_add(c->d, npos(c, v[K_COLUMNS]),
			       "a mask has either 'detector' or 'columns', not both");
	} else if (v[K_DETECTOR]) {
		char *s = NULL;
		if (get_str(c, v[K_DETECTOR], "detector", &s) &&
		    check_detector(c, v[K_DETECTOR], "detector", s))
			m->detector = rg_detector_from_name(s);
		free(s);
	} else if (v[K_COLUMNS]) {
		get_strv(c, v[K_COLUMNS], "columns", &m->columns, check_column, LIST_SCALAR_OK);
	} else {
		rulec_diag_add(c->d, npos(c, n),
			       "mask is missing required key 'detector' or 'columns'");
	}
	int style = -1;
	if (!v[K_STYLE]) {
		missing(c, n, "mask", "style");
	} else {
		const char *names[RG_MASK__COUNT];
		for (int i = 0; i < RG_MASK__COUNT; i++)
			names[i] = rg_mask_style_name((enum rg_mask_style)i);
		/* `style: null` is YAML null unless quoted; the style is what is meant */
		const struct ynode *sv = v[K_STYLE];
		if (sv->kind == Y_SCALAR && !strcmp(sv->s, "null"))
			style = RG_MASK_NULL;
		else
			style = get_enum(c, sv, "style", names, RG_MASK__COUNT);
		if (style >= 0)
			m->style = (enum rg_mask_style)style;
	}
	if (m->style == RG_MASK_PARTIAL)
		m->keep = 4;
	if (v[K_KEEP]) {
		long k = 0;
		if (style >= 0 && style != RG_MASK_PARTIAL) {
			rulec_diag_add(c->d, npos(c, v[K_KEEP]),
				       "'keep' is only valid with style partial");
		} else if (get_int(c, v[K_KEEP], "keep", &k)) {
			if (k >= 1 && k <= 32)
				m->keep = (uint8_t)k;
			else
				rulec_diag_add(c->d, npos(c, v[K_KEEP]),
					       "'keep' must be between 1 and 32, got %s",
					       v[K_KEEP]->s);
		}
	}
	if (v[K_TEXT]) {
		if (style >= 0 && style != RG_MASK_STATIC)
			rulec_diag_add(c->d, npos(c, v[K_TEXT]),
				       "'text' is only valid with style static");
		else
			get_str(c, v[K_TEXT], "text", &m->static_text);
	} else if (style == RG_MASK_STATIC) {
		rulec_diag_add(c->d, npos(c, n),
			       "mask is missing required key 'text' (style is static)");
	}
	if (v[K_TESTS])
		parse_tests(c, v[K_TESTS], m->id, OWNER_MASK);
}

/* ---- limits ---- */

#define LIMIT_MAX_DURATION_S (720u * 3600u)	   /* 720h, as the config's idle_timeout */
#define LIMIT_MAX_COUNT UINT64_C(1000000000000000) /* 10^15: counts and bytes */

static bool limit_is_duration(enum rg_limit_kind k)
{
	return k == RG_LIMIT_SESSION_DURATION || k == RG_LIMIT_IDLE_TIMEOUT;
}

/* Leading decimal digits of s, saturating above 10^18; *end is the index after them. */
static uint64_t leading_digits(const char *s, size_t *end)
{
	uint64_t v = 0;
	size_t i = 0;
	for (; s[i] >= '0' && s[i] <= '9'; i++)
		v = v > UINT64_C(100000000000000000) ? UINT64_C(1000000000000000000)
						     : v * 10 + (uint64_t)(s[i] - '0');
	*end = i;
	return v;
}

static const struct {
	const char *unit;
	uint64_t mult;
} byte_units[] = {
    {"B", 1},
    {"kB", UINT64_C(1000)},
    {"MB", UINT64_C(1000000)},
    {"GB", UINT64_C(1000000000)},
    {"TB", UINT64_C(1000000000000)},
    {"KiB", UINT64_C(1) << 10},
    {"MiB", UINT64_C(1) << 20},
    {"GiB", UINT64_C(1) << 30},
    {"TiB", UINT64_C(1) << 40},
};

/* "15m": an integer and s, m or h; 1s..720h. In seconds. */
static bool parse_limit_duration(struct pctx *c, const struct ynode *n, const char *what,
				 const char *s, uint64_t *out)
{
	size_t i;
	uint64_t v = leading_digits(s, &i), mult = 0;
	if (i > 0 && s[i] && !s[i + 1])
		mult = s[i] == 's' ? 1 : s[i] == 'm' ? 60 : s[i] == 'h' ? 3600 : 0;
	if (!mult) {
		rulec_diag_add(c->d, npos(c, n),
			       "invalid %s '%s': expected an integer followed by s, m or h", what,
			       s);
		return false;
	}
	if (v == 0 || v > LIMIT_MAX_DURATION_S / mult) {
		rulec_diag_add(c->d, npos(c, n), "invalid %s '%s': must be between 1s and 720h",
			       what, s);
		return false;
	}
	*out = v * mult;
	return true;
}

/* "10MiB", "2GB", "4096": an integer, optionally followed by a unit of byte_units. */
static bool parse_limit_bytes(struct pctx *c, const struct ynode *n, const char *what,
			      const char *s, uint64_t *out)
{
	size_t i;
	uint64_t v = leading_digits(s, &i), mult = 0;
	if (i > 0 && !s[i])
		mult = 1;
	for (size_t u = 0; i > 0 && !mult && u < N(byte_units); u++)
		if (!strcmp(s + i, byte_units[u].unit))
			mult = byte_units[u].mult;
	if (!mult) {
		rulec_diag_add(c->d, npos(c, n),
			       "invalid %s '%s': expected an integer, optionally followed by B, "
			       "kB, MB, GB, TB, KiB, MiB, GiB or TiB",
			       what, s);
		return false;
	}
	if (v > LIMIT_MAX_COUNT / mult) {
		rulec_diag_add(c->d, npos(c, n), "invalid %s '%s': must be at most 1000TB", what,
			       s);
		return false;
	}
	*out = v * mult;
	return true;
}

/* A count: a plain decimal integer, 0..10^15. */
static bool parse_limit_count(struct pctx *c, const struct ynode *n, const char *what,
			      uint64_t *out)
{
	if (!plain_digits(c, n, what))
		return false;
	size_t end;
	uint64_t v = leading_digits(n->s, &end);
	if (v > LIMIT_MAX_COUNT) {
		rulec_diag_add(c->d, npos(c, n), "'%s' must be at most 1000000000000000, got %s",
			       what, n->s);
		return false;
	}
	*out = v;
	return true;
}

static bool parse_limit_value(struct pctx *c, const struct ynode *n, enum rg_limit_kind k,
			      uint64_t *out)
{
	const char *what = rg_limit_name(k);
	if (n->kind == Y_BAD)
		return false;
	if (!limit_is_duration(k) && k != RG_LIMIT_BYTES)
		return parse_limit_count(c, n, what, out);
	char *s = NULL;
	if (!get_str(c, n, what, &s))
		return false;
	bool ok = limit_is_duration(k) ? parse_limit_duration(c, n, what, s, out)
				       : parse_limit_bytes(c, n, what, s, out);
	free(s);
	return ok;
}

static void parse_limit(struct pctx *c, const struct ynode *n)
{
	/* the value keys are in enum rg_limit_kind order, after the first K_VALUES keys */
	static const char *const keys[] = {
	    "id",	    "description",    "match",	  "max_session_duration",
	    "idle_timeout", "max_statements", "max_rows", "max_bytes",
	    "max_denials",  "tests",	      NULL};
	enum { K_ID, K_DESC, K_MATCH, K_VALUES, K_TESTS = K_VALUES + RG_LIMIT__COUNT };
	const struct ynode *v[K_TESTS + 1];
	if (!get_keys(c, n, "limit", keys, v))
		return;
	struct rulec_program *p = c->prog;
	p->limits = grow(p->limits, p->nlimits, sizeof(*p->limits));
	struct rulec_limit *l = &p->limits[p->nlimits++];
	memset(l, 0, sizeof(*l));
	l->pos = npos(c, n);

	get_id(c, n, v[K_ID], "limit", &l->id);
	if (v[K_DESC])
		get_str(c, v[K_DESC], "description", &l->description);
	if (v[K_MATCH])
		parse_match(c, v[K_MATCH], &l->match);
	bool any = false;
	for (int k = 0; k < RG_LIMIT__COUNT; k++) {
		const struct ynode *val = v[K_VALUES + k];
		if (!val)
			continue;
		any = true;
		if (parse_limit_value(c, val, (enum rg_limit_kind)k, &l->value[k]))
			l->set |= 1u << k;
	}
	if (!any)
		rulec_diag_add(c->d, npos(c, n),
			       "limit needs at least one of max_session_duration, idle_timeout, "
			       "max_statements, max_rows, max_bytes, max_denials");
	if (v[K_TESTS])
		parse_tests(c, v[K_TESTS], l->id, OWNER_LIMIT);
}

static void parse_list(struct pctx *c, const struct ynode *n, const char *what,
		       void (*item)(struct pctx *, const struct ynode *))
{
	if (n->kind == Y_BAD)
		return;
	if (n->kind != Y_SEQ) {
		type_error(c, n, what, "a list");
		return;
	}
	if (n->n == 0)
		rulec_diag_add(c->d, npos(c, n), "'%s' must not be an empty list", what);
	for (size_t i = 0; i < n->n; i++)
		item(c, n->kid[i]);
}

static void parse_file(struct pctx *c, const struct ynode *root)
{
	static const char *const keys[] = {"version", "pack",	"on_unparseable", "rules",
					   "masks",   "limits", "tests",	  NULL};
	enum { K_VERSION, K_PACK, K_UNPARSEABLE, K_RULES, K_MASKS, K_LIMITS, K_TESTS };
	const struct ynode *v[7];
	if (root->kind != Y_MAP && root->kind != Y_BAD) {
		rulec_diag_add(c->d, npos(c, root),
			       "a rule file must be a mapping with 'version', 'pack' and 'rules', "
			       "got %s",
			       kind_name(root));
		return;
	}
	if (!get_keys(c, root, "rule file", keys, v))
		return;
	long version;
	if (!v[K_VERSION])
		missing(c, root, "rule file", "version");
	else if (get_int(c, v[K_VERSION], "version", &version) && version != 1)
		rulec_diag_add(c->d, npos(c, v[K_VERSION]),
			       "unsupported version %s: this rulec reads version 1",
			       v[K_VERSION]->s);

	struct rulec_program *p = c->prog;
	p->packs = grow(p->packs, p->npacks, sizeof(*p->packs));
	struct rulec_pack *pk = &p->packs[p->npacks++];
	memset(pk, 0, sizeof(*pk));
	pk->file = xstrdup(c->file);
	pk->pos = npos(c, root);
	pk->on_unparseable = -1;
	if (!v[K_PACK]) {
		missing(c, root, "rule file", "pack");
	} else if (get_str(c, v[K_PACK], "pack", &pk->name)) {
		pk->pos = npos(c, v[K_PACK]);
		if (!charset_ok(pk->name, "_.-", false)) {
			rulec_diag_add(c->d, npos(c, v[K_PACK]),
				       "invalid pack name '%s': use a-z, 0-9 and _ . -", pk->name);
			free(pk->name);
			pk->name = NULL;
		}
	}
	if (v[K_UNPARSEABLE]) {
		int u = get_enum(c, v[K_UNPARSEABLE], "on_unparseable", unparseable_names,
				 N(unparseable_names));
		if (u >= 0)
			pk->on_unparseable = (int)unparseable_vals[u];
	}
	if (v[K_RULES])
		parse_list(c, v[K_RULES], "rules", parse_rule);
	if (v[K_MASKS])
		parse_list(c, v[K_MASKS], "masks", parse_mask);
	if (v[K_LIMITS])
		parse_list(c, v[K_LIMITS], "limits", parse_limit);
	if (v[K_TESTS])
		parse_tests(c, v[K_TESTS], NULL, OWNER_FILE);
}

/* Diagnostics of one file in source order (checks run key by key, not line by line);
 * equal positions keep the order they were found in. */
struct keyed_diag {
	struct rulec_diag d;
	size_t idx;
};

static int diagcmp(const void *a, const void *b)
{
	const struct keyed_diag *x = a, *y = b;
	if (x->d.pos.line != y->d.pos.line)
		return x->d.pos.line < y->d.pos.line ? -1 : 1;
	if (x->d.pos.col != y->d.pos.col)
		return x->d.pos.col < y->d.pos.col ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static void sort_diags(struct rulec_diag *v, size_t n)
{
	struct keyed_diag *k = xrealloc(NULL, n * sizeof(*k));
	for (size_t i = 0; i < n; i++)
		k[i] = (struct keyed_diag){.d = v[i], .idx = i};
	qsort(k, n, sizeof(*k), diagcmp);
	for (size_t i = 0; i < n; i++)
		v[i] = k[i].d;
	free(k);
}

int rulec_parse_buffer(const char *name, const char *buf, size_t len, struct rulec_program *prog,
		       struct rulec_diags *d)
{
	size_t before = d->n;
	struct rulec_program *p = prog;
	p->files = grow(p->files, p->nfiles, sizeof(*p->files));
	char *file = xstrdup(name ? name : "<input>");
	p->files[p->nfiles++] = file;
	struct pctx c = {.prog = prog, .d = d, .file = file};

	int line, col;
	if (!utf8_check((const unsigned char *)buf, buf ? len : 0, &line, &col)) {
		rulec_diag_add(d, (struct rulec_pos){.file = file, .line = line, .col = col},
			       "file is not valid UTF-8");
		return -1;
	}
	struct ynode *root = yaml_load(&c, buf, len);
	if (root)
		parse_file(&c, root);
	yfree(root);
	if (d->n > before)
		sort_diags(d->v + before, d->n - before);
	return d->n > before ? -1 : 0;
}

/* ---- files and directories ---- */

struct pathv {
	char **v;
	size_t n;
};

static void pathv_add(struct pathv *pv, const char *s)
{
	pv->v = grow(pv->v, pv->n, sizeof(*pv->v));
	pv->v[pv->n++] = xstrdup(s);
}

static bool has_yaml_suffix(const char *s)
{
	size_t n = strlen(s);
	return (n > 5 && !strcmp(s + n - 5, ".yaml")) || (n > 4 && !strcmp(s + n - 4, ".yml"));
}

/* Collect YAML files (.yaml, .yml) below dir. Hidden entries are skipped and symlinked directories
 * are not followed (no loops); symlinked files are read. */
static void walk(const char *dir, int depth, struct pathv *out, struct rulec_diags *d)
{
	DIR *dh = opendir(dir);
	if (!dh) {
		rulec_diag_add(d, (struct rulec_pos){0}, "cannot read directory '%s': %s", dir,
			       strerror(errno));
		return;
	}
	struct dirent *e;
	while ((e = readdir(dh))) {
		if (e->d_name[0] == '.')
			continue;
		char *sub = NULL;
		if (asprintf(&sub, "%s/%s", dir, e->d_name) < 0)
			abort();
		struct stat st;
		if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode)) {
			if (depth < MAX_DIR_DEPTH)
				walk(sub, depth + 1, out, d);
			else
				rulec_diag_add(d, (struct rulec_pos){0},
					       "'%s': directories nested too deep", sub);
		} else if (has_yaml_suffix(e->d_name) && stat(sub, &st) == 0 &&
			   S_ISREG(st.st_mode)) {
			pathv_add(out, sub);
		}
		free(sub);
	}
	closedir(dh);
}

static int strpcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int read_all(const char *path, char **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -errno;
	size_t cap = 8192, n = 0;
	char *p = xrealloc(NULL, cap);
	for (;;) {
		size_t got = fread(p + n, 1, cap - n, f);
		n += got;
		if (n < cap)
			break;
		cap *= 2;
		p = xrealloc(p, cap);
	}
	int err = ferror(f) ? -EIO : 0;
	fclose(f);
	if (err) {
		free(p);
		return err;
	}
	*buf = p;
	*len = n;
	return 0;
}

int rulec_parse_paths(const char *const *paths, size_t npaths, struct rulec_program *prog,
		      struct rulec_diags *d)
{
	size_t before = d->n;
	struct pathv files = {0};
	for (size_t i = 0; i < npaths; i++) {
		struct stat st;
		if (stat(paths[i], &st) != 0) {
			rulec_diag_add(d, (struct rulec_pos){0}, "cannot read '%s': %s", paths[i],
				       strerror(errno));
		} else if (S_ISDIR(st.st_mode)) {
			size_t n0 = files.n;
			walk(paths[i], 0, &files, d);
			if (files.n == n0)
				rulec_diag_add(d, (struct rulec_pos){0},
					       "no *.yaml or *.yml files under '%s'", paths[i]);
		} else {
			pathv_add(&files, paths[i]); /* named explicitly: any suffix */
		}
	}
	if (npaths == 0)
		rulec_diag_add(d, (struct rulec_pos){0}, "no rule files given");
	if (files.n)
		qsort(files.v, files.n, sizeof(*files.v), strpcmp);
	/* A file named twice (say, itself and its directory) is read once, under the name
	 * that sorts first. */
	char **real = xrealloc(NULL, (files.n + 1) * sizeof(*real));
	for (size_t i = 0; i < files.n; i++) {
		real[i] = realpath(files.v[i], NULL);
		bool seen = false;
		for (size_t k = 0; real[i] && k < i && !seen; k++)
			seen = real[k] && !strcmp(real[k], real[i]);
		if (seen)
			continue;
		char *buf = NULL;
		size_t len = 0;
		int err = read_all(files.v[i], &buf, &len);
		if (err)
			rulec_diag_add(d, (struct rulec_pos){0}, "cannot read '%s': %s", files.v[i],
				       strerror(-err));
		else
			rulec_parse_buffer(files.v[i], buf, len, prog, d);
		free(buf);
	}
	for (size_t i = 0; i < files.n; i++) {
		free(files.v[i]);
		free(real[i]);
	}
	free(real);
	free(files.v);
	return d->n > before ? -1 : 0;
}

/* ---- freeing ---- */

static void match_free(struct rulec_match *m)
{
	strv_free(&m->protocols);
	strv_free(&m->targets);
	strv_free(&m->subjects);
	strv_free(&m->issuers);
	strv_free(&m->groups_any);
	strv_free(&m->groups_none);
}

void rulec_program_free(struct rulec_program *prog)
{
	if (!prog)
		return;
	for (size_t i = 0; i < prog->nrules; i++) {
		struct rulec_rule *r = &prog->rules[i];
		free(r->id);
		free(r->description);
		match_free(&r->match);
		strv_free(&r->tables);
		strv_free(&r->functions);
		strv_free(&r->fingerprints);
		strv_free(&r->literals);
		strv_free(&r->regexes);
		free(r->message);
		free(r->approval_group);
	}
	for (size_t i = 0; i < prog->nmasks; i++) {
		struct rulec_mask *m = &prog->masks[i];
		free(m->id);
		free(m->description);
		match_free(&m->match);
		strv_free(&m->columns);
		free(m->static_text);
	}
	for (size_t i = 0; i < prog->nlimits; i++) {
		struct rulec_limit *l = &prog->limits[i];
		free(l->id);
		free(l->description);
		match_free(&l->match);
	}
	for (size_t i = 0; i < prog->ntests; i++) {
		struct rulec_test *t = &prog->tests[i];
		free(t->owner);
		free(t->identity.subject);
		free(t->identity.issuer);
		strv_free(&t->identity.groups);
		free(t->target);
		free(t->protocol);
		free(t->sql);
		free(t->expect_rule);
		strv_free(&t->row);
		strv_free(&t->columns);
		strv_free(&t->expect_row);
	}
	for (size_t i = 0; i < prog->npacks; i++) {
		free(prog->packs[i].name);
		free(prog->packs[i].file);
	}
	for (size_t i = 0; i < prog->nfiles; i++)
		free(prog->files[i]);
	free(prog->rules);
	free(prog->masks);
	free(prog->limits);
	free(prog->tests);
	free(prog->packs);
	free(prog->files);
	memset(prog, 0, sizeof(*prog));
}
