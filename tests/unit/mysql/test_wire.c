/*
 * Unit tests for engine/proto/mysql/wire.c: length-encoded values at every width boundary,
 * packet and message framing (payloads of exactly 0xffffff and its multiples, split and
 * terminating packets, sequence ids and their wrap), incremental reassembly, the connection
 * phase (handshake v10 with MariaDB's extended capabilities, HandshakeResponse41 in its three
 * auth forms, SSLRequest, AuthSwitch, AuthMoreData), OK / ERR / EOF and commands. Every
 * reader also gets every strict prefix of a valid payload and must fail cleanly.
 */
#include "kit.h"

/* ---- Length-encoded integers ------------------------------------------------------------- */

static void test_lenenc_roundtrip_at_every_width_boundary(void **state)
{
	static const uint64_t vals[] = {
	    0,	    1,	     250,      251,	  252,		 0xfb,	     0xfc,
	    0xffff, 0x10000, 0xffffff, 0x1000000, 0xffffffffull, 1ull << 40, UINT64_MAX};
	static const unsigned sizes[] = {1, 1, 1, 3, 3, 3, 3, 3, 4, 4, 9, 9, 9, 9};
	(void)state;

	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		uint8_t b[9];
		uint64_t v = 0;
		unsigned n = rg_my_lenenc_encode(b, vals[i]);

		assert_int_equal(n, sizes[i]);
		assert_int_equal(rg_my_lenenc_size(vals[i]), n);
		assert_int_equal(rg_my_lenenc_decode(b, n, &v, NULL), (int)n);
		assert_true(v == vals[i]);
		for (unsigned k = 0; k < n; k++) {
			uint8_t *q = dup_bytes(b, k);

			assert_int_equal(rg_my_lenenc_decode(q, k, &v, NULL), RG_MY_E_TRUNCATED);
			free(q);
		}
	}
}

static void test_lenenc_null_and_ff_markers(void **state)
{
	uint64_t v = 7;
	bool is_null = false;
	(void)state;

	/* 0xfb is NULL only where the caller allows it (text rows) */
	assert_int_equal(rg_my_lenenc_decode(BYTES(0xfb), 1, &v, NULL), RG_MY_E_VALUE);
	assert_int_equal(rg_my_lenenc_decode(BYTES(0xfb), 1, &v, &is_null), 1);
	assert_true(is_null);
	assert_int_equal(rg_my_lenenc_decode(BYTES(0xff, 1, 2), 3, &v, &is_null), RG_MY_E_VALUE);
	/* 0xfe is always an 8-byte integer */
	assert_int_equal(rg_my_lenenc_decode(BYTES(0xfe, 1, 0, 0, 0, 0, 0, 0, 0x80), 9, &v, NULL),
			 9);
	assert_true(v == 0x8000000000000001ull);
	/* non-minimal encodings are read as the server reads them */
	assert_int_equal(rg_my_lenenc_decode(BYTES(0xfc, 5, 0), 3, &v, NULL), 3);
	assert_int_equal(v, 5);
	assert_int_equal(rg_my_lenenc_decode(BYTES(0xfd, 1, 0, 0), 4, &v, NULL), 4);
	assert_int_equal(v, 1);
}

static void test_reader_cursor_strings(void **state)
{
	const uint8_t p[] = {'a', 'b', 0, 3, 'x', 'y', 'z', 0xfc, 2, 0, 'q', 'r', 9, 8};
	struct rg_my_rd r;
	struct rg_my_str s;
	uint64_t v;
	(void)state;

	rg_my_rd_init(&r, p, sizeof(p));
	assert_int_equal(rg_my_rd_nul_str(&r, &s), 0);
	assert_int_equal(s.len, 2);
	assert_int_equal(s.off, 0);
	assert_int_equal(rg_my_rd_lenenc_str(&r, &s), 0);
	assert_memory_equal(s.p, "xyz", 3);
	assert_int_equal(s.off, 4);
	assert_int_equal(rg_my_rd_lenenc_str(&r, &s), 0);
	assert_memory_equal(s.p, "qr", 2);
	assert_int_equal(rg_my_rd_end(&r), RG_MY_E_TRAILING);
	assert_int_equal(rg_my_rd_fixed(&r, 2, &v), 0);
	assert_int_equal(v, 0x0809);
	assert_int_equal(rg_my_rd_end(&r), 0);
	assert_int_equal(rg_my_rd_fixed(&r, 1, &v), RG_MY_E_TRUNCATED);
	assert_int_equal(rg_my_rd_fixed(&r, 9, &v), RG_MY_E_ARG);
	/* a NUL string without its NUL, a lenenc string longer than the payload */
	rg_my_rd_init(&r, (const uint8_t *)"abc", 3);
	assert_int_equal(rg_my_rd_nul_str(&r, &s), RG_MY_E_NO_NUL);
	rg_my_rd_init(&r, BYTES(5, 'a'), 2);
	assert_int_equal(rg_my_rd_lenenc_str(&r, &s), RG_MY_E_TRUNCATED);
	rg_my_rd_init(&r, BYTES(0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), 9);
	assert_int_equal(rg_my_rd_lenenc_str(&r, &s), RG_MY_E_TRUNCATED);
}

/* ---- Framing --------------------------------------------------------------------------------- */

static void test_sequence_helpers_wrap_and_check(void **state)
{
	(void)state;
	assert_int_equal(rg_my_seq_next(0), 1);
	assert_int_equal(rg_my_seq_next(254), 255);
	assert_int_equal(rg_my_seq_next(255), 0);
	assert_int_equal(rg_my_seq_check(3, 3), 0);
	assert_int_equal(rg_my_seq_check(4, 3), RG_MY_E_SEQ);
	/* every error code has its own text */
	for (int e = RG_MY_E_PROTOCOL; e <= RG_MY_NEED_MORE; e++) {
		assert_string_not_equal(rg_my_strerror(e), "unknown error");
		for (int f = e + 1; f <= RG_MY_NEED_MORE; f++)
			assert_string_not_equal(rg_my_strerror(e), rg_my_strerror(f));
	}
	assert_string_equal(rg_my_strerror(5), "ok");
}

static void test_frame_packet_and_every_prefix_needs_more(void **state)
{
	const uint8_t p[] = {3, 0, 0, 7, 'a', 'b', 'c', 0xee};
	struct rg_my_packet pk;
	(void)state;

	assert_int_equal(rg_my_frame_packet(p, sizeof(p), &pk), 7);
	assert_int_equal(pk.len, 3);
	assert_int_equal(pk.seq, 7);
	assert_memory_equal(pk.payload, "abc", 3);
	for (size_t k = 0; k < 7; k++) {
		uint8_t *q = dup_bytes(p, k);

		assert_int_equal(rg_my_frame_packet(q, k, &pk), 0);
		assert_int_equal(k + pk.need, k < 4 ? 4 : 7);
		free(q);
	}
}

/* Build a message of len payload bytes (a pattern) as packets; returns the wire buffer. */
static uint8_t *build_msg(size_t len, uint8_t seq, size_t *wire, uint8_t **payload_out)
{
	uint8_t *pl = malloc(len ? len : 1), *buf;
	ssize_t need;
	uint8_t next;

	assert_non_null(pl);
	for (size_t i = 0; i < len; i++)
		pl[i] = (uint8_t)(i * 7 + 3);
	need = rg_my_write_packets(NULL, 0, seq, pl, len, &next);
	assert_true(need > 0);
	buf = malloc((size_t)need);
	assert_non_null(buf);
	assert_int_equal(rg_my_write_packets(buf, (size_t)need, seq, pl, len, NULL), need);
	*wire = (size_t)need;
	*payload_out = pl;
	return buf;
}

static uint32_t le24_last(const uint8_t *buf, size_t wire)
{
	size_t off = 0;
	uint32_t l = 0;

	while (off < wire) {
		l = (uint32_t)buf[off] | (uint32_t)buf[off + 1] << 8 | (uint32_t)buf[off + 2] << 16;
		off += 4 + (size_t)l;
	}
	return l;
}

static void check_msg(size_t len, uint8_t seq, uint32_t npackets)
{
	size_t wire;
	uint8_t *pl, *buf = build_msg(len, seq, &wire, &pl), *back;
	struct rg_my_msg m;

	assert_int_equal(wire, len + 4u * npackets);
	assert_int_equal(rg_my_frame_msg(buf, wire, seq, 0, &m), (ssize_t)wire);
	assert_int_equal(m.npackets, npackets);
	assert_true(m.len == len);
	assert_int_equal(m.seq_first, seq);
	assert_int_equal(m.seq_next, (uint8_t)(seq + npackets));
	back = malloc(len ? len : 1);
	assert_int_equal(rg_my_msg_gather(&m, back, len), (ssize_t)len);
	assert_int_equal(memcmp(back, pl, len), 0);
	if (len)
		assert_int_equal(rg_my_msg_gather(&m, back, len - 1), RG_MY_E_ARG);
	/* the last packet is shorter than 0xffffff (empty when len is a multiple) */
	assert_int_equal(le24_last(buf, wire), len % RG_MY_MAX_PACKET);
	/* prefixes around every header: need more, never an error */
	for (size_t k = 0; k < wire; k += (k % RG_MY_MAX_PACKET < 16 ? 1 : RG_MY_MAX_PACKET - 8)) {
		assert_int_equal(rg_my_frame_msg(buf, k, seq, 0, &m), 0);
		assert_true(m.need >= 1);
	}
	assert_int_equal(rg_my_frame_msg(buf, wire - 1, seq, 0, &m), 0);
	assert_int_equal(m.need, 1);
	/* wrong first sequence id, limit below the length */
	assert_int_equal(rg_my_frame_msg(buf, wire, (uint8_t)(seq + 1), 0, &m), RG_MY_E_SEQ);
	if (len > 1)
		assert_int_equal(rg_my_frame_msg(buf, wire, seq, len - 1, &m), RG_MY_E_TOO_LONG);
	assert_int_equal(rg_my_frame_msg(buf, wire, -1, len ? len : 1, &m), (ssize_t)wire);
	free(back);
	free(buf);
	free(pl);
}

static void test_messages_at_and_around_16mib(void **state)
{
	(void)state;
	check_msg(0, 0, 1);
	check_msg(1, 3, 1);
	check_msg(RG_MY_MAX_PACKET - 1, 0, 1);
	check_msg(RG_MY_MAX_PACKET, 0, 2); /* 0xffffff then the empty terminator */
	check_msg(RG_MY_MAX_PACKET + 1, 1, 2);
	check_msg(2 * (size_t)RG_MY_MAX_PACKET, 254, 3); /* seq wraps 254, 255, 0 */
}

static void test_split_message_checks_every_packets_sequence(void **state)
{
	size_t wire;
	uint8_t *pl, *buf = build_msg(RG_MY_MAX_PACKET + 10, 5, &wire, &pl);
	struct rg_my_msg m;
	(void)state;

	buf[4 + RG_MY_MAX_PACKET + 3] = 9; /* second packet: 9 instead of 6 */
	assert_int_equal(rg_my_frame_msg(buf, wire, 5, 0, &m), RG_MY_E_SEQ);
	assert_int_equal(rg_my_frame_msg(buf, wire, -1, 0, &m), RG_MY_E_SEQ);
	/* the limit trips as soon as the first packet's header is in */
	assert_int_equal(rg_my_frame_msg(buf, 8, -1, 100, &m), RG_MY_E_TOO_LONG);
	assert_int_equal(rg_my_frame_msg(buf, wire, 300, 0, &m), RG_MY_E_ARG);
	free(buf);
	free(pl);
}

/* Reassemble wire[0..n) in chunks of `chunk` bytes, comparing with the payload. */
static void stream_in_chunks(const uint8_t *wire, size_t n, const uint8_t *pl, size_t len,
			     size_t chunk, int seq)
{
	struct rg_my_stream s;
	struct rg_my_stream_event ev;
	size_t pos = 0, got = 0;
	bool ended = false;

	rg_my_stream_init(&s, seq, 0);
	while (pos < n || !ended) {
		size_t k = n - pos < chunk ? n - pos : chunk, used = 0;
		uint8_t *piece = dup_bytes(wire + pos, k);

		for (;;) {
			ssize_t r = rg_my_stream_next(&s, piece + used, k - used, &ev);

			assert_true(r >= 0);
			used += (size_t)r;
			if (ev.kind == RG_MY_STREAM_MORE) {
				assert_int_equal(used, k);
				break;
			}
			if (ev.kind == RG_MY_STREAM_END) {
				assert_true(ev.pos == len);
				ended = true;
				continue;
			}
			assert_true(ev.pos == got);
			assert_int_equal(memcmp(ev.data, pl + got, ev.n), 0);
			got += ev.n;
		}
		free(piece);
		pos += k;
		if (pos == n && !ended)
			fail_msg("stream ended without END");
	}
	assert_int_equal(got, len);
}

static void test_stream_reassembles_in_any_chunking(void **state)
{
	static const size_t lens[] = {0, 5, RG_MY_MAX_PACKET, RG_MY_MAX_PACKET + 3};
	static const size_t chunks[] = {1 << 20, 4093, 5};
	(void)state;

	for (size_t i = 0; i < 4; i++) {
		size_t wire;
		uint8_t *pl, *buf = build_msg(lens[i], 0, &wire, &pl);

		for (size_t c = 0; c < 3; c++) {
			if (chunks[c] < 4093 && lens[i] > 100)
				continue; /* 5-byte steps over 16 MiB: slow under ASan */
			stream_in_chunks(buf, wire, pl, lens[i], chunks[c], 0);
		}
		if (lens[i] < 100) /* byte by byte, first sequence id taken as given */
			stream_in_chunks(buf, wire, pl, lens[i], 1, -1);
		free(buf);
		free(pl);
	}
}

static void test_stream_sequence_and_limit(void **state)
{
	const uint8_t two[] = {1, 0, 0, 0, 'a', 1, 0, 0, 2, 'b'}; /* second message: seq 2 != 1 */
	struct rg_my_stream s;
	struct rg_my_stream_event ev;
	ssize_t r;
	size_t used = 0;
	(void)state;

	rg_my_stream_init(&s, 0, 0);
	r = rg_my_stream_next(&s, two, sizeof(two), &ev);
	assert_int_equal(ev.kind, RG_MY_STREAM_DATA);
	used += (size_t)r;
	r = rg_my_stream_next(&s, two + used, sizeof(two) - used, &ev);
	assert_int_equal(ev.kind, RG_MY_STREAM_END);
	used += (size_t)r;
	assert_int_equal(rg_my_stream_next(&s, two + used, sizeof(two) - used, &ev), RG_MY_E_SEQ);
	rg_my_stream_init(&s, 0, 0);
	assert_int_equal(rg_my_stream_next(&s, BYTES(1, 0, 0, 1), 4, &ev), RG_MY_E_SEQ);
	rg_my_stream_init(&s, -1, 2);
	assert_int_equal(rg_my_stream_next(&s, BYTES(3, 0, 0, 9), 4, &ev), RG_MY_E_TOO_LONG);
}

/* ---- Connection phase ------------------------------------------------------------------ */

/* A MariaDB 10.11 handshake as the server builds it (layout from its protocol docs). */
static const uint8_t mariadb_hs[] = {
    0x0a, '5',	'.',  '5',  '.',  '5',	'-',  '1',  '0',  '.',	'1',  '1',  '.',  '6',
    '-',  'M',	'a',  'r',  'i',  'a',	'D',  'B',  0x00, 0x2a, 0x00, 0x00, 0x00, /* conn id 42 */
    'a',  'b',	'c',  'd',  'e',  'f',	'g',  'h',  0x00,	      /* scramble 1, filler */
    0xfe, 0xf7, 0x2d, 0x02, 0x00, 0xff, 0x81,			      /* caps lo, cs, st, hi */
    0x15, 0,	0,    0,    0,	  0,	0,    0x1d, 0x00, 0x00, 0x00, /* len, fill, ext caps */
    'i',  'j',	'k',  'l',  'm',  'n',	'o',  'p',  'q',  'r',	's',  't',  0x00, /* scramble 2 */
    'm',  'y',	's',  'q',  'l',  '_',	'n',  'a',  't',  'i',	'v',  'e',  '_',  'p',
    'a',  's',	's',  'w',  'o',  'r',	'd',  0x00};

static int rd_handshake(const uint8_t *p, size_t n, void *ctx)
{
	return rg_my_read_handshake(p, n, ctx);
}

static void test_handshake_mariadb_extended_caps_and_scramble(void **state)
{
	struct rg_my_handshake h;
	(void)state;

	assert_int_equal(rg_my_read_handshake(mariadb_hs, sizeof(mariadb_hs), &h), 0);
	assert_int_equal(h.conn_id, 42);
	assert_int_equal(h.server_version.len, strlen("5.5.5-10.11.6-MariaDB"));
	assert_int_equal(h.scramble_len, 20);
	assert_memory_equal(h.scramble, "abcdefghijklmnopqrst", 20);
	assert_int_equal(h.charset, 0x2d);
	assert_int_equal(h.status, 2);
	assert_false(h.caps & RG_MY_CLIENT_MYSQL);
	assert_true(h.caps & RG_MY_CLIENT_PLUGIN_AUTH);
	assert_true(h.caps & RG_MY_MARIADB_CLIENT_STMT_BULK_OPERATIONS);
	assert_true(h.caps & RG_MY_MARIADB_CLIENT_EXTENDED_METADATA);
	assert_int_equal(h.caps >> 32, 0x1d);
	assert_int_equal(h.auth_plugin.len, strlen("mysql_native_password"));
	assert_memory_equal(h.auth_plugin.p, "mysql_native_password", h.auth_plugin.len);
	/* every strict prefix fails (the plugin name may lose its NUL: old servers) */
	for (size_t k = 0; k < sizeof(mariadb_hs) - 1; k++) {
		int rc = run_reader(rd_handshake, mariadb_hs, k, &h);

		if (k < sizeof(mariadb_hs) - 22 && k != 38)
			assert_true(rc < 0);
	}
}

static void test_handshake_rebuilt_byte_for_byte_and_caps_cleared(void **state)
{
	struct rg_my_handshake h, h2;
	uint8_t buf[256];
	ssize_t n;
	(void)state;

	assert_int_equal(rg_my_read_handshake(mariadb_hs, sizeof(mariadb_hs), &h), 0);
	n = rg_my_write_handshake(buf, sizeof(buf), &h);
	assert_int_equal(n, 4 + sizeof(mariadb_hs));
	assert_int_equal(buf[3], 0);
	assert_memory_equal(PAYLOAD(buf), mariadb_hs, sizeof(mariadb_hs));
	/* the gateway clears what it does not implement and offers the rest */
	h.caps &= ~(RG_MY_CAPS_UNSUPPORTED | RG_MY_CLIENT_SSL);
	n = rg_my_write_handshake(buf, sizeof(buf), &h);
	assert_int_equal(rg_my_read_handshake(PAYLOAD(buf), PLEN(n), &h2), 0);
	assert_false(h2.caps & RG_MY_CLIENT_COMPRESS);
	assert_false(h2.caps & RG_MY_MARIADB_CLIENT_STMT_BULK_OPERATIONS);
	assert_true(h2.caps & RG_MY_MARIADB_CLIENT_EXTENDED_METADATA);
	assert_true(h2.caps == h.caps);
	assert_memory_equal(h2.scramble, h.scramble, 20);
	/* too small a buffer: the size, nothing useful written */
	assert_int_equal(rg_my_write_handshake(buf, 10, &h), n);
}

static void test_handshake_mysql8_and_variants(void **state)
{
	struct rg_my_handshake h = {0}, h2;
	uint8_t buf[256];
	ssize_t n;
	const char *ver = "8.0.36";
	(void)state;

	h.server_version.p = (const uint8_t *)ver;
	h.server_version.len = strlen(ver);
	h.conn_id = 0xdeadbeef;
	memcpy(h.scramble,
	       "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11"
	       "\x12\x13\x14",
	       20);
	h.scramble_len = 20;
	h.caps = 0xdfffffffull | RG_MY_CLIENT_MYSQL;
	h.charset = 255;
	h.auth_plugin.p = (const uint8_t *)"caching_sha2_password";
	h.auth_plugin.len = 21;
	n = rg_my_write_handshake(buf, sizeof(buf), &h);
	assert_true(n > 0);
	assert_int_equal(rg_my_read_handshake(PAYLOAD(buf), PLEN(n), &h2), 0);
	assert_true(h2.caps == h.caps);
	assert_int_equal(h2.conn_id, 0xdeadbeef);
	assert_int_equal(h2.auth_data_len, 21);
	assert_memory_equal(h2.scramble, h.scramble, 20);
	/* old server: plugin name without its NUL */
	assert_int_equal(rg_my_read_handshake(PAYLOAD(buf), PLEN(n) - 1, &h2), 0);
	assert_int_equal(h2.auth_plugin.len, 21);
	/* extra byte after the NUL */
	buf[n] = 'x';
	assert_int_equal(rg_my_read_handshake(PAYLOAD(buf), PLEN(n) + 1, &h2), RG_MY_E_TRAILING);
	/* MySQL servers may not carry MariaDB bits; builders refuse the mix */
	h.caps |= RG_MY_MARIADB_CLIENT_PROGRESS;
	assert_int_equal(rg_my_write_handshake(buf, sizeof(buf), &h), RG_MY_E_ARG);
	h.caps &= ~RG_MY_MARIADB_CLIENT_PROGRESS;
	h.scramble_len = 12;
	assert_int_equal(rg_my_write_handshake(buf, sizeof(buf), &h), RG_MY_E_ARG);
	/* protocol 9, an ERR instead of a handshake */
	assert_int_equal(rg_my_read_handshake(BYTES(9, 0), 2, &h2), RG_MY_E_PROTOCOL);
	assert_int_equal(rg_my_read_handshake(BYTES(0xff, 0x10, 0x04), 3, &h2), RG_MY_E_WRONG_TYPE);
}

static int rd_response(const uint8_t *p, size_t n, void *ctx)
{
	return rg_my_read_response(p, n, ctx);
}

static ssize_t build_response(uint8_t *buf, size_t cap, uint64_t caps, const void *auth,
			      size_t auth_len, const uint8_t *attrs, size_t attrs_len)
{
	struct rg_my_response r = {0};

	r.caps = caps;
	r.max_packet = 1 << 24;
	r.charset = 45;
	r.user.p = (const uint8_t *)"alice";
	r.user.len = 5;
	r.auth.p = auth;
	r.auth.len = auth_len;
	r.database.p = (const uint8_t *)"shop";
	r.database.len = 4;
	r.plugin.p = (const uint8_t *)"client_ed25519";
	r.plugin.len = 14;
	r.attrs.p = attrs;
	r.attrs.len = attrs_len;
	return rg_my_write_response(buf, cap, 1, &r);
}

static void test_response_three_auth_forms_and_attributes(void **state)
{
	const uint64_t base = RG_MY_CLIENT_PROTOCOL_41 | RG_MY_CLIENT_CONNECT_WITH_DB |
			      RG_MY_CLIENT_PLUGIN_AUTH | RG_MY_CLIENT_CONNECT_ATTRS;
	const uint64_t forms[] = {
	    base | RG_MY_CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | RG_MY_CLIENT_SECURE_CONNECTION,
	    base | RG_MY_CLIENT_SECURE_CONNECTION, base,
	    base | RG_MY_CLIENT_SECURE_CONNECTION | RG_MY_MARIADB_CLIENT_EXTENDED_METADATA};
	uint8_t attrs[128], buf[512], auth[300];
	size_t alen = 0;
	(void)state;

	memset(auth, 'A', sizeof(auth));
	assert_int_equal(rg_my_attr_put(attrs, sizeof(attrs), &alen, "_client_name", "ringgate"),
			 0);
	assert_int_equal(rg_my_attr_put(attrs, sizeof(attrs), &alen, "_pid", "42"), 0);
	assert_int_equal(rg_my_attr_put(attrs, 4, &alen, "k", "v"), RG_MY_E_ARG);
	for (size_t i = 0; i < 4; i++) {
		struct rg_my_response r;
		struct rg_my_str k, v;
		size_t off = 0;
		ssize_t n = build_response(buf, sizeof(buf), forms[i], auth, 20, attrs, alen);

		assert_true(n > 0);
		assert_int_equal(buf[3], 1);
		assert_int_equal(rg_my_read_response(PAYLOAD(buf), PLEN(n), &r), 0);
		/* strict prefixes fail, except those that end where the optional tail may */
		for (size_t k = 0; k < PLEN(n); k++) {
			struct rg_my_response r2;
			bool boundary = k == r.database.off || k == r.plugin.off ||
					k == r.plugin.off + r.plugin.len + 1;

			if (run_reader(rd_response, PAYLOAD(buf), k, &r2) >= 0 && !boundary)
				fail_msg("prefix %zu of %zu accepted", k, PLEN(n));
		}
		assert_true(r.caps == forms[i]);
		assert_false(r.ssl_request);
		assert_int_equal(r.max_packet, 1 << 24);
		assert_int_equal(r.charset, 45);
		assert_int_equal(r.user.len, 5);
		assert_int_equal(r.auth.len, 20);
		assert_memory_equal(r.auth.p, auth, 20);
		assert_memory_equal(r.database.p, "shop", 4);
		assert_memory_equal(r.plugin.p, "client_ed25519", 14);
		assert_int_equal(rg_my_attr_next(&r.attrs, &off, &k, &v), 1);
		assert_memory_equal(k.p, "_client_name", 12);
		assert_memory_equal(v.p, "ringgate", 8);
		assert_memory_equal(PAYLOAD(buf) + v.off, "ringgate", 8);
		assert_int_equal(rg_my_attr_next(&r.attrs, &off, &k, &v), 1);
		assert_int_equal(rg_my_attr_next(&r.attrs, &off, &k, &v), 0);
	}
	/* a 300-byte auth response only fits the lenenc form */
	assert_true(build_response(buf, sizeof(buf), forms[0], auth, 300, NULL, 0) > 0);
	assert_int_equal(build_response(buf, sizeof(buf), forms[1], auth, 300, NULL, 0),
			 RG_MY_E_ARG);
	/* the NUL form cannot carry a NUL */
	assert_int_equal(build_response(buf, sizeof(buf), forms[2], "a\0b", 3, NULL, 0),
			 RG_MY_E_ARG);
}

static void test_response_optional_tail_ssl_request_and_old_clients(void **state)
{
	uint8_t buf[256];
	struct rg_my_response r;
	ssize_t n;
	const uint64_t caps = RG_MY_CLIENT_PROTOCOL_41 | RG_MY_CLIENT_SECURE_CONNECTION |
			      RG_MY_CLIENT_CONNECT_WITH_DB | RG_MY_CLIENT_PLUGIN_AUTH |
			      RG_MY_CLIENT_MYSQL;
	(void)state;

	/* flagged database and plugin absent at the end: empty, as the server takes them */
	n = build_response(buf, sizeof(buf),
			   caps & ~RG_MY_CLIENT_CONNECT_WITH_DB & ~RG_MY_CLIENT_PLUGIN_AUTH, "x", 1,
			   NULL, 0);
	buf[4 + 0] |= (uint8_t)RG_MY_CLIENT_CONNECT_WITH_DB;
	buf[4 + 2] |= (uint8_t)(RG_MY_CLIENT_PLUGIN_AUTH >> 16);
	assert_int_equal(rg_my_read_response(PAYLOAD(buf), PLEN(n), &r), 0);
	assert_int_equal(r.database.len, 0);
	assert_int_equal(r.plugin.len, 0);
	/* SSLRequest: 32 bytes */
	n = rg_my_write_ssl_request(buf, sizeof(buf), 1, caps, 1 << 24, 33);
	assert_int_equal(n, 36);
	assert_int_equal(rg_my_read_response(PAYLOAD(buf), PLEN(n), &r), 0);
	assert_true(r.ssl_request);
	assert_true(r.caps & RG_MY_CLIENT_SSL);
	assert_int_equal(r.charset, 33);
	/* 32 bytes without CLIENT_SSL is a truncated response */
	PAYLOAD(buf)[1] &= (uint8_t) ~(RG_MY_CLIENT_SSL >> 8);
	assert_int_equal(rg_my_read_response(PAYLOAD(buf), PLEN(n), &r), RG_MY_E_TRUNCATED);
	/* HandshakeResponse320 */
	assert_int_equal(rg_my_read_response(BYTES(0x85, 0x00, 0, 0, 0, 'u', 0), 7, &r),
			 RG_MY_E_PROTOCOL);
	/* MariaDB extended client caps ride in the last 4 filler bytes */
	n = rg_my_write_ssl_request(buf, sizeof(buf), 1,
				    (caps & ~RG_MY_CLIENT_MYSQL) | RG_MY_MARIADB_CLIENT_PROGRESS, 0,
				    8);
	assert_int_equal(rg_my_read_response(PAYLOAD(buf), PLEN(n), &r), 0);
	assert_true(r.caps & RG_MY_MARIADB_CLIENT_PROGRESS);
	assert_int_equal(PAYLOAD(buf)[28], 1);
}

static void test_auth_switch_more_data_and_raw_auth(void **state)
{
	uint8_t buf[128];
	struct rg_my_auth_switch as;
	struct rg_my_str d;
	ssize_t n;
	(void)state;

	n = rg_my_write_auth_switch(buf, sizeof(buf), 2, "client_ed25519",
				    (const uint8_t *)"0123456789abcdef0123456789abcdef", 32);
	assert_int_equal(n, 4 + 1 + 15 + 32);
	assert_int_equal(rg_my_read_auth_switch(PAYLOAD(buf), PLEN(n), &as), 0);
	assert_memory_equal(as.plugin.p, "client_ed25519", 14);
	assert_int_equal(as.data.len, 32);
	assert_false(as.old_style);
	assert_int_equal(rg_my_read_auth_switch(BYTES(0xfe), 1, &as), 0);
	assert_true(as.old_style);
	assert_int_equal(rg_my_read_auth_switch(BYTES(0xfe, 'a'), 2, &as), RG_MY_E_NO_NUL);
	assert_int_equal(rg_my_read_auth_switch(BYTES(0x01, 'a'), 2, &as), RG_MY_E_WRONG_TYPE);
	assert_int_equal(rg_my_read_auth_switch(BYTES(0), 0, &as), RG_MY_E_TRUNCATED);
	assert_int_equal(rg_my_write_auth_switch(buf, sizeof(buf), 2, "", NULL, 0), RG_MY_E_ARG);

	n = rg_my_write_auth_more_data(buf, sizeof(buf), 4, BYTES(RG_MY_SHA2_FULL_AUTH), 1);
	assert_int_equal(n, 6);
	assert_int_equal(rg_my_read_auth_more_data(PAYLOAD(buf), PLEN(n), &d), 0);
	assert_int_equal(d.len, 1);
	assert_int_equal(d.p[0], RG_MY_SHA2_FULL_AUTH);
	assert_int_equal(rg_my_read_auth_more_data(BYTES(0), 1, &d), RG_MY_E_WRONG_TYPE);
	n = rg_my_write_auth_data(buf, sizeof(buf), 3, (const uint8_t *)"pw\0", 3);
	assert_int_equal(n, 7);
	assert_int_equal(buf[3], 3);
}

/* ---- OK / ERR / EOF ------------------------------------------------------------------------ */

static void test_ok_every_capability_layout(void **state)
{
	const uint64_t layouts[] = {
	    RG_MY_CLIENT_PROTOCOL_41,
	    RG_MY_CLIENT_PROTOCOL_41 | RG_MY_CLIENT_SESSION_TRACK,
	    RG_MY_CLIENT_TRANSACTIONS,
	    0,
	};
	const char *state_block = "\x00\x0a\x0ahello=1";
	(void)state;

	for (size_t i = 0; i < 4; i++) {
		for (int changed = 0; changed < 2; changed++) {
			struct rg_my_ok ok = {0}, o2;
			uint8_t buf[128];
			ssize_t n;

			ok.header = changed ? 0xfe : 0x00;
			ok.affected_rows = 300;
			ok.last_insert_id = 1ull << 33;
			ok.status = RG_MY_SERVER_STATUS_AUTOCOMMIT |
				    (changed ? RG_MY_SERVER_SESSION_STATE_CHANGED : 0);
			ok.warnings = 3;
			ok.info.p = (const uint8_t *)"Rows matched: 1";
			ok.info.len = 15;
			ok.session_state.p = (const uint8_t *)state_block;
			ok.session_state.len = 10;
			n = rg_my_write_ok(buf, sizeof(buf), 1, layouts[i], &ok);
			assert_true(n > 0);
			assert_int_equal(rg_my_read_ok(PAYLOAD(buf), PLEN(n), layouts[i], &o2), 0);
			assert_int_equal(o2.header, ok.header);
			assert_int_equal(o2.affected_rows, 300);
			assert_true(o2.last_insert_id == 1ull << 33);
			if (layouts[i] & (RG_MY_CLIENT_PROTOCOL_41 | RG_MY_CLIENT_TRANSACTIONS))
				assert_int_equal(o2.status, ok.status);
			assert_int_equal(o2.info.len, 15);
			assert_memory_equal(o2.info.p, "Rows matched: 1", 15);
			if ((layouts[i] & RG_MY_CLIENT_SESSION_TRACK) && changed)
				assert_int_equal(o2.session_state.len, 10);
			else
				assert_int_equal(o2.session_state.len, 0);
			assert_int_equal(rg_my_classify(PAYLOAD(buf), PLEN(n),
							RG_MY_CLIENT_DEPRECATE_EOF, false),
					 changed ? RG_MY_KIND_OK_EOF : RG_MY_KIND_OK);
		}
	}
}

static void test_ok_tolerates_mysql_empty_info_and_rejects_garbage(void **state)
{
	struct rg_my_ok ok;
	const uint64_t st = RG_MY_CLIENT_PROTOCOL_41 | RG_MY_CLIENT_SESSION_TRACK;
	(void)state;

	/* MySQL 8's minimal OK: no info at all */
	assert_int_equal(rg_my_read_ok(BYTES(0, 0, 0, 2, 0, 0, 0), 7, st, &ok), 0);
	assert_int_equal(ok.status, 2);
	assert_int_equal(rg_my_read_ok(BYTES(0, 0, 0, 2, 0, 0, 0, 0, 9), 9, st, &ok),
			 RG_MY_E_TRAILING);
	assert_int_equal(rg_my_read_ok(BYTES(0, 0, 0, 2, 0, 0, 0, 5, 'a'), 9, st, &ok),
			 RG_MY_E_TRUNCATED);
	assert_int_equal(rg_my_read_ok(BYTES(0, 0xfb, 0, 2, 0, 0, 0), 7, st, &ok), RG_MY_E_VALUE);
	assert_int_equal(rg_my_read_ok(BYTES(0xff, 0, 0), 3, st, &ok), RG_MY_E_WRONG_TYPE);
	for (size_t k = 0; k < 7; k++) {
		const uint8_t p[] = {0, 0, 0, 2, 0, 0, 0};
		uint8_t *q = dup_bytes(p, k);

		assert_true(rg_my_read_ok(q, k, st, &ok) < 0);
		free(q);
	}
}

static void test_err_with_and_without_sqlstate_and_gateway_builder(void **state)
{
	struct rg_my_err_pkt e;
	uint8_t buf[600];
	char msg[700];
	ssize_t n;
	(void)state;

	n = rg_my_write_err(buf, sizeof(buf), 2, RG_MY_ER_ACCESS_DENIED, "28000",
			    "Access denied for user 'agent'");
	assert_int_equal(n, 4 + 9 + 30);
	assert_int_equal(buf[3], 2);
	assert_memory_equal(PAYLOAD(buf), "\xff\x15\x04#28000Access", 15);
	assert_int_equal(rg_my_read_err(PAYLOAD(buf), PLEN(n), &e), 0);
	assert_int_equal(e.code, 1045);
	assert_string_equal(e.sqlstate, "28000");
	assert_int_equal(e.message.len, 30);
	n = rg_my_write_err(buf, sizeof(buf), 1, RG_MY_ER_TABLEACCESS_DENIED, "42000",
			    "DROP command denied by rule no-drop");
	assert_int_equal(rg_my_read_err(PAYLOAD(buf), PLEN(n), &e), 0);
	assert_int_equal(e.code, 1142);
	assert_string_equal(e.sqlstate, "42000");
	assert_int_equal(rg_my_classify(PAYLOAD(buf), PLEN(n), 0, true), RG_MY_KIND_ERR);
	/* messages are capped at 512 bytes as the server does */
	memset(msg, 'm', sizeof(msg) - 1);
	msg[sizeof(msg) - 1] = 0;
	n = rg_my_write_err(buf, sizeof(buf), 1, 1142, "42000", msg);
	assert_int_equal(n, 4 + 9 + 512);
	assert_int_equal(rg_my_write_err(buf, sizeof(buf), 1, 1142, "4200", "x"), RG_MY_E_ARG);
	/* an early error without the marker; a progress report; truncated code */
	assert_int_equal(rg_my_read_err(BYTES(0xff, 0x69, 0x04, 'H', 'o', 's', 't'), 7, &e), 0);
	assert_int_equal(e.code, 1129);
	assert_string_equal(e.sqlstate, "");
	assert_int_equal(e.message.len, 4);
	assert_int_equal(rg_my_read_err(BYTES(0xff, 0xff, 0xff, 1), 4, &e), RG_MY_E_VALUE);
	assert_int_equal(rg_my_read_err(BYTES(0xff, 0x15), 2, &e), RG_MY_E_TRUNCATED);
	/* '#' with fewer than 5 state bytes is message text */
	assert_int_equal(rg_my_read_err(BYTES(0xff, 1, 0, '#', 'a'), 5, &e), 0);
	assert_string_equal(e.sqlstate, "");
}

static void test_eof_and_classify_the_0xfe_ambiguity(void **state)
{
	struct rg_my_eof e;
	uint8_t buf[16];
	ssize_t n;
	static uint8_t big[RG_MY_MAX_PACKET];
	(void)state;

	n = rg_my_write_eof(buf, sizeof(buf), 5, 1, RG_MY_SERVER_MORE_RESULTS_EXISTS);
	assert_int_equal(n, 9);
	assert_int_equal(rg_my_read_eof(PAYLOAD(buf), 5, &e), 0);
	assert_int_equal(e.warnings, 1);
	assert_int_equal(e.status, RG_MY_SERVER_MORE_RESULTS_EXISTS);
	assert_int_equal(rg_my_read_eof(PAYLOAD(buf), 4, &e), RG_MY_E_TRUNCATED);
	assert_int_equal(rg_my_classify(PAYLOAD(buf), 5, 0, true), RG_MY_KIND_EOF);
	assert_int_equal(rg_my_classify(PAYLOAD(buf), 5, 0, false), RG_MY_KIND_EOF);
	/* 0xfe of 9+ bytes: a row without DEPRECATE_EOF; OK-as-EOF with it, below 0xffffff */
	big[0] = 0xfe;
	assert_int_equal(rg_my_classify(big, 9, 0, true), RG_MY_KIND_OTHER);
	assert_int_equal(rg_my_classify(big, 9, RG_MY_CLIENT_DEPRECATE_EOF, true),
			 RG_MY_KIND_OK_EOF);
	assert_int_equal(rg_my_classify(big, sizeof(big), RG_MY_CLIENT_DEPRECATE_EOF, true),
			 RG_MY_KIND_OTHER);
	assert_int_equal(rg_my_classify(big, 9, 0, false), RG_MY_KIND_OTHER);
	/* 0x00: OK after a command, a binary row inside a result set */
	assert_int_equal(rg_my_classify(BYTES(0, 0, 0, 2, 0, 0, 0), 7, 0, false), RG_MY_KIND_OK);
	assert_int_equal(rg_my_classify(BYTES(0, 0, 0, 2, 0, 0, 0), 7, 0, true), RG_MY_KIND_OTHER);
	/* 0xfb: LOCAL INFILE request, or a row starting with NULL */
	assert_int_equal(rg_my_classify(BYTES(0xfb, 'f'), 2, 0, false), RG_MY_KIND_LOCAL_INFILE);
	assert_int_equal(rg_my_classify(BYTES(0xfb, 1, 'f'), 3, 0, true), RG_MY_KIND_OTHER);
	assert_int_equal(rg_my_classify(BYTES(0), 0, 0, false), RG_MY_KIND_OTHER);
}

/* ---- Commands ----------------------------------------------------------------------------------
 */

static void test_commands_build_read_and_name(void **state)
{
	uint8_t buf[64];
	struct rg_my_command c;
	struct rg_my_str t, w;
	uint16_t opt;
	uint32_t id;
	ssize_t n;
	(void)state;

	n = rg_my_write_command(buf, sizeof(buf), RG_MY_COM_QUERY, "SELECT 1", 8);
	assert_int_equal(n, 4 + 9);
	assert_memory_equal(buf, "\x09\x00\x00\x00\x03SELECT 1", 13);
	assert_int_equal(rg_my_read_command(PAYLOAD(buf), PLEN(n), &c), 0);
	assert_int_equal(c.cmd, RG_MY_COM_QUERY);
	assert_int_equal(c.arg.len, 8);
	assert_int_equal(c.arg.off, 1);
	assert_int_equal(rg_my_read_command(buf, 0, &c), RG_MY_E_TRUNCATED);
	n = rg_my_write_command(buf, sizeof(buf), RG_MY_COM_PING, NULL, 0);
	assert_int_equal(n, 5);

	assert_int_equal(rg_my_read_set_option(BYTES(0x1b, 1, 0), 3, &opt), 0);
	assert_int_equal(opt, RG_MY_OPTION_MULTI_STATEMENTS_OFF);
	assert_int_equal(rg_my_read_set_option(BYTES(0x1b, 2, 0), 3, &opt), RG_MY_E_VALUE);
	assert_int_equal(rg_my_read_set_option(BYTES(0x1b, 0), 2, &opt), RG_MY_E_TRUNCATED);
	assert_int_equal(rg_my_read_set_option(BYTES(0x1b, 0, 0, 0), 4, &opt), RG_MY_E_TRAILING);
	assert_int_equal(rg_my_read_set_option(BYTES(0x03, 0, 0), 3, &opt), RG_MY_E_WRONG_TYPE);

	assert_int_equal(rg_my_read_field_list(BYTES(0x04, 't', 0, '%'), 4, &t, &w), 0);
	assert_int_equal(t.len, 1);
	assert_int_equal(w.len, 1);
	assert_int_equal(rg_my_read_field_list(BYTES(0x04, 't'), 2, &t, &w), RG_MY_E_NO_NUL);

	assert_int_equal(rg_my_read_process_kill(BYTES(0x0c, 7, 0, 0, 0), 5, &id), 0);
	assert_int_equal(id, 7);
	assert_int_equal(rg_my_read_process_kill(BYTES(0x0c, 7, 0, 0), 4, &id), RG_MY_E_TRUNCATED);

	assert_string_equal(rg_my_com_name(RG_MY_COM_QUERY), "COM_QUERY");
	assert_string_equal(rg_my_com_name(RG_MY_COM_RESET_CONNECTION), "COM_RESET_CONNECTION");
	assert_string_equal(rg_my_com_name(RG_MY_COM_STMT_BULK_EXECUTE), "COM_STMT_BULK_EXECUTE");
	assert_string_equal(rg_my_com_name(0x40), "COM_?");
	assert_string_equal(rg_my_strerror(RG_MY_E_SEQ), "packet out of sequence");
	assert_string_equal(rg_my_strerror(-99), "unknown error");
}

static void test_large_command_is_split(void **state)
{
	size_t len = RG_MY_MAX_PACKET + 100, wire;
	char *q = malloc(len);
	uint8_t *buf, *back;
	struct rg_my_msg m;
	ssize_t n;
	(void)state;

	memset(q, 'x', len);
	n = rg_my_write_command(NULL, 0, RG_MY_COM_QUERY, q, len);
	assert_int_equal(n, len + 1 + 8);
	wire = (size_t)n;
	buf = malloc(wire);
	assert_int_equal(rg_my_write_command(buf, wire, RG_MY_COM_QUERY, q, len), n);
	assert_int_equal(rg_my_frame_msg(buf, wire, 0, 0, &m), n);
	assert_int_equal(m.npackets, 2);
	back = malloc(len + 1);
	assert_int_equal(rg_my_msg_gather(&m, back, len + 1), (ssize_t)len + 1);
	assert_int_equal(back[0], RG_MY_COM_QUERY);
	assert_int_equal(memcmp(back + 1, q, len), 0);
	free(back);
	free(buf);
	free(q);
}

static void test_change_user_layouts(void **state)
{
	/* user, 1-byte auth length, db, charset, plugin, attrs {k: v} */
	const uint8_t p[] = {0x11, 'b',	 'o',  'b', 0,	 3,   'a', 'b', 'c', 'd', 'b',
			     0,	   0x21, 0x00, 'm', 'y', 's', 'q', 'l', '_', 'n', 'a',
			     't',  'i',	 'v',  'e', 0,	 4,   1,   'k', 1,   'v'};
	const uint8_t bad_attrs[] = {0x11, 'b', 0, 0, 'd', 0, 0x21, 0, 'p', 0, 3, 1, 'k', 1};
	uint64_t caps = RG_MY_CLIENT_PROTOCOL_41 | RG_MY_CLIENT_SECURE_CONNECTION |
			RG_MY_CLIENT_PLUGIN_AUTH | RG_MY_CLIENT_CONNECT_ATTRS;
	struct rg_my_change_user cu;
	(void)state;

	assert_int_equal(rg_my_read_change_user(p, sizeof(p), caps, &cu), 0);
	assert_memory_equal(cu.user.p, "bob", 3);
	assert_int_equal(cu.auth.len, 3);
	assert_memory_equal(cu.database.p, "db", 2);
	assert_true(cu.has_charset);
	assert_int_equal(cu.charset, 0x21);
	assert_int_equal(cu.plugin.len, 12);
	assert_int_equal(cu.attrs.len, 4);
	/* old clients end after the database, or after the charset, or after the plugin */
	assert_int_equal(rg_my_read_change_user(p, 12, caps, &cu), 0);
	assert_false(cu.has_charset);
	assert_int_equal(rg_my_read_change_user(p, 14, caps, &cu), 0);
	assert_int_equal(rg_my_read_change_user(p, 27, caps, &cu), 0);
	/* every other prefix is cut inside a field */
	for (size_t k = 0; k < sizeof(p); k++) {
		uint8_t *q = dup_bytes(p, k);

		if (k != 12 && k != 14 && k != 27)
			assert_true(rg_my_read_change_user(q, k, caps, &cu) < 0);
		free(q);
	}
	assert_int_equal(rg_my_read_change_user(bad_attrs, sizeof(bad_attrs), caps, &cu),
			 RG_MY_E_TRUNCATED);
	/* without SECURE_CONNECTION the auth response is NUL-terminated */
	assert_int_equal(rg_my_read_change_user(BYTES(0x11, 'u', 0, 'p', 'w', 0, 'd', 0), 8,
						RG_MY_CLIENT_PROTOCOL_41, &cu),
			 0);
	assert_int_equal(cu.auth.len, 2);
	assert_int_equal(rg_my_read_change_user(BYTES(0x03, 'u', 0), 3, caps, &cu),
			 RG_MY_E_WRONG_TYPE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lenenc_roundtrip_at_every_width_boundary),
	    cmocka_unit_test(test_lenenc_null_and_ff_markers),
	    cmocka_unit_test(test_reader_cursor_strings),
	    cmocka_unit_test(test_sequence_helpers_wrap_and_check),
	    cmocka_unit_test(test_frame_packet_and_every_prefix_needs_more),
	    cmocka_unit_test(test_messages_at_and_around_16mib),
	    cmocka_unit_test(test_split_message_checks_every_packets_sequence),
	    cmocka_unit_test(test_stream_reassembles_in_any_chunking),
	    cmocka_unit_test(test_stream_sequence_and_limit),
	    cmocka_unit_test(test_handshake_mariadb_extended_caps_and_scramble),
	    cmocka_unit_test(test_handshake_rebuilt_byte_for_byte_and_caps_cleared),
	    cmocka_unit_test(test_handshake_mysql8_and_variants),
	    cmocka_unit_test(test_response_three_auth_forms_and_attributes),
	    cmocka_unit_test(test_response_optional_tail_ssl_request_and_old_clients),
	    cmocka_unit_test(test_auth_switch_more_data_and_raw_auth),
	    cmocka_unit_test(test_ok_every_capability_layout),
	    cmocka_unit_test(test_ok_tolerates_mysql_empty_info_and_rejects_garbage),
	    cmocka_unit_test(test_err_with_and_without_sqlstate_and_gateway_builder),
	    cmocka_unit_test(test_eof_and_classify_the_0xfe_ambiguity),
	    cmocka_unit_test(test_commands_build_read_and_name),
	    cmocka_unit_test(test_large_command_is_split),
	    cmocka_unit_test(test_change_user_layouts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
