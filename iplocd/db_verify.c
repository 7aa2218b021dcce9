/* Full validation of an opened MaxMind DB, so a lookup can never meet a
 * broken structure (MaxMind DB spec v2: search tree, 16-byte zero separator,
 * data section, metadata). libmaxminddb's MMDB_open only checks the
 * metadata; this checks everything a lookup can reach and more:
 *  - every node of the tree: each record is a node, "empty", or a pointer
 *    that lands inside the data section (never in the separator);
 *  - the tree from the root is at most 32 / 128 nodes deep (so a lookup
 *    always ends on a record, and a cycle is refused);
 *  - every node is reachable from the root;
 *  - every data record any node points to decodes completely, with valid
 *    UTF-8 strings (each offset once: a bitmap over the data section
 *    remembers what was checked). */
#include "iplocd/db.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iplocd/fields.h"

#define SEPARATOR 16u

struct verify {
	const MMDB_s *m;
	uint32_t nodes;
	uint32_t depth;	    /* 32 or 128 */
	uint8_t *height;    /* per node: 0 unknown, else 1 + longest chain below */
	uint8_t *seen;	    /* bitmap over data-section offsets already decoded */
	uint64_t data_size; /* bytes addressable by data records */
	struct iploc_db_info *info;
	char *err;
	size_t errlen;
};

static int fail(struct verify *v, const char *fmt, ...) PRINTF_FMT(2, 3);
static int fail(struct verify *v, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v->err, v->errlen, fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

static int check_data(struct verify *v, uint32_t node, const char *side, uint64_t record)
{
	MMDB_entry_s entry = {.mmdb = v->m};
	MMDB_entry_data_list_s *list = NULL;
	struct iploc_fields fields;
	uint64_t off;
	int st;

	if (record - v->nodes < SEPARATOR)
		return fail(v,
			    "node %" PRIu32 ": %s record %" PRIu64 " points into the data "
			    "section separator",
			    node, side, record);
	off = record - v->nodes - SEPARATOR;
	if (off >= v->data_size)
		return fail(v,
			    "node %" PRIu32 ": %s record %" PRIu64 " points past the data "
			    "section (%" PRIu64 " bytes)",
			    node, side, record, v->data_size);
	if (v->seen[off >> 3] & (1u << (off & 7)))
		return 0;
	v->seen[off >> 3] |= (uint8_t)(1u << (off & 7));
	entry.offset = (uint32_t)off;
	st = MMDB_get_entry_data_list(&entry, &list);
	if (st != MMDB_SUCCESS) {
		MMDB_free_entry_data_list(list);
		return fail(v, "data record at offset %" PRIu64 " (node %" PRIu32 "): %s", off,
			    node, MMDB_strerror(st));
	}
	/* Strings go into protobuf `string` fields, which must be UTF-8. */
	for (const MMDB_entry_data_list_s *l = list; l; l = l->next) {
		const MMDB_entry_data_s *d = &l->entry_data;
		if (d->type == MMDB_DATA_TYPE_UTF8_STRING &&
		    !iploc_utf8_valid((const uint8_t *)d->utf8_string, d->data_size)) {
			MMDB_free_entry_data_list(list);
			return fail(v,
				    "data record at offset %" PRIu64 ": a string is not valid "
				    "UTF-8",
				    off);
		}
	}
	MMDB_free_entry_data_list(list);
	v->info->data_records++;
	if (iploc_fields_read(&entry, &fields))
		v->info->location_records++;
	return 0;
}

/* Longest chain of nodes from `node` down, memoised; refuses a chain longer
 * than the address (which also catches cycles). Recursion depth is bounded
 * by v->depth + 1. */
static int tree_height(struct verify *v, uint32_t node, uint32_t level, unsigned *out)
{
	MMDB_search_node_s n;
	unsigned best = 0;

	if (level >= v->depth)
		return fail(v,
			    "search tree deeper than %" PRIu32 " bits at node %" PRIu32
			    " (a cycle or a corrupt tree)",
			    v->depth, node);
	if (v->height[node]) {
		if (v->height[node] + level > v->depth)
			return fail(v,
				    "search tree deeper than %" PRIu32 " bits below node %" PRIu32,
				    v->depth, node);
		*out = v->height[node];
		return 0;
	}
	if (MMDB_read_node(v->m, node, &n) != MMDB_SUCCESS)
		return fail(v, "cannot read node %" PRIu32, node);
	for (int side = 0; side < 2; side++) {
		uint64_t rec = side ? n.right_record : n.left_record;
		unsigned h = 0;
		if (rec < v->nodes) {
			int ret = tree_height(v, (uint32_t)rec, level + 1, &h);
			if (ret)
				return ret;
		}
		best = MAX(best, h);
	}
	if (best + 1 + level > v->depth)
		return fail(v, "search tree deeper than %" PRIu32 " bits below node %" PRIu32,
			    v->depth, node);
	v->height[node] = (uint8_t)(best + 1);
	*out = best + 1;
	return 0;
}

static int check_separator(struct verify *v)
{
	uint64_t tree = (uint64_t)v->nodes * v->m->full_record_byte_size;
	const uint8_t *p;

	if (tree + SEPARATOR > (uint64_t)v->m->file_size)
		return fail(v, "the search tree (%" PRIu32 " nodes) does not fit in the file",
			    v->nodes);
	p = v->m->file_content + tree;
	for (unsigned i = 0; i < SEPARATOR; i++)
		if (p[i] != 0)
			return fail(v, "no 16-byte zero separator after the search tree");
	return 0;
}

int iploc_db_verify(const MMDB_s *mmdb, struct iploc_db_info *info, char *err, size_t errlen)
{
	struct verify v = {
		.m = mmdb,
		.nodes = mmdb->metadata.node_count,
		.info = info,
		.err = err,
		.errlen = errlen,
	};
	const MMDB_metadata_s *md = &mmdb->metadata;
	unsigned h = 0;
	int ret;

	memset(info, 0, sizeof(*info));
	if (md->binary_format_major_version != 2)
		return fail(&v, "binary format version %u is not supported (2 is)",
			    md->binary_format_major_version);
	if (md->ip_version != 4 && md->ip_version != 6)
		return fail(&v, "ip_version %u (4 or 6 expected)", md->ip_version);
	if (md->record_size != 24 && md->record_size != 28 && md->record_size != 32)
		return fail(&v, "record_size %u (24, 28 or 32 expected)", md->record_size);
	if (v.nodes == 0)
		return fail(&v, "the search tree is empty (node_count 0)");
	/* Years past 9999 are not a build date: a corrupt field. */
	if (md->build_epoch > 253402300799ull)
		return fail(&v, "build_epoch %" PRIu64 " is not a plausible date", md->build_epoch);
	v.depth = md->ip_version == 4 ? 32 : 128;
	ret = check_separator(&v);
	if (ret)
		return ret;
	/* Data records address the bytes between the separator and the
	 * metadata marker. */
	if (mmdb->metadata_section < mmdb->data_section)
		return fail(&v, "metadata section before the data section");
	v.data_size = (uint64_t)(mmdb->metadata_section - mmdb->data_section);
	if (v.data_size > mmdb->data_section_size)
		v.data_size = mmdb->data_section_size;

	v.height = xcalloc(v.nodes, 1);
	v.seen = xcalloc((size_t)(v.data_size / 8 + 1), 1);
	for (uint32_t i = 0; i < v.nodes; i++) {
		MMDB_search_node_s n;
		if (MMDB_read_node(mmdb, i, &n) != MMDB_SUCCESS) {
			ret = fail(&v, "cannot read node %" PRIu32, i);
			goto out;
		}
		for (int side = 0; side < 2; side++) {
			uint64_t rec = side ? n.right_record : n.left_record;
			const char *name = side ? "right" : "left";
			if (rec < v.nodes) {
				if (rec == i) {
					ret = fail(&v, "node %" PRIu32 " points to itself", i);
					goto out;
				}
				continue;
			}
			if (rec == v.nodes) {
				info->empty_records++;
				continue;
			}
			ret = check_data(&v, i, name, rec);
			if (ret)
				goto out;
		}
	}
	ret = tree_height(&v, 0, 0, &h);
	if (ret)
		goto out;
	info->max_depth = h;
	/* Writers number the nodes they reach from the root; a node nothing
	 * reaches means a wrong node_count or a corrupt tree. */
	for (uint32_t i = 0; i < v.nodes; i++) {
		if (!v.height[i]) {
			ret = fail(&v,
				   "search tree node %" PRIu32 " is unreachable from the root "
				   "(corrupt tree or wrong node_count)",
				   i);
			goto out;
		}
	}
	ret = 0;
out:
	free(v.height);
	free(v.seen);
	return ret;
}
