/*
 * Error vocabulary of auth: stable names for the audit line, the one message a client ever
 * sees, SQLSTATE mapping, and the sanitiser for values copied from a token into log detail.
 * The client message is deliberately constant: telling a caller "expired" versus "bad
 * signature" helps whoever is probing with forged or stolen tokens.
 */
#include <stdarg.h>
#include <stdio.h>

#include "auth_int.h"

static const char *const names[RG_AUTH_E__COUNT] = {
	[RG_AUTH_OK] = "ok",
	[RG_AUTH_E_MALFORMED] = "malformed",
	[RG_AUTH_E_TOO_LARGE] = "too_large",
	[RG_AUTH_E_ALG_NOT_ALLOWED] = "alg_not_allowed",
	[RG_AUTH_E_UNKNOWN_KID] = "unknown_kid",
	[RG_AUTH_E_BAD_SIGNATURE] = "bad_signature",
	[RG_AUTH_E_EXPIRED] = "expired",
	[RG_AUTH_E_NOT_YET_VALID] = "not_yet_valid",
	[RG_AUTH_E_IAT_IN_FUTURE] = "iat_in_future",
	[RG_AUTH_E_BAD_ISSUER] = "bad_issuer",
	[RG_AUTH_E_BAD_AUDIENCE] = "bad_audience",
	[RG_AUTH_E_MISSING_CLAIM] = "missing_claim",
	[RG_AUTH_E_BAD_CLAIM] = "bad_claim",
	[RG_AUTH_E_LIFETIME_TOO_LONG] = "lifetime_too_long",
	[RG_AUTH_E_NO_KEYS] = "no_keys",
	[RG_AUTH_E_INTERNAL] = "internal",
};

const char *rg_auth_err_name(enum rg_auth_err e)
{
	if ((unsigned)e >= RG_AUTH_E__COUNT)
		return "unknown";
	return names[e];
}

const char *rg_auth_client_message(enum rg_auth_err e)
{
	(void)e;
	return "authentication failed";
}

const char *rg_auth_sqlstate(enum rg_auth_err e)
{
	switch (e) {
	case RG_AUTH_E_NO_KEYS:
	case RG_AUTH_E_INTERNAL:
		return "28000";	/* invalid_authorization_specification */
	default:
		return "28P01";	/* invalid_password */
	}
}

void rg_auth_sanitize(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	if (cap == 0)
		return;
	for (size_t i = 0; i < n && o + 1 < cap; i++) {
		unsigned char c = (unsigned char)s[i];

		out[o++] = (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? (char)c : '?';
	}
	out[o] = '\0';
}

enum rg_auth_err rg_auth_fail_set(struct rg_auth_fail *why, enum rg_auth_err e, const char *fmt,
				  ...)
{
	va_list ap;

	if (!why)
		return e;
	why->err = e;
	va_start(ap, fmt);
	vsnprintf(why->detail, sizeof(why->detail), fmt, ap);
	va_end(ap);
	return e;
}

int rg_auth_errf(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}
