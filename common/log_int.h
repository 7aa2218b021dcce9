/* Internal to the log module (log*.c and its unit tests): the bounded
 * writer every record formatter uses, the per-driver formatters, and the
 * journald field builder. Nothing here allocates. */
#ifndef G3C_COMMON_LOG_INT_H
#define G3C_COMMON_LOG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "common/log.h"

/* Appends into a caller's buffer, never past `lim`; `full` records that
 * something was cut or left out. */
struct log_w {
	char *p;
	size_t len;
	size_t lim;
	bool full;
};

/* Append n bytes whole, or nothing (sets full). Returns true if written. */
bool log_w_raw(struct log_w *w, const char *s, size_t n);

/* Length of the valid UTF-8 sequence at s (1..4), 0 if s[0] starts none. */
size_t log_utf8_len(const uint8_t *s, size_t n);

/* How a field value renders: a string (quoted in JSON and syslog) or a
 * bare token (number, bool). LOG_V_OMIT: the field is left out. */
enum log_vkind {
	LOG_V_OMIT = 0,
	LOG_V_STR,
	LOG_V_BARE,
};

/* Render field f: *out and *outlen point at the value text, either the
 * caller's string or tmp (cap >= 64). */
enum log_vkind log_field_value(const struct log_field *f, char *tmp, size_t cap, const char **out,
			       size_t *outlen);

/* JSON object for the stdout driver (message key "message", newline) and
 * for syslog CEE bodies (key "msg", optional report_ts, no newline). */
struct log_json_opts {
	const char *msg_key;
	bool newline;
	bool report_ts;
	uint64_t report_ts_val;
};
/* Format into w (the caller reserves nothing: the closing bytes are kept
 * free internally). Returns false if not even "{}" fit. */
bool log_format_json_w(struct log_w *w, const struct log_rec *r, const char *msg,
		       const struct log_json_opts *o);

/* Everything one syslog datagram needs besides the record. */
struct log_syslog_hdr {
	int facility;	      /* 0..23 */
	const char *hostname; /* NULL → "-" */
	const char *app;      /* APP-NAME */
	long pid;
	const char *msgid; /* NULL/"" → "-" */
	uint64_t now_us;
	bool cee;
	const char *cee_flag; /* "@cee:" when NULL/"" */
	bool report_ts;
};
/* `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG` where MSG is
 * "[message, ]k1=v1, k2=\"v2\"[, report_ts=N]" or "@cee:{json}". Returns
 * the length (no NUL is written); *truncated set when cut. */
size_t log_format_syslog(const struct log_rec *r, const char *msg, const struct log_syslog_hdr *h,
			 char *buf, size_t cap, bool *truncated);

/* Fixed journald fields: MESSAGE, PRIORITY, SYSLOG_IDENTIFIER, DAEMON_NAME,
 * PID, LOG_TYPE, then one per record field. */
#define LOG_JOURNAL_MAX_IOV (LOG_REC_MAX_FIELDS + 6)
/* Build "KEY=value" items in buf and point iov at them (keys upper-cased,
 * characters outside [A-Z0-9_] → '_', a leading non-letter gets "F_";
 * values raw). Returns the number of iovecs; *truncated set when a value
 * was cut or fields left out. */
size_t log_journal_build(const struct log_rec *r, const char *msg, const char *ident, char *buf,
			 size_t cap, struct iovec *iov, size_t maxiov, bool *truncated);

/* Copy of logger's log_type ("" for NULL loggers). */
const char *log_rec_type(const struct log_rec *r);

#endif
