/* Output collector for g3ctl: human "key: value" lines or one JSON object. */
#include "tools/g3ctl/out.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"

enum item_kind {
	IT_STR = 0,
	IT_U64,
	IT_BOOL,
	IT_TIME,
	IT_DUR,
	IT_OBJ,	 /* begins a nested object */
	IT_LIST, /* begins a nested list */
	IT_END,	 /* ends the innermost one */
};

struct item {
	enum item_kind kind;
	char *key; /* NULL inside lists */
	char *s;
	uint64_t u;
	bool b;
};

#define OUT_MAX_DEPTH 2

struct out {
	bool json;
	struct item *v;
	size_t n, cap;
	int depth;
	bool in_list[OUT_MAX_DEPTH + 1];
};

struct out *out_new(bool json)
{
	struct out *o = xcalloc(1, sizeof(*o));
	o->json = json;
	return o;
}

void out_free(struct out *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < o->n; i++) {
		free(o->v[i].key);
		free(o->v[i].s);
	}
	free(o->v);
	free(o);
}

static struct item *push(struct out *o, enum item_kind kind, const char *key)
{
	struct item *it;

	if (o->n == o->cap) {
		o->cap = o->cap ? o->cap * 2 : 16;
		o->v = xrealloc(o->v, o->cap * sizeof(*o->v));
	}
	it = &o->v[o->n++];
	memset(it, 0, sizeof(*it));
	it->kind = kind;
	if (key && !o->in_list[o->depth])
		it->key = xstrdup(key);
	return it;
}

void out_str(struct out *o, const char *key, const char *val)
{
	push(o, IT_STR, key)->s = xstrdup(val ? val : "");
}

void out_u64(struct out *o, const char *key, uint64_t v)
{
	push(o, IT_U64, key)->u = v;
}

void out_bool(struct out *o, const char *key, bool v)
{
	push(o, IT_BOOL, key)->b = v;
}

void out_time_us(struct out *o, const char *key, uint64_t us)
{
	push(o, IT_TIME, key)->u = us;
}

void out_dur_ms(struct out *o, const char *key, uint64_t ms)
{
	push(o, IT_DUR, key)->u = ms;
}

static void begin(struct out *o, enum item_kind kind, const char *key)
{
	ASSERT(o->depth < OUT_MAX_DEPTH);
	push(o, kind, key);
	o->depth++;
	o->in_list[o->depth] = kind == IT_LIST;
}

void out_begin_object(struct out *o, const char *key)
{
	begin(o, IT_OBJ, key);
}

void out_begin_list(struct out *o, const char *key)
{
	begin(o, IT_LIST, key);
}

void out_end(struct out *o)
{
	ASSERT(o->depth > 0);
	push(o, IT_END, NULL);
	o->depth--;
}

/* ---- rendering ----------------------------------------------------------- */

static void fmt_time(char *buf, size_t cap, uint64_t us)
{
	time_t t = (time_t)(us / 1000000u);
	struct tm tm;

	if (us == 0 || !gmtime_r(&t, &tm)) {
		snprintf(buf, cap, "-");
		return;
	}
	snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(us % 1000000u / 1000u));
}

static void fmt_dur(char *buf, size_t cap, uint64_t ms)
{
	uint64_t s = ms / 1000, frac = ms % 1000;

	if (s >= 3600)
		snprintf(buf, cap, "%" PRIu64 "h%02um%02u.%03us", s / 3600,
			 (unsigned)(s % 3600 / 60), (unsigned)(s % 60), (unsigned)frac);
	else if (s >= 60)
		snprintf(buf, cap, "%um%02u.%03us", (unsigned)(s / 60), (unsigned)(s % 60),
			 (unsigned)frac);
	else
		snprintf(buf, cap, "%u.%03us", (unsigned)s, (unsigned)frac);
}

void out_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

/* Index just past the IT_END that closes the container starting at i. */
static size_t skip_container(const struct out *o, size_t i)
{
	int depth = 0;

	for (; i < o->n; i++) {
		if (o->v[i].kind == IT_OBJ || o->v[i].kind == IT_LIST)
			depth++;
		else if (o->v[i].kind == IT_END && --depth == 0)
			return i + 1;
	}
	return o->n;
}

static void scalar_text(const struct item *it, char *buf, size_t cap)
{
	switch (it->kind) {
	case IT_U64:
		snprintf(buf, cap, "%" PRIu64, it->u);
		break;
	case IT_BOOL:
		snprintf(buf, cap, "%s", it->b ? "yes" : "no");
		break;
	case IT_TIME:
		fmt_time(buf, cap, it->u);
		break;
	case IT_DUR:
		fmt_dur(buf, cap, it->u);
		break;
	default:
		buf[0] = '\0';
	}
}

/* Children of one container are [i, end); their keys align. */
static void human_range(const struct out *o, size_t i, size_t end, int indent, bool list, FILE *f)
{
	size_t width = 0;

	for (size_t j = i; j < end; j = (o->v[j].kind == IT_OBJ || o->v[j].kind == IT_LIST)
						? skip_container(o, j)
						: j + 1) {
		if (o->v[j].key && o->v[j].kind != IT_OBJ && o->v[j].kind != IT_LIST)
			width = MAX(width, strlen(o->v[j].key) + 1);
	}
	while (i < end) {
		const struct item *it = &o->v[i];
		char num[64];
		const char *val;

		if (it->kind == IT_OBJ || it->kind == IT_LIST) {
			size_t next = skip_container(o, i);
			if (next - i > 2) { /* empty containers are left out */
				if (list)
					fprintf(f, "%*s-\n", indent, "");
				else
					fprintf(f, "%*s%s:\n", indent, "", it->key ? it->key : "");
				human_range(o, i + 1, next - 1, indent + 2, it->kind == IT_LIST, f);
			}
			i = next;
			continue;
		}
		if (it->kind == IT_END) {
			i++;
			continue;
		}
		scalar_text(it, num, sizeof(num));
		val = it->kind == IT_STR ? it->s : num;
		if (list)
			fprintf(f, "%*s- %s\n", indent, "", val);
		else {
			char key[256];
			snprintf(key, sizeof(key), "%s:", it->key ? it->key : "");
			fprintf(f, "%*s%-*s %s\n", indent, "", (int)width, key, val);
		}
		i++;
	}
}

static void json_key(const struct item *it, const char *suffix, bool list, FILE *f)
{
	char buf[256];

	if (list)
		return;
	snprintf(buf, sizeof(buf), "%s%s", it->key ? it->key : "", suffix);
	out_json_string(f, buf);
	fputc(':', f);
}

static void json_range(const struct out *o, size_t i, size_t end, bool list, FILE *f)
{
	bool first = true;

	while (i < end) {
		const struct item *it = &o->v[i];

		if (it->kind == IT_END) {
			i++;
			continue;
		}
		if (!first)
			fputc(',', f);
		first = false;
		switch (it->kind) {
		case IT_OBJ:
		case IT_LIST: {
			size_t next = skip_container(o, i);
			json_key(it, "", list, f);
			fputc(it->kind == IT_OBJ ? '{' : '[', f);
			json_range(o, i + 1, next - 1, it->kind == IT_LIST, f);
			fputc(it->kind == IT_OBJ ? '}' : ']', f);
			i = next;
			continue;
		}
		case IT_STR:
			json_key(it, "", list, f);
			out_json_string(f, it->s);
			break;
		case IT_U64:
			json_key(it, "", list, f);
			fprintf(f, "%" PRIu64, it->u);
			break;
		case IT_BOOL:
			json_key(it, "", list, f);
			fputs(it->b ? "true" : "false", f);
			break;
		case IT_TIME:
			json_key(it, "_us", list, f);
			fprintf(f, "%" PRIu64, it->u);
			break;
		case IT_DUR:
			json_key(it, "_ms", list, f);
			fprintf(f, "%" PRIu64, it->u);
			break;
		case IT_END:
			break;
		}
		i++;
	}
}

void out_flush(struct out *o, FILE *f)
{
	ASSERT(o->depth == 0);
	if (o->json) {
		fputc('{', f);
		json_range(o, 0, o->n, false, f);
		fputs("}\n", f);
	} else {
		human_range(o, 0, o->n, 0, false, f);
	}
	fflush(f);
}
