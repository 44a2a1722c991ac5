/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * libFuzzer target for the COBS core. The low two bits of the first byte pick what to drive:
 *   0: the COBS decoder with the rest of the input, into outputs of several sizes; whatever
 *      decodes must encode back to something that decodes the same;
 *   1: the frame, ACK and erase-ACK parsers with the rest of the input;
 *   2: an update session: image size, queue depth, chunks a transfer, verify use, erase time
 *      and reply slack from the next bytes, then one record per action: a control byte
 *      (result, time step) and for RECEIVE a length byte and that many reply bytes;
 *   3: the encoder with the rest of the input, checked by decoding.
 * The harness checks what the core promises its caller: every message at most 64 bytes with
 * its only zero at the end and all but the last of a transfer exactly 64, chunks that carry
 * the image in order and go several to a transfer only where allowed, nothing but chunks
 * sent with replies owed and no chunk before the erase's reply, no more outstanding than the
 * queue and the transfers allow, a timeout on every transfer (0 would wait for ever), one
 * last look at most for a late reply, progress never past the total, and an end.
 */

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cobs-proto.h"
#include "proto-fuzz.h"

#define FUZZ_STEPS_MAX 100000u

/* what encodes (up to 4 KiB of it) has no zero byte and decodes back to the same bytes */
static void
fuzz_round_trip(const uint8_t *data, size_t len)
{
	static uint8_t enc[8192];
	static uint8_t back[4096];
	size_t enc_len = 0;
	size_t back_len = 0;

	if (len > sizeof(back))
		len = sizeof(back);
	if (cobs_proto_encode(data, len, enc, sizeof(enc), &enc_len) != COBS_PROTO_ERROR_NONE)
		__builtin_trap();
	if (enc_len > cobs_proto_encoded_size_max(len) || memchr(enc, 0, enc_len) != NULL)
		__builtin_trap();
	if (cobs_proto_decode(enc, enc_len, back, sizeof(back), &back_len) !=
		COBS_PROTO_ERROR_NONE ||
	    back_len != len || memcmp(back, data, len) != 0)
		__builtin_trap();
}

static void
fuzz_decode(const uint8_t *data, size_t len)
{
	static const size_t sizes[] = {0, 1, 61, 64, 255, 4096};
	static uint8_t out[4096];

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t out_len = 0;
		if (cobs_proto_decode(data, len, out, sizes[i], &out_len) != COBS_PROTO_ERROR_NONE)
			continue;
		if (out_len > sizes[i] || out_len > len)
			__builtin_trap();
		fuzz_round_trip(out, out_len);
	}
}

static void
fuzz_parsers(const uint8_t *data, size_t len)
{
	CobsProtoFrame frame;
	char msg[160];
	uint8_t caps = 0;
	uint32_t version = 0;
	CobsProtoError rc;

	msg[0] = '\0';
	rc = cobs_proto_frame_parse(data, len, &frame, msg, sizeof(msg));
	if (rc == COBS_PROTO_ERROR_NONE && frame.payload_len > COBS_PROTO_MESSAGE_MAX)
		__builtin_trap();
	if (rc != COBS_PROTO_ERROR_NONE && msg[0] == '\0')
		__builtin_trap();
	msg[0] = '\0';
	rc = cobs_proto_ack_parse(data, len, msg, sizeof(msg));
	if (rc == COBS_PROTO_ERROR_NONE && !(len == 2 && data[0] == 0x06 && data[1] == 0x00))
		__builtin_trap();
	if (rc != COBS_PROTO_ERROR_NONE && msg[0] == '\0')
		__builtin_trap();
	msg[0] = '\0';
	rc = cobs_proto_erase_ack_parse(data, len, &caps, msg, sizeof(msg));
	if (rc != COBS_PROTO_ERROR_NONE && msg[0] == '\0')
		__builtin_trap();
	msg[0] = '\0';
	rc = cobs_proto_version_reply_parse(data, len, &version, msg, sizeof(msg));
	if (rc != COBS_PROTO_ERROR_NONE && msg[0] == '\0')
		__builtin_trap();
}

static ProtoIo
fuzz_result(uint8_t control)
{
	switch (control & 0x0F) {
	case 1:
		return PROTO_IO_TIMEOUT;
	case 2:
		return PROTO_IO_NO_DEVICE;
	case 3:
		return PROTO_IO_ERROR;
	default:
		return PROTO_IO_OK;
	}
}

/* what the core sent: whole 64-byte messages but the last, each with its only zero at its
 * end; chunks carry the image bytes in order, and only chunks go several to a transfer */
static void
fuzz_check_message(const CobsProtoAction *action,
		   const uint8_t *image,
		   uint32_t batch,
		   uint32_t *next_offset)
{
	uint32_t batch_offset = *next_offset;
	size_t pos = 0;

	if (action->count == 0 || action->count > batch ||
	    (action->count > 1 && action->step != COBS_PROTO_STEP_WRITE))
		__builtin_trap();
	for (uint32_t i = 0; i < action->count; i++) {
		uint8_t payload[COBS_PROTO_MESSAGE_MAX];
		size_t payload_len = 0;
		size_t len = i + 1 < action->count ? COBS_PROTO_MESSAGE_MAX : action->length - pos;
		const uint8_t *msg = action->bytes + pos;

		if (pos + len > action->length || len < 2 || len > COBS_PROTO_MESSAGE_MAX ||
		    msg[len - 1] != 0x00 || memchr(msg, 0, len - 1) != NULL)
			__builtin_trap();
		pos += len;
		if (action->step != COBS_PROTO_STEP_WRITE)
			continue;
		if (cobs_proto_decode(msg + 1, len - 2, payload, sizeof(payload), &payload_len) !=
		    COBS_PROTO_ERROR_NONE)
			__builtin_trap();
		if (payload_len == 0 || payload_len > COBS_PROTO_CHUNK_MAX ||
		    memcmp(payload, image + *next_offset, payload_len) != 0)
			__builtin_trap();
		*next_offset += (uint32_t)payload_len;
	}
	if (action->step == COBS_PROTO_STEP_WRITE &&
	    (action->image_offset != batch_offset ||
	     action->image_length != *next_offset - batch_offset))
		__builtin_trap();
}

static void
fuzz_session(const uint8_t *data, size_t len)
{
	FuzzInput in = {.data = data, .len = len};
	static uint8_t image[4096];
	CobsProtoConfig config;
	CobsProtoSession session;
	uint32_t image_size;
	uint32_t next_offset = 0;
	uint32_t batch;
	uint64_t now = 0;
	CobsProtoError start_error;

	cobs_proto_config_init(&config);
	image_size = ((uint32_t)fuzz_byte(&in) << 4 | fuzz_byte(&in)) % sizeof(image);
	config.queue_depth = fuzz_byte(&in) % (COBS_PROTO_QUEUE_DEPTH_MAX + 2);
	config.batch_max = fuzz_byte(&in) % (COBS_PROTO_BATCH_MAX + 2);
	batch = config.queue_depth > 0 && config.batch_max > 0 ? config.batch_max : 1;
	config.use_verify = (fuzz_byte(&in) & 1) != 0;
	config.sector_erase_ms = fuzz_byte(&in);
	config.reply_slack_ms = fuzz_byte(&in);
	for (uint32_t i = 0; i < image_size; i++)
		image[i] = (uint8_t)(i * 7 + (i >> 8));
	start_error = cobs_proto_session_start(&session, &config, image, image_size, 1024 * 1024);
	if (start_error != COBS_PROTO_ERROR_NONE) {
		CobsProtoAction action;
		cobs_proto_session_next(&session, now, &action);
		if (action.kind != COBS_PROTO_ACTION_ERROR || action.error != start_error ||
		    action.message == NULL || action.message[0] == '\0')
			__builtin_trap();
		return;
	}

	for (unsigned step = 0; step < FUZZ_STEPS_MAX; step++) {
		CobsProtoAction action;
		uint8_t control;
		uint8_t reply[256];
		size_t reply_len = 0;
		uint32_t done = 0;
		uint32_t total = 0;

		bool last_look_before = session.last_look_given;
		uint32_t answered_before = session.answered;

		cobs_proto_session_next(&session, now, &action);
		if (action.kind == COBS_PROTO_ACTION_DONE) {
			uint8_t after[64];
			size_t after_len = fuzz_byte(&in) % sizeof(after);
			/* done means every chunk went out, in order */
			if (next_offset != image_size)
				__builtin_trap();
			/* what comes after bye's reply: done still, or an error that says why */
			for (size_t i = 0; i < after_len; i++)
				after[i] = fuzz_byte(&in);
			cobs_proto_session_feed_after_bye(&session, after, after_len);
			cobs_proto_session_next(&session, now, &action);
			if (action.kind == COBS_PROTO_ACTION_ERROR &&
			    (action.message == NULL || action.message[0] == '\0'))
				__builtin_trap();
			if (action.kind != COBS_PROTO_ACTION_DONE &&
			    action.kind != COBS_PROTO_ACTION_ERROR)
				__builtin_trap();
			/* a frame there always fails the update */
			if (memchr(after, 0x00, after_len) != NULL &&
			    !cobs_proto_session_get_bye_unanswered(&session) &&
			    action.kind != COBS_PROTO_ACTION_ERROR)
				__builtin_trap();
			return;
		}
		if (action.kind == COBS_PROTO_ACTION_ERROR) {
			if (action.error == COBS_PROTO_ERROR_NONE || action.message == NULL ||
			    action.message[0] == '\0')
				__builtin_trap();
			return;
		}
		/* unanswered: what the device may hold, one transfer of chunks, and the one
		 * before it being answered */
		if (session.sent - session.answered > (uint32_t)config.queue_depth + 2 * batch - 1)
			__builtin_trap();
		if (action.timeout_ms == 0)
			__builtin_trap();
		control = fuzz_byte(&in);
		now += control >> 4;
		if (action.kind == COBS_PROTO_ACTION_SEND) {
			ProtoIo result = fuzz_result(control);
			uint32_t offset_if_failed = next_offset;
			/* erase, verify and bye alone; chunks only once the erase was answered */
			if ((action.step != COBS_PROTO_STEP_WRITE &&
			     session.sent != session.answered) ||
			    (action.step == COBS_PROTO_STEP_WRITE && session.answered < 1))
				__builtin_trap();
			fuzz_check_message(&action,
					   image,
					   batch,
					   result == PROTO_IO_OK ? &next_offset
								 : &offset_if_failed);
			cobs_proto_session_feed(&session, result, NULL, 0, now);
		} else {
			/* a late reply gets one last look, then the session fails */
			if (last_look_before && session.answered == answered_before)
				__builtin_trap();
			reply_len = fuzz_byte(&in);
			for (size_t i = 0; i < reply_len; i++)
				reply[i] = fuzz_byte(&in);
			/* an exhausted input is a silent device: the session must time out */
			if (in.pos >= in.len) {
				now += action.timeout_ms;
				cobs_proto_session_feed(&session, PROTO_IO_TIMEOUT, NULL, 0, now);
				continue;
			}
			cobs_proto_session_feed(&session,
						fuzz_result(control),
						reply,
						reply_len,
						now);
		}
		cobs_proto_session_get_progress(&session, NULL, &done, &total);
		if (done > total || total != image_size)
			__builtin_trap();
	}
	__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const FuzzDriver drivers[] = {fuzz_decode,
					     fuzz_parsers,
					     fuzz_session,
					     fuzz_round_trip};
	return fuzz_run_picked(data, size, drivers);
}
