/* Every config shipped in deploy/ loads with zero errors: deploy/proxyd/default.yaml
 * (what `make run` uses), each .yaml file in deploy/examples, and each directory
 * under deploy/examples/ holding a main.yaml (split layouts). A missing or
 * broken file fails the test. */
#include "proxyd/test/proxyd_fixture.h"

#include <arpa/inet.h>
#include <dirent.h>

static void load_clean(const char *path)
{
	struct fx_load l;

	if (fx_load_path(&l, path) == NULL || l.errs[0] != '\0')
		fail_msg("%s does not load cleanly:\n%s", path, l.errs);
	fx_done(&l);
}

static void test_default_config(void **state)
{
	char path[4200];
	struct fx_load l;
	const struct server_conf *http, *socks, *intelli;
	const struct escaper_conf *e;

	(void)state;
	snprintf(path, sizeof(path), "%s/deploy/proxyd/default.yaml", fx_srcdir());
	if (fx_load_path(&l, path) == NULL || l.errs[0] != '\0')
		fail_msg("%s does not load cleanly:\n%s", path, l.errs);
	/* what `make run` promises: http on 3128, socks on 1080, intelli_proxy
	 * on 8000, loopback only,
	 * a direct_fixed escaper over a system c-ares resolver, short offline */
	http = proxyd_conf_server(l.conf, "http");
	socks = proxyd_conf_server(l.conf, "socks");
	assert_non_null(http);
	assert_non_null(socks);
	assert_int_equal(http->type, SERVER_HTTP_PROXY);
	assert_int_equal(socks->type, SERVER_SOCKS_PROXY);
	const struct sockaddr_in *a = (const void *)&http->listen.addr;
	assert_int_equal(a->sin_family, AF_INET);
	assert_int_equal(ntohl(a->sin_addr.s_addr), INADDR_LOOPBACK);
	assert_int_equal(ntohs(a->sin_port), 3128);
	a = (const void *)&socks->listen.addr;
	assert_int_equal(ntohl(a->sin_addr.s_addr), INADDR_LOOPBACK);
	assert_int_equal(ntohs(a->sin_port), 1080);
	/* and intelli_proxy on 8000 in front of both */
	intelli = proxyd_conf_server(l.conf, "intelli");
	assert_non_null(intelli);
	assert_int_equal(intelli->type, SERVER_INTELLI_PROXY);
	a = (const void *)&intelli->listen.addr;
	assert_int_equal(ntohl(a->sin_addr.s_addr), INADDR_LOOPBACK);
	assert_int_equal(ntohs(a->sin_port), 8000);
	assert_ptr_equal(intelli->u.port.http_server, http);
	assert_ptr_equal(intelli->u.port.socks_server, socks);
	assert_int_equal(intelli->u.port.protocol_detection_timeout_ms, 4000);
	e = http->escaper;
	assert_int_equal(e->type, ESCAPER_DIRECT_FIXED);
	assert_false(e->internal);
	assert_int_equal(e->resolver->type, RESOLVER_C_ARES);
	assert_int_equal(e->resolver->n_servers, 0); /* /etc/resolv.conf */
	assert_ptr_equal(socks->escaper, e);
	assert_true(l.conf->common.offline_delay_ms <= 2000);
	assert_int_equal(l.conf->common.log.task.driver, LOGGER_STDOUT);
	assert_int_equal(l.conf->fallbacks, 0);
	fx_done(&l);
}

static void test_examples(void **state)
{
	char dir[2048], path[4400];
	struct dirent **ents;
	unsigned files = 0, dirs = 0;
	int n;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/deploy/examples", fx_srcdir());
	n = scandir(dir, &ents, NULL, alphasort);
	if (n < 0)
		fail_msg("cannot list %s: %s", dir, strerror(errno));
	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		size_t len = strlen(name);
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", dir, name);
		if (name[0] == '.' || stat(path, &st) != 0) {
			free(ents[i]);
			continue;
		}
		if (S_ISREG(st.st_mode) && len > 5 && strcmp(name + len - 5, ".yaml") == 0) {
			load_clean(path);
			files++;
		} else if (S_ISDIR(st.st_mode)) {
			char main_file[4600];
			snprintf(main_file, sizeof(main_file), "%s/main.yaml", path);
			if (access(main_file, R_OK) != 0)
				fail_msg("example directory %s has no main.yaml", path);
			load_clean(path);
			dirs++;
		}
		free(ents[i]);
	}
	free(ents);
	assert_true(files >= 2);
	assert_true(dirs >= 1);
}

/* The split layout: objects come from their own files, a file with two
 * documents gives two objects, a list mixes inline maps and paths. */
static void test_split_layout(void **state)
{
	char path[4200];
	struct fx_load l;
	const struct server_conf *http;

	(void)state;
	snprintf(path, sizeof(path), "%s/deploy/examples/split", fx_srcdir());
	if (fx_load_path(&l, path) == NULL)
		fail_msg("split example:\n%s", l.errs);
	assert_int_equal(l.conf->loaded[PROXYD_KIND_RESOLVER], 2);
	assert_int_equal(l.conf->loaded[PROXYD_KIND_ESCAPER], 3);
	assert_int_equal(l.conf->loaded[PROXYD_KIND_USER_GROUP], 2);
	assert_int_equal(l.conf->loaded[PROXYD_KIND_SERVER], 2);
	assert_int_equal(l.conf->fallbacks, 0);

	http = proxyd_conf_server(l.conf, "http");
	assert_non_null(http);
	assert_non_null(strstr(http->node->file, "server.d/http.yaml"));
	assert_string_equal(http->user_group->name, "staff");
	assert_non_null(strstr(http->user_group->node->file, "users.yaml"));
	assert_int_equal(http->user_group->static_users[0].token.type, USER_TOKEN_FAST_HASH);
	const struct escaper_conf *sealed = proxyd_conf_escaper(l.conf, "sealed");
	assert_non_null(sealed);
	assert_non_null(strstr(sealed->node->file, "escaper.d/deny.yaml"));
	assert_int_equal(sealed->resolver->type, RESOLVER_DENY_ALL);
	assert_false(sealed->resolver->internal);
	assert_non_null(proxyd_conf_user_group(l.conf, "nobody"));
	fx_done(&l);

	/* the same through the main file's path */
	snprintf(path, sizeof(path), "%s/deploy/examples/split/main.yaml", fx_srcdir());
	load_clean(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_config),
		cmocka_unit_test(test_examples),
		cmocka_unit_test(test_split_layout),
	};
	return cmocka_run_group_tests(tests, fx_quiet_log, NULL);
}
