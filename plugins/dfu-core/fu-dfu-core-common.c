/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "fu-dfu-core-common.h"
#include "fu-sdk-common.h"

/* What the application and the base of runtime and DFU mode share: what they are to fwupd,
 * their name, the message after an update, and the callbacks that receive an upload. */

gboolean
fu_dfu_core_upload_append_cb(const guint8 *buf,
			     gsize bufsz,
			     gsize offset,
			     gpointer user_data,
			     GError **error)
{
	GByteArray *array = (GByteArray *)user_data;
	g_byte_array_append(array, buf, bufsz);
	return TRUE;
}

gboolean
fu_dfu_core_verify_cb(const guint8 *buf,
		      gsize bufsz,
		      gsize offset,
		      gpointer user_data,
		      GError **error)
{
	FuDfuCoreVerify *helper = (FuDfuCoreVerify *)user_data;
	gsize streamsz = 0;
	g_autofree guint8 *expected = NULL;

	if (!fu_input_stream_size(helper->expected, &streamsz, error))
		return FALSE;
	if (offset + bufsz > streamsz) {
		g_set_error(error,
			    FWUPD_ERROR,
			    FWUPD_ERROR_WRITE,
			    "device sent %" G_GSIZE_FORMAT " bytes beyond the %" G_GSIZE_FORMAT
			    " written",
			    offset + bufsz - streamsz,
			    streamsz);
		return FALSE;
	}
	expected = g_malloc(bufsz);
	if (!fu_input_stream_read_safe(helper->expected,
				       expected,
				       bufsz,
				       0x0,
				       offset,
				       bufsz,
				       error))
		return FALSE;
	for (gsize i = 0; i < bufsz; i++) {
		if (buf[i] != expected[i]) {
			g_set_error(
			    error,
			    FWUPD_ERROR,
			    FWUPD_ERROR_WRITE,
			    "verification failed at 0x%08x: wrote 0x%02x, read back 0x%02x; "
			    "try the update again",
			    (guint)(helper->address + offset + i),
			    expected[i],
			    buf[i]);
			return FALSE;
		}
	}
	helper->received = offset + bufsz;
	return TRUE;
}

/* the runtime, DFU mode and the application are one device to fwupd, which follows it from one
 * to the other by the counterpart GUIDs the quirk links */
/* nocheck:name -- shared by the application and the base of runtime and DFU mode, whose only
 * common parent is FuUsbDevice */
void
fu_dfu_core_device_init_common(FuDevice *device)
{
	fu_device_add_private_flag(device, FU_DEVICE_PRIVATE_FLAG_ADD_COUNTERPART_GUIDS);
	fu_device_add_private_flag(device, FU_DEVICE_PRIVATE_FLAG_REPLUG_MATCH_GUID);
	fu_device_add_private_flag(device, FU_DEVICE_PRIVATE_FLAG_ADD_INSTANCE_ID_REV);
	fu_device_set_remove_delay(device, FU_DEVICE_REMOVE_DELAY_RE_ENUMERATE);
	/* its only request is the message after an update whose version was not read back:
	 * generic, so that a client that shows only generic messages is still offered updates */
	fu_device_add_request_flag(device, FWUPD_REQUEST_FLAG_ALLOW_GENERIC_MESSAGE);
	/* above fwupd's own dfu plugin, which also matches every DFU interface */
	fu_device_set_priority(device, 1);
}

/* nocheck:name -- shared by the application and the base of runtime and DFU mode, whose only
 * common parent is FuUsbDevice */
void
fu_dfu_core_ensure_name(FuDevice *device, const gchar *fallback)
{
	if (fu_device_get_name(device) != NULL)
		return;
	g_info("no quirk nor USB product string names the device: calling it %s", fallback);
	fu_device_set_name(device, fallback);
}

/* nocheck:name -- shared by the application and the base of runtime and DFU mode, whose only
 * common parent is FuUsbDevice */
void
fu_dfu_core_emit_not_read_back(FuDevice *device, FuProgress *progress, const gchar *why)
{
	g_autofree gchar *msg = NULL;
	g_autoptr(GError) error_local = NULL;

	msg = g_strdup_printf("The update of %s is done: %s, so the version it now runs was not "
			      "read back. Check the version the firmware reports itself.",
			      fu_device_get_name(device),
			      why);
	g_warning("%s", msg);
	fu_device_add_flag(device, FWUPD_DEVICE_FLAG_INSTALL_SKIP_VERSION_CHECK);
	if (!fu_sdk_emit_post_request(device,
				      progress,
				      FU_DFU_CORE_REQUEST_ID_NOT_READ_BACK,
				      msg,
				      &error_local))
		g_info("not shown to the user: %s", error_local->message);
}
