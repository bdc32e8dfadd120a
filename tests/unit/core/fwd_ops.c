/*
 * fwd_ops.c: the forward protocol (see fwd_ops.h). Everything it does goes through the
 * public rg_sess_* API; it keeps no per-session state, so sess_size is 0.
 */
#include <arpa/inet.h>
#include <string.h>

#include "fwd_ops.h"

void fwd_ctx_init(struct fwd_ctx *ctx, const char *ip, unsigned short port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&ctx->up;

	memset(ctx, 0, sizeof(*ctx));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	inet_pton(AF_INET, ip, &sin->sin_addr);
	ctx->uplen = sizeof(*sin);
}

static int fwd_accept(struct rg_sess *s)
{
	struct fwd_ctx *ctx = rg_sess_proto_ctx(s);

	return rg_sess_connect_be(s, (struct sockaddr *)&ctx->up, ctx->uplen);
}

static int fwd_fe_data(struct rg_sess *s, struct rg_buf *b)
{
	if (!b) {
		rg_sess_shutdown(s, RG_BE);
		return 0;
	}
	return rg_sess_send_ref(s, RG_BE, b, 0, b->len);
}

static int fwd_be_data(struct rg_sess *s, struct rg_buf *b)
{
	if (!b) {
		rg_sess_shutdown(s, RG_FE);
		return 0;
	}
	return rg_sess_send_ref(s, RG_FE, b, 0, b->len);
}

static void fwd_be_connected(struct rg_sess *s, int err)
{
	struct fwd_ctx *ctx = rg_sess_proto_ctx(s);

	if (err) {
		atomic_fetch_add(&ctx->connect_errs, 1);
		rg_sess_abort(s);
	}
}

static void fwd_drain(struct rg_sess *s)
{
	struct fwd_ctx *ctx = rg_sess_proto_ctx(s);

	atomic_fetch_add(&ctx->drains, 1);
}

static void fwd_close(struct rg_sess *s, enum rg_close_reason reason)
{
	struct fwd_ctx *ctx = rg_sess_proto_ctx(s);

	atomic_fetch_add(&ctx->closes[reason], 1);
}

const struct rg_proto_ops fwd_ops = {
	.name = "forward",
	.sess_size = 0,
	.on_accept = fwd_accept,
	.on_fe_data = fwd_fe_data,
	.on_be_data = fwd_be_data,
	.on_be_connected = fwd_be_connected,
	.on_drain = fwd_drain,
	.on_close = fwd_close,
};
