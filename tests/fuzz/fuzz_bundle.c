/*
 * fuzz_bundle: the policy bundle loader on arbitrary bytes. The checksum would stop almost
 * every mutation at the door, so the target also recomputes it (when the input is long
 * enough to carry a header) and feeds that variant too: the structural checks behind the
 * checksum are what must hold. A bundle that loads must also be usable: one verdict, one
 * masked row, the session limits and its inline tests run without crashing.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle_format.h"
#include "policy.h"

static void exercise(const uint8_t *data, size_t size)
{
	struct rg_policy *p = NULL;
	char err[256];
	if (rg_policy_load_mem(data, size, NULL, &p, err, sizeof(err)) != 0) {
		if (p || !err[0])
			abort(); /* a failure must leave nothing loaded and say why */
		return;
	}
	struct rg_policy_ctx *c = rg_policy_ctx_new(p, (const uint8_t *)"k", 1);
	if (c) {
		const char *groups[] = { "dba" };
		struct rg_identity id = { .issuer = "https://issuer.test",
					  .subject = "agent",
					  .groups = groups,
					  .ngroups = 1 };
		struct rg_request req = { .protocol = "postgres", .target = "db", .identity = &id };
		struct rg_decision d;
		const char *sql = "DELETE FROM public.users; SELECT pg_sleep(1)";
		rg_policy_verdict(c, &req, sql, strlen(sql), &d);
		const char *cols[] = { "public.customers.ssn", NULL };
		const struct rg_mask_plan *plan;
		if (rg_policy_mask_plan(c, &req, cols, 2, &plan) == 0) {
			const char *v = "4111 1111 1111 1111 a@b.example";
			struct rg_mask_field f[2] = { { (const uint8_t *)v, (uint32_t)strlen(v), false },
						      { NULL, 0, true } };
			struct rg_mask_result r;
			rg_policy_mask_row(c, plan, f, 2, &r);
		}
		rg_policy_ctx_free(c);
		struct rg_limits lim;
		char msg[256];
		rg_policy_limits(p, &req, &lim);
		for (int k = 0; k < RG_LIMIT__COUNT; k++)
			rg_limit_message(&lim, (enum rg_limit_kind)k, msg, sizeof(msg));
	}
	FILE *devnull = fopen("/dev/null", "w");
	if (devnull) {
		rg_policy_run_tests(p, NULL, 0, devnull, false, NULL);
		fclose(devnull);
	}
	rg_policy_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	exercise(data, size);
	if (size >= RG_BUNDLE_HEADER_SIZE) {
		uint8_t *copy = malloc(size);
		if (!copy)
			return 0;
		memcpy(copy, data, size);
		struct rg_bundle_header h;
		memcpy(&h, copy, sizeof(h));
		if (h.body_len <= size - RG_BUNDLE_HEADER_SIZE) {
			h.body_xxh3 = XXH3_64bits(copy + RG_BUNDLE_HEADER_SIZE, h.body_len);
			memcpy(copy, &h, sizeof(h));
			exercise(copy, size);
		}
		free(copy);
	}
	return 0;
}
