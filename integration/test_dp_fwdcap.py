"""proxy_http's http_forward_capability.forward_https (g3proxy §1.3): with it
an https:// absolute-form request goes to the next proxy as is (the next
proxy makes the TLS to the origin); without it proxyd opens a CONNECT
tunnel through the next proxy and makes the TLS itself."""

import pytest

from dp_fixtures import dp_clean_exit, dns, origin, origin_root  # noqa: F401
from dp_helpers import free_port, task_records, wait_port, wait_record
from test_dp_chain import chain_conf, listen_block, start_named
from test_dp_tls import fp, forward, nginx_tls, pki  # noqa: F401


def front_with(daemon_factory, write_conf, back_port, forward_https, ca):
    hp = free_port()
    esc = ("  - name: up\n    type: proxy_http\n"
           f"    proxy_addr: 127.0.0.1:{back_port}\n"
           f"    http_forward_capability: {{forward_https: {str(forward_https).lower()}}}\n")
    server = listen_block("fhttp", "http_proxy", hp, "up",
                          f"tls_client:\n  ca_certificate: {ca}")
    d = start_named(daemon_factory, write_conf, chain_conf(esc, server), f"fcap{hp}")
    d.hp = hp
    wait_port(hp)
    return d


@pytest.mark.parametrize("forward_https", [True, False])
def test_forward_https_capability(daemon_factory, write_conf, fp, nginx_tls,  # noqa: F811
                                  pki, forward_https):  # noqa: F811
    front = front_with(daemon_factory, write_conf, fp.p["http"], forward_https,
                       pki.root.cert)
    host = f"origin.test:{nginx_tls.good}"
    status, body = forward(front.hp, f"https://{host}/index.html", host)
    assert status == 200 and body == b"hello over tls\n"
    rec = wait_record(front, lambda x: x.get("task_type") == "HttpForward")
    assert rec["rsp_status"] == 200 and rec["escaper"] == "up"
    if forward_https:
        # the next proxy got the https:// request and made the TLS itself
        back = wait_record(fp, lambda x: x.get("task_type") == "HttpForward")
        assert back["uri"].startswith(f"https://{host}/index.html")
        assert back["upstream"] == host
        assert not [x for x in task_records(fp) if x.get("task_type") == "TcpConnect"]
    else:
        # a CONNECT tunnel through the next proxy, TLS from the front
        back = wait_record(fp, lambda x: x.get("task_type") == "TcpConnect")
        assert back["upstream"] == host
        assert not [x for x in task_records(fp) if x.get("task_type") == "HttpForward"]
    # a target the next proxy cannot resolve: with forward_https its own
    # answer comes back (g3's 530) and it got the absolute form with the
    # default port left out; through CONNECT the refusal is a 502
    status, _ = forward(front.hp, "https://nosuch.test/x", "nosuch.test")
    if forward_https:
        assert status == 530
        back = wait_record(fp, lambda x: x.get("upstream") == "nosuch.test:443")
        assert back["uri"] == "https://nosuch.test/x"
    else:
        assert status == 502
