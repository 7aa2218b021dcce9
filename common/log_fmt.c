/* Rendering of structured records: field values (times, durations,
 * addresses), JSON lines, RFC 5424 syslog bodies and journald fields. All of
 * it writes into caller buffers through a bounded writer and never
 * allocates; a record that does not fit is cut at a value boundary (strings
 * at a UTF-8 boundary) and the fields after it are left out. */
#include "common/log.h"
#include "common/log_int.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

bool log_w_raw(struct log_w *w, const char *s, size_t n)
{
	if (w->full || n > w->lim - w->len) {
		w->full = true;
		return false;
	}
	memcpy(w->p + w->len, s, n);
	w->len += n;
	return true;
}

size_t log_utf8_len(const uint8_t *s, size_t n)
{
	uint8_t c = s[0];
	uint8_t lo = 0x80, hi = 0xbf;
	size_t len;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (n < len)
		return 0;
	/* the second byte's range excludes overlongs, surrogates, > U+10FFFF */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/* ---- values ----------------------------------------------------------- */

size_t log_fmt_time(uint64_t wall_us, char *buf, size_t cap)
{
	time_t secs = (time_t)(wall_us / 1000000u);
	unsigned us = (unsigned)(wall_us % 1000000u);
	struct tm tm;
	int n;

	if (!gmtime_r(&secs, &tm))
		return 0;
	n = snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ", tm.tm_year + 1900,
		     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, us);
	if (n < 0 || (size_t)n >= cap) {
		if (cap)
			buf[0] = '\0';
		return 0;
	}
	return (size_t)n;
}

/* Like Rust's `{:.3?}` on a Duration: the largest unit the value reaches,
 * three decimals rounded half up (a carry may give "1000.000ms"). */
size_t log_fmt_dur(uint64_t ns, char *buf, size_t cap)
{
	uint64_t div;
	const char *unit;
	uint64_t ip, rem, frac, rest;
	int n;

	if (ns >= 1000000000u) {
		div = 1000000000u;
		unit = "s";
	} else if (ns >= 1000000u) {
		div = 1000000u;
		unit = "ms";
	} else if (ns >= 1000u) {
		div = 1000u;
		unit = "\xc2\xb5s";
	} else {
		div = 1;
		unit = "ns";
	}
	ip = ns / div;
	rem = ns % div;
	frac = rem * 1000u / div;
	rest = rem * 1000u % div;
	if (rest * 2 >= div && rest != 0) {
		frac++;
		if (frac == 1000) {
			frac = 0;
			ip++;
		}
	}
	n = snprintf(buf, cap, "%" PRIu64 ".%03" PRIu64 "%s", ip, frac, unit);
	if (n < 0 || (size_t)n >= cap) {
		if (cap)
			buf[0] = '\0';
		return 0;
	}
	return (size_t)n;
}

size_t log_fmt_addr(const struct sockaddr *sa, char *buf, size_t cap)
{
	char ip[INET6_ADDRSTRLEN];
	int n;

	if (!sa)
		goto none;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
		if (!inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip)))
			goto none;
		n = snprintf(buf, cap, "%s:%u", ip, (unsigned)ntohs(s4->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
		if (!inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip)))
			goto none;
		if (s6->sin6_scope_id)
			n = snprintf(buf, cap, "[%s%%%u]:%u", ip, (unsigned)s6->sin6_scope_id,
				     (unsigned)ntohs(s6->sin6_port));
		else
			n = snprintf(buf, cap, "[%s]:%u", ip, (unsigned)ntohs(s6->sin6_port));
	} else {
		goto none;
	}
	if (n > 0 && (size_t)n < cap)
		return (size_t)n;
none:
	if (cap)
		buf[0] = '\0';
	return 0;
}

enum log_vkind log_field_value(const struct log_field *f, char *tmp, size_t cap, const char **out,
			       size_t *outlen)
{
	int n;

	switch (f->type) {
	case LOG_F_STR:
		if (!f->v.s)
			return LOG_V_OMIT;
		*out = f->v.s;
		*outlen = strlen(f->v.s);
		return LOG_V_STR;
	case LOG_F_STRN:
		if (!f->v.sn.p)
			return LOG_V_OMIT;
		*out = f->v.sn.p;
		*outlen = f->v.sn.len;
		return LOG_V_STR;
	case LOG_F_U64:
		n = snprintf(tmp, cap, "%" PRIu64, f->v.u);
		break;
	case LOG_F_I64:
		n = snprintf(tmp, cap, "%" PRId64, f->v.i);
		break;
	case LOG_F_BOOL:
		*out = f->v.b ? "true" : "false";
		*outlen = strlen(*out);
		return LOG_V_BARE;
	case LOG_F_TIME:
		*out = tmp;
		*outlen = log_fmt_time(f->v.u, tmp, cap);
		return *outlen ? LOG_V_STR : LOG_V_OMIT;
	case LOG_F_DUR:
		*out = tmp;
		*outlen = log_fmt_dur(f->v.u, tmp, cap);
		return *outlen ? LOG_V_STR : LOG_V_OMIT;
	case LOG_F_ADDR:
		*out = tmp;
		*outlen = log_fmt_addr(f->v.addr, tmp, cap);
		return *outlen ? LOG_V_STR : LOG_V_OMIT;
	default:
		return LOG_V_OMIT;
	}
	if (n <= 0 || (size_t)n >= cap)
		return LOG_V_OMIT;
	*out = tmp;
	*outlen = (size_t)n;
	return LOG_V_BARE;
}

/* ---- JSON ------------------------------------------------------------- */

static const char hexd[] = "0123456789abcdef";

/* "\u00XX" into esc (6 bytes, not NUL-terminated); returns 6. */
static size_t esc_u00(char *esc, uint8_t c)
{
	esc[0] = '\\';
	esc[1] = 'u';
	esc[2] = '0';
	esc[3] = '0';
	esc[4] = hexd[c >> 4];
	esc[5] = hexd[c & 15];
	return 6;
}

/* A quoted JSON string. Cut at a character boundary when space runs out
 * (the closing quote always fits); false if not even `""` fit. */
static bool w_json_str(struct log_w *w, const char *s, size_t n)
{
	const uint8_t *u = (const uint8_t *)s;
	size_t start = w->len;
	char esc[8];

	if (w->full || w->lim - w->len < 2) {
		w->full = true;
		return false;
	}
	w->p[w->len++] = '"';
	for (size_t i = 0; i < n;) {
		const char *piece = esc;
		size_t plen = 2, adv = 1;
		uint8_t c = u[i];

		esc[0] = '\\';
		switch (c) {
		case '"':
			esc[1] = '"';
			break;
		case '\\':
			esc[1] = '\\';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		default:
			if (c < 0x20 || c == 0x7f) {
				plen = esc_u00(esc, c);
			} else if (c < 0x80) {
				piece = s + i;
				plen = 1;
			} else {
				adv = log_utf8_len(u + i, n - i);
				if (adv) {
					piece = s + i;
					plen = adv;
				} else {
					/* an invalid byte stands for itself as U+00XX */
					plen = esc_u00(esc, c);
					adv = 1;
				}
			}
			break;
		}
		if (plen + 1 > w->lim - w->len) {
			w->full = true;
			break;
		}
		memcpy(w->p + w->len, piece, plen);
		w->len += plen;
		i += adv;
	}
	if (n && w->len == start + 1) {
		/* nothing of a non-empty value fit: leave it out altogether */
		w->len = start;
		w->full = true;
		return false;
	}
	w->p[w->len++] = '"';
	return true;
}

/* `,"key":` + value; rolled back whole if even the key does not fit. */
static bool w_json_field(struct log_w *w, bool first, const char *key, enum log_vkind kind,
			 const char *v, size_t vlen)
{
	size_t mark = w->len;

	if (!first && !log_w_raw(w, ",", 1))
		goto undo;
	if (!w_json_str(w, key, strlen(key)) || !log_w_raw(w, ":", 1))
		goto undo;
	if (kind == LOG_V_STR) {
		if (!w_json_str(w, v, vlen))
			goto undo;
	} else if (!log_w_raw(w, v, vlen)) {
		goto undo;
	}
	return true;
undo:
	w->len = mark;
	w->full = true;
	return false;
}

bool log_format_json_w(struct log_w *w, const struct log_rec *r, const char *msg,
		       const struct log_json_opts *o)
{
	size_t tail = o->newline ? 2 : 1;
	char tmp[96];
	const char *v;
	size_t vlen;
	bool any = false;
	int n;

	if (w->lim - w->len < tail + 1)
		return false;
	w->lim -= tail; /* keep room for "}" [+ "\n"] */
	w->p[w->len++] = '{';

	if (w_json_field(w, true, "daemon_name", LOG_V_STR, log_group(), strlen(log_group())))
		any = true;
	n = snprintf(tmp, sizeof(tmp), "%ld", (long)getpid());
	if (w_json_field(w, !any, "pid", LOG_V_BARE, tmp, (size_t)n))
		any = true;
	if (r->lg &&
	    w_json_field(w, !any, "log_type", LOG_V_STR, log_rec_type(r), strlen(log_rec_type(r))))
		any = true;
	for (unsigned i = 0; i < r->n && !w->full; i++) {
		enum log_vkind k = log_field_value(&r->f[i], tmp, sizeof(tmp), &v, &vlen);
		if (k != LOG_V_OMIT && w_json_field(w, !any, r->f[i].key, k, v, vlen))
			any = true;
	}
	if (o->report_ts && !w->full) {
		n = snprintf(tmp, sizeof(tmp), "%" PRIu64, o->report_ts_val);
		if (w_json_field(w, !any, "report_ts", LOG_V_BARE, tmp, (size_t)n))
			any = true;
	}
	if (msg && !w->full)
		w_json_field(w, !any, o->msg_key, LOG_V_STR, msg, strlen(msg));

	w->lim += tail;
	w->p[w->len++] = '}';
	if (o->newline)
		w->p[w->len++] = '\n';
	return true;
}

size_t log_rec_format_json(const struct log_rec *r, const char *msg, char *buf, size_t cap)
{
	struct log_json_opts o = {.msg_key = "message", .newline = true};
	struct log_w w = {.p = buf, .len = 0, .lim = cap ? cap - 1 : 0, .full = false};

	if (cap < 4 || !log_format_json_w(&w, r, msg, &o)) {
		if (cap)
			buf[0] = '\0';
		return 0;
	}
	buf[w.len] = '\0';
	return w.len;
}
