/* Fuzz the structured-record formatters: arbitrary bytes as field values,
 * keys and message, every field type, formatted as JSON, RFC 5424 syslog
 * (text and CEE) and journald items at a buffer size taken from the input.
 * Checks the invariants every driver relies on: never past the buffer, JSON
 * always a closed object with no raw control characters. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>

#include "common/log.h"
#include "common/log_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char pieces[64][256];
	struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};
	struct iovec iov[LOG_JOURNAL_MAX_IOV];
	struct log_syslog_hdr h = {.facility = 3, .app = "fuzz", .pid = 1, .now_us = 1};
	struct log_rec r;
	char *buf;
	size_t cap, n, np = 0;
	bool trunc;

	if (size < 3)
		return 0;
	cap = ((size_t)data[0] << 8 | data[1]) % (LOG_REC_BUF_SIZE + 1);
	h.cee = data[2] & 1;
	h.report_ts = data[2] & 2;
	data += 3;
	size -= 3;

	/* pieces separated by 0xff; piece i's first byte picks its type */
	log_rec_init(&r, NULL);
	while (size && np < 64) {
		const uint8_t *end = memchr(data, 0xff, size);
		size_t len = end ? (size_t)(end - data) : size;
		size_t keep = len < sizeof(pieces[0]) - 1 ? len : sizeof(pieces[0]) - 1;
		char *p = pieces[np++];
		uint64_t v = 0;

		memcpy(p, data, keep);
		p[keep] = '\0';
		for (size_t i = 0; i < keep && i < 8; i++)
			v = v << 8 | data[i];
		switch (keep ? data[0] % 8 : 0) {
		case 0:
			log_rec_str(&r, p + (keep ? 1 : 0), p);
			break;
		case 1:
			log_rec_strn(&r, "strn", p, keep);
			break;
		case 2:
			log_rec_u64(&r, p, v);
			break;
		case 3:
			log_rec_i64(&r, "i", (int64_t)v);
			break;
		case 4:
			log_rec_bool(&r, "b", v & 1);
			break;
		case 5:
			log_rec_time(&r, "t", v % 253402300800000000ull); /* before year 10000 */
			break;
		case 6:
			log_rec_dur(&r, "d", v);
			break;
		default:
			memcpy(&s6.sin6_addr, p, keep < 16 ? keep : 16);
			s6.sin6_scope_id = (uint32_t)v;
			log_rec_addr(&r, "a", (struct sockaddr *)&s6);
			break;
		}
		data += len;
		size -= len;
		if (size) { /* the separator */
			data++;
			size--;
		}
	}

	buf = malloc(cap ? cap : 1);
	if (!buf)
		return 0;
	n = log_rec_format_json(&r, np ? pieces[0] : NULL, buf, cap);
	if (cap >= 4) {
		if (n >= cap || buf[n] != '\0' || n < 3 || buf[0] != '{' || buf[n - 2] != '}' ||
		    buf[n - 1] != '\n')
			abort();
		for (size_t i = 0; i + 1 < n; i++)
			if ((unsigned char)buf[i] < 0x20)
				abort();
	} else if (n != 0) {
		abort();
	}
	n = log_format_syslog(&r, np > 1 ? pieces[1] : NULL, &h, buf, cap, &trunc);
	if (n > cap)
		abort();
	n = log_journal_build(&r, NULL, "fuzz", buf, cap, iov, LOG_JOURNAL_MAX_IOV, &trunc);
	for (size_t i = 0; i < n; i++)
		if ((char *)iov[i].iov_base < buf ||
		    (char *)iov[i].iov_base + iov[i].iov_len > buf + cap)
			abort();
	free(buf);
	return 0;
}
