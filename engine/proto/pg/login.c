/*
 * login.c: a session from the agent's first packet to the target's first ReadyForQuery.
 *
 * The agent's startup packet names a configured target in `database` and its settings are
 * checked (settings.c); its password is an OIDC JWT, verified locally (waiting for a JWKS
 * refresh when the kid is unknown); its startup user names the upstream role. Only then does
 * the gateway connect to the target (TLS per target config), send the startup with the
 * pinned lexing settings, log in with the real credential (SCRAM-SHA-256 with server
 * signature check, bound to the target's certificate as SCRAM-SHA-256-PLUS when offered;
 * md5, cleartext or none only when allowed_auth lists them) and, on AuthenticationOk, tell
 * the agent it is in, relaying ParameterStatus (pinned settings checked) and replacing
 * BackendKeyData's key with one of its own. The agent never receives a byte from the
 * credential store; every refusal is a FATAL and a clean close.
 */
#include "sess-int.h"

/* ---- agent startup ---------------------------------------------------------------------- */

static bool replication_requested(const char *v)
{
	return v && strcasecmp(v, "false") && strcasecmp(v, "off") && strcasecmp(v, "no") &&
	       strcmp(v, "0");
}

/* NegotiateProtocolVersion for a 3.x (x > 0) client or _pq_. options: we speak 3.0. */
static int negotiate(struct rg_sess *s, const struct rg_pg_startup *su)
{
	const char *opts[64];
	struct rg_pg_kv_iter it;
	const char *k, *v;
	size_t n = 0;
	uint8_t buf[4096];
	ssize_t len;

	if (su->minor == 0 && su->npq_options == 0)
		return 0;
	rg_pg_kv_begin(su, &it);
	while (rg_pg_kv_next(&it, &k, &v))
		if (strncmp(k, "_pq_.", 5) == 0 && n < 64)
			opts[n++] = k;
	len = rg_pg_write_negotiate(buf, sizeof(buf), RG_PG_PROTO_30, opts, n);
	if (len < 0 || (size_t)len > sizeof(buf))
		return -EINVAL;
	return rg_sess_send(s, RG_FE, buf, (size_t)len);
}

static void fe_startup_msg(struct rg_sess *s, const struct rg_pg_startup *su)
{
	struct pg_sess *ps = rg_sess_priv(s);
	const char *db = su->database ? su->database : su->user;
	struct pg_login *lg;
	uint8_t buf[16];
	char user[64], msg[160];
	char settings[RG_PG_STARTUP_MAX];
	size_t nset;
	ssize_t n, slen;

	pg_sanitize(su->user, user, sizeof(user));
	if (!su->user || !su->user[0]) {
		pg_close_fatal(s, "28000", "no PostgreSQL user name specified in startup packet");
		return;
	}
	if (ps->l->tls && ps->l->cfg->tls.require && ps->fe != FE_TLS_STARTUP) {
		/* the password that follows is a bearer token: never let it cross in clear */
		rg_log("event=tls_required sess=%llu peer=%s user=%s", (unsigned long long)ps->id,
		       ps->peer, user);
		pg_close_fatal(
		    s, "28000",
		    "this listener requires TLS: connect with sslmode=require or stronger");
		return;
	}
	if (replication_requested(su->replication)) {
		pg_close_fatal(s, "0A000", "replication connections are not supported by ringgate");
		return;
	}
	/* Every run-time setting is forwarded or refused by name, never dropped silently;
	 * the ones that decide lexing are pinned (settings.c, docs/security.md). */
	slen = rg_pg_startup_settings(su, settings, sizeof(settings), &nset, msg, sizeof(msg));
	if (slen < 0) {
		rg_log("event=startup_refused sess=%llu peer=%s user=%s reason=setting",
		       (unsigned long long)ps->id, ps->peer, user);
		pg_close_fatal(s, "0A000", msg);
		return;
	}
	/* An unknown target is refused only after the token verified (token_checked): before
	 * that, nobody learns which target names exist. */
	ps->tgt = rg_pg_gw_target(ps->gw, db);
	if (ps->tgt)
		ps->si.target = ps->tgt->cfg->name;
	/* Keep the settings we forward; the packet's buffer is gone after this callback. */
	lg = ps->login ? NULL : malloc(sizeof(*lg) + (size_t)slen);
	if (!lg) {
		pg_close_fatal(s, "53200", "out of memory");
		return;
	}
	ps->login = lg;
	lg->keywait = NULL;
	lg->be_addrlen = 0;
	lg->addr_try = lg->addr_count = 0;
	lg->be_mech = NULL;
	memcpy(lg->settings, settings, (size_t)slen);
	lg->nsettings = nset;
	memcpy(lg->user, user, sizeof(user));
	snprintf(lg->db, sizeof(lg->db), "%s", db);
	lg->be_user = NULL;
	lg->be_cred = NULL;
	lg->startup_user = strdup(su->user);
	if (!lg->startup_user) {
		pg_close_fatal(s, "53200", "out of memory");
		return;
	}
	if (negotiate(s, su)) {
		pg_close_fatal(s, "08P01", "invalid startup packet");
		return;
	}
	n = rg_pg_write_auth_cleartext(buf, sizeof(buf));
	if (n < 0 || rg_sess_send(s, RG_FE, buf, (size_t)n)) {
		rg_sess_abort(s);
		return;
	}
	pg_fe_goto(ps, FE_PASSWORD);
}

/* A startup packet of another major protocol version (the framer filled in major/minor):
 * PostgreSQL's own SQLSTATE and words (ProcessStartupPacket), so clients show the usual
 * error. */
void pg_bad_version(struct rg_sess *s, const struct rg_pg_startup *su)
{
	char msg[96];

	snprintf(msg, sizeof(msg),
		 "unsupported frontend protocol %u.%u: server supports 3.0 to 3.0",
		 (unsigned)su->major, (unsigned)su->minor);
	pg_close_fatal(s, "0A000", msg);
}

/* One startup-phase packet. Returns <0 to stop processing this chunk. */
int pg_fe_startup_packet(struct rg_sess *s, const struct rg_pg_startup *su, size_t rest)
{
	struct pg_sess *ps = rg_sess_priv(s);
	struct rg_tls_conn *t;

	switch (su->kind) {
	case RG_PG_SSL_REQUEST:
	case RG_PG_GSSENC_REQUEST:
		if (ps->fe == FE_TLS_STARTUP || ++ps->negotiations > NEGOTIATIONS_MAX) {
			pg_violation(s, RG_FE, "repeated_negotiation", RG_PG_E_VALUE);
			return -1;
		}
		if (su->kind == RG_PG_GSSENC_REQUEST || !ps->l->tls)
			return rg_sess_send(s, RG_FE, "N", 1) ? -1 : 0;
		/* Bytes after an SSLRequest would be plaintext injected before the handshake
		 * (CVE-2021-23214): refuse them. */
		if (rest) {
			pg_violation(s, RG_FE, "bytes_after_sslrequest", RG_PG_E_TRAILING);
			return -1;
		}
		t = rg_tls_conn_new(ps->l->tls, NULL);
		if (!t || !pg_tls_errbuf(ps) || rg_sess_send(s, RG_FE, "S", 1)) {
			rg_tls_conn_free(t);
			rg_sess_abort(s);
			return -1;
		}
		rg_tls_conn_set_errbuf(t, ps->tls_err, TLS_ERR_LEN);
		if (rg_sess_set_xform(s, RG_FE, &rg_tls_xform, t)) {
			rg_tls_conn_free(t);
			rg_sess_abort(s);
			return -1;
		}
		pg_fe_goto(ps, FE_TLS_STARTUP);
		return 0;
	case RG_PG_CANCEL_REQUEST:
		pg_start_cancel(s, su);
		return -1;
	case RG_PG_STARTUP_MESSAGE:
		fe_startup_msg(s, su);
		/* a password pipelined right behind the packet is read next */
		return ps->fe == FE_PASSWORD ? 0 : -1;
	}
	return -1;
}

/* ---- agent password (the token) and the target connection ----------------------------- */

static void connect_target(struct rg_sess *s)
{
	struct pg_sess *ps = rg_sess_priv(s);
	struct pg_login *lg = ps->login;
	int ret;

	pg_be_goto(ps, BE_CONNECTING);
	if (!lg->connect_us)
		lg->connect_us = pg_mono_us();
	/* A DNS target may have several addresses (engine/gateway keeps them current): the first
	 * try takes the first, each failed connect the next, until all were tried once. */
	lg->addr_count =
	    (unsigned)rg_gw_target_addr(ps->tgt->gt, lg->addr_try, &lg->be_addr, &lg->be_addrlen);
	ret = rg_sess_connect_be(s, (const struct sockaddr *)&lg->be_addr, lg->be_addrlen);
	if (ret) {
		pg_upstream_fail(s, "connect", strerror(-ret));
		return;
	}
	pg_login_timer(s, ps->tgt->cfg->connect_timeout_ms);
}

/* A connect failed: try the target's next address, if it has one not tried yet. */
static bool connect_next(struct rg_sess *s, int err)
{
	struct pg_sess *ps = rg_sess_priv(s);
	struct pg_login *lg = ps->login;

	if (!lg || lg->addr_try + 1 >= lg->addr_count)
		return false;
	lg->addr_try++;
	rg_log("event=upstream_retry sess=%llu target=%s reason=connect detail=%s next=%u/%u",
	       (unsigned long long)ps->id, ps->tgt->cfg->name, strerror(-err), lg->addr_try + 1,
	       lg->addr_count);
	connect_target(s);
	return true;
}

void pg_auth_fail(struct rg_sess *s, enum rg_auth_err e, const char *detail)
{
	pg_auth_audit(rg_sess_priv(s), e, detail);
	pg_close_fatal(s, rg_auth_sqlstate(e), rg_auth_client_message(e));
}

static bool has_group(const struct rg_auth_principal *p, const struct rg_config_role *r)
{
	size_t n, i, k;
	const char *const *g = rg_auth_principal_groups(p, &n);

	for (i = 0; i < n; i++)
		for (k = 0; k < r->n_groups; k++)
			if (!strcmp(g[i], r->groups[k]))
				return true;
	return false;
}

/*
 * The startup user names the upstream role the verified agent logs in as (docs/pg.md):
 * its own subject or the target's user mean the target's user; the user of one of the
 * target's roles means that role, for an identity with one of the role's groups. Anything
 * else is refused (28000): a client never silently gets another role than it asked for.
 */
static bool pick_role(struct rg_sess *s)
{
	struct pg_sess *ps = rg_sess_priv(s);
	struct pg_login *lg = ps->login;
	const struct pg_target *t = ps->tgt;
	const char *u = lg->startup_user;
	char msg[160], sub[SUB_LOG_LEN];
	size_t i;

	if (!strcmp(u, rg_auth_principal_sub(ps->ident)) || !strcmp(u, t->cfg->user)) {
		lg->be_user = t->cfg->user;
		lg->be_cred = t->gt->cred;
		return true;
	}
	for (i = 0; i < t->n_roles; i++) {
		if (strcmp(u, t->roles[i].cfg->user))
			continue;
		if (!has_group(ps->ident, t->roles[i].cfg))
			break;
		lg->be_user = t->roles[i].cfg->user;
		lg->be_cred = t->roles[i].cred;
		return true;
	}
	pg_sanitize(rg_auth_principal_sub(ps->ident), sub, sizeof(sub));
	rg_log("event=role_refused sess=%llu peer=%s sub=%s user=%s target=%s",
	       (unsigned long long)ps->id, ps->peer, sub, lg->user, t->cfg->name);
	snprintf(msg, sizeof(msg),
		 "role \"%.63s\" is not available to this identity through "
		 "ringgate",
		 u);
	pg_close_fatal(s, "28000", msg);
	return false;
}

/* The token's verdict, now or after waiting for keys: refuse, or keep the agent's identity
 * and log in to the target. */
static void token_checked(struct rg_sess *s, enum rg_auth_err e, const struct rg_auth_identity *id,
			  const struct rg_auth_fail *why)
{
	struct pg_sess *ps = rg_sess_priv(s);
	char sub[SUB_LOG_LEN];

	if (e != RG_AUTH_OK) {
		pg_auth_fail(s, e, why->detail);
		return;
	}
	ps->ident = rg_auth_identity_dup(id);
	if (!ps->ident) {
		pg_auth_fail(s, RG_AUTH_E_INTERNAL, "out of memory keeping the identity");
		return;
	}
	ps->si.identity = ps->ident;
	if (!ps->tgt) {
		char msg[160], d[64];

		ps->cnt->unknown_database++;
		pg_sanitize(ps->login->db, d, sizeof(d));
		pg_sanitize(rg_auth_principal_sub(ps->ident), sub, sizeof(sub));
		rg_log("event=unknown_database sess=%llu peer=%s sub=%s user=%s database=%s",
		       (unsigned long long)ps->id, ps->peer, sub, ps->login->user, d);
		snprintf(msg, sizeof(msg), "database \"%s\" does not exist", ps->login->db);
		pg_close_fatal(s, "3D000", msg);
		return;
	}
	if (!pick_role(s))
		return;
	ps->rid.issuer = rg_auth_principal_iss(ps->ident);
	ps->rid.subject = rg_auth_principal_sub(ps->ident);
	ps->rid.groups = rg_auth_principal_groups(ps->ident, &ps->rid.ngroups);
	ps->req.protocol = "postgres";
	ps->req.target = ps->tgt->cfg->name;
	ps->req.identity = &ps->rid;
	ps->cnt->auth_ok++;
	pg_ev_auth_ok(ps);
	pg_sanitize(rg_auth_principal_sub(ps->ident), sub, sizeof(sub));
	rg_log("event=auth_ok sess=%llu sub=%s user=%s peer=%s target=%s",
	       (unsigned long long)ps->id, sub, ps->login->user, ps->peer, ps->tgt->cfg->name);
	/* Authenticated: from a pending login to a session (max_sessions counts sessions). */
	pg_pending_done(ps);
	/* (the catalog reader's own sessions do not take an agent's slot) */
	if (!ps->internal && !rg_gw_session_enter(ps->gw->svc)) {
		rg_log("event=session_refused sess=%llu peer=%s sub=%s reason=max_sessions",
		       (unsigned long long)ps->id, ps->peer, sub);
		pg_close_fatal(s, "53300", "sorry, too many clients already");
		return;
	}
	ps->counted = !ps->internal;
	pg_fe_goto(ps, FE_WAIT_BE);
	rg_sess_pause(s, RG_FE);
	connect_target(s);
}

/*
 * An unknown kid, and the verifier asked its refresher for the key set: keep the token and
 * poll (key rotation at the issuer must just work). False when out of memory: refuse now.
 */
static bool keywait_start(struct rg_sess *s, struct rg_auth_verifier *v, uint64_t gen,
			  const struct rg_pg_query *pw, const struct rg_auth_fail *why)
{
	struct pg_sess *ps = rg_sess_priv(s);
	uint64_t wait = rg_auth_verifier_fetch_timeout_ms(v);
	struct pg_keywait *kw = malloc(sizeof(*kw) + pw->len);

	if (!kw)
		return false;
	kw->v = v;
	kw->gen = gen;
	kw->deadline = pg_mono_ms() + (wait < KEYWAIT_MAX_MS ? wait : KEYWAIT_MAX_MS);
	if (kw->deadline > pg_login_end(ps)) /* the wait comes out of the login's budget */
		kw->deadline = pg_login_end(ps);
	memcpy(kw->detail, why->detail, sizeof(kw->detail));
	kw->len = pw->len;
	memcpy(kw->token, pw->sql, pw->len);
	ps->login->keywait = kw;
	pg_fe_goto(ps, FE_WAIT_KEYS);
	rg_sess_timer(s, KEYWAIT_POLL_MS);
	return true;
}

/* The session timer in FE_WAIT_KEYS: one more verification once the refresh generation
 * moved (one per wait, so a kid still unknown after the refresh is refused), or the same
 * refusal as without waiting once the deadline passed. */
void pg_keywait_poll(struct rg_sess *s)
{
	struct pg_sess *ps = rg_sess_priv(s);
	struct pg_keywait *kw = ps->login->keywait;
	struct rg_auth_identity id;
	struct rg_auth_fail why;
	enum rg_auth_err e;

	memset(&why, 0, sizeof(why));
	if (rg_auth_verifier_generation(kw->v) == kw->gen) {
		if (pg_mono_ms() < kw->deadline) {
			rg_sess_timer(s, KEYWAIT_POLL_MS);
			return;
		}
		e = RG_AUTH_E_UNKNOWN_KID;
		memcpy(why.detail, kw->detail, sizeof(why.detail));
	} else {
		e = rg_auth_verify(kw->v, kw->token, kw->len, (int64_t)time(NULL), &id, &why);
	}
	pg_keywait_free(ps);
	token_checked(s, e, &id, &why);
}

/*
 * The catalog thread's login on the internal listener (catalog.c): the per-process secret is
 * its only accepted password (compared in constant time), and the identity is ringgate's
 * own, logged like an agent's. Such a session is not judged, masked or limited: it runs the
 * catalog query only. The target login that follows is every session's.
 */
static void internal_login(struct rg_sess *s, const struct rg_pg_query *pw,
			   struct rg_auth_identity *id)
{
	struct pg_sess *ps = rg_sess_priv(s);
	const char *sec = pg_catalog_secret(ps->gw->catalog);
	size_t n = strlen(sec);
	struct rg_auth_fail why;

	memset(&why, 0, sizeof(why));
	if (pw->len != n || CRYPTO_memcmp(pw->sql, sec, n)) {
		pg_auth_fail(s, RG_AUTH_E_BAD_SIGNATURE, "internal listener: not the catalog secret");
		return;
	}
	memset(id, 0, sizeof(*id));
	snprintf(id->iss, sizeof(id->iss), "ringgate");
	snprintf(id->sub, sizeof(id->sub), "ringgate-catalog");
	ps->internal = true;
	token_checked(s, RG_AUTH_OK, id, &why);
}

void pg_fe_password(struct rg_sess *s, const struct rg_pg_msg *m)
{
	struct pg_sess *ps = rg_sess_priv(s);
	struct rg_auth_identity id; /* ~4.9 KB on the stack; the session keeps a compact copy */
	struct rg_auth_verifier *v;
	struct rg_auth_fail why;
	struct rg_pg_query pw;
	char iss[RG_AUTH_MAX_ISS];
	enum rg_auth_err e;
	uint64_t gen;

	if (m->type != RG_PG_FE_PASSWORD || rg_pg_read_password(m, &pw)) {
		pg_violation(s, RG_FE, "expected_password", RG_PG_E_WRONG_TYPE);
		return;
	}
	memset(&why, 0, sizeof(why));
	if (ps->l->internal) {
		internal_login(s, &pw, &id);
		goto out;
	}
	if (rg_auth_peek_issuer(pw.sql, pw.len, iss, sizeof(iss))) {
		pg_auth_fail(s, RG_AUTH_E_MALFORMED, "no readable iss");
		goto out;
	}
	v = rg_gw_verifier(ps->gw->svc, iss);
	if (!v) {
		pg_auth_fail(s, RG_AUTH_E_BAD_ISSUER, iss); /* escaped where it is logged */
		goto out;
	}
	/* Read before verifying: a refresh that ends in between then counts as the one
	 * awaited instead of being missed. */
	gen = rg_auth_verifier_generation(v);
	e = rg_auth_verify(v, pw.sql, pw.len, (int64_t)time(NULL), &id, &why);
	if (e == RG_AUTH_E_UNKNOWN_KID && why.refresh_pending &&
	    keywait_start(s, v, gen, &pw, &why))
		goto out;
	token_checked(s, e, &id, &why);
out:
	/* The token is a bearer credential: do not leave it in a recycled buffer. */
	OPENSSL_cleanse((void *)m->body, m->body_len);
}

/* ---- target side: TLS --------------------------------------------------------------------- */

/* A handshake or record failure: the agent gets the FATAL, then the session closes. */
static void be_tls_failed(struct rg_sess *s)
{
	struct pg_sess *ps = rg_sess_priv(s);

	pg_upstream_fail(s, "tls", ps->tls_err);
	ps->tls_err[0] = 0;
}

/* 'S' received: start the handshake; everything queued from now on is encrypted. */
static int be_start_tls(struct rg_sess *s)
{
	struct pg_sess *ps = rg_sess_priv(s);

	if (!pg_tls_errbuf(ps))
		return -ENOMEM;
	return rg_tls_upstream_start(s, ps->tgt->gt->tls, ps->tgt->gt->server_name, ps->tls_err,
				     TLS_ERR_LEN, be_tls_failed, &ps->be_tls);
}

/* ---- target side: login ------------------------------------------------------------------ */

static int send_built(struct rg_sess *s, enum rg_side to, uint8_t *buf, size_t cap, ssize_t n)
{
	int ret;

	if (n < 0 || (size_t)n > cap)
		return -EINVAL;
	ret = rg_sess_send(s, to, buf, (size_t)n);
	OPENSSL_cleanse(buf, (size_t)n);
	return ret;
}

/* The StartupMessage to the target: its real user and database, the agent's forwarded
 * settings, then the settings pinned for the classifier (after them, so they win). */
static int be_send_startup(struct rg_sess *s)
{
	struct pg_sess *ps = rg_sess_priv(s);
	const struct rg_config_target *tc = ps->tgt->cfg;
	const struct pg_login *lg = ps->login;
	const char *kv[2 * (RG_PG_SETTINGS_MAX + 4)];
	const char *p = lg->settings;
	size_t i, n = 0;
	uint8_t buf[RG_PG_STARTUP_MAX + 8];
	ssize_t len;

	kv[n++] = "user";
	kv[n++] = lg->be_user;
	kv[n++] = "database";
	kv[n++] = tc->database;
	for (i = 0; i < lg->nsettings && i < RG_PG_SETTINGS_MAX; i++) {
		kv[n++] = p;
		p += strlen(p) + 1;
		kv[n++] = p;
		p += strlen(p) + 1;
	}
	kv[n++] = "client_encoding";
	kv[n++] = "UTF8";
	kv[n++] = "standard_conforming_strings";
	kv[n++] = "on";
	len = rg_pg_write_startup(buf, sizeof(buf), RG_PG_PROTO_30, kv, n / 2);
	if (len < 0 || (size_t)len > sizeof(buf))
		return -EINVAL;
	return rg_sess_send(s, RG_BE, buf, (size_t)len);
}

/* Queue the target's CancelRequest (through TLS when the target uses it). */
static int be_send_cancel(struct rg_sess *s)
{
	struct pg_sess *ps = rg_sess_priv(s);
	uint8_t buf[RG_PG_CANCEL_KEY_MAX + 16];
	ssize_t n = rg_pg_write_cancel(buf, sizeof(buf), ps->cancel->be_pid, ps->cancel->be_key,
				       ps->cancel->be_key_len);

	pg_be_goto(ps, BE_CANCEL);
	ps->cnt->cancel_sent++;
	return send_built(s, RG_BE, buf, sizeof(buf), n);
}

void pg_be_connected(struct rg_sess *s, int err)
{
	struct pg_sess *ps = rg_sess_priv(s);
	uint8_t buf[16];
	ssize_t n;

	if (err) {
		if (ps->is_cancel) {
			rg_log("event=cancel_fail sess=%llu target=%s reason=connect detail=%s",
			       (unsigned long long)ps->id, ps->tgt->cfg->name, strerror(-err));
			rg_sess_abort(s);
			return;
		}
		if (!connect_next(s, err))
			pg_upstream_fail(s, "connect", strerror(-err));
		return;
	}
	pg_login_timer(s, 0);
	if (ps->tgt->gt->tls) {
		n = rg_pg_write_ssl_request(buf, sizeof(buf));
		if (send_built(s, RG_BE, buf, sizeof(buf), n))
			goto fail;
		pg_be_goto(ps, BE_SSL_WAIT);
		return;
	}
	if (ps->is_cancel) {
		if (be_send_cancel(s))
			goto fail;
		rg_sess_close(s);
		return;
	}
	if (be_send_startup(s))
		goto fail;
	pg_be_goto(ps, BE_AUTH);
	return;
fail:
	rg_sess_abort(s);
}

static const char *scram_err(enum rg_auth_scram_err e)
{
	return rg_auth_scram_strerror(e);
}

/* tls.channel_binding: require accepts nothing but SCRAM-SHA-256-PLUS (as libpq): fail the
 * login when the target authenticates some other way (`how`). */
static bool cb_required_fails(struct rg_sess *s, const char *how)
{
	struct pg_sess *ps = rg_sess_priv(s);
	char d[120];

	if (ps->tgt->cfg->tls.channel_binding != RG_CONFIG_CB_REQUIRE)
		return false;
	snprintf(d, sizeof(d), "required, but the target %s", how);
	pg_upstream_fail(s, "channel_binding", d);
	return true;
}

/*
 * AuthenticationSASL: start SCRAM as libpq's channel_binding does (the target's
 * tls.channel_binding, prefer by default). Over TLS with SCRAM-SHA-256-PLUS offered, bind
 * to the certificate this connection received (tls-server-end-point): a relay holding
 * another certificate (any, under tls.mode require) then cannot complete the exchange.
 * Otherwise require refuses; prefer over TLS says "y" in the gs2 header (we could bind; a
 * server that did offer it detects the downgrade); without TLS, or with disable, "n".
 * Returns false when the session was failed.
 */
static bool be_sasl_start(struct rg_sess *s, const struct rg_pg_auth *a, char *out, size_t cap,
			  size_t *outlen)
{
	struct pg_sess *ps = rg_sess_priv(s);
	enum rg_config_channel_binding cbm = ps->tgt->cfg->tls.channel_binding;
	struct rg_auth_scram_opts o = {.cb = RG_AUTH_SCRAM_CB_NONE};
	uint8_t cb[RG_TLS_END_POINT_MAX];
	bool plain = false, plus = false;
	enum rg_auth_scram_err se;
	uint32_t off = 0;
	const char *mech, *pw;
	size_t pwlen;
	ssize_t n;

	if (ps->scram) {
		pg_upstream_fail(s, "sasl_mechanism", "second AuthenticationSASL");
		return false;
	}
	while ((mech = rg_pg_auth_next_mechanism(a, &off))) {
		if (strcmp(mech, "SCRAM-SHA-256") == 0)
			plain = true;
		else if (strcmp(mech, "SCRAM-SHA-256-PLUS") == 0)
			plus = true;
	}
	if (ps->be_tls && plus && cbm != RG_CONFIG_CB_DISABLE) {
		n = rg_tls_conn_server_end_point(ps->be_tls, cb, sizeof(cb));
		if (n < 0) {
			/* As libpq: -PLUS offered but unusable is a failed login, not a silent
			 * downgrade (e.g. an Ed25519 certificate has no end-point hash). */
			pg_upstream_fail(s, "channel_binding", strerror((int)-n));
			return false;
		}
		o.cb = RG_AUTH_SCRAM_CB_SERVER_END_POINT;
		o.cb_data = cb;
		o.cb_len = (size_t)n;
	} else if (cb_required_fails(s, "did not offer SCRAM-SHA-256-PLUS over TLS")) {
		return false;
	} else if (!plain) {
		pg_upstream_fail(s, "sasl_mechanism", "no SCRAM-SHA-256 offered");
		return false;
	} else if (ps->be_tls && cbm == RG_CONFIG_CB_PREFER) {
		o.cb = RG_AUTH_SCRAM_CB_NOT_OFFERED;
	}
	o.max_iterations = ps->tgt->cfg->scram_max_iterations; /* PBKDF2 runs on this worker */
	o.cred = ps->login->be_cred; /* one PBKDF2 per salt, not per login */
	ps->scram = calloc(1, sizeof(*ps->scram));
	if (!ps->scram) {
		pg_upstream_fail(s, "internal", "");
		return false;
	}
	pw = rg_auth_cred_secret(ps->login->be_cred, &pwlen);
	se = rg_auth_scram_init_opts(ps->scram, "", pw, pwlen, NULL, &o);
	if (se == RG_AUTH_SCRAM_OK)
		se = rg_auth_scram_client_first(ps->scram, out, cap, outlen);
	if (se != RG_AUTH_SCRAM_OK) {
		pg_upstream_fail(s, "scram", scram_err(se));
		return false;
	}
	ps->login->be_mech = rg_auth_scram_mechanism(ps->scram);
	return true;
}

/*
 * A ParameterStatus that reports a pinned lexing setting moved away from its pinned value
 * (a function or DO block the guard could not see into called set_config, or a server that
 * ignored the startup value): the classifier no longer reads what the server executes, so
 * the session ends before anything else is relayed. Returns true when it did.
 */
bool pg_pinned_setting_moved(struct rg_sess *s, const struct rg_pg_msg *m)
{
	struct pg_sess *ps = rg_sess_priv(s);
	struct rg_pg_param_status st;
	char v[40];

	if (rg_pg_read_param_status(m, &st))
		return false; /* the caller's validation reports it */
	if (!strcasecmp(st.name, "client_encoding")) {
		if (rg_sqlclass_encoding_is_utf8(st.value))
			return false;
	} else if (!strcasecmp(st.name, "standard_conforming_strings")) {
		if (rg_sqlclass_setting_is_on(st.value))
			return false;
	} else {
		return false;
	}
	pg_sanitize(st.value, v, sizeof(v));
	rg_log("event=pinned_setting_changed sess=%llu peer=%s target=%s setting=%s value=%s",
	       (unsigned long long)ps->id, ps->peer, ps->tgt->cfg->name, st.name, v);
	if (ps->be == BE_RELAY) {
		pg_close_fatal(s, "42501",
			       "terminating connection: a setting that decides how statements are "
			       "read was changed, which ringgate does not allow");
	} else {
		pg_upstream_fail(s, "pinned_setting", st.name);
	}
	return true;
}

/*
 * A target's request to authenticate with `method` (RG_CONFIG_AUTH_*): refused unless the
 * target's allowed_auth lists it (SCRAM only by default, as libpq's require_auth), and
 * refused whatever it is once an exchange started, so a target or a relay cannot switch to
 * md5 or cleartext in the middle of or after SCRAM to get the password. True when refused
 * (the login was failed).
 */
static bool be_auth_refused(struct rg_sess *s, unsigned method, const char *what)
{
	struct pg_sess *ps = rg_sess_priv(s);
	char d[120];

	if (ps->login->be_mech) {
		snprintf(d, sizeof(d), "asked for %s after %s had started", what,
			 ps->login->be_mech);
		pg_upstream_fail(s, "auth_downgrade", d);
		return true;
	}
	if (!(ps->tgt->cfg->allowed_auth & method)) {
		snprintf(d, sizeof(d), "target asked for %s, not in allowed_auth", what);
		pg_upstream_fail(s, "auth_not_allowed", d);
		return true;
	}
	return false;
}

/*
 * The session timer of a logged-in session: it lasts no longer than its token (unless the
 * issuer says session_outlives_token) nor than its scope limits max_session_duration and
 * idle_timeout allow (idle: no statement for that long). Ends the session with a FATAL
 * that says which, or arms the timer for the nearest of them (in steps of at most a day;
 * an idle deadline moved by later statements is found when the timer fires). False when
 * the session was ended (docs/pg.md, "Sessions end with their token", "Scope limits").
 */
bool pg_expiry_timer(struct rg_sess *s)
{
	struct pg_sess *ps = rg_sess_priv(s);
	struct rg_gw_limits *l = ps->lim;
	int64_t left = 86400000, x;
	int k;

	if (ps->token_end_ms) {
		x = ps->token_end_ms - pg_wall_ms();
		if (x <= 0) {
			ps->cnt->token_expired++;
			rg_log("event=session_expired sess=%llu peer=%s target=%s",
			       (unsigned long long)ps->id, ps->peer, ps->tgt->cfg->name);
			pg_close_fatal(s, "57P01",
				       "terminating connection because the agent's token expired");
			return false;
		}
		left = x < left ? x : left;
	}
	if (l) {
		k = rg_gw_limits_due(l, pg_mono_ms(), &x);
		if (k >= 0)
			return !pg_limit_exceeded(s, (enum rg_limit_kind)k, 0);
		left = x < left ? x : left;
	}
	rg_sess_timer(s, ps->token_end_ms || l ? (unsigned)left : 0);
	return true;
}

/* The session's scope limits from the bundle in force (decided once, at login): a block of
 * their own only when at least one applies. False when out of memory: the session must not
 * run unlimited, the caller ends it. */
static bool limits_start(struct pg_sess *ps)
{
	return !rg_gw_limits_start(ps->gw->svc, (unsigned)(ps->cnt - ps->gw->cnt), &ps->req,
				   pg_mono_ms(), &ps->lim);
}

/* One message from the target while logging in (BE_AUTH / BE_PARAMS). */
void pg_be_login_msg(struct rg_sess *s, const struct rg_pg_msg *m)
{
	struct pg_sess *ps = rg_sess_priv(s);
	const struct rg_config_target *tc = ps->tgt->cfg;
	uint8_t buf[RG_AUTH_CRED_MAX + 16]; /* a PasswordMessage of the longest password */
	char out[RG_AUTH_CRED_MAX + 1];
	size_t pwlen, outlen;
	const char *pw;
	struct rg_pg_auth a;
	struct rg_pg_notice nt;
	struct rg_pg_key_data kd;
	struct rg_pg_cancel_entry ce;
	enum rg_auth_scram_err se;
	ssize_t n;
	uint8_t st;
	int r;

	switch (m->type) {
	case RG_PG_BE_ERROR:
		if (rg_pg_read_notice(m, &nt) == 0) {
			char d[160];

			snprintf(d, sizeof(d), "%s:%s", nt.sqlstate ? nt.sqlstate : "-",
				 nt.message ? nt.message : "-");
			pg_upstream_fail(s, ps->be == BE_AUTH ? "login_refused" : "startup_error",
					 d);
		} else {
			pg_upstream_fail(s, "bad_error_response", "");
		}
		return;
	case RG_PG_BE_NOTICE:
		if (ps->be == BE_PARAMS && rg_sess_send(s, RG_FE, m->start, m->total))
			rg_sess_abort(s);
		return;
	case RG_PG_BE_NEGOTIATE:
		return; /* we asked for 3.0 and no options: nothing to adapt */
	case RG_PG_BE_AUTH:
		if (ps->be != BE_AUTH)
			break;
		if (rg_pg_read_auth(m, &a)) {
			pg_violation(s, RG_BE, "bad_auth_request", RG_PG_E_VALUE);
			return;
		}
		pw = rg_auth_cred_secret(ps->login->be_cred, &pwlen);
		switch (a.code) {
		case RG_PG_AUTH_OK:
			/* A SCRAM exchange must have proven the server knows the verifier. */
			if (ps->scram && ps->scram->state != RG_AUTH_SCRAM_DONE) {
				pg_upstream_fail(s, "scram_incomplete", "");
				return;
			}
			/* As libpq: a server that lets us in without any exchange did not
			 * prove anything about its certificate either. */
			if (!ps->scram && cb_required_fails(s, "authenticated without SASL"))
				return;
			if (!ps->login->be_mech &&
			    be_auth_refused(s, RG_CONFIG_AUTH_NONE, "no authentication"))
				return;
			pg_scram_free(ps);
			pg_ev_session_start(ps, ps->login->be_user, ps->be_tls != NULL,
					    ps->login->be_mech ? ps->login->be_mech : "none");
			pg_rec_start(ps);
			if (!ps->internal) {
				rg_gw_target_opened(ps->tgt->gt, (unsigned)(ps->cnt - ps->gw->cnt));
				ps->tgt_counted = true;
			}
			rg_log("event=upstream_login sess=%llu target=%s role=%s tls=%s mech=%s",
			       (unsigned long long)ps->id, tc->name, ps->login->be_user,
			       ps->be_tls ? "yes" : "no",
			       ps->login->be_mech ? ps->login->be_mech : "none");
			n = rg_pg_write_auth_ok(buf, sizeof(buf));
			if (send_built(s, RG_FE, buf, sizeof(buf), n))
				goto abort;
			pg_be_goto(ps, BE_PARAMS);
			return;
		case RG_PG_AUTH_CLEARTEXT:
			if (be_auth_refused(s, RG_CONFIG_AUTH_PASSWORD, "a cleartext password") ||
			    cb_required_fails(s, "asked for a cleartext password"))
				return;
			if (rg_auth_cleartext_response(ps->login->be_cred, out, sizeof(out)) < 0)
				goto internal;
			n = rg_pg_write_password(buf, sizeof(buf), out);
			OPENSSL_cleanse(out, sizeof(out));
			ps->login->be_mech = "password";
			/* the core wipes its queued copy once sent; buf is wiped here */
			r = n < 0 || rg_sess_send_secret(s, RG_BE, buf, (size_t)n);
			OPENSSL_cleanse(buf, sizeof(buf));
			if (r)
				goto abort;
			return;
		case RG_PG_AUTH_MD5:
			if (be_auth_refused(s, RG_CONFIG_AUTH_MD5, "md5") ||
			    cb_required_fails(s, "asked for md5"))
				return;
			if (rg_auth_md5_response(ps->login->be_user, pw, pwlen, a.salt, out))
				goto internal;
			n = rg_pg_write_password(buf, sizeof(buf), out);
			OPENSSL_cleanse(out, sizeof(out));
			ps->login->be_mech = "md5";
			if (send_built(s, RG_BE, buf, sizeof(buf), n))
				goto abort;
			return;
		case RG_PG_AUTH_SASL:
			if (be_auth_refused(s, RG_CONFIG_AUTH_SCRAM, "SASL"))
				return;
			if (!be_sasl_start(s, &a, out, sizeof(out), &outlen))
				return;
			n = rg_pg_write_sasl_initial(buf, sizeof(buf),
						     rg_auth_scram_mechanism(ps->scram),
						     (const uint8_t *)out, outlen);
			if (send_built(s, RG_BE, buf, sizeof(buf), n))
				goto abort;
			return;
		case RG_PG_AUTH_SASL_CONTINUE:
			if (!ps->scram) {
				pg_violation(s, RG_BE, "unexpected_sasl_continue", RG_PG_E_VALUE);
				return;
			}
			se = rg_auth_scram_client_final(ps->scram, (const char *)a.data, a.data_len,
							out, sizeof(out), &outlen);
			if (se != RG_AUTH_SCRAM_OK) {
				pg_upstream_fail(s, "scram", scram_err(se));
				return;
			}
			n = rg_pg_write_sasl_response(buf, sizeof(buf), (const uint8_t *)out,
						      outlen);
			OPENSSL_cleanse(out, sizeof(out));
			if (send_built(s, RG_BE, buf, sizeof(buf), n))
				goto abort;
			return;
		case RG_PG_AUTH_SASL_FINAL:
			if (!ps->scram) {
				pg_violation(s, RG_BE, "unexpected_sasl_final", RG_PG_E_VALUE);
				return;
			}
			se = rg_auth_scram_verify_server_final(ps->scram, (const char *)a.data,
							       a.data_len);
			if (se != RG_AUTH_SCRAM_OK) {
				pg_upstream_fail(s, "scram_server_signature", scram_err(se));
				return;
			}
			return;
		default:
			pg_upstream_fail(s, "unsupported_auth_method", "");
			return;
		}
	case RG_PG_BE_PARAM_STATUS:
		if (ps->be != BE_PARAMS)
			break;
		if (rg_pg_validate(RG_PG_BE, m))
			goto bad;
		if (pg_pinned_setting_moved(s, m))
			return;
		if (rg_sess_send(s, RG_FE, m->start, m->total))
			goto abort;
		return;
	case RG_PG_BE_KEY_DATA:
		if (ps->be != BE_PARAMS || ps->key_registered)
			break;
		if (rg_pg_read_key_data(m, &kd))
			goto bad;
		memset(&ce, 0, sizeof(ce));
		ce.target = ps->tgt;
		ce.be_pid = kd.pid;
		memcpy(ce.be_key, kd.key, kd.key_len);
		ce.be_key_len = kd.key_len;
		memcpy(&ce.be_addr, &ps->login->be_addr, ps->login->be_addrlen);
		ce.be_addrlen = ps->login->be_addrlen;
		ce.worker = (unsigned)(ps->cnt - ps->gw->cnt);
		ce.sess_id = ps->id;
		r = rg_pg_cancel_register(ps->gw->cancel, &ce);
		ps->key_pid = ce.pid;
		memcpy(ps->key_key, ce.key, sizeof(ps->key_key));
		OPENSSL_cleanse(&ce, sizeof(ce));
		if (r)
			goto internal;
		ps->key_registered = true;
		n = rg_pg_write_key_data(buf, sizeof(buf), ps->key_pid, ps->key_key, 4);
		if (send_built(s, RG_FE, buf, sizeof(buf), n))
			goto abort;
		return;
	case RG_PG_BE_READY:
		if (ps->be != BE_PARAMS)
			break;
		if (rg_pg_read_ready(m, &st))
			goto bad;
		ps->tx_status = st;
		if (rg_sess_send(s, RG_FE, m->start, m->total))
			goto abort;
		if (ps->login->connect_us && !ps->internal)
			rg_gw_lat_observe(&ps->cnt->login_lat, pg_mono_us() - ps->login->connect_us);
		pg_login_free(ps);
		pg_be_goto(ps, BE_RELAY);
		pg_fe_goto(ps, FE_RELAY);
		ps->relayed = true;
		if (!ps->internal)
			ps->token_end_ms = rg_auth_verifier_session_end_ms(
			    rg_gw_verifier(ps->gw->svc, rg_auth_principal_iss(ps->ident)),
			    ps->ident);
		if (!ps->internal && (!limits_start(ps) || !pg_mask_start(ps))) {
			pg_close_fatal(s, "53200", "out of memory");
			return;
		}
		if (!pg_expiry_timer(s))
			return;
		rg_sess_resume(s, RG_FE);
		return;
	default:
		break;
	}
	pg_violation(s, RG_BE, rg_pg_type_name(RG_PG_BE, m->type), RG_PG_E_TYPE);
	return;
bad:
	pg_violation(s, RG_BE, rg_pg_type_name(RG_PG_BE, m->type), RG_PG_E_VALUE);
	return;
internal:
	pg_upstream_fail(s, "internal", "");
	return;
abort:
	rg_sess_abort(s);
}

void pg_be_ssl_answer(struct rg_sess *s, struct rg_buf *b)
{
	struct pg_sess *ps = rg_sess_priv(s);

	if (b->data[0] == 'S' && b->len == 1) {
		if (be_start_tls(s)) {
			pg_upstream_fail(
			    s, "tls", ps->tls_err && ps->tls_err[0] ? ps->tls_err : "setup failed");
			return;
		}
		if (ps->is_cancel) {
			if (be_send_cancel(s))
				rg_sess_abort(s);
			return; /* closed from on_send_done once the cancel is written */
		}
		if (be_send_startup(s)) {
			rg_sess_abort(s);
			return;
		}
		pg_be_goto(ps, BE_AUTH);
		return;
	}
	if (ps->is_cancel) {
		rg_sess_abort(s);
		return;
	}
	if (b->data[0] == 'S') /* bytes after 'S' before the handshake: injected plaintext */
		pg_violation(s, RG_BE, "bytes_after_ssl_answer", RG_PG_E_TRAILING);
	else if (b->data[0] == 'N')
		pg_upstream_fail(s, "tls_refused", "target does not accept TLS");
	else
		pg_upstream_fail(s, "ssl_answer", "unexpected answer to SSLRequest");
}
