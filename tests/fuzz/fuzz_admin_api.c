/*
 * Fuzz target for the admin listener's parsers: the input is split at its first two NUL
 * bytes into a request path, an Authorization header and a body, which go through
 * rg_admin_route (every method), rg_admin_bearer, rg_admin_parse_decision and the list
 * parameters as a request's would; the three parts are also the query of GET /api/sessions
 * (sub, since and until; target, verdict and limit) and a session id. Invariants checked: a
 * routed approval id is 32 hex digits, a routed session id fits its buffer, a bearer token
 * lies inside its header, a parsed reason is 1..1000 bytes of one line, a parsed session id
 * is positive, a parsed time is not before 1970, a parsed filter's bounds are in order.
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
	struct rg_sessions_filter f;
	long long sid;
	int64_t us;
	size_t len, limit;

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
		if (r == RG_ADMIN_R_SESS_GET && strlen(id) > RG_APPR_ID_LEN)
			abort();
		if (r == RG_ADMIN_R_SESS_GET && rg_admin_session_id(id, &sid) == 0 && sid <= 0)
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
	if (rg_admin_session_id(path, &sid) == 0 && sid <= 0)
		abort();
	if (rg_admin_parse_time(path, &us) == 0 && us < 0)
		abort();
	if (body <= end) {
		const struct rg_admin_sess_query q = {path, hdr, path, hdr, body, body};

		if (rg_admin_sessions_filter(&q, &f, &limit, &why) == 0 &&
		    ((f.since_us >= 0 && f.until_us >= 0 && f.since_us > f.until_us) || !limit ||
		     limit > RG_ADMIN_LIST_MAX))
			abort();
		if (rg_admin_sessions_filter(&q, &f, &limit, &why) && !why)
			abort();
	}
	free(buf);
	return 0;
}
