/*
 * detect: the catalogue of sensitive-data detectors (pattern + validator per detector) and
 * the check that a raw Hyperscan match inside a field is a real instance.
 *
 * Patterns are written for Hyperscan with HS_FLAG_SOM_LEFTMOST and deliberately carry no
 * \b: when a whole DataRow is scanned the byte before a field is its length, so boundaries
 * are judged here against the field (rg_detector_confirm), where the field edge counts as
 * a boundary. rg_detector_confirm may widen a match before validating it: the email
 * pattern starts at the character before '@' (SOM over a leading unbounded class is very
 * slow) and confirm extends it over the local part, so a validator's "whole match" is
 * the instance after that adjustment. Validators see only the match and must be total over
 * arbitrary bytes: they are fed fuzzed input. ASCII only, never the C locale's ctype. Nothing here
 * allocates.
 */
#include <arpa/inet.h>
#include <string.h>

#include "mask.h"

static inline bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static inline bool is_upper(uint8_t c)
{
	return c >= 'A' && c <= 'Z';
}

static inline bool is_alpha(uint8_t c)
{
	return is_upper(c) || (c >= 'a' && c <= 'z');
}

static inline bool is_alnum(uint8_t c)
{
	return is_digit(c) || is_alpha(c);
}

static inline bool is_hex(uint8_t c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static inline bool is_b64url(uint8_t c)
{
	return is_alnum(c) || c == '-' || c == '_';
}

static inline bool is_email_local(uint8_t c)
{
	return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

/* ---- credit_card: 13-19 digits, single ' ' or '-' separators, Luhn, brand length ---- */

static bool card_brand_ok(const uint8_t *d, int n)
{
	int p2 = (d[0] - '0') * 10 + (d[1] - '0');
	int p3 = p2 * 10 + (d[2] - '0');
	int p4 = p3 * 10 + (d[3] - '0');

	if (d[0] == '4') /* Visa */
		return n == 13 || n == 16 || n == 19;
	if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) /* Mastercard */
		return n == 16;
	if (p2 == 34 || p2 == 37) /* Amex */
		return n == 15;
	if (p4 == 6011 || (p3 >= 644 && p3 <= 649) || p2 == 65) /* Discover */
		return n >= 16 && n <= 19;
	if (p4 >= 3528 && p4 <= 3589) /* JCB */
		return n >= 16 && n <= 19;
	if (p2 == 36 || (p3 >= 300 && p3 <= 305) || p2 == 38 || p2 == 39) /* Diners */
		return n >= 14 && n <= 19;
	if (p2 == 62) /* UnionPay */
		return n >= 16 && n <= 19;
	return false;
}

static bool v_credit_card(const uint8_t *p, size_t n)
{
	uint8_t d[19];
	int nd = 0;

	if (n < 13 || n > 37 || !is_digit(p[0]) || !is_digit(p[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (is_digit(p[i])) {
			if (nd == 19)
				return false;
			d[nd++] = p[i];
		} else if ((p[i] != ' ' && p[i] != '-') || !is_digit(p[i - 1])) {
			return false; /* only single separators between digits */
		}
	}
	if (nd < 13)
		return false;
	int sum = 0;
	for (int i = nd - 1, dbl = 0; i >= 0; i--, dbl ^= 1) {
		int v = d[i] - '0';
		if (dbl) {
			v *= 2;
			if (v > 9)
				v -= 9;
		}
		sum += v;
	}
	return sum % 10 == 0 && card_brand_ok(d, nd);
}

/* ---- iban: country + 2 check digits + BBAN, spaces only every 4, length, mod 97 ---- */

static const struct {
	char cc[3];
	uint8_t len;
} iban_lengths[] = {
    {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16}, {"BG", 22},
    {"BH", 22}, {"BR", 29}, {"CH", 21}, {"CR", 22}, {"CY", 28}, {"CZ", 24}, {"DE", 22}, {"DK", 18},
    {"DO", 28}, {"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18}, {"FO", 18}, {"FR", 27}, {"GB", 22},
    {"GE", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27}, {"GT", 28}, {"HR", 21}, {"HU", 28}, {"IE", 22},
    {"IL", 23}, {"IS", 26}, {"IT", 27}, {"JO", 30}, {"KW", 30}, {"KZ", 20}, {"LB", 28}, {"LI", 21},
    {"LT", 20}, {"LU", 20}, {"LV", 21}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MK", 19}, {"MR", 27},
    {"MT", 31}, {"MU", 30}, {"NL", 18}, {"NO", 15}, {"PK", 24}, {"PL", 28}, {"PS", 29}, {"PT", 25},
    {"QA", 29}, {"RO", 24}, {"RS", 22}, {"SA", 24}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27},
    {"TN", 24}, {"TR", 26}, {"UA", 29}, {"VA", 22}, {"VG", 24}, {"XK", 20},
};

static int iban_length(const uint8_t *cc)
{
	for (size_t i = 0; i < sizeof(iban_lengths) / sizeof(iban_lengths[0]); i++)
		if (iban_lengths[i].cc[0] == cc[0] && iban_lengths[i].cc[1] == cc[1])
			return iban_lengths[i].len;
	return -1; /* unknown country: reject */
}

static bool v_iban(const uint8_t *p, size_t n)
{
	uint8_t s[34];
	size_t ns = 0;

	for (size_t i = 0; i < n; i++) {
		if (p[i] == ' ') {
			/* a space may only follow a complete group of four */
			if (ns == 0 || ns % 4 != 0 || i + 1 == n || p[i + 1] == ' ')
				return false;
			continue;
		}
		if (!is_upper(p[i]) && !is_digit(p[i]))
			return false;
		if (ns == sizeof(s))
			return false;
		s[ns++] = p[i];
	}
	if (ns < 15 || !is_upper(s[0]) || !is_upper(s[1]) || !is_digit(s[2]) || !is_digit(s[3]))
		return false;
	if (iban_length(s) != (int)ns)
		return false;
	/* Rearranged (BBAN then country and check digits), letters as 10..35, mod 97. */
	unsigned rem = 0;
	for (size_t k = 0; k < ns; k++) {
		uint8_t c = s[(k + 4) % ns];
		if (is_digit(c))
			rem = (rem * 10 + (c - '0')) % 97;
		else
			rem = (rem * 100 + (c - 'A' + 10)) % 97;
	}
	return rem == 1;
}

/* ---- us_ssn: AAA-GG-SSSS, dashed form only ---- */

static int num(const uint8_t *p, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++)
		v = v * 10 + (p[i] - '0');
	return v;
}

static bool v_us_ssn(const uint8_t *p, size_t n)
{
	static const char shape[] = "ddd-dd-dddd";

	if (n != 11)
		return false;
	for (size_t i = 0; i < n; i++)
		if (shape[i] == 'd' ? !is_digit(p[i]) : p[i] != '-')
			return false;
	int area = num(p, 3), group = num(p + 4, 2), serial = num(p + 7, 4);
	return area != 0 && area != 666 && area < 900 && group != 0 && serial != 0;
}

/* ---- aba_routing: 9 digits, Fed prefix ranges, 3-7-1 checksum ---- */

static bool v_aba_routing(const uint8_t *p, size_t n)
{
	static const int w[9] = {3, 7, 1, 3, 7, 1, 3, 7, 1};

	if (n != 9)
		return false;
	for (size_t i = 0; i < 9; i++)
		if (!is_digit(p[i]))
			return false;
	int pre = num(p, 2);
	if (!(pre <= 12 || (pre >= 21 && pre <= 32) || (pre >= 61 && pre <= 72) || pre == 80))
		return false;
	int sum = 0;
	for (int i = 0; i < 9; i++)
		sum += w[i] * (p[i] - '0');
	return sum % 10 == 0;
}

/* ---- email: local@domain, pragmatic RFC 5322 subset ---- */

static bool v_email(const uint8_t *p, size_t n)
{
	const uint8_t *at = memchr(p, '@', n);

	if (!at)
		return false;
	size_t nl = (size_t)(at - p), nd = n - nl - 1;
	if (nl < 1 || nl > 64 || nd < 4 || nd > 253)
		return false;
	for (size_t i = 0; i < nl; i++) {
		if (!is_email_local(p[i]))
			return false;
		if (p[i] == '.' && (i == 0 || i + 1 == nl || p[i + 1] == '.'))
			return false;
	}
	const uint8_t *d = at + 1;
	size_t lab = 0, labels = 0;
	for (size_t i = 0; i <= nd; i++) {
		if (i == nd || d[i] == '.') {
			if (lab < 1 || lab > 63 || d[i - 1] == '-' || d[i - lab] == '-')
				return false;
			labels++;
			lab = 0;
			continue;
		}
		if (!is_alnum(d[i]) && d[i] != '-')
			return false;
		lab++;
	}
	if (labels < 2)
		return false;
	/* the top-level domain is alphabetic, at least two letters */
	size_t t = nd;
	while (d[t - 1] != '.')
		t--;
	bool tld_alpha = nd - t >= 2;
	for (size_t i = t; i < nd; i++)
		tld_alpha = tld_alpha && is_alpha(d[i]);
	return tld_alpha;
}

/* ---- phone_e164: '+', 8-15 digits, first not 0, single ' ' or '-' separators ---- */

static bool v_phone_e164(const uint8_t *p, size_t n)
{
	int nd = 0;

	if (n < 9 || p[0] != '+' || !is_digit(p[1]) || p[1] == '0' || !is_digit(p[n - 1]))
		return false;
	for (size_t i = 1; i < n; i++) {
		if (is_digit(p[i]))
			nd++;
		else if ((p[i] != ' ' && p[i] != '-') || !is_digit(p[i - 1]))
			return false;
	}
	return nd >= 8 && nd <= 15;
}

/* ---- jwt: header.payload.signature, header and payload JSON objects ---- */

static int b64url_val(uint8_t c)
{
	if (is_upper(c))
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (is_digit(c))
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/* Decode up to outcap bytes of the base64url segment p[0..n); returns bytes written or -1. */
static int b64url_decode(const uint8_t *p, size_t n, uint8_t *out, int outcap)
{
	unsigned acc = 0;
	int bits = 0, k = 0;

	if (n % 4 == 1)
		return -1;
	for (size_t i = 0; i < n && k < outcap; i++) {
		int v = b64url_val(p[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[k++] = (uint8_t)(acc >> bits);
		}
	}
	return k;
}

static bool json_object_start(const uint8_t *b, int n)
{
	int i = 0;
	if (n < 1 || b[0] != '{')
		return false;
	for (i = 1; i < n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n'); i++)
		;
	return i == n || b[i] == '"' || b[i] == '}';
}

static bool v_jwt(const uint8_t *p, size_t n)
{
	const uint8_t *d1 = memchr(p, '.', n);
	if (!d1)
		return false;
	const uint8_t *d2 = memchr(d1 + 1, '.', n - (size_t)(d1 + 1 - p));
	if (!d2 || memchr(d2 + 1, '.', n - (size_t)(d2 + 1 - p)))
		return false;
	size_t nh = (size_t)(d1 - p), np = (size_t)(d2 - d1 - 1), ns = n - (size_t)(d2 + 1 - p);
	uint8_t hdr[768], pay[8];
	if (nh < 4 || np < 2 || ns % 4 == 1)
		return false;
	for (size_t i = 0; i < ns; i++)
		if (!is_b64url(d2[1 + i]))
			return false;
	int kh = b64url_decode(p, nh, hdr, (int)sizeof(hdr));
	int kp = b64url_decode(d1 + 1, np, pay, (int)sizeof(pay));
	if (kh < 2 || kp < 2 || !json_object_start(hdr, kh) || !json_object_start(pay, kp))
		return false;
	/* A JOSE header names its algorithm; a short header that does not is no JWT. */
	if (kh < (int)sizeof(hdr))
		return memmem(hdr, (size_t)kh, "\"alg\"", 5) != NULL;
	return true;
}

/* ---- aws_access_key: known prefix + 16 base32 characters ---- */

static bool v_aws_access_key(const uint8_t *p, size_t n)
{
	static const char *const pre[] = {"AKIA", "ASIA", "AGPA", "AIDA",
					  "AROA", "ANPA", "ANVA", "AIPA"};
	bool ok = false;

	if (n != 20)
		return false;
	for (size_t i = 0; i < sizeof(pre) / sizeof(pre[0]); i++)
		ok = ok || memcmp(p, pre[i], 4) == 0;
	for (size_t i = 4; i < 20 && ok; i++)
		ok = is_upper(p[i]) || (p[i] >= '2' && p[i] <= '7');
	return ok;
}

/* ---- private_key: a whole PEM block whose BEGIN and END labels agree ---- */

static bool v_private_key(const uint8_t *p, size_t n)
{
	static const char begin[] = "-----BEGIN ", end[] = "-----END ", tail[] = "PRIVATE KEY-----";
	const size_t nb = sizeof(begin) - 1, ne = sizeof(end) - 1, nt = sizeof(tail) - 1;

	if (n < nb + nt + ne + nt + 1 || memcmp(p, begin, nb) != 0)
		return false;
	const uint8_t *t = memmem(p + nb, n - nb, tail, nt);
	if (!t)
		return false;
	size_t nlabel = (size_t)(t - (p + nb)); /* "", "RSA ", "ENCRYPTED ", ... */
	const uint8_t *body = t + nt;
	size_t suffix = ne + nlabel + nt;
	if ((size_t)(body - p) + suffix > n)
		return false;
	const uint8_t *e = p + n - suffix;
	if (memcmp(e, end, ne) != 0 || memcmp(e + ne, p + nb, nlabel) != 0 ||
	    memcmp(e + ne + nlabel, tail, nt) != 0)
		return false;
	size_t b64 = 0;
	for (const uint8_t *q = body; q < e; q++)
		b64 += is_alnum(*q) || *q == '+' || *q == '/';
	return b64 >= 16;
}

/* ---- ipv4 / ipv6 ---- */

static bool v_ipv4(const uint8_t *p, size_t n)
{
	int octets = 0;
	size_t i = 0;

	while (i < n) {
		size_t s = i;
		int v = 0;
		while (i < n && is_digit(p[i]) && i - s < 3)
			v = v * 10 + (p[i++] - '0');
		if (i == s || v > 255 || (p[s] == '0' && i - s > 1))
			return false;
		octets++;
		if (i == n)
			break;
		if (p[i] != '.' || octets == 4)
			return false;
		i++;
		if (i == n)
			return false;
	}
	return octets == 4;
}

static bool v_ipv6(const uint8_t *p, size_t n)
{
	char buf[INET6_ADDRSTRLEN];
	struct in6_addr a;
	bool hex = false;

	if (n < 3 || n >= sizeof(buf))
		return false;
	for (size_t i = 0; i < n; i++)
		hex = hex || is_hex(p[i]);
	if (!hex) /* "::" alone is a cast in SQL text far more often than an address */
		return false;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return inet_pton(AF_INET6, buf, &a) == 1;
}

/*
 * Changing a pattern, a validator or a boundary rule (glued_left/glued_right, the retry in
 * rg_detector_confirm) changes what a bundle's SOM database means: bump
 * RG_DETECTOR_CATALOG_VERSION in mask.h, and re-derive that detector's prefilter condition
 * in mask.c, which must stay implied by every match this file can confirm
 * (tests/unit/policy/test_mask_prefilter.c).
 */
#define HEX4 "[0-9A-Fa-f]{1,4}"
#define QUAD "\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}"

static const struct rg_detector_def defs[RG_DET__COUNT] = {
    /* contiguous, or separated at the printed group boundaries: 4-4-4-4(-3), Amex 4-6-5,
     * Diners 4-6-4. Any-position separators made "12345 2024-01-01 12" a card. */
    [RG_DET_CREDIT_CARD] =
	{"credit_card",
	 "\\d{13,19}|\\d{4}[ \\-]\\d{4}[ \\-]\\d{4}[ \\-]\\d{1,4}(?:[ \\-]\\d{1,3})?"
	 "|\\d{4}[ \\-]\\d{6}[ \\-]\\d{4,5}",
	 0, v_credit_card},
    [RG_DET_IBAN] = {"iban", "[A-Z]{2}\\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?", 0, v_iban},
    [RG_DET_US_SSN] = {"us_ssn", "\\d{3}-\\d{2}-\\d{4}", 0, v_us_ssn},
    [RG_DET_ABA_ROUTING] = {"aba_routing", "\\d{9}", 0, v_aba_routing},
    /* from '@' only: a leading class with SOM costs 20x; confirm extends the start left */
    [RG_DET_EMAIL] = {"email", "[A-Za-z0-9._%+\\-]@[A-Za-z0-9\\-]+(?:\\.[A-Za-z0-9\\-]+)+", 0,
		      v_email},
    [RG_DET_PHONE_E164] = {"phone_e164", "\\+\\d(?:[ \\-]?\\d){7,14}", 0, v_phone_e164},
    [RG_DET_JWT] = {"jwt", "e[wy][A-Za-z0-9_\\-]{8,}\\.[A-Za-z0-9_\\-]{2,}\\.[A-Za-z0-9_\\-]*", 0,
		    v_jwt},
    [RG_DET_AWS_ACCESS_KEY] = {"aws_access_key",
			       "(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z2-7]{16}", 0,
			       v_aws_access_key},
    [RG_DET_PRIVATE_KEY] = {"private_key",
			    "-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----[A-Za-z0-9+/=\\s:,.\\-]*"
			    "-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----",
			    0, v_private_key},
    [RG_DET_IPV4] = {"ipv4", QUAD, 0, v_ipv4},
    [RG_DET_IPV6] = {"ipv6",
		     "(?:" HEX4 ":){7}" HEX4 "|(?:" HEX4 "(?::" HEX4 "){0,6})?::(?:" HEX4
		     "(?::" HEX4 "){0,6})?|::(?:[fF]{4}:)?" QUAD,
		     0, v_ipv6},
};

const struct rg_detector_def *rg_detector_get(enum rg_detector d)
{
	return (unsigned)d < RG_DET__COUNT ? &defs[d] : NULL;
}

/*
 * Boundaries. A neighbour of the match inside the field decides whether the match is a
 * fragment of a longer token: a 16-digit card inside a 20-digit number, an address inside
 * a version string "1.2.3.4.5", a card inside the decimal "0.4111…". The field's edge is
 * always a boundary.
 */
static bool glued_left(enum rg_detector d, const uint8_t *f, size_t s)
{
	uint8_t c = f[s - 1];
	bool more = s >= 2 && is_digit(f[s - 2]); /* "<digit><c>" continues a number */

	switch (d) {
	case RG_DET_EMAIL:
		return is_email_local(c);
	case RG_DET_JWT:
		return is_b64url(c) || c == '.';
	case RG_DET_IPV6:
		return is_alnum(c) || c == ':' || (c == '.' && more);
	case RG_DET_PRIVATE_KEY:
		return false;
	case RG_DET_PHONE_E164:
		return is_alnum(c) || c == '+';
	case RG_DET_CREDIT_CARD:
	case RG_DET_US_SSN:
	case RG_DET_ABA_ROUTING:
	case RG_DET_IPV4:
		return is_alnum(c) || ((c == '.' || c == '-') && more);
	default:
		return is_alnum(c);
	}
}

static bool glued_right(enum rg_detector d, const uint8_t *f, size_t flen, size_t e)
{
	uint8_t c = f[e];
	bool more = e + 1 < flen && is_digit(f[e + 1]);

	switch (d) {
	case RG_DET_EMAIL:
		return is_alnum(c) || c == '-' || (c == '.' && e + 1 < flen && is_alnum(f[e + 1]));
	case RG_DET_JWT:
		return is_b64url(c) || c == '.';
	case RG_DET_IPV6:
		return is_alnum(c) || c == ':' || (c == '.' && more);
	case RG_DET_PRIVATE_KEY:
		return false;
	case RG_DET_PHONE_E164:
		return is_digit(c) || ((c == ' ' || c == '-') && more);
	case RG_DET_CREDIT_CARD:
	case RG_DET_US_SSN:
	case RG_DET_ABA_ROUTING:
	case RG_DET_IPV4:
		return is_alnum(c) || ((c == '.' || c == '-') && more);
	default:
		return is_alnum(c);
	}
}

static bool confirm_at(enum rg_detector d, const uint8_t *f, size_t flen, size_t s, size_t e)
{
	if (s > 0 && glued_left(d, f, s))
		return false;
	if (e < flen && glued_right(d, f, flen, e))
		return false;
	return defs[d].validate(f + s, e - s);
}

bool rg_detector_confirm(enum rg_detector d, const uint8_t *f, size_t flen, size_t *start,
			 size_t end)
{
	size_t s = *start;

	if ((unsigned)d >= RG_DET__COUNT || s >= end || end > flen)
		return false;
	if (d == RG_DET_EMAIL) {
		/* The pattern starts one character before '@': take the whole local part
		 * here, as far as a leftmost start would have; longer than 64 is invalid. */
		size_t lim = s > 64 ? s - 64 : 0;
		while (s > lim && is_email_local(f[s - 1]))
			s--;
	}
	if (confirm_at(d, f, flen, s, end)) {
		*start = s;
		return true;
	}
	/*
	 * SOM_LEFTMOST reports one start per end: the leftmost. With separators allowed in
	 * the pattern, "qty 2 4111 1111 1111 1111" reports the card from "2", which fails,
	 * and the real card ending at the same offset is never reported. Retry from each
	 * later separator.
	 */
	if (d != RG_DET_CREDIT_CARD && d != RG_DET_IBAN)
		return false;
	for (size_t k = s + 1; k + 1 < end; k++) {
		if ((f[k - 1] == ' ' || f[k - 1] == '-') && is_alnum(f[k]) &&
		    confirm_at(d, f, flen, k, end)) {
			*start = k;
			return true;
		}
	}
	return false;
}

/*
 * A field that is only an optional '-' and then nd decimal digits: what PostgreSQL prints
 * for every integer type, and for many numbers kept in text columns. Which detectors can
 * confirm a match in it, from the patterns, validators and boundary rules above:
 *   credit_card, aba_routing  a match is a run of digits (separators are ' ' or '-' between
 *                digits, and the only '-' here has none before it), a digit next to it is
 *                glued on both sides and the leading '-' is not (no digit before it), so the
 *                match is the whole run: 13..19 digits for a card (the validator's count),
 *                exactly 9 for a routing number.
 *   every other detector needs a byte no such field has: '-' between digits (us_ssn), a
 *                letter (iban, jwt, aws_access_key, private_key), '@' (email), '+'
 *                (phone_e164), '.' (ipv4) or ':' (ipv6).
 * Change a pattern, validator or boundary rule and re-derive this too
 * (test_mask_prefilter.c compares it with scanning every such field).
 */
unsigned rg_detector_digit_field(size_t nd)
{
	unsigned set = 0;

	if (nd >= 13 && nd <= 19)
		set |= 1u << RG_DET_CREDIT_CARD;
	if (nd == 9)
		set |= 1u << RG_DET_ABA_ROUTING;
	return set;
}
