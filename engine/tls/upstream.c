/*
 * upstream.c: TLS towards a session's target, as every protocol module starts it once the
 * target agreed to TLS (PostgreSQL's 'S', MySQL's SSL capability). It owns the small wrapper
 * around the connection's transform that turns a failed handshake or record into the
 * module's own error for the agent (a FATAL, an ERR) rather than a silent close: the module
 * names that callback, everything else (ClientHello, installing the transform, freeing) is
 * the same for each protocol and lives here once.
 */
#include <errno.h>
#include <stdlib.h>

#include "tls.h"

struct up_tls {
	struct rg_tls_conn *conn;
	struct rg_sess *s;
	rg_tls_fail_fn fail;
};

static int up_rx(void *ctx, const uint8_t *wire, size_t n, struct rg_acc *plain,
		 struct rg_acc *reply)
{
	struct up_tls *u = ctx;
	int r = rg_tls_xform.rx(u->conn, wire, n, plain, reply);

	if (r == -ENOMEM || r == 0)
		return r;
	/* handshake or record failure: the module tells the agent and closes; the bytes are
	 * dropped */
	u->fail(u->s);
	plain->len = 0;
	return 0;
}

static int up_tx(void *ctx, const uint8_t *plain, size_t n, struct rg_acc *wire)
{
	struct up_tls *u = ctx;

	return rg_tls_xform.tx(u->conn, plain, n, wire);
}

static void up_free(void *ctx)
{
	struct up_tls *u = ctx;

	rg_tls_conn_free(u->conn);
	free(u);
}

static const struct rg_xform_ops up_xform = {
    .rx = up_rx,
    .tx = up_tx,
    .free = up_free,
};

int rg_tls_upstream_start(struct rg_sess *s, struct rg_tls_ctx *ctx, const char *server_name,
			  char *errbuf, size_t errlen, rg_tls_fail_fn fail, struct rg_tls_conn **out)
{
	struct rg_acc hello = {0};
	struct up_tls *u = calloc(1, sizeof(*u));
	int ret = -ENOMEM;

	*out = NULL;
	if (!u)
		return ret;
	u->s = s;
	u->fail = fail;
	u->conn = rg_tls_conn_new(ctx, server_name);
	if (!u->conn)
		goto fail;
	rg_tls_conn_set_errbuf(u->conn, errbuf, errlen);
	if ((ret = rg_tls_conn_start(u->conn, &hello)) ||
	    (ret = rg_sess_send(s, RG_BE, hello.p, hello.len)) || /* plain: no transform yet */
	    (ret = rg_sess_set_xform(s, RG_BE, &up_xform, u)))
		goto fail;
	rg_acc_free(&hello);
	*out = u->conn;
	return 0;
fail:
	rg_acc_free(&hello);
	rg_tls_conn_free(u->conn);
	free(u);
	return ret;
}
