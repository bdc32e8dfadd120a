/*
 * login.c: both logins of a MySQL session.
 *
 * Agent side: ringgate speaks first (Handshake v10 with its own connection id and a fresh
 * scramble); an SSLRequest starts TLS; the
 * HandshakeResponse41's user names the target (docs/mysql.md). The agent's JWT must come as
 * a mysql_clear_password answer: any other method is switched with an AuthSwitchRequest. A
 * token is read only inside TLS, or on a listener the config marks as loopback development.
 * Target side: connect, read the server's handshake, TLS when the target's tls says so,
 * then answer with the target's own secret in the method the server asks for
 * (mysql_native_password, caching_sha2_password, client_ed25519, mysql_clear_password over
 * TLS only); on the server's OK the agent gets an OK with its own sequence ids.
 * Never: a byte derived from the credential store towards the agent, a secret in a log.
 */
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <time.h>

#include "my-int.h"

#define CLEAR_PLUGIN "mysql_clear_password"

static bool str_is(const struct rg_my_str *s, const char *lit)
{
	size_t n = strlen(lit);

	return s->len == n && !memcmp(s->p, lit, n);
}

/* ---- agent side ------------------------------------------------------------------------ */

int my_fe_send_handshake(struct rg_sess *s)
{
	struct my_sess *ms = rg_sess_priv(s);
	struct my_login *lg = ms->login;
	struct rg_my_handshake h = {0};
	const char *plugin;
	uint8_t buf[256];
	ssize_t n;

	/* printable scramble bytes, as servers send (no NUL: part 2 is NUL-terminated) */
	if (RAND_bytes(lg->scramble, sizeof(lg->scramble)) != 1)
		return -EIO;
	for (size_t i = 0; i < sizeof(lg->scramble); i++)
		lg->scramble[i] = (uint8_t)(0x21 + lg->scramble[i] % 94);
	h.protocol = 10;
	h.server_version.p = (const uint8_t *)MY_SERVER_VERSION;
	h.server_version.len = strlen(MY_SERVER_VERSION);
	h.conn_id = ms->conn_id;
	memcpy(h.scramble, lg->scramble, sizeof(lg->scramble));
	h.scramble_len = sizeof(lg->scramble);
	h.caps = (MY_CAPS_OFFER | (ms->l->tls ? RG_MY_CLIENT_SSL : 0)) & ~RG_MY_CAPS_UNSUPPORTED;
	h.charset = MY_CHARSET_DEFAULT;
	h.status = RG_MY_SERVER_STATUS_AUTOCOMMIT;
	/* On a TLS listener the handshake names mysql_native_password: a client that skipped
	 * TLS then answers with a scramble hash, never with the token in clear text; inside
	 * TLS it is switched to mysql_clear_password (one round trip more). The loopback
	 * development listener names mysql_clear_password directly. */
	plugin = ms->l->tls ? "mysql_native_password" : CLEAR_PLUGIN;
	h.auth_plugin.p = (const uint8_t *)plugin;
	h.auth_plugin.len = strlen(plugin);
	n = rg_my_write_handshake(buf, sizeof(buf), &h);
	if (n < 0 || (size_t)n > sizeof(buf))
		return -EINVAL;
	lg->fe_seq = 1; /* the agent's answer */
	return rg_sess_send(s, RG_FE, buf, (size_t)n);
}

/* SSLRequest: TLS from here. The agent does not wait for an answer, so its ClientHello may
 * already follow in the same chunk: those bytes go through the TLS conn here, before the
 * transform takes over the side. */
static void fe_start_tls(struct rg_sess *s, const uint8_t *rest, size_t nrest)
{
	struct my_sess *ms = rg_sess_priv(s);
	struct rg_tls_conn *t;
	struct rg_acc plain = {0}, reply = {0};

	if (!ms->l->tls || ms->fe_tls) {
		my_violation(s, RG_FE, "unexpected_sslrequest", RG_MY_E_PROTOCOL);
		return;
	}
	t = rg_tls_conn_new(ms->l->tls, NULL);
	if (!t || !my_tls_errbuf(ms)) {
		rg_tls_conn_free(t);
		rg_sess_abort(s);
		return;
	}
	rg_tls_conn_set_errbuf(t, ms->tls_err, MY_TLS_ERR_LEN);
	/* an SSLRequest framed from the accumulator (it was split) has the bytes after it
	 * there, not in rest: they are TLS too */
	if (ms->fs.acc.len > ms->fs.pend) {
		size_t tail = ms->fs.acc.len - ms->fs.pend;

		if (rg_tls_xform.rx(t, ms->fs.acc.p + ms->fs.pend, tail, &plain, &reply) ||
		    plain.len) {
			rg_acc_free(&plain);
			rg_acc_free(&reply);
			rg_tls_conn_free(t);
			rg_sess_abort(s);
			return;
		}
		ms->fs.pend = ms->fs.acc.len;
	}
	if (nrest || reply.len) {
		if ((nrest && rg_tls_xform.rx(t, rest, nrest, &plain, &reply)) || plain.len ||
		    (reply.len && rg_sess_send(s, RG_FE, reply.p, reply.len))) {
			rg_acc_free(&plain);
			rg_acc_free(&reply);
			rg_tls_conn_free(t);
			rg_sess_abort(s);
			return;
		}
		rg_acc_free(&plain);
		rg_acc_free(&reply);
	}
	if (rg_sess_set_xform(s, RG_FE, &rg_tls_xform, t)) {
		rg_tls_conn_free(t);
		rg_sess_abort(s);
		return;
	}
	ms->fe_tls = true;
	my_fe_goto(ms, FE_TLS_RESPONSE);
}

static void auth_audit(struct my_sess *ms, enum rg_auth_err e, const char *detail)
{
	char d[200], u[80];

	ms->cnt->auth_fail++;
	ms->cnt->auth_fail_by[(unsigned)e < RG_GW_AUTH_REASONS ? (unsigned)e : 0]++;
	my_ev_auth_fail(ms, rg_auth_err_name(e), detail);
	rg_log("event=auth_fail proto=mysql sess=%llu reason=%s sub=- user=%s peer=%s target=%s "
	       "detail=%s",
	       (unsigned long long)ms->id, rg_auth_err_name(e),
	       rg_logval(ms->login->user, u, sizeof(u)), ms->peer,
	       ms->tgt ? ms->tgt->cfg->name : "-", rg_logval(detail, d, sizeof(d)));
}

/* A refused token: the same ERR whatever the cause (nothing leaks), the cause in the log. */
static void auth_fail(struct rg_sess *s, enum rg_auth_err e, const char *detail)
{
	struct my_sess *ms = rg_sess_priv(s);

	auth_audit(ms, e, detail);
	my_close_err(s, ms->login->fe_seq, RG_MY_ER_ACCESS_DENIED, "28000",
		     "Access denied (ringgate: authentication failed)");
}

static void connect_target(struct rg_sess *s)
{
	struct my_sess *ms = rg_sess_priv(s);
	struct my_login *lg = ms->login;
	int ret;

	my_be_goto(ms, BE_CONNECTING);
	if (!lg->connect_us)
		lg->connect_us = my_mono_us();
	lg->addr_count =
	    (unsigned)rg_gw_target_addr(ms->tgt->gt, lg->addr_try, &lg->be_addr, &lg->be_addrlen);
	ret = rg_sess_connect_be(s, (const struct sockaddr *)&lg->be_addr, lg->be_addrlen);
	if (ret) {
		my_upstream_fail(s, "connect", strerror(-ret));
		return;
	}
	my_login_timer(s, ms->tgt->cfg->connect_timeout_ms);
}

static void token_checked(struct rg_sess *s, enum rg_auth_err e, const struct rg_auth_identity *id,
			  const struct rg_auth_fail *why)
{
	struct my_sess *ms = rg_sess_priv(s);
	char sub[MY_SUB_LOG_LEN], u[80];

	if (e != RG_AUTH_OK) {
		auth_fail(s, e, why->detail);
		return;
	}
	ms->ident = rg_auth_identity_dup(id);
	if (!ms->ident) {
		auth_fail(s, RG_AUTH_E_INTERNAL, "out of memory keeping the identity");
		return;
	}
	my_sub(ms, sub, sizeof(sub));
	rg_logval(ms->login->user, u, sizeof(u));
	if (!ms->tgt) {
		char msg[160];

		rg_log("event=unknown_target proto=mysql sess=%llu peer=%s sub=%s user=%s",
		       (unsigned long long)ms->id, ms->peer, sub, u);
		ms->cnt->unknown_database++;
		my_ev_auth_fail(ms, "unknown_target", NULL);
		snprintf(msg, sizeof(msg), "Access denied: no target named '%.64s' (ringgate)",
			 ms->login->user);
		my_close_err(s, ms->login->fe_seq, RG_MY_ER_ACCESS_DENIED, "28000", msg);
		return;
	}
	rg_log("event=auth_ok proto=mysql sess=%llu sub=%s user=%s peer=%s target=%s",
	       (unsigned long long)ms->id, sub, u, ms->peer, ms->tgt->cfg->name);
	ms->cnt->auth_ok++;
	my_ev_auth_ok(ms);
	my_pending_done(ms);
	if (!rg_gw_session_enter(ms->m->svc)) {
		rg_log("event=session_refused proto=mysql sess=%llu peer=%s sub=%s "
		       "reason=max_sessions",
		       (unsigned long long)ms->id, ms->peer, sub);
		my_close_err(s, ms->login->fe_seq, 1040, "08004", "Too many connections");
		return;
	}
	ms->counted = true;
	my_fe_goto(ms, FE_WAIT_BE);
	rg_sess_pause(s, RG_FE);
	connect_target(s);
}

static bool keywait_start(struct rg_sess *s, struct rg_auth_verifier *v, uint64_t gen,
			  const uint8_t *tok, size_t len, const struct rg_auth_fail *why)
{
	struct my_sess *ms = rg_sess_priv(s);
	uint64_t wait = rg_auth_verifier_fetch_timeout_ms(v);
	uint64_t end = ms->accepted_ms + ms->m->login_timeout_ms;
	struct my_keywait *kw = malloc(sizeof(*kw) + len);

	if (!kw)
		return false;
	kw->v = v;
	kw->gen = gen;
	kw->deadline = my_mono_ms() + (wait < MY_KEYWAIT_MAX_MS ? wait : MY_KEYWAIT_MAX_MS);
	if (kw->deadline > end)
		kw->deadline = end;
	memcpy(kw->detail, why->detail, sizeof(kw->detail));
	kw->len = len;
	memcpy(kw->token, tok, len);
	ms->login->keywait = kw;
	my_fe_goto(ms, FE_WAIT_KEYS);
	rg_sess_timer(s, MY_KEYWAIT_POLL_MS);
	return true;
}

void my_keywait_free(struct my_sess *ms)
{
	struct my_keywait *kw = ms->login ? ms->login->keywait : NULL;

	if (!kw)
		return;
	OPENSSL_cleanse(kw->token, kw->len);
	free(kw);
	ms->login->keywait = NULL;
}

/* FE_WAIT_KEYS timer: verify once more when the refresh generation moved, else refuse at
 * the deadline as without waiting. */
void my_keywait_poll(struct rg_sess *s)
{
	struct my_sess *ms = rg_sess_priv(s);
	struct my_keywait *kw = ms->login->keywait;
	struct rg_auth_identity id;
	struct rg_auth_fail why;
	enum rg_auth_err e;

	memset(&why, 0, sizeof(why));
	if (rg_auth_verifier_generation(kw->v) == kw->gen) {
		if (my_mono_ms() < kw->deadline) {
			rg_sess_timer(s, MY_KEYWAIT_POLL_MS);
			return;
		}
		e = RG_AUTH_E_UNKNOWN_KID;
		memcpy(why.detail, kw->detail, sizeof(why.detail));
	} else {
		e = rg_auth_verify(kw->v, kw->token, kw->len, (int64_t)time(NULL), &id, &why);
	}
	my_keywait_free(ms);
	my_fe_goto(ms, FE_AUTH_SWITCH); /* out of FE_WAIT_KEYS before the verdict's state */
	token_checked(s, e, &id, &why);
}

/* The agent's mysql_clear_password answer (password + NUL): its token. */
static void fe_token(struct rg_sess *s, const uint8_t *p, size_t n)
{
	struct my_sess *ms = rg_sess_priv(s);
	struct rg_auth_identity id; /* large; the session keeps a compact copy */
	struct rg_auth_verifier *v;
	struct rg_auth_fail why;
	struct rg_my_str pw;
	char iss[RG_AUTH_MAX_ISS];
	enum rg_auth_err e;
	uint64_t gen;

	memset(&why, 0, sizeof(why));
	if (rg_my_read_clear_password(p, n, &pw)) {
		auth_fail(s, RG_AUTH_E_MALFORMED, "not a mysql_clear_password answer");
		return;
	}
	if (rg_auth_peek_issuer((const char *)pw.p, (size_t)pw.len, iss, sizeof(iss))) {
		auth_fail(s, RG_AUTH_E_MALFORMED, "no readable iss");
		return;
	}
	v = rg_gw_verifier(ms->m->svc, iss);
	if (!v) {
		auth_fail(s, RG_AUTH_E_BAD_ISSUER, iss);
		return;
	}
	gen = rg_auth_verifier_generation(v);
	e = rg_auth_verify(v, (const char *)pw.p, (size_t)pw.len, (int64_t)time(NULL), &id, &why);
	if (e == RG_AUTH_E_UNKNOWN_KID && why.refresh_pending &&
	    keywait_start(s, v, gen, pw.p, (size_t)pw.len, &why))
		return;
	token_checked(s, e, &id, &why);
}

static void copy_str(char *out, size_t cap, const struct rg_my_str *s)
{
	size_t n = s->len < cap - 1 ? (size_t)s->len : cap - 1;

	memcpy(out, s->p, n);
	out[n] = 0;
}

static void fe_response(struct rg_sess *s, const uint8_t *p, size_t n, const uint8_t *rest,
			size_t nrest, bool *stop)
{
	struct my_sess *ms = rg_sess_priv(s);
	struct my_login *lg = ms->login;
	struct rg_my_response r;
	uint8_t buf[128];
	ssize_t len;
	int e = rg_my_read_response(p, n, &r);

	if (e) {
		my_violation(s, RG_FE, "handshake_response", e);
		return;
	}
	if (r.ssl_request) {
		if (ms->fe != FE_HANDSHAKE) {
			my_violation(s, RG_FE, "repeated_sslrequest", RG_MY_E_PROTOCOL);
			return;
		}
		fe_start_tls(s, rest, nrest);
		*stop = true; /* the rest of the chunk was TLS: consumed by fe_start_tls */
		return;
	}
	lg->agent_caps = r.caps;
	lg->max_packet = r.max_packet;
	lg->charset = r.charset;
	ms->caps = r.caps & MY_CAPS_OFFER & ~RG_MY_CAPS_UNSUPPORTED & ~MY_CAPS_LOGIN &
		   ~RG_MY_CLIENT_SSL;
	/* the whole name selects the target; the copy kept for log lines may be cut short */
	ms->tgt = my_target_by_name(ms->m, (const char *)r.user.p, (size_t)r.user.len);
	copy_str(lg->user, sizeof(lg->user), &r.user);
	if (r.database.len) {
		if (r.database.len > 64) {
			my_close_err(s, lg->fe_seq, 1102, "42000", "Incorrect database name");
			return;
		}
		copy_str(lg->db, sizeof(lg->db), &r.database);
		lg->has_db = true;
	}
	if ((r.caps & RG_MY_CLIENT_CONNECT_ATTRS) && r.attrs.len && r.attrs.len <= 4096) {
		lg->attrs = malloc((size_t)r.attrs.len);
		if (lg->attrs) {
			memcpy(lg->attrs, r.attrs.p, (size_t)r.attrs.len);
			lg->attrs_len = (size_t)r.attrs.len;
		}
	}
	/* The token is a bearer credential: only inside TLS, or on loopback when the config
	 * says so. Refused before it is asked for. */
	if (!ms->fe_tls && !ms->l->plaintext_ok) {
		auth_audit(ms, RG_AUTH_E_MALFORMED, "token login without TLS");
		my_close_err(s, lg->fe_seq, RG_MY_ER_ACCESS_DENIED, "28000",
			     "Access denied: ringgate accepts tokens only over TLS (use --ssl)");
		return;
	}
	if ((r.caps & RG_MY_CLIENT_PLUGIN_AUTH) && str_is(&r.plugin, CLEAR_PLUGIN) && r.auth.len) {
		fe_token(s, r.auth.p, (size_t)r.auth.len);
		OPENSSL_cleanse((void *)r.auth.p, (size_t)r.auth.len);
		return;
	}
	OPENSSL_cleanse((void *)r.auth.p, (size_t)r.auth.len);
	if (!(r.caps & RG_MY_CLIENT_PLUGIN_AUTH)) {
		my_close_err(s, lg->fe_seq, RG_MY_ER_NOT_SUPPORTED_AUTH_MODE, "08004",
			     "Client does not support authentication protocol requested by "
			     "server; consider upgrading MySQL client");
		return;
	}
	len = rg_my_write_auth_switch(buf, sizeof(buf), lg->fe_seq, CLEAR_PLUGIN, NULL, 0);
	if (len < 0 || (size_t)len > sizeof(buf) || rg_sess_send(s, RG_FE, buf, (size_t)len)) {
		rg_sess_abort(s);
		return;
	}
	lg->fe_seq = rg_my_seq_next(lg->fe_seq);
	my_fe_goto(ms, FE_AUTH_SWITCH);
}

void my_fe_login_msg(struct rg_sess *s, const struct rg_my_msg *m, const uint8_t *rest,
		     size_t nrest, bool *stop)
{
	struct my_sess *ms = rg_sess_priv(s);
	struct my_login *lg = ms->login;

	if (m->npackets != 1) { /* bounded by MY_LOGIN_MSG_MAX: never split */
		my_violation(s, RG_FE, "login_packet", RG_MY_E_TOO_LONG);
		return;
	}
	lg->fe_seq = m->seq_next;
	switch (ms->fe) {
	case FE_HANDSHAKE:
	case FE_TLS_RESPONSE:
		fe_response(s, m->payload, (size_t)m->len, rest, nrest, stop);
		break;
	case FE_AUTH_SWITCH:
		fe_token(s, m->payload, (size_t)m->len);
		OPENSSL_cleanse((void *)m->payload, (size_t)m->len);
		break;
	default:
		break;
	}
}

/* ---- target side: TLS ---------------------------------------------------------------------- */

/* A handshake or record failure: the agent gets the ERR, then the session closes. */
static void be_tls_failed(struct rg_sess *s)
{
	struct my_sess *ms = rg_sess_priv(s);

	my_upstream_fail(s, "tls", ms->tls_err);
	ms->tls_err[0] = 0;
}

static int be_start_tls(struct rg_sess *s)
{
	struct my_sess *ms = rg_sess_priv(s);

	if (!my_tls_errbuf(ms))
		return -ENOMEM;
	return rg_tls_upstream_start(s, ms->tgt->gt->tls, ms->tgt->gt->server_name, ms->tls_err,
				     MY_TLS_ERR_LEN, be_tls_failed, &ms->be_tls);
}

/* ---- target side: login ------------------------------------------------------------------- */

void my_be_connected(struct rg_sess *s, int err)
{
	struct my_sess *ms = rg_sess_priv(s);
	struct my_login *lg = ms->login;

	if (err) {
		if (lg && lg->addr_try + 1 < lg->addr_count) {
			lg->addr_try++;
			rg_log("event=upstream_retry proto=mysql sess=%llu target=%s reason=connect "
			       "detail=%s next=%u/%u",
			       (unsigned long long)ms->id, ms->tgt->cfg->name, strerror(-err),
			       lg->addr_try + 1, lg->addr_count);
			connect_target(s);
			return;
		}
		my_upstream_fail(s, "connect", strerror(-err));
		return;
	}
	my_be_goto(ms, BE_HANDSHAKE);
	my_login_timer(s, 0);
}

/*
 * The auth data for method plugin with scramble data[0..n), computed from the target's
 * secret into out (wiped by the caller). Returns its length, or <0: a method ringgate does
 * not use (or not without TLS).
 */
static ssize_t be_auth_data(struct my_sess *ms, const char *plugin, const uint8_t *data, size_t n,
			    uint8_t *out, size_t cap)
{
	size_t pwlen;
	const char *pw = rg_auth_cred_secret(ms->tgt->gt->cred, &pwlen);
	int r;

	if (!strcmp(plugin, "mysql_native_password")) {
		if (n < RG_MY_SCRAMBLE_LEN)
			return RG_MY_E_VALUE;
		r = rg_my_native_password(data, n, pw, pwlen, out);
		return r;
	}
	if (!strcmp(plugin, "caching_sha2_password")) {
		if (n < RG_MY_SCRAMBLE_LEN)
			return RG_MY_E_VALUE;
		return rg_my_sha2_scramble(data, n, pw, pwlen, out);
	}
	if (!strcmp(plugin, "client_ed25519")) {
		if (n < RG_MY_ED25519_SCRAMBLE_LEN)
			return RG_MY_E_VALUE;
		r = rg_my_ed25519_sign(data, RG_MY_ED25519_SCRAMBLE_LEN, pw, pwlen, out);
		return r < 0 ? r : RG_MY_ED25519_SIG_LEN;
	}
	if (!strcmp(plugin, CLEAR_PLUGIN) && ms->be_tls)
		return rg_my_sha2_cleartext(pw, pwlen, out, cap);
	return RG_MY_E_PROTOCOL;
}

static void be_handshake(struct rg_sess *s, const struct rg_my_msg *m)
{
	struct my_sess *ms = rg_sess_priv(s);
	struct my_login *lg = ms->login;
	const struct rg_config_target *tc = ms->tgt->cfg;
	struct rg_my_handshake h;
	struct rg_my_response r = {0};
	uint8_t auth[512], buf[8192];
	const char *plugin;
	uint64_t caps, missing;
	ssize_t an, n;
	int e;

	if (m->len && m->payload[0] == 0xff) {
		struct rg_my_err_pkt ep;
		char d[300];

		if (rg_my_read_err(m->payload, (size_t)m->len, &ep) == 0)
			snprintf(d, sizeof(d), "%u %.*s", ep.code, (int)(ep.message.len < 200 ?
									ep.message.len : 200),
				 (const char *)ep.message.p);
		else
			snprintf(d, sizeof(d), "unreadable ERR");
		my_upstream_fail(s, "refused", d);
		return;
	}
	e = rg_my_read_handshake(m->payload, (size_t)m->len, &h);
	if (e) {
		my_violation(s, RG_BE, "handshake", e);
		return;
	}
	copy_str(lg->be_version, sizeof(lg->be_version), &h.server_version);
	lg->be_conn_id = h.conn_id;
	missing = ms->caps & MY_CAPS_LAYOUT & ~h.caps;
	if (!(h.caps & RG_MY_CLIENT_PLUGIN_AUTH) || !(h.caps & RG_MY_CLIENT_SECURE_CONNECTION) ||
	    missing) {
		char d[120];

		snprintf(d, sizeof(d), "target lacks capabilities 0x%llx the agent negotiated "
				       "(or plugin auth)",
			 (unsigned long long)missing);
		my_upstream_fail(s, "capabilities", d);
		return;
	}
	/* command-phase bits: exactly the agent's (so packets relay unchanged); login-phase
	 * bits: ringgate's own */
	caps = (ms->caps & h.caps) | RG_MY_CLIENT_MYSQL | RG_MY_CLIENT_PROTOCOL_41 |
	       RG_MY_CLIENT_SECURE_CONNECTION | RG_MY_CLIENT_PLUGIN_AUTH;
	caps |= h.caps & RG_MY_CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA;
	if (lg->attrs_len && (h.caps & RG_MY_CLIENT_CONNECT_ATTRS))
		caps |= RG_MY_CLIENT_CONNECT_ATTRS;
	if (lg->has_db || tc->database)
		caps |= RG_MY_CLIENT_CONNECT_WITH_DB;
	caps &= ~RG_MY_CAPS_UNSUPPORTED;
	lg->be_seq = m->seq_next;
	if (tc->tls.mode != RG_CONFIG_TLS_DISABLE) {
		if (!(h.caps & RG_MY_CLIENT_SSL)) {
			my_upstream_fail(s, "tls", "target does not offer TLS");
			return;
		}
		caps |= RG_MY_CLIENT_SSL;
		n = rg_my_write_ssl_request(buf, sizeof(buf), lg->be_seq, caps,
					    lg->max_packet ? lg->max_packet : RG_MY_MAX_PACKET,
					    lg->charset);
		if (n < 0 || rg_sess_send(s, RG_BE, buf, (size_t)n) || be_start_tls(s)) {
			my_upstream_fail(s, "tls", "cannot start TLS");
			return;
		}
		lg->be_seq = rg_my_seq_next(lg->be_seq);
	}
	memcpy(lg->be_scramble, h.scramble, h.scramble_len);
	lg->be_scramble_len = h.scramble_len;
	plugin = "mysql_native_password";
	if (str_is(&h.auth_plugin, "caching_sha2_password") ||
	    str_is(&h.auth_plugin, "client_ed25519") ||
	    (str_is(&h.auth_plugin, CLEAR_PLUGIN) && ms->be_tls))
		plugin = (const char *)h.auth_plugin.p; /* NUL-terminated in the packet */
	copy_str(lg->be_plugin, sizeof(lg->be_plugin),
		 &(struct rg_my_str){.p = (const uint8_t *)plugin, .len = strlen(plugin)});
	an = be_auth_data(ms, lg->be_plugin, h.scramble, h.scramble_len, auth, sizeof(auth));
	if (an < 0) {
		my_upstream_fail(s, "auth", "cannot compute the answer to the target's handshake");
		return;
	}
	r.caps = caps;
	r.max_packet = lg->max_packet ? lg->max_packet : RG_MY_MAX_PACKET;
	r.charset = lg->charset;
	r.user.p = (const uint8_t *)tc->user;
	r.user.len = strlen(tc->user);
	r.auth.p = auth;
	r.auth.len = (uint64_t)an;
	if (lg->has_db) {
		r.database.p = (const uint8_t *)lg->db;
		r.database.len = strlen(lg->db);
	} else if (tc->database) {
		r.database.p = (const uint8_t *)tc->database;
		r.database.len = strlen(tc->database);
	}
	r.plugin.p = (const uint8_t *)lg->be_plugin;
	r.plugin.len = strlen(lg->be_plugin);
	r.attrs.p = lg->attrs;
	r.attrs.len = lg->attrs_len;
	n = rg_my_write_response(buf, sizeof(buf), lg->be_seq, &r);
	OPENSSL_cleanse(auth, sizeof(auth));
	if (n < 0 || (size_t)n > sizeof(buf)) {
		OPENSSL_cleanse(buf, sizeof(buf));
		my_upstream_fail(s, "internal", "cannot build the handshake response");
		return;
	}
	e = rg_sess_send_secret(s, RG_BE, buf, (size_t)n);
	OPENSSL_cleanse(buf, (size_t)n);
	if (e) {
		rg_sess_abort(s);
		return;
	}
	lg->be_seq = rg_my_seq_next(lg->be_seq);
	my_be_goto(ms, BE_AUTH);
}

static int be_send_auth(struct rg_sess *s, const uint8_t *data, size_t n)
{
	struct my_sess *ms = rg_sess_priv(s);
	uint8_t buf[600];
	ssize_t len = rg_my_write_auth_data(buf, sizeof(buf), ms->login->be_seq, data, n);
	int e;

	if (len < 0 || (size_t)len > sizeof(buf))
		return -EINVAL;
	e = rg_sess_send_secret(s, RG_BE, buf, (size_t)len);
	OPENSSL_cleanse(buf, sizeof(buf));
	ms->login->be_seq = rg_my_seq_next(ms->login->be_seq);
	return e;
}

/* The target's OK: the agent gets it with its own sequence id, and the session relays. */
/* The login is complete and the session's lexing known: tell the agent it is in (the
 * target's OK, kept), and relay from now on. */
static void login_done(struct rg_sess *s)
{
	struct my_sess *ms = rg_sess_priv(s);
	struct my_login *lg = ms->login;
	uint8_t hdr[RG_MY_HDR];
	char sub[MY_SUB_LOG_LEN];

	hdr[0] = (uint8_t)lg->ok_len;
	hdr[1] = (uint8_t)(lg->ok_len >> 8);
	hdr[2] = (uint8_t)(lg->ok_len >> 16);
	hdr[3] = lg->fe_seq;
	if (rg_sess_send(s, RG_FE, hdr, sizeof(hdr)) ||
	    rg_sess_send(s, RG_FE, lg->ok, lg->ok_len)) {
		rg_sess_abort(s);
		return;
	}
	rg_log("event=upstream_login proto=mysql sess=%llu sub=%s target=%s method=%s tls=%s "
	       "server=%s sql_mode=%s ms=%llu",
	       (unsigned long long)ms->id, my_sub(ms, sub, sizeof(sub)), ms->tgt->cfg->name,
	       lg->be_plugin, ms->be_tls ? "yes" : "no",
	       rg_logval(lg->be_version, (char[80]){0}, 80),
	       rg_logval(lg->probe_mode, (char[160]){0}, 160),
	       (unsigned long long)((my_mono_us() - lg->connect_us) / 1000));
	rg_gw_lat_observe(&ms->cnt->login_lat, my_mono_us() - lg->connect_us);
	my_ev_session_start(ms, ms->tgt->cfg->user, ms->be_tls != NULL, lg->be_plugin);
	my_rec_start(ms); /* from after the login's OK: what the agent receives relayed */
	ms->multi_stmts = ms->caps & RG_MY_CLIENT_MULTI_STATEMENTS;
	ms->token_end_ms = rg_auth_verifier_session_end_ms(
	    rg_gw_verifier(ms->m->svc, rg_auth_principal_iss(ms->ident)), ms->ident);
	rg_gw_target_opened(ms->tgt->gt, ms->worker);
	ms->tgt_counted = true;
	ms->kn.conn_id = ms->conn_id;
	ms->kn.upstream_id = lg->be_conn_id;
	ms->kn.target = ms->tgt;
	ms->kn.worker = ms->worker;
	ms->kn.sess_id = ms->id;
	my_identity_digest(ms->ident, ms->kn.ident);
	my_kill_register(&ms->kn);
	ms->relayed = true;
	/* the scope limits of the bundle in force now (docs/mysql.md, "Scope limits") */
	if (rg_gw_limits_start(ms->m->svc, ms->worker, &ms->req, my_mono_ms(), &ms->lim)) {
		rg_sess_abort(s);
		return;
	}
	my_login_free(ms);
	my_be_goto(ms, BE_RELAY);
	my_fe_goto(ms, FE_RELAY);
	if (!my_expiry_timer(s))
		return;
	rg_sess_resume(s, RG_FE);
}

#define PROBE_SQL "SELECT @@SESSION.sql_mode, @@SESSION.character_set_client"

/* The target said OK: keep it for the agent, and ask the target how it will lex this
 * session's statements (policy.c) before anything of the agent's reaches it. */
static void be_login_ok(struct rg_sess *s, const struct rg_my_msg *m)
{
	struct my_sess *ms = rg_sess_priv(s);
	struct my_login *lg = ms->login;
	uint8_t q[64];
	ssize_t n;

	lg->ok = malloc(m->len ? (size_t)m->len : 1);
	if (!lg->ok) {
		rg_sess_abort(s);
		return;
	}
	memcpy(lg->ok, m->payload, (size_t)m->len);
	lg->ok_len = (size_t)m->len;
	my_policy_session(ms);
	n = rg_my_write_command(q, sizeof(q), RG_MY_COM_QUERY, PROBE_SQL, strlen(PROBE_SQL));
	if (n < 0 || (size_t)n > sizeof(q) || rg_sess_send(s, RG_BE, q, (size_t)n)) {
		rg_sess_abort(s);
		return;
	}
	lg->be_seq = 1;
	lg->probe_step = 0;
	my_be_goto(ms, BE_PROBE);
}

static void str_copy(char *out, size_t cap, const struct rg_my_str *v)
{
	size_t l = v->len < cap - 1 ? (size_t)v->len : cap - 1;

	memcpy(out, v->p, l);
	out[l] = 0;
	for (size_t i = 0; i < l; i++)
		if (!out[i])
			out[i] = '?'; /* a NUL cannot name a mode or a set: refused below */
}

/* The probe's answer: a column count (2), two column definitions, [EOF], one text row,
 * EOF or OK-as-EOF. Anything else, or a lexing state the classifier does not follow, ends
 * the login (fail closed). */
static void be_probe_msg(struct rg_sess *s, const struct rg_my_msg *m)
{
	struct my_sess *ms = rg_sess_priv(s);
	struct my_login *lg = ms->login;
	bool deprecate_eof = ms->caps & RG_MY_CLIENT_DEPRECATE_EOF;
	unsigned row_step = deprecate_eof ? 3 : 4;
	const uint8_t *p = m->payload;
	size_t n = (size_t)m->len;
	char why[200];

	lg->be_seq = m->seq_next;
	if (n && p[0] == 0xff) {
		my_upstream_fail(s, "probe", "the target refused SELECT @@SESSION.sql_mode");
		return;
	}
	if (lg->probe_step == row_step) {
		struct rg_my_rd r;
		struct rg_my_str mode, cs;

		rg_my_rd_init(&r, p, n);
		if (rg_my_rd_lenenc_str(&r, &mode) || rg_my_rd_lenenc_str(&r, &cs) ||
		    rg_my_rd_end(&r)) {
			my_upstream_fail(s, "probe", "unreadable sql_mode row");
			return;
		}
		str_copy(lg->probe_mode, sizeof(lg->probe_mode), &mode);
		str_copy(lg->probe_charset, sizeof(lg->probe_charset), &cs);
	} else if (lg->probe_step == row_step + 1) {
		if (!n || p[0] != 0xfe) {
			my_upstream_fail(s, "probe", "unexpected end of the sql_mode result");
			return;
		}
		if (!my_policy_lexing(ms, lg->be_version, lg->probe_mode, lg->probe_charset, why,
				      sizeof(why))) {
			my_upstream_fail(s, "lexing", why);
			return;
		}
		login_done(s);
		return;
	} else if (lg->probe_step == 0 && (n != 1 || p[0] != 2)) {
		my_upstream_fail(s, "probe", "unexpected sql_mode result");
		return;
	}
	lg->probe_step++;
}

void my_be_login_msg(struct rg_sess *s, const struct rg_my_msg *m)
{
	struct my_sess *ms = rg_sess_priv(s);
	struct my_login *lg = ms->login;
	uint8_t out[600];
	ssize_t n;
	int e;

	if (m->npackets != 1) {
		my_violation(s, RG_BE, "login_packet", RG_MY_E_TOO_LONG);
		return;
	}
	if (ms->be == BE_HANDSHAKE) {
		be_handshake(s, m);
		return;
	}
	if (ms->be == BE_PROBE) {
		be_probe_msg(s, m);
		return;
	}
	lg->be_seq = m->seq_next;
	switch (m->len ? m->payload[0] : 0x100) {
	case 0x00:
		be_login_ok(s, m);
		return;
	case 0xff: {
		struct rg_my_err_pkt ep;
		char d[300];

		if (rg_my_read_err(m->payload, (size_t)m->len, &ep) == 0)
			snprintf(d, sizeof(d), "%u %.*s", ep.code,
				 (int)(ep.message.len < 200 ? ep.message.len : 200),
				 (const char *)ep.message.p);
		else
			snprintf(d, sizeof(d), "unreadable ERR");
		my_upstream_fail(s, "auth", d);
		return;
	}
	case 0xfe: {
		struct rg_my_auth_switch sw;

		if (rg_my_read_auth_switch(m->payload, (size_t)m->len, &sw) || sw.old_style ||
		    ++lg->be_switches > 2 || sw.plugin.len >= sizeof(lg->be_plugin)) {
			my_upstream_fail(s, "auth", "unusable AuthSwitchRequest");
			return;
		}
		copy_str(lg->be_plugin, sizeof(lg->be_plugin), &sw.plugin);
		n = be_auth_data(ms, lg->be_plugin, sw.data.p, (size_t)sw.data.len, out,
				 sizeof(out));
		if (n >= 0 && sw.data.len <= sizeof(lg->be_scramble)) {
			memcpy(lg->be_scramble, sw.data.p, (size_t)sw.data.len);
			lg->be_scramble_len = (size_t)sw.data.len;
		}
		if (n < 0) {
			char d[80];

			snprintf(d, sizeof(d), "method %s not usable", lg->be_plugin);
			my_upstream_fail(s, "auth", d);
			return;
		}
		e = be_send_auth(s, out, (size_t)n);
		OPENSSL_cleanse(out, sizeof(out));
		if (e)
			rg_sess_abort(s);
		return;
	}
	case 0x01: {
		struct rg_my_str d;
		size_t pwlen;
		const char *pw = rg_auth_cred_secret(ms->tgt->gt->cred, &pwlen);

		if (strcmp(lg->be_plugin, "caching_sha2_password") ||
		    rg_my_read_auth_more_data(m->payload, (size_t)m->len, &d)) {
			my_upstream_fail(s, "auth", "unexpected AuthMoreData");
			return;
		}
		n = rg_my_sha2_answer(d.p, (size_t)d.len, ms->be_tls != NULL, ms->tgt->pem,
				      ms->tgt->pem_len, lg->be_scramble,
				      lg->be_scramble_len > RG_MY_SCRAMBLE_LEN ? RG_MY_SCRAMBLE_LEN
									       : lg->be_scramble_len,
				      pw, pwlen, out, sizeof(out));
		if (n < 0) {
			my_upstream_fail(s, "auth",
					 n == RG_MY_E_PROTOCOL
					     ? "caching_sha2_password full authentication needs TLS "
					       "or server_public_key_file"
					     : "caching_sha2_password: cannot answer");
			return;
		}
		if (n > 0) {
			e = be_send_auth(s, out, (size_t)n);
			OPENSSL_cleanse(out, sizeof(out));
			if (e)
				rg_sess_abort(s);
		}
		return;
	}
	default:
		my_violation(s, RG_BE, "login_packet", RG_MY_E_WRONG_TYPE);
		return;
	}
}

/* The session ends with its token (issuer's session_outlives_token off) and with its time
 * limits (max_session_duration, idle_timeout): checked now, the timer armed for the nearest
 * (in steps of at most a day). False when it ended the session. */
bool my_expiry_timer(struct rg_sess *s)
{
	struct my_sess *ms = rg_sess_priv(s);
	int64_t left = 86400000, x;
	bool timed = false; /* a time limit applies */

	if (ms->lim_ended) { /* told nothing since: out of turn now, and closed */
		my_limit_close(s, ms->lim_ended - 1u, 0);
		return false;
	}
	if (ms->lim) {
		int k = rg_gw_limits_due(ms->lim, my_mono_ms(), &x);

		if (k >= 0 && !ms->n && !ms->appr && !ms->fe_infile) {
			my_limit_between(s, (unsigned)k);
			return false;
		}
		if (k >= 0) {
			struct my_run run = {0};
			int err = 0;

			/* inside a command (or one held for approval): in the place of its
			 * next packet */
			my_limit_exceeded(s, (unsigned)k, 0,
					  ms->appr ? ms->appr->seq : ms->ring[ms->head].seq, &run,
					  &err);
			return false;
		}
		timed = x != INT64_MAX;
		left = x < left ? x : left;
	}
	if (!ms->token_end_ms) {
		rg_sess_timer(s, timed ? (unsigned)left : 0);
		return true;
	}
	x = ms->token_end_ms - my_wall_ms();
	if (x <= 0) {
		rg_log("event=session_expired proto=mysql sess=%llu peer=%s target=%s",
		       (unsigned long long)ms->id, ms->peer, ms->tgt->cfg->name);
		ms->cnt->token_expired++;
		ms->end_reason = "token_expired";
		/* the agent is between commands or inside one: an ERR out of turn is what a
		 * server shutting the connection sends (ER_CONNECTION_KILLED) */
		my_close_err(s, 0, 1927, "70100",
			     "Connection was killed: the agent's token expired (ringgate)");
		return false;
	}
	left = x < left ? x : left;
	rg_sess_timer(s, (unsigned)left);
	return true;
}
