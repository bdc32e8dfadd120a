/*
 * main.c: the ringgate binary. Flags and configuration only: load the config, build each
 * module's runtime object from it (the gateway's issuers' verifiers and targets with their
 * credentials, the policy bundle, the pg gateway and its listeners), hand them to the
 * engine, run until SIGTERM/SIGINT, drain, exit 0. SIGHUP reloads the policy bundle (a thread
 * of its own waits for it with sigwait, so no work happens in a signal handler). With an
 * admin section, the control store is opened and the admin listener started; its POST
 * /reload is the SIGHUP reload (one function, one reload at a time).
 *
 * No protocol or policy logic lives here. Errors found while building objects from the
 * config are printed as file:line:col: message, like the config loader's own. Never prints
 * a secret: credentials are read by engine/auth into wiped memory.
 */
#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin.h"
#include "approvals.h"
#include "auth.h"
#include "config.h"
#include "control.h"
#include "core.h"
#include "evidence.h"
#include "gateway.h"
#include "mysql.h"
#include "pg.h"
#include "policy.h"
#include "rg_bpf.h"
#include "telemetry.h"

#ifndef RG_VERSION
#define RG_VERSION "dev"
#endif
#define DRAIN_MS 10000

static struct rg_core *g_core;

static void usage(FILE *out)
{
	fprintf(out,
		"usage: ringgate --config FILE\n"
		"       ringgate --check-config FILE\n"
		"       ringgate --version | --help\n\n"
		"  --config FILE        run the gateway with this configuration (docs/config.md)\n"
		"  --check-config FILE  validate FILE and the files it names; exit 0 or 1\n"
		"  --version            print the version\n"
		"  --help               this text\n\n"
		"SIGTERM or SIGINT drains sessions (up to %d s) and exits 0.\n"
		"SIGHUP reloads policy.bundle (a bad one is refused and the old one stays), as\n"
		"does POST /reload on the admin listener (docs/admin.md).\n",
		DRAIN_MS / 1000);
}

/* SIGTERM/SIGINT from the start of run(): one that comes while the gateway is still being
 * set up (its listeners may already accept) is kept and acted on once the engine runs, so
 * a stop never skips the drain and the audit trail's seal. */
static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
	if (g_core)
		rg_core_shutdown(g_core, DRAIN_MS);
}

static int audit_event(const char *event, const char *fmt, ...);

/* An issuer's key set was fetched (keys added or removed) or could not be: the log, and the
 * audit trail (the keys that verify agents are part of the evidence). */
static void log_refresh(void *arg, bool error, const char *msg)
{
	(void)arg;
	fprintf(stderr, "event=jwks_%s detail=\"%s\"\n", error ? "error" : "info", msg);
	audit_event("issuer_keys", "{s:b, s:s}", "error", error, "detail", msg);
}

/* SHA-256 of the config file as loaded, hex: a changed config is visible in the trail. */
static void config_digest(const char *path, char out[65])
{
	static const char hexd[] = "0123456789abcdef";
	unsigned char md[32], buf[8192];
	unsigned int mdlen = 0;
	EVP_MD_CTX *mc = EVP_MD_CTX_new();
	FILE *f = fopen(path, "rb");
	size_t n;

	out[0] = '\0';
	if (f && mc && EVP_DigestInit_ex(mc, EVP_sha256(), NULL) == 1) {
		while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
			EVP_DigestUpdate(mc, buf, n);
		if (EVP_DigestFinal_ex(mc, md, &mdlen) == 1 && mdlen == 32) {
			for (int i = 0; i < 32; i++) {
				out[2 * i] = hexd[md[i] >> 4];
				out[2 * i + 1] = hexd[md[i] & 15];
			}
			out[64] = '\0';
		}
	}
	if (f)
		fclose(f);
	EVP_MD_CTX_free(mc);
}

/* One credential from a password file or an environment variable. */
static int read_cred(const struct rg_config *cfg, const struct rg_config_loc *loc,
		     const char *what, const char *file, const char *env,
		     struct rg_auth_cred **out)
{
	char err[512] = "";
	int ret = file ? rg_auth_cred_from_file(file, out, err, sizeof(err))
		       : rg_auth_cred_from_env(env, out, err, sizeof(err));

	if (ret)
		fprintf(stderr, "%s:%u:%u: %s: %s\n", cfg->path, loc->line, loc->col, what, err);
	return ret ? 1 : 0;
}

/* ---- protocols: each listener and target is served by the module of its protocol ------ */

/* The protocol modules built in, by the config's protocol: (NULL: the config knows the
 * protocol, this version has no module for it, and a config naming it is refused). */
static const struct rg_gw_proto *const protos[] = {
    [RG_CONFIG_PROTO_POSTGRES] = &rg_pg_proto,
    [RG_CONFIG_PROTO_MYSQL] = &rg_mysql_proto,
};
#define NPROTOS (sizeof(protos) / sizeof(protos[0]))

static const struct rg_gw_proto *proto_of(enum rg_config_proto p)
{
	return (size_t)p < NPROTOS ? protos[p] : NULL;
}

/* Every listener and target names a protocol built in: one error for each that does not,
 * with its location. Returns the error count. */
static int check_protocols(const struct rg_config *cfg)
{
	char built[128] = "";
	size_t i, off = 0;
	int nerr = 0;

	for (i = 0; i < NPROTOS; i++)
		if (protos[i] && off < sizeof(built))
			off += (size_t)snprintf(built + off, sizeof(built) - off, "%s%s",
						off ? ", " : "", protos[i]->name);
	for (i = 0; i < cfg->n_listeners; i++) {
		const struct rg_config_listener *l = &cfg->listeners[i];

		if (proto_of(l->protocol))
			continue;
		fprintf(stderr, "%s:%u:%u: listener %s: protocol %s: not built in this version "
				"(built in: %s)\n",
			cfg->path, l->loc.line, l->loc.col, l->name,
			rg_config_proto_name(l->protocol), built);
		nerr++;
	}
	for (i = 0; i < cfg->n_targets; i++) {
		const struct rg_config_target *t = &cfg->targets[i];

		if (proto_of(t->protocol))
			continue;
		fprintf(stderr, "%s:%u:%u: target %s: protocol %s: not built in this version "
				"(built in: %s)\n",
			cfg->path, t->loc.line, t->loc.col, t->name,
			rg_config_proto_name(t->protocol), built);
		nerr++;
	}
	return nerr;
}

/*
 * Build verifiers and targets with their credentials from the config into svc, each target
 * then handed to its protocol's module (mods: each built-in module's object, by protocol;
 * a target of a protocol not built in was refused by check_protocols), and the postgres
 * targets' roles into gw. Returns the error count.
 */
static int build_gw(const struct rg_config *cfg, struct rg_gw *svc, void *const *mods,
		    struct rg_pg_gw *gw)
{
	struct rg_auth_cred **creds, ***rcreds;
	char err[512], what[300];
	size_t i, k;
	int nerr = 0;

	creds = calloc(cfg->n_targets, sizeof(*creds));
	rcreds = calloc(cfg->n_targets, sizeof(*rcreds));
	if (!creds || !rcreds) {
		fprintf(stderr, "%s: out of memory\n", cfg->path);
		free(creds);
		free(rcreds);
		return 1;
	}
	for (i = 0; i < cfg->n_targets; i++) {
		const struct rg_config_target *t = &cfg->targets[i];

		snprintf(what, sizeof(what), "target %s", t->name);
		nerr += read_cred(cfg, &t->loc, what, t->password_file, t->password_env,
				  &creds[i]);
		if (t->n_roles && !(rcreds[i] = calloc(t->n_roles, sizeof(**rcreds)))) {
			nerr++;
			continue;
		}
		for (k = 0; k < t->n_roles; k++) {
			const struct rg_config_role *r = &t->roles[k];

			snprintf(what, sizeof(what), "target %s role %s", t->name, r->user);
			nerr += read_cred(cfg, &r->loc, what, r->password_file, r->password_env,
					  &rcreds[i][k]);
		}
	}
	/* Every password is in wiped memory now: drop the environment copies before any
	 * thread (the DNS re-resolver, a JWKS refresher, libcurl reading proxy variables) may
	 * read environ. */
	for (i = 0; i < cfg->n_targets; i++) {
		if (cfg->targets[i].password_env)
			rg_auth_env_scrub(cfg->targets[i].password_env);
		for (k = 0; k < cfg->targets[i].n_roles; k++)
			if (cfg->targets[i].roles[k].password_env)
				rg_auth_env_scrub(cfg->targets[i].roles[k].password_env);
	}
	for (i = 0; i < cfg->n_targets; i++) {
		const struct rg_config_target *t = &cfg->targets[i];
		const struct rg_gw_proto *pr = proto_of(t->protocol);
		bool added = false;

		if (creds[i] && rg_gw_add_target(svc, t, creds[i], err, sizeof(err))) {
			fprintf(stderr, "%s:%s\n", cfg->path, err);
			rg_auth_cred_free(creds[i]);
			nerr++;
		} else if (creds[i] && pr) {
			int r = pr->target_add(mods[t->protocol], rg_gw_target(svc, t->name));

			if (r) {
				/* a module's own error (-EINVAL) was printed by it, after the path */
				if (r == -ENOMEM)
					fprintf(stderr, "%s: out of memory\n", cfg->path);
				else
					fprintf(stderr, "%s: target %s: not added (see above)\n",
						cfg->path, t->name);
				nerr++;
			} else {
				added = true;
			}
		}
		/* roles are the pg module's (targets[].roles[]) */
		for (k = 0; rcreds[i] && k < t->n_roles; k++) {
			if (added && t->protocol == RG_CONFIG_PROTO_POSTGRES && rcreds[i][k] &&
			    !rg_pg_gw_add_role(gw, t->name, &t->roles[k], rcreds[i][k]))
				continue;
			rg_auth_cred_free(rcreds[i][k]);
		}
		free(rcreds[i]);
	}
	free(creds);
	free(rcreds);
	for (i = 0; i < cfg->identity.n_issuers; i++) {
		const struct rg_config_issuer *is = &cfg->identity.issuers[i];
		struct rg_auth_verifier *v = NULL;
		struct rg_auth_config ac;

		rg_auth_config_init(&ac);
		ac.issuer = is->issuer;
		ac.audience = is->audience;
		ac.jwks_file = is->jwks_file;
		ac.jwks_url = is->jwks_url;
		ac.jwks_refresh_ms = is->jwks_refresh_ms;
		ac.unknown_kid_refresh_ms = is->unknown_kid_refresh_ms;
		ac.clock_skew_ms = cfg->identity.clock_skew_ms;
		ac.max_token_lifetime_ms = is->max_token_lifetime_ms;
		ac.session_outlives_token = is->session_outlives_token;
		if (is->groups_claim)
			ac.groups_claim = is->groups_claim;
		ac.required_claims = is->required_claims;
		ac.n_required_claims = is->n_required_claims;
		ac.log = log_refresh;
		err[0] = 0;
		if (rg_auth_verifier_new(&ac, &v, err, sizeof(err)) ||
		    rg_gw_add_issuer(svc, is->issuer, v)) {
			fprintf(stderr, "%s:%u:%u: identity.issuers: %s\n", cfg->path, is->loc.line,
				is->loc.col, err[0] ? err : "cannot create verifier");
			if (v)
				rg_auth_verifier_free(v);
			nerr++;
		}
	}
	if (!cfg->identity.n_issuers) {
		fprintf(stderr, "%s: identity: no issuers configured: every login will fail\n",
			cfg->path);
	}
	return nerr;
}

/* Each listener's context from the module of its protocol (ls[i] stays NULL for one whose
 * protocol is not built in: check_protocols refused it). Returns the error count. */
static int build_listeners(const struct rg_config *cfg, void *const *mods, void **ls)
{
	char err[512];
	size_t i;
	int nerr = 0;

	for (i = 0; i < cfg->n_listeners; i++) {
		const struct rg_config_listener *lc = &cfg->listeners[i];
		const struct rg_gw_proto *pr = proto_of(lc->protocol);

		if (pr && pr->listener_new(mods[lc->protocol], lc, &ls[i], err, sizeof(err))) {
			fprintf(stderr, "%s:%s\n", cfg->path, err);
			nerr++;
		}
	}
	return nerr;
}

static void free_listeners(const struct rg_config *cfg, void **ls)
{
	for (size_t i = 0; ls && i < cfg->n_listeners; i++)
		if (ls[i])
			proto_of(cfg->listeners[i].protocol)->listener_free(ls[i]);
	free(ls);
}

/*
 * Load and verify policy.bundle (with policy.public_key) and read policy.hmac_key_file.
 * Returns 0 with *p NULL when the config has no bundle (pass-through). Errors name the file.
 */
static int load_policy(const struct rg_config *cfg, struct rg_policy **p,
		       struct rg_auth_cred **hmac)
{
	const struct rg_config_policy *pc = &cfg->policy;
	struct rg_policy_opts po = {.pubkey_pem = pc->public_key};
	char err[512] = "";
	int ret;

	*p = NULL;
	*hmac = NULL;
	if (!pc->bundle)
		return 0;
	ret = rg_policy_load_file(pc->bundle, &po, p, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "%s: policy.bundle %s: %s\n", cfg->path, pc->bundle, err);
		return ret;
	}
	if (pc->hmac_key_file &&
	    rg_auth_cred_from_file(pc->hmac_key_file, hmac, err, sizeof(err))) {
		fprintf(stderr, "%s: policy.hmac_key_file: %s\n", cfg->path, err);
		rg_policy_free(*p);
		*p = NULL;
		return -EINVAL;
	}
	return 0;
}

/* state_dir (mode 0700) when it is missing: the control store and the audit trail live in
 * it. One level: its parent must exist. */
static int make_state_dir(const struct rg_config *cfg)
{
	if (mkdir(cfg->state_dir, 0700) && errno != EEXIST) {
		int e = errno;

		fprintf(stderr, "%s: state_dir %s: %s\n", cfg->path, cfg->state_dir, strerror(e));
		return -e;
	}
	return 0;
}

/* ---- the audit trail (docs/audit.md): the gateway's own events ---------------------- */

static struct rg_audit *g_audit;
static struct rg_audit *g_rec; /* session recordings (audit.record_sessions) */
static struct rg_events *g_events; /* each worker's journal of session events */
static struct rg_rec *g_recorder; /* each worker's recording journal (every protocol) */

/* One record: fmt as json_pack's, plus "event" first. Fails closed on the caller's side only
 * at start (a trail that cannot be opened or written stops the start). */
static int audit_event(const char *event, const char *fmt, ...)
{
	json_t *o, *extra = NULL;
	char *txt;
	va_list ap;
	int r = 0;

	if (!g_audit)
		return 0;
	o = json_pack("{s:s}", "event", event);
	if (fmt) {
		va_start(ap, fmt);
		extra = json_vpack_ex(NULL, 0, fmt, ap);
		va_end(ap);
		if (extra)
			json_object_update(o, extra);
		json_decref(extra);
	}
	txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (txt)
		r = rg_audit_append(g_audit, RG_AUDIT_EVENT, txt, strlen(txt));
	free(txt);
	if (r < 0 || !txt)
		fprintf(stderr, "event=audit_append_failed what=%s detail=\"%s\"\n", event,
			strerror(r < 0 ? -r : ENOMEM));
	return r < 0 ? r : txt ? 0 : -ENOMEM;
}

static int open_audit(const struct rg_config *cfg)
{
	const struct rg_config_audit *ac = &cfg->audit;
	struct rg_audit_opts o = {.key_file = ac->key_file,
				  .fsync = ac->fsync_interval ? RG_AUDIT_FSYNC_INTERVAL
							      : RG_AUDIT_FSYNC_EVERY,
				  .fsync_interval_ms = (uint32_t)ac->fsync_interval_ms,
				  .retention_ms = ac->retention_ms};
	char dir[4096], err[1024];
	int ret;

	if (!ac->enabled)
		return 0;
	if (ac->dir)
		snprintf(dir, sizeof(dir), "%s", ac->dir);
	else
		snprintf(dir, sizeof(dir), "%s/audit", cfg->state_dir);
	o.dir = dir;
	if ((ret = make_state_dir(cfg)))
		return ret;
	ret = rg_audit_open(&o, &g_audit, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "%s: audit: %s\n", cfg->path, err);
		return ret;
	}
	fprintf(stderr, "event=audit_open dir=%s\n", dir);
	if (!ac->record)
		return 0;
	/* session recordings: a trail of their own, same key, same guarantees */
	if (ac->recordings_dir)
		snprintf(dir, sizeof(dir), "%s", ac->recordings_dir);
	else
		snprintf(dir, sizeof(dir), "%s/recordings", cfg->state_dir);
	ret = rg_audit_open(&o, &g_rec, err, sizeof(err));
	if (ret)
		fprintf(stderr, "%s: audit: recordings: %s\n", cfg->path, err);
	else
		fprintf(stderr, "event=recordings_open dir=%s\n", dir);
	return ret;
}

/* The bundle into the gateway, for every protocol's workers (core NULL before the workers
 * start); one log line either way. */
static int install_policy(const struct rg_config *cfg, struct rg_gw *svc, struct rg_core *core,
			  struct rg_policy *p, struct rg_auth_cred *hmac, const char *event)
{
	struct rg_policy_info info;
	const char *key = NULL;
	size_t keylen = 0;
	int ret;

	if (hmac)
		key = rg_auth_cred_secret(hmac, &keylen);
	if (p)
		rg_policy_get_info(p, &info);
	ret = rg_gw_set_policy(svc, core, p, (const uint8_t *)key, keylen);
	rg_auth_cred_free(hmac);
	if (ret) {
		fprintf(stderr, "event=policy_reload_failed reason=%s detail=\"%s\"\n",
			ret == -EBUSY ? "busy" : "internal", strerror(-ret));
		audit_event("policy_reload_failed", "{s:s}", "reason",
			    ret == -EBUSY ? "busy" : "internal");
		rg_policy_free(p);
		return ret;
	}
	if (p) {
		char sum[20];

		snprintf(sum, sizeof(sum), "%016llx", (unsigned long long)info.checksum);
		audit_event(event, "{s:I, s:s, s:s, s:i, s:i, s:b}", "generation",
			    (json_int_t)rg_gw_policy_gen(svc), "bundle", cfg->policy.bundle,
			    "checksum", sum, "rules", (int)info.nrules, "masks", (int)info.nmasks,
			    "signed", info.signed_bundle);
	} else {
		audit_event("policy_none", NULL);
	}
	if (!p)
		fprintf(stderr, "event=policy_none detail=\"no policy.bundle in %s: statements are "
				"not judged by rules (pass-through; the lexing guard still runs)\"\n",
			cfg->path);
	else
		fprintf(stderr,
			"event=%s generation=%llu bundle=%s rules=%u masks=%u packs=%s signed=%s "
			"checksum=%016llx\n",
			event, (unsigned long long)rg_gw_policy_gen(svc), cfg->policy.bundle,
			info.nrules, info.nmasks, info.packs ? info.packs : "-",
			info.signed_bundle ? "yes" : "no", (unsigned long long)info.checksum);
	return 0;
}

/*
 * Reload the bundle off the workers: SIGHUP (the reloader thread) and the admin listener's
 * POST /reload both come here; one reload at a time. A bad bundle is refused and the old one
 * stays. Returns 0, -ENOENT (no policy.bundle configured), -EINVAL (refused) or another
 * negative errno, with what happened in msg.
 */
struct reloader {
	const struct rg_config *cfg;
	struct rg_gw *svc;
	struct rg_core *core;
	pthread_mutex_t mu;
	sigset_t set;
	volatile int stop;
	_Atomic uint64_t ok, failed; /* reloads, for /metrics */
	struct rg_bpf *bpf;	     /* eBPF telemetry, NULL when off (set once, atomically) */
};

static int reload_bundle(struct reloader *r, char *msg, size_t msglen)
{
	struct rg_policy *p;
	struct rg_auth_cred *hmac;
	int ret;

	pthread_mutex_lock(&r->mu);
	if (!r->cfg->policy.bundle) {
		fprintf(stderr, "event=policy_reload_failed reason=no_bundle detail=\"%s has "
				"no policy.bundle\"\n",
			r->cfg->path);
		snprintf(msg, msglen, "%s has no policy.bundle", r->cfg->path);
		ret = -ENOENT;
	} else if (load_policy(r->cfg, &p, &hmac)) {
		fprintf(stderr, "event=policy_reload_failed reason=bad_bundle bundle=%s "
				"detail=\"the bundle in force stays\"\n",
			r->cfg->policy.bundle);
		audit_event("policy_reload_failed", "{s:s, s:s}", "reason", "bad_bundle", "bundle",
			    r->cfg->policy.bundle);
		snprintf(msg, msglen, "%s was refused (see the log); the bundle in force stays",
			 r->cfg->policy.bundle);
		ret = -EINVAL;
	} else {
		ret = install_policy(r->cfg, r->svc, r->core, p, hmac, "policy_reloaded");
		if (ret)
			snprintf(msg, msglen, "the bundle could not be installed: %s",
				 strerror(-ret));
		else
			snprintf(msg, msglen, "generation %llu from %s",
				 (unsigned long long)rg_gw_policy_gen(r->svc),
				 r->cfg->policy.bundle);
	}
	if (ret)
		r->failed++;
	else
		r->ok++;
	pthread_mutex_unlock(&r->mu);
	return ret;
}

static void *reloader_main(void *arg)
{
	struct reloader *r = arg;
	char msg[512];
	int sig;

	for (;;) {
		if (sigwait(&r->set, &sig) || r->stop)
			break;
		reload_bundle(r, msg, sizeof(msg));
	}
	return NULL;
}

/* ---- the admin listener and the control store (issue #11) ----------------------------- */

static int admin_verify(void *arg, const char *token, size_t len, struct rg_auth_identity *id)
{
	struct rg_auth_fail why;
	struct reloader *r = arg;

	return rg_gw_verify_token(r->svc, token, len, id, &why);
}

/* Ready once the workers run with the configured bundle in force. Targets' addresses were
 * resolved at startup (or it failed) and the resolver keeps the last good set. */
static int admin_ready(void *arg, char *why, size_t whylen)
{
	struct reloader *r = arg;

	if (r->cfg->policy.bundle && !rg_gw_policy_gen(r->svc)) {
		snprintf(why, whylen, "no policy bundle in force");
		return -EAGAIN;
	}
	return 0;
}

static int admin_reload(void *arg, char *msg, size_t msglen)
{
	return reload_bundle(arg, msg, msglen);
}

static int admin_metrics(void *arg, char **text, size_t *len)
{
	struct reloader *r = arg;
	struct rg_telemetry_src src = {.version = RG_VERSION,
				       .core = r->core,
				       .svc = r->svc,
				       .audit = g_audit,
				       .recordings = g_rec,
				       .bpf = __atomic_load_n(&r->bpf, __ATOMIC_ACQUIRE),
				       .reloads_ok = r->ok,
				       .reloads_failed = r->failed};

	return rg_telemetry_render(&src, text, len);
}

static struct rg_admin *start_admin(const struct rg_config *cfg, struct rg_control *ctl,
				    struct reloader *rl)
{
	const struct rg_admin_hooks hooks = {.arg = rl,
					     .verify = admin_verify,
					     .ready = admin_ready,
					     .reload = admin_reload,
					     .metrics = admin_metrics};
	struct rg_admin *a = NULL;
	char err[512];
	uint16_t port = 0;

	if (rg_admin_start(cfg, ctl, &hooks, &a, &port, err, sizeof(err))) {
		fprintf(stderr, "%s:%u:%u: admin: %s\n", cfg->path, cfg->admin.loc.line,
			cfg->admin.loc.col, err);
		return NULL;
	}
	fprintf(stderr, "event=admin_started address=%s port=%u tls=%s url=%s\n",
		cfg->admin.address.text, port, cfg->admin.tls_enabled ? "yes" : "no",
		cfg->admin.url);
	return a;
}

/* 0 when the directory that would hold path can be written to. */
static int check_parent_writable(const char *path)
{
	char *copy = strdup(path);
	char *slash = copy ? strrchr(copy, '/') : NULL;
	int ret;

	if (!slash) {
		free(copy);
		return -1;
	}
	if (slash == copy)
		slash[1] = 0;
	else
		*slash = 0;
	ret = access(copy, W_OK | X_OK);
	free(copy);
	return ret;
}

static int check_config(const char *path)
{
	struct rg_config *cfg = NULL;
	struct rg_gw *svc = NULL;
	struct rg_pg_gw *gw = NULL;
	struct rg_mysql *my = NULL;
	void *mods[NPROTOS] = {0};
	void **ls = NULL;
	int nerr = 1;

	if (rg_config_load(path, &cfg, stderr))
		return 1;
	if (rg_gw_new(cfg, 1, &svc) || rg_pg_gw_new(cfg, svc, &gw) || rg_mysql_new(cfg, svc, &my))
		goto out;
	mods[RG_CONFIG_PROTO_POSTGRES] = gw;
	mods[RG_CONFIG_PROTO_MYSQL] = my;
	ls = calloc(cfg->n_listeners, sizeof(*ls));
	if (!ls)
		goto out;
	nerr = check_protocols(cfg) + build_gw(cfg, svc, mods, gw) +
	       build_listeners(cfg, mods, ls);
	{
		struct rg_policy *p;
		struct rg_auth_cred *hmac;

		if (load_policy(cfg, &p, &hmac))
			nerr++;
		rg_policy_free(p);
		rg_auth_cred_free(hmac);
	}
	if (cfg->admin.enabled) {
		char err[512];

		if (rg_admin_check(cfg, err, sizeof(err))) {
			fprintf(stderr, "%s:%u:%u: admin.tls: %s\n", cfg->path, cfg->admin.loc.line,
				cfg->admin.loc.col, err);
			nerr++;
		}
		/* The SQLite control store goes in state_dir, which the start creates (one level)
		 * when it is missing: its parent must then be writable. */
		if (!cfg->control && access(cfg->state_dir, W_OK | X_OK) &&
		    (errno != ENOENT || check_parent_writable(cfg->state_dir))) {
			fprintf(stderr, "%s: state_dir %s (the control store's directory) is not a "
					"writable directory and cannot be created\n",
				cfg->path, cfg->state_dir);
			nerr++;
		}
	}
	if (cfg->audit.enabled) {
		struct rg_audit_opts ao = {.key_file = cfg->audit.key_file};
		char dir[4096], err[1024];

		snprintf(dir, sizeof(dir), "%s%s", cfg->audit.dir ? cfg->audit.dir : cfg->state_dir,
			 cfg->audit.dir ? "" : "/audit");
		ao.dir = dir;
		if (rg_audit_check(&ao, err, sizeof(err))) {
			fprintf(stderr, "%s: audit: %s\n", cfg->path, err);
			nerr++;
		}
		if (cfg->audit.record) {
			snprintf(dir, sizeof(dir), "%s%s",
				 cfg->audit.recordings_dir ? cfg->audit.recordings_dir
							   : cfg->state_dir,
				 cfg->audit.recordings_dir ? "" : "/recordings");
			if (rg_audit_check(&ao, err, sizeof(err))) {
				fprintf(stderr, "%s: audit: recordings: %s\n", cfg->path, err);
				nerr++;
			}
		}
	}
	if (!nerr)
		printf("%s: ok\n", path);
out:
	free_listeners(cfg, ls);
	rg_pg_gw_free(gw);
	rg_mysql_free(my);
	rg_gw_free(svc);
	rg_config_free(cfg);
	return nerr ? 1 : 0;
}

/* The control store (state_dir/control.db, or the shared PostgreSQL of `control`) and the
 * approvals object over it (engine/approvals), handed to every protocol module for held
 * statements. The node name is unique per host and listener port. */
static int open_control(const struct rg_config *cfg, struct rg_core *core, struct rg_control **out,
			struct rg_approvals **appr)
{
	char path[4096], err[512], host[200] = "", node[256];
	int ret;

	if (cfg->control) {
		ret = rg_control_open_pg(cfg->control, out, err, sizeof(err));
	} else {
		if ((ret = make_state_dir(cfg)))
			return ret;
		snprintf(path, sizeof(path), "%s/control.db", cfg->state_dir);
		ret = rg_control_open_sqlite(path, out, err, sizeof(err));
	}
	if (ret) {
		fprintf(stderr, "%s: control store: %s\n", cfg->path, err);
		return ret;
	}
	if (gethostname(host, sizeof(host) - 1))
		snprintf(host, sizeof(host), "ringgate");
	snprintf(node, sizeof(node), "%.200s:%u", host, cfg->listeners[0].address.port);
	if ((ret = rg_approvals_new(rg_core_workers(core), appr))) {
		fprintf(stderr, "%s: approvals: %s\n", cfg->path, strerror(-ret));
		return ret;
	}
	rg_approvals_set_webhooks(*appr, cfg->approvals.webhooks, cfg->approvals.n_webhooks,
				  cfg->approvals.webhook_timeout_ms);
	return rg_approvals_set_control(*appr, *out, node, cfg->admin.url);
}

static int run(const char *path)
{
	struct rg_core_config cc = {0};
	struct rg_config *cfg = NULL;
	struct rg_gw *svc = NULL;
	struct rg_pg_gw *gw = NULL;
	struct rg_mysql *my = NULL;
	void *mods[NPROTOS] = {0};
	void **ls = NULL;
	struct rg_pg_listener *cat_l = NULL;
	struct rg_control *ctl = NULL;
	struct rg_approvals *appr = NULL;
	struct rg_core *core = NULL;
	struct sigaction sa = {0};
	uint16_t cat_port = 0;
	struct reloader rl = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct rg_admin *admin = NULL;
	pthread_t rl_thread;
	bool rl_started = false;
	char ports[512] = "";
	size_t i, off = 0;
	int ret, rc = 1;

	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (rg_config_load(path, &cfg, stderr))
		return 1;
	if (check_protocols(cfg))
		goto out;
	/* SIGHUP goes to the reloader only: block it before any thread starts (they inherit
	 * the mask) */
	sigemptyset(&rl.set);
	sigaddset(&rl.set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &rl.set, NULL);
	ret = rg_core_probe();
	if (ret) {
		fprintf(stderr, "ringgate: this kernel lacks io_uring features: %s\n",
			strerror(-ret));
		goto out;
	}
	cc.workers = rg_config_threads(cfg);
	cc.idle_ms = (unsigned)cfg->limits.idle_timeout_ms;
	core = rg_core_new(&cc, &ret);
	if (!core) {
		fprintf(stderr, "ringgate: cannot create engine: %s\n", strerror(-ret));
		goto out;
	}
	if (rg_gw_new(cfg, rg_core_workers(core), &svc) || rg_pg_gw_new(cfg, svc, &gw) ||
	    rg_mysql_new(cfg, svc, &my))
		goto out;
	mods[RG_CONFIG_PROTO_POSTGRES] = gw;
	mods[RG_CONFIG_PROTO_MYSQL] = my;
	ls = calloc(cfg->n_listeners, sizeof(*ls));
	if (!ls || build_gw(cfg, svc, mods, gw) || build_listeners(cfg, mods, ls))
		goto out;
	/* the trail first: the bundle's load is its first record after the open checkpoint */
	if (open_audit(cfg))
		goto out;
	if (g_audit) {
		char err[600];

		if (rg_events_new(g_audit, rg_core_workers(core), cfg->audit.journal_dir,
				  cfg->audit.keep_literals, &g_events, err, sizeof(err)) ||
		    rg_pg_gw_set_audit(gw, g_audit, g_events, &cfg->audit) ||
		    rg_mysql_set_audit(my, g_audit, g_events, &cfg->audit) ||
		    (g_rec && (rg_rec_new(g_rec, rg_core_workers(core), cfg->audit.journal_dir,
					  cfg->audit.record_max_bytes, &g_recorder, err,
					  sizeof(err)) ||
			       rg_pg_gw_set_recording(gw, g_recorder) ||
			       rg_mysql_set_recording(my, g_recorder)))) {
			fprintf(stderr, "%s: audit: %s\n", cfg->path, err);
			goto out;
		}
	}
	{
		struct rg_policy *p;
		struct rg_auth_cred *hmac;

		if (load_policy(cfg, &p, &hmac) ||
		    install_policy(cfg, svc, NULL, p, hmac, "policy_loaded"))
			goto out;
	}
	for (i = 0; i < cfg->n_listeners; i++) {
		const struct rg_config_listener *lc = &cfg->listeners[i];
		uint16_t port = 0;

		ret = rg_core_listen(core, (const struct sockaddr *)&lc->address.sa,
				     lc->address.salen, proto_of(lc->protocol)->ops, ls[i], &port);
		if (ret) {
			fprintf(stderr, "%s:%u:%u: listener %s: cannot listen on %s: %s\n",
				cfg->path, lc->loc.line, lc->loc.col, lc->name, lc->address.text,
				strerror(-ret));
			goto out;
		}
		/* Tokens are bearer credentials: say so whenever they may cross in clear text
		 * (loopback included: any local process can connect there). */
		if (!lc->tls_enabled)
			fprintf(stderr,
				"event=plaintext_listener listener=%s address=%s%s%s:%u loopback=%s "
				"insecure_plaintext=%s\n",
				lc->name, strchr(lc->address.host, ':') ? "[" : "", lc->address.host,
				strchr(lc->address.host, ':') ? "]" : "", port,
				rg_config_addr_is_loopback(&lc->address) ? "yes" : "no",
				lc->insecure_plaintext ? "yes" : "no");
		if (off < sizeof(ports))
			off += (size_t)snprintf(ports + off, sizeof(ports) - off, "%s%s=%s:%u%s",
						i ? "," : "", lc->name, lc->address.host, port,
						lc->tls_enabled ? "/tls" : "");
	}
	/* Statements held for approval wait in the control store (state_dir/control.db) for
	 * a reviewer, who decides through the admin listener. */
	if (cfg->admin.enabled && open_control(cfg, core, &ctl, &appr))
		goto out;
	rg_pg_gw_set_approvals(gw, appr);
	rg_mysql_set_approvals(my, appr);
	/* Column mask rules need the targets' catalogs, read through an internal listener on
	 * loopback that accepts only a per-process secret (engine/proto/pg/catalog.c). */
	if (cfg->policy.bundle) {
		struct sockaddr_in lo = {.sin_family = AF_INET,
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

		ret = rg_pg_gw_catalog_listener(gw, &cat_l);
		if (!ret)
			ret = rg_core_listen(core, (const struct sockaddr *)&lo, sizeof(lo),
					     &rg_pg_ops, cat_l, &cat_port);
		if (ret) {
			fprintf(stderr, "ringgate: cannot listen for the catalog reader: %s\n",
				strerror(-ret));
			goto out;
		}
	}
	g_core = core;
	ret = rg_core_start(core);
	if (!ret && g_stop) /* asked to stop while it was being set up */
		rg_core_shutdown(core, DRAIN_MS);
	if (ret) {
		fprintf(stderr, "ringgate: cannot start workers: %s\n", strerror(-ret));
		rg_core_shutdown(core, 0);
		rg_core_join(core);
		goto out;
	}
	if (appr && (ret = rg_approvals_start(appr, core))) {
		fprintf(stderr, "ringgate: cannot start the approvals thread: %s\n", strerror(-ret));
		rg_core_shutdown(core, 0);
		rg_core_join(core);
		goto out;
	}
	if (cat_l && (ret = rg_pg_gw_catalog_start(gw, core, cat_port,
						   cfg->policy.catalog_refresh_ms))) {
		fprintf(stderr, "ringgate: cannot start the catalog reader: %s\n", strerror(-ret));
		rg_core_shutdown(core, 0);
		rg_core_join(core);
		goto out;
	}
	fprintf(stderr, "event=started version=%s workers=%u listeners=%s targets=%zu\n",
		RG_VERSION, rg_core_workers(core), ports, cfg->n_targets);
	{
		char digest[65];

		config_digest(cfg->path, digest);
		audit_event("gateway_start", "{s:s, s:i, s:s, s:s, s:s, s:i}", "version", RG_VERSION,
			    "pid", (int)getpid(), "config", cfg->path, "config_sha256", digest,
			    "listeners", ports, "workers", (int)rg_core_workers(core));
	}
	rl.cfg = cfg;
	rl.svc = svc;
	rl.core = core;
	rl_started = pthread_create(&rl_thread, NULL, reloader_main, &rl) == 0;
	if (!rl_started)
		fprintf(stderr, "event=policy_reloader_failed detail=\"SIGHUP will not reload\"\n");
	if (cfg->admin.enabled && !(admin = start_admin(cfg, ctl, &rl)))
		rg_core_shutdown(core, 0);
	{ /* eBPF latency telemetry for /metrics: optional, said once either way (loading takes
	   * a moment: after the admin listener, which answers meanwhile without it) */
		char why[256] = "";
		struct rg_bpf *bpf = NULL;

		if (rg_bpf_open((uint32_t)getpid(), &bpf, why, sizeof(why)))
			fprintf(stderr, "event=bpf_disabled detail=\"%s\"\n", why);
		else
			fprintf(stderr, "event=bpf_enabled\n");
		__atomic_store_n(&rl.bpf, bpf, __ATOMIC_RELEASE);
	}
	ret = rg_core_join(core);
	rg_admin_stop(admin); /* before the gateway its hooks use goes */
	rg_bpf_close(rl.bpf);
	rl.bpf = NULL;
	if (cfg->admin.enabled && !admin)
		ret = ret ? ret : -EIO;
	if (rl_started) {
		rl.stop = 1;
		pthread_kill(rl_thread, SIGHUP);
		pthread_join(rl_thread, NULL);
	}
	g_core = NULL;
	fprintf(stderr, "event=stopped status=%s\n", ret ? strerror(-ret) : "ok");
	audit_event("gateway_stop", "{s:s}", "status", ret ? strerror(-ret) : "ok");
	rc = ret ? 1 : 0;
out:
	g_core = NULL;
	if (gw) {
		/* they post to the workers: stopped before the core goes */
		rg_pg_gw_catalog_stop(gw);
	}
	rg_approvals_stop(appr);
	rg_core_free(core);
	rg_pg_listener_free(cat_l);
	free_listeners(cfg, ls);
	rg_audit_close(g_audit); /* drains the sessions' journals, flushes and seals */
	g_audit = NULL;
	rg_audit_close(g_rec);
	g_rec = NULL;
	if (gw) /* the formatters, once the writers are done with them */
		rg_pg_gw_audit_free(gw);
	rg_rec_free(g_recorder);
	g_recorder = NULL;
	rg_mysql_audit_free(my);
	rg_events_free(g_events);
	g_events = NULL;
	rg_pg_gw_free(gw);
	rg_mysql_free(my);
	rg_gw_free(svc); /* after the protocol modules, which read its targets */
	rg_approvals_free(appr); /* before the store it listens to */
	rg_control_close(ctl);
	rg_config_free(cfg);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"check-config", required_argument, NULL, 'C'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *config = NULL, *check = NULL;
	int c;

	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'C':
			check = optarg;
			break;
		case 'V':
			printf("ringgate %s\n", RG_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || (!config == !check)) {
		usage(stderr);
		return 2;
	}
	if (check)
		return check_config(check);
	return run(config);
}
