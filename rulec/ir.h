/*
 * ir: the in-memory form of rule files, between the YAML front end (parse.c) and the
 * compiler (compile.c). The front end fills it and has already checked everything that can
 * be checked without compiling (schema, types, names, globs, regexes via Hyperscan, ids);
 * the compiler may assume a well-formed program. Every node keeps its source position so
 * later errors still name file:line:col. All strings are heap copies owned by the program.
 */
#ifndef RULEC_IR_H
#define RULEC_IR_H

#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

#include "../engine/policy/policy.h"

struct rulec_pos {
	const char *file;	/* owned by the program's file list */
	int line, col;		/* 1-based */
};

/* A list of strings with the position of each. */
struct rulec_strv {
	char **v;
	struct rulec_pos *pos;
	size_t n;
};

/* match: who and where. Empty lists match anything. */
struct rulec_match {
	struct rulec_strv protocols;	/* exact names */
	struct rulec_strv targets;	/* globs */
	struct rulec_strv subjects;	/* globs */
	struct rulec_strv issuers;	/* globs */
	struct rulec_strv groups_any;	/* identity has at least one (exact) */
	struct rulec_strv groups_none;	/* identity has none of these (exact) */
};

enum rulec_tristate { RULEC_UNSET = -1, RULEC_FALSE = 0, RULEC_TRUE = 1 };

struct rulec_rule {
	struct rulec_pos pos;
	char *id;
	char *description;
	struct rulec_match match;
	/* sql: predicates from the parser; all present ones must hold */
	uint64_t ops;			/* RG_OP_BIT set, any-of; 0 = no operation predicate */
	enum rulec_tristate without_where;
	struct rulec_strv tables;	/* globs over "schema.table" or "table" */
	uint8_t table_access;		/* RG_ACCESS_* bits; 0 = any */
	struct rulec_strv functions;	/* globs, case-insensitive, "schema.fn" or "fn" */
	struct rulec_strv fingerprints;	/* 16 lower-case hex digits each */
	/* text: last resort, over the normalized statement */
	struct rulec_strv literals;	/* case-insensitive substrings */
	struct rulec_strv regexes;	/* Hyperscan syntax, already checked */
	/* action */
	enum rg_verdict action;
	char *message;			/* NULL: default message */
	char sqlstate[6];		/* "42501" by default */
	char *approval_group;		/* require_approval only */
	uint32_t approval_ttl_s;
	uint32_t approval_expire_s; /* approval.expires: a request waits this long */
	enum rg_approval_scope approval_scope;
	bool enforce;
};

struct rulec_mask {
	struct rulec_pos pos;
	char *id;
	char *description;
	struct rulec_match match;
	int detector;			/* enum rg_detector, or -1 for a column rule */
	struct rulec_strv columns;	/* globs over "schema.table.column" */
	enum rg_mask_style style;
	uint8_t keep;			/* partial: default 4 */
	char *static_text;		/* static only */
};

/* limits: session limits for the identities and targets match selects. */
struct rulec_limit {
	struct rulec_pos pos;
	char *id;
	char *description;
	struct rulec_match match;
	uint32_t set;				/* bit k: value[k] given (enum rg_limit_kind) */
	uint64_t value[RG_LIMIT__COUNT];	/* seconds, bytes or a count */
};

struct rulec_test_identity {
	char *subject;			/* default "test-agent" */
	char *issuer;			/* default "https://issuer.test" */
	struct rulec_strv groups;
};

enum rulec_test_kind { RULEC_TEST_SQL, RULEC_TEST_ROW, RULEC_TEST_SESSION };

struct rulec_test {
	struct rulec_pos pos;
	enum rulec_test_kind kind;
	char *owner;			/* id of the rule/mask it is written under, or NULL */
	struct rulec_test_identity identity;
	char *target;			/* default "test" */
	char *protocol;			/* default "postgres" */
	/* RULEC_TEST_SQL */
	char *sql;
	enum rg_verdict expect;
	bool has_shadow;
	enum rg_verdict expect_shadow;
	char *expect_rule;		/* rule that must be among the matches; defaults to owner
					   when expect != allow; NULL = not checked */
	unsigned mysql_modes;		/* protocol mysql: RG_MY_* flags of `sql_mode:` */
	/* RULEC_TEST_ROW: NULL entries in row/expect_row are SQL NULL */
	struct rulec_strv row;
	struct rulec_strv columns;	/* per field "schema.table.column" or NULL */
	struct rulec_strv expect_row;
	/* RULEC_TEST_SESSION: who and where are identity, target and protocol above */
	uint32_t limits_checked;		/* bit k: limit k is checked */
	uint32_t limits_none;			/* bit k: expected unlimited */
	uint64_t limits[RG_LIMIT__COUNT];	/* expected values */
	/* Added by the front end: where `rule:` was written (the test's own position when
	 * expect_rule defaults to the owner), so check.c can point at it. */
	struct rulec_pos expect_rule_pos;
};

struct rulec_pack {
	char *name;
	char *file;
	struct rulec_pos pos;
	int on_unparseable;		/* enum rg_verdict, -1 if the file does not say */
};

struct rulec_program {
	char **files;			/* every file read, sorted */
	size_t nfiles;
	struct rulec_pack *packs;
	size_t npacks;
	struct rulec_rule *rules;
	size_t nrules;
	struct rulec_mask *masks;
	size_t nmasks;
	struct rulec_limit *limits;
	size_t nlimits;
	struct rulec_test *tests;
	size_t ntests;
};

/* Diagnostics: every error of a run is collected, then printed as file:line:col: message. */
struct rulec_diag {
	struct rulec_pos pos;
	char *msg;
};

struct rulec_diags {
	struct rulec_diag *v;
	size_t n, cap;
};

void rulec_diag_add(struct rulec_diags *d, struct rulec_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void rulec_diags_print(const struct rulec_diags *d, FILE *out);
void rulec_diags_free(struct rulec_diags *d);

/* Read rule files: each path is a .yaml/.yml file or a directory searched recursively for
 * them (sorted, so output does not depend on readdir order). Appends every problem to d.
 * Returns 0 if no error was found, -1 otherwise; the program is filled as far as possible
 * either way and must be freed with rulec_program_free. */
int rulec_parse_paths(const char *const *paths, size_t npaths, struct rulec_program *prog,
		      struct rulec_diags *d);
/* Parse one buffer as if it were file `name` (used by the fuzz target and unit tests). */
int rulec_parse_buffer(const char *name, const char *buf, size_t len,
		       struct rulec_program *prog, struct rulec_diags *d);
/* Cross-file checks: duplicate ids (rules, masks and limits share one namespace), tests
 * naming unknown rules, conflicting packs. */
int rulec_check_program(const struct rulec_program *prog, struct rulec_diags *d);
void rulec_program_free(struct rulec_program *prog);

#endif
