/* route-agent: the answer table of the example route_query agent and its
 * RPC handler (proto/routeq.proto). The table is loaded from a YAML or
 * JSON file:
 *
 *   listen: ipc:///run/g3c/route-agent.rpc   # required: nanomsg URL
 *   ttl: 60                                  # seconds per answer (default 60)
 *   routes:                                  # host → next escapers
 *     example.net: [a]                       # exact host (case-insensitive)
 *     "*.example.org": [{name: b, weight: 2}, c]   # the domain and below
 *     "*": []                                # anything else (absent: [])
 *
 * A route's value is a list of names or {name, weight} maps. The most
 * specific rule wins: the exact host, then the longest "*." parent, then
 * "*". An empty answer tells proxyd to use its fallback_node. */
#ifndef G3C_TOOLS_ROUTE_AGENT_H
#define G3C_TOOLS_ROUTE_AGENT_H

#include <stddef.h>
#include <stdint.h>

#include "common/conf.h"
#include "common/rpc.h"

#define ROUTE_AGENT_MAGIC 0x72616774u /* "ragt" */

struct agent_node {
	const char *name;
	uint32_t weight;
};

struct agent_route {
	const char *key; /* lower case host, "*.domain" or "*" */
	struct agent_node *nodes;
	size_t n;
};

struct agent {
	uint32_t magic;
	const char *listen;
	uint32_t ttl;
	struct agent_route *routes;
	size_t n_routes;
	uint64_t queries;
};

extern const struct rpc_service route_agent_service;

/* Parse the config in ctx's tree into a (strings in ctx's arena). Returns 0
 * or -EINVAL with errors recorded in ctx. */
int agent_load(struct conf_ctx *ctx, const struct conf_node *root, struct agent *a) MUST_CHECK;

/* The route for host (NULL when none matches). */
const struct agent_route *agent_lookup(const struct agent *a, const char *host);

/* rpc_handler_fn for route_agent_service; ctx is the struct agent. */
enum rpc_code agent_handle(void *ctx, const ProtobufCMessage *req, ProtobufCMessage *rep,
			   struct rpc_arena *ar);

#endif
