/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * libFuzzer target for the Secure DFU core. The first byte picks what is fuzzed:
 * 0 the SLIP decoder (the rest fed in chunks whose sizes come from the input) and the serial
 * link's encoder, 1 the response decoder, anything else a whole transfer (or, for odd values,
 * one request) whose device replies are the rest of the input: each reply is a length byte and
 * that many bytes; when the input runs out every read times out. A transfer runs over a serial
 * link (requests SLIP-encoded with nrf_dfu_proto_serial_encode(), replies a byte stream through
 * nrf_dfu_proto_serial_feed()) or, as on BLE, unframed (a packet size instead of MTU get, each
 * reply one whole response).
 */

#include <stdbool.h>
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
				uint8_t enc[2 * NRF_DFU_PROTO_SLIP_RX_MAX + 2];
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
				/* and as object data on a serial link: the WRITE request with it */
				n = nrf_dfu_proto_serial_encode(NRF_DFU_PROTO_CHANNEL_PACKET,
								dec.buf,
								dec.len - 1,
								enc,
								sizeof(enc));
				nrf_dfu_proto_slip_decoder_init(&again);
				if (n == 0 ||
				    !nrf_dfu_proto_slip_decoder_feed(&again, enc, n, &used) ||
				    used != n || again.len != dec.len ||
				    again.buf[0] != NRF_DFU_PROTO_OP_WRITE ||
				    memcmp(again.buf + 1, dec.buf, dec.len - 1) != 0)
					abort();
			}
			pos += consumed;
			chunk -= consumed;
			if (consumed == 0)
				break;
		}
	}
}

/*
 * What a transfer may cost, from the bounds the session keeps. Every request is sent at most
 * NRF_DFU_PROTO_TIMEOUT_RETRIES + 1 times in a row without a reply; an object costs its writes
 * plus select, create, CRC and execute (and with PRN a CRC request per notification that does
 * not come). The init packet goes at most twice (once more to reset the device's progress),
 * each time with up to NRF_DFU_PROTO_OBJECT_RETRIES restarts. Data: the executed part of the
 * image grows at least a byte per epoch (an object of the smallest size the device reported),
 * and within an epoch at most NRF_DFU_PROTO_OBJECT_SENDS_MAX + 1 objects are created, each
 * restarted at most NRF_DFU_PROTO_OBJECT_RETRIES times; setbacks (at most
 * NRF_DFU_PROTO_SETBACKS_MAX) each add an epoch's worth. What no counter bounds is a reply
 * that does not come, which costs the harness a whole step timeout (at least
 * NRF_DFU_PROTO_TIMEOUT_REPLY_MS) of the transfer's budget: at most budget /
 * NRF_DFU_PROTO_TIMEOUT_REPLY_MS of those, each redoing at most one object.
 */
typedef struct {
	size_t init_len;
	size_t image_len;
	uint16_t prn;
	size_t write_size_min; /* smallest write the session used, 0 before the MTU is known */
	uint32_t object_min;   /* smallest and largest data object size the device reported */
	uint32_t object_max;
	uint64_t budget_max_ms; /* largest budget the session computed */
	uint32_t step_timeout_max_ms;
} FuzzBounds;

static uint64_t
fuzz_object_sends(const FuzzBounds *b, uint64_t len)
{
	const uint64_t r = NRF_DFU_PROTO_TIMEOUT_RETRIES + 1;
	uint64_t ws = b->write_size_min != 0 ? b->write_size_min : 1;
	uint64_t writes = len / ws + 1;
	uint64_t crcs = b->prn != 0 ? writes / b->prn + 1 : 0;
	return r * (4 + crcs) + writes;
}

static uint64_t
fuzz_sends_max(const FuzzBounds *b)
{
	const uint64_t object_len =
	    b->object_max != 0 && b->object_max < b->image_len ? b->object_max : b->image_len;
	const uint64_t epochs = b->image_len / (b->object_min != 0 ? b->object_min : 1) + 1;
	const uint64_t per_object = fuzz_object_sends(b, object_len);
	uint64_t n = NRF_DFU_PROTO_PING_TRIES + 2 * (NRF_DFU_PROTO_TIMEOUT_RETRIES + 1);

	n += 2 * (NRF_DFU_PROTO_OBJECT_RETRIES + 2) * fuzz_object_sends(b, b->init_len);
	n += 2 * (epochs + NRF_DFU_PROTO_SETBACKS_MAX + 1) * (NRF_DFU_PROTO_OBJECT_SENDS_MAX + 1) *
	     (NRF_DFU_PROTO_OBJECT_RETRIES + 2) * per_object;
	n += (b->budget_max_ms / NRF_DFU_PROTO_TIMEOUT_REPLY_MS + 2) * per_object;
	return n;
}

static void
fuzz_bounds_update(FuzzBounds *b, const NrfDfuProtoSession *s, const NrfDfuProtoAction *a)
{
	uint64_t budget = nrf_dfu_proto_session_budget_ms(s);

	if (s->write_size != 0 && (b->write_size_min == 0 || s->write_size < b->write_size_min))
		b->write_size_min = s->write_size;
	if (s->object == NRF_DFU_PROTO_OBJECT_DATA && s->max_size != 0) {
		if (b->object_min == 0 || s->max_size < b->object_min)
			b->object_min = s->max_size;
		if (s->max_size > b->object_max)
			b->object_max = s->max_size;
	}
	if (budget > b->budget_max_ms)
		b->budget_max_ms = budget;
	if ((a->kind == NRF_DFU_PROTO_ACTION_SEND || a->kind == NRF_DFU_PROTO_ACTION_RECEIVE) &&
	    a->timeout_ms > b->step_timeout_max_ms)
		b->step_timeout_max_ms = a->timeout_ms;
}

/*
 * The device: each read is a length byte and that many bytes of the input. Without cycling,
 * a device whose input ran out stops answering (every read times out). With cycling it
 * answers for ever: its replies start again from the first, so a device that keeps an update
 * going without end is expressible; an empty read is a read that waited its whole timeout.
 * Time passes as on a link: a frame takes NRF_DFU_PROTO_BYTE_US a byte (at least 1 ms), a read
 * that brings bytes 1 ms, a timeout all of its wait.
 */

/* a SEND on a serial link: one whole SLIP frame (its only END at its end) within the USB MTU,
 * and once the MTU is settled within the device's and the cap; returns its length */
static size_t
fuzz_check_serial_send(const NrfDfuProtoSession *s, const NrfDfuProtoAction *a, uint16_t mtu_max)
{
	static uint8_t frame[NRF_DFU_PROTO_MTU_MAX];
	size_t n =
	    nrf_dfu_proto_serial_encode(a->channel, a->bytes, a->length, frame, sizeof(frame));

	if (n == 0 || frame[n - 1] != NRF_DFU_PROTO_SLIP_END ||
	    memchr(frame, NRF_DFU_PROTO_SLIP_END, n - 1) != NULL)
		abort();
	if (s->phase >= NRF_DFU_PROTO_PHASE_COMMAND &&
	    (n > s->mtu || (mtu_max != 0 && n > mtu_max)))
		abort();
	return n;
}

/* a SEND on an unframed link: object data of at most one packet, or a request that starts
 * with its opcode; a transfer never asks the MTU (one request is what the caller asked) */
static void
fuzz_check_unframed_send(const NrfDfuProtoSession *s, const NrfDfuProtoAction *a, bool transfer)
{
	if (a->channel == NRF_DFU_PROTO_CHANNEL_PACKET) {
		if (a->op != NRF_DFU_PROTO_OP_WRITE || a->length > s->packet_size)
			abort();
		return;
	}
	if (a->channel != NRF_DFU_PROTO_CHANNEL_CONTROL || a->length == 0 ||
	    a->length > NRF_DFU_PROTO_REQUEST_MAX || a->bytes[0] != a->op ||
	    (transfer && a->op == NRF_DFU_PROTO_OP_MTU_GET))
		abort();
}

static void
fuzz_session(const uint8_t *data, size_t size, bool transfer)
{
	static NrfDfuProtoSession s;
	static uint8_t init_packet[256];
	static uint8_t image[4096];
	FuzzBounds bounds = {0};
	uint64_t now = 0;
	uint64_t sends = 0;
	uint64_t actions = 0;
	size_t pos = 0;
	size_t replies = 0;
	bool cycle = false;
	bool unframed = false;
	uint16_t mtu_max = 0;
	NrfDfuProtoSlipDecoder rx;

	for (size_t i = 0; i < sizeof(image); i++)
		image[i] = (uint8_t)(i * 7 + 3);
	for (size_t i = 0; i < sizeof(init_packet); i++)
		init_packet[i] = (uint8_t)(i * 5 + 1);
	nrf_dfu_proto_session_init(&s);
	nrf_dfu_proto_slip_decoder_init(&rx);
	if (transfer) {
		/* prn, flags (ping, cycle, unframed), init length, image length, MTU cap (the
		 * packet size when unframed), link speed */
		uint8_t flags = size > 1 ? data[1] : 0;
		bounds.prn = size > 0 ? data[0] % 5 : 0;
		bounds.init_len = size > 2 ? data[2] : sizeof(init_packet) / 2;
		bounds.image_len = size > 4 ? ((size_t)data[3] << 8 | data[4]) % (sizeof(image) + 1)
					    : sizeof(image);
		mtu_max = size > 6 ? (uint16_t)(data[5] << 8 | data[6]) : 0;
		cycle = (flags & 0x02) != 0;
		unframed = (flags & 0x04) != 0;
		if (unframed)
			s.packet_size = mtu_max % 1024 + 1;
		else
			s.mtu_max = mtu_max;
		s.byte_us = size > 7 ? (uint32_t)data[7] * 10 : 0;
		nrf_dfu_proto_session_start_transfer(&s,
						     init_packet,
						     bounds.init_len,
						     image,
						     bounds.image_len,
						     bounds.prn,
						     flags & 1);
		pos = 8;
	} else {
		NrfDfuProtoRequest req = {.op = size > 0 ? data[0] % 0x0D : 0,
					  .object_type = 1,
					  .image = 2};
		cycle = size > 1 && (data[1] & 0x02) != 0;
		unframed = size > 1 && (data[1] & 0x04) != 0;
		nrf_dfu_proto_session_start_request(&s, &req);
		pos = 2;
	}
	replies = pos < size ? pos : size;
	for (;;) {
		NrfDfuProtoAction a;
		size_t done = 0, total = 0;

		nrf_dfu_proto_session_next(&s, now, &a);
		nrf_dfu_proto_session_get_progress(&s, &done, &total);
		if (done > total)
			abort();
		fuzz_bounds_update(&bounds, &s, &a);
		/* the length budget: nothing goes on past it by more than one step's wait */
		if (transfer && s.started &&
		    now - s.started_ms > bounds.budget_max_ms + bounds.step_timeout_max_ms + 1000)
			abort();
		if (transfer &&
		    (sends > fuzz_sends_max(&bounds) ||
		     actions > (fuzz_sends_max(&bounds) + 1) *
				   (bounds.step_timeout_max_ms + NRF_DFU_PROTO_STALE_MAX + 3)))
			abort();
		if (!transfer && actions > 100000)
			abort();
		actions++;
		switch (a.kind) {
		case NRF_DFU_PROTO_ACTION_DONE:
			if (transfer && done != bounds.image_len)
				abort();
			return;
		case NRF_DFU_PROTO_ACTION_ERROR:
			/* the plugin turns it into the GError the user reads */
			if (a.error == NRF_DFU_PROTO_ERROR_NONE || a.message == NULL ||
			    a.message[0] == '\0')
				abort();
			return;
		case NRF_DFU_PROTO_ACTION_SEND: {
			size_t n = a.length;
			if (a.timeout_ms == 0)
				abort();
			if (unframed)
				fuzz_check_unframed_send(&s, &a, transfer);
			else
				n = fuzz_check_serial_send(&s, &a, mtu_max);
			sends++;
			now += n * NRF_DFU_PROTO_BYTE_US / 1000 + 1;
			nrf_dfu_proto_session_feed_sent(&s, PROTO_IO_OK, now);
			break;
		}
		case NRF_DFU_PROTO_ACTION_RECEIVE: {
			size_t n = 0;
			bool timeout;
			if (a.timeout_ms == 0)
				abort();
			if (pos >= size && cycle && replies < size)
				pos = replies;
			/* the input ran out; when cycling, an empty read times out too */
			timeout = pos >= size;
			if (!timeout) {
				n = data[pos++];
				if (n > size - pos)
					n = size - pos;
				timeout = n == 0 && cycle;
			}
			if (timeout) {
				now += a.timeout_ms;
				nrf_dfu_proto_session_feed_received(&s,
								    PROTO_IO_TIMEOUT,
								    NULL,
								    0,
								    now);
				break;
			}
			now += 1;
			if (unframed)
				nrf_dfu_proto_session_feed_received(&s,
								    PROTO_IO_OK,
								    data + pos,
								    n,
								    now);
			else
				nrf_dfu_proto_serial_feed(&rx, &s, PROTO_IO_OK, data + pos, n, now);
			pos += n;
			break;
		}
		}
	}
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
