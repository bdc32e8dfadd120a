/*
 * api.c: the admin listener's pure pieces -- routing, the bearer header, decision bodies,
 * query parameters, error-to-status mapping, who may see what, and a request's JSON. No
 * I/O and no server state, so every rule here is unit-tested from plain strings
 * (tests/unit/admin). Inputs are untrusted client bytes: each parser bounds what it reads
 * and refuses rather than guesses.
 */
#include <errno.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin.h"
#include "auth.h"

#define APPR_PREFIX "/api/approvals"
#define SESS_PREFIX "/api/sessions"

static bool is_id(const char *s, size_t n)
{
	if (n != RG_APPR_ID_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* Which route a path names whatever the method, and the one method it takes. */
static enum rg_admin_route path_route(const char *path, char id[RG_APPR_ID_LEN + 1],
				      const char **method)
{
	static const struct {
		const char *path, *method;
		enum rg_admin_route r;
	} fixed[] = {
	    {"/", "GET", RG_ADMIN_R_PAGE},
	    {"/index.html", "GET", RG_ADMIN_R_PAGE},
	    {"/app.js", "GET", RG_ADMIN_R_PAGE_JS},
	    {"/app.css", "GET", RG_ADMIN_R_PAGE_CSS},
	    {"/favicon.ico", "GET", RG_ADMIN_R_FAVICON},
	    {"/healthz", "GET", RG_ADMIN_R_HEALTHZ},
	    {"/metrics", "GET", RG_ADMIN_R_METRICS},
	    {"/readyz", "GET", RG_ADMIN_R_READYZ},
	    {"/reload", "POST", RG_ADMIN_R_RELOAD},
	    {APPR_PREFIX, "GET", RG_ADMIN_R_APPR_LIST},
	    {APPR_PREFIX "/", "GET", RG_ADMIN_R_APPR_LIST},
	    {SESS_PREFIX, "GET", RG_ADMIN_R_SESS_LIST},
	    {SESS_PREFIX "/", "GET", RG_ADMIN_R_SESS_LIST},
	};
	const char *rest, *slash;

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		if (!strcmp(path, fixed[i].path)) {
			*method = fixed[i].method;
			return fixed[i].r;
		}
	}
	if (!strncmp(path, SESS_PREFIX "/", sizeof(SESS_PREFIX))) {
		rest = path + sizeof(SESS_PREFIX);
		if (strchr(rest, '/'))
			return RG_ADMIN_R_NOT_FOUND;
		if (strlen(rest) <= RG_APPR_ID_LEN)
			strcpy(id, rest);
		*method = "GET";
		return RG_ADMIN_R_SESS_GET;
	}
	if (strncmp(path, APPR_PREFIX "/", sizeof(APPR_PREFIX)))
		return RG_ADMIN_R_NOT_FOUND;
	rest = path + sizeof(APPR_PREFIX);
	slash = strchr(rest, '/');
	if (!is_id(rest, slash ? (size_t)(slash - rest) : strlen(rest)))
		return RG_ADMIN_R_NOT_FOUND;
	memcpy(id, rest, RG_APPR_ID_LEN);
	id[RG_APPR_ID_LEN] = 0;
	if (!slash) {
		*method = "GET";
		return RG_ADMIN_R_APPR_GET;
	}
	*method = "POST";
	if (!strcmp(slash, "/approve"))
		return RG_ADMIN_R_APPR_APPROVE;
	if (!strcmp(slash, "/deny"))
		return RG_ADMIN_R_APPR_DENY;
	return RG_ADMIN_R_NOT_FOUND;
}

enum rg_admin_route rg_admin_route(const char *method, const char *path,
				   char id[RG_APPR_ID_LEN + 1], const char **allow)
{
	const char *want = NULL;
	enum rg_admin_route r;

	id[0] = 0;
	if (allow)
		*allow = NULL;
	if (!method || !path)
		return RG_ADMIN_R_NOT_FOUND;
	r = path_route(path, id, &want);
	if (r == RG_ADMIN_R_NOT_FOUND)
		return r;
	if (!strcmp(method, want) || (!strcmp(want, "GET") && !strcmp(method, "HEAD")))
		return r;
	if (allow)
		*allow = !strcmp(want, "GET") ? "GET, HEAD" : want;
	return RG_ADMIN_R_BAD_METHOD;
}

int rg_admin_bearer(const char *h, const char **token, size_t *len)
{
	size_t n;

	*token = NULL;
	*len = 0;
	if (!h || strncasecmp(h, "Bearer", 6) || (h[6] != ' ' && h[6] != '\t'))
		return -EINVAL;
	h += 6;
	h += strspn(h, " \t");
	n = strcspn(h, " \t\r\n");
	/* Nothing may follow the token but trailing blanks. */
	if (!n || n > RG_ADMIN_MAX_TOKEN || h[n + strspn(h + n, " \t")])
		return -EINVAL;
	*token = h;
	*len = n;
	return 0;
}

int rg_admin_parse_decision(const char *body, size_t len, char **reason, const char **why)
{
	json_error_t jerr;
	json_t *doc, *r;
	const char *s, *key;
	json_t *v;
	size_t n;
	int ret = -EINVAL;

	*reason = NULL;
	*why = "the body must be a JSON object {\"reason\": \"...\"}";
	if (!body || !len || len > RG_ADMIN_MAX_BODY)
		return -EINVAL;
	doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(doc))
		goto out;
	json_object_foreach(doc, key, v)
	{
		if (strcmp(key, "reason")) {
			*why = "unknown key in the body (only \"reason\" is accepted)";
			goto out;
		}
	}
	r = json_object_get(doc, "reason");
	if (!json_is_string(r)) {
		*why = "\"reason\" is required: a string";
		goto out;
	}
	s = json_string_value(r);
	n = json_string_length(r);
	if (!n || n > RG_ADMIN_MAX_REASON) {
		*why = "\"reason\" must be 1 to 1000 bytes";
		goto out;
	}
	/* Control characters would forge lines in logs and notices: one line of text. */
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			*why = "\"reason\" must not contain control characters";
			goto out;
		}
	}
	*reason = strdup(s);
	ret = *reason ? 0 : -ENOMEM;
	*why = ret ? "out of memory" : NULL;
out:
	json_decref(doc);
	return ret;
}

int rg_admin_status_filter(const char *s)
{
	if (!s || !strcmp(s, "all"))
		return -1;
	int st = rg_appr_status_parse(s);

	return st < 0 ? -2 : st;
}

size_t rg_admin_list_limit(const char *s)
{
	size_t v = 0;

	if (!s)
		return RG_ADMIN_LIST_DEFAULT;
	if (!*s || strlen(s) > 4 || strspn(s, "0123456789") != strlen(s))
		return 0;
	v = (size_t)strtoul(s, NULL, 10);
	return v >= 1 && v <= RG_ADMIN_LIST_MAX ? v : 0;
}

int rg_admin_session_id(const char *s, long long *out)
{
	size_t n = s ? strlen(s) : 0;

	*out = 0;
	if (!n || n > 18 || strspn(s, "0123456789") != n)
		return -EINVAL;
	*out = strtoll(s, NULL, 10);
	return *out > 0 ? 0 : -EINVAL;
}

/* n digits at s as a number in [lo, hi]: 0 or -1. */
static int digits(const char *s, int n, int lo, int hi, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return v >= lo && v <= hi ? 0 : -1;
}

int rg_admin_parse_time(const char *s, int64_t *us)
{
	struct tm tm = {0}, back;
	int y, mo, d, h, mi, sec, frac = 0, nf = 0;
	time_t t;

	*us = 0;
	if (!s || strlen(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
	    s[16] != ':')
		return -EINVAL;
	if (digits(s, 4, 1970, 9999, &y) || digits(s + 5, 2, 1, 12, &mo) ||
	    digits(s + 8, 2, 1, 31, &d) || digits(s + 11, 2, 0, 23, &h) ||
	    digits(s + 14, 2, 0, 59, &mi) || digits(s + 17, 2, 0, 59, &sec))
		return -EINVAL;
	s += 19;
	if (*s == '.') {
		for (s++; *s >= '0' && *s <= '9' && nf < 6; s++, nf++)
			frac = frac * 10 + (*s - '0');
		if (!nf)
			return -EINVAL;
		for (int i = nf; i < 6; i++)
			frac *= 10;
	}
	if (strcmp(s, "Z"))
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	/* timegm normalises (February 30th is March 2nd): a date that moved did not exist */
	if (t == (time_t)-1 || !gmtime_r(&t, &back) || back.tm_mday != d || back.tm_mon != mo - 1)
		return -EINVAL;
	*us = (int64_t)t * 1000000 + frac;
	return 0;
}

static const char *present(const char *s)
{
	return s && *s ? s : NULL;
}

int rg_admin_sessions_filter(const struct rg_admin_sess_query *q, struct rg_sessions_filter *f,
			     size_t *limit, const char **why)
{
	const char *v = present(q->verdict);

	*f = (struct rg_sessions_filter){.since_us = -1, .until_us = -1};
	*why = NULL;
	f->sub = present(q->sub);
	f->target = present(q->target);
	if ((f->sub && strlen(f->sub) > RG_ADMIN_MAX_FILTER) ||
	    (f->target && strlen(f->target) > RG_ADMIN_MAX_FILTER)) {
		*why = "sub and target are at most 256 bytes";
		return -EINVAL;
	}
	if ((present(q->since) && rg_admin_parse_time(q->since, &f->since_us)) ||
	    (present(q->until) && rg_admin_parse_time(q->until, &f->until_us))) {
		*why = "since and until are UTC times like 2026-12-02T05:00:00Z (fractions of a "
		       "second allowed)";
		return -EINVAL;
	}
	if (f->since_us >= 0 && f->until_us >= 0 && f->since_us > f->until_us) {
		*why = "since is after until";
		return -EINVAL;
	}
	if (v && strcmp(v, "deny") && strcmp(v, "all")) {
		*why = "verdict must be deny (sessions with a denied statement) or all";
		return -EINVAL;
	}
	f->denied = v && !strcmp(v, "deny");
	*limit = rg_admin_list_limit(present(q->limit));
	if (!*limit) {
		*why = "limit must be an integer 1..1000";
		return -EINVAL;
	}
	return 0;
}

unsigned rg_admin_http_status(int err)
{
	switch (err) {
	case 0:
		return 200;
	case RG_CONTROL_E_NOT_FOUND:
		return 404;
	case RG_CONTROL_E_SELF:
	case RG_CONTROL_E_NOT_REVIEWER:
		return 403;
	case RG_CONTROL_E_NOT_PENDING:
		return 409;
	case RG_CONTROL_E_EXPIRED:
		return 410;
	case RG_CONTROL_E_INVALID:
		return 400;
	default:
		return 500;
	}
}

void rg_admin_who_from(const struct rg_auth_identity *id, struct rg_admin_who *w)
{
	w->iss = id->iss;
	w->sub = id->sub;
	w->ngroups = 0;
	for (uint32_t i = 0; i < id->n_groups && w->ngroups < RG_APPR_MAX_GROUPS; i++)
		w->groups[w->ngroups++] = rg_auth_identity_group(id, i);
}

bool rg_admin_in_groups(const struct rg_admin_who *w, const char *const *list, size_t n)
{
	for (size_t i = 0; i < w->ngroups; i++)
		for (size_t k = 0; k < n; k++)
			if (w->groups[i] && list[k] && !strcmp(w->groups[i], list[k]))
				return true;
	return false;
}

bool rg_admin_may_see(const struct rg_appr *a, const struct rg_admin_who *w, bool operator)
{
	const char *rv = a->reviewers;

	if (operator)
		return true;
	if (a->issuer && a->subject && !strcmp(a->issuer, w->iss) && !strcmp(a->subject, w->sub))
		return true;
	return rv && rg_admin_in_groups(w, &rv, 1);
}

int rg_admin_approval_url(const char *base, const char *id, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%s/#/approvals/%s", base ? base : "", id);

	return n < 0 || (size_t)n >= outlen ? -ENOSPC : n;
}

/* Text from the store as a JSON string; bytes that are not UTF-8 (a statement is the
 * client's bytes) become '?' rather than failing the whole answer. */
static json_t *str_or_null(const char *s)
{
	json_t *j;
	char *copy;

	if (!s)
		return json_null();
	j = json_string(s);
	if (j || !(copy = strdup(s)))
		return j;
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

json_t *rg_admin_appr_json(const struct rg_appr *a, const char *base_url)
{
	char url[1024];
	json_t *o = json_object(), *g = json_array();
	int bad = !o || !g;

	for (size_t i = 0; !bad && i < a->ngroups; i++)
		bad |= json_array_append_new(g, str_or_null(a->groups[i]));
	if (bad || rg_admin_approval_url(base_url, a->id, url, sizeof(url)) < 0)
		goto fail;
	bad |= json_object_set_new(o, "id", json_string(a->id));
	bad |= json_object_set_new(o, "status", json_string(rg_appr_status_name(a->status)));
	bad |= json_object_set_new(
	    o, "scope",
	    json_string(a->scope == RG_APPR_SCOPE_FINGERPRINT ? "fingerprint" : "once"));
	bad |= json_object_set_new(o, "grant_ttl_s", json_integer(a->grant_ttl_s));
	bad |= json_object_set_new(o, "issuer", str_or_null(a->issuer));
	bad |= json_object_set_new(o, "subject", str_or_null(a->subject));
	bad |= json_object_set_new(o, "groups", g);
	g = NULL;
	bad |= json_object_set_new(o, "peer", str_or_null(a->peer));
	bad |= json_object_set_new(o, "target", str_or_null(a->target));
	bad |= json_object_set_new(o, "rule", str_or_null(a->rule));
	bad |= json_object_set_new(o, "reviewers", str_or_null(a->reviewers));
	bad |= json_object_set_new(o, "sql", str_or_null(a->sql));
	bad |= json_object_set_new(o, "fingerprint", str_or_null(a->fingerprint));
	bad |= json_object_set_new(o, "node", json_string(a->node));
	bad |= json_object_set_new(o, "created_ms", json_integer(a->created_ms));
	bad |= json_object_set_new(o, "expires_ms", json_integer(a->expires_ms));
	bad |= json_object_set_new(o, "decided_ms",
				   a->status == RG_APPR_PENDING ? json_null()
								: json_integer(a->decided_ms));
	bad |= json_object_set_new(o, "decided_by", str_or_null(a->decided_by));
	bad |= json_object_set_new(o, "decided_iss", str_or_null(a->decided_iss));
	bad |= json_object_set_new(o, "reason", str_or_null(a->reason));
	bad |= json_object_set_new(o, "url", json_string(url));
	if (!bad)
		return o;
fail:
	json_decref(g);
	json_decref(o);
	return NULL;
}
