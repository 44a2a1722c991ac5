/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * libFuzzer target for what the nordic-dfu plugin makes of a Bluetooth LE bootloader: the ATT
 * MTU BlueZ reports and the control point's notifications. FuNordicDfuBleDevice's read and
 * write move bytes on BlueZ's sockets and D-Bus around what this target calls itself:
 * fu_nordic_dfu_ble_att_mtu_bounded() and fu_nordic_dfu_ble_core_mtu(), as the device sizes
 * its packets with them, fu_nordic_dfu_ble_unframe_request() on each frame the core writes
 * (which also answers MTU get with the link's MTU), and fu_nordic_dfu_ble_take_pending_reply()
 * and fu_nordic_dfu_ble_frame_notification() on each read; fu_nordic_dfu_setup() and
 * fu_nordic_dfu_run_session() drive them. A notification is one datagram, cut to the device's
 * receive buffer as recv() cuts it.
 *
 * Input: two bytes of ATT MTU (big endian, as BlueZ would report any value), a flags byte
 * (bit 0 also run a transfer of a fixed 700-byte image, bits 1-2 the PRN), then the
 * notifications: a length byte and that many bytes each; when they run out none comes.
 *
 * Promises checked: the packet size fits the ATT MTU and the core's MTU cap carries it; no
 * write request carries more data than one packet (the device would refuse it with an
 * internal error); every frame sent is one whole SLIP frame within the cap; a failure sets an
 * error and a success none; no GLib critical or warning.
 */

#include "fu-nordic-dfu-ble-common.h"
#include "fu-nordic-dfu-fuzz.h"

typedef struct {
	const guint8 *data;
	gsize size;
	gsize offset;
	gsize chunk_size; /* data bytes a packet carries: the ATT MTU less its header */
	guint16 mtu_max;  /* the core's cap, from the packet size */
	GByteArray *pending_reply;
} FuzzLink;

static gboolean
fuzz_write(FuDevice *device, const guint8 *buf, gsize bufsz, guint timeout_ms, GError **error)
{
	FuzzLink *link = g_object_get_data(G_OBJECT(device), "fuzz-link");
	FuNordicDfuBleChannel channel = FU_NORDIC_DFU_BLE_CHANNEL_NONE;
	g_autoptr(GByteArray) req = NULL;
	g_autoptr(GError) error_local = NULL;

	/* one whole SLIP frame within the cap */
	fu_nordic_dfu_fuzz_check_frame(buf, bufsz, link->mtu_max);

	/* never empty, and a write of at most one packet: the device refuses anything else with
	 * an internal error */
	req = fu_nordic_dfu_ble_unframe_request(buf,
						bufsz,
						link->chunk_size,
						link->mtu_max,
						&link->pending_reply,
						&channel,
						&error_local);
	g_assert_no_error(error_local);
	g_assert_nonnull(req);
	if (channel == FU_NORDIC_DFU_BLE_CHANNEL_NONE)
		g_assert_nonnull(link->pending_reply);
	else if (channel == FU_NORDIC_DFU_BLE_CHANNEL_PACKET)
		g_assert_cmpuint(req->len, <=, link->chunk_size);
	else
		g_assert_cmpuint(req->len, >, 0);
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
	guint8 notification[FU_NORDIC_DFU_BLE_NOTIFICATION_MAX];
	gsize len;

	if (link->pending_reply != NULL)
		return fu_nordic_dfu_ble_take_pending_reply(&link->pending_reply,
							    buf,
							    bufsz,
							    actual,
							    error);
	if (link->offset >= link->size) {
		g_set_error_literal(error, FWUPD_ERROR, FWUPD_ERROR_TIMED_OUT, "no notification");
		return FALSE;
	}
	len = link->data[link->offset++];
	len = MIN(len, link->size - link->offset);
	/* the device's receive buffer: a longer notification is cut by recv() */
	memcpy(notification, link->data + link->offset, MIN(len, sizeof(notification)));
	link->offset += len;
	len = MIN(len, sizeof(notification));
	if (len == 0) {
		/* a zero-length datagram is what a closed socket reads as */
		g_set_error_literal(error, FWUPD_ERROR, FWUPD_ERROR_NOT_FOUND, "link lost");
		return FALSE;
	}
	return fu_nordic_dfu_ble_frame_notification(notification, len, buf, bufsz, actual, error);
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
	link.mtu_max = fu_nordic_dfu_ble_core_mtu(link.chunk_size);
	/* the cap carries every request, and a write of at most one packet */
	g_assert_cmpuint(link.mtu_max, >=, NRF_DFU_PROTO_MTU_MIN);
	g_assert_cmpuint(nrf_dfu_proto_write_size(link.mtu_max), <=, link.chunk_size);
	g_assert_cmpuint(nrf_dfu_proto_write_size(link.mtu_max), >, 0);

	device = fu_nordic_dfu_fuzz_device_new();
	link.data = data + 3;
	link.size = size - 3;
	g_object_set_data(G_OBJECT(device), "fuzz-link", &link);
	transport.device = device;
	state.mtu_max = link.mtu_max;

	/* a transfer of a 700-byte image after the setup, or none */
	fu_nordic_dfu_fuzz_run(&transport,
			       &state,
			       140,
			       data[2] & 0x01 ? 700 : 0,
			       data[2] >> 1 & 3,
			       TRUE);
	g_clear_pointer(&link.pending_reply, g_byte_array_unref);
	return 0;
}
