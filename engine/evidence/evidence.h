/*
 * evidence: the tamper-evident audit trail (issue #12).
 *
 * Records go to append-only segment files in a directory (state_dir/audit). Each record
 * carries a sequence number, a UTC timestamp in microseconds, a kind and a payload (a JSON
 * object, written by the caller), an XXH3 checksum of its bytes and a SHA-256 chain hash
 * over the previous record's chain hash and its own bytes; a segment starts with the chain
 * hash the previous one ended on. A segment is sealed by a checkpoint record: an Ed25519
 * signature over the segment number, the last sequence number and the chain hash so far.
 * rg_audit_verify (and `ringgatectl audit verify`) walks the files and names the first
 * record that does not hold: an edited byte breaks its checksum or the chain, a deleted or
 * reordered record breaks the sequence and the chain, a truncated sealed segment loses its
 * checkpoint, a replaced segment cannot carry a valid signature. Records written after the
 * last checkpoint are reported as not yet sealed (a crash leaves them so; so would a
 * truncation of the tail, which is why checkpoints come at every seal and every
 * checkpoint_records records).
 *
 * Writing: rg_audit_append copies the record into a queue (any thread, never blocks on the
 * disk) and one writer thread writes, fsyncs by policy and seals; when the queue is over
 * its bound, appenders wait (back-pressure: records are never dropped).
 */
#ifndef RG_EVIDENCE_H
#define RG_EVIDENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

enum rg_audit_kind {
	RG_AUDIT_EVENT = 1,	 /* payload: a JSON object */
	RG_AUDIT_CHECKPOINT = 2, /* payload: the 64-byte Ed25519 signature */
};

enum rg_audit_fsync {
	RG_AUDIT_FSYNC_EVERY = 0,    /* after each batch the writer takes (default) */
	RG_AUDIT_FSYNC_INTERVAL = 1, /* at most every fsync_interval_ms */
};

struct rg_audit_opts {
	const char *dir;	/* created if missing (0700) */
	const char *key_file;	/* Ed25519 private key (PEM) that signs checkpoints */
	uint64_t segment_bytes; /* seal and start a new segment past this (default 64 MiB) */
	uint32_t checkpoint_records; /* also checkpoint every this many records (default 1000) */
	enum rg_audit_fsync fsync;
	uint32_t fsync_interval_ms;
	size_t queue_bytes; /* appenders wait past this much queued (default 8 MiB) */
	/* Retention: sealed segments last written longer ago than this are removed, oldest
	 * first, after a `retention` record naming them (segment, last sequence number, chain
	 * hash) is written: verification accepts a trail that starts after segment 1 only with
	 * such a record for exactly the segments missing. 0: segments are kept. */
	uint64_t retention_ms;
	uint32_t retention_check_ms; /* how often the writer looks (default 60 s) */
};

struct rg_audit;

/* Open the trail in opts->dir, continuing after its last segment (a new segment chained to
 * the last record found), and start the writer thread. Errors name the file. */
int rg_audit_open(const struct rg_audit_opts *opts, struct rg_audit **out, char *err,
		  size_t errlen);
/* Append one record (any thread; not for the data path: it takes a lock and may wait).
 * Returns 0, or a negative errno: -EIO while the writer cannot write (disk full, unwritable;
 * the record is then not kept). The writer retries every second and clears the error when a
 * write succeeds again. */
int rg_audit_append(struct rg_audit *a, enum rg_audit_kind kind, const void *payload,
			size_t len);
/* ---- journals: the data path's producers ------------------------------------------------------
 *
 * A data-path worker must neither format JSON nor wait for a lock or the disk per statement,
 * and a record it has produced must survive a kill -9 of the process. So each worker appends
 * compact binary records (its own layout, a type and a body) to its own journal: a ring in a
 * shared file mapping (a tmpfs by default: raw statement texts never reach a disk there),
 * which the writer thread polls and turns into trail records through the formatter the
 * producer's module supplied, exactly one per journal record. Appending is two copies and a
 * release store. When a journal is full, its producer waits for the writer (back-pressure);
 * only when the trail cannot be written at all and the journal is full is a record lost,
 * and counted (rg_audit_jr_lost). Records left in journals by a crash are written to the
 * trail by the next start, once, before anything new.
 */
struct rg_audit_jr;

/* A growable output buffer the formatter writes one JSON object into. */
struct rg_audit_buf {
	char *p;
	size_t len, cap;
	bool oom;
};
void rg_audit_buf_put(struct rg_audit_buf *b, const void *s, size_t n);
void rg_audit_buf_str(struct rg_audit_buf *b, const char *s);
void rg_audit_buf_i64(struct rg_audit_buf *b, int64_t v);
/* Room for n more bytes at b->p + b->len (the caller writes there and adds to b->len), or
 * NULL (b->oom set). */
void *rg_audit_buf_room(struct rg_audit_buf *b, size_t n);
/* s[0..n) as a JSON string, quotes included: control bytes escaped, invalid UTF-8 as \ufffd. */
void rg_audit_buf_json(struct rg_audit_buf *b, const void *s, size_t n);
void rg_audit_buf_printf(struct rg_audit_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Runs on the writer thread only, in journal order: one record into one JSON object (out is
 * empty on entry; left empty, the writer records {"event":"unformattable"}). */
typedef void (*rg_audit_fmt_fn)(void *arg, uint16_t type, int64_t time_us, const uint8_t *body,
				size_t len, struct rg_audit_buf *out);

struct rg_audit_jr_opts {
	unsigned count;	   /* producers (journals 0..count-1) */
	const char *dir;   /* where journals live (NULL: /dev/shm when it is a writable
			    * directory, else the trail's own directory) */
	size_t bytes;	   /* ring size per journal (default 4 MiB) */
	rg_audit_fmt_fn fmt;
	void *fmt_arg;
};

/* Attach journals (once, before producers start): maps journals 0..count-1 (created when
 * missing), recovers what an earlier run left in them and in any other journal of this
 * trail, and has the writer poll them. */
int rg_audit_journals(struct rg_audit *a, const struct rg_audit_jr_opts *o, char *err,
		      size_t errlen);
struct rg_audit_jr *rg_audit_journal(struct rg_audit *a, unsigned i);
/* Producer (one thread per journal): room for a record of len body bytes, stamped with the
 * current UTC time; write the body there, then commit. NULL: not written (len over a
 * quarter of the ring, or lost: see above). */
void *rg_audit_jr_begin(struct rg_audit_jr *j, uint16_t type, uint32_t len);
void rg_audit_jr_commit(struct rg_audit_jr *j);
uint64_t rg_audit_jr_lost(const struct rg_audit_jr *j);
uint64_t rg_audit_jr_waits(const struct rg_audit_jr *j);
/* Where journal files live for the trail (after rg_audit_journals). */
const char *rg_audit_journal_dir(const struct rg_audit *a);

/* ---- session events (events.c) ------------------------------------------------------------
 * What every protocol module's sessions leave in the trail: compact records built on the
 * worker (rg_ev_*) into its own journal, formatted to JSON by the writer (rg_ev_format). One
 * rg_events object per trail holds a writer per worker thread; every protocol on that worker
 * uses it. Record types and item keys are append-only (journals of an earlier run are
 * drained by the next one). */

enum rg_ev_proto {
	RG_EV_POSTGRES = 0,
	RG_EV_MYSQL = 1,
	RG_EV_PROTO__COUNT
};

enum rg_ev_type {
	RG_EV_AUTH_OK = 1,
	RG_EV_AUTH_FAIL,
	RG_EV_SESSION_START,
	RG_EV_SESSION_END,
	RG_EV_STMT,
	RG_EV_STMT_END,
	RG_EV_LIMIT,
	RG_EV_VIOLATION,
	RG_EV_APPROVAL,
	RG_EV__COUNT
};

/* item keys; the formatter writes each one's JSON name */
enum rg_ev_key {
	RG_EVK_SESSION = 0, RG_EVK_N, RG_EVK_IDENTITY, RG_EVK_CLIENT, RG_EVK_TARGET, RG_EVK_KIND,
	RG_EVK_NAME, RG_EVK_SQL, RG_EVK_VERDICT, RG_EVK_RULE, RG_EVK_SHADOW, RG_EVK_SQLSTATE,
	RG_EVK_APPROVAL, RG_EVK_REVIEWER, RG_EVK_REASON, RG_EVK_DETAIL, RG_EVK_ROWS, RG_EVK_BYTES,
	RG_EVK_MASKED, RG_EVK_SERVER_US, RG_EVK_TAG, RG_EVK_SKIPPED, RG_EVK_ROLE, RG_EVK_TLS,
	RG_EVK_MECH, RG_EVK_DURATION_MS, RG_EVK_STATEMENTS, RG_EVK_DENIALS, RG_EVK_BYTES_IN,
	RG_EVK_BYTES_OUT, RG_EVK_LIMIT, RG_EVK_VALUE, RG_EVK_COUNT, RG_EVK_SIDE, RG_EVK_WHAT,
	RG_EVK_USER, RG_EVK_PARAMS, RG_EVK_PORTAL, RG_EVK_OID, RG_EVK_OUTCOME, RG_EVK_SUB,
	RG_EVK_RECORDED, RG_EVK_MASKS,
	/* MySQL: how the session's server lexes text (rg_ev_mysql_lexing), before the record's
	 * SQL item; not written to the JSON */
	RG_EVK_MYLEX,
	/* MySQL: an EXECUTE's statement (the n of its PREPARE); an ERR's error number */
	RG_EVK_PREPARED, RG_EVK_ERROR_CODE,
	RG_EVK__COUNT
};

/* The RG_EVK_MYLEX value of a MySQL session's lexing state: server version (as in versioned
 * comments), dialect (0 MariaDB, 1 MySQL) and sql_mode flags (RG_MY_*, mysqlclass.h). */
static inline int64_t rg_ev_mysql_lexing(uint32_t server_version, unsigned dialect, unsigned modes)
{
	return (int64_t)((uint64_t)server_version | (uint64_t)(dialect & 0xff) << 32 |
			 (uint64_t)(modes & 0xffff) << 40);
}

/* item kinds: INT 8 bytes; BOOL 1; the others a 4-byte length and bytes. SQL is a statement
 * text (normalized by the formatter), JSON is copied as is, PARAMS a parameter blob (u16
 * count, then per value a format byte 0 text / 1 binary and an i32 length, -1 NULL, and the
 * bytes), MASKS pairs of (detector byte, u32 rows). */
enum rg_ev_item {
	RG_EVI_INT = 1,
	RG_EVI_STR = 2,
	RG_EVI_JSON = 3,
	RG_EVI_BOOL = 4,
	RG_EVI_SQL = 5,
	RG_EVI_PARAMS = 6,
	RG_EVI_MASKS = 7
};

/* A worker's writer: its journal and the buffer a record is built in. */
struct rg_ev_w {
	struct rg_audit_jr *jr;
	uint8_t *p;
	size_t len, cap;
	bool oom;
} __attribute__((aligned(64)));

void rg_ev_begin(struct rg_ev_w *w);
void rg_ev_int(struct rg_ev_w *w, enum rg_ev_key k, int64_t v);
void rg_ev_bool(struct rg_ev_w *w, enum rg_ev_key k, bool v);
void rg_ev_bytes(struct rg_ev_w *w, enum rg_ev_key k, enum rg_ev_item kind, const void *s,
		 size_t n);
void rg_ev_str(struct rg_ev_w *w, enum rg_ev_key k, const char *s); /* NULL: no item */
/* A session's identity as every record carries it, built once at login:
 * {"iss":..,"sub":..,"groups":[..]} (heap, *len bytes), NULL when out of memory. */
char *rg_ev_identity(const char *iss, const char *sub, const char *const *groups, size_t ngroups,
		     size_t *len);
/* Who and where, the head of most records: session, identity (NULL: none yet), client,
 * target (NULL: none). */
void rg_ev_who(struct rg_ev_w *w, uint64_t session, const char *ident, size_t ident_len,
	       const char *client, const char *target);
/* The bodies of the session records every protocol writes alike, after its rg_ev_who head:
 * auth_fail (the login's user, why, an optional detail), session_start (the target's user,
 * TLS towards it, the login method, whether the session is recorded) and session_end (why,
 * and the session's totals). */
void rg_ev_auth_fail_body(struct rg_ev_w *w, const char *user, const char *reason,
			  const char *detail);
void rg_ev_session_start_body(struct rg_ev_w *w, const char *user, bool tls, const char *method,
			      bool recorded);
struct rg_ev_totals {
	int64_t duration_ms;
	uint64_t stmts, denials, bytes_in, bytes_out;
};
void rg_ev_session_end_body(struct rg_ev_w *w, const char *reason, const struct rg_ev_totals *t);
/* Copy the record into the journal. False: it could not be kept (the caller counts it). */
bool rg_ev_commit(struct rg_ev_w *w, enum rg_ev_proto proto, enum rg_ev_type t);

struct rg_events;
/* Attach a journal per worker to the trail a (rg_audit_journals) with rg_ev_format as its
 * formatter; keep_literals: statement texts go to the trail as sent. */
int rg_events_new(struct rg_audit *a, unsigned workers, const char *journal_dir,
		  bool keep_literals, struct rg_events **out, char *err, size_t errlen);
/* Worker i's writer (only that worker's thread uses it), NULL without events. */
struct rg_ev_w *rg_events_w(struct rg_events *ev, unsigned worker);
/* After the trail is closed (the writer is done with the formatter). NULL is fine. */
void rg_events_free(struct rg_events *ev);
/* The formatter (an rg_audit_fmt_fn; arg is formatter state: the events object's, or one of
 * rg_ev_fmt_new's for tests and fuzzing). */
struct rg_ev_fmt;
struct rg_ev_fmt *rg_ev_fmt_new(bool keep_literals);
void rg_ev_fmt_free(struct rg_ev_fmt *f);
void rg_ev_format(void *arg, uint16_t type, int64_t time_us, const uint8_t *body, size_t len,
		  struct rg_audit_buf *out);

/* ---- session recordings (record.c) --------------------------------------------------------
 * What the agent received after login, for replay (docs/audit.md, "Session recordings"): one
 * rg_rec object per recordings trail holds a journal per worker thread; every protocol on
 * that worker uses it. A session's recorder (rg_rec_sess) is used by its worker only. */
struct rg_rec;
struct rg_rec_sess;

/* Attach a journal per worker to the recordings trail a; sessions record at most max_bytes
 * of the agent's bytes each (then a truncation entry). Before the workers start. */
int rg_rec_new(struct rg_audit *a, unsigned workers, const char *journal_dir,
	       uint64_t max_bytes, struct rg_rec **out, char *err, size_t errlen);
/* After the trail is closed (the writer is done with the formatter). NULL is fine. */
void rg_rec_free(struct rg_rec *rec);
/* A session's recording from now on, in protocol proto with its header (MySQL: the u64
 * capabilities, at most 64 bytes); records lost go to *lost. NULL: not recorded (no rec,
 * out of memory). */
struct rg_rec_sess *rg_rec_start(struct rg_rec *rec, unsigned worker, uint64_t session,
				 enum rg_ev_proto proto, const void *head, uint32_t head_len,
				 uint64_t *lost);
/* Bytes sent to the agent (after masking: never any other). */
void rg_rec_out(struct rg_rec_sess *r, const void *p, size_t n);
/* A marker entry: 'S' u32 statement number; 'C' MySQL command (record.c's head says). */
void rg_rec_mark(struct rg_rec_sess *r, uint8_t kind, const void *p, uint32_t n);
/* The end of an answer goes out next (or just went): flush at the next rg_rec_out, or at
 * rg_rec_settle. */
void rg_rec_ready(struct rg_rec_sess *r);
void rg_rec_settle(struct rg_rec_sess *r);
/* The session ended: its reason, the last chunk out, the recorder freed (NULL is fine). */
void rg_rec_end(struct rg_rec_sess *r, const char *reason);

/* Wait until every record appended so far is written (and fsynced by policy); also every
 * journal record committed so far. */
int rg_audit_flush(struct rg_audit *a);
/* Flush, seal the segment with a checkpoint, stop the writer. */
void rg_audit_close(struct rg_audit *a);
/* The writer's state for metrics: records written, the current error (0 when healthy; any
 * thread, a relaxed load: the data path reads it per statement). */
uint64_t rg_audit_written(const struct rg_audit *a);
int rg_audit_error(const struct rg_audit *a);
/* For metrics (any thread, racy reads): bytes waiting in the producers' journals and the
 * queue (the writer's lag), producer waits for journal room, records lost. */
struct rg_audit_lag {
	uint64_t journal_bytes, queue_bytes, waits, lost;
};
void rg_audit_lag(struct rg_audit *a, struct rg_audit_lag *out);

/* A record's time (µs since the epoch) as 2026-12-02T05:00:00.123456Z. */
void rg_audit_time_iso(int64_t us, char *out, size_t n);

/* ---- verification -------------------------------------------------------------------------- */

enum rg_audit_verdict {
	RG_AUDIT_OK = 0,	  /* every record holds; the last segment is sealed */
	RG_AUDIT_UNSEALED = 1,	  /* every record holds; `unsealed` records follow the last
				   * checkpoint (a crash, or the tail was cut) */
	RG_AUDIT_BROKEN = 2,	  /* the first bad record: where, why */
	RG_AUDIT_UNREADABLE = 3,  /* the directory or a file could not be read */
};

struct rg_audit_report {
	enum rg_audit_verdict verdict;
	uint64_t records;	/* event records that hold */
	uint64_t segments;
	uint64_t checkpoints;
	uint64_t unsealed;	/* records after the last checkpoint */
	char file[512];		/* BROKEN: the segment file */
	uint64_t offset;	/* BROKEN: byte offset of the bad record in it */
	uint64_t seq;		/* BROKEN: the sequence number expected there */
	char why[160];
};

/* Verify the trail in dir with the Ed25519 public key (PEM file). Returns 0 (the verdict is
 * in the report) or a negative errno for a bad key. */
int rg_audit_verify(const char *dir, const char *pubkey_file, struct rg_audit_report *r);

/* What rg_audit_open would refuse, without writing anything (--check-config): the key must be
 * an Ed25519 private key and an existing trail must verify with it. 0 or a negative errno
 * with the reason in err. */
int rg_audit_check(const struct rg_audit_opts *o, char *err, size_t errlen);

/* Every event record that holds, oldest first (verification on the way: stops at the first
 * bad one). fn returns false to stop. */
typedef bool (*rg_audit_each_fn)(void *arg, uint64_t seq, int64_t time_us, const char *payload,
				 size_t len);
int rg_audit_each(const char *dir, rg_audit_each_fn fn, void *arg);

/* ---- sessions and their replay (replay.c) ------------------------------------------------
 *
 * Read back from the trails for `ringgatectl sessions list` / `replay` and the admin
 * listener's /api/sessions (docs/audit.md, "Session recordings"). Read-only, any thread,
 * while the gateway writes; through rg_audit_each, so only records that hold are used.
 */
struct rg_sessions_filter {
	const char *sub;    /* the identity's sub, exactly; NULL: any */
	const char *target; /* exactly; NULL: any */
	int64_t since_us;   /* the session overlaps [since, until] (UTC µs; an open session */
	int64_t until_us;   /* lasts until now); < 0: no bound */
	bool denied;	    /* only sessions with a statement denied (policy or reviewer) */
};

/*
 * The sessions of the audit trail in audit_dir (those with an auth_ok or session_start)
 * that pass f (NULL: all), oldest first: *out a JSON array of objects with "id" and, as far
 * as the trail has them, "sub", "iss", "groups", "target", "client", "start" (UTC, ISO
 * 8601), "role", "recorded", and once ended "end", "reason", "statements", "denials",
 * "bytes_out". Returns 0, -EIO (the trail cannot be read) or -ENOMEM.
 */
int rg_sessions_list(const char *audit_dir, const struct rg_sessions_filter *f, json_t **out);

struct rg_replay_opts {
	/* Also what a renderer needs: per statement "t_us" (its marker, µs since the session's
	 * start: statements without one, n 0, hold output before any statement), "out" (the
	 * order of its output: {"result": i}, {"error": i}, {"notice": i} by index into those
	 * arrays, {"copy": text}, {"time_ms": x}), "approval" (a held statement's outcome,
	 * reviewer, reason); per result "types" (column type oids); and "who" (sub, iss,
	 * groups, target, client, role from session_start, or null). */
	bool detail;
	/* Values as the agent's bytes even when they are not UTF-8 (json_dumps may then refuse
	 * them: for printing). Otherwise invalid bytes become U+FFFD. */
	bool raw_bytes;
	/* Rows kept per result; 0: all. Rows past it are counted in "rows_omitted". */
	size_t max_rows;
};

/*
 * One session's replay from the audit trail (statement texts, verdicts) and the recordings
 * trail (what the agent received): *out {"session": id, "statements": [{"n", "sql",
 * "kind", "verdict", "rule"?, "results": [{"columns", "rows", "tag"}], "errors",
 * "notices": [{"severity", "sqlstate", "message"}], "time_ms"?}], "truncated" (the
 * recording passed audit.record_max_bytes), "complete" (no chunk missing or bad), "end"?
 * (the reason the session ended)}, plus opts' extras. Returns 0; -ENOENT: the session is in
 * the audit trail but has no recording; -ESRCH: neither trail knows it; -EIO: a trail
 * cannot be read; -ENOMEM.
 */
int rg_replay(const char *audit_dir, const char *rec_dir, long long session,
	      const struct rg_replay_opts *opts, json_t **out);

/* The same reading over one session's recording entries (the chunks' contents, decompressed
 * and concatenated) without the trails: statements without their texts. *out {"protocol",
 * "statements", "truncated", "end"?}. For tests and fuzzing; 0 or -ENOMEM. */
int rg_replay_entries(const uint8_t *raw, size_t len, const struct rg_replay_opts *opts,
		      json_t **out);

#endif
