/* Record formatters for the syslog (RFC 5424) and journald drivers. */
#include "common/log.h"
#include "common/log_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char hexd[] = "0123456789abcdef";

/* ---- syslog ----------------------------------------------------------- */

/* Escape one character of a syslog value the way g3 does (Rust's
 * escape_debug): \t \r \n \0 \\ \" \' and \u{XX} for other controls; a byte
 * that is not UTF-8 becomes \xXX. Returns bytes consumed; *piece and *plen are
 * what to write (esc is scratch of >= 8 bytes). */
static size_t kv_escape(const uint8_t *u, size_t n, char *esc, const char **piece, size_t *plen)
{
	uint8_t c = u[0];
	size_t adv;
	unsigned cp;

	*piece = esc;
	*plen = 2;
	esc[0] = '\\';
	switch (c) {
	case '\t':
		esc[1] = 't';
		return 1;
	case '\r':
		esc[1] = 'r';
		return 1;
	case '\n':
		esc[1] = 'n';
		return 1;
	case '\0':
		esc[1] = '0';
		return 1;
	case '\\':
	case '"':
	case '\'':
		esc[1] = (char)c;
		return 1;
	default:
		break;
	}
	if (c >= 0x20 && c < 0x7f) {
		*piece = (const char *)u;
		*plen = 1;
		return 1;
	}
	if (c < 0x80) {
		cp = c;
		goto unicode;
	}
	adv = log_utf8_len(u, n);
	if (!adv) {
		esc[1] = 'x';
		esc[2] = hexd[c >> 4];
		esc[3] = hexd[c & 15];
		*plen = 4;
		return 1;
	}
	if (adv == 2 && c == 0xc2 && u[1] < 0xa0) { /* C1 controls U+0080..U+009F */
		cp = u[1];
		adv = 2;
		goto unicode_adv;
	}
	*piece = (const char *)u;
	*plen = adv;
	return adv;
unicode:
	adv = 1;
unicode_adv:
	*plen = (size_t)snprintf(esc, 8, "\\u{%x}", cp);
	return adv;
}

/* Escaped text, cut when space runs out leaving `keep` bytes free. Returns
 * the number of input bytes written. */
static size_t w_kv_text(struct log_w *w, const char *s, size_t n, size_t keep)
{
	const uint8_t *u = (const uint8_t *)s;
	char esc[8];
	size_t i = 0;

	while (i < n) {
		const char *piece;
		size_t plen;
		size_t adv = kv_escape(u + i, n - i, esc, &piece, &plen);

		if (w->full || plen + keep > w->lim - w->len) {
			w->full = true;
			break;
		}
		memcpy(w->p + w->len, piece, plen);
		w->len += plen;
		i += adv;
	}
	return i;
}

/* ", key=value" (no separator for the first); strings quoted. */
static bool w_kv_field(struct log_w *w, bool first, const char *key, enum log_vkind kind,
		       const char *v, size_t vlen)
{
	size_t mark = w->len;

	if (!first && !log_w_raw(w, ", ", 2))
		goto undo;
	if (w_kv_text(w, key, strlen(key), 0) != strlen(key) || !log_w_raw(w, "=", 1))
		goto undo;
	if (kind == LOG_V_STR) {
		size_t start;
		if (!log_w_raw(w, "\"", 1) || w->lim - w->len < 1)
			goto undo;
		start = w->len;
		w_kv_text(w, v, vlen, 1);
		if (vlen && w->len == start)
			goto undo;
		w->p[w->len++] = '"';
	} else if (!log_w_raw(w, v, vlen)) {
		goto undo;
	}
	return true;
undo:
	w->len = mark;
	w->full = true;
	return false;
}

/* RFC 5424 header fields are PRINTUSASCII with a length limit; "-" = nil. */
static void w_hdr_token(struct log_w *w, const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0) {
		log_w_raw(w, "-", 1);
		return;
	}
	if (n > max)
		n = max;
	for (size_t i = 0; i < n; i++) {
		char c = (s[i] > 32 && s[i] < 127) ? s[i] : '_';
		log_w_raw(w, &c, 1);
	}
}

size_t log_format_syslog(const struct log_rec *r, const char *msg, const struct log_syslog_hdr *h,
			 char *buf, size_t cap, bool *truncated)
{
	struct log_w w = {.p = buf, .len = 0, .lim = cap, .full = false};
	char tmp[96];
	const char *v;
	size_t vlen;
	bool first = true;
	int n;

	*truncated = false;
	n = snprintf(tmp, sizeof(tmp), "<%d>1 ", h->facility * 8 + (int)LOG_LVL_INFO);
	log_w_raw(&w, tmp, (size_t)n);
	if (!log_fmt_time(h->now_us, tmp, sizeof(tmp)))
		strcpy(tmp, "-");
	log_w_raw(&w, tmp, strlen(tmp));
	log_w_raw(&w, " ", 1);
	w_hdr_token(&w, h->hostname, 255);
	log_w_raw(&w, " ", 1);
	w_hdr_token(&w, h->app, 48);
	n = snprintf(tmp, sizeof(tmp), " %ld ", h->pid);
	log_w_raw(&w, tmp, (size_t)n);
	w_hdr_token(&w, h->msgid, 32);
	log_w_raw(&w, " - ", 3);
	if (w.full)
		return 0;

	if (h->cee) {
		struct log_json_opts o = {.msg_key = "msg",
					  .report_ts = h->report_ts,
					  .report_ts_val = h->now_us / 1000000u};
		const char *flag = h->cee_flag && *h->cee_flag ? h->cee_flag : "@cee:";
		if (!log_w_raw(&w, flag, strlen(flag)) || !log_format_json_w(&w, r, msg, &o))
			return 0;
		*truncated = w.full;
		return w.len;
	}

	if (msg && *msg) {
		w_kv_text(&w, msg, strlen(msg), 0);
		first = false;
	}
	if (w_kv_field(&w, first, "daemon_name", LOG_V_STR, log_group(), strlen(log_group())))
		first = false;
	n = snprintf(tmp, sizeof(tmp), "%ld", h->pid);
	if (w_kv_field(&w, first, "pid", LOG_V_BARE, tmp, (size_t)n))
		first = false;
	if (r->lg &&
	    w_kv_field(&w, first, "log_type", LOG_V_STR, log_rec_type(r), strlen(log_rec_type(r))))
		first = false;
	for (unsigned i = 0; i < r->n && !w.full; i++) {
		enum log_vkind k = log_field_value(&r->f[i], tmp, sizeof(tmp), &v, &vlen);
		if (k != LOG_V_OMIT && w_kv_field(&w, first, r->f[i].key, k, v, vlen))
			first = false;
	}
	if (h->report_ts && !w.full) {
		n = snprintf(tmp, sizeof(tmp), "%" PRIu64, h->now_us / 1000000u);
		w_kv_field(&w, first, "report_ts", LOG_V_BARE, tmp, (size_t)n);
	}
	*truncated = w.full;
	return w.len;
}

/* ---- journald --------------------------------------------------------- */

/* "KEY=value" with KEY upper-cased and restricted to [A-Z0-9_] (at most 64
 * characters, starting with a letter). The value is cut to fit; false when
 * not even "KEY=" fit. */
static bool journal_item(struct log_w *w, const char *key, const char *v, size_t vlen,
			 struct iovec *iov)
{
	size_t start = w->len;
	size_t klen = 0;

	if (!((key[0] >= 'a' && key[0] <= 'z') || (key[0] >= 'A' && key[0] <= 'Z'))) {
		if (!log_w_raw(w, "F_", 2))
			return false;
		klen = 2;
	}
	for (const char *k = key; *k && klen < 64; k++, klen++) {
		char c = *k;
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		else if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
			c = '_';
		if (!log_w_raw(w, &c, 1))
			goto undo;
	}
	if (!log_w_raw(w, "=", 1))
		goto undo;
	if (vlen > w->lim - w->len) {
		vlen = w->lim - w->len;
		w->full = true;
	}
	memcpy(w->p + w->len, v, vlen);
	w->len += vlen;
	iov->iov_base = w->p + start;
	iov->iov_len = w->len - start;
	return true;
undo:
	w->len = start;
	w->full = true;
	return false;
}

size_t log_journal_build(const struct log_rec *r, const char *msg, const char *ident, char *buf,
			 size_t cap, struct iovec *iov, size_t maxiov, bool *truncated)
{
	struct log_w w = {.p = buf, .len = 0, .lim = cap, .full = false};
	char tmp[96];
	const char *v;
	size_t vlen, niov = 0;
	int n;

#define ITEM(k, val, len)                                                                  \
	do {                                                                               \
		if (niov < maxiov && !w.full && journal_item(&w, k, val, len, &iov[niov])) \
			niov++;                                                            \
	} while (0)

	ITEM("MESSAGE", msg ? msg : "", msg ? strlen(msg) : 0);
	ITEM("PRIORITY", "6", 1);
	ITEM("SYSLOG_IDENTIFIER", ident, strlen(ident));
	ITEM("DAEMON_NAME", log_group(), strlen(log_group()));
	n = snprintf(tmp, sizeof(tmp), "%ld", (long)getpid());
	ITEM("PID", tmp, (size_t)n);
	if (r->lg)
		ITEM("LOG_TYPE", log_rec_type(r), strlen(log_rec_type(r)));
	for (unsigned i = 0; i < r->n; i++) {
		enum log_vkind k = log_field_value(&r->f[i], tmp, sizeof(tmp), &v, &vlen);
		if (k != LOG_V_OMIT)
			ITEM(r->f[i].key, v, vlen);
		if (niov == maxiov && i + 1 < r->n)
			w.full = true;
	}
#undef ITEM
	*truncated = w.full;
	return niov;
}
