/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dfu-proto-session-private.h"
#include "proto-format.h"

/* CLRSTATUS and ABORT rounds before giving up on reaching dfuIDLE */
#define DFU_PROTO_RECOVER_ATTEMPTS_MAX 3u

static uint32_t
dfu_proto_session_poll_timeout(const DfuProtoSession *s)
{
	uint32_t wait_ms = s->status_valid ? s->status.poll_timeout_ms : 0;

	/* quirk: a device that stalls when polled early gets at least this long */
	if (wait_ms < s->min_poll_ms)
		wait_ms = s->min_poll_ms;
	if (wait_ms > DFU_PROTO_POLL_TIMEOUT_MAX_MS)
		return DFU_PROTO_POLL_TIMEOUT_MAX_MS;
	return wait_ms;
}

/* what the session was doing in @step, for messages */
void
dfu_proto_session_describe(const DfuProtoSession *s, unsigned step, char *buf, size_t size)
{
	if (dfu_proto_step_is_dfuse(step)) {
		dfu_proto_session_dfuse_describe(s, step, buf, size);
		return;
	}
	switch (step) {
	case STEP_PREPARE_GETSTATUS:
	case STEP_PREPARE_CLRSTATUS:
	case STEP_PREPARE_ABORT:
		snprintf(buf, size, "the status check before the transfer");
		break;
	case STEP_DETACH:
		snprintf(buf, size, "the switch to DFU mode (DETACH)");
		break;
	case STEP_DNLOAD:
	case STEP_DNLOAD_GETSTATUS:
		snprintf(buf,
			 size,
			 "download block %u (offset %zu of %zu bytes)",
			 (unsigned)s->block_number,
			 s->block_offset,
			 s->total);
		break;
	case STEP_DNLOAD_END:
		snprintf(buf, size, "the end of the download (zero-length DNLOAD)");
		break;
	case STEP_MANIFEST_GETSTATUS:
		snprintf(buf, size, "manifestation (the device installing the firmware)");
		break;
	case STEP_UPLOAD:
	case STEP_UPLOAD_ABORT:
		snprintf(buf,
			 size,
			 "upload block %u (offset %zu)",
			 (unsigned)s->block_number,
			 s->block_offset);
		break;
	default:
		snprintf(buf, size, "the transfer");
		break;
	}
}

/* a control transfer of @request, with no payload or one of @length bytes asked for; the
 * request's direction is its bmRequestType's, device-to-host for GETSTATUS and UPLOAD */
static void
dfu_proto_action_request(DfuProtoAction *a, uint8_t request, uint16_t value, uint16_t length)
{
	const bool in = request == DFU_PROTO_REQUEST_GETSTATUS ||
			request == DFU_PROTO_REQUEST_UPLOAD ||
			request == DFU_PROTO_REQUEST_GETSTATE;

	a->kind = in ? DFU_PROTO_ACTION_CONTROL_IN : DFU_PROTO_ACTION_CONTROL_OUT;
	a->request = request;
	a->value = value;
	a->length = length;
}

/* the DNLOAD or UPLOAD of the session's current block of the image */
static void
dfu_proto_session_action_block(DfuProtoSession *s, uint8_t request)
{
	DfuProtoAction *a = &s->action;

	dfu_proto_action_request(a, request, (uint16_t)(s->block_number & 0xFFFF), s->block_length);
	a->payload = DFU_PROTO_PAYLOAD_IMAGE;
	a->image_offset = s->block_offset;
}

void
dfu_proto_session_enter(DfuProtoSession *s, DfuProtoStep step)
{
	DfuProtoAction *a = &s->action;
	uint16_t detach_timeout_ms;

	memset(a, 0, sizeof(*a));
	s->step = step;
	switch (step) {
	case STEP_IDLE:
	case STEP_DONE:
		a->kind = DFU_PROTO_ACTION_DONE;
		break;
	case STEP_ERROR:
		a->kind = DFU_PROTO_ACTION_ERROR;
		a->error = s->error;
		a->message = s->message;
		break;
	case STEP_WAIT:
		a->kind = DFU_PROTO_ACTION_WAIT;
		break;
	case STEP_USB_RESET:
		a->kind = DFU_PROTO_ACTION_USB_RESET;
		break;
	case STEP_PREPARE_GETSTATUS:
	case STEP_DNLOAD_GETSTATUS:
	case STEP_MANIFEST_GETSTATUS:
	case STEP_STALL_GETSTATUS:
	case STEP_DFUSE_GETSTATUS:
	case STEP_DFUSE_LEAVE_GETSTATUS:
		dfu_proto_action_request(a,
					 DFU_PROTO_REQUEST_GETSTATUS,
					 0,
					 DFU_PROTO_STATUS_REPLY_LENGTH);
		break;
	case STEP_PREPARE_CLRSTATUS:
	case STEP_FAIL_CLRSTATUS:
		dfu_proto_action_request(a, DFU_PROTO_REQUEST_CLRSTATUS, 0, 0);
		break;
	case STEP_PREPARE_ABORT:
	case STEP_UPLOAD_ABORT:
	case STEP_DFUSE_UPLOAD_ABORT:
	case STEP_DFUSE_UPLOAD_REWIND:
		dfu_proto_action_request(a, DFU_PROTO_REQUEST_ABORT, 0, 0);
		break;
	case STEP_DETACH:
		/* the device need not wait longer than we take to reset it */
		detach_timeout_ms = s->functional.detach_timeout_ms;
		if (detach_timeout_ms == 0 || detach_timeout_ms > DFU_PROTO_DETACH_TIMEOUT_MAX_MS)
			detach_timeout_ms = DFU_PROTO_DETACH_TIMEOUT_MAX_MS;
		dfu_proto_action_request(a, DFU_PROTO_REQUEST_DETACH, detach_timeout_ms, 0);
		break;
	case STEP_DNLOAD:
	case STEP_DFUSE_WRITE:
		dfu_proto_session_action_block(s, DFU_PROTO_REQUEST_DNLOAD);
		break;
	case STEP_DNLOAD_END:
		dfu_proto_action_request(a,
					 DFU_PROTO_REQUEST_DNLOAD,
					 (uint16_t)(s->block_number & 0xFFFF),
					 0);
		break;
	case STEP_UPLOAD:
	case STEP_DFUSE_UPLOAD:
		dfu_proto_session_action_block(s, DFU_PROTO_REQUEST_UPLOAD);
		break;
	case STEP_DFUSE_COMMAND:
		dfu_proto_action_request(a, DFU_PROTO_REQUEST_DNLOAD, 0, s->command_length);
		a->payload = DFU_PROTO_PAYLOAD_BYTES;
		a->bytes = s->command;
		break;
	case STEP_DFUSE_LEAVE:
		/* wValue 2 as dfu-util and fwupd send it: 0 would be an empty command */
		dfu_proto_action_request(a,
					 DFU_PROTO_REQUEST_DNLOAD,
					 DFU_PROTO_DFUSE_BLOCK_FIRST,
					 0);
		break;
	case STEP_DFUSE_GET_COMMANDS:
		dfu_proto_action_request(a,
					 DFU_PROTO_REQUEST_UPLOAD,
					 0,
					 DFU_PROTO_DFUSE_COMMANDS_MAX);
		break;
	}
}

void
dfu_proto_session_fail(DfuProtoSession *s, DfuProtoError error, const char *fmt, ...)
{
	va_list args;
	va_start(args, fmt);
	proto_vformat(s->message, sizeof(s->message), fmt, args);
	va_end(args);
	s->error = error;
	dfu_proto_session_enter(s, STEP_ERROR);
}

/* the device is in dfuERROR: clear it so it is usable again, then report the error */
void
dfu_proto_session_fail_device_status(DfuProtoSession *s, const char *what)
{
	if (dfu_proto_session_dfuse_fail_device_status(s, what))
		return;
	snprintf(s->message,
		 sizeof(s->message),
		 "%s (%s, state %s) during %s; the device was returned to dfuIDLE: check the "
		 "firmware is meant for this device and retry",
		 dfu_proto_status_to_message(s->status.status),
		 dfu_proto_status_to_string(s->status.status),
		 dfu_proto_state_to_string(s->status.state),
		 what);
	s->error = DFU_PROTO_ERROR_DEVICE_STATUS;
	dfu_proto_session_enter(s, STEP_FAIL_CLRSTATUS);
}

/* a transfer did not complete: name the request, the moment and what to do */
void
dfu_proto_session_fail_transfer(DfuProtoSession *s, ProtoIo result)
{
	char what[96];
	const char *request = dfu_proto_request_to_string(s->action.request);

	dfu_proto_session_describe(s, s->step, what, sizeof(what));
	switch (result) {
	case PROTO_IO_STALL:
		dfu_proto_session_fail(s,
				       DFU_PROTO_ERROR_STALL,
				       "device refused %s during %s: it may not support this "
				       "operation; replug it and retry",
				       request,
				       what);
		break;
	case PROTO_IO_TIMEOUT:
		dfu_proto_session_fail(s,
				       DFU_PROTO_ERROR_TIMEOUT,
				       "device did not answer %s during %s: replug it and retry",
				       request,
				       what);
		break;
	case PROTO_IO_NO_DEVICE:
		dfu_proto_session_fail(s,
				       DFU_PROTO_ERROR_NO_DEVICE,
				       "device disconnected during %s: replug it and retry",
				       what);
		break;
	default:
		dfu_proto_session_fail(
		    s,
		    DFU_PROTO_ERROR_IO,
		    "USB transfer %s failed during %s: check the cable and retry",
		    request,
		    what);
		break;
	}
}

/* the outcome of a request: a stall is explained by the status read that follows and any
 * other failure ends the session; returns true when the request completed */
bool
dfu_proto_session_request_ok(DfuProtoSession *s, ProtoIo result)
{
	if (result == PROTO_IO_OK)
		return true;
	if (result == PROTO_IO_STALL) {
		s->failed_step = s->step;
		dfu_proto_session_enter(s, STEP_STALL_GETSTATUS);
	} else {
		dfu_proto_session_fail_transfer(s, result);
	}
	return false;
}

/* parses a GETSTATUS reply into s->status; on garbage enters ERROR and returns false */
static bool
dfu_proto_session_take_status(DfuProtoSession *s, const uint8_t *data, size_t len)
{
	DfuProtoStatusReply reply;
	char what[96];

	if (dfu_proto_status_reply_parse(data, len, &reply) != DFU_PROTO_ERROR_NONE) {
		dfu_proto_session_describe(s, s->step, what, sizeof(what));
		if (len == DFU_PROTO_STATUS_REPLY_LENGTH && data != NULL) {
			dfu_proto_session_fail(
			    s,
			    DFU_PROTO_ERROR_REPLY,
			    "device sent an invalid status (bStatus %u, bState %u) "
			    "during %s: its firmware does not speak DFU correctly",
			    data[0],
			    data[4],
			    what);
		} else {
			dfu_proto_session_fail(
			    s,
			    DFU_PROTO_ERROR_REPLY,
			    "device sent a %zu-byte status reply instead of %u "
			    "during %s: its firmware does not speak DFU correctly",
			    len,
			    (unsigned)DFU_PROTO_STATUS_REPLY_LENGTH,
			    what);
		}
		return false;
	}
	s->status = reply;
	s->status_valid = true;
	s->busy_stalls = 0;
	return true;
}

/*
 * Waits the device's poll timeout, but never past @cap_ms: a wait that outlasts the bound of
 * the operation it waits for only delays the error (a device still busy then has exceeded it)
 * or, for a device that lies about its poll timeout, the next block.
 */
static void
dfu_proto_session_wait_then(DfuProtoSession *s,
			    uint64_t now_ms,
			    DfuProtoStep resume_step,
			    uint64_t cap_ms)
{
	uint32_t wait_ms = dfu_proto_session_poll_timeout(s);

	if (wait_ms > cap_ms)
		wait_ms = (uint32_t)cap_ms;
	/* never sleep when the device asks for no delay */
	if (wait_ms == 0) {
		dfu_proto_session_enter(s, resume_step);
		return;
	}
	s->wait_until_ms = now_ms + wait_ms;
	s->resume_step = resume_step;
	dfu_proto_session_enter(s, STEP_WAIT);
}

/*
 * The device reported a busy state (or stalled a poll while busy): wait its poll timeout and
 * read the status again with @poll_step, unless it has been busy beyond the budget.
 */
void
dfu_proto_session_busy_poll(DfuProtoSession *s, uint64_t now_ms, DfuProtoStep poll_step)
{
	char what[96];
	uint64_t elapsed_ms;

	if (s->busy_since_ms == UINT64_MAX)
		s->busy_since_ms = now_ms;
	elapsed_ms = now_ms >= s->busy_since_ms ? now_ms - s->busy_since_ms : 0;
	s->busy_polls++;
	if (s->session_busy_ms + elapsed_ms > s->session_budget_ms) {
		const size_t blocks_total =
		    s->block_size != 0 ? (s->total + s->block_size - 1) / s->block_size : 0;
		dfu_proto_session_fail(
		    s,
		    DFU_PROTO_ERROR_BUSY_TOO_LONG,
		    "the device stayed busy %llu s in total for %u of %zu blocks "
		    "of %u bytes (limit %llu s for this image): it is far slower "
		    "than any real device; unplug it, plug it back in and retry",
		    (unsigned long long)((s->session_busy_ms + elapsed_ms + 999) / 1000),
		    (unsigned)s->stats.ops[DFU_PROTO_BUSY_OP_BLOCK].count,
		    blocks_total,
		    (unsigned)s->block_size,
		    (unsigned long long)(s->session_budget_ms / 1000));
		return;
	}
	if (elapsed_ms > s->op_budget_ms || s->busy_polls > DFU_PROTO_BUSY_POLLS_MAX) {
		char asked[64] = "";
		if (s->status_valid && s->status.poll_timeout_ms > s->op_budget_ms) {
			snprintf(asked,
				 sizeof(asked),
				 "; it asked to wait %u ms",
				 (unsigned)s->status.poll_timeout_ms);
		}
		dfu_proto_session_describe(s, poll_step, what, sizeof(what));
		dfu_proto_session_fail(s,
				       DFU_PROTO_ERROR_BUSY_TOO_LONG,
				       "device still reports %s after %llu ms and %u status reads "
				       "during %s (limit %u ms%s): it has stopped making progress; "
				       "unplug it, plug it back in and retry",
				       dfu_proto_state_to_string(s->status.state),
				       (unsigned long long)elapsed_ms,
				       (unsigned)s->busy_polls,
				       what,
				       (unsigned)s->op_budget_ms,
				       asked);
		return;
	}
	/* the next status read comes just past the bound when the device asks for more */
	dfu_proto_session_wait_then(s, now_ms, poll_step, s->op_budget_ms - elapsed_ms + 1);
}

static uint32_t
dfu_proto_saturate32(uint64_t value)
{
	return value > UINT32_MAX ? UINT32_MAX : (uint32_t)value;
}

/* the device finished the operation it was busy with: account for it */
void
dfu_proto_session_record_busy(DfuProtoSession *s, uint64_t now_ms)
{
	DfuProtoBusyStat *stat = &s->stats.ops[s->busy_op];
	uint64_t elapsed_ms = 0;

	if (s->busy_since_ms != UINT64_MAX && now_ms > s->busy_since_ms)
		elapsed_ms = now_ms - s->busy_since_ms;
	stat->count = dfu_proto_saturate32((uint64_t)stat->count + 1);
	stat->polls = dfu_proto_saturate32((uint64_t)stat->polls + s->busy_polls);
	stat->busy_total_ms += elapsed_ms;
	s->session_busy_ms += elapsed_ms;
	if (stat->count == 1 || elapsed_ms > stat->busy_max_ms) {
		stat->busy_max_ms = dfu_proto_saturate32(elapsed_ms);
		stat->bound_ms = s->op_budget_ms;
	}
}

/* a fresh device operation (a block, the manifestation) starts its busy budget now */
void
dfu_proto_session_busy_reset(DfuProtoSession *s, uint64_t now_ms)
{
	s->busy_since_ms = now_ms;
	s->busy_polls = 0;
	s->busy_stalls = 0;
}

/* a stalled status read while the device is busy: some parts do that when polled early;
 * returns true when it is polled again */
static bool
dfu_proto_session_tolerate_busy_stall(DfuProtoSession *s, ProtoIo result, uint64_t now_ms)
{
	if (result != PROTO_IO_STALL)
		return false;
	if (!s->status_valid || !dfu_proto_state_is_busy(s->status.state))
		return false;
	if (s->busy_stalls >= DFU_PROTO_BUSY_STALLS_MAX)
		return false;
	s->busy_stalls++;
	dfu_proto_session_busy_poll(s, now_ms, s->step);
	return true;
}

/* a status read of the current step that did not complete: polled again when the device is
 * busy, else the session fails; returns true when the read completed */
static bool
dfu_proto_session_status_read_ok(DfuProtoSession *s, ProtoIo result, uint64_t now_ms)
{
	if (result == PROTO_IO_OK)
		return true;
	if (!dfu_proto_session_tolerate_busy_stall(s, result, now_ms))
		dfu_proto_session_fail_transfer(s, result);
	return false;
}

/* the device reports a state the protocol does not allow @when (after, during) @what */
void
dfu_proto_session_fail_unexpected_state(DfuProtoSession *s,
					const char *when,
					const char *what,
					const char *protocol)
{
	dfu_proto_session_fail(
	    s,
	    DFU_PROTO_ERROR_WRONG_STATE,
	    "device reports the unexpected state %s %s %s: its firmware does not "
	    "follow the %s protocol",
	    dfu_proto_state_to_string(s->status.state),
	    when,
	    what,
	    protocol);
}

/* parses a GETSTATUS reply after a step that must leave the device without an error, with
 * what names that step; on garbage or a device error the session fails and it returns false */
bool
dfu_proto_session_take_status_ok(DfuProtoSession *s,
				 const uint8_t *data,
				 size_t len,
				 char *what,
				 size_t what_size)
{
	if (!dfu_proto_session_take_status(s, data, len))
		return false;
	dfu_proto_session_describe(s, s->step, what, what_size);
	if (s->status.state == DFU_PROTO_STATE_DFU_ERROR ||
	    s->status.status != DFU_PROTO_STATUS_OK) {
		dfu_proto_session_fail_device_status(s, what);
		return false;
	}
	return true;
}

static void
dfu_proto_session_next_block(DfuProtoSession *s)
{
	size_t left = s->total - s->done;

	s->block_offset = s->done;
	if (left == 0) {
		s->block_length = 0;
		dfu_proto_session_enter(s, STEP_DNLOAD_END);
		return;
	}
	s->block_length = left < s->block_size ? (uint16_t)left : s->block_size;
	dfu_proto_session_enter(s, STEP_DNLOAD);
}

/* the next block to read from the device, by the UPLOAD of upload_step */
void
dfu_proto_session_next_upload(DfuProtoSession *s, DfuProtoStep upload_step)
{
	size_t left = s->total - s->done;

	s->block_offset = s->done;
	s->block_length = left < s->block_size ? (uint16_t)left : s->block_size;
	dfu_proto_session_enter(s, upload_step);
}

/* a DNLOAD request (a block or a DfuSe command) was sent: the device starts work now, or
 * executes on the status read that follows, so that read comes at once, no sleep */
void
dfu_proto_session_feed_dnload_request(DfuProtoSession *s,
				      ProtoIo result,
				      uint64_t now_ms,
				      DfuProtoStep status_step)
{
	if (!dfu_proto_session_request_ok(s, result))
		return;
	dfu_proto_session_busy_reset(s, now_ms);
	dfu_proto_session_enter(s, status_step);
}

/* the device is in dfuIDLE: run the operation proper */
static void
dfu_proto_session_begin(DfuProtoSession *s)
{
	if (dfu_proto_operation_is_dfuse(s->operation)) {
		s->done = 0;
		dfu_proto_session_dfuse_begin(s);
		return;
	}
	s->block_number = 0;
	s->done = 0;
	switch (s->operation) {
	case DFU_PROTO_OPERATION_DOWNLOAD:
		dfu_proto_session_next_block(s);
		break;
	case DFU_PROTO_OPERATION_UPLOAD:
		dfu_proto_session_next_upload(s, STEP_UPLOAD);
		break;
	default:
		dfu_proto_session_enter(s, STEP_DONE);
		break;
	}
}

static bool
dfu_proto_session_manifestation_tolerant(const DfuProtoSession *s)
{
	return (s->functional.attributes & DFU_PROTO_ATTR_MANIFESTATION_TOLERANT) != 0;
}

static void
dfu_proto_session_feed_prepare_status(DfuProtoSession *s,
				      const uint8_t *data,
				      size_t len,
				      uint64_t now_ms)
{
	const char *state;

	if (!dfu_proto_session_take_status(s, data, len))
		return;
	state = dfu_proto_state_to_string(s->status.state);
	switch (s->status.state) {
	case DFU_PROTO_STATE_DFU_IDLE:
		dfu_proto_session_begin(s);
		return;
	case DFU_PROTO_STATE_APP_IDLE:
	case DFU_PROTO_STATE_APP_DETACH:
		dfu_proto_session_fail(s,
				       DFU_PROTO_ERROR_WRONG_STATE,
				       "device is in runtime mode (%s), not in DFU mode: it has to "
				       "be switched to DFU mode (detached) first",
				       state);
		return;
	case DFU_PROTO_STATE_DFU_MANIFEST_WAIT_RESET:
		dfu_proto_session_fail(s,
				       DFU_PROTO_ERROR_WRONG_STATE,
				       "device waits for a USB reset to finish an earlier update "
				       "(%s): unplug it, plug it back in and retry",
				       state);
		return;
	case DFU_PROTO_STATE_DFU_DNBUSY:
	case DFU_PROTO_STATE_DFU_MANIFEST:
		dfu_proto_session_busy_poll(s, now_ms, STEP_PREPARE_GETSTATUS);
		return;
	default:
		break;
	}

	/* dfuERROR needs CLRSTATUS; the other DFU states leave with ABORT */
	if (s->recover_attempts >= DFU_PROTO_RECOVER_ATTEMPTS_MAX) {
		dfu_proto_session_fail(s,
				       DFU_PROTO_ERROR_WRONG_STATE,
				       "device stays in %s (status %s) after %u attempts to return "
				       "it to dfuIDLE: unplug it, plug it back in and retry",
				       state,
				       dfu_proto_status_to_string(s->status.status),
				       s->recover_attempts);
		return;
	}
	s->recover_attempts++;
	if (s->status.state == DFU_PROTO_STATE_DFU_ERROR)
		dfu_proto_session_enter(s, STEP_PREPARE_CLRSTATUS);
	else
		dfu_proto_session_enter(s, STEP_PREPARE_ABORT);
}

static void
dfu_proto_session_feed_dnload_status(DfuProtoSession *s,
				     const uint8_t *data,
				     size_t len,
				     uint64_t now_ms)
{
	char what[96];

	if (!dfu_proto_session_take_status_ok(s, data, len, what, sizeof(what)))
		return;
	switch (s->status.state) {
	case DFU_PROTO_STATE_DFU_DNBUSY:
	case DFU_PROTO_STATE_DFU_DNLOAD_SYNC:
		dfu_proto_session_busy_poll(s, now_ms, STEP_DNLOAD_GETSTATUS);
		return;
	case DFU_PROTO_STATE_DFU_DNLOAD_IDLE:
		dfu_proto_session_record_busy(s, now_ms);
		s->done += s->block_length;
		s->block_number++;
		dfu_proto_session_next_block(s);
		return;
	default:
		dfu_proto_session_fail_unexpected_state(s, "after", what, "DFU");
		return;
	}
}

static void
dfu_proto_session_feed_manifest_status(DfuProtoSession *s,
				       const uint8_t *data,
				       size_t len,
				       uint64_t now_ms)
{
	char what[96];

	if (!dfu_proto_session_take_status_ok(s, data, len, what, sizeof(what)))
		return;
	switch (s->status.state) {
	case DFU_PROTO_STATE_DFU_MANIFEST_SYNC:
	case DFU_PROTO_STATE_DFU_MANIFEST:
	case DFU_PROTO_STATE_DFU_DNBUSY: /* some devices keep this state while manifesting */
		dfu_proto_session_busy_poll(s, now_ms, STEP_MANIFEST_GETSTATUS);
		return;
	case DFU_PROTO_STATE_DFU_IDLE:
	case DFU_PROTO_STATE_DFU_MANIFEST_WAIT_RESET:
		s->busy_op = DFU_PROTO_BUSY_OP_MANIFEST;
		dfu_proto_session_record_busy(s, now_ms);
		dfu_proto_session_enter(
		    s,
		    s->status.state == DFU_PROTO_STATE_DFU_IDLE ? STEP_DONE : STEP_USB_RESET);
		return;
	default:
		dfu_proto_session_fail_unexpected_state(s, "during", what, "DFU");
		return;
	}
}

static void
dfu_proto_session_feed_stall_status(DfuProtoSession *s,
				    ProtoIo result,
				    const uint8_t *data,
				    size_t len)
{
	DfuProtoStatusReply reply;
	char what[96];
	const char *request = s->failed_step == STEP_UPLOAD ||
				      s->failed_step == STEP_DFUSE_UPLOAD ||
				      s->failed_step == STEP_DFUSE_GET_COMMANDS
				  ? "UPLOAD"
				  : "DNLOAD";

	dfu_proto_session_describe(s, s->failed_step, what, sizeof(what));
	if (result == PROTO_IO_OK &&
	    dfu_proto_status_reply_parse(data, len, &reply) == DFU_PROTO_ERROR_NONE) {
		s->status = reply;
		s->status_valid = true;
		if (reply.state == DFU_PROTO_STATE_DFU_ERROR ||
		    reply.status != DFU_PROTO_STATUS_OK) {
			dfu_proto_session_fail_device_status(s, what);
			return;
		}
	}
	dfu_proto_session_fail(s,
			       DFU_PROTO_ERROR_STALL,
			       "device refused %s during %s without giving a reason: replug it "
			       "and retry",
			       request,
			       what);
}

void
dfu_proto_session_init(DfuProtoSession *s, const DfuProtoFunctional *functional)
{
	memset(s, 0, sizeof(*s));
	if (functional != NULL)
		s->functional = *functional;
	s->busy_budget_ms = DFU_PROTO_BUSY_BUDGET_MS;
	s->op_budget_ms = DFU_PROTO_BUSY_BUDGET_MS;
	dfu_proto_session_enter(s, STEP_IDLE);
}

void
dfu_proto_session_set_busy_budget(DfuProtoSession *s, uint32_t busy_budget_ms)
{
	s->busy_budget_ms = busy_budget_ms != 0 ? busy_budget_ms : DFU_PROTO_BUSY_BUDGET_MS;
	s->busy_budget_set = busy_budget_ms != 0;
	s->op_budget_ms = s->busy_budget_ms;
}

void
dfu_proto_session_set_dfuse_quirks(DfuProtoSession *s, unsigned quirks)
{
	s->dfuse_quirks = quirks;
}

void
dfu_proto_session_set_min_poll_interval(DfuProtoSession *s, uint32_t min_poll_ms)
{
	s->min_poll_ms = min_poll_ms;
}

/* DFU_PROTO_SESSION_BUSY_FLOOR_MS, or more for a device given a longer budget per operation */
static uint64_t
dfu_proto_session_busy_floor_ms(const DfuProtoSession *s)
{
	const uint64_t caller_ms = s->busy_budget_set ? 4 * (uint64_t)s->busy_budget_ms : 0;
	return caller_ms > DFU_PROTO_SESSION_BUSY_FLOOR_MS ? caller_ms
							   : DFU_PROTO_SESSION_BUSY_FLOOR_MS;
}

/* the whole operation's busy bound: see DFU_PROTO_SESSION_BUSY_BLOCK_MS */
void
dfu_proto_session_set_session_budget(DfuProtoSession *s, uint64_t erase_bytes)
{
	const uint64_t blocks = (s->total + s->block_size - 1) / s->block_size;

	s->session_budget_ms = dfu_proto_session_busy_floor_ms(s) +
			       blocks * DFU_PROTO_SESSION_BUSY_BLOCK_MS +
			       (erase_bytes + 1023) / 1024 * DFU_PROTO_DFUSE_ERASE_MS_PER_KIB;
}

/* a block smaller than any control endpoint: see DFU_PROTO_TRANSFER_SIZE_MIN */
bool
dfu_proto_session_check_block_size(DfuProtoSession *s, uint16_t block_size)
{
	if (block_size >= DFU_PROTO_TRANSFER_SIZE_MIN)
		return true;
	dfu_proto_session_fail(s,
			       DFU_PROTO_ERROR_INVALID_ARGUMENT,
			       "a transfer size of %u bytes is below the %u bytes of the smallest "
			       "USB control endpoint: no real device asks for it; set the right "
			       "size for it with a quirk",
			       (unsigned)block_size,
			       DFU_PROTO_TRANSFER_SIZE_MIN);
	return false;
}

/* common to every start: forget the previous operation */
void
dfu_proto_session_reset(DfuProtoSession *s, DfuProtoOperation operation)
{
	s->operation = operation;
	s->status_valid = false;
	s->total = 0;
	s->done = 0;
	s->block_size = 0;
	s->block_number = 0;
	s->block_offset = 0;
	s->block_length = 0;
	s->busy_since_ms = UINT64_MAX;
	s->busy_polls = 0;
	s->busy_stalls = 0;
	s->recover_attempts = 0;
	s->op_budget_ms = s->busy_budget_ms;
	s->busy_op = DFU_PROTO_BUSY_OP_BLOCK;
	memset(&s->stats, 0, sizeof(s->stats));
	s->session_busy_ms = 0;
	s->session_budget_ms = dfu_proto_session_busy_floor_ms(s);
	memset(&s->plan, 0, sizeof(s->plan));
	memset(&s->plan_step, 0, sizeof(s->plan_step));
	s->command_length = 0;
	s->dfuse_address = 0;
	s->upload_address = 0;
	s->leave_pending = false;
	s->erases_done = 0;
	s->erase_bytes_done = 0;
	s->dfuse_phase = DFU_PROTO_DFUSE_PHASE_NONE;
	s->commands_length = 0;
	s->error = DFU_PROTO_ERROR_NONE;
	s->message[0] = '\0';
}

static DfuProtoError
dfu_proto_session_start_transfer(DfuProtoSession *s,
				 DfuProtoOperation operation,
				 size_t total,
				 uint16_t block_size)
{
	const bool download = operation == DFU_PROTO_OPERATION_DOWNLOAD;
	const uint8_t needed = download ? DFU_PROTO_ATTR_CAN_DNLOAD : DFU_PROTO_ATTR_CAN_UPLOAD;

	dfu_proto_session_reset(s, operation);
	if ((s->functional.attributes & needed) == 0) {
		dfu_proto_session_fail(s,
				       DFU_PROTO_ERROR_NOT_SUPPORTED,
				       "device does not support %s (bmAttributes 0x%02x)",
				       download ? "writing firmware" : "reading firmware back",
				       s->functional.attributes);
		return s->error;
	}
	if (block_size == 0)
		block_size = s->functional.transfer_size;
	if (block_size == 0) {
		dfu_proto_session_fail(s,
				       DFU_PROTO_ERROR_INVALID_ARGUMENT,
				       "device reports a transfer size of 0 bytes: a transfer size "
				       "has to be set for it");
		return s->error;
	}
	if (total == 0) {
		dfu_proto_session_fail(s,
				       DFU_PROTO_ERROR_INVALID_ARGUMENT,
				       "nothing to %s: the size is 0 bytes",
				       download ? "download" : "upload");
		return s->error;
	}
	if (!dfu_proto_session_check_block_size(s, block_size))
		return s->error;
	s->total = total;
	s->block_size = block_size;
	dfu_proto_session_set_session_budget(s, 0);
	dfu_proto_session_enter(s, STEP_PREPARE_GETSTATUS);
	return DFU_PROTO_ERROR_NONE;
}

DfuProtoError
dfu_proto_session_start_detach(DfuProtoSession *s)
{
	dfu_proto_session_reset(s, DFU_PROTO_OPERATION_DETACH);
	dfu_proto_session_enter(s, STEP_DETACH);
	return DFU_PROTO_ERROR_NONE;
}

DfuProtoError
dfu_proto_session_start_download(DfuProtoSession *s, size_t total, uint16_t block_size)
{
	return dfu_proto_session_start_transfer(s, DFU_PROTO_OPERATION_DOWNLOAD, total, block_size);
}

DfuProtoError
dfu_proto_session_start_upload(DfuProtoSession *s, size_t max_bytes, uint16_t block_size)
{
	return dfu_proto_session_start_transfer(s,
						DFU_PROTO_OPERATION_UPLOAD,
						max_bytes,
						block_size);
}

DfuProtoError
dfu_proto_session_start_abort(DfuProtoSession *s)
{
	dfu_proto_session_reset(s, DFU_PROTO_OPERATION_ABORT);
	dfu_proto_session_enter(s, STEP_PREPARE_GETSTATUS);
	return DFU_PROTO_ERROR_NONE;
}

void
dfu_proto_session_next(DfuProtoSession *s, uint64_t now_ms, DfuProtoAction *action)
{
	if (s->step == STEP_WAIT) {
		/* the wait counts from the status that asked for it */
		if (now_ms >= s->wait_until_ms)
			dfu_proto_session_enter(s, s->resume_step);
		else
			s->action.wait_ms = (uint32_t)(s->wait_until_ms - now_ms);
	}
	*action = s->action;
}

static void
dfu_proto_session_feed_detach(DfuProtoSession *s, ProtoIo result)
{
	const bool will_detach = (s->functional.attributes & DFU_PROTO_ATTR_WILL_DETACH) != 0;

	switch (result) {
	case PROTO_IO_OK:
		dfu_proto_session_enter(s, will_detach ? STEP_DONE : STEP_USB_RESET);
		return;
	case PROTO_IO_NO_DEVICE:
		/* it already left to re-enumerate in DFU mode */
		dfu_proto_session_enter(s, STEP_DONE);
		return;
	case PROTO_IO_STALL:
		/* devices that reboot at once often stall the request: the reset still applies */
		dfu_proto_session_enter(s, will_detach ? STEP_DONE : STEP_USB_RESET);
		return;
	default:
		/* a device detaching itself may vanish in the middle of the transfer */
		if (will_detach) {
			dfu_proto_session_enter(s, STEP_DONE);
			return;
		}
		dfu_proto_session_fail_transfer(s, result);
		return;
	}
}

/*
 * One UPLOAD block of a DFU 1.1 or DfuSe upload: a stall is explained by the status, more bytes
 * than asked for is an error, a short block ends the upload, the maximum reached aborts it.
 * Returns true when the upload goes on with another block.
 */
bool
dfu_proto_session_accept_upload_block(DfuProtoSession *s,
				      ProtoIo result,
				      const uint8_t *data,
				      size_t len)
{
	char what[96];

	if (!dfu_proto_session_request_ok(s, result))
		return false;
	if (len > s->block_length || (len > 0 && data == NULL)) {
		dfu_proto_session_describe(s, s->step, what, sizeof(what));
		dfu_proto_session_fail(s,
				       DFU_PROTO_ERROR_REPLY,
				       "device sent %zu bytes for %s, more than the %u asked for",
				       len,
				       what,
				       s->block_length);
		return false;
	}
	s->done += len;
	/* a short block ends the upload and returns the device to dfuIDLE by itself */
	if (len < s->block_length) {
		dfu_proto_session_enter(s, STEP_DONE);
		return false;
	}
	/* the maximum reached: the device waits in dfuUPLOAD-IDLE for more */
	if (s->done >= s->total) {
		dfu_proto_session_enter(s, STEP_UPLOAD_ABORT);
		return false;
	}
	s->block_number++;
	return true;
}

static void
dfu_proto_session_feed_upload(DfuProtoSession *s, ProtoIo result, const uint8_t *data, size_t len)
{
	if (dfu_proto_session_accept_upload_block(s, result, data, len))
		dfu_proto_session_next_upload(s, STEP_UPLOAD);
}

void
dfu_proto_session_feed(DfuProtoSession *s,
		       ProtoIo result,
		       const uint8_t *data,
		       size_t len,
		       uint64_t now_ms)
{
	switch ((DfuProtoStep)s->step) {
	case STEP_IDLE:
	case STEP_DONE:
	case STEP_ERROR:
		/* final: nothing was asked for */
		return;
	case STEP_WAIT:
		dfu_proto_session_enter(s, s->resume_step);
		return;
	case STEP_USB_RESET:
		/* the device usually vanishes to re-enumerate: every outcome is the expected one */
		dfu_proto_session_enter(s, STEP_DONE);
		return;
	case STEP_DETACH:
		dfu_proto_session_feed_detach(s, result);
		return;
	case STEP_PREPARE_GETSTATUS:
		if (!dfu_proto_session_status_read_ok(s, result, now_ms))
			return;
		dfu_proto_session_feed_prepare_status(s, data, len, now_ms);
		return;
	case STEP_PREPARE_CLRSTATUS:
	case STEP_PREPARE_ABORT:
		/* a stall here is answered by the status read that follows */
		if (result != PROTO_IO_OK && result != PROTO_IO_STALL) {
			dfu_proto_session_fail_transfer(s, result);
			return;
		}
		dfu_proto_session_enter(s, STEP_PREPARE_GETSTATUS);
		return;
	case STEP_DNLOAD:
		dfu_proto_session_feed_dnload_request(s, result, now_ms, STEP_DNLOAD_GETSTATUS);
		return;
	case STEP_DNLOAD_GETSTATUS:
		if (!dfu_proto_session_status_read_ok(s, result, now_ms))
			return;
		dfu_proto_session_feed_dnload_status(s, data, len, now_ms);
		return;
	case STEP_DNLOAD_END:
		/* a device that manifests by rebooting may be gone already */
		if (result == PROTO_IO_NO_DEVICE && !dfu_proto_session_manifestation_tolerant(s)) {
			dfu_proto_session_enter(s, STEP_DONE);
			return;
		}
		if (!dfu_proto_session_request_ok(s, result))
			return;
		dfu_proto_session_busy_reset(s, now_ms);
		dfu_proto_session_enter(s, STEP_MANIFEST_GETSTATUS);
		return;
	case STEP_MANIFEST_GETSTATUS:
		if (result != PROTO_IO_OK) {
			if (dfu_proto_session_tolerate_busy_stall(s, result, now_ms))
				return;
			/* a device that is not manifestation tolerant may stop answering here */
			if (!dfu_proto_session_manifestation_tolerant(s)) {
				dfu_proto_session_enter(
				    s,
				    result == PROTO_IO_NO_DEVICE ? STEP_DONE : STEP_USB_RESET);
				return;
			}
			dfu_proto_session_fail_transfer(s, result);
			return;
		}
		dfu_proto_session_feed_manifest_status(s, data, len, now_ms);
		return;
	case STEP_UPLOAD:
		dfu_proto_session_feed_upload(s, result, data, len);
		return;
	case STEP_UPLOAD_ABORT:
		/* the data is complete; a device left in dfuUPLOAD-IDLE is recovered next time */
		dfu_proto_session_enter(s, STEP_DONE);
		return;
	case STEP_STALL_GETSTATUS:
		dfu_proto_session_feed_stall_status(s, result, data, len);
		return;
	case STEP_FAIL_CLRSTATUS:
		/* the error was decided before the clear: report it whatever the clear did */
		dfu_proto_session_enter(s, STEP_ERROR);
		return;
	case STEP_DFUSE_COMMAND:
	case STEP_DFUSE_WRITE:
	case STEP_DFUSE_GETSTATUS:
	case STEP_DFUSE_LEAVE:
	case STEP_DFUSE_LEAVE_GETSTATUS:
	case STEP_DFUSE_UPLOAD_ABORT:
	case STEP_DFUSE_UPLOAD:
	case STEP_DFUSE_UPLOAD_REWIND:
	case STEP_DFUSE_GET_COMMANDS:
		dfu_proto_session_feed_dfuse(s, result, data, len, now_ms);
		return;
	}
}

void
dfu_proto_session_get_progress(const DfuProtoSession *s, size_t *done, size_t *total)
{
	if (done != NULL)
		*done = s->done;
	if (total != NULL)
		*total = s->total;
}

DfuProtoError
dfu_proto_session_get_error(const DfuProtoSession *s)
{
	return s->step == STEP_ERROR ? s->error : DFU_PROTO_ERROR_NONE;
}

const char *
dfu_proto_session_get_message(const DfuProtoSession *s)
{
	return s->message;
}

const DfuProtoStatusReply *
dfu_proto_session_get_last_status(const DfuProtoSession *s)
{
	return s->status_valid ? &s->status : NULL;
}

const DfuProtoBusyStats *
dfu_proto_session_get_busy_stats(const DfuProtoSession *s)
{
	return &s->stats;
}
