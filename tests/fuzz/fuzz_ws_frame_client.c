/*
 * fuzz_ws_frame_client: ws_frame_parse in the client role (the peer's frames
 * are unmasked), then ws_msg_feed. See ws_frame_common.h for
 * the input layout and the invariants.
 */
#define FUZZ_WS_ROLE WS_ROLE_CLIENT
#include "ws_frame_common.h"
