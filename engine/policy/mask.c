/*
 * mask: compiles detector actions into Hyperscan and masks result rows.
 *
 * Two stages per field. A SIMD prefilter (AVX-512BW when the CPU has it, else AVX2, else
 * SSE2, else plain C, chosen once at first use; see "The prefilter" below) evaluates, for each enabled detector, a condition that
 * every confirmed match of it implies; a field where none holds (the common case) is done.
 * A field where one holds is scanned alone with the SOM_LEFTMOST database from
 * rg_mask_compile, so no match can cross a field boundary and none is hidden by one that
 * does (a DataRow's length bytes may be digits). Raw matches are confirmed (boundaries +
 * validator), merged, and only then is anything written.
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

#ifdef __x86_64__
#include <immintrin.h>
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
	hs_scratch_t *scratch;
	unsigned active;	 /* detectors of all detector actions, bit 1u << detector */
	bool prefilter;		 /* false (tests only): SOM-scan every field */
	const struct rg_mask_action *acts;
	size_t nacts;
	bool has_key;
	struct sha256 ipad, opad; /* HMAC key schedule, hashed once */

	/* per-row state, grown on demand and reused */
	size_t fcap;
	struct rg_mask_out_field *of;
	uint32_t *ooff; /* output offset of each changed field in buf */

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
 * The prefilter. Hyperscan with SOM runs at ~130 MB/s over text dense in digits, so every
 * field first goes through one branch-light pass that computes, per 64-byte block, a
 * bitmask per byte class (bit i is byte i) and combines shifted masks into one condition
 * per detector. A condition is NECESSARY for a confirmed match of its detector: it follows
 * from the detector's pattern, its validator and its boundary rules in detect.c (the field
 * edge is a boundary), so a field where no enabled detector's condition holds cannot yield
 * a confirmed match and is not scanned. A field where one holds is scanned whole with the
 * SOM database, which decides. Keep these in step with detect.c: change a pattern,
 * validator or boundary rule there and the matching condition here must be re-derived
 * (test_mask_prefilter.c checks every known instance and compares against scanning every
 * field).
 *
 * Notation: "[NA]" is a byte that is not an ASCII alphanumeric, or the field edge; Dk is k
 * digits in a row; S is ' ' or '-'. Conditions, and why each is necessary:
 *   aba_routing  [NA] D9 [NA]: exactly nine digits (validator); glued_* reject alnum
 *                neighbours.
 *   credit_card  the confirmed span is a pattern match or its suffix after a ' ' (the retry
 *                in rg_detector_confirm; after '-' it is glued), preceded by [NG]:
 *                [NG] D13 (contiguous form); [NG] D4 S D4 S D4 S D then [NA] 1..4
 *                bytes after that D (4-4-4-x whole: x has 1..4 digits and is followed
 *                by the end, a byte not glued on, or the separator of a 5th group; this
 *                keeps UUIDs "…6f-2882-4042-8140-2bd8…" out; the [NA] is at most the
 *                field's end, which is always evaluated);
 *                D ' ' D4 S D4 S (D2 S D3 | D3 S D2 | D4 S D) (4-4-4-a-b from the second
 *                group: 13+ digits need a+b >= 5); [NG] D4 S D6 S D4 (4-6-4/5; its
 *                suffixes have < 13 digits). [NG] is [NA] but not a '.' or '-' right
 *                after a digit (glued_left: "1-4111…" continues a number).
 *   us_ssn       [NA] D3 '-' D2 '-' D4 [NA] (validator shape; glued_* on both sides).
 *   ipv4         three '.' each between digits, the digits after them 2..4 bytes apart
 *                (octets of 1..3 digits).
 *   iban         [NA] U U D D then 4 of [A-Z0-9] or ' ' and 4 of them (the validator's
 *                head; spaces only after groups of 4; 15+ characters). Also holds for the
 *                retried suffix, which must start the same way.
 *   email        '@' between a byte that is none of ' ', '.', '@' (the last character
 *                of a local part) and an alphanumeric (a domain label cannot start
 *                with '-').
 *   phone_e164   a byte that is neither alnum nor '+' (or the edge), '+', a digit, then a
 *                digit or S and a digit.
 *   jwt          a byte that is neither alnum nor '.' (or the edge), 'e', 'w'|'y', then 8
 *                base64url bytes.
 *   aws_access   [NA] U4 then 16 of [A-Z0-9] then [NA] (prefix, base32, glued_*).
 *   private_key  "-----" then a capital ("-----BEGIN ").
 *   ipv6         "::" with an alphanumeric on either side (a compressed form holds "::"
 *                and the validator wants a hex digit next to it), or seven ':' each
 *                between alphanumerics and 2..5 bytes apart (the full form).
 * Alphanumerics stand in for hex digits: a superset only weakens a condition. Conditions look back at most 33 bytes, so each is evaluated
 * over the 128-bit window (previous block, this block) with only the raw class masks
 * carried across blocks; the first block's "previous" is empty (the field edge), and one
 * more block is evaluated past the last byte so conditions ending with a trailing [NA]
 * see the end. Bytes past the end read as 0: in no class, so a boundary.
 */

typedef unsigned __int128 u128;

enum { K_D, K_U, K_L, K_DOT, K_DASH, K_SP, K_AT, K_PLUS, K_COLON, K_E, K_WY, K_US, K__N };

/*
 * One block: the raw classes, then masks derived from them that later blocks look back
 * at. A derived mask is a subset of a raw class of its own block (its last byte's), so
 * setting it to 0 in a block without that class is exact, not an approximation.
 */
struct pfb {
	uint64_t k[K__N];
	uint64_t a;	/* alphanumerics */
	uint64_t sep;	/* ' ' or '-' */
	uint64_t d2, d4, d9;
	uint64_t g;	/* D4 S D4, at its last digit: every grouped card form holds it */
	uint64_t cx;	/* [NG] D4 S D4 S D4 S D, at the last D: a 4-4-4-x card's x */
	uint64_t sg;	/* D2 '-' D4: the end of an SSN */
	uint64_t x, y;	/* ipv4: the digit after a '.' between digits; x 2..4 after another */
	uint64_t h;	/* [NA] U U D D, at the last digit: an IBAN's head */
	uint64_t u4;	/* four capitals */
	uint64_t ew;	/* [NB] 'e' 'w'|'y', at the 'w'|'y': a JWT's start */
	uint64_t cc;	/* "::", at the second ':' */
};

#define DBIT(d) (1u << (d))
#define DIGIT_DETS                                                                                 \
	(DBIT(RG_DET_CREDIT_CARD) | DBIT(RG_DET_US_SSN) | DBIT(RG_DET_ABA_ROUTING) |               \
	 DBIT(RG_DET_IPV4))
#define ALL_DETS ((1u << RG_DET__COUNT) - 1)

/* x's bits n bytes back: bit i is byte i - n, reaching into the previous block. */
#define B(x, n) ((c->x << (n)) | (p->x >> (64 - (n))))
#define R(i, n) ((c->k[i] << (n)) | (p->k[i] >> (64 - (n))))
#define NEG(x) (pos ? ~0ull : ~(x))
#define NA(n) NEG(B(a, n))
/* [NG]: [NA] that does not glue a number on (glued_left of card/ssn/aba/ipv4: not '.' or
 * '-' after a digit), as "b5b22e99-6267-4125-9241-9…" inside a UUID */
#define NG(n) (NA(n) & NEG((R(K_DOT, n) | R(K_DASH, n)) & R(K_D, (n) + 1)))
/* 128-bit window (previous block, this block) of a raw class, for the rare deep chains */
#define W(i) (((u128)c->k[i] << 64) | p->k[i])
#define HI(x) ((uint64_t)((x) >> 64))

/* The detectors among want whose condition ends inside block c (p: the block before);
 * fills c's derived masks. Each detector is gated on a cheap part of its condition that
 * ordinary text rarely has before the whole condition is evaluated. With pos, every
 * negative term (not alphanumeric, [NG], not '+', ...) is left out: what remains holds
 * wherever the whole condition does (rg_masker_run_clear). */
static inline __attribute__((always_inline)) unsigned conditions(const struct pfb *p, struct pfb *c,
								 unsigned want, const bool pos)
{
	const uint64_t d = c->k[K_D], u = c->k[K_U];
	unsigned hit = 0;

	c->a = d | u | c->k[K_L];
	c->sep = c->k[K_SP] | c->k[K_DASH];
	c->d2 = c->d4 = c->d9 = c->g = c->cx = c->sg = c->x = c->y = c->h = c->u4 = c->ew =
		c->cc = 0;

	if (d) {
		c->d2 = d & R(K_D, 1);
		c->d4 = c->d2 & B(d2, 2);
		if (c->d4) {
			c->d9 = c->d4 & B(d4, 4) & R(K_D, 8);
			c->g = c->d4 & B(sep, 4) & B(d4, 5);
			c->sg = c->d4 & R(K_DASH, 4) & B(d2, 5);
		}
		if (c->g | p->g)
			c->cx = d & B(sep, 1) & B(g, 2) & B(g, 7) & NG(16);
		if (c->k[K_DOT] | p->k[K_DOT]) {
			c->x = d & R(K_DOT, 1) & R(K_D, 2);
			c->y = c->x & (B(x, 2) | B(x, 3) | B(x, 4));
		}
		if (u | p->k[K_U])
			c->h = d & R(K_D, 1) & R(K_U, 2) & R(K_U, 3) & NA(4);
	}
	if (u)
		c->u4 = u & R(K_U, 1) & R(K_U, 2) & R(K_U, 3);
	if (c->k[K_WY])
		c->ew = c->k[K_WY] & R(K_E, 1) & NA(2) & NEG(R(K_DOT, 2));
	if (c->k[K_COLON])
		c->cc = c->k[K_COLON] & R(K_COLON, 1);

	if (want & DIGIT_DETS) {
		if ((want & DBIT(RG_DET_ABA_ROUTING)) && (c->d9 | p->d9) &&
		    (NEG(c->a) & B(d9, 1) & NA(10)))
			hit |= DBIT(RG_DET_ABA_ROUTING);
		if ((want & DBIT(RG_DET_CREDIT_CARD)) && (c->d9 | p->d9 | c->g | p->g)) {
			uint64_t tail = (c->d2 & R(K_D, 2) & B(sep, 3) & B(d2, 4)) |
					(c->d2 & B(sep, 2) & B(d2, 3) & R(K_D, 5)) |
					(d & B(sep, 1) & B(d4, 2));
			uint64_t card = (c->d9 & B(d4, 9) & NG(13)) |
					(NEG(c->a) & (B(cx, 1) | B(cx, 2) | B(cx, 3) | B(cx, 4))) |
					(tail & B(sep, 6) & B(g, 7) & R(K_SP, 16) & R(K_D, 17)) |
					(c->d4 & B(sep, 4) & B(d4, 5) & B(d2, 9) & B(sep, 11) &
					 B(d4, 12) & NG(16));
			if (card)
				hit |= DBIT(RG_DET_CREDIT_CARD);
		}
		if ((want & DBIT(RG_DET_US_SSN)) && (c->sg | p->sg) &&
		    (NEG(c->a) & B(sg, 1) & R(K_DASH, 8) & B(d2, 9) & R(K_D, 11) & NA(12)))
			hit |= DBIT(RG_DET_US_SSN);
		if ((want & DBIT(RG_DET_IPV4)) && (c->y | p->y) &&
		    (c->x & (B(y, 2) | B(y, 3) | B(y, 4))))
			hit |= DBIT(RG_DET_IPV4);
	}
	if ((want & DBIT(RG_DET_IBAN)) && (c->h | p->h)) {
		uint64_t ud4 = (d | u) & (R(K_D, 1) | R(K_U, 1)) & (R(K_D, 2) | R(K_U, 2)) &
			       (R(K_D, 3) | R(K_U, 3));
		if (ud4 & (B(h, 4) | (B(h, 5) & R(K_SP, 4))))
			hit |= DBIT(RG_DET_IBAN);
	}
	if ((want & DBIT(RG_DET_AWS_ACCESS_KEY)) && (c->u4 | p->u4)) {
		u128 uw = W(K_U), ud = uw | W(K_D), ud2 = ud & ud << 1, ud4 = ud2 & ud2 << 2;
		u128 ud16 = ud4 & ud4 << 4 & ud4 << 8 & ud4 << 12;
		u128 a = ud | W(K_L), u4 = ((u128)c->u4 << 64) | p->u4;
		if (HI((pos ? ~(u128)0 : ~a) & ud16 << 1 & u4 << 17 &
		       (pos ? ~(u128)0 : ~(a << 21))))
			hit |= DBIT(RG_DET_AWS_ACCESS_KEY);
	}
	if ((want & DBIT(RG_DET_PRIVATE_KEY)) && (c->k[K_DASH] | p->k[K_DASH])) {
		uint64_t t = u & R(K_DASH, 1) & R(K_DASH, 2);
		if (t && (t & R(K_DASH, 3) & R(K_DASH, 4) & R(K_DASH, 5)))
			hit |= DBIT(RG_DET_PRIVATE_KEY);
	}
	if ((want & DBIT(RG_DET_EMAIL)) && (c->k[K_AT] | p->k[K_AT]) &&
	    (c->a & R(K_AT, 1) & NEG(R(K_SP, 2) | R(K_DOT, 2) | R(K_AT, 2))))
		hit |= DBIT(RG_DET_EMAIL);
	if ((want & DBIT(RG_DET_PHONE_E164)) && (c->k[K_PLUS] | p->k[K_PLUS])) {
		uint64_t t1 = d & R(K_D, 1) & R(K_PLUS, 2) & NA(3) & NEG(R(K_PLUS, 3));
		uint64_t t2 = d & B(sep, 1) & R(K_D, 2) & R(K_PLUS, 3) & NA(4) & NEG(R(K_PLUS, 4));
		if (t1 | t2)
			hit |= DBIT(RG_DET_PHONE_E164);
	}
	if ((want & DBIT(RG_DET_JWT)) && (c->ew | p->ew)) {
		u128 b = W(K_D) | W(K_U) | W(K_L) | W(K_DASH) | W(K_US); /* base64url */
		b = b & b << 1;
		b = b & b << 2;
		b = b & b << 4;
		if (HI(b) & B(ew, 8))
			hit |= DBIT(RG_DET_JWT);
	}
	if ((want & DBIT(RG_DET_IPV6)) && (c->k[K_COLON] | p->k[K_COLON])) {
		if ((c->cc & B(a, 2)) | (c->a & B(cc, 1))) {
			hit |= DBIT(RG_DET_IPV6);
		} else {
			/* the full form: seven colons in the window, then the chain */
			if (__builtin_popcountll(c->k[K_COLON]) +
				__builtin_popcountll(p->k[K_COLON]) >=
			    7) {
				u128 col = W(K_COLON), a = W(K_D) | W(K_U) | W(K_L);
				u128 hc = a & col << 1 & a << 2, ch = hc;
				for (int i = 0; i < 6 && ch; i++)
					ch = hc & (ch << 2 | ch << 3 | ch << 4 | ch << 5);
				if (HI(ch))
					hit |= DBIT(RG_DET_IPV6);
			}
		}
	}
	return hit;
}

#undef B
#undef R
#undef NA
#undef NEG
#undef NG
#undef W
#undef HI

/* Plain C classification of one 64-byte block. */
static inline __attribute__((always_inline)) void classify_c(const uint8_t *s, uint64_t *k)
{
	memset(k, 0, K__N * sizeof(*k));
	for (int i = 0; i < 64; i++) {
		uint8_t b = s[i];
		uint64_t bit = 1ull << i;
		k[K_D] |= (uint8_t)(b - '0') < 10 ? bit : 0;
		k[K_U] |= (uint8_t)(b - 'A') < 26 ? bit : 0;
		k[K_L] |= (uint8_t)(b - 'a') < 26 ? bit : 0;
		k[K_DOT] |= b == '.' ? bit : 0;
		k[K_DASH] |= b == '-' ? bit : 0;
		k[K_SP] |= b == ' ' ? bit : 0;
		k[K_AT] |= b == '@' ? bit : 0;
		k[K_PLUS] |= b == '+' ? bit : 0;
		k[K_COLON] |= b == ':' ? bit : 0;
		k[K_E] |= b == 'e' ? bit : 0;
		k[K_WY] |= b == 'w' || b == 'y' ? bit : 0;
		k[K_US] |= b == '_' ? bit : 0;
	}
}

#ifdef __x86_64__
/* SSE2: four 16-byte chunks. Signed compares: bytes >= 0x80 are negative, in no range. */
static inline __attribute__((always_inline)) void classify_sse2(const uint8_t *s, uint64_t *k)
{
	memset(k, 0, K__N * sizeof(*k));
	for (int q = 0; q < 4; q++) {
		__m128i v = _mm_loadu_si128((const __m128i *)(s + 16 * q));
#define RANGE(lo, hi)                                                                              \
	_mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8((lo) - 1)),                                  \
		      _mm_cmplt_epi8(v, _mm_set1_epi8((hi) + 1)))
#define EQ(ch) _mm_cmpeq_epi8(v, _mm_set1_epi8(ch))
#define PUT(i, x) (k[i] |= (uint64_t)(uint16_t)_mm_movemask_epi8(x) << (16 * q))
		PUT(K_D, RANGE('0', '9'));
		PUT(K_U, RANGE('A', 'Z'));
		PUT(K_L, RANGE('a', 'z'));
		PUT(K_DOT, EQ('.'));
		PUT(K_DASH, EQ('-'));
		PUT(K_SP, EQ(' '));
		PUT(K_AT, EQ('@'));
		PUT(K_PLUS, EQ('+'));
		PUT(K_COLON, EQ(':'));
		PUT(K_E, EQ('e'));
		PUT(K_WY, _mm_or_si128(EQ('w'), EQ('y')));
		PUT(K_US, EQ('_'));
#undef RANGE
#undef EQ
#undef PUT
	}
}

/* AVX2: two 32-byte halves. */
static inline __attribute__((always_inline, target("avx2,popcnt,bmi,bmi2"))) void
classify_avx2(const uint8_t *s, uint64_t *k)
{
	__m256i v0 = _mm256_loadu_si256((const __m256i *)s);
	__m256i v1 = _mm256_loadu_si256((const __m256i *)(s + 32));
#define RANGE(v, lo, hi)                                                                           \
	_mm256_and_si256(_mm256_cmpgt_epi8(v, _mm256_set1_epi8((lo) - 1)),                         \
			 _mm256_cmpgt_epi8(_mm256_set1_epi8((hi) + 1), v))
#define EQ(v, ch) _mm256_cmpeq_epi8(v, _mm256_set1_epi8(ch))
#define BITS(x0, x1)                                                                               \
	((uint64_t)(uint32_t)_mm256_movemask_epi8(x0) |                                            \
	 (uint64_t)(uint32_t)_mm256_movemask_epi8(x1) << 32)
	k[K_D] = BITS(RANGE(v0, '0', '9'), RANGE(v1, '0', '9'));
	k[K_U] = BITS(RANGE(v0, 'A', 'Z'), RANGE(v1, 'A', 'Z'));
	k[K_L] = BITS(RANGE(v0, 'a', 'z'), RANGE(v1, 'a', 'z'));
	k[K_DOT] = BITS(EQ(v0, '.'), EQ(v1, '.'));
	k[K_DASH] = BITS(EQ(v0, '-'), EQ(v1, '-'));
	k[K_SP] = BITS(EQ(v0, ' '), EQ(v1, ' '));
	k[K_AT] = BITS(EQ(v0, '@'), EQ(v1, '@'));
	k[K_PLUS] = BITS(EQ(v0, '+'), EQ(v1, '+'));
	k[K_COLON] = BITS(EQ(v0, ':'), EQ(v1, ':'));
	k[K_E] = BITS(EQ(v0, 'e'), EQ(v1, 'e'));
	k[K_WY] = BITS(_mm256_or_si256(EQ(v0, 'w'), EQ(v0, 'y')),
		       _mm256_or_si256(EQ(v1, 'w'), EQ(v1, 'y')));
	k[K_US] = BITS(EQ(v0, '_'), EQ(v1, '_'));
#undef RANGE
#undef EQ
#undef BITS
}

#define PF_AVX512 "avx512f,avx512bw,avx512vl,avx2,popcnt,bmi,bmi2"

/* AVX-512BW: one 64-byte register, compares straight into mask registers (no movemask,
 * no merging of halves); a range is one subtract and one unsigned compare. */
static inline __attribute__((always_inline, target(PF_AVX512))) void
classify_avx512_v(__m512i v, uint64_t *k)
{
#define RANGE(lo, n) _mm512_cmplt_epu8_mask(_mm512_sub_epi8(v, _mm512_set1_epi8(lo)),             \
					    _mm512_set1_epi8(n))
#define EQ(ch) _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(ch))
	k[K_D] = RANGE('0', 10);
	k[K_U] = RANGE('A', 26);
	k[K_L] = RANGE('a', 26);
	k[K_DOT] = EQ('.');
	k[K_DASH] = EQ('-');
	k[K_SP] = EQ(' ');
	k[K_AT] = EQ('@');
	k[K_PLUS] = EQ('+');
	k[K_COLON] = EQ(':');
	k[K_E] = EQ('e');
	k[K_WY] = EQ('w') | EQ('y');
	k[K_US] = EQ('_');
#undef RANGE
#undef EQ
}

static inline __attribute__((always_inline, target(PF_AVX512))) void
classify_avx512(const uint8_t *s, uint64_t *k)
{
	classify_avx512_v(_mm512_loadu_si512((const void *)s), k);
}

/* The last partial block: a masked load reads only s[0..n) (masked-out bytes never fault)
 * and the rest of the register is 0, as the zeroed copy of the other variants. */
static inline __attribute__((always_inline, target(PF_AVX512))) void
classify_tail_avx512(const uint8_t *s, size_t n, uint64_t *k)
{
	classify_avx512_v(_mm512_maskz_loadu_epi8(_bzhi_u64(~0ull, (unsigned)n), s), k);
}
#endif


/*
 * One field, block by block, until a wanted condition holds or the block holding byte n
 * (the first past the end) is done. Nothing is read past the field: the last partial
 * block goes through classify_tail (a zeroed copy, or a masked load).
 */
#define PF_FIELD(name, classify, classify_tail, attr)                                              \
	static inline __attribute__((always_inline))                                               \
	attr unsigned name##_w(const uint8_t *s, size_t n, unsigned want)                          \
	{                                                                                          \
		struct pfb b[2], z, *p = &b[0], *c = &b[1], *t;                                    \
		unsigned hit;                                                                      \
                                                                                                   \
		/* the first block apart: before it is the field edge, a zero block the compiler   \
		 * folds into the conditions (all of a short field's work) */                      \
		memset(&z, 0, sizeof(z));                                                          \
		if (n >= 64)                                                                       \
			classify(s, p->k);                                                         \
		else                                                                               \
			classify_tail(s, n, p->k);                                                 \
		hit = conditions(&z, p, want, false);                                              \
		if (hit || n < 64)                                                                 \
			return hit;                                                                \
		for (size_t off = 64;; off += 64) {                                                \
			if (off + 64 <= n)                                                         \
				classify(s + off, c->k);                                           \
			else if (off < n)                                                          \
				classify_tail(s + off, n - off, c->k);                             \
			else                                                                       \
				memset(c->k, 0, sizeof(c->k));                                     \
			hit = conditions(p, c, want, false);                                       \
			if (hit || off + 64 > n)                                                   \
				return hit;                                                        \
			t = p;                                                                     \
			p = c;                                                                     \
			c = t;                                                                     \
		}                                                                                  \
	}                                                                                          \
	/* every detector (what a masker with all of them asks): a copy where want is a            \
	 * constant, so its tests fold away */                                                     \
	static attr unsigned name(const uint8_t *s, size_t n, unsigned want)                       \
	{                                                                                          \
		return want == ALL_DETS ? name##_w(s, n, ALL_DETS) : name##_w(s, n, want);         \
	}

static inline __attribute__((always_inline)) void classify_c_tail(const uint8_t *s, size_t n,
								   uint64_t *k)
{
	uint8_t tail[64] = {0};
	memcpy(tail, s, n);
	classify_c(tail, k);
}
PF_FIELD(pf_c, classify_c, classify_c_tail, )
#ifdef __x86_64__
static inline __attribute__((always_inline)) void classify_sse2_tail(const uint8_t *s, size_t n,
								      uint64_t *k)
{
	uint8_t tail[64] = {0};
	memcpy(tail, s, n);
	classify_sse2(tail, k);
}
static inline __attribute__((always_inline, target("avx2,popcnt,bmi,bmi2"))) void
classify_avx2_tail(const uint8_t *s, size_t n, uint64_t *k)
{
	uint8_t tail[64] = {0};
	memcpy(tail, s, n);
	classify_avx2(tail, k);
}
PF_FIELD(pf_sse2, classify_sse2, classify_sse2_tail, )
PF_FIELD(pf_avx2, classify_avx2, classify_avx2_tail,
	 __attribute__((target("avx2,popcnt,bmi,bmi2"))))
PF_FIELD(pf_avx512, classify_avx512, classify_tail_avx512, __attribute__((target(PF_AVX512))))
#endif

/*
 * The anchors of block c (p: the block before, its d2 set): positions where one of the
 * rarer parts that every pos-mode condition holds ends. Each condition holding at a byte
 * holds an anchor at most 33 bytes before it (so in its block or the one before):
 *   digit detectors  D2 then D4 five bytes on (D4 & B(d2, 5)): d9, g and sg all hold it,
 *                    and cx, a card's tails and ABA look back at one of those;
 *   ipv4 '.', email '@', phone '+', ipv6 ':';
 *   iban, aws        two capitals in a row (h and u4 hold them);
 *   private_key      "--";  jwt  'e' then 'w'|'y' (ew).
 * And where a block and the one before have no anchor, every derived mask of that block
 * is 0 except a, sep, d2 and d4 (each of the others is an anchor, or looks back at one at
 * most 16 bytes before). So a block is evaluated in full only where it or the block before
 * has an anchor, and then the block before, if it was not evaluated, gets those four and
 * zeros: what conditions() would have given it.
 */
static inline __attribute__((always_inline)) uint64_t anchors(const struct pfb *p, struct pfb *c)
{
	const uint64_t d = c->k[K_D], u = c->k[K_U], dash = c->k[K_DASH];
	uint64_t d2 = d & ((d << 1) | (p->k[K_D] >> 63));
	uint64_t d4 = d2 & ((d2 << 2) | (p->d2 >> 62));

	c->d2 = d2;
	c->d4 = d4;
	return (d4 & ((d2 << 5) | (p->d2 >> 59))) | c->k[K_DOT] | c->k[K_AT] | c->k[K_PLUS] |
	       c->k[K_COLON] | (u & ((u << 1) | (p->k[K_U] >> 63))) |
	       (dash & ((dash << 1) | (p->k[K_DASH] >> 63))) |
	       (c->k[K_WY] & ((c->k[K_E] << 1) | (p->k[K_E] >> 63)));
}

/* A block that was not evaluated in full, as conditions() would have left it (see anchors). */
static inline __attribute__((always_inline)) void lite_fill(struct pfb *c)
{
	uint64_t d2 = c->d2, d4 = c->d4;

	memset(&c->a, 0, sizeof(*c) - offsetof(struct pfb, a));
	c->a = c->k[K_D] | c->k[K_U] | c->k[K_L];
	c->sep = c->k[K_SP] | c->k[K_DASH];
	c->d2 = d2;
	c->d4 = d4;
}

/*
 * Many fields in one buffer with a protocol's framing between them (a run of DataRows), in
 * one pass over all its bytes, framing included: the conditions without their negative
 * terms (conditions' pos). Why that loses nothing: a condition is an AND of terms on bytes
 * at fixed distances from where it is evaluated, positive ones (a class) and negative ones.
 * Where a condition holds over one field alone (bytes outside it read as 0), its positive
 * terms all lie on bytes of that field, which the run holds unchanged at the same distances;
 * so the positive terms alone hold there over the run too, whatever the framing bytes are,
 * and whatever the field's trailing spaces or its being an integer (the field's own checks
 * only skip more). The negative terms may lie up to 3 bytes past the field's last byte, so
 * a field [a, b) with no condition holding in the blocks up to one starting at lim >= b + 4
 * has none. More fields pass this than pass their own check (a digit of a length byte can
 * extend a run of digits): those are only checked one by one. Returns the offset of the
 * first 64-byte block from `from` where one holds, or SIZE_MAX. Blocks without an anchor
 * near them (anchors()) skip the conditions: most of a result's blocks.
 */
#define PF_RUN(name, classify, classify_tail, attr)                                                \
	static inline __attribute__((always_inline))                                               \
	attr size_t name##_w(const uint8_t *s, size_t n, size_t from, unsigned want)               \
	{                                                                                          \
		struct pfb b[2], *p = &b[0], *c = &b[1], *t;                                       \
		uint64_t ap = 0, ac;                                                               \
		bool pfull = true; /* the zero block before `from` is exact */                    \
                                                                                                   \
		memset(p, 0, sizeof(*p));                                                          \
		for (size_t off = from;; off += 64) {                                              \
			if (off + 64 <= n)                                                         \
				classify(s + off, c->k);                                           \
			else if (off < n)                                                          \
				classify_tail(s + off, n - off, c->k);                             \
			else                                                                       \
				memset(c->k, 0, sizeof(c->k));                                     \
			ac = anchors(p, c);                                                        \
			if (ac | ap) {                                                             \
				if (!pfull)                                                        \
					lite_fill(p);                                              \
				if (conditions(p, c, want, true))                                  \
					return off;                                                \
				pfull = true;                                                      \
			} else {                                                                   \
				pfull = false;                                                     \
			}                                                                          \
			if (off + 64 > n)                                                          \
				return SIZE_MAX;                                                   \
			ap = ac;                                                                   \
			t = p;                                                                     \
			p = c;                                                                     \
			c = t;                                                                     \
		}                                                                                  \
	}                                                                                          \
	static attr size_t name(const uint8_t *s, size_t n, size_t from, unsigned want)            \
	{                                                                                          \
		return want == ALL_DETS ? name##_w(s, n, from, ALL_DETS)                           \
					: name##_w(s, n, from, want);                              \
	}

PF_RUN(pfr_c, classify_c, classify_c_tail, )
#ifdef __x86_64__
PF_RUN(pfr_sse2, classify_sse2, classify_sse2_tail, )
PF_RUN(pfr_avx2, classify_avx2, classify_avx2_tail, __attribute__((target("avx2,popcnt,bmi,bmi2"))))
PF_RUN(pfr_avx512, classify_avx512, classify_tail_avx512, __attribute__((target(PF_AVX512))))
#endif

#ifdef __x86_64__
/*
 * The run scan with AVX-512 VBMI. Most blocks of a result have no anchor (anchors()), and
 * for those only the classes anchors() reads matter: digits, capitals, '-', 'e', 'w'|'y'
 * and, ORed, '.' '@' '+' ':'. One byte-table lookup (vpermt2b over the 128 ASCII codes;
 * bytes >= 0x80 in no class) gives each byte a class byte, and six tests turn it into the
 * masks: about half the vector work of classify_avx512's twelve compares. A block that has
 * an anchor near it is classified in full again (and the block before it, when that one
 * was only looked at this way) before conditions() run, so what they see is what the
 * other variants give them: the same offsets come out (test_mask_prefilter compares).
 */
#define PF_VBMI PF_AVX512 ",avx512vbmi"
enum { AC_D = 1, AC_U = 2, AC_DASH = 4, AC_E = 8, AC_WY = 16, AC_ONE = 32 };

#define AC_RANGE(lo, hi, v) [lo ... hi] = (v)
static const uint8_t ac_table[128] __attribute__((aligned(64))) = {
	AC_RANGE('0', '9', AC_D), AC_RANGE('A', 'Z', AC_U), ['-'] = AC_DASH, ['e'] = AC_E,
	['w'] = AC_WY, ['y'] = AC_WY, ['.'] = AC_ONE, ['@'] = AC_ONE, ['+'] = AC_ONE,
	[':'] = AC_ONE,
};
#undef AC_RANGE

static inline __attribute__((always_inline, target(PF_VBMI))) void
classify_anchor_vbmi(const uint8_t *s, size_t n, __m512i t0, __m512i t1, uint64_t *k)
{
	__m512i v = n >= 64 ? _mm512_loadu_si512((const void *)s)
			    : _mm512_maskz_loadu_epi8(_bzhi_u64(~0ull, (unsigned)n), s);
	__m512i c = _mm512_maskz_permutex2var_epi8(~_mm512_movepi8_mask(v), t0, v, t1);

#define T(bit) _mm512_test_epi8_mask(c, _mm512_set1_epi8(bit))
	k[K_D] = T(AC_D);
	k[K_U] = T(AC_U);
	k[K_DASH] = T(AC_DASH);
	k[K_E] = T(AC_E);
	k[K_WY] = T(AC_WY);
	k[K_DOT] = T(AC_ONE); /* anchors() reads these four only ORed together */
	k[K_AT] = k[K_PLUS] = k[K_COLON] = 0;
#undef T
}

static inline __attribute__((always_inline, target(PF_VBMI))) size_t
pfr_vbmi_w(const uint8_t *s, size_t n, size_t from, unsigned want)
{
	const __m512i t0 = _mm512_load_si512((const void *)ac_table);
	const __m512i t1 = _mm512_load_si512((const void *)(ac_table + 64));
	struct pfb b[2], *p = &b[0], *c = &b[1], *t;
	uint64_t ap = 0, ac;
	bool pfull = true; /* p's classes are all there (the zero block before `from`, or a
			    * block classified in full) */

	memset(p, 0, sizeof(*p));
	for (size_t off = from;; off += 64) {
		if (off < n)
			classify_anchor_vbmi(s + off, n - off, t0, t1, c->k);
		else
			memset(c->k, 0, sizeof(c->k));
		ac = anchors(p, c);
		if (ac | ap) {
			if (off + 64 <= n)
				classify_avx512(s + off, c->k);
			else if (off < n)
				classify_tail_avx512(s + off, n - off, c->k);
			if (!pfull) {
				classify_avx512(s + off - 64, p->k);
				lite_fill(p);
			}
			if (conditions(p, c, want, true))
				return off;
			pfull = true;
		} else {
			pfull = false;
		}
		if (off + 64 > n)
			return SIZE_MAX;
		ap = ac;
		t = p;
		p = c;
		c = t;
	}
}

static __attribute__((target(PF_VBMI))) size_t pfr_vbmi(const uint8_t *s, size_t n, size_t from,
							  unsigned want)
{
	return want == ALL_DETS ? pfr_vbmi_w(s, n, from, ALL_DETS) : pfr_vbmi_w(s, n, from, want);
}
#endif

typedef unsigned (*pf_fn)(const uint8_t *s, size_t n, unsigned want);
typedef size_t (*pfr_fn)(const uint8_t *s, size_t n, size_t from, unsigned want);
static pf_fn pf_impl;
static pfr_fn pfr_impl;

#ifdef __x86_64__
/* The AVX2 variant is also built for popcnt and BMI, which every AVX2 CPU has. */
static bool has_avx2(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt") &&
	       __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2");
}

/* The AVX-512 variant needs BW (byte compares into masks) and VL (the 128/256-bit forms
 * the compiler may pick inside it), on top of what the AVX2 one needs. */
static bool has_avx512(void)
{
	return has_avx2() && __builtin_cpu_supports("avx512f") &&
	       __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
}

static bool has_avx512vbmi(void)
{
	return has_avx512() && __builtin_cpu_supports("avx512vbmi");
}
#endif

static void pf_choose(void)
{
#ifdef __x86_64__
	pf_impl = has_avx512() ? pf_avx512 : has_avx2() ? pf_avx2 : pf_sse2;
	pfr_impl = has_avx512vbmi() ? pfr_vbmi
		   : has_avx512() ? pfr_avx512
		   : has_avx2()	  ? pfr_avx2
				  : pfr_sse2;
#else
	pf_impl = pf_c;
	pfr_impl = pfr_c;
#endif
}

static pf_fn pf_get(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, pf_choose);
	return pf_impl;
}

int rg_mask_prefilter_use(enum rg_mask_prefilter_impl impl)
{
	pf_get(); /* so a later first use does not override the choice */
	switch (impl) {
	case RG_MASK_PF_AUTO:
		pf_choose();
		return 0;
	case RG_MASK_PF_SCALAR:
		pf_impl = pf_c;
		pfr_impl = pfr_c;
		return 0;
#ifdef __x86_64__
	case RG_MASK_PF_SSE2:
		pf_impl = pf_sse2;
		pfr_impl = pfr_sse2;
		return 0;
	case RG_MASK_PF_AVX2:
		if (!has_avx2())
			return -ENOTSUP;
		pf_impl = pf_avx2;
		pfr_impl = pfr_avx2;
		return 0;
	case RG_MASK_PF_AVX512:
		if (!has_avx512())
			return -ENOTSUP;
		pf_impl = pf_avx512;
		pfr_impl = pfr_avx512;
		return 0;
	case RG_MASK_PF_AVX512VBMI:
		if (!has_avx512vbmi())
			return -ENOTSUP;
		pf_impl = pf_avx512;
		pfr_impl = pfr_vbmi;
		return 0;
#endif
	default:
		return -ENOTSUP;
	}
}

unsigned rg_mask_prefilter(const uint8_t *p, size_t n, unsigned detectors)
{
	detectors &= ALL_DETS;
	if (!detectors || n == 0)
		return 0;
	return pf_get()(p, n, detectors);
}

/* ---- masker ---- */

unsigned rg_mask_detectors(const struct rg_mask_action *acts, size_t n, const uint8_t *en)
{
	unsigned set = 0;

	for (size_t i = 0; i < n; i++)
		if (acts[i].detector >= 0 && acts[i].detector < RG_DET__COUNT && (!en || en[i]))
			set |= 1u << acts[i].detector;
	return set;
}

void rg_masker_set_prefilter(struct rg_masker *m, bool on)
{
	m->prefilter = on;
}

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
	m->prefilter = true;
	if (db) {
		if (hs_alloc_scratch(db, &m->scratch) != HS_SUCCESS)
			goto out_free;
		m->active = rg_mask_detectors(acts, nacts, NULL);
		pf_get();
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
	free(m->of);
	free(m->ooff);
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
	if (!GROW(m->of, cap) || !GROW(m->ooff, cap))
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

	for (size_t k = 0; k < ns; k++) {
		int det = m->acts[sp[k].act].detector;

		out->rules_hit |= 1ull << (m->acts[sp[k].act].rule_index % 64);
		out->detectors_hit |= det >= 0 && det < 31 ? 1u << det : 1u << 31;
	}
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

/*
 * Trailing spaces change no confirmed match (char(n) pads every value with them): no
 * pattern ends with a space, and no boundary rule in detect.c treats a space after a match
 * differently from the field's end (glued_right is false for ' ' when no digit follows it).
 * So a field is prefiltered and SOM-scanned without them (the prefilter's conditions hold
 * for the confirmed matches of a field, and those are the same); a rewrite keeps them.
 * The reference path (prefilter off) scans whole fields, so the tests compare both.
 */
static inline size_t trim_spaces(const uint8_t *p, size_t n)
{
	uint64_t w;

	if (!n || p[n - 1] != ' ')
		return n;
	for (; n >= 8; n -= 8) { /* eight at a time: a char(n) pad is long */
		memcpy(&w, p + n - 8, 8);
		if (w != 0x2020202020202020ull)
			break;
	}
	while (n && p[n - 1] == ' ')
		n--;
	return n;
}

/* Integers are most of the short fields of a result (ids, counts, amounts): they are
 * settled by their digit count (rg_detector_digit_field) without the prefilter. Longer
 * fields are left to it. */
#define DIGIT_FIELD_MAX 32

/* The digits in p[0..n) if it is an optional '-' then one or more decimal digits, else -1. */
static inline int digit_field(const uint8_t *p, size_t n)
{
	size_t i = n && p[0] == '-';

	if (n > DIGIT_FIELD_MAX || i == n)
		return -1;
	for (size_t k = i; k < n; k++)
		if ((uint8_t)(p[k] - '0') > 9)
			return -1;
	return (int)(n - i);
}

/* The detectors rows are scanned for under plan. */
static inline unsigned plan_active(const struct rg_masker *m, const struct rg_mask_plan *plan)
{
	if (!m->db)
		return 0;
	if (!plan || !plan->enabled)
		return m->active;
	if (plan->detectors & RG_MASK_PLAN_DETECTORS)
		return plan->detectors & m->active;
	return rg_mask_detectors(m->acts, m->nacts, plan->enabled);
}

/*
 * Whether a field needs the SOM scan for the detectors in active: false when none can
 * confirm a match in it. *scan: how much of it to scan (trailing spaces left out). With
 * the prefilter off (tests' reference), every non-empty field is scanned whole.
 */
static inline bool field_needs_scan(const struct rg_masker *m, unsigned active, const uint8_t *p,
				    size_t len, size_t *scan)
{
	*scan = len;
	if (!active || !len)
		return false;
	if (!m->prefilter)
		return true;
	size_t n = trim_spaces(p, len);
	int nd = digit_field(p, n);
	if (nd >= 0 && !(active &= rg_detector_digit_field((size_t)nd)))
		return false; /* an integer none of the enabled detectors matches in */
	*scan = n;
	return n && pf_impl(p, n, active);
}

bool rg_masker_field_clear(const struct rg_masker *m, const struct rg_mask_plan *plan,
			   const uint8_t *p, size_t len)
{
	size_t scan;
	return !field_needs_scan(m, plan_active(m, plan), p, len, &scan);
}

size_t rg_masker_run_clear(const struct rg_masker *m, const struct rg_mask_plan *plan,
			   const uint8_t *p, size_t n, size_t from)
{
	unsigned active = plan_active(m, plan);

	if (!active || from >= n)
		return SIZE_MAX;
	if (!m->prefilter)
		return 0;
	return pfr_impl(p, n, from, active);
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
	unsigned active = plan_active(m, plan);
	int rc = 0;

	*out = (struct rg_mask_result){0};
	if (reserve_fields(m, nfields))
		return -ENOMEM;
	out->fields = m->of;
	m->blen = 0;
	m->enabled = enabled;

	for (size_t i = 0; i < nfields; i++) {
		const struct rg_mask_field *f = &fields[i];
		m->of[i] = (struct rg_mask_out_field){false, f->is_null, f->data, f->len};
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
		size_t n; /* what is scanned: trailing spaces cannot matter */
		if (!field_needs_scan(m, active, f->data, f->len, &n))
			continue;
		m->cur = f->data;
		m->curlen = n;
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
		rc = rewrite_field(m, i, f->data, f->len, m->spans, ns, out);
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
