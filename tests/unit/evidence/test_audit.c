/*
 * Unit tests for the audit trail (engine/evidence): records written by several threads come
 * back whole and in order, across segments and reopenings, with a bounded queue (waits,
 * never drops); verification passes on an untouched trail and names the first bad record
 * after each kind of tampering: an edited byte, an edit with a recomputed checksum, a deleted
 * record, two records swapped, a segment truncated in the middle of the trail, the tail cut
 * (unsealed), a segment replaced by one from another trail, the wrong public key.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include <cmocka.h>

#include "evidence.h"

struct fx {
	char dir[64], trail[96], key[96], pub[96], key2[96], pub2[96];
};

static void keypair(const char *priv, const char *pub)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	FILE *f;

	assert_non_null(k);
	f = fopen(priv, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
	f = fopen(pub, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_PUBKEY(f, k), 1);
	fclose(f);
	EVP_PKEY_free(k);
}

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));

	snprintf(x->dir, sizeof(x->dir), "/tmp/rg-audit-XXXXXX");
	assert_non_null(mkdtemp(x->dir));
	snprintf(x->trail, sizeof(x->trail), "%s/audit", x->dir);
	snprintf(x->key, sizeof(x->key), "%s/k.pem", x->dir);
	snprintf(x->pub, sizeof(x->pub), "%s/k.pub", x->dir);
	snprintf(x->key2, sizeof(x->key2), "%s/k2.pem", x->dir);
	snprintf(x->pub2, sizeof(x->pub2), "%s/k2.pub", x->dir);
	keypair(x->key, x->pub);
	keypair(x->key2, x->pub2);
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

static struct rg_audit *open_trail(const char *dir, const char *key, uint64_t seg_bytes,
				   size_t queue_bytes)
{
	struct rg_audit_opts o = {.dir = dir, .key_file = key, .segment_bytes = seg_bytes,
				  .queue_bytes = queue_bytes, .checkpoint_records = 50};
	struct rg_audit *a = NULL;
	char err[600];
	int r = rg_audit_open(&o, &a, err, sizeof(err));

	if (r)
		fprintf(stderr, "rg_audit_open: %s\n", err);
	assert_int_equal(r, 0);
	return a;
}

static void write_n(struct rg_audit *a, int from, int n)
{
	char p[64];

	for (int i = from; i < from + n; i++) {
		int len = snprintf(p, sizeof(p), "{\"event\":\"stmt\",\"i\":%d}", i);

		assert_int_equal(rg_audit_append(a, RG_AUDIT_EVENT, p, (size_t)len), 0);
	}
}

struct seen {
	int n, last;
	bool ordered;
};

static bool each_cb(void *arg, uint64_t seq, int64_t t, const char *p, size_t len)
{
	struct seen *s = arg;
	int i;

	(void)seq;
	(void)t;
	(void)len;
	if (sscanf(p, "{\"event\":\"stmt\",\"i\":%d}", &i) == 1) {
		s->ordered &= i == s->last + 1;
		s->last = i;
	}
	s->n++;
	return true;
}

static void verify(struct fx *x, const char *pub, struct rg_audit_report *r)
{
	assert_int_equal(rg_audit_verify(x->trail, pub, r), 0);
	if (r->verdict != RG_AUDIT_OK)
		fprintf(stderr, "verify: %d %s at %s:%llu (seq %llu)\n", r->verdict, r->why, r->file,
			(unsigned long long)r->offset, (unsigned long long)r->seq);
}

static void test_round_trip_segments_and_reopen(void **state)
{
	struct fx *x = *state;
	struct rg_audit_report r;
	struct seen s = {.last = -1, .ordered = true};
	struct rg_audit *a = open_trail(x->trail, x->key, 2048, 0);

	for (int i = 0; i < 200; i += 10) { /* segments turn over between the writer's batches */
		write_n(a, i, 10);
		assert_int_equal(rg_audit_flush(a), 0);
	}
	assert_int_equal(rg_audit_written(a), 200);
	rg_audit_close(a);
	verify(x, x->pub, &r);
	assert_int_equal(r.verdict, RG_AUDIT_OK);
	assert_int_equal(r.records, 200);
	assert_true(r.segments > 3); /* 2 KiB segments */
	a = open_trail(x->trail, x->key, 2048, 0);
	write_n(a, 200, 10);
	rg_audit_close(a);
	verify(x, x->pub, &r);
	assert_int_equal(r.verdict, RG_AUDIT_OK);
	assert_int_equal(r.records, 210);
	assert_int_equal(rg_audit_each(x->trail, each_cb, &s), 0);
	assert_int_equal(s.n, 210);
	assert_true(s.ordered);
	/* the wrong key: the first checkpoint does not verify */
	verify(x, x->pub2, &r);
	assert_int_equal(r.verdict, RG_AUDIT_BROKEN);
	assert_non_null(strstr(r.why, "signature"));
}

struct writer_arg {
	struct rg_audit *a;
	int from;
};

static void *writer(void *arg)
{
	struct writer_arg *w = arg;

	write_n(w->a, w->from, 500);
	return NULL;
}

static void test_bounded_queue_waits_never_drops(void **state)
{
	struct fx *x = *state;
	struct rg_audit_report r;
	struct rg_audit *a = open_trail(x->trail, x->key, 0, 256); /* a few records queued */
	struct writer_arg w1 = {a, 0}, w2 = {a, 1000};
	pthread_t t1, t2;

	pthread_create(&t1, NULL, writer, &w1);
	pthread_create(&t2, NULL, writer, &w2);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	rg_audit_close(a);
	verify(x, x->pub, &r);
	assert_int_equal(r.verdict, RG_AUDIT_OK);
	assert_int_equal(r.records, 1000);
}

/* The trail's single segment file (one open, 60 records, close), its path in out. */
static void one_segment(struct fx *x, char *out, size_t n)
{
	struct rg_audit *a = open_trail(x->trail, x->key, 0, 0);

	write_n(a, 0, 60);
	rg_audit_close(a);
	snprintf(out, n, "%s/audit-%016llu.seg", x->trail, 1ULL);
}

static uint8_t *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b;
	long sz;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	sz = ftell(f);
	fseek(f, 0, SEEK_SET);
	b = malloc((size_t)sz);
	assert_int_equal(fread(b, 1, (size_t)sz, f), (size_t)sz);
	fclose(f);
	*n = (size_t)sz;
	return b;
}

static void spit(const char *path, const uint8_t *b, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(b, 1, n, f), n);
	fclose(f);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Offset of record k (0: the opening checkpoint) in a segment. */
static size_t rec_off(const uint8_t *b, int k)
{
	size_t off = 64;

	while (k-- > 0)
		off += rd32(b + off);
	return off;
}

static void test_edits_are_found(void **state)
{
	struct fx *x = *state;
	struct rg_audit_report r;
	char path[200];
	uint8_t *b, *orig;
	size_t n, off;

	one_segment(x, path, sizeof(path));
	orig = slurp(path, &n);
	b = malloc(n);

	/* one byte of record 5's payload */
	memcpy(b, orig, n);
	off = rec_off(b, 5);
	b[off + 30] ^= 1;
	spit(path, b, n);
	verify(x, x->pub, &r);
	assert_int_equal(r.verdict, RG_AUDIT_BROKEN);
	assert_int_equal(r.offset, off);
	assert_non_null(strstr(r.why, "checksum"));

	/* the same edit with its checksum recomputed: the chain breaks */
	{
		uint32_t len = rd32(b + off + 24);
		uint64_t h = XXH3_64bits(b + off, 28 + len);

		for (int i = 0; i < 8; i++)
			b[off + 28 + len + i] = (uint8_t)(h >> (8 * i));
	}
	spit(path, b, n);
	verify(x, x->pub, &r);
	assert_int_equal(r.verdict, RG_AUDIT_BROKEN);
	assert_non_null(strstr(r.why, "chain"));

	/* record 7 deleted */
	memcpy(b, orig, n);
	off = rec_off(b, 7);
	{
		size_t len = rd32(b + off);

		memmove(b + off, b + off + len, n - off - len);
		spit(path, b, n - len);
	}
	verify(x, x->pub, &r);
	assert_int_equal(r.verdict, RG_AUDIT_BROKEN);
	assert_int_equal(r.offset, off);
	assert_non_null(strstr(r.why, "deleted"));

	/* records 3 and 4 swapped (same length) */
	memcpy(b, orig, n);
	{
		size_t o3 = rec_off(b, 3), l3 = rd32(b + o3), o4 = o3 + l3, l4 = rd32(b + o4);
		uint8_t tmp[512];

		assert_int_equal(l3, l4);
		memcpy(tmp, b + o3, l3);
		memcpy(b + o3, b + o4, l4);
		memcpy(b + o4, tmp, l3);
		spit(path, b, n);
		verify(x, x->pub, &r);
		assert_int_equal(r.verdict, RG_AUDIT_BROKEN);
		assert_int_equal(r.offset, o3);
	}

	/* the tail cut after record 20: what follows the last checkpoint is unsealed */
	memcpy(b, orig, n);
	spit(path, b, rec_off(b, 21));
	verify(x, x->pub, &r);
	assert_int_equal(r.verdict, RG_AUDIT_UNSEALED);
	assert_int_equal(r.unsealed, 20);
	/* ... and in the middle of a record: a torn tail, named */
	spit(path, b, rec_off(b, 21) + 10);
	verify(x, x->pub, &r);
	assert_int_equal(r.verdict, RG_AUDIT_UNSEALED);
	assert_non_null(strstr(r.why, "torn tail"));

	spit(path, orig, n);
	verify(x, x->pub, &r);
	assert_int_equal(r.verdict, RG_AUDIT_OK);
	free(b);
	free(orig);
}

static void test_segments_truncated_or_replaced(void **state)
{
	struct fx *x = *state;
	struct rg_audit_report r;
	char p1[200], other[120], cmd[400];
	struct rg_audit *a;
	uint8_t *b;
	size_t n;

	/* three segments: open/close three times */
	for (int i = 0; i < 3; i++) {
		a = open_trail(x->trail, x->key, 0, 0);
		write_n(a, i * 10, 10);
		rg_audit_close(a);
	}
	verify(x, x->pub, &r);
	assert_int_equal(r.verdict, RG_AUDIT_OK);
	assert_int_equal(r.segments, 3);
	snprintf(p1, sizeof(p1), "%s/audit-%016llu.seg", x->trail, 1ULL);
	b = slurp(p1, &n);

	/* segment 1 truncated (its checkpoint and last record gone) */
	spit(p1, b, n - 150);
	verify(x, x->pub, &r);
	assert_int_equal(r.verdict, RG_AUDIT_BROKEN);

	/* segment 1 replaced by another trail's segment 1 (another key, other records) */
	snprintf(other, sizeof(other), "%s/other", x->dir);
	a = open_trail(other, x->key2, 0, 0);
	write_n(a, 0, 10);
	rg_audit_close(a);
	snprintf(cmd, sizeof(cmd), "cp %s/audit-%016llu.seg %s", other, 1ULL, p1);
	assert_int_equal(system(cmd), 0);
	verify(x, x->pub, &r);
	assert_int_equal(r.verdict, RG_AUDIT_BROKEN);

	/* segment 2 deleted */
	spit(p1, b, n);
	snprintf(cmd, sizeof(cmd), "rm %s/audit-%016llu.seg", x->trail, 2ULL);
	assert_int_equal(system(cmd), 0);
	verify(x, x->pub, &r);
	assert_int_equal(r.verdict, RG_AUDIT_BROKEN);
	assert_non_null(strstr(r.why, "missing"));
	free(b);
}

static void test_a_broken_trail_is_not_appended_to(void **state)
{
	struct fx *x = *state;
	struct rg_audit_opts o = {.dir = x->trail, .key_file = x->key};
	struct rg_audit *a;
	char path[200], err[600];
	uint8_t *b;
	size_t n;

	one_segment(x, path, sizeof(path));
	b = slurp(path, &n);
	b[rec_off(b, 2) + 30] ^= 1;
	spit(path, b, n);
	assert_int_equal(rg_audit_open(&o, &a, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "does not verify"));
	free(b);
}

/* Retention: old sealed segments go after a record that names them; the trail still
 * verifies and reopens; removing the first remaining segment by hand is caught. */
static void test_retention_removes_and_says_so(void **state)
{
	struct fx *x = *state;
	struct rg_audit_report r;
	struct seen s = {.last = -1, .ordered = true};
	struct rg_audit *a = open_trail(x->trail, x->key, 2048, 0);
	struct rg_audit_opts o = {.dir = x->trail, .key_file = x->key, .segment_bytes = 2048,
				  .checkpoint_records = 50, .retention_ms = 3600 * 1000,
				  .retention_check_ms = 20};
	char path[300], err[600];
	int removed = 0;

	for (int i = 0; i < 100; i += 10) {
		write_n(a, i, 10);
		assert_int_equal(rg_audit_flush(a), 0);
	}
	rg_audit_close(a);
	/* every segment but the last two written two hours ago */
	for (int seg = 1; seg < 100; seg++) {
		struct timespec old[2] = {{.tv_sec = time(NULL) - 7200}, {.tv_sec = time(NULL) - 7200}};

		snprintf(path, sizeof(path), "%s/audit-%016d.seg", x->trail, seg);
		if (access(path, F_OK))
			break;
		snprintf(path, sizeof(path), "%s/audit-%016d.seg", x->trail, seg + 2);
		if (access(path, F_OK))
			break; /* keep the last two as they are */
		snprintf(path, sizeof(path), "%s/audit-%016d.seg", x->trail, seg);
		assert_int_equal(utimensat(AT_FDCWD, path, old, 0), 0);
		removed++;
	}
	assert_true(removed >= 2);
	assert_int_equal(rg_audit_open(&o, &a, err, sizeof(err)), 0);
	write_n(a, 100, 1);
	for (int i = 0; i < 200; i++) { /* the writer looks every 20 ms */
		snprintf(path, sizeof(path), "%s/audit-%016d.seg", x->trail, removed);
		if (access(path, F_OK))
			break;
		usleep(10000);
	}
	rg_audit_close(a);
	snprintf(path, sizeof(path), "%s/audit-%016d.seg", x->trail, 1);
	assert_int_not_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/audit-%016d.seg", x->trail, removed);
	assert_int_not_equal(access(path, F_OK), 0);
	verify(x, x->pub, &r);
	assert_int_equal(r.verdict, RG_AUDIT_OK);
	assert_int_equal(rg_audit_each(x->trail, each_cb, &s), 0);
	assert_int_equal(s.last, 100); /* the newest are all there */
	assert_true(s.n < 101);	       /* the oldest are gone */
	/* reopens after it, and a segment taken from the start by hand is found */
	a = open_trail(x->trail, x->key, 2048, 0);
	rg_audit_close(a);
	snprintf(path, sizeof(path), "%s/audit-%016d.seg", x->trail, removed + 1);
	assert_int_equal(unlink(path), 0);
	verify(x, x->pub, &r);
	assert_int_equal(r.verdict, RG_AUDIT_BROKEN);
	assert_non_null(strstr(r.why, "no retention record"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T_(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	    T_(test_round_trip_segments_and_reopen),
	    T_(test_bounded_queue_waits_never_drops),
	    T_(test_edits_are_found),
	    T_(test_segments_truncated_or_replaced),
	    T_(test_a_broken_trail_is_not_appended_to),
	    T_(test_retention_removes_and_says_so),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
