/* conf includes: files, directories, mixed lists, relative paths, errors inside
 * included files, include depth, and -c DIR main file selection. */
#include "common/test/conf_fixture.h"

static int load_main(struct fx *f, const char *name, const char *daemon)
{
	char p[256];
	snprintf(p, sizeof(p), "%s%s%s", f->dir, name[0] ? "/" : "", name);
	conf_ctx_fini(&f->ctx);
	conf_ctx_init(&f->ctx, p);
	f->nsrv = 0;
	return conf_load_main(&f->ctx, p, daemon, &f->root);
}

static int main_servers(struct fx *f, const char *name)
{
	int r = load_main(f, name, NULL);
	if (r)
		return r;
	return conf_foreach_object(&f->ctx, "server", conf_map_get(f->root, "server"), on_server,
				   f);
}

/* Expected errors with "@" standing for the temp directory. */
static void assert_errors_at(struct fx *f, const char *want)
{
	char buf[2048];
	size_t o = 0;
	for (const char *c = want; *c && o < sizeof(buf) - 64; c++) {
		if (*c == '@')
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s", f->dir);
		else
			buf[o++] = *c;
	}
	buf[o] = '\0';
	assert_errors(f, buf);
}

static void test_include_file(void **state)
{
	struct fx *f = *state;

	write_file(f, "main.yaml", "server: s.yaml\n");
	write_file(f, "s.yaml",
		   "name: one\ntype: http_proxy\n---\n---\nname: two\ntype: socks_proxy\n"
		   "listen: 127.0.0.1:1080\n");
	assert_int_equal(main_servers(f, "main.yaml"), 0);
	assert_int_equal(f->nsrv, 2);
	assert_string_equal(f->srv[0]->name, "one");
	assert_string_equal(f->srv[1]->name, "two");
	assert_int_equal(f->tag[1], 2);
	assert_int_equal(f->srv[1]->listen.port, 1080);
}

static void test_include_dir(void **state)
{
	struct fx *f = *state;
	char target[256], link[256];

	write_file(f, "main.yaml", "server: server.d\n");
	mkdir_in(f, "server.d");
	mkdir_in(f, "other");
	mkdir_in(f, "server.d/sub.yaml");
	write_file(f, "server.d/b.yaml", "{name: b, type: http_proxy}\n");
	write_file(f, "server.d/a.yaml",
		   "{name: a, type: http_proxy}\n---\n{name: a2, type: http_proxy}\n");
	write_file(f, "server.d/c.yml", "{name: c, type: http_proxy}\n");
	write_file(f, "server.d/.hidden.yaml", "{name: h, type: http_proxy}\n");
	write_file(f, "server.d/d.yaml.bak", "{name: d, type: http_proxy}\n");
	write_file(f, "server.d/sub.yaml/x.yaml", "{name: x, type: http_proxy}\n");
	write_file(f, "other/l.yaml", "{name: linked, type: http_proxy}\n");
	snprintf(target, sizeof(target), "%s/other/l.yaml", f->dir);
	snprintf(link, sizeof(link), "%s/server.d/c-link.yaml", f->dir);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(main_servers(f, "main.yaml"), 0);
	assert_int_equal(f->nsrv, 4);
	assert_string_equal(f->srv[0]->name, "a");
	assert_string_equal(f->srv[1]->name, "a2");
	assert_string_equal(f->srv[2]->name, "b");
	assert_string_equal(f->srv[3]->name, "linked");
	/* a main file ending in .conf includes *.conf files */
	write_file(f, "main.conf", "server: [server.d/]\n");
	write_file(f, "server.d/z.conf", "{name: z, type: http_proxy}\n");
	assert_int_equal(main_servers(f, "main.conf"), 0);
	assert_int_equal(f->nsrv, 1);
	assert_string_equal(f->srv[0]->name, "z");
}

static void test_include_mixed_relative(void **state)
{
	struct fx *f = *state;

	mkdir_in(f, "conf");
	mkdir_in(f, "shared");
	mkdir_in(f, "conf/server.d");
	write_file(f, "conf/main.yaml",
		   "server:\n"
		   "  - {name: inline, type: http_proxy, path: certs/ca.pem}\n"
		   "  - ../shared/s.yaml\n"
		   "  - server.d\n"
		   "  - name: last\n"
		   "    type: http_proxy\n"
		   "    path: /abs/x.pem\n");
	write_file(f, "shared/s.yaml",
		   "{name: s1, type: http_proxy}\n---\n"
		   "{name: s2, type: http_proxy, path: k.pem}\n");
	write_file(f, "conf/server.d/d.yaml", "{name: d, type: http_proxy}\n");
	assert_int_equal(main_servers(f, "conf/main.yaml"), 0);
	assert_int_equal(f->nsrv, 5);
	const char *names[] = {"inline", "s1", "s2", "d", "last"};
	for (int i = 0; i < 5; i++)
		assert_string_equal(f->srv[i]->name, names[i]);
	char want[256];
	snprintf(want, sizeof(want), "%s/conf/certs/ca.pem", f->dir);
	assert_string_equal(f->srv[0]->path, want);
	/* paths in included files resolve against the main file's directory too */
	snprintf(want, sizeof(want), "%s/conf/k.pem", f->dir);
	assert_string_equal(f->srv[2]->path, want);
	assert_string_equal(f->srv[4]->path, "/abs/x.pem");
}

static void test_include_errors(void **state)
{
	struct fx *f = *state;

	write_file(f, "main.yaml",
		   "server:\n  - nope.yaml\n  - {name: ok, type: http_proxy}\n"
		   "  - nodir/\n");
	assert_int_not_equal(main_servers(f, "main.yaml"), 0);
	assert_int_equal(f->nsrv, 1);
	assert_errors_at(f,
			 "@/main.yaml:2:5: error: server: cannot open '@/nope.yaml': No such file "
			 "or directory\n"
			 "@/main.yaml:4:5: error: server: cannot open '@/nodir/': No such file or "
			 "directory");

	write_file(f, "main.yaml", "server: [{name: a, type: http_proxy}, s.yaml]\n");
	write_file(f, "s.yaml",
		   "name: b\ntype: http_proxy\nlissen: 1\n---\nname: c\ntype: http_proxy\n"
		   "name: d\n---\n- x\n---\nname: e\ntype: http_proxy\nttl: 256\n");
	assert_int_not_equal(main_servers(f, "main.yaml"), 0);
	assert_errors_at(f,
			 "@/s.yaml:7:1: error: server[2]: duplicate key 'name' (first at line 5)");
	write_file(f, "s.yaml",
		   "name: b\ntype: http_proxy\nlissen: 1\n---\n- x\n---\nname: e\n"
		   "type: http_proxy\nttl: 256\n");
	assert_int_not_equal(main_servers(f, "main.yaml"), 0);
	assert_errors_at(f, "@/s.yaml:3:1: error: server[1]: unknown key 'lissen'\n"
			    "@/s.yaml:5:1: error: server[2]: expected a map\n"
			    "@/s.yaml:9:6: error: server[3].ttl: value 256 out of range (0..255)");
	write_file(f, "s.yaml", "name: b\n  type: x\n");
	assert_int_not_equal(main_servers(f, "main.yaml"), 0);
	assert_errors_at(f, "@/s.yaml:2:7: error: mapping values are not allowed in this context");

	/* includes can be switched off */
	write_file(f, "main.yaml", "server: s.yaml\n");
	load_main(f, "main.yaml", NULL);
	f->ctx.no_includes = true;
	assert_int_not_equal(conf_foreach_object(&f->ctx, "server", conf_map_get(f->root, "server"),
						 on_server, f),
			     0);
	assert_errors_at(f, "@/main.yaml:1:9: error: server: file includes are not allowed here");
}

/* Objects whose `more` key names further files: depth must be bounded. */
static int on_nested(struct conf_ctx *ctx, const struct conf_node *obj, unsigned idx, void *arg)
{
	(void)idx;
	return conf_foreach_object(ctx, "more", conf_map_get(obj, "more"), on_nested, arg);
}

static void test_include_depth(void **state)
{
	struct fx *f = *state;

	write_file(f, "main.yaml", "server: loop.yaml\n");
	write_file(f, "loop.yaml", "more: loop.yaml\n");
	assert_int_equal(load_main(f, "main.yaml", NULL), 0);
	assert_int_equal(conf_foreach_object(&f->ctx, "server", conf_map_get(f->root, "server"),
					     on_nested, f),
			 -EINVAL);
	assert_errors_at(f,
			 "@/loop.yaml:1:7: error: server[0].more[0].more[0].more[0].more[0].more[0]"
			 ".more[0].more[0].more: includes nested too deep (max 8)");
}

static void test_main_dir(void **state)
{
	struct fx *f = *state;
	char want[256];

	assert_int_equal(load_main(f, "", "proxyd"), -ENOENT);
	assert_errors_at(f, "@: error: no main.{yaml,yml,conf} or proxyd.{yaml,yml,conf} in this "
			    "directory");
	assert_int_equal(load_main(f, "", NULL), -ENOENT);
	assert_errors_at(f, "@: error: no main.{yaml,yml,conf} in this directory");

	write_file(f, "proxyd.yml", "who: proxyd\n");
	assert_int_equal(load_main(f, "", "proxyd"), 0);
	assert_string_equal(conf_map_get(f->root, "who")->str, "proxyd");
	snprintf(want, sizeof(want), "%s/proxyd.yml", f->dir);
	assert_string_equal(f->ctx.main_file, want);
	assert_string_equal(conf_map_get(f->root, "who")->file, want);
	assert_string_equal(f->ctx.base_dir, f->dir);

	write_file(f, "main.conf", "who: main\n");
	assert_int_equal(load_main(f, "", "proxyd"), 0);
	assert_string_equal(conf_map_get(f->root, "who")->str, "main");

	assert_int_equal(load_main(f, "missing.yaml", NULL), -ENOENT);
	assert_errors_at(f, "@/missing.yaml: error: cannot open '@/missing.yaml': No such file or "
			    "directory");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_include_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_include_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_include_mixed_relative, setup, teardown),
		cmocka_unit_test_setup_teardown(test_include_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_include_depth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_main_dir, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
