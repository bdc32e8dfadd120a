/*
 * pg-int.h: types shared by the files of the pg module (not part of its public API).
 *
 * The message stream (stream.c) turns the chunks one side sends into whole messages
 * (pointing straight into the chunk whenever a message is not split, into the stream's
 * accumulator when it is) or, for a message too large to hold, into pass-through pieces.
 * It is pure: no I/O, and it allocates only when a message is split across chunks.
 */
#ifndef RG_PROTO_PG_INT_H
#define RG_PROTO_PG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core.h"
#include "wire.h"

enum rg_pg_sev {
	RG_PG_SEV_MORE = 0, /* input consumed into the accumulator: feed the next chunk */
	RG_PG_SEV_MSG,	    /* ev.msg is one whole message */
	RG_PG_SEV_PIECE,    /* ev.data[0..n) is a piece of a streamed message */
};

struct rg_pg_sevent {
	enum rg_pg_sev kind;
	bool in_acc;	      /* the bytes live in the stream's accumulator, not the input */
	struct rg_pg_msg msg; /* MSG */
	const uint8_t *data;  /* PIECE */
	size_t n;
	bool first, last; /* PIECE: first piece (carries the header) / last piece */
	uint8_t type;	  /* PIECE: the streamed message's type */
	uint64_t total;	  /* PIECE: the streamed message's wire size */
};

/* Two per session (kept for its lifetime): small fields last, so no padding holes. */
struct rg_pg_stream {
	struct rg_acc acc;  /* a split message, header first */
	uint64_t pass_left; /* bytes of a streamed message still to come */
	uint64_t pass_total;
	const struct rg_pg_limits *lim;
	const bool *streamable; /* [256] types that may be streamed */
	uint32_t stream_min;	/* messages this large (wire bytes) may be streamed */
	uint8_t pass_type;
	bool acc_release; /* acc held the last event's bytes: drop them next */
};

void rg_pg_stream_init(struct rg_pg_stream *st, const struct rg_pg_limits *lim, uint32_t stream_min,
		       const bool *streamable);
void rg_pg_stream_free(struct rg_pg_stream *st);
/* Frame what follows with other limits (between messages: the state changed). */
void rg_pg_stream_set_limits(struct rg_pg_stream *st, const struct rg_pg_limits *lim,
			     const bool *streamable);

/*
 * The agent's PasswordMessage carries its token: up to the verifier's default maximum. Until
 * the token is checked nothing else is acceptable: rg_pg_password_limits allows only 'p' of
 * at most this many length-field bytes, so any other type or a longer length fails framing
 * at the 5-byte header, before a byte of the body is kept (and nothing is streamed).
 */
#define RG_PG_PASSWORD_MAX (64u * 1024)
void rg_pg_password_limits(struct rg_pg_limits *l);
/*
 * Consume from p[0..n): returns bytes consumed (>= 0) and sets *ev, or <0 (enum rg_pg_err,
 * or RG_PG_E_NOMEM). Call until all of the chunk is consumed; an event's bytes are valid
 * until the next call.
 */
#define RG_PG_E_NOMEM (-100)
ssize_t rg_pg_stream_next(struct rg_pg_stream *st, const uint8_t *p, size_t n,
			  struct rg_pg_sevent *ev);
/* True while a split message or a streamed one is in progress. */
static inline bool rg_pg_stream_mid(const struct rg_pg_stream *st)
{
	return (st->acc.len && !st->acc_release) || st->pass_left;
}

/*
 * Startup-phase framing with the same accumulate-only-when-split rule: returns bytes
 * consumed and 1 in *done with out filled (pointing into p or acc), or *done 0 (need more),
 * or <0.
 */
ssize_t rg_pg_stream_startup(struct rg_pg_stream *st, const uint8_t *p, size_t n,
			     struct rg_pg_startup *out, int *done);

/* ---- gateway objects (gw.c), used by the session (session.c) ------------------------ */

#include <stdatomic.h>
#include <sys/socket.h>

#include "approvals.h"
#include "gateway.h"
#include "pg.h"

struct rg_tls_ctx;

/* An upstream role besides the target's own user (targets[].roles[]). */
struct pg_role {
	const struct rg_config_role *cfg;
	struct rg_auth_cred *cred;
};

/* A postgres target: the gateway's (address, credential, TLS client context, session
 * counts: engine/gateway) with what only this module needs. */
struct pg_target {
	const struct rg_config_target *cfg; /* gt->cfg */
	const struct rg_gw_target *gt;
	struct pg_role *roles; /* [n_roles] */
	size_t n_roles;
};

struct pg_wpol; /* policy.c: a worker's masking scratch */

struct rg_pg_gw {
	const struct rg_config *cfg;
	struct rg_gw *svc; /* issuers, targets, admission (engine/gateway) */
	unsigned workers;
	struct pg_target *targets; /* the gateway's targets whose protocol is postgres */
	size_t n_targets;
	struct rg_pg_cancel_reg *cancel;
	struct rg_gw_counters *cnt; /* [workers]: svc's block for "postgres" */
	struct rg_sqlclass **lex;   /* [workers]: each worker's classifier for the lexing guard,
				     * created by that worker on first use */
	/* the policy bundle in force and each worker's context for it are svc's (one
	 * generation for every protocol); this module's own per-worker part (policy.c) */
	struct pg_wpol *wpol; /* [workers] */
	rg_pg_stmt_hook stmt_hook;
	rg_pg_row_hook row_hook;
	void *hook_arg;
	bool row_hook_set; /* a real row hook: sessions keep the RowDescription it needs */
	struct rg_pg_limits fe_lim, be_lim;
	struct rg_pg_limits pw_lim; /* the agent before login: a PasswordMessage only */
	bool fe_stream[256], be_stream[256];
	uint32_t stream_min; /* messages this large and streamable are not held whole */
	/* The login's time limits (admission is the gateway's: engine/gateway). */
	uint32_t password_timeout_ms, login_timeout_ms;
	struct pg_catalog *catalog;   /* result column origins for column masks (catalog.c) */
	struct rg_approvals *approvals; /* held statements' requests (engine/approvals; main.c's,
					 * NULL: a require_approval verdict is a denial) */
	/* the audit trail (audit.c): NULL without one */
	struct rg_audit *audit;
	struct rg_events *events; /* each worker's journal and record buffer (evidence.h) */
	bool audit_fail_open;
	bool ev_fmt_keep; /* audit.literals: keep (Bind parameters are recorded) */
	/* session recordings (engine/evidence's recorder, record.c): NULL without them */
	struct rg_rec *rec;
};

struct rg_pg_listener {
	struct rg_pg_gw *gw;
	const struct rg_config_listener *cfg;
	struct rg_tls_ctx *tls; /* NULL: SSLRequest is answered 'N' */
	bool internal; /* the catalog's loopback listener: its secret is the only password */
};

/* The postgres target of that name (NULL: none, or a target of another protocol). */
const struct pg_target *rg_pg_gw_target(const struct rg_pg_gw *gw, const char *name);

/* session.c: CLOCK_MONOTONIC and CLOCK_REALTIME (since the epoch) in milliseconds. */
uint64_t pg_mono_ms(void);
uint64_t pg_mono_us(void);
int64_t pg_wall_ms(void);

/* ---- policy (policy.c) ------------------------------------------------------------------ */

struct rg_request;

enum pg_verdict {
	PG_VERDICT_PASS = 0, /* no bundle: pass-through */
	PG_VERDICT_ALLOW,
	PG_VERDICT_LOG,	 /* allowed; a log rule matched (j->rule) */
	PG_VERDICT_DENY, /* d filled: the rule's SQLSTATE and a message naming it */
	PG_VERDICT_HOLD, /* require_approval, with approvals configured (j: the rule's terms;
			  * d: what a denial of it would carry) */
};

struct pg_judgement {
	uint64_t gen;		 /* the bundle generation that judged */
	const char *rule;	 /* the deciding rule's id, or NULL (valid until the next call) */
	const char *shadow_rule; /* a shadow rule that would have decided more strictly */
	int shadow;		 /* its verdict (enum rg_verdict) */
	/* HOLD: the deciding rule's approval terms (valid until the next call) */
	const char *approval_group;
	uint32_t approval_ttl_s, approval_expire_s;
	int approval_scope; /* enum rg_approval_scope */
};

/* The masking scratch of each worker, and the catalog's globs told of each new bundle. */
int pg_policy_init(struct rg_pg_gw *gw);
void pg_policy_free(struct rg_pg_gw *gw);
/* On worker w: the verdict for sql from req (switching to a newer bundle first): the
 * gateway's (rg_gw_policy_judge), with approvals when this module has a control store. */
enum pg_verdict pg_policy_judge(struct rg_pg_gw *gw, unsigned w, const struct rg_request *req,
				const char *sql, size_t len, struct rg_pg_deny *d,
				struct pg_judgement *j);

/* On worker w: this worker's policy context and masking scratch for the bundle in force and
 * its generation; true when that bundle has mask rules. */
struct rg_policy_ctx;
struct rg_pg_rowmask;
bool pg_policy_masking(struct rg_pg_gw *gw, unsigned w, struct rg_policy_ctx **ctx,
		       struct rg_pg_rowmask **rm, uint64_t *gen);

/* ======================================================================================
 * statement tracking (stmt.c)
 *
 * Follows, per session, what the target knows about prepared statements and portals, in
 * wire order, so that every DataRow is paired with the description that applies to it
 * (column types and origins from a RowDescription, formats from the Bind or the
 * RowDescription) even when an Execute's rows come without a RowDescription (the client
 * described the statement or the portal earlier). Pure: no I/O; it allocates only for
 * named statements and portals, pipelined requests beyond a few, and descriptions, all
 * bounded by struct rg_pg_stmt_limits.
 *
 * Calls, in wire order per direction:
 *   - rg_pg_stmt_fe() for every frontend message the session FORWARDS to the target (never
 *     for one it drops or answers itself; a denied Query replaced by an empty query is fed
 *     as the empty query it became);
 *   - rg_pg_stmt_be() for every backend message BEFORE it is forwarded to the agent; for a
 *     DataRow it returns the row's shape.
 * Back-pressure contract: rg_pg_stmt_fe() never refuses a message below the hard limits
 * (max_pending requests, max_pending_bytes of their names and formats); past them it
 * returns RG_PG_STMT_E_LIMIT and the session ends with FATAL 54000. Long before that,
 * rg_pg_stmt_pause() turns true (pause_pending / pause_bytes): the session stops reading
 * the agent (no recv re-arm) until it turns false again as responses drain. Any other
 * error (a backend message no pending request explains, a malformed message) means the
 * gateway and the target disagree: end the session, masking must not guess.
 * ====================================================================================== */

/* Memory bounds per session; rg_pg_stmt_limits_default() gives the documented defaults. */
struct rg_pg_stmt_limits {
	uint32_t max_statements;    /* named prepared statements, pending Parses included: 1024 */
	uint32_t max_sql_bytes;	    /* SQL text kept for them: 4 MiB */
	uint32_t max_portals;	    /* named portals: 256 */
	uint32_t max_desc_cols;	    /* columns of the descriptions kept, all objects: 65536 */
	uint32_t max_pending;	    /* forwarded requests awaiting their response: 65536 */
	uint32_t max_pending_bytes; /* their names and result formats: 8 MiB */
	uint32_t pause_pending;	    /* rg_pg_stmt_pause() from here: 1024 */
	uint32_t pause_bytes;	    /* ... or from here: 1 MiB */
};
const struct rg_pg_stmt_limits *rg_pg_stmt_limits_default(void);

enum rg_pg_stmt_err {
	RG_PG_STMT_OK = 0,
	RG_PG_STMT_E_LIMIT = -1, /* a bound of struct rg_pg_stmt_limits: FATAL 54000 */
	RG_PG_STMT_E_NOMEM = -2, /* FATAL 53200 */
	RG_PG_STMT_E_PROTO = -3, /* a backend message no pending request explains */
	RG_PG_STMT_E_MSG = -4,	 /* a message the wire readers refuse */
};
const char *rg_pg_stmt_strerror(int err);

/* One result column as a DataRow's field is to be read. */
struct rg_pg_rcol {
	uint32_t type_oid;  /* 0: unknown (no description reached the gateway) */
	uint32_t table_oid; /* origin, 0 if none (as RowDescription) */
	int16_t attnum;
	int16_t format; /* 0 text, 1 binary: the format the rows really use */
};

/* The shape of the current result set. Valid until the next rg_pg_stmt_be call that starts
 * another result; serial changes whenever a new one starts (cache a mask plan by it). */
struct rg_pg_shape {
	uint64_t serial;
	const struct rg_pg_rcol *cols;
	uint16_t ncols;
	bool described; /* types and origins come from a RowDescription; false: the client
			 * executed a portal nobody described (formats are still exact, types 0) */
};

/* What the target is doing with COPY, for CopyData masking. */
enum rg_pg_copy_state {
	RG_PG_COPY_NONE = 0,
	RG_PG_COPY_OUT, /* CopyOutResponse seen: CopyData from the target are rows */
	RG_PG_COPY_IN,	/* CopyInResponse seen: the agent sends CopyData */
};

struct rg_pg_stmt_obj;	 /* a named statement (stmt.c) */
struct rg_pg_portal_obj; /* a portal (stmt.c) */
struct rg_pg_fxl;	 /* the SQL-level prepared-statement effects of one text (stmt.c) */

/* A forwarded request awaiting its response. */
struct rg_pg_pend {
	uint64_t arg;		   /* logical offset of its names and formats in the arg FIFO */
	struct rg_pg_stmt_obj *st; /* a named Parse: the statement to install at ParseComplete */
	struct rg_pg_fxl *fx;	   /* Query, Parse: its PREPARE / DEALLOCATE / DISCARD ALL */
	uint16_t fx_next;	   /* Query: the first of fx not applied yet */
	uint16_t nfmt;		   /* Bind: result-format codes */
	uint8_t kind;		   /* stmt.c's enum pend_kind */
	uint8_t name_len;	   /* its (first) name, at most 63 bytes as the server keys it */
	uint8_t name2_len;	   /* Bind: the statement's name, after the portal's */
	uint8_t flags;
};

struct rg_pg_htab {
	void **b;	   /* buckets, chained; NULL until the first named object */
	uint32_t nb, n;	   /* buckets (power of two), objects */
};

#define RG_PG_PEND_INLINE 2 /* a simple-query session never needs more */

struct rg_pg_stmt {
	const struct rg_pg_stmt_limits *lim;
	struct rg_pg_htab stmts, portals;
	struct rg_pg_stmt_obj *uns;	/* the unnamed statement (allocated on first Parse "") */
	struct rg_pg_portal_obj *unp;	/* the unnamed portal (allocated on first Bind "") */
	struct rg_pg_pend *q;		/* FIFO ring: inline[] until more are in flight */
	uint32_t qhead, qn, qcap;
	uint32_t pend_named;		/* pending named Parse / Close 'S' (lookup scans them) */
	uint8_t *arg;			/* names and formats of pending requests, in FIFO order */
	uint64_t arg_base;		/* logical offset of arg[0] */
	uint64_t arg_head, arg_tail;	/* logical: consumed / written */
	uint32_t arg_cap;
	uint32_t sql_bytes, desc_cols;	/* kept, against the limits */
	uint32_t nstmts;		/* named, installed + pending */
	struct rg_pg_rcol *shape_cols;	/* the current result's columns */
	uint32_t shape_cap;
	struct rg_pg_shape shape;
	bool shape_valid;		/* a result is in progress (rows may follow) */
	bool skip;			/* the target skips everything until the next Sync */
	uint8_t copy;			/* enum rg_pg_copy_state */
	int8_t copy_format;		/* the COPY's overall format: 0 text, 1 binary */
	uint8_t tx;			/* last ReadyForQuery status: 'I', 'T', 'E' */
	bool floor_exact;		/* gen_floor is the minimum, not only a bound */
	uint64_t next_sid;
	struct rg_pg_fxl *fx_live;	/* every effect list still referenced (rejudge scans them) */
	uint64_t gen_floor;		/* <= the generation of every statement and effect kept */
	struct rg_pg_pend inl[RG_PG_PEND_INLINE]; /* the FIFO while it is this short */
};

/* lim NULL: the defaults (the pointer is kept). Allocates nothing. */
void rg_pg_stmt_init(struct rg_pg_stmt *t, const struct rg_pg_stmt_limits *lim);
void rg_pg_stmt_free(struct rg_pg_stmt *t);
/* Give back what a long pipeline or a wide result grew, once nothing is in flight. */
void rg_pg_stmt_trim(struct rg_pg_stmt *t);

/* A frontend message being forwarded (whole, framed). gen: the policy bundle generation
 * that judged it (kept for a named Parse, see rg_pg_stmt_lookup); ignored otherwise. */
int rg_pg_stmt_fe(struct rg_pg_stmt *t, const struct rg_pg_msg *m, uint64_t gen);
/* A backend message about to be forwarded (whole, framed). For a DataRow *shape is the
 * shape its fields follow; NULL for every other type. A message streamed in pieces
 * (DataRow, CopyData, FunctionCallResponse) is fed once, as a view of its first piece: the
 * type and, for a DataRow, the 2-byte field count after the header are all it reads (so
 * that piece must hold at least those 7 bytes). */
int rg_pg_stmt_be(struct rg_pg_stmt *t, const struct rg_pg_msg *m, const struct rg_pg_shape **shape);
/* The shape DataRows arriving now follow, when rg_pg_stmt_be would check nothing of such a
 * row but its field count against it and change nothing (a result under way: a Query's
 * after its RowDescription, an Execute's after its first row); NULL otherwise (feed the
 * row to rg_pg_stmt_be). */
const struct rg_pg_shape *rg_pg_stmt_rows(const struct rg_pg_stmt *t);

/*
 * SQL-level prepared statements. A Query's or Parse's text may PREPARE, DEALLOCATE or
 * DISCARD ALL (the session reads them from the parse tree, rg_sqlclass_prep); they share
 * one namespace with the protocol's named statements on the server, and so in the model.
 * Each effect applies when the target confirms it with its CommandComplete tag ("PREPARE",
 * "DEALLOCATE", "DEALLOCATE ALL", "DISCARD ALL"), in statement order for a Query, for an
 * Execute through the portal's statement; a PREPARE the server refuses (syntax, the name
 * exists, an aborted transaction) answers with an error instead and is never installed. A
 * statement installed so keeps the whole PREPARE statement's text and the generation that
 * judged it. Prepared statements are not transactional on the server: ROLLBACK undoes
 * neither a PREPARE nor a DEALLOCATE, and the model keeps them too.
 */
enum rg_pg_sqlfx_kind {
	RG_PG_FX_PREPARE = 1,
	RG_PG_FX_DEALLOCATE,
	RG_PG_FX_DEALLOCATE_ALL,
	RG_PG_FX_DISCARD_ALL,
};
struct rg_pg_sqlfx {
	uint8_t kind;	  /* enum rg_pg_sqlfx_kind */
	const char *name; /* PREPARE, DEALLOCATE: the name as the server keys it */
	size_t name_len;
	const char *sql;  /* PREPARE: its statement's text, as judged */
	uint32_t sql_len;
};
/* rg_pg_stmt_fe() for a Query or Parse whose text has effects fx[0..nfx) (copied; other
 * message types ignore them). RG_PG_STMT_E_LIMIT when their text would pass max_sql_bytes. */
int rg_pg_stmt_fe_sql(struct rg_pg_stmt *t, const struct rg_pg_msg *m, uint64_t gen,
		      const struct rg_pg_sqlfx *fx, uint32_t nfx);
/* Whether nprep more statements of bytes bytes of text fit the bounds now (pending effects
 * not counted: one that no longer fits when its CommandComplete comes is RG_PG_STMT_E_LIMIT). */
bool rg_pg_stmt_room(const struct rg_pg_stmt *t, uint32_t nprep, uint64_t bytes);
/* False when every statement and pending effect the model holds was judged by generation
 * cur or later: an EXECUTE then needs no lookup at all (the common case, costs a compare). */
bool rg_pg_stmt_stale(struct rg_pg_stmt *t, uint64_t cur);
/*
 * Judge again every version of statement `name` the target may run when a message sent now
 * reaches it, unless that version was judged by generation cur: the installed one, and every
 * pending Parse or PREPARE of that name (any of them may or may not succeed first; judging
 * them all fails closed). fn(arg, sql, len) returns true when allowed; an allowed version is
 * marked judged by cur. Returns true when all are allowed (or there are none: the target has
 * no such statement and fails the message itself), false at the first denied.
 */
typedef bool (*rg_pg_stmt_judge_fn)(void *arg, const char *sql, uint32_t len);
bool rg_pg_stmt_rejudge(struct rg_pg_stmt *t, const char *name, size_t len, uint64_t cur,
			rg_pg_stmt_judge_fn fn, void *arg);

/* True while the session should stop reading the agent (see the contract above). */
bool rg_pg_stmt_pause(const struct rg_pg_stmt *t);
/* Requests forwarded and not yet fully answered. */
uint32_t rg_pg_stmt_pending(const struct rg_pg_stmt *t);
/* COPY in progress on the target and its overall format (0 text, 1 binary). */
enum rg_pg_copy_state rg_pg_stmt_copy(const struct rg_pg_stmt *t, int *format);
/* Last transaction status reported ('I' before the first ReadyForQuery fed). */
uint8_t rg_pg_stmt_tx(const struct rg_pg_stmt *t);

/*
 * The named statement `name` as the target will see it when it processes the next message
 * forwarded (pending Parse and Close included): its SQL text (NUL-terminated, valid until
 * that statement is closed or replaced) and the bundle generation that last judged it.
 * Returns 1 found, 0 unknown (never prepared, closed or deallocated; the unnamed statement
 * is never stored: "" returns 0), or RG_PG_STMT_UNSETTLED: a Parse or Close of that name
 * sent before a Sync that is still unanswered decides, and it may fail (the name exists, an
 * earlier message of its segment failed), in which case the target binds what it had
 * before; likewise while a Query or Execute not answered yet may PREPARE, DEALLOCATE or
 * DISCARD it in SQL. A caller then holds the Bind (stops reading the agent) until more
 * answers arrived and asks again; it settles at the latest when nothing is pending. The
 * gateway judges through rg_pg_stmt_rejudge instead, which needs no settling.
 */
#define RG_PG_STMT_UNSETTLED 2
int rg_pg_stmt_lookup(const struct rg_pg_stmt *t, const char *name, size_t len, const char **sql,
		      uint32_t *sql_len, uint64_t *gen);
/* Record that the statement lookup() finds for name was judged by generation gen.
 * Returns 1, 0 if lookup would find nothing, or RG_PG_STMT_UNSETTLED (nothing marked). */
int rg_pg_stmt_judged(struct rg_pg_stmt *t, const char *name, size_t len, uint64_t gen);


/* ======================================================================================
 * masking rows and messages (rows.c)
 *
 * Rewrites what the target sends so that the policy's masks apply to it: DataRows (with
 * the shape the statement tracker gives), ErrorResponse / NoticeResponse texts, and the
 * rows of COPY TO STDOUT. A message nothing matched in is reported unchanged and the
 * caller forwards its original bytes; only a masked one is rebuilt, into the caller's
 * growable buffer. Masked output always stays decodable for the column's type: free text
 * types (text, varchar, bpchar, name, unknown, and binary bytea) take the masked text;
 * json and jsonb take it only if it is still valid JSON, else the JSON value null (jsonb
 * binary keeps its version byte); any other type (numbers, dates, uuid, arrays, records,
 * text-format bytea, an unknown type or format) whose value a mask changed becomes SQL
 * NULL, the only value every decoder accepts. Binary values of types that are not text are
 * scanned as raw bytes, so a text value inside an array or a record is still found.
 * Pure: no I/O; no allocation per message once the scratch has grown to the widest row.
 * ====================================================================================== */

struct rg_policy_ctx;
struct rg_mask_plan;
struct rg_mask_field;

/* Scratch for masking (per worker, or per session), zero-initialised. */
#define RG_PG_MASK_EXTRA_TEXT 8
struct rg_pg_rowmask {
	struct rg_mask_field *f; /* fields handed to the masker */
	uint8_t *pre;		 /* per field: bytes kept before what the masker saw */
	uint32_t fcap;
	/* Type OIDs to treat as free text besides the built-in ones (e.g. citext, whose
	 * OID differs per database): the session may fill them. */
	uint32_t extra_text[RG_PG_MASK_EXTRA_TEXT];
	uint8_t nextra;
	uint32_t hit; /* the last rewrite's detectors (struct rg_mask_result detectors_hit) */
};
void rg_pg_rowmask_free(struct rg_pg_rowmask *rm);

enum rg_pg_mask_res {
	RG_PG_MASK_UNCHANGED = 0,	 /* forward the original message */
	RG_PG_MASK_REWRITTEN = 1,	 /* out->p[0..out->len) is the message to forward */
	RG_PG_MASK_E_SHAPE = -1,	 /* malformed, or a field count the shape does not have */
	RG_PG_MASK_E_NOMEM = -2,
	RG_PG_MASK_E_MASKER = -3,	 /* the masker failed (Hyperscan) */
	RG_PG_MASK_E_TOO_LONG = -4,	 /* the rebuilt message would not fit the protocol */
	RG_PG_MASK_E_UNSUPPORTED = -5,	 /* binary COPY data that does not parse */
};

/*
 * A DataRow. shape: from rg_pg_stmt_be (NULL: every column of unknown type and format).
 * plan: the session's mask plan for this result (rg_policy_mask_plan_build with the
 * shape's column origins; NULL: every mask rule enabled, no column rules).
 */
int rg_pg_mask_datarow(struct rg_policy_ctx *c, const struct rg_mask_plan *plan,
		       const struct rg_pg_shape *shape, const struct rg_pg_msg *row,
		       struct rg_pg_rowmask *rm, struct rg_acc *out);

/*
 * A run of DataRows, whole in one receive buffer, framed and vetted together (relay.c's fast
 * path; docs/pg.md, "Runs of rows"). rg_pg_rowrun_frame frames rows at p[0..n) while each
 * is whole, has a length field in [4, max_len] and, when ncols >= 0, exactly ncols fields
 * that fill it: anything else ends the run and is the per-message path's, which reports
 * what is wrong with it. Returns the bytes framed (whole rows), rr->rows their count.
 *
 * rg_pg_rowrun_clear: from the row at off (a row start in the run), the rows that
 * rg_pg_mask_datarow under (c, plan, shape) would certainly forward unchanged, proven by one
 * prefilter pass over their bytes (rg_policy_mask_run_clear): returns where they end (off
 * when the row at off is not proven: the per-message path masks it) and *nrows. Never
 * proves a row of a plan with a column rule on one of its columns, or of a shape with a
 * binary jsonb column (rg_pg_mask_datarow looks at those itself), nor of a run framed
 * without ncols.
 */
#define RG_PG_ROWRUN_ENDS 512
struct rg_pg_rowrun {
	const uint8_t *p;
	size_t framed;
	uint32_t rows;
	bool checked; /* framed with ncols: every row's fields were checked */
	/* where each of the first nends rows ends (at most RG_PG_ROWRUN_ENDS), so that
	 * rg_pg_rowrun_clear counts the rows proven without walking their lengths again */
	uint32_t nends;
	uint32_t end[RG_PG_ROWRUN_ENDS];
};
size_t rg_pg_rowrun_frame(struct rg_pg_rowrun *rr, const uint8_t *p, size_t n, uint32_t max_len,
			  int32_t ncols);
size_t rg_pg_rowrun_clear(const struct rg_pg_rowrun *rr, struct rg_policy_ctx *c,
			  const struct rg_mask_plan *plan, const struct rg_pg_shape *shape,
			  size_t off, uint32_t *nrows);

/*
 * FunctionCallResponse (a fast-path call's result): its value, of a type not known here, goes
 * through the detector rules; a value they change becomes NULL (which every type decodes).
 */
int rg_pg_mask_fcall_result(struct rg_policy_ctx *c, const struct rg_mask_plan *plan,
			    const struct rg_pg_msg *m, struct rg_pg_rowmask *rm, struct rg_acc *out);

/*
 * ErrorResponse / NoticeResponse: the fields that can quote row values (M message,
 * D detail such as "Key (email)=(x@y.z) already exists", H hint, W context, q internal
 * query) go through the detector rules the plan enables (its column rules do not apply:
 * no column); a field a "null" rule hits reads "[masked]". Every other field is kept.
 */
int rg_pg_mask_notice(struct rg_policy_ctx *c, const struct rg_mask_plan *plan,
		      const struct rg_pg_msg *m, struct rg_pg_rowmask *rm, struct rg_acc *out);

/*
 * CopyData of a COPY TO STDOUT in text or CSV format (format 0; the target sends one row
 * per message): the detector rules run over the whole line as one field (fields are not
 * split: the delimiter, quote and escape are options of the COPY statement the tracker
 * does not read), so column rules do not apply to COPY. Redact, partial and hmac keep
 * every separator; a replacement that would add or remove a tab, newline, carriage
 * return, backslash, comma or double quote (a static text holding one, or a "null" rule)
 * makes the whole line redacted instead (letters and digits become '*'), which keeps its
 * structure. A DELIMITER other than tab or comma is not protected from static texts that
 * contain it.
 * Binary COPY (format 1; the target sends the file header with the first tuple, then one
 * tuple per message, then the -1 trailer): each field is scanned as raw bytes by the
 * detector rules and a field they match in becomes NULL (the types are not known, NULL
 * decodes for all). Data that does not parse as header / tuples / trailer returns
 * RG_PG_MASK_E_UNSUPPORTED (fail closed).
 */
int rg_pg_mask_copy_data(struct rg_policy_ctx *c, const struct rg_mask_plan *plan, int format,
			 const struct rg_pg_msg *m, struct rg_pg_rowmask *rm, struct rg_acc *out);

/* Whether p[0..n) is one JSON value (RFC 8259; nesting deeper than 1000 is refused). */
bool rg_pg_json_valid(const uint8_t *p, size_t n);

/* ---- result column origins from the target's catalog (catalog.c) ----------------------- */

struct pg_catalog;
struct rg_policy;

/* A snapshot of one target's catalog: pure data (unit-tested without a server). */
struct pg_cat_snap;
struct pg_cat_snap *pg_cat_snap_new(void);
void pg_cat_snap_free(struct pg_cat_snap *s);
/* A relation and its attribute count; then a column some glob names, with its origin. */
int pg_cat_snap_rel(struct pg_cat_snap *s, uint32_t oid, int32_t natts);
int pg_cat_snap_col(struct pg_cat_snap *s, uint32_t oid, int32_t attnum, const char *origin);
/* A function's quoted "schema"."name" (FunctionCall), and its lookup (NULL: not known). */
int pg_cat_snap_proc(struct pg_cat_snap *s, uint32_t oid, const char *name);
const char *pg_cat_snap_proc_name(const struct pg_cat_snap *s, uint32_t oid);
void pg_cat_snap_seal(struct pg_cat_snap *s); /* after the last add, before any find */
/* 1: the snapshot knows this column (*origin: its name if a glob named it, else NULL);
 * 0: unknown relation or attribute number (newer than the snapshot, or not a column). */
int pg_cat_snap_find(const struct pg_cat_snap *s, uint32_t oid, int32_t attnum,
		     const char **origin);

/* A session waiting for a catalog read: lives in the session, linked into its worker's list
 * (that worker only) until the read is done or the session ends (pg_catalog_unwait). */
struct pg_cat_waiter {
	struct pg_cat_waiter *prev, *next;
	struct rg_sess *s;
	size_t target;
	uint64_t need; /* the target's read serial that answers it */
	unsigned worker;
	bool waited; /* asked for a read: the next answer takes unknown columns as unknown */
	bool linked;
};

enum pg_cat_ans {
	PG_CAT_NONE = 0, /* no column mask rule in force: origins are not needed */
	PG_CAT_READY,	 /* one const char * per column (NULL: no rule names it) */
	PG_CAT_WAIT,	 /* a read was asked; pg_catalog_resume(wt->s) follows on this worker */
	PG_CAT_FAILED,	 /* the catalog could not be read (or out of memory): fail closed */
};

int pg_catalog_new(struct rg_pg_gw *gw, struct pg_catalog **out);
void pg_catalog_free(struct pg_catalog *c);
/* The bundle's column globs (p NULL: none); snapshots are read again against them. */
int pg_catalog_set_globs(struct pg_catalog *c, const struct rg_policy *p);
bool pg_catalog_active(struct pg_catalog *c);
/* The password the internal listener accepts (and only it). */
const char *pg_catalog_secret(const struct pg_catalog *c);
int pg_catalog_start(struct pg_catalog *c, struct rg_core *core, uint16_t port, uint64_t ttl_ms);
void pg_catalog_stop(struct pg_catalog *c);
/* A schema change committed on target (an ALTER, DO or CALL): read it again before use. */
void pg_catalog_invalidate(struct pg_catalog *c, size_t target);
/* On worker `worker`: the origins of a result's columns, READY: *origins[0..n) (valid until
 * the next call on that worker). WAIT with wt NULL: a read is needed, ask again with a
 * waiter (a session allocates one only the first time it waits). */
enum pg_cat_ans pg_catalog_origins(struct pg_catalog *c, size_t target,
				   const struct rg_pg_rcol *cols, size_t n,
				   struct pg_cat_waiter *wt, unsigned worker,
				   const char *const **origins);
void pg_catalog_unwait(struct pg_catalog *c, struct pg_cat_waiter *wt);
/* Lock-free: changes whenever pg_catalog_origins could answer differently for target (a
 * session keeps a plan built for the same columns while it stays the same); never 0. */
uint64_t pg_catalog_version(struct pg_catalog *c, size_t target);
/* A function's quoted "schema"."name" by OID into out: 1 found, 0 not in the last read, -1 no read
 * yet (or it failed). Not found asks for a new read (at most one a second); the caller does
 * not wait for it. */
int pg_catalog_proc(struct pg_catalog *c, size_t target, uint32_t oid, char *out, size_t cap);
/* relay.c: the read a session waited for is done; relay what it held. */
void pg_catalog_resume(struct rg_sess *s);

#endif /* RG_PROTO_PG_INT_H (gateway part) */
