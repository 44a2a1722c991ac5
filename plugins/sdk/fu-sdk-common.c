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

/* what a device's set_quirk_kv says of a key it does not take */
gboolean
fu_sdk_quirk_key_unsupported(GError **error)
{
	g_set_error_literal(error,
			    FWUPD_ERROR,
			    FWUPD_ERROR_NOT_SUPPORTED,
			    "quirk key not supported");
	return FALSE;
}

/* a quirk's number, within min and max */
gboolean
fu_sdk_parse_quirk_u32(const gchar *value, guint32 min, guint32 max, guint32 *out, GError **error)
{
	guint64 tmp = 0;
	if (!fu_strtoull(value, &tmp, min, max, FU_INTEGER_BASE_AUTO, error))
		return FALSE;
	*out = (guint32)tmp;
	return TRUE;
}

/* a quirk's number for a 16-bit field, from min up */
gboolean
fu_sdk_parse_quirk_u16(const gchar *value, guint16 min, guint16 *out, GError **error)
{
	guint32 tmp = 0;
	if (!fu_sdk_parse_quirk_u32(value, min, G_MAXUINT16, &tmp, error))
		return FALSE;
	*out = (guint16)tmp;
	return TRUE;
}

/* between two looks at what fwupd's device list says of the device: well below the times it
 * is followed for, and long enough not to spin a core */
#define FU_SDK_FOLLOW_POLL_MS 100

static gboolean
fu_sdk_follow_cb(gpointer user_data)
{
	FuSdkFollow *follow = user_data;
	FuDevice *device = follow->device;
	gint64 now_us = g_get_monotonic_time();

	/* fwupd has what it waited for: a device of the plugin replaced this one */
	if (!fu_device_has_flag(device, FWUPD_DEVICE_FLAG_WAIT_FOR_REPLUG)) {
		follow->id = 0;
		return G_SOURCE_REMOVE;
	}

	/* fwupd's device list marks the device it holds unconnected when it leaves the bus */
	if (follow->left_us == 0) {
		if (fu_device_has_private_flag(device, FU_DEVICE_PRIVATE_FLAG_UNCONNECTED)) {
			follow->left_us = now_us;
			g_info("%s; waiting %u ms for what it starts",
			       follow->left,
			       follow->back_within_ms);
			return G_SOURCE_CONTINUE;
		}
		if (now_us - follow->start_us < (gint64)follow->leave_within_ms * 1000)
			return G_SOURCE_CONTINUE;
		/* still here: fwupd reads it where it is */
		g_info("%s did not leave the bus within %u ms",
		       follow->who,
		       follow->leave_within_ms);
		fu_device_remove_flag(device, FWUPD_DEVICE_FLAG_WAIT_FOR_REPLUG);
		follow->id = 0;
		return G_SOURCE_REMOVE;
	}
	if (now_us - follow->left_us < (gint64)follow->back_within_ms * 1000)
		return G_SOURCE_CONTINUE;

	/* nothing of the plugin's came back, and the update is done all the same */
	follow->gone_func(follow);
	follow->gone = TRUE;
	fu_device_remove_flag(device, FWUPD_DEVICE_FLAG_WAIT_FOR_REPLUG);
	follow->id = 0;
	return G_SOURCE_REMOVE;
}

/* the source keeps the device, which holds the follow, while it runs */
static void
fu_sdk_follow_unref_device(gpointer user_data)
{
	FuSdkFollow *follow = user_data;
	g_object_unref(follow->device);
}

/* from now: fwupd waits for the replug, and the follow ends the wait when nothing will come;
 * fwupd's wait (the remove delay) is both bounds and @margin_ms more, so that the follow,
 * which knows what it saw, always ends it first */
void
fu_sdk_follow_start(FuSdkFollow *follow,
		    guint leave_within_ms,
		    guint back_within_ms,
		    guint margin_ms)
{
	fu_sdk_follow_stop(follow);
	fu_device_set_remove_delay(follow->device, leave_within_ms + back_within_ms + margin_ms);
	follow->leave_within_ms = leave_within_ms;
	follow->back_within_ms = back_within_ms;
	follow->start_us = g_get_monotonic_time();
	follow->left_us = 0;
	follow->gone = FALSE;
	fu_device_add_flag(follow->device, FWUPD_DEVICE_FLAG_WAIT_FOR_REPLUG);
	g_object_ref(follow->device);
	follow->id = g_timeout_add_full(G_PRIORITY_DEFAULT,
					FU_SDK_FOLLOW_POLL_MS,
					fu_sdk_follow_cb,
					follow,
					fu_sdk_follow_unref_device);
}

void
fu_sdk_follow_stop(FuSdkFollow *follow)
{
	if (follow->id == 0)
		return;
	g_source_remove(follow->id);
	follow->id = 0;
}

/* the first of the device's interfaces that @func accepts, in the order of its descriptors;
 * @intf is left NULL, with no error, when none does */
gboolean
fu_sdk_usb_device_find_interface(FuUsbDevice *usb_device,
				 FuSdkUsbInterfaceFunc func,
				 FuUsbInterface **intf,
				 GError **error)
{
	g_autoptr(GPtrArray) intfs = fu_usb_device_get_interfaces(usb_device, error);

	if (intfs == NULL)
		return FALSE;
	for (guint i = 0; i < intfs->len; i++) {
		FuUsbInterface *intf_tmp = g_ptr_array_index(intfs, i);
		if (func(intf_tmp)) {
			*intf = g_object_ref(intf_tmp);
			return TRUE;
		}
	}
	return TRUE;
}
