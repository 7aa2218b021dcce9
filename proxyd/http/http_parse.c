/* Request and response heads (RFC 9112 §2-§6). Every call parses from the
 * start of the buffer; while the head is incomplete it only walks the start
 * line byte by byte and the rest with memchr, so slow senders cost little.
 * The checks run strictly left to right, which makes results prefix-stable:
 * a prefix never gives a different verdict than the whole head. */
#include "proxyd/http/http_parse.h"

#include "proxyd/http/http_int.h"

struct method_name {
	const char *name;
	enum http_method m;
};

static const struct method_name methods[] = {
	{"GET", HTTP_M_GET},	 {"HEAD", HTTP_M_HEAD},	    {"POST", HTTP_M_POST},
	{"PUT", HTTP_M_PUT},	 {"DELETE", HTTP_M_DELETE}, {"OPTIONS", HTTP_M_OPTIONS},
	{"TRACE", HTTP_M_TRACE}, {"PATCH", HTTP_M_PATCH},   {"CONNECT", HTTP_M_CONNECT},
};

enum http_method http_method_from(struct slice s)
{
	for (size_t i = 0; i < ARRAY_SIZE(methods); i++)
		if (slice_eq_cstr(s, methods[i].name))
			return methods[i].m;
	return HTTP_M_OTHER;
}

static bool find_header(const struct http_header *h, unsigned n, const char *name,
			struct slice *value)
{
	for (unsigned i = 0; i < n; i++) {
		if (slice_case_eq_cstr(h[i].name, name)) {
			if (value)
				*value = h[i].value;
			return true;
		}
	}
	return false;
}

bool http_request_header(const struct http_request *r, const char *name, struct slice *value)
{
	return find_header(r->headers, r->nheaders, name, value);
}

bool http_response_header(const struct http_response *r, const char *name, struct slice *value)
{
	return find_header(r->headers, r->nheaders, name, value);
}

bool http_list_has_token(struct slice value, const char *tok)
{
	struct slice rest = value, e;

	while (http_list_next(&rest, &e))
		if (slice_case_eq_cstr(e, tok))
			return true;
	return false;
}

/* RFC 9112 §2.2: empty lines before the start line are ignored. */
static enum parse_res skip_empty_lines(const uint8_t *p, size_t lim, size_t *i, const char **why)
{
	while (*i < lim && (p[*i] == '\r' || p[*i] == '\n')) {
		if (p[*i] == '\n') {
			*why = "bare LF line ending";
			return PARSE_INVALID;
		}
		if (*i + 1 == lim)
			return PARSE_AGAIN;
		if (p[*i + 1] != '\n') {
			*why = "bare CR in head";
			return PARSE_INVALID;
		}
		*i += 2;
	}
	return *i < lim ? PARSE_OK : PARSE_AGAIN;
}

/* "HTTP/1.0" or "HTTP/1.1" at p[*i], checked as far as the data goes. */
static enum parse_res scan_version(const uint8_t *p, size_t lim, size_t *i, uint8_t *minor,
				   const char **why)
{
	static const char v[] = "HTTP/1.";

	for (size_t k = 0; k < sizeof(v) - 1; k++, (*i)++) {
		if (*i == lim)
			return PARSE_AGAIN;
		if (p[*i] != (uint8_t)v[k]) {
			*why = "unsupported HTTP version (only HTTP/1.0 and HTTP/1.1)";
			return PARSE_INVALID;
		}
	}
	if (*i == lim)
		return PARSE_AGAIN;
	if (p[*i] != '0' && p[*i] != '1') {
		*why = "unsupported HTTP version (only HTTP/1.0 and HTTP/1.1)";
		return PARSE_INVALID;
	}
	*minor = (uint8_t)(p[*i] - '0');
	(*i)++;
	return PARSE_OK;
}

/* CRLF at p[*i]; what else may stand there was checked by the caller. */
static enum parse_res scan_crlf(const uint8_t *p, size_t lim, size_t *i, const char *junk,
				const char **why)
{
	if (*i == lim)
		return PARSE_AGAIN;
	if (p[*i] != '\r') {
		*why = p[*i] == '\n' ? "bare LF line ending" : junk;
		return PARSE_INVALID;
	}
	if (++*i == lim)
		return PARSE_AGAIN;
	if (p[*i] != '\n') {
		*why = "bare CR in head";
		return PARSE_INVALID;
	}
	(*i)++;
	return PARSE_OK;
}

/* request-line = method SP request-target SP HTTP-version CRLF (§3),
 * exactly one SP between the parts. */
static enum parse_res scan_request_line(const uint8_t *p, size_t lim, size_t *i,
					struct http_request *req, const char **why)
{
	size_t start = *i;

	while (*i < lim && http_is_tchar(p[*i]))
		(*i)++;
	if (*i == lim)
		return PARSE_AGAIN;
	if (*i == start) {
		*why = "invalid method";
		return PARSE_INVALID;
	}
	if (p[*i] != ' ') {
		*why = "malformed request line";
		return PARSE_INVALID;
	}
	req->method_str = slice_make(p + start, *i - start);
	start = ++*i;
	while (*i < lim && p[*i] > 0x20 && p[*i] < 0x7f)
		(*i)++;
	if (*i == lim)
		return PARSE_AGAIN;
	if (p[*i] != ' ') {
		if (p[*i] == '\r' || p[*i] == '\n')
			*why = "missing HTTP version in request line";
		else
			*why = "invalid byte in request-target";
		return PARSE_INVALID;
	}
	if (*i == start) {
		*why = "empty request-target (extra space in request line)";
		return PARSE_INVALID;
	}
	req->target_raw = slice_make(p + start, *i - start);
	(*i)++;
	enum parse_res r = scan_version(p, lim, i, &req->minor, why);
	if (r != PARSE_OK)
		return r;
	return scan_crlf(p, lim, i, "malformed request line", why);
}

/* status-line = HTTP-version SP status-code SP [ reason-phrase ] CRLF (§4);
 * a missing SP before an empty reason is tolerated. */
static enum parse_res scan_status_line(const uint8_t *p, size_t lim, size_t *i,
				       struct http_response *rsp, const char **why)
{
	enum parse_res r = scan_version(p, lim, i, &rsp->minor, why);
	size_t start;

	if (r != PARSE_OK)
		return r;
	if (*i == lim)
		return PARSE_AGAIN;
	if (p[*i] != ' ') {
		*why = "malformed status line";
		return PARSE_INVALID;
	}
	(*i)++;
	for (int k = 0; k < 3; k++, (*i)++) {
		if (*i == lim)
			return PARSE_AGAIN;
		if (p[*i] < '0' || p[*i] > '9' || (k == 0 && (p[*i] < '1' || p[*i] > '5'))) {
			*why = "invalid status code";
			return PARSE_INVALID;
		}
		rsp->status = (uint16_t)(rsp->status * 10 + (p[*i] - '0'));
	}
	if (*i == lim)
		return PARSE_AGAIN;
	if (p[*i] == ' ') {
		start = ++*i;
		while (*i < lim && p[*i] != '\r' && http_is_field_byte(p[*i]))
			(*i)++;
		rsp->reason = slice_make(p + start, *i - start);
	} else if (p[*i] != '\r' && p[*i] != '\n') {
		*why = "invalid status code";
		return PARSE_INVALID;
	} else {
		rsp->reason = slice_make(p + *i, 0);
	}
	return scan_crlf(p, lim, i, "invalid byte in reason phrase", why);
}

/* Find the empty line ending the field section that starts at from. Every
 * LF must follow a CR. Counts field lines on the way. */
static enum parse_res scan_fields(const uint8_t *p, size_t lim, size_t from, size_t *end,
				  const char **why)
{
	size_t i = from;
	unsigned n = 0;

	for (;;) {
		const uint8_t *nl = i < lim ? memchr(p + i, '\n', lim - i) : NULL;
		size_t j;

		if (!nl)
			return PARSE_AGAIN;
		j = (size_t)(nl - p);
		if (j == i || p[j - 1] != '\r') {
			*why = "bare LF line ending";
			return PARSE_INVALID;
		}
		if (j - 1 == i) {
			*end = j + 1;
			return PARSE_OK;
		}
		if (++n > HTTP_MAX_HEADERS) {
			*why = "more than 128 header fields";
			return PARSE_TOO_BIG;
		}
		i = j + 1;
	}
}

/* field-line = field-name ":" OWS field-value OWS (§5), no obs-fold. */
static enum parse_res parse_field_line(struct slice line, struct http_header *h, const char **why)
{
	size_t k = 0;

	if (slice_is_space(line.p[0])) {
		*why = "obs-fold (header line starting with whitespace)";
		return PARSE_INVALID;
	}
	while (k < line.len && http_is_tchar(line.p[k]))
		k++;
	if (k == line.len) {
		*why = "header line without colon";
		return PARSE_INVALID;
	}
	if (line.p[k] != ':') {
		if (slice_is_space(line.p[k]))
			*why = "whitespace between header name and colon";
		else if (line.p[k] == '\r')
			*why = "bare CR in head";
		else
			*why = "invalid byte in header name";
		return PARSE_INVALID;
	}
	if (k == 0) {
		*why = "empty header name";
		return PARSE_INVALID;
	}
	h->name = slice_make(line.p, k);
	h->value = slice_skip(line, k + 1);
	for (size_t v = 0; v < h->value.len; v++) {
		uint8_t c = h->value.p[v];
		if (!http_is_field_byte(c)) {
			*why = c == '\r' ? "bare CR in head" : "control byte in header value";
			return PARSE_INVALID;
		}
	}
	h->value = slice_trim(h->value);
	return PARSE_OK;
}

/* Split p[from..end) (CRLF-terminated lines, the last one empty) into h. */
static enum parse_res parse_fields(const uint8_t *p, size_t from, size_t end, struct http_header *h,
				   unsigned *n, const char **why)
{
	size_t i = from;

	*n = 0;
	while (i < end - 2) {
		const uint8_t *nl = memchr(p + i, '\n', end - i);
		size_t j = (size_t)(nl - p);

		ASSERT(nl != NULL && *n < HTTP_MAX_HEADERS);
		if (parse_field_line(slice_make(p + i, j - 1 - i), &h[*n], why) != PARSE_OK)
			return PARSE_INVALID;
		(*n)++;
		i = j + 1;
	}
	return PARSE_OK;
}

/* Start line done at *i: find the end of the head and split its fields. */
static enum parse_res parse_head_fields(const uint8_t *p, size_t lim, size_t i,
					struct http_header *h, unsigned *n, size_t *head_len,
					const char **why)
{
	enum parse_res r = scan_fields(p, lim, i, head_len, why);

	if (r != PARSE_OK)
		return r;
	return parse_fields(p, i, *head_len, h, n, why);
}

static enum parse_res finish(enum parse_res r, size_t len, size_t max, const char **why)
{
	if (r == PARSE_AGAIN && len >= max) {
		*why = "head exceeds the maximum size";
		return PARSE_TOO_BIG;
	}
	if (r == PARSE_OK || r == PARSE_AGAIN)
		*why = NULL;
	return r;
}

enum parse_res http_parse_request(const uint8_t *p, size_t len, size_t max,
				  struct http_request *req, const char **why)
{
	size_t lim = MIN(len, max), i = 0;
	const char *dummy;
	enum parse_res r;

	if (!why)
		why = &dummy;
	/* the header array is only written up to nheaders */
	memset(req, 0, offsetof(struct http_request, headers));
	memset(&req->nheaders, 0, sizeof(*req) - offsetof(struct http_request, nheaders));
	r = skip_empty_lines(p, lim, &i, why);
	if (r == PARSE_OK)
		r = scan_request_line(p, lim, &i, req, why);
	if (r == PARSE_OK)
		r = parse_head_fields(p, lim, i, req->headers, &req->nheaders, &req->head_len, why);
	if (r == PARSE_OK)
		r = http_request_semantics(req, why);
	return finish(r, len, max, why);
}

enum parse_res http_parse_response(const uint8_t *p, size_t len, size_t max,
				   enum http_method req_method, struct http_response *rsp,
				   const char **why)
{
	size_t lim = MIN(len, max), i = 0;
	const char *dummy;
	enum parse_res r;

	if (!why)
		why = &dummy;
	memset(rsp, 0, offsetof(struct http_response, headers));
	memset(&rsp->nheaders, 0, sizeof(*rsp) - offsetof(struct http_response, nheaders));
	r = skip_empty_lines(p, lim, &i, why);
	if (r == PARSE_OK)
		r = scan_status_line(p, lim, &i, rsp, why);
	if (r == PARSE_OK)
		r = parse_head_fields(p, lim, i, rsp->headers, &rsp->nheaders, &rsp->head_len, why);
	if (r == PARSE_OK)
		r = http_response_semantics(rsp, req_method, why);
	return finish(r, len, max, why);
}
