/*
 * mask: compiles detector actions into Hyperscan and masks result rows.
 *
 * Two stages per row. A cheap prefilter (a scalar pass for the digit-led detectors and a
 * small non-SOM Hyperscan database of pattern prefixes for the others, one hs_scan_vector
 * call per row over any fields array) marks the fields that may hold a match; a row with
 * no mark (the common case) is done. Each marked field alone is then scanned with the
 * SOM_LEFTMOST database from rg_mask_compile, so no match can cross a field boundary and
 * none is hidden by one that does (a DataRow's length bytes may be digits). Raw matches are
 * confirmed (boundaries + validator), merged, and only then is anything written.
 *
 * Merging: overlapping or touching confirmed spans in a field become one span; the action
 * with the lowest index among them decides its style, and a field whose span is decided
 * by a "null" action becomes NULL. Masked bytes: ASCII alphanumerics and every non-ASCII
 * byte become '*', other bytes (separators) stay, so spans keep their length and UTF-8
 * stays valid. Output lives in one growable buffer per masker: no allocation per row once
 * the buffers have grown to the largest row. A masker belongs to one thread.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "mask.h"

#define HMAC_HEX 16 /* hex characters of the digest kept by the hmac style */

struct span {
	uint32_t s, e; /* [s, e) in the field */
	uint32_t act;  /* index into acts */
};

struct sha256 {
	uint32_t h[8];
	uint64_t n; /* bytes hashed */
	uint8_t buf[64];
};

struct rg_masker {
	const hs_database_t *db; /* SOM, block mode, ids index acts; NULL: none */
	hs_database_t *pre;	 /* owned prefilter (no SOM, vectored); NULL: none */
	unsigned numeric;	 /* detectors prefiltered by numeric_candidate() */
	bool prefilter_ok;	 /* false: prefilter failed to build, scan every field */
	hs_scratch_t *scratch;	 /* large enough for both databases */
	const struct rg_mask_action *acts;
	size_t nacts;
	bool has_key;
	struct sha256 ipad, opad; /* HMAC key schedule, hashed once */

	/* per-row state, grown on demand and reused */
	size_t fcap;
	struct rg_mask_out_field *of;
	uint32_t *ooff;	    /* output offset of each changed field in buf */
	uint8_t *cand;	    /* field marked by the prefilter */
	const char **vdata; /* prefilter vector: eligible fields only */
	unsigned *vlen;
	uint32_t *vfield; /* field index of each vector block */
	uint64_t *vend;	  /* cumulative end offset of each vector block */
	size_t nv, vcur, nmarked;

	struct span *spans;
	size_t nspans, spcap;
	const uint8_t *enabled;
	const uint8_t *cur; /* field under the SOM scan */
	size_t curlen;
	int err;

	uint8_t *buf;
	size_t blen, bcap;
};

/* ---- SHA-256 (FIPS 180-4) and HMAC (RFC 2104), allocation-free for the hot path ---- */

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t ror(uint32_t x, int n)
{
	return (x >> n) | (x << (32 - n));
}

static void sha256_block(uint32_t h[8], const uint8_t *p)
{
	uint32_t w[64], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6],
			k = h[7];

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	for (int i = 0; i < 64; i++) {
		uint32_t t1 = k + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) +
			      K256[i] + w[i];
		uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
		k = g;
		g = f;
		f = e;
		e = d + t1;
		d = c;
		c = b;
		b = a;
		a = t1 + t2;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
	h[5] += f;
	h[6] += g;
	h[7] += k;
}

static void sha256_init(struct sha256 *s)
{
	static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
				       0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
	memcpy(s->h, iv, sizeof(iv));
	s->n = 0;
}

static void sha256_update(struct sha256 *s, const uint8_t *p, size_t n)
{
	size_t have = s->n % 64;

	s->n += n;
	if (have) {
		size_t take = 64 - have < n ? 64 - have : n;
		memcpy(s->buf + have, p, take);
		p += take;
		n -= take;
		if (have + take < 64)
			return;
		sha256_block(s->h, s->buf);
	}
	for (; n >= 64; p += 64, n -= 64)
		sha256_block(s->h, p);
	memcpy(s->buf, p, n);
}

static void sha256_final(struct sha256 *s, uint8_t out[32])
{
	uint64_t bits = s->n * 8;
	size_t have = s->n % 64;

	s->buf[have++] = 0x80;
	if (have > 56) {
		memset(s->buf + have, 0, 64 - have);
		sha256_block(s->h, s->buf);
		have = 0;
	}
	memset(s->buf + have, 0, 56 - have);
	for (int i = 0; i < 8; i++)
		s->buf[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
	sha256_block(s->h, s->buf);
	for (int i = 0; i < 8; i++) {
		out[4 * i] = (uint8_t)(s->h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
		out[4 * i + 3] = (uint8_t)s->h[i];
	}
}

static void hmac_setkey(struct rg_masker *m, const uint8_t *key, size_t keylen)
{
	uint8_t k[64] = {0}, pad[64];

	if (keylen > 64) {
		struct sha256 s;
		sha256_init(&s);
		sha256_update(&s, key, keylen);
		sha256_final(&s, k);
	} else {
		memcpy(k, key, keylen);
	}
	for (int i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x36;
	sha256_init(&m->ipad);
	sha256_update(&m->ipad, pad, 64);
	for (int i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x5c;
	sha256_init(&m->opad);
	sha256_update(&m->opad, pad, 64);
	memset(k, 0, sizeof(k));
	memset(pad, 0, sizeof(pad));
}

static void hmac(const struct rg_masker *m, const uint8_t *p, size_t n, uint8_t out[32])
{
	struct sha256 s = m->ipad;
	uint8_t inner[32];

	sha256_update(&s, p, n);
	sha256_final(&s, inner);
	s = m->opad;
	sha256_update(&s, inner, 32);
	sha256_final(&s, out);
}

/* ---- compile ---- */

int rg_mask_compile(const struct rg_mask_action *acts, size_t n, hs_database_t **db, char *err,
		    size_t errlen)
{
	const char **exprs = NULL;
	unsigned *flags = NULL, *ids = NULL, count = 0;
	hs_compile_error_t *cerr = NULL;
	int rc = 0;

	*db = NULL;
	if (errlen)
		err[0] = '\0';
	exprs = calloc(n + 1, sizeof(*exprs));
	flags = calloc(n + 1, sizeof(*flags));
	ids = calloc(n + 1, sizeof(*ids));
	if (!exprs || !flags || !ids) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const struct rg_mask_action *a = &acts[i];
		if ((unsigned)a->style >= RG_MASK__COUNT) {
			snprintf(err, errlen, "mask action %zu: unknown style %d", i,
				 (int)a->style);
			rc = -EINVAL;
			goto out;
		}
		if (a->detector == -1)
			continue;
		const struct rg_detector_def *d = rg_detector_get((enum rg_detector)a->detector);
		if (!d) {
			snprintf(err, errlen, "mask action %zu: unknown detector %d", i,
				 a->detector);
			rc = -EINVAL;
			goto out;
		}
		exprs[count] = d->pattern;
		flags[count] = d->hs_flags | HS_FLAG_SOM_LEFTMOST;
		ids[count] = (unsigned)i;
		count++;
	}
	if (count == 0)
		goto out;
	if (hs_compile_multi(exprs, flags, ids, count, HS_MODE_BLOCK, NULL, db, &cerr) !=
	    HS_SUCCESS) {
		int e = cerr ? cerr->expression : -1;
		snprintf(err, errlen, "mask action %u (%s): %s", e >= 0 ? ids[e] : 0,
			 e >= 0 ? rg_detector_name(acts[ids[e]].detector) : "?",
			 cerr ? cerr->message : "hyperscan compile failed");
		hs_free_compile_error(cerr);
		*db = NULL;
		rc = -EINVAL;
	}
out:
	free(exprs);
	free(flags);
	free(ids);
	return rc;
}

/*
 * The prefilter. Hyperscan is slow on patterns that begin with a character class when the
 * text is dense in that class (\\d{9} runs at ~200 MB/s over rows full of dates and ids),
 * so the digit-led detectors get a one-pass scalar test instead, and the others a
 * Hyperscan database of cheap patterns. Either only has to be implied by the detector's
 * real pattern in detect.c (a superset: it may mark a field that has no match, never miss
 * one); the SOM scan then decides. Keep these in step with detect.c.
 *
 * Scalar, per field (numeric_candidate), over digit runs joined by one separator:
 *   credit_card \d{13,19} | 4-4-4-1..4(-1..3) | 4-6-4..5 -> 9 contiguous digits, or three
 *               runs of >= 4 joined by single ' '/'-'
 *   aba_routing \d{9}                 -> 9 contiguous digits
 *   us_ssn      \d{3}-\d{2}-\d{4}     -> runs >= 3, == 2, >= 4 joined by single '-'
 *   iban        [A-Z]{2}\d{2}...      -> two capitals then two digits
 *   ipv4        \d{1,3}(\.\d{1,3}){3}  -> four runs joined by single '.'
 * Hyperscan (no SOM, vectored, ids are detectors), each a prefix of the real pattern:
 */
static const char *const prefilter_pattern[RG_DET__COUNT] = {
    [RG_DET_EMAIL] = "[A-Za-z0-9._%+\\-]@[A-Za-z0-9\\-]",
    [RG_DET_PHONE_E164] = "\\+\\d",
    [RG_DET_JWT] = "e[wy][A-Za-z0-9_\\-]{8}",
    [RG_DET_AWS_ACCESS_KEY] = "AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA",
    [RG_DET_PRIVATE_KEY] = "-----BEGIN ",
    /* compressed forms contain "::"; the full form starts with four "group:" */
    [RG_DET_IPV6] = "::|[0-9A-Fa-f]:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:",
};

#define NUMERIC_DETECTORS                                                                          \
	((1u << RG_DET_CREDIT_CARD) | (1u << RG_DET_US_SSN) | (1u << RG_DET_ABA_ROUTING) |         \
	 (1u << RG_DET_IBAN) | (1u << RG_DET_IPV4))

enum { C_OTHER, C_DIGIT, C_UPPER, C_SPACE, C_DASH, C_DOT };

static uint8_t cls[256];

static void cls_init(void)
{
	for (int c = '0'; c <= '9'; c++)
		cls[c] = C_DIGIT;
	for (int c = 'A'; c <= 'Z'; c++)
		cls[c] = C_UPPER;
	cls[' '] = C_SPACE;
	cls['-'] = C_DASH;
	cls['.'] = C_DOT;
}

/* No digit and no capital in p[0..16): nothing numeric can start, continue or end here. */
static inline bool chunk_is_plain(const uint8_t *p)
{
#ifdef __SSE2__
	__m128i v = _mm_loadu_si128((const __m128i *)p);
	__m128i d = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('0' - 1)),
				  _mm_cmplt_epi8(v, _mm_set1_epi8('9' + 1)));
	__m128i u = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('A' - 1)),
				  _mm_cmplt_epi8(v, _mm_set1_epi8('Z' + 1)));
	return _mm_movemask_epi8(_mm_or_si128(d, u)) == 0;
#else
	for (int i = 0; i < 16; i++)
		if (cls[p[i]] == C_DIGIT || cls[p[i]] == C_UPPER)
			return false;
	return true;
#endif
}

static bool numeric_candidate(const uint8_t *p, size_t n)
{
	/* run: digits in the current run; p1, p2: lengths of the two runs before it when each
	 * was joined to the next by the single separator s1, s2 (else 0); groups: runs joined
	 * by single dots so far */
	unsigned run = 0, p1 = 0, p2 = 0, groups = 0;
	uint8_t s1 = C_OTHER, s2 = C_OTHER;
	uint8_t c1 = C_OTHER, c2 = C_OTHER, c3 = C_OTHER; /* classes of p[i-1], p[i-2], p[i-3] */
	size_t i = 0;

	while (i < n) {
		if (c1 == C_OTHER && i + 16 <= n && chunk_is_plain(p + i)) {
			/* a chunk without digits or capitals ends every run and join, and
			 * leaves no history the conditions below could use */
			i += 16;
			c1 = c2 = c3 = C_OTHER;
			continue;
		}
		uint8_t c = cls[p[i++]];
		if (c == C_DIGIT) {
			if (c1 == C_DIGIT) {
				run++;
				if (c2 == C_UPPER && c3 == C_UPPER)
					return true; /* iban */
			} else {
				bool joined = c1 != C_OTHER && c1 != C_UPPER && c2 == C_DIGIT;
				if (joined) {
					p2 = p1;
					s2 = s1;
					p1 = run;
					s1 = c1;
				} else {
					p1 = p2 = 0;
				}
				groups = joined && c1 == C_DOT ? groups + 1 : 1;
				run = 1;
			}
			if (run >= 9 || groups >= 4)
				return true;
			if (run >= 4 && p1 >= 4 && p2 >= 4 && s1 != C_DOT && s2 != C_DOT)
				return true; /* grouped card */
			if (run >= 4 && p1 == 2 && p2 >= 3 && s1 == C_DASH && s2 == C_DASH)
				return true; /* ssn */
		}
		c3 = c2;
		c2 = c1;
		c1 = c;
	}
	return false;
}

static hs_database_t *compile_prefilter(const struct rg_mask_action *acts, size_t n,
					unsigned *numeric)
{
	const char *exprs[RG_DET__COUNT];
	unsigned flags[RG_DET__COUNT], ids[RG_DET__COUNT], count = 0;
	bool seen[RG_DET__COUNT] = {false};
	hs_database_t *db = NULL;
	hs_compile_error_t *cerr = NULL;

	*numeric = 0;
	for (size_t i = 0; i < n; i++) {
		int d = acts[i].detector;
		if (d < 0 || d >= RG_DET__COUNT || seen[d])
			continue;
		seen[d] = true;
		if (NUMERIC_DETECTORS & (1u << d)) {
			*numeric |= 1u << d;
			continue;
		}
		exprs[count] = prefilter_pattern[d];
		flags[count] = 0;
		ids[count] = (unsigned)d;
		count++;
	}
	if (count == 0)
		return NULL;
	if (hs_compile_multi(exprs, flags, ids, count, HS_MODE_VECTORED, NULL, &db, &cerr) !=
	    HS_SUCCESS) {
		hs_free_compile_error(cerr);
		return NULL;
	}
	return db;
}

/* ---- masker ---- */

struct rg_masker *rg_masker_new(const hs_database_t *db, const struct rg_mask_action *acts,
				size_t nacts, const uint8_t *hmac_key, size_t keylen)
{
	struct rg_masker *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->db = db;
	m->acts = acts;
	m->nacts = nacts;
	if (hmac_key && keylen) {
		m->has_key = true;
		hmac_setkey(m, hmac_key, keylen);
	}
	if (db) {
		if (hs_alloc_scratch(db, &m->scratch) != HS_SUCCESS)
			goto out_free;
		static pthread_once_t once = PTHREAD_ONCE_INIT;
		pthread_once(&once, cls_init);
		m->pre = compile_prefilter(acts, nacts, &m->numeric);
		if (m->pre && hs_alloc_scratch(m->pre, &m->scratch) != HS_SUCCESS)
			goto out_free;
		/* without the database, its detectors would go unseen: fall back */
		bool need_db = false;
		for (size_t i = 0; i < nacts; i++)
			need_db =
			    need_db || (acts[i].detector >= 0 && acts[i].detector < RG_DET__COUNT &&
					!(NUMERIC_DETECTORS & (1u << acts[i].detector)));
		m->prefilter_ok = m->pre || !need_db;
	}
	return m;
out_free:
	rg_masker_free(m);
	return NULL;
}

void rg_masker_free(struct rg_masker *m)
{
	if (!m)
		return;
	hs_free_scratch(m->scratch);
	hs_free_database(m->pre);
	free(m->of);
	free(m->ooff);
	free(m->cand);
	free(m->vdata);
	free(m->vlen);
	free(m->vfield);
	free(m->vend);
	free(m->spans);
	free(m->buf);
	memset(&m->ipad, 0, sizeof(m->ipad));
	memset(&m->opad, 0, sizeof(m->opad));
	free(m);
}

#define GROW(ptr, n)                                                                               \
	({                                                                                         \
		void *_p = realloc((ptr), (n) * sizeof(*(ptr)));                                   \
		if (_p)                                                                            \
			(ptr) = _p;                                                                \
		_p != NULL;                                                                        \
	})

static int reserve_fields(struct rg_masker *m, size_t n)
{
	if (n <= m->fcap)
		return 0;
	size_t cap = m->fcap ? m->fcap : 16;
	while (cap < n)
		cap *= 2;
	if (!GROW(m->of, cap) || !GROW(m->ooff, cap) || !GROW(m->cand, cap) ||
	    !GROW(m->vdata, cap) || !GROW(m->vlen, cap) || !GROW(m->vfield, cap) ||
	    !GROW(m->vend, cap))
		return -ENOMEM;
	m->fcap = cap;
	return 0;
}

static int reserve_buf(struct rg_masker *m, size_t more)
{
	if (m->blen + more <= m->bcap)
		return 0;
	size_t cap = m->bcap ? m->bcap : 4096;
	while (cap < m->blen + more)
		cap *= 2;
	if (!GROW(m->buf, cap))
		return -ENOMEM;
	m->bcap = cap;
	return 0;
}

static inline bool is_alnum(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* Bytes a mask hides: ASCII alphanumerics and anything non-ASCII (whole UTF-8 sequences,
 * so the output stays valid UTF-8). */
static inline bool maskable(uint8_t c)
{
	return is_alnum(c) || c >= 0x80;
}

/* Append the masked form of p[0..n) under action a (never NULL style) to m->buf. */
static int emit(struct rg_masker *m, const uint8_t *p, size_t n, const struct rg_mask_action *a)
{
	static const char hex[] = "0123456789abcdef";
	enum rg_mask_style st = a->style;
	size_t keep = 0;

	if ((st == RG_MASK_HMAC && !m->has_key) || (st == RG_MASK_STATIC && !a->static_text) ||
	    (unsigned)st >= RG_MASK__COUNT)
		st = RG_MASK_REDACT; /* fail closed */
	if (st == RG_MASK_STATIC) {
		size_t k = strlen(a->static_text);
		if (!k)
			return 0;
		if (reserve_buf(m, k))
			return -ENOMEM;
		memcpy(m->buf + m->blen, a->static_text, k);
		m->blen += k;
		return 0;
	}
	if (st == RG_MASK_HMAC) {
		uint8_t d[32];
		if (reserve_buf(m, 2 + HMAC_HEX))
			return -ENOMEM;
		hmac(m, p, n, d);
		uint8_t *o = m->buf + m->blen;
		*o++ = 'h';
		*o++ = ':';
		for (int i = 0; i < HMAC_HEX / 2; i++) {
			*o++ = (uint8_t)hex[d[i] >> 4];
			*o++ = (uint8_t)hex[d[i] & 15];
		}
		m->blen += 2 + HMAC_HEX;
		return 0;
	}
	if (n == 0)
		return 0;
	if (reserve_buf(m, n))
		return -ENOMEM;
	if (st == RG_MASK_PARTIAL)
		keep = a->keep;
	uint8_t *o = m->buf + m->blen;
	/* walk backwards so the last `keep` ASCII alphanumerics are the ones kept */
	for (size_t i = n; i-- > 0;) {
		uint8_t c = p[i];
		if (keep && is_alnum(c)) {
			keep--;
			o[i] = c;
		} else {
			o[i] = maskable(c) ? '*' : c;
		}
	}
	m->blen += n;
	return 0;
}

/* SOM scan callback: confirm a raw match inside the current field and keep it. */
static int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
		    void *ctx)
{
	struct rg_masker *m = ctx;
	(void)flags;

	if (id >= m->nacts || (m->enabled && !m->enabled[id]))
		return 0;
	size_t s = (size_t)from;
	if (!rg_detector_confirm((enum rg_detector)m->acts[id].detector, m->cur, m->curlen, &s,
				 (size_t)to))
		return 0;
	if (m->nspans == m->spcap) {
		size_t cap = m->spcap ? m->spcap * 2 : 64;
		if (!GROW(m->spans, cap)) {
			m->err = -ENOMEM;
			return 1;
		}
		m->spcap = cap;
	}
	m->spans[m->nspans++] = (struct span){(uint32_t)s, (uint32_t)to, id};
	return 0;
}

/* Prefilter callback: mark the field where a candidate ends. */
static int on_candidate(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
			void *ctx)
{
	struct rg_masker *m = ctx;
	(void)id;
	(void)from;
	(void)flags;

	if (m->vcur > 0 && to <= m->vend[m->vcur - 1])
		m->vcur = 0;
	while (m->vcur + 1 < m->nv && m->vend[m->vcur] < to)
		m->vcur++;
	uint32_t f = m->vfield[m->vcur];
	if (!m->cand[f]) {
		m->cand[f] = 1;
		if (++m->nmarked == m->nv)
			return 1; /* every field will be scanned anyway */
	}
	return 0;
}

/* Sort spans by end (Hyperscan reports in end order, so this is normally one pass), then
 * merge overlapping or touching spans with a stack kept in the same array. */
static size_t merge_spans(struct span *sp, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		struct span x = sp[i];
		size_t j = i;
		while (j > 0 && sp[j - 1].e > x.e) {
			sp[j] = sp[j - 1];
			j--;
		}
		sp[j] = x;
	}
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		struct span x = sp[i];
		while (k > 0 && sp[k - 1].e >= x.s) {
			k--;
			if (sp[k].s < x.s)
				x.s = sp[k].s;
			if (sp[k].act < x.act)
				x.act = sp[k].act;
		}
		sp[k++] = x;
	}
	return k;
}

/* Rewrite field i as masked by the merged spans (disjoint, ascending). */
static int rewrite_field(struct rg_masker *m, size_t i, const uint8_t *p, size_t n,
			 const struct span *sp, size_t ns, struct rg_mask_result *out)
{
	struct rg_mask_out_field *of = &m->of[i];
	size_t at = 0, start = m->blen;

	for (size_t k = 0; k < ns; k++)
		out->rules_hit |= 1ull << (m->acts[sp[k].act].rule_index % 64);
	for (size_t k = 0; k < ns; k++) {
		if (m->acts[sp[k].act].style == RG_MASK_NULL) {
			*of = (struct rg_mask_out_field){.changed = true, .is_null = true};
			return 0;
		}
	}
	for (size_t k = 0; k < ns; k++) {
		size_t gap = sp[k].s - at;
		if (gap) {
			if (reserve_buf(m, gap))
				return -ENOMEM;
			memcpy(m->buf + m->blen, p + at, gap);
			m->blen += gap;
		}
		int rc = emit(m, p + sp[k].s, sp[k].e - sp[k].s, &m->acts[sp[k].act]);
		if (rc)
			return rc;
		at = sp[k].e;
	}
	if (n > at) {
		if (reserve_buf(m, n - at))
			return -ENOMEM;
		memcpy(m->buf + m->blen, p + at, n - at);
		m->blen += n - at;
	}
	of->changed = true;
	of->is_null = false;
	of->data = NULL; /* set from ooff once buf has stopped moving */
	of->len = (uint32_t)(m->blen - start);
	m->ooff[i] = (uint32_t)start;
	return 0;
}

static int column_action(const struct rg_masker *m, const struct rg_mask_plan *plan, size_t i)
{
	if (!plan || !plan->column_action || i >= plan->ncolumns || plan->column_action[i] < 0)
		return -1;
	int32_t a = plan->column_action[i];
	if ((size_t)a >= m->nacts)
		return INT32_MAX; /* a broken plan: fail closed, the field becomes NULL */
	if (plan->enabled && !plan->enabled[a])
		return -1;
	return a;
}

int rg_masker_row(struct rg_masker *m, const struct rg_mask_plan *plan,
		  const struct rg_mask_field *fields, size_t nfields, struct rg_mask_result *out)
{
	const uint8_t *enabled = plan ? plan->enabled : NULL;
	bool any_det = false;
	int rc = 0;

	*out = (struct rg_mask_result){0};
	if (reserve_fields(m, nfields))
		return -ENOMEM;
	out->fields = m->of;
	m->blen = 0;
	m->nv = 0;
	m->enabled = enabled;
	if (m->db)
		for (size_t a = 0; a < m->nacts && !any_det; a++)
			any_det = m->acts[a].detector >= 0 && (!enabled || enabled[a]);

	uint64_t total = 0;
	for (size_t i = 0; i < nfields; i++) {
		const struct rg_mask_field *f = &fields[i];
		m->of[i] = (struct rg_mask_out_field){false, f->is_null, f->data, f->len};
		m->cand[i] = 0;
		if (f->is_null)
			continue;
		int ca = column_action(m, plan, i);
		if (ca == INT32_MAX) {
			m->of[i] = (struct rg_mask_out_field){.changed = true, .is_null = true};
			continue;
		}
		if (ca >= 0) {
			struct span whole = {0, f->len, (uint32_t)ca};
			rc = rewrite_field(m, i, f->data, f->len, &whole, 1, out);
			if (rc)
				return rc;
			continue;
		}
		if (!any_det || f->len == 0)
			continue;
		m->vdata[m->nv] = (const char *)f->data;
		m->vlen[m->nv] = f->len;
		m->vfield[m->nv] = (uint32_t)i;
		total += f->len;
		m->vend[m->nv] = total;
		m->nv++;
	}

	if (m->nv && m->prefilter_ok) {
		m->nmarked = 0;
		if (m->numeric) {
			for (size_t v = 0; v < m->nv; v++) {
				if (numeric_candidate((const uint8_t *)m->vdata[v], m->vlen[v])) {
					m->cand[m->vfield[v]] = 1;
					m->nmarked++;
				}
			}
		}
		if (m->pre && m->nmarked < m->nv) {
			m->vcur = 0;
			hs_error_t e = hs_scan_vector(m->pre, m->vdata, m->vlen, (unsigned)m->nv, 0,
						      m->scratch, on_candidate, m);
			if (e != HS_SUCCESS && e != HS_SCAN_TERMINATED)
				return -EIO;
		}
	} else {
		for (size_t v = 0; v < m->nv; v++)
			m->cand[m->vfield[v]] = 1;
	}

	for (size_t v = 0; v < m->nv; v++) {
		size_t i = m->vfield[v];
		if (!m->cand[i])
			continue;
		m->cur = fields[i].data;
		m->curlen = fields[i].len;
		m->nspans = 0;
		m->err = 0;
		hs_error_t e = hs_scan(m->db, (const char *)m->cur, (unsigned)m->curlen, 0,
				       m->scratch, on_match, m);
		if (m->err)
			return m->err;
		if (e != HS_SUCCESS)
			return -EIO;
		if (!m->nspans)
			continue;
		size_t ns = merge_spans(m->spans, m->nspans);
		out->matches += (uint32_t)ns;
		rc = rewrite_field(m, i, m->cur, m->curlen, m->spans, ns, out);
		if (rc)
			return rc;
	}

	for (size_t i = 0; i < nfields; i++) {
		struct rg_mask_out_field *of = &m->of[i];
		if (!of->changed)
			continue;
		out->changed = true;
		if (!of->is_null)
			of->data = m->buf ? m->buf + m->ooff[i] : (const uint8_t *)"";
	}
	return 0;
}
