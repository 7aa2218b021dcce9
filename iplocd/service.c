/* The iploc lookup handler (service.h). */
#include "iplocd/service.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "iplocd/fields.h"

#define IP_TEXT_MAX 64 /* longer than any IP literal */

const struct rpc_service iploc_rpc_service = {
	.name = "g3c.iploc",
	.req = &g3c__iploc__request__descriptor,
	.rep = &g3c__iploc__reply__descriptor,
};

void iploc_service_init(struct iploc_service *s)
{
	int ret;

	memset(s, 0, sizeof(*s));
	s->magic = IPLOC_SERVICE_MAGIC;
	s->ttl = IPLOC_DEFAULT_TTL;
	s->miss_ttl = IPLOC_DEFAULT_MISS_TTL;
	/* Durations in ns up to 18 minutes, within 1/64 of the value. */
	ret = hist_init(&s->latency, 5, 40);
	ASSERT(ret == 0); /* control-plane allocation */
}

void iploc_service_fini(struct iploc_service *s)
{
	if (!s || s->magic != IPLOC_SERVICE_MAGIC)
		return;
	for (int k = 0; k < IPLOC_DB__COUNT; k++) {
		iploc_db_unref(s->db[k]);
		s->db[k] = NULL;
	}
	hist_fini(&s->latency);
	POISON_OBJ(s);
}

void iploc_service_set_db(struct iploc_service *s, enum iploc_db_kind kind, struct iploc_db *db)
{
	struct iploc_db *old;

	CHECK_OBJ(s, IPLOC_SERVICE_MAGIC);
	ASSERT((unsigned)kind < IPLOC_DB__COUNT);
	old = s->db[kind];
	s->db[kind] = db ? iploc_db_ref(db) : NULL;
	iploc_db_unref(old);
}

int iploc_parse_ip(const char *text, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (!text || !text[0] || strnlen(text, IP_TEXT_MAX) >= IP_TEXT_MAX)
		return -EINVAL;
	if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, text, &sin6->sin6_addr) != 1)
		return -EINVAL;
	if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		struct in_addr v4;
		memcpy(&v4, &sin6->sin6_addr.s6_addr[12], 4);
		memset(ss, 0, sizeof(*ss));
		sin->sin_family = AF_INET;
		sin->sin_addr = v4;
		return 0;
	}
	sin6->sin6_family = AF_INET6;
	return 0;
}

static char *arena_strn(struct rpc_arena *a, const struct iploc_str *s)
{
	char *p;

	if (!s->len)
		return (char *)protobuf_c_empty_string;
	p = rpc_arena_alloc(a, s->len + 1);
	memcpy(p, s->p, s->len);
	return p;
}

/* Decimal digits of v (< 1000) at p; returns the end. */
static char *put_dec(char *p, unsigned v)
{
	if (v >= 100)
		*p++ = (char)('0' + v / 100);
	if (v >= 10)
		*p++ = (char)('0' + v / 10 % 10);
	*p++ = (char)('0' + v % 10);
	return p;
}

/* The network address of `ss` with `prefix` bits kept: into loc, in
 * binary and, when text_form, as CIDR text. IPv4 text is formatted by hand (the stdio path was a tenth of a lookup's time). */
static void set_network(G3c__Iploc__Location *loc, const struct sockaddr_storage *ss,
			unsigned prefix, struct rpc_arena *a, bool text_form)
{
	uint8_t addr[16];
	char text[INET6_ADDRSTRLEN + 8], *p = text;
	size_t len;

	if (ss->ss_family == AF_INET) {
		memcpy(addr, &((const struct sockaddr_in *)ss)->sin_addr, 4);
		len = 4;
	} else {
		memcpy(addr, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
		len = 16;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned bit = (unsigned)i * 8;
		if (bit >= prefix)
			addr[i] = 0;
		else if (bit + 8 > prefix)
			addr[i] &= (uint8_t)(0xffu << (8 - (prefix - bit)));
	}
	loc->network_addr.data = rpc_arena_alloc(a, len);
	memcpy(loc->network_addr.data, addr, len);
	loc->network_addr.len = len;
	loc->network_prefix = prefix;
	if (!text_form)
		return;
	if (len == 4) {
		for (int i = 0; i < 4; i++) {
			p = put_dec(p, addr[i]);
			*p++ = i < 3 ? '.' : '/';
		}
	} else {
		inet_ntop(AF_INET6, addr, text, INET6_ADDRSTRLEN);
		p = text + strlen(text);
		*p++ = '/';
	}
	p = put_dec(p, prefix);
	*p = '\0';
	loc->network = rpc_arena_alloc(a, (size_t)(p - text) + 1);
	memcpy(loc->network, text, (size_t)(p - text) + 1);
}

static const enum iploc_db_kind geo_order[] = {IPLOC_DB_COUNTRY, IPLOC_DB_CITY, IPLOC_DB_ISP,
					       IPLOC_DB_ASN};
static const enum iploc_db_kind net_order[] = {IPLOC_DB_ISP, IPLOC_DB_ASN, IPLOC_DB_CITY,
					       IPLOC_DB_COUNTRY};

static void fill(struct iploc_str *dst, const struct iploc_str *src)
{
	if (!dst->len)
		*dst = *src;
}

/* Look one parsed address up in every database and fill loc (the
 * `network` text too when text_form). */
static bool lookup_one(struct iploc_service *s, const struct sockaddr_storage *ss,
		       G3c__Iploc__Location *loc, struct rpc_arena *a, bool text_form)
{
	struct iploc_fields f[IPLOC_DB__COUNT], m;
	bool has[IPLOC_DB__COUNT] = {false};
	bool found = false;
	unsigned prefix = 0;

	memset(&m, 0, sizeof(m));
	for (int k = 0; k < IPLOC_DB__COUNT; k++) {
		struct iploc_db_hit hit;
		int ret;

		if (!s->db[k])
			continue;
		ret = iploc_db_lookup(s->db[k], (const struct sockaddr *)ss, &hit);
		if (ret == -EBADMSG) {
			s->stats.db_errors++;
			continue;
		}
		if (ret != 0)
			continue; /* this db says nothing about the family */
		prefix = MAX(prefix, hit.prefix);
		if (!hit.found)
			continue;
		found = true;
		has[k] = iploc_db_fields(s->db[k], &hit.entry, &f[k]);
	}
	for (size_t i = 0; i < ARRAY_SIZE(geo_order); i++) {
		const struct iploc_fields *x = &f[geo_order[i]];
		if (!has[geo_order[i]])
			continue;
		fill(&m.country, &x->country);
		fill(&m.continent, &x->continent);
	}
	for (size_t i = 0; i < ARRAY_SIZE(net_order); i++) {
		const struct iploc_fields *x = &f[net_order[i]];
		if (!has[net_order[i]])
			continue;
		if (!m.asn)
			m.asn = x->asn;
		fill(&m.as_org, &x->as_org);
		fill(&m.isp, &x->isp);
		fill(&m.domain, &x->domain);
	}
	set_network(loc, ss, prefix, a, text_form);
	loc->found = found;
	loc->ttl = found ? s->ttl : s->miss_ttl;
	loc->country = arena_strn(a, &m.country);
	loc->continent = arena_strn(a, &m.continent);
	loc->asn = m.asn;
	loc->as_org = arena_strn(a, &m.as_org);
	loc->isp_name = arena_strn(a, m.isp.len ? &m.isp : &m.as_org);
	loc->isp_domain = arena_strn(a, &m.domain);
	return found;
}

/* Quote at most 64 bytes of untrusted text for an error message. */
static void quote(char *out, size_t cap, const char *in)
{
	size_t o = 0;

	for (size_t i = 0; i < 64 && in[i] && o + 5 < cap; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
	}
	out[o] = '\0';
}

int iploc_addr_from_bytes(const uint8_t *p, size_t len, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (len == 4 || (len == 16 && IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)p))) {
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, p + len - 4, 4);
		return 0;
	}
	if (len != 16)
		return -EINVAL;
	sin6->sin6_family = AF_INET6;
	memcpy(&sin6->sin6_addr, p, 16);
	return 0;
}

enum rpc_code iploc_service_lookup(struct iploc_service *s, const G3c__Iploc__LookupReq *req,
				   G3c__Iploc__LookupRep *rep, struct rpc_arena *a, uint64_t *found,
				   uint64_t *misses)
{
	struct sockaddr_storage *addrs;
	uint64_t nfound = 0;
	size_t n;

	CHECK_OBJ(s, IPLOC_SERVICE_MAGIC);
	n = req ? req->n_ips + req->n_addrs : 0;
	if (n == 0) {
		rpc_arena_set_error(a, "no address to look up");
		return RPC_INVALID_ARGUMENT;
	}
	if (n > IPLOC_MAX_BATCH) {
		rpc_arena_set_error(a, "%zu addresses in one request (at most %u)", n,
				    IPLOC_MAX_BATCH);
		return RPC_INVALID_ARGUMENT;
	}
	/* Every address is checked before any is answered. */
	addrs = rpc_arena_alloc(a, n * sizeof(*addrs));
	for (size_t i = 0; i < req->n_ips; i++) {
		if (iploc_parse_ip(req->ips[i], &addrs[i]) != 0) {
			char q[300];
			quote(q, sizeof(q), req->ips[i] ? req->ips[i] : "");
			rpc_arena_set_error(a, "ips[%zu]: '%s' is not an IP address", i, q);
			return RPC_INVALID_ARGUMENT;
		}
	}
	for (size_t i = 0; i < req->n_addrs; i++) {
		if (iploc_addr_from_bytes(req->addrs[i].data, req->addrs[i].len,
					  &addrs[req->n_ips + i]) != 0) {
			rpc_arena_set_error(a,
					    "addrs[%zu]: %zu bytes is not an IP address (4 or 16)",
					    i, req->addrs[i].len);
			return RPC_INVALID_ARGUMENT;
		}
	}
	rep->answers = rpc_arena_alloc(a, n * sizeof(G3c__Iploc__Location *));
	rep->n_answers = n;
	for (size_t i = 0; i < n; i++) {
		G3c__Iploc__Location *loc = rpc_arena_alloc(a, sizeof(*loc));
		bool text = i < req->n_ips;

		g3c__iploc__location__init(loc);
		if (text)
			loc->ip = rpc_arena_strdup(a, req->ips[i]);
		if (lookup_one(s, &addrs[i], loc, a, text))
			nfound++;
		rep->answers[i] = loc;
	}
	if (found)
		*found = nfound;
	if (misses)
		*misses = n - nfound;
	return RPC_OK;
}

enum rpc_code iploc_handle(void *ctx, const ProtobufCMessage *req_, ProtobufCMessage *rep_,
			   struct rpc_arena *a)
{
	struct iploc_service *s = ctx;
	const G3c__Iploc__Request *req = (const G3c__Iploc__Request *)req_;
	G3c__Iploc__Reply *rep = (G3c__Iploc__Reply *)rep_;
	G3c__Iploc__LookupRep *lr;
	uint64_t t0 = util_mono_ns(), dt, found = 0, misses = 0;
	enum rpc_code code;

	CHECK_OBJ(s, IPLOC_SERVICE_MAGIC);
	s->stats.requests++;
	switch (req->body_case) {
	case G3C__IPLOC__REQUEST__BODY_LOOKUP:
		lr = rpc_arena_alloc(a, sizeof(*lr));
		g3c__iploc__lookup_rep__init(lr);
		code = iploc_service_lookup(s, req->lookup, lr, a, &found, &misses);
		if (code == RPC_OK) {
			rep->body_case = G3C__IPLOC__REPLY__BODY_LOOKUP;
			rep->lookup = lr;
		}
		break;
	default:
		/* A member this build does not know, or no member at all. */
		if (req->base.n_unknown_fields) {
			rpc_arena_set_error(a, "unknown request");
			code = RPC_UNIMPLEMENTED;
		} else {
			rpc_arena_set_error(a, "empty request");
			code = RPC_INVALID_ARGUMENT;
		}
		break;
	}
	if (code != RPC_OK)
		s->stats.invalid++;
	s->stats.answers += found + misses;
	s->stats.found += found;
	s->stats.misses += misses;
	dt = util_mono_ns() - t0;
	s->stats.latency_ns += dt;
	s->stats.latency_max = MAX(s->stats.latency_max, dt);
	hist_record(&s->latency, dt);
	return code;
}
