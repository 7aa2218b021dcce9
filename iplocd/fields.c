/* Reading iplocd's location fields out of a MaxMind DB record (fields.h). */
#include "iplocd/fields.h"

#include <string.h>

bool iploc_utf8_valid(const uint8_t *p, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint8_t c = p[i];
		uint32_t cp;
		size_t n;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1fu;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0fu;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07u;
		} else {
			return false;
		}
		if (len - i - 1 < n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3fu);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

/* A string at path (NULL-terminated key list), or absent. */
static struct iploc_str get_str(MMDB_entry_s *e, const char *const *path)
{
	struct iploc_str s = {NULL, 0};
	MMDB_entry_data_s d;

	if (MMDB_aget_value(e, &d, path) != MMDB_SUCCESS || !d.has_data ||
	    d.type != MMDB_DATA_TYPE_UTF8_STRING)
		return s;
	if (d.data_size == 0 || d.data_size > IPLOC_FIELD_MAX ||
	    !iploc_utf8_valid((const uint8_t *)d.utf8_string, d.data_size))
		return s;
	/* NUL bytes would cut the string short in C callers. */
	if (memchr(d.utf8_string, '\0', d.data_size))
		return s;
	s.p = d.utf8_string;
	s.len = d.data_size;
	return s;
}

static uint32_t get_u32(MMDB_entry_s *e, const char *const *path)
{
	MMDB_entry_data_s d;

	if (MMDB_aget_value(e, &d, path) != MMDB_SUCCESS || !d.has_data)
		return 0;
	switch (d.type) {
	case MMDB_DATA_TYPE_UINT16:
		return d.uint16;
	case MMDB_DATA_TYPE_UINT32:
		return d.uint32;
	case MMDB_DATA_TYPE_UINT64:
		return d.uint64 <= UINT32_MAX ? (uint32_t)d.uint64 : 0;
	case MMDB_DATA_TYPE_INT32:
		return d.int32 > 0 ? (uint32_t)d.int32 : 0;
	default:
		return 0;
	}
}

static struct iploc_str first_str(MMDB_entry_s *e, const char *const *a, const char *const *b)
{
	struct iploc_str s = get_str(e, a);

	return s.len || !b ? s : get_str(e, b);
}

bool iploc_fields_read(MMDB_entry_s *entry, struct iploc_fields *out)
{
	static const char *const country[] = {"country", "iso_code", NULL};
	static const char *const reg_country[] = {"registered_country", "iso_code", NULL};
	static const char *const continent[] = {"continent", "code", NULL};
	static const char *const asn[] = {"autonomous_system_number", NULL};
	static const char *const t_asn[] = {"traits", "autonomous_system_number", NULL};
	static const char *const as_org[] = {"autonomous_system_organization", NULL};
	static const char *const t_as_org[] = {"traits", "autonomous_system_organization", NULL};
	static const char *const isp[] = {"isp", NULL};
	static const char *const t_isp[] = {"traits", "isp", NULL};
	static const char *const domain[] = {"domain", NULL};
	static const char *const t_domain[] = {"traits", "domain", NULL};

	memset(out, 0, sizeof(*out));
	out->country = first_str(entry, country, reg_country);
	out->continent = first_str(entry, continent, NULL);
	out->asn = get_u32(entry, asn);
	if (!out->asn)
		out->asn = get_u32(entry, t_asn);
	out->as_org = first_str(entry, as_org, t_as_org);
	out->isp = first_str(entry, isp, t_isp);
	out->domain = first_str(entry, domain, t_domain);
	return out->country.len || out->continent.len || out->asn || out->as_org.len ||
	       out->isp.len || out->domain.len;
}
