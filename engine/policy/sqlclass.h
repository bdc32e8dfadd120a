/*
 * sqlclass: what a SQL string does, from PostgreSQL's own parser (libpg_query).
 *
 * Owns the one place where SQL is understood. Input is any client string (possibly many
 * statements); output is a set of facts: operations (every place they occur: multi-statement
 * strings, CTEs, EXPLAIN, PREPARE bodies, CREATE RULE actions), UPDATE/DELETE without WHERE,
 * tables with read/write access, functions called, per-statement fingerprints. Never looks at
 * raw text with patterns: a string the parser rejects is RG_SQL_UNPARSEABLE, and callers fail
 * closed on it. A context is per thread and reuses its buffers: no allocation per call in
 * steady state in our code (libpg_query allocates internally).
 */
#ifndef RG_POLICY_SQLCLASS_H
#define RG_POLICY_SQLCLASS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Operation kinds. A specific kind also sets its general kind (CREATE ROLE sets both
 * RG_OP_CREATE_ROLE and RG_OP_CREATE). Order is part of the bundle format: append only. */
enum rg_sql_op {
	RG_OP_UNKNOWN = 0,	/* the parser rejected the string */
	RG_OP_SELECT,		/* SELECT, TABLE x, VALUES */
	RG_OP_INSERT,
	RG_OP_UPDATE,
	RG_OP_DELETE,
	RG_OP_MERGE,
	RG_OP_DROP,		/* DROP of any object, incl. DROP ROLE/OWNED */
	RG_OP_TRUNCATE,
	RG_OP_ALTER,		/* ALTER of any object, incl. ALTER ROLE/SYSTEM */
	RG_OP_CREATE,		/* CREATE of any object, incl. CREATE ROLE/RULE/FUNCTION */
	RG_OP_GRANT,		/* GRANT privileges or role membership */
	RG_OP_REVOKE,
	RG_OP_CREATE_ROLE,	/* CREATE ROLE/USER/GROUP */
	RG_OP_ALTER_ROLE,	/* ALTER ROLE/USER/GROUP, incl. ALTER ROLE ... SET */
	RG_OP_DROP_ROLE,
	RG_OP_ALTER_SYSTEM,
	RG_OP_COPY_TO_FILE,	/* COPY ... TO 'server file' */
	RG_OP_COPY_FROM_FILE,	/* COPY ... FROM 'server file' */
	RG_OP_COPY_PROGRAM,	/* COPY ... TO/FROM PROGRAM */
	RG_OP_COPY_TO_STDOUT,
	RG_OP_COPY_FROM_STDIN,
	RG_OP_DO,		/* DO block; its body is opaque */
	RG_OP_CALL,
	RG_OP_SET,		/* SET, RESET, SET LOCAL, SET ROLE, SET SESSION AUTHORIZATION */
	RG_OP_PREPARE,
	RG_OP_EXECUTE,
	RG_OP_DEALLOCATE,
	RG_OP_EXPLAIN,
	RG_OP_CREATE_RULE,
	RG_OP_CREATE_FUNCTION,	/* CREATE [OR REPLACE] FUNCTION/PROCEDURE */
	RG_OP_TRANSACTION,	/* BEGIN, COMMIT, ROLLBACK, SAVEPOINT, ... */
	RG_OP_LOCK,
	RG_OP_VACUUM,		/* VACUUM, ANALYZE */
	RG_OP_LISTEN,		/* LISTEN, UNLISTEN */
	RG_OP_NOTIFY,
	RG_OP_SHOW,
	RG_OP_OTHER,		/* anything the parser accepts that no kind above names */
	RG_OP_SET_LEXING,	/* changes client_encoding, standard_conforming_strings,
				 * backslash_quote or escape_string_warning away from the
				 * gateway's pinned values (lexing.c): SET, SET NAMES,
				 * set_config(), UPDATE pg_settings; on MySQL
				 * (mysqlclass.h): SET sql_mode, and SET NAMES, CHARACTER
				 * SET or character_set_client to an unsafe character set */
	/* MySQL/MariaDB statements PostgreSQL has no statement for (mysqlclass.h) */
	RG_OP_KILL,		/* KILL [CONNECTION|QUERY] */
	RG_OP_FLUSH,		/* FLUSH (privileges, tables, logs, ...; WITH READ LOCK) */
	RG_OP_INSTALL_PLUGIN,	/* INSTALL/UNINSTALL PLUGIN or SONAME, CREATE FUNCTION SONAME:
				 * server-side code loading */
	RG_OP_USE,		/* USE db: changes what unqualified names mean */
	RG_OP__COUNT
};

#define RG_OP_BIT(op) (UINT64_C(1) << (op))

enum rg_sql_access {
	RG_ACCESS_READ = 1,
	RG_ACCESS_WRITE = 2,
};

/* A relation or function name exactly as PostgreSQL resolved it: quotes removed, U&""
 * escapes decoded, unquoted identifiers folded to lower case. schema is NULL if unqualified. */
struct rg_sql_name {
	const char *schema;
	const char *name;
	uint8_t access; /* tables: RG_ACCESS_* bits; functions: 0 */
};

enum rg_sql_status {
	RG_SQL_OK = 0,
	RG_SQL_UNPARSEABLE = 1,
};

struct rg_sql_facts {
	enum rg_sql_status status;
	unsigned nstmts;		/* top-level statements in the string */
	uint64_t ops;			/* RG_OP_BIT() of every kind found anywhere */
	uint64_t ops_without_where;	/* RG_OP_BIT(UPDATE|DELETE) occurring with no WHERE */
	const struct rg_sql_name *tables;
	size_t ntables;			/* deduplicated (schema, name), access bits OR-ed */
	const struct rg_sql_name *functions;
	size_t nfunctions;		/* deduplicated */
	const uint64_t *fingerprints;	/* one per top-level statement, if requested */
	size_t nfingerprints;
	const char *normalized;		/* pg_query_normalize() output, if requested */
	size_t normalized_len;
};

/* Flags for rg_sqlclass_run(): extra work done only when a bundle needs it. */
#define RG_SQLCLASS_FINGERPRINT 0x1u
#define RG_SQLCLASS_NORMALIZE 0x2u
/* Only decide whether the string parses (status, nstmts); no other facts. Used when no
 * rule could match and only the fail-closed rule for unparseable strings is left. */
#define RG_SQLCLASS_VALIDATE_ONLY 0x4u
/* With VALIDATE_ONLY: answer from the per-context cache of statement shapes when it can
 * (a string whose shape, PostgreSQL's scanner's tokens with constants reduced to their
 * kind, was seen to parse with every constant a plain value; see sqlclass.c). The answer
 * is the one a parse would give. */
#define RG_SQLCLASS_SHAPE_CACHE 0x8u
/* For tests and fuzzing only: never take the raw-tree fast path, classify from the JSON
 * tree as before it existed (the differential test and fuzz target compare both). */
#define RG_SQLCLASS_FORCE_JSON 0x80000000u

struct rg_sqlclass;

struct rg_sqlclass *rg_sqlclass_new(void);

/* sql[0..len) with every constant (numbers, strings, bit strings) replaced by $n, numbered
 * after the highest $n already in it, by PostgreSQL's own scanner; white space between
 * tokens kept, comments made one space. Writes a NUL-terminated string to out. 0, or -EINVAL
 * when the scanner rejects the text, -ENOSPC when out is too small (cap >= 4 * len + 64 is
 * always enough). Any thread. */
int rg_sql_normalize(const char *sql, size_t len, char *out, size_t cap, size_t *outlen);
void rg_sqlclass_free(struct rg_sqlclass *c);
/* rg_sql_normalize through c's cache: a string that differs from one normalized before only
 * in the digits of its integer constants gets that string's output without the scanner
 * (sqlclass.c: the literal keys). Same results; c's thread only. */
int rg_sqlclass_normalize(struct rg_sqlclass *c, const char *sql, size_t len, char *out,
			  size_t cap, size_t *outlen);

/* Classify sql[0..len) (need not be NUL-terminated). Fills *out; pointers in *out stay
 * valid until the next call on the same context. Returns 0, or -ENOMEM. A string the
 * parser rejects is not an error: out->status = RG_SQL_UNPARSEABLE, ops = RG_OP_BIT(UNKNOWN). */
int rg_sqlclass_run(struct rg_sqlclass *c, const char *sql, size_t len, unsigned flags,
		    struct rg_sql_facts *out);

/* For tests and fuzzing only: whether the fast path passed its start-up canary in this
 * process, and whether the last rg_sqlclass_run() on c was answered by it. */
bool rg_sqlclass_fast_enabled(void);
bool rg_sqlclass_last_was_fast(const struct rg_sqlclass *c);
/* For tests only: whether the last rg_sqlclass_run() on c was answered by the shape cache. */
bool rg_sqlclass_last_was_shape_hit(const struct rg_sqlclass *c);
/* ... and by the shape cache's literal keys, without running the scanner (sqlclass.c). */
bool rg_sqlclass_last_was_literal_hit(const struct rg_sqlclass *c);

/*
 * Cheap text test for the gateway's built-in guard: false means sql[0..len) cannot have
 * RG_OP_SET_LEXING, so it need not be parsed for it (a case-insensitive search for the
 * setting names, NAMES, set_config, pg_settings and U& escapes). No allocation, any thread.
 */
bool rg_sqlclass_lexing_candidate(const char *sql, size_t len);
/* Well-formed UTF-8 as PostgreSQL's pg_utf8_islegal (no overlong forms, no surrogates,
 * nothing above U+10FFFF): what a server in UTF8 accepts. */
bool rg_sqlclass_utf8_valid(const char *text, size_t n);
/* An encoding name PostgreSQL reads as UTF-8 ("UTF8", "utf-8", "Unicode"), and a boolean
 * setting value that means on ("on", "true", "yes", "1"): the values the gateway pins. */
bool rg_sqlclass_encoding_is_utf8(const char *name);
bool rg_sqlclass_setting_is_on(const char *v);

/*
 * SQL-level prepared statements (PREPARE, EXECUTE, DEALLOCATE, DISCARD ALL), for a gateway
 * that follows them per session. rg_sqlclass_prep_words() is the cheap test: which of the
 * keywords PREPARE, EXECUTE, DEALLOCATE and DISCARD occur (case-insensitively) in the text;
 * keywords cannot be quoted or escaped, so a statement whose word is missing cannot be in
 * it. rg_sqlclass_prep() reads the raw parse tree and lists, in statement order, what each
 * top-level statement does to the session's prepared statements: PREPARE (its name and the
 * whole PREPARE statement's place in sql), EXECUTE wherever the grammar allows it (alone,
 * under EXPLAIN [ANALYZE], in CREATE TABLE ... AS EXECUTE), DEALLOCATE name or ALL, and
 * DISCARD ALL. Names are as the server keys them: unquoted ones folded to lower case,
 * quoted ones and U& escapes decoded, at most 63 bytes.
 */
#define RG_SQL_PREP_WORD_PREPARE 0x1u
#define RG_SQL_PREP_WORD_EXECUTE 0x2u
#define RG_SQL_PREP_WORD_DEALLOCATE 0x4u
#define RG_SQL_PREP_WORD_DISCARD 0x8u
unsigned rg_sqlclass_prep_words(const char *sql, size_t len);

enum rg_sql_prep_kind {
	RG_SQL_PREP_PREPARE = 1,
	RG_SQL_PREP_EXECUTE,
	RG_SQL_PREP_DEALLOCATE,
	RG_SQL_PREP_DEALLOCATE_ALL,
	RG_SQL_PREP_DISCARD_ALL,
};

struct rg_sql_prep {
	enum rg_sql_prep_kind kind;
	const char *name;	/* NUL-terminated; NULL for the _ALL kinds */
	size_t name_len;
	size_t off, len;	/* the top-level statement's text: sql[off, off + len) */
	unsigned stmt;		/* its index among the top-level statements */
};

/* Fills *out (valid until the next call on c) with *n entries. Returns 0, RG_SQL_UNPARSEABLE
 * (nothing listed: the server rejects the text too), -ENOTSUP when the raw-tree reader is
 * disabled in this process (see rg_sqlclass_fast_enabled: fail closed), or -ENOMEM. */
int rg_sqlclass_prep(struct rg_sqlclass *c, const char *sql, size_t len,
		     const struct rg_sql_prep **out, size_t *n);

/* Name of an operation as written in rules ("select", "copy_program", ...); NULL if out of
 * range. rg_sql_op_from_name() returns -1 for an unknown name. */
const char *rg_sql_op_name(enum rg_sql_op op);
int rg_sql_op_from_name(const char *name);

/* Keywords (lower case) of which at least one appears, case-insensitively, in the text of
 * any statement that has this operation. Used by rulec to build a sound prefilter. NULL
 * for ops with no such keyword (RG_OP_UNKNOWN, RG_OP_OTHER). NULL-terminated list. */
const char *const *rg_sql_op_keywords(enum rg_sql_op op);

#endif
