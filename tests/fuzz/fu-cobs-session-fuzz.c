/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * libFuzzer target for what the cobs plugin parses: its quirk values (fu_cobs_config_set_quirk)
 * and, through fu_cobs_session_run(), everything a device answers during an update of a fixed
 * 200-byte image. The cobs plugin takes raw images only, so it parses no firmware file.
 *
 * Input: one byte N, then N bytes of quirk lines "Key=Value" (a key the plugin does not know is
 * skipped, a value it refuses leaves the configuration as it was), then the device: reads of
 * one length byte L and L bytes each; when they run out the device stops answering.
 *
 * Promises checked: the run ends (libFuzzer's -timeout catches a hang), never sends more than
 * one message per image chunk plus erase, verify and bye, and succeeds only if the device
 * acknowledged every message.
 */

#include "fu-cobs-common.h"
#include "fu-fuzz-common.h"

#define FUZZ_IMAGE_SIZE 200

typedef struct {
	const guint8 *data;
	gsize size;
	gsize offset;
	guint sends;
} FuzzDevice;

static gboolean
fuzz_send(gpointer user_data, const guint8 *buf, gsize bufsz, guint timeout_ms, GError **error)
{
	FuzzDevice *device = user_data;
	g_assert_cmpuint(bufsz, >, 0);
	g_assert_cmpuint(bufsz, <=, COBS_PROTO_MESSAGE_MAX);
	device->sends++;
	return TRUE;
}

static gboolean
fuzz_receive(gpointer user_data,
	     guint8 *buf,
	     gsize bufsz,
	     gsize *actual_length,
	     guint timeout_ms,
	     GError **error)
{
	FuzzDevice *device = user_data;
	gsize len;

	if (device->offset >= device->size) {
		g_set_error_literal(error, FWUPD_ERROR, FWUPD_ERROR_TIMED_OUT, "no reply");
		return FALSE;
	}
	len = device->data[device->offset];
	device->offset++;
	len = MIN(len, device->size - device->offset);
	/* a read returns at most what the caller's buffer holds, as a bulk transfer does */
	len = MIN(len, bufsz);
	memcpy(buf, device->data + device->offset, len); /* nocheck:blocked */
	device->offset += len;
	*actual_length = len;
	return TRUE;
}

static void
fuzz_quirks(CobsProtoConfig *config, const gchar *text)
{
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		g_auto(GStrv) kv = g_strsplit(lines[i], "=", 2);
		gboolean handled = FALSE;
		g_autoptr(GError) error = NULL;
		if (g_strv_length(kv) != 2)
			continue;
		fu_fuzz_check_result(
		    fu_cobs_config_set_quirk(config, kv[0], kv[1], &handled, &error),
		    error,
		    "quirk");
	}
}

int
LLVMFuzzerTestOneInput(const guint8 *data, gsize size);

int
LLVMFuzzerTestOneInput(const guint8 *data, gsize size)
{
	static const FuCobsTransport transport = {.send = fuzz_send, .receive = fuzz_receive};
	guint8 image[FUZZ_IMAGE_SIZE];
	gsize quirks_len;
	guint messages_max;
	gboolean ok;
	CobsProtoConfig config;
	CobsProtoSession session;
	FuzzDevice device = {0};
	g_autofree gchar *quirks = NULL;
	g_autoptr(GError) error = NULL;

	if (size < 1)
		return 0;
	quirks_len = MIN(data[0], size - 1);
	quirks = g_strndup((const gchar *)data + 1, quirks_len);
	cobs_proto_config_init(&config);
	fuzz_quirks(&config, quirks);

	for (guint i = 0; i < sizeof(image); i++)
		image[i] = (guint8)(i * 7 + 1);
	if (cobs_proto_session_start(&session, &config, image, sizeof(image), 0x20000) !=
	    COBS_PROTO_ERROR_NONE)
		return 0;
	device.data = data + 1 + quirks_len;
	device.size = size - 1 - quirks_len;
	ok = fu_cobs_session_run(&session, &transport, &device, NULL, &error);
	/* erase, the chunks, verify and bye; a failed send is never repeated */
	messages_max = 1 + (FUZZ_IMAGE_SIZE + COBS_PROTO_CHUNK_MAX - 1) / COBS_PROTO_CHUNK_MAX + 2;
	g_assert_cmpuint(device.sends, <=, messages_max);
	fu_fuzz_check_result(ok, error, "session");
	return 0;
}
