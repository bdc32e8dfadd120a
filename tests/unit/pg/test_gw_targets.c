/*
 * Unit tests for the pg module's targets over the gateway's (gw.c): the module serves only
 * the gateway's targets whose protocol is postgres (another protocol's is refused and never
 * found by name, so an agent cannot reach it through a pg listener), each pg target points
 * at the gateway's record (address, credential, session counts), and the module's
 * descriptor for main.c (rg_pg_proto) creates and frees listeners with the pg ops.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "gateway.h"
#include "pg-int.h"
#include "pg.h"

#define TARGET(name, proto, addr)                                                                  \
	"  - name: " name "\n"                                                                     \
	"    protocol: " proto "\n"                                                                \
	"    address: " addr "\n"                                                                  \
	"    database: app\n"                                                                      \
	"    user: app\n"                                                                          \
	"    password_env: PW\n"                                                                   \
	"    tls: { mode: disable }\n"

static const char yaml[] =
	"version: 1\n"
	"listeners:\n"
	"  - name: pg\n"
	"    address: 127.0.0.1:6432\n"
	"    protocol: postgres\n"
	"targets:\n"
	TARGET("a", "postgres", "127.0.0.1:5432")
	TARGET("b", "mysql", "127.0.0.1:3306");

static void test_only_postgres_targets_are_served(void **state)
{
	struct rg_config *cfg = NULL;
	struct rg_gw *svc;
	struct rg_pg_gw *gw;
	const struct pg_target *t;
	char err[256];
	size_t i;

	(void)state;
	assert_int_equal(rg_config_parse(yaml, strlen(yaml), "t.yaml", "/etc/rg", &cfg, stderr), 0);
	assert_int_equal(rg_gw_new(cfg, 2, &svc), 0);
	assert_int_equal(rg_pg_gw_new(cfg, svc, &gw), 0);
	assert_int_equal(gw->workers, 2);
	for (i = 0; i < cfg->n_targets; i++)
		assert_int_equal(rg_gw_add_target(svc, &cfg->targets[i], NULL, err, sizeof(err)), 0);
	assert_int_equal(rg_pg_gw_add_target(gw, rg_gw_target(svc, "a")), 0);
	assert_int_equal(rg_pg_gw_add_target(gw, rg_gw_target(svc, "b")), -EINVAL);
	t = rg_pg_gw_target(gw, "a");
	assert_non_null(t);
	assert_ptr_equal(t->gt, rg_gw_target(svc, "a"));
	assert_ptr_equal(t->cfg, &cfg->targets[0]);
	assert_null(rg_pg_gw_target(gw, "b"));
	assert_int_equal(gw->n_targets, 1);
	rg_pg_gw_free(gw);
	rg_gw_free(svc);
	rg_config_free(cfg);
}

static void test_descriptor_builds_listeners_with_the_pg_ops(void **state)
{
	struct rg_config *cfg = NULL;
	struct rg_gw *svc;
	struct rg_pg_gw *gw;
	void *ctx = NULL;
	char err[256] = "";

	(void)state;
	assert_int_equal(rg_config_parse(yaml, strlen(yaml), "t.yaml", "/etc/rg", &cfg, stderr), 0);
	assert_int_equal(rg_gw_new(cfg, 1, &svc), 0);
	assert_int_equal(rg_pg_gw_new(cfg, svc, &gw), 0);
	assert_string_equal(rg_pg_proto.name, "postgres");
	assert_string_equal(rg_pg_proto.name, rg_config_proto_name(RG_CONFIG_PROTO_POSTGRES));
	assert_ptr_equal(rg_pg_proto.ops, &rg_pg_ops);
	assert_int_equal(rg_pg_proto.listener_new(gw, &cfg->listeners[0], &ctx, err, sizeof(err)),
			 0);
	assert_non_null(ctx);
	assert_ptr_equal(((struct rg_pg_listener *)ctx)->gw, gw);
	rg_pg_proto.listener_free(ctx);
	rg_pg_gw_free(gw);
	rg_gw_free(svc);
	rg_config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_only_postgres_targets_are_served),
	    cmocka_unit_test(test_descriptor_builds_listeners_with_the_pg_ops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
