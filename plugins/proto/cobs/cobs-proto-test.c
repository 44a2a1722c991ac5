/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * Unit tests of the COBS core: COBS against known vectors (including the examples of the
 * COBS article on Wikipedia), message building, reply parsing, CRC-32, timeouts, and update
 * sessions driven against a scripted device written here with its own decoder and a virtual
 * clock, so that nothing of the core checks itself.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cobs-proto.h"
#include "proto-test.h"

/* ---- COBS vectors ---- */

static void
check_vector(const uint8_t *raw, size_t raw_len, const uint8_t *enc, size_t enc_len)
{
	uint8_t buf[600];
	size_t len = 0;

	CHECK(cobs_proto_encode(raw, raw_len, buf, sizeof(buf), &len) == COBS_PROTO_ERROR_NONE);
	CHECK(len == enc_len);
	CHECK(len <= cobs_proto_encoded_size_max(raw_len));
	CHECK(len == enc_len && memcmp(buf, enc, enc_len) == 0);
	CHECK(cobs_proto_decode(enc, enc_len, buf, sizeof(buf), &len) == COBS_PROTO_ERROR_NONE);
	CHECK(len == raw_len && (raw_len == 0 || memcmp(buf, raw, raw_len) == 0));

	/* exactly large enough works, one byte less does not */
	CHECK(cobs_proto_encode(raw, raw_len, buf, enc_len, &len) == COBS_PROTO_ERROR_NONE);
	CHECK(cobs_proto_encode(raw, raw_len, buf, enc_len - 1, &len) == COBS_PROTO_ERROR_NO_SPACE);
	if (raw_len > 0) {
		CHECK(cobs_proto_decode(enc, enc_len, buf, raw_len, &len) == COBS_PROTO_ERROR_NONE);
		CHECK(cobs_proto_decode(enc, enc_len, buf, raw_len - 1, &len) ==
		      COBS_PROTO_ERROR_NO_SPACE);
	}
}

/*
 * Bytes written as the COBS article writes them: hex bytes, "01..FE" for a run counting up.
 * Returns how many there are, or 0 with a failed check when the text is not that.
 */
static size_t
bytes_from_text(const char *text, uint8_t *buf, size_t buf_size)
{
	size_t len = 0;
	const char *p = text;

	while (*p != '\0') {
		char *end = NULL;
		unsigned long from = strtoul(p, &end, 16);
		unsigned long to = from;
		if (strncmp(end, "..", 2) == 0)
			to = strtoul(end + 2, &end, 16);
		bool valid = end != p && to <= 0xFF && to >= from && len + (to - from) < buf_size;
		CHECK(valid);
		if (!valid)
			return 0;
		for (unsigned long b = from; b <= to; b++)
			buf[len++] = (uint8_t)b;
		p = end;
		while (*p == ' ')
			p++;
	}
	return len;
}

static void
test_cobs_vectors(void)
{
	/* the empty input and the examples of the COBS article on Wikipedia */
	static const struct {
		const char *raw;
		const char *enc;
	} vectors[] = {
	    {"", "01"},
	    {"00", "01 01"},
	    {"00 00", "01 01 01"},
	    {"00 11 00", "01 02 11 01"},
	    {"11 22 00 33", "03 11 22 02 33"},
	    {"11 22 33 44", "05 11 22 33 44"},
	    {"11 00 00 00", "02 11 01 01 01"},
	    /* 254 non-zero bytes: one full block, no trailing code byte */
	    {"01..FE", "FF 01..FE"},
	    {"00 01..FE", "01 FF 01..FE"},
	    /* 255 non-zero bytes: a full block, then a block of one */
	    {"01..FF", "FF 01..FE 02 FF"},
	    {"02..FF 00", "FF 02..FF 01 01"},
	    {"03..FF 00 01", "FE 03..FF 02 01"},
	};
	uint8_t raw[300];
	uint8_t enc[300];

	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		size_t raw_len = bytes_from_text(vectors[i].raw, raw, sizeof(raw));
		size_t enc_len = bytes_from_text(vectors[i].enc, enc, sizeof(enc));
		check_vector(raw, raw_len, enc, enc_len);
	}

	/* all zeros: one code byte per zero, plus one */
	memset(raw, 0, 61);
	memset(enc, 0x01, 62);
	check_vector(raw, 61, enc, 62);
}

static void
test_cobs_malformed(void)
{
	uint8_t out[64];
	size_t len = 0;
	uint8_t full[256];

	/* nothing, a zero as code byte, a zero inside a block, a block past the end */
	CHECK(cobs_proto_decode((const uint8_t *)"", 0, out, sizeof(out), &len) ==
	      COBS_PROTO_ERROR_MALFORMED);
	CHECK(cobs_proto_decode((const uint8_t[]){0x00}, 1, out, sizeof(out), &len) ==
	      COBS_PROTO_ERROR_MALFORMED);
	CHECK(cobs_proto_decode((const uint8_t[]){0x03, 0x11, 0x00}, 3, out, sizeof(out), &len) ==
	      COBS_PROTO_ERROR_MALFORMED);
	CHECK(cobs_proto_decode((const uint8_t[]){0x02}, 1, out, sizeof(out), &len) ==
	      COBS_PROTO_ERROR_MALFORMED);
	CHECK(cobs_proto_decode((const uint8_t[]){0x03, 0x11, 0x22, 0x05, 0x33},
				5,
				out,
				sizeof(out),
				&len) == COBS_PROTO_ERROR_MALFORMED);
	/* a result larger than the output, even in the implied zeros */
	CHECK(cobs_proto_decode((const uint8_t[]){0x01, 0x01, 0x01}, 3, out, 1, &len) ==
	      COBS_PROTO_ERROR_NO_SPACE);
	/* a trailing empty block after a full one is accepted */
	full[0] = 0xFF;
	memset(full + 1, 0x55, 254);
	full[255] = 0x01;
	CHECK(cobs_proto_decode(full, 256, full, 0, &len) == COBS_PROTO_ERROR_NO_SPACE);
	{
		uint8_t big[300];
		CHECK(cobs_proto_decode(full, 256, big, sizeof(big), &len) ==
		      COBS_PROTO_ERROR_NONE);
		CHECK(len == 254);
	}
	CHECK(cobs_proto_encode(NULL, 3, out, sizeof(out), &len) ==
	      COBS_PROTO_ERROR_INVALID_ARGUMENT);
	CHECK(cobs_proto_encode(out, 0, out, 0, &len) == COBS_PROTO_ERROR_NO_SPACE);
}

static void
test_messages(void)
{
	uint8_t payload[62];
	uint8_t buf[80];
	size_t len = 0;
	CobsProtoFrame frame;
	char msg[160];
	uint8_t caps = 0xAA;

	CHECK(cobs_proto_message_build(COBS_PROTO_CONTROL_ERASE, NULL, 0, buf, sizeof(buf), &len) ==
	      COBS_PROTO_ERROR_NONE);
	CHECK(len == 2 && buf[0] == 0x03 && buf[1] == 0x00);
	CHECK(cobs_proto_message_build(COBS_PROTO_CONTROL_BYE, NULL, 0, buf, sizeof(buf), &len) ==
	      COBS_PROTO_ERROR_NONE);
	CHECK(len == 2 && buf[0] == 0x04 && buf[1] == 0x00);

	/* a full chunk of non-zero bytes is exactly 64 bytes; so is one of zeros */
	memset(payload, 0xA5, sizeof(payload));
	CHECK(cobs_proto_message_build(0x01, payload, 61, buf, sizeof(buf), &len) ==
	      COBS_PROTO_ERROR_NONE);
	CHECK(len == 64 && buf[0] == 0x01 && buf[1] == 62 && buf[63] == 0x00);
	memset(payload, 0x00, sizeof(payload));
	CHECK(cobs_proto_message_build(0x02, payload, 61, buf, sizeof(buf), &len) ==
	      COBS_PROTO_ERROR_NONE);
	CHECK(len == 64 && buf[0] == 0x02 && buf[1] == 0x01 && buf[62] == 0x01 && buf[63] == 0);
	CHECK(cobs_proto_message_build(0x01, payload, 61, buf, 63, &len) ==
	      COBS_PROTO_ERROR_NO_SPACE);
	CHECK(cobs_proto_message_build(0x01, payload, 62, buf, sizeof(buf), &len) ==
	      COBS_PROTO_ERROR_INVALID_ARGUMENT);
	CHECK(cobs_proto_message_build(0x00, payload, 1, buf, sizeof(buf), &len) ==
	      COBS_PROTO_ERROR_INVALID_ARGUMENT);

	/* and back */
	memset(payload, 0x00, 61);
	payload[7] = 0x42;
	CHECK(cobs_proto_message_build(0x01, payload, 61, buf, sizeof(buf), &len) ==
	      COBS_PROTO_ERROR_NONE);
	CHECK(cobs_proto_frame_parse(buf, len, &frame, msg, sizeof(msg)) == COBS_PROTO_ERROR_NONE);
	CHECK(frame.control == 0x01 && frame.payload_len == 61 &&
	      memcmp(frame.payload, payload, 61) == 0);

	/* ACKs */
	CHECK(cobs_proto_ack_parse((const uint8_t[]){0x06, 0x00}, 2, msg, sizeof(msg)) ==
	      COBS_PROTO_ERROR_NONE);
	CHECK(cobs_proto_ack_parse((const uint8_t[]){0x15, 0x00}, 2, msg, sizeof(msg)) ==
	      COBS_PROTO_ERROR_NOT_ACK);
	CHECK_CONTAINS(msg, "[15 00] instead of ACK [06 00]");
	CHECK(cobs_proto_ack_parse((const uint8_t[]){0x06, 0x01, 0x00}, 3, msg, sizeof(msg)) ==
	      COBS_PROTO_ERROR_NOT_ACK);
	CHECK(cobs_proto_ack_parse((const uint8_t[]){0x06}, 1, msg, sizeof(msg)) ==
	      COBS_PROTO_ERROR_GARBAGE);
	CHECK(cobs_proto_ack_parse((const uint8_t[]){0x00}, 1, msg, sizeof(msg)) ==
	      COBS_PROTO_ERROR_GARBAGE);
	CHECK(cobs_proto_ack_parse((const uint8_t[]){0x00, 0x00}, 2, msg, sizeof(msg)) ==
	      COBS_PROTO_ERROR_GARBAGE);
	CHECK(
	    cobs_proto_ack_parse((const uint8_t[]){0x06, 0x05, 0x11, 0x00}, 4, msg, sizeof(msg)) ==
	    COBS_PROTO_ERROR_GARBAGE);
	CHECK_CONTAINS(msg, "not valid COBS");

	/* the reply to erase: plain, extended with caps, extended with caps 0, version 0 */
	CHECK(
	    cobs_proto_erase_ack_parse((const uint8_t[]){0x06, 0x00}, 2, &caps, msg, sizeof(msg)) ==
	    COBS_PROTO_ERROR_NONE);
	CHECK(caps == 0);
	CHECK(cobs_proto_erase_ack_parse((const uint8_t[]){0x06, 0x03, 0x01, 0x01, 0x00},
					 5,
					 &caps,
					 msg,
					 sizeof(msg)) == COBS_PROTO_ERROR_NONE);
	CHECK(caps == COBS_PROTO_CAP_VERIFY_CRC32);
	CHECK(cobs_proto_erase_ack_parse((const uint8_t[]){0x06, 0x02, 0x01, 0x01, 0x00},
					 5,
					 &caps,
					 msg,
					 sizeof(msg)) == COBS_PROTO_ERROR_NONE);
	CHECK(caps == 0);
	CHECK(cobs_proto_erase_ack_parse((const uint8_t[]){0x06, 0x01, 0x02, 0x01, 0x00},
					 5,
					 &caps,
					 msg,
					 sizeof(msg)) == COBS_PROTO_ERROR_NOT_ACK);
	CHECK_CONTAINS(msg, "instead of ACK [06 00] or extended ACK");
	CHECK(
	    cobs_proto_erase_ack_parse((const uint8_t[]){0x15, 0x00}, 2, &caps, msg, sizeof(msg)) ==
	    COBS_PROTO_ERROR_NOT_ACK);

	/* the version reply: 1.2.0 as a triplet word, all ones, and a plain ACK instead */
	{
		uint32_t version = 0;
		CHECK(cobs_proto_version_reply_parse(
			  (const uint8_t[]){0x06, 0x02, 0x07, 0x01, 0x03, 0x02, 0x01, 0x00},
			  8,
			  &version,
			  msg,
			  sizeof(msg)) == COBS_PROTO_ERROR_NONE);
		CHECK(version == 0x01020000);
		CHECK(cobs_proto_version_reply_parse(
			  (const uint8_t[]){0x06, 0x06, 0x07, 0xff, 0xff, 0xff, 0xff, 0x00},
			  8,
			  &version,
			  msg,
			  sizeof(msg)) == COBS_PROTO_ERROR_NONE);
		CHECK(version == COBS_PROTO_VERSION_NONE);
		CHECK(cobs_proto_version_reply_parse((const uint8_t[]){0x06, 0x00},
						     2,
						     &version,
						     msg,
						     sizeof(msg)) == COBS_PROTO_ERROR_NOT_ACK);
		CHECK_CONTAINS(msg, "instead of the version reply");
	}
}

static void
test_crc32_and_timeouts(void)
{
	CobsProtoConfig config;
	uint32_t crc;

	CHECK(proto_crc32(0, (const uint8_t *)"123456789", 9) == 0xCBF43926);
	crc = proto_crc32(0, (const uint8_t *)"1234", 4);
	CHECK(proto_crc32(crc, (const uint8_t *)"56789", 5) == 0xCBF43926);
	CHECK(proto_crc32(0, NULL, 0) == 0);

	cobs_proto_config_init(&config);
	/* 1 MiB is 8 sectors of 128 KiB at 2 s each */
	CHECK(cobs_proto_erase_timeout_ms(&config, 1024 * 1024) == 8 * 2000 + 1000);
	CHECK(cobs_proto_erase_timeout_ms(&config, 1024 * 1024 + 1) == 9 * 2000 + 1000);
	/* 61 bytes at offset 0 touch 2 words, at offset 31 three */
	CHECK(cobs_proto_chunk_timeout_ms(&config, 0, 61) == 1 + 1000);
	CHECK(cobs_proto_chunk_timeout_ms(&config, 31, 61) == 1 + 1000);
	config.word_program_us = 1000;
	CHECK(cobs_proto_chunk_timeout_ms(&config, 0, 61) == 2 + 1000);
	CHECK(cobs_proto_chunk_timeout_ms(&config, 31, 61) == 3 + 1000);
	CHECK(cobs_proto_verify_timeout_ms(&config, 2 * 1024 * 1024) == 2048 + 1000);
	/* figures scale the timeouts */
	config.sector_erase_ms = 20;
	config.reply_slack_ms = 50;
	CHECK(cobs_proto_erase_timeout_ms(&config, 1024 * 1024) == 8 * 20 + 50);
}

/* ---- a scripted device with its own decoder and a virtual clock ---- */

typedef enum {
	MISBEHAVE_NONE,
	MISBEHAVE_SILENT,     /* no reply to message `at` */
	MISBEHAVE_WRONG_BYTE, /* 15 00 instead of the ACK */
	MISBEHAVE_LATE,	      /* the ACK after late_ms more */
	MISBEHAVE_GARBAGE,    /* 70 bytes without an end marker */
	MISBEHAVE_BAD_COBS,   /* a frame whose COBS runs past its end */
	MISBEHAVE_DISCONNECT, /* gone after taking message `at` */
	MISBEHAVE_CORRUPT,    /* stores one byte of message `at` wrong */
	MISBEHAVE_DOUBLE_ACK, /* two ACKs for message `at` */
	MISBEHAVE_EXT_ACK,    /* the extended ACK to a chunk */
} Misbehave;

#define DEV_REPLIES_MAX 256

typedef struct {
	/* configuration */
	uint64_t erase_ms;
	uint64_t chunk_ms;
	uint64_t late_ms;
	bool announce_crc;
	Misbehave misbehave;
	unsigned at; /* message index (0 erase) the misbehaviour hits */
	bool split_replies;

	/* state */
	uint64_t now;
	uint8_t flash[4 * 1024 * 1024];
	size_t stored;
	bool erased;
	bool got_last;
	bool got_bye;
	bool got_verify;
	bool gone;
	unsigned messages; /* messages taken */
	unsigned working;  /* messages taken and not finished (0, 1 or 2: one in the buffer) */
	uint64_t busy_until;
	uint8_t pending_reply[80];
	size_t pending_reply_len;
	bool pending_silent;
	uint8_t out[DEV_REPLIES_MAX * 16];
	size_t out_len;
	unsigned max_working;
	uint8_t queued[64]; /* the message in the receive buffer */
	size_t queued_len;
	unsigned sends;
	unsigned receives;
} Dev;

/* COBS decoding written for the device, apart from the core's */
static size_t
dev_unstuff(const uint8_t *in, size_t len, uint8_t *out)
{
	size_t o = 0;
	size_t i = 0;
	while (i < len) {
		uint8_t code = in[i++];
		for (uint8_t k = 1; k < code && i < len; k++)
			out[o++] = in[i++];
		if (code < 0xFF && i < len)
			out[o++] = 0;
	}
	return o;
}

static void
dev_put_reply(Dev *dev, const uint8_t *buf, size_t len)
{
	if (dev->out_len + len <= sizeof(dev->out)) {
		memcpy(dev->out + dev->out_len, buf, len);
		dev->out_len += len;
	}
}

/* the device starts on a message: work out its reply now, post it when the work ends */
static void
dev_start(Dev *dev, const uint8_t *msg, size_t len)
{
	unsigned index = dev->messages++;
	uint8_t payload[64];
	size_t payload_len = 0;
	uint64_t work = dev->chunk_ms;
	static const uint8_t ack[] = {0x06, 0x00};

	CHECK(len >= 2 && msg[len - 1] == 0x00);
	for (size_t i = 0; i + 1 < len; i++)
		CHECK(msg[i] != 0x00);
	if (len > 2)
		payload_len = dev_unstuff(msg + 1, len - 2, payload);
	memcpy(dev->pending_reply, ack, sizeof(ack));
	dev->pending_reply_len = sizeof(ack);
	dev->pending_silent = false;

	switch (msg[0]) {
	case 0x03:
		CHECK(index == 0);
		CHECK(payload_len == 0);
		dev->erased = true;
		work = dev->erase_ms;
		if (dev->announce_crc) {
			static const uint8_t ext[] = {0x06, 0x03, 0x01, 0x01, 0x00};
			memcpy(dev->pending_reply, ext, sizeof(ext));
			dev->pending_reply_len = sizeof(ext);
		}
		break;
	case 0x01:
	case 0x02:
		CHECK(dev->erased);
		CHECK(!dev->got_last);
		CHECK(payload_len >= 1 && payload_len <= 61);
		memcpy(dev->flash + dev->stored, payload, payload_len);
		if (dev->misbehave == MISBEHAVE_CORRUPT && index == dev->at)
			dev->flash[dev->stored] ^= 0x01;
		dev->stored += payload_len;
		if (msg[0] == 0x02)
			dev->got_last = true;
		break;
	case 0x05: {
		uint32_t crc = 0xFFFFFFFFu;
		uint8_t reply[9];
		size_t o = 0;
		CHECK(dev->announce_crc);
		CHECK(dev->got_last);
		/* a plain bitwise CRC-32, as a device without a table would compute it */
		for (size_t i = 0; i < dev->stored; i++) {
			crc ^= dev->flash[i];
			for (int b = 0; b < 8; b++)
				crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
		}
		crc = ~crc;
		reply[0] = 0x05;
		for (int b = 0; b < 4; b++)
			reply[1 + b] = (uint8_t)(dev->stored >> (8 * b));
		for (int b = 0; b < 4; b++)
			reply[5 + b] = (uint8_t)(crc >> (8 * b));
		/* stuff by hand: 0x06, code bytes, 0x00 */
		dev->pending_reply[o++] = 0x06;
		{
			size_t code_pos = o++;
			uint8_t code = 1;
			for (size_t i = 0; i < sizeof(reply); i++) {
				if (reply[i] == 0) {
					dev->pending_reply[code_pos] = code;
					code_pos = o++;
					code = 1;
				} else {
					dev->pending_reply[o++] = reply[i];
					code++;
				}
			}
			dev->pending_reply[code_pos] = code;
		}
		dev->pending_reply[o++] = 0x00;
		dev->pending_reply_len = o;
		dev->got_verify = true;
		break;
	}
	case 0x04:
		CHECK(dev->got_last);
		dev->got_bye = true;
		break;
	default:
		CHECK(0 && "unknown control byte");
		break;
	}

	if (index == dev->at) {
		switch (dev->misbehave) {
		case MISBEHAVE_SILENT:
			dev->pending_silent = true;
			break;
		case MISBEHAVE_WRONG_BYTE:
			dev->pending_reply[0] = 0x15;
			dev->pending_reply[1] = 0x00;
			dev->pending_reply_len = 2;
			break;
		case MISBEHAVE_LATE:
			work += dev->late_ms;
			break;
		case MISBEHAVE_GARBAGE:
			memset(dev->pending_reply, 0x41, 70);
			dev->pending_reply_len = 70;
			break;
		case MISBEHAVE_BAD_COBS:
			memcpy(dev->pending_reply, (const uint8_t[]){0x06, 0x09, 0x11, 0x00}, 4);
			dev->pending_reply_len = 4;
			break;
		case MISBEHAVE_DOUBLE_ACK:
			memcpy(dev->pending_reply, (const uint8_t[]){0x06, 0x00, 0x06, 0x00}, 4);
			dev->pending_reply_len = 4;
			break;
		case MISBEHAVE_EXT_ACK:
			memcpy(dev->pending_reply,
			       (const uint8_t[]){0x06, 0x03, 0x01, 0x01, 0x00},
			       5);
			dev->pending_reply_len = 5;
			break;
		default:
			break;
		}
	}
	dev->busy_until = dev->now + work;
}

/* let the device's clock reach t: finish work, start the buffered message */
static void
dev_run_until(Dev *dev, uint64_t t)
{
	while (dev->working > 0 && !dev->pending_silent && dev->busy_until <= t) {
		dev->now = dev->busy_until > dev->now ? dev->busy_until : dev->now;
		dev_put_reply(dev, dev->pending_reply, dev->pending_reply_len);
		dev->working--;
		if (dev->working > 0) {
			dev_start(dev, dev->queued, dev->queued_len);
		}
	}
	if (t > dev->now)
		dev->now = t;
}

/* one 64-byte packet (or the shorter last one of a transfer) */
static ProtoIo
dev_send_packet(Dev *dev, const uint8_t *buf, size_t len, uint64_t deadline)
{
	if (dev->gone)
		return PROTO_IO_NO_DEVICE;
	CHECK(len <= 64);
	/* one message in work and one in the receive buffer: the OUT waits */
	if (dev->working >= 2) {
		if (dev->pending_silent || dev->busy_until > deadline) {
			dev_run_until(dev, deadline);
			return PROTO_IO_TIMEOUT;
		}
		dev_run_until(dev, dev->busy_until);
	}
	dev->now += 1; /* a bulk transfer takes about a frame */
	if (dev->working == 0) {
		dev->working = 1;
		dev_start(dev, buf, len);
	} else {
		memcpy(dev->queued, buf, len);
		dev->queued_len = len;
		dev->working = 2;
	}
	if (dev->working > dev->max_working)
		dev->max_working = dev->working;
	if (dev->misbehave == MISBEHAVE_DISCONNECT && dev->messages > dev->at)
		dev->gone = true;
	return PROTO_IO_OK;
}

/* a bulk OUT transfer: the bus splits it into packets, the device takes one at a time */
static ProtoIo
dev_send(Dev *dev, const uint8_t *buf, size_t len, uint32_t timeout_ms)
{
	uint64_t deadline = dev->now + timeout_ms;
	size_t off = 0;

	dev->sends++;
	do {
		size_t n = len - off > 64 ? 64 : len - off;
		ProtoIo result = dev_send_packet(dev, buf + off, n, deadline);
		if (result != PROTO_IO_OK)
			return result;
		off += n;
	} while (off < len);
	return PROTO_IO_OK;
}

static ProtoIo
dev_receive(Dev *dev, uint8_t *buf, size_t *len, uint32_t timeout_ms)
{
	uint64_t deadline = dev->now + timeout_ms;
	size_t n;

	dev->receives++;
	*len = 0;
	if (dev->gone)
		return PROTO_IO_NO_DEVICE;
	if (dev->out_len == 0) {
		if (dev->working == 0 || dev->pending_silent || dev->busy_until > deadline) {
			dev_run_until(dev, deadline);
			if (dev->out_len == 0)
				return PROTO_IO_TIMEOUT;
		} else {
			dev_run_until(dev, dev->busy_until);
		}
	}
	dev->now += 1;
	n = dev->out_len > 64 ? 64 : dev->out_len;
	if (dev->split_replies && n > 1)
		n = 1;
	memcpy(buf, dev->out, n);
	memmove(dev->out, dev->out + n, dev->out_len - n);
	dev->out_len -= n;
	*len = n;
	return PROTO_IO_OK;
}

typedef struct {
	CobsProtoAction last;
	unsigned steps;
	unsigned sends;
	unsigned progress_calls;
	bool progress_monotonic;
} RunResult;

static void
run(Dev *dev, CobsProtoSession *session, RunResult *res)
{
	uint32_t last_done = 0;

	memset(res, 0, sizeof(*res));
	res->progress_monotonic = true;
	for (res->steps = 0; res->steps < 1000000; res->steps++) {
		CobsProtoAction action;
		uint8_t buf[64];
		size_t len = 0;
		ProtoIo result;
		uint32_t done = 0;
		uint32_t total = 0;

		cobs_proto_session_next(session, dev->now, &action);
		if (action.kind == COBS_PROTO_ACTION_DONE ||
		    action.kind == COBS_PROTO_ACTION_ERROR) {
			res->last = action;
			return;
		}
		if (action.kind == COBS_PROTO_ACTION_SEND) {
			CHECK(action.count >= 1 && action.count <= COBS_PROTO_BATCH_MAX);
			CHECK(action.length <= (size_t)action.count * COBS_PROTO_MESSAGE_MAX);
			CHECK(action.length > (size_t)(action.count - 1) * COBS_PROTO_MESSAGE_MAX);
			res->sends++;
			result = dev_send(dev, action.bytes, action.length, action.timeout_ms);
			cobs_proto_session_feed(session, result, NULL, 0, dev->now);
		} else {
			CHECK(action.timeout_ms > 0);
			result = dev_receive(dev, buf, &len, action.timeout_ms);
			cobs_proto_session_feed(session, result, buf, len, dev->now);
		}
		cobs_proto_session_get_progress(session, NULL, &done, &total);
		if (done < last_done || done > total)
			res->progress_monotonic = false;
		last_done = done;
	}
	CHECK(0 && "session did not end");
}

static uint8_t *test_image;

static Dev *
dev_new(void)
{
	Dev *dev = calloc(1, sizeof(Dev));
	dev->erase_ms = 12000;
	dev->chunk_ms = 1;
	dev->late_ms = 5000;
	dev->misbehave = MISBEHAVE_NONE;
	dev->at = (unsigned)-1;
	return dev;
}

/* an update of the first size bytes of the test image on a scripted device with a one-sector
 * erase, misbehaving as asked */
static Dev *
run_scripted(const CobsProtoConfig *config,
	     uint32_t size,
	     Misbehave misbehave,
	     unsigned at,
	     CobsProtoSession *session,
	     RunResult *res)
{
	Dev *dev = dev_new();
	dev->erase_ms = 1500;
	dev->misbehave = misbehave;
	dev->at = at;
	cobs_proto_session_start(session, config, test_image, size, size);
	run(dev, session, res);
	return dev;
}

static void
test_session_flash(void)
{
	CobsProtoConfig config;
	CobsProtoSession session;
	RunResult res;
	Dev *dev = dev_new();
	uint32_t size = 1024 * 1024;
	uint32_t done = 0;
	uint32_t total = 0;
	uint8_t caps = 0xFF;

	cobs_proto_config_init(&config);
	CHECK(cobs_proto_session_start(&session, &config, test_image, size, 1024 * 1024) ==
	      COBS_PROTO_ERROR_NONE);
	run(dev, &session, &res);
	CHECK(res.last.kind == COBS_PROTO_ACTION_DONE);
	CHECK(dev->stored == size && memcmp(dev->flash, test_image, size) == 0);
	CHECK(dev->got_bye && !dev->got_verify);
	CHECK(dev->messages == 17190 + 2);
	/* one chunk queued while the device works: two in the device, never more */
	CHECK(dev->max_working == 2);
	CHECK(res.progress_monotonic);
	cobs_proto_session_get_progress(&session, NULL, &done, &total);
	CHECK(done == size && total == size);
	CHECK(cobs_proto_session_get_device_caps(&session, &caps) && caps == 0);
	CHECK(!cobs_proto_session_get_verified(&session));
	free(dev);
}

/* stop-and-wait against queued: the same device, the virtual time each takes */
static void
test_session_queue_depth(void)
{
	CobsProtoConfig config;
	CobsProtoSession session;
	RunResult res;
	uint64_t t_stop_and_wait;
	uint64_t t_queued;
	Dev *dev;
	uint32_t size = 64 * 1024;

	cobs_proto_config_init(&config);
	config.queue_depth = 0;
	dev = run_scripted(&config, size, MISBEHAVE_NONE, (unsigned)-1, &session, &res);
	CHECK(res.last.kind == COBS_PROTO_ACTION_DONE);
	CHECK(dev->max_working == 1);
	t_stop_and_wait = dev->now;
	free(dev);

	config.queue_depth = 1;
	dev = run_scripted(&config, size, MISBEHAVE_NONE, (unsigned)-1, &session, &res);
	CHECK(res.last.kind == COBS_PROTO_ACTION_DONE);
	CHECK(memcmp(dev->flash, test_image, size) == 0);
	t_queued = dev->now;
	CHECK(t_queued < t_stop_and_wait);
	printf("64 KiB on the scripted device (virtual ms): stop-and-wait %llu, one queued %llu\n",
	       (unsigned long long)t_stop_and_wait,
	       (unsigned long long)t_queued);
	free(dev);

	/* the same with one chunk a transfer: as many transfers as messages */
	config.batch_max = 1;
	dev = run_scripted(&config, size, MISBEHAVE_NONE, (unsigned)-1, &session, &res);
	CHECK(res.last.kind == COBS_PROTO_ACTION_DONE);
	CHECK(memcmp(dev->flash, test_image, size) == 0);
	CHECK(dev->sends == dev->messages);
	CHECK(dev->max_working == 2);
	free(dev);

	/* more than the maximum is refused */
	config.batch_max = COBS_PROTO_BATCH_MAX + 1;
	CHECK(cobs_proto_session_start(&session, &config, test_image, size, size) ==
	      COBS_PROTO_ERROR_INVALID_ARGUMENT);
	config.batch_max = COBS_PROTO_DEFAULT_BATCH_MAX;
	config.queue_depth = COBS_PROTO_QUEUE_DEPTH_MAX + 1;
	CHECK(cobs_proto_session_start(&session, &config, test_image, size, size) ==
	      COBS_PROTO_ERROR_INVALID_ARGUMENT);
}

/*
 * Chunks in one transfer: whole 64-byte messages with only the image's last chunk (maybe
 * short) at the end, never erase, verify or bye; the next transfer while the one before is
 * being answered; nothing but single messages without flow control.
 */
static void
test_session_batches(void)
{
	static const uint8_t ack[] = {0x06, 0x00};
	CobsProtoConfig config;
	CobsProtoSession session;
	CobsProtoAction a;
	RunResult res;
	Dev *dev;
	uint8_t msg[COBS_PROTO_MESSAGE_MAX];
	size_t msg_len = 0;
	/* 40 chunks: 39 whole, the last of 10 bytes */
	uint32_t size = 39 * COBS_PROTO_CHUNK_MAX + 10;
	uint64_t now = 0;

	cobs_proto_config_init(&config);
	config.batch_max = 16;
	cobs_proto_session_start(&session, &config, test_image, size, 1024 * 1024);
	cobs_proto_session_next(&session, now, &a);
	CHECK(a.kind == COBS_PROTO_ACTION_SEND && a.step == COBS_PROTO_STEP_ERASE);
	CHECK(a.count == 1 && a.length == 2);
	cobs_proto_session_feed(&session, PROTO_IO_OK, NULL, 0, now);
	cobs_proto_session_next(&session, now, &a);
	CHECK(a.kind == COBS_PROTO_ACTION_RECEIVE);
	cobs_proto_session_feed(&session, PROTO_IO_OK, ack, sizeof(ack), ++now);

	/* chunks 1-16, each message as it would go alone */
	cobs_proto_session_next(&session, now, &a);
	CHECK(a.kind == COBS_PROTO_ACTION_SEND && a.step == COBS_PROTO_STEP_WRITE);
	CHECK(a.count == 16 && a.length == 16 * COBS_PROTO_MESSAGE_MAX);
	CHECK(a.chunk == 0 && a.image_offset == 0 && a.image_length == 16 * COBS_PROTO_CHUNK_MAX);
	for (uint32_t i = 0; i < 16; i++) {
		CHECK(cobs_proto_message_build(COBS_PROTO_CONTROL_WRITE_MORE,
					       test_image + i * COBS_PROTO_CHUNK_MAX,
					       COBS_PROTO_CHUNK_MAX,
					       msg,
					       sizeof(msg),
					       &msg_len) == COBS_PROTO_ERROR_NONE);
		CHECK(msg_len == COBS_PROTO_MESSAGE_MAX);
		CHECK(memcmp(a.bytes + i * COBS_PROTO_MESSAGE_MAX, msg, msg_len) == 0);
	}
	/* the device takes the last chunk once it is done with the 14 before the one in its
	 * buffer: their work and bus time on top of what a reply may take */
	CHECK(a.timeout_ms ==
	      config.reply_slack_ms + 15 * (cobs_proto_chunk_timeout_ms(&config, 0, 61) -
					    config.reply_slack_ms + COBS_PROTO_MESSAGE_BUS_MS));
	cobs_proto_session_feed(&session, PROTO_IO_OK, NULL, 0, ++now);
	CHECK(cobs_proto_session_get_replies_owed(&session) == 16);

	/* chunks 17-32 go while 1-16 are still being answered */
	cobs_proto_session_next(&session, now, &a);
	CHECK(a.kind == COBS_PROTO_ACTION_SEND && a.count == 16 && a.chunk == 16);
	cobs_proto_session_feed(&session, PROTO_IO_OK, NULL, 0, ++now);
	CHECK(cobs_proto_session_get_replies_owed(&session) == 32);

	/* more than 16 unanswered: replies first */
	for (uint32_t i = 0; i < 16; i++) {
		cobs_proto_session_next(&session, now, &a);
		CHECK(a.kind == COBS_PROTO_ACTION_RECEIVE);
		cobs_proto_session_feed(&session, PROTO_IO_OK, ack, sizeof(ack), ++now);
	}

	/* the rest: 7 whole chunks and the short last one, at the end of the transfer */
	cobs_proto_session_next(&session, now, &a);
	CHECK(a.kind == COBS_PROTO_ACTION_SEND && a.count == 8 && a.chunk == 32);
	CHECK(a.image_offset == 32 * COBS_PROTO_CHUNK_MAX && a.image_length == 7 * 61 + 10);
	CHECK(a.length == 7 * COBS_PROTO_MESSAGE_MAX + 1 + 11 + 1);
	CHECK(a.bytes[7 * COBS_PROTO_MESSAGE_MAX] == COBS_PROTO_CONTROL_WRITE_LAST);
	CHECK(a.bytes[6 * COBS_PROTO_MESSAGE_MAX] == COBS_PROTO_CONTROL_WRITE_MORE);

	/* a transfer that is not taken: the replies to everything up to it first (the one
	 * missing would name where the device stopped), then it fails naming its chunks */
	cobs_proto_session_feed(&session, PROTO_IO_TIMEOUT, NULL, 0, ++now);
	for (uint32_t i = 0; i < 24; i++) {
		cobs_proto_session_next(&session, now, &a);
		CHECK(a.kind == COBS_PROTO_ACTION_RECEIVE && a.chunk == 16 + i);
		cobs_proto_session_feed(&session, PROTO_IO_OK, ack, sizeof(ack), ++now);
	}
	cobs_proto_session_next(&session, now, &a);
	CHECK(a.kind == COBS_PROTO_ACTION_ERROR && a.error == COBS_PROTO_ERROR_TIMEOUT);
	CHECK_CONTAINS(
	    a.message,
	    "device did not take write chunks 33-40 of 40 (image bytes 1952-2388) in time");
	CHECK(!cobs_proto_session_get_error_about_reply(&session));

	/* the whole update against the scripted device: bye alone after the last ACK */
	dev = run_scripted(&config, size, MISBEHAVE_NONE, (unsigned)-1, &session, &res);
	CHECK(res.last.kind == COBS_PROTO_ACTION_DONE);
	CHECK(dev->stored == size && memcmp(dev->flash, test_image, size) == 0);
	CHECK(dev->got_bye && dev->max_working == 2);
	/* erase, 16 + 16 + 8 chunks, bye */
	CHECK(dev->sends == 5);
	free(dev);

	/* a device that stops answering holds the rest of a transfer off the bus */
	dev = run_scripted(&config, size, MISBEHAVE_SILENT, 4, &session, &res);
	CHECK(res.last.kind == COBS_PROTO_ACTION_ERROR &&
	      res.last.error == COBS_PROTO_ERROR_TIMEOUT);
	CHECK_CONTAINS(res.last.message,
		       "no reply to write chunk 4 of 40 (image bytes 183-243) within 1001 ms: the "
		       "device had stopped taking write chunks 1-16 of 40 (image bytes 0-975)");
	CHECK(cobs_proto_session_get_error_about_reply(&session));
	CHECK(!dev->got_bye);
	free(dev);

	/* without flow control every message goes alone */
	config.queue_depth = 0;
	dev = run_scripted(&config, size, MISBEHAVE_NONE, (unsigned)-1, &session, &res);
	CHECK(res.last.kind == COBS_PROTO_ACTION_DONE);
	CHECK(dev->sends == 42 && dev->max_working == 1);
	free(dev);
}

static void
test_session_small_images(void)
{
	static const uint32_t sizes[] = {1, 60, 61, 62, 122, 123};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		CobsProtoSession session;
		RunResult res;
		Dev *dev = dev_new();
		cobs_proto_session_start(&session, NULL, test_image, sizes[i], 1024 * 1024);
		run(dev, &session, &res);
		CHECK(res.last.kind == COBS_PROTO_ACTION_DONE);
		CHECK(dev->stored == sizes[i] && memcmp(dev->flash, test_image, sizes[i]) == 0);
		CHECK(dev->got_last && dev->got_bye);
		free(dev);
	}
}

static void
test_session_bad_start(void)
{
	CobsProtoSession session;
	CobsProtoAction action;
	CobsProtoConfig config;

	CHECK(cobs_proto_session_start(&session, NULL, test_image, 0, 100) ==
	      COBS_PROTO_ERROR_INVALID_ARGUMENT);
	cobs_proto_session_next(&session, 0, &action);
	CHECK(action.kind == COBS_PROTO_ACTION_ERROR);
	CHECK_CONTAINS(action.message, "empty");
	CHECK(cobs_proto_session_start(&session, NULL, test_image, 200, 100) ==
	      COBS_PROTO_ERROR_INVALID_ARGUMENT);
	cobs_proto_session_next(&session, 0, &action);
	CHECK_CONTAINS(action.message, "the image is 200 bytes but the device erases only 100");
	cobs_proto_config_init(&config);
	config.reply_slack_ms = 0;
	CHECK(cobs_proto_session_start(&session, &config, test_image, 10, 100) ==
	      COBS_PROTO_ERROR_INVALID_ARGUMENT);
	cobs_proto_config_init(&config);
	config.sector_size = 0;
	CHECK(cobs_proto_session_start(&session, &config, test_image, 10, 100) ==
	      COBS_PROTO_ERROR_INVALID_ARGUMENT);
}

static void
check_misbehaviour(Misbehave misbehave,
		   unsigned at,
		   bool announce_crc,
		   CobsProtoError want_error,
		   const char *want_message)
{
	CobsProtoConfig config;
	CobsProtoSession session;
	RunResult res;
	Dev *dev = dev_new();
	uint32_t size = 10 * 61;

	dev->misbehave = misbehave;
	dev->at = at;
	dev->announce_crc = announce_crc;
	dev->erase_ms = 300;
	/* one chunk a transfer: this scripted host sends and reads on one thread, so a device
	 * that stops answering would hold up a transfer of several chunks first (that case is
	 * in test_session_batches) */
	cobs_proto_config_init(&config);
	config.batch_max = 1;
	cobs_proto_session_start(&session, &config, test_image, size, 1024 * 1024);
	run(dev, &session, &res);
	CHECK(res.last.kind == COBS_PROTO_ACTION_ERROR);
	CHECK(res.last.error == want_error);
	if (res.last.error != want_error)
		fprintf(stderr, "  misbehaviour %d: %s\n", (int)misbehave, res.last.message);
	CHECK_CONTAINS(res.last.message, want_message);
	/* a failed update never starts the image */
	CHECK(!dev->got_bye);
	/* and once failed, the session stays failed */
	{
		CobsProtoAction again;
		cobs_proto_session_next(&session, dev->now + 100000, &again);
		CHECK(again.kind == COBS_PROTO_ACTION_ERROR);
	}
	free(dev);
}

static void
test_session_misbehaving(void)
{
	/* silence: the timeout names the step, the chunk and its bytes */
	check_misbehaviour(MISBEHAVE_SILENT,
			   0,
			   false,
			   COBS_PROTO_ERROR_TIMEOUT,
			   "no reply to erase within 17000 ms");
	check_misbehaviour(MISBEHAVE_SILENT,
			   4,
			   false,
			   COBS_PROTO_ERROR_TIMEOUT,
			   "no reply to write chunk 4 of 10 (image bytes 183-243) within 1001 ms");
	check_misbehaviour(MISBEHAVE_LATE,
			   10,
			   false,
			   COBS_PROTO_ERROR_TIMEOUT,
			   "no reply to write chunk 10 of 10");
	check_misbehaviour(MISBEHAVE_WRONG_BYTE,
			   3,
			   false,
			   COBS_PROTO_ERROR_NOT_ACK,
			   "device answered write chunk 3 of 10 (image bytes 122-182) with [15 00] "
			   "instead of ACK [06 00]");
	check_misbehaviour(MISBEHAVE_WRONG_BYTE,
			   0,
			   false,
			   COBS_PROTO_ERROR_NOT_ACK,
			   "device answered erase with [15 00]");
	check_misbehaviour(MISBEHAVE_GARBAGE,
			   2,
			   false,
			   COBS_PROTO_ERROR_GARBAGE,
			   "garbage in reply to write chunk 2 of 10");
	check_misbehaviour(MISBEHAVE_BAD_COBS,
			   5,
			   false,
			   COBS_PROTO_ERROR_GARBAGE,
			   "payload is not valid COBS: [06 09 11 00]");
	check_misbehaviour(MISBEHAVE_DISCONNECT,
			   6,
			   false,
			   COBS_PROTO_ERROR_NO_DEVICE,
			   "device disconnected during write chunk");
	check_misbehaviour(MISBEHAVE_EXT_ACK,
			   2,
			   false,
			   COBS_PROTO_ERROR_NOT_ACK,
			   "[06 03 01 01 00] instead of ACK [06 00]");
	/* the verification extension catches a byte stored wrong */
	check_misbehaviour(MISBEHAVE_CORRUPT,
			   7,
			   true,
			   COBS_PROTO_ERROR_VERIFY,
			   "verification failed: the device computed CRC-32");
	check_misbehaviour(MISBEHAVE_SILENT,
			   11,
			   true,
			   COBS_PROTO_ERROR_TIMEOUT,
			   "no reply to verify within 1001 ms");
	check_misbehaviour(MISBEHAVE_WRONG_BYTE,
			   11,
			   true,
			   COBS_PROTO_ERROR_NOT_ACK,
			   "instead of the CRC reply");
}

/* a double ACK with one chunk queued is taken as the queued chunk's ACK: the protocol has
 * no sequence numbers. Stop-and-wait sees the stray ACK and fails. */
static void
test_session_double_ack(void)
{
	CobsProtoConfig config;
	CobsProtoSession session;
	RunResult res;
	Dev *dev = dev_new();

	cobs_proto_config_init(&config);
	config.queue_depth = 0;
	dev->misbehave = MISBEHAVE_DOUBLE_ACK;
	dev->at = 3;
	dev->erase_ms = 1500;
	cobs_proto_session_start(&session, &config, test_image, 600, 600);
	run(dev, &session, &res);
	CHECK(res.last.kind == COBS_PROTO_ACTION_ERROR);
	CHECK(res.last.error == COBS_PROTO_ERROR_GARBAGE);
	CHECK_CONTAINS(res.last.message, "with no message waiting for a reply");
	free(dev);
}

static void
test_session_verify(void)
{
	CobsProtoConfig config;
	CobsProtoSession session;
	RunResult res;
	Dev *dev = dev_new();
	uint8_t caps = 0;

	/* announced and used */
	dev->announce_crc = true;
	cobs_proto_session_start(&session, NULL, test_image, 5000, 1024 * 1024);
	run(dev, &session, &res);
	CHECK(res.last.kind == COBS_PROTO_ACTION_DONE);
	CHECK(dev->got_verify && dev->got_bye);
	CHECK(cobs_proto_session_get_verified(&session));
	CHECK(cobs_proto_session_get_device_caps(&session, &caps) &&
	      caps == COBS_PROTO_CAP_VERIFY_CRC32);
	free(dev);

	/* announced, but the caller does not want it */
	dev = dev_new();
	dev->announce_crc = true;
	cobs_proto_config_init(&config);
	config.use_verify = false;
	cobs_proto_session_start(&session, &config, test_image, 5000, 1024 * 1024);
	run(dev, &session, &res);
	CHECK(res.last.kind == COBS_PROTO_ACTION_DONE);
	CHECK(!dev->got_verify && dev->got_bye);
	CHECK(!cobs_proto_session_get_verified(&session));
	free(dev);

	/* a corrupted byte on a device without the extension goes unnoticed */
	dev = dev_new();
	dev->misbehave = MISBEHAVE_CORRUPT;
	dev->at = 3;
	cobs_proto_session_start(&session, NULL, test_image, 5000, 1024 * 1024);
	run(dev, &session, &res);
	CHECK(res.last.kind == COBS_PROTO_ACTION_DONE);
	CHECK(memcmp(dev->flash, test_image, 5000) != 0);
	free(dev);
}

static void
test_session_replies_split(void)
{
	CobsProtoSession session;
	RunResult res;
	Dev *dev = dev_new();

	dev->split_replies = true;
	dev->announce_crc = true;
	cobs_proto_session_start(&session, NULL, test_image, 3000, 1024 * 1024);
	run(dev, &session, &res);
	CHECK(res.last.kind == COBS_PROTO_ACTION_DONE);
	CHECK(cobs_proto_session_get_verified(&session));
	free(dev);
}

/* a device that leaves for its new image on bye before it answers */
static void
test_session_bye_disconnect(void)
{
	CobsProtoSession session;
	RunResult res;
	Dev *dev = dev_new();

	dev->misbehave = MISBEHAVE_DISCONNECT;
	dev->at = 1 + 2; /* erase, two chunks, then bye */
	cobs_proto_session_start(&session, NULL, test_image, 100, 1024 * 1024);
	run(dev, &session, &res);
	CHECK(res.last.kind == COBS_PROTO_ACTION_DONE);
	CHECK(cobs_proto_session_get_bye_unanswered(&session));
	free(dev);
}

/* next() without a feed repeats itself; a RECEIVE's timeout shrinks with the time passed */
static void
test_session_next_idempotent(void)
{
	CobsProtoSession session;
	CobsProtoAction a;
	CobsProtoAction b;

	cobs_proto_session_start(&session, NULL, test_image, 100, 1024 * 1024);
	cobs_proto_session_next(&session, 0, &a);
	cobs_proto_session_next(&session, 0, &b);
	CHECK(a.kind == COBS_PROTO_ACTION_SEND && b.kind == COBS_PROTO_ACTION_SEND);
	CHECK(a.length == 2 && a.bytes[0] == 0x03 && b.length == 2 && b.bytes[0] == 0x03);
	cobs_proto_session_feed(&session, PROTO_IO_OK, NULL, 0, 10);
	cobs_proto_session_next(&session, 10, &a);
	CHECK(a.kind == COBS_PROTO_ACTION_RECEIVE && a.step == COBS_PROTO_STEP_ERASE);
	CHECK(a.timeout_ms == 17000);
	cobs_proto_session_next(&session, 1010, &a);
	CHECK(a.timeout_ms == 16000);
	/* a feed of nothing (a zero-length read) changes nothing */
	cobs_proto_session_feed(&session, PROTO_IO_OK, NULL, 0, 1010);
	/* past the deadline: one last look for a reply already in, then the timeout */
	cobs_proto_session_next(&session, 17010, &a);
	CHECK(a.kind == COBS_PROTO_ACTION_RECEIVE && a.timeout_ms == COBS_PROTO_LAST_LOOK_MS);
	cobs_proto_session_feed(&session, PROTO_IO_TIMEOUT, NULL, 0, 17011);
	cobs_proto_session_next(&session, 17011, &a);
	CHECK(a.kind == COBS_PROTO_ACTION_ERROR && a.error == COBS_PROTO_ERROR_TIMEOUT);
	CHECK_CONTAINS(a.message, "no reply to erase within 17000 ms");

	/* a device that answers a last look with nothing, or with part of a frame, gets only
	 * the one: the session does not ask again and again */
	for (unsigned partial = 0; partial < 2; partial++) {
		static const uint8_t half[] = {0x06};
		cobs_proto_session_start(&session, NULL, test_image, 100, 1024 * 1024);
		cobs_proto_session_next(&session, 0, &a);
		cobs_proto_session_feed(&session, PROTO_IO_OK, NULL, 0, 10);
		cobs_proto_session_next(&session, 17010, &a);
		CHECK(a.kind == COBS_PROTO_ACTION_RECEIVE &&
		      a.timeout_ms == COBS_PROTO_LAST_LOOK_MS);
		cobs_proto_session_feed(&session,
					PROTO_IO_OK,
					partial ? half : NULL,
					partial ? sizeof(half) : 0,
					17011);
		cobs_proto_session_next(&session, 17011, &a);
		CHECK(a.kind == COBS_PROTO_ACTION_ERROR && a.error == COBS_PROTO_ERROR_TIMEOUT);
		CHECK_CONTAINS(a.message,
			       partial ? "incomplete reply [06] to erase within 17000 ms"
				       : "no reply to erase within 17000 ms");
	}
}

/* what a caller reading on another thread is told: replies owed, and how long they may take */
static void
test_session_replies_owed(void)
{
	static const uint8_t ack[] = {0x06, 0x00};
	CobsProtoConfig config;
	CobsProtoSession session;
	CobsProtoAction a;

	cobs_proto_config_init(&config);
	config.batch_max = 1;
	cobs_proto_session_start(&session, &config, test_image, 200, 1024 * 1024);
	CHECK(cobs_proto_session_get_replies_owed(&session) == 0);
	CHECK(cobs_proto_session_get_reply_wait_ms(&session) == config.reply_slack_ms);
	cobs_proto_session_next(&session, 0, &a);
	cobs_proto_session_feed(&session, PROTO_IO_OK, NULL, 0, 0);
	CHECK(cobs_proto_session_get_replies_owed(&session) == 1);
	/* the slack once, not once per message */
	CHECK(cobs_proto_session_get_reply_wait_ms(&session) ==
	      cobs_proto_erase_timeout_ms(&config, 1024 * 1024) + COBS_PROTO_MESSAGE_BUS_MS);
	cobs_proto_session_next(&session, 0, &a);
	CHECK(a.kind == COBS_PROTO_ACTION_RECEIVE);
	cobs_proto_session_feed(&session, PROTO_IO_OK, ack, sizeof(ack), 5);
	CHECK(cobs_proto_session_get_replies_owed(&session) == 0);

	/* the first chunk, and the second queued behind it */
	for (unsigned i = 0; i < 2; i++) {
		cobs_proto_session_next(&session, 5, &a);
		CHECK(a.kind == COBS_PROTO_ACTION_SEND && a.step == COBS_PROTO_STEP_WRITE);
		cobs_proto_session_feed(&session, PROTO_IO_OK, NULL, 0, 6);
	}
	CHECK(cobs_proto_session_get_replies_owed(&session) == 2);
	CHECK(cobs_proto_session_get_reply_wait_ms(&session) ==
	      cobs_proto_chunk_timeout_ms(&config, 0, 61) +
		  cobs_proto_chunk_timeout_ms(&config, 61, 61) - config.reply_slack_ms +
		  2 * COBS_PROTO_MESSAGE_BUS_MS);
	cobs_proto_session_next(&session, 6, &a);
	CHECK(a.kind == COBS_PROTO_ACTION_RECEIVE);
	cobs_proto_session_feed(&session, PROTO_IO_OK, ack, sizeof(ack), 7);
	CHECK(cobs_proto_session_get_replies_owed(&session) == 1);

	/* a failed session owes nothing: a reader stops */
	cobs_proto_session_next(&session, 7, &a);
	cobs_proto_session_feed(&session, PROTO_IO_NO_DEVICE, NULL, 0, 8);
	CHECK(cobs_proto_session_get_replies_owed(&session) == 0);
}

/* a session of a small image, one message at a time, answered with the replies given for
 * erase, verify and bye (ACK to the chunks); ends at the last action, or at the wait for
 * bye's reply when none is given */
static void
drive_session(CobsProtoSession *session,
	      const uint8_t *erase_reply,
	      size_t erase_len,
	      const uint8_t *verify_reply,
	      size_t verify_len,
	      const uint8_t *bye_reply,
	      size_t bye_len,
	      CobsProtoAction *a)
{
	const uint8_t ack[] = {0x06, 0x00};
	CobsProtoConfig config;
	uint64_t now = 0;

	cobs_proto_config_init(&config);
	config.queue_depth = 0;
	cobs_proto_session_start(session, &config, test_image, 100, 1024 * 1024);
	for (;;) {
		cobs_proto_session_next(session, now, a);
		if (a->kind == COBS_PROTO_ACTION_SEND) {
			cobs_proto_session_feed(session, PROTO_IO_OK, NULL, 0, ++now);
			continue;
		}
		if (a->kind != COBS_PROTO_ACTION_RECEIVE)
			return;
		/* no reply given: the caller goes on from this RECEIVE */
		if (a->step == COBS_PROTO_STEP_BYE && bye_reply == NULL)
			return;
		if (a->step == COBS_PROTO_STEP_ERASE)
			cobs_proto_session_feed(session,
						PROTO_IO_OK,
						erase_reply,
						erase_len,
						++now);
		else if (a->step == COBS_PROTO_STEP_VERIFY)
			cobs_proto_session_feed(session,
						PROTO_IO_OK,
						verify_reply,
						verify_len,
						++now);
		else if (a->step == COBS_PROTO_STEP_BYE)
			cobs_proto_session_feed(session, PROTO_IO_OK, bye_reply, bye_len, ++now);
		else
			cobs_proto_session_feed(session, PROTO_IO_OK, ack, sizeof(ack), ++now);
	}
}

/* ACKs carry no sequence number: a reply after bye's means the device sent more replies than
 * it was sent messages, so bye's reply may have been a chunk's */
static void
test_session_after_bye(void)
{
	const uint8_t ack[] = {0x06, 0x00};
	const uint8_t two_acks[] = {0x06, 0x00, 0x06, 0x00};
	const uint8_t nak[] = {0x15, 0x00};
	const uint8_t log[] = {'d', 'o', 'n', 'e', '.', '\r', '\n'};
	CobsProtoSession session;
	CobsProtoAction a;

	/* in the read that brought bye's reply */
	drive_session(&session, ack, 2, NULL, 0, two_acks, sizeof(two_acks), &a);
	CHECK(a.kind == COBS_PROTO_ACTION_ERROR && a.error == COBS_PROTO_ERROR_NOT_ACK);
	CHECK_CONTAINS(a.message, "device sent [06 00] after its reply to bye");
	CHECK_CONTAINS(a.message, "more replies than it was sent messages");

	/* in a later read; text a firmware logs is no reply */
	drive_session(&session, ack, 2, NULL, 0, ack, 2, &a);
	CHECK(a.kind == COBS_PROTO_ACTION_DONE);
	cobs_proto_session_feed_after_bye(&session, log, sizeof(log));
	cobs_proto_session_next(&session, 0, &a);
	CHECK(a.kind == COBS_PROTO_ACTION_DONE);
	cobs_proto_session_feed_after_bye(&session, nak, sizeof(nak));
	cobs_proto_session_next(&session, 0, &a);
	CHECK(a.kind == COBS_PROTO_ACTION_ERROR);
	/* the text and the frame it runs into cannot be told apart: shown together */
	CHECK_CONTAINS(a.message, "0d 0a 15 00] after its reply to bye");

	/* not before the session is done */
	drive_session(&session, ack, 2, NULL, 0, NULL, 0, &a);
	CHECK(a.kind == COBS_PROTO_ACTION_RECEIVE && a.step == COBS_PROTO_STEP_BYE);
	cobs_proto_session_feed_after_bye(&session, ack, sizeof(ack));
	cobs_proto_session_next(&session, 0, &a);
	CHECK(a.kind == COBS_PROTO_ACTION_RECEIVE);
}

/* verify answered with what no device that stored the image can say */
static void
test_session_verify_hostile(void)
{
	const uint8_t ack[] = {0x06, 0x00};
	const uint8_t ext_ack[] = {0x06, 0x03, 0x01, 0x01, 0x00};
	uint32_t crc = proto_crc32(0, test_image, 100);
	uint8_t payload[9] = {COBS_PROTO_CONTROL_VERIFY, 0xff, 0xff, 0xff, 0xff};
	uint8_t reply[COBS_PROTO_MESSAGE_MAX];
	size_t reply_len = 0;
	CobsProtoSession session;
	CobsProtoAction a;

	/* a count no flash of this device holds */
	for (unsigned i = 0; i < 4; i++)
		payload[5 + i] = (uint8_t)(crc >> (8 * i));
	CHECK(cobs_proto_message_build(COBS_PROTO_CONTROL_ACK,
				       payload,
				       sizeof(payload),
				       reply,
				       sizeof(reply),
				       &reply_len) == COBS_PROTO_ERROR_NONE);
	drive_session(&session, ext_ack, sizeof(ext_ack), reply, reply_len, ack, 2, &a);
	CHECK(a.kind == COBS_PROTO_ACTION_ERROR && a.error == COBS_PROTO_ERROR_VERIFY);
	CHECK_CONTAINS(a.message,
		       "the device reports 4294967295 bytes stored, more than its flash holds "
		       "(1048576 bytes)");

	/* a CRC reply a byte short */
	CHECK(cobs_proto_message_build(COBS_PROTO_CONTROL_ACK,
				       payload,
				       sizeof(payload) - 1,
				       reply,
				       sizeof(reply),
				       &reply_len) == COBS_PROTO_ERROR_NONE);
	drive_session(&session, ext_ack, sizeof(ext_ack), reply, reply_len, ack, 2, &a);
	CHECK(a.kind == COBS_PROTO_ACTION_ERROR && a.error == COBS_PROTO_ERROR_NOT_ACK);
	CHECK_CONTAINS(a.message, "a CRC reply of 8 bytes, not 9");

	/* a plain ACK where the CRC reply was due: one ACK too many before it */
	drive_session(&session, ext_ack, sizeof(ext_ack), ack, 2, ack, 2, &a);
	CHECK(a.kind == COBS_PROTO_ACTION_ERROR && a.error == COBS_PROTO_ERROR_NOT_ACK);
	CHECK_CONTAINS(a.message, "answered verify with [06 00] instead of the CRC reply");
	CHECK_CONTAINS(a.message, "more ACKs than it was sent messages");
}

/* a reply split across reads shows as bytes inside a frame */
static void
test_session_reply_partial(void)
{
	const uint8_t ack_first[] = {0x06};
	const uint8_t ack_rest[] = {0x00};
	CobsProtoSession session;
	CobsProtoAction a;

	cobs_proto_session_start(&session, NULL, test_image, 100, 1024 * 1024);
	cobs_proto_session_next(&session, 0, &a);
	cobs_proto_session_feed(&session, PROTO_IO_OK, NULL, 0, 1);
	CHECK(!cobs_proto_session_get_reply_partial(&session));
	cobs_proto_session_next(&session, 1, &a);
	CHECK(a.kind == COBS_PROTO_ACTION_RECEIVE && a.step == COBS_PROTO_STEP_ERASE);
	cobs_proto_session_feed(&session, PROTO_IO_OK, ack_first, 1, 2);
	CHECK(cobs_proto_session_get_reply_partial(&session));
	cobs_proto_session_next(&session, 2, &a);
	CHECK(a.kind == COBS_PROTO_ACTION_RECEIVE && a.step == COBS_PROTO_STEP_ERASE);
	cobs_proto_session_feed(&session, PROTO_IO_OK, ack_rest, 1, 3);
	CHECK(!cobs_proto_session_get_reply_partial(&session));
	CHECK(cobs_proto_session_get_device_caps(&session, NULL));
}

/* a read of a whole message's worth of bytes with no end marker is garbage at once: waiting for
 * the next read could only end in a timeout, or never on a slow host */
static void
test_session_reply_full_without_end(void)
{
	uint8_t garbage[COBS_PROTO_MESSAGE_MAX];
	CobsProtoSession session;
	CobsProtoAction a;

	memset(garbage, 0x41, sizeof(garbage));
	cobs_proto_session_start(&session, NULL, test_image, 100, 1024 * 1024);
	cobs_proto_session_next(&session, 0, &a);
	cobs_proto_session_feed(&session, PROTO_IO_OK, NULL, 0, 1);
	cobs_proto_session_next(&session, 1, &a);
	CHECK(a.kind == COBS_PROTO_ACTION_RECEIVE && a.step == COBS_PROTO_STEP_ERASE);
	cobs_proto_session_feed(&session, PROTO_IO_OK, garbage, sizeof(garbage), 2);
	cobs_proto_session_next(&session, 2, &a);
	CHECK(a.kind == COBS_PROTO_ACTION_ERROR && a.error == COBS_PROTO_ERROR_GARBAGE);
	CHECK_CONTAINS(a.message, "garbage in reply to erase");
}

int
main(void)
{
	test_image = malloc(4 * 1024 * 1024);
	/* every byte value, zeros included, in no simple period */
	for (size_t i = 0; i < 4 * 1024 * 1024; i++)
		test_image[i] = (uint8_t)((i * 2654435761u) >> 13);
	test_cobs_vectors();
	test_cobs_malformed();
	test_messages();
	test_crc32_and_timeouts();
	test_session_flash();
	test_session_queue_depth();
	test_session_batches();
	test_session_small_images();
	test_session_bad_start();
	test_session_misbehaving();
	test_session_double_ack();
	test_session_verify();
	test_session_replies_split();
	test_session_bye_disconnect();
	test_session_next_idempotent();
	test_session_replies_owed();
	test_session_after_bye();
	test_session_verify_hostile();
	test_session_reply_partial();
	test_session_reply_full_without_end();
	free(test_image);
	return proto_test_result("cobs-proto-test");
}
