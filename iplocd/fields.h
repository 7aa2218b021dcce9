/* The location fields iplocd reads from a MaxMind DB record, wherever the
 * common database layouts keep them:
 *   country    country.iso_code, else registered_country.iso_code
 *              (GeoLite2/GeoIP2 Country, City, Enterprise; DB-IP country/city)
 *   continent  continent.code
 *   asn        autonomous_system_number, traits.autonomous_system_number
 *              (GeoLite2-ASN, GeoIP2-ISP, DB-IP ASN/ISP; Enterprise traits)
 *   as_org     autonomous_system_organization, traits.autonomous_system_organization
 *   isp        isp, traits.isp (GeoIP2-ISP, DB-IP ISP; Enterprise traits)
 *   domain     domain, traits.domain (GeoIP2-Domain, Enterprise traits)
 * A value of the wrong type, or a string that is empty, longer than
 * IPLOC_FIELD_MAX or not valid UTF-8, counts as absent. */
#ifndef G3C_IPLOCD_FIELDS_H
#define G3C_IPLOCD_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <maxminddb.h>

#define IPLOC_FIELD_MAX 1024

/* A string borrowed from the mapped database (not NUL-terminated). */
struct iploc_str {
	const char *p;
	size_t len; /* 0: absent */
};

struct iploc_fields {
	struct iploc_str country, continent, as_org, isp, domain;
	uint32_t asn; /* 0: absent */
};

/* Read every field of one record into *out (zeroed first). entry is the
 * record's entry from a lookup (libmaxminddb needs it writable). Returns
 * true when at least one field is present. */
bool iploc_fields_read(MMDB_entry_s *entry, struct iploc_fields *out);

/* Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
bool iploc_utf8_valid(const uint8_t *p, size_t len);

#endif
