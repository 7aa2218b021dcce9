/* Schema tables: map → struct via field rows (type, offset, bounds). */
#include "common/conf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/conf_int.h"

static size_t vtype_size(const struct conf_field *f)
{
	switch (f->type) {
	case CONF_T_STR:
	case CONF_T_PATH:
		return sizeof(const char *);
	case CONF_T_BOOL:
		return sizeof(bool);
	case CONF_T_U32:
		return sizeof(uint32_t);
	case CONF_T_U64:
	case CONF_T_DURATION:
	case CONF_T_SIZE:
		return sizeof(uint64_t);
	case CONF_T_HOSTPORT:
		return sizeof(struct conf_hostport);
	case CONF_T_NETWORK:
		return sizeof(struct conf_net);
	case CONF_T_ENUM:
		return sizeof(int);
	case CONF_T_LIST:
		return sizeof(struct conf_array);
	case CONF_T_OBJ:
		return f->sub ? f->sub->size : 0;
	case CONF_T_CUSTOM:
	case CONF_T_IGNORE:
		break;
	}
	return 0;
}

/* "90s" style rendering of bounds in messages. */
static void fmt_duration(uint64_t ms, char *buf, size_t cap)
{
	static const struct {
		uint64_t ms;
		const char *unit;
	} units[] = {{86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}};

	for (unsigned i = 0; i < ARRAY_SIZE(units); i++) {
		if (ms && ms % units[i].ms == 0) {
			snprintf(buf, cap, "%llu%s", (unsigned long long)(ms / units[i].ms),
				 units[i].unit);
			return;
		}
	}
	snprintf(buf, cap, "%llums", (unsigned long long)ms);
}

static int parse_list(struct conf_ctx *ctx, const struct conf_node *n, const struct conf_field *f,
		      struct conf_array *arr)
{
	struct conf_field synth;
	const struct conf_field *elem = f->elem;
	size_t esize, count, i = 0;
	int ret = 0;

	if (!elem) {
		/* No element row: a list of objects (.sub) or of custom values (.parse). */
		memset(&synth, 0, sizeof(synth));
		synth.key = f->key;
		synth.type = f->sub ? CONF_T_OBJ : CONF_T_CUSTOM;
		synth.sub = f->sub;
		synth.parse = f->parse;
		elem = &synth;
	}
	esize = f->esize ? f->esize : vtype_size(elem);
	ASSERT(esize > 0 && (elem->type != CONF_T_CUSTOM || elem->parse));
	arr->v = NULL;
	arr->n = 0;
	if (conf_is_null(n))
		return 0;
	count = n->kind == CONF_SEQ ? n->nchild : 1;
	if (count == 0)
		return 0;
	unsigned char *v = conf_alloc(ctx, count * esize);
	if (n->kind != CONF_SEQ)
		return conf_parse_value(ctx, n, elem, v) ? -EINVAL : (arr->v = v, arr->n = 1, 0);
	for (const struct conf_node *it = n->child; it; it = it->next, i++) {
		size_t saved = conf_path_push_index(ctx, (unsigned)i);
		if (conf_parse_value(ctx, it, elem, v + i * esize))
			ret = -EINVAL;
		conf_path_pop(ctx, saved);
	}
	if (ret)
		return ret;
	arr->v = v;
	arr->n = count;
	return 0;
}

int conf_parse_value(struct conf_ctx *ctx, const struct conf_node *n, const struct conf_field *f,
		     void *dst)
{
	uint64_t v, max;
	char lo[32], hi[32];

	switch (f->type) {
	case CONF_T_STR:
		return conf_get_str(ctx, n, (const char **)dst);
	case CONF_T_PATH: {
		const char *s;
		if (conf_get_str(ctx, n, &s))
			return -EINVAL;
		if (!s[0])
			return conf_error(ctx, n, "empty file path");
		*(const char **)dst = conf_resolve_path(ctx, s);
		return 0;
	}
	case CONF_T_BOOL:
		return conf_get_bool(ctx, n, (bool *)dst);
	case CONF_T_U32:
		max = f->max && f->max < UINT32_MAX ? f->max : UINT32_MAX;
		if (conf_get_u64(ctx, n, f->min, max, &v))
			return -EINVAL;
		*(uint32_t *)dst = (uint32_t)v;
		return 0;
	case CONF_T_U64:
		return conf_get_u64(ctx, n, f->min, f->max ? f->max : UINT64_MAX, (uint64_t *)dst);
	case CONF_T_DURATION:
		if (conf_get_duration_ms(ctx, n, &v))
			return -EINVAL;
		if (v < f->min || (f->max && v > f->max)) {
			fmt_duration(f->min, lo, sizeof(lo));
			if (f->max)
				fmt_duration(f->max, hi, sizeof(hi));
			else
				snprintf(hi, sizeof(hi), "unbounded");
			return conf_error(ctx, n, "duration " CONF_QFMT " out of range (%s..%s)",
					  CONF_QARG(n->str, n->len), lo, f->max ? hi : "");
		}
		*(uint64_t *)dst = v;
		return 0;
	case CONF_T_SIZE:
		if (conf_get_size(ctx, n, &v))
			return -EINVAL;
		if (v < f->min || (f->max && v > f->max)) {
			snprintf(hi, sizeof(hi), "%llu", (unsigned long long)f->max);
			return conf_error(ctx, n,
					  "size " CONF_QFMT " out of range (%llu..%s bytes)",
					  CONF_QARG(n->str, n->len), (unsigned long long)f->min,
					  f->max ? hi : "");
		}
		*(uint64_t *)dst = v;
		return 0;
	case CONF_T_HOSTPORT:
		return conf_get_hostport(ctx, n, (uint16_t)f->min, (struct conf_hostport *)dst);
	case CONF_T_NETWORK:
		return conf_get_network(ctx, n, (struct conf_net *)dst);
	case CONF_T_ENUM:
		ASSERT(f->enums);
		return conf_get_enum(ctx, n, f->enums, (int *)dst);
	case CONF_T_LIST:
		return parse_list(ctx, n, f, (struct conf_array *)dst);
	case CONF_T_OBJ:
		ASSERT(f->sub);
		return conf_parse_map(ctx, n, f->sub, NULL, dst);
	case CONF_T_CUSTOM:
		ASSERT(f->parse);
		return f->parse(ctx, n, dst) ? -EINVAL : 0;
	case CONF_T_IGNORE:
		return 0;
	}
	ASSERT(!"unknown conf_vtype");
	return -EINVAL;
}

static bool in_skip(const struct conf_node *k, const char *const *skip)
{
	for (; skip && *skip; skip++)
		if (conf_key_is(k, *skip))
			return true;
	return false;
}

/* Rows that write the same value: a key and its aliases. */
static bool same_slot(const struct conf_field *a, const struct conf_field *b)
{
	return a->off == b->off && a->type == b->type && a->type != CONF_T_IGNORE;
}

static const char *kind_name(const struct conf_node *n)
{
	return n->kind == CONF_SEQ ? "a sequence" : conf_is_null(n) ? "null" : "a scalar";
}

int conf_parse_map(struct conf_ctx *ctx, const struct conf_node *m, const struct conf_schema *s,
		   const char *const *skip, void *obj)
{
	const struct conf_field *fields = s->fields;
	const struct conf_node **seen = NULL;
	size_t nf = 0;
	int ret = 0;

	if (s->defaults)
		s->defaults(obj);
	if (m && m->kind != CONF_MAP && !conf_is_null(m))
		return conf_error(ctx, m, "expected a map, got %s", kind_name(m));
	while (fields[nf].key)
		nf++;
	seen = xcalloc(nf ? nf : 1, sizeof(void *));
	for (const struct conf_node *k = m && m->kind == CONF_MAP ? m->child : NULL; k;
	     k = k->next) {
		size_t i, j;
		if (in_skip(k, skip))
			continue;
		for (i = 0; i < nf; i++)
			if (conf_key_is(k, fields[i].key))
				break;
		if (i == nf) {
			ret = conf_error(ctx, k, "unknown key " CONF_QFMT,
					 CONF_QARG(k->str, k->len));
			continue;
		}
		const struct conf_field *f = &fields[i];
		for (j = 0; j < nf; j++)
			if (seen[j] && same_slot(&fields[j], f))
				break;
		if (j < nf) {
			ret = conf_error(ctx, k,
					 "duplicate key " CONF_QFMT
					 " (first at line %u as " CONF_QFMT ")",
					 CONF_QARG(k->str, k->len), seen[j]->line,
					 CONF_QARG(seen[j]->str, seen[j]->len));
			continue;
		}
		seen[i] = k;
		size_t saved = conf_path_push_key(ctx, k->str);
		if (conf_parse_value(ctx, k->value, f, (char *)obj + f->off))
			ret = -EINVAL;
		conf_path_pop(ctx, saved);
		if (f->flags & CONF_F_SEEN)
			*(bool *)((char *)obj + f->seen_off) = true;
	}
	for (size_t i = 0; i < nf; i++) {
		if (!(fields[i].flags & CONF_F_REQUIRED) || seen[i])
			continue;
		bool found = false;
		for (size_t j = 0; j < nf && !found; j++)
			found = seen[j] && same_slot(&fields[j], &fields[i]);
		if (!found)
			ret = conf_error(ctx, m, "missing required key '%s'", fields[i].key);
	}
	free(seen);
	/* Cross-field checks only make sense over a fully parsed object. */
	if (!ret && s->check)
		ret = s->check(ctx, m, obj) ? -EINVAL : 0;
	return ret;
}

int conf_parse_typed(struct conf_ctx *ctx, const struct conf_node *m, const char *what,
		     const struct conf_objtype *types, void **obj, int *tag)
{
	static const char *const skip_type[] = {"type", NULL};
	const struct conf_objtype *t;
	const struct conf_node *tn;
	const char *name;
	char norm[64];
	size_t saved;
	void *o;

	*obj = NULL;
	if (!m || m->kind != CONF_MAP)
		return conf_error(ctx, m, "expected a map, got %s", m ? kind_name(m) : "nothing");
	tn = conf_map_get(m, "type");
	if (!tn)
		return conf_error(ctx, m, "missing required key 'type'");
	saved = conf_path_push_key(ctx, "type");
	if (conf_get_str(ctx, tn, &name)) {
		conf_path_pop(ctx, saved);
		return -EINVAL;
	}
	t = NULL;
	if (tn->len < sizeof(norm)) {
		conf_normalize(name, tn->len, norm, sizeof(norm));
		for (const struct conf_objtype *c = types; c->name && !t; c++) {
			if (strcmp(norm, c->name) == 0)
				t = c;
			for (const char *const *a = c->aliases; a && *a && !t; a++)
				if (strcmp(norm, *a) == 0)
					t = c;
		}
	}
	if (!t) {
		conf_error(ctx, tn, "unknown %s type " CONF_QFMT, what,
			   CONF_QARG(tn->str, tn->len));
		conf_path_pop(ctx, saved);
		return -EINVAL;
	}
	conf_path_pop(ctx, saved);
	o = conf_alloc(ctx, t->schema->size);
	if (conf_parse_map(ctx, m, t->schema, skip_type, o))
		return -EINVAL;
	*obj = o;
	*tag = t->tag;
	return 0;
}
