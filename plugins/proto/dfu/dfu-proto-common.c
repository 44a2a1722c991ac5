/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "dfu-proto.h"

const char *
dfu_proto_request_to_string(unsigned request)
{
	static const char *const names[] = {
	    [DFU_PROTO_REQUEST_DETACH] = "DETACH",
	    [DFU_PROTO_REQUEST_DNLOAD] = "DNLOAD",
	    [DFU_PROTO_REQUEST_UPLOAD] = "UPLOAD",
	    [DFU_PROTO_REQUEST_GETSTATUS] = "GETSTATUS",
	    [DFU_PROTO_REQUEST_CLRSTATUS] = "CLRSTATUS",
	    [DFU_PROTO_REQUEST_GETSTATE] = "GETSTATE",
	    [DFU_PROTO_REQUEST_ABORT] = "ABORT",
	};
	if (request >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[request];
}

const char *
dfu_proto_state_to_string(unsigned state)
{
	static const char *const names[] = {
	    [DFU_PROTO_STATE_APP_IDLE] = "appIDLE",
	    [DFU_PROTO_STATE_APP_DETACH] = "appDETACH",
	    [DFU_PROTO_STATE_DFU_IDLE] = "dfuIDLE",
	    [DFU_PROTO_STATE_DFU_DNLOAD_SYNC] = "dfuDNLOAD-SYNC",
	    [DFU_PROTO_STATE_DFU_DNBUSY] = "dfuDNBUSY",
	    [DFU_PROTO_STATE_DFU_DNLOAD_IDLE] = "dfuDNLOAD-IDLE",
	    [DFU_PROTO_STATE_DFU_MANIFEST_SYNC] = "dfuMANIFEST-SYNC",
	    [DFU_PROTO_STATE_DFU_MANIFEST] = "dfuMANIFEST",
	    [DFU_PROTO_STATE_DFU_MANIFEST_WAIT_RESET] = "dfuMANIFEST-WAIT-RESET",
	    [DFU_PROTO_STATE_DFU_UPLOAD_IDLE] = "dfuUPLOAD-IDLE",
	    [DFU_PROTO_STATE_DFU_ERROR] = "dfuERROR",
	};
	if (state >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[state];
}

const char *
dfu_proto_status_to_string(unsigned status)
{
	static const char *const names[] = {
	    [DFU_PROTO_STATUS_OK] = "OK",
	    [DFU_PROTO_STATUS_ERR_TARGET] = "errTARGET",
	    [DFU_PROTO_STATUS_ERR_FILE] = "errFILE",
	    [DFU_PROTO_STATUS_ERR_WRITE] = "errWRITE",
	    [DFU_PROTO_STATUS_ERR_ERASE] = "errERASE",
	    [DFU_PROTO_STATUS_ERR_CHECK_ERASED] = "errCHECK_ERASED",
	    [DFU_PROTO_STATUS_ERR_PROG] = "errPROG",
	    [DFU_PROTO_STATUS_ERR_VERIFY] = "errVERIFY",
	    [DFU_PROTO_STATUS_ERR_ADDRESS] = "errADDRESS",
	    [DFU_PROTO_STATUS_ERR_NOTDONE] = "errNOTDONE",
	    [DFU_PROTO_STATUS_ERR_FIRMWARE] = "errFIRMWARE",
	    [DFU_PROTO_STATUS_ERR_VENDOR] = "errVENDOR",
	    [DFU_PROTO_STATUS_ERR_USBR] = "errUSBR",
	    [DFU_PROTO_STATUS_ERR_POR] = "errPOR",
	    [DFU_PROTO_STATUS_ERR_UNKNOWN] = "errUNKNOWN",
	    [DFU_PROTO_STATUS_ERR_STALLEDPKT] = "errSTALLEDPKT",
	};
	if (status >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[status];
}

const char *
dfu_proto_status_to_message(unsigned status)
{
	static const char *const messages[] = {
	    [DFU_PROTO_STATUS_OK] = "no error",
	    [DFU_PROTO_STATUS_ERR_TARGET] =
		"device reports the firmware is not meant for this device",
	    [DFU_PROTO_STATUS_ERR_FILE] = "device reports the firmware file failed its checks",
	    [DFU_PROTO_STATUS_ERR_WRITE] = "device reports it cannot write its memory",
	    [DFU_PROTO_STATUS_ERR_ERASE] = "device reports the memory erase failed",
	    [DFU_PROTO_STATUS_ERR_CHECK_ERASED] =
		"device reports the memory was not blank after erasing",
	    [DFU_PROTO_STATUS_ERR_PROG] = "device reports programming the memory failed",
	    [DFU_PROTO_STATUS_ERR_VERIFY] = "device reports verification failed",
	    [DFU_PROTO_STATUS_ERR_ADDRESS] =
		"device reports an address outside its memory (firmware too large?)",
	    [DFU_PROTO_STATUS_ERR_NOTDONE] =
		"device reports the download ended before all the firmware arrived",
	    [DFU_PROTO_STATUS_ERR_FIRMWARE] =
		"device reports the firmware is corrupt and cannot run; flash it again",
	    [DFU_PROTO_STATUS_ERR_VENDOR] =
		"device reports a vendor-specific error (often read or write protection)",
	    [DFU_PROTO_STATUS_ERR_USBR] = "device reports an unexpected USB reset",
	    [DFU_PROTO_STATUS_ERR_POR] = "device reports an unexpected power-on reset",
	    [DFU_PROTO_STATUS_ERR_UNKNOWN] = "device reports an unknown error",
	    [DFU_PROTO_STATUS_ERR_STALLEDPKT] = "device reports it rejected an unexpected request",
	};
	if (status >= sizeof(messages) / sizeof(messages[0]))
		return "device reports an undefined status code";
	return messages[status];
}

const char *
dfu_proto_error_to_string(DfuProtoError error)
{
	switch (error) {
	case DFU_PROTO_ERROR_NONE:
		return "none";
	case DFU_PROTO_ERROR_INVALID_ARGUMENT:
		return "invalid-argument";
	case DFU_PROTO_ERROR_NOT_SUPPORTED:
		return "not-supported";
	case DFU_PROTO_ERROR_DESCRIPTOR:
		return "descriptor";
	case DFU_PROTO_ERROR_DESCRIPTOR_LIMIT:
		return "descriptor-limit";
	case DFU_PROTO_ERROR_REPLY:
		return "reply";
	case DFU_PROTO_ERROR_WRONG_STATE:
		return "wrong-state";
	case DFU_PROTO_ERROR_DEVICE_STATUS:
		return "device-status";
	case DFU_PROTO_ERROR_BUSY_TOO_LONG:
		return "busy-too-long";
	case DFU_PROTO_ERROR_STALL:
		return "stall";
	case DFU_PROTO_ERROR_TIMEOUT:
		return "timeout";
	case DFU_PROTO_ERROR_NO_DEVICE:
		return "no-device";
	case DFU_PROTO_ERROR_IO:
		return "io";
	case DFU_PROTO_ERROR_LAYOUT:
		return "layout";
	case DFU_PROTO_ERROR_ADDRESS:
		return "address";
	case DFU_PROTO_ERROR_READ_PROTECTED:
		return "read-protected";
	}
	return "unknown";
}

const char *
dfu_proto_busy_op_to_string(DfuProtoBusyOp op)
{
	switch (op) {
	case DFU_PROTO_BUSY_OP_BLOCK:
		return "block";
	case DFU_PROTO_BUSY_OP_MANIFEST:
		return "manifest";
	case DFU_PROTO_BUSY_OP_SET_ADDRESS:
		return "set-address";
	case DFU_PROTO_BUSY_OP_ERASE:
		return "erase";
	case DFU_PROTO_BUSY_OP_MASS_ERASE:
		return "mass-erase";
	case DFU_PROTO_BUSY_OP_READ_UNPROTECT:
		return "read-unprotect";
	case DFU_PROTO_BUSY_OP_LEAVE:
		return "leave";
	case DFU_PROTO_BUSY_OP_COUNT:
		break;
	}
	return "unknown";
}

DfuProtoError
dfu_proto_status_reply_parse(const uint8_t *buf, size_t len, DfuProtoStatusReply *out)
{
	if (buf == NULL || len != DFU_PROTO_STATUS_REPLY_LENGTH)
		return DFU_PROTO_ERROR_REPLY;
	if (buf[0] > DFU_PROTO_STATUS_LAST || buf[4] > DFU_PROTO_STATE_LAST)
		return DFU_PROTO_ERROR_REPLY;
	out->status = (DfuProtoStatus)buf[0];
	out->poll_timeout_ms =
	    (uint32_t)buf[1] | ((uint32_t)buf[2] << 8) | ((uint32_t)buf[3] << 16);
	out->state = (DfuProtoState)buf[4];
	out->string_index = buf[5];
	return DFU_PROTO_ERROR_NONE;
}
