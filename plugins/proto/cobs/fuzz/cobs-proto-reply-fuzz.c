/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * libFuzzer target for the part of the COBS core that turns what the device sends on bulk IN
 * into replies: cobs_proto_session_feed() with RESULT_OK reassembles frames from reads of any
 * size (a read may hold part of a reply, several, or bytes with no end marker) and hands each
 * complete one to the erase-ACK, ACK or verify-reply parser of the message it answers.
 *
 * Input: a configuration byte (queue depth, chunks a transfer, verify), a byte for the image
 * size, then the reads: a length byte and that many bytes each, at most the 64 bytes the
 * plugin's IN buffer holds (a longer length is cut there, as a bulk transfer would). The device
 * takes every message sent; once the input is used up it stops answering.
 *
 * Promises checked, per read: the reassembly buffer never overflows; replies are counted
 * only at an end marker (0x00), at most one per marker, never more than the messages sent;
 * a read that is exactly the plain ACK 06 00, arriving on a clean frame boundary while a chunk
 * or bye waits for one, is taken as its reply; a failure is an error with a message, marked as
 * about a reply when a broken or unexpected reply caused it (a verify reply that disagrees
 * with the image is neither); DONE only once every message is answered.
 */

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cobs-proto.h"
#include "proto-fuzz.h"

#define FUZZ_STEPS_MAX 100000u

static size_t
fuzz_count_ends(const uint8_t *buf, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == COBS_PROTO_FRAME_END)
			n++;
	}
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t image[COBS_PROTO_CHUNK_MAX * 8];
	FuzzInput in = {.data = data, .len = size, .pos = 0};
	CobsProtoConfig config;
	CobsProtoSession session;
	uint8_t cfg = fuzz_byte(&in);
	uint32_t image_size = fuzz_byte(&in) % sizeof(image) + 1;
	uint64_t now = 0;

	cobs_proto_config_init(&config);
	config.queue_depth = cfg % (COBS_PROTO_QUEUE_DEPTH_MAX + 1);
	config.batch_max = (cfg >> 3) % (COBS_PROTO_BATCH_MAX + 1);
	config.use_verify = (cfg & 0x80) != 0;
	for (uint32_t i = 0; i < image_size; i++)
		image[i] = (uint8_t)(i * 13 + 5);
	if (cobs_proto_session_start(&session, &config, image, image_size, 1024 * 1024) !=
	    COBS_PROTO_ERROR_NONE)
		__builtin_trap(); /* every configuration above is one the core takes */

	for (unsigned step = 0; step < FUZZ_STEPS_MAX; step++) {
		CobsProtoAction action;
		uint8_t buf[COBS_PROTO_MESSAGE_MAX];
		size_t len;
		uint32_t answered_before;
		size_t rx_before;
		bool ack_expected;

		cobs_proto_session_next(&session, now, &action);
		if (session.answered > session.sent || session.rx_len > sizeof(session.rx))
			__builtin_trap();
		if (action.kind == COBS_PROTO_ACTION_DONE) {
			if (session.answered != session.message_count)
				__builtin_trap();
			return 0;
		}
		if (action.kind == COBS_PROTO_ACTION_ERROR) {
			if (action.error == COBS_PROTO_ERROR_NONE || action.message == NULL ||
			    action.message[0] == '\0')
				__builtin_trap();
			return 0;
		}
		if (action.kind == COBS_PROTO_ACTION_SEND) {
			now += 1;
			cobs_proto_session_feed(&session, PROTO_IO_OK, NULL, 0, now);
			continue;
		}

		/* RECEIVE: the next read, or a device that went quiet */
		if (in.pos >= in.len) {
			now += action.timeout_ms;
			cobs_proto_session_feed(&session, PROTO_IO_TIMEOUT, NULL, 0, now);
			continue;
		}
		len = fuzz_byte(&in);
		if (len > sizeof(buf))
			len = sizeof(buf);
		if (len > in.len - in.pos)
			len = in.len - in.pos;
		memcpy(buf, in.data + in.pos, len);
		in.pos += len;
		answered_before = session.answered;
		rx_before = session.rx_len;
		ack_expected =
		    (action.step == COBS_PROTO_STEP_WRITE || action.step == COBS_PROTO_STEP_BYE) &&
		    session.answered < session.sent;
		now += 1;
		cobs_proto_session_feed(&session, PROTO_IO_OK, buf, len, now);

		if (session.rx_len > sizeof(session.rx) || session.answered > session.sent ||
		    session.answered < answered_before ||
		    session.answered - answered_before > fuzz_count_ends(buf, len))
			__builtin_trap();
		if (session.error != COBS_PROTO_ERROR_NONE) {
			if (session.message[0] == '\0')
				__builtin_trap();
			/* bytes that complete a frame fail as a reply (which names the message it
			 * was taken for), never as a send; a verify reply that disagrees with the
			 * image is a well-formed reply and names no chunk */
			if (fuzz_count_ends(buf, len) > 0 && session.answered == answered_before &&
			    session.error != COBS_PROTO_ERROR_VERIFY &&
			    !cobs_proto_session_get_error_about_reply(&session))
				__builtin_trap();
			continue;
		}
		/* what a well-behaved device sends is taken */
		if (ack_expected && rx_before == 0 && len == 2 &&
		    buf[0] == COBS_PROTO_CONTROL_ACK && buf[1] == COBS_PROTO_FRAME_END &&
		    session.answered != answered_before + 1)
			__builtin_trap();
	}
	__builtin_trap();
}
