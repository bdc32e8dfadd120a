/*
 * session.c: one agent's MySQL session through the gateway (the rg_mysql_ops table).
 *
 * Two explicit state machines, one per side (fe = the agent, be = the target), changed only
 * by my_fe_goto() / my_be_goto(); states and structs are in my-int.h. This file accepts and
 * closes sessions, frames both sides' bytes into whole messages (my_rx_next: in place when a
 * message lies in one received chunk, copied only when it is split) and hands them to the
 * login (login.c) or the relay (relay.c), runs the session timer (login deadlines, the
 * token's expiry) and the drain, and holds the helpers every part uses.
 *
 * Invariants: the agent never receives a byte that came from the credential store, and no
 * log line holds a token or a password; every refusal is an ERR packet followed by a clean
 * close of that one session; a protocol violation by either peer ends the session with one
 * log line (event=protocol_violation).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <time.h>

#include "my-int.h"

const char *const my_fe_names[] = {"handshake", "tls_response", "auth_switch", "wait_keys",
				   "wait_be",	"relay",	"closing"};
const char *const my_be_names[] = {"none",  "connecting", "handshake", "auth",
				   "probe", "relay",      "done"};

uint64_t my_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t my_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

int64_t my_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void my_fe_goto(struct my_sess *ms, enum my_fe_state to)
{
	if (ms->fe == FE_CLOSING) /* final */
		return;
	ms->fe = to;
}

void my_be_goto(struct my_sess *ms, enum my_be_state to)
{
	if (ms->be == BE_DONE)
		return;
	ms->be = to;
}

const char *my_sub(const struct my_sess *ms, char *out, size_t cap)
{
	return rg_logval(ms->ident ? rg_auth_principal_sub(ms->ident) : NULL, out, cap);
}

char *my_tls_errbuf(struct my_sess *ms)
{
	if (!ms->tls_err)
		ms->tls_err = calloc(1, MY_TLS_ERR_LEN);
	return ms->tls_err;
}

/* Arm the timer for a login phase of phase_ms (0: none of its own), never past the login's
 * whole budget (limits.login_timeout from accept). */
void my_login_timer(struct rg_sess *s, uint64_t phase_ms)
{
	struct my_sess *ms = rg_sess_priv(s);
	uint64_t now = my_mono_ms(), end = ms->accepted_ms + ms->m->login_timeout_ms;
	uint64_t t = end > now ? end - now : 1;

	if (phase_ms && phase_ms < t)
		t = phase_ms;
	rg_sess_timer(s, (unsigned)t);
}

void my_pending_done(struct my_sess *ms)
{
	if (!ms->pending)
		return;
	rg_gw_pending_leave(ms->m->svc, ms->addr_bucket);
	ms->pending = false;
}

int my_send_err(struct rg_sess *s, uint8_t seq, uint16_t code, const char *state, const char *msg)
{
	struct my_sess *ms = rg_sess_priv(s);
	uint8_t buf[600];
	ssize_t n = rg_my_write_err(buf, sizeof(buf), seq, code, state, msg);
	int r;

	if (n < 0 || (size_t)n > sizeof(buf))
		return -EINVAL;
	r = rg_sess_send(s, RG_FE, buf, (size_t)n);
	if (!r && ms->rec)
		rg_rec_out(ms->rec, buf, (size_t)n);
	return r;
}

/* An ERR to the agent, then a clean close once it is flushed. */
void my_close_err(struct rg_sess *s, uint8_t seq, uint16_t code, const char *state,
		  const char *msg)
{
	struct my_sess *ms = rg_sess_priv(s);

	if (ms->fe == FE_CLOSING)
		return;
	(void)my_send_err(s, seq, code, state, msg);
	my_fe_goto(ms, FE_CLOSING);
	my_be_goto(ms, BE_DONE);
	rg_sess_pause(s, RG_FE);
	rg_sess_close(s);
}

/* The sequence id ringgate's next packet to the agent carries (an error while logging in
 * answers the agent's last packet; in the command phase a command's first answer is 1). */
static uint8_t fe_err_seq(const struct my_sess *ms)
{
	return ms->login ? ms->login->fe_seq : 1;
}

void my_violation(struct rg_sess *s, enum rg_side from, const char *what, int err)
{
	struct my_sess *ms = rg_sess_priv(s);

	ms->cnt->protocol_violations++;
	if (!ms->end_reason)
		ms->end_reason = "protocol_violation";
	my_ev_violation(ms, from == RG_FE ? "agent" : "target", what,
			err == -ENOMEM ? "out_of_memory" : rg_my_strerror(err));
	rg_log("event=protocol_violation proto=mysql sess=%llu peer=%s side=%s fe_state=%s "
	       "be_state=%s what=%s err=%s",
	       (unsigned long long)ms->id, ms->peer, from == RG_FE ? "agent" : "target",
	       my_fe_names[ms->fe], my_be_names[ms->be], what,
	       err == -ENOMEM ? "out_of_memory" : rg_my_strerror(err));
	if (from == RG_FE)
		my_close_err(s, fe_err_seq(ms), RG_MY_ER_NET_PACKETS_OUT_OF_ORDER, "08S01",
			     "Got packets out of order or malformed (ringgate)");
	else
		my_close_err(s, fe_err_seq(ms), RG_MY_ER_HANDSHAKE_ERROR, "08S01",
			     "Lost connection to the target database");
}

/* The target could not be reached or refused ringgate: the agent learns nothing more. */
void my_upstream_fail(struct rg_sess *s, const char *reason, const char *detail)
{
	struct my_sess *ms = rg_sess_priv(s);
	char d[200], sub[MY_SUB_LOG_LEN];

	rg_logval(detail, d, sizeof(d));
	ms->cnt->upstream_fail++;
	if (!ms->end_reason)
		ms->end_reason = "upstream_fail";
	rg_log("event=upstream_fail proto=mysql sess=%llu peer=%s target=%s sub=%s reason=%s "
	       "detail=%s",
	       (unsigned long long)ms->id, ms->peer, ms->tgt ? ms->tgt->cfg->name : "-",
	       my_sub(ms, sub, sizeof(sub)), reason, d);
	my_close_err(s, fe_err_seq(ms), RG_MY_ER_HANDSHAKE_ERROR, "08S01",
		     "Could not connect to the target database");
}

void my_run_flush(struct rg_sess *s, enum rg_side to, struct my_run *r, int *err)
{
	struct my_sess *ms = rg_sess_priv(s);

	if (r->len && !*err) {
		*err = rg_sess_send_ref(s, to, r->b, r->off, r->len);
		if (!*err && to == RG_FE && ms->rec) /* the recording copies (record.c) */
			rg_rec_out(ms->rec, r->b->data + r->off, r->len);
	}
	r->len = 0;
}

/* Forward bytes: by reference (coalesced into runs) when they lie in b, else copied. */
void my_forward(struct rg_sess *s, enum rg_side to, struct my_run *r, struct rg_buf *b,
		const uint8_t *p, size_t n, bool copy, int *err)
{
	size_t off;

	if (!n)
		return;
	if (copy || !b) {
		struct my_sess *ms = rg_sess_priv(s);

		my_run_flush(s, to, r, err);
		if (!*err)
			*err = rg_sess_send(s, to, p, n);
		if (!*err && to == RG_FE && ms->rec)
			rg_rec_out(ms->rec, p, n);
		return;
	}
	off = (size_t)(p - b->data);
	if (r->len && r->b == b && r->off + r->len == off) {
		r->len += n;
		return;
	}
	my_run_flush(s, to, r, err);
	r->b = b;
	r->off = off;
	r->len = n;
}

/* ---- accept / close ------------------------------------------------------------------- */

static void peer_name(const struct sockaddr_storage *sa, char *out, size_t cap)
{
	char host[INET6_ADDRSTRLEN] = "?";

	snprintf(out, cap, "unknown");
	if (sa->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		snprintf(out, cap, "%s:%u", host, ntohs(a->sin_port));
	} else if (sa->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		snprintf(out, cap, "[%s]:%u", host, ntohs(a->sin6_port));
	}
}

static int my_accept(struct rg_sess *s)
{
	struct my_sess *ms = rg_sess_priv(s);
	struct my_listener *l = rg_sess_proto_ctx(s);
	struct sockaddr_storage peer = {.ss_family = AF_UNSPEC};
	socklen_t plen = sizeof(peer);
	enum rg_gw_admit a;

	ms->l = l;
	ms->m = l->m;
	ms->accepted_ms = my_mono_ms();
	ms->worker = rg_worker_id(rg_sess_worker(s));
	ms->cnt = &ms->m->cnt[ms->worker];
	ms->cnt->sessions++;
	ms->cnt->sessions_active++;
	ms->id = rg_gw_session_id(ms->m->svc);
	/* the id the agent sees (handshake, CONNECTION_ID() is the target's): never 0 */
	ms->conn_id = (uint32_t)ms->id ? (uint32_t)ms->id : 1;
	if (getpeername(rg_sess_fd(s, RG_FE), (struct sockaddr *)&peer, &plen))
		peer.ss_family = AF_UNSPEC;
	peer_name(&peer, ms->peer, sizeof(ms->peer));
	ms->login = calloc(1, sizeof(*ms->login));
	if (!ms->login)
		return -ENOMEM;
	a = rg_gw_pending_enter(ms->m->svc, &peer, &ms->addr_bucket);
	if (a != RG_GW_ADMIT_OK) {
		rg_log("event=session_refused proto=mysql sess=%llu peer=%s reason=%s",
		       (unsigned long long)ms->id, ms->peer,
		       a == RG_GW_ADMIT_PENDING_FULL ? "max_pending_logins"
						     : "max_pending_per_address");
		my_close_err(s, 0, 1040, "08004", "Too many connections");
		return 0;
	}
	ms->pending = true;
	if (my_fe_send_handshake(s))
		return -ENOMEM;
	my_login_timer(s, ms->m->password_timeout_ms);
	return 0;
}

void my_login_free(struct my_sess *ms)
{
	if (!ms->login)
		return;
	my_keywait_free(ms);
	free(ms->login->attrs);
	free(ms->login->ok);
	OPENSSL_cleanse(ms->login, sizeof(*ms->login));
	free(ms->login);
	ms->login = NULL;
}

static void my_close(struct rg_sess *s, enum rg_close_reason reason)
{
	struct my_sess *ms = rg_sess_priv(s);
	char v[MY_TLS_ERR_LEN > MY_SUB_LOG_LEN ? MY_TLS_ERR_LEN : MY_SUB_LOG_LEN];

	if (ms->tls_err && ms->tls_err[0])
		rg_log("event=tls_fail proto=mysql sess=%llu peer=%s detail=%s",
		       (unsigned long long)ms->id, ms->peer, rg_logval(ms->tls_err, v, sizeof(v)));
	if (ms->relayed || reason == RG_CLOSE_FE_ERROR || reason == RG_CLOSE_BE_ERROR)
		rg_log("event=session_end proto=mysql sess=%llu peer=%s sub=%s target=%s "
		       "reason=%d quit=%s fe_state=%s be_state=%s",
		       (unsigned long long)ms->id, ms->peer, my_sub(ms, v, sizeof(v)),
		       ms->tgt ? ms->tgt->cfg->name : "-", (int)reason, ms->quit ? "yes" : "no",
		       my_fe_names[ms->fe], my_be_names[ms->be]);
	if (ms->ev || ms->rec) {
		static const char *const why[] = {
		    [RG_CLOSE_PROTO] = "closed",	  [RG_CLOSE_EOF] = "eof",
		    [RG_CLOSE_FE_ERROR] = "client_error", [RG_CLOSE_BE_ERROR] = "target_error",
		    [RG_CLOSE_IDLE] = "idle_timeout",	  [RG_CLOSE_LINGER] = "linger",
		    [RG_CLOSE_SHUTDOWN] = "shutdown",	  [RG_CLOSE_NOMEM] = "out_of_memory"};
		const char *r = ms->end_reason ? ms->end_reason
				: ms->quit     ? "quit"
				: (unsigned)reason <= RG_CLOSE_NOMEM && why[reason]
				    ? why[reason]
				    : "closed";

		my_ev_session_end(ms, r);
		my_rec_end(ms, r);
	}
	if (ms->login && ms->login->keywait) {
		char d[200];

		ms->cnt->auth_fail++;
		ms->cnt->auth_fail_by[RG_AUTH_E_UNKNOWN_KID]++;
		my_ev_auth_fail(ms, rg_auth_err_name(RG_AUTH_E_UNKNOWN_KID),
				ms->login->keywait->detail);
		rg_log("event=auth_fail proto=mysql sess=%llu reason=%s sub=- peer=%s detail=%s",
		       (unsigned long long)ms->id, rg_auth_err_name(RG_AUTH_E_UNKNOWN_KID),
		       ms->peer, rg_logval(ms->login->keywait->detail, d, sizeof(d)));
	}
	if (ms->cnt)
		ms->cnt->sessions_active--;
	my_kill_unregister(&ms->kn);
	if (ms->tgt_counted)
		rg_gw_target_closed(ms->tgt->gt, ms->worker);
	if (ms->counted)
		rg_gw_session_leave(ms->m->svc);
	my_pending_done(ms);
	my_login_free(ms);
	my_relay_free(ms); /* a command still held: its request is abandoned */
	my_ev_free(ms);
	free(ms->lim);
	free(ms->tls_err);
	rg_auth_principal_free(ms->ident);
	my_rx_free(&ms->fs);
	my_rx_free(&ms->bs);
	rg_acc_free(&ms->hold);
}

/* ---- dispatch ----------------------------------------------------------------------------- */

/* Agent bytes. b is NULL for held bytes (always copied). */
void my_fe_process(struct rg_sess *s, const uint8_t *p, size_t n, struct rg_buf *b)
{
	struct my_sess *ms = rg_sess_priv(s);
	struct my_run run = {0};
	struct rg_my_msg m;
	bool in_acc, stop = false;
	int err = 0, r;

	while (!err && !stop) {
		switch (ms->fe) {
		case FE_HANDSHAKE:
		case FE_TLS_RESPONSE:
		case FE_AUTH_SWITCH:
			r = my_rx_next(&ms->fs, &p, &n, ms->login->fe_seq, MY_LOGIN_MSG_MAX, &m,
				       &in_acc);
			if (r < 0) {
				my_violation(s, RG_FE, "login_packet", r);
				goto out;
			}
			if (!r)
				goto out;
			my_fe_login_msg(s, &m, p, n, &stop);
			continue;
		case FE_WAIT_KEYS:
		case FE_WAIT_BE:
			goto hold;
		case FE_RELAY:
			if (ms->fe_paused || ms->appr) /* in flight at most / held for approval */
				goto hold;
			break;
		default:
			goto out;
		}
		r = my_rx_next(&ms->fs, &p, &n, ms->fe_infile ? ms->ring[ms->head].seq : 0,
			       MY_MSG_MAX, &m, &in_acc);
		if (r < 0) {
			my_violation(s, RG_FE, "command_packet", r);
			goto out;
		}
		if (!r)
			goto out;
		my_fe_relay_msg(s, &m, b, in_acc, &run, &err, &stop);
	}
	goto out;
hold:
	/* raw bytes, processed once the login completes or the pause ends; bounded */
	if (n && (ms->hold.len + n > MY_HOLD_MAX || rg_acc_append(&ms->hold, p, n))) {
		my_violation(s, RG_FE, "too_much_ahead", RG_MY_E_TOO_LONG);
		goto out;
	}
	my_appr_held_more(s);
out:
	my_run_flush(s, RG_BE, &run, &err);
	if (ms->rec) /* refusals answered here */
		rg_rec_settle(ms->rec);
	if (err && err != -ESHUTDOWN) /* -ESHUTDOWN: closing already, its ERR queued */
		rg_sess_abort(s);
}

static int my_fe_data(struct rg_sess *s, struct rg_buf *b)
{
	struct my_sess *ms = rg_sess_priv(s);

	if (!b) {
		if (ms->fe != FE_CLOSING) {
			my_fe_goto(ms, FE_CLOSING);
			rg_sess_close(s);
		}
		return 0;
	}
	if (ms->fe == FE_CLOSING)
		return 0;
	ms->cnt->fe_bytes += b->len;
	/* bytes that arrived behind bytes already held keep their order */
	if (ms->hold.len) {
		if (ms->hold.len + b->len > MY_HOLD_MAX || rg_acc_append(&ms->hold, b->data, b->len))
			my_violation(s, RG_FE, "too_much_ahead", RG_MY_E_TOO_LONG);
		else if (ms->appr)
			my_appr_held_more(s);
		else
			my_release_hold(s);
		return 0;
	}
	my_fe_process(s, b->data, b->len, b);
	return 0;
}

static void be_process(struct rg_sess *s, struct rg_buf *b)
{
	struct my_sess *ms = rg_sess_priv(s);
	struct my_run run = {0};
	const uint8_t *p = b->data;
	size_t n = b->len;
	struct rg_my_msg m;
	bool in_acc;
	int err = 0, r;

	ms->cnt->be_bytes += b->len;
	while (!err && (ms->be == BE_HANDSHAKE || ms->be == BE_AUTH || ms->be == BE_PROBE ||
			ms->be == BE_RELAY)) {
		int expect;

		/* runs of whole rows between messages: framed and vetted together (relay.c) */
		if (ms->be == BE_RELAY && n && ms->bs.acc.len == ms->bs.pend) {
			size_t used = my_be_rows(s, b, p, n, &run, &err);

			p += used;
			n -= used;
			if (used)
				continue;
		}
		if (ms->be == BE_HANDSHAKE)
			expect = 0;
		else if (ms->be == BE_AUTH || ms->be == BE_PROBE)
			expect = ms->login->be_seq;
		else
			expect = ms->n ? ms->ring[ms->head].seq : -1;
		r = my_rx_next(&ms->bs, &p, &n, expect,
			       ms->be == BE_RELAY ? MY_MSG_MAX : MY_LOGIN_MSG_MAX, &m, &in_acc);
		if (r < 0) {
			my_violation(s, RG_BE, ms->be == BE_RELAY ? "response" : "login_packet", r);
			break;
		}
		if (!r)
			break;
		if (ms->be != BE_RELAY)
			my_be_login_msg(s, &m);
		else
			my_be_relay_msg(s, &m, b, in_acc, &run, &err);
	}
	my_run_flush(s, RG_FE, &run, &err);
	if (ms->rec) /* an answer ended in this batch: its chunk goes now */
		rg_rec_settle(ms->rec);
	if (err && err != -ESHUTDOWN) /* -ESHUTDOWN: closing already, its ERR queued */
		rg_sess_abort(s);
}

/* The agent's bytes held while logging in or paused, and whole messages still in its
 * accumulator: processed now, in order. */
void my_release_hold(struct rg_sess *s)
{
	struct my_sess *ms = rg_sess_priv(s);
	struct rg_acc h;

	if (ms->fe != FE_RELAY || ms->fe_paused || ms->appr)
		return;
	if (!ms->hold.len) {
		if (ms->fs.acc.len > ms->fs.pend)
			my_fe_process(s, NULL, 0, NULL);
		return;
	}
	h = ms->hold;
	memset(&ms->hold, 0, sizeof(ms->hold));
	my_fe_process(s, h.p, h.len, NULL);
	/* a pause during the replay kept the rest: it was appended to the new hold */
	rg_acc_free(&h);
}

static int my_be_data(struct rg_sess *s, struct rg_buf *b)
{
	struct my_sess *ms = rg_sess_priv(s);

	if (!b) {
		if (ms->lim_ended) /* ringgate ended the target's side: the agent's waits */
			return 0;
		if (ms->be == BE_RELAY || ms->be == BE_DONE) {
			my_be_goto(ms, BE_DONE);
			rg_sess_close(s);
		} else {
			my_upstream_fail(s, "eof", "target closed the connection during login");
		}
		return 0;
	}
	if (ms->be == BE_HANDSHAKE || ms->be == BE_AUTH || ms->be == BE_PROBE ||
	    ms->be == BE_RELAY) {
		be_process(s, b);
		my_release_hold(s);
		if (ms->draining && ms->fe == FE_RELAY && my_relay_idle(ms))
			rg_sess_close(s);
	}
	return 0;
}

/* ---- timers and drain ---------------------------------------------------------------------- */

static void my_timer(struct rg_sess *s)
{
	struct my_sess *ms = rg_sess_priv(s);
	uint64_t now;

	if (ms->fe == FE_WAIT_KEYS) {
		my_keywait_poll(s);
		return;
	}
	if (ms->fe == FE_CLOSING)
		return;
	if (ms->fe == FE_RELAY) {
		(void)my_expiry_timer(s);
		return;
	}
	now = my_mono_ms();
	if (ms->be == BE_CONNECTING && now < ms->accepted_ms + ms->m->login_timeout_ms) {
		my_upstream_fail(s, "connect", "timeout");
		return;
	}
	rg_log("event=login_timeout proto=mysql sess=%llu peer=%s fe_state=%s be_state=%s",
	       (unsigned long long)ms->id, ms->peer, my_fe_names[ms->fe], my_be_names[ms->be]);
	my_close_err(s, fe_err_seq(ms), RG_MY_ER_HANDSHAKE_ERROR, "08S01",
		     "Timeout during login (ringgate)");
}

static void my_drain(struct rg_sess *s)
{
	struct my_sess *ms = rg_sess_priv(s);

	ms->draining = true;
	if (ms->fe != FE_RELAY) {
		my_close_err(s, fe_err_seq(ms), 1053, "08S01", "Server shutdown in progress");
		return;
	}
	if (my_relay_idle(ms))
		rg_sess_close(s);
}

const struct rg_proto_ops rg_mysql_ops = {
    .name = "mysql",
    .sess_size = sizeof(struct my_sess),
    .on_accept = my_accept,
    .on_fe_data = my_fe_data,
    .on_be_data = my_be_data,
    .on_be_connected = my_be_connected,
    .on_timer = my_timer,
    .on_drain = my_drain,
    .on_close = my_close,
};
