/* libyaml event stream → conf_node tree (file, line, column kept).
 *
 * Aliases are supported by reference: `*a` becomes a shallow copy of the
 * anchored node (sharing its children), positioned at the alias. An anchor
 * is registered when its node is complete, so a node cannot alias itself.
 * Every alias counts the full size of what it expands to against
 * CONF_MAX_NODES and its height against CONF_MAX_DEPTH, so "billion laughs"
 * documents are refused instead of being walked. Tags are ignored; `<<`
 * merge keys are ordinary keys. */
#include "common/conf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "common/conf_int.h"

/* ---- anchors: open-addressing hash table, reset per document ------------ */

struct anchor {
	char *name; /* malloc'd; NULL = empty slot */
	const struct conf_node *node;
	uint64_t weight;
	unsigned height;
};

struct anchors {
	struct anchor *v;
	size_t cap, n;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static void anchors_clear(struct anchors *t)
{
	for (size_t i = 0; i < t->cap; i++)
		free(t->v[i].name);
	free(t->v);
	memset(t, 0, sizeof(*t));
}

static struct anchor *anchors_slot(const struct anchors *t, const char *name)
{
	size_t i = (size_t)hash_str(name) & (t->cap - 1);

	while (t->v[i].name && strcmp(t->v[i].name, name) != 0)
		i = (i + 1) & (t->cap - 1);
	return &t->v[i];
}

static const struct anchor *anchors_find(const struct anchors *t, const char *name)
{
	if (!t->cap)
		return NULL;
	const struct anchor *a = anchors_slot(t, name);
	return a->name ? a : NULL;
}

/* Takes ownership of name. A redefined anchor replaces the old one. */
static void anchors_put(struct anchors *t, char *name, const struct conf_node *node,
			uint64_t weight, unsigned height)
{
	if ((t->n + 1) * 2 > t->cap) {
		struct anchors bigger = {.cap = t->cap ? t->cap * 2 : 16};
		bigger.v = xcalloc(bigger.cap, sizeof(struct anchor));
		for (size_t i = 0; i < t->cap; i++)
			if (t->v[i].name)
				*anchors_slot(&bigger, t->v[i].name) = t->v[i];
		bigger.n = t->n;
		free(t->v);
		*t = bigger;
	}
	struct anchor *a = anchors_slot(t, name);
	if (a->name)
		free(name);
	else {
		a->name = name;
		t->n++;
	}
	a->node = node;
	a->weight = weight;
	a->height = height;
}

/* ---- builder ------------------------------------------------------------- */

struct frame {
	struct conf_node *node;
	struct conf_node *last; /* last linked child */
	struct conf_node *key;	/* map: key waiting for its value */
	bool drop_value;	/* map: the key was refused; drop its value */
	char *anchor;		/* registered when the collection ends */
	uint64_t weight;	/* nodes below, alias expansions included */
	unsigned height;	/* tallest child collection chain */
	size_t saved_path;
};

struct builder {
	struct conf_ctx *ctx;
	const char *name;
	long include_base; /* < 0: main mode */
	struct frame st[CONF_MAX_DEPTH + 1];
	unsigned depth;
	struct anchors anchors;
	uint64_t total; /* nodes in the file, alias expansions included */
	struct conf_node *doc_root;
	size_t doc_saved_path;
	unsigned ndocs;	       /* non-null documents so far */
	struct conf_node *out; /* main: merged map; include: seq of documents */
	struct conf_node *out_last;
	int err;
	bool fatal;
};

static struct conf_node *node_new(struct builder *b, enum conf_kind kind, const yaml_mark_t *m)
{
	struct conf_node *n = conf_alloc(b->ctx, sizeof(*n));

	n->kind = kind;
	n->file = b->name;
	n->line = (unsigned)m->line + 1;
	n->col = (unsigned)m->column + 1;
	n->str = "";
	return n;
}

static int fatal(struct builder *b, const yaml_mark_t *m, const char *fmt, ...) PRINTF_FMT(3, 4);
static int fatal(struct builder *b, const yaml_mark_t *m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	conf_verror_at(b->ctx, b->name, (unsigned)m->line + 1, (unsigned)m->column + 1, true, fmt,
		       ap);
	va_end(ap);
	b->fatal = true;
	b->err = -EINVAL;
	return -EINVAL;
}

/* Push the path component of the node about to start. */
static size_t begin_node(struct builder *b)
{
	struct conf_ctx *ctx = b->ctx;

	if (b->depth == 0) {
		if (b->include_base >= 0)
			return conf_path_push_index(ctx, (unsigned)b->include_base + b->ndocs);
		return ctx->pathlen;
	}
	struct frame *p = &b->st[b->depth - 1];
	if (p->node->kind == CONF_SEQ)
		return conf_path_push_index(ctx, p->node->nchild);
	if (p->key)
		return conf_path_push_key(ctx, p->key->str);
	return ctx->pathlen;
}

static int count_nodes(struct builder *b, uint64_t weight, const yaml_mark_t *m)
{
	b->total += weight;
	if (b->total > CONF_MAX_NODES)
		return fatal(b, m, "document too large (more than %lu nodes, aliases expanded)",
			     (unsigned long)CONF_MAX_NODES);
	return 0;
}

/* Link a finished node into its parent (or make it the document root). */
static void attach(struct builder *b, struct conf_node *n, uint64_t weight, unsigned height)
{
	if (b->depth == 0) {
		b->doc_root = n;
		return;
	}
	struct frame *p = &b->st[b->depth - 1];
	p->weight += weight;
	if (height > p->height)
		p->height = height;
	if (p->node->kind == CONF_MAP) {
		if (!p->key && !p->drop_value) {
			if (n->kind != CONF_SCALAR) {
				b->err = conf_error(b->ctx, n, "map keys must be scalars");
				p->drop_value = true;
			} else {
				p->key = n;
			}
			return;
		}
		if (p->drop_value) {
			p->drop_value = false;
			return;
		}
		p->key->value = n;
		n = p->key;
		p->key = NULL;
	}
	if (p->last)
		p->last->next = n;
	else
		p->node->child = n;
	p->last = n;
	p->node->nchild++;
}

/* ---- duplicate keys ------------------------------------------------------ */

struct keyref {
	const struct conf_node *k;
	unsigned idx;
};

static unsigned char norm_ch(char c)
{
	if (c >= 'A' && c <= 'Z')
		return (unsigned char)(c - 'A' + 'a');
	return (unsigned char)(c == '-' ? '_' : c);
}

static int norm_cmp(const struct conf_node *a, const struct conf_node *b)
{
	size_t n = MIN(a->len, b->len);

	for (size_t i = 0; i < n; i++) {
		unsigned char ca = norm_ch(a->str[i]), cb = norm_ch(b->str[i]);
		if (ca != cb)
			return ca < cb ? -1 : 1;
	}
	return a->len < b->len ? -1 : a->len > b->len;
}

static int keyref_cmp(const void *pa, const void *pb)
{
	const struct keyref *a = pa, *b = pb;
	int c = norm_cmp(a->k, b->k);

	if (c)
		return c;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* Report keys equal after normalisation (in document order) and unlink them,
 * keeping the first. */
static int check_dups(struct conf_ctx *ctx, struct conf_node *map)
{
	unsigned n = map->nchild, i = 0;
	struct keyref *refs;
	const struct conf_node **first;
	int ret = 0;

	if (n < 2)
		return 0;
	refs = xcalloc(n, sizeof(*refs));
	first = xcalloc(n, sizeof(void *));
	for (const struct conf_node *k = map->child; k; k = k->next, i++)
		refs[i] = (struct keyref){k, i};
	qsort(refs, n, sizeof(*refs), keyref_cmp);
	for (unsigned run = 0, i2 = 1; i2 < n; i2++) {
		if (norm_cmp(refs[run].k, refs[i2].k) == 0)
			first[refs[i2].idx] = refs[run].k;
		else
			run = i2;
	}
	struct conf_node *prev = NULL, *k = map->child;
	for (i = 0; k; i++) {
		struct conf_node *next = k->next;
		if (first[i]) {
			ret = conf_error(ctx, k, "duplicate key " CONF_QFMT " (first at line %u)",
					 CONF_QARG(k->str, k->len), first[i]->line);
			if (prev)
				prev->next = next;
			else
				map->child = next;
			map->nchild--;
		} else {
			prev = k;
		}
		k = next;
	}
	free(first);
	free(refs);
	return ret;
}

/* ---- events --------------------------------------------------------------- */

static char *anchor_dup(const yaml_char_t *a)
{
	return a ? xstrdup((const char *)a) : NULL;
}

static void on_scalar(struct builder *b, const yaml_event_t *ev)
{
	const yaml_mark_t *m = &ev->start_mark;
	size_t saved = begin_node(b);
	struct conf_node *n = NULL;

	if (ev->data.scalar.length > CONF_MAX_SCALAR)
		fatal(b, m, "scalar too long (max %lu bytes)", (unsigned long)CONF_MAX_SCALAR);
	else if (count_nodes(b, 1, m) == 0) {
		n = node_new(b, CONF_SCALAR, m);
		n->len = ev->data.scalar.length;
		n->str = conf_strndup(b->ctx, (const char *)ev->data.scalar.value, n->len);
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		if (ev->data.scalar.anchor)
			anchors_put(&b->anchors, anchor_dup(ev->data.scalar.anchor), n, 1, 0);
	}
	conf_path_pop(b->ctx, saved);
	if (n)
		attach(b, n, 1, 0);
}

static void on_alias(struct builder *b, const yaml_event_t *ev)
{
	const yaml_mark_t *m = &ev->start_mark;
	const char *name = (const char *)ev->data.alias.anchor;
	const struct anchor *a = anchors_find(&b->anchors, name);
	size_t saved = begin_node(b);
	struct conf_node *n;
	uint64_t weight = 1;
	unsigned height = 0;

	if (!a) {
		b->err = conf_error_at(b->ctx, b->name, (unsigned)m->line + 1,
				       (unsigned)m->column + 1, true, "unknown anchor '%.64s'",
				       name);
		/* Keep the tree shape: the alias reads as null. */
		n = node_new(b, CONF_SCALAR, m);
		n->plain = true;
	} else if (b->depth + a->height > CONF_MAX_DEPTH) {
		fatal(b, m, "nesting too deep (max %lu levels, aliases expanded)",
		      (unsigned long)CONF_MAX_DEPTH);
		n = NULL;
	} else if (count_nodes(b, a->weight, m)) {
		n = NULL;
	} else {
		n = node_new(b, a->node->kind, m);
		n->str = a->node->str;
		n->len = a->node->len;
		n->plain = a->node->plain;
		n->child = a->node->child;
		n->nchild = a->node->nchild;
		weight = a->weight;
		height = a->height;
	}
	conf_path_pop(b->ctx, saved);
	if (n)
		attach(b, n, weight, height);
}

static void on_start(struct builder *b, const yaml_event_t *ev, enum conf_kind kind)
{
	const yaml_mark_t *m = &ev->start_mark;
	const yaml_char_t *anchor =
		kind == CONF_MAP ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
	size_t saved = begin_node(b);

	if (b->depth >= CONF_MAX_DEPTH)
		fatal(b, m, "nesting too deep (max %lu levels)", (unsigned long)CONF_MAX_DEPTH);
	else
		count_nodes(b, 1, m);
	if (b->fatal) {
		conf_path_pop(b->ctx, saved);
		return;
	}
	struct frame *f = &b->st[b->depth++];
	memset(f, 0, sizeof(*f));
	f->node = node_new(b, kind, m);
	f->anchor = anchor_dup(anchor);
	f->saved_path = saved;
}

static void on_end(struct builder *b)
{
	struct frame *f = &b->st[--b->depth];
	struct conf_node *n = f->node;
	uint64_t weight = f->weight + 1;
	unsigned height = f->height + 1;

	/* The main file's top-level maps are checked once merged. */
	if (n->kind == CONF_MAP && !(b->depth == 0 && b->include_base < 0))
		if (check_dups(b->ctx, n))
			b->err = -EINVAL;
	if (f->anchor)
		anchors_put(&b->anchors, f->anchor, n, weight, height);
	f->anchor = NULL;
	conf_path_pop(b->ctx, f->saved_path);
	attach(b, n, weight, height);
}

static void on_document_end(struct builder *b)
{
	struct conf_node *root = b->doc_root;

	b->doc_root = NULL;
	anchors_clear(&b->anchors);
	if (!root || conf_is_null(root))
		return;
	if (b->include_base >= 0) {
		/* Include mode: one object per document. */
		if (b->out_last)
			b->out_last->next = root;
		else
			b->out->child = root;
		b->out_last = root;
		b->out->nchild++;
		b->ndocs++;
		return;
	}
	b->ndocs++;
	if (root->kind != CONF_MAP) {
		b->err = conf_error(b->ctx, root, "expected a map");
		return;
	}
	if (!b->out->child) {
		b->out->line = root->line;
		b->out->col = root->col;
	}
	for (struct conf_node *k = root->child; k; k = k->next) {
		if (b->out_last)
			b->out_last->next = k;
		else
			b->out->child = k;
		b->out_last = k;
		b->out->nchild++;
	}
}

/* Reader errors (bad encoding) carry a byte offset, not a mark. */
static void offset_to_mark(const char *data, size_t len, size_t off, yaml_mark_t *m)
{
	m->line = m->column = 0;
	for (size_t i = 0; i < off && i < len; i++) {
		if (data[i] == '\n') {
			m->line++;
			m->column = 0;
		} else if (((unsigned char)data[i] & 0xc0) != 0x80) {
			m->column++; /* count characters, not continuation bytes */
		}
	}
}

static void syntax_error(struct builder *b, const yaml_parser_t *p, const char *data, size_t len)
{
	yaml_mark_t m = p->problem_mark;
	const char *problem = p->problem ? p->problem : "invalid YAML";

	if (p->error == YAML_READER_ERROR) {
		offset_to_mark(data, len, p->problem_offset, &m);
		conf_error_at(b->ctx, b->name, (unsigned)m.line + 1, (unsigned)m.column + 1, false,
			      "%s", problem);
	} else if (p->error == YAML_MEMORY_ERROR) {
		conf_error_at(b->ctx, b->name, 0, 0, false, "out of memory while parsing");
	} else if (p->context) {
		conf_error_at(b->ctx, b->name, (unsigned)m.line + 1, (unsigned)m.column + 1, false,
			      "%s (%s at line %zu)", problem, p->context, p->context_mark.line + 1);
	} else {
		conf_error_at(b->ctx, b->name, (unsigned)m.line + 1, (unsigned)m.column + 1, false,
			      "%s", problem);
	}
	b->fatal = true;
	b->err = -EINVAL;
}

int conf_yaml_load(struct conf_ctx *ctx, const char *name, const char *data, size_t len,
		   long include_base, const struct conf_node **root)
{
	struct builder *b = xcalloc(1, sizeof(*b));
	yaml_parser_t parser;
	yaml_event_t ev;
	size_t saved = ctx->pathlen;
	bool done = false;
	int ret;

	*root = NULL;
	b->ctx = ctx;
	b->name = name;
	b->include_base = include_base;
	b->out = conf_alloc(ctx, sizeof(*b->out));
	b->out->kind = include_base >= 0 ? CONF_SEQ : CONF_MAP;
	b->out->file = name;
	b->out->line = b->out->col = 1;
	b->out->str = "";
	if (len > CONF_MAX_FILE_SIZE) {
		conf_error_at(ctx, name, 0, 0, false, "file too large (max %u bytes)",
			      CONF_MAX_FILE_SIZE);
		free(b);
		return -EFBIG;
	}
	if (!yaml_parser_initialize(&parser))
		ASSERT(!"yaml_parser_initialize");
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	while (!done && !b->fatal) {
		if (!yaml_parser_parse(&parser, &ev)) {
			syntax_error(b, &parser, data, len);
			break;
		}
		switch (ev.type) {
		case YAML_SCALAR_EVENT:
			on_scalar(b, &ev);
			break;
		case YAML_ALIAS_EVENT:
			on_alias(b, &ev);
			break;
		case YAML_SEQUENCE_START_EVENT:
			on_start(b, &ev, CONF_SEQ);
			break;
		case YAML_MAPPING_START_EVENT:
			on_start(b, &ev, CONF_MAP);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			on_end(b);
			break;
		case YAML_DOCUMENT_END_EVENT:
			on_document_end(b);
			break;
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	for (unsigned i = 0; i < b->depth; i++)
		free(b->st[i].anchor);
	anchors_clear(&b->anchors);
	conf_path_pop(ctx, saved);
	if (!b->fatal && include_base < 0 && check_dups(ctx, b->out))
		b->err = -EINVAL;
	ret = b->err;
	if (!ret)
		*root = b->out;
	free(b);
	return ret;
}
