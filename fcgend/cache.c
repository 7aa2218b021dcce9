/* Chained hash table plus a doubly linked LRU list (see cache.h). Each
 * entry is one allocation holding its key, leaf and private key bytes; the
 * private key is wiped when the entry goes. */
#include "fcgend/cache.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#define CERT_CACHE_MAGIC 0x63636368u /* "ccch" */

struct entry {
	struct entry *hnext;	   /* bucket chain */
	struct entry *prev, *next; /* LRU: head is the most recent */
	uint64_t hash;
	uint64_t expire_ms;
	uint64_t ttl_until_ms;
	size_t klen, leaf_len, key_len;
	uint8_t data[]; /* key | leaf | private key */
};

struct cert_cache {
	uint32_t magic;
	struct entry **buckets;
	size_t nbuckets; /* power of two */
	struct entry *head, *tail;
	size_t n, max;
	uint64_t seed;
	struct cert_cache_stats st;
};

/* FNV-1a over the key, started from a per-cache random seed and finished
 * with a 64-bit mixer so bucket indexes use well-spread low bits. */
static uint64_t hash_key(uint64_t seed, const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull ^ seed;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

static size_t buckets_for(size_t max)
{
	size_t n = 16;

	while (n < max && n < ((size_t)1 << 24))
		n <<= 1;
	return n;
}

static void lru_unlink(struct cert_cache *c, struct entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void lru_push_front(struct cert_cache *c, struct entry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	c->head = e;
	if (!c->tail)
		c->tail = e;
}

static void entry_free(struct entry *e)
{
	OPENSSL_cleanse(e->data + e->klen + e->leaf_len, e->key_len);
	free(e);
}

static void remove_entry(struct cert_cache *c, struct entry *e)
{
	struct entry **pp = &c->buckets[e->hash & (c->nbuckets - 1)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	lru_unlink(c, e);
	c->n--;
	entry_free(e);
}

static struct entry *find(struct cert_cache *c, uint64_t h, const void *key, size_t klen)
{
	for (struct entry *e = c->buckets[h & (c->nbuckets - 1)]; e; e = e->hnext)
		if (e->hash == h && e->klen == klen && memcmp(e->data, key, klen) == 0)
			return e;
	return NULL;
}

struct cert_cache *cert_cache_new(size_t max_entries)
{
	struct cert_cache *c = xcalloc(1, sizeof(*c));

	c->magic = CERT_CACHE_MAGIC;
	c->max = MIN(max_entries, (size_t)CERT_CACHE_MAX_ENTRIES);
	c->nbuckets = buckets_for(c->max);
	c->buckets = xcalloc(c->nbuckets, sizeof(struct entry *));
	if (RAND_bytes((unsigned char *)&c->seed, sizeof(c->seed)) != 1)
		c->seed = util_mono_ns();
	return c;
}

void cert_cache_clear(struct cert_cache *c)
{
	CHECK_OBJ(c, CERT_CACHE_MAGIC);
	for (struct entry *e = c->head, *next; e; e = next) {
		next = e->next;
		entry_free(e);
	}
	memset(c->buckets, 0, c->nbuckets * sizeof(struct entry *));
	c->head = c->tail = NULL;
	c->n = 0;
}

void cert_cache_free(struct cert_cache *c)
{
	if (!c)
		return;
	cert_cache_clear(c);
	free(c->buckets);
	POISON_OBJ(c);
	free(c);
}

bool cert_cache_get(struct cert_cache *c, const void *key, size_t klen, uint64_t now_ms,
		    struct cached_cert *out)
{
	struct entry *e;
	uint64_t h;

	CHECK_OBJ(c, CERT_CACHE_MAGIC);
	if (c->max == 0) {
		c->st.misses++;
		return false;
	}
	h = hash_key(c->seed, key, klen);
	e = find(c, h, key, klen);
	if (e && e->expire_ms <= now_ms) {
		remove_entry(c, e);
		c->st.expired++;
		e = NULL;
	}
	if (!e) {
		c->st.misses++;
		return false;
	}
	if (c->head != e) {
		lru_unlink(c, e);
		lru_push_front(c, e);
	}
	c->st.hits++;
	out->leaf = e->data + e->klen;
	out->leaf_len = e->leaf_len;
	out->key = e->data + e->klen + e->leaf_len;
	out->key_len = e->key_len;
	out->ttl_until_ms = e->ttl_until_ms;
	return true;
}

static void evict_to(struct cert_cache *c, size_t limit)
{
	while (c->n > limit && c->tail) {
		ASSERT(c->tail->next == NULL);
		remove_entry(c, c->tail);
		c->st.evicted++;
	}
}

void cert_cache_put(struct cert_cache *c, const void *key, size_t klen,
		    const struct cached_cert *val, uint64_t expire_ms)
{
	struct entry *e, *old;
	uint64_t h;

	CHECK_OBJ(c, CERT_CACHE_MAGIC);
	if (c->max == 0)
		return;
	h = hash_key(c->seed, key, klen);
	old = find(c, h, key, klen);
	if (old)
		remove_entry(c, old);
	evict_to(c, c->max - 1);
	e = xmalloc(sizeof(*e) + klen + val->leaf_len + val->key_len);
	e->hash = h;
	e->expire_ms = expire_ms;
	e->ttl_until_ms = val->ttl_until_ms;
	e->klen = klen;
	e->leaf_len = val->leaf_len;
	e->key_len = val->key_len;
	memcpy(e->data, key, klen);
	memcpy(e->data + klen, val->leaf, val->leaf_len);
	memcpy(e->data + klen + val->leaf_len, val->key, val->key_len);
	e->hnext = c->buckets[h & (c->nbuckets - 1)];
	c->buckets[h & (c->nbuckets - 1)] = e;
	lru_push_front(c, e);
	c->n++;
	c->st.inserted++;
}

void cert_cache_set_max(struct cert_cache *c, size_t max_entries)
{
	size_t nb;

	CHECK_OBJ(c, CERT_CACHE_MAGIC);
	max_entries = MIN(max_entries, (size_t)CERT_CACHE_MAX_ENTRIES);
	evict_to(c, max_entries);
	c->max = max_entries;
	nb = buckets_for(max_entries);
	if (nb == c->nbuckets)
		return;
	/* Rehash into a table sized for the new bound. */
	struct entry **b = xcalloc(nb, sizeof(struct entry *));
	for (struct entry *e = c->head; e; e = e->next) {
		e->hnext = b[e->hash & (nb - 1)];
		b[e->hash & (nb - 1)] = e;
	}
	free(c->buckets);
	c->buckets = b;
	c->nbuckets = nb;
}

void cert_cache_get_stats(const struct cert_cache *c, struct cert_cache_stats *out)
{
	CHECK_OBJ(c, CERT_CACHE_MAGIC);
	*out = c->st;
	out->entries = c->n;
	out->max_entries = c->max;
}
