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
