/*
 * session.c: one agent's PostgreSQL session through the gateway (the rg_pg_ops table).
 *
 * Two explicit state machines, one per side (fe = the agent, be = the target), each changed
 * only by fe_goto() / be_goto(). Login: the agent's startup packet names a configured target
 * in `database`; the agent's password is an OIDC JWT, verified locally; only then does the
 * gateway connect to the target (TLS per target config), log in with the real credential
 * (SCRAM-SHA-256 with server signature check, bound to the target's TLS certificate as
 * SCRAM-SHA-256-PLUS when it offers that, md5 or cleartext) and, on AuthenticationOk,
 * tell the agent it is in, relaying the target's ParameterStatus and replacing its
 * BackendKeyData with a gateway-issued cancel key. Then every message of both directions is
 * framed (wire.h) and forwarded by reference from the receive buffer, contiguous unmodified
 * messages coalesced into one send; only split messages are copied, and bulk messages too
 * large to hold are streamed through in pieces.
 *
 * Invariants: the agent never receives a byte that came from the credential store, and no
 * log line holds the token or the password; every refusal is a FATAL ErrorResponse followed
 * by a clean close of that one session; a protocol violation by either peer ends the session
 * with one log line (event=protocol_violation). Seams: the statement hook sees every Query
 * and Parse, the row hook every whole DataRow; a denied statement is answered in protocol
 * order (docs/pg.md, "Denying"). No locks here except the cancel registry's (cancel.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "auth.h"
#include "config.h"
#include "pg-int.h"
#include "policy.h"
#include "sqlclass.h"
#include "tls.h"

#define HOLD_MAX (1u << 20)    /* agent bytes held after its password, until logged in */
#define DENY_RING 8	       /* denied statements whose answer awaits its ReadyForQuery */
#define NEGOTIATIONS_MAX 2     /* SSLRequest/GSSENCRequest packets before a StartupMessage */
#define TLS_ERR_LEN 200	       /* the TLS error detail buffer, allocated with the first TLS conn */
#define ROWDESC_KEEP 1024      /* an idle session keeps a RowDescription copy up to this size */
#define KEYWAIT_MAX_MS 3000    /* longest a login waits for the JWKS refresh an unknown kid asked */
#define KEYWAIT_POLL_MS 25     /* how often a waiting login looks at the refresh generation */
#define PG_OID_SET_CONFIG 2078u /* pg_catalog.set_config(text, text, bool) */
#define SUB_LOG_LEN 160	       /* a token's sub on a log line, escaped (longer: truncated) */

enum pg_fe_state {
	FE_STARTUP = 0,	 /* awaiting SSLRequest, GSSENCRequest, CancelRequest or StartupMessage */
	FE_TLS_STARTUP,	 /* TLS negotiated: awaiting StartupMessage or CancelRequest */
	FE_PASSWORD,	 /* AuthenticationCleartextPassword sent: awaiting the token */
	FE_WAIT_KEYS,	 /* token with an unknown kid kept: awaiting the JWKS refresh it asked */
	FE_WAIT_BE,	 /* agent verified; its bytes are held until the target login completes */
	FE_RELAY,	 /* logged in: messages go to the target */
	FE_CANCEL,	 /* this connection carried a CancelRequest: nothing more is read */
	FE_CLOSING,	 /* a FATAL error was queued: flushing, then closing */
};

enum pg_be_state {
	BE_NONE = 0,   /* no target connection yet */
	BE_CONNECTING, /* connect in flight */
	BE_SSL_WAIT,   /* SSLRequest sent: awaiting 'S' (or 'N': refused) */
	BE_AUTH,       /* StartupMessage sent: awaiting authentication requests */
	BE_PARAMS, /* AuthenticationOk received: relaying startup messages until ReadyForQuery */
	BE_RELAY,  /* messages go to the agent */
	BE_CANCEL, /* CancelRequest queued: closing once it is written */
	BE_DONE,   /* the target side is finished (error or EOF) */
};

static const char *const fe_names[] = {"startup", "tls_startup", "password", "wait_keys",
				       "wait_be", "relay",	 "cancel",   "closing"};
static const char *const be_names[] = {"none",	 "connecting", "ssl_wait", "auth",
				       "params", "relay",      "cancel",   "done"};

/*
 * A denied statement went to the target as DENY_SQL, which the server's own parser rejects:
 * the server then fails the statement exactly as it fails any erroneous one (inside a
 * transaction block the transaction is failed, ReadyForQuery says 'E', later statements get
 * 25P02, COMMIT rolls back; in extended mode it skips to Sync; a named statement is not
 * created). Its ErrorResponse, recognised by DENY_SQL in the message and by its sync point,
 * is replaced by the denial. When an earlier error made the server skip the denied message,
 * no answer comes, as PostgreSQL would give none: the entry ends with its ReadyForQuery.
 */
struct pg_deny_pending {
	uint64_t seq;  /* the sync point whose ReadyForQuery ends this entry */
	bool answered; /* the server's error for it was replaced */
	struct rg_pg_deny d;
};

/* TLS towards the target: wraps the conn so a handshake failure reaches the agent as a
 * FATAL error instead of a silent abort. */
struct pg_be_tls {
	struct rg_tls_conn *conn;
	struct rg_sess *s;
};

/*
 * A token whose kid the issuer's key set lacks, kept while the refresher fetches the key set
 * that the unknown kid asked for (FE_WAIT_KEYS only). The worker never blocks on the
 * refresher: the session timer polls the verifier's generation and verifies once more when
 * it moved. One exact-size block (the token follows the struct), cleansed and freed when
 * the wait ends, whichever way it ends.
 */
struct pg_keywait {
	struct rg_auth_verifier *v;
	uint64_t gen;	   /* the refresh generation read before the first verification */
	uint64_t deadline; /* CLOCK_MONOTONIC ms: refused as unknown_kid from then on */
	char detail[sizeof(((struct rg_auth_fail *)0)->detail)]; /* the first failure's */
	size_t len;
	char token[]; /* the agent's token: a bearer credential */
};

/*
 * What only the login needs, from the agent's StartupMessage until the target's first
 * ReadyForQuery: one exact-size block (the parameters follow the struct), then freed.
 */
struct pg_login {
	struct pg_keywait *keywait; /* heap, only in FE_WAIT_KEYS */
	struct sockaddr_storage be_addr; /* the target address being connected to */
	socklen_t be_addrlen;
	unsigned addr_try, addr_count; /* which of the target's addresses, of how many */
	const char *be_mech;	    /* how the target was logged in to (a literal), for the log */
	char user[64];		    /* the agent's startup user, informational, sanitised */
	char db[64];		    /* the startup database (target name), truncated, as sent */
	char *startup_user;	    /* the startup user as sent (heap): names the role */
	const char *be_user;	    /* the upstream role logged in as (config memory) */
	const struct rg_auth_cred *be_cred; /* and its credential */
	size_t nsettings;	    /* name\0value\0 pairs in settings[] */
	char settings[];	    /* the agent's settings forwarded (settings.c) until sent */
};

/*
 * One session's state. It lives as long as the session, idle or not (tens of thousands of
 * idle sessions per process are normal), so everything needed only at login, only for TLS,
 * only after a denial or only for a cancel connection is a pointer to a block allocated when
 * that happens; buffers grown for a large transient message are released when the session
 * goes idle (trim_idle). docs/pg.md, "Memory per session".
 */
struct pg_sess {
	enum pg_fe_state fe;
	enum pg_be_state be;
	struct rg_pg_listener *l;
	struct rg_pg_gw *gw;
	struct rg_pg_counters *cnt;
	const struct pg_target *tgt;
	struct rg_pg_sess_info si;
	struct rg_identity rid; /* the verified agent as the policy sees it (points into ident) */
	struct rg_request req;	/* who asks, where: every statement's policy question */
	uint64_t id;
	uint64_t accepted_ms; /* CLOCK_MONOTONIC: the login's time limits count from here */
	int64_t token_end_ms; /* CLOCK_REALTIME ms: the session ends as its token expires
			       * (exp + clock skew); 0: the issuer lets sessions outlive tokens */
	uint32_t addr_bucket; /* the client address's pending-login counter (gw.c) */
	bool pending;	      /* a login in progress: holds a max_pending_logins slot */
	bool counted;	      /* holds a slot of max_sessions (from the verified token on) */
	bool draining;
	bool key_registered;
	bool is_cancel;	    /* this connection forwards a CancelRequest */
	bool fe_piece_drop; /* the agent's streamed message in progress is being dropped */
	bool rowdesc_valid;
	uint8_t negotiations;
	uint8_t tx_status; /* last ReadyForQuery status */
	/* the cancel key issued to the agent (the registry holds the target's) */
	uint32_t key_pid;
	uint8_t key_key[4];
	char peer[64];
	struct rg_pg_stream fs, bs;
	struct rg_acc hold;	      /* agent bytes received while FE_WAIT_KEYS / FE_WAIT_BE */
	struct pg_login *login;	      /* StartupMessage .. the target's first ReadyForQuery */
	struct rg_auth_principal *ident; /* the verified agent, at its real size */
	char *tls_err;		      /* [TLS_ERR_LEN], with the first TLS conn of either side */
	struct rg_auth_scram *scram;  /* heap, only while logging in with SCRAM */
	struct pg_be_tls *be_tls;
	struct rg_pg_cancel_entry *cancel; /* a CancelRequest connection: the looked-up entry */
	/* relay bookkeeping */
	uint64_t syncs_sent, rfq_recv; /* Query/Sync/FunctionCall forwarded, ReadyForQuery seen */
	struct pg_deny_pending *deny; /* [DENY_RING], while denials await their answer */
	unsigned deny_head, deny_n;
	struct rg_acc rowdesc;	      /* copy of the latest RowDescription */
	struct rg_pg_msg rowdesc_msg;
};

/* A run of bytes of one received buffer forwarded by reference as one send item. */
struct fwd_run {
	struct rg_buf *b;
	size_t off, len;
};

static void pg_close_fatal(struct rg_sess *s, const char *sqlstate, const char *msg);

/* ---- state transitions ---------------------------------------------------------------- */

static void fe_goto(struct pg_sess *ps, enum pg_fe_state to)
{
	/* FE_CLOSING is final: later events may not revive a session being closed. */
	if (ps->fe == FE_CLOSING)
		return;
	/* The agent's frames get the relay's limits (and streaming) only once it is logged
	 * in; before that, pg_accept gave it the password phase's (a bounded 'p' only). */
	if (to == FE_RELAY)
		rg_pg_stream_set_limits(&ps->fs, &ps->gw->fe_lim, ps->gw->fe_stream);
	ps->fe = to;
}

static void be_goto(struct pg_sess *ps, enum pg_be_state to)
{
	if (ps->be == BE_DONE)
		return;
	ps->be = to;
}

/* ---- helpers ---------------------------------------------------------------------------- */

/* Every value from a token, the agent or the target is logged through this: escaped into one
 * readable token that cannot forge a line or a key=value pair (rg_pg_logval, gw.c). */
static const char *sanitize(const char *in, char *out, size_t cap)
{
	return rg_pg_logval(in, out, cap);
}

static void peer_name(const struct sockaddr_storage *sa, char *out, size_t cap)
{
	const struct sockaddr_storage ss = *sa;
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	snprintf(out, cap, "unknown");
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		port = ntohs(a->sin_port);
		snprintf(out, cap, "%s:%u", host, port);
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		port = ntohs(a->sin6_port);
		snprintf(out, cap, "[%s]:%u", host, port);
	}
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* CLOCK_MONOTONIC ms at which the login's whole budget (limits.login_timeout) runs out. */
static uint64_t login_end(const struct pg_sess *ps)
{
	return ps->accepted_ms + ps->gw->login_timeout_ms;
}

/*
 * Arm the session timer for a login phase limited to phase_ms (0: none of its own), never
 * past the login's deadline: one budget from accept to the first ReadyForQuery, which a
 * phase change (connect, key wait, target login) never extends.
 */
static void login_timer(struct rg_sess *s, uint64_t phase_ms)
{
	struct pg_sess *ps = rg_sess_priv(s);
	uint64_t now = mono_ms(), end = login_end(ps);
	uint64_t ms = end > now ? end - now : 1;

	if (phase_ms && phase_ms < ms)
		ms = phase_ms;
	rg_sess_timer(s, (unsigned)ms);
}

/* The login in progress is over (token verified, or the session ends): give back its
 * pending-login slots. */
static void pending_done(struct pg_sess *ps)
{
	if (!ps->pending)
		return;
	rg_pg_gw_pending_leave(ps->gw, ps->addr_bucket);
	ps->pending = false;
}

/* The TLS error detail buffer, allocated with the first TLS conn of the session. */
static char *tls_errbuf(struct pg_sess *ps)
{
	if (!ps->tls_err)
		ps->tls_err = calloc(1, TLS_ERR_LEN);
	return ps->tls_err;
}

static int send_error(struct rg_sess *s, enum rg_side to, const char *severity,
		      const char *sqlstate, const char *msg)
{
	uint8_t buf[512];
	ssize_t n = rg_pg_write_error(buf, sizeof(buf), severity, sqlstate, msg, NULL, NULL);

	if (n < 0 || (size_t)n > sizeof(buf))
		return -EINVAL;
	return rg_sess_send(s, to, buf, (size_t)n);
}

/* Send a FATAL error to the agent and close the session once it is flushed. */
static void pg_close_fatal(struct rg_sess *s, const char *sqlstate, const char *msg)
{
	struct pg_sess *ps = rg_sess_priv(s);

	if (ps->fe == FE_CLOSING)
		return;
	(void)send_error(s, RG_FE, "FATAL", sqlstate, msg);
	fe_goto(ps, FE_CLOSING);
	be_goto(ps, BE_DONE);
	rg_sess_pause(s, RG_FE);
	rg_sess_close(s);
}

static void violation(struct rg_sess *s, enum rg_side from, const char *what, int err)
{
	struct pg_sess *ps = rg_sess_priv(s);

	ps->cnt->protocol_violations++;
	rg_pg_log("event=protocol_violation sess=%llu peer=%s side=%s fe_state=%s be_state=%s "
		  "what=%s err=%s",
		  (unsigned long long)ps->id, ps->peer, from == RG_FE ? "agent" : "target",
		  fe_names[ps->fe], be_names[ps->be], what,
		  err == RG_PG_E_NOMEM ? "out_of_memory" : rg_pg_strerror(err));
	if (from == RG_FE)
		pg_close_fatal(s, "08P01", "invalid frontend message");
	else
		pg_close_fatal(s, "08006", "lost connection to the target database");
}

/* The target could not be reached or refused ringgate: the agent learns nothing more. */
static void upstream_fail(struct rg_sess *s, const char *reason, const char *detail)
{
	struct pg_sess *ps = rg_sess_priv(s);
	char d[200], sub[SUB_LOG_LEN];

	sanitize(detail, d, sizeof(d));
	sanitize(ps->ident ? rg_auth_principal_sub(ps->ident) : NULL, sub, sizeof(sub));
	ps->cnt->upstream_fail++;
	rg_pg_log("event=upstream_fail sess=%llu peer=%s target=%s sub=%s reason=%s detail=%s",
		  (unsigned long long)ps->id, ps->peer, ps->tgt ? ps->tgt->cfg->name : "-", sub,
		  reason, d);
	pg_close_fatal(s, "08006", "could not connect to the target database");
}

/* The audit line and counters of a refused token (the agent is told by the caller). */
static void auth_audit(struct pg_sess *ps, enum rg_auth_err e, const char *detail)
{
	char d[200];

	sanitize(detail, d, sizeof(d));
	ps->cnt->auth_fail++;
	ps->cnt->auth_fail_by[(unsigned)e < RG_PG_AUTH_REASONS ? (unsigned)e : 0]++;
	rg_pg_log("event=auth_fail sess=%llu reason=%s sub=- user=%s peer=%s target=%s "
		  "detail=%s",
		  (unsigned long long)ps->id, rg_auth_err_name(e), ps->login->user, ps->peer,
		  ps->tgt ? ps->tgt->cfg->name : "-", d[0] ? d : "-");
}

static void run_flush(struct rg_sess *s, enum rg_side to, struct fwd_run *r, int *err)
{
	if (r->len && !*err)
		*err = rg_sess_send_ref(s, to, r->b, r->off, r->len);
	r->len = 0;
}

static void run_add(struct rg_sess *s, enum rg_side to, struct fwd_run *r, struct rg_buf *b,
		    size_t off, size_t len, int *err)
{
	if (r->len && r->b == b && r->off + r->len == off) {
		r->len += len;
		return;
	}
	run_flush(s, to, r, err);
	r->b = b;
	r->off = off;
	r->len = len;
}

/* Forward one event's bytes: by reference when they are in the buffer, else copied. */
static void forward(struct rg_sess *s, enum rg_side to, struct fwd_run *r, struct rg_buf *b,
		    const uint8_t *p, size_t n, bool in_acc, int *err)
{
	if (!n)
		return;
	if (in_acc) {
		run_flush(s, to, r, err);
		if (!*err)
			*err = rg_sess_send(s, to, p, n);
		return;
	}
	run_add(s, to, r, b, (size_t)(p - b->data), n, err);
}

/* ---- accept / close --------------------------------------------------------------------- */

static int pg_accept(struct rg_sess *s)
{
	struct pg_sess *ps = rg_sess_priv(s);
	struct rg_pg_listener *l = rg_sess_proto_ctx(s);
	struct rg_pg_gw *gw = l->gw;
	unsigned w = rg_worker_id(rg_sess_worker(s));
	struct sockaddr_storage peer = {.ss_family = AF_UNSPEC};
	socklen_t plen = sizeof(peer);
	enum rg_pg_admit a;

	ps->l = l;
	ps->accepted_ms = mono_ms();
	ps->gw = gw;
	ps->cnt = &gw->cnt[w < gw->workers ? w : 0];
	ps->id = atomic_fetch_add(&gw->next_id, 1) + 1;
	ps->cnt->sessions++;
	ps->cnt->sessions_active++;
	if (getpeername(rg_sess_fd(s, RG_FE), (struct sockaddr *)&peer, &plen))
		peer.ss_family = AF_UNSPEC;
	peer_name(&peer, ps->peer, sizeof(ps->peer));
	ps->si.peer = ps->peer;
	ps->si.id = ps->id;
	/* Before login only a PasswordMessage of at most RG_PG_PASSWORD_MAX is acceptable:
	 * anything else fails at its header, so an unauthenticated agent cannot make the
	 * gateway hold (or stream) a large message. fe_goto(FE_RELAY) installs the relay's. */
	rg_pg_stream_init(&ps->fs, &gw->pw_lim, gw->stream_min, NULL);
	rg_pg_stream_init(&ps->bs, &gw->be_lim, gw->stream_min, gw->be_stream);
	/* Until its token is verified a connection takes a pending-login slot, not a session
	 * slot: unauthenticated clients cannot lock logged-in agents out (gw.c, admission). */
	a = rg_pg_gw_pending_enter(gw, &peer, &ps->addr_bucket);
	if (a != RG_PG_ADMIT_OK) {
		rg_pg_log("event=session_refused sess=%llu peer=%s reason=%s",
			  (unsigned long long)ps->id, ps->peer,
			  a == RG_PG_ADMIT_PENDING_FULL ? "max_pending_logins"
							: "max_pending_per_address");
		pg_close_fatal(s, "53300", "sorry, too many clients already");
		return 0;
	}
	ps->pending = true;
	login_timer(s, gw->password_timeout_ms);
	return 0;
}

static void scram_free(struct pg_sess *ps)
{
	if (ps->scram) {
		rg_auth_scram_clear(ps->scram);
		free(ps->scram);
		ps->scram = NULL;
	}
}

static void keywait_free(struct pg_sess *ps)
{
	struct pg_keywait *kw = ps->login ? ps->login->keywait : NULL;

	if (!kw)
		return;
	OPENSSL_cleanse(kw->token, kw->len);
	free(kw);
	ps->login->keywait = NULL;
}

static void login_free(struct pg_sess *ps)
{
	keywait_free(ps);
	if (ps->login)
		free(ps->login->startup_user);
	free(ps->login);
	ps->login = NULL;
}

static void pg_close(struct rg_sess *s, enum rg_close_reason reason)
{
	struct pg_sess *ps = rg_sess_priv(s);
	char v[TLS_ERR_LEN > SUB_LOG_LEN ? TLS_ERR_LEN : SUB_LOG_LEN];

	if (ps->tls_err && ps->tls_err[0])
		rg_pg_log("event=tls_fail sess=%llu peer=%s detail=%s", (unsigned long long)ps->id,
			  ps->peer, sanitize(ps->tls_err, v, sizeof(v)));
	if (ps->fe == FE_RELAY || reason == RG_CLOSE_FE_ERROR ||
	    reason == RG_CLOSE_BE_ERROR)
		rg_pg_log("event=session_end sess=%llu peer=%s sub=%s target=%s reason=%d "
			  "fe_state=%s be_state=%s",
			  (unsigned long long)ps->id, ps->peer,
			  sanitize(ps->ident ? rg_auth_principal_sub(ps->ident) : NULL, v,
				   sizeof(v)),
			  ps->tgt ? ps->tgt->cfg->name : "-", (int)reason, fe_names[ps->fe],
			  be_names[ps->be]);
	if (ps->key_registered)
		rg_pg_cancel_unregister(ps->gw->cancel, ps->key_pid, ps->key_key);
	if (ps->counted)
		rg_pg_gw_session_leave(ps->gw);
	pending_done(ps);
	ps->cnt->sessions_active--;
	scram_free(ps);
	free(ps->deny);
	OPENSSL_cleanse(ps->key_key, sizeof(ps->key_key));
	if (ps->cancel) {
		OPENSSL_cleanse(ps->cancel, sizeof(*ps->cancel));
		free(ps->cancel);
	}
	/* A token still waiting for keys (the agent hung up, or a drain) was never accepted:
	 * audited as the refusal it would have had. */
	if (ps->login && ps->login->keywait)
		auth_audit(ps, RG_AUTH_E_UNKNOWN_KID, ps->login->keywait->detail);
	login_free(ps);
	free(ps->tls_err);
	rg_auth_principal_free(ps->ident);
	rg_pg_stream_free(&ps->fs);
	rg_pg_stream_free(&ps->bs);
	rg_acc_free(&ps->hold);
	rg_acc_free(&ps->rowdesc);
}

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

static void start_cancel(struct rg_sess *s, const struct rg_pg_startup *su);

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

	sanitize(su->user, user, sizeof(user));
	if (!su->user || !su->user[0]) {
		pg_close_fatal(s, "28000", "no PostgreSQL user name specified in startup packet");
		return;
	}
	if (ps->l->tls && ps->l->cfg->tls.require && ps->fe != FE_TLS_STARTUP) {
		/* the password that follows is a bearer token: never let it cross in clear */
		rg_pg_log("event=tls_required sess=%llu peer=%s user=%s", (unsigned long long)ps->id,
			  ps->peer, user);
		pg_close_fatal(s, "28000",
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
		rg_pg_log("event=startup_refused sess=%llu peer=%s user=%s reason=setting",
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
	fe_goto(ps, FE_PASSWORD);
}

/* A startup packet of another major protocol version (the framer filled in major/minor):
 * PostgreSQL's own SQLSTATE and words (ProcessStartupPacket), so clients show the usual
 * error. */
static void bad_version(struct rg_sess *s, const struct rg_pg_startup *su)
{
	char msg[96];

	snprintf(msg, sizeof(msg),
		 "unsupported frontend protocol %u.%u: server supports 3.0 to 3.0",
		 (unsigned)su->major, (unsigned)su->minor);
	pg_close_fatal(s, "0A000", msg);
}

/* One startup-phase packet. Returns <0 to stop processing this chunk. */
static int fe_startup_packet(struct rg_sess *s, const struct rg_pg_startup *su, size_t rest)
{
	struct pg_sess *ps = rg_sess_priv(s);
	struct rg_tls_conn *t;

	switch (su->kind) {
	case RG_PG_SSL_REQUEST:
	case RG_PG_GSSENC_REQUEST:
		if (ps->fe == FE_TLS_STARTUP || ++ps->negotiations > NEGOTIATIONS_MAX) {
			violation(s, RG_FE, "repeated_negotiation", RG_PG_E_VALUE);
			return -1;
		}
		if (su->kind == RG_PG_GSSENC_REQUEST || !ps->l->tls)
			return rg_sess_send(s, RG_FE, "N", 1) ? -1 : 0;
		/* Bytes after an SSLRequest would be plaintext injected before the handshake
		 * (CVE-2021-23214): refuse them. */
		if (rest) {
			violation(s, RG_FE, "bytes_after_sslrequest", RG_PG_E_TRAILING);
			return -1;
		}
		t = rg_tls_conn_new(ps->l->tls, NULL);
		if (!t || !tls_errbuf(ps) || rg_sess_send(s, RG_FE, "S", 1)) {
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
		fe_goto(ps, FE_TLS_STARTUP);
		return 0;
	case RG_PG_CANCEL_REQUEST:
		start_cancel(s, su);
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

	be_goto(ps, BE_CONNECTING);
	/* A DNS target may have several addresses (gw.c keeps them current): the first try takes
	 * the first, each failed connect the next, until all were tried once. */
	lg->addr_count = (unsigned)rg_pg_target_addr(ps->tgt, lg->addr_try, &lg->be_addr,
						     &lg->be_addrlen);
	ret = rg_sess_connect_be(s, (const struct sockaddr *)&lg->be_addr, lg->be_addrlen);
	if (ret) {
		upstream_fail(s, "connect", strerror(-ret));
		return;
	}
	login_timer(s, ps->tgt->cfg->connect_timeout_ms);
}

/* A connect failed: try the target's next address, if it has one not tried yet. */
static bool connect_next(struct rg_sess *s, int err)
{
	struct pg_sess *ps = rg_sess_priv(s);
	struct pg_login *lg = ps->login;

	if (!lg || lg->addr_try + 1 >= lg->addr_count)
		return false;
	lg->addr_try++;
	rg_pg_log("event=upstream_retry sess=%llu target=%s reason=connect detail=%s next=%u/%u",
		  (unsigned long long)ps->id, ps->tgt->cfg->name, strerror(-err), lg->addr_try + 1,
		  lg->addr_count);
	connect_target(s);
	return true;
}

static void auth_fail(struct rg_sess *s, enum rg_auth_err e, const char *detail)
{
	auth_audit(rg_sess_priv(s), e, detail);
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
		lg->be_cred = t->cred;
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
	sanitize(rg_auth_principal_sub(ps->ident), sub, sizeof(sub));
	rg_pg_log("event=role_refused sess=%llu peer=%s sub=%s user=%s target=%s",
		  (unsigned long long)ps->id, ps->peer, sub, lg->user, t->cfg->name);
	snprintf(msg, sizeof(msg), "role \"%.63s\" is not available to this identity through "
		 "ringgate", u);
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
		auth_fail(s, e, why->detail);
		return;
	}
	ps->ident = rg_auth_identity_dup(id);
	if (!ps->ident) {
		auth_fail(s, RG_AUTH_E_INTERNAL, "out of memory keeping the identity");
		return;
	}
	ps->si.identity = ps->ident;
	if (!ps->tgt) {
		char msg[160], d[64];

		ps->cnt->unknown_database++;
		sanitize(ps->login->db, d, sizeof(d));
		sanitize(rg_auth_principal_sub(ps->ident), sub, sizeof(sub));
		rg_pg_log("event=unknown_database sess=%llu peer=%s sub=%s user=%s database=%s",
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
	sanitize(rg_auth_principal_sub(ps->ident), sub, sizeof(sub));
	rg_pg_log("event=auth_ok sess=%llu sub=%s user=%s peer=%s target=%s",
		  (unsigned long long)ps->id, sub, ps->login->user, ps->peer, ps->tgt->cfg->name);
	/* Authenticated: from a pending login to a session (max_sessions counts sessions). */
	pending_done(ps);
	if (!rg_pg_gw_session_enter(ps->gw)) {
		rg_pg_log("event=session_refused sess=%llu peer=%s sub=%s reason=max_sessions",
			  (unsigned long long)ps->id, ps->peer, sub);
		pg_close_fatal(s, "53300", "sorry, too many clients already");
		return;
	}
	ps->counted = true;
	fe_goto(ps, FE_WAIT_BE);
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
	kw->deadline = mono_ms() + (wait < KEYWAIT_MAX_MS ? wait : KEYWAIT_MAX_MS);
	if (kw->deadline > login_end(ps)) /* the wait comes out of the login's budget */
		kw->deadline = login_end(ps);
	memcpy(kw->detail, why->detail, sizeof(kw->detail));
	kw->len = pw->len;
	memcpy(kw->token, pw->sql, pw->len);
	ps->login->keywait = kw;
	fe_goto(ps, FE_WAIT_KEYS);
	rg_sess_timer(s, KEYWAIT_POLL_MS);
	return true;
}

/* The session timer in FE_WAIT_KEYS: one more verification once the refresh generation
 * moved (one per wait, so a kid still unknown after the refresh is refused), or the same
 * refusal as without waiting once the deadline passed. */
static void keywait_poll(struct rg_sess *s)
{
	struct pg_sess *ps = rg_sess_priv(s);
	struct pg_keywait *kw = ps->login->keywait;
	struct rg_auth_identity id;
	struct rg_auth_fail why;
	enum rg_auth_err e;

	memset(&why, 0, sizeof(why));
	if (rg_auth_verifier_generation(kw->v) == kw->gen) {
		if (mono_ms() < kw->deadline) {
			rg_sess_timer(s, KEYWAIT_POLL_MS);
			return;
		}
		e = RG_AUTH_E_UNKNOWN_KID;
		memcpy(why.detail, kw->detail, sizeof(why.detail));
	} else {
		e = rg_auth_verify(kw->v, kw->token, kw->len, (int64_t)time(NULL), &id, &why);
	}
	keywait_free(ps);
	token_checked(s, e, &id, &why);
}

static void fe_password(struct rg_sess *s, const struct rg_pg_msg *m)
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
		violation(s, RG_FE, "expected_password", RG_PG_E_WRONG_TYPE);
		return;
	}
	memset(&why, 0, sizeof(why));
	if (rg_auth_peek_issuer(pw.sql, pw.len, iss, sizeof(iss))) {
		auth_fail(s, RG_AUTH_E_MALFORMED, "no readable iss");
		goto out;
	}
	v = rg_pg_gw_verifier(ps->gw, iss);
	if (!v) {
		auth_fail(s, RG_AUTH_E_BAD_ISSUER, iss); /* escaped where it is logged */
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

/* ---- target side: TLS wrapper ---------------------------------------------------------- */

static int be_tls_rx(void *ctx, const uint8_t *wire, size_t n, struct rg_acc *plain,
		     struct rg_acc *reply)
{
	struct pg_be_tls *bt = ctx;
	int r = rg_tls_xform.rx(bt->conn, wire, n, plain, reply);

	if (r == -ENOMEM || r == 0)
		return r;
	/* Handshake or record failure: tell the agent, then close; the bytes are dropped. */
	{
		struct pg_sess *ps = rg_sess_priv(bt->s);

		upstream_fail(bt->s, "tls", ps->tls_err);
		ps->tls_err[0] = 0;
	}
	plain->len = 0;
	return 0;
}

static int be_tls_tx(void *ctx, const uint8_t *plain, size_t n, struct rg_acc *wire)
{
	struct pg_be_tls *bt = ctx;

	return rg_tls_xform.tx(bt->conn, plain, n, wire);
}

static void be_tls_free(void *ctx)
{
	struct pg_be_tls *bt = ctx;

	rg_tls_conn_free(bt->conn);
	free(bt);
}

static const struct rg_xform_ops be_tls_xform = {
    .rx = be_tls_rx,
    .tx = be_tls_tx,
    .free = be_tls_free,
};

/* 'S' received: start the handshake; everything queued from now on is encrypted. */
static int be_start_tls(struct rg_sess *s)
{
	struct pg_sess *ps = rg_sess_priv(s);
	struct rg_acc hello = {0};
	struct pg_be_tls *bt = calloc(1, sizeof(*bt));
	int ret = -ENOMEM;

	if (!bt)
		return ret;
	bt->s = s;
	bt->conn = rg_tls_conn_new(ps->tgt->tls, ps->tgt->server_name);
	if (!bt->conn || !tls_errbuf(ps))
		goto fail;
	rg_tls_conn_set_errbuf(bt->conn, ps->tls_err, TLS_ERR_LEN);
	ret = rg_tls_conn_start(bt->conn, &hello);
	if (ret)
		goto fail;
	ret = rg_sess_send(s, RG_BE, hello.p, hello.len); /* plain: no transform yet */
	if (ret)
		goto fail;
	ret = rg_sess_set_xform(s, RG_BE, &be_tls_xform, bt);
	if (ret)
		goto fail;
	ps->be_tls = bt;
	rg_acc_free(&hello);
	return 0;
fail:
	rg_acc_free(&hello);
	if (bt->conn)
		rg_tls_conn_free(bt->conn);
	free(bt);
	return ret;
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

	be_goto(ps, BE_CANCEL);
	ps->cnt->cancel_sent++;
	return send_built(s, RG_BE, buf, sizeof(buf), n);
}

static void pg_be_connected(struct rg_sess *s, int err)
{
	struct pg_sess *ps = rg_sess_priv(s);
	uint8_t buf[16];
	ssize_t n;

	if (err) {
		if (ps->is_cancel) {
			rg_pg_log("event=cancel_fail sess=%llu target=%s reason=connect detail=%s",
				  (unsigned long long)ps->id, ps->tgt->cfg->name, strerror(-err));
			rg_sess_abort(s);
			return;
		}
		if (!connect_next(s, err))
			upstream_fail(s, "connect", strerror(-err));
		return;
	}
	login_timer(s, 0);
	if (ps->tgt->tls) {
		n = rg_pg_write_ssl_request(buf, sizeof(buf));
		if (send_built(s, RG_BE, buf, sizeof(buf), n))
			goto fail;
		be_goto(ps, BE_SSL_WAIT);
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
	be_goto(ps, BE_AUTH);
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
	upstream_fail(s, "channel_binding", d);
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
		upstream_fail(s, "sasl_mechanism", "second AuthenticationSASL");
		return false;
	}
	while ((mech = rg_pg_auth_next_mechanism(a, &off))) {
		if (strcmp(mech, "SCRAM-SHA-256") == 0)
			plain = true;
		else if (strcmp(mech, "SCRAM-SHA-256-PLUS") == 0)
			plus = true;
	}
	if (ps->be_tls && plus && cbm != RG_CONFIG_CB_DISABLE) {
		n = rg_tls_conn_server_end_point(ps->be_tls->conn, cb, sizeof(cb));
		if (n < 0) {
			/* As libpq: -PLUS offered but unusable is a failed login, not a silent
			 * downgrade (e.g. an Ed25519 certificate has no end-point hash). */
			upstream_fail(s, "channel_binding", strerror((int)-n));
			return false;
		}
		o.cb = RG_AUTH_SCRAM_CB_SERVER_END_POINT;
		o.cb_data = cb;
		o.cb_len = (size_t)n;
	} else if (cb_required_fails(s, "did not offer SCRAM-SHA-256-PLUS over TLS")) {
		return false;
	} else if (!plain) {
		upstream_fail(s, "sasl_mechanism", "no SCRAM-SHA-256 offered");
		return false;
	} else if (ps->be_tls && cbm == RG_CONFIG_CB_PREFER) {
		o.cb = RG_AUTH_SCRAM_CB_NOT_OFFERED;
	}
	o.max_iterations = ps->tgt->cfg->scram_max_iterations; /* PBKDF2 runs on this worker */
	o.cred = ps->login->be_cred; /* one PBKDF2 per salt, not per login */
	ps->scram = calloc(1, sizeof(*ps->scram));
	if (!ps->scram) {
		upstream_fail(s, "internal", "");
		return false;
	}
	pw = rg_auth_cred_secret(ps->login->be_cred, &pwlen);
	se = rg_auth_scram_init_opts(ps->scram, "", pw, pwlen, NULL, &o);
	if (se == RG_AUTH_SCRAM_OK)
		se = rg_auth_scram_client_first(ps->scram, out, cap, outlen);
	if (se != RG_AUTH_SCRAM_OK) {
		upstream_fail(s, "scram", scram_err(se));
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
static bool pinned_setting_moved(struct rg_sess *s, const struct rg_pg_msg *m)
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
	sanitize(st.value, v, sizeof(v));
	rg_pg_log("event=pinned_setting_changed sess=%llu peer=%s target=%s setting=%s value=%s",
		  (unsigned long long)ps->id, ps->peer, ps->tgt->cfg->name, st.name, v);
	if (ps->be == BE_RELAY) {
		pg_close_fatal(s, "42501",
			       "terminating connection: a setting that decides how statements are "
			       "read was changed, which ringgate does not allow");
	} else {
		upstream_fail(s, "pinned_setting", st.name);
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
		upstream_fail(s, "auth_downgrade", d);
		return true;
	}
	if (!(ps->tgt->cfg->allowed_auth & method)) {
		snprintf(d, sizeof(d), "target asked for %s, not in allowed_auth", what);
		upstream_fail(s, "auth_not_allowed", d);
		return true;
	}
	return false;
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * A logged-in session lasts no longer than its token (unless the issuer says
 * session_outlives_token): arm the session timer for exp + clock skew, or end the session now
 * when that has passed (docs/pg.md, "Sessions end with their token"). The timer is re-armed
 * in steps of at most a day. False when the session was ended.
 */
static bool expiry_timer(struct rg_sess *s)
{
	struct pg_sess *ps = rg_sess_priv(s);
	int64_t left;

	if (!ps->token_end_ms) {
		rg_sess_timer(s, 0);
		return true;
	}
	left = ps->token_end_ms - wall_ms();
	if (left > 0) {
		rg_sess_timer(s, (unsigned)(left < 86400000 ? left : 86400000));
		return true;
	}
	ps->cnt->token_expired++;
	rg_pg_log("event=session_expired sess=%llu peer=%s target=%s", (unsigned long long)ps->id,
		  ps->peer, ps->tgt->cfg->name);
	pg_close_fatal(s, "57P01", "terminating connection because the agent's token expired");
	return false;
}

/* One message from the target while logging in (BE_AUTH / BE_PARAMS). */
static void be_login_msg(struct rg_sess *s, const struct rg_pg_msg *m)
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
			upstream_fail(s, ps->be == BE_AUTH ? "login_refused" : "startup_error", d);
		} else {
			upstream_fail(s, "bad_error_response", "");
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
			violation(s, RG_BE, "bad_auth_request", RG_PG_E_VALUE);
			return;
		}
		pw = rg_auth_cred_secret(ps->login->be_cred, &pwlen);
		switch (a.code) {
		case RG_PG_AUTH_OK:
			/* A SCRAM exchange must have proven the server knows the verifier. */
			if (ps->scram && ps->scram->state != RG_AUTH_SCRAM_DONE) {
				upstream_fail(s, "scram_incomplete", "");
				return;
			}
			/* As libpq: a server that lets us in without any exchange did not
			 * prove anything about its certificate either. */
			if (!ps->scram && cb_required_fails(s, "authenticated without SASL"))
				return;
			if (!ps->login->be_mech &&
			    be_auth_refused(s, RG_CONFIG_AUTH_NONE, "no authentication"))
				return;
			scram_free(ps);
			rg_pg_log("event=upstream_login sess=%llu target=%s role=%s tls=%s mech=%s",
				  (unsigned long long)ps->id, tc->name, ps->login->be_user,
				  ps->be_tls ? "yes" : "no",
				  ps->login->be_mech ? ps->login->be_mech : "none");
			n = rg_pg_write_auth_ok(buf, sizeof(buf));
			if (send_built(s, RG_FE, buf, sizeof(buf), n))
				goto abort;
			be_goto(ps, BE_PARAMS);
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
				violation(s, RG_BE, "unexpected_sasl_continue", RG_PG_E_VALUE);
				return;
			}
			se = rg_auth_scram_client_final(ps->scram, (const char *)a.data,
							a.data_len, out, sizeof(out), &outlen);
			if (se != RG_AUTH_SCRAM_OK) {
				upstream_fail(s, "scram", scram_err(se));
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
				violation(s, RG_BE, "unexpected_sasl_final", RG_PG_E_VALUE);
				return;
			}
			se = rg_auth_scram_verify_server_final(ps->scram, (const char *)a.data,
							       a.data_len);
			if (se != RG_AUTH_SCRAM_OK) {
				upstream_fail(s, "scram_server_signature", scram_err(se));
				return;
			}
			return;
		default:
			upstream_fail(s, "unsupported_auth_method", "");
			return;
		}
	case RG_PG_BE_PARAM_STATUS:
		if (ps->be != BE_PARAMS)
			break;
		if (rg_pg_validate(RG_PG_BE, m))
			goto bad;
		if (pinned_setting_moved(s, m))
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
		login_free(ps);
		be_goto(ps, BE_RELAY);
		fe_goto(ps, FE_RELAY);
		ps->token_end_ms = rg_auth_verifier_session_end_ms(
		    rg_pg_gw_verifier(ps->gw, rg_auth_principal_iss(ps->ident)), ps->ident);
		if (!expiry_timer(s))
			return;
		rg_sess_resume(s, RG_FE);
		return;
	default:
		break;
	}
	violation(s, RG_BE, rg_pg_type_name(RG_PG_BE, m->type), RG_PG_E_TYPE);
	return;
bad:
	violation(s, RG_BE, rg_pg_type_name(RG_PG_BE, m->type), RG_PG_E_VALUE);
	return;
internal:
	upstream_fail(s, "internal", "");
	return;
abort:
	rg_sess_abort(s);
}

/* ---- relay ------------------------------------------------------------------------------- */

/* What a denied statement becomes on the wire to the target (see struct pg_deny_pending). */
#define DENY_SQL "ringgate_denied_statement"
static const struct {
	uint8_t hdr[5];
	char sql[sizeof(DENY_SQL)];
} __attribute__((packed)) deny_query = {{'Q', 0, 0, 0, 4 + sizeof(DENY_SQL)}, DENY_SQL};

static void deny_push(struct rg_sess *s, uint64_t seq, const struct rg_pg_deny *d)
{
	struct pg_sess *ps = rg_sess_priv(s);
	struct pg_deny_pending *p;

	if (ps->deny_n == DENY_RING) {
		pg_close_fatal(s, "54000", "too many denied statements in flight");
		return;
	}
	/* Most sessions are never denied anything: the ring (2 KiB) is allocated on demand,
	 * and freed again once every pending denial was answered (deny_answer). */
	if (!ps->deny && !(ps->deny = calloc(DENY_RING, sizeof(*ps->deny)))) {
		pg_close_fatal(s, "53200", "out of memory");
		return;
	}
	p = &ps->deny[(ps->deny_head + ps->deny_n++) % DENY_RING];
	p->seq = seq;
	p->answered = false;
	p->d = *d;
	if (!p->d.sqlstate[0])
		memcpy(p->d.sqlstate, "42501", 6);
	if (!p->d.message[0])
		snprintf(p->d.message, sizeof(p->d.message), "statement denied by policy");
}

/*
 * The gateway's own guard, bundle or not (docs/security.md): the classifier must read the
 * bytes the server will execute, under the settings pinned at login (client_encoding UTF8,
 * standard_conforming_strings on). Text that is not UTF-8 is refused as the server would
 * refuse it (22021), and so is a statement that would move a pinned setting (42501): the
 * cheap prefilter passes nearly everything, the parser decides the rest. True: refused.
 */
static bool lexing_refused(struct rg_sess *s, const char *sql, size_t len, struct rg_pg_deny *d)
{
	struct pg_sess *ps = rg_sess_priv(s);
	struct rg_sqlclass **c = &ps->gw->lex[ps->cnt - ps->gw->cnt];
	struct rg_sql_facts f;

	if (!rg_sqlclass_utf8_valid(sql, len)) {
		memcpy(d->sqlstate, "22021", 6);
		snprintf(d->message, sizeof(d->message),
			 "invalid byte sequence for encoding \"UTF8\"");
		goto refused;
	}
	if (!rg_sqlclass_lexing_candidate(sql, len))
		return false;
	if (!*c && !(*c = rg_sqlclass_new()))
		goto unchecked;
	if (rg_sqlclass_run(*c, sql, len, 0, &f))
		goto unchecked;
	if (f.status == RG_SQL_OK && !(f.ops & RG_OP_BIT(RG_OP_SET_LEXING)))
		return false;
	memcpy(d->sqlstate, "42501", 6);
	snprintf(d->message, sizeof(d->message),
		 f.status == RG_SQL_OK
		     ? "changing client_encoding or string-literal settings is not allowed "
		       "through ringgate"
		     : "ringgate could not check this statement (syntax error?)");
	goto refused;
unchecked:
	memcpy(d->sqlstate, "53200", 6);
	snprintf(d->message, sizeof(d->message), "out of memory checking the statement");
refused:
	ps->cnt->lexing_denied++;
	rg_pg_log("event=stmt_refused sess=%llu peer=%s reason=lexing sqlstate=%s",
		  (unsigned long long)ps->id, ps->peer, d->sqlstate);
	return true;
}

/*
 * A Query, Parse or FunctionCall: the lexing guard, then the policy bundle in force (none:
 * pass-through, said at start), then the test seam. True if it may go to the target.
 */
static bool stmt_allowed(struct rg_sess *s, enum rg_pg_stmt_kind kind, const char *name,
			 const char *sql, size_t len, struct rg_pg_deny *d)
{
	struct pg_sess *ps = rg_sess_priv(s);
	struct pg_judgement j;
	enum pg_verdict v;
	char sub[SUB_LOG_LEN];

	memset(d, 0, sizeof(*d));
	if (lexing_refused(s, sql, len, d))
		return false;
	v = pg_policy_judge(ps->gw, (unsigned)(ps->cnt - ps->gw->cnt), &ps->req, sql, len, d, &j);
	if (v == PG_VERDICT_DENY || v == PG_VERDICT_LOG || j.shadow_rule) {
		sanitize(rg_auth_principal_sub(ps->ident), sub, sizeof(sub));
		if (v == PG_VERDICT_DENY)
			ps->cnt->stmt_denied++;
		rg_pg_log("event=%s sess=%llu sub=%s target=%s kind=%s rule=%s%s%s sqlstate=%s",
			  v == PG_VERDICT_DENY ? "stmt_denied"
			  : v == PG_VERDICT_LOG ? "stmt_logged"
						: "stmt_allowed",
			  (unsigned long long)ps->id, sub, ps->tgt->cfg->name,
			  kind == RG_PG_STMT_QUERY	? "query"
			  : kind == RG_PG_STMT_PARSE ? "parse"
						     : "function_call",
			  j.rule ? j.rule : "-", j.shadow_rule ? " shadow_rule=" : "",
			  j.shadow_rule ? j.shadow_rule : "",
			  v == PG_VERDICT_DENY ? d->sqlstate : "-");
	}
	if (v == PG_VERDICT_DENY)
		return false;
	return ps->gw->stmt_hook(ps->gw->hook_arg, &ps->si, kind, name, sql, len, d) ==
	       RG_PG_HOOK_ALLOW;
}

/* Send the target DENY_SQL in place of a denied message (a Query, a FunctionCall, or a
 * Parse under the agent's statement name) and remember the denial for sync point seq. */
static void deny_forward(struct rg_sess *s, const char *parse_name, uint64_t seq,
			 const struct rg_pg_deny *d, struct fwd_run *run, int *err)
{
	run_flush(s, RG_BE, run, err);
	if (*err)
		return;
	if (parse_name) {
		/* Parse: name, DENY_SQL, no parameter types (denials are rare: built on the heap) */
		size_t nl = strlen(parse_name) + 1, len = 4 + nl + sizeof(DENY_SQL) + 2;
		uint8_t *b = malloc(1 + len);

		if (!b) {
			*err = -ENOMEM;
			return;
		}
		b[0] = RG_PG_FE_PARSE;
		b[1] = (uint8_t)(len >> 24), b[2] = (uint8_t)(len >> 16);
		b[3] = (uint8_t)(len >> 8), b[4] = (uint8_t)len;
		memcpy(b + 5, parse_name, nl);
		memcpy(b + 5 + nl, DENY_SQL, sizeof(DENY_SQL));
		b[1 + len - 2] = b[1 + len - 1] = 0;
		*err = rg_sess_send(s, RG_BE, b, 1 + len);
		free(b);
	} else {
		*err = rg_sess_send(s, RG_BE, &deny_query, sizeof(deny_query));
	}
	if (!*err)
		deny_push(s, seq, d);
}

/* One whole agent message while logged in. Returns false to stop reading this chunk. */
/*
 * A FunctionCall (fast-path call by OID, body starting with the OID): refused while a policy
 * bundle is in force, since rules name functions and the OID is not resolved to a name yet
 * (fail closed), and always for set_config() (the lexing guard: pg_proc.dat's fixed OID).
 * True when refused, with d filled.
 */
static bool function_call_refused(struct rg_sess *s, const uint8_t *body, size_t n,
				  struct rg_pg_deny *d)
{
	struct pg_sess *ps = rg_sess_priv(s);
	uint32_t oid = n >= 4 ? (uint32_t)body[0] << 24 | (uint32_t)body[1] << 16 |
				    (uint32_t)body[2] << 8 | body[3]
			      : 0;

	memset(d, 0, sizeof(*d));
	memcpy(d->sqlstate, "42501", 6);
	if (oid == PG_OID_SET_CONFIG) {
		ps->cnt->lexing_denied++;
		snprintf(d->message, sizeof(d->message),
			 "set_config() through the function-call protocol is not allowed "
			 "through ringgate");
		return true;
	}
	if (!rg_pg_gw_policy_gen(ps->gw))
		return false;
	ps->cnt->stmt_denied++;
	snprintf(d->message, sizeof(d->message),
		 "fast-path function calls (function OID %u) are not allowed through ringgate "
		 "under a policy bundle",
		 oid);
	rg_pg_log("event=stmt_denied sess=%llu target=%s kind=function_call oid=%u rule=- "
		  "sqlstate=42501",
		  (unsigned long long)ps->id, ps->tgt->cfg->name, oid);
	return true;
}

/* One whole agent message while logged in. Returns false to stop reading this chunk. */
static bool fe_relay_msg(struct rg_sess *s, const struct rg_pg_msg *m, struct fwd_run *run,
			 struct rg_buf *b, bool in_acc, int *err)
{
	struct pg_sess *ps = rg_sess_priv(s);
	struct rg_pg_query q;
	struct rg_pg_parse pa;
	struct rg_pg_deny d;
	int r;

	switch (m->type) {
	case RG_PG_FE_QUERY:
		if ((r = rg_pg_read_query(m, &q))) {
			violation(s, RG_FE, "bad_query", r);
			return false;
		}
		ps->cnt->queries++;
		ps->syncs_sent++;
		if (!stmt_allowed(s, RG_PG_STMT_QUERY, NULL, q.sql, q.len, &d)) {
			deny_forward(s, NULL, ps->syncs_sent, &d, run, err);
			return true;
		}
		break;
	case RG_PG_FE_PARSE:
		if ((r = rg_pg_read_parse(m, &pa))) {
			violation(s, RG_FE, "bad_parse", r);
			return false;
		}
		ps->cnt->parses++;
		if (!stmt_allowed(s, RG_PG_STMT_PARSE, pa.stmt, pa.query, pa.query_len, &d)) {
			/* answered before the ReadyForQuery of the next Sync (or at a Flush) */
			deny_forward(s, pa.stmt, ps->syncs_sent + 1, &d, run, err);
			return true;
		}
		break;
	case RG_PG_FE_SYNC:
		if ((r = rg_pg_read_empty(m))) {
			violation(s, RG_FE, "bad_sync", r);
			return false;
		}
		ps->syncs_sent++;
		break;
	case RG_PG_FE_FUNCTION_CALL:
		if ((r = rg_pg_validate(RG_PG_FE, m))) {
			violation(s, RG_FE, "bad_function_call", r);
			return false;
		}
		ps->syncs_sent++;
		if (function_call_refused(s, m->body, m->body_len, &d)) {
			deny_forward(s, NULL, ps->syncs_sent, &d, run, err);
			return true;
		}
		break;
	case RG_PG_FE_TERMINATE:
		forward(s, RG_BE, run, b, m->start, m->total, in_acc, err);
		run_flush(s, RG_BE, run, err);
		fe_goto(ps, FE_CLOSING);
		rg_sess_close(s);
		return false;
	default:
		if ((r = rg_pg_validate(RG_PG_FE, m))) {
			violation(s, RG_FE, rg_pg_type_name(RG_PG_FE, m->type), r);
			return false;
		}
		break;
	}
	forward(s, RG_BE, run, b, m->start, m->total, in_acc, err);
	return true;
}

/* Agent bytes: startup, password, or relay. b is NULL for held bytes (always copied). */
static void fe_process(struct rg_sess *s, const uint8_t *p, size_t n, struct rg_buf *b)
{
	struct pg_sess *ps = rg_sess_priv(s);
	struct fwd_run run = {0};
	struct rg_pg_startup su;
	struct rg_pg_sevent ev;
	size_t off = 0;
	ssize_t r;
	int err = 0, done;

	while (off < n && !err) {
		switch (ps->fe) {
		case FE_STARTUP:
		case FE_TLS_STARTUP:
			r = rg_pg_stream_startup(&ps->fs, p + off, n - off, &su, &done);
			if (r < 0) {
				/* the agent hears what PostgreSQL says; the line below only logs */
				if (r == RG_PG_E_VERSION)
					bad_version(s, &su);
				violation(s, RG_FE, "startup_packet", (int)r);
				goto out;
			}
			off += (size_t)r;
			if (done && fe_startup_packet(s, &su, n - off) < 0)
				goto out;
			continue;
		case FE_PASSWORD:
			r = rg_pg_stream_next(&ps->fs, p + off, n - off, &ev);
			if (r < 0) {
				violation(s, RG_FE, "password_message", (int)r);
				goto out;
			}
			off += (size_t)r;
			if (ev.kind == RG_PG_SEV_MSG)
				fe_password(s, &ev.msg);
			continue;
		case FE_WAIT_KEYS: /* not paused, so a client that hangs up is seen at once */
		case FE_WAIT_BE:
			/* Raw bytes, at most HOLD_MAX per session (more ends the session), framed
			 * with the relay's limits when released after the first ReadyForQuery. */
			if (ps->hold.len + (n - off) > HOLD_MAX ||
			    rg_acc_append(&ps->hold, p + off, n - off)) {
				violation(s, RG_FE, "too_much_before_login", RG_PG_E_TOO_LONG);
				goto out;
			}
			off = n;
			continue;
		case FE_RELAY:
			break;
		default:
			goto out;
		}
		r = rg_pg_stream_next(&ps->fs, p + off, n - off, &ev);
		if (r < 0) {
			violation(s, RG_FE, "frame", (int)r);
			goto out;
		}
		if (ev.kind == RG_PG_SEV_MSG) {
			if (!fe_relay_msg(s, &ev.msg, &run, b, ev.in_acc || !b, &err))
				goto out;
		} else if (ev.kind == RG_PG_SEV_PIECE) {
			if (ev.first) {
				struct rg_pg_deny d;

				ps->fe_piece_drop = false;
				/* a streamed FunctionCall is a sync point like a whole one, and is
				 * judged on its header piece (type, length, then the OID) */
				if (ev.type == RG_PG_FE_FUNCTION_CALL) {
					ps->syncs_sent++;
					if (function_call_refused(s, ev.n > 5 ? ev.data + 5 : ev.data,
								  ev.n > 5 ? ev.n - 5 : 0, &d)) {
						ps->fe_piece_drop = true;
						deny_forward(s, NULL, ps->syncs_sent, &d, &run, &err);
					}
				}
			}
			if (!ps->fe_piece_drop)
				forward(s, RG_BE, &run, b, ev.data, ev.n, ev.in_acc || !b, &err);
		}
		off += (size_t)r;
		ps->cnt->fe_bytes += (uint64_t)r;
	}
out:
	run_flush(s, RG_BE, &run, &err);
	if (err)
		rg_sess_abort(s);
}

static int pg_fe_data(struct rg_sess *s, struct rg_buf *b)
{
	struct pg_sess *ps = rg_sess_priv(s);

	if (!b) {
		if (ps->fe != FE_CANCEL && ps->fe != FE_CLOSING) {
			fe_goto(ps, FE_CLOSING);
			rg_sess_close(s);
		}
		return 0;
	}
	if (ps->fe == FE_CANCEL || ps->fe == FE_CLOSING)
		return 0;
	fe_process(s, b->data, b->len, b);
	return 0;
}

/*
 * A target message while denials are pending (see struct pg_deny_pending): the ErrorResponse
 * the server gave DENY_SQL is replaced by the denial (*drop: not forwarded); a
 * ReadyForQuery ends every entry of its sync point, answered or not.
 */
static void deny_answer(struct rg_sess *s, const struct rg_pg_msg *m, struct fwd_run *run,
			int *err, bool *drop)
{
	struct pg_sess *ps = rg_sess_priv(s);
	struct pg_deny_pending *d;
	struct rg_pg_notice nt;

	*drop = false;
	if (!ps->deny_n)
		return;
	d = &ps->deny[ps->deny_head];
	if (d->seq != ps->rfq_recv + 1)
		return;
	if (m->type == RG_PG_BE_ERROR) {
		if (d->answered || rg_pg_read_notice(m, &nt) || !nt.message ||
		    !strstr(nt.message, DENY_SQL))
			return;
		run_flush(s, RG_FE, run, err);
		if (!*err)
			*err = send_error(s, RG_FE, "ERROR", d->d.sqlstate, d->d.message);
		d->answered = true;
		*drop = true;
		return;
	}
	if (m->type != RG_PG_BE_READY)
		return;
	while (ps->deny_n && ps->deny[ps->deny_head].seq == ps->rfq_recv + 1) {
		ps->deny_head = (ps->deny_head + 1) % DENY_RING;
		ps->deny_n--;
	}
	if (!ps->deny_n) {
		free(ps->deny);
		ps->deny = NULL;
		ps->deny_head = 0;
	}
}

static void drain_if_idle(struct rg_sess *s)
{
	struct pg_sess *ps = rg_sess_priv(s);

	if (ps->draining && ps->fe == FE_RELAY && ps->tx_status == 'I' &&
	    ps->syncs_sent == ps->rfq_recv && !rg_pg_stream_mid(&ps->fs))
		pg_close_fatal(s, "57P01", "terminating connection due to administrator command");
}

/* One whole target message while relaying. Returns false to stop. */
static bool be_relay_msg(struct rg_sess *s, struct rg_pg_msg *m, struct fwd_run *run,
			 struct rg_buf *b, bool in_acc, int *err)
{
	struct pg_sess *ps = rg_sess_priv(s);
	bool drop = false;
	uint8_t st;

	switch (m->type) {
	case RG_PG_BE_DATA_ROW:
		ps->gw->row_hook(ps->gw->hook_arg, &ps->si,
				 ps->rowdesc_valid ? &ps->rowdesc_msg : NULL, m);
		break;
	case RG_PG_BE_ROW_DESC:
		/* the copy is for the row hook only: none with the default no-op hook */
		if (!ps->gw->row_hook_set)
			break;
		ps->rowdesc.len = 0;
		ps->rowdesc_valid = false;
		if (rg_acc_append(&ps->rowdesc, m->start, m->total)) {
			*err = -ENOMEM;
			return false;
		}
		ps->rowdesc_valid =
		    rg_pg_msg_view(ps->rowdesc.p, ps->rowdesc.len, &ps->rowdesc_msg) > 0;
		break;
	case RG_PG_BE_ERROR:
		deny_answer(s, m, run, err, &drop);
		break;
	case RG_PG_BE_PARAM_STATUS:
		/* rare: after a SET of a setting the server reports */
		run_flush(s, RG_FE, run, err);
		if (pinned_setting_moved(s, m))
			return false;
		break;
	case RG_PG_BE_READY:
		if (rg_pg_read_ready(m, &st)) {
			violation(s, RG_BE, "bad_ready_for_query", RG_PG_E_VALUE);
			return false;
		}
		deny_answer(s, m, run, err, &drop);
		ps->rfq_recv++;
		ps->tx_status = st;
		forward(s, RG_FE, run, b, m->start, m->total, in_acc, err);
		if (ps->draining) {
			run_flush(s, RG_FE, run, err);
			drain_if_idle(s);
			return ps->fe != FE_CLOSING;
		}
		return true;
	case RG_PG_BE_AUTH:
	case RG_PG_BE_KEY_DATA:
		violation(s, RG_BE, rg_pg_type_name(RG_PG_BE, m->type), RG_PG_E_TYPE);
		return false;
	default:
		break;
	}
	if (!drop)
		forward(s, RG_FE, run, b, m->start, m->total, in_acc, err);
	return true;
}

/* A stream's accumulator, once no split message is in progress in it. */
static void stream_trim(struct rg_pg_stream *st)
{
	if (st->acc.p && !rg_pg_stream_mid(st)) {
		rg_acc_free(&st->acc);
		st->acc_release = false;
	}
}

/*
 * Every statement sent has been answered: the session may now sit idle for hours, so give
 * back what was grown for a transient message. Costs a few compares per target chunk; frees
 * only after a message was split across receive buffers (rare: 16 KiB buffers) or after a
 * RowDescription larger than ROWDESC_KEEP (kept, at its exact size, for the row hook).
 */
static void trim_idle(struct pg_sess *ps)
{
	uint8_t *p;

	if (ps->syncs_sent != ps->rfq_recv)
		return;
	stream_trim(&ps->fs);
	stream_trim(&ps->bs);
	if (ps->rowdesc.cap > ROWDESC_KEEP && ps->rowdesc.cap > ps->rowdesc.len) {
		if (!ps->rowdesc.len || !ps->rowdesc_valid) {
			rg_acc_free(&ps->rowdesc);
			ps->rowdesc_valid = false;
		} else if ((p = realloc(ps->rowdesc.p, ps->rowdesc.len))) {
			ps->rowdesc.p = p;
			ps->rowdesc.cap = ps->rowdesc.len;
			ps->rowdesc_valid =
			    rg_pg_msg_view(p, ps->rowdesc.len, &ps->rowdesc_msg) > 0;
		}
	}
}

static void be_process(struct rg_sess *s, struct rg_buf *b)
{
	struct pg_sess *ps = rg_sess_priv(s);
	struct fwd_run run = {0};
	struct rg_pg_sevent ev;
	size_t off = 0, n = b->len;
	ssize_t r;
	int err = 0;

	while (off < n && !err) {
		if (ps->be != BE_AUTH && ps->be != BE_PARAMS && ps->be != BE_RELAY)
			break;
		r = rg_pg_stream_next(&ps->bs, b->data + off, n - off, &ev);
		if (r < 0) {
			violation(s, RG_BE, "frame", (int)r);
			break;
		}
		off += (size_t)r;
		if (ps->be != BE_RELAY) {
			if (ev.kind == RG_PG_SEV_MSG)
				be_login_msg(s, &ev.msg);
			else if (ev.kind == RG_PG_SEV_PIECE)
				violation(s, RG_BE, "oversized_login_message", RG_PG_E_TOO_LONG);
			continue;
		}
		ps->cnt->be_bytes += (uint64_t)r;
		if (ev.kind == RG_PG_SEV_MSG) {
			if (!be_relay_msg(s, &ev.msg, &run, b, ev.in_acc, &err))
				break;
		} else if (ev.kind == RG_PG_SEV_PIECE) {
			forward(s, RG_FE, &run, b, ev.data, ev.n, ev.in_acc, &err);
		}
	}
	run_flush(s, RG_FE, &run, &err);
	if (err)
		rg_sess_abort(s);
	else if (ps->be == BE_RELAY)
		trim_idle(ps);
}

static void be_ssl_answer(struct rg_sess *s, struct rg_buf *b)
{
	struct pg_sess *ps = rg_sess_priv(s);

	if (b->data[0] == 'S' && b->len == 1) {
		if (be_start_tls(s)) {
			upstream_fail(s, "tls",
				      ps->tls_err && ps->tls_err[0] ? ps->tls_err : "setup failed");
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
		be_goto(ps, BE_AUTH);
		return;
	}
	if (ps->is_cancel) {
		rg_sess_abort(s);
		return;
	}
	if (b->data[0] == 'S') /* bytes after 'S' before the handshake: injected plaintext */
		violation(s, RG_BE, "bytes_after_ssl_answer", RG_PG_E_TRAILING);
	else if (b->data[0] == 'N')
		upstream_fail(s, "tls_refused", "target does not accept TLS");
	else
		upstream_fail(s, "ssl_answer", "unexpected answer to SSLRequest");
}

static int pg_be_data(struct rg_sess *s, struct rg_buf *b)
{
	struct pg_sess *ps = rg_sess_priv(s);

	if (!b) {
		switch (ps->be) {
		case BE_RELAY:
		case BE_CANCEL:
		case BE_DONE:
			be_goto(ps, BE_DONE);
			rg_sess_close(s);
			break;
		default:
			upstream_fail(s, "eof", "target closed the connection during login");
			break;
		}
		return 0;
	}
	switch (ps->be) {
	case BE_SSL_WAIT:
		be_ssl_answer(s, b);
		break;
	case BE_AUTH:
	case BE_PARAMS:
	case BE_RELAY:
		be_process(s, b);
		/* Login finished inside this chunk: release the agent's held bytes. */
		if (ps->fe == FE_RELAY && ps->hold.len) {
			struct rg_acc h = ps->hold;

			memset(&ps->hold, 0, sizeof(ps->hold));
			fe_process(s, h.p, h.len, NULL);
			rg_acc_free(&h);
		}
		break;
	default:
		break;
	}
	return 0;
}

/* ---- cancel ------------------------------------------------------------------------------ */

static void start_cancel(struct rg_sess *s, const struct rg_pg_startup *su)
{
	struct pg_sess *ps = rg_sess_priv(s);
	int ret;

	ps->cnt->cancel_requests++;
	fe_goto(ps, FE_CANCEL);
	rg_sess_pause(s, RG_FE);
	if (!ps->cancel && !(ps->cancel = malloc(sizeof(*ps->cancel)))) {
		rg_sess_abort(s);
		return;
	}
	if (!rg_pg_cancel_lookup(ps->gw->cancel, su->pid, su->key, su->key_len, ps->cancel)) {
		rg_pg_log("event=cancel_unknown_key sess=%llu peer=%s", (unsigned long long)ps->id,
			  ps->peer);
		rg_sess_close(s);
		return;
	}
	ps->is_cancel = true;
	ps->tgt = ps->cancel->target;
	rg_pg_log("event=cancel sess=%llu peer=%s target=%s", (unsigned long long)ps->id, ps->peer,
		  ps->tgt->cfg->name);
	be_goto(ps, BE_CONNECTING);
	/* the server the session is connected to, not whichever the name resolves to now */
	if (!ps->cancel->be_addrlen)
		rg_pg_target_addr(ps->tgt, 0, &ps->cancel->be_addr, &ps->cancel->be_addrlen);
	ret = rg_sess_connect_be(s, (const struct sockaddr *)&ps->cancel->be_addr,
				 ps->cancel->be_addrlen);
	if (ret) {
		rg_sess_abort(s);
		return;
	}
	rg_sess_timer(s, (unsigned)ps->tgt->cfg->connect_timeout_ms);
}

static void pg_send_done(struct rg_sess *s, enum rg_side side)
{
	struct pg_sess *ps = rg_sess_priv(s);

	if (side == RG_BE && ps->is_cancel && ps->be == BE_CANCEL && ps->be_tls &&
	    rg_tls_conn_established(ps->be_tls->conn))
		rg_sess_close(s);
}

/* ---- timers and drain -------------------------------------------------------------------- */

static void pg_timer(struct rg_sess *s)
{
	struct pg_sess *ps = rg_sess_priv(s);
	uint64_t now, pw_end;
	const char *limit;
	bool pre_pw;

	if (ps->is_cancel) {
		rg_sess_abort(s);
		return;
	}
	if (ps->fe == FE_WAIT_KEYS) {
		keywait_poll(s);
		return;
	}
	if (ps->fe == FE_CLOSING)
		return;
	if (ps->fe == FE_RELAY) {
		(void)expiry_timer(s);
		return;
	}
	now = mono_ms();
	pw_end = ps->accepted_ms + ps->gw->password_timeout_ms;
	pre_pw = ps->fe == FE_STARTUP || ps->fe == FE_TLS_STARTUP || ps->fe == FE_PASSWORD;
	if (now >= login_end(ps)) {
		limit = "login_timeout";
	} else if (ps->be == BE_CONNECTING) {
		upstream_fail(s, "connect", "timeout");
		return;
	} else if (pre_pw && now >= pw_end) {
		limit = "password_timeout";
	} else { /* no limit reached (fired a little early): wait for the nearest one */
		login_timer(s, pre_pw ? pw_end - now : 0);
		return;
	}
	rg_pg_log("event=login_timeout sess=%llu peer=%s fe_state=%s be_state=%s limit=%s",
		  (unsigned long long)ps->id, ps->peer, fe_names[ps->fe], be_names[ps->be], limit);
	pg_close_fatal(s, "08006", "timeout during login");
}

static void pg_drain(struct rg_sess *s)
{
	struct pg_sess *ps = rg_sess_priv(s);

	ps->draining = true;
	if (ps->is_cancel)
		return;
	if (ps->fe != FE_RELAY) {
		pg_close_fatal(s, "57P01", "terminating connection due to administrator command");
		return;
	}
	drain_if_idle(s);
}

const struct rg_proto_ops rg_pg_ops = {
    .name = "postgres",
    .sess_size = sizeof(struct pg_sess),
    .on_accept = pg_accept,
    .on_fe_data = pg_fe_data,
    .on_be_data = pg_be_data,
    .on_be_connected = pg_be_connected,
    .on_send_done = pg_send_done,
    .on_timer = pg_timer,
    .on_drain = pg_drain,
    .on_close = pg_close,
};
