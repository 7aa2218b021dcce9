/* conf loader and schema engine: node positions, merging, duplicates, limits,
 * schema tables, typed objects, error format. Includes: test_conf_include.c. */
#include "common/test/conf_fixture.h"

#include <fcntl.h>

/* ---- loader ------------------------------------------------------------------- */

static void test_positions(void **state)
{
	struct fx *f = *state;
	const struct conf_node *n, *k;

	assert_int_equal(load(f, "# comment\nserver:\n  - name: a\n    listen: \"1.2.3.4:80\"\n"
				 "hosts: {My-Host.com: 1.2.3.4, other: x}\nempty:\nq: ''\n"),
			 0);
	assert_int_equal(f->root->kind, CONF_MAP);
	assert_int_equal(f->root->nchild, 4);
	n = conf_map_get(f->root, "server");
	assert_int_equal(n->kind, CONF_SEQ);
	assert_int_equal(n->line, 3);
	assert_int_equal(n->col, 3);
	n = n->child;
	assert_int_equal(n->kind, CONF_MAP);
	assert_int_equal(n->line, 3);
	assert_int_equal(n->col, 5);
	k = n->child->next;
	assert_string_equal(k->str, "listen");
	assert_int_equal(k->line, 4);
	assert_int_equal(k->col, 5);
	assert_string_equal(k->value->str, "1.2.3.4:80");
	assert_false(k->value->plain);
	assert_int_equal(k->value->line, 4);
	assert_int_equal(k->value->col, 13);
	assert_string_equal(k->value->file, "t.yaml");
	/* user data keys keep their text */
	n = conf_map_get(f->root, "hosts");
	assert_string_equal(n->child->str, "My-Host.com");
	assert_string_equal(n->child->value->str, "1.2.3.4");
	assert_int_equal(n->col, 8);
	assert_true(conf_is_null(conf_map_get(f->root, "empty")));
	assert_false(conf_is_null(conf_map_get(f->root, "q")));
	assert_null(conf_map_get(f->root, "nope"));
}

static void test_empty_and_multidoc(void **state)
{
	struct fx *f = *state;

	assert_int_equal(load(f, ""), 0);
	assert_int_equal(f->root->kind, CONF_MAP);
	assert_int_equal(f->root->nchild, 0);
	assert_int_equal(load(f, "a: 1\n---\nb: 2\n---\n---\nc: 3\n...\n"), 0);
	assert_int_equal(f->root->nchild, 3);
	assert_string_equal(conf_map_get(f->root, "c")->str, "3");
	assert_int_equal(conf_map_get(f->root, "c")->line, 6);
	assert_int_equal(f->ctx.nerr, 0);
}

static void test_aliases(void **state)
{
	struct fx *f = *state;
	const struct conf_node *a, *b;

	assert_int_equal(load(f, "base: &b {x: 1, y: [1, 2]}\ncopy: *b\nlist: [*b, *b]\n"
				 "s: &s hello\nt: *s\n"),
			 0);
	a = conf_map_get(f->root, "base");
	b = conf_map_get(f->root, "copy");
	assert_int_equal(b->kind, CONF_MAP);
	assert_int_equal(b->line, 2);
	assert_int_equal(b->col, 7);
	assert_ptr_equal(a->child, b->child);
	b = conf_map_get(f->root, "list");
	assert_int_equal(b->nchild, 2);
	assert_int_equal(b->child->next->kind, CONF_MAP);
	assert_string_equal(conf_map_get(b->child->next, "x")->str, "1");
	assert_string_equal(conf_map_get(f->root, "t")->str, "hello");
}

static void test_load_errors(void **state)
{
	struct fx *f = *state;

	assert_int_equal(load(f, "a: b\n c: d\n"), -EINVAL);
	assert_errors(f, "t.yaml:2:3: error: mapping values are not allowed in this context");
	conf_ctx_fini(&f->ctx);
	conf_ctx_init(&f->ctx, "t.yaml");
	assert_int_equal(load(f, "a: [1, 2\n"), -EINVAL);
	assert_errors(f, "t.yaml:2:1: error: did not find expected ',' or ']' "
			 "(while parsing a flow sequence at line 1)");
}

static void reset(struct fx *f)
{
	conf_ctx_fini(&f->ctx);
	conf_ctx_init(&f->ctx, "t.yaml");
	f->nsrv = 0;
	f->root = NULL;
}

/* One bad input and the exact error line it must produce. */
struct bad_case {
	const char *yaml;
	const char *err;
};

static const struct bad_case bad_cases[] = {
	/* loader */
	{"listen: 1\nname: x\nListen: 2\n",
	 "t.yaml:3:1: error: duplicate key 'Listen' (first at line 1)"},
	{"a: 1\n---\nA: 2\n", "t.yaml:3:1: error: duplicate key 'A' (first at line 1)"},
	{"a: 1\n---\n- x\n", "t.yaml:3:1: error: expected a map"},
	{"server:\n  - name: a\n    user-group: 1\n    user_group: 2\n",
	 "t.yaml:4:5: error: server[0]: duplicate key 'user_group' (first at line 3)"},
	{"a: *nope\n", "t.yaml:1:4: error: a: unknown anchor 'nope'"},
	{"x: {? [a] : 1}\n", "t.yaml:1:7: error: x: map keys must be scalars"},
	{"a: &x [*x]\n", "t.yaml:1:8: error: a[0]: unknown anchor 'x'"},
	{"a: b: c\n", "t.yaml:1:5: error: mapping values are not allowed in this context"},
	{"a: 'x\n", "t.yaml:2:1: error: found unexpected end of stream "
		    "(while scanning a quoted scalar at line 1)"},
	{"\tx: 1\n", "t.yaml:1:1: error: found character that cannot start any token "
		     "(while scanning for the next token at line 1)"},
	{"a: 1\nb: \"x\xff\"\n", "t.yaml:2:6: error: invalid leading UTF-8 octet"},
	{"a: [\n", "t.yaml:2:1: error: did not find expected node content "
		   "(while parsing a flow node at line 2)"},
	/* schema */
	{"server:\n  - name: a\n    type: http_proxy\n    lissen: 1.2.3.4:80\n",
	 "t.yaml:4:5: error: server[0]: unknown key 'lissen'"},
	{"server:\n  - type: http_proxy\n    listen: 1.2.3.4:80\n",
	 "t.yaml:2:5: error: server[0]: missing required key 'name'"},
	{"server:\n  - name: a\n    type: http_proxy\n    listen: 127.0.0.1:70000\n",
	 "t.yaml:4:13: error: server[0].listen: port 70000 out of range (1..65535)"},
	{"server:\n  - {name: a, type: http_proxy, ttl: 300}\n",
	 "t.yaml:2:38: error: server[0].ttl: value 300 out of range (0..255)"},
	{"server:\n  - {name: a, type: http_proxy, tls: 5}\n",
	 "t.yaml:2:38: error: server[0].tls: expected a map, got a scalar"},
	{"server:\n  - {name: a, type: foo}\n",
	 "t.yaml:2:21: error: server[0].type: unknown server type 'foo'"},
	{"server:\n  - {name: a}\n", "t.yaml:2:5: error: server[0]: missing required key 'type'"},
	{"server:\n  - name: a\n    type: http_proxy\n    listen: 1.2.3.4:1\n"
	 "    listen-address: 1.2.3.4:2\n",
	 "t.yaml:5:5: error: server[0]: duplicate key 'listen-address' (first at line 4 as "
	 "'listen')"},
	{"server:\n- {name: a, type: http_proxy, timeout: 500ms}\n",
	 "t.yaml:2:40: error: server[0].timeout: duration '500ms' out of range (1s..1h)"},
	{"server:\n- {name: a, type: http_proxy, allow: [10.0.0.0/8, 10.0.0.1/8]}\n",
	 "t.yaml:2:51: error: server[0].allow[1]: 10.0.0.1/8 has host bits set"},
	{"server:\n- {name: a, type: http_proxy, mode: ketama}\n",
	 "t.yaml:2:37: error: server[0].mode: invalid value 'ketama' (expected one of: random, "
	 "round_robin, rr)"},
	{"server:\n- {name: a, type: http_proxy, tls: {certificate: c}}\n",
	 "t.yaml:2:36: error: server[0].tls: missing required key 'private_key'"},
	{"server:\n- {name: a, type: http_proxy, tls: {certificate: c, key: k, private-key: k}}\n",
	 "t.yaml:2:61: error: server[0].tls: duplicate key 'private-key' (first at line 2 as "
	 "'key')"},
	{"server:\n- name: a\n  type: http_proxy\n  users:\n  - name: u\n  - name: v\n    pass: "
	 "x\n",
	 "t.yaml:7:5: error: server[0].users[1]: unknown key 'pass'"},
	{"server:\n- {name: a, type: http_proxy, buf: 2M}\n",
	 "t.yaml:2:36: error: server[0].buf: size '2M' out of range (0..1000000 bytes)"},
	{"server:\n- {name: a, type: http_proxy, ports: 0}\n",
	 "t.yaml:2:38: error: server[0].ports: value 0 out of range (1..65535)"},
	{"server:\n- {name: a, type: http_proxy, ports: [1, x]}\n",
	 "t.yaml:2:42: error: server[0].ports[1]: invalid integer 'x'"},
	{"server:\n- {name: a, type: http_proxy, enable: yes}\n",
	 "t.yaml:2:3: error: server[0]: 'enable' needs 'tls'"},
	{"server:\n- {name: a, type: http_proxy, enable: maybe}\n",
	 "t.yaml:2:39: error: server[0].enable: invalid boolean 'maybe' (expected true/false, "
	 "yes/no, on/off, 1/0)"},
	{"server:\n- [x]\n", "t.yaml:2:3: error: server[0]: expected a map or a file path"},
	{"server:\n- {name: a, type: http_proxy, path: ''}\n",
	 "t.yaml:2:37: error: server[0].path: empty file path"},
	{"server:\n- {name: [a], type: [b]}\n",
	 "t.yaml:2:21: error: server[0].type: expected a string, got a sequence"},
	{"server:\n- {name: a, type: http_proxy, users: {limit: 1001}}\n",
	 "t.yaml:2:46: error: server[0].users.limit: value 1001 out of range (0..1000)\n"
	 "t.yaml:2:38: error: server[0].users: missing required key 'name'"},
};

static void test_bad_inputs(void **state)
{
	struct fx *f = *state;

	for (unsigned i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		reset(f);
		assert_int_not_equal(load_servers(f, bad_cases[i].yaml), 0);
		if (getenv("CONF_TEST_SHOW")) {
			char *got = conf_errors_join(&f->ctx);
			print_message("case %u: %s\n", i, got);
			free(got);
			continue;
		}
		assert_errors(f, bad_cases[i].err);
	}
}

static void test_schema_good(void **state)
{
	struct fx *f = *state;
	struct srv *s;

	assert_int_equal(load_servers(f, "server:\n"
					 "  - name: a\n"
					 "    Type: HttpProxy\n"
					 "    listen: 127.0.0.1\n"
					 "    timeout: 1m 30s\n"
					 "    buf: 64KiB\n"
					 "    enable: on\n"
					 "    tls: {certificate: c.pem, Private-Key: k.pem}\n"
					 "    mode: Round-Robin\n"
					 "    allow: 10.0.0.0/8\n"
					 "    ports: [80, 443]\n"
					 "    users: [{name: u1}, {name: u2, limit: 5}]\n"
					 "    path: certs/ca.pem\n"
					 "    commas: a,b,c\n"
					 "    legacy: {anything: [1]}\n"
					 "  - name: b\n"
					 "    type: socks_proxy\n"
					 "    listen_address: '[::1]:1080'\n"),
			 0);
	assert_int_equal(f->nsrv, 2);
	s = f->srv[0];
	assert_int_equal(f->tag[0], 1);
	assert_string_equal(s->name, "a");
	assert_string_equal(s->listen.host, "127.0.0.1");
	assert_int_equal(s->listen.port, 3128);
	assert_int_equal(s->timeout, 90000);
	assert_int_equal(s->buf, 65536);
	assert_true(s->enable);
	assert_true(s->tls_seen);
	assert_string_equal(s->tls.cert, "c.pem");
	assert_string_equal(s->tls.key, "k.pem");
	assert_int_equal(s->ttl, 64); /* default */
	assert_int_equal(s->mode, 2);
	assert_int_equal(s->allow.n, 1);
	assert_int_equal(((struct conf_net *)s->allow.v)[0].prefix, 8);
	assert_int_equal(s->ports.n, 2);
	assert_int_equal(((uint32_t *)s->ports.v)[1], 443);
	assert_int_equal(s->users.n, 2);
	assert_string_equal(((struct user *)s->users.v)[1].name, "u2");
	assert_int_equal(((struct user *)s->users.v)[1].limit, 5);
	assert_string_equal(s->path, "certs/ca.pem"); /* main file in "." */
	assert_int_equal(s->commas, 3);
	s = f->srv[1];
	assert_int_equal(f->tag[1], 2);
	assert_int_equal(s->listen.port, 1080);
	assert_true(s->listen.is_ip);
	assert_false(s->tls_seen);
	assert_int_equal(s->timeout, 30000);
	assert_int_equal(s->allow.n, 0);
	assert_null(s->allow.v);
	assert_int_equal(f->ctx.nerr, 0);
}

static void test_parse_map_direct(void **state)
{
	struct fx *f = *state;
	static const char *const skip[] = {"type", "extra", NULL};
	struct srv s;

	assert_int_equal(load(f, "name: n\ntype: whatever\nextra: 1\ntls:\n"), 0);
	memset(&s, 0, sizeof(s));
	/* a null OBJ value still runs the nested schema: required keys missing */
	assert_int_equal(conf_parse_map(&f->ctx, f->root, &srv_schema, skip, &s), -EINVAL);
	assert_errors(f, "t.yaml:4:5: error: tls: missing required key 'certificate'\n"
			 "t.yaml:4:5: error: tls: missing required key 'private_key'");
	reset(f);
	assert_int_equal(load(f, "a: 1\n"), 0);
	struct conf_field fld = {.key = "a", .type = CONF_T_U32, .min = 2, .max = 0};
	uint32_t v;
	assert_int_equal(conf_parse_value(&f->ctx, conf_map_get(f->root, "a"), &fld, &v), -EINVAL);
	assert_errors(f, "t.yaml:1:4: error: value 1 out of range (2..4294967295)");

	/* a list of custom values with an explicit element size */
	reset(f);
	assert_int_equal(load(f, "l: [a, 'b,c', 'd,e,f']\none: x,y\nbad: [1, [2]]\n"), 0);
	struct conf_field cl = {
		.key = "l", .type = CONF_T_LIST, .parse = parse_commas, .esize = sizeof(int)};
	struct conf_array arr;
	assert_int_equal(conf_parse_value(&f->ctx, conf_map_get(f->root, "l"), &cl, &arr), 0);
	assert_int_equal(arr.n, 3);
	assert_int_equal(((int *)arr.v)[0], 1);
	assert_int_equal(((int *)arr.v)[2], 3);
	assert_int_equal(conf_parse_value(&f->ctx, conf_map_get(f->root, "one"), &cl, &arr), 0);
	assert_int_equal(arr.n, 1);
	assert_int_equal(((int *)arr.v)[0], 2);
	size_t saved = conf_path_push_key(&f->ctx, "bad");
	assert_int_equal(conf_parse_value(&f->ctx, conf_map_get(f->root, "bad"), &cl, &arr),
			 -EINVAL);
	conf_path_pop(&f->ctx, saved);
	assert_int_equal(arr.n, 0);
	assert_errors(f, "t.yaml:3:10: error: bad[1]: expected a string, got a sequence");
}

/* Every object of a list is parsed even after one failed. */
static void test_errors_collected(void **state)
{
	struct fx *f = *state;

	assert_int_equal(
		load_servers(f, "server:\n- {type: foo}\n- {name: b}\n"
				"- {name: c, type: http_proxy}\n- {name: d, type: socks_proxy, "
				"listen: 'x:0'}\n"),
		-EINVAL);
	assert_int_equal(f->nsrv, 1);
	assert_string_equal(f->srv[0]->name, "c");
	assert_errors(f, "t.yaml:2:10: error: server[0].type: unknown server type 'foo'\n"
			 "t.yaml:3:3: error: server[1]: missing required key 'type'\n"
			 "t.yaml:5:40: error: server[3].listen: port 0 out of range (1..65535)");
}

static void test_error_cap(void **state)
{
	struct fx *f = *state;
	char yaml[2048] = "server:\n- name: a\n  type: http_proxy\n";
	char want[4096] = "";

	for (int i = 0; i < 25; i++) {
		char line[128];
		snprintf(line, sizeof(line), "  k%d: 1\n", i);
		strcat(yaml, line);
		if (i < CONF_MAX_ERRORS) {
			snprintf(line, sizeof(line),
				 "%st.yaml:%d:3: error: server[0]: unknown key 'k%d'",
				 i ? "\n" : "", i + 4, i);
			strcat(want, line);
		}
	}
	strcat(want, "\n... and 5 more errors");
	assert_int_not_equal(load_servers(f, yaml), 0);
	assert_int_equal(f->ctx.nerr, 25);
	assert_errors(f, want);

	/* conf_print_errors writes the same lines to stderr */
	char path[128], got[4096];
	snprintf(path, sizeof(path), "%s/stderr", f->dir);
	fflush(stderr);
	int saved = dup(2), fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(saved >= 0 && fd >= 0);
	dup2(fd, 2);
	close(fd);
	conf_print_errors(&f->ctx);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	size_t n = fread(got, 1, sizeof(got) - 1, fp);
	fclose(fp);
	got[n] = '\0';
	strcat(want, "\n");
	assert_string_equal(got, want);

	/* exactly one dropped error is singular */
	reset(f);
	for (int i = 0; i < CONF_MAX_ERRORS + 1; i++)
		conf_error(&f->ctx, NULL, "e%d", i);
	char *joined = conf_errors_join(&f->ctx);
	assert_non_null(strstr(joined, "t.yaml: error: e19\n... and 1 more error"));
	assert_null(strstr(joined, "e20"));
	free(joined);
}

static void test_limits(void **state)
{
	struct fx *f = *state;
	char *big;
	size_t n;

	/* nesting */
	big = calloc(1, 200);
	memset(big, '[', 70);
	assert_int_equal(load(f, big), -EINVAL);
	assert_errors(f, "t.yaml:1:65: error: [0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]"
			 "[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]"
			 "[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]"
			 "[0]: nesting too deep (max 64 levels)");
	free(big);
	/* alias expansions deepen too */
	reset(f);
	n = 0;
	big = calloc(1, 4096);
	n += (size_t)sprintf(big, "a: &a ");
	for (int i = 0; i < 40; i++)
		big[n++] = '[';
	for (int i = 0; i < 40; i++)
		big[n++] = ']';
	n += (size_t)sprintf(big + n, "\nb: ");
	for (int i = 0; i < 30; i++)
		big[n++] = '[';
	n += (size_t)sprintf(big + n, "*a");
	for (int i = 0; i < 30; i++)
		big[n++] = ']';
	big[n++] = '\n';
	assert_int_equal(load(f, big), -EINVAL);
	assert_int_equal(f->ctx.nerr, 1);
	assert_non_null(
		strstr(f->ctx.errs[0], "nesting too deep (max 64 levels, aliases expanded)"));
	free(big);
	/* billion laughs */
	reset(f);
	big = calloc(1, 4096);
	n = (size_t)sprintf(big, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
	for (int i = 1; i < 9; i++)
		n += (size_t)sprintf(big + n,
				     "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, "
				     "*a%d, *a%d, *a%d]\n",
				     i, i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1,
				     i - 1, i - 1);
	assert_int_equal(load(f, big), -EINVAL);
	assert_int_equal(f->ctx.nerr, 1);
	assert_non_null(strstr(f->ctx.errs[0],
			       "error: a6[2]: document too large (more than 4000000 nodes, aliases "
			       "expanded)"));
	free(big);
	/* scalar length */
	reset(f);
	n = 1024 * 1024 + 10;
	big = malloc(n + 1);
	memcpy(big, "a: ", 3);
	memset(big + 3, 'x', n - 3);
	big[n] = '\0';
	assert_int_equal(load(f, big), -EINVAL);
	assert_errors(f, "t.yaml:1:4: error: a: scalar too long (max 1048576 bytes)");
	free(big);
	/* file size */
	reset(f);
	n = 16u * 1024 * 1024 + 1;
	big = calloc(1, n);
	assert_int_equal(conf_load_buffer(&f->ctx, "t.yaml", big, n, &f->root), -EFBIG);
	assert_errors(f, "t.yaml: error: file too large (max 16777216 bytes)");
	free(big);
}

static void test_arena(void **state)
{
	struct fx *f = *state;
	struct conf_arena *a;
	const char *s;

	assert_int_equal(load(f, "name: kept\n"), 0);
	assert_int_equal(conf_get_str(&f->ctx, conf_map_get(f->root, "name"), &s), 0);
	a = conf_ctx_take_arena(&f->ctx);
	assert_non_null(a);
	assert_null(f->ctx.arena);
	/* the ctx stays usable: a fresh arena appears on demand */
	char *big = conf_alloc(&f->ctx, 100000);
	assert_int_equal(big[99999], 0);
	assert_string_equal(conf_strndup(&f->ctx, "abcdef", 3), "abc");
	conf_ctx_fini(&f->ctx);
	conf_ctx_init(&f->ctx, "t.yaml");
	assert_string_equal(s, "kept"); /* still owned by the taken arena */
	conf_arena_free(a);
	conf_arena_free(NULL);
}

static void test_error_format(void **state)
{
	struct fx *f = *state;
	struct conf_node n = {
		.kind = CONF_SCALAR, .file = "x.yaml", .line = 2, .col = 9, .str = ""};
	size_t saved;

	assert_int_equal(conf_error(&f->ctx, &n, "no path %d", 1), -EINVAL);
	saved = conf_path_push_key(&f->ctx, "server");
	conf_path_push_index(&f->ctx, 3);
	conf_path_push_key(&f->ctx, "listen");
	assert_string_equal(f->ctx.path, "server[3].listen");
	conf_error(&f->ctx, &n, "bad\nvalue");
	conf_error(&f->ctx, NULL, "whole file");
	conf_path_pop(&f->ctx, saved);
	assert_int_equal(f->ctx.pathlen, 0);
	assert_errors(f, "x.yaml:2:9: error: no path 1\n"
			 "x.yaml:2:9: error: server[3].listen: bad?value\n"
			 "t.yaml: error: server[3].listen: whole file");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_positions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_and_multidoc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aliases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_inputs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_schema_good, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_map_direct, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors_collected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_arena, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_format, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
