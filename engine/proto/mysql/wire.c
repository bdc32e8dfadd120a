/*
 * wire.c: MySQL packet framing, length-encoded values, the connection phase, OK / ERR /
 * EOF and command packets (see mysql-wire.h).
 *
 * All parsing goes through struct rg_my_rd, a cursor that refuses to step past the payload;
 * readers end with rg_my_rd_end() where the server rejects extra bytes, and say in a
 * comment where it tolerates a missing optional tail (old clients stop early). Builders go
 * through struct wr (wire-int.h). Nothing here allocates, blocks or keeps state.
 */
#include "wire-int.h"

const char *rg_my_strerror(int err)
{
	switch (err) {
	case RG_MY_NEED_MORE:
		return "need more bytes";
	case RG_MY_E_TRUNCATED:
		return "field runs past the end of the packet";
	case RG_MY_E_TRAILING:
		return "unexpected bytes after the last field";
	case RG_MY_E_VALUE:
		return "invalid field value";
	case RG_MY_E_SEQ:
		return "packet out of sequence";
	case RG_MY_E_TOO_LONG:
		return "packet longer than allowed";
	case RG_MY_E_NO_NUL:
		return "string not terminated inside the packet";
	case RG_MY_E_WRONG_TYPE:
		return "reader applied to another kind of packet";
	case RG_MY_E_ARG:
		return "invalid argument";
	case RG_MY_E_TOO_MANY:
		return "more items than the caller's array holds";
	case RG_MY_E_CRYPTO:
		return "cryptographic operation failed";
	case RG_MY_E_PROTOCOL:
		return "protocol feature not supported";
	}
	return err > 0 ? "ok" : "unknown error";
}

const char *rg_my_com_name(uint8_t cmd)
{
	static const char *const names[] = {
	    [RG_MY_COM_SLEEP] = "COM_SLEEP",
	    [RG_MY_COM_QUIT] = "COM_QUIT",
	    [RG_MY_COM_INIT_DB] = "COM_INIT_DB",
	    [RG_MY_COM_QUERY] = "COM_QUERY",
	    [RG_MY_COM_FIELD_LIST] = "COM_FIELD_LIST",
	    [RG_MY_COM_CREATE_DB] = "COM_CREATE_DB",
	    [RG_MY_COM_DROP_DB] = "COM_DROP_DB",
	    [RG_MY_COM_REFRESH] = "COM_REFRESH",
	    [RG_MY_COM_SHUTDOWN] = "COM_SHUTDOWN",
	    [RG_MY_COM_STATISTICS] = "COM_STATISTICS",
	    [RG_MY_COM_PROCESS_INFO] = "COM_PROCESS_INFO",
	    [RG_MY_COM_CONNECT] = "COM_CONNECT",
	    [RG_MY_COM_PROCESS_KILL] = "COM_PROCESS_KILL",
	    [RG_MY_COM_DEBUG] = "COM_DEBUG",
	    [RG_MY_COM_PING] = "COM_PING",
	    [RG_MY_COM_TIME] = "COM_TIME",
	    [RG_MY_COM_DELAYED_INSERT] = "COM_DELAYED_INSERT",
	    [RG_MY_COM_CHANGE_USER] = "COM_CHANGE_USER",
	    [RG_MY_COM_BINLOG_DUMP] = "COM_BINLOG_DUMP",
	    [RG_MY_COM_TABLE_DUMP] = "COM_TABLE_DUMP",
	    [RG_MY_COM_CONNECT_OUT] = "COM_CONNECT_OUT",
	    [RG_MY_COM_REGISTER_SLAVE] = "COM_REGISTER_SLAVE",
	    [RG_MY_COM_STMT_PREPARE] = "COM_STMT_PREPARE",
	    [RG_MY_COM_STMT_EXECUTE] = "COM_STMT_EXECUTE",
	    [RG_MY_COM_STMT_SEND_LONG_DATA] = "COM_STMT_SEND_LONG_DATA",
	    [RG_MY_COM_STMT_CLOSE] = "COM_STMT_CLOSE",
	    [RG_MY_COM_STMT_RESET] = "COM_STMT_RESET",
	    [RG_MY_COM_SET_OPTION] = "COM_SET_OPTION",
	    [RG_MY_COM_STMT_FETCH] = "COM_STMT_FETCH",
	    [RG_MY_COM_DAEMON] = "COM_DAEMON",
	    [RG_MY_COM_BINLOG_DUMP_GTID] = "COM_BINLOG_DUMP_GTID",
	    [RG_MY_COM_RESET_CONNECTION] = "COM_RESET_CONNECTION",
	};

	if (cmd == RG_MY_COM_MULTI)
		return "COM_MULTI";
	if (cmd == RG_MY_COM_STMT_BULK_EXECUTE)
		return "COM_STMT_BULK_EXECUTE";
	if (cmd < sizeof(names) / sizeof(names[0]) && names[cmd])
		return names[cmd];
	return "COM_?";
}

/* ---- Reader cursor ----------------------------------------------------------------------- */

int rg_my_rd_u8(struct rg_my_rd *r, uint8_t *v)
{
	if (rg_my_rd_left(r) < 1)
		return RG_MY_E_TRUNCATED;
	*v = r->p[r->off++];
	return 0;
}

int rg_my_rd_fixed(struct rg_my_rd *r, unsigned width, uint64_t *v)
{
	if (width < 1 || width > 8)
		return RG_MY_E_ARG;
	if (rg_my_rd_left(r) < width)
		return RG_MY_E_TRUNCATED;
	*v = le_get(r->p + r->off, width);
	r->off += width;
	return 0;
}

int rg_my_rd_bytes(struct rg_my_rd *r, size_t len, struct rg_my_str *s)
{
	if (rg_my_rd_left(r) < len)
		return RG_MY_E_TRUNCATED;
	s->p = r->p + r->off;
	s->len = len;
	s->off = (uint32_t)r->off;
	r->off += len;
	return 0;
}

int rg_my_lenenc_decode(const uint8_t *p, size_t n, uint64_t *v, bool *is_null)
{
	unsigned width;

	if (is_null)
		*is_null = false;
	if (n < 1)
		return RG_MY_E_TRUNCATED;
	switch (p[0]) {
	case 0xfb:
		if (!is_null)
			return RG_MY_E_VALUE;
		*is_null = true;
		*v = 0;
		return 1;
	case 0xfc:
		width = 2;
		break;
	case 0xfd:
		width = 3;
		break;
	case 0xfe:
		width = 8;
		break;
	case 0xff:
		return RG_MY_E_VALUE;
	default:
		*v = p[0];
		return 1;
	}
	if (n - 1 < width)
		return RG_MY_E_TRUNCATED;
	*v = le_get(p + 1, width);
	return 1 + (int)width;
}

unsigned rg_my_lenenc_size(uint64_t v)
{
	if (v < 0xfb)
		return 1;
	if (v <= 0xffff)
		return 3;
	if (v <= 0xffffff)
		return 4;
	return 9;
}

unsigned rg_my_lenenc_encode(uint8_t *p, uint64_t v)
{
	unsigned n = rg_my_lenenc_size(v);

	switch (n) {
	case 1:
		p[0] = (uint8_t)v;
		break;
	case 3:
		p[0] = 0xfc;
		le_put(p + 1, v, 2);
		break;
	case 4:
		p[0] = 0xfd;
		le_put(p + 1, v, 3);
		break;
	default:
		p[0] = 0xfe;
		le_put(p + 1, v, 8);
	}
	return n;
}

int rg_my_rd_lenenc(struct rg_my_rd *r, uint64_t *v, bool *is_null)
{
	int k = rg_my_lenenc_decode(r->p + r->off, rg_my_rd_left(r), v, is_null);

	if (k < 0)
		return k;
	r->off += (size_t)k;
	return 0;
}

int rg_my_rd_lenenc_str(struct rg_my_rd *r, struct rg_my_str *s)
{
	uint64_t len;

	TRY(rg_my_rd_lenenc(r, &len, NULL));
	if (len > rg_my_rd_left(r))
		return RG_MY_E_TRUNCATED;
	return rg_my_rd_bytes(r, (size_t)len, s);
}

int rg_my_rd_nul_str(struct rg_my_rd *r, struct rg_my_str *s)
{
	const uint8_t *z = memchr(r->p + r->off, 0, rg_my_rd_left(r));

	if (!z)
		return RG_MY_E_NO_NUL;
	TRY(rg_my_rd_bytes(r, (size_t)(z - (r->p + r->off)), s));
	r->off++;
	return 0;
}

int rg_my_rd_rest(struct rg_my_rd *r, struct rg_my_str *s)
{
	return rg_my_rd_bytes(r, rg_my_rd_left(r), s);
}

int rg_my_rd_end(const struct rg_my_rd *r)
{
	return r->off == r->n ? 0 : RG_MY_E_TRAILING;
}

static void str_empty(const struct rg_my_rd *r, struct rg_my_str *s)
{
	s->p = r->p + r->off;
	s->len = 0;
	s->off = (uint32_t)r->off;
}

/* ---- Packets and messages ------------------------------------------------------------------ */

ssize_t rg_my_frame_packet(const uint8_t *p, size_t n, struct rg_my_packet *out)
{
	memset(out, 0, sizeof(*out));
	if (n < RG_MY_HDR) {
		out->need = (uint32_t)(RG_MY_HDR - n);
		return RG_MY_NEED_MORE;
	}
	out->start = p;
	out->payload = p + RG_MY_HDR;
	out->len = (uint32_t)le_get(p, 3);
	out->seq = p[3];
	if (n - RG_MY_HDR < out->len) {
		out->need = (uint32_t)(out->len - (n - RG_MY_HDR));
		return RG_MY_NEED_MORE;
	}
	return RG_MY_HDR + (ssize_t)out->len;
}

ssize_t rg_my_frame_msg(const uint8_t *p, size_t n, int expect_seq, uint64_t max_len,
			struct rg_my_msg *out)
{
	size_t off = 0;
	bool check = expect_seq >= 0;
	uint8_t seq = (uint8_t)expect_seq;

	memset(out, 0, sizeof(*out));
	if (expect_seq > 255)
		return RG_MY_E_ARG;
	out->start = p;
	out->payload = p + RG_MY_HDR;
	for (;;) {
		uint32_t plen;

		if (n - off < RG_MY_HDR) {
			out->need = RG_MY_HDR - (n - off);
			return RG_MY_NEED_MORE;
		}
		plen = (uint32_t)le_get(p + off, 3);
		if (check && p[off + 3] != seq)
			return RG_MY_E_SEQ;
		if (!out->npackets)
			out->seq_first = p[off + 3];
		seq = rg_my_seq_next(p[off + 3]);
		check = true;
		if (max_len && out->len + plen > max_len)
			return RG_MY_E_TOO_LONG;
		if (n - off - RG_MY_HDR < plen) {
			out->need = plen - (n - off - RG_MY_HDR);
			return RG_MY_NEED_MORE;
		}
		out->len += plen;
		out->npackets++;
		off += RG_MY_HDR + plen;
		if (plen < RG_MY_MAX_PACKET)
			break;
	}
	out->total = off;
	out->seq_next = seq;
	return (ssize_t)off;
}

ssize_t rg_my_msg_gather(const struct rg_my_msg *m, uint8_t *dst, size_t cap)
{
	size_t off = 0, done = 0;

	if (m->len > cap)
		return RG_MY_E_ARG;
	for (uint32_t i = 0; i < m->npackets; i++) {
		uint32_t plen = (uint32_t)le_get(m->start + off, 3);

		if (plen)
			memcpy(dst + done, m->start + off + RG_MY_HDR, plen);
		done += plen;
		off += RG_MY_HDR + plen;
	}
	return (ssize_t)done;
}

void rg_my_stream_init(struct rg_my_stream *s, int expect_seq, uint64_t max_len)
{
	memset(s, 0, sizeof(*s));
	s->max_len = max_len;
	s->check_seq = expect_seq >= 0 && expect_seq <= 255;
	s->seq = (uint8_t)expect_seq;
}

ssize_t rg_my_stream_next(struct rg_my_stream *s, const uint8_t *p, size_t n,
			  struct rg_my_stream_event *ev)
{
	size_t used = 0;

	memset(ev, 0, sizeof(*ev));
	for (;;) {
		if (s->in_packet) {
			if (s->frag_left) {
				size_t take = n - used;

				if (!take) {
					ev->kind = RG_MY_STREAM_MORE;
					return (ssize_t)used;
				}
				if (take > s->frag_left)
					take = s->frag_left;
				ev->kind = RG_MY_STREAM_DATA;
				ev->data = p + used;
				ev->n = take;
				ev->pos = s->len;
				s->len += take;
				s->frag_left -= (uint32_t)take;
				return (ssize_t)(used + take);
			}
			s->in_packet = false;
			if (s->last) {
				ev->kind = RG_MY_STREAM_END;
				ev->pos = s->len;
				s->len = 0;
				s->last = false;
				return (ssize_t)used;
			}
			continue;
		}
		while (s->have < RG_MY_HDR && used < n)
			s->hdr[s->have++] = p[used++];
		if (s->have < RG_MY_HDR) {
			ev->kind = RG_MY_STREAM_MORE;
			return (ssize_t)used;
		}
		uint32_t plen = (uint32_t)le_get(s->hdr, 3);

		if (s->check_seq && s->hdr[3] != s->seq)
			return RG_MY_E_SEQ;
		if (s->max_len && s->len + plen > s->max_len)
			return RG_MY_E_TOO_LONG;
		s->seq = rg_my_seq_next(s->hdr[3]);
		s->check_seq = true;
		s->have = 0;
		s->in_packet = true;
		s->frag_left = plen;
		s->last = plen < RG_MY_MAX_PACKET;
	}
}

/* Payload a[0..alen) followed by b[0..blen), split into packets. */
static ssize_t write_split(uint8_t *buf, size_t cap, uint8_t seq, const uint8_t *a, size_t alen,
			   const uint8_t *b, size_t blen, uint8_t *seq_next)
{
	size_t len = alen + blen, npk, wire, off = 0, pos = 0;

	if (len < alen || len / RG_MY_MAX_PACKET >= SIZE_MAX / 8)
		return RG_MY_E_ARG;
	npk = len / RG_MY_MAX_PACKET + 1;
	wire = len + RG_MY_HDR * npk;
	if (seq_next)
		*seq_next = (uint8_t)(seq + npk);
	if (wire > cap || !buf)
		return (ssize_t)wire;
	for (size_t i = 0; i < npk; i++) {
		size_t plen = len - pos < RG_MY_MAX_PACKET ? len - pos : RG_MY_MAX_PACKET;

		le_put(buf + off, plen, 3);
		buf[off + 3] = (uint8_t)(seq + i);
		off += RG_MY_HDR;
		for (size_t k = 0; k < plen;) {
			size_t at = pos + k, take;

			if (at < alen) {
				take = alen - at < plen - k ? alen - at : plen - k;
				memcpy(buf + off + k, a + at, take);
			} else {
				take = plen - k;
				memcpy(buf + off + k, b + (at - alen), take);
			}
			k += take;
		}
		off += plen;
		pos += plen;
	}
	return (ssize_t)wire;
}

ssize_t rg_my_write_packets(uint8_t *buf, size_t cap, uint8_t seq, const uint8_t *payload,
			    size_t len, uint8_t *seq_next)
{
	if (len && !payload)
		return RG_MY_E_ARG;
	return write_split(buf, cap, seq, payload, len, NULL, 0, seq_next);
}

/* ---- Connection phase ------------------------------------------------------------------ */

int rg_my_read_handshake(const uint8_t *p, size_t n, struct rg_my_handshake *out)
{
	struct rg_my_rd r;
	struct rg_my_str part1, part2;
	uint64_t v;
	size_t len2;

	memset(out, 0, sizeof(*out));
	rg_my_rd_init(&r, p, n);
	TRY(rg_my_rd_u8(&r, &out->protocol));
	if (out->protocol == 0xff)
		return RG_MY_E_WRONG_TYPE;
	if (out->protocol != 10)
		return RG_MY_E_PROTOCOL;
	TRY(rg_my_rd_nul_str(&r, &out->server_version));
	TRY(rg_my_rd_fixed(&r, 4, &v));
	out->conn_id = (uint32_t)v;
	TRY(rg_my_rd_bytes(&r, 8, &part1));
	TRY(rg_my_rd_fixed(&r, 1, &v)); /* filler */
	TRY(rg_my_rd_fixed(&r, 2, &v));
	out->caps = v;
	memcpy(out->scramble, part1.p, 8);
	out->scramble_len = 8;
	str_empty(&r, &out->auth_plugin);
	if (!rg_my_rd_left(&r)) /* "if more data in the packet": pre-4.1 servers stop here */
		return 0;
	TRY(rg_my_rd_u8(&r, &out->charset));
	TRY(rg_my_rd_fixed(&r, 2, &v));
	out->status = (uint16_t)v;
	TRY(rg_my_rd_fixed(&r, 2, &v));
	out->caps |= v << 16;
	TRY(rg_my_rd_u8(&r, &out->auth_data_len));
	TRY(rg_my_rd_fixed(&r, 6, &v)); /* filler */
	TRY(rg_my_rd_fixed(&r, 4, &v));
	if (!(out->caps & RG_MY_CLIENT_MYSQL))
		out->caps |= v << 32; /* MariaDB 10.2+: extended capabilities */
	if (!(out->caps & RG_MY_CLIENT_PLUGIN_AUTH) && out->auth_data_len)
		return RG_MY_E_VALUE;
	if (out->caps & RG_MY_CLIENT_SECURE_CONNECTION) {
		len2 = out->auth_data_len > 8 + 13 ? out->auth_data_len - 8u : 13u;
		TRY(rg_my_rd_bytes(&r, len2, &part2));
		if (part2.p[len2 - 1] == 0)
			len2--; /* the NUL after the scramble */
		if (8 + len2 > RG_MY_SCRAMBLE_MAX)
			return RG_MY_E_VALUE;
		memcpy(out->scramble + 8, part2.p, len2);
		out->scramble_len = (uint8_t)(8 + len2);
	}
	if (out->caps & RG_MY_CLIENT_PLUGIN_AUTH) {
		/* MySQL 5.5.7-5.5.9 sent the name without its NUL: clients take string<EOF>. */
		if (rg_my_rd_nul_str(&r, &out->auth_plugin) < 0)
			TRY(rg_my_rd_rest(&r, &out->auth_plugin));
	}
	return rg_my_rd_end(&r);
}

ssize_t rg_my_write_handshake(uint8_t *buf, size_t cap, const struct rg_my_handshake *h)
{
	struct wr w;
	bool secure = h->caps & RG_MY_CLIENT_SECURE_CONNECTION;
	bool plugin = h->caps & RG_MY_CLIENT_PLUGIN_AUTH;
	bool mariadb = !(h->caps & RG_MY_CLIENT_MYSQL);
	size_t len2;

	if (!no_nul(h->server_version.p, (size_t)h->server_version.len) ||
	    !no_nul(h->auth_plugin.p, (size_t)h->auth_plugin.len))
		return RG_MY_E_ARG;
	/* without PLUGIN_AUTH nothing says how long the second part is: 12 + NUL */
	if (secure ? h->scramble_len < 20 || h->scramble_len >= RG_MY_SCRAMBLE_MAX ||
			 (!plugin && h->scramble_len != 20)
		   : h->scramble_len != 8)
		return RG_MY_E_ARG;
	if (!mariadb && h->caps >> 32)
		return RG_MY_E_ARG; /* extended capabilities need CLIENT_MYSQL clear */
	wr_init(&w, buf, cap);
	wr_le(&w, 10, 1);
	wr_bytes(&w, h->server_version.p, (size_t)h->server_version.len);
	wr_zero(&w, 1);
	wr_le(&w, h->conn_id, 4);
	wr_bytes(&w, h->scramble, 8);
	wr_zero(&w, 1);
	wr_le(&w, h->caps & 0xffff, 2);
	wr_le(&w, h->charset, 1);
	wr_le(&w, h->status, 2);
	wr_le(&w, (h->caps >> 16) & 0xffff, 2);
	wr_le(&w, plugin ? h->scramble_len + 1u : 0u, 1);
	wr_zero(&w, 6);
	wr_le(&w, mariadb ? h->caps >> 32 : 0, 4);
	if (secure) {
		len2 = h->scramble_len - 8u + 1u; /* the second part and its NUL */
		wr_bytes(&w, h->scramble + 8, h->scramble_len - 8u);
		wr_zero(&w, len2 < 13 ? 14 - len2 : 1);
	}
	if (plugin) {
		wr_bytes(&w, h->auth_plugin.p, (size_t)h->auth_plugin.len);
		wr_zero(&w, 1);
	}
	return wr_finish(&w, 0);
}

/* The 32 bytes every response starts with (and all of an SSLRequest). */
static int read_response_head(struct rg_my_rd *r, struct rg_my_response *out)
{
	uint64_t v;

	if (rg_my_rd_left(r) >= 2 && !(le_get(r->p, 2) & RG_MY_CLIENT_PROTOCOL_41))
		return RG_MY_E_PROTOCOL; /* HandshakeResponse320 */
	TRY(rg_my_rd_fixed(r, 4, &v));
	out->caps = v;
	TRY(rg_my_rd_fixed(r, 4, &v));
	out->max_packet = (uint32_t)v;
	TRY(rg_my_rd_u8(r, &out->charset));
	TRY(rg_my_rd_fixed(r, 8, &v)); /* 19 filler bytes */
	TRY(rg_my_rd_fixed(r, 8, &v));
	TRY(rg_my_rd_fixed(r, 3, &v));
	TRY(rg_my_rd_fixed(r, 4, &v));
	if (!(out->caps & RG_MY_CLIENT_MYSQL))
		out->caps |= v << 32;
	return 0;
}

int rg_my_read_response(const uint8_t *p, size_t n, struct rg_my_response *out)
{
	struct rg_my_rd r;
	uint64_t v;

	memset(out, 0, sizeof(*out));
	rg_my_rd_init(&r, p, n);
	TRY(read_response_head(&r, out));
	str_empty(&r, &out->user);
	out->auth = out->database = out->plugin = out->attrs = out->user;
	if (!rg_my_rd_left(&r)) {
		if (!(out->caps & RG_MY_CLIENT_SSL))
			return RG_MY_E_TRUNCATED;
		out->ssl_request = true;
		return 0;
	}
	TRY(rg_my_rd_nul_str(&r, &out->user));
	if (out->caps & RG_MY_CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) {
		TRY(rg_my_rd_lenenc_str(&r, &out->auth));
	} else if (out->caps & RG_MY_CLIENT_SECURE_CONNECTION) {
		uint8_t len;

		TRY(rg_my_rd_u8(&r, &len));
		TRY(rg_my_rd_bytes(&r, len, &out->auth));
	} else {
		TRY(rg_my_rd_nul_str(&r, &out->auth));
	}
	/* The optional tail: servers take a field that is flagged but absent at the end of the
	 * packet as empty (clients set CONNECT_WITH_DB without a database); a field that is
	 * there must be whole. */
	if ((out->caps & RG_MY_CLIENT_CONNECT_WITH_DB) && rg_my_rd_left(&r))
		TRY(rg_my_rd_nul_str(&r, &out->database));
	if ((out->caps & RG_MY_CLIENT_PLUGIN_AUTH) && rg_my_rd_left(&r))
		TRY(rg_my_rd_nul_str(&r, &out->plugin));
	if ((out->caps & RG_MY_CLIENT_CONNECT_ATTRS) && rg_my_rd_left(&r)) {
		struct rg_my_str k, val;
		size_t off = 0;
		int rc;

		TRY(rg_my_rd_lenenc_str(&r, &out->attrs));
		while ((rc = rg_my_attr_next(&out->attrs, &off, &k, &val)) > 0)
			;
		TRY(rc);
	}
	if ((out->caps & RG_MY_CLIENT_ZSTD_COMPRESSION) && rg_my_rd_left(&r)) {
		TRY(rg_my_rd_fixed(&r, 1, &v));
		out->zstd_level = (uint8_t)v;
	}
	return rg_my_rd_end(&r);
}

int rg_my_attr_next(const struct rg_my_str *attrs, size_t *off, struct rg_my_str *key,
		    struct rg_my_str *value)
{
	struct rg_my_rd r;

	rg_my_rd_init(&r, attrs->p, (size_t)attrs->len);
	if (*off > r.n)
		return RG_MY_E_ARG;
	r.off = *off;
	if (!rg_my_rd_left(&r))
		return 0;
	TRY(rg_my_rd_lenenc_str(&r, key));
	TRY(rg_my_rd_lenenc_str(&r, value));
	key->off += attrs->off;
	value->off += attrs->off;
	*off = r.off;
	return 1;
}

int rg_my_attr_put(uint8_t *buf, size_t cap, size_t *len, const char *key, const char *value)
{
	size_t kl = strlen(key), vl = strlen(value);
	size_t need = rg_my_lenenc_size(kl) + kl + rg_my_lenenc_size(vl) + vl;

	if (*len > cap || need > cap - *len)
		return RG_MY_E_ARG;
	*len += rg_my_lenenc_encode(buf + *len, kl);
	memcpy(buf + *len, key, kl);
	*len += kl;
	*len += rg_my_lenenc_encode(buf + *len, vl);
	memcpy(buf + *len, value, vl);
	*len += vl;
	return 0;
}

static void write_response_head(struct wr *w, uint64_t caps, uint32_t max_packet, uint8_t charset)
{
	wr_le(w, caps & 0xffffffffu, 4);
	wr_le(w, max_packet, 4);
	wr_le(w, charset, 1);
	wr_zero(w, 19);
	wr_le(w, (caps & RG_MY_CLIENT_MYSQL) ? 0 : caps >> 32, 4);
}

ssize_t rg_my_write_response(uint8_t *buf, size_t cap, uint8_t seq, const struct rg_my_response *r)
{
	struct wr w;
	uint64_t c = r->caps;

	if (!(c & RG_MY_CLIENT_PROTOCOL_41) || ((c & RG_MY_CLIENT_MYSQL) && c >> 32))
		return RG_MY_E_ARG;
	if (!no_nul(r->user.p, (size_t)r->user.len) ||
	    !no_nul(r->database.p, (size_t)r->database.len) ||
	    !no_nul(r->plugin.p, (size_t)r->plugin.len))
		return RG_MY_E_ARG;
	wr_init(&w, buf, cap);
	write_response_head(&w, c, r->max_packet, r->charset);
	wr_bytes(&w, r->user.p, (size_t)r->user.len);
	wr_zero(&w, 1);
	if (c & RG_MY_CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) {
		wr_lenenc_str(&w, r->auth.p, r->auth.len);
	} else if (c & RG_MY_CLIENT_SECURE_CONNECTION) {
		if (r->auth.len > 255)
			return RG_MY_E_ARG;
		wr_le(&w, r->auth.len, 1);
		wr_bytes(&w, r->auth.p, (size_t)r->auth.len);
	} else {
		if (!no_nul(r->auth.p, (size_t)r->auth.len))
			return RG_MY_E_ARG;
		wr_bytes(&w, r->auth.p, (size_t)r->auth.len);
		wr_zero(&w, 1);
	}
	if (c & RG_MY_CLIENT_CONNECT_WITH_DB) {
		wr_bytes(&w, r->database.p, (size_t)r->database.len);
		wr_zero(&w, 1);
	}
	if (c & RG_MY_CLIENT_PLUGIN_AUTH) {
		wr_bytes(&w, r->plugin.p, (size_t)r->plugin.len);
		wr_zero(&w, 1);
	}
	if (c & RG_MY_CLIENT_CONNECT_ATTRS)
		wr_lenenc_str(&w, r->attrs.p, r->attrs.len);
	if (c & RG_MY_CLIENT_ZSTD_COMPRESSION)
		wr_le(&w, r->zstd_level, 1);
	return wr_finish(&w, seq);
}

ssize_t rg_my_write_ssl_request(uint8_t *buf, size_t cap, uint8_t seq, uint64_t caps,
				uint32_t max_packet, uint8_t charset)
{
	struct wr w;

	caps |= RG_MY_CLIENT_SSL;
	if (!(caps & RG_MY_CLIENT_PROTOCOL_41) || ((caps & RG_MY_CLIENT_MYSQL) && caps >> 32))
		return RG_MY_E_ARG;
	wr_init(&w, buf, cap);
	write_response_head(&w, caps, max_packet, charset);
	return wr_finish(&w, seq);
}

int rg_my_read_auth_switch(const uint8_t *p, size_t n, struct rg_my_auth_switch *out)
{
	struct rg_my_rd r;
	uint8_t h;

	memset(out, 0, sizeof(*out));
	rg_my_rd_init(&r, p, n);
	TRY(rg_my_rd_u8(&r, &h));
	if (h != 0xfe)
		return RG_MY_E_WRONG_TYPE;
	str_empty(&r, &out->plugin);
	out->data = out->plugin;
	if (!rg_my_rd_left(&r)) {
		out->old_style = true;
		return 0;
	}
	TRY(rg_my_rd_nul_str(&r, &out->plugin));
	return rg_my_rd_rest(&r, &out->data);
}

ssize_t rg_my_write_auth_switch(uint8_t *buf, size_t cap, uint8_t seq, const char *plugin,
				const uint8_t *data, size_t len)
{
	struct wr w;
	size_t pl = strlen(plugin);

	if (!pl)
		return RG_MY_E_ARG;
	wr_init(&w, buf, cap);
	wr_le(&w, 0xfe, 1);
	wr_bytes(&w, plugin, pl + 1);
	wr_bytes(&w, data, len);
	return wr_finish(&w, seq);
}

int rg_my_read_auth_more_data(const uint8_t *p, size_t n, struct rg_my_str *data)
{
	struct rg_my_rd r;
	uint8_t h;

	rg_my_rd_init(&r, p, n);
	TRY(rg_my_rd_u8(&r, &h));
	if (h != 0x01)
		return RG_MY_E_WRONG_TYPE;
	return rg_my_rd_rest(&r, data);
}

ssize_t rg_my_write_auth_more_data(uint8_t *buf, size_t cap, uint8_t seq, const uint8_t *data,
				   size_t len)
{
	struct wr w;

	wr_init(&w, buf, cap);
	wr_le(&w, 0x01, 1);
	wr_bytes(&w, data, len);
	return wr_finish(&w, seq);
}

ssize_t rg_my_write_auth_data(uint8_t *buf, size_t cap, uint8_t seq, const uint8_t *data,
			      size_t len)
{
	struct wr w;

	wr_init(&w, buf, cap);
	wr_bytes(&w, data, len);
	return wr_finish(&w, seq);
}

/* ---- OK / ERR / EOF ------------------------------------------------------------------------ */

enum rg_my_kind rg_my_classify(const uint8_t *p, size_t n, uint64_t caps, bool in_rows)
{
	if (!n)
		return RG_MY_KIND_OTHER;
	switch (p[0]) {
	case 0x00:
		return !in_rows && n >= 7 ? RG_MY_KIND_OK : RG_MY_KIND_OTHER;
	case 0xff:
		return RG_MY_KIND_ERR;
	case 0xfe:
		/* A row starting with 0xfe has a first field of 16 MiB or more, so the message
		 * is at least 0xffffff long; EOF_Packet proper is 5 bytes (1 for old auth). */
		if (n < 9)
			return (caps & RG_MY_CLIENT_DEPRECATE_EOF) && n >= 7 ? RG_MY_KIND_OK_EOF
									     : RG_MY_KIND_EOF;
		if ((caps & RG_MY_CLIENT_DEPRECATE_EOF) && n < RG_MY_MAX_PACKET)
			return RG_MY_KIND_OK_EOF;
		return RG_MY_KIND_OTHER;
	case 0xfb:
		return in_rows ? RG_MY_KIND_OTHER : RG_MY_KIND_LOCAL_INFILE;
	}
	return RG_MY_KIND_OTHER;
}

int rg_my_read_ok(const uint8_t *p, size_t n, uint64_t caps, struct rg_my_ok *out)
{
	struct rg_my_rd r;
	uint64_t v;

	memset(out, 0, sizeof(*out));
	rg_my_rd_init(&r, p, n);
	TRY(rg_my_rd_u8(&r, &out->header));
	if (out->header != 0x00 && out->header != 0xfe)
		return RG_MY_E_WRONG_TYPE;
	TRY(rg_my_rd_lenenc(&r, &out->affected_rows, NULL));
	TRY(rg_my_rd_lenenc(&r, &out->last_insert_id, NULL));
	if (caps & RG_MY_CLIENT_PROTOCOL_41) {
		TRY(rg_my_rd_fixed(&r, 2, &v));
		out->status = (uint16_t)v;
		TRY(rg_my_rd_fixed(&r, 2, &v));
		out->warnings = (uint16_t)v;
	} else if (caps & RG_MY_CLIENT_TRANSACTIONS) {
		TRY(rg_my_rd_fixed(&r, 2, &v));
		out->status = (uint16_t)v;
	}
	str_empty(&r, &out->info);
	out->session_state = out->info;
	if (caps & RG_MY_CLIENT_SESSION_TRACK) {
		/* MySQL omits an empty info at the end of the packet; MariaDB writes it. */
		if (rg_my_rd_left(&r))
			TRY(rg_my_rd_lenenc_str(&r, &out->info));
		if ((out->status & RG_MY_SERVER_SESSION_STATE_CHANGED) && rg_my_rd_left(&r))
			TRY(rg_my_rd_lenenc_str(&r, &out->session_state));
		return rg_my_rd_end(&r);
	}
	return rg_my_rd_rest(&r, &out->info);
}

ssize_t rg_my_write_ok(uint8_t *buf, size_t cap, uint8_t seq, uint64_t caps,
		       const struct rg_my_ok *ok)
{
	struct wr w;

	if (ok->header != 0x00 && ok->header != 0xfe)
		return RG_MY_E_ARG;
	wr_init(&w, buf, cap);
	wr_le(&w, ok->header, 1);
	wr_lenenc(&w, ok->affected_rows);
	wr_lenenc(&w, ok->last_insert_id);
	if (caps & RG_MY_CLIENT_PROTOCOL_41) {
		wr_le(&w, ok->status, 2);
		wr_le(&w, ok->warnings, 2);
	} else if (caps & RG_MY_CLIENT_TRANSACTIONS) {
		wr_le(&w, ok->status, 2);
	}
	if (caps & RG_MY_CLIENT_SESSION_TRACK) {
		wr_lenenc_str(&w, ok->info.p, ok->info.len);
		if (ok->status & RG_MY_SERVER_SESSION_STATE_CHANGED)
			wr_lenenc_str(&w, ok->session_state.p, ok->session_state.len);
	} else {
		wr_bytes(&w, ok->info.p, (size_t)ok->info.len);
	}
	return wr_finish(&w, seq);
}

int rg_my_read_err(const uint8_t *p, size_t n, struct rg_my_err_pkt *out)
{
	struct rg_my_rd r;
	struct rg_my_str st;
	uint8_t h;
	uint64_t v;

	memset(out, 0, sizeof(*out));
	rg_my_rd_init(&r, p, n);
	TRY(rg_my_rd_u8(&r, &h));
	if (h != 0xff)
		return RG_MY_E_WRONG_TYPE;
	TRY(rg_my_rd_fixed(&r, 2, &v));
	out->code = (uint16_t)v;
	if (out->code == 0xffff)
		return RG_MY_E_VALUE;
	if (rg_my_rd_left(&r) >= 6 && r.p[r.off] == '#') {
		r.off++;
		TRY(rg_my_rd_bytes(&r, 5, &st));
		memcpy(out->sqlstate, st.p, 5);
		out->sqlstate[5] = 0;
	}
	return rg_my_rd_rest(&r, &out->message);
}

ssize_t rg_my_write_err(uint8_t *buf, size_t cap, uint8_t seq, uint16_t code, const char *sqlstate,
			const char *message)
{
	struct wr w;
	size_t ml = strlen(message);

	if (strlen(sqlstate) != 5 || code == 0xffff)
		return RG_MY_E_ARG;
	if (ml > 512)
		ml = 512; /* MYSQL_ERRMSG_SIZE */
	wr_init(&w, buf, cap);
	wr_le(&w, 0xff, 1);
	wr_le(&w, code, 2);
	wr_le(&w, '#', 1);
	wr_bytes(&w, sqlstate, 5);
	wr_bytes(&w, message, ml);
	return wr_finish(&w, seq);
}

int rg_my_read_eof(const uint8_t *p, size_t n, struct rg_my_eof *out)
{
	struct rg_my_rd r;
	uint8_t h;
	uint64_t v;

	memset(out, 0, sizeof(*out));
	rg_my_rd_init(&r, p, n);
	TRY(rg_my_rd_u8(&r, &h));
	if (h != 0xfe || n >= 9)
		return RG_MY_E_WRONG_TYPE;
	TRY(rg_my_rd_fixed(&r, 2, &v));
	out->warnings = (uint16_t)v;
	TRY(rg_my_rd_fixed(&r, 2, &v));
	out->status = (uint16_t)v;
	return rg_my_rd_end(&r);
}

ssize_t rg_my_write_eof(uint8_t *buf, size_t cap, uint8_t seq, uint16_t warnings, uint16_t status)
{
	struct wr w;

	wr_init(&w, buf, cap);
	wr_le(&w, 0xfe, 1);
	wr_le(&w, warnings, 2);
	wr_le(&w, status, 2);
	return wr_finish(&w, seq);
}

/* ---- Commands -------------------------------------------------------------------------------- */

int rg_my_read_command(const uint8_t *p, size_t n, struct rg_my_command *out)
{
	struct rg_my_rd r;

	memset(out, 0, sizeof(*out));
	rg_my_rd_init(&r, p, n);
	TRY(rg_my_rd_u8(&r, &out->cmd));
	return rg_my_rd_rest(&r, &out->arg);
}

ssize_t rg_my_write_command(uint8_t *buf, size_t cap, uint8_t cmd, const void *arg, size_t len)
{
	if (len && !arg)
		return RG_MY_E_ARG;
	return write_split(buf, cap, 0, &cmd, 1, arg, len, NULL);
}

int rg_my_read_set_option(const uint8_t *p, size_t n, uint16_t *option)
{
	struct rg_my_rd r;
	uint8_t c;
	uint64_t v;

	rg_my_rd_init(&r, p, n);
	TRY(rg_my_rd_u8(&r, &c));
	if (c != RG_MY_COM_SET_OPTION)
		return RG_MY_E_WRONG_TYPE;
	TRY(rg_my_rd_fixed(&r, 2, &v));
	*option = (uint16_t)v;
	TRY(rg_my_rd_end(&r));
	return *option <= RG_MY_OPTION_MULTI_STATEMENTS_OFF ? 0 : RG_MY_E_VALUE;
}

int rg_my_read_field_list(const uint8_t *p, size_t n, struct rg_my_str *table,
			  struct rg_my_str *wildcard)
{
	struct rg_my_rd r;
	uint8_t c;

	rg_my_rd_init(&r, p, n);
	TRY(rg_my_rd_u8(&r, &c));
	if (c != RG_MY_COM_FIELD_LIST)
		return RG_MY_E_WRONG_TYPE;
	TRY(rg_my_rd_nul_str(&r, table));
	return rg_my_rd_rest(&r, wildcard);
}

int rg_my_read_change_user(const uint8_t *p, size_t n, uint64_t caps, struct rg_my_change_user *out)
{
	struct rg_my_rd r;
	uint8_t c;
	uint64_t v;

	memset(out, 0, sizeof(*out));
	rg_my_rd_init(&r, p, n);
	TRY(rg_my_rd_u8(&r, &c));
	if (c != RG_MY_COM_CHANGE_USER)
		return RG_MY_E_WRONG_TYPE;
	TRY(rg_my_rd_nul_str(&r, &out->user));
	if (caps & RG_MY_CLIENT_SECURE_CONNECTION) {
		uint8_t len;

		TRY(rg_my_rd_u8(&r, &len));
		TRY(rg_my_rd_bytes(&r, len, &out->auth));
	} else {
		TRY(rg_my_rd_nul_str(&r, &out->auth));
	}
	TRY(rg_my_rd_nul_str(&r, &out->database));
	str_empty(&r, &out->plugin);
	out->attrs = out->plugin;
	/* The rest is optional: clients before 5.1.23 end after the database. */
	if (rg_my_rd_left(&r)) {
		TRY(rg_my_rd_fixed(&r, 2, &v));
		out->charset = (uint16_t)v;
		out->has_charset = true;
	}
	if ((caps & RG_MY_CLIENT_PLUGIN_AUTH) && rg_my_rd_left(&r))
		TRY(rg_my_rd_nul_str(&r, &out->plugin));
	if ((caps & RG_MY_CLIENT_CONNECT_ATTRS) && rg_my_rd_left(&r)) {
		struct rg_my_str k, val;
		size_t off = 0;
		int rc;

		TRY(rg_my_rd_lenenc_str(&r, &out->attrs));
		while ((rc = rg_my_attr_next(&out->attrs, &off, &k, &val)) > 0)
			;
		TRY(rc);
	}
	return rg_my_rd_end(&r);
}

int rg_my_read_process_kill(const uint8_t *p, size_t n, uint32_t *conn_id)
{
	struct rg_my_rd r;
	uint8_t c;
	uint64_t v;

	rg_my_rd_init(&r, p, n);
	TRY(rg_my_rd_u8(&r, &c));
	if (c != RG_MY_COM_PROCESS_KILL)
		return RG_MY_E_WRONG_TYPE;
	TRY(rg_my_rd_fixed(&r, 4, &v));
	*conn_id = (uint32_t)v;
	return rg_my_rd_end(&r);
}
