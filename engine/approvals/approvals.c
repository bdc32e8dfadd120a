/*
 * approvals.c: statements held in live sessions until a reviewer decides (issue #11), for
 * every protocol module (approvals.h).
 *
 * A protocol module's session that holds a statement hands a request to this module, which
 * links its hold into the worker's list. Workers never touch the store: they hand jobs
 * (create a request, end one) to the approvals thread, which also expires requests whose time
 * ran out. Whoever changes a request (a reviewer through the admin listener, the approvals
 * thread expiring it, another node through a shared store) triggers the store's notify
 * callback; for a request held on this node it posts the outcome to the worker that holds
 * the session, which calls the hold's release: the protocol forwards the statement
 * (approved) or fails it as its own policy denial (denied, expired, withdrawn).
 *
 * Fingerprint-scoped approvals leave grants that later statements of the same identity and
 * target with the same fingerprint meet without waiting: kept here in memory (one mutex,
 * looked up only when a statement would be held) as they are approved.
 * Never: block a worker (the store and webhooks are only ever called on this module's threads).
 */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "approvals.h"
#include "auth.h"
#include "core.h"
#include "gateway.h"
#include "policy.h"

struct appr_job {
	struct appr_job *next;
	struct rg_appr *create; /* owned: a new request */
	char id[RG_APPR_ID_LEN + 1];
	enum rg_appr_status finish; /* else: end id with this status */
};

/* A webhook delivery (new request), retried with backoff. */
struct hook_job {
	struct hook_job *next;
	char *url, *body;
	int attempt;
	int64_t not_before_ms;
};

struct appr_held {
	char id[RG_APPR_ID_LEN + 1];
	unsigned worker;
};

struct appr_grant {
	char *iss, *sub, *target;
	char fp[17];
	int64_t until_ms;
};

struct rg_approvals {
	unsigned workers;
	struct rg_core *core;
	struct rg_control *ctl;
	char node[RG_APPR_NODE_LEN + 1];
	char url[256];
	pthread_t thr;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop, started;
	struct appr_job *head, *tail; /* mu */
	struct appr_held *held;	      /* mu: requests held on this node, and where */
	size_t nheld, capheld;
	struct appr_grant *grants; /* mu */
	size_t ngrants, capgrants;
	struct rg_approvals_hold **waiting; /* [workers]: each worker's holds, that worker only */
	/* webhooks: their own thread, so a slow receiver delays nothing else */
	const char *const *hooks;
	size_t nhooks;
	long hook_timeout_ms;
	pthread_t hook_thr;
	bool hook_started;
	struct hook_job *hq; /* mu, unordered */
	pthread_cond_t hook_cv;
};

/* A request's end as posted to the worker holding its session. */
struct appr_outcome {
	struct rg_approvals *ap;
	char id[RG_APPR_ID_LEN + 1];
	enum rg_appr_status status;
	char by[64];
	char reason[200];
	uint64_t sess_id; /* withdraw: the session whose CancelRequest came, else 0 */
};

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool rg_approvals_enabled(const struct rg_approvals *ap)
{
	return ap && ap->ctl;
}

/* ---- grants ------------------------------------------------------------------------------ */

static void grant_add(struct rg_approvals *ap, const struct rg_appr *a, int64_t now)
{
	struct appr_grant g = {0};
	int64_t until = now + (int64_t)a->grant_ttl_s * 1000;

	for (size_t i = 0; i < ap->ngrants; i++) /* heard twice (callback and recheck) */
		if (!strcmp(ap->grants[i].fp, a->fingerprint) &&
		    !strcmp(ap->grants[i].iss, a->issuer) &&
		    !strcmp(ap->grants[i].sub, a->subject) &&
		    !strcmp(ap->grants[i].target, a->target)) {
			if (ap->grants[i].until_ms < until)
				ap->grants[i].until_ms = until;
			return;
		}
	if (ap->ngrants == ap->capgrants) {
		size_t nc = ap->capgrants ? 2 * ap->capgrants : 8;
		struct appr_grant *v = realloc(ap->grants, nc * sizeof(*v));

		if (!v)
			return;
		ap->grants = v;
		ap->capgrants = nc;
	}
	g.iss = strdup(a->issuer);
	g.sub = strdup(a->subject);
	g.target = strdup(a->target);
	snprintf(g.fp, sizeof(g.fp), "%s", a->fingerprint);
	g.until_ms = until;
	if (!g.iss || !g.sub || !g.target) {
		free(g.iss), free(g.sub), free(g.target);
		return;
	}
	ap->grants[ap->ngrants++] = g;
}

bool rg_approvals_granted(struct rg_approvals *ap, const char *iss, const char *sub,
			  const char *target, const char *fp)
{
	int64_t now = wall_ms();
	bool yes = false;
	size_t i = 0;

	pthread_mutex_lock(&ap->mu);
	while (i < ap->ngrants) {
		struct appr_grant *g = &ap->grants[i];

		if (g->until_ms <= now) { /* expired: drop */
			free(g->iss), free(g->sub), free(g->target);
			ap->grants[i] = ap->grants[--ap->ngrants];
			continue;
		}
		yes |= !strcmp(g->fp, fp) && !strcmp(g->iss, iss) && !strcmp(g->sub, sub) &&
		       !strcmp(g->target, target);
		i++;
	}
	pthread_mutex_unlock(&ap->mu);
	return yes;
}

/* ---- the approvals thread ----------------------------------------------------------------- */

static void job_push(struct rg_approvals *ap, struct appr_job *j)
{
	pthread_mutex_lock(&ap->mu);
	if (ap->tail)
		ap->tail->next = j;
	else
		ap->head = j;
	ap->tail = j;
	pthread_cond_signal(&ap->cv);
	pthread_mutex_unlock(&ap->mu);
}

static void held_remove_locked(struct rg_approvals *ap, const char *id)
{
	for (size_t i = 0; i < ap->nheld; i++)
		if (!strcmp(ap->held[i].id, id)) {
			ap->held[i] = ap->held[--ap->nheld];
			return;
		}
}

static void outcome_msg(struct rg_worker *w, void *arg);

/* The store's callback, on whichever thread changed a request. */
static void on_change(void *arg, const struct rg_appr *a)
{
	struct rg_approvals *ap = arg;
	struct appr_outcome *o;
	unsigned worker = UINT32_MAX;
	struct rg_core *core;

	if (a->status == RG_APPR_PENDING)
		return;
	pthread_mutex_lock(&ap->mu);
	core = ap->core;
	for (size_t i = 0; i < ap->nheld; i++)
		if (!strcmp(ap->held[i].id, a->id)) {
			worker = ap->held[i].worker;
			ap->held[i] = ap->held[--ap->nheld];
			break;
		}
	if (a->status == RG_APPR_APPROVED && a->scope == RG_APPR_SCOPE_FINGERPRINT)
		grant_add(ap, a, a->decided_ms ? a->decided_ms : wall_ms());
	pthread_mutex_unlock(&ap->mu);
	if (worker == UINT32_MAX || !core)
		return; /* not held here (or no longer): its holder logs it */
	rg_log("event=approval_%s id=%s sub=%s target=%s rule=%s by=%s",
	       rg_appr_status_name(a->status), a->id, a->subject, a->target, a->rule,
	       a->decided_by ? a->decided_by : "-");
	o = calloc(1, sizeof(*o));
	if (!o)
		return; /* the session then waits for its client's cancel or hang-up */
	o->ap = ap;
	snprintf(o->id, sizeof(o->id), "%s", a->id);
	o->status = a->status;
	snprintf(o->by, sizeof(o->by), "%s", a->decided_by ? a->decided_by : "");
	snprintf(o->reason, sizeof(o->reason), "%s", a->reason ? a->reason : "");
	for (int tries = 0; rg_core_post(core, worker, outcome_msg, o) == -EAGAIN; tries++) {
		if (tries > 2000) {
			free(o);
			return;
		}
		sched_yield();
	}
}

#define HOOK_ATTEMPTS 3

static size_t hook_discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p, (void)arg;
	return size * n;
}

/* One POST; true on a 2xx answer. */
static bool hook_post(struct rg_approvals *ap, const struct hook_job *j, long *status, char *err,
		      size_t errlen)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hdr = NULL;
	char ebuf[CURL_ERROR_SIZE] = "";
	CURLcode rc;

	*status = 0;
	if (!h) {
		snprintf(err, errlen, "out of memory");
		return false;
	}
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	curl_easy_setopt(h, CURLOPT_URL, j->url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, j->body);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, ap->hook_timeout_ms);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, hook_discard);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
	rc = curl_easy_perform(h);
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	snprintf(err, errlen, "%s",
		 rc != CURLE_OK ? (ebuf[0] ? ebuf : curl_easy_strerror(rc)) : "status");
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	return rc == CURLE_OK && *status >= 200 && *status < 300;
}

static void hook_free(struct hook_job *j)
{
	if (!j)
		return;
	free(j->url);
	free(j->body);
	free(j);
}

static void *hook_main(void *arg)
{
	struct rg_approvals *ap = arg;

	pthread_mutex_lock(&ap->mu);
	while (!ap->stop) {
		struct hook_job **pp, *j = NULL, **jp = NULL;
		int64_t now = wall_ms(), next = INT64_MAX;
		struct timespec ts;
		char err[CURL_ERROR_SIZE + 16];
		long status;
		bool ok;

		for (pp = &ap->hq; *pp; pp = &(*pp)->next)
			if ((*pp)->not_before_ms <= now) {
				jp = pp;
				break;
			} else if ((*pp)->not_before_ms < next) {
				next = (*pp)->not_before_ms;
			}
		if (!jp) {
			if (next == INT64_MAX) {
				pthread_cond_wait(&ap->hook_cv, &ap->mu);
			} else {
				ts.tv_sec = (time_t)(next / 1000);
				ts.tv_nsec = (long)(next % 1000) * 1000000;
				pthread_cond_timedwait(&ap->hook_cv, &ap->mu, &ts);
			}
			continue;
		}
		j = *jp;
		*jp = j->next;
		pthread_mutex_unlock(&ap->mu);
		ok = hook_post(ap, j, &status, err, sizeof(err));
		j->attempt++;
		{
			char lu[200], le[2 * sizeof(err)];

			rg_log("event=approval_webhook url=%s attempt=%d status=%ld result=%s%s%s",
			       rg_logval(j->url, lu, sizeof(lu)), j->attempt, status,
			       ok ? "ok" : "failed",
			       ok ? "" : " detail=", ok ? "" : rg_logval(err, le, sizeof(le)));
		}
		pthread_mutex_lock(&ap->mu);
		if (ok || j->attempt >= HOOK_ATTEMPTS) {
			hook_free(j);
			continue;
		}
		j->not_before_ms = wall_ms() + 1000LL * (1 << (j->attempt - 1)); /* 1 s, 2 s */
		j->next = ap->hq;
		ap->hq = j;
	}
	pthread_mutex_unlock(&ap->mu);
	return NULL;
}

/* Tell every webhook of a new request (Slack-compatible: "text", plus the request). */
static void hooks_notify(struct rg_approvals *ap, const struct rg_appr *a)
{
	char text[600], link[400];
	json_t *o;
	char *body;

	if (!ap->nhooks)
		return;
	snprintf(link, sizeof(link), "%s%s%s", ap->url, ap->url[0] ? "/#/approvals/" : "",
		 ap->url[0] ? a->id : "");
	snprintf(text, sizeof(text), "ringgate: %s on %s waits for approval %s (rule %s)%s%s",
		 a->subject, a->target, a->id, a->rule, link[0] ? ": " : "", link);
	o = json_pack("{s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I}}", "text", text,
		      "approval", "id", a->id, "subject", a->subject, "issuer", a->issuer, "target",
		      a->target, "rule", a->rule, "reviewers", a->reviewers, "sql", a->sql, "url",
		      link, "expires_ms", (json_int_t)a->expires_ms);
	body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!body)
		return;
	pthread_mutex_lock(&ap->mu);
	for (size_t i = 0; i < ap->nhooks; i++) {
		struct hook_job *j = calloc(1, sizeof(*j));

		if (!j || !(j->url = strdup(ap->hooks[i])) || !(j->body = strdup(body))) {
			hook_free(j);
			continue;
		}
		j->next = ap->hq;
		ap->hq = j;
	}
	pthread_cond_signal(&ap->hook_cv);
	pthread_mutex_unlock(&ap->mu);
	free(body);
}

/*
 * The requests of this node that ended in the last minute, looked up in the store: one that
 * ended without this node hearing of it (a NOTIFY lost while a shared store's listener
 * reconnected; the minute covers clock skew between nodes) is acted on now. One indexed
 * query, twice a second while anything is held.
 */
#define RECHECK_WINDOW_MS 60000
static void recheck_held(struct rg_approvals *ap)
{
	struct rg_appr **v;
	size_t n;

	if (rg_control_ended_since(ap->ctl, ap->node, wall_ms() - RECHECK_WINDOW_MS, &v, &n))
		return;
	for (size_t i = 0; i < n; i++)
		on_change(ap, v[i]); /* a no-op unless it is still held here */
	rg_appr_list_free(v, n);
}

static void *appr_main(void *arg)
{
	struct rg_approvals *ap = arg;

	pthread_mutex_lock(&ap->mu);
	while (!ap->stop) {
		struct appr_job *j = ap->head;
		struct timespec ts;

		if (!j) {
			/* with requests held here, look for expired ones twice a second */
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 500000000;
			if (ts.tv_nsec >= 1000000000)
				ts.tv_sec++, ts.tv_nsec -= 1000000000;
			if (ap->nheld)
				pthread_cond_timedwait(&ap->cv, &ap->mu, &ts);
			else
				pthread_cond_wait(&ap->cv, &ap->mu);
			if (ap->nheld && !ap->head) {
				pthread_mutex_unlock(&ap->mu);
				rg_control_expire(ap->ctl, wall_ms());
				recheck_held(ap);
				pthread_mutex_lock(&ap->mu);
			}
			continue;
		}
		ap->head = j->next;
		if (!ap->head)
			ap->tail = NULL;
		pthread_mutex_unlock(&ap->mu);
		if (j->create) {
			int r = rg_control_insert(ap->ctl, j->create);

			if (r) {
				/* the request cannot be stored: nobody could approve it, so it ends
				 * now as expired would (the session gets its error) */
				struct rg_appr *a = j->create;

				rg_log("event=approval_store_failed id=%s detail=\"%s\"", a->id,
				       rg_control_strerror(r));
				a->status = RG_APPR_EXPIRED;
				on_change(ap, a);
			} else {
				rg_log("event=approval_requested id=%s sub=%s target=%s rule=%s "
				       "reviewers=%s expires_in_s=%lld",
				       j->create->id, j->create->subject, j->create->target,
				       j->create->rule, j->create->reviewers,
				       (long long)((j->create->expires_ms - j->create->created_ms) /
						   1000));
				hooks_notify(ap, j->create);
			}
			rg_appr_free(j->create);
		} else {
			rg_control_finish(ap->ctl, j->id, j->finish, wall_ms());
		}
		free(j);
		pthread_mutex_lock(&ap->mu);
	}
	pthread_mutex_unlock(&ap->mu);
	return NULL;
}

int rg_approvals_new(unsigned workers, struct rg_approvals **out)
{
	struct rg_approvals *ap = calloc(1, sizeof(*ap));

	*out = NULL;
	if (!ap)
		return -ENOMEM;
	ap->workers = workers ? workers : 1;
	pthread_mutex_init(&ap->mu, NULL);
	pthread_cond_init(&ap->cv, NULL);
	pthread_cond_init(&ap->hook_cv, NULL);
	ap->waiting = calloc(ap->workers, sizeof(*ap->waiting));
	if (!ap->waiting) {
		rg_approvals_free(ap);
		return -ENOMEM;
	}
	*out = ap;
	return 0;
}

void rg_approvals_free(struct rg_approvals *ap)
{
	struct appr_job *j, *nx;

	if (!ap)
		return;
	rg_approvals_stop(ap);
	while (ap->hq) {
		struct hook_job *h = ap->hq;

		ap->hq = h->next;
		hook_free(h);
	}
	if (ap->ctl)
		rg_control_set_notify(ap->ctl, NULL, NULL);
	for (j = ap->head; j; j = nx) {
		nx = j->next;
		rg_appr_free(j->create);
		free(j);
	}
	for (size_t i = 0; i < ap->ngrants; i++)
		free(ap->grants[i].iss), free(ap->grants[i].sub), free(ap->grants[i].target);
	free(ap->grants);
	free(ap->held);
	free(ap->waiting);
	pthread_cond_destroy(&ap->cv);
	pthread_cond_destroy(&ap->hook_cv);
	pthread_mutex_destroy(&ap->mu);
	free(ap);
}

void rg_approvals_set_webhooks(struct rg_approvals *ap, const char *const *urls, size_t n,
			       uint64_t timeout_ms)
{
	ap->hooks = urls;
	ap->nhooks = n;
	ap->hook_timeout_ms = timeout_ms ? (long)timeout_ms : 5000;
}

int rg_approvals_set_control(struct rg_approvals *ap, struct rg_control *ctl, const char *node,
			     const char *url)
{
	int n;

	ap->ctl = ctl;
	snprintf(ap->node, sizeof(ap->node), "%s", node && node[0] ? node : "ringgate");
	snprintf(ap->url, sizeof(ap->url), "%s", url ? url : "");
	rg_control_set_notify(ctl, on_change, ap);
	/* what this node held before a restart has no session any more */
	n = rg_control_abandon_node(ctl, ap->node, wall_ms());
	if (n > 0)
		rg_log("event=approvals_abandoned node=%s count=%d reason=restart", ap->node, n);
	return 0;
}

int rg_approvals_start(struct rg_approvals *ap, struct rg_core *core)
{
	if (!ap || !ap->ctl)
		return 0;
	pthread_mutex_lock(&ap->mu);
	ap->core = core;
	pthread_mutex_unlock(&ap->mu);
	if (pthread_create(&ap->thr, NULL, appr_main, ap))
		return -EAGAIN;
	ap->started = true;
	if (ap->nhooks) {
		if (pthread_create(&ap->hook_thr, NULL, hook_main, ap))
			return -EAGAIN;
		ap->hook_started = true;
	}
	return 0;
}

void rg_approvals_stop(struct rg_approvals *ap)
{
	if (!ap || !ap->started)
		return;
	pthread_mutex_lock(&ap->mu);
	ap->stop = true;
	pthread_cond_signal(&ap->cv);
	pthread_cond_signal(&ap->hook_cv);
	pthread_mutex_unlock(&ap->mu);
	pthread_join(ap->thr, NULL);
	if (ap->hook_started)
		pthread_join(ap->hook_thr, NULL);
	ap->started = ap->hook_started = false;
	pthread_mutex_lock(&ap->mu);
	ap->core = NULL;
	pthread_mutex_unlock(&ap->mu);
}

/* ---- worker side --------------------------------------------------------------------------- */

static void wait_link(struct rg_approvals *ap, unsigned w, struct rg_approvals_hold *h)
{
	h->prev = NULL;
	h->next = ap->waiting[w];
	if (h->next)
		h->next->prev = h;
	ap->waiting[w] = h;
	h->worker = w;
	h->linked = true;
}

static void wait_unlink(struct rg_approvals *ap, struct rg_approvals_hold *h)
{
	if (!h->linked)
		return;
	if (h->prev)
		h->prev->next = h->next;
	else
		ap->waiting[h->worker] = h->next;
	if (h->next)
		h->next->prev = h->prev;
	h->linked = false;
}

int rg_approvals_request(struct rg_approvals *ap, unsigned w, struct rg_approvals_hold *h,
			 const struct rg_approvals_ask *q)
{
	struct appr_job *job = calloc(1, sizeof(*job));
	struct rg_appr *a = calloc(1, sizeof(*a));
	struct appr_held *nh;
	int64_t now = wall_ms();
	size_t i, ng;

	if (!job || !a || w >= ap->workers)
		goto nomem;
	if (rg_control_new_id(a->id))
		goto nomem;
	snprintf(a->node, sizeof(a->node), "%s", ap->node);
	a->scope =
	    q->scope == RG_APPROVAL_FINGERPRINT ? RG_APPR_SCOPE_FINGERPRINT : RG_APPR_SCOPE_ONCE;
	a->grant_ttl_s = q->ttl_s;
	a->created_ms = now;
	a->expires_ms = now + (int64_t)(q->expire_s ? q->expire_s : 300) * 1000;
	a->issuer = strdup(rg_auth_principal_iss(q->who));
	a->subject = strdup(rg_auth_principal_sub(q->who));
	ng = rg_auth_principal_n_groups(q->who);
	a->groups = calloc(ng ? ng : 1, sizeof(*a->groups));
	for (i = 0; a->groups && i < ng; i++)
		if ((a->groups[i] = strdup(rg_auth_principal_group(q->who, (uint32_t)i))))
			a->ngroups++;
	a->peer = strdup(q->peer ? q->peer : "");
	a->target = strdup(q->target);
	a->rule = strdup(h->rule[0] ? h->rule : "-");
	a->reviewers = strdup(q->reviewers ? q->reviewers : "");
	a->sql = strndup(q->sql, q->len);
	a->fingerprint = strdup(h->fp);
	if (!a->issuer || !a->subject || !a->groups || a->ngroups != ng || !a->peer || !a->target ||
	    !a->rule || !a->reviewers || !a->sql || !a->fingerprint)
		goto nomem;
	snprintf(h->id, sizeof(h->id), "%s", a->id);
	pthread_mutex_lock(&ap->mu);
	if (ap->nheld == ap->capheld) {
		size_t nc = ap->capheld ? 2 * ap->capheld : 16;

		nh = realloc(ap->held, nc * sizeof(*nh));
		if (!nh) {
			pthread_mutex_unlock(&ap->mu);
			goto nomem;
		}
		ap->held = nh;
		ap->capheld = nc;
	}
	snprintf(ap->held[ap->nheld].id, sizeof(ap->held[0].id), "%s", a->id);
	ap->held[ap->nheld++].worker = w;
	pthread_mutex_unlock(&ap->mu);
	wait_link(ap, w, h);
	job->create = a;
	job_push(ap, job);
	return 0;
nomem:
	h->id[0] = 0;
	free(job);
	rg_appr_free(a);
	return -ENOMEM;
}

const char *rg_approvals_url(const struct rg_approvals *ap)
{
	return ap ? ap->url : "";
}

void rg_approvals_end(struct rg_approvals *ap, struct rg_approvals_hold *h, enum rg_appr_status st)
{
	struct appr_job *job;

	if (!h->linked) /* its request ended already (or never began) */
		return;
	wait_unlink(ap, h);
	if (!h->id[0])
		return;
	pthread_mutex_lock(&ap->mu);
	held_remove_locked(ap, h->id);
	pthread_mutex_unlock(&ap->mu);
	rg_log("event=approval_%s id=%s rule=%s by=client", rg_appr_status_name(st), h->id,
	       h->rule);
	job = calloc(1, sizeof(*job));
	if (!job)
		return; /* it expires in the store */
	snprintf(job->id, sizeof(job->id), "%s", h->id);
	job->finish = st;
	job_push(ap, job);
}

/* On the worker holding the session: the request ended. */
static void outcome_msg(struct rg_worker *w, void *arg)
{
	struct appr_outcome *o = arg;
	struct rg_approvals *ap = o->ap;
	unsigned id = rg_worker_id(w);
	struct rg_approvals_hold *h;

	for (h = id < ap->workers ? ap->waiting[id] : NULL; h; h = h->next) {
		if (strcmp(h->id, o->id))
			continue;
		wait_unlink(ap, h);
		h->release(h, o->status, o->by, o->reason);
		break;
	}
	free(o);
}

/* On the worker of the session a CancelRequest named: a held statement is withdrawn. */
static void withdraw_msg(struct rg_worker *w, void *arg)
{
	struct appr_outcome *o = arg;
	struct rg_approvals *ap = o->ap;
	unsigned id = rg_worker_id(w);
	struct rg_approvals_hold *h;

	for (h = id < ap->workers ? ap->waiting[id] : NULL; h; h = h->next) {
		if (h->sess_id != o->sess_id)
			continue;
		rg_approvals_end(ap, h, RG_APPR_WITHDRAWN);
		h->release(h, RG_APPR_WITHDRAWN, "", "");
		break;
	}
	free(o);
}

void rg_approvals_withdraw(struct rg_approvals *ap, unsigned worker, uint64_t sess_id)
{
	struct appr_outcome *o;
	struct rg_core *core;

	if (!ap || worker >= ap->workers || !sess_id)
		return;
	pthread_mutex_lock(&ap->mu);
	core = ap->core;
	pthread_mutex_unlock(&ap->mu);
	if (!core || !(o = calloc(1, sizeof(*o))))
		return;
	o->ap = ap;
	o->sess_id = sess_id;
	if (rg_core_post(core, worker, withdraw_msg, o))
		free(o);
}
