/* Fuzz the float publishes: bytes → proxy_float peers (float_pub_publish)
 * and → direct_float bind IPs (float_bind_publish, no cache files), then
 * show and pick over whatever was stored; every set is dropped again so
 * leaks show up. A failed publish must leave the previous set alone. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/log.h"
#include "proxyd/float_bind.h"
#include "proxyd/float_pub.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int once;
	static struct escaper_conf e; /* direct_float without cache files */
	struct float_set *s;
	struct sockaddr_storage ss;
	size_t n4 = 0, n6 = 0;
	char *err = NULL, *js;

	if (!once) {
		log_init("fuzz", "", LOG_SINK_STDERR, 0);
		log_threshold = LOG_LVL_ERR;
		e.name = "fz";
		e.type = ESCAPER_DIRECT_FLOAT;
		once = 1;
	}
	if (size > 64 * 1024)
		return 0;
	if (float_pub_publish("fp", (const char *)data, size, &err) == 0) {
		js = float_pub_show("fp");
		free(js);
	}
	free(err);
	err = NULL;
	if (float_bind_publish(&e, "{\"ipv4\": \"192.0.2.1\"}", 21, &n4, &n6, &err) != 0 || n4 != 1)
		abort();
	if (float_bind_publish(&e, (const char *)data, size, &n4, &n6, &err) != 0) {
		/* nothing changed */
		s = float_pub_get("fz");
		if (s == NULL || s->n4 != 1 || s->n6 != 0)
			abort();
		float_set_unref(s);
	}
	free(err);
	s = float_pub_get("fz");
	for (int fam = 0; fam < 2; fam++) {
		int f = fam ? AF_INET6 : AF_INET;
		int rc = float_bind_pick(s, f, NULL, 0, size, &ss);
		if (rc == 0 && ss.ss_family != f)
			abort();
		rc = float_bind_pick(s, f, "a", 0, size, &ss);
		if (rc != 0 && rc != -ESRCH)
			abort();
	}
	float_set_unref(s);
	js = float_bind_show("fz");
	free(js);
	float_pub_clear();
	return 0;
}
