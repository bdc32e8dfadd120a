/*
 * pg: the PostgreSQL gateway protocol, an rg_proto_ops implementation (rg_pg_ops).
 *
 * Agents log in with a stock PostgreSQL client and an OIDC JWT as the password; ringgate,
 * which alone holds the target's real credentials, logs in to the target and relays the
 * session. This header is the module's public face: the pg gateway object built once at
 * startup from the configuration (its targets and their roles, the cancel key registry)
 * over the services every protocol shares (engine/gateway: issuers' verifiers, targets'
 * addresses and credentials, admission, the policy bundle in force, per-worker counters,
 * the event log), the
 * per-listener context handed to rg_core_listen, and the two seams the policy issues plug
 * into (per-statement verdict, per-row inspection). The framing and message helpers live in
 * wire.h.
 *
 * Never: the target password or the agent's token in a log line or a client-visible byte.
 */
#ifndef RG_PROTO_PG_PG_H
#define RG_PROTO_PG_PG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "core.h"
#include "wire.h"

struct rg_config;
struct rg_config_target;
struct rg_gw;
struct rg_gw_target;
struct rg_config_listener;
struct rg_config_role;
struct rg_auth_cred;
struct rg_auth_principal;

/* The protocol ops table; proto_ctx of the listener must be a struct rg_pg_listener. */
extern const struct rg_proto_ops rg_pg_ops;
/* The module as main.c starts it (gateway.h): mod is a struct rg_pg_gw, ctx a struct
 * rg_pg_listener. */
struct rg_gw_proto;
extern const struct rg_gw_proto rg_pg_proto;

/* ---- seams for policy (no-ops by default) --------------------------------------------- */

/* Which kind of client message carried a statement. */
enum rg_pg_stmt_kind {
	RG_PG_STMT_QUERY = 0, /* simple Query: may hold several statements */
	RG_PG_STMT_PARSE = 1, /* extended Parse: one statement, name in stmt_name */
	RG_PG_STMT_FUNCTION_CALL = 2, /* fast-path call, judged as SELECT pg_catalog.f() */
};

/* What the session knows about who runs a statement, and where. */
struct rg_pg_sess_info {
	const struct rg_auth_principal *identity; /* auth.h: rg_auth_principal_sub() ... */
	const char *target; /* configured target name */
	const char *peer;   /* "ip:port" of the agent */
	uint64_t id;	    /* session id (per process, for logs) */
};

/* A hook's answer. DENY makes the gateway answer the client with an ErrorResponse built
 * from sqlstate/message (defaults 42501 / "statement denied by policy") instead of
 * forwarding the statement; the session stays usable (see docs/pg.md, "Denying"). */
enum rg_pg_hook_verdict {
	RG_PG_HOOK_ALLOW = 0,
	RG_PG_HOOK_DENY = 1,
};

struct rg_pg_deny {
	char sqlstate[6];
	char message[256];
};

typedef enum rg_pg_hook_verdict (*rg_pg_stmt_hook)(void *arg, const struct rg_pg_sess_info *si,
						   enum rg_pg_stmt_kind kind, const char *stmt_name,
						   const char *sql, size_t len,
						   struct rg_pg_deny *deny);
/*
 * Called for each whole DataRow, after the RowDescription of its result set (rowdesc may be
 * NULL: rows of an Execute on a statement described earlier). The row bytes may be rewritten
 * in place (same length) by a later masking issue; rows large enough to be streamed in
 * pieces are not passed here (docs/pg.md).
 */
typedef void (*rg_pg_row_hook)(void *arg, const struct rg_pg_sess_info *si,
			       const struct rg_pg_msg *rowdesc, struct rg_pg_msg *row);

/* ---- the gateway object ---------------------------------------------------------------- */

struct rg_pg_gw;

/* Create the pg gateway over the shared services svc (as many workers; it verifies tokens
 * with svc's issuers and admits sessions through svc). cfg and svc must outlive it. */
int rg_pg_gw_new(const struct rg_config *cfg, struct rg_gw *svc, struct rg_pg_gw **out);
/* Serve one of svc's targets (rg_gw_add_target). -EINVAL if its protocol is not postgres,
 * -ENOMEM. */
int rg_pg_gw_add_target(struct rg_pg_gw *gw, const struct rg_gw_target *t);
/* Hand over the credential of one of a target's roles (targets[].roles[]); after the
 * target itself. -ENOENT if no such target, -ENOMEM. */
int rg_pg_gw_add_role(struct rg_pg_gw *gw, const char *target, const struct rg_config_role *rc,
		      struct rg_auth_cred *cred);
/* The policy bundle in force is the shared gateway's (rg_gw_set_policy, gateway.h: one
 * generation for every protocol); the pg gateway follows each new one from svc. */
/* Install the seams (NULL restores the no-op default). */
void rg_pg_gw_set_hooks(struct rg_pg_gw *gw, rg_pg_stmt_hook stmt, rg_pg_row_hook row, void *arg);
/* The counters are svc's block for "postgres" (rg_gw_counters_add, gateway.h): each worker
 * writes its own, /metrics sums them by protocol. */
void rg_pg_gw_free(struct rg_pg_gw *gw);

/*
 * The audit trail (engine/evidence) sessions write to, through the events object that holds
 * each worker's journal (rg_events_new, shared by every protocol module). Call before the
 * workers start; rg_pg_gw_audit_free before the trail is closed and the events freed.
 */
struct rg_audit;
struct rg_events;
struct rg_config_audit;
int rg_pg_gw_set_audit(struct rg_pg_gw *gw, struct rg_audit *a, struct rg_events *ev,
		       const struct rg_config_audit *ac);
void rg_pg_gw_audit_free(struct rg_pg_gw *gw);

/* Session recordings (audit.record_sessions): engine/evidence's recorder of their trail
 * (rg_rec_new, shared with the other protocols), before the workers start; 0. */
struct rg_rec;
int rg_pg_gw_set_recording(struct rg_pg_gw *gw, struct rg_rec *rec);

/* Per-listener context: the rg_core_listen proto_ctx. Loads the listener's cert/key. */
struct rg_pg_listener;
int rg_pg_listener_new(struct rg_pg_gw *gw, const struct rg_config_listener *lc,
		       struct rg_pg_listener **out, char *err, size_t errlen);
void rg_pg_listener_free(struct rg_pg_listener *l);

/*
 * Statements held for approval (issue #11): with the process's approvals object
 * (engine/approvals, built by main.c over the control store, outliving gw) a
 * require_approval verdict holds the statement in its session until a reviewer decides;
 * without one (NULL) it is refused. Before the workers start.
 */
struct rg_approvals;
void rg_pg_gw_set_approvals(struct rg_pg_gw *gw, struct rg_approvals *ap);

/*
 * Column mask rules need the names of result columns, which a RowDescription gives only as
 * (table OID, attribute number): a catalog thread reads them from each target (catalog.c)
 * through an internal listener that logs in to the target like any session. Listen with
 * rg_pg_gw_catalog_listener's context on 127.0.0.1 (any port), then, once the workers run,
 * start the thread with that port and the background refresh period (0: 60 s). Stop it
 * after the workers were joined and before the core is freed.
 */
int rg_pg_gw_catalog_listener(struct rg_pg_gw *gw, struct rg_pg_listener **out);
int rg_pg_gw_catalog_start(struct rg_pg_gw *gw, struct rg_core *core, uint16_t port,
			   uint64_t ttl_ms);
void rg_pg_gw_catalog_stop(struct rg_pg_gw *gw);

/* ---- pure helpers (unit-tested) -------------------------------------------------------- */

/*
 * The run-time settings of the agent's StartupMessage (its parameters and its `options`:
 * -c name=value, --name=value) that go to the target (settings.c): an allow-list of
 * settings that only shape the agent's own session (presentation, timeouts, isolation,
 * search_path). client_encoding (UTF-8 only) and standard_conforming_strings (on only) are
 * checked but not copied: the session always sends the pinned values. Writes
 * name\0value\0 pairs (names lower-case) to out and their count to *n, and returns the bytes
 * written; any other setting, option or value returns -1 with msg set to the FATAL text that
 * names it (0A000), nothing forwarded silently.
 */
#define RG_PG_SETTINGS_MAX 32 /* settings forwarded from one StartupMessage, at most */
ssize_t rg_pg_startup_settings(const struct rg_pg_startup *su, char *out, size_t cap, size_t *n,
			       char *msg, size_t msglen);


/* Cancel key registry (cancel.c). Safe from any thread: one mutex, touched only at login,
 * logout and cancel, never per message. */
struct rg_pg_cancel_reg;
struct rg_pg_cancel_entry {
	uint32_t pid; /* as issued to the agent: the target's pid, with ringgate's key */
	uint8_t key[4];
	const void *target; /* opaque: the gateway's target */
	uint32_t be_pid;    /* the target's key */
	uint8_t be_key[RG_PG_CANCEL_KEY_MAX];
	uint32_t be_key_len;
	/* the address the session is connected to (a DNS target may have several): a cancel
	 * must reach that server; be_addrlen 0 = the target's first address */
	struct sockaddr_storage be_addr;
	socklen_t be_addrlen;
	/* the session holding the key (a held statement is withdrawn by its cancel) */
	unsigned worker;
	uint64_t sess_id;
	/* all the session runs is a statement held for approval: the cancel withdraws it and
	 * does not reach the target (where it could cancel the statement after it) */
	bool held_only;
};
struct rg_pg_cancel_reg *rg_pg_cancel_reg_new(void);
void rg_pg_cancel_reg_free(struct rg_pg_cancel_reg *r);
/* Issue (e->be_pid, a fresh random key) not in use into e->pid/e->key and store e with it
 * (the target's key at its be_key_len); 0 or -ENOMEM / -EIO, -EINVAL if be_key_len exceeds
 * be_key. */
int rg_pg_cancel_register(struct rg_pg_cancel_reg *r, struct rg_pg_cancel_entry *e);
/* Copy the entry for (pid, key) into out: true if found (constant-time key compare). */
bool rg_pg_cancel_lookup(struct rg_pg_cancel_reg *r, uint32_t pid, const uint8_t *key,
			 size_t key_len, struct rg_pg_cancel_entry *out);
void rg_pg_cancel_unregister(struct rg_pg_cancel_reg *r, uint32_t pid, const uint8_t *key);
void rg_pg_cancel_set_held_only(struct rg_pg_cancel_reg *r, uint32_t pid, const uint8_t *key,
				bool held_only);
size_t rg_pg_cancel_count(struct rg_pg_cancel_reg *r);

#endif /* RG_PROTO_PG_PG_H */
