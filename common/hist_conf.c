/* g3's duration_stats setting and the rotating window (see hist.h). */
#include "common/hist.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/conf.h"

static const double default_q[] = {0.5, 0.8, 0.9, 0.95, 0.99};

void hist_conf_defaults(struct hist_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->rotate_ms = 4000;
	c->nq = ARRAY_SIZE(default_q);
	memcpy(c->q, default_q, sizeof(default_q));
}

static int add_quantile(struct conf_ctx *ctx, const struct conf_node *n, const char *s, size_t len,
			struct hist_conf *out)
{
	char buf[32], *end;
	double v;

	while (len && (*s == ' ' || *s == '\t'))
		s++, len--;
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len == 0 || len >= sizeof(buf))
		return conf_error(ctx, n, "empty or overlong quantile in '%s'", n->str);
	memcpy(buf, s, len);
	buf[len] = '\0';
	v = strtod(buf, &end);
	if (*end || !(v > 0.0 && v < 1.0))
		return conf_error(ctx, n, "quantile '%s' is not a number between 0 and 1", buf);
	if (out->nq == HIST_MAX_QUANTILES)
		return conf_error(ctx, n, "at most %d quantiles", HIST_MAX_QUANTILES);
	out->q[out->nq++] = v;
	return 0;
}

static int parse_quantiles(struct conf_ctx *ctx, const struct conf_node *n, struct hist_conf *out)
{
	out->nq = 0;
	if (n->kind == CONF_SEQ) {
		for (const struct conf_node *it = n->child; it; it = it->next) {
			if (it->kind != CONF_SCALAR)
				return conf_error(ctx, it, "expected a number");
			if (add_quantile(ctx, it, it->str, it->len, out))
				return -EINVAL;
		}
	} else if (n->kind == CONF_SCALAR && !conf_is_null(n)) {
		const char *s = n->str;
		for (;;) {
			const char *comma = strchr(s, ',');
			size_t l = comma ? (size_t)(comma - s) : strlen(s);
			if (add_quantile(ctx, n, s, l, out))
				return -EINVAL;
			if (!comma)
				break;
			s = comma + 1;
		}
	} else {
		return conf_error(ctx, n, "expected \"0.5,0.99\" or a list of quantiles");
	}
	if (out->nq == 0)
		return conf_error(ctx, n, "no quantile given");
	return 0;
}

int hist_conf_parse(struct conf_ctx *ctx, const struct conf_node *n, struct hist_conf *out)
{
	uint64_t ms;
	int ret = 0;

	hist_conf_defaults(out);
	if (conf_is_null(n))
		return 0;
	if (n->kind == CONF_SCALAR) {
		if (conf_get_duration_ms(ctx, n, &ms))
			return -EINVAL;
		if (ms == 0)
			return conf_error(ctx, n, "the rotate interval must not be 0");
		out->rotate_ms = ms;
		return 0;
	}
	if (n->kind != CONF_MAP)
		return conf_error(ctx, n, "expected a duration or a map {quantile, rotate}");
	for (const struct conf_node *k = n->child; k; k = k->next) {
		size_t saved = conf_path_push_key(ctx, k->str);
		if (conf_key_is(k, "quantile")) {
			if (parse_quantiles(ctx, k->value, out))
				ret = -EINVAL;
		} else if (conf_key_is(k, "rotate")) {
			if (conf_get_duration_ms(ctx, k->value, &ms))
				ret = -EINVAL;
			else if (ms == 0)
				ret = conf_error(ctx, k->value,
						 "the rotate interval must not be 0");
			else
				out->rotate_ms = ms;
		} else {
			ret = conf_error(ctx, k, "unknown key '%s' (expected quantile or rotate)",
					 k->str);
		}
		conf_path_pop(ctx, saved);
	}
	return ret;
}

/* 7 sub-bucket bits: within 1/256 of the value; 40 value bits: durations
 * up to 18 minutes in ns, or 34 years in ms. */
int hist_window_init(struct hist_window *w, uint64_t now_ms)
{
	memset(w, 0, sizeof(*w));
	w->window_start_ms = now_ms;
	return hist_init(&w->h, 7, 40);
}

void hist_window_fini(struct hist_window *w)
{
	hist_fini(&w->h);
}

void hist_window_record(struct hist_window *w, uint64_t v)
{
	hist_record(&w->h, v);
}

bool hist_window_rotate(struct hist_window *w, const struct hist_conf *c, uint64_t now_ms)
{
	struct hist_snapshot *s = &w->last;

	if (now_ms - w->window_start_ms < c->rotate_ms)
		return false;
	memset(s, 0, sizeof(*s));
	s->count = w->h.count;
	s->nq = c->nq;
	memcpy(s->q, c->q, c->nq * sizeof(c->q[0]));
	if (w->h.count) {
		s->min = w->h.min;
		s->max = w->h.max;
		s->mean = (uint64_t)(w->h.sum / (long double)w->h.count);
		for (unsigned i = 0; i < c->nq; i++)
			s->qv[i] = hist_quantile(&w->h, c->q[i]);
	}
	hist_reset(&w->h);
	w->window_start_ms = now_ms;
	return true;
}
