/* Fuzz http_parse_request() and http_build_forward_request(). The input is
 * the client's bytes. Checks what the data plane relies on: a verdict with
 * a reason, slices inside the head, prefix stability (fewer bytes give
 * AGAIN or the same verdict), the max boundary, and that every forwarded
 * head parses again with the same framing and no hop-by-hop fields. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxyd/http/http_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                              \
	do {                                                                                  \
		if (!(x)) {                                                                   \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #x); \
			abort();                                                              \
		}                                                                             \
	} while (0)

#define HEAD_MAX 65536

static bool inside(struct slice s, const uint8_t *p, size_t len)
{
	return s.len == 0 || (s.p >= p && s.p + s.len <= p + len);
}

static void check_verdict(enum parse_res r, const char *why)
{
	if (r == PARSE_OK || r == PARSE_AGAIN) {
		CHECK(why == NULL);
	} else {
		CHECK(r == PARSE_INVALID || r == PARSE_TOO_BIG);
		CHECK(why != NULL && why[0] != '\0' && strchr(why, '\n') == NULL);
	}
}

static void check_slices(const struct http_request *req, const uint8_t *p)
{
	size_t n = req->head_len;

	CHECK(inside(req->method_str, p, n) && inside(req->target_raw, p, n));
	CHECK(inside(req->target.scheme, p, n) && inside(req->target.userinfo, p, n));
	CHECK(inside(req->target.host, p, n) && inside(req->host_hdr, p, n));
	CHECK(inside(req->upgrade_proto, p, n) && inside(req->user_agent, p, n));
	CHECK(inside(req->proxy_authorization, p, n));
	CHECK(req->nheaders <= HTTP_MAX_HEADERS);
	for (unsigned i = 0; i < req->nheaders; i++)
		CHECK(inside(req->headers[i].name, p, n) && inside(req->headers[i].value, p, n));
	CHECK(req->minor <= 1);
	CHECK(req->body != HTTP_BODY_EOF);
	CHECK(req->body == HTTP_BODY_LENGTH || req->content_length == 0);
	if (req->target.form == HTTP_TGT_ABSOLUTE || req->target.form == HTTP_TGT_AUTHORITY)
		CHECK(req->target.host.len > 0);
	if (req->method == HTTP_M_CONNECT)
		CHECK(req->target.form == HTTP_TGT_AUTHORITY && req->target.port != 0);
}

static void check_forward(const struct http_request *req, bool absolute, bool ka)
{
	static uint8_t out[HEAD_MAX * 2];
	static struct http_request again;
	const char *why = NULL;
	int n = http_build_forward_request(req, absolute, ka, out, sizeof(out));

	if (n == -EINVAL) {
		CHECK(absolute && req->target.form == HTTP_TGT_ORIGIN && req->host_hdr.len == 0);
		return;
	}
	CHECK(n > 0);
	CHECK(http_build_forward_request(req, absolute, ka, out, (size_t)n - 1) == -ENOSPC);
	CHECK(http_build_forward_request(req, absolute, ka, out, (size_t)n) == n);
	/* a Host and a Connection line may be added */
	if (req->nheaders > HTTP_MAX_HEADERS - 2)
		return;
	enum parse_res r = http_parse_request(out, (size_t)n, sizeof(out), &again, &why);
	if (r != PARSE_OK)
		fprintf(stderr, "forwarded head refused: %s\n%.*s", why, n, (const char *)out);
	CHECK(r == PARSE_OK);
	CHECK(again.head_len == (size_t)n);
	CHECK(again.method == req->method && slice_eq(again.method_str, req->method_str));
	CHECK(again.minor == req->minor);
	CHECK(again.body == req->body && again.content_length == req->content_length);
	CHECK(again.upgrade == req->upgrade);
	if (!req->upgrade)
		CHECK(again.keep_alive == ka);
	/* origin form takes the host from Host, which the client may have set */
	if (again.target.form == HTTP_TGT_ABSOLUTE || again.target.form == HTTP_TGT_AUTHORITY)
		CHECK(slice_eq(again.target.host, req->target.host) &&
		      again.target.port == req->target.port);
	if (!req->has_host && req->target.host.len)
		CHECK(again.has_host && slice_eq_cstr(again.headers[0].name, "Host"));
	for (unsigned i = 0; i + 1 < again.nheaders; i++) {
		struct slice nm = again.headers[i].name;
		CHECK(!slice_case_eq_cstr(nm, "connection") &&
		      !slice_case_eq_cstr(nm, "proxy-connection") &&
		      !slice_case_eq_cstr(nm, "keep-alive") && !slice_case_eq_cstr(nm, "te") &&
		      !slice_case_eq_cstr(nm, "trailer") &&
		      !slice_case_eq_cstr(nm, "proxy-authorization"));
	}
	CHECK(slice_eq_cstr(again.headers[again.nheaders - 1].name, "Connection"));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_request req, tmp;
	const char *why = NULL, *w;
	enum parse_res r = http_parse_request(data, size, HEAD_MAX, &req, &why);

	check_verdict(r, why);
	if (r == PARSE_AGAIN)
		CHECK(size < HEAD_MAX);
	/* prefixes: AGAIN or the same verdict (every prefix of short inputs) */
	size_t step = size <= 1024 ? 1 : size / 512;
	for (size_t n = 0; n < size; n += step) {
		enum parse_res pr = http_parse_request(data, n, HEAD_MAX, &tmp, &w);
		check_verdict(pr, w);
		if (pr == PARSE_AGAIN)
			continue;
		CHECK(pr == r);
		CHECK((!w && !why) || (w && why && strcmp(w, why) == 0));
		if (pr == PARSE_OK)
			CHECK(tmp.head_len == req.head_len);
	}
	if (r != PARSE_OK)
		return 0;
	CHECK(req.head_len > 0 && req.head_len <= size);
	check_slices(&req, data);
	/* max exactly at the head passes, one below does not */
	CHECK(http_parse_request(data, size, req.head_len, &tmp, &w) == PARSE_OK);
	CHECK(http_parse_request(data, size, req.head_len - 1, &tmp, &w) == PARSE_TOO_BIG);
	check_forward(&req, false, true);
	check_forward(&req, false, false);
	check_forward(&req, true, true);
	return 0;
}
