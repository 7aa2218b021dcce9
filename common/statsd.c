/* StatsD client: DogStatsD lines packed into datagrams, sent without
 * blocking over UDP or a unix datagram socket. */
#include "common/statsd.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#define STATSD_MAGIC 0x53746174u /* "Stat" */

struct statsd {
	uint32_t magic;
	int fd;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char prefix[64];
	size_t prefix_len;
	char common[160]; /* "daemon_group:g,stat_id:N" */
	size_t common_len;
	uint64_t stat_id;
	size_t seg;
	char *buf;  /* seg bytes: the datagram being filled */
	char *line; /* seg + 1 bytes: one line being formatted */
	size_t len;
	struct statsd_stats st;
};

static bool metric_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.' || c == '/';
}

void statsd_conf_defaults(struct statsd_conf *c, const char *default_prefix)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&c->addr;
	size_t n = default_prefix ? strnlen(default_prefix, sizeof(c->prefix) - 1) : 0;

	memset(c, 0, sizeof(*c));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(8125);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->addrlen = sizeof(*sin);
	memcpy(c->prefix, default_prefix ? default_prefix : "", n);
	c->prefix[n] = '\0';
	c->max_segment_size = 1400;
	c->emit_interval_ms = 200;
	c->cache_size = 256 * 1024;
}

/* ---- tags ------------------------------------------------------------- */

void statsd_tags_init(struct statsd_tags *t)
{
	t->len = 0;
	t->dropped = 0;
	t->s[0] = '\0';
}

/* Append sanitised s into dst[*len..cap-1); false when it does not fit. */
static bool put_sanitised(char *dst, size_t cap, size_t *len, const char *s)
{
	for (; *s; s++) {
		if (*len + 1 >= cap)
			return false;
		dst[(*len)++] = metric_char(*s) ? *s : '_';
	}
	return true;
}

static bool tags_append(char *dst, size_t cap, size_t *len, const char *key, const char *val)
{
	size_t n = *len;

	if (n && n + 1 < cap)
		dst[n++] = ',';
	else if (n)
		return false;
	if (!put_sanitised(dst, cap, &n, key) || n + 1 >= cap)
		return false;
	dst[n++] = ':';
	if (!put_sanitised(dst, cap, &n, val ? val : ""))
		return false;
	dst[n] = '\0';
	*len = n;
	return true;
}

void statsd_tags_add(struct statsd_tags *t, const char *key, const char *val)
{
	if (!tags_append(t->s, sizeof(t->s), &t->len, key, val)) {
		t->s[t->len] = '\0';
		t->dropped++;
	}
}

void statsd_tags_add_u64(struct statsd_tags *t, const char *key, uint64_t val)
{
	char num[24];

	snprintf(num, sizeof(num), "%" PRIu64, val);
	statsd_tags_add(t, key, num);
}

uint64_t statsd_stat_id_new(void)
{
	static _Atomic uint32_t seq = 1;

	return ((uint64_t)(uint32_t)getpid() << 32) |
	       atomic_fetch_add_explicit(&seq, 1, memory_order_relaxed);
}

/* ---- client ----------------------------------------------------------- */

struct statsd *statsd_new(const struct statsd_conf *conf, const char *daemon_group, int *err)
{
	struct statsd *s = NULL;
	int rc = 0;
	char num[24];

	if (conf->max_segment_size < 16 || conf->addrlen == 0 || conf->addrlen > sizeof(s->addr)) {
		rc = -EINVAL;
		goto out;
	}
	s = xcalloc(1, sizeof(*s));
	s->magic = STATSD_MAGIC;
	s->fd = -1;
	memcpy(&s->addr, &conf->addr, conf->addrlen);
	s->addrlen = conf->addrlen;
	s->prefix_len = strnlen(conf->prefix, sizeof(conf->prefix) - 1);
	memcpy(s->prefix, conf->prefix, s->prefix_len);
	s->seg = conf->max_segment_size;
	s->buf = xmalloc(s->seg);
	s->line = xmalloc(s->seg + 1);
	s->stat_id = statsd_stat_id_new();
	if (daemon_group && *daemon_group)
		tags_append(s->common, sizeof(s->common), &s->common_len, "daemon_group",
			    daemon_group);
	snprintf(num, sizeof(num), "%" PRIu64, s->stat_id);
	tags_append(s->common, sizeof(s->common), &s->common_len, "stat_id", num);

	s->fd = socket(conf->addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->fd < 0) {
		rc = -errno;
		goto out;
	}
	if (!conf->is_unix && conf->bindlen &&
	    bind(s->fd, (const struct sockaddr *)&conf->bind, conf->bindlen) < 0) {
		rc = -errno;
		goto out;
	}
out:
	if (rc < 0) {
		statsd_free(s);
		s = NULL;
	}
	if (err)
		*err = rc;
	return s;
}

void statsd_free(struct statsd *s)
{
	if (!s)
		return;
	CHECK_OBJ(s, STATSD_MAGIC);
	if (s->fd >= 0)
		close(s->fd);
	free(s->buf);
	free(s->line);
	POISON_OBJ(s);
	free(s);
}

uint64_t statsd_client_stat_id(const struct statsd *s)
{
	return s->stat_id;
}

void statsd_stats_get(const struct statsd *s, struct statsd_stats *out)
{
	*out = s->st;
}

static void flush(struct statsd *s)
{
	ssize_t n;

	if (s->len == 0)
		return;
	do {
		n = sendto(s->fd, s->buf, s->len, MSG_DONTWAIT | MSG_NOSIGNAL,
			   (const struct sockaddr *)&s->addr, s->addrlen);
	} while (n < 0 && errno == EINTR);
	if (n == (ssize_t)s->len) {
		s->st.datagrams++;
		s->st.bytes += s->len;
	} else {
		s->st.send_errors++;
	}
	s->len = 0;
}

void statsd_begin(struct statsd *s)
{
	CHECK_OBJ(s, STATSD_MAGIC);
	s->len = 0;
}

void statsd_end(struct statsd *s)
{
	CHECK_OBJ(s, STATSD_MAGIC);
	flush(s);
}

/* Format one line at dst; returns its length, or 0 if it exceeds cap. */
static size_t format_line(const struct statsd *s, char *dst, size_t cap, const char *name,
			  const char *value, char type, const struct statsd_tags *t)
{
	int n = snprintf(dst, cap, "%.*s%s%s:%s|%c|#%s%s%s", (int)s->prefix_len, s->prefix,
			 s->prefix_len ? "." : "", name, value, type, s->common,
			 t && t->len ? "," : "", t && t->len ? t->s : "");

	if (n < 0 || (size_t)n >= cap)
		return 0;
	return (size_t)n;
}

static void put_line(struct statsd *s, const char *name, const char *value, char type,
		     const struct statsd_tags *t)
{
	size_t n = format_line(s, s->line, s->seg + 1, name, value, type, t);

	if (n == 0) {
		s->st.lines_dropped++;
		return;
	}
	if (s->len && s->len + 1 + n > s->seg)
		flush(s);
	if (s->len)
		s->buf[s->len++] = '\n';
	memcpy(s->buf + s->len, s->line, n);
	s->len += n;
	s->st.lines++;
}

void statsd_count(struct statsd *s, const char *name, uint64_t delta, const struct statsd_tags *t)
{
	char v[24];

	CHECK_OBJ(s, STATSD_MAGIC);
	snprintf(v, sizeof(v), "%" PRIu64, delta);
	put_line(s, name, v, 'c', t);
}

void statsd_gauge(struct statsd *s, const char *name, int64_t value, const struct statsd_tags *t)
{
	char v[24];

	CHECK_OBJ(s, STATSD_MAGIC);
	snprintf(v, sizeof(v), "%" PRId64, value);
	put_line(s, name, v, 'g', t);
}

uint64_t statsd_delta(uint64_t *last, uint64_t cur)
{
	/* a counter that went back was reset (a new stats object): all of it is new */
	uint64_t d = cur >= *last ? cur - *last : cur;

	*last = cur;
	return d;
}

uint64_t statsd_counter_delta(struct statsd_counter *c, uint64_t cur)
{
	return statsd_delta(&c->last, cur);
}
