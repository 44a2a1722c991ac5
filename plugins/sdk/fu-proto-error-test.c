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

static void
fu_proto_error_to_io_func(void)
{
	struct {
		FwupdError code;
		const gchar *message;
		ProtoIo io;
	} cases[] = {
	    {FWUPD_ERROR_TIMED_OUT, "timed out", PROTO_IO_TIMEOUT},
	    {FWUPD_ERROR_NOT_FOUND, "no device", PROTO_IO_NO_DEVICE},
	    {FWUPD_ERROR_NOT_SUPPORTED, "stalled", PROTO_IO_STALL},
	    /* what fwupd makes of LIBUSB_ERROR_PIPE, and of any other failed read */
	    {FWUPD_ERROR_READ, "USB control transfer failed: Pipe error", PROTO_IO_STALL},
	    {FWUPD_ERROR_READ, "USB control transfer failed: Input/Output Error", PROTO_IO_ERROR},
	    {FWUPD_ERROR_WRITE, "failed", PROTO_IO_ERROR},
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error =
		    g_error_new_literal(FWUPD_ERROR, cases[i].code, cases[i].message);
		g_assert_cmpint(fu_proto_error_to_io(error), ==, cases[i].io);
	}
}

/* the error a core's failure was turned into: always FALSE, with the core's message */
static void
fu_proto_error_assert(gboolean ret,
		      const GError *error_local,
		      FwupdError code,
		      const gchar *message)
{
	g_assert_false(ret);
	g_assert_error(error_local, FWUPD_ERROR, (gint)code);
	g_assert_cmpstr(error_local->message, ==, message);
}

/* a timeout and a vanished device read alike whatever the core */
static void
fu_proto_error_set_func(void)
{
	struct {
		DfuProtoError dfu;
		NrfDfuProtoError nrf;
		CobsProtoError cobs;
		FwupdError code;
	} outcomes[] = {
	    {DFU_PROTO_ERROR_TIMEOUT,
	     NRF_DFU_PROTO_ERROR_TIMEOUT,
	     COBS_PROTO_ERROR_TIMEOUT,
	     FWUPD_ERROR_TIMED_OUT},
	    {DFU_PROTO_ERROR_NO_DEVICE,
	     NRF_DFU_PROTO_ERROR_NO_DEVICE,
	     COBS_PROTO_ERROR_NO_DEVICE,
	     FWUPD_ERROR_NOT_FOUND},
	};
	for (guint i = 0; i < G_N_ELEMENTS(outcomes); i++) {
		GError *error_local = NULL;
		gboolean ret;

		ret = fu_proto_error_set(&error_local, FU_PROTO_CORE_DFU, outcomes[i].dfu, "dfu");
		fu_proto_error_assert(ret, error_local, outcomes[i].code, "dfu");
		g_clear_error(&error_local);
		ret = fu_proto_error_set(&error_local, FU_PROTO_CORE_NRF, outcomes[i].nrf, "nrf");
		fu_proto_error_assert(ret, error_local, outcomes[i].code, "nrf");
		g_clear_error(&error_local);
		ret =
		    fu_proto_error_set(&error_local, FU_PROTO_CORE_COBS, outcomes[i].cobs, "cobs");
		fu_proto_error_assert(ret, error_local, outcomes[i].code, "cobs");
		g_clear_error(&error_local);
	}
}

/* where the cores differ: each error of each core, and what the rest of a core's errors are */
static void
fu_proto_error_set_core_func(void)
{
	struct {
		FuProtoCore core;
		guint code;
		FwupdError fwupd_code;
	} cases[] = {
	    {FU_PROTO_CORE_DFU, DFU_PROTO_ERROR_NOT_SUPPORTED, FWUPD_ERROR_NOT_SUPPORTED},
	    {FU_PROTO_CORE_DFU, DFU_PROTO_ERROR_READ_PROTECTED, FWUPD_ERROR_NOT_SUPPORTED},
	    {FU_PROTO_CORE_DFU, DFU_PROTO_ERROR_BUSY_TOO_LONG, FWUPD_ERROR_TIMED_OUT},
	    {FU_PROTO_CORE_DFU, DFU_PROTO_ERROR_ADDRESS, FWUPD_ERROR_INVALID_FILE},
	    {FU_PROTO_CORE_DFU, DFU_PROTO_ERROR_LAYOUT, FWUPD_ERROR_INVALID_FILE},
	    {FU_PROTO_CORE_DFU, DFU_PROTO_ERROR_DEVICE_STATUS, FWUPD_ERROR_WRITE},
	    {FU_PROTO_CORE_DFU, DFU_PROTO_ERROR_WRONG_STATE, FWUPD_ERROR_WRITE},
	    {FU_PROTO_CORE_DFU, DFU_PROTO_ERROR_STALL, FWUPD_ERROR_WRITE},
	    {FU_PROTO_CORE_DFU, DFU_PROTO_ERROR_REPLY, FWUPD_ERROR_WRITE},
	    {FU_PROTO_CORE_DFU, DFU_PROTO_ERROR_IO, FWUPD_ERROR_INTERNAL},
	    {FU_PROTO_CORE_DFU, DFU_PROTO_ERROR_DESCRIPTOR, FWUPD_ERROR_INTERNAL},
	    {FU_PROTO_CORE_NRF, NRF_DFU_PROTO_ERROR_NOT_SUPPORTED, FWUPD_ERROR_NOT_SUPPORTED},
	    {FU_PROTO_CORE_NRF, NRF_DFU_PROTO_ERROR_TOO_LARGE, FWUPD_ERROR_INVALID_FILE},
	    {FU_PROTO_CORE_NRF, NRF_DFU_PROTO_ERROR_INVALID_ARGUMENT, FWUPD_ERROR_INTERNAL},
	    {FU_PROTO_CORE_NRF, NRF_DFU_PROTO_ERROR_DEVICE, FWUPD_ERROR_WRITE},
	    {FU_PROTO_CORE_NRF, NRF_DFU_PROTO_ERROR_REPLY, FWUPD_ERROR_WRITE},
	    {FU_PROTO_CORE_NRF, NRF_DFU_PROTO_ERROR_CRC, FWUPD_ERROR_WRITE},
	    {FU_PROTO_CORE_NRF, NRF_DFU_PROTO_ERROR_IO, FWUPD_ERROR_WRITE},
	    {FU_PROTO_CORE_COBS, COBS_PROTO_ERROR_INVALID_ARGUMENT, FWUPD_ERROR_INVALID_DATA},
	    {FU_PROTO_CORE_COBS, COBS_PROTO_ERROR_VERIFY, FWUPD_ERROR_WRITE},
	    {FU_PROTO_CORE_COBS, COBS_PROTO_ERROR_GARBAGE, FWUPD_ERROR_WRITE},
	    {FU_PROTO_CORE_COBS, COBS_PROTO_ERROR_NOT_ACK, FWUPD_ERROR_WRITE},
	    {FU_PROTO_CORE_COBS, COBS_PROTO_ERROR_IO, FWUPD_ERROR_WRITE},
	    {FU_PROTO_CORE_COBS, COBS_PROTO_ERROR_MALFORMED, FWUPD_ERROR_INTERNAL},
	    {FU_PROTO_CORE_COBS, COBS_PROTO_ERROR_NO_SPACE, FWUPD_ERROR_INTERNAL},
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error_local = NULL;
		gboolean ret = fu_proto_error_set(&error_local, cases[i].core, cases[i].code, "m");
		fu_proto_error_assert(ret, error_local, cases[i].fwupd_code, "m");
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/proto-error/to-io", fu_proto_error_to_io_func);
	g_test_add_func("/proto-error/set", fu_proto_error_set_func);
	g_test_add_func("/proto-error/set-core", fu_proto_error_set_core_func);
	return g_test_run();
}
