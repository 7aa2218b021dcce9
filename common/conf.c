/* Config context: arena, error collection, key paths, node helpers. */
#include "common/conf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/conf_int.h"

/* ---- arena ------------------------------------------------------------- */

#define ARENA_CHUNK (64u * 1024)
#define ARENA_ALIGN 16u

struct conf_chunk {
	struct conf_chunk *next;
	size_t cap, used;
	_Alignas(16) unsigned char data[];
};

struct conf_arena {
	struct conf_chunk *head; /* the chunk small allocations come from */
	struct conf_chunk *big;	 /* dedicated chunks of large allocations */
};

static struct conf_arena *arena_new(void)
{
	return xcalloc(1, sizeof(struct conf_arena));
}

static void chunks_free(struct conf_chunk *c)
{
	while (c) {
		struct conf_chunk *next = c->next;
		free(c);
		c = next;
	}
}

void conf_arena_free(struct conf_arena *a)
{
	if (!a)
		return;
	chunks_free(a->head);
	chunks_free(a->big);
	free(a);
}

static void *arena_alloc(struct conf_arena *a, size_t n)
{
	struct conf_chunk *c;

	n = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	if (n == 0)
		n = ARENA_ALIGN;
	if (n > ARENA_CHUNK / 4) {
		/* Large blocks get their own chunk so the current one keeps its tail. */
		ASSERT(n < SIZE_MAX - sizeof(*c));
		c = xmalloc(sizeof(*c) + n);
		c->cap = c->used = n;
		c->next = a->big;
		a->big = c;
		memset(c->data, 0, n);
		return c->data;
	}
	c = a->head;
	if (!c || c->cap - c->used < n) {
		c = xmalloc(sizeof(*c) + ARENA_CHUNK);
		c->cap = ARENA_CHUNK;
		c->used = 0;
		c->next = a->head;
		a->head = c;
	}
	void *p = c->data + c->used;
	c->used += n;
	memset(p, 0, n);
	return p;
}

void *conf_alloc(struct conf_ctx *ctx, size_t n)
{
	if (!ctx->arena)
		ctx->arena = arena_new();
	return arena_alloc(ctx->arena, n);
}

char *conf_strndup(struct conf_ctx *ctx, const char *s, size_t n)
{
	ASSERT(n < SIZE_MAX);
	char *p = conf_alloc(ctx, n + 1);
	if (n)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* ---- context ------------------------------------------------------------ */

static char *dir_of(const char *file)
{
	const char *slash = strrchr(file, '/');

	if (!slash)
		return xstrdup(".");
	if (slash == file)
		return xstrdup("/");
	size_t n = (size_t)(slash - file);
	char *d = xmalloc(n + 1);
	memcpy(d, file, n);
	d[n] = '\0';
	return d;
}

void conf_ctx_init(struct conf_ctx *ctx, const char *main_file)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->arena = arena_new();
	/* Kept outside the arena: errors may be printed after the arena moved. */
	ctx->main_file = xstrdup(main_file ? main_file : "<config>");
	ctx->base_dir = dir_of(ctx->main_file);
}

void conf_ctx_fini(struct conf_ctx *ctx)
{
	conf_arena_free(ctx->arena);
	ctx->arena = NULL;
	for (unsigned i = 0; i < CONF_MAX_ERRORS; i++) {
		free(ctx->errs[i]);
		ctx->errs[i] = NULL;
	}
	free((char *)ctx->main_file);
	free((char *)ctx->base_dir);
	ctx->main_file = ctx->base_dir = NULL;
	ctx->nerr = 0;
}

struct conf_arena *conf_ctx_take_arena(struct conf_ctx *ctx)
{
	struct conf_arena *a = ctx->arena;

	ctx->arena = NULL;
	return a;
}

void conf_ctx_set_main(struct conf_ctx *ctx, const char *main_file)
{
	char *f = xstrdup(main_file);

	free((char *)ctx->main_file);
	free((char *)ctx->base_dir);
	ctx->main_file = f;
	ctx->base_dir = dir_of(f);
}

/* ---- errors ------------------------------------------------------------- */

/* One line per error: control characters from user data become '?'. */
static void sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

int conf_verror_at(struct conf_ctx *ctx, const char *file, unsigned line, unsigned col,
		   bool with_path, const char *fmt, va_list ap)
{
	char *msg = NULL, *full = NULL;
	char loc[64];
	int r;

	if (ctx->nerr++ >= CONF_MAX_ERRORS)
		return -EINVAL;
	r = vasprintf(&msg, fmt, ap);
	if (r < 0) {
		ctx->nerr--;
		return -EINVAL;
	}
	if (line)
		snprintf(loc, sizeof(loc), ":%u:%u", line, col);
	else
		loc[0] = '\0';
	with_path = with_path && ctx->pathlen > 0;
	r = asprintf(&full, "%s%s: error: %s%s%s", file ? file : ctx->main_file, loc,
		     with_path ? ctx->path : "", with_path ? ": " : "", msg);
	free(msg);
	if (r < 0) {
		ctx->nerr--;
		return -EINVAL;
	}
	sanitize(full);
	ctx->errs[ctx->nerr - 1] = full;
	return -EINVAL;
}

int conf_error_at(struct conf_ctx *ctx, const char *file, unsigned line, unsigned col,
		  bool with_path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	conf_verror_at(ctx, file, line, col, with_path, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int conf_error(struct conf_ctx *ctx, const struct conf_node *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (n)
		conf_verror_at(ctx, n->file, n->line, n->col, true, fmt, ap);
	else
		conf_verror_at(ctx, NULL, 0, 0, true, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static unsigned stored_errors(const struct conf_ctx *ctx)
{
	return ctx->nerr < CONF_MAX_ERRORS ? ctx->nerr : CONF_MAX_ERRORS;
}

void conf_print_errors(const struct conf_ctx *ctx)
{
	unsigned n = stored_errors(ctx);

	for (unsigned i = 0; i < n; i++)
		if (ctx->errs[i])
			fprintf(stderr, "%s\n", ctx->errs[i]);
	if (ctx->nerr > n)
		fprintf(stderr, "... and %u more error%s\n", ctx->nerr - n,
			ctx->nerr - n == 1 ? "" : "s");
}

char *conf_errors_join(const struct conf_ctx *ctx)
{
	unsigned n = stored_errors(ctx);
	size_t total = 1;
	char more[64] = "";

	if (ctx->nerr > n)
		snprintf(more, sizeof(more), "... and %u more error%s", ctx->nerr - n,
			 ctx->nerr - n == 1 ? "" : "s");
	for (unsigned i = 0; i < n; i++)
		if (ctx->errs[i])
			total += strlen(ctx->errs[i]) + 1;
	total += strlen(more);

	char *s = xmalloc(total), *p = s;
	for (unsigned i = 0; i < n; i++) {
		if (!ctx->errs[i])
			continue;
		if (p != s)
			*p++ = '\n';
		size_t l = strlen(ctx->errs[i]);
		memcpy(p, ctx->errs[i], l);
		p += l;
	}
	if (more[0]) {
		if (p != s)
			*p++ = '\n';
		size_t l = strlen(more);
		memcpy(p, more, l);
		p += l;
	}
	*p = '\0';
	return s;
}

/* ---- key paths ---------------------------------------------------------- */

static void path_append(struct conf_ctx *ctx, const char *s)
{
	size_t room = sizeof(ctx->path) - ctx->pathlen;
	size_t l = strlen(s);

	if (l >= room)
		l = room - 1; /* truncated: the path is only for messages */
	memcpy(ctx->path + ctx->pathlen, s, l);
	ctx->pathlen += l;
	ctx->path[ctx->pathlen] = '\0';
}

size_t conf_path_push_key(struct conf_ctx *ctx, const char *key)
{
	size_t saved = ctx->pathlen;

	if (ctx->pathlen)
		path_append(ctx, ".");
	path_append(ctx, key);
	return saved;
}

size_t conf_path_push_index(struct conf_ctx *ctx, unsigned idx)
{
	size_t saved = ctx->pathlen;
	char buf[16];

	snprintf(buf, sizeof(buf), "[%u]", idx);
	path_append(ctx, buf);
	return saved;
}

void conf_path_pop(struct conf_ctx *ctx, size_t saved)
{
	if (saved > ctx->pathlen)
		saved = ctx->pathlen;
	ctx->pathlen = saved;
	ctx->path[saved] = '\0';
}

/* ---- node helpers -------------------------------------------------------- */

static char norm_char(char c)
{
	if (c >= 'A' && c <= 'Z')
		return (char)(c - 'A' + 'a');
	if (c == '-')
		return '_';
	return c;
}

void conf_normalize(const char *in, size_t len, char *out, size_t cap)
{
	size_t i;

	if (cap == 0)
		return;
	for (i = 0; i < len && i + 1 < cap; i++)
		out[i] = norm_char(in[i]);
	out[i] = '\0';
}

bool conf_key_is(const struct conf_node *k, const char *name)
{
	size_t i;

	if (!k || k->kind != CONF_SCALAR)
		return false;
	for (i = 0; i < k->len; i++)
		if (name[i] == '\0' || norm_char(k->str[i]) != name[i])
			return false;
	return name[i] == '\0';
}

const struct conf_node *conf_map_get(const struct conf_node *m, const char *name)
{
	if (!m || m->kind != CONF_MAP)
		return NULL;
	for (const struct conf_node *k = m->child; k; k = k->next)
		if (conf_key_is(k, name))
			return k->value;
	return NULL;
}

bool conf_is_null(const struct conf_node *n)
{
	if (!n)
		return true;
	if (n->kind != CONF_SCALAR || !n->plain)
		return false;
	return n->len == 0 || strcmp(n->str, "~") == 0 || strcmp(n->str, "null") == 0 ||
	       strcmp(n->str, "Null") == 0 || strcmp(n->str, "NULL") == 0;
}

const char *conf_resolve_path(struct conf_ctx *ctx, const char *rel)
{
	size_t bl, rl = strlen(rel);

	if (rel[0] == '/' || !ctx->base_dir || strcmp(ctx->base_dir, ".") == 0)
		return conf_strndup(ctx, rel, rl);
	bl = strlen(ctx->base_dir);
	char *p = conf_alloc(ctx, bl + rl + 2);
	memcpy(p, ctx->base_dir, bl);
	if (bl && p[bl - 1] != '/')
		p[bl++] = '/';
	memcpy(p + bl, rel, rl + 1);
	return p;
}
