/*
 * config: ringgate's one YAML configuration file, parsed into a typed, immutable struct.
 *
 * The schema is strict (docs/config.md): unknown keys, duplicate keys, wrong types and bad
 * values are errors, each printed as file:line:column: message, and every error in the file
 * is reported in one run before loading fails. Defaults are filled in, relative paths are made
 * absolute against the config file's directory and addresses are parsed, so consumers never
 * re-validate. Loading is pure: it reads the one file and nothing else (it does not open
 * certificates, key files or password files, nor read environment variables, nor resolve DNS);
 * the modules that use those values report their own errors, pointing at the entry's loc.
 * A loaded config owns all its memory; everything is freed by rg_config_free.
 */
#ifndef RG_CONFIG_H
#define RG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#define RG_CONFIG_VERSION 1

/* Where an entry was written, for errors raised after loading (1-based). */
struct rg_config_loc {
	uint32_t line;
	uint32_t col;
};

/* A listener's or target's protocol. A value is known to the config before its module is
 * built: main.c refuses, with the entry's location, one this binary has no module for. */
enum rg_config_proto {
	RG_CONFIG_PROTO_POSTGRES = 1,
	RG_CONFIG_PROTO_MYSQL = 2, /* MySQL / MariaDB (issue #14) */
};

enum rg_config_addr_kind {
	RG_CONFIG_ADDR_INET = 1, /* host:port; host is an IP literal or a DNS name */
	RG_CONFIG_ADDR_UNIX = 2, /* absolute path of a unix socket */
};

struct rg_config_addr {
	enum rg_config_addr_kind kind;
	const char *text; /* as written */
	const char *host; /* INET: IP literal without brackets, or DNS name */
	uint16_t port;	  /* INET only */
	const char *path; /* UNIX only */
	bool numeric;	  /* sa is filled: INET with an IP literal, or UNIX */
	struct sockaddr_storage sa;
	socklen_t salen;
};

/* Server side TLS of a listener: both files are required when tls is given. */
struct rg_config_listener_tls {
	const char *cert; /* absolute path */
	const char *key;  /* absolute path */
	bool require;	  /* refuse logins that did not negotiate TLS [true] */
};

struct rg_config_listener {
	struct rg_config_loc loc;
	const char *name;
	struct rg_config_addr address; /* always INET with a numeric host */
	enum rg_config_proto protocol;
	bool tls_enabled;
	struct rg_config_listener_tls tls;
	/* Without tls the address must be loopback unless this is set: agents' tokens then
	 * cross the network in clear text (main logs event=plaintext_listener either way). */
	bool insecure_plaintext;
};

/* The admin listener (engine/admin, docs/admin.md): health, reload, the approvals API and
 * page. Without tls its address must be loopback unless insecure_plaintext is set, as for
 * listeners: reviewers' tokens are bearer credentials. */
struct rg_config_admin {
	bool enabled;		       /* the admin section is present */
	struct rg_config_loc loc;
	struct rg_config_addr address; /* INET, numeric host */
	/* Public base URL (no trailing slash) put in clients' notices and links: url as
	 * written, or http[s]://address with a wildcard host replaced by loopback. */
	const char *url;
	const char *const *operators; /* token groups allowed to POST /reload; may be empty */
	size_t n_operators;
	bool tls_enabled;
	const char *tls_cert; /* absolute paths, both set when tls_enabled */
	const char *tls_key;
	bool insecure_plaintext;
};

struct rg_config_issuer {
	struct rg_config_loc loc;
	const char *issuer; /* compared byte for byte with the token's iss */
	const char *audience;
	const char *jwks_file; /* absolute path, or NULL when jwks_url is set */
	const char *jwks_url;  /* https:// (http:// only to loopback), or NULL */
	uint64_t jwks_refresh_ms;
	uint64_t unknown_kid_refresh_ms; /* at most one unknown-kid refresh per; default 30 s */
	const char *groups_claim;
	const char *const *required_claims;
	size_t n_required_claims;
	bool session_outlives_token;	/* false: a session ends when its token expires */
	uint64_t max_token_lifetime_ms; /* 0: no limit on exp - iat / exp - now */
};

struct rg_config_identity {
	uint64_t clock_skew_ms;
	struct rg_config_issuer *issuers;
	size_t n_issuers; /* 0 when the identity section is absent */
};

enum rg_config_tls_mode {
	RG_CONFIG_TLS_DISABLE = 0,
	RG_CONFIG_TLS_REQUIRE = 1,     /* encrypt, do not verify the server certificate */
	RG_CONFIG_TLS_VERIFY_FULL = 2, /* verify chain and name; system CAs if ca is NULL */
};

/* SCRAM channel binding to the target's certificate (SCRAM-SHA-256-PLUS), as libpq's
 * channel_binding. */
enum rg_config_channel_binding {
	RG_CONFIG_CB_PREFER = 0,  /* bind when the target offers -PLUS over TLS */
	RG_CONFIG_CB_REQUIRE = 1, /* refuse any target login that is not SCRAM-SHA-256-PLUS */
	RG_CONFIG_CB_DISABLE = 2, /* never bind: SCRAM-SHA-256 with gs2 header "n,," */
};

struct rg_config_target_tls {
	enum rg_config_tls_mode mode;
	const char *ca;		 /* absolute path or NULL */
	const char *server_name; /* NULL: the address's host */
	enum rg_config_channel_binding channel_binding; /* postgres only (disable for mysql);
							 * not with mode disable; default
							 * require with mode require (nothing else
							 * proves the certificate), prefer with
							 * verify-full */
};

/* How ringgate may authenticate to a target (targets[].allowed_auth, as libpq's
 * require_auth): any request for another method fails the login. */
#define RG_CONFIG_AUTH_SCRAM 0x1u    /* "scram-sha-256" (SCRAM-SHA-256[-PLUS]) */
#define RG_CONFIG_AUTH_MD5 0x2u	     /* "md5" */
#define RG_CONFIG_AUTH_PASSWORD 0x4u /* "password": the real password in cleartext */
#define RG_CONFIG_AUTH_NONE 0x8u     /* "none": the target lets ringgate in without any */

/* One more upstream role of a target (targets[].roles[]): an agent whose token carries one
 * of `groups` may ask for it as its startup user, and ringgate logs in as it. */
struct rg_config_role {
	struct rg_config_loc loc;
	const char *user;	   /* the upstream role, also what the agent puts in `user` */
	const char *password_file; /* absolute path; exactly one of these two is set */
	const char *password_env;
	const char *const *groups; /* at least one */
	size_t n_groups;
};

struct rg_config_target {
	struct rg_config_loc loc;
	const char *name; /* postgres: the agent's startup `database`; mysql: the agent's
			   * handshake `user` (docs/mysql.md) */
	enum rg_config_proto protocol;
	struct rg_config_addr address; /* INET (numeric or DNS name) or UNIX */
	const char *database; /* postgres: required; mysql: default schema, NULL: none */
	const char *user;
	const char *password_file; /* absolute path; exactly one of these two is set */
	const char *password_env;  /* environment variable name */
	struct rg_config_target_tls tls;
	unsigned allowed_auth; /* RG_CONFIG_AUTH_* bits [scram-sha-256 only] */
	struct rg_config_role *roles; /* more upstream roles, each for some groups */
	size_t n_roles;
	uint64_t connect_timeout_ms;
	/* A SCRAM server-first asking for more PBKDF2 iterations fails the login (they run on
	 * a worker thread); RG_AUTH_SCRAM_MIN..MAX_ITERATIONS, default ..._DEFAULT_MAX_... */
	uint32_t scram_max_iterations;
	/* mysql: the server's RSA public key (PEM), for caching_sha2_password's full
	 * authentication without TLS; never fetched from the server. NULL: none. */
	const char *server_public_key_file;
	bool tls_channel_binding_set; /* tls.channel_binding was written (postgres only) */
};

struct rg_config_policy {
	const char *bundle;	   /* absolute path, NULL when the section is absent */
	const char *public_key;	   /* absolute path or NULL: unsigned bundles accepted */
	const char *hmac_key_file; /* absolute path or NULL */
	/* column mask rules: how often each target's catalog is read again in the background
	 * (it is also read on a miss and after a schema change seen through the gateway) */
	uint64_t catalog_refresh_ms;
};

struct rg_config_limits {
	uint64_t idle_timeout_ms; /* 0: sessions never time out for idleness */
	uint32_t max_sessions;	  /* logged-in sessions (token verified) */
	/* Connections whose agent has not presented a valid token yet (docs/config.md). */
	uint32_t max_pending_logins;
	uint32_t max_pending_per_address; /* 0: no per-address cap */
	uint64_t password_timeout_ms;	  /* accept .. the whole PasswordMessage */
	uint64_t login_timeout_ms;	  /* accept .. the first ReadyForQuery, not re-armed */
};

/* Statements held for approval (docs/pg.md "Approval"): who hears of a new request. */
struct rg_config_approvals {
	const char *const *webhooks; /* POSTed each new request (Slack-compatible JSON) */
	size_t n_webhooks;
	uint64_t webhook_timeout_ms; /* per attempt; 3 attempts */
};

/* The audit trail (docs/audit.md): where, the key that signs its checkpoints, fsync policy. */
struct rg_config_audit {
	bool enabled;	      /* the section is present */
	const char *dir;      /* absolute path, NULL: state_dir/audit */
	const char *key_file; /* Ed25519 private key (PEM) */
	bool fsync_interval;  /* fsync at most every fsync_interval_ms (else every batch) */
	uint64_t fsync_interval_ms;
	bool keep_literals;	 /* literals: keep (statement texts and parameters as sent) */
	bool fail_open;		 /* on_error: allow (statements go on while it cannot write) */
	const char *journal_dir; /* absolute path, NULL: /dev/shm (else the trail's dir) */
	bool record;		   /* record_sessions: results as the agent saw them */
	uint64_t record_max_bytes; /* per session, recorded bytes (then marked truncated) */
	const char *recordings_dir; /* absolute path, NULL: state_dir/recordings */
	uint64_t retention_ms;	    /* records and recordings older are removed (0: kept) */
};

struct rg_config {
	const char *path; /* the file loaded, as given */
	const char *dir;  /* directory relative paths were resolved against */
	uint32_t version;
	uint32_t threads;      /* 0: one per core, see rg_config_threads() */
	const char *state_dir; /* absolute path */
	struct rg_config_listener *listeners;
	size_t n_listeners; /* >= 1 */
	struct rg_config_admin admin;
	struct rg_config_identity identity;
	struct rg_config_target *targets;
	size_t n_targets; /* >= 1 */
	struct rg_config_policy policy;
	struct rg_config_limits limits;
	struct rg_config_approvals approvals;
	/* control store: a postgres:// URI shared by a fleet of nodes, or NULL: SQLite at
	 * state_dir/control.db */
	const char *control;
	struct rg_config_audit audit;
	struct rg_config_arena *arena; /* private: owns every pointer above */
};

/*
 * Load and validate path. Every error is printed to errs (NULL: not printed) as
 * "file:line:col: message"; a file that cannot be read gives "file: reason".
 * Returns 0 and *out, or a negative errno: -EINVAL (the file has errors), -ENOENT or another
 * errno from opening or reading the file, -ENOMEM. *out is NULL on failure.
 */
int rg_config_load(const char *path, struct rg_config **out, FILE *errs);

/*
 * Same, from a buffer: name is used in messages and as cfg->path, base_dir resolves relative
 * paths (NULL: the current directory). Used by rg_config_load, tests and the fuzz target.
 */
int rg_config_parse(const char *buf, size_t len, const char *name, const char *base_dir,
		    struct rg_config **out, FILE *errs);

void rg_config_free(struct rg_config *cfg);

/* Lookups by name; NULL when absent. */
const struct rg_config_target *rg_config_target(const struct rg_config *cfg, const char *name);
const struct rg_config_listener *rg_config_listener(const struct rg_config *cfg, const char *name);
const struct rg_config_issuer *rg_config_issuer(const struct rg_config *cfg, const char *issuer);

/* cfg->threads, or the number of online CPUs when it is 0 (at least 1). */
unsigned rg_config_threads(const struct rg_config *cfg);

/* An INET address with an IP literal in 127.0.0.0/8, ::1 or ::ffff:127.0.0.0/104: traffic to
 * it never leaves the host. */
bool rg_config_addr_is_loopback(const struct rg_config_addr *a);

const char *rg_config_proto_name(enum rg_config_proto p);
const char *rg_config_tls_mode_name(enum rg_config_tls_mode m);

/*
 * Value parsers shared with command-line flags. Each returns 0, or -EINVAL with a short
 * reason in why (may be NULL).
 * Duration: decimal integer followed by ms, s, m or h ("250ms", "60s", "5m", "1h").
 */
int rg_config_parse_duration(const char *s, uint64_t *ms, const char **why);

/* Address flags: what besides "ip:port" / "[ipv6]:port" is accepted. */
#define RG_CONFIG_ADDR_ALLOW_DNS 0x1  /* "name:port" with a DNS host name */
#define RG_CONFIG_ADDR_ALLOW_UNIX 0x2 /* "/path/to/socket" */

/* Parses into out; out->text/host/path point into scratch (at least strlen(s) + 1 bytes). */
int rg_config_parse_addr(const char *s, unsigned flags, struct rg_config_addr *out, char *scratch,
			 const char **why);

#endif /* RG_CONFIG_H */
