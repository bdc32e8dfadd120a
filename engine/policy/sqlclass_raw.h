/*
 * sqlclass_raw: the fast path of sqlclass, a walk over PostgreSQL's raw parse tree (internal
 * to engine/policy; the contract is sqlclass.h).
 *
 * sqlclass_raw.c is the only file that sees PostgreSQL's node structs (server headers); it
 * reports what it finds through the functions below, implemented in sqlclass.c, so that both
 * paths fill the same facts with the same code. It declines (RG_SQLRAW_DECLINE) anything it
 * does not cover, and sqlclass.c then runs the JSON walker on the whole string.
 */
#ifndef RG_POLICY_SQLCLASS_RAW_H
#define RG_POLICY_SQLCLASS_RAW_H

#include <stdbool.h>
#include <stdint.h>

struct rg_sqlclass;

enum {
	RG_SQLRAW_OK = 0,
	RG_SQLRAW_DECLINE = 1,	   /* outside the fast path: use the JSON walker */
	RG_SQLRAW_UNPARSEABLE = 2, /* the raw parser rejected the string */
};

struct rg_sqlraw_out {
	uint64_t ops, ops_nowhere;
	unsigned nstmts;
};

/* Once per process: checks the node layout against a known statement. False disables the
 * fast path (never fail open on a layout we do not understand). */
bool rg_sqlraw_canary(void);

/* Classifies the NUL-terminated sql. Tables, functions and statement positions go to c
 * through the rg_sqlclass_note_* functions; names are copied (rg_sqlclass_keep_names)
 * before the parser's memory is released. Returns RG_SQLRAW_* or -ENOMEM. On DECLINE the
 * caller must discard whatever was noted; the tree, printed as pg_query_parse() would have
 * printed it, went to rg_sqlclass_keep_json(), so the string is not parsed twice. */
int rg_sqlraw_classify(struct rg_sqlclass *c, const char *sql, struct rg_sqlraw_out *out);

/* The raw parser alone: RG_SQLRAW_OK with *nstmts, or RG_SQLRAW_UNPARSEABLE. */
int rg_sqlraw_validate(const char *sql, unsigned *nstmts);

/* The prepared-statement effects of the NUL-terminated sql (see rg_sqlclass_prep), reported
 * through rg_sqlclass_note_prep in statement order. RG_SQLRAW_OK or _UNPARSEABLE, -ENOMEM. */
int rg_sqlraw_prep(struct rg_sqlclass *c, const char *sql);

/*
 * The shape of the NUL-terminated sql for the validate-only cache: PostgreSQL's scanner's
 * tokens, constants reduced to their kind (their byte offsets go to locs[0..*nlocs)). Two
 * strings of one shape differ only in the values of those constants. With iconsts, bit i
 * says constant i is an integer (ICONST; at most 64 constants). RG_SQLRAW_OK, or
 * RG_SQLRAW_DECLINE (the scanner rejects the string, it holds U& escapes, or out or locs
 * would overflow): then there is no shape and the string must be parsed.
 */
int rg_sqlraw_shape(const char *sql, uint8_t *out, size_t cap, size_t *len, int32_t *locs,
		    size_t loccap, size_t *nlocs, uint64_t *iconsts);
/* rg_sqlraw_validate, and *cacheable: true when the grammar took every constant at
 * locs[0..nlocs) as a plain value (an A_Const in an expression), so that any string of the
 * same shape parses exactly when this one does. */
int rg_sqlraw_validate_shape(const char *sql, const int32_t *locs, size_t nlocs,
			     unsigned *nstmts, bool *cacheable);
/* Once per process: the scanner's token numbers agree with the server headers'. False
 * turns the shape cache off. */
bool rg_sqlraw_shape_canary(void);

/* The NUL-terminated sql with every constant replaced by $n (the audit trail's text):
 * RG_SQLRAW_OK with out[0..*len) NUL-terminated, RG_SQLRAW_DECLINE (the scanner rejects
 * the string), or -ENOSPC (out is too small). */
int rg_sqlraw_normalize(const char *sql, char *out, size_t cap, size_t *len);

/* pgguard.c: fn(arg) with PostgreSQL's error handling set up; 0, or -1 when it raised an
 * ERROR (flushed; the caller still owns and releases its memory context). */
int rg_pg_guarded(void (*fn)(void *), void *arg);

/* Implemented in sqlclass.c. Each returns 0 or -ENOMEM. */
int rg_sqlclass_note_table(struct rg_sqlclass *c, const char *schema, const char *name,
			   uint8_t access);
int rg_sqlclass_note_func(struct rg_sqlclass *c, const char *schema, const char *name);
int rg_sqlclass_note_stmt(struct rg_sqlclass *c, int32_t loc, int32_t len);
int rg_sqlclass_keep_names(struct rg_sqlclass *c);
int rg_sqlclass_keep_json(struct rg_sqlclass *c, const char *json);
/* kind: enum rg_sql_prep_kind; name NULL for the _ALL kinds; the name is copied. */
int rg_sqlclass_note_prep(struct rg_sqlclass *c, int kind, const char *name, int32_t loc,
			  int32_t len, unsigned stmt);

#endif
