/*
 * settings.c: which of the agent's startup settings reach the target (pure, unit-tested).
 *
 * A StartupMessage may set any run-time parameter, directly (key=value) or through
 * `options` (-c name=value, --name=value). The gateway forwards an allow-list of settings
 * that only shape the agent's own session (presentation, timeouts, isolation, search_path,
 * see `allowed` below) and refuses every other one with a FATAL that names it, so a client
 * never believes a setting is in force that is not. client_encoding and
 * standard_conforming_strings decide how the server lexes statements: they are pinned
 * upstream to UTF8 and on (the session adds them last), and an agent that asks for anything
 * else is refused (docs/security.md); backslash_quote and escape_string_warning are refused
 * outright. Never reads or writes anything but its arguments.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "pg.h"
#include "sqlclass.h"
#include "wire.h"

/* Lower-case names, compared case-insensitively (GUC names are). */
static const char *const allowed[] = {
    /* presentation */
    "application_name", "datestyle", "timezone", "intervalstyle", "extra_float_digits",
    "bytea_output", "client_min_messages", "lc_monetary", "lc_numeric", "lc_time",
    "xmlbinary", "xmloption",
    /* the agent's own session: name resolution, isolation, timeouts */
    "search_path", "default_transaction_isolation", "default_transaction_read_only",
    "default_transaction_deferrable", "statement_timeout", "lock_timeout",
    "idle_in_transaction_session_timeout", "idle_session_timeout",
};

static bool is_allowed(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if (!strcasecmp(name, allowed[i]))
			return true;
	return false;
}

/* Printable, bounded copy of something the agent sent, for the FATAL message. */
static void clip(const char *in, char *out, size_t cap)
{
	size_t j = 0;

	for (; *in && j + 1 < cap; in++)
		out[j++] = (*in > 0x20 && *in < 0x7f && *in != '"') ? *in : '?';
	out[j] = 0;
}

struct sbuf {
	char *p;
	size_t len, cap, n;
	char *msg;
	size_t msglen;
};

/* One name=value the agent asked for: forwarded, pinned (kept out: the session sends the
 * pinned value) or refused (msg filled, -1). */
static int take(struct sbuf *b, const char *name, size_t nlen, const char *value)
{
	char nm[64], v[40];
	size_t i, vlen = strlen(value);

	if (!nlen || nlen >= sizeof(nm)) {
		clip(name, nm, sizeof(nm));
		snprintf(b->msg, b->msglen, "unsupported startup parameter \"%s\"", nm);
		return -1;
	}
	for (i = 0; i < nlen; i++) /* --long-option spells underscores as dashes */
		nm[i] = name[i] == '-' ? '_' : (char)tolower((unsigned char)name[i]);
	nm[nlen] = 0;
	if (!strcmp(nm, "client_encoding")) {
		if (rg_sqlclass_encoding_is_utf8(value))
			return 0;
		clip(value, v, sizeof(v));
		snprintf(b->msg, b->msglen,
			 "client_encoding \"%s\" is not supported by ringgate: use UTF8", v);
		return -1;
	}
	if (!strcmp(nm, "standard_conforming_strings")) {
		if (rg_sqlclass_setting_is_on(value))
			return 0;
		snprintf(b->msg, b->msglen,
			 "standard_conforming_strings must be on through ringgate");
		return -1;
	}
	if (!is_allowed(nm)) {
		char shown[64];

		clip(nm, shown, sizeof(shown));
		snprintf(b->msg, b->msglen,
			 "startup parameter \"%s\" is not supported by ringgate", shown);
		return -1;
	}
	if (b->n == RG_PG_SETTINGS_MAX || b->len + nlen + 1 + vlen + 1 > b->cap) {
		snprintf(b->msg, b->msglen, "too many startup settings");
		return -1;
	}
	memcpy(b->p + b->len, nm, nlen + 1);
	b->len += nlen + 1;
	memcpy(b->p + b->len, value, vlen + 1);
	b->len += vlen + 1;
	b->n++;
	return 0;
}

/* Next whitespace-separated word of `options`, backslash escaping the next byte (as
 * PostgreSQL's pg_split_opts), unescaped into w. Returns false at the end. */
static bool next_word(const char **pp, char *w, size_t cap, bool *trunc)
{
	const char *p = *pp;
	size_t j = 0;

	while (*p && isspace((unsigned char)*p))
		p++;
	if (!*p)
		return false;
	*trunc = false;
	while (*p && !isspace((unsigned char)*p)) {
		if (*p == '\\' && p[1])
			p++;
		if (j + 1 < cap)
			w[j++] = *p;
		else
			*trunc = true;
		p++;
	}
	w[j] = 0;
	*pp = p;
	return true;
}

/* A "name=value" word after -c or --. */
static int take_assignment(struct sbuf *b, const char *w)
{
	const char *eq = strchr(w, '=');

	if (!eq) {
		char shown[64];

		clip(w, shown, sizeof(shown));
		snprintf(b->msg, b->msglen, "startup option \"%s\" requires a value", shown);
		return -1;
	}
	return take(b, w, (size_t)(eq - w), eq + 1);
}

static int take_options(struct sbuf *b, const char *opts)
{
	char w[RG_PG_STARTUP_MAX + 1];
	bool trunc;

	while (next_word(&opts, w, sizeof(w), &trunc)) {
		if (trunc) {
			snprintf(b->msg, b->msglen, "startup options too long");
			return -1;
		}
		if (!strcmp(w, "-c")) {
			if (!next_word(&opts, w, sizeof(w), &trunc) || trunc) {
				snprintf(b->msg, b->msglen, "startup option -c requires a value");
				return -1;
			}
			if (take_assignment(b, w))
				return -1;
		} else if (!strncmp(w, "-c", 2)) {
			if (take_assignment(b, w + 2))
				return -1;
		} else if (!strncmp(w, "--", 2)) {
			if (take_assignment(b, w + 2))
				return -1;
		} else {
			char shown[32];

			clip(w, shown, sizeof(shown));
			snprintf(b->msg, b->msglen,
				 "startup option \"%s\" is not supported by ringgate", shown);
			return -1;
		}
	}
	return 0;
}

ssize_t rg_pg_startup_settings(const struct rg_pg_startup *su, char *out, size_t cap, size_t *n,
			       char *msg, size_t msglen)
{
	struct sbuf b = {.p = out, .cap = cap, .msg = msg, .msglen = msglen};
	struct rg_pg_kv_iter it;
	const char *k, *v;

	*n = 0;
	msg[0] = 0;
	/* options first: PostgreSQL applies them before the other parameters, and the
	 * target applies what we send in order, so later ones win in both */
	if (su->options && take_options(&b, su->options))
		return -1;
	rg_pg_kv_begin(su, &it);
	while (rg_pg_kv_next(&it, &k, &v)) {
		if (!strcmp(k, "user") || !strcmp(k, "database") || !strcmp(k, "options") ||
		    !strcmp(k, "replication") || !strncmp(k, "_pq_.", 5))
			continue; /* handled by the session, not run-time settings */
		if (take(&b, k, strlen(k), v))
			return -1;
	}
	*n = b.n;
	return (ssize_t)b.len;
}
