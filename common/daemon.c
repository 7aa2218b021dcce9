/* daemon_main: command line, config load and -t, daemonising with a readiness
 * pipe, the pid file, and the order in which a daemon comes up and goes
 * down. The running part (signals, stop sequence, reload) is daemon_run.c;
 * the control socket is daemon_ctl.c. */
#include "common/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/daemon_int.h"

/* ---- command line --------------------------------------------------------- */

static const struct option long_opts[] = {
	{"config-file", required_argument, NULL, 'c'},
	{"test-config", no_argument, NULL, 't'},
	{"group-name", required_argument, NULL, 'G'},
	{"daemon", no_argument, NULL, 'd'},
	{"pid-file", required_argument, NULL, 'p'},
	{"systemd", no_argument, NULL, 's'},
	{"monitored", no_argument, NULL, 'm'},
	{"verbose", no_argument, NULL, 'v'},
	{"version", no_argument, NULL, 'V'},
	{"control-dir", required_argument, NULL, 'C'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static void usage(FILE *f, const struct daemon_ops *ops)
{
	fprintf(f,
		"Usage: %s [OPTIONS]\n"
		"  -c, --config-file FILE|DIR  main config file, or a directory holding\n"
		"                              main.yaml or %s.yaml (default %s)\n"
		"  -t, --test-config           check the config, print every error, exit 0/1\n"
		"  -G, --group-name NAME       daemon group: control socket name, logs, metrics\n"
		"  -C, --control-dir DIR       control socket directory (default %s)\n"
		"  -d, --daemon                run in the background once started\n"
		"  -p, --pid-file FILE         write and lock a pid file (removed at exit)\n"
		"  -s, --systemd               systemd service: log to journald, sd_notify\n"
		"  -m, --monitored             foreground under a supervisor\n"
		"                              (-d, -s and -m: a running process of the same\n"
		"                              group is replaced: hot upgrade)\n"
		"  -v, --verbose               more process log (repeat: -vv, -vvv)\n"
		"  -V, --version               print the version and exit\n"
		"  -h, --help                  print this help and exit\n"
		"Signals: HUP reloads, TERM stops gracefully, INT/QUIT stop at once.\n",
		ops->name, ops->name, ops->default_conf, DAEMON_DEFAULT_CONTROL_DIR);
}

bool daemon_group_valid(const char *group)
{
	size_t n = strlen(group);

	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = group[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return strcmp(group, ".") != 0 && strcmp(group, "..") != 0;
}

int daemon_parse_args(int argc, char **argv, const struct daemon_ops *ops, struct daemon_opts *opts,
		      enum daemon_cmd *cmd, char *errbuf, size_t errlen)
{
	int c;

	memset(opts, 0, sizeof(*opts));
	opts->conf_path = ops->default_conf;
	opts->group = "";
	opts->control_dir = DAEMON_DEFAULT_CONTROL_DIR;
	*cmd = DAEMON_CMD_RUN;
	errbuf[0] = '\0';

	optind = 0; /* full re-initialisation (glibc), so tests may call us twice */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:tG:dp:smvVC:h", long_opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			opts->conf_path = optarg;
			break;
		case 't':
			opts->test_config = true;
			break;
		case 'G':
			if (!daemon_group_valid(optarg)) {
				snprintf(errbuf, errlen,
					 "%s: invalid group name '%s' (1..64 of A-Z a-z 0-9 . _ -)",
					 ops->name, optarg);
				return -EINVAL;
			}
			opts->group = optarg;
			break;
		case 'd':
			opts->daemonize = true;
			break;
		case 'p':
			opts->pidfile = optarg;
			break;
		case 's':
			opts->systemd = true;
			break;
		case 'm':
			opts->monitored = true;
			break;
		case 'v':
			opts->verbosity++;
			break;
		case 'V':
			*cmd = DAEMON_CMD_VERSION;
			break;
		case 'C':
			opts->control_dir = optarg;
			break;
		case 'h':
			*cmd = DAEMON_CMD_HELP;
			break;
		case ':':
			snprintf(errbuf, errlen, "%s: option '%s' needs a value", ops->name,
				 argv[optind - 1]);
			return -EINVAL;
		default:
			if (optopt)
				snprintf(errbuf, errlen, "%s: unknown option '-%c'", ops->name,
					 optopt);
			else
				snprintf(errbuf, errlen, "%s: unknown option '%s'", ops->name,
					 argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		snprintf(errbuf, errlen, "%s: unexpected argument '%s'", ops->name, argv[optind]);
		return -EINVAL;
	}
	if (!opts->conf_path || !opts->conf_path[0]) {
		snprintf(errbuf, errlen, "%s: no config file given (-c)", ops->name);
		return -EINVAL;
	}
	if (!opts->control_dir[0]) {
		snprintf(errbuf, errlen, "%s: empty control directory (-C)", ops->name);
		return -EINVAL;
	}
	if (opts->pidfile && !opts->pidfile[0]) {
		snprintf(errbuf, errlen, "%s: empty pid file name (-p)", ops->name);
		return -EINVAL;
	}
	return 0;
}

/* ---- state ------------------------------------------------------------------ */

void daemon_state_init(struct daemon *d, const struct daemon_ops *ops,
		       const struct daemon_opts *opts, struct ev_loop *loop)
{
	memset(d, 0, sizeof(*d));
	d->magic = DAEMON_MAGIC;
	d->ops = ops;
	d->opts = *opts;
	d->loop = loop;
	d->pid = getpid();
	d->start_wall_us = util_wall_us();
	d->start_mono_ns = util_mono_ns();
	d->load_wall_us = d->start_wall_us;
	d->pid_fd = -1;
	d->ready_fd = -1;
	daemon_conf_defaults(&d->dc, ops->name);
}

struct ev_loop *daemon_loop(struct daemon *d)
{
	CHECK_OBJ(d, DAEMON_MAGIC);
	return d->loop;
}

const struct daemon_opts *daemon_get_opts(const struct daemon *d)
{
	CHECK_OBJ(d, DAEMON_MAGIC);
	return &d->opts;
}

void *daemon_user(struct daemon *d)
{
	CHECK_OBJ(d, DAEMON_MAGIC);
	return d->user;
}

void daemon_set_user(struct daemon *d, void *p)
{
	CHECK_OBJ(d, DAEMON_MAGIC);
	d->user = p;
}

/* ---- helpers ---------------------------------------------------------------- */

/* Absolute version of p (owned): the daemon chdirs to / with -d and reloads
 * later, so relative paths are resolved once at start. */
static char *abs_path(const char *p)
{
	char cwd[PATH_MAX];
	size_t n;
	char *out;

	if (p[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		return xstrdup(p);
	n = strlen(cwd) + 1 + strlen(p) + 1;
	out = xmalloc(n);
	snprintf(out, n, "%s/%s", cwd, p);
	return out;
}

/* Load a config with a fresh context; on failure print every error. */
static void *load_conf(const struct daemon_ops *ops, const char *path)
{
	struct conf_ctx ctx;
	void *conf;

	conf_ctx_init(&ctx, path);
	conf = ops->conf_load(&ctx, path);
	if (conf && ctx.nerr) { /* a loader that returned despite errors */
		ops->conf_free(conf);
		conf = NULL;
	}
	if (!conf) {
		if (ctx.nerr)
			conf_print_errors(&ctx);
		else
			fprintf(stderr, "%s: error: configuration could not be loaded\n", path);
	}
	conf_ctx_fini(&ctx);
	return conf;
}

/* ---- pid file --------------------------------------------------------------- */

int daemon_pidfile_acquire(const char *path, int *fdp, char *err, size_t errlen)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	char line[32];
	int fd, n, ret;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot open pid file %s: %s", path, strerror(-ret));
		return ret;
	}
	if (fcntl(fd, F_SETLK, &fl) != 0) {
		ret = -errno;
		if (ret == -EAGAIN || ret == -EACCES) {
			struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
			long holder = 0;
			if (fcntl(fd, F_GETLK, &q) == 0 && q.l_type != F_UNLCK)
				holder = (long)q.l_pid;
			snprintf(err, errlen,
				 "pid file %s is locked by process %ld: another instance is "
				 "running",
				 path, holder);
			ret = -EEXIST;
		} else {
			snprintf(err, errlen, "cannot lock pid file %s: %s", path, strerror(-ret));
		}
		close(fd);
		return ret;
	}
	n = snprintf(line, sizeof(line), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, line, (size_t)n, 0) != n) {
		ret = errno ? -errno : -EIO;
		snprintf(err, errlen, "cannot write pid file %s: %s", path, strerror(-ret));
		close(fd);
		return ret;
	}
	*fdp = fd;
	return 0;
}

/* Remove the pid file if the path still names the file we locked. */
void daemon_pidfile_release(const char *path, int fd)
{
	struct stat a, b;

	if (fd < 0)
		return;
	if (path && fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino)
		unlink(path);
	close(fd);
}

/* ---- daemonising ------------------------------------------------------------- */

/* fork, setsid, fork, chdir /. The original process waits on a pipe for the
 * daemon's verdict (one status byte once it is serving, EOF if it died) and
 * exits with it, so `proxyd -d` returns only when the daemon is reachable or
 * has failed. Returns 0 in the daemon (*ready_fd set), 1 in the original
 * process (*status set), -errno on failure. */
static int detach(int *ready_fd, int *status)
{
	int p[2];
	pid_t pid;
	unsigned char b;
	ssize_t n;

	if (pipe2(p, O_CLOEXEC) != 0)
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		int e = -errno;
		close(p[0]);
		close(p[1]);
		return e;
	}
	if (pid > 0) {
		close(p[1]);
		do
			n = read(p[0], &b, 1);
		while (n < 0 && errno == EINTR);
		close(p[0]);
		*status = n == 1 ? b : 1;
		return 1;
	}
	close(p[0]);
	if (setsid() < 0)
		_exit(1);
	pid = fork();
	if (pid < 0)
		_exit(1);
	if (pid > 0)
		_exit(0); /* the session leader goes; the daemon cannot regain a tty */
	if (chdir("/") != 0)
		_exit(1);
	*ready_fd = p[1];
	return 0;
}

static void report_ready(struct daemon *d, unsigned char status)
{
	ssize_t n;

	if (d->ready_fd < 0)
		return;
	do
		n = write(d->ready_fd, &status, 1);
	while (n < 0 && errno == EINTR);
	close(d->ready_fd);
	d->ready_fd = -1;
}

/* Once started in the background nothing may write to the starter's tty. */
static void stdio_to_devnull(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return;
	fflush(NULL);
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
}

/* ---- main ---------------------------------------------------------------------- */

static void block_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

/* Lock the pid file; during a hot upgrade the predecessor hands it over
 * when it releases the control socket, so wait for that a little. */
static int pidfile_take(struct daemon *d, char *err, size_t errlen)
{
	uint64_t until = util_mono_ns() + (uint64_t)DAEMON_UPGRADE_WAIT_MS * 1000000u;
	int ret;

	for (;;) {
		ret = daemon_pidfile_acquire(d->opts.pidfile, &d->pid_fd, err, errlen);
		if (ret != -EEXIST || !d->predecessor || util_mono_ns() >= until)
			return ret;
		struct timespec ts = {.tv_sec = 0, .tv_nsec = 50 * 1000000L};
		nanosleep(&ts, NULL);
	}
}

int daemon_main(int argc, char **argv, const struct daemon_ops *ops)
{
	struct daemon_opts opts;
	enum daemon_cmd cmd;
	struct daemon *d = NULL;
	char err[1024];
	char *ctl_dir = NULL, *pidfile = NULL;
	void *conf = NULL;
	int status = 1, ret;

	if (daemon_parse_args(argc, argv, ops, &opts, &cmd, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\nTry '%s --help'.\n", err, ops->name);
		return 2;
	}
	if (cmd == DAEMON_CMD_HELP) {
		usage(stdout, ops);
		return 0;
	}
	if (cmd == DAEMON_CMD_VERSION) {
		printf("%s %s\n", ops->name, G3C_VERSION);
		return 0;
	}
	log_init(ops->name, opts.group, opts.systemd ? LOG_SINK_JOURNAL : LOG_SINK_STDERR,
		 opts.verbosity);

	conf = load_conf(ops, opts.conf_path);
	if (!conf)
		return 1;
	if (opts.test_config) {
		printf("%s: configuration OK\n", opts.conf_path);
		ops->conf_free(conf);
		return 0;
	}

	ctl_dir = abs_path(opts.control_dir);
	opts.control_dir = ctl_dir;
	if (opts.pidfile) {
		pidfile = abs_path(opts.pidfile);
		opts.pidfile = pidfile;
	}
	d = xmalloc(sizeof(*d));
	daemon_state_init(d, ops, &opts, NULL);
	d->conf_abs = abs_path(opts.conf_path);
	d->dc = *ops->conf_common(conf);

	if (opts.daemonize) {
		int r = detach(&d->ready_fd, &status);
		if (r == 1)
			goto out; /* the starter: status is the daemon's verdict */
		if (r < 0) {
			fprintf(stderr, "%s: cannot daemonise: %s\n", ops->name, strerror(-r));
			status = 1;
			goto out;
		}
		d->pid = getpid();
	}
	status = 1;

	/* Threads made from here on (nanomsg's, the daemon's workers) inherit
	 * the blocked set; the main thread unblocks it when libev installs
	 * its handlers, so signals are taken on the main loop only. */
	signal(SIGPIPE, SIG_IGN);
	block_signals();
	d->loop = EV_DEFAULT;

	ret = daemon_ctl_open(d, err, sizeof(err));
	/* A live process of our group: replace it (hot upgrade) in the modes
	 * g3 does it in; a plain foreground run refuses instead. */
	if (ret == -EADDRINUSE && (opts.daemonize || opts.systemd || opts.monitored))
		ret = daemon_upgrade_takeover(d, err, sizeof(err));
	else if (ret == -EADDRINUSE)
		snprintf(err, sizeof(err),
			 "another %s%s%s is running (control socket %s): start with -d, -s or -m "
			 "to replace it (hot upgrade)",
			 ops->name, opts.group[0] ? " of group " : "", opts.group, d->ctl_path);
	if (ret != 0) {
		fprintf(stderr, "%s: %s\n", ops->name, err);
		goto out;
	}
	if (opts.pidfile && pidfile_take(d, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s: %s\n", ops->name, err);
		goto out;
	}
	err[0] = '\0';
	if (ops->start(d, conf, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s: cannot start: %s\n", ops->name, err[0] ? err : "failed");
		goto out;
	}
	conf = NULL; /* owned by the daemon now */
	d->started = true;
	d->online = true;
	daemon_upgrade_retire(d, true);

	if (daemon_run_prepare(d) != 0)
		goto out;
	log_notice("%s %s started (pid %ld, config %s)", ops->name, G3C_VERSION, (long)d->pid,
		   d->conf_abs);
	report_ready(d, 0);
	if (opts.daemonize)
		stdio_to_devnull();
	daemon_run_loop(d);
	status = 0;

out:
	if (d) {
		if (d->predecessor) {
			/* failed before serving: hand the pid file and the shared
			 * socket back, then tell the old process to serve on */
			daemon_pidfile_release(opts.pidfile, d->pid_fd);
			d->pid_fd = -1;
			daemon_upgrade_retire(d, false);
		}
		daemon_upgrade_cleanup(d);
		daemon_ctl_close(d);
		if (d->started) {
			d->online = false;
			ops->stop(d);
			log_notice("%s stopped", ops->name);
		}
		daemon_run_cleanup(d);
		report_ready(d, 1); /* a no-op once ready was reported */
		daemon_pidfile_release(opts.pidfile, d->pid_fd);
		free(d->conf_abs);
		POISON_OBJ(d);
		free(d);
	}
	if (conf)
		ops->conf_free(conf);
	free(ctl_dir);
	free(pidfile);
	return status;
}
