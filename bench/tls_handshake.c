/*
 * tls_handshake: the CPU one TLS handshake costs the tester's client
 * (include/tls.h), in process, against a BearSSL server engine with the
 * test PKI of tests/tls/. Only the time spent in tls_* calls is counted
 * (CLOCK_THREAD_CPUTIME_ID around each), so the server's share is left
 * out. Three kinds: a full handshake verified against the test CA, a
 * resumed one (the session of the previous handshake), and a full one
 * with --insecure (no chain verification).
 *
 *   tls_handshake [N]     (run from the top of the tree; default N 300)
 *
 * Prints one line per kind: µs per handshake, of which tls_init (engine
 * set-up: BearSSL probes the CPU's features with CPUID there, which a
 * virtual machine may trap), and handshakes per CPU-second.
 */
#include "tls.h"
#include "../tests/tls_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


static double cpu_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static struct tsrv srv;
static struct tls cli;
static double client_s; /* CPU time inside tls_* calls */

/* Move records both ways until nothing moves. */
static void pump(void)
{
	br_ssl_engine_context *e = &srv.sc.eng;

	for (;;) {
		int moved = 0;
		const uint8_t *cp;
		unsigned char *p;
		size_t n, room, k;
		double t0 = cpu_now();

		n = tls_cipher_out(&cli, &cp);
		client_s += cpu_now() - t0;
		if (n && (br_ssl_engine_current_state(e) & BR_SSL_RECVREC)) {
			p = br_ssl_engine_recvrec_buf(e, &room);
			k = n < room ? n : room;
			memcpy(p, cp, k);
			br_ssl_engine_recvrec_ack(e, k);
			t0 = cpu_now();
			tls_cipher_out_done(&cli, k);
			client_s += cpu_now() - t0;
			moved = 1;
		}
		if (br_ssl_engine_current_state(e) & BR_SSL_SENDREC) {
			p = br_ssl_engine_sendrec_buf(e, &n);
			t0 = cpu_now();
			k = tls_cipher_in(&cli, p, n);
			client_s += cpu_now() - t0;
			if (k) {
				br_ssl_engine_sendrec_ack(e, k);
				moved = 1;
			}
		}
		if (!moved)
			return;
	}
}

int main(int argc, char **argv)
{
	static const char *const names[] = { "full, verified", "resumed",
					     "full, --insecure" };
	int n = argc > 1 ? atoi(argv[1]) : 300;
	struct tls_tas tas;
	char err[256];

	if (n < 1 || tls_ta_load(&tas, TSRV_DIR "ca.pem", err, sizeof(err)) < 0 ||
	    tsrv_load(&srv, TSRV_DIR "server.pem") < 0) {
		fprintf(stderr, "tls_handshake: run from the top of the tree "
			"(needs tests/tls/*.pem)\n");
		return 1;
	}
	for (int kind = 0; kind < 3; kind++) {
		struct tls_session sess = { 0 };
		double init_s = 0;

		br_ssl_session_cache_lru_init(&srv.lru, srv.cache,
					      sizeof(srv.cache));
		client_s = 0;
		/* One untimed handshake first: the session to resume. */
		for (int i = -1; i < n; i++) {
			double t0;

			if (i == 0) {
				client_s = 0;
				init_s = 0;
			}
			if (tsrv_reset(&srv, 1, 0) < 0)
				return 1;
			t0 = cpu_now();
			tls_init(&cli, &tas, "localhost", kind == 2,
				 kind == 1 ? &sess : NULL);
			init_s += cpu_now() - t0;
			client_s += cpu_now() - t0;
			pump();
			if (tls_state(&cli) != TLS_OPEN ||
			    (kind == 1 && i >= 0 && !tls_resumed(&cli))) {
				fprintf(stderr, "tls_handshake: %s: %s\n",
					names[kind], tls_error(&cli));
				return 1;
			}
		}
		printf("%-17s %7.0f us per handshake (tls_init %4.0f us), "
		       "%6.0f handshakes per CPU-second\n", names[kind],
		       client_s / n * 1e6, init_s / n * 1e6, n / client_s);
	}
	tls_ta_free(&tas);
	return 0;
}
