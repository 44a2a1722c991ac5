/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * libFuzzer target for what the nordic-dfu plugin makes of a Bluetooth LE bootloader: the ATT
 * MTU BlueZ reports and the control point's notifications. FuNordicDfuBleDevice has no parser
 * of its own to call: its read and write (static, on BlueZ's sockets and D-Bus) only wrap
 * each notification in SLIP for the core and unwrap the core's frames into a control point
 * write or a packet. This target calls what is separable, fu_nordic_dfu_ble_att_mtu_bounded()
 * and fu_nordic_dfu_ble_core_mtu() as the device sizes its packets with them, and drives
 * fu_nordic_dfu_setup() and fu_nordic_dfu_run_session() through a transport doing what the
 * device's read and write do: a notification is one datagram, cut to the device's receive
 * buffer and SLIP-encoded with nrf_dfu_proto_slip_encode() into the plugin's read buffer;
 * MTU get is answered locally with the link's MTU; a write request's data is one packet.
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

#include "fu-context-private.h"
#include "fu-fuzz-common.h"
#include "fu-nordic-dfu-ble-common.h"
#include "fu-nordic-dfu-common.h"

typedef struct {
	const guint8 *data;
	gsize size;
	gsize offset;
	gsize chunk_size; /* data bytes a packet carries: the ATT MTU less its header */
	guint16 mtu_max;  /* the core's cap, from the packet size */
	GByteArray *pending_reply;
} FuzzLink;

/* the request inside one SLIP frame of the core's */
static GByteArray *
fuzz_slip_decode(const guint8 *buf, gsize bufsz)
{
	NrfDfuProtoSlipDecoder dec;
	gsize consumed = 0;
	GByteArray *out = g_byte_array_new();

	nrf_dfu_proto_slip_decoder_init(&dec);
	g_assert_true(nrf_dfu_proto_slip_decoder_feed(&dec, buf, bufsz, &consumed) ||
		      bufsz > sizeof(dec.buf));
	if (dec.frame_ready)
		g_byte_array_append(out, dec.buf, dec.len);
	return out;
}

static gboolean
fuzz_write(FuDevice *device, const guint8 *buf, gsize bufsz, guint timeout_ms, GError **error)
{
	FuzzLink *link = g_object_get_data(G_OBJECT(device), "fuzz-link");
	guint8 op;

	g_assert_cmpuint(bufsz, >, 0);
	g_assert_cmpuint(bufsz, <=, link->mtu_max);
	g_assert_cmpuint(buf[bufsz - 1], ==, NRF_DFU_PROTO_SLIP_END);
	g_assert_null(memchr(buf, NRF_DFU_PROTO_SLIP_END, bufsz - 1));
	op = buf[0];
	if (op == NRF_DFU_PROTO_OP_WRITE) {
		/* opcode, then at most twice the data escaped: count the data bytes */
		gsize data_len = 0;
		for (gsize i = 1; i + 1 < bufsz; i++) {
			if (buf[i] == NRF_DFU_PROTO_SLIP_ESC)
				i++;
			data_len++;
		}
		g_assert_cmpuint(data_len, <=, link->chunk_size);
		return TRUE;
	}
	if (op == NRF_DFU_PROTO_OP_MTU_GET) {
		guint8 reply[] = {NRF_DFU_PROTO_OP_RESPONSE,
				  NRF_DFU_PROTO_OP_MTU_GET,
				  NRF_DFU_PROTO_RESULT_SUCCESS,
				  link->mtu_max & 0xFF,
				  link->mtu_max >> 8};
		guint8 frame[2 * sizeof(reply) + 1];
		gsize len = nrf_dfu_proto_slip_encode(reply, sizeof(reply), frame, sizeof(frame));
		g_assert_cmpuint(len, >, 0);
		g_clear_pointer(&link->pending_reply, g_byte_array_unref);
		link->pending_reply = g_byte_array_new();
		g_byte_array_append(link->pending_reply, frame, len);
		return TRUE;
	}
	/* a control point write: a request the core encoded, never empty */
	{
		g_autoptr(GByteArray) req = fuzz_slip_decode(buf, bufsz);
		g_assert_cmpuint(req->len, >, 0);
	}
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
	/* the device's receive buffer: a longer notification is cut by recv() */
	guint8 notification[FU_NORDIC_DFU_BLE_ATT_HEADER + NRF_DFU_PROTO_SLIP_RX_MAX];
	gsize len;

	if (link->pending_reply != NULL) {
		len = MIN(bufsz, link->pending_reply->len);
		memcpy(buf, link->pending_reply->data, len); /* nocheck:blocked */
		*actual = len;
		g_clear_pointer(&link->pending_reply, g_byte_array_unref);
		return TRUE;
	}
	if (link->offset >= link->size) {
		g_set_error_literal(error, FWUPD_ERROR, FWUPD_ERROR_TIMED_OUT, "no notification");
		return FALSE;
	}
	len = link->data[link->offset++];
	len = MIN(len, link->size - link->offset);
	memcpy(notification, link->data + link->offset, MIN(len, sizeof(notification)));
	link->offset += len;
	len = MIN(len, sizeof(notification));
	if (len == 0) {
		/* a zero-length datagram is what a closed socket reads as */
		g_set_error_literal(error, FWUPD_ERROR, FWUPD_ERROR_NOT_FOUND, "link lost");
		return FALSE;
	}
	*actual = nrf_dfu_proto_slip_encode(notification, len, buf, bufsz);
	if (*actual == 0) {
		g_set_error_literal(error, FWUPD_ERROR, FWUPD_ERROR_READ, "notification too long");
		return FALSE;
	}
	return TRUE;
}

int
LLVMFuzzerTestOneInput(const guint8 *data, gsize size);

int
LLVMFuzzerTestOneInput(const guint8 *data, gsize size)
{
	static FuContext *ctx = NULL;
	static guint8 init_packet[140];
	static guint8 image[700];
	FuzzLink link = {0};
	FuNordicDfuTransport transport = {.write = fuzz_write, .read = fuzz_read};
	FuNordicDfuState state = {0};
	guint att_mtu;
	g_autoptr(FuDevice) device = NULL;
	g_autoptr(GError) error = NULL;
	gboolean ok;

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

	/* the device builds its instance IDs in a context, as the daemon's would */
	if (ctx == NULL)
		ctx = fu_context_new();
	device = fu_device_new(ctx);
	fu_nordic_dfu_init_device(device);
	link.data = data + 3;
	link.size = size - 3;
	g_object_set_data(G_OBJECT(device), "fuzz-link", &link);
	transport.device = device;
	state.mtu_max = link.mtu_max;

	ok = fu_nordic_dfu_setup(&transport, &state, &error);
	fu_fuzz_check_result(ok, error, "setup");
	if (ok && (data[2] & 0x01)) {
		g_autofree NrfDfuProtoSession *session = g_new0(NrfDfuProtoSession, 1);
		for (gsize i = 0; i < sizeof(init_packet); i++)
			init_packet[i] = (guint8)(i * 5 + 1);
		for (gsize i = 0; i < sizeof(image); i++)
			image[i] = (guint8)(i * 7 + 3);
		nrf_dfu_proto_session_init(session);
		session->mtu_max = state.mtu_max;
		nrf_dfu_proto_session_start_transfer(session,
						     init_packet,
						     sizeof(init_packet),
						     image,
						     sizeof(image),
						     (data[2] >> 1) & 0x03,
						     TRUE);
		ok = fu_nordic_dfu_run_session(&transport, session, NULL, &error);
		fu_fuzz_check_result(ok, error, "transfer");
	}
	g_clear_pointer(&link.pending_reply, g_byte_array_unref);
	return 0;
}
