/*
 * kill.c: connection ids across the gateway. The agent sees ringgate's connection ids (the
 * handshake's), the target its own; a KILL names a ringgate id and must reach the target
 * as the upstream id of that session, and only for a session of the same identity on the
 * same target (every agent of a target shares its upstream user, so the server alone would
 * let any agent end any other's connection).
 *   my_kill_parse: pure, recognises the plain SQL forms `KILL [HARD|SOFT]
 *   [CONNECTION|QUERY] n [;]` (case-insensitive, whitespace only); anything else is not a
 *   plain KILL (commented or other forms: the policy's classifier decides on those).
 *   The registry: every logged-in session's (ringgate id, upstream id, target, identity
 *   digest), under one mutex: taken at login, at close and by a KILL only.
 */
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>

#include "my-int.h"

static bool is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static size_t skip_space(const uint8_t *p, size_t n, size_t i)
{
	while (i < n && is_space(p[i]))
		i++;
	return i;
}

/* The word w (upper case) at p[i..], followed by a space or the end: the index after it. */
static size_t word(const uint8_t *p, size_t n, size_t i, const char *w)
{
	size_t k = 0;

	for (; w[k]; k++) {
		uint8_t c = i + k < n ? p[i + k] : 0;

		if (c >= 'a' && c <= 'z')
			c = (uint8_t)(c - 32);
		if (c != (uint8_t)w[k])
			return 0;
	}
	if (i + k < n && !is_space(p[i + k]))
		return 0;
	return i + k;
}

int my_kill_parse(const uint8_t *sql, size_t n, struct my_kill *out)
{
	size_t i = skip_space(sql, n, 0), j;
	uint64_t id = 0;
	unsigned digits = 0;

	memset(out, 0, sizeof(*out));
	if (!(j = word(sql, n, i, "KILL")))
		return 0;
	out->is_kill = true;
	i = skip_space(sql, n, j);
	if ((j = word(sql, n, i, "HARD")) || (j = word(sql, n, i, "SOFT"))) {
		out->soft = sql[i] == 's' || sql[i] == 'S';
		out->hard = !out->soft;
		i = skip_space(sql, n, j);
	}
	if ((j = word(sql, n, i, "CONNECTION"))) {
		i = skip_space(sql, n, j);
	} else if ((j = word(sql, n, i, "QUERY"))) {
		out->query = true;
		i = skip_space(sql, n, j);
	}
	while (i < n && sql[i] >= '0' && sql[i] <= '9' && digits < 11) {
		id = id * 10 + (uint64_t)(sql[i] - '0');
		i++;
		digits++;
	}
	if (!digits || id > UINT32_MAX || (i < n && sql[i] >= '0' && sql[i] <= '9'))
		return 0;
	i = skip_space(sql, n, i);
	if (i < n && sql[i] == ';')
		i = skip_space(sql, n, i + 1);
	if (i != n)
		return 0;
	out->id = (uint32_t)id;
	return 1;
}

int my_kill_write(const struct my_kill *k, uint32_t upstream_id, char *out, size_t cap)
{
	int n = snprintf(out, cap, "KILL %s%s%u", k->hard ? "HARD " : k->soft ? "SOFT " : "",
			 k->query ? "QUERY " : "", upstream_id);

	return n < 0 || (size_t)n >= cap ? -1 : n;
}

/* ---- the registry ------------------------------------------------------------------------ */

#define REG_BUCKETS 4096u

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct my_kill_node *reg[REG_BUCKETS];

void my_identity_digest(const struct rg_auth_principal *p, uint8_t out[32])
{
	const char *iss = rg_auth_principal_iss(p), *sub = rg_auth_principal_sub(p);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned len = 32;

	/* on failure the digest is random: it then matches no other session */
	if (!c || !EVP_DigestInit_ex(c, EVP_sha256(), NULL) ||
	    !EVP_DigestUpdate(c, iss, strlen(iss) + 1) ||
	    !EVP_DigestUpdate(c, sub, strlen(sub) + 1) || !EVP_DigestFinal_ex(c, out, &len))
		RAND_bytes(out, 32);
	EVP_MD_CTX_free(c);
}

void my_kill_register(struct my_kill_node *k)
{
	struct my_kill_node **b = &reg[k->conn_id % REG_BUCKETS];

	pthread_mutex_lock(&reg_lock);
	k->prev = NULL;
	k->next = *b;
	if (*b)
		(*b)->prev = k;
	*b = k;
	k->linked = true;
	pthread_mutex_unlock(&reg_lock);
}

void my_kill_unregister(struct my_kill_node *k)
{
	if (!k->linked)
		return;
	pthread_mutex_lock(&reg_lock);
	if (k->prev)
		k->prev->next = k->next;
	else
		reg[k->conn_id % REG_BUCKETS] = k->next;
	if (k->next)
		k->next->prev = k->prev;
	k->linked = false;
	pthread_mutex_unlock(&reg_lock);
}

bool my_kill_lookup(uint32_t conn_id, const void *target, const uint8_t ident[32],
		    uint32_t *upstream_id, unsigned *worker, uint64_t *sess_id)
{
	bool found = false;

	pthread_mutex_lock(&reg_lock);
	for (struct my_kill_node *k = reg[conn_id % REG_BUCKETS]; k; k = k->next) {
		if (k->conn_id != conn_id)
			continue;
		if (k->target == target && !memcmp(k->ident, ident, 32)) {
			*upstream_id = k->upstream_id;
			*worker = k->worker;
			*sess_id = k->sess_id;
			found = true;
		}
		break;
	}
	pthread_mutex_unlock(&reg_lock);
	return found;
}
