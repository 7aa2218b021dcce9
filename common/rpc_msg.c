/* rpc messages: envelope access, the per-request arena, and the one
 * decode -> handle -> encode step shared by the server socket loop and
 * rpc_dispatch_buffer (tests, fuzzers). */
#include "common/rpc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rpc_int.h"
#include "proto/rpc.pb-c.h"

const char *rpc_code_name(enum rpc_code code)
{
	switch (code) {
	case RPC_OK:
		return "OK";
	case RPC_INVALID_ARGUMENT:
		return "INVALID_ARGUMENT";
	case RPC_NOT_FOUND:
		return "NOT_FOUND";
	case RPC_UNAVAILABLE:
		return "UNAVAILABLE";
	case RPC_INTERNAL:
		return "INTERNAL";
	case RPC_UNIMPLEMENTED:
		return "UNIMPLEMENTED";
	case RPC_DEADLINE_EXCEEDED:
		return "DEADLINE_EXCEEDED";
	case RPC_FAILED_PRECONDITION:
		return "FAILED_PRECONDITION";
	case RPC_MALFORMED:
		return "MALFORMED";
	}
	return "UNKNOWN";
}

/* ---- envelope ----------------------------------------------------------- */

static size_t rpc_envelope_field(const ProtobufCMessageDescriptor *d, unsigned id,
				 ProtobufCType type, const ProtobufCMessageDescriptor *sub)
{
	const ProtobufCFieldDescriptor *f;

	ASSERT(d != NULL && d->magic == PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC);
	f = protobuf_c_message_descriptor_get_field(d, id);
	ASSERT(f != NULL);
	ASSERT(f->type == type);
	ASSERT(f->label == PROTOBUF_C_LABEL_NONE);
	ASSERT((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) == 0);
	ASSERT(sub == NULL || f->descriptor == sub);
	return f->offset;
}

void rpc_envelope_init(struct rpc_envelope *env, const struct rpc_service *svc)
{
	ASSERT(svc != NULL);
	env->req_id_off = rpc_envelope_field(svc->req, 1, PROTOBUF_C_TYPE_UINT64, NULL);
	env->req_deadline_off = rpc_envelope_field(svc->req, 2, PROTOBUF_C_TYPE_UINT32, NULL);
	env->rep_id_off = rpc_envelope_field(svc->rep, 1, PROTOBUF_C_TYPE_UINT64, NULL);
	env->rep_status_off = rpc_envelope_field(svc->rep, 2, PROTOBUF_C_TYPE_MESSAGE,
						 &g3c__rpc__status__descriptor);
}

/* ---- buffers and arena -------------------------------------------------- */

void rpc_buf_reserve(struct rpc_buf *b, size_t cap)
{
	if (b->cap >= cap)
		return;
	b->p = xrealloc(b->p, cap);
	b->cap = cap;
}

void rpc_buf_fini(struct rpc_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

#define RPC_ARENA_MAGIC 0x61726e61u
#define RPC_ARENA_CHUNK 16384u
#define RPC_ARENA_ALIGN _Alignof(max_align_t)

struct rpc_arena_chunk {
	struct rpc_arena_chunk *next;
	size_t size;
	size_t used;
	max_align_t data[];
};

struct rpc_arena {
	uint32_t magic;
	struct rpc_arena_chunk *head; /* current chunk; older ones follow */
	struct rpc_arena_chunk *first;
	char *errmsg;
	ProtobufCAllocator pa;
	/* Set by the server around a handler call (rpc_defer may then take
	 * the arena over); cleared by rpc_arena_reset. */
	bool can_defer;
	struct rpc_deferred *deferred;
};

static struct rpc_arena_chunk *rpc_arena_chunk_new(size_t size)
{
	struct rpc_arena_chunk *c = xmalloc(sizeof(*c) + size);

	c->next = NULL;
	c->size = size;
	c->used = 0;
	return c;
}

/* Not zeroed: protobuf-c initialises what it allocates. */
static void *rpc_arena_raw(struct rpc_arena *a, size_t n)
{
	struct rpc_arena_chunk *c = a->head;
	void *p;

	ASSERT(n <= SIZE_MAX / 2);
	n = (n + RPC_ARENA_ALIGN - 1) & ~(RPC_ARENA_ALIGN - 1);
	if (c->size - c->used < n) {
		size_t sz = MAX(n, MIN(c->size * 2, (size_t)1 << 20));
		c = rpc_arena_chunk_new(MAX(sz, (size_t)RPC_ARENA_CHUNK));
		c->next = a->head;
		a->head = c;
	}
	p = (char *)c->data + c->used;
	c->used += n;
	return p;
}

static void *rpc_arena_pb_alloc(void *data, size_t n)
{
	return rpc_arena_raw(data, n);
}

static void rpc_arena_pb_free(void *data UNUSED, void *p UNUSED)
{
}

struct rpc_arena *rpc_arena_new(void)
{
	struct rpc_arena *a = xcalloc(1, sizeof(*a));

	a->magic = RPC_ARENA_MAGIC;
	a->first = a->head = rpc_arena_chunk_new(RPC_ARENA_CHUNK);
	a->pa.alloc = rpc_arena_pb_alloc;
	a->pa.free = rpc_arena_pb_free;
	a->pa.allocator_data = a;
	return a;
}

void rpc_arena_reset(struct rpc_arena *a)
{
	CHECK_OBJ(a, RPC_ARENA_MAGIC);
	while (a->head != a->first) {
		struct rpc_arena_chunk *next = a->head->next;
		free(a->head);
		a->head = next;
	}
	a->first->used = 0;
	a->errmsg = NULL;
	a->can_defer = false;
	a->deferred = NULL;
}

void rpc_arena_free(struct rpc_arena *a)
{
	if (!a)
		return;
	rpc_arena_reset(a);
	free(a->first);
	POISON_OBJ(a);
	free(a);
}

ProtobufCAllocator *rpc_arena_allocator(struct rpc_arena *a)
{
	CHECK_OBJ(a, RPC_ARENA_MAGIC);
	return &a->pa;
}

const char *rpc_arena_error(const struct rpc_arena *a)
{
	CHECK_OBJ(a, RPC_ARENA_MAGIC);
	return a->errmsg;
}

void *rpc_arena_alloc(struct rpc_arena *a, size_t n)
{
	void *p;

	CHECK_OBJ(a, RPC_ARENA_MAGIC);
	p = rpc_arena_raw(a, n);
	memset(p, 0, n);
	return p;
}

char *rpc_arena_strdup(struct rpc_arena *a, const char *s)
{
	size_t n = strlen(s) + 1;
	char *p;

	CHECK_OBJ(a, RPC_ARENA_MAGIC);
	p = rpc_arena_raw(a, n);
	memcpy(p, s, n);
	return p;
}

static char *rpc_arena_vprintf(struct rpc_arena *a, const char *fmt, va_list ap) PRINTF_FMT(2, 0);

static char *rpc_arena_vprintf(struct rpc_arena *a, const char *fmt, va_list ap)
{
	va_list ap2;
	char *p;
	int n;

	CHECK_OBJ(a, RPC_ARENA_MAGIC);
	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		n = 0;
	p = rpc_arena_raw(a, (size_t)n + 1);
	if (vsnprintf(p, (size_t)n + 1, fmt, ap) < 0)
		p[0] = '\0';
	return p;
}

char *rpc_arena_printf(struct rpc_arena *a, const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = rpc_arena_vprintf(a, fmt, ap);
	va_end(ap);
	return p;
}

void rpc_arena_set_error(struct rpc_arena *a, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	a->errmsg = rpc_arena_vprintf(a, fmt, ap);
	va_end(ap);
}

/* ---- wire scan ---------------------------------------------------------- */

static bool rpc_wire_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *v)
{
	uint64_t r = 0;

	for (unsigned i = 0; i < 10; i++) {
		if (*pos >= len)
			return false;
		uint8_t b = p[(*pos)++];
		r |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			*v = r;
			return true;
		}
	}
	return false;
}

bool rpc_wire_find_id(const uint8_t *p, size_t len, uint64_t *id)
{
	size_t pos = 0;
	uint64_t found = 0;

	while (pos < len) {
		uint64_t tag, v;

		if (!rpc_wire_varint(p, len, &pos, &tag))
			break;
		switch (tag & 7) {
		case 0: /* varint */
			if (!rpc_wire_varint(p, len, &pos, &v))
				goto out;
			if ((tag >> 3) == 1)
				found = v;
			break;
		case 1: /* 64-bit */
			if (len - pos < 8)
				goto out;
			pos += 8;
			break;
		case 2: /* length-delimited */
			if (!rpc_wire_varint(p, len, &pos, &v) || v > len - pos)
				goto out;
			pos += (size_t)v;
			break;
		case 5: /* 32-bit */
			if (len - pos < 4)
				goto out;
			pos += 4;
			break;
		default: /* groups and invalid wire types */
			goto out;
		}
	}
out:
	*id = found;
	return found != 0;
}

/* ---- handling ----------------------------------------------------------- */

static void rpc_set_envelope(const struct rpc_envelope *env, struct rpc_arena *a,
			     ProtobufCMessage *rep, uint64_t id, enum rpc_code code,
			     const char *msg)
{
	G3c__Rpc__Status *st = rpc_arena_alloc(a, sizeof(*st));

	g3c__rpc__status__init(st);
	st->code = (G3c__Rpc__Code)code;
	st->message = (char *)(msg ? msg : "");
	*RPC_FIELD(rep, env->rep_id_off, uint64_t) = id;
	*RPC_FIELD(rep, env->rep_status_off, G3c__Rpc__Status *) = st;
}

static ProtobufCMessage *rpc_new_reply(const struct rpc_service *svc, struct rpc_arena *a)
{
	ProtobufCMessage *rep = rpc_arena_alloc(a, svc->rep->sizeof_message);

	protobuf_c_message_init(svc->rep, rep);
	return rep;
}

static void rpc_pack(const ProtobufCMessage *rep, size_t size, struct rpc_buf *out)
{
	rpc_buf_reserve(out, size ? size : 1);
	out->len = protobuf_c_message_pack(rep, out->p);
	ASSERT(out->len == size);
}

/* A reply carrying only the envelope: id and a status. */
static void rpc_pack_status(const struct rpc_service *svc, const struct rpc_envelope *env,
			    struct rpc_arena *a, uint64_t id, enum rpc_code code, const char *msg,
			    struct rpc_buf *out)
{
	ProtobufCMessage *rep = rpc_new_reply(svc, a);

	rpc_set_envelope(env, a, rep, id, code, msg);
	rpc_pack(rep, protobuf_c_message_get_packed_size(rep), out);
}

void rpc_pack_reply(const struct rpc_service *svc, const struct rpc_envelope *env,
		    struct rpc_arena *a, ProtobufCMessage *rep, uint64_t id, enum rpc_code code,
		    struct rpc_buf *out)
{
	size_t size;

	rpc_set_envelope(env, a, rep, id, code, code == RPC_OK ? NULL : rpc_arena_error(a));
	size = protobuf_c_message_get_packed_size(rep);
	if (size > RPC_MAX_MSG) {
		const char *m = rpc_arena_printf(a, "reply too large (%zu bytes)", size);
		rpc_pack_status(svc, env, a, id, RPC_INTERNAL, m, out);
		return;
	}
	rpc_pack(rep, size, out);
}

void rpc_arena_allow_defer(struct rpc_arena *a)
{
	CHECK_OBJ(a, RPC_ARENA_MAGIC);
	a->can_defer = true;
}

struct rpc_deferred *rpc_defer(struct rpc_arena *a)
{
	CHECK_OBJ(a, RPC_ARENA_MAGIC);
	if (!a->can_defer)
		return NULL;
	if (!a->deferred) {
		a->deferred = xcalloc(1, sizeof(*a->deferred));
		a->deferred->magic = RPC_DEFERRED_MAGIC;
		a->deferred->arena = a;
	}
	return a->deferred;
}

struct rpc_arena *rpc_deferred_arena(struct rpc_deferred *d)
{
	CHECK_OBJ(d, RPC_DEFERRED_MAGIC);
	return d->arena;
}

int rpc_handle_packed(const struct rpc_service *svc, const struct rpc_envelope *env,
		      rpc_handler_fn *fn, void *ctx, struct rpc_arena *a, const uint8_t *req,
		      size_t len, struct rpc_buf *out, bool *malformed)
{
	ProtobufCMessage *msg = NULL, *rep;
	enum rpc_code code;
	uint64_t id = 0;
	int ret = 0;

	*malformed = false;
	out->len = 0;
	if (len <= RPC_MAX_MSG)
		msg = protobuf_c_message_unpack(svc->req, rpc_arena_allocator(a), len, req);
	if (!msg) {
		*malformed = true;
		if (!rpc_wire_find_id(req, len, &id)) {
			ret = -EBADMSG;
			goto out;
		}
		rpc_pack_status(svc, env, a, id, RPC_MALFORMED,
				len > RPC_MAX_MSG ? "request too large" : "cannot decode request",
				out);
		goto out;
	}

	id = *RPC_FIELD(msg, env->req_id_off, uint64_t);
	rep = rpc_new_reply(svc, a);
	code = fn(ctx, msg, rep, a);
	if (a->deferred) {
		/* The handler answers later: the arena (holding rep) is the
		 * deferred reply's now, so it is not reset here. */
		a->deferred->id = id;
		a->deferred->rep = rep;
		return 1;
	}
	rpc_pack_reply(svc, env, a, rep, id, code, out);
out:
	/* msg and rep live in the arena: nothing to free one by one. */
	rpc_arena_reset(a);
	return ret;
}

int rpc_dispatch_buffer(const struct rpc_service *svc, rpc_handler_fn *fn, void *ctx,
			const uint8_t *req, size_t len, uint8_t **out, size_t *outlen)
{
	struct rpc_envelope env;
	struct rpc_arena *a = rpc_arena_new();
	struct rpc_buf buf = {0};
	bool malformed;
	int ret;

	ASSERT(fn != NULL && out != NULL && outlen != NULL);
	rpc_envelope_init(&env, svc);
	*out = NULL;
	*outlen = 0;
	ret = rpc_handle_packed(svc, &env, fn, ctx, a, req ? req : (const uint8_t *)"", len, &buf,
				&malformed);
	if (ret == 0) {
		*out = buf.p;
		*outlen = buf.len;
		buf.p = NULL;
	}
	rpc_buf_fini(&buf);
	rpc_arena_free(a);
	return ret;
}
