/* Port server configs: plain_tcp_port and intelli_proxy (alias
 * ppdp_tcp_port) with their PROXY protocol keys, defaults, references and
 * the errors for references of the wrong type. */
#include "proxyd/test/proxyd_fixture.h"

#define BASE                                                                   \
	"escaper:\n  - {name: e, type: dummy_deny}\n"                          \
	"server:\n"                                                            \
	"  - {name: h, type: http_proxy, escaper: e, listen: '127.0.0.1:1'}\n" \
	"  - {name: s, type: socks_proxy, escaper: e, listen: '127.0.0.1:2'}\n"

static void test_intelli_defaults_and_refs(void **state)
{
	struct fx_load l;
	const struct server_conf *i, *j;

	(void)state;
	FX_LOAD_OK(&l,
		   BASE "  - {name: i, type: intelli_proxy, listen: '127.0.0.1:3', "
			"http_server: h, socks_server: s}\n"
			"  - {name: j, type: ppdp_tcp_port, listen: '127.0.0.1:4', "
			"http_server: h, socks_server: s, proxy_protocol: 2, "
			"protocol_detection_timeout: 250ms, proxy_protocol_read_timeout: 1s}\n");
	i = proxyd_conf_server(l.conf, "i");
	j = proxyd_conf_server(l.conf, "j");
	assert_int_equal(i->type, SERVER_INTELLI_PROXY);
	assert_int_equal(j->type, SERVER_INTELLI_PROXY);
	assert_ptr_equal(i->u.port.http_server, proxyd_conf_server(l.conf, "h"));
	assert_ptr_equal(i->u.port.socks_server, proxyd_conf_server(l.conf, "s"));
	assert_int_equal(i->u.port.protocol_detection_timeout_ms, 4000);
	assert_int_equal(i->u.port.proxy_protocol, 0);
	assert_int_equal(i->u.port.proxy_protocol_read_timeout_ms, 5000);
	assert_int_equal(j->u.port.protocol_detection_timeout_ms, 250);
	assert_int_equal(j->u.port.proxy_protocol, 2);
	assert_int_equal(j->u.port.proxy_protocol_read_timeout_ms, 1000);
	fx_done(&l);

	/* a missing server is a warning; its connections will be closed */
	FX_LOAD_OK(&l, BASE "  - {name: i, type: intelli_proxy, listen: '127.0.0.1:3', "
			    "http_server: nope, socks_server: s}\n");
	assert_null(proxyd_conf_server(l.conf, "i")->u.port.http_server);
	fx_done(&l);
}

static void test_port_errors(void **state)
{
	(void)state;
	FX_LOAD_ERR_HAS(BASE "  - {name: i, type: intelli_proxy, listen: '127.0.0.1:3', "
			     "http_server: s, socks_server: s}\n",
			"http_server 's' is not an http_proxy server");
	FX_LOAD_ERR_HAS(BASE "  - {name: i, type: intelli_proxy, listen: '127.0.0.1:3', "
			     "http_server: h, socks_server: h}\n",
			"socks_server 'h' is not a socks_proxy server");
	FX_LOAD_ERR_HAS(BASE "  - {name: i, type: intelli_proxy, listen: '127.0.0.1:3', "
			     "http_server: h}\n",
			"missing required key 'socks_server'");
	FX_LOAD_ERR_HAS(BASE "  - {name: i, type: intelli_proxy, listen: '127.0.0.1:3', "
			     "http_server: h, socks_server: s, proxy_protocol: 3}\n",
			"proxy_protocol");
	FX_LOAD_ERR_HAS(BASE
			"  - {name: i, type: intelli_proxy, listen: '127.0.0.1:3', "
			"http_server: h, socks_server: s}\n"
			"  - {name: p, type: plain_tcp_port, listen: '127.0.0.1:4', server: i}\n",
			"cannot hand connections to port server 'i'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_intelli_defaults_and_refs),
		cmocka_unit_test(test_port_errors),
	};
	return cmocka_run_group_tests(tests, fx_quiet_log, NULL);
}
