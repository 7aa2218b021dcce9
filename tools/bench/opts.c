/* Command line of g3bench (option names follow g3bench where they exist,
 * with curl-like aliases) and the run preparation: address resolution,
 * request bytes, TLS contexts. */
#include "tools/bench/bench.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>

static const char usage_text[] =
	"usage: g3bench [options] h1 URL\n"
	"       g3bench [options] ssl HOST:PORT\n"
	"\n"
	"run bounds (default -t 10s when neither -n nor -t is given):\n"
	"  -c, --concurrency N        tasks in parallel (1)\n"
	"  -n, --requests N           stop after N requests (exact)\n"
	"  -t, --time, --time-limit D stop after duration D (10s, 500ms, 2m)\n"
	"  -r, --rate, --rate-limit Q at most Q requests per second overall\n"
	"  -j, --threads N            worker threads, each with its own loop (1)\n"
	"  -l, --latency D            pause D between the serial requests of a task\n"
	"      --timeout D            per request / handshake (30s h1, 10s ssl)\n"
	"      --connect-timeout D    TCP connect and proxy set-up (15s h1, 10s ssl)\n"
	"      --json                 print the summary as one JSON object\n"
	"      --no-summary           print nothing\n"
	"      --log-error N          print the first N failures to stderr\n"
	"      --resolve H:P:IP       connect to IP for host H port P\n"
	"h1:\n"
	"  -m, --method M             GET (default), HEAD, POST, PUT, DELETE, ...\n"
	"  -H, --header 'K: V'        extra request header (repeatable)\n"
	"      --body, --payload S    request body (adds Content-Length)\n"
	"      --ok-status CODE       only this status succeeds (default 2xx and 3xx)\n"
	"      --no-keepalive         a new connection per request\n"
	"  -x, --proxy URL            http://, https://, socks5://, "
	"socks5h://[user:pass@]host:port\n"
	"  -p, --proxy-tunnel         CONNECT through an HTTP proxy (always for https:// URLs)\n"
	"      --proxy-cacert FILE    CA for an https proxy (--proxy-tls-ca-cert)\n"
	"      --proxy-insecure       do not verify the proxy (--proxy-tls-no-verify)\n"
	"      --proxy-tls-name NAME  name to verify and send as SNI to the proxy\n"
	"TLS to the target (https:// URLs and ssl):\n"
	"      --cacert FILE          CA certificates (--tls-ca-cert)\n"
	"  -k, --insecure             do not verify (--tls-no-verify)\n"
	"      --tls-name NAME        name to verify and send as SNI\n"
	"      --tls-no-sni           send no SNI\n"
	"      --no-session-cache     no resumption (--tls-no-session-cache)\n"
	"exit status: 0 run completed, 1 usage error, 2 no request succeeded\n";

enum {
	OPT_TIMEOUT = 256,
	OPT_CONNECT_TIMEOUT,
	OPT_JSON,
	OPT_NO_SUMMARY,
	OPT_LOG_ERROR,
	OPT_RESOLVE,
	OPT_BODY,
	OPT_NO_KEEPALIVE,
	OPT_PROXY_CACERT,
	OPT_PROXY_INSECURE,
	OPT_PROXY_TLS_NAME,
	OPT_CACERT,
	OPT_TLS_NAME,
	OPT_NO_SNI,
	OPT_NO_SESSION_CACHE,
	OPT_OK_STATUS,
};

static const struct option long_opts[] = {
	{"concurrency", required_argument, NULL, 'c'},
	{"requests", required_argument, NULL, 'n'},
	{"time", required_argument, NULL, 't'},
	{"time-limit", required_argument, NULL, 't'},
	{"rate", required_argument, NULL, 'r'},
	{"rate-limit", required_argument, NULL, 'r'},
	{"threads", required_argument, NULL, 'j'},
	{"latency", required_argument, NULL, 'l'},
	{"ok-status", required_argument, NULL, OPT_OK_STATUS},
	{"timeout", required_argument, NULL, OPT_TIMEOUT},
	{"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
	{"json", no_argument, NULL, OPT_JSON},
	{"no-summary", no_argument, NULL, OPT_NO_SUMMARY},
	{"log-error", required_argument, NULL, OPT_LOG_ERROR},
	{"resolve", required_argument, NULL, OPT_RESOLVE},
	{"method", required_argument, NULL, 'm'},
	{"header", required_argument, NULL, 'H'},
	{"body", required_argument, NULL, OPT_BODY},
	{"payload", required_argument, NULL, OPT_BODY},
	{"no-keepalive", no_argument, NULL, OPT_NO_KEEPALIVE},
	{"proxy", required_argument, NULL, 'x'},
	{"proxy-tunnel", no_argument, NULL, 'p'},
	{"proxy-cacert", required_argument, NULL, OPT_PROXY_CACERT},
	{"proxy-tls-ca-cert", required_argument, NULL, OPT_PROXY_CACERT},
	{"proxy-insecure", no_argument, NULL, OPT_PROXY_INSECURE},
	{"proxy-tls-no-verify", no_argument, NULL, OPT_PROXY_INSECURE},
	{"proxy-tls-name", required_argument, NULL, OPT_PROXY_TLS_NAME},
	{"cacert", required_argument, NULL, OPT_CACERT},
	{"tls-ca-cert", required_argument, NULL, OPT_CACERT},
	{"insecure", no_argument, NULL, 'k'},
	{"tls-no-verify", no_argument, NULL, 'k'},
	{"tls-name", required_argument, NULL, OPT_TLS_NAME},
	{"tls-no-sni", no_argument, NULL, OPT_NO_SNI},
	{"no-session-cache", no_argument, NULL, OPT_NO_SESSION_CACHE},
	{"tls-no-session-cache", no_argument, NULL, OPT_NO_SESSION_CACHE},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* "1.5s", "500ms", "100us", "2m", "1h", "3" (seconds). */
static int parse_duration(const char *s, uint64_t *ns)
{
	static const struct {
		const char *suffix;
		double mult;
	} units[] = {{"ns", 1},	  {"us", 1e3},	 {"ms", 1e6}, {"s", 1e9},
		     {"m", 60e9}, {"h", 3600e9}, {"", 1e9}};
	char *end;
	double v;

	if (!*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		if (strcmp(end, units[i].suffix) == 0) {
			double r = v * units[i].mult;

			if (r > 1e18)
				return -EINVAL;
			*ns = (uint64_t)r;
			return 0;
		}
	}
	return -EINVAL;
}

static int PRINTF_FMT(1, 2) usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "g3bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s", usage_text);
	return -1;
}

int bench_opts_parse(int argc, char **argv, struct bench_opts *o)
{
	bool have_timeout = false, have_ctimeout = false;
	const char *kind, *target;
	uint64_t v;
	int c;

	o->concurrency = 1;
	o->threads = 1;
	o->keepalive = true;
	o->method = "GET";
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:n:t:r:j:l:m:H:x:pkh", long_opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (parse_u64(optarg, 100000, &v) < 0 || v == 0)
				return usage_error("bad --concurrency '%s' (1..100000)", optarg);
			o->concurrency = (unsigned)v;
			break;
		case 'n':
			if (parse_u64(optarg, UINT64_MAX / 2, &v) < 0 || v == 0)
				return usage_error("bad --requests '%s'", optarg);
			o->requests = v;
			break;
		case 't':
			if (parse_duration(optarg, &o->time_ns) < 0 || o->time_ns == 0)
				return usage_error("bad --time '%s' (e.g. 10s, 500ms)", optarg);
			break;
		case 'r': {
			char *end;

			errno = 0;
			o->rate = strtod(optarg, &end);
			if (errno || *end || end == optarg || !isfinite(o->rate) || o->rate <= 0)
				return usage_error("bad --rate '%s'", optarg);
			break;
		}
		case 'j':
			if (parse_u64(optarg, 256, &v) < 0 || v == 0)
				return usage_error("bad --threads '%s' (1..256)", optarg);
			o->threads = (unsigned)v;
			break;
		case 'l':
			if (parse_duration(optarg, &o->latency_ns) < 0)
				return usage_error("bad --latency '%s' (e.g. 100ms)", optarg);
			break;
		case OPT_OK_STATUS:
			if (parse_u64(optarg, 599, &v) < 0 || v < 100)
				return usage_error("bad --ok-status '%s' (100..599)", optarg);
			o->ok_status = (int)v;
			break;
		case OPT_TIMEOUT:
			if (parse_duration(optarg, &o->timeout_ns) < 0 || o->timeout_ns == 0)
				return usage_error("bad --timeout '%s'", optarg);
			have_timeout = true;
			break;
		case OPT_CONNECT_TIMEOUT:
			if (parse_duration(optarg, &o->connect_timeout_ns) < 0 ||
			    o->connect_timeout_ns == 0)
				return usage_error("bad --connect-timeout '%s'", optarg);
			have_ctimeout = true;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_NO_SUMMARY:
			o->no_summary = true;
			break;
		case OPT_LOG_ERROR:
			if (parse_u64(optarg, 1000000, &v) < 0)
				return usage_error("bad --log-error '%s'", optarg);
			o->log_error = (unsigned)v;
			break;
		case OPT_RESOLVE:
			o->resolve = optarg;
			break;
		case 'm':
			for (const char *p = optarg; *p; p++)
				if (!((*p >= 'A' && *p <= 'Z') || *p == '-' || *p == '_'))
					return usage_error("bad --method '%s'", optarg);
			if (!*optarg)
				return usage_error("bad --method '%s'", optarg);
			o->method = optarg;
			break;
		case 'H': {
			const char *colon = strchr(optarg, ':');

			if (!colon || colon == optarg || strpbrk(optarg, "\r\n"))
				return usage_error("bad --header '%s' (want 'Name: value')",
						   optarg);
			if (o->n_headers == BENCH_MAX_HEADERS)
				return usage_error("too many headers (at most %s)", "64");
			o->headers[o->n_headers++] = optarg;
			break;
		}
		case OPT_BODY:
			o->body = optarg;
			break;
		case OPT_NO_KEEPALIVE:
			o->keepalive = false;
			break;
		case 'x':
			if (url_parse(optarg, &o->proxy) < 0)
				return usage_error("bad --proxy URL '%s'", optarg);
			if (o->proxy.has_cred &&
			    (strlen(o->proxy.user) > 255 || strlen(o->proxy.pass) > 255))
				return usage_error("proxy credentials too long in '%s'", optarg);
			o->has_proxy = true;
			break;
		case 'p':
			o->proxy_tunnel = true;
			break;
		case OPT_PROXY_CACERT:
			o->proxy_cacert = optarg;
			break;
		case OPT_PROXY_INSECURE:
			o->proxy_insecure = true;
			break;
		case OPT_PROXY_TLS_NAME:
			o->proxy_tls_name = optarg;
			break;
		case OPT_CACERT:
			o->cacert = optarg;
			break;
		case 'k':
			o->insecure = true;
			break;
		case OPT_TLS_NAME:
			o->tls_name = optarg;
			break;
		case OPT_NO_SNI:
			o->no_sni = true;
			break;
		case OPT_NO_SESSION_CACHE:
			o->no_session_cache = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 1;
		case ':':
			return usage_error("option '%s' needs a value", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 2)
		return usage_error("%s", argc - optind < 2 ? "a target and its URL are required"
							   : "too many arguments");
	kind = argv[optind];
	target = argv[optind + 1];
	if (strcmp(kind, "h1") == 0) {
		o->kind = BENCH_H1;
		if (url_parse(target, &o->target) < 0 ||
		    (o->target.scheme != URL_SCHEME_HTTP && o->target.scheme != URL_SCHEME_HTTPS))
			return usage_error("bad URL '%s' (want http:// or https://)", target);
		if (o->target.has_cred)
			return usage_error("credentials in the target URL are not supported: '%s'",
					   target);
		if (!have_timeout)
			o->timeout_ns = UINT64_C(30) * 1000000000;
		if (!have_ctimeout)
			o->connect_timeout_ns = UINT64_C(15) * 1000000000;
	} else if (strcmp(kind, "ssl") == 0 || strcmp(kind, "openssl") == 0) {
		char buf[URL_HOST_MAX + 16];

		o->kind = BENCH_SSL;
		if (snprintf(buf, sizeof(buf), "https://%s", target) >= (int)sizeof(buf) ||
		    strpbrk(target, "/?#@") || url_parse(buf, &o->target) < 0 ||
		    !strrchr(target, ':') || target[strlen(target) - 1] == ']')
			return usage_error("bad target '%s' (want HOST:PORT)", target);
		if (o->has_proxy)
			return usage_error("%s", "ssl does not go through a proxy");
		if (!have_timeout)
			o->timeout_ns = UINT64_C(10) * 1000000000;
		if (!have_ctimeout)
			o->connect_timeout_ns = UINT64_C(10) * 1000000000;
	} else {
		return usage_error("unknown target type '%s' (h1 or ssl)", kind);
	}
	if (!o->requests && !o->time_ns)
		o->time_ns = BENCH_DEFAULT_TIME_NS;
	if (o->threads > o->concurrency)
		o->threads = o->concurrency;
	if (o->requests && o->concurrency > o->requests)
		o->concurrency = (unsigned)o->requests;
	if (o->threads > o->concurrency)
		o->threads = o->concurrency;
	return 0;
}

/* ---- preparation ---- */

static int resolve(const struct bench_opts *o, const struct url *u, struct sockaddr_storage *ss,
		   socklen_t *len)
{
	struct addrinfo hints, *res = NULL;
	char port[8], host[URL_HOST_MAX];
	int rc;

	snprintf(host, sizeof(host), "%s", u->host);
	if (o->resolve) {
		/* host:port:ip, the ip possibly in brackets */
		char want[URL_HOST_MAX + 8];
		size_t wl;

		wl = (size_t)snprintf(want, sizeof(want), "%s:%u:", u->host, u->port);
		if (strncasecmp(o->resolve, want, wl) == 0) {
			const char *ip = o->resolve + wl;
			size_t il = strlen(ip);

			if (il >= 2 && ip[0] == '[' && ip[il - 1] == ']') {
				ip++;
				il -= 2;
			}
			if (il == 0 || il >= sizeof(host)) {
				fprintf(stderr, "g3bench: bad --resolve '%s'\n", o->resolve);
				return -1;
			}
			memcpy(host, ip, il);
			host[il] = '\0';
		}
	}
	snprintf(port, sizeof(port), "%u", u->port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc == EAI_NONAME || rc == EAI_ADDRFAMILY) {
		hints.ai_flags = AI_NUMERICSERV; /* loopback-only hosts */
		rc = getaddrinfo(host, port, &hints, &res);
	}
	if (rc != 0 || !res) {
		fprintf(stderr, "g3bench: cannot resolve %s: %s\n", host, gai_strerror(rc));
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static bool has_header(const struct bench_opts *o, const char *name)
{
	size_t nl = strlen(name);

	for (unsigned i = 0; i < o->n_headers; i++)
		if (strncasecmp(o->headers[i], name, nl) == 0 && o->headers[i][nl] == ':')
			return true;
	return false;
}

/* A growable string for building requests (control plane). */
struct sbuf {
	char *p;
	size_t len, cap;
};

static void PRINTF_FMT(2, 3) sb_printf(struct sbuf *b, const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		int n;

		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		ASSERT(n >= 0);
		if (b->p && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		b->cap = (b->cap + (size_t)n + 1) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
}

static void sb_proxy_auth(struct sbuf *b, const struct url *proxy)
{
	char plain[2 * URL_CRED_MAX + 2];
	unsigned char enc[4 * (sizeof(plain) / 3 + 1) + 1];
	int n = snprintf(plain, sizeof(plain), "%s:%s", proxy->user, proxy->pass);

	EVP_EncodeBlock(enc, (const unsigned char *)plain, n);
	sb_printf(b, "Proxy-Authorization: Basic %s\r\n", enc);
}

static void build_request(struct bench_opts *o)
{
	struct sbuf b = {0};
	char auth[URL_HOST_MAX + 16];
	bool default_port = o->target.port == (o->target.scheme == URL_SCHEME_HTTPS ? 443 : 80);
	bool http_proxy = o->has_proxy && (o->proxy.scheme == URL_SCHEME_HTTP ||
					   o->proxy.scheme == URL_SCHEME_HTTPS);

	if (url_authority(&o->target, auth, sizeof(auth)) < 0)
		ASSERT(0);
	if (http_proxy && !o->tunnel)
		sb_printf(&b, "%s http://%s%s HTTP/1.1\r\n", o->method, auth, o->target.path);
	else
		sb_printf(&b, "%s %s HTTP/1.1\r\n", o->method, o->target.path);
	if (!has_header(o, "host")) {
		if (default_port)
			sb_printf(&b, o->target.host_is_v6 ? "Host: [%s]\r\n" : "Host: %s\r\n",
				  o->target.host);
		else
			sb_printf(&b, "Host: %s\r\n", auth);
	}
	if (!has_header(o, "user-agent"))
		sb_printf(&b, "User-Agent: g3bench (g3c)\r\n");
	if (!has_header(o, "accept"))
		sb_printf(&b, "Accept: */*\r\n");
	if (http_proxy && !o->tunnel && o->proxy.has_cred)
		sb_proxy_auth(&b, &o->proxy);
	if (!o->keepalive && !has_header(o, "connection"))
		sb_printf(&b, "Connection: close\r\n");
	for (unsigned i = 0; i < o->n_headers; i++)
		sb_printf(&b, "%s\r\n", o->headers[i]);
	if (o->body && !has_header(o, "content-length"))
		sb_printf(&b, "Content-Length: %zu\r\n", strlen(o->body));
	sb_printf(&b, "\r\n%s", o->body ? o->body : "");
	o->request = b.p;
	o->request_len = b.len;
	o->head_request = strcmp(o->method, "HEAD") == 0;

	if (http_proxy && o->tunnel) {
		struct sbuf c = {0};

		sb_printf(&c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n", auth, auth);
		if (o->proxy.has_cred)
			sb_proxy_auth(&c, &o->proxy);
		sb_printf(&c, "\r\n");
		o->proxy_hs = c.p;
		o->proxy_hs_len = c.len;
	}
}

static SSL_CTX *make_tls_ctx(const char *cacert, bool insecure, bool no_cache)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx)
		return NULL;
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				      SSL_MODE_RELEASE_BUFFERS);
	if (insecure) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	} else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		if (cacert ? SSL_CTX_load_verify_locations(ctx, cacert, NULL) != 1
			   : SSL_CTX_set_default_verify_paths(ctx) != 1) {
			char e[256];

			ERR_error_string_n(ERR_get_error(), e, sizeof(e));
			fprintf(stderr, "g3bench: cannot load CA certificates %s: %s\n",
				cacert ? cacert : "(system)", e);
			SSL_CTX_free(ctx);
			ERR_clear_error();
			return NULL;
		}
	}
	if (no_cache) {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	} else {
		task_tls_ctx_setup(ctx);
	}
	return ctx;
}

int bench_prepare(struct bench_opts *o)
{
	const struct url *peer = o->has_proxy ? &o->proxy : &o->target;
	char auth[URL_HOST_MAX + 16];

	if (url_authority(&o->target, auth, sizeof(auth)) < 0)
		return -1;
	snprintf(o->target_label, sizeof(o->target_label), "%s", auth);
	if (o->has_proxy) {
		bool socks = o->proxy.scheme == URL_SCHEME_SOCKS5 ||
			     o->proxy.scheme == URL_SCHEME_SOCKS5H;

		o->tunnel = socks || o->proxy_tunnel || o->target.scheme == URL_SCHEME_HTTPS;
		if (o->proxy.scheme == URL_SCHEME_SOCKS5H && strlen(o->target.host) > 255) {
			fprintf(stderr, "g3bench: target host too long for SOCKS5\n");
			return -1;
		}
		if (o->proxy.scheme == URL_SCHEME_SOCKS5 &&
		    resolve(o, &o->target, &o->target_addr, &o->target_addr_len) < 0)
			return -1;
	}
	if (resolve(o, peer, &o->peer, &o->peer_len) < 0)
		return -1;
	if (o->kind == BENCH_H1)
		build_request(o);
	if (o->target.scheme == URL_SCHEME_HTTPS) {
		o->tls_ctx = make_tls_ctx(o->cacert, o->insecure, o->no_session_cache);
		if (!o->tls_ctx)
			return -1;
	}
	if (o->has_proxy && o->proxy.scheme == URL_SCHEME_HTTPS) {
		o->proxy_tls_ctx = make_tls_ctx(o->proxy_cacert, o->proxy_insecure, false);
		if (!o->proxy_tls_ctx)
			return -1;
	}
	return 0;
}

void bench_opts_fini(struct bench_opts *o)
{
	free(o->request);
	free(o->proxy_hs);
	SSL_CTX_free(o->tls_ctx);
	SSL_CTX_free(o->proxy_tls_ctx);
	o->request = o->proxy_hs = NULL;
	o->tls_ctx = o->proxy_tls_ctx = NULL;
}
