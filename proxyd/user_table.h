/* User tables: the users of one user group as an immutable, reference
 * counted snapshot, and the per-group runtime that keeps the current
 * snapshot across reloads and loads the dynamic source (file or redis).
 *
 * Threads: workers only call user_group_current(), user_table_* and
 * user_table_unref(); everything else runs on the main thread.
 *
 * Lock-free readers: user_group_current() enters one of two reader slots
 * (chosen by the group's epoch parity), loads the current pointer and takes
 * a reference. A writer swaps the pointer, flips the epoch and waits for the
 * old slot to drain before dropping the group's reference to the old table,
 * so a reader never references a freed table; the retired table is freed
 * when its last reader unrefs it. */
#ifndef G3C_PROXYD_USER_TABLE_H
#define G3C_PROXYD_USER_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"
#include "proxyd/config.h"

/* ---- the contract (see the users helper) --------------------------------- */

/* An immutable snapshot of one user group's users: the static users of the
 * config merged with the dynamic source's (file or redis; dynamic wins on a
 * name clash, as g3). Reference counted with atomics: workers take a
 * reference per lookup scope and drop it when done. */
struct user_table;
struct user_table *user_table_ref(struct user_table *t);
/* NULL is accepted. */
void user_table_unref(struct user_table *t);
/* Borrowed user (valid while the table reference is held), NULL if absent. */
const struct user_conf *user_table_find(const struct user_table *t, const char *name, size_t len);
size_t user_table_count(const struct user_table *t);
const struct user_conf *user_table_at(const struct user_table *t, size_t i); /* sorted by name */
/* True when the user came from the dynamic source or publish-user. */
bool user_table_is_dynamic(const struct user_table *t, size_t i);

/* Runtime of one user group (main thread owns it; lives in the runtime
 * across reloads of the same group name, so a dynamic source keeps its last
 * good users over a reload). struct user_group_conf.rt is set by the
 * runtime before workers see the config. */
struct user_group_rt;
/* Any thread: the current snapshot, as a new reference (never NULL: an
 * empty table when the group has no users). Lock-free for readers. */
struct user_table *user_group_current(struct user_group_rt *g);

/* ---- the registry (runtime, main thread) ---------------------------------- */

struct ev_loop;
struct user_groups;

/* An empty registry; user_groups_free() after every worker is joined
 * (NULL accepted). */
struct user_groups *user_groups_new(void);
void user_groups_free(struct user_groups *ug);

/* Point every user group of conf at the runtime of its name (created when
 * new) and publish a table of conf's static users merged with the group's
 * last good dynamic users. A group with a file source that has no users yet
 * loads the file (or its cache) now, synchronously. Groups absent from conf
 * keep their runtime (old configs may still point at it) with their sources
 * stopped. Call before any worker sees conf; binding the previous config
 * again undoes a failed reload. Takes no reference to conf beyond the ones
 * its tables hold. */
void user_groups_bind(struct user_groups *ug, struct proxyd_conf *conf);

/* Start (or restart) the sources of the bound groups on `loop` (the main
 * loop): file watchers and refresh timers, redis connections. Without a
 * loop (unit tests), sources are only read at bind. */
void user_groups_set_loop(struct user_groups *ug, struct ev_loop *loop);

/* The runtime of a group name, NULL when never bound. */
struct user_group_rt *user_groups_find(struct user_groups *ug, const char *name);

/* Report counters (daemon status): user_source_errors etc. */
void user_groups_counters(const struct user_groups *ug,
			  void (*add)(void *arg, const char *name, uint64_t v), void *arg);

/* StatsD (inside statsd_begin/end, main thread), per group of the running
 * config, tag user_group:NAME: counters user_group.source.loads,
 * user_group.source.errors (redis down, timeouts, bad files),
 * user_group.source.skipped_users; gauge user_group.users. */
struct statsd;
void user_groups_emit(struct user_groups *ug, struct statsd *s);

#endif
