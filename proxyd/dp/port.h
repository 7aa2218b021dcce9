/* Port servers in front of an http_proxy / socks_proxy server: plain_tcp_port
 * (hands the accepted stream to its named server), plain_tls_port and
 * native_tls_port (the same, with TLS terminated by the connection itself
 * after the hand-over: tls_ep.h, CONN_ST_TLS_ACCEPT, so the PROXY header
 * comes before the TLS handshake as in g3) and intelli_proxy (peeks
 * the first byte within protocol_detection_timeout: 0x04 / 0x05 go to its
 * socks_server, anything else to its http_server; a timeout or end of
 * stream first is a silent close), each with an optional mandatory PROXY
 * protocol header (proxy_proto.h) read first.
 *
 * An accepted socket of a port server lives here (struct port_conn, on the
 * worker's list) until its header is read; then the connection is handed to
 * conn_new() of the target server with the PROXY source as client address
 * (and destination as server address), after the target server's
 * ingress_network_filter allowed that address. The header bytes are
 * consumed exactly (peek, then read what belongs to the header), so
 * whatever the client sent after it stays in the socket for the target
 * server's first read. A bad or missing header, or none within
 * proxy_protocol_read_timeout, closes the socket (logged at info, counted in
 * dp_shared.pp_rejected). The first byte is only peeked, so it too stays
 * for the target server. */
#ifndef G3C_PROXYD_DP_PORT_H
#define G3C_PROXYD_DP_PORT_H

#include <stdbool.h>
#include <sys/socket.h>

#include "proxyd/config.h"
#include "proxyd/dp/dp.h"

/* True for the server types this module runs. */
bool port_is_port_server(const struct server_conf *s);

/* Take fd (accepted on port server srv of the worker's current generation,
 * after srv's own ingress filter passed for the real peer). The fd is
 * owned from here on: handed over or closed. */
void port_accept(struct dp_worker *wk, const struct server_conf *srv, int fd,
		 const struct sockaddr *peer, const struct sockaddr *local);

/* Close every pending port connection of the worker (shutdown). */
void port_close_all(struct dp_worker *wk);

#endif
