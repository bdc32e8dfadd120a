/*
 * mysqlclass: the MySQL/MariaDB lexer and statement classifier (mysqlclass.h says what it
 * reports and why).
 *
 * The lexer follows the server's lexer (MariaDB sql_lex.cc, lex_one_token) wherever a
 * difference could hide executed text: executable and versioned comments, # and "-- "
 * comments, backslash escapes and doubled quotes, ANSI_QUOTES, strict hex/bit literals,
 * statements split at ';' with the comment state reset as the server resets it for the
 * next statement of a multi-statement string. When it cannot follow the text it says so
 * (RG_SQL_UNPARSEABLE) rather than guess. The classifier is a token walker, not a
 * grammar: it knows where tables and function calls can stand in each statement kind, and
 * reports more rather than less when unsure (an alias read as a table, a type read as a
 * function); what it does not know at all is unparseable. Names are collected as offsets
 * into one arena and turned into pointers at the end, so the arena may grow; every buffer
 * lives in the context and is reused.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <xxhash.h>

#include "mysqlclass.h"

#define NONE UINT32_MAX
#define OPB(x) RG_OP_BIT(RG_OP_##x)
#define MAX_DEPTH 200
#define MAX_PREPARE_DEPTH 4

struct pname {
	uint32_t schema, name; /* arena offsets, NONE: no schema */
	uint8_t access;
};

struct cte {
	uint32_t name;	 /* arena offset */
	size_t from, to; /* token range where the name means the CTE */
};

struct alias {
	uint32_t name; /* arena offset */
	size_t table;  /* index into tabs */
};

struct dyn {
	size_t tok;	 /* the string literal of a PREPARE / EXECUTE IMMEDIATE */
	size_t from, to; /* the tokens of its text, appended after the input's */
};

struct rg_myclass {
	const char *s; /* the input of the current run */
	const struct rg_my_lexing *lx;
	struct rg_my_tok *toks;
	size_t ntoks, tcap;
	uint32_t *match; /* per token: index of the matching ')' for '(' */
	size_t mcap;
	char *arena;
	size_t alen, acap;
	struct pname *tabs, *funcs;
	size_t ntabs, tabcap, nfuncs, funccap;
	struct cte *ctes;
	size_t nctes, ctecap;
	struct alias *aliases;
	size_t naliases, aliascap;
	struct dyn *dyns;
	size_t ndyns, dyncap;
	struct rg_sql_name *otabs, *ofuncs;
	size_t otabcap, ofunccap;
	uint64_t *fps;
	size_t fpcap;
	char *norm;
	size_t nlen, ncap;
	uint64_t ops, nowhere;
	unsigned depth, pdepth;
	bool bad; /* not understood: the run is unparseable */
	bool oom;
};

struct rg_myclass *rg_myclass_new(void)
{
	return calloc(1, sizeof(struct rg_myclass));
}

void rg_myclass_free(struct rg_myclass *c)
{
	if (!c)
		return;
	free(c->toks);
	free(c->match);
	free(c->arena);
	free(c->tabs);
	free(c->funcs);
	free(c->ctes);
	free(c->aliases);
	free(c->dyns);
	free(c->otabs);
	free(c->ofuncs);
	free(c->fps);
	free(c->norm);
	free(c);
}

/* Grow *p (of *cap elements of size sz) to hold need elements. */
static bool grow(void **p, size_t *cap, size_t need, size_t sz)
{
	if (need <= *cap)
		return true;
	size_t n = *cap ? *cap : 16;
	while (n < need)
		n *= 2;
	void *q = realloc(*p, n * sz);
	if (!q)
		return false;
	*p = q;
	*cap = n;
	return true;
}

#define GROW(c, arr, cap, need) grow((void **)&(c)->arr, &(c)->cap, (need), sizeof(*(c)->arr))

/* ------------------------------------------------------------------ lexer */

static inline bool is_ident(uint8_t ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '_' || ch == '$' || ch >= 0x80;
}

static inline bool is_digit(uint8_t ch)
{
	return ch >= '0' && ch <= '9';
}

static inline bool is_xdigit(uint8_t ch)
{
	return is_digit(ch) || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* the server's my_isspace: the lexer skips these between tokens */
static inline bool is_space(uint8_t ch)
{
	return ch == ' ' || (ch >= '\t' && ch <= '\r');
}

/* Byte i of s[0..end), or 0 past the end: the server's buffer is NUL-terminated. */
static inline uint8_t at(const char *s, size_t end, size_t i)
{
	return i < end ? (uint8_t)s[i] : 0;
}

static int push(struct rg_myclass *c, enum rg_my_tok_kind kind, size_t off, size_t len)
{
	if (!GROW(c, toks, tcap, c->ntoks + 1))
		return -ENOMEM;
	c->toks[c->ntoks++] = (struct rg_my_tok){(uint32_t)kind, (uint32_t)off, (uint32_t)len};
	return 0;
}

/* Past a comment body starting at i (after its opening marker). nested: one level of
 * regular comments inside is allowed (a skipped versioned comment). SIZE_MAX: unclosed. */
static size_t skip_block(const char *s, size_t i, size_t end, bool nested)
{
	while (i < end) {
		uint8_t ch = (uint8_t)s[i++];
		if (nested && ch == '/' && at(s, end, i) == '*') {
			i = skip_block(s, i + 1, end, false);
			if (i == SIZE_MAX)
				return SIZE_MAX;
			continue;
		}
		if (ch == '*' && at(s, end, i) == '/')
			return i + 1;
	}
	return SIZE_MAX;
}

/* Past a quoted string whose opening quote is at i; SIZE_MAX: unterminated. */
static size_t skip_string(const char *s, size_t i, size_t end, bool backslash)
{
	uint8_t q = (uint8_t)s[i++];
	while (i < end) {
		uint8_t ch = (uint8_t)s[i];
		if (ch == '\\' && backslash) {
			if (i + 1 >= end)
				return SIZE_MAX;
			i += 2;
		} else if (ch == q) {
			if (at(s, end, i + 1) == q)
				i += 2;
			else
				return i + 1;
		} else {
			i++;
		}
	}
	return SIZE_MAX;
}

/* Past a delimited identifier whose opening quote is at i; SIZE_MAX: unterminated, or a
 * NUL inside (the server's scan stops there and aborts). */
static size_t skip_qident(const char *s, size_t i, size_t end)
{
	uint8_t q = (uint8_t)s[i++];
	while (i < end) {
		uint8_t ch = (uint8_t)s[i];
		if (ch == 0)
			return SIZE_MAX;
		if (ch == q) {
			if (at(s, end, i + 1) != q)
				return i + 1;
			i += 2;
		} else {
			i++;
		}
	}
	return SIZE_MAX;
}

/* Past the digits after a decimal point at q and an exponent; SIZE_MAX where the server's
 * lexer gives up (an exponent without digits). */
static size_t skip_fraction(const char *s, size_t q, size_t end)
{
	while (q < end && is_digit((uint8_t)s[q]))
		q++;
	if (at(s, end, q) == 'e' || at(s, end, q) == 'E') {
		q++;
		if (at(s, end, q) == '+' || at(s, end, q) == '-')
			q++;
		if (!is_digit(at(s, end, q)))
			return SIZE_MAX;
		while (q < end && is_digit((uint8_t)s[q]))
			q++;
	}
	return q;
}

/* Whether a versioned comment's content runs: MariaDB ignores MySQL's 5.7+ range unless
 * the comment is MariaDB's own (M!). */
static bool version_runs(const struct rg_my_lexing *lx, uint32_t v, bool maria)
{
	if (v > lx->server_version)
		return false;
	if (lx->dialect == RG_MY_MARIADB)
		return v < 50700 || v > 99999 || maria;
	return true;
}

/* Lex s[p..end) appending tokens. 0, RG_SQL_UNPARSEABLE or -ENOMEM. */
static int lex_range(struct rg_myclass *c, const struct rg_my_lexing *lx, const char *s, size_t p,
		     size_t end)
{
	bool exec = false; /* inside an executed comment */
	bool ansi = lx->modes & RG_MY_ANSI_QUOTES;
	bool bs = !(lx->modes & RG_MY_NO_BACKSLASH_ESCAPES);
	int rc;

	while (p < end) {
		uint8_t ch = (uint8_t)s[p];
		size_t q;

		if (is_space(ch)) {
			p++;
			continue;
		}
		if (ch == 0)
			return RG_SQL_UNPARSEABLE;
		if (ch == '#' || (ch == '-' && at(s, end, p + 1) == '-' &&
				  (at(s, end, p + 2) <= ' ' || at(s, end, p + 2) == 0x7f))) {
			/* to the end of the line; the server also stops at a NUL, and then reads
			 * the NUL as the end of the statement: refuse that */
			while (p < end && s[p] != '\n') {
				if (s[p] == 0)
					return RG_SQL_UNPARSEABLE;
				p++;
			}
			continue;
		}
		if (ch == '/' && at(s, end, p + 1) == '*') {
			bool maria = lx->dialect == RG_MY_MARIADB && at(s, end, p + 2) == 'M' &&
				     at(s, end, p + 3) == '!';
			if (at(s, end, p + 2) == '!' || maria) {
				q = p + (maria ? 4 : 3);
				size_t nd = 0;
				while (nd < 6 && is_digit(at(s, end, q + nd)))
					nd++;
				/* MySQL has read 5-digit versions for long and 6-digit ones only
				 * lately: a sixth digit there is ambiguous */
				if (nd == 6 && lx->dialect == RG_MY_MYSQL)
					return RG_SQL_UNPARSEABLE;
				if (nd >= 5) {
					uint32_t v = 0;
					for (size_t k = 0; k < nd; k++)
						v = v * 10 + (uint32_t)(s[q + k] - '0');
					if (version_runs(lx, v, maria)) {
						exec = true;
						p = q + nd;
					} else {
						p = skip_block(s, q, end, true);
						if (p == SIZE_MAX)
							return RG_SQL_UNPARSEABLE;
					}
				} else {
					exec = true;
					p = q;
				}
				continue;
			}
			p = skip_block(s, p + 2, end, false);
			if (p == SIZE_MAX)
				return RG_SQL_UNPARSEABLE;
			continue;
		}
		if (ch == '*' && exec && at(s, end, p + 1) == '/') {
			exec = false;
			p += 2;
			continue;
		}
		if (ch == ';') {
			/* the server parses the next statement afresh: no comment is open */
			exec = false;
			if ((rc = push(c, RG_MY_TOK_SEMI, p, 1)))
				return rc;
			p++;
			continue;
		}
		if (ch == '\'' || (ch == '"' && !ansi)) {
			q = skip_string(s, p, end, bs);
			if (q == SIZE_MAX)
				return RG_SQL_UNPARSEABLE;
			if ((rc = push(c, RG_MY_TOK_STRING, p, q - p)))
				return rc;
			p = q;
			continue;
		}
		if (ch == '`' || ch == '"') {
			q = skip_qident(s, p, end);
			if (q == SIZE_MAX || q == p + 2) /* empty names are refused too */
				return RG_SQL_UNPARSEABLE;
			if ((rc = push(c, RG_MY_TOK_QIDENT, p, q - p)))
				return rc;
			p = q;
			continue;
		}
		if (ch == '@') {
			q = p + 1;
			uint8_t n = at(s, end, q);
			enum rg_my_tok_kind k = RG_MY_TOK_USERVAR;
			if (n == '@') {
				k = RG_MY_TOK_SYSVAR;
				q++;
				if (at(s, end, q) == '`') {
					q = skip_qident(s, q, end);
					if (q == SIZE_MAX)
						return RG_SQL_UNPARSEABLE;
				} else {
					size_t st = q;
					while (q < end && is_ident((uint8_t)s[q]))
						q++;
					if (q == st)
						return RG_SQL_UNPARSEABLE;
				}
			} else if (n == '\'' || (n == '"' && !ansi)) {
				q = skip_string(s, q, end, bs);
			} else if (n == '`' || n == '"') {
				/* under ANSI_QUOTES @"v" names v as a delimited identifier: no
				 * backslash escapes */
				q = skip_qident(s, q, end);
			} else {
				while (q < end && (is_ident((uint8_t)s[q]) || s[q] == '.') &&
				       (uint8_t)s[q] < 0x80)
					q++;
				if (q == p + 1)
					k = RG_MY_TOK_PUNCT;
			}
			if (q == SIZE_MAX)
				return RG_SQL_UNPARSEABLE;
			if ((rc = push(c, k, p, q - p)))
				return rc;
			p = q;
			continue;
		}
		if (ch == '\\') {
			/* \N is NULL; the server swallows whatever else follows a backslash and
			 * returns a token no rule accepts */
			if (at(s, end, p + 1) != 'N')
				return RG_SQL_UNPARSEABLE;
			if ((rc = push(c, RG_MY_TOK_LITERAL, p, 2)))
				return rc;
			p += 2;
			continue;
		}
		/* X'..' and B'..' are strict: anything but their digits aborts the statement */
		if ((ch == 'x' || ch == 'X' || ch == 'b' || ch == 'B') &&
		    at(s, end, p + 1) == '\'') {
			bool hex = ch == 'x' || ch == 'X';
			q = p + 2;
			while (q < end &&
			       (hex ? is_xdigit((uint8_t)s[q]) : (s[q] == '0' || s[q] == '1')))
				q++;
			if (at(s, end, q) != '\'' || (hex && (q - p - 2) % 2))
				return RG_SQL_UNPARSEABLE;
			if ((rc = push(c, RG_MY_TOK_LITERAL, p, q + 1 - p)))
				return rc;
			p = q + 1;
			continue;
		}
		if ((ch == 'n' || ch == 'N') && at(s, end, p + 1) == '\'') {
			q = skip_string(s, p + 1, end, bs);
			if (q == SIZE_MAX)
				return RG_SQL_UNPARSEABLE;
			if ((rc = push(c, RG_MY_TOK_STRING, p, q - p)))
				return rc;
			p = q;
			continue;
		}
		/* after an identifier and an adjacent '.', an adjacent run of identifier
		 * characters is a name even if it starts with digits (t.1e5 names column 1e5) */
		bool name_next = false;
		if (c->ntoks && c->toks[c->ntoks - 1].kind == RG_MY_TOK_PUNCT &&
		    c->toks[c->ntoks - 1].len == 1 && s[c->toks[c->ntoks - 1].off] == '.' &&
		    c->toks[c->ntoks - 1].off + 1 == p && c->ntoks >= 2) {
			const struct rg_my_tok *b = &c->toks[c->ntoks - 2];
			name_next = b->kind == RG_MY_TOK_WORD && b->off + b->len + 1 == p;
		}
		if (is_digit(ch) && !name_next) {
			q = p;
			enum rg_my_tok_kind k = RG_MY_TOK_LITERAL;
			if (ch == '0' && (at(s, end, p + 1) == 'x' || at(s, end, p + 1) == 'b')) {
				bool hex = s[p + 1] == 'x';
				q = p + 2;
				while (q < end && (hex ? is_xdigit((uint8_t)s[q])
						       : (s[q] == '0' || s[q] == '1')))
					q++;
				if (q - p >= 3 && !is_ident(at(s, end, q))) {
					if ((rc = push(c, k, p, q - p)))
						return rc;
					p = q;
					continue;
				}
				q = p;
			}
			while (q < end && is_digit((uint8_t)s[q]))
				q++;
			uint8_t n = at(s, end, q);
			if (is_ident(n)) {
				if ((n == 'e' || n == 'E') &&
				    (is_digit(at(s, end, q + 1)) ||
				     ((at(s, end, q + 1) == '+' || at(s, end, q + 1) == '-') &&
				      is_digit(at(s, end, q + 2))))) {
					q += 2;
					while (q < end && is_digit((uint8_t)s[q]))
						q++;
				} else {
					/* digits then identifier characters: a name (1abc) */
					while (q < end && is_ident((uint8_t)s[q]))
						q++;
					k = RG_MY_TOK_WORD;
				}
			} else if (n == '.' && at(s, end, q + 1) != '.') {
				q = skip_fraction(s, q + 1, end);
				if (q == SIZE_MAX)
					return RG_SQL_UNPARSEABLE;
			}
			if ((rc = push(c, k, p, q - p)))
				return rc;
			p = q;
			continue;
		}
		if (ch == '.' && is_digit(at(s, end, p + 1)) && !name_next) {
			q = skip_fraction(s, p + 1, end);
			if (q == SIZE_MAX)
				return RG_SQL_UNPARSEABLE;
			if ((rc = push(c, RG_MY_TOK_LITERAL, p, q - p)))
				return rc;
			p = q;
			continue;
		}
		if (is_ident(ch)) {
			q = p;
			while (q < end && is_ident((uint8_t)s[q]))
				q++;
			if ((rc = push(c, RG_MY_TOK_WORD, p, q - p)))
				return rc;
			p = q;
			continue;
		}
		q = p + 1;
		if (ch == ':' && at(s, end, q) == '=')
			q++;
		if ((rc = push(c, RG_MY_TOK_PUNCT, p, q - p)))
			return rc;
		p = q;
	}
	return exec ? RG_SQL_UNPARSEABLE : 0;
}

int rg_my_lex(struct rg_myclass *c, const struct rg_my_lexing *lx, const char *sql, size_t len,
	      const struct rg_my_tok **toks, size_t *n)
{
	*toks = NULL;
	*n = 0;
	if (len > INT32_MAX)
		return -E2BIG;
	c->ntoks = 0;
	int rc = lex_range(c, lx, sql, 0, len);
	if (rc)
		return rc;
	*toks = c->toks;
	*n = c->ntoks;
	return 0;
}

/* ------------------------------------------------------------- names */

/* Copy n bytes into the arena, NUL-terminated; lower: ASCII lower case. NONE on OOM. */
static uint32_t arena_put(struct rg_myclass *c, const char *p, size_t n, bool lower)
{
	if (!GROW(c, arena, acap, c->alen + n + 1)) {
		c->oom = true;
		return NONE;
	}
	uint32_t off = (uint32_t)c->alen;
	char *d = c->arena + off;
	for (size_t i = 0; i < n; i++)
		d[i] = lower && p[i] >= 'A' && p[i] <= 'Z' ? (char)(p[i] - 'A' + 'a') : p[i];
	d[n] = 0;
	c->alen += n + 1;
	return off;
}

/* An identifier token's name: a word as written, a quoted one without its quotes and with
 * doubled quotes made single. */
static uint32_t ident_put(struct rg_myclass *c, size_t t, bool lower)
{
	const struct rg_my_tok *k = &c->toks[t];
	const char *p = c->s + k->off;
	if (k->kind != RG_MY_TOK_QIDENT)
		return arena_put(c, p, k->len, lower);
	uint32_t off = arena_put(c, p + 1, k->len - 2, lower);
	if (off == NONE)
		return NONE;
	char q = p[0], *d = c->arena + off, *w = d;
	for (char *r = d; *r; r++) {
		*w++ = *r;
		if (*r == q && r[1] == q)
			r++;
	}
	*w = 0;
	c->alen = (size_t)(w - c->arena) + 1;
	return off;
}

static const char *astr(const struct rg_myclass *c, uint32_t off)
{
	return off == NONE ? NULL : c->arena + off;
}

static bool same(const struct rg_myclass *c, uint32_t a, uint32_t b)
{
	if (a == NONE || b == NONE)
		return a == b;
	return strcmp(c->arena + a, c->arena + b) == 0;
}

/* Add (schema, name) to a name list, OR-ing access into an existing entry; returns its
 * index, or SIZE_MAX on OOM. */
static size_t name_add(struct rg_myclass *c, struct pname **v, size_t *n, size_t *cap,
		       uint32_t schema, uint32_t name, uint8_t access)
{
	if (name == NONE)
		return SIZE_MAX;
	for (size_t i = 0; i < *n; i++)
		if (same(c, (*v)[i].name, name) && same(c, (*v)[i].schema, schema)) {
			(*v)[i].access |= access;
			return i;
		}
	if (!grow((void **)v, cap, *n + 1, sizeof(**v))) {
		c->oom = true;
		return SIZE_MAX;
	}
	(*v)[*n] = (struct pname){schema, name, access};
	return (*n)++;
}

/* ---------------------------------------------------------- token tests */

static inline bool is_kind(const struct rg_myclass *c, size_t i, size_t e, enum rg_my_tok_kind k)
{
	return i < e && c->toks[i].kind == (uint32_t)k;
}

/* Token i is the keyword w (lower case, letters first). The first letter rejects most
 * candidates without a call: only A-Z and a-z OR 0x20 to a lower-case letter. */
static bool kw(const struct rg_myclass *c, size_t i, size_t e, const char *w)
{
	if (!is_kind(c, i, e, RG_MY_TOK_WORD))
		return false;
	const char *p = c->s + c->toks[i].off;
	size_t n = c->toks[i].len;
	if ((p[0] | 0x20) != w[0])
		return false;
	/* a word holds no NUL, so a shorter w differs within n bytes */
	return strncasecmp(p, w, n) == 0 && w[n] == 0;
}

static bool kw_any(const struct rg_myclass *c, size_t i, size_t e, const char *const *ws)
{
	for (; *ws; ws++)
		if (kw(c, i, e, *ws))
			return true;
	return false;
}

static bool punct(const struct rg_myclass *c, size_t i, size_t e, char ch)
{
	return is_kind(c, i, e, RG_MY_TOK_PUNCT) && c->toks[i].len == 1 &&
	       c->s[c->toks[i].off] == ch;
}

static bool is_name(const struct rg_myclass *c, size_t i, size_t e)
{
	return is_kind(c, i, e, RG_MY_TOK_WORD) || is_kind(c, i, e, RG_MY_TOK_QIDENT);
}

#define WORDS(...)                                                                                 \
	(const char *const[])                                                                      \
	{                                                                                          \
		__VA_ARGS__, NULL                                                                  \
	}

/* Words that stand before '(' without being a call: clause keywords, constructs, types. */
static const char *const not_calls[] = {"as",	      "in",	      "exists",
					"values",     "value",	      "using",
					"on",	      "and",	      "or",
					"xor",	      "not",	      "over",
					"where",      "having",	      "from",
					"join",	      "select",	      "with",
					"all",	      "any",	      "some",
					"union",      "except",	      "intersect",
					"into",	      "table",	      "set",
					"key",	      "index",	      "primary",
					"unique",     "foreign",      "references",
					"check",      "constraint",   "partition",
					"partitions", "subpartition", "subpartitions",
					"columns",    "range",	      "list",
					"hash",	      "than",	      "by",
					"is",	      "between",      "like",
					"rlike",      "regexp",	      "case",
					"when",	      "then",	      "else",
					"end",	      "distinct",     "lateral",
					"returning",  "window",	      "rows",
					"escape",     "against",      "to",
					"do",	      "return",	      "char",
					"varchar",    "binary",	      "varbinary",
					"int",	      "integer",      "tinyint",
					"smallint",   "mediumint",    "bigint",
					"decimal",    "dec",	      "numeric",
					"fixed",      "float",	      "double",
					"real",	      "bit",	      "enum",
					"datetime",   "timestamp",    "time",
					"year",	      "text",	      "blob",
					"nchar",      "nvarchar",     "unsigned",
					"signed",     "vector",	      "fulltext",
					"spatial",    "keys",	      "limit",
					"for",	      "of",	      "lock",
					"option",     "default",      NULL};

/* A name right after these is a table, index, alias or key, even when '(' follows. */
static const char *const name_before[] = {
    "key",  "index", "constraint", "references", "as",	    "from", "join",
    "into", "table", "update",	   "partition",	 "trigger", "view", NULL};

/* ------------------------------------------------------------ classifier */

enum walk_mode {
	W_EXPR,	 /* expressions: calls and subqueries only */
	W_QUERY, /* a query: FROM/JOIN lists name tables read */
	W_REFS,	 /* table references from the first token (UPDATE, DELETE ... USING) */
};

static void stmt(struct rg_myclass *c, size_t i, size_t e);
static size_t walk(struct rg_myclass *c, size_t i, size_t e, enum walk_mode m, uint8_t access,
		   bool *where);

static bool enter(struct rg_myclass *c)
{
	if (++c->depth > MAX_DEPTH) {
		c->bad = true;
		return false;
	}
	return true;
}

/* A dotted name at i (1 to 3 parts). *n parts, their token indexes in part[]; returns the
 * index after it. Whitespace around the dots is allowed, as the server allows it. */
static size_t dotted(const struct rg_myclass *c, size_t i, size_t e, size_t part[3], size_t *n)
{
	*n = 0;
	if (!is_name(c, i, e))
		return i;
	part[(*n)++] = i++;
	while (*n < 3 && punct(c, i, e, '.') && is_name(c, i + 1, e)) {
		part[(*n)++] = i + 1;
		i += 2;
	}
	return i;
}

static bool cte_named(const struct rg_myclass *c, uint32_t name, size_t at_tok)
{
	for (size_t i = 0; i < c->nctes; i++)
		if (at_tok >= c->ctes[i].from && at_tok < c->ctes[i].to &&
		    strcmp(c->arena + c->ctes[i].name, c->arena + name) == 0)
			return true;
	return false;
}

/* The table named by the dotted name at i (1 or 2 parts); SIZE_MAX if none was added. */
static size_t table_at(struct rg_myclass *c, size_t i, size_t e, uint8_t access, size_t *next)
{
	size_t part[3], n;
	*next = dotted(c, i, e, part, &n);
	if (n == 0)
		return SIZE_MAX;
	if (n == 1 && kw(c, part[0], e, "dual"))
		return SIZE_MAX;
	size_t mark = c->alen;
	uint32_t schema = n >= 2 ? ident_put(c, part[n - 2], false) : NONE;
	uint32_t name = ident_put(c, part[n - 1], false);
	if (n == 1 && name != NONE && cte_named(c, name, i)) {
		c->alen = mark;
		return SIZE_MAX;
	}
	return name_add(c, &c->tabs, &c->ntabs, &c->tabcap, schema, name, access);
}

/* Record a call of the dotted name part[0..n) (n is 1 or 2). */
static void call_at(struct rg_myclass *c, const size_t *part, size_t n)
{
	uint32_t schema = n == 2 ? ident_put(c, part[0], false) : NONE;
	uint32_t name = ident_put(c, part[n - 1], true);
	name_add(c, &c->funcs, &c->nfuncs, &c->funccap, schema, name, 0);
}

/* Whether the parenthesised range (i, e) holds a query. */
static bool is_query_start(const struct rg_myclass *c, size_t i, size_t e)
{
	while (punct(c, i, e, '('))
		i++;
	return kw_any(c, i, e, WORDS("select", "with", "values", "table"));
}

static void add_alias(struct rg_myclass *c, size_t tok, size_t table)
{
	uint32_t a = ident_put(c, tok, false);
	if (a == NONE || table == SIZE_MAX)
		return;
	if (!GROW(c, aliases, aliascap, c->naliases + 1)) {
		c->oom = true;
		return;
	}
	c->aliases[c->naliases++] = (struct alias){a, table};
}

/* Words after a table reference that are not its alias. */
static const char *const not_alias[] = {
    "where",	     "join",	  "inner",  "left",	 "right",  "cross",	"natural",
    "straight_join", "on",	  "using",  "set",	 "order",  "group",	"having",
    "limit",	     "union",	  "except", "intersect", "for",	   "lock",	"into",
    "partition",     "use",	  "ignore", "force",	 "window", "returning", "full",
    "outer",	     "procedure", "fetch",  "offset",	 "with",   "read",	"write",
    "low_priority",  "local",	  "values", "value",	 "select", "default",	NULL};

/* One table factor at i in a FROM list or a reference list; returns where to go on. */
static size_t table_factor(struct rg_myclass *c, size_t i, size_t e, uint8_t access)
{
	if (punct(c, i, e, '(')) {
		size_t m = c->match[i];
		if (is_query_start(c, i + 1, m)) {
			walk(c, i + 1, m, W_QUERY, RG_ACCESS_READ, NULL);
		} else {
			/* a parenthesised join: its names are references too */
			walk(c, i + 1, m, W_REFS, access, NULL);
		}
		return m + 1;
	}
	if (kw(c, i, e, "lateral"))
		return table_factor(c, i + 1, e, access);
	if (is_name(c, i, e) && punct(c, i + 1, e, '(')) {
		/* a table function (JSON_TABLE): a call; its arguments are walked after */
		size_t part[1] = {i};
		call_at(c, part, 1);
		return i + 1;
	}
	size_t next;
	size_t t = table_at(c, i, e, access, &next);
	if (next == i)
		return i;
	size_t a = next;
	if (kw(c, a, e, "as"))
		a++;
	if (is_name(c, a, e) && !kw_any(c, a, e, not_alias))
		add_alias(c, a, t);
	return next;
}

/* "INTO OUTFILE / DUMPFILE" at i */
static void check_into(struct rg_myclass *c, size_t i, size_t e)
{
	if (kw(c, i, e, "into") && kw_any(c, i + 1, e, WORDS("outfile", "dumpfile")))
		c->ops |= OPB(COPY_TO_FILE);
}

/* WITH [RECURSIVE] name [(cols)] AS (body) [, ...] at i ("with"); scope: the CTE names mean
 * the CTEs from i to e. Returns the index after the list. */
static size_t with_list(struct rg_myclass *c, size_t i, size_t e)
{
	i++;
	if (kw(c, i, e, "recursive"))
		i++;
	for (;;) {
		if (!is_name(c, i, e)) {
			c->bad = true;
			return e;
		}
		uint32_t name = ident_put(c, i, false);
		if (name != NONE) {
			if (!GROW(c, ctes, ctecap, c->nctes + 1)) {
				c->oom = true;
				return e;
			}
			c->ctes[c->nctes++] = (struct cte){name, i, e};
		}
		i++;
		if (punct(c, i, e, '('))
			i = c->match[i] + 1;
		if (!kw(c, i, e, "as") || !punct(c, i + 1, e, '(')) {
			c->bad = true;
			return e;
		}
		size_t m = c->match[i + 1];
		if (enter(c)) {
			stmt(c, i + 2, m);
			c->depth--;
		}
		i = m + 1;
		if (!punct(c, i, e, ','))
			return i;
		i++;
	}
}

/*
 * Walk tokens [i, e): calls, subqueries, and in W_QUERY/W_REFS table lists. *where (if
 * given) is set when WHERE occurs at this level. Returns e.
 */
static size_t walk(struct rg_myclass *c, size_t i, size_t e, enum walk_mode m, uint8_t access,
		   bool *where)
{
	bool in_from = m == W_REFS;
	if (!enter(c))
		return e;
	if (m == W_REFS && i < e)
		i = table_factor(c, i, e, access);
	while (i < e && !c->bad && !c->oom) {
		const struct rg_my_tok *t = &c->toks[i];
		if (t->kind == RG_MY_TOK_PUNCT && t->len == 1 && c->s[t->off] == '(') {
			size_t mt = c->match[i];
			if (is_query_start(c, i + 1, mt))
				walk(c, i + 1, mt, W_QUERY, RG_ACCESS_READ, NULL);
			else
				walk(c, i + 1, mt, W_EXPR, 0, NULL);
			i = mt + 1;
			continue;
		}
		if (t->kind == RG_MY_TOK_PUNCT && t->len == 1 && c->s[t->off] == ',' && in_from) {
			i = table_factor(c, i + 1, e, m == W_REFS ? access : RG_ACCESS_READ);
			continue;
		}
		if (is_name(c, i, e)) {
			size_t part[3], n;
			size_t next = dotted(c, i, e, part, &n);
			if (n == 1 && t->kind == RG_MY_TOK_WORD) {
				if (kw(c, i, e, "select")) {
					c->ops |= OPB(SELECT);
					if (m == W_EXPR)
						m = W_QUERY;
					in_from = false;
				} else if (kw(c, i, e, "with") && m != W_REFS &&
					   is_name(c, i + 1, e) && !kw(c, i + 1, e, "rollup")) {
					c->ops |= OPB(SELECT);
					if (m == W_EXPR)
						m = W_QUERY;
					i = with_list(c, i, e);
					continue;
				} else if (kw(c, i, e, "from") && m != W_EXPR) {
					in_from = true;
					i = table_factor(c, i + 1, e,
							 m == W_REFS ? access : RG_ACCESS_READ);
					continue;
				} else if ((kw(c, i, e, "join") || kw(c, i, e, "straight_join")) &&
					   in_from && !(i > 0 && kw(c, i - 1, e, "for"))) {
					/* (FOR JOIN is an index hint's scope) */
					i = table_factor(c, i + 1, e,
							 m == W_REFS ? access : RG_ACCESS_READ);
					continue;
				} else if (kw_any(c, i, e,
						  WORDS("where", "group", "having", "order",
							"limit", "window", "union", "except",
							"intersect", "into", "procedure",
							"returning", "set", "fetch", "offset"))) {
					if (kw(c, i, e, "where") && where)
						*where = true;
					check_into(c, i, e);
					in_from = false;
				}
			}
			if (punct(c, next, e, '(') && n <= 2) {
				bool call = true;
				if (n == 1 && t->kind == RG_MY_TOK_WORD &&
				    kw_any(c, i, e, not_calls))
					call = false;
				if (i > 0 && kw_any(c, i - 1, e, name_before))
					call = false;
				if (call)
					call_at(c, part, n);
			}
			i = next;
			continue;
		}
		i++;
	}
	c->depth--;
	return e;
}

/* A comma-separated list of table names from i (as in DROP TABLE a, b); stops at the first
 * token that is neither. */
static size_t table_list(struct rg_myclass *c, size_t i, size_t e, uint8_t access)
{
	for (;;) {
		size_t next;
		table_at(c, i, e, access, &next);
		if (next == i)
			return i;
		i = next;
		if (!punct(c, i, e, ','))
			return i;
		i++;
	}
}

static size_t skip_words(const struct rg_myclass *c, size_t i, size_t e, const char *const *ws)
{
	while (kw_any(c, i, e, ws))
		i++;
	return i;
}

static size_t skip_if_exists(const struct rg_myclass *c, size_t i, size_t e)
{
	if (kw(c, i, e, "if") && kw(c, i + 1, e, "exists"))
		return i + 2;
	if (kw(c, i, e, "if") && kw(c, i + 1, e, "not") && kw(c, i + 2, e, "exists"))
		return i + 3;
	return i;
}

/* Find word w at this level in [i, e); e if absent. */
static size_t find_kw(const struct rg_myclass *c, size_t i, size_t e, const char *w)
{
	while (i < e) {
		if (punct(c, i, e, '(')) {
			i = c->match[i] + 1;
			continue;
		}
		if (kw(c, i, e, w))
			return i;
		i++;
	}
	return e;
}

/* DELETE [opts] FROM t [, ...] [USING refs] ..., DELETE [opts] t [, ...] FROM refs ... */
static void delete_stmt(struct rg_myclass *c, size_t i, size_t e)
{
	size_t tgt[64], ntgt = 0, first = c->naliases;
	bool where = false, from_first;

	c->ops |= OPB(DELETE);
	i = skip_words(c, i + 1, e, WORDS("low_priority", "quick", "ignore"));
	from_first = kw(c, i, e, "from");
	if (from_first)
		i++;
	for (;;) {
		size_t part[3], n, next = dotted(c, i, e, part, &n);
		if (n == 0 || n > 2)
			break;
		if (ntgt == 64) {
			c->bad = true;
			return;
		}
		tgt[ntgt++] = i;
		i = next;
		if (punct(c, i, e, '.') && punct(c, i + 1, e, '*'))
			i += 2;
		if (!punct(c, i, e, ','))
			break;
		i++;
	}
	if (ntgt == 0) {
		c->bad = true;
		return;
	}
	bool multi = !from_first || kw(c, i, e, "using");
	if (multi) {
		if (!kw(c, i, e, from_first ? "using" : "from")) {
			c->bad = true;
			return;
		}
		walk(c, i + 1, e, W_REFS, RG_ACCESS_READ, &where);
	} else {
		walk(c, i, e, W_EXPR, 0, &where);
	}
	for (size_t k = 0; k < ntgt; k++) {
		size_t part[3], n, next;
		dotted(c, tgt[k], e, part, &n);
		bool done = false;
		if (multi && n == 1) {
			size_t mark = c->alen;
			uint32_t a = ident_put(c, part[0], false);
			for (size_t j = first; a != NONE && j < c->naliases && !done; j++)
				if (same(c, c->aliases[j].name, a)) {
					c->tabs[c->aliases[j].table].access |= RG_ACCESS_WRITE;
					done = true;
				}
			c->alen = mark;
		}
		if (!done)
			table_at(c, tgt[k], e, RG_ACCESS_WRITE, &next);
	}
	if (!where)
		c->nowhere |= OPB(DELETE);
}

static void update_stmt(struct rg_myclass *c, size_t i, size_t e)
{
	bool where = false;
	c->ops |= OPB(UPDATE);
	i = skip_words(c, i + 1, e, WORDS("low_priority", "ignore"));
	if (!is_name(c, i, e) && !punct(c, i, e, '(')) {
		c->bad = true;
		return;
	}
	walk(c, i, e, W_REFS, RG_ACCESS_READ | RG_ACCESS_WRITE, &where);
	if (!where)
		c->nowhere |= OPB(UPDATE);
}

static void insert_stmt(struct rg_myclass *c, size_t i, size_t e)
{
	size_t next;
	c->ops |= OPB(INSERT);
	i = skip_words(c, i + 1, e,
		       WORDS("low_priority", "delayed", "high_priority", "ignore", "into"));
	if (kw(c, i, e, "table"))
		i++;
	if (table_at(c, i, e, RG_ACCESS_WRITE, &next) == SIZE_MAX && next == i) {
		c->bad = true;
		return;
	}
	walk(c, next, e, W_EXPR, 0, NULL);
}

/* Whether token t is a single value naming a character set this lexer reads correctly
 * (utf8mb4 or 'utf8mb4'); anything else (DEFAULT, an expression) may change lexing. */
static bool safe_charset_value(const struct rg_myclass *c, size_t t, size_t e)
{
	char name[32];
	const struct rg_my_tok *k = &c->toks[t];
	const char *p = c->s + k->off;
	size_t n = k->len;
	if (t >= e || (k->kind != RG_MY_TOK_WORD && k->kind != RG_MY_TOK_STRING &&
		       k->kind != RG_MY_TOK_QIDENT))
		return false;
	if (k->kind != RG_MY_TOK_WORD) {
		/* quoted: no escapes or doubled quotes, so the bytes are the name */
		if (p[0] == 'N' || p[0] == 'n' || n < 3 || memchr(p + 1, p[0], n - 2))
			return false;
		p++;
		n -= 2;
	}
	if (n >= sizeof(name) || memchr(p, '\\', n) || memchr(p, 0, n))
		return false;
	memcpy(name, p, n);
	name[n] = 0;
	return rg_my_charset_safe(name);
}

/* System variables whose change alters how the server lexes later text: sql_mode always
 * (the caller tracks its flags), character_set_client unless set to a safe one. var is the
 * name's token, val the first token of the value (or e), e the assignment's end. */
static bool lexing_var(const struct rg_myclass *c, size_t var, size_t val, size_t e)
{
	const struct rg_my_tok *k = &c->toks[var];
	const char *p = c->s + k->off;
	size_t n = k->len;
	if (k->kind == RG_MY_TOK_SYSVAR) {
		p += 2;
		n -= 2;
	}
	if (n >= 2 && p[0] == '`') {
		p++;
		n -= 2;
	}
#define IS(lit) (n == sizeof(lit) - 1 && strncasecmp(p, lit, n) == 0)
	if (IS("sql_mode"))
		return true;
	if (IS("character_set_client"))
		return !(val + 1 == e && safe_charset_value(c, val, e));
#undef IS
	return false;
}

static bool sysvar_scope_is(const struct rg_myclass *c, size_t t, const char *scope)
{
	const struct rg_my_tok *k = &c->toks[t];
	size_t n = strlen(scope);
	return k->kind == RG_MY_TOK_SYSVAR && k->len == n + 2 &&
	       strncasecmp(c->s + k->off + 2, scope, n) == 0;
}

/* SET's comma-separated list [i, e): each item an assignment with its scope, NAMES or
 * CHARACTER SET, PASSWORD, DEFAULT ROLE, ROLE or TRANSACTION (any of them may follow
 * another: SET NAMES sjis, @a = 1 is one statement). */
static void set_assignments(struct rg_myclass *c, size_t i, size_t e)
{
	static const char *const global[] = {"global", "persist", "persist_only", NULL};
	while (i < e && !c->bad) {
		/* one assignment: up to the next comma at this level */
		size_t j = i;
		while (j < e && !punct(c, j, e, ',')) {
			if (punct(c, j, e, '('))
				j = c->match[j];
			j++;
		}
		size_t k = i;
		if (kw_any(c, k, j, global)) {
			c->ops |= OPB(ALTER_SYSTEM);
			k++;
		} else if (kw_any(c, k, j, WORDS("session", "local"))) {
			k++;
		}
		if (kw_any(c, k, j, WORDS("names", "charset")) ||
		    (kw(c, k, j, "character") && kw(c, k + 1, j, "set"))) {
			/* NAMES x [COLLATE y], CHARACTER SET x: character_set_client = x,
			 * anywhere in the list */
			size_t v = kw(c, k, j, "character") ? k + 2 : k + 1;
			if (!safe_charset_value(c, v, j) ||
			    !(v + 1 == j || (kw(c, v + 1, j, "collate") && v + 3 == j)))
				c->ops |= OPB(SET_LEXING);
			i = j + 1;
			continue;
		}
		if (kw(c, k, j, "password") ||
		    (kw(c, k, j, "default") && kw(c, k + 1, j, "role"))) {
			c->ops |= OPB(ALTER_ROLE) | OPB(ALTER);
			walk(c, k + 1, j, W_EXPR, 0, NULL);
			i = j + 1;
			continue;
		}
		if (kw_any(c, k, j, WORDS("transaction", "role"))) {
			i = j + 1;
			continue;
		}
		size_t var = k;
		if (is_kind(c, k, j, RG_MY_TOK_SYSVAR)) {
			if (punct(c, k + 1, j, '.') && is_name(c, k + 2, j)) {
				if (sysvar_scope_is(c, k, "global") ||
				    sysvar_scope_is(c, k, "persist") ||
				    sysvar_scope_is(c, k, "persist_only"))
					c->ops |= OPB(ALTER_SYSTEM);
				var = k + 2;
				k += 3;
			} else {
				k++;
			}
		} else if (is_name(c, k, j)) {
			size_t part[3], n;
			k = dotted(c, k, j, part, &n);
			var = part[n - 1];
		} else if (is_kind(c, k, j, RG_MY_TOK_USERVAR)) {
			k++;
		} else {
			c->bad = true;
			return;
		}
		size_t val = k;
		if (punct(c, val, j, '=') ||
		    (is_kind(c, val, j, RG_MY_TOK_PUNCT) && c->toks[val].len == 2))
			val++; /* = or := */
		if (lexing_var(c, var, val, j))
			c->ops |= OPB(SET_LEXING);
		walk(c, k, j, W_EXPR, 0, NULL);
		i = j + 1;
	}
}

static void set_stmt(struct rg_myclass *c, size_t i, size_t e)
{
	c->ops |= OPB(SET);
	i++;
	if (kw(c, i, e, "statement")) {
		/* SET STATEMENT a = 1 [, ...] FOR statement (MariaDB) */
		size_t f = find_kw(c, i + 1, e, "for");
		if (f == e) {
			c->bad = true;
			return;
		}
		set_assignments(c, i + 1, f);
		stmt(c, f + 1, e);
		return;
	}
	set_assignments(c, i, e);
}

/* PREPARE s FROM 'text' and EXECUTE IMMEDIATE 'text': the text is classified when it is
 * one plain string literal whose bytes are the text the server will run (no escapes, no
 * doubled quotes, no concatenation): then every keyword in it is in the statement's own
 * text too, as the prefilter requires. Anything else is SQL we cannot see: unparseable. */
static void dynamic_text(struct rg_myclass *c, size_t i, size_t e)
{
	if (is_kind(c, i, e, RG_MY_TOK_WORD) && c->s[c->toks[i].off] == '_' &&
	    is_kind(c, i + 1, e, RG_MY_TOK_STRING))
		i++; /* a character set introducer */
	if (!is_kind(c, i, e, RG_MY_TOK_STRING) || (i + 1 < e && !kw(c, i + 1, e, "using"))) {
		c->bad = true;
		return;
	}
	const struct rg_my_tok t = c->toks[i];
	size_t o = t.off, n = t.len;
	if (c->s[o] == 'N' || c->s[o] == 'n')
		o++, n--;
	char q = c->s[o];
	for (size_t k = o + 1; k + 1 < o + n; k++)
		if (c->s[k] == q ||
		    (c->s[k] == '\\' && !(c->lx->modes & RG_MY_NO_BACKSLASH_ESCAPES))) {
			c->bad = true;
			return;
		}
	if (++c->pdepth > MAX_PREPARE_DEPTH) {
		c->bad = true;
		return;
	}
	size_t from = c->ntoks;
	int rc = lex_range(c, c->lx, c->s, o + 1, o + n - 1);
	if (rc) {
		c->oom |= rc < 0;
		c->bad = true;
		return;
	}
	size_t to = c->ntoks;
	if (!GROW(c, match, mcap, c->ntoks)) {
		c->oom = true;
		return;
	}
	/* match parentheses of the new tokens; a ';' inside: the server refuses several
	 * statements in one prepared text */
	size_t stack = SIZE_MAX, depth = 0;
	for (size_t k = from; k < to; k++) {
		c->match[k] = NONE;
		if (c->toks[k].kind == RG_MY_TOK_SEMI && k + 1 < to) {
			c->bad = true;
			return;
		}
		if (punct(c, k, to, '(')) {
			c->match[k] = (uint32_t)(stack == SIZE_MAX ? NONE : stack);
			stack = k;
			depth++;
		} else if (punct(c, k, to, ')')) {
			if (!depth) {
				c->bad = true;
				return;
			}
			size_t open = stack;
			stack = c->match[open] == NONE ? SIZE_MAX : c->match[open];
			c->match[open] = (uint32_t)k;
			depth--;
		}
	}
	if (depth) {
		c->bad = true;
		return;
	}
	if (to > from && c->toks[to - 1].kind == RG_MY_TOK_SEMI)
		to--;
	if (to == from) {
		c->bad = true;
		return;
	}
	if (!GROW(c, dyns, dyncap, c->ndyns + 1)) {
		c->oom = true;
		return;
	}
	c->dyns[c->ndyns++] = (struct dyn){i, from, to};
	stmt(c, from, to);
	c->pdepth--;
}

/* The value after ALGORITHM = or DEFINER =: a word, name or string, CURRENT_USER[()],
 * and a user's @host (lexed as a user variable, or '@' and a name). */
static size_t skip_definer(const struct rg_myclass *c, size_t i, size_t e)
{
	if (is_name(c, i, e) || is_kind(c, i, e, RG_MY_TOK_STRING) || punct(c, i, e, '?'))
		i++; /* ('?': the string, normalized) */
	if (punct(c, i, e, '(') && punct(c, i + 1, e, ')'))
		i += 2;
	if (is_kind(c, i, e, RG_MY_TOK_USERVAR))
		i++;
	else if (punct(c, i, e, '@'))
		i += 2;
	return i;
}

/* Words a routine body starts with (a statement, RETURN, or a compound statement). */
static const char *const body_starts[] = {
    "select",  "insert",   "replace", "update",	   "delete",   "set",	     "call",
    "do",      "return",   "begin",   "with",	   "if",       "case",	     "while",
    "loop",    "repeat",   "declare", "truncate",  "drop",     "create",     "alter",
    "grant",   "revoke",   "show",    "prepare",   "execute",  "deallocate", "values",
    "table",   "load",	   "lock",    "unlock",	   "start",    "commit",     "rollback",
    "signal",  "resignal", "kill",    "flush",	   "install",  "uninstall",  "rename",
    "analyze", "optimize", "repair",  "check",	   "checksum", "explain",    "describe",
    "desc",    "handler",  "use",     "savepoint", "release",  "xa",	     "iterate",
    "leave",   "open",	   "close",   "fetch",	   "get",      "purge",	     "reset",
    "change",  "stop",	   "help",    "binlog",	   "shutdown", "cache",	     NULL};

/* CREATE FUNCTION/PROCEDURE [IF NOT EXISTS] name (params) [RETURNS type] [characteristics]
 * body, from the token after FUNCTION/PROCEDURE. */
static void routine_body(struct rg_myclass *c, size_t i, size_t e)
{
	size_t part[3], n;
	i = dotted(c, skip_if_exists(c, i, e), e, part, &n);
	if (n == 0 || n > 2 || !punct(c, i, e, '(')) {
		c->bad = true;
		return;
	}
	i = c->match[i] + 1;
	/* RETURNS type and characteristics hold no statement word but SQL in "CONTAINS SQL",
	 * "READS SQL DATA", "SQL SECURITY" and COMMENT 'text' */
	while (i < e) {
		if (kw(c, i, e, "comment") && is_kind(c, i + 1, e, RG_MY_TOK_STRING)) {
			i += 2;
			continue;
		}
		if (punct(c, i, e, '(')) {
			i = c->match[i] + 1;
			continue;
		}
		if (kw_any(c, i, e, body_starts) && !(i > 0 && kw(c, i - 1, e, "returns")))
			break;
		i++;
	}
	if (i >= e) {
		c->bad = true;
		return;
	}
	if (kw(c, i, e, "return"))
		walk(c, i + 1, e, W_EXPR, 0, NULL);
	else
		stmt(c, i, e);
}

static void create_stmt(struct rg_myclass *c, size_t i, size_t e)
{
	size_t next;
	c->ops |= OPB(CREATE);
	i++;
	if (kw(c, i, e, "or") && kw(c, i + 1, e, "replace"))
		i += 2;
	/* ALGORITHM = x, DEFINER = user, SQL SECURITY x, TEMPORARY, AGGREGATE, ... */
	for (;;) {
		if (kw_any(c, i, e, WORDS("algorithm", "definer")) && punct(c, i + 1, e, '=')) {
			i = skip_definer(c, i + 2, e);
			continue;
		}
		if (kw(c, i, e, "sql") && kw(c, i + 1, e, "security")) {
			i += 3;
			continue;
		}
		if (kw_any(c, i, e,
			   WORDS("temporary", "aggregate", "online", "offline", "unique",
				 "fulltext", "spatial", "global", "undo", "external"))) {
			i++;
			continue;
		}
		break;
	}
	if (kw_any(c, i, e, WORDS("table", "sequence"))) {
		i = skip_if_exists(c, i + 1, e);
		table_at(c, i, e, RG_ACCESS_WRITE, &next);
		if (next == i) {
			c->bad = true;
			return;
		}
		if (kw(c, next, e, "like") ||
		    (punct(c, next, e, '(') && kw(c, next + 1, e, "like"))) {
			size_t l = kw(c, next, e, "like") ? next + 1 : next + 2;
			size_t n2;
			table_at(c, l, e, RG_ACCESS_READ, &n2);
			return;
		}
		walk(c, next, e, W_EXPR, 0, NULL);
	} else if (kw(c, i, e, "view")) {
		i = skip_if_exists(c, i + 1, e);
		table_at(c, i, e, RG_ACCESS_WRITE, &next);
		walk(c, next, e, W_EXPR, 0, NULL);
	} else if (kw(c, i, e, "index")) {
		size_t on = find_kw(c, i, e, "on");
		table_at(c, on + 1, e, RG_ACCESS_WRITE, &next);
		walk(c, next, e, W_EXPR, 0, NULL);
	} else if (kw_any(c, i, e, WORDS("user", "role"))) {
		c->ops |= OPB(CREATE_ROLE);
	} else if (kw_any(c, i, e, WORDS("function", "procedure", "package"))) {
		/* a loadable function (SONAME) is a plugin; otherwise the body, one
		 * statement or RETURN expr, is classified (a compound body is not) */
		c->ops |= OPB(CREATE_FUNCTION);
		if (find_kw(c, i, e, "soname") != e)
			c->ops |= OPB(INSTALL_PLUGIN);
		else if (!kw(c, i, e, "package"))
			routine_body(c, i + 1, e);
	} else if (kw(c, i, e, "trigger")) {
		/* CREATE TRIGGER t {BEFORE|AFTER} ev ON tbl FOR EACH ROW [FOLLOWS|PRECEDES x]
		 * body: the body runs on every write of tbl, so it is classified */
		c->ops |= OPB(CREATE_FUNCTION);
		size_t on = find_kw(c, i, e, "on");
		table_at(c, on + 1, e, RG_ACCESS_WRITE, &next);
		size_t row = find_kw(c, next, e, "row");
		if (row == e || !kw(c, row - 1, e, "each")) {
			c->bad = true;
			return;
		}
		row++;
		if (kw_any(c, row, e, WORDS("follows", "precedes"))) {
			size_t part[3], n;
			row = dotted(c, row + 1, e, part, &n);
		}
		stmt(c, row, e);
	} else if (kw(c, i, e, "event")) {
		c->ops |= OPB(CREATE_FUNCTION);
		size_t d = find_kw(c, i, e, "do");
		if (d == e) {
			c->bad = true;
			return;
		}
		stmt(c, d + 1, e);
	} else if (kw_any(
		       c, i, e,
		       WORDS("database", "schema", "server", "tablespace", "logfile", "spatial"))) {
		/* the object alone */
	} else {
		c->bad = true;
	}
}

static void alter_stmt(struct rg_myclass *c, size_t i, size_t e)
{
	size_t next;
	c->ops |= OPB(ALTER);
	i = skip_words(c, i + 1, e, WORDS("online", "offline", "ignore"));
	for (;;) {
		if (kw_any(c, i, e, WORDS("algorithm", "definer")) && punct(c, i + 1, e, '=')) {
			i = skip_definer(c, i + 2, e);
			continue;
		}
		if (kw(c, i, e, "sql") && kw(c, i + 1, e, "security")) {
			i += 3;
			continue;
		}
		break;
	}
	if (kw_any(c, i, e, WORDS("table", "sequence"))) {
		i = skip_if_exists(c, i + 1, e);
		table_at(c, i, e, RG_ACCESS_WRITE, &next);
		if (next == i) {
			c->bad = true;
			return;
		}
		walk(c, next, e, W_EXPR, 0, NULL);
	} else if (kw(c, i, e, "view")) {
		table_at(c, i + 1, e, RG_ACCESS_WRITE, &next);
		walk(c, next, e, W_EXPR, 0, NULL);
	} else if (kw_any(c, i, e, WORDS("user", "role"))) {
		c->ops |= OPB(ALTER_ROLE);
	} else if (kw(c, i, e, "event")) {
		size_t d = find_kw(c, i, e, "do");
		if (d != e)
			stmt(c, d + 1, e);
	} else if (!kw_any(c, i, e,
			   WORDS("database", "schema", "function", "procedure", "server",
				 "tablespace", "logfile", "instance", "package"))) {
		c->bad = true;
	}
}

static void drop_stmt(struct rg_myclass *c, size_t i, size_t e)
{
	size_t next;
	i = skip_words(c, i + 1, e, WORDS("temporary"));
	if (kw(c, i, e, "prepare")) {
		c->ops |= OPB(DEALLOCATE);
		return;
	}
	c->ops |= OPB(DROP);
	if (kw_any(c, i, e, WORDS("table", "tables", "view", "sequence"))) {
		i = skip_if_exists(c, i + 1, e);
		next = table_list(c, i, e, RG_ACCESS_WRITE);
		if (next == i)
			c->bad = true;
	} else if (kw(c, i, e, "index")) {
		size_t on = find_kw(c, i, e, "on");
		if (on != e)
			table_at(c, on + 1, e, RG_ACCESS_WRITE, &next);
	} else if (kw_any(c, i, e, WORDS("user", "role"))) {
		c->ops |= OPB(DROP_ROLE);
	} else if (!kw_any(c, i, e,
			   WORDS("database", "schema", "function", "procedure", "trigger", "event",
				 "server", "tablespace", "logfile", "package"))) {
		c->bad = true;
	}
}

/* EXPLAIN/DESCRIBE/DESC/ANALYZE: of a statement (explain + its facts) or of a table. */
static void explain_stmt(struct rg_myclass *c, size_t i, size_t e, bool analyze)
{
	size_t next;
	size_t k = i + 1;
	for (;;) {
		if (kw_any(c, k, e, WORDS("extended", "partitions", "analyze"))) {
			k++;
		} else if (kw(c, k, e, "format") && punct(c, k + 1, e, '=')) {
			k += 3;
		} else {
			break;
		}
	}
	if (kw(c, k, e, "for") && kw(c, k + 1, e, "connection")) {
		c->ops |= OPB(EXPLAIN);
		return;
	}
	if (punct(c, k, e, '(') ||
	    kw_any(c, k, e,
		   WORDS("select", "with", "insert", "replace", "update", "delete", "values")) ||
	    (!analyze && kw(c, k, e, "table"))) {
		c->ops |= OPB(EXPLAIN);
		stmt(c, k, e);
		return;
	}
	if (analyze) {
		/* ANALYZE [NO_WRITE_TO_BINLOG|LOCAL] TABLE t [, ...] ... */
		c->ops |= OPB(VACUUM);
		k = skip_words(c, k, e, WORDS("no_write_to_binlog", "local"));
		if (!kw(c, k, e, "table")) {
			c->bad = true;
			return;
		}
		table_list(c, k + 1, e, RG_ACCESS_READ);
		return;
	}
	c->ops |= OPB(SHOW);
	table_at(c, k, e, RG_ACCESS_READ, &next);
	if (next == k)
		c->bad = true;
}

static void lock_stmt(struct rg_myclass *c, size_t i, size_t e)
{
	c->ops |= OPB(LOCK);
	if (!kw_any(c, i + 1, e, WORDS("table", "tables")))
		return;
	i += 2;
	while (i < e) {
		size_t next;
		table_at(c, i, e, RG_ACCESS_WRITE, &next);
		if (next == i) {
			c->bad = true;
			return;
		}
		while (next < e && !punct(c, next, e, ','))
			next++;
		i = next + 1;
	}
}

static void load_stmt(struct rg_myclass *c, size_t i, size_t e)
{
	size_t k = i + 1, next;
	if (!kw_any(c, k, e, WORDS("data", "xml"))) {
		c->bad = true; /* LOAD INDEX INTO CACHE and the like */
		return;
	}
	k = skip_words(c, k + 1, e, WORDS("low_priority", "concurrent"));
	bool local = kw(c, k, e, "local");
	if (local)
		k++;
	if (!kw(c, k, e, "infile")) {
		c->bad = true;
		return;
	}
	c->ops |= local ? OPB(COPY_FROM_STDIN) : OPB(COPY_FROM_FILE);
	size_t into = find_kw(c, k, e, "into");
	if (into == e || !kw(c, into + 1, e, "table")) {
		c->bad = true;
		return;
	}
	table_at(c, into + 2, e, RG_ACCESS_WRITE, &next);
	if (next == into + 2) {
		c->bad = true;
		return;
	}
	walk(c, next, e, W_EXPR, 0, NULL);
}

static void maintenance_stmt(struct rg_myclass *c, size_t i, size_t e, uint8_t access)
{
	c->ops |= OPB(VACUUM);
	size_t k = skip_words(c, i + 1, e, WORDS("no_write_to_binlog", "local"));
	if (!kw_any(c, k, e, WORDS("table", "tables"))) {
		c->bad = true;
		return;
	}
	if (table_list(c, k + 1, e, access) == k + 1)
		c->bad = true;
}

/* SHOW: the table of SHOW [FULL|EXTENDED] COLUMNS/FIELDS/INDEX/INDEXES/KEYS FROM|IN t
 * [FROM|IN db] and SHOW CREATE TABLE|VIEW|SEQUENCE t is read (its definition); LIKE and
 * WHERE expressions are walked for calls. */
static void show_stmt(struct rg_myclass *c, size_t i, size_t e)
{
	size_t next, k = skip_words(c, i + 1, e, WORDS("full", "extended"));
	c->ops |= OPB(SHOW);
	if (kw_any(c, k, e, WORDS("columns", "fields", "index", "indexes", "keys")) &&
	    kw_any(c, k + 1, e, WORDS("from", "in"))) {
		size_t t = k + 2, part[3], n;
		next = dotted(c, t, e, part, &n);
		if (n == 1 && kw_any(c, next, e, WORDS("from", "in")) && is_name(c, next + 1, e)) {
			/* SHOW COLUMNS FROM t FROM db: db.t */
			uint32_t schema = ident_put(c, next + 1, false);
			uint32_t name = ident_put(c, t, false);
			name_add(c, &c->tabs, &c->ntabs, &c->tabcap, schema, name, RG_ACCESS_READ);
			next += 2;
		} else {
			table_at(c, t, e, RG_ACCESS_READ, &next);
		}
		walk(c, next, e, W_EXPR, 0, NULL);
		return;
	}
	if (kw(c, k, e, "create") && kw_any(c, k + 1, e, WORDS("table", "view", "sequence"))) {
		table_at(c, k + 2, e, RG_ACCESS_READ, &next);
		return;
	}
	walk(c, i + 1, e, W_EXPR, 0, NULL);
}

/* One statement, tokens [i, e), e excluded. */
static void stmt(struct rg_myclass *c, size_t i, size_t e)
{
	size_t next;
	if (i >= e) {
		c->bad = true;
		return;
	}
	if (!enter(c))
		return;
	if (punct(c, i, e, '(')) {
		if (!is_query_start(c, i + 1, e))
			c->bad = true;
		else
			walk(c, i, e, W_QUERY, RG_ACCESS_READ, NULL);
		goto out;
	}
	if (!is_kind(c, i, e, RG_MY_TOK_WORD)) {
		c->bad = true;
		goto out;
	}
	if (kw_any(c, i, e, WORDS("select", "values"))) {
		c->ops |= OPB(SELECT);
		walk(c, i, e, W_QUERY, RG_ACCESS_READ, NULL);
	} else if (kw(c, i, e, "with")) {
		size_t k = with_list(c, i, e);
		if (!c->bad)
			stmt(c, k, e);
	} else if (kw(c, i, e, "table")) {
		c->ops |= OPB(SELECT);
		table_at(c, i + 1, e, RG_ACCESS_READ, &next);
		if (next == i + 1)
			c->bad = true;
		else
			walk(c, next, e, W_QUERY, RG_ACCESS_READ, NULL);
	} else if (kw_any(c, i, e, WORDS("insert", "replace"))) {
		insert_stmt(c, i, e);
	} else if (kw(c, i, e, "update")) {
		update_stmt(c, i, e);
	} else if (kw(c, i, e, "delete")) {
		delete_stmt(c, i, e);
	} else if (kw(c, i, e, "drop")) {
		drop_stmt(c, i, e);
	} else if (kw(c, i, e, "truncate")) {
		c->ops |= OPB(TRUNCATE);
		size_t k = kw(c, i + 1, e, "table") ? i + 2 : i + 1;
		table_at(c, k, e, RG_ACCESS_WRITE, &next);
		if (next == k)
			c->bad = true;
	} else if (kw(c, i, e, "alter")) {
		alter_stmt(c, i, e);
	} else if (kw(c, i, e, "create")) {
		create_stmt(c, i, e);
	} else if (kw(c, i, e, "rename")) {
		c->ops |= OPB(ALTER);
		if (kw_any(c, i + 1, e, WORDS("user", "role"))) {
			c->ops |= OPB(ALTER_ROLE);
		} else if (kw_any(c, i + 1, e, WORDS("table", "tables"))) {
			for (size_t k = i + 2; k < e; k++)
				if (is_name(c, k, e) && !kw(c, k, e, "to")) {
					table_at(c, k, e, RG_ACCESS_WRITE, &next);
					k = next - 1;
				}
		} else {
			c->bad = true;
		}
	} else if (kw(c, i, e, "grant")) {
		c->ops |= OPB(GRANT);
	} else if (kw(c, i, e, "revoke")) {
		c->ops |= OPB(REVOKE);
	} else if (kw(c, i, e, "set")) {
		set_stmt(c, i, e);
	} else if (kw(c, i, e, "show")) {
		show_stmt(c, i, e);
	} else if (kw_any(c, i, e, WORDS("explain", "describe", "desc"))) {
		explain_stmt(c, i, e, false);
	} else if (kw(c, i, e, "analyze")) {
		explain_stmt(c, i, e, true);
	} else if (kw_any(c, i, e, WORDS("optimize", "repair"))) {
		maintenance_stmt(c, i, e, RG_ACCESS_WRITE);
	} else if (kw_any(c, i, e, WORDS("check", "checksum"))) {
		maintenance_stmt(c, i, e, RG_ACCESS_READ);
	} else if (kw(c, i, e, "call")) {
		size_t part[3], n;
		c->ops |= OPB(CALL);
		next = dotted(c, i + 1, e, part, &n);
		if (n == 0 || n > 2) {
			c->bad = true;
		} else {
			call_at(c, part, n);
			walk(c, next, e, W_EXPR, 0, NULL);
		}
	} else if (kw(c, i, e, "prepare")) {
		c->ops |= OPB(PREPARE);
		if (!is_name(c, i + 1, e) || !kw(c, i + 2, e, "from"))
			c->bad = true;
		else
			dynamic_text(c, i + 3, e);
	} else if (kw(c, i, e, "execute")) {
		c->ops |= OPB(EXECUTE);
		if (kw(c, i + 1, e, "immediate"))
			dynamic_text(c, i + 2, e);
		else
			walk(c, i + 1, e, W_EXPR, 0, NULL);
	} else if (kw(c, i, e, "deallocate")) {
		c->ops |= OPB(DEALLOCATE);
	} else if (kw(c, i, e, "begin")) {
		/* BEGIN [WORK] starts a transaction; BEGIN NOT ATOMIC opens a compound
		 * statement, which is not classified */
		if (i + 1 < e && !kw(c, i + 1, e, "work"))
			c->bad = true;
		else
			c->ops |= OPB(TRANSACTION);
	} else if (kw(c, i, e, "start")) {
		if (kw(c, i + 1, e, "transaction"))
			c->ops |= OPB(TRANSACTION);
		else
			c->bad = true;
	} else if (kw_any(c, i, e, WORDS("commit", "rollback", "savepoint", "release", "xa"))) {
		c->ops |= OPB(TRANSACTION);
	} else if (kw(c, i, e, "lock")) {
		lock_stmt(c, i, e);
	} else if (kw(c, i, e, "unlock")) {
		c->ops |= OPB(LOCK);
	} else if (kw(c, i, e, "use")) {
		c->ops |= OPB(USE);
	} else if (kw(c, i, e, "kill")) {
		c->ops |= OPB(KILL);
		walk(c, i + 1, e, W_EXPR, 0, NULL);
	} else if (kw(c, i, e, "flush")) {
		c->ops |= OPB(FLUSH);
	} else if (kw_any(c, i, e, WORDS("install", "uninstall"))) {
		c->ops |= OPB(INSTALL_PLUGIN);
	} else if (kw(c, i, e, "load")) {
		load_stmt(c, i, e);
	} else if (kw(c, i, e, "handler")) {
		c->ops |= OPB(SELECT);
		table_at(c, i + 1, e, RG_ACCESS_READ, &next);
		if (next == i + 1)
			c->bad = true;
		else
			walk(c, next, e, W_EXPR, 0, NULL);
	} else if (kw(c, i, e, "do")) {
		c->ops |= OPB(SELECT);
		walk(c, i + 1, e, W_EXPR, 0, NULL);
	} else {
		c->bad = true;
	}
out:
	c->depth--;
}

/* -------------------------------------------------------- normalization */

static bool norm_put(struct rg_myclass *c, const char *p, size_t n)
{
	if (!GROW(c, norm, ncap, c->nlen + n + 1)) {
		c->oom = true;
		return false;
	}
	memcpy(c->norm + c->nlen, p, n);
	c->nlen += n;
	c->norm[c->nlen] = 0;
	return true;
}

/* Append the normalized text of tokens [i, e) to c->norm. */
static void normalize(struct rg_myclass *c, size_t i, size_t e)
{
	for (size_t k = i; k < e && !c->oom; k++) {
		const struct rg_my_tok *t = &c->toks[k];
		if (k > i) {
			const struct rg_my_tok *p = &c->toks[k - 1];
			bool dot = punct(c, k, e, '.') || punct(c, k - 1, e, '.');
			/* operators of two or three characters stay whole (>=, <>, <=>, !=, <<,
			 * ||, &&): never -- or / * (a comment once joined) */
			bool op = p->kind == RG_MY_TOK_PUNCT && t->kind == RG_MY_TOK_PUNCT &&
				  p->len == 1 && t->len == 1 && c->s[p->off] && c->s[t->off] &&
				  ((strchr("<>!=", c->s[p->off]) && strchr("<>=", c->s[t->off])) ||
				   (c->s[p->off] == '|' && c->s[t->off] == '|') ||
				   (c->s[p->off] == '&' && c->s[t->off] == '&'));
			if (!((dot || op) && p->off + p->len == t->off))
				norm_put(c, " ", 1);
		}
		size_t d = 0;
		while (d < c->ndyns && c->dyns[d].tok != k)
			d++;
		if (d < c->ndyns) {
			/* a prepared text: its own normalized form, quoted with a quote it
			 * does not hold (quotes survive only inside `names`), so that it stays
			 * one plain literal; "?" if it holds both */
			size_t at0 = c->nlen;
			norm_put(c, "'", 1);
			normalize(c, c->dyns[d].from, c->dyns[d].to);
			if (c->oom)
				return;
			char *body = c->norm + at0 + 1;
			size_t blen = c->nlen - at0 - 1;
			bool sq = memchr(body, '\'', blen), dq = memchr(body, '"', blen);
			if (sq && dq) {
				c->nlen = at0;
				norm_put(c, "?", 1);
			} else {
				c->norm[at0] = sq ? '"' : '\'';
				norm_put(c, sq ? "\"" : "'", 1);
			}
		} else if ((t->kind == RG_MY_TOK_STRING && !safe_charset_value(c, k, e)) ||
			   t->kind == RG_MY_TOK_LITERAL) {
			/* (a string naming a safe character set stays: SET NAMES 'utf8mb4'
			 * must keep meaning what it meant) */
			norm_put(c, "?", 1);
		} else if (t->kind == RG_MY_TOK_QIDENT) {
			const char *p = c->s + t->off;
			char q = p[0];
			norm_put(c, "`", 1);
			for (size_t j = 1; j + 1 < t->len; j++) {
				if (p[j] == q && p[j + 1] == q)
					j++;
				norm_put(c, p[j] == '`' ? "``" : p + j, p[j] == '`' ? 2 : 1);
			}
			norm_put(c, "`", 1);
		} else if (t->kind == RG_MY_TOK_USERVAR && t->len > 2 &&
			   (c->s[t->off + 1] == '\'' || c->s[t->off + 1] == '"' ||
			    c->s[t->off + 1] == '`')) {
			/* @'v', @"v", @`v`: one spelling that lexes alike in every mode */
			const char *p = c->s + t->off + 2;
			bool bq = p[-1] == '`'; /* already doubles its backticks */
			norm_put(c, "@`", 2);
			for (size_t j = 0; j + 3 < t->len; j++)
				norm_put(c,
					 p[j] == '`' && !bq ? "``"
					 : p[j]		    ? p + j
							    : "?",
					 p[j] == '`' && !bq ? 2 : 1);
			norm_put(c, "`", 1);
		} else {
			norm_put(c, c->s + t->off, t->len);
		}
	}
}

/* ------------------------------------------------------------------ run */

static int export_names(struct rg_myclass *c, const struct pname *v, size_t n,
			struct rg_sql_name **out, size_t *cap)
{
	if (!grow((void **)out, cap, n ? n : 1, sizeof(**out)))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		(*out)[i] =
		    (struct rg_sql_name){astr(c, v[i].schema), astr(c, v[i].name), v[i].access};
	return 0;
}

/* Match parentheses of tokens [0, ntoks); false if unbalanced within a statement. */
static bool match_parens(struct rg_myclass *c)
{
	if (!GROW(c, match, mcap, c->ntoks ? c->ntoks : 1)) {
		c->oom = true;
		return false;
	}
	size_t stack = SIZE_MAX, depth = 0;
	for (size_t k = 0; k < c->ntoks; k++) {
		c->match[k] = NONE;
		if (c->toks[k].kind == RG_MY_TOK_SEMI) {
			if (depth)
				return false;
		} else if (punct(c, k, c->ntoks, '(')) {
			c->match[k] = (uint32_t)(stack == SIZE_MAX ? NONE : stack);
			stack = k;
			depth++;
		} else if (punct(c, k, c->ntoks, ')')) {
			if (!depth)
				return false;
			size_t open = stack;
			stack = c->match[open] == NONE ? SIZE_MAX : c->match[open];
			c->match[open] = (uint32_t)k;
			depth--;
		}
	}
	return depth == 0;
}

static void unparseable(struct rg_sql_facts *out)
{
	*out = (struct rg_sql_facts){.status = RG_SQL_UNPARSEABLE, .ops = OPB(UNKNOWN)};
}

int rg_myclass_run(struct rg_myclass *c, const struct rg_my_lexing *lx, const char *sql, size_t len,
		   unsigned flags, struct rg_sql_facts *out)
{
	const struct rg_my_tok *toks;
	size_t ntoks;
	int rc;

	memset(out, 0, sizeof(*out));
	c->s = sql;
	c->lx = lx;
	c->alen = c->ntabs = c->nfuncs = c->nctes = c->naliases = c->nlen = c->ndyns = 0;
	c->ops = c->nowhere = 0;
	c->depth = c->pdepth = 0;
	c->bad = c->oom = false;
	rc = rg_my_lex(c, lx, sql, len, &toks, &ntoks);
	if (rc == -ENOMEM)
		return rc;
	if (rc) {
		unparseable(out);
		return 0;
	}
	if (!match_parens(c)) {
		if (c->oom)
			return -ENOMEM;
		unparseable(out);
		return 0;
	}
	/* statements: runs of tokens between ';' (the PREPARE texts are appended after) */
	size_t n = ntoks, nst = 0, start = 0;
	for (size_t k = 0; k <= n && !c->bad && !c->oom; k++) {
		if (k < n && c->toks[k].kind != RG_MY_TOK_SEMI)
			continue;
		if (k > start) {
			size_t nc = c->nctes, na = c->naliases;
			uint64_t before = c->ops;
			c->ops = 0;
			stmt(c, start, k);
			/* a statement that names no operation was not understood */
			c->bad |= c->ops == 0;
			c->ops |= before;
			c->nctes = nc;
			c->naliases = na;
			nst++;
		}
		start = k + 1;
	}
	if (c->oom)
		return -ENOMEM;
	if (c->bad) {
		unparseable(out);
		return 0;
	}
	out->status = RG_SQL_OK;
	out->nstmts = (unsigned)nst;
	if (flags & RG_SQLCLASS_VALIDATE_ONLY)
		return 0;
	out->ops = c->ops;
	out->ops_without_where = c->nowhere & c->ops;
	if (flags & (RG_SQLCLASS_FINGERPRINT | RG_SQLCLASS_NORMALIZE)) {
		if (!grow((void **)&c->fps, &c->fpcap, nst ? nst : 1, sizeof(*c->fps)))
			return -ENOMEM;
		size_t sn = 0;
		start = 0;
		for (size_t k = 0; k <= n; k++) {
			if (k < n && c->toks[k].kind != RG_MY_TOK_SEMI)
				continue;
			if (k > start) {
				size_t from = c->nlen;
				if (sn && (flags & RG_SQLCLASS_NORMALIZE))
					norm_put(c, "; ", 2);
				else if (!(flags & RG_SQLCLASS_NORMALIZE))
					c->nlen = 0;
				from = c->nlen;
				normalize(c, start, k);
				if (c->oom)
					return -ENOMEM;
				c->fps[sn++] = XXH3_64bits(c->norm + from, c->nlen - from);
			}
			start = k + 1;
		}
		if (flags & RG_SQLCLASS_FINGERPRINT) {
			out->fingerprints = c->fps;
			out->nfingerprints = sn;
		}
		if (flags & RG_SQLCLASS_NORMALIZE) {
			if (!norm_put(c, "", 0))
				return -ENOMEM;
			out->normalized = c->norm;
			out->normalized_len = c->nlen;
		}
	}
	if (export_names(c, c->tabs, c->ntabs, &c->otabs, &c->otabcap) ||
	    export_names(c, c->funcs, c->nfuncs, &c->ofuncs, &c->ofunccap))
		return -ENOMEM;
	out->tables = c->otabs;
	out->ntables = c->ntabs;
	out->functions = c->ofuncs;
	out->nfunctions = c->nfuncs;
	return 0;
}

/* ------------------------------------------------------------- session */

bool rg_myclass_changes_lexing(const struct rg_sql_facts *f)
{
	return f->status != RG_SQL_OK || (f->ops & OPB(SET_LEXING));
}

int rg_my_sql_mode_flags(const char *mode, size_t len, unsigned *flags)
{
	*flags = 0;
	size_t i = 0;
	while (i < len) {
		size_t j = i;
		while (j < len && mode[j] != ',')
			j++;
		size_t n = j - i;
		const char *w = mode + i;
		while (n && (*w == ' ' || *w == '\'')) /* tolerate quotes and spaces */
			w++, n--;
		while (n && (w[n - 1] == ' ' || w[n - 1] == '\''))
			n--;
#define IS(lit) (n == sizeof(lit) - 1 && strncasecmp(w, lit, n) == 0)
		if (IS("ANSI_QUOTES") || IS("ANSI"))
			*flags |= RG_MY_ANSI_QUOTES;
		else if (IS("NO_BACKSLASH_ESCAPES"))
			*flags |= RG_MY_NO_BACKSLASH_ESCAPES;
		else if (IS("DB2") || IS("POSTGRESQL") || IS("MAXDB")) /* include ANSI_QUOTES */
			*flags |= RG_MY_ANSI_QUOTES;
		else if (IS("ORACLE") || IS("MSSQL"))
			return -ENOTSUP;
#undef IS
		i = j + 1;
	}
	return 0;
}

bool rg_my_charset_safe(const char *name)
{
	static const char *const safe[] = {"utf8mb4", "utf8mb3", "utf8", "latin1",
					   "ascii",   "binary",	 NULL};
	for (const char *const *s = safe; *s; s++)
		if (strcasecmp(name, *s) == 0)
			return true;
	return false;
}
