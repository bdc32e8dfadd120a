/*
 * rulec: the rule compiler's public interface (front end in ir.h, back end here).
 * compile turns a checked program into bundle bytes; sign appends an Ed25519 signature;
 * explain prints one statement's decision and the session's limits as a JSON line.
 */
#ifndef RULEC_H
#define RULEC_H

#include <stdio.h>

#include "ir.h"

struct rulec_buf {
	uint8_t *p;
	size_t n, cap;
};

void rulec_buf_free(struct rulec_buf *b);

/* Compile prog into out (a complete unsigned bundle). Errors (e.g. a Hyperscan failure)
 * are added to d with the rule's position. Returns 0 or -1. */
int rulec_compile(const struct rulec_program *prog, struct rulec_buf *out, struct rulec_diags *d);

/* Sign a bundle in place with an Ed25519 private key (PEM). Returns 0 or -1 with err set. */
int rulec_sign(struct rulec_buf *b, const char *key_pem_path, char *err, size_t errlen);

/* Print the decision for sql, and the session's effective limits, as one JSON line; with
 * sql NULL only the limits. Returns 0 or -1. */
int rulec_explain(const struct rg_policy *p, const struct rg_request *req, const char *sql,
		  FILE *out);

/* Print a human/JSON summary of a bundle. */
int rulec_inspect(const struct rg_policy *p, FILE *out);

#endif
