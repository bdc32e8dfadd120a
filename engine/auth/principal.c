/*
 * principal.c: a verified identity kept at its real size (struct rg_auth_principal).
 *
 * rg_auth_verify fills a fixed-size struct rg_auth_identity (no allocation on the verify
 * path, ~4.9 KB); a session that keeps its agent's identity for hours keeps only this: one
 * malloc'd block laid out as [header | group pointers | iss | sub | jti | group names], every
 * pointer pointing inside the block. Never modified after rg_auth_identity_dup returns, so it
 * may be read from any thread; the block is never copied by value (its pointers would still
 * point into the original).
 */
#include <stdlib.h>
#include <string.h>

#include "auth.h"

struct rg_auth_principal {
	const char *iss, *sub, *jti;
	int64_t exp;
	uint32_t n_groups;
	uint32_t size;			/* bytes of the whole block */
	const char *groups[];		/* n_groups pointers, then the strings */
};

struct rg_auth_principal *rg_auth_identity_dup(const struct rg_auth_identity *id)
{
	size_t liss = strnlen(id->iss, sizeof(id->iss) - 1) + 1;
	size_t lsub = strnlen(id->sub, sizeof(id->sub) - 1) + 1;
	size_t ljti = strnlen(id->jti, sizeof(id->jti) - 1) + 1;
	uint32_t ng = id->n_groups < RG_AUTH_MAX_GROUPS ? id->n_groups : RG_AUTH_MAX_GROUPS;
	size_t glen[RG_AUTH_MAX_GROUPS];
	size_t sz = sizeof(struct rg_auth_principal) + ng * sizeof(char *) + liss + lsub + ljti;
	struct rg_auth_principal *p;
	char *w;
	uint32_t i;

	for (i = 0; i < ng; i++) {
		size_t off = id->group_off[i];

		/* a struct from rg_auth_verify always fits; stay in bounds whatever we get */
		if (off >= sizeof(id->group_buf))
			return NULL;
		glen[i] = strnlen(id->group_buf + off, sizeof(id->group_buf) - off - 1) + 1;
		sz += glen[i];
	}
	p = malloc(sz);
	if (!p)
		return NULL;
	w = (char *)&p->groups[ng];
	p->iss = memcpy(w, id->iss, liss - 1);
	w[liss - 1] = '\0';
	w += liss;
	p->sub = memcpy(w, id->sub, lsub - 1);
	w[lsub - 1] = '\0';
	w += lsub;
	p->jti = memcpy(w, id->jti, ljti - 1);
	w[ljti - 1] = '\0';
	w += ljti;
	for (i = 0; i < ng; i++) {
		p->groups[i] = memcpy(w, id->group_buf + id->group_off[i], glen[i] - 1);
		w[glen[i] - 1] = '\0';
		w += glen[i];
	}
	p->exp = id->exp;
	p->n_groups = ng;
	p->size = (uint32_t)sz;
	return p;
}

void rg_auth_principal_free(struct rg_auth_principal *p)
{
	free(p);
}

const char *rg_auth_principal_iss(const struct rg_auth_principal *p)
{
	return p->iss;
}

const char *rg_auth_principal_sub(const struct rg_auth_principal *p)
{
	return p->sub;
}

const char *rg_auth_principal_jti(const struct rg_auth_principal *p)
{
	return p->jti;
}

int64_t rg_auth_principal_exp(const struct rg_auth_principal *p)
{
	return p->exp;
}

uint32_t rg_auth_principal_n_groups(const struct rg_auth_principal *p)
{
	return p->n_groups;
}

const char *rg_auth_principal_group(const struct rg_auth_principal *p, uint32_t i)
{
	return i < p->n_groups ? p->groups[i] : NULL;
}

const char *const *rg_auth_principal_groups(const struct rg_auth_principal *p, size_t *n)
{
	*n = p->n_groups;
	return p->groups;
}

size_t rg_auth_principal_size(const struct rg_auth_principal *p)
{
	return p->size;
}
