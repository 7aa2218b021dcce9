/* Chunked transfer coding scanner (RFC 9112 §7.1). The body is relayed as
 * is; this only finds where it ends and refuses what a downstream parser
 * could read differently (lone LF or CR, junk after the size, signs,
 * overflow, folded or malformed trailers). One byte at a time except inside
 * chunk data, which is skipped in one step. */
#include "proxyd/http/http_parse.h"

#include "proxyd/http/http_int.h"

enum ch_state {
	CH_SIZE0 = 0, /* first hex digit of a chunk size */
	CH_SIZE,      /* more hex digits */
	CH_SIZE_WS,   /* BWS after the size: only ';' may follow */
	CH_EXT,	      /* chunk-ext up to CR */
	CH_SIZE_LF,   /* LF ending the size line */
	CH_DATA,      /* chunk data, left bytes to go */
	CH_DATA_CR,   /* CRLF after the data */
	CH_DATA_LF,
	CH_TRAILER,  /* start of a trailer line or of the final CRLF */
	CH_TR_NAME,  /* trailer field name */
	CH_TR_VALUE, /* trailer field value up to CR */
	CH_TR_LF,    /* LF ending a trailer line */
	CH_FINAL_LF, /* LF ending the body */
	CH_DONE,
	CH_FAILED,
};

void http_chunked_init(struct http_chunked *c, size_t max_line)
{
	memset(c, 0, sizeof(*c));
	c->state = CH_SIZE0;
	c->max_line = max_line;
}

bool http_chunked_done(const struct http_chunked *c)
{
	return c->state == CH_DONE;
}

/* The trailer section may hold max_line * 8 bytes (saturating). */
static size_t trailer_max(const struct http_chunked *c)
{
	return c->max_line > SIZE_MAX / 8 ? SIZE_MAX : c->max_line * 8;
}

/* One byte of a size line, a trailer line or a CRLF. Returns PARSE_AGAIN to
 * go on, PARSE_OK at the end of the body, or an error with *why set. */
static enum parse_res step(struct http_chunked *c, uint8_t b, const char **why)
{
	int d;

	switch (c->state) {
	case CH_SIZE0:
	case CH_SIZE:
		d = slice_hex_digit(b);
		if (d >= 0) {
			if (c->left > (HTTP_MAX_BODY_LEN - (uint64_t)d) >> 4) {
				*why = "chunk size overflow";
				return PARSE_INVALID;
			}
			c->left = (c->left << 4) + (uint64_t)d;
			c->state = CH_SIZE;
			break;
		}
		if (c->state == CH_SIZE0) {
			*why = "invalid chunk size";
			return PARSE_INVALID;
		}
		if (b == ';') {
			c->state = CH_EXT;
		} else if (slice_is_space(b)) {
			c->state = CH_SIZE_WS;
		} else if (b == '\r') {
			c->state = CH_SIZE_LF;
		} else {
			*why = b == '\n' ? "bare LF in chunked body" : "invalid chunk size";
			return PARSE_INVALID;
		}
		break;
	case CH_SIZE_WS:
		if (b == ';') {
			c->state = CH_EXT;
		} else if (!slice_is_space(b)) {
			*why = "invalid chunk size";
			return PARSE_INVALID;
		}
		break;
	case CH_EXT:
		if (b == '\r') {
			c->state = CH_SIZE_LF;
		} else if (!http_is_field_byte(b)) {
			*why = b == '\n' ? "bare LF in chunked body"
					 : "control byte in chunk extension";
			return PARSE_INVALID;
		}
		break;
	case CH_SIZE_LF:
		if (b != '\n') {
			*why = "bare CR in chunked body";
			return PARSE_INVALID;
		}
		c->line_len = 0;
		c->chunks++;
		c->state = c->left ? CH_DATA : CH_TRAILER;
		return PARSE_AGAIN;
	case CH_DATA_CR:
		if (b != '\r') {
			*why = "missing CRLF after chunk data";
			return PARSE_INVALID;
		}
		c->state = CH_DATA_LF;
		return PARSE_AGAIN;
	case CH_DATA_LF:
		if (b != '\n') {
			*why = "missing CRLF after chunk data";
			return PARSE_INVALID;
		}
		c->state = CH_SIZE0;
		c->line_len = 0;
		return PARSE_AGAIN;
	case CH_TRAILER:
		if (b == '\r') {
			c->state = CH_FINAL_LF;
			return PARSE_AGAIN;
		}
		if (!http_is_tchar(b)) {
			if (slice_is_space(b))
				*why = "obs-fold in trailer";
			else
				*why = b == '\n' ? "bare LF in chunked body"
						 : "malformed trailer field";
			return PARSE_INVALID;
		}
		c->state = CH_TR_NAME;
		break;
	case CH_TR_NAME:
		if (b == ':' && c->line_len > 0) {
			c->state = CH_TR_VALUE;
		} else if (!http_is_tchar(b)) {
			*why = b == '\n' ? "bare LF in chunked body" : "malformed trailer field";
			return PARSE_INVALID;
		}
		break;
	case CH_TR_VALUE:
		if (b == '\r') {
			c->state = CH_TR_LF;
		} else if (!http_is_field_byte(b)) {
			*why = b == '\n' ? "bare LF in chunked body"
					 : "control byte in trailer field";
			return PARSE_INVALID;
		}
		break;
	case CH_TR_LF:
	case CH_FINAL_LF:
		if (b != '\n') {
			*why = "bare CR in chunked body";
			return PARSE_INVALID;
		}
		if (c->state == CH_FINAL_LF) {
			c->state = CH_DONE;
			return PARSE_OK;
		}
		c->trailer_bytes++;
		c->line_len = 0;
		c->state = CH_TRAILER;
		return PARSE_AGAIN;
	default:
		*why = "chunked scanner in a bad state";
		return PARSE_INVALID;
	}
	/* a byte of a size or trailer line; its CR does not count */
	if (b != '\r' && ++c->line_len > c->max_line) {
		*why = c->state >= CH_TRAILER ? "trailer line too long"
					      : "chunk size line too long";
		return PARSE_INVALID;
	}
	if (c->state >= CH_TRAILER && ++c->trailer_bytes > trailer_max(c)) {
		*why = "trailer section too large";
		return PARSE_TOO_BIG;
	}
	return PARSE_AGAIN;
}

enum parse_res http_chunked_scan(struct http_chunked *c, const uint8_t *p, size_t len, size_t *used,
				 const char **why)
{
	const char *dummy;
	size_t i = 0;

	if (!why)
		why = &dummy;
	*why = NULL;
	if (c->state == CH_DONE) {
		*used = 0;
		return PARSE_OK;
	}
	if (c->state == CH_FAILED) {
		*used = 0;
		*why = "chunked body already failed";
		return PARSE_INVALID;
	}
	while (i < len) {
		enum parse_res r;

		if (c->state == CH_DATA) {
			uint64_t n = MIN(c->left, (uint64_t)(len - i));
			i += (size_t)n;
			c->left -= n;
			if (c->left == 0)
				c->state = CH_DATA_CR;
			continue;
		}
		r = step(c, p[i], why);
		if (r == PARSE_AGAIN) {
			i++;
			continue;
		}
		if (r == PARSE_OK) {
			*used = i + 1;
			return PARSE_OK;
		}
		c->state = CH_FAILED;
		*used = i;
		return r;
	}
	*used = len;
	return PARSE_AGAIN;
}
