/* c-ares and deny_all resolvers with a per-worker cache (see resolver.h). */
#include "proxyd/dp/resolver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/sock.h"
#include "proxyd/dp/resolver_int.h"

int dp_resolver_library_init(void)
{
	int rc = ares_library_init(ARES_LIB_INIT_ALL);

	return rc == ARES_SUCCESS ? 0 : -ENOMEM;
}

/* ---- libev glue ------------------------------------------------------------ */

static void res_update_timer(struct dp_resolver *r)
{
	struct timeval tv, *tp;

	if (!r->usable)
		return;
	tp = ares_timeout(r->ch, NULL, &tv);
	ev_timer_stop(r->loop, &r->timer);
	if (tp != NULL) {
		ev_timer_set(&r->timer, (double)tp->tv_sec + (double)tp->tv_usec / 1e6, 0.);
		ev_timer_start(r->loop, &r->timer);
	}
}

static void res_on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ares_watch *aw = container_of(w, struct ares_watch, io);
	struct dp_resolver *r = aw->r;
	int fd = aw->fd; /* aw may go during ares_process_fd */

	(void)loop;
	CHECK_OBJ(r, RESOLVER_MAGIC);
	r->wk->resolver_depth++;
	ares_process_fd(r->ch, (revents & EV_READ) ? fd : ARES_SOCKET_BAD,
			(revents & EV_WRITE) ? fd : ARES_SOCKET_BAD);
	res_update_timer(r);
	r->wk->resolver_depth--;
}

static void res_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct dp_resolver *r = container_of(w, struct dp_resolver, timer);

	(void)loop;
	(void)revents;
	CHECK_OBJ(r, RESOLVER_MAGIC);
	r->wk->resolver_depth++;
	ares_process_fd(r->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	res_update_timer(r);
	r->wk->resolver_depth--;
}

/* c-ares opens, watches and closes its sockets through this callback. */
static void res_on_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct dp_resolver *r = data;
	struct ares_watch **pp = &r->watches, *aw;
	int ev = (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0);

	while (*pp != NULL && (*pp)->fd != fd)
		pp = &(*pp)->next;
	aw = *pp;
	if (ev == 0) {
		if (aw != NULL) {
			ev_io_stop(r->loop, &aw->io);
			*pp = aw->next;
			free(aw);
		}
		return;
	}
	if (aw == NULL) {
		aw = calloc(1, sizeof(*aw));
		if (aw == NULL) {
			log_err("resolver %s: out of memory for a socket watcher", r->rc->name);
			return; /* c-ares times the query out */
		}
		aw->r = r;
		aw->fd = fd;
		ev_io_init(&aw->io, res_on_io, fd, ev);
		aw->next = r->watches;
		r->watches = aw;
	}
	ev_io_stop(r->loop, &aw->io);
	ev_io_set(&aw->io, fd, ev);
	ev_io_start(r->loop, &aw->io);
}

/* ---- setup ------------------------------------------------------------------- */

static void res_setup(struct dp_resolver *r)
{
	const struct resolver_conf *rc = r->rc;
	struct ares_options o;
	int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
	int rv;

	memset(&o, 0, sizeof(o));
	o.sock_state_cb = res_on_sock_state;
	o.sock_state_cb_data = r;
	o.timeout = (int)rc->each_timeout_ms;
	o.tries = (int)rc->each_tries;
	if (rc->round_robin)
		mask |= ARES_OPT_ROTATE;
	if (rc->socket_send_buffer_size) {
		o.socket_send_buffer_size = (int)rc->socket_send_buffer_size;
		mask |= ARES_OPT_SOCK_SNDBUF;
	}
	if (rc->socket_recv_buffer_size) {
		o.socket_receive_buffer_size = (int)rc->socket_recv_buffer_size;
		mask |= ARES_OPT_SOCK_RCVBUF;
	}
	rv = ares_init_options(&r->ch, &o, mask);
	if (rv != ARES_SUCCESS) {
		log_err("resolver %s: c-ares setup failed: %s", rc->name, ares_strerror(rv));
		return;
	}
	if (rc->n_servers > 0) {
		struct ares_addr_port_node nodes[MAX_SERVERS];
		size_t n = MIN(rc->n_servers, (size_t)MAX_SERVERS);

		memset(nodes, 0, sizeof(nodes));
		for (size_t i = 0; i < n; i++) {
			const struct conf_hostport *hp = &rc->servers[i];
			const struct sockaddr *sa = (const struct sockaddr *)&hp->addr;

			nodes[i].next = i + 1 < n ? &nodes[i + 1] : NULL;
			nodes[i].family = sa->sa_family;
			if (sa->sa_family == AF_INET)
				memcpy(&nodes[i].addr.addr4,
				       &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
				       4);
			else
				memcpy(&nodes[i].addr.addr6,
				       &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
				       16);
			nodes[i].udp_port = hp->port;
			nodes[i].tcp_port = hp->port;
		}
		rv = ares_set_servers_ports(r->ch, nodes);
		if (rv != ARES_SUCCESS) {
			log_err("resolver %s: cannot set the servers: %s", rc->name,
				ares_strerror(rv));
			ares_destroy(r->ch);
			return;
		}
	}
	if (rc->has_bind_ipv4) {
		const struct sockaddr_in *in = (const void *)&rc->bind_ipv4;
		ares_set_local_ip4(r->ch, ntohl(in->sin_addr.s_addr));
	}
	if (rc->has_bind_ipv6) {
		const struct sockaddr_in6 *in6 = (const void *)&rc->bind_ipv6;
		ares_set_local_ip6(r->ch, in6->sin6_addr.s6_addr);
	}
	r->usable = true;
}

struct dp_resolver *dp_resolver_get(struct dp_gen *g, const struct resolver_conf *rc)
{
	struct dp_resolver *r;

	for (r = g->resolvers; r != NULL; r = r->next)
		if (r->rc == rc)
			return r;
	r = xcalloc(1, sizeof(*r));
	r->magic = RESOLVER_MAGIC;
	r->rc = rc;
	r->loop = g->wk->loop;
	r->wk = g->wk;
	ev_init(&r->timer, res_on_timer);
	r->gen = g;
	if (rc != NULL && rc->type == RESOLVER_C_ARES)
		res_setup(r);
	if (rc != NULL && rc->type == RESOLVER_FAIL_OVER)
		r->usable = true; /* its lookups go to primary / standby */
	r->next = g->resolvers;
	g->resolvers = r;
	return r;
}

/* ---- cache --------------------------------------------------------------------- */

static uint32_t name_hash(const char *s, int family)
{
	uint32_t h = 2166136261u ^ (uint32_t)family;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static struct dp_rentry *entry_find(struct dp_resolver *r, const char *name, int family)
{
	struct dp_rentry *e = r->buckets[name_hash(name, family) & (RES_BUCKETS - 1)];

	for (; e != NULL; e = e->hnext)
		if (e->family == family && strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

static void entry_unlink(struct dp_resolver *r, struct dp_rentry *e)
{
	struct dp_rentry **pp = &r->buckets[name_hash(e->name, e->family) & (RES_BUCKETS - 1)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	if (e->older)
		e->older->newer = e->newer;
	else
		r->oldest = e->newer;
	if (e->newer)
		e->newer->older = e->older;
	else
		r->newest = e->older;
	r->count--;
}

static bool entry_evictable(const struct dp_rentry *e)
{
	return !e->querying && e->waiters == NULL && e->busy == 0;
}

/* Make room for one entry: the oldest vanished idle entry, else the
 * oldest idle one. */
static void cache_trim(struct dp_resolver *r)
{
	uint64_t now = util_mono_ns();
	struct dp_rentry *victim = NULL;

	if (r->count < DP_RES_CACHE_MAX)
		return;
	for (struct dp_rentry *e = r->oldest; e != NULL; e = e->newer) {
		if (!entry_evictable(e))
			continue;
		if (!e->has_data || now >= e->vanish_ns) {
			victim = e;
			break;
		}
		if (victim == NULL)
			victim = e;
	}
	if (victim != NULL) {
		entry_unlink(r, victim);
		free(victim);
	}
}

static struct dp_rentry *entry_new(struct dp_resolver *r, const char *name, int family)
{
	struct dp_rentry *e;
	uint32_t b = name_hash(name, family) & (RES_BUCKETS - 1);

	cache_trim(r);
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return NULL;
	e->r = r;
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->family = family;
	e->hnext = r->buckets[b];
	r->buckets[b] = e;
	e->older = r->newest;
	if (r->newest)
		r->newest->newer = e;
	else
		r->oldest = e;
	r->newest = e;
	r->count++;
	return e;
}

/* Expire / vanish times from an answer's TTL (g3's cache rules). */
static void entry_set_ttl(struct dp_rentry *e, uint32_t ttl)
{
	const struct resolver_conf *rc = e->r->rc;
	uint64_t now = util_mono_ns(), min = rc->positive_min_ttl, max = rc->positive_max_ttl;
	uint64_t expire, vanish;

	if (e->status != 0) {
		expire = vanish = rc->negative_min_ttl;
	} else if (ttl > max + min) {
		expire = max;
		vanish = ttl;
	} else if (ttl > 2 * min) {
		expire = ttl - min;
		vanish = ttl;
	} else if (ttl > min) {
		expire = min;
		vanish = ttl;
	} else {
		expire = min;
		vanish = min + 1;
	}
	e->expire_ns = now + expire * 1000000000ull;
	e->vanish_ns = now + vanish * 1000000000ull;
}

static void fill_result(const struct dp_rentry *e, struct dp_resolve_result *res, bool cached)
{
	res->status = e->status;
	res->n = e->n;
	res->addrs = e->addrs;
	res->cached = cached;
}

static int ares_to_errno(int st)
{
	switch (st) {
	case ARES_ENOTFOUND:
	case ARES_ENODATA:
		return -ENOENT;
	case ARES_ETIMEOUT:
		return -ETIMEDOUT;
	case ARES_EREFUSED:
	case ARES_ECONNREFUSED:
		return -ECONNREFUSED;
	default:
		return -EIO;
	}
}

/* g3's ResolveError type, subtype and text for a c-ares status. */
static void ares_error_kind(int st, const char **type, const char **sub, const char **msg)
{
	*type = "ServerError";
	switch (st) {
	case ARES_ENOTFOUND:
	case ARES_ENODATA:
		*sub = "NOTFOUND";
		*msg = "server error: server claims domain name not found";
		return;
	case ARES_ESERVFAIL:
		*sub = "SERVFAIL";
		*msg = "server error: server returned general failure";
		return;
	case ARES_EFORMERR:
		*sub = "FORMERR";
		*msg = "server error: server claims query was malformed";
		return;
	case ARES_ENOTIMP:
		*sub = "NOTIMP";
		*msg = "server error: server does not implement requested operation";
		return;
	case ARES_EREFUSED:
		*sub = "REFUSED";
		*msg = "server error: server refused query";
		return;
	default:
		break;
	}
	*type = "DriverError";
	switch (st) {
	case ARES_ETIMEOUT:
		*sub = "Timeout";
		*msg = "driver error: timeout while contacting server";
		return;
	case ARES_ECONNREFUSED:
		*sub = "ConnRefused";
		*msg = "driver error: connection refused by server";
		return;
	case ARES_EBADRESP:
		*sub = "BadResp";
		*msg = "driver error: malformed DNS reply";
		return;
	case ARES_EBADNAME:
		*sub = "BadName";
		*msg = "driver error: malformed domain name";
		return;
	default:
		*sub = "InternalError";
		*msg = "driver error: internal error";
	}
}

/* The resolve log (§3.9): errors only, g3's keys and order. */
static void resolve_log(struct dp_resolver *r, const struct dp_rentry *e, bool cached)
{
	struct logger *lg = r->wk->sh->resolve_log;
	const struct resolver_conf *rc = r->rc;
	const char *type, *sub, *msg;
	char servers[512] = "", b4[64] = "", b6[64] = "";
	size_t o = 0;
	struct log_rec rec;

	if (!logger_enabled(lg))
		return;
	ares_error_kind(e->ares_status, &type, &sub, &msg);
	for (size_t i = 0; i < rc->n_servers && o + SOCK_ADDR_STRLEN + 1 < sizeof(servers); i++) {
		int n;
		if (o > 0)
			servers[o++] = ' ';
		n = sock_addr_format((const struct sockaddr *)&rc->servers[i].addr, servers + o,
				     sizeof(servers) - o);
		if (n > 0)
			o += (size_t)n;
	}
	servers[o] = '\0';
	if (rc->has_bind_ipv4 &&
	    sock_ip_format((const struct sockaddr *)&rc->bind_ipv4, b4, sizeof(b4)) < 0)
		b4[0] = '\0';
	if (rc->has_bind_ipv6 &&
	    sock_ip_format((const struct sockaddr *)&rc->bind_ipv6, b6, sizeof(b6)) < 0)
		b6[0] = '\0';
	log_rec_init(&rec, lg);
	log_rec_str(&rec, "resolver_type", "c-ares");
	log_rec_str(&rec, "resolver_name", rc->name);
	log_rec_str(&rec, "bind_ipv4", b4[0] ? b4 : NULL);
	log_rec_str(&rec, "bind_ipv6", b6[0] ? b6 : NULL);
	log_rec_str(&rec, "server", servers);
	log_rec_str(&rec, "query_type", e->family == AF_INET ? "A" : "AAAA");
	log_rec_dur(&rec, "duration", cached ? 0 : util_mono_ns() - e->query_ns);
	log_rec_str(&rec, "rr_source", cached ? "cache" : "query");
	log_rec_str(&rec, "error_type", type);
	log_rec_str(&rec, "error_subtype", sub);
	log_rec_str(&rec, "domain", e->name);
	log_rec_emit(&rec, msg);
}

static void on_ares_answer(void *arg, int status, int timeouts, struct ares_addrinfo *ai)
{
	struct dp_rentry *e = arg;
	struct dp_resolver *r;
	uint32_t ttl = UINT32_MAX;

	(void)timeouts;
	if (status == ARES_EDESTRUCTION) {
		ares_freeaddrinfo(ai);
		return; /* the resolver is going away; nobody waits */
	}
	r = e->r;
	CHECK_OBJ(r, RESOLVER_MAGIC);
	e->querying = false;
	e->has_data = true;
	e->n = 0;
	e->status = status == ARES_SUCCESS ? 0 : ares_to_errno(status);
	e->ares_status = status;
	for (struct ares_addrinfo_node *nd = ai ? ai->nodes : NULL; nd != NULL; nd = nd->ai_next) {
		if (nd->ai_family != e->family || e->n >= DP_RES_MAX_ADDRS)
			continue;
		dp_addr_set(&e->addrs[e->n++], nd->ai_addr);
		if (nd->ai_ttl >= 0 && (uint32_t)nd->ai_ttl < ttl)
			ttl = (uint32_t)nd->ai_ttl;
	}
	if (e->status == 0 && e->n == 0) {
		e->status = -ENOENT;
		e->ares_status = ARES_ENODATA;
	}
	if (e->status != 0) {
		r->st.failures++;
		/* a name without records of this family is an answer, not an
		 * error worth a record (the other family may have some) */
		if (e->ares_status != ARES_ENODATA)
			resolve_log(r, e, false);
	}
	entry_set_ttl(e, ttl == UINT32_MAX ? 0 : ttl);
	ares_freeaddrinfo(ai);

	res_entry_deliver(e);
}

void res_entry_deliver(struct dp_rentry *e)
{
	struct dp_resolve_result res;

	fill_result(e, &res, false);
	e->busy++;
	while (e->waiters != NULL) {
		struct dp_resolve_req *rq = e->waiters;
		e->waiters = rq->next;
		if (e->waiters)
			e->waiters->prev = NULL;
		rq->next = rq->prev = NULL;
		rq->e = NULL;
		rq->cb(rq, &res);
	}
	e->busy--;
}

static void entry_query(struct dp_resolver *r, struct dp_rentry *e)
{
	struct ares_addrinfo_hints hints;

	if (r->rc->type == RESOLVER_FAIL_OVER) {
		r->st.sent++;
		e->busy++;
		res_fo_query(r, e);
		e->busy--;
		return;
	}

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = e->family;
	hints.ai_flags = ARES_AI_NOSORT;
	e->querying = true;
	e->query_ns = util_mono_ns();
	r->st.sent++;
	e->busy++;
	r->wk->resolver_depth++;
	/* may answer before returning (hosts file, some errors) */
	ares_getaddrinfo(r->ch, e->name, NULL, &hints, on_ares_answer, e);
	res_update_timer(r);
	r->wk->resolver_depth--;
	e->busy--;
}

int dp_resolve_start(struct dp_resolver *r, const char *host, int family, struct dp_resolve_req *rq,
		     dp_resolve_fn *cb, struct dp_resolve_result *res)
{
	char name[256] = "";
	struct dp_rentry *e;
	size_t len = strlen(host);
	uint64_t now;

	CHECK_OBJ(r, RESOLVER_MAGIC);
	ASSERT(rq->e == NULL);
	r->st.queries++;
	memset(res, 0, sizeof(*res));
	if (r->rc == NULL ||
	    (r->rc->type != RESOLVER_C_ARES && r->rc->type != RESOLVER_FAIL_OVER)) {
		res->status = -EACCES;
		r->st.failures++;
		return 1;
	}
	if (!r->usable || len == 0 || len >= sizeof(name)) {
		res->status = len == 0 || len >= sizeof(name) ? -ENOENT : -EIO;
		r->st.failures++;
		return 1;
	}
	for (size_t i = 0; i <= len; i++)
		name[i] = (char)((host[i] >= 'A' && host[i] <= 'Z') ? host[i] + 32 : host[i]);
	if (len > 1 && name[len - 1] == '.')
		name[len - 1] = '\0';

	now = util_mono_ns();
	e = entry_find(r, name, family);
	if (e != NULL && e->has_data && now < e->vanish_ns) {
		if (now >= e->expire_ns && !e->querying)
			entry_query(r, e); /* serve the old answer, refresh it */
		fill_result(e, res, true);
		r->st.cached++;
		if (e->status != 0 && e->ares_status != ARES_ENODATA)
			resolve_log(r, e, true);
		return 1;
	}
	if (e == NULL) {
		e = entry_new(r, name, family);
		if (e == NULL) {
			res->status = -EIO;
			return 1;
		}
	}
	if (!e->querying) {
		e->has_data = false;
		e->busy++;
		entry_query(r, e);
		e->busy--;
		if (!e->querying) { /* answered at once */
			fill_result(e, res, false);
			return 1;
		}
	}
	rq->cb = cb;
	rq->e = e;
	rq->prev = NULL;
	rq->next = e->waiters;
	if (e->waiters)
		e->waiters->prev = rq;
	e->waiters = rq;
	return 0;
}

void dp_resolve_cancel(struct dp_resolve_req *rq)
{
	struct dp_rentry *e = rq->e;

	if (e == NULL)
		return;
	if (rq->prev)
		rq->prev->next = rq->next;
	else
		e->waiters = rq->next;
	if (rq->next)
		rq->next->prev = rq->prev;
	rq->next = rq->prev = NULL;
	rq->e = NULL;
	/* the query goes on and its answer is cached for the next asker */
}

void dp_resolvers_carry(struct dp_gen *from, struct dp_gen *to)
{
	uint64_t now = util_mono_ns();

	for (struct dp_resolver *r = from->resolvers; r != NULL; r = r->next) {
		const struct resolver_conf *nrc;
		struct dp_resolver *nr;

		if (r->rc == NULL || r->count == 0)
			continue;
		nrc = proxyd_conf_resolver(to->conf, r->rc->name);
		if (nrc == NULL || !resolver_conf_same(r->rc, nrc))
			continue;
		nr = dp_resolver_get(to, nrc);
		for (const struct dp_rentry *e = r->oldest; e != NULL; e = e->newer) {
			struct dp_rentry *ne;

			/* a query in flight answers the old generation's askers */
			if (!e->has_data || e->querying || now >= e->vanish_ns ||
			    entry_find(nr, e->name, e->family) != NULL)
				continue;
			ne = entry_new(nr, e->name, e->family);
			if (ne == NULL)
				break;
			ne->has_data = true;
			ne->status = e->status;
			ne->ares_status = e->ares_status;
			ne->n = e->n;
			memcpy(ne->addrs, e->addrs, sizeof(ne->addrs));
			ne->query_ns = e->query_ns;
			ne->expire_ns = e->expire_ns;
			ne->vanish_ns = e->vanish_ns;
		}
	}
}

void dp_resolvers_free(struct dp_resolver *list)
{
	/* fail_over lookups wait on the entries of the others: stop them first */
	for (struct dp_resolver *r = list; r != NULL; r = r->next)
		if (r->rc != NULL && r->rc->type == RESOLVER_FAIL_OVER)
			res_fo_stop(r);
	while (list != NULL) {
		struct dp_resolver *r = list;
		list = r->next;
		if (r->usable) {
			ares_destroy(r->ch); /* answers come back with ARES_EDESTRUCTION */
			r->usable = false;
		}
		ev_timer_stop(r->loop, &r->timer);
		while (r->watches != NULL) {
			struct ares_watch *aw = r->watches;
			r->watches = aw->next;
			ev_io_stop(r->loop, &aw->io);
			free(aw);
		}
		for (struct dp_rentry *e = r->oldest, *nx; e != NULL; e = nx) {
			nx = e->newer;
			ASSERT(e->waiters == NULL);
			free(e);
		}
		POISON_OBJ(r);
		free(r);
	}
}

void dp_resolver_stats(const struct dp_resolver *r, struct dp_resolver_stats *out)
{
	*out = r->st;
	out->entries = r->count;
}
