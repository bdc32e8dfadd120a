/*
 * tls.c: OpenSSL over memory BIOs behind rg_xform_ops.
 *
 * rx writes received records into the read BIO, drives the handshake, then reads every
 * decrypted byte available; whatever OpenSSL wants on the wire (handshake flights, alerts,
 * session tickets) is drained from the write BIO into reply. tx encrypts into the write BIO
 * and drains it into wire. Before the handshake has finished, tx only holds the plain bytes
 * (in order) and rx sends them once it completes. Contexts are immutable after creation and
 * shared by all workers (OpenSSL's SSL_CTX is safe for concurrent SSL_new); a conn is used by
 * one thread only. TLS 1.2 is the minimum. Never blocks; never logs. Also: the peer
 * certificate's tls-server-end-point hash, for SCRAM channel binding.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls.h"

struct rg_tls_ctx {
	SSL_CTX *ssl;
	bool server;
};

struct rg_tls_conn {
	SSL *ssl;
	BIO *rbio, *wbio; /* owned by ssl */
	bool established;
	bool closed;	       /* close_notify received: ignore further bytes */
	struct rg_acc pending; /* plain bytes queued before the handshake finished */
	char *errbuf;
	size_t errlen;
};

static void ssl_err(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	if (!err || !errlen)
		goto out;
	if (e) {
		ERR_error_string_n(e, buf, sizeof(buf));
		snprintf(err, errlen, "%s: %s", what, buf);
	} else {
		snprintf(err, errlen, "%s", what);
	}
out:
	ERR_clear_error();
}

static SSL_CTX *ctx_base(bool server)
{
	SSL_CTX *c = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());

	if (!c)
		return NULL;
	SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
	SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	return c;
}

int rg_tls_server_ctx_new(const char *cert, const char *key, struct rg_tls_ctx **out, char *err,
			  size_t errlen)
{
	struct rg_tls_ctx *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (!c)
		return -ENOMEM;
	c->server = true;
	c->ssl = ctx_base(true);
	if (!c->ssl) {
		ssl_err(err, errlen, "SSL_CTX_new");
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(c->ssl, cert) != 1) {
		ssl_err(err, errlen, "cannot load certificate chain");
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(c->ssl, key, SSL_FILETYPE_PEM) != 1) {
		ssl_err(err, errlen, "cannot load private key");
		goto fail;
	}
	if (SSL_CTX_check_private_key(c->ssl) != 1) {
		ssl_err(err, errlen, "private key does not match the certificate");
		goto fail;
	}
	*out = c;
	return 0;
fail:
	rg_tls_ctx_free(c);
	return -EINVAL;
}

int rg_tls_client_ctx_new(enum rg_tls_verify verify, const char *ca, struct rg_tls_ctx **out,
			  char *err, size_t errlen)
{
	struct rg_tls_ctx *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (!c)
		return -ENOMEM;
	c->ssl = ctx_base(false);
	if (!c->ssl) {
		ssl_err(err, errlen, "SSL_CTX_new");
		goto fail;
	}
	if (verify == RG_TLS_VERIFY_FULL) {
		int ok = ca ? SSL_CTX_load_verify_locations(c->ssl, ca, NULL)
			    : SSL_CTX_set_default_verify_paths(c->ssl);

		if (ok != 1) {
			ssl_err(err, errlen, "cannot load CA certificates");
			goto fail;
		}
		SSL_CTX_set_verify(c->ssl, SSL_VERIFY_PEER, NULL);
	} else {
		SSL_CTX_set_verify(c->ssl, SSL_VERIFY_NONE, NULL);
	}
	*out = c;
	return 0;
fail:
	rg_tls_ctx_free(c);
	return -EINVAL;
}

void rg_tls_ctx_free(struct rg_tls_ctx *c)
{
	if (!c)
		return;
	SSL_CTX_free(c->ssl);
	free(c);
}

struct rg_tls_conn *rg_tls_conn_new(struct rg_tls_ctx *c, const char *server_name)
{
	struct rg_tls_conn *t = calloc(1, sizeof(*t));
	unsigned char ip[16];
	bool is_ip;

	if (!t)
		return NULL;
	t->ssl = SSL_new(c->ssl);
	t->rbio = BIO_new(BIO_s_mem());
	t->wbio = BIO_new(BIO_s_mem());
	if (!t->ssl || !t->rbio || !t->wbio) {
		BIO_free(t->rbio);
		BIO_free(t->wbio);
		goto fail;
	}
	SSL_set_bio(t->ssl, t->rbio, t->wbio);
	if (c->server) {
		SSL_set_accept_state(t->ssl);
		return t;
	}
	SSL_set_connect_state(t->ssl);
	if (server_name) {
		is_ip = inet_pton(AF_INET, server_name, ip) == 1 ||
			inet_pton(AF_INET6, server_name, ip) == 1;
		if (!is_ip && SSL_set_tlsext_host_name(t->ssl, server_name) != 1)
			goto fail;
		if (SSL_get_verify_mode(t->ssl) & SSL_VERIFY_PEER) {
			X509_VERIFY_PARAM *vp = SSL_get0_param(t->ssl);

			if (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, server_name) != 1
				  : SSL_set1_host(t->ssl, server_name) != 1)
				goto fail;
			X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		}
	}
	return t;
fail:
	ERR_clear_error();
	rg_tls_conn_free(t);
	return NULL;
}

void rg_tls_conn_set_errbuf(struct rg_tls_conn *t, char *buf, size_t len)
{
	t->errbuf = buf;
	t->errlen = len;
}

void rg_tls_conn_free(struct rg_tls_conn *t)
{
	if (!t)
		return;
	SSL_free(t->ssl);
	rg_acc_free(&t->pending);
	free(t);
}

bool rg_tls_conn_established(const struct rg_tls_conn *t)
{
	return t->established;
}

/* Move everything OpenSSL wrote into out. */
static int drain_wbio(struct rg_tls_conn *t, struct rg_acc *out)
{
	char *p;
	long n = BIO_get_mem_data(t->wbio, &p);

	if (n > 0) {
		if (rg_acc_append(out, p, (size_t)n))
			return -ENOMEM;
		(void)BIO_reset(t->wbio);
	}
	return 0;
}

static int fail(struct rg_tls_conn *t, const char *what, int ret)
{
	unsigned long e = ERR_peek_error();
	long vr = SSL_get_verify_result(t->ssl);

	if (t->errbuf && t->errlen) {
		if (vr != X509_V_OK)
			snprintf(t->errbuf, t->errlen, "%s: certificate verify failed: %s", what,
				 X509_verify_cert_error_string(vr));
		else if (e)
			ssl_err(t->errbuf, t->errlen, what);
		else
			snprintf(t->errbuf, t->errlen, "%s", what);
	}
	ERR_clear_error();
	return ret;
}

static int write_plain(struct rg_tls_conn *t, const uint8_t *p, size_t n, struct rg_acc *wire)
{
	while (n) {
		int chunk = n > (1u << 30) ? 1 << 30 : (int)n;
		int r = SSL_write(t->ssl, p, chunk);

		if (r <= 0)
			return fail(t, "TLS write failed", -EPROTO);
		p += r;
		n -= (size_t)r;
		if (drain_wbio(t, wire))
			return -ENOMEM;
	}
	return drain_wbio(t, wire);
}

int rg_tls_conn_start(struct rg_tls_conn *t, struct rg_acc *wire)
{
	int r = SSL_do_handshake(t->ssl);

	if (r <= 0 && SSL_get_error(t->ssl, r) != SSL_ERROR_WANT_READ)
		return fail(t, "TLS handshake start failed", -EPROTO);
	return drain_wbio(t, wire);
}

static int tls_rx(void *ctx, const uint8_t *wire, size_t n, struct rg_acc *plain,
		  struct rg_acc *reply)
{
	struct rg_tls_conn *t = ctx;
	uint8_t buf[16384];
	int r, e;

	if (t->closed)
		return 0;
	if (n && BIO_write(t->rbio, wire, (int)n) != (int)n)
		return -ENOMEM;
	if (!t->established) {
		r = SSL_do_handshake(t->ssl);
		if (r != 1) {
			e = SSL_get_error(t->ssl, r);
			if (drain_wbio(t, reply)) /* an alert for the peer, if any */
				return -ENOMEM;
			if (e == SSL_ERROR_WANT_READ)
				return 0;
			return fail(t, "TLS handshake failed", -EPROTO);
		}
		t->established = true;
		if (t->pending.len) {
			r = write_plain(t, t->pending.p, t->pending.len, reply);
			rg_acc_free(&t->pending);
			if (r)
				return r;
		}
	}
	for (;;) {
		r = SSL_read(t->ssl, buf, sizeof(buf));
		if (r > 0) {
			if (rg_acc_append(plain, buf, (size_t)r))
				return -ENOMEM;
			continue;
		}
		e = SSL_get_error(t->ssl, r);
		if (e == SSL_ERROR_WANT_READ)
			break;
		if (e == SSL_ERROR_ZERO_RETURN) {
			t->closed = true;
			break;
		}
		return fail(t, "TLS read failed", -EPROTO);
	}
	return drain_wbio(t, reply);
}

static int tls_tx(void *ctx, const uint8_t *plain, size_t n, struct rg_acc *wire)
{
	struct rg_tls_conn *t = ctx;

	if (!t->established)
		return rg_acc_append(&t->pending, plain, n) ? -ENOMEM : 0;
	return write_plain(t, plain, n, wire);
}

/* RFC 5929 4.1: the certificate's signature digest, MD5 and SHA-1 upgraded to SHA-256. */
static ssize_t end_point(X509 *x, uint8_t *out, size_t cap)
{
	const EVP_MD *md;
	unsigned char *der = NULL;
	unsigned int len = 0;
	int mdnid = NID_undef, der_len;
	ssize_t ret;

	if (X509_get_signature_info(x, &mdnid, NULL, NULL, NULL) != 1 || mdnid == NID_undef) {
		ERR_clear_error();
		return -ENOTSUP;
	}
	if (mdnid == NID_md5 || mdnid == NID_sha1)
		mdnid = NID_sha256;
	md = EVP_get_digestbynid(mdnid);
	if (!md)
		return -ENOTSUP;
	if ((size_t)EVP_MD_get_size(md) > cap)
		return -ENOSPC;
	der_len = i2d_X509(x, &der);
	if (der_len <= 0) {
		ERR_clear_error();
		return -EINVAL;
	}
	ret = EVP_Digest(der, (size_t)der_len, out, &len, md, NULL) == 1 ? (ssize_t)len : -EIO;
	OPENSSL_free(der);
	ERR_clear_error();
	return ret;
}

ssize_t rg_tls_server_end_point(const uint8_t *der, size_t n, uint8_t *out, size_t cap)
{
	const unsigned char *p = der;
	X509 *x;
	ssize_t ret;

	if (n > LONG_MAX)
		return -EINVAL;
	x = d2i_X509(NULL, &p, (long)n);
	if (!x || p != der + n) {
		X509_free(x);
		ERR_clear_error();
		return -EINVAL;
	}
	ret = end_point(x, out, cap);
	X509_free(x);
	return ret;
}

ssize_t rg_tls_conn_server_end_point(const struct rg_tls_conn *t, uint8_t *out, size_t cap)
{
	X509 *x;

	if (!t->established)
		return -ENOTCONN;
	x = SSL_get0_peer_certificate(t->ssl);
	if (!x)
		return -ENOENT;
	return end_point(x, out, cap);
}

static void tls_free(void *ctx)
{
	rg_tls_conn_free(ctx);
}

const struct rg_xform_ops rg_tls_xform = {
    .rx = tls_rx,
    .tx = tls_tx,
    .free = tls_free,
};
