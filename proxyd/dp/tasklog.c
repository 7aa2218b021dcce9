/* Task notes and the Finished record (see tasklog.h). */
#include "proxyd/dp/tasklog.h"

#include "common/util.h"

static const char *const reason_names[TASK_R__COUNT] = {
	[TASK_R_NONE] = "UnclassifiedError",
	[TASK_R_INTERNAL_SERVER_ERROR] = "InternalServerError",
	[TASK_R_ESCAPER_NOT_USABLE] = "EscaperNotUsable",
	[TASK_R_FORBIDDEN_BY_RULE] = "ForbiddenByRule",
	[TASK_R_INVALID_CLIENT_PROTOCOL] = "InvalidClientProtocol",
	[TASK_R_UNIMPLEMENTED_PROTOCOL] = "UnimplementedProtocol",
	[TASK_R_CLIENT_TCP_READ_FAILED] = "ClientTcpReadFailed",
	[TASK_R_CLIENT_TCP_WRITE_FAILED] = "ClientTcpWriteFailed",
	[TASK_R_CLIENT_AUTH_FAILED] = "ClientAuthFailed",
	[TASK_R_CLIENT_APP_TIMEOUT] = "ClientAppTimeout",
	[TASK_R_UPSTREAM_NOT_RESOLVED] = "UpstreamNotResolved",
	[TASK_R_UPSTREAM_NOT_CONNECTED] = "UpstreamNotConnected",
	[TASK_R_UPSTREAM_NOT_AVAILABLE] = "UpstreamNotAvailable",
	[TASK_R_UPSTREAM_NOT_NEGOTIATED] = "UpstreamNotNegotiated",
	[TASK_R_UPSTREAM_READ_FAILED] = "UpstreamReadFailed",
	[TASK_R_UPSTREAM_WRITE_FAILED] = "UpstreamWriteFailed",
	[TASK_R_INVALID_UPSTREAM_PROTOCOL] = "InvalidUpstreamProtocol",
	[TASK_R_UPSTREAM_APP_TIMEOUT] = "UpstreamAppTimeout",
	[TASK_R_CLOSED_BY_UPSTREAM] = "ClosedByUpstream",
	[TASK_R_CLOSED_BY_CLIENT] = "ClosedByClient",
	[TASK_R_CLOSED_EARLY_BY_CLIENT] = "ClosedEarlyByClient",
	[TASK_R_CANCELED_AS_SERVER_QUIT] = "CanceledAsServerQuit",
	[TASK_R_IDLE] = "Idle",
	[TASK_R_FINISHED] = "Finished",
	[TASK_R_UPSTREAM_TLS_HANDSHAKE_FAILED] = "UpstreamTlsHandshakeFailed",
	[TASK_R_CANCELED_AS_USER_BLOCKED] = "CanceledAsUserBlocked",
	[TASK_R_UPSTREAM_TLS_HANDSHAKE_TIMEOUT] = "UpstreamTlsHandshakeTimeout",
};

const char *task_reason_name(enum task_reason r)
{
	if ((unsigned)r >= TASK_R__COUNT)
		return "UnclassifiedError";
	return reason_names[r];
}

const char *task_stage_name(enum task_stage s)
{
	switch (s) {
	case TASK_STAGE_CREATED:
		return "Created";
	case TASK_STAGE_PREPARING:
		return "Preparing";
	case TASK_STAGE_CONNECTING:
		return "Connecting";
	case TASK_STAGE_CONNECTED:
		return "Connected";
	case TASK_STAGE_REPLYING:
		return "Replying";
	case TASK_STAGE_RELAYING:
		return "Relaying";
	case TASK_STAGE_FINISHED:
		return "Finished";
	}
	return "Created";
}

const char *task_server_type(int server_type)
{
	switch (server_type) {
	case SERVER_HTTP_PROXY:
		return "HttpProxy";
	case SERVER_SOCKS_PROXY:
		return "SocksProxy";
	case SERVER_PLAIN_TCP_PORT:
		return "PlainTcpPort";
	case SERVER_PLAIN_TLS_PORT:
		return "PlainTlsPort";
	default:
		return "Unknown";
	}
}

void task_set_reason(struct task_notes *t, enum task_reason r, const char *message)
{
	if (t->reason != TASK_R_NONE)
		return;
	t->reason = r;
	t->message = message;
}

void task_id_format(const uint8_t id[16], char out[33])
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 0; i < 16; i++) {
		out[2 * i] = hex[id[i] >> 4];
		out[2 * i + 1] = hex[id[i] & 15];
	}
	out[32] = '\0';
}

static uint64_t since(uint64_t from, uint64_t to)
{
	return (from != 0 && to > from) ? to - from : 0;
}

const char *task_event_name(enum task_event ev)
{
	switch (ev) {
	case TASK_EV_CREATED:
		return "Created";
	case TASK_EV_CONNECTED:
		return "Connected";
	case TASK_EV_PERIODIC:
		return "Periodic";
	case TASK_EV_FINISHED:
		break;
	}
	return "Finished";
}

/* The keys every task record starts with, in g3's order. Values are
 * borrowed until log_rec_emit(), so the id text lives in the caller's id. */
static void rec_head(struct log_rec *r, char id[33], struct logger *lg,
		     const struct task_server *ts, const struct task_notes *t, enum task_event ev,
		     const char *task_type)
{
	task_id_format(t->id, id);
	log_rec_init(r, lg);
	log_rec_str(r, "server_type", task_server_type(ts->srv->type));
	log_rec_str(r, "server_name", ts->srv->name);
	log_rec_str(r, "task_type", task_type);
	log_rec_str(r, "task_id", id);
	log_rec_str(r, "task_event", task_event_name(ev));
	log_rec_str(r, "stage", task_stage_name(t->stage));
	log_rec_time(r, "start_at", t->start_wall_us);
	if (t->user != NULL)
		log_rec_str(r, "user", t->user);
}

/* UdpAssociate / UdpConnect (g3's keys and order). */
static void task_log_udp(struct logger *lg, const struct task_server *ts,
			 const struct task_notes *t, enum task_event ev)
{
	const struct task_udp *u = t->udp;
	struct log_rec r;
	char id[33];
	uint64_t now = util_mono_ns();

	rec_head(&r, id, lg, ts, t, ev, u->full ? "UdpAssociate" : "UdpConnect");
	log_rec_addr(&r, "tcp_server_addr", ts->server_addr);
	log_rec_addr(&r, "tcp_client_addr", ts->client_addr);
	log_rec_addr(&r, "udp_listen_addr", u->listen);
	log_rec_addr(&r, "udp_client_addr", u->client);
	log_rec_str(&r, u->full ? "initial_peer" : "upstream", u->peer);
	log_rec_str(&r, "escaper", t->escaper);
	if (!u->full) {
		if (t->has_bound)
			log_rec_addr(&r, "next_bound_addr", &t->bound.sa);
		if (t->has_peer)
			log_rec_addr(&r, "next_peer_addr", &t->peer.sa);
	}
	if (ev == TASK_EV_FINISHED)
		log_rec_str(&r, "reason", task_reason_name(t->reason));
	log_rec_dur(&r, "wait_time", since(t->accept_ns, t->created_ns));
	log_rec_dur(&r, "ready_time", since(t->created_ns, t->ready_ns));
	log_rec_dur(&r, "total_time", since(t->created_ns, now));
	log_rec_u64(&r, "c_rd_bytes", u->c_rd_bytes);
	log_rec_u64(&r, "c_rd_packets", u->c_rd_packets);
	log_rec_u64(&r, "c_wr_bytes", u->c_wr_bytes);
	log_rec_u64(&r, "c_wr_packets", u->c_wr_packets);
	log_rec_u64(&r, "r_rd_bytes", u->r_rd_bytes);
	log_rec_u64(&r, "r_rd_packets", u->r_rd_packets);
	log_rec_u64(&r, "r_wr_bytes", u->r_wr_bytes);
	log_rec_u64(&r, "r_wr_packets", u->r_wr_packets);
	if (u->c_rd_dropped != 0) /* g3c: over udp_sock / udp_all speed limits */
		log_rec_u64(&r, "c_rd_dropped_packets", u->c_rd_dropped);
	if (u->r_rd_dropped != 0)
		log_rec_u64(&r, "r_rd_dropped_packets", u->r_rd_dropped);
	log_rec_emit(&r, ev == TASK_EV_FINISHED ? t->message : NULL);
}

void task_log_finished(struct logger *lg, const struct task_server *ts, const struct task_notes *t)
{
	task_log_event(lg, ts, t, TASK_EV_FINISHED);
}

void task_log_event(struct logger *lg, const struct task_server *ts, const struct task_notes *t,
		    enum task_event ev)
{
	struct log_rec r;
	char id[33];
	uint64_t now = util_mono_ns();

	if (!logger_enabled(lg) || !t->created || t->log_skip)
		return;
	if (t->udp != NULL) {
		task_log_udp(lg, ts, t, ev);
		return;
	}
	rec_head(&r, id, lg, ts, t, ev, t->http != NULL ? "HttpForward" : "TcpConnect");
	log_rec_addr(&r, "server_addr", ts->server_addr);
	log_rec_addr(&r, "client_addr", ts->client_addr);
	log_rec_str(&r, "upstream", ts->upstream);
	log_rec_str(&r, "escaper", t->escaper);
	if (t->geo_set) { /* g3c: what route_geoip decided on */
		if (t->geo_country[0] != '\0')
			log_rec_str(&r, "geo_country", t->geo_country);
		if (t->geo_continent[0] != '\0')
			log_rec_str(&r, "geo_continent", t->geo_continent);
		if (t->geo_asn != 0)
			log_rec_u64(&r, "geo_asn", t->geo_asn);
	}
	if (t->has_bound)
		log_rec_addr(&r, "next_bound_addr", &t->bound.sa);
	if (t->has_peer)
		log_rec_addr(&r, "next_peer_addr", &t->peer.sa);
	log_rec_u64(&r, "tcp_connect_tries", t->connect_tries);
	log_rec_dur(&r, "tcp_connect_spend", t->connect_spend_ns);
	if (ev == TASK_EV_FINISHED)
		log_rec_str(&r, "reason", task_reason_name(t->reason));
	if (t->http != NULL) {
		const struct task_http *h = t->http;
		log_rec_dur(&r, "pipeline_wait", h->pipeline_wait_ns);
		log_rec_bool(&r, "reuse_connection", h->reuse_connection);
		log_rec_str(&r, "method", h->method);
		log_rec_str(&r, "uri", h->uri);
		log_rec_str(&r, "user_agent", h->user_agent);
		log_rec_u64(&r, "rsp_status", h->rsp_status);
		log_rec_u64(&r, "origin_status", h->origin_status);
		log_rec_dur(&r, "wait_time", since(t->accept_ns, t->created_ns));
		log_rec_dur(&r, "ready_time", since(t->created_ns, t->ready_ns));
		log_rec_dur(&r, "dur_req_send_hdr", since(t->created_ns, h->req_hdr_ns));
		log_rec_dur(&r, "dur_req_send_all", since(t->created_ns, h->req_all_ns));
		log_rec_dur(&r, "dur_rsp_recv_hdr", since(t->created_ns, h->rsp_hdr_ns));
		log_rec_dur(&r, "dur_rsp_recv_all", since(t->created_ns, h->rsp_all_ns));
		log_rec_dur(&r, "total_time", since(t->created_ns, now));
	} else {
		log_rec_dur(&r, "wait_time", since(t->accept_ns, t->created_ns));
		log_rec_dur(&r, "ready_time", since(t->created_ns, t->ready_ns));
		log_rec_dur(&r, "total_time", since(t->created_ns, now));
	}
	log_rec_u64(&r, "c_rd_bytes", t->c_rd);
	log_rec_u64(&r, "c_wr_bytes", t->c_wr);
	log_rec_u64(&r, "r_rd_bytes", t->r_rd);
	log_rec_u64(&r, "r_wr_bytes", t->r_wr);
	log_rec_emit(&r, ev == TASK_EV_FINISHED ? t->message : NULL);
}
