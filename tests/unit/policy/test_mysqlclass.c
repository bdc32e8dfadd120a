/*
 * Unit tests for mysqlclass: a table of MySQL/MariaDB statements and the facts the
 * classifier must report for them (operations exactly, tables with their access bits and
 * functions as sets), with the lexer traps the server reads differently from a naive
 * tokenizer: executable and versioned comments, comment forms, escapes under
 * NO_BACKSLASH_ESCAPES, ANSI_QUOTES, quoted names holding ';' and quotes, and mentions of
 * denied words that are not statements. Also: the prefilter keyword table (names.c) holds
 * for every operation reported over the table, normalization is idempotent and blind to
 * literal values, and the session helpers (sql_mode, character sets, lexing changes).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "mysqlclass.h"

#define B(x) RG_OP_BIT(RG_OP_##x)
#define AQ RG_MY_ANSI_QUOTES
#define NB RG_MY_NO_BACKSLASH_ESCAPES
#define MYSQL8 0x100u /* case flag: lex as MySQL 8.0.36 instead of MariaDB 10.11 */
#define BAD UINT64_MAX /* expected: unparseable */

struct tc {
	const char *sql;
	unsigned modes;
	uint64_t ops;	      /* exact; BAD for unparseable */
	uint64_t nowhere;     /* exact */
	const char *tables;   /* exact set "s.t:rw u:r", NULL: not checked */
	const char *funcs;    /* exact set "sleep db.f", NULL: not checked */
};

static const struct tc cases[] = {
	/* ---- plain statements */
	{ "SELECT 1", 0, B(SELECT), 0, "", "" },
	{ "select a, b from t where id = 1", 0, B(SELECT), 0, "t:r", "" },
	{ "SELECT * FROM db.t1 JOIN t2 ON t1.a = t2.a LEFT JOIN `x y`.`z` USING (id)", 0,
	  B(SELECT), 0, "db.t1:r t2:r x~y.z:r", "" },
	{ "SELECT * FROM t1, db.t2 AS b, (SELECT * FROM t3) d WHERE t1.x IN (SELECT x FROM t4)",
	  0, B(SELECT), 0, "t1:r db.t2:r t3:r t4:r", "" },
	{ "(SELECT a FROM t) UNION ALL (SELECT b FROM u) ORDER BY 1", 0, B(SELECT), 0,
	  "t:r u:r", "" },
	{ "TABLE t", 0, B(SELECT), 0, "t:r", "" },
	{ "VALUES (1, 2), (3, 4)", 0, B(SELECT), 0, "", "" },
	{ "SELECT COUNT(*), MAX(a), IF(a > 1, 'x', 'y') FROM t GROUP BY b HAVING COUNT(*) > 1",
	  0, B(SELECT), 0, "t:r", "count max if" },
	{ "SELECT EXTRACT(YEAR FROM d), TRIM(x FROM y) FROM t", 0, B(SELECT), 0, "t:r",
	  "extract trim" },
	{ "SELECT * FROM dual", 0, B(SELECT), 0, "", "" },
	{ "SELECT * FROM t FOR UPDATE", 0, B(SELECT), 0, "t:r", "" },
	{ "SELECT * FROM t LOCK IN SHARE MODE", 0, B(SELECT), 0, "t:r", "" },
	{ "SELECT * FROM t FORCE INDEX (i) STRAIGHT_JOIN u IGNORE KEY FOR JOIN (k)", 0,
	  B(SELECT), 0, "t:r u:r", "" },
	{ "SELECT * FROM t PARTITION (p0, p1) AS x", 0, B(SELECT), 0, "t:r", "" },
	{ "SELECT * FROM (t1 JOIN t2 ON t1.a = t2.a), t3", 0, B(SELECT), 0, "t1:r t2:r t3:r",
	  "" },
	{ "SELECT * FROM t FOR SYSTEM_TIME ALL, u", 0, B(SELECT), 0, NULL, "" },
	{ "SELECT a INTO @x FROM t LIMIT 1", 0, B(SELECT), 0, "t:r", "" },
	{ "SELECT * FROM JSON_TABLE('[1]', '$[*]' COLUMNS (a INT PATH '$')) AS jt", 0,
	  B(SELECT), 0, "", "json_table" },
	{ "SELECT * FROM T", 0, B(SELECT), 0, "T:r", "" },
	{ "DO SLEEP(1)", 0, B(SELECT), 0, "", "sleep" },
	{ "HANDLER t READ FIRST", 0, B(SELECT), 0, "t:r", "" },
	/* ---- WITH */
	{ "WITH c AS (SELECT * FROM src) SELECT * FROM c, other", 0, B(SELECT), 0,
	  "src:r other:r", "" },
	{ "WITH RECURSIVE r (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) "
	  "SELECT * FROM r",
	  0, B(SELECT), 0, "", "" },
	{ "WITH d AS (SELECT id FROM t) DELETE FROM u WHERE id IN (SELECT id FROM d)", 0,
	  B(SELECT) | B(DELETE), 0, "t:r u:w", "" },
	{ "WITH d AS (SELECT 1) DELETE FROM logs", 0, B(SELECT) | B(DELETE), B(DELETE),
	  "logs:w", "" },
	{ "WITH w AS (DELETE FROM t) SELECT 1", 0, B(SELECT) | B(DELETE), B(DELETE), "t:w",
	  "" },
	{ "SELECT (WITH x AS (SELECT 1) SELECT * FROM x), (SELECT * FROM x)", 0, B(SELECT), 0,
	  "x:r", "" },
	/* ---- INSERT / REPLACE */
	{ "INSERT INTO t VALUES (1, 'a')", 0, B(INSERT), 0, "t:w", "" },
	{ "INSERT LOW_PRIORITY IGNORE INTO db.t (a, b) VALUES (1, 2), (3, 4)", 0, B(INSERT),
	  0, "db.t:w", "" },
	{ "insert into t set a = 1, b = sleep(1)", 0, B(INSERT), 0, "t:w", "sleep" },
	{ "INSERT INTO t (a) SELECT x FROM u JOIN v USING (id) WHERE EXISTS (SELECT 1 FROM w)",
	  0, B(INSERT) | B(SELECT), 0, "t:w u:r v:r w:r", "" },
	{ "INSERT INTO t VALUES (1) ON DUPLICATE KEY UPDATE a = VALUES(a) + 1", 0, B(INSERT),
	  0, "t:w", NULL },
	{ "REPLACE INTO t (a) VALUES (1)", 0, B(INSERT), 0, "t:w", "" },
	{ "INSERT INTO drop_log (what) VALUES ('DROP TABLE users')", 0, B(INSERT), 0,
	  "drop_log:w", "" },
	{ "INSERT INTO sleep (a) VALUES (1)", 0, B(INSERT), 0, "sleep:w", "" },
	/* ---- UPDATE / DELETE */
	{ "UPDATE t SET a = 1 WHERE id = 2", 0, B(UPDATE), 0, "t:rw", "" },
	{ "UPDATE t SET a = 1", 0, B(UPDATE), B(UPDATE), "t:rw", "" },
	{ "update t set a = 1 order by id limit 1", 0, B(UPDATE), B(UPDATE), "t:rw", "" },
	{ "UPDATE t1, t2 SET t1.a = t2.b WHERE t1.id = t2.id", 0, B(UPDATE), 0,
	  "t1:rw t2:rw", "" },
	{ "UPDATE t1 JOIN t2 ON t1.id = t2.id SET t1.a = t2.b", 0, B(UPDATE), B(UPDATE),
	  "t1:rw t2:rw", "" },
	{ "UPDATE t SET a = (SELECT MAX(b) FROM u WHERE u.x = t.x)", 0, B(UPDATE) | B(SELECT),
	  B(UPDATE), "t:rw u:r", "max" },
	{ "DELETE FROM t", 0, B(DELETE), B(DELETE), "t:w", "" },
	{ "DELETE FROM t WHERE id = 1", 0, B(DELETE), 0, "t:w", "" },
	{ "DELETE LOW_PRIORITY QUICK IGNORE FROM db.t LIMIT 10", 0, B(DELETE), B(DELETE),
	  "db.t:w", "" },
	{ "DELETE FROM t WHERE id IN (SELECT id FROM u)", 0, B(DELETE) | B(SELECT), 0,
	  "t:w u:r", "" },
	{ "DELETE FROM t WHERE (SELECT 1 FROM u WHERE x)", 0, B(DELETE) | B(SELECT), 0,
	  "t:w u:r", "" },
	{ "DELETE FROM t ORDER BY (SELECT 1 FROM u WHERE x) LIMIT 1", 0,
	  B(DELETE) | B(SELECT), B(DELETE), "t:w u:r", "" },
	{ "DELETE a FROM t1 AS a JOIN t2 b ON a.id = b.id WHERE b.x = 1", 0, B(DELETE), 0,
	  "t1:rw t2:r", "" },
	{ "DELETE t1, t2 FROM t1 INNER JOIN t2 INNER JOIN t3 WHERE t1.id = t2.id", 0,
	  B(DELETE), 0, "t1:rw t2:rw t3:r", "" },
	{ "DELETE FROM t1.*, t2 USING t1 JOIN t2 JOIN t3", 0, B(DELETE), B(DELETE),
	  "t1:rw t2:rw t3:r", "" },
	{ "DELETE t1 FROM t1 LEFT JOIN t2 ON t1.id = t2.id WHERE t2.id IS NULL", 0, B(DELETE),
	  0, "t1:rw t2:r", "" },
	/* ---- DDL */
	{ "DROP TABLE t", 0, B(DROP), 0, "t:w", "" },
	{ "DROP TEMPORARY TABLE IF EXISTS db.t, `u`", 0, B(DROP), 0, "db.t:w u:w", "" },
	{ "DrOp TaBlE users", 0, B(DROP), 0, "users:w", "" },
	{ "DROP VIEW v", 0, B(DROP), 0, "v:w", "" },
	{ "DROP INDEX i ON t", 0, B(DROP), 0, "t:w", "" },
	{ "DROP DATABASE prod", 0, B(DROP), 0, "", "" },
	{ "DROP SCHEMA IF EXISTS prod", 0, B(DROP), 0, "", "" },
	{ "DROP PROCEDURE p", 0, B(DROP), 0, "", "" },
	{ "DROP TRIGGER db.tr", 0, B(DROP), 0, "", "" },
	{ "TRUNCATE t", 0, B(TRUNCATE), 0, "t:w", "" },
	{ "TRUNCATE TABLE db.t", 0, B(TRUNCATE), 0, "db.t:w", "" },
	{ "ALTER TABLE t ADD COLUMN c INT", 0, B(ALTER), 0, "t:w", "" },
	{ "ALTER TABLE t DROP COLUMN c", 0, B(ALTER), 0, "t:w", "" },
	{ "ALTER ONLINE IGNORE TABLE db.t ENGINE = InnoDB", 0, B(ALTER), 0, "db.t:w", "" },
	{ "ALTER DATABASE d CHARACTER SET utf8mb4", 0, B(ALTER), 0, "", "" },
	{ "RENAME TABLE a TO b, c TO db.d", 0, B(ALTER), 0, "a:w b:w c:w db.d:w", "" },
	{ "CREATE TABLE t (id INT PRIMARY KEY, KEY k (id), c VARCHAR(10) DEFAULT 'x')", 0,
	  B(CREATE), 0, "t:w", "" },
	{ "CREATE TABLE drop_log (id int, what text)", 0, B(CREATE), 0, "drop_log:w", "" },
	{ "CREATE TABLE t (a INT DEFAULT (SLEEP(5)))", 0, B(CREATE), 0, "t:w", "sleep" },
	{ "CREATE TEMPORARY TABLE IF NOT EXISTS t LIKE db.src", 0, B(CREATE), 0,
	  "t:w db.src:r", "" },
	{ "CREATE OR REPLACE TABLE t AS SELECT * FROM u", 0, B(CREATE) | B(SELECT), 0,
	  "t:w u:r", "" },
	{ "CREATE TABLE t SELECT * FROM u", 0, B(CREATE) | B(SELECT), 0, "t:w u:r", "" },
	{ "CREATE TABLE c (id INT, p INT, FOREIGN KEY fk (p) REFERENCES par (id))", 0,
	  B(CREATE), 0, "c:w", "" },
	{ "CREATE OR REPLACE ALGORITHM = MERGE DEFINER = `root`@`localhost` SQL SECURITY "
	  "INVOKER VIEW v (a) AS SELECT a FROM t",
	  0, B(CREATE) | B(SELECT), 0, "v:w t:r", "" },
	{ "CREATE UNIQUE INDEX i ON t (a, b)", 0, B(CREATE), 0, "t:w", "" },
	{ "CREATE DATABASE IF NOT EXISTS d", 0, B(CREATE), 0, "", "" },
	{ "CREATE PROCEDURE p() SELECT 1", 0, B(CREATE) | B(CREATE_FUNCTION) | B(SELECT), 0, "",
	  "" },
	/* single-statement routine bodies are classified; CALL is its own operation */
	{ "CREATE FUNCTION f(a INT) RETURNS VARCHAR(10) DETERMINISTIC RETURN (SELECT SLEEP(a))",
	  0, B(CREATE) | B(CREATE_FUNCTION) | B(SELECT), 0, "", "sleep" },
	{ "CREATE DEFINER = root@localhost PROCEDURE db.p(IN x INT) MODIFIES SQL DATA "
	  "COMMENT 'purge; all' DELETE FROM t",
	  0, B(CREATE) | B(CREATE_FUNCTION) | B(DELETE), B(DELETE), "t:w", "" },
	{ "CREATE OR REPLACE FUNCTION IF NOT EXISTS f() RETURNS INT CONTAINS SQL RETURN 1", 0,
	  B(CREATE) | B(CREATE_FUNCTION), 0, "", "" },
	{ "CREATE PROCEDURE p() LANGUAGE SQL SQL SECURITY INVOKER", 0, BAD, 0, NULL, NULL },
	{ "CREATE FUNCTION f RETURNS STRING SONAME 'udf.so'", 0,
	  B(CREATE) | B(CREATE_FUNCTION) | B(INSTALL_PLUGIN), 0, "", "" },
	{ "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW DELETE FROM audit", 0,
	  B(CREATE) | B(CREATE_FUNCTION) | B(DELETE), B(DELETE), "t:w audit:w", "" },
	{ "CREATE DEFINER = CURRENT_USER TRIGGER tr AFTER UPDATE ON t FOR EACH ROW FOLLOWS x "
	  "SET NEW.a = 1",
	  0, B(CREATE) | B(CREATE_FUNCTION) | B(SET), 0, "t:w", "" },
	{ "CREATE EVENT e ON SCHEDULE EVERY 1 HOUR DO TRUNCATE t", 0,
	  B(CREATE) | B(CREATE_FUNCTION) | B(TRUNCATE), 0, "t:w", "" },
	{ "CREATE SEQUENCE s", 0, B(CREATE), 0, "s:w", "" },
	/* ---- roles and privileges */
	{ "CREATE USER 'bob'@'%' IDENTIFIED BY 'x'", 0, B(CREATE) | B(CREATE_ROLE), 0, "",
	  "" },
	{ "CREATE ROLE r", 0, B(CREATE) | B(CREATE_ROLE), 0, "", "" },
	{ "ALTER USER bob@localhost IDENTIFIED BY 'y'", 0, B(ALTER) | B(ALTER_ROLE), 0, "",
	  "" },
	{ "DROP USER IF EXISTS bob", 0, B(DROP) | B(DROP_ROLE), 0, "", "" },
	{ "DROP ROLE r", 0, B(DROP) | B(DROP_ROLE), 0, "", "" },
	{ "RENAME USER a TO b", 0, B(ALTER) | B(ALTER_ROLE), 0, "", "" },
	{ "SET PASSWORD FOR bob = PASSWORD('x')", 0, B(SET) | B(ALTER) | B(ALTER_ROLE), 0, "",
	  "password" },
	{ "SET DEFAULT ROLE r FOR bob", 0, B(SET) | B(ALTER) | B(ALTER_ROLE), 0, "", "" },
	{ "SET ROLE r", 0, B(SET), 0, "", "" },
	{ "GRANT SELECT (a) ON db.t TO bob", 0, B(GRANT), 0, "", "" },
	{ "GRANT ALL ON *.* TO bob WITH GRANT OPTION", 0, B(GRANT), 0, "", "" },
	{ "GRANT r TO bob", 0, B(GRANT), 0, "", "" },
	{ "REVOKE ALL PRIVILEGES ON *.* FROM bob", 0, B(REVOKE), 0, "", "" },
	/* ---- SET */
	{ "SET @a = 1", 0, B(SET), 0, "", "" },
	{ "SET @a := (SELECT MAX(x) FROM t)", 0, B(SET) | B(SELECT), 0, "t:r", "max" },
	{ "SET autocommit = 0, @@session.wait_timeout = 10", 0, B(SET), 0, "", "" },
	{ "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED", 0, B(SET), 0, "", "" },
	{ "SET GLOBAL max_connections = 1", 0, B(SET) | B(ALTER_SYSTEM), 0, "", "" },
	{ "SET @@global.max_connections = 1", 0, B(SET) | B(ALTER_SYSTEM), 0, "", "" },
	{ "SET @@GLOBAL . max_connections = 1", 0, B(SET) | B(ALTER_SYSTEM), 0, "", "" },
	{ "SET PERSIST max_connections = 1", 0, B(SET) | B(ALTER_SYSTEM), 0, "", "" },
	{ "SET a = 1, GLOBAL b = 2", 0, B(SET) | B(ALTER_SYSTEM), 0, "", "" },
	{ "SET GLOBAL TRANSACTION READ ONLY", 0, B(SET) | B(ALTER_SYSTEM), 0, "", "" },
	{ "SET sql_mode = 'ANSI_QUOTES'", 0, B(SET) | B(SET_LEXING), 0, "", "" },
	{ "SET SESSION sql_mode = ''", 0, B(SET) | B(SET_LEXING), 0, "", "" },
	{ "SET @@sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')", 0,
	  B(SET) | B(SET_LEXING), 0, "", "concat" },
	{ "SET @@`sql_mode` = ''", 0, B(SET) | B(SET_LEXING), 0, "", "" },
	{ "SET @@session.sql_mode = DEFAULT", 0, B(SET) | B(SET_LEXING), 0, "", "" },
	{ "set x = 1, character_set_client = sjis", 0, B(SET) | B(SET_LEXING), 0, "", "" },
	{ "SET NAMES sjis", 0, B(SET) | B(SET_LEXING), 0, "", "" },
	{ "SET NAMES 'gbk' COLLATE gbk_bin", 0, B(SET) | B(SET_LEXING), 0, "", "" },
	{ "SET NAMES DEFAULT", 0, B(SET) | B(SET_LEXING), 0, "", "" },
	{ "SET CHARACTER SET big5", 0, B(SET) | B(SET_LEXING), 0, "", "" },
	{ "SET CHARSET @cs", 0, B(SET) | B(SET_LEXING), 0, "", "" },
	{ "SET character_set_client = CONCAT('s', 'jis')", 0, B(SET) | B(SET_LEXING), 0, "",
	  "concat" },
	{ "SET @@session.character_set_client = DEFAULT", 0, B(SET) | B(SET_LEXING), 0, "",
	  "" },
	/* character sets the lexer reads alike change nothing it depends on */
	{ "/*!40101 SET NAMES utf8mb4 */", 0, B(SET), 0, "", "" },
	{ "SET NAMES 'utf8mb4' COLLATE 'utf8mb4_bin'", 0, B(SET), 0, "", "" },
	{ "SET CHARACTER SET latin1", 0, B(SET), 0, "", "" },
	{ "SET character_set_client = utf8mb4, character_set_connection = sjis", 0, B(SET), 0,
	  "", "" },
	{ "SET STATEMENT sql_mode = '' FOR SELECT * FROM t", 0,
	  B(SET) | B(SET_LEXING) | B(SELECT), 0, "t:r", "" },
	{ "SET STATEMENT max_statement_time = 1 FOR DELETE FROM t", 0, B(SET) | B(DELETE),
	  B(DELETE), "t:w", "" },
	{ "SET @sql_mode = 'x'", 0, B(SET), 0, "", "" },
	/* list items of every kind, in any order */
	{ "SET NAMES utf8mb4, @a = (SELECT SLEEP(1) FROM t)", 0, B(SET) | B(SELECT), 0, "t:r",
	  "sleep" },
	{ "SET autocommit = 1, NAMES sjis", 0, B(SET) | B(SET_LEXING), 0, "", "" },
	{ "SET @a = 1, CHARACTER SET big5", 0, B(SET) | B(SET_LEXING), 0, "", "" },
	{ "SET @a = 1, PASSWORD = PASSWORD('x')", 0, B(SET) | B(ALTER) | B(ALTER_ROLE), 0, "",
	  "password" },
	/* ---- SHOW, EXPLAIN, maintenance */
	{ "SHOW TABLES", 0, B(SHOW), 0, "", "" },
	{ "SHOW TABLES WHERE SLEEP(1) = 0", 0, B(SHOW), 0, "", "sleep" },
	{ "SHOW CREATE TABLE db.t", 0, B(SHOW), 0, "db.t:r", "" },
	{ "SHOW FULL COLUMNS FROM t FROM db LIKE 'a%'", 0, B(SHOW), 0, "db.t:r", "" },
	{ "SHOW INDEX IN `x`.`y`", 0, B(SHOW), 0, "x.y:r", "" },
	{ "SHOW TABLE STATUS FROM db", 0, B(SHOW), 0, "", "" },
	{ "DESC t", 0, B(SHOW), 0, "t:r", "" },
	{ "DESCRIBE db.t col", 0, B(SHOW), 0, "db.t:r", "" },
	{ "EXPLAIN SELECT * FROM t", 0, B(EXPLAIN) | B(SELECT), 0, "t:r", "" },
	{ "EXPLAIN FORMAT=JSON DELETE FROM t", 0, B(EXPLAIN) | B(DELETE), B(DELETE), "t:w",
	  "" },
	{ "ANALYZE DELETE FROM t", 0, B(EXPLAIN) | B(DELETE), B(DELETE), "t:w", "" },
	{ "ANALYZE TABLE t, u", 0, B(VACUUM), 0, "t:r u:r", "" },
	{ "OPTIMIZE TABLE t", 0, B(VACUUM), 0, "t:w", "" },
	{ "CHECK TABLE t", 0, B(VACUUM), 0, "t:r", "" },
	/* ---- CALL, PREPARE, EXECUTE */
	{ "CALL db.proc(1, SLEEP(2))", 0, B(CALL), 0, "", "db.proc sleep" },
	{ "call p", 0, B(CALL), 0, "", "p" },
	{ "PREPARE s FROM 'DROP TABLE t'", 0, B(PREPARE) | B(DROP), 0, "t:w", "" },
	{ "PREPARE s FROM \"SELECT * FROM t WHERE a = ?\"", 0, B(PREPARE) | B(SELECT), 0,
	  "t:r", "" },
	{ "PREPARE s FROM _utf8mb4'SELECT SLEEP(1)'", 0, B(PREPARE) | B(SELECT), 0, "",
	  "sleep" },
	{ "PREPARE s FROM @q", 0, BAD, 0, NULL, NULL },
	{ "PREPARE s FROM CONCAT('DR', 'OP TABLE t')", 0, BAD, 0, NULL, NULL },
	{ "PREPARE s FROM 'DR' 'OP TABLE t'", 0, BAD, 0, NULL, NULL },
	{ "PREPARE s FROM 'DR\\OP TABLE t'", 0, BAD, 0, NULL, NULL },
	{ "PREPARE s FROM 'SELECT ''x'''", 0, BAD, 0, NULL, NULL },
	{ "PREPARE s FROM 'SELECT 1; DROP TABLE t'", 0, BAD, 0, NULL, NULL },
	{ "PREPARE s FROM 'SELEC 1'", 0, BAD, 0, NULL, NULL },
	{ "PREPARE s FROM 0x44524f50205441424c452074", 0, BAD, 0, NULL, NULL },
	{ "EXECUTE s USING @a, @b", 0, B(EXECUTE), 0, "", "" },
	{ "EXECUTE IMMEDIATE 'SELECT SLEEP(1)'", 0, B(EXECUTE) | B(SELECT), 0, "", "sleep" },
	{ "EXECUTE IMMEDIATE @q", 0, BAD, 0, NULL, NULL },
	{ "DEALLOCATE PREPARE s", 0, B(DEALLOCATE), 0, "", "" },
	{ "DROP PREPARE s", 0, B(DEALLOCATE), 0, "", "" },
	/* ---- transactions, locks, sessions, admin */
	{ "BEGIN", 0, B(TRANSACTION), 0, "", "" },
	{ "BEGIN WORK", 0, B(TRANSACTION), 0, "", "" },
	{ "START TRANSACTION READ ONLY", 0, B(TRANSACTION), 0, "", "" },
	{ "START TRANSACTION WITH CONSISTENT SNAPSHOT", 0, B(TRANSACTION), 0, "", "" },
	{ "COMMIT AND NO CHAIN", 0, B(TRANSACTION), 0, "", "" },
	{ "ROLLBACK TO SAVEPOINT s", 0, B(TRANSACTION), 0, "", "" },
	{ "SAVEPOINT s", 0, B(TRANSACTION), 0, "", "" },
	{ "RELEASE SAVEPOINT s", 0, B(TRANSACTION), 0, "", "" },
	{ "XA START 'x'", 0, B(TRANSACTION), 0, "", "" },
	{ "XA RECOVER", 0, B(TRANSACTION), 0, "", "" },
	{ "BEGIN; DELETE FROM t WHERE a = 1; COMMIT", 0, B(TRANSACTION) | B(DELETE), 0, "t:w",
	  "" },
	{ "LOCK TABLES t READ, db.u AS x WRITE", 0, B(LOCK), 0, "t:w db.u:w", "" },
	{ "UNLOCK TABLES", 0, B(LOCK), 0, "", "" },
	{ "USE db", 0, B(USE), 0, "", "" },
	{ "KILL QUERY 12", 0, B(KILL), 0, "", "" },
	{ "KILL CONNECTION_ID()", 0, B(KILL), 0, "", "connection_id" },
	{ "FLUSH TABLES WITH READ LOCK", 0, B(FLUSH), 0, "", "" },
	{ "FLUSH PRIVILEGES", 0, B(FLUSH), 0, "", "" },
	{ "INSTALL SONAME 'ha_connect'", 0, B(INSTALL_PLUGIN), 0, "", "" },
	{ "UNINSTALL PLUGIN audit_log", 0, B(INSTALL_PLUGIN), 0, "", "" },
	{ "LOAD DATA INFILE '/etc/passwd' INTO TABLE t", 0, B(COPY_FROM_FILE), 0, "t:w", "" },
	{ "LOAD DATA LOCAL INFILE 'x.csv' IGNORE INTO TABLE db.t (a, @b) SET c = UPPER(@b)",
	  0, B(COPY_FROM_STDIN), 0, "db.t:w", "upper" },
	{ "LOAD XML LOCAL INFILE 'x.xml' INTO TABLE t", 0, B(COPY_FROM_STDIN), 0, "t:w", "" },
	{ "SELECT * FROM t INTO OUTFILE '/tmp/x'", 0, B(SELECT) | B(COPY_TO_FILE), 0, "t:r",
	  "" },
	{ "SELECT a INTO DUMPFILE '/tmp/x' FROM t", 0, B(SELECT) | B(COPY_TO_FILE), 0, "t:r",
	  "" },
	{ "SELECT LOAD_FILE('/etc/passwd'), BENCHMARK(1000000, MD5('x'))", 0, B(SELECT), 0,
	  "", "load_file benchmark md5" },
	{ "SELECT `SLEEP`(1), mydb.Fn(2)", 0, B(SELECT), 0, "", "sleep mydb.fn" },
	{ "SELECT sleep (1)", 0, B(SELECT), 0, "", "sleep" },
	/* ---- not understood: unparseable */
	{ "SHUTDOWN", 0, BAD, 0, NULL, NULL },
	{ "BEGIN NOT ATOMIC DROP TABLE t; END", 0, BAD, 0, NULL, NULL },
	{ "IF 1 THEN SELECT 1; END IF", 0, BAD, 0, NULL, NULL },
	{ "CREATE PROCEDURE p() BEGIN DROP TABLE t; END", 0, BAD, 0, NULL, NULL },
	{ "START SLAVE", 0, BAD, 0, NULL, NULL },
	{ "RESET MASTER", 0, BAD, 0, NULL, NULL },
	{ "LOAD INDEX INTO CACHE t", 0, BAD, 0, NULL, NULL },
	{ "SELECT (1", 0, BAD, 0, NULL, NULL },
	{ "SELECT 1)", 0, BAD, 0, NULL, NULL },
	{ "", 0, 0, 0, "", "" },
	{ " ; ;", 0, 0, 0, "", "" },
	/* ---- comments and executable comments (MariaDB 10.11) */
	{ "SELECT 1 /*!50000 , SLEEP(5) */", 0, B(SELECT), 0, "", "sleep" },
	{ "SELECT 1 /*! , SLEEP(5) */", 0, B(SELECT), 0, "", "sleep" },
	{ "SELECT 1 /*M! , SLEEP(5) */", 0, B(SELECT), 0, "", "sleep" },
	{ "SELECT 1 /*M!100100 , SLEEP(5) */", 0, B(SELECT), 0, "", "sleep" },
	{ "SELECT 1 /*M!999999 , SLEEP(5) */", 0, B(SELECT), 0, "", "" },
	{ "/*!99999 DROP TABLE t */ SELECT 1", 0, B(SELECT), 0, "", "" },
	{ "/*!50700 DROP TABLE t */ SELECT 1", 0, B(SELECT), 0, "", "" },
	{ "/*!50699 DROP TABLE t */", 0, B(DROP), 0, "t:w", "" },
	{ "/*!100000 DROP TABLE t */", 0, B(DROP), 0, "t:w", "" },
	{ "/*!101101 DROP TABLE t */ SELECT 1", 0, B(SELECT), 0, "", "" },
	{ "/*M!50700 DROP TABLE t */", 0, B(DROP), 0, "t:w", "" },
	{ "/*!50000DROP*//*!50000 TABLE t*/", 0, B(DROP), 0, "t:w", "" },
	{ "/*!99999 /* nested */ DROP TABLE t */ SELECT 1", 0, B(SELECT), 0, "", "" },
	{ "/* DROP /* TABLE t */ SELECT 1", 0, B(SELECT), 0, "", "" },
	{ "/*!SELECT /* c */ 1 */", 0, B(SELECT), 0, "", "" },
	{ "SELECT 1 /*! # */\n, SLEEP(1) */", 0, B(SELECT), 0, "", "sleep" },
	{ "SELECT 1 /*! # */ ; DROP TABLE t", 0, BAD, 0, NULL, NULL },
	{ "SELECT 1 /*! ; DROP TABLE t; */", 0, BAD, 0, NULL, NULL },
	/* the server runs "DROP TABLE t *" "/": a syntax error; reporting the DROP is safe */
	{ "SELECT 1 /*! ; DROP TABLE t */", 0, B(SELECT) | B(DROP), 0, "t:w", "" },
	{ "SELECT 1 /*!", 0, BAD, 0, NULL, NULL },
	{ "SELECT 1 /* x", 0, BAD, 0, NULL, NULL },
	{ "/* DROP TABLE users */ SELECT 1", 0, B(SELECT), 0, "", "" },
	{ "/*+ hint */ SELECT 1", 0, B(SELECT), 0, "", "" },
	{ "SELECT 1 -- x\n; DROP TABLE t", 0, B(SELECT) | B(DROP), 0, "t:w", "" },
	{ "SELECT 1 --x", 0, B(SELECT), 0, "", "" },
	{ "SELECT 1 --\tx\n", 0, B(SELECT), 0, "", "" },
	{ "SELECT 1 --", 0, B(SELECT), 0, "", "" },
	{ "SELECT 1 --; DROP TABLE t", 0, B(SELECT) | B(DROP), 0, "t:w", "" },
	{ "SELECT 1 -- ; DROP TABLE t", 0, B(SELECT), 0, "", "" },
	{ "SELECT 1 # ; DROP TABLE t", 0, B(SELECT), 0, "", "" },
	{ "SELECT 1 # x\n; DROP TABLE t", 0, B(SELECT) | B(DROP), 0, "t:w", "" },
	{ "-- DROP TABLE t\nSELECT 1", 0, B(SELECT), 0, "", "" },
	{ "SELECT 2 */ 3", 0, B(SELECT), 0, "", "" },
	/* ---- MySQL 8 reads versioned comments by version alone */
	{ "/*!50700 DROP TABLE t */", MYSQL8, B(DROP), 0, "t:w", "" },
	{ "/*!80037 DROP TABLE t */ SELECT 1", MYSQL8, B(SELECT), 0, "", "" },
	{ "/*M! DROP TABLE t */ SELECT 1", MYSQL8, B(SELECT), 0, "", "" },
	{ "/*!800001 DROP TABLE t */", MYSQL8, BAD, 0, NULL, NULL },
	/* MariaDB reads six digits at most: version 100100, and "0 DROP ..." runs */
	{ "/*!1001000 DROP TABLE t */ SELECT 1", 0, BAD, 0, NULL, NULL },
	{ "SELECT 1 /*!1001000 */", 0, B(SELECT), 0, "", "" },
	/* ---- strings, escapes and sql_mode */
	{ "SELECT 'a\\';DROP TABLE t;--'", 0, B(SELECT), 0, "", "" },
	{ "SELECT 'a\\';DROP TABLE t;-- '", NB, B(SELECT) | B(DROP), 0, "t:w", "" },
	{ "SELECT 'a\\';DROP TABLE t;--'", NB, BAD, 0, NULL, NULL },
	{ "SELECT \"a\\\";DROP TABLE t;-- \"", 0, B(SELECT), 0, "", "" },
	{ "SELECT 'it''s; DROP TABLE t'", 0, B(SELECT), 0, "", "" },
	{ "SELECT 'drop table users; delete from t'", 0, B(SELECT), 0, "", "" },
	{ "SELECT 'DROP TABLE x'", 0, B(SELECT), 0, "", "" },
	{ "SELECT \"DROP TABLE x\"", 0, B(SELECT), 0, "", "" },
	{ "SELECT \"x\" FROM t", AQ, B(SELECT), 0, "t:r", "" },
	{ "SELECT \"x\"\"; DROP TABLE t; -- \"", AQ, B(SELECT), 0, "", "" },
	{ "SELECT * FROM \"my\".\"t\"", AQ, B(SELECT), 0, "my.t:r", "" },
	{ "SELECT \"sleep\"(1)", AQ, B(SELECT), 0, "", "sleep" },
	{ "SELECT \"sleep\"(1)", 0, B(SELECT), 0, "", "" },
	{ "SELECT 'a\\\\'; DROP TABLE t", 0, B(SELECT) | B(DROP), 0, "t:w", "" },
	{ "SELECT 'unterminated", 0, BAD, 0, NULL, NULL },
	{ "SELECT `unterminated", 0, BAD, 0, NULL, NULL },
	{ "SELECT ``", 0, BAD, 0, NULL, NULL },
	{ "SELECT _utf8mb4'x', _binary'y', N'z', n'w', _latin1 'v'", 0, B(SELECT), 0, "", "" },
	{ "SELECT N'\\'; DROP TABLE t; -- '", 0, B(SELECT), 0, "", "" },
	{ "SELECT X'4142', x'', 0x41, 0b101, b'01', B'1'", 0, B(SELECT), 0, "", "" },
	{ "SELECT X'414'", 0, BAD, 0, NULL, NULL },
	{ "SELECT X'41\\'; DROP TABLE t; -- '", 0, BAD, 0, NULL, NULL },
	{ "SELECT b'12'", 0, BAD, 0, NULL, NULL },
	{ "SELECT 0x41g FROM t", 0, B(SELECT), 0, "t:r", "" },
	{ "SELECT 1e5, 1.5e-3, .5, 2.", 0, B(SELECT), 0, "", "" },
	{ "SELECT 1.5e", 0, BAD, 0, NULL, NULL },
	{ "SELECT 1abc FROM 2t", 0, B(SELECT), 0, "2t:r", "" },
	{ "SELECT t.1e5 FROM t", 0, B(SELECT), 0, "t:r", "" },
	{ "SELECT @v, @'quoted;', @`q`, @a.b, @@global.max_connections, @@sql_mode", 0,
	  B(SELECT), 0, "", "" },
	{ "SELECT \\N", 0, B(SELECT), 0, "", "" },
	{ "SELECT @\"a\\\"; DROP TABLE t; -- \"", AQ, B(SELECT) | B(DROP), 0, "t:w", "" },
	{ "SELECT @\"a\\\"; DROP TABLE t; -- \"", 0, B(SELECT), 0, "", "" },
	{ "SELECT 1 \\; DROP TABLE t", 0, BAD, 0, NULL, NULL },
	{ "SELECT @x := 1", 0, B(SELECT), 0, "", "" },
	/* ---- quoted names */
	{ "SELECT `a;b``c`, `drop_count`, drop_count FROM `my db`.`t;1`", 0, B(SELECT), 0,
	  "my~db.t;1:r", "" },
	{ "SELECT * FROM `drop`", 0, B(SELECT), 0, "drop:r", "" },
	{ "SELECT * FROM `x'; DROP TABLE t; --`", 0, B(SELECT), 0, "x';~DROP~TABLE~t;~--:r",
	  "" },
	{ "SELECT * FROM t WHERE `sleep` = 1", 0, B(SELECT), 0, "t:r", "" },
	{ "SELECT truncate(1.5, 0)", 0, B(SELECT), 0, "", "truncate" },
	/* ---- multi-statements */
	{ "SELECT 1; DROP TABLE t", 0, B(SELECT) | B(DROP), 0, "t:w", "" },
	{ "SELECT 1;\n-- comment line\nDROP TABLE t;", 0, B(SELECT) | B(DROP), 0, "t:w", "" },
	{ "SELECT 1; SELEC 2", 0, BAD, 0, NULL, NULL },
	{ "select 1; delete from t; truncate u", 0, B(SELECT) | B(DELETE) | B(TRUNCATE),
	  B(DELETE), "t:w u:w", "" },
};

static struct rg_myclass *cls;

static struct rg_sql_facts run_case(const struct tc *t, unsigned flags)
{
	struct rg_my_lexing lx = { 101100, RG_MY_MARIADB, t->modes & 0xff };
	if (t->modes & MYSQL8)
		lx = (struct rg_my_lexing){ 80036, RG_MY_MYSQL, t->modes & 0xff };
	struct rg_sql_facts f;
	assert_int_equal(rg_myclass_run(cls, &lx, t->sql, strlen(t->sql), flags, &f), 0);
	return f;
}

static void describe(const struct rg_sql_facts *f, char *buf, size_t cap)
{
	size_t n = (size_t)snprintf(buf, cap, "status %d ops", f->status);
	for (int i = 0; i < RG_OP__COUNT && n < cap; i++)
		if (f->ops & RG_OP_BIT(i))
			n += (size_t)snprintf(buf + n, cap - n, " %s", rg_sql_op_name(i));
	n += (size_t)snprintf(buf + n, cap - n, " | nowhere %#llx | tables",
			      (unsigned long long)f->ops_without_where);
	for (size_t i = 0; i < f->ntables && n < cap; i++)
		n += (size_t)snprintf(buf + n, cap - n, " %s%s%s:%d",
				      f->tables[i].schema ? f->tables[i].schema : "",
				      f->tables[i].schema ? "." : "", f->tables[i].name,
				      f->tables[i].access);
	n += (size_t)snprintf(buf + n, cap - n, " | funcs");
	for (size_t i = 0; i < f->nfunctions && n < cap; i++)
		n += (size_t)snprintf(buf + n, cap - n, " %s%s%s",
				      f->functions[i].schema ? f->functions[i].schema : "",
				      f->functions[i].schema ? "." : "", f->functions[i].name);
}

/* Does the set spec equal the names? Items are separated by spaces, '~' in an item is a
 * space of the name, a '.' splits schema and name (tables: after the first '.'), and
 * tables end in :r, :w or :rw. */
static bool same_set(const char *spec, const struct rg_sql_name *v, size_t n, bool tables)
{
	char buf[512];
	size_t count = 0;
	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *save = NULL, *it = strtok_r(buf, " ", &save); it;
	     it = strtok_r(NULL, " ", &save)) {
		for (char *q = it; *q; q++)
			if (*q == '~')
				*q = ' ';
		int access = 0;
		if (tables) {
			char *colon = strrchr(it, ':');
			if (!colon)
				return false;
			*colon = 0;
			access = (strchr(colon + 1, 'r') ? RG_ACCESS_READ : 0) |
				 (strchr(colon + 1, 'w') ? RG_ACCESS_WRITE : 0);
		}
		char *dot = strchr(it, '.');
		const char *schema = NULL, *name = it;
		if (dot) {
			*dot = 0;
			schema = it;
			name = dot + 1;
		}
		bool found = false;
		for (size_t k = 0; k < n && !found; k++)
			found = strcmp(v[k].name, name) == 0 &&
				((!schema && !v[k].schema) ||
				 (schema && v[k].schema && strcmp(schema, v[k].schema) == 0)) &&
				(!tables || v[k].access == access);
		if (!found)
			return false;
		count++;
	}
	return count == n;
}

static void test_table_of_statements(void **state)
{
	(void)state;
	int failed = 0;
	char d[1024];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct tc *t = &cases[i];
		struct rg_sql_facts f = run_case(t, 0);
		bool ok;
		if (t->ops == BAD) {
			ok = f.status == RG_SQL_UNPARSEABLE && f.ops == B(UNKNOWN) &&
			     f.ntables == 0 && f.nfunctions == 0;
		} else {
			ok = f.status == RG_SQL_OK && f.ops == t->ops &&
			     f.ops_without_where == t->nowhere &&
			     (!t->tables || same_set(t->tables, f.tables, f.ntables, true)) &&
			     (!t->funcs || same_set(t->funcs, f.functions, f.nfunctions, false));
		}
		if (!ok) {
			describe(&f, d, sizeof(d));
			fprintf(stderr, "case %zu: %s\n  got: %s\n", i, t->sql, d);
			failed++;
		}
	}
	assert_int_equal(failed, 0);
}

/* Every operation reported has one of its prefilter keywords in the text (names.c), or a
 * Hyperscan prefilter built from the table would let the statement through unparsed. */
static void test_prefilter_keywords_hold(void **state)
{
	(void)state;
	int failed = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rg_sql_facts f = run_case(&cases[i], 0);
		if (f.status != RG_SQL_OK)
			continue;
		for (int op = 0; op < RG_OP__COUNT; op++) {
			if (!(f.ops & RG_OP_BIT(op)))
				continue;
			const char *const *kw = rg_sql_op_keywords((enum rg_sql_op)op);
			bool hit = false;
			for (; kw && *kw && !hit; kw++)
				hit = strcasestr(cases[i].sql, *kw) != NULL;
			if (!hit) {
				fprintf(stderr, "no keyword of %s in: %s\n", rg_sql_op_name(op),
					cases[i].sql);
				failed++;
			}
		}
	}
	assert_int_equal(failed, 0);
}

/* Normalizing the normalized text changes nothing; literals do not change fingerprints;
 * comments and executable comment markers are gone. */
static void test_normalization(void **state)
{
	(void)state;
	static char first[4096];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rg_sql_facts f = run_case(&cases[i], RG_SQLCLASS_NORMALIZE);
		if (f.status != RG_SQL_OK)
			continue;
		assert_true(f.normalized_len < sizeof(first));
		memcpy(first, f.normalized, f.normalized_len + 1);
		struct tc again = { first, 0, 0, 0, NULL, NULL };
		struct rg_sql_facts g = run_case(&again, RG_SQLCLASS_NORMALIZE);
		assert_int_equal(g.status, RG_SQL_OK);
		if (strcmp(first, g.normalized) != 0)
			fprintf(stderr, "not idempotent: %s\n  %s\n  %s\n", cases[i].sql, first,
				g.normalized);
		assert_string_equal(first, g.normalized);
	}
	struct tc a = { "SELECT * FROM t WHERE a = 'x' /* c */ AND b IN (1, 2)", 0, 0, 0,
			NULL, NULL };
	struct tc b = { "SELECT  *  FROM t WHERE a = 'yy' AND b IN (3, 4) -- z", 0, 0, 0,
			NULL, NULL };
	struct rg_sql_facts fa = run_case(&a, RG_SQLCLASS_FINGERPRINT | RG_SQLCLASS_NORMALIZE);
	assert_string_equal(fa.normalized, "SELECT * FROM t WHERE a = ? AND b IN ( ? , ? )");
	assert_int_equal(fa.nfingerprints, 1);
	uint64_t fpa = fa.fingerprints[0];
	struct rg_sql_facts fb = run_case(&b, RG_SQLCLASS_FINGERPRINT);
	assert_int_equal(fb.nfingerprints, 1);
	assert_true(fpa == fb.fingerprints[0]);
	struct tc m = { "SELECT 1; /*!50000 DELETE FROM `t``x` */", 0, 0, 0, NULL, NULL };
	struct rg_sql_facts fm = run_case(&m, RG_SQLCLASS_FINGERPRINT | RG_SQLCLASS_NORMALIZE);
	assert_string_equal(fm.normalized, "SELECT ?; DELETE FROM `t``x`");
	assert_int_equal(fm.nfingerprints, 2);
	assert_true(fm.fingerprints[0] != fm.fingerprints[1]);
	/* operators stay whole; a minus before a minus never becomes a comment marker */
	struct tc o = { "SELECT a FROM t WHERE a>=1 AND b <> 2 AND c<=>3 AND d != 4 AND e--5 OR f||g",
			0, 0, 0, NULL, NULL };
	struct rg_sql_facts fo = run_case(&o, RG_SQLCLASS_NORMALIZE);
	assert_string_equal(fo.normalized, "SELECT a FROM t WHERE a >= ? AND b <> ? AND c <=> ? "
					   "AND d != ? AND e - - ? OR f || g");
}

static void test_validate_only_has_no_facts(void **state)
{
	(void)state;
	struct tc t = { "SELECT sleep(1) FROM t; DROP TABLE u", 0, 0, 0, NULL, NULL };
	struct rg_sql_facts f = run_case(&t, RG_SQLCLASS_VALIDATE_ONLY);
	assert_int_equal(f.status, RG_SQL_OK);
	assert_int_equal(f.nstmts, 2);
	assert_int_equal(f.ops, 0);
	assert_int_equal(f.ntables, 0);
	struct tc bad = { "SHUTDOWN", 0, 0, 0, NULL, NULL };
	f = run_case(&bad, RG_SQLCLASS_VALIDATE_ONLY);
	assert_int_equal(f.status, RG_SQL_UNPARSEABLE);
}

static void test_nul_bytes_fail_closed(void **state)
{
	(void)state;
	struct rg_my_lexing lx = { 101100, RG_MY_MARIADB, 0 };
	struct rg_sql_facts f;
	static const char outside[] = "SELECT 1\0; DROP TABLE t";
	assert_int_equal(rg_myclass_run(cls, &lx, outside, sizeof(outside) - 1, 0, &f), 0);
	assert_int_equal(f.status, RG_SQL_UNPARSEABLE);
	static const char comment[] = "SELECT 1 # x\0\n; DROP TABLE t";
	assert_int_equal(rg_myclass_run(cls, &lx, comment, sizeof(comment) - 1, 0, &f), 0);
	assert_int_equal(f.status, RG_SQL_UNPARSEABLE);
	static const char in_string[] = "SELECT 'a\0b' FROM t";
	assert_int_equal(rg_myclass_run(cls, &lx, in_string, sizeof(in_string) - 1, 0, &f), 0);
	assert_int_equal(f.status, RG_SQL_OK);
	assert_int_equal(f.ops, B(SELECT));
	/* the length is the caller's: text past it is not read */
	assert_int_equal(rg_myclass_run(cls, &lx, "DROP TABLE t", 4, 0, &f), 0);
	assert_int_equal(f.status, RG_SQL_UNPARSEABLE);
}

static void test_lexer_tokens(void **state)
{
	(void)state;
	struct rg_my_lexing lx = { 101100, RG_MY_MARIADB, 0 };
	const struct rg_my_tok *t;
	size_t n;
	const char *sql = "SELECT `a``b`, 'x\\'y', @v /*! , 1e5 */; -- c\n:=";
	assert_int_equal(rg_my_lex(cls, &lx, sql, strlen(sql), &t, &n), 0);
	static const enum rg_my_tok_kind want[] = {
		RG_MY_TOK_WORD,	   RG_MY_TOK_QIDENT,  RG_MY_TOK_PUNCT, RG_MY_TOK_STRING,
		RG_MY_TOK_PUNCT,   RG_MY_TOK_USERVAR, RG_MY_TOK_PUNCT, RG_MY_TOK_LITERAL,
		RG_MY_TOK_SEMI,	   RG_MY_TOK_PUNCT,
	};
	assert_int_equal(n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < n; i++)
		assert_int_equal(t[i].kind, want[i]);
	assert_int_equal(t[1].len, 6);
	assert_int_equal(t[9].len, 2);
	assert_int_equal(rg_my_lex(cls, &lx, "'x", 2, &t, &n), RG_SQL_UNPARSEABLE);
	assert_int_equal(n, 0);
}

static void test_session_helpers(void **state)
{
	(void)state;
	unsigned fl;
	assert_int_equal(rg_my_sql_mode_flags("STRICT_TRANS_TABLES,ANSI_QUOTES", 31, &fl), 0);
	assert_int_equal(fl, RG_MY_ANSI_QUOTES);
	const char *m = "NO_BACKSLASH_ESCAPES,ansi";
	assert_int_equal(rg_my_sql_mode_flags(m, strlen(m), &fl), 0);
	assert_int_equal(fl, RG_MY_ANSI_QUOTES | RG_MY_NO_BACKSLASH_ESCAPES);
	assert_int_equal(rg_my_sql_mode_flags("", 0, &fl), 0);
	assert_int_equal(fl, 0);
	m = "PIPES_AS_CONCAT,ORACLE";
	assert_int_equal(rg_my_sql_mode_flags(m, strlen(m), &fl), -ENOTSUP);
	m = "MSSQL";
	assert_int_equal(rg_my_sql_mode_flags(m, strlen(m), &fl), -ENOTSUP);
	assert_true(rg_my_charset_safe("utf8mb4"));
	assert_true(rg_my_charset_safe("LATIN1"));
	assert_false(rg_my_charset_safe("sjis"));
	assert_false(rg_my_charset_safe("gbk"));
	assert_false(rg_my_charset_safe("big5"));

	struct tc set = { "SET NAMES gbk", 0, 0, 0, NULL, NULL };
	struct tc utf = { "SET NAMES utf8mb4", 0, 0, 0, NULL, NULL };
	struct rg_sql_facts u = run_case(&utf, 0);
	assert_false(rg_myclass_changes_lexing(&u));
	struct rg_sql_facts f = run_case(&set, 0);
	assert_true(rg_myclass_changes_lexing(&f));
	struct tc sel = { "SELECT @@sql_mode", 0, 0, 0, NULL, NULL };
	f = run_case(&sel, 0);
	assert_false(rg_myclass_changes_lexing(&f));
	struct tc bad = { "SELECT '", 0, 0, 0, NULL, NULL };
	f = run_case(&bad, 0);
	assert_true(rg_myclass_changes_lexing(&f));
}

static void test_op_names(void **state)
{
	(void)state;
	assert_string_equal(rg_sql_op_name(RG_OP_KILL), "kill");
	assert_string_equal(rg_sql_op_name(RG_OP_FLUSH), "flush");
	assert_string_equal(rg_sql_op_name(RG_OP_INSTALL_PLUGIN), "install_plugin");
	assert_string_equal(rg_sql_op_name(RG_OP_USE), "use");
	assert_int_equal(rg_sql_op_from_name("use"), RG_OP_USE);
	assert_true(RG_OP__COUNT <= 64);
}

static int setup(void **state)
{
	(void)state;
	cls = rg_myclass_new();
	return cls ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	rg_myclass_free(cls);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_of_statements),
		cmocka_unit_test(test_prefilter_keywords_hold),
		cmocka_unit_test(test_normalization),
		cmocka_unit_test(test_validate_only_has_no_facts),
		cmocka_unit_test(test_nul_bytes_fail_closed),
		cmocka_unit_test(test_lexer_tokens),
		cmocka_unit_test(test_session_helpers),
		cmocka_unit_test(test_op_names),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
