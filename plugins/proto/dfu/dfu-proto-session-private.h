/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* what dfu-proto-session.c and dfu-proto-dfuse-session.c share; not part of the API */

#pragma once

#include "dfu-proto.h"

/*
 * The session is a state machine over steps. Each step owns exactly one pending action; feed()
 * consumes the outcome of that action and enters the next step. Steps that read the status
 * share dfu_proto_session_busy_poll() so every wait is the device's bwPollTimeout and every
 * busy spell is bounded the same way. dfu-proto-session.c holds the DFU 1.1 steps and what
 * every operation shares; dfu-proto-dfuse-session.c the DfuSe steps.
 */
typedef enum {
	STEP_IDLE,
	STEP_DONE,
	STEP_ERROR,
	STEP_WAIT, /* then resume_step */
	STEP_USB_RESET,
	/* bring the device to dfuIDLE before a transfer */
	STEP_PREPARE_GETSTATUS,
	STEP_PREPARE_CLRSTATUS,
	STEP_PREPARE_ABORT,
	/* runtime to DFU mode */
	STEP_DETACH,
	/* download */
	STEP_DNLOAD,
	STEP_DNLOAD_GETSTATUS,
	STEP_DNLOAD_END, /* the zero-length DNLOAD */
	STEP_MANIFEST_GETSTATUS,
	/* upload */
	STEP_UPLOAD,
	STEP_UPLOAD_ABORT,
	/* failure paths */
	STEP_STALL_GETSTATUS, /* a request stalled: read the status to say why */
	STEP_FAIL_CLRSTATUS,  /* leave the device in dfuIDLE, then report the error */
	/* DfuSe: the last, for dfu_proto_step_is_dfuse() */
	STEP_DFUSE_COMMAND,	    /* DNLOAD wValue 0 with s->command */
	STEP_DFUSE_WRITE,	    /* DNLOAD wValue 2.. with image bytes */
	STEP_DFUSE_GETSTATUS,	    /* executes the command or block, then polls it */
	STEP_DFUSE_LEAVE,	    /* zero-length DNLOAD */
	STEP_DFUSE_LEAVE_GETSTATUS, /* the device jumps to the address pointer here */
	STEP_DFUSE_UPLOAD_ABORT,    /* from dfuDNLOAD-IDLE after the set address to dfuIDLE */
	STEP_DFUSE_UPLOAD,	    /* UPLOAD wValue 2.. */
	STEP_DFUSE_UPLOAD_REWIND,   /* block numbers used up: ABORT, then a new set address */
	STEP_DFUSE_GET_COMMANDS,    /* UPLOAD wValue 0 */
} DfuProtoStep;

static inline bool
dfu_proto_state_is_busy(DfuProtoState state)
{
	return state == DFU_PROTO_STATE_DFU_DNBUSY || state == DFU_PROTO_STATE_DFU_DNLOAD_SYNC ||
	       state == DFU_PROTO_STATE_DFU_MANIFEST || state == DFU_PROTO_STATE_DFU_MANIFEST_SYNC;
}

/* the steps from STEP_DFUSE_COMMAND on are dfu-proto-dfuse-session.c's */
static inline bool
dfu_proto_step_is_dfuse(unsigned step)
{
	return step >= STEP_DFUSE_COMMAND;
}

static inline bool
dfu_proto_operation_is_dfuse(DfuProtoOperation operation)
{
	return operation >= DFU_PROTO_OPERATION_DFUSE_DOWNLOAD;
}

/* ---- dfu-proto-session.c ---- */

/* what the session was doing in @step, for messages */
void
dfu_proto_session_describe(const DfuProtoSession *s, unsigned step, char *buf, size_t size);

void
dfu_proto_session_enter(DfuProtoSession *s, DfuProtoStep step);

void
dfu_proto_session_fail(DfuProtoSession *s, DfuProtoError error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void
dfu_proto_session_fail_device_status(DfuProtoSession *s, const char *what);

void
dfu_proto_session_fail_unexpected_state(DfuProtoSession *s,
					const char *when,
					const char *what,
					const char *protocol);

void
dfu_proto_session_fail_transfer(DfuProtoSession *s, ProtoIo result);

bool
dfu_proto_session_request_ok(DfuProtoSession *s, ProtoIo result);

bool
dfu_proto_session_take_status_ok(DfuProtoSession *s,
				 const uint8_t *data,
				 size_t len,
				 char *what,
				 size_t what_size);

void
dfu_proto_session_feed_dnload_request(DfuProtoSession *s,
				      ProtoIo result,
				      uint64_t now_ms,
				      DfuProtoStep status_step);

void
dfu_proto_session_next_upload(DfuProtoSession *s, DfuProtoStep upload_step);

void
dfu_proto_session_busy_poll(DfuProtoSession *s, uint64_t now_ms, DfuProtoStep poll_step);

void
dfu_proto_session_record_busy(DfuProtoSession *s, uint64_t now_ms);

void
dfu_proto_session_busy_reset(DfuProtoSession *s, uint64_t now_ms);

bool
dfu_proto_session_accept_upload_block(DfuProtoSession *s,
				      ProtoIo result,
				      const uint8_t *data,
				      size_t len);

void
dfu_proto_session_set_session_budget(DfuProtoSession *s, uint64_t erase_bytes);

bool
dfu_proto_session_check_block_size(DfuProtoSession *s, uint16_t block_size);

void
dfu_proto_session_reset(DfuProtoSession *s, DfuProtoOperation operation);

/* ---- dfu-proto-dfuse-session.c ---- */

/* the device is in dfuIDLE: start the DfuSe operation */
void
dfu_proto_session_dfuse_begin(DfuProtoSession *s);

/* what the session was doing in the DfuSe @step, for messages */
void
dfu_proto_session_dfuse_describe(const DfuProtoSession *s, unsigned step, char *buf, size_t size);

/* the DfuSe meaning of the status the device reported, if it has one: fails with it */
bool
dfu_proto_session_dfuse_fail_device_status(DfuProtoSession *s, const char *what);

/* the outcome of the action of a DfuSe step */
void
dfu_proto_session_feed_dfuse(DfuProtoSession *s,
			     ProtoIo result,
			     const uint8_t *data,
			     size_t len,
			     uint64_t now_ms);
