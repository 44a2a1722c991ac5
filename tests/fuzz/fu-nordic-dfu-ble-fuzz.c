/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * libFuzzer target for what the nordic-dfu plugin makes of a Bluetooth LE bootloader: the ATT
 * MTU BlueZ reports and the control point's notifications. FuNordicDfuBleDevice's read and
 * write move bytes on BlueZ's sockets and D-Bus around what this target calls itself:
 * fu_nordic_dfu_ble_att_mtu_bounded(), as the device sizes its packets with it and gives the
 * core that packet size, and fu_nordic_dfu_ble_check_request() on each request the core sends;
 * each notification read is one response for the core. fu_nordic_dfu_setup() and
 * fu_nordic_dfu_run_session() drive them. A notification is one datagram, cut to the device's
 * receive buffer as recv() cuts it.
 *
 * Input: two bytes of ATT MTU (big endian, as BlueZ would report any value), a flags byte
 * (bit 0 also run a transfer of a fixed 700-byte image, bits 1-2 the PRN), then the
 * notifications: a length byte and that many bytes each; when they run out none comes.
 *
 * Promises checked: the packet size fits the ATT MTU; every request goes out unframed on its
 * channel, object data of at most one packet on the packet characteristic (the device would
 * refuse more with an internal error), any other request on the control point, never empty
 * and never an MTU get, which BLE does not have; a failure sets an error and a success none;
 * no GLib critical or warning.
 */

#include "fu-nordic-dfu-ble-common.h"
#include "fu-nordic-dfu-fuzz.h"

typedef struct {
	FuNordicDfuFuzzChunks notifications;
	gsize chunk_size; /* data bytes a packet carries: the ATT MTU less its header */
} FuzzLink;

static gboolean
fuzz_write(FuDevice *device,
	   NrfDfuProtoChannel channel,
	   const guint8 *buf,
	   gsize bufsz,
	   guint timeout_ms,
	   GError **error)
{
	FuzzLink *link = g_object_get_data(G_OBJECT(device), "fuzz-link");
	g_autoptr(GError) error_local = NULL;

	/* the device refuses anything else with an internal error */
	g_assert_true(
	    fu_nordic_dfu_ble_check_request(channel, buf, bufsz, link->chunk_size, &error_local));
	g_assert_no_error(error_local);
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
	FuzzLink *link = g_object_get_data(G_OBJECT(device), "fuzz-link");
	const guint8 *notification;
	gsize len;

	/* a datagram is taken whole, whatever the receive buffer holds of it */
	if (!fu_nordic_dfu_fuzz_next_chunk(&link->notifications, G_MAXSIZE, &notification, &len)) {
		g_set_error_literal(error, FWUPD_ERROR, FWUPD_ERROR_TIMED_OUT, "no notification");
		return FALSE;
	}
	/* the device's receive buffer: a longer notification is cut by recv() */
	*actual = MIN(len, MIN(bufsz, FU_NORDIC_DFU_BLE_NOTIFICATION_MAX));
	memcpy(buf, notification, *actual); /* nocheck:blocked */
	if (*actual == 0) {
		/* a zero-length datagram is what a closed socket reads as */
		g_set_error_literal(error, FWUPD_ERROR, FWUPD_ERROR_NOT_FOUND, "link lost");
		return FALSE;
	}
	return TRUE;
}

int
LLVMFuzzerTestOneInput(const guint8 *data, gsize size);

int
LLVMFuzzerTestOneInput(const guint8 *data, gsize size)
{
	FuzzLink link = {0};
	FuNordicDfuTransport transport = {.write = fuzz_write, .read = fuzz_read};
	FuNordicDfuState state = {0};
	guint att_mtu;
	g_autoptr(FuDevice) device = NULL;

	if (size < 3)
		return 0;

	/* how the device sizes its packets from what BlueZ reports */
	att_mtu = fu_nordic_dfu_ble_att_mtu_bounded((guint)data[0] << 8 | data[1]);
	g_assert_cmpuint(att_mtu, >=, FU_NORDIC_DFU_BLE_ATT_MTU_DEFAULT);
	g_assert_cmpuint(att_mtu, <=, FU_NORDIC_DFU_BLE_ATT_MTU_MAX);
	link.chunk_size = att_mtu - FU_NORDIC_DFU_BLE_ATT_HEADER;

	device = fu_nordic_dfu_fuzz_device_new();
	link.notifications.data = data + 3;
	link.notifications.size = size - 3;
	g_object_set_data(G_OBJECT(device), "fuzz-link", &link);
	transport.device = device;
	state.packet_size = link.chunk_size;

	/* a transfer of a 700-byte image after the setup, or none */
	fu_nordic_dfu_fuzz_run(&transport,
			       &state,
			       140,
			       data[2] & 0x01 ? 700 : 0,
			       data[2] >> 1 & 3,
			       TRUE);
	return 0;
}
