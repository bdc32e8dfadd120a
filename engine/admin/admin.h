/*
 * admin: the admin listener. HTTP/1.1 (HTTPS with admin.tls) served by libmicrohttpd on
 * threads of its own, never on the data-path workers: health and readiness, a bundle reload,
 * the approvals API over the control store (issue #11), sessions and their replays read from
 * the audit trail and the recordings (issue #12, rg_sessions_list and rg_replay), and the
 * page, whose three files are compiled into the binary (page.c, generated from page/ at
 * build time).
 *
 * Everything but /healthz and the page's files needs `Authorization: Bearer <token>`, a
 * token from a configured issuer verified like an agent's (the verify hook). A caller
 * sees the requests they asked for, the requests their groups review, and all of them when
 * they are an operator (admin.operators); the control store decides who may decide.
 * Sessions are evidence: operators only.
 * Answers are JSON; every refusal is a 4xx with {"error": "..."}, and a token failure says
 * only "authentication failed" (the reason goes to the log). Bodies are bounded
 * (RG_ADMIN_MAX_BODY); nothing a client sends can crash or block the listener for long.
 * The module knows no protocol: main.c gives it hooks (verify, ready, reload).
 */
#ifndef RG_ADMIN_H
#define RG_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "control.h"
#include "evidence.h"

struct rg_config;
struct rg_auth_identity;

#define RG_ADMIN_MAX_BODY 16384	  /* bytes of a request body, at most */
#define RG_ADMIN_MAX_REASON 1000  /* bytes of a decision's reason, at most */
#define RG_ADMIN_MAX_TOKEN 16384  /* bytes of a bearer token, at most */
#define RG_ADMIN_LIST_DEFAULT 200 /* requests per GET /api/approvals unless ?limit= */
#define RG_ADMIN_LIST_MAX 1000
#define RG_ADMIN_REPLAY_MAX_ROWS 1000 /* rows per result in GET /api/sessions/{id} */
#define RG_ADMIN_MAX_FILTER 256	      /* bytes of ?sub= and ?target= */

/* What the listener asks of the rest of the process. Every hook may run on any of the
 * listener's threads, concurrently with itself. */
struct rg_admin_hooks {
	void *arg;
	/* Verify a bearer token: 0 and *id filled, or an enum rg_auth_err (auth.h). */
	int (*verify)(void *arg, const char *token, size_t len, struct rg_auth_identity *id);
	/* 0 when ready to serve; otherwise why (one line) in why. NULL: always ready. */
	int (*ready)(void *arg, char *why, size_t whylen);
	/* Reload the policy bundle synchronously: 0 (msg says what is in force now), -ENOENT
	 * (no bundle configured), -EINVAL (the bundle was refused; the old one stays) or
	 * another negative errno; msg explains. NULL: POST /reload answers 501. */
	int (*reload)(void *arg, char *msg, size_t msglen);
	/* GET /metrics: the Prometheus text exposition in *text (malloc'd) and *len; 0 or a
	 * negative errno. NULL: 404. */
	int (*metrics)(void *arg, char **text, size_t *len);
};

struct rg_admin;

/*
 * Bind cfg->admin.address, load admin.tls's files, and start serving on the listener's own
 * threads. ctl is the control store (not owned; it must outlive the listener; NULL answers
 * the approvals API with 503). Errors: negative errno with err filled (the config location
 * is the caller's to add). *port gets the bound port (may be NULL).
 */
int rg_admin_start(const struct rg_config *cfg, struct rg_control *ctl,
		   const struct rg_admin_hooks *hooks, struct rg_admin **out, uint16_t *port,
		   char *err, size_t errlen);
/* For --check-config: admin.tls's files can be read and hold PEM. 0 or -errno, err filled. */
int rg_admin_check(const struct rg_config *cfg, char *err, size_t errlen);
/* Stop serving (in-flight requests finish), join the threads, free. NULL is fine. */
void rg_admin_stop(struct rg_admin *a);

/*
 * Where a reviewer opens one request: "<base>/#/approvals/<id>" (base: cfg->admin.url).
 * The held session's notice carries it. Returns the length, or -ENOSPC when out is short.
 */
int rg_admin_approval_url(const char *base, const char *id, char *out, size_t outlen);

/* ---- pure helpers (unit-tested; api.c) -------------------------------------------------- */

enum rg_admin_route {
	RG_ADMIN_R_NOT_FOUND = 0,
	RG_ADMIN_R_BAD_METHOD,	 /* a known path, another method: 405 with Allow */
	RG_ADMIN_R_PAGE,	 /* GET / : the page (approvals, sessions) */
	RG_ADMIN_R_PAGE_JS,	 /* GET /app.js */
	RG_ADMIN_R_PAGE_CSS,	 /* GET /app.css */
	RG_ADMIN_R_FAVICON,	 /* GET /favicon.ico: 204, so browsers log no error */
	RG_ADMIN_R_HEALTHZ,	 /* GET /healthz, no authentication */
	RG_ADMIN_R_METRICS,	 /* GET /metrics (Prometheus), no authentication */
	RG_ADMIN_R_READYZ,	 /* GET /readyz */
	RG_ADMIN_R_RELOAD,	 /* POST /reload, operators only */
	RG_ADMIN_R_APPR_LIST,	 /* GET /api/approvals[?status=S&limit=N] */
	RG_ADMIN_R_APPR_GET,	 /* GET /api/approvals/{id} */
	RG_ADMIN_R_APPR_APPROVE, /* POST /api/approvals/{id}/approve {"reason": "..."} */
	RG_ADMIN_R_APPR_DENY,	 /* POST /api/approvals/{id}/deny {"reason": "..."} */
	RG_ADMIN_R_SESS_LIST,	 /* GET /api/sessions[?sub=&target=&since=&until=&verdict=] */
	RG_ADMIN_R_SESS_GET,	 /* GET /api/sessions/{id}: its replay */
};

/*
 * Route a request (path without the query, as decoded by the server). HEAD is GET. The
 * id of an approvals path must be RG_APPR_ID_LEN lower-case hex digits (else NOT_FOUND);
 * it is copied to id. A session's id is the path segment after /api/sessions/ as it is
 * (empty when longer than RG_APPR_ID_LEN): rg_admin_session_id judges it. *allow (may be
 * NULL) gets the Allow header for BAD_METHOD.
 */
enum rg_admin_route rg_admin_route(const char *method, const char *path,
				   char id[RG_APPR_ID_LEN + 1], const char **allow);

/* The token of an Authorization header "Bearer <token>" (scheme case-insensitive, one or
 * more spaces, no spaces in the token, at most RG_ADMIN_MAX_TOKEN bytes): 0 or -EINVAL. */
int rg_admin_bearer(const char *header, const char **token, size_t *len);

/* A decision's body {"reason": "<1..RG_ADMIN_MAX_REASON bytes, no control characters>"}
 * (no other key): 0 and *reason (free it), or -EINVAL with *why a fixed text. */
int rg_admin_parse_decision(const char *body, size_t len, char **reason, const char **why);

/* ?status= of the list: NULL or "all" -> -1 (every status), a status name -> its value,
 * anything else -> -2. ?limit=: 1..RG_ADMIN_LIST_MAX, NULL -> default, else 0 (bad). */
int rg_admin_status_filter(const char *s);
size_t rg_admin_list_limit(const char *s);

/* A session id: 1 to 18 decimal digits, not 0: 0 and *out, or -EINVAL. */
int rg_admin_session_id(const char *s, long long *out);

/* A UTC time "YYYY-MM-DDTHH:MM:SS[.f{1,6}]Z" (what JavaScript's toISOString gives) as µs
 * since the epoch: 0 or -EINVAL. */
int rg_admin_parse_time(const char *s, int64_t *us);

/* The query of GET /api/sessions, each NULL when absent; an empty value is absent too. */
struct rg_admin_sess_query {
	const char *sub, *target, *since, *until, *verdict, *limit;
};
/* Into a filter and a limit (as ?limit= of the approvals list): 0, or -EINVAL with *why a
 * fixed text. f's strings point into q. */
int rg_admin_sessions_filter(const struct rg_admin_sess_query *q, struct rg_sessions_filter *f,
			     size_t *limit, const char **why);

/* The HTTP status for a control store result (0 -> 200; NOT_FOUND 404; SELF and
 * NOT_REVIEWER 403; NOT_PENDING 409; EXPIRED 410; INVALID 400; else 500). */
unsigned rg_admin_http_status(int control_err);

/* The caller, as the approvals API sees them (pointers into a verified identity). */
struct rg_admin_who {
	const char *iss, *sub;
	const char *groups[RG_APPR_MAX_GROUPS];
	size_t ngroups;
};
void rg_admin_who_from(const struct rg_auth_identity *id, struct rg_admin_who *w);
/* One of w's groups is in list. */
bool rg_admin_in_groups(const struct rg_admin_who *w, const char *const *list, size_t n);
/* w may see a: they asked for it, their groups review it, or they are an operator. */
bool rg_admin_may_see(const struct rg_appr *a, const struct rg_admin_who *w, bool operator);

/* A request as the API returns it (see docs/admin.md); url from base. NULL when out of
 * memory. */
json_t *rg_admin_appr_json(const struct rg_appr *a, const char *base_url);

#endif
