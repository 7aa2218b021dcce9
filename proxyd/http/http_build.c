/* Heads proxyd writes: requests forwarded upstream, responses forwarded to
 * the client (RFC 9110 §7.6.1 hop-by-hop fields removed) and its own short
 * error replies. Bodies are relayed as received, so the framing fields
 * (Content-Length, Transfer-Encoding) always pass through unchanged. */
#include "proxyd/http/http_parse.h"

#include <limits.h>
#include <stdio.h>

#include "proxyd/http/http_int.h"

/* Bounded writer: the first write that does not fit marks it full. */
struct out {
	uint8_t *p;
	size_t cap;
	size_t len;
	bool full;
};

static void put(struct out *o, const void *s, size_t n)
{
	if (o->full || n > o->cap - o->len) {
		o->full = true;
		return;
	}
	if (n)
		memcpy(o->p + o->len, s, n);
	o->len += n;
}

#define put_lit(o, lit) put(o, lit, sizeof(lit) - 1)

static void put_str(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void put_slice(struct out *o, struct slice s)
{
	put(o, s.p, s.len);
}

static void put_uint(struct out *o, unsigned v)
{
	char buf[16];
	size_t i = sizeof(buf);

	do {
		buf[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(o, buf + i, sizeof(buf) - i);
}

static int out_end(const struct out *o)
{
	return o->full ? -ENOSPC : (int)o->len;
}

static struct out out_make(uint8_t *p, size_t cap)
{
	struct out o = {p, MIN(cap, (size_t)INT_MAX), 0, false};
	return o;
}

/* Case-insensitive compare of a header name with a lower-case literal. */
#define NAME_IS(s, lit) \
	((s).len == sizeof(lit) - 1 && slice_case_eq(s, slice_make(lit, sizeof(lit) - 1)))

/* The Connection fields of one message, found once per message so that
 * classifying its fields stays linear (a message has few of them; past
 * CONN_FIELDS_MAX every field is scanned as before). */
#define CONN_FIELDS_MAX 8
struct conn_fields {
	const struct http_header *hs;
	unsigned n;	/* all fields of the message */
	unsigned nconn; /* Connection fields */
	bool overflow;	/* more than CONN_FIELDS_MAX of them */
	unsigned idx[CONN_FIELDS_MAX];
};

static void conn_fields_init(struct conn_fields *cf, const struct http_header *hs, unsigned n)
{
	cf->hs = hs;
	cf->n = n;
	cf->nconn = 0;
	cf->overflow = false;
	for (unsigned i = 0; i < n; i++) {
		if (!NAME_IS(hs[i].name, "connection"))
			continue;
		if (cf->nconn == CONN_FIELDS_MAX) {
			cf->overflow = true;
			break;
		}
		cf->idx[cf->nconn++] = i;
	}
}

/* A Connection option naming a header makes it hop-by-hop, except the
 * framing fields and Host: removing those on request would let a client
 * change how the next hop delimits the body. */
static bool named_by_connection(const struct conn_fields *cf, struct slice name)
{
	if (!cf->nconn || NAME_IS(name, "content-length") || NAME_IS(name, "transfer-encoding") ||
	    NAME_IS(name, "host"))
		return false;
	for (unsigned k = 0; k < (cf->overflow ? cf->n : cf->nconn); k++) {
		const struct http_header *h = &cf->hs[cf->overflow ? k : cf->idx[k]];
		struct slice rest = h->value, e;

		if (cf->overflow && !NAME_IS(h->name, "connection"))
			continue;
		while (http_list_next(&rest, &e))
			if (slice_case_eq(e, name))
				return true;
	}
	return false;
}

static bool is_hop_by_hop(const struct conn_fields *cf, struct slice name, bool keep_upgrade)
{
	/* by length first: most names match none of these lengths */
	switch (name.len) {
	case 2:
		if (NAME_IS(name, "te"))
			return true;
		break;
	case 7:
		if (NAME_IS(name, "trailer"))
			return true;
		/* "Connection: upgrade" names it too */
		if (NAME_IS(name, "upgrade"))
			return !keep_upgrade;
		break;
	case 10:
		if (NAME_IS(name, "connection") || NAME_IS(name, "keep-alive"))
			return true;
		break;
	case 16:
		if (NAME_IS(name, "proxy-connection"))
			return true;
		break;
	case 18:
		if (NAME_IS(name, "proxy-authenticate"))
			return true;
		break;
	case 19:
		if (NAME_IS(name, "proxy-authorization"))
			return true;
		break;
	default:
		break;
	}
	return named_by_connection(cf, name);
}

static void put_end_to_end(struct out *o, const struct http_header *hs, unsigned n,
			   bool keep_upgrade)
{
	struct conn_fields cf;

	conn_fields_init(&cf, hs, n);
	for (unsigned i = 0; i < n; i++) {
		if (is_hop_by_hop(&cf, hs[i].name, keep_upgrade))
			continue;
		put_slice(o, hs[i].name);
		put_lit(o, ": ");
		put_slice(o, hs[i].value);
		put_lit(o, "\r\n");
	}
}

/* host[:port] of the target, brackets around IPv6, no default port. */
static void put_authority(struct out *o, const struct http_target *t)
{
	bool v6 = slice_find(t->host, ':') != SLICE_NPOS;

	if (v6)
		put(o, "[", 1);
	put_slice(o, t->host);
	if (v6)
		put(o, "]", 1);
	if (t->port && t->port != http_scheme_default_port(t->scheme)) {
		put(o, ":", 1);
		put_uint(o, t->port);
	}
}

/* The absolute URI had no path at all (path is our static "/"). */
static bool path_was_empty(const struct http_request *req)
{
	const uint8_t *p = req->target.path.p, *raw = req->target_raw.p;

	return p < raw || p >= raw + req->target_raw.len;
}

/* Origin form of an absolute target (RFC 9112 §3.2.1, §3.2.4 for OPTIONS). */
static void put_origin(struct out *o, const struct http_request *req)
{
	const struct http_target *t = &req->target;

	if (t->form != HTTP_TGT_ABSOLUTE) {
		put_slice(o, req->target_raw);
		return;
	}
	if (req->method == HTTP_M_OPTIONS && path_was_empty(req)) {
		put(o, "*", 1);
		return;
	}
	if (t->path.len && t->path.p[0] == '?')
		put(o, "/", 1);
	put_slice(o, t->path);
}

int http_build_forward_request(const struct http_request *req, bool absolute_form, bool keep_alive,
			       uint8_t *out, size_t cap)
{
	struct out o = out_make(out, cap);

	put_slice(&o, req->method_str);
	put(&o, " ", 1);
	if (req->method == HTTP_M_CONNECT || req->target.form == HTTP_TGT_ASTERISK) {
		put_slice(&o, req->target_raw);
	} else if (!absolute_form) {
		put_origin(&o, req);
	} else if (req->target.form == HTTP_TGT_ABSOLUTE) {
		put_slice(&o, req->target_raw);
	} else {
		/* origin form to a next-hop proxy: rebuild the URI from Host */
		if (req->host_hdr.len == 0)
			return -EINVAL;
		put_str(&o, "http://");
		put_slice(&o, req->host_hdr);
		put_slice(&o, req->target_raw);
	}
	put_str(&o, req->minor ? " HTTP/1.1\r\n" : " HTTP/1.0\r\n");
	if (!req->has_host && req->target.host.len) {
		put_str(&o, "Host: ");
		put_authority(&o, &req->target);
		put(&o, "\r\n", 2);
	}
	put_end_to_end(&o, req->headers, req->nheaders, req->upgrade);
	if (req->upgrade)
		put_str(&o, "Connection: upgrade\r\n");
	else
		put_str(&o, keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n");
	put(&o, "\r\n", 2);
	return out_end(&o);
}

int http_build_forward_response(const struct http_response *rsp, bool keep_alive, uint8_t *out,
				size_t cap)
{
	struct out o = out_make(out, cap);
	bool upgrade = rsp->status == 101;

	put_str(&o, "HTTP/1.1 ");
	put_uint(&o, rsp->status);
	put(&o, " ", 1);
	if (rsp->reason.len)
		put_slice(&o, rsp->reason);
	else
		put_str(&o, http_reason(rsp->status));
	put(&o, "\r\n", 2);
	put_end_to_end(&o, rsp->headers, rsp->nheaders, upgrade);
	if (upgrade)
		put_str(&o, "Connection: upgrade\r\n");
	else if (rsp->status >= 200)
		put_str(&o, keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n");
	put(&o, "\r\n", 2);
	return out_end(&o);
}

int http_build_error(int status, bool close, const char *extra_headers, uint8_t *out, size_t cap)
{
	struct out o = out_make(out, cap);
	const char *reason = http_reason(status);
	char body[96];
	int n;

	if (status < 100 || status > 599)
		return -EINVAL;
	n = snprintf(body, sizeof(body), "%d %s\n", status, reason);
	put_str(&o, "HTTP/1.1 ");
	put(&o, body, (size_t)n - 1);
	put_str(&o, "\r\nContent-Type: text/plain\r\nContent-Length: ");
	put_uint(&o, (unsigned)n);
	put(&o, "\r\n", 2);
	if (close)
		put_str(&o, "Connection: close\r\n");
	if (extra_headers)
		put_str(&o, extra_headers);
	put(&o, "\r\n", 2);
	put(&o, body, (size_t)n);
	return out_end(&o);
}

struct reason {
	int status;
	const char *text;
};

static const struct reason reasons[] = {
	{100, "Continue"},
	{101, "Switching Protocols"},
	{200, "OK"},
	{201, "Created"},
	{202, "Accepted"},
	{203, "Non-Authoritative Information"},
	{204, "No Content"},
	{205, "Reset Content"},
	{206, "Partial Content"},
	{300, "Multiple Choices"},
	{301, "Moved Permanently"},
	{302, "Found"},
	{303, "See Other"},
	{304, "Not Modified"},
	{305, "Use Proxy"},
	{307, "Temporary Redirect"},
	{308, "Permanent Redirect"},
	{400, "Bad Request"},
	{401, "Unauthorized"},
	{402, "Payment Required"},
	{403, "Forbidden"},
	{404, "Not Found"},
	{405, "Method Not Allowed"},
	{406, "Not Acceptable"},
	{407, "Proxy Authentication Required"},
	{408, "Request Timeout"},
	{409, "Conflict"},
	{410, "Gone"},
	{411, "Length Required"},
	{412, "Precondition Failed"},
	{413, "Content Too Large"},
	{414, "URI Too Long"},
	{415, "Unsupported Media Type"},
	{416, "Range Not Satisfiable"},
	{417, "Expectation Failed"},
	{421, "Misdirected Request"},
	{422, "Unprocessable Content"},
	{426, "Upgrade Required"},
	{428, "Precondition Required"},
	{429, "Too Many Requests"},
	{431, "Request Header Fields Too Large"},
	{451, "Unavailable For Legal Reasons"},
	{500, "Internal Server Error"},
	{501, "Not Implemented"},
	{502, "Bad Gateway"},
	{503, "Service Unavailable"},
	{504, "Gateway Timeout"},
	{505, "HTTP Version Not Supported"},
	/* g3's codes for upstream failures (after Cloudflare's) */
	{521, "Web Server Is Down"},
	{522, "Connection Timed Out"},
	{523, "Origin Is Unreachable"},
	{525, "SSL Handshake Failed"},
	{530, "Origin DNS Error"},
};

const char *http_reason(int status)
{
	for (size_t i = 0; i < ARRAY_SIZE(reasons); i++)
		if (reasons[i].status == status)
			return reasons[i].text;
	return "Unknown";
}
