/* Unit tests for g3ctl's output collector: human alignment, nesting, JSON
 * escaping and the unit suffixes of times and durations. */
#include "tools/g3ctl/out.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* Render o into a malloc'd string. */
static char *render(struct out *o)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	out_flush(o, f);
	fclose(f);
	return text;
}

static void fill(struct out *o)
{
	out_str(o, "name", "proxyd");
	out_u64(o, "pid", 42);
	out_bool(o, "online", true);
	out_time_us(o, "loaded_at", 1700000000123456ull);
	out_dur_ms(o, "uptime", 3723004);
	out_begin_object(o, "counters");
	out_u64(o, "a", 1);
	out_u64(o, "longer.name", 22);
	out_end(o);
	out_begin_list(o, "servers");
	out_str(o, NULL, "http");
	out_str(o, "ignored", "socks");
	out_end(o);
	out_begin_object(o, "empty");
	out_end(o);
}

static void test_human(void **state)
{
	struct out *o = out_new(false);
	char *text;

	(void)state;
	fill(o);
	text = render(o);
	assert_string_equal(text, "name:      proxyd\n"
				  "pid:       42\n"
				  "online:    yes\n"
				  "loaded_at: 2023-11-14T22:13:20.123Z\n"
				  "uptime:    1h02m03.004s\n"
				  "counters:\n"
				  "  a:           1\n"
				  "  longer.name: 22\n"
				  "servers:\n"
				  "  - http\n"
				  "  - socks\n");
	free(text);
	out_free(o);
}

static void test_json(void **state)
{
	struct out *o = out_new(true);
	char *text;

	(void)state;
	fill(o);
	text = render(o);
	assert_string_equal(text, "{\"name\":\"proxyd\",\"pid\":42,\"online\":true,"
				  "\"loaded_at_us\":1700000000123456,\"uptime_ms\":3723004,"
				  "\"counters\":{\"a\":1,\"longer.name\":22},"
				  "\"servers\":[\"http\",\"socks\"],\"empty\":{}}\n");
	free(text);
	out_free(o);
}

static void test_json_escaping(void **state)
{
	struct out *o = out_new(true);
	char *text;

	(void)state;
	out_str(o, "k\"ey", "a\"b\\c\nd\te\x01 é");
	text = render(o);
	assert_string_equal(text, "{\"k\\\"ey\":\"a\\\"b\\\\c\\nd\\te\\u0001 é\"}\n");
	free(text);
	out_free(o);
}

static void test_durations_and_zero_time(void **state)
{
	struct out *o = out_new(false);
	char *text;

	(void)state;
	out_dur_ms(o, "a", 0);
	out_dur_ms(o, "b", 61001);
	out_dur_ms(o, "c", 999);
	out_time_us(o, "d", 0);
	text = render(o);
	assert_string_equal(text, "a: 0.000s\nb: 1m01.001s\nc: 0.999s\nd: -\n");
	free(text);
	out_free(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_human),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_json_escaping),
		cmocka_unit_test(test_durations_and_zero_time),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
