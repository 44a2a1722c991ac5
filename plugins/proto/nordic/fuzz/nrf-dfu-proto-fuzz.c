/*
 * Copyright 2025 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * libFuzzer target for the Secure DFU core. The first byte picks what is fuzzed:
 * 0 the SLIP decoder (the rest fed in chunks whose sizes come from the input),
 * 1 the response decoder, anything else a whole transfer (or, for odd values, one request)
 * whose device replies are the rest of the input: each reply is a length byte and that many
 * bytes; when the input runs out every read times out.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nrf-dfu-proto.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_slip(const uint8_t *data, size_t size)
{
	NrfDfuProtoSlipDecoder dec;
	size_t pos = 0;

	nrf_dfu_proto_slip_decoder_init(&dec);
	while (pos < size) {
		size_t chunk = (data[pos] % 17) + 1;
		size_t consumed = 0;
		pos++;
		if (chunk > size - pos)
			chunk = size - pos;
		while (chunk > 0) {
			bool frame =
			    nrf_dfu_proto_slip_decoder_feed(&dec, data + pos, chunk, &consumed);
			if (consumed > chunk || dec.len > sizeof(dec.buf))
				abort();
			if (frame) {
				uint8_t enc[2 * NRF_DFU_PROTO_SLIP_RX_MAX + 1];
				NrfDfuProtoSlipDecoder again;
				size_t n =
				    nrf_dfu_proto_slip_encode(dec.buf, dec.len, enc, sizeof(enc));
				size_t used = 0;
				/* what was decoded encodes and decodes to itself */
				nrf_dfu_proto_slip_decoder_init(&again);
				if (n == 0 ||
				    !nrf_dfu_proto_slip_decoder_feed(&again, enc, n, &used) ||
				    again.len != dec.len ||
				    memcmp(again.buf, dec.buf, dec.len) != 0)
					abort();
			}
			pos += consumed;
			chunk -= consumed;
			if (consumed == 0)
				break;
		}
	}
}

static void
fuzz_session(const uint8_t *data, size_t size, bool transfer)
{
	static NrfDfuProtoSession s;
	static uint8_t init_packet[140];
	static uint8_t image[9000];
	uint64_t now = 0;
	size_t pos = 0;

	for (size_t i = 0; i < sizeof(image); i++)
		image[i] = (uint8_t)(i * 7 + 3);
	for (size_t i = 0; i < sizeof(init_packet); i++)
		init_packet[i] = (uint8_t)(i * 5 + 1);
	nrf_dfu_proto_session_init(&s);
	if (transfer) {
		nrf_dfu_proto_session_start_transfer(&s,
						     init_packet,
						     sizeof(init_packet),
						     image,
						     sizeof(image),
						     size > 0 ? data[0] % 5 : 0,
						     size > 1 ? data[1] & 1 : 0);
		pos = 2;
	} else {
		NrfDfuProtoRequest req = {.op = size > 0 ? data[0] % 0x0D : 0,
					  .object_type = 1,
					  .image = 2};
		nrf_dfu_proto_session_start_request(&s, &req);
		pos = 1;
	}
	for (unsigned i = 0; i < 100000; i++) {
		NrfDfuProtoAction a;
		size_t done = 0, total = 0;
		nrf_dfu_proto_session_next(&s, now, &a);
		nrf_dfu_proto_session_get_progress(&s, &done, &total);
		if (done > total)
			abort();
		switch (a.kind) {
		case NRF_DFU_PROTO_ACTION_DONE:
			return;
		case NRF_DFU_PROTO_ACTION_ERROR:
			/* the plugin turns it into the GError the user reads */
			if (a.message == NULL || a.message[0] == '\0')
				abort();
			return;
		case NRF_DFU_PROTO_ACTION_SEND:
			if (a.length == 0 || a.length > NRF_DFU_PROTO_MTU_MAX ||
			    a.bytes[a.length - 1] != NRF_DFU_PROTO_SLIP_END)
				abort();
			now += 1;
			nrf_dfu_proto_session_feed_sent(&s, NRF_DFU_PROTO_IO_OK, now);
			break;
		case NRF_DFU_PROTO_ACTION_RECEIVE: {
			size_t n;
			if (pos >= size) {
				now += a.timeout_ms;
				nrf_dfu_proto_session_feed_received(&s,
								    NRF_DFU_PROTO_IO_TIMEOUT,
								    NULL,
								    0,
								    now);
				break;
			}
			n = data[pos++];
			if (n > size - pos)
				n = size - pos;
			nrf_dfu_proto_session_feed_received(&s,
							    NRF_DFU_PROTO_IO_OK,
							    data + pos,
							    n,
							    now);
			pos += n;
			break;
		}
		}
	}
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	switch (data[0]) {
	case 0:
		fuzz_slip(data + 1, size - 1);
		break;
	case 1: {
		NrfDfuProtoResponse resp;
		(void)nrf_dfu_proto_response_decode(data + 1, size - 1, &resp);
		break;
	}
	default:
		fuzz_session(data + 1, size - 1, (data[0] & 1) == 0);
		break;
	}
	return 0;
}
