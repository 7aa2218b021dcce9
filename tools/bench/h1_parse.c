/* HTTP/1.x response head parser and body framer (see h1_parse.h). */
#include "tools/bench/h1_parse.h"

#include <string.h>
#include <strings.h>

static bool is_tchar(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool name_is(struct slice n, const char *want)
{
	size_t l = strlen(want);

	return n.len == l && strncasecmp((const char *)n.p, want, l) == 0;
}

/* True when the comma-separated list v holds token tok. */
static bool list_has(struct slice v, const char *tok)
{
	size_t tl = strlen(tok), i = 0;

	while (i < v.len) {
		size_t s, e;

		while (i < v.len && (v.p[i] == ' ' || v.p[i] == '\t' || v.p[i] == ','))
			i++;
		s = i;
		while (i < v.len && v.p[i] != ',')
			i++;
		e = i;
		while (e > s && (v.p[e - 1] == ' ' || v.p[e - 1] == '\t'))
			e--;
		if (e - s == tl && strncasecmp((const char *)v.p + s, tok, tl) == 0)
			return true;
	}
	return false;
}

/* True when the last transfer coding of v is "chunked". */
static bool last_is_chunked(struct slice v)
{
	size_t e = v.len, s;

	while (e > 0 && (v.p[e - 1] == ' ' || v.p[e - 1] == '\t'))
		e--;
	s = e;
	while (s > 0 && v.p[s - 1] != ',')
		s--;
	while (s < e && (v.p[s] == ' ' || v.p[s] == '\t'))
		s++;
	return e - s == 7 && strncasecmp((const char *)v.p + s, "chunked", 7) == 0;
}

static int parse_status_line(struct slice l, struct h1_head *out)
{
	const uint8_t *p = l.p;

	/* "HTTP/1.x SSS[ reason]" */
	if (l.len < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[7] < '0' || p[7] > '9' || p[8] != ' ')
		return -1;
	for (int i = 9; i < 12; i++)
		if (p[i] < '0' || p[i] > '9')
			return -1;
	if (l.len > 12 && p[12] != ' ')
		return -1;
	for (size_t i = 12; i < l.len; i++)
		if ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f)
			return -1;
	out->minor = p[7] - '0';
	out->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	if (out->status < 100)
		return -1;
	return 0;
}

enum parse_res h1_head_parse(struct slice s, bool head_request, size_t max, struct h1_head *out)
{
	const uint8_t *end;
	size_t pos, hlen;
	bool have_cl = false, chunked = false, have_te = false, close = false, keep = false;
	uint64_t cl = 0;

	memset(out, 0, sizeof(*out));
	end = memmem(s.p, s.len < max ? s.len : max, "\r\n\r\n", 4);
	if (!end)
		return s.len >= max ? PARSE_TOO_BIG : PARSE_AGAIN;
	hlen = (size_t)(end - s.p) + 4;
	{
		const uint8_t *eol = memchr(s.p, '\r', hlen);

		if (!eol || eol[1] != '\n' ||
		    parse_status_line(slice_make(s.p, (size_t)(eol - s.p)), out) < 0)
			return PARSE_INVALID;
		pos = (size_t)(eol - s.p) + 2;
	}
	while (pos < hlen - 2) {
		const uint8_t *line = s.p + pos, *eol = memchr(line, '\r', hlen - pos);
		size_t llen, n = 0, vs, ve;
		struct slice name, val;

		if (!eol || eol[1] != '\n')
			return PARSE_INVALID;
		llen = (size_t)(eol - line);
		while (n < llen && line[n] != ':') {
			if (!is_tchar(line[n]))
				return PARSE_INVALID;
			n++;
		}
		if (n == 0 || n == llen)
			return PARSE_INVALID;
		vs = n + 1;
		while (vs < llen && (line[vs] == ' ' || line[vs] == '\t'))
			vs++;
		ve = llen;
		while (ve > vs && (line[ve - 1] == ' ' || line[ve - 1] == '\t'))
			ve--;
		for (size_t i = vs; i < ve; i++)
			if ((line[i] < 0x20 && line[i] != '\t') || line[i] == 0x7f)
				return PARSE_INVALID;
		name = slice_make(line, n);
		val = slice_make(line + vs, ve - vs);
		if (name_is(name, "content-length")) {
			uint64_t v = 0;

			if (val.len == 0 || val.len > 18)
				return PARSE_INVALID;
			for (size_t i = 0; i < val.len; i++) {
				if (val.p[i] < '0' || val.p[i] > '9')
					return PARSE_INVALID;
				v = v * 10 + (uint64_t)(val.p[i] - '0');
			}
			if (have_cl && v != cl)
				return PARSE_INVALID;
			have_cl = true;
			cl = v;
		} else if (name_is(name, "transfer-encoding")) {
			have_te = true;
			chunked = last_is_chunked(val);
		} else if (name_is(name, "connection")) {
			close |= list_has(val, "close");
			keep |= list_has(val, "keep-alive");
		}
		pos += llen + 2;
	}
	out->head_len = hlen;
	out->conn_close = close || (out->minor == 0 && !keep);
	if (head_request || out->status < 200 || out->status == 204 || out->status == 304) {
		out->body = H1_BODY_NONE;
	} else if (have_te) {
		/* RFC 9112 6.3: Transfer-Encoding overrides Content-Length; a
		 * coding other than chunked last means read until close. */
		out->body = chunked ? H1_BODY_CHUNKED : H1_BODY_EOF;
		if (!chunked)
			out->conn_close = true;
	} else if (have_cl) {
		out->body = cl ? H1_BODY_LENGTH : H1_BODY_NONE;
		out->content_length = cl;
	} else {
		out->body = H1_BODY_EOF;
		out->conn_close = true;
	}
	return PARSE_OK;
}

void h1_body_init(struct h1_body *b, const struct h1_head *head)
{
	memset(b, 0, sizeof(*b));
	b->kind = head->body;
	b->left = head->body == H1_BODY_LENGTH ? head->content_length : 0;
	b->ch = H1_CH_SIZE;
}

static int hex_digit(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* RFC 9112 7.1: chunk-size [ext] CRLF data CRLF ... 0 CRLF trailers CRLF. */
static enum parse_res chunked_feed(struct h1_body *b, struct slice s, size_t *used)
{
	size_t i = 0;

	while (i < s.len) {
		uint8_t c = s.p[i];
		int d;

		switch (b->ch) {
		case H1_CH_SIZE:
			d = hex_digit(c);
			if (d >= 0) {
				if (++b->size_digits > 15)
					return PARSE_INVALID;
				b->left = b->left << 4 | (uint64_t)d;
			} else if (b->size_digits == 0) {
				return PARSE_INVALID;
			} else if (c == ';' || c == ' ' || c == '\t') {
				b->ch = H1_CH_EXT;
			} else if (c == '\r') {
				b->ch = H1_CH_SIZE_LF;
			} else {
				return PARSE_INVALID;
			}
			i++;
			break;
		case H1_CH_EXT:
			if (c == '\r')
				b->ch = H1_CH_SIZE_LF;
			else if (c < 0x20 && c != '\t')
				return PARSE_INVALID;
			i++;
			break;
		case H1_CH_SIZE_LF:
			if (c != '\n')
				return PARSE_INVALID;
			i++;
			b->size_digits = 0;
			b->ch = b->left ? H1_CH_DATA : H1_CH_TRAILER_START;
			break;
		case H1_CH_DATA: {
			size_t n = s.len - i;

			if (n > b->left)
				n = (size_t)b->left;
			b->left -= n;
			i += n;
			if (b->left == 0)
				b->ch = H1_CH_DATA_CR;
			break;
		}
		case H1_CH_DATA_CR:
			if (c != '\r')
				return PARSE_INVALID;
			b->ch = H1_CH_DATA_LF;
			i++;
			break;
		case H1_CH_DATA_LF:
			if (c != '\n')
				return PARSE_INVALID;
			b->ch = H1_CH_SIZE;
			i++;
			break;
		case H1_CH_TRAILER_START:
			b->ch = c == '\r' ? H1_CH_FINAL_LF : H1_CH_TRAILER;
			if (c == '\n')
				return PARSE_INVALID;
			i++;
			break;
		case H1_CH_TRAILER:
			if (c == '\r')
				b->ch = H1_CH_TRAILER_LF;
			i++;
			break;
		case H1_CH_TRAILER_LF:
			if (c != '\n')
				return PARSE_INVALID;
			b->ch = H1_CH_TRAILER_START;
			i++;
			break;
		case H1_CH_FINAL_LF:
			if (c != '\n')
				return PARSE_INVALID;
			*used = i + 1;
			return PARSE_OK;
		}
	}
	*used = i;
	return PARSE_AGAIN;
}

enum parse_res h1_body_feed(struct h1_body *b, struct slice s, size_t *used)
{
	switch (b->kind) {
	case H1_BODY_NONE:
		*used = 0;
		return PARSE_OK;
	case H1_BODY_LENGTH:
		if (s.len >= b->left) {
			*used = (size_t)b->left;
			b->left = 0;
			return PARSE_OK;
		}
		b->left -= s.len;
		*used = s.len;
		return PARSE_AGAIN;
	case H1_BODY_CHUNKED:
		return chunked_feed(b, s, used);
	case H1_BODY_EOF:
		*used = s.len;
		return PARSE_AGAIN;
	}
	return PARSE_INVALID;
}
