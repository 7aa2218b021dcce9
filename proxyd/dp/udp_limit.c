/* UDP speed limits of an association (see udp_limit.h). */
#include "proxyd/dp/udp_limit.h"

#include <string.h>

static void slice_set(struct udp_slice *s, uint8_t shift, uint64_t bytes, uint64_t packets)
{
	limit_slice_init(&s->bytes, shift, bytes);
	limit_slice_init(&s->packets, shift, packets);
}

static void slices_from(struct udp_slice s[2], const struct udp_speed_limit *l)
{
	if (l == NULL || !l->set) {
		slice_set(&s[UDP_LIMIT_UP], 0, 0, 0);
		slice_set(&s[UDP_LIMIT_DOWN], 0, 0, 0);
		return;
	}
	slice_set(&s[UDP_LIMIT_UP], l->shift_millis, l->upload_bytes, l->upload_packets);
	slice_set(&s[UDP_LIMIT_DOWN], l->shift_millis, l->download_bytes, l->download_packets);
}

static bool slice_on(const struct udp_slice *s)
{
	return limit_slice_on(&s->bytes) || limit_slice_on(&s->packets);
}

void udp_limit_init(struct udp_limit *l, const struct udp_speed_limit *srv_l,
		    const struct user_conf *uc, struct user_state *st)
{
	memset(l, 0, sizeof(*l));
	slices_from(l->srv, srv_l);
	slices_from(l->user, uc != NULL ? &uc->udp_sock_speed_limit : NULL);
	if (uc != NULL && st != NULL) {
		l->all[UDP_LIMIT_UP] =
			user_state_dgram_buckets(st, false, &uc->udp_all_upload_speed_limit);
		l->all[UDP_LIMIT_DOWN] =
			user_state_dgram_buckets(st, true, &uc->udp_all_download_speed_limit);
	}
	for (int d = 0; d < 2; d++)
		l->on = l->on || slice_on(&l->srv[d]) || slice_on(&l->user[d]) || l->all[d] != NULL;
}

/* Room for one datagram of n bytes in this slice: a packet, and n bytes
 * (a datagram larger than a whole slice passes alone at a slice start, so
 * that it is not refused forever). */
static bool slice_room(struct udp_slice *s, size_t n, uint64_t now_ms)
{
	uint64_t b = limit_slice_avail(&s->bytes, now_ms);

	if (limit_slice_avail(&s->packets, now_ms) == 0)
		return false;
	return b >= n || (limit_slice_on(&s->bytes) && b == s->bytes.max);
}

static void slice_take(struct udp_slice *s, size_t n, uint64_t now_ms)
{
	limit_slice_use(&s->bytes, now_ms, n);
	limit_slice_use(&s->packets, now_ms, 1);
}

/* All or nothing from the shared buckets. */
static bool buckets_take(struct user_dgram_buckets *b, size_t n, uint64_t now_ns)
{
	uint64_t got;

	if (b == NULL)
		return true;
	if (limit_bucket_take(&b->packets, now_ns, 1, NULL) != 1)
		return false;
	if (n == 0)
		return true;
	got = limit_bucket_take(&b->bytes, now_ns, n, NULL);
	if (got == n)
		return true;
	limit_bucket_refund(&b->bytes, got);
	limit_bucket_refund(&b->packets, 1);
	return false;
}

bool udp_limit_pass(struct udp_limit *l, enum udp_limit_dir dir, size_t n, uint64_t now_ns)
{
	uint64_t now_ms = now_ns / 1000000u;

	if (!l->on)
		return true;
	if (!slice_room(&l->srv[dir], n, now_ms) || !slice_room(&l->user[dir], n, now_ms))
		return false;
	if (!buckets_take(l->all[dir], n, now_ns))
		return false;
	slice_take(&l->srv[dir], n, now_ms);
	slice_take(&l->user[dir], n, now_ms);
	return true;
}
