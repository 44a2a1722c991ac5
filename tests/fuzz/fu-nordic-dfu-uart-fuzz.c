/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * libFuzzer target for what the nordic-dfu plugin makes of the bytes a Secure DFU bootloader
 * sends on a UART (or USB CDC ACM port): the port hands over whatever has arrived, so a read
 * may hold part of a SLIP frame, several frames, noise or escapes split anywhere. The plugin
 * passes each read to the core (fu_nordic_dfu_run_session(): the serial link's SLIP stream
 * decoder, the response queue, the response decoder) and parses the identity replies itself
 * (fu_nordic_dfu_setup(): ping, HW version, FW versions, then the instance IDs and versions of the
 * device).
 *
 * Input: a flags byte (bit 0 no ping, bit 1 also run a transfer of a fixed 300-byte image,
 * bits 2-3 the PRN), then the reads: a length byte and that many bytes each, as the port
 * returns them; when they run out every read times out.
 *
 * Promises checked: every write is one whole SLIP frame (its only END at its end) no longer
 * than the USB MTU; every call that fails sets an error and one that succeeds sets none; no
 * GLib critical or warning; the run ends (libFuzzer's -timeout catches a hang).
 */

#include "fu-nordic-dfu-fuzz.h"

typedef struct {
	FuNordicDfuFuzzChunks reads;
	guint writes;
} FuzzPort;

/* a write on a serial link is one whole SLIP frame (its only END at its end) of at most
 * @mtu_max bytes */
static void
fuzz_check_frame(const guint8 *buf, gsize bufsz, gsize mtu_max)
{
	g_assert_cmpuint(bufsz, >, 0);
	g_assert_cmpuint(bufsz, <=, mtu_max);
	g_assert_cmpuint(buf[bufsz - 1], ==, NRF_DFU_PROTO_SLIP_END);
	g_assert_null(memchr(buf, NRF_DFU_PROTO_SLIP_END, bufsz - 1));
}

static gboolean
fuzz_write(FuDevice *device,
	   NrfDfuProtoChannel channel,
	   const guint8 *buf,
	   gsize bufsz,
	   guint timeout_ms,
	   GError **error)
{
	FuzzPort *port = g_object_get_data(G_OBJECT(device), "fuzz-port");

	fuzz_check_frame(buf, bufsz, NRF_DFU_PROTO_MTU_MAX);
	g_assert_cmpuint(timeout_ms, >, 0);
	port->writes++;
	return TRUE;
}

static gboolean
fuzz_read(FuDevice *device,
	  guint8 *buf,
	  gsize bufsz,
	  gsize *actual,
	  guint timeout_ms,
	  GError **error)
{
	FuzzPort *port = g_object_get_data(G_OBJECT(device), "fuzz-port");
	const guint8 *bytes;

	g_assert_cmpuint(timeout_ms, >, 0);
	if (!fu_nordic_dfu_fuzz_next_chunk(&port->reads, bufsz, &bytes, actual)) {
		g_set_error_literal(error, FWUPD_ERROR, FWUPD_ERROR_TIMED_OUT, "no reply");
		return FALSE;
	}
	memcpy(buf, bytes, *actual); /* nocheck:blocked */
	return TRUE;
}

int
LLVMFuzzerTestOneInput(const guint8 *data, gsize size);

int
LLVMFuzzerTestOneInput(const guint8 *data, gsize size)
{
	FuzzPort port = {0};
	FuNordicDfuTransport transport = {.slip = TRUE, .write = fuzz_write, .read = fuzz_read};
	FuNordicDfuState state = {0};
	g_autoptr(FuDevice) device = NULL;

	if (size < 1)
		return 0;
	device = fu_nordic_dfu_fuzz_device_new();
	if (data[0] & 0x01)
		fu_device_add_private_flag(device, FU_NORDIC_DFU_FLAG_NO_PING);
	port.reads.data = data + 1;
	port.reads.size = size - 1;
	g_object_set_data(G_OBJECT(device), "fuzz-port", &port);
	transport.device = device;

	/* a transfer of a 300-byte image after the setup, or none */
	fu_nordic_dfu_fuzz_run(&transport,
			       &state,
			       64,
			       data[0] & 0x02 ? 300 : 0,
			       data[0] >> 2 & 3,
			       FALSE);
	return 0;
}
