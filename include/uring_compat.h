/*
 * uring_compat: the io_uring constants newer than Debian 12's liburing 2.3
 * and linux 6.1 headers, in one place, each with the kernel that added it.
 * Whether the running kernel has them is probed at start (ring.c), never
 * assumed from these definitions.
 */
#ifndef ESMELOAD_URING_COMPAT_H
#define ESMELOAD_URING_COMPAT_H

#include <liburing.h>

#ifndef IORING_SETUP_NO_SQARRAY
#define IORING_SETUP_NO_SQARRAY (1U << 16)      /* 6.6 */
#endif
#ifndef IORING_RECVSEND_BUNDLE
#define IORING_RECVSEND_BUNDLE (1U << 4)        /* 6.10 */
#endif
#ifndef IORING_FEAT_RECVSEND_BUNDLE
#define IORING_FEAT_RECVSEND_BUNDLE (1U << 14)  /* 6.10 */
#endif
#ifndef IORING_FEAT_MIN_TIMEOUT
#define IORING_FEAT_MIN_TIMEOUT (1U << 15)      /* 6.12 */
#endif
/* Opcodes by number: the 6.1 enum stops at IORING_OP_URING_CMD (46). */
#define ESME_IORING_OP_SEND_ZC 47               /* 6.0 */
#define ESME_IORING_OP_BIND 56                  /* 6.11 */
#define ESME_IORING_OP_LISTEN 57                /* 6.11 */

#endif
