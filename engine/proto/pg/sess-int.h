/*
 * sess-int.h: what the three files of one agent's session share (not part of the module's
 * API): the two state machines' states, the session and login structs, and the functions one
 * file calls in another.
 *   session.c  the rg_pg_ops table: accept, close, dispatching both sides' bytes, cancel,
 *              timers and drain; the helpers every part uses (errors, log, forwarding)
 *   login.c    the agent's startup, token and role, then the target: connect, TLS, startup
 *              with the pinned settings, authentication, until the first ReadyForQuery
 *   relay.c    the logged-in session: every message judged (lexing guard, policy), denials
 *              answered in protocol order, the target's messages relayed
 */
#ifndef RG_PROTO_PG_SESS_INT_H
#define RG_PROTO_PG_SESS_INT_H

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
#include "control.h"
#include "pg-int.h"
#include "policy.h"
#include "sqlclass.h"
#include "tls.h"

#define HOLD_MAX (1u << 20) /* agent bytes held after its password, until logged in */
#define DENY_RING 8	    /* denied statements whose answer awaits its ReadyForQuery */
#define NEGOTIATIONS_MAX 2  /* SSLRequest/GSSENCRequest packets before a StartupMessage */
#define TLS_ERR_LEN 200	    /* the TLS error detail buffer, allocated with the first TLS conn */
#define ROWDESC_KEEP 1024   /* an idle session keeps a RowDescription copy up to this size */
#define KEYWAIT_MAX_MS 3000 /* longest a login waits for the JWKS refresh an unknown kid asked */
#define KEYWAIT_POLL_MS 25  /* how often a waiting login looks at the refresh generation */
#define PG_OID_SET_CONFIG 2078u /* pg_catalog.set_config(text, text, bool) */
#define SUB_LOG_LEN 160		/* a token's sub on a log line, escaped (longer: truncated) */

enum pg_fe_state {
	FE_STARTUP = 0, /* awaiting SSLRequest, GSSENCRequest, CancelRequest or StartupMessage */
	FE_TLS_STARTUP, /* TLS negotiated: awaiting StartupMessage or CancelRequest */
	FE_PASSWORD,	/* AuthenticationCleartextPassword sent: awaiting the token */
	FE_WAIT_KEYS,	/* token with an unknown kid kept: awaiting the JWKS refresh it asked */
	FE_WAIT_BE,	/* agent verified; its bytes are held until the target login completes */
	FE_RELAY,	/* logged in: messages go to the target */
	FE_CANCEL,	/* this connection carried a CancelRequest: nothing more is read */
	FE_CLOSING,	/* a FATAL error was queued: flushing, then closing */
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
	struct pg_keywait *keywait;	 /* heap, only in FE_WAIT_KEYS */
	struct sockaddr_storage be_addr; /* the target address being connected to */
	socklen_t be_addrlen;
	unsigned addr_try, addr_count; /* which of the target's addresses, of how many */
	const char *be_mech; /* how the target was logged in to (a literal), for the log */
	uint64_t connect_us; /* CLOCK_MONOTONIC µs of the first connect to the target */
	char user[64];	     /* the agent's startup user, informational, sanitised */
	char db[64];	     /* the startup database (target name), truncated, as sent */
	char *startup_user;  /* the startup user as sent (heap): names the role */
	const char *be_user; /* the upstream role logged in as (config memory) */
	const struct rg_auth_cred *be_cred; /* and its credential */
	size_t nsettings;		    /* name\0value\0 pairs in settings[] */
	char settings[]; /* the agent's settings forwarded (settings.c) until sent */
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
	struct rg_gw_counters *cnt;
	const struct pg_target *tgt;
	struct rg_pg_sess_info si;
	struct rg_identity rid; /* the verified agent as the policy sees it (points into ident) */
	struct rg_request req;	/* who asks, where: every statement's policy question */
	uint64_t id;
	uint64_t accepted_ms; /* CLOCK_MONOTONIC: the login's time limits count from here */
	struct rg_gw_limits *lim; /* scope limits (engine/gateway), NULL when none apply */
	struct pg_mask *mask;  /* inline masking, NULL when the bundle has no mask rules */
	struct pg_appr_hold *appr; /* a statement held for approval, NULL when none */
	struct pg_ev *ev;	   /* the audit trail's per-session side (audit.c), NULL: none */
	struct rg_rec_sess *rec;   /* the session's recording (record.c), NULL: none */
	int64_t token_end_ms; /* CLOCK_REALTIME ms: the session ends as its token expires
			       * (exp + clock skew); 0: the issuer lets sessions outlive tokens */
	uint32_t addr_bucket; /* the client address's pending-login counter (engine/gateway) */
	bool pending;	      /* a login in progress: holds a max_pending_logins slot */
	bool counted;	      /* holds a slot of max_sessions (from the verified token on) */
	bool draining;
	bool key_registered;
	bool is_cancel;	    /* this connection forwards a CancelRequest */
	bool internal;	    /* the catalog thread's own session (login.c internal_login) */
	bool fe_piece_drop; /* the agent's streamed message in progress is being dropped */
	bool rowdesc_valid;
	bool relayed; /* logged in to the target: its end is logged (session_end) */
	bool terminated;  /* the agent sent Terminate */
	bool tgt_counted; /* counted in its target's active sessions (rg_gw_target_opened) */
	char end_state[6]; /* the SQLSTATE of the FATAL that ended it, "" if none */
	uint8_t negotiations;
	uint8_t tx_status; /* last ReadyForQuery status */
	/* the cancel key issued to the agent (the registry holds the target's) */
	uint32_t key_pid;
	uint8_t key_key[4];
	char peer[64];
	struct rg_pg_stream fs, bs;
	struct rg_acc hold;		 /* agent bytes received while FE_WAIT_KEYS / FE_WAIT_BE */
	struct pg_login *login;		 /* StartupMessage .. the target's first ReadyForQuery */
	struct rg_auth_principal *ident; /* the verified agent, at its real size */
	char *tls_err;			 /* [TLS_ERR_LEN], with the first TLS conn of either side */
	struct rg_auth_scram *scram;	 /* heap, only while logging in with SCRAM */
	struct rg_tls_conn *be_tls;
	struct rg_pg_cancel_entry *cancel; /* a CancelRequest connection: the looked-up entry */
	/* relay bookkeeping */
	uint64_t syncs_sent, rfq_recv; /* Query/Sync/FunctionCall forwarded, ReadyForQuery seen */
	uint64_t rt_t0_us; /* CLOCK_MONOTONIC µs the agent's current round trip began, 0: none */
	struct pg_deny_pending *deny;  /* [DENY_RING], while denials await their answer */
	unsigned deny_head, deny_n;
	struct rg_acc rowdesc; /* copy of the latest RowDescription */
	struct rg_pg_msg rowdesc_msg;
};

/*
 * Inline masking of what the target returns (rows.c) for a session whose bundle has mask
 * rules: the statement tracker that gives every DataRow its shape, the session's own mask
 * plan (rebuilt when the result or the bundle changes) and the buffer a masked message is
 * rebuilt in. Allocated at login only for such sessions.
 */
#define PG_MASK_HOLD_MAX (64u << 20) /* a masking session holds messages this large whole */
struct pg_mask {
	struct rg_pg_stmt st;
	struct rg_policy_plan *plan;
	uint64_t plan_serial, plan_gen;
	uint64_t plan_catver;	  /* pg_catalog_version the plan's origins came from (0: none) */
	struct rg_acc plan_cols; /* (table OID, attnum) of each column the plan was built for */
	struct rg_acc out;
	bool paused; /* the tracker asked to stop reading the agent */
	bool alter;	      /* an ALTER, DO or CALL completed: the catalog is read again at 'I' */
	struct pg_cat_hold *cat; /* allocated the first time the session waits for the catalog */
};

/* A session that waited for a catalog read once (catalog.c): while it waits, the target's
 * messages are held here, the first of them already through the tracker and the limits. */
struct pg_cat_hold {
	struct pg_cat_waiter wait;
	struct rg_acc held;
	bool waiting;
	bool be_paused; /* held past PG_CAT_HOLD_PAUSE: the target is not read */
};
#define PG_CAT_HOLD_PAUSE (1u << 20)

/*
 * A statement held for approval (relay.c; its request: engine/approvals): the agent's
 * messages from it on, kept in order while the request waits (the agent is read on, so a
 * hang-up is seen, up to PG_APPR_READ_MAX). Its request's hold is linked into its worker's
 * list (that worker only) until the request ends or the session does.
 */
#define PG_APPR_HOLD_MAX (64u << 20)
#define PG_APPR_READ_MAX (1u << 20) /* past this much held, the agent is not read */
struct pg_appr_hold {
	struct rg_approvals_hold a; /* the request (engine/approvals): id, fingerprint, rule */
	bool parse;	     /* a Parse (else a Query) */
	bool paused;	     /* the agent is not read (more than PG_APPR_READ_MAX held) */
	bool held_only;	     /* nothing ran on the target ahead of it (cancel registry flag) */
	uint64_t seq;	     /* its sync point, as a denial needs it */
	uint64_t gen;	     /* the bundle generation that held it */
	char *parse_name;    /* the Parse's statement name (heap) */
	struct rg_pg_deny d; /* the rule's SQLSTATE, for a denial */
	uint32_t ev_n;	    /* its statement number in the audit trail (0: none) */
	struct rg_acc held; /* the held message first, then what followed */
};

/* A run of bytes of one received buffer forwarded by reference as one send item. */
struct fwd_run {
	struct rg_buf *b;
	size_t off, len;
};

extern const char *const pg_fe_names[];
extern const char *const pg_be_names[];

/* session.c */
void pg_fe_goto(struct pg_sess *ps, enum pg_fe_state to);
void pg_be_goto(struct pg_sess *ps, enum pg_be_state to);
const char *pg_sanitize(const char *in, char *out, size_t cap);
uint64_t pg_login_end(const struct pg_sess *ps);
void pg_login_timer(struct rg_sess *s, uint64_t phase_ms);
void pg_pending_done(struct pg_sess *ps);
char *pg_tls_errbuf(struct pg_sess *ps);
int pg_send_error(struct rg_sess *s, enum rg_side to, const char *severity, const char *sqlstate,
		  const char *msg);
void pg_close_fatal(struct rg_sess *s, const char *sqlstate, const char *msg);
void pg_violation(struct rg_sess *s, enum rg_side from, const char *what, int err);
void pg_upstream_fail(struct rg_sess *s, const char *reason, const char *detail);
void pg_auth_audit(struct pg_sess *ps, enum rg_auth_err e, const char *detail);
void pg_run_flush(struct rg_sess *s, enum rg_side to, struct fwd_run *r, int *err);
void pg_forward(struct rg_sess *s, enum rg_side to, struct fwd_run *r, struct rg_buf *b,
		const uint8_t *p, size_t n, bool in_acc, int *err);
void pg_scram_free(struct pg_sess *ps);
void pg_keywait_free(struct pg_sess *ps);
void pg_login_free(struct pg_sess *ps);
void pg_start_cancel(struct rg_sess *s, const struct rg_pg_startup *su);

/* login.c */
void pg_bad_version(struct rg_sess *s, const struct rg_pg_startup *su);
int pg_fe_startup_packet(struct rg_sess *s, const struct rg_pg_startup *su, size_t rest);
void pg_auth_fail(struct rg_sess *s, enum rg_auth_err e, const char *detail);
void pg_keywait_poll(struct rg_sess *s);
void pg_fe_password(struct rg_sess *s, const struct rg_pg_msg *m);
void pg_be_connected(struct rg_sess *s, int err);
bool pg_pinned_setting_moved(struct rg_sess *s, const struct rg_pg_msg *m);
bool pg_expiry_timer(struct rg_sess *s);
void pg_be_login_msg(struct rg_sess *s, const struct rg_pg_msg *m);
void pg_be_ssl_answer(struct rg_sess *s, struct rg_buf *b);

/* relay.c: the request ended (st: approved, denied, expired, withdrawn): release or deny the
 * held statement, then relay what followed it. */
void pg_appr_release(struct rg_sess *s, enum rg_appr_status st, const char *by,
		     const char *reason);
void pg_appr_free(struct rg_sess *s);

/* audit.c: the session's records in the audit trail (no-ops without one) */
void pg_ev_auth_ok(struct pg_sess *ps);
void pg_ev_auth_fail(struct pg_sess *ps, const char *reason, const char *detail);
void pg_ev_session_start(struct pg_sess *ps, const char *role, bool tls, const char *mech);
void pg_ev_session_end(struct pg_sess *ps, const char *reason);
void pg_ev_free(struct pg_sess *ps);
void pg_ev_limit(struct pg_sess *ps, const char *limit, const char *value, uint64_t count,
		 const char *id);
void pg_ev_violation(struct pg_sess *ps, const char *side, const char *what, const char *err);
/* The trail cannot be written and the config fails closed: true with d filled (58030). */
bool pg_ev_refuse(struct pg_sess *ps, struct rg_pg_deny *d);
/* A Query ('Q') or Parse ('P') judged: its record; returns its number in the session. seq: the
 * sync point whose ReadyForQuery ends a Query. */
uint32_t pg_ev_stmt(struct pg_sess *ps, char kind, const char *name, size_t nlen,
		    const char *sql, size_t len, enum pg_verdict v, const struct pg_judgement *j,
		    const struct rg_pg_deny *d, const char *approval, uint64_t seq);
void pg_ev_bind(struct pg_sess *ps, const struct rg_pg_msg *m, const struct rg_pg_bind *bd);
void pg_ev_execute(struct pg_sess *ps, uint64_t seq);
void pg_ev_function_call(struct pg_sess *ps, uint32_t oid, bool denied,
			 const struct rg_pg_deny *d, uint64_t seq);
/* A held statement's outcome; approved (runs), a Query is then in flight, a Parse's name is
 * its statement's again. */
void pg_ev_approval(struct pg_sess *ps, uint32_t n, const char *id, const char *outcome,
		    const char *by, const char *reason, uint64_t seq, bool runs,
		    const char *parse_name);
/* Every target message while relaying, before it is handled (ps->ev set). */
void pg_ev_be(struct pg_sess *ps, const struct rg_pg_msg *m);
void pg_ev_fe_bytes(struct pg_sess *ps, size_t n);
/* DataRows forwarded as one run (relay.c pg_be_rows) */
void pg_ev_rows(struct pg_sess *ps, uint32_t rows, size_t bytes);
void pg_ev_masked(struct pg_sess *ps, uint32_t detectors); /* a row rewritten by them */

/* record.c: the session's recording (each but pg_rec_start only with ps->rec set) */
void pg_rec_start(struct pg_sess *ps);
void pg_rec_out(struct pg_sess *ps, const uint8_t *p, size_t n); /* bytes to the agent */
void pg_rec_stmt(struct pg_sess *ps, uint32_t n);
void pg_rec_ready(struct pg_sess *ps); /* a ReadyForQuery goes out next */
void pg_rec_end(struct pg_sess *ps, const char *reason);

/* relay.c */
bool pg_mask_start(struct pg_sess *ps);
void pg_mask_free(struct pg_sess *ps);
bool pg_mask_fe(struct rg_sess *s, const struct rg_pg_msg *m);
bool pg_limit_exceeded(struct rg_sess *s, enum rg_limit_kind k, uint64_t count);
bool pg_be_relay_piece(struct rg_sess *s, const struct rg_pg_sevent *ev, struct fwd_run *run,
		       struct rg_buf *b, int *err);
void pg_deny_forward(struct rg_sess *s, const char *parse_name, uint64_t seq,
		     const struct rg_pg_deny *d, struct fwd_run *run, int *err);
bool pg_function_call_refused(struct rg_sess *s, const uint8_t *body, size_t n,
			      struct rg_pg_deny *d);
bool pg_fe_relay_msg(struct rg_sess *s, const struct rg_pg_msg *m, struct fwd_run *run,
		     struct rg_buf *b, bool in_acc, int *err);
void pg_drain_if_idle(struct rg_sess *s);
bool pg_be_relay_msg(struct rg_sess *s, struct rg_pg_msg *m, struct fwd_run *run, struct rg_buf *b,
		     bool in_acc, int *err);
bool pg_be_rows(struct rg_sess *s, struct rg_buf *b, size_t off, struct fwd_run *run, size_t *used,
		int *err);
void pg_trim_idle(struct pg_sess *ps);

#endif /* RG_PROTO_PG_SESS_INT_H */
