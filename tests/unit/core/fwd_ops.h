/*
 * fwd_ops.h: "forward", the trivial protocol used by the core's tests and by the
 * rg_fwd_uring benchmark: connect every client to one fixed upstream and pass bytes both
 * ways by reference, forwarding EOFs as half-closes. It also counts close reasons.
 */
#ifndef RG_FWD_OPS_H
#define RG_FWD_OPS_H

#include <stdatomic.h>
#include <sys/socket.h>

#include "core.h"

struct fwd_ctx {
	struct sockaddr_storage up;
	socklen_t uplen;
	_Atomic unsigned long closes[RG_CLOSE_NOMEM + 1];	/* by enum rg_close_reason */
	_Atomic unsigned long drains;
	_Atomic unsigned long connect_errs;
};

extern const struct rg_proto_ops fwd_ops;

/* Fill ctx for an IPv4 upstream host:port. */
void fwd_ctx_init(struct fwd_ctx *ctx, const char *ip, unsigned short port);

#endif
