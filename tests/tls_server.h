/*
 * tsrv: an in-memory BearSSL server engine with the test PKI of tests/tls/
 * (make-certs.sh), for the tls unit test and bench/tls_handshake.c. Paths
 * are relative to the top of the source tree. Header-only: each user
 * moves records between it and its client in its own way.
 */
#ifndef ESMELOAD_TEST_TLS_SERVER_H
#define ESMELOAD_TEST_TLS_SERVER_H

#include <bearssl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TSRV_DIR "tests/tls/"

/* A whole file, NUL-free, malloc'ed; NULL when it cannot be read. */
static inline unsigned char *tsrv_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) &&
	    fread(buf, 1, (size_t)n, f) == (size_t)n) {
		*len = (size_t)n;
	} else {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

struct tsrv_der {
	unsigned char b[8192];
	size_t n;
};

static inline void tsrv_der_append(void *ctx, const void *p, size_t n)
{
	struct tsrv_der *d = ctx;

	if (n <= sizeof(d->b) - d->n) {
		memcpy(d->b + d->n, p, n);
		d->n += n;
	}
}

/* The first PEM object of a file, as DER: 0, -ENOENT or -EINVAL. */
static inline int tsrv_pem_first(const char *path, struct tsrv_der *d)
{
	br_pem_decoder_context pc;
	size_t len, off = 0;
	unsigned char *pem = tsrv_slurp(path, &len);
	int done = 0;

	if (!pem)
		return -ENOENT;
	d->n = 0;
	br_pem_decoder_init(&pc);
	while (off < len && !done) {
		off += br_pem_decoder_push(&pc, pem + off, len - off);
		switch (br_pem_decoder_event(&pc)) {
		case BR_PEM_BEGIN_OBJ:
			br_pem_decoder_setdest(&pc, tsrv_der_append, d);
			break;
		case BR_PEM_END_OBJ:
			done = 1;
			break;
		case BR_PEM_ERROR:
			free(pem);
			return -EINVAL;
		default:
			break;
		}
	}
	free(pem);
	return done ? 0 : -EINVAL;
}

struct tsrv {
	br_ssl_server_context sc;
	br_x509_certificate chain[1];
	struct tsrv_der cert, key;
	br_skey_decoder_context skey;
	br_ssl_session_cache_lru lru;  /* initialised by the user */
	unsigned char cache[4096];
	unsigned char buf[BR_SSL_BUFSIZE_BIDI];
	unsigned char got[65536];      /* application data received */
	size_t got_len;
};

/* The certificate of certfile and the key of tests/tls/server.key. */
static inline int tsrv_load(struct tsrv *s, const char *certfile)
{
	if (tsrv_pem_first(certfile, &s->cert) < 0 ||
	    tsrv_pem_first(TSRV_DIR "server.key", &s->key) < 0)
		return -1;
	br_skey_decoder_init(&s->skey);
	br_skey_decoder_push(&s->skey, s->key.b, s->key.n);
	if (!br_skey_decoder_get_ec(&s->skey))
		return -1;
	s->chain[0].data = s->cert.b;
	s->chain[0].data_len = s->cert.n;
	return 0;
}

/*
 * A fresh engine for the next handshake, with the session cache when cache
 * is set. offer: 0 BearSSL's defaults, 1 TLS 1.0-1.1 only, 2 one RSA-only
 * suite (the EC certificate cannot serve it: no suite in common).
 */
static inline int tsrv_reset(struct tsrv *s, int cache, int offer)
{
	s->got_len = 0;
	br_ssl_server_init_full_ec(&s->sc, s->chain, 1, BR_KEYTYPE_EC,
				   br_skey_decoder_get_ec(&s->skey));
	if (offer == 1)
		br_ssl_engine_set_versions(&s->sc.eng, BR_TLS10, BR_TLS11);
	if (offer == 2) {
		static const uint16_t rsa_only[] = {
			BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 };

		br_ssl_engine_set_suites(&s->sc.eng, rsa_only, 1);
	}
	br_ssl_engine_set_buffer(&s->sc.eng, s->buf, sizeof(s->buf), 1);
	if (cache)
		br_ssl_server_set_cache(&s->sc, &s->lru.vtable);
	return br_ssl_server_reset(&s->sc) ? 0 : -1;
}

#endif
