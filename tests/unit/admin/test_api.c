/*
 * The admin listener's pure pieces (engine/admin/api.c): routes, the bearer header, decision
 * bodies, list parameters, the status of each control store result, who sees what, and the
 * JSON of a request. Every input here is what a client could send.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "admin.h"
#include "auth.h"

#define ID "0123456789abcdef0123456789abcdef"

static void test_route_known_paths_and_methods(void **state)
{
	char id[RG_APPR_ID_LEN + 1];
	const char *allow;

	(void)state;
	assert_int_equal(rg_admin_route("GET", "/", id, NULL), RG_ADMIN_R_PAGE);
	assert_int_equal(rg_admin_route("GET", "/app.js", id, NULL), RG_ADMIN_R_PAGE_JS);
	assert_int_equal(rg_admin_route("GET", "/app.css", id, NULL), RG_ADMIN_R_PAGE_CSS);
	assert_int_equal(rg_admin_route("GET", "/favicon.ico", id, NULL), RG_ADMIN_R_FAVICON);
	assert_int_equal(rg_admin_route("GET", "/healthz", id, NULL), RG_ADMIN_R_HEALTHZ);
	assert_int_equal(rg_admin_route("HEAD", "/healthz", id, NULL), RG_ADMIN_R_HEALTHZ);
	assert_int_equal(rg_admin_route("GET", "/readyz", id, NULL), RG_ADMIN_R_READYZ);
	assert_int_equal(rg_admin_route("POST", "/reload", id, NULL), RG_ADMIN_R_RELOAD);
	assert_int_equal(rg_admin_route("GET", "/api/approvals", id, NULL), RG_ADMIN_R_APPR_LIST);
	assert_int_equal(rg_admin_route("GET", "/api/approvals/", id, NULL), RG_ADMIN_R_APPR_LIST);
	assert_int_equal(rg_admin_route("GET", "/api/approvals/" ID, id, NULL),
			 RG_ADMIN_R_APPR_GET);
	assert_string_equal(id, ID);
	assert_int_equal(rg_admin_route("POST", "/api/approvals/" ID "/approve", id, NULL),
			 RG_ADMIN_R_APPR_APPROVE);
	assert_int_equal(rg_admin_route("POST", "/api/approvals/" ID "/deny", id, NULL),
			 RG_ADMIN_R_APPR_DENY);

	assert_int_equal(rg_admin_route("GET", "/reload", id, &allow), RG_ADMIN_R_BAD_METHOD);
	assert_string_equal(allow, "POST");
	assert_int_equal(rg_admin_route("DELETE", "/api/approvals/" ID, id, &allow),
			 RG_ADMIN_R_BAD_METHOD);
	assert_string_equal(allow, "GET, HEAD");
	assert_int_equal(rg_admin_route("GET", "/api/approvals/" ID "/deny", id, &allow),
			 RG_ADMIN_R_BAD_METHOD);
	assert_string_equal(allow, "POST");
}

static void test_route_refuses_malformed_ids_and_paths(void **state)
{
	char id[RG_APPR_ID_LEN + 1];

	(void)state;
	assert_int_equal(rg_admin_route("GET", "/nope", id, NULL), RG_ADMIN_R_NOT_FOUND);
	assert_int_equal(rg_admin_route("GET", "/healthz/", id, NULL), RG_ADMIN_R_NOT_FOUND);
	/* upper case, short, long, path traversal, empty */
	assert_int_equal(
	    rg_admin_route("GET", "/api/approvals/0123456789ABCDEF0123456789abcdef", id, NULL),
	    RG_ADMIN_R_NOT_FOUND);
	assert_int_equal(rg_admin_route("GET", "/api/approvals/0123", id, NULL),
			 RG_ADMIN_R_NOT_FOUND);
	assert_int_equal(rg_admin_route("GET", "/api/approvals/" ID "0", id, NULL),
			 RG_ADMIN_R_NOT_FOUND);
	assert_int_equal(rg_admin_route("GET", "/api/approvals/../reload", id, NULL),
			 RG_ADMIN_R_NOT_FOUND);
	assert_int_equal(rg_admin_route("POST", "/api/approvals/" ID "/approve/", id, NULL),
			 RG_ADMIN_R_NOT_FOUND);
	assert_int_equal(rg_admin_route("POST", "/api/approvals/" ID "/grant", id, NULL),
			 RG_ADMIN_R_NOT_FOUND);
	assert_int_equal(rg_admin_route("POST", "/api/approvalsX", id, NULL), RG_ADMIN_R_NOT_FOUND);
	assert_int_equal(rg_admin_route(NULL, "/", id, NULL), RG_ADMIN_R_NOT_FOUND);
	assert_string_equal(id, "");
}

static void test_bearer_header(void **state)
{
	const char *t;
	size_t n;

	(void)state;
	assert_int_equal(rg_admin_bearer("Bearer abc.def", &t, &n), 0);
	assert_int_equal(n, 7);
	assert_memory_equal(t, "abc.def", 7);
	assert_int_equal(rg_admin_bearer("bearer   abc  ", &t, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(rg_admin_bearer(NULL, &t, &n), -EINVAL);
	assert_int_equal(rg_admin_bearer("", &t, &n), -EINVAL);
	assert_int_equal(rg_admin_bearer("Bearer", &t, &n), -EINVAL);
	assert_int_equal(rg_admin_bearer("Bearer ", &t, &n), -EINVAL);
	assert_int_equal(rg_admin_bearer("Bearerabc", &t, &n), -EINVAL);
	assert_int_equal(rg_admin_bearer("Basic dXNlcjpwdw==", &t, &n), -EINVAL);
	assert_int_equal(rg_admin_bearer("Bearer a b", &t, &n), -EINVAL);
	assert_null(t);
	{
		size_t big = RG_ADMIN_MAX_TOKEN + 8;
		char *h = malloc(big + 8);

		assert_non_null(h);
		memcpy(h, "Bearer ", 7);
		memset(h + 7, 'a', big);
		h[7 + big] = 0;
		assert_int_equal(rg_admin_bearer(h, &t, &n), -EINVAL);
		h[7 + RG_ADMIN_MAX_TOKEN] = 0;
		assert_int_equal(rg_admin_bearer(h, &t, &n), 0);
		assert_int_equal(n, RG_ADMIN_MAX_TOKEN);
		free(h);
	}
}

static void expect_bad_body(const char *body, const char *why_part)
{
	char *reason = (char *)1;
	const char *why = NULL;

	assert_int_equal(rg_admin_parse_decision(body, body ? strlen(body) : 0, &reason, &why),
			 -EINVAL);
	assert_null(reason);
	assert_non_null(why);
	if (!strstr(why, why_part))
		print_error("why: %s\n", why);
	assert_non_null(strstr(why, why_part));
}

static void test_decision_body(void **state)
{
	char *reason = NULL, big[1100];
	const char *why;

	(void)state;
	assert_int_equal(
	    rg_admin_parse_decision("{\"reason\": \"looks fine \\u00e9\"}", 31, &reason, &why), 0);
	assert_string_equal(reason, "looks fine \xc3\xa9");
	free(reason);
	expect_bad_body(NULL, "JSON object");
	expect_bad_body("", "JSON object");
	expect_bad_body("{", "JSON object");
	expect_bad_body("[\"reason\"]", "JSON object");
	expect_bad_body("{}", "required");
	expect_bad_body("{\"reason\": null}", "required");
	expect_bad_body("{\"reason\": \"\"}", "1 to 1000");
	expect_bad_body("{\"reason\": \"a\\nb\"}", "control");
	expect_bad_body("{\"reason\": \"a\\u0000b\"}", "JSON object"); /* jansson refuses NUL */
	expect_bad_body("{\"reason\": \"a\", \"reason\": \"b\"}", "JSON object");
	expect_bad_body("{\"reason\": \"a\", \"scope\": \"all\"}", "unknown key");
	snprintf(big, sizeof(big), "{\"reason\": \"%01001d\"}", 0);
	expect_bad_body(big, "1 to 1000");
}

static void test_list_parameters(void **state)
{
	(void)state;
	assert_int_equal(rg_admin_status_filter(NULL), -1);
	assert_int_equal(rg_admin_status_filter("all"), -1);
	assert_int_equal(rg_admin_status_filter("pending"), RG_APPR_PENDING);
	assert_int_equal(rg_admin_status_filter("abandoned"), RG_APPR_ABANDONED);
	assert_int_equal(rg_admin_status_filter("Pending"), -2);
	assert_int_equal(rg_admin_status_filter(""), -2);
	assert_int_equal(rg_admin_list_limit(NULL), RG_ADMIN_LIST_DEFAULT);
	assert_int_equal(rg_admin_list_limit("1"), 1);
	assert_int_equal(rg_admin_list_limit("1000"), 1000);
	assert_int_equal(rg_admin_list_limit("1001"), 0);
	assert_int_equal(rg_admin_list_limit("0"), 0);
	assert_int_equal(rg_admin_list_limit("-1"), 0);
	assert_int_equal(rg_admin_list_limit("99999999999999999999"), 0);
	assert_int_equal(rg_admin_list_limit("5x"), 0);
	assert_int_equal(rg_admin_list_limit(""), 0);
}

static void test_control_errors_map_to_http(void **state)
{
	(void)state;
	assert_int_equal(rg_admin_http_status(0), 200);
	assert_int_equal(rg_admin_http_status(RG_CONTROL_E_NOT_FOUND), 404);
	assert_int_equal(rg_admin_http_status(RG_CONTROL_E_SELF), 403);
	assert_int_equal(rg_admin_http_status(RG_CONTROL_E_NOT_REVIEWER), 403);
	assert_int_equal(rg_admin_http_status(RG_CONTROL_E_NOT_PENDING), 409);
	assert_int_equal(rg_admin_http_status(RG_CONTROL_E_EXPIRED), 410);
	assert_int_equal(rg_admin_http_status(RG_CONTROL_E_INVALID), 400);
	assert_int_equal(rg_admin_http_status(RG_CONTROL_E_STORE), 500);
	assert_int_equal(rg_admin_http_status(-ENOMEM), 500);
}

static struct rg_appr sample(void)
{
	static char *groups[] = {"agents", "bad\xff"};
	struct rg_appr a = {
	    .id = ID,
	    .node = "n1",
	    .status = RG_APPR_PENDING,
	    .created_ms = 1000,
	    .expires_ms = 301000,
	    .issuer = "https://idp/",
	    .subject = "agent-1",
	    .groups = groups,
	    .ngroups = 2,
	    .peer = "10.0.0.1:5000",
	    .target = "appdb",
	    .rule = "approve-writes",
	    .reviewers = "reviewers",
	    .sql = "DELETE FROM t WHERE id = 1 -- \xe9t\xe9",
	    .fingerprint = "0123456789abcdef",
	};
	return a;
}

static void test_who_sees_what(void **state)
{
	struct rg_appr a = sample();
	struct rg_admin_who w = {.iss = "https://idp/", .sub = "agent-1"};
	static const char *const ops[] = {"ops"};

	(void)state;
	assert_true(rg_admin_may_see(&a, &w, false)); /* the requester */
	w.sub = "alice";
	assert_false(rg_admin_may_see(&a, &w, false));
	assert_true(rg_admin_may_see(&a, &w, true)); /* an operator */
	w.groups[0] = "devs";
	w.groups[1] = "reviewers";
	w.ngroups = 2;
	assert_true(rg_admin_may_see(&a, &w, false)); /* a reviewer */
	assert_false(rg_admin_in_groups(&w, ops, 1));
	w.groups[0] = "ops";
	assert_true(rg_admin_in_groups(&w, ops, 1));
	assert_false(rg_admin_in_groups(&w, NULL, 0));
	/* Same subject, another issuer: someone else. */
	w.iss = "https://other/";
	w.sub = "agent-1";
	w.ngroups = 0;
	assert_false(rg_admin_may_see(&a, &w, false));
}

static void test_request_json_and_url(void **state)
{
	struct rg_appr a = sample();
	char url[64];
	json_t *j;

	(void)state;
	assert_int_equal(rg_admin_approval_url("http://h:1", ID, url, sizeof(url)), 55);
	assert_string_equal(url, "http://h:1/#/approvals/" ID);
	assert_int_equal(rg_admin_approval_url("http://h:1", ID, url, 20), -ENOSPC);

	j = rg_admin_appr_json(&a, "https://gw");
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "id")), ID);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "pending");
	assert_string_equal(json_string_value(json_object_get(j, "scope")), "once");
	assert_string_equal(json_string_value(json_object_get(j, "url")),
			    "https://gw/#/approvals/" ID);
	assert_true(json_is_null(json_object_get(j, "decided_ms")));
	assert_true(json_is_null(json_object_get(j, "reason")));
	assert_int_equal(json_integer_value(json_object_get(j, "expires_ms")), 301000);
	/* Bytes that are not UTF-8 are shown as '?' instead of failing the answer. */
	assert_string_equal(json_string_value(json_object_get(j, "sql")),
			    "DELETE FROM t WHERE id = 1 -- ?t?");
	assert_string_equal(json_string_value(json_array_get(json_object_get(j, "groups"), 1)),
			    "bad?");
	json_decref(j);

	a.status = RG_APPR_APPROVED;
	a.decided_ms = 2000;
	a.decided_by = "alice";
	a.reason = "ok";
	a.scope = RG_APPR_SCOPE_FINGERPRINT;
	j = rg_admin_appr_json(&a, "https://gw");
	assert_int_equal(json_integer_value(json_object_get(j, "decided_ms")), 2000);
	assert_string_equal(json_string_value(json_object_get(j, "decided_by")), "alice");
	assert_string_equal(json_string_value(json_object_get(j, "scope")), "fingerprint");
	json_decref(j);
}

static void test_who_from_identity(void **state)
{
	struct rg_auth_identity *id = calloc(1, sizeof(*id));
	struct rg_admin_who w;

	(void)state;
	assert_non_null(id);
	strcpy(id->iss, "https://idp/");
	strcpy(id->sub, "alice");
	memcpy(id->group_buf, "a\0bb\0", 5);
	id->group_off[0] = 0;
	id->group_off[1] = 2;
	id->n_groups = 2;
	rg_admin_who_from(id, &w);
	assert_string_equal(w.iss, "https://idp/");
	assert_string_equal(w.sub, "alice");
	assert_int_equal(w.ngroups, 2);
	assert_string_equal(w.groups[1], "bb");
	free(id);
}

static void test_route_sessions(void **state)
{
	char id[RG_APPR_ID_LEN + 1];
	const char *allow;

	(void)state;
	assert_int_equal(rg_admin_route("GET", "/api/sessions", id, NULL), RG_ADMIN_R_SESS_LIST);
	assert_int_equal(rg_admin_route("HEAD", "/api/sessions/", id, NULL), RG_ADMIN_R_SESS_LIST);
	assert_int_equal(rg_admin_route("GET", "/api/sessions/1883442261262339", id, NULL),
			 RG_ADMIN_R_SESS_GET);
	assert_string_equal(id, "1883442261262339");
	/* a bad id is routed and judged later (400), unless it is a longer path */
	assert_int_equal(rg_admin_route("GET", "/api/sessions/abc", id, NULL), RG_ADMIN_R_SESS_GET);
	assert_string_equal(id, "abc");
	assert_int_equal(rg_admin_route("GET", "/api/sessions/" ID "0", id, NULL),
			 RG_ADMIN_R_SESS_GET);
	assert_string_equal(id, "");
	assert_int_equal(rg_admin_route("GET", "/api/sessions/1/x", id, NULL), RG_ADMIN_R_NOT_FOUND);
	assert_int_equal(rg_admin_route("GET", "/api/sessionsX", id, NULL), RG_ADMIN_R_NOT_FOUND);
	assert_int_equal(rg_admin_route("POST", "/api/sessions/1", id, &allow),
			 RG_ADMIN_R_BAD_METHOD);
	assert_string_equal(allow, "GET, HEAD");
}

static void test_session_ids(void **state)
{
	long long v;

	(void)state;
	assert_int_equal(rg_admin_session_id("1883442261262339", &v), 0);
	assert_int_equal(v, 1883442261262339LL);
	assert_int_equal(rg_admin_session_id("7", &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(rg_admin_session_id("0", &v), -EINVAL);
	assert_int_equal(rg_admin_session_id("", &v), -EINVAL);
	assert_int_equal(rg_admin_session_id(NULL, &v), -EINVAL);
	assert_int_equal(rg_admin_session_id("-5", &v), -EINVAL);
	assert_int_equal(rg_admin_session_id("12a", &v), -EINVAL);
	assert_int_equal(rg_admin_session_id(" 12", &v), -EINVAL);
	assert_int_equal(rg_admin_session_id("1234567890123456789", &v), -EINVAL); /* 19 */
}

static void test_times(void **state)
{
	int64_t us;

	(void)state;
	assert_int_equal(rg_admin_parse_time("1970-01-01T00:00:00Z", &us), 0);
	assert_int_equal(us, 0);
	assert_int_equal(rg_admin_parse_time("2026-12-02T05:00:00Z", &us), 0);
	assert_int_equal(us, 1796187600LL * 1000000);
	assert_int_equal(rg_admin_parse_time("2026-12-02T05:00:00.250Z", &us), 0);
	assert_int_equal(us, 1796187600LL * 1000000 + 250000);
	assert_int_equal(rg_admin_parse_time("2024-02-29T23:59:59.123456Z", &us), 0);
	/* no zone, a zone that is not Z, a day that does not exist, seven fraction digits,
	 * an empty fraction, out of range fields, trailing bytes */
	assert_int_equal(rg_admin_parse_time("2026-12-02T05:00:00", &us), -EINVAL);
	assert_int_equal(rg_admin_parse_time("2026-12-02T05:00:00+01:00", &us), -EINVAL);
	assert_int_equal(rg_admin_parse_time("2026-02-30T05:00:00Z", &us), -EINVAL);
	assert_int_equal(rg_admin_parse_time("2026-12-02T05:00:00.1234567Z", &us), -EINVAL);
	assert_int_equal(rg_admin_parse_time("2026-12-02T05:00:00.Z", &us), -EINVAL);
	assert_int_equal(rg_admin_parse_time("2026-13-02T05:00:00Z", &us), -EINVAL);
	assert_int_equal(rg_admin_parse_time("2026-12-02T24:00:00Z", &us), -EINVAL);
	assert_int_equal(rg_admin_parse_time("2026-12-02T05:00:00Zx", &us), -EINVAL);
	assert_int_equal(rg_admin_parse_time("1h", &us), -EINVAL);
	assert_int_equal(rg_admin_parse_time(NULL, &us), -EINVAL);
}

static void test_sessions_query(void **state)
{
	struct rg_admin_sess_query q = {0};
	struct rg_sessions_filter f;
	size_t limit;
	const char *why;
	char longsub[300];

	(void)state;
	assert_int_equal(rg_admin_sessions_filter(&q, &f, &limit, &why), 0);
	assert_null(f.sub);
	assert_true(f.since_us < 0 && f.until_us < 0 && !f.denied);
	assert_int_equal(limit, RG_ADMIN_LIST_DEFAULT);

	q = (struct rg_admin_sess_query){.sub = "agent-1", .target = "", .verdict = "deny",
					 .since = "2026-12-02T05:00:00Z", .until = "",
					 .limit = "5"};
	assert_int_equal(rg_admin_sessions_filter(&q, &f, &limit, &why), 0);
	assert_string_equal(f.sub, "agent-1");
	assert_null(f.target); /* empty: not a filter */
	assert_true(f.denied);
	assert_int_equal(f.since_us, 1796187600LL * 1000000);
	assert_true(f.until_us < 0);
	assert_int_equal(limit, 5);

	q = (struct rg_admin_sess_query){.verdict = "allow"};
	assert_int_equal(rg_admin_sessions_filter(&q, &f, &limit, &why), -EINVAL);
	assert_non_null(strstr(why, "verdict"));
	q = (struct rg_admin_sess_query){.since = "yesterday"};
	assert_int_equal(rg_admin_sessions_filter(&q, &f, &limit, &why), -EINVAL);
	assert_non_null(strstr(why, "UTC"));
	q = (struct rg_admin_sess_query){.since = "2026-12-02T06:00:00Z",
					 .until = "2026-12-02T05:00:00Z"};
	assert_int_equal(rg_admin_sessions_filter(&q, &f, &limit, &why), -EINVAL);
	q = (struct rg_admin_sess_query){.limit = "0"};
	assert_int_equal(rg_admin_sessions_filter(&q, &f, &limit, &why), -EINVAL);
	memset(longsub, 'a', sizeof(longsub) - 1);
	longsub[sizeof(longsub) - 1] = 0;
	q = (struct rg_admin_sess_query){.sub = longsub};
	assert_int_equal(rg_admin_sessions_filter(&q, &f, &limit, &why), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_route_known_paths_and_methods),
	    cmocka_unit_test(test_route_refuses_malformed_ids_and_paths),
	    cmocka_unit_test(test_bearer_header),
	    cmocka_unit_test(test_decision_body),
	    cmocka_unit_test(test_list_parameters),
	    cmocka_unit_test(test_control_errors_map_to_http),
	    cmocka_unit_test(test_who_sees_what),
	    cmocka_unit_test(test_request_json_and_url),
	    cmocka_unit_test(test_who_from_identity),
	    cmocka_unit_test(test_route_sessions),
	    cmocka_unit_test(test_session_ids),
	    cmocka_unit_test(test_times),
	    cmocka_unit_test(test_sessions_query),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
