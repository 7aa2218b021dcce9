/* Peer pick policies: tables built at config load, picks without memory. */
#include "proxyd/dp/pick.h"

#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* weights are scaled to this many slots unless they are small integers */
#define PICK_SCALE_BASE 1024.0

struct ketama_point {
	uint32_t h;
	uint32_t node;
};

struct pick_set {
	enum pick_policy policy;
	size_t n;
	double total;
	double *cum;	 /* random: cumulative weights */
	double *weight;	 /* rendezvous */
	uint64_t *id_h;	 /* rendezvous: hash of each node's id */
	uint32_t *sched; /* rr / serial / jump_hash: node per slot */
	size_t n_sched;
	struct ketama_point *ring; /* ketama, sorted by h */
	size_t n_ring;
	atomic_size_t pos; /* rr / serial position */
	bool external;	   /* memory from a caller's allocator */
};

static void *heap_alloc(void *arg, size_t n)
{
	(void)arg;
	return calloc(1, n ? n : 1);
}

uint64_t pick_hash_init(void)
{
	return 0xcbf29ce484222325ull;
}

uint64_t pick_hash_bytes(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* splitmix64 finaliser: FNV's low bits alone are poorly mixed */
static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

uint64_t pick_hash_final(uint64_t h)
{
	return mix64(h);
}

static uint64_t hash_str(const char *s)
{
	return pick_hash_final(pick_hash_bytes(pick_hash_init(), s, strlen(s)));
}

uint64_t pick_key_client_user_host(const struct sockaddr *client, const char *user,
				   const char *host)
{
	uint64_t h = pick_hash_init();

	if (client != NULL && client->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)client;
		h = pick_hash_bytes(h, &s4->sin_addr, sizeof(s4->sin_addr));
	} else if (client != NULL && client->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)client;
		h = pick_hash_bytes(h, &s6->sin6_addr, sizeof(s6->sin6_addr));
	}
	h = pick_hash_bytes(h, "-", 1);
	if (user != NULL && user[0] != '\0') {
		h = pick_hash_bytes(h, user, strlen(user));
		h = pick_hash_bytes(h, "-", 1);
	}
	if (host != NULL)
		h = pick_hash_bytes(h, host, strlen(host));
	return pick_hash_final(h);
}

bool pick_policy_is_hash(enum pick_policy p)
{
	return p == PICK_KETAMA || p == PICK_RENDEZVOUS || p == PICK_JUMP_HASH;
}

const char *pick_policy_name(enum pick_policy p)
{
	switch (p) {
	case PICK_RANDOM:
		return "random";
	case PICK_SERIAL:
		return "serial";
	case PICK_ROUND_ROBIN:
		return "round_robin";
	case PICK_KETAMA:
		return "ketama";
	case PICK_RENDEZVOUS:
		return "rendezvous";
	case PICK_JUMP_HASH:
		return "jump_hash";
	}
	return "?";
}

/* Integer slots per node: the weights themselves when they are small
 * integers, else scaled to PICK_SCALE_BASE in all (at least 1 for a
 * positive weight). */
static size_t slot_units(const struct pick_node *nodes, size_t n, double total, uint32_t *units)
{
	bool integral = total <= PICK_SCALE_BASE;
	size_t sum = 0;

	for (size_t i = 0; i < n && integral; i++)
		integral = floor(nodes[i].weight) == nodes[i].weight;
	for (size_t i = 0; i < n; i++) {
		double w = nodes[i].weight;
		uint32_t u = integral ? (uint32_t)w : (uint32_t)lround(w / total * PICK_SCALE_BASE);
		if (w > 0 && u == 0)
			u = 1;
		units[i] = u;
		sum += u;
	}
	return sum;
}

static int build_sched(struct pick_set *s, const struct pick_node *nodes, pick_alloc_fn *alloc,
		       void *arg)
{
	uint32_t *units = calloc(s->n, sizeof(*units));
	int64_t *cur = NULL;
	int rc = -ENOMEM;

	if (units == NULL)
		goto out;
	s->n_sched = slot_units(nodes, s->n, s->total, units);
	s->sched = alloc(arg, s->n_sched * sizeof(*s->sched));
	if (s->sched == NULL)
		goto out;
	if (s->policy != PICK_ROUND_ROBIN) {
		/* serial and jump_hash: each node's slots together, in list order */
		size_t k = 0;
		for (size_t i = 0; i < s->n; i++)
			for (uint32_t j = 0; j < units[i]; j++)
				s->sched[k++] = (uint32_t)i;
		rc = 0;
		goto out;
	}
	/* smooth weighted round robin: every turn each node gains its weight,
	 * the richest is picked and pays the total */
	cur = calloc(s->n, sizeof(*cur));
	if (cur == NULL)
		goto out;
	for (size_t k = 0; k < s->n_sched; k++) {
		size_t best = 0;
		for (size_t i = 0; i < s->n; i++) {
			cur[i] += units[i];
			if (units[i] > 0 && (units[best] == 0 || cur[i] > cur[best]))
				best = i;
		}
		cur[best] -= (int64_t)s->n_sched;
		s->sched[k] = (uint32_t)best;
	}
	rc = 0;
out:
	free(units);
	free(cur);
	return rc;
}

static int ring_cmp(const void *a, const void *b)
{
	const struct ketama_point *x = a, *y = b;

	if (x->h != y->h)
		return x->h < y->h ? -1 : 1;
	return x->node < y->node ? -1 : x->node > y->node;
}

static int build_ring(struct pick_set *s, const struct pick_node *nodes, pick_alloc_fn *alloc,
		      void *arg)
{
	size_t positive = 0, want = 0, k = 0;
	double per;

	for (size_t i = 0; i < s->n; i++)
		positive += nodes[i].weight > 0;
	per = (double)PICK_KETAMA_POINTS * (double)positive / s->total;
	for (size_t i = 0; i < s->n; i++)
		if (nodes[i].weight > 0)
			want += (size_t)fmax(1.0, round(nodes[i].weight * per));
	if (want > PICK_KETAMA_MAX)
		per *= (double)PICK_KETAMA_MAX / (double)want;
	want = 0;
	for (size_t i = 0; i < s->n; i++)
		if (nodes[i].weight > 0)
			want += (size_t)fmax(1.0, round(nodes[i].weight * per));
	s->ring = alloc(arg, want * sizeof(*s->ring));
	if (s->ring == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++) {
		size_t pts;
		uint64_t base;

		if (nodes[i].weight <= 0)
			continue;
		pts = (size_t)fmax(1.0, round(nodes[i].weight * per));
		base = pick_hash_bytes(pick_hash_init(), nodes[i].id, strlen(nodes[i].id));
		for (size_t j = 0; j < pts && k < want; j++) {
			char num[24];
			int len = snprintf(num, sizeof(num), "#%zu", j);
			s->ring[k].h = (uint32_t)(pick_hash_final(pick_hash_bytes(base, num,
										  (size_t)len)) >>
						  32);
			s->ring[k].node = (uint32_t)i;
			k++;
		}
	}
	s->n_ring = k;
	qsort(s->ring, s->n_ring, sizeof(*s->ring), ring_cmp);
	return 0;
}

int pick_set_new(enum pick_policy policy, const struct pick_node *nodes, size_t n,
		 struct pick_set **out)
{
	return pick_set_new_with(policy, nodes, n, heap_alloc, NULL, out);
}

int pick_set_new_with(enum pick_policy policy, const struct pick_node *nodes, size_t n,
		      pick_alloc_fn *alloc, void *arg, struct pick_set **out)
{
	struct pick_set *s = NULL;
	double acc = 0;
	int rc = -EINVAL;

	*out = NULL;
	if (n == 0 || n > PICK_MAX_NODES)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(nodes[i].weight) || nodes[i].weight < 0 || nodes[i].id == NULL)
			goto out;
		acc += nodes[i].weight;
	}
	if (!(acc > 0) || !isfinite(acc))
		goto out;
	rc = -ENOMEM;
	s = alloc(arg, sizeof(*s));
	if (s == NULL)
		goto out;
	s->external = alloc != heap_alloc;
	s->policy = policy;
	s->n = n;
	s->total = acc;
	atomic_init(&s->pos, 0);
	switch (policy) {
	case PICK_RANDOM:
		s->cum = alloc(arg, n * sizeof(*s->cum));
		if (s->cum == NULL)
			goto out;
		acc = 0;
		for (size_t i = 0; i < n; i++) {
			acc += nodes[i].weight;
			s->cum[i] = acc;
		}
		break;
	case PICK_SERIAL:
	case PICK_ROUND_ROBIN:
	case PICK_JUMP_HASH:
		if (build_sched(s, nodes, alloc, arg) != 0)
			goto out;
		break;
	case PICK_KETAMA:
		if (build_ring(s, nodes, alloc, arg) != 0)
			goto out;
		break;
	case PICK_RENDEZVOUS:
		s->weight = alloc(arg, n * sizeof(*s->weight));
		s->id_h = alloc(arg, n * sizeof(*s->id_h));
		if (s->weight == NULL || s->id_h == NULL)
			goto out;
		for (size_t i = 0; i < n; i++) {
			s->weight[i] = nodes[i].weight;
			s->id_h[i] = hash_str(nodes[i].id);
		}
		break;
	default:
		rc = -EINVAL;
		goto out;
	}
	*out = s;
	s = NULL;
	rc = 0;
out:
	pick_set_free(s);
	return rc;
}

void pick_set_free(struct pick_set *s)
{
	if (s == NULL || s->external)
		return;
	free(s->cum);
	free(s->weight);
	free(s->id_h);
	free(s->sched);
	free(s->ring);
	free(s);
}

size_t pick_set_size(const struct pick_set *s)
{
	return s->n;
}

enum pick_policy pick_set_policy(const struct pick_set *s)
{
	return s->policy;
}

/* uniform double in (0, 1) from 53 bits of x */
static double unit_open(uint64_t x)
{
	return ((double)(x >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/* Lamping & Veach, "A Fast, Minimal Memory, Consistent Hash Algorithm" */
static size_t jump_hash(uint64_t key, size_t buckets)
{
	int64_t b = -1, j = 0;

	while (j < (int64_t)buckets) {
		b = j;
		key = key * 2862933555777941757ull + 1;
		j = (int64_t)((double)(b + 1) * ((double)(1ll << 31) / (double)((key >> 33) + 1)));
	}
	return (size_t)b;
}

size_t pick_jump_hash(uint64_t key, size_t buckets)
{
	return buckets == 0 ? 0 : jump_hash(key, buckets);
}

static size_t pick_random(const struct pick_set *s, uint64_t r)
{
	double x = unit_open(r) * s->total;
	size_t lo = 0, hi = s->n - 1;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->cum[mid] > x)
			hi = mid;
		else
			lo = mid + 1;
	}
	/* rounding at the top end: step back over trailing zero weights */
	while (lo > 0 && s->cum[lo] == s->cum[lo - 1])
		lo--;
	return lo;
}

static size_t pick_ketama(const struct pick_set *s, uint64_t key)
{
	size_t lo = 0, hi = s->n_ring;
	uint32_t h = (uint32_t)(mix64(key) >> 32);

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->ring[mid].h < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == s->n_ring)
		lo = 0;
	return s->ring[lo].node;
}

static size_t pick_rendezvous(const struct pick_set *s, uint64_t key)
{
	size_t best = 0;
	double best_score = -1;

	for (size_t i = 0; i < s->n; i++) {
		double score;

		if (s->weight[i] <= 0)
			continue;
		score = -s->weight[i] / log(unit_open(mix64(key ^ s->id_h[i])));
		if (score > best_score) {
			best_score = score;
			best = i;
		}
	}
	return best;
}

size_t pick_select(struct pick_set *s, uint64_t key)
{
	size_t k;

	if (s->n == 1)
		return 0;
	switch (s->policy) {
	case PICK_RANDOM:
		return pick_random(s, key);
	case PICK_SERIAL:
	case PICK_ROUND_ROBIN:
		k = atomic_fetch_add_explicit(&s->pos, 1, memory_order_relaxed);
		return s->sched[k % s->n_sched];
	case PICK_JUMP_HASH:
		return s->sched[jump_hash(key, s->n_sched)];
	case PICK_KETAMA:
		return pick_ketama(s, key);
	case PICK_RENDEZVOUS:
		return pick_rendezvous(s, key);
	}
	return 0;
}
