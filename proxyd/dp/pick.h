/* Peer pick policies (g3proxy §1.12 "selective pick policy"): choose one of
 * n weighted nodes (proxy_addr peers, route_select next escapers, ...).
 *
 *   random      weighted random
 *   serial      in list order, each node weight times in a row, then the next
 *   round_robin smooth weighted round robin (interleaved: 5,1,1 → a a b a c a a)
 *   ketama      consistent hash ring, 4096 points per average weight
 *   rendezvous  weighted highest random weight (score = -w / ln(h))
 *   jump_hash   jump consistent hash over the weight-expanded bucket list
 *
 * The hash policies pick by a 64-bit key the caller builds from the task
 * (pick_key_*() below; g3 hashes client ip [, user], target host). A node's
 * identity for ketama and rendezvous is its id string (e.g. "1.2.3.4:3128"
 * or an escaper name), so the client → node mapping stays the same when
 * the list is reordered, and adding a node moves only the keys the new
 * node takes. jump_hash is index based: appending a node keeps the others'
 * keys.
 *
 * Every table (cumulative weights, schedule, ring) is built once in
 * pick_set_new(); pick_select() never allocates and may run on any thread
 * at the same time (the rr / serial position is an atomic counter). */
#ifndef G3C_PROXYD_DP_PICK_H
#define G3C_PROXYD_DP_PICK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/util.h"
#include "proxyd/config.h"

#define PICK_MAX_NODES 4096u	 /* nodes per set */
#define PICK_SCHEDULE_MAX 4096u	 /* rr / serial / jump_hash slots */
#define PICK_KETAMA_POINTS 4096u /* ring points per node of average weight */
#define PICK_KETAMA_MAX 262144u	 /* ring points in all */

struct pick_node {
	const char *id; /* borrowed during pick_set_new() only; not NULL */
	double weight;	/* >= 0; 0 = never picked */
};

struct pick_set;

/* Build a set over nodes[0..n) (the ids are hashed, not kept). Returns 0
 * with *out owned (pick_set_free), -EINVAL (n == 0 or > PICK_MAX_NODES, a
 * negative or non-finite weight, no positive weight) or -ENOMEM. */
int pick_set_new(enum pick_policy policy, const struct pick_node *nodes, size_t n,
		 struct pick_set **out) MUST_CHECK;
void pick_set_free(struct pick_set *s);

/* The same with the set's memory from alloc(arg, n) (zeroed, NULL on
 * failure), e.g. the config arena: the set then lives as long as that
 * memory and pick_set_free() leaves it alone. Temporary work memory still
 * comes from malloc and is freed before returning. */
typedef void *pick_alloc_fn(void *arg, size_t n);
int pick_set_new_with(enum pick_policy policy, const struct pick_node *nodes, size_t n,
		      pick_alloc_fn *alloc, void *arg, struct pick_set **out) MUST_CHECK;

/* Number of nodes and policy of the set. */
size_t pick_set_size(const struct pick_set *s);
enum pick_policy pick_set_policy(const struct pick_set *s);

/* True for ketama, rendezvous and jump_hash (the key matters). */
bool pick_policy_is_hash(enum pick_policy p);

/* Pick a node index in [0, n). key is the task's hash for the hash
 * policies, a random number for random (dp_rand()), ignored by rr and
 * serial. Never fails, never returns a zero-weight node. */
size_t pick_select(struct pick_set *s, uint64_t key);

/* Jump consistent hash of key over buckets (0 when buckets is 0):
 * [0, buckets). */
size_t pick_jump_hash(uint64_t key, size_t buckets);

/* Incremental 64-bit key hash (FNV-1a with a final avalanche). */
uint64_t pick_hash_init(void);
uint64_t pick_hash_bytes(uint64_t h, const void *p, size_t n);
uint64_t pick_hash_final(uint64_t h);

/* g3's key for proxy peers: client ip [, user], target host. client may be
 * NULL, user NULL or "" (left out). */
uint64_t pick_key_client_user_host(const struct sockaddr *client, const char *user,
				   const char *host);

/* The policy's config spelling ("random", "rr", ...), for logs and show. */
const char *pick_policy_name(enum pick_policy p);

#endif
