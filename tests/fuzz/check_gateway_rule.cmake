# Fails when the reassembly rule of LWS_CALLBACK_RECEIVE (server/src/gateway.c) is no
# longer the one fuzz_fragments.c copies. Usage: cmake -DGATEWAY=<gateway.c> -P <this>
file(READ ${GATEWAY} src)
foreach(line
    "if (c->rx_len + len > SOUK_WIRE_MAX_FRAME) {"
    "int final = lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);"
    "if (final && c->rx_len == 0) {"
    "on_frame(c, in, len); /* the common case: no copy */"
    "if (c->rx_len + len > c->rx_cap) {"
    "size_t cap = c->rx_cap ? c->rx_cap : 4096;"
    "memcpy(c->rx + c->rx_len, in, len);"
    "on_frame(c, c->rx, c->rx_len);")
  string(FIND "${src}" "${line}" pos)
  if(pos EQUAL -1)
    message(FATAL_ERROR "gateway.c no longer contains '${line}': update reassemble() "
                        "in tests/fuzz/fuzz_fragments.c to the new rule, then this list")
  endif()
endforeach()
message(STATUS "gateway reassembly rule matches fuzz_fragments.c")
