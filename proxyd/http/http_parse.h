/* HTTP/1.1 message heads for proxyd (RFC 9112, RFC 9110): request and
 * response head parsing, request-target and authority parsing, a chunked
 * body scanner, and builders for forwarded heads and error replies.
 * Pure code: no sockets, no allocation. Every parser works on a caller-owned
 * buffer and fills slices that borrow it; they stay valid while the buffer
 * is unchanged. What is rejected and why: proxyd/http/README.md. */
#ifndef G3C_PROXYD_HTTP_PARSE_H
#define G3C_PROXYD_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/slice.h"
#include "common/util.h"

#define HTTP_MAX_HEADERS 128
/* Largest Content-Length or chunk size accepted (fits off_t / int64_t). */
#define HTTP_MAX_BODY_LEN ((uint64_t)INT64_MAX)
/* Longest host name accepted in a target or Host header. */
#define HTTP_MAX_HOST_LEN 255

enum http_method {
	HTTP_M_OTHER = 0,
	HTTP_M_GET,
	HTTP_M_HEAD,
	HTTP_M_POST,
	HTTP_M_PUT,
	HTTP_M_DELETE,
	HTTP_M_OPTIONS,
	HTTP_M_TRACE,
	HTTP_M_PATCH,
	HTTP_M_CONNECT,
};

/* One field line. name as received (compare case-insensitively); value
 * without leading and trailing OWS. */
struct http_header {
	struct slice name;
	struct slice value;
};

/* How the message body is delimited (RFC 9112 §6.3). */
enum http_body {
	HTTP_BODY_NONE = 0, /* no body at all */
	HTTP_BODY_LENGTH,   /* content_length bytes (may be 0) */
	HTTP_BODY_CHUNKED,  /* chunked: run http_chunked_scan() over it */
	HTTP_BODY_EOF,	    /* responses only: until the upstream closes */
};

enum http_target_form {
	HTTP_TGT_ORIGIN = 0, /* "/path?query" */
	HTTP_TGT_ABSOLUTE,   /* "http://host:port/path?query" */
	HTTP_TGT_AUTHORITY,  /* "host:port" (CONNECT only) */
	HTTP_TGT_ASTERISK,   /* "*" (OPTIONS only) */
};

struct http_target {
	enum http_target_form form;
	/* absolute form: as received; compare with http_target_scheme_is() */
	struct slice scheme;
	/* absolute form only, may be empty; never contains '@' */
	struct slice userinfo;
	/* without brackets for IPv6 literals; never empty in absolute and
	 * authority form. Origin form: taken from the Host header (empty
	 * when the request has none or an empty one). */
	struct slice host;
	/* explicit, else scheme default (http 80, https 443, ftp 21, other
	 * schemes 0 = unknown); CONNECT without a port: 443 as g3 does;
	 * origin form: the Host header's port, else 80 */
	uint16_t port;
	/* host is an IPv4 dotted quad or an IPv6 literal */
	bool host_is_ip;
	/* origin-form path + query. Absolute form: the bytes after the
	 * authority; "/" (a static string, not in the buffer) when there are
	 * none. It starts with '?' for "http://h?q" (http_build_* then write
	 * "/?q"). Empty in authority and asterisk form. */
	struct slice path;
};

struct http_request {
	enum http_method method;
	struct slice method_str;
	struct slice target_raw;
	struct http_target target;
	uint8_t minor; /* HTTP/1.<minor>: 0 or 1 */
	struct http_header headers[HTTP_MAX_HEADERS];
	unsigned nheaders;
	size_t head_len;     /* bytes of the head including the final CRLF CRLF */
	enum http_body body; /* NONE, LENGTH or CHUNKED for requests */
	uint64_t content_length;
	/* HTTP/1.1 unless "close"; HTTP/1.0 only with "keep-alive"; tokens
	 * of Connection and Proxy-Connection both count, close wins */
	bool keep_alive;
	bool expect_continue;	    /* HTTP/1.1 and Expect: 100-continue */
	bool upgrade;		    /* HTTP/1.1, Connection: upgrade and an Upgrade header */
	struct slice upgrade_proto; /* first element of Upgrade, e.g. "websocket" */
	bool has_host;		    /* a Host header was received (maybe empty) */
	struct slice host_hdr, proxy_authorization, user_agent; /* first values, may be empty */
};

struct http_response {
	uint16_t status;
	uint8_t minor;
	struct slice reason;
	struct http_header headers[HTTP_MAX_HEADERS];
	unsigned nheaders;
	size_t head_len;
	/* NONE for HEAD/1xx/204/304 (and 2xx to CONNECT), else per §6.3 */
	enum http_body body;
	uint64_t content_length;
	/* false whenever body is HTTP_BODY_EOF */
	bool keep_alive;
};

/* Parse a complete request head from p[0..len). Borrows p. Empty lines
 * (CRLF) before the request line are skipped and counted in head_len.
 * PARSE_OK: *req filled, every slice points into p (except a "/" path).
 * PARSE_AGAIN: no end of head yet and len < max.
 * PARSE_TOO_BIG: the head (or a single line) exceeds max bytes, or it has
 *   more than HTTP_MAX_HEADERS field lines.
 * PARSE_INVALID: the head can never become valid.
 * On TOO_BIG and INVALID *why (when why is not NULL) is a static one-line
 * reason suitable for logs; it is NULL otherwise. Prefix-stable: every
 * prefix of an input gives AGAIN or the same result as the whole input. */
enum parse_res MUST_CHECK http_parse_request(const uint8_t *p, size_t len, size_t max,
					     struct http_request *req, const char **why);

/* Same for a response to a request with method req_method (HEAD and
 * CONNECT change the body rules). */
enum parse_res MUST_CHECK http_parse_response(const uint8_t *p, size_t len, size_t max,
					      enum http_method req_method,
					      struct http_response *rsp, const char **why);

/* First value of a header (case-insensitive name) into *value (may be
 * NULL), or false when absent. Borrows the message's buffer. */
bool http_request_header(const struct http_request *r, const char *name, struct slice *value);
bool http_response_header(const struct http_response *r, const char *name, struct slice *value);

/* Method enum of a method token (case-sensitive, RFC 9110 §9.1). */
enum http_method http_method_from(struct slice s);

/* Parse a request-target for method m (RFC 9112 §3.2). Borrows raw.
 * Origin form leaves host empty and port 0 (http_parse_request fills them
 * from Host). PARSE_OK or PARSE_INVALID with *why set. */
enum parse_res MUST_CHECK http_parse_target(enum http_method m, struct slice raw,
					    struct http_target *t, const char **why);

/* Parse "host[:port]" (a Host header or CONNECT target; no userinfo).
 * *port is 0 when absent. IPv6 literals keep no brackets in *host.
 * PARSE_OK or PARSE_INVALID with *why set. */
enum parse_res MUST_CHECK http_parse_authority(struct slice s, struct slice *host, uint16_t *port,
					       bool *is_ip, const char **why);

/* ASCII case-insensitive scheme comparison ("http", "https", "ftp"). */
bool http_target_scheme_is(const struct http_target *t, const char *scheme);

/* Default port of a scheme (http 80, https 443, ftp 21), else 0. */
uint16_t http_scheme_default_port(struct slice scheme);

/* True when a comma-separated header value (RFC 9110 §5.6.1) contains the
 * token tok, ASCII case-insensitively ("Connection: keep-alive, Upgrade"). */
bool http_list_has_token(struct slice value, const char *tok);

/* Chunked body scanner (RFC 9112 §7.1): validates and finds the end of a
 * chunked body that is forwarded unchanged. Holds no pointers. */
struct http_chunked {
	int state;
	uint64_t left; /* chunk size being read, then data bytes still to skip */
	size_t line_len;
	size_t max_line;
	size_t trailer_bytes;
	uint64_t chunks; /* chunks seen, last chunk included */
};

/* Start a scanner. max_line is body_line_max_length (g3 default 8192): the
 * longest chunk-size line (with extensions) or trailer line accepted. */
void http_chunked_init(struct http_chunked *c, size_t max_line);

/* Scan p[0..len). PARSE_OK when the last chunk and trailers ended (*used =
 * bytes up to and including the final CRLF; bytes after belong to the next
 * message; later calls return PARSE_OK with *used = 0). PARSE_AGAIN when
 * all of len was consumed (*used = len). PARSE_INVALID (bad size, missing
 * CRLF, over-long line, size overflow, bad trailer) or PARSE_TOO_BIG
 * (trailers over max_line * 8) with *why set and *used = offset of the
 * offending byte; the scanner then stays failed. Feeding byte by byte gives
 * the same result as feeding all at once. */
enum parse_res MUST_CHECK http_chunked_scan(struct http_chunked *c, const uint8_t *p, size_t len,
					    size_t *used, const char **why);

/* True once http_chunked_scan() returned PARSE_OK. */
bool http_chunked_done(const struct http_chunked *c);

/* Head for the upstream into out[0..cap): the request line in origin form
 * (absolute_form=true keeps or makes the absolute URI, for a next-hop
 * proxy; CONNECT always keeps its authority) with the client's HTTP
 * version; headers in order minus hop-by-hop ones (Connection and every
 * header it names except Content-Length, Transfer-Encoding and Host,
 * Proxy-Connection, Keep-Alive, TE, Trailer, Upgrade unless req->upgrade,
 * Proxy-Authorization, Proxy-Authenticate); a Host header made from the
 * target right after the request line when the client sent none; then
 * "Connection: upgrade", "keep-alive" or "close". Returns bytes written,
 * -ENOSPC when cap is too small, -EINVAL when an origin-form request has
 * no host to make an absolute URI from. */
int MUST_CHECK http_build_forward_request(const struct http_request *req, bool absolute_form,
					  bool keep_alive, uint8_t *out, size_t cap);

/* Response head for the client: "HTTP/1.1 <status> <reason>", headers
 * minus hop-by-hop (as above, Upgrade kept on 101), then "Connection:
 * upgrade" (101), "keep-alive" or "close" (none on other 1xx). An explicit
 * keep-alive is what HTTP/1.0 clients need and is harmless for 1.1 ones.
 * Returns bytes written or -ENOSPC. */
int MUST_CHECK http_build_forward_response(const struct http_response *rsp, bool keep_alive,
					   uint8_t *out, size_t cap);

/* Short error reply: status line, "Content-Type: text/plain", Content-Length,
 * "Connection: close" when close, extra_headers (complete lines such as
 * "Proxy-Authenticate: Basic realm=\"proxy\"\r\n", may be NULL), and the
 * body "<status> <reason>\n". Returns bytes written, -ENOSPC, or -EINVAL
 * for a status outside 100..599. */
int MUST_CHECK http_build_error(int status, bool close, const char *extra_headers, uint8_t *out,
				size_t cap);

/* Reason phrase: the standard ones plus g3's 521 Web Server Is Down, 522
 * Connection Timed Out, 523 Origin Is Unreachable, 525 SSL Handshake
 * Failed, 530 Origin DNS Error; "Unknown" otherwise. Static string. */
const char *http_reason(int status);

#endif
