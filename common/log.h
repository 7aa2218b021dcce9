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

/* The ident and group given to log_init() ("g3c" and "" before it). */
const char *log_ident(void);
const char *log_group(void);

/* Current threshold; messages above it are dropped cheaply. */
extern enum log_level log_threshold;

/* Write one process-log line. On stderr:
 * "2026-11-27T11:00:00.123456Z WARN file.c:123: message" in one write();
 * to journald with PRIORITY, CODE_FILE, CODE_LINE, SYSLOG_IDENTIFIER; to
 * syslog as "file.c:123: message". Thread-safe; never fails. */
void log_msg(enum log_level lvl, const char *file, int line, const char *fmt, ...) PRINTF_FMT(4, 5);

#define log_at(lvl, ...)                                                 \
	do {                                                             \
		if ((lvl) <= log_threshold)                              \
			log_msg((lvl), __FILE__, __LINE__, __VA_ARGS__); \
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
	LOGGER_STDOUT,	/* one JSON object per line on stdout */
	LOGGER_SYSLOG,	/* RFC 5424 datagrams */
	LOGGER_JOURNAL, /* sd_journal_sendv, keys upper-cased */
};

/* Settings of one logger. A zeroed struct is a valid discard logger; a
 * zeroed syslog part means "unix datagram to /dev/log, facility daemon". */
struct logger_conf {
	enum logger_driver driver;
	/* syslog: unix datagram path ("" = /dev/log), or UDP when syslog_udp. */
	char syslog_unix[108];
	bool syslog_udp;
	struct sockaddr_storage syslog_addr;
	socklen_t syslog_addrlen;
	struct sockaddr_storage syslog_bind; /* UDP source address, when bindlen != 0 */
	socklen_t syslog_bindlen;
	int syslog_facility;	      /* 0 = daemon (3), as g3 */
	bool syslog_emit_hostname;    /* HOSTNAME field instead of "-" */
	bool syslog_report_ts;	      /* append report_ts=<unix seconds> */
	bool syslog_cee;	      /* body is "@cee:{json}" instead of k=v text */
	char syslog_msgid[33];	      /* RFC 5424 MSGID, "" = "-" */
	char syslog_cee_flag[32];     /* "" = "@cee:" */
	int32_t syslog_enterprise_id; /* accepted from format_rfc5424, unused */
	/* accepted for g3 compatibility, no effect (records are written
	 * synchronously by the emitting thread): */
	uint64_t async_channel_size;
	uint64_t async_thread_number;
	uint64_t io_error_sampling_offset;
};

/* The `log:` key of a daemon's main file: a driver name or a map with
 * `default` (or `syslog` options for all), `task`, `escape`, `resolve`,
 * `audit`. Types not named take the default; the default is discard. */
struct log_conf {
	struct logger_conf def;
	struct logger_conf task, escape, resolve, audit;
};

/* Parse the `log:` value into *out (zeroed first: everything discards).
 * Errors go to ctx with file:line:col; returns 0 or -EINVAL. */
int log_conf_parse(struct conf_ctx *ctx, const struct conf_node *val,
		   struct log_conf *out) MUST_CHECK;

/* Parse one logger value (a driver name, or a map such as `{syslog: {...}}`)
 * into *out; the shape of `log: {task: ...}`. Returns 0 or -EINVAL. */
int logger_conf_parse(struct conf_ctx *ctx, const struct conf_node *val,
		      struct logger_conf *out) MUST_CHECK;

/* A configured sink for one log type ("Task", "Escape", ...). Returns an
 * owned logger (free with logger_free) or NULL with *err set to -errno
 * (e.g. the syslog socket could not be opened). log_type is copied; the
 * syslog APP-NAME / journal SYSLOG_IDENTIFIER is the ident of log_init(). */
struct logger *logger_new(const struct logger_conf *conf, const char *log_type, int *err);
void logger_free(struct logger *lg);

/* False for NULL and discard loggers: callers may skip building records. */
bool logger_enabled(const struct logger *lg);

/* Counters of one logger (read with relaxed atomics; any thread). */
struct logger_stats {
	uint64_t msg_total;	 /* records emitted to this logger */
	uint64_t msg_pass;	 /* written / sent successfully */
	uint64_t msg_drop;	 /* format failure or write/send error */
	uint64_t bytes_pass;	 /* bytes written / sent */
	uint64_t fields_dropped; /* fields beyond LOG_REC_MAX_FIELDS */
	uint64_t truncated;	 /* records cut to fit the 16 KiB buffer */
};
void logger_stats_get(const struct logger *lg, struct logger_stats *out);

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
void log_rec_dur(struct log_rec *r, const char *key, uint64_t ns); /* 0: omitted */
void log_rec_addr(struct log_rec *r, const char *key,
		  const struct sockaddr *sa); /* NULL: omitted */

/* Format and write the record with the common keys first (daemon_name, pid,
 * log_type) and `msg` (may be NULL) as the message. Never allocates. */
void log_rec_emit(struct log_rec *r, const char *msg);

/* Render a record as one JSON line into buf (for tests and the stdout
 * driver): `{"daemon_name":..,"pid":..,"log_type":..,<fields>,"message":..}`
 * then '\n' and a NUL (not counted). Returns the length written. When the
 * record does not fit, the string value that overflows is cut at a UTF-8
 * boundary and the following fields are left out, so the line is always
 * valid JSON. Returns 0 (and writes "" when cap > 0) if cap < 4. */
size_t log_rec_format_json(const struct log_rec *r, const char *msg, char *buf, size_t cap);

/* Largest record a driver writes (stack buffer; longer records are cut). */
#define LOG_REC_BUF_SIZE 16384

/* ---- value rendering (shared by every driver; all NUL-terminate and
 * return the length, 0 when cap is too small) --------------------------- */

/* wall-clock µs → "2024-08-15T14:26:13.124661Z" (needs cap >= 28). */
size_t log_fmt_time(uint64_t wall_us, char *buf, size_t cap);
/* ns → "16.918ms", "111.667µs", "1.000s", "999.000ns" (3 decimals, rounded). */
size_t log_fmt_dur(uint64_t ns, char *buf, size_t cap);
/* "1.2.3.4:80", "[::1]:80", "[fe80::1%2]:80"; 0 for NULL or other families. */
size_t log_fmt_addr(const struct sockaddr *sa, char *buf, size_t cap);

#endif
