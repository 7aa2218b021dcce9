/* The process log: human diagnostics to stderr, journald or syslog. */
#include "common/log.h"

#define SD_JOURNAL_SUPPRESS_LOCATION 1

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

enum log_level log_threshold = LOG_LVL_WARN;

/* Written once by log_init() before any thread starts; read-only after. */
static char g_ident[64] = "g3c";
static char g_group[128];
static enum log_sink g_sink = LOG_SINK_STDERR;

const char *log_ident(void)
{
	return g_ident;
}

const char *log_group(void)
{
	return g_group;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = src ? strlen(src) : 0;

	if (n >= cap)
		n = cap - 1;
	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

void log_init(const char *ident, const char *group, enum log_sink sink, int verbosity)
{
	copy_str(g_ident, sizeof(g_ident), ident && *ident ? ident : "g3c");
	copy_str(g_group, sizeof(g_group), group);
	g_sink = sink;
	if (verbosity < 0)
		log_threshold = LOG_LVL_ERR;
	else if (verbosity == 0)
		log_threshold = LOG_LVL_WARN;
	else if (verbosity == 1)
		log_threshold = LOG_LVL_NOTICE;
	else if (verbosity == 2)
		log_threshold = LOG_LVL_INFO;
	else
		log_threshold = LOG_LVL_DEBUG;
	if (sink == LOG_SINK_SYSLOG)
		openlog(g_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

static const char *level_name(enum log_level lvl)
{
	switch (lvl) {
	case LOG_LVL_ERR:
		return "ERROR";
	case LOG_LVL_WARN:
		return "WARN";
	case LOG_LVL_NOTICE:
		return "NOTICE";
	case LOG_LVL_INFO:
		return "INFO";
	case LOG_LVL_DEBUG:
		return "DEBUG";
	}
	return "LOG";
}

/* One write() per line keeps lines from different threads whole. */
static void write_stderr(enum log_level lvl, const char *file, int line, const char *msg)
{
	char line_buf[4096];
	char ts[32];
	int n;

	if (!log_fmt_time(util_wall_us(), ts, sizeof(ts)))
		ts[0] = '\0';
	n = snprintf(line_buf, sizeof(line_buf), "%s %s %s:%d: %s\n", ts, level_name(lvl), file,
		     line, msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line_buf)) {
		n = sizeof(line_buf) - 1;
		line_buf[n - 1] = '\n';
	}
	for (size_t off = 0; off < (size_t)n;) {
		ssize_t w = write(STDERR_FILENO, line_buf + off, (size_t)n - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		off += (size_t)w;
	}
}

void log_msg(enum log_level lvl, const char *file, int line, const char *fmt, ...)
{
	char msg[3072];
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		msg[0] = '\0';
	va_end(ap);

	switch (g_sink) {
	case LOG_SINK_JOURNAL:
		if (sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", (int)lvl, "CODE_FILE=%s",
				    file, "CODE_LINE=%d", line, "SYSLOG_IDENTIFIER=%s", g_ident,
				    NULL) < 0)
			write_stderr(lvl, file, line, msg);
		break;
	case LOG_SINK_SYSLOG:
		syslog((int)lvl, "%s:%d: %s", file, line, msg);
		break;
	case LOG_SINK_STDERR:
	default:
		write_stderr(lvl, file, line, msg);
		break;
	}
	errno = saved;
}
