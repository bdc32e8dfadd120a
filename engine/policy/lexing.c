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

/* As PostgreSQL's pg_char_to_encoding: case and non-alphanumerics do not matter. */
static bool is_utf8_name(const char *s)
{
	char n[16];
	size_t j = 0;

	for (; *s; s++) {
		if (!isalnum((unsigned char)*s))
			continue;
		if (j + 1 >= sizeof(n))
			return false;
		n[j++] = (char)tolower((unsigned char)*s);
	}
	n[j] = 0;
	return !strcmp(n, "utf8") || !strcmp(n, "unicode");
}

static bool is_true_value(const struct konst *k)
{
	if (k->kind == K_BOOL)
		return k->b;
	if (k->kind == K_INT)
		return k->i == 1;
	if (k->kind == K_STR)
		return !strcasecmp(k->s, "on") || !strcasecmp(k->s, "true") ||
		       !strcasecmp(k->s, "yes") || !strcmp(k->s, "1");
	return false;
}

/* Setting v to the value node val: true when that leaves the pinned lexing unchanged. */
static bool keeps_pin(enum lexvar v, json_t *val)
{
	struct konst k = const_of(val);

	switch (v) {
	case LV_NONE:
		return true;
	case LV_CLIENT_ENCODING:
		return k.kind == K_STR && is_utf8_name(k.s);
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
	static const struct {
		const char *w;
		size_t n;
	} words[] = {
	    {"names", 5},	 {"encoding", 8},    {"conforming", 10}, {"backslash", 9},
	    {"escape_string", 13}, {"set_config", 10}, {"pg_settings", 11}, {"u&", 2},
	};
	size_t i, k;

	for (i = 0; i < len; i++) {
		switch (sql[i] | 0x20) {
		case 'n':
		case 'e':
		case 'c':
		case 'b':
		case 's':
		case 'p':
		case 'u':
			break;
		default:
			continue;
		}
		for (k = 0; k < sizeof(words) / sizeof(words[0]); k++)
			if (words[k].n <= len - i && (sql[i] | 0x20) == words[k].w[0] &&
			    !strncasecmp(sql + i, words[k].w, words[k].n))
				return true;
	}
	return false;
}
