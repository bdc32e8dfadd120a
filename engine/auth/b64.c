/*
 * base64 for auth: the url-safe, unpadded alphabet of JOSE (RFC 7515 section 2) and the
 * standard padded alphabet of SCRAM (RFC 5802). Decoding is strict in both: any character
 * outside the alphabet, whitespace, a bad length or non-zero trailing bits is an error, so
 * every byte string has exactly one accepted encoding (no signature malleability).
 */
#include <errno.h>
#include <string.h>

#include "auth_int.h"

static const char url_chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char std_chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static ssize_t encode(const char *abc, bool pad, const uint8_t *in, size_t n, char *out,
		      size_t cap)
{
	size_t need = pad ? (n + 2) / 3 * 4 : n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
	size_t o = 0;

	if (need + 1 > cap)
		return -ENOSPC;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		size_t left = n - i;

		if (left > 1)
			v |= (uint32_t)in[i + 1] << 8;
		if (left > 2)
			v |= in[i + 2];
		out[o++] = abc[(v >> 18) & 63];
		out[o++] = abc[(v >> 12) & 63];
		if (left > 1)
			out[o++] = abc[(v >> 6) & 63];
		else if (pad)
			out[o++] = '=';
		if (left > 2)
			out[o++] = abc[v & 63];
		else if (pad)
			out[o++] = '=';
	}
	out[o] = '\0';
	return (ssize_t)o;
}

static int val(bool url, char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
}

/* Decode n characters that are all data (padding already removed). */
static ssize_t decode(bool url, const char *in, size_t n, uint8_t *out, size_t cap)
{
	size_t o = 0;
	uint32_t acc = 0;
	unsigned bits = 0;

	if (n % 4 == 1)
		return -EINVAL;
	if (n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0) > cap)
		return -ENOSPC;
	for (size_t i = 0; i < n; i++) {
		int v = val(url, in[i]);

		if (v < 0)
			return -EINVAL;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* Left-over bits must be zero, or two encodings would decode alike. */
	if (acc != 0)
		return -EINVAL;
	return (ssize_t)o;
}

ssize_t rg_auth_b64url_encode(const uint8_t *in, size_t n, char *out, size_t cap)
{
	return encode(url_chars, false, in, n, out, cap);
}

ssize_t rg_auth_b64url_decode(const char *in, size_t n, uint8_t *out, size_t cap)
{
	return decode(true, in, n, out, cap);
}

ssize_t rg_auth_b64std_encode(const uint8_t *in, size_t n, char *out, size_t cap)
{
	return encode(std_chars, true, in, n, out, cap);
}

ssize_t rg_auth_b64std_decode(const char *in, size_t n, uint8_t *out, size_t cap)
{
	if (n % 4 != 0)
		return -EINVAL;
	if (n >= 1 && in[n - 1] == '=') {
		n--;
		if (n >= 1 && in[n - 1] == '=')
			n--;
		if (n % 4 < 2)
			return -EINVAL;
	}
	return decode(false, in, n, out, cap);
}
