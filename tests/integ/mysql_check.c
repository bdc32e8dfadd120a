/*
 * mysql_check: engine/proto/mysql's codec and auth methods against a real MariaDB (started
 * by tests/integ/lib/mariadb.py; test_mysql_wire.py runs this program). A minimal blocking
 * client made only of the module's readers and builders: it reads the server's handshake
 * (and checks the builder rebuilds it byte for byte), logs in with mysql_native_password or
 * through an AuthSwitch to client_ed25519, then drives COM_QUERY (SELECT 1, multi-statement
 * results with SERVER_MORE_RESULTS_EXISTS), prepared statements in the binary protocol
 * (parameters of several types, one sent with COM_STMT_SEND_LONG_DATA), and messages over
 * 16 MiB in both directions (split packets reassembled, by framing and by the incremental
 * stream, which must agree on every message). Every step prints "ok - ..." and
 * any mismatch exits 1, so the Python side only reads the verdict.
 *
 * Usage: mysql_check MODE, MODE one of: native, ed25519, bad-password, pubkey.
 * Environment: RG_TEST_MY_HOST, RG_TEST_MY_PORT, RG_TEST_MY_DB, RG_TEST_MY_USER,
 * RG_TEST_MY_PASSWORD. `pubkey` prints the ed25519 public key of the password in base64
 * without padding (what the server stores) and connects nowhere.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "mysql-wire.h"

#define BIG_LEN 17000000u /* over 16 MiB: two packets each way */

static const char *host, *port, *db, *user, *password;

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "FAIL - ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static void ok(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("ok - ");
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	va_end(ap);
}

static const char *env(const char *name)
{
	const char *v = getenv(name);

	if (!v)
		die("%s is not set", name);
	return v;
}

/* ---- A blocking connection: a receive buffer and the exchange's sequence id ---------- */

struct conn {
	int fd;
	uint8_t *buf;
	size_t len, cap;
	uint8_t seq;   /* the next packet's sequence id, either direction */
	uint64_t caps; /* negotiated */
	uint8_t *msg;  /* the last message's payload (gathered when split) */
	size_t msg_len;
	uint8_t *owned; /* heap copy backing msg for split messages */
};

static void conn_open(struct conn *c)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;

	memset(c, 0, sizeof(*c));
	if (getaddrinfo(host, port, &hints, &ai))
		die("getaddrinfo %s:%s", host, port);
	c->fd = socket(ai->ai_family, SOCK_STREAM, 0);
	if (c->fd < 0 || connect(c->fd, ai->ai_addr, ai->ai_addrlen))
		die("connect %s:%s: %s", host, port, strerror(errno));
	freeaddrinfo(ai);
	c->cap = 1 << 16;
	c->buf = malloc(c->cap);
}

static void conn_close(struct conn *c)
{
	close(c->fd);
	free(c->buf);
	free(c->owned);
}

static void send_all(struct conn *c, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL);

		if (k <= 0)
			die("send: %s", strerror(errno));
		p += k;
		n -= (size_t)k;
	}
}

/* The incremental reassembler over the same wire bytes, in 64 KiB pieces, must hand out
 * exactly the payload that framing + gather produced (every message of the session). */
static void cross_check_stream(const uint8_t *wire, size_t n, uint8_t seq, const uint8_t *want,
			       uint64_t len)
{
	struct rg_my_stream s;
	struct rg_my_stream_event ev;
	size_t pos = 0;
	uint64_t got = 0;

	rg_my_stream_init(&s, seq, 64u << 20);
	for (;;) {
		size_t k = n - pos < 65536 ? n - pos : 65536;
		ssize_t r = rg_my_stream_next(&s, wire + pos, k, &ev);

		if (r < 0)
			die("stream: %s", rg_my_strerror((int)r));
		pos += (size_t)r;
		if (ev.kind == RG_MY_STREAM_END)
			break;
		if (ev.kind == RG_MY_STREAM_DATA) {
			if (ev.pos != got || memcmp(ev.data, want + got, ev.n))
				die("stream and gather disagree at %llu", (unsigned long long)got);
			got += ev.n;
		} else if (!k) {
			die("stream wants more after the whole message");
		}
	}
	if (got != len || pos != n)
		die("stream: %llu of %llu payload bytes, %zu of %zu wire bytes",
		    (unsigned long long)got, (unsigned long long)len, pos, n);
}

/* Read one message with the expected sequence id; c->msg / c->msg_len get its payload. */
static void read_msg(struct conn *c)
{
	struct rg_my_msg m;
	ssize_t r;

	free(c->owned);
	c->owned = NULL;
	for (;;) {
		r = rg_my_frame_msg(c->buf, c->len, c->seq, 64u << 20, &m);
		if (r < 0)
			die("framing: %s", rg_my_strerror((int)r));
		if (r > 0)
			break;
		if (c->len == c->cap) {
			c->cap *= 2;
			c->buf = realloc(c->buf, c->cap);
		}
		ssize_t k = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);

		if (k <= 0)
			die("connection closed by the server (%s)", k ? strerror(errno) : "EOF");
		c->len += (size_t)k;
	}
	c->owned = malloc(m.len ? m.len : 1);
	if (rg_my_msg_gather(&m, c->owned, m.len) != (ssize_t)m.len)
		die("gather");
	cross_check_stream(c->buf, (size_t)r, c->seq, c->owned, m.len);
	c->msg = c->owned;
	c->msg_len = m.len;
	c->seq = m.seq_next;
	memmove(c->buf, c->buf + r, c->len - (size_t)r);
	c->len -= (size_t)r;
}

/* Send a built packet (or packets) and advance the sequence id past it. */
static void send_built(struct conn *c, uint8_t *pkt, ssize_t n)
{
	struct rg_my_msg m;

	if (n < 0)
		die("builder: %s", rg_my_strerror((int)n));
	if (rg_my_frame_msg(pkt, (size_t)n, c->seq, 0, &m) != n)
		die("built message does not frame as one message with seq %u", c->seq);
	send_all(c, pkt, (size_t)n);
	c->seq = m.seq_next;
}

static void send_command(struct conn *c, uint8_t cmd, const void *arg, size_t len)
{
	ssize_t n = rg_my_write_command(NULL, 0, cmd, arg, len);
	uint8_t *pkt = malloc((size_t)n);

	c->seq = 0;
	send_built(c, pkt, rg_my_write_command(pkt, (size_t)n, cmd, arg, len));
	free(pkt);
}

static void expect_err_free(struct conn *c, const char *what)
{
	struct rg_my_err_pkt e;

	if (rg_my_classify(c->msg, c->msg_len, c->caps, false) == RG_MY_KIND_ERR &&
	    rg_my_read_err(c->msg, c->msg_len, &e) == 0)
		die("%s: server error %u (%s): %.*s", what, e.code, e.sqlstate, (int)e.message.len,
		    e.message.p);
}

/* ---- Login -------------------------------------------------------------------------------- */

static void check_handshake_rebuilds(const uint8_t *p, size_t n, const struct rg_my_handshake *h)
{
	uint8_t out[512];
	ssize_t k = rg_my_write_handshake(out, sizeof(out), h);

	if (k != (ssize_t)n + RG_MY_HDR || memcmp(out + RG_MY_HDR, p, n))
		die("the handshake builder does not reproduce the server's handshake");
}

/* Returns 0 on OK, or the ERR code. */
static int login(struct conn *c, const char *pw, uint64_t extra_caps)
{
	struct rg_my_handshake h;
	struct rg_my_response r = {0};
	uint8_t auth[64], attrs[128], pkt[1024];
	size_t alen = 0;
	int rc, alen_auth;

	c->seq = 0;
	read_msg(c);
	rc = rg_my_read_handshake(c->msg, c->msg_len, &h);
	if (rc)
		die("handshake: %s", rg_my_strerror(rc));
	check_handshake_rebuilds(c->msg, c->msg_len, &h);
	if (h.scramble_len != 20 || !(h.caps & RG_MY_CLIENT_PLUGIN_AUTH) ||
	    h.auth_plugin.len != 21 || memcmp(h.auth_plugin.p, "mysql_native_password", 21))
		die("unexpected handshake (scramble %u, plugin %.*s)", h.scramble_len,
		    (int)h.auth_plugin.len, h.auth_plugin.p);
	ok("handshake v10 from %.*s, conn id %u, caps %#llx, rebuilt byte for byte",
	   (int)h.server_version.len, h.server_version.p, h.conn_id, (unsigned long long)h.caps);

	/* What the client asks: keep CLIENT_MYSQL (no MariaDB extensions), never compression */
	c->caps = h.caps &
		  (RG_MY_CLIENT_MYSQL | RG_MY_CLIENT_PROTOCOL_41 | RG_MY_CLIENT_SECURE_CONNECTION |
		   RG_MY_CLIENT_PLUGIN_AUTH | RG_MY_CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA |
		   RG_MY_CLIENT_CONNECT_WITH_DB | RG_MY_CLIENT_CONNECT_ATTRS |
		   RG_MY_CLIENT_TRANSACTIONS | RG_MY_CLIENT_MULTI_RESULTS |
		   RG_MY_CLIENT_PS_MULTI_RESULTS | RG_MY_CLIENT_SESSION_TRACK | extra_caps);
	c->caps |= RG_MY_CLIENT_MYSQL;
	alen_auth = rg_my_native_password(h.scramble, h.scramble_len, pw, strlen(pw), auth);
	if (alen_auth < 0)
		die("native scramble: %s", rg_my_strerror(alen_auth));
	rg_my_attr_put(attrs, sizeof(attrs), &alen, "_client_name", "ringgate-mysql-check");
	r.caps = c->caps;
	r.max_packet = 64u << 20;
	r.charset = 45; /* utf8mb4_general_ci */
	r.user.p = (const uint8_t *)user;
	r.user.len = strlen(user);
	r.auth.p = auth;
	r.auth.len = (uint64_t)alen_auth;
	r.database.p = (const uint8_t *)db;
	r.database.len = strlen(db);
	r.plugin.p = (const uint8_t *)"mysql_native_password";
	r.plugin.len = 21;
	r.attrs.p = attrs;
	r.attrs.len = alen;
	send_built(c, pkt, rg_my_write_response(pkt, sizeof(pkt), c->seq, &r));

	for (;;) {
		struct rg_my_auth_switch as;
		struct rg_my_err_pkt e;
		struct rg_my_ok okp;
		uint8_t sig[64];
		int n;

		read_msg(c);
		switch (c->msg_len ? c->msg[0] : 0x100) {
		case 0x00:
			rc = rg_my_read_ok(c->msg, c->msg_len, c->caps, &okp);
			if (rc)
				die("login OK: %s", rg_my_strerror(rc));
			return 0;
		case 0xff:
			rc = rg_my_read_err(c->msg, c->msg_len, &e);
			if (rc)
				die("login ERR: %s", rg_my_strerror(rc));
			printf("server refused: %u %s %.*s\n", e.code, e.sqlstate,
			       (int)e.message.len, e.message.p);
			if (strcmp(e.sqlstate, "28000"))
				die("refusal without SQLSTATE 28000");
			return e.code;
		case 0xfe:
			rc = rg_my_read_auth_switch(c->msg, c->msg_len, &as);
			if (rc || as.old_style)
				die("auth switch: %s", rg_my_strerror(rc));
			if (as.plugin.len == 14 && !memcmp(as.plugin.p, "client_ed25519", 14)) {
				n = rg_my_ed25519_sign(as.data.p, as.data.len, pw, strlen(pw), sig);
				if (n != 64)
					die("ed25519: %s", rg_my_strerror(n));
				ok("AuthSwitchRequest to client_ed25519 (%llu bytes of scramble)",
				   (unsigned long long)as.data.len);
				send_built(
				    c, pkt,
				    rg_my_write_auth_data(pkt, sizeof(pkt), c->seq, sig, 64));
			} else if (as.plugin.len == 21 &&
				   !memcmp(as.plugin.p, "mysql_native_password", 21)) {
				n = rg_my_native_password(as.data.p, as.data.len, pw, strlen(pw),
							  auth);
				if (n < 0)
					die("native: %s", rg_my_strerror(n));
				send_built(c, pkt,
					   rg_my_write_auth_data(pkt, sizeof(pkt), c->seq, auth,
								 (size_t)n));
			} else {
				die("switch to unexpected plugin %.*s", (int)as.plugin.len,
				    as.plugin.p);
			}
			break;
		default:
			die("unexpected packet 0x%02x during login", c->msg_len ? c->msg[0] : 0);
		}
	}
}

/* ---- Result sets -------------------------------------------------------------------------- */

#define MAXCOLS 16

struct result {
	uint64_t ncols;
	struct rg_my_column cols[MAXCOLS];
	uint8_t types[MAXCOLS];
	uint8_t *col_copies[MAXCOLS]; /* column payloads outlive the next read */
	uint32_t nrows;
	uint16_t status;
	uint64_t affected;
	/* the first row's fields, copied */
	uint8_t *row[MAXCOLS];
	uint64_t row_len[MAXCOLS];
	bool row_null[MAXCOLS];
	uint64_t biggest; /* longest field seen */
};

static void result_free(struct result *res)
{
	for (int i = 0; i < MAXCOLS; i++) {
		free(res->col_copies[i]);
		free(res->row[i]);
	}
	memset(res, 0, sizeof(*res));
}

static uint16_t read_terminator(struct conn *c)
{
	enum rg_my_kind k = rg_my_classify(c->msg, c->msg_len, c->caps, true);
	struct rg_my_eof e;
	struct rg_my_ok o;
	int rc;

	if (k == RG_MY_KIND_EOF) {
		rc = rg_my_read_eof(c->msg, c->msg_len, &e);
		if (rc)
			die("EOF: %s", rg_my_strerror(rc));
		return e.status;
	}
	rc = rg_my_read_ok(c->msg, c->msg_len, c->caps, &o);
	if (rc)
		die("OK-as-EOF: %s", rg_my_strerror(rc));
	return o.status;
}

static void read_rows(struct conn *c, bool binary, struct result *res);

/* Read one result (OK, or a result set with rows as text or binary). */
static void read_result(struct conn *c, bool binary, struct result *res)
{
	struct rg_my_ok o;
	int rc;

	result_free(res);
	read_msg(c);
	expect_err_free(c, "result");
	/* COM_SET_OPTION answers with EOF (OK-as-EOF with DEPRECATE_EOF), not OK */
	switch (rg_my_classify(c->msg, c->msg_len, c->caps, false)) {
	case RG_MY_KIND_EOF:
	case RG_MY_KIND_OK_EOF:
		res->status = read_terminator(c);
		return;
	default:
		break;
	}
	if (rg_my_classify(c->msg, c->msg_len, c->caps, false) == RG_MY_KIND_OK) {
		rc = rg_my_read_ok(c->msg, c->msg_len, c->caps, &o);
		if (rc)
			die("OK: %s", rg_my_strerror(rc));
		res->status = o.status;
		res->affected = o.affected_rows;
		return;
	}
	rc = rg_my_read_column_count(c->msg, c->msg_len, c->caps, &res->ncols);
	if (rc || res->ncols > MAXCOLS)
		die("column count: %s", rg_my_strerror(rc));
	for (uint64_t i = 0; i < res->ncols; i++) {
		read_msg(c);
		res->col_copies[i] = c->owned;
		c->owned = NULL;
		rc = rg_my_read_column(res->col_copies[i], c->msg_len, c->caps, false,
				       &res->cols[i]);
		if (rc)
			die("column %llu: %s", (unsigned long long)i, rg_my_strerror(rc));
		res->types[i] = res->cols[i].type;
	}
	if (!(c->caps & RG_MY_CLIENT_DEPRECATE_EOF)) {
		read_msg(c);
		if (rg_my_classify(c->msg, c->msg_len, c->caps, true) != RG_MY_KIND_EOF)
			die("no EOF after the column definitions");
		res->status = read_terminator(c);
		if (res->status & RG_MY_SERVER_STATUS_CURSOR_EXISTS)
			return; /* a cursor was opened: rows come with COM_STMT_FETCH */
	}
	read_rows(c, binary, res);
}

/* Rows until the EOF / OK-as-EOF that ends them (a result set's, or a FETCH's). */
static void read_rows(struct conn *c, bool binary, struct result *res)
{
	struct rg_my_field f[MAXCOLS];
	int rc;

	for (;;) {
		enum rg_my_kind k;

		read_msg(c);
		expect_err_free(c, "row");
		k = rg_my_classify(c->msg, c->msg_len, c->caps, true);
		if (k == RG_MY_KIND_EOF || k == RG_MY_KIND_OK_EOF) {
			res->status = read_terminator(c);
			return;
		}
		rc = binary ? rg_my_read_binary_row(c->msg, c->msg_len, (uint32_t)res->ncols,
						    res->types, f, MAXCOLS)
			    : rg_my_read_text_row(c->msg, c->msg_len, (uint32_t)res->ncols, f,
						  MAXCOLS);
		if (rc)
			die("%s row: %s", binary ? "binary" : "text", rg_my_strerror(rc));
		for (uint64_t i = 0; i < res->ncols; i++) {
			if (f[i].len > res->biggest)
				res->biggest = f[i].len;
			if (res->nrows)
				continue;
			res->row_null[i] = f[i].is_null;
			res->row_len[i] = f[i].len;
			free(res->row[i]); /* a FETCH after an earlier one */
			res->row[i] = malloc(f[i].len + 1);
			memcpy(res->row[i], c->msg + f[i].off, f[i].len);
			res->row[i][f[i].len] = 0;
		}
		res->nrows++;
	}
}

static void query(struct conn *c, const char *sql, struct result *res)
{
	send_command(c, RG_MY_COM_QUERY, sql, strlen(sql));
	read_result(c, false, res);
}

static void expect_field(const struct result *res, int i, const char *want)
{
	if (!want) {
		if (!res->row_null[i])
			die("column %d: want NULL, got '%s'", i, res->row[i]);
		return;
	}
	if (res->row_null[i] || res->row_len[i] != strlen(want) ||
	    memcmp(res->row[i], want, res->row_len[i]))
		die("column %d: want '%s', got '%s'", i, want,
		    res->row_null[i] ? "NULL" : (char *)res->row[i]);
}

static void check_queries(struct conn *c)
{
	struct result res = {0};

	query(c, "SELECT 1", &res);
	if (res.ncols != 1 || res.nrows != 1 || res.cols[0].type != RG_MY_TYPE_LONG ||
	    res.cols[0].name.len != 1 || res.cols[0].name.p[0] != '1')
		die("SELECT 1: %llu columns, %u rows, type %u, name %.*s",
		    (unsigned long long)res.ncols, res.nrows, res.cols[0].type,
		    (int)res.cols[0].name.len, res.cols[0].name.p);
	expect_field(&res, 0, "1");
	if (res.status & RG_MY_SERVER_MORE_RESULTS_EXISTS)
		die("SELECT 1 says more results follow");
	ok("COM_QUERY SELECT 1: one LONG column (MariaDB types the literal INT) named '1', one row "
	   "'1'%s",
	   (c->caps & RG_MY_CLIENT_DEPRECATE_EOF) ? " (OK-as-EOF)" : " (EOF packets)");

	/* multi-statements: three results, the first two flagged MORE_RESULTS_EXISTS */
	send_command(c, RG_MY_COM_SET_OPTION, "\0\0", 2);
	read_result(c, false, &res);
	query(c, "SELECT 'a', NULL; DO 1; SELECT 2 AS two", &res);
	expect_field(&res, 0, "a");
	expect_field(&res, 1, NULL);
	if (!(res.status & RG_MY_SERVER_MORE_RESULTS_EXISTS))
		die("first result of three without SERVER_MORE_RESULTS_EXISTS");
	read_result(c, false, &res);
	if (res.ncols || !(res.status & RG_MY_SERVER_MORE_RESULTS_EXISTS))
		die("second result: not an OK with MORE_RESULTS_EXISTS");
	read_result(c, false, &res);
	if (res.ncols != 1 || res.cols[0].name.len != 3 ||
	    (res.status & RG_MY_SERVER_MORE_RESULTS_EXISTS))
		die("third result");
	expect_field(&res, 0, "2");
	ok("multi-statement COM_QUERY: three results chained by SERVER_MORE_RESULTS_EXISTS");
	result_free(&res);
}

static void check_big(struct conn *c)
{
	struct result res = {0};
	char *q = malloc(BIG_LEN + 64);
	int n;

	query(c, "SELECT REPEAT('x', 17000000)", &res);
	if (res.nrows != 1 || res.row_len[0] != BIG_LEN)
		die("big result: %u rows, %llu bytes", res.nrows,
		    (unsigned long long)res.row_len[0]);
	for (size_t i = 0; i < BIG_LEN; i++)
		if (res.row[0][i] != 'x')
			die("big result: byte %zu is %02x", i, res.row[0][i]);
	ok("a 17000000-byte value (split across packets) reassembled and parsed as a text row");

	n = snprintf(q, 64, "SELECT LENGTH('");
	memset(q + n, 'y', BIG_LEN);
	memcpy(q + n + BIG_LEN, "')", 3);
	send_command(c, RG_MY_COM_QUERY, q, strlen(q));
	read_result(c, false, &res);
	expect_field(&res, 0, "17000000");
	ok("a COM_QUERY of %zu bytes sent as split packets, executed by the server", strlen(q));
	free(q);
	result_free(&res);
}

static uint32_t prepare(struct conn *c, const char *sql, struct rg_my_prepare_ok *pok)
{
	int rc;

	send_command(c, RG_MY_COM_STMT_PREPARE, sql, strlen(sql));
	read_msg(c);
	expect_err_free(c, sql);
	rc = rg_my_read_prepare_ok(c->msg, c->msg_len, pok);
	if (rc)
		die("PREPARE_OK: %s", rg_my_strerror(rc));
	/* parameter and column definitions, each list followed by EOF without DEPRECATE_EOF */
	for (int list = 0; list < 2; list++) {
		uint16_t n = list ? pok->ncols : pok->nparams;
		struct rg_my_column col;

		for (uint16_t i = 0; i < n; i++) {
			read_msg(c);
			rc = rg_my_read_column(c->msg, c->msg_len, c->caps, false, &col);
			if (rc)
				die("prepare column: %s", rg_my_strerror(rc));
		}
		if (n && !(c->caps & RG_MY_CLIENT_DEPRECATE_EOF)) {
			read_msg(c);
			read_terminator(c);
		}
	}
	return pok->stmt_id;
}

/* Execute with parameters v; those flagged in long_data were sent with SEND_LONG_DATA and
 * go out as NULL here (the server takes long data before looking at the NULL bit). The
 * packet is first read back with the gateway's reader, which must find every value. */
static void execute(struct conn *c, uint32_t id, const uint8_t *types, const struct rg_my_value *v,
		    uint16_t n, const uint8_t *long_data, struct result *res)
{
	struct rg_my_value sent[MAXCOLS];
	struct rg_my_execute ex;
	struct rg_my_param par[MAXCOLS];
	ssize_t need;
	uint8_t *pkt;
	int rc;

	for (uint16_t i = 0; i < n; i++) {
		sent[i] = v[i];
		if (long_data && (long_data[i / 8] & (1u << (i % 8))))
			sent[i] = (struct rg_my_value){NULL, 0};
	}
	need = rg_my_write_execute(NULL, 0, id, 0, types, sent, n);
	if (need < 0)
		die("execute builder: %s", rg_my_strerror((int)need));
	pkt = malloc((size_t)need);
	rg_my_write_execute(pkt, (size_t)need, id, 0, types, sent, n);
	rc = rg_my_read_execute(pkt + 4, (size_t)need - 4, n, NULL, long_data, &ex, par, MAXCOLS);
	if (rc)
		die("reading our own COM_STMT_EXECUTE: %s", rg_my_strerror(rc));
	for (uint16_t i = 0; i < n; i++) {
		if (par[i].long_data != (long_data && (long_data[i / 8] & (1u << (i % 8)))))
			die("parameter %u: long data not recognized", i);
		if (par[i].long_data)
			continue;
		if (par[i].is_null != !v[i].data ||
		    (!par[i].is_null &&
		     (par[i].len != v[i].len || memcmp(pkt + 4 + par[i].off, v[i].data, v[i].len))))
			die("parameter %u read back differently", i);
	}
	c->seq = 0;
	send_built(c, pkt, need);
	free(pkt);
	read_result(c, true, res);
}

static void stmt_command(struct conn *c, uint8_t cmd, uint32_t id, uint32_t extra, size_t len)
{
	uint8_t arg[8], pkt[16];
	ssize_t n;

	for (int i = 0; i < 4; i++) {
		arg[i] = (uint8_t)(id >> (8 * i));
		arg[4 + i] = (uint8_t)(extra >> (8 * i));
	}
	n = rg_my_write_command(pkt, sizeof(pkt), cmd, arg, len);
	c->seq = 0;
	send_built(c, pkt, n);
}

/*
 * A read-only cursor: the cursor-open answer is the columns ended by an EOF flagged
 * SERVER_STATUS_CURSOR_EXISTS (an OK-as-EOF with DEPRECATE_EOF: MariaDB sends one, so the
 * rows reader sees an empty row set), then rows one FETCH at a time until
 * SERVER_STATUS_LAST_ROW_SENT, then COM_STMT_RESET. Each client packet is read back with
 * the gateway's readers first.
 */
static void check_cursor(struct conn *c, uint32_t id, const uint8_t *types,
			 const struct rg_my_value *v, struct result *res)
{
	struct rg_my_execute ex;
	struct rg_my_param par[1];
	struct rg_my_fetch fe;
	uint8_t pkt[64];
	uint32_t rows = 0, back;
	ssize_t n =
	    rg_my_write_execute(pkt, sizeof(pkt), id, RG_MY_CURSOR_TYPE_READ_ONLY, types, v, 1);

	if (n < 0 || rg_my_read_execute(pkt + 4, (size_t)n - 4, 1, NULL, NULL, &ex, par, 1) ||
	    ex.flags != RG_MY_CURSOR_TYPE_READ_ONLY)
		die("cursor execute does not read back");
	c->seq = 0;
	send_built(c, pkt, n);
	read_result(c, true, res);
	if (res->ncols != 6 || res->nrows || !(res->status & RG_MY_SERVER_STATUS_CURSOR_EXISTS))
		die("cursor open: %llu columns, %u rows, status %#x",
		    (unsigned long long)res->ncols, res->nrows, res->status);
	for (int round = 0; round < 4; round++) {
		n = rg_my_write_command(pkt, sizeof(pkt), RG_MY_COM_STMT_FETCH,
					(const uint8_t[]){(uint8_t)id, (uint8_t)(id >> 8),
							  (uint8_t)(id >> 16), (uint8_t)(id >> 24),
							  1, 0, 0, 0},
					8);
		if (rg_my_read_fetch(pkt + 4, (size_t)n - 4, &fe) || fe.stmt_id != id ||
		    fe.num_rows != 1)
			die("COM_STMT_FETCH does not read back");
		stmt_command(c, RG_MY_COM_STMT_FETCH, id, 1, 8);
		res->nrows = 0;
		read_rows(c, true, res);
		rows += res->nrows;
		if (res->status & RG_MY_SERVER_STATUS_LAST_ROW_SENT)
			break;
	}
	if (rows != 1 || !(res->status & RG_MY_SERVER_STATUS_LAST_ROW_SENT))
		die("cursor: %u rows fetched, status %#x", rows, res->status);
	n = rg_my_write_command(pkt, sizeof(pkt), RG_MY_COM_STMT_RESET,
				(const uint8_t[]){(uint8_t)id, (uint8_t)(id >> 8),
						  (uint8_t)(id >> 16), (uint8_t)(id >> 24)},
				4);
	if (rg_my_read_stmt_id(pkt + 4, (size_t)n - 4, RG_MY_COM_STMT_RESET, &back) || back != id)
		die("COM_STMT_RESET does not read back");
	stmt_command(c, RG_MY_COM_STMT_RESET, id, 0, 4);
	read_result(c, false, res);
	ok("cursor: COM_STMT_EXECUTE READ_ONLY opens it (CURSOR_EXISTS), COM_STMT_FETCH until "
	   "LAST_ROW_SENT, COM_STMT_RESET answered OK");
}

static void check_prepared(struct conn *c)
{
	struct rg_my_prepare_ok pok;
	struct result res = {0};
	const uint8_t ins_types[] = {RG_MY_TYPE_LONGLONG, 0, RG_MY_TYPE_VAR_STRING, 0,
				     RG_MY_TYPE_DOUBLE,	  0, RG_MY_TYPE_DATETIME,   0,
				     RG_MY_TYPE_LONG,	  0, RG_MY_TYPE_BLOB,	    0};
	const uint8_t i64[8] = {0x2a, 0, 0, 0, 0, 0, 0, 0x80}; /* INT64_MIN + 42 */
	const uint8_t dbl[8] = {0, 0, 0, 0, 0, 0, 0x04, 0x40}; /* 2.5 */
	const uint8_t dt[7] = {0xea, 0x07, 12, 2, 9, 30, 15};  /* 2026-12-02 09:30:15 */
	const uint8_t sel_types[] = {RG_MY_TYPE_LONGLONG, 0};
	const uint8_t long_bit[1] = {1u << 5};
	struct rg_my_value v[6] = {{i64, 8},  {"o'hara \xc3\xa9", 9}, {dbl, 8}, {dt, 7},
				   {NULL, 0}, {"blob-bytes", 10}};
	uint8_t ld[64];
	uint32_t id;

	query(c,
	      "CREATE TEMPORARY TABLE t (i BIGINT, s VARCHAR(40), d DOUBLE, dt DATETIME, "
	      "n INT NULL, b BLOB)",
	      &res);
	id = prepare(c, "INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)", &pok);
	if (pok.nparams != 6 || pok.ncols != 0)
		die("INSERT prepared with %u params, %u columns", pok.nparams, pok.ncols);
	/* param 5 through COM_STMT_SEND_LONG_DATA (no answer from the server) */
	{
		struct rg_my_long_data l;
		uint8_t arg[32];

		arg[0] = (uint8_t)id;
		arg[1] = (uint8_t)(id >> 8);
		arg[2] = (uint8_t)(id >> 16);
		arg[3] = (uint8_t)(id >> 24);
		arg[4] = 5;
		arg[5] = 0;
		memcpy(arg + 6, "blob-bytes", 10);
		ssize_t n =
		    rg_my_write_command(ld, sizeof(ld), RG_MY_COM_STMT_SEND_LONG_DATA, arg, 16);

		if (rg_my_read_long_data(ld + 4, (size_t)n - 4, &l) || l.param_id != 5 ||
		    l.stmt_id != id)
			die("SEND_LONG_DATA does not read back");
		c->seq = 0;
		send_built(c, ld, n);
	}
	execute(c, id, ins_types, v, 6, long_bit, &res);
	if (res.affected != 1)
		die("INSERT affected %llu rows", (unsigned long long)res.affected);
	ok("COM_STMT_EXECUTE INSERT with BIGINT, VARCHAR, DOUBLE, DATETIME, NULL and a long-data "
	   "BLOB");

	id = prepare(c, "SELECT i, s, d, dt, n, b FROM t WHERE i = ?", &pok);
	if (pok.nparams != 1 || pok.ncols != 6)
		die("SELECT prepared with %u params, %u columns", pok.nparams, pok.ncols);
	execute(c, id, sel_types, v, 1, NULL, &res);
	if (res.nrows != 1 || res.ncols != 6)
		die("binary SELECT: %u rows, %llu cols", res.nrows, (unsigned long long)res.ncols);
	if (res.row_len[0] != 8 || memcmp(res.row[0], i64, 8) || res.row_len[1] != 9 ||
	    memcmp(res.row[1], v[1].data, 9) || res.row_len[2] != 8 || memcmp(res.row[2], dbl, 8) ||
	    res.row_len[3] != 7 || memcmp(res.row[3], dt, 7) || !res.row_null[4] ||
	    res.row_len[5] != 10 || memcmp(res.row[5], "blob-bytes", 10))
		die("binary row does not hold the inserted values");
	ok("binary-protocol row: LONGLONG, VAR_STRING, DOUBLE, DATETIME, NULL (bitmap) and BLOB");
	check_cursor(c, id, sel_types, v, &res);
	{
		uint8_t arg[4] = {(uint8_t)id, (uint8_t)(id >> 8), (uint8_t)(id >> 16),
				  (uint8_t)(id >> 24)};
		uint8_t pkt[16];
		uint32_t back;
		ssize_t n = rg_my_write_command(pkt, sizeof(pkt), RG_MY_COM_STMT_CLOSE, arg, 4);

		if (rg_my_read_stmt_id(pkt + 4, (size_t)n - 4, RG_MY_COM_STMT_CLOSE, &back) ||
		    back != id)
			die("COM_STMT_CLOSE does not read back");
		c->seq = 0;
		send_built(c, pkt, n); /* no answer */
	}
	send_command(c, RG_MY_COM_PING, NULL, 0);
	read_result(c, false, &res);
	ok("COM_STMT_CLOSE then COM_PING answered OK");
	result_free(&res);
}

static void print_pubkey(void)
{
	uint8_t pk[32];
	unsigned char b64[64];
	int n;

	if (rg_my_ed25519_pubkey(password, strlen(password), pk))
		die("pubkey");
	n = EVP_EncodeBlock(b64, pk, 32);
	while (n && b64[n - 1] == '=')
		n--;
	printf("%.*s\n", n, b64);
}

int main(int argc, char **argv)
{
	struct conn c;
	const char *mode = argc > 1 ? argv[1] : "";
	int rc;

	password = env("RG_TEST_MY_PASSWORD");
	if (!strcmp(mode, "pubkey")) {
		print_pubkey();
		return 0;
	}
	host = env("RG_TEST_MY_HOST");
	port = env("RG_TEST_MY_PORT");
	db = env("RG_TEST_MY_DB");
	user = env("RG_TEST_MY_USER");
	conn_open(&c);
	if (!strcmp(mode, "bad-password")) {
		rc = login(&c, "not-the-password", 0);
		if (rc != RG_MY_ER_ACCESS_DENIED)
			die("a wrong password got %d, not 1045", rc);
		ok("wrong password refused with ERR 1045 / 28000");
	} else if (!strcmp(mode, "native")) {
		if (login(&c, password, RG_MY_CLIENT_DEPRECATE_EOF | RG_MY_CLIENT_MULTI_STATEMENTS))
			die("native login refused");
		ok("mysql_native_password login (DEPRECATE_EOF negotiated)");
		check_queries(&c);
		check_prepared(&c);
		check_big(&c);
	} else if (!strcmp(mode, "ed25519")) {
		if (login(&c, password, RG_MY_CLIENT_MULTI_STATEMENTS))
			die("ed25519 login refused");
		ok("client_ed25519 login after AuthSwitchRequest");
		check_queries(&c);
		check_prepared(&c);
	} else {
		die("usage: mysql_check native|ed25519|bad-password|pubkey");
	}
	send_command(&c, RG_MY_COM_QUIT, NULL, 0);
	conn_close(&c);
	printf("PASSED\n");
	return 0;
}
