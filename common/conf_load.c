/* Loading: main file (`-c FILE` or `-c DIR`), buffers, and hybrid object
 * lists whose items may be inline maps or paths to files and directories. */
#include "common/conf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/conf_int.h"

#define CONF_MAX_DIR_FILES 10000

static int file_error(struct conf_ctx *ctx, const struct conf_node *at, const char *path,
		      const char *what, int err)
{
	if (at)
		conf_error(ctx, at, "%s '%s': %s", what, path, strerror(err));
	else
		conf_error_at(ctx, path, 0, 0, false, "%s '%s': %s", what, path, strerror(err));
	return -err;
}

int conf_read_file(struct conf_ctx *ctx, const struct conf_node *at, const char *path, char **data,
		   size_t *len)
{
	struct stat st;
	char *buf = NULL;
	size_t n = 0, cap;
	int fd, ret;

	*data = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return file_error(ctx, at, path, "cannot open", errno);
	if (fstat(fd, &st) != 0) {
		ret = file_error(ctx, at, path, "cannot stat", errno);
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		ret = file_error(ctx, at, path, "cannot read", EISDIR);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		if (at)
			conf_error(ctx, at, "'%s' is not a regular file", path);
		else
			conf_error_at(ctx, path, 0, 0, false, "not a regular file");
		goto out;
	}
	if ((uint64_t)st.st_size > CONF_MAX_FILE_SIZE)
		goto too_big;
	cap = (size_t)st.st_size + 1;
	buf = xmalloc(cap);
	for (;;) {
		if (n == cap) {
			if (cap > CONF_MAX_FILE_SIZE)
				goto too_big;
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = file_error(ctx, at, path, "cannot read", errno);
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > CONF_MAX_FILE_SIZE)
		goto too_big;
	*data = buf;
	*len = n;
	buf = NULL;
	ret = 0;
	goto out;
too_big:
	ret = -EFBIG;
	if (at)
		conf_error(ctx, at, "'%s' is too large (max %u bytes)", path, CONF_MAX_FILE_SIZE);
	else
		conf_error_at(ctx, path, 0, 0, false, "file too large (max %u bytes)",
			      CONF_MAX_FILE_SIZE);
out:
	free(buf);
	close(fd);
	return ret;
}

int conf_load_buffer(struct conf_ctx *ctx, const char *name, const char *data, size_t len,
		     const struct conf_node **root)
{
	const char *file = conf_strndup(ctx, name, strlen(name));

	return conf_yaml_load(ctx, file, data, len, -1, root);
}

static const char *const main_exts[] = {"yaml", "yml", "conf"};

/* `-c DIR`: main.{yaml,yml,conf}, then <daemon>.{yaml,yml,conf}. */
static char *find_main(const char *dir, const char *daemon)
{
	const char *stems[2] = {"main", daemon};

	for (unsigned s = 0; s < 2; s++) {
		if (!stems[s])
			continue;
		for (unsigned e = 0; e < ARRAY_SIZE(main_exts); e++) {
			char *p = NULL;
			struct stat st;
			if (asprintf(&p, "%s%s%s.%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/",
				     stems[s], main_exts[e]) < 0)
				ASSERT(!"asprintf");
			if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
				return p;
			free(p);
		}
	}
	return NULL;
}

int conf_load_main(struct conf_ctx *ctx, const char *path, const char *daemon,
		   const struct conf_node **root)
{
	struct stat st;
	char *chosen = NULL, *data = NULL;
	size_t len;
	int ret;

	*root = NULL;
	if (path[0] && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		chosen = find_main(path, daemon);
		if (!chosen) {
			conf_error_at(ctx, path, 0, 0, false,
				      "no main.{yaml,yml,conf}%s%s%s in this directory",
				      daemon ? " or " : "", daemon ? daemon : "",
				      daemon ? ".{yaml,yml,conf}" : "");
			return -ENOENT;
		}
		path = chosen;
	}
	if (!ctx->main_file || strcmp(ctx->main_file, path) != 0)
		conf_ctx_set_main(ctx, path);
	ret = conf_read_file(ctx, NULL, path, &data, &len);
	if (ret == 0)
		ret = conf_yaml_load(ctx, conf_strndup(ctx, path, strlen(path)), data, len, -1,
				     root);
	free(data);
	free(chosen);
	return ret;
}

/* ---- hybrid object lists -------------------------------------------------- */

struct foreach {
	conf_object_fn *fn;
	void *arg;
	unsigned idx;
	int ret;
};

static void call_obj(struct conf_ctx *ctx, struct foreach *fe, const struct conf_node *obj,
		     bool from_file)
{
	size_t saved = conf_path_push_index(ctx, fe->idx);

	if (obj->kind != CONF_MAP) {
		fe->ret = conf_error(ctx, obj, "expected a map");
	} else {
		ctx->include_depth += from_file;
		int r = fe->fn(ctx, obj, fe->idx, fe->arg);
		ctx->include_depth -= from_file;
		if (r)
			fe->ret = r;
	}
	conf_path_pop(ctx, saved);
	fe->idx++;
}

/* Each document of the file is one object. */
static void include_file(struct conf_ctx *ctx, struct foreach *fe, const struct conf_node *at,
			 const char *path)
{
	const struct conf_node *docs = NULL;
	char *data = NULL;
	size_t len;
	int r;

	r = conf_read_file(ctx, at, path, &data, &len);
	if (r == 0)
		r = conf_yaml_load(ctx, path, data, len, fe->idx, &docs);
	free(data);
	if (r) {
		fe->ret = r;
		return;
	}
	for (const struct conf_node *d = docs->child; d; d = d->next)
		call_obj(ctx, fe, d, true);
}

/* The extension included directory entries must have: the main file's. */
static bool ext_matches(const struct conf_ctx *ctx, const char *name)
{
	const char *base = strrchr(ctx->main_file, '/');
	const char *want = strrchr(base ? base + 1 : ctx->main_file, '.');
	const char *ext = strrchr(name, '.');

	if (!ext || ext == name)
		return false;
	if (want && want[1])
		return strcmp(ext, want) == 0;
	for (unsigned e = 0; e < ARRAY_SIZE(main_exts); e++)
		if (strcmp(ext + 1, main_exts[e]) == 0)
			return true;
	return false;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void include_dir(struct conf_ctx *ctx, struct foreach *fe, const struct conf_node *at,
			const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;

	if (!d) {
		fe->ret = file_error(ctx, at, dir, "cannot open directory", errno);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		/* Dot files are skipped: editor locks are often dangling symlinks. */
		if (de->d_name[0] == '.' || !ext_matches(ctx, de->d_name))
			continue;
		if (n == CONF_MAX_DIR_FILES) {
			fe->ret = conf_error(ctx, at, "too many files in '%s' (max %u)", dir,
					     CONF_MAX_DIR_FILES);
			break;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			names = xrealloc(names, cap * sizeof(*names));
		}
		names[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n; i++) {
		size_t dl = strlen(dir), nl = strlen(names[i]);
		bool slash = dl && dir[dl - 1] == '/';
		char *p = conf_alloc(ctx, dl + nl + 2);
		struct stat st;

		memcpy(p, dir, dl);
		if (!slash)
			p[dl] = '/';
		memcpy(p + dl + !slash, names[i], nl + 1);
		if (stat(p, &st) != 0)
			fe->ret = file_error(ctx, at, p, "cannot open", errno);
		else if (S_ISREG(st.st_mode))
			include_file(ctx, fe, at, p);
		free(names[i]);
	}
	free(names);
}

static void include_path(struct conf_ctx *ctx, struct foreach *fe, const struct conf_node *at)
{
	const char *rel, *path;
	struct stat st;

	if (conf_get_str(ctx, at, &rel)) {
		fe->ret = -EINVAL;
		return;
	}
	if (ctx->no_includes) {
		fe->ret = conf_error(ctx, at, "file includes are not allowed here");
		return;
	}
	if (ctx->include_depth >= CONF_MAX_INCLUDE_DEPTH) {
		fe->ret = conf_error(ctx, at, "includes nested too deep (max %u)",
				     CONF_MAX_INCLUDE_DEPTH);
		return;
	}
	if (!rel[0]) {
		fe->ret = conf_error(ctx, at, "empty file path");
		return;
	}
	path = conf_resolve_path(ctx, rel);
	if (stat(path, &st) != 0) {
		fe->ret = file_error(ctx, at, path, "cannot open", errno);
		return;
	}
	if (S_ISDIR(st.st_mode))
		include_dir(ctx, fe, at, path);
	else
		include_file(ctx, fe, at, path);
}

/* True when the path already ends with component `key` (a custom field
 * parser called us after conf_parse_map pushed the key). */
static bool path_ends_with(const struct conf_ctx *ctx, const char *key)
{
	size_t kl = strlen(key);

	if (kl > ctx->pathlen || memcmp(ctx->path + ctx->pathlen - kl, key, kl) != 0)
		return false;
	return kl == ctx->pathlen || ctx->path[ctx->pathlen - kl - 1] == '.';
}

int conf_foreach_object(struct conf_ctx *ctx, const char *key, const struct conf_node *val,
			conf_object_fn *fn, void *arg)
{
	struct foreach fe = {.fn = fn, .arg = arg};
	size_t saved = ctx->pathlen;

	if (key && key[0] && !path_ends_with(ctx, key))
		conf_path_push_key(ctx, key);
	if (conf_is_null(val)) {
		/* no objects */
	} else if (val->kind == CONF_MAP) {
		call_obj(ctx, &fe, val, false);
	} else if (val->kind == CONF_SCALAR) {
		include_path(ctx, &fe, val);
	} else {
		for (const struct conf_node *it = val->child; it; it = it->next) {
			if (it->kind == CONF_MAP) {
				call_obj(ctx, &fe, it, false);
			} else if (it->kind == CONF_SCALAR && !conf_is_null(it)) {
				include_path(ctx, &fe, it);
			} else {
				size_t s2 = conf_path_push_index(ctx, fe.idx++);
				fe.ret = conf_error(ctx, it, "expected a map or a file path");
				conf_path_pop(ctx, s2);
			}
		}
	}
	conf_path_pop(ctx, saved);
	return fe.ret;
}
