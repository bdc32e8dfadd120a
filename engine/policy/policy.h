/*
 * policy: the runtime side of ringgate's rules, shared by every protocol.
 *
 * Loads a bundle compiled by rulec (checksum, format version, Hyperscan platform and an
 * optional Ed25519 signature are verified; a bad bundle is refused with a precise error),
 * then answers two questions on the data path: the verdict for a statement from a given
 * identity (rg_policy_verdict) and the masked form of a result row (rg_policy_mask_row).
 * A loaded policy is immutable and shared by all threads; everything mutable (Hyperscan
 * scratch, parser buffers, output buffers) lives in a per-thread rg_policy_ctx, so calls
 * take no locks and allocate nothing in steady state.
 */
#ifndef RG_POLICY_H
#define RG_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mask.h"
#include "mysqlclass.h"
#include "sqlclass.h"

/* Ordered by strictness: a larger value wins. */
enum rg_verdict {
	RG_VERDICT_ALLOW = 0,
	RG_VERDICT_LOG = 1,	/* allow, and record that a log rule matched */
	RG_VERDICT_HOLD = 2,	/* require just-in-time approval */
	RG_VERDICT_DENY = 3,
};

enum rg_approval_scope {
	RG_APPROVAL_ONCE = 0,		/* one approval lets one statement run */
	RG_APPROVAL_FINGERPRINT = 1,	/* approval covers the statement's fingerprint until TTL */
};

struct rg_identity {
	const char *issuer;
	const char *subject;
	const char *const *groups;
	size_t ngroups;
};

/* Who is asking, where. Strings need not outlive the call. */
struct rg_request {
	const char *protocol;	/* "postgres", or "mysql": statements are then read by the
				 * MySQL classifier (mysqlclass.h) */
	const char *target;	/* configured target name */
	const struct rg_identity *identity;
	/* protocol "mysql": how the session's server lexes text (version, dialect, sql_mode
	 * flags); NULL means MariaDB 10.11 with no lexing modes set */
	const struct rg_my_lexing *mysql;
};

/* A rule as compiled into the bundle; pointers valid while the policy is loaded. */
struct rg_rule_info {
	const char *id;
	const char *message;	/* deny message sent to the client */
	char sqlstate[6];	/* NUL-terminated, default "42501" */
	enum rg_verdict action;
	bool enforce;		/* false: shadow mode, verdict recorded only */
	const char *approval_group;
	uint32_t approval_ttl_s;    /* scope fingerprint: how long an approval covers it */
	uint32_t approval_expire_s; /* how long a request waits for a decision */
	enum rg_approval_scope approval_scope;
	const char *file;	/* rule source, for explain and audit */
	uint32_t line;
};

#define RG_DECISION_MAX_RULES 32

struct rg_decision {
	enum rg_verdict verdict;	/* enforced verdict */
	enum rg_verdict shadow_verdict;	/* verdict if shadow rules were enforced too */
	const struct rg_rule_info *rule; /* rule deciding `verdict`; NULL if no rule did */
	const struct rg_rule_info *rules[RG_DECISION_MAX_RULES]; /* every matching rule */
	size_t nrules;
	bool parsed;			/* facts computed; false if the prefilter proved no rule
					   can match (the string was then only checked to parse) */
	const struct rg_sql_facts *facts; /* valid until the next call on the ctx; NULL if !parsed */
	bool cached;			/* answered from the per-thread verdict cache (no facts) */
};

struct rg_policy;
struct rg_policy_ctx;

struct rg_policy_opts {
	const char *pubkey_pem;		/* Ed25519 public key file; NULL: signature not required */
};

/* Load a bundle. Returns 0, or a negative errno with a one-line reason in err
 * (-EBADMSG corrupt/truncated, -EPROTO foreign format or Hyperscan platform,
 * -EPERM signature missing or invalid, -ENOENT/-EIO for the file). */
int rg_policy_load_file(const char *path, const struct rg_policy_opts *opts,
			struct rg_policy **out, char *err, size_t errlen);
int rg_policy_load_mem(const void *buf, size_t len, const struct rg_policy_opts *opts,
		       struct rg_policy **out, char *err, size_t errlen);
void rg_policy_free(struct rg_policy *p);

/* Bundle facts for inspect/metrics. */
struct rg_policy_info {
	uint32_t format_version;
	uint32_t nrules;
	uint32_t nmasks;
	uint32_t nlimits;
	uint32_t ntests;
	bool signed_bundle;
	uint64_t checksum;
	const char *hs_version;
	const char *packs;		/* comma-separated pack names */
	bool prefilter_complete;	/* every rule has a required literal */
};
void rg_policy_get_info(const struct rg_policy *p, struct rg_policy_info *out);
const struct rg_rule_info *rg_policy_rule(const struct rg_policy *p, uint32_t i);
/*
 * The column globs ("schema.table.column", fnmatch syntax, flags 0) of every column mask
 * rule, whoever they apply to: what the gateway must resolve result columns against. Fills
 * out[0..min(n, cap)) with pointers into p and returns n, the number of globs.
 */
size_t rg_policy_column_globs(const struct rg_policy *p, const char **out, size_t cap);

/* Per-thread context; hmac_key (may be NULL) is used by the hmac mask style. */
struct rg_policy_ctx *rg_policy_ctx_new(const struct rg_policy *p, const uint8_t *hmac_key,
					size_t keylen);
void rg_policy_ctx_free(struct rg_policy_ctx *c);

/* Soundness checks: with the prefilter off every rule is a candidate for every statement.
 * Decisions must not change; tests compare both paths over a corpus. */
void rg_policy_ctx_set_prefilter(struct rg_policy_ctx *c, bool on);

/* The per-thread verdict cache (on by default) remembers decisions for statement texts up
 * to 240 bytes per identity class (protocol, target, issuer, subject, groups); the text is
 * compared byte for byte on a hit. Off for measurements of the uncached path. */
void rg_policy_ctx_set_cache(struct rg_policy_ctx *c, bool on);

/* Decide one client string (may hold several statements). Returns 0 or -ENOMEM. */
int rg_policy_verdict(struct rg_policy_ctx *c, const struct rg_request *req, const char *sql,
		      size_t len, struct rg_decision *out);

/* Masking. Call rg_policy_mask_plan once per result set with each column's origin as
 * "schema.table.column" (NULL when unknown), then rg_policy_mask_row per row. The plan
 * lives in the ctx until the next rg_policy_mask_plan call. */
int rg_policy_mask_plan(struct rg_policy_ctx *c, const struct rg_request *req,
			const char *const *columns, size_t ncolumns,
			const struct rg_mask_plan **plan);

/*
 * Mask plans owned by the caller, one per session (or per result set) rather than one per
 * ctx: the gateway keeps a session's plan across its rows while the worker's ctx serves
 * every other session in between. rg_policy_mask_plan_build fills pl as
 * rg_policy_mask_plan would (same arguments) and points *plan into pl: valid until the next
 * build on pl or its free, and only with a ctx of the same policy (the plan holds indexes
 * into that policy's mask rules). rg_policy_mask_plan_get returns pl's plan if it was built
 * for c's policy, NULL otherwise (a bundle swap: build again). Grows to the widest result
 * built; nothing is allocated per build after that. Returns 0 or -ENOMEM.
 */
struct rg_policy_plan;
struct rg_policy_plan *rg_policy_mask_plan_new(void);
void rg_policy_mask_plan_free(struct rg_policy_plan *pl);
int rg_policy_mask_plan_build(struct rg_policy_ctx *c, const struct rg_request *req,
			      const char *const *columns, size_t ncolumns,
			      struct rg_policy_plan *pl, const struct rg_mask_plan **plan);
const struct rg_mask_plan *rg_policy_mask_plan_get(const struct rg_policy_plan *pl,
						   const struct rg_policy_ctx *c);

int rg_policy_mask_row(struct rg_policy_ctx *c, const struct rg_mask_plan *plan,
		       const struct rg_mask_field *fields, size_t nfields,
		       struct rg_mask_result *out);
/* rg_masker_field_clear on c's masker: true when rg_policy_mask_row would leave the field
 * p[0..len) alone under plan's detector rules (column rules are the caller's to check). */
bool rg_policy_mask_field_clear(const struct rg_policy_ctx *c, const struct rg_mask_plan *plan,
				const uint8_t *p, size_t len);
/* rg_masker_run_clear on c's masker: a run of fields with framing between them, checked in
 * one pass (mask.h says what the result means). */
size_t rg_policy_mask_run_clear(const struct rg_policy_ctx *c, const struct rg_mask_plan *plan,
				const uint8_t *p, size_t n, size_t from);

const char *rg_verdict_name(enum rg_verdict v);

/* Session limits (docs/rules.md, "Limits"): per identity and target, like rules. Values are
 * seconds for the two durations, bytes for max_bytes, counts otherwise. The enum values are
 * stored in bundles: append only. */
enum rg_limit_kind {
	RG_LIMIT_SESSION_DURATION = 0,	/* max_session_duration: seconds from login */
	RG_LIMIT_IDLE_TIMEOUT = 1,	/* idle_timeout: seconds without a statement */
	RG_LIMIT_STATEMENTS = 2,	/* max_statements: statements run in the session */
	RG_LIMIT_ROWS = 3,		/* max_rows: result rows returned in the session */
	RG_LIMIT_BYTES = 4,		/* max_bytes: result bytes returned in the session */
	RG_LIMIT_DENIALS = 5,		/* max_denials: statements refused in the session */
	RG_LIMIT__COUNT
};

/* One effective limit. A count may be 0 (max_denials: 0 ends the session at the first
 * denial), so "no limit" is id == NULL (value is then 0). A limit is exceeded when the
 * session's count goes above value (or its time reaches value seconds). */
struct rg_limit {
	uint64_t value;
	const char *id;		/* the limits entry that set it; valid while the policy is loaded */
};

struct rg_limits {
	struct rg_limit v[RG_LIMIT__COUNT];	/* indexed by enum rg_limit_kind */
};

/* The effective limits of a session: of every limits entry whose match holds for req, the
 * smallest value of each key wins (ties: the entry first in program order). Pure, no
 * allocation, safe from any thread on a loaded policy. Returns how many limits are set. */
int rg_policy_limits(const struct rg_policy *p, const struct rg_request *req,
		     struct rg_limits *out);

/* Limits entry i (0 <= i < rg_policy_info.nlimits) as compiled, for inspect. Returns false
 * past the last one. */
struct rg_limit_entry {
	const char *id;
	const char *file;	/* source, for inspect and audit */
	uint32_t line;
	uint32_t set;		/* bit k: value[k] is given */
	uint64_t value[RG_LIMIT__COUNT];
};
bool rg_policy_limit_entry(const struct rg_policy *p, uint32_t i, struct rg_limit_entry *out);

/* The rule-language key of a limit ("max_rows"), NULL for an unknown kind. */
const char *rg_limit_name(enum rg_limit_kind k);
int rg_limit_from_name(const char *name);	/* enum value, or -1 */
/* SQLSTATE of the FATAL that ends a session over limit k: "57P05" (idle_session_timeout)
 * for idle_timeout, "57P01" (admin_shutdown) for the others. */
const char *rg_limit_sqlstate(enum rg_limit_kind k);
/* A value as written in rules: "15m", "8h", "90s"; "10MiB", "2MB", "123B"; counts plain.
 * Returns what snprintf returns. */
int rg_limit_format_value(enum rg_limit_kind k, uint64_t value, char *buf, size_t len);
/* The FATAL's message and the log's reason for limit k of l:
 * "session ended: max_rows 1000 (limit agents.rows) exceeded". Returns what snprintf
 * returns; "" with 0 if limit k is not set. */
int rg_limit_message(const struct rg_limits *l, enum rg_limit_kind k, char *buf, size_t len);

/* Run the inline tests stored in the bundle (rulec test, and engines that want to refuse
 * a bundle whose tests fail). HMAC masking in tests uses hmac_key (NULL: the fixed test
 * key "ringgate-test-key"). Prints one line per failure (and per test if verbose) to out.
 * Returns the number of failures, or a negative errno. */
int rg_policy_run_tests(const struct rg_policy *p, const uint8_t *hmac_key, size_t keylen,
			FILE *out, bool verbose, unsigned *ntests);

#endif
