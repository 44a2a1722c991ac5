/*
 * Copyright 2025 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * libFuzzer target for the DFU core. The first byte picks what to drive:
 *   even: the descriptor parser with the rest of the input;
 *   odd:  a session with functional attributes, transfer size, operation and size from the
 *         next bytes, then one record per action: a control byte (result and time step),
 *         for CONTROL_IN a length byte and that many reply bytes.
 * The harness checks what the core promises its caller: DNLOAD/UPLOAD ranges inside the
 * image, waits within the named bound, progress never past the total, and an end.
 */

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dfu-proto.h"

#define FUZZ_STEPS_MAX 200000u

typedef struct {
	const uint8_t *data;
	size_t len;
	size_t pos;
} FuzzInput;

static uint8_t
fuzz_byte(FuzzInput *in)
{
	if (in->pos >= in->len)
		return 0;
	return in->data[in->pos++];
}

static bool
fuzz_empty(const FuzzInput *in)
{
	return in->pos >= in->len;
}

static void
fuzz_descriptors(const uint8_t *data, size_t len)
{
	DfuProtoDescriptors descs;
	char msg[128];

	if (dfu_proto_descriptors_parse(data, len, &descs, msg, sizeof(msg)) !=
	    DFU_PROTO_ERROR_NONE) {
		if (msg[0] == '\0')
			__builtin_trap();
		return;
	}
	if (descs.interface_count > DFU_PROTO_INTERFACES_MAX)
		__builtin_trap();
	for (unsigned i = 0; i < descs.interface_count; i++) {
		if (descs.interfaces[i].alt_count > DFU_PROTO_ALTS_MAX)
			__builtin_trap();
	}
	(void)dfu_proto_descriptors_find(&descs, DFU_PROTO_INTERFACE_PROTOCOL_DFU);
	(void)dfu_proto_descriptors_find(&descs, DFU_PROTO_INTERFACE_PROTOCOL_RUNTIME);
}

static DfuProtoResult
fuzz_result(uint8_t control)
{
	switch (control & 0x07) {
	case 4:
		return DFU_PROTO_RESULT_STALL;
	case 5:
		return DFU_PROTO_RESULT_TIMEOUT;
	case 6:
		return DFU_PROTO_RESULT_NO_DEVICE;
	case 7:
		return DFU_PROTO_RESULT_IO_ERROR;
	default:
		return DFU_PROTO_RESULT_OK;
	}
}

static void
fuzz_session(FuzzInput *in)
{
	DfuProtoFunctional functional = {0};
	DfuProtoSession s;
	uint64_t now_ms = (uint64_t)fuzz_byte(in) << 20;
	uint8_t op;
	size_t total;
	uint16_t block_size;

	functional.attributes = fuzz_byte(in);
	functional.detach_timeout_ms = (uint16_t)(fuzz_byte(in) << 4);
	functional.transfer_size = fuzz_byte(in);
	functional.dfu_version = DFU_PROTO_VERSION_DFU11;
	op = fuzz_byte(in);
	total = (size_t)fuzz_byte(in) | ((size_t)fuzz_byte(in) << 8);
	block_size = (uint16_t)(fuzz_byte(in) & 0x3F);

	dfu_proto_session_init(&s, &functional);
	if (op & 0x10)
		dfu_proto_session_set_busy_budget(&s, 2000);
	switch (op & 0x03) {
	case 0:
		(void)dfu_proto_session_start_download(&s, total, block_size);
		break;
	case 1:
		(void)dfu_proto_session_start_upload(&s, total, block_size);
		break;
	case 2:
		(void)dfu_proto_session_start_detach(&s);
		break;
	default:
		(void)dfu_proto_session_start_abort(&s);
		break;
	}

	for (unsigned step = 0; step < FUZZ_STEPS_MAX; step++) {
		DfuProtoAction a;
		uint8_t reply[512];
		size_t reply_len = 0;
		size_t done = 0;
		size_t progress_total = 0;
		uint8_t control;
		DfuProtoResult result;

		dfu_proto_session_next(&s, now_ms, &a);
		dfu_proto_session_get_progress(&s, &done, &progress_total);
		if (done > progress_total)
			__builtin_trap();
		if (a.kind == DFU_PROTO_ACTION_DONE)
			return;
		if (a.kind == DFU_PROTO_ACTION_ERROR) {
			if (a.message == NULL || a.message[0] == '\0' ||
			    a.error == DFU_PROTO_ERROR_NONE)
				__builtin_trap();
			return;
		}
		if (a.kind == DFU_PROTO_ACTION_WAIT &&
		    (a.wait_ms == 0 || a.wait_ms > DFU_PROTO_POLL_TIMEOUT_MAX_MS))
			__builtin_trap();
		if (a.payload == DFU_PROTO_PAYLOAD_IMAGE &&
		    (a.image_offset > total || a.length > total - a.image_offset))
			__builtin_trap();

		/* once the input is used up the device is gone, which must end every session */
		control = fuzz_empty(in) ? 6 : fuzz_byte(in);
		result = fuzz_result(control);
		now_ms += (uint64_t)(control >> 3) * 8;
		if (a.kind == DFU_PROTO_ACTION_WAIT)
			now_ms += a.wait_ms;
		if (a.kind == DFU_PROTO_ACTION_CONTROL_IN && result == DFU_PROTO_RESULT_OK) {
			size_t want = fuzz_byte(in);
			/* mostly what was asked for, sometimes more or less */
			if (want >= 0xF0)
				want = a.length + (want & 0x03);
			else if (want >= 0x80)
				want = a.length;
			if (want > sizeof(reply))
				want = sizeof(reply);
			for (size_t i = 0; i < want; i++)
				reply[i] = fuzz_byte(in);
			reply_len = want;
		}
		dfu_proto_session_feed(&s, result, reply, reply_len, now_ms);
	}
	/* a bounded core cannot get here: the time or poll bound ends it first */
	__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzInput in = {.data = data, .len = size, .pos = 1};

	if (size == 0)
		return 0;
	if ((data[0] & 0x01) == 0) {
		fuzz_descriptors(data + 1, size - 1);
		return 0;
	}
	fuzz_session(&in);
	return 0;
}
