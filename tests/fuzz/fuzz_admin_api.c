/*
 * Fuzz target for the admin listener's parsers: the input is split at its first two NUL
 * bytes into a request path, an Authorization header and a body, which go through
 * rg_admin_route (every method), rg_admin_bearer, rg_admin_parse_decision and the list
 * parameters as a request's would. Invariants checked: a routed id is 32 hex digits, a
 * bearer token lies inside its header, a parsed reason is 1..1000 bytes of one line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "DELETE"};
	char *buf = malloc(size + 3), *path, *hdr, *body, *end, *reason = NULL;
	char id[RG_APPR_ID_LEN + 1];
	const char *tok, *why, *allow;
	size_t len;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	memset(buf + size, 0, 3); /* so the three parts always exist */
	path = buf;
	hdr = path + strlen(path) + 1;
	body = hdr <= buf + size ? hdr + strlen(hdr) + 1 : buf + size + 2;
	end = buf + size;
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		enum rg_admin_route r = rg_admin_route(methods[i], path, id, &allow);

		if ((r == RG_ADMIN_R_APPR_GET || r == RG_ADMIN_R_APPR_APPROVE ||
		     r == RG_ADMIN_R_APPR_DENY) &&
		    strspn(id, "0123456789abcdef") != RG_APPR_ID_LEN)
			abort();
		if (r == RG_ADMIN_R_BAD_METHOD && !allow)
			abort();
	}
	if (rg_admin_bearer(hdr, &tok, &len) == 0 &&
	    (tok < hdr || tok + len > hdr + strlen(hdr) || !len || len > RG_ADMIN_MAX_TOKEN))
		abort();
	if (body <= end) {
		size_t blen = (size_t)(end - body);

		if (rg_admin_parse_decision(body, blen, &reason, &why) == 0) {
			size_t n = strlen(reason);

			if (!n || n > RG_ADMIN_MAX_REASON || strchr(reason, '\n'))
				abort();
			free(reason);
		}
	}
	rg_admin_status_filter(path);
	rg_admin_list_limit(hdr);
	free(buf);
	return 0;
}
