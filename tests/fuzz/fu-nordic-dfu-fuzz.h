/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

/*
 * What the nordic-dfu transport fuzz targets (UART and BLE) share: the device they run the
 * plugin's code on, and the transfer after setup.
 */

#include "fu-context-private.h"
#include "fu-fuzz-common.h"
#include "fu-nordic-dfu-common.h"

/* a device of the plugin; it builds its instance IDs in a context, as the daemon's would */
static FuDevice *
fu_nordic_dfu_fuzz_device_new(void)
{
	static FuContext *ctx = NULL;
	FuDevice *device;

	if (ctx == NULL)
		ctx = fu_context_new();
	device = fu_device_new(ctx);
	fu_nordic_dfu_init_device(device);
	return device;
}

/* what follows a target's header bytes: chunks of a length byte and that many bytes, the last
 * one cut short where the input ends */
typedef struct {
	const guint8 *data;
	gsize size;
	gsize offset;
} FuNordicDfuFuzzChunks;

/* the next chunk, at most @max bytes of it (the rest of a longer one stays in the input);
 * FALSE once the input has run out */
static gboolean
fu_nordic_dfu_fuzz_next_chunk(FuNordicDfuFuzzChunks *chunks,
			      gsize max,
			      const guint8 **chunk,
			      gsize *len)
{
	if (chunks->offset >= chunks->size)
		return FALSE;
	*len = chunks->data[chunks->offset++];
	*len = MIN(*len, chunks->size - chunks->offset);
	*len = MIN(*len, max);
	*chunk = chunks->data + chunks->offset;
	chunks->offset += *len;
	return TRUE;
}

/* the plugin's setup on @transport, then, if it succeeded and @image_size is not 0, the
 * transfer of an init packet and an image of fixed bytes with the PRN @prn, the session's
 * packets of state->packet_size (0 for what the device's MTU allows) */
static void
fu_nordic_dfu_fuzz_run(FuNordicDfuTransport *transport,
		       FuNordicDfuState *state,
		       gsize init_packet_size,
		       gsize image_size,
		       guint16 prn,
		       gboolean ping)
{
	g_autofree guint8 *init_packet = NULL;
	g_autofree guint8 *image = NULL;
	g_autofree NrfDfuProtoSession *session = NULL;
	g_autoptr(GError) error = NULL;
	gboolean ok;

	ok = fu_nordic_dfu_setup(transport, state, &error);
	fu_fuzz_check_result(ok, error, "setup");
	if (!ok || image_size == 0)
		return;
	init_packet = g_malloc(init_packet_size);
	for (gsize i = 0; i < init_packet_size; i++)
		init_packet[i] = (guint8)(i * 5 + 1);
	image = g_malloc(image_size);
	for (gsize i = 0; i < image_size; i++)
		image[i] = (guint8)(i * 7 + 3);
	session = g_new0(NrfDfuProtoSession, 1);
	nrf_dfu_proto_session_init(session);
	session->packet_size = state->packet_size;
	nrf_dfu_proto_session_start_transfer(session,
					     init_packet,
					     init_packet_size,
					     image,
					     image_size,
					     prn,
					     ping);
	ok = fu_nordic_dfu_run_session(transport, session, NULL, &error);
	fu_fuzz_check_result(ok, error, "transfer");
}
