/* proxyd runtime: worker threads with their own loops, config swaps on
 * reload, and reference counting — an old config is freed only once every
 * worker (and anything else holding a ref) has let go of it. */
#include "proxyd/test/proxyd_fixture.h"

#include <pthread.h>
#include <semaphore.h>
#include <signal.h>

#include "proxyd/runtime.h"

static struct proxyd_conf *load_conf(unsigned workers, const char *tag)
{
	char yaml[512];
	struct fx_load l;
	struct proxyd_conf *c;

	snprintf(yaml, sizeof(yaml),
		 "worker: {thread_number: %u}\n"
		 "escaper:\n  - {name: %s, type: dummy_deny}\n"
		 "server:\n  - {name: s, type: http_proxy, escaper: %s}\n",
		 workers, tag, tag);
	FX_LOAD_OK(&l, yaml);
	c = l.conf;
	l.conf = NULL; /* keep it: fx_done would drop our reference */
	fx_done(&l);
	return c;
}

static void test_start_stop(void **state)
{
	uint64_t base = proxyd_conf_live();
	struct proxyd_runtime *rt = NULL;
	char err[256] = "";
	struct proxyd_conf *a = load_conf(3, "a");

	(void)state;
	assert_int_equal(proxyd_conf_live(), base + 1);
	assert_int_equal(proxyd_runtime_start(a, &rt, err, sizeof(err)), 0);
	assert_int_equal(proxyd_runtime_workers(rt), 3);
	assert_ptr_equal(proxyd_runtime_conf(rt), a);
	assert_true(proxyd_runtime_wait_synced(rt, 2000));
	assert_int_equal(proxyd_runtime_alive(rt), 0);
	assert_false(proxyd_runtime_is_offline(rt));
	proxyd_runtime_offline(rt);
	assert_true(proxyd_runtime_is_offline(rt));
	proxyd_runtime_stop(rt);
	assert_int_equal(proxyd_conf_live(), base);
}

/* Worker-side probes. */
struct probe {
	sem_t entered, release;
	const struct proxyd_conf *seen;
	pthread_t thread;
	sigset_t mask;
};

static void probe_block(struct ev_loop *loop, struct proxyd_conf *conf, void *arg)
{
	struct probe *p = arg;

	(void)loop;
	p->seen = conf;
	p->thread = pthread_self();
	pthread_sigmask(SIG_SETMASK, NULL, &p->mask);
	sem_post(&p->entered);
	sem_wait(&p->release);
}

static void probe_note(struct ev_loop *loop, struct proxyd_conf *conf, void *arg)
{
	struct probe *p = arg;

	(void)loop;
	p->seen = conf;
	sem_post(&p->entered);
}

static void test_reload_refcount(void **state)
{
	uint64_t base = proxyd_conf_live();
	struct proxyd_runtime *rt = NULL;
	char err[256];
	struct proxyd_conf *a = load_conf(2, "a"), *b, *c;
	struct probe p;

	(void)state;
	sem_init(&p.entered, 0, 0);
	sem_init(&p.release, 0, 0);
	assert_int_equal(proxyd_runtime_start(a, &rt, err, sizeof(err)), 0);
	assert_true(proxyd_runtime_wait_synced(rt, 2000));

	/* worker 0 is busy (think: a long callback) while the reload happens */
	assert_int_equal(proxyd_runtime_run_on(rt, 0, probe_block, &p), 0);
	sem_wait(&p.entered);
	assert_ptr_equal(p.seen, a);
	assert_false(pthread_equal(p.thread, pthread_self()));
	/* workers never take process signals */
	assert_true(sigismember(&p.mask, SIGHUP));
	assert_true(sigismember(&p.mask, SIGTERM));
	assert_true(sigismember(&p.mask, SIGINT));

	b = load_conf(2, "b");
	assert_int_equal(proxyd_conf_live(), base + 2);
	assert_int_equal(proxyd_runtime_reload(rt, b), 0);
	assert_ptr_equal(proxyd_runtime_conf(rt), b);
	assert_int_equal(proxyd_runtime_reloads(rt), 1);
	/* worker 0 still runs with a: a must stay alive */
	usleep(50 * 1000);
	assert_false(proxyd_runtime_synced(rt));
	assert_int_equal(proxyd_conf_live(), base + 2);
	assert_non_null(proxyd_conf_escaper(a, "a")); /* still readable */

	/* release worker 0: it takes b and drops a, which is then freed */
	sem_post(&p.release);
	assert_true(proxyd_runtime_wait_synced(rt, 2000));
	for (int i = 0; i < 200 && proxyd_conf_live() != base + 1; i++)
		usleep(5000);
	assert_int_equal(proxyd_conf_live(), base + 1);

	/* a task-like holder keeps a config alive past its reload */
	struct proxyd_conf *held = proxyd_conf_ref(b);
	c = load_conf(2, "c");
	assert_int_equal(proxyd_runtime_reload(rt, c), 0);
	assert_true(proxyd_runtime_wait_synced(rt, 2000));
	assert_int_equal(proxyd_conf_live(), base + 2); /* b, held */
	assert_non_null(proxyd_conf_escaper(held, "b"));
	proxyd_conf_unref(held);
	assert_int_equal(proxyd_conf_live(), base + 1);

	/* the workers see the new config in their own callbacks */
	assert_int_equal(proxyd_runtime_run_on(rt, 1, probe_note, &p), 0);
	sem_wait(&p.entered);
	assert_ptr_equal(p.seen, c);
	assert_int_equal(proxyd_runtime_run_on(rt, 2, probe_note, &p), -EINVAL);

	proxyd_runtime_stop(rt);
	assert_int_equal(proxyd_conf_live(), base);
	sem_destroy(&p.entered);
	sem_destroy(&p.release);
}

/* Reloads faster than the workers: queued configs that were never taken are
 * released; only the last one survives. */
static void test_reload_burst(void **state)
{
	uint64_t base = proxyd_conf_live();
	struct proxyd_runtime *rt = NULL;
	char err[256];
	struct probe p;

	(void)state;
	sem_init(&p.entered, 0, 0);
	sem_init(&p.release, 0, 0);
	assert_int_equal(proxyd_runtime_start(load_conf(2, "a"), &rt, err, sizeof(err)), 0);
	assert_int_equal(proxyd_runtime_run_on(rt, 1, probe_block, &p), 0);
	sem_wait(&p.entered);
	for (int i = 0; i < 20; i++) {
		char tag[16];
		snprintf(tag, sizeof(tag), "r%d", i);
		assert_int_equal(proxyd_runtime_reload(rt, load_conf(2, tag)), 0);
	}
	sem_post(&p.release);
	assert_true(proxyd_runtime_wait_synced(rt, 2000));
	for (int i = 0; i < 200 && proxyd_conf_live() != base + 1; i++)
		usleep(5000);
	assert_int_equal(proxyd_conf_live(), base + 1);
	assert_non_null(proxyd_conf_escaper(proxyd_runtime_conf(rt), "r19"));
	assert_int_equal(proxyd_runtime_reloads(rt), 20);
	proxyd_runtime_stop(rt);
	assert_int_equal(proxyd_conf_live(), base);
	sem_destroy(&p.entered);
	sem_destroy(&p.release);
}

struct counters {
	char names[32][32];
	uint64_t v[32];
	unsigned n;
};

static void add_counter(void *arg, const char *name, uint64_t v)
{
	struct counters *c = arg;

	assert_true(c->n < 32);
	snprintf(c->names[c->n], sizeof(c->names[0]), "%s", name);
	c->v[c->n++] = v;
}

static uint64_t counter(const struct counters *c, const char *name)
{
	for (unsigned i = 0; i < c->n; i++)
		if (strcmp(c->names[i], name) == 0)
			return c->v[i];
	fail_msg("no counter %s", name);
	return 0;
}

static void test_counters(void **state)
{
	struct proxyd_runtime *rt = NULL;
	struct counters c = {.n = 0};
	char err[256];

	(void)state;
	assert_int_equal(proxyd_runtime_start(load_conf(2, "a"), &rt, err, sizeof(err)), 0);
	assert_int_equal(proxyd_runtime_reload(rt, load_conf(2, "b")), 0);
	assert_true(proxyd_runtime_wait_synced(rt, 2000));
	proxyd_runtime_counters(rt, add_counter, &c);
	assert_int_equal(counter(&c, "workers"), 2);
	assert_int_equal(counter(&c, "reloads"), 1);
	assert_int_equal(counter(&c, "servers"), 1);
	assert_int_equal(counter(&c, "escapers"), 1);
	assert_int_equal(counter(&c, "resolvers"), 0);
	assert_int_equal(counter(&c, "alive_tasks"), 0);
	assert_int_equal(counter(&c, "worker_config_swaps"), 2);
	proxyd_runtime_stop(rt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_stop),
		cmocka_unit_test(test_reload_refcount),
		cmocka_unit_test(test_reload_burst),
		cmocka_unit_test(test_counters),
	};
	return cmocka_run_group_tests(tests, fx_quiet_log, NULL);
}
