/*
 * mysql-wire: the MySQL / MariaDB client-server protocol as pure functions over byte
 * buffers: packet framing and reassembly, length-encoded values, the connection phase
 * (handshake v10, HandshakeResponse41, SSLRequest, AuthSwitch, AuthMoreData), OK / ERR /
 * EOF, commands, result sets (text and binary rows with field spans), prepared-statement
 * packets, and the authentication methods' client computations.
 *
 * Invariants: every read is bounds-checked against the payload it was given; readers accept
 * exactly one layout per capability set and refuse trailing bytes where the server would,
 * so the gateway never reads a packet differently from its peer. Views returned point into
 * the caller's buffer (nothing is copied, nothing allocated). Builders write whole packets
 * (4-byte header included) into caller buffers and return the size they need.
 * Never: I/O, sockets, global state, or a crash on any input. Independent of engine/proto/pg.
 */
#ifndef RG_PROTO_MYSQL_WIRE_H
#define RG_PROTO_MYSQL_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Results: functions that consume bytes return >0 (consumed), 0 (need more) or one of
 * these; readers return 0 or one of these; builders the size they need or one of these.
 */
enum rg_my_err {
	RG_MY_NEED_MORE = 0,
	RG_MY_E_TRUNCATED = -1,	 /* a field runs past the end of the payload */
	RG_MY_E_TRAILING = -2,	 /* bytes left after the last field */
	RG_MY_E_VALUE = -3,	 /* a field holds a value the protocol does not allow */
	RG_MY_E_SEQ = -4,	 /* sequence id is not the expected one */
	RG_MY_E_TOO_LONG = -5,	 /* payload over the caller's limit (or a builder's 16 MiB) */
	RG_MY_E_NO_NUL = -6,	 /* a NUL-terminated string has no NUL in the payload */
	RG_MY_E_WRONG_TYPE = -7, /* reader applied to a packet of another kind (header byte) */
	RG_MY_E_ARG = -8,	 /* invalid argument (builder input, size) */
	RG_MY_E_TOO_MANY = -9,	 /* the caller's array is smaller than the packet's count */
	RG_MY_E_CRYPTO = -10,	 /* OpenSSL / libsodium failed, or a key could not be read */
	RG_MY_E_PROTOCOL = -11,	 /* valid bytes, but not allowed here (e.g. pre-4.1 client) */
};
const char *rg_my_strerror(int err);

/* ---- Constants ------------------------------------------------------------------------ */

#define RG_MY_HDR 4		      /* 3-byte length + 1-byte sequence id */
#define RG_MY_MAX_PACKET 0xffffffu    /* largest payload of one packet; = means "continued" */
#define RG_MY_SCRAMBLE_LEN 20	      /* native / caching_sha2 nonce */
#define RG_MY_SCRAMBLE_MAX 64	      /* what a handshake's auth data may hold */
#define RG_MY_ED25519_SCRAMBLE_LEN 32 /* MariaDB client_ed25519 nonce */

/* Capability flags: low 32 bits as MySQL defines them; bits 32..63 are MariaDB's extended
 * capabilities (carried in reserved bytes of the handshake and the response, only when the
 * peer's CLIENT_MYSQL bit, which is CLIENT_LONG_PASSWORD, is clear). */
#define RG_MY_CLIENT_LONG_PASSWORD (1ull << 0) /* MariaDB: CLIENT_MYSQL */
#define RG_MY_CLIENT_MYSQL RG_MY_CLIENT_LONG_PASSWORD
#define RG_MY_CLIENT_FOUND_ROWS (1ull << 1)
#define RG_MY_CLIENT_LONG_FLAG (1ull << 2)
#define RG_MY_CLIENT_CONNECT_WITH_DB (1ull << 3)
#define RG_MY_CLIENT_NO_SCHEMA (1ull << 4)
#define RG_MY_CLIENT_COMPRESS (1ull << 5)
#define RG_MY_CLIENT_ODBC (1ull << 6)
#define RG_MY_CLIENT_LOCAL_FILES (1ull << 7)
#define RG_MY_CLIENT_IGNORE_SPACE (1ull << 8)
#define RG_MY_CLIENT_PROTOCOL_41 (1ull << 9)
#define RG_MY_CLIENT_INTERACTIVE (1ull << 10)
#define RG_MY_CLIENT_SSL (1ull << 11)
#define RG_MY_CLIENT_IGNORE_SIGPIPE (1ull << 12)
#define RG_MY_CLIENT_TRANSACTIONS (1ull << 13)
#define RG_MY_CLIENT_RESERVED (1ull << 14)
#define RG_MY_CLIENT_SECURE_CONNECTION (1ull << 15) /* 1-byte-length auth response */
#define RG_MY_CLIENT_MULTI_STATEMENTS (1ull << 16)
#define RG_MY_CLIENT_MULTI_RESULTS (1ull << 17)
#define RG_MY_CLIENT_PS_MULTI_RESULTS (1ull << 18)
#define RG_MY_CLIENT_PLUGIN_AUTH (1ull << 19)
#define RG_MY_CLIENT_CONNECT_ATTRS (1ull << 20)
#define RG_MY_CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA (1ull << 21)
#define RG_MY_CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS (1ull << 22)
#define RG_MY_CLIENT_SESSION_TRACK (1ull << 23)
#define RG_MY_CLIENT_DEPRECATE_EOF (1ull << 24)
#define RG_MY_CLIENT_OPTIONAL_RESULTSET_METADATA (1ull << 25) /* MySQL 8 */
#define RG_MY_CLIENT_ZSTD_COMPRESSION (1ull << 26)	      /* MySQL 8 */
#define RG_MY_CLIENT_QUERY_ATTRIBUTES (1ull << 27)	      /* MySQL 8 */
#define RG_MY_CLIENT_MULTI_FACTOR_AUTH (1ull << 28)	      /* MySQL 8 */
#define RG_MY_CLIENT_CAPABILITY_EXTENSION (1ull << 29)
#define RG_MY_CLIENT_SSL_VERIFY_SERVER_CERT (1ull << 30)
#define RG_MY_CLIENT_REMEMBER_OPTIONS (1ull << 31)
#define RG_MY_MARIADB_CLIENT_PROGRESS (1ull << 32)
#define RG_MY_MARIADB_CLIENT_COM_MULTI (1ull << 33)
#define RG_MY_MARIADB_CLIENT_STMT_BULK_OPERATIONS (1ull << 34)
#define RG_MY_MARIADB_CLIENT_EXTENDED_METADATA (1ull << 35)
#define RG_MY_MARIADB_CLIENT_CACHE_METADATA (1ull << 36)
#define RG_MY_MARIADB_CLIENT_BULK_UNIT_RESULTS (1ull << 37)

/*
 * What a gateway that does not implement them must clear in the capabilities it offers and
 * forwards: compression (the byte stream would no longer be readable), layouts this codec
 * does not parse (query attributes, optional metadata, metadata caching, bulk and
 * COM_MULTI, progress packets, multi-factor auth).
 */
#define RG_MY_CAPS_UNSUPPORTED                                                                     \
	(RG_MY_CLIENT_COMPRESS | RG_MY_CLIENT_ZSTD_COMPRESSION | RG_MY_CLIENT_QUERY_ATTRIBUTES |   \
	 RG_MY_CLIENT_OPTIONAL_RESULTSET_METADATA | RG_MY_CLIENT_MULTI_FACTOR_AUTH |               \
	 RG_MY_MARIADB_CLIENT_PROGRESS | RG_MY_MARIADB_CLIENT_COM_MULTI |                          \
	 RG_MY_MARIADB_CLIENT_STMT_BULK_OPERATIONS | RG_MY_MARIADB_CLIENT_CACHE_METADATA |         \
	 RG_MY_MARIADB_CLIENT_BULK_UNIT_RESULTS)

/* Server status flags (OK, EOF, handshake). */
#define RG_MY_SERVER_STATUS_IN_TRANS 0x0001
#define RG_MY_SERVER_STATUS_AUTOCOMMIT 0x0002
#define RG_MY_SERVER_MORE_RESULTS_EXISTS 0x0008
#define RG_MY_SERVER_QUERY_NO_GOOD_INDEX_USED 0x0010
#define RG_MY_SERVER_QUERY_NO_INDEX_USED 0x0020
#define RG_MY_SERVER_STATUS_CURSOR_EXISTS 0x0040
#define RG_MY_SERVER_STATUS_LAST_ROW_SENT 0x0080
#define RG_MY_SERVER_STATUS_DB_DROPPED 0x0100
#define RG_MY_SERVER_STATUS_NO_BACKSLASH_ESCAPES 0x0200
#define RG_MY_SERVER_STATUS_METADATA_CHANGED 0x0400
#define RG_MY_SERVER_QUERY_WAS_SLOW 0x0800
#define RG_MY_SERVER_PS_OUT_PARAMS 0x1000
#define RG_MY_SERVER_STATUS_IN_TRANS_READONLY 0x2000
#define RG_MY_SERVER_SESSION_STATE_CHANGED 0x4000

/* Command bytes (first payload byte of every command-phase client packet). */
enum rg_my_com {
	RG_MY_COM_SLEEP = 0x00,
	RG_MY_COM_QUIT = 0x01,
	RG_MY_COM_INIT_DB = 0x02,
	RG_MY_COM_QUERY = 0x03,
	RG_MY_COM_FIELD_LIST = 0x04,
	RG_MY_COM_CREATE_DB = 0x05,
	RG_MY_COM_DROP_DB = 0x06,
	RG_MY_COM_REFRESH = 0x07,
	RG_MY_COM_SHUTDOWN = 0x08,
	RG_MY_COM_STATISTICS = 0x09,
	RG_MY_COM_PROCESS_INFO = 0x0a,
	RG_MY_COM_CONNECT = 0x0b,
	RG_MY_COM_PROCESS_KILL = 0x0c,
	RG_MY_COM_DEBUG = 0x0d,
	RG_MY_COM_PING = 0x0e,
	RG_MY_COM_TIME = 0x0f,
	RG_MY_COM_DELAYED_INSERT = 0x10,
	RG_MY_COM_CHANGE_USER = 0x11,
	RG_MY_COM_BINLOG_DUMP = 0x12,
	RG_MY_COM_TABLE_DUMP = 0x13,
	RG_MY_COM_CONNECT_OUT = 0x14,
	RG_MY_COM_REGISTER_SLAVE = 0x15,
	RG_MY_COM_STMT_PREPARE = 0x16,
	RG_MY_COM_STMT_EXECUTE = 0x17,
	RG_MY_COM_STMT_SEND_LONG_DATA = 0x18,
	RG_MY_COM_STMT_CLOSE = 0x19,
	RG_MY_COM_STMT_RESET = 0x1a,
	RG_MY_COM_SET_OPTION = 0x1b,
	RG_MY_COM_STMT_FETCH = 0x1c,
	RG_MY_COM_DAEMON = 0x1d,
	RG_MY_COM_BINLOG_DUMP_GTID = 0x1e,
	RG_MY_COM_RESET_CONNECTION = 0x1f,
	RG_MY_COM_MULTI = 0xfe,		    /* MariaDB */
	RG_MY_COM_STMT_BULK_EXECUTE = 0xfa, /* MariaDB */
};
/* Human name ("COM_QUERY"), "COM_?" if unknown. */
const char *rg_my_com_name(uint8_t cmd);

/* COM_SET_OPTION values. */
#define RG_MY_OPTION_MULTI_STATEMENTS_ON 0
#define RG_MY_OPTION_MULTI_STATEMENTS_OFF 1

/* Column / parameter types (ColumnDefinition41.type, binary protocol). */
enum rg_my_type {
	RG_MY_TYPE_DECIMAL = 0,
	RG_MY_TYPE_TINY = 1,
	RG_MY_TYPE_SHORT = 2,
	RG_MY_TYPE_LONG = 3,
	RG_MY_TYPE_FLOAT = 4,
	RG_MY_TYPE_DOUBLE = 5,
	RG_MY_TYPE_NULL = 6,
	RG_MY_TYPE_TIMESTAMP = 7,
	RG_MY_TYPE_LONGLONG = 8,
	RG_MY_TYPE_INT24 = 9,
	RG_MY_TYPE_DATE = 10,
	RG_MY_TYPE_TIME = 11,
	RG_MY_TYPE_DATETIME = 12,
	RG_MY_TYPE_YEAR = 13,
	RG_MY_TYPE_NEWDATE = 14, /* internal to the server, never on the wire */
	RG_MY_TYPE_VARCHAR = 15,
	RG_MY_TYPE_BIT = 16,
	RG_MY_TYPE_TIMESTAMP2 = 17,  /* replication only */
	RG_MY_TYPE_DATETIME2 = 18,   /* replication only */
	RG_MY_TYPE_TIME2 = 19,	     /* replication only */
	RG_MY_TYPE_TYPED_ARRAY = 20, /* MySQL replication only */
	RG_MY_TYPE_VECTOR = 242,     /* MySQL 9 */
	RG_MY_TYPE_INVALID = 243,
	RG_MY_TYPE_BOOL = 244, /* placeholder in MySQL's sources, never on the wire */
	RG_MY_TYPE_JSON = 245,
	RG_MY_TYPE_NEWDECIMAL = 246,
	RG_MY_TYPE_ENUM = 247,
	RG_MY_TYPE_SET = 248,
	RG_MY_TYPE_TINY_BLOB = 249,
	RG_MY_TYPE_MEDIUM_BLOB = 250,
	RG_MY_TYPE_LONG_BLOB = 251,
	RG_MY_TYPE_BLOB = 252,
	RG_MY_TYPE_VAR_STRING = 253,
	RG_MY_TYPE_STRING = 254,
	RG_MY_TYPE_GEOMETRY = 255,
};
/* Column flags (ColumnDefinition41.flags); parameter type flag byte 0x80 = unsigned. */
#define RG_MY_NOT_NULL_FLAG 0x0001
#define RG_MY_PRI_KEY_FLAG 0x0002
#define RG_MY_UNIQUE_KEY_FLAG 0x0004
#define RG_MY_MULTIPLE_KEY_FLAG 0x0008
#define RG_MY_BLOB_FLAG 0x0010
#define RG_MY_UNSIGNED_FLAG 0x0020
#define RG_MY_ZEROFILL_FLAG 0x0040
#define RG_MY_BINARY_FLAG 0x0080
#define RG_MY_ENUM_FLAG 0x0100
#define RG_MY_AUTO_INCREMENT_FLAG 0x0200
#define RG_MY_TIMESTAMP_FLAG 0x0400
#define RG_MY_SET_FLAG 0x0800
#define RG_MY_PARAM_UNSIGNED 0x80

/* Errors the gateway sends itself (code, SQLSTATE). */
#define RG_MY_ER_HANDSHAKE_ERROR 1043	       /* 08S01: bad handshake */
#define RG_MY_ER_DBACCESS_DENIED 1044	       /* 42000 */
#define RG_MY_ER_ACCESS_DENIED 1045	       /* 28000 */
#define RG_MY_ER_UNKNOWN_COM 1047	       /* 08S01 */
#define RG_MY_ER_TABLEACCESS_DENIED 1142       /* 42000 */
#define RG_MY_ER_COLUMNACCESS_DENIED 1143      /* 42000 */
#define RG_MY_ER_NET_PACKET_TOO_LARGE 1153     /* 08S01 */
#define RG_MY_ER_NET_PACKETS_OUT_OF_ORDER 1156 /* 08S01 */
#define RG_MY_ER_SPECIFIC_ACCESS_DENIED 1227   /* 42000 */
#define RG_MY_ER_NOT_SUPPORTED_AUTH_MODE 1251  /* 08004 */
#define RG_MY_ER_PROCACCESS_DENIED 1370	       /* 42000 */

/* ---- Byte views and the reader cursor -------------------------------------------------- */

/* A run of bytes inside a payload; off is its offset from the payload's first byte, so a
 * masker that scans the whole payload can map a match to its field. */
struct rg_my_str {
	const uint8_t *p;
	uint64_t len;
	uint32_t off;
};

/* Cursor over one payload: every read checks the remaining length first. */
struct rg_my_rd {
	const uint8_t *p;
	size_t n, off;
};
static inline void rg_my_rd_init(struct rg_my_rd *r, const uint8_t *p, size_t n)
{
	r->p = p;
	r->n = n;
	r->off = 0;
}
static inline size_t rg_my_rd_left(const struct rg_my_rd *r)
{
	return r->n - r->off;
}
int rg_my_rd_u8(struct rg_my_rd *r, uint8_t *v);
int rg_my_rd_fixed(struct rg_my_rd *r, unsigned width, uint64_t *v); /* little-endian 1..8 */
int rg_my_rd_bytes(struct rg_my_rd *r, size_t len, struct rg_my_str *s);
/*
 * Length-encoded integer: < 0xfb itself; 0xfc + 2 bytes; 0xfd + 3; 0xfe + 8. 0xfb is NULL
 * (only meaningful in text rows: *is_null set when is_null != NULL, else RG_MY_E_VALUE);
 * 0xff is never an integer (RG_MY_E_VALUE). Non-minimal encodings are accepted, as the
 * server accepts them.
 */
int rg_my_rd_lenenc(struct rg_my_rd *r, uint64_t *v, bool *is_null);
int rg_my_rd_lenenc_str(struct rg_my_rd *r, struct rg_my_str *s);
int rg_my_rd_nul_str(struct rg_my_rd *r, struct rg_my_str *s); /* len excludes the NUL */
int rg_my_rd_rest(struct rg_my_rd *r, struct rg_my_str *s);    /* string<EOF> */
int rg_my_rd_end(const struct rg_my_rd *r);		       /* RG_MY_E_TRAILING if any */

/* Length-encoded integer from p[0..n): >0 bytes used, <0 error (as rg_my_rd_lenenc). */
int rg_my_lenenc_decode(const uint8_t *p, size_t n, uint64_t *v, bool *is_null);
/* Bytes needed to encode v (1, 3, 4 or 9) and the encoder (writes that many bytes). */
unsigned rg_my_lenenc_size(uint64_t v);
unsigned rg_my_lenenc_encode(uint8_t *p, uint64_t v);

/* ---- Packets and messages ------------------------------------------------------------- */

static inline uint8_t rg_my_seq_next(uint8_t seq)
{
	return (uint8_t)(seq + 1); /* wraps 255 -> 0, as the server's counter does */
}
/* 0 if got is the expected sequence id, else RG_MY_E_SEQ. */
static inline int rg_my_seq_check(uint8_t got, uint8_t want)
{
	return got == want ? 0 : RG_MY_E_SEQ;
}

/* One physical packet. */
struct rg_my_packet {
	const uint8_t *start;	/* the header */
	const uint8_t *payload; /* start + 4 */
	uint32_t len;		/* payload length (0 .. 0xffffff) */
	uint8_t seq;
	uint32_t need; /* when framing returns 0: bytes still missing (>= 1) */
};
/* >0 consumed (4 + len), 0 need more (out->need). Any length is valid on its own. */
ssize_t rg_my_frame_packet(const uint8_t *p, size_t n, struct rg_my_packet *out);

/*
 * One logical message: a run of packets whose payloads are 0xffffff long, ending with the
 * first shorter one (possibly empty). A message of exactly k * 0xffffff bytes ends with an
 * empty packet. Sequence ids must increase by one per packet.
 */
struct rg_my_msg {
	const uint8_t *start; /* first header */
	uint64_t total;	      /* wire bytes, all headers included */
	uint64_t len;	      /* payload bytes, all packets together */
	uint32_t npackets;
	uint8_t seq_first;
	uint8_t seq_next;	/* what the next packet of the exchange must carry */
	const uint8_t *payload; /* first packet's payload; contiguous iff npackets == 1 */
	uint64_t need;		/* when framing returns 0: bytes still missing (>= 1, a lower
				 * bound when the last header has not arrived) */
};
/*
 * Frame one whole message at p[0..n). expect_seq: the first packet's expected id, or -1
 * not to check. max_len: 0 = no limit, else RG_MY_E_TOO_LONG as soon as the packets seen
 * already exceed it (before they are all in). Returns >0 consumed (out->total), 0 need
 * more, or <0 (RG_MY_E_SEQ, RG_MY_E_TOO_LONG, RG_MY_E_ARG for expect_seq > 255).
 */
ssize_t rg_my_frame_msg(const uint8_t *p, size_t n, int expect_seq, uint64_t max_len,
			struct rg_my_msg *out);
/* Copy a framed message's payload (headers dropped) into dst[0..cap). Returns the
 * payload length or RG_MY_E_ARG if cap is smaller. */
ssize_t rg_my_msg_gather(const struct rg_my_msg *m, uint8_t *dst, size_t cap);

/*
 * Incremental reassembly for messages too big to hold whole: feed wire bytes as they
 * arrive; each call consumes some and reports at most one event. Headers are checked and
 * skipped; payload bytes are handed out in pieces.
 */
enum rg_my_stream_ev {
	RG_MY_STREAM_MORE = 0, /* everything given was consumed: feed more */
	RG_MY_STREAM_DATA,     /* data[0..n) is the next piece of the message's payload */
	RG_MY_STREAM_END,      /* the message is complete; the next call starts a new one */
};
struct rg_my_stream_event {
	enum rg_my_stream_ev kind;
	const uint8_t *data;
	size_t n;
	uint64_t pos; /* payload offset of data (DATA) / message length (END) */
};
struct rg_my_stream {
	uint64_t len;	      /* payload bytes of the current message so far */
	uint64_t max_len;     /* 0 = unlimited */
	uint32_t frag_left;   /* payload bytes of the current packet still to come */
	uint8_t hdr[4], have; /* a header split across calls */
	uint8_t seq;	      /* expected id of the next packet */
	bool check_seq;
	bool in_packet; /* inside a packet's payload */
	bool last;	/* the current packet is the message's last */
};
/* expect_seq -1: take the first packet's id as given. */
void rg_my_stream_init(struct rg_my_stream *s, int expect_seq, uint64_t max_len);
/* >=0 bytes consumed (0 is possible with an END event), or <0. */
ssize_t rg_my_stream_next(struct rg_my_stream *s, const uint8_t *p, size_t n,
			  struct rg_my_stream_event *ev);

/*
 * Write payload[0..len) as packets starting at sequence id seq, split at 0xffffff with the
 * empty terminating packet when len is a multiple of it (len 0 is one empty packet).
 * Returns the wire size needed (written only if <= cap); *seq_next (may be NULL) gets the
 * id following the last packet.
 */
ssize_t rg_my_write_packets(uint8_t *buf, size_t cap, uint8_t seq, const uint8_t *payload,
			    size_t len, uint8_t *seq_next);

/* ---- Connection phase ------------------------------------------------------------------ */

struct rg_my_handshake {
	uint8_t protocol; /* 10 */
	struct rg_my_str server_version;
	uint32_t conn_id;
	uint8_t scramble[RG_MY_SCRAMBLE_MAX]; /* both parts joined (copied: they are split) */
	uint8_t scramble_len;		      /* 20 from MySQL and MariaDB */
	uint8_t auth_data_len; /* the field as sent (21 = 20 + NUL), 0 without PLUGIN_AUTH */
	uint64_t caps;	       /* bits 32..63: MariaDB's, only when CLIENT_MYSQL is clear */
	uint8_t charset;
	uint16_t status;
	struct rg_my_str auth_plugin; /* empty without CLIENT_PLUGIN_AUTH */
};
/* Initial Handshake v10 payload. RG_MY_E_PROTOCOL for a protocol byte other than 10 (an
 * ERR packet from a server refusing the connection is RG_MY_E_WRONG_TYPE: read it with
 * rg_my_read_err). Accepts a plugin name without its final NUL (old servers). */
int rg_my_read_handshake(const uint8_t *p, size_t n, struct rg_my_handshake *out);
/* Builds the packet (seq 0) from h; server_version/auth_plugin must not contain NUL;
 * scramble_len 8 without SECURE_CONNECTION, else 20..RG_MY_SCRAMBLE_MAX-1 (exactly 20
 * without PLUGIN_AUTH, whose absence leaves the length implicit). auth_data_len is
 * recomputed. A gateway clears RG_MY_CAPS_UNSUPPORTED in h->caps before building. */
ssize_t rg_my_write_handshake(uint8_t *buf, size_t cap, const struct rg_my_handshake *h);

/* HandshakeResponse41 (or an SSLRequest: the same first 32 bytes only). */
struct rg_my_response {
	uint64_t caps; /* with MariaDB's extended bits when the client's CLIENT_MYSQL is clear */
	uint32_t max_packet;
	uint8_t charset;
	bool ssl_request; /* 32-byte payload with CLIENT_SSL: start TLS, full response follows */
	struct rg_my_str user;
	struct rg_my_str auth;	   /* auth response bytes (lenenc, 1-byte length or NUL form) */
	struct rg_my_str database; /* empty without CLIENT_CONNECT_WITH_DB */
	struct rg_my_str plugin;   /* empty without CLIENT_PLUGIN_AUTH */
	struct rg_my_str attrs;	   /* key/value lenenc pairs (the total length dropped);
				    * rg_my_attr_next walks them; empty without CONNECT_ATTRS */
	uint8_t zstd_level;	   /* with CLIENT_ZSTD_COMPRESSION_ALGORITHM */
};
/* RG_MY_E_PROTOCOL for a pre-4.1 client (no CLIENT_PROTOCOL_41). */
int rg_my_read_response(const uint8_t *p, size_t n, struct rg_my_response *out);
/* Next connect attribute: 1 = (*key, *value) set, 0 = end, <0 = malformed. *off starts 0. */
int rg_my_attr_next(const struct rg_my_str *attrs, size_t *off, struct rg_my_str *key,
		    struct rg_my_str *value);
/* Append one key/value pair to an attribute block being built in buf at *len (cap bytes);
 * returns 0 or RG_MY_E_ARG when it does not fit. */
int rg_my_attr_put(uint8_t *buf, size_t cap, size_t *len, const char *key, const char *value);
/* Builds the packet with sequence id seq (1, or 2 after an SSLRequest). The auth form is
 * chosen by caps: LENENC_CLIENT_DATA, else SECURE_CONNECTION (<= 255 bytes), else NUL
 * (no NUL allowed in it). Fields absent from caps are not written. */
ssize_t rg_my_write_response(uint8_t *buf, size_t cap, uint8_t seq, const struct rg_my_response *r);
ssize_t rg_my_write_ssl_request(uint8_t *buf, size_t cap, uint8_t seq, uint64_t caps,
				uint32_t max_packet, uint8_t charset);

/* AuthSwitchRequest: 0xfe, plugin name NUL, plugin data (string<EOF>; MySQL and MariaDB
 * append a NUL to a 20-byte scramble, which data includes). A lone 0xfe is the pre-4.1
 * "use old passwords" request: plugin empty, old_style true. */
struct rg_my_auth_switch {
	struct rg_my_str plugin;
	struct rg_my_str data;
	bool old_style;
};
int rg_my_read_auth_switch(const uint8_t *p, size_t n, struct rg_my_auth_switch *out);
ssize_t rg_my_write_auth_switch(uint8_t *buf, size_t cap, uint8_t seq, const char *plugin,
				const uint8_t *data, size_t len);
/* AuthMoreData: 0x01 + data (caching_sha2: 0x03 fast-auth OK, 0x04 full auth needed; or a
 * PEM public key). */
int rg_my_read_auth_more_data(const uint8_t *p, size_t n, struct rg_my_str *data);
ssize_t rg_my_write_auth_more_data(uint8_t *buf, size_t cap, uint8_t seq, const uint8_t *data,
				   size_t len);
/* Raw auth data packet from the client (a response to AuthSwitch/AuthMoreData). */
ssize_t rg_my_write_auth_data(uint8_t *buf, size_t cap, uint8_t seq, const uint8_t *data,
			      size_t len);

/* What a server packet in the connection phase or after a command is, by its first byte
 * and length (0xfe is EOF only below 9 bytes, OK-as-EOF only below 0xffffff). */
enum rg_my_kind {
	RG_MY_KIND_OTHER = 0,	 /* a row, column count, column definition, handshake... */
	RG_MY_KIND_OK,		 /* 0x00 (and at least 7 bytes) */
	RG_MY_KIND_ERR,		 /* 0xff */
	RG_MY_KIND_EOF,		 /* 0xfe, < 9 bytes (< 7 with DEPRECATE_EOF): EOF_Packet */
	RG_MY_KIND_OK_EOF,	 /* DEPRECATE_EOF only: 0xfe, 7 bytes up to below 0xffffff:
				  * the OK packet that ends a result set */
	RG_MY_KIND_LOCAL_INFILE, /* 0xfb: LOCAL INFILE request after a COM_QUERY */
};
/* In a result set, `in_rows` true: 0x00 is a binary row, not OK. */
enum rg_my_kind rg_my_classify(const uint8_t *p, size_t n, uint64_t caps, bool in_rows);

struct rg_my_ok {
	uint8_t header; /* 0x00, or 0xfe for OK-as-EOF */
	uint64_t affected_rows;
	uint64_t last_insert_id;
	uint16_t status;
	uint16_t warnings;
	struct rg_my_str info;		/* human-readable message */
	struct rg_my_str session_state; /* SESSION_TRACK + SESSION_STATE_CHANGED: raw block */
};
int rg_my_read_ok(const uint8_t *p, size_t n, uint64_t caps, struct rg_my_ok *out);
ssize_t rg_my_write_ok(uint8_t *buf, size_t cap, uint8_t seq, uint64_t caps,
		       const struct rg_my_ok *ok);

struct rg_my_err_pkt {
	uint16_t code;
	char sqlstate[6]; /* "" when the packet has no '#' marker (early handshake errors) */
	struct rg_my_str message;
};
/* The SQLSTATE is read when the '#' marker is there (4.1 servers always send it once the
 * client said PROTOCOL_41; errors before the handshake may lack it). Code 0xffff is a
 * MariaDB progress report, not an error: RG_MY_E_VALUE (progress is never negotiated). */
int rg_my_read_err(const uint8_t *p, size_t n, struct rg_my_err_pkt *out);
/* ERR with the '#' SQLSTATE marker (the 4.1 form every supported client speaks):
 * sqlstate exactly 5 characters; message truncated to 512 bytes as the server does. */
ssize_t rg_my_write_err(uint8_t *buf, size_t cap, uint8_t seq, uint16_t code, const char *sqlstate,
			const char *message);

struct rg_my_eof {
	uint16_t warnings;
	uint16_t status;
};
int rg_my_read_eof(const uint8_t *p, size_t n, struct rg_my_eof *out);
ssize_t rg_my_write_eof(uint8_t *buf, size_t cap, uint8_t seq, uint16_t warnings, uint16_t status);

/* ---- Commands -------------------------------------------------------------------------- */

struct rg_my_command {
	uint8_t cmd;	      /* enum rg_my_com */
	struct rg_my_str arg; /* everything after the command byte */
};
/* Splits the command byte off; RG_MY_E_TRUNCATED for an empty payload. */
int rg_my_read_command(const uint8_t *p, size_t n, struct rg_my_command *out);
/* A command packet (seq 0): cmd + arg (COM_QUERY text, COM_INIT_DB name, ...). A command
 * of 16 MiB or more is split into packets as the protocol requires. */
ssize_t rg_my_write_command(uint8_t *buf, size_t cap, uint8_t cmd, const void *arg, size_t len);

/* COM_SET_OPTION: 2-byte option. */
int rg_my_read_set_option(const uint8_t *p, size_t n, uint16_t *option);
/* COM_FIELD_LIST: table NUL, wildcard string<EOF>. */
int rg_my_read_field_list(const uint8_t *p, size_t n, struct rg_my_str *table,
			  struct rg_my_str *wildcard);
/* COM_CHANGE_USER: user NUL, auth (1-byte length if SECURE_CONNECTION, else NUL), db NUL,
 * then (optional, as old clients stop) charset(2), plugin NUL if PLUGIN_AUTH, attrs if
 * CONNECT_ATTRS. caps: the session's negotiated capabilities. */
struct rg_my_change_user {
	struct rg_my_str user, auth, database, plugin, attrs;
	uint16_t charset;
	bool has_charset;
};
int rg_my_read_change_user(const uint8_t *p, size_t n, uint64_t caps,
			   struct rg_my_change_user *out);
/* COM_PROCESS_KILL: 4-byte connection id. */
int rg_my_read_process_kill(const uint8_t *p, size_t n, uint32_t *conn_id);

/* ---- Result sets ----------------------------------------------------------------------- */

/* Column count packet: lenenc count (+ a metadata-follows byte with
 * MARIADB_CLIENT_CACHE_METADATA, which this codec does not negotiate: refused). */
int rg_my_read_column_count(const uint8_t *p, size_t n, uint64_t caps, uint64_t *count);

struct rg_my_column {
	struct rg_my_str catalog, schema, table, org_table, name, org_name;
	struct rg_my_str ext;	 /* MariaDB extended metadata block (type/format names) */
	struct rg_my_str defval; /* COM_FIELD_LIST only: default value (len 0 if none) */
	uint16_t charset;
	uint32_t length;
	uint8_t type; /* enum rg_my_type */
	uint16_t flags;
	uint8_t decimals;
	bool has_defval;
};
/* ColumnDefinition41; field_list: the answer to COM_FIELD_LIST (a default value may
 * follow). caps: MARIADB_CLIENT_EXTENDED_METADATA adds the ext block. */
int rg_my_read_column(const uint8_t *p, size_t n, uint64_t caps, bool field_list,
		      struct rg_my_column *out);
/* Builder for tests and for gateway-made result sets (no ext block, no default). */
ssize_t rg_my_write_column(uint8_t *buf, size_t cap, uint8_t seq, const struct rg_my_column *c);

/* A row's field: off/len inside the payload; is_null for SQL NULL (len 0). */
struct rg_my_field {
	uint32_t off;
	uint64_t len;
	bool is_null;
};
/* Text-protocol row: exactly ncols lenenc strings or 0xfb. RG_MY_E_TOO_MANY if cap < ncols.
 * A payload starting with 0xfe shorter than 0xffffff (EOF, OK-as-EOF: a row starting with
 * 0xfe holds a field of 16 MiB or more) or with 0xff (ERR) is not a row: RG_MY_E_WRONG_TYPE. */
int rg_my_read_text_row(const uint8_t *p, size_t n, uint32_t ncols, struct rg_my_field *f,
			size_t cap);
/* Builder: fields given as data/len pairs (data NULL = SQL NULL). */
struct rg_my_value {
	const void *data;
	uint64_t len;
};
ssize_t rg_my_write_text_row(uint8_t *buf, size_t cap, uint8_t seq, const struct rg_my_value *v,
			     size_t n);

/*
 * Bytes one binary-protocol value of `type` takes at p[0..n): fixed sizes for numbers,
 * a length byte + 0/4/7/11 (dates) or 0/8/12 (time), lenenc strings for the rest. For
 * string and temporal types *data_off gets the offset of the bytes after the length prefix
 * (0 for numbers) and *data_len their count. >0 used (0 for MYSQL_TYPE_NULL),
 * <0 error (RG_MY_E_VALUE for types never sent on the wire, and for bad temporal lengths).
 */
ssize_t rg_my_binary_value(uint8_t type, const uint8_t *p, size_t n, uint32_t *data_off,
			   uint64_t *data_len);
/* Binary-protocol row: 0x00, NULL bitmap of (ncols + 9) / 8 bytes (bit i + 2 = column i),
 * then each non-NULL value per types[i]. Fields' off/len span the value bytes (for string
 * types, after the length prefix). */
int rg_my_read_binary_row(const uint8_t *p, size_t n, uint32_t ncols, const uint8_t *types,
			  struct rg_my_field *f, size_t cap);

/*
 * A run of rows, whole in one receive buffer, framed together (the relay's fast path;
 * docs/mysql.md, "Runs of rows"). rg_my_rowrun_frame frames rows at p[0..n) by their
 * headers while each is one whole packet (payload below 0xffffff: a row of 16 MiB or more
 * is the per-message path's) carrying the next sequence id from seq on, with a payload that
 * is neither empty nor starts with 0xff or 0xfe (ERR, EOF, OK-as-EOF end the rows). Anything
 * else ends the run; what it is, the per-message path decides. Whether the rows read with
 * the result's columns is the masker's to check (mask.c my_rows_run). Returns the bytes
 * framed; rr->rows, their count; rr->seq_next, the id after them.
 */
struct rg_my_rowrun {
	const uint8_t *p;
	size_t framed;
	uint32_t rows;
	uint8_t seq_next;
};
size_t rg_my_rowrun_frame(struct rg_my_rowrun *rr, const uint8_t *p, size_t n, uint8_t seq);

/* COM_STMT_PREPARE answer (first packet). */
struct rg_my_prepare_ok {
	uint32_t stmt_id;
	uint16_t ncols;
	uint16_t nparams;
	uint16_t warnings;
};
int rg_my_read_prepare_ok(const uint8_t *p, size_t n, struct rg_my_prepare_ok *out);
ssize_t rg_my_write_prepare_ok(uint8_t *buf, size_t cap, uint8_t seq,
			       const struct rg_my_prepare_ok *ok);

/* COM_STMT_EXECUTE cursor flags. */
#define RG_MY_CURSOR_TYPE_NO_CURSOR 0x00
#define RG_MY_CURSOR_TYPE_READ_ONLY 0x01
#define RG_MY_CURSOR_TYPE_FOR_UPDATE 0x02
#define RG_MY_CURSOR_TYPE_SCROLLABLE 0x04
#define RG_MY_PARAMETER_COUNT_AVAILABLE 0x08 /* MySQL 8 query attributes: not negotiated */

struct rg_my_param {
	uint8_t type;
	bool is_unsigned;
	bool is_null;
	bool long_data; /* its value came with COM_STMT_SEND_LONG_DATA: not in this packet */
	uint32_t off;	/* value bytes in the payload (after a length prefix) */
	uint64_t len;
};
struct rg_my_execute {
	uint32_t stmt_id;
	uint8_t flags;
	uint32_t iterations; /* always 1 */
	uint16_t nparams;
	const uint8_t *null_bitmap; /* (nparams + 7) / 8 bytes, NULL when nparams == 0 */
	bool new_params_bound;
	const uint8_t *types; /* 2 bytes per parameter (type, flags): from the packet, or the
			       * caller's prev_types when new_params_bound is 0 */
};
/*
 * COM_STMT_EXECUTE (payload including the 0x17 byte). nparams: from the statement's
 * PREPARE_OK (the packet does not carry it). prev_types: the 2 * nparams type bytes of the
 * previous execution (needed when the client does not rebind; NULL refuses such packets).
 * long_data: bitmap of parameters sent with SEND_LONG_DATA since the last execute/reset
 * (NULL = none): the server takes their values from there, not from this packet. params
 * (cap >= nparams) gets each parameter; the whole packet is validated, trailing included.
 */
int rg_my_read_execute(const uint8_t *p, size_t n, uint16_t nparams, const uint8_t *prev_types,
		       const uint8_t *long_data, struct rg_my_execute *out,
		       struct rg_my_param *params, size_t cap);
/* Builder: params' values as data/len (data NULL = NULL), types as 2 bytes each; always
 * binds (new_params_bound 1) when nparams > 0. */
ssize_t rg_my_write_execute(uint8_t *buf, size_t cap, uint32_t stmt_id, uint8_t flags,
			    const uint8_t *types, const struct rg_my_value *v, uint16_t nparams);

struct rg_my_long_data {
	uint32_t stmt_id;
	uint16_t param_id;
	struct rg_my_str data;
};
int rg_my_read_long_data(const uint8_t *p, size_t n, struct rg_my_long_data *out);
struct rg_my_fetch {
	uint32_t stmt_id;
	uint32_t num_rows;
};
int rg_my_read_fetch(const uint8_t *p, size_t n, struct rg_my_fetch *out);
/* COM_STMT_CLOSE / COM_STMT_RESET: 4-byte statement id; cmd selects which. */
int rg_my_read_stmt_id(const uint8_t *p, size_t n, uint8_t cmd, uint32_t *stmt_id);

/* ---- Authentication methods (auth.c) -------------------------------------------------- */

#define RG_MY_NATIVE_LEN 20
#define RG_MY_SHA2_LEN 32
#define RG_MY_ED25519_SIG_LEN 64
#define RG_MY_ED25519_PK_LEN 32
/* caching_sha2_password AuthMoreData codes. */
#define RG_MY_SHA2_REQUEST_PUBLIC_KEY 0x02 /* client asks; ringgate never does */
#define RG_MY_SHA2_FAST_AUTH_OK 0x03
#define RG_MY_SHA2_FULL_AUTH 0x04

/* mysql_native_password: SHA1(pw) XOR SHA1(scramble[0..20) + SHA1(SHA1(pw))). An empty
 * password answers with no bytes: returns 0; else 20. scramble_len >= 20 (extra bytes, the
 * trailing NUL of an AuthSwitch, are ignored). */
int rg_my_native_password(const uint8_t *scramble, size_t scramble_len, const char *pw,
			  size_t pw_len, uint8_t out[RG_MY_NATIVE_LEN]);
/* caching_sha2_password fast path: SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) + scramble).
 * Returns 0 for an empty password, else 32. */
int rg_my_sha2_scramble(const uint8_t *scramble, size_t scramble_len, const char *pw, size_t pw_len,
			uint8_t out[RG_MY_SHA2_LEN]);
/* Full authentication over TLS: the password and a NUL, in cleartext (the channel protects
 * it). Returns bytes written (pw_len + 1) or RG_MY_E_ARG. */
int rg_my_sha2_cleartext(const char *pw, size_t pw_len, uint8_t *out, size_t cap);
/* Full authentication without TLS: RSA-OAEP (SHA-1, MGF1-SHA-1) of (pw + NUL) XOR the
 * scramble (repeated), with the server's public key as PEM (from the config, never fetched
 * over plaintext). Also sha256_password's method. Returns the ciphertext length (the key's
 * modulus size) or <0 (RG_MY_E_CRYPTO: unreadable key, not RSA, password too long). */
int rg_my_sha2_rsa(const char *pem, size_t pem_len, const uint8_t *scramble, size_t scramble_len,
		   const char *pw, size_t pw_len, uint8_t *out, size_t cap);
/*
 * The client's answer to a caching_sha2_password AuthMoreData (its data: the bytes after
 * 0x01). FAST_AUTH_OK: returns 0, nothing to send (the server's OK follows). FULL_AUTH:
 * over TLS the cleartext password, else RSA-OAEP with the pinned key pem (NULL: refused
 * with RG_MY_E_PROTOCOL; the key is never asked from the server). Returns the bytes
 * written to out, 0, or <0 (RG_MY_E_VALUE for another code or a server-sent key).
 */
int rg_my_sha2_answer(const uint8_t *data, size_t n, bool tls, const char *pem, size_t pem_len,
		      const uint8_t *scramble, size_t scramble_len, const char *pw, size_t pw_len,
		      uint8_t *out, size_t cap);
/* mysql_clear_password response: the password followed by one NUL; the only NUL is the
 * last byte (an agent's JWT). RG_MY_E_NO_NUL / RG_MY_E_VALUE otherwise. */
int rg_my_read_clear_password(const uint8_t *p, size_t n, struct rg_my_str *pw);
/* MariaDB client_ed25519: the Ed25519 signature of the 32-byte scramble, with the secret
 * scalar and nonce prefix taken from SHA-512 of the password (of any length) as MariaDB's
 * plugin does (the RFC 8032 expansion applied to the password instead of a 32-byte seed). */
int rg_my_ed25519_sign(const uint8_t *scramble, size_t scramble_len, const char *pw, size_t pw_len,
		       uint8_t sig[RG_MY_ED25519_SIG_LEN]);
/* The public key the server stores for that password (its base64, without padding, is the
 * auth string of `IDENTIFIED VIA ed25519 USING '...'`). */
int rg_my_ed25519_pubkey(const char *pw, size_t pw_len, uint8_t pk[RG_MY_ED25519_PK_LEN]);

#endif
