/* Internals shared by the proxyd/http files: character classes of RFC 9110 §5.6
 * and the header-list walker. Not for use outside proxyd/http. */
#ifndef G3C_PROXYD_HTTP_INT_H
#define G3C_PROXYD_HTTP_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "common/slice.h"
#include "proxyd/http/http_parse.h"

/* tchar: "!#$%&'*+-.^_`|~" / DIGIT / ALPHA (RFC 9110 §5.6.2). */
static inline bool http_is_tchar(uint8_t c)
{
	/* bit c of the 256-bit set of tchars */
	static const uint64_t set[4] = {0x03ff6cfa00000000ull, 0x57ffffffc7fffffeull, 0, 0};

	return (set[c >> 6] >> (c & 63)) & 1;
}

/* field-vchar / SP / HTAB: every byte but CTLs (HT excepted) and DEL
 * (RFC 9110 §5.5; obs-text allowed). */
static inline bool http_is_field_byte(uint8_t c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* A valid non-empty token. */
static inline bool http_is_token(struct slice s)
{
	if (s.len == 0)
		return false;
	for (size_t i = 0; i < s.len; i++)
		if (!http_is_tchar(s.p[i]))
			return false;
	return true;
}

/* Next element of a comma-separated list (RFC 9110 §5.6.1): *elem gets it
 * trimmed of OWS; empty elements are returned too (callers decide). Returns
 * false when *rest is exhausted. */
static inline bool http_list_next(struct slice *rest, struct slice *elem)
{
	struct slice head, tail;

	if (rest->p == NULL)
		return false;
	if (slice_split(*rest, ',', &head, &tail)) {
		*rest = tail;
	} else {
		*rest = slice_make(NULL, 0);
	}
	*elem = slice_trim(head);
	return true;
}

/* Header semantics once the head is split (http_fields.c): framing,
 * connection options, Host and the target. PARSE_OK or PARSE_INVALID. */
enum parse_res http_request_semantics(struct http_request *req, const char **why);
enum parse_res http_response_semantics(struct http_response *rsp, enum http_method req_method,
				       const char **why);

#endif
