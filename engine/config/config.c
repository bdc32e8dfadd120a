/*
 * config: the schema. Walks the tree built by yamltree.c, fills a struct rg_config and
 * reports every problem it finds before giving up, each at the position of the offending key
 * or value and prefixed with the key's full path (listeners[0].tls.cert), so a user fixes a
 * whole file in one pass.
 *
 * Invariants: after a successful load every field documented as set is set, paths are
 * absolute and values are within the ranges below; a config with any error is never returned.
 * The walk never trusts the tree's shape: every node is type-checked before use, so arbitrary
 * YAML (the fuzz target feeds it) yields errors, not crashes.
 * This file must never read anything but the buffer it is given (see config.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "config-int.h"
#include "config.h"

#define MAX_FILE_SIZE (4u << 20)
#define MAX_NAME_LEN 63
#define WHERE_MAX 256

#define MS_SECOND ((uint64_t)1000)
#define MS_MINUTE (60 * MS_SECOND)
#define MS_HOUR (60 * MS_MINUTE)

struct ctx {
	struct cfg_errs e;
	struct rg_config *cfg;
	struct rg_config_arena *a;
	const char *base_dir;
	const struct cfg_node *admin_addr; /* for errors found by cross_check */
	bool oom;
};

struct key {
	const char *name;
	bool required;
};

#define NKEYS(k) (sizeof(k) / sizeof((k)[0]))

/* ---- helpers -------------------------------------------------------------------------- */

static void *ctx_alloc(struct ctx *c, size_t n)
{
	void *p = cfg_alloc(c->a, n);

	if (!p)
		c->oom = true;
	return p;
}

static char *ctx_strdup(struct ctx *c, const char *s)
{
	char *p = cfg_strdup(c->a, s);

	if (!p)
		c->oom = true;
	return p;
}

/* where + "." + key, or key alone at the top level. A path longer than WHERE_MAX is cut:
 * it only names a place in an error message. (The return value is looked at so that
 * Release builds' -Wformat-truncation knows the cut is intended.) */
static const char *join(char *buf, const char *where, const char *key)
{
	int n = *where ? snprintf(buf, WHERE_MAX, "%s.%s", where, key)
		       : snprintf(buf, WHERE_MAX, "%s", key);
	if (n < 0)
		buf[0] = 0;
	return buf;
}

static const char *join_index(char *buf, const char *where, size_t i)
{
	if (snprintf(buf, WHERE_MAX, "%s[%zu]", where, i) < 0)
		buf[0] = 0;
	return buf;
}

static bool is_null(const struct cfg_node *n)
{
	return n->kind == CFG_SCALAR && n->plain &&
	       (n->len == 0 || !strcmp(n->str, "~") || !strcmp(n->str, "null") ||
		!strcmp(n->str, "Null") || !strcmp(n->str, "NULL"));
}

static const char *describe(const struct cfg_node *n)
{
	return is_null(n) ? "null" : cfg_kind_name(n);
}

static struct rg_config_loc loc_of(const struct cfg_node *n)
{
	return (struct rg_config_loc){.line = n->line, .col = n->col};
}

static void fmt_duration(char *buf, size_t len, uint64_t ms)
{
	if (ms && ms % MS_HOUR == 0)
		snprintf(buf, len, "%" PRIu64 "h", ms / MS_HOUR);
	else if (ms && ms % MS_MINUTE == 0)
		snprintf(buf, len, "%" PRIu64 "m", ms / MS_MINUTE);
	else if (ms % MS_SECOND == 0)
		snprintf(buf, len, "%" PRIu64 "s", ms / MS_SECOND);
	else
		snprintf(buf, len, "%" PRIu64 "ms", ms);
}

/*
 * Check that n is a mapping whose keys all appear in keys[]; vals[i] receives the value of
 * keys[i] or NULL. Reports non-mappings, non-scalar keys, unknown and duplicate keys, and
 * missing required keys (at the mapping's position). Returns false if n is not a mapping.
 */
static bool map_keys(struct ctx *c, const struct cfg_node *n, const char *where,
		     const struct key *keys, size_t nkeys, const struct cfg_node **vals)
{
	const struct cfg_node *seen[16] = {0};
	char w[WHERE_MAX];

	for (size_t i = 0; i < nkeys; i++)
		vals[i] = NULL;
	if (nkeys > sizeof(seen) / sizeof(seen[0]))
		abort(); /* a schema table grew past this function's bound */
	if (n->kind != CFG_MAP) {
		cfg_error(&c->e, n->line, n->col, "%s: expected a mapping, got %s",
			  *where ? where : "configuration", describe(n));
		return false;
	}
	for (size_t p = 0; p < n->n; p++) {
		const struct cfg_node *k = n->kids[2 * p], *v = n->kids[2 * p + 1];
		size_t i;

		if (k->kind != CFG_SCALAR || k->len == 0 || strlen(k->str) != k->len) {
			cfg_error(&c->e, k->line, k->col, "%s: keys must be non-empty strings",
				  *where ? where : "configuration");
			continue;
		}
		for (i = 0; i < nkeys; i++)
			if (!strcmp(keys[i].name, k->str))
				break;
		if (i == nkeys) {
			char expected[WHERE_MAX] = "";
			size_t off = 0;

			for (size_t j = 0; j < nkeys && off < sizeof(expected); j++)
				off += (size_t)snprintf(expected + off, sizeof(expected) - off,
							"%s%s", j ? ", " : "", keys[j].name);
			cfg_error(&c->e, k->line, k->col, "%s: unknown key (expected one of: %s)",
				  join(w, where, k->str), expected);
			continue;
		}
		if (vals[i]) {
			cfg_error(&c->e, k->line, k->col, "%s: duplicate key (first at line %u)",
				  join(w, where, k->str), seen[i]->line);
			continue;
		}
		vals[i] = v;
		seen[i] = k;
	}
	for (size_t i = 0; i < nkeys; i++)
		if (keys[i].required && !vals[i])
			cfg_error(&c->e, n->line, n->col, "%s: missing required key '%s'",
				  *where ? where : "configuration", keys[i].name);
	return true;
}

/* A non-empty string without NUL bytes, borrowed from the tree; NULL after an error. */
static const char *scalar_str(struct ctx *c, const struct cfg_node *n, const char *where)
{
	if (n->kind != CFG_SCALAR || is_null(n)) {
		cfg_error(&c->e, n->line, n->col, "%s: expected a string, got %s", where,
			  describe(n));
		return NULL;
	}
	if (strlen(n->str) != n->len) {
		cfg_error(&c->e, n->line, n->col, "%s: contains a NUL byte", where);
		return NULL;
	}
	if (n->len == 0) {
		cfg_error(&c->e, n->line, n->col, "%s: must not be empty", where);
		return NULL;
	}
	return n->str;
}

static const char *get_str(struct ctx *c, const struct cfg_node *n, const char *where)
{
	const char *s = scalar_str(c, n, where);

	return s ? ctx_strdup(c, s) : NULL;
}

static const char *get_path(struct ctx *c, const struct cfg_node *n, const char *where)
{
	const char *s = scalar_str(c, n, where);
	size_t bl, sl;
	char *p;

	if (!s)
		return NULL;
	if (s[0] == '/')
		return ctx_strdup(c, s);
	bl = strlen(c->base_dir);
	sl = strlen(s);
	p = ctx_alloc(c, bl + sl + 2);
	if (!p)
		return NULL;
	memcpy(p, c->base_dir, bl);
	p[bl] = '/';
	memcpy(p + bl + 1, s, sl + 1);
	return p;
}

/* Names of listeners and targets: they appear in logs, metrics and PG's database field. */
static const char *get_name(struct ctx *c, const struct cfg_node *n, const char *where)
{
	const char *s = scalar_str(c, n, where);

	if (!s)
		return NULL;
	if (strlen(s) > MAX_NAME_LEN ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyz"
		      "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != strlen(s)) {
		cfg_error(&c->e, n->line, n->col,
			  "%s: '%s' is not a valid name (1..%d of A-Z a-z 0-9 _ . -)", where, s,
			  MAX_NAME_LEN);
		return NULL;
	}
	return ctx_strdup(c, s);
}

static bool get_bool(struct ctx *c, const struct cfg_node *n, const char *where, bool *out)
{
	if (n->kind == CFG_SCALAR && n->plain && (!strcmp(n->str, "true") || !strcmp(n->str, "false"))) {
		*out = !strcmp(n->str, "true");
		return true;
	}
	cfg_error(&c->e, n->line, n->col, "%s: expected true or false, got %s%s%s", where,
		  n->kind == CFG_SCALAR ? "'" : "", n->kind == CFG_SCALAR ? n->str : describe(n),
		  n->kind == CFG_SCALAR ? "'" : "");
	return false;
}

static bool get_uint(struct ctx *c, const struct cfg_node *n, const char *where, uint64_t min,
		     uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	const char *p;
	bool ok = n->kind == CFG_SCALAR && n->plain && n->len > 0 && strlen(n->str) == n->len &&
		  !(n->str[0] == '0' && n->len > 1);

	for (p = ok ? n->str : ""; ok && *p; p++) {
		if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
			ok = false;
		else
			v = v * 10 + (uint64_t)(*p - '0');
	}
	if (!ok) {
		if (n->kind == CFG_SCALAR && !is_null(n))
			cfg_error(&c->e, n->line, n->col,
				  "%s: expected an integer %" PRIu64 "..%" PRIu64 ", got '%s'",
				  where, min, max, n->str);
		else
			cfg_error(&c->e, n->line, n->col,
				  "%s: expected an integer %" PRIu64 "..%" PRIu64 ", got %s", where,
				  min, max, describe(n));
		return false;
	}
	if (v < min || v > max) {
		cfg_error(&c->e, n->line, n->col,
			  "%s: %" PRIu64 " out of range %" PRIu64 "..%" PRIu64, where, v, min, max);
		return false;
	}
	*out = v;
	return true;
}

static bool get_duration(struct ctx *c, const struct cfg_node *n, const char *where, uint64_t min,
			 uint64_t max, uint64_t *out)
{
	const char *s = scalar_str(c, n, where), *why = NULL;
	char lo[32], hi[32];
	uint64_t v;

	if (!s)
		return false;
	if (rg_config_parse_duration(s, &v, &why)) {
		cfg_error(&c->e, n->line, n->col, "%s: bad duration '%s': %s", where, s, why);
		return false;
	}
	if (v < min || v > max) {
		fmt_duration(lo, sizeof(lo), min);
		fmt_duration(hi, sizeof(hi), max);
		cfg_error(&c->e, n->line, n->col, "%s: duration '%s' out of range %s..%s", where, s,
			  lo, hi);
		return false;
	}
	*out = v;
	return true;
}

static bool get_addr(struct ctx *c, const struct cfg_node *n, const char *where, unsigned flags,
		     struct rg_config_addr *out)
{
	const char *s = scalar_str(c, n, where), *why = NULL;
	char *text, *scratch;

	if (!s)
		return false;
	text = ctx_strdup(c, s);
	scratch = ctx_alloc(c, strlen(s) + 1);
	if (!text || !scratch)
		return false;
	if (rg_config_parse_addr(text, flags, out, scratch, &why)) {
		cfg_error(&c->e, n->line, n->col, "%s: bad address '%s': %s", where, s, why);
		return false;
	}
	return true;
}

static bool get_proto(struct ctx *c, const struct cfg_node *n, const char *where,
		      enum rg_config_proto *out)
{
	const char *s = scalar_str(c, n, where);

	if (!s)
		return false;
	if (!strcmp(s, "postgres")) {
		*out = RG_CONFIG_PROTO_POSTGRES;
		return true;
	}
	if (!strcmp(s, "mysql")) {
		*out = RG_CONFIG_PROTO_MYSQL;
		return true;
	}
	cfg_error(&c->e, n->line, n->col, "%s: unknown protocol '%s' (expected postgres or mysql)",
		  where, s);
	return false;
}

static bool get_seq(struct ctx *c, const struct cfg_node *n, const char *where, size_t min)
{
	if (n->kind != CFG_SEQ) {
		cfg_error(&c->e, n->line, n->col, "%s: expected a sequence, got %s", where,
			  describe(n));
		return false;
	}
	if (n->n < min) {
		cfg_error(&c->e, n->line, n->col, "%s: needs at least %zu entr%s", where, min,
			  min == 1 ? "y" : "ies");
		return false;
	}
	return true;
}

/* The two keys of an "exactly one of a | b" pair: reports none or both. */
static int exactly_one(struct ctx *c, const struct cfg_node *map, const char *where,
		       const struct cfg_node *va, const char *a, const struct cfg_node *vb,
		       const char *b)
{
	if (va && vb) {
		/* Point at whichever comes second in the file: that is the one to delete. */
		const struct cfg_node *late =
		    (va->line > vb->line || (va->line == vb->line && va->col > vb->col)) ? va : vb;
		cfg_error(&c->e, late->line, late->col, "%s: %s and %s are mutually exclusive",
			  where, a, b);
		return -1;
	}
	if (!va && !vb) {
		cfg_error(&c->e, map->line, map->col, "%s: exactly one of %s or %s is required",
			  where, a, b);
		return -1;
	}
	return va ? 0 : 1;
}

/* ---- sections ------------------------------------------------------------------------- */

static void parse_listener_tls(struct ctx *c, const struct cfg_node *n, const char *where,
			       struct rg_config_listener *l)
{
	static const struct key keys[] = {{"cert", true}, {"key", true}, {"require", false}};
	const struct cfg_node *v[NKEYS(keys)];
	char w[WHERE_MAX];

	if (!map_keys(c, n, where, keys, NKEYS(keys), v))
		return;
	l->tls_enabled = true;
	l->tls.require = true;
	if (v[0])
		l->tls.cert = get_path(c, v[0], join(w, where, "cert"));
	if (v[1])
		l->tls.key = get_path(c, v[1], join(w, where, "key"));
	if (v[2])
		get_bool(c, v[2], join(w, where, "require"), &l->tls.require);
}

bool rg_config_addr_is_loopback(const struct rg_config_addr *a)
{
	if (a->kind != RG_CONFIG_ADDR_INET || !a->numeric)
		return false;
	if (a->sa.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)&a->sa;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (a->sa.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)&a->sa;
		return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ||
		       (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127);
	}
	return false;
}

static void parse_listener(struct ctx *c, const struct cfg_node *n, const char *where,
			   struct rg_config_listener *l)
{
	static const struct key keys[] = {
	    {"name", true},
	    {"address", true},
	    {"protocol", true},
	    {"tls", false},
	    {"insecure_plaintext", false},
	};
	const struct cfg_node *v[NKEYS(keys)];
	char w[WHERE_MAX];
	bool addr_ok = false;

	l->loc = loc_of(n);
	if (!map_keys(c, n, where, keys, NKEYS(keys), v))
		return;
	if (v[0])
		l->name = get_name(c, v[0], join(w, where, "name"));
	if (v[1])
		addr_ok = get_addr(c, v[1], join(w, where, "address"), 0, &l->address);
	if (v[2])
		get_proto(c, v[2], join(w, where, "protocol"), &l->protocol);
	if (v[3])
		parse_listener_tls(c, v[3], join(w, where, "tls"), l);
	if (v[4] && get_bool(c, v[4], join(w, where, "insecure_plaintext"),
			     &l->insecure_plaintext) &&
	    l->insecure_plaintext && v[3])
		cfg_error(&c->e, v[4]->line, v[4]->col, "%s: not used with tls", w);
	/* The agent's password is a bearer token: off the host it travels only in TLS, unless
	 * the operator writes down that the network in between is trusted. */
	if (l->protocol == RG_CONFIG_PROTO_MYSQL) {
		/* MySQL agents send their token with mysql_clear_password: never in clear text
		 * off the host, and on loopback only when the operator asks for it. */
		if (addr_ok && !v[3] && !rg_config_addr_is_loopback(&l->address))
			cfg_error(&c->e, v[1]->line, v[1]->col,
				  "%s: %s is not a loopback address and the mysql listener has no "
				  "tls: agents' tokens would cross the network in clear text (add "
				  "tls; a plaintext mysql listener is for loopback development "
				  "only)",
				  join(w, where, "address"), l->address.text);
		else if (addr_ok && !v[3] && !l->insecure_plaintext)
			cfg_error(&c->e, n->line, n->col,
				  "%s: a mysql listener without tls needs insecure_plaintext: true "
				  "(loopback development only: tokens travel in clear text)",
				  where);
		return;
	}
	if (addr_ok && !v[3] && !l->insecure_plaintext && !rg_config_addr_is_loopback(&l->address))
		cfg_error(&c->e, v[1]->line, v[1]->col,
			  "%s: %s is not a loopback address and the listener has no tls: agents' "
			  "tokens would cross the network in clear text (add tls, or set "
			  "insecure_plaintext: true)",
			  join(w, where, "address"), l->address.text);
}

/* admin.url: http(s)://host[:port][/path], printable ASCII without spaces or characters
 * that would need quoting in a notice or an HTML attribute; stored without trailing '/'.
 * At most 200 bytes: with "/#/approvals/<id>" a request's link fits the notice's 256. */
static const char *get_url(struct ctx *c, const struct cfg_node *n, const char *where)
{
	const char *s = scalar_str(c, n, where), *host;
	size_t len;
	char *out;

	if (!s)
		return NULL;
	host = !strncmp(s, "https://", 8) ? s + 8 : !strncmp(s, "http://", 7) ? s + 7 : NULL;
	len = strlen(s);
	for (const char *p = s; host && *p; p++)
		if (*p <= ' ' || *p >= 0x7f || strchr("\"'<>`\\{}|^", *p))
			host = NULL;
	if (!host || !*host || *host == '/' || len > 200) {
		cfg_error(&c->e, n->line, n->col,
			  "%s: '%s' is not an http:// or https:// URL with a host (printable ASCII, "
			  "no spaces or quotes, at most 200 bytes)",
			  where, s);
		return NULL;
	}
	while (len > (size_t)(host - s) + 1 && s[len - 1] == '/')
		len--;
	out = ctx_alloc(c, len + 1);
	if (out) {
		memcpy(out, s, len);
		out[len] = 0;
	}
	return out;
}

/* http[s]://address, a wildcard host replaced by the loopback address of its family. */
static const char *default_admin_url(struct ctx *c, const struct rg_config_admin *ad)
{
	const struct rg_config_addr *a = &ad->address;
	const char *host = a->host;
	bool v6 = a->sa.ss_family == AF_INET6;
	size_t n = strlen(host) + 32;
	char *out;

	if (!strcmp(host, "0.0.0.0"))
		host = "127.0.0.1";
	else if (v6 && (!strcmp(host, "::") || !strcmp(host, "::0")))
		host = "::1";
	out = ctx_alloc(c, n);
	if (out)
		snprintf(out, n, "%s://%s%s%s:%u", ad->tls_enabled ? "https" : "http", v6 ? "[" : "",
			 host, v6 ? "]" : "", a->port);
	return out;
}

static void parse_admin(struct ctx *c, const struct cfg_node *n)
{
	static const struct key keys[] = {
	    {"address", true}, {"url", false},		     {"operators", false},
	    {"tls", false},    {"insecure_plaintext", false},
	};
	static const struct key tls_keys[] = {{"cert", true}, {"key", true}};
	const struct cfg_node *v[NKEYS(keys)], *tv[NKEYS(tls_keys)];
	struct rg_config_admin *ad = &c->cfg->admin;
	char w[WHERE_MAX];
	bool addr_ok = false;

	ad->loc = loc_of(n);
	if (!map_keys(c, n, "admin", keys, NKEYS(keys), v))
		return;
	ad->enabled = true;
	if (v[0]) {
		c->admin_addr = v[0];
		addr_ok = get_addr(c, v[0], "admin.address", 0, &ad->address);
	}
	if (v[3] && map_keys(c, v[3], "admin.tls", tls_keys, NKEYS(tls_keys), tv)) {
		ad->tls_enabled = true;
		if (tv[0])
			ad->tls_cert = get_path(c, tv[0], "admin.tls.cert");
		if (tv[1])
			ad->tls_key = get_path(c, tv[1], "admin.tls.key");
	}
	if (v[4] && get_bool(c, v[4], "admin.insecure_plaintext", &ad->insecure_plaintext) &&
	    ad->insecure_plaintext && v[3])
		cfg_error(&c->e, v[4]->line, v[4]->col,
			  "admin.insecure_plaintext: not used with tls");
	/* Reviewers' tokens are bearer credentials, as agents' are: the listeners' rule. */
	if (addr_ok && !v[3] && !ad->insecure_plaintext && !rg_config_addr_is_loopback(&ad->address))
		cfg_error(&c->e, v[0]->line, v[0]->col,
			  "admin.address: %s is not a loopback address and admin has no tls: "
			  "reviewers' tokens would cross the network in clear text (add tls, or set "
			  "insecure_plaintext: true)",
			  ad->address.text);
	if (v[1])
		ad->url = get_url(c, v[1], "admin.url");
	else if (addr_ok)
		ad->url = default_admin_url(c, ad);
	if (v[2] && get_seq(c, v[2], "admin.operators", 0)) {
		const char **g = ctx_alloc(c, (v[2]->n + 1) * sizeof(*g));

		ad->operators = g;
		ad->n_operators = g ? v[2]->n : 0;
		for (size_t i = 0; g && i < v[2]->n; i++)
			g[i] = get_str(c, v[2]->kids[i], join_index(w, "admin.operators", i));
	}
}

static void parse_issuer(struct ctx *c, const struct cfg_node *n, const char *where,
			 struct rg_config_issuer *is)
{
	static const struct key keys[] = {
	    {"issuer", true},		{"audience", true},	 {"jwks_file", false},
	    {"jwks_url", false},	{"jwks_refresh", false}, {"groups_claim", false},
	    {"required_claims", false}, {"unknown_kid_refresh", false},
	    {"session_outlives_token", false}, {"max_token_lifetime", false},
	};
	static const char *const default_claims[] = {"sub", "exp"};
	const struct cfg_node *v[NKEYS(keys)];
	char w[WHERE_MAX], w2[WHERE_MAX];
	int which;

	is->loc = loc_of(n);
	is->jwks_refresh_ms = 5 * MS_MINUTE;
	is->unknown_kid_refresh_ms = 30 * MS_SECOND;
	is->groups_claim = "groups";
	is->required_claims = default_claims;
	is->n_required_claims = 2;
	if (!map_keys(c, n, where, keys, NKEYS(keys), v))
		return;
	if (v[0])
		is->issuer = get_str(c, v[0], join(w, where, "issuer"));
	if (v[1])
		is->audience = get_str(c, v[1], join(w, where, "audience"));
	which = exactly_one(c, n, where, v[2], "jwks_file", v[3], "jwks_url");
	if (which == 0) {
		is->jwks_file = get_path(c, v[2], join(w, where, "jwks_file"));
	} else if (which == 1) {
		const char *u = scalar_str(c, v[3], join(w, where, "jwks_url"));
		char why[256];

		/* auth owns the rule (it fetches); the message never echoes userinfo. */
		if (u && rg_auth_jwks_url_check(u, why, sizeof(why)))
			cfg_error(&c->e, v[3]->line, v[3]->col, "%s: %s", w, why);
		else if (u)
			is->jwks_url = ctx_strdup(c, u);
	}
	if (v[4])
		get_duration(c, v[4], join(w, where, "jwks_refresh"), MS_SECOND, 24 * MS_HOUR,
			     &is->jwks_refresh_ms);
	if (v[5])
		is->groups_claim = get_str(c, v[5], join(w, where, "groups_claim"));
	if (v[7])
		get_duration(c, v[7], join(w, where, "unknown_kid_refresh"), MS_SECOND, 24 * MS_HOUR,
			     &is->unknown_kid_refresh_ms);
	if (v[8])
		get_bool(c, v[8], join(w, where, "session_outlives_token"),
			 &is->session_outlives_token);
	if (v[9])
		get_duration(c, v[9], join(w, where, "max_token_lifetime"), MS_SECOND,
			     7 * 24 * MS_HOUR, &is->max_token_lifetime_ms);
	if (v[6] && get_seq(c, v[6], join(w, where, "required_claims"), 0)) {
		const char **claims = ctx_alloc(c, (v[6]->n + 1) * sizeof(*claims));

		is->required_claims = claims;
		is->n_required_claims = claims ? v[6]->n : 0;
		for (size_t i = 0; claims && i < v[6]->n; i++)
			claims[i] = get_str(c, v[6]->kids[i], join_index(w2, w, i));
	}
}

static void parse_identity(struct ctx *c, const struct cfg_node *n)
{
	static const struct key keys[] = {{"clock_skew", false}, {"issuers", true}};
	const struct cfg_node *v[NKEYS(keys)];
	struct rg_config_identity *id = &c->cfg->identity;
	char w[WHERE_MAX];

	if (!map_keys(c, n, "identity", keys, NKEYS(keys), v))
		return;
	if (v[0])
		get_duration(c, v[0], "identity.clock_skew", 0, MS_HOUR, &id->clock_skew_ms);
	if (!v[1] || !get_seq(c, v[1], "identity.issuers", 1))
		return;
	id->issuers = ctx_alloc(c, v[1]->n * sizeof(*id->issuers));
	if (!id->issuers)
		return;
	id->n_issuers = v[1]->n;
	for (size_t i = 0; i < v[1]->n; i++)
		parse_issuer(c, v[1]->kids[i], join_index(w, "identity.issuers", i),
			     &id->issuers[i]);
	for (size_t i = 0; i < id->n_issuers; i++)
		for (size_t j = 0; j < i; j++)
			if (id->issuers[i].issuer && id->issuers[j].issuer &&
			    !strcmp(id->issuers[i].issuer, id->issuers[j].issuer)) {
				cfg_error(&c->e, id->issuers[i].loc.line, id->issuers[i].loc.col,
					  "identity.issuers[%zu]: duplicate issuer '%s' (first at "
					  "line %u)",
					  i, id->issuers[i].issuer, id->issuers[j].loc.line);
				break;
			}
}

static bool env_name_ok(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return false;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") ==
	       strlen(s);
}

static void parse_target_tls(struct ctx *c, const struct cfg_node *n, const char *where,
			     struct rg_config_target *t)
{
	static const struct key keys[] = {
	    {"mode", false},
	    {"ca", false},
	    {"server_name", false},
	    {"channel_binding", false},
	};
	static const char *const modes[] = {
	    [RG_CONFIG_TLS_DISABLE] = "disable",
	    [RG_CONFIG_TLS_REQUIRE] = "require",
	    [RG_CONFIG_TLS_VERIFY_FULL] = "verify-full",
	};
	const struct cfg_node *v[NKEYS(keys)];
	char w[WHERE_MAX];

	if (!map_keys(c, n, where, keys, NKEYS(keys), v))
		return;
	if (v[0]) {
		const char *s = scalar_str(c, v[0], join(w, where, "mode"));
		size_t i;

		for (i = 0; s && i < sizeof(modes) / sizeof(modes[0]); i++)
			if (!strcmp(s, modes[i]))
				break;
		if (s && i == sizeof(modes) / sizeof(modes[0]))
			cfg_error(&c->e, v[0]->line, v[0]->col,
				  "%s: unknown mode '%s' (expected disable, require or "
				  "verify-full)",
				  w, s);
		else if (s)
			t->tls.mode = (enum rg_config_tls_mode)i;
	}
	if (v[1]) {
		if (t->tls.mode != RG_CONFIG_TLS_VERIFY_FULL)
			cfg_error(&c->e, v[1]->line, v[1]->col,
				  "%s: only used with mode verify-full", join(w, where, "ca"));
		else
			t->tls.ca = get_path(c, v[1], join(w, where, "ca"));
	}
	if (v[2]) {
		if (t->tls.mode == RG_CONFIG_TLS_DISABLE)
			cfg_error(&c->e, v[2]->line, v[2]->col, "%s: not used with mode disable",
				  join(w, where, "server_name"));
		else
			t->tls.server_name = get_str(c, v[2], join(w, where, "server_name"));
	}
	if (v[3]) {
		static const char *const cbs[] = {
		    [RG_CONFIG_CB_PREFER] = "prefer",
		    [RG_CONFIG_CB_REQUIRE] = "require",
		    [RG_CONFIG_CB_DISABLE] = "disable",
		};
		const char *s = scalar_str(c, v[3], join(w, where, "channel_binding"));
		size_t i;

		for (i = 0; s && i < sizeof(cbs) / sizeof(cbs[0]); i++)
			if (!strcmp(s, cbs[i]))
				break;
		if (s && i == sizeof(cbs) / sizeof(cbs[0]))
			cfg_error(&c->e, v[3]->line, v[3]->col,
				  "%s: unknown value '%s' (expected prefer, require or disable)", w,
				  s);
		else if (s && t->tls.mode == RG_CONFIG_TLS_DISABLE)
			/* Nothing to bind to without TLS: a require here could never log in. */
			cfg_error(&c->e, v[3]->line, v[3]->col, "%s: not used with mode disable",
				  w);
		else if (s)
			t->tls.channel_binding = (enum rg_config_channel_binding)i;
		t->tls_channel_binding_set = true;
	} else if (t->tls.mode == RG_CONFIG_TLS_REQUIRE) {
		/* An unverified certificate proves nothing: only binding SCRAM to it keeps a relay
		 * with another certificate from completing the login (docs/security.md). */
		t->tls.channel_binding = RG_CONFIG_CB_REQUIRE;
	}
	if (t->address.kind == RG_CONFIG_ADDR_UNIX && t->tls.mode != RG_CONFIG_TLS_DISABLE)
		cfg_error(&c->e, (v[0] ? v[0] : n)->line, (v[0] ? v[0] : n)->col,
			  "%s: TLS is not available over a unix socket", join(w, where, "mode"));
}

static void parse_allowed_auth(struct ctx *c, const struct cfg_node *n, const char *where,
			       struct rg_config_target *t)
{
	static const struct {
		const char *name;
		unsigned bit;
	} methods[] = {
	    {"scram-sha-256", RG_CONFIG_AUTH_SCRAM},
	    {"md5", RG_CONFIG_AUTH_MD5},
	    {"password", RG_CONFIG_AUTH_PASSWORD},
	    {"none", RG_CONFIG_AUTH_NONE},
	};
	char w[WHERE_MAX];
	size_t i, k;

	if (!get_seq(c, n, where, 1))
		return;
	t->allowed_auth = 0;
	for (i = 0; i < n->n; i++) {
		const char *s = scalar_str(c, n->kids[i], join_index(w, where, i));

		for (k = 0; s && k < sizeof(methods) / sizeof(methods[0]); k++)
			if (!strcmp(s, methods[k].name))
				break;
		if (!s)
			continue;
		if (k == sizeof(methods) / sizeof(methods[0])) {
			cfg_error(&c->e, n->kids[i]->line, n->kids[i]->col,
				  "%s: unknown method '%s' (expected scram-sha-256, md5, password "
				  "or none)",
				  w, s);
			continue;
		}
		if (t->allowed_auth & methods[k].bit)
			cfg_error(&c->e, n->kids[i]->line, n->kids[i]->col, "%s: '%s' listed twice",
				  w, s);
		t->allowed_auth |= methods[k].bit;
	}
	if (t->tls.channel_binding == RG_CONFIG_CB_REQUIRE &&
	    !(t->allowed_auth & RG_CONFIG_AUTH_SCRAM))
		cfg_error(&c->e, n->line, n->col,
			  "%s: tls.channel_binding require needs scram-sha-256", where);
}

/* Exactly one of password_file / password_env, into *file / *env. */
static void parse_secret(struct ctx *c, const struct cfg_node *n, const char *where,
			 const struct cfg_node *vf, const struct cfg_node *ve, const char **file,
			 const char **env)
{
	char w[WHERE_MAX];
	int which = exactly_one(c, n, where, vf, "password_file", ve, "password_env");

	if (which == 0) {
		*file = get_path(c, vf, join(w, where, "password_file"));
	} else if (which == 1) {
		const char *s = scalar_str(c, ve, join(w, where, "password_env"));

		if (s && !env_name_ok(s))
			cfg_error(&c->e, ve->line, ve->col,
				  "%s: '%s' is not a valid environment variable name", w, s);
		else if (s)
			*env = ctx_strdup(c, s);
	}
}

static void parse_role(struct ctx *c, const struct cfg_node *n, const char *where,
		       struct rg_config_role *r)
{
	static const struct key keys[] = {
	    {"user", true},
	    {"password_file", false},
	    {"password_env", false},
	    {"groups", true},
	};
	const struct cfg_node *v[NKEYS(keys)];
	char w[WHERE_MAX], w2[WHERE_MAX];

	r->loc = loc_of(n);
	if (!map_keys(c, n, where, keys, NKEYS(keys), v))
		return;
	if (v[0])
		r->user = get_str(c, v[0], join(w, where, "user"));
	parse_secret(c, n, where, v[1], v[2], &r->password_file, &r->password_env);
	if (v[3] && get_seq(c, v[3], join(w, where, "groups"), 1)) {
		const char **g = ctx_alloc(c, (v[3]->n + 1) * sizeof(*g));

		r->groups = g;
		r->n_groups = g ? v[3]->n : 0;
		for (size_t i = 0; g && i < v[3]->n; i++)
			g[i] = get_str(c, v[3]->kids[i], join_index(w2, w, i));
	}
}

static void parse_roles(struct ctx *c, const struct cfg_node *n, const char *where,
			struct rg_config_target *t)
{
	char w[WHERE_MAX];

	if (!get_seq(c, n, where, 1))
		return;
	t->roles = ctx_alloc(c, n->n * sizeof(*t->roles));
	if (!t->roles)
		return;
	memset(t->roles, 0, n->n * sizeof(*t->roles));
	t->n_roles = n->n;
	for (size_t i = 0; i < n->n; i++) {
		struct rg_config_role *r = &t->roles[i];

		parse_role(c, n->kids[i], join_index(w, where, i), r);
		if (!r->user)
			continue;
		if (t->user && !strcmp(r->user, t->user))
			cfg_error(&c->e, r->loc.line, r->loc.col,
				  "%s: user '%s' is already the target's user", w, r->user);
		for (size_t k = 0; k < i; k++)
			if (t->roles[k].user && !strcmp(t->roles[k].user, r->user))
				cfg_error(&c->e, r->loc.line, r->loc.col,
					  "%s: user '%s' listed twice", w, r->user);
	}
}

/*
 * Keys that belong to one protocol only (v: parse_target's values, in its key order). A
 * PostgreSQL target names its database (agents' startup `database` is the target's name);
 * a MySQL target may leave the default schema to the agent. SCRAM, roles and channel
 * binding are PostgreSQL's; the pinned RSA key is MySQL's caching_sha2_password's.
 */
static void check_target_protocol_keys(struct ctx *c, const struct cfg_node *n, const char *where,
				       struct rg_config_target *t, const struct cfg_node *const *v)
{
	static const struct {
		unsigned idx;
		const char *key;
	} pg_only[] = {{9, "allowed_auth"}, {10, "roles"}, {11, "scram_max_iterations"}};
	char w[WHERE_MAX];

	if (t->protocol == RG_CONFIG_PROTO_POSTGRES) {
		if (!v[3])
			cfg_error(&c->e, n->line, n->col, "%s: missing required key '%s'", where,
				  "database");
		if (v[12])
			cfg_error(&c->e, v[12]->line, v[12]->col,
				  "%s: only used with protocol mysql",
				  join(w, where, "server_public_key_file"));
		return;
	}
	if (t->protocol != RG_CONFIG_PROTO_MYSQL)
		return;
	for (size_t i = 0; i < sizeof(pg_only) / sizeof(pg_only[0]); i++)
		if (v[pg_only[i].idx])
			cfg_error(&c->e, v[pg_only[i].idx]->line, v[pg_only[i].idx]->col,
				  "%s: only used with protocol postgres",
				  join(w, where, pg_only[i].key));
	if (t->tls_channel_binding_set)
		cfg_error(&c->e, v[7]->line, v[7]->col, "%s: only used with protocol postgres",
			  join(w, where, "tls.channel_binding"));
	t->tls.channel_binding = RG_CONFIG_CB_DISABLE;
	if (t->address.kind == RG_CONFIG_ADDR_UNIX)
		cfg_error(&c->e, v[2]->line, v[2]->col,
			  "%s: a unix socket is not supported for protocol mysql yet",
			  join(w, where, "address"));
}

static void parse_target(struct ctx *c, const struct cfg_node *n, const char *where,
			 struct rg_config_target *t)
{
	static const struct key keys[] = {
	    {"name", true},	     {"protocol", true}, {"address", true},
	    {"database", false},     {"user", true},	 {"password_file", false},
	    {"password_env", false}, {"tls", false},	 {"connect_timeout", false},
	    {"allowed_auth", false}, {"roles", false},
	    {"scram_max_iterations", false},
	    {"server_public_key_file", false},
	};
	const struct cfg_node *v[NKEYS(keys)];
	char w[WHERE_MAX];
	uint64_t u;

	t->loc = loc_of(n);
	t->connect_timeout_ms = 5 * MS_SECOND;
	t->scram_max_iterations = RG_AUTH_SCRAM_DEFAULT_MAX_ITERATIONS;
	if (!map_keys(c, n, where, keys, NKEYS(keys), v))
		return;
	if (v[0])
		t->name = get_name(c, v[0], join(w, where, "name"));
	if (v[1])
		get_proto(c, v[1], join(w, where, "protocol"), &t->protocol);
	if (v[2])
		get_addr(c, v[2], join(w, where, "address"),
			 RG_CONFIG_ADDR_ALLOW_DNS | RG_CONFIG_ADDR_ALLOW_UNIX, &t->address);
	if (v[3])
		t->database = get_str(c, v[3], join(w, where, "database"));
	if (v[4])
		t->user = get_str(c, v[4], join(w, where, "user"));
	parse_secret(c, n, where, v[5], v[6], &t->password_file, &t->password_env);
	/* Secure by default over TCP; TLS does not exist on unix sockets. */
	t->tls.mode = t->address.kind == RG_CONFIG_ADDR_UNIX ? RG_CONFIG_TLS_DISABLE
							     : RG_CONFIG_TLS_VERIFY_FULL;
	if (v[7])
		parse_target_tls(c, v[7], join(w, where, "tls"), t);
	if (v[8])
		get_duration(c, v[8], join(w, where, "connect_timeout"), 1, 10 * MS_MINUTE,
			     &t->connect_timeout_ms);
	t->allowed_auth = RG_CONFIG_AUTH_SCRAM;
	/* PostgreSQL-only keys on a mysql target: one error each (check_target_protocol_keys),
	 * not their values' errors too */
	if (v[9] && t->protocol != RG_CONFIG_PROTO_MYSQL)
		parse_allowed_auth(c, v[9], join(w, where, "allowed_auth"), t);
	if (v[10] && t->protocol != RG_CONFIG_PROTO_MYSQL)
		parse_roles(c, v[10], join(w, where, "roles"), t);
	if (v[11] && t->protocol != RG_CONFIG_PROTO_MYSQL && get_uint(c, v[11], join(w, where, "scram_max_iterations"),
			      RG_AUTH_SCRAM_MIN_ITERATIONS, RG_AUTH_SCRAM_MAX_ITERATIONS, &u))
		t->scram_max_iterations = (uint32_t)u;
	if (v[12])
		t->server_public_key_file = get_path(c, v[12], join(w, where, "server_public_key_file"));
	check_target_protocol_keys(c, n, where, t, v);
}

static void parse_policy(struct ctx *c, const struct cfg_node *n)
{
	static const struct key keys[] = {
	    {"bundle", true},
	    {"public_key", false},
	    {"hmac_key_file", false},
	    {"catalog_refresh", false},
	};
	const struct cfg_node *v[NKEYS(keys)];
	struct rg_config_policy *p = &c->cfg->policy;

	p->catalog_refresh_ms = MS_MINUTE;

	if (!map_keys(c, n, "policy", keys, NKEYS(keys), v))
		return;
	if (v[0])
		p->bundle = get_path(c, v[0], "policy.bundle");
	if (v[1])
		p->public_key = get_path(c, v[1], "policy.public_key");
	if (v[2])
		p->hmac_key_file = get_path(c, v[2], "policy.hmac_key_file");
	if (v[3])
		get_duration(c, v[3], "policy.catalog_refresh", MS_SECOND, 24 * MS_HOUR,
			     &p->catalog_refresh_ms);
}

static void parse_audit(struct ctx *c, const struct cfg_node *n)
{
	static const struct key keys[] = {
	    {"key_file", true},	       {"dir", false},	    {"fsync", false},
	    {"fsync_interval", false}, {"literals", false}, {"on_error", false},
	    {"journal_dir", false},    {"record_sessions", false}, {"record_max_bytes", false},
	    {"recordings_dir", false}, {"retention", false}};
	static const char *const modes[] = {"every", "interval"};
	const struct cfg_node *v[NKEYS(keys)];
	struct rg_config_audit *a = &c->cfg->audit;

	a->fsync_interval_ms = MS_SECOND;
	if (!map_keys(c, n, "audit", keys, NKEYS(keys), v))
		return;
	a->enabled = true;
	if (v[0])
		a->key_file = get_path(c, v[0], "audit.key_file");
	if (v[1])
		a->dir = get_path(c, v[1], "audit.dir");
	if (v[2]) {
		const char *m = get_str(c, v[2], "audit.fsync");

		if (m && !strcmp(m, modes[1]))
			a->fsync_interval = true;
		else if (m && strcmp(m, modes[0]))
			cfg_error(&c->e, v[2]->line, v[2]->col,
				  "audit.fsync: '%s' is not one of every, interval", m);
	}
	if (v[3])
		get_duration(c, v[3], "audit.fsync_interval", 1, MS_MINUTE, &a->fsync_interval_ms);
	if (v[4]) {
		const char *m = get_str(c, v[4], "audit.literals");

		if (m && !strcmp(m, "keep"))
			a->keep_literals = true;
		else if (m && strcmp(m, "redact"))
			cfg_error(&c->e, v[4]->line, v[4]->col,
				  "audit.literals: '%s' is not one of redact, keep", m);
	}
	if (v[5]) {
		const char *m = get_str(c, v[5], "audit.on_error");

		if (m && !strcmp(m, "allow"))
			a->fail_open = true;
		else if (m && strcmp(m, "deny"))
			cfg_error(&c->e, v[5]->line, v[5]->col,
				  "audit.on_error: '%s' is not one of deny, allow", m);
	}
	if (v[6])
		a->journal_dir = get_path(c, v[6], "audit.journal_dir");
	a->record_max_bytes = 64u << 20;
	if (v[7])
		get_bool(c, v[7], "audit.record_sessions", &a->record);
	if (v[8])
		get_uint(c, v[8], "audit.record_max_bytes", 4096, (uint64_t)1 << 40,
			 &a->record_max_bytes);
	if (v[9])
		a->recordings_dir = get_path(c, v[9], "audit.recordings_dir");
	if (v[10])
		get_duration(c, v[10], "audit.retention", MS_HOUR, 100ull * 366 * 24 * MS_HOUR,
			     &a->retention_ms);
}

static void parse_approvals(struct ctx *c, const struct cfg_node *n)
{
	static const struct key keys[] = {{"webhooks", false}, {"webhook_timeout", false}};
	const struct cfg_node *v[NKEYS(keys)];
	struct rg_config_approvals *a = &c->cfg->approvals;
	char w[WHERE_MAX], why[200];

	a->webhook_timeout_ms = 5 * MS_SECOND;
	if (!map_keys(c, n, "approvals", keys, NKEYS(keys), v))
		return;
	if (v[0] && get_seq(c, v[0], "approvals.webhooks", 0)) {
		const char **urls = ctx_alloc(c, (v[0]->n + 1) * sizeof(*urls));

		a->webhooks = urls;
		a->n_webhooks = urls ? v[0]->n : 0;
		for (size_t i = 0; urls && i < v[0]->n; i++) {
			const struct cfg_node *k = v[0]->kids[i];

			urls[i] = get_str(c, k, join_index(w, "approvals.webhooks", i));
			/* the payload carries statement text: https, or http to loopback only */
			if (urls[i] && rg_auth_jwks_url_check(urls[i], why, sizeof(why)))
				cfg_error(&c->e, k->line, k->col, "%s: %s", w, why);
		}
	}
	if (v[1])
		get_duration(c, v[1], "approvals.webhook_timeout", MS_SECOND, MS_MINUTE,
			     &a->webhook_timeout_ms);
}

static void parse_limits(struct ctx *c, const struct cfg_node *n)
{
	static const struct key keys[] = {
	    {"idle_timeout", false},	   {"max_sessions", false},
	    {"max_pending_logins", false}, {"max_pending_per_address", false},
	    {"password_timeout", false},   {"login_timeout", false},
	};
	const struct cfg_node *v[NKEYS(keys)];
	struct rg_config_limits *l = &c->cfg->limits;
	uint64_t u;

	if (!map_keys(c, n, "limits", keys, NKEYS(keys), v))
		return;
	if (v[0])
		get_duration(c, v[0], "limits.idle_timeout", 0, 30 * 24 * MS_HOUR,
			     &l->idle_timeout_ms);
	if (v[1] && get_uint(c, v[1], "limits.max_sessions", 1, 1000000, &u))
		l->max_sessions = (uint32_t)u;
	if (v[2] && get_uint(c, v[2], "limits.max_pending_logins", 1, 1000000, &u))
		l->max_pending_logins = (uint32_t)u;
	if (v[3] && get_uint(c, v[3], "limits.max_pending_per_address", 0, 1000000, &u))
		l->max_pending_per_address = (uint32_t)u;
	if (v[4])
		get_duration(c, v[4], "limits.password_timeout", 1, MS_HOUR,
			     &l->password_timeout_ms);
	if (v[5])
		get_duration(c, v[5], "limits.login_timeout", 1, MS_HOUR, &l->login_timeout_ms);
}

/* ---- cross-checks --------------------------------------------------------------------- */

static bool same_port_overlap(const struct rg_config_addr *a, const struct rg_config_addr *b)
{
	if (a->kind != RG_CONFIG_ADDR_INET || b->kind != RG_CONFIG_ADDR_INET || !a->numeric ||
	    !b->numeric || a->port != b->port || a->sa.ss_family != b->sa.ss_family)
		return false;
	if (a->sa.ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)&a->sa, *y = (const void *)&b->sa;
		return x->sin_addr.s_addr == y->sin_addr.s_addr || x->sin_addr.s_addr == 0 ||
		       y->sin_addr.s_addr == 0;
	}
	{
		const struct sockaddr_in6 *x = (const void *)&a->sa, *y = (const void *)&b->sa;
		return !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) ||
		       IN6_IS_ADDR_UNSPECIFIED(&x->sin6_addr) ||
		       IN6_IS_ADDR_UNSPECIFIED(&y->sin6_addr);
	}
}

static void cross_check(struct ctx *c, const struct cfg_node *admin_addr)
{
	struct rg_config *cfg = c->cfg;

	for (size_t i = 0; i < cfg->n_listeners; i++) {
		struct rg_config_listener *l = &cfg->listeners[i];

		for (size_t j = 0; j < i; j++) {
			struct rg_config_listener *o = &cfg->listeners[j];

			if (l->name && o->name && !strcmp(l->name, o->name)) {
				cfg_error(&c->e, l->loc.line, l->loc.col,
					  "listeners[%zu]: duplicate listener name '%s' (first at "
					  "line %u)",
					  i, l->name, o->loc.line);
				break;
			}
			if (same_port_overlap(&l->address, &o->address)) {
				cfg_error(&c->e, l->loc.line, l->loc.col,
					  "listeners[%zu]: address %s overlaps listeners[%zu] (%s)",
					  i, l->address.text, j, o->address.text);
				break;
			}
		}
		if (admin_addr && same_port_overlap(&cfg->admin.address, &l->address))
			cfg_error(&c->e, admin_addr->line, admin_addr->col,
				  "admin.address: %s overlaps listeners[%zu] (%s)",
				  cfg->admin.address.text, i, l->address.text);
	}
	for (size_t i = 0; i < cfg->n_targets; i++)
		for (size_t j = 0; j < i; j++)
			if (cfg->targets[i].name && cfg->targets[j].name &&
			    !strcmp(cfg->targets[i].name, cfg->targets[j].name)) {
				cfg_error(&c->e, cfg->targets[i].loc.line, cfg->targets[i].loc.col,
					  "targets[%zu]: duplicate target name '%s' (first at line "
					  "%u)",
					  i, cfg->targets[i].name, cfg->targets[j].loc.line);
				break;
			}
}

/* ---- entry points --------------------------------------------------------------------- */

static void parse_root(struct ctx *c, const struct cfg_node *root)
{
	static const struct key keys[] = {
	    {"version", true},	 {"threads", false}, {"state_dir", false},
	    {"listeners", true}, {"admin", false},   {"identity", false},
	    {"targets", true},	 {"policy", false},  {"limits", false},
	    {"approvals", false}, {"control", false}, {"audit", false},
	};
	const struct cfg_node *v[NKEYS(keys)];
	struct rg_config *cfg = c->cfg;
	char w[WHERE_MAX];
	uint64_t u;

	if (!map_keys(c, root, "", keys, NKEYS(keys), v))
		return;
	if (v[0] && get_uint(c, v[0], "version", 0, UINT32_MAX, &u)) {
		if (u != RG_CONFIG_VERSION)
			cfg_error(&c->e, v[0]->line, v[0]->col,
				  "version: unsupported version %" PRIu64
				  " (this ringgate reads version %d)",
				  u, RG_CONFIG_VERSION);
		cfg->version = (uint32_t)u;
	}
	if (v[1] && get_uint(c, v[1], "threads", 0, 1024, &u))
		cfg->threads = (uint32_t)u;
	if (v[2])
		cfg->state_dir = get_path(c, v[2], "state_dir");
	if (v[3] && get_seq(c, v[3], "listeners", 1)) {
		cfg->listeners = ctx_alloc(c, v[3]->n * sizeof(*cfg->listeners));
		cfg->n_listeners = cfg->listeners ? v[3]->n : 0;
		for (size_t i = 0; i < cfg->n_listeners; i++)
			parse_listener(c, v[3]->kids[i], join_index(w, "listeners", i),
				       &cfg->listeners[i]);
	}
	if (v[4])
		parse_admin(c, v[4]);
	if (v[5])
		parse_identity(c, v[5]);
	if (v[6] && get_seq(c, v[6], "targets", 1)) {
		cfg->targets = ctx_alloc(c, v[6]->n * sizeof(*cfg->targets));
		cfg->n_targets = cfg->targets ? v[6]->n : 0;
		for (size_t i = 0; i < cfg->n_targets; i++)
			parse_target(c, v[6]->kids[i], join_index(w, "targets", i),
				     &cfg->targets[i]);
	}
	if (v[7])
		parse_policy(c, v[7]);
	if (v[8])
		parse_limits(c, v[8]);
	c->cfg->approvals.webhook_timeout_ms = 5 * MS_SECOND;
	if (v[9])
		parse_approvals(c, v[9]);
	if (v[10]) {
		/* the control store: a shared PostgreSQL (the default is SQLite in state_dir) */
		const char *u = get_str(c, v[10], "control");

		if (u && strncmp(u, "postgres://", 11) && strncmp(u, "postgresql://", 13))
			cfg_error(&c->e, v[10]->line, v[10]->col,
				  "control: '%s' is not a postgres:// or postgresql:// URI", u);
		else
			cfg->control = u;
	}
	if (v[11])
		parse_audit(c, v[11]);
	cross_check(c, v[4] && v[4]->kind == CFG_MAP ? c->admin_addr : NULL);
}

int rg_config_parse(const char *buf, size_t len, const char *name, const char *base_dir,
		    struct rg_config **out, FILE *errs)
{
	struct ctx c = {.e = {.out = errs, .file = name ? name : "<config>"}};
	struct cfg_node *root = NULL;
	int rc;

	*out = NULL;
	c.a = cfg_arena_new();
	if (!c.a)
		return -ENOMEM;
	c.cfg = ctx_alloc(&c, sizeof(*c.cfg));
	if (!c.cfg) {
		rc = -ENOMEM;
		goto out_arena;
	}
	c.cfg->arena = c.a;
	c.cfg->path = ctx_strdup(&c, c.e.file);
	c.base_dir = ctx_strdup(&c, base_dir && *base_dir ? base_dir : ".");
	c.cfg->dir = c.base_dir;
	c.cfg->state_dir = "/var/lib/ringgate";
	c.cfg->identity.clock_skew_ms = 60 * MS_SECOND;
	c.cfg->limits.idle_timeout_ms = MS_HOUR;
	c.cfg->limits.max_sessions = 10000;
	c.cfg->limits.max_pending_logins = 128;
	c.cfg->limits.max_pending_per_address = 32;
	c.cfg->limits.password_timeout_ms = 10 * MS_SECOND;
	c.cfg->limits.login_timeout_ms = 60 * MS_SECOND;
	if (c.oom) {
		rc = -ENOMEM;
		goto out_arena;
	}

	rc = cfg_tree_parse(buf, len, &c.e, &root);
	if (rc)
		goto out_errs;
	if (!root)
		cfg_error(&c.e, 1, 1, "empty configuration (expected a mapping with version: 1)");
	else
		parse_root(&c, root);
	cfg_tree_free(root);

	if (c.oom)
		rc = -ENOMEM;
	else if (c.e.count)
		rc = -EINVAL;
	if (rc)
		goto out_errs;
	*out = c.cfg;
	return 0;

out_errs:
	cfg_errs_flush(&c.e);
out_arena:
	cfg_arena_free(c.a);
	return rc;
}

static int read_file(const char *path, char **buf, size_t *len, FILE *errs)
{
	struct stat st;
	size_t off = 0;
	int fd, rc = 0;
	char *b = NULL;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		goto out_err;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		if (errs)
			fprintf(errs, "%s: not a regular file\n", path);
		goto out_close;
	}
	if ((uint64_t)st.st_size > MAX_FILE_SIZE) {
		rc = -EINVAL;
		if (errs)
			fprintf(errs, "%s: larger than %u bytes\n", path, MAX_FILE_SIZE);
		goto out_close;
	}
	b = malloc((size_t)st.st_size + 1);
	if (!b) {
		rc = -ENOMEM;
		goto out_close;
	}
	while (off < (size_t)st.st_size) {
		ssize_t r = read(fd, b + off, (size_t)st.st_size - off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			goto out_close;
		}
		if (r == 0)
			break;
		off += (size_t)r;
	}
	b[off] = '\0';
	*buf = b;
	*len = off;
	b = NULL;
out_close:
	free(b);
	close(fd);
out_err:
	if (rc && rc != -EINVAL && errs)
		fprintf(errs, "%s: %s\n", path, strerror(-rc));
	return rc;
}

int rg_config_load(const char *path, struct rg_config **out, FILE *errs)
{
	char *buf = NULL, *copy = NULL, *abs = NULL;
	const char *dir;
	size_t len = 0;
	int rc;

	*out = NULL;
	rc = read_file(path, &buf, &len, errs);
	if (rc)
		return rc;
	/*
	 * Relative paths mean "next to the config file as the user sees it": make that directory
	 * absolute (so a later chdir changes nothing) but do not follow a symlink to the file.
	 */
	copy = strdup(path);
	if (!copy) {
		rc = -ENOMEM;
		goto out;
	}
	dir = dirname(copy);
	abs = realpath(dir, NULL);
	rc = rg_config_parse(buf, len, path, abs ? abs : dir, out, errs);
out:
	free(abs);
	free(copy);
	free(buf);
	return rc;
}

void rg_config_free(struct rg_config *cfg)
{
	if (cfg)
		cfg_arena_free(cfg->arena);
}

const struct rg_config_target *rg_config_target(const struct rg_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_targets; i++)
		if (!strcmp(cfg->targets[i].name, name))
			return &cfg->targets[i];
	return NULL;
}

const struct rg_config_listener *rg_config_listener(const struct rg_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_listeners; i++)
		if (!strcmp(cfg->listeners[i].name, name))
			return &cfg->listeners[i];
	return NULL;
}

const struct rg_config_issuer *rg_config_issuer(const struct rg_config *cfg, const char *issuer)
{
	for (size_t i = 0; i < cfg->identity.n_issuers; i++)
		if (!strcmp(cfg->identity.issuers[i].issuer, issuer))
			return &cfg->identity.issuers[i];
	return NULL;
}

unsigned rg_config_threads(const struct rg_config *cfg)
{
	long n;

	if (cfg->threads)
		return cfg->threads;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}

const char *rg_config_proto_name(enum rg_config_proto p)
{
	switch (p) {
	case RG_CONFIG_PROTO_POSTGRES:
		return "postgres";
	case RG_CONFIG_PROTO_MYSQL:
		return "mysql";
	}
	return "?";
}

const char *rg_config_tls_mode_name(enum rg_config_tls_mode m)
{
	switch (m) {
	case RG_CONFIG_TLS_DISABLE:
		return "disable";
	case RG_CONFIG_TLS_REQUIRE:
		return "require";
	case RG_CONFIG_TLS_VERIFY_FULL:
		return "verify-full";
	}
	return "?";
}
