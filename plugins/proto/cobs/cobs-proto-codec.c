/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * COBS, message building, reply parsing, CRC-32 and the step timeouts.
 */

#include <stdio.h>
#include <string.h>

#include "cobs-proto-private.h"

const char *
cobs_proto_error_to_string(CobsProtoError error)
{
	switch (error) {
	case COBS_PROTO_ERROR_NONE:
		return "none";
	case COBS_PROTO_ERROR_INVALID_ARGUMENT:
		return "invalid-argument";
	case COBS_PROTO_ERROR_NO_SPACE:
		return "no-space";
	case COBS_PROTO_ERROR_MALFORMED:
		return "malformed";
	case COBS_PROTO_ERROR_GARBAGE:
		return "garbage";
	case COBS_PROTO_ERROR_NOT_ACK:
		return "not-ack";
	case COBS_PROTO_ERROR_TIMEOUT:
		return "timeout";
	case COBS_PROTO_ERROR_NO_DEVICE:
		return "no-device";
	case COBS_PROTO_ERROR_IO:
		return "io";
	case COBS_PROTO_ERROR_VERIFY:
		return "verify";
	}
	return "unknown";
}

void
cobs_proto_hex(const uint8_t *buf, size_t len, char *out, size_t out_size)
{
	size_t pos = 0;
	/* enough to recognise what came without flooding the message */
	size_t shown = len > 16 ? 16 : len;

	if (out_size == 0)
		return;
	out[0] = '\0';
	for (size_t i = 0; i < shown && pos + 4 < out_size; i++)
		pos +=
		    (size_t)snprintf(out + pos, out_size - pos, i == 0 ? "%02x" : " %02x", buf[i]);
	if (shown < len && pos + 5 < out_size)
		snprintf(out + pos, out_size - pos, " ...");
}

size_t
cobs_proto_encoded_size_max(size_t len)
{
	return len + len / 254 + 1;
}

CobsProtoError
cobs_proto_encode(const uint8_t *src,
		  size_t src_len,
		  uint8_t *dst,
		  size_t dst_size,
		  size_t *dst_len)
{
	size_t code_pos = 0;
	size_t out = 1;
	uint8_t code = 1;

	if ((src == NULL && src_len > 0) || dst == NULL || dst_len == NULL)
		return COBS_PROTO_ERROR_INVALID_ARGUMENT;
	if (dst_size < 1)
		return COBS_PROTO_ERROR_NO_SPACE;
	for (size_t i = 0; i < src_len; i++) {
		if (src[i] == 0x00) {
			dst[code_pos] = code;
			code_pos = out++;
			code = 1;
			if (code_pos >= dst_size)
				return COBS_PROTO_ERROR_NO_SPACE;
			continue;
		}
		if (out >= dst_size)
			return COBS_PROTO_ERROR_NO_SPACE;
		dst[out++] = src[i];
		code++;
		/* a full block of 254 data bytes ends without an implied zero; a new block
		 * starts only if data follows, so 254 bytes encode to FF + 254 bytes */
		if (code == 0xFF && i + 1 < src_len) {
			dst[code_pos] = code;
			code_pos = out++;
			code = 1;
			if (code_pos >= dst_size)
				return COBS_PROTO_ERROR_NO_SPACE;
		}
	}
	dst[code_pos] = code;
	*dst_len = out;
	return COBS_PROTO_ERROR_NONE;
}

CobsProtoError
cobs_proto_decode(const uint8_t *src,
		  size_t src_len,
		  uint8_t *dst,
		  size_t dst_size,
		  size_t *dst_len)
{
	size_t in = 0;
	size_t out = 0;

	if ((src == NULL && src_len > 0) || (dst == NULL && dst_size > 0) || dst_len == NULL)
		return COBS_PROTO_ERROR_INVALID_ARGUMENT;
	if (src_len == 0)
		return COBS_PROTO_ERROR_MALFORMED;
	while (in < src_len) {
		uint8_t code = src[in++];
		size_t data_len;

		if (code == 0x00)
			return COBS_PROTO_ERROR_MALFORMED;
		data_len = (size_t)code - 1;
		if (data_len > src_len - in)
			return COBS_PROTO_ERROR_MALFORMED;
		for (size_t i = 0; i < data_len; i++) {
			if (src[in + i] == 0x00)
				return COBS_PROTO_ERROR_MALFORMED;
			if (out >= dst_size)
				return COBS_PROTO_ERROR_NO_SPACE;
			dst[out++] = src[in + i];
		}
		in += data_len;
		/* a block shorter than 254 data bytes stands for its data and a zero, except
		 * the last one, whose zero is the frame's end */
		if (code != 0xFF && in < src_len) {
			if (out >= dst_size)
				return COBS_PROTO_ERROR_NO_SPACE;
			dst[out++] = 0x00;
		}
	}
	*dst_len = out;
	return COBS_PROTO_ERROR_NONE;
}

CobsProtoError
cobs_proto_message_build(uint8_t control,
			 const uint8_t *payload,
			 size_t payload_len,
			 uint8_t *buf,
			 size_t buf_size,
			 size_t *len)
{
	size_t encoded_len = 0;
	CobsProtoError rc;

	if (control == COBS_PROTO_FRAME_END || buf == NULL || len == NULL ||
	    payload_len > COBS_PROTO_CHUNK_MAX || (payload == NULL && payload_len > 0))
		return COBS_PROTO_ERROR_INVALID_ARGUMENT;
	if (payload_len == 0) {
		if (buf_size < 2)
			return COBS_PROTO_ERROR_NO_SPACE;
		buf[0] = control;
		buf[1] = COBS_PROTO_FRAME_END;
		*len = 2;
		return COBS_PROTO_ERROR_NONE;
	}
	if (buf_size < 2)
		return COBS_PROTO_ERROR_NO_SPACE;
	buf[0] = control;
	rc = cobs_proto_encode(payload, payload_len, buf + 1, buf_size - 2, &encoded_len);
	if (rc != COBS_PROTO_ERROR_NONE)
		return rc;
	buf[1 + encoded_len] = COBS_PROTO_FRAME_END;
	*len = encoded_len + 2;
	return COBS_PROTO_ERROR_NONE;
}

CobsProtoError
cobs_proto_frame_parse(const uint8_t *buf,
		       size_t len,
		       CobsProtoFrame *frame,
		       char *msg,
		       size_t msg_size)
{
	char hex[80];
	CobsProtoError rc;

	if (buf == NULL || frame == NULL)
		return COBS_PROTO_ERROR_INVALID_ARGUMENT;
	proto_format(msg, msg_size, "%s", "");
	memset(frame, 0, sizeof(*frame));
	cobs_proto_hex(buf, len, hex, sizeof(hex));
	if (len < 2 || len > COBS_PROTO_MESSAGE_MAX || buf[len - 1] != COBS_PROTO_FRAME_END) {
		proto_format(msg,
			     msg_size,
			     "not a frame of 2 to %u bytes ending in 00: [%s]",
			     (unsigned)COBS_PROTO_MESSAGE_MAX,
			     hex);
		return COBS_PROTO_ERROR_GARBAGE;
	}
	if (buf[0] == COBS_PROTO_FRAME_END) {
		proto_format(msg, msg_size, "frame starts with the end marker: [%s]", hex);
		return COBS_PROTO_ERROR_GARBAGE;
	}
	frame->control = buf[0];
	if (len == 2)
		return COBS_PROTO_ERROR_NONE;
	rc = cobs_proto_decode(buf + 1,
			       len - 2,
			       frame->payload,
			       sizeof(frame->payload),
			       &frame->payload_len);
	if (rc != COBS_PROTO_ERROR_NONE) {
		proto_format(msg, msg_size, "payload is not valid COBS: [%s]", hex);
		return COBS_PROTO_ERROR_GARBAGE;
	}
	return COBS_PROTO_ERROR_NONE;
}

/* a frame that is not the reply expected: says what came instead of it */
static CobsProtoError
cobs_proto_reply_unexpected(const uint8_t *buf,
			    size_t len,
			    const char *expected,
			    char *msg,
			    size_t msg_size)
{
	char hex[80];

	cobs_proto_hex(buf, len, hex, sizeof(hex));
	proto_format(msg, msg_size, "[%s] instead of %s", hex, expected);
	return COBS_PROTO_ERROR_NOT_ACK;
}

CobsProtoError
cobs_proto_ack_parse(const uint8_t *buf, size_t len, char *msg, size_t msg_size)
{
	CobsProtoFrame frame;
	CobsProtoError rc;

	rc = cobs_proto_frame_parse(buf, len, &frame, msg, msg_size);
	if (rc != COBS_PROTO_ERROR_NONE)
		return rc;
	if (len == 2 && buf[0] == COBS_PROTO_CONTROL_ACK)
		return COBS_PROTO_ERROR_NONE;
	return cobs_proto_reply_unexpected(buf, len, "ACK [06 00]", msg, msg_size);
}

CobsProtoError
cobs_proto_erase_ack_parse(const uint8_t *buf,
			   size_t len,
			   uint8_t *caps,
			   char *msg,
			   size_t msg_size)
{
	CobsProtoFrame frame;
	CobsProtoError rc;

	if (caps == NULL)
		return COBS_PROTO_ERROR_INVALID_ARGUMENT;
	*caps = 0;
	rc = cobs_proto_frame_parse(buf, len, &frame, msg, msg_size);
	if (rc != COBS_PROTO_ERROR_NONE)
		return rc;
	if (frame.control == COBS_PROTO_CONTROL_ACK && len == 2)
		return COBS_PROTO_ERROR_NONE;
	/* a later extension version may append bytes; version 0 is no extension at all */
	if (frame.control == COBS_PROTO_CONTROL_ACK && frame.payload_len >= 2 &&
	    frame.payload[0] >= COBS_PROTO_EXTENSION_VERSION) {
		*caps = frame.payload[1];
		return COBS_PROTO_ERROR_NONE;
	}
	return cobs_proto_reply_unexpected(buf,
					   len,
					   "ACK [06 00] or extended ACK [06 03 01 <caps> 00]",
					   msg,
					   msg_size);
}

CobsProtoError
cobs_proto_version_reply_parse(const uint8_t *buf,
			       size_t len,
			       uint32_t *version,
			       char *msg,
			       size_t msg_size)
{
	CobsProtoFrame frame;
	CobsProtoError rc;

	if (version == NULL)
		return COBS_PROTO_ERROR_INVALID_ARGUMENT;
	*version = 0;
	rc = cobs_proto_frame_parse(buf, len, &frame, msg, msg_size);
	if (rc != COBS_PROTO_ERROR_NONE)
		return rc;
	if (frame.control == COBS_PROTO_CONTROL_ACK &&
	    frame.payload_len == COBS_PROTO_VERSION_REPLY_PAYLOAD &&
	    frame.payload[0] == COBS_PROTO_CONTROL_VERSION) {
		*version = (uint32_t)frame.payload[1] | (uint32_t)frame.payload[2] << 8 |
			   (uint32_t)frame.payload[3] << 16 | (uint32_t)frame.payload[4] << 24;
		return COBS_PROTO_ERROR_NONE;
	}
	return cobs_proto_reply_unexpected(buf,
					   len,
					   "the version reply [06 COBS(07 version[4]) 00]",
					   msg,
					   msg_size);
}

void
cobs_proto_config_init(CobsProtoConfig *config)
{
	if (config == NULL)
		return;
	memset(config, 0, sizeof(*config));
	config->sector_size = COBS_PROTO_DEFAULT_SECTOR_SIZE;
	config->sector_erase_ms = COBS_PROTO_DEFAULT_SECTOR_ERASE_MS;
	config->word_size = COBS_PROTO_DEFAULT_WORD_SIZE;
	config->word_program_us = COBS_PROTO_DEFAULT_WORD_PROGRAM_US;
	config->reply_slack_ms = COBS_PROTO_DEFAULT_REPLY_SLACK_MS;
	config->verify_bytes_per_ms = COBS_PROTO_DEFAULT_VERIFY_BYTES_PER_MS;
	config->queue_depth = COBS_PROTO_DEFAULT_QUEUE_DEPTH;
	config->batch_max = COBS_PROTO_DEFAULT_BATCH_MAX;
	config->use_verify = true;
}

static uint32_t
cobs_proto_clamp_ms(uint64_t ms)
{
	return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

static uint64_t
cobs_proto_div_round_up(uint64_t value, uint64_t divisor)
{
	return divisor == 0 ? 0 : (value + divisor - 1) / divisor;
}

uint32_t
cobs_proto_erase_timeout_ms(const CobsProtoConfig *config, uint32_t erase_size)
{
	uint64_t sectors = cobs_proto_div_round_up(erase_size, config->sector_size);
	return cobs_proto_clamp_ms(sectors * config->sector_erase_ms + config->reply_slack_ms);
}

uint32_t
cobs_proto_chunk_timeout_ms(const CobsProtoConfig *config, uint32_t offset, uint32_t len)
{
	uint64_t words = 0;
	uint64_t program_us;

	/* every flash word the chunk touches may be programmed while the device holds it,
	 * the last partial one included (it is flushed at the last chunk) */
	if (len > 0 && config->word_size > 0) {
		uint64_t first = offset / config->word_size;
		uint64_t last = ((uint64_t)offset + len - 1) / config->word_size;
		words = last - first + 1;
	}
	program_us = words * config->word_program_us;
	return cobs_proto_clamp_ms(cobs_proto_div_round_up(program_us, 1000) +
				   config->reply_slack_ms);
}

uint32_t
cobs_proto_verify_timeout_ms(const CobsProtoConfig *config, uint32_t image_size)
{
	uint64_t ms = cobs_proto_div_round_up(image_size, config->verify_bytes_per_ms);
	return cobs_proto_clamp_ms(ms + config->reply_slack_ms);
}
