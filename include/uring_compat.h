/*
 * uring_compat: the io_uring constants newer than Debian 12's liburing 2.3
 * headers, in one place, each with the kernel that added it. Whether the
 * running kernel has them is probed at start (ring.c, worker.c), never
 * assumed from these definitions.
 */
#ifndef ESMELOAD_URING_COMPAT_H
#define ESMELOAD_URING_COMPAT_H

#include <liburing.h>

/* SEND_ZC: report in the notification whether the kernel copied. */
#ifndef IORING_SEND_ZC_REPORT_USAGE
#define IORING_SEND_ZC_REPORT_USAGE (1U << 3)        /* 6.2 */
#endif
#ifndef IORING_NOTIF_USAGE_ZC_COPIED
#define IORING_NOTIF_USAGE_ZC_COPIED (1U << 31)      /* 6.2 */
#endif

/* Wait: the minimum time to wait for a batch (io_uring_getevents_arg's
 * min_wait_usec, the field liburing 2.3 calls pad). */
#ifndef IORING_FEAT_MIN_TIMEOUT
#define IORING_FEAT_MIN_TIMEOUT (1U << 15)           /* 6.12 */
#endif
/* Receive into several provided buffers at once (in sqe->ioprio). */
#ifndef IORING_RECVSEND_BUNDLE
#define IORING_RECVSEND_BUNDLE (1U << 4)             /* 6.10 */
#endif
#ifndef IORING_FEAT_RECVSEND_BUNDLE
#define IORING_FEAT_RECVSEND_BUNDLE (1U << 14)       /* 6.10 */
#endif
/* Provided buffers consumed incrementally: the buffer ring's registration
 * flag, and the completion flag saying the buffer stays with the kernel
 * (more data will follow in it). */
#ifndef IOU_PBUF_RING_INC
#define IOU_PBUF_RING_INC 2                          /* 6.12 */
#endif
#ifndef IORING_CQE_F_BUF_MORE
#define IORING_CQE_F_BUF_MORE (1U << 4)              /* 6.12 */
#endif

#endif
