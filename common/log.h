/* Logging: the process log (human diagnostics to stderr, journald or syslog)
 * and structured records (task / escape / resolve / audit logs) written by a
 * configured `struct logger` to stdout (JSON lines), syslog (RFC 5424 over UDP
 * or a unix socket) or journald (native fields). Thread-safe; emitting a
 * record never allocates. */
#ifndef G3C_COMMON_LOG_H
#define G3C_COMMON_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/util.h"

struct conf_ctx;
struct conf_node;

/* Syslog-compatible severities. */
enum log_level {
	LOG_LVL_ERR = 3,
	LOG_LVL_WARN = 4,
	LOG_LVL_NOTICE = 5,
	LOG_LVL_INFO = 6,
	LOG_LVL_DEBUG = 7,
};

enum log_sink {
	LOG_SINK_STDERR = 0,
	LOG_SINK_JOURNAL,
	LOG_SINK_SYSLOG,
};

/* Set up the process log. `ident` is the program name ("proxyd"), `group`
 * the daemon group (may be "" or NULL). Default level is WARN; each
 * verbosity step raises it (1 → NOTICE, 2 → INFO, 3+ → DEBUG).
 * Borrowing: ident and group are copied. */
void log_init(const char *ident, const char *group, enum log_sink sink, int verbosity);

/* Current threshold; messages above it are dropped cheaply. */
extern enum log_level log_threshold;

/* Write one process-log line: "LEVEL file:line: message". */
void log_msg(enum log_level lvl, const char *file, int line, const char *fmt, ...) PRINTF_FMT(4, 5);

#define log_at(lvl, ...)                                                  \
	do {                                                              \
		if ((lvl) <= log_threshold)                               \
			log_msg((lvl), __FILE__, __LINE__, __VA_ARGS__);  \
	} while (0)
#define log_err(...) log_at(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...) log_at(LOG_LVL_WARN, __VA_ARGS__)
#define log_notice(...) log_at(LOG_LVL_NOTICE, __VA_ARGS__)
#define log_info(...) log_at(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_at(LOG_LVL_DEBUG, __VA_ARGS__)

/* ---- structured records ------------------------------------------------ */

/* Backend of one logger, chosen by the `log:` config key (g3proxy shape). */
enum logger_driver {
	LOGGER_DISCARD = 0,
	LOGGER_STDOUT,  /* one JSON object per line on stdout */
	LOGGER_SYSLOG,  /* RFC 5424 datagrams */
	LOGGER_JOURNAL, /* sd_journal_sendv, keys upper-cased */
};

struct logger_conf {
	enum logger_driver driver;
	/* syslog: unix datagram path, or UDP address when target_udp is set. */
	char syslog_unix[108];
	bool syslog_udp;
	struct sockaddr_storage syslog_addr;
	socklen_t syslog_addrlen;
	int syslog_facility; /* default 16 (local0)? g3 uses user (1) */
};

/* The `log:` key of a daemon's main file: a driver name or a map with
 * `default`, `task`, `escape`, `resolve`, `audit` (and `syslog`/`journal`
 * sub-maps holding the backend options). */
struct log_conf {
	struct logger_conf def;
	struct logger_conf task, escape, resolve, audit;
};

/* Parse the `log:` value into *out (zeroed first: everything discards).
 * Errors go to ctx with file:line:col; returns 0 or -EINVAL. */
int log_conf_parse(struct conf_ctx *ctx, const struct conf_node *val, struct log_conf *out) MUST_CHECK;

/* A configured sink for one log type ("Task", "Escape", ...). Returns an
 * owned logger (free with logger_free) or NULL with *err set to -errno
 * (e.g. the syslog socket could not be opened). */
struct logger *logger_new(const struct logger_conf *conf, const char *log_type, int *err);
void logger_free(struct logger *lg);

enum log_ftype {
	LOG_F_STR,  /* NUL-terminated string (borrowed until emit) */
	LOG_F_STRN, /* pointer + length */
	LOG_F_U64,
	LOG_F_I64,
	LOG_F_BOOL,
	LOG_F_TIME, /* wall clock µs → RFC 3339 UTC with microseconds */
	LOG_F_DUR,  /* nanoseconds → "16.918ms" / "111.667µs" / "1.000s" (0 omitted) */
	LOG_F_ADDR, /* struct sockaddr → "ip:port" / "[v6]:port" */
};

struct log_field {
	const char *key;
	enum log_ftype type;
	union {
		const char *s;
		struct {
			const char *p;
			size_t len;
		} sn;
		uint64_t u;
		int64_t i;
		bool b;
		const struct sockaddr *addr;
	} v;
};

#define LOG_REC_MAX_FIELDS 48

/* A record under construction: lives on the caller's stack; fields are kept
 * in insertion order; values are borrowed until log_rec_emit(). Fields past
 * LOG_REC_MAX_FIELDS are dropped (and counted). */
struct log_rec {
	struct logger *lg;
	unsigned n;
	unsigned dropped;
	struct log_field f[LOG_REC_MAX_FIELDS];
};

void log_rec_init(struct log_rec *r, struct logger *lg);
void log_rec_str(struct log_rec *r, const char *key, const char *v); /* NULL v: omitted */
void log_rec_strn(struct log_rec *r, const char *key, const char *p, size_t len);
void log_rec_u64(struct log_rec *r, const char *key, uint64_t v);
void log_rec_i64(struct log_rec *r, const char *key, int64_t v);
void log_rec_bool(struct log_rec *r, const char *key, bool v);
void log_rec_time(struct log_rec *r, const char *key, uint64_t wall_us);
void log_rec_dur(struct log_rec *r, const char *key, uint64_t ns);
void log_rec_addr(struct log_rec *r, const char *key, const struct sockaddr *sa);

/* Format and write the record with the common keys first (daemon_name, pid,
 * log_type) and `msg` (may be NULL) as the message. Never allocates. */
void log_rec_emit(struct log_rec *r, const char *msg);

/* Render a record as one JSON line into buf (for tests and the stdout
 * driver). Returns the length written, truncating safely at cap. */
size_t log_rec_format_json(const struct log_rec *r, const char *msg, char *buf, size_t cap);

#endif
