/* Internal to the user table and its sources (user_table.c, user_json.c,
 * user_file.c, user_redis.c, user_ctl.c). Workers never see these. */
#ifndef G3C_PROXYD_USER_INT_H
#define G3C_PROXYD_USER_INT_H

#include <regex.h>
#include <stdatomic.h>

#include <ev.h>

#include "common/conf.h"
#include "common/statsd.h"
#include "proxyd/user_table.h"

#define USER_BATCH_MAGIC 0x75626174u	/* "ubat" */
#define USER_GROUP_RT_MAGIC 0x75677274u /* "ugrt" */

/* A set of dynamic users and the memory they live in (arenas, compiled
 * regexes). Reference counted: tables hold it while they point into it. */
struct user_batch {
	uint32_t magic;
	atomic_uint refs;
	struct user_conf *users; /* n entries (malloc'd array of structs) */
	size_t n, cap;
	struct conf_arena **arenas;
	size_t n_arenas;
	regex_t **regexes;
	size_t n_regexes;
	struct user_batch **deps; /* batches whose users were merged in (refs) */
	size_t n_deps;
};

/* An empty batch (refs = 1). */
struct user_batch *user_batch_new(void);
struct user_batch *user_batch_ref(struct user_batch *b);
void user_batch_unref(struct user_batch *b); /* NULL accepted */

/* Parse a whole user list (a JSON array of user maps, or YAML: a sequence,
 * or one user map per document) named `name` for messages. Any error fails
 * the whole list: -EINVAL with every message (file:line:col) joined in
 * *errs (owned, free()). On success *out is a new batch. Duplicate names
 * are errors. */
int user_batch_parse_list(const char *name, const char *data, size_t len, struct user_batch **out,
			  char **errs) MUST_CHECK;

/* Parse one user's map from data (JSON) into batch b. `user` (may be NULL)
 * is the name to use when the map has no `name` key; when both are given
 * they must match. -EINVAL with the messages in *errs (owned) on failure;
 * b is unchanged then. A user already in b is replaced. */
int user_batch_add_json(struct user_batch *b, const char *name, const char *user, const char *data,
			size_t len, char **errs) MUST_CHECK;
/* Same; *named tells whether the map had its own `name` key. */
int user_batch_add_json_named(struct user_batch *b, const char *name, const char *user,
			      const char *data, size_t len, bool *named, char **errs) MUST_CHECK;

/* Add every user of src to dst (src's memory is shared by reference; a
 * user already in dst is replaced). */
void user_batch_merge(struct user_batch *dst, struct user_batch *src);

/* The user named `name` in b, NULL if absent. */
const struct user_conf *user_batch_find(const struct user_batch *b, const char *name);

/* ---- sources -------------------------------------------------------------- */

struct user_source;
struct user_source_ops {
	const char *type; /* "file", "redis" */
	/* Start watching / connecting on loop; 0 or -errno. */
	int (*start)(struct user_source *s, struct ev_loop *loop);
	/* Stop every watcher and connection and free s. */
	void (*free)(struct user_source *s);
};

/* The part of a source the group sees. */
struct user_source {
	const struct user_source_ops *ops;
	struct user_group_rt *g;
};

struct user_group_rt {
	uint32_t magic;
	struct user_group_rt *next;
	char *name;
	/* readers */
	_Atomic(struct user_table *) cur;
	atomic_uint epoch;
	atomic_uint readers[2];
	/* main thread */
	struct proxyd_conf *conf; /* ref to the bound config, NULL when unbound */
	const struct user_group_conf *gc;
	struct user_batch *src;	      /* last good users of the source */
	struct user_batch *published; /* publish-user, until the next source load */
	struct user_source *source;
	uint64_t loads, load_errors, skipped_users;
	struct statsd_counter last_loads, last_errors, last_skipped; /* emitter */
	bool loaded; /* src came from the source (or its cache) at least once */
};

/* Main thread: a new set of source users (taken) replaces the group's;
 * published users are dropped; a new table is published. `cache` (a JSON
 * array of the users, may be NULL) is written to the group's cache path. */
void user_group_source_loaded(struct user_group_rt *g, struct user_batch *b, const char *cache,
			      size_t cache_len);
/* Main thread: a source error (logged by the caller) was counted. */
void user_group_source_failed(struct user_group_rt *g);
/* Main thread: add or replace published users (b taken). */
void user_group_publish(struct user_group_rt *g, struct user_batch *b);
/* Main thread: rebuild and publish the group's table. */
void user_group_republish(struct user_group_rt *g);

/* File source (user_file.c): a new source for g's file (g->gc->source_path),
 * loaded synchronously now (falling back to the cache). */
struct user_source *user_file_source_new(struct user_group_rt *g);
/* Redis source (user_redis.c): g->gc->redis; connects once started. */
struct user_source *user_redis_source_new(struct user_group_rt *g);
/* Read path into a malloc'd NUL-terminated buffer; 0 or -errno. */
int user_read_file(const char *path, char **data, size_t *len) MUST_CHECK;
/* Write data to path atomically (temp file + rename); 0 or -errno. */
int user_write_file(const char *path, const char *data, size_t len) MUST_CHECK;

#endif
