/*
 * The scalar parsers behind durations and addresses, exercised directly: what is accepted,
 * what each rejection says, and the edges (overflow, port 0 and 65535, sun_path length,
 * DNS label rules) that the file-level tests do not reach.
 */
#include "helpers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>

static void test_duration_units(void **state)
{
	uint64_t ms = 0;

	(void)state;
	assert_int_equal(rg_config_parse_duration("250ms", &ms, NULL), 0);
	assert_int_equal(ms, 250);
	assert_int_equal(rg_config_parse_duration("60s", &ms, NULL), 0);
	assert_int_equal(ms, 60000);
	assert_int_equal(rg_config_parse_duration("5m", &ms, NULL), 0);
	assert_int_equal(ms, 300000);
	assert_int_equal(rg_config_parse_duration("1h", &ms, NULL), 0);
	assert_int_equal(ms, 3600000);
	assert_int_equal(rg_config_parse_duration("0s", &ms, NULL), 0);
	assert_int_equal(ms, 0);
}

static void test_duration_rejections(void **state)
{
	const char *why = NULL;
	uint64_t ms = 7;

	(void)state;
	assert_int_equal(rg_config_parse_duration("", &ms, &why), -EINVAL);
	assert_string_equal(why, "expected an integer followed by ms, s, m or h");
	assert_int_equal(rg_config_parse_duration("-1s", &ms, &why), -EINVAL);
	assert_int_equal(rg_config_parse_duration(" 1s", &ms, &why), -EINVAL);
	assert_int_equal(rg_config_parse_duration("1 s", &ms, &why), -EINVAL);
	assert_string_equal(why, "unknown unit (expected ms, s, m or h)");
	assert_int_equal(rg_config_parse_duration("1.5s", &ms, &why), -EINVAL);
	assert_int_equal(rg_config_parse_duration("1S", &ms, &why), -EINVAL);
	assert_int_equal(rg_config_parse_duration("1sec", &ms, &why), -EINVAL);
	assert_int_equal(rg_config_parse_duration("10", &ms, &why), -EINVAL);
	assert_string_equal(why, "missing unit (ms, s, m or h)");
	assert_int_equal(rg_config_parse_duration("99999999999999999999ms", &ms, &why), -EINVAL);
	assert_string_equal(why, "duration too large");
	assert_int_equal(rg_config_parse_duration("18446744073709551h", &ms, &why), -EINVAL);
	assert_string_equal(why, "duration too large");
	assert_int_equal(ms, 7);
}

static int addr(const char *s, unsigned flags, struct rg_config_addr *a, const char **why)
{
	static char scratch[256];

	return rg_config_parse_addr(s, flags, a, scratch, why);
}

static void test_addr_ipv4_and_ipv6(void **state)
{
	struct rg_config_addr a;
	const struct sockaddr_in6 *in6 = (const void *)&a.sa;

	(void)state;
	assert_int_equal(addr("10.1.2.3:65535", 0, &a, NULL), 0);
	assert_int_equal(a.kind, RG_CONFIG_ADDR_INET);
	assert_int_equal(a.port, 65535);
	assert_true(a.numeric);
	assert_int_equal(a.salen, sizeof(struct sockaddr_in));

	assert_int_equal(addr("[fe80::1]:1", 0, &a, NULL), 0);
	assert_string_equal(a.host, "fe80::1");
	assert_int_equal(a.port, 1);
	assert_int_equal(in6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(in6->sin6_port), 1);
	assert_int_equal(a.salen, sizeof(struct sockaddr_in6));
}

static void test_addr_dns_and_unix_need_flags(void **state)
{
	struct rg_config_addr a;
	const char *why = NULL;

	(void)state;
	assert_int_equal(addr("db.internal:5432", 0, &a, &why), -EINVAL);
	assert_string_equal(why, "host must be an IP address");
	assert_int_equal(addr("db.internal:5432", RG_CONFIG_ADDR_ALLOW_DNS, &a, NULL), 0);
	assert_false(a.numeric);
	assert_string_equal(a.host, "db.internal");

	assert_int_equal(addr("/run/pg/.s.PGSQL.5432", 0, &a, &why), -EINVAL);
	assert_int_equal(addr("/run/pg/.s.PGSQL.5432", RG_CONFIG_ADDR_ALLOW_UNIX, &a, NULL), 0);
	assert_int_equal(a.kind, RG_CONFIG_ADDR_UNIX);
	assert_string_equal(a.path, "/run/pg/.s.PGSQL.5432");
	assert_true(a.numeric);
}

static void test_addr_rejections(void **state)
{
	const unsigned all = RG_CONFIG_ADDR_ALLOW_DNS | RG_CONFIG_ADDR_ALLOW_UNIX;
	struct rg_config_addr a;
	const char *why = NULL;
	char longpath[200];

	(void)state;
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(addr(longpath, all, &a, &why), -EINVAL);
	assert_string_equal(why, "unix socket path longer than 107 bytes");

	assert_int_equal(addr(":5432", all, &a, &why), -EINVAL);
	assert_string_equal(why, "missing host before ':'");
	assert_int_equal(addr("h:", all, &a, &why), -EINVAL);
	assert_string_equal(why, "missing port");
	assert_int_equal(addr("h:05432", all, &a, &why), -EINVAL);
	assert_string_equal(why, "port has a leading zero");
	assert_int_equal(addr("h:+1", all, &a, &why), -EINVAL);
	assert_string_equal(why, "port is not a number");
	assert_int_equal(addr("[::1:5432", all, &a, &why), -EINVAL);
	assert_string_equal(why, "missing ']' after IPv6 address");
	assert_int_equal(addr("[127.0.0.1]:1", all, &a, &why), -EINVAL);
	assert_string_equal(why, "not an IPv6 address inside [ ]");

	/* DNS label rules: no empty labels, no edge hyphens, at most 63 bytes per label. */
	assert_int_equal(addr("-a.b:1", all, &a, &why), -EINVAL);
	assert_int_equal(addr("a-.b:1", all, &a, &why), -EINVAL);
	assert_int_equal(addr("a..b:1", all, &a, &why), -EINVAL);
	assert_int_equal(addr("a.b.:1", all, &a, &why), -EINVAL);
	assert_int_equal(addr("a b:1", all, &a, &why), -EINVAL);
	assert_int_equal(addr("a-b.c-d:1", all, &a, &why), 0);
	assert_int_equal(addr("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:1",
			      all, &a, &why),
			 -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_duration_units),
	    cmocka_unit_test(test_duration_rejections),
	    cmocka_unit_test(test_addr_ipv4_and_ipv6),
	    cmocka_unit_test(test_addr_dns_and_unix_need_flags),
	    cmocka_unit_test(test_addr_rejections),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
