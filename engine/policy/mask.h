/*
 * mask: sensitive-data detectors and the masking of result rows.
 *
 * Owns the detector catalogue (pattern + validator per detector: credit_card with Luhn and
 * IIN ranges, iban mod-97, us_ssn invalid ranges, aba_routing, email, phone_e164, jwt,
 * aws_access_key, private_key PEM, ipv4, ipv6), the mask styles, and row masking: one
 * Hyperscan scan (SOM_LEFTMOST) per row, matches mapped to fields, matches crossing field
 * boundaries dropped, validators run, overlapping spans merged, and only then a rewrite.
 * A detector fires only when its validator accepts. Rows without confirmed matches are
 * reported unchanged so callers forward them untouched. No allocation per row in steady
 * state; one masker per thread.
 */
#ifndef RG_POLICY_MASK_H
#define RG_POLICY_MASK_H

#include <hs/hs.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Order is part of the bundle format: append only. */
enum rg_detector {
	RG_DET_CREDIT_CARD = 0,
	RG_DET_IBAN,
	RG_DET_US_SSN,
	RG_DET_ABA_ROUTING,
	RG_DET_EMAIL,
	RG_DET_PHONE_E164,
	RG_DET_JWT,
	RG_DET_AWS_ACCESS_KEY,
	RG_DET_PRIVATE_KEY,
	RG_DET_IPV4,
	RG_DET_IPV6,
	RG_DET__COUNT
};

/* Bumped whenever a detector's pattern or validator changes: bundles record the catalogue
 * they were compiled against and the loader refuses a mismatch. */
#define RG_DETECTOR_CATALOG_VERSION 1

enum rg_mask_style {
	RG_MASK_REDACT = 0,	/* every character of the span replaced by '*' ... */
	RG_MASK_PARTIAL,	/* keep the last `keep` (default 4) alphanumerics */
	RG_MASK_HMAC,		/* hex HMAC-SHA256(key, span), truncated; key from gateway config */
	RG_MASK_NULL,		/* whole field becomes SQL NULL */
	RG_MASK_STATIC,		/* span replaced by a fixed text */
	RG_MASK__COUNT
};

struct rg_detector_def {
	const char *name;	/* as written in rules: "credit_card" */
	const char *pattern;	/* Hyperscan regex, compiled with HS_FLAG_SOM_LEFTMOST */
	unsigned hs_flags;	/* extra flags, e.g. HS_FLAG_CASELESS */
	/* Returns true if p[0..n) (the whole match) is a real instance. */
	bool (*validate)(const uint8_t *p, size_t n);
};

const struct rg_detector_def *rg_detector_get(enum rg_detector d);
/* Whether the raw match f[*start..end) of detector d inside a field f[0..flen) is a real
 * instance: not glued to a longer token (the field's edges count as boundaries) and
 * accepted by the validator. May move *start right, past a separator, to the instance a
 * leftmost-start report hid ("qty 2 4111 1111 1111 1111"). */
bool rg_detector_confirm(enum rg_detector d, const uint8_t *f, size_t flen, size_t *start,
			 size_t end);
/* The detectors (bit 1u << enum rg_detector) that can confirm a match in a field made only
 * of an optional '-' followed by nd decimal digits (an integer as PostgreSQL prints it): a
 * card for 13..19 digits, a routing number for 9, nothing else. */
unsigned rg_detector_digit_field(size_t nd);
const char *rg_detector_name(enum rg_detector d);
int rg_detector_from_name(const char *name); /* -1 if unknown */
const char *rg_mask_style_name(enum rg_mask_style s);
int rg_mask_style_from_name(const char *name); /* -1 if unknown */

/* One masking action: a detector rule (detector >= 0) or a column rule (detector = -1). */
struct rg_mask_action {
	int detector;		/* enum rg_detector, or -1 for a column rule */
	enum rg_mask_style style;
	uint8_t keep;		/* PARTIAL: characters kept at the end (default 4) */
	const char *static_text; /* STATIC only */
	uint32_t rule_index;	/* caller's index (bundle mask-rule index), reported back */
};

/* Compile the detector actions of acts[0..n) (column actions are skipped) into one
 * Hyperscan block-mode database whose pattern ids are indexes into acts. *db = NULL when
 * no detector action exists. Returns 0 or -EINVAL with a message in err. */
int rg_mask_compile(const struct rg_mask_action *acts, size_t n, hs_database_t **db,
		    char *err, size_t errlen);

struct rg_mask_field {
	const uint8_t *data;
	uint32_t len;
	bool is_null;
};

/* Built once per result set (e.g. at PostgreSQL RowDescription) by the caller.
 * column_action: per field, the action forced by a column rule (index into acts) or -1;
 * NULL if none. enabled: per action (nacts entries), whether it applies to this session's
 * identity/target; NULL means all. A disabled detector action's matches are ignored. */
struct rg_mask_plan {
	const int32_t *column_action;
	size_t ncolumns;
	const uint8_t *enabled;
	/* Optional, so rows need not work it out one by one: RG_MASK_PLAN_DETECTORS | the
	 * detectors (bit 1u << enum rg_detector) of the detector actions `enabled` enables,
	 * set by whoever fills enabled; 0: the masker derives them from enabled per row. */
	unsigned detectors;
};
#define RG_MASK_PLAN_DETECTORS 0x80000000u

/* The detectors of the detector actions among acts[0..n) that en enables (NULL: all), as
 * rg_mask_plan.detectors wants them (without RG_MASK_PLAN_DETECTORS). */
unsigned rg_mask_detectors(const struct rg_mask_action *acts, size_t n, const uint8_t *en);

struct rg_mask_out_field {
	bool changed;
	bool is_null;
	const uint8_t *data; /* valid until the next call on the masker */
	uint32_t len;
};

struct rg_mask_result {
	bool changed;		/* any field changed */
	uint32_t matches;	/* confirmed detector matches */
	const struct rg_mask_out_field *fields; /* nfields entries, valid until next call */
	uint64_t rules_hit;	/* bit (rule_index % 64) of actions applied, for audit */
	uint32_t detectors_hit; /* bit (1 << enum rg_detector) of detectors applied; bit 31: a
				 * column rule */
};

struct rg_masker;

/* db may be NULL (column rules only). acts must outlive the masker. The HMAC key is copied. */
struct rg_masker *rg_masker_new(const hs_database_t *db, const struct rg_mask_action *acts,
				size_t nacts, const uint8_t *hmac_key, size_t keylen);
void rg_masker_free(struct rg_masker *m);

/* Mask one row. plan may be NULL (no column rules). Returns 0 or -ENOMEM/-EIO. */
int rg_masker_row(struct rg_masker *m, const struct rg_mask_plan *plan,
		  const struct rg_mask_field *fields, size_t nfields, struct rg_mask_result *out);

/*
 * Whether rg_masker_row would pass over the field p[0..len) under plan: true when none of
 * the detectors the plan enables can confirm a match in it (the same checks, in the same
 * order: trailing spaces, integers, the prefilter). It says nothing of column rules: a
 * caller that uses it to skip whole rows must look at plan->column_action itself. False
 * whenever unsure, and always for a non-empty field when the prefilter is off.
 */
bool rg_masker_field_clear(const struct rg_masker *m, const struct rg_mask_plan *plan,
			   const uint8_t *p, size_t len);

/*
 * Many fields at once, where a protocol lays them out in one buffer with its framing between
 * them (a run of DataRows): the fields in p[from..n), framing bytes and all, in one pass.
 * Returns lim: every field [a, b) there with b + 4 <= lim is one rg_masker_field_clear would
 * pass over under plan (it may say that of others too, never of a field where an enabled
 * detector can confirm a match). SIZE_MAX: all of them. Column rules are the caller's, as
 * for rg_masker_field_clear; 0 when the prefilter is off.
 */
size_t rg_masker_run_clear(const struct rg_masker *m, const struct rg_mask_plan *plan,
			   const uint8_t *p, size_t n, size_t from);

/*
 * The prefilter rg_masker_row runs before the SOM scan, exposed for tests and benchmarks.
 * rg_mask_prefilter returns the detectors among `detectors` (bits 1u << enum rg_detector)
 * whose necessary condition holds somewhere in p[0..n); it may stop at the first, so the
 * result is nonzero exactly when some condition holds. A field for which it returns 0
 * cannot hold a confirmed match of those detectors.
 */
unsigned rg_mask_prefilter(const uint8_t *p, size_t n, unsigned detectors);

enum rg_mask_prefilter_impl {
	RG_MASK_PF_AUTO = 0, /* the best the CPU supports: the default */
	RG_MASK_PF_SCALAR,
	RG_MASK_PF_SSE2,
	RG_MASK_PF_AVX2,
	RG_MASK_PF_AVX512, /* AVX-512 F+BW+VL */
	RG_MASK_PF_AVX512VBMI, /* AVX-512 with VBMI: the run scan's table lookup (fields as AVX512) */
};

/* Tests and benchmarks only (differential tests force each path in turn; production code
 * never calls it): pick the prefilter's implementation for the whole process (not while
 * other threads mask). -ENOTSUP when the build or CPU lacks it. */
int rg_mask_prefilter_use(enum rg_mask_prefilter_impl impl);

/* Tests only: on = false makes m SOM-scan every field, the reference the prefilter must
 * agree with. */
void rg_masker_set_prefilter(struct rg_masker *m, bool on);

#endif
