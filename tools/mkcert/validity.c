/* mkcert validity windows: command-line times, g3mkcert's defaults, and
 * clamping into the issuer's window. All in seconds since the epoch (UTC). */
#include "tools/mkcert/mkcert.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* 1950-01-01T00:00:00Z and 9999-12-31T23:59:59Z: what X.509 times can say. */
#define TIME_MIN (-631152000LL)
#define TIME_MAX 253402300799LL
/* Relative offsets up to ~300 years either way. */
#define REL_MAX (300LL * 366 * MKCERT_DAY)

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian), no libc time zone. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static bool leap(unsigned y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Exactly n digits at s into *out. */
static bool digits(const char *s, unsigned n, unsigned *out)
{
	unsigned v = 0, i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*out = v;
	return true;
}

static int parse_absolute(const char *s, int64_t *out)
{
	static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	unsigned y, mo, d, hh = 0, mm = 0, ss = 0, dim;
	size_t len = strlen(s);

	if (len < 10 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
	    !digits(s + 8, 2, &d))
		return -EINVAL;
	if (len > 10) {
		if ((s[10] != 'T' && s[10] != ' ') || len < 19 || !digits(s + 11, 2, &hh) ||
		    s[13] != ':' || !digits(s + 14, 2, &mm) || s[16] != ':' ||
		    !digits(s + 17, 2, &ss))
			return -EINVAL;
		if (len > 19 && !(len == 20 && s[19] == 'Z'))
			return -EINVAL;
	}
	if (mo < 1 || mo > 12 || hh > 23 || mm > 59 || ss > 59)
		return -EINVAL;
	dim = mdays[mo - 1] + (mo == 2 && leap(y));
	if (d < 1 || d > dim)
		return -EINVAL;
	*out = days_from_civil(y, mo, d) * MKCERT_DAY + hh * 3600 + mm * 60 + ss;
	return 0;
}

int mkcert_time_parse(const char *s, struct mkcert_time_arg *out)
{
	int64_t v = 0;

	memset(out, 0, sizeof(*out));
	if (strcmp(s, "now") == 0) {
		out->relative = true;
	} else if (s[0] == '+' || s[0] == '-') {
		const char *p = s + 1;
		int64_t unit;

		if (*p < '0' || *p > '9')
			return -EINVAL;
		for (; *p >= '0' && *p <= '9'; p++) {
			v = v * 10 + (*p - '0');
			if (v > REL_MAX)
				return -EINVAL;
		}
		switch (*p) {
		case 's':
			unit = 1;
			break;
		case 'm':
			unit = 60;
			break;
		case 'h':
			unit = 3600;
			break;
		case 'd':
			unit = MKCERT_DAY;
			break;
		default:
			return -EINVAL;
		}
		if (p[1] != '\0' || v * unit > REL_MAX)
			return -EINVAL;
		out->relative = true;
		v = s[0] == '-' ? -v * unit : v * unit;
	} else if (s[0] == '@') {
		const char *p = s + 1;
		bool neg = *p == '-';

		p += neg;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		for (; *p >= '0' && *p <= '9'; p++) {
			v = v * 10 + (*p - '0');
			if (v > TIME_MAX)
				return -EINVAL;
		}
		if (*p != '\0')
			return -EINVAL;
		v = neg ? -v : v;
	} else if (parse_absolute(s, &v) < 0) {
		return -EINVAL;
	}
	if (!out->relative && (v < TIME_MIN || v > TIME_MAX))
		return -EINVAL;
	out->set = true;
	out->value = v;
	return 0;
}

static int64_t resolve(const struct mkcert_time_arg *t, int64_t now)
{
	return t->relative ? now + t->value : t->value;
}

const char *mkcert_time_str(int64_t t, char *buf, size_t cap)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || strftime(buf, cap, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, cap, "@%lld", (long long)t);
	return buf;
}

int mkcert_validity_compute(const struct mkcert_opts *o, int64_t now,
			    const struct mkcert_window *issuer, const struct mkcert_window *mimic,
			    struct mkcert_window *out, char *err, size_t errcap)
{
	int64_t days = mkcert_kind_is_ca(o->kind) ? MKCERT_CA_DAYS : MKCERT_LEAF_DAYS;
	struct mkcert_window w;
	char a[40], b[40];

	if (mimic) {
		w = *mimic;
	} else {
		w.not_before = now - MKCERT_DAY;
		w.not_after = now + days * MKCERT_DAY;
	}
	if (o->has_days)
		w.not_after = now + (int64_t)o->days * MKCERT_DAY;
	if (o->not_before.set)
		w.not_before = resolve(&o->not_before, now);
	if (o->not_after.set)
		w.not_after = resolve(&o->not_after, now);
	if (issuer) {
		w.not_before = MAX(w.not_before, issuer->not_before);
		w.not_after = MIN(w.not_after, issuer->not_after);
	}
	w.not_before = MAX(w.not_before, TIME_MIN);
	w.not_after = MIN(w.not_after, TIME_MAX);
	if (w.not_before > w.not_after) {
		snprintf(err, errcap, "empty validity window: notBefore %s is after notAfter %s%s",
			 mkcert_time_str(w.not_before, a, sizeof(a)),
			 mkcert_time_str(w.not_after, b, sizeof(b)),
			 issuer ? " (after clamping to the issuer's validity)" : "");
		return -EINVAL;
	}
	*out = w;
	return 0;
}
