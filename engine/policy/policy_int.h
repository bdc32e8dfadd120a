/*
 * policy_int: internals shared by the loader (bundle.c) and the evaluator (verdict.c).
 * A loaded policy keeps its own copy of the bundle bytes; every pointer below points into
 * that copy or into arrays built once at load time, after bounds checks. Nothing here is
 * mutated after rg_policy_load_* returns, so threads share it freely.
 */
#ifndef RG_POLICY_INT_H
#define RG_POLICY_INT_H

#include "bundle_format.h"
#include "policy.h"

/* A string list resolved to pointers. */
struct rg_strs {
	const char **v;
	uint32_t n;
};

struct rg_rt_match {
	struct rg_strs protocols, targets, subjects, issuers, groups_any, groups_none;
};

struct rg_rt_rule {
	const struct rg_bundle_rule *b;
	struct rg_rt_match match;
	struct rg_strs tables, functions, literals;
	const uint32_t *fps; /* pairs lo, hi */
	uint32_t nfps;
};

struct rg_rt_mask {
	const struct rg_bundle_mask *b;
	struct rg_rt_match match;
	struct rg_strs columns;
};

struct rg_rt_limit {
	const struct rg_bundle_limit *b;
	struct rg_rt_match match;
	const char *id;
};

struct rg_policy {
	uint8_t *buf;
	size_t len;
	const struct rg_bundle_header *hdr;
	struct rg_bundle_meta meta;
	const char *strtab;
	size_t strtab_len;
	const uint32_t *pool;
	size_t npool;
	struct rg_rt_rule *rules;	/* meta.nrules */
	struct rg_rule_info *infos;	/* meta.nrules + 1: the last is the built-in unparseable */
	struct rg_rt_mask *masks;
	struct rg_mask_action *mask_acts;
	struct rg_rt_limit *limits;	/* meta.nlimits */
	hs_database_t *prefilter, *text, *maskdb;
	const uint32_t *always;
	const struct rg_bundle_index_entry *index;
	const struct rg_bundle_test *tests;
	const char **strs;		/* scratch of resolved string pointers, owned */
	bool signed_bundle;
	char hs_version[65];
};

/* Resolve a string offset (bounds-checked at load; here it is trusted). */
static inline const char *rg_pstr(const struct rg_policy *p, uint32_t off)
{
	return off == UINT32_MAX ? NULL : p->strtab + off;
}

bool rg_match_holds(const struct rg_rt_match *m, const struct rg_request *req);

#endif
