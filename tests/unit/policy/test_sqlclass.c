/*
 * Unit tests for sqlclass: behaviour of the classifier on the statements rules care about,
 * and soundness of the prefilter keyword table (names.c) against the classifier over a
 * corpus: for every operation the parser reports, one of its keywords must occur in the
 * text, or a Hyperscan prefilter built from the table would let that statement through.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "sqlclass.h"

static const char *const corpus[] = {
	/* plain DML, case, comments, quoting */
	"SELECT 1",
	"select * from t where id = 1",
	"SeLeCt a, b FrOm s.t WHERE a > 2 ORDER BY b LIMIT 10",
	"/* comment */ select 1 -- trailing",
	"select 'drop table x' as txt",
	"select $$delete from t$$",
	"select \"select\" from \"Weird Table\"",
	"select * from U&\"d\\0061ta\"",
	"select * from U&\"\\0064rop\"",
	"select * from U&\"!0061bc\" UESCAPE '!'",
	"TABLE t",
	"VALUES (1, 2), (3, 4)",
	"select * from t1 join t2 using (id) left join s.t3 on true",
	"select * from (select * from t) sub",
	"select * from t where id in (select id from u)",
	"select exists (select 1 from t)",
	"select * from t union all select * from u except select * from v",
	"select * from t for update",
	"select * from t for share nowait",
	"select count(*), max(a) from t group by b having count(*) > 1",
	"select row_number() over (partition by a) from t",
	"select * from generate_series(1, 10) g",
	"select * from pg_catalog.pg_tables",
	"select current_user, session_user",
	"select t.a::text, cast(b as int) from t",
	"select case when a then 1 else 2 end from t",
	"select (array[1,2])[1], (row(1,2)).f1 from t",
	"select * from t tablesample bernoulli (10)",
	"select * from lateral_t, lateral (select * from u where u.a = lateral_t.a) x",
	"select * from xmltable('/a' passing '<a/>' columns x int path 'x')",
	"insert into t values (1)",
	"INSERT INTO s.t (a, b) VALUES (1, 'x'), (2, 'y')",
	"insert into t default values",
	"insert into t select * from u",
	"insert into t values (1) returning id",
	"insert into t values (1) on conflict do nothing",
	"insert into t values (1) on conflict (id) do update set a = excluded.a",
	"update t set a = 1 where id = 2",
	"UPDATE t SET a = 1",
	"update t set a = u.a from u where t.id = u.id",
	"update t set a = 1 where current of c",
	"delete from t where id = 1",
	"DELETE FROM t",
	"delete from t using u where t.id = u.id",
	"delete from t where current of cur",
	"merge into t using u on t.id = u.id when matched then update set a = u.a",
	"merge into t using u on t.id = u.id when matched then delete "
	"when not matched then insert values (u.id)",
	"merge into t using u on t.id = u.id when not matched then do nothing",
	/* CTEs */
	"with x as (select 1) select * from x",
	"with x as (delete from t returning *) select * from x",
	"with x as (update t set a = 1 returning *) select * from x",
	"with x as (insert into t values (1) returning *) select * from x",
	"with recursive r(n) as (select 1 union all select n + 1 from r where n < 5) "
	"select * from r",
	"WITH d AS (DELETE FROM logs) DELETE FROM other",
	/* multi-statement */
	"select 1; select 2",
	"begin; update t set a = 1; commit",
	"select 1;; ;select 2;",
	"select 1; drop table t",
	"select 1; delete from t; truncate u",
	/* EXPLAIN, PREPARE, EXECUTE */
	"explain select 1",
	"EXPLAIN ANALYZE DELETE FROM t",
	"explain (analyze, buffers) update t set a = 1",
	"explain analyze insert into t values (1)",
	"explain analyze create table x as select 1",
	"prepare p as delete from t where id = $1",
	"prepare p (int) as select * from t where id = $1",
	"prepare q as update t set a = 1",
	"execute p(1)",
	"deallocate p",
	"deallocate all",
	/* DDL */
	"create table t (id int primary key, a text default 'x')",
	"CREATE TABLE IF NOT EXISTS s.t (a int references u(id))",
	"create table t2 (like t including all)",
	"create temp table tt (a int) on commit drop",
	"create table t as select * from u",
	"create table t as execute p",
	"select * into newt from t",
	"select a into temp x from t",
	"create materialized view mv as select * from t",
	"refresh materialized view mv",
	"create view v as select * from t",
	"create or replace view v as select 1",
	"create index i on t (a)",
	"create unique index concurrently i2 on s.t using btree (a)",
	"create sequence seq",
	"create schema s",
	"create schema s create table t (a int)",
	"create extension pgcrypto",
	"create type ty as (a int)",
	"create type e as enum ('a', 'b')",
	"create domain d as int check (value > 0)",
	"create trigger tr before insert on t for each row execute function trf()",
	"create policy p on t using (true)",
	"create foreign table ft (a int) server srv",
	"create aggregate ag (int) (sfunc = int4pl, stype = int)",
	"create database db",
	"drop table t",
	"DROP TABLE IF EXISTS s.t, u CASCADE",
	"drop view v",
	"drop index i",
	"drop schema s cascade",
	"drop function f(int)",
	"drop trigger tr on t",
	"drop database db",
	"drop owned by r",
	"alter table t add column b int",
	"ALTER TABLE s.t RENAME TO u",
	"alter table t rename column a to b",
	"alter table t owner to r",
	"alter table t set schema s",
	"alter index i rename to j",
	"alter sequence seq restart",
	"alter function f() owner to r",
	"alter database db set work_mem = '1MB'",
	"truncate t",
	"TRUNCATE TABLE t, s.u RESTART IDENTITY",
	"comment on table t is 'drop me'",
	"cluster t using i",
	"reindex table t",
	"vacuum t",
	"VACUUM FULL ANALYZE t",
	"analyze t",
	"lock table t in exclusive mode",
	"lock t",
	/* roles and privileges */
	"create role r login password 'x'",
	"CREATE USER u WITH SUPERUSER",
	"create group g",
	"alter role r superuser",
	"ALTER USER u WITH PASSWORD 'y'",
	"alter role r set search_path = s",
	"alter role r rename to r2",
	"alter group g add user u",
	"drop role r",
	"DROP USER IF EXISTS u",
	"drop group g",
	"grant select on t to r",
	"GRANT ALL PRIVILEGES ON ALL TABLES IN SCHEMA public TO r",
	"grant admin to bob",
	"grant execute on function f() to r",
	"revoke select on t from r",
	"REVOKE admin FROM bob",
	"alter default privileges in schema s grant select on tables to r",
	"alter default privileges revoke insert on tables from r",
	"alter system set work_mem = '1GB'",
	"ALTER SYSTEM RESET ALL",
	"create user mapping for r server srv",
	/* COPY */
	"copy t to stdout",
	"COPY t FROM STDIN",
	"copy t to '/tmp/t.csv' with (format csv)",
	"copy t from '/etc/passwd'",
	"copy t to program 'gzip > /tmp/x'",
	"COPY t FROM PROGRAM 'curl http://x'",
	"copy (select * from t) to stdout",
	"copy (delete from t returning *) to stdout",
	"copy s.t (a, b) from stdin with csv",
	/* functions, procedures, rules, DO */
	"create function f() returns int language sql as 'select 1'",
	"create or replace function f(a int) returns int language plpgsql as $$begin return a; end$$",
	"create procedure p() language sql as $$ delete from t $$",
	"create function f2() returns int language sql begin atomic select 1; end",
	"call p()",
	"CALL s.p(1, 'x')",
	"do $$begin raise notice 'drop'; end$$",
	"DO LANGUAGE plpgsql $$ BEGIN EXECUTE 'DROP TABLE t'; END $$",
	"create rule r as on insert to t do instead nothing",
	"create rule r as on delete to t do also delete from u",
	"CREATE RULE r AS ON UPDATE TO t DO INSTEAD (UPDATE u SET a = 1; NOTIFY c)",
	"create rule r as on select to t do instead select * from u",
	/* dangerous functions */
	"select pg_sleep(10)",
	"SELECT pg_catalog.pg_sleep(1)",
	"select pg_read_file('/etc/passwd')",
	"select pg_read_binary_file('/etc/shadow')",
	"select lo_import('/etc/passwd')",
	"select lo_export(1, '/tmp/x')",
	"select * from dblink('dbname=x', 'delete from t') as x(a int)",
	"select dblink_exec('drop table t')",
	"select query_to_xml('delete from t', true, true, '')",
	"select set_config('role', 'admin', false)",
	"select pg_terminate_backend(1)",
	"select t.f from t",
	"select (t).f from t",
	"select \"PG_SLEEP\"(1)",
	/* session */
	"set work_mem = '1MB'",
	"SET LOCAL statement_timeout = 0",
	"set role admin",
	"SET SESSION AUTHORIZATION postgres",
	"reset all",
	"reset role",
	"set transaction isolation level serializable",
	"set constraints all deferred",
	"show work_mem",
	"SHOW ALL",
	"begin",
	"start transaction read only",
	"commit",
	"end",
	"rollback",
	"abort",
	"savepoint s1",
	"release savepoint s1",
	"rollback to savepoint s1",
	"prepare transaction 'x'",
	"commit prepared 'x'",
	"listen ch",
	"unlisten *",
	"notify ch, 'payload'",
	"select pg_notify('ch', 'x')",
	"declare c cursor for select * from t",
	"fetch next from c",
	"close c",
	"discard all",
	"checkpoint",
	"load 'plpgsql'",
	"security label on table t is 'x'",
	"import foreign schema s from server srv into public",
	"reassign owned by a to b",
	/* settings that change lexing (RG_OP_SET_LEXING) and look-alikes */
	"set client_encoding = 'SJIS'",
	"SET NAMES 'BIG5'",
	"set local standard_conforming_strings = off",
	"SET U&\"client_\\0065ncoding\" TO 'GBK'",
	"select set_config('client_encoding', 'UHC', false)",
	"select U&\"set\\005fconfig\"('standard_conforming_strings', 'off', false)",
	"select pg_catalog.set_config(name, 'off', false) from t",
	"update pg_settings set setting = 'SJIS' where name = 'client_encoding'",
	"set client_encoding to 'UTF8'",
	"reset client_encoding",
	"select set_config('search_path', '', false)",
};

static struct rg_sqlclass *sc;

static int setup(void **state)
{
	(void)state;
	sc = rg_sqlclass_new();
	return sc ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	rg_sqlclass_free(sc);
	return 0;
}

static struct rg_sql_facts run_flags(const char *sql, unsigned flags)
{
	struct rg_sql_facts f;
	assert_int_equal(rg_sqlclass_run(sc, sql, strlen(sql), flags, &f), 0);
	return f;
}

static struct rg_sql_facts run(const char *sql)
{
	return run_flags(sql, 0);
}

static bool has_op(const struct rg_sql_facts *f, enum rg_sql_op op)
{
	return f->ops & RG_OP_BIT(op);
}

static int table_access(const struct rg_sql_facts *f, const char *schema, const char *name)
{
	for (size_t i = 0; i < f->ntables; i++) {
		const struct rg_sql_name *t = &f->tables[i];
		if (strcmp(t->name, name) == 0 &&
		    (schema ? t->schema && strcmp(t->schema, schema) == 0 : !t->schema))
			return t->access;
	}
	return -1;
}

static bool has_func(const struct rg_sql_facts *f, const char *schema, const char *name)
{
	for (size_t i = 0; i < f->nfunctions; i++) {
		const struct rg_sql_name *t = &f->functions[i];
		if (strcmp(t->name, name) == 0 &&
		    (schema ? t->schema && strcmp(t->schema, schema) == 0 : !t->schema))
			return true;
	}
	return false;
}

static bool contains_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (const char *p = hay; *p; p++)
		if (strncasecmp(p, needle, n) == 0)
			return true;
	return false;
}

static void test_keyword_table_is_sound_over_corpus(void **state)
{
	(void)state;
	size_t n = sizeof(corpus) / sizeof(corpus[0]);
	int bad = 0;

	assert_true(n >= 150);
	for (size_t i = 0; i < n; i++) {
		struct rg_sql_facts f = run(corpus[i]);
		if (f.status != RG_SQL_OK) {
			print_error("corpus statement does not parse: %s\n", corpus[i]);
			bad++;
			continue;
		}
		if (!f.ops) {
			print_error("no operation for: %s\n", corpus[i]);
			bad++;
		}
		for (int op = 0; op < RG_OP__COUNT; op++) {
			if (!(f.ops & RG_OP_BIT(op)))
				continue;
			const char *const *kw = rg_sql_op_keywords(op);
			if (!kw) {
				if (op != RG_OP_OTHER) {
					print_error("op %s has no keywords: %s\n", rg_sql_op_name(op),
						    corpus[i]);
					bad++;
				}
				continue;
			}
			bool found = false;
			for (; *kw && !found; kw++)
				found = contains_ci(corpus[i], *kw);
			if (!found) {
				print_error("op %s reported but none of its keywords occurs in: %s\n",
					    rg_sql_op_name(op), corpus[i]);
				bad++;
			}
		}
	}
	assert_int_equal(bad, 0);
}

static void test_cte_delete_counts_as_delete(void **state)
{
	(void)state;
	struct rg_sql_facts f = run("with x as (delete from t returning *) select * from x");
	assert_int_equal(f.status, RG_SQL_OK);
	assert_true(has_op(&f, RG_OP_DELETE));
	assert_true(has_op(&f, RG_OP_SELECT));
	assert_true(f.ops_without_where & RG_OP_BIT(RG_OP_DELETE));
	assert_int_equal(table_access(&f, NULL, "t"), RG_ACCESS_READ | RG_ACCESS_WRITE);
}

static void test_literal_mentioning_drop_is_select(void **state)
{
	(void)state;
	struct rg_sql_facts f = run("select 'drop table users; delete from t' as x");
	assert_int_equal(f.status, RG_SQL_OK);
	assert_int_equal(f.ops, RG_OP_BIT(RG_OP_SELECT));
	assert_int_equal(f.ntables, 0);
	f = run("select $q$drop table t$q$ -- drop table u\n /* truncate v */");
	assert_int_equal(f.ops, RG_OP_BIT(RG_OP_SELECT));
}

static void test_unicode_escaped_table_is_resolved(void **state)
{
	(void)state;
	struct rg_sql_facts f = run("select * from U&\"s\\0065crets\"");
	assert_int_equal(table_access(&f, NULL, "secrets"), RG_ACCESS_READ);
	f = run("select * from U&\"!0073ecrets\" UESCAPE '!'");
	assert_int_equal(table_access(&f, NULL, "secrets"), RG_ACCESS_READ);
	f = run("select * from U&\"\\00e9t\\00E9\"");
	assert_int_equal(table_access(&f, NULL, "\xc3\xa9t\xc3\xa9"), RG_ACCESS_READ);
}

static void test_quoting_and_case_folding(void **state)
{
	(void)state;
	struct rg_sql_facts f = run("SELECT * FROM Public.Users, \"MixedCase\".\"T\"\"q\"");
	assert_int_equal(table_access(&f, "public", "users"), RG_ACCESS_READ);
	assert_int_equal(table_access(&f, "MixedCase", "T\"q"), RG_ACCESS_READ);
	f = run("select * from \"a\\b\"");
	assert_int_equal(table_access(&f, NULL, "a\\b"), RG_ACCESS_READ);
}

static void test_unparseable_fails_closed(void **state)
{
	(void)state;
	static const char *const bad[] = { "selec 1", "select from where", "drop", "'",
					   "select 1; drop tabl x", "\xff\xfe" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct rg_sql_facts f = run(bad[i]);
		assert_int_equal(f.status, RG_SQL_UNPARSEABLE);
		assert_int_equal(f.ops, RG_OP_BIT(RG_OP_UNKNOWN));
		assert_int_equal(f.ntables, 0);
	}
}

static void test_embedded_nul_fails_closed(void **state)
{
	(void)state;
	static const char sql[] = "select 1\0; drop table t";
	struct rg_sql_facts f;
	assert_int_equal(rg_sqlclass_run(sc, sql, sizeof(sql) - 1, 0, &f), 0);
	assert_int_equal(f.status, RG_SQL_UNPARSEABLE);
	/* a trailing NUL, as in a Query message, is fine */
	assert_int_equal(rg_sqlclass_run(sc, "select 1", 9, 0, &f), 0);
	assert_int_equal(f.status, RG_SQL_OK);
}

static void test_input_need_not_be_nul_terminated(void **state)
{
	(void)state;
	const char buf[] = "drop table t; select 1";
	struct rg_sql_facts f;
	assert_int_equal(rg_sqlclass_run(sc, buf, 12, 0, &f), 0);
	assert_int_equal(f.status, RG_SQL_OK);
	assert_int_equal(f.ops, RG_OP_BIT(RG_OP_DROP));
	assert_int_equal(f.nstmts, 1);
}

static void test_empty_and_comment_only_are_ok(void **state)
{
	(void)state;
	static const char *const empty[] = { "", "   ", "-- nothing", "/* x */", ";", " ; ; " };
	for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
		struct rg_sql_facts f = run_flags(empty[i], RG_SQLCLASS_FINGERPRINT);
		assert_int_equal(f.status, RG_SQL_OK);
		assert_int_equal(f.nstmts, 0);
		assert_int_equal(f.ops, 0);
		assert_int_equal(f.nfingerprints, 0);
	}
}

static void test_multi_statement_reports_every_op(void **state)
{
	(void)state;
	struct rg_sql_facts f = run("select 1; DROP TABLE t; truncate u; delete from v");
	assert_int_equal(f.nstmts, 4);
	assert_true(has_op(&f, RG_OP_SELECT));
	assert_true(has_op(&f, RG_OP_DROP));
	assert_true(has_op(&f, RG_OP_TRUNCATE));
	assert_true(has_op(&f, RG_OP_DELETE));
	assert_int_equal(table_access(&f, NULL, "t"), RG_ACCESS_WRITE);
	assert_int_equal(table_access(&f, NULL, "u"), RG_ACCESS_WRITE);
}

static void test_explain_analyze_body_is_classified(void **state)
{
	(void)state;
	struct rg_sql_facts f = run("EXPLAIN ANALYZE DELETE FROM t");
	assert_true(has_op(&f, RG_OP_EXPLAIN));
	assert_true(has_op(&f, RG_OP_DELETE));
	assert_true(f.ops_without_where & RG_OP_BIT(RG_OP_DELETE));
}

static void test_prepare_body_is_classified(void **state)
{
	(void)state;
	struct rg_sql_facts f = run("prepare p as update t set a = 1");
	assert_true(has_op(&f, RG_OP_PREPARE));
	assert_true(has_op(&f, RG_OP_UPDATE));
	assert_true(f.ops_without_where & RG_OP_BIT(RG_OP_UPDATE));
	f = run("execute p");
	assert_int_equal(f.ops, RG_OP_BIT(RG_OP_EXECUTE));
}

static void test_create_rule_actions_are_classified(void **state)
{
	(void)state;
	struct rg_sql_facts f = run("create rule r as on insert to t do also (delete from u; "
				    "notify c)");
	assert_true(has_op(&f, RG_OP_CREATE_RULE));
	assert_true(has_op(&f, RG_OP_CREATE));
	assert_true(has_op(&f, RG_OP_DELETE));
	assert_true(has_op(&f, RG_OP_NOTIFY));
	assert_true(table_access(&f, NULL, "u") & RG_ACCESS_WRITE);
}

static void test_do_is_opaque(void **state)
{
	(void)state;
	struct rg_sql_facts f = run("do $$ begin execute 'drop table t'; end $$");
	assert_int_equal(f.ops, RG_OP_BIT(RG_OP_DO));
	assert_int_equal(f.ntables, 0);
}

static void test_specific_kinds_set_general_kind(void **state)
{
	(void)state;
	struct {
		const char *sql;
		enum rg_sql_op specific, general;
	} cases[] = {
		{ "create role r", RG_OP_CREATE_ROLE, RG_OP_CREATE },
		{ "create user u", RG_OP_CREATE_ROLE, RG_OP_CREATE },
		{ "drop role r", RG_OP_DROP_ROLE, RG_OP_DROP },
		{ "alter role r superuser", RG_OP_ALTER_ROLE, RG_OP_ALTER },
		{ "alter user r set work_mem = 1", RG_OP_ALTER_ROLE, RG_OP_ALTER },
		{ "alter role r rename to s", RG_OP_ALTER_ROLE, RG_OP_ALTER },
		{ "alter system set fsync = off", RG_OP_ALTER_SYSTEM, RG_OP_ALTER },
		{ "create rule r as on insert to t do nothing", RG_OP_CREATE_RULE, RG_OP_CREATE },
		{ "create function f() returns int language sql as 'select 1'",
		  RG_OP_CREATE_FUNCTION, RG_OP_CREATE },
		{ "create procedure p() language sql as 'select 1'", RG_OP_CREATE_FUNCTION,
		  RG_OP_CREATE },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rg_sql_facts f = run(cases[i].sql);
		assert_true(has_op(&f, cases[i].specific));
		assert_true(has_op(&f, cases[i].general));
		assert_false(has_op(&f, RG_OP_SET));
	}
}

static void test_grant_revoke_including_membership(void **state)
{
	(void)state;
	assert_int_equal(run("grant select on t to r").ops, RG_OP_BIT(RG_OP_GRANT));
	assert_int_equal(run("grant admin to bob").ops, RG_OP_BIT(RG_OP_GRANT));
	assert_int_equal(run("revoke select on t from r").ops, RG_OP_BIT(RG_OP_REVOKE));
	assert_int_equal(run("revoke admin from bob").ops, RG_OP_BIT(RG_OP_REVOKE));
}

static void test_copy_variants_are_distinguished(void **state)
{
	(void)state;
	struct rg_sql_facts f = run("copy t to stdout");
	assert_int_equal(f.ops, RG_OP_BIT(RG_OP_COPY_TO_STDOUT));
	assert_int_equal(table_access(&f, NULL, "t"), RG_ACCESS_READ);
	f = run("copy t from stdin");
	assert_int_equal(f.ops, RG_OP_BIT(RG_OP_COPY_FROM_STDIN));
	assert_int_equal(table_access(&f, NULL, "t"), RG_ACCESS_WRITE);
	f = run("copy t to '/tmp/x'");
	assert_int_equal(f.ops, RG_OP_BIT(RG_OP_COPY_TO_FILE));
	f = run("copy t from '/etc/passwd'");
	assert_int_equal(f.ops, RG_OP_BIT(RG_OP_COPY_FROM_FILE));
	assert_int_equal(table_access(&f, NULL, "t"), RG_ACCESS_WRITE);
	f = run("copy t to program 'sh'");
	assert_int_equal(f.ops, RG_OP_BIT(RG_OP_COPY_PROGRAM));
	f = run("copy t from program 'sh'");
	assert_int_equal(f.ops, RG_OP_BIT(RG_OP_COPY_PROGRAM));
	f = run("copy (delete from t returning *) to stdout");
	assert_true(has_op(&f, RG_OP_COPY_TO_STDOUT));
	assert_true(has_op(&f, RG_OP_DELETE));
}

static void test_set_variants_are_set(void **state)
{
	(void)state;
	static const char *const s[] = { "set work_mem = 1", "set local a.b = 2", "reset all",
					  "set role admin", "set session authorization postgres",
					  "reset role" };
	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		assert_int_equal(run(s[i]).ops, RG_OP_BIT(RG_OP_SET));
}

/* The settings the gateway pins (lexing.c): every way to move them away is set_lexing; going
 * back to the pinned value, RESET, or other settings are not. */
static void test_set_lexing(void **state)
{
	(void)state;
	static const char *const yes[] = {
		"set client_encoding = 'SJIS'",
		"SET client_encoding TO sjis",
		"SET NAMES 'BIG5'",
		"set names e'gbk'",
		"SET SESSION client_encoding = 'GB18030'",
		"set local client_encoding = 'UHC'",
		"SET \"client_encoding\" = 'SJIS'",
		"SET CLIENT_ENCODING = 'SJIS'",
		"SET U&\"client_\\0065ncoding\" TO 'SJIS'",
		"set standard_conforming_strings = off",
		"set standard_conforming_strings = 0",
		"set standard_conforming_strings = false",
		"set standard_conforming_strings = 'off'",
		"set backslash_quote = on",
		"set escape_string_warning = off",
		"select set_config('client_encoding', 'SJIS', false)",
		"select pg_catalog.set_config('standard_conforming_strings', 'off', true)",
		"select set_config('CLIENT_ENCODING', 'SJIS', false)",
		"select set_config(E'client_\\145ncoding', 'SJIS', false)",
		"select set_config('client_' || 'encoding', 'SJIS', false)",
		"select set_config(n, v, false) from t",
		"select set_config('client_encoding', current_setting('x'), false)",
		"select U&\"set\\005fconfig\"('client_encoding', 'SJIS', false)",
		"select 1 where set_config('client_encoding', 'SJIS', false) is not null",
		"update pg_settings set setting = 'SJIS' where name = 'client_encoding'",
		"update pg_catalog.pg_settings set setting = 'off'",
		"select 1; set client_encoding = 'SJIS'",
		"with x as (select set_config('client_encoding', 'SJIS', false)) select * from x",
		"select set_config(name, 'SJIS', false) from pg_settings where name = 'client_encoding'",
		"select set_config(name, 'x', false) from pg_settings where name = 'a' or true",
		"select set_config(name, 'x', false) from pg_settings s where name = 'a'",
		"select set_config(name, 'x', false) from pg_settings, t where name = 'a'",
		"select (select set_config(name, 'x', false)) from pg_settings where name = 'a'",
	};
	static const char *const no[] = {
		"set client_encoding = 'UTF8'",
		"set client_encoding to 'utf-8'",
		"SET NAMES 'UNICODE'",
		"set standard_conforming_strings = on",
		"set standard_conforming_strings = 1",
		"set standard_conforming_strings to true",
		"reset client_encoding",
		"reset all",
		"set client_encoding to default",
		"set local standard_conforming_strings to default",
		"discard all",
		"set work_mem = '64MB'",
		"select set_config('search_path', '', false)",
		"select pg_catalog.set_config('application_name', 'x', false)",
		"select set_config('client_encoding', 'UTF8', false)",
		/* pg_dump 15.8+ */
		"SELECT set_config(name, 'view, foreign-table', false) FROM pg_settings WHERE name = "
		"'restrict_nonsystem_relation_kind'",
		"select pg_catalog.set_config(name, 'x', false) from pg_catalog.pg_settings "
		"where 'a' = name",
		"select * from pg_settings where name = 'client_encoding'",
		"select 'set client_encoding = sjis'",
		"show client_encoding",
		"select current_setting('standard_conforming_strings')",
		"alter role r set client_encoding = 'SJIS'",
		"create function f() returns int language sql set client_encoding = 'SJIS' as 'select 1'",
	};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		struct rg_sql_facts f = run(yes[i]);
		if (!has_op(&f, RG_OP_SET_LEXING))
			fail_msg("not set_lexing: %s", yes[i]);
		assert_true(rg_sqlclass_lexing_candidate(yes[i], strlen(yes[i])));
		/* both paths agree */
		f = run_flags(yes[i], RG_SQLCLASS_FORCE_JSON);
		assert_true(has_op(&f, RG_OP_SET_LEXING));
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		struct rg_sql_facts f = run(no[i]);
		assert_int_equal(f.status, RG_SQL_OK);
		if (has_op(&f, RG_OP_SET_LEXING))
			fail_msg("set_lexing: %s", no[i]);
	}
}

/* The gateway's prefilter (rg_sqlclass_lexing_candidate) never misses a set_lexing string
 * of the corpus, and passes over ordinary statements. */
static void test_lexing_candidate_is_sound_over_corpus(void **state)
{
	(void)state;
	size_t n = sizeof(corpus) / sizeof(corpus[0]), hits = 0;

	for (size_t i = 0; i < n; i++) {
		struct rg_sql_facts f = run(corpus[i]);
		bool cand = rg_sqlclass_lexing_candidate(corpus[i], strlen(corpus[i]));
		if (has_op(&f, RG_OP_SET_LEXING) && !cand)
			fail_msg("prefilter misses: %s", corpus[i]);
		hits += cand;
	}
	assert_true(hits < n / 4);
	assert_false(rg_sqlclass_lexing_candidate("SELECT abalance FROM pgbench_accounts WHERE aid = 1", 51));
	assert_false(rg_sqlclass_lexing_candidate("UPDATE pgbench_tellers SET tbalance = tbalance + 1 WHERE tid = 2", 64));
	assert_true(rg_sqlclass_lexing_candidate("set NAMES x", 11));
	assert_false(rg_sqlclass_lexing_candidate("set NAME", 8));
}

static void test_without_where(void **state)
{
	(void)state;
	assert_int_equal(run("update t set a = 1").ops_without_where, RG_OP_BIT(RG_OP_UPDATE));
	assert_int_equal(run("delete from t").ops_without_where, RG_OP_BIT(RG_OP_DELETE));
	assert_int_equal(run("update t set a = 1 where true").ops_without_where, 0);
	assert_int_equal(run("delete from t where current of c").ops_without_where, 0);
	assert_int_equal(run("delete from t where id = 1; select 1").ops_without_where, 0);
	assert_int_equal(run("delete from t where id = 1; delete from u").ops_without_where,
			 RG_OP_BIT(RG_OP_DELETE));
}

static void test_insert_values_is_not_select(void **state)
{
	(void)state;
	assert_int_equal(run("insert into t values (1)").ops, RG_OP_BIT(RG_OP_INSERT));
	struct rg_sql_facts f = run("insert into t select * from u");
	assert_true(has_op(&f, RG_OP_SELECT));
	assert_int_equal(table_access(&f, NULL, "t"), RG_ACCESS_WRITE);
	assert_int_equal(table_access(&f, NULL, "u"), RG_ACCESS_READ);
}

static void test_select_into_creates_and_writes(void **state)
{
	(void)state;
	struct rg_sql_facts f = run("select * into s.newt from t");
	assert_true(has_op(&f, RG_OP_CREATE));
	assert_int_equal(table_access(&f, "s", "newt"), RG_ACCESS_WRITE);
	f = run("create table x as select * from y");
	assert_true(has_op(&f, RG_OP_CREATE));
	assert_true(has_op(&f, RG_OP_SELECT));
	assert_int_equal(table_access(&f, NULL, "x"), RG_ACCESS_WRITE);
	assert_int_equal(table_access(&f, NULL, "y"), RG_ACCESS_READ);
}

static void test_select_into_in_first_arm_of_set_operation_creates(void **state)
{
	(void)state;
	/* PostgreSQL creates x here (the INTO of the leftmost arm applies to the whole) */
	struct rg_sql_facts f = run("select a into x from t union select b from u");
	assert_true(has_op(&f, RG_OP_CREATE));
	assert_true(has_op(&f, RG_OP_SELECT));
	assert_int_equal(table_access(&f, NULL, "x"), RG_ACCESS_WRITE);
	assert_int_equal(table_access(&f, NULL, "u"), RG_ACCESS_READ);
	f = run("(select a into x from t) except select 1 intersect select 2");
	assert_true(has_op(&f, RG_OP_CREATE));
}

static void test_tables_dedup_and_access_merge(void **state)
{
	(void)state;
	struct rg_sql_facts f = run("update t set a = (select max(a) from t) where id in "
				    "(select id from t); select * from T");
	size_t n = 0;
	for (size_t i = 0; i < f.ntables; i++)
		n += strcmp(f.tables[i].name, "t") == 0;
	assert_int_equal(n, 1);
	assert_int_equal(table_access(&f, NULL, "t"), RG_ACCESS_READ | RG_ACCESS_WRITE);
	f = run("select * from s.t, t");
	assert_int_equal(f.ntables, 2);
}

static void test_write_targets(void **state)
{
	(void)state;
	assert_int_equal(table_access(&(struct rg_sql_facts){ 0 }, NULL, "x"), -1);
	struct rg_sql_facts f = run("truncate a, s.b");
	assert_int_equal(table_access(&f, NULL, "a"), RG_ACCESS_WRITE);
	assert_int_equal(table_access(&f, "s", "b"), RG_ACCESS_WRITE);
	f = run("drop table s.x, y");
	assert_int_equal(table_access(&f, "s", "x"), RG_ACCESS_WRITE);
	assert_int_equal(table_access(&f, NULL, "y"), RG_ACCESS_WRITE);
	f = run("drop trigger tr on s.z");
	assert_int_equal(table_access(&f, "s", "z"), RG_ACCESS_WRITE);
	f = run("drop schema x");
	assert_int_equal(f.ntables, 0);
	f = run("alter table a add column c int");
	assert_int_equal(table_access(&f, NULL, "a"), RG_ACCESS_WRITE);
	f = run("lock table a");
	assert_int_equal(table_access(&f, NULL, "a"), RG_ACCESS_WRITE);
	f = run("merge into a using b on a.id = b.id when matched then delete");
	assert_true(table_access(&f, NULL, "a") & RG_ACCESS_WRITE);
	assert_int_equal(table_access(&f, NULL, "b"), RG_ACCESS_READ);
	assert_true(has_op(&f, RG_OP_MERGE));
	assert_true(has_op(&f, RG_OP_DELETE));
}

static void test_functions_everywhere(void **state)
{
	(void)state;
	struct rg_sql_facts f = run("select pg_catalog.pg_sleep(1), * from generate_series(1, 2), "
				    "lateral dblink('x', 'y') as d(a int) where lower(x) = 'a'");
	assert_true(has_func(&f, "pg_catalog", "pg_sleep"));
	assert_true(has_func(&f, NULL, "generate_series"));
	assert_true(has_func(&f, NULL, "dblink"));
	assert_true(has_func(&f, NULL, "lower"));
	f = run("call s.proc(1)");
	assert_true(has_func(&f, "s", "proc"));
	f = run("create table t (a float default pg_sleep(5))");
	assert_true(has_func(&f, NULL, "pg_sleep"));
	f = run("select \"PG_READ_FILE\"('x'), lo_import('/etc/passwd')");
	assert_true(has_func(&f, NULL, "PG_READ_FILE"));
	assert_true(has_func(&f, NULL, "lo_import"));
	f = run("create function pg_sleep2() returns int language sql as 'select 1'");
	assert_false(has_func(&f, NULL, "pg_sleep2"));
}

static void test_attribute_notation_reports_possible_function(void **state)
{
	(void)state;
	struct rg_sql_facts f = run("select t.secret_fn from t");
	assert_true(has_func(&f, NULL, "secret_fn"));
	f = run("select (t).secret_fn2 from t");
	assert_true(has_func(&f, NULL, "secret_fn2"));
	f = run("select a, t.* from t");
	assert_int_equal(f.nfunctions, 0);
}

static void test_fingerprints_per_statement(void **state)
{
	(void)state;
	struct rg_sql_facts f = run_flags("select 1; select 2;SELECT  3", RG_SQLCLASS_FINGERPRINT);
	assert_int_equal(f.nfingerprints, 3);
	/* constants do not change a fingerprint */
	assert_true(f.fingerprints[0] == f.fingerprints[1]);
	assert_true(f.fingerprints[1] == f.fingerprints[2]);
	uint64_t a = f.fingerprints[0];
	f = run_flags("select * from t", RG_SQLCLASS_FINGERPRINT);
	assert_int_equal(f.nfingerprints, 1);
	assert_true(f.fingerprints[0] != a);
	f = run("select 1");
	assert_int_equal(f.nfingerprints, 0);
	assert_null(f.fingerprints);
}

static void test_normalize(void **state)
{
	(void)state;
	struct rg_sql_facts f = run_flags("select * from t where a = 'secret' and b = 42",
					  RG_SQLCLASS_NORMALIZE);
	assert_non_null(f.normalized);
	assert_string_equal(f.normalized, "select * from t where a = $1 and b = $2");
	assert_int_equal(f.normalized_len, strlen(f.normalized));
}

static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
	size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
	char *s = malloc(hl + ul * n + tl + 1);
	assert_non_null(s);
	memcpy(s, head, hl);
	for (size_t i = 0; i < n; i++)
		memcpy(s + hl + i * ul, unit, ul);
	memcpy(s + hl + ul * n, tail, tl + 1);
	return s;
}

static void test_deep_nesting_does_not_crash(void **state)
{
	(void)state;
	struct rg_sql_facts f;
	/* libpg_query's own limits reject these */
	char *s = repeat("select ", "(", 20000, "1");
	assert_int_equal(rg_sqlclass_run(sc, s, strlen(s), 0, &f), 0);
	assert_int_equal(f.status, RG_SQL_UNPARSEABLE);
	free(s);
	/* a left-deep chain parses; its printer recursion needs the big stack */
	s = repeat("select 1", "+1", 150000, "");
	assert_int_equal(rg_sqlclass_run(sc, s, strlen(s), RG_SQLCLASS_FINGERPRINT, &f), 0);
	assert_true(f.status == RG_SQL_OK || f.status == RG_SQL_UNPARSEABLE);
	if (f.status == RG_SQL_OK)
		assert_int_equal(f.ops, RG_OP_BIT(RG_OP_SELECT));
	free(s);
	/* a big but flat statement classifies normally */
	s = repeat("insert into t values (1)", ",(1)", 20000, "");
	assert_int_equal(rg_sqlclass_run(sc, s, strlen(s), RG_SQLCLASS_FINGERPRINT, &f), 0);
	assert_int_equal(f.status, RG_SQL_OK);
	assert_int_equal(f.ops, RG_OP_BIT(RG_OP_INSERT));
	assert_int_equal(f.nfingerprints, 1);
	free(s);
	/* the context still works afterwards */
	f = run("select 1");
	assert_int_equal(f.status, RG_SQL_OK);
}

static void test_results_reset_between_calls(void **state)
{
	(void)state;
	struct rg_sql_facts f = run("select * from a, b, c where f(x)");
	assert_int_equal(f.ntables, 3);
	f = run("select 1");
	assert_int_equal(f.ntables, 0);
	assert_int_equal(f.nfunctions, 0);
	f = run("selec");
	f = run("select * from a");
	assert_int_equal(f.ntables, 1);
}

static void test_op_names_roundtrip(void **state)
{
	(void)state;
	for (int op = 0; op < RG_OP__COUNT; op++)
		assert_int_equal(rg_sql_op_from_name(rg_sql_op_name(op)), op);
	assert_null(rg_sql_op_name(RG_OP__COUNT));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keyword_table_is_sound_over_corpus),
		cmocka_unit_test(test_cte_delete_counts_as_delete),
		cmocka_unit_test(test_literal_mentioning_drop_is_select),
		cmocka_unit_test(test_unicode_escaped_table_is_resolved),
		cmocka_unit_test(test_quoting_and_case_folding),
		cmocka_unit_test(test_unparseable_fails_closed),
		cmocka_unit_test(test_embedded_nul_fails_closed),
		cmocka_unit_test(test_input_need_not_be_nul_terminated),
		cmocka_unit_test(test_empty_and_comment_only_are_ok),
		cmocka_unit_test(test_multi_statement_reports_every_op),
		cmocka_unit_test(test_explain_analyze_body_is_classified),
		cmocka_unit_test(test_prepare_body_is_classified),
		cmocka_unit_test(test_create_rule_actions_are_classified),
		cmocka_unit_test(test_do_is_opaque),
		cmocka_unit_test(test_specific_kinds_set_general_kind),
		cmocka_unit_test(test_grant_revoke_including_membership),
		cmocka_unit_test(test_copy_variants_are_distinguished),
		cmocka_unit_test(test_set_variants_are_set),
		cmocka_unit_test(test_set_lexing),
		cmocka_unit_test(test_lexing_candidate_is_sound_over_corpus),
		cmocka_unit_test(test_without_where),
		cmocka_unit_test(test_insert_values_is_not_select),
		cmocka_unit_test(test_select_into_creates_and_writes),
		cmocka_unit_test(test_select_into_in_first_arm_of_set_operation_creates),
		cmocka_unit_test(test_tables_dedup_and_access_merge),
		cmocka_unit_test(test_write_targets),
		cmocka_unit_test(test_functions_everywhere),
		cmocka_unit_test(test_attribute_notation_reports_possible_function),
		cmocka_unit_test(test_fingerprints_per_statement),
		cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_deep_nesting_does_not_crash),
		cmocka_unit_test(test_results_reset_between_calls),
		cmocka_unit_test(test_op_names_roundtrip),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
