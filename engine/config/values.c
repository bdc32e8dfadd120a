/*
 * values: parsers for the config's scalar value types (durations, addresses), pure functions
 * over a string so command-line flags can share them and unit tests can hit every branch.
 *
 * They accept exactly what docs/config.md describes and nothing looser: no signs, no spaces,
 * no hexadecimal or octal, no bare IPv6 without brackets. They never allocate or do I/O;
 * in particular a DNS host name is only checked for shape, never resolved.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#include "config.h"

static int fail(const char **why, const char *reason)
{
	if (why)
		*why = reason;
	return -EINVAL;
}

int rg_config_parse_duration(const char *s, uint64_t *ms, const char **why)
{
	uint64_t v = 0, mult;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return fail(why, "expected an integer followed by ms, s, m or h");
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return fail(why, "duration too large");
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (!strcmp(p, "ms"))
		mult = 1;
	else if (!strcmp(p, "s"))
		mult = 1000;
	else if (!strcmp(p, "m"))
		mult = 60 * 1000;
	else if (!strcmp(p, "h"))
		mult = 3600 * 1000;
	else if (!*p)
		return fail(why, "missing unit (ms, s, m or h)");
	else
		return fail(why, "unknown unit (expected ms, s, m or h)");
	if (v > UINT64_MAX / mult)
		return fail(why, "duration too large");
	*ms = v * mult;
	return 0;
}

static int parse_port(const char *p, uint16_t *port, const char **why)
{
	unsigned long v = 0;

	if (!*p)
		return fail(why, "missing port");
	if (*p == '0' && p[1])
		return fail(why, "port has a leading zero");
	for (; *p; p++) {
		if (!isdigit((unsigned char)*p))
			return fail(why, "port is not a number");
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > 65535)
			return fail(why, "port out of range 1..65535");
	}
	if (v == 0)
		return fail(why, "port out of range 1..65535");
	*port = (uint16_t)v;
	return 0;
}

/* RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens. */
static bool dns_name_ok(const char *h)
{
	size_t total = strlen(h), label = 0;

	if (total == 0 || total > 253)
		return false;
	for (const char *p = h; *p; p++) {
		if (*p == '.') {
			if (label == 0 || p[-1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)*p) && *p != '-')
			return false;
		if (*p == '-' && label == 0)
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && h[total - 1] != '-';
}

int rg_config_parse_addr(const char *s, unsigned flags, struct rg_config_addr *out, char *scratch,
			 const char **why)
{
	const char *port;
	size_t hl;

	memset(out, 0, sizeof(*out));
	out->text = s;
	if (s[0] == '/') {
		struct sockaddr_un *un = (struct sockaddr_un *)&out->sa;

		if (!(flags & RG_CONFIG_ADDR_ALLOW_UNIX))
			return fail(why, "unix socket paths are not allowed here");
		if (strlen(s) >= sizeof(un->sun_path))
			return fail(why, "unix socket path longer than 107 bytes");
		out->kind = RG_CONFIG_ADDR_UNIX;
		out->path = s;
		out->numeric = true;
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, s, strlen(s) + 1);
		out->salen = (socklen_t)sizeof(*un);
		return 0;
	}
	out->kind = RG_CONFIG_ADDR_INET;
	if (s[0] == '[') {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->sa;
		const char *close = strchr(s, ']');

		if (!close)
			return fail(why, "missing ']' after IPv6 address");
		if (close[1] != ':')
			return fail(why, "expected ':port' after ']'");
		hl = (size_t)(close - s - 1);
		memcpy(scratch, s + 1, hl);
		scratch[hl] = '\0';
		if (inet_pton(AF_INET6, scratch, &in6->sin6_addr) != 1)
			return fail(why, "not an IPv6 address inside [ ]");
		if (parse_port(close + 2, &out->port, why))
			return -EINVAL;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(out->port);
		out->salen = (socklen_t)sizeof(*in6);
		out->host = scratch;
		out->numeric = true;
		return 0;
	}
	port = strrchr(s, ':');
	if (!port)
		return fail(why, "expected host:port");
	hl = (size_t)(port - s);
	if (memchr(s, ':', hl))
		return fail(why, "IPv6 addresses need brackets, as in [::1]:port");
	if (hl == 0)
		return fail(why, "missing host before ':'");
	memcpy(scratch, s, hl);
	scratch[hl] = '\0';
	if (parse_port(port + 1, &out->port, why))
		return -EINVAL;
	out->host = scratch;
	{
		struct sockaddr_in *in4 = (struct sockaddr_in *)&out->sa;

		if (inet_pton(AF_INET, scratch, &in4->sin_addr) == 1) {
			in4->sin_family = AF_INET;
			in4->sin_port = htons(out->port);
			out->salen = (socklen_t)sizeof(*in4);
			out->numeric = true;
			return 0;
		}
	}
	if (!(flags & RG_CONFIG_ADDR_ALLOW_DNS))
		return fail(why, "host must be an IP address");
	if (!dns_name_ok(scratch))
		return fail(why, "host is neither an IP address nor a valid DNS name");
	return 0;
}
