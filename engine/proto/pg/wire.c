/*
 * wire.c: PostgreSQL v3 framing, message readers and builders (see wire.h).
 *
 * All parsing goes through struct rd, a cursor that refuses to step past the end of the
 * message body; every reader ends with rd_end() so trailing bytes are rejected exactly as
 * the server's pq_getmsgend() does. Builders go through struct wr, which counts every byte
 * but stores only what fits, so one call both sizes and writes a message.
 * Nothing here allocates, blocks or keeps state between calls.
 */
#include "wire.h"

#include <string.h>

#define TRY(x)                                                                                     \
	do {                                                                                       \
		int _e = (x);                                                                      \
		if (_e < 0)                                                                        \
			return _e;                                                                 \
	} while (0)

static inline uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

const char *rg_pg_strerror(int err)
{
	switch (err) {
	case RG_PG_NEED_MORE:
		return "need more bytes";
	case RG_PG_E_LENGTH:
		return "invalid message length";
	case RG_PG_E_TOO_LONG:
		return "message longer than allowed for its type";
	case RG_PG_E_TYPE:
		return "message type not allowed";
	case RG_PG_E_STARTUP_CODE:
		return "unknown startup request code";
	case RG_PG_E_VERSION:
		return "unsupported protocol version";
	case RG_PG_E_DIRECT_TLS:
		return "TLS handshake instead of a startup packet";
	case RG_PG_E_TRUNCATED:
		return "field runs past the end of the message";
	case RG_PG_E_NO_NUL:
		return "string not terminated inside the message";
	case RG_PG_E_TRAILING:
		return "unexpected bytes after the last field";
	case RG_PG_E_VALUE:
		return "invalid field value";
	case RG_PG_E_DUPLICATE:
		return "duplicate startup parameter";
	case RG_PG_E_WRONG_TYPE:
		return "reader applied to another message type";
	case RG_PG_E_TOO_MANY:
		return "more items than the caller's array holds";
	case RG_PG_E_ARG:
		return "invalid builder argument";
	}
	return err > 0 ? "ok" : "unknown error";
}

const char *rg_pg_type_name(enum rg_pg_dir dir, uint8_t type)
{
	if (dir == RG_PG_FE) {
		switch (type) {
		case 'B':
			return "Bind";
		case 'C':
			return "Close";
		case 'd':
			return "CopyData";
		case 'c':
			return "CopyDone";
		case 'f':
			return "CopyFail";
		case 'D':
			return "Describe";
		case 'E':
			return "Execute";
		case 'H':
			return "Flush";
		case 'F':
			return "FunctionCall";
		case 'P':
			return "Parse";
		case 'p':
			return "PasswordMessage";
		case 'Q':
			return "Query";
		case 'S':
			return "Sync";
		case 'X':
			return "Terminate";
		}
		return "?";
	}
	switch (type) {
	case 'R':
		return "Authentication";
	case 'K':
		return "BackendKeyData";
	case '2':
		return "BindComplete";
	case '3':
		return "CloseComplete";
	case 'C':
		return "CommandComplete";
	case 'd':
		return "CopyData";
	case 'c':
		return "CopyDone";
	case 'G':
		return "CopyInResponse";
	case 'H':
		return "CopyOutResponse";
	case 'W':
		return "CopyBothResponse";
	case 'D':
		return "DataRow";
	case 'I':
		return "EmptyQueryResponse";
	case 'E':
		return "ErrorResponse";
	case 'V':
		return "FunctionCallResponse";
	case 'v':
		return "NegotiateProtocolVersion";
	case 'n':
		return "NoData";
	case 'N':
		return "NoticeResponse";
	case 'A':
		return "NotificationResponse";
	case 't':
		return "ParameterDescription";
	case 'S':
		return "ParameterStatus";
	case '1':
		return "ParseComplete";
	case 's':
		return "PortalSuspended";
	case 'Z':
		return "ReadyForQuery";
	case 'T':
		return "RowDescription";
	}
	return "?";
}

/* ---- Limits ---------------------------------------------------------------------------
 * One table per direction: L_DATA and L_CTL are placeholders for the configured limits,
 * anything >= 4 is a fixed maximum of the length field (4 = no body).
 */
#define L_DATA 1u
#define L_CTL 2u
#define GIB (1u << 30)
#define FE_CTL_DEFAULT 10000u	  /* PostgreSQL's PQ_SMALL_MESSAGE_LIMIT */
#define BE_CTL_DEFAULT (1u << 20) /* errors with long DETAIL/CONTEXT, big auth tokens */

/* clang-format off */
#define FE_TABLE(D, C)                                                                             \
	{                                                                                          \
		['Q'] = D, ['P'] = D, ['B'] = D, ['F'] = D, ['d'] = D,                             \
		['C'] = C, ['D'] = C, ['E'] = C, ['f'] = C,                                        \
		['p'] = 65535 + 4, /* PG_MAX_AUTH_TOKEN_LENGTH body */                             \
		['H'] = 4, ['S'] = 4, ['X'] = 4, ['c'] = 4,                                        \
	}
#define BE_TABLE(D, C)                                                                             \
	{                                                                                          \
		['D'] = D, ['d'] = D, ['T'] = D, ['t'] = D, ['V'] = D,                             \
		['R'] = C, ['C'] = C, ['G'] = C, ['H'] = C, ['W'] = C, ['E'] = C, ['N'] = C,       \
		['A'] = C, ['S'] = C, ['v'] = C,                                                   \
		['K'] = 8 + RG_PG_CANCEL_KEY_MAX, ['Z'] = 5,                                       \
		['1'] = 4, ['2'] = 4, ['3'] = 4, ['I'] = 4, ['n'] = 4, ['s'] = 4, ['c'] = 4,       \
	}

/* clang-format on */

static const uint32_t fe_sym[256] = FE_TABLE(L_DATA, L_CTL);
static const uint32_t be_sym[256] = BE_TABLE(L_DATA, L_CTL);
static const struct rg_pg_limits fe_default = {.max = FE_TABLE(GIB, FE_CTL_DEFAULT)};
static const struct rg_pg_limits be_default = {.max = BE_TABLE(GIB, BE_CTL_DEFAULT)};

void rg_pg_limits_init(struct rg_pg_limits *l, enum rg_pg_dir dir, uint32_t data_max,
		       uint32_t ctl_max)
{
	const uint32_t *sym = dir == RG_PG_FE ? fe_sym : be_sym;

	if (!data_max)
		data_max = GIB;
	if (!ctl_max)
		ctl_max = dir == RG_PG_FE ? FE_CTL_DEFAULT : BE_CTL_DEFAULT;
	if (data_max > RG_PG_LEN_MAX)
		data_max = RG_PG_LEN_MAX;
	if (ctl_max > RG_PG_LEN_MAX)
		ctl_max = RG_PG_LEN_MAX;
	if (data_max < 4)
		data_max = 4;
	if (ctl_max < 4)
		ctl_max = 4;
	for (int i = 0; i < 256; i++) {
		uint32_t s = sym[i];
		l->max[i] = s == L_DATA ? data_max : s == L_CTL ? ctl_max : s;
	}
}

const struct rg_pg_limits *rg_pg_limits_default(enum rg_pg_dir dir)
{
	return dir == RG_PG_FE ? &fe_default : &be_default;
}

/* ---- Framing ------------------------------------------------------------------------- */

ssize_t rg_pg_frame(const uint8_t *p, size_t n, const struct rg_pg_limits *lim,
		    struct rg_pg_msg *out)
{
	uint32_t len, max;

	out->start = p;
	out->body = NULL;
	out->len = 0;
	out->body_len = 0;
	out->total = 0;
	out->type = 0;
	out->hdr = 5;
	if (n == 0) {
		out->need = 5;
		return RG_PG_NEED_MORE;
	}
	max = lim->max[p[0]];
	if (!max)
		return RG_PG_E_TYPE;
	out->type = p[0];
	if (n < 5) {
		out->need = 5 - n;
		return RG_PG_NEED_MORE;
	}
	len = be32(p + 1);
	if (len < 4 || len > RG_PG_LEN_MAX)
		return RG_PG_E_LENGTH;
	if (len > max)
		return RG_PG_E_TOO_LONG;
	out->len = len;
	out->body = p + 5;
	out->body_len = len - 4;
	out->total = (uint64_t)len + 1;
	if (n < out->total) {
		out->need = out->total - n;
		return RG_PG_NEED_MORE;
	}
	out->need = 0;
	return (ssize_t)out->total;
}

int rg_pg_msg_view(const uint8_t *p, size_t n, struct rg_pg_msg *out)
{
	uint32_t len;

	memset(out, 0, sizeof(*out));
	if (n < 5)
		return RG_PG_E_TRUNCATED;
	len = be32(p + 1);
	if (len < 4 || len > RG_PG_LEN_MAX)
		return RG_PG_E_LENGTH;
	if ((uint64_t)len + 1 != n)
		return RG_PG_E_LENGTH;
	out->start = p;
	out->body = p + 5;
	out->len = len;
	out->body_len = len - 4;
	out->total = n;
	out->type = p[0];
	out->hdr = 5;
	return 0;
}

/* ---- Body cursor --------------------------------------------------------------------- */

struct rd {
	const uint8_t *p;
	uint32_t n, off;
};

static inline void rd_init(struct rd *r, const struct rg_pg_msg *m)
{
	r->p = m->body;
	r->n = m->body_len;
	r->off = 0;
}

static inline int rd_u8(struct rd *r, uint8_t *v)
{
	if (r->n - r->off < 1)
		return RG_PG_E_TRUNCATED;
	*v = r->p[r->off++];
	return 0;
}

static inline int rd_u16(struct rd *r, uint16_t *v)
{
	if (r->n - r->off < 2)
		return RG_PG_E_TRUNCATED;
	*v = be16(r->p + r->off);
	r->off += 2;
	return 0;
}

static inline int rd_u32(struct rd *r, uint32_t *v)
{
	if (r->n - r->off < 4)
		return RG_PG_E_TRUNCATED;
	*v = be32(r->p + r->off);
	r->off += 4;
	return 0;
}

static inline int rd_bytes(struct rd *r, uint32_t len, const uint8_t **d)
{
	if (r->n - r->off < len)
		return RG_PG_E_TRUNCATED;
	*d = r->p + r->off;
	r->off += len;
	return 0;
}

/* A NUL-terminated string that must end inside the body. */
static inline int rd_str(struct rd *r, const char **s, uint32_t *len)
{
	const uint8_t *z;
	uint32_t l;

	if (r->off >= r->n)
		return RG_PG_E_TRUNCATED;
	z = memchr(r->p + r->off, 0, r->n - r->off);
	if (!z)
		return RG_PG_E_NO_NUL;
	l = (uint32_t)(z - (r->p + r->off));
	*s = (const char *)(r->p + r->off);
	if (len)
		*len = l;
	r->off += l + 1;
	return 0;
}

static inline int rd_end(const struct rd *r)
{
	return r->off == r->n ? 0 : RG_PG_E_TRAILING;
}

/* n big-endian int16 format codes, each 0 (text) or 1 (binary). */
static int rd_formats(struct rd *r, uint16_t n, const uint8_t **fmts)
{
	TRY(rd_bytes(r, (uint32_t)n * 2, fmts));
	for (uint32_t i = 0; i < n; i++)
		if (be16(*fmts + 2 * i) > 1)
			return RG_PG_E_VALUE;
	return 0;
}

/* n values of (int32 length, bytes), length -1 = NULL. */
static int rd_values(struct rd *r, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		uint32_t l;
		const uint8_t *d;

		TRY(rd_u32(r, &l));
		if (l == 0xffffffffu)
			continue;
		if (l > RG_PG_LEN_MAX)
			return RG_PG_E_VALUE;
		TRY(rd_bytes(r, l, &d));
	}
	return 0;
}

/* A complete message of this type: readers refuse a "need more" header (body incomplete). */
static inline bool complete(const struct rg_pg_msg *m)
{
	return m->body && m->need == 0;
}

static inline int want(const struct rg_pg_msg *m, uint8_t type)
{
	return m->type == type && complete(m) ? 0 : RG_PG_E_WRONG_TYPE;
}

/* ---- Startup phase ------------------------------------------------------------------- */

static int startup_param(struct rg_pg_startup *s, const char *key, const char *val)
{
	static const char *const names[] = {"user", "database", "application_name", "options",
					    "replication"};
	const char **slot[] = {&s->user, &s->database, &s->application_name, &s->options,
			       &s->replication};

	s->nparams++;
	if (!strncmp(key, "_pq_.", 5)) {
		s->npq_options++;
		return 0;
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(key, names[i]))
			continue;
		if (*slot[i])
			return RG_PG_E_DUPLICATE;
		*slot[i] = val;
		return 0;
	}
	return 0;
}

/* key\0value\0 ... \0, the final terminator being the last byte (as the server demands). */
static int startup_params(struct rg_pg_startup *s)
{
	struct rd r = {.p = s->params, .n = s->params_len, .off = 0};

	for (;;) {
		const char *key, *val;
		uint32_t klen;

		if (r.off >= r.n)
			return RG_PG_E_TRUNCATED; /* no terminator */
		if (r.p[r.off] == 0) {
			r.off++;
			break;
		}
		TRY(rd_str(&r, &key, &klen));
		TRY(rd_str(&r, &val, NULL)); /* TRUNCATED if the value is missing */
		TRY(startup_param(s, key, val));
	}
	return rd_end(&r);
}

ssize_t rg_pg_frame_startup(const uint8_t *p, size_t n, struct rg_pg_startup *out)
{
	struct rg_pg_msg *m = &out->msg;
	uint32_t len, code;

	memset(out, 0, sizeof(*out));
	m->start = p;
	m->hdr = 4;
	if (n == 0) {
		m->need = 8;
		return RG_PG_NEED_MORE;
	}
	if (p[0] == 0x16)
		return RG_PG_E_DIRECT_TLS; /* TLS record type "handshake" */
	if (p[0] != 0)
		return RG_PG_E_TOO_LONG; /* length >= 2^24: far over the limit */
	if (n < 4) {
		m->need = 8 - n;
		return RG_PG_NEED_MORE;
	}
	len = be32(p);
	if (len < 8)
		return RG_PG_E_LENGTH;
	if (len > RG_PG_STARTUP_MAX + 4)
		return RG_PG_E_TOO_LONG;
	m->len = len;
	m->body = p + 4;
	m->body_len = len - 4;
	m->total = len;
	if (n < 8) {
		m->need = len - n;
		return RG_PG_NEED_MORE;
	}

	/* The code is known: reject impossible sizes before waiting for the rest. */
	code = be32(p + 4);
	out->code = code;
	out->major = (uint16_t)(code >> 16);
	out->minor = (uint16_t)code;
	switch (code) {
	case RG_PG_SSL_CODE:
	case RG_PG_GSSENC_CODE:
		if (len != 8)
			return RG_PG_E_LENGTH;
		out->kind = code == RG_PG_SSL_CODE ? RG_PG_SSL_REQUEST : RG_PG_GSSENC_REQUEST;
		break;
	case RG_PG_CANCEL_CODE:
		if (len < 12 + RG_PG_CANCEL_KEY_MIN || len > 12 + RG_PG_CANCEL_KEY_MAX)
			return RG_PG_E_LENGTH;
		out->kind = RG_PG_CANCEL_REQUEST;
		break;
	default:
		if (out->major == 1234)
			return RG_PG_E_STARTUP_CODE;
		if (out->major != 3)
			return RG_PG_E_VERSION;
		if (len < 9)
			return RG_PG_E_LENGTH; /* at least the parameter terminator */
		out->kind = RG_PG_STARTUP_MESSAGE;
		break;
	}
	if (n < len) {
		m->need = len - n;
		return RG_PG_NEED_MORE;
	}
	m->need = 0;

	if (out->kind == RG_PG_CANCEL_REQUEST) {
		out->pid = be32(p + 8);
		out->key = p + 12;
		out->key_len = len - 12;
	} else if (out->kind == RG_PG_STARTUP_MESSAGE) {
		out->params = p + 8;
		out->params_len = len - 8;
		TRY(startup_params(out));
	}
	return (ssize_t)len;
}

void rg_pg_kv_begin(const struct rg_pg_startup *s, struct rg_pg_kv_iter *it)
{
	it->p = s->params;
	it->n = s->params ? s->params_len : 0;
	it->off = 0;
}

bool rg_pg_kv_next(struct rg_pg_kv_iter *it, const char **key, const char **value)
{
	struct rd r = {.p = it->p, .n = it->n, .off = it->off};

	if (r.off >= r.n || r.p[r.off] == 0)
		return false;
	if (rd_str(&r, key, NULL) < 0 || rd_str(&r, value, NULL) < 0)
		return false;
	it->off = r.off;
	return true;
}

/* ---- Value lists ---------------------------------------------------------------------- */

static void iter_init(struct rg_pg_iter *it, const struct rg_pg_msg *m, uint32_t off, uint32_t end,
		      uint32_t count)
{
	it->start = m->start;
	it->p = m->body;
	it->n = end;
	it->off = off;
	it->left = count;
	it->end = end;
}

int rg_pg_field_next(struct rg_pg_iter *it, struct rg_pg_field *f)
{
	struct rd r = {.p = it->p, .n = it->n, .off = it->off};
	uint32_t l;
	const uint8_t *d;

	if (it->left == 0)
		return it->off == it->end ? 0 : RG_PG_E_TRAILING;
	TRY(rd_u32(&r, &l));
	if (l == 0xffffffffu) {
		f->data = NULL;
		f->len = -1;
	} else {
		if (l > RG_PG_LEN_MAX)
			return RG_PG_E_VALUE;
		TRY(rd_bytes(&r, l, &d));
		f->data = d;
		f->len = (int32_t)l;
	}
	f->off = (uint32_t)(it->p - it->start) + it->off + 4;
	it->off = r.off;
	it->left--;
	return 1;
}

/* ---- Incremental DataRow --------------------------------------------------------------- */

enum { RS_COUNT, RS_LEN, RS_DATA, RS_END };

void rg_pg_row_stream_init(struct rg_pg_row_stream *s, uint32_t body_len)
{
	memset(s, 0, sizeof(*s));
	s->body_len = body_len;
	s->state = RS_COUNT;
}

/* The current field is done: move to the next one or to the end of the row. */
static int rs_next_field(struct rg_pg_row_stream *s)
{
	if (s->state == RS_LEN || s->state == RS_DATA)
		s->index++;
	if (s->index < s->nfields) {
		s->state = RS_LEN;
		return 0;
	}
	s->state = RS_END;
	return s->pos == s->body_len ? 0 : RG_PG_E_TRAILING;
}

ssize_t rg_pg_row_stream_next(struct rg_pg_row_stream *s, const uint8_t *p, size_t n,
			      struct rg_pg_row_event *ev)
{
	size_t used = 0;
	uint32_t room = s->body_len - s->pos;

	memset(ev, 0, sizeof(*ev));
	ev->index = s->index;
	if (n > room)
		n = room; /* never consume past the message */
	for (;;) {
		uint8_t need;
		uint32_t w;

		switch (s->state) {
		case RS_END:
			ev->kind = RG_PG_ROW_END;
			return (ssize_t)used;
		case RS_DATA: {
			size_t k = n - used < s->data_left ? n - used : s->data_left;

			if (!k) {
				if (s->pos == s->body_len)
					return RG_PG_E_TRUNCATED;
				ev->kind = RG_PG_ROW_MORE;
				return (ssize_t)used;
			}
			ev->kind = RG_PG_ROW_DATA;
			ev->data = p + used;
			ev->n = k;
			ev->off = s->pos;
			ev->len = (int32_t)k;
			s->pos += (uint32_t)k;
			s->data_left -= (uint32_t)k;
			used += k;
			if (!s->data_left) {
				int rc = rs_next_field(s);

				if (rc < 0)
					return rc;
			}
			return (ssize_t)used;
		}
		case RS_COUNT:
		case RS_LEN:
			need = s->state == RS_COUNT ? 2 : 4;
			while (s->have < need && used < n) {
				s->word[s->have++] = p[used++];
				s->pos++;
			}
			if (s->have < need) {
				if (s->pos == s->body_len)
					return RG_PG_E_TRUNCATED;
				ev->kind = RG_PG_ROW_MORE;
				return (ssize_t)used;
			}
			s->have = 0;
			if (s->state == RS_COUNT) {
				s->nfields = be16(s->word);
				s->index = 0;
				TRY(rs_next_field(s));
				ev->index = s->index;
				continue;
			}
			w = be32(s->word);
			ev->kind = RG_PG_ROW_FIELD;
			ev->index = s->index;
			ev->off = s->pos;
			if (w == 0xffffffffu) {
				ev->len = -1;
				TRY(rs_next_field(s));
				return (ssize_t)used;
			}
			if (w > RG_PG_LEN_MAX)
				return RG_PG_E_VALUE;
			if (w > s->body_len - s->pos)
				return RG_PG_E_TRUNCATED;
			ev->len = (int32_t)w;
			s->data_left = w;
			s->state = RS_DATA;
			if (!w)
				TRY(rs_next_field(s));
			return (ssize_t)used;
		}
	}
}

/* ---- Frontend readers ----------------------------------------------------------------- */

static int read_one_string(const struct rg_pg_msg *m, uint8_t type, struct rg_pg_query *out)
{
	struct rd r;

	TRY(want(m, type));
	rd_init(&r, m);
	TRY(rd_str(&r, &out->sql, &out->len));
	return rd_end(&r);
}

int rg_pg_read_query(const struct rg_pg_msg *m, struct rg_pg_query *out)
{
	return read_one_string(m, RG_PG_FE_QUERY, out);
}

int rg_pg_read_password(const struct rg_pg_msg *m, struct rg_pg_query *out)
{
	return read_one_string(m, RG_PG_FE_PASSWORD, out);
}

int rg_pg_read_copy_fail(const struct rg_pg_msg *m, struct rg_pg_query *out)
{
	return read_one_string(m, RG_PG_FE_COPY_FAIL, out);
}

int rg_pg_read_parse(const struct rg_pg_msg *m, struct rg_pg_parse *out)
{
	struct rd r;

	TRY(want(m, RG_PG_FE_PARSE));
	rd_init(&r, m);
	TRY(rd_str(&r, &out->stmt, &out->stmt_len));
	TRY(rd_str(&r, &out->query, &out->query_len));
	TRY(rd_u16(&r, &out->nparams));
	TRY(rd_bytes(&r, (uint32_t)out->nparams * 4, &out->param_types));
	return rd_end(&r);
}

uint32_t rg_pg_parse_param_type(const struct rg_pg_parse *p, uint16_t i)
{
	return i < p->nparams ? be32(p->param_types + 4 * (size_t)i) : 0;
}

int rg_pg_read_bind(const struct rg_pg_msg *m, struct rg_pg_bind *out)
{
	struct rd r;

	TRY(want(m, RG_PG_FE_BIND));
	rd_init(&r, m);
	TRY(rd_str(&r, &out->portal, &out->portal_len));
	TRY(rd_str(&r, &out->stmt, &out->stmt_len));
	TRY(rd_u16(&r, &out->nformats));
	TRY(rd_formats(&r, out->nformats, &out->formats));
	TRY(rd_u16(&r, &out->nparams));
	if (out->nformats > 1 && out->nformats != out->nparams)
		return RG_PG_E_VALUE;
	out->params_off = r.off;
	TRY(rd_values(&r, out->nparams));
	out->params_end = r.off;
	TRY(rd_u16(&r, &out->nresult_formats));
	TRY(rd_formats(&r, out->nresult_formats, &out->result_formats));
	return rd_end(&r);
}

void rg_pg_bind_params(const struct rg_pg_msg *m, const struct rg_pg_bind *b, struct rg_pg_iter *it)
{
	iter_init(it, m, b->params_off, b->params_end, b->nparams);
}

static int16_t format_of(const uint8_t *fmts, uint16_t n, uint16_t i)
{
	if (n == 0)
		return 0;
	if (n == 1)
		return (int16_t)be16(fmts);
	return i < n ? (int16_t)be16(fmts + 2 * (size_t)i) : 0;
}

int16_t rg_pg_bind_param_format(const struct rg_pg_bind *b, uint16_t i)
{
	return format_of(b->formats, b->nformats, i);
}

int16_t rg_pg_bind_result_format(const struct rg_pg_bind *b, uint16_t i)
{
	return format_of(b->result_formats, b->nresult_formats, i);
}

static int read_target(const struct rg_pg_msg *m, uint8_t type, struct rg_pg_target *out)
{
	struct rd r;

	TRY(want(m, type));
	rd_init(&r, m);
	TRY(rd_u8(&r, &out->kind));
	if (out->kind != 'S' && out->kind != 'P')
		return RG_PG_E_VALUE;
	TRY(rd_str(&r, &out->name, &out->name_len));
	return rd_end(&r);
}

int rg_pg_read_describe(const struct rg_pg_msg *m, struct rg_pg_target *out)
{
	return read_target(m, RG_PG_FE_DESCRIBE, out);
}

int rg_pg_read_close(const struct rg_pg_msg *m, struct rg_pg_target *out)
{
	return read_target(m, RG_PG_FE_CLOSE, out);
}

int rg_pg_read_execute(const struct rg_pg_msg *m, struct rg_pg_execute *out)
{
	struct rd r;
	uint32_t v;

	TRY(want(m, RG_PG_FE_EXECUTE));
	rd_init(&r, m);
	TRY(rd_str(&r, &out->portal, &out->portal_len));
	TRY(rd_u32(&r, &v));
	out->max_rows = (int32_t)v;
	return rd_end(&r);
}

int rg_pg_read_empty(const struct rg_pg_msg *m)
{
	if (!complete(m))
		return RG_PG_E_WRONG_TYPE;
	return m->body_len ? RG_PG_E_TRAILING : 0;
}

int rg_pg_read_sasl_initial(const struct rg_pg_msg *m, struct rg_pg_sasl_initial *out)
{
	struct rd r;
	uint32_t l;

	TRY(want(m, RG_PG_FE_PASSWORD));
	rd_init(&r, m);
	TRY(rd_str(&r, &out->mechanism, NULL));
	TRY(rd_u32(&r, &l));
	if (l == 0xffffffffu) {
		out->data = NULL;
		out->data_len = -1;
	} else {
		if (l > RG_PG_LEN_MAX)
			return RG_PG_E_VALUE;
		TRY(rd_bytes(&r, l, &out->data));
		out->data_len = (int32_t)l;
	}
	return rd_end(&r);
}

int rg_pg_read_function_call(const struct rg_pg_msg *m, struct rg_pg_function_call *out)
{
	struct rd r;
	uint16_t rf;

	TRY(want(m, RG_PG_FE_FUNCTION_CALL));
	rd_init(&r, m);
	TRY(rd_u32(&r, &out->oid));
	TRY(rd_u16(&r, &out->nformats));
	TRY(rd_formats(&r, out->nformats, &out->formats));
	TRY(rd_u16(&r, &out->nargs));
	if (out->nformats > 1 && out->nformats != out->nargs)
		return RG_PG_E_VALUE;
	out->args_off = r.off;
	TRY(rd_values(&r, out->nargs));
	out->args_end = r.off;
	TRY(rd_u16(&r, &rf));
	if (rf > 1)
		return RG_PG_E_VALUE;
	out->result_format = (int16_t)rf;
	return rd_end(&r);
}

void rg_pg_function_args(const struct rg_pg_msg *m, const struct rg_pg_function_call *fc,
			 struct rg_pg_iter *it)
{
	iter_init(it, m, fc->args_off, fc->args_end, fc->nargs);
}

/* ---- Backend readers ------------------------------------------------------------------ */

int rg_pg_read_auth(const struct rg_pg_msg *m, struct rg_pg_auth *out)
{
	struct rd r;
	const uint8_t *d;

	TRY(want(m, RG_PG_BE_AUTH));
	rd_init(&r, m);
	memset(out, 0, sizeof(*out));
	TRY(rd_u32(&r, &out->code));
	switch (out->code) {
	case RG_PG_AUTH_OK:
	case RG_PG_AUTH_KERBEROS_V5:
	case RG_PG_AUTH_CLEARTEXT:
	case RG_PG_AUTH_GSS:
	case RG_PG_AUTH_SSPI:
		break;
	case RG_PG_AUTH_MD5:
		TRY(rd_bytes(&r, 4, &d));
		memcpy(out->salt, d, 4);
		break;
	case RG_PG_AUTH_SASL:
		out->data = r.p + r.off;
		for (;;) {
			const char *name;
			uint32_t l;

			TRY(rd_str(&r, &name, &l));
			if (l == 0)
				break;
			out->nmechanisms++;
		}
		if (!out->nmechanisms)
			return RG_PG_E_VALUE;
		out->data_len = (uint32_t)(r.p + r.off - out->data);
		break;
	case RG_PG_AUTH_GSS_CONTINUE:
	case RG_PG_AUTH_SASL_CONTINUE:
	case RG_PG_AUTH_SASL_FINAL:
		out->data_len = r.n - r.off;
		TRY(rd_bytes(&r, out->data_len, &out->data));
		break;
	default:
		return RG_PG_E_VALUE;
	}
	return rd_end(&r);
}

/* Next string of a list of NUL-terminated strings in p[0..n), stopping at an empty one. */
static const char *next_string(const uint8_t *p, uint32_t n, uint32_t *off)
{
	const uint8_t *z;
	const char *s;

	if (!p || *off >= n || p[*off] == 0)
		return NULL;
	z = memchr(p + *off, 0, n - *off);
	if (!z)
		return NULL;
	s = (const char *)p + *off;
	*off = (uint32_t)(z - p) + 1;
	return s;
}

const char *rg_pg_auth_next_mechanism(const struct rg_pg_auth *a, uint32_t *off)
{
	if (a->code != RG_PG_AUTH_SASL)
		return NULL;
	return next_string(a->data, a->data_len, off);
}

int rg_pg_read_param_status(const struct rg_pg_msg *m, struct rg_pg_param_status *out)
{
	struct rd r;

	TRY(want(m, RG_PG_BE_PARAM_STATUS));
	rd_init(&r, m);
	TRY(rd_str(&r, &out->name, NULL));
	TRY(rd_str(&r, &out->value, NULL));
	return rd_end(&r);
}

int rg_pg_read_key_data(const struct rg_pg_msg *m, struct rg_pg_key_data *out)
{
	struct rd r;

	TRY(want(m, RG_PG_BE_KEY_DATA));
	rd_init(&r, m);
	TRY(rd_u32(&r, &out->pid));
	out->key_len = r.n - r.off;
	if (out->key_len < RG_PG_CANCEL_KEY_MIN || out->key_len > RG_PG_CANCEL_KEY_MAX)
		return RG_PG_E_LENGTH;
	TRY(rd_bytes(&r, out->key_len, &out->key));
	return rd_end(&r);
}

int rg_pg_read_ready(const struct rg_pg_msg *m, uint8_t *status)
{
	struct rd r;

	TRY(want(m, RG_PG_BE_READY));
	rd_init(&r, m);
	TRY(rd_u8(&r, status));
	if (*status != 'I' && *status != 'T' && *status != 'E')
		return RG_PG_E_VALUE;
	return rd_end(&r);
}

int rg_pg_rowdesc_begin(const struct rg_pg_msg *m, struct rg_pg_iter *it, uint16_t *count)
{
	struct rd r;

	TRY(want(m, RG_PG_BE_ROW_DESC));
	rd_init(&r, m);
	TRY(rd_u16(&r, count));
	iter_init(it, m, r.off, r.n, *count);
	return 0;
}

int rg_pg_rowdesc_next(struct rg_pg_iter *it, struct rg_pg_column *c)
{
	struct rd r = {.p = it->p, .n = it->n, .off = it->off};
	uint16_t v16;
	uint32_t v32;

	if (it->left == 0)
		return it->off == it->end ? 0 : RG_PG_E_TRAILING;
	TRY(rd_str(&r, &c->name, &c->name_len));
	TRY(rd_u32(&r, &c->table_oid));
	TRY(rd_u16(&r, &v16));
	c->attnum = (int16_t)v16;
	TRY(rd_u32(&r, &c->type_oid));
	TRY(rd_u16(&r, &v16));
	c->typlen = (int16_t)v16;
	TRY(rd_u32(&r, &v32));
	c->typmod = (int32_t)v32;
	TRY(rd_u16(&r, &v16));
	if (v16 > 1)
		return RG_PG_E_VALUE;
	c->format = (int16_t)v16;
	it->off = r.off;
	it->left--;
	return 1;
}

int rg_pg_read_rowdesc(const struct rg_pg_msg *m, struct rg_pg_column *cols, size_t cap,
		       uint16_t *count)
{
	struct rg_pg_iter it;
	int rc;

	struct rg_pg_column c;
	size_t i = 0;

	TRY(rg_pg_rowdesc_begin(m, &it, count));
	if (*count > cap)
		return RG_PG_E_TOO_MANY;
	while ((rc = rg_pg_rowdesc_next(&it, &c)) == 1)
		cols[i++] = c;
	return rc;
}

int rg_pg_datarow_begin(const struct rg_pg_msg *m, struct rg_pg_iter *it, uint16_t *count)
{
	struct rd r;

	TRY(want(m, RG_PG_BE_DATA_ROW));
	rd_init(&r, m);
	TRY(rd_u16(&r, count));
	iter_init(it, m, r.off, r.n, *count);
	return 0;
}

int rg_pg_read_datarow(const struct rg_pg_msg *m, struct rg_pg_field *fields, size_t cap,
		       uint16_t *count)
{
	struct rg_pg_iter it;
	int rc;

	struct rg_pg_field f;
	size_t i = 0;

	TRY(rg_pg_datarow_begin(m, &it, count));
	if (*count > cap)
		return RG_PG_E_TOO_MANY;
	while ((rc = rg_pg_field_next(&it, &f)) == 1)
		fields[i++] = f;
	return rc;
}

int rg_pg_read_command_complete(const struct rg_pg_msg *m, struct rg_pg_command_complete *out)
{
	struct rd r;

	TRY(want(m, RG_PG_BE_COMMAND_COMPLETE));
	rd_init(&r, m);
	TRY(rd_str(&r, &out->tag, &out->len));
	return rd_end(&r);
}

bool rg_pg_command_rows(const char *tag, uint64_t *rows)
{
	const char *sp = strrchr(tag, ' ');
	uint64_t v = 0;

	if (!sp || !sp[1])
		return false;
	for (const char *c = sp + 1; *c; c++) {
		if (*c < '0' || *c > '9')
			return false;
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*c - '0');
	}
	*rows = v;
	return true;
}

int rg_pg_notice_begin(const struct rg_pg_msg *m, struct rg_pg_iter *it)
{
	if (!complete(m) || (m->type != RG_PG_BE_ERROR && m->type != RG_PG_BE_NOTICE))
		return RG_PG_E_WRONG_TYPE;
	iter_init(it, m, 0, m->body_len, UINT32_MAX);
	return 0;
}

int rg_pg_notice_next(struct rg_pg_iter *it, uint8_t *code, const char **value)
{
	struct rd r = {.p = it->p, .n = it->n, .off = it->off};

	if (it->left == 0)
		return 0;
	TRY(rd_u8(&r, code));
	if (*code == 0) {
		TRY(rd_end(&r));
		it->off = r.off;
		it->left = 0;
		return 0;
	}
	TRY(rd_str(&r, value, NULL));
	it->off = r.off;
	return 1;
}

int rg_pg_read_notice(const struct rg_pg_msg *m, struct rg_pg_notice *out)
{
	struct rg_pg_iter it;
	uint8_t code;
	const char *v;
	int rc;

	TRY(rg_pg_notice_begin(m, &it));
	memset(out, 0, sizeof(*out));
	while ((rc = rg_pg_notice_next(&it, &code, &v)) == 1) {
		const char **slot = NULL;

		switch (code) {
		case 'S':
			slot = &out->severity;
			break;
		case 'V':
			slot = &out->severity_nl;
			break;
		case 'C':
			slot = &out->sqlstate;
			break;
		case 'M':
			slot = &out->message;
			break;
		case 'D':
			slot = &out->detail;
			break;
		case 'H':
			slot = &out->hint;
			break;
		case 'P':
			slot = &out->position;
			break;
		case 'p':
			slot = &out->internal_position;
			break;
		case 'q':
			slot = &out->internal_query;
			break;
		case 'W':
			slot = &out->where;
			break;
		case 's':
			slot = &out->schema;
			break;
		case 't':
			slot = &out->table;
			break;
		case 'c':
			slot = &out->column;
			break;
		case 'd':
			slot = &out->datatype;
			break;
		case 'n':
			slot = &out->constraint;
			break;
		case 'F':
			slot = &out->file;
			break;
		case 'L':
			slot = &out->line;
			break;
		case 'R':
			slot = &out->routine;
			break;
		}
		if (slot)
			*slot = v;
	}
	return rc;
}

int rg_pg_read_notification(const struct rg_pg_msg *m, struct rg_pg_notification *out)
{
	struct rd r;

	TRY(want(m, RG_PG_BE_NOTIFICATION));
	rd_init(&r, m);
	TRY(rd_u32(&r, &out->pid));
	TRY(rd_str(&r, &out->channel, NULL));
	TRY(rd_str(&r, &out->payload, NULL));
	return rd_end(&r);
}

int rg_pg_read_copy_response(const struct rg_pg_msg *m, struct rg_pg_copy_response *out)
{
	struct rd r;
	uint8_t f;

	if (!complete(m) || (m->type != RG_PG_BE_COPY_IN && m->type != RG_PG_BE_COPY_OUT &&
			     m->type != RG_PG_BE_COPY_BOTH))
		return RG_PG_E_WRONG_TYPE;
	rd_init(&r, m);
	TRY(rd_u8(&r, &f));
	if (f > 1)
		return RG_PG_E_VALUE;
	out->format = (int8_t)f;
	TRY(rd_u16(&r, &out->ncolumns));
	TRY(rd_formats(&r, out->ncolumns, &out->formats));
	return rd_end(&r);
}

int rg_pg_read_param_desc(const struct rg_pg_msg *m, struct rg_pg_param_desc *out)
{
	struct rd r;

	TRY(want(m, RG_PG_BE_PARAM_DESC));
	rd_init(&r, m);
	TRY(rd_u16(&r, &out->nparams));
	TRY(rd_bytes(&r, (uint32_t)out->nparams * 4, &out->types));
	return rd_end(&r);
}

int rg_pg_read_negotiate(const struct rg_pg_msg *m, struct rg_pg_negotiate *out)
{
	struct rd r;

	TRY(want(m, RG_PG_BE_NEGOTIATE));
	rd_init(&r, m);
	TRY(rd_u32(&r, &out->version));
	TRY(rd_u32(&r, &out->noptions));
	out->options = r.p + r.off;
	for (uint32_t i = 0; i < out->noptions; i++) {
		const char *s;
		uint32_t l;

		TRY(rd_str(&r, &s, &l));
		if (l == 0)
			return RG_PG_E_VALUE; /* would end next_option early */
	}
	out->options_len = (uint32_t)(r.p + r.off - out->options);
	return rd_end(&r);
}

const char *rg_pg_negotiate_next_option(const struct rg_pg_negotiate *n, uint32_t *off)
{
	return next_string(n->options, n->options_len, off);
}

int rg_pg_read_function_result(const struct rg_pg_msg *m, struct rg_pg_field *out)
{
	struct rg_pg_iter it;

	TRY(want(m, RG_PG_BE_FUNCTION_RESULT));
	iter_init(&it, m, 0, m->body_len, 1);
	TRY(rg_pg_field_next(&it, out));
	return rg_pg_field_next(&it, out) == 0 ? 0 : RG_PG_E_TRAILING;
}

/* ---- Whole-message validation -------------------------------------------------------- */

static int validate_list(struct rg_pg_iter *it, bool columns)
{
	struct rg_pg_field f;
	struct rg_pg_column c;
	int rc;

	do
		rc = columns ? rg_pg_rowdesc_next(it, &c) : rg_pg_field_next(it, &f);
	while (rc == 1);
	return rc;
}

static int validate_fe(const struct rg_pg_msg *m)
{
	union {
		struct rg_pg_query q;
		struct rg_pg_parse p;
		struct rg_pg_bind b;
		struct rg_pg_target t;
		struct rg_pg_execute e;
		struct rg_pg_function_call f;
	} u;

	switch (m->type) {
	case RG_PG_FE_QUERY:
		return rg_pg_read_query(m, &u.q);
	case RG_PG_FE_PARSE:
		return rg_pg_read_parse(m, &u.p);
	case RG_PG_FE_BIND:
		return rg_pg_read_bind(m, &u.b);
	case RG_PG_FE_DESCRIBE:
		return rg_pg_read_describe(m, &u.t);
	case RG_PG_FE_CLOSE:
		return rg_pg_read_close(m, &u.t);
	case RG_PG_FE_EXECUTE:
		return rg_pg_read_execute(m, &u.e);
	case RG_PG_FE_COPY_FAIL:
		return rg_pg_read_copy_fail(m, &u.q);
	case RG_PG_FE_FUNCTION_CALL:
		return rg_pg_read_function_call(m, &u.f);
	case RG_PG_FE_SYNC:
	case RG_PG_FE_FLUSH:
	case RG_PG_FE_TERMINATE:
	case RG_PG_FE_COPY_DONE:
		return rg_pg_read_empty(m);
	case RG_PG_FE_PASSWORD:
	case RG_PG_FE_COPY_DATA:
		return complete(m) ? 0 : RG_PG_E_WRONG_TYPE;
	}
	return RG_PG_E_TYPE;
}

static int validate_be(const struct rg_pg_msg *m)
{
	union {
		struct rg_pg_auth a;
		struct rg_pg_param_status ps;
		struct rg_pg_key_data k;
		struct rg_pg_command_complete cc;
		struct rg_pg_notice n;
		struct rg_pg_notification nf;
		struct rg_pg_copy_response cr;
		struct rg_pg_param_desc pd;
		struct rg_pg_negotiate ng;
		struct rg_pg_field f;
		uint8_t z;
	} u;
	struct rg_pg_iter it;
	uint16_t count;

	switch (m->type) {
	case RG_PG_BE_AUTH:
		return rg_pg_read_auth(m, &u.a);
	case RG_PG_BE_PARAM_STATUS:
		return rg_pg_read_param_status(m, &u.ps);
	case RG_PG_BE_KEY_DATA:
		return rg_pg_read_key_data(m, &u.k);
	case RG_PG_BE_READY:
		return rg_pg_read_ready(m, &u.z);
	case RG_PG_BE_ROW_DESC:
		TRY(rg_pg_rowdesc_begin(m, &it, &count));
		return validate_list(&it, true);
	case RG_PG_BE_DATA_ROW:
		TRY(rg_pg_datarow_begin(m, &it, &count));
		return validate_list(&it, false);
	case RG_PG_BE_COMMAND_COMPLETE:
		return rg_pg_read_command_complete(m, &u.cc);
	case RG_PG_BE_ERROR:
	case RG_PG_BE_NOTICE:
		return rg_pg_read_notice(m, &u.n);
	case RG_PG_BE_NOTIFICATION:
		return rg_pg_read_notification(m, &u.nf);
	case RG_PG_BE_COPY_IN:
	case RG_PG_BE_COPY_OUT:
	case RG_PG_BE_COPY_BOTH:
		return rg_pg_read_copy_response(m, &u.cr);
	case RG_PG_BE_PARAM_DESC:
		return rg_pg_read_param_desc(m, &u.pd);
	case RG_PG_BE_NEGOTIATE:
		return rg_pg_read_negotiate(m, &u.ng);
	case RG_PG_BE_FUNCTION_RESULT:
		return rg_pg_read_function_result(m, &u.f);
	case RG_PG_BE_BIND_COMPLETE:
	case RG_PG_BE_CLOSE_COMPLETE:
	case RG_PG_BE_PARSE_COMPLETE:
	case RG_PG_BE_EMPTY_QUERY:
	case RG_PG_BE_NO_DATA:
	case RG_PG_BE_PORTAL_SUSPENDED:
	case RG_PG_BE_COPY_DONE:
		return rg_pg_read_empty(m);
	case RG_PG_BE_COPY_DATA:
		return complete(m) ? 0 : RG_PG_E_WRONG_TYPE;
	}
	return RG_PG_E_TYPE;
}

int rg_pg_validate(enum rg_pg_dir dir, const struct rg_pg_msg *m)
{
	return dir == RG_PG_FE ? validate_fe(m) : validate_be(m);
}

/* ---- Builders ------------------------------------------------------------------------- */

struct wr {
	uint8_t *p;
	size_t cap, n;
	size_t lenpos;
};

static void w_bytes(struct wr *w, const void *d, size_t len)
{
	if (len && w->n <= w->cap && len <= w->cap - w->n)
		memcpy(w->p + w->n, d, len);
	w->n += len;
}

static void w_u8(struct wr *w, uint8_t v)
{
	w_bytes(w, &v, 1);
}

static void w_u16(struct wr *w, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};

	w_bytes(w, b, 2);
}

static void w_u32(struct wr *w, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};

	w_bytes(w, b, 4);
}

static void w_str(struct wr *w, const char *s)
{
	w_bytes(w, s, strlen(s) + 1);
}

/* type 0: startup-phase packet (no type byte). */
static void w_begin(struct wr *w, uint8_t *buf, size_t cap, uint8_t type)
{
	w->p = buf;
	w->cap = buf ? cap : 0;
	w->n = 0;
	if (type)
		w_u8(w, type);
	w->lenpos = w->n;
	w_u32(w, 0);
}

static ssize_t w_end(struct wr *w, uint32_t max)
{
	size_t len = w->n - w->lenpos;

	if (len > max)
		return RG_PG_E_TOO_LONG;
	if (w->n <= w->cap) {
		uint8_t *q = w->p + w->lenpos;

		q[0] = (uint8_t)(len >> 24);
		q[1] = (uint8_t)(len >> 16);
		q[2] = (uint8_t)(len >> 8);
		q[3] = (uint8_t)len;
	}
	return (ssize_t)w->n;
}

ssize_t rg_pg_write_notice(uint8_t *buf, size_t cap, uint8_t type, const struct rg_pg_notice *f)
{
	const struct {
		uint8_t code;
		const char *v;
	} fields[] = {
	    {'S', f->severity},	      {'V', f->severity_nl},
	    {'C', f->sqlstate},	      {'M', f->message},
	    {'D', f->detail},	      {'H', f->hint},
	    {'P', f->position},	      {'p', f->internal_position},
	    {'q', f->internal_query}, {'W', f->where},
	    {'s', f->schema},	      {'t', f->table},
	    {'c', f->column},	      {'d', f->datatype},
	    {'n', f->constraint},     {'F', f->file},
	    {'L', f->line},	      {'R', f->routine},
	};
	struct wr w;

	if (type != RG_PG_BE_ERROR && type != RG_PG_BE_NOTICE)
		return RG_PG_E_ARG;
	if (!f->severity || !f->sqlstate || !f->message || strlen(f->sqlstate) != 5)
		return RG_PG_E_ARG;
	w_begin(&w, buf, cap, type);
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (!fields[i].v)
			continue;
		w_u8(&w, fields[i].code);
		w_str(&w, fields[i].v);
	}
	w_u8(&w, 0);
	return w_end(&w, RG_PG_LEN_MAX);
}

ssize_t rg_pg_write_error(uint8_t *buf, size_t cap, const char *severity, const char *sqlstate,
			  const char *message, const char *detail, const char *hint)
{
	struct rg_pg_notice f = {
	    .severity = severity,
	    .severity_nl = severity,
	    .sqlstate = sqlstate,
	    .message = message,
	    .detail = detail,
	    .hint = hint,
	};

	return rg_pg_write_notice(buf, cap, RG_PG_BE_ERROR, &f);
}

ssize_t rg_pg_write_auth(uint8_t *buf, size_t cap, uint32_t code, const uint8_t *data, size_t len)
{
	struct wr w;

	if (len > RG_PG_LEN_MAX || (len && !data))
		return RG_PG_E_ARG;
	w_begin(&w, buf, cap, RG_PG_BE_AUTH);
	w_u32(&w, code);
	w_bytes(&w, data, len);
	return w_end(&w, RG_PG_LEN_MAX);
}

ssize_t rg_pg_write_auth_ok(uint8_t *buf, size_t cap)
{
	return rg_pg_write_auth(buf, cap, RG_PG_AUTH_OK, NULL, 0);
}

ssize_t rg_pg_write_auth_cleartext(uint8_t *buf, size_t cap)
{
	return rg_pg_write_auth(buf, cap, RG_PG_AUTH_CLEARTEXT, NULL, 0);
}

ssize_t rg_pg_write_auth_md5(uint8_t *buf, size_t cap, const uint8_t salt[4])
{
	return rg_pg_write_auth(buf, cap, RG_PG_AUTH_MD5, salt, 4);
}

ssize_t rg_pg_write_auth_sasl(uint8_t *buf, size_t cap, const char *const *mechs, size_t n)
{
	struct wr w;

	if (!n)
		return RG_PG_E_ARG;
	for (size_t i = 0; i < n; i++)
		if (!mechs[i] || !mechs[i][0])
			return RG_PG_E_ARG;
	w_begin(&w, buf, cap, RG_PG_BE_AUTH);
	w_u32(&w, RG_PG_AUTH_SASL);
	for (size_t i = 0; i < n; i++)
		w_str(&w, mechs[i]);
	w_u8(&w, 0);
	return w_end(&w, RG_PG_LEN_MAX);
}

ssize_t rg_pg_write_auth_sasl_continue(uint8_t *buf, size_t cap, const uint8_t *d, size_t len)
{
	return rg_pg_write_auth(buf, cap, RG_PG_AUTH_SASL_CONTINUE, d, len);
}

ssize_t rg_pg_write_auth_sasl_final(uint8_t *buf, size_t cap, const uint8_t *d, size_t len)
{
	return rg_pg_write_auth(buf, cap, RG_PG_AUTH_SASL_FINAL, d, len);
}

ssize_t rg_pg_write_param_status(uint8_t *buf, size_t cap, const char *name, const char *value)
{
	struct wr w;

	if (!name || !value)
		return RG_PG_E_ARG;
	w_begin(&w, buf, cap, RG_PG_BE_PARAM_STATUS);
	w_str(&w, name);
	w_str(&w, value);
	return w_end(&w, RG_PG_LEN_MAX);
}

ssize_t rg_pg_write_key_data(uint8_t *buf, size_t cap, uint32_t pid, const uint8_t *key,
			     size_t key_len)
{
	struct wr w;

	if (!key || key_len < RG_PG_CANCEL_KEY_MIN || key_len > RG_PG_CANCEL_KEY_MAX)
		return RG_PG_E_ARG;
	w_begin(&w, buf, cap, RG_PG_BE_KEY_DATA);
	w_u32(&w, pid);
	w_bytes(&w, key, key_len);
	return w_end(&w, RG_PG_LEN_MAX);
}

ssize_t rg_pg_write_ready(uint8_t *buf, size_t cap, uint8_t status)
{
	struct wr w;

	if (status != 'I' && status != 'T' && status != 'E')
		return RG_PG_E_ARG;
	w_begin(&w, buf, cap, RG_PG_BE_READY);
	w_u8(&w, status);
	return w_end(&w, RG_PG_LEN_MAX);
}

static ssize_t write_string_msg(uint8_t *buf, size_t cap, uint8_t type, const char *s)
{
	struct wr w;

	if (!s)
		return RG_PG_E_ARG;
	w_begin(&w, buf, cap, type);
	w_str(&w, s);
	return w_end(&w, RG_PG_LEN_MAX);
}

static ssize_t write_empty_msg(uint8_t *buf, size_t cap, uint8_t type)
{
	struct wr w;

	w_begin(&w, buf, cap, type);
	return w_end(&w, RG_PG_LEN_MAX);
}

ssize_t rg_pg_write_command_complete(uint8_t *buf, size_t cap, const char *tag)
{
	return write_string_msg(buf, cap, RG_PG_BE_COMMAND_COMPLETE, tag);
}

ssize_t rg_pg_write_empty_query(uint8_t *buf, size_t cap)
{
	return write_empty_msg(buf, cap, RG_PG_BE_EMPTY_QUERY);
}

ssize_t rg_pg_write_datarow(uint8_t *buf, size_t cap, const struct rg_pg_field *f, size_t n)
{
	struct wr w;

	if (n > UINT16_MAX)
		return RG_PG_E_ARG;
	for (size_t i = 0; i < n; i++)
		if (f[i].len < -1 || (f[i].len > 0 && !f[i].data))
			return RG_PG_E_ARG;
	w_begin(&w, buf, cap, RG_PG_BE_DATA_ROW);
	w_u16(&w, (uint16_t)n);
	for (size_t i = 0; i < n; i++) {
		w_u32(&w, (uint32_t)f[i].len);
		if (f[i].len > 0)
			w_bytes(&w, f[i].data, (size_t)f[i].len);
	}
	return w_end(&w, RG_PG_LEN_MAX);
}

ssize_t rg_pg_write_negotiate(uint8_t *buf, size_t cap, uint32_t version,
			      const char *const *options, size_t n)
{
	struct wr w;

	if (n > UINT32_MAX)
		return RG_PG_E_ARG;
	for (size_t i = 0; i < n; i++)
		if (!options[i] || !options[i][0])
			return RG_PG_E_ARG;
	w_begin(&w, buf, cap, RG_PG_BE_NEGOTIATE);
	w_u32(&w, version);
	w_u32(&w, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		w_str(&w, options[i]);
	return w_end(&w, RG_PG_LEN_MAX);
}

ssize_t rg_pg_write_startup(uint8_t *buf, size_t cap, uint32_t version, const char *const *kv,
			    size_t n)
{
	struct wr w;

	if (version >> 16 == 1234)
		return RG_PG_E_ARG;
	for (size_t i = 0; i < n; i++)
		if (!kv[2 * i] || !kv[2 * i][0] || !kv[2 * i + 1])
			return RG_PG_E_ARG;
	w_begin(&w, buf, cap, 0);
	w_u32(&w, version);
	for (size_t i = 0; i < 2 * n; i++)
		w_str(&w, kv[i]);
	w_u8(&w, 0);
	return w_end(&w, RG_PG_STARTUP_MAX + 4);
}

static ssize_t write_request(uint8_t *buf, size_t cap, uint32_t code)
{
	struct wr w;

	w_begin(&w, buf, cap, 0);
	w_u32(&w, code);
	return w_end(&w, RG_PG_STARTUP_MAX + 4);
}

ssize_t rg_pg_write_ssl_request(uint8_t *buf, size_t cap)
{
	return write_request(buf, cap, RG_PG_SSL_CODE);
}

ssize_t rg_pg_write_gssenc_request(uint8_t *buf, size_t cap)
{
	return write_request(buf, cap, RG_PG_GSSENC_CODE);
}

ssize_t rg_pg_write_cancel(uint8_t *buf, size_t cap, uint32_t pid, const uint8_t *key,
			   size_t key_len)
{
	struct wr w;

	if (!key || key_len < RG_PG_CANCEL_KEY_MIN || key_len > RG_PG_CANCEL_KEY_MAX)
		return RG_PG_E_ARG;
	w_begin(&w, buf, cap, 0);
	w_u32(&w, RG_PG_CANCEL_CODE);
	w_u32(&w, pid);
	w_bytes(&w, key, key_len);
	return w_end(&w, RG_PG_STARTUP_MAX + 4);
}

ssize_t rg_pg_write_password(uint8_t *buf, size_t cap, const char *password)
{
	return write_string_msg(buf, cap, RG_PG_FE_PASSWORD, password);
}

ssize_t rg_pg_write_sasl_initial(uint8_t *buf, size_t cap, const char *mechanism,
				 const uint8_t *data, size_t len)
{
	struct wr w;

	if (!mechanism || !mechanism[0] || len > RG_PG_LEN_MAX || (!data && len))
		return RG_PG_E_ARG;
	w_begin(&w, buf, cap, RG_PG_FE_PASSWORD);
	w_str(&w, mechanism);
	w_u32(&w, data ? (uint32_t)len : 0xffffffffu);
	w_bytes(&w, data, len);
	return w_end(&w, RG_PG_LEN_MAX);
}

ssize_t rg_pg_write_sasl_response(uint8_t *buf, size_t cap, const uint8_t *data, size_t len)
{
	struct wr w;

	if (len > RG_PG_LEN_MAX || (!data && len))
		return RG_PG_E_ARG;
	w_begin(&w, buf, cap, RG_PG_FE_PASSWORD);
	w_bytes(&w, data, len);
	return w_end(&w, RG_PG_LEN_MAX);
}

ssize_t rg_pg_write_query(uint8_t *buf, size_t cap, const char *sql, size_t len)
{
	struct wr w;

	if ((!sql && len) || len > RG_PG_LEN_MAX || (len && memchr(sql, 0, len)))
		return RG_PG_E_ARG;
	w_begin(&w, buf, cap, RG_PG_FE_QUERY);
	w_bytes(&w, sql, len);
	w_u8(&w, 0);
	return w_end(&w, RG_PG_LEN_MAX);
}

ssize_t rg_pg_write_terminate(uint8_t *buf, size_t cap)
{
	return write_empty_msg(buf, cap, RG_PG_FE_TERMINATE);
}
