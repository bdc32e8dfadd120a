/*
 * control.c: the control store (see control.h for what it promises), on SQLite or on a
 * shared PostgreSQL.
 *
 * Every operation is written once, in SQL both accept ($n parameters, all bound as text,
 * ON CONFLICT upserts, CASTs where PostgreSQL needs a type), over a two-function statement
 * layer (db_run, below) with one backend each: an embedded SQLite file (WAL mode, a busy
 * timeout: a single node needs nothing else) or a libpq connection (a fleet of nodes shares
 * it). One connection, one mutex: calls come from the approvals thread and the admin
 * listener, a few per held statement. A state change is one UPDATE ... WHERE status =
 * 'pending' whose change count says who won.
 *
 * Notifications: on SQLite the node that changes a request calls the notify callback
 * itself (one node). On PostgreSQL every change also sends NOTIFY ringgate_approvals with
 * the id, and each node's listener thread (own connection, LISTEN) calls its callback for
 * every change, its own included: a request held on node A and approved through node B's
 * admin listener is released on A. (A NOTIFY sent while a listener reconnects is lost: the
 * gateway also looks up the requests it holds every half second, control.h's users must not
 * rely on the callback alone.)
 */
#include <errno.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <openssl/rand.h>
#include <poll.h>
#include <pthread.h>
#include <sqlite3.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"

struct rg_control {
	pthread_mutex_t mu;
	sqlite3 *db;  /* one of these two */
	PGconn *pg;
	PGconn *listen; /* PostgreSQL: LISTENing before open returns; then the thread's */
	char *conninfo; /* PostgreSQL: to reconnect, and for the listener's own connection */
	rg_control_notify_fn notify;
	void *notify_arg;
	/* PostgreSQL: the LISTEN thread */
	pthread_t lthr;
	bool lstarted;
	int wake;
	volatile bool lstop;
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


/* ---- the statement layer ------------------------------------------------------------------- */

/* Rows of text values (NULL for SQL NULL), row-major. */
struct db_res {
	char **v;
	size_t rows, cols, cap;
};

static void res_free(struct db_res *r)
{
	for (size_t i = 0; r->v && i < r->rows * r->cols; i++)
		free(r->v[i]);
	free(r->v);
	memset(r, 0, sizeof(*r));
}

static const char *res_at(const struct db_res *r, size_t row, size_t col)
{
	return row < r->rows && col < r->cols ? r->v[row * r->cols + col] : NULL;
}

static int res_add(struct db_res *r, const char *const *vals, size_t cols)
{
	if ((r->rows + 1) * cols > r->cap) {
		size_t nc = r->cap ? 2 * r->cap : 16 * cols;
		char **nv = realloc(r->v, nc * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		r->v = nv;
		r->cap = nc;
	}
	r->cols = cols;
	for (size_t i = 0; i < cols; i++) {
		char *d = vals[i] ? strdup(vals[i]) : NULL;

		if (vals[i] && !d) {
			for (size_t k = 0; k < i; k++)
				free(r->v[r->rows * cols + k]);
			return -ENOMEM;
		}
		r->v[r->rows * cols + i] = d;
	}
	r->rows++;
	return 0;
}

static int sqlite_run(struct rg_control *c, const char *sql, const char *const *p, int np,
		      struct db_res *out, long *changes)
{
	sqlite3_stmt *st;
	const char *vals[32];
	char name[16];
	int r, cols;

	if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "event=control_store_error detail=\"%s\"\n", sqlite3_errmsg(c->db));
		return RG_CONTROL_E_STORE;
	}
	for (int i = 0; i < np; i++) {
		snprintf(name, sizeof(name), "$%d", i + 1);
		int idx = sqlite3_bind_parameter_index(st, name);

		if (idx > 0)
			sqlite3_bind_text(st, idx, p[i], -1, SQLITE_STATIC);
	}
	cols = sqlite3_column_count(st);
	if (cols > 32)
		cols = 32;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		for (int i = 0; i < cols; i++)
			vals[i] = (const char *)sqlite3_column_text(st, i);
		if (out && res_add(out, vals, (size_t)cols)) {
			sqlite3_finalize(st);
			return -ENOMEM;
		}
	}
	if (r != SQLITE_DONE)
		fprintf(stderr, "event=control_store_error detail=\"%s\"\n", sqlite3_errmsg(c->db));
	sqlite3_finalize(st);
	if (changes)
		*changes = sqlite3_changes(c->db);
	return r == SQLITE_DONE ? 0 : RG_CONTROL_E_STORE;
}

static int pg_run(struct rg_control *c, const char *sql, const char *const *p, int np,
		  struct db_res *out, long *changes)
{
	PGresult *res;
	ExecStatusType st;
	const char *vals[32];
	int rows, cols, r = 0;

	if (PQstatus(c->pg) != CONNECTION_OK)
		PQreset(c->pg); /* the server restarted, or the connection dropped */
	res = PQexecParams(c->pg, sql, np, NULL, p, NULL, NULL, 0);
	st = PQresultStatus(res);
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
		char d[300];

		snprintf(d, sizeof(d), "%s", PQerrorMessage(c->pg));
		for (char *q = d; *q; q++)
			if (*q == '\n' || *q == '"')
				*q = ' ';
		fprintf(stderr, "event=control_store_error detail=\"%s\"\n", d);
		PQclear(res);
		return RG_CONTROL_E_STORE;
	}
	rows = PQntuples(res);
	cols = PQnfields(res) > 32 ? 32 : PQnfields(res);
	for (int i = 0; out && i < rows && !r; i++) {
		for (int k = 0; k < cols; k++)
			vals[k] = PQgetisnull(res, i, k) ? NULL : PQgetvalue(res, i, k);
		r = res_add(out, vals, (size_t)cols);
	}
	if (changes)
		*changes = strtol(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return r;
}

/* Run one statement (mu held); out (may be NULL) gets its rows, changes its row count. */
static int db_run(struct rg_control *c, const char *sql, const char *const *p, int np,
		  struct db_res *out, long *changes)
{
	if (out)
		memset(out, 0, sizeof(*out));
	return c->pg ? pg_run(c, sql, p, np, out, changes) : sqlite_run(c, sql, p, np, out, changes);
}

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS ringgate_approvals ("
    " id TEXT PRIMARY KEY, node TEXT NOT NULL, status TEXT NOT NULL,"
    " scope TEXT NOT NULL, grant_ttl_s BIGINT NOT NULL,"
    " created_ms BIGINT NOT NULL, expires_ms BIGINT NOT NULL, decided_ms BIGINT,"
    " issuer TEXT NOT NULL, subject TEXT NOT NULL, groups TEXT NOT NULL,"
    " peer TEXT NOT NULL, target TEXT NOT NULL, rule TEXT NOT NULL, reviewers TEXT NOT NULL,"
    " sql TEXT NOT NULL, fingerprint TEXT NOT NULL,"
    " decided_by TEXT, decided_iss TEXT, reason TEXT);"
    "CREATE INDEX IF NOT EXISTS ringgate_approvals_status"
    " ON ringgate_approvals (status, expires_ms);"
    "CREATE INDEX IF NOT EXISTS ringgate_approvals_node_decided"
    " ON ringgate_approvals (node, decided_ms);"
    "CREATE TABLE IF NOT EXISTS ringgate_grants ("
    " issuer TEXT NOT NULL, subject TEXT NOT NULL, target TEXT NOT NULL,"
    " fingerprint TEXT NOT NULL, until_ms BIGINT NOT NULL, approval TEXT NOT NULL,"
    " PRIMARY KEY (issuer, subject, target, fingerprint));";

#define COLS                                                                                  \
	"id, node, status, scope, grant_ttl_s, created_ms, expires_ms, decided_ms, issuer, "  \
	"subject, groups, peer, target, rule, reviewers, sql, fingerprint, decided_by, "      \
	"decided_iss, reason"

static void *listen_main(void *arg);

int rg_control_open_sqlite(const char *path, struct rg_control **out, char *err, size_t errlen)
{
	struct rg_control *c = calloc(1, sizeof(*c));
	char *msg = NULL;
	int r;

	*out = NULL;
	if (!c)
		return -ENOMEM;
	c->wake = -1;
	pthread_mutex_init(&c->mu, NULL);
	r = sqlite3_open_v2(path, &c->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
			    NULL);
	if (r == SQLITE_OK)
		r = sqlite3_busy_timeout(c->db, 5000);
	if (r == SQLITE_OK)
		r = sqlite3_exec(c->db, "PRAGMA journal_mode = WAL;", NULL, NULL, &msg);
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

int rg_control_open_pg(const char *conninfo, struct rg_control **out, char *err, size_t errlen)
{
	struct rg_control *c = calloc(1, sizeof(*c));
	PGresult *res;
	bool ok;

	*out = NULL;
	if (!c)
		return -ENOMEM;
	c->wake = -1;
	pthread_mutex_init(&c->mu, NULL);
	c->conninfo = strdup(conninfo);
	c->pg = c->conninfo ? PQconnectdb(conninfo) : NULL;
	if (!c->pg || PQstatus(c->pg) != CONNECTION_OK) {
		snprintf(err, errlen, "%s", c->pg ? PQerrorMessage(c->pg) : "out of memory");
		goto fail;
	}
	/* nodes starting together: one creates the schema at a time */
	res = PQexec(c->pg, "SELECT pg_advisory_lock(7311970102); " /* 'ringgate' */
		     "SET client_min_messages = warning;");
	PQclear(res);
	res = PQexec(c->pg, SCHEMA);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		snprintf(err, errlen, "%s", PQerrorMessage(c->pg));
	PQclear(res);
	PQclear(PQexec(c->pg, "SELECT pg_advisory_unlock(7311970102)"));
	if (!ok)
		goto fail;
	/* listening before the first change can happen, so none is missed */
	c->listen = PQconnectdb(conninfo);
	res = PQstatus(c->listen) == CONNECTION_OK ? PQexec(c->listen, "LISTEN ringgate_approvals")
						   : NULL;
	ok = res && PQresultStatus(res) == PGRES_COMMAND_OK;
	PQclear(res);
	if (!ok) {
		snprintf(err, errlen, "LISTEN: %s", PQerrorMessage(c->listen));
		goto fail;
	}
	c->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->wake < 0 || pthread_create(&c->lthr, NULL, listen_main, c)) {
		snprintf(err, errlen, "cannot start the listener thread");
		goto fail;
	}
	c->lstarted = true;
	*out = c;
	return 0;
fail:
	for (char *p = err; *p; p++)
		if (*p == '\n')
			*p = ' ';
	rg_control_close(c);
	return RG_CONTROL_E_STORE;
}

void rg_control_close(struct rg_control *c)
{
	if (!c)
		return;
	if (c->lstarted) {
		uint64_t one = 1;

		c->lstop = true;
		if (write(c->wake, &one, sizeof(one)) < 0) {
			/* the thread polls with a timeout anyway */
		}
		pthread_join(c->lthr, NULL);
	}
	if (c->wake >= 0)
		close(c->wake);
	if (c->listen)
		PQfinish(c->listen);
	sqlite3_close(c->db);
	if (c->pg)
		PQfinish(c->pg);
	free(c->conninfo);
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


static char *dup_val(const char *v, bool *ok)
{
	char *s;

	if (!v)
		return NULL;
	if (!(s = strdup(v)))
		*ok = false;
	return s;
}

static int64_t i64(const char *v)
{
	return v ? strtoll(v, NULL, 10) : 0;
}

/* Row `row` of a SELECT COLS. */
static struct rg_appr *row_read(const struct db_res *r, size_t row)
{
	struct rg_appr *a = calloc(1, sizeof(*a));
	const char *t;
	bool ok = true;

	if (!a)
		return NULL;
	snprintf(a->id, sizeof(a->id), "%s", res_at(r, row, 0) ? res_at(r, row, 0) : "");
	snprintf(a->node, sizeof(a->node), "%s", res_at(r, row, 1) ? res_at(r, row, 1) : "");
	a->status = (enum rg_appr_status)rg_appr_status_parse(res_at(r, row, 2));
	t = res_at(r, row, 3);
	a->scope = t && !strcmp(t, "fingerprint") ? RG_APPR_SCOPE_FINGERPRINT : RG_APPR_SCOPE_ONCE;
	a->grant_ttl_s = (uint32_t)i64(res_at(r, row, 4));
	a->created_ms = i64(res_at(r, row, 5));
	a->expires_ms = i64(res_at(r, row, 6));
	a->decided_ms = i64(res_at(r, row, 7));
	a->issuer = dup_val(res_at(r, row, 8), &ok);
	a->subject = dup_val(res_at(r, row, 9), &ok);
	ok &= groups_parse(res_at(r, row, 10), a);
	a->peer = dup_val(res_at(r, row, 11), &ok);
	a->target = dup_val(res_at(r, row, 12), &ok);
	a->rule = dup_val(res_at(r, row, 13), &ok);
	a->reviewers = dup_val(res_at(r, row, 14), &ok);
	a->sql = dup_val(res_at(r, row, 15), &ok);
	a->fingerprint = dup_val(res_at(r, row, 16), &ok);
	a->decided_by = dup_val(res_at(r, row, 17), &ok);
	a->decided_iss = dup_val(res_at(r, row, 18), &ok);
	a->reason = dup_val(res_at(r, row, 19), &ok);
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

/* ---- operations (mu held where it says so) ------------------------------------------------ */

static void fmt_i64(char *buf, size_t n, int64_t v)
{
	snprintf(buf, n, "%lld", (long long)v);
}

static int get_locked(struct rg_control *c, const char *id, struct rg_appr **out)
{
	const char *p[1] = {id};
	struct db_res r;
	int ret;

	*out = NULL;
	ret = db_run(c, "SELECT " COLS " FROM ringgate_approvals WHERE id = $1", p, 1, &r, NULL);
	if (!ret && !r.rows)
		ret = RG_CONTROL_E_NOT_FOUND;
	else if (!ret && !(*out = row_read(&r, 0)))
		ret = -ENOMEM;
	res_free(&r);
	return ret;
}

/* After a change (mu held; released here): on SQLite the callback runs now, on this node;
 * on PostgreSQL every node's listener runs it after the NOTIFY. */
static void changed(struct rg_control *c, const char *id)
{
	rg_control_notify_fn fn = c->notify;
	void *arg = c->notify_arg;
	struct rg_appr *a = NULL;
	const char *p[1] = {id};

	if (c->pg) {
		db_run(c, "SELECT pg_notify('ringgate_approvals', $1)", p, 1, NULL, NULL);
		pthread_mutex_unlock(&c->mu);
		return;
	}
	if (fn)
		get_locked(c, id, &a);
	pthread_mutex_unlock(&c->mu);
	if (fn && a)
		fn(arg, a);
	rg_appr_free(a);
}

int rg_control_insert(struct rg_control *c, const struct rg_appr *a)
{
	char ttl[24], cr[24], ex[24], *groups;
	int r;

	if (!a->issuer || !a->subject || !a->peer || !a->target || !a->rule || !a->reviewers ||
	    !a->sql || !a->fingerprint || !a->id[0] || !a->node[0])
		return RG_CONTROL_E_INVALID;
	groups = groups_json(a);
	if (!groups)
		return -ENOMEM;
	fmt_i64(ttl, sizeof(ttl), a->grant_ttl_s);
	fmt_i64(cr, sizeof(cr), a->created_ms);
	fmt_i64(ex, sizeof(ex), a->expires_ms);
	{
		const char *p[15] = {a->id,
				     a->node,
				     a->scope == RG_APPR_SCOPE_FINGERPRINT ? "fingerprint" : "once",
				     ttl,
				     cr,
				     ex,
				     a->issuer,
				     a->subject,
				     groups,
				     a->peer,
				     a->target,
				     a->rule,
				     a->reviewers,
				     a->sql,
				     a->fingerprint};

		pthread_mutex_lock(&c->mu);
		r = db_run(c,
			   "INSERT INTO ringgate_approvals (id, node, status, scope, grant_ttl_s, "
			   "created_ms, expires_ms, issuer, subject, groups, peer, target, rule, "
			   "reviewers, sql, fingerprint) VALUES ($1, $2, 'pending', $3, "
			   "CAST($4 AS BIGINT), CAST($5 AS BIGINT), CAST($6 AS BIGINT), $7, $8, $9, "
			   "$10, $11, $12, $13, $14, $15)",
			   p, 15, NULL, NULL);
		pthread_mutex_unlock(&c->mu);
	}
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

/* The requests a SELECT COLS returns, as a list (*out: rg_appr_list_free). */
static int list_query(struct rg_control *c, const char *sql, const char *const *p, int np,
		      struct rg_appr ***out, size_t *n)
{
	struct rg_appr **v = NULL;
	struct db_res r;
	int ret;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&c->mu);
	ret = db_run(c, sql, p, np, &r, NULL);
	pthread_mutex_unlock(&c->mu);
	if (!ret && r.rows && !(v = calloc(r.rows, sizeof(*v))))
		ret = -ENOMEM;
	for (size_t i = 0; !ret && i < r.rows; i++)
		if (!(v[(*n)++] = row_read(&r, i)))
			ret = -ENOMEM;
	res_free(&r);
	if (ret) {
		rg_appr_list_free(v, *n);
		*n = 0;
		return ret;
	}
	*out = v;
	return 0;
}

int rg_control_list(struct rg_control *c, int status, size_t limit, struct rg_appr ***out,
		    size_t *n)
{
	char lim[24];
	const char *p[2] = {status >= 0 ? rg_appr_status_name((enum rg_appr_status)status) : NULL,
			    lim};

	if (!limit || limit > 1000)
		limit = 1000;
	fmt_i64(lim, sizeof(lim), (int64_t)limit);
	return list_query(c,
			  "SELECT " COLS " FROM ringgate_approvals WHERE CAST($1 AS TEXT) IS NULL "
			  "OR status = $1 ORDER BY created_ms DESC, id LIMIT CAST($2 AS BIGINT)",
			  p, 2, out, n);
}

/* pending -> st (mu held); 0 when this call made the change. */
static int change_locked(struct rg_control *c, const char *id, enum rg_appr_status st_to,
			 const char *by, const char *by_iss, const char *reason, int64_t now)
{
	char nb[24];
	const char *p[6] = {id, rg_appr_status_name(st_to), nb, by, by_iss, reason};
	long changes = 0;
	int r;

	fmt_i64(nb, sizeof(nb), now);
	r = db_run(c,
		   "UPDATE ringgate_approvals SET status = $2, decided_ms = CAST($3 AS BIGINT), "
		   "decided_by = $4, decided_iss = $5, reason = $6 WHERE id = $1 AND "
		   "status = 'pending'",
		   p, 6, NULL, &changes);
	if (!r && changes != 1)
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
			changed(c, id); /* unlocks */
			rg_appr_free(a);
			return RG_CONTROL_E_EXPIRED;
		}
		goto out;
	}
	r = db_run(c, c->pg ? "BEGIN" : "BEGIN IMMEDIATE", NULL, 0, NULL, NULL);
	if (!r)
		r = change_locked(c, id, approve ? RG_APPR_APPROVED : RG_APPR_DENIED, sub, iss,
				  reason ? reason : "", now_ms);
	if (!r && approve && a->scope == RG_APPR_SCOPE_FINGERPRINT) {
		char until[24];
		const char *p[6] = {a->issuer, a->subject, a->target, a->fingerprint, until, a->id};

		fmt_i64(until, sizeof(until), now_ms + (int64_t)a->grant_ttl_s * 1000);
		r = db_run(c,
			   "INSERT INTO ringgate_grants (issuer, subject, target, fingerprint, "
			   "until_ms, approval) VALUES ($1, $2, $3, $4, CAST($5 AS BIGINT), $6) "
			   "ON CONFLICT (issuer, subject, target, fingerprint) DO UPDATE SET "
			   "until_ms = excluded.until_ms, approval = excluded.approval",
			   p, 6, NULL, NULL);
	}
	if (r) {
		db_run(c, "ROLLBACK", NULL, 0, NULL, NULL);
		goto out;
	}
	r = db_run(c, "COMMIT", NULL, 0, NULL, NULL);
	if (r)
		goto out;
	if (out) {
		rg_appr_free(a);
		a = NULL;
		get_locked(c, id, out);
	}
	changed(c, id); /* unlocks */
	rg_appr_free(a);
	return 0;
out:
	pthread_mutex_unlock(&c->mu);
	rg_appr_free(a);
	return r;
}

int rg_control_finish(struct rg_control *c, const char *id, enum rg_appr_status st,
		      int64_t now_ms)
{
	int r;

	if (st != RG_APPR_EXPIRED && st != RG_APPR_WITHDRAWN && st != RG_APPR_ABANDONED)
		return RG_CONTROL_E_INVALID;
	pthread_mutex_lock(&c->mu);
	r = change_locked(c, id, st, NULL, NULL, NULL, now_ms);
	if (r) {
		pthread_mutex_unlock(&c->mu);
		return r;
	}
	changed(c, id); /* unlocks */
	return 0;
}

/* End every pending request `where` selects ($1 = arg, $2 = now) with status st_to. */
static int finish_where(struct rg_control *c, const char *where, const char *arg, int64_t now,
			enum rg_appr_status st_to)
{
	char sql[256], nb[24];
	const char *p[2] = {arg, nb};
	struct db_res r;
	int ret, n = 0;

	fmt_i64(nb, sizeof(nb), now);
	snprintf(sql, sizeof(sql),
		 "SELECT id FROM ringgate_approvals WHERE status = 'pending' AND %s", where);
	pthread_mutex_lock(&c->mu);
	ret = db_run(c, sql, p, 2, &r, NULL);
	pthread_mutex_unlock(&c->mu);
	for (size_t i = 0; !ret && i < r.rows; i++) /* one may have been decided since */
		n += rg_control_finish(c, res_at(&r, i, 0), st_to, now) == 0;
	res_free(&r);
	return ret ? ret : n;
}

int rg_control_abandon_node(struct rg_control *c, const char *node, int64_t now_ms)
{
	return finish_where(c, "node = $1 AND CAST($2 AS BIGINT) IS NOT NULL", node, now_ms,
			    RG_APPR_ABANDONED);
}

int rg_control_expire(struct rg_control *c, int64_t now_ms)
{
	return finish_where(c, "CAST($1 AS TEXT) IS NULL AND expires_ms <= CAST($2 AS BIGINT)",
			    NULL, now_ms, RG_APPR_EXPIRED);
}

int rg_control_ended_since(struct rg_control *c, const char *node, int64_t since_ms,
			   struct rg_appr ***out, size_t *n)
{
	char sb[24];
	const char *p[2] = {node, sb};

	fmt_i64(sb, sizeof(sb), since_ms);
	return list_query(c,
			  "SELECT " COLS " FROM ringgate_approvals WHERE node = $1 AND "
			  "status <> 'pending' AND decided_ms >= CAST($2 AS BIGINT)",
			  p, 2, out, n);
}

int64_t rg_control_next_expiry(struct rg_control *c)
{
	struct db_res r;
	int64_t v = INT64_MAX;

	pthread_mutex_lock(&c->mu);
	if (!db_run(c, "SELECT min(expires_ms) FROM ringgate_approvals WHERE status = 'pending'",
		    NULL, 0, &r, NULL) &&
	    res_at(&r, 0, 0))
		v = i64(res_at(&r, 0, 0));
	pthread_mutex_unlock(&c->mu);
	res_free(&r);
	return v;
}

int rg_control_granted(struct rg_control *c, const char *iss, const char *sub, const char *target,
		       const char *fingerprint, int64_t now_ms)
{
	char nb[24];
	const char *p[5] = {iss, sub, target, fingerprint, nb};
	struct db_res r;
	int ret;

	fmt_i64(nb, sizeof(nb), now_ms);
	pthread_mutex_lock(&c->mu);
	ret = db_run(c,
		     "SELECT 1 FROM ringgate_grants WHERE issuer = $1 AND subject = $2 AND "
		     "target = $3 AND fingerprint = $4 AND until_ms > CAST($5 AS BIGINT)",
		     p, 5, &r, NULL);
	pthread_mutex_unlock(&c->mu);
	if (!ret)
		ret = r.rows > 0;
	res_free(&r);
	return ret;
}

/* ---- PostgreSQL: the LISTEN thread ------------------------------------------------------------ */

static void *listen_main(void *arg)
{
	struct rg_control *c = arg;
	PGconn *lc = c->listen;

	c->listen = NULL;
	while (!c->lstop) {
		struct pollfd p[2] = {{.fd = -1, .events = POLLIN}, {.fd = c->wake, .events = POLLIN}};
		PGnotify *n;

		if (!lc || PQstatus(lc) != CONNECTION_OK) {
			if (lc)
				PQfinish(lc);
			lc = PQconnectdb(c->conninfo);
			if (PQstatus(lc) == CONNECTION_OK)
				PQclear(PQexec(lc, "LISTEN ringgate_approvals"));
			else
				fprintf(stderr, "event=control_listen_failed detail=\"connect\"\n");
		}
		p[0].fd = PQstatus(lc) == CONNECTION_OK ? PQsocket(lc) : -1;
		if (poll(p, 2, p[0].fd < 0 ? 1000 : 5000) < 0)
			continue;
		if (p[0].fd >= 0 && !PQconsumeInput(lc))
			continue;
		while (p[0].fd >= 0 && (n = PQnotifies(lc))) {
			struct rg_appr *a = NULL;
			rg_control_notify_fn fn;
			void *narg;

			pthread_mutex_lock(&c->mu);
			fn = c->notify;
			narg = c->notify_arg;
			if (fn)
				get_locked(c, n->extra, &a);
			pthread_mutex_unlock(&c->mu);
			if (fn && a)
				fn(narg, a);
			rg_appr_free(a);
			PQfreemem(n);
		}
	}
	if (lc)
		PQfinish(lc);
	return NULL;
}
