/* mkcert command line: g3mkcert's long options (with a few aliases and
 * g3c extensions), every rule that argv alone decides, --help and the
 * completion script. */
#include "tools/mkcert/mkcert.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum opt_id {
	OPT_HELP,
	OPT_VERSION,
	OPT_COMPLETION,
	OPT_KIND, /* the kind is in opt_def.kind */
	OPT_MIMIC,
	OPT_KEY, /* the key type is in opt_def.key */
	OPT_CA_CERT,
	OPT_CA_KEY,
	OPT_COUNTRY,
	OPT_ORGANIZATION,
	OPT_ORG_UNIT,
	OPT_COMMON_NAME,
	OPT_HOST,
	OPT_PATH_LENGTH,
	OPT_DAYS,
	OPT_NOT_BEFORE,
	OPT_NOT_AFTER,
	OPT_KEEP_SERIAL,
	OPT_OUTPUT_CERT,
	OPT_OUTPUT_KEY,
};

enum opt_arg {
	OPT_ARG_NONE,
	OPT_ARG_REQUIRED,
	OPT_ARG_OPTIONAL_NUM, /* --rsa [BITS]: the next word only when it is a number */
};

struct opt_def {
	const char *name; /* without the leading "--" */
	enum opt_id id;
	enum opt_arg arg;
	enum mkcert_kind kind;
	enum mkcert_key_type key;
};

static const struct opt_def opt_defs[] = {
	{"help", OPT_HELP, OPT_ARG_NONE, 0, 0},
	{"version", OPT_VERSION, OPT_ARG_NONE, 0, 0},
	{"completion", OPT_COMPLETION, OPT_ARG_REQUIRED, 0, 0},
	{"root", OPT_KIND, OPT_ARG_NONE, MKCERT_KIND_ROOT, 0},
	{"intermediate", OPT_KIND, OPT_ARG_NONE, MKCERT_KIND_INTERMEDIATE, 0},
	{"tls-server", OPT_KIND, OPT_ARG_NONE, MKCERT_KIND_TLS_SERVER, 0},
	{"tls-client", OPT_KIND, OPT_ARG_NONE, MKCERT_KIND_TLS_CLIENT, 0},
	{"tlcp-server-sign", OPT_KIND, OPT_ARG_NONE, MKCERT_KIND_TLCP_SERVER_SIGN, 0},
	{"tlcp-server-enc", OPT_KIND, OPT_ARG_NONE, MKCERT_KIND_TLCP_SERVER_ENC, 0},
	{"tlcp-client-sign", OPT_KIND, OPT_ARG_NONE, MKCERT_KIND_TLCP_CLIENT_SIGN, 0},
	{"tlcp-client-enc", OPT_KIND, OPT_ARG_NONE, MKCERT_KIND_TLCP_CLIENT_ENC, 0},
	{"mimic", OPT_MIMIC, OPT_ARG_REQUIRED, MKCERT_KIND_MIMIC, 0},
	{"rsa", OPT_KEY, OPT_ARG_OPTIONAL_NUM, 0, MKCERT_KEY_RSA},
	{"ec224", OPT_KEY, OPT_ARG_NONE, 0, MKCERT_KEY_EC224},
	{"ec256", OPT_KEY, OPT_ARG_NONE, 0, MKCERT_KEY_EC256},
	{"ec384", OPT_KEY, OPT_ARG_NONE, 0, MKCERT_KEY_EC384},
	{"ec521", OPT_KEY, OPT_ARG_NONE, 0, MKCERT_KEY_EC521},
	{"sm2", OPT_KEY, OPT_ARG_NONE, 0, MKCERT_KEY_SM2},
	{"ed25519", OPT_KEY, OPT_ARG_NONE, 0, MKCERT_KEY_ED25519},
	{"ed448", OPT_KEY, OPT_ARG_NONE, 0, MKCERT_KEY_ED448},
	{"x25519", OPT_KEY, OPT_ARG_NONE, 0, MKCERT_KEY_X25519},
	{"x448", OPT_KEY, OPT_ARG_NONE, 0, MKCERT_KEY_X448},
	{"ca-cert", OPT_CA_CERT, OPT_ARG_REQUIRED, 0, 0},
	{"ca-key", OPT_CA_KEY, OPT_ARG_REQUIRED, 0, 0},
	{"country", OPT_COUNTRY, OPT_ARG_REQUIRED, 0, 0},
	{"organization", OPT_ORGANIZATION, OPT_ARG_REQUIRED, 0, 0},
	{"org", OPT_ORGANIZATION, OPT_ARG_REQUIRED, 0, 0},
	{"organization-unit", OPT_ORG_UNIT, OPT_ARG_REQUIRED, 0, 0},
	{"org-unit", OPT_ORG_UNIT, OPT_ARG_REQUIRED, 0, 0},
	{"common-name", OPT_COMMON_NAME, OPT_ARG_REQUIRED, 0, 0},
	{"cn", OPT_COMMON_NAME, OPT_ARG_REQUIRED, 0, 0},
	{"host", OPT_HOST, OPT_ARG_REQUIRED, 0, 0},
	{"path-length", OPT_PATH_LENGTH, OPT_ARG_REQUIRED, 0, 0},
	{"days", OPT_DAYS, OPT_ARG_REQUIRED, 0, 0},
	{"not-before", OPT_NOT_BEFORE, OPT_ARG_REQUIRED, 0, 0},
	{"not-after", OPT_NOT_AFTER, OPT_ARG_REQUIRED, 0, 0},
	{"keep-serial", OPT_KEEP_SERIAL, OPT_ARG_NONE, 0, 0},
	{"output-cert", OPT_OUTPUT_CERT, OPT_ARG_REQUIRED, 0, 0},
	{"output-key", OPT_OUTPUT_KEY, OPT_ARG_REQUIRED, 0, 0},
};

#define MAX_PATH_LENGTH 100u
#define MAX_DAYS 100000u
#define MAX_HOSTS 1000u

static const char usage_text[] =
	"Usage: mkcert KIND [KEY] [OPTIONS]\n"
	"Make a certificate and its private key (PEM certificate, PKCS#8 PEM key).\n"
	"\n"
	"KIND (exactly one):\n"
	"  --root                      self-signed CA (needs --common-name)\n"
	"  --intermediate              CA signed by --ca-cert/--ca-key (needs --common-name)\n"
	"  --tls-server                TLS server certificate (needs --host, --ca-cert, --ca-key)\n"
	"  --tls-client                TLS client certificate (needs --host or --common-name)\n"
	"  --tlcp-server-sign, --tlcp-server-enc, --tlcp-client-sign, --tlcp-client-enc\n"
	"                              TLCP end-entity certificates (RSA or SM2)\n"
	"  --mimic FILE                copy subject, SANs, validity, key usage, EKU and key type\n"
	"                              of the PEM or DER certificate FILE, signed by --ca-cert\n"
	"\n"
	"KEY (default --ec256; SM2 for TLCP; the mimicked certificate's for --mimic):\n"
	"  --rsa [BITS]                RSA, 2048 bits unless BITS (1024..16384)\n"
	"  --ec224 --ec256 --ec384 --ec521 --sm2 --ed25519 --ed448\n"
	"  --x25519 --x448             key agreement only: end-entity certificates only\n"
	"\n"
	"OPTIONS:\n"
	"  --ca-cert FILE              issuer certificate (PEM; the first one is used)\n"
	"  --ca-key FILE               issuer private key (PEM, PKCS#8 or traditional)\n"
	"  --country C                 subject C (two letters)\n"
	"  --organization O, --org O   subject O\n"
	"  --organization-unit OU, --org-unit OU\n"
	"                              subject OU\n"
	"  --common-name CN, --cn CN   subject CN (end-entity default: the first --host)\n"
	"  --host H                    DNS name, *.wildcard or IP address; repeatable; each one\n"
	"                              becomes a subjectAltName entry\n"
	"  --path-length N             CA pathlen (intermediate default: issuer's - 1, or 0)\n"
	"  --days N                    notAfter = now + N days (default 3650 CA, 365 others)\n"
	"  --not-before T, --not-after T\n"
	"                              explicit validity: now, +/-N[smhd], @EPOCH, YYYY-MM-DD,\n"
	"                              YYYY-MM-DDTHH:MM:SSZ (UTC); clamped to the issuer's\n"
	"  --keep-serial               --mimic: copy the serial number too\n"
	"  --output-cert FILE          default <CN>.crt (<CN>-client.crt for clients)\n"
	"  --output-key FILE           default <CN>.key (<CN>-client.key for clients), mode 0600\n"
	"  --completion SHELL          print a completion script (bash)\n"
	"  --version, --help\n"
	"\n"
	"Exit status: 0 done, 1 bad input or failure, 2 bad command line.\n";

const char *mkcert_usage(void)
{
	return usage_text;
}

int mkcert_print_completion(const char *shell)
{
	size_t i;

	if (strcmp(shell, "bash") != 0)
		return -EINVAL;
	printf("# bash completion for mkcert\n_mkcert()\n{\n"
	       "\tlocal cur prev\n"
	       "\tcur=\"${COMP_WORDS[COMP_CWORD]}\"\n"
	       "\tprev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n"
	       "\tcase \"$prev\" in\n"
	       "\t--mimic|--ca-cert|--ca-key|--output-cert|--output-key)\n"
	       "\t\tCOMPREPLY=($(compgen -f -- \"$cur\")); return;;\n"
	       "\t--completion)\n"
	       "\t\tCOMPREPLY=($(compgen -W bash -- \"$cur\")); return;;\n"
	       "\tesac\n"
	       "\tCOMPREPLY=($(compgen -W \"");
	for (i = 0; i < ARRAY_SIZE(opt_defs); i++)
		printf("%s--%s", i ? " " : "", opt_defs[i].name);
	printf("\" -- \"$cur\"))\n}\ncomplete -F _mkcert mkcert\n");
	return 0;
}

const char *mkcert_kind_name(enum mkcert_kind k)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(opt_defs); i++)
		if (opt_defs[i].kind == k && k != MKCERT_KIND_NONE)
			return opt_defs[i].name;
	return "none";
}

bool mkcert_kind_is_ca(enum mkcert_kind k)
{
	return k == MKCERT_KIND_ROOT || k == MKCERT_KIND_INTERMEDIATE;
}

bool mkcert_kind_is_client(enum mkcert_kind k)
{
	return k == MKCERT_KIND_TLS_CLIENT || k == MKCERT_KIND_TLCP_CLIENT_SIGN ||
	       k == MKCERT_KIND_TLCP_CLIENT_ENC;
}

static bool kind_is_tlcp(enum mkcert_kind k)
{
	return k >= MKCERT_KIND_TLCP_SERVER_SIGN && k <= MKCERT_KIND_TLCP_CLIENT_ENC;
}

static const char *key_flag_name(enum mkcert_key_type t)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(opt_defs); i++)
		if (opt_defs[i].id == OPT_KEY && opt_defs[i].key == t)
			return opt_defs[i].name;
	return "?";
}

static int fail(char *err, size_t errcap, const char *fmt, ...) PRINTF_FMT(3, 4);

static int fail(char *err, size_t errcap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errcap, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Strict unsigned decimal: digits only, no sign, no spaces, <= max. */
static int parse_uint(const char *s, unsigned max, unsigned *out)
{
	unsigned long long v = 0;

	if (*s == '\0')
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(*s - '0');
		if (v > max)
			return -ERANGE;
	}
	*out = (unsigned)v;
	return 0;
}

static bool all_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static const struct opt_def *find_opt(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(opt_defs); i++)
		if (strlen(opt_defs[i].name) == len && memcmp(opt_defs[i].name, name, len) == 0)
			return &opt_defs[i];
	return NULL;
}

/* Store a single-valued string option; the second occurrence is an error. */
static int set_once(const char **slot, const char *name, const char *v, char *err, size_t errcap)
{
	if (*slot)
		return fail(err, errcap, "--%s given more than once", name);
	if (*v == '\0')
		return fail(err, errcap, "--%s needs a non-empty value", name);
	*slot = v;
	return 0;
}

/* Remembered across options so conflicts can name both flags. */
struct parse_state {
	const char *kind_flag; /* the first of the mutually exclusive "type" group */
	const char *key_flag;
};

static int take_kind(struct mkcert_opts *o, struct parse_state *ps, const char *name,
		     enum mkcert_kind k, enum mkcert_action act, char *err, size_t errcap)
{
	if (ps->kind_flag)
		return fail(err, errcap, "--%s cannot be used with --%s", name, ps->kind_flag);
	ps->kind_flag = name;
	o->kind = k;
	o->action = act;
	return 0;
}

static int take_key(struct mkcert_opts *o, struct parse_state *ps, const struct opt_def *d,
		    const char *v, char *err, size_t errcap)
{
	if (ps->key_flag)
		return fail(err, errcap, "--%s cannot be used with --%s", d->name, ps->key_flag);
	ps->key_flag = d->name;
	o->key.type = d->key;
	if (d->key != MKCERT_KEY_RSA)
		return 0;
	o->key.rsa_bits = MKCERT_RSA_DEFAULT_BITS;
	if (v) {
		unsigned bits;

		if (parse_uint(v, MKCERT_RSA_MAX_BITS, &bits) < 0 || bits < MKCERT_RSA_MIN_BITS)
			return fail(err, errcap, "--rsa: '%s' is not a key size in %u..%u", v,
				    MKCERT_RSA_MIN_BITS, MKCERT_RSA_MAX_BITS);
		o->key.rsa_bits = bits;
	}
	return 0;
}

static int add_host(struct mkcert_opts *o, const char *v, char *err, size_t errcap)
{
	if (*v == '\0')
		return fail(err, errcap, "--host needs a non-empty value");
	if (o->n_hosts >= MAX_HOSTS)
		return fail(err, errcap, "too many --host values (at most %u)", MAX_HOSTS);
	o->hosts = xrealloc(o->hosts, (o->n_hosts + 1) * sizeof(*o->hosts));
	o->hosts[o->n_hosts++] = v;
	return 0;
}

static int take_time(struct mkcert_time_arg *slot, const char *name, const char *v, char *err,
		     size_t errcap)
{
	if (slot->set)
		return fail(err, errcap, "--%s given more than once", name);
	if (mkcert_time_parse(v, slot) < 0)
		return fail(err, errcap,
			    "--%s: '%s' is not a time (now, +/-N[smhd], @EPOCH, YYYY-MM-DD or "
			    "YYYY-MM-DDTHH:MM:SSZ between 1950 and 9999)",
			    name, v);
	return 0;
}

/* One option with its value (v is NULL for flags). */
static int apply(struct mkcert_opts *o, struct parse_state *ps, const struct opt_def *d,
		 const char *arg, char *err, size_t errcap)
{
	/* v for options that require a value (never NULL for them: the caller
	 * checked), arg where "no value" means something (--rsa) */
	const char *v = arg ? arg : "";

	switch (d->id) {
	case OPT_HELP:
		o->action = MKCERT_ACT_HELP;
		return 0;
	case OPT_VERSION:
		return take_kind(o, ps, d->name, MKCERT_KIND_NONE, MKCERT_ACT_VERSION, err, errcap);
	case OPT_COMPLETION:
		o->completion_shell = v;
		return take_kind(o, ps, d->name, MKCERT_KIND_NONE, MKCERT_ACT_COMPLETION, err,
				 errcap);
	case OPT_KIND:
		return take_kind(o, ps, d->name, d->kind, MKCERT_ACT_MAKE, err, errcap);
	case OPT_MIMIC:
		if (*v == '\0')
			return fail(err, errcap, "--mimic needs a file name");
		o->mimic_path = v;
		return take_kind(o, ps, d->name, d->kind, MKCERT_ACT_MAKE, err, errcap);
	case OPT_KEY:
		return take_key(o, ps, d, arg, err, errcap);
	case OPT_CA_CERT:
		return set_once(&o->ca_cert_path, d->name, v, err, errcap);
	case OPT_CA_KEY:
		return set_once(&o->ca_key_path, d->name, v, err, errcap);
	case OPT_COUNTRY:
		return set_once(&o->country, d->name, v, err, errcap);
	case OPT_ORGANIZATION:
		return set_once(&o->organization, "organization", v, err, errcap);
	case OPT_ORG_UNIT:
		return set_once(&o->org_unit, "organization-unit", v, err, errcap);
	case OPT_COMMON_NAME:
		return set_once(&o->common_name, "common-name", v, err, errcap);
	case OPT_HOST:
		return add_host(o, v, err, errcap);
	case OPT_PATH_LENGTH:
		if (o->has_path_length)
			return fail(err, errcap, "--path-length given more than once");
		if (parse_uint(v, MAX_PATH_LENGTH, &o->path_length) < 0)
			return fail(err, errcap, "--path-length: '%s' is not a number in 0..%u", v,
				    MAX_PATH_LENGTH);
		o->has_path_length = true;
		return 0;
	case OPT_DAYS:
		if (o->has_days)
			return fail(err, errcap, "--days given more than once");
		if (parse_uint(v, MAX_DAYS, &o->days) < 0 || o->days == 0)
			return fail(err, errcap, "--days: '%s' is not a number in 1..%u", v,
				    MAX_DAYS);
		o->has_days = true;
		return 0;
	case OPT_NOT_BEFORE:
		return take_time(&o->not_before, d->name, v, err, errcap);
	case OPT_NOT_AFTER:
		return take_time(&o->not_after, d->name, v, err, errcap);
	case OPT_KEEP_SERIAL:
		o->keep_serial = true;
		return 0;
	case OPT_OUTPUT_CERT:
		return set_once(&o->output_cert, d->name, v, err, errcap);
	case OPT_OUTPUT_KEY:
		return set_once(&o->output_key, d->name, v, err, errcap);
	}
	return fail(err, errcap, "internal: unhandled option --%s", d->name);
}

static bool country_ok(const char *c)
{
	return strlen(c) == 2 && ((c[0] >= 'A' && c[0] <= 'Z') || (c[0] >= 'a' && c[0] <= 'z')) &&
	       ((c[1] >= 'A' && c[1] <= 'Z') || (c[1] >= 'a' && c[1] <= 'z'));
}

/* The rules that depend on the kind, once every option is known. */
static int check_combination(const struct mkcert_opts *o, const struct parse_state *ps, char *err,
			     size_t errcap)
{
	enum mkcert_kind k = o->kind;
	const char *kn = ps->kind_flag;
	bool subject_opts = o->country || o->organization || o->org_unit || o->common_name;

	if (k == MKCERT_KIND_NONE)
		return fail(err, errcap,
			    "one of --root, --intermediate, --tls-server, --tls-client, "
			    "--tlcp-server-sign, --tlcp-server-enc, --tlcp-client-sign, "
			    "--tlcp-client-enc or --mimic is required");
	if (k == MKCERT_KIND_ROOT) {
		if (!o->common_name)
			return fail(err, errcap, "--root needs --common-name");
		if (o->ca_cert_path || o->ca_key_path)
			return fail(err, errcap,
				    "--root makes a self-signed certificate: --ca-cert and "
				    "--ca-key do not apply");
	} else {
		if (!o->ca_cert_path)
			return fail(err, errcap, "--%s needs --ca-cert", kn);
		if (!o->ca_key_path)
			return fail(err, errcap, "--%s needs --ca-key", kn);
	}
	if (mkcert_kind_is_ca(k)) {
		if (o->n_hosts)
			return fail(err, errcap, "--host is for end-entity certificates, not --%s",
				    kn);
		if (o->key.type == MKCERT_KEY_X25519 || o->key.type == MKCERT_KEY_X448)
			return fail(err, errcap,
				    "--%s can not be used in a certification authority certificate "
				    "(the key cannot sign)",
				    key_flag_name(o->key.type));
	} else if (o->has_path_length) {
		return fail(err, errcap, "--path-length is for --root and --intermediate only");
	}
	if (k == MKCERT_KIND_INTERMEDIATE && !o->common_name)
		return fail(err, errcap, "--intermediate needs --common-name");
	if (k == MKCERT_KIND_TLS_SERVER || k == MKCERT_KIND_TLCP_SERVER_SIGN ||
	    k == MKCERT_KIND_TLCP_SERVER_ENC) {
		if (!o->n_hosts)
			return fail(err, errcap, "--%s needs at least one --host", kn);
	}
	if (mkcert_kind_is_client(k) && !o->n_hosts && !o->common_name)
		return fail(err, errcap, "--%s needs --host or --common-name", kn);
	if (kind_is_tlcp(k) && o->key.type != MKCERT_KEY_DEFAULT && o->key.type != MKCERT_KEY_RSA &&
	    o->key.type != MKCERT_KEY_SM2)
		return fail(err, errcap, "--%s takes --rsa or --sm2 keys only, not --%s", kn,
			    key_flag_name(o->key.type));
	if (k == MKCERT_KIND_MIMIC && subject_opts)
		return fail(err, errcap,
			    "--mimic copies the subject: --country, --organization, "
			    "--organization-unit and --common-name do not apply");
	if (o->keep_serial && k != MKCERT_KIND_MIMIC)
		return fail(err, errcap, "--keep-serial is for --mimic only");
	if (o->has_days && o->not_after.set)
		return fail(err, errcap, "--days cannot be used with --not-after");
	if (o->output_cert && o->output_key && strcmp(o->output_cert, o->output_key) == 0)
		return fail(err, errcap, "--output-cert and --output-key name the same file");
	if (o->country && !country_ok(o->country))
		return fail(err, errcap, "--country: '%s' is not a two-letter country code",
			    o->country);
	return 0;
}

int mkcert_opts_parse(int argc, char **argv, struct mkcert_opts *o, char *err, size_t errcap)
{
	struct parse_state ps = {NULL, NULL};
	int i, rc;

	memset(o, 0, sizeof(*o));
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *name, *eq, *v = NULL;
		const struct opt_def *d;

		if (strcmp(a, "-h") == 0) {
			o->action = MKCERT_ACT_HELP;
			return 0;
		}
		if (strncmp(a, "--", 2) != 0 || a[2] == '\0')
			return fail(err, errcap, "unexpected argument '%s'", a);
		name = a + 2;
		eq = strchr(name, '=');
		d = find_opt(name, eq ? (size_t)(eq - name) : strlen(name));
		if (!d)
			return fail(err, errcap, "unknown option '%.*s'",
				    (int)(eq ? (size_t)(eq - a) : strlen(a)), a);
		if (eq)
			v = eq + 1;
		switch (d->arg) {
		case OPT_ARG_NONE:
			if (v)
				return fail(err, errcap, "--%s takes no value", d->name);
			break;
		case OPT_ARG_REQUIRED:
			if (!v) {
				if (i + 1 >= argc)
					return fail(err, errcap, "--%s needs a value", d->name);
				v = argv[++i];
			}
			break;
		case OPT_ARG_OPTIONAL_NUM:
			if (!v && i + 1 < argc && all_digits(argv[i + 1]))
				v = argv[++i];
			break;
		}
		rc = apply(o, &ps, d, v, err, errcap);
		if (rc < 0)
			return rc;
		if (o->action == MKCERT_ACT_HELP)
			return 0;
	}
	if (o->action == MKCERT_ACT_VERSION || o->action == MKCERT_ACT_COMPLETION)
		return 0;
	return check_combination(o, &ps, err, errcap);
}

void mkcert_opts_fini(struct mkcert_opts *o)
{
	free(o->hosts);
	o->hosts = NULL;
	o->n_hosts = 0;
}
