/*
 * Row masking: styles, merging of overlapping matches, NULL fields, column actions,
 * actions disabled by the plan, matches across field boundaries, big fields, reuse of a
 * masker across rows, and rg_mask_compile's errors. Detector look-alikes are covered in
 * test_detect.c; here every row goes through rg_masker_row as the gateway calls it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mask.h"

struct fx {
	hs_database_t *db;
	struct rg_masker *m;
	struct rg_mask_result r;
	char out[4096];
};

static void fx_init(struct fx *x, const struct rg_mask_action *acts, size_t n, const char *key)
{
	char err[256];

	memset(x, 0, sizeof(*x));
	assert_int_equal(rg_mask_compile(acts, n, &x->db, err, sizeof(err)), 0);
	x->m = rg_masker_new(x->db, acts, n, (const uint8_t *)key, key ? strlen(key) : 0);
	assert_non_null(x->m);
}

static void fx_fini(struct fx *x)
{
	rg_masker_free(x->m);
	hs_free_database(x->db);
}

/* Mask a one-field row; returns the field's new text, "<NULL>", or the input itself. */
static const char *mask1(struct fx *x, const struct rg_mask_plan *plan, const char *text)
{
	struct rg_mask_field f = {(const uint8_t *)text, (uint32_t)strlen(text), false};

	assert_int_equal(rg_masker_row(x->m, plan, &f, 1, &x->r), 0);
	const struct rg_mask_out_field *o = &x->r.fields[0];
	if (o->is_null)
		return "<NULL>";
	assert_true(o->len < sizeof(x->out));
	memcpy(x->out, o->data, o->len);
	x->out[o->len] = '\0';
	return x->out;
}

#define ACT(det, st, ...) ((struct rg_mask_action){.detector = (det), .style = (st), __VA_ARGS__})

static void test_redact_keeps_length_and_separators(void **state)
{
	(void)state;
	struct rg_mask_action a[] = {ACT(RG_DET_CREDIT_CARD, RG_MASK_REDACT)};
	struct fx x;
	fx_init(&x, a, 1, NULL);
	assert_string_equal(mask1(&x, NULL, "card 4111 1111 1111 1111 ok"),
			    "card **** **** **** **** ok");
	assert_true(x.r.changed);
	assert_int_equal(x.r.matches, 1);
	fx_fini(&x);
}

static void test_partial_keeps_last_alnums_and_separators(void **state)
{
	(void)state;
	struct rg_mask_action a[] = {ACT(RG_DET_CREDIT_CARD, RG_MASK_PARTIAL, .keep = 4),
				     ACT(RG_DET_EMAIL, RG_MASK_PARTIAL, .keep = 0)};
	struct fx x;
	fx_init(&x, a, 2, NULL);
	assert_string_equal(mask1(&x, NULL, "4111-1111-1111-1234x"), "4111-1111-1111-1234x");
	assert_string_equal(mask1(&x, NULL, "4111-1111-1111-1111"), "****-****-****-1111");
	assert_string_equal(mask1(&x, NULL, "to a.b@ex.com"), "to *.*@**.***");
	fx_fini(&x);
}

static void test_partial_keep_longer_than_span_keeps_all(void **state)
{
	(void)state;
	struct rg_mask_action a[] = {ACT(RG_DET_US_SSN, RG_MASK_PARTIAL, .keep = 200)};
	struct fx x;
	fx_init(&x, a, 1, NULL);
	assert_string_equal(mask1(&x, NULL, "123-45-6789"), "123-45-6789");
	assert_true(x.r.changed); /* a rule applied, even if it hid nothing */
	fx_fini(&x);
}

static void test_hmac_is_hmac_sha256_prefix_in_hex(void **state)
{
	(void)state;
	/* RFC 4231 case 1: key 0x0b x 20, "Hi There" -> b0344c61d8db3853... */
	char key[21];
	memset(key, 0x0b, 20);
	key[20] = '\0';
	struct rg_mask_action a[] = {ACT(-1, RG_MASK_HMAC)};
	int32_t col[] = {0};
	struct rg_mask_plan plan = {col, 1, NULL, 0};
	struct fx x;
	fx_init(&x, a, 1, key);
	assert_string_equal(mask1(&x, &plan, "Hi There"), "h:b0344c61d8db3853");
	fx_fini(&x);
}

static void test_hmac_of_detector_span_with_long_key(void **state)
{
	(void)state;
	char key[101];
	memset(key, 'k', 100);
	key[100] = '\0';
	struct rg_mask_action a[] = {ACT(RG_DET_EMAIL, RG_MASK_HMAC)};
	struct fx x;
	fx_init(&x, a, 1, key);
	/* python: hmac.new(b'k'*100, b'john@example.com', sha256).hexdigest()[:16] */
	assert_string_equal(mask1(&x, NULL, "mail john@example.com."), "mail h:730f9adc42c2804e.");
	fx_fini(&x);
	fx_init(&x, a, 1, "secret");
	assert_string_equal(mask1(&x, NULL, "john@example.com"), "h:62f6d956c6a55341");
	fx_fini(&x);
}

static void test_hmac_without_key_falls_back_to_redact(void **state)
{
	(void)state;
	struct rg_mask_action a[] = {ACT(RG_DET_EMAIL, RG_MASK_HMAC)};
	struct fx x;
	fx_init(&x, a, 1, NULL);
	assert_string_equal(mask1(&x, NULL, "john@example.com"), "****@*******.***");
	fx_fini(&x);
}

static void test_null_style_turns_whole_field_null(void **state)
{
	(void)state;
	struct rg_mask_action a[] = {ACT(RG_DET_US_SSN, RG_MASK_NULL)};
	struct fx x;
	fx_init(&x, a, 1, NULL);
	assert_string_equal(mask1(&x, NULL, "name Bob ssn 123-45-6789"), "<NULL>");
	assert_true(x.r.fields[0].changed);
	fx_fini(&x);
}

static void test_static_replaces_span_and_null_text_redacts(void **state)
{
	(void)state;
	struct rg_mask_action a[] = {ACT(RG_DET_EMAIL, RG_MASK_STATIC, .static_text = "[email]"),
				     ACT(RG_DET_IPV4, RG_MASK_STATIC)};
	struct fx x;
	fx_init(&x, a, 2, NULL);
	assert_string_equal(mask1(&x, NULL, "a@b.co, c@d.org from 10.1.2.3"),
			    "[email], [email] from **.*.*.*");
	assert_int_equal(x.r.matches, 3);
	fx_fini(&x);
}

static void test_overlapping_matches_merge_and_lowest_action_wins(void **state)
{
	(void)state;
	/* "+1 123-45-6789" is a phone number and contains an SSN */
	struct rg_mask_action a[] = {
	    ACT(RG_DET_PHONE_E164, RG_MASK_STATIC, .static_text = "[P]", .rule_index = 3),
	    ACT(RG_DET_US_SSN, RG_MASK_STATIC, .static_text = "[S]", .rule_index = 70)};
	struct fx x;
	fx_init(&x, a, 2, NULL);
	assert_string_equal(mask1(&x, NULL, "tel +1 123-45-6789 ok"), "tel [P] ok");
	assert_int_equal(x.r.matches, 1);
	assert_int_equal(x.r.rules_hit, 1ull << 3);
	fx_fini(&x);

	struct rg_mask_action b[] = {a[1], a[0]};
	fx_init(&x, b, 2, NULL);
	assert_string_equal(mask1(&x, NULL, "tel +1 123-45-6789 ok"), "tel [S] ok");
	assert_int_equal(x.r.rules_hit, 1ull << (70 % 64));
	fx_fini(&x);
}

static void test_same_instance_reported_twice_masks_once(void **state)
{
	(void)state;
	struct rg_mask_action a[] = {ACT(RG_DET_EMAIL, RG_MASK_STATIC, .static_text = "E"),
				     ACT(RG_DET_EMAIL, RG_MASK_STATIC, .static_text = "F")};
	struct fx x;
	fx_init(&x, a, 2, NULL);
	assert_string_equal(mask1(&x, NULL, "x@y.com"), "E");
	fx_fini(&x);
}

static void test_null_fields_stay_null_and_unchanged(void **state)
{
	(void)state;
	struct rg_mask_action a[] = {ACT(RG_DET_EMAIL, RG_MASK_REDACT),
				     ACT(-1, RG_MASK_STATIC, .static_text = "C")};
	int32_t col[] = {1, -1, -1};
	struct rg_mask_plan plan = {col, 3, NULL, 0};
	struct rg_mask_field f[] = {
	    {NULL, 0, true}, {NULL, 0, true}, {(const uint8_t *)"x@y.com", 7, false}};
	struct fx x;
	fx_init(&x, a, 2, NULL);
	assert_int_equal(rg_masker_row(x.m, &plan, f, 3, &x.r), 0);
	assert_true(x.r.fields[0].is_null && !x.r.fields[0].changed);
	assert_true(x.r.fields[1].is_null && !x.r.fields[1].changed);
	assert_true(x.r.fields[2].changed);
	assert_memory_equal(x.r.fields[2].data, "*@*.***", 7);
	fx_fini(&x);
}

static void test_row_without_pii_is_reported_unchanged_by_reference(void **state)
{
	(void)state;
	struct rg_mask_action a[] = {ACT(RG_DET_EMAIL, RG_MASK_REDACT),
				     ACT(RG_DET_CREDIT_CARD, RG_MASK_REDACT)};
	const char *v[] = {"42", "hello world", "2024-01-01 12:30:45", "", "order 17"};
	struct rg_mask_field f[5];
	for (int i = 0; i < 5; i++)
		f[i] = (struct rg_mask_field){(const uint8_t *)v[i], (uint32_t)strlen(v[i]), false};
	struct fx x;
	fx_init(&x, a, 2, NULL);
	assert_int_equal(rg_masker_row(x.m, NULL, f, 5, &x.r), 0);
	assert_false(x.r.changed);
	assert_int_equal(x.r.matches, 0);
	assert_int_equal(x.r.rules_hit, 0);
	for (int i = 0; i < 5; i++) {
		assert_false(x.r.fields[i].changed);
		assert_ptr_equal(x.r.fields[i].data, f[i].data);
		assert_int_equal(x.r.fields[i].len, f[i].len);
	}
	fx_fini(&x);
}

static void test_column_action_masks_whole_field_and_wins_over_detectors(void **state)
{
	(void)state;
	struct rg_mask_action a[] = {ACT(RG_DET_EMAIL, RG_MASK_STATIC, .static_text = "E"),
				     ACT(-1, RG_MASK_PARTIAL, .keep = 2, .rule_index = 9)};
	int32_t col[] = {-1, 1};
	struct rg_mask_plan plan = {col, 2, NULL, 0};
	struct rg_mask_field f[] = {{(const uint8_t *)"x@y.com", 7, false},
				    {(const uint8_t *)"Jo x@y.com", 10, false}};
	struct fx x;
	fx_init(&x, a, 2, NULL);
	assert_int_equal(rg_masker_row(x.m, &plan, f, 2, &x.r), 0);
	assert_int_equal(x.r.fields[0].len, 1);
	assert_memory_equal(x.r.fields[0].data, "E", 1);
	assert_int_equal(x.r.fields[1].len, 10);
	assert_memory_equal(x.r.fields[1].data, "** *@*.*om", 10);
	assert_true(x.r.rules_hit & (1ull << 9));
	assert_int_equal(x.r.matches, 1); /* column actions are not detector matches */
	fx_fini(&x);
}

static void test_column_action_redacts_utf8_to_valid_ascii(void **state)
{
	(void)state;
	struct rg_mask_action a[] = {ACT(-1, RG_MASK_REDACT)};
	int32_t col[] = {0};
	struct rg_mask_plan plan = {col, 1, NULL, 0};
	struct fx x;
	fx_init(&x, a, 1, NULL);
	assert_null(x.db);
	assert_string_equal(mask1(&x, &plan, "Jos\xc3\xa9 D."), "***** *.");
	fx_fini(&x);
}

static void test_column_action_disabled_by_plan_leaves_detectors(void **state)
{
	(void)state;
	struct rg_mask_action a[] = {ACT(RG_DET_EMAIL, RG_MASK_STATIC, .static_text = "E"),
				     ACT(-1, RG_MASK_NULL)};
	int32_t col[] = {1};
	uint8_t en[] = {1, 0};
	struct rg_mask_plan plan = {col, 1, en, 0};
	struct fx x;
	fx_init(&x, a, 2, NULL);
	assert_string_equal(mask1(&x, &plan, "to x@y.com"), "to E");
	en[1] = 1;
	assert_string_equal(mask1(&x, &plan, "to x@y.com"), "<NULL>");
	fx_fini(&x);
}

static void test_detector_action_disabled_by_plan_is_ignored(void **state)
{
	(void)state;
	struct rg_mask_action a[] = {ACT(RG_DET_EMAIL, RG_MASK_STATIC, .static_text = "E"),
				     ACT(RG_DET_IPV4, RG_MASK_STATIC, .static_text = "I")};
	uint8_t en[] = {0, 1};
	struct rg_mask_plan plan = {NULL, 0, en, 0};
	struct fx x;
	fx_init(&x, a, 2, NULL);
	assert_string_equal(mask1(&x, &plan, "x@y.com 1.2.3.4"), "x@y.com I");
	en[1] = 0;
	assert_string_equal(mask1(&x, &plan, "x@y.com 1.2.3.4"), "x@y.com 1.2.3.4");
	assert_false(x.r.changed);
	fx_fini(&x);
}

/* A plan may carry its enabled detectors worked out once (rg_policy_mask_plan_build does):
 * rows are masked exactly as when the masker derives them, and integers and trailing
 * spaces take their shortcuts under it too. */
static void test_plan_detectors_precomputed_mask_the_same(void **state)
{
	(void)state;
	struct rg_mask_action a[] = {ACT(RG_DET_EMAIL, RG_MASK_STATIC, .static_text = "E"),
				     ACT(RG_DET_CREDIT_CARD, RG_MASK_PARTIAL, .keep = 4),
				     ACT(RG_DET_ABA_ROUTING, RG_MASK_STATIC, .static_text = "R")};
	static const char *const rows[] = {"x@y.com 4111111111111111", "4111111111111111",
					   "-4111111111111111", "4111111111111111   ",
					   "021000021", "021000021 ", "12345", "  ", "x@y.com   "};
	uint8_t en[3];
	struct fx x;

	fx_init(&x, a, 3, NULL);
	assert_int_equal(rg_mask_detectors(a, 3, NULL),
			 1u << RG_DET_EMAIL | 1u << RG_DET_CREDIT_CARD | 1u << RG_DET_ABA_ROUTING);
	for (unsigned bits = 0; bits < 8; bits++) {
		for (int i = 0; i < 3; i++)
			en[i] = (uint8_t)(bits >> i & 1);
		struct rg_mask_plan derived = {NULL, 0, en, 0};
		struct rg_mask_plan pre = {NULL, 0, en,
					   RG_MASK_PLAN_DETECTORS | rg_mask_detectors(a, 3, en)};
		for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
			char want[128];
			snprintf(want, sizeof(want), "%s", mask1(&x, &derived, rows[r]));
			assert_string_equal(mask1(&x, &pre, rows[r]), want);
		}
	}
	en[0] = en[2] = 0, en[1] = 1;
	struct rg_mask_plan cards = {NULL, 0, en, RG_MASK_PLAN_DETECTORS | rg_mask_detectors(a, 3, en)};
	assert_string_equal(mask1(&x, &cards, "4111111111111111   "), "************1111   ");
	assert_string_equal(mask1(&x, &cards, "-4111111111111111"), "-************1111");
	assert_string_equal(mask1(&x, &cards, "021000021"), "021000021");
	fx_fini(&x);
}

static void test_column_action_out_of_range_fails_closed(void **state)
{
	(void)state;
	struct rg_mask_action a[] = {ACT(RG_DET_EMAIL, RG_MASK_REDACT)};
	int32_t col[] = {5};
	struct rg_mask_plan plan = {col, 1, NULL, 0};
	struct fx x;
	fx_init(&x, a, 1, NULL);
	assert_string_equal(mask1(&x, &plan, "plain"), "<NULL>");
	fx_fini(&x);
}

static void test_match_across_field_boundary_is_dropped(void **state)
{
	(void)state;
	struct rg_mask_action a[] = {ACT(RG_DET_CREDIT_CARD, RG_MASK_REDACT),
				     ACT(RG_DET_EMAIL, RG_MASK_REDACT)};
	/* contiguous in memory, like a DataRow without the length words */
	static const char row[] = "4111 11111111 1111john@example.com";
	struct rg_mask_field f[] = {{(const uint8_t *)row, 7, false},
				    {(const uint8_t *)row + 7, 11, false},
				    {(const uint8_t *)row + 18, 5, false},
				    {(const uint8_t *)row + 23, 11, false}};
	struct fx x;
	fx_init(&x, a, 2, NULL);
	assert_int_equal(rg_masker_row(x.m, NULL, f, 4, &x.r), 0);
	assert_false(x.r.changed);
	fx_fini(&x);
}

static void test_field_next_to_digits_is_not_shadowed(void **state)
{
	(void)state;
	/* A leftmost match starting in the previous field must not hide this one: in a
	 * DataRow the bytes before a field are its length and may well be digits. */
	struct rg_mask_action a[] = {ACT(RG_DET_CREDIT_CARD, RG_MASK_REDACT)};
	static const char row[] = "0004"
				  "4111111111111111";
	struct rg_mask_field f[] = {{(const uint8_t *)row, 4, false},
				    {(const uint8_t *)row + 4, 16, false}};
	struct fx x;
	fx_init(&x, a, 1, NULL);
	assert_int_equal(rg_masker_row(x.m, NULL, f, 2, &x.r), 0);
	assert_false(x.r.fields[0].changed);
	assert_true(x.r.fields[1].changed);
	assert_memory_equal(x.r.fields[1].data, "****************", 16);
	fx_fini(&x);
}

static void test_many_fields_only_the_one_with_pii_changes(void **state)
{
	(void)state;
	struct rg_mask_action a[] = {ACT(RG_DET_AWS_ACCESS_KEY, RG_MASK_PARTIAL, .keep = 4)};
	struct rg_mask_field f[200];
	for (int i = 0; i < 200; i++)
		f[i] = (struct rg_mask_field){(const uint8_t *)"some words 123", 14, i % 7 == 0};
	f[157] = (struct rg_mask_field){(const uint8_t *)"AKIAIOSFODNN7EXAMPLE", 20, false};
	struct fx x;
	fx_init(&x, a, 1, NULL);
	assert_int_equal(rg_masker_row(x.m, NULL, f, 200, &x.r), 0);
	for (int i = 0; i < 200; i++)
		assert_int_equal(x.r.fields[i].changed, i == 157);
	assert_memory_equal(x.r.fields[157].data, "****************MPLE", 20);
	fx_fini(&x);
}

static void test_big_field_masks_instances_at_both_ends(void **state)
{
	(void)state;
	const size_t n = 1 << 20;
	char *big = malloc(n);
	assert_non_null(big);
	for (size_t i = 0; i < n; i++)
		big[i] = "lorem ipsum dolor 2024 "[i % 23];
	memcpy(big, "4111111111111111 ", 17);
	memcpy(big + n / 2, " x@y.com ", 9);
	memcpy(big + n - 17, " 5555555555554444", 17);
	struct rg_mask_action a[] = {ACT(RG_DET_CREDIT_CARD, RG_MASK_PARTIAL, .keep = 4),
				     ACT(RG_DET_EMAIL, RG_MASK_HMAC)};
	struct rg_mask_field f = {(const uint8_t *)big, (uint32_t)n, false};
	struct fx x;
	fx_init(&x, a, 2, "k");
	assert_int_equal(rg_masker_row(x.m, NULL, &f, 1, &x.r), 0);
	assert_int_equal(x.r.matches, 3);
	const struct rg_mask_out_field *o = &x.r.fields[0];
	assert_int_equal(o->len, n - 7 + 18);
	assert_memory_equal(o->data, "************1111 ", 17);
	assert_memory_equal(o->data + n / 2, " h:", 3);
	assert_memory_equal(o->data + o->len - 17, " ************4444", 17);
	fx_fini(&x);

	/* a megabyte of digits holds no card, routing number or anything else */
	memset(big, '7', n);
	struct rg_mask_action all[RG_DET__COUNT];
	for (int d = 0; d < RG_DET__COUNT; d++)
		all[d] = ACT(d, RG_MASK_REDACT);
	fx_init(&x, all, RG_DET__COUNT, NULL);
	assert_int_equal(rg_masker_row(x.m, NULL, &f, 1, &x.r), 0);
	assert_false(x.r.changed);
	fx_fini(&x);
	free(big);
}

static void test_masker_reused_across_rows_does_not_leak_state(void **state)
{
	(void)state;
	struct rg_mask_action a[] = {ACT(RG_DET_EMAIL, RG_MASK_REDACT)};
	struct fx x;
	fx_init(&x, a, 1, NULL);
	for (int i = 0; i < 100; i++) {
		assert_string_equal(mask1(&x, NULL, "a@bb.com"), "*@**.***");
		assert_string_equal(mask1(&x, NULL, "nothing here"), "nothing here");
		assert_false(x.r.changed);
		assert_int_equal(x.r.rules_hit, 0);
	}
	fx_fini(&x);
}

static void test_masker_without_db_applies_only_column_rules(void **state)
{
	(void)state;
	struct rg_mask_action a[] = {ACT(-1, RG_MASK_STATIC, .static_text = "")};
	struct rg_masker *m = rg_masker_new(NULL, a, 1, NULL, 0);
	int32_t col[] = {-1, 0};
	struct rg_mask_plan plan = {col, 2, NULL, 0};
	struct rg_mask_field f[] = {{(const uint8_t *)"x@y.com", 7, false},
				    {(const uint8_t *)"secret", 6, false}};
	struct rg_mask_result r;
	assert_non_null(m);
	assert_int_equal(rg_masker_row(m, &plan, f, 2, &r), 0);
	assert_false(r.fields[0].changed);
	assert_true(r.fields[1].changed);
	assert_int_equal(r.fields[1].len, 0);
	assert_non_null(r.fields[1].data);
	assert_int_equal(rg_masker_row(m, NULL, f, 0, &r), 0);
	assert_false(r.changed);
	rg_masker_free(m);
}

static void test_compile_rejects_unknown_detector_and_style(void **state)
{
	(void)state;
	hs_database_t *db = (void *)1;
	char err[128];
	struct rg_mask_action bad_det[] = {ACT(RG_DET__COUNT, RG_MASK_REDACT)};
	assert_int_equal(rg_mask_compile(bad_det, 1, &db, err, sizeof(err)), -EINVAL);
	assert_null(db);
	assert_non_null(strstr(err, "unknown detector"));
	struct rg_mask_action bad_st[] = {ACT(RG_DET_EMAIL, RG_MASK__COUNT)};
	assert_int_equal(rg_mask_compile(bad_st, 1, &db, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unknown style"));
	struct rg_mask_action cols[] = {ACT(-1, RG_MASK_NULL)};
	assert_int_equal(rg_mask_compile(cols, 1, &db, err, sizeof(err)), 0);
	assert_null(db);
	assert_int_equal(rg_mask_compile(NULL, 0, &db, err, sizeof(err)), 0);
	assert_null(db);
}

static void test_every_detector_compiles_in_one_database(void **state)
{
	(void)state;
	struct rg_mask_action all[RG_DET__COUNT];
	for (int d = 0; d < RG_DET__COUNT; d++)
		all[d] = ACT(d, RG_MASK_REDACT, .rule_index = (uint32_t)d);
	struct fx x;
	fx_init(&x, all, RG_DET__COUNT, NULL);
	assert_non_null(x.db);
	assert_string_equal(mask1(&x, NULL, "ip 10.0.0.1 mail a@b.cc ssn 123-45-6789"),
			    "ip **.*.*.* mail *@*.** ssn ***-**-****");
	assert_int_equal(x.r.matches, 3);
	assert_int_equal(x.r.rules_hit,
			 (1ull << RG_DET_IPV4) | (1ull << RG_DET_EMAIL) | (1ull << RG_DET_US_SSN));
	fx_fini(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_redact_keeps_length_and_separators),
	    cmocka_unit_test(test_partial_keeps_last_alnums_and_separators),
	    cmocka_unit_test(test_partial_keep_longer_than_span_keeps_all),
	    cmocka_unit_test(test_hmac_is_hmac_sha256_prefix_in_hex),
	    cmocka_unit_test(test_hmac_of_detector_span_with_long_key),
	    cmocka_unit_test(test_hmac_without_key_falls_back_to_redact),
	    cmocka_unit_test(test_null_style_turns_whole_field_null),
	    cmocka_unit_test(test_static_replaces_span_and_null_text_redacts),
	    cmocka_unit_test(test_overlapping_matches_merge_and_lowest_action_wins),
	    cmocka_unit_test(test_same_instance_reported_twice_masks_once),
	    cmocka_unit_test(test_null_fields_stay_null_and_unchanged),
	    cmocka_unit_test(test_row_without_pii_is_reported_unchanged_by_reference),
	    cmocka_unit_test(test_column_action_masks_whole_field_and_wins_over_detectors),
	    cmocka_unit_test(test_column_action_redacts_utf8_to_valid_ascii),
	    cmocka_unit_test(test_column_action_disabled_by_plan_leaves_detectors),
	    cmocka_unit_test(test_detector_action_disabled_by_plan_is_ignored),
	    cmocka_unit_test(test_plan_detectors_precomputed_mask_the_same),
	    cmocka_unit_test(test_column_action_out_of_range_fails_closed),
	    cmocka_unit_test(test_match_across_field_boundary_is_dropped),
	    cmocka_unit_test(test_field_next_to_digits_is_not_shadowed),
	    cmocka_unit_test(test_many_fields_only_the_one_with_pii_changes),
	    cmocka_unit_test(test_big_field_masks_instances_at_both_ends),
	    cmocka_unit_test(test_masker_reused_across_rows_does_not_leak_state),
	    cmocka_unit_test(test_masker_without_db_applies_only_column_rules),
	    cmocka_unit_test(test_compile_rejects_unknown_detector_and_style),
	    cmocka_unit_test(test_every_detector_compiles_in_one_database),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
