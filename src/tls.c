/*
 * tls: BearSSL's client engine as byte pumps; trust anchors from PEM; an
 * accept-anything validator for --insecure. See include/tls.h.
 *
 * IMPLEMENTATION NOTES
 * - The engine runs in full-duplex mode with separate buffers: a full-size
 *   input buffer (a server's record may be 16 KiB, and we cannot make it
 *   send less) and a 1 KiB output one. br_ssl_engine_set_buffers_bidi
 *   derives the largest fragment it sends from the smaller buffer.
 * - t->state is recomputed after every call that moves bytes (update), so
 *   tls_state is a load and the open transition (saving the session,
 *   noticing a resumption) happens exactly once.
 * - The first byte from the server is checked before the engine sees it:
 *   a TLS server's first record is a handshake (22) or an alert (21), and
 *   every record type is 20..24. Anything else is a server that does not
 *   speak TLS on that port; saying so beats BearSSL's "unknown type".
 * - Trust anchors are decoded twice: once to count the bytes, once to
 *   fill one allocation, so the set is a single block of memory that every
 *   thread reads and nobody writes.
 */
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the insecure validator ---- */

static struct tls_any_x509 *any_of(const br_x509_class **ctx)
{
	return (struct tls_any_x509 *)(void *)ctx;
}

static void any_start_chain(const br_x509_class **ctx, const char *server_name)
{
	(void)server_name;
	any_of(ctx)->certs = 0;
}

static void any_start_cert(const br_x509_class **ctx, uint32_t length)
{
	struct tls_any_x509 *a = any_of(ctx);

	(void)length;
	/* Only the end-entity certificate (the first) matters: it holds the
	 * key the server signs or decrypts with. */
	if (a->certs == 0)
		br_x509_decoder_init(&a->dec, NULL, NULL);
}

static void any_append(const br_x509_class **ctx, const unsigned char *buf,
		       size_t len)
{
	struct tls_any_x509 *a = any_of(ctx);

	if (a->certs == 0)
		br_x509_decoder_push(&a->dec, buf, len);
}

static void any_end_cert(const br_x509_class **ctx)
{
	any_of(ctx)->certs++;
}

static unsigned any_end_chain(const br_x509_class **ctx)
{
	struct tls_any_x509 *a = any_of(ctx);

	if (a->certs == 0)
		return BR_ERR_X509_EMPTY_CHAIN;
	return (unsigned)br_x509_decoder_last_error(&a->dec);
}

static const br_x509_pkey *any_get_pkey(const br_x509_class *const *ctx,
					unsigned *usages)
{
	struct tls_any_x509 *a = (struct tls_any_x509 *)(void *)ctx;

	if (usages)
		*usages = BR_KEYTYPE_KEYX | BR_KEYTYPE_SIGN;
	return br_x509_decoder_get_pkey(&a->dec);
}

static const br_x509_class any_vtable = {
	.context_size = sizeof(struct tls_any_x509),
	.start_chain = any_start_chain,
	.start_cert = any_start_cert,
	.append = any_append,
	.end_cert = any_end_cert,
	.end_chain = any_end_chain,
	.get_pkey = any_get_pkey,
};

/* ---- trust anchors ---- */

#define DER_MAX (16 * 1024) /* a certificate larger than this is skipped */
#define DN_MAX 4096

struct scratch {
	unsigned char der[DER_MAX];
	size_t der_len;
	int der_over;
	unsigned char dn[DN_MAX];
	size_t dn_len;
	int dn_over;
};

static void der_put(void *ctx, const void *src, size_t len)
{
	struct scratch *s = ctx;

	if (s->der_over || len > DER_MAX - s->der_len) {
		s->der_over = 1;
		return;
	}
	memcpy(s->der + s->der_len, src, len);
	s->der_len += len;
}

static void dn_put(void *ctx, const void *src, size_t len)
{
	struct scratch *s = ctx;

	if (s->dn_over || len > DN_MAX - s->dn_len) {
		s->dn_over = 1;
		return;
	}
	memcpy(s->dn + s->dn_len, src, len);
	s->dn_len += len;
}

/* Bytes a key's data takes. */
static size_t key_bytes(const br_x509_pkey *k)
{
	if (k->key_type == BR_KEYTYPE_RSA)
		return k->key.rsa.nlen + k->key.rsa.elen;
	return k->key.ec.qlen;
}

/* Copy (dn, key) into an anchor whose bytes go at *heap. */
static void anchor_fill(br_x509_trust_anchor *ta, unsigned char **heap,
			const struct scratch *s, const br_x509_pkey *k,
			int is_ca)
{
	unsigned char *h = *heap;

	memcpy(h, s->dn, s->dn_len);
	ta->dn.data = h;
	ta->dn.len = s->dn_len;
	h += s->dn_len;
	ta->flags = is_ca ? BR_X509_TA_CA : 0;
	ta->pkey.key_type = k->key_type;
	if (k->key_type == BR_KEYTYPE_RSA) {
		memcpy(h, k->key.rsa.n, k->key.rsa.nlen);
		ta->pkey.key.rsa.n = h;
		ta->pkey.key.rsa.nlen = k->key.rsa.nlen;
		h += k->key.rsa.nlen;
		memcpy(h, k->key.rsa.e, k->key.rsa.elen);
		ta->pkey.key.rsa.e = h;
		ta->pkey.key.rsa.elen = k->key.rsa.elen;
		h += k->key.rsa.elen;
	} else {
		memcpy(h, k->key.ec.q, k->key.ec.qlen);
		ta->pkey.key.ec.curve = k->key.ec.curve;
		ta->pkey.key.ec.q = h;
		ta->pkey.key.ec.qlen = k->key.ec.qlen;
		h += k->key.ec.qlen;
	}
	*heap = h;
}

/*
 * One pass over the PEM text. Without out, counts anchors and their bytes;
 * with out (room for *n anchors then *bytes bytes), fills it. Returns 0 or
 * -EINVAL for malformed PEM.
 */
static int ta_pass(const unsigned char *pem, size_t len, struct scratch *s,
		   br_x509_trust_anchor *out, size_t *n, size_t *bytes)
{
	br_pem_decoder_context pc;
	br_x509_decoder_context *dc;
	unsigned char *heap = out ? (unsigned char *)(out + *n) : NULL;
	size_t count = 0, total = 0;
	int in_cert = 0, ended = 0;

	dc = malloc(sizeof(*dc));
	if (!dc)
		return -ENOMEM;
	br_pem_decoder_init(&pc);
	/* The text, then one newline, so a file whose last END line lacks
	 * its line end still closes its object. */
	while (!ended) {
		static const unsigned char nl = '\n';
		const unsigned char *p = len ? pem : &nl;
		size_t k = br_pem_decoder_push(&pc, p, len ? len : 1);

		if (len) {
			pem += k;
			len -= k;
		} else if (k) {
			ended = 1;
		}
		switch (br_pem_decoder_event(&pc)) {
		case BR_PEM_BEGIN_OBJ:
			in_cert = !strcmp(br_pem_decoder_name(&pc), "CERTIFICATE") ||
				  !strcmp(br_pem_decoder_name(&pc),
					  "X509 CERTIFICATE");
			s->der_len = 0;
			s->der_over = 0;
			br_pem_decoder_setdest(&pc, in_cert ? der_put : NULL, s);
			break;
		case BR_PEM_END_OBJ: {
			const br_x509_pkey *key;

			if (!in_cert || s->der_over)
				break;
			in_cert = 0;
			s->dn_len = 0;
			s->dn_over = 0;
			br_x509_decoder_init(dc, dn_put, s);
			br_x509_decoder_push(dc, s->der, s->der_len);
			key = br_x509_decoder_get_pkey(dc);
			if (!key || s->dn_over)
				break; /* BearSSL cannot use it: skip */
			if (out)
				anchor_fill(&out[count], &heap, s, key,
					    br_x509_decoder_isCA(dc));
			count++;
			total += s->dn_len + key_bytes(key);
			break;
		}
		case BR_PEM_ERROR:
			free(dc);
			return -EINVAL;
		default:
			break;
		}
	}
	free(dc);
	*n = count;
	*bytes = total;
	return 0;
}

/* see tls.h */
int tls_ta_parse(struct tls_tas *tas, const void *pem, size_t len, char *err,
		 size_t errlen)
{
	struct scratch *s = malloc(sizeof(*s));
	size_t n = 0, bytes = 0, n2, bytes2;
	void *mem;
	int r;

	memset(tas, 0, sizeof(*tas));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r = ta_pass(pem, len, s, NULL, &n, &bytes);
	if (r < 0 || n == 0) {
		snprintf(err, errlen, "%s", r == -ENOMEM ? "out of memory" :
			 r < 0 ? "malformed PEM" :
			 "no certificate BearSSL can use as a trust anchor "
			 "(PEM \"CERTIFICATE\")");
		free(s);
		return r < 0 ? r : -EINVAL;
	}
	mem = malloc(n * sizeof(br_x509_trust_anchor) + bytes);
	if (!mem) {
		free(s);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	n2 = n;
	r = ta_pass(pem, len, s, mem, &n2, &bytes2);
	free(s);
	if (r < 0 || n2 != n || bytes2 != bytes) {
		free(mem);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	tas->ta = mem;
	tas->n = n;
	tas->mem = mem;
	return (int)n;
}

/* see tls.h */
int tls_ta_load(struct tls_tas *tas, const char *path, char *err,
		size_t errlen)
{
	char why[160];
	struct stat st;
	unsigned char *buf;
	size_t got = 0;
	int fd, r;

	memset(tas, 0, sizeof(*tas));
	if (!path)
		path = TLS_DEFAULT_CA_FILE;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0 || st.st_size > (64 << 20)) {
		r = st.st_size > (64 << 20) ? -EFBIG : -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		close(fd);
		return r;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t k = read(fd, buf + got, (size_t)st.st_size - got);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	close(fd);
	r = tls_ta_parse(tas, buf, got, why, sizeof(why));
	free(buf);
	if (r < 0)
		snprintf(err, errlen, "%s: %s", path, why);
	return r;
}

/* see tls.h */
void tls_ta_free(struct tls_tas *tas)
{
	free(tas->mem);
	memset(tas, 0, sizeof(*tas));
}

/* ---- the connection ---- */

static int is_ip_literal(const char *host)
{
	unsigned char a[16];

	return inet_pton(AF_INET, host, a) == 1 ||
	       inet_pton(AF_INET6, host, a) == 1;
}

static void on_open(struct tls *t)
{
	br_ssl_session_parameters p;

	br_ssl_engine_get_session_parameters(&t->cc.eng, &p);
	/* A server that resumes echoes the id we offered (RFC 5246 7.4.1.3). */
	t->resumed = t->offered_len && p.session_id_len == t->offered_len &&
		     !memcmp(p.session_id, t->offered, t->offered_len);
	if (t->sess && p.session_id_len) {
		t->sess->p = p;
		t->sess->valid = 1;
	}
}

static void update(struct tls *t)
{
	unsigned st;

	if (t->err) {
		t->state = TLS_FAILED;
		return;
	}
	st = br_ssl_engine_current_state(&t->cc.eng);
	if (st & BR_SSL_CLOSED) {
		t->state = br_ssl_engine_last_error(&t->cc.eng) == BR_ERR_OK ?
			   TLS_CLOSED : TLS_FAILED;
		/* A session whose handshake failed must not be offered again. */
		if (t->state == TLS_FAILED && t->sess && t->offered_len)
			t->sess->valid = 0;
		return;
	}
	if (t->state == TLS_HANDSHAKE && (st & (BR_SSL_SENDAPP | BR_SSL_RECVAPP))) {
		t->state = TLS_OPEN;
		on_open(t);
	}
}

/* see tls.h */
int tls_init(struct tls *t, const struct tls_tas *tas, const char *host,
	     int insecure, struct tls_session *sess)
{
	const char *sni = host;
	int resume = 0;

	t->sess = sess;
	t->err = 0;
	t->state = TLS_HANDSHAKE;
	t->seen_byte = 0;
	t->resumed = 0;
	t->offered_len = 0;
	br_ssl_client_init_full(&t->cc, &t->x509.min, tas ? tas->ta : NULL,
				tas ? tas->n : 0);
	/* TLS 1.2 only: 1.0 and 1.1 are deprecated (RFC 8996), and BearSSL
	 * has no 1.3. */
	br_ssl_engine_set_versions(&t->cc.eng, BR_TLS12, BR_TLS12);
	/* The validator is needed only during the first handshake. */
	br_ssl_engine_add_flags(&t->cc.eng, BR_OPT_NO_RENEGOTIATION);
	if (insecure) {
		t->x509.any.vtable = &any_vtable;
		t->x509.any.certs = 0;
		br_ssl_engine_set_x509(&t->cc.eng, &t->x509.any.vtable);
	}
	br_ssl_engine_set_buffers_bidi(&t->cc.eng, t->ibuf, sizeof(t->ibuf),
				       t->obuf, sizeof(t->obuf));
	if (is_ip_literal(host)) {
		if (!insecure)
			t->err = TLS_E_IP_HOST;
		sni = NULL; /* RFC 6066 §3: no IP literals in SNI */
	} else if (!insecure && (!tas || !tas->n)) {
		t->err = TLS_E_NO_ANCHORS;
	}
	if (t->err) {
		update(t);
		return -EINVAL;
	}
	if (sess && sess->valid && sess->p.session_id_len &&
	    sess->p.session_id_len <= sizeof(t->offered)) {
		br_ssl_engine_set_session_parameters(&t->cc.eng, &sess->p);
		memcpy(t->offered, sess->p.session_id, sess->p.session_id_len);
		t->offered_len = sess->p.session_id_len;
		resume = 1;
	}
	br_ssl_client_reset(&t->cc, sni, resume);
	update(t);
	return t->state == TLS_FAILED ? -EINVAL : 0;
}

/* see tls.h */
size_t tls_plain_in(struct tls *t, const void *p, size_t n)
{
	unsigned char *buf;
	size_t room;

	if (t->state != TLS_OPEN ||
	    !(br_ssl_engine_current_state(&t->cc.eng) & BR_SSL_SENDAPP))
		return 0;
	buf = br_ssl_engine_sendapp_buf(&t->cc.eng, &room);
	if (n > room)
		n = room;
	memcpy(buf, p, n);
	br_ssl_engine_sendapp_ack(&t->cc.eng, n);
	/* Our writers hand over whole frames: seal the record now rather
	 * than wait for a full one. */
	br_ssl_engine_flush(&t->cc.eng, 0);
	update(t);
	return n;
}

/* see tls.h */
size_t tls_cipher_out(struct tls *t, const uint8_t **p)
{
	size_t len;

	if (t->state == TLS_FAILED ||
	    !(br_ssl_engine_current_state(&t->cc.eng) & BR_SSL_SENDREC))
		return 0;
	*p = br_ssl_engine_sendrec_buf(&t->cc.eng, &len);
	return len;
}

/* see tls.h */
void tls_cipher_out_done(struct tls *t, size_t n)
{
	if (n && t->state != TLS_FAILED)
		br_ssl_engine_sendrec_ack(&t->cc.eng, n);
	update(t);
}

/* see tls.h */
size_t tls_cipher_in(struct tls *t, const uint8_t *p, size_t n)
{
	size_t took = 0;

	if (t->state >= TLS_CLOSED || !n)
		return 0;
	if (!t->seen_byte) {
		t->seen_byte = 1;
		if (p[0] < 20 || p[0] > 24) {
			t->err = p[0] >= 0x20 && p[0] < 0x7f ? TLS_E_PLAINTEXT :
							       TLS_E_NOT_TLS;
			update(t);
			return 0;
		}
	}
	while (n) {
		unsigned char *buf;
		size_t room, k;

		if (!(br_ssl_engine_current_state(&t->cc.eng) & BR_SSL_RECVREC))
			break;
		buf = br_ssl_engine_recvrec_buf(&t->cc.eng, &room);
		k = n < room ? n : room;
		memcpy(buf, p, k);
		br_ssl_engine_recvrec_ack(&t->cc.eng, k);
		p += k;
		n -= k;
		took += k;
	}
	update(t);
	return took;
}

/* see tls.h */
size_t tls_plain_out(struct tls *t, uint8_t **p)
{
	size_t len;

	if (t->state == TLS_FAILED ||
	    !(br_ssl_engine_current_state(&t->cc.eng) & BR_SSL_RECVAPP))
		return 0;
	*p = br_ssl_engine_recvapp_buf(&t->cc.eng, &len);
	return len;
}

/* see tls.h */
void tls_plain_out_done(struct tls *t, size_t n)
{
	if (n && t->state != TLS_FAILED)
		br_ssl_engine_recvapp_ack(&t->cc.eng, n);
	update(t);
}

/* see tls.h */
int tls_state(const struct tls *t)
{
	return t->state;
}

/* see tls.h */
int tls_resumed(const struct tls *t)
{
	return t->resumed;
}

/* see tls.h */
unsigned tls_error_code(const struct tls *t)
{
	if (t->state != TLS_FAILED)
		return 0;
	return t->err ? t->err : (unsigned)br_ssl_engine_last_error(&t->cc.eng);
}

/* A fatal alert from the server, by its number (RFC 5246 7.2, RFC 8446 6). */
static const char *alert_text(unsigned a)
{
	switch (a) {
	case 10: return "the server sent alert unexpected_message";
	case 20: return "the server sent alert bad_record_mac";
	case 22: return "the server sent alert record_overflow";
	case 40: return "the server refused the handshake: alert "
			"handshake_failure (no common cipher suite?)";
	case 42: return "the server sent alert bad_certificate";
	case 47: return "the server sent alert illegal_parameter";
	case 48: return "the server sent alert unknown_ca";
	case 50: return "the server sent alert decode_error";
	case 51: return "the server sent alert decrypt_error";
	case 70: return "the server refused TLS 1.2: alert protocol_version "
			"(BearSSL has no TLS 1.3)";
	case 71: return "the server sent alert insufficient_security";
	case 80: return "the server sent alert internal_error";
	case 86: return "the server sent alert inappropriate_fallback";
	case 109: return "the server sent alert missing_extension";
	case 110: return "the server sent alert unsupported_extension";
	case 112: return "the server does not know the host name we sent "
			 "(alert unrecognized_name)";
	case 116: return "the server wants a client certificate (alert "
			  "certificate_required)";
	default: return "the server sent a fatal alert";
	}
}

/* see tls.h */
const char *tls_error(const struct tls *t)
{
	unsigned e = tls_error_code(t);

	if (t->state != TLS_FAILED)
		return "";
	if (e >= BR_ERR_SEND_FATAL_ALERT && e < TLS_E_NOT_TLS)
		return "TLS protocol error (we sent a fatal alert)";
	if (e >= BR_ERR_RECV_FATAL_ALERT && e < BR_ERR_SEND_FATAL_ALERT)
		return alert_text(e - BR_ERR_RECV_FATAL_ALERT);
	switch (e) {
	case TLS_E_NOT_TLS:
		return "not TLS: the server's first byte starts no TLS record";
	case TLS_E_PLAINTEXT:
		return "not TLS: the server answered in plain text "
		       "(a plain HTTP port?)";
	case TLS_E_IP_HOST:
		return "cannot verify a certificate for an IP address "
		       "(BearSSL checks DNS names): use the host name, or "
		       "--insecure";
	case TLS_E_NO_ANCHORS:
		return "no trust anchors loaded (--cacert FILE)";
	case BR_ERR_X509_NOT_TRUSTED:
		return "certificate not trusted: unknown CA (no trust anchor "
		       "signs the chain; --cacert FILE names one)";
	case BR_ERR_X509_EXPIRED:
		return "certificate expired (or not yet valid)";
	case BR_ERR_X509_BAD_SERVER_NAME:
		return "host name mismatch: the certificate does not name "
		       "this host";
	case BR_ERR_X509_TIME_UNKNOWN:
		return "certificate dates cannot be checked: no clock";
	case BR_ERR_X509_BAD_SIGNATURE:
		return "certificate chain with a bad signature";
	case BR_ERR_X509_NOT_CA:
		return "certificate chain: an issuer is not a CA";
	case BR_ERR_X509_DN_MISMATCH:
		return "certificate chain out of order (issuer name mismatch)";
	case BR_ERR_X509_FORBIDDEN_KEY_USAGE:
		return "certificate key usage forbids a TLS server";
	case BR_ERR_X509_WEAK_PUBLIC_KEY:
		return "certificate key too weak (RSA under 1024 bits)";
	case BR_ERR_X509_CRITICAL_EXTENSION:
		return "certificate with an unsupported critical extension";
	case BR_ERR_X509_UNSUPPORTED:
	case BR_ERR_X509_WRONG_KEY_TYPE:
		return "certificate with an unsupported key or signature "
		       "algorithm";
	case BR_ERR_X509_EMPTY_CHAIN:
		return "the server sent no certificate";
	case BR_ERR_X509_LIMIT_EXCEEDED:
		return "certificate chain too long or too large";
	case BR_ERR_UNSUPPORTED_VERSION:
	case BR_ERR_BAD_VERSION:
		return "the server does not speak TLS 1.2";
	case BR_ERR_BAD_CIPHER_SUITE:
		return "no cipher suite in common with the server";
	case BR_ERR_BAD_MAC:
		return "bad record MAC (data corrupted or tampered with)";
	case BR_ERR_NO_RANDOM:
		return "no entropy from the system for TLS";
	case BR_ERR_UNKNOWN_TYPE:
		return "not TLS: a record of unknown type";
	case BR_ERR_BAD_LENGTH:
	case BR_ERR_TOO_LARGE:
		return "not TLS, or corrupted: a record of impossible length";
	case BR_ERR_BAD_SIGNATURE:
		return "the server's key exchange signature does not verify";
	case BR_ERR_WRONG_KEY_USAGE:
		return "the certificate's key does not fit the cipher suite";
	case BR_ERR_BAD_SECRENEG:
	case BR_ERR_BAD_FINISHED:
	case BR_ERR_RESUME_MISMATCH:
	case BR_ERR_BAD_HANDSHAKE:
	case BR_ERR_UNEXPECTED:
	case BR_ERR_BAD_CCS:
	case BR_ERR_BAD_ALERT:
	case BR_ERR_OVERSIZED_ID:
	case BR_ERR_BAD_COMPRESSION:
	case BR_ERR_BAD_FRAGLEN:
	case BR_ERR_EXTRA_EXTENSION:
	case BR_ERR_BAD_SNI:
	case BR_ERR_BAD_HELLO_DONE:
	case BR_ERR_INVALID_ALGORITHM:
		return "TLS handshake protocol violation by the server";
	default:
		if (e >= BR_ERR_X509_INVALID_VALUE && e <= BR_ERR_X509_BAD_TIME)
			return "malformed certificate from the server";
		return "TLS failure";
	}
}
