# Module objects each fuzz target links (names relative to build-fuzz/obj/,
# no .o), and extra libraries. Read by the fuzzing block of the Makefile.
fuzz_http_request_DEPS       := http
fuzz_http_response_DEPS      := http
fuzz_url_DEPS                := http
fuzz_ws_frame_server_DEPS    := ws b64 utf8
fuzz_ws_frame_client_DEPS    := ws b64 utf8
fuzz_ws_close_utf8_DEPS      := ws b64 utf8
fuzz_ws_diff_DEPS            := ws b64 utf8
fuzz_ws_diff_LIBS            := -lwslay
fuzz_json_DEPS               := json ws b64 utf8
fuzz_jwt_DEPS                := jwt b64 json utf8
fuzz_duration_and_time_DEPS  := timefmt
fuzz_config_DEPS             := run/config run/scenfile run/threshold opt http json jsonw timefmt b64 utf8 engine/ring
fuzz_argv_DEPS               := run/config run/scenfile run/threshold opt http json jsonw timefmt b64 utf8 engine/ring
fuzz_threshold_DEPS          := run/threshold
fuzz_echo_DEPS               := run/echo json utf8
fuzz_histjson_DEPS           := histjson hist json jsonw utf8
fuzz_scenfile_DEPS           := run/scenfile run/config run/threshold opt http json jsonw timefmt b64 utf8 engine/ring
