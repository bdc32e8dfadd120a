/*
 * control.c: the control store on SQLite (see control.h for what it promises).
 *
 * One connection, one mutex: calls come from the approvals thread and the admin listener,
 * a few per held statement, so contention is not a concern and SQLite's own locking is
 * only there for other processes opening the file (WAL mode, a busy timeout). A state
 * change is one UPDATE ... WHERE status = 'pending' whose change count says who won.
 */
#include <errno.h>
#include <jansson.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"

struct rg_control {
	pthread_mutex_t mu;
	sqlite3 *db;
	rg_control_notify_fn notify;
	void *notify_arg;
};

static const char *const status_names[RG_APPR__COUNT] = {
    "pending", "approved", "denied", "expired", "withdrawn", "abandoned",
};

const char *rg_appr_status_name(enum rg_appr_status s)
{
	return (unsigned)s < RG_APPR__COUNT ? status_names[s] : "unknown";
}

int rg_appr_status_parse(const char *name)
{
	for (int i = 0; name && i < RG_APPR__COUNT; i++)
		if (!strcmp(name, status_names[i]))
			return i;
	return -1;
}

const char *rg_control_strerror(int err)
{
	switch (err) {
	case 0:
		return "ok";
	case RG_CONTROL_E_NOT_FOUND:
		return "no such request";
	case RG_CONTROL_E_NOT_PENDING:
		return "the request was already decided or ended";
	case RG_CONTROL_E_SELF:
		return "nobody approves or denies their own request";
	case RG_CONTROL_E_NOT_REVIEWER:
		return "not a member of the request's reviewer group";
	case RG_CONTROL_E_EXPIRED:
		return "the request expired";
	case RG_CONTROL_E_STORE:
		return "the control store failed";
	case RG_CONTROL_E_INVALID:
		return "invalid request";
	case -ENOMEM:
		return "out of memory";
	default:
		return "error";
	}
}

static const char SCHEMA[] =
    "PRAGMA journal_mode = WAL;"
    "CREATE TABLE IF NOT EXISTS approvals ("
    " id TEXT PRIMARY KEY, node TEXT NOT NULL, status TEXT NOT NULL,"
    " scope TEXT NOT NULL, grant_ttl_s INTEGER NOT NULL,"
    " created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL, decided_ms INTEGER,"
    " issuer TEXT NOT NULL, subject TEXT NOT NULL, groups TEXT NOT NULL,"
    " peer TEXT NOT NULL, target TEXT NOT NULL, rule TEXT NOT NULL, reviewers TEXT NOT NULL,"
    " sql TEXT NOT NULL, fingerprint TEXT NOT NULL,"
    " decided_by TEXT, decided_iss TEXT, reason TEXT);"
    "CREATE INDEX IF NOT EXISTS approvals_status ON approvals (status, expires_ms);"
    "CREATE TABLE IF NOT EXISTS grants ("
    " issuer TEXT NOT NULL, subject TEXT NOT NULL, target TEXT NOT NULL,"
    " fingerprint TEXT NOT NULL, until_ms INTEGER NOT NULL, approval TEXT NOT NULL,"
    " PRIMARY KEY (issuer, subject, target, fingerprint));";

#define COLS                                                                                  \
	"id, node, status, scope, grant_ttl_s, created_ms, expires_ms, decided_ms, issuer, "  \
	"subject, groups, peer, target, rule, reviewers, sql, fingerprint, decided_by, "      \
	"decided_iss, reason"

int rg_control_open_sqlite(const char *path, struct rg_control **out, char *err, size_t errlen)
{
	struct rg_control *c = calloc(1, sizeof(*c));
	char *msg = NULL;
	int r;

	*out = NULL;
	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->mu, NULL);
	r = sqlite3_open_v2(path, &c->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
			    NULL);
	if (r == SQLITE_OK)
		r = sqlite3_busy_timeout(c->db, 5000);
	if (r == SQLITE_OK)
		r = sqlite3_exec(c->db, SCHEMA, NULL, NULL, &msg);
	if (r != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path,
			 msg ? msg : c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(r));
		sqlite3_free(msg);
		rg_control_close(c);
		return RG_CONTROL_E_STORE;
	}
	*out = c;
	return 0;
}

void rg_control_close(struct rg_control *c)
{
	if (!c)
		return;
	sqlite3_close(c->db);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

void rg_control_set_notify(struct rg_control *c, rg_control_notify_fn fn, void *arg)
{
	pthread_mutex_lock(&c->mu);
	c->notify = fn;
	c->notify_arg = arg;
	pthread_mutex_unlock(&c->mu);
}

int rg_control_new_id(char out[RG_APPR_ID_LEN + 1])
{
	unsigned char r[RG_APPR_ID_LEN / 2];

	if (RAND_bytes(r, sizeof(r)) != 1)
		return -EIO;
	for (size_t i = 0; i < sizeof(r); i++)
		snprintf(out + 2 * i, 3, "%02x", r[i]);
	return 0;
}

/* ---- rows <-> struct ----------------------------------------------------------------------- */

static char *dup_col(sqlite3_stmt *st, int i, bool *ok)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	char *s;

	if (!t)
		return NULL;
	s = strdup((const char *)t);
	if (!s)
		*ok = false;
	return s;
}

static char *groups_json(const struct rg_appr *a)
{
	json_t *arr = json_array();
	char *s;

	for (size_t i = 0; arr && i < a->ngroups; i++)
		if (json_array_append_new(arr, json_string(a->groups[i]))) {
			json_decref(arr);
			return NULL;
		}
	s = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
	json_decref(arr);
	return s;
}

static bool groups_parse(const char *text, struct rg_appr *a)
{
	json_t *arr = json_loads(text ? text : "[]", 0, NULL);
	size_t i, n;

	if (!arr || !json_is_array(arr)) {
		json_decref(arr);
		return false;
	}
	n = json_array_size(arr);
	if (n > RG_APPR_MAX_GROUPS)
		n = RG_APPR_MAX_GROUPS;
	a->groups = calloc(n ? n : 1, sizeof(*a->groups));
	for (i = 0; a->groups && i < n; i++) {
		const char *g = json_string_value(json_array_get(arr, i));

		if (!(a->groups[a->ngroups] = strdup(g ? g : "")))
			break;
		a->ngroups++;
	}
	json_decref(arr);
	return a->groups && a->ngroups == n;
}

static struct rg_appr *row_read(sqlite3_stmt *st)
{
	struct rg_appr *a = calloc(1, sizeof(*a));
	const unsigned char *t;
	bool ok = true;

	if (!a)
		return NULL;
	snprintf(a->id, sizeof(a->id), "%s", (const char *)sqlite3_column_text(st, 0));
	snprintf(a->node, sizeof(a->node), "%s", (const char *)sqlite3_column_text(st, 1));
	a->status = (enum rg_appr_status)rg_appr_status_parse(
	    (const char *)sqlite3_column_text(st, 2));
	t = sqlite3_column_text(st, 3);
	a->scope = t && !strcmp((const char *)t, "fingerprint") ? RG_APPR_SCOPE_FINGERPRINT
							       : RG_APPR_SCOPE_ONCE;
	a->grant_ttl_s = (uint32_t)sqlite3_column_int64(st, 4);
	a->created_ms = sqlite3_column_int64(st, 5);
	a->expires_ms = sqlite3_column_int64(st, 6);
	a->decided_ms = sqlite3_column_int64(st, 7);
	a->issuer = dup_col(st, 8, &ok);
	a->subject = dup_col(st, 9, &ok);
	ok &= groups_parse((const char *)sqlite3_column_text(st, 10), a);
	a->peer = dup_col(st, 11, &ok);
	a->target = dup_col(st, 12, &ok);
	a->rule = dup_col(st, 13, &ok);
	a->reviewers = dup_col(st, 14, &ok);
	a->sql = dup_col(st, 15, &ok);
	a->fingerprint = dup_col(st, 16, &ok);
	a->decided_by = dup_col(st, 17, &ok);
	a->decided_iss = dup_col(st, 18, &ok);
	a->reason = dup_col(st, 19, &ok);
	if (!ok || (int)a->status < 0) {
		rg_appr_free(a);
		return NULL;
	}
	return a;
}

void rg_appr_free(struct rg_appr *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->ngroups; i++)
		free(a->groups[i]);
	free(a->groups);
	free(a->issuer);
	free(a->subject);
	free(a->peer);
	free(a->target);
	free(a->rule);
	free(a->reviewers);
	free(a->sql);
	free(a->fingerprint);
	free(a->decided_by);
	free(a->decided_iss);
	free(a->reason);
	free(a);
}

void rg_appr_list_free(struct rg_appr **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		rg_appr_free(v[i]);
	free(v);
}

/* ---- statements (mu held) ------------------------------------------------------------------ */

static int prep(struct rg_control *c, const char *sql, sqlite3_stmt **st)
{
	return sqlite3_prepare_v2(c->db, sql, -1, st, NULL) == SQLITE_OK ? 0 : RG_CONTROL_E_STORE;
}

static int get_locked(struct rg_control *c, const char *id, struct rg_appr **out)
{
	sqlite3_stmt *st;
	int r;

	*out = NULL;
	if ((r = prep(c, "SELECT " COLS " FROM approvals WHERE id = ?1", &st)))
		return r;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW)
		r = (*out = row_read(st)) ? 0 : -ENOMEM;
	else
		r = r == SQLITE_DONE ? RG_CONTROL_E_NOT_FOUND : RG_CONTROL_E_STORE;
	sqlite3_finalize(st);
	return r;
}

/* Notify after a change (mu released first: the callback may call back in). */
static void notify(struct rg_control *c, struct rg_appr *a)
{
	rg_control_notify_fn fn = c->notify;
	void *arg = c->notify_arg;

	pthread_mutex_unlock(&c->mu);
	if (fn && a)
		fn(arg, a);
}

int rg_control_insert(struct rg_control *c, const struct rg_appr *a)
{
	sqlite3_stmt *st;
	char *groups;
	int r;

	if (!a->issuer || !a->subject || !a->peer || !a->target || !a->rule || !a->reviewers ||
	    !a->sql || !a->fingerprint || !a->id[0] || !a->node[0])
		return RG_CONTROL_E_INVALID;
	groups = groups_json(a);
	if (!groups)
		return -ENOMEM;
	pthread_mutex_lock(&c->mu);
	r = prep(c,
		 "INSERT INTO approvals (id, node, status, scope, grant_ttl_s, created_ms, "
		 "expires_ms, issuer, subject, groups, peer, target, rule, reviewers, sql, "
		 "fingerprint) VALUES (?1, ?2, 'pending', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
		 "?12, ?13, ?14, ?15)",
		 &st);
	if (!r) {
		sqlite3_bind_text(st, 1, a->id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, a->node, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3,
				  a->scope == RG_APPR_SCOPE_FINGERPRINT ? "fingerprint" : "once",
				  -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, a->grant_ttl_s);
		sqlite3_bind_int64(st, 5, a->created_ms);
		sqlite3_bind_int64(st, 6, a->expires_ms);
		sqlite3_bind_text(st, 7, a->issuer, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 8, a->subject, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 9, groups, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 10, a->peer, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 11, a->target, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 12, a->rule, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 13, a->reviewers, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 14, a->sql, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 15, a->fingerprint, -1, SQLITE_STATIC);
		r = sqlite3_step(st) == SQLITE_DONE ? 0 : RG_CONTROL_E_STORE;
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&c->mu);
	free(groups);
	return r;
}

int rg_control_get(struct rg_control *c, const char *id, struct rg_appr **out)
{
	int r;

	pthread_mutex_lock(&c->mu);
	r = get_locked(c, id, out);
	pthread_mutex_unlock(&c->mu);
	return r;
}

int rg_control_list(struct rg_control *c, int status, size_t limit, struct rg_appr ***out,
		    size_t *n)
{
	sqlite3_stmt *st;
	struct rg_appr **v = NULL, *a;
	size_t cap = 0;
	int r;

	*out = NULL;
	*n = 0;
	if (!limit || limit > 1000)
		limit = 1000;
	pthread_mutex_lock(&c->mu);
	r = prep(c,
		 "SELECT " COLS " FROM approvals WHERE ?1 IS NULL OR status = ?1 "
		 "ORDER BY created_ms DESC, id LIMIT ?2",
		 &st);
	if (!r) {
		if (status >= 0)
			sqlite3_bind_text(st, 1, rg_appr_status_name((enum rg_appr_status)status),
					  -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
		while ((r = sqlite3_step(st)) == SQLITE_ROW) {
			if (*n == cap) {
				struct rg_appr **nv;

				cap = cap ? 2 * cap : 16;
				nv = realloc(v, cap * sizeof(*v));
				if (!nv)
					break;
				v = nv;
			}
			if (!(a = row_read(st)))
				break;
			v[(*n)++] = a;
		}
		r = r == SQLITE_DONE ? 0 : r == SQLITE_ROW ? -ENOMEM : RG_CONTROL_E_STORE;
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&c->mu);
	if (r) {
		rg_appr_list_free(v, *n);
		*n = 0;
		return r;
	}
	*out = v;
	return 0;
}

/* pending -> st (mu held); 0 when this call made the change. */
static int change_locked(struct rg_control *c, const char *id, enum rg_appr_status st_to,
			 const char *by, const char *by_iss, const char *reason, int64_t now)
{
	sqlite3_stmt *st;
	int r;

	if ((r = prep(c,
		      "UPDATE approvals SET status = ?2, decided_ms = ?3, decided_by = ?4, "
		      "decided_iss = ?5, reason = ?6 WHERE id = ?1 AND status = 'pending'",
		      &st)))
		return r;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, rg_appr_status_name(st_to), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_text(st, 4, by, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, by_iss, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, reason, -1, SQLITE_STATIC);
	r = sqlite3_step(st) == SQLITE_DONE ? 0 : RG_CONTROL_E_STORE;
	sqlite3_finalize(st);
	if (!r && sqlite3_changes(c->db) != 1)
		r = RG_CONTROL_E_NOT_PENDING;
	return r;
}

int rg_control_decide(struct rg_control *c, const char *id, bool approve, const char *iss,
		      const char *sub, const char *const *groups, size_t ngroups,
		      const char *reason, int64_t now_ms, struct rg_appr **out)
{
	struct rg_appr *a = NULL;
	bool member = false;
	int r;

	if (out)
		*out = NULL;
	if (!iss || !sub)
		return RG_CONTROL_E_INVALID;
	pthread_mutex_lock(&c->mu);
	if ((r = get_locked(c, id, &a)))
		goto out;
	if (a->status != RG_APPR_PENDING) {
		r = RG_CONTROL_E_NOT_PENDING;
		goto out;
	}
	if (!strcmp(a->issuer, iss) && !strcmp(a->subject, sub)) {
		r = RG_CONTROL_E_SELF;
		goto out;
	}
	for (size_t i = 0; i < ngroups && !member; i++)
		member = groups[i] && !strcmp(groups[i], a->reviewers);
	if (!member) {
		r = RG_CONTROL_E_NOT_REVIEWER;
		goto out;
	}
	if (now_ms >= a->expires_ms) {
		r = change_locked(c, id, RG_APPR_EXPIRED, NULL, NULL, NULL, now_ms);
		if (!r) {
			rg_appr_free(a);
			a = NULL;
			get_locked(c, id, &a);
			notify(c, a); /* unlocks */
			rg_appr_free(a);
			return RG_CONTROL_E_EXPIRED;
		}
		goto out;
	}
	r = sqlite3_exec(c->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK
		? 0
		: RG_CONTROL_E_STORE;
	if (!r)
		r = change_locked(c, id, approve ? RG_APPR_APPROVED : RG_APPR_DENIED, sub, iss,
				  reason ? reason : "", now_ms);
	if (!r && approve && a->scope == RG_APPR_SCOPE_FINGERPRINT) {
		sqlite3_stmt *st;

		r = prep(c,
			 "INSERT OR REPLACE INTO grants (issuer, subject, target, fingerprint, "
			 "until_ms, approval) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
			 &st);
		if (!r) {
			sqlite3_bind_text(st, 1, a->issuer, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 2, a->subject, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 3, a->target, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 4, a->fingerprint, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 5, now_ms + (int64_t)a->grant_ttl_s * 1000);
			sqlite3_bind_text(st, 6, a->id, -1, SQLITE_STATIC);
			r = sqlite3_step(st) == SQLITE_DONE ? 0 : RG_CONTROL_E_STORE;
			sqlite3_finalize(st);
		}
	}
	sqlite3_exec(c->db, r ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL);
	if (!r) {
		rg_appr_free(a);
		a = NULL;
		r = get_locked(c, id, &a);
		notify(c, a); /* unlocks */
		if (out && !r)
			*out = a;
		else
			rg_appr_free(a);
		return r;
	}
out:
	pthread_mutex_unlock(&c->mu);
	rg_appr_free(a);
	return r;
}

int rg_control_finish(struct rg_control *c, const char *id, enum rg_appr_status st,
		      int64_t now_ms)
{
	struct rg_appr *a = NULL;
	int r;

	if (st != RG_APPR_EXPIRED && st != RG_APPR_WITHDRAWN && st != RG_APPR_ABANDONED)
		return RG_CONTROL_E_INVALID;
	pthread_mutex_lock(&c->mu);
	r = change_locked(c, id, st, NULL, NULL, NULL, now_ms);
	if (r) {
		pthread_mutex_unlock(&c->mu);
		return r;
	}
	get_locked(c, id, &a);
	notify(c, a); /* unlocks */
	rg_appr_free(a);
	return 0;
}

/* End every pending request `where` selects (bound to ?1 = arg, ?2 = now) with status st. */
static int finish_where(struct rg_control *c, const char *where, const char *arg, int64_t now,
			enum rg_appr_status st_to)
{
	char sql[256];
	sqlite3_stmt *st;
	char (*ids)[RG_APPR_ID_LEN + 1] = NULL;
	size_t n = 0, cap = 0, i;
	int r;

	snprintf(sql, sizeof(sql), "SELECT id FROM approvals WHERE status = 'pending' AND %s",
		 where);
	pthread_mutex_lock(&c->mu);
	r = prep(c, sql, &st);
	if (!r) {
		if (arg)
			sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, now);
		while ((r = sqlite3_step(st)) == SQLITE_ROW) {
			if (n == cap) {
				void *nv;

				cap = cap ? 2 * cap : 16;
				if (!(nv = realloc(ids, cap * sizeof(*ids))))
					break;
				ids = nv;
			}
			snprintf(ids[n++], RG_APPR_ID_LEN + 1, "%s",
				 (const char *)sqlite3_column_text(st, 0));
		}
		r = r == SQLITE_DONE ? 0 : RG_CONTROL_E_STORE;
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&c->mu);
	for (i = 0; !r && i < n; i++)
		rg_control_finish(c, ids[i], st_to, now); /* one may have been decided since */
	free(ids);
	return r ? r : (int)n;
}

int rg_control_abandon_node(struct rg_control *c, const char *node, int64_t now_ms)
{
	return finish_where(c, "node = ?1 AND ?2 IS NOT NULL", node, now_ms, RG_APPR_ABANDONED);
}

int rg_control_expire(struct rg_control *c, int64_t now_ms)
{
	return finish_where(c, "?1 IS NULL AND expires_ms <= ?2", NULL, now_ms, RG_APPR_EXPIRED);
}

int64_t rg_control_next_expiry(struct rg_control *c)
{
	sqlite3_stmt *st;
	int64_t v = INT64_MAX;

	pthread_mutex_lock(&c->mu);
	if (!prep(c, "SELECT min(expires_ms) FROM approvals WHERE status = 'pending'", &st)) {
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&c->mu);
	return v;
}

int rg_control_granted(struct rg_control *c, const char *iss, const char *sub, const char *target,
		       const char *fingerprint, int64_t now_ms)
{
	sqlite3_stmt *st;
	int r;

	pthread_mutex_lock(&c->mu);
	r = prep(c,
		 "SELECT 1 FROM grants WHERE issuer = ?1 AND subject = ?2 AND target = ?3 AND "
		 "fingerprint = ?4 AND until_ms > ?5",
		 &st);
	if (!r) {
		sqlite3_bind_text(st, 1, iss, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, sub, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, target, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, fingerprint, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, now_ms);
		r = sqlite3_step(st);
		r = r == SQLITE_ROW ? 1 : r == SQLITE_DONE ? 0 : RG_CONTROL_E_STORE;
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&c->mu);
	return r;
}
