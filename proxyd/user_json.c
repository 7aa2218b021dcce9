/* Dynamic users: batches and their loaders. A user's map (JSON from a file
 * source or Redis, or YAML) goes through the same schema as a static user
 * (pconf_user_parse), so every message names file:line:col and the key. */
#include "proxyd/user_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/conf_int.h"
#include "common/log.h"
#include "proxyd/conf_int.h"

/* Whole-list and single-user inputs are bounded: a user source is config,
 * not bulk data. */
#define USER_TEXT_MAX (64u << 20)

struct user_batch *user_batch_new(void)
{
	struct user_batch *b = xcalloc(1, sizeof(*b));

	b->magic = USER_BATCH_MAGIC;
	atomic_init(&b->refs, 1);
	return b;
}

struct user_batch *user_batch_ref(struct user_batch *b)
{
	CHECK_OBJ(b, USER_BATCH_MAGIC);
	atomic_fetch_add(&b->refs, 1);
	return b;
}

void user_batch_unref(struct user_batch *b)
{
	if (b == NULL)
		return;
	CHECK_OBJ(b, USER_BATCH_MAGIC);
	if (atomic_fetch_sub(&b->refs, 1) != 1)
		return;
	for (size_t i = 0; i < b->n_regexes; i++) {
		regfree(b->regexes[i]);
		free(b->regexes[i]);
	}
	for (size_t i = 0; i < b->n_arenas; i++)
		conf_arena_free(b->arenas[i]);
	for (size_t i = 0; i < b->n_deps; i++)
		user_batch_unref(b->deps[i]);
	free(b->regexes);
	free(b->arenas);
	free(b->deps);
	free(b->users);
	POISON_OBJ(b);
	free(b);
}

const struct user_conf *user_batch_find(const struct user_batch *b, const char *name)
{
	CHECK_OBJ(b, USER_BATCH_MAGIC);
	for (size_t i = 0; i < b->n; i++)
		if (strcmp(b->users[i].name, name) == 0)
			return &b->users[i];
	return NULL;
}

static void batch_put(struct user_batch *b, const struct user_conf *u)
{
	for (size_t i = 0; i < b->n; i++)
		if (strcmp(b->users[i].name, u->name) == 0) {
			b->users[i] = *u;
			return;
		}
	if (b->n == b->cap) {
		b->cap = b->cap ? 2 * b->cap : 16;
		b->users = xrealloc(b->users, b->cap * sizeof(*b->users));
	}
	b->users[b->n++] = *u;
}

void user_batch_merge(struct user_batch *dst, struct user_batch *src)
{
	CHECK_OBJ(dst, USER_BATCH_MAGIC);
	CHECK_OBJ(src, USER_BATCH_MAGIC);
	for (size_t i = 0; i < src->n; i++)
		batch_put(dst, &src->users[i]);
	dst->deps = xrealloc(dst->deps, (dst->n_deps + 1) * sizeof(struct user_batch *));
	dst->deps[dst->n_deps++] = user_batch_ref(src);
}

/* A parse in progress: its own conf_ctx, with regexes compiled by the ACL
 * parsers collected through a scratch proxyd_conf (pconf_track_regex). */
struct user_parse {
	struct conf_ctx ctx;
	struct proxyd_conf scratch;
	struct proxyd_conf *saved;
};

static void parse_begin(struct user_parse *p, const char *name)
{
	memset(&p->scratch, 0, sizeof(p->scratch));
	conf_ctx_init(&p->ctx, name);
	p->ctx.no_includes = true;
	p->saved = pconf_loading;
	pconf_loading = &p->scratch;
}

/* Keep (ok) or drop the parse's memory; returns the joined errors (owned)
 * when there are any. */
static char *parse_end(struct user_parse *p, struct user_batch *b, bool ok)
{
	char *errs = p->ctx.nerr ? conf_errors_join(&p->ctx) : NULL;

	pconf_loading = p->saved;
	if (ok) {
		size_t n = p->scratch.n_regexes;
		b->regexes = xrealloc(b->regexes, (b->n_regexes + n + 1) * sizeof(regex_t *));
		if (n != 0)
			memcpy(b->regexes + b->n_regexes, p->scratch.regexes,
			       n * sizeof(regex_t *));
		b->n_regexes += n;
		b->arenas = xrealloc(b->arenas, (b->n_arenas + 1) * sizeof(struct conf_arena *));
		b->arenas[b->n_arenas++] = conf_ctx_take_arena(&p->ctx);
	} else {
		for (size_t i = 0; i < p->scratch.n_regexes; i++) {
			regfree(p->scratch.regexes[i]);
			free(p->scratch.regexes[i]);
		}
	}
	free(p->scratch.regexes);
	conf_ctx_fini(&p->ctx);
	return errs;
}

static char *errs_of(const char *name, const char *msg)
{
	char *s = NULL;

	if (asprintf(&s, "%s: error: %s", name, msg) < 0)
		ASSERT(!"asprintf");
	return s;
}

struct list_arg {
	struct user_conf *v;
	size_t n;
};

static int list_user(struct conf_ctx *ctx, const struct conf_node *it, struct list_arg *a)
{
	struct user_conf *u = &a->v[a->n];

	if (pconf_user_parse(ctx, it, u) < 0)
		return -EINVAL;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i].name, u->name) == 0)
			return conf_error(
				ctx, u->node, "duplicate user '%s' (first defined at %s:%u:%u)",
				u->name, a->v[i].node->file, a->v[i].node->line, a->v[i].node->col);
	a->n++;
	return 0;
}

int user_batch_parse_list(const char *name, const char *data, size_t len, struct user_batch **out,
			  char **errs)
{
	struct user_parse p;
	const struct conf_node *docs = NULL;
	struct list_arg a = {NULL, 0};
	struct user_batch *b = NULL;
	size_t total = 0;
	int rc;

	*out = NULL;
	*errs = NULL;
	if (len > USER_TEXT_MAX) {
		*errs = errs_of(name, "the user list is too large");
		return -EFBIG;
	}
	parse_begin(&p, name);
	rc = conf_yaml_load(&p.ctx, conf_strndup(&p.ctx, name, strlen(name)), data, len, 0, &docs);
	if (rc == 0) {
		/* a JSON array (one document, a sequence) or YAML documents
		 * each holding a sequence of users or one user */
		for (const struct conf_node *d = docs->child; d; d = d->next)
			total += d->kind == CONF_SEQ ? d->nchild : 1;
		a.v = xcalloc(total ? total : 1, sizeof(*a.v));
		unsigned di = 0;
		for (const struct conf_node *d = docs->child; d; d = d->next, di++) {
			if (d->kind != CONF_SEQ) {
				if (list_user(&p.ctx, d, &a) < 0)
					rc = -EINVAL;
				continue;
			}
			unsigned ii = 0;
			for (const struct conf_node *it = d->child; it; it = it->next, ii++) {
				size_t saved = conf_path_push_index(&p.ctx, ii);
				if (list_user(&p.ctx, it, &a) < 0)
					rc = -EINVAL;
				conf_path_pop(&p.ctx, saved);
			}
		}
	}
	if (rc == 0 && p.ctx.nerr == 0) {
		b = user_batch_new();
		for (size_t i = 0; i < a.n; i++)
			batch_put(b, &a.v[i]);
	}
	*errs = parse_end(&p, b, b != NULL);
	free(a.v);
	if (b == NULL) {
		if (*errs == NULL)
			*errs = errs_of(name, "invalid user list");
		return -EINVAL;
	}
	*out = b;
	return 0;
}

/* Put a `name` key first in map m (it has none). */
static void map_add_name(struct conf_ctx *ctx, struct conf_node *m, const char *user)
{
	struct conf_node *k = conf_alloc(ctx, sizeof(*k));
	struct conf_node *v = conf_alloc(ctx, sizeof(*v));

	k->kind = v->kind = CONF_SCALAR;
	k->file = v->file = m->file;
	k->line = v->line = m->line;
	k->col = v->col = m->col;
	k->str = "name";
	k->len = 4;
	v->str = conf_strndup(ctx, user, strlen(user));
	v->len = strlen(user);
	k->value = v;
	k->next = m->child;
	m->child = k;
	m->nchild++;
}

int user_batch_add_json(struct user_batch *b, const char *name, const char *user, const char *data,
			size_t len, char **errs)
{
	bool named;

	return user_batch_add_json_named(b, name, user, data, len, &named, errs);
}

int user_batch_add_json_named(struct user_batch *b, const char *name, const char *user,
			      const char *data, size_t len, bool *named, char **errs)
{
	struct user_parse p;
	const struct conf_node *docs = NULL;
	struct user_conf u;
	bool ok = false;

	CHECK_OBJ(b, USER_BATCH_MAGIC);
	*errs = NULL;
	if (len > USER_TEXT_MAX) {
		*errs = errs_of(name, "the user's JSON is too large");
		return -EFBIG;
	}
	memset(&u, 0, sizeof(u));
	*named = false;
	parse_begin(&p, name);
	if (conf_yaml_load(&p.ctx, conf_strndup(&p.ctx, name, strlen(name)), data, len, 0, &docs) <
	    0)
		goto out;
	if (docs->nchild != 1 || docs->child->kind != CONF_MAP) {
		(void)conf_error(&p.ctx, docs->child, "expected one JSON object (a user)");
		goto out;
	}
	struct conf_node *m = (struct conf_node *)docs->child;
	const struct conf_node *nm = conf_map_get(m, "name");
	*named = nm != NULL;
	if (nm == NULL && user != NULL)
		map_add_name(&p.ctx, m, user);
	if (pconf_user_parse(&p.ctx, m, &u) < 0 || p.ctx.nerr != 0)
		goto out;
	if (user != NULL && strcmp(u.name, user) != 0) {
		(void)conf_error(&p.ctx, u.node, "the name '%s' differs from the user '%s'", u.name,
				 user);
		goto out;
	}
	ok = true;
out:
	*errs = parse_end(&p, b, ok);
	if (!ok) {
		if (*errs == NULL)
			*errs = errs_of(name, "invalid user");
		return -EINVAL;
	}
	batch_put(b, &u);
	return 0;
}
