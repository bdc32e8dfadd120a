/*
 * approvals: statements held in live sessions until a reviewer decides (issue #11), for
 * every protocol module (docs/DESIGN "Holding a statement", "A second protocol").
 *
 * One object per process, built by main.c over the control store (engine/control) and handed
 * to each protocol module. It owns what does not depend on a protocol: the approvals thread
 * (stores new requests, ends them, expires them, rechecks what this node holds), the routing
 * of a request's end to the worker that holds its session (posted with rg_core_post), the
 * grants fingerprint-scoped approvals leave (in memory, one mutex, looked up only when a
 * statement would be held) and the webhooks told of each new request (their own thread).
 * A protocol module owns the rest: stopping its session's reads, keeping the held message,
 * and on the outcome forwarding it (approved) or failing it as its own policy denial.
 *
 * Workers never touch the store and never wait: every call below made on a worker takes the
 * mutex for a few list operations at most. Never: a token or a secret in a request.
 */
#ifndef RG_APPROVALS_H
#define RG_APPROVALS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control.h"

struct rg_core;
struct rg_control;
struct rg_auth_principal;
struct rg_approvals;
struct rg_approvals_hold;

/* On the worker holding the session: its request ended (st: approved, denied, expired,
 * withdrawn; by and reason: the reviewer's, "" when none). h is already unlinked. */
typedef void (*rg_approvals_release_fn)(struct rg_approvals_hold *h, enum rg_appr_status st,
					const char *by, const char *reason);

/*
 * A session's held statement as this module knows it: embedded in the protocol's own hold
 * (which outlives the request, or is ended with rg_approvals_end first). The protocol fills
 * release, sess, sess_id, fp and rule before rg_approvals_request; id is set by it.
 */
struct rg_approvals_hold {
	struct rg_approvals_hold *prev, *next; /* its worker's list (that worker only) */
	rg_approvals_release_fn release;
	void *sess;	  /* the protocol's session (struct rg_sess) */
	uint64_t sess_id; /* the session's id (a withdrawal names it) */
	char id[RG_APPR_ID_LEN + 1];
	char fp[17];   /* the statement's fingerprint, 16 hex digits */
	char rule[64]; /* the deciding rule's id */
	unsigned worker;
	bool linked; /* in its worker's list: the request has not ended yet */
};

/* What a request says of its statement (strings copied). */
struct rg_approvals_ask {
	const struct rg_auth_principal *who; /* the verified agent */
	const char *peer, *target;
	const char *reviewers; /* the rule's approval group ("" none) */
	int scope;	       /* enum rg_approval_scope (policy.h) */
	uint32_t ttl_s;	       /* a fingerprint grant's life */
	uint32_t expire_s;     /* how long the request waits (0: 300 s) */
	const char *sql;
	size_t len;
};

/* For an engine of `workers` workers. 0 or -ENOMEM. */
int rg_approvals_new(unsigned workers, struct rg_approvals **out);
/* Stops the threads (if still running) and frees everything. NULL is a no-op. */
void rg_approvals_free(struct rg_approvals *ap);
/* Webhooks told of each new request (approvals.webhooks; the strings must outlive ap). */
void rg_approvals_set_webhooks(struct rg_approvals *ap, const char *const *urls, size_t n,
			       uint64_t timeout_ms);
/* The store (ctl outlives ap), this process's node name in it (what it held before a restart
 * is abandoned now) and the admin page's base URL for the agent's notice. Before start. */
int rg_approvals_set_control(struct rg_approvals *ap, struct rg_control *ctl, const char *node,
			     const char *url);
/* Start the threads once the workers run; stop them after the workers were joined. */
int rg_approvals_start(struct rg_approvals *ap, struct rg_core *core);
void rg_approvals_stop(struct rg_approvals *ap);

/* Statements can be held (a store is set). Any thread; ap may be NULL. */
bool rg_approvals_enabled(const struct rg_approvals *ap);
/* The admin page's base URL ("" when not configured). */
const char *rg_approvals_url(const struct rg_approvals *ap);
/* A fingerprint-scoped approval covers (iss, sub, target, fp) now. Any thread. */
bool rg_approvals_granted(struct rg_approvals *ap, const char *iss, const char *sub,
			  const char *target, const char *fp);

/* On worker `worker`: ask for a reviewer; h is linked into the worker's list and its outcome
 * comes through h->release on that worker. 0 or -ENOMEM (nothing linked). */
int rg_approvals_request(struct rg_approvals *ap, unsigned worker, struct rg_approvals_hold *h,
			 const struct rg_approvals_ask *q);
/* On h's worker: the session is done with h before its request ended (the session closed:
 * abandoned; withdrawn): unlink it and end the request in the store with st. A no-op for a
 * hold whose request already ended. */
void rg_approvals_end(struct rg_approvals *ap, struct rg_approvals_hold *h, enum rg_appr_status st);
/* Any thread: withdraw what session sess_id of worker holds (if anything); on that worker the
 * request ends as withdrawn and the hold is released with RG_APPR_WITHDRAWN. */
void rg_approvals_withdraw(struct rg_approvals *ap, unsigned worker, uint64_t sess_id);

#endif /* RG_APPROVALS_H */
