/*
 * audit.c: the audit trail's files, writer and verifier (see evidence.h for the promises).
 *
 * Segment file audit-<segment, 16 digits>.seg: a 64-byte header
 *   "RGAUDIT1" | u64 segment | u64 first_seq | prev_chain[32] | u64 prev_len
 * (prev_chain: the chain hash the previous segment ended on; prev_len: how many of its
 * bytes hold, so a record torn by a crash before this segment began is told apart from an
 * edit), then records, little-endian:
 *   u32 total | u8 kind | 3 zero bytes | u64 seq | i64 time_us | u32 len | payload[len]
 *   | u64 xxh3(everything before it) | chain[32] = SHA-256(previous chain | everything before)
 * A checkpoint's payload is an Ed25519 signature over
 *   "ringgate-audit-checkpoint" | u64 segment | u64 its seq | the chain before it.
 * The writer seals a segment before starting the next, every checkpoint_records records and
 * at close, and writes a checkpoint first thing in every segment it opens after a restart,
 * so what a crash left unsealed is sealed as found.
 */
#include <dirent.h>
#include <stdarg.h>
#include <sys/file.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "evidence-int.h"

#define MAGIC "RGAUDIT1"
#define HDR_LEN 64u
#define REC_HEAD 28u /* total .. len */
#define REC_TAIL (8u + 32u)
#define SIG_LEN 64u
#define REC_MAX (16u << 20) /* one record's payload at most */
static const char CKPT_CTX[] = "ringgate-audit-checkpoint";

/* ---- encoding ------------------------------------------------------------------------------- */

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* SHA-256 of a chain hash and the bytes of a record (EVP: the low-level calls are gone).
 * *mcp: the caller's digest context, made on first use and reused (one per writer or walk:
 * a context per record was a malloc and a fetch per record). */
static EVP_MD *g_sha256; /* fetched once: an implicit fetch per record takes a lock */
static pthread_once_t g_sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
	g_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static void chain_next(EVP_MD_CTX **mcp, const uint8_t prev[32], const uint8_t *b, size_t n,
		       uint8_t out[32])
{
	unsigned int len = 32;

	pthread_once(&g_sha256_once, sha256_fetch);
	if (!*mcp)
		*mcp = EVP_MD_CTX_new();
	if (!*mcp || !g_sha256 || EVP_DigestInit_ex(*mcp, g_sha256, NULL) != 1 ||
	    EVP_DigestUpdate(*mcp, prev, 32) != 1 || EVP_DigestUpdate(*mcp, b, n) != 1 ||
	    EVP_DigestFinal_ex(*mcp, out, &len) != 1)
		memset(out, 0, 32); /* out of memory: a record no verification accepts */
}

/* Encode a record into out (REC_HEAD + len + REC_TAIL bytes); chain is updated. */
static void encode(EVP_MD_CTX **mcp, uint8_t *out, uint8_t kind, uint64_t seq, int64_t time_us,
		   const void *payload, uint32_t len, uint8_t chain[32])
{
	uint32_t total = REC_HEAD + len + REC_TAIL;

	put32(out, total);
	out[4] = kind;
	out[5] = out[6] = out[7] = 0;
	put64(out + 8, seq);
	put64(out + 16, (uint64_t)time_us);
	put32(out + 24, len);
	memcpy(out + REC_HEAD, payload, len);
	put64(out + REC_HEAD + len, XXH3_64bits(out, REC_HEAD + len));
	chain_next(mcp, chain, out, REC_HEAD + len + 8, chain);
	memcpy(out + REC_HEAD + len + 8, chain, 32);
}

static void ckpt_message(uint8_t msg[sizeof(CKPT_CTX) - 1 + 16 + 32], uint64_t segment,
			 uint64_t seq, const uint8_t chain[32])
{
	memcpy(msg, CKPT_CTX, sizeof(CKPT_CTX) - 1);
	put64(msg + sizeof(CKPT_CTX) - 1, segment);
	put64(msg + sizeof(CKPT_CTX) - 1 + 8, seq);
	memcpy(msg + sizeof(CKPT_CTX) - 1 + 16, chain, 32);
}

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void seg_path(char *out, size_t n, const char *dir, uint64_t segment)
{
	snprintf(out, n, "%s/audit-%016llu.seg", dir, (unsigned long long)segment);
}

/* Segment numbers in dir, ascending (*v: free). */
static int list_segments(const char *dir, uint64_t **v, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t cap = 0;

	*v = NULL;
	*n = 0;
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		unsigned long long s;
		char tail[8];

		if (sscanf(e->d_name, "audit-%16llu.se%1s", &s, tail) != 2 || strcmp(tail, "g") ||
		    strlen(e->d_name) != 26)
			continue;
		if (*n == cap) {
			uint64_t *nv = realloc(*v, (cap = cap ? 2 * cap : 16) * sizeof(*nv));

			if (!nv) {
				closedir(d);
				return -ENOMEM;
			}
			*v = nv;
		}
		(*v)[(*n)++] = s;
	}
	closedir(d);
	for (size_t i = 1; i < *n; i++) /* insertion sort: few files */
		for (size_t k = i; k > 0 && (*v)[k - 1] > (*v)[k]; k--) {
			uint64_t t = (*v)[k];
			(*v)[k] = (*v)[k - 1];
			(*v)[k - 1] = t;
		}
	return 0;
}

static int read_file(const char *path, uint8_t **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	long sz;

	*buf = NULL;
	*len = 0;
	if (!f)
		return -errno;
	if (fseek(f, 0, SEEK_END) || (sz = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		fclose(f);
		return -EIO;
	}
	*buf = malloc(sz ? (size_t)sz : 1);
	if (!*buf || fread(*buf, 1, (size_t)sz, f) != (size_t)sz) {
		free(*buf);
		*buf = NULL;
		fclose(f);
		return -EIO;
	}
	fclose(f);
	*len = (size_t)sz;
	return 0;
}

/* ---- walking a segment (verify and resume share it) ---------------------------------------- */

struct walk {
	EVP_MD_CTX *mc; /* the chain's digest context (freed by walk_dir) */
	/* the first segment present is not segment 1: a retention record must say that
	 * segments up to need_through ending on need_chain were removed */
	uint64_t need_through;
	uint8_t need_chain[32];
	bool need_met;
	EVP_PKEY *pub; /* NULL: checkpoints are not checked (the writer resuming its own) */
	uint64_t seq;  /* the next sequence number expected */
	uint8_t chain[32];
	bool have_chain;
	uint64_t segment; /* the next segment number expected */
	bool first;
	uint64_t prev_valid; /* bytes of the previous segment that held */
	struct rg_audit_report *r;
	rg_audit_each_fn each;
	void *arg;
};

static int broken(struct walk *w, const char *file, uint64_t off, const char *why)
{
	w->r->verdict = RG_AUDIT_BROKEN;
	snprintf(w->r->file, sizeof(w->r->file), "%s", file);
	w->r->offset = off;
	w->r->seq = w->seq;
	snprintf(w->r->why, sizeof(w->r->why), "%s", why);
	return -1;
}

/* The retention record's payload, as the writer makes it (retention_run): the removed
 * segments ended with segment `through_segment` on chain `chain`. */
#define RETENTION_FMT "{\"event\":\"retention\",\"through_segment\":%llu,\"chain\":\"%64[0-9a-f]\""
#define RETENTION_FMT_OUT "{\"event\":\"retention\",\"through_segment\":%llu,\"chain\":\"%s\""

static bool retention_covers(const struct walk *w, const uint8_t *p, uint32_t len)
{
	static const char head[] = "{\"event\":\"retention\",";
	char txt[512], hex[65];
	unsigned long long through;
	uint8_t chain[32];

	if (len < sizeof(head) - 1 || len >= sizeof(txt) || memcmp(p, head, sizeof(head) - 1))
		return false;
	memcpy(txt, p, len);
	txt[len] = '\0';
	if (sscanf(txt, RETENTION_FMT, &through, hex) != 2 || through != w->need_through)
		return false;
	for (int i = 0; i < 32; i++) {
		unsigned v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return false;
		chain[i] = (uint8_t)v;
	}
	return !memcmp(chain, w->need_chain, 32);
}

/* One segment's bytes. Returns 0 (all held; *valid = its length), 1 (a torn tail: *valid
 * bytes held, the rest is not a whole record), or -1 (broken, reported). */
static int walk_segment(struct walk *w, const char *file, const uint8_t *b, size_t n,
			bool last, size_t *valid)
{
	size_t off = HDR_LEN;
	uint64_t seg;

	*valid = 0;
	if (n < HDR_LEN || memcmp(b, MAGIC, 8))
		return broken(w, file, 0, "not a segment header");
	seg = get64(b + 8);
	if (!w->first && seg != w->segment)
		return broken(w, file, 0, "segment number out of order (a segment is missing)");
	if (!w->first && get64(b + 16) != w->seq)
		return broken(w, file, 0, "first sequence number does not follow the last segment's");
	if (w->have_chain && memcmp(b + 24, w->chain, 32))
		return broken(w, file, 0, "does not chain to the previous segment (replaced?)");
	if (!w->first && get64(b + 56) != w->prev_valid)
		return broken(w, file, 0, "the previous segment's length is not what was written");
	if (w->first) {
		static const uint8_t zero[32];

		w->seq = get64(b + 16);
		memcpy(w->chain, b + 24, 32);
		w->have_chain = true;
		w->first = false;
		if (seg == 1 && (w->seq != 1 || memcmp(b + 24, zero, 32)))
			return broken(w, file, 0, "the first segment does not start the trail");
		if (seg != 1) {
			w->need_through = seg - 1;
			memcpy(w->need_chain, b + 24, 32);
		}
	}
	w->segment = seg + 1;
	w->r->segments++;
	while (off < n) {
		uint32_t total, len;
		uint8_t kind, chain[32];
		uint64_t seq;

		if (n - off < REC_HEAD || (total = get32(b + off)) < REC_HEAD + REC_TAIL ||
		    total > n - off) {
			if (last || n - off < REC_HEAD || total > n - off) {
				*valid = off;
				return 1; /* a record cut short */
			}
		}
		kind = b[off + 4];
		seq = get64(b + off + 8);
		len = get32(b + off + 24);
		if (REC_HEAD + (uint64_t)len + REC_TAIL != total || b[off + 5] || b[off + 6] ||
		    b[off + 7] || (kind != RG_AUDIT_EVENT && kind != RG_AUDIT_CHECKPOINT))
			return broken(w, file, off, "malformed record");
		if (XXH3_64bits(b + off, REC_HEAD + len) != get64(b + off + REC_HEAD + len))
			return broken(w, file, off, "checksum mismatch (the record was edited)");
		/* sequence numbers count event records; a checkpoint carries the last one's */
		if (seq != (kind == RG_AUDIT_CHECKPOINT ? w->seq - 1 : w->seq))
			return broken(w, file, off,
				      seq > w->seq ? "sequence gap (a record was deleted)"
						   : "sequence out of order (records reordered)");
		chain_next(&w->mc, w->chain, b + off, REC_HEAD + len + 8, chain);
		if (memcmp(chain, b + off + REC_HEAD + len + 8, 32))
			return broken(w, file, off, "chain hash mismatch");
		if (kind == RG_AUDIT_CHECKPOINT) {
			uint8_t msg[sizeof(CKPT_CTX) - 1 + 16 + 32];
			EVP_MD_CTX *mc;
			int ok;

			if (len != SIG_LEN)
				return broken(w, file, off, "malformed checkpoint");
			ckpt_message(msg, seg, seq, w->chain);
			if (w->pub) {
				mc = EVP_MD_CTX_new();
				ok = mc && EVP_DigestVerifyInit(mc, NULL, NULL, NULL, w->pub) == 1 &&
				     EVP_DigestVerify(mc, b + off + REC_HEAD, SIG_LEN, msg,
						      sizeof(msg)) == 1;
				EVP_MD_CTX_free(mc);
				if (!ok)
					return broken(w, file, off,
						      "checkpoint signature does not verify");
			}
			w->r->checkpoints++;
			w->r->unsealed = 0;
		} else {
			w->r->records++;
			w->r->unsealed++;
			if (w->need_through && !w->need_met)
				w->need_met = retention_covers(w, b + off + REC_HEAD, len);
			if (w->each &&
			    !w->each(w->arg, seq, (int64_t)get64(b + off + 16),
				     (const char *)b + off + REC_HEAD, len))
				return 2;
		}
		memcpy(w->chain, chain, 32);
		if (kind == RG_AUDIT_EVENT)
			w->seq++;
		off += total;
	}
	*valid = n;
	return 0;
}

static int walk_dir(const char *dir, struct walk *w)
{
	uint64_t *segs;
	size_t nseg, valid = 0;
	char path[512];
	int r;

	memset(w->r, 0, sizeof(*w->r));
	w->first = true;
	w->seq = 1;
	if ((r = list_segments(dir, &segs, &nseg))) {
		w->r->verdict = RG_AUDIT_UNREADABLE;
		snprintf(w->r->why, sizeof(w->r->why), "%s: %s", dir, strerror(-r));
		return 0;
	}
	for (size_t i = 0; i < nseg; i++) {
		uint8_t *b;
		size_t n;
		int k;

		seg_path(path, sizeof(path), dir, segs[i]);
		if (read_file(path, &b, &n)) {
			w->r->verdict = RG_AUDIT_UNREADABLE;
			snprintf(w->r->file, sizeof(w->r->file), "%s", path);
			snprintf(w->r->why, sizeof(w->r->why), "cannot read");
			break;
		}
		k = walk_segment(w, path, b, n, i + 1 == nseg, &valid);
		free(b);
		if (k < 0 || k == 2)
			break;
		if (k == 1 && i + 1 == nseg) {
			/* the writer's last record was cut (a crash, or the tail cut off) */
			snprintf(w->r->file, sizeof(w->r->file), "%s", path);
			w->r->offset = valid;
			snprintf(w->r->why, sizeof(w->r->why), "torn tail after %zu bytes", valid);
		}
		w->prev_valid = valid;
	}
	if ((w->r->verdict == RG_AUDIT_OK || w->r->verdict == RG_AUDIT_UNSEALED) &&
	    w->need_through && !w->need_met && nseg) {
		seg_path(path, sizeof(path), dir, segs[0]);
		w->r->verdict = RG_AUDIT_BROKEN;
		snprintf(w->r->file, sizeof(w->r->file), "%s", path);
		w->r->offset = 0;
		snprintf(w->r->why, sizeof(w->r->why),
			 "segments up to %llu are missing and no retention record says they were "
			 "removed",
			 (unsigned long long)w->need_through);
	}
	if (w->r->verdict == RG_AUDIT_OK && w->r->unsealed)
		w->r->verdict = RG_AUDIT_UNSEALED;
	free(segs);
	EVP_MD_CTX_free(w->mc);
	w->mc = NULL;
	return 0;
}

static EVP_PKEY *load_key(const char *file, bool priv)
{
	FILE *f = fopen(file, "r");
	EVP_PKEY *k;

	if (!f)
		return NULL;
	k = priv ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	if (k && EVP_PKEY_get_id(k) != EVP_PKEY_ED25519) {
		EVP_PKEY_free(k);
		return NULL;
	}
	return k;
}

int rg_audit_verify(const char *dir, const char *pubkey_file, struct rg_audit_report *r)
{
	struct walk w = {.r = r};

	memset(r, 0, sizeof(*r));
	w.pub = load_key(pubkey_file, false);
	if (!w.pub)
		return -EINVAL;
	walk_dir(dir, &w);
	EVP_PKEY_free(w.pub);
	return 0;
}

int rg_audit_check(const struct rg_audit_opts *o, char *err, size_t errlen)
{
	struct rg_audit_report r;
	struct walk w = {.r = &r};
	struct stat st;
	int ret = 0;

	/* a private key holds its public half: it verifies the checkpoints it signed */
	w.pub = load_key(o->key_file, true);
	if (!w.pub) {
		snprintf(err, errlen, "%s: not an Ed25519 private key (PEM)", o->key_file);
		return -EINVAL;
	}
	if (stat(o->dir, &st) == 0) {
		walk_dir(o->dir, &w);
		if (r.verdict == RG_AUDIT_BROKEN || r.verdict == RG_AUDIT_UNREADABLE) {
			snprintf(err, errlen, "%s: the trail does not verify (%s%s%s at offset %llu)",
				 o->dir, r.why, r.file[0] ? " in " : "", r.file,
				 (unsigned long long)r.offset);
			ret = -EBADMSG;
		}
	}
	EVP_PKEY_free(w.pub);
	return ret;
}

int rg_audit_each(const char *dir, rg_audit_each_fn fn, void *arg)
{
	struct rg_audit_report r;
	struct walk w = {.r = &r, .each = fn, .arg = arg};

	walk_dir(dir, &w);
	return r.verdict == RG_AUDIT_UNREADABLE ? -EIO : 0;
}

/* ---- the writer ------------------------------------------------------------------------------- */

/*
 * One writer thread owns the segment file. It takes records from two sources: the locked
 * queue of rg_audit_append (the gateway's own events, the approvals thread) and the
 * producers' journals, which it polls every JR_POLL_MS while any are attached. Sequence
 * numbers are given as records are written. Records are encoded into one output buffer and
 * written with one write(2) per batch. A failed write is cut back out of the segment
 * (ftruncate to the last good length, which works on a full disk too), the error is set
 * (rg_audit_error, which the data path reads to fail closed) and the same records are tried
 * again every RETRY_MS until a write succeeds: nothing is taken off a queue or a journal
 * before its records are written.
 */
#define JR_POLL_MS 5
#define RETRY_MS 1000
#define OBUF_FLUSH (256u << 10)
#define JR_MAX 64 /* journals per trail (workers) */

struct qrec {
	struct qrec *next;
	int64_t time_us;
	uint32_t len;
	uint8_t kind;
	uint8_t payload[];
};

struct rg_audit {
	struct rg_audit_opts o;
	char dir[400];
	EVP_PKEY *key;
	int lockfd;
	pthread_t thr;
	pthread_mutex_t mu;
	pthread_cond_t cv, done_cv, room_cv;
	struct qrec *head, *tail; /* mu */
	size_t queued;		  /* mu: payload bytes */
	uint64_t appended;	  /* mu: records appended */
	uint64_t taken;		  /* mu: records of the queue written */
	uint64_t kicks;		  /* mu: a producer found its journal full */
	bool stop;
	_Atomic int error; /* 0, or the negative errno of the last failed write */
	/* journals (set once before producers start; the writer drains them) */
	struct rg_audit_jr *jr[JR_MAX];
	unsigned njr, nproducers;
	rg_audit_fmt_fn fmt;
	void *fmt_arg;
	char jdir[400];
	/* writer thread only */
	int fd;
	uint64_t segment, seg_bytes, since_ckpt, last_seq;
	uint64_t good_bytes; /* of the segment: written and holding */
	uint8_t chain[32], good_chain[32];
	uint64_t good_seq, good_since;
	uint64_t open_next_seq; /* the trail's next seq when opened: journal recovery's measure */
	uint64_t retention_at;	/* CLOCK_MONOTONIC ms of the next retention check */
	uint64_t last_sync_ms;
	_Atomic uint64_t written;
	uint8_t *obuf;
	size_t olen, ocap;
	EVP_MD_CTX *mc;
	struct rg_audit_buf fbuf; /* the formatter's output */
};

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Writer: start segment a->segment chained to a->chain, prev_len bytes of the last held. */
static int seg_open(struct rg_audit *a, uint64_t first_seq, uint64_t prev_len)
{
	uint8_t h[HDR_LEN] = {0};
	char path[512];
	int r;

	seg_path(path, sizeof(path), a->dir, a->segment);
	a->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
	if (a->fd < 0)
		return -errno;
	memcpy(h, MAGIC, 8);
	put64(h + 8, a->segment);
	put64(h + 16, first_seq);
	memcpy(h + 24, a->chain, 32);
	put64(h + 56, prev_len);
	if ((r = write_all(a->fd, h, sizeof(h)))) {
		/* a header that is not whole is no segment: remove it and try again later */
		close(a->fd);
		a->fd = -1;
		unlink(path);
		return r;
	}
	a->seg_bytes = a->good_bytes = HDR_LEN;
	/* the directory entry too: a crash must not lose the file */
	{
		int dfd = open(a->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	}
	return 0;
}

/* Writer: the encoded records in obuf go to the file; on failure they are cut back out, and
 * the chain and counters return to the last good state. */
static int obuf_flush(struct rg_audit *a)
{
	int r = 0;

	if (a->fd < 0)
		r = -EIO;
	else if (a->olen)
		r = write_all(a->fd, a->obuf, a->olen);
	if (r) {
		if (a->fd >= 0 && ftruncate(a->fd, (off_t)a->good_bytes))
			r = -errno;
		memcpy(a->chain, a->good_chain, 32);
		a->last_seq = a->good_seq;
		a->since_ckpt = a->good_since;
		a->seg_bytes = a->good_bytes;
	} else {
		memcpy(a->good_chain, a->chain, 32);
		a->good_seq = a->last_seq;
		a->good_since = a->since_ckpt;
		a->good_bytes = a->seg_bytes;
	}
	a->olen = 0;
	return r;
}

/* Writer: encode one record into obuf (a checkpoint carries the last event's seq). */
static int put_record(struct rg_audit *a, uint8_t kind, int64_t t, const void *payload,
		      uint32_t len)
{
	size_t n = REC_HEAD + len + REC_TAIL;
	uint64_t seq = kind == RG_AUDIT_EVENT ? a->last_seq + 1 : a->last_seq;

	if (a->ocap - a->olen < n) {
		size_t cap = a->ocap ? a->ocap : 64u << 10;
		uint8_t *nb;

		while (cap - a->olen < n)
			cap *= 2;
		if (!(nb = realloc(a->obuf, cap)))
			return -ENOMEM;
		a->obuf = nb;
		a->ocap = cap;
	}
	encode(&a->mc, a->obuf + a->olen, kind, seq, t, payload, len, a->chain);
	a->olen += n;
	a->seg_bytes += n;
	if (kind == RG_AUDIT_EVENT) {
		a->last_seq = seq;
		a->since_ckpt++;
	}
	return 0;
}

/* Writer: a checkpoint, carrying the sequence number of the last event record. */
static int checkpoint(struct rg_audit *a)
{
	uint64_t seq = a->last_seq;
	uint8_t msg[sizeof(CKPT_CTX) - 1 + 16 + 32], sig[SIG_LEN];
	size_t slen = sizeof(sig);
	EVP_MD_CTX *mc = EVP_MD_CTX_new();
	int ok;

	ckpt_message(msg, a->segment, seq, a->chain);
	ok = mc && EVP_DigestSignInit(mc, NULL, NULL, NULL, a->key) == 1 &&
	     EVP_DigestSign(mc, sig, &slen, msg, sizeof(msg)) == 1 && slen == SIG_LEN;
	EVP_MD_CTX_free(mc);
	if (!ok)
		return -EIO;
	a->since_ckpt = 0;
	return put_record(a, RG_AUDIT_CHECKPOINT, now_us(), sig, SIG_LEN);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Writer: after each record: a checkpoint every checkpoint_records records. */
static int maybe_ckpt(struct rg_audit *a)
{
	return a->since_ckpt >= a->o.checkpoint_records ? checkpoint(a) : 0;
}

/* Writer, after a batch is written: a full segment is sealed, synced and closed, and the
 * next one begun. Only then, so that a batch is written whole or not at all. */
static int maybe_rotate(struct rg_audit *a)
{
	uint64_t len;
	int r;

	if (a->fd < 0 || a->seg_bytes < a->o.segment_bytes)
		return 0;
	if ((r = checkpoint(a)) || (r = obuf_flush(a)) || (r = fsync(a->fd) ? -errno : 0))
		return r;
	len = a->seg_bytes;
	close(a->fd);
	a->fd = -1;
	a->segment++;
	if ((r = seg_open(a, a->last_seq + 1, len)))
		a->segment--; /* ensure_open makes it later */
	return r;
}

/* Writer: encoded records that were not written are forgotten (chain and counters back). */
static void obuf_discard(struct rg_audit *a)
{
	a->olen = 0;
	memcpy(a->chain, a->good_chain, 32);
	a->last_seq = a->good_seq;
	a->since_ckpt = a->good_since;
	a->seg_bytes = a->good_bytes;
}

/* Writer: the trail is open for writing (after a failure the segment may need reopening). */
static int ensure_open(struct rg_audit *a)
{
	char path[512];
	struct stat st;

	if (a->fd >= 0)
		return 0;
	/* the sealed segment a->segment exists when its successor could not be made */
	seg_path(path, sizeof(path), a->dir, a->segment);
	if (!stat(path, &st)) {
		uint64_t len = (uint64_t)st.st_size;

		a->segment++;
		if (seg_open(a, a->last_seq + 1, len)) {
			a->segment--;
			return -EIO;
		}
		return 0;
	}
	return -EIO;
}

/* Writer: the queue's records (taken under mu by the caller). 0, or the error: nothing of
 * the batch is then in the trail (the caller puts it back). */
static int write_queue(struct rg_audit *a, struct qrec *batch)
{
	bool close_ckpt = false;
	int r = 0;

	for (struct qrec *q = batch; q && !r; q = q->next) {
		if (q->kind == RG_AUDIT_CHECKPOINT) {
			close_ckpt = true;
			continue;
		}
		if (!(r = put_record(a, RG_AUDIT_EVENT, q->time_us, q->payload, q->len)))
			r = maybe_ckpt(a);
	}
	if (!r && close_ckpt)
		r = checkpoint(a);
	if (r) {
		obuf_discard(a);
		return r;
	}
	return obuf_flush(a);
}

/* Writer: every record journal j holds now, one trail record each. 0, or the error: nothing
 * of it is then in the trail and the journal keeps it. */
static int drain_journal(struct rg_audit *a, struct rg_audit_jr *j)
{
	uint64_t pos = rg_jr_tail(j), end = rg_jr_head(j);
	struct rg_audit_buf *b = &a->fbuf;
	struct rg_jr_rec rec;
	uint64_t n = 0;
	int r = 0, rc = 0;

	if (pos == end)
		return 0;
	rg_jr_pending(j, a->good_seq + 1, end);
	while (!r && (rc = rg_jr_read(j, &pos, end, &rec)) > 0) {
		n++;
		b->len = 0;
		b->oom = false;
		if (a->fmt)
			a->fmt(a->fmt_arg, rec.type, rec.time_us, rec.body, rec.len, b);
		if (!b->len || b->oom) {
			b->len = 0;
			b->oom = false;
			rg_audit_buf_printf(b, "{\"event\":\"unformattable\",\"type\":%u,\"len\":%u}",
					    rec.type, rec.len);
		}
		if (b->oom)
			r = -ENOMEM;
		else if (!(r = put_record(a, RG_AUDIT_EVENT, rec.time_us, b->p, (uint32_t)b->len)))
			r = maybe_ckpt(a);
	}
	if (r) {
		obuf_discard(a);
		rg_jr_abandon_pending(j);
		return r;
	}
	if (rc < 0) /* torn (only a damaged file can be): what follows is skipped, and said */
		fprintf(stderr, "event=audit_journal_torn journal=%s at=%llu\n", j->path,
			(unsigned long long)pos);
	if ((r = obuf_flush(a))) {
		rg_jr_abandon_pending(j);
		return r;
	}
	rg_jr_consumed(j, end);
	atomic_fetch_add(&a->written, n);
	return 0;
}

/*
 * Writer: remove the sealed segments last written before now - retention (oldest first, not
 * the open one), after writing and syncing a record that names them: the last removed
 * segment, the last sequence number in it and the chain hash it ended on (the next segment's
 * header holds it), which verification needs to accept a trail that no longer starts with
 * segment 1. The removal itself is thus part of the evidence.
 */
static int retention_run(struct rg_audit *a)
{
	static const char hexd[] = "0123456789abcdef";
	uint64_t *segs = NULL, through_seq;
	size_t n = 0, k = 0;
	time_t cutoff = time(NULL) - (time_t)(a->o.retention_ms / 1000);
	uint8_t h[HDR_LEN];
	char path[512], hex[65], txt[512];
	int fd, r = 0;

	if (list_segments(a->dir, &segs, &n))
		return 0;
	for (; k + 1 < n && segs[k] < a->segment; k++) {
		struct stat st;

		seg_path(path, sizeof(path), a->dir, segs[k]);
		if (stat(path, &st) || st.st_mtime >= cutoff)
			break;
	}
	if (!k)
		goto out;
	/* the chain the removed ones ended on: the next segment's header */
	seg_path(path, sizeof(path), a->dir, segs[k]);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, h, sizeof(h)) != (ssize_t)sizeof(h) || memcmp(h, MAGIC, 8)) {
		if (fd >= 0)
			close(fd);
		goto out;
	}
	close(fd);
	through_seq = get64(h + 16) - 1;
	for (int i = 0; i < 32; i++) {
		hex[2 * i] = hexd[h[24 + i] >> 4];
		hex[2 * i + 1] = hexd[h[24 + i] & 15];
	}
	hex[64] = '\0';
	snprintf(txt, sizeof(txt),
		 RETENTION_FMT_OUT ",\"through_seq\":%llu,\"segments\":%zu,\"older_than_s\":%llu}",
		 (unsigned long long)segs[k - 1], hex, (unsigned long long)through_seq, k,
		 (unsigned long long)(a->o.retention_ms / 1000));
	if ((r = put_record(a, RG_AUDIT_EVENT, now_us(), txt, (uint32_t)strlen(txt))) ||
	    (r = obuf_flush(a)) || (r = fdatasync(a->fd) ? -errno : 0))
		goto out;
	atomic_fetch_add(&a->written, 1);
	for (size_t i = 0; i < k; i++) {
		seg_path(path, sizeof(path), a->dir, segs[i]);
		unlink(path);
	}
	{
		int dfd = open(a->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	}
	fprintf(stderr, "event=audit_retention dir=%s segments_removed=%zu through_seq=%llu\n",
		a->dir, k, (unsigned long long)through_seq);
out:
	free(segs);
	return r;
}

static void set_error(struct rg_audit *a, int r)
{
	int was = atomic_exchange(&a->error, r);

	if (r && !was)
		fprintf(stderr, "event=audit_write_failed dir=%s detail=\"%s\"\n", a->dir,
			strerror(-r));
	else if (!r && was)
		fprintf(stderr, "event=audit_write_recovered dir=%s\n", a->dir);
}

static void timed_wait(struct rg_audit *a, unsigned ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += (long)ms * 1000000;
	ts.tv_sec += ts.tv_nsec / 1000000000;
	ts.tv_nsec %= 1000000000;
	pthread_cond_timedwait(&a->cv, &a->mu, &ts);
}

static void *writer_main(void *arg)
{
	struct rg_audit *a = arg;
	uint64_t retry_at = 0;

	pthread_mutex_lock(&a->mu);
	for (;;) {
		struct qrec *batch, *q, *nx;
		uint64_t nbatch = 0;
		unsigned njr;
		bool stopping, busy = false;
		int r, rb = 0;

		if (atomic_load(&a->error)) {
			uint64_t now;

			while (!a->stop && (now = mono_ms()) < retry_at)
				timed_wait(a, (unsigned)(retry_at - now));
		} else {
			while (!a->head && !a->stop && !a->kicks) {
				if (!a->njr && !a->o.retention_ms) {
					pthread_cond_wait(&a->cv, &a->mu);
					continue;
				}
				timed_wait(a, a->njr ? JR_POLL_MS : a->o.retention_check_ms);
				break;
			}
		}
		stopping = a->stop;
		njr = a->njr;
		a->kicks = 0;
		batch = a->head;
		a->head = a->tail = NULL;
		for (q = batch; q; q = q->next)
			nbatch++;
		pthread_mutex_unlock(&a->mu);

		/* journals first: the queue may end with the closing checkpoint, the last record */
		r = ensure_open(a);
		for (unsigned i = 0; !r && i < njr; i++) {
			busy |= !rg_jr_empty(a->jr[i]);
			r = drain_journal(a, a->jr[i]);
		}
		if (!r && batch)
			r = rb = write_queue(a, batch);
		else if (batch)
			rb = r;
		if (!r && (busy || batch) &&
		    (a->o.fsync == RG_AUDIT_FSYNC_EVERY ||
		     mono_ms() - a->last_sync_ms >= a->o.fsync_interval_ms)) {
			r = fdatasync(a->fd) ? -errno : 0;
			a->last_sync_ms = mono_ms();
		}
		if (!r)
			r = maybe_rotate(a);
		if (!r && a->o.retention_ms && mono_ms() >= a->retention_at) {
			a->retention_at = mono_ms() + a->o.retention_check_ms;
			r = retention_run(a);
		}
		if (r)
			retry_at = mono_ms() + RETRY_MS;
		set_error(a, r);

		pthread_mutex_lock(&a->mu);
		if (rb && batch) {
			/* put the batch back in front: tried again, never dropped */
			struct qrec *last = batch;

			while (last->next)
				last = last->next;
			last->next = a->head;
			if (!a->head)
				a->tail = last;
			a->head = batch;
		} else if (batch) {
			for (q = batch; q; q = nx) {
				nx = q->next;
				a->queued -= q->len;
				free(q);
			}
			a->taken += nbatch;
			atomic_fetch_add(&a->written, nbatch);
		}
		pthread_cond_broadcast(&a->done_cv);
		pthread_cond_broadcast(&a->room_cv);
		if (stopping && (!a->head || r))
			break;
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

/* The trail directory is written by one process at a time. */
static int lock_dir(struct rg_audit *a, char *err, size_t errlen)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/.lock", a->dir);
	a->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (a->lockfd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	if (flock(a->lockfd, LOCK_EX | LOCK_NB)) {
		int e = errno;

		snprintf(err, errlen, "%s: another ringgate writes this trail (%s)", a->dir,
			 strerror(e));
		return -(e == EWOULDBLOCK ? EBUSY : e);
	}
	return 0;
}

int rg_audit_open(const struct rg_audit_opts *opts, struct rg_audit **out, char *err,
		  size_t errlen)
{
	struct rg_audit *a = calloc(1, sizeof(*a));
	struct rg_audit_report rep;
	struct walk w = {.r = &rep};
	uint64_t *segs = NULL;
	size_t nseg = 0;
	char path[512];
	int r;

	*out = NULL;
	if (!a)
		return -ENOMEM;
	a->o = *opts;
	a->fd = a->lockfd = -1;
	if (!a->o.segment_bytes)
		a->o.segment_bytes = 64u << 20;
	if (!a->o.checkpoint_records)
		a->o.checkpoint_records = 1000;
	if (!a->o.queue_bytes)
		a->o.queue_bytes = 8u << 20;
	if (!a->o.fsync_interval_ms)
		a->o.fsync_interval_ms = 1000;
	if (!a->o.retention_check_ms)
		a->o.retention_check_ms = 60000;
	snprintf(a->dir, sizeof(a->dir), "%s", opts->dir);
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	pthread_cond_init(&a->done_cv, NULL);
	pthread_cond_init(&a->room_cv, NULL);
	if (mkdir(a->dir, 0700) && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", a->dir, strerror(errno));
		r = -errno;
		goto fail;
	}
	if ((r = lock_dir(a, err, errlen)))
		goto fail;
	a->key = load_key(opts->key_file, true);
	if (!a->key) {
		snprintf(err, errlen, "%s: not an Ed25519 private key (PEM)", opts->key_file);
		r = -EINVAL;
		goto fail;
	}
	/* continue after what is there: its last record that holds */
	walk_dir(a->dir, &w);
	if (rep.verdict == RG_AUDIT_BROKEN || rep.verdict == RG_AUDIT_UNREADABLE) {
		snprintf(err, errlen, "%s: the trail does not verify (%s%s%s at offset %llu): "
			 "refusing to append to it",
			 a->dir, rep.why, rep.file[0] ? " in " : "", rep.file,
			 (unsigned long long)rep.offset);
		r = -EBADMSG;
		goto fail;
	}
	list_segments(a->dir, &segs, &nseg);
	a->segment = nseg ? segs[nseg - 1] + 1 : 1;
	free(segs);
	memcpy(a->chain, w.chain, 32); /* zeros for a new trail */
	a->last_seq = (nseg ? w.seq : 1) - 1;
	if ((r = seg_open(a, a->last_seq + 1, nseg ? w.prev_valid : 0))) {
		seg_path(path, sizeof(path), a->dir, a->segment);
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		goto fail;
	}
	memcpy(a->good_chain, a->chain, 32);
	a->good_seq = a->last_seq;
	a->open_next_seq = a->last_seq + 1;
	/* seal what a crash left unsealed, as found */
	if ((r = checkpoint(a)) || (r = obuf_flush(a)) || (r = fdatasync(a->fd) ? -errno : 0)) {
		snprintf(err, errlen, "%s: cannot write: %s", a->dir, strerror(-r));
		goto fail;
	}
	a->last_sync_ms = mono_ms();
	if (pthread_create(&a->thr, NULL, writer_main, a)) {
		snprintf(err, errlen, "cannot start the audit writer");
		r = -EAGAIN;
		goto fail;
	}
	pthread_setname_np(a->thr, "rg-audit"); /* benchmarks read its CPU apart */
	*out = a;
	return 0;
fail:
	if (a->fd >= 0)
		close(a->fd);
	if (a->lockfd >= 0)
		close(a->lockfd);
	EVP_PKEY_free(a->key);
	EVP_MD_CTX_free(a->mc);
	free(a->obuf);
	free(a);
	return r;
}

int rg_audit_append(struct rg_audit *a, enum rg_audit_kind kind, const void *payload, size_t len)
{
	struct qrec *q;
	int e;

	if (len > REC_MAX || kind != RG_AUDIT_EVENT)
		return -EINVAL;
	if ((e = atomic_load(&a->error)))
		return e; /* not kept: the caller says what it could not record */
	q = malloc(sizeof(*q) + len);
	if (!q)
		return -ENOMEM;
	q->time_us = now_us();
	q->len = (uint32_t)len;
	q->kind = (uint8_t)kind;
	memcpy(q->payload, payload, len);
	pthread_mutex_lock(&a->mu);
	while (!atomic_load(&a->error) && !a->stop && a->queued + len > a->o.queue_bytes &&
	       a->queued)
		pthread_cond_wait(&a->room_cv, &a->mu); /* back-pressure, never a drop */
	if (a->stop) {
		pthread_mutex_unlock(&a->mu);
		free(q);
		return -ESHUTDOWN;
	}
	a->queued += len;
	a->appended++;
	q->next = NULL;
	if (a->tail)
		a->tail->next = q;
	else
		a->head = q;
	a->tail = q;
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
	return 0;
}

void rg_audit_kick(struct rg_audit *a)
{
	pthread_mutex_lock(&a->mu);
	a->kicks++;
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
}

int rg_audit_flush(struct rg_audit *a)
{
	uint64_t want;
	int e;

	pthread_mutex_lock(&a->mu);
	want = a->appended;
	a->kicks++;
	pthread_cond_signal(&a->cv);
	while (!atomic_load(&a->error) && a->taken < want)
		pthread_cond_wait(&a->done_cv, &a->mu);
	/* and the journals as they are now */
	for (unsigned i = 0; i < a->njr && !atomic_load(&a->error); i++) {
		uint64_t head = rg_jr_head(a->jr[i]);

		while (!atomic_load(&a->error) && rg_jr_tail(a->jr[i]) < head) {
			a->kicks++;
			pthread_cond_signal(&a->cv);
			pthread_cond_wait(&a->done_cv, &a->mu);
		}
	}
	e = atomic_load(&a->error);
	pthread_mutex_unlock(&a->mu);
	return e;
}

void rg_audit_close(struct rg_audit *a)
{
	struct qrec *ck;

	if (!a)
		return;
	/* a final checkpoint, queued behind everything else */
	ck = calloc(1, sizeof(*ck));
	pthread_mutex_lock(&a->mu);
	if (ck) {
		ck->kind = RG_AUDIT_CHECKPOINT;
		ck->next = NULL;
		if (a->tail)
			a->tail->next = ck;
		else
			a->head = ck;
		a->tail = ck;
	}
	a->stop = true;
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
	pthread_join(a->thr, NULL);
	if (a->fd >= 0) {
		fsync(a->fd);
		close(a->fd);
	}
	{ /* what a failed trail could not take: said, not silently dropped */
		size_t left = 0;

		while (a->head) {
			struct qrec *q = a->head;

			a->head = q->next;
			left += q->kind == RG_AUDIT_EVENT;
			free(q);
		}
		if (left)
			fprintf(stderr, "event=audit_records_unwritten dir=%s records=%zu detail=\"the "
					"trail could not be written before the stop\"\n",
				a->dir, left);
	}
	for (unsigned i = 0; i < a->njr; i++)
		rg_jr_unmap(a->jr[i]);
	if (a->lockfd >= 0)
		close(a->lockfd);
	EVP_PKEY_free(a->key);
	pthread_cond_destroy(&a->cv);
	pthread_cond_destroy(&a->done_cv);
	pthread_cond_destroy(&a->room_cv);
	pthread_mutex_destroy(&a->mu);
	free(a->obuf);
	free(a->fbuf.p);
	EVP_MD_CTX_free(a->mc);
	free(a);
}

uint64_t rg_audit_written(const struct rg_audit *a)
{
	return atomic_load_explicit(&((struct rg_audit *)a)->written, memory_order_relaxed);
}

void rg_audit_lag(struct rg_audit *a, struct rg_audit_lag *out)
{
	unsigned n;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&a->mu);
	n = a->njr;
	out->queue_bytes = a->queued;
	pthread_mutex_unlock(&a->mu);
	for (unsigned i = 0; i < n; i++) {
		out->journal_bytes += rg_jr_head(a->jr[i]) - rg_jr_tail(a->jr[i]);
		out->waits += rg_audit_jr_waits(a->jr[i]);
		out->lost += rg_audit_jr_lost(a->jr[i]);
	}
}

int rg_audit_error(const struct rg_audit *a)
{
	return atomic_load_explicit(&((struct rg_audit *)a)->error, memory_order_relaxed);
}

/* ---- journals: attach and recover -------------------------------------------------------------- */

/* The journal file name prefix for this trail: the trail's real path, hashed. */
static void jr_prefix(const struct rg_audit *a, char *out, size_t n)
{
	char real[PATH_MAX];
	const char *p = realpath(a->dir, real) ? real : a->dir;

	snprintf(out, n, "ringgate-journal-%016llx-",
		 (unsigned long long)XXH3_64bits(p, strlen(p)));
}

static bool usable_dir(const char *d)
{
	struct stat st;

	return !stat(d, &st) && S_ISDIR(st.st_mode) && !access(d, W_OK | X_OK);
}

int rg_audit_journals(struct rg_audit *a, const struct rg_audit_jr_opts *o, char *err,
		      size_t errlen)
{
	struct rg_audit_jr *jr[JR_MAX] = {0};
	char prefix[64], path[900];
	size_t bytes = o->bytes ? (o->bytes + 4095) & ~(size_t)4095 : 4u << 20;
	unsigned n = 0, stale = 0;
	DIR *d;
	struct dirent *de;
	int r = 0;

	if (a->njr || !o->count || o->count > JR_MAX) {
		snprintf(err, errlen, "audit journals: bad count %u (1..%u, once)", o->count,
			 JR_MAX);
		return -EINVAL;
	}
	if (o->dir)
		snprintf(a->jdir, sizeof(a->jdir), "%s", o->dir);
	else
		snprintf(a->jdir, sizeof(a->jdir), "%s",
			 usable_dir("/dev/shm") ? "/dev/shm" : a->dir);
	if (!usable_dir(a->jdir)) {
		snprintf(err, errlen, "%s: not a writable directory for audit journals", a->jdir);
		return -ENOTDIR;
	}
	jr_prefix(a, prefix, sizeof(prefix));
	for (; n < o->count && !r; n++) {
		snprintf(path, sizeof(path), "%s/%s%u", a->jdir, prefix, n);
		r = rg_jr_map(path, n, bytes, true, &jr[n], err, errlen);
	}
	/* journals of an earlier run with more producers: drained like the others, then gone */
	if (!r && (d = opendir(a->jdir))) {
		while ((de = readdir(d)) && n < JR_MAX) {
			char *endp;
			unsigned long id;

			if (strncmp(de->d_name, prefix, strlen(prefix)))
				continue;
			id = strtoul(de->d_name + strlen(prefix), &endp, 10);
			if (*endp || id < o->count)
				continue;
			snprintf(path, sizeof(path), "%s/%s", a->jdir, de->d_name);
			if (!rg_jr_map(path, (unsigned)id, 0, false, &jr[n], err, errlen)) {
				n++; /* past o->count: drained, then removed */
				stale++;
			} else {
				fprintf(stderr, "event=audit_journal_unreadable detail=\"%s\"\n", err);
			}
		}
		closedir(d);
	}
	/* a batch a crash interrupted: skip what of it reached the trail before this start */
	for (unsigned i = 0; !r && i < n; i++) {
		uint64_t skipped;

		jr[i]->a = a;
		if ((r = rg_jr_recover(jr[i], a->open_next_seq, &skipped)))
			snprintf(err, errlen, "%s: journal positions out of range", jr[i]->path);
		else if (!rg_jr_empty(jr[i]) || skipped)
			fprintf(stderr, "event=audit_journal_recovered journal=%s "
				"records_skipped=%llu\n", jr[i]->path, (unsigned long long)skipped);
	}
	if (r) {
		for (unsigned i = 0; i < n; i++)
			rg_jr_unmap(jr[i]);
		return r;
	}
	pthread_mutex_lock(&a->mu);
	memcpy(a->jr, jr, sizeof(jr));
	a->fmt = o->fmt;
	a->fmt_arg = o->fmt_arg;
	a->nproducers = o->count;
	a->njr = n;
	a->kicks++;
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
	if (stale && !rg_audit_flush(a)) /* drained: the stale ones go */
		for (unsigned i = o->count; i < n; i++)
			unlink(jr[i]->path);
	return 0;
}

struct rg_audit_jr *rg_audit_journal(struct rg_audit *a, unsigned i)
{
	return i < a->nproducers ? a->jr[i] : NULL;
}

const char *rg_audit_journal_dir(const struct rg_audit *a)
{
	return a->jdir;
}

/* ---- the formatter's buffer ------------------------------------------------------------------- */

static bool buf_room(struct rg_audit_buf *b, size_t n)
{
	if (b->oom)
		return false;
	if (b->cap - b->len < n + 1) {
		size_t cap = b->cap ? b->cap : 1024;
		char *np;

		while (cap - b->len < n + 1)
			cap *= 2;
		if (cap > REC_MAX || !(np = realloc(b->p, cap))) {
			b->oom = true;
			return false;
		}
		b->p = np;
		b->cap = cap;
	}
	return true;
}

void *rg_audit_buf_room(struct rg_audit_buf *b, size_t n)
{
	return buf_room(b, n) ? b->p + b->len : NULL;
}

void rg_audit_buf_put(struct rg_audit_buf *b, const void *s, size_t n)
{
	if (!buf_room(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void rg_audit_buf_i64(struct rg_audit_buf *b, int64_t v)
{
	char t[24], *e = t + sizeof(t), *p = e;
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	rg_audit_buf_put(b, p, (size_t)(e - p));
}

void rg_audit_buf_str(struct rg_audit_buf *b, const char *s)
{
	rg_audit_buf_put(b, s, strlen(s));
}

void rg_audit_buf_printf(struct rg_audit_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !buf_room(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* The length of the valid UTF-8 sequence at p (n bytes left), 0 if invalid. */
static size_t utf8_len(const uint8_t *p, size_t n)
{
	size_t k;
	uint32_t c;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		k = 2, c = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		k = 3, c = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		k = 4, c = p[0] & 0x07;
	else
		return 0;
	if (n < k)
		return 0;
	for (size_t i = 1; i < k; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	if ((k == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) ||
	    (k == 4 && (c < 0x10000 || c > 0x10ffff)))
		return 0;
	return k;
}

void rg_audit_buf_json(struct rg_audit_buf *b, const void *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *p = s;
	size_t i = 0;

	if (!buf_room(b, n + 2))
		return;
	b->p[b->len++] = '"';
	while (i < n) {
		size_t run = i, k;

		/* plain bytes in one copy */
		while (run < n && p[run] >= 0x20 && p[run] < 0x80 && p[run] != '"' && p[run] != '\\')
			run++;
		if (run > i) {
			rg_audit_buf_put(b, p + i, run - i);
			i = run;
			continue;
		}
		if (p[i] >= 0x80) {
			if ((k = utf8_len(p + i, n - i))) {
				rg_audit_buf_put(b, p + i, k);
				i += k;
			} else {
				rg_audit_buf_put(b, "\\ufffd", 6);
				i++;
			}
			continue;
		}
		switch (p[i]) {
		case '"':
			rg_audit_buf_put(b, "\\\"", 2);
			break;
		case '\\':
			rg_audit_buf_put(b, "\\\\", 2);
			break;
		case '\n':
			rg_audit_buf_put(b, "\\n", 2);
			break;
		case '\r':
			rg_audit_buf_put(b, "\\r", 2);
			break;
		case '\t':
			rg_audit_buf_put(b, "\\t", 2);
			break;
		default: {
			char e[6] = {'\\', 'u', '0', '0', hex[p[i] >> 4], hex[p[i] & 15]};

			rg_audit_buf_put(b, e, 6);
		}
		}
		i++;
	}
	rg_audit_buf_put(b, "\"", 1);
}
