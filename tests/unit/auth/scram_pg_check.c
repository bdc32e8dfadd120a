/*
 * SCRAM-SHA-256 (and md5) against a real PostgreSQL that someone else started: speaks just
 * enough of the v3 wire protocol (startup, SASL, md5, AuthenticationOk) over TCP to log in
 * with rg_auth's client and to check that a wrong password is refused. Starts nothing;
 * skips (77) unless RG_TEST_PG_HOST, RG_TEST_PG_PORT, RG_TEST_PG_USER and
 * RG_TEST_PG_PASSWORD are set (RG_TEST_PG_DB defaults to the user).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth.h"

static const char *host, *port, *user, *password, *db;

static int dial(void)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	int fd;

	assert_int_equal(getaddrinfo(host, port, &hints, &ai), 0);
	fd = socket(ai->ai_family, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, ai->ai_addr, ai->ai_addrlen), 0);
	freeaddrinfo(ai);
	return fd;
}

static void put32(uint8_t *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
}

static void send_all(int fd, const void *p, size_t n)
{
	assert_int_equal(write(fd, p, n), (ssize_t)n);
}

static void read_all(int fd, void *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, (uint8_t *)p + got, n - got);

		assert_true(r > 0);
		got += (size_t)r;
	}
}

/* Read one backend message; returns its type, body in buf (NUL-terminated), length in *n. */
static char recv_msg(int fd, uint8_t *buf, size_t cap, size_t *n)
{
	uint8_t h[5];
	uint32_t len;

	read_all(fd, h, 5);
	memcpy(&len, h + 1, 4);
	len = ntohl(len) - 4;
	assert_true(len < cap);
	read_all(fd, buf, len);
	buf[len] = 0;
	*n = len;
	return (char)h[0];
}

/* 'p' message; if mech, a SASLInitialResponse. */
static void send_p(int fd, const char *mech, const void *data, size_t n)
{
	uint8_t m[1024];
	size_t o = 5;

	m[0] = 'p';
	if (mech) {
		memcpy(m + o, mech, strlen(mech) + 1);
		o += strlen(mech) + 1;
		put32(m + o, (uint32_t)n);
		o += 4;
	}
	memcpy(m + o, data, n);
	o += n;
	put32(m + 1, (uint32_t)(o - 1));
	send_all(fd, m, o);
}

/* Log in; returns 0 on AuthenticationOk, 1 on ErrorResponse. */
static int login(const char *pw)
{
	uint8_t m[1024], buf[4096];
	size_t o = 8, n;
	uint32_t code;
	char out[512];
	size_t outlen;
	struct rg_auth_scram s;
	int fd = dial(), ret = -1;
	char t;

	put32(m + 4, 196608);
	o += (size_t)sprintf((char *)m + o, "user%c%s%cdatabase%c%s%c", 0, user, 0, 0, db, 0) + 0;
	m[o++] = 0;
	put32(m, (uint32_t)o);
	send_all(fd, m, o);
	memset(&s, 0, sizeof(s));
	for (;;) {
		t = recv_msg(fd, buf, sizeof(buf), &n);
		if (t == 'E') {
			ret = 1;
			break;
		}
		assert_int_equal(t, 'R');
		memcpy(&code, buf, 4);
		code = ntohl(code);
		if (code == 0) {
			ret = 0;
			break;
		} else if (code == 10) {	/* SASL: mechanisms */
			assert_int_equal(rg_auth_scram_init(&s, "", pw, strlen(pw), NULL), 0);
			assert_int_equal(rg_auth_scram_client_first(&s, out, sizeof(out), &outlen), 0);
			send_p(fd, "SCRAM-SHA-256", out, outlen);
		} else if (code == 11) {	/* SASLContinue: server-first */
			assert_int_equal(rg_auth_scram_client_final(&s, (char *)buf + 4, n - 4, out,
								    sizeof(out), &outlen),
					 0);
			send_p(fd, NULL, out, outlen);
		} else if (code == 12) {	/* SASLFinal: server-final */
			assert_int_equal(rg_auth_scram_verify_server_final(&s, (char *)buf + 4,
									   n - 4),
					 RG_AUTH_SCRAM_OK);
		} else if (code == 5) {	/* md5 with 4-byte salt */
			char r[RG_AUTH_MD5_RESPONSE_LEN];

			assert_int_equal(rg_auth_md5_response(user, pw, strlen(pw), buf + 4, r), 0);
			send_p(fd, NULL, r, sizeof(r));
		} else {
			fail_msg("unexpected auth request %u", code);
		}
	}
	rg_auth_scram_clear(&s);
	close(fd);
	return ret;
}

static void test_login_to_real_postgres_with_scram_or_md5(void **state)
{
	(void)state;
	assert_int_equal(login(password), 0);
}

static void test_wrong_password_is_refused_by_real_postgres(void **state)
{
	(void)state;
	assert_int_equal(login("definitely-not-the-password"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_login_to_real_postgres_with_scram_or_md5),
		cmocka_unit_test(test_wrong_password_is_refused_by_real_postgres),
	};

	host = getenv("RG_TEST_PG_HOST");
	port = getenv("RG_TEST_PG_PORT");
	user = getenv("RG_TEST_PG_USER");
	password = getenv("RG_TEST_PG_PASSWORD");
	db = getenv("RG_TEST_PG_DB");
	if (!host || !port || !user || !password) {
		fprintf(stderr, "skip: set RG_TEST_PG_HOST/PORT/USER/PASSWORD to run against a "
				"real PostgreSQL\n");
		return 77;
	}
	if (!db)
		db = user;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
