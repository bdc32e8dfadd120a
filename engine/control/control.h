/*
 * control: the control store. Approval requests for statements held in live sessions, the
 * reviewers' decisions, and the grants a fingerprint-scoped approval leaves (issue #11).
 *
 * One store per process, an embedded SQLite database in state_dir (a single node needs
 * nothing else) or a PostgreSQL database shared by a fleet of nodes. Every call is short and safe from any thread (one mutex around one
 * connection); none is ever made on a data-path worker: the gateway's approvals thread and
 * the admin listener's threads call it. A decision (approve, deny) and every other end of a
 * request (expired, withdrawn by the client's cancel, abandoned by its hang-up or a restart)
 * is a state change from pending that happens once: the first caller wins, later ones get
 * RG_CONTROL_E_NOT_PENDING. After each successful change the notify callback runs (on the
 * caller's thread) so the node holding the session can act on it.
 *
 * Returns: 0 or a negative enum rg_control_err (or -errno for memory and I/O).
 */
#ifndef RG_CONTROL_H
#define RG_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum rg_appr_status {
	RG_APPR_PENDING = 0,
	RG_APPR_APPROVED,
	RG_APPR_DENIED,
	RG_APPR_EXPIRED,   /* nobody decided before expires_ms */
	RG_APPR_WITHDRAWN, /* the client cancelled the held statement */
	RG_APPR_ABANDONED, /* the client hung up, or the node holding it restarted */
	RG_APPR__COUNT
};

enum rg_appr_scope {
	RG_APPR_SCOPE_ONCE = 0,	       /* this statement */
	RG_APPR_SCOPE_FINGERPRINT = 1, /* statements with its fingerprint, same identity and
					* target, for grant_ttl_s after the approval */
};

#define RG_APPR_ID_LEN 32 /* hex characters */
#define RG_APPR_MAX_GROUPS 64
#define RG_APPR_NODE_LEN 95 /* host name and listener port */

/* One request. Strings are owned by the struct (rg_appr_free); groups is a NULL-free array. */
struct rg_appr {
	char id[RG_APPR_ID_LEN + 1];
	char node[RG_APPR_NODE_LEN + 1]; /* the process holding the session */
	enum rg_appr_status status;
	enum rg_appr_scope scope;
	uint32_t grant_ttl_s;
	int64_t created_ms, expires_ms, decided_ms; /* wall clock, ms since the epoch */
	char *issuer, *subject;			    /* who asks */
	char **groups;
	size_t ngroups;
	char *peer, *target, *rule, *reviewers; /* reviewers: the group that may decide */
	char *sql, *fingerprint;		/* fingerprint: 16 hex digits */
	char *decided_by, *decided_iss, *reason; /* NULL while pending */
};

enum rg_control_err {
	RG_CONTROL_E_NOT_FOUND = -1000,
	RG_CONTROL_E_NOT_PENDING = -1001,
	RG_CONTROL_E_SELF = -1002,	   /* nobody decides their own request */
	RG_CONTROL_E_NOT_REVIEWER = -1003, /* not in the request's reviewer group */
	RG_CONTROL_E_EXPIRED = -1004,	   /* pending, but past expires_ms: now expired */
	RG_CONTROL_E_STORE = -1005,	   /* the database failed (detail in the log) */
	RG_CONTROL_E_INVALID = -1006,	   /* a missing field */
};
const char *rg_control_strerror(int err);
const char *rg_appr_status_name(enum rg_appr_status s);
int rg_appr_status_parse(const char *name); /* -1 when unknown */

struct rg_control;

/* Open (creating it and its schema) the SQLite database at path. */
int rg_control_open_sqlite(const char *path, struct rg_control **out, char *err, size_t errlen);
/* Or a shared PostgreSQL (a libpq conninfo or postgres:// URI): the same tables, created if
 * missing, plus a LISTEN thread so a decision made on any node reaches the node holding the
 * statement (control.c). */
int rg_control_open_pg(const char *conninfo, struct rg_control **out, char *err, size_t errlen);
void rg_control_close(struct rg_control *c);

/* Called after each successful state change, with the request as it now is. */
typedef void (*rg_control_notify_fn)(void *arg, const struct rg_appr *a);
void rg_control_set_notify(struct rg_control *c, rg_control_notify_fn fn, void *arg);

/* A new random id (hex) for a request. */
int rg_control_new_id(char out[RG_APPR_ID_LEN + 1]);

/* Store a pending request (a->id set by the caller). */
int rg_control_insert(struct rg_control *c, const struct rg_appr *a);
/* One request by id (*out: rg_appr_free). */
int rg_control_get(struct rg_control *c, const char *id, struct rg_appr **out);
/* Requests, newest first: status < 0 means all, limit 0 means 1000. (*out: rg_appr_list_free) */
int rg_control_list(struct rg_control *c, int status, size_t limit, struct rg_appr ***out,
		    size_t *n);

/*
 * A reviewer's decision: they must be in the request's reviewer group and not be its
 * requester (same issuer and subject). A fingerprint-scoped approval also records its grant.
 * *out (may be NULL): the request after the change.
 */
int rg_control_decide(struct rg_control *c, const char *id, bool approve, const char *iss,
		      const char *sub, const char *const *groups, size_t ngroups,
		      const char *reason, int64_t now_ms, struct rg_appr **out);
/* Pending -> expired / withdrawn / abandoned. */
int rg_control_finish(struct rg_control *c, const char *id, enum rg_appr_status st,
		      int64_t now_ms);
/* Every request of `node` still pending (after a restart): abandoned. Returns how many. */
int rg_control_abandon_node(struct rg_control *c, const char *node, int64_t now_ms);
/* Every pending request past its expiry: expired (each notified). Returns how many. */
int rg_control_expire(struct rg_control *c, int64_t now_ms);
/* The requests of `node` that ended (decided_ms) at since_ms or later (*out: list_free). */
int rg_control_ended_since(struct rg_control *c, const char *node, int64_t since_ms,
			   struct rg_appr ***out, size_t *n);
/* The earliest expires_ms of a pending request, or INT64_MAX. */
int64_t rg_control_next_expiry(struct rg_control *c);
/* 1 when an approval of scope fingerprint covers (iss, sub, target, fingerprint) now. */
int rg_control_granted(struct rg_control *c, const char *iss, const char *sub, const char *target,
		       const char *fingerprint, int64_t now_ms);

void rg_appr_free(struct rg_appr *a);
void rg_appr_list_free(struct rg_appr **v, size_t n);

#endif
