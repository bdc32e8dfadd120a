/*
 * my-int.h: what the files of the MySQL session share (not the module's API): the module
 * object, its targets and listeners, the two state machines' states, the session and login
 * structs, and the functions one file calls in another.
 *   gw.c       the module as main.c starts it (struct rg_gw_proto rg_mysql_proto): targets
 *              (with the pinned RSA key), listeners (TLS server context)
 *   session.c  the rg_mysql_ops table: accept, close, both sides' bytes framed into whole
 *              messages and dispatched, timers, drain; helpers every part uses
 *   login.c    the agent's handshake, TLS and token (mysql_clear_password), then the
 *              target's: connect, handshake, TLS, authentication with the target's secret
 *   relay.c    the logged-in session: commands framed and forwarded, each response followed
 *              to its end, prepared statement ids and COM_SET_OPTION tracked; the seams where
 *              statement policy and row masking plug in (my_judge_*, my_row_hook)
 *   audit.c    what the session leaves in the audit trail (engine/evidence's session events)
 *   mask.c     result columns, the session's mask plan, rows rewritten by mask rules
 * Never: a target's secret or an agent's token in a log line or in a byte to the agent.
 */
#ifndef RG_PROTO_MYSQL_MY_INT_H
#define RG_PROTO_MYSQL_MY_INT_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "approvals.h"
#include "auth.h"
#include "config.h"
#include "core.h"
#include "evidence.h"
#include "gateway.h"
#include "mysql-wire.h"
#include "mysql.h"
#include "policy.h"
#include "tls.h"

#define MY_MSG_MAX (64ull << 20)   /* a message (payload) held whole: larger ends the session */
#define MY_LOGIN_MSG_MAX (64u << 10) /* any agent message before its token is verified */
#define MY_HOLD_MAX (1u << 20)	     /* agent bytes held while logging in / while paused */
#define MY_INFLIGHT 32		     /* commands whose response is awaited (pipelining) */
#define MY_STMTS_MAX 16384	     /* prepared statements tracked per session */
#define MY_TLS_ERR_LEN 200
#define MY_KEYWAIT_MAX_MS 3000
#define MY_KEYWAIT_POLL_MS 25
#define MY_SUB_LOG_LEN 160
#define MY_SERVER_VERSION "5.5.5-10.11.0-ringgate"
#define MY_CHARSET_DEFAULT 45 /* utf8mb4_general_ci */

/*
 * Capabilities ringgate offers the agent (plus CLIENT_SSL with a TLS listener). The agent's
 * answer, masked with these, is what the session runs with on both sides: the target gets
 * exactly those command-phase bits, so every packet relays unchanged. CLIENT_MYSQL stays set:
 * no MariaDB extended capabilities (docs/mysql.md, "Capabilities").
 */
#define MY_CAPS_OFFER                                                                              \
	(RG_MY_CLIENT_LONG_PASSWORD | RG_MY_CLIENT_FOUND_ROWS | RG_MY_CLIENT_LONG_FLAG |           \
	 RG_MY_CLIENT_CONNECT_WITH_DB | RG_MY_CLIENT_LOCAL_FILES | RG_MY_CLIENT_IGNORE_SPACE |      \
	 RG_MY_CLIENT_PROTOCOL_41 | RG_MY_CLIENT_INTERACTIVE | RG_MY_CLIENT_IGNORE_SIGPIPE |       \
	 RG_MY_CLIENT_TRANSACTIONS | RG_MY_CLIENT_SECURE_CONNECTION |                              \
	 RG_MY_CLIENT_MULTI_STATEMENTS | RG_MY_CLIENT_MULTI_RESULTS |                              \
	 RG_MY_CLIENT_PS_MULTI_RESULTS | RG_MY_CLIENT_PLUGIN_AUTH | RG_MY_CLIENT_CONNECT_ATTRS |    \
	 RG_MY_CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | RG_MY_CLIENT_SESSION_TRACK |                \
	 RG_MY_CLIENT_DEPRECATE_EOF)
/* Bits that change the layout of command-phase packets: a target lacking one the agent
 * negotiated cannot be relayed unchanged (the login is refused). */
#define MY_CAPS_LAYOUT                                                                             \
	(RG_MY_CLIENT_PROTOCOL_41 | RG_MY_CLIENT_MULTI_RESULTS | RG_MY_CLIENT_PS_MULTI_RESULTS |   \
	 RG_MY_CLIENT_SESSION_TRACK | RG_MY_CLIENT_DEPRECATE_EOF)
/* Bits that only matter during the connection phase: each side's are its own. */
#define MY_CAPS_LOGIN                                                                              \
	(RG_MY_CLIENT_SSL | RG_MY_CLIENT_PLUGIN_AUTH | RG_MY_CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | \
	 RG_MY_CLIENT_CONNECT_ATTRS | RG_MY_CLIENT_CONNECT_WITH_DB |                               \
	 RG_MY_CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS | RG_MY_CLIENT_SSL_VERIFY_SERVER_CERT |         \
	 RG_MY_CLIENT_REMEMBER_OPTIONS)

/* ---- module objects (gw.c) -------------------------------------------------------------- */

struct my_target {
	const struct rg_config_target *cfg;
	const struct rg_gw_target *gt;
	char *pem; /* server_public_key_file's contents, NULL: none */
	size_t pem_len;
};

struct rg_mysql {
	const struct rg_config *cfg;
	struct rg_gw *svc;
	unsigned workers;
	struct my_target *targets;
	size_t n_targets;
	uint32_t password_timeout_ms, login_timeout_ms;
	struct rg_myclass **cls; /* [workers]: the lexing guard's classifier (policy.c) */
	struct rg_gw_counters *cnt; /* [workers]: /metrics' protocol="mysql" */
	/* the audit trail (audit.c; NULL: none): set once before the workers start */
	struct rg_audit *audit;
	struct rg_events *events;
	bool ev_keep;	      /* audit.literals: keep: EXECUTE parameters are recorded */
	struct rg_rec *rec;   /* session recordings (record.c; NULL: none) */
	bool audit_fail_open; /* audit.on_error: allow */
	struct rg_approvals *approvals; /* held statements' requests (NULL: refused instead) */
};

struct my_listener {
	struct rg_mysql *m;
	const struct rg_config_listener *cfg;
	struct rg_tls_ctx *tls; /* NULL: plaintext (loopback development only, config.c) */
	bool plaintext_ok;	/* insecure_plaintext on loopback: tokens accepted without TLS */
};

const struct my_target *my_target_by_name(const struct rg_mysql *m, const char *name, size_t len);

/* ---- session ------------------------------------------------------------------------------ */

enum my_fe_state {
	FE_HANDSHAKE = 0, /* Handshake v10 sent: awaiting SSLRequest or HandshakeResponse41 */
	FE_TLS_RESPONSE,  /* TLS negotiated: awaiting HandshakeResponse41 */
	FE_AUTH_SWITCH,	  /* AuthSwitchRequest to mysql_clear_password sent: awaiting the token */
	FE_WAIT_KEYS,	  /* token with an unknown kid kept: awaiting the JWKS refresh it asked */
	FE_WAIT_BE,	  /* agent verified; its bytes are held until the target login completes */
	FE_RELAY,	  /* logged in: commands go to the target */
	FE_CLOSING,	  /* an ERR was queued: flushing, then closing */
};

enum my_be_state {
	BE_NONE = 0,   /* no target connection yet */
	BE_CONNECTING, /* connect in flight */
	BE_HANDSHAKE,  /* connected: awaiting the server's Handshake v10 */
	BE_AUTH,       /* HandshakeResponse41 sent: awaiting OK, ERR, AuthSwitch, AuthMoreData */
	BE_PROBE,      /* logged in; ringgate's own SELECT of the session's sql_mode and
			* character set in flight (how the target will lex statements) */
	BE_RELAY,      /* logged in: responses go to the agent */
	BE_DONE,       /* the target side is finished */
};

/* Where one command's response is (relay.c). */
enum my_resp {
	R_FIRST = 0,	 /* OK, ERR, LOCAL INFILE request, or a column count */
	R_COLS,		 /* column definitions still to come (cols_left) */
	R_COLS_EOF,	 /* the EOF after the column definitions (no DEPRECATE_EOF) */
	R_ROWS,		 /* rows until EOF / OK-as-EOF / ERR */
	R_PREP_FIRST,	 /* COM_STMT_PREPARE_OK or ERR */
	R_PREP_PARAMS,	 /* parameter definitions */
	R_PREP_PAR_EOF,	 /* their EOF */
	R_PREP_COLS,	 /* column definitions */
	R_PREP_COL_EOF,	 /* their EOF */
	R_FIELDS,	 /* COM_FIELD_LIST: definitions until EOF or ERR */
	R_SIMPLE,	 /* one OK, EOF or ERR */
	R_ANY,		 /* one packet of any kind (COM_STATISTICS' string) */
	R_LOCAL,	 /* answered by ringgate itself (err below), when it reaches the head */
};

/* A denial or a refusal answered by ringgate: an ERR packet. */
struct my_deny {
	uint16_t code;
	char sqlstate[6];
	char msg[256];
};

struct my_cmd {
	uint8_t cmd;	     /* enum rg_my_com */
	uint8_t resp;	     /* enum my_resp */
	uint8_t seq;	     /* the next packet of this exchange must carry this id */
	bool binary;	     /* rows are binary-protocol (EXECUTE, FETCH) */
	bool cursor;	     /* EXECUTE: asks for a cursor (its FETCHes use its columns) */
	uint16_t option;     /* COM_SET_OPTION's value */
	uint16_t nparams;    /* PREPARE: from PREPARE_OK */
	uint64_t left;	     /* definitions still to come */
	uint32_t ncols;	     /* PREPARE: columns after the parameters */
	struct my_deny *err; /* R_LOCAL: the answer (heap) */
	char *text;	     /* PREPARE: the statement's text, for judging it again (heap) */
	uint32_t tlen;
	uint64_t gen;	     /* PREPARE: the bundle generation that judged it */
	uint64_t t0_us;	     /* CLOCK_MONOTONIC when it went to the target */
	uint32_t ev_n;	     /* its statement number in the audit trail, 0: not a statement */
	uint32_t ev_plen;
	uint8_t *ev_params; /* EXECUTE under audit.literals: keep: its parameters (heap) */
	uint32_t stmt_id;    /* EXECUTE, FETCH: the statement (masking: a cursor's columns) */
};

/* A prepared statement the target created for this session (relay.c). */
struct my_stmt {
	uint32_t id;
	uint16_t nparams;
	uint16_t ncols;
	char *text;   /* its text (heap), judged again at EXECUTE after a reload */
	uint32_t tlen;
	uint64_t gen; /* the bundle generation that judged it */
	uint32_t ev_n;	   /* the audit trail's number of its PREPARE */
	uint8_t *ev_types; /* the last EXECUTE's parameter types (2 per parameter, heap) */
	uint8_t *ev_ld;	   /* parameters sent with SEND_LONG_DATA since (bitmap, heap) */
};

/* Whole-message framing over received chunks: a message split across chunks is copied
 * into acc (only it: the chunk's bytes after it are used in place), else it is used in
 * place. */
struct my_rx {
	struct rg_acc acc;
	size_t pend; /* bytes at the front of acc handed out last time: dropped next time */
};

struct my_keywait {
	struct rg_auth_verifier *v;
	uint64_t gen;
	uint64_t deadline;
	char detail[sizeof(((struct rg_auth_fail *)0)->detail)];
	size_t len;
	char token[];
};

/* What only the login needs: from accept to the target's OK, then freed. */
struct my_login {
	uint8_t scramble[RG_MY_SCRAMBLE_LEN]; /* ours, in the handshake to the agent */
	uint8_t fe_seq;			      /* the id of ringgate's next packet to the agent */
	uint8_t be_seq;			      /* the id of the next packet with the target */
	uint8_t charset;
	uint8_t be_switches;
	uint32_t max_packet;
	uint64_t agent_caps; /* as the agent sent them */
	char user[65];	     /* the handshake's user: names the target */
	char db[65];	     /* the handshake's database, "" if none */
	bool has_db;
	uint8_t *attrs; /* the agent's connect attributes, forwarded (heap) */
	size_t attrs_len;
	struct my_keywait *keywait;
	struct sockaddr_storage be_addr;
	socklen_t be_addrlen;
	unsigned addr_try, addr_count;
	uint64_t connect_us;
	uint8_t be_scramble[RG_MY_SCRAMBLE_MAX];
	size_t be_scramble_len;
	uint32_t be_conn_id; /* the target's connection id (its handshake) */
	char be_plugin[40]; /* the method the target asked for last */
	char be_version[64];
	uint8_t *ok;	    /* the target's OK to the login, told the agent after the probe */
	size_t ok_len;
	unsigned probe_step; /* messages of the probe's answer read so far */
	char probe_mode[512], probe_charset[64];
};

/* A plain SQL KILL (kill.c). */
struct my_kill {
	bool is_kill; /* the text starts with the word KILL (plain or not) */
	bool query, hard, soft;
	uint32_t id;
};

/* A logged-in session in the connection-id registry (kill.c), inside its struct my_sess. */
struct my_kill_node {
	struct my_kill_node *prev, *next;
	uint32_t conn_id;     /* ringgate's, as the agent saw it */
	uint32_t upstream_id; /* the target's, from its handshake */
	const void *target;   /* the struct my_target */
	uint8_t ident[32];    /* digest of the identity (iss, sub) */
	unsigned worker;      /* the session's worker and id: a KILL QUERY withdraws what it */
	uint64_t sess_id;     /* holds for approval (engine/approvals) */
	bool linked;
};


struct my_sess {
	enum my_fe_state fe;
	enum my_be_state be;
	struct my_listener *l;
	struct rg_mysql *m;
	const struct my_target *tgt;
	uint64_t id;
	uint64_t accepted_ms;
	int64_t token_end_ms; /* CLOCK_REALTIME ms the session ends (token exp), 0: never */
	uint32_t addr_bucket;
	uint32_t conn_id; /* the connection id the agent sees (ringgate's) */
	unsigned worker;
	bool pending, counted, tgt_counted, relayed, fe_tls, quit, draining, multi_stmts;
	bool fe_infile; /* the agent sends a LOCAL INFILE file (up to an empty packet) */
	bool fe_paused; /* ringgate paused the agent: too many commands in flight */
	uint64_t caps;	/* the session's command-phase capabilities (both sides) */
	char peer[64];
	struct my_rx fs, bs;
	struct rg_acc hold; /* agent bytes not yet processed (login, pause) */
	struct my_login *login;
	struct rg_auth_principal *ident;
	char *tls_err;
	struct rg_tls_conn *be_tls;
	struct my_cmd ring[MY_INFLIGHT];
	unsigned head, n;
	struct my_stmt *stmts;
	size_t nstmts, capstmts;
	uint32_t last_stmt; /* the last statement prepared (MariaDB's id 0xffffffff) */
	bool have_last_stmt;
	struct my_kill_node kn; /* in the connection-id registry while logged in */
	/* policy (policy.c): who asks, and how the target lexes this session's text */
	struct rg_identity rid;
	struct rg_request req;
	struct rg_my_lexing lex;
	struct rg_gw_counters *cnt; /* this worker's (m->cnt) */
	struct my_ev *ev;	    /* the audit trail's side, from the verified token on */
	const char *end_reason;	    /* session_end's reason when not the close's (static) */
	struct my_mask *mask; /* masking (mask.c): NULL until a result is masked */
	struct rg_rec_sess *rec; /* the session's recording (record.c), NULL: none */
	struct my_appr *appr; /* a command held for approval (relay.c), NULL when none */
	struct rg_gw_limits *lim; /* scope limits (decided at login), NULL when none apply */
	uint8_t lim_ended; /* a time limit ended the target's session between commands: its kind
			    * + 1 (my_limit_between), 0: none */
};

/*
 * A command held for approval (relay.c; its request: engine/approvals): a copy of it, and
 * what its release needs. While it waits, the agent's later bytes wait in the session's hold
 * (read on, so a hang-up is seen, up to MY_APPR_READ_MAX; then the agent is not read).
 */
#define MY_APPR_READ_MAX (256u << 10)
struct my_appr {
	struct rg_approvals_hold a; /* the request: id, fingerprint, rule */
	uint8_t *msg;		    /* the command as sent (headers included, heap) */
	size_t len;
	uint8_t cmd;	  /* COM_QUERY, COM_STMT_PREPARE or COM_STMT_EXECUTE */
	uint8_t seq;	  /* its answer's first sequence id */
	uint64_t gen;	  /* the bundle generation that held it */
	uint32_t ev_n;	  /* its statement number in the audit trail (0: none) */
	struct my_deny d; /* what a denial of it carries */
	bool paused;	  /* the agent is not read (more than MY_APPR_READ_MAX behind it) */
};

/* A run of bytes of one received buffer forwarded by reference as one send item. */
struct my_run {
	struct rg_buf *b;
	size_t off, len;
};

extern const char *const my_fe_names[];
extern const char *const my_be_names[];

/* policy.c */
enum my_verdict {
	MY_ALLOW = 0,
	MY_DENY, /* d filled */
	MY_HOLD, /* require_approval with approvals available: d says what a denial carries */
};
/* What decided a statement, for its audit record. */
struct my_judgement {
	enum rg_gw_verdict v; /* the bundle's */
	const char *rule;     /* the deciding rule (valid until the worker's next judgement) */
	const char *shadow;
	const char *guard; /* ringgate's own refusal whatever the rules say ("lexing_guard") */
	/* MY_HOLD: the rule's approval terms (valid until the worker's next judgement) */
	const char *approval_group;
	int approval_scope; /* enum rg_approval_scope */
	uint32_t approval_ttl_s, approval_expire_s;
};
void my_policy_session(struct my_sess *ms);
/* The session's lexing state from the probe's answer and the target's version string; false
 * (why filled) when the target lexes in a way the classifier does not follow. */
bool my_policy_lexing(struct my_sess *ms, const char *version, const char *sql_mode,
		      const char *charset, char *why, size_t whylen);
enum my_verdict my_judge_text(struct my_sess *ms, const uint8_t *sql, size_t len, uint64_t *gen,
			      struct my_deny *d, struct my_judgement *j);
uint64_t my_policy_gen(const struct my_sess *ms);
bool my_policy_hidden_kill(struct my_sess *ms, const uint8_t *sql, size_t len);
void my_policy_free(struct rg_mysql *m);

/* session.c */
uint64_t my_mono_ms(void);
uint64_t my_mono_us(void);
int64_t my_wall_ms(void);
void my_fe_goto(struct my_sess *ms, enum my_fe_state to);
void my_be_goto(struct my_sess *ms, enum my_be_state to);
const char *my_sub(const struct my_sess *ms, char *out, size_t cap);
char *my_tls_errbuf(struct my_sess *ms);
void my_login_timer(struct rg_sess *s, uint64_t phase_ms);
void my_pending_done(struct my_sess *ms);
int my_send_err(struct rg_sess *s, uint8_t seq, uint16_t code, const char *state, const char *msg);
void my_close_err(struct rg_sess *s, uint8_t seq, uint16_t code, const char *state,
		  const char *msg);
void my_violation(struct rg_sess *s, enum rg_side from, const char *what, int err);
void my_upstream_fail(struct rg_sess *s, const char *reason, const char *detail);
void my_run_flush(struct rg_sess *s, enum rg_side to, struct my_run *r, int *err);
void my_forward(struct rg_sess *s, enum rg_side to, struct my_run *r, struct rg_buf *b,
		const uint8_t *p, size_t n, bool copy, int *err);
void my_login_free(struct my_sess *ms);
void my_fe_process(struct rg_sess *s, const uint8_t *p, size_t n, struct rg_buf *b);
void my_release_hold(struct rg_sess *s);
/* Frame the next whole message: 1 (m set; *in_acc: its bytes are in rx's acc), 0 (all of
 * *pp consumed, more needed), <0 (enum rg_my_err, or -ENOMEM). */
int my_rx_next(struct my_rx *rx, const uint8_t **pp, size_t *pn, int expect_seq, uint64_t max,
	       struct rg_my_msg *m, bool *in_acc);
void my_rx_free(struct my_rx *rx);
/* The payload of a framed message, gathered when split into packets (*heap then set:
 * free it). NULL when out of memory. */
const uint8_t *my_msg_payload(const struct rg_my_msg *m, uint8_t **heap);

/* login.c */
int my_fe_send_handshake(struct rg_sess *s);
void my_fe_login_msg(struct rg_sess *s, const struct rg_my_msg *m, const uint8_t *rest,
		     size_t nrest, bool *stop);
void my_keywait_poll(struct rg_sess *s);
void my_keywait_free(struct my_sess *ms);
void my_be_connected(struct rg_sess *s, int err);
void my_be_login_msg(struct rg_sess *s, const struct rg_my_msg *m);
bool my_expiry_timer(struct rg_sess *s);

/* kill.c: 1 = a plain KILL (out->id), 0 = not one (out->is_kill: it still starts with
 * KILL). my_kill_write: the statement for the target, or -1. */
int my_kill_parse(const uint8_t *sql, size_t n, struct my_kill *out);
int my_kill_write(const struct my_kill *k, uint32_t upstream_id, char *out, size_t cap);
void my_identity_digest(const struct rg_auth_principal *p, uint8_t out[32]);
void my_kill_register(struct my_kill_node *k);
void my_kill_unregister(struct my_kill_node *k);
/* The upstream id (and the worker and session id) of ringgate connection conn_id if it is a
 * session on target of the same identity digest (any thread). */
bool my_kill_lookup(uint32_t conn_id, const void *target, const uint8_t ident[32],
		    uint32_t *upstream_id, unsigned *worker, uint64_t *sess_id);

/* audit.c: records of the session (no-ops without a trail or before the token verified) */
void my_ev_auth_ok(struct my_sess *ms);
void my_ev_auth_fail(struct my_sess *ms, const char *reason, const char *detail);
void my_ev_session_start(struct my_sess *ms, const char *user, bool tls, const char *method);
void my_ev_session_end(struct my_sess *ms, const char *reason);
void my_ev_free(struct my_sess *ms);
void my_ev_violation(struct my_sess *ms, const char *side, const char *what, const char *err);
/* True (d filled) when the trail cannot be written and statements must be refused. */
bool my_ev_refuse(struct my_sess *ms, struct my_deny *d);
/* A statement: kind 'Q' query, 'P' prepare, 'X' execute (prepared: its PREPARE's n).
 * Returns its number n (0: not recorded). */
uint32_t my_ev_stmt(struct my_sess *ms, char kind, const uint8_t *sql, size_t len,
		    uint32_t prepared, const struct my_judgement *j, const struct my_deny *d,
		    const char *approval);
/* A held command's request ended (outcome: approved, denied, expired, withdrawn, ...). */
void my_ev_approval(struct my_sess *ms, uint32_t n, const char *id, const char *outcome,
		    const char *by, const char *reason);
/* A scope limit ended the session. */
void my_ev_limit(struct my_sess *ms, const char *limit, const char *value, uint64_t count,
		 const char *id);
/* COM_STMT_EXECUTE p[0..n) of st: its parameters onto c (audit.literals: keep). */
void my_ev_params(struct my_sess *ms, struct my_cmd *c, struct my_stmt *st, const uint8_t *p,
		  size_t n);
/* COM_STMT_SEND_LONG_DATA p[0..n): that parameter's value is not in the next EXECUTE. */
void my_ev_long_data(struct my_sess *ms, const uint8_t *p, size_t n);
/* A target message of the head command c (after it was forwarded): rows, bytes, errors. */
void my_ev_be(struct my_sess *ms, const struct my_cmd *c, const struct rg_my_msg *m,
	      enum rg_my_kind k);
void my_ev_fe(struct my_sess *ms, size_t bytes);
/* rows rows of the head command's result, bytes on the wire, forwarded as one run (what
 * my_ev_be counts for each). */
void my_ev_rows(struct my_sess *ms, uint32_t rows, size_t bytes);
/* c's response is complete (ring_pop): its stmt_end, the latency histogram. */
void my_ev_cmd_end(struct my_sess *ms, struct my_cmd *c);
/* Masking (my_row_hook): one row of the head command rewritten; hit: detectors' bits. */
void my_ev_masked(struct my_sess *ms, uint32_t hit);
void my_ev_stmt_free(struct my_stmt *st);
/* mask.c: the columns of each result as they stream by, then its rows. */
struct my_mask;
/* Rows rewritten by mask rules in a session, for the audit (det: by enum rg_detector, a
 * row counted once per detector that changed it; det_hit: bits 1u << detector, bit 31: a
 * column rule). */
struct my_mask_counts {
	uint64_t rows;
	uint64_t det[32];
	uint32_t det_hit;
};
const struct my_mask_counts *my_mask_counts(const struct my_sess *ms);
bool my_mask_string_type(uint8_t type);
/* Whether detectors look at a column's values: string types in a text character set (binary
 * strings, BLOB/BINARY/VARBINARY and binary expressions, are left to column rules; JSON is
 * text whatever its character set says). */
bool my_mask_detect_column(uint8_t type, uint16_t charset);
int my_mask_cols_begin(struct my_sess *ms, uint64_t ncols);
/* One ColumnDefinition41 of the result: 0, or -ENOMEM. One it cannot read leaves the
 * result's columns unknown (its rows then fail closed while mask rules are in force). */
int my_mask_col(struct my_sess *ms, const uint8_t *p, size_t n);
/* The result just described is an EXECUTE's that opened a cursor: FETCH rows of stmt use
 * its columns. */
int my_mask_cursor_keep(struct my_sess *ms, uint32_t stmt);
void my_mask_stmt_closed(struct my_sess *ms, uint32_t stmt);
/* A row of c's result: 0 with *out NULL (forward it as it is), 0 with *out set (send that
 * packet instead), <0 (fail closed: enum rg_my_err or -ENOMEM). */
int my_mask_row(struct my_sess *ms, const struct my_cmd *c, const struct rg_my_msg *m,
		const struct rg_acc **out);
/* Pure: rebuild a parsed row with the masker's fields as one packet (seq) appended to out. */
int my_mask_rebuild(bool binary, const uint8_t *types, uint32_t ncols, const uint8_t *p, size_t n,
		    const struct rg_my_field *f, const struct rg_mask_out_field *o, uint8_t seq,
		    struct rg_acc *out);
/*
 * The row masker of one result, without a session (mask.c; tests, fuzz, bench): the result's
 * column types and whether detectors look at each (my_mask_detect_column), scratch grown
 * to the widest result, the rewritten row. my_rows_shape sets ncols (types and detect are
 * then the caller's to fill), my_rows_plan notes whether plan has a column rule on one of
 * them (then no run proves a row).
 * my_rows_mask: one row's payload p[0..n) (npackets: how many packets it came in; seq: its
 * first sequence id) under plan: 1 rewritten (out: the packet, header included; hit: its
 * detectors), 0 unchanged (forward it as it is), <0 fail closed (enum rg_my_err, -ENOMEM).
 * my_rows_run: a run (rg_my_rowrun_frame) about to be proven: returns the bytes of its rows
 * that read with the columns (the reader's checks: the first that does not and what
 * follows are the per-message path's), 0 when out of memory. my_rows_clear proves only
 * those. It copies the rows' text fields into a scan buffer, each followed by zeros, as it
 * reads them (a MySQL row's length bytes sit right after the field before them, and a
 * length of 64 is '@': scanned in place they would look like parts of values).
 * my_rows_clear: from the row of that run at off, the rows my_rows_mask would certainly
 * return 0 for: where they end (off: the row at off is my_rows_mask's) and *nrows. Proven
 * by one prefilter pass over their text fields in the scan buffer (rg_policy_mask_run_clear:
 * conditions without their negative terms, so it proves fewer rows than the field checks
 * would, never more), and where that pass finds a possible hit in the first row, row by row
 * with the checks my_rows_mask makes of each text field (no field list, no masker call) up
 * to the first row that may need masking. A column rule on any column (col_rules): nothing
 * is proven.
 */
struct my_rows {
	uint32_t ncols;
	uint8_t *types;	 /* [ncols] enum rg_my_type */
	uint8_t *detect; /* [ncols] 1: detectors look at its values */
	bool col_rules;	 /* the plan has a column rule on one of the columns */
	struct rg_my_field *rf;
	struct rg_mask_field *f;
	uint32_t cap;
	struct rg_acc out;
	uint32_t hit;
	/* the run being proven (my_rows_run): its rows' starts ([nrun + 1]); the text fields
	 * detectors look at copied into scan, each followed by zero bytes: row j's are
	 * fspan[fidx[j] .. fidx[j + 1]) (where each starts), and end at send[j] */
	bool run_ok;
	const uint8_t *p;
	uint32_t nrun;
	size_t *rstart, *send, *fidx, *fspan, rcap, ecap, icap, fcap;
	uint8_t *scan;
	size_t slen, scap;
};
int my_rows_shape(struct my_rows *r, uint32_t ncols);
void my_rows_plan(struct my_rows *r, const struct rg_mask_plan *plan);
int my_rows_mask(struct my_rows *r, struct rg_policy_ctx *ctx, const struct rg_mask_plan *plan,
		 bool binary, const uint8_t *p, size_t n, uint32_t npackets, uint8_t seq);
size_t my_rows_run(struct my_rows *r, bool binary, const struct rg_my_rowrun *rr);
size_t my_rows_clear(struct my_rows *r, const struct rg_policy_ctx *ctx,
		     const struct rg_mask_plan *plan, const struct rg_my_rowrun *rr, size_t off,
		     uint32_t *nrows);
void my_rows_free(struct my_rows *r);
/* The run path's view of the session (relay.c my_be_rows): 0, no mask rules in force (*ctx
 * NULL: rows are forwarded as they are); 1, the rows of c's result are masked with *rows
 * under *plan of *ctx, as my_mask_row would mask them now; -1, my_mask_row must see the next
 * row (a new result or bundle, unknown columns, a column rule on a column). Asked again
 * after every row my_mask_row sees: a call into the policy may switch the worker to a new
 * bundle and free the old context; *gen: the bundle generation of the plan. */
int my_mask_rows_ready(struct my_sess *ms, const struct my_cmd *c, struct rg_policy_ctx **ctx,
		       const struct rg_mask_plan **plan, struct my_rows **rows, uint64_t *gen);

/*
 * An ERR packet from the target (payload p[0..n), sequence id seq): its message goes
 * through the detector rules plan enables (column rules cannot apply: the text names no
 * column; docs/mysql.md, "Errors and warnings"); a message a "null" rule hits reads
 * "[masked]". 1: the rewritten packet (header included, the code, SQLSTATE marker and
 * SQLSTATE kept byte for byte) appended to out, *hit its detectors; 0: unchanged (also a
 * packet with no message); <0: enum rg_my_err or -ENOMEM.
 */
int my_mask_err_pkt(struct rg_policy_ctx *ctx, const struct rg_mask_plan *plan, const uint8_t *p,
		    size_t n, uint8_t seq, struct rg_acc *out, uint32_t *hit);
/* The session's side of it: 0 with *out NULL (forward the ERR as it is), 0 with *out set
 * (send that instead), <0 (fail closed). */
int my_mask_err(struct my_sess *ms, const struct rg_my_msg *m, const struct rg_acc **out);
void my_mask_free(struct my_sess *ms);

/* record.c: the session's recording (each a no-op without one). Bytes go in where they are
 * sent to the agent (session.c), so rg_rec_out is called there directly. */
#define MY_REC_BINARY 1 /* 'C' flags: the command's rows are binary-protocol */
void my_rec_start(struct my_sess *ms);
void my_rec_cmd(struct my_sess *ms, uint8_t cmd, bool binary, uint32_t n);
void my_rec_end(struct my_sess *ms, const char *reason);

/* relay.c */
void my_fe_relay_msg(struct rg_sess *s, const struct rg_my_msg *m, struct rg_buf *b, bool copy,
		     struct my_run *run, int *err, bool *stop);
void my_be_relay_msg(struct rg_sess *s, const struct rg_my_msg *m, struct rg_buf *b, bool copy,
		     struct my_run *run, int *err);
bool my_relay_idle(const struct my_sess *ms);
size_t my_be_rows(struct rg_sess *s, struct rg_buf *b, const uint8_t *p, size_t n,
		  struct my_run *run, int *err);
void my_relay_free(struct my_sess *ms);
/* Scope limit k was reached (count: what it reached, 0 for the time limits): what run holds
 * goes to the agent, then an ERR naming the limit with sequence id seq, and the session ends
 * (*err: -ESHUTDOWN). */
void my_limit_exceeded(struct rg_sess *s, unsigned k, uint64_t count, uint8_t seq,
		       struct my_run *run, int *err);
/* A time limit reached between commands: the target's session ends now; the agent's next
 * command is answered with the limit's ERR (in turn: every client reads it), or after
 * MY_LIMIT_LINGER_MS without one, the ERR goes out of turn as MySQL 8 sends its 4031. */
#define MY_LIMIT_LINGER_MS 30000
void my_limit_between(struct rg_sess *s, unsigned k);
void my_limit_close(struct rg_sess *s, unsigned k, uint8_t seq);
/* The session's later bytes were appended to its hold: past MY_APPR_READ_MAX behind a held
 * command, the agent is not read any more. */
void my_appr_held_more(struct rg_sess *s);

#endif /* RG_PROTO_MYSQL_MY_INT_H */
