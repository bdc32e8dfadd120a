/*
 * lexing: does a statement change a setting that alters how the server lexes later text?
 *
 * The classifier only means something if it reads a statement the way the server will.
 * PostgreSQL lets a session change that: client_encoding (SET client_encoding, SET NAMES,
 * set_config(), UPDATE pg_settings) to an encoding where a multibyte character swallows a
 * backslash or a quote (SJIS, BIG5, GBK, GB18030, UHC), and standard_conforming_strings = off,
 * which makes backslash an escape inside '...'. backslash_quote and escape_string_warning
 * travel with them (they decide whether \' is accepted and whether it warns) and are treated
 * the same way. The gateway pins client_encoding = UTF8 and standard_conforming_strings = on
 * at login (docs/security.md); this file finds the statements that would undo the pin, so
 * sqlclass reports them as RG_OP_SET_LEXING.
 *
 * Called only for strings whose facts already show a SET, a set_config() call or a write to
 * pg_settings (rare), so it may afford a second parse and a jansson walk of the JSON tree.
 * Fails closed: anything it cannot read (a parse or JSON error, a non-constant setting name or
 * value) counts as a change. Setting a pinned value to itself (client_encoding 'UTF8',
 * standard_conforming_strings on) and RESET / SET ... TO DEFAULT (back to the login's pinned
 * value) are not changes.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <pg_query.h>

#include "lexing.h"
#include "sqlclass.h"

enum lexvar {
	LV_NONE = 0,
	LV_CLIENT_ENCODING,
	LV_STANDARD_CONFORMING,
	LV_OTHER, /* backslash_quote, escape_string_warning: any new value is a change */
};

/* GUC names are case-insensitive. */
static enum lexvar lexvar_of(const char *name)
{
	if (!name)
		return LV_NONE;
	if (!strcasecmp(name, "client_encoding"))
		return LV_CLIENT_ENCODING;
	if (!strcasecmp(name, "standard_conforming_strings"))
		return LV_STANDARD_CONFORMING;
	if (!strcasecmp(name, "backslash_quote") || !strcasecmp(name, "escape_string_warning"))
		return LV_OTHER;
	return LV_NONE;
}

/* The constant of {"A_Const": {...}}: a string, an integer or a boolean. */
struct konst {
	enum { K_NONE, K_STR, K_INT, K_BOOL } kind;
	const char *s;
	json_int_t i;
	bool b;
};

static struct konst const_of(json_t *node)
{
	struct konst k = {.kind = K_NONE};
	json_t *ac = json_object_get(node, "A_Const"), *v;

	if (!json_is_object(ac))
		return k;
	if ((v = json_object_get(ac, "sval"))) {
		v = json_object_get(v, "sval");
		/* an empty string is printed as {"sval": {}} */
		k.s = json_is_string(v) ? json_string_value(v) : "";
		k.kind = K_STR;
	} else if ((v = json_object_get(ac, "ival"))) {
		v = json_object_get(v, "ival");
		k.i = json_is_integer(v) ? json_integer_value(v) : 0; /* 0 is omitted */
		k.kind = K_INT;
	} else if ((v = json_object_get(ac, "boolval"))) {
		v = json_object_get(v, "boolval");
		k.b = json_is_true(v);
		k.kind = K_BOOL;
	}
	return k;
}

bool rg_sqlclass_encoding_is_utf8(const char *name)
{
	char n[16];
	size_t j = 0;

	/* as PostgreSQL's pg_char_to_encoding: case and non-alphanumerics do not matter */
	for (; *name; name++) {
		if (!isalnum((unsigned char)*name))
			continue;
		if (j + 1 >= sizeof(n))
			return false;
		n[j++] = (char)tolower((unsigned char)*name);
	}
	n[j] = 0;
	return !strcmp(n, "utf8") || !strcmp(n, "unicode");
}

bool rg_sqlclass_setting_is_on(const char *v)
{
	return !strcasecmp(v, "on") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") ||
	       !strcmp(v, "1");
}

static bool is_true_value(const struct konst *k)
{
	if (k->kind == K_BOOL)
		return k->b;
	if (k->kind == K_INT)
		return k->i == 1;
	return k->kind == K_STR && rg_sqlclass_setting_is_on(k->s);
}

/* Setting v to the value node val: true when that leaves the pinned lexing unchanged. */
static bool keeps_pin(enum lexvar v, json_t *val)
{
	struct konst k = const_of(val);

	switch (v) {
	case LV_NONE:
		return true;
	case LV_CLIENT_ENCODING:
		return k.kind == K_STR && rg_sqlclass_encoding_is_utf8(k.s);
	case LV_STANDARD_CONFORMING:
		return is_true_value(&k);
	case LV_OTHER:
		return false;
	}
	return false;
}

/* {"kind": ..., "name": ..., "args": [...]} of a VariableSetStmt. */
static bool varset_changes(json_t *vs)
{
	const char *kind = json_string_value(json_object_get(vs, "kind"));
	enum lexvar v = lexvar_of(json_string_value(json_object_get(vs, "name")));
	json_t *args = json_object_get(vs, "args");

	if (v == LV_NONE)
		return false;
	if (!kind)
		return true;
	/* back to the session's reset value, which is the login's pinned value */
	if (!strcmp(kind, "VAR_SET_DEFAULT") || !strcmp(kind, "VAR_RESET") ||
	    !strcmp(kind, "VAR_RESET_ALL"))
		return false;
	if (strcmp(kind, "VAR_SET_VALUE") != 0 || json_array_size(args) != 1)
		return true;
	return !keeps_pin(v, json_array_get(args, 0));
}

/* The last String of a name list ({"String": {"sval": ...}} elements). */
static const char *last_name(json_t *list)
{
	size_t n = json_array_size(list);
	json_t *s;

	if (!n)
		return NULL;
	s = json_object_get(json_array_get(list, n - 1), "String");
	return json_string_value(json_object_get(s, "sval"));
}

/* A ColumnRef of the single unqualified field "name". */
static bool is_name_column(json_t *node)
{
	json_t *f = json_object_get(json_object_get(node, "ColumnRef"), "fields");

	return json_array_size(f) == 1 && last_name(f) && !strcmp(last_name(f), "name");
}

/*
 * The one setting name a SELECT pins down with `FROM pg_settings WHERE name = 'x'` (pg_dump
 * sets restrict_nonsystem_relation_kind this way: SELECT set_config(name, ...) FROM
 * pg_settings WHERE name = '...'), or NULL. Only that exact shape: one relation named
 * pg_settings, no alias, and a WHERE that is nothing but the equality; then an unqualified
 * `name` can only be 'x' (a user-defined = on a look-alike table is left to the
 * ParameterStatus check, docs/security.md).
 */
static const char *select_pins_name(json_t *sel)
{
	json_t *from = json_object_get(sel, "fromClause"), *rv, *w, *op;
	const char *rel, *schema;
	struct konst k;

	if (json_array_size(from) != 1)
		return NULL;
	rv = json_object_get(json_array_get(from, 0), "RangeVar");
	rel = json_string_value(json_object_get(rv, "relname"));
	schema = json_string_value(json_object_get(rv, "schemaname"));
	if (!rel || strcmp(rel, "pg_settings") || (schema && strcmp(schema, "pg_catalog")) ||
	    json_object_get(rv, "alias"))
		return NULL;
	w = json_object_get(json_object_get(sel, "whereClause"), "A_Expr");
	op = json_object_get(w, "name");
	if (!w || strcmp(json_string_value(json_object_get(w, "kind")) ?: "", "AEXPR_OP") ||
	    json_array_size(op) != 1 || strcmp(last_name(op) ?: "", "="))
		return NULL;
	if (is_name_column(json_object_get(w, "lexpr")))
		k = const_of(json_object_get(w, "rexpr"));
	else if (is_name_column(json_object_get(w, "rexpr")))
		k = const_of(json_object_get(w, "lexpr"));
	else
		return NULL;
	return k.kind == K_STR ? k.s : NULL;
}

/* {"funcname": [...], "args": [...]} of a FuncCall. Only set_config() matters (any schema:
 * a look-alike elsewhere is refused too, which is the safe side). pinned: the setting name
 * the enclosing SELECT pins `name` to, or NULL. */
static bool funccall_changes(json_t *fc, const char *pinned)
{
	const char *fn = last_name(json_object_get(fc, "funcname"));
	json_t *args = json_object_get(fc, "args");
	struct konst name;

	if (!fn || strcmp(fn, "set_config") != 0)
		return false;
	if (json_array_size(args) < 2)
		return true;
	name = const_of(json_array_get(args, 0));
	if (name.kind != K_STR && pinned && is_name_column(json_array_get(args, 0))) {
		name.kind = K_STR;
		name.s = pinned;
	}
	if (name.kind != K_STR)
		return true; /* computed at run time: could be any setting */
	return !keeps_pin(lexvar_of(name.s), json_array_get(args, 1));
}

static bool walk(json_t *j, const char *pinned, unsigned depth)
{
	const char *key;
	json_t *v;
	size_t i;

	if (depth > 4096)
		return true;
	if (json_is_array(j)) {
		json_array_foreach(j, i, v)
		{
			if (walk(v, pinned, depth + 1))
				return true;
		}
		return false;
	}
	if (!json_is_object(j))
		return false;
	json_object_foreach(j, key, v)
	{
		const char *p = pinned;

		if (!strcmp(key, "VariableSetStmt") && varset_changes(v))
			return true;
		if (!strcmp(key, "FuncCall") && funccall_changes(v, pinned))
			return true;
		if (!strcmp(key, "SelectStmt"))
			p = select_pins_name(v); /* each SELECT decides for itself */
		if (walk(v, p, depth + 1))
			return true;
	}
	return false;
}

bool rg_sqllex_changes(const char *sql)
{
	PgQueryParseResult r = pg_query_parse(sql);
	json_t *root;
	bool changes = true;

	if (r.error || !r.parse_tree)
		goto out;
	/* jansson's own nesting limit applies: a tree too deep to load counts as a change */
	root = json_loads(r.parse_tree, JSON_DECODE_ANY, NULL);
	if (root) {
		changes = walk(root, NULL, 0);
		json_decref(root);
	}
out:
	pg_query_free_parse_result(r);
	return changes;
}

/*
 * The words one of which any string with RG_OP_SET_LEXING contains, case-insensitively: a
 * SET names the setting (an identifier, plain or quoted, or the keyword NAMES), the others
 * name set_config or pg_settings; an identifier spelled with U& escapes shows "u&". Sound
 * because SQL keywords cannot be escaped and identifiers only through U&.
 */
bool rg_sqlclass_lexing_candidate(const char *sql, size_t len)
{
	/* by first letter (either case): the word starting with it, numbered from 1 */
	static const char *const words[] = {NULL,	   "names",	 "encoding",
					    "escape_string", "conforming",  "backslash",
					    "set_config",	   "pg_settings", "u&"};
	static const uint8_t first[256] = {
	    ['n'] = 1, ['N'] = 1, ['e'] = 2, ['E'] = 2, ['c'] = 4, ['C'] = 4,
	    ['b'] = 5, ['B'] = 5, ['s'] = 6, ['S'] = 6, ['p'] = 7, ['P'] = 7,
	    ['u'] = 8, ['U'] = 8,
	};
	const uint8_t *p = (const uint8_t *)sql;
	size_t i, n;
	unsigned k;

	for (i = 0; i + 1 < len; i++) {
		if (!(k = first[p[i]]))
			continue;
		/* "e" starts two words: the second letter picks one */
		if (k == 2 && (p[i + 1] | 0x20) == 's')
			k = 3;
		if ((p[i + 1] | 0x20) != (uint8_t)words[k][1])
			continue;
		n = strlen(words[k]);
		if (n <= len - i && !strncasecmp(sql + i, words[k], n))
			return true;
	}
	return false;
}

bool rg_sqlclass_utf8_valid(const char *text, size_t n)
{
	const uint8_t *p = (const uint8_t *)text;
	size_t i = 0;

	while (i < n) {
		uint64_t w;
		uint8_t c = p[i], lo = 0x80, hi = 0xbf;
		unsigned k, len;

		if (i + 8 <= n) { /* statements are mostly ASCII: eight bytes at a time */
			memcpy(&w, p + i, 8);
			if (!(w & 0x8080808080808080ull)) {
				i += 8;
				continue;
			}
		}
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			len = 2;
		else if (c >= 0xe0 && c <= 0xef)
			len = 3;
		else if (c >= 0xf0 && c <= 0xf4)
			len = 4;
		else
			return false;
		if (c == 0xe0)
			lo = 0xa0; /* no overlong 3-byte forms */
		else if (c == 0xed)
			hi = 0x9f; /* no surrogates */
		else if (c == 0xf0)
			lo = 0x90; /* no overlong 4-byte forms */
		else if (c == 0xf4)
			hi = 0x8f; /* nothing above U+10FFFF */
		if (n - i < len || p[i + 1] < lo || p[i + 1] > hi)
			return false;
		for (k = 2; k < len; k++)
			if (p[i + k] < 0x80 || p[i + k] > 0xbf)
				return false;
		i += len;
	}
	return true;
}
