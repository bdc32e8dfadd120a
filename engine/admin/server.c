/*
 * server.c: the admin listener on libmicrohttpd (MHD). We bind the socket ourselves (so a
 * bind error is an errno with the address, like the listeners'), hand it to MHD with a
 * small internal thread pool, and answer each request once its body is in. MHD owns the
 * HTTP/1.1 parsing, keep-alive, timeouts and TLS (GnuTLS); this file owns what a request
 * means (api.c's pure pieces decide routes, bodies and who may see what).
 *
 * Bounds: at most RG_ADMIN_MAX_BODY bytes of body are kept (more is answered 413), headers
 * fit in MHD's per-connection memory limit, connections are capped globally and per
 * address, and idle ones time out. Never logs a token; an authentication failure is logged
 * with its reason and answered "authentication failed" only. Hooks run on MHD's threads.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "admin-int.h"
#include "admin.h"
#include "auth.h"
#include "config.h"

#define THREADS 2
#define MAX_CONNS 128
#define MAX_CONNS_PER_IP 32
#define IDLE_TIMEOUT_S 30
#define CONN_MEMORY (RG_ADMIN_MAX_TOKEN + 32768) /* request headers, per connection */
#define MAX_PEM (1u << 20)

struct rg_admin {
	struct MHD_Daemon *d;
	const struct rg_config *cfg;
	struct rg_control *ctl;
	struct rg_admin_hooks hooks;
	char *cert, *key; /* PEM, kept for MHD while it runs; the key is wiped on stop */
	size_t keylen;
	char audit_dir[1024], rec_dir[1024]; /* the trails /api/sessions reads ("": no audit) */
};

/* One request's state, from its first header callback to MHD's "completed" notice. */
struct req {
	char *body;
	size_t len;
	bool too_big;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A value for a key=value log line: printable ASCII but space, '"', '\\' and '=' kept,
 * everything else \xNN, cut at 128 bytes: what a client sent cannot forge a log line. */
static const char *log_val(const char *s, char *buf, size_t n)
{
	size_t o = 0;

	for (; s && *s && o + 5 < n && o < 128; s++) {
		unsigned char c = (unsigned char)*s;

		if (c > 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '=')
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, n - o, "\\x%02x", c);
	}
	buf[o] = 0;
	return o ? buf : "-";
}

static const char *peer_of(struct MHD_Connection *c, char *buf, size_t n)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	snprintf(buf, n, "-");
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, buf,
			  (socklen_t)n);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
			  buf, (socklen_t)n);
	return buf;
}

/* ---- responses -------------------------------------------------------------------------- */

static enum MHD_Result send_buf(struct MHD_Connection *c, unsigned status, const char *type,
				void *data, size_t len, enum MHD_ResponseMemoryMode mode,
				const char *allow)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, data, mode);
	enum MHD_Result ret;

	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(data);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	/* The page loads only its own script and style and talks only to this listener. */
	MHD_add_response_header(r, "Content-Security-Policy",
				"default-src 'none'; script-src 'self'; style-src 'self'; "
				"connect-src 'self'; img-src 'self'; base-uri 'none'; "
				"form-action 'none'; frame-ancestors 'none'");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	if (status == 401)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* doc is consumed. */
static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *doc)
{
	char *s = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	size_t n;

	json_decref(doc);
	if (!s) {
		static const char oom[] = "{\"error\":\"out of memory\"}\n";

		return send_buf(c, 500, "application/json", (void *)oom, sizeof(oom) - 1,
				MHD_RESPMEM_PERSISTENT, NULL);
	}
	n = strlen(s);
	/* One trailing newline, for curl users; room for it comes from a realloc. */
	{
		char *t = realloc(s, n + 2);

		if (t) {
			s = t;
			s[n++] = '\n';
			s[n] = 0;
		}
	}
	return send_buf(c, status, "application/json", s, n, MHD_RESPMEM_MUST_FREE, NULL);
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *msg,
				  const char *allow)
{
	char *s = NULL;
	json_t *doc = json_pack("{s:s}", "error", msg);

	if (doc && allow) {
		/* 405: the Allow header rides on a plain buffer response. */
		s = json_dumps(doc, JSON_COMPACT);
		json_decref(doc);
		if (!s)
			return MHD_NO;
		return send_buf(c, status, "application/json", s, strlen(s), MHD_RESPMEM_MUST_FREE,
				allow);
	}
	return send_json(c, status, doc);
}

static enum MHD_Result send_page(struct MHD_Connection *c, const char *name, const char *type)
{
	const struct rg_admin_file *f = rg_admin_page_file(name);

	if (!f)
		return send_error(c, 404, "not found", NULL);
	return send_buf(c, 200, type, (void *)f->data, f->len, MHD_RESPMEM_PERSISTENT, NULL);
}

/* ---- authentication ------------------------------------------------------------------- */

/* 0 with *id verified, or a 401 was queued (*ret). */
static int authenticate(struct rg_admin *a, struct MHD_Connection *c, const char *what,
			struct rg_auth_identity *id, enum MHD_Result *ret)
{
	const char *h =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	const char *tok, *reason;
	char peer[INET6_ADDRSTRLEN + 1], path[160];
	size_t len;
	int err;

	if (rg_admin_bearer(h, &tok, &len)) {
		reason = h ? "malformed_header" : "no_token";
	} else if (!a->hooks.verify) {
		reason = "no_verifier";
	} else {
		err = a->hooks.verify(a->hooks.arg, tok, len, id);
		if (!err)
			return 0;
		reason = rg_auth_err_name((enum rg_auth_err)err);
	}
	fprintf(stderr, "event=admin_auth_fail reason=%s peer=%s request=%s\n", reason,
		peer_of(c, peer, sizeof(peer)), log_val(what, path, sizeof(path)));
	*ret = send_error(c, 401, "authentication failed", NULL);
	return -EACCES;
}

static bool is_operator(const struct rg_admin *a, const struct rg_admin_who *w)
{
	return rg_admin_in_groups(w, a->cfg->admin.operators, a->cfg->admin.n_operators);
}

/* ---- endpoints ------------------------------------------------------------------------ */

static enum MHD_Result do_readyz(struct rg_admin *a, struct MHD_Connection *c)
{
	char why[256] = "";

	if (a->hooks.ready && a->hooks.ready(a->hooks.arg, why, sizeof(why)))
		return send_json(c, 503,
				 json_pack("{s:s, s:s}", "status", "not ready", "detail",
					   why[0] ? why : "not ready"));
	return send_json(c, 200, json_pack("{s:s}", "status", "ready"));
}

static enum MHD_Result do_reload(struct rg_admin *a, struct MHD_Connection *c,
				 const struct rg_admin_who *w)
{
	char msg[512] = "", b1[160], b2[160];
	unsigned status;
	int r;

	if (!is_operator(a, w)) {
		fprintf(stderr, "event=admin_forbidden request=reload sub=%s iss=%s\n",
			log_val(w->sub, b1, sizeof(b1)), log_val(w->iss, b2, sizeof(b2)));
		return send_error(c, 403, "forbidden: not in an operators group", NULL);
	}
	if (!a->hooks.reload)
		return send_error(c, 501, "reload is not available", NULL);
	fprintf(stderr, "event=admin_reload sub=%s iss=%s\n", log_val(w->sub, b1, sizeof(b1)),
		log_val(w->iss, b2, sizeof(b2)));
	r = a->hooks.reload(a->hooks.arg, msg, sizeof(msg));
	if (!r)
		return send_json(
		    c, 200,
		    json_pack("{s:s, s:s}", "status", "reloaded", "detail", msg[0] ? msg : "ok"));
	status = r == -ENOENT ? 409 : r == -EINVAL ? 422 : 500;
	return send_error(c, status, msg[0] ? msg : "reload failed", NULL);
}

static enum MHD_Result do_list(struct rg_admin *a, struct MHD_Connection *c,
			       const struct rg_admin_who *w)
{
	const char *qs = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "status");
	const char *ql = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
	int status = rg_admin_status_filter(qs);
	size_t limit = rg_admin_list_limit(ql), n = 0, shown = 0;
	bool op = is_operator(a, w);
	struct rg_appr **v = NULL;
	json_t *arr, *doc;
	int64_t now = now_ms();
	int r;

	if (status == -2)
		return send_error(c, 400,
				  "status must be one of pending, approved, denied, expired, "
				  "withdrawn, abandoned, all",
				  NULL);
	if (!limit)
		return send_error(c, 400, "limit must be an integer 1..1000", NULL);
	/* A pending request past its expiry is expired: say so before anyone reads it. */
	rg_control_expire(a->ctl, now);
	r = rg_control_list(a->ctl, status, RG_ADMIN_LIST_MAX, &v, &n);
	if (r)
		return send_error(c, rg_admin_http_status(r), rg_control_strerror(r), NULL);
	arr = json_array();
	for (size_t i = 0; arr && i < n && shown < limit; i++) {
		if (!rg_admin_may_see(v[i], w, op))
			continue;
		if (json_array_append_new(arr, rg_admin_appr_json(v[i], a->cfg->admin.url))) {
			json_decref(arr);
			arr = NULL;
		}
		shown++;
	}
	rg_appr_list_free(v, n);
	doc = arr ? json_pack("{s:o, s:I}", "approvals", arr, "now_ms", (json_int_t)now) : NULL;
	return send_json(c, 200, doc);
}

/* The request by id if w may see it; otherwise a 404 was queued (the same answer whether it
 * exists or not: ids of others' requests are not confirmed). */
static struct rg_appr *visible(struct rg_admin *a, struct MHD_Connection *c, const char *id,
			       const struct rg_admin_who *w, enum MHD_Result *ret)
{
	struct rg_appr *ap = NULL;
	int r = rg_control_get(a->ctl, id, &ap);

	if (r == 0 && rg_admin_may_see(ap, w, is_operator(a, w)))
		return ap;
	rg_appr_free(ap);
	if (r && r != RG_CONTROL_E_NOT_FOUND)
		*ret = send_error(c, rg_admin_http_status(r), rg_control_strerror(r), NULL);
	else
		*ret = send_error(c, 404, rg_control_strerror(RG_CONTROL_E_NOT_FOUND), NULL);
	return NULL;
}

static enum MHD_Result do_get(struct rg_admin *a, struct MHD_Connection *c, const char *id,
			      const struct rg_admin_who *w)
{
	enum MHD_Result ret;
	struct rg_appr *ap;

	rg_control_expire(a->ctl, now_ms());
	ap = visible(a, c, id, w, &ret);
	if (!ap)
		return ret;
	ret = send_json(c, 200, rg_admin_appr_json(ap, a->cfg->admin.url));
	rg_appr_free(ap);
	return ret;
}

static enum MHD_Result do_decide(struct rg_admin *a, struct MHD_Connection *c, const char *id,
				 bool approve, const struct rg_admin_who *w, const struct req *rq)
{
	struct rg_appr *ap, *after = NULL;
	char *reason = NULL, b1[160], b2[160], b3[400];
	const char *why;
	enum MHD_Result ret;
	int r;

	if (rg_admin_parse_decision(rq->body, rq->len, &reason, &why))
		return send_error(c, 400, why, NULL);
	ap = visible(a, c, id, w, &ret);
	if (!ap) {
		free(reason);
		return ret;
	}
	rg_appr_free(ap);
	r = rg_control_decide(a->ctl, id, approve, w->iss, w->sub, w->groups, w->ngroups, reason,
			      now_ms(), &after);
	fprintf(stderr, "event=approval_%s id=%s result=%s by=%s iss=%s reason=\"%s\"\n",
		approve ? "approve" : "deny", id, r ? rg_control_strerror(r) : "ok",
		log_val(w->sub, b1, sizeof(b1)), log_val(w->iss, b2, sizeof(b2)),
		log_val(reason, b3, sizeof(b3)));
	free(reason);
	if (r)
		return send_error(c, rg_admin_http_status(r), rg_control_strerror(r), NULL);
	ret = send_json(c, 200, rg_admin_appr_json(after, a->cfg->admin.url));
	rg_appr_free(after);
	return ret;
}

/* ---- sessions: evidence, for operators ------------------------------------------------- */

/* 0 when w is an operator; otherwise a 403 was queued (*ret). */
static int operator_only(struct rg_admin *a, struct MHD_Connection *c,
			 const struct rg_admin_who *w, const char *what, enum MHD_Result *ret)
{
	char b1[160], b2[160];

	if (is_operator(a, w))
		return 0;
	fprintf(stderr, "event=admin_forbidden request=%s sub=%s iss=%s\n", what,
		log_val(w->sub, b1, sizeof(b1)), log_val(w->iss, b2, sizeof(b2)));
	*ret = send_error(c, 403, "forbidden: not in an operators group", NULL);
	return -EACCES;
}

static const char *arg(struct MHD_Connection *c, const char *key)
{
	return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
}

static enum MHD_Result do_sessions(struct rg_admin *a, struct MHD_Connection *c,
				   const struct rg_admin_who *w)
{
	const struct rg_admin_sess_query q = {arg(c, "sub"),   arg(c, "target"),
					      arg(c, "since"), arg(c, "until"),
					      arg(c, "verdict"), arg(c, "limit")};
	struct rg_sessions_filter f;
	enum MHD_Result ret;
	const char *why;
	json_t *all = NULL, *page;
	size_t limit, n;

	if (operator_only(a, c, w, "sessions", &ret))
		return ret;
	if (!a->audit_dir[0])
		return send_error(c, 404, "no audit trail: the gateway's config has no audit section",
				  NULL);
	if (rg_admin_sessions_filter(&q, &f, &limit, &why))
		return send_error(c, 400, why, NULL);
	if (rg_sessions_list(a->audit_dir, &f, &all))
		return send_error(c, 500, "the audit trail cannot be read", NULL);
	/* newest first: the last `limit` of the trail's order, reversed */
	n = json_array_size(all);
	page = json_array();
	for (size_t i = n; page && i > 0 && n - i < limit; i--)
		if (json_array_append(page, json_array_get(all, i - 1))) {
			json_decref(page);
			page = NULL;
		}
	json_decref(all);
	return send_json(c, 200,
			 page ? json_pack("{s:o, s:I, s:I}", "sessions", page, "total", (json_int_t)n,
					  "now_ms", (json_int_t)now_ms())
			      : NULL);
}

static enum MHD_Result do_session(struct rg_admin *a, struct MHD_Connection *c, const char *id,
				  const struct rg_admin_who *w)
{
	const struct rg_replay_opts o = {.detail = true, .max_rows = RG_ADMIN_REPLAY_MAX_ROWS};
	char b1[160], b2[160], msg[160];
	enum MHD_Result ret;
	struct stat st;
	long long sid;
	json_t *rp = NULL;
	int r;

	if (operator_only(a, c, w, "session", &ret))
		return ret;
	if (rg_admin_session_id(id, &sid))
		return send_error(c, 400,
				  "a session id is a positive decimal number (GET /api/sessions)",
				  NULL);
	if (!a->audit_dir[0])
		return send_error(c, 404, "no audit trail: the gateway's config has no audit section",
				  NULL);
	if (stat(a->rec_dir, &st) && errno == ENOENT)
		return send_error(c, 404,
				  "no session recordings here (audit.record_sessions is off)", NULL);
	fprintf(stderr, "event=admin_session_read session=%lld sub=%s iss=%s\n", sid,
		log_val(w->sub, b1, sizeof(b1)), log_val(w->iss, b2, sizeof(b2)));
	r = rg_replay(a->audit_dir, a->rec_dir, sid, &o, &rp);
	switch (r) {
	case 0:
		return send_json(c, 200, rp);
	case -ENOENT:
		snprintf(msg, sizeof(msg), "session %lld was not recorded", sid);
		return send_error(c, 404, msg, NULL);
	case -ESRCH:
		return send_error(c, 404, "no such session", NULL);
	case -ENOMEM:
		return send_error(c, 500, "out of memory", NULL);
	default:
		return send_error(c, 500, "the trails cannot be read", NULL);
	}
}

static enum MHD_Result dispatch(struct rg_admin *a, struct MHD_Connection *c, const char *url,
				const char *method, struct req *rq)
{
	char id[RG_APPR_ID_LEN + 1];
	const char *allow;
	struct rg_auth_identity *ident;
	struct rg_admin_who w;
	enum MHD_Result ret = MHD_NO;
	enum rg_admin_route r = rg_admin_route(method, url, id, &allow);

	switch (r) {
	case RG_ADMIN_R_NOT_FOUND:
		return send_error(c, 404, "not found", NULL);
	case RG_ADMIN_R_BAD_METHOD:
		return send_error(c, 405, "method not allowed", allow);
	case RG_ADMIN_R_PAGE:
		return send_page(c, "index.html", "text/html; charset=utf-8");
	case RG_ADMIN_R_PAGE_JS:
		return send_page(c, "app.js", "text/javascript; charset=utf-8");
	case RG_ADMIN_R_PAGE_CSS:
		return send_page(c, "app.css", "text/css; charset=utf-8");
	case RG_ADMIN_R_FAVICON:
		return send_buf(c, 204, "image/x-icon", (void *)"", 0, MHD_RESPMEM_PERSISTENT,
				NULL);
	case RG_ADMIN_R_HEALTHZ:
		return send_json(c, 200, json_pack("{s:s}", "status", "ok"));
	case RG_ADMIN_R_METRICS: {
		char *text = NULL;
		size_t len = 0;

		if (!a->hooks.metrics)
			return send_error(c, 404, "no metrics", NULL);
		if (a->hooks.metrics(a->hooks.arg, &text, &len))
			return send_error(c, 500, "metrics unavailable", NULL);
		return send_buf(c, 200, "text/plain; version=0.0.4; charset=utf-8", text, len,
				MHD_RESPMEM_MUST_FREE, NULL);
	}
	case RG_ADMIN_R_READYZ:
		return do_readyz(a, c);
	default:
		break;
	}
	/* ~5 KB: off MHD's thread stacks. */
	ident = calloc(1, sizeof(*ident));
	if (!ident)
		return send_error(c, 500, "out of memory", NULL);
	if (authenticate(a, c, url, ident, &ret))
		goto out;
	rg_admin_who_from(ident, &w);
	if (r == RG_ADMIN_R_RELOAD) {
		ret = do_reload(a, c, &w);
		goto out;
	}
	/* sessions come from the audit trail, not the control store */
	if (r == RG_ADMIN_R_SESS_LIST || r == RG_ADMIN_R_SESS_GET) {
		ret = r == RG_ADMIN_R_SESS_LIST ? do_sessions(a, c, &w) : do_session(a, c, id, &w);
		goto out;
	}
	if (!a->ctl) {
		ret = send_error(c, 503, "no control store", NULL);
		goto out;
	}
	switch (r) {
	case RG_ADMIN_R_APPR_LIST:
		ret = do_list(a, c, &w);
		break;
	case RG_ADMIN_R_APPR_GET:
		ret = do_get(a, c, id, &w);
		break;
	case RG_ADMIN_R_APPR_APPROVE:
	case RG_ADMIN_R_APPR_DENY:
		ret = do_decide(a, c, id, r == RG_ADMIN_R_APPR_APPROVE, &w, rq);
		break;
	default:
		ret = send_error(c, 404, "not found", NULL);
		break;
	}
out:
	free(ident);
	return ret;
}

/* MHD calls this first with the headers (*con_cls NULL), then with each piece of the body,
 * then once with *upload_size 0: that last call answers. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct rg_admin *a = cls;
	struct req *rq = *con_cls;

	(void)version;
	if (!rq) {
		const char *cl =
		    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

		rq = calloc(1, sizeof(*rq));
		if (!rq)
			return MHD_NO;
		*con_cls = rq;
		/* Refuse a declared oversized body before reading it (MHD closes after). */
		if (cl && (strlen(cl) > 9 || strtoul(cl, NULL, 10) > RG_ADMIN_MAX_BODY)) {
			rq->too_big = true;
			return send_error(c, 413, "request body too large", NULL);
		}
		return MHD_YES;
	}
	if (*upload_size) {
		if (!rq->too_big && rq->len + *upload_size > RG_ADMIN_MAX_BODY) {
			rq->too_big = true;
			free(rq->body);
			rq->body = NULL;
			rq->len = 0;
		}
		if (!rq->too_big) {
			char *b = realloc(rq->body, rq->len + *upload_size + 1);

			if (!b)
				return MHD_NO;
			memcpy(b + rq->len, upload, *upload_size);
			rq->len += *upload_size;
			b[rq->len] = 0;
			rq->body = b;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (rq->too_big)
		return send_error(c, 413, "request body too large", NULL);
	return dispatch(a, c, url, method, rq);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct req *rq = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (rq) {
		free(rq->body);
		free(rq);
		*con_cls = NULL;
	}
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512], buf[600];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = 0;
	/* MHD's own words, quoted as any detail: no '"' or control bytes. */
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == '"' || *p == '\\')
			*p = ' ';
	snprintf(buf, sizeof(buf), "event=admin_http_error detail=\"%s\"\n", msg);
	fputs(buf, stderr);
}

/* ---- lifecycle ------------------------------------------------------------------------ */

static int read_pem(const char *path, char **out, size_t *outlen, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	char *b = NULL;
	size_t off = 0;
	int ret = 0;

	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ret;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > MAX_PEM) {
		ret = -EINVAL;
		snprintf(err, errlen, "%s: not a regular file of at most %u bytes", path, MAX_PEM);
		goto out;
	}
	b = calloc(1, (size_t)st.st_size + 1);
	if (!b) {
		ret = -ENOMEM;
		goto out;
	}
	while (off < (size_t)st.st_size) {
		ssize_t r = read(fd, b + off, (size_t)st.st_size - off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			ret = r < 0 ? -errno : -EIO;
			snprintf(err, errlen, "%s: cannot read", path);
			goto out;
		}
		off += (size_t)r;
	}
	*out = b;
	*outlen = off;
	b = NULL;
out:
	if (b) {
		explicit_bzero(b, off);
		free(b);
	}
	close(fd);
	return ret;
}

int rg_admin_check(const struct rg_config *cfg, char *err, size_t errlen)
{
	const char *files[2] = {cfg->admin.tls_cert, cfg->admin.tls_key};
	int ret = 0;

	for (size_t i = 0; ret == 0 && cfg->admin.tls_enabled && i < 2; i++) {
		char *pem = NULL;
		size_t len = 0;

		ret = read_pem(files[i], &pem, &len, err, errlen);
		if (!ret && !strstr(pem, "-----BEGIN ")) {
			snprintf(err, errlen, "%s: not PEM", files[i]);
			ret = -EINVAL;
		}
		if (pem) {
			explicit_bzero(pem, len);
			free(pem);
		}
	}
	return ret;
}

static int bind_socket(const struct rg_config_addr *addr, char *err, size_t errlen)
{
	int one = 1, fd;

	fd = socket(addr->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (addr->sa.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&addr->sa, addr->salen) || listen(fd, 64))
		goto fail;
	return fd;
fail:
	snprintf(err, errlen, "cannot listen on %s: %s", addr->text, strerror(errno));
	{
		int e = errno;

		if (fd >= 0)
			close(fd);
		return -e;
	}
}

static uint16_t bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

static void admin_free(struct rg_admin *a)
{
	if (a->key) {
		explicit_bzero(a->key, a->keylen);
		free(a->key);
	}
	free(a->cert);
	free(a);
}

int rg_admin_start(const struct rg_config *cfg, struct rg_control *ctl,
		   const struct rg_admin_hooks *hooks, struct rg_admin **out, uint16_t *port,
		   char *err, size_t errlen)
{
	const struct rg_config_admin *ac = &cfg->admin;
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
	struct rg_admin *a;
	size_t certlen = 0;
	int fd = -1, ret;

	*out = NULL;
	if (!ac->enabled || ac->address.kind != RG_CONFIG_ADDR_INET || !ac->address.numeric) {
		snprintf(err, errlen, "admin: no address");
		return -EINVAL;
	}
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->cfg = cfg;
	a->ctl = ctl;
	if (cfg->audit.enabled) {
		const struct rg_config_audit *au = &cfg->audit;

		snprintf(a->audit_dir, sizeof(a->audit_dir), "%s%s",
			 au->dir ? au->dir : cfg->state_dir, au->dir ? "" : "/audit");
		snprintf(a->rec_dir, sizeof(a->rec_dir), "%s%s",
			 au->recordings_dir ? au->recordings_dir : cfg->state_dir,
			 au->recordings_dir ? "" : "/recordings");
	}
	if (hooks)
		a->hooks = *hooks;
	if (ac->tls_enabled) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			snprintf(err, errlen, "admin.tls: this libmicrohttpd has no TLS support");
			ret = -ENOTSUP;
			goto fail;
		}
		ret = read_pem(ac->tls_cert, &a->cert, &certlen, err, errlen);
		if (!ret)
			ret = read_pem(ac->tls_key, &a->key, &a->keylen, err, errlen);
		if (ret)
			goto fail;
		flags |= MHD_USE_TLS;
	}
	fd = bind_socket(&ac->address, err, errlen);
	if (fd < 0) {
		ret = fd;
		goto fail;
	}
	if (port)
		*port = bound_port(fd);
	/* Options after the TLS pair are skipped when TLS is off (MHD_OPTION_END first). */
	a->d = MHD_start_daemon(
	    flags, 0, NULL, NULL, on_request, a, MHD_OPTION_LISTEN_SOCKET, fd,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)THREADS, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)MAX_CONNS, MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)MAX_CONNS_PER_IP,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT_S,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY, MHD_OPTION_NOTIFY_COMPLETED,
	    on_completed, a, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, a,
	    ac->tls_enabled ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, a->cert,
	    MHD_OPTION_HTTPS_MEM_KEY, a->key, MHD_OPTION_HTTPS_PRIORITIES,
	    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2", MHD_OPTION_END);
	if (!a->d) {
		/* fd is not closed here: MHD may have closed it already (startup then fails). */
		snprintf(err, errlen, "cannot start the HTTP server on %s%s", ac->address.text,
			 ac->tls_enabled ? " (check admin.tls's certificate and key)" : "");
		ret = -EIO;
		goto fail;
	}
	*out = a;
	return 0;
fail:
	admin_free(a);
	return ret;
}

void rg_admin_stop(struct rg_admin *a)
{
	if (!a)
		return;
	MHD_stop_daemon(a->d); /* closes the listening socket, joins the threads */
	admin_free(a);
}
