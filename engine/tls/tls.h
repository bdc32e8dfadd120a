/*
 * tls: TLS for either side of a session, as an implementation of the core's transform seam
 * (struct rg_xform_ops in core.h). OpenSSL runs over memory BIOs: the core hands received
 * wire bytes to rx and sends whatever tx produces; OpenSSL never touches a socket, so the
 * io_uring loop stays the only place that does I/O.
 *
 * A context (struct rg_tls_ctx) is built once at startup from configuration -- a server
 * certificate and key for a listener, or a client trust configuration for a target -- and
 * shared read-only by all workers. A connection (struct rg_tls_conn) belongs to one session
 * side and is freed by the core through the ops' free. Plain bytes queued before the
 * handshake completes are held and sent right after it. Never: blocking, logging secrets.
 */
#ifndef RG_TLS_H
#define RG_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core.h"

struct rg_tls_ctx;
struct rg_tls_conn;

enum rg_tls_verify {
	RG_TLS_NO_VERIFY = 0,	/* encrypt only (target tls.mode require) */
	RG_TLS_VERIFY_FULL = 1, /* chain to ca (or the system store) and host name */
};

/* Server context from PEM files; the key must match the certificate. */
int rg_tls_server_ctx_new(const char *cert, const char *key, struct rg_tls_ctx **out, char *err,
			  size_t errlen);
/* Client context; ca NULL uses the system trust store (only with VERIFY_FULL). */
int rg_tls_client_ctx_new(enum rg_tls_verify verify, const char *ca, struct rg_tls_ctx **out,
			  char *err, size_t errlen);
void rg_tls_ctx_free(struct rg_tls_ctx *c);

/*
 * A connection. For a client context, server_name is sent as SNI (unless it is an IP
 * literal) and, with VERIFY_FULL, checked against the certificate (DNS name or IP).
 */
struct rg_tls_conn *rg_tls_conn_new(struct rg_tls_ctx *c, const char *server_name);
/* Client: append the first handshake flight (ClientHello) to wire. */
int rg_tls_conn_start(struct rg_tls_conn *t, struct rg_acc *wire);
void rg_tls_conn_free(struct rg_tls_conn *t);
bool rg_tls_conn_established(const struct rg_tls_conn *t);
/*
 * Where to write why rx/tx failed ("certificate verify failed: ..."), for the owner's log
 * line: the conn may be freed by the core before the owner looks, so the text is copied
 * into the owner's buffer at the moment of failure.
 */
void rg_tls_conn_set_errbuf(struct rg_tls_conn *t, char *buf, size_t len);

/*
 * Channel binding type tls-server-end-point (RFC 5929 section 4.1): the hash of a
 * certificate's DER encoding with the digest of its signature algorithm, MD5 and SHA-1
 * replaced by SHA-256 -- what SCRAM-SHA-256-PLUS binds to. rg_tls_server_end_point takes a
 * DER certificate; rg_tls_conn_server_end_point the certificate the peer presented on an
 * established conn (for a client conn: the server's, the leaf as received, whether or not
 * it was verified). Both return the bytes written to out (32..64), -ENOTSUP when the
 * signature algorithm names no single digest (Ed25519, Ed448), -EINVAL for DER that does not
 * parse, -ENOTCONN before the handshake completed, -ENOENT when the peer sent no
 * certificate, -ENOSPC when cap is smaller than the digest (RG_TLS_END_POINT_MAX always fits).
 */
#define RG_TLS_END_POINT_MAX 64
ssize_t rg_tls_server_end_point(const uint8_t *der, size_t n, uint8_t *out, size_t cap);
ssize_t rg_tls_conn_server_end_point(const struct rg_tls_conn *t, uint8_t *out, size_t cap);

/* The transform: pass the rg_tls_conn as ctx to rg_sess_set_xform. free frees the conn. */
extern const struct rg_xform_ops rg_tls_xform;

/*
 * TLS towards session s's target (upstream.c), once the target agreed to it: a client
 * connection of ctx for server_name (NULL: no SNI, no name check) whose handshake and record
 * errors are written to errbuf[errlen]; its ClientHello is sent on RG_BE in plain, then the
 * transform is installed, so everything queued from now on is encrypted. A handshake or
 * record failure calls fail(s) (the module tells the agent and closes; the bytes are
 * dropped). *out: the connection, owned by the session's transform (freed with it). 0 or a
 * negative errno (nothing installed).
 */
typedef void (*rg_tls_fail_fn)(struct rg_sess *s);
int rg_tls_upstream_start(struct rg_sess *s, struct rg_tls_ctx *ctx, const char *server_name,
			  char *errbuf, size_t errlen, rg_tls_fail_fn fail, struct rg_tls_conn **out);

#endif /* RG_TLS_H */
