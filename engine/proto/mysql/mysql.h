/*
 * mysql.h: the MySQL / MariaDB gateway module as main.c starts it. Agents log in with their
 * token as a mysql_clear_password inside TLS; ringgate logs in to the target with its own
 * credential and relays commands (docs/mysql.md). The wire codec is mysql-wire.h.
 */
#ifndef RG_PROTO_MYSQL_H
#define RG_PROTO_MYSQL_H

struct rg_audit;
struct rg_config;
struct rg_config_audit;
struct rg_events;
struct rg_gw;
struct rg_mysql;

/* The module object over the shared gateway services (svc must outlive it). 0 or -ENOMEM. */
int rg_mysql_new(const struct rg_config *cfg, struct rg_gw *svc, struct rg_mysql **out);
void rg_mysql_free(struct rg_mysql *m);

/* The audit trail the sessions write to (audit.c, docs/audit.md): its session events (one
 * writer per worker, shared with the other protocols) and the config's literal and on_error
 * policy. Before the workers start; 0. rg_mysql_audit_free before the trail closes. */
int rg_mysql_set_audit(struct rg_mysql *m, struct rg_audit *a, struct rg_events *ev,
		       const struct rg_config_audit *ac);
void rg_mysql_audit_free(struct rg_mysql *m);

/* Session recordings (audit.record_sessions): engine/evidence's recorder of their trail
 * (rg_rec_new, shared with the other protocols), before the workers start; 0. */
struct rg_rec;
int rg_mysql_set_recording(struct rg_mysql *m, struct rg_rec *rec);

/* Statements held for approval (docs/mysql.md, "Approvals"): the process's approvals object
 * (engine/approvals, outliving m; NULL: a require_approval verdict is a denial). Before the
 * workers start. */
struct rg_approvals;
void rg_mysql_set_approvals(struct rg_mysql *m, struct rg_approvals *ap);

/* What main.c's protocol table holds (gateway.h); its mod argument is a struct rg_mysql. */
extern const struct rg_gw_proto rg_mysql_proto;
extern const struct rg_proto_ops rg_mysql_ops;

#endif /* RG_PROTO_MYSQL_H */
