/* conf.h: g3fcgen-shaped files with defaults, every key, inline PEM and
 * CA lists, the RPC address, and the exact compiler-style error for each
 * kind of mistake. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <ftw.h>
#include <unistd.h>

#include <cmocka.h>

#include "fcgend/conf.h"
#include "fcgend/test/fcgen_fixture.h"

static char dir[64];

static void write_file(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void write_cert(const char *name, X509 *x)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	PEM_write_X509(f, x);
	fclose(f);
}

static void write_key(const char *name, EVP_PKEY *k)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
	fclose(f);
}

static char *read_file(const char *name)
{
	char path[256];
	FILE *f;
	char *buf = calloc(1, 65536);

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_true(fread(buf, 1, 65535, f) > 0);
	fclose(f);
	return buf;
}

static int group_setup(void **state)
{
	EVP_PKEY *k = fx_key("ec256"), *k2 = fx_key("ec256"), *other = fx_key("ec256");
	X509 *ca = fx_ca(k, "Conf CA", -1, 100, true),
	     *root = fx_ca(k2, "Conf Root", -1, 200, true);
	struct fx_leaf spec = {.key = "ec256", .subject = "/CN=leaf", .na_days = 10};
	EVP_PKEY *lk = NULL;
	X509 *leaf = fx_leaf(&spec, &lk);

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/g3c-fcconf-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	write_cert("ca.crt", ca);
	write_key("ca.key", k);
	write_cert("root.crt", root);
	write_key("other.key", other);
	write_cert("leaf.crt", leaf);
	write_key("leaf.key", lk);
	X509_free(ca);
	X509_free(root);
	X509_free(leaf);
	EVP_PKEY_free(k);
	EVP_PKEY_free(k2);
	EVP_PKEY_free(other);
	EVP_PKEY_free(lk);
	return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int group_teardown(void **state)
{
	(void)state;
	return nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

struct load {
	struct conf_ctx ctx;
	struct fcgend_conf *conf;
	char *errs;
	char path[256];
};

static void load(struct load *l, const char *text)
{
	memset(l, 0, sizeof(*l));
	snprintf(l->path, sizeof(l->path), "%s/fcgend.yaml", dir);
	write_file("fcgend.yaml", text);
	conf_ctx_init(&l->ctx, l->path);
	l->conf = fcgend_conf_load(&l->ctx, l->path);
	l->errs = conf_errors_join(&l->ctx);
}

static void done(struct load *l)
{
	fcgend_conf_free(l->conf);
	free(l->errs);
	conf_ctx_fini(&l->ctx);
}

static struct fcgend_conf *load_ok(struct load *l, const char *text)
{
	load(l, text);
	if (!l->conf)
		fail_msg("unexpected errors:\n%s", l->errs);
	assert_string_equal(l->errs, "");
	return l->conf;
}

/* The one error line, without the "<dir>/" prefix. */
static void load_err(const char *text, const char *want)
{
	struct load l;
	size_t n = strlen(dir);

	load(&l, text);
	assert_null(l.conf);
	if (strncmp(l.errs, dir, n) != 0 || l.errs[n] != '/')
		fail_msg("error without the file path: %s", l.errs);
	if (strcmp(l.errs + n + 1, want) != 0)
		fail_msg("got:  %s\nwant: %s", l.errs + n + 1, want);
	done(&l);
}

#define BACKEND "backend:\n  ca_certificate: ca.crt\n  ca_private_key: ca.key\n"

static void test_minimal_defaults(void **state)
{
	struct load l;
	struct fcgend_conf *c = load_ok(&l, BACKEND);
	const struct slice *tail;

	(void)state;
	assert_int_equal(c->forge.max_ttl_s, 86400);
	assert_false(c->forge.no_append_ca_cert);
	assert_false(c->forge.keep_serial);
	assert_int_equal(c->cache_size, 4096);
	assert_int_equal(c->cache_ttl_ms, 3600 * 1000);
	assert_int_equal(c->key_pool[FCGEN_KEY_EC256], 256);
	assert_int_equal(c->key_pool[FCGEN_KEY_RSA2048], 16);
	assert_int_equal(c->key_pool[FCGEN_KEY_ED25519], 64);
	assert_int_equal(c->key_pool[FCGEN_KEY_ED448], 8);
	assert_int_equal(c->keygen_threads, 1);
	assert_int_equal(c->thread_stack_size, 0);
	assert_null(c->rpc_listen);
	assert_string_equal(c->common.stat_prefix, "g3fcgen");
	assert_int_equal(c->duration_stats.rotate_ms, 4000);
	assert_int_equal(forge_ca_tail(c->ca, &tail), 1);
	done(&l);
}

static void test_every_key(void **state)
{
	struct load l;
	struct fcgend_conf *c;
	char want[160];

	(void)state;
	c = load_ok(&l, "runtime:\n  thread_number: 1\n"
			"worker:\n  thread_number: 3\n  thread_stack_size: 1MiB\n"
			"  sched_affinity: true\n  thread_number_per_runtime: 1\n"
			"stat:\n  target: {udp: 127.0.0.1:8125}\n  emit_interval: 1s\n"
			"log: discard\n"
			"backend:\n"
			"  ca_certificate: [ca.crt, root.crt]\n"
			"  ca_private_key: ca.key\n"
			"  no_append_ca_cert: true\n"
			"  keep_serial: true\n"
			"  max_ttl: 2h\n"
			"  duration_stats: {quantile: \"0.5, 0.9\", rotate: 2s}\n"
			"  cache_size: 10\n"
			"  cache_ttl: 5m\n"
			"  key_pool: {ec256: 5, rsa2048: 0, ed25519: 2, ed448: 1}\n"
			"rpc:\n  listen: sock.rpc\n");
	assert_int_equal(c->keygen_threads, 3);
	assert_int_equal(c->thread_stack_size, 1 << 20);
	assert_true(c->forge.no_append_ca_cert);
	assert_true(c->forge.keep_serial);
	assert_int_equal(c->forge.max_ttl_s, 7200);
	assert_int_equal(c->duration_stats.nq, 2);
	assert_true(c->duration_stats.q[1] > 0.89 && c->duration_stats.q[1] < 0.91);
	assert_int_equal(c->duration_stats.rotate_ms, 2000);
	assert_int_equal(c->cache_size, 10);
	assert_int_equal(c->cache_ttl_ms, 300000);
	assert_int_equal(c->key_pool[FCGEN_KEY_EC256], 5);
	assert_int_equal(c->key_pool[FCGEN_KEY_RSA2048], 0);
	assert_int_equal(c->key_pool[FCGEN_KEY_ED448], 1);
	snprintf(want, sizeof(want), "ipc://%s/sock.rpc", dir);
	assert_string_equal(c->rpc_listen, want);
	assert_true(c->common.stat.enabled);
	done(&l);

	/* g3fcgen's integer seconds, raised to 300; one pool size for all. */
	c = load_ok(&l, BACKEND "  max_ttl: 100\n  key_pool: 7\n  duration_stats: 10s\n"
				"rpc: {listen: \"ipc:///tmp/x.rpc\"}\n");
	assert_int_equal(c->forge.max_ttl_s, 300);
	for (int t = 0; t < FCGEN_KEY__COUNT; t++)
		assert_int_equal(c->key_pool[t], 7);
	assert_int_equal(c->duration_stats.rotate_ms, 10000);
	assert_string_equal(c->rpc_listen, "ipc:///tmp/x.rpc");
	done(&l);
	c = load_ok(&l, BACKEND "  max_ttl: 86400\nrpc: {listen: \"tcp://127.0.0.1:7001\"}\n");
	assert_int_equal(c->forge.max_ttl_s, 86400);
	assert_string_equal(c->rpc_listen, "tcp://127.0.0.1:7001");
	done(&l);
}

static void test_inline_pem_and_chain(void **state)
{
	char *crt = read_file("ca.crt"), *key = read_file("ca.key"), *root = read_file("root.crt");
	char *text = malloc(200000), *p = text;
	const struct slice *tail;
	struct load l;
	struct fcgend_conf *c;

	(void)state;
	p += sprintf(p, "backend:\n  ca_certificate: |\n");
	for (char *line = strtok(crt, "\n"); line; line = strtok(NULL, "\n"))
		p += sprintf(p, "    %s\n", line);
	for (char *line = strtok(root, "\n"); line; line = strtok(NULL, "\n"))
		p += sprintf(p, "    %s\n", line);
	p += sprintf(p, "  ca_private_key: |\n");
	for (char *line = strtok(key, "\n"); line; line = strtok(NULL, "\n"))
		p += sprintf(p, "    %s\n", line);
	c = load_ok(&l, text);
	/* Both certificates of the inline text go into every chain. */
	assert_int_equal(forge_ca_tail(c->ca, &tail), 2);
	done(&l);
	free(text);
	free(crt);
	free(key);
	free(root);
}

static void test_rpc_url(void **state)
{
	struct load l;
	struct fcgend_conf *c = load_ok(&l, BACKEND);
	char buf[200], longdir[200];

	(void)state;
	assert_int_equal(fcgend_rpc_url(c, "/run/g3c", "", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "ipc:///run/g3c/fcgend.rpc");
	assert_int_equal(fcgend_rpc_url(c, "/run/g3c", "edge", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "ipc:///run/g3c/fcgend_edge.rpc");
	memset(longdir, 'd', 150);
	longdir[0] = '/';
	longdir[150] = '\0';
	assert_int_equal(fcgend_rpc_url(c, longdir, "", buf, sizeof(buf)), -ENAMETOOLONG);
	assert_int_equal(fcgend_rpc_url(c, "/run/g3c", "", buf, 10), -ENAMETOOLONG);
	done(&l);
}

static void test_errors(void **state)
{
	(void)state;
	load_err("log: discard\n", "fcgend.yaml:1:1: error: missing required key 'backend'");
	load_err("", "fcgend.yaml:1:1: error: missing required key 'backend'");
	load_err(BACKEND "server: []\n",
		 "fcgend.yaml:4:1: error: server: unknown top-level key 'server' (expected "
		 "runtime, worker, log, stat, controller, backend or rpc)");
	load_err("backend: ca.crt\n",
		 "fcgend.yaml:1:10: error: backend: expected a map with ca_certificate and "
		 "ca_private_key");
	load_err(BACKEND "  listen: 127.0.0.1:2999\n",
		 "fcgend.yaml:4:3: error: backend: unknown key 'listen'");
	load_err("backend:\n  ca_certificate: ca.crt\n",
		 "fcgend.yaml:2:3: error: backend: missing required key 'ca_private_key'");
	load_err("backend:\n  ca_certificate: ca.crt\n  ca_private_key: other.key\n",
		 "fcgend.yaml:2:19: error: backend.ca_certificate: the private key does not match "
		 "the first certificate (the signing CA)");
	load_err("backend:\n  ca_certificate: leaf.crt\n  ca_private_key: leaf.key\n",
		 "fcgend.yaml:2:19: error: backend.ca_certificate: the first certificate is not a "
		 "CA certificate (it needs basicConstraints CA:TRUE and, with keyUsage, "
		 "keyCertSign)");
	{
		char want[300];
		snprintf(want, sizeof(want),
			 "fcgend.yaml:2:19: error: backend.ca_certificate: cannot open "
			 "%s/missing.crt: No such file or directory",
			 dir);
		load_err("backend:\n  ca_certificate: missing.crt\n  ca_private_key: ca.key\n",
			 want);
	}
	load_err(BACKEND "  key_pool: {ec521: 3}\n",
		 "fcgend.yaml:4:14: error: backend.key_pool.ec521: unknown key type 'ec521' "
		 "(expected ec256, rsa2048, ed25519 or ed448)");
	load_err(BACKEND "  key_pool: 100001\n",
		 "fcgend.yaml:4:13: error: backend.key_pool: value 100001 out of range "
		 "(0..100000)");
	load_err(BACKEND "  max_ttl: soon\n",
		 "fcgend.yaml:4:12: error: backend.max_ttl: invalid duration 'soon' (use e.g. 10, "
		 "1.5, 500ms, 1h 30m; units ns us ms s m h d w)");
	load_err(BACKEND "  duration_stats: {quantile: \"0.5,1.5\"}\n",
		 "fcgend.yaml:4:30: error: backend.duration_stats.quantile: quantile '1.5' is not "
		 "a number between 0 and 1");
	load_err(BACKEND "  cache_ttl: 10ms\n",
		 "fcgend.yaml:4:14: error: backend.cache_ttl: duration '10ms' out of range "
		 "(1s..30d)");
	load_err(BACKEND "worker:\n  thread_number: 0\n",
		 "fcgend.yaml:5:18: error: worker.thread_number: value 0 out of range (1..64)");
	load_err(BACKEND "worker:\n  threads: 2\n",
		 "fcgend.yaml:5:3: error: worker.threads: unknown key 'threads' in worker");
	load_err(BACKEND "rpc:\n  listen: \"http://127.0.0.1:80\"\n",
		 "fcgend.yaml:5:11: error: rpc.listen: unsupported transport in "
		 "'http://127.0.0.1:80' (use ipc:// or tcp://)");
	load_err(BACKEND "rpc:\n  path: x\n", "fcgend.yaml:5:3: error: rpc: unknown key 'path'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal_defaults),
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_inline_pem_and_chain),
		cmocka_unit_test(test_rpc_url),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
