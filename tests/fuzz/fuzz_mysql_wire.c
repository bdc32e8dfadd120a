/*
 * fuzz_mysql_wire: arbitrary bytes as a stream of MySQL packets. Byte 0 picks the
 * capabilities the readers assume (each bit adds a flag that changes a layout), byte 1 the
 * chunk size for the incremental reassembler; the rest is framed message by message and
 * every payload is given to every reader of engine/proto/mysql. Invariants, checked with
 * abort(): framing and the incremental stream agree on every message and account for every
 * byte; every view and field span a reader returns lies inside its payload; whatever a
 * reader accepts, its builder rebuilds into something the reader accepts again with the same
 * meaning (handshake, response, OK, ERR, EOF, auth switch, column, text row, PREPARE_OK).
 * Every row a reader accepts is also rebuilt by the masking's row rewriter (mask.c) with
 * fields masked, nulled or kept as the payload's bytes pick: the result is one packet the
 * same reader accepts, NULLs stay NULL and kept fields keep their bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "my-int.h"
#include "mysql-wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t out[1 << 17];

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			abort();                                                                   \
	} while (0)

static void inside(const uint8_t *p, size_t n, const struct rg_my_str *s)
{
	if (!s->len)
		return;
	CHECK(s->p >= p && s->p + s->len <= p + n && s->p == p + s->off);
}

static bool same_str(const struct rg_my_str *a, const struct rg_my_str *b)
{
	return a->len == b->len && (!a->len || !memcmp(a->p, b->p, a->len));
}

static void fuzz_handshake(const uint8_t *p, size_t n)
{
	struct rg_my_handshake h, h2;
	ssize_t k;

	if (rg_my_read_handshake(p, n, &h))
		return;
	inside(p, n, &h.server_version);
	inside(p, n, &h.auth_plugin);
	CHECK(h.scramble_len <= RG_MY_SCRAMBLE_MAX);
	k = rg_my_write_handshake(out, sizeof(out), &h);
	if (k < 0)
		return; /* e.g. a scramble the builder does not produce (8 or 20..63) */
	CHECK((size_t)k <= sizeof(out));
	CHECK(rg_my_read_handshake(out + 4, (size_t)k - 4, &h2) == 0);
	CHECK(h2.caps == h.caps && h2.conn_id == h.conn_id && h2.status == h.status &&
	      h2.charset == h.charset && h2.scramble_len == h.scramble_len &&
	      !memcmp(h2.scramble, h.scramble, h.scramble_len));
	CHECK(same_str(&h.server_version, &h2.server_version));
	if (h.caps & RG_MY_CLIENT_PLUGIN_AUTH)
		CHECK(same_str(&h.auth_plugin, &h2.auth_plugin));
}

static void fuzz_response(const uint8_t *p, size_t n)
{
	struct rg_my_response r, r2;
	struct rg_my_str k, v;
	size_t off = 0;
	ssize_t len;
	int rc;

	if (rg_my_read_response(p, n, &r))
		return;
	inside(p, n, &r.user);
	inside(p, n, &r.auth);
	inside(p, n, &r.database);
	inside(p, n, &r.plugin);
	inside(p, n, &r.attrs);
	while ((rc = rg_my_attr_next(&r.attrs, &off, &k, &v)) > 0) {
		inside(p, n, &k);
		inside(p, n, &v);
	}
	CHECK(rc == 0);
	if (r.ssl_request)
		return;
	len = rg_my_write_response(out, sizeof(out), 1, &r);
	if (len < 0 || (size_t)len > sizeof(out))
		return; /* a layout the builder refuses (e.g. NUL inside a NUL-form auth) */
	CHECK(rg_my_read_response(out + 4, (size_t)len - 4, &r2) == 0);
	CHECK(r2.caps == r.caps && r2.max_packet == r.max_packet && r2.charset == r.charset);
	CHECK(same_str(&r.user, &r2.user) && same_str(&r.auth, &r2.auth));
	CHECK(same_str(&r.database, &r2.database) && same_str(&r.plugin, &r2.plugin));
	CHECK(same_str(&r.attrs, &r2.attrs));
}

static void fuzz_server_packets(const uint8_t *p, size_t n, uint64_t caps)
{
	struct rg_my_ok ok, ok2;
	struct rg_my_err_pkt e, e2;
	struct rg_my_eof eof;
	struct rg_my_auth_switch as;
	struct rg_my_str d;
	ssize_t len;

	(void)rg_my_classify(p, n, caps, false);
	(void)rg_my_classify(p, n, caps, true);
	if (!rg_my_read_ok(p, n, caps, &ok)) {
		inside(p, n, &ok.info);
		inside(p, n, &ok.session_state);
		len = rg_my_write_ok(out, sizeof(out), 1, caps, &ok);
		if (len > 0 && (size_t)len <= sizeof(out)) {
			CHECK(rg_my_read_ok(out + 4, (size_t)len - 4, caps, &ok2) == 0);
			CHECK(ok2.affected_rows == ok.affected_rows &&
			      ok2.last_insert_id == ok.last_insert_id &&
			      same_str(&ok.info, &ok2.info));
			if (caps & (RG_MY_CLIENT_PROTOCOL_41 | RG_MY_CLIENT_TRANSACTIONS))
				CHECK(ok2.status == ok.status);
		}
	}
	if (!rg_my_read_err(p, n, &e)) {
		inside(p, n, &e.message);
		if (e.sqlstate[0] && !memchr(e.message.p, 0, e.message.len) &&
		    e.message.len <= 512 && strlen(e.sqlstate) == 5) {
			char msg[513];

			memcpy(msg, e.message.p, e.message.len);
			msg[e.message.len] = 0;
			len = rg_my_write_err(out, sizeof(out), 1, e.code, e.sqlstate, msg);
			CHECK(len > 0);
			CHECK(rg_my_read_err(out + 4, (size_t)len - 4, &e2) == 0);
			CHECK(e2.code == e.code && !strcmp(e2.sqlstate, e.sqlstate) &&
			      same_str(&e.message, &e2.message));
		}
	}
	if (!rg_my_read_eof(p, n, &eof)) {
		len = rg_my_write_eof(out, sizeof(out), 1, eof.warnings, eof.status);
		CHECK(len == 9 && !memcmp(out + 4, p, 5));
	}
	if (!rg_my_read_auth_switch(p, n, &as)) {
		inside(p, n, &as.plugin);
		inside(p, n, &as.data);
	}
	if (!rg_my_read_auth_more_data(p, n, &d))
		inside(p, n, &d);
}

static void fuzz_rebuild(const uint8_t *p, size_t n, uint32_t ncols, const uint8_t *types,
			 const struct rg_my_field *f);

static void fuzz_result_set(const uint8_t *p, size_t n, uint64_t caps)
{
	static struct rg_my_field f[300];
	struct rg_my_column c, c2;
	struct rg_my_prepare_ok pok, pok2;
	uint64_t count;
	ssize_t len;

	(void)rg_my_read_column_count(p, n, caps, &count);
	for (int fl = 0; fl < 2; fl++) {
		if (rg_my_read_column(p, n, caps, fl, &c))
			continue;
		inside(p, n, &c.catalog);
		inside(p, n, &c.schema);
		inside(p, n, &c.table);
		inside(p, n, &c.org_table);
		inside(p, n, &c.name);
		inside(p, n, &c.org_name);
		inside(p, n, &c.ext);
		inside(p, n, &c.defval);
		len = rg_my_write_column(out, sizeof(out), 1, &c);
		if (len > 0 && (size_t)len <= sizeof(out)) {
			CHECK(rg_my_read_column(out + 4, (size_t)len - 4, 0, false, &c2) == 0);
			CHECK(same_str(&c.name, &c2.name) &&
			      same_str(&c.org_table, &c2.org_table) && c.type == c2.type &&
			      c.flags == c2.flags && c.length == c2.length);
		}
	}
	/* rows of 1..8 columns; binary rows typed by the payload's own bytes */
	for (uint32_t ncols = 1; ncols <= 8; ncols++) {
		if (!rg_my_read_text_row(p, n, ncols, f, 300)) {
			struct rg_my_value v[8];

			for (uint32_t i = 0; i < ncols; i++) {
				CHECK((uint64_t)f[i].off + f[i].len <= n);
				v[i].data = f[i].is_null ? NULL : p + f[i].off;
				v[i].len = f[i].len;
			}
			len = rg_my_write_text_row(out, sizeof(out), 1, v, ncols);
			if (len > 0 && (size_t)len <= sizeof(out)) {
				static struct rg_my_field g[8];

				CHECK(rg_my_read_text_row(out + 4, (size_t)len - 4, ncols, g, 8) ==
				      0);
				for (uint32_t i = 0; i < ncols; i++)
					CHECK(g[i].is_null == f[i].is_null &&
					      g[i].len == f[i].len &&
					      !memcmp(out + 4 + g[i].off, p + f[i].off, f[i].len));
			}
			fuzz_rebuild(p, n, ncols, NULL, f);
		}
		if (n > 8 && !rg_my_read_binary_row(p, n, ncols, p + n - 8, f, 300)) {
			for (uint32_t i = 0; i < ncols; i++)
				CHECK((uint64_t)f[i].off + f[i].len <= n);
			fuzz_rebuild(p, n, ncols, p + n - 8, f);
		}
	}
	if (!rg_my_read_prepare_ok(p, n, &pok)) {
		len = rg_my_write_prepare_ok(out, sizeof(out), 1, &pok);
		CHECK(len == 16 && rg_my_read_prepare_ok(out + 4, 12, &pok2) == 0 &&
		      !memcmp(&pok, &pok2, sizeof(pok)));
	}
}

/* f[0..ncols) a row p[0..n) parsed as text (types NULL: every column a string) or binary. */
static void fuzz_rebuild(const uint8_t *p, size_t n, uint32_t ncols, const uint8_t *types,
			 const struct rg_my_field *f)
{
	static const uint8_t masked[300] = {'*'};
	static const uint8_t strings[8] = {RG_MY_TYPE_VAR_STRING, RG_MY_TYPE_VAR_STRING,
					   RG_MY_TYPE_VAR_STRING, RG_MY_TYPE_VAR_STRING,
					   RG_MY_TYPE_VAR_STRING, RG_MY_TYPE_VAR_STRING,
					   RG_MY_TYPE_VAR_STRING, RG_MY_TYPE_VAR_STRING};
	static struct rg_acc acc;
	struct rg_mask_out_field o[8];
	struct rg_my_field g[8];
	const uint8_t *t = types ? types : strings;
	bool binary = types != NULL;

	for (uint32_t i = 0; i < ncols; i++) {
		uint8_t pick = n ? p[(i * 7) % n] : 0;

		o[i] = (struct rg_mask_out_field){0};
		if (f[i].is_null || pick % 3 == 0)
			continue;
		o[i].changed = true;
		o[i].is_null = pick % 3 == 1;
		o[i].data = masked;
		o[i].len = pick % 2 ? 1 : (uint32_t)sizeof(masked); /* 1- and 3-byte lengths */
	}
	acc.len = 0;
	if (my_mask_rebuild(binary, t, ncols, p, n, f, o, 3, &acc))
		return;
	CHECK(acc.len >= 4 && acc.p[3] == 3 &&
	      (acc.p[0] | (size_t)acc.p[1] << 8 | (size_t)acc.p[2] << 16) == acc.len - 4);
	CHECK((binary ? rg_my_read_binary_row(acc.p + 4, acc.len - 4, ncols, t, g, 8)
		      : rg_my_read_text_row(acc.p + 4, acc.len - 4, ncols, g, 8)) == 0);
	for (uint32_t i = 0; i < ncols; i++) {
		bool str = binary ? my_mask_string_type(t[i]) && t[i] != RG_MY_TYPE_JSON : true;

		if (f[i].is_null || (o[i].changed && (o[i].is_null || !str)))
			CHECK(g[i].is_null);
		else if (!o[i].changed)
			CHECK(!g[i].is_null && g[i].len == f[i].len &&
			      !memcmp(acc.p + 4 + g[i].off, p + f[i].off, f[i].len));
		else
			CHECK(!g[i].is_null && g[i].len == o[i].len);
	}
}

static void fuzz_commands(const uint8_t *p, size_t n, uint64_t caps)
{
	static struct rg_my_param par[300];
	struct rg_my_command cmd;
	struct rg_my_change_user cu;
	struct rg_my_execute ex;
	struct rg_my_long_data ld;
	struct rg_my_fetch fe;
	struct rg_my_str a, b;
	uint16_t opt;
	uint32_t id;

	if (!rg_my_read_command(p, n, &cmd))
		inside(p, n, &cmd.arg);
	(void)rg_my_read_set_option(p, n, &opt);
	if (!rg_my_read_field_list(p, n, &a, &b)) {
		inside(p, n, &a);
		inside(p, n, &b);
	}
	if (!rg_my_read_change_user(p, n, caps, &cu)) {
		inside(p, n, &cu.user);
		inside(p, n, &cu.auth);
		inside(p, n, &cu.database);
		inside(p, n, &cu.plugin);
		inside(p, n, &cu.attrs);
	}
	(void)rg_my_read_process_kill(p, n, &id);
	(void)rg_my_read_stmt_id(p, n, RG_MY_COM_STMT_CLOSE, &id);
	(void)rg_my_read_stmt_id(p, n, RG_MY_COM_STMT_RESET, &id);
	(void)rg_my_read_fetch(p, n, &fe);
	if (!rg_my_read_long_data(p, n, &ld))
		inside(p, n, &ld.data);
	(void)rg_my_read_clear_password(p, n, &a);
	/* execute with a parameter count and previous types / long data from the tail */
	if (n > 12) {
		uint16_t nparams = (uint16_t)(p[n - 1] % 40);
		const uint8_t *prev = n >= 2u * nparams + 2 ? p + n - 1 - 2u * nparams : NULL;
		const uint8_t *ld_bits = (p[n - 2] & 1) && n > 12 ? p + 1 : NULL;

		if (!rg_my_read_execute(p, n, nparams, prev, ld_bits, &ex, par, 300))
			for (uint16_t i = 0; i < nparams; i++)
				CHECK((uint64_t)par[i].off + par[i].len <= n);
	}
}

/* The incremental reassembler must report the same payload as frame + gather. */
static void check_stream(const uint8_t *p, size_t n, size_t chunk)
{
	struct rg_my_stream s;
	struct rg_my_stream_event ev;
	struct rg_my_msg m;
	size_t pos = 0, cur = 0;
	ssize_t whole = rg_my_frame_msg(p, n, -1, 0, &m);
	uint8_t *want = NULL;

	if (whole <= 0)
		return;
	want = malloc(m.len ? m.len : 1);
	CHECK(want && rg_my_msg_gather(&m, want, m.len) == (ssize_t)m.len);
	rg_my_stream_init(&s, -1, 0);
	for (;;) {
		size_t k = (size_t)whole - pos < chunk ? (size_t)whole - pos : chunk;
		ssize_t r = rg_my_stream_next(&s, p + pos, k, &ev);

		CHECK(r >= 0 && (size_t)r <= k);
		pos += (size_t)r;
		if (ev.kind == RG_MY_STREAM_END) {
			CHECK(ev.pos == m.len && cur == m.len && pos == (size_t)whole);
			break;
		}
		if (ev.kind == RG_MY_STREAM_DATA) {
			CHECK(ev.pos == cur && cur + ev.n <= m.len &&
			      !memcmp(ev.data, want + cur, ev.n));
			cur += ev.n;
			continue;
		}
		/* MORE: everything given was consumed, and there must have been something left */
		CHECK((size_t)r == k && k > 0);
	}
	free(want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t bits[8] = {
	    RG_MY_CLIENT_PROTOCOL_41,
	    RG_MY_CLIENT_SESSION_TRACK,
	    RG_MY_CLIENT_DEPRECATE_EOF,
	    RG_MY_CLIENT_SECURE_CONNECTION,
	    RG_MY_CLIENT_PLUGIN_AUTH,
	    RG_MY_CLIENT_CONNECT_ATTRS,
	    RG_MY_MARIADB_CLIENT_EXTENDED_METADATA,
	    RG_MY_CLIENT_TRANSACTIONS,
	};
	uint64_t caps = 0;
	size_t chunk, off = 2;

	if (size < 2)
		return 0;
	for (int i = 0; i < 8; i++)
		if (data[0] & (1u << i))
			caps |= bits[i];
	chunk = (size_t)data[1] % 16 + 1;
	while (off < size) {
		struct rg_my_msg m;
		ssize_t r = rg_my_frame_msg(data + off, size - off, -1, 1u << 20, &m);
		uint8_t *pl;

		if (r < 0)
			break;
		if (r == 0) {
			CHECK(m.need >= 1);
			/* the partial tail is still a payload for the readers */
			fuzz_commands(data + off, size - off, caps);
			break;
		}
		CHECK((size_t)r == m.total && m.total <= size - off);
		check_stream(data + off, (size_t)r, chunk);
		pl = malloc(m.len ? m.len : 1);
		CHECK(pl && rg_my_msg_gather(&m, pl, m.len) == (ssize_t)m.len);
		fuzz_handshake(pl, m.len);
		fuzz_response(pl, m.len);
		fuzz_server_packets(pl, m.len, caps);
		fuzz_result_set(pl, m.len, caps);
		fuzz_commands(pl, m.len, caps);
		free(pl);
		off += (size_t)r;
	}
	return 0;
}
