/*
 * mysql.h: the MySQL / MariaDB gateway module as main.c starts it. Agents log in with their
 * token as a mysql_clear_password inside TLS; ringgate logs in to the target with its own
 * credential and relays commands (docs/mysql.md). The wire codec is mysql-wire.h.
 */
#ifndef RG_PROTO_MYSQL_H
#define RG_PROTO_MYSQL_H

struct rg_config;
struct rg_gw;
struct rg_mysql;

/* The module object over the shared gateway services (svc must outlive it). 0 or -ENOMEM. */
int rg_mysql_new(const struct rg_config *cfg, struct rg_gw *svc, struct rg_mysql **out);
void rg_mysql_free(struct rg_mysql *m);

/* What main.c's protocol table holds (gateway.h); its mod argument is a struct rg_mysql. */
extern const struct rg_gw_proto rg_mysql_proto;
extern const struct rg_proto_ops rg_mysql_ops;

#endif /* RG_PROTO_MYSQL_H */
