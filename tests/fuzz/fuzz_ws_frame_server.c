/*
 * fuzz_ws_frame_server: ws_frame_parse in the server role (the peer's frames
 * are masked), then ws_msg_feed. See ws_frame_common.h for
 * the input layout and the invariants.
 */
#define FUZZ_WS_ROLE WS_ROLE_SERVER
#include "ws_frame_common.h"
