/*
 * Unit tests for the gateway object (gw.c, targets.c, admit.c) as protocol modules use it:
 * targets are kept in config order with their index, found by name, and keep their address
 * while more are added (a module holds pointers to them); per-target session counts are
 * summed over the workers for /metrics; a token whose issuer is not configured, or that
 * has no readable issuer, is refused before any verifier runs; session ids are unique and
 * increasing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "auth.h"
#include "config.h"
#include "gateway-int.h"

#define TARGET(name, proto, addr)                                                                  \
	"  - name: " name "\n"                                                                     \
	"    protocol: " proto "\n"                                                                \
	"    address: " addr "\n"                                                                  \
	"    database: app\n"                                                                      \
	"    user: app\n"                                                                          \
	"    password_env: PW\n"                                                                   \
	"    tls: { mode: disable }\n"

/* a, c, d, e: postgres (IP literals, a unix socket); b: mysql */
static const char yaml[] =
	"version: 1\n"
	"listeners:\n"
	"  - name: pg\n"
	"    address: 127.0.0.1:6432\n"
	"    protocol: postgres\n"
	"targets:\n"
	TARGET("a", "postgres", "127.0.0.1:5432")
	TARGET("b", "mysql", "127.0.0.1:3306")
	TARGET("c", "postgres", "/run/pg/.s.PGSQL.5432")
	TARGET("d", "postgres", "127.0.0.2:5432")
	TARGET("e", "postgres", "127.0.0.3:5432");

static struct rg_config *parse(void)
{
	struct rg_config *cfg = NULL;

	assert_int_equal(rg_config_parse(yaml, strlen(yaml), "t.yaml", "/etc/rg", &cfg, stderr), 0);
	return cfg;
}

static void test_targets_keep_order_index_and_address(void **state)
{
	struct rg_config *cfg = parse();
	const struct rg_gw_target *first;
	struct rg_gw *gw;
	char err[256];
	size_t i;

	(void)state;
	assert_int_equal(rg_gw_new(cfg, 3, &gw), 0);
	assert_int_equal(rg_gw_workers(gw), 3);
	assert_int_equal(rg_gw_add_target(gw, &cfg->targets[0], NULL, err, sizeof(err)), 0);
	first = rg_gw_target(gw, "a");
	assert_non_null(first);
	/* more than the first allocation holds: the first target stays where it was */
	for (i = 1; i < cfg->n_targets; i++)
		assert_int_equal(rg_gw_add_target(gw, &cfg->targets[i], NULL, err, sizeof(err)), 0);
	assert_ptr_equal(rg_gw_target(gw, "a"), first);
	assert_int_equal(rg_gw_targets(gw), cfg->n_targets);
	for (i = 0; i < cfg->n_targets; i++) {
		const struct rg_gw_target *t = rg_gw_target_at(gw, i);

		assert_non_null(t);
		assert_int_equal(t->index, i);
		assert_ptr_equal(t->cfg, &cfg->targets[i]);
		assert_ptr_equal(rg_gw_target(gw, cfg->targets[i].name), t);
	}
	assert_null(rg_gw_target_at(gw, cfg->n_targets));
	assert_null(rg_gw_target(gw, "nope"));
	/* every protocol's targets are the gateway's: a module picks its own */
	assert_int_equal(rg_gw_target(gw, "b")->cfg->protocol, RG_CONFIG_PROTO_MYSQL);
	rg_gw_free(gw);
	rg_config_free(cfg);
}

static void test_target_sessions_sum_over_workers(void **state)
{
	struct rg_config *cfg = parse();
	const struct rg_gw_target *a, *d;
	struct rg_gw *gw;
	uint64_t total, active;
	char err[256];

	(void)state;
	assert_int_equal(rg_gw_new(cfg, 2, &gw), 0);
	assert_int_equal(rg_gw_add_target(gw, &cfg->targets[0], NULL, err, sizeof(err)), 0);
	assert_int_equal(rg_gw_add_target(gw, &cfg->targets[3], NULL, err, sizeof(err)), 0);
	a = rg_gw_target(gw, "a");
	d = rg_gw_target(gw, "d");
	rg_gw_target_opened(a, 0);
	rg_gw_target_opened(a, 1);
	rg_gw_target_opened(a, 1);
	rg_gw_target_closed(a, 1);
	rg_gw_target_opened(d, 0);
	assert_string_equal(rg_gw_target_sessions(gw, 0, &total, &active), "a");
	assert_int_equal(total, 3);
	assert_int_equal(active, 2);
	assert_string_equal(rg_gw_target_sessions(gw, 1, &total, &active), "d");
	assert_int_equal(total, 1);
	assert_int_equal(active, 1);
	rg_gw_free(gw);
	rg_config_free(cfg);
}

static void test_tokens_of_unknown_issuers_are_refused(void **state)
{
	/* {"alg":"RS256","kid":"k"}.{"iss":"https://nobody.example/","sub":"a"}.sig */
	static const char tok[] = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ."
				  "eyJpc3MiOiJodHRwczovL25vYm9keS5leGFtcGxlLyIsInN1YiI6ImEifQ.c2ln";
	struct rg_auth_identity id;
	struct rg_auth_fail why;
	struct rg_gw *gw;

	(void)state;
	assert_int_equal(rg_gw_new(NULL, 1, &gw), 0);
	assert_null(rg_gw_verifier(gw, "https://nobody.example/"));
	assert_int_equal(rg_gw_verify_token(gw, tok, strlen(tok), &id, &why), RG_AUTH_E_BAD_ISSUER);
	assert_int_equal(rg_gw_verify_token(gw, "not-a-jwt", 9, &id, &why), RG_AUTH_E_MALFORMED);
	rg_gw_free(gw);
}

static void test_session_ids_are_unique_and_increasing(void **state)
{
	struct rg_gw *gw;
	uint64_t prev, id;

	(void)state;
	assert_int_equal(rg_gw_new(NULL, 1, &gw), 0);
	prev = rg_gw_session_id(gw);
	assert_true(prev > 0);
	for (int i = 0; i < 1000; i++) {
		id = rg_gw_session_id(gw);
		assert_true(id == prev + 1);
		prev = id;
	}
	rg_gw_free(gw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_targets_keep_order_index_and_address),
	    cmocka_unit_test(test_target_sessions_sum_over_workers),
	    cmocka_unit_test(test_tokens_of_unknown_issuers_are_refused),
	    cmocka_unit_test(test_session_ids_are_unique_and_increasing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
