/*
 * Mask plans owned by the caller (rg_policy_mask_plan_new / _build / _get / _free): a
 * session's plan stays valid while the same worker ctx builds plans for other sessions,
 * each plan keeps its own identity's enabled rules and column actions, the ctx's own plan
 * (rg_policy_mask_plan) still works beside them, and a plan is refused with a ctx of
 * another policy (a bundle swap) so it is rebuilt instead of indexing the wrong rules.
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

#include "policy.h"
#include "rulec.h"

static const char *POLICY = "version: 1\n"
			    "pack: t\n"
			    "masks:\n"
			    "  - id: t.ssn-column\n"
			    "    columns: [\"public.customers.ssn\"]\n"
			    "    style: static\n"
			    "    text: \"***\"\n"
			    "  - id: t.cards-for-support\n"
			    "    match: { identity: { groups_any: [support] } }\n"
			    "    detector: credit_card\n"
			    "    style: redact\n";

static struct rg_policy *load_policy(void)
{
	struct rulec_program prog;
	struct rulec_diags d = {0};
	struct rulec_buf b = {0};
	struct rg_policy *p = NULL;
	char err[256] = "";

	memset(&prog, 0, sizeof(prog));
	assert_int_equal(rulec_parse_buffer("t.yaml", POLICY, strlen(POLICY), &prog, &d), 0);
	assert_int_equal(rulec_check_program(&prog, &d), 0);
	assert_int_equal(rulec_compile(&prog, &b, &d), 0);
	rulec_diags_free(&d);
	rulec_program_free(&prog);
	assert_int_equal(rg_policy_load_mem(b.p, b.n, NULL, &p, err, sizeof(err)), 0);
	rulec_buf_free(&b);
	return p;
}

static const char *const SUPPORT[] = {"support"};
static const struct rg_identity ID_SUPPORT = {.subject = "s", .groups = SUPPORT, .ngroups = 1};
static const struct rg_identity ID_OTHER = {.subject = "o"};
static const struct rg_request REQ_SUPPORT = { .protocol = "postgres", .target = "db",
						 .identity = &ID_SUPPORT };
static const struct rg_request REQ_OTHER = { .protocol = "postgres", .target = "db",
					       .identity = &ID_OTHER };

#define CARD "4111 1111 1111 1111"

/* Mask (ssn, note) with plan; out[0], out[1] get the fields' texts. */
static void mask2(struct rg_policy_ctx *c, const struct rg_mask_plan *plan, char out[2][64])
{
	struct rg_mask_field f[2] = {{(const uint8_t *)"123", 3, false},
				     {(const uint8_t *)CARD, sizeof(CARD) - 1, false}};
	struct rg_mask_result r;

	assert_int_equal(rg_policy_mask_row(c, plan, f, 2, &r), 0);
	for (int i = 0; i < 2; i++) {
		assert_false(r.fields[i].is_null);
		assert_true(r.fields[i].len < 64);
		memcpy(out[i], r.fields[i].data, r.fields[i].len);
		out[i][r.fields[i].len] = 0;
	}
}

static void test_caller_plans_survive_other_builds_on_the_same_ctx(void **state)
{
	(void)state;
	struct rg_policy *p = load_policy();
	struct rg_policy_ctx *c = rg_policy_ctx_new(p, NULL, 0);
	struct rg_policy_plan *a = rg_policy_mask_plan_new(), *b = rg_policy_mask_plan_new();
	const char *cols_a[] = {"public.customers.ssn", "public.customers.note"};
	const char *cols_b[] = {"public.orders.ref", "public.orders.note"};
	const struct rg_mask_plan *pa, *pb, *pc;
	char out[2][64];

	assert_non_null(c);
	assert_int_equal(rg_policy_mask_plan_build(c, &REQ_SUPPORT, cols_a, 2, a, &pa), 0);
	assert_int_equal(rg_policy_mask_plan_build(c, &REQ_OTHER, cols_b, 2, b, &pb), 0);
	/* the ctx's own plan, built last, for yet another shape */
	assert_int_equal(rg_policy_mask_plan(c, &REQ_OTHER, cols_b, 2, &pc), 0);

	mask2(c, pa, out);
	assert_string_equal(out[0], "***");
	assert_string_equal(out[1], "**** **** **** ****");
	mask2(c, pb, out);
	assert_string_equal(out[0], "123");
	assert_string_equal(out[1], CARD);
	mask2(c, pc, out);
	assert_string_equal(out[1], CARD);
	/* and the first session's plan is still its own */
	mask2(c, pa, out);
	assert_string_equal(out[0], "***");
	assert_ptr_equal(rg_policy_mask_plan_get(a, c), pa);

	rg_policy_mask_plan_free(a);
	rg_policy_mask_plan_free(b);
	rg_policy_ctx_free(c);
	rg_policy_free(p);
}

static void test_rebuilding_a_plan_for_a_wider_then_narrower_result(void **state)
{
	(void)state;
	struct rg_policy *p = load_policy();
	struct rg_policy_ctx *c = rg_policy_ctx_new(p, NULL, 0);
	struct rg_policy_plan *a = rg_policy_mask_plan_new();
	const char *wide[300];
	const struct rg_mask_plan *pa;

	for (int i = 0; i < 300; i++)
		wide[i] = i == 299 ? "public.customers.ssn" : NULL;
	assert_int_equal(rg_policy_mask_plan_build(c, &REQ_OTHER, wide, 300, a, &pa), 0);
	assert_int_equal(pa->ncolumns, 300);
	assert_int_equal(pa->column_action[299], 0);
	assert_int_equal(pa->column_action[0], -1);
	assert_int_equal(rg_policy_mask_plan_build(c, &REQ_OTHER, NULL, 2, a, &pa), 0);
	assert_int_equal(pa->ncolumns, 2);
	assert_int_equal(pa->column_action[0], -1);
	assert_int_equal(pa->column_action[1], -1);
	assert_int_equal(pa->enabled[1], 0); /* the support-only rule, for another identity */
	rg_policy_mask_plan_free(a);
	rg_policy_ctx_free(c);
	rg_policy_free(p);
}

static void test_plan_of_another_policy_is_refused(void **state)
{
	(void)state;
	struct rg_policy *p1 = load_policy(), *p2 = load_policy();
	struct rg_policy_ctx *c1 = rg_policy_ctx_new(p1, NULL, 0), *c2 = rg_policy_ctx_new(p2, NULL, 0);
	struct rg_policy_plan *a = rg_policy_mask_plan_new();
	const struct rg_mask_plan *pa;

	assert_null(rg_policy_mask_plan_get(a, c1)); /* never built */
	assert_int_equal(rg_policy_mask_plan_build(c1, &REQ_SUPPORT, NULL, 1, a, &pa), 0);
	assert_ptr_equal(rg_policy_mask_plan_get(a, c1), pa);
	assert_null(rg_policy_mask_plan_get(a, c2));
	assert_int_equal(rg_policy_mask_plan_build(c2, &REQ_SUPPORT, NULL, 1, a, &pa), 0);
	assert_ptr_equal(rg_policy_mask_plan_get(a, c2), pa);
	assert_null(rg_policy_mask_plan_get(a, c1));
	rg_policy_mask_plan_free(a);
	rg_policy_mask_plan_free(NULL);
	rg_policy_ctx_free(c1);
	rg_policy_ctx_free(c2);
	rg_policy_free(p1);
	rg_policy_free(p2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_caller_plans_survive_other_builds_on_the_same_ctx),
	    cmocka_unit_test(test_rebuilding_a_plan_for_a_wider_then_narrower_result),
	    cmocka_unit_test(test_plan_of_another_policy_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
