/* Non-owning byte views (`struct slice`) and the result type shared by every
 * incremental parser. A slice borrows its bytes: it stays valid only as long
 * as the storage it points into, and is never NUL-terminated. Header only;
 * no function here allocates. */
#ifndef G3C_COMMON_SLICE_H
#define G3C_COMMON_SLICE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/util.h"

/* Result of an incremental parser run over a slice:
 * PARSE_OK       a complete, valid item was parsed;
 * PARSE_AGAIN    the input is a valid prefix, more bytes are needed;
 * PARSE_INVALID  the input can never become valid;
 * PARSE_TOO_BIG  the item exceeds a configured or representable maximum. */
enum parse_res {
	PARSE_OK = 0,
	PARSE_AGAIN,
	PARSE_INVALID,
	PARSE_TOO_BIG,
};

/* A view of len bytes at p (p may be NULL only when len is 0). */
struct slice {
	const uint8_t *p;
	size_t len;
};

/* Returned by slice_find() when the byte is absent. */
#define SLICE_NPOS SIZE_MAX

/* View over p[0..len). Borrows p. */
static inline struct slice slice_make(const void *p, size_t len)
{
	struct slice s = {(const uint8_t *)p, len};
	return s;
}

/* View over a NUL-terminated string, without the NUL. Borrows s; NULL gives
 * the empty slice. */
static inline struct slice slice_from_cstr(const char *s)
{
	return slice_make(s, s ? strlen(s) : 0);
}

static inline bool slice_is_empty(struct slice s)
{
	return s.len == 0;
}

/* Bytes [off, off + n) of s, clamped to the end of s. */
static inline struct slice slice_sub(struct slice s, size_t off, size_t n)
{
	if (off > s.len)
		off = s.len;
	if (n > s.len - off)
		n = s.len - off;
	return slice_make(s.p + off, n);
}

/* s without its first n bytes (all of them when n >= s.len). */
static inline struct slice slice_skip(struct slice s, size_t n)
{
	return slice_sub(s, n, SIZE_MAX);
}

/* Byte-wise equality. */
static inline bool slice_eq(struct slice a, struct slice b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static inline bool slice_eq_cstr(struct slice a, const char *s)
{
	return slice_eq(a, slice_from_cstr(s));
}

/* ASCII lower-casing; other bytes (including UTF-8) are left alone. */
static inline uint8_t slice_lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + ('a' - 'A')) : c;
}

/* ASCII case-insensitive equality (header names, methods, hosts). */
static inline bool slice_case_eq(struct slice a, struct slice b)
{
	if (a.len != b.len)
		return false;
	for (size_t i = 0; i < a.len; i++)
		if (slice_lower(a.p[i]) != slice_lower(b.p[i]))
			return false;
	return true;
}

static inline bool slice_case_eq_cstr(struct slice a, const char *s)
{
	return slice_case_eq(a, slice_from_cstr(s));
}

/* True when s begins with prefix (byte-wise). An empty prefix always matches. */
static inline bool slice_starts_with(struct slice s, struct slice prefix)
{
	return s.len >= prefix.len && slice_eq(slice_make(s.p, prefix.len), prefix);
}

/* Same, ASCII case-insensitive. */
static inline bool slice_case_starts_with(struct slice s, struct slice prefix)
{
	return s.len >= prefix.len && slice_case_eq(slice_make(s.p, prefix.len), prefix);
}

/* Index of the first byte c in s, or SLICE_NPOS. */
static inline size_t slice_find(struct slice s, uint8_t c)
{
	const uint8_t *q = s.len ? memchr(s.p, c, s.len) : NULL;
	return q ? (size_t)(q - s.p) : SLICE_NPOS;
}

/* Space or horizontal tab (HTTP's OWS). */
static inline bool slice_is_space(uint8_t c)
{
	return c == ' ' || c == '\t';
}

/* s without leading and trailing spaces and tabs. */
static inline struct slice slice_trim(struct slice s)
{
	while (s.len && slice_is_space(s.p[0])) {
		s.p++;
		s.len--;
	}
	while (s.len && slice_is_space(s.p[s.len - 1]))
		s.len--;
	return s;
}

/* Split s at the first byte c: *head gets the bytes before it, *tail those
 * after it (c itself belongs to neither). Returns true when c was found;
 * otherwise *head = s, *tail is empty and false is returned. head and tail
 * may be NULL; either may alias s. */
static inline bool slice_split(struct slice s, uint8_t c, struct slice *head, struct slice *tail)
{
	size_t i = slice_find(s, c);
	struct slice h = s, t = slice_make(s.p + s.len, 0);

	if (i != SLICE_NPOS) {
		h = slice_make(s.p, i);
		t = slice_make(s.p + i + 1, s.len - i - 1);
	}
	if (head)
		*head = h;
	if (tail)
		*tail = t;
	return i != SLICE_NPOS;
}

/* Parse all of s as an unsigned decimal number no larger than max. Only the
 * digits 0-9 are accepted (no sign, spaces or prefix). Returns PARSE_OK and
 * sets *out; PARSE_INVALID for an empty slice or a non-digit; PARSE_TOO_BIG
 * when the value exceeds max (overflow of uint64_t included). *out is only
 * written on PARSE_OK. */
static inline enum parse_res slice_parse_u64(struct slice s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	bool big = false;

	if (s.len == 0)
		return PARSE_INVALID;
	for (size_t i = 0; i < s.len; i++) {
		uint8_t c = s.p[i];
		if (c < '0' || c > '9')
			return PARSE_INVALID;
		/* keep scanning after overflow so junk still reports INVALID */
		uint64_t d = (uint64_t)(c - '0');
		if (!big && (d > max || v > (max - d) / 10))
			big = true;
		if (!big)
			v = v * 10 + d;
	}
	if (big)
		return PARSE_TOO_BIG;
	*out = v;
	return PARSE_OK;
}

/* Value of an ASCII hex digit, or -1. */
static inline int slice_hex_digit(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = slice_lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Parse all of s as unsigned hexadecimal (either case, no "0x", no sign)
 * no larger than max. Same results as slice_parse_u64(). */
static inline enum parse_res slice_parse_hex_u64(struct slice s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	bool big = false;

	if (s.len == 0)
		return PARSE_INVALID;
	for (size_t i = 0; i < s.len; i++) {
		int d = slice_hex_digit(s.p[i]);
		if (d < 0)
			return PARSE_INVALID;
		if (!big && ((uint64_t)d > max || v > (max - (uint64_t)d) >> 4))
			big = true;
		if (!big)
			v = (v << 4) + (uint64_t)d;
	}
	if (big)
		return PARSE_TOO_BIG;
	*out = v;
	return PARSE_OK;
}

/* Copy s into dst as a NUL-terminated string. Returns 0, or -ENOSPC (dst
 * untouched) when s.len + 1 > cap. */
static inline int MUST_CHECK slice_to_cstr(struct slice s, char *dst, size_t cap)
{
	if (cap == 0 || s.len > cap - 1)
		return -ENOSPC;
	if (s.len)
		memcpy(dst, s.p, s.len);
	dst[s.len] = '\0';
	return 0;
}

#endif
