/*
 * kit.h: helpers shared by the engine/proto/mysql unit tests. Every reader under test is
 * given an exact-size heap copy of its input, so AddressSanitizer reports any read past the
 * end; the prefix helper feeds every strict prefix of a valid payload to a reader and
 * requires a clean error (never a crash, never success on a truncated packet).
 */
#ifndef RG_TEST_MYSQL_KIT_H
#define RG_TEST_MYSQL_KIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mysql-wire.h"

#define BYTES(...) ((const uint8_t[]){__VA_ARGS__})
#define NBYTES(...) sizeof((const uint8_t[]){__VA_ARGS__})

static inline uint8_t *dup_bytes(const void *p, size_t n)
{
	uint8_t *q = malloc(n ? n : 1);

	assert_non_null(q);
	if (n)
		memcpy(q, p, n);
	return q;
}

/* A reader over p[0..n) returning 0 or <0, with its context. */
typedef int (*reader_fn)(const uint8_t *p, size_t n, void *ctx);

static inline int run_reader(reader_fn fn, const void *p, size_t n, void *ctx)
{
	uint8_t *q = dup_bytes(p, n);
	int rc = fn(q, n, ctx);

	free(q);
	return rc;
}

/* The whole payload reads (0); every strict prefix fails with a negative code. */
static inline void assert_whole_ok_prefixes_fail(reader_fn fn, const void *p, size_t n, void *ctx)
{
	assert_int_equal(run_reader(fn, p, n, ctx), 0);
	for (size_t k = 0; k < n; k++) {
		int rc = run_reader(fn, p, k, ctx);

		if (rc >= 0)
			fail_msg("prefix of %zu/%zu bytes was accepted (%d)", k, n, rc);
	}
}

/* Payload of a packet built into buf (skips the 4-byte header). */
#define PAYLOAD(buf) ((buf) + RG_MY_HDR)
#define PLEN(len) ((size_t)(len)-RG_MY_HDR)

#endif
