/* Configuration: libyaml → a node tree that keeps file:line:col → typed
 * schema tables. g3proxy conventions: keys and `type` values compare after
 * normalisation (lower case, '-' → '_'); object lists ("hybrid maps") may be
 * inline, a path to a file or directory, or a mix; relative paths resolve
 * against the main file's directory. Errors are collected (at most
 * CONF_MAX_ERRORS) in compiler style:
 *   proxyd.yaml:12:14: error: server[0].listen: port 70000 out of range (1..65535)
 *
 * Memory: everything a load produces (nodes, strings, typed objects) lives in
 * one arena owned by the struct conf_ctx and is released by conf_ctx_fini(),
 * or handed to a longer-lived owner with conf_ctx_take_arena(). */
#ifndef G3C_COMMON_CONF_H
#define G3C_COMMON_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/util.h"

#define CONF_MAX_ERRORS 20

enum conf_kind {
	CONF_SCALAR = 0,
	CONF_MAP,
	CONF_SEQ,
};

struct conf_node {
	enum conf_kind kind;
	const char *file;   /* path as opened; lives in the arena */
	unsigned line, col; /* 1-based */
	/* CONF_SCALAR: the text (NUL-terminated, len excludes the NUL) */
	const char *str;
	size_t len;
	bool plain; /* unquoted scalar: "null", "~" and "" read as null */
	/* CONF_MAP: children are key scalars, each with ->value set.
	 * CONF_SEQ: children are the items. */
	struct conf_node *child;
	struct conf_node *next;
	struct conf_node *value;
	unsigned nchild;
};

struct conf_arena;

struct conf_ctx {
	struct conf_arena *arena;
	const char *main_file; /* as given */
	const char *base_dir;  /* directory of the main file, for relative paths */
	unsigned nerr;	       /* errors recorded (may exceed the stored ones) */
	char *errs[CONF_MAX_ERRORS];
	char path[512]; /* current key path, e.g. "server[0].listen" */
	size_t pathlen;
	/* Added by the implementation (zeroed by conf_ctx_init): */
	bool no_includes;	/* set to refuse file includes (fuzzers, untrusted input) */
	unsigned include_depth; /* guard for nested conf_foreach_object includes */
};

/* ---- context, arena, errors ------------------------------------------ */

/* Initialise for loading `main_file` (borrowed; copied). */
void conf_ctx_init(struct conf_ctx *ctx, const char *main_file);
/* Release the arena (unless taken) and the error strings. */
void conf_ctx_fini(struct conf_ctx *ctx);
/* Hand the arena to the caller; free it later with conf_arena_free(). */
struct conf_arena *conf_ctx_take_arena(struct conf_ctx *ctx);
void conf_arena_free(struct conf_arena *a);

/* Arena allocation (zeroed; aborts on OOM). */
void *conf_alloc(struct conf_ctx *ctx, size_t n);
char *conf_strndup(struct conf_ctx *ctx, const char *s, size_t n);

/* Record "file:line:col: error: <path>: <message>" for node n (n may be
 * NULL: then "file: error: ..."). Always returns -EINVAL for convenience. */
int conf_error(struct conf_ctx *ctx, const struct conf_node *n, const char *fmt, ...)
	PRINTF_FMT(3, 4);
/* Print every recorded error to stderr, one per line, plus a line for the
 * ones beyond CONF_MAX_ERRORS. */
void conf_print_errors(const struct conf_ctx *ctx);
/* Join the errors into one string with '\n' (owned, free()). */
char *conf_errors_join(const struct conf_ctx *ctx);

/* Key-path bookkeeping for messages. Push returns the previous length for
 * conf_path_pop(). */
size_t conf_path_push_key(struct conf_ctx *ctx, const char *key);
size_t conf_path_push_index(struct conf_ctx *ctx, unsigned idx);
void conf_path_pop(struct conf_ctx *ctx, size_t saved);

/* ---- loading --------------------------------------------------------- */

/* Load a YAML file. The main file's documents are merged key by key into
 * one map (a key repeated across documents is a duplicate). Duplicate keys
 * (after normalisation) are errors. Returns 0 and *root, or -errno with
 * errors recorded. If `path` is a directory, main.{yaml,yml,conf} or
 * <daemon>.{yaml,yml,conf} inside it is used (pass daemon, may be NULL). */
int conf_load_main(struct conf_ctx *ctx, const char *path, const char *daemon,
		   const struct conf_node **root) MUST_CHECK;

/* Load a YAML buffer (tests and fuzzers); `name` is used as the file name. */
int conf_load_buffer(struct conf_ctx *ctx, const char *name, const char *data, size_t len,
		     const struct conf_node **root) MUST_CHECK;

/* Resolve `rel` against ctx->base_dir (absolute paths returned as they are).
 * Returned string lives in the arena. */
const char *conf_resolve_path(struct conf_ctx *ctx, const char *rel);

/* Hybrid map: call fn(ctx, obj, idx, arg) for each object map in `val`, which
 * may be a sequence of maps, a path string (a file: each document is one
 * object; a directory: every regular file with the main file's extension,
 * sorted by name), or a sequence mixing both; a single map counts as one
 * object and null as none. ctx->path is set to "<key>[idx]" around each
 * call (key is appended to the current path unless it is NULL or the path
 * already ends with it, as inside a CONF_T_CUSTOM parser). Objects are
 * numbered across the whole list. Errors inside included files name that
 * file; a missing file is reported at the node naming it. A non-zero return
 * from fn is remembered but iteration continues so every error is collected.
 * Returns 0 or the last error. */
typedef int conf_object_fn(struct conf_ctx *ctx, const struct conf_node *obj, unsigned idx,
			   void *arg);
int conf_foreach_object(struct conf_ctx *ctx, const char *key, const struct conf_node *val,
			conf_object_fn *fn, void *arg) MUST_CHECK;

/* ---- node helpers ---------------------------------------------------- */

/* Normalise a key or type name into out (lower case, '-' → '_'). */
void conf_normalize(const char *in, size_t len, char *out, size_t cap);
/* True if key scalar k normalises to `name` (already normalised). */
bool conf_key_is(const struct conf_node *k, const char *name);
/* Value of `name` in map m, or NULL. */
const struct conf_node *conf_map_get(const struct conf_node *m, const char *name);
bool conf_is_null(const struct conf_node *n);

/* ---- typed values: each records an error on failure and returns -EINVAL */

int conf_get_str(struct conf_ctx *ctx, const struct conf_node *n, const char **out) MUST_CHECK;
int conf_get_bool(struct conf_ctx *ctx, const struct conf_node *n, bool *out) MUST_CHECK;
int conf_get_u64(struct conf_ctx *ctx, const struct conf_node *n, uint64_t min, uint64_t max,
		 uint64_t *out) MUST_CHECK;
int conf_get_i64(struct conf_ctx *ctx, const struct conf_node *n, int64_t min, int64_t max,
		 int64_t *out) MUST_CHECK;
/* int/float seconds, or "500ms", "10s", "1h 30m 71s", "100us", "2d"; → ms.
 * Units ns us µs ms s m h d w (lower case); sub-ms remainders round up. */
int conf_get_duration_ms(struct conf_ctx *ctx, const struct conf_node *n, uint64_t *out) MUST_CHECK;
/* int bytes or "1K"/"1KB" = 1000, "1KiB" = 1024, same for M/G/T/P (any
 * case); "1.5M" allowed (rounded down); overflow is an error. */
int conf_get_size(struct conf_ctx *ctx, const struct conf_node *n, uint64_t *out) MUST_CHECK;

struct conf_hostport {
	const char *host; /* domain or IP literal (no brackets); arena */
	uint16_t port;
	bool is_ip;
	struct sockaddr_storage addr; /* valid when is_ip */
	socklen_t addrlen;
};
/* "host[:port]", "ip[:port]", "[v6]:port"; a missing port takes
 * default_port (0 = port required). */
int conf_get_hostport(struct conf_ctx *ctx, const struct conf_node *n, uint16_t default_port,
		      struct conf_hostport *out) MUST_CHECK;

struct conf_net {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint8_t prefix;
};
/* "10.0.0.0/8", "::1/128", or a bare IP (full prefix). Host bits must be 0. */
int conf_get_network(struct conf_ctx *ctx, const struct conf_node *n,
		     struct conf_net *out) MUST_CHECK;

struct conf_enum {
	const char *name; /* normalised */
	int value;
};
/* Match a scalar (normalised) against a table ended by {NULL, 0}. */
int conf_get_enum(struct conf_ctx *ctx, const struct conf_node *n, const struct conf_enum *tab,
		  int *out) MUST_CHECK;

/* ---- schema tables --------------------------------------------------- */

enum conf_vtype {
	CONF_T_STR = 1,	 /* const char * */
	CONF_T_PATH,	 /* const char *, resolved against base_dir */
	CONF_T_BOOL,	 /* bool */
	CONF_T_U32,	 /* uint32_t within [min, max] (max 0 = UINT32_MAX) */
	CONF_T_U64,	 /* uint64_t within [min, max] (max 0 = UINT64_MAX) */
	CONF_T_DURATION, /* uint64_t ms within [min, max] (max 0 = unbounded) */
	CONF_T_SIZE,	 /* uint64_t bytes within [min, max] (max 0 = unbounded) */
	CONF_T_HOSTPORT, /* struct conf_hostport; min = default port */
	CONF_T_NETWORK,	 /* struct conf_net */
	CONF_T_ENUM,	 /* int, from .enums */
	CONF_T_LIST,	 /* struct conf_array of .elem values (single value = list of one) */
	CONF_T_OBJ,	 /* nested map parsed with .sub into the embedded struct */
	CONF_T_CUSTOM,	 /* .parse(ctx, node, dst) */
	CONF_T_IGNORE,	 /* accepted and ignored (documented compat keys) */
};

struct conf_array {
	void *v; /* arena; n elements of the element size */
	size_t n;
};

struct conf_schema;
typedef int conf_parse_fn(struct conf_ctx *ctx, const struct conf_node *n, void *dst);

struct conf_field {
	const char *key; /* normalised; aliases are extra rows with the same off */
	enum conf_vtype type;
	size_t off; /* offsetof in the target struct */
	unsigned flags;
	uint64_t min, max;
	const struct conf_enum *enums;
	const struct conf_schema *sub; /* CONF_T_OBJ, CONF_T_LIST of objects */
	conf_parse_fn *parse;	       /* CONF_T_CUSTOM, CONF_T_LIST of custom */
	const struct conf_field *elem; /* CONF_T_LIST: element type (off ignored) */
	size_t esize;		       /* CONF_T_LIST: element size */
	size_t seen_off;	       /* if CONF_F_SEEN: offset of a bool set when present */
};

#define CONF_F_REQUIRED 0x1u
#define CONF_F_SEEN 0x2u

struct conf_schema {
	const char *name;		 /* for messages: "http_proxy server" */
	size_t size;			 /* sizeof the target struct */
	const struct conf_field *fields; /* ended by a row with key == NULL */
	/* Called before parsing (set defaults) and after (cross-field checks);
	 * either may be NULL. Return 0 or -EINVAL after conf_error(). */
	void (*defaults)(void *obj);
	int (*check)(struct conf_ctx *ctx, const struct conf_node *map, void *obj);
};

/* Parse map `m` into obj with schema s: unknown keys and missing required
 * keys are errors; every error is collected. A null `m` reads as an empty
 * map (so does a null CONF_T_OBJ value); a null CONF_T_LIST value is an
 * empty list. s->check runs only when every field parsed. `skip` names keys (normalised,
 * NULL-terminated list, may be NULL) the caller handles itself, e.g. "type".
 * Runs s->defaults first when set. */
int conf_parse_map(struct conf_ctx *ctx, const struct conf_node *m, const struct conf_schema *s,
		   const char *const *skip, void *obj) MUST_CHECK;

/* Parse one value of field f into dst (= obj + f->off). */
int conf_parse_value(struct conf_ctx *ctx, const struct conf_node *n, const struct conf_field *f,
		     void *dst) MUST_CHECK;

/* A typed object: `type` picks the schema (types[i].name or an alias,
 * compared normalised). */
struct conf_objtype {
	const char *name;	    /* canonical, normalised: "http_proxy" */
	const char *const *aliases; /* normalised, NULL-terminated, may be NULL */
	const struct conf_schema *schema;
	int tag; /* caller's discriminator */
};

/* Read `type` from map m, find it in types (ended by name == NULL), allocate
 * schema->size bytes in the arena and parse the map into it. Returns 0 with
 * *obj and *tag, or -EINVAL (unknown type: "unknown server type 'foo'"). */
int conf_parse_typed(struct conf_ctx *ctx, const struct conf_node *m, const char *what,
		     const struct conf_objtype *types, void **obj, int *tag) MUST_CHECK;

#endif
