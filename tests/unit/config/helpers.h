/*
 * Shared by the config unit tests: parse a YAML string and capture what was printed, so each
 * test can assert the exact error lines (file:line:col: message) a user would see.
 * Header-only because every test_*.c is its own executable.
 */
#ifndef RG_TEST_CONFIG_HELPERS_H
#define RG_TEST_CONFIG_HELPERS_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"

/* The smallest valid file; tests append sections or write their own. 12 lines. */
#define MINIMAL_LISTENERS                                                                          \
	"listeners:\n"                                                                             \
	"  - name: pg\n"                                                                           \
	"    address: 127.0.0.1:6432\n"                                                            \
	"    protocol: postgres\n"
#define MINIMAL_TARGETS                                                                            \
	"targets:\n"                                                                               \
	"  - name: appdb\n"                                                                        \
	"    protocol: postgres\n"                                                                 \
	"    address: 127.0.0.1:5432\n"                                                            \
	"    database: app\n"                                                                      \
	"    user: app_rw\n"                                                                       \
	"    password_env: APPDB_PASSWORD\n"                                                       \
	"    tls: { mode: disable }\n"
#define MINIMAL "version: 1\n" MINIMAL_LISTENERS MINIMAL_TARGETS

/* Parse yaml as "t.yaml" in /etc/rg; returns rc, *errs gets the printed text (free it). */
static inline int parse_capture(const char *yaml, struct rg_config **cfg, char **errs)
{
	size_t len = 0;
	FILE *f = open_memstream(errs, &len);
	int rc;

	assert_non_null(f);
	rc = rg_config_parse(yaml, strlen(yaml), "t.yaml", "/etc/rg", cfg, f);
	fclose(f);
	return rc;
}

/* yaml must fail with exactly the expected error text. */
static inline void expect_errors(const char *yaml, const char *expected)
{
	struct rg_config *cfg = (void *)1;
	char *errs = NULL;
	int rc = parse_capture(yaml, &cfg, &errs);

	if (strcmp(errs, expected))
		print_error("expected:\n%sgot:\n%s", expected, errs);
	assert_string_equal(errs, expected);
	assert_int_equal(rc, -EINVAL);
	assert_null(cfg);
	free(errs);
}

static inline struct rg_config *expect_ok(const char *yaml)
{
	struct rg_config *cfg = NULL;
	char *errs = NULL;
	int rc = parse_capture(yaml, &cfg, &errs);

	if (rc)
		print_error("unexpected errors:\n%s", errs);
	assert_int_equal(rc, 0);
	assert_string_equal(errs, "");
	assert_non_null(cfg);
	free(errs);
	return cfg;
}

#endif
