/*
 * Credential store: the target's real password, read once from a protected file or from an
 * environment variable, kept in one heap buffer and cleansed (OPENSSL_cleanse) on free.
 * A password file is refused unless it is a regular file (no symlink), owned by our
 * effective uid, without any group/other permission bits. rg_auth_open_protected is that
 * check, also applied (without the read bits) to jwks_file, whose writer mints identities.
 * rg_auth_env_scrub removes a password_env variable from the process once read.
 * Each credential also remembers a few SCRAM salted passwords (see rg_auth_cred_salted_get)
 * so that logins to the same target do not redo PBKDF2; they are wiped with the secret. Error messages name the file and
 * the rule broken; they never contain any byte of the secret.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "auth_int.h"

#define MAX_SECRET RG_AUTH_CRED_MAX

/*
 * One remembered SCRAM SaltedPassword := Hi(password, salt, i), keyed by SHA-256(salt) and
 * i. Read without a lock, as a seqlock: seq is odd while a writer (under cache_mu) fills
 * the slot; a reader that sees seq change, or odd, treats the slot as a miss. Every field
 * is an atomic so the racing reads are defined behaviour, not merely harmless.
 */
struct salt_slot {
	atomic_uint seq;
	atomic_uint iter;		/* 0: empty */
	atomic_uint_fast64_t key[4];	/* SHA-256 of the salt */
	atomic_uint_fast64_t val[4];	/* SaltedPassword */
};

struct rg_auth_cred {
	pthread_mutex_t cache_mu;	/* writers of slots[] only */
	unsigned cache_next;		/* round-robin victim; under cache_mu */
	struct salt_slot slots[RG_AUTH_CRED_SALT_CACHE];
	size_t len;
	char secret[];	/* NUL-terminated */
};

int rg_auth_cred_from_mem(const char *secret, size_t len, struct rg_auth_cred **out)
{
	struct rg_auth_cred *c;

	*out = NULL;
	if (len == 0 || len > MAX_SECRET)
		return -EINVAL;
	c = calloc(1, sizeof(*c) + len + 1);
	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->cache_mu, NULL);
	c->len = len;
	memcpy(c->secret, secret, len);
	c->secret[len] = '\0';
	*out = c;
	return 0;
}

int rg_auth_open_protected(const char *path, const char *what, unsigned forbidden, int *fdp,
			   struct stat *st, char *err, size_t errlen)
{
	int fd, ret;

	*fdp = -1;
	/* O_NONBLOCK: a FIFO planted at path must not hang startup before S_ISREG says no. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ELOOP)
			return rg_auth_errf(err, errlen, -EPERM, "%s %s is a symlink (refused)",
					    what, path);
		return rg_auth_errf(err, errlen, -errno, "%s %s: %s", what, path,
				    strerror(errno));
	}
	if (fstat(fd, st) != 0) {
		ret = rg_auth_errf(err, errlen, -errno, "%s %s: %s", what, path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st->st_mode)) {
		ret = rg_auth_errf(err, errlen, -EPERM, "%s %s is not a regular file", what, path);
		goto fail;
	}
	if (st->st_uid != geteuid()) {
		ret = rg_auth_errf(err, errlen, -EPERM,
				   "%s %s is owned by uid %u, not by us (uid %u)", what, path,
				   (unsigned)st->st_uid, (unsigned)geteuid());
		goto fail;
	}
	if (st->st_mode & forbidden) {
		ret = rg_auth_errf(err, errlen, -EPERM,
				   "%s %s has mode %04o: group/other may %s it (chmod %s)", what,
				   path, (unsigned)(st->st_mode & 07777),
				   (forbidden & 044) ? "access" : "write",
				   (forbidden & 044) ? "600" : "go-w");
		goto fail;
	}
	*fdp = fd;
	return 0;
fail:
	close(fd);
	return ret;
}

int rg_auth_cred_from_file(const char *path, struct rg_auth_cred **out, char *err, size_t errlen)
{
	char buf[MAX_SECRET + 2];
	struct stat st;
	size_t n = 0;
	int fd, ret;

	*out = NULL;
	ret = rg_auth_open_protected(path, "password file", 077, &fd, &st, err, errlen);
	if (ret)
		return ret;
	while (n < sizeof(buf)) {
		ssize_t r = read(fd, buf + n, sizeof(buf) - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = rg_auth_errf(err, errlen, -errno, "password file %s: %s", path,
					   strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	/* One trailing newline is an editor's, not the password's. */
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	if (n == 0) {
		ret = rg_auth_errf(err, errlen, -EINVAL, "password file %s is empty", path);
		goto out;
	}
	if (n > MAX_SECRET) {
		ret = rg_auth_errf(err, errlen, -EINVAL,
				   "password file %s holds more than %d bytes", path, MAX_SECRET);
		goto out;
	}
	if (memchr(buf, '\0', n)) {
		ret = rg_auth_errf(err, errlen, -EINVAL, "password file %s contains a NUL byte",
				   path);
		goto out;
	}
	ret = rg_auth_cred_from_mem(buf, n, out);
	if (ret)
		rg_auth_errf(err, errlen, ret, "out of memory");
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	close(fd);
	return ret;
}

int rg_auth_cred_from_env(const char *name, struct rg_auth_cred **out, char *err, size_t errlen)
{
	const char *v = getenv(name);
	int ret;

	*out = NULL;
	if (!v)
		return rg_auth_errf(err, errlen, -ENOENT, "environment variable %s is not set",
				    name);
	if (!*v)
		return rg_auth_errf(err, errlen, -EINVAL, "environment variable %s is empty",
				    name);
	if (strlen(v) > MAX_SECRET)
		return rg_auth_errf(err, errlen, -EINVAL,
				    "environment variable %s holds more than %d bytes", name,
				    MAX_SECRET);
	ret = rg_auth_cred_from_mem(v, strlen(v), out);
	if (ret)
		rg_auth_errf(err, errlen, ret, "out of memory");
	return ret;
}

void rg_auth_env_scrub(const char *name)
{
	extern char **environ;
	size_t n = strlen(name);

	/* The value bytes first, wherever they live: for a variable inherited at exec that is
	 * the initial environment block, which /proc/PID/environ shows and unsetenv does not
	 * touch (it only drops the pointer). Every entry: environ may hold a name twice. */
	for (char **e = environ; e && *e; e++)
		if (!strncmp(*e, name, n) && (*e)[n] == '=')
			OPENSSL_cleanse(*e + n + 1, strlen(*e + n + 1));
	unsetenv(name);
}

const char *rg_auth_cred_secret(const struct rg_auth_cred *c, size_t *len)
{
	if (len)
		*len = c->len;
	return c->secret;
}

void rg_auth_cred_free(struct rg_auth_cred *c)
{
	if (!c)
		return;
	OPENSSL_cleanse(c->secret, c->len);
	/* Salted passwords log in as well as the password does: same fate. */
	OPENSSL_cleanse(c->slots, sizeof(c->slots));
	pthread_mutex_destroy(&c->cache_mu);
	free(c);
}

bool rg_auth_cred_salted_get(const struct rg_auth_cred *cc, const uint8_t key[32], uint32_t iter,
			     uint8_t out[32])
{
	/* The cache is internal mutable state of an otherwise immutable credential. */
	struct rg_auth_cred *c = (struct rg_auth_cred *)cc;
	uint64_t k[4], v[4];
	bool hit = false;

	for (size_t i = 0; !hit && i < RG_AUTH_CRED_SALT_CACHE; i++) {
		struct salt_slot *sl = &c->slots[i];
		unsigned s1 = atomic_load_explicit(&sl->seq, memory_order_acquire);

		if ((s1 & 1) || atomic_load_explicit(&sl->iter, memory_order_relaxed) != iter)
			continue;
		for (int j = 0; j < 4; j++) {
			k[j] = atomic_load_explicit(&sl->key[j], memory_order_relaxed);
			v[j] = atomic_load_explicit(&sl->val[j], memory_order_relaxed);
		}
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&sl->seq, memory_order_relaxed) != s1 ||
		    atomic_load_explicit(&sl->iter, memory_order_relaxed) != iter)
			continue; /* a writer was here: a miss costs one PBKDF2, nothing else */
		if (CRYPTO_memcmp(k, key, 32) == 0) {
			memcpy(out, v, 32);
			hit = true;
		}
	}
	OPENSSL_cleanse(v, sizeof(v));
	return hit;
}

void rg_auth_cred_salted_put(const struct rg_auth_cred *cc, const uint8_t key[32], uint32_t iter,
			     const uint8_t val[32])
{
	struct rg_auth_cred *c = (struct rg_auth_cred *)cc;
	struct salt_slot *sl;
	uint64_t k[4], v[4];
	unsigned seq;

	memcpy(k, key, 32);
	memcpy(v, val, 32);
	pthread_mutex_lock(&c->cache_mu);
	sl = &c->slots[c->cache_next++ % RG_AUTH_CRED_SALT_CACHE];
	seq = atomic_load_explicit(&sl->seq, memory_order_relaxed);
	atomic_store_explicit(&sl->seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&sl->iter, iter, memory_order_relaxed);
	for (int j = 0; j < 4; j++) {
		atomic_store_explicit(&sl->key[j], k[j], memory_order_relaxed);
		atomic_store_explicit(&sl->val[j], v[j], memory_order_relaxed);
	}
	atomic_store_explicit(&sl->seq, seq + 2, memory_order_release);
	pthread_mutex_unlock(&c->cache_mu);
	OPENSSL_cleanse(v, sizeof(v));
}

ssize_t rg_auth_cleartext_response(const struct rg_auth_cred *c, char *out, size_t cap)
{
	if (c->len + 1 > cap)
		return -ENOSPC;
	memcpy(out, c->secret, c->len + 1);
	return (ssize_t)c->len;
}
