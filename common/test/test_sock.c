/* sock.h: address parse/format round-trips, listen/connect/accept on
 * loopback, SO_REUSEPORT, options, and network matching for ACLs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/sock.h"

static void roundtrip(const char *in, const char *want, int family, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	char text[SOCK_ADDR_STRLEN];

	assert_int_equal(sock_addr_parse_str(in, &ss, &len), 0);
	assert_int_equal(ss.ss_family, family);
	assert_int_equal(len, sock_addr_len((struct sockaddr *)&ss));
	assert_int_equal(sock_addr_port((struct sockaddr *)&ss), port);
	assert_int_equal(sock_addr_format((struct sockaddr *)&ss, text, sizeof(text)),
			 (int)strlen(want));
	assert_string_equal(text, want);
}

static void test_parse_format_ok(void **state)
{
	(void)state;
	roundtrip("127.0.0.1:80", "127.0.0.1:80", AF_INET, 80);
	roundtrip("0.0.0.0:0", "0.0.0.0:0", AF_INET, 0);
	roundtrip("255.255.255.255:65535", "255.255.255.255:65535", AF_INET, 65535);
	roundtrip("10.1.2.3:00443", "10.1.2.3:443", AF_INET, 443);
	roundtrip("[::1]:80", "[::1]:80", AF_INET6, 80);
	roundtrip("[::]:1080", "[::]:1080", AF_INET6, 1080);
	roundtrip("[2001:DB8::0:1]:8080", "[2001:db8::1]:8080", AF_INET6, 8080);
	roundtrip("[::ffff:192.0.2.1]:53", "[::ffff:192.0.2.1]:53", AF_INET6, 53);
	roundtrip("[fe80::1%7]:22", "[fe80::1%7]:22", AF_INET6, 22);
	roundtrip("[fe80::1%lo]:22", "[fe80::1%1]:22", AF_INET6, 22);

	/* slices need no NUL: the parser stops at the slice end */
	struct sockaddr_storage ss;
	socklen_t len;
	const char *text = "127.0.0.1:8080junk";
	assert_int_equal(sock_addr_parse(slice_make(text, 14), &ss, &len), 0);
	assert_int_equal(sock_addr_port((struct sockaddr *)&ss), 8080);

	/* bare IPs */
	char out[SOCK_ADDR_STRLEN];
	assert_int_equal(sock_ip_parse(slice_from_cstr("192.0.2.7"), 25, &ss, &len), 0);
	assert_int_equal(sock_addr_format((struct sockaddr *)&ss, out, sizeof(out)), 12);
	assert_string_equal(out, "192.0.2.7:25");
	assert_int_equal(sock_ip_format((struct sockaddr *)&ss, out, sizeof(out)), 9);
	assert_string_equal(out, "192.0.2.7");
	assert_int_equal(sock_ip_parse(slice_from_cstr("2001:db8::5"), 0, &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(sock_ip_format((struct sockaddr *)&ss, out, sizeof(out)), 11);
	assert_string_equal(out, "2001:db8::5");
	assert_int_equal(sock_ip_parse(slice_from_cstr("[::1]"), 0, &ss, &len), -EINVAL);
	assert_int_equal(sock_ip_parse(slice_from_cstr("1.2.3"), 0, &ss, &len), -EINVAL);
	assert_int_equal(sock_ip_parse(slice_from_cstr(""), 0, &ss, &len), -EINVAL);
}

static void test_parse_bad(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		int err;
	} cases[] = {
		{"", -EINVAL},
		{"127.0.0.1", -EINVAL},	      /* no port */
		{"127.0.0.1:", -EINVAL},      /* empty port */
		{":80", -EINVAL},	      /* no host */
		{"127.0.0.1:65536", -ERANGE}, /* out of range */
		{"127.0.0.1:99999999999999999999", -ERANGE},
		{"127.0.0.1:-1", -EINVAL},
		{"127.0.0.1:8o", -EINVAL},
		{"127.0.0.1: 80", -EINVAL},
		{"256.0.0.1:80", -EINVAL},
		{"1.2.3:80", -EINVAL},
		{"localhost:80", -EINVAL}, /* names are not addresses */
		{"::1:80", -EINVAL},	   /* v6 without brackets */
		{"::1", -EINVAL},
		{"[::1:80", -EINVAL}, /* missing ']' */
		{"[::1]", -EINVAL},   /* missing port */
		{"[::1]80", -EINVAL}, /* missing ':' */
		{"[::1]:", -EINVAL},
		{"[::1]:65536", -ERANGE},
		{"[::1]x:80", -EINVAL},
		{"[127.0.0.1]:80", -EINVAL}, /* brackets are for v6 */
		{"[]:80", -EINVAL},
		{"[fe80::1%]:80", -EINVAL}, /* empty scope */
		{"[fe80::1%nosuchif0]:80", -EINVAL},
		{"1.2.3.4%1:80", -EINVAL}, /* scope on v4 */
		{"[::g]:80", -EINVAL},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct sockaddr_storage ss;
		socklen_t len = 12345;

		memset(&ss, 0xa5, sizeof(ss));
		int rc = sock_addr_parse_str(cases[i].in, &ss, &len);
		if (rc != cases[i].err)
			fail_msg("\"%s\": got %d, want %d", cases[i].in, rc, cases[i].err);
		assert_int_equal(len, 12345); /* untouched on error */
	}
	/* an embedded NUL is not the end of the text */
	struct sockaddr_storage ss;
	socklen_t len;
	assert_int_equal(sock_addr_parse(slice_make("1.2.3.4\0x:80", 12), &ss, &len), -EINVAL);
}

static void test_format_edges(void **state)
{
	(void)state;
	struct sockaddr_storage ss;
	socklen_t len;
	char small[8];
	struct sockaddr_un sun;
	char out[SOCK_ADDR_STRLEN];

	assert_int_equal(sock_addr_parse_str("[2001:db8::1]:443", &ss, &len), 0);
	assert_int_equal(sock_addr_format((struct sockaddr *)&ss, small, sizeof(small)), -ENOSPC);
	assert_string_equal(small, "");
	/* exactly enough room */
	char exact[14];
	assert_int_equal(sock_addr_parse_str("10.0.0.1:8080", &ss, &len), 0);
	assert_int_equal(sock_addr_format((struct sockaddr *)&ss, exact, sizeof(exact)), 13);
	assert_int_equal(sock_addr_format((struct sockaddr *)&ss, exact, 13), -ENOSPC);

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, "/run/g3c/proxyd.sock");
	assert_int_equal(sock_addr_format((struct sockaddr *)&sun, out, sizeof(out)), 20);
	assert_string_equal(out, "/run/g3c/proxyd.sock");
	memset(sun.sun_path, 0, sizeof(sun.sun_path));
	memcpy(sun.sun_path, "\0abstract", 9);
	assert_true(sock_addr_format((struct sockaddr *)&sun, out, sizeof(out)) > 0);
	assert_string_equal(out, "@abstract");

	struct sockaddr other = {.sa_family = AF_PACKET};
	assert_int_equal(sock_addr_format(&other, out, sizeof(out)), -EAFNOSUPPORT);
	assert_int_equal(sock_addr_port(&other), 0);

	/* equality and port setting */
	struct sockaddr_storage a, b;
	socklen_t la, lb;
	assert_int_equal(sock_addr_parse_str("[::1]:80", &a, &la), 0);
	assert_int_equal(sock_addr_parse_str("[::1]:81", &b, &lb), 0);
	assert_false(sock_addr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
	sock_addr_set_port((struct sockaddr *)&b, 80);
	assert_true(sock_addr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
	assert_int_equal(sock_addr_parse_str("127.0.0.1:80", &b, &lb), 0);
	assert_false(sock_addr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
}

static void wait_fd(int fd, short events)
{
	struct pollfd p = {.fd = fd, .events = events};
	assert_int_equal(poll(&p, 1, 5000), 1);
}

static void test_listen_connect_accept(void **state)
{
	(void)state;
	struct sockaddr_storage ss, bound, peer, local, remote;
	socklen_t len, blen, plen, llen, rlen;
	char text[SOCK_ADDR_STRLEN], text2[SOCK_ADDR_STRLEN];
	int lfd, cfd, afd, rc;

	assert_int_equal(sock_addr_parse_str("127.0.0.1:0", &ss, &len), 0);
	lfd = sock_listen((struct sockaddr *)&ss, len, NULL);
	assert_true(lfd >= 0);
	assert_true(fcntl(lfd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(lfd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(sock_local_addr(lfd, &bound, &blen), 0);
	assert_true(sock_addr_port((struct sockaddr *)&bound) != 0);

	assert_int_equal(sock_accept(lfd, &peer, &plen), -EAGAIN);

	cfd = sock_socket(AF_INET, SOCK_STREAM);
	assert_true(cfd >= 0);
	assert_true(fcntl(cfd, F_GETFL) & O_NONBLOCK);
	rc = sock_connect(cfd, (struct sockaddr *)&bound, blen);
	assert_true(rc == 0 || rc == -EINPROGRESS);
	wait_fd(cfd, POLLOUT);
	assert_int_equal(sock_connect_result(cfd), 0);

	wait_fd(lfd, POLLIN);
	afd = sock_accept(lfd, &peer, &plen);
	assert_true(afd >= 0);
	assert_true(fcntl(afd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(afd, F_GETFD) & FD_CLOEXEC);

	/* the accepted peer is the connector's local address, and vice versa */
	assert_int_equal(sock_local_addr(cfd, &local, &llen), 0);
	assert_true(sock_addr_equal((struct sockaddr *)&peer, (struct sockaddr *)&local));
	assert_int_equal(sock_peer_addr(cfd, &remote, &rlen), 0);
	assert_true(sock_addr_equal((struct sockaddr *)&remote, (struct sockaddr *)&bound));
	assert_true(sock_addr_format((struct sockaddr *)&peer, text, sizeof(text)) > 0);
	assert_int_equal(strncmp(text, "127.0.0.1:", 10), 0);
	assert_true(sock_addr_is_loopback((struct sockaddr *)&peer));

	/* options on a live connection */
	int v;
	socklen_t vl = sizeof(v);
	assert_int_equal(sock_set_nodelay(cfd, true), 0);
	assert_int_equal(getsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &v, &vl), 0);
	assert_true(v != 0);
	struct sock_keepalive ka = {.enable = true, .idle_s = 61, .interval_s = 7, .count = 4};
	assert_int_equal(sock_set_keepalive(cfd, &ka), 0);
	assert_int_equal(getsockopt(cfd, SOL_SOCKET, SO_KEEPALIVE, &v, &vl), 0);
	assert_true(v != 0);
	assert_int_equal(getsockopt(cfd, IPPROTO_TCP, TCP_KEEPIDLE, &v, &vl), 0);
	assert_int_equal(v, 61);
	assert_int_equal(getsockopt(cfd, IPPROTO_TCP, TCP_KEEPINTVL, &v, &vl), 0);
	assert_int_equal(v, 7);
	assert_int_equal(getsockopt(cfd, IPPROTO_TCP, TCP_KEEPCNT, &v, &vl), 0);
	assert_int_equal(v, 4);
	ka.enable = false;
	assert_int_equal(sock_set_keepalive(cfd, &ka), 0);
	assert_int_equal(getsockopt(cfd, SOL_SOCKET, SO_KEEPALIVE, &v, &vl), 0);
	assert_int_equal(v, 0);
	assert_int_equal(sock_set_tos(cfd, 0x10), 0);
	assert_int_equal(getsockopt(cfd, IPPROTO_IP, IP_TOS, &v, &vl), 0);
	assert_int_equal(v, 0x10);
	rc = sock_set_mark(cfd, 42);
	assert_true(rc == 0 || rc == -EPERM);
	if (rc == 0) {
		assert_int_equal(getsockopt(cfd, SOL_SOCKET, SO_MARK, &v, &vl), 0);
		assert_int_equal(v, 42);
	}
	assert_int_equal(sock_bind_interface(cfd, "this-name-is-too-long-for-ifnamsiz"), -EINVAL);
	rc = sock_bind_interface(cfd, "nosuchif0");
	assert_true(rc == -ENODEV || rc == -EPERM);

	/* bytes flow */
	assert_int_equal(write(cfd, "ping", 4), 4);
	wait_fd(afd, POLLIN);
	assert_int_equal(read(afd, text2, sizeof(text2)), 4);
	assert_memory_equal(text2, "ping", 4);

	close(afd);
	close(cfd);
	close(lfd);
}

static void test_connect_refused(void **state)
{
	(void)state;
	struct sockaddr_storage ss, bound;
	socklen_t len, blen;
	int lfd, cfd, rc;

	/* learn a free port, then close it so nothing listens there */
	assert_int_equal(sock_addr_parse_str("127.0.0.1:0", &ss, &len), 0);
	lfd = sock_listen((struct sockaddr *)&ss, len, NULL);
	assert_true(lfd >= 0);
	assert_int_equal(sock_local_addr(lfd, &bound, &blen), 0);
	close(lfd);

	cfd = sock_socket(AF_INET, SOCK_STREAM);
	assert_true(cfd >= 0);
	rc = sock_connect(cfd, (struct sockaddr *)&bound, blen);
	if (rc == -EINPROGRESS) {
		wait_fd(cfd, POLLOUT);
		rc = sock_connect_result(cfd);
	}
	assert_int_equal(rc, -ECONNREFUSED);
	close(cfd);

	/* a connect that has not been started is not "connected" */
	cfd = sock_socket(AF_INET, SOCK_STREAM);
	assert_int_equal(sock_connect_result(cfd), -EINPROGRESS);
	close(cfd);
}

static void test_reuseport_and_v6(void **state)
{
	(void)state;
	struct sockaddr_storage ss, bound;
	socklen_t len, blen;
	struct sock_listen_opts rp = {.reuseport = true, .backlog = 16};
	int l1, l2, l3;

	assert_int_equal(sock_addr_parse_str("127.0.0.1:0", &ss, &len), 0);
	l1 = sock_listen((struct sockaddr *)&ss, len, &rp);
	assert_true(l1 >= 0);
	assert_int_equal(sock_local_addr(l1, &bound, &blen), 0);

	/* a second SO_REUSEPORT listener on the same port (hot upgrade) */
	l2 = sock_listen((struct sockaddr *)&bound, blen, &rp);
	assert_true(l2 >= 0);
	/* without SO_REUSEPORT the port is taken */
	l3 = sock_listen((struct sockaddr *)&bound, blen, NULL);
	assert_int_equal(l3, -EADDRINUSE);
	close(l1);
	close(l2);

	/* IPv6 with V6ONLY on and off */
	struct sock_listen_opts v6 = {.v6only = SOCK_V6ONLY_ON};
	assert_int_equal(sock_addr_parse_str("[::1]:0", &ss, &len), 0);
	l1 = sock_listen((struct sockaddr *)&ss, len, &v6);
	if (l1 == -EADDRNOTAVAIL || l1 == -EAFNOSUPPORT) {
		print_message("no IPv6 loopback here, skipping the v6 part\n");
		return;
	}
	assert_true(l1 >= 0);
	int v = 0;
	socklen_t vl = sizeof(v);
	assert_int_equal(getsockopt(l1, IPPROTO_IPV6, IPV6_V6ONLY, &v, &vl), 0);
	assert_int_equal(v, 1);
	close(l1);
	v6.v6only = SOCK_V6ONLY_OFF;
	assert_int_equal(sock_addr_parse_str("[::]:0", &ss, &len), 0);
	l1 = sock_listen((struct sockaddr *)&ss, len, &v6);
	assert_true(l1 >= 0);
	assert_int_equal(getsockopt(l1, IPPROTO_IPV6, IPV6_V6ONLY, &v, &vl), 0);
	assert_int_equal(v, 0);

	/* dual stack: an IPv4 client shows up as a v4-mapped peer */
	struct sockaddr_storage v4, peer;
	socklen_t v4len, plen;
	char text[SOCK_ADDR_STRLEN];
	assert_int_equal(sock_local_addr(l1, &bound, &blen), 0);
	assert_int_equal(sock_addr_parse_str("127.0.0.1:0", &v4, &v4len), 0);
	sock_addr_set_port((struct sockaddr *)&v4, sock_addr_port((struct sockaddr *)&bound));
	int cfd = sock_socket(AF_INET, SOCK_STREAM);
	int rc = sock_connect(cfd, (struct sockaddr *)&v4, v4len);
	assert_true(rc == 0 || rc == -EINPROGRESS);
	wait_fd(l1, POLLIN);
	int afd = sock_accept(l1, &peer, &plen);
	assert_true(afd >= 0);
	assert_int_equal(peer.ss_family, AF_INET6);
	assert_true(sock_addr_format((struct sockaddr *)&peer, text, sizeof(text)) > 0);
	assert_int_equal(strncmp(text, "[::ffff:127.0.0.1]:", 19), 0);
	assert_true(sock_addr_is_loopback((struct sockaddr *)&peer));
	assert_int_equal(sock_set_tos(afd, 0x20), 0);
	assert_int_equal(getsockopt(afd, IPPROTO_IPV6, IPV6_TCLASS, &v, &vl), 0);
	assert_int_equal(v, 0x20);
	close(afd);
	close(cfd);
	close(l1);

	/* listen refuses non-IP families */
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	assert_int_equal(sock_listen((struct sockaddr *)&sun, sizeof(sun), NULL), -EAFNOSUPPORT);
}

static bool in_net(const char *ip, int family, const char *net, unsigned prefix)
{
	struct sockaddr_storage ss;
	socklen_t len;
	uint8_t addr[16] = {0};

	assert_int_equal(sock_ip_parse(slice_from_cstr(ip), 0, &ss, &len), 0);
	assert_int_equal(inet_pton(family, net, addr), 1);
	return sock_addr_in_net((struct sockaddr *)&ss, family, addr, prefix);
}

static void test_net_match(void **state)
{
	(void)state;
	assert_true(in_net("10.1.2.3", AF_INET, "10.0.0.0", 8));
	assert_false(in_net("11.1.2.3", AF_INET, "10.0.0.0", 8));
	assert_true(in_net("192.168.1.130", AF_INET, "192.168.1.128", 25));
	assert_false(in_net("192.168.1.127", AF_INET, "192.168.1.128", 25));
	assert_true(in_net("192.168.1.1", AF_INET, "192.168.1.1", 32));
	assert_false(in_net("192.168.1.2", AF_INET, "192.168.1.1", 32));
	assert_true(in_net("8.8.8.8", AF_INET, "0.0.0.0", 0));
	assert_false(in_net("8.8.8.8", AF_INET, "8.8.8.8", 33)); /* bad prefix */

	assert_true(in_net("2001:db8::1", AF_INET6, "2001:db8::", 32));
	assert_false(in_net("2001:db9::1", AF_INET6, "2001:db8::", 32));
	assert_true(in_net("2001:db8:0:1::", AF_INET6, "2001:db8::", 63));
	assert_false(in_net("2001:db8:0:1::", AF_INET6, "2001:db8::", 64));
	assert_true(in_net("::1", AF_INET6, "::1", 128));
	assert_false(in_net("::1", AF_INET6, "::1", 129));

	/* families do not mix ... */
	assert_false(in_net("10.0.0.1", AF_INET6, "::", 0));
	assert_false(in_net("2001:db8::1", AF_INET, "0.0.0.0", 0));
	/* ... except through v4-mapped addresses, in both directions */
	assert_true(in_net("::ffff:10.1.2.3", AF_INET, "10.0.0.0", 8));
	assert_false(in_net("::ffff:11.1.2.3", AF_INET, "10.0.0.0", 8));
	assert_true(in_net("10.1.2.3", AF_INET6, "::ffff:10.0.0.0", 104));
	assert_false(in_net("11.1.2.3", AF_INET6, "::ffff:10.0.0.0", 104));
	assert_true(in_net("::ffff:10.1.2.3", AF_INET6, "::ffff:10.0.0.0", 104));
	assert_true(in_net("127.0.0.1", AF_INET6, "::ffff:0.0.0.0", 96));

	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	uint8_t any[16] = {0};
	assert_false(sock_addr_in_net((struct sockaddr *)&sun, AF_INET, any, 0));

	struct sockaddr_storage ss;
	socklen_t len;
	assert_int_equal(sock_ip_parse(slice_from_cstr("::2"), 0, &ss, &len), 0);
	assert_false(sock_addr_is_loopback((struct sockaddr *)&ss));
	assert_int_equal(sock_ip_parse(slice_from_cstr("127.8.9.10"), 0, &ss, &len), 0);
	assert_true(sock_addr_is_loopback((struct sockaddr *)&ss));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_format_ok),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_format_edges),
		cmocka_unit_test(test_listen_connect_accept),
		cmocka_unit_test(test_connect_refused),
		cmocka_unit_test(test_reuseport_and_v6),
		cmocka_unit_test(test_net_match),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
