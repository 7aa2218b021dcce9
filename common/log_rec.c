/* Structured records and the loggers that write them. A record is built on
 * the caller's stack and formatted at emit into a stack buffer, then written
 * with one write() (stdout, under a mutex so long lines stay whole), one
 * sendto() (syslog, non-blocking) or one sd_journal_sendv(). */
#include "common/log.h"
#include "common/log_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#define LOGGER_MAGIC 0x4c6f6747u /* "LogG" */

struct logger {
	uint32_t magic;
	enum logger_driver driver;
	char log_type[32];
	/* syslog */
	int fd;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	int facility;
	bool report_ts;
	bool cee;
	char hostname[256]; /* "" = nil */
	char msgid[33];
	char cee_flag[32];
	/* stdout */
	pthread_mutex_t out_mu;
	/* counters */
	_Atomic uint64_t msg_total;
	_Atomic uint64_t msg_pass;
	_Atomic uint64_t msg_drop;
	_Atomic uint64_t bytes_pass;
	_Atomic uint64_t fields_dropped;
	_Atomic uint64_t truncated;
};

const char *log_rec_type(const struct log_rec *r)
{
	return r->lg ? r->lg->log_type : "";
}

/* ---- building records ------------------------------------------------- */

void log_rec_init(struct log_rec *r, struct logger *lg)
{
	r->lg = lg;
	r->n = 0;
	r->dropped = 0;
}

static struct log_field *rec_add(struct log_rec *r, const char *key, enum log_ftype t)
{
	struct log_field *f;

	if (r->n >= LOG_REC_MAX_FIELDS) {
		r->dropped++;
		return NULL;
	}
	f = &r->f[r->n++];
	f->key = key;
	f->type = t;
	return f;
}

void log_rec_str(struct log_rec *r, const char *key, const char *v)
{
	struct log_field *f;

	if (!v)
		return;
	f = rec_add(r, key, LOG_F_STR);
	if (f)
		f->v.s = v;
}

void log_rec_strn(struct log_rec *r, const char *key, const char *p, size_t len)
{
	struct log_field *f;

	if (!p)
		return;
	f = rec_add(r, key, LOG_F_STRN);
	if (f) {
		f->v.sn.p = p;
		f->v.sn.len = len;
	}
}

void log_rec_u64(struct log_rec *r, const char *key, uint64_t v)
{
	struct log_field *f = rec_add(r, key, LOG_F_U64);

	if (f)
		f->v.u = v;
}

void log_rec_i64(struct log_rec *r, const char *key, int64_t v)
{
	struct log_field *f = rec_add(r, key, LOG_F_I64);

	if (f)
		f->v.i = v;
}

void log_rec_bool(struct log_rec *r, const char *key, bool v)
{
	struct log_field *f = rec_add(r, key, LOG_F_BOOL);

	if (f)
		f->v.b = v;
}

void log_rec_time(struct log_rec *r, const char *key, uint64_t wall_us)
{
	struct log_field *f = rec_add(r, key, LOG_F_TIME);

	if (f)
		f->v.u = wall_us;
}

void log_rec_dur(struct log_rec *r, const char *key, uint64_t ns)
{
	struct log_field *f;

	if (ns == 0)
		return;
	f = rec_add(r, key, LOG_F_DUR);
	if (f)
		f->v.u = ns;
}

void log_rec_addr(struct log_rec *r, const char *key, const struct sockaddr *sa)
{
	struct log_field *f;

	if (!sa || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
		return;
	f = rec_add(r, key, LOG_F_ADDR);
	if (f)
		f->v.addr = sa;
}

/* ---- loggers ---------------------------------------------------------- */

static void copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = src ? strnlen(src, cap - 1) : 0;

	memcpy(dst, src ? src : "", n);
	dst[n] = '\0';
}

static int syslog_open(struct logger *lg, const struct logger_conf *c)
{
	int fd;

	if (c->syslog_udp) {
		if (c->syslog_addrlen == 0 || c->syslog_addrlen > sizeof(lg->addr))
			return -EINVAL;
		memcpy(&lg->addr, &c->syslog_addr, c->syslog_addrlen);
		lg->addrlen = c->syslog_addrlen;
		fd = socket(c->syslog_addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			return -errno;
		if (c->syslog_bindlen &&
		    bind(fd, (const struct sockaddr *)&c->syslog_bind, c->syslog_bindlen) < 0) {
			int e = -errno;
			close(fd);
			return e;
		}
	} else {
		struct sockaddr_un *su = (struct sockaddr_un *)&lg->addr;
		const char *path = c->syslog_unix[0] ? c->syslog_unix : "/dev/log";
		size_t n = strnlen(path, sizeof(c->syslog_unix));

		if (n >= sizeof(su->sun_path))
			return -ENAMETOOLONG;
		memset(su, 0, sizeof(*su));
		su->sun_family = AF_UNIX;
		memcpy(su->sun_path, path, n);
		lg->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
		fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			return -errno;
	}
	lg->fd = fd;
	return 0;
}

/* RFC 5424 HOSTNAME: printable ASCII only. */
static void set_hostname(struct logger *lg)
{
	if (gethostname(lg->hostname, sizeof(lg->hostname) - 1) < 0) {
		lg->hostname[0] = '\0';
		return;
	}
	lg->hostname[sizeof(lg->hostname) - 1] = '\0';
}

struct logger *logger_new(const struct logger_conf *conf, const char *log_type, int *err)
{
	static const struct logger_conf discard = {.driver = LOGGER_DISCARD};
	struct logger *lg = xcalloc(1, sizeof(*lg));
	int rc = 0;

	if (!conf)
		conf = &discard;
	lg->magic = LOGGER_MAGIC;
	lg->driver = conf->driver;
	lg->fd = -1;
	copy_str(lg->log_type, sizeof(lg->log_type), log_type);
	pthread_mutex_init(&lg->out_mu, NULL);

	switch (lg->driver) {
	case LOGGER_DISCARD:
	case LOGGER_STDOUT:
	case LOGGER_JOURNAL:
		break;
	case LOGGER_SYSLOG:
		lg->facility = conf->syslog_facility > 0 && conf->syslog_facility < 24
				       ? conf->syslog_facility
				       : 3;
		lg->report_ts = conf->syslog_report_ts;
		lg->cee = conf->syslog_cee;
		copy_str(lg->msgid, sizeof(lg->msgid), conf->syslog_msgid);
		copy_str(lg->cee_flag, sizeof(lg->cee_flag), conf->syslog_cee_flag);
		if (conf->syslog_emit_hostname)
			set_hostname(lg);
		rc = syslog_open(lg, conf);
		break;
	default:
		rc = -EINVAL;
		break;
	}
	if (rc < 0) {
		logger_free(lg);
		if (err)
			*err = rc;
		return NULL;
	}
	if (err)
		*err = 0;
	return lg;
}

void logger_free(struct logger *lg)
{
	if (!lg)
		return;
	CHECK_OBJ(lg, LOGGER_MAGIC);
	if (lg->fd >= 0)
		close(lg->fd);
	pthread_mutex_destroy(&lg->out_mu);
	POISON_OBJ(lg);
	free(lg);
}

bool logger_enabled(const struct logger *lg)
{
	return lg && lg->driver != LOGGER_DISCARD;
}

void logger_stats_get(const struct logger *lg, struct logger_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!lg)
		return;
	out->msg_total = atomic_load_explicit(&lg->msg_total, memory_order_relaxed);
	out->msg_pass = atomic_load_explicit(&lg->msg_pass, memory_order_relaxed);
	out->msg_drop = atomic_load_explicit(&lg->msg_drop, memory_order_relaxed);
	out->bytes_pass = atomic_load_explicit(&lg->bytes_pass, memory_order_relaxed);
	out->fields_dropped = atomic_load_explicit(&lg->fields_dropped, memory_order_relaxed);
	out->truncated = atomic_load_explicit(&lg->truncated, memory_order_relaxed);
}

/* ---- emitting --------------------------------------------------------- */

static bool write_stdout(struct logger *lg, const char *buf, size_t n)
{
	bool ok = true;

	pthread_mutex_lock(&lg->out_mu);
	for (size_t off = 0; off < n;) {
		ssize_t w = write(STDOUT_FILENO, buf + off, n - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			ok = false;
			break;
		}
		off += (size_t)w;
	}
	pthread_mutex_unlock(&lg->out_mu);
	return ok;
}

void log_rec_emit(struct log_rec *r, const char *msg)
{
	struct logger *lg = r->lg;
	char buf[LOG_REC_BUF_SIZE];
	size_t n = 0;
	bool ok = false, trunc = false;
	int saved = errno;

	if (!lg || lg->driver == LOGGER_DISCARD)
		return;
	CHECK_OBJ(lg, LOGGER_MAGIC);
	atomic_fetch_add_explicit(&lg->msg_total, 1, memory_order_relaxed);
	if (r->dropped)
		atomic_fetch_add_explicit(&lg->fields_dropped, r->dropped, memory_order_relaxed);

	switch (lg->driver) {
	case LOGGER_STDOUT: {
		struct log_w w = {.p = buf, .len = 0, .lim = sizeof(buf), .full = false};
		struct log_json_opts o = {.msg_key = "message", .newline = true};
		if (log_format_json_w(&w, r, msg, &o)) {
			n = w.len;
			trunc = w.full;
			ok = write_stdout(lg, buf, n);
		}
		break;
	}
	case LOGGER_SYSLOG: {
		struct log_syslog_hdr h = {
			.facility = lg->facility,
			.hostname = lg->hostname,
			.app = log_ident(),
			.pid = (long)getpid(),
			.msgid = lg->msgid,
			.now_us = util_wall_us(),
			.cee = lg->cee,
			.cee_flag = lg->cee_flag,
			.report_ts = lg->report_ts,
		};
		n = log_format_syslog(r, msg, &h, buf, sizeof(buf), &trunc);
		if (n) {
			ssize_t s;
			do {
				s = sendto(lg->fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL,
					   (const struct sockaddr *)&lg->addr, lg->addrlen);
			} while (s < 0 && errno == EINTR);
			ok = s == (ssize_t)n;
		}
		break;
	}
	case LOGGER_JOURNAL: {
		struct iovec iov[LOG_JOURNAL_MAX_IOV];
		size_t niov = log_journal_build(r, msg, log_ident(), buf, sizeof(buf), iov,
						ARRAY_SIZE(iov), &trunc);
		for (size_t i = 0; i < niov; i++)
			n += iov[i].iov_len;
		ok = niov > 0 && sd_journal_sendv(iov, (int)niov) >= 0;
		break;
	}
	case LOGGER_DISCARD:
	default:
		break;
	}

	if (trunc)
		atomic_fetch_add_explicit(&lg->truncated, 1, memory_order_relaxed);
	if (ok) {
		atomic_fetch_add_explicit(&lg->msg_pass, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&lg->bytes_pass, n, memory_order_relaxed);
	} else {
		atomic_fetch_add_explicit(&lg->msg_drop, 1, memory_order_relaxed);
	}
	errno = saved;
}
