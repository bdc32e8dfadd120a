/*
 * session.c: one agent's PostgreSQL session through the gateway (the rg_pg_ops table).
 *
 * Two explicit state machines, one per side (fe = the agent, be = the target), each changed
 * only by pg_fe_goto() / pg_be_goto(); the states and the session struct are in sess-int.h.
 * This file accepts and closes sessions, dispatches the bytes of both sides to the login
 * (login.c) or the relay (relay.c), runs the cancel connection, the session timer (login
 * deadlines, the token's expiry) and the drain, and holds the helpers every part uses.
 *
 * Invariants: the agent never receives a byte that came from the credential store, and no
 * log line holds the token or the password; every refusal is a FATAL ErrorResponse followed
 * by a clean close of that one session; a protocol violation by either peer ends the session
 * with one log line (event=protocol_violation). No locks here except the cancel registry's
 * (cancel.c).
 */
#include "sess-int.h"

const char *const pg_fe_names[] = {"startup", "tls_startup", "password", "wait_keys",
				   "wait_be", "relay",	     "cancel",	 "closing"};
const char *const pg_be_names[] = {"none",   "connecting", "ssl_wait", "auth",
				   "params", "relay",	   "cancel",   "done"};

/* ---- state transitions ---------------------------------------------------------------- */

void pg_fe_goto(struct pg_sess *ps, enum pg_fe_state to)
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

void pg_be_goto(struct pg_sess *ps, enum pg_be_state to)
{
	if (ps->be == BE_DONE)
		return;
	ps->be = to;
}

/* ---- helpers ---------------------------------------------------------------------------- */

/* Every value from a token, the agent or the target is logged through this: escaped into one
 * readable token that cannot forge a line or a key=value pair (rg_logval, engine/gateway). */
const char *pg_sanitize(const char *in, char *out, size_t cap)
{
	return rg_logval(in, out, cap);
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

uint64_t pg_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t pg_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

int64_t pg_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* CLOCK_MONOTONIC ms at which the login's whole budget (limits.login_timeout) runs out. */
uint64_t pg_login_end(const struct pg_sess *ps)
{
	return ps->accepted_ms + ps->gw->login_timeout_ms;
}

/*
 * Arm the session timer for a login phase limited to phase_ms (0: none of its own), never
 * past the login's deadline: one budget from accept to the first ReadyForQuery, which a
 * phase change (connect, key wait, target login) never extends.
 */
void pg_login_timer(struct rg_sess *s, uint64_t phase_ms)
{
	struct pg_sess *ps = rg_sess_priv(s);
	uint64_t now = pg_mono_ms(), end = pg_login_end(ps);
	uint64_t ms = end > now ? end - now : 1;

	if (phase_ms && phase_ms < ms)
		ms = phase_ms;
	rg_sess_timer(s, (unsigned)ms);
}

/* The login in progress is over (token verified, or the session ends): give back its
 * pending-login slots. */
void pg_pending_done(struct pg_sess *ps)
{
	if (!ps->pending)
		return;
	rg_gw_pending_leave(ps->gw->svc, ps->addr_bucket);
	ps->pending = false;
}

/* The TLS error detail buffer, allocated with the first TLS conn of the session. */
char *pg_tls_errbuf(struct pg_sess *ps)
{
	if (!ps->tls_err)
		ps->tls_err = calloc(1, TLS_ERR_LEN);
	return ps->tls_err;
}

int pg_send_error(struct rg_sess *s, enum rg_side to, const char *severity, const char *sqlstate,
		  const char *msg)
{
	uint8_t buf[512];
	ssize_t n = rg_pg_write_error(buf, sizeof(buf), severity, sqlstate, msg, NULL, NULL);

	if (n < 0 || (size_t)n > sizeof(buf))
		return -EINVAL;
	if (to == RG_FE && ((struct pg_sess *)rg_sess_priv(s))->rec)
		pg_rec_out(rg_sess_priv(s), buf, (size_t)n);
	return rg_sess_send(s, to, buf, (size_t)n);
}

/* Send a FATAL error to the agent and close the session once it is flushed. */
void pg_close_fatal(struct rg_sess *s, const char *sqlstate, const char *msg)
{
	struct pg_sess *ps = rg_sess_priv(s);

	if (ps->fe == FE_CLOSING)
		return;
	if (sqlstate)
		snprintf(ps->end_state, sizeof(ps->end_state), "%s", sqlstate);
	(void)pg_send_error(s, RG_FE, "FATAL", sqlstate, msg);
	pg_fe_goto(ps, FE_CLOSING);
	pg_be_goto(ps, BE_DONE);
	rg_sess_pause(s, RG_FE);
	rg_sess_close(s);
}

void pg_violation(struct rg_sess *s, enum rg_side from, const char *what, int err)
{
	struct pg_sess *ps = rg_sess_priv(s);

	ps->cnt->protocol_violations++;
	pg_ev_violation(ps, from == RG_FE ? "agent" : "target", what,
			err == RG_PG_E_NOMEM ? "out_of_memory" : rg_pg_strerror(err));
	rg_log("event=protocol_violation sess=%llu peer=%s side=%s fe_state=%s be_state=%s "
	       "what=%s err=%s",
	       (unsigned long long)ps->id, ps->peer, from == RG_FE ? "agent" : "target",
	       pg_fe_names[ps->fe], pg_be_names[ps->be], what,
	       err == RG_PG_E_NOMEM ? "out_of_memory" : rg_pg_strerror(err));
	if (from == RG_FE)
		pg_close_fatal(s, "08P01", "invalid frontend message");
	else
		pg_close_fatal(s, "08006", "lost connection to the target database");
}

/* The target could not be reached or refused ringgate: the agent learns nothing more. */
void pg_upstream_fail(struct rg_sess *s, const char *reason, const char *detail)
{
	struct pg_sess *ps = rg_sess_priv(s);
	char d[200], sub[SUB_LOG_LEN];

	pg_sanitize(detail, d, sizeof(d));
	pg_sanitize(ps->ident ? rg_auth_principal_sub(ps->ident) : NULL, sub, sizeof(sub));
	ps->cnt->upstream_fail++;
	rg_log("event=upstream_fail sess=%llu peer=%s target=%s sub=%s reason=%s detail=%s",
	       (unsigned long long)ps->id, ps->peer, ps->tgt ? ps->tgt->cfg->name : "-", sub,
	       reason, d);
	pg_close_fatal(s, "08006", "could not connect to the target database");
}

/* The audit line and counters of a refused token (the agent is told by the caller). */
void pg_auth_audit(struct pg_sess *ps, enum rg_auth_err e, const char *detail)
{
	char d[200];

	pg_sanitize(detail, d, sizeof(d));
	ps->cnt->auth_fail++;
	ps->cnt->auth_fail_by[(unsigned)e < RG_GW_AUTH_REASONS ? (unsigned)e : 0]++;
	pg_ev_auth_fail(ps, rg_auth_err_name(e), d);
	rg_log("event=auth_fail sess=%llu reason=%s sub=- user=%s peer=%s target=%s "
	       "detail=%s",
	       (unsigned long long)ps->id, rg_auth_err_name(e), ps->login->user, ps->peer,
	       ps->tgt ? ps->tgt->cfg->name : "-", d[0] ? d : "-");
}

void pg_run_flush(struct rg_sess *s, enum rg_side to, struct fwd_run *r, int *err)
{
	if (r->len && !*err) {
		if (to == RG_FE && ((struct pg_sess *)rg_sess_priv(s))->rec)
			pg_rec_out(rg_sess_priv(s), r->b->data + r->off, r->len);
		*err = rg_sess_send_ref(s, to, r->b, r->off, r->len);
	}
	r->len = 0;
}

static void run_add(struct rg_sess *s, enum rg_side to, struct fwd_run *r, struct rg_buf *b,
		    size_t off, size_t len, int *err)
{
	if (r->len && r->b == b && r->off + r->len == off) {
		r->len += len;
		return;
	}
	pg_run_flush(s, to, r, err);
	r->b = b;
	r->off = off;
	r->len = len;
}

/* Forward one event's bytes: by reference when they are in the buffer, else copied. */
void pg_forward(struct rg_sess *s, enum rg_side to, struct fwd_run *r, struct rg_buf *b,
		const uint8_t *p, size_t n, bool in_acc, int *err)
{
	if (!n)
		return;
	if (in_acc) {
		pg_run_flush(s, to, r, err);
		if (to == RG_FE && ((struct pg_sess *)rg_sess_priv(s))->rec)
			pg_rec_out(rg_sess_priv(s), p, n);
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
	enum rg_gw_admit a;

	ps->l = l;
	ps->accepted_ms = pg_mono_ms();
	ps->gw = gw;
	ps->cnt = &gw->cnt[w < gw->workers ? w : 0];
	ps->id = rg_gw_session_id(gw->svc);
	ps->cnt->sessions++;
	ps->cnt->sessions_active++;
	if (getpeername(rg_sess_fd(s, RG_FE), (struct sockaddr *)&peer, &plen))
		peer.ss_family = AF_UNSPEC;
	peer_name(&peer, ps->peer, sizeof(ps->peer));
	ps->si.peer = ps->peer;
	ps->si.id = ps->id;
	/* Before login only a PasswordMessage of at most RG_PG_PASSWORD_MAX is acceptable:
	 * anything else fails at its header, so an unauthenticated agent cannot make the
	 * gateway hold (or stream) a large message. pg_fe_goto(FE_RELAY) installs the relay's. */
	rg_pg_stream_init(&ps->fs, &gw->pw_lim, gw->stream_min, NULL);
	rg_pg_stream_init(&ps->bs, &gw->be_lim, gw->stream_min, gw->be_stream);
	/* Until its token is verified a connection takes a pending-login slot, not a session
	 * slot: unauthenticated clients cannot lock logged-in agents out (engine/gateway). */
	a = rg_gw_pending_enter(gw->svc, &peer, &ps->addr_bucket);
	if (a != RG_GW_ADMIT_OK) {
		rg_log("event=session_refused sess=%llu peer=%s reason=%s",
		       (unsigned long long)ps->id, ps->peer,
		       a == RG_GW_ADMIT_PENDING_FULL ? "max_pending_logins"
						     : "max_pending_per_address");
		pg_close_fatal(s, "53300", "sorry, too many clients already");
		return 0;
	}
	ps->pending = true;
	pg_login_timer(s, gw->password_timeout_ms);
	return 0;
}

void pg_scram_free(struct pg_sess *ps)
{
	if (ps->scram) {
		rg_auth_scram_clear(ps->scram);
		free(ps->scram);
		ps->scram = NULL;
	}
}

void pg_keywait_free(struct pg_sess *ps)
{
	struct pg_keywait *kw = ps->login ? ps->login->keywait : NULL;

	if (!kw)
		return;
	OPENSSL_cleanse(kw->token, kw->len);
	free(kw);
	ps->login->keywait = NULL;
}

void pg_login_free(struct pg_sess *ps)
{
	pg_keywait_free(ps);
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
		rg_log("event=tls_fail sess=%llu peer=%s detail=%s", (unsigned long long)ps->id,
		       ps->peer, pg_sanitize(ps->tls_err, v, sizeof(v)));
	if (ps->relayed || reason == RG_CLOSE_FE_ERROR || reason == RG_CLOSE_BE_ERROR)
		rg_log(
		    "event=session_end sess=%llu peer=%s sub=%s target=%s reason=%d "
		    "fe_state=%s be_state=%s",
		    (unsigned long long)ps->id, ps->peer,
		    pg_sanitize(ps->ident ? rg_auth_principal_sub(ps->ident) : NULL, v, sizeof(v)),
		    ps->tgt ? ps->tgt->cfg->name : "-", (int)reason, pg_fe_names[ps->fe],
		    pg_be_names[ps->be]);
	if (ps->ev) {
		static const char *const why[] = {
		    [RG_CLOSE_PROTO] = "closed",	  [RG_CLOSE_EOF] = "eof",
		    [RG_CLOSE_FE_ERROR] = "client_error", [RG_CLOSE_BE_ERROR] = "target_error",
		    [RG_CLOSE_IDLE] = "idle_timeout",	  [RG_CLOSE_LINGER] = "linger",
		    [RG_CLOSE_SHUTDOWN] = "shutdown",	  [RG_CLOSE_NOMEM] = "out_of_memory"};
		char r[32];

		if (ps->terminated)
			snprintf(r, sizeof(r), "terminate");
		else if (ps->end_state[0])
			snprintf(r, sizeof(r), "fatal_%s", ps->end_state);
		else
			snprintf(r, sizeof(r), "%s",
				 (unsigned)reason <= RG_CLOSE_NOMEM ? why[reason] : "closed");
		pg_ev_session_end(ps, r);
		pg_ev_free(ps);
	}
	if (ps->rec) {
		pg_rec_end(ps, ps->terminated ? "terminate" : "closed");
	}
	if (ps->tgt_counted)
		rg_gw_target_closed(ps->tgt->gt, (unsigned)(ps->cnt - ps->gw->cnt));
	if (ps->key_registered)
		rg_pg_cancel_unregister(ps->gw->cancel, ps->key_pid, ps->key_key);
	if (ps->counted)
		rg_gw_session_leave(ps->gw->svc);
	pg_pending_done(ps);
	ps->cnt->sessions_active--;
	pg_scram_free(ps);
	free(ps->deny);
	free(ps->lim);
	pg_appr_free(s); /* a statement still held: its request is abandoned */
	pg_mask_free(ps);
	OPENSSL_cleanse(ps->key_key, sizeof(ps->key_key));
	if (ps->cancel) {
		OPENSSL_cleanse(ps->cancel, sizeof(*ps->cancel));
		free(ps->cancel);
	}
	/* A token still waiting for keys (the agent hung up, or a drain) was never accepted:
	 * audited as the refusal it would have had. */
	if (ps->login && ps->login->keywait)
		pg_auth_audit(ps, RG_AUTH_E_UNKNOWN_KID, ps->login->keywait->detail);
	pg_login_free(ps);
	free(ps->tls_err);
	rg_auth_principal_free(ps->ident);
	rg_pg_stream_free(&ps->fs);
	rg_pg_stream_free(&ps->bs);
	rg_acc_free(&ps->hold);
	rg_acc_free(&ps->rowdesc);
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
					pg_bad_version(s, &su);
				pg_violation(s, RG_FE, "startup_packet", (int)r);
				goto out;
			}
			off += (size_t)r;
			if (done && pg_fe_startup_packet(s, &su, n - off) < 0)
				goto out;
			continue;
		case FE_PASSWORD:
			r = rg_pg_stream_next(&ps->fs, p + off, n - off, &ev);
			if (r < 0) {
				pg_violation(s, RG_FE, "password_message", (int)r);
				goto out;
			}
			off += (size_t)r;
			if (ev.kind == RG_PG_SEV_MSG)
				pg_fe_password(s, &ev.msg);
			continue;
		case FE_WAIT_KEYS: /* not paused, so a client that hangs up is seen at once */
		case FE_WAIT_BE:
			/* Raw bytes, at most HOLD_MAX per session (more ends the session), framed
			 * with the relay's limits when released after the first ReadyForQuery. */
			if (ps->hold.len + (n - off) > HOLD_MAX ||
			    rg_acc_append(&ps->hold, p + off, n - off)) {
				pg_violation(s, RG_FE, "too_much_before_login", RG_PG_E_TOO_LONG);
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
			pg_violation(s, RG_FE, "frame", (int)r);
			goto out;
		}
		if (ev.kind == RG_PG_SEV_MSG) {
			if (!pg_fe_relay_msg(s, &ev.msg, &run, b, ev.in_acc || !b, &err))
				goto out;
		} else if (ev.kind == RG_PG_SEV_PIECE) {
			if (ev.first && ps->mask) {
				/* beyond PG_MASK_HOLD_MAX: the tracker cannot follow it */
				pg_run_flush(s, RG_BE, &run, &err);
				pg_close_fatal(s, "54000",
					       "message too large for a masked session through "
					       "ringgate");
				goto out;
			}
			if (ev.first) {
				struct rg_pg_deny d;

				ps->fe_piece_drop = false;
				/* a streamed FunctionCall is a sync point like a whole one, and is
				 * judged on its header piece (type, length, then the OID) */
				if (ev.type == RG_PG_FE_FUNCTION_CALL) {
					ps->syncs_sent++;
					if (pg_function_call_refused(
						s, ev.n > 5 ? ev.data + 5 : ev.data,
						ev.n > 5 ? ev.n - 5 : 0, &d)) {
						ps->fe_piece_drop = true;
						pg_deny_forward(s, NULL, ps->syncs_sent, &d, &run,
								&err);
					}
				}
			}
			if (!ps->fe_piece_drop)
				pg_forward(s, RG_BE, &run, b, ev.data, ev.n, ev.in_acc || !b, &err);
		}
		off += (size_t)r;
		ps->cnt->fe_bytes += (uint64_t)r;
	}
out:
	pg_run_flush(s, RG_BE, &run, &err);
	if (err)
		rg_sess_abort(s);
}

static int pg_fe_data(struct rg_sess *s, struct rg_buf *b)
{
	struct pg_sess *ps = rg_sess_priv(s);

	if (!b) {
		if (ps->fe != FE_CANCEL && ps->fe != FE_CLOSING) {
			pg_fe_goto(ps, FE_CLOSING);
			rg_sess_close(s);
		}
		return 0;
	}
	if (ps->fe == FE_CANCEL || ps->fe == FE_CLOSING)
		return 0;
	fe_process(s, b->data, b->len, b);
	return 0;
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
		/* runs of whole DataRows between messages: framed and vetted together */
		if (ps->be == BE_RELAY && b->data[off] == RG_PG_BE_DATA_ROW &&
		    !rg_pg_stream_mid(&ps->bs)) {
			size_t used;
			bool go = pg_be_rows(s, b, off, &run, &used, &err);

			off += used;
			ps->cnt->be_bytes += used;
			if (!go)
				break;
			if (used)
				continue;
		}
		r = rg_pg_stream_next(&ps->bs, b->data + off, n - off, &ev);
		if (r < 0) {
			pg_violation(s, RG_BE, "frame", (int)r);
			break;
		}
		off += (size_t)r;
		if (ps->be != BE_RELAY) {
			if (ev.kind == RG_PG_SEV_MSG)
				pg_be_login_msg(s, &ev.msg);
			else if (ev.kind == RG_PG_SEV_PIECE)
				pg_violation(s, RG_BE, "oversized_login_message", RG_PG_E_TOO_LONG);
			continue;
		}
		ps->cnt->be_bytes += (uint64_t)r;
		if (ev.kind == RG_PG_SEV_MSG) {
			if (!pg_be_relay_msg(s, &ev.msg, &run, b, ev.in_acc, &err))
				break;
		} else if (ev.kind == RG_PG_SEV_PIECE) {
			if (!pg_be_relay_piece(s, &ev, &run, b, &err))
				break;
		}
	}
	pg_run_flush(s, RG_FE, &run, &err);
	if (err)
		rg_sess_abort(s);
	else if (ps->be == BE_RELAY)
		pg_trim_idle(ps);
}

static int pg_be_data(struct rg_sess *s, struct rg_buf *b)
{
	struct pg_sess *ps = rg_sess_priv(s);

	if (!b) {
		switch (ps->be) {
		case BE_RELAY:
		case BE_CANCEL:
		case BE_DONE:
			pg_be_goto(ps, BE_DONE);
			rg_sess_close(s);
			break;
		default:
			pg_upstream_fail(s, "eof", "target closed the connection during login");
			break;
		}
		return 0;
	}
	switch (ps->be) {
	case BE_SSL_WAIT:
		pg_be_ssl_answer(s, b);
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

void pg_start_cancel(struct rg_sess *s, const struct rg_pg_startup *su)
{
	struct pg_sess *ps = rg_sess_priv(s);
	int ret;

	ps->cnt->cancel_requests++;
	pg_fe_goto(ps, FE_CANCEL);
	rg_sess_pause(s, RG_FE);
	if (!ps->cancel && !(ps->cancel = malloc(sizeof(*ps->cancel)))) {
		rg_sess_abort(s);
		return;
	}
	if (!rg_pg_cancel_lookup(ps->gw->cancel, su->pid, su->key, su->key_len, ps->cancel)) {
		rg_log("event=cancel_unknown_key sess=%llu peer=%s", (unsigned long long)ps->id,
		       ps->peer);
		rg_sess_close(s);
		return;
	}
	ps->is_cancel = true;
	ps->tgt = ps->cancel->target;
	/* a statement that session holds for approval is withdrawn (57014); whatever runs on
	 * the target is cancelled as usual */
	rg_approvals_withdraw(ps->gw->approvals, ps->cancel->worker, ps->cancel->sess_id);
	if (ps->cancel->held_only) {
		rg_log("event=cancel sess=%llu peer=%s target=%s reach=held_statement_only",
		       (unsigned long long)ps->id, ps->peer, ps->tgt->cfg->name);
		rg_sess_close(s);
		return;
	}
	rg_log("event=cancel sess=%llu peer=%s target=%s", (unsigned long long)ps->id, ps->peer,
	       ps->tgt->cfg->name);
	pg_be_goto(ps, BE_CONNECTING);
	/* the server the session is connected to, not whichever the name resolves to now */
	if (!ps->cancel->be_addrlen)
		rg_gw_target_addr(ps->tgt->gt, 0, &ps->cancel->be_addr, &ps->cancel->be_addrlen);
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
	    rg_tls_conn_established(ps->be_tls))
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
		pg_keywait_poll(s);
		return;
	}
	if (ps->fe == FE_CLOSING)
		return;
	if (ps->fe == FE_RELAY) {
		(void)pg_expiry_timer(s);
		return;
	}
	now = pg_mono_ms();
	pw_end = ps->accepted_ms + ps->gw->password_timeout_ms;
	pre_pw = ps->fe == FE_STARTUP || ps->fe == FE_TLS_STARTUP || ps->fe == FE_PASSWORD;
	if (now >= pg_login_end(ps)) {
		limit = "login_timeout";
	} else if (ps->be == BE_CONNECTING) {
		pg_upstream_fail(s, "connect", "timeout");
		return;
	} else if (pre_pw && now >= pw_end) {
		limit = "password_timeout";
	} else { /* no limit reached (fired a little early): wait for the nearest one */
		pg_login_timer(s, pre_pw ? pw_end - now : 0);
		return;
	}
	rg_log("event=login_timeout sess=%llu peer=%s fe_state=%s be_state=%s limit=%s",
	       (unsigned long long)ps->id, ps->peer, pg_fe_names[ps->fe], pg_be_names[ps->be],
	       limit);
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
	pg_drain_if_idle(s);
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
