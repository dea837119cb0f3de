/*
 * fuzz_rest_json — the REST API's JSON request parsing (server/src/payload.c): message
 * content and shopping context as an agent backend or a hostile client would send them.
 *
 * Input: the first byte chooses the parser (content or context), the rest is the JSON
 * text. Properties: jansson either refuses the text or the parser returns a structure or
 * NULL with a NUL-terminated, non-empty message (exact-size buffers, so that an overrun is
 * caught); an accepted content passes souk_wire_validate_content, packs, unpacks, and
 * converts back to JSON; an accepted context passes souk_wire_validate_context and
 * converts back to JSON.
 */
#include <jansson.h>
#include <string.h>

#include "fuzz_util.h"
#include "payload.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int which = data[0] & 1;
	json_t *j = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, NULL);
	if (!j)
		return 0;
	size_t errlen = 1 + data[0] % 200;
	char *err = malloc(errlen);
	FUZZ_CHECK(err, "out of memory");
	memset(err, 0x5A, errlen);
	if (which == 0) {
		Souk__V1__Content *c =
			payload_content_from_json(j, SOUK_WIRE_MAX_MESSAGE, err, errlen);
		if (c) {
			FUZZ_CHECK(souk_wire_validate_content(c, SOUK_WIRE_MAX_MESSAGE).code == 0,
				   "accepted content is valid on the wire");
			size_t n = souk__v1__content__get_packed_size(c);
			uint8_t *buf = malloc(n ? n : 1);
			FUZZ_CHECK(buf, "out of memory");
			souk__v1__content__pack(c, buf);
			Souk__V1__Content *back = souk__v1__content__unpack(NULL, n, buf);
			FUZZ_CHECK(back != NULL, "accepted content round-trips");
			FUZZ_CHECK(back->kind_case == c->kind_case, "the kind survives");
			json_t *out = payload_content_to_json(back);
			FUZZ_CHECK(out != NULL, "content converts back to JSON");
			json_decref(out);
			souk__v1__content__free_unpacked(back, NULL);
			free(buf);
			souk__v1__content__free_unpacked(c, NULL);
		} else {
			FUZZ_CHECK(memchr(err, 0, errlen) && (errlen == 1 || err[0]),
				   "a refusal comes with a terminated, non-empty message");
		}
	} else {
		Souk__V1__ShoppingContext *x = payload_context_from_json(j, err, errlen);
		if (x) {
			FUZZ_CHECK(souk_wire_validate_context(x).code == 0,
				   "accepted context is valid on the wire");
			json_t *out = payload_context_to_json(x);
			FUZZ_CHECK(out != NULL, "context converts back to JSON");
			json_decref(out);
			souk__v1__shopping_context__free_unpacked(x, NULL);
		} else {
			FUZZ_CHECK(memchr(err, 0, errlen) && (errlen == 1 || err[0]),
				   "a refusal comes with a terminated, non-empty message");
		}
	}
	free(err);
	json_decref(j);
	return 0;
}
