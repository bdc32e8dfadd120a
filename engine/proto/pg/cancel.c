/*
 * cancel.c: the registry of ringgate's own cancel keys.
 *
 * Every logged-in session's BackendKeyData carries the target's real backend pid (so
 * pg_backend_pid(), NOTIFY's pid and pg_stat_activity agree with what the client was told)
 * and a secret key drawn by ringgate, mapped here to the target's own key, the target and the
 * server address the session connected to; a CancelRequest may arrive on any worker, so the
 * registry is shared. Sessions of different targets may share a pid: entries are keyed by
 * (pid, key), and a key is drawn again until the pair is unique. It is touched only at
 * login, logout and cancel -- never per message -- so one mutex is enough and costs nothing
 * on the data path. Lookups compare keys in constant time; the target's key never leaves
 * this module except into the session that forwards the cancel. Entries are small (the
 * target's key and address at their real length: 4 bytes of key on PostgreSQL 15), kept in a
 * chained hash table by pid.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"

#define NBUCKETS 1024u

struct node {
	struct node *next;
	uint32_t pid;
	uint8_t key[4];
	uint32_t be_pid;
	uint32_t be_key_len;
	socklen_t be_addrlen;
	const void *target;
	uint64_t sess_id; /* the session holding the key, on worker `worker` */
	unsigned worker;
	bool held_only; /* all it runs is a statement held for approval, not on the target */
	uint8_t be_key[]; /* be_key_len bytes, then be_addrlen bytes of address */
};

static void node_free(struct node *n)
{
	OPENSSL_cleanse(n, sizeof(*n) + n->be_key_len + n->be_addrlen);
	free(n);
}

struct rg_pg_cancel_reg {
	pthread_mutex_t mu;
	size_t count;
	struct node *b[NBUCKETS];
};

struct rg_pg_cancel_reg *rg_pg_cancel_reg_new(void)
{
	struct rg_pg_cancel_reg *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	pthread_mutex_init(&r->mu, NULL);
	return r;
}

void rg_pg_cancel_reg_free(struct rg_pg_cancel_reg *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < NBUCKETS; i++) {
		struct node *n = r->b[i], *next;

		for (; n; n = next) {
			next = n->next;
			node_free(n);
		}
	}
	pthread_mutex_destroy(&r->mu);
	free(r);
}

/* The entry for (pid, key); every candidate with that pid is compared in constant time. */
static struct node *find(struct rg_pg_cancel_reg *r, uint32_t pid, const uint8_t *key)
{
	struct node *n, *hit = NULL;

	for (n = r->b[pid % NBUCKETS]; n; n = n->next)
		if (n->pid == pid && CRYPTO_memcmp(n->key, key, 4) == 0)
			hit = n;
	return hit;
}

int rg_pg_cancel_register(struct rg_pg_cancel_reg *r, struct rg_pg_cancel_entry *e)
{
	struct node *n;
	uint8_t rnd[4];
	int tries, ret = -EIO;

	if (e->be_key_len > sizeof(e->be_key) || e->be_addrlen > sizeof(e->be_addr))
		return -EINVAL;
	n = malloc(sizeof(*n) + e->be_key_len + e->be_addrlen);
	if (!n)
		return -ENOMEM;
	pthread_mutex_lock(&r->mu);
	for (tries = 0; tries < 16; tries++) {
		uint32_t pid = e->be_pid;

		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			break;
		if (find(r, pid, rnd))
			continue;
		e->pid = pid;
		memcpy(e->key, rnd, 4);
		n->pid = pid;
		memcpy(n->key, e->key, 4);
		n->be_pid = e->be_pid;
		n->be_key_len = e->be_key_len;
		n->target = e->target;
		n->sess_id = e->sess_id;
		n->worker = e->worker;
		n->held_only = false;
		memcpy(n->be_key, e->be_key, e->be_key_len);
		n->be_addrlen = e->be_addrlen;
		memcpy(n->be_key + n->be_key_len, &e->be_addr, e->be_addrlen);
		n->next = r->b[pid % NBUCKETS];
		r->b[pid % NBUCKETS] = n;
		r->count++;
		ret = 0;
		break;
	}
	pthread_mutex_unlock(&r->mu);
	OPENSSL_cleanse(rnd, sizeof(rnd));
	if (ret)
		free(n);
	return ret;
}

bool rg_pg_cancel_lookup(struct rg_pg_cancel_reg *r, uint32_t pid, const uint8_t *key,
			 size_t key_len, struct rg_pg_cancel_entry *out)
{
	struct node *n;
	bool ok = false;

	if (key_len != 4)
		return false;
	pthread_mutex_lock(&r->mu);
	n = find(r, pid, key);
	if (n) {
		out->pid = n->pid;
		memcpy(out->key, n->key, 4);
		out->target = n->target;
		out->sess_id = n->sess_id;
		out->worker = n->worker;
		out->held_only = n->held_only;
		out->be_pid = n->be_pid;
		out->be_key_len = n->be_key_len;
		memcpy(out->be_key, n->be_key, n->be_key_len);
		out->be_addrlen = n->be_addrlen;
		memcpy(&out->be_addr, n->be_key + n->be_key_len, n->be_addrlen);
		ok = true;
	}
	pthread_mutex_unlock(&r->mu);
	return ok;
}

void rg_pg_cancel_set_held_only(struct rg_pg_cancel_reg *r, uint32_t pid, const uint8_t *key,
				bool held_only)
{
	struct node *n;

	pthread_mutex_lock(&r->mu);
	n = find(r, pid, key);
	if (n)
		n->held_only = held_only;
	pthread_mutex_unlock(&r->mu);
}

void rg_pg_cancel_unregister(struct rg_pg_cancel_reg *r, uint32_t pid, const uint8_t *key)
{
	struct node **pp, *n;

	pthread_mutex_lock(&r->mu);
	for (pp = &r->b[pid % NBUCKETS]; (n = *pp); pp = &n->next) {
		if (n->pid == pid && memcmp(n->key, key, 4) == 0) {
			*pp = n->next;
			r->count--;
			node_free(n);
			break;
		}
	}
	pthread_mutex_unlock(&r->mu);
}

size_t rg_pg_cancel_count(struct rg_pg_cancel_reg *r)
{
	size_t n;

	pthread_mutex_lock(&r->mu);
	n = r->count;
	pthread_mutex_unlock(&r->mu);
	return n;
}
