/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

/*
 * The scripted DFU 1.1 device the DFU core's unit tests drive, written independently of the
 * core, and the loop that runs a session against it. The DfuSe tests extend it: a device
 * that embeds a FakeDevice first and sets its control and trace_control to its own requests.
 * A header of static functions, so that its checks count in the proto-test.h harness of
 * the test program that includes it.
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dfu-proto.h"
#include "proto-test.h"

/* room for the DFU 1.1 tests' 65536 and more blocks and for the DfuSe model's 1 MiB */
#define FAKE_MEMORY_SIZE (1024u * 1024u)

/* the host's side: the image the tests download (test_image_fill()), the buffer they
 * upload to */
static uint8_t test_image[FAKE_MEMORY_SIZE];
static uint8_t upload_buffer[FAKE_MEMORY_SIZE];

static void
test_image_fill(void)
{
	for (size_t i = 0; i < sizeof(test_image); i++)
		test_image[i] = (uint8_t)(i * 7 + 3);
}

typedef struct FakeDevice FakeDevice;

/* executes one control transfer, already counted and timed by fake_run(); what the device
 * sends back goes to dev->reply */
typedef ProtoIo (*FakeControlFunc)(FakeDevice *dev, const DfuProtoAction *a);
/* writes the trace word of a control transfer before it runs */
typedef void (*FakeTraceControlFunc)(FakeDevice *dev, const DfuProtoAction *a);

struct FakeDevice {
	FakeControlFunc control;
	FakeTraceControlFunc trace_control;
	/* script */
	DfuProtoState state;
	uint32_t busy_poll_ms;	     /* bwPollTimeout reported while busy */
	unsigned busy_reads;	     /* status reads answered dfuDNBUSY after each block */
	bool busy_forever;	     /* never leaves dfuDNBUSY */
	int error_after_block;	     /* -1, or the block after which it reports dfuERROR */
	DfuProtoStatus error_status; /* what it reports then */
	unsigned manifest_reads;     /* status reads answered dfuMANIFEST */
	bool manifest_tolerant;
	bool manifest_silent; /* not tolerant, and stops answering after the last block */
	size_t upload_size;   /* bytes UPLOAD can return */
	unsigned fail_at;     /* 1-based index of the control transfer to fail, 0 none */
	ProtoIo fail_result;
	bool frozen_clock;	/* the caller's clock never advances */
	bool clrstatus_ignored; /* stays in dfuERROR whatever the host does */
	bool manifest_fails;	/* reports errFIRMWARE at the end of manifestation */
	bool forgets_download;	/* answers dfuIDLE instead of dfuDNLOAD-IDLE after a block */
	/* the host's buffers during fake_run(): the image it downloads, where it uploads to */
	const uint8_t *image;
	uint8_t *upload;
	/* the data stage of the transfer that runs */
	uint8_t reply[4096];
	size_t reply_len;
	/* recorded */
	uint64_t now_ms;
	unsigned transfers;
	unsigned busy_left;
	unsigned manifest_left;
	uint32_t blocks_received;
	size_t memory_len;
	size_t upload_pos;
	uint64_t waited_ms;
	unsigned waits;
	unsigned status_reads;
	bool reset_seen;
	bool wrong_block_number;
	uint8_t memory[FAKE_MEMORY_SIZE];
	char trace[8192];
	size_t trace_len;
	bool trace_full;
};

static void __attribute__((format(printf, 2, 3))) fake_trace(FakeDevice *dev, const char *fmt, ...)
{
	va_list args;
	int n;
	if (dev->trace_full)
		return;
	if (dev->trace_len > 0 && dev->trace_len < sizeof(dev->trace) - 1)
		dev->trace[dev->trace_len++] = ' ';
	va_start(args, fmt);
	n = vsnprintf(dev->trace + dev->trace_len, sizeof(dev->trace) - dev->trace_len, fmt, args);
	va_end(args);
	if (n < 0 || (size_t)n >= sizeof(dev->trace) - dev->trace_len) {
		dev->trace_full = true;
		return;
	}
	dev->trace_len += (size_t)n;
}

/* the six bytes of a GETSTATUS reply reporting @status and the device's state */
static void
fake_status_reply(FakeDevice *dev, DfuProtoStatus status, uint32_t poll_ms)
{
	uint8_t *buf = dev->reply;

	buf[0] = (uint8_t)status;
	buf[1] = (uint8_t)(poll_ms & 0xFF);
	buf[2] = (uint8_t)((poll_ms >> 8) & 0xFF);
	buf[3] = (uint8_t)((poll_ms >> 16) & 0xFF);
	buf[4] = (uint8_t)dev->state;
	buf[5] = 0;
	dev->reply_len = 6;
}

static ProtoIo
fake_getstatus(FakeDevice *dev)
{
	uint32_t poll_ms = 0;
	DfuProtoStatus status = DFU_PROTO_STATUS_OK;

	dev->status_reads++;
	switch (dev->state) {
	case DFU_PROTO_STATE_DFU_DNLOAD_SYNC:
	case DFU_PROTO_STATE_DFU_DNBUSY:
		if (dev->error_after_block >= 0 &&
		    dev->blocks_received == (uint32_t)dev->error_after_block + 1) {
			dev->state = DFU_PROTO_STATE_DFU_ERROR;
			status = dev->error_status;
		} else if (dev->busy_forever || dev->busy_left > 0) {
			if (dev->busy_left > 0)
				dev->busy_left--;
			dev->state = DFU_PROTO_STATE_DFU_DNBUSY;
			poll_ms = dev->busy_poll_ms;
		} else {
			dev->state = dev->forgets_download ? DFU_PROTO_STATE_DFU_IDLE
							   : DFU_PROTO_STATE_DFU_DNLOAD_IDLE;
		}
		break;
	case DFU_PROTO_STATE_DFU_MANIFEST_SYNC:
	case DFU_PROTO_STATE_DFU_MANIFEST:
		if (dev->manifest_silent)
			return PROTO_IO_TIMEOUT;
		if (dev->manifest_left > 0) {
			dev->manifest_left--;
			dev->state = DFU_PROTO_STATE_DFU_MANIFEST;
			poll_ms = dev->busy_poll_ms;
		} else if (dev->manifest_fails) {
			dev->state = DFU_PROTO_STATE_DFU_ERROR;
			dev->error_status = DFU_PROTO_STATUS_ERR_FIRMWARE;
			status = dev->error_status;
		} else {
			dev->state = dev->manifest_tolerant
					 ? DFU_PROTO_STATE_DFU_IDLE
					 : DFU_PROTO_STATE_DFU_MANIFEST_WAIT_RESET;
		}
		break;
	case DFU_PROTO_STATE_DFU_ERROR:
		status = dev->error_status;
		break;
	default:
		break;
	}
	fake_status_reply(dev, status, poll_ms);
	return PROTO_IO_OK;
}

/* the DFU 1.1 device's answer to one control transfer */
static ProtoIo
fake_control(FakeDevice *dev, const DfuProtoAction *a)
{
	switch (a->request) {
	case DFU_PROTO_REQUEST_GETSTATUS:
		return fake_getstatus(dev);
	case DFU_PROTO_REQUEST_CLRSTATUS:
		if (dev->state == DFU_PROTO_STATE_DFU_ERROR && !dev->clrstatus_ignored)
			dev->state = DFU_PROTO_STATE_DFU_IDLE;
		return PROTO_IO_OK;
	case DFU_PROTO_REQUEST_ABORT:
		dev->state = DFU_PROTO_STATE_DFU_IDLE;
		return PROTO_IO_OK;
	case DFU_PROTO_REQUEST_DETACH:
		if (dev->state != DFU_PROTO_STATE_APP_IDLE)
			return PROTO_IO_STALL;
		dev->state = DFU_PROTO_STATE_APP_DETACH;
		return PROTO_IO_OK;
	case DFU_PROTO_REQUEST_DNLOAD:
		if (dev->state != DFU_PROTO_STATE_DFU_IDLE &&
		    dev->state != DFU_PROTO_STATE_DFU_DNLOAD_IDLE) {
			dev->state = DFU_PROTO_STATE_DFU_ERROR;
			dev->error_status = DFU_PROTO_STATUS_ERR_STALLEDPKT;
			return PROTO_IO_STALL;
		}
		if (a->value != (uint16_t)(dev->blocks_received & 0xFFFF))
			dev->wrong_block_number = true;
		if (a->length == 0) {
			dev->state = DFU_PROTO_STATE_DFU_MANIFEST_SYNC;
			dev->manifest_left = dev->manifest_reads;
			return PROTO_IO_OK;
		}
		if (a->payload == DFU_PROTO_PAYLOAD_IMAGE &&
		    a->image_offset + a->length <= FAKE_MEMORY_SIZE) {
			memcpy(dev->memory + a->image_offset,
			       dev->image + a->image_offset,
			       a->length);
			if (a->image_offset + a->length > dev->memory_len)
				dev->memory_len = a->image_offset + a->length;
		}
		dev->blocks_received++;
		dev->busy_left = dev->busy_reads;
		dev->state = DFU_PROTO_STATE_DFU_DNLOAD_SYNC;
		return PROTO_IO_OK;
	case DFU_PROTO_REQUEST_UPLOAD: {
		size_t n = dev->upload_size - dev->upload_pos;
		if (dev->state != DFU_PROTO_STATE_DFU_IDLE &&
		    dev->state != DFU_PROTO_STATE_DFU_UPLOAD_IDLE)
			return PROTO_IO_STALL;
		if (n > a->length)
			n = a->length;
		for (size_t i = 0; i < n; i++)
			dev->upload[a->image_offset + i] = (uint8_t)(dev->upload_pos + i);
		dev->upload_pos += n;
		dev->reply_len = n;
		dev->state = n < a->length ? DFU_PROTO_STATE_DFU_IDLE
					   : DFU_PROTO_STATE_DFU_UPLOAD_IDLE;
		return PROTO_IO_OK;
	}
	default:
		return PROTO_IO_STALL;
	}
}

static void
fake_trace_control(FakeDevice *dev, const DfuProtoAction *a)
{
	const char *request = dfu_proto_request_to_string(a->request);

	if (a->request == DFU_PROTO_REQUEST_DNLOAD || a->request == DFU_PROTO_REQUEST_UPLOAD)
		fake_trace(dev, "%s:%u:%u@%zu", request, a->value, a->length, a->image_offset);
	else if (a->request == DFU_PROTO_REQUEST_DETACH)
		fake_trace(dev, "DETACH:%u", a->value);
	else
		fake_trace(dev, "%s", request);
}

static void
fake_init(FakeDevice *dev)
{
	memset(dev, 0, sizeof(*dev));
	dev->control = fake_control;
	dev->trace_control = fake_trace_control;
	dev->state = DFU_PROTO_STATE_DFU_IDLE;
	dev->busy_poll_ms = 20;
	dev->error_after_block = -1;
	dev->error_status = DFU_PROTO_STATUS_ERR_PROG;
	dev->manifest_tolerant = true;
	dev->now_ms = 1000;
}

/* a test driving the session by hand: the outcome @result (with @len bytes of @data read) of
 * the action asked for, at @now_ms, and the next action into @a */
static void
fake_answer(DfuProtoSession *s,
	    ProtoIo result,
	    const uint8_t *data,
	    size_t len,
	    uint64_t now_ms,
	    DfuProtoAction *a)
{
	dfu_proto_session_feed(s, result, data, len, now_ms);
	dfu_proto_session_next(s, now_ms, a);
}

/* runs the session to its end against the device; returns the final action kind */
static DfuProtoActionKind
fake_run(FakeDevice *dev, DfuProtoSession *s, const uint8_t *image, uint8_t *upload)
{
	dev->image = image;
	dev->upload = upload;
	for (unsigned step = 0; step < 10000000; step++) {
		DfuProtoAction a;
		ProtoIo result = PROTO_IO_OK;

		dev->reply_len = 0;
		dfu_proto_session_next(s, dev->now_ms, &a);
		switch (a.kind) {
		case DFU_PROTO_ACTION_DONE:
			fake_trace(dev, "DONE");
			return a.kind;
		case DFU_PROTO_ACTION_ERROR:
			fake_trace(dev, "ERROR:%s", dfu_proto_error_to_string(a.error));
			CHECK(a.message != NULL && a.message[0] != '\0');
			return a.kind;
		case DFU_PROTO_ACTION_WAIT:
			fake_trace(dev, "WAIT:%u", (unsigned)a.wait_ms);
			CHECK(a.wait_ms > 0);
			dev->waits++;
			dev->waited_ms += a.wait_ms;
			if (!dev->frozen_clock)
				dev->now_ms += a.wait_ms;
			break;
		case DFU_PROTO_ACTION_USB_RESET:
			fake_trace(dev, "RESET");
			dev->reset_seen = true;
			if (dev->state == DFU_PROTO_STATE_APP_DETACH)
				dev->state = DFU_PROTO_STATE_DFU_IDLE;
			else if (dev->state == DFU_PROTO_STATE_DFU_MANIFEST_WAIT_RESET)
				dev->state = DFU_PROTO_STATE_APP_IDLE;
			break;
		case DFU_PROTO_ACTION_CONTROL_OUT:
		case DFU_PROTO_ACTION_CONTROL_IN:
			dev->trace_control(dev, &a);
			dev->transfers++;
			if (!dev->frozen_clock)
				dev->now_ms += 1; /* a control transfer costs about a millisecond */
			if (dev->fail_at == dev->transfers)
				result = dev->fail_result;
			else
				result = dev->control(dev, &a);
			if (result != PROTO_IO_OK)
				fake_trace(dev, "<%s>", proto_io_to_string(result));
			break;
		}
		dfu_proto_session_feed(s, result, dev->reply, dev->reply_len, dev->now_ms);
	}
	CHECK(!"session did not end");
	return DFU_PROTO_ACTION_ERROR;
}
