/* mkcert files: reading a certificate in PEM or DER, writing the PEM
 * certificate and the PKCS#8 key (0600) with errno-level messages. */
#include "tools/mkcert/cert.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "common/tls.h"

/* Certificates bigger than this are not certificates. */
#define MAX_CERT_FILE (1u << 20)

static int read_file(const char *path, unsigned char **out, size_t *len, char *err, size_t errcap)
{
	unsigned char *buf = NULL;
	size_t n = 0;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errcap, "cannot read %s: %s", path, strerror(errno));
		return rc;
	}
	buf = xmalloc(MAX_CERT_FILE + 1);
	for (;;) {
		ssize_t r = read(fd, buf + n, MAX_CERT_FILE + 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			snprintf(err, errcap, "cannot read %s: %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > MAX_CERT_FILE) {
			rc = -EFBIG;
			snprintf(err, errcap, "%s is larger than %u bytes: not a certificate", path,
				 MAX_CERT_FILE);
			goto out;
		}
	}
	*out = buf;
	*len = n;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return rc;
}

int mkcert_read_cert(const char *path, X509 **out, char *err, size_t errcap)
{
	unsigned char *data = NULL;
	const unsigned char *p;
	size_t len = 0;
	X509 *x = NULL;
	BIO *bio;
	int rc;

	rc = read_file(path, &data, &len, err, errcap);
	if (rc < 0)
		return rc;
	ERR_clear_error();
	bio = BIO_new_mem_buf(data, (int)len);
	if (bio) {
		x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		BIO_free(bio);
	}
	if (!x) {
		p = data;
		x = d2i_X509(NULL, &p, (long)len);
	}
	ERR_clear_error();
	free(data);
	if (!x) {
		snprintf(err, errcap, "%s holds no certificate (neither PEM nor DER)", path);
		return -EBADMSG;
	}
	*out = x;
	return 0;
}

/* Write the bytes of a memory BIO to path with mode; removes the file on
 * a failed write. */
static int write_bio(const char *path, BIO *bio, mode_t mode, char *err, size_t errcap)
{
	char *data = NULL;
	long len = BIO_get_mem_data(bio, &data);
	size_t off = 0;
	int fd, rc = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errcap, "cannot write %s: %s", path, strerror(errno));
		return rc;
	}
	/* an existing file keeps its mode through O_CREAT: private keys must
	 * not stay world-readable because an old file was */
	if ((mode & 077) == 0 && fchmod(fd, mode) < 0) {
		rc = -errno;
		snprintf(err, errcap, "cannot chmod %s: %s", path, strerror(errno));
		goto out;
	}
	while (len > 0 && off < (size_t)len) {
		ssize_t w = write(fd, data + off, (size_t)len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			rc = -errno;
			snprintf(err, errcap, "cannot write %s: %s", path, strerror(errno));
			goto out;
		}
		off += (size_t)w;
	}
out:
	if (close(fd) < 0 && rc == 0) {
		rc = -errno;
		snprintf(err, errcap, "cannot write %s: %s", path, strerror(errno));
	}
	if (rc < 0)
		unlink(path);
	return rc;
}

int mkcert_write_cert(const char *path, X509 *cert, char *err, size_t errcap)
{
	char detail[TLS_ERR_MAX];
	BIO *bio = BIO_new(BIO_s_mem());
	int rc;

	ERR_clear_error();
	if (!bio || PEM_write_bio_X509(bio, cert) != 1) {
		snprintf(err, errcap, "cannot encode the certificate: %s",
			 tls_err_string(detail, sizeof(detail)));
		BIO_free(bio);
		return -EIO;
	}
	rc = write_bio(path, bio, 0644, err, errcap);
	BIO_free(bio);
	return rc;
}

int mkcert_write_key(const char *path, EVP_PKEY *key, char *err, size_t errcap)
{
	char detail[TLS_ERR_MAX];
	BIO *bio = BIO_new(BIO_s_mem());
	int rc;

	ERR_clear_error();
	if (!bio || PEM_write_bio_PKCS8PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1) {
		snprintf(err, errcap, "cannot encode the private key: %s",
			 tls_err_string(detail, sizeof(detail)));
		BIO_free(bio);
		return -EIO;
	}
	rc = write_bio(path, bio, 0600, err, errcap);
	BIO_free(bio);
	return rc;
}
