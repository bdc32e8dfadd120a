/*
 * The masking prefilter loses no true positive. The prefilter (mask.c) decides which
 * fields get the SOM scan; a field it rules out is never masked, so each detector's
 * condition must hold wherever the detector can confirm a match. Three checks, each run
 * with every prefilter implementation this build and CPU have (plain C, SSE2, AVX2,
 * AVX-512; rg_mask_prefilter_use forces each in turn):
 *
 *  - every known instance (the positive cases of test_detect.c, test_mask.c and the row
 *    tests of rules/pii/pii.yaml) is a candidate for its detector, alone and embedded in
 *    text at every offset that moves it across 64-byte block boundaries, and is masked;
 *  - randomized rows built from generated valid instances of every detector (Luhn cards,
 *    mod-97 IBANs, checksummed routing numbers, ...), their look-alikes, digits, separators
 *    and noise: whenever a detector alone, scanning the field with the prefilter off,
 *    confirms a match, the prefilter names that detector for the field;
 *  - the same rows through a masker with every detector: output with the prefilter equals
 *    output with every field SOM-scanned (rg_masker_set_prefilter(m, false));
 *  - differential, across implementations: adversarial fields (every known instance at
 *    every offset across two 64-byte boundaries, at the field's start and end, inside runs
 *    of digits, separators, colons, capitals and non-ASCII UTF-8, and such runs alone at
 *    every length up to 200) give the same per-detector answer from every implementation,
 *    and the same masked row, equal to the row with every field SOM-scanned.
 * The random generator is seeded, so a failure reproduces; the failing field is printed.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mask.h"

#define NROWS 4000
#define MAXF 8
#define FCAP 1024

struct ex {
	enum rg_detector d;
	const char *s;
};

#define PEM_BODY "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n"

/* Known instances: test_detect.c, test_mask.c, rules/pii/pii.yaml. */
static const struct ex examples[] = {
    /* test_detect.c */
    {RG_DET_CREDIT_CARD, "4111111111111111"},
    {RG_DET_CREDIT_CARD, "card 4111 1111 1111 1111 exp 12/29"},
    {RG_DET_CREDIT_CARD, "4111-1111-1111-1111"},
    {RG_DET_CREDIT_CARD, "5555555555554444"},
    {RG_DET_CREDIT_CARD, "2221000000000009"},
    {RG_DET_CREDIT_CARD, "2720000000000005"},
    {RG_DET_CREDIT_CARD, "378282246310005"},
    {RG_DET_CREDIT_CARD, "3782 822463 10005"},
    {RG_DET_CREDIT_CARD, "6011111111111117"},
    {RG_DET_CREDIT_CARD, "6440000000000005"},
    {RG_DET_CREDIT_CARD, "6500000000000002"},
    {RG_DET_CREDIT_CARD, "3530111333300000"},
    {RG_DET_CREDIT_CARD, "30569309025904"},
    {RG_DET_CREDIT_CARD, "36000000000008"},
    {RG_DET_CREDIT_CARD, "6200000000000005"},
    {RG_DET_CREDIT_CARD, "4000000000006"},
    {RG_DET_CREDIT_CARD, "4000000000000000006"},
    {RG_DET_CREDIT_CARD, "x,4111111111111111,5555555555554444"},
    {RG_DET_CREDIT_CARD, "qty 2 4111 1111 1111 1111"},
    /* 4-4-4-x with x of 1..4 digits and a 5th group: the [NA] after x ends the condition */
    {RG_DET_CREDIT_CARD, "4222 2222 2222 2"},
    {RG_DET_CREDIT_CARD, "3056 9309 0259 04"},
    {RG_DET_CREDIT_CARD, "3782-8224-6310-005"},
    {RG_DET_CREDIT_CARD, "4000 0000 0000 0000 006"},
    {RG_DET_CREDIT_CARD, "id:4111-1111-1111-1111."},
    {RG_DET_IBAN, "DE89370400440532013000"},
    {RG_DET_IBAN, "DE89 3704 0044 0532 0130 00"},
    {RG_DET_IBAN, "pay to GB82WEST12345698765432 today"},
    {RG_DET_IBAN, "FR1420041010050500013M02606"},
    {RG_DET_IBAN, "NL91ABNA0417164300"},
    {RG_DET_IBAN, "NO9386011117947"},
    {RG_DET_IBAN, "AB12 DE89 3704 0044 0532 0130 00"},
    {RG_DET_US_SSN, "123-45-6789"},
    {RG_DET_US_SSN, "ssn: 078-05-1120."},
    {RG_DET_ABA_ROUTING, "021000021"},
    {RG_DET_ABA_ROUTING, "routing 011000015;"},
    {RG_DET_EMAIL, "john.doe@example.com"},
    {RG_DET_EMAIL, "mail a+b_c%d@sub.example.co.uk, thanks"},
    {RG_DET_EMAIL, "<x@y.io>"},
    {RG_DET_PHONE_E164, "+14155552671"},
    {RG_DET_PHONE_E164, "call +44 20 7946 0958 now"},
    {RG_DET_PHONE_E164, "+49-30-1234567"},
    {RG_DET_JWT, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6Ikpv"
		 "aG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"},
    {RG_DET_JWT, "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."},
    {RG_DET_AWS_ACCESS_KEY, "AKIAIOSFODNN7EXAMPLE"},
    {RG_DET_AWS_ACCESS_KEY, "key=ASIAIOSFODNN7EXAMPLE;"},
    {RG_DET_PRIVATE_KEY,
     "-----BEGIN RSA PRIVATE KEY-----\n" PEM_BODY "-----END RSA PRIVATE KEY-----"},
    {RG_DET_PRIVATE_KEY, "-----BEGIN PRIVATE KEY-----\r\n" PEM_BODY "-----END PRIVATE KEY-----\n"},
    {RG_DET_PRIVATE_KEY,
     "k: -----BEGIN EC PRIVATE KEY-----\n" PEM_BODY "-----END EC PRIVATE KEY-----"},
    {RG_DET_PRIVATE_KEY,
     "-----BEGIN OPENSSH PRIVATE KEY-----\n" PEM_BODY "-----END OPENSSH PRIVATE KEY-----"},
    {RG_DET_PRIVATE_KEY,
     "-----BEGIN ENCRYPTED PRIVATE KEY-----\n" PEM_BODY "-----END ENCRYPTED PRIVATE KEY-----"},
    {RG_DET_PRIVATE_KEY, "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n"
			 "DEK-Info: AES-128-CBC,0123456789ABCDEF\n\n" PEM_BODY
			 "-----END RSA PRIVATE KEY-----"},
    {RG_DET_IPV4, "192.168.1.1"},
    {RG_DET_IPV4, "from 10.0.0.255."},
    {RG_DET_IPV4, "0.0.0.0"},
    {RG_DET_IPV4, "[8.8.8.8]:53"},
    {RG_DET_IPV6, "2001:db8::1"},
    {RG_DET_IPV6, "addr fe80::1ff:fe23:4567:890a%eth0"},
    {RG_DET_IPV6, "2001:0db8:85a3:0000:0000:8a2e:0370:7334"},
    {RG_DET_IPV6, "::1"},
    {RG_DET_IPV6, "::ffff:192.0.2.1"},
    /* test_mask.c */
    {RG_DET_CREDIT_CARD, "card 4111 1111 1111 1111 ok"},
    {RG_DET_EMAIL, "to a.b@ex.com"},
    {RG_DET_EMAIL, "mail john@example.com."},
    {RG_DET_EMAIL, "john@example.com"},
    {RG_DET_US_SSN, "name Bob ssn 123-45-6789"},
    {RG_DET_EMAIL, "a@b.co, c@d.org from 10.1.2.3"},
    {RG_DET_IPV4, "a@b.co, c@d.org from 10.1.2.3"},
    {RG_DET_PHONE_E164, "tel +1 123-45-6789 ok"},
    {RG_DET_US_SSN, "tel +1 123-45-6789 ok"},
    {RG_DET_EMAIL, "x@y.com"},
    {RG_DET_EMAIL, "Jo x@y.com"},
    {RG_DET_IPV4, "x@y.com 1.2.3.4"},
    {RG_DET_EMAIL, "a@bb.com"},
    {RG_DET_IPV4, "ip 10.0.0.1 mail a@b.cc ssn 123-45-6789"},
    {RG_DET_EMAIL, "ip 10.0.0.1 mail a@b.cc ssn 123-45-6789"},
    {RG_DET_US_SSN, "ip 10.0.0.1 mail a@b.cc ssn 123-45-6789"},
    {RG_DET_CREDIT_CARD, "4111111111111111 lorem ipsum dolor 2024 lorem"},
    {RG_DET_CREDIT_CARD, "lorem ipsum dolor 2024 5555555555554444"},
    {RG_DET_EMAIL, "dolor 2024  x@y.com lorem"},
    /* rules/pii/pii.yaml */
    {RG_DET_CREDIT_CARD, "4111 1111 1111 1111"},
    {RG_DET_CREDIT_CARD, "3530111333300000"},
    {RG_DET_CREDIT_CARD, "2223003122003222"},
    {RG_DET_CREDIT_CARD, "4222222222222"},
    {RG_DET_CREDIT_CARD, "paid with 4012888888881881 on 2024-05-01"},
    {RG_DET_CREDIT_CARD, "cards 4111111111111111, 5555555555554444"},
    {RG_DET_CREDIT_CARD, "4111111111111111\xe2\x82\xac"},
    {RG_DET_IBAN, "GB82WEST12345698765432"},
    {RG_DET_IBAN, "GB82 WEST 1234 5698 7654 32"},
    {RG_DET_IBAN, "CH9300762011623852957"},
    {RG_DET_IBAN, "pay to FR14 2004 1010 0505 0001 3M02 606 today"},
    {RG_DET_ABA_ROUTING, "routing 121000358 acct x"},
    {RG_DET_ABA_ROUTING, "011000015"},
    {RG_DET_ABA_ROUTING, "322271627"},
    {RG_DET_US_SSN, "536-22-1234"},
    {RG_DET_US_SSN, "ssn: 078-05-1120, verified"},
    {RG_DET_US_SSN, "899-99-9999"},
    {RG_DET_EMAIL, "alice@example.com"},
    {RG_DET_EMAIL, "bob.smith+tag@mail.example.co.uk"},
    {RG_DET_EMAIL, "contact ops-team@corp.example.org."},
    {RG_DET_EMAIL, "Gr\xc3\xbc\xc3\x9f"
		   "e an alice@example.com"},
    {RG_DET_EMAIL, "Alice.Smith@Example.COM"},
    {RG_DET_EMAIL, "carol@example.com"},
    {RG_DET_PHONE_E164, "+44 20 7946 0958"},
    {RG_DET_PHONE_E164, "call +33-1-23-45-67-89 now"},
    {RG_DET_JWT, "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib3QifQ.c2lnbmF0dXJlLWJ5dGVz"},
    {RG_DET_JWT, "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib3QifQ.c2lnbmF0dXJlLWJ5dGVz"},
    {RG_DET_AWS_ACCESS_KEY, "aws_access_key_id=ASIAY34FZKBOKMUTVV7A"},
    {RG_DET_PRIVATE_KEY,
     "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"},
    {RG_DET_PRIVATE_KEY, "key=-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAzZ9xQwErTy\n"
			 "UiOpAsDfGhJk==\n-----END RSA PRIVATE KEY-----\n"},
    {RG_DET_IPV4, "10.0.0.1"},
    {RG_DET_IPV4, "client 192.168.1.254 connected"},
    {RG_DET_IPV4, "255.255.255.255"},
    {RG_DET_IPV4, "db at 10.0.0.1:5432"},
    {RG_DET_IPV6, "from fe80::1ff:fe23:4567:890a"},
    {RG_DET_CREDIT_CARD, "4111111111111111"},
    {RG_DET_US_SSN, "536-22-1234"},
    {RG_DET_EMAIL, "Contact alice@example.com or +14155552671"},
    {RG_DET_PHONE_E164, "Contact alice@example.com or +14155552671"},
};

static const enum rg_mask_prefilter_impl impls[] = {RG_MASK_PF_SCALAR, RG_MASK_PF_SSE2,
						    RG_MASK_PF_AVX2, RG_MASK_PF_AVX512,
						    RG_MASK_PF_AVX512VBMI};
static const char *const impl_name[] = {"auto", "scalar", "sse2", "avx2", "avx512", "avx512vbmi"};
#define NIMPL (sizeof(impls) / sizeof(impls[0]))

/* One masker per detector (prefilter on or off) and one with every detector. */
static struct rg_mask_action one_act[RG_DET__COUNT], all_act[RG_DET__COUNT];
static hs_database_t *one_db[RG_DET__COUNT], *all_db;
static struct rg_masker *one_m[RG_DET__COUNT], *one_ref[RG_DET__COUNT], *all_m, *all_ref;

static int setup(void **state)
{
	char err[256];

	(void)state;
	for (int d = 0; d < RG_DET__COUNT; d++) {
		one_act[d] = (struct rg_mask_action){.detector = d, .style = RG_MASK_REDACT};
		all_act[d] = (struct rg_mask_action){
		    .detector = d, .style = RG_MASK_PARTIAL, .keep = 3, .rule_index = (uint32_t)d};
		if (rg_mask_compile(&one_act[d], 1, &one_db[d], err, sizeof(err)) != 0)
			return -1;
		one_m[d] = rg_masker_new(one_db[d], &one_act[d], 1, NULL, 0);
		one_ref[d] = rg_masker_new(one_db[d], &one_act[d], 1, NULL, 0);
		if (!one_m[d] || !one_ref[d])
			return -1;
		rg_masker_set_prefilter(one_ref[d], false);
	}
	if (rg_mask_compile(all_act, RG_DET__COUNT, &all_db, err, sizeof(err)) != 0)
		return -1;
	all_m = rg_masker_new(all_db, all_act, RG_DET__COUNT, NULL, 0);
	all_ref = rg_masker_new(all_db, all_act, RG_DET__COUNT, NULL, 0);
	if (!all_m || !all_ref)
		return -1;
	rg_masker_set_prefilter(all_ref, false);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	rg_mask_prefilter_use(RG_MASK_PF_AUTO);
	for (int d = 0; d < RG_DET__COUNT; d++) {
		rg_masker_free(one_m[d]);
		rg_masker_free(one_ref[d]);
		hs_free_database(one_db[d]);
	}
	rg_masker_free(all_m);
	rg_masker_free(all_ref);
	hs_free_database(all_db);
	return 0;
}

/* Confirmed matches of m on the one field p[0..n). */
static unsigned matches(struct rg_masker *m, const uint8_t *p, size_t n)
{
	struct rg_mask_field f = {p, (uint32_t)n, false};
	struct rg_mask_result r;

	assert_int_equal(rg_masker_row(m, NULL, &f, 1, &r), 0);
	return r.matches;
}

static void show(const char *what, const uint8_t *p, size_t n)
{
	fprintf(stderr, "%s (%zu bytes): \"", what, n);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' ? "%c" : "\\x%02x",
			p[i]);
	fprintf(stderr, "\"\n");
}

static void test_implementations_agree_on_the_simple_cases(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof(impls) / sizeof(impls[0]); k++) {
		if (rg_mask_prefilter_use(impls[k]) != 0)
			continue;
		assert_int_equal(rg_mask_prefilter((const uint8_t *)"hello world", 11, ~0u), 0);
		assert_int_equal(rg_mask_prefilter((const uint8_t *)"", 0, ~0u), 0);
		assert_int_equal(rg_mask_prefilter((const uint8_t *)"12:30:45 2024-05-01", 19,
						   ~0u),
				 0);
		assert_int_equal(rg_mask_prefilter((const uint8_t *)"021000021", 9,
						   1u << RG_DET_ABA_ROUTING),
				 1u << RG_DET_ABA_ROUTING);
		assert_int_equal(rg_mask_prefilter((const uint8_t *)"021000021", 9,
						   1u << RG_DET_EMAIL),
				 0);
		/* a UUID's 4-4-4 groups are glued to the 12-digit group after them */
		assert_int_equal(rg_mask_prefilter((const uint8_t *)"fc01646f-2882-4042-8140-"
								    "2bd8e1f2a3b4",
						   36, 1u << RG_DET_CREDIT_CARD),
				 0);
	}
	assert_int_equal(rg_mask_prefilter_use(RG_MASK_PF_AUTO), 0);
}

/* Every known instance, alone and behind 0..160 bytes of text, is a candidate for its
 * detector under every implementation, and the masker (prefilter on) masks it. */
static void test_every_known_instance_is_a_candidate(void **state)
{
	static const char filler[] = "lorem ipsum 2024-05-01 12:30:45 dolor sit amet 17 ";
	uint8_t buf[FCAP];
	size_t checked = 0;

	(void)state;
	for (size_t k = 0; k < sizeof(impls) / sizeof(impls[0]); k++) {
		if (rg_mask_prefilter_use(impls[k]) != 0)
			continue;
		for (size_t e = 0; e < sizeof(examples) / sizeof(examples[0]); e++) {
			const struct ex *x = &examples[e];
			size_t len = strlen(x->s);
			for (size_t pad = 0; pad <= 160; pad++) {
				/* pad bytes of filler, the last of them a space */
				for (size_t i = 0; i < pad; i++)
					buf[i] = (uint8_t)filler[i % (sizeof(filler) - 1)];
				if (pad)
					buf[pad - 1] = ' ';
				memcpy(buf + pad, x->s, len);
				size_t n = pad + len;
				for (int tail = 0; tail < 2; tail++) {
					if (tail) {
						memcpy(buf + n, " tail", 5);
						n += 5;
					}
					unsigned want = 1u << x->d;
					if (rg_mask_prefilter(buf, n, want) != want ||
					    !matches(one_m[x->d], buf, n)) {
						fprintf(stderr, "%s, %s:\n", impl_name[impls[k]],
							rg_detector_name(x->d));
						show("missed", buf, n);
						fail();
					}
					checked++;
				}
			}
		}
	}
	assert_true(checked > 1000);
	assert_int_equal(rg_mask_prefilter_use(RG_MASK_PF_AUTO), 0);
}

/* ---- random rows ---- */

static uint64_t rs = 0x2545f4914f6cdd1dull;

static uint32_t rnd(uint32_t n)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return (uint32_t)((rs >> 11) % n);
}

struct out {
	char *p;
	size_t n, cap;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->n + n > o->cap)
		n = o->cap - o->n;
	memcpy(o->p + o->n, s, n);
	o->n += n;
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void putc_(struct out *o, char c)
{
	put(o, &c, 1);
}

static void digits(struct out *o, int n)
{
	for (int i = 0; i < n; i++)
		putc_(o, (char)('0' + rnd(10)));
}

static char sep(void)
{
	return rnd(3) ? ' ' : '-';
}

static void gen_card(struct out *o)
{
	static const struct {
		const char *pre;
		int len;
	} b[] = {{"4", 16}, {"4", 13}, {"4", 19}, {"51", 16},	{"55", 16},   {"2221", 16},
		 {"2720", 16}, {"34", 15}, {"37", 15}, {"6011", 16}, {"6011", 19}, {"65", 17},
		 {"3528", 16}, {"3589", 18}, {"36", 14}, {"300", 14}, {"62", 16},  {"644", 16}};
	int k = (int)rnd(sizeof(b) / sizeof(b[0])), len = b[k].len, n = (int)strlen(b[k].pre);
	char d[20];
	memcpy(d, b[k].pre, (size_t)n);
	for (int i = n; i < len - 1; i++)
		d[i] = (char)('0' + rnd(10));
	int sum = 0;
	for (int i = len - 2, dbl = 1; i >= 0; i--, dbl ^= 1) {
		int v = d[i] - '0';
		if (dbl && (v *= 2) > 9)
			v -= 9;
		sum += v;
	}
	d[len - 1] = (char)('0' + (10 - sum % 10) % 10);
	int form = (int)rnd(4);
	if (form == 0 || len < 15) {
		put(o, d, (size_t)len);
	} else if (form == 3 && (len == 15 || len == 14)) { /* 4-6-5 / 4-6-4 */
		char s = sep();
		put(o, d, 4);
		putc_(o, s);
		put(o, d + 4, 6);
		putc_(o, s);
		put(o, d + 10, (size_t)len - 10);
	} else { /* groups of four, last group(s) shorter; a mixed separator now and then */
		for (int i = 0; i < len; i += 4) {
			if (i)
				putc_(o, rnd(8) ? ' ' : '-');
			put(o, d + i, (size_t)(len - i < 4 ? len - i : 4));
		}
	}
}

static void gen_ssn(struct out *o)
{
	char s[40];
	unsigned area = 1 + rnd(898);
	if (area == 666)
		area = 665;
	snprintf(s, sizeof(s), "%03u-%02u-%04u", area % 1000, (1 + rnd(99)) % 100,
		 (1 + rnd(9999)) % 10000);
	puts_(o, s);
}

static void gen_aba(struct out *o)
{
	static const int pre[] = {1, 5, 11, 12, 21, 26, 32, 61, 67, 72, 80};
	static const int w[9] = {3, 7, 1, 3, 7, 1, 3, 7, 1};
	char d[10];
	int p = pre[rnd(sizeof(pre) / sizeof(pre[0]))], sum = 0;
	d[0] = (char)('0' + p / 10);
	d[1] = (char)('0' + p % 10);
	for (int i = 2; i < 8; i++)
		d[i] = (char)('0' + rnd(10));
	for (int i = 0; i < 8; i++)
		sum += w[i] * (d[i] - '0');
	d[8] = (char)('0' + (10 - sum % 10) % 10);
	put(o, d, 9);
}

static void gen_iban(struct out *o)
{
	static const struct {
		char cc[3];
		int len;
	} c[] = {{"DE", 22}, {"GB", 22}, {"FR", 27}, {"NL", 18}, {"NO", 15}, {"CH", 21},
		 {"MT", 31}, {"BE", 16}, {"IT", 27}, {"PL", 28}, {"ES", 24}, {"SE", 24}};
	int k = (int)rnd(sizeof(c) / sizeof(c[0])), len = c[k].len;
	char s[40];
	memcpy(s, c[k].cc, 2);
	for (int i = 4; i < len; i++)
		s[i] = rnd(4) ? (char)('0' + rnd(10)) : (char)('A' + rnd(26));
	/* check digits: BBAN, country, "00" as numbers, 98 - mod 97 */
	unsigned rem = 0;
	for (int i = 0; i < len; i++) {
		char ch = i < len - 4 ? s[i + 4] : (i < len - 2 ? s[i - len + 4] : '0');
		rem = ch >= 'A' ? (rem * 100 + (unsigned)(ch - 'A' + 10)) % 97
				: (rem * 10 + (unsigned)(ch - '0')) % 97;
	}
	unsigned chk = 98 - rem;
	s[2] = (char)('0' + chk / 10);
	s[3] = (char)('0' + chk % 10);
	if (rnd(2)) {
		put(o, s, (size_t)len);
	} else {
		for (int i = 0; i < len; i += 4) {
			if (i)
				putc_(o, ' ');
			put(o, s + i, (size_t)(len - i < 4 ? len - i : 4));
		}
	}
}

static void word(struct out *o, const char *alpha, int min, int max)
{
	int n = min + (int)rnd((uint32_t)(max - min + 1));
	size_t na = strlen(alpha);
	for (int i = 0; i < n; i++)
		putc_(o, alpha[rnd((uint32_t)na)]);
}

static void gen_email(struct out *o)
{
	word(o, "abcdefghijklmnopqrstuvwxyz0123456789", 1, 8);
	if (rnd(2)) {
		putc_(o, "._+-%"[rnd(5)]);
		word(o, "abcdefghijklmnopqrstuvwxyz0123456789", 1, 6);
	}
	putc_(o, '@');
	int labels = 1 + (int)rnd(3);
	for (int i = 0; i < labels; i++) {
		word(o, "abcdefghijklmnopqrstuvwxyzABC0123456789", 1, 8);
		putc_(o, '.');
	}
	word(o, "comorgnetiodeuk", 2, 4);
}

static void gen_phone(struct out *o)
{
	int n = 8 + (int)rnd(8);
	putc_(o, '+');
	putc_(o, (char)('1' + rnd(9)));
	for (int i = 1; i < n; i++) {
		if (rnd(5) == 0)
			putc_(o, sep());
		putc_(o, (char)('0' + rnd(10)));
	}
}

static void b64url(struct out *o, const char *s, size_t n)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)(uint8_t)s[i] << 16;
		size_t k = n - i < 3 ? n - i : 3;
		if (k > 1)
			v |= (uint32_t)(uint8_t)s[i + 1] << 8;
		if (k > 2)
			v |= (uint8_t)s[i + 2];
		for (size_t j = 0; j < k + 1; j++)
			putc_(o, t[(v >> (18 - 6 * j)) & 63]);
	}
}

static void gen_jwt(struct out *o)
{
	static const char *const hdr[] = {"{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
					  "{\"alg\":\"none\"}", "{ \"alg\": \"RS256\" }",
					  "{\n\"alg\":\"ES256\"}", "{\"typ\":\"JWT\",\"alg\":\"HS512\"}"};
	char pay[64];
	const char *h = hdr[rnd(sizeof(hdr) / sizeof(hdr[0]))];
	snprintf(pay, sizeof(pay), "{\"sub\":\"%u\",\"n\":%u}", rnd(100000), rnd(1000));
	b64url(o, h, strlen(h));
	putc_(o, '.');
	b64url(o, pay, strlen(pay));
	putc_(o, '.');
	word(o, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", 0, 43);
}

static void gen_aws(struct out *o)
{
	static const char *const pre[] = {"AKIA", "ASIA", "AGPA", "AIDA",
					  "AROA", "ANPA", "ANVA", "AIPA"};
	puts_(o, pre[rnd(8)]);
	word(o, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16, 16);
}

static void gen_pem(struct out *o)
{
	static const char *const lab[] = {"", "RSA ", "EC ", "OPENSSH ", "ENCRYPTED "};
	const char *l = lab[rnd(5)];
	puts_(o, "-----BEGIN ");
	puts_(o, l);
	puts_(o, "PRIVATE KEY-----\n");
	for (int i = 0, n = 1 + (int)rnd(3); i < n; i++) {
		word(o, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 16,
		     48);
		putc_(o, '\n');
	}
	puts_(o, "-----END ");
	puts_(o, l);
	puts_(o, "PRIVATE KEY-----");
}

static void gen_ipv4(struct out *o)
{
	char s[64];
	snprintf(s, sizeof(s), "%u.%u.%u.%u", rnd(256), rnd(256), rnd(256), rnd(256));
	puts_(o, s);
}

static void gen_ipv6(struct out *o)
{
	uint8_t a[16];
	char s[INET6_ADDRSTRLEN];
	for (int i = 0; i < 16; i += 2) {
		int zero = rnd(3) == 0;
		a[i] = zero ? 0 : (uint8_t)rnd(256);
		a[i + 1] = zero ? 0 : (uint8_t)rnd(256);
	}
	if (rnd(6) == 0) { /* ::ffff:a.b.c.d */
		memset(a, 0, 10);
		a[10] = a[11] = 0xff;
	}
	if (rnd(4) == 0) { /* the full form, no compression */
		for (int i = 0; i < 16; i += 2) {
			snprintf(s, sizeof(s), i ? ":%x" : "%x", a[i] << 8 | a[i + 1]);
			puts_(o, s);
		}
		return;
	}
	inet_ntop(AF_INET6, a, s, sizeof(s));
	puts_(o, s);
}

static void (*const gens[RG_DET__COUNT])(struct out *) = {
    [RG_DET_CREDIT_CARD] = gen_card,   [RG_DET_IBAN] = gen_iban,
    [RG_DET_US_SSN] = gen_ssn,	       [RG_DET_ABA_ROUTING] = gen_aba,
    [RG_DET_EMAIL] = gen_email,	       [RG_DET_PHONE_E164] = gen_phone,
    [RG_DET_JWT] = gen_jwt,	       [RG_DET_AWS_ACCESS_KEY] = gen_aws,
    [RG_DET_PRIVATE_KEY] = gen_pem,    [RG_DET_IPV4] = gen_ipv4,
    [RG_DET_IPV6] = gen_ipv6,
};

/* One token of a field: mostly the things detectors trip on. */
static void token(struct out *o)
{
	static const char *const words[] = {"order",  "the", "Berlin", "ORD", "id", "x", "eye",
					    "ewe",    "key", "std",	  "int", "e",  "y", "A",
					    "value::text",   "12:30:45", "v2.3", "SKU-AB12",
					    "2024-05-01",    "1.2.3",	 "-----", "@",	"+",
					    "::",     "DE",  "eyJ",	  "AKIA", "\xc3\xa9"};
	size_t start = o->n;
	switch (rnd(14)) {
	case 0:
	case 1:
		gens[rnd(RG_DET__COUNT)](o);
		break;
	case 2: /* an instance with one byte changed: look-alikes and near misses */
		gens[rnd(RG_DET__COUNT)](o);
		if (o->n > start)
			o->p[start + rnd((uint32_t)(o->n - start))] =
			    "0123456789 -.:@+Aa"[rnd(18)];
		break;
	case 3: /* an instance cut short */
		gens[rnd(RG_DET__COUNT)](o);
		o->n = start + rnd((uint32_t)(o->n - start) + 1);
		break;
	case 4:
	case 5:
		digits(o, 1 + (int)rnd(20));
		break;
	case 6:
		word(o, "0123456789 -.", 1, 24);
		break;
	case 7:
		word(o, "0123456789ABCDEFabcdef:.", 1, 24);
		break;
	case 8:
		word(o, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 1, 24);
		break;
	case 9: /* random bytes, any value */
		for (int i = 0, n = 1 + (int)rnd(8); i < n; i++)
			putc_(o, (char)rnd(256));
		break;
	default:
		puts_(o, words[rnd(sizeof(words) / sizeof(words[0]))]);
		break;
	}
}

/* A field of a few tokens joined by separators, or glued. */
static size_t gen_field(char *p, size_t cap)
{
	struct out o = {p, 0, cap};
	int n = (int)rnd(rnd(4) ? 6 : 40);
	for (int i = 0; i < n; i++) {
		if (i && rnd(5))
			putc_(&o, " ,;-.:/=\n"[rnd(9)]);
		token(&o);
	}
	return o.n;
}

static void check_rows(enum rg_mask_prefilter_impl impl, unsigned *tp)
{
	static char rowbuf[MAXF][FCAP];
	struct rg_mask_field f[MAXF];
	struct rg_mask_result r1, r2;

	for (int row = 0; row < NROWS; row++) {
		size_t nf = 1 + rnd(MAXF);
		for (size_t i = 0; i < nf; i++) {
			size_t n = gen_field(rowbuf[i], FCAP);
			f[i] = (struct rg_mask_field){(const uint8_t *)rowbuf[i], (uint32_t)n,
						      rnd(20) == 0};
			if (f[i].is_null)
				continue;
			/* per detector: the reference confirms => the prefilter names it */
			for (int d = 0; d < RG_DET__COUNT; d++) {
				if (!matches(one_ref[d], f[i].data, n))
					continue;
				tp[d]++;
				if (rg_mask_prefilter(f[i].data, n, 1u << d) != 1u << d) {
					fprintf(stderr, "%s, %s, row %d:\n", impl_name[impl],
						rg_detector_name(d), row);
					show("missed", f[i].data, n);
					fail();
				}
			}
		}
		/* the whole row, every detector: prefilter + SOM == SOM everywhere */
		assert_int_equal(rg_masker_row(all_ref, NULL, f, nf, &r1), 0);
		assert_int_equal(rg_masker_row(all_m, NULL, f, nf, &r2), 0);
		assert_int_equal(r1.changed, r2.changed);
		assert_int_equal(r1.matches, r2.matches);
		assert_int_equal(r1.rules_hit, r2.rules_hit);
		for (size_t i = 0; i < nf; i++) {
			const struct rg_mask_out_field *a = &r1.fields[i], *b = &r2.fields[i];
			if (a->changed != b->changed || a->is_null != b->is_null ||
			    a->len != b->len || (a->len && memcmp(a->data, b->data, a->len))) {
				fprintf(stderr, "%s, row %d field %zu:\n", impl_name[impl], row,
					i);
				show("differs", f[i].data, f[i].len);
				fail();
			}
		}
	}
}

static void test_random_rows_lose_no_true_positive(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof(impls) / sizeof(impls[0]); k++) {
		unsigned tp[RG_DET__COUNT] = {0};
		if (rg_mask_prefilter_use(impls[k]) != 0) {
			fprintf(stderr, "prefilter %s: not available here\n",
				impl_name[impls[k]]);
			continue;
		}
		check_rows(impls[k], tp);
		fprintf(stderr, "prefilter %s: %d rows, confirmed instances per detector:",
			impl_name[impls[k]], NROWS);
		for (int d = 0; d < RG_DET__COUNT; d++) {
			fprintf(stderr, " %s %u", rg_detector_name(d), tp[d]);
			assert_true(tp[d] >= 20); /* the generator reaches every detector */
		}
		fprintf(stderr, "\n");
	}
	assert_int_equal(rg_mask_prefilter_use(RG_MASK_PF_AUTO), 0);
}


/* ---- differential: every implementation, adversarial fields ---- */

struct verdicts {
	unsigned per; /* bit d: the prefilter names d when asked for d alone */
	bool any;     /* the prefilter with every detector is nonzero */
};

/* Checks p[0..n) under every implementation against the plain C one and against the row
 * masked with the prefilter off; *cmp counts the comparisons made. */
static void differential(const uint8_t *p, size_t n, size_t *cmp)
{
	struct rg_mask_field f = {p, (uint32_t)n, false};
	struct rg_mask_result ref, r;
	struct verdicts v0 = {0, false};
	static uint8_t refout[FCAP + 512];
	uint32_t reflen;
	bool refnull, refchanged;

	assert_int_equal(rg_masker_row(all_ref, NULL, &f, 1, &ref), 0);
	refchanged = ref.fields[0].changed;
	refnull = ref.fields[0].is_null;
	reflen = ref.fields[0].len;
	assert_true(reflen <= sizeof(refout));
	if (reflen)
		memcpy(refout, ref.fields[0].data, reflen);
	for (size_t k = 0; k < NIMPL; k++) {
		struct verdicts v = {0, false};
		if (rg_mask_prefilter_use(impls[k]) != 0)
			continue;
		for (int d = 0; d < RG_DET__COUNT; d++)
			if (rg_mask_prefilter(p, n, 1u << d) == 1u << d)
				v.per |= 1u << d;
		v.any = rg_mask_prefilter(p, n, ~0u) != 0;
		assert_int_equal(rg_masker_row(all_m, NULL, &f, 1, &r), 0);
		/* what rows.c skips whole rows by must never pass over a masked field */
		if (rg_masker_field_clear(all_m, NULL, p, n) && refchanged) {
			fprintf(stderr, "%s: rg_masker_field_clear passes over a masked field:\n",
				impl_name[impls[k]]);
			show("field", p, n);
			fail();
		}
		if (k == 0)
			v0 = v;
		const struct rg_mask_out_field *o = &r.fields[0];
		if (v.per != v0.per || v.any != v0.any || v.any != (v.per != 0) ||
		    o->changed != refchanged || o->is_null != refnull || o->len != reflen ||
		    (reflen && memcmp(o->data, refout, reflen))) {
			fprintf(stderr, "%s differs from %s (0x%x vs 0x%x) or from the reference:\n",
				impl_name[impls[k]], impl_name[impls[0]], v.per, v0.per);
			show("field", p, n);
			fail();
		}
		(*cmp)++;
	}
	assert_int_equal(rg_mask_prefilter_use(RG_MASK_PF_AUTO), 0);
}

static void test_implementations_agree_on_adversarial_fields(void **state)
{
	/* what sits around an instance: text, digits, separators, capitals, colons, UTF-8 */
	static const char *const fill[] = {
	    "lorem ipsum 2024-05-01 12:30:45 dolor sit amet 17 ",
	    "0123456789",
	    " - ",
	    "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 ",
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
	    "1 2-3 4-",
	    "::..@@++",
	    "\xff\x80",
	};
	/* runs alone at every length: each stresses a condition's chain across blocks */
	static const char *const runs[] = {"0", "1 ", "12-", "1234 ", "1.", "12.", "a:", "::1",
					   "A", "AB12", "-", "ey", "e", "+1", "x@", "\xc3\xa9",
					   "\x80", "1234-5678-", "4111 1111 "};
	static uint8_t buf[FCAP];
	size_t cmp = 0;

	(void)state;
	for (size_t e = 0; e < sizeof(examples) / sizeof(examples[0]); e++) {
		const char *x = examples[e].s;
		size_t len = strlen(x);
		for (size_t fi = 0; fi < sizeof(fill) / sizeof(fill[0]); fi++) {
			size_t fl = strlen(fill[fi]);
			for (size_t pad = 0; pad <= 130; pad++) {
				if (pad + len + 70 > FCAP)
					break;
				for (size_t i = 0; i < pad; i++)
					buf[i] = (uint8_t)fill[fi][i % fl];
				memcpy(buf + pad, x, len);
				/* at the field's end, then followed by filler up to a boundary */
				differential(buf, pad + len, &cmp);
				size_t n = pad + len;
				size_t to = (n + 63) / 64 * 64 + (pad & 1);
				for (; n < to; n++)
					buf[n] = (uint8_t)fill[fi][n % fl];
				differential(buf, n, &cmp);
			}
		}
	}
	for (size_t ri = 0; ri < sizeof(runs) / sizeof(runs[0]); ri++) {
		size_t rl = strlen(runs[ri]);
		for (size_t n = 1; n <= 200; n++) {
			for (size_t i = 0; i < n; i++)
				buf[i] = (uint8_t)runs[ri][i % rl];
			differential(buf, n, &cmp);
		}
	}
	/* random fields from the generator, at every length mod 64 */
	for (int i = 0; i < 3000; i++) {
		size_t n = gen_field((char *)buf, FCAP);
		differential(buf, n, &cmp);
	}
	fprintf(stderr, "differential: %zu (field, implementation) pairs compared\n", cmp);
	assert_true(cmp > 10000);
}

/* ---- integers and char(n) padding: what rg_masker_row settles before the prefilter ---- */

/* Append the Luhn check digit to the digits d[0..n) (NUL-terminated after it). */
static void luhn_complete(char *d, size_t n)
{
	int sum = 0;
	for (size_t k = 0; k < n; k++) {
		int v = d[n - 1 - k] - '0';
		if (k % 2 == 0 && (v *= 2) > 9)
			v -= 9;
		sum += v;
	}
	d[n] = (char)('0' + (10 - sum % 10) % 10);
	d[n + 1] = '\0';
}

/* Digits-only fields (what PostgreSQL prints for integers) and fields ending in spaces
 * (char(n) pads with them): the masker settles the first by their digit count and
 * prefilters and scans the second without the spaces. Both must change nothing: every
 * such field is masked exactly as with the prefilter off, under every implementation. */
static void test_integers_and_padding_change_no_verdict(void **state)
{
	static const char *const brands[] = {"4", "51", "2221", "34", "6011", "65", "3528", "36",
					     "300", "62", "1", "9"};
	static const char *const after[] = {"", "-", ".", "+", "@", ":", "1"};
	static char buf[FCAP];
	size_t cmp = 0, masked = 0;

	(void)state;
	for (size_t nd = 1; nd <= 26; nd++) {
		for (int kind = 0; kind < 3 + (int)(sizeof(brands) / sizeof(brands[0])); kind++) {
			for (int rep = 0; rep < 8; rep++) {
				char d[40];
				size_t k = 0;
				if (kind == 0) { /* one digit repeated */
					for (; k < nd; k++)
						d[k] = (char)('0' + rep);
					d[k] = '\0';
				} else if (kind == 1) { /* random */
					for (; k < nd; k++)
						d[k] = (char)('0' + rnd(10));
					d[k] = '\0';
				} else if (kind == 2) { /* 9 digits: a Fed prefix, 3-7-1 checksum */
					static const int w[8] = {3, 7, 1, 3, 7, 1, 3, 7};
					int sum = 0;
					for (; k < nd; k++)
						d[k] = (char)('0' + rnd(10));
					d[k] = '\0';
					if (nd == 9) {
						d[0] = '0';
						d[1] = (char)('1' + rnd(2));
						for (int i = 0; i < 8; i++)
							sum += w[i] * (d[i] - '0');
						d[8] = (char)('0' + (10 - sum % 10) % 10);
					}
				} else { /* a brand prefix, random digits, Luhn-valid */
					const char *b = brands[kind - 3];
					size_t bl = strlen(b);
					if (nd < bl + 1)
						continue;
					memcpy(d, b, bl);
					for (k = bl; k + 1 < nd; k++)
						d[k] = (char)('0' + rnd(10));
					luhn_complete(d, nd - 1);
				}
				for (int sign = 0; sign < 2; sign++) {
					for (size_t pad = 0; pad <= 17; pad += pad < 2 ? 1 : 7) {
						int n = snprintf(buf, sizeof(buf), "%s%s%*s",
								 sign ? "-" : "", d, (int)pad, "");
						struct rg_mask_field f = {(const uint8_t *)buf,
									  (uint32_t)n, false};
						struct rg_mask_result r;
						assert_int_equal(rg_masker_row(all_ref, NULL, &f, 1, &r), 0);
						masked += r.changed;
						/* a match in such a field is one rg_detector_digit_field
						 * allows */
						if (r.changed && !pad)
							assert_true(rg_detector_digit_field(nd) != 0);
						differential((const uint8_t *)buf, (size_t)n, &cmp);
					}
				}
			}
		}
	}
	/* every known instance, then a byte that may glue or not, then 0..70 spaces */
	for (size_t e = 0; e < sizeof(examples) / sizeof(examples[0]); e++) {
		for (size_t a = 0; a < sizeof(after) / sizeof(after[0]); a++) {
			for (size_t pad = 0; pad <= 70; pad += pad < 10 ? 1 : 20) {
				int n = snprintf(buf, sizeof(buf), "%s%s%*s", examples[e].s, after[a],
						 (int)pad, "");
				if (n > 0 && (size_t)n < sizeof(buf))
					differential((const uint8_t *)buf, (size_t)n, &cmp);
			}
		}
	}
	fprintf(stderr, "integers and padding: %zu comparisons, %zu digit fields masked\n", cmp,
		masked);
	assert_true(masked >= 100); /* the generator reaches real cards and routing numbers */
}

/*
 * Runs of fields (rg_masker_run_clear), as a protocol lays rows out: random fields, each
 * behind 0..11 framing bytes of any value (DataRow lengths can read as digits or letters),
 * checked from every field start in turn. Whatever the run check proves (fields ending 4
 * bytes or more before what it returns) is a field the masker passes over: its own check
 * (rg_masker_field_clear) says so, and the reference (every field SOM-scanned) changes
 * nothing in it. Fields holding instances are common, so the proofs stop often, at every
 * kind of position relative to the 64-byte blocks.
 */
static size_t gen_run(uint8_t *run, size_t cap, size_t *fa, size_t *fe, size_t *nfp)
{
	static char fb[FCAP];
	size_t nf = 0, n = 0;

	while (nf < 512) {
		size_t gap = rnd(12), len;
		if (n + gap + FCAP > cap)
			break;
		for (size_t i = 0; i < gap; i++)
			run[n++] = rnd(3) ? (uint8_t)rnd(256) : (uint8_t) "09AZaz-. :@+ey"[rnd(14)];
		len = gen_field(fb, rnd(4) ? 64 : FCAP);
		if (rnd(3) == 0) /* char(n) padding */
			for (size_t pad = rnd(40); pad-- && len < FCAP;)
				fb[len++] = ' ';
		memcpy(run + n, fb, len);
		fa[nf] = n;
		fe[nf++] = n + len;
		n += len;
	}
	*nfp = nf;
	return n;
}

static void check_runs(enum rg_mask_prefilter_impl impl, size_t *proved, size_t *stopped)
{
	static uint8_t run[16384];
	size_t fa[512], fe[512], nf, n = gen_run(run, sizeof(run), fa, fe, &nf);

	for (size_t k = 0; k < nf; k++) {
		size_t lim = rg_masker_run_clear(all_m, NULL, run, n, fa[k]);
		for (size_t i = k; i < nf; i++) {
			const uint8_t *f = run + fa[i];
			size_t len = fe[i] - fa[i];
			if (lim != SIZE_MAX && fe[i] + 4 > lim) {
				(*stopped)++;
				break;
			}
			(*proved)++;
			struct rg_mask_field mf = {f, (uint32_t)len, false};
			struct rg_mask_result r;
			assert_int_equal(rg_masker_row(all_ref, NULL, &mf, 1, &r), 0);
			if (!rg_masker_field_clear(all_m, NULL, f, len) || r.changed) {
				fprintf(stderr,
					"%s: run check from field %zu passes over field %zu:\n",
					impl_name[impl], k, i);
				show("field", f, len);
				fail();
			}
		}
	}
}

/* Every implementation stops a run at the same block: the VBMI one looks at most blocks
 * with fewer classes and must come to the same offsets as the others. */
static void test_run_scans_agree(void **state)
{
	static uint8_t run[16384];
	size_t fa[512], fe[512], nf, compared = 0;

	(void)state;
	for (int rep = 0; rep < 40; rep++) {
		size_t n = gen_run(run, sizeof(run), fa, fe, &nf);
		for (size_t k = 0; k < nf; k += 3) {
			size_t want = SIZE_MAX;
			for (size_t i = 0; i < NIMPL; i++) {
				if (rg_mask_prefilter_use(impls[i]) != 0)
					continue;
				size_t got = rg_masker_run_clear(all_m, NULL, run, n, fa[k]);
				if (i == 0) /* scalar: always there */
					want = got;
				if (got != want) {
					fprintf(stderr, "%s stops at %zu, %s at %zu (from %zu)\n",
						impl_name[impls[i]], got, impl_name[impls[0]], want,
						fa[k]);
					fail();
				}
				compared++;
			}
		}
	}
	assert_true(compared > 1000);
	assert_int_equal(rg_mask_prefilter_use(RG_MASK_PF_AUTO), 0);
}

static void test_runs_of_fields_lose_no_true_positive(void **state)
{
	(void)state;
	for (size_t k = 0; k < NIMPL; k++) {
		size_t proved = 0, stopped = 0;
		if (rg_mask_prefilter_use(impls[k]) != 0)
			continue;
		for (int rep = 0; rep < 40; rep++)
			check_runs(impls[k], &proved, &stopped);
		fprintf(stderr, "run check %s: %zu fields proved, %zu stops\n", impl_name[impls[k]],
			proved, stopped);
		assert_true(proved > 1000 && stopped > 100);
	}
	/* off: nothing is proved */
	rg_masker_set_prefilter(all_m, false);
	assert_int_equal(rg_masker_run_clear(all_m, NULL, (const uint8_t *)"plain", 5, 0), 0);
	rg_masker_set_prefilter(all_m, true);
	assert_int_equal(rg_mask_prefilter_use(RG_MASK_PF_AUTO), 0);
}

/*
 * The run check skips the conditions in blocks with no anchor near them (mask.c, anchors()):
 * runs of rows that hold nothing (short integers, char(n) padding, framing bytes below
 * 0x10), with one field holding a known instance placed at every offset across two 64-byte
 * blocks and at every row of the run. The run check must stop at or before that field
 * under every implementation; the same run without it is proved whole.
 */
static size_t plain_rows(uint8_t *run, size_t n, size_t cap, unsigned rows)
{
	for (unsigned r = 0; r < rows && n + 64 < cap; r++) {
		unsigned digits = 1 + rnd(6), pad = rnd(40);
		run[n++] = (uint8_t)rnd(16); /* framing: never a class the conditions know */
		run[n++] = (uint8_t)rnd(16);
		for (unsigned i = 0; i < digits; i++)
			run[n++] = (uint8_t)('0' + rnd(10));
		run[n++] = (uint8_t)rnd(16);
		if (rnd(2))
			run[n++] = '-';
		run[n++] = (uint8_t)('1' + rnd(9));
		run[n++] = (uint8_t)rnd(16);
		for (unsigned i = 0; i < pad; i++)
			run[n++] = ' ';
	}
	return n;
}

static void test_runs_skip_plain_blocks_and_keep_instances(void **state)
{
	static uint8_t run[4096];
	size_t checked = 0;

	(void)state;
	for (size_t k = 0; k < NIMPL; k++) {
		if (rg_mask_prefilter_use(impls[k]) != 0)
			continue;
		for (size_t e = 0; e < sizeof(examples) / sizeof(examples[0]); e++) {
			const struct ex *x = &examples[e];
			size_t len = strlen(x->s);
			for (size_t shift = 0; shift < 128; shift++) {
				size_t n = plain_rows(run, 0, sizeof(run), rnd(8));
				while (n % 128 != shift)
					run[n++] = ' ';
				size_t fa = n, fe;
				if (n + len + 1024 > sizeof(run))
					continue;
				run[n++] = (uint8_t)rnd(16); /* the field's length byte */
				fa = n;
				memcpy(run + n, x->s, len);
				n += len;
				fe = n;
				n = plain_rows(run, n, sizeof(run), rnd(8));
				if (!matches(all_ref, run + fa, fe - fa))
					continue; /* the instance needs what the field edge gives it */
				size_t lim = rg_masker_run_clear(all_m, NULL, run, n, 0);
				if (lim != SIZE_MAX && fe + 4 > lim) {
					checked++;
					continue;
				}
				fprintf(stderr, "%s: run check passes over %s at offset %zu\n",
					impl_name[impls[k]], rg_detector_name(x->d), fa);
				show("field", run + fa, fe - fa);
				fail();
			}
		}
		size_t n = plain_rows(run, 0, sizeof(run), 200);
		assert_int_equal(rg_masker_run_clear(all_m, NULL, run, n, 0), SIZE_MAX);
	}
	fprintf(stderr, "sparse runs: %zu instances stopped at\n", checked);
	assert_true(checked > 1000);
	assert_int_equal(rg_mask_prefilter_use(RG_MASK_PF_AUTO), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_implementations_agree_on_the_simple_cases),
	    cmocka_unit_test(test_every_known_instance_is_a_candidate),
	    cmocka_unit_test(test_random_rows_lose_no_true_positive),
	    cmocka_unit_test(test_run_scans_agree),
	    cmocka_unit_test(test_implementations_agree_on_adversarial_fields),
	    cmocka_unit_test(test_integers_and_padding_change_no_verdict),
	    cmocka_unit_test(test_runs_of_fields_lose_no_true_positive),
	    cmocka_unit_test(test_runs_skip_plain_blocks_and_keep_instances),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
