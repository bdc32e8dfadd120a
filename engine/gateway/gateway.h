/*
 * gateway: the services every protocol module uses and none owns (docs/DESIGN "A second
 * protocol"), behind one object built once at startup from the configuration (struct rg_gw)
 * and the event log:
 *   - issuers' verifiers (each refreshes its own JWKS, engine/auth) and token verification;
 *   - targets: name, protocol, address (DNS names kept current by one resolver thread, read
 *     lock-free by the workers), credential, TLS client context, session counts for /metrics;
 *     a protocol module keeps a pointer to each of its targets and adds its own fields;
 *   - admission: pending logins in total and per client address, logged-in sessions, and
 *     session ids unique across protocols;
 *   - the policy bundle in force, one generation for the whole process, with each worker's
 *     own policy context for it, hot reload, and the verdict for a statement;
 *   - per-worker counters of each protocol module, summed by protocol for /metrics;
 *   - the event log (rg_log, rg_logval).
 * A protocol module (engine/proto/<name>) owns only its framing and its two state machines;
 * main.c starts each listener with the ops of its protocol (struct rg_gw_proto, below).
 *
 * Never: a secret (a target's password, an agent's token) in a log line.
 */
#ifndef RG_GATEWAY_H
#define RG_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct rg_config;
struct rg_config_listener;
struct rg_config_target;
struct rg_proto_ops;
struct rg_auth_verifier;
struct rg_auth_identity;
struct rg_auth_fail;
struct rg_auth_cred;
struct rg_tls_ctx;
struct rg_core;
struct rg_policy;
struct rg_policy_ctx;
struct rg_request;
struct rg_limits;

/* ---- the gateway object -------------------------------------------------------------------- */

struct rg_gw;

/* For an engine with `workers` worker threads (per-worker counters). cfg (its limits) must
 * outlive it; NULL: no caps. 0 or -ENOMEM. */
int rg_gw_new(const struct rg_config *cfg, unsigned workers, struct rg_gw **out);
/* Stops the resolver thread, frees the verifiers, targets and their credentials. */
void rg_gw_free(struct rg_gw *gw);
unsigned rg_gw_workers(const struct rg_gw *gw);

/* ---- issuers -------------------------------------------------------------------------------- */

/* Hand over a verifier for one configured issuer (the gateway frees it; issuer must outlive
 * the gateway). */
int rg_gw_add_issuer(struct rg_gw *gw, const char *issuer, struct rg_auth_verifier *v);
/* The verifier of issuer iss (compared byte for byte), or NULL. */
struct rg_auth_verifier *rg_gw_verifier(const struct rg_gw *gw, const char *iss);
/*
 * Verify a bearer token against the configured issuers, as an agent's is (any thread; the
 * admin listener authenticates reviewers with it). Returns an enum rg_auth_err (auth.h);
 * no waiting for a key refresh here.
 */
int rg_gw_verify_token(const struct rg_gw *gw, const char *token, size_t len,
		       struct rg_auth_identity *id, struct rg_auth_fail *why);

/* ---- targets (targets.c) --------------------------------------------------------------------- */

/* A target's session counts on one worker (written by that worker only, summed on scrape). */
struct rg_gw_tcnt {
	uint64_t sessions; /* logged in to this target */
	uint64_t active;   /* of which open now */
} __attribute__((aligned(64)));

struct rg_gw_dns; /* targets.c: a DNS-named target's published address set */

struct rg_gw_target {
	const struct rg_config_target *cfg; /* name, protocol, address, credential source, tls */
	size_t index;			    /* in the gateway's targets: 0 .. rg_gw_targets() - 1 */
	struct rg_auth_cred *cred;	    /* the target's own user's secret */
	struct rg_tls_ctx *tls;		    /* NULL: plaintext (tls.mode disable) */
	const char *server_name;	    /* SNI / verified name */
	/* the address: read through rg_gw_target_addr */
	struct sockaddr_storage sa; /* IP literal or unix socket */
	socklen_t salen;
	struct rg_gw_dns *dns;	  /* DNS name: its address set, kept current by the resolver;
				   * NULL for an IP literal or a unix socket */
	struct rg_gw_tcnt *wcnt; /* [workers]: this target's sessions, each worker its own */
};

/*
 * Add a configured target with its credential (the gateway frees it once added; on error
 * the caller keeps it). Resolves a DNS host name now (once, at startup: an error is a
 * config error) and loads the TLS client settings; errors are written to err prefixed with
 * the config location ("line:col: target NAME: ..."). Before the workers start.
 */
int rg_gw_add_target(struct rg_gw *gw, const struct rg_config_target *t,
		     struct rg_auth_cred *cred, char *err, size_t errlen);
/* The targets added, in order; by name (NULL: none). Any thread once the workers run. */
size_t rg_gw_targets(const struct rg_gw *gw);
const struct rg_gw_target *rg_gw_target_at(const struct rg_gw *gw, size_t i);
const struct rg_gw_target *rg_gw_target(const struct rg_gw *gw, const char *name);
/*
 * Copy the target's address number `attempt` (modulo how many it has) into out/len, for one
 * connect; a caller whose connect failed may try attempt + 1. Returns how many addresses the
 * target has now (>= 1). An IP literal or a unix socket has one, its configured address; a
 * DNS name has every address it last resolved to (up to 8, IPv4 and IPv6), kept current by
 * the gateway's resolver thread. Any thread; never blocks, never takes a lock.
 */
int rg_gw_target_addr(const struct rg_gw_target *t, unsigned attempt,
		      struct sockaddr_storage *out, socklen_t *len);

/* On worker `worker` only: a session logged in to t / one that was ended. */
static inline void rg_gw_target_opened(const struct rg_gw_target *t, unsigned worker)
{
	t->wcnt[worker].sessions++;
	t->wcnt[worker].active++;
}

static inline void rg_gw_target_closed(const struct rg_gw_target *t, unsigned worker)
{
	t->wcnt[worker].active--;
}

/* For metrics (any thread): target i's name with the sessions logged in to it (total) and
 * open now (active), summed over the workers. */
const char *rg_gw_target_sessions(const struct rg_gw *gw, size_t i, uint64_t *total,
				  uint64_t *active);

/*
 * Test only: how target DNS names are resolved (default: getaddrinfo). Fill out[0..max) and
 * lens[0..max) with the addresses of host:port and return how many (>= 1), or < 0 with a
 * reason in err. Called at startup (rg_gw_add_target) and by the resolver thread.
 */
typedef int (*rg_gw_lookup_fn)(void *arg, const char *host, uint16_t port,
			       struct sockaddr_storage *out, socklen_t *lens, unsigned max,
			       char *err, size_t errlen);
/* Test only: replace the lookup (NULL: getaddrinfo) and the re-resolve interval (ms; 0: the
 * default). Call before the first rg_gw_add_target. */
void rg_gw_set_lookup(struct rg_gw *gw, rg_gw_lookup_fn fn, void *arg, unsigned interval_ms);
/* Test only: whether the resolver thread runs (it starts with the first DNS-named target). */
bool rg_gw_resolver_running(const struct rg_gw *gw);

/* ---- admission (admit.c) ------------------------------------------------------------------- */

/*
 * A connection is a pending login from accept until its agent's token is verified, then a
 * session. Pending logins are capped in total (limits.max_pending_logins) and per client
 * address (limits.max_pending_per_address: IPv4 address, or IPv6 /64, hashed with a random
 * key into one of RG_GW_ADDR_BUCKETS counters, so addresses that collide share a cap);
 * sessions by limits.max_sessions, over every protocol. One atomic add per connection and
 * per login, any worker, no lock. *bucket is what rg_gw_pending_leave needs back.
 */
#define RG_GW_ADDR_BUCKETS 16384u
#define RG_GW_NO_BUCKET UINT32_MAX
enum rg_gw_admit {
	RG_GW_ADMIT_OK = 0,
	RG_GW_ADMIT_PENDING_FULL, /* max_pending_logins reached */
	RG_GW_ADMIT_ADDRESS_FULL, /* max_pending_per_address reached for this address */
};
enum rg_gw_admit rg_gw_pending_enter(struct rg_gw *gw, const struct sockaddr_storage *peer,
				     uint32_t *bucket);
void rg_gw_pending_leave(struct rg_gw *gw, uint32_t bucket);
/* Take a slot of max_sessions (false: full) / give it back. */
bool rg_gw_session_enter(struct rg_gw *gw);
void rg_gw_session_leave(struct rg_gw *gw);
/* The bucket of an address (RG_GW_NO_BUCKET for a family other than IPv4/IPv6). */
uint32_t rg_gw_addr_bucket(const struct rg_gw *gw, const struct sockaddr_storage *peer);
/* A new session id: unique in this process and across its restarts (any thread). */
uint64_t rg_gw_session_id(struct rg_gw *gw);

/* ---- the policy bundle in force (policy.c) --------------------------------------------------- */

/*
 * One bundle is in force for the whole process, published as a generation that every worker
 * of every protocol module switches to between messages: when it next asks for its context
 * (any rg_gw_policy_* call below with its worker number) or when the reloader posts it a
 * switch, so idle workers switch too. A protocol module builds nothing at worker start: a
 * worker's context for the generation in force is built on its first use. Fail closed: a
 * verdict that cannot be computed is a denial.
 */
#define RG_GW_POLICY_RETIRED_MAX 16

/*
 * Told of each bundle before it is put in force (p NULL: pass-through), on the thread that
 * installs it, before any worker can see it: a protocol module prepares what it derives from
 * the bundle (pg: its catalog's column globs). Nonzero refuses the bundle (-ENOMEM from
 * rg_gw_set_policy; the one in force stays, and the watchers told of the refused one before
 * are told of the one in force again). Register before the first rg_gw_set_policy.
 */
typedef int (*rg_gw_policy_fn)(void *arg, const struct rg_policy *p);
int rg_gw_policy_watch(struct rg_gw *gw, rg_gw_policy_fn fn, void *arg);

/*
 * The policy bundle in force (takes ownership of p; NULL: pass-through) with the key of the
 * hmac mask style. Call with core NULL before the workers start; afterwards (hot reload, any
 * non-worker thread, one at a time) with the running core: every worker switches to the new
 * bundle between messages and older bundles are freed once none uses them. -EBUSY when
 * workers still hold RG_GW_POLICY_RETIRED_MAX older bundles, -ENOMEM (p stays the caller's).
 */
int rg_gw_set_policy(struct rg_gw *gw, struct rg_core *core, struct rg_policy *p,
		     const uint8_t *hmac, size_t hmac_len);
/* The generation number of the bundle in force, 0 for pass-through. Any thread. */
uint64_t rg_gw_policy_gen(struct rg_gw *gw);

/* A statement's verdict, as a protocol module acts on it on its wire. */
enum rg_gw_verdict {
	RG_GW_VERDICT_PASS = 0, /* no bundle: pass-through */
	RG_GW_VERDICT_ALLOW,
	RG_GW_VERDICT_LOG,  /* allowed; a log rule matched (j->rule) */
	RG_GW_VERDICT_DENY, /* d filled: the rule's SQLSTATE and a message naming it */
	RG_GW_VERDICT_HOLD, /* require_approval, with approvals available (j: the rule's terms;
			     * d: what a denial of it would carry) */
};

/* Why a statement is refused: a SQLSTATE (the rule's, 42501 by default, 53200 when it could
 * not be judged) and a message naming the rule. */
struct rg_gw_deny {
	char sqlstate[6];
	char message[256];
};

struct rg_gw_judgement {
	uint64_t gen;		 /* the bundle generation that judged */
	const char *rule;	 /* the deciding rule's id, or NULL (valid until the next call) */
	const char *shadow_rule; /* a shadow rule that would have decided more strictly */
	int shadow;		 /* its verdict (enum rg_verdict) */
	/* HOLD: the deciding rule's approval terms (valid until the next call) */
	const char *approval_group;
	uint32_t approval_ttl_s, approval_expire_s;
	int approval_scope; /* enum rg_approval_scope */
};

/*
 * On worker w: the verdict for sql from req (req->protocol says how it is lexed, policy.h),
 * switching to a newer bundle first. approvals: the module can hold a statement for a
 * reviewer (else a require_approval verdict is a DENY saying approvals are not available).
 * d is written only for DENY and HOLD.
 */
enum rg_gw_verdict rg_gw_policy_judge(struct rg_gw *gw, unsigned w, const struct rg_request *req,
				      const char *sql, size_t len, bool approvals,
				      struct rg_gw_deny *d, struct rg_gw_judgement *j);
/* On worker w: the scope limits of the bundle in force for req (rg_policy_limits); returns
 * how many are set (ids valid until this worker switches bundles: copy them). */
int rg_gw_policy_limits(struct rg_gw *gw, unsigned w, const struct rg_request *req,
			struct rg_limits *out);

/*
 * A session's scope limits as a protocol module enforces them (rules' `limits:`, decided once
 * at login from the bundle in force then): each one's value and the entry that set it, and
 * what counted toward them so far. Index by enum rg_limit_kind (policy.h). Allocated only for
 * a session that has at least one (most have none); the session owns it (free()).
 */
#define RG_GW_LIMITS 6 /* RG_LIMIT__COUNT */
struct rg_gw_limits {
	uint64_t value[RG_GW_LIMITS];
	char id[RG_GW_LIMITS][64];    /* the limits entry that set it, "" when not set */
	uint64_t count[RG_GW_LIMITS]; /* statements, rows, bytes, denials counted so far */
	uint64_t start_ms, last_stmt_ms; /* CLOCK_MONOTONIC ms: login, the last statement */
};
/* On worker w at login (now_ms: CLOCK_MONOTONIC): *out NULL when no limit applies to req.
 * 0 or -ENOMEM (the session must not run unlimited: end it). */
int rg_gw_limits_start(struct rg_gw *gw, unsigned w, const struct rg_request *req,
		       uint64_t now_ms, struct rg_gw_limits **out);
/* Count add more toward limit k; true when that exceeds it (a limit not set never is). */
static inline bool rg_gw_limits_add(struct rg_gw_limits *l, unsigned k, uint64_t add)
{
	l->count[k] += add;
	return l->id[k][0] && l->count[k] > l->value[k];
}
/* A run of result rows forwarded in one piece (rows of them, bytes long): counted and true
 * when it stays within max_rows and max_bytes (or l is NULL); false, nothing counted, when
 * it would not: the rows then go one by one, and the one past the limit ends the session. */
bool rg_gw_limits_rows_run(struct rg_gw_limits *l, uint64_t rows, uint64_t bytes);
/* The time limits (max_session_duration, idle_timeout) at now_ms: the kind reached, or -1
 * with *left_ms set to the time until the nearest (INT64_MAX: none set). */
int rg_gw_limits_due(const struct rg_gw_limits *l, uint64_t now_ms, int64_t *left_ms);
/* "max_rows 5 (limit t.small) exceeded": what a session ended by limit k is told. */
int rg_gw_limits_reason(const struct rg_gw_limits *l, unsigned k, char *buf, size_t len);
/* On worker w: this worker's policy context for the bundle in force (NULL: none, or out of
 * memory) and its generation (0: none set yet); true when that bundle has mask rules. The
 * masking scratch is the protocol module's own, one per worker. */
bool rg_gw_policy_masking(struct rg_gw *gw, unsigned w, struct rg_policy_ctx **ctx, uint64_t *gen);

/* ---- counters (counters.c) ---------------------------------------------------------------- */

#define RG_GW_COUNTER_FIELDS(X)                                                                    \
	X(sessions)	   /* client connections accepted by the protocol */                       \
	X(sessions_active) /* sessions alive now */                                                \
	X(auth_ok)	   /* agents whose token verified */                                       \
	X(auth_fail)	   /* agents refused (all reasons; see auth_fail_by below) */              \
	X(upstream_fail)   /* target connect/TLS/login failures */                                 \
	X(cancel_requests) /* CancelRequests received */                                           \
	X(cancel_sent)	   /* CancelRequests forwarded to a target */                              \
	X(protocol_violations)                                                                     \
	X(queries)  /* Query messages relayed */                                                   \
	X(parses)   /* Parse messages relayed */                                                   \
	X(fe_bytes) /* client bytes relayed to targets */                                          \
	X(be_bytes) /* target bytes relayed to clients */                                          \
	X(lexing_denied) /* statements refused by the lexing guard (docs/security.md) */       \
	X(token_expired) /* sessions ended because their token expired */                       \
	X(stmt_denied)	 /* statements and function calls denied by the policy bundle */    \
	X(limit_ended)	 /* sessions ended by a scope limit (rules' limits:) */              \
	X(rows_masked)	 /* DataRows, notices and COPY rows rewritten by mask rules */      \
	X(audit_lost)	 /* audit records not kept (the trail failed and the journal full) */ \
	X(audit_refused) /* statements refused because the audit trail cannot be written */ \
	X(stmt_passed)	 /* statements let through with no bundle in force */               \
	X(stmt_allowed)	 /* statements a bundle allowed */                                  \
	X(stmt_logged)	 /* statements a bundle allowed with a log rule */                  \
	X(stmt_held)	 /* statements held for approval */

#define RG_GW_AUTH_REASONS 24 /* >= RG_AUTH_E__COUNT; index by enum rg_auth_err */

/* One per worker and protocol module, written only by that worker (relaxed); summed by
 * rg_gw_counters_sum(). The names say what pg counts; a protocol module counts the same
 * events of its own (queries: statement texts sent, parses: statements prepared, cancel_*:
 * cancel requests, unknown_database: a login naming no target of its protocol). */
/* A log2 histogram of microseconds: bucket b counts values in [2^b, 2^(b+1)) µs (bucket 0
 * also 0); the last bucket takes everything above. */
#define RG_GW_LAT_BUCKETS 26 /* up to 2^26 µs = 67 s */
#define RG_GW_RULE_SLOTS 64
struct rg_gw_lat {
	uint64_t bucket[RG_GW_LAT_BUCKETS];
	uint64_t count, sum_us;
};

struct rg_gw_counters {
#define RG_GW_CNT_DECL(f) uint64_t f;
	RG_GW_COUNTER_FIELDS(RG_GW_CNT_DECL)
#undef RG_GW_CNT_DECL
	uint64_t auth_fail_by[RG_GW_AUTH_REASONS];
	uint64_t unknown_database;
	uint64_t appr_by[8]; /* held statements' outcomes, by enum rg_appr_status */
	uint64_t mask_det[32]; /* rows rewritten, by detector (enum rg_detector; 31: column) */
	/* statements decided by a rule, by rule id (the first RG_GW_RULE_SLOTS ids a worker
	 * meets; later ones count in rule_other). A slot's id is written once, then `used` is
	 * set (release): a scrape reads only used slots. */
	struct rg_gw_rule_cnt {
		char id[56];
		uint32_t used;
		uint32_t verdict; /* enum rg_gw_verdict of the first count (rules decide one way) */
		uint64_t n;
	} rules[RG_GW_RULE_SLOTS];
	uint64_t rule_other;
	/* an agent's round trip as ringgate sees it: from the agent's Query (or the first
	 * message after a ReadyForQuery) to the ReadyForQuery that answers it */
	struct rg_gw_lat stmt_lat;
	/* logging in to the target: the first connect to the target's first ReadyForQuery */
	struct rg_gw_lat login_lat;
} __attribute__((aligned(64)));

static inline void rg_gw_lat_observe(struct rg_gw_lat *h, uint64_t us)
{
	unsigned b = us ? 63u - (unsigned)__builtin_clzll(us) : 0;

	h->bucket[b < RG_GW_LAT_BUCKETS ? b : RG_GW_LAT_BUCKETS - 1]++;
	h->count++;
	h->sum_us += us;
}

/*
 * A protocol module's counters: one block per worker ([rg_gw_workers()], zeroed, each on its
 * own cache lines), freed with the gateway. /metrics labels them protocol="<protocol>" (the
 * config's name, which must outlive the gateway), in the order modules added them. Before the
 * workers start. 0 or -ENOMEM.
 */
int rg_gw_counters_add(struct rg_gw *gw, const char *protocol, struct rg_gw_counters **out);
/* How many protocol modules added counters; for module mod (< that), its protocol name, with
 * its counters summed over the workers (worker -1) or one worker's in out. Any thread; values
 * may be slightly stale. */
size_t rg_gw_counters_protocols(const struct rg_gw *gw);
const char *rg_gw_counters_sum(const struct rg_gw *gw, size_t mod, int worker,
			       struct rg_gw_counters *out);
/* On its worker: one more statement decided by rule `id` with verdict v (by rule id). */
void rg_gw_count_rule(struct rg_gw_counters *c, const char *id, enum rg_gw_verdict v);

/* ---- protocol modules, as main.c starts them ------------------------------------------------ */

/*
 * What main.c needs of a protocol module to serve the config's targets and listeners of its
 * protocol: one per module (pg.h: rg_pg_proto), in main.c's table by enum rg_config_proto.
 * mod is the module's own object, built by main.c over the shared struct rg_gw.
 */
struct rg_gw_proto {
	const char *name;		/* as the config's protocol: */
	const struct rg_proto_ops *ops; /* the core's ops for its listeners' sessions */
	/* Serve one of the gateway's targets, whose protocol is this one. 0 or -ENOMEM. */
	int (*target_add)(void *mod, const struct rg_gw_target *t);
	/* The rg_core_listen proto_ctx of one listener of this protocol; errors are written to
	 * err prefixed with the config location ("line:col: listener NAME: ..."). */
	int (*listener_new)(void *mod, const struct rg_config_listener *lc, void **ctx, char *err,
			    size_t errlen);
	void (*listener_free)(void *ctx);
};

/* ---- the event log (log.c) --------------------------------------------------------------- */

/* One key=value log line on stderr, written with a single write(2), ending with ts=<UTC time,
 * microseconds>. */
void rg_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * A value for a log line, escaped so that it is one token that cannot end the line or add a
 * key=value pair, yet stays readable: bytes 0x21..0x7e other than '"', '\' and '=' as they
 * are; a backslash doubled; newline, carriage return and tab as \n, \r, \t; every other byte
 * (space, '"', '=', control bytes, non-ASCII) as \xHH. NULL or "" gives "-" (absent), so a
 * value "-" is written \x2d. At most cap - 1 bytes, never cut inside an escape; a value cut
 * short ends with "..." (when cap > 8). Every value that comes from a token, a client or a
 * target goes through this before it is logged. Returns out.
 */
const char *rg_logval(const char *in, char *out, size_t cap);

#endif /* RG_GATEWAY_H */
