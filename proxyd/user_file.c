/* The `file` user source (g3 §1.5.3): a JSON (or YAML) list of users read
 * at bind, then again when the file changes (its inode, size, mtime or
 * ctime in nanoseconds, polled every 500ms: ev_stat compares whole seconds
 * and would miss a same-size rewrite) and every refresh_interval. A bad file keeps the last good
 * users and logs every error with file:line:col. */
#include "proxyd/user_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"

#define USER_FILE_MAGIC 0x7566696cu /* "ufil" */
#define USER_FILE_MAX (64u << 20)

struct user_file {
	struct user_source base;
	uint32_t magic;
	char *path;
	struct ev_loop *loop;
	ev_timer watch;	  /* stat poll */
	ev_timer refresh; /* refresh_interval */
	struct stat seen; /* of the last read */
	bool have_seen;
};

int user_read_file(const char *path, char **data, size_t *len)
{
	struct stat st;
	char *buf = NULL;
	size_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc = 0;

	*data = NULL;
	*len = 0;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EISDIR;
		goto out;
	}
	if (st.st_size > (off_t)USER_FILE_MAX) {
		rc = -EFBIG;
		goto out;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	while (n < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			goto out;
		}
		if (r == 0)
			break; /* truncated meanwhile: parse what is there */
		n += (size_t)r;
	}
	buf[n] = '\0';
	*data = buf;
	*len = n;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return rc;
}

int user_write_file(const char *path, const char *data, size_t len)
{
	char *tmp = NULL;
	size_t off = 0;
	int fd, rc = 0;

	if (asprintf(&tmp, "%s.tmp.%d", path, (int)getpid()) < 0)
		ASSERT(!"asprintf");
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			rc = -errno;
			break;
		}
		off += (size_t)w;
	}
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc != 0)
		unlink(tmp);
out:
	free(tmp);
	return rc;
}

static void file_load(struct user_file *f)
{
	struct user_group_rt *g = f->base.g;
	struct user_batch *b = NULL;
	char *data = NULL, *errs = NULL;
	size_t len = 0;
	int rc;

	f->have_seen = stat(f->path, &f->seen) == 0;
	rc = user_read_file(f->path, &data, &len);

	if (rc != 0) {
		log_err("user group %s: cannot read the user source %s: %s; keeping %s users",
			g->name, f->path, strerror(-rc), g->loaded ? "the last good" : "no");
		user_group_source_failed(g);
		return;
	}
	rc = user_batch_parse_list(f->path, data, len, &b, &errs);
	if (rc != 0) {
		log_err("user group %s: bad user source, keeping the last good users:\n%s", g->name,
			errs);
		user_group_source_failed(g);
	} else {
		log_info("user group %s: %zu users loaded from %s", g->name, b->n, f->path);
		user_group_source_loaded(g, b, data, len);
	}
	free(errs);
	free(data);
}

static bool same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

static void user_file_on_poll(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct user_file *f = container_of(w, struct user_file, watch);
	struct stat st;

	(void)loop;
	(void)revents;
	CHECK_OBJ(f, USER_FILE_MAGIC);
	if (stat(f->path, &st) != 0)
		return; /* removed: keep the users until it comes back */
	if (f->have_seen && st.st_ino == f->seen.st_ino && st.st_dev == f->seen.st_dev &&
	    st.st_size == f->seen.st_size && same_time(&st.st_mtim, &f->seen.st_mtim) &&
	    same_time(&st.st_ctim, &f->seen.st_ctim))
		return;
	log_debug("user group %s: %s changed", f->base.g->name, f->path);
	file_load(f);
}

static void user_file_on_refresh(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct user_file *f = container_of(w, struct user_file, refresh);

	(void)loop;
	(void)revents;
	CHECK_OBJ(f, USER_FILE_MAGIC);
	file_load(f);
}

static int file_start(struct user_source *s, struct ev_loop *loop)
{
	struct user_file *f = container_of(s, struct user_file, base);
	double every;

	CHECK_OBJ(f, USER_FILE_MAGIC);
	if (f->loop != NULL)
		return 0;
	f->loop = loop;
	every = (double)s->g->gc->refresh_interval_ms / 1000.0;
	ev_timer_init(&f->watch, user_file_on_poll, 0.5, 0.5);
	ev_timer_start(loop, &f->watch);
	ev_timer_init(&f->refresh, user_file_on_refresh, every, every);
	ev_timer_start(loop, &f->refresh);
	return 0;
}

static void file_free(struct user_source *s)
{
	struct user_file *f = container_of(s, struct user_file, base);

	CHECK_OBJ(f, USER_FILE_MAGIC);
	if (f->loop != NULL) {
		ev_timer_stop(f->loop, &f->watch);
		ev_timer_stop(f->loop, &f->refresh);
	}
	free(f->path);
	POISON_OBJ(f);
	free(f);
}

static const struct user_source_ops file_ops = {
	.type = "file",
	.start = file_start,
	.free = file_free,
};

struct user_source *user_file_source_new(struct user_group_rt *g)
{
	struct user_file *f = xcalloc(1, sizeof(*f));

	f->magic = USER_FILE_MAGIC;
	f->base.ops = &file_ops;
	f->base.g = g;
	f->path = xstrdup(g->gc->source_path);
	file_load(f);
	return &f->base;
}
