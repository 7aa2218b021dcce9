/* The `redis` user source (a g3c addition): HGETALL <key> on the main loop
 * through hiredis' async API and its libev adapter, every refresh_interval.
 * Each field is a username and its value that user's JSON (the schema of a
 * static user; a missing "name" is the field). A user whose JSON is bad is
 * skipped with a log line naming it; the others load. Connection failures,
 * error replies and timeouts keep the last good users, are logged and
 * counted, and the connection is retried with a doubling backoff.
 *
 * hiredis 0.14 has no timeouts of its own: connect and response timeouts
 * are ev_timers here; on expiry the context is freed and retried. The
 * host is resolved by hiredis with getaddrinfo() (use an IP literal to keep
 * the main loop from ever waiting on DNS). */
#include "proxyd/user_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <hiredis/adapters/libev.h>

#include "common/log.h"

#define USER_REDIS_MAGIC 0x75726473u /* "urds" */
#define BACKOFF_MIN_MS 200
#define BACKOFF_MAX_MS 10000

struct user_redis {
	struct user_source base;
	uint32_t magic;
	struct ev_loop *loop;
	/* copied from the config: it may be freed before this source */
	char *host, *username, *password, *key;
	int port;
	uint32_t db;
	uint64_t refresh_ms, connect_timeout_ms, response_timeout_ms;
	redisAsyncContext *ac; /* NULL while disconnected */
	bool connected, inflight;
	unsigned backoff_ms;
	ev_timer refresh; /* repeating: refresh_interval */
	ev_timer retry;	  /* one shot: reconnect after backoff */
	ev_timer guard;	  /* one shot: connect or response timeout */
	/* hashes of the (user, value) pairs skipped by the last load: a pair
	 * skipped again is logged at debug level, not at every refresh */
	uint64_t *skip_seen;
	size_t n_skip_seen;
};

static void redis_connect(struct user_redis *r);

static const char *gname(const struct user_redis *r)
{
	return r->base.g->name;
}

/* Drop the connection (if any) and schedule a reconnect. */
static void redis_fail(struct user_redis *r)
{
	redisAsyncContext *ac = r->ac;

	user_group_source_failed(r->base.g);
	r->ac = NULL;
	r->connected = false;
	r->inflight = false;
	ev_timer_stop(r->loop, &r->guard);
	if (ac != NULL)
		redisAsyncFree(ac); /* pending callbacks see r->ac != ac */
	if (!ev_is_active(&r->retry)) {
		ev_timer_set(&r->retry, (double)r->backoff_ms / 1000.0, 0.0);
		ev_timer_start(r->loop, &r->retry);
		r->backoff_ms =
			r->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : r->backoff_ms * 2;
	}
}

/* hiredis calls fail from inside its own callbacks: free the context from
 * the loop instead (a zero timer), never from within. */
static void redis_fail_deferred(struct user_redis *r)
{
	ev_timer_stop(r->loop, &r->guard);
	ev_timer_set(&r->guard, 0.0, 0.0);
	ev_timer_start(r->loop, &r->guard);
	r->inflight = false;
	r->connected = false; /* the guard then fails the connection */
	r->guard.data = (void *)1;
}

/* A growable byte string for the cache text. */
struct sbuf {
	char *data;
	size_t len, cap;
};

static void sb_add(struct sbuf *b, const char *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->data = xrealloc(b->data, b->cap);
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static void json_escape(struct sbuf *out, const char *s, size_t len)
{
	sb_str(out, "\"");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[8];
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			sb_add(out, esc, 2);
		} else if (c < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			sb_add(out, esc, 6);
		} else {
			sb_add(out, (const char *)&c, 1);
		}
	}
	sb_str(out, "\"");
}

/* Append user JSON `v` to the cache array, with "name" added when the
 * object has none. */
static void cache_add(struct sbuf *out, const char *user, const char *v, size_t len, bool named)
{
	const char *brace = memchr(v, '{', len);

	if (out->len > 1)
		sb_str(out, ",\n");
	if (named || brace == NULL) {
		sb_add(out, v, len);
		return;
	}
	size_t rest = len - (size_t)(brace + 1 - v);
	const char *p = brace + 1;
	size_t k = 0;
	while (k < rest && (p[k] == ' ' || p[k] == '\t' || p[k] == '\n' || p[k] == '\r'))
		k++;
	sb_str(out, "{\"name\": ");
	json_escape(out, user, strlen(user));
	if (k < rest && p[k] != '}')
		sb_str(out, ", ");
	sb_add(out, p, rest);
}

static uint64_t fnv1a(uint64_t h, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static bool skip_seen_before(const struct user_redis *r, uint64_t h)
{
	for (size_t i = 0; i < r->n_skip_seen; i++)
		if (r->skip_seen[i] == h)
			return true;
	return false;
}

static void redis_on_hgetall(redisAsyncContext *ac, void *reply_, void *priv)
{
	struct user_redis *r = priv;
	redisReply *reply = reply_;
	struct user_batch *b;
	struct sbuf cache = {NULL, 0, 0};
	size_t skipped = 0;
	uint64_t *seen;
	bool news = false;

	CHECK_OBJ(r, USER_REDIS_MAGIC);
	if (reply == NULL || r->ac != ac)
		return; /* freed or disconnected: handled there */
	r->inflight = false;
	ev_timer_stop(r->loop, &r->guard);
	if (reply->type == REDIS_REPLY_ERROR) {
		log_err("user group %s: redis HGETALL %s: %s; keeping the last good users",
			gname(r), r->key, reply->str);
		user_group_source_failed(r->base.g);
		return;
	}
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements % 2 != 0) {
		log_err("user group %s: redis HGETALL %s: unexpected reply type %d", gname(r),
			r->key, reply->type);
		user_group_source_failed(r->base.g);
		return;
	}
	b = user_batch_new();
	seen = xcalloc(reply->elements / 2 + 1, sizeof(uint64_t));
	sb_str(&cache, "[");
	for (size_t i = 0; i + 1 < reply->elements; i += 2) {
		const redisReply *f = reply->element[i], *v = reply->element[i + 1];
		char *errs = NULL, *user, *label = NULL;
		bool named = false;
		if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
			continue;
		uint64_t h = fnv1a(fnv1a(0xcbf29ce484222325ull, f->str, f->len), v->str, v->len);
		enum log_level lvl = skip_seen_before(r, h) ? LOG_LVL_DEBUG : LOG_LVL_ERR;
		user = xmalloc(f->len + 1);
		memcpy(user, f->str, f->len);
		user[f->len] = '\0';
		if (asprintf(&label, "redis:%s/%s", r->key, user) < 0)
			ASSERT(!"asprintf");
		if (strlen(user) != f->len || f->len == 0 || f->len > 255) {
			log_at(lvl, "user group %s: redis user '%s' skipped: bad username",
			       gname(r), user);
			news |= lvl == LOG_LVL_ERR;
			seen[skipped++] = h;
		} else if (user_batch_add_json_named(b, label, user, v->str, v->len, &named,
						     &errs) != 0) {
			log_at(lvl, "user group %s: redis user '%s' skipped:\n%s", gname(r), user,
			       errs);
			news |= lvl == LOG_LVL_ERR;
			seen[skipped++] = h;
		} else {
			cache_add(&cache, user, v->str, v->len, named);
		}
		free(errs);
		free(label);
		free(user);
	}
	sb_str(&cache, "]\n");
	free(r->skip_seen);
	r->skip_seen = seen;
	r->n_skip_seen = skipped;
	r->base.g->skipped_users += skipped;
	if (r->base.g->loads == 0 || news)
		log_info("user group %s: %zu users from redis %s:%d key %s (%zu skipped)", gname(r),
			 b->n, r->host, r->port, r->key, skipped);
	else
		log_debug("user group %s: %zu users from redis", gname(r), b->n);
	user_group_source_loaded(r->base.g, b, cache.data, cache.len);
	free(cache.data);
}

static void redis_fetch(struct user_redis *r)
{
	if (r->ac == NULL || r->inflight)
		return;
	if (redisAsyncCommand(r->ac, redis_on_hgetall, r, "HGETALL %s", r->key) != REDIS_OK) {
		log_err("user group %s: redis: cannot send HGETALL: %s", gname(r), r->ac->errstr);
		redis_fail(r);
		return;
	}
	r->inflight = true;
	if (r->connected) {
		ev_timer_stop(r->loop, &r->guard);
		ev_timer_set(&r->guard, (double)r->response_timeout_ms / 1000.0, 0.0);
		ev_timer_start(r->loop, &r->guard);
	}
}

/* AUTH / SELECT replies: an error drops the connection. */
static void redis_on_setup(redisAsyncContext *ac, void *reply_, void *priv)
{
	struct user_redis *r = priv;
	redisReply *reply = reply_;

	CHECK_OBJ(r, USER_REDIS_MAGIC);
	if (reply == NULL || r->ac != ac)
		return;
	if (reply->type == REDIS_REPLY_ERROR) {
		log_err("user group %s: redis %s:%d: %s", gname(r), r->host, r->port, reply->str);
		redis_fail_deferred(r);
	}
}

static void redis_on_connect(const redisAsyncContext *ac, int status)
{
	struct user_redis *r = ac->data;

	CHECK_OBJ(r, USER_REDIS_MAGIC);
	if (r->ac != ac)
		return;
	if (status != REDIS_OK) {
		log_err("user group %s: redis %s:%d: cannot connect: %s; keeping the last good "
			"users",
			gname(r), r->host, r->port, ac->errstr);
		r->ac = NULL; /* hiredis frees it after this callback */
		redis_fail(r);
		return;
	}
	log_info("user group %s: connected to redis %s:%d", gname(r), r->host, r->port);
	r->connected = true;
	r->backoff_ms = BACKOFF_MIN_MS;
	ev_timer_stop(r->loop, &r->guard);
	if (r->inflight) {
		ev_timer_set(&r->guard, (double)r->response_timeout_ms / 1000.0, 0.0);
		ev_timer_start(r->loop, &r->guard);
	}
}

static void redis_on_disconnect(const redisAsyncContext *ac, int status)
{
	struct user_redis *r = ac->data;

	CHECK_OBJ(r, USER_REDIS_MAGIC);
	if (r->ac != ac)
		return; /* we freed it */
	log_err("user group %s: redis %s:%d: connection lost%s%s; keeping the last good users",
		gname(r), r->host, r->port, status != REDIS_OK ? ": " : "",
		status != REDIS_OK ? ac->errstr : "");
	r->ac = NULL; /* hiredis frees it after this callback */
	redis_fail(r);
}

static void redis_connect(struct user_redis *r)
{
	redisAsyncContext *ac = redisAsyncConnect(r->host, r->port);

	if (ac == NULL || ac->err) {
		log_err("user group %s: redis %s:%d: %s", gname(r), r->host, r->port,
			ac ? ac->errstr : "out of memory");
		if (ac != NULL)
			redisAsyncFree(ac);
		redis_fail(r);
		return;
	}
	ac->data = r;
	r->ac = ac;
	r->connected = false;
	r->inflight = false;
	if (redisLibevAttach(r->loop, ac) != REDIS_OK) {
		log_err("user group %s: redis: cannot attach to the loop", gname(r));
		redis_fail(r);
		return;
	}
	redisAsyncSetConnectCallback(ac, redis_on_connect);
	redisAsyncSetDisconnectCallback(ac, redis_on_disconnect);
	if (r->password != NULL) {
		int rc = r->username != NULL
				 ? redisAsyncCommand(ac, redis_on_setup, r, "AUTH %s %s",
						     r->username, r->password)
				 : redisAsyncCommand(ac, redis_on_setup, r, "AUTH %s", r->password);
		(void)rc;
	}
	if (r->db != 0)
		(void)redisAsyncCommand(ac, redis_on_setup, r, "SELECT %u", r->db);
	r->guard.data = NULL;
	ev_timer_set(&r->guard, (double)r->connect_timeout_ms / 1000.0, 0.0);
	ev_timer_start(r->loop, &r->guard);
	redis_fetch(r);
}

static void user_redis_on_guard(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct user_redis *r = container_of(w, struct user_redis, guard);

	(void)loop;
	(void)revents;
	CHECK_OBJ(r, USER_REDIS_MAGIC);
	if (w->data == NULL)
		log_err("user group %s: redis %s:%d: %s timed out; keeping the last good users",
			gname(r), r->host, r->port, r->connected ? "HGETALL" : "connect");
	w->data = NULL;
	redis_fail(r);
}

static void user_redis_on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct user_redis *r = container_of(w, struct user_redis, retry);

	(void)loop;
	(void)revents;
	CHECK_OBJ(r, USER_REDIS_MAGIC);
	if (r->ac == NULL)
		redis_connect(r);
}

static void user_redis_on_refresh(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct user_redis *r = container_of(w, struct user_redis, refresh);

	(void)loop;
	(void)revents;
	CHECK_OBJ(r, USER_REDIS_MAGIC);
	if (r->ac != NULL)
		redis_fetch(r);
	else if (!ev_is_active(&r->retry))
		redis_connect(r);
}

static int redis_start(struct user_source *s, struct ev_loop *loop)
{
	struct user_redis *r = container_of(s, struct user_redis, base);
	double every;

	CHECK_OBJ(r, USER_REDIS_MAGIC);
	if (r->loop != NULL)
		return 0;
	r->loop = loop;
	every = (double)r->refresh_ms / 1000.0;
	ev_timer_init(&r->refresh, user_redis_on_refresh, every, every);
	ev_timer_start(loop, &r->refresh);
	ev_timer_init(&r->retry, user_redis_on_retry, 0.0, 0.0);
	ev_timer_init(&r->guard, user_redis_on_guard, 0.0, 0.0);
	redis_connect(r);
	return 0;
}

static void redis_free(struct user_source *s)
{
	struct user_redis *r = container_of(s, struct user_redis, base);

	CHECK_OBJ(r, USER_REDIS_MAGIC);
	if (r->loop != NULL) {
		redisAsyncContext *ac = r->ac;
		ev_timer_stop(r->loop, &r->refresh);
		ev_timer_stop(r->loop, &r->retry);
		ev_timer_stop(r->loop, &r->guard);
		r->ac = NULL;
		if (ac != NULL)
			redisAsyncFree(ac);
	}
	free(r->host);
	free(r->username);
	free(r->password);
	free(r->key);
	free(r->skip_seen);
	POISON_OBJ(r);
	free(r);
}

static const struct user_source_ops redis_ops = {
	.type = "redis",
	.start = redis_start,
	.free = redis_free,
};

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

struct user_source *user_redis_source_new(struct user_group_rt *g)
{
	const struct user_redis_conf *c = g->gc->redis;
	struct user_redis *r = xcalloc(1, sizeof(*r));

	r->magic = USER_REDIS_MAGIC;
	r->base.ops = &redis_ops;
	r->base.g = g;
	r->host = xstrdup(c->host);
	r->port = c->port;
	r->db = c->db;
	r->username = dup_or_null(c->username);
	r->password = dup_or_null(c->password);
	r->key = xstrdup(c->key);
	r->refresh_ms = g->gc->refresh_interval_ms;
	r->connect_timeout_ms = c->connect_timeout_ms;
	r->response_timeout_ms = c->response_timeout_ms;
	r->backoff_ms = BACKOFF_MIN_MS;
	return &r->base;
}
