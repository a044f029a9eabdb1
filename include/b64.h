/*
 * b64: base64 (RFC 4648 §4, padded) and base64url (§5, unpadded), no I/O.
 */
#ifndef ESMELOAD_B64_H
#define ESMELOAD_B64_H

#include <stddef.h>
#include <sys/types.h>

/* Length of the padded standard encoding of n bytes. */
#define B64_ENCODED_LEN(n) ((((n) + 2) / 3) * 4)
/* Length of the unpadded url-safe encoding of n bytes. */
#define B64URL_ENCODED_LEN(n) (((n) * 4 + 2) / 3)

/*
 * Encode n bytes of src into dst (which must hold B64_ENCODED_LEN(n) bytes,
 * no NUL is written). Returns the number of characters written.
 */
size_t b64_encode(char *dst, const void *src, size_t n);

/* Same with the url-safe alphabet and no padding (B64URL_ENCODED_LEN(n)). */
size_t b64url_encode(char *dst, const void *src, size_t n);

/*
 * Decode n characters of unpadded base64url (padding '=' is rejected, as JWS
 * requires) into dst of capacity cap. Returns the decoded length, -EINVAL for
 * a character outside the alphabet, an impossible length (n % 4 == 1) or
 * non-zero trailing bits, -ENOSPC when cap is too small.
 */
ssize_t b64url_decode(void *dst, size_t cap, const char *src, size_t n);

/*
 * Decode n characters of padded standard base64. Same returns as
 * b64url_decode; a length that is not a multiple of 4 is -EINVAL.
 */
ssize_t b64_decode(void *dst, size_t cap, const char *src, size_t n);

#endif
