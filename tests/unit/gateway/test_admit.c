/*
 * Unit tests for the gateway's admission counters (admit.c): pending logins are
 * capped in total and per client address (IPv4 address, IPv6 /64, an IPv4-mapped address
 * as its IPv4 address), a refusal takes no slot of either cap, a slot given back is usable
 * again, 0 disables the per-address cap, and sessions are capped by max_sessions
 * independently of pending logins.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "gateway-int.h"

static struct sockaddr_storage addr(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		assert_int_equal(inet_pton(AF_INET6, ip, &a->sin6_addr), 1);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		assert_int_equal(inet_pton(AF_INET, ip, &a->sin_addr), 1);
	}
	return ss;
}

static struct rg_gw *gw_with(struct rg_config *cfg, uint32_t max_sessions, uint32_t pending,
			     uint32_t per_addr)
{
	struct rg_gw *gw;

	memset(cfg, 0, sizeof(*cfg));
	cfg->limits.max_sessions = max_sessions;
	cfg->limits.max_pending_logins = pending;
	cfg->limits.max_pending_per_address = per_addr;
	cfg->limits.password_timeout_ms = 10000;
	cfg->limits.login_timeout_ms = 60000;
	assert_int_equal(rg_gw_new(cfg, 1, &gw), 0);
	return gw;
}

static void test_per_address_cap_and_release(void **state)
{
	struct rg_config cfg;
	struct rg_gw *gw = gw_with(&cfg, 100, 100, 3);
	struct sockaddr_storage a = addr("10.0.0.1", 1000), b = addr("10.0.0.2", 1000);
	uint32_t bk[4], other;
	int i;

	(void)state;
	for (i = 0; i < 3; i++) {
		a = addr("10.0.0.1", (uint16_t)(1000 + i)); /* the port does not matter */
		assert_int_equal(rg_gw_pending_enter(gw, &a, &bk[i]), RG_GW_ADMIT_OK);
		assert_int_not_equal(bk[i], RG_GW_NO_BUCKET);
	}
	for (i = 0; i < 10; i++)
		assert_int_equal(rg_gw_pending_enter(gw, &a, &bk[3]), RG_GW_ADMIT_ADDRESS_FULL);
	assert_int_equal(bk[3], RG_GW_NO_BUCKET);
	/* refusals took nothing: three more from another address, then the total */
	if (rg_gw_addr_bucket(gw, &b) != bk[0]) {
		assert_int_equal(rg_gw_pending_enter(gw, &b, &other), RG_GW_ADMIT_OK);
		rg_gw_pending_leave(gw, other);
	}
	assert_int_equal(atomic_load(&gw->npending), 3);
	rg_gw_pending_leave(gw, bk[0]);
	assert_int_equal(rg_gw_pending_enter(gw, &a, &bk[0]), RG_GW_ADMIT_OK);
	for (i = 0; i < 3; i++)
		rg_gw_pending_leave(gw, bk[i]);
	assert_int_equal(atomic_load(&gw->npending), 0);
	assert_int_equal(atomic_load(&gw->addr_pending[bk[0]]), 0);
	rg_gw_free(gw);
}

static void test_address_grouping(void **state)
{
	static const char *const other64[] = {"2001:db8:0:2::1", "2001:db8:0:3::1",
					      "2001:db8:0:4::1", "2001:db8:0:5::1"};
	struct rg_config cfg;
	struct rg_gw *gw = gw_with(&cfg, 100, 100, 2);
	struct sockaddr_storage v4 = addr("192.0.2.7", 1), mapped = addr("::ffff:192.0.2.7", 2);
	struct sockaddr_storage h1 = addr("2001:db8:0:1::1", 1);
	struct sockaddr_storage h2 = addr("2001:db8:0:1:ffff:ffff:ffff:ffff", 2);
	struct sockaddr_storage un = {.ss_family = AF_UNIX};
	uint32_t b = rg_gw_addr_bucket(gw, &h1);
	bool differs = false;
	size_t i;

	(void)state;
	assert_int_equal(rg_gw_addr_bucket(gw, &v4), rg_gw_addr_bucket(gw, &mapped));
	assert_int_equal(b, rg_gw_addr_bucket(gw, &h2)); /* one /64 */
	for (i = 0; i < sizeof(other64) / sizeof(other64[0]); i++) {
		struct sockaddr_storage o = addr(other64[i], 1);

		differs |= rg_gw_addr_bucket(gw, &o) != b;
	}
	assert_true(differs); /* all four colliding: 2^-56 */
	assert_int_equal(rg_gw_addr_bucket(gw, &un), RG_GW_NO_BUCKET);
	rg_gw_free(gw);
}

static void test_total_cap_and_disabled_per_address(void **state)
{
	struct rg_config cfg;
	struct rg_gw *gw = gw_with(&cfg, 100, 4, 0);
	struct sockaddr_storage a = addr("10.0.0.1", 1);
	uint32_t bk[5];
	int i;

	(void)state;
	assert_null(gw->addr_pending);
	for (i = 0; i < 4; i++) {
		assert_int_equal(rg_gw_pending_enter(gw, &a, &bk[i]), RG_GW_ADMIT_OK);
		assert_int_equal(bk[i], RG_GW_NO_BUCKET);
	}
	assert_int_equal(rg_gw_pending_enter(gw, &a, &bk[4]), RG_GW_ADMIT_PENDING_FULL);
	assert_int_equal(rg_gw_pending_enter(gw, &a, &bk[4]), RG_GW_ADMIT_PENDING_FULL);
	rg_gw_pending_leave(gw, bk[3]);
	assert_int_equal(rg_gw_pending_enter(gw, &a, &bk[3]), RG_GW_ADMIT_OK);
	for (i = 0; i < 4; i++)
		rg_gw_pending_leave(gw, bk[i]);
	assert_int_equal(atomic_load(&gw->npending), 0);
	rg_gw_free(gw);
}

/* A refusal by address gives its total slot back; the total refuses every address. */
static void test_both_caps(void **state)
{
	struct rg_config cfg;
	struct rg_gw *gw = gw_with(&cfg, 100, 4, 2);
	struct sockaddr_storage a = addr("10.0.0.1", 1), b = addr("10.0.0.2", 1);
	struct sockaddr_storage c = addr("10.0.0.3", 1);
	uint32_t bk[6];
	int i;

	(void)state;
	if (rg_gw_addr_bucket(gw, &a) == rg_gw_addr_bucket(gw, &b))
		b = addr("10.0.0.4", 1); /* a 1/16384 collision: pick another */
	assert_int_equal(rg_gw_pending_enter(gw, &a, &bk[0]), RG_GW_ADMIT_OK);
	assert_int_equal(rg_gw_pending_enter(gw, &a, &bk[1]), RG_GW_ADMIT_OK);
	for (i = 0; i < 5; i++)
		assert_int_equal(rg_gw_pending_enter(gw, &a, &bk[5]), RG_GW_ADMIT_ADDRESS_FULL);
	assert_int_equal(rg_gw_pending_enter(gw, &b, &bk[2]), RG_GW_ADMIT_OK);
	assert_int_equal(rg_gw_pending_enter(gw, &b, &bk[3]), RG_GW_ADMIT_OK);
	assert_int_equal(rg_gw_pending_enter(gw, &c, &bk[4]), RG_GW_ADMIT_PENDING_FULL);
	for (i = 0; i < 4; i++)
		rg_gw_pending_leave(gw, bk[i]);
	assert_int_equal(rg_gw_pending_enter(gw, &c, &bk[4]), RG_GW_ADMIT_OK);
	rg_gw_pending_leave(gw, bk[4]);
	rg_gw_free(gw);
}

static void test_sessions_capped_apart_from_pending(void **state)
{
	struct rg_config cfg;
	struct rg_gw *gw = gw_with(&cfg, 2, 1, 1);
	struct sockaddr_storage a = addr("10.0.0.1", 1);
	uint32_t bk;

	(void)state;
	assert_int_equal(rg_gw_pending_enter(gw, &a, &bk), RG_GW_ADMIT_OK);
	assert_true(rg_gw_session_enter(gw));
	assert_true(rg_gw_session_enter(gw));
	assert_false(rg_gw_session_enter(gw));
	assert_false(rg_gw_session_enter(gw));
	rg_gw_session_leave(gw);
	assert_true(rg_gw_session_enter(gw));
	rg_gw_session_leave(gw);
	rg_gw_session_leave(gw);
	assert_int_equal(atomic_load(&gw->nsessions), 0);
	rg_gw_pending_leave(gw, bk);
	rg_gw_free(gw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_per_address_cap_and_release),
	    cmocka_unit_test(test_address_grouping),
	    cmocka_unit_test(test_total_cap_and_disabled_per_address),
	    cmocka_unit_test(test_both_caps),
	    cmocka_unit_test(test_sessions_capped_apart_from_pending),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
