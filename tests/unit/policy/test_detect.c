/*
 * Detector catalogue: for every detector, real instances fire and look-alikes do not,
 * through the whole masking path (prefilter, SOM scan, boundaries, validator), plus the
 * catalogue's own invariants (every pattern compiles with SOM_LEFTMOST, names agree).
 * Each case is a whole field or a field with the instance embedded in text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mask.h"

struct one {
	struct rg_mask_action act;
	hs_database_t *db;
	struct rg_masker *m;
};

static struct one ones[RG_DET__COUNT];

static int setup(void **state)
{
	(void)state;
	for (int d = 0; d < RG_DET__COUNT; d++) {
		char err[256];
		ones[d].act = (struct rg_mask_action){.detector = d, .style = RG_MASK_REDACT};
		if (rg_mask_compile(&ones[d].act, 1, &ones[d].db, err, sizeof(err)) != 0) {
			fprintf(stderr, "%s: %s\n", rg_detector_name(d), err);
			return -1;
		}
		ones[d].m = rg_masker_new(ones[d].db, &ones[d].act, 1, NULL, 0);
		if (!ones[d].m)
			return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int d = 0; d < RG_DET__COUNT; d++) {
		rg_masker_free(ones[d].m);
		hs_free_database(ones[d].db);
	}
	return 0;
}

/* Mask text with detector d alone; returns the number of confirmed matches. */
static unsigned fires(enum rg_detector d, const char *text)
{
	struct rg_mask_field f = {(const uint8_t *)text, (uint32_t)strlen(text), false};
	struct rg_mask_result r;

	assert_int_equal(rg_masker_row(ones[d].m, NULL, &f, 1, &r), 0);
	assert_int_equal(r.changed, r.matches > 0);
	return r.matches;
}

#define YES(d, s)                                                                                  \
	do {                                                                                       \
		if (!fires(d, s))                                                                  \
			fail_msg("%s should fire on \"%s\"", rg_detector_name(d), s);              \
	} while (0)
#define NO(d, s)                                                                                   \
	do {                                                                                       \
		if (fires(d, s))                                                                   \
			fail_msg("%s should not fire on \"%s\"", rg_detector_name(d), s);          \
	} while (0)

static void test_catalogue_names_and_patterns_agree(void **state)
{
	(void)state;
	for (int d = 0; d < RG_DET__COUNT; d++) {
		const struct rg_detector_def *def = rg_detector_get(d);
		assert_non_null(def);
		assert_string_equal(def->name, rg_detector_name(d));
		assert_int_equal(rg_detector_from_name(def->name), d);
		assert_non_null(def->validate);
	}
	assert_null(rg_detector_get(RG_DET__COUNT));
	assert_null(rg_detector_get((enum rg_detector) - 1));
}

static void test_credit_card_needs_luhn_iin_and_brand_length(void **state)
{
	(void)state;
	const enum rg_detector d = RG_DET_CREDIT_CARD;
	YES(d, "4111111111111111");
	YES(d, "card 4111 1111 1111 1111 exp 12/29");
	YES(d, "4111-1111-1111-1111");
	YES(d, "5555555555554444"); /* Mastercard 51-55 */
	YES(d, "2221000000000009"); /* Mastercard 2-series */
	YES(d, "2720000000000005");
	YES(d, "378282246310005");   /* Amex, 15 */
	YES(d, "3782 822463 10005"); /* Amex 4-6-5 grouping */
	YES(d, "6011111111111117");  /* Discover */
	YES(d, "6440000000000005");
	YES(d, "6500000000000002");
	YES(d, "3530111333300000"); /* JCB */
	YES(d, "30569309025904");   /* Diners 300-305, 14 */
	YES(d, "36000000000008");
	YES(d, "6200000000000005");    /* UnionPay */
	YES(d, "4000000000006");       /* Visa 13 */
	YES(d, "4000000000000000006"); /* Visa 19 */
	YES(d, "x,4111111111111111,5555555555554444");
	YES(d, "qty 2 4111 1111 1111 1111"); /* leftmost start hides the card: retried */
	NO(d, "4111111111111112");	     /* Luhn fails */
	NO(d, "9000000000000001");	     /* unknown IIN */
	NO(d, "2721000000000004");	     /* just past Mastercard 2-series */
	NO(d, "5000000000000009");	     /* 50: not Mastercard */
	NO(d, "3400000000000000");	     /* Amex prefix, 16 digits */
	NO(d, "41111111111111110000");	     /* 20 digits: no card inside */
	NO(d, "00004111111111111111");
	NO(d, "0.4111111111111111");   /* a decimal fraction */
	NO(d, "4111  1111 1111 1111"); /* double separator */
	NO(d, "id4111111111111111");   /* glued to a word */
	NO(d, "12345678901234567890");
}

static void test_iban_needs_mod97_country_and_length(void **state)
{
	(void)state;
	const enum rg_detector d = RG_DET_IBAN;
	YES(d, "DE89370400440532013000");
	YES(d, "DE89 3704 0044 0532 0130 00");
	YES(d, "pay to GB82WEST12345698765432 today");
	YES(d, "FR1420041010050500013M02606");
	YES(d, "NL91ABNA0417164300");
	YES(d, "NO9386011117947");		    /* shortest */
	YES(d, "AB12 DE89 3704 0044 0532 0130 00"); /* leftmost start hides it: retried */
	NO(d, "DE88370400440532013000");	    /* wrong check digits */
	NO(d, "XY43370400440532013000");	    /* mod 97 fine, no such country */
	NO(d, "DE543704004405320130001");	    /* mod 97 fine, wrong length for DE */
	NO(d, "DE89 3704 0044 0532 0130 0");	    /* truncated */
	NO(d, "DE8937 040044 0532013000");	    /* spaces not every four */
	NO(d, "XDE89370400440532013000");	    /* glued */
}

static void test_us_ssn_rejects_invalid_ranges_and_bare_digits(void **state)
{
	(void)state;
	const enum rg_detector d = RG_DET_US_SSN;
	YES(d, "123-45-6789");
	YES(d, "ssn: 078-05-1120.");
	NO(d, "666-12-3456"); /* area 666 */
	NO(d, "000-12-3456"); /* area 000 */
	NO(d, "900-12-3456"); /* area 9xx */
	NO(d, "999-12-3456");
	NO(d, "123-00-4567");  /* group 00 */
	NO(d, "123-45-0000");  /* serial 0000 */
	NO(d, "123456789");    /* bare nine digits: not an SSN (see report) */
	NO(d, "1123-45-6789"); /* part of a longer number */
	NO(d, "123-45-6789-1");
}

static void test_aba_routing_needs_checksum_and_fed_prefix(void **state)
{
	(void)state;
	const enum rg_detector d = RG_DET_ABA_ROUTING;
	YES(d, "021000021");
	YES(d, "routing 011000015;");
	NO(d, "021000022");  /* checksum */
	NO(d, "131000018");  /* checksum fine, prefix 13 is no Fed district */
	NO(d, "0210000210"); /* ten digits */
	NO(d, "1021000021");
	NO(d, "3.021000021"); /* decimal fraction */
}

static void test_email_checks_domain_and_labels(void **state)
{
	(void)state;
	const enum rg_detector d = RG_DET_EMAIL;
	YES(d, "john.doe@example.com");
	YES(d, "mail a+b_c%d@sub.example.co.uk, thanks");
	YES(d, "<x@y.io>");
	NO(d, "john@localhost");	/* no dot */
	NO(d, "john@example.c0m");	/* TLD not alphabetic */
	NO(d, "john@-example.com");	/* label starts with '-' */
	NO(d, "john@example-.com");	/* label ends with '-' */
	NO(d, "john..doe@example.com"); /* consecutive dots */
	NO(d, ".john@example.com");
	NO(d, "john@example.c"); /* one-letter TLD */
	NO(d, "@example.com");
}

static void test_phone_e164_needs_plausible_country_code(void **state)
{
	(void)state;
	const enum rg_detector d = RG_DET_PHONE_E164;
	YES(d, "+14155552671");
	YES(d, "call +44 20 7946 0958 now");
	YES(d, "+49-30-1234567");
	NO(d, "+0123456789");	    /* country code cannot start with 0 */
	NO(d, "+1234567");	    /* 7 digits */
	NO(d, "+1234567890123456"); /* 16 digits */
	NO(d, "14155552671");	    /* no '+' */
	NO(d, "a+14155552671");
	NO(d, "+1 415  555 2671"); /* double separator */
}

static void test_jwt_needs_json_header_with_alg(void **state)
{
	(void)state;
	const enum rg_detector d = RG_DET_JWT;
	YES(d, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6Ikpv"
	       "aG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c");
	YES(d, "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.");	   /* alg none, no signature */
	NO(d, "eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiJ4In0.abcdef");	   /* header without alg */
	NO(d, "eyJhbGciOiJIUzI1NiJ9.WzEsMiwzLDQsNSw2LDdd.abcdef"); /* payload not an object */
	NO(d, "engineering.co.uk");
	NO(d, "eyXXXXXXXXXXXXXX.abcdefgh.xyz");
}

static void test_aws_access_key_needs_prefix_and_base32(void **state)
{
	(void)state;
	const enum rg_detector d = RG_DET_AWS_ACCESS_KEY;
	YES(d, "AKIAIOSFODNN7EXAMPLE");
	YES(d, "key=ASIAIOSFODNN7EXAMPLE;");
	NO(d, "AKIAIOSFODNN7EXAMPL1");	/* '1' is not base32 */
	NO(d, "ABCDIOSFODNN7EXAMPLE");	/* unknown prefix */
	NO(d, "XAKIAIOSFODNN7EXAMPLE"); /* glued */
	NO(d, "AKIAIOSFODNN7EXAMPLEX");
}

#define PEM_BODY "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n"
static void test_private_key_needs_whole_pem_block(void **state)
{
	(void)state;
	const enum rg_detector d = RG_DET_PRIVATE_KEY;
	YES(d, "-----BEGIN RSA PRIVATE KEY-----\n" PEM_BODY "-----END RSA PRIVATE KEY-----");
	YES(d, "-----BEGIN PRIVATE KEY-----\r\n" PEM_BODY "-----END PRIVATE KEY-----\n");
	YES(d, "k: -----BEGIN EC PRIVATE KEY-----\n" PEM_BODY "-----END EC PRIVATE KEY-----");
	YES(d,
	    "-----BEGIN OPENSSH PRIVATE KEY-----\n" PEM_BODY "-----END OPENSSH PRIVATE KEY-----");
	YES(d, "-----BEGIN ENCRYPTED PRIVATE KEY-----\n" PEM_BODY
	       "-----END ENCRYPTED PRIVATE KEY-----");
	YES(d,
	    "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n"
	    "DEK-Info: AES-128-CBC,0123456789ABCDEF\n\n" PEM_BODY "-----END RSA PRIVATE KEY-----");
	NO(d, "-----BEGIN RSA PRIVATE KEY-----\n" PEM_BODY "-----END EC PRIVATE KEY-----");
	NO(d, "-----BEGIN PUBLIC KEY-----\n" PEM_BODY "-----END PUBLIC KEY-----");
	NO(d, "-----BEGIN PRIVATE KEY-----\n" PEM_BODY);		 /* truncated */
	NO(d, "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----"); /* empty */
}

static void test_ipv4_octets_and_no_leading_zeros(void **state)
{
	(void)state;
	const enum rg_detector d = RG_DET_IPV4;
	YES(d, "192.168.1.1");
	YES(d, "from 10.0.0.255.");
	YES(d, "0.0.0.0");
	YES(d, "[8.8.8.8]:53");
	NO(d, "256.1.1.1");
	NO(d, "192.168.01.1");
	NO(d, "1.2.3.4.5"); /* a version string */
	NO(d, "1.2.3");
	NO(d, "v1.2.3.4");
}

static void test_ipv6_full_and_compressed_via_inet_pton(void **state)
{
	(void)state;
	const enum rg_detector d = RG_DET_IPV6;
	YES(d, "2001:db8::1");
	YES(d, "addr fe80::1ff:fe23:4567:890a%eth0");
	YES(d, "2001:0db8:85a3:0000:0000:8a2e:0370:7334");
	YES(d, "::1");
	YES(d, "::ffff:192.0.2.1");
	NO(d, "12:30:45");	/* a time */
	NO(d, "select x::int"); /* a cast */
	NO(d, "::");
	NO(d, "1:2:3:4:5:6:7:8:9");
	NO(d, "std::vector");
}

static void test_confirm_moves_start_past_separator(void **state)
{
	(void)state;
	const char *f = "qty 2 4111 1111 1111 1111";
	size_t s = 4, n = strlen(f);
	assert_true(rg_detector_confirm(RG_DET_CREDIT_CARD, (const uint8_t *)f, n, &s, n));
	assert_int_equal(s, 6);
	s = 0;
	assert_false(rg_detector_confirm(RG_DET__COUNT, (const uint8_t *)f, n, &s, n));
	assert_false(rg_detector_confirm(RG_DET_CREDIT_CARD, (const uint8_t *)f, n, &s, n + 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_catalogue_names_and_patterns_agree),
	    cmocka_unit_test(test_credit_card_needs_luhn_iin_and_brand_length),
	    cmocka_unit_test(test_iban_needs_mod97_country_and_length),
	    cmocka_unit_test(test_us_ssn_rejects_invalid_ranges_and_bare_digits),
	    cmocka_unit_test(test_aba_routing_needs_checksum_and_fed_prefix),
	    cmocka_unit_test(test_email_checks_domain_and_labels),
	    cmocka_unit_test(test_phone_e164_needs_plausible_country_code),
	    cmocka_unit_test(test_jwt_needs_json_header_with_alg),
	    cmocka_unit_test(test_aws_access_key_needs_prefix_and_base32),
	    cmocka_unit_test(test_private_key_needs_whole_pem_block),
	    cmocka_unit_test(test_ipv4_octets_and_no_leading_zeros),
	    cmocka_unit_test(test_ipv6_full_and_compressed_via_inet_pton),
	    cmocka_unit_test(test_confirm_moves_start_past_separator),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
