/* libFuzzer target: packed control requests through the rpc layer into the
 * control handler, over a fake daemon state (no loop, no sockets, no files).
 * Each input starts from a fresh state; a stop it triggers is then stepped to
 * its end so the stop sequence runs too. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/conf.h"
#include "common/daemon_int.h"
#include "proto/control.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned n_loads;
static uint64_t alive;

struct fz_conf {
	struct daemon_conf dc;
};

/* Every other load fails with two positioned-less errors; the others
 * succeed, so both reload paths are exercised without touching files. */
static void *fz_load(struct conf_ctx *ctx, const char *path)
{
	struct fz_conf *c;

	if (n_loads++ % 2 == 0) {
		conf_error(ctx, NULL, "cannot open '%s': fuzzed", path);
		conf_error(ctx, NULL, "second error");
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	daemon_conf_defaults(&c->dc, "fuzzd");
	return c;
}

static void fz_free(void *c)
{
	free(c);
}

static const struct daemon_conf *fz_common(const void *c)
{
	return &((const struct fz_conf *)c)->dc;
}

static int fz_reload(struct daemon *d, void *conf, char *err, size_t errlen)
{
	(void)d;
	(void)err;
	(void)errlen;
	free(conf);
	return 0;
}

static void fz_offline(struct daemon *d)
{
	(void)d;
}

static uint64_t fz_alive(struct daemon *d)
{
	(void)d;
	return alive ? alive-- : 0;
}

static void fz_counters(struct daemon *d, void (*add)(void *, const char *, uint64_t), void *arg)
{
	(void)d;
	add(arg, "server.conn_total", 1);
	add(arg, "escaper.\"quoted\"\n", UINT64_MAX);
}

static const struct daemon_ops fz_ops = {
	.name = "fuzzd",
	.default_conf = "/nonexistent/fuzzd.yaml",
	.conf_load = fz_load,
	.conf_free = fz_free,
	.conf_common = fz_common,
	.reload = fz_reload,
	.offline = fz_offline,
	.alive = fz_alive,
	.counters = fz_counters,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char conf_path[] = "/nonexistent/fuzzd.yaml";
	struct daemon_opts opts = {
		.conf_path = conf_path,
		.group = "fz",
		.control_dir = "/nonexistent",
	};
	struct daemon d;
	uint8_t *out = NULL;
	size_t outlen = 0;

	log_threshold = (enum log_level)0; /* reload failures would flood stderr */
	daemon_state_init(&d, &fz_ops, &opts, NULL);
	d.conf_abs = conf_path;
	d.started = true;
	d.online = true;
	d.dc.task_wait_timeout_ms = 0;
	alive = size % 4;

	if (rpc_dispatch_buffer(&daemon_ctl_service, daemon_ctl_handle, &d, data, size, &out,
				&outlen) == 0) {
		G3c__Control__Reply *rep = g3c__control__reply__unpack(NULL, outlen, out);
		ASSERT(rep != NULL); /* whatever we answer must decode */
		g3c__control__reply__free_unpacked(rep, NULL);
	}
	free(out);
	for (int i = 0; i < 16 && daemon_stop_step(&d) >= 0; i++)
		;
	return 0;
}
