# Module objects each unit test links (names relative to build/obj/, no .o).
test_b64_DEPS     := b64
test_ws_DEPS      := ws b64 utf8
test_http_DEPS    := http
test_json_DEPS    := json jsonw utf8
test_jwt_DEPS     := jwt b64 json utf8
test_timefmt_DEPS := timefmt
test_tw_DEPS      := tw
test_pool_DEPS    := pool outq
test_run_config_DEPS := run/config run/threshold opt http json jsonw timefmt b64 utf8
test_run_output_DEPS := run/output run/config run/threshold opt http b64 hist jsonw json timefmt utf8 ring
test_hist_DEPS    := hist
test_delay_DEPS   := serve/delay
test_report_DEPS := report/load report/svg report/html report/compare json jsonw timefmt utf8
test_tls_DEPS     := tls
test_threshold_DEPS := run/threshold
test_echo_DEPS    := run/echo json utf8
test_run_tick_DEPS := tw
