/*
 * tunload: tunnels set up per second through an HTTP CONNECT or SOCKS5
 * proxy (or plain connections to the origin for the direct reference).
 * Built by the proxy-tunnel-rate workload at run time (cc -O2); bench only.
 *
 *   tunload MODE PROXY_PORT ORIGIN_PORT CONCURRENCY SECONDS
 *   MODE: connect | socks5 | direct
 *
 * Each of CONCURRENCY connections loops until SECONDS have passed: connect to
 * 127.0.0.1:PROXY_PORT, open a tunnel to 127.0.0.1:ORIGIN_PORT (CONNECT and
 * wait for its 2xx head, or the SOCKS5 greeting and CONNECT replies), send
 * "GET /small" with Connection: close through it and read to EOF. A tunnel
 * counts when the origin's "HTTP/1.1 200" came back through it. Prints one
 * JSON line: {"tunnels":N,"errors":N,"seconds":S,"rate":R}.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum mode { MODE_CONNECT, MODE_SOCKS5, MODE_DIRECT };
enum step { ST_CONNECTING, ST_HEAD, ST_GREET, ST_SOCKS_REPLY, ST_BODY };

struct conn {
	int fd;
	enum step step;
	size_t got;
	char buf[512];
	size_t len; /* bytes kept in buf */
	int ok;	    /* origin status line seen */
};

static enum mode g_mode;
static int g_proxy_port, g_origin_port, g_epfd;
static char g_get[256], g_connect[256];
static long g_tunnels, g_errors;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int send_all(int fd, const void *p, size_t n)
{
	/* Handshake messages are tiny: one write fills a fresh socket buffer. */
	ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
	return w == (ssize_t)n ? 0 : -1;
}

static int conn_start(struct conn *c)
{
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)g_proxy_port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd < 0)
		return -1;
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->step = ST_CONNECTING;
	c->got = 0;
	c->len = 0;
	c->ok = 0;
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
		close(c->fd);
		return -1;
	}
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
	return epoll_ctl(g_epfd, EPOLL_CTL_ADD, c->fd, &ev);
}

static void conn_end(struct conn *c, int ok)
{
	if (ok)
		g_tunnels++;
	else
		g_errors++;
	close(c->fd);
	c->fd = -1;
}

/* Append received bytes to the small head buffer (heads fit in 512 B). */
static void keep(struct conn *c, const char *p, size_t n)
{
	size_t room = sizeof(c->buf) - 1 - c->len;
	if (n > room)
		n = room;
	memcpy(c->buf + c->len, p, n);
	c->len += n;
	c->buf[c->len] = '\0';
}

static int begin_body(struct conn *c)
{
	c->step = ST_BODY;
	c->len = 0;
	return send_all(c->fd, g_get, strlen(g_get));
}

/* Returns 1 while the connection goes on, 0 when it ended. */
static int on_event(struct conn *c, unsigned events)
{
	char tmp[65536];
	if (c->step == ST_CONNECTING) {
		int err = 0;
		socklen_t l = sizeof(err);
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0 || err) {
			conn_end(c, 0);
			return 0;
		}
		if (!(events & EPOLLOUT) && !(events & EPOLLIN))
			return 1;
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
		epoll_ctl(g_epfd, EPOLL_CTL_MOD, c->fd, &ev);
		int r;
		if (g_mode == MODE_CONNECT) {
			c->step = ST_HEAD;
			r = send_all(c->fd, g_connect, strlen(g_connect));
		} else if (g_mode == MODE_SOCKS5) {
			c->step = ST_GREET;
			r = send_all(c->fd, "\x05\x01\x00", 3);
		} else {
			r = begin_body(c);
		}
		if (r < 0) {
			conn_end(c, 0);
			return 0;
		}
		return 1;
	}
	ssize_t n = recv(c->fd, tmp, sizeof(tmp), 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 1;
	if (n <= 0) {
		conn_end(c, n == 0 && c->step == ST_BODY && c->ok);
		return 0;
	}
	switch (c->step) {
	case ST_HEAD:
		keep(c, tmp, (size_t)n);
		if (!strstr(c->buf, "\r\n\r\n"))
			return 1;
		if (strncmp(c->buf, "HTTP/1.", 7) != 0 || c->buf[9] != '2' ||
		    strlen(strstr(c->buf, "\r\n\r\n")) != 4 || begin_body(c) < 0) {
			conn_end(c, 0);
			return 0;
		}
		return 1;
	case ST_GREET:
		keep(c, tmp, (size_t)n);
		if (c->len < 2)
			return 1;
		if (c->len != 2 || c->buf[0] != 5 || c->buf[1] != 0) {
			conn_end(c, 0);
			return 0;
		}
		c->step = ST_SOCKS_REPLY;
		c->len = 0;
		unsigned char req[10] = {5, 1, 0, 1, 127, 0, 0, 1};
		req[8] = (unsigned char)(g_origin_port >> 8);
		req[9] = (unsigned char)(g_origin_port & 0xff);
		if (send_all(c->fd, req, sizeof(req)) < 0) {
			conn_end(c, 0);
			return 0;
		}
		return 1;
	case ST_SOCKS_REPLY:
		keep(c, tmp, (size_t)n);
		if (c->len < 10)
			return 1;
		if (c->len != 10 || c->buf[1] != 0 || begin_body(c) < 0) {
			conn_end(c, 0);
			return 0;
		}
		return 1;
	case ST_BODY:
		if (c->len < 12)
			keep(c, tmp, (size_t)n);
		if (!c->ok && c->len >= 12)
			c->ok = strncmp(c->buf, "HTTP/1.1 200", 12) == 0;
		c->got += (size_t)n;
		return 1;
	case ST_CONNECTING:
		break;
	}
	return 1;
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: tunload connect|socks5|direct PROXY_PORT ORIGIN_PORT "
				"CONCURRENCY SECONDS\n");
		return 2;
	}
	if (strcmp(argv[1], "connect") == 0)
		g_mode = MODE_CONNECT;
	else if (strcmp(argv[1], "socks5") == 0)
		g_mode = MODE_SOCKS5;
	else if (strcmp(argv[1], "direct") == 0)
		g_mode = MODE_DIRECT;
	else
		return 2;
	g_proxy_port = atoi(argv[2]);
	g_origin_port = atoi(argv[3]);
	int conc = atoi(argv[4]);
	double secs = atof(argv[5]);
	if (conc < 1 || conc > 4096 || secs <= 0 || secs > 600)
		return 2;
	snprintf(g_connect, sizeof(g_connect),
		 "CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", g_origin_port,
		 g_origin_port);
	snprintf(g_get, sizeof(g_get),
		 "GET /small HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n",
		 g_origin_port);
	g_epfd = epoll_create1(0);
	if (g_epfd < 0)
		return 1;
	struct conn *conns = calloc((size_t)conc, sizeof(*conns));
	if (!conns)
		return 1;
	double start = now_s(), end = start + secs;
	for (int i = 0; i < conc; i++)
		if (conn_start(&conns[i]) < 0)
			conns[i].fd = -1, g_errors++;
	struct epoll_event evs[256];
	while (now_s() < end) {
		int n = epoll_wait(g_epfd, evs, 256, 100);
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (!on_event(c, evs[i].events) && now_s() < end && conn_start(c) < 0) {
				c->fd = -1;
				g_errors++;
			}
		}
		if (g_errors > 0 && g_tunnels == 0 && now_s() - start > 5)
			break; /* nothing works: stop early, the JSON says so */
	}
	double took = now_s() - start;
	for (int i = 0; i < conc; i++)
		if (conns[i].fd >= 0)
			close(conns[i].fd);
	free(conns);
	printf("{\"tunnels\":%ld,\"errors\":%ld,\"seconds\":%.3f,\"rate\":%.1f}\n", g_tunnels,
	       g_errors, took, (double)g_tunnels / took);
	return g_tunnels > 0 ? 0 : 1;
}
