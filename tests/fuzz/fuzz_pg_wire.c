/*
 * fuzz_pg_wire: arbitrary bytes as a stream of typed PostgreSQL messages. Byte 0 picks the
 * direction (bit 0) and tight or default limits (bit 1); the rest is framed message by
 * message, every complete message validated and walked with every iterator. Invariants
 * checked with abort(): framing accounts for every byte, pointers and offsets stay inside
 * the message, and a message that validates rebuilds byte-for-byte with the builder of its
 * type (so readers and builders agree on the layout).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t out[1 << 16];

static void inside(const struct rg_pg_msg *m, const void *p, size_t len)
{
	const uint8_t *q = p;

	if (q < m->start || q + len > m->start + m->total)
		abort();
}

static void same(const struct rg_pg_msg *m, ssize_t n)
{
	if (n < 0 || (uint64_t)n != m->total)
		abort();
	if ((size_t)n <= sizeof(out) && memcmp(out, m->start, (size_t)n))
		abort();
}

/*
 * The incremental DataRow walk, in pieces of `chunk` bytes, must agree with the one-shot
 * reader: same verdict, same fields at the same offsets.
 */
static void check_row_stream(const struct rg_pg_msg *m, size_t chunk)
{
	static struct rg_pg_field want[65535];
	struct rg_pg_row_stream rs;
	struct rg_pg_row_event ev;
	uint16_t count = 0;
	int expect = rg_pg_read_datarow(m, want, 65535, &count);
	size_t pos = 0, got = 0, seen = 0;

	rg_pg_row_stream_init(&rs, m->body_len);
	for (;;) {
		size_t n = m->body_len - pos < chunk ? m->body_len - pos : chunk;
		ssize_t r = rg_pg_row_stream_next(&rs, m->body + pos, n, &ev);

		if (r < 0) {
			if (expect >= 0)
				abort();
			return;
		}
		pos += (size_t)r;
		if (ev.kind == RG_PG_ROW_END)
			break;
		if (ev.kind == RG_PG_ROW_MORE)
			continue;
		if (expect < 0)
			continue; /* fields before the defect may be fine */
		if (got >= count || ev.index != got)
			abort();
		if (ev.kind == RG_PG_ROW_FIELD) {
			if (ev.len != want[got].len || ev.off + 5 != want[got].off)
				abort();
			seen = 0;
			if (ev.len <= 0)
				got++;
		} else {
			if (memcmp(ev.data, want[got].data + seen, ev.n) ||
			    ev.off + 5 != want[got].off + seen)
				abort();
			seen += ev.n;
			if (seen == (size_t)want[got].len)
				got++;
		}
	}
	if (expect < 0 || got != count || pos != m->body_len)
		abort();
}

static void check_be(const struct rg_pg_msg *m)
{
	struct rg_pg_iter it;
	struct rg_pg_field f;
	struct rg_pg_column c;
	uint16_t count;
	int rc;

	switch (m->type) {
	case RG_PG_BE_DATA_ROW: {
		static struct rg_pg_field fields[65535];

		if (rg_pg_read_datarow(m, fields, 65535, &count) < 0)
			return;
		for (uint16_t i = 0; i < count; i++) {
			if (fields[i].len >= 0)
				inside(m, fields[i].data, (size_t)fields[i].len);
			if (fields[i].off > m->total)
				abort();
		}
		same(m, rg_pg_write_datarow(out, sizeof(out), fields, count));
		break;
	}
	case RG_PG_BE_ROW_DESC:
		if (rg_pg_rowdesc_begin(m, &it, &count) < 0)
			return;
		while ((rc = rg_pg_rowdesc_next(&it, &c)) == 1)
			inside(m, c.name, c.name_len + 1);
		break;
	case RG_PG_BE_COMMAND_COMPLETE: {
		struct rg_pg_command_complete cc;
		uint64_t rows;

		if (rg_pg_read_command_complete(m, &cc) == 0) {
			inside(m, cc.tag, cc.len + 1);
			(void)rg_pg_command_rows(cc.tag, &rows);
			same(m, rg_pg_write_command_complete(out, sizeof(out), cc.tag));
		}
		break;
	}
	case RG_PG_BE_AUTH: {
		struct rg_pg_auth a;
		uint32_t off = 0, k = 0;
		const char *mechs[256];
		const char *s;

		if (rg_pg_read_auth(m, &a) < 0)
			return;
		while ((s = rg_pg_auth_next_mechanism(&a, &off)) && k < 256)
			mechs[k++] = s;
		if (a.code == RG_PG_AUTH_SASL && k == a.nmechanisms)
			same(m, rg_pg_write_auth_sasl(out, sizeof(out), mechs, k));
		else if (a.code == RG_PG_AUTH_MD5)
			same(m, rg_pg_write_auth_md5(out, sizeof(out), a.salt));
		else if (a.code != RG_PG_AUTH_SASL)
			same(m, rg_pg_write_auth(out, sizeof(out), a.code, a.data, a.data_len));
		break;
	}
	case RG_PG_BE_KEY_DATA: {
		struct rg_pg_key_data k;

		if (rg_pg_read_key_data(m, &k) == 0)
			same(m, rg_pg_write_key_data(out, sizeof(out), k.pid, k.key, k.key_len));
		break;
	}
	case RG_PG_BE_PARAM_STATUS: {
		struct rg_pg_param_status ps;

		if (rg_pg_read_param_status(m, &ps) == 0)
			same(m, rg_pg_write_param_status(out, sizeof(out), ps.name, ps.value));
		break;
	}
	case RG_PG_BE_READY: {
		uint8_t st;

		if (rg_pg_read_ready(m, &st) == 0)
			same(m, rg_pg_write_ready(out, sizeof(out), st));
		break;
	}
	case RG_PG_BE_ERROR:
	case RG_PG_BE_NOTICE: {
		struct rg_pg_notice e;
		uint8_t code;
		const char *v;

		if (rg_pg_notice_begin(m, &it) < 0)
			abort();
		while (rg_pg_notice_next(&it, &code, &v) == 1)
			inside(m, v, strlen(v) + 1);
		if (rg_pg_read_notice(m, &e) == 0 && e.severity && e.sqlstate && e.message) {
			ssize_t n = rg_pg_write_notice(out, sizeof(out), m->type, &e);

			if (n <= 0 && strlen(e.sqlstate) == 5)
				abort();
		}
		break;
	}
	case RG_PG_BE_NEGOTIATE: {
		struct rg_pg_negotiate ng;
		const char *opts[64], *s;
		uint32_t off = 0, k = 0;

		if (rg_pg_read_negotiate(m, &ng) < 0)
			return;
		while ((s = rg_pg_negotiate_next_option(&ng, &off)) && k < 64)
			opts[k++] = s;
		if (k == ng.noptions)
			same(m, rg_pg_write_negotiate(out, sizeof(out), ng.version, opts, k));
		break;
	}
	case RG_PG_BE_FUNCTION_RESULT:
		if (rg_pg_read_function_result(m, &f) == 0 && f.len >= 0)
			inside(m, f.data, (size_t)f.len);
		break;
	}
}

static void check_fe(const struct rg_pg_msg *m)
{
	struct rg_pg_iter it;
	struct rg_pg_field f;

	switch (m->type) {
	case RG_PG_FE_QUERY: {
		struct rg_pg_query q;

		if (rg_pg_read_query(m, &q) == 0)
			same(m, rg_pg_write_query(out, sizeof(out), q.sql, q.len));
		break;
	}
	case RG_PG_FE_BIND: {
		struct rg_pg_bind b;
		uint32_t k = 0;

		if (rg_pg_read_bind(m, &b) < 0)
			return;
		rg_pg_bind_params(m, &b, &it);
		while (rg_pg_field_next(&it, &f) == 1) {
			if (f.len >= 0)
				inside(m, f.data, (size_t)f.len);
			(void)rg_pg_bind_param_format(&b, (uint16_t)k++);
		}
		if (k != b.nparams || it.off != b.params_end)
			abort();
		break;
	}
	case RG_PG_FE_PARSE: {
		struct rg_pg_parse p;

		if (rg_pg_read_parse(m, &p) == 0) {
			inside(m, p.query, p.query_len + 1);
			for (uint16_t i = 0; i < p.nparams; i++)
				(void)rg_pg_parse_param_type(&p, i);
		}
		break;
	}
	case RG_PG_FE_PASSWORD: {
		struct rg_pg_query pw;
		struct rg_pg_sasl_initial si;

		if (rg_pg_read_password(m, &pw) == 0)
			same(m, rg_pg_write_password(out, sizeof(out), pw.sql));
		if (rg_pg_read_sasl_initial(m, &si) == 0 && si.mechanism[0])
			same(m,
			     rg_pg_write_sasl_initial(out, sizeof(out), si.mechanism, si.data,
						      si.data_len < 0 ? 0 : (size_t)si.data_len));
		same(m, rg_pg_write_sasl_response(out, sizeof(out), m->body, m->body_len));
		break;
	}
	case RG_PG_FE_FUNCTION_CALL: {
		struct rg_pg_function_call fc;

		if (rg_pg_read_function_call(m, &fc) < 0)
			return;
		rg_pg_function_args(m, &fc, &it);
		while (rg_pg_field_next(&it, &f) == 1)
			if (f.len >= 0)
				inside(m, f.data, (size_t)f.len);
		break;
	}
	case RG_PG_FE_TERMINATE:
		if (rg_pg_read_empty(m) == 0)
			same(m, rg_pg_write_terminate(out, sizeof(out)));
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum rg_pg_dir dir;
	struct rg_pg_limits tight;
	const struct rg_pg_limits *lim;

	if (size < 1)
		return 0;
	dir = data[0] & 1 ? RG_PG_BE : RG_PG_FE;
	if (data[0] & 2) {
		rg_pg_limits_init(&tight, dir, 4096, 64);
		lim = &tight;
	} else {
		lim = rg_pg_limits_default(dir);
	}
	data++, size--;

	while (size > 0) {
		struct rg_pg_msg m;
		ssize_t r = rg_pg_frame(data, size, lim, &m);

		if (r < 0) {
			if (!rg_pg_strerror((int)r))
				abort();
			break;
		}
		if (r == 0) {
			if (m.need < 1 || (m.total && m.total != size + m.need))
				abort();
			break;
		}
		if ((uint64_t)r != m.total || m.total != (uint64_t)m.len + 1 || (size_t)r > size)
			abort();
		if (dir == RG_PG_BE && m.type == RG_PG_BE_DATA_ROW)
			check_row_stream(&m,
					 (size_t)(m.body_len ? m.body[m.body_len - 1] % 7 : 0) + 1);
		if (rg_pg_validate(dir, &m) == 0) {
			if (dir == RG_PG_BE)
				check_be(&m);
			else
				check_fe(&m);
		}
		data += r;
		size -= (size_t)r;
	}
	return 0;
}
