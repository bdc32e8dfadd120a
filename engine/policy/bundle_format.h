/*
 * bundle_format: the on-disk contract between rulec (writer) and engine/policy (loader).
 *
 * A bundle is: a 128-byte header, a body (section table + 8-aligned sections), and an
 * optional 72-byte Ed25519 signature trailer over header+body. All integers little-endian.
 * The header records the format version, the Hyperscan version and platform the databases
 * were compiled for, and the XXH3-64 of the body. Strings live in one string table and are
 * referenced by offset; lists (of string offsets or u32 values) live in one u32 pool and are
 * referenced by (start, count). rulec writes byte-identical bundles for identical input: no
 * timestamps, no host names, deterministic order everywhere.
 * The loader must treat every field as hostile: bounds-check each offset, count and string.
 */
#ifndef RG_BUNDLE_FORMAT_H
#define RG_BUNDLE_FORMAT_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <xxhash.h>

#define RG_BUNDLE_MAGIC "RGBUNDLE"
/* 2: limits (RG_SEC_LIMITS, meta.nlimits) and session tests (rg_bundle_test kind 2) */
#define RG_BUNDLE_VERSION 2u
#define RG_BUNDLE_HEADER_SIZE 128u
#define RG_BUNDLE_SIG_MAGIC "RGSIG001"
#define RG_BUNDLE_SIG_SIZE 72u /* 8 magic + 64 Ed25519 signature */

#define RG_BUNDLE_F_SIGNED 0x1u

struct rg_bundle_header {
	char magic[8];
	uint32_t version;
	uint32_t header_size;
	uint64_t body_len;
	uint64_t body_xxh3;
	uint32_t nsections;
	uint32_t flags;
	char hs_version[64];	/* hs_version() of the compiler, NUL padded */
	uint64_t hs_cpu_features; /* hs_platform_info of the compile target */
	uint32_t hs_tune;
	uint8_t reserved[12];
};
_Static_assert(sizeof(struct rg_bundle_header) == RG_BUNDLE_HEADER_SIZE, "header size");

enum rg_bundle_section_type {
	RG_SEC_STRTAB = 1,	/* NUL-terminated strings; offset 0 is "" */
	RG_SEC_META = 2,	/* struct rg_bundle_meta */
	RG_SEC_LISTS = 3,	/* u32 pool */
	RG_SEC_RULES = 4,	/* struct rg_bundle_rule[] */
	RG_SEC_MASKS = 5,	/* struct rg_bundle_mask[] */
	RG_SEC_HS_PREFILTER = 6, /* serialized Hyperscan db: literals, ids = rule index */
	RG_SEC_HS_TEXT = 7,	/* serialized Hyperscan db: text regex predicates, ids = rule index */
	RG_SEC_HS_MASK = 8,	/* serialized Hyperscan db: detectors, ids = mask index */
	RG_SEC_NAME_INDEX = 9,	/* struct rg_bundle_index_entry[] open-addressing table */
	RG_SEC_TESTS = 10,	/* struct rg_bundle_test[] */
	RG_SEC_LIMITS = 11,	/* struct rg_bundle_limit[] */
};

struct rg_bundle_section {
	uint32_t type;
	uint32_t count;		/* records in the section (0 for byte blobs) */
	uint64_t offset;	/* from the start of the body */
	uint64_t len;
};

struct rg_bundle_list {
	uint32_t start;		/* index into the u32 pool */
	uint32_t count;
};

struct rg_bundle_meta {
	uint32_t nrules;
	uint32_t nmasks;
	uint32_t ntests;
	uint32_t on_unparseable;	/* enum rg_verdict for the built-in unparseable rule */
	uint32_t packs_str;		/* comma-separated pack names */
	uint32_t flags;			/* RG_META_* */
	uint32_t always_rules;		/* list: rules without a required literal */
	uint32_t always_count;
	uint32_t index_slots;		/* power of two; 0 if no name index */
	uint32_t detector_catalog;	/* RG_DETECTOR_CATALOG_VERSION of the compiler */
	uint32_t nlimits;
	uint32_t reserved[5];
};
#define RG_META_NEED_FINGERPRINT 0x1u
#define RG_META_NEED_NORMALIZE 0x2u

/* Identity/target match; every list holds string offsets. */
struct rg_bundle_match {
	struct rg_bundle_list protocols, targets, subjects, issuers, groups_any, groups_none;
};

struct rg_bundle_rule {
	uint32_t id_str, message_str, file_str, line;
	uint32_t approval_group_str, approval_ttl_s;
	uint64_t ops;			/* RG_OP_BIT set; 0 = no operation predicate */
	uint8_t action;			/* enum rg_verdict */
	uint8_t enforce;
	int8_t without_where;		/* -1 unset, 0, 1 */
	uint8_t table_access;		/* RG_ACCESS_* bits, 0 = any */
	uint8_t approval_scope;
	uint8_t flags;			/* RG_RULE_* */
	char sqlstate[6];
	uint32_t specificity;
	struct rg_bundle_match match;
	struct rg_bundle_list tables, functions;	/* string offsets (globs) */
	struct rg_bundle_list fingerprints;	/* pairs of u32: lo, hi */
	struct rg_bundle_list literals;		/* string offsets, lower-case */
	uint32_t nregex;			/* regexes live in HS_TEXT with this rule's id */
	uint32_t approval_expire_s;		/* 0 in bundles older than the field: 300 */
};
#define RG_RULE_TABLES_EXACT 0x1u	/* every table pattern is a plain name (index used) */
#define RG_RULE_FUNCS_EXACT 0x2u

struct rg_bundle_mask {
	uint32_t id_str, file_str, line;
	int32_t detector;		/* enum rg_detector or -1 */
	uint8_t style, keep, pad[2];
	uint32_t static_str;
	struct rg_bundle_match match;
	struct rg_bundle_list columns;	/* string offsets (globs) */
};

/* Session limits: slot k holds enum rg_limit_kind k (policy.h). A loader refuses set bits
 * for kinds it does not know, so a limit an engine cannot enforce is never ignored. */
#define RG_BUNDLE_LIMIT_SLOTS 8

struct rg_bundle_limit {
	uint32_t id_str, file_str, line;
	uint32_t set;				/* bit k: value[k] is limit k */
	uint64_t value[RG_BUNDLE_LIMIT_SLOTS];	/* seconds, bytes or a count; unset slots 0 */
	struct rg_bundle_match match;
};
_Static_assert(sizeof(struct rg_bundle_limit) == 128, "limit record size");

/* Name index: xxh3 of "t:schema.name", "t:name", "f:schema.name", "f:name" (lower-case
 * for functions) or of the 8-byte fingerprint prefixed "p:", mapped to the rule naming it
 * exactly. Linear probing; empty slot has rule == UINT32_MAX. A key may appear several
 * times (one entry per rule). */
struct rg_bundle_index_entry {
	uint64_t key;
	uint32_t rule;
	uint32_t kind;			/* 't', 'f', 'p' */
};

struct rg_bundle_test {
	uint32_t kind;			/* 0 sql, 1 row, 2 session (limits) */
	uint32_t file_str, line, owner_str;
	uint32_t subject_str, issuer_str, target_str, protocol_str;
	struct rg_bundle_list groups;
	uint32_t sql_str;
	uint8_t expect, has_shadow, expect_shadow;
	uint8_t mysql_modes;		/* protocol mysql: RG_MY_* sql_mode flags (mysqlclass.h) */
	uint32_t expect_rule_str;	/* 0 = not checked */
	/* rows: lists of string offsets; UINT32_MAX = NULL field */
	struct rg_bundle_list row, columns, expect_row;
	/* sessions: the effective limits expected for the identity and target above */
	uint32_t limits_checked;		/* bit k: limit k is checked */
	uint32_t limits_none;			/* bit k: expected unlimited (within checked) */
	uint32_t pad2;
	uint64_t limits[RG_BUNDLE_LIMIT_SLOTS];	/* expected values; 0 where not checked or none */
};
_Static_assert(sizeof(struct rg_bundle_test) == 152, "test record size");

/* Key of a name in the index: xxh3 of "k:schema.name" or "k:name" (truncated at 511 bytes
 * on both sides). schema may be NULL. */
static inline uint64_t rg_bundle_name_key(char kind, const char *schema, const char *name)
{
	char tmp[512];
	int n = schema ? snprintf(tmp, sizeof(tmp), "%c:%s.%s", kind, schema, name)
		       : snprintf(tmp, sizeof(tmp), "%c:%s", kind, name);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(tmp))
		n = sizeof(tmp) - 1;
	return XXH3_64bits(tmp, (size_t)n);
}

static inline uint64_t rg_bundle_fp_key(uint64_t fp)
{
	return XXH3_64bits(&fp, sizeof(fp)) ^ 'p';
}

#endif
