/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "fu-proto-error.h"

/*
 * Where the protocol cores meet fwupd's errors, for all three plugins: what a failed transfer
 * means to a core, and the FwupdError a core's failure becomes.
 */

/* fwupd maps libusb's timeout to TIMED_OUT and a vanished device to NOT_FOUND; it reports a
 * stall (LIBUSB_ERROR_PIPE) as FWUPD_ERROR_READ along with I/O errors, and only the message
 * keeps the difference the DFU core needs; the other cores take a stall as any other error */
ProtoIo
fu_proto_error_to_io(const GError *error)
{
	if (g_error_matches(error, FWUPD_ERROR, FWUPD_ERROR_TIMED_OUT))
		return PROTO_IO_TIMEOUT;
	if (g_error_matches(error, FWUPD_ERROR, FWUPD_ERROR_NOT_FOUND))
		return PROTO_IO_NO_DEVICE;
	if (g_error_matches(error, FWUPD_ERROR, FWUPD_ERROR_NOT_SUPPORTED) ||
	    (g_error_matches(error, FWUPD_ERROR, FWUPD_ERROR_READ) &&
	     g_strstr_len(error->message, -1, "Pipe error") != NULL))
		return PROTO_IO_STALL;
	return PROTO_IO_ERROR;
}

static FwupdError
fu_proto_error_dfu_to_fwupd(DfuProtoError code)
{
	switch (code) {
	case DFU_PROTO_ERROR_NOT_SUPPORTED:
		return FWUPD_ERROR_NOT_SUPPORTED;
	case DFU_PROTO_ERROR_TIMEOUT:
	case DFU_PROTO_ERROR_BUSY_TOO_LONG:
		return FWUPD_ERROR_TIMED_OUT;
	case DFU_PROTO_ERROR_NO_DEVICE:
		return FWUPD_ERROR_NOT_FOUND;
	case DFU_PROTO_ERROR_ADDRESS:
	case DFU_PROTO_ERROR_LAYOUT:
		return FWUPD_ERROR_INVALID_FILE;
	case DFU_PROTO_ERROR_READ_PROTECTED:
		return FWUPD_ERROR_NOT_SUPPORTED;
	case DFU_PROTO_ERROR_DEVICE_STATUS:
	case DFU_PROTO_ERROR_WRONG_STATE:
	case DFU_PROTO_ERROR_STALL:
	case DFU_PROTO_ERROR_REPLY:
		return FWUPD_ERROR_WRITE;
	default:
		return FWUPD_ERROR_INTERNAL;
	}
}

static FwupdError
fu_proto_error_nrf_to_fwupd(NrfDfuProtoError code)
{
	switch (code) {
	case NRF_DFU_PROTO_ERROR_NOT_SUPPORTED:
		return FWUPD_ERROR_NOT_SUPPORTED;
	case NRF_DFU_PROTO_ERROR_TIMEOUT:
		return FWUPD_ERROR_TIMED_OUT;
	case NRF_DFU_PROTO_ERROR_NO_DEVICE:
		return FWUPD_ERROR_NOT_FOUND;
	case NRF_DFU_PROTO_ERROR_TOO_LARGE:
		return FWUPD_ERROR_INVALID_FILE;
	case NRF_DFU_PROTO_ERROR_INVALID_ARGUMENT:
		return FWUPD_ERROR_INTERNAL;
	default:
		/* the device's error results, its replies, the CRC and the transport */
		return FWUPD_ERROR_WRITE;
	}
}

static FwupdError
fu_proto_error_cobs_to_fwupd(CobsProtoError code)
{
	switch (code) {
	case COBS_PROTO_ERROR_TIMEOUT:
		return FWUPD_ERROR_TIMED_OUT;
	case COBS_PROTO_ERROR_NO_DEVICE:
		return FWUPD_ERROR_NOT_FOUND;
	case COBS_PROTO_ERROR_INVALID_ARGUMENT:
		return FWUPD_ERROR_INVALID_DATA;
	case COBS_PROTO_ERROR_VERIFY:
	case COBS_PROTO_ERROR_GARBAGE:
	case COBS_PROTO_ERROR_NOT_ACK:
	case COBS_PROTO_ERROR_IO:
		return FWUPD_ERROR_WRITE;
	default:
		return FWUPD_ERROR_INTERNAL;
	}
}

/* each sets the error a core's failure stands for, with the core's message; always FALSE */
gboolean
fu_proto_error_set_dfu(GError **error, DfuProtoError code, const gchar *message)
{
	g_set_error_literal(error, FWUPD_ERROR, fu_proto_error_dfu_to_fwupd(code), message);
	return FALSE;
}

gboolean
fu_proto_error_set_nrf(GError **error, NrfDfuProtoError code, const gchar *message)
{
	g_set_error_literal(error, FWUPD_ERROR, fu_proto_error_nrf_to_fwupd(code), message);
	return FALSE;
}

gboolean
fu_proto_error_set_cobs(GError **error, CobsProtoError code, const gchar *message)
{
	g_set_error_literal(error, FWUPD_ERROR, fu_proto_error_cobs_to_fwupd(code), message);
	return FALSE;
}

/* an action of a core newer than the plugin that runs it */
gboolean
fu_proto_error_set_unknown_action(GError **error, guint kind)
{
	g_set_error(error, FWUPD_ERROR, FWUPD_ERROR_INTERNAL, "unknown action %u", kind);
	return FALSE;
}
