/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "cobs-proto.h"
#include "dfu-proto.h"
#include "fu-proto-error.h"
#include "nrf-dfu-proto.h"

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

/* ends each core's rows: what its other errors are */
#define FU_PROTO_ERROR_OTHERWISE G_MAXUINT

/* what each core's error is to fwupd, one core's rows after another */
static const struct {
	FuProtoCore core;
	guint code;
	FwupdError fwupd_code;
} fu_proto_error_map[] = {
    {FU_PROTO_CORE_DFU, DFU_PROTO_ERROR_NOT_SUPPORTED, FWUPD_ERROR_NOT_SUPPORTED},
    {FU_PROTO_CORE_DFU, DFU_PROTO_ERROR_READ_PROTECTED, FWUPD_ERROR_NOT_SUPPORTED},
    {FU_PROTO_CORE_DFU, DFU_PROTO_ERROR_TIMEOUT, FWUPD_ERROR_TIMED_OUT},
    {FU_PROTO_CORE_DFU, DFU_PROTO_ERROR_BUSY_TOO_LONG, FWUPD_ERROR_TIMED_OUT},
    {FU_PROTO_CORE_DFU, DFU_PROTO_ERROR_NO_DEVICE, FWUPD_ERROR_NOT_FOUND},
    {FU_PROTO_CORE_DFU, DFU_PROTO_ERROR_ADDRESS, FWUPD_ERROR_INVALID_FILE},
    {FU_PROTO_CORE_DFU, DFU_PROTO_ERROR_LAYOUT, FWUPD_ERROR_INVALID_FILE},
    {FU_PROTO_CORE_DFU, DFU_PROTO_ERROR_DEVICE_STATUS, FWUPD_ERROR_WRITE},
    {FU_PROTO_CORE_DFU, DFU_PROTO_ERROR_WRONG_STATE, FWUPD_ERROR_WRITE},
    {FU_PROTO_CORE_DFU, DFU_PROTO_ERROR_STALL, FWUPD_ERROR_WRITE},
    {FU_PROTO_CORE_DFU, DFU_PROTO_ERROR_REPLY, FWUPD_ERROR_WRITE},
    {FU_PROTO_CORE_DFU, FU_PROTO_ERROR_OTHERWISE, FWUPD_ERROR_INTERNAL},
    {FU_PROTO_CORE_NRF, NRF_DFU_PROTO_ERROR_NOT_SUPPORTED, FWUPD_ERROR_NOT_SUPPORTED},
    {FU_PROTO_CORE_NRF, NRF_DFU_PROTO_ERROR_TIMEOUT, FWUPD_ERROR_TIMED_OUT},
    {FU_PROTO_CORE_NRF, NRF_DFU_PROTO_ERROR_NO_DEVICE, FWUPD_ERROR_NOT_FOUND},
    {FU_PROTO_CORE_NRF, NRF_DFU_PROTO_ERROR_TOO_LARGE, FWUPD_ERROR_INVALID_FILE},
    {FU_PROTO_CORE_NRF, NRF_DFU_PROTO_ERROR_INVALID_ARGUMENT, FWUPD_ERROR_INTERNAL},
    /* the device's error results, its replies, the CRC and the transport */
    {FU_PROTO_CORE_NRF, FU_PROTO_ERROR_OTHERWISE, FWUPD_ERROR_WRITE},
    {FU_PROTO_CORE_COBS, COBS_PROTO_ERROR_TIMEOUT, FWUPD_ERROR_TIMED_OUT},
    {FU_PROTO_CORE_COBS, COBS_PROTO_ERROR_NO_DEVICE, FWUPD_ERROR_NOT_FOUND},
    {FU_PROTO_CORE_COBS, COBS_PROTO_ERROR_INVALID_ARGUMENT, FWUPD_ERROR_INVALID_DATA},
    {FU_PROTO_CORE_COBS, COBS_PROTO_ERROR_VERIFY, FWUPD_ERROR_WRITE},
    {FU_PROTO_CORE_COBS, COBS_PROTO_ERROR_GARBAGE, FWUPD_ERROR_WRITE},
    {FU_PROTO_CORE_COBS, COBS_PROTO_ERROR_NOT_ACK, FWUPD_ERROR_WRITE},
    {FU_PROTO_CORE_COBS, COBS_PROTO_ERROR_IO, FWUPD_ERROR_WRITE},
    {FU_PROTO_CORE_COBS, FU_PROTO_ERROR_OTHERWISE, FWUPD_ERROR_INTERNAL},
};

/* sets the error a core's failure stands for, with the core's message; always FALSE */
gboolean
fu_proto_error_set(GError **error, FuProtoCore core, guint code, const gchar *message)
{
	FwupdError fwupd_code = FWUPD_ERROR_INTERNAL;

	for (guint i = 0; i < G_N_ELEMENTS(fu_proto_error_map); i++) {
		if (fu_proto_error_map[i].core != core)
			continue;
		if (fu_proto_error_map[i].code == code ||
		    fu_proto_error_map[i].code == FU_PROTO_ERROR_OTHERWISE) {
			fwupd_code = fu_proto_error_map[i].fwupd_code;
			break;
		}
	}
	g_set_error_literal(error, FWUPD_ERROR, fwupd_code, message);
	return FALSE;
}

/* an action of a core newer than the plugin that runs it */
gboolean
fu_proto_error_set_unknown_action(GError **error, guint kind)
{
	g_set_error(error, FWUPD_ERROR, FWUPD_ERROR_INTERNAL, "unknown action %u", kind);
	return FALSE;
}
