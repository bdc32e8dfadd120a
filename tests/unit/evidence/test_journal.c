/*
 * Unit tests for the audit journals (engine/evidence/journal.c): records a producer thread
 * commits reach the trail exactly once, formatted, in order, wrapping around a small ring
 * many times with the producer waiting on a full ring (back-pressure, no loss); a child
 * process killed with SIGKILL while producing loses no committed record and duplicates none
 * once the next start has drained its journal; journals of an earlier run with more
 * producers are drained and removed; a formatter that writes nothing still leaves one record.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <pthread.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "evidence.h"

struct fx {
	char dir[64], trail[96], key[96], pub[96], jdir[96];
};

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	FILE *f;

	snprintf(x->dir, sizeof(x->dir), "/tmp/rg-journal-XXXXXX");
	assert_non_null(mkdtemp(x->dir));
	snprintf(x->trail, sizeof(x->trail), "%s/audit", x->dir);
	snprintf(x->jdir, sizeof(x->jdir), "%s/j", x->dir);
	assert_int_equal(mkdir(x->jdir, 0700), 0);
	snprintf(x->key, sizeof(x->key), "%s/k.pem", x->dir);
	snprintf(x->pub, sizeof(x->pub), "%s/k.pub", x->dir);
	assert_non_null(k);
	assert_non_null(f = fopen(x->key, "w"));
	assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
	assert_non_null(f = fopen(x->pub, "w"));
	assert_int_equal(PEM_write_PUBKEY(f, k), 1);
	fclose(f);
	EVP_PKEY_free(k);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;
	char cmd[200];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", x->dir);
	assert_int_equal(system(cmd), 0);
	free(x);
	return 0;
}

/* body: u32 producer, u32 index, then filler */
static void fmt(void *arg, uint16_t type, int64_t t, const uint8_t *body, size_t len,
		struct rg_audit_buf *out)
{
	uint32_t who, i;

	(void)arg;
	(void)t;
	if (type != 7 || len < 8)
		return; /* the writer then records "unformattable" */
	memcpy(&who, body, 4);
	memcpy(&i, body + 4, 4);
	rg_audit_buf_printf(out, "{\"event\":\"t\",\"w\":%u,\"i\":%u,\"s\":", who, i);
	rg_audit_buf_json(out, body + 8, len - 8);
	rg_audit_buf_str(out, "}");
}

static struct rg_audit *open_with(struct fx *x, unsigned producers, size_t bytes)
{
	struct rg_audit_opts o = {.dir = x->trail, .key_file = x->key};
	struct rg_audit_jr_opts jo = {.count = producers, .dir = x->jdir, .bytes = bytes,
				      .fmt = fmt};
	struct rg_audit *a = NULL;
	char err[600];

	if (rg_audit_open(&o, &a, err, sizeof(err)) ||
	    rg_audit_journals(a, &jo, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		fail();
	}
	return a;
}

static void produce(struct rg_audit_jr *j, uint32_t who, uint32_t from, uint32_t n)
{
	char pad[200];

	memset(pad, 'x', sizeof(pad));
	for (uint32_t i = from; i < from + n; i++) {
		uint32_t len = 8 + (i * 37) % 180; /* varied sizes: the ring wraps at odd places */
		uint8_t *p = rg_audit_jr_begin(j, 7, len);

		assert_non_null(p);
		memcpy(p, &who, 4);
		memcpy(p + 4, &i, 4);
		memcpy(p + 8, pad, len - 8);
		rg_audit_jr_commit(j);
	}
}

struct tally {
	uint32_t next[4];
	int n, bad, unformattable;
};

static bool count(void *arg, uint64_t seq, int64_t t, const char *p, size_t len)
{
	struct tally *y = arg;
	unsigned w, i;
	char b[128];

	(void)seq;
	(void)t;
	snprintf(b, sizeof(b), "%.*s", (int)(len < sizeof(b) ? len : sizeof(b) - 1), p);
	p = b; /* payloads are not NUL-terminated */
	if (strstr(p, "unformattable")) {
		y->unformattable++;
		return true;
	}
	if (sscanf(p, "{\"event\":\"t\",\"w\":%u,\"i\":%u", &w, &i) != 2)
		return true; /* not one of ours */
	if (w >= 4 || i != y->next[w])
		y->bad++;
	else
		y->next[w]++;
	y->n++;
	return true;
}

struct prod {
	struct rg_audit_jr *j;
	uint32_t who, n;
};

static void *prod_main(void *arg)
{
	struct prod *p = arg;

	produce(p->j, p->who, 0, p->n);
	return NULL;
}

static void test_records_reach_the_trail_once_in_order(void **state)
{
	struct fx *x = *state;
	struct rg_audit *a = open_with(x, 2, 16384); /* 16 KiB rings: wrapped many times */
	struct prod p[2] = {{rg_audit_journal(a, 0), 0, 20000}, {rg_audit_journal(a, 1), 1, 15000}};
	pthread_t t[2];
	struct rg_audit_report r;
	struct tally y = {0};
	uint8_t *u;

	assert_null(rg_audit_journal(a, 2));
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, prod_main, &p[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	/* a record the formatter declines still leaves one record */
	assert_non_null(u = rg_audit_jr_begin(p[0].j, 99, 3));
	memcpy(u, "abc", 3);
	rg_audit_jr_commit(p[0].j);
	assert_int_equal(rg_audit_flush(a), 0);
	assert_int_equal(rg_audit_jr_lost(p[0].j), 0);
	assert_true(rg_audit_jr_waits(p[0].j) > 0); /* the ring was full: the producer waited */
	/* too large for the ring: refused, never half written */
	assert_null(rg_audit_jr_begin(p[1].j, 7, 16384));
	rg_audit_close(a);
	assert_int_equal(rg_audit_verify(x->trail, x->pub, &r), 0);
	assert_int_equal(r.verdict, RG_AUDIT_OK);
	assert_int_equal(r.records, 35001);
	assert_int_equal(rg_audit_each(x->trail, count, &y), 0);
	assert_int_equal(y.bad, 0);
	assert_int_equal(y.next[0], 20000);
	assert_int_equal(y.next[1], 15000);
	assert_int_equal(y.unformattable, 1);
}

/* A child produces as fast as it can and is killed with SIGKILL; what it committed (the
 * count it published after each commit) must be in the trail after the next start, once. */
static void test_kill_9_loses_no_committed_record(void **state)
{
	struct fx *x = *state;
	_Atomic uint32_t *committed = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
					   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct tally y = {0};
	struct rg_audit_report r;
	struct rg_audit *a;
	pid_t pid;
	int st;

	assert_true(committed != MAP_FAILED);
	for (int round = 0; round < 3; round++) {
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			struct rg_audit *c = open_with(x, 1, 65536);
			struct rg_audit_jr *j = rg_audit_journal(c, 0);

			for (uint32_t i = *committed;; i++) {
				produce(j, 0, i, 1);
				*committed = i + 1;
			}
		}
		/* let it run: records in the ring, in the writer's hands and on disk */
		for (uint32_t before = *committed; *committed < before + 3000;)
			usleep(1000);
		usleep(2000 * (unsigned)(round + 1));
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		assert_true(WIFSIGNALED(st));
	}
	a = open_with(x, 1, 65536); /* recovers and drains */
	assert_int_equal(rg_audit_flush(a), 0);
	rg_audit_close(a);
	assert_int_equal(rg_audit_verify(x->trail, x->pub, &r), 0);
	assert_int_equal(r.verdict, RG_AUDIT_OK);
	assert_int_equal(rg_audit_each(x->trail, count, &y), 0);
	assert_int_equal(y.bad, 0); /* none twice, none missing in between */
	assert_true(y.next[0] >= *committed);
	munmap((void *)committed, 4096);
}

static void test_stale_journals_are_drained_and_removed(void **state)
{
	struct fx *x = *state;
	struct tally y = {0};
	struct rg_audit *a;
	char cmd[300];
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (pid == 0) { /* a run with 3 workers dies right after producing on the third */
		a = open_with(x, 3, 65536);
		produce(rg_audit_journal(a, 2), 2, 0, 10);
		raise(SIGKILL);
	}
	waitpid(pid, &st, 0);
	assert_true(WIFSIGNALED(st));
	a = open_with(x, 1, 65536); /* this run has one */
	assert_int_equal(rg_audit_flush(a), 0);
	rg_audit_close(a);
	snprintf(cmd, sizeof(cmd), "test $(ls %s | wc -l) -eq 1", x->jdir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(rg_audit_each(x->trail, count, &y), 0);
	assert_int_equal(y.bad, 0);
	assert_int_equal(y.next[2], 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T_(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	    T_(test_records_reach_the_trail_once_in_order),
	    T_(test_kill_9_loses_no_committed_record),
	    T_(test_stale_journals_are_drained_and_removed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
