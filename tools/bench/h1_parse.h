/* HTTP/1.x response parsing for g3bench (RFC 9112): a head parser over a
 * complete buffer and an incremental body framer (Content-Length, chunked,
 * close-delimited). Both borrow their input and allocate nothing. */
#ifndef G3C_TOOLS_BENCH_H1_PARSE_H
#define G3C_TOOLS_BENCH_H1_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/slice.h"

enum h1_body_kind {
	H1_BODY_NONE = 0, /* HEAD, 1xx, 204, 304, or Content-Length: 0 */
	H1_BODY_LENGTH,	  /* Content-Length bytes */
	H1_BODY_CHUNKED,  /* Transfer-Encoding: chunked */
	H1_BODY_EOF,	  /* until the server closes */
};

struct h1_head {
	int status;	 /* 100..599 */
	int minor;	 /* HTTP/1.minor */
	size_t head_len; /* bytes of status line + headers + blank line */
	enum h1_body_kind body;
	uint64_t content_length; /* for H1_BODY_LENGTH */
	bool conn_close;	 /* the connection cannot be reused after the body */
};

/* Parse a response head at the start of s. head_request: the request was
 * HEAD (no body whatever the headers say). Returns PARSE_OK with *out
 * filled, PARSE_AGAIN when the blank line has not arrived yet (and s is
 * shorter than max), PARSE_TOO_BIG when no head ends within max bytes,
 * PARSE_INVALID for a malformed status line or header, a bad or
 * conflicting Content-Length. */
enum parse_res h1_head_parse(struct slice s, bool head_request, size_t max, struct h1_head *out);

enum h1_chunk_state {
	H1_CH_SIZE = 0,
	H1_CH_EXT,
	H1_CH_SIZE_LF,
	H1_CH_DATA,
	H1_CH_DATA_CR,
	H1_CH_DATA_LF,
	H1_CH_TRAILER_START,
	H1_CH_TRAILER,
	H1_CH_TRAILER_LF,
	H1_CH_FINAL_LF,
};

struct h1_body {
	enum h1_body_kind kind;
	uint64_t left; /* LENGTH: bytes left; CHUNKED: bytes left of this chunk */
	enum h1_chunk_state ch;
	unsigned size_digits;
};

/* Start framing the body announced by head. */
void h1_body_init(struct h1_body *b, const struct h1_head *head);

/* Consume body bytes from s; *used is set to the bytes that belong to the
 * body. Returns PARSE_OK when the body is complete (bytes after *used
 * belong to the next response), PARSE_AGAIN when all of s was consumed and
 * more is needed (H1_BODY_EOF always says AGAIN: its end is the close),
 * PARSE_INVALID for malformed chunk framing. */
enum parse_res h1_body_feed(struct h1_body *b, struct slice s, size_t *used);

#endif
