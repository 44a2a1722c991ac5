/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * The DfuSe steps of the session (ST UM0391, AN3156): commands (set address, erase, mass
 * erase, read unprotect) sent as DNLOAD wValue 0 and executed on the GETSTATUS that follows,
 * the download plan walked step by step, the upload from an address, the leave, and the
 * operations that start them. The DFU 1.1 steps they share (status checks before a transfer,
 * busy polls and their bounds, failures) are in dfu-proto-session.c.
 */

#include <stdio.h>
#include <string.h>

#include "dfu-proto-session-private.h"

/* a DNLOAD wValue 0 command: @address is sent after the command byte when @with_address */
static void
dfu_proto_session_dfuse_command(DfuProtoSession *s,
				DfuProtoBusyOp op,
				uint8_t command,
				bool with_address,
				uint32_t address,
				uint32_t bound_ms)
{
	s->command[0] = command;
	s->command_length = 1;
	if (with_address) {
		s->command[1] = (uint8_t)(address & 0xFF);
		s->command[2] = (uint8_t)((address >> 8) & 0xFF);
		s->command[3] = (uint8_t)((address >> 16) & 0xFF);
		s->command[4] = (uint8_t)((address >> 24) & 0xFF);
		s->command_length = 5;
	}
	s->busy_op = op;
	s->dfuse_address = address;
	s->op_budget_ms = s->busy_budget_set ? s->busy_budget_ms : bound_ms;
	dfu_proto_session_enter(s, STEP_DFUSE_COMMAND);
}

static void
dfu_proto_session_dfuse_set_address(DfuProtoSession *s, uint32_t address)
{
	dfu_proto_session_dfuse_command(s,
					DFU_PROTO_BUSY_OP_SET_ADDRESS,
					DFU_PROTO_DFUSE_CMD_SET_ADDRESS,
					true,
					address,
					DFU_PROTO_DFUSE_BUSY_FLOOR_MS);
}

/* the erase command without an address erases the whole memory (UM0391) */
static void
dfu_proto_session_dfuse_mass_erase(DfuProtoSession *s)
{
	dfu_proto_session_dfuse_command(s,
					DFU_PROTO_BUSY_OP_MASS_ERASE,
					DFU_PROTO_DFUSE_CMD_ERASE,
					false,
					0,
					DFU_PROTO_BUSY_BUDGET_MS);
}

/* runs the next step of the download plan */
static void
dfu_proto_session_dfuse_advance(DfuProtoSession *s)
{
	DfuProtoDfuseStep *step = &s->plan_step;

	dfu_proto_dfuse_plan_next(&s->plan, step);
	switch (step->kind) {
	case DFU_PROTO_DFUSE_STEP_ERASE:
		s->dfuse_phase = DFU_PROTO_DFUSE_PHASE_ERASE;
		dfu_proto_session_dfuse_command(s,
						DFU_PROTO_BUSY_OP_ERASE,
						DFU_PROTO_DFUSE_CMD_ERASE,
						true,
						step->address,
						dfu_proto_dfuse_erase_bound_ms(step->length));
		return;
	case DFU_PROTO_DFUSE_STEP_MASS_ERASE:
		s->dfuse_phase = DFU_PROTO_DFUSE_PHASE_ERASE;
		dfu_proto_session_dfuse_mass_erase(s);
		return;
	case DFU_PROTO_DFUSE_STEP_SET_ADDRESS:
		s->dfuse_phase = DFU_PROTO_DFUSE_PHASE_WRITE;
		dfu_proto_session_dfuse_set_address(s, step->address);
		return;
	case DFU_PROTO_DFUSE_STEP_WRITE:
		s->dfuse_phase = DFU_PROTO_DFUSE_PHASE_WRITE;
		s->busy_op = DFU_PROTO_BUSY_OP_BLOCK;
		s->block_number = step->block_number;
		s->block_offset = step->image_offset;
		s->block_length = (uint16_t)step->length;
		s->dfuse_address = step->address;
		s->op_budget_ms = s->busy_budget_set ? s->busy_budget_ms
						     : dfu_proto_dfuse_write_bound_ms(step->length);
		dfu_proto_session_enter(s, STEP_DFUSE_WRITE);
		return;
	case DFU_PROTO_DFUSE_STEP_LEAVE:
		s->dfuse_phase = DFU_PROTO_DFUSE_PHASE_LEAVE;
		s->leave_pending = true;
		dfu_proto_session_dfuse_set_address(s, step->address);
		return;
	case DFU_PROTO_DFUSE_STEP_END:
		break;
	}
	s->dfuse_phase = DFU_PROTO_DFUSE_PHASE_END;
	dfu_proto_session_enter(s, STEP_DONE);
}

/* the command or data block just completed (dfuDNLOAD-IDLE) */
static void
dfu_proto_session_dfuse_step_done(DfuProtoSession *s, uint64_t now_ms)
{
	dfu_proto_session_record_busy(s, now_ms);
	switch (s->busy_op) {
	case DFU_PROTO_BUSY_OP_ERASE:
		s->erases_done++;
		s->erase_bytes_done += s->plan_step.length;
		break;
	case DFU_PROTO_BUSY_OP_MASS_ERASE:
		s->erases_done++;
		break;
	case DFU_PROTO_BUSY_OP_BLOCK:
		s->done += s->block_length;
		break;
	default:
		break;
	}
	if (s->leave_pending) {
		dfu_proto_session_enter(s, STEP_DFUSE_LEAVE);
		return;
	}
	switch (s->operation) {
	case DFU_PROTO_OPERATION_DFUSE_DOWNLOAD:
		dfu_proto_session_dfuse_advance(s);
		return;
	case DFU_PROTO_OPERATION_DFUSE_UPLOAD:
		/* UPLOAD is not allowed in dfuDNLOAD-IDLE */
		dfu_proto_session_enter(s, STEP_DFUSE_UPLOAD_ABORT);
		return;
	default:
		dfu_proto_session_enter(s, STEP_DONE);
		return;
	}
}

/* the device is in dfuIDLE: start the DfuSe operation */
void
dfu_proto_session_dfuse_begin(DfuProtoSession *s)
{
	switch (s->operation) {
	case DFU_PROTO_OPERATION_DFUSE_DOWNLOAD:
		dfu_proto_session_dfuse_advance(s);
		return;
	case DFU_PROTO_OPERATION_DFUSE_UPLOAD:
		dfu_proto_session_dfuse_set_address(s, s->upload_address);
		return;
	case DFU_PROTO_OPERATION_DFUSE_MASS_ERASE:
		dfu_proto_session_dfuse_mass_erase(s);
		return;
	case DFU_PROTO_OPERATION_DFUSE_READ_UNPROTECT:
		dfu_proto_session_dfuse_command(s,
						DFU_PROTO_BUSY_OP_READ_UNPROTECT,
						DFU_PROTO_DFUSE_CMD_READ_UNPROTECT,
						false,
						0,
						DFU_PROTO_BUSY_BUDGET_MS);
		return;
	case DFU_PROTO_OPERATION_DFUSE_GET_COMMANDS:
		dfu_proto_session_enter(s, STEP_DFUSE_GET_COMMANDS);
		return;
	case DFU_PROTO_OPERATION_DFUSE_LEAVE:
		s->leave_pending = true;
		dfu_proto_session_dfuse_set_address(s, s->dfuse_address);
		return;
	default:
		dfu_proto_session_enter(s, STEP_DONE);
		return;
	}
}

void
dfu_proto_session_dfuse_describe(const DfuProtoSession *s, unsigned step, char *buf, size_t size)
{
	switch (step) {
	case STEP_DFUSE_COMMAND:
	case STEP_DFUSE_WRITE:
	case STEP_DFUSE_GETSTATUS:
		switch (s->busy_op) {
		case DFU_PROTO_BUSY_OP_SET_ADDRESS:
			snprintf(buf,
				 size,
				 "setting the address pointer to 0x%08x",
				 (unsigned)s->dfuse_address);
			break;
		case DFU_PROTO_BUSY_OP_ERASE:
			snprintf(buf,
				 size,
				 "the erase of the sector at 0x%08x (%u bytes)",
				 (unsigned)s->dfuse_address,
				 (unsigned)s->plan_step.length);
			break;
		case DFU_PROTO_BUSY_OP_MASS_ERASE:
			snprintf(buf, size, "the mass erase");
			break;
		case DFU_PROTO_BUSY_OP_READ_UNPROTECT:
			snprintf(buf, size, "the read unprotect");
			break;
		default:
			snprintf(buf,
				 size,
				 "writing block %u at 0x%08x (%u bytes)",
				 (unsigned)s->block_number,
				 (unsigned)s->dfuse_address,
				 (unsigned)s->block_length);
			break;
		}
		break;
	case STEP_DFUSE_LEAVE:
	case STEP_DFUSE_LEAVE_GETSTATUS:
		snprintf(buf,
			 size,
			 "leaving DFU mode to 0x%08x (zero-length DNLOAD)",
			 (unsigned)s->dfuse_address);
		break;
	case STEP_DFUSE_UPLOAD_ABORT:
	case STEP_DFUSE_UPLOAD:
	case STEP_DFUSE_UPLOAD_REWIND:
		snprintf(buf,
			 size,
			 "reading block %u at 0x%08x",
			 (unsigned)s->block_number,
			 (unsigned)(s->upload_address + s->done));
		break;
	case STEP_DFUSE_GET_COMMANDS:
		snprintf(buf, size, "reading the list of DfuSe commands");
		break;
	default:
		snprintf(buf, size, "the transfer");
		break;
	}
}

bool
dfu_proto_session_dfuse_fail_device_status(DfuProtoSession *s, const char *what)
{
	/* DfuSe gives two codes a precise meaning (AN3156) */
	if (dfu_proto_operation_is_dfuse(s->operation) &&
	    s->status.status == DFU_PROTO_STATUS_ERR_TARGET) {
		snprintf(s->message,
			 sizeof(s->message),
			 "device refused the address during %s (errTARGET): it lies outside the "
			 "memory the device allows; check the firmware is built for this device",
			 what);
		s->error = DFU_PROTO_ERROR_ADDRESS;
		dfu_proto_session_enter(s, STEP_FAIL_CLRSTATUS);
		return true;
	}
	if (dfu_proto_operation_is_dfuse(s->operation) &&
	    s->status.status == DFU_PROTO_STATUS_ERR_VENDOR) {
		snprintf(s->message,
			 sizeof(s->message),
			 "the device is read-protected (errVENDOR during %s); removing the "
			 "protection erases the whole flash: run a DfuSe read unprotect only if "
			 "losing the flash content is acceptable, then write the firmware again",
			 what);
		s->error = DFU_PROTO_ERROR_READ_PROTECTED;
		dfu_proto_session_enter(s, STEP_FAIL_CLRSTATUS);
		return true;
	}
	return false;
}

/* a stalled poll of a DfuSe operation: busy devices, and early-poll stallers by quirk */
static bool
dfu_proto_session_dfuse_tolerate_stall(DfuProtoSession *s, uint64_t now_ms)
{
	const bool busy = s->status_valid && dfu_proto_state_is_busy(s->status.state);

	if (!busy && s->min_poll_ms == 0)
		return false;
	if (s->busy_stalls >= DFU_PROTO_BUSY_STALLS_MAX)
		return false;
	s->busy_stalls++;
	dfu_proto_session_busy_poll(s, now_ms, STEP_DFUSE_GETSTATUS);
	return true;
}

static void
dfu_proto_session_feed_dfuse_status(DfuProtoSession *s,
				    ProtoIo result,
				    const uint8_t *data,
				    size_t len,
				    uint64_t now_ms)
{
	char what[96];

	if (result != PROTO_IO_OK) {
		if (result == PROTO_IO_STALL && dfu_proto_session_dfuse_tolerate_stall(s, now_ms))
			return;
		/* read unprotect ends with the device erasing itself and resetting */
		if (s->busy_op == DFU_PROTO_BUSY_OP_READ_UNPROTECT) {
			dfu_proto_session_record_busy(s, now_ms);
			dfu_proto_session_enter(s, STEP_DONE);
			return;
		}
		dfu_proto_session_fail_transfer(s, result);
		return;
	}
	if (!dfu_proto_session_take_status_ok(s, data, len, what, sizeof(what)))
		return;
	switch (s->status.state) {
	case DFU_PROTO_STATE_DFU_DNBUSY:
	case DFU_PROTO_STATE_DFU_DNLOAD_SYNC:
		/* quirk: the figure of a set address is bogus; a device still busy at the
		 * immediate poll is waited for as it asks */
		if (s->busy_op == DFU_PROTO_BUSY_OP_SET_ADDRESS && s->busy_polls == 0 &&
		    (s->dfuse_quirks & DFU_PROTO_DFUSE_QUIRK_SET_ADDRESS_POLL_BOGUS) != 0) {
			s->busy_polls++;
			dfu_proto_session_enter(s, STEP_DFUSE_GETSTATUS);
			return;
		}
		dfu_proto_session_busy_poll(s, now_ms, STEP_DFUSE_GETSTATUS);
		return;
	case DFU_PROTO_STATE_DFU_DNLOAD_IDLE:
		dfu_proto_session_dfuse_step_done(s, now_ms);
		return;
	case DFU_PROTO_STATE_DFU_IDLE:
		/* some devices return to dfuIDLE after a command; a data block must not */
		if (s->busy_op != DFU_PROTO_BUSY_OP_BLOCK) {
			dfu_proto_session_dfuse_step_done(s, now_ms);
			return;
		}
		break;
	default:
		break;
	}
	dfu_proto_session_fail_unexpected_state(s, "after", what, "DfuSe");
}

static void
dfu_proto_session_feed_dfuse_leave(DfuProtoSession *s, ProtoIo result, uint64_t now_ms)
{
	/* gone during the request: it left */
	if (result != PROTO_IO_OK && result != PROTO_IO_STALL) {
		s->dfuse_phase = DFU_PROTO_DFUSE_PHASE_END;
		dfu_proto_session_enter(s, STEP_DONE);
		return;
	}
	if (!dfu_proto_session_request_ok(s, result))
		return;
	if (s->dfuse_quirks & DFU_PROTO_DFUSE_QUIRK_SILENT_AFTER_LEAVE) {
		s->dfuse_phase = DFU_PROTO_DFUSE_PHASE_END;
		dfu_proto_session_enter(s, STEP_DONE);
		return;
	}
	s->busy_op = DFU_PROTO_BUSY_OP_LEAVE;
	dfu_proto_session_busy_reset(s, now_ms);
	dfu_proto_session_enter(s, STEP_DFUSE_LEAVE_GETSTATUS);
}

static void
dfu_proto_session_feed_dfuse_leave_status(DfuProtoSession *s,
					  ProtoIo result,
					  const uint8_t *data,
					  size_t len,
					  uint64_t now_ms)
{
	DfuProtoStatusReply reply;
	char what[96];

	s->dfuse_phase = DFU_PROTO_DFUSE_PHASE_END;
	/* the device jumps to the firmware here and usually does not answer: the success */
	if (result != PROTO_IO_OK ||
	    dfu_proto_status_reply_parse(data, len, &reply) != DFU_PROTO_ERROR_NONE) {
		dfu_proto_session_record_busy(s, now_ms);
		dfu_proto_session_enter(s, STEP_DONE);
		return;
	}
	s->status = reply;
	s->status_valid = true;
	if (reply.state == DFU_PROTO_STATE_DFU_ERROR || reply.status != DFU_PROTO_STATUS_OK) {
		dfu_proto_session_describe(s, s->step, what, sizeof(what));
		dfu_proto_session_fail_device_status(s, what);
		return;
	}
	dfu_proto_session_record_busy(s, now_ms);
	dfu_proto_session_enter(
	    s,
	    reply.state == DFU_PROTO_STATE_DFU_MANIFEST_WAIT_RESET ? STEP_USB_RESET : STEP_DONE);
}

static void
dfu_proto_session_feed_dfuse_upload(DfuProtoSession *s,
				    ProtoIo result,
				    const uint8_t *data,
				    size_t len)
{
	if (!dfu_proto_session_accept_upload_block(s, result, data, len))
		return;
	/*
	 * Point the device at the next byte and count from 2 again when wValue would pass
	 * 65535, and before a last block shortened to the maximum: the device multiplies by
	 * wLength (AN2662), so a shorter block numbered above 2 would come from elsewhere.
	 */
	if (s->block_number > 0xFFFF || s->total - s->done < s->block_size) {
		dfu_proto_session_enter(s, STEP_DFUSE_UPLOAD_REWIND);
		return;
	}
	dfu_proto_session_next_upload(s, STEP_DFUSE_UPLOAD);
}

static void
dfu_proto_session_feed_dfuse_get_commands(DfuProtoSession *s,
					  ProtoIo result,
					  const uint8_t *data,
					  size_t len)
{
	if (!dfu_proto_session_request_ok(s, result))
		return;
	if (len > DFU_PROTO_DFUSE_COMMANDS_MAX || (len > 0 && data == NULL)) {
		dfu_proto_session_fail(s,
				       DFU_PROTO_ERROR_REPLY,
				       "device sent %zu bytes for the list of DfuSe commands, more "
				       "than the %u asked for",
				       len,
				       (unsigned)DFU_PROTO_DFUSE_COMMANDS_MAX);
		return;
	}
	if (len > 0)
		memcpy(s->commands, data, len);
	s->commands_length = len;
	/* the device may wait in dfuUPLOAD-IDLE */
	dfu_proto_session_enter(s, STEP_UPLOAD_ABORT);
}

void
dfu_proto_session_feed_dfuse(DfuProtoSession *s,
			     ProtoIo result,
			     const uint8_t *data,
			     size_t len,
			     uint64_t now_ms)
{
	switch ((DfuProtoStep)s->step) {
	case STEP_DFUSE_COMMAND:
	case STEP_DFUSE_WRITE:
		dfu_proto_session_feed_dnload_request(s, result, now_ms, STEP_DFUSE_GETSTATUS);
		return;
	case STEP_DFUSE_GETSTATUS:
		dfu_proto_session_feed_dfuse_status(s, result, data, len, now_ms);
		return;
	case STEP_DFUSE_LEAVE:
		dfu_proto_session_feed_dfuse_leave(s, result, now_ms);
		return;
	case STEP_DFUSE_LEAVE_GETSTATUS:
		dfu_proto_session_feed_dfuse_leave_status(s, result, data, len, now_ms);
		return;
	case STEP_DFUSE_UPLOAD_ABORT:
		if (result != PROTO_IO_OK) {
			dfu_proto_session_fail_transfer(s, result);
			return;
		}
		s->block_number = DFU_PROTO_DFUSE_BLOCK_FIRST;
		dfu_proto_session_next_upload(s, STEP_DFUSE_UPLOAD);
		return;
	case STEP_DFUSE_UPLOAD:
		dfu_proto_session_feed_dfuse_upload(s, result, data, len);
		return;
	case STEP_DFUSE_UPLOAD_REWIND:
		if (result != PROTO_IO_OK) {
			dfu_proto_session_fail_transfer(s, result);
			return;
		}
		dfu_proto_session_dfuse_set_address(s, (uint32_t)(s->upload_address + s->done));
		return;
	case STEP_DFUSE_GET_COMMANDS:
		dfu_proto_session_feed_dfuse_get_commands(s, result, data, len);
		return;
	default:
		/* not a DfuSe step: dfu_proto_session_feed() handles it */
		return;
	}
}

static bool
dfu_proto_session_require(DfuProtoSession *s, uint8_t attribute, const char *what)
{
	if ((s->functional.attributes & attribute) != 0)
		return true;
	dfu_proto_session_fail(s,
			       DFU_PROTO_ERROR_NOT_SUPPORTED,
			       "device does not support %s (bmAttributes 0x%02x)",
			       what,
			       s->functional.attributes);
	return false;
}

DfuProtoError
dfu_proto_session_start_dfuse_download(DfuProtoSession *s,
				       const DfuProtoLayout *layout,
				       const DfuProtoElement *elements,
				       size_t element_count,
				       uint16_t block_size,
				       unsigned flags)
{
	DfuProtoError error;
	uint64_t erase_bytes = 0;
	uint64_t write_bytes = 0;

	dfu_proto_session_reset(s, DFU_PROTO_OPERATION_DFUSE_DOWNLOAD);
	if (!dfu_proto_session_require(s, DFU_PROTO_ATTR_CAN_DNLOAD, "writing firmware"))
		return s->error;
	if (block_size == 0)
		block_size = s->functional.transfer_size;
	if (block_size != 0 && !dfu_proto_session_check_block_size(s, block_size))
		return s->error;
	/* everything is checked here, before the first erase */
	error = dfu_proto_dfuse_plan_init(&s->plan,
					  layout,
					  elements,
					  element_count,
					  block_size,
					  flags,
					  s->message,
					  sizeof(s->message));
	if (error != DFU_PROTO_ERROR_NONE) {
		s->error = error;
		dfu_proto_session_enter(s, STEP_ERROR);
		return error;
	}
	dfu_proto_dfuse_plan_get_totals(&s->plan, NULL, &erase_bytes, &write_bytes);
	s->total = (size_t)write_bytes;
	s->block_size = block_size;
	dfu_proto_session_set_session_budget(s, erase_bytes);
	dfu_proto_session_enter(s, STEP_PREPARE_GETSTATUS);
	return DFU_PROTO_ERROR_NONE;
}

DfuProtoError
dfu_proto_session_start_dfuse_upload(DfuProtoSession *s,
				     const DfuProtoLayout *layout,
				     uint32_t address,
				     size_t max_bytes,
				     uint16_t block_size)
{
	dfu_proto_session_reset(s, DFU_PROTO_OPERATION_DFUSE_UPLOAD);
	if (!dfu_proto_session_require(s, DFU_PROTO_ATTR_CAN_UPLOAD, "reading firmware back"))
		return s->error;
	if (block_size == 0)
		block_size = s->functional.transfer_size;
	if (block_size == 0 || max_bytes == 0) {
		dfu_proto_session_fail(s,
				       DFU_PROTO_ERROR_INVALID_ARGUMENT,
				       "nothing to upload: %s is 0 bytes",
				       block_size == 0 ? "the transfer size" : "the size");
		return s->error;
	}
	if ((uint64_t)address + max_bytes > (uint64_t)UINT32_MAX + 1) {
		dfu_proto_session_fail(s,
				       DFU_PROTO_ERROR_ADDRESS,
				       "cannot read %zu bytes from 0x%08x: past the 32-bit address "
				       "space",
				       max_bytes,
				       (unsigned)address);
		return s->error;
	}
	if (layout != NULL && !dfu_proto_layout_range_has_access(layout,
								 address,
								 max_bytes,
								 DFU_PROTO_DFUSE_ACCESS_READ)) {
		dfu_proto_session_fail(
		    s,
		    DFU_PROTO_ERROR_ADDRESS,
		    "cannot read %zu bytes from 0x%08x: not all of it is readable "
		    "memory of \"%s\"",
		    max_bytes,
		    (unsigned)address,
		    layout->name);
		return s->error;
	}
	s->total = max_bytes;
	s->block_size = block_size;
	s->upload_address = address;
	dfu_proto_session_enter(s, STEP_PREPARE_GETSTATUS);
	return DFU_PROTO_ERROR_NONE;
}

static DfuProtoError
dfu_proto_session_start_dfuse_command(DfuProtoSession *s,
				      DfuProtoOperation operation,
				      uint8_t attribute,
				      const char *what)
{
	dfu_proto_session_reset(s, operation);
	if (!dfu_proto_session_require(s, attribute, what))
		return s->error;
	dfu_proto_session_enter(s, STEP_PREPARE_GETSTATUS);
	return DFU_PROTO_ERROR_NONE;
}

DfuProtoError
dfu_proto_session_start_dfuse_mass_erase(DfuProtoSession *s)
{
	return dfu_proto_session_start_dfuse_command(s,
						     DFU_PROTO_OPERATION_DFUSE_MASS_ERASE,
						     DFU_PROTO_ATTR_CAN_DNLOAD,
						     "erasing");
}

DfuProtoError
dfu_proto_session_start_dfuse_read_unprotect(DfuProtoSession *s)
{
	return dfu_proto_session_start_dfuse_command(s,
						     DFU_PROTO_OPERATION_DFUSE_READ_UNPROTECT,
						     DFU_PROTO_ATTR_CAN_DNLOAD,
						     "removing the read protection");
}

DfuProtoError
dfu_proto_session_start_dfuse_get_commands(DfuProtoSession *s)
{
	return dfu_proto_session_start_dfuse_command(s,
						     DFU_PROTO_OPERATION_DFUSE_GET_COMMANDS,
						     DFU_PROTO_ATTR_CAN_UPLOAD,
						     "reading the list of DfuSe commands");
}

DfuProtoError
dfu_proto_session_start_dfuse_leave(DfuProtoSession *s, uint32_t address)
{
	DfuProtoError error = dfu_proto_session_start_dfuse_command(s,
								    DFU_PROTO_OPERATION_DFUSE_LEAVE,
								    DFU_PROTO_ATTR_CAN_DNLOAD,
								    "leaving DFU mode");
	s->dfuse_address = address;
	return error;
}

void
dfu_proto_session_get_dfuse_progress(const DfuProtoSession *s, DfuProtoDfuseProgress *out)
{
	uint32_t erase_count = 0;
	uint64_t erase_bytes = 0;

	memset(out, 0, sizeof(*out));
	dfu_proto_dfuse_plan_get_totals(&s->plan, &erase_count, &erase_bytes, NULL);
	out->phase = s->dfuse_phase;
	out->erases_done = s->erases_done;
	out->erases_total = s->operation == DFU_PROTO_OPERATION_DFUSE_MASS_ERASE ? 1 : erase_count;
	out->erase_bytes_done = s->erase_bytes_done;
	out->erase_bytes_total = erase_bytes;
	out->write_bytes_done = s->done;
	out->write_bytes_total = s->total;
}

size_t
dfu_proto_session_get_dfuse_commands(const DfuProtoSession *s, const uint8_t **commands)
{
	if (commands != NULL)
		*commands = s->commands;
	return s->commands_length;
}
