/*
 * fuzz_wire_client — the server's frame decoder: every WebSocket message a client sends
 * goes through souk_wire_decode_keep(from_client = 1) in soukd's on_frame().
 *
 * Input: one WebSocket message, as is. Properties: those of wire_check.h, plus the
 * decoder's UTF-8 check agrees with an independent implementation on the raw input.
 */
#include "fuzz_util.h"
#include "wire_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FUZZ_CHECK(!souk_wire_utf8_valid((const char *)data, size) ==
			   !fuzz_utf8_valid_ref(data, size),
		   "souk_wire_utf8_valid agrees with the reference");
	wire_check(data, size, 1, NULL, NULL);
	return 0;
}
