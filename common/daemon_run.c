/* The running daemon on the main loop: signals, full reload, the graceful and
 * immediate stop sequences, systemd notification and the stat timer. */
#include "common/daemon_int.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "common/conf.h"

void daemon_notify(struct daemon *d, const char *state)
{
	int r;

	if (!d->opts.systemd)
		return;
	r = sd_notify(0, state);
	if (r < 0)
		log_warn("sd_notify(%s): %s", state, strerror(-r));
}

uint64_t daemon_alive_tasks(struct daemon *d)
{
	if (!d->started || !d->ops->alive)
		return 0;
	return d->ops->alive(d);
}

/* ---- reload ------------------------------------------------------------------ */

static void notify_reloading(struct daemon *d)
{
	char msg[96];

	/* Type=notify-reload wants the monotonic time with RELOADING=1. */
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%" PRIu64, util_mono_ns() / 1000u);
	daemon_notify(d, msg);
}

int daemon_reload(struct daemon *d, char **errs)
{
	struct conf_ctx ctx;
	char err[1024];
	void *conf;
	int ret;

	CHECK_OBJ(d, DAEMON_MAGIC);
	*errs = NULL;
	if (d->phase != DAEMON_PH_RUNNING) {
		*errs = xstrdup("the daemon is stopping: reload refused");
		log_warn("%s", *errs);
		return -EBUSY;
	}
	notify_reloading(d);
	log_notice("reloading %s", d->conf_abs);

	conf_ctx_init(&ctx, d->conf_abs);
	conf = d->ops->conf_load(&ctx, d->conf_abs);
	if (conf && ctx.nerr) {
		d->ops->conf_free(conf);
		conf = NULL;
	}
	if (!conf) {
		unsigned shown = MIN(ctx.nerr, (unsigned)CONF_MAX_ERRORS);
		if (ctx.nerr) {
			*errs = conf_errors_join(&ctx);
		} else {
			snprintf(err, sizeof(err), "%s: error: configuration could not be loaded",
				 d->conf_abs);
			*errs = xstrdup(err);
		}
		log_err("reload failed, configuration unchanged:");
		for (unsigned i = 0; i < shown; i++)
			log_err("%s", ctx.errs[i]);
		if (ctx.nerr > shown)
			log_err("... and %u more errors", ctx.nerr - shown);
		if (!ctx.nerr)
			log_err("%s", *errs);
		conf_ctx_fini(&ctx);
		ret = -EINVAL;
		goto out;
	}
	conf_ctx_fini(&ctx);

	err[0] = '\0';
	ret = d->ops->reload(d, conf, err, sizeof(err));
	if (ret != 0) {
		d->ops->conf_free(conf);
		if (!err[0])
			snprintf(err, sizeof(err), "%s", strerror(ret < 0 ? -ret : ret));
		*errs = xstrdup(err);
		log_err("reload failed, configuration unchanged: %s", err);
		if (ret > 0 || ret == -EINVAL)
			ret = -EIO; /* -EINVAL means config errors to the caller */
		goto out;
	}
	d->reload_ok++;
	d->load_wall_us = util_wall_us();
	log_notice("reloaded %s", d->conf_abs);
out:
	if (ret)
		d->reload_failed++;
	daemon_notify(d, "READY=1");
	return ret;
}

/* ---- stop -------------------------------------------------------------------- */

static void go_offline(struct daemon *d)
{
	if (!d->online)
		return;
	d->online = false;
	if (d->started && d->ops->offline)
		d->ops->offline(d);
	log_notice("servers offline");
}

static void finish(struct daemon *d)
{
	d->phase = DAEMON_PH_DONE;
	if (d->loop) {
		ev_timer_stop(d->loop, &d->stop_timer);
		ev_break(d->loop, EVBREAK_ALL);
	}
}

static void arm_stop_timer(struct daemon *d, int64_t delay_ms)
{
	if (!d->loop || delay_ms < 0)
		return;
	ev_timer_stop(d->loop, &d->stop_timer);
	ev_timer_set(&d->stop_timer, (double)delay_ms / 1000.0, 0.);
	ev_timer_start(d->loop, &d->stop_timer);
}

bool daemon_begin_stop(struct daemon *d, bool graceful)
{
	CHECK_OBJ(d, DAEMON_MAGIC);
	if (d->phase == DAEMON_PH_DONE)
		return false;
	if (graceful) {
		if (d->phase != DAEMON_PH_RUNNING)
			return false;
		log_notice("graceful stop: offline in %" PRIu64 " ms, then drain for up to %" PRIu64
			   " ms",
			   d->dc.offline_delay_ms, d->dc.task_wait_timeout_ms);
		daemon_notify(d, "STOPPING=1");
		d->phase = DAEMON_PH_OFFLINE_WAIT;
		arm_stop_timer(d, (int64_t)d->dc.offline_delay_ms);
		return true;
	}
	log_notice("immediate stop");
	if (d->phase == DAEMON_PH_RUNNING)
		daemon_notify(d, "STOPPING=1");
	go_offline(d);
	finish(d);
	return true;
}

bool daemon_cancel_stop(struct daemon *d)
{
	CHECK_OBJ(d, DAEMON_MAGIC);
	if (d->phase != DAEMON_PH_OFFLINE_WAIT)
		return false;
	d->phase = DAEMON_PH_RUNNING;
	if (d->loop)
		ev_timer_stop(d->loop, &d->stop_timer);
	log_notice("graceful stop cancelled: servers stay online");
	daemon_notify(d, "READY=1");
	return true;
}

static int64_t drain_step(struct daemon *d)
{
	uint64_t alive = daemon_alive_tasks(d);
	uint64_t waited_ms = (util_mono_ns() - d->drain_start_ns) / 1000000u;

	if (alive == 0) {
		log_notice("no task left");
		finish(d);
		return -1;
	}
	if (waited_ms >= d->dc.task_wait_timeout_ms) {
		log_warn("%" PRIu64 " tasks still alive after task_wait_timeout (%" PRIu64
			 " ms): stopping anyway",
			 alive, d->dc.task_wait_timeout_ms);
		finish(d);
		return -1;
	}
	return (int64_t)MIN((uint64_t)DAEMON_DRAIN_POLL_MS, d->dc.task_wait_timeout_ms - waited_ms);
}

int64_t daemon_stop_step(struct daemon *d)
{
	switch (d->phase) {
	case DAEMON_PH_OFFLINE_WAIT:
		go_offline(d);
		d->phase = DAEMON_PH_TASK_WAIT;
		return (int64_t)d->dc.task_wait_delay_ms;
	case DAEMON_PH_TASK_WAIT:
		d->phase = DAEMON_PH_DRAIN;
		d->drain_start_ns = util_mono_ns();
		log_notice("waiting for %" PRIu64 " tasks", daemon_alive_tasks(d));
		return drain_step(d);
	case DAEMON_PH_DRAIN:
		return drain_step(d);
	case DAEMON_PH_RUNNING:
	case DAEMON_PH_DONE:
		break;
	}
	return -1;
}

static void daemon_on_stop_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct daemon *d = container_of(w, struct daemon, stop_timer);

	(void)loop;
	(void)revents;
	CHECK_OBJ(d, DAEMON_MAGIC);
	arm_stop_timer(d, daemon_stop_step(d));
}

/* ---- signals and metrics ------------------------------------------------------- */

static void daemon_on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct daemon *d = w->data;
	char *errs = NULL;

	(void)loop;
	(void)revents;
	CHECK_OBJ(d, DAEMON_MAGIC);
	switch (w->signum) {
	case SIGHUP:
		(void)daemon_reload(d, &errs); /* the outcome is logged */
		free(errs);
		break;
	case SIGTERM:
		log_notice("SIGTERM received");
		daemon_begin_stop(d, true);
		break;
	default:
		log_notice("%s received", w->signum == SIGINT ? "SIGINT" : "SIGQUIT");
		daemon_begin_stop(d, false);
		break;
	}
}

static void daemon_on_stat(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct daemon *d = container_of(w, struct daemon, stat_timer);

	(void)loop;
	(void)revents;
	CHECK_OBJ(d, DAEMON_MAGIC);
	statsd_begin(d->statsd);
	if (d->ops->emit_metrics)
		d->ops->emit_metrics(d, d->statsd);
	statsd_end(d->statsd);
}

int daemon_run_prepare(struct daemon *d)
{
	ev_signal *sigs[] = {&d->sig_hup, &d->sig_term, &d->sig_int, &d->sig_quit};
	const int nums[] = {SIGHUP, SIGTERM, SIGINT, SIGQUIT};
	sigset_t set;

	CHECK_OBJ(d, DAEMON_MAGIC);
	ASSERT(d->loop != NULL);
	if (d->dc.stat.enabled) {
		int err = 0;
		double every = (double)MAX(d->dc.stat.emit_interval_ms, 1u) / 1000.0;
		d->statsd = statsd_new(&d->dc.stat, d->opts.group[0] ? d->opts.group : NULL, &err);
		if (!d->statsd) {
			log_err("cannot create the statsd client: %s", strerror(-err));
			return err ? err : -EIO;
		}
		ev_timer_init(&d->stat_timer, daemon_on_stat, every, every);
		ev_timer_start(d->loop, &d->stat_timer);
	}
	ev_init(&d->stop_timer, daemon_on_stop_timer);
	sigemptyset(&set);
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++) {
		ev_signal_init(sigs[i], daemon_on_signal, nums[i]);
		sigs[i]->data = d;
		ev_signal_start(d->loop, sigs[i]);
		sigaddset(&set, nums[i]);
	}
	/* daemon_main blocked them before any thread existed; the handlers are
	 * in place, so only this thread takes them from now on. */
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	return 0;
}

void daemon_run_loop(struct daemon *d)
{
	CHECK_OBJ(d, DAEMON_MAGIC);
	daemon_notify(d, "READY=1");
	ev_run(d->loop, 0);
	if (d->phase != DAEMON_PH_DONE)
		log_warn("main loop ended without a stop request");
}

void daemon_run_cleanup(struct daemon *d)
{
	CHECK_OBJ(d, DAEMON_MAGIC);
	if (d->loop) {
		ev_signal_stop(d->loop, &d->sig_hup);
		ev_signal_stop(d->loop, &d->sig_term);
		ev_signal_stop(d->loop, &d->sig_int);
		ev_signal_stop(d->loop, &d->sig_quit);
		ev_timer_stop(d->loop, &d->stop_timer);
		ev_timer_stop(d->loop, &d->stat_timer);
	}
	statsd_free(d->statsd);
	d->statsd = NULL;
}
