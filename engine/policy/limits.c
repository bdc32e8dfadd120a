/*
 * limits: the session limits of an identity on a target, and their printable forms.
 *
 * A limits entry holds a match (the same selectors as rules, decided by rg_match_holds) and
 * any of six values. For a session, every entry whose match holds contributes, and per key
 * the smallest value wins (ties: the first entry in program order, so the result never
 * depends on anything but the bundle). Reads the immutable policy only: no allocation, no
 * locks, callable from any thread. The names here are the rule language's keys and, as
 * enum values, part of the bundle format: append only.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "policy_int.h"

static const char *const names[RG_LIMIT__COUNT] = {
    [RG_LIMIT_SESSION_DURATION] = "max_session_duration",
    [RG_LIMIT_IDLE_TIMEOUT] = "idle_timeout",
    [RG_LIMIT_STATEMENTS] = "max_statements",
    [RG_LIMIT_ROWS] = "max_rows",
    [RG_LIMIT_BYTES] = "max_bytes",
    [RG_LIMIT_DENIALS] = "max_denials",
};

const char *rg_limit_name(enum rg_limit_kind k)
{
	return (unsigned)k < RG_LIMIT__COUNT ? names[k] : NULL;
}

int rg_limit_from_name(const char *name)
{
	for (int i = 0; i < RG_LIMIT__COUNT; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

const char *rg_limit_sqlstate(enum rg_limit_kind k)
{
	return k == RG_LIMIT_IDLE_TIMEOUT ? "57P05" : "57P01";
}

int rg_limit_format_value(enum rg_limit_kind k, uint64_t v, char *buf, size_t len)
{
	if (k == RG_LIMIT_SESSION_DURATION || k == RG_LIMIT_IDLE_TIMEOUT) {
		if (v && v % 3600 == 0)
			return snprintf(buf, len, "%" PRIu64 "h", v / 3600);
		if (v && v % 60 == 0)
			return snprintf(buf, len, "%" PRIu64 "m", v / 60);
		return snprintf(buf, len, "%" PRIu64 "s", v);
	}
	if (k == RG_LIMIT_BYTES) {
		/* largest unit first, binary before decimal at each size: exact, never rounded */
		static const struct {
			const char *unit;
			uint64_t mult;
		} units[] = {
		    {"TiB", UINT64_C(1) << 40}, {"TB", UINT64_C(1000000000000)},
		    {"GiB", UINT64_C(1) << 30}, {"GB", UINT64_C(1000000000)},
		    {"MiB", UINT64_C(1) << 20}, {"MB", UINT64_C(1000000)},
		    {"KiB", UINT64_C(1) << 10}, {"kB", UINT64_C(1000)},
		};
		for (size_t i = 0; v && i < sizeof(units) / sizeof(units[0]); i++)
			if (v % units[i].mult == 0)
				return snprintf(buf, len, "%" PRIu64 "%s", v / units[i].mult,
						units[i].unit);
		return snprintf(buf, len, "%" PRIu64 "B", v);
	}
	return snprintf(buf, len, "%" PRIu64, v);
}

int rg_limit_message(const struct rg_limits *l, enum rg_limit_kind k, char *buf, size_t len)
{
	if ((unsigned)k >= RG_LIMIT__COUNT || !l->v[k].id) {
		if (len)
			buf[0] = 0;
		return 0;
	}
	char val[32];
	rg_limit_format_value(k, l->v[k].value, val, sizeof(val));
	return snprintf(buf, len, "session ended: %s %s (limit %s) exceeded", names[k], val,
			l->v[k].id);
}

int rg_policy_limits(const struct rg_policy *p, const struct rg_request *req, struct rg_limits *out)
{
	int n = 0;
	memset(out, 0, sizeof(*out));
	for (uint32_t i = 0; i < p->meta.nlimits; i++) {
		const struct rg_rt_limit *l = &p->limits[i];
		if (!rg_match_holds(&l->match, req))
			continue;
		for (int k = 0; k < RG_LIMIT__COUNT; k++) {
			struct rg_limit *o = &out->v[k];
			if (!(l->b->set >> k & 1))
				continue;
			if (!o->id)
				n++;
			else if (l->b->value[k] >= o->value)
				continue; /* strictly smaller wins: a tie keeps the earlier entry */
			o->value = l->b->value[k];
			o->id = l->id;
		}
	}
	return n;
}

bool rg_policy_limit_entry(const struct rg_policy *p, uint32_t i, struct rg_limit_entry *out)
{
	if (i >= p->meta.nlimits)
		return false;
	const struct rg_bundle_limit *b = p->limits[i].b;
	out->id = p->limits[i].id;
	out->file = rg_pstr(p, b->file_str);
	out->line = b->line;
	out->set = b->set;
	for (int k = 0; k < RG_LIMIT__COUNT; k++)
		out->value[k] = b->value[k];
	return true;
}
