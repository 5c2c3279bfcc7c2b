/* auth_cache.c - the cache of successful logins, one per process:
 * (user, password) pairs verified lately, keyed by HMAC-SHA256 under a
 * random key, never the password itself
 *
 * A ring of @max entries in the order they were put (the oldest goes
 * first), indexed by chains per bucket, the bucket chosen by the first
 * bytes of the entry's HMAC. Indexes, not pointers.
 */
#include "config.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "auth_int.h"

#define AUTH_NIL UINT32_MAX

struct auth_cache_ent {
	uint8_t mac[32];
	uint64_t expires;	/* ms; 0: the entry is free */
	uint32_t next;		/* next in the bucket's chain */
};

struct auth_cache {
	uint8_t key[32];
	uint64_t ttl_ms;
	uint32_t max, ring, mask;
	uint32_t *heads;
	struct auth_cache_ent *v;
};

int auth_cache_new(struct auth_cache **out, size_t max, int ttl_s)
{
	struct auth_cache *c;
	uint32_t nb = 1;

	*out = NULL;
	if (ttl_s < 0 || max > (1u << 24)) {
		errno = EINVAL;
		return -1;
	}
	c = calloc(1, sizeof *c);
	if (!c)
		return -1;
	if (gnutls_rnd(GNUTLS_RND_KEY, c->key, sizeof c->key) < 0) {
		free(c);
		errno = EIO;
		return -1;
	}
	c->ttl_ms = (uint64_t)ttl_s * 1000;
	if (max && ttl_s) {
		while (nb < max)
			nb <<= 1;
		c->heads = malloc(nb * sizeof *c->heads);
		c->v = calloc(max, sizeof *c->v);
		if (!c->heads || !c->v) {
			auth_cache_free(c);
			errno = ENOMEM;
			return -1;
		}
		memset(c->heads, 0xff, nb * sizeof *c->heads);
		c->max = (uint32_t)max;
		c->mask = nb - 1;
	}
	*out = c;
	return 0;
}

/** @brief HMAC-SHA256(key, user || 0 || pass) into @mac. */
static int auth_cache_mac(const struct auth_cache *c, const char *user,
			  const char *pass, uint8_t mac[32])
{
	char buf[AUTH_USER_MAX + 1 + AUTH_PASS_MAX];
	size_t ul = strnlen(user, AUTH_USER_MAX), pl = strnlen(pass, AUTH_PASS_MAX);
	int rc;

	if (ul >= AUTH_USER_MAX || pl >= AUTH_PASS_MAX)
		return -1;
	memcpy(buf, user, ul);
	buf[ul] = '\0';
	memcpy(buf + ul + 1, pass, pl);
	rc = gnutls_hmac_fast(GNUTLS_MAC_SHA256, c->key, sizeof c->key, buf,
			      ul + 1 + pl, mac);
	explicit_bzero(buf, sizeof buf);
	return rc < 0 ? -1 : 0;
}

/** @brief The bucket of @mac. */
static uint32_t auth_cache_bucket(const struct auth_cache *c,
				  const uint8_t mac[32])
{
	return ((uint32_t)mac[0] | (uint32_t)mac[1] << 8 |
		(uint32_t)mac[2] << 16 | (uint32_t)mac[3] << 24) & c->mask;
}

/** @brief The entry holding @mac, or AUTH_NIL; every entry of the chain
 *  is compared in full. */
static uint32_t auth_cache_find(const struct auth_cache *c,
				const uint8_t mac[32])
{
	uint32_t found = AUTH_NIL;

	for (uint32_t i = c->heads[auth_cache_bucket(c, mac)]; i != AUTH_NIL;
	     i = c->v[i].next)
		if (auth_ct_eq(c->v[i].mac, mac, 32))
			found = i;
	return found;
}

/** @brief Take entry @i out of its chain and free it. */
static void auth_cache_unlink(struct auth_cache *c, uint32_t i)
{
	uint32_t *p = &c->heads[auth_cache_bucket(c, c->v[i].mac)];

	while (*p != AUTH_NIL && *p != i)
		p = &c->v[*p].next;
	if (*p == i)
		*p = c->v[i].next;
	explicit_bzero(&c->v[i], sizeof c->v[i]);
}

int auth_cache_hit(struct auth_cache *c, const char *user, const char *pass,
		   uint64_t now_ms)
{
	uint8_t mac[32];
	uint32_t i;

	if (!c->max || auth_cache_mac(c, user, pass, mac) < 0)
		return 0;
	i = auth_cache_find(c, mac);
	explicit_bzero(mac, sizeof mac);
	return i != AUTH_NIL && now_ms < c->v[i].expires;
}

void auth_cache_put(struct auth_cache *c, const char *user, const char *pass,
		    uint64_t now_ms)
{
	uint8_t mac[32];
	uint32_t i, b;

	if (!c->max || auth_cache_mac(c, user, pass, mac) < 0)
		return;
	i = auth_cache_find(c, mac);
	if (i != AUTH_NIL)	/* put again: it becomes the newest */
		auth_cache_unlink(c, i);
	i = c->ring;
	c->ring = (c->ring + 1) % c->max;
	if (c->v[i].expires)
		auth_cache_unlink(c, i);
	b = auth_cache_bucket(c, mac);
	memcpy(c->v[i].mac, mac, sizeof mac);
	c->v[i].expires = now_ms + c->ttl_ms;
	c->v[i].next = c->heads[b];
	c->heads[b] = i;
	explicit_bzero(mac, sizeof mac);
}

void auth_cache_free(struct auth_cache *c)
{
	if (!c)
		return;
	if (c->v)
		explicit_bzero(c->v, c->max * sizeof *c->v);
	free(c->v);
	free(c->heads);
	explicit_bzero(c, sizeof *c);
	free(c);
}
