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

#endif
