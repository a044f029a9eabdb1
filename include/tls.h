/*
 * tls: a TLS 1.2 client connection over BearSSL's engine as byte pumps, no
 * socket I/O. The caller moves ciphertext between the wire and the engine
 * and plaintext between the engine and its protocol code:
 *
 *     wire --> tls_cipher_in --> [engine] --> tls_plain_out --> app
 *     app  --> tls_plain_in  --> [engine] --> tls_cipher_out --> wire
 *
 * One struct tls per connection, caller-allocated, no allocation inside.
 * The trust anchors are one read-only set (struct tls_tas) loaded once at
 * start and shared by every connection of every thread. A session
 * (struct tls_session) may be shared by the connections of one target on
 * one thread so that later handshakes resume instead of doing the public-key
 * work again.
 *
 * Memory per connection (sizeof(struct tls), x86-64, BearSSL 0.6): the
 * engine (3,720 B), the X.509 validator (3,168 B; the insecure one is
 * smaller and shares its place), the input buffer BR_SSL_BUFSIZE_INPUT
 * (16,709 B: the server decides its record size; only a server that honours
 * max_fragment_length would let it shrink, and many do not) and the output
 * buffer TLS_OBUF (1,109 B: our records carry at most 1 KiB of plaintext,
 * which is more than a connection's 512-byte send slot). About 24.8 KiB.
 *
 * Errors are latched, as the engine does: once tls_state() says
 * TLS_FAILED, tls_error() names the cause in one line and every pump
 * returns 0.
 */
#ifndef ESMELOAD_TLS_H
#define ESMELOAD_TLS_H

#include <bearssl.h>
#include <stddef.h>
#include <stdint.h>

/* Output record buffer: 1 KiB of plaintext plus BearSSL's worst-case
 * record overhead (header, explicit IV, MAC, padding: 85 bytes). Engines
 * with less than 16 KiB ask the server for max_fragment_length 1024, which
 * is harmless: our input buffer takes full records either way. */
#define TLS_OBUF (1024 + 85)

enum tls_state {
	TLS_HANDSHAKE = 0, /* keys not agreed yet: pump bytes */
	TLS_OPEN,          /* application data flows both ways */
	TLS_CLOSED,        /* the server sent close_notify */
	TLS_FAILED,        /* see tls_error() */
};

/* Our own causes, above BearSSL's error codes. */
enum {
	TLS_E_NOT_TLS = 0x10000,  /* the server's first byte starts no record */
	TLS_E_PLAINTEXT,          /* ... and is printable: a plain-text server */
	TLS_E_IP_HOST,            /* verify requested for an IP-literal host */
	TLS_E_NO_ANCHORS,         /* verify requested with an empty anchor set */
};

/* A set of trust anchors. Owns one allocation (tls_ta_free). */
struct tls_tas {
	br_x509_trust_anchor *ta;
	size_t n;
	void *mem; /* the anchors, then their names and keys */
};

/*
 * Decode every CERTIFICATE object of a PEM text into trust anchors (a
 * certificate with the CA basic constraint becomes a CA anchor, any other a
 * direct-trust one). Other PEM objects are skipped, as are certificates
 * BearSSL cannot decode. Returns the number of anchors (> 0), or -EINVAL
 * (no usable certificate, or malformed PEM) / -ENOMEM with a reason in err.
 * Allocates once, at the end; call at start-up, not per connection.
 */
int tls_ta_parse(struct tls_tas *tas, const void *pem, size_t len, char *err,
		 size_t errlen);
/* tls_ta_parse on the contents of a file (NULL: TLS_DEFAULT_CA_FILE).
 * Returns as tls_ta_parse, or -errno with the file named in err. */
int tls_ta_load(struct tls_tas *tas, const char *path, char *err,
		size_t errlen);
void tls_ta_free(struct tls_tas *tas);

#define TLS_DEFAULT_CA_FILE "/etc/ssl/certs/ca-certificates.crt"

/* A resumable session, shared by connections to one target on one thread. */
struct tls_session {
	br_ssl_session_parameters p;
	int valid;
};

/* The insecure validator: accepts any chain, extracts the server's key
 * from the first certificate. */
struct tls_any_x509 {
	const br_x509_class *vtable;
	br_x509_decoder_context dec;
	unsigned certs; /* certificates seen in this chain */
};

struct tls {
	br_ssl_client_context cc;
	union {
		br_x509_minimal_context min;
		struct tls_any_x509 any;
	} x509;
	struct tls_session *sess; /* where an agreed session is kept, or NULL */
	unsigned err;             /* our cause (TLS_E_*), else 0 */
	uint8_t state;            /* enum tls_state, updated by every pump */
	uint8_t seen_byte;        /* a byte came from the server */
	uint8_t resumed;          /* the handshake resumed a session */
	uint8_t offered_len;      /* session id offered for resumption */
	uint8_t offered[32];
	unsigned char ibuf[BR_SSL_BUFSIZE_INPUT];
	unsigned char obuf[TLS_OBUF];
};

/*
 * Prepare t for a new connection to host (a DNS name; NUL-terminated; sent
 * as server name indication and matched against the certificate). With
 * insecure, any certificate chain is accepted (no CA, date or name check);
 * an IP-literal host then gets no SNI (RFC 6066 §3). Without insecure, an
 * IP-literal host fails (TLS_E_IP_HOST): BearSSL checks DNS names only.
 * tas must outlive t. sess, if not NULL, is offered for resumption when
 * valid and receives the session this handshake agrees.
 * Returns 0, or -EINVAL when the state is already TLS_FAILED (see
 * tls_error). The ClientHello is then waiting in tls_cipher_out.
 */
int tls_init(struct tls *t, const struct tls_tas *tas, const char *host,
	     int insecure, struct tls_session *sess);

/* Application bytes to encrypt: copies as many as the engine takes now
 * (0 while handshaking, or while records wait in tls_cipher_out) and
 * flushes them into a record. Returns the number taken. */
size_t tls_plain_in(struct tls *t, const void *p, size_t n);

/* Records to put on the wire: *p points into t and stays valid and
 * unchanged until tls_cipher_out_done. Returns their length, 0 if none. */
size_t tls_cipher_out(struct tls *t, const uint8_t **p);
/* n bytes of what tls_cipher_out gave were sent (n may be short). */
void tls_cipher_out_done(struct tls *t, size_t n);

/* Bytes from the wire: returns how many the engine took. It stops taking
 * while decrypted data waits in tls_plain_out (drain it, then call again
 * with the rest), and after a failure. */
size_t tls_cipher_in(struct tls *t, const uint8_t *p, size_t n);

/* Decrypted application data: *p points into t, valid until
 * tls_plain_out_done. Returns its length, 0 if none. */
size_t tls_plain_out(struct tls *t, uint8_t **p);
void tls_plain_out_done(struct tls *t, size_t n);

/* enum tls_state. */
int tls_state(const struct tls *t);
/* 1 once the handshake resumed the offered session. */
int tls_resumed(const struct tls *t);
/* The cause of TLS_FAILED in one line ("certificate not trusted (unknown
 * CA)", "host name mismatch ...", "not TLS ..."); "" otherwise. */
const char *tls_error(const struct tls *t);
/* The raw code behind tls_error: a BR_ERR_* value or TLS_E_*. */
unsigned tls_error_code(const struct tls *t);

#endif
