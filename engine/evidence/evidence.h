/*
 * evidence: the tamper-evident audit trail (issue #12).
 *
 * Records go to append-only segment files in a directory (state_dir/audit). Each record
 * carries a sequence number, a UTC timestamp in microseconds, a kind and a payload (a JSON
 * object, written by the caller), an XXH3 checksum of its bytes and a SHA-256 chain hash
 * over the previous record's chain hash and its own bytes; a segment starts with the chain
 * hash the previous one ended on. A segment is sealed by a checkpoint record: an Ed25519
 * signature over the segment number, the last sequence number and the chain hash so far.
 * rg_audit_verify (and `ringgatectl audit verify`) walks the files and names the first
 * record that does not hold: an edited byte breaks its checksum or the chain, a deleted or
 * reordered record breaks the sequence and the chain, a truncated sealed segment loses its
 * checkpoint, a replaced segment cannot carry a valid signature. Records written after the
 * last checkpoint are reported as not yet sealed (a crash leaves them so; so would a
 * truncation of the tail, which is why checkpoints come at every seal and every
 * checkpoint_records records).
 *
 * Writing: rg_audit_append copies the record into a queue (any thread, never blocks on the
 * disk) and one writer thread writes, fsyncs by policy and seals; when the queue is over
 * its bound, appenders wait (back-pressure: records are never dropped).
 */
#ifndef RG_EVIDENCE_H
#define RG_EVIDENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum rg_audit_kind {
	RG_AUDIT_EVENT = 1,	 /* payload: a JSON object */
	RG_AUDIT_CHECKPOINT = 2, /* payload: the 64-byte Ed25519 signature */
};

enum rg_audit_fsync {
	RG_AUDIT_FSYNC_EVERY = 0,    /* after each batch the writer takes (default) */
	RG_AUDIT_FSYNC_INTERVAL = 1, /* at most every fsync_interval_ms */
};

struct rg_audit_opts {
	const char *dir;	/* created if missing (0700) */
	const char *key_file;	/* Ed25519 private key (PEM) that signs checkpoints */
	uint64_t segment_bytes; /* seal and start a new segment past this (default 64 MiB) */
	uint32_t checkpoint_records; /* also checkpoint every this many records (default 1000) */
	enum rg_audit_fsync fsync;
	uint32_t fsync_interval_ms;
	size_t queue_bytes; /* appenders wait past this much queued (default 8 MiB) */
};

struct rg_audit;

/* Open the trail in opts->dir, continuing after its last segment (a new segment chained to
 * the last record found), and start the writer thread. Errors name the file. */
int rg_audit_open(const struct rg_audit_opts *opts, struct rg_audit **out, char *err,
		  size_t errlen);
/* Append one record (any thread). Returns its sequence number (> 0), or a negative errno:
 * -EIO once the writer failed (disk full, unwritable): the trail is then closed for
 * writing and the caller decides (fail closed by default, docs). */
int64_t rg_audit_append(struct rg_audit *a, enum rg_audit_kind kind, const void *payload,
			size_t len);
/* Wait until every record appended so far is written (and fsynced by policy). */
int rg_audit_flush(struct rg_audit *a);
/* Flush, seal the segment with a checkpoint, stop the writer. */
void rg_audit_close(struct rg_audit *a);
/* The writer's state for metrics: records written, the last error (0 when healthy). */
uint64_t rg_audit_written(const struct rg_audit *a);
int rg_audit_error(const struct rg_audit *a);

/* ---- verification -------------------------------------------------------------------------- */

enum rg_audit_verdict {
	RG_AUDIT_OK = 0,	  /* every record holds; the last segment is sealed */
	RG_AUDIT_UNSEALED = 1,	  /* every record holds; `unsealed` records follow the last
				   * checkpoint (a crash, or the tail was cut) */
	RG_AUDIT_BROKEN = 2,	  /* the first bad record: where, why */
	RG_AUDIT_UNREADABLE = 3,  /* the directory or a file could not be read */
};

struct rg_audit_report {
	enum rg_audit_verdict verdict;
	uint64_t records;	/* event records that hold */
	uint64_t segments;
	uint64_t checkpoints;
	uint64_t unsealed;	/* records after the last checkpoint */
	char file[512];		/* BROKEN: the segment file */
	uint64_t offset;	/* BROKEN: byte offset of the bad record in it */
	uint64_t seq;		/* BROKEN: the sequence number expected there */
	char why[160];
};

/* Verify the trail in dir with the Ed25519 public key (PEM file). Returns 0 (the verdict is
 * in the report) or a negative errno for a bad key. */
int rg_audit_verify(const char *dir, const char *pubkey_file, struct rg_audit_report *r);

/* What rg_audit_open would refuse, without writing anything (--check-config): the key must be
 * an Ed25519 private key and an existing trail must verify with it. 0 or a negative errno
 * with the reason in err. */
int rg_audit_check(const struct rg_audit_opts *o, char *err, size_t errlen);

/* Every event record that holds, oldest first (verification on the way: stops at the first
 * bad one). fn returns false to stop. */
typedef bool (*rg_audit_each_fn)(void *arg, uint64_t seq, int64_t time_us, const char *payload,
				 size_t len);
int rg_audit_each(const char *dir, rg_audit_each_fn fn, void *arg);

#endif
