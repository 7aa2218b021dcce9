/* Fuzz http_parse_response() and http_build_forward_response(). The first
 * byte picks the request method (HEAD and CONNECT change the body rules),
 * the rest is the upstream's bytes. Checks verdicts, slices, prefix
 * stability, the body rules' invariants, and that a forwarded head parses
 * again with the same status and framing. */
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

static void check_response(const struct http_response *rsp, enum http_method m, const uint8_t *p)
{
	uint16_t s = rsp->status;

	CHECK(s >= 100 && s <= 599 && rsp->minor <= 1);
	CHECK(inside(rsp->reason, p, rsp->head_len));
	CHECK(rsp->nheaders <= HTTP_MAX_HEADERS);
	for (unsigned i = 0; i < rsp->nheaders; i++)
		CHECK(inside(rsp->headers[i].name, p, rsp->head_len) &&
		      inside(rsp->headers[i].value, p, rsp->head_len));
	if (m == HTTP_M_HEAD || s < 200 || s == 204 || s == 304 || (m == HTTP_M_CONNECT && s < 300))
		CHECK(rsp->body == HTTP_BODY_NONE);
	else
		CHECK(rsp->body != HTTP_BODY_NONE);
	if (rsp->body == HTTP_BODY_EOF)
		CHECK(!rsp->keep_alive);
	CHECK(rsp->body == HTTP_BODY_LENGTH || rsp->content_length == 0);
}

static void check_forward(const struct http_response *rsp, enum http_method m, bool ka)
{
	static uint8_t out[HEAD_MAX * 2];
	static struct http_response again;
	const char *why = NULL;
	int n = http_build_forward_response(rsp, ka, out, sizeof(out));

	CHECK(n > 0);
	CHECK(http_build_forward_response(rsp, ka, out, (size_t)n - 1) == -ENOSPC);
	if (rsp->nheaders > HTTP_MAX_HEADERS - 1)
		return;
	enum parse_res r = http_parse_response(out, (size_t)n, sizeof(out), m, &again, &why);
	if (r != PARSE_OK)
		fprintf(stderr, "forwarded head refused: %s\n%.*s", why, n, (const char *)out);
	CHECK(r == PARSE_OK && again.head_len == (size_t)n);
	CHECK(again.status == rsp->status && again.minor == 1);
	/* an HTTP/1.0 upstream's Transfer-Encoding is read until close, so
	 * only 1.1 heads keep their exact framing */
	if (rsp->minor == 1) {
		CHECK(again.body == rsp->body && again.content_length == rsp->content_length);
		if (rsp->status >= 200 && rsp->body != HTTP_BODY_EOF)
			CHECK(again.keep_alive == ka);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_response rsp, tmp;
	const char *why = NULL, *w;
	enum http_method m;
	enum parse_res r;

	if (size < 1)
		return 0;
	m = (enum http_method)(data[0] % (HTTP_M_CONNECT + 1));
	data++;
	size--;
	r = http_parse_response(data, size, HEAD_MAX, m, &rsp, &why);
	check_verdict(r, why);
	size_t step = size <= 1024 ? 1 : size / 512;
	for (size_t n = 0; n < size; n += step) {
		enum parse_res pr = http_parse_response(data, n, HEAD_MAX, m, &tmp, &w);
		check_verdict(pr, w);
		if (pr == PARSE_AGAIN)
			continue;
		CHECK(pr == r);
		CHECK((!w && !why) || (w && why && strcmp(w, why) == 0));
		if (pr == PARSE_OK)
			CHECK(tmp.head_len == rsp.head_len);
	}
	if (r != PARSE_OK)
		return 0;
	CHECK(rsp.head_len > 0 && rsp.head_len <= size);
	check_response(&rsp, m, data);
	CHECK(http_parse_response(data, size, rsp.head_len, m, &tmp, &w) == PARSE_OK);
	CHECK(http_parse_response(data, size, rsp.head_len - 1, m, &tmp, &w) == PARSE_TOO_BIG);
	check_forward(&rsp, m, true);
	check_forward(&rsp, m, false);
	return 0;
}
