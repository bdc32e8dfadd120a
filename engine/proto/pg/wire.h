/*
 * wire: PostgreSQL v3 frontend/backend protocol framing, readers and builders as pure
 * functions over byte buffers.
 *
 * Owns: splitting a byte stream into messages (startup phase without a type byte, then
 * type byte + int32 length), strict bounds-checked readers for the messages a gateway must
 * understand, and builders that write into caller buffers. Everything returned points into
 * the caller's buffer (strings are NUL-terminated there, checked); nothing is copied.
 *
 * Invariants: every read is bounds-checked against the framed message; a string must end
 * with a NUL inside the message; counts and lengths are validated before use; a reader
 * accepts exactly the layout PostgreSQL accepts (trailing bytes are an error), so the gateway
 * never sees a message differently from the server. Never: I/O, allocation, global state,
 * or a crash on any input.
 */
#ifndef RG_PROTO_PG_WIRE_H
#define RG_PROTO_PG_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Protocol constants (startup-phase codes are in the protocol-version slot). */
#define RG_PG_PROTO(maj, min) ((uint32_t)(maj) << 16 | (uint32_t)(min))
#define RG_PG_PROTO_30 RG_PG_PROTO(3, 0)	  /* 196608 */
#define RG_PG_PROTO_32 RG_PG_PROTO(3, 2)	  /* 196610: variable-length cancel keys */
#define RG_PG_CANCEL_CODE RG_PG_PROTO(1234, 5678) /* 80877102 */
#define RG_PG_SSL_CODE RG_PG_PROTO(1234, 5679)	  /* 80877103 */
#define RG_PG_GSSENC_CODE RG_PG_PROTO(1234, 5680) /* 80877104 */
#define RG_PG_STARTUP_MAX 10000 /* max startup packet bytes after the length, as PG */
#define RG_PG_CANCEL_KEY_MIN 4
#define RG_PG_CANCEL_KEY_MAX 256  /* protocol 3.2 allows keys of 4..256 bytes */
#define RG_PG_LEN_MAX 0x7fffffffu /* the length field is an int32 */

/*
 * Results. Framing returns >0 (bytes consumed), 0 (need more) or one of these; readers
 * and builders return 0 / a size or one of these. rg_pg_strerror names them.
 */
enum rg_pg_err {
	RG_PG_NEED_MORE = 0,
	RG_PG_E_LENGTH = -1,	   /* length field below the minimum, negative, or wrong size */
	RG_PG_E_TOO_LONG = -2,	   /* length over the limit configured for this message type */
	RG_PG_E_TYPE = -3,	   /* type byte not allowed in this direction */
	RG_PG_E_STARTUP_CODE = -4, /* startup packet with an unknown 1234.x request code */
	RG_PG_E_VERSION = -5,	   /* startup packet with a major protocol version other than 3 */
	RG_PG_E_DIRECT_TLS = -6,   /* first byte is a TLS handshake record (direct SSL); nothing
				    * consumed: the caller decides whether to accept TLS */
	RG_PG_E_TRUNCATED = -7,	   /* a field runs past the end of the message */
	RG_PG_E_NO_NUL = -8,	   /* a string is not NUL-terminated inside the message */
	RG_PG_E_TRAILING = -9,	   /* bytes left after the last field */
	RG_PG_E_VALUE = -10,	   /* a field holds an invalid value (kind byte, status, code) */
	RG_PG_E_DUPLICATE = -11,   /* a startup parameter that must be unique appears twice */
	RG_PG_E_WRONG_TYPE = -12,  /* reader called on a message of another type */
	RG_PG_E_TOO_MANY = -13,	   /* the caller's array is smaller than the message's count */
	RG_PG_E_ARG = -14,	   /* builder argument invalid (NUL in text, count too large) */
};
const char *rg_pg_strerror(int err);

/* Which peer sent the bytes: fe = the agent (client), be = the target (server). */
enum rg_pg_dir {
	RG_PG_FE = 0,
	RG_PG_BE = 1,
};

/* Frontend message types. */
#define RG_PG_FE_BIND 'B'
#define RG_PG_FE_CLOSE 'C'
#define RG_PG_FE_COPY_DATA 'd'
#define RG_PG_FE_COPY_DONE 'c'
#define RG_PG_FE_COPY_FAIL 'f'
#define RG_PG_FE_DESCRIBE 'D'
#define RG_PG_FE_EXECUTE 'E'
#define RG_PG_FE_FLUSH 'H'
#define RG_PG_FE_FUNCTION_CALL 'F'
#define RG_PG_FE_PARSE 'P'
#define RG_PG_FE_PASSWORD 'p' /* also SASLInitialResponse, SASLResponse, GSSResponse */
#define RG_PG_FE_QUERY 'Q'
#define RG_PG_FE_SYNC 'S'
#define RG_PG_FE_TERMINATE 'X'
/* Backend message types. */
#define RG_PG_BE_AUTH 'R'
#define RG_PG_BE_KEY_DATA 'K'
#define RG_PG_BE_BIND_COMPLETE '2'
#define RG_PG_BE_CLOSE_COMPLETE '3'
#define RG_PG_BE_COMMAND_COMPLETE 'C'
#define RG_PG_BE_COPY_DATA 'd'
#define RG_PG_BE_COPY_DONE 'c'
#define RG_PG_BE_COPY_IN 'G'
#define RG_PG_BE_COPY_OUT 'H'
#define RG_PG_BE_COPY_BOTH 'W'
#define RG_PG_BE_DATA_ROW 'D'
#define RG_PG_BE_EMPTY_QUERY 'I'
#define RG_PG_BE_ERROR 'E'
#define RG_PG_BE_FUNCTION_RESULT 'V'
#define RG_PG_BE_NEGOTIATE 'v'
#define RG_PG_BE_NO_DATA 'n'
#define RG_PG_BE_NOTICE 'N'
#define RG_PG_BE_NOTIFICATION 'A'
#define RG_PG_BE_PARAM_DESC 't'
#define RG_PG_BE_PARAM_STATUS 'S'
#define RG_PG_BE_PARSE_COMPLETE '1'
#define RG_PG_BE_PORTAL_SUSPENDED 's'
#define RG_PG_BE_READY 'Z'
#define RG_PG_BE_ROW_DESC 'T'

/* Human name of a type byte for logs ("Query", "DataRow"); "?" if unknown. */
const char *rg_pg_type_name(enum rg_pg_dir dir, uint8_t type);

/*
 * Per-type maximum of the length field (which counts itself: an empty body is 4).
 * 0 means the type is not allowed (RG_PG_E_TYPE). Defaults: data-carrying types
 * (Query, Parse, Bind, FunctionCall, CopyData, DataRow, RowDescription, errors, ...) get
 * data_max; others ctl_max; types without a body exactly 4; fixed-size ones their size.
 */
struct rg_pg_limits {
	uint32_t max[256];
};
/* data_max and ctl_max are clamped to RG_PG_LEN_MAX; 0 picks the default
 * (1 GiB data; ctl 10000 fe as PostgreSQL's small-message limit, 1 MiB be). */
void rg_pg_limits_init(struct rg_pg_limits *l, enum rg_pg_dir dir, uint32_t data_max,
		       uint32_t ctl_max);
/* Shared read-only defaults (rg_pg_limits_init(l, dir, 0, 0)). */
const struct rg_pg_limits *rg_pg_limits_default(enum rg_pg_dir dir);

/* One framed message. For startup-phase packets type is 0 and hdr is 4. */
struct rg_pg_msg {
	const uint8_t *start; /* first byte of the message (type byte) */
	const uint8_t *body;  /* first byte after the length field */
	uint32_t len;	      /* the length field: body_len + 4 */
	uint32_t body_len;
	uint64_t total; /* wire size: hdr + body_len; 0 while the header is incomplete */
	uint64_t need;	/* when framing returns 0: bytes still missing (>= 1) */
	uint8_t type;
	uint8_t hdr; /* 5 (type + length) or 4 (startup phase) */
};

/*
 * Frame one typed message at p[0..n). Returns:
 *   >0  bytes consumed (== out->total): a whole message, readers may be applied;
 *    0  need more: out->need bytes at least. Once the 5-byte header is in, out->type,
 *       out->len and out->total are set, so a large message can be forwarded in pieces
 *       as it arrives instead of being buffered whole;
 *   <0  enum rg_pg_err (type not allowed, length < 4 or > limit). Detected as early as
 *       the bytes allow: a bad type byte with n == 1.
 */
ssize_t rg_pg_frame(const uint8_t *p, size_t n, const struct rg_pg_limits *lim,
		    struct rg_pg_msg *out);

/* Build a message view over an already-framed buffer (e.g. a reassembled one). */
int rg_pg_msg_view(const uint8_t *p, size_t n, struct rg_pg_msg *out);

/* ---- Startup phase ------------------------------------------------------------------ */

enum rg_pg_startup_kind {
	RG_PG_STARTUP_MESSAGE = 1, /* protocol 3.x StartupMessage with parameters */
	RG_PG_SSL_REQUEST,	   /* answer one byte 'S' or 'N' */
	RG_PG_GSSENC_REQUEST,	   /* answer one byte 'G' or 'N' */
	RG_PG_CANCEL_REQUEST,
};

struct rg_pg_startup {
	struct rg_pg_msg msg;
	enum rg_pg_startup_kind kind;
	uint32_t code;	       /* protocol version or request code */
	uint16_t major, minor; /* StartupMessage: minor > 0 -> answer NegotiateProtocolVersion
				* (or forward); see npq_options too */
	/* StartupMessage: key\0value\0 pairs ending with an empty key; iterate with
	 * rg_pg_kv_begin. Well-known values point into the packet, NULL if absent. */
	const uint8_t *params;
	uint32_t params_len; /* up to and including the final terminator */
	uint32_t nparams;
	uint32_t npq_options; /* keys starting with "_pq_." (protocol options) */
	const char *user, *database, *application_name, *options, *replication;
	/* CancelRequest */
	uint32_t pid;
	const uint8_t *key; /* secret key, 4 bytes in 3.0, up to 256 in 3.2 */
	uint32_t key_len;
};

/*
 * Frame and parse one startup-phase packet (no type byte) at p[0..n). Returns bytes
 * consumed, 0 need more (out->msg.need), or <0: RG_PG_E_LENGTH (length < 8, or an
 * SSL/GSSENC/Cancel packet of the wrong size), RG_PG_E_TOO_LONG (> 10000 + 4 bytes),
 * RG_PG_E_STARTUP_CODE, RG_PG_E_VERSION (2.0 and other majors), RG_PG_E_DIRECT_TLS,
 * RG_PG_E_NO_NUL / RG_PG_E_TRAILING / RG_PG_E_VALUE (bad parameter layout: empty key
 * with bytes after it, missing value or terminator), RG_PG_E_DUPLICATE (user, database,
 * options or replication given twice: gateway and server must not disagree on which wins).
 * Does not require "user": that is the session's decision.
 * After an SSLRequest/GSSENCRequest the caller must refuse any bytes beyond the packet
 * before the TLS handshake (CVE-2021-23214: injected plaintext).
 */
ssize_t rg_pg_frame_startup(const uint8_t *p, size_t n, struct rg_pg_startup *out);

/* Iterator over StartupMessage parameters (already validated by rg_pg_frame_startup). */
struct rg_pg_kv_iter {
	const uint8_t *p;
	uint32_t n, off;
};
void rg_pg_kv_begin(const struct rg_pg_startup *s, struct rg_pg_kv_iter *it);
/* Returns true and sets key/value (NUL-terminated in the packet), false at the end. */
bool rg_pg_kv_next(struct rg_pg_kv_iter *it, const char **key, const char **value);

/* ---- Common pieces ------------------------------------------------------------------- */

/* A value of a DataRow, Bind or FunctionCall: len -1 = SQL NULL (data NULL).
 * off is the offset of data (or where it would be) from msg.start, so matches found by
 * scanning the whole message map to fields without pointer arithmetic. */
struct rg_pg_field {
	const uint8_t *data;
	int32_t len;
	uint32_t off;
};

/* Cursor over a count-prefixed list inside a message (fields, columns, notice fields). */
struct rg_pg_iter {
	const uint8_t *start; /* msg.start, for offsets */
	const uint8_t *p;     /* body */
	uint32_t n, off;      /* body length, cursor */
	uint32_t left;	      /* items left; UINT32_MAX for terminator-ended lists */
	uint32_t end;	      /* body offset where the list must end (trailing check) */
};
/* Next value: 1 = *f set, 0 = end of list (and the list ended exactly where it must),
 * <0 = error (truncated, length < -1, trailing bytes). */
int rg_pg_field_next(struct rg_pg_iter *it, struct rg_pg_field *f);

/*
 * Incremental DataRow walk for rows too large to hold (a 64 MiB field): feed the body
 * (not the 5-byte header) in pieces as they arrive, in order. Each call consumes some
 * bytes and reports at most one event; call again with the rest. Same strictness as
 * rg_pg_read_datarow (length < -1, a field past the body, bytes after the last field).
 */
enum rg_pg_row_ev {
	RG_PG_ROW_MORE = 0, /* all input consumed, no event: feed the next piece */
	RG_PG_ROW_FIELD,    /* field `index` starts: len (-1 NULL); data follows if len > 0 */
	RG_PG_ROW_DATA,	    /* data[0..n) is the next piece of field `index` */
	RG_PG_ROW_END,	    /* the row is complete; nothing more is consumed */
};
struct rg_pg_row_event {
	enum rg_pg_row_ev kind;
	uint16_t index;
	int32_t len;
	const uint8_t *data;
	size_t n;
	uint32_t off; /* body offset of data (DATA) or of the field's data (FIELD) */
};
struct rg_pg_row_stream {
	uint32_t body_len, pos; /* body bytes in the message / consumed so far */
	uint32_t data_left;	/* bytes of the current field still to come */
	uint16_t nfields, index;
	uint8_t word[4], have; /* a count or length word split across pieces */
	uint8_t state;
};
void rg_pg_row_stream_init(struct rg_pg_row_stream *s, uint32_t body_len);
/* Returns bytes consumed from p[0..n) (0 is possible, e.g. with an END event) or <0. */
ssize_t rg_pg_row_stream_next(struct rg_pg_row_stream *s, const uint8_t *p, size_t n,
			      struct rg_pg_row_event *ev);

/* ---- Frontend readers: 0 or <0 (RG_PG_E_WRONG_TYPE on another type or on an
 * incomplete message) ------------------------------------------------------------------ */

struct rg_pg_query {
	const char *sql; /* NUL-terminated in the message */
	uint32_t len;	 /* without the NUL */
};
int rg_pg_read_query(const struct rg_pg_msg *m, struct rg_pg_query *out);

struct rg_pg_parse {
	const char *stmt; /* "" = unnamed statement */
	uint32_t stmt_len;
	const char *query;
	uint32_t query_len;
	uint16_t nparams;
	const uint8_t *param_types; /* nparams big-endian OIDs; rg_pg_parse_param_type */
};
int rg_pg_read_parse(const struct rg_pg_msg *m, struct rg_pg_parse *out);
uint32_t rg_pg_parse_param_type(const struct rg_pg_parse *p, uint16_t i);

struct rg_pg_bind {
	const char *portal;
	uint32_t portal_len;
	const char *stmt;
	uint32_t stmt_len;
	uint16_t nformats; /* 0 (all text), 1 (applies to all) or nparams */
	const uint8_t *formats;
	uint16_t nparams;
	uint16_t nresult_formats;
	const uint8_t *result_formats;
	uint32_t params_off; /* body offset of the first parameter's length */
	uint32_t params_end; /* body offset just past the last parameter */
};
/* Validates the whole message (every parameter length walked once, formats 0/1). */
int rg_pg_read_bind(const struct rg_pg_msg *m, struct rg_pg_bind *out);
void rg_pg_bind_params(const struct rg_pg_msg *m, const struct rg_pg_bind *b,
		       struct rg_pg_iter *it);
/* Effective format (0 text, 1 binary) of parameter i / result column i. */
int16_t rg_pg_bind_param_format(const struct rg_pg_bind *b, uint16_t i);
int16_t rg_pg_bind_result_format(const struct rg_pg_bind *b, uint16_t i);

/* Describe and Close: kind 'S' (statement) or 'P' (portal). */
struct rg_pg_target {
	uint8_t kind;
	const char *name;
	uint32_t name_len;
};
int rg_pg_read_describe(const struct rg_pg_msg *m, struct rg_pg_target *out);
int rg_pg_read_close(const struct rg_pg_msg *m, struct rg_pg_target *out);

struct rg_pg_execute {
	const char *portal;
	uint32_t portal_len;
	int32_t max_rows; /* <= 0: no limit */
};
int rg_pg_read_execute(const struct rg_pg_msg *m, struct rg_pg_execute *out);

/* Sync, Flush, Terminate, CopyDone, NoData, ...: checks the body is empty. */
int rg_pg_read_empty(const struct rg_pg_msg *m);

/* 'p' depends on the authentication exchange in progress: */
int rg_pg_read_password(const struct rg_pg_msg *m, struct rg_pg_query *out); /* cleartext/md5 */
struct rg_pg_sasl_initial {
	const char *mechanism; /* "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS" */
	const uint8_t *data;   /* NULL when the client sent length -1 */
	int32_t data_len;
};
int rg_pg_read_sasl_initial(const struct rg_pg_msg *m, struct rg_pg_sasl_initial *out);
/* SASLResponse, GSSResponse and CopyData carry raw bytes: msg.body/body_len. */

int rg_pg_read_copy_fail(const struct rg_pg_msg *m, struct rg_pg_query *out);

struct rg_pg_function_call {
	uint32_t oid;
	uint16_t nformats;
	const uint8_t *formats;
	uint16_t nargs;
	uint32_t args_off, args_end;
	int16_t result_format;
};
int rg_pg_read_function_call(const struct rg_pg_msg *m, struct rg_pg_function_call *out);
void rg_pg_function_args(const struct rg_pg_msg *m, const struct rg_pg_function_call *fc,
			 struct rg_pg_iter *it);

/* ---- Backend readers ------------------------------------------------------------------ */

enum rg_pg_auth_code {
	RG_PG_AUTH_OK = 0,
	RG_PG_AUTH_KERBEROS_V5 = 2,
	RG_PG_AUTH_CLEARTEXT = 3,
	RG_PG_AUTH_MD5 = 5,
	RG_PG_AUTH_GSS = 7,
	RG_PG_AUTH_GSS_CONTINUE = 8,
	RG_PG_AUTH_SSPI = 9,
	RG_PG_AUTH_SASL = 10,
	RG_PG_AUTH_SASL_CONTINUE = 11,
	RG_PG_AUTH_SASL_FINAL = 12,
};
struct rg_pg_auth {
	uint32_t code;	     /* enum rg_pg_auth_code; unknown codes are RG_PG_E_VALUE */
	uint8_t salt[4];     /* MD5 */
	const uint8_t *data; /* SASL: mechanism list; SASLContinue/Final, GSSContinue: data */
	uint32_t data_len;
	uint32_t nmechanisms; /* SASL */
};
int rg_pg_read_auth(const struct rg_pg_msg *m, struct rg_pg_auth *out);
/* SASL mechanism list: call with *off = 0; returns the next name or NULL at the end. */
const char *rg_pg_auth_next_mechanism(const struct rg_pg_auth *a, uint32_t *off);

struct rg_pg_param_status {
	const char *name, *value;
};
int rg_pg_read_param_status(const struct rg_pg_msg *m, struct rg_pg_param_status *out);

struct rg_pg_key_data {
	uint32_t pid;
	const uint8_t *key;
	uint32_t key_len; /* 4 (3.0) .. 256 (3.2) */
};
int rg_pg_read_key_data(const struct rg_pg_msg *m, struct rg_pg_key_data *out);

/* ReadyForQuery: 'I' idle, 'T' in transaction, 'E' failed transaction. */
int rg_pg_read_ready(const struct rg_pg_msg *m, uint8_t *status);

struct rg_pg_column {
	const char *name;
	uint32_t name_len;
	uint32_t table_oid; /* 0 if not a plain table column */
	int16_t attnum;	    /* 0 if not a plain table column */
	uint32_t type_oid;
	int16_t typlen;
	int32_t typmod;
	int16_t format; /* 0 text, 1 binary (0 in a Describe answer: not yet known) */
};
/* RowDescription: iterator, or an array filled after validating the whole message
 * (RG_PG_E_TOO_MANY if cap < count; *count is set in both cases). */
int rg_pg_rowdesc_begin(const struct rg_pg_msg *m, struct rg_pg_iter *it, uint16_t *count);
int rg_pg_rowdesc_next(struct rg_pg_iter *it, struct rg_pg_column *c);
int rg_pg_read_rowdesc(const struct rg_pg_msg *m, struct rg_pg_column *cols, size_t cap,
		       uint16_t *count);

/* DataRow: same two shapes; fields via rg_pg_field_next. */
int rg_pg_datarow_begin(const struct rg_pg_msg *m, struct rg_pg_iter *it, uint16_t *count);
int rg_pg_read_datarow(const struct rg_pg_msg *m, struct rg_pg_field *fields, size_t cap,
		       uint16_t *count);

struct rg_pg_command_complete {
	const char *tag; /* "SELECT 5", "INSERT 0 1", "CREATE TABLE" */
	uint32_t len;
};
int rg_pg_read_command_complete(const struct rg_pg_msg *m, struct rg_pg_command_complete *out);
/* Row count at the end of a tag ("UPDATE 3" -> 3). false if the tag carries none. */
bool rg_pg_command_rows(const char *tag, uint64_t *rows);

/*
 * ErrorResponse / NoticeResponse fields, also the input of the builders. Reading points
 * into the message (NUL-terminated); absent fields are NULL; unknown codes are skipped
 * (the iterator shows them). Writing emits every non-NULL field.
 */
struct rg_pg_notice {
	const char *severity;	       /* S: localized */
	const char *severity_nl;       /* V: never localized (9.6+) */
	const char *sqlstate;	       /* C: five characters */
	const char *message;	       /* M */
	const char *detail;	       /* D */
	const char *hint;	       /* H */
	const char *position;	       /* P */
	const char *internal_position; /* p */
	const char *internal_query;    /* q */
	const char *where;	       /* W */
	const char *schema;	       /* s */
	const char *table;	       /* t */
	const char *column;	       /* c */
	const char *datatype;	       /* d */
	const char *constraint;	       /* n */
	const char *file;	       /* F */
	const char *line;	       /* L */
	const char *routine;	       /* R */
};
int rg_pg_read_notice(const struct rg_pg_msg *m, struct rg_pg_notice *out); /* 'E' or 'N' */
int rg_pg_notice_begin(const struct rg_pg_msg *m, struct rg_pg_iter *it);
/* 1 = (*code, *value) set, 0 = end (terminator was the last byte), <0 = error. */
int rg_pg_notice_next(struct rg_pg_iter *it, uint8_t *code, const char **value);

struct rg_pg_notification {
	uint32_t pid;
	const char *channel, *payload;
};
int rg_pg_read_notification(const struct rg_pg_msg *m, struct rg_pg_notification *out);

/* CopyInResponse, CopyOutResponse, CopyBothResponse. */
struct rg_pg_copy_response {
	int8_t format; /* 0 text, 1 binary */
	uint16_t ncolumns;
	const uint8_t *formats; /* ncolumns big-endian int16 */
};
int rg_pg_read_copy_response(const struct rg_pg_msg *m, struct rg_pg_copy_response *out);

struct rg_pg_param_desc {
	uint16_t nparams;
	const uint8_t *types; /* nparams big-endian OIDs */
};
int rg_pg_read_param_desc(const struct rg_pg_msg *m, struct rg_pg_param_desc *out);

struct rg_pg_negotiate {
	uint32_t version;  /* newest version the server supports */
	uint32_t noptions; /* unrecognized "_pq_." options, as strings after */
	const uint8_t *options;
	uint32_t options_len;
};
int rg_pg_read_negotiate(const struct rg_pg_msg *m, struct rg_pg_negotiate *out);
const char *rg_pg_negotiate_next_option(const struct rg_pg_negotiate *n, uint32_t *off);

/* FunctionCallResponse: one value, length -1 = NULL. */
int rg_pg_read_function_result(const struct rg_pg_msg *m, struct rg_pg_field *out);

/*
 * Full check of a framed message's body by type and direction, with the reader above (or
 * the empty-body check). 'p' (its layout depends on the auth exchange) and CopyData are
 * opaque and always valid. Returns 0 or the reader's error.
 */
int rg_pg_validate(enum rg_pg_dir dir, const struct rg_pg_msg *m);

/* ---- Builders -------------------------------------------------------------------------
 * Each writes one message into buf[0..cap) and returns the bytes it needs: if that is
 * > cap, nothing useful was written (call again with a bigger buffer). <0 = RG_PG_E_ARG
 * (or RG_PG_E_TOO_LONG for a message over RG_PG_LEN_MAX / the startup limit).
 */
ssize_t rg_pg_write_notice(uint8_t *buf, size_t cap, uint8_t type,
			   const struct rg_pg_notice *f); /* type 'E' or 'N' */
ssize_t rg_pg_write_error(uint8_t *buf, size_t cap, const char *severity, const char *sqlstate,
			  const char *message, const char *detail, const char *hint);
ssize_t rg_pg_write_auth(uint8_t *buf, size_t cap, uint32_t code, const uint8_t *data,
			 size_t len); /* raw: code + data */
ssize_t rg_pg_write_auth_ok(uint8_t *buf, size_t cap);
ssize_t rg_pg_write_auth_cleartext(uint8_t *buf, size_t cap);
ssize_t rg_pg_write_auth_md5(uint8_t *buf, size_t cap, const uint8_t salt[4]);
ssize_t rg_pg_write_auth_sasl(uint8_t *buf, size_t cap, const char *const *mechs, size_t n);
ssize_t rg_pg_write_auth_sasl_continue(uint8_t *buf, size_t cap, const uint8_t *d, size_t len);
ssize_t rg_pg_write_auth_sasl_final(uint8_t *buf, size_t cap, const uint8_t *d, size_t len);
ssize_t rg_pg_write_param_status(uint8_t *buf, size_t cap, const char *name, const char *value);
ssize_t rg_pg_write_key_data(uint8_t *buf, size_t cap, uint32_t pid, const uint8_t *key,
			     size_t key_len);
ssize_t rg_pg_write_ready(uint8_t *buf, size_t cap, uint8_t status);
ssize_t rg_pg_write_command_complete(uint8_t *buf, size_t cap, const char *tag);
ssize_t rg_pg_write_empty_query(uint8_t *buf, size_t cap);
/* DataRow from fields (data/len; len -1 = NULL; off ignored). */
ssize_t rg_pg_write_datarow(uint8_t *buf, size_t cap, const struct rg_pg_field *f, size_t n);
ssize_t rg_pg_write_negotiate(uint8_t *buf, size_t cap, uint32_t version,
			      const char *const *options, size_t n);
/* kv holds n pairs: kv[2i] key (non-empty), kv[2i+1] value. */
ssize_t rg_pg_write_startup(uint8_t *buf, size_t cap, uint32_t version, const char *const *kv,
			    size_t n);
ssize_t rg_pg_write_ssl_request(uint8_t *buf, size_t cap);
ssize_t rg_pg_write_gssenc_request(uint8_t *buf, size_t cap);
ssize_t rg_pg_write_cancel(uint8_t *buf, size_t cap, uint32_t pid, const uint8_t *key,
			   size_t key_len);
ssize_t rg_pg_write_password(uint8_t *buf, size_t cap, const char *password);
/* data NULL writes length -1 (no initial response). */
ssize_t rg_pg_write_sasl_initial(uint8_t *buf, size_t cap, const char *mechanism,
				 const uint8_t *data, size_t len);
ssize_t rg_pg_write_sasl_response(uint8_t *buf, size_t cap, const uint8_t *data, size_t len);
/* sql[0..len) must not contain NUL. */
ssize_t rg_pg_write_query(uint8_t *buf, size_t cap, const char *sql, size_t len);
ssize_t rg_pg_write_terminate(uint8_t *buf, size_t cap);

#endif
