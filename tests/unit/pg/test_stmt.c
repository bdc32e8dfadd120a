/*
 * Unit tests for engine/proto/pg/stmt.c: every DataRow is paired with the description the
 * target used for it. Sessions are scripted as the agent's messages and the target's
 * answers, in wire order, the way PostgreSQL answers them: simple queries, Execute of
 * portals described through their statement or themselves, result formats from Bind,
 * unnamed statement and portal replacement, Close, transaction end, skip to Sync after an
 * error, named statement texts and generations, and the memory bounds; SQL-level PREPARE,
 * DEALLOCATE and DISCARD ALL learned at the tag that confirms them, and judging again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pg-int.h"

/* ---- message builders ------------------------------------------------------------------ */

struct mb {
	uint8_t b[8192];
	size_t n;
};

static void put(struct mb *m, const void *p, size_t n)
{
	assert_true(m->n + n <= sizeof(m->b));
	memcpy(m->b + m->n, p, n);
	m->n += n;
}
static void put8(struct mb *m, uint8_t v)
{
	put(m, &v, 1);
}
static void put16(struct mb *m, uint16_t v)
{
	uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	put(m, x, 2);
}
static void put32(struct mb *m, uint32_t v)
{
	uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
	put(m, x, 4);
}
static void puts0(struct mb *m, const char *s)
{
	put(m, s, strlen(s) + 1);
}
static void begin(struct mb *m, uint8_t type)
{
	m->n = 0;
	put8(m, type);
	put32(m, 0);
}
static struct rg_pg_msg done(struct mb *m)
{
	struct rg_pg_msg msg;
	uint32_t len = (uint32_t)(m->n - 1);
	m->b[1] = (uint8_t)(len >> 24);
	m->b[2] = (uint8_t)(len >> 16);
	m->b[3] = (uint8_t)(len >> 8);
	m->b[4] = (uint8_t)len;
	assert_int_equal(rg_pg_msg_view(m->b, m->n, &msg), 0);
	return msg;
}

static struct rg_pg_stmt T;
static struct mb M;

static int fe(struct rg_pg_msg msg)
{
	assert_int_equal(rg_pg_validate(RG_PG_FE, &msg), 0);
	return rg_pg_stmt_fe(&T, &msg, 7);
}

static void parse(const char *name, const char *sql)
{
	begin(&M, 'P');
	puts0(&M, name);
	puts0(&M, sql);
	put16(&M, 0);
	assert_int_equal(fe(done(&M)), 0);
}

/* Bind without parameters; nf result-format codes from fmts. */
static void bind_(const char *portal, const char *stmt, uint16_t nf, const int16_t *fmts)
{
	begin(&M, 'B');
	puts0(&M, portal);
	puts0(&M, stmt);
	put16(&M, 0);
	put16(&M, 0);
	put16(&M, nf);
	for (uint16_t i = 0; i < nf; i++)
		put16(&M, (uint16_t)fmts[i]);
	assert_int_equal(fe(done(&M)), 0);
}

static void named_msg(uint8_t type, uint8_t kind, const char *name)
{
	begin(&M, type);
	put8(&M, kind);
	puts0(&M, name);
	assert_int_equal(fe(done(&M)), 0);
}
#define describe(k, n) named_msg('D', k, n)
#define close_(k, n) named_msg('C', k, n)

static void execute(const char *portal)
{
	begin(&M, 'E');
	puts0(&M, portal);
	put32(&M, 0);
	assert_int_equal(fe(done(&M)), 0);
}

static void empty_fe(uint8_t type)
{
	begin(&M, type);
	assert_int_equal(fe(done(&M)), 0);
}
#define sync_() empty_fe('S')
#define flush() empty_fe('H')

static void query(const char *sql)
{
	begin(&M, 'Q');
	puts0(&M, sql);
	assert_int_equal(fe(done(&M)), 0);
}

static int be_msg(struct rg_pg_msg msg, const struct rg_pg_shape **sh)
{
	const struct rg_pg_shape *dummy;
	assert_int_equal(rg_pg_validate(RG_PG_BE, &msg), 0);
	return rg_pg_stmt_be(&T, &msg, sh ? sh : &dummy);
}

/* A backend message without a body ('1', '2', '3', 'n', 'I', 's', 'c'). */
static int be(uint8_t type)
{
	begin(&M, type);
	return be_msg(done(&M), NULL);
}

/* RowDescription: n columns of type oids[i], format fmt (0 in a Describe answer). */
static int be_T(uint16_t n, const uint32_t *oids, int16_t fmt)
{
	begin(&M, 'T');
	put16(&M, n);
	for (uint16_t i = 0; i < n; i++) {
		puts0(&M, "c");
		put32(&M, 16384);
		put16(&M, (uint16_t)(i + 1));
		put32(&M, oids[i]);
		put16(&M, 0xffff);
		put32(&M, 0xffffffff);
		put16(&M, (uint16_t)fmt);
	}
	return be_msg(done(&M), NULL);
}

static int be_t(void)
{
	begin(&M, 't');
	put16(&M, 0);
	return be_msg(done(&M), NULL);
}

static int be_C(void)
{
	begin(&M, 'C');
	puts0(&M, "SELECT 1");
	return be_msg(done(&M), NULL);
}

static int be_Z(uint8_t st)
{
	begin(&M, 'Z');
	put8(&M, st);
	return be_msg(done(&M), NULL);
}

static int be_E(void)
{
	begin(&M, 'E');
	put8(&M, 'S');
	puts0(&M, "ERROR");
	put8(&M, 'C');
	puts0(&M, "42P01");
	put8(&M, 'M');
	puts0(&M, "boom");
	put8(&M, 0);
	return be_msg(done(&M), NULL);
}

/* A DataRow of n text fields; returns the shape, NULL if the tracker refused it. */
static const struct rg_pg_shape *be_D(uint16_t n)
{
	const struct rg_pg_shape *sh = NULL;
	begin(&M, 'D');
	put16(&M, n);
	for (uint16_t i = 0; i < n; i++) {
		put32(&M, 1);
		put8(&M, 'x');
	}
	if (be_msg(done(&M), &sh))
		return NULL;
	assert_non_null(sh);
	return sh;
}

static const uint32_t OIDS3[] = {25, 23, 3802};
static const uint32_t OIDS2[] = {1043, 17};

static int setup(void **state)
{
	(void)state;
	rg_pg_stmt_init(&T, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	rg_pg_stmt_free(&T);
	return 0;
}

/* ---- simple query ---------------------------------------------------------------------- */

static void test_simple_query_rows_follow_the_rowdescription_before_them(void **state)
{
	(void)state;
	query("select a, b, c from t; select x, y from u");
	assert_int_equal(be_T(3, OIDS3, 0), 0);
	const struct rg_pg_shape *s = be_D(3);
	assert_non_null(s);
	assert_true(s->described);
	assert_int_equal(s->ncols, 3);
	assert_int_equal(s->cols[0].type_oid, 25);
	assert_int_equal(s->cols[2].type_oid, 3802);
	assert_int_equal(s->cols[1].table_oid, 16384);
	assert_int_equal(s->cols[1].attnum, 2);
	uint64_t first = s->serial;
	assert_int_equal(be_D(3)->serial, first);
	assert_int_equal(be_C(), 0);
	assert_int_equal(be_T(2, OIDS2, 1), 0);
	s = be_D(2);
	assert_int_not_equal(s->serial, first);
	assert_int_equal(s->cols[0].type_oid, 1043);
	assert_int_equal(s->cols[1].format, 1); /* a binary cursor's FETCH */
	assert_int_equal(be_C(), 0);
	assert_int_equal(be_Z('I'), 0);
	assert_int_equal(rg_pg_stmt_pending(&T), 0);
}

static void test_row_without_a_pending_request_or_description_is_refused(void **state)
{
	(void)state;
	assert_null(be_D(1));
	query("select 1");
	assert_null(be_D(1)); /* no RowDescription yet */
	assert_int_equal(be_T(3, OIDS3, 0), 0);
	assert_null(be_D(2)); /* column count differs from the description */
	assert_int_equal(be('1'), RG_PG_STMT_E_PROTO);
	assert_int_equal(be_Z('I'), 0);
	assert_int_equal(be_Z('I'), RG_PG_STMT_E_PROTO);
}

static void test_simple_query_session_allocates_nothing_but_the_result_columns(void **state)
{
	(void)state;
	for (int i = 0; i < 3; i++) {
		query("select 1");
		assert_int_equal(be_T(1, OIDS3, 0), 0);
		assert_non_null(be_D(1));
		assert_int_equal(be_C(), 0);
		assert_int_equal(be_Z('I'), 0);
	}
	assert_ptr_equal(T.q, T.inl);
	assert_null(T.arg);
	assert_null(T.uns);
	assert_null(T.unp);
	assert_null(T.stmts.b);
	assert_null(T.portals.b);
}

static void test_copy_out_data_is_reported_with_its_format(void **state)
{
	(void)state;
	int fmt = -1;
	query("copy t to stdout");
	begin(&M, 'H');
	put8(&M, 0);
	put16(&M, 1);
	put16(&M, 0);
	assert_int_equal(be_msg(done(&M), NULL), 0);
	assert_int_equal(rg_pg_stmt_copy(&T, &fmt), RG_PG_COPY_OUT);
	assert_int_equal(fmt, 0);
	begin(&M, 'd');
	put(&M, "a\tb\n", 4);
	assert_int_equal(be_msg(done(&M), NULL), 0);
	assert_int_equal(be('c'), 0);
	assert_int_equal(be_C(), 0);
	assert_int_equal(rg_pg_stmt_copy(&T, NULL), RG_PG_COPY_NONE);
	begin(&M, 'd');
	put(&M, "x", 1);
	assert_int_equal(be_msg(done(&M), NULL), RG_PG_STMT_E_PROTO);
	assert_int_equal(be_Z('I'), 0);
}

static void test_copy_in_and_function_call_are_answered_in_order(void **state)
{
	(void)state;
	query("copy t from stdin");
	begin(&M, 'G');
	put8(&M, 0);
	put16(&M, 0);
	assert_int_equal(be_msg(done(&M), NULL), 0);
	assert_int_equal(rg_pg_stmt_copy(&T, NULL), RG_PG_COPY_IN);
	/* the agent's copy stream has no answers of its own */
	begin(&M, 'd');
	put(&M, "1\n", 2);
	assert_int_equal(fe(done(&M)), 0);
	empty_fe('c');
	assert_int_equal(rg_pg_stmt_pending(&T), 1);
	assert_int_equal(be_C(), 0);
	assert_int_equal(be_Z('I'), 0);

	begin(&M, 'F');
	put32(&M, 1598);
	put16(&M, 0);
	put16(&M, 0);
	put16(&M, 0);
	assert_int_equal(fe(done(&M)), 0);
	begin(&M, 'V');
	put32(&M, 1);
	put8(&M, '7');
	assert_int_equal(be_msg(done(&M), NULL), 0);
	assert_int_equal(be_Z('I'), 0);
	/* a FunctionCallResponse nobody asked for */
	begin(&M, 'V');
	put32(&M, 0xffffffff);
	assert_int_equal(be_msg(done(&M), NULL), RG_PG_STMT_E_PROTO);
	/* an error ends a COPY OUT: its CopyData can no longer come */
	query("copy t to stdout");
	begin(&M, 'H');
	put8(&M, 0);
	put16(&M, 0);
	assert_int_equal(be_msg(done(&M), NULL), 0);
	assert_int_equal(be_E(), 0);
	assert_int_equal(rg_pg_stmt_copy(&T, NULL), RG_PG_COPY_NONE);
	assert_int_equal(be_Z('I'), 0);
}

static void test_first_piece_of_a_streamed_row_is_enough(void **state)
{
	(void)state;
	const struct rg_pg_shape *sh = NULL;
	struct rg_pg_msg m;
	/* header of a 1 MiB DataRow with 3 fields, of which only 6 body bytes arrived */
	static const uint8_t piece[] = {'D', 0, 0x10, 0, 4, 0, 3, 0, 0x0f, 0xff};

	query("select a, b, c from t");
	assert_int_equal(be_T(3, OIDS3, 0), 0);
	m = (struct rg_pg_msg){.start = piece, .body = piece + 5, .len = 0x100004,
			       .body_len = 0x100000, .total = 0x100005, .type = 'D', .hdr = 5};
	assert_int_equal(rg_pg_stmt_be(&T, &m, &sh), 0);
	assert_non_null(sh);
	assert_int_equal(sh->ncols, 3);
	assert_int_equal(be_C(), 0);
	assert_int_equal(be_Z('I'), 0);
}

/* ---- extended protocol ----------------------------------------------------------------- */

static void test_execute_rows_use_the_statement_description_and_bind_formats(void **state)
{
	(void)state;
	parse("s1", "select a, b, c from t");
	describe('S', "s1");
	sync_();
	assert_int_equal(be('1'), 0);
	assert_int_equal(be_t(), 0);
	assert_int_equal(be_T(3, OIDS3, 0), 0);
	assert_int_equal(be_Z('I'), 0);

	/* no codes: all text */
	bind_("", "s1", 0, NULL);
	execute("");
	/* one code: all columns */
	const int16_t one[] = {1};
	bind_("", "s1", 1, one);
	execute("");
	/* one code per column */
	const int16_t per[] = {0, 1, 1};
	bind_("", "s1", 3, per);
	execute("");
	sync_();

	assert_int_equal(be('2'), 0);
	const struct rg_pg_shape *s = be_D(3);
	assert_non_null(s);
	assert_true(s->described);
	assert_int_equal(s->cols[0].type_oid, 25);
	assert_int_equal(s->cols[0].format, 0);
	assert_int_equal(s->cols[2].format, 0);
	assert_int_equal(be_C(), 0);
	assert_int_equal(be('2'), 0);
	s = be_D(3);
	assert_int_equal(s->cols[0].format, 1);
	assert_int_equal(s->cols[1].format, 1);
	assert_int_equal(s->cols[2].type_oid, 3802);
	assert_int_equal(be_C(), 0);
	assert_int_equal(be('2'), 0);
	s = be_D(3);
	assert_int_equal(s->cols[0].format, 0);
	assert_int_equal(s->cols[1].format, 1);
	assert_int_equal(s->cols[2].format, 1);
	assert_int_equal(be_C(), 0);
	assert_int_equal(be_Z('I'), 0);
}

static void test_describe_portal_gives_types_and_formats(void **state)
{
	(void)state;
	const int16_t bin[] = {1};
	parse("", "select v, b from t");
	bind_("", "", 1, bin);
	describe('P', "");
	execute("");
	sync_();
	assert_int_equal(be('1'), 0);
	assert_int_equal(be('2'), 0);
	assert_int_equal(be_T(2, OIDS2, 1), 0); /* a portal's RowDescription has its formats */
	const struct rg_pg_shape *s = be_D(2);
	assert_true(s->described);
	assert_int_equal(s->cols[0].type_oid, 1043);
	assert_int_equal(s->cols[1].type_oid, 17);
	assert_int_equal(s->cols[1].format, 1);
	assert_int_equal(be_C(), 0);
	assert_int_equal(be_Z('I'), 0);
}

static void test_describe_statement_answers_parameters_then_rows_or_nodata(void **state)
{
	(void)state;
	parse("ins", "insert into t values (1)");
	describe('S', "ins");
	sync_();
	assert_int_equal(be('1'), 0);
	assert_int_equal(be_T(3, OIDS3, 0), RG_PG_STMT_E_PROTO); /* 't' comes first */
	assert_int_equal(be_t(), 0);
	assert_int_equal(be_t(), RG_PG_STMT_E_PROTO);
	assert_int_equal(be('n'), 0);
	assert_int_equal(be_Z('I'), 0);
	/* Describe 'P' has no ParameterDescription */
	bind_("", "ins", 0, NULL);
	describe('P', "");
	sync_();
	assert_int_equal(be('2'), 0);
	assert_int_equal(be_t(), RG_PG_STMT_E_PROTO);
	assert_int_equal(be('n'), 0);
	assert_int_equal(be_Z('I'), 0);
}

static void test_statement_described_after_the_bind_still_describes_the_portal(void **state)
{
	(void)state;
	parse("s", "select a, b, c from t");
	bind_("p", "s", 0, NULL);
	describe('S', "s");
	execute("p");
	sync_();
	assert_int_equal(be('1'), 0);
	assert_int_equal(be('2'), 0);
	assert_int_equal(be_t(), 0);
	assert_int_equal(be_T(3, OIDS3, 0), 0);
	const struct rg_pg_shape *s = be_D(3);
	assert_true(s->described);
	assert_int_equal(s->cols[1].type_oid, 23);
	assert_int_equal(be_C(), 0);
	assert_int_equal(be_Z('T'), 0);
}

static void test_unnamed_statement_is_replaced_by_the_next_unnamed_parse(void **state)
{
	(void)state;
	parse("", "select a, b, c from t");
	describe('S', "");
	parse("", "select v, b from u");
	bind_("", "", 0, NULL);
	execute("");
	sync_();
	assert_int_equal(be('1'), 0);
	assert_int_equal(be_t(), 0);
	assert_int_equal(be_T(3, OIDS3, 0), 0);
	assert_int_equal(be('1'), 0);
	assert_int_equal(be('2'), 0);
	/* the second statement was never described: the first's description must not apply */
	const struct rg_pg_shape *s = be_D(2);
	assert_non_null(s);
	assert_false(s->described);
	assert_int_equal(s->cols[0].type_oid, 0);
	assert_int_equal(s->cols[0].format, 0);
	assert_int_equal(be_C(), 0);
	assert_int_equal(be_Z('I'), 0);
}

static void test_unnamed_portal_is_replaced_by_the_next_bind(void **state)
{
	(void)state;
	const int16_t bin[] = {1};
	query("begin");
	assert_int_equal(be_C(), 0);
	assert_int_equal(be_Z('T'), 0);
	parse("a", "select a, b, c from t");
	describe('S', "a");
	parse("b", "select v, b from u");
	describe('S', "b");
	bind_("", "a", 0, NULL);
	bind_("", "b", 1, bin);
	execute("");
	sync_();
	assert_int_equal(be('1'), 0);
	assert_int_equal(be_t(), 0);
	assert_int_equal(be_T(3, OIDS3, 0), 0);
	assert_int_equal(be('1'), 0);
	assert_int_equal(be_t(), 0);
	assert_int_equal(be_T(2, OIDS2, 0), 0);
	assert_int_equal(be('2'), 0);
	assert_int_equal(be('2'), 0);
	const struct rg_pg_shape *s = be_D(2);
	assert_true(s->described);
	assert_int_equal(s->cols[0].type_oid, 1043);
	assert_int_equal(s->cols[0].format, 1);
	assert_int_equal(be_C(), 0);
	assert_int_equal(be_Z('T'), 0);
}

static void test_named_portals_live_until_close_or_transaction_end(void **state)
{
	(void)state;
	const int16_t bin[] = {1};
	query("begin");
	assert_int_equal(be_C(), 0);
	assert_int_equal(be_Z('T'), 0);
	parse("s", "select a, b, c from t");
	describe('S', "s");
	parse("u", "select v, b from u");
	bind_("p", "s", 1, bin);
	execute("p");
	sync_();
	assert_int_equal(be('1'), 0);
	assert_int_equal(be_t(), 0);
	assert_int_equal(be_T(3, OIDS3, 0), 0);
	assert_int_equal(be('1'), 0);
	assert_int_equal(be('2'), 0);
	assert_int_equal(be_D(3)->cols[0].format, 1);
	assert_int_equal(be('s'), 0); /* PortalSuspended */
	assert_int_equal(be_Z('T'), 0);

	/* still there in the transaction: rows without any description message */
	execute("p");
	sync_();
	const struct rg_pg_shape *s = be_D(3);
	assert_true(s->described);
	assert_int_equal(s->cols[2].type_oid, 3802);
	assert_int_equal(s->cols[2].format, 1);
	assert_int_equal(be_C(), 0);
	assert_int_equal(be_Z('T'), 0);

	/* closed, then bound again to an undescribed statement: the old description is gone */
	close_('P', "p");
	bind_("p", "u", 0, NULL);
	execute("p");
	sync_();
	assert_int_equal(be('3'), 0);
	assert_int_equal(be('2'), 0);
	s = be_D(2);
	assert_false(s->described);
	assert_int_equal(be_C(), 0);
	assert_int_equal(be_Z('T'), 0);

	/* the transaction ends: the portal dies, its name comes back undescribed */
	query("commit");
	assert_int_equal(be_C(), 0);
	assert_int_equal(be_Z('I'), 0);
	assert_int_equal(T.portals.n, 0);
	execute("p");
	sync_();
	s = be_D(3); /* the target would refuse; if rows came, nothing is assumed */
	assert_false(s->described);
	assert_int_equal(s->cols[0].format, -1);
	assert_int_equal(be_C(), 0);
	assert_int_equal(be_Z('I'), 0);
}

static void test_sql_cursor_described_as_portal_is_adopted(void **state)
{
	(void)state;
	query("begin; declare c binary cursor for select v, b from u");
	assert_int_equal(be_C(), 0);
	assert_int_equal(be_C(), 0);
	assert_int_equal(be_Z('T'), 0);
	describe('P', "c");
	execute("c");
	sync_();
	assert_int_equal(be_T(2, OIDS2, 1), 0);
	const struct rg_pg_shape *s = be_D(2);
	assert_true(s->described);
	assert_int_equal(s->cols[0].format, 1); /* from the portal's RowDescription */
	assert_int_equal(be_C(), 0);
	assert_int_equal(be_Z('T'), 0);
}

static void test_simple_query_destroys_the_unnamed_statement_and_portal(void **state)
{
	(void)state;
	query("begin");
	assert_int_equal(be_C(), 0);
	assert_int_equal(be_Z('T'), 0);
	parse("", "select a, b, c from t");
	describe('S', "");
	bind_("", "", 0, NULL);
	sync_();
	assert_int_equal(be('1'), 0);
	assert_int_equal(be_t(), 0);
	assert_int_equal(be_T(3, OIDS3, 0), 0);
	assert_int_equal(be('2'), 0);
	assert_int_equal(be_Z('T'), 0);
	query("select 1");
	assert_int_equal(be_T(1, OIDS3, 0), 0);
	assert_non_null(be_D(1));
	assert_int_equal(be_C(), 0);
	assert_int_equal(be_Z('T'), 0);
	/* the target would refuse both; the model forgot them the same way */
	bind_("", "", 0, NULL);
	execute("");
	sync_();
	assert_int_equal(be('2'), 0); /* as if the target still had it */
	assert_false(be_D(3)->described);
	assert_int_equal(be_C(), 0);
	assert_int_equal(be_Z('T'), 0);
}

static void test_error_skips_everything_until_sync(void **state)
{
	(void)state;
	parse("s", "select a, b, c from t");
	describe('S', "s");
	sync_();
	assert_int_equal(be('1'), 0);
	assert_int_equal(be_t(), 0);
	assert_int_equal(be_T(3, OIDS3, 0), 0);
	assert_int_equal(be_Z('I'), 0);

	/* Bind fails: its Describe, Execute and the Query before Sync are never answered */
	bind_("", "nosuch", 0, NULL);
	describe('P', "");
	execute("");
	query("select 1");
	sync_();
	bind_("", "s", 0, NULL);
	execute("");
	sync_();
	assert_int_equal(rg_pg_stmt_pending(&T), 8);
	assert_int_equal(be_E(), 0);
	assert_int_equal(rg_pg_stmt_pending(&T), 4);
	assert_int_equal(be_Z('I'), 0);
	assert_int_equal(be('2'), 0);
	const struct rg_pg_shape *s = be_D(3);
	assert_true(s->described);
	assert_int_equal(be_C(), 0);
	assert_int_equal(be_Z('I'), 0);

	/* the error arrives before the client sent the Sync: what follows it is skipped too */
	bind_("", "nosuch", 0, NULL);
	assert_int_equal(be_E(), 0);
	execute("");
	query("select 1");
	flush();
	assert_int_equal(rg_pg_stmt_pending(&T), 0);
	sync_();
	assert_int_equal(rg_pg_stmt_pending(&T), 1);
	assert_int_equal(be_Z('I'), 0);
	/* and after the Sync everything is answered again */
	query("select 1");
	assert_int_equal(rg_pg_stmt_pending(&T), 1);
	assert_int_equal(be_E(), 0); /* an error in a simple query skips nothing */
	assert_int_equal(be_Z('I'), 0);
	assert_int_equal(rg_pg_stmt_pending(&T), 0);
}

static void test_failed_parse_installs_nothing_and_unnamed_one_still_drops_the_old(void **state)
{
	(void)state;
	const char *sql;
	uint64_t gen;

	parse("", "select a, b, c from t");
	describe('S', "");
	sync_();
	assert_int_equal(be('1'), 0);
	assert_int_equal(be_t(), 0);
	assert_int_equal(be_T(3, OIDS3, 0), 0);
	assert_int_equal(be_Z('I'), 0);
	parse("", "selec syntax error");
	sync_();
	assert_int_equal(be_E(), 0);
	assert_int_equal(be_Z('I'), 0);
	/* the old description must not apply to whatever the target runs now */
	bind_("", "", 0, NULL);
	execute("");
	sync_();
	assert_int_equal(be('2'), 0);
	assert_false(be_D(3)->described);
	assert_int_equal(be_C(), 0);
	assert_int_equal(be_Z('I'), 0);

	parse("bad", "selec syntax error");
	assert_int_equal(rg_pg_stmt_lookup(&T, "bad", 3, &sql, NULL, &gen), 1);
	sync_();
	assert_int_equal(be_E(), 0);
	assert_int_equal(be_Z('I'), 0);
	assert_int_equal(rg_pg_stmt_lookup(&T, "bad", 3, &sql, NULL, &gen), 0);
	assert_int_equal(T.nstmts, 0);
	assert_int_equal(T.sql_bytes, 0);
}

static void test_closing_a_statement_forgets_its_description_and_text(void **state)
{
	(void)state;
	parse("s", "select a, b, c from t");
	describe('S', "s");
	close_('S', "s");
	assert_int_equal(rg_pg_stmt_lookup(&T, "s", 1, NULL, NULL, NULL), 0);
	parse("s", "select v, b from u");
	assert_int_equal(rg_pg_stmt_lookup(&T, "s", 1, NULL, NULL, NULL), 1);
	bind_("", "s", 0, NULL);
	execute("");
	sync_();
	assert_int_equal(be('1'), 0);
	assert_int_equal(be_t(), 0);
	assert_int_equal(be_T(3, OIDS3, 0), 0);
	assert_int_equal(be('3'), 0);
	assert_int_equal(be('1'), 0);
	assert_int_equal(be('2'), 0);
	assert_false(be_D(2)->described);
	assert_int_equal(be_C(), 0);
	assert_int_equal(be_Z('I'), 0);
	assert_int_equal(T.nstmts, 1);
}

/* ---- named statements' texts and generations ------------------------------------------ */

static void test_lookup_sees_pending_parse_and_close_in_wire_order(void **state)
{
	(void)state;
	const char *sql;
	uint32_t len;
	uint64_t gen;

	assert_int_equal(rg_pg_stmt_lookup(&T, "", 0, &sql, &len, &gen), 0);
	parse("q", "select 1");
	assert_int_equal(rg_pg_stmt_lookup(&T, "q", 1, &sql, &len, &gen), 1);
	assert_string_equal(sql, "select 1");
	assert_int_equal(len, 8);
	assert_int_equal(gen, 7);
	sync_();
	assert_int_equal(be('1'), 0);
	assert_int_equal(be_Z('I'), 0);
	assert_int_equal(rg_pg_stmt_lookup(&T, "q", 1, &sql, &len, &gen), 1);
	assert_int_equal(rg_pg_stmt_judged(&T, "q", 1, 9), 1);
	assert_int_equal(rg_pg_stmt_lookup(&T, "q", 1, NULL, NULL, &gen), 1);
	assert_int_equal(gen, 9);
	close_('S', "q");
	assert_int_equal(rg_pg_stmt_lookup(&T, "q", 1, NULL, NULL, NULL), 0);
	assert_int_equal(rg_pg_stmt_judged(&T, "q", 1, 10), 0);
	parse("q", "select 2");
	assert_int_equal(rg_pg_stmt_lookup(&T, "q", 1, &sql, NULL, &gen), 1);
	assert_string_equal(sql, "select 2");
	assert_int_equal(gen, 7);
	assert_int_equal(be('3'), 0);
	assert_int_equal(be('1'), 0);
	assert_int_equal(rg_pg_stmt_lookup(&T, "q", 1, &sql, NULL, NULL), 1);
	assert_string_equal(sql, "select 2");
	assert_int_equal(rg_pg_stmt_pending(&T), 0);
}

static void test_lookup_is_unsettled_behind_an_unanswered_sync(void **state)
{
	(void)state;
	const char *sql;

	parse("q", "select 1");
	sync_();
	assert_int_equal(be('1'), 0);
	assert_int_equal(be_Z('I'), 0);
	/* the target refuses this one (q exists) and then binds the first */
	parse("q", "select 2");
	sync_();
	assert_int_equal(rg_pg_stmt_lookup(&T, "q", 1, &sql, NULL, NULL), RG_PG_STMT_UNSETTLED);
	assert_int_equal(rg_pg_stmt_judged(&T, "q", 1, 3), RG_PG_STMT_UNSETTLED);
	assert_int_equal(be_E(), 0);
	assert_int_equal(be_Z('I'), 0);
	assert_int_equal(rg_pg_stmt_lookup(&T, "q", 1, &sql, NULL, NULL), 1);
	assert_string_equal(sql, "select 1");
	/* within the open segment a pending Close decides at once */
	close_('S', "q");
	assert_int_equal(rg_pg_stmt_lookup(&T, "q", 1, &sql, NULL, NULL), 0);
	sync_();
	assert_int_equal(rg_pg_stmt_lookup(&T, "q", 1, &sql, NULL, NULL), RG_PG_STMT_UNSETTLED);
	assert_int_equal(be('3'), 0);
	assert_int_equal(be_Z('I'), 0);
	assert_int_equal(rg_pg_stmt_lookup(&T, "q", 1, &sql, NULL, NULL), 0);
}

static void test_names_are_keyed_on_their_first_63_bytes_like_the_server(void **state)
{
	(void)state;
	char a[80], b[80];
	const char *sql;
	memset(a, 'n', 70);
	a[70] = 0;
	memcpy(b, a, 71);
	b[69] = 'x'; /* differs only past byte 63 */
	parse(a, "select 1");
	sync_();
	assert_int_equal(be('1'), 0);
	assert_int_equal(be_Z('I'), 0);
	assert_int_equal(rg_pg_stmt_lookup(&T, b, strlen(b), &sql, NULL, NULL), 1);
	assert_string_equal(sql, "select 1");
}

/* ---- bounds ---------------------------------------------------------------------------- */

static void test_limits_return_an_error_instead_of_growing(void **state)
{
	(void)state;
	struct rg_pg_stmt_limits lim = *rg_pg_stmt_limits_default();
	lim.max_statements = 2;
	lim.max_sql_bytes = 20;
	lim.max_pending = 6;
	lim.pause_pending = 4;
	rg_pg_stmt_free(&T);
	rg_pg_stmt_init(&T, &lim);

	parse("a", "select 1");
	parse("b", "select 2");
	begin(&M, 'P');
	puts0(&M, "c");
	puts0(&M, "select 3");
	put16(&M, 0);
	assert_int_equal(fe(done(&M)), RG_PG_STMT_E_LIMIT);
	assert_false(rg_pg_stmt_pause(&T));
	sync_();
	assert_int_equal(be('1'), 0);
	assert_int_equal(be('1'), 0);
	assert_int_equal(be_Z('I'), 0);
	close_('S', "a");
	sync_();
	assert_int_equal(be('3'), 0);
	assert_int_equal(be_Z('I'), 0);
	/* 8 bytes kept of 20: a 13-byte text does not fit */
	begin(&M, 'P');
	puts0(&M, "c");
	puts0(&M, "select 123456");
	put16(&M, 0);
	assert_int_equal(fe(done(&M)), RG_PG_STMT_E_LIMIT);
	parse("c", "select 3");

	for (int i = 0; i < 3; i++)
		query("select 1");
	assert_true(rg_pg_stmt_pause(&T));
	query("select 1");
	query("select 1");
	begin(&M, 'Q');
	puts0(&M, "select 1");
	assert_int_equal(fe(done(&M)), RG_PG_STMT_E_LIMIT);
	assert_int_equal(rg_pg_stmt_pending(&T), 6);
}

static void test_long_pipeline_grows_then_trims(void **state)
{
	(void)state;
	parse("", "select a, b, c from t");
	describe('S', "");
	for (int i = 0; i < 300; i++) {
		bind_("", "", 0, NULL);
		execute("");
	}
	sync_();
	assert_int_equal(rg_pg_stmt_pending(&T), 603);
	assert_int_equal(be('1'), 0);
	assert_int_equal(be_t(), 0);
	assert_int_equal(be_T(3, OIDS3, 0), 0);
	for (int i = 0; i < 300; i++) {
		assert_int_equal(be('2'), 0);
		assert_true(be_D(3)->described);
		assert_int_equal(be_C(), 0);
	}
	assert_int_equal(be_Z('I'), 0);
	rg_pg_stmt_trim(&T);
	assert_ptr_equal(T.q, T.inl);
}

/* ---- SQL-level prepared statements ------------------------------------------------------ */

static struct rg_pg_sqlfx fx_(uint8_t kind, const char *name, const char *sql)
{
	return (struct rg_pg_sqlfx){kind, name, name ? strlen(name) : 0, sql,
				    sql ? (uint32_t)strlen(sql) : 0};
}

/* A Query (or, with parse_name, a Parse) whose text has the effects fx[0..n), judged by gen. */
static int send_fx(const char *parse_name, const char *sql, uint64_t gen,
		   const struct rg_pg_sqlfx *fx, uint32_t n)
{
	begin(&M, parse_name ? 'P' : 'Q');
	if (parse_name)
		puts0(&M, parse_name);
	puts0(&M, sql);
	if (parse_name)
		put16(&M, 0);
	struct rg_pg_msg msg = done(&M);
	assert_int_equal(rg_pg_validate(RG_PG_FE, &msg), 0);
	return rg_pg_stmt_fe_sql(&T, &msg, gen, fx, n);
}

static int be_tag(const char *tag)
{
	begin(&M, 'C');
	puts0(&M, tag);
	return be_msg(done(&M), NULL);
}

static int has(const char *name)
{
	return rg_pg_stmt_lookup(&T, name, strlen(name), NULL, NULL, NULL);
}

#define PREP_P "PREPARE p AS SELECT secret FROM t"

static void test_sql_prepare_is_learned_when_the_target_confirms_it(void **state)
{
	(void)state;
	struct rg_pg_sqlfx f = fx_(RG_PG_FX_PREPARE, "p", PREP_P);
	const char *sql;
	uint64_t gen;

	assert_int_equal(send_fx(NULL, PREP_P, 7, &f, 1), 0);
	/* not installed before the target says so; until then lookup cannot settle it */
	assert_int_equal(T.nstmts, 0);
	assert_int_equal(has("p"), RG_PG_STMT_UNSETTLED);
	assert_true(rg_pg_stmt_stale(&T, 8)); /* but its pending text counts */
	assert_int_equal(be_tag("PREPARE"), 0);
	assert_int_equal(T.nstmts, 1);
	assert_int_equal(be_Z('I'), 0);
	assert_int_equal(rg_pg_stmt_lookup(&T, "p", 1, &sql, NULL, &gen), 1);
	assert_string_equal(sql, PREP_P);
	assert_int_equal(gen, 7);
	assert_null(T.fx_live);
	assert_int_equal(T.nstmts, 1);
	assert_int_equal(T.sql_bytes, strlen(PREP_P));
	/* the name is the server's, shared with Parse: Describe 'S' of it is followed */
	describe('S', "p");
	sync_();
	assert_int_equal(be_t(), 0);
	assert_int_equal(be_T(3, OIDS3, 0), 0);
	assert_int_equal(be_Z('I'), 0);
	bind_("", "p", 0, NULL);
	execute("");
	sync_();
	assert_int_equal(be('2'), 0);
	assert_true(be_D(3)->described);
	assert_int_equal(be_C(), 0);
	assert_int_equal(be_Z('I'), 0);
}

static void test_a_prepare_the_target_refuses_is_never_installed(void **state)
{
	(void)state;
	struct rg_pg_sqlfx f = fx_(RG_PG_FX_PREPARE, "p", PREP_P);

	/* the name exists, a syntax error, or 25P02 in a failed transaction: an error, no tag */
	assert_int_equal(send_fx(NULL, PREP_P, 7, &f, 1), 0);
	assert_int_equal(be_E(), 0);
	assert_int_equal(be_Z('E'), 0);
	assert_int_equal(has("p"), 0);
	assert_null(T.fx_live);
	assert_int_equal(T.sql_bytes, 0);
	assert_int_equal(T.nstmts, 0);
	assert_false(rg_pg_stmt_stale(&T, 8));
}

static void test_rollback_undoes_neither_prepare_nor_deallocate(void **state)
{
	(void)state;
	struct rg_pg_sqlfx f[2] = {fx_(RG_PG_FX_PREPARE, "p", PREP_P),
				   fx_(RG_PG_FX_DEALLOCATE, "q", NULL)};

	query("PREPARE q AS SELECT 1");
	assert_int_equal(be_tag("PREPARE"), 0); /* not followed: no effects were given */
	assert_int_equal(be_Z('I'), 0);
	assert_int_equal(has("q"), 0);
	f[1] = fx_(RG_PG_FX_PREPARE, "q", "PREPARE q AS SELECT 1");
	assert_int_equal(send_fx(NULL, "PREPARE q AS SELECT 1", 7, &f[1], 1), 0);
	assert_int_equal(be_tag("PREPARE"), 0);
	assert_int_equal(be_Z('I'), 0);
	f[1] = fx_(RG_PG_FX_DEALLOCATE, "q", NULL);
	assert_int_equal(send_fx(NULL, "BEGIN; " PREP_P "; DEALLOCATE q", 7, f, 2), 0);
	assert_int_equal(be_tag("BEGIN"), 0);
	assert_int_equal(be_tag("PREPARE"), 0);
	assert_int_equal(be_tag("DEALLOCATE"), 0);
	assert_int_equal(be_Z('T'), 0);
	query("ROLLBACK");
	assert_int_equal(be_tag("ROLLBACK"), 0);
	assert_int_equal(be_Z('I'), 0);
	assert_int_equal(has("p"), 1);
	assert_int_equal(has("q"), 0);
}

static void test_effects_of_a_string_apply_in_order_until_its_error(void **state)
{
	(void)state;
	struct rg_pg_sqlfx f[4] = {
	    fx_(RG_PG_FX_PREPARE, "a", "PREPARE a AS SELECT 1"),
	    fx_(RG_PG_FX_DEALLOCATE, "a", NULL),
	    fx_(RG_PG_FX_PREPARE, "b", "PREPARE b AS SELECT 2"),
	    fx_(RG_PG_FX_PREPARE, "c", "PREPARE c AS SELECT 3"),
	};

	assert_int_equal(send_fx(NULL, "four statements", 7, f, 4), 0);
	assert_int_equal(be_tag("PREPARE"), 0);
	assert_int_equal(T.nstmts, 1);			  /* a */
	assert_int_equal(has("a"), RG_PG_STMT_UNSETTLED); /* the string still runs */
	assert_int_equal(be_tag("DEALLOCATE"), 0);
	assert_int_equal(T.nstmts, 0);
	assert_int_equal(be_tag("PREPARE"), 0);
	assert_int_equal(T.nstmts, 1); /* b */
	assert_int_equal(be_E(), 0);   /* c fails: the rest of the string never runs */
	assert_int_equal(be_Z('I'), 0);
	assert_int_equal(has("b"), 1);
	assert_int_equal(has("c"), 0);
	assert_int_equal(T.nstmts, 1);
	assert_int_equal(T.sql_bytes, strlen("PREPARE b AS SELECT 2"));
}

static void test_deallocate_all_and_discard_all_forget_protocol_statements_too(void **state)
{
	(void)state;
	struct rg_pg_sqlfx f = fx_(RG_PG_FX_PREPARE, "p", PREP_P);

	parse("s", "select 1");
	parse("", "select 2");
	sync_();
	assert_int_equal(be('1'), 0);
	assert_int_equal(be('1'), 0);
	assert_int_equal(be_Z('I'), 0);
	assert_int_equal(send_fx(NULL, PREP_P, 7, &f, 1), 0);
	assert_int_equal(be_tag("PREPARE"), 0);
	assert_int_equal(be_Z('I'), 0);
	f = fx_(RG_PG_FX_DEALLOCATE_ALL, NULL, NULL);
	assert_int_equal(send_fx(NULL, "DEALLOCATE ALL", 7, &f, 1), 0);
	assert_int_equal(be_tag("DEALLOCATE ALL"), 0);
	assert_int_equal(be_Z('I'), 0);
	assert_int_equal(has("s"), 0);
	assert_int_equal(has("p"), 0);
	assert_int_equal(T.nstmts, 0);
	assert_int_equal(T.sql_bytes, 0);
	/* the unnamed statement is not a prepared statement of the hash: it stays */
	parse("s", "select 1");
	bind_("", "", 0, NULL);
	bind_("cur", "s", 0, NULL);
	f = fx_(RG_PG_FX_DISCARD_ALL, NULL, NULL);
	assert_int_equal(send_fx("", "DISCARD ALL", 7, &f, 1), 0);
	bind_("", "", 0, NULL);
	execute("");
	sync_();
	assert_int_equal(be('1'), 0);
	assert_int_equal(be('2'), 0);
	assert_int_equal(be('2'), 0);
	assert_int_equal(be('1'), 0);
	assert_int_equal(be('2'), 0);
	assert_int_equal(be_tag("DISCARD ALL"), 0);
	assert_int_equal(has("s"), 0);
	assert_int_equal(T.portals.n, 0);
	assert_int_equal(be_Z('I'), 0);
	assert_non_null(T.fx_live); /* the unnamed statement may run DISCARD ALL again */
}

static void test_a_prepare_run_through_a_portal_applies_at_its_execute(void **state)
{
	(void)state;
	struct rg_pg_sqlfx f = fx_(RG_PG_FX_PREPARE, "p", PREP_P);
	const char *sql;
	uint64_t gen;

	/* JDBC: Parse "" / Bind / Execute of the PREPARE statement */
	assert_int_equal(send_fx("", PREP_P, 5, &f, 1), 0);
	bind_("", "", 0, NULL);
	execute("");
	sync_();
	assert_int_equal(be('1'), 0);
	assert_int_equal(be('2'), 0);
	assert_int_equal(T.nstmts, 0);
	assert_int_equal(has("p"), RG_PG_STMT_UNSETTLED); /* the Execute may prepare it */
	assert_int_equal(be_tag("PREPARE"), 0);
	assert_int_equal(rg_pg_stmt_lookup(&T, "p", 1, &sql, NULL, &gen), 1);
	assert_string_equal(sql, PREP_P);
	assert_int_equal(gen, 5);
	assert_int_equal(be_Z('I'), 0);
	/* a named statement holding a DEALLOCATE, bound and executed later */
	f = fx_(RG_PG_FX_DEALLOCATE, "p", NULL);
	assert_int_equal(send_fx("d", "DEALLOCATE p", 5, &f, 1), 0);
	sync_();
	assert_int_equal(be('1'), 0);
	assert_int_equal(be_Z('I'), 0);
	assert_int_equal(has("p"), 1);
	bind_("", "d", 0, NULL);
	execute("");
	sync_();
	assert_int_equal(be('2'), 0);
	assert_int_equal(be_tag("DEALLOCATE"), 0);
	assert_int_equal(be_Z('I'), 0);
	assert_int_equal(has("p"), 0);
	close_('S', "d");
	sync_();
	assert_int_equal(be('3'), 0);
	assert_int_equal(be_Z('I'), 0);
	/* the unnamed statement still holds its PREPARE (it may run again) */
	assert_non_null(T.fx_live);
	parse("", "select 1");
	sync_();
	assert_int_equal(be('1'), 0);
	assert_int_equal(be_Z('I'), 0);
	assert_null(T.fx_live);
	assert_int_equal(T.sql_bytes, 0);
}

static int judged;
static bool judge_deny_secret(void *arg, const char *sql, uint32_t len)
{
	(void)arg;
	judged++;
	return !memmem(sql, len, "secret", 6);
}
static bool judge_allow(void *arg, const char *sql, uint32_t len)
{
	(void)arg, (void)sql, (void)len;
	judged++;
	return true;
}

static void test_rejudge_judges_every_stale_version_once_per_generation(void **state)
{
	(void)state;
	struct rg_pg_sqlfx f = fx_(RG_PG_FX_PREPARE, "p", "PREPARE p AS SELECT 1");
	uint64_t gen;

	judged = 0;
	assert_false(rg_pg_stmt_stale(&T, 7));
	assert_true(rg_pg_stmt_rejudge(&T, "p", 1, 7, judge_deny_secret, NULL)); /* none */
	assert_int_equal(send_fx(NULL, "PREPARE p AS SELECT 1", 7, &f, 1), 0);
	assert_int_equal(be_tag("PREPARE"), 0);
	assert_int_equal(be_Z('I'), 0);
	/* current: nothing to judge, and the session need not even look */
	assert_false(rg_pg_stmt_stale(&T, 7));
	assert_true(rg_pg_stmt_rejudge(&T, "p", 1, 7, judge_deny_secret, NULL));
	assert_int_equal(judged, 0);
	/* a reload: judged again once, then current */
	assert_true(rg_pg_stmt_stale(&T, 8));
	assert_true(rg_pg_stmt_rejudge(&T, "p", 1, 8, judge_allow, NULL));
	assert_int_equal(judged, 1);
	assert_true(rg_pg_stmt_rejudge(&T, "p", 1, 8, judge_allow, NULL));
	assert_int_equal(judged, 1);
	assert_int_equal(rg_pg_stmt_lookup(&T, "p", 1, NULL, NULL, &gen), 1);
	assert_int_equal(gen, 8);
	assert_false(rg_pg_stmt_stale(&T, 8));
	/* a pending PREPARE of the same name (it fails: p exists) and the installed one, both
	 * judged by an older bundle: each is a version the target may run, each is judged */
	f = fx_(RG_PG_FX_PREPARE, "p", PREP_P);
	assert_int_equal(send_fx(NULL, PREP_P, 8, &f, 1), 0);
	judged = 0;
	assert_true(rg_pg_stmt_stale(&T, 9));
	assert_false(rg_pg_stmt_rejudge(&T, "p", 1, 9, judge_deny_secret, NULL));
	assert_int_equal(judged, 2);
	assert_int_equal(be_E(), 0);
	assert_int_equal(be_Z('I'), 0);
	assert_true(rg_pg_stmt_rejudge(&T, "p", 1, 9, judge_deny_secret, NULL));
	/* a pending Parse of the name counts too */
	parse("q", "select secret from t");
	judged = 0;
	assert_false(rg_pg_stmt_rejudge(&T, "q", 1, 9, judge_deny_secret, NULL));
	assert_int_equal(judged, 1);
	assert_true(rg_pg_stmt_rejudge(&T, "q", 1, 7, judge_deny_secret, NULL));
}

static void test_prepared_statements_are_bounded_with_the_named_ones(void **state)
{
	(void)state;
	struct rg_pg_stmt_limits lim = *rg_pg_stmt_limits_default();
	struct rg_pg_sqlfx f[2] = {fx_(RG_PG_FX_PREPARE, "a", "PREPARE a AS SELECT 1"),
				   fx_(RG_PG_FX_PREPARE, "b", "PREPARE b AS SELECT 1")};

	rg_pg_stmt_free(&T);
	lim.max_statements = 1;
	lim.max_sql_bytes = 64;
	rg_pg_stmt_init(&T, &lim);
	assert_true(rg_pg_stmt_room(&T, 1, 21));
	assert_false(rg_pg_stmt_room(&T, 2, 42));
	assert_false(rg_pg_stmt_room(&T, 1, 65));
	/* past the bound at the target's confirmation: an error, the session ends (54000) */
	assert_int_equal(send_fx(NULL, "two", 7, f, 2), 0);
	assert_int_equal(be_tag("PREPARE"), 0);
	assert_false(rg_pg_stmt_room(&T, 1, 1));
	assert_int_equal(be_tag("PREPARE"), RG_PG_STMT_E_LIMIT);
	rg_pg_stmt_free(&T);
	rg_pg_stmt_init(&T, &lim);
	/* a text of most of the bound: its pending copy does not count against its install */
	char mid[41];
	memset(mid, 'm', 40);
	mid[40] = '\0';
	f[0].sql = mid;
	f[0].sql_len = 40;
	assert_true(rg_pg_stmt_room(&T, 1, 40));
	assert_int_equal(send_fx(NULL, mid, 7, f, 1), 0);
	assert_int_equal(be_tag("PREPARE"), 0);
	assert_int_equal(be_Z('I'), 0);
	assert_int_equal(has("a"), 1);
	assert_int_equal(T.sql_bytes, 40);
	rg_pg_stmt_free(&T);
	rg_pg_stmt_init(&T, &lim);
	char big[80];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	f[0].sql = big;
	f[0].sql_len = (uint32_t)strlen(big);
	assert_int_equal(send_fx(NULL, "big", 7, f, 1), RG_PG_STMT_E_LIMIT);
	assert_int_equal(rg_pg_stmt_pending(&T), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T_(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	    T_(test_simple_query_rows_follow_the_rowdescription_before_them),
	    T_(test_row_without_a_pending_request_or_description_is_refused),
	    T_(test_simple_query_session_allocates_nothing_but_the_result_columns),
	    T_(test_copy_out_data_is_reported_with_its_format),
	    T_(test_copy_in_and_function_call_are_answered_in_order),
	    T_(test_first_piece_of_a_streamed_row_is_enough),
	    T_(test_execute_rows_use_the_statement_description_and_bind_formats),
	    T_(test_describe_portal_gives_types_and_formats),
	    T_(test_describe_statement_answers_parameters_then_rows_or_nodata),
	    T_(test_statement_described_after_the_bind_still_describes_the_portal),
	    T_(test_unnamed_statement_is_replaced_by_the_next_unnamed_parse),
	    T_(test_unnamed_portal_is_replaced_by_the_next_bind),
	    T_(test_named_portals_live_until_close_or_transaction_end),
	    T_(test_sql_cursor_described_as_portal_is_adopted),
	    T_(test_simple_query_destroys_the_unnamed_statement_and_portal),
	    T_(test_error_skips_everything_until_sync),
	    T_(test_failed_parse_installs_nothing_and_unnamed_one_still_drops_the_old),
	    T_(test_closing_a_statement_forgets_its_description_and_text),
	    T_(test_lookup_sees_pending_parse_and_close_in_wire_order),
	    T_(test_lookup_is_unsettled_behind_an_unanswered_sync),
	    T_(test_names_are_keyed_on_their_first_63_bytes_like_the_server),
	    T_(test_limits_return_an_error_instead_of_growing),
	    T_(test_long_pipeline_grows_then_trims),
	    T_(test_sql_prepare_is_learned_when_the_target_confirms_it),
	    T_(test_a_prepare_the_target_refuses_is_never_installed),
	    T_(test_rollback_undoes_neither_prepare_nor_deallocate),
	    T_(test_effects_of_a_string_apply_in_order_until_its_error),
	    T_(test_deallocate_all_and_discard_all_forget_protocol_statements_too),
	    T_(test_a_prepare_run_through_a_portal_applies_at_its_execute),
	    T_(test_rejudge_judges_every_stale_version_once_per_generation),
	    T_(test_prepared_statements_are_bounded_with_the_named_ones),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
