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

#include "evidence.h"

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

/* SHA-256 of a chain hash and the bytes of a record (EVP: the low-level calls are gone). */
static void chain_next(const uint8_t prev[32], const uint8_t *b, size_t n, uint8_t out[32])
{
	unsigned int len = 32;
	EVP_MD_CTX *mc = EVP_MD_CTX_new();

	if (!mc || EVP_DigestInit_ex(mc, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(mc, prev, 32) != 1 || EVP_DigestUpdate(mc, b, n) != 1 ||
	    EVP_DigestFinal_ex(mc, out, &len) != 1)
		memset(out, 0, 32); /* out of memory: a record no verification accepts */
	EVP_MD_CTX_free(mc);
}

/* Encode a record into out (REC_HEAD + len + REC_TAIL bytes); chain is updated. */
static void encode(uint8_t *out, uint8_t kind, uint64_t seq, int64_t time_us, const void *payload,
		   uint32_t len, uint8_t chain[32])
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
	chain_next(chain, out, REC_HEAD + len + 8, chain);
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
		w->seq = get64(b + 16);
		memcpy(w->chain, b + 24, 32);
		w->have_chain = true;
		w->first = false;
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
		chain_next(w->chain, b + off, REC_HEAD + len + 8, chain);
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
	if (w->r->verdict == RG_AUDIT_OK && w->r->unsealed)
		w->r->verdict = RG_AUDIT_UNSEALED;
	free(segs);
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

struct qrec {
	struct qrec *next;
	uint64_t seq;
	int64_t time_us;
	uint32_t len;
	uint8_t kind;
	uint8_t payload[];
};

struct rg_audit {
	struct rg_audit_opts o;
	char dir[400];
	EVP_PKEY *key;
	pthread_t thr;
	pthread_mutex_t mu;
	pthread_cond_t cv, done_cv, room_cv;
	struct qrec *head, *tail; /* mu */
	size_t queued;		  /* mu: payload bytes */
	uint64_t next_seq;	  /* mu: the next seq handed out */
	uint64_t written_seq;	  /* mu: written (and synced by policy) up to this seq */
	bool stop;
	int error; /* mu: sticky once the writer failed */
	/* writer thread only */
	int fd;
	uint64_t segment, seg_bytes, since_ckpt, last_seq;
	uint8_t chain[32];
	uint64_t last_sync_ms;
	uint64_t written;
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
	if ((r = write_all(a->fd, h, sizeof(h))))
		return r;
	a->seg_bytes = HDR_LEN;
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

/* Writer: encode and write one record with the next seq (a checkpoint gets its own). */
static int put_record(struct rg_audit *a, uint8_t kind, uint64_t seq, int64_t t,
		      const void *payload, uint32_t len)
{
	size_t n = REC_HEAD + len + REC_TAIL;
	uint8_t stackbuf[1024], *b = n <= sizeof(stackbuf) ? stackbuf : malloc(n);
	int r;

	if (!b)
		return -ENOMEM;
	encode(b, kind, seq, t, payload, len, a->chain);
	r = write_all(a->fd, b, n);
	if (b != stackbuf)
		free(b);
	if (!r) {
		a->seg_bytes += n;
		if (kind == RG_AUDIT_EVENT)
			a->last_seq = seq;
	}
	return r;
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
	return put_record(a, RG_AUDIT_CHECKPOINT, seq, now_us(), sig, SIG_LEN);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Append q to the queue (mu held): records are written in the order they are queued. */
static void queue_locked(struct rg_audit *a, struct qrec *q)
{
	q->next = NULL;
	if (a->tail)
		a->tail->next = q;
	else
		a->head = q;
	a->tail = q;
}

static void *writer_main(void *arg)
{
	struct rg_audit *a = arg;

	pthread_mutex_lock(&a->mu);
	for (;;) {
		struct qrec *batch, *q, *nx;
		uint64_t upto = 0;
		int r = 0;

		while (!a->head && !a->stop)
			pthread_cond_wait(&a->cv, &a->mu);
		if (!a->head && a->stop)
			break;
		batch = a->head;
		a->head = a->tail = NULL;
		pthread_mutex_unlock(&a->mu);
		for (q = batch; q; q = nx) {
			nx = q->next;
			if (!r && q->kind == RG_AUDIT_CHECKPOINT)
				r = checkpoint(a);
			else if (!r)
				r = put_record(a, q->kind, q->seq, q->time_us, q->payload, q->len);
			if (!r && q->kind == RG_AUDIT_EVENT)
				a->written++, a->since_ckpt++;
			if (q->kind == RG_AUDIT_EVENT)
				upto = q->seq;
			pthread_mutex_lock(&a->mu);
			a->queued -= q->len;
			pthread_mutex_unlock(&a->mu);
			free(q);
			/* seal: a full segment (then the next begins), or every so many records */
			if (!r && (a->seg_bytes >= a->o.segment_bytes ||
				   a->since_ckpt >= a->o.checkpoint_records)) {
				r = checkpoint(a);
				if (!r && a->seg_bytes >= a->o.segment_bytes) {
					uint64_t len = a->seg_bytes;

					r = fsync(a->fd) ? -errno : 0;
					close(a->fd);
					a->segment++;
					if (!r)
						r = seg_open(a, a->last_seq + 1, len);
				}
			}
		}
		if (!r && (a->o.fsync == RG_AUDIT_FSYNC_EVERY ||
			   mono_ms() - a->last_sync_ms >= a->o.fsync_interval_ms)) {
			r = fdatasync(a->fd) ? -errno : 0;
			a->last_sync_ms = mono_ms();
		}
		pthread_mutex_lock(&a->mu);
		if (r && !a->error) {
			a->error = r;
			fprintf(stderr, "event=audit_write_failed dir=%s detail=\"%s\"\n", a->dir,
				strerror(-r));
		}
		if (upto > a->written_seq)
			a->written_seq = upto;
		pthread_cond_broadcast(&a->done_cv);
		pthread_cond_broadcast(&a->room_cv);
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
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
	a->fd = -1;
	if (!a->o.segment_bytes)
		a->o.segment_bytes = 64u << 20;
	if (!a->o.checkpoint_records)
		a->o.checkpoint_records = 1000;
	if (!a->o.queue_bytes)
		a->o.queue_bytes = 8u << 20;
	if (!a->o.fsync_interval_ms)
		a->o.fsync_interval_ms = 1000;
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
	a->next_seq = nseg ? w.seq : 1;
	a->last_seq = a->next_seq - 1;
	if ((r = seg_open(a, a->next_seq, nseg ? w.prev_valid : 0))) {
		seg_path(path, sizeof(path), a->dir, a->segment);
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		goto fail;
	}
	/* seal what a crash left unsealed, as found */
	if ((r = checkpoint(a)) || (r = fdatasync(a->fd) ? -errno : 0)) {
		snprintf(err, errlen, "%s: cannot write: %s", a->dir, strerror(-r));
		goto fail;
	}
	a->written_seq = a->next_seq - 1;
	a->last_sync_ms = mono_ms();
	if (pthread_create(&a->thr, NULL, writer_main, a)) {
		snprintf(err, errlen, "cannot start the audit writer");
		r = -EAGAIN;
		goto fail;
	}
	*out = a;
	return 0;
fail:
	if (a->fd >= 0)
		close(a->fd);
	EVP_PKEY_free(a->key);
	free(a);
	return r;
}

int64_t rg_audit_append(struct rg_audit *a, enum rg_audit_kind kind, const void *payload,
			size_t len)
{
	struct qrec *q;
	uint64_t seq;

	if (len > REC_MAX || kind != RG_AUDIT_EVENT)
		return -EINVAL;
	q = malloc(sizeof(*q) + len);
	if (!q)
		return -ENOMEM;
	q->time_us = now_us();
	q->len = (uint32_t)len;
	q->kind = (uint8_t)kind;
	memcpy(q->payload, payload, len);
	pthread_mutex_lock(&a->mu);
	while (!a->error && !a->stop && a->queued + len > a->o.queue_bytes && a->queued)
		pthread_cond_wait(&a->room_cv, &a->mu); /* back-pressure, never a drop */
	if (a->error || a->stop) {
		int e = a->error ? a->error : -ESHUTDOWN;

		pthread_mutex_unlock(&a->mu);
		free(q);
		return e < 0 ? e : -EIO;
	}
	seq = q->seq = a->next_seq++;
	a->queued += len;
	queue_locked(a, q);
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
	return (int64_t)seq;
}

int rg_audit_flush(struct rg_audit *a)
{
	int e;

	pthread_mutex_lock(&a->mu);
	{
		uint64_t want = a->next_seq - 1;

		while (!a->error && a->written_seq < want)
			pthread_cond_wait(&a->done_cv, &a->mu);
	}
	e = a->error;
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
	if (ck && !a->error) {
		ck->kind = RG_AUDIT_CHECKPOINT;
		queue_locked(a, ck);
	} else {
		free(ck);
	}
	a->stop = true;
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
	pthread_join(a->thr, NULL);
	if (a->fd >= 0) {
		fsync(a->fd);
		close(a->fd);
	}
	EVP_PKEY_free(a->key);
	pthread_cond_destroy(&a->cv);
	pthread_cond_destroy(&a->done_cv);
	pthread_cond_destroy(&a->room_cv);
	pthread_mutex_destroy(&a->mu);
	free(a);
}

uint64_t rg_audit_written(const struct rg_audit *a)
{
	return a->written;
}

int rg_audit_error(const struct rg_audit *a)
{
	return a->error;
}
