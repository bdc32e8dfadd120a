/*
 * mysqlclass: what a MySQL/MariaDB SQL string does, read the way the server's own lexer
 * reads it.
 *
 * No C library parses MySQL's dialect, so this file pair owns a lexer that follows the
 * server's (sql_lex.cc) on every point where a naive tokenizer goes wrong, and a statement
 * classifier that fills the same struct rg_sql_facts as the PostgreSQL classifier
 * (sqlclass.h), so one rule set applies to both protocols. The lexer depends on session
 * state the gateway must track: the server version (versioned comments), sql_mode
 * (ANSI_QUOTES, NO_BACKSLASH_ESCAPES) and the client character set (only ASCII-safe ones
 * are understood). Pure functions over a buffer; a context is per thread and reuses its
 * buffers (no allocation per call in steady state).
 *
 * Fail closed: a string the lexer cannot follow (unterminated string, identifier or
 * comment, a NUL byte outside a string literal, a strict literal the server aborts on), a
 * statement whose start is not one listed below, a compound statement (BEGIN ... END bodies,
 * MariaDB's anonymous blocks, IF/WHILE/LOOP/REPEAT/CASE outside a routine), or SQL text the
 * classifier cannot see (PREPARE or EXECUTE IMMEDIATE from anything but a plain string
 * literal) is RG_SQL_UNPARSEABLE, which the policy denies unless a rule allows `unknown`.
 *
 * Operations, as the rules name them (the PostgreSQL kind is reused wherever MySQL has the
 * same effect, so the same rule covers both protocols):
 *   SELECT, TABLE, VALUES, WITH ... SELECT, (SELECT ...), DO expr, HANDLER  -> select
 *   INSERT, REPLACE                          -> insert (target written, sources read)
 *   UPDATE, DELETE (single and multi-table)  -> update / delete, ops_without_where if no
 *                                               WHERE at the statement's own level
 *   DROP, TRUNCATE, ALTER, CREATE, RENAME TABLE -> drop / truncate / alter / create / alter
 *   CREATE/ALTER/DROP/RENAME USER and ROLE, SET PASSWORD, SET DEFAULT ROLE
 *                                            -> create_role / alter_role / drop_role (+ the
 *                                               general kind)
 *   CREATE FUNCTION/PROCEDURE/TRIGGER/EVENT  -> create + create_function, and the body's
 *                                               facts when it is one statement or RETURN
 *                                               expr (a compound body is unparseable);
 *                                               CALL is its own op
 *   GRANT, REVOKE                            -> grant / revoke
 *   SET (any variable)                       -> set; SET GLOBAL/PERSIST/PERSIST_ONLY and
 *                                               @@global./@@persist. targets add alter_system
 *                                               (server-wide settings, as ALTER SYSTEM)
 *   SET sql_mode (any scope, also in SET STATEMENT ... FOR), and NAMES, CHARACTER SET or
 *   character_set_client to anything but a safe set (rg_my_charset_safe) or to a value
 *   not known from the text                  -> set + set_lexing (rg_myclass_changes_lexing)
 *   LOAD DATA/XML INFILE (server file)       -> copy_from_file, table written
 *   LOAD DATA/XML LOCAL INFILE (client file) -> copy_from_stdin, table written
 *   SELECT ... INTO OUTFILE/DUMPFILE         -> copy_to_file (+ select)
 *   SHOW, DESCRIBE/DESC/EXPLAIN table        -> show (SHOW COLUMNS/INDEX FROM t, SHOW
 *                                               CREATE TABLE/VIEW t and DESCRIBE t read t)
 *   EXPLAIN/DESCRIBE/ANALYZE statement       -> explain + the statement's own facts
 *   ANALYZE/OPTIMIZE/REPAIR/CHECK/CHECKSUM TABLE -> vacuum
 *   CALL p(...)                              -> call, p reported as a function
 *   PREPARE s FROM 'text'                    -> prepare + the facts of 'text'
 *   EXECUTE s, EXECUTE IMMEDIATE 'text'      -> execute (+ the facts of 'text')
 *   DEALLOCATE/DROP PREPARE                  -> deallocate
 *   BEGIN, START TRANSACTION, COMMIT, ROLLBACK, SAVEPOINT, RELEASE, XA -> transaction
 *   LOCK TABLES, UNLOCK TABLES               -> lock (locked tables written)
 *   USE db, KILL, FLUSH, INSTALL/UNINSTALL PLUGIN|SONAME (and CREATE FUNCTION ... SONAME)
 *                                            -> use / kill / flush / install_plugin
 * Functions: every name( that is not a keyword construct, lower-cased, with its schema as
 * written when qualified. Tables: schema.name with quotes removed, case kept (table names
 * are case-sensitive on Linux); CTE names are not tables.
 */
#ifndef RG_POLICY_MYSQLCLASS_H
#define RG_POLICY_MYSQLCLASS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sqlclass.h"

enum rg_my_dialect {
	RG_MY_MARIADB = 0, /* MariaDB: M! comments run; ! comments 50700..99999 never do */
	RG_MY_MYSQL = 1,   /* MySQL: !NNNNN runs when NNNNN <= version (a sixth digit is
			    * ambiguous across versions: unparseable); M! is a comment */
};

/* sql_mode flags that change how text is lexed */
#define RG_MY_ANSI_QUOTES 0x1u		/* "x" is an identifier, not a string */
#define RG_MY_NO_BACKSLASH_ESCAPES 0x2u /* \ is an ordinary character in strings */

/* How the session's server reads text: what the gateway tracks per session. */
struct rg_my_lexing {
	uint32_t server_version; /* as in versioned comments: 101100 for 10.11.0 */
	enum rg_my_dialect dialect;
	unsigned modes; /* RG_MY_* sql_mode flags */
};

/* Token kinds of the lexer; literals are all RG_MY_TOK_LITERAL except strings. */
enum rg_my_tok_kind {
	RG_MY_TOK_WORD = 1, /* unquoted identifier or keyword */
	RG_MY_TOK_QIDENT,   /* `x`, or "x" under ANSI_QUOTES */
	RG_MY_TOK_STRING,   /* 'x', "x", N'x' */
	RG_MY_TOK_LITERAL,  /* numbers, X'..', 0x.., B'..', 0b.., \N */
	RG_MY_TOK_USERVAR,  /* @v, @'v', @`v` */
	RG_MY_TOK_SYSVAR,   /* @@v; the scope form is @@global . v (three tokens) */
	RG_MY_TOK_PUNCT,    /* one character, or := */
	RG_MY_TOK_SEMI,	    /* ; ending a statement */
};

/* Two tokens are adjacent (nothing between them, as in a.b) when one's off + len is the
 * other's off. */
struct rg_my_tok {
	uint32_t kind;	   /* enum rg_my_tok_kind */
	uint32_t off, len; /* the token's text in the input */
};

struct rg_myclass;

struct rg_myclass *rg_myclass_new(void);
void rg_myclass_free(struct rg_myclass *c);

/*
 * Tokens of sql[0..len) as the server lexes it under lx: comments removed, executable
 * comments' content kept, statements ended by RG_MY_TOK_SEMI. *toks is valid until the next
 * call on c. Returns 0, RG_SQL_UNPARSEABLE (the lexer cannot follow the text: nothing is
 * listed), or -ENOMEM / -E2BIG (more than 2^31 bytes).
 */
int rg_my_lex(struct rg_myclass *c, const struct rg_my_lexing *lx, const char *sql, size_t len,
	      const struct rg_my_tok **toks, size_t *n);

/*
 * Classify sql[0..len) under lx. flags: RG_SQLCLASS_FINGERPRINT (one xxh3 per statement of
 * its normalized text), RG_SQLCLASS_NORMALIZE (the whole string normalized: literals made
 * ?, comments dropped, executed comments inlined, tokens separated by one space, statements
 * by "; "), RG_SQLCLASS_VALIDATE_ONLY (status and nstmts only). Fills *out; its pointers
 * stay valid until the next call on c. Returns 0 or -ENOMEM.
 */
int rg_myclass_run(struct rg_myclass *c, const struct rg_my_lexing *lx, const char *sql, size_t len,
		   unsigned flags, struct rg_sql_facts *out);

/*
 * The statement(s) behind f may change how later text is lexed (sql_mode, character set
 * client): the caller must fail closed, or re-track the session's state after it runs (the
 * server reports both in the OK packet's session state when session_track_system_variables
 * names them). True also for an unparseable f.
 */
bool rg_myclass_changes_lexing(const struct rg_sql_facts *f);

/*
 * A sql_mode value ("ANSI_QUOTES,STRICT_TRANS_TABLES") to RG_MY_* flags: ANSI (which
 * implies ANSI_QUOTES) and the two lexing modes are read, other modes ignored. Returns 0, or
 * -ENOTSUP when the value holds ORACLE or MSSQL (MariaDB lexes and parses differently under
 * them: fail closed).
 */
int rg_my_sql_mode_flags(const char *mode, size_t len, unsigned *flags);

/* A client character set this lexer reads correctly (ASCII-compatible, no multibyte
 * character can contain a quote or backslash byte): utf8mb4, utf8mb3, utf8, latin1, ascii,
 * binary. false for sjis, cp932, big5, gbk, gb18030 and anything unknown. */
bool rg_my_charset_safe(const char *name);

#endif
