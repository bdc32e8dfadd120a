/*
 * Differential tests for sqlclass's fast path (a walk over PostgreSQL's raw parse tree,
 * engine/policy/sqlclass_raw.c) against the JSON walker it must agree with. Every string of
 * every corpus runs through both (RG_SQLCLASS_FORCE_JSON forces the old path), with and
 * without fingerprints, and in validate-only mode; facts must be identical, order of tables
 * and functions included. Corpora: the tricky cases below, every string literal of
 * test_sqlclass.c, every inline test of rules/ (all *.yaml), and the sqlclass fuzz seeds.
 * The fast path must actually answer the DML cases, or the comparison would prove nothing.
 * The validate-only shape cache (RG_SQLCLASS_SHAPE_CACHE) is held to the same standard:
 * every corpus string, and variants of it with each integer constant replaced by other
 * values (taken at the positions PostgreSQL's scanner reports), must get from a warm cache
 * exactly the answer a parse gives.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "sqlclass.h"
#include "sqlclass_raw.h"

static struct rg_sqlclass *fast_c, *json_c, *shape_c;
static unsigned n_compared, n_fast, n_shape, n_shape_hits, n_lit_hits;

/* expect: 1 the fast path must answer, 0 it must decline, -1 either */
struct tricky {
	const char *sql;
	int expect;
};

static const struct tricky tricky[] = {
	{ "select 1", 1 },
	{ "", 1 },
	{ ";;", 1 },
	{ "select * from a.b.c", 1 },
	{ "with recursive r as (with d as (delete from t returning *) select * from d) "
	  "select * from r",
	  1 },
	{ "with a as (with b as (delete from s.t where x returning id) "
	  "update u set y = b.id from b returning *), c as (insert into v select * from a "
	  "returning *) select * from c",
	  1 },
	{ "update t set a = u.a, (b, c) = (select 1, f(2)) from u join w on u.id = w.id "
	  "where t.id = u.id returning t.*, g(t.a)",
	  1 },
	{ "update only t set a = default where current of cur", 1 },
	{ "update t * set a = 1; delete from only (s.t)", 1 },
	{ "delete from only s.t as x using u, lateral (select * from v where v.a = u.a) l "
	  "where x.id = l.id returning x.id",
	  1 },
	{ "merge into s.t as tt using (select * from u where u.z) as src on tt.id = src.id "
	  "when matched and src.d then delete when matched then update set a = src.a, b = f(1) "
	  "when not matched and src.i then insert (id, a) overriding system value values "
	  "(src.id, g(src.a)) when not matched then do nothing",
	  1 },
	{ "merge into t using u on true when not matched then insert default values", 1 },
	{ "insert into t (a, b[1], c.d) select x, y, z from u where u.q in (select 1)", 1 },
	{ "insert into t values (1), (2) union values (3)", 1 },
	{ "insert into t values (1) order by 1 limit 1", 1 },
	{ "insert into t values ((select 1 from v))", 1 },
	{ "insert into t select * from (values (1)) v(a)", 1 },
	{ "insert into t as x values (1) on conflict (a collate \"C\" text_pattern_ops, "
	  "(lower(b))) where c do update set a = excluded.a, b = h(x.b) where x.c "
	  "returning *",
	  1 },
	{ "insert into t values (1) on conflict on constraint t_pkey do nothing", 1 },
	{ "insert into t default values returning id", 1 },
	{ "with x as (insert into t values (1) on conflict do nothing returning *) table x",
	  1 },
	{ "select * from f(1) as (a int, b text), rows from (g(1), h(2) as (c int)) "
	  "with ordinality, lateral k(t.a) z",
	  1 },
	{ "select * from t, lateral generate_series(1, t.n) g, lateral (select t.a) s", 1 },
	{ "select * from \"Weird\".\"Ta\"\"ble\", U&\"d\\0061t\\+000061\"", 1 },
	{ "select U&\"f\\0075nc\"(1), \"Upper\".\"Fn\"(2), pg_catalog.\"LOWER\"(x)", 1 },
	{ "select a.b, a.b.c, a.*, (a).b, (a).*, (a.b).c, (f(x)).y[1].z, x[1:2] from a", 1 },
	{ "select row(1,2), array[1,2], array(select 1), (select 1), exists(select 1), "
	  "1 = any(select 1), 2 in (1, 2), 3 between 1 and f(4)",
	  1 },
	{ "select case when a then b when c then d else f(e) end, case x when 1 then 2 end",
	  1 },
	{ "select coalesce(a, b), nullif(a, b), greatest(a, f(b)), least(1, 2)", 1 },
	{ "select a is null, b is not true, c is distinct from d, e is document, "
	  "f like 'x' escape '!', g similar to 'y', h collate \"C\", i at time zone 'utc'",
	  1 },
	{ "select extract(year from now()), substring('x' from 1 for 2), trim(both 'x' from y), "
	  "position('a' in b), overlay(a placing b from 1), treat(a as int), "
	  "normalize(a), a is normalized, collation for (b)",
	  1 },
	{ "select current_date, current_user, localtimestamp(3), session_user, "
	  "current_catalog, user",
	  1 },
	{ "select xmlelement(name x, xmlattributes(a as b), f(c)), xmlforest(a, g(b)), "
	  "xmlserialize(content h(x) as text), xmlparse(document y), xmlpi(name p, z), "
	  "xmlroot(q, version '1.0'), xmlconcat(a, b), xmlexists('/a' passing by ref d)",
	  1 },
	{ "select * from xmltable(xmlnamespaces('http://x' as x), '/r' passing f(d) "
	  "columns a int path g('a') default h(1) not null, o for ordinality, "
	  "n numeric(k(1)) path 'n')",
	  1 },
	{ "select 1::numeric(f(1)), cast(x as s.vc(g(2))[]), y::int[3], '1'::s.ty", 1 },
	{ "select count(*) filter (where a) over w, sum(x order by y) over (partition by z "
	  "order by q rows between f(1) preceding and current row), percentile_cont(0.5) "
	  "within group (order by v), string_agg(distinct a, ',' order by a), "
	  "f(variadic array[1]), g(a => 1, b := h(2)) from t window w as (order by k(1))",
	  1 },
	{ "select a, grouping(a, b) from t group by grouping sets ((a), rollup(b, f(c)), "
	  "cube(d), ()) having g(1) order by a using <, b desc nulls first",
	  1 },
	{ "select distinct on (a, f(b)) a from t limit g(1) offset h(2)", 1 },
	{ "select * from t order by a fetch first 3 rows with ties", 1 },
	{ "select * from t for update of t, s.u skip locked for no key update nowait "
	  "for key share",
	  1 },
	{ "select * from t tablesample system (f(10)) repeatable (g(1))", 1 },
	{ "select * from t1 natural join t2 full join t3 using (a) as j cross join t4 "
	  "join (t5 left join t6 on f(t5.a)) on true",
	  1 },
	{ "select * into temp table newt from t where f(1)", 1 },
	{ "select a into unlogged s.x from t union select 1", 1 },
	{ "with recursive r as (select 1 as n union all select n + 1 from r) "
	  "search depth first by n set ord cycle n set is_cycle to f(1) 'x' default "
	  "g(2) 'y' using path select * from r",
	  1 },
	{ "with r as materialized (select 1), s as not materialized (select 2) "
	  "select * from r, s",
	  1 },
	{ "select $1, $2::int, f($3)", 1 },
	{ "values (1, f(2)), (3, (select 4))", 1 },
	{ "table s.t", 1 },
	{ "select (select (select (select f(1))))", 1 },
	{ "select * from t where a = 1 and b = 2 or not c and d <> all (array[1])", 1 },
	{ "select 'a' || b || c, - x, + y, ! z, @ w, a ->> 'k', a #> '{x}', a::jsonb ? 'k'",
	  1 },
	{ "select a operator(pg_catalog.+) b, operator(s.-) c", 1 },
	{ "select b'101', x'ff', e'\\x41', n'x', 1.5e3, true, null, interval '1' hour", 1 },
	{ "select * from t where a in (select b from u where exists (select 1 from v "
	  "where v.c = u.c and v.d = any(select d from w)))",
	  1 },
	{ "select * from \"a\tb\".\"c\x01d\", \"\xc3\x28\xff\" where \"f\x7fn\".\"g\\h\"(1)", 1 },
	{ "select t.*, (t).*, array[[1, 2], [f(3)]], (a, b) in (select 1, 2), "
	  "a = any ('{1}'), x between symmetric 1 and g(2) from t, u natural left join v "
	  "group by distinct a, cube(b) order by a using ~<~",
	  1 },
	{ "select * from t join lateral (values (1), (f(2))) v(a) on true for update of s.t", 1 },
	{ "insert into t overriding user value select * from (values (1)) v", 1 },
	{ "delete from t where a in (with x as (delete from u returning 1) select * from x)",
	  1 },
	{ "select * from generate_series(1, 3) with ordinality as g(a, n), "
	  "current_schema, current_role, pg_catalog.now()",
	  1 },
	{ "select 1 from t window w as (partition by f(y)), w2 as (w order by z)", 1 },
	{ "select a->'b', a->>'c', '1'::pg_catalog.int4, interval '1 day' second(3), "
	  "u&'\\0041' uescape '!', $1::regclass",
	  1 },
	{ "with w as (update t set a = 1 where false returning *), "
	  "x as (merge into m using w on true when matched then delete) select 1",
	  -1 },
	{ "begin; select 1; end; savepoint \"x\"; set session role none; show \"x.y\"", 1 },
	/* transaction control, SET, SHOW */
	{ "begin; update t set a = 1; commit", 1 },
	{ "begin isolation level serializable read only deferrable", 1 },
	{ "start transaction; savepoint s; rollback to savepoint s; release s; "
	  "commit and chain; abort",
	  1 },
	{ "prepare transaction 'x'", 1 },
	{ "commit prepared 'x'", 1 },
	{ "set search_path = a, b", 1 },
	{ "set local work_mem to '1MB'; reset work_mem; reset all", 1 },
	{ "set time zone interval '1' hour to minute", 1 },
	{ "set time zone 'utc'; set role r; set session authorization default; "
	  "reset role",
	  1 },
	{ "set transaction isolation level repeatable read, read write", 1 },
	{ "set session characteristics as transaction read only", 1 },
	{ "set transaction snapshot '0001'", 1 },
	{ "show all; show work_mem; show time zone", 1 },
	{ "set x.y = default", 1 },
	/* declined: DDL and utility statements, alone or mixed with DML */
	{ "select 1; drop table t", 0 },
	{ "update t set a = 1; create table x (a int)", 0 },
	{ "delete from t; truncate u", 0 },
	{ "explain analyze delete from t", 0 },
	{ "prepare p as delete from t", 0 },
	{ "copy (delete from t returning *) to stdout", 0 },
	{ "create table t as select 1", 0 },
	{ "set constraints all deferred", 0 },
	{ "declare c cursor for select 1", 0 },
	{ "select 1; do $$ begin end $$", 0 },
	{ "create rule r as on delete to t do also delete from u", 0 },
	{ "insert into t values (1); grant select on t to r", 0 },
	{ "alter role r set search_path = s", 0 },
	/* unparseable: both paths reject */
	{ "selec 1", -1 },
	{ "select 1; drop", -1 },
	{ "update t set", -1 },
	{ "select * from U&\"\\0000\"", -1 },
	{ "select \"\"", -1 },
	{ "select 'unterminated", -1 },
};

static bool str_same(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

static void fail_diff(const char *sql, size_t len, unsigned flags, const char *what)
{
	fail_msg("fast path and JSON walker differ (%s), flags %#x, sql [%.*s]", what, flags,
		 (int)(len > 400 ? 400 : len), sql);
}

/* Runs sql through both paths with flags; returns whether the fast path answered. */
static bool compare(const char *sql, size_t len, unsigned flags)
{
	struct rg_sql_facts a, b;

	assert_int_equal(rg_sqlclass_run(fast_c, sql, len, flags, &a), 0);
	bool fast = rg_sqlclass_last_was_fast(fast_c);
	assert_int_equal(rg_sqlclass_run(json_c, sql, len, flags | RG_SQLCLASS_FORCE_JSON, &b),
			 0);
	assert_false(rg_sqlclass_last_was_fast(json_c));
	n_compared++;

	if (a.status != b.status)
		fail_diff(sql, len, flags, "status");
	if (a.nstmts != b.nstmts)
		fail_diff(sql, len, flags, "nstmts");
	if (a.ops != b.ops)
		fail_diff(sql, len, flags, "ops");
	if (a.ops_without_where != b.ops_without_where)
		fail_diff(sql, len, flags, "ops_without_where");
	if (a.ntables != b.ntables)
		fail_diff(sql, len, flags, "ntables");
	for (size_t i = 0; i < a.ntables; i++)
		if (!str_same(a.tables[i].schema, b.tables[i].schema) ||
		    !str_same(a.tables[i].name, b.tables[i].name) ||
		    a.tables[i].access != b.tables[i].access)
			fail_diff(sql, len, flags, "tables");
	if (a.nfunctions != b.nfunctions)
		fail_diff(sql, len, flags, "nfunctions");
	for (size_t i = 0; i < a.nfunctions; i++)
		if (!str_same(a.functions[i].schema, b.functions[i].schema) ||
		    !str_same(a.functions[i].name, b.functions[i].name) ||
		    a.functions[i].access != b.functions[i].access)
			fail_diff(sql, len, flags, "functions");
	if (a.nfingerprints != b.nfingerprints ||
	    (a.nfingerprints &&
	     memcmp(a.fingerprints, b.fingerprints, a.nfingerprints * sizeof(uint64_t)) != 0))
		fail_diff(sql, len, flags, "fingerprints");
	if (a.normalized_len != b.normalized_len ||
	    (a.normalized_len && memcmp(a.normalized, b.normalized, a.normalized_len) != 0))
		fail_diff(sql, len, flags, "normalized");
	if (fast)
		n_fast++;
	return fast;
}

/* Validate-only through the shape cache (kept warm across every call) against a parse. */
static void compare_shape_one(const char *sql, size_t len)
{
	struct rg_sql_facts a, b;
	const unsigned v = RG_SQLCLASS_VALIDATE_ONLY;

	assert_int_equal(rg_sqlclass_run(shape_c, sql, len, v | RG_SQLCLASS_SHAPE_CACHE, &a), 0);
	bool hit = rg_sqlclass_last_was_shape_hit(shape_c);
	bool lit = rg_sqlclass_last_was_literal_hit(shape_c);
	assert_int_equal(rg_sqlclass_run(json_c, sql, len, v | RG_SQLCLASS_FORCE_JSON, &b), 0);
	n_shape++;
	n_shape_hits += hit;
	n_lit_hits += lit;
	assert_true(!lit || hit);
	if (a.status != b.status || a.nstmts != b.nstmts)
		fail_msg("shape cache (%s) and parse differ: status %d/%d nstmts %u/%u [%.*s]",
			 hit ? "hit" : "miss", a.status, b.status, a.nstmts, b.nstmts,
			 (int)(len > 400 ? 400 : len), sql);
}

/* sql, then sql with each integer constant in turn replaced by other values: a value the
 * grammar checks (FLOAT(p), ALTER COLUMN n) must never be answered for by another's. */
static void compare_shape(const char *sql, size_t len)
{
	static const char *const alt[] = {"0", "1", "7", "53", "54", "32768", "2147483648",
					  "99999999999999999999"};
	static char buf[4096], var[4200];
	uint8_t shape[512];
	int32_t locs[64];
	size_t slen, nlocs;

	compare_shape_one(sql, len);
	if (len >= sizeof(buf) || memchr(sql, '\0', len))
		return;
	memcpy(buf, sql, len);
	buf[len] = '\0';
	if (rg_sqlraw_shape(buf, shape, sizeof(shape), &slen, locs, 64, &nlocs, NULL) != RG_SQLRAW_OK)
		return;
	for (size_t k = 0; k < nlocs; k++) {
		size_t s = (size_t)locs[k], e = s;
		while (e < len && buf[e] >= '0' && buf[e] <= '9')
			e++;
		if (e == s || (e < len && (buf[e] == '.' || buf[e] == 'e' || buf[e] == 'E')))
			continue; /* not an integer constant */
		for (size_t a = 0; a < sizeof(alt) / sizeof(alt[0]); a++) {
			int n = snprintf(var, sizeof(var), "%.*s%s%s", (int)s, buf, alt[a], buf + e);
			compare_shape_one(var, (size_t)n);
		}
	}
}

/* All three modes; returns whether the fast path answered the plain run. */
static bool compare_all(const char *sql, size_t len)
{
	compare_shape(sql, len);
	bool fast = compare(sql, len, 0);
	/* the fingerprints come from the statement positions each path found */
	assert_true(compare(sql, len, RG_SQLCLASS_FINGERPRINT) == fast);
	compare(sql, len, RG_SQLCLASS_VALIDATE_ONLY);
	return fast;
}

/* The JSON facts say the string holds only statements the fast path covers. */
static bool dml_only(const char *sql, size_t len)
{
	const uint64_t dml = RG_OP_BIT(RG_OP_SELECT) | RG_OP_BIT(RG_OP_INSERT) |
			     RG_OP_BIT(RG_OP_UPDATE) | RG_OP_BIT(RG_OP_DELETE) |
			     RG_OP_BIT(RG_OP_MERGE) | RG_OP_BIT(RG_OP_TRANSACTION) |
			     RG_OP_BIT(RG_OP_SHOW);
	struct rg_sql_facts f;
	assert_int_equal(rg_sqlclass_run(json_c, sql, len, RG_SQLCLASS_FORCE_JSON, &f), 0);
	return f.status == RG_SQL_OK && f.nstmts > 0 && (f.ops & ~dml) == 0;
}

static void check_corpus_string(const char *sql, size_t len)
{
	bool fast = compare_all(sql, len);
	/* deep trees are declined on purpose (RAW_MAX_DEPTH); corpus strings are small */
	if (len < 2000 && dml_only(sql, len) && !fast)
		fail_msg("fast path declined a DML-only string: [%.*s]", (int)len, sql);
}

static int setup(void **state)
{
	(void)state;
	fast_c = rg_sqlclass_new();
	json_c = rg_sqlclass_new();
	shape_c = rg_sqlclass_new();
	return fast_c && json_c && shape_c ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	rg_sqlclass_free(fast_c);
	rg_sqlclass_free(json_c);
	rg_sqlclass_free(shape_c);
	return 0;
}

static void test_fast_path_passed_its_canary(void **state)
{
	(void)state;
	assert_true(rg_sqlclass_fast_enabled());
}

static void test_tricky_cases_agree_and_dml_takes_fast_path(void **state)
{
	(void)state;
	unsigned wrong = 0;
	for (size_t i = 0; i < sizeof(tricky) / sizeof(tricky[0]); i++) {
		const char *sql = tricky[i].sql;
		bool fast = compare_all(sql, strlen(sql));
		if (tricky[i].expect >= 0 && fast != (tricky[i].expect == 1)) {
			print_error("expected the %s path for [%s]\n",
				    tricky[i].expect ? "fast" : "JSON", sql);
			wrong++;
		}
	}
	assert_int_equal(wrong, 0);
}

/* Values the grammar itself checks, next to values it only stores; pgbench -S's text. */
static void test_shape_cache_answers_only_for_plain_values(void **state)
{
	static const char *const pairs[][2] = {
	    /* the first parses, the second does not; the first must not answer for it */
	    {"ALTER INDEX i ALTER COLUMN 1 SET STATISTICS 100",
	     "ALTER INDEX i ALTER COLUMN 0 SET STATISTICS 100"},
	    {"SELECT 1::float(53)", "SELECT 1::float(54)"},
	    {"SELECT CAST(x AS float(10)) FROM t", "SELECT CAST(x AS float(0)) FROM t"},
	    {"CREATE TABLE t (a float(24), b int)", "CREATE TABLE t (a float(99), b int)"},
	};
	struct rg_sql_facts f;
	const unsigned v = RG_SQLCLASS_VALIDATE_ONLY | RG_SQLCLASS_SHAPE_CACHE;
	struct rg_sqlclass *c = rg_sqlclass_new();

	(void)state;
	assert_non_null(c);
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		for (int rep = 0; rep < 2; rep++) {
			assert_int_equal(rg_sqlclass_run(c, pairs[i][0], strlen(pairs[i][0]), v, &f),
					 0);
			assert_int_equal(f.status, RG_SQL_OK);
		}
		assert_int_equal(rg_sqlclass_run(c, pairs[i][1], strlen(pairs[i][1]), v, &f), 0);
		assert_int_equal(f.status, RG_SQL_UNPARSEABLE);
		assert_false(rg_sqlclass_last_was_shape_hit(c));
	}
	/* pgbench -S: a new literal each time, one shape */
	static const char *const bench[] = {
	    "SELECT abalance FROM pgbench_accounts WHERE aid = 48213;",
	    "SELECT abalance FROM pgbench_accounts WHERE aid = 7;",
	    "select abalance from PGBENCH_ACCOUNTS where aid=99999 ; ",
	    "SELECT abalance FROM pgbench_accounts WHERE aid = 1; SELECT 2",
	    "SELECT abalance FROM pgbench_accounts WHERE aid = 5; SELECT 3",
	};
	bool hit[5];
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(rg_sqlclass_run(c, bench[i], strlen(bench[i]), v, &f), 0);
		assert_int_equal(f.status, RG_SQL_OK);
		assert_int_equal(f.nstmts, i < 3 ? 1 : 2);
		hit[i] = rg_sqlclass_last_was_shape_hit(c);
	}
	assert_false(hit[0]);
	assert_true(hit[1] && hit[2] && hit[4]);
	assert_false(hit[3]);
	/* bench[1] and bench[4] differ from the string before them only in integer constants:
	 * answered by the literal key, without the scanner */
	assert_int_equal(rg_sqlclass_run(c, bench[0], strlen(bench[0]), v, &f), 0);
	assert_true(rg_sqlclass_last_was_literal_hit(c));
	assert_int_equal(rg_sqlclass_run(c, bench[2], strlen(bench[2]), v, &f), 0);
	assert_true(rg_sqlclass_last_was_literal_hit(c));
	/* digits that are not an integer constant of their own are never cut out of a key that
	 * answers: in a string, a comment, a quoted name, glued to a name, a '.', an exponent,
	 * a parameter, or too long for an int4 */
	static const char *const notint[][2] = {
	    {"SELECT ' 5 ' FROM t", "SELECT ' 6 ' FROM t"},
	    {"SELECT 1 -- 5\n", "SELECT 1 -- 6\n"},
	    {"SELECT a /* 5 */ FROM t", "SELECT a /* 6 */ FROM t"},
	    {"SELECT \" 5 \" FROM t", "SELECT \" 6 \" FROM t"},
	    {"SELECT a FROM t5", "SELECT a FROM t6"},
	    {"SELECT 1.5", "SELECT 1.6"},
	    {"SELECT 1e5", "SELECT 1e6"},
	    {"SELECT $5", "SELECT $6"},
	    {"SELECT 1234567890", "SELECT 1234567891"},
	    {"SELECT $$ 5 $$", "SELECT $$ 6 $$"},
	};
	for (size_t i = 0; i < sizeof(notint) / sizeof(notint[0]); i++) {
		struct rg_sql_facts g;
		for (int rep = 0; rep < 2; rep++)
			assert_int_equal(
			    rg_sqlclass_run(c, notint[i][0], strlen(notint[i][0]), v, &f), 0);
		assert_int_equal(rg_sqlclass_run(c, notint[i][1], strlen(notint[i][1]), v, &f), 0);
		assert_false(rg_sqlclass_last_was_literal_hit(c));
		assert_int_equal(rg_sqlclass_run(c, notint[i][1], strlen(notint[i][1]),
						 RG_SQLCLASS_VALIDATE_ONLY, &g), 0);
		assert_int_equal(f.status, g.status);
	}
	/* a constant the grammar checks is never answered for by its literal key either */
	for (int rep = 0; rep < 2; rep++)
		assert_int_equal(rg_sqlclass_run(c, "SELECT 1::float(53)", 19, v, &f), 0);
	assert_int_equal(rg_sqlclass_run(c, "SELECT 1::float(54)", 19, v, &f), 0);
	assert_int_equal(f.status, RG_SQL_UNPARSEABLE);
	assert_false(rg_sqlclass_last_was_literal_hit(c));
	/* strings that fail are never cached; U& escapes are never shaped */
	for (int rep = 0; rep < 2; rep++) {
		static const char bad[] = "SELECT FROM WHERE 1", u[] = "SELECT U&'\\0061'";
		assert_int_equal(rg_sqlclass_run(c, bad, strlen(bad), v, &f), 0);
		assert_int_equal(f.status, RG_SQL_UNPARSEABLE);
		assert_int_equal(rg_sqlclass_run(c, u, strlen(u), v, &f), 0);
		assert_int_equal(f.status, RG_SQL_OK);
		assert_false(rg_sqlclass_last_was_shape_hit(c));
	}
	/* without the flag the cache is not consulted */
	assert_int_equal(rg_sqlclass_run(c, bench[1], strlen(bench[1]), RG_SQLCLASS_VALIDATE_ONLY,
					 &f), 0);
	assert_false(rg_sqlclass_last_was_shape_hit(c));
	rg_sqlclass_free(c);
}

static void test_names_survive_until_next_call(void **state)
{
	(void)state;
	struct rg_sql_facts f;
	const char *sql = "select s.f(1) from \"A\".\"B\"";
	assert_int_equal(rg_sqlclass_run(fast_c, sql, strlen(sql), 0, &f), 0);
	assert_true(rg_sqlclass_last_was_fast(fast_c));
	/* other contexts' parses in between must not disturb this one's names */
	struct rg_sql_facts g;
	assert_int_equal(rg_sqlclass_run(json_c, "select 2 from x", 15, 0, &g), 0);
	assert_int_equal(f.ntables, 1);
	assert_string_equal(f.tables[0].schema, "A");
	assert_string_equal(f.tables[0].name, "B");
	assert_int_equal(f.tables[0].access, RG_ACCESS_READ);
	assert_int_equal(f.nfunctions, 1);
	assert_string_equal(f.functions[0].schema, "s");
	assert_string_equal(f.functions[0].name, "f");
}

static void test_deep_expressions_agree(void **state)
{
	(void)state;
	/* around the fast path's depth bound, and far past it */
	static const unsigned terms[] = { 10, 500, 1990, 2010, 5000, 20000 };
	for (size_t k = 0; k < sizeof(terms) / sizeof(terms[0]); k++) {
		size_t n = terms[k];
		char *s = malloc(32 + n * 6);
		assert_non_null(s);
		size_t len = (size_t)sprintf(s, "update t set a = 1");
		for (size_t i = 0; i < n; i++)
			len += (size_t)sprintf(s + len, "+f(1)");
		bool fast = compare_all(s, len);
		if (n <= 500)
			assert_true(fast);
		if (n >= 2010)
			assert_false(fast);
		/* nested parentheses recurse in the parser too */
		len = (size_t)sprintf(s, "select ");
		for (size_t i = 0; i < n && i < 1000; i++)
			s[len++] = '(';
		s[len++] = '1';
		for (size_t i = 0; i < n && i < 1000; i++)
			s[len++] = ')';
		compare_all(s, len);
		free(s);
	}
}

static void test_big_flat_dml_takes_fast_path_on_helper_stack(void **state)
{
	(void)state;
	/* past DIRECT_MAX (32 KiB): parsed on the helper thread, still shallow */
	size_t n = 12000;
	char *s = malloc(64 + n * 24);
	assert_non_null(s);
	size_t len = (size_t)sprintf(s, "select 1");
	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(s + len, ", s.f%zu(x.y)", i % 100);
	len += (size_t)sprintf(s + len, " from t where a in (1");
	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(s + len, ", %zu", i);
	len += (size_t)sprintf(s + len, ")");
	assert_true(len > (32u << 10));
	assert_true(compare_all(s, len));
	free(s);
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	char *b = malloc(cap);
	for (;;) {
		if (n == cap) {
			cap *= 2;
			b = realloc(b, cap);
		}
		assert_non_null(b);
		size_t r = fread(b + n, 1, cap - n, f);
		if (r == 0)
			break;
		n += r;
	}
	fclose(f);
	*len = n;
	return b;
}

static const char *src_dir(void)
{
	const char *s = getenv("RG_SRC");
	if (!s)
		fail_msg("RG_SRC is not set (ctest sets it to the source tree)");
	return s;
}

/* Every C string literal of test_sqlclass.c, adjacent literals joined. */
static void test_test_sqlclass_strings_agree(void **state)
{
	(void)state;
	char path[4096];
	size_t n, count = 0;
	snprintf(path, sizeof(path), "%s/tests/unit/policy/test_sqlclass.c", src_dir());
	char *t = read_file(path, &n);
	assert_non_null(t);
	char *out = malloc(n + 1);
	assert_non_null(out);
	size_t i = 0;
	while (i < n) {
		if (t[i] == '/' && i + 1 < n && t[i + 1] == '*') {
			char *e = strstr(t + i + 2, "*/");
			i = e ? (size_t)(e - t) + 2 : n;
			continue;
		}
		if (t[i] == '/' && i + 1 < n && t[i + 1] == '/') {
			while (i < n && t[i] != '\n')
				i++;
			continue;
		}
		if (t[i] == '\'') { /* character constant, e.g. '"' */
			i++;
			while (i < n && t[i] != '\'')
				i += t[i] == '\\' ? 2 : 1;
			i++;
			continue;
		}
		if (t[i] != '"') {
			i++;
			continue;
		}
		size_t len = 0;
		for (;;) { /* one literal, then maybe an adjacent one */
			i++;
			while (i < n && t[i] != '"') {
				char ch = t[i++];
				if (ch == '\\' && i < n) {
					ch = t[i++];
					switch (ch) {
					case 'n': ch = '\n'; break;
					case 't': ch = '\t'; break;
					case 'r': ch = '\r'; break;
					case '0': ch = '\0'; break;
					default: break; /* \\ \" \' */
					}
				}
				out[len++] = ch;
			}
			i++;
			size_t j = i;
			while (j < n && (t[j] == ' ' || t[j] == '\t' || t[j] == '\n'))
				j++;
			if (j < n && t[j] == '"') {
				i = j;
				continue;
			}
			break;
		}
		check_corpus_string(out, len);
		count++;
	}
	assert_true(count > 200);
	free(out);
	free(t);
}

/* Decodes a YAML double- or single-quoted scalar starting at p (at the quote). */
static size_t yaml_quoted(const char *p, char *out)
{
	size_t len = 0;
	char q = *p++;
	for (; *p && *p != '\n'; p++) {
		if (q == '\'' && *p == '\'') {
			if (p[1] == '\'') {
				out[len++] = '\'';
				p++;
				continue;
			}
			return len;
		}
		if (q == '"' && *p == '"')
			return len;
		if (q == '"' && *p == '\\') {
			p++;
			switch (*p) {
			case 'n': out[len++] = '\n'; break;
			case 't': out[len++] = '\t'; break;
			case 'r': out[len++] = '\r'; break;
			case '0': out[len++] = '\0'; break;
			case '\\': case '"': case '/': case '\'': out[len++] = *p; break;
			default: fail_msg("unhandled YAML escape \\%c", *p);
			}
			continue;
		}
		out[len++] = *p;
	}
	fail_msg("multi-line YAML scalar not handled: %.60s", p);
	return 0;
}

static unsigned yaml_file(const char *path)
{
	size_t n;
	unsigned count = 0;
	char *t = read_file(path, &n);
	assert_non_null(t);
	t = realloc(t, n + 1);
	t[n] = '\0';
	char *out = malloc(n + 1);
	for (char *line = t; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1
								      : NULL) {
		char *p = line;
		while (*p == ' ')
			p++;
		if (p[0] == '-' && p[1] == ' ')
			p += 2;
		while (*p == ' ')
			p++;
		if (strncmp(p, "sql:", 4) != 0)
			continue;
		p += 4;
		while (*p == ' ')
			p++;
		if (*p == '\n' || *p == '\0' || *p == '#')
			continue; /* the rule's sql: predicate mapping */
		size_t len;
		if (*p == '"' || *p == '\'') {
			len = yaml_quoted(p, out);
		} else {
			char *e = strchr(p, '\n');
			len = e ? (size_t)(e - p) : strlen(p);
			memcpy(out, p, len);
		}
		check_corpus_string(out, len);
		count++;
	}
	free(out);
	free(t);
	return count;
}

/* Calls fn on every entry of dir not starting with '.' whose name ends in suffix (NULL: any),
 * as dir/name; returns the sum of what fn returned. A missing dir is a failure if required. */
static unsigned each_file(const char *dir, const char *suffix, bool required,
			  unsigned (*fn)(const char *path))
{
	char path[4096];
	unsigned count = 0;
	size_t sl = suffix ? strlen(suffix) : 0;
	DIR *d = opendir(dir);
	if (!d) {
		assert_false(required);
		return 0;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (e->d_name[0] == '.' || l < sl || (sl && strcmp(e->d_name + l - sl, suffix) != 0))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		count += fn(path);
	}
	closedir(d);
	return count;
}

static unsigned rule_pack(const char *path)
{
	return each_file(path, ".yaml", false, yaml_file); /* a plain file is no pack */
}

static void test_rule_inline_tests_agree(void **state)
{
	(void)state;
	char dir[1024];
	snprintf(dir, sizeof(dir), "%s/rules", src_dir());
	assert_true(each_file(dir, NULL, true, rule_pack) > 200);
}

static unsigned fuzz_seed(const char *path)
{
	size_t n;
	char *b = read_file(path, &n);
	assert_non_null(b);
	/* as in fuzz_sqlclass.c: a first byte below 8 picks flags */
	const char *s = b;
	if (n > 0 && (unsigned char)s[0] < 8) {
		s++;
		n--;
	}
	compare_all(s, n);
	free(b);
	return 1;
}

static void test_fuzz_seeds_agree(void **state)
{
	(void)state;
	char dir[1024];
	snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/sqlclass", src_dir());
	assert_true(each_file(dir, NULL, true, fuzz_seed) > 0);
}

static void test_summary(void **state)
{
	(void)state;
	print_message("compared %u runs; %u answered by the fast path\n", n_compared, n_fast);
	print_message("shape cache: %u validate-only runs compared, %u answered from the cache\n",
		      n_shape, n_shape_hits);
	assert_true(n_fast > n_compared / 4);
	assert_true(n_shape_hits > n_shape / 10);
	fprintf(stderr, "literal keys: %u of those answered without the scanner\n", n_lit_hits);
	assert_true(n_lit_hits > n_shape / 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fast_path_passed_its_canary),
		cmocka_unit_test(test_tricky_cases_agree_and_dml_takes_fast_path),
		cmocka_unit_test(test_shape_cache_answers_only_for_plain_values),
		cmocka_unit_test(test_names_survive_until_next_call),
		cmocka_unit_test(test_deep_expressions_agree),
		cmocka_unit_test(test_big_flat_dml_takes_fast_path_on_helper_stack),
		cmocka_unit_test(test_test_sqlclass_strings_agree),
		cmocka_unit_test(test_rule_inline_tests_agree),
		cmocka_unit_test(test_fuzz_seeds_agree),
		cmocka_unit_test(test_summary),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
