/* Header semantics: message framing (RFC 9112 §6), connection options
 * (RFC 9110 §7.6.1), Host (RFC 9112 §3.2) and the request-target. The
 * framing rules refuse every ambiguity a second parser could read
 * differently (request smuggling): see proxyd/http/README.md. */
#include "proxyd/http/http_int.h"

/* Transfer-Encoding codings seen over all of its field lines. */
struct te_info {
	bool present;
	unsigned chunked;  /* times "chunked" appears */
	bool last_chunked; /* the final coding is chunked */
	bool unknown;	   /* a coding we do not know */
	bool malformed;	   /* an empty element or a coding with parameters */
};

struct framing {
	bool cl_seen;
	uint64_t cl;
	struct te_info te;
};

struct conn_opts {
	bool close;
	bool keep_alive;
	bool upgrade;
};

static bool known_coding(struct slice c)
{
	static const char *const codings[] = {"gzip", "x-gzip", "deflate", "compress",
					      "x-compress"};

	for (size_t i = 0; i < ARRAY_SIZE(codings); i++)
		if (slice_case_eq_cstr(c, codings[i]))
			return true;
	return false;
}

static void te_add(struct te_info *te, struct slice value)
{
	struct slice rest = value, e;

	te->present = true;
	while (http_list_next(&rest, &e)) {
		if (!http_is_token(e)) {
			/* empty element, or parameters (";q=1"): refused, not guessed */
			te->malformed = true;
			te->last_chunked = false;
		} else if (slice_case_eq_cstr(e, "chunked")) {
			te->chunked++;
			te->last_chunked = true;
		} else {
			te->last_chunked = false;
			te->unknown |= !known_coding(e);
		}
	}
}

/* Content-Length and Transfer-Encoding lines. *matched tells whether h was
 * one of them. */
static enum parse_res framing_add(struct framing *f, const struct http_header *h, bool *matched,
				  const char **why)
{
	*matched = true;
	if (slice_case_eq_cstr(h->name, "transfer-encoding")) {
		te_add(&f->te, h->value);
		return PARSE_OK;
	}
	if (!slice_case_eq_cstr(h->name, "content-length")) {
		*matched = false;
		return PARSE_OK;
	}
	/* g3c is stricter than RFC 9112 §6.3, which lets equal duplicates
	 * pass: two lines or a list are refused even when the values agree */
	if (f->cl_seen) {
		*why = "duplicate Content-Length";
		return PARSE_INVALID;
	}
	f->cl_seen = true;
	if (slice_find(h->value, ',') != SLICE_NPOS) {
		*why = "Content-Length is a list";
		return PARSE_INVALID;
	}
	switch (slice_parse_u64(h->value, HTTP_MAX_BODY_LEN, &f->cl)) {
	case PARSE_OK:
		return PARSE_OK;
	case PARSE_TOO_BIG:
		*why = "Content-Length too large";
		return PARSE_INVALID;
	default:
		*why = "invalid Content-Length";
		return PARSE_INVALID;
	}
}

static void conn_add(struct conn_opts *o, struct slice value)
{
	struct slice rest = value, e;

	while (http_list_next(&rest, &e)) {
		if (slice_case_eq_cstr(e, "close"))
			o->close = true;
		else if (slice_case_eq_cstr(e, "keep-alive"))
			o->keep_alive = true;
		else if (slice_case_eq_cstr(e, "upgrade"))
			o->upgrade = true;
	}
}

static bool keep_alive(uint8_t minor, const struct conn_opts *o)
{
	if (o->close)
		return false;
	return minor >= 1 || o->keep_alive;
}

/* Request body length, RFC 9112 §6.1 and §6.3 items 3-6. */
static enum parse_res request_framing(struct http_request *req, const struct framing *f,
				      const char **why)
{
	const struct te_info *te = &f->te;

	if (te->present && f->cl_seen) {
		*why = "both Transfer-Encoding and Content-Length";
		return PARSE_INVALID;
	}
	if (te->present) {
		if (req->minor == 0) {
			*why = "Transfer-Encoding in an HTTP/1.0 request";
			return PARSE_INVALID;
		}
		if (te->malformed) {
			*why = "malformed Transfer-Encoding";
			return PARSE_INVALID;
		}
		if (te->chunked > 1) {
			*why = "chunked applied more than once";
			return PARSE_INVALID;
		}
		if (te->unknown) {
			*why = "unknown transfer coding";
			return PARSE_INVALID;
		}
		if (!te->last_chunked) {
			*why = "Transfer-Encoding does not end in chunked";
			return PARSE_INVALID;
		}
	}
	if (req->method == HTTP_M_CONNECT) {
		/* RFC 9110 §9.3.6: CONNECT has no content; bytes after the
		 * head are tunnel data, so a declared body is refused */
		if (te->present || (f->cl_seen && f->cl != 0)) {
			*why = "CONNECT request with a body";
			return PARSE_INVALID;
		}
		return PARSE_OK;
	}
	if (te->present) {
		req->body = HTTP_BODY_CHUNKED;
	} else if (f->cl_seen) {
		req->body = HTTP_BODY_LENGTH;
		req->content_length = f->cl;
	}
	return PARSE_OK;
}

/* The target, and Host: validated whenever present and non-empty, the
 * authority of origin-form requests (RFC 9112 §3.2). */
static enum parse_res request_target(struct http_request *req, const char **why)
{
	struct slice host;
	uint16_t port;
	bool is_ip;

	if (http_parse_target(req->method, req->target_raw, &req->target, why) != PARSE_OK)
		return PARSE_INVALID;
	if (req->host_hdr.len &&
	    http_parse_authority(req->host_hdr, &host, &port, &is_ip, why) != PARSE_OK) {
		*why = "invalid Host header";
		return PARSE_INVALID;
	}
	if (!req->has_host && req->minor == 1 &&
	    (req->target.form == HTTP_TGT_ORIGIN || req->target.form == HTTP_TGT_ASTERISK)) {
		*why = "missing Host header in an HTTP/1.1 request";
		return PARSE_INVALID;
	}
	if (req->target.form == HTTP_TGT_ORIGIN && req->host_hdr.len) {
		req->target.host = host;
		req->target.port = port ? port : 80;
		req->target.host_is_ip = is_ip;
	}
	return PARSE_OK;
}

enum parse_res http_request_semantics(struct http_request *req, const char **why)
{
	struct framing f = {0};
	struct conn_opts co = {0};
	bool has_upgrade = false, matched;

	req->method = http_method_from(req->method_str);
	for (unsigned i = 0; i < req->nheaders; i++) {
		const struct http_header *h = &req->headers[i];
		struct slice n = h->name;

		if (framing_add(&f, h, &matched, why) != PARSE_OK)
			return PARSE_INVALID;
		if (matched)
			continue;
		if (slice_case_eq_cstr(n, "host")) {
			if (req->has_host) {
				*why = "duplicate Host header";
				return PARSE_INVALID;
			}
			req->has_host = true;
			req->host_hdr = h->value;
		} else if (slice_case_eq_cstr(n, "connection")) {
			conn_add(&co, h->value);
		} else if (slice_case_eq_cstr(n, "proxy-connection")) {
			/* curl's keep-alive / close; it never asks for an upgrade */
			struct conn_opts o = {0};
			conn_add(&o, h->value);
			co.close |= o.close;
			co.keep_alive |= o.keep_alive;
		} else if (slice_case_eq_cstr(n, "expect")) {
			req->expect_continue |= http_list_has_token(h->value, "100-continue");
		} else if (slice_case_eq_cstr(n, "upgrade")) {
			if (!has_upgrade) {
				struct slice rest = h->value;
				has_upgrade = http_list_next(&rest, &req->upgrade_proto);
			}
		} else if (slice_case_eq_cstr(n, "proxy-authorization")) {
			if (!req->proxy_authorization.p)
				req->proxy_authorization = h->value;
		} else if (slice_case_eq_cstr(n, "user-agent")) {
			if (!req->user_agent.p)
				req->user_agent = h->value;
		}
	}
	if (request_framing(req, &f, why) != PARSE_OK)
		return PARSE_INVALID;
	if (request_target(req, why) != PARSE_OK)
		return PARSE_INVALID;
	req->keep_alive = keep_alive(req->minor, &co);
	/* RFC 9110 §10.1.1 and §7.8: HTTP/1.0 Expect and Upgrade are ignored */
	req->expect_continue = req->expect_continue && req->minor == 1;
	req->upgrade = co.upgrade && has_upgrade && req->upgrade_proto.len && req->minor == 1;
	if (!req->upgrade)
		req->upgrade_proto = slice_make(NULL, 0);
	return PARSE_OK;
}

/* Response body length, RFC 9112 §6.3 items 1-7. */
static void response_body(struct http_response *rsp, enum http_method req_method,
			  const struct framing *f)
{
	uint16_t s = rsp->status;

	if (req_method == HTTP_M_HEAD || (s >= 100 && s < 200) || s == 204 || s == 304)
		return;
	if (req_method == HTTP_M_CONNECT && s >= 200 && s < 300)
		return;
	if (f->te.present) {
		/* HTTP/1.0 with Transfer-Encoding: faulty framing (§6.1),
		 * read until the upstream closes */
		rsp->body =
			f->te.last_chunked && rsp->minor == 1 ? HTTP_BODY_CHUNKED : HTTP_BODY_EOF;
	} else if (f->cl_seen) {
		rsp->body = HTTP_BODY_LENGTH;
		rsp->content_length = f->cl;
	} else {
		rsp->body = HTTP_BODY_EOF;
	}
}

enum parse_res http_response_semantics(struct http_response *rsp, enum http_method req_method,
				       const char **why)
{
	struct framing f = {0};
	struct conn_opts co = {0};
	bool matched;

	for (unsigned i = 0; i < rsp->nheaders; i++) {
		const struct http_header *h = &rsp->headers[i];

		if (framing_add(&f, h, &matched, why) != PARSE_OK)
			return PARSE_INVALID;
		if (!matched && slice_case_eq_cstr(h->name, "connection"))
			conn_add(&co, h->value);
	}
	/* the upstream is untrusted too: no guessing between two lengths */
	if (f.te.present && f.cl_seen) {
		*why = "both Transfer-Encoding and Content-Length";
		return PARSE_INVALID;
	}
	if (f.te.malformed) {
		*why = "malformed Transfer-Encoding";
		return PARSE_INVALID;
	}
	if (f.te.chunked > 1) {
		*why = "chunked applied more than once";
		return PARSE_INVALID;
	}
	response_body(rsp, req_method, &f);
	rsp->keep_alive = keep_alive(rsp->minor, &co) && rsp->body != HTTP_BODY_EOF;
	return PARSE_OK;
}
