/*
 * Unit tests for tls (include/tls.h): our client against a BearSSL server
 * engine, in memory, with the test PKI of tests/tls/ (make-certs.sh).
 * Every exchange runs with bytes handed over whole and one at a time.
 * Run from the source tree's root (the certificates are read from
 * tests/tls/), as tests/run.sh does.
 */
#include "test.h"
#include "tls.h"
#include "tls_server.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DIR TSRV_DIR

/* ---- the test PKI ---- */

static int load_tas(struct tls_tas *tas, const char *file)
{
	char err[256];
	int r = tls_ta_load(tas, file, err, sizeof(err));

	if (r < 0)
		fprintf(stderr, "tls_ta_load: %s\n", err);
	return r;
}

/* ---- an in-memory BearSSL server (tests/tls_server.h) ---- */

static struct tsrv srv;

/* offer: see tsrv_reset. */
static int server_start(struct tsrv *s, const char *certfile, int cache,
			int offer)
{
	return tsrv_load(s, certfile) < 0 ? -1 : tsrv_reset(s, cache, offer);
}

/* ---- moving bytes ---- */

static unsigned char cgot[65536]; /* application data the client read */
static size_t cgot_len;

/*
 * Move bytes both ways, at most chunk at a time, until nothing moves.
 * Application data is collected on both sides.
 */
static void pump(struct tls *c, struct tsrv *s, size_t chunk)
{
	br_ssl_engine_context *e = &s->sc.eng;

	for (int guard = 0; guard < 1000000; guard++) {
		int moved = 0;
		const uint8_t *cp;
		unsigned char *p;
		size_t n, room, k;
		uint8_t *pp;

		n = tls_cipher_out(c, &cp);
		if (n && (br_ssl_engine_current_state(e) & BR_SSL_RECVREC)) {
			p = br_ssl_engine_recvrec_buf(e, &room);
			k = n < room ? n : room;
			k = k < chunk ? k : chunk;
			memcpy(p, cp, k);
			br_ssl_engine_recvrec_ack(e, k);
			tls_cipher_out_done(c, k);
			moved = 1;
		}
		if (br_ssl_engine_current_state(e) & BR_SSL_SENDREC) {
			p = br_ssl_engine_sendrec_buf(e, &n);
			k = tls_cipher_in(c, p, n < chunk ? n : chunk);
			if (k) {
				br_ssl_engine_sendrec_ack(e, k);
				moved = 1;
			}
		}
		while ((n = tls_plain_out(c, &pp)) > 0) {
			k = n < sizeof(cgot) - cgot_len ? n : sizeof(cgot) - cgot_len;
			memcpy(cgot + cgot_len, pp, k);
			cgot_len += k;
			tls_plain_out_done(c, n);
			moved = 1;
		}
		if (br_ssl_engine_current_state(e) & BR_SSL_RECVAPP) {
			p = br_ssl_engine_recvapp_buf(e, &n);
			k = n < sizeof(s->got) - s->got_len ? n :
				sizeof(s->got) - s->got_len;
			memcpy(s->got + s->got_len, p, k);
			s->got_len += k;
			br_ssl_engine_recvapp_ack(e, n);
			moved = 1;
		}
		if (!moved)
			return;
	}
}

/* Everything the server should send: more than one full record. */
static unsigned char big[20000];

static void server_send(struct tsrv *s, const unsigned char *p, size_t n)
{
	br_ssl_engine_context *e = &s->sc.eng;

	while (n && (br_ssl_engine_current_state(e) & BR_SSL_SENDAPP)) {
		size_t room, k;
		unsigned char *dst = br_ssl_engine_sendapp_buf(e, &room);

		k = n < room ? n : room;
		memcpy(dst, p, k);
		br_ssl_engine_sendapp_ack(e, k);
		br_ssl_engine_flush(e, 0);
		p += k;
		n -= k;
		/* The record must leave before the next one can be made. */
		if (br_ssl_engine_current_state(e) & BR_SSL_SENDREC)
			return;
	}
}

static struct tls cli;
static struct tls_tas tas_ca, tas_other;
static const size_t chunks[] = { (size_t)-1, 1 };

/* A handshake, then data both ways; returns 0 or the failing line. */
static int exchange(struct tls *c, struct tsrv *s, size_t chunk)
{
	static const char hello[] = "GET /connect HTTP/1.1\r\n\r\n";
	size_t sent = 0, off = 0;

	cgot_len = 0;
	pump(c, s, chunk);
	check_eq(tls_state(c), TLS_OPEN);
	check_span(tls_error(c), strlen(tls_error(c)), "");
	check_eq(tls_plain_in(c, hello, sizeof(hello) - 1), sizeof(hello) - 1);
	pump(c, s, chunk);
	check_span(s->got, s->got_len, hello);
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (unsigned char)(i * 7 + 3);
	/* The server's output goes out record by record. */
	while (off < sizeof(big)) {
		server_send(s, big + off, sizeof(big) - off);
		pump(c, s, chunk);
		off = cgot_len;
		if (++sent > 100)
			break;
	}
	check_eq(cgot_len, sizeof(big));
	check(memcmp(cgot, big, sizeof(big)) == 0);
	return 0;
}

/* ---- the tests ---- */

static int anchors_load(void)
{
	char err[256];
	struct tls_tas t;
	static const char junk[] = "hello, no PEM here\n";
	static const char bad[] = "-----BEGIN CERTIFICATE-----\n@@@@\n"
				  "-----END CERTIFICATE-----\n";
	size_t len;
	unsigned char *pem, *two;

	check_eq(load_tas(&tas_ca, DIR "ca.pem"), 1);
	check(tas_ca.ta[0].flags & BR_X509_TA_CA);
	check_eq(tas_ca.ta[0].pkey.key_type, BR_KEYTYPE_EC);
	check(tas_ca.ta[0].dn.len > 10);
	check_eq(load_tas(&tas_other, DIR "other-ca.pem"), 1);
	/* A server certificate is an anchor for direct trust, not a CA. */
	check_eq(tls_ta_load(&t, DIR "server.pem", err, sizeof(err)), 1);
	check(!(t.ta[0].flags & BR_X509_TA_CA));
	tls_ta_free(&t);
	/* Other PEM objects are skipped; no final newline is fine. */
	pem = tsrv_slurp(DIR "ca.pem", &len);
	check(pem != NULL);
	two = malloc(len * 2 + 300);
	check(two != NULL);
	{
		static const char key[] = "-----BEGIN PRIVATE KEY-----\n"
					  "AAAA\n-----END PRIVATE KEY-----\n";
		size_t n = 0;

		memcpy(two, key, sizeof(key) - 1);
		n += sizeof(key) - 1;
		memcpy(two + n, pem, len);
		n += len;
		memcpy(two + n, pem, len);
		n += len;
		while (two[n - 1] == '\n')
			n--;
		check_eq(tls_ta_parse(&t, two, n, err, sizeof(err)), 2);
		check(memcmp(t.ta[0].dn.data, t.ta[1].dn.data, t.ta[0].dn.len) == 0);
		tls_ta_free(&t);
	}
	free(two);
	free(pem);
	check_eq(tls_ta_parse(&t, junk, sizeof(junk) - 1, err, sizeof(err)),
		 -EINVAL);
	check(strstr(err, "no certificate") != NULL);
	check_eq(tls_ta_parse(&t, bad, sizeof(bad) - 1, err, sizeof(err)),
		 -EINVAL);
	check_eq(tls_ta_load(&t, DIR "no-such-file.pem", err, sizeof(err)),
		 -ENOENT);
	check(strstr(err, "no-such-file.pem") != NULL);
	/* The system bundle, when there is one. */
	if (access(TLS_DEFAULT_CA_FILE, R_OK) == 0) {
		int n = tls_ta_load(&t, NULL, err, sizeof(err));

		check(n > 50);
		for (int i = 0; i < n; i++)
			check(t.ta[i].dn.len > 0);
		tls_ta_free(&t);
	}
	return 0;
}

static int handshake_and_data(void)
{
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		int line;

		check(server_start(&srv, DIR "server.pem", 0, 0) == 0);
		check_eq(tls_init(&cli, &tas_ca, "localhost", 0, NULL), 0);
		check_eq(tls_state(&cli), TLS_HANDSHAKE);
		/* Nothing to encrypt before the keys are agreed. */
		check_eq(tls_plain_in(&cli, "x", 1), 0);
		line = exchange(&cli, &srv, chunks[i]);
		if (line)
			return line;
		check_eq(tls_resumed(&cli), 0);
		/* The other name of the certificate works too. */
		check(server_start(&srv, DIR "server.pem", 0, 0) == 0);
		check_eq(tls_init(&cli, &tas_ca, "esme.test", 0, NULL), 0);
		pump(&cli, &srv, chunks[i]);
		check_eq(tls_state(&cli), TLS_OPEN);
	}
	return 0;
}

static int close_notify(void)
{
	check(server_start(&srv, DIR "server.pem", 0, 0) == 0);
	check_eq(tls_init(&cli, &tas_ca, "localhost", 0, NULL), 0);
	pump(&cli, &srv, (size_t)-1);
	check_eq(tls_state(&cli), TLS_OPEN);
	br_ssl_engine_close(&srv.sc.eng);
	pump(&cli, &srv, 1);
	check_eq(tls_state(&cli), TLS_CLOSED);
	check_span(tls_error(&cli), strlen(tls_error(&cli)), "");
	return 0;
}

static int resumption(void)
{
	struct tls_session sess = { 0 };

	br_ssl_session_cache_lru_init(&srv.lru, srv.cache, sizeof(srv.cache));
	check(server_start(&srv, DIR "server.pem", 1, 0) == 0);
	check_eq(tls_init(&cli, &tas_ca, "localhost", 0, &sess), 0);
	pump(&cli, &srv, (size_t)-1);
	check_eq(tls_state(&cli), TLS_OPEN);
	check_eq(tls_resumed(&cli), 0);
	check(sess.valid);
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		int line;

		check(server_start(&srv, DIR "server.pem", 1, 0) == 0);
		check_eq(tls_init(&cli, &tas_ca, "localhost", 0, &sess), 0);
		line = exchange(&cli, &srv, chunks[i]);
		if (line)
			return line;
		check_eq(tls_resumed(&cli), 1);
	}
	/* A server that forgot the session: a full handshake, not resumed. */
	br_ssl_session_cache_lru_forget(&srv.lru, sess.p.session_id);
	check(server_start(&srv, DIR "server.pem", 1, 0) == 0);
	check_eq(tls_init(&cli, &tas_ca, "localhost", 0, &sess), 0);
	pump(&cli, &srv, (size_t)-1);
	check_eq(tls_state(&cli), TLS_OPEN);
	check_eq(tls_resumed(&cli), 0);
	return 0;
}

/* A handshake that must fail with words in its error. */
static int fails(const char *certfile, const struct tls_tas *tas,
		 const char *host, int tls11_only, const char *words,
		 unsigned code)
{
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		check(server_start(&srv, certfile, 0, tls11_only) == 0);
		check_eq(tls_init(&cli, tas, host, 0, NULL), 0);
		pump(&cli, &srv, chunks[i]);
		check_eq(tls_state(&cli), TLS_FAILED);
		if (!strstr(tls_error(&cli), words)) {
			fprintf(stderr, "error \"%s\" lacks \"%s\"\n",
				tls_error(&cli), words);
			return __LINE__;
		}
		check_eq(tls_error_code(&cli), code);
		/* Latched: nothing moves any more. */
		{
			const uint8_t *p;
			uint8_t *q;

			check_eq(tls_plain_in(&cli, "x", 1), 0);
			check_eq(tls_cipher_in(&cli, (const uint8_t *)"\x16", 1), 0);
			check_eq(tls_plain_out(&cli, &q), 0);
			check_eq(tls_cipher_out(&cli, &p), 0);
		}
	}
	return 0;
}

static int unknown_ca(void)
{
	return fails(DIR "server.pem", &tas_other, "localhost", 0,
		     "unknown CA", BR_ERR_X509_NOT_TRUSTED);
}

static int wrong_host(void)
{
	return fails(DIR "server.pem", &tas_ca, "example.com", 0,
		     "host name mismatch", BR_ERR_X509_BAD_SERVER_NAME);
}

static int expired(void)
{
	return fails(DIR "expired.pem", &tas_ca, "localhost", 0, "expired",
		     BR_ERR_X509_EXPIRED);
}

static int old_server(void)
{
	return fails(DIR "server.pem", &tas_ca, "localhost", 1,
		     "does not speak TLS 1.2", BR_ERR_UNSUPPORTED_VERSION);
}

/* A fatal alert from the server is named. */
static int no_common_suite(void)
{
	return fails(DIR "server.pem", &tas_ca, "localhost", 2,
		     "alert handshake_failure", BR_ERR_RECV_FATAL_ALERT + 40);
}

/* A server that answers in something other than TLS. */
static int not_tls(void)
{
	static const char http[] = "HTTP/1.1 400 Bad Request\r\n\r\n";
	static const uint8_t bin[] = { 0x00, 0x05, 0x01 };
	const uint8_t *p;

	check_eq(tls_init(&cli, &tas_ca, "localhost", 0, NULL), 0);
	check(tls_cipher_out(&cli, &p) > 40); /* the ClientHello */
	check_eq(tls_cipher_in(&cli, (const uint8_t *)http, 1), 0);
	check_eq(tls_state(&cli), TLS_FAILED);
	check(strstr(tls_error(&cli), "not TLS") != NULL);
	check(strstr(tls_error(&cli), "plain text") != NULL);
	check_eq(tls_init(&cli, &tas_ca, "localhost", 0, NULL), 0);
	check_eq(tls_cipher_in(&cli, (const uint8_t *)http, sizeof(http) - 1), 0);
	check_eq(tls_error_code(&cli), TLS_E_PLAINTEXT);
	check_eq(tls_init(&cli, &tas_ca, "localhost", 0, NULL), 0);
	check_eq(tls_cipher_in(&cli, bin, sizeof(bin)), 0);
	check_eq(tls_error_code(&cli), TLS_E_NOT_TLS);
	check(strstr(tls_error(&cli), "not TLS") != NULL);
	/* A record type byte, then a wrong version: BearSSL's check. */
	{
		static const uint8_t rec[] = { 0x16, 0x09, 0x09, 0x00, 0x05,
					       1, 2, 3, 4, 5 };

		for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
			size_t off = 0;

			check_eq(tls_init(&cli, &tas_ca, "localhost", 0, NULL), 0);
			while (off < sizeof(rec) && tls_state(&cli) != TLS_FAILED) {
				size_t k = sizeof(rec) - off < chunks[i] ?
					   sizeof(rec) - off : chunks[i];

				off += tls_cipher_in(&cli, rec + off, k);
			}
			check_eq(tls_state(&cli), TLS_FAILED);
			check(tls_error(&cli)[0] != 0);
		}
	}
	return 0;
}

static int insecure(void)
{
	/* Unknown CA, expired, wrong name: all accepted. */
	static const char *const certs[] = { DIR "server.pem",
					     DIR "expired.pem" };

	for (size_t i = 0; i < 2; i++)
		for (size_t k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
			int line;

			check(server_start(&srv, certs[i], 0, 0) == 0);
			check_eq(tls_init(&cli, &tas_other, "example.com", 1,
					  NULL), 0);
			line = exchange(&cli, &srv, chunks[k]);
			if (line)
				return line;
		}
	/* No anchors at all, an IP address for a host: no SNI, accepted. */
	check(server_start(&srv, DIR "server.pem", 0, 0) == 0);
	check_eq(tls_init(&cli, NULL, "127.0.0.1", 1, NULL), 0);
	pump(&cli, &srv, (size_t)-1);
	check_eq(tls_state(&cli), TLS_OPEN);
	check_span(br_ssl_engine_get_server_name(&srv.sc.eng), 0, "");
	return 0;
}

static int refused_at_init(void)
{
	struct tls_tas none = { 0 };

	check_eq(tls_init(&cli, &tas_ca, "127.0.0.1", 0, NULL), -EINVAL);
	check_eq(tls_state(&cli), TLS_FAILED);
	check(strstr(tls_error(&cli), "IP address") != NULL);
	check_eq(tls_init(&cli, &tas_ca, "::1", 0, NULL), -EINVAL);
	check_eq(tls_error_code(&cli), TLS_E_IP_HOST);
	check_eq(tls_init(&cli, &none, "localhost", 0, NULL), -EINVAL);
	check(strstr(tls_error(&cli), "trust anchors") != NULL);
	/* SNI carries the host name. */
	check(server_start(&srv, DIR "server.pem", 0, 0) == 0);
	check_eq(tls_init(&cli, &tas_ca, "localhost", 0, NULL), 0);
	pump(&cli, &srv, (size_t)-1);
	check_eq(tls_state(&cli), TLS_OPEN);
	check_span(br_ssl_engine_get_server_name(&srv.sc.eng), 9, "localhost");
	return 0;
}

static int memory(void)
{
	/* The figure include/tls.h states: about 24.8 KiB. */
	check(sizeof(struct tls) < 25 * 1024);
	check(sizeof(struct tls) > BR_SSL_BUFSIZE_INPUT + TLS_OBUF);
	printf("# sizeof(struct tls) = %zu\n", sizeof(struct tls));
	return 0;
}

static int cleanup(void)
{
	tls_ta_free(&tas_ca);
	tls_ta_free(&tas_other);
	check(tas_ca.ta == NULL && tas_ca.n == 0);
	return 0;
}

TEST_MAIN(T(anchors_load), T(handshake_and_data), T(close_notify),
	  T(resumption), T(unknown_ca), T(wrong_host), T(expired),
	  T(old_server), T(no_common_suite), T(not_tls), T(insecure), T(refused_at_init),
	  T(memory), T(cleanup))
