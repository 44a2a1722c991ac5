/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "fu-sdk-common.h"

/*
 * What the three plugins do alike with fwupd's plugin and device objects.
 */

/* a message for the user after the update; generic, so that a client that shows only generic
 * messages (fwupdmgr without a terminal) shows it too */
/* nocheck:name -- for a device of any of the plugins, which share no parent class */
gboolean
fu_sdk_emit_post_request(FuDevice *device,
			 FuProgress *progress,
			 const gchar *request_id,
			 const gchar *message,
			 GError **error)
{
	g_autoptr(FwupdRequest) request = fwupd_request_new();

	fwupd_request_set_kind(request, FWUPD_REQUEST_KIND_POST);
	fwupd_request_set_id(request, request_id);
	fwupd_request_add_flag(request, FWUPD_REQUEST_FLAG_ALLOW_GENERIC_MESSAGE);
	fwupd_request_set_message(request, message);
	return fu_device_emit_request(device, request, progress, error);
}

/* the plugin's own type for a device a backend found, which takes over what that found; not
 * opened yet, for what the plugin sets first */
FuDevice *
fu_sdk_plugin_device_new(FuPlugin *plugin, FuDevice *backend_device, GType gtype)
{
	FuDevice *device = g_object_new(gtype, "context", fu_plugin_get_context(plugin), NULL);
	fu_device_incorporate(device, backend_device, FU_DEVICE_INCORPORATE_FLAG_ALL);
	return device;
}

/* probed, opened and set up before fwupd is told of it, and closed again */
gboolean
fu_sdk_plugin_device_add(FuPlugin *plugin, FuDevice *device, GError **error)
{
	g_autoptr(FuDeviceLocker) locker = fu_device_locker_new(device, error);
	if (locker == NULL)
		return FALSE;
	fu_plugin_device_add(plugin, device);
	return TRUE;
}

/* a quirk's number, within min and max */
gboolean
fu_sdk_parse_quirk_u32(const gchar *value, guint64 min, guint64 max, guint32 *out, GError **error)
{
	guint64 tmp = 0;
	if (!fu_strtoull(value, &tmp, min, max, FU_INTEGER_BASE_AUTO, error))
		return FALSE;
	*out = (guint32)tmp;
	return TRUE;
}

/* a quirk's number for a 16-bit field, from min up */
gboolean
fu_sdk_parse_quirk_u16(const gchar *value, guint64 min, guint16 *out, GError **error)
{
	guint32 tmp = 0;
	if (!fu_sdk_parse_quirk_u32(value, min, G_MAXUINT16, &tmp, error))
		return FALSE;
	*out = (guint16)tmp;
	return TRUE;
}
