/*
 * fuzz_audit: the audit trail (engine/evidence) two ways. The input as a segment file: the
 * verifier reads hostile bytes from disk and must give a verdict without crashing. The input
 * as payloads (split at 0xff bytes): written through the writer into a fresh trail, which
 * must then verify as intact and sealed and read back the same payloads in order. And the
 * input as a session event (two bytes of type, then the items) through the writer's
 * formatter, both literal policies: it yields nothing or one JSON object, never a crash.
 */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evidence.h"

static char base[64], raw[96], trail[96], key[96], pub[96];

static void cleanup(void)
{
	char cmd[100];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	if (system(cmd)) {
		/* nothing else to do at exit */
	}
}

static void once(void)
{
	EVP_PKEY *k;
	FILE *f;

	if (base[0])
		return;
	snprintf(base, sizeof(base), "/tmp/rg-fuzz-audit-XXXXXX");
	if (!mkdtemp(base))
		abort();
	snprintf(raw, sizeof(raw), "%s/raw", base);
	snprintf(trail, sizeof(trail), "%s/trail", base);
	snprintf(key, sizeof(key), "%s/k.pem", base);
	snprintf(pub, sizeof(pub), "%s/k.pub", base);
	k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (!k || !(f = fopen(key, "w")) || PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) != 1)
		abort();
	fclose(f);
	if (!(f = fopen(pub, "w")) || PEM_write_PUBKEY(f, k) != 1)
		abort();
	fclose(f);
	EVP_PKEY_free(k);
	if (mkdir(raw, 0700))
		abort();
	atexit(cleanup);
}

struct back {
	const uint8_t *data;
	size_t size, off;
	int n;
	bool same;
};

static bool each(void *arg, uint64_t seq, int64_t t, const char *p, size_t len)
{
	struct back *b = arg;
	size_t end = b->off;

	(void)seq;
	(void)t;
	while (end < b->size && b->data[end] != 0xff)
		end++;
	b->same &= end - b->off == len && !memcmp(b->data + b->off, p, len);
	b->off = end + 1;
	b->n++;
	return true;
}

/* Whether the items hold ready-made JSON (RG_EVI_JSON): copied as the worker built it, so
 * only records without one are held to producing valid JSON here. */
static bool has_json_item(const uint8_t *b, size_t len)
{
	size_t i = 0;

	while (i + 2 <= len) {
		uint8_t kind = b[i + 1];
		uint32_t l;

		i += 2;
		if (kind == RG_EVI_INT) {
			i += 8;
			continue;
		}
		if (kind == RG_EVI_BOOL) {
			i += 1;
			continue;
		}
		if (i + 4 > len)
			return false;
		memcpy(&l, b + i, 4);
		if (kind == RG_EVI_JSON)
			return true;
		if (l > len - i - 4)
			return false;
		i += 4 + l;
	}
	return false;
}

static void check_event_format(const uint8_t *data, size_t size)
{
	static struct rg_ev_fmt *fmt[2];

	if (size < 2 || has_json_item(data + 2, size - 2))
		return;
	for (int k = 0; k < 2; k++) {
		struct rg_audit_buf out = {0};
		json_t *j;

		if (!fmt[k] && !(fmt[k] = rg_ev_fmt_new(k)))
			abort();
		rg_ev_format(fmt[k], (uint16_t)(data[0] | data[1] << 8), 0, data + 2, size - 2, &out);
		if (out.len && !out.oom) {
			if (!(j = json_loadb(out.p, out.len, JSON_ALLOW_NUL, NULL)) || !json_is_object(j))
				abort();
			json_decref(j);
		}
		free(out.p);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rg_audit_report r;
	struct rg_audit_opts o = {.dir = trail, .key_file = key, .segment_bytes = 512};
	struct rg_audit *a;
	struct back b = {.data = data, .size = size, .same = true};
	char path[160], err[600], cmd[200];
	int n = 0;
	FILE *f;

	once();
	check_event_format(data, size);
	snprintf(path, sizeof(path), "%s/audit-%016llu.seg", raw, 1ULL);
	if (!(f = fopen(path, "wb")) || fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);
	if (rg_audit_verify(raw, pub, &r) || r.verdict > RG_AUDIT_UNREADABLE)
		abort();

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", trail);
	if (system(cmd))
		abort();
	if (rg_audit_open(&o, &a, err, sizeof(err)))
		abort();
	for (size_t off = 0, end; off <= size && n < 64; off = end + 1, n++) {
		for (end = off; end < size && data[end] != 0xff; end++)
			;
		if (rg_audit_append(a, RG_AUDIT_EVENT, data + off, end - off) != 0)
			abort();
	}
	rg_audit_close(a);
	if (rg_audit_verify(trail, pub, &r) || r.verdict != RG_AUDIT_OK || r.records != (uint64_t)n)
		abort();
	if (rg_audit_each(trail, each, &b) || b.n != n || !b.same)
		abort();
	return 0;
}
