/*
 * url.c: the one rule for which jwks_url ringgate will fetch keys from, and the parsed URL
 * the fetcher then uses, so that what was checked is exactly what is fetched.
 *
 * Keys decide every identity, so where they come from matters: https:// anywhere, plain
 * http:// only to the loopback interface (tests, sidecars). The URL is parsed with libcurl's
 * URL API, the same parser the fetch uses, never by string prefixes: "http://localhost:80@evil/"
 * names the host evil with user "localhost". Any userinfo (user, password, login options) is
 * refused outright: a JWKS endpoint needs no credentials in its URL, and a message quoting
 * such a URL could leak one. Pure: parses, allocates, never resolves or connects.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "auth_int.h"

#define HOST_RULE "must be an https:// URL (http:// only to 127.0.0.1, [::1] or localhost)"

/* True when part p of h is present (even empty: "http://@host/" has an empty user). */
static bool has_part(CURLU *h, CURLUPart p)
{
	char *s = NULL;
	CURLUcode rc = curl_url_get(h, p, &s, 0);

	curl_free(s);
	return rc == CURLUE_OK;
}

static bool loopback_host(const char *host)
{
	/* curl normalises IPv4 (127.1, 0x7f.0.0.1) and IPv6 ([0:...:1]) spellings. */
	return !strcmp(host, "127.0.0.1") || !strcmp(host, "[::1]") ||
	       !strcasecmp(host, "localhost");
}

int rg_auth_url_parse(const char *url, CURLU **out, char *err, size_t errlen)
{
	char safe[128], *scheme = NULL, *host = NULL;
	CURLU *h = NULL;
	size_t skip;
	int ret;

	*out = NULL;
	if (!url)
		return rg_auth_errf(err, errlen, -EINVAL, "jwks_url is missing");
	/* Spell out "scheme://": curl also takes "http:/x" and "https:///x", which read as
	 * one thing and fetch another. */
	if (!strncasecmp(url, "https://", 8))
		skip = 8;
	else if (!strncasecmp(url, "http://", 7))
		skip = 7;
	else
		skip = 0;
	if (strchr(url, '@')) {
		/* Never quote it: the part before '@' may be a password. Checked again on curl's
		 * parse below; this catches it before any message could echo the URL. */
		if (!skip || strcspn(url + skip, "/?#") > strcspn(url + skip, "@"))
			return rg_auth_errf(err, errlen, -EINVAL,
					    "jwks_url must not contain a user name or password "
					    "(userinfo before '@')");
	}
	rg_auth_sanitize(url, strlen(url), safe, sizeof(safe));
	if (!skip || url[skip] == '/' || url[skip] == '\0')
		return rg_auth_errf(err, errlen, -EINVAL, "'%s' " HOST_RULE, safe);
	/* Backslashes, spaces and control bytes: parsers disagree on them (WHATWG reads '\' as
	 * '/'), so nothing that depends on them is accepted. */
	for (const unsigned char *p = (const unsigned char *)url; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f || *p == '\\')
			return rg_auth_errf(err, errlen, -EINVAL,
					    "'%s' contains a backslash, space or non-ASCII byte",
					    safe);
	h = curl_url();
	if (!h)
		return rg_auth_errf(err, errlen, -ENOMEM, "out of memory");
	if (curl_url_set(h, CURLUPART_URL, url, 0) != CURLUE_OK) {
		ret = rg_auth_errf(err, errlen, -EINVAL, "'%s' is not a valid URL", safe);
		goto out;
	}
	if (has_part(h, CURLUPART_USER) || has_part(h, CURLUPART_PASSWORD) ||
	    has_part(h, CURLUPART_OPTIONS)) {
		ret = rg_auth_errf(err, errlen, -EINVAL,
				   "jwks_url must not contain a user name or password "
				   "(userinfo before '@')");
		goto out;
	}
	if (curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host) {
		ret = rg_auth_errf(err, errlen, -EINVAL, "'%s' " HOST_RULE, safe);
		goto out;
	}
	if (!strcmp(scheme, "https")) {
		ret = 0;
	} else if (!strcmp(scheme, "http") && loopback_host(host) &&
		   !has_part(h, CURLUPART_ZONEID)) {
		ret = 0;
	} else {
		ret = rg_auth_errf(err, errlen, -EINVAL, "'%s' " HOST_RULE, safe);
	}
out:
	curl_free(scheme);
	curl_free(host);
	if (ret)
		curl_url_cleanup(h);
	else
		*out = h;
	return ret;
}

int rg_auth_jwks_url_check(const char *url, char *err, size_t errlen)
{
	CURLU *h = NULL;
	int ret = rg_auth_url_parse(url, &h, err, errlen);

	curl_url_cleanup(h);
	return ret;
}
