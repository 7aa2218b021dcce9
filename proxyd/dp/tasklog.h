/* Task notes and the task log (g3proxy §3.2–3.3): what one task records
 * while it runs, and its records with g3's field names, order and value
 * formats: `Finished` once when it ends, and when the server asks for them
 * `Created`, `Connected` and `Periodic` (no reason on those). */
#ifndef G3C_PROXYD_DP_TASKLOG_H
#define G3C_PROXYD_DP_TASKLOG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/log.h"
#include "proxyd/config.h"
#include "proxyd/dp/dp.h"

/* ServerTaskError briefs (§3.7) that proxyd produces. */
enum task_reason {
	TASK_R_NONE = 0,
	TASK_R_INTERNAL_SERVER_ERROR,
	TASK_R_ESCAPER_NOT_USABLE,
	TASK_R_FORBIDDEN_BY_RULE,
	TASK_R_INVALID_CLIENT_PROTOCOL,
	TASK_R_UNIMPLEMENTED_PROTOCOL,
	TASK_R_CLIENT_TCP_READ_FAILED,
	TASK_R_CLIENT_TCP_WRITE_FAILED,
	TASK_R_CLIENT_AUTH_FAILED,
	TASK_R_CLIENT_APP_TIMEOUT,
	TASK_R_UPSTREAM_NOT_RESOLVED,
	TASK_R_UPSTREAM_NOT_CONNECTED,
	TASK_R_UPSTREAM_NOT_AVAILABLE,
	TASK_R_UPSTREAM_NOT_NEGOTIATED, /* a next-hop proxy refused or broke the handshake */
	TASK_R_UPSTREAM_READ_FAILED,
	TASK_R_UPSTREAM_WRITE_FAILED,
	TASK_R_INVALID_UPSTREAM_PROTOCOL,
	TASK_R_UPSTREAM_APP_TIMEOUT,
	TASK_R_CLOSED_BY_UPSTREAM,
	TASK_R_CLOSED_BY_CLIENT,
	TASK_R_CLOSED_EARLY_BY_CLIENT,
	TASK_R_CANCELED_AS_SERVER_QUIT,
	TASK_R_IDLE,
	TASK_R_FINISHED,
	TASK_R_UPSTREAM_TLS_HANDSHAKE_FAILED,
	TASK_R_CANCELED_AS_USER_BLOCKED, /* the user was blocked, deleted or expired */
	TASK_R_UPSTREAM_TLS_HANDSHAKE_TIMEOUT,
	TASK_R__COUNT,
};

/* "ClosedByClient", ... */
const char *task_reason_name(enum task_reason r);

enum task_stage {
	TASK_STAGE_CREATED = 0,
	TASK_STAGE_PREPARING,
	TASK_STAGE_CONNECTING,
	TASK_STAGE_CONNECTED,
	TASK_STAGE_REPLYING,
	TASK_STAGE_RELAYING,
	TASK_STAGE_FINISHED,
};

const char *task_stage_name(enum task_stage s);

enum task_type {
	TASK_TYPE_TCP_CONNECT = 0,
	TASK_TYPE_HTTP_FORWARD,
};

/* The HttpForward part of a record (§3.4); lives in the forward state. */
struct task_http {
	uint64_t pipeline_wait_ns; /* request head received → task creation */
	bool reuse_connection;	   /* the upstream connection came from the pool */
	const char *method;	   /* NUL-terminated */
	const char *uri;	   /* escaped and cut to log_uri_max_chars */
	const char *user_agent;	   /* NULL when none */
	uint16_t rsp_status, origin_status;
	uint64_t req_hdr_ns, req_all_ns, rsp_hdr_ns, rsp_all_ns; /* monotonic, 0 = not yet */
};

/* The UdpAssociate / UdpConnect part of a record (§3.6). */
struct task_udp {
	bool full;		       /* UdpAssociate; false: UdpConnect */
	const struct sockaddr *listen; /* udp_listen_addr */
	const struct sockaddr *client; /* udp_client_addr, NULL until known */
	const char *peer;	       /* initial_peer / upstream, NULL until known */
	uint64_t c_rd_bytes, c_rd_packets, c_wr_bytes, c_wr_packets;
	uint64_t r_rd_bytes, r_rd_packets, r_wr_bytes, r_wr_packets;
	/* g3c: datagrams dropped by UDP speed limits (client's, remote's) */
	uint64_t c_rd_dropped, r_rd_dropped;
};

/* Everything a TcpConnect record needs; lives inside the connection. */
struct task_notes {
	bool created;  /* a task exists: a record is due when it ends */
	bool log_skip; /* the user's log_rate_limit skips this task's records */
	enum task_type type;
	enum task_stage stage;
	uint8_t id[16];
	uint64_t start_wall_us; /* task creation, wall clock */
	uint64_t accept_ns;	/* connection accepted (or previous request done), monotonic */
	uint64_t created_ns;	/* task creation, monotonic */
	uint64_t ready_ns;	/* relaying started, 0 = never */
	const char *escaper;	/* name, borrowed from the config */
	const char *user;	/* user name as sent by the client (borrowed), NULL = none */
	/* route_geoip's decision input (g3c addition): iplocd's answer */
	bool geo_set;
	char geo_country[4], geo_continent[4];
	uint32_t geo_asn;
	union dp_addr bound, peer; /* next_bound_addr / next_peer_addr */
	bool has_bound, has_peer;
	unsigned connect_tries;
	uint64_t connect_spend_ns;
	enum task_reason reason;
	const char *message; /* human text for the record's message, static */
	uint64_t c_rd, c_wr, r_rd, r_wr;
	const struct task_http *http; /* HttpForward fields, NULL for TcpConnect */
	const struct task_udp *udp;   /* UdpAssociate / UdpConnect fields */
};

/* Where the task ran: the server, both addresses of the client connection
 * and the requested upstream ("host:port", "[v6]:port"; NULL = none). */
struct task_server {
	const struct server_conf *srv;
	const struct sockaddr *server_addr;
	const struct sockaddr *client_addr;
	const char *upstream;
};

/* "HttpProxy", "SocksProxy", ... for a server type. */
const char *task_server_type(int server_type);

/* Set the reason once: later calls keep the first reason (the cause), so a
 * write error after the client's close still reports ClosedByClient. */
void task_set_reason(struct task_notes *t, enum task_reason r, const char *message);

enum task_event {
	TASK_EV_CREATED = 0,
	TASK_EV_CONNECTED,
	TASK_EV_PERIODIC,
	TASK_EV_FINISHED,
};

/* "Created", "Connected", "Periodic", "Finished". */
const char *task_event_name(enum task_event ev);

/* Write a record of event ev to lg (no-op for a NULL / discard logger):
 * TcpConnect, HttpForward when t->http is set, UdpAssociate / UdpConnect
 * when t->udp is set (g3's keys and order). The byte counts are t's. */
void task_log_event(struct logger *lg, const struct task_server *ts, const struct task_notes *t,
		    enum task_event ev);

/* task_log_event(..., TASK_EV_FINISHED). */
void task_log_finished(struct logger *lg, const struct task_server *ts, const struct task_notes *t);

/* Format a UUID as 32 lower-case hex digits plus NUL into out[33]. */
void task_id_format(const uint8_t id[16], char out[33]);

#endif
