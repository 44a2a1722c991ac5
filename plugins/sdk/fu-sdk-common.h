/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <fwupdplugin.h>

gboolean
fu_sdk_emit_post_request(FuDevice *device,
			 FuProgress *progress,
			 const gchar *request_id,
			 const gchar *message,
			 GError **error);
FuDevice *
fu_sdk_plugin_device_new(FuPlugin *plugin, FuDevice *backend_device, GType gtype);
gboolean
fu_sdk_plugin_device_add(FuPlugin *plugin, FuDevice *device, GError **error);
gboolean
fu_sdk_quirk_key_unsupported(GError **error);
gboolean
fu_sdk_parse_quirk_u32(const gchar *value, guint32 min, guint32 max, guint32 *out, GError **error);
gboolean
fu_sdk_parse_quirk_u16(const gchar *value, guint16 min, guint16 *out, GError **error);

typedef struct FuSdkFollow FuSdkFollow;
/* nothing of the plugin's came back: what the device does about it, before it is marked gone
 * and fwupd's wait for the replug ends */
typedef void (*FuSdkFollowGoneFunc)(FuSdkFollow *follow);

/* a device that resets into its new image after the update, followed on fwupd's main loop
 * while fwupd waits for the replug; the device holds it, and sets what is before the state */
struct FuSdkFollow {
	FuDevice *device;
	const gchar *who;  /* what leaves the bus ("the device"), for the log */
	const gchar *left; /* how it left ("the device left DFU mode"), for the log */
	FuSdkFollowGoneFunc gone_func;
	guint leave_within_ms; /* how long it may take to leave the bus */
	guint back_within_ms;  /* how long, from leaving, what it starts may take to come back */
	guint id;
	gint64 start_us;
	gint64 left_us; /* when it left the bus, 0 while it has not */
	gboolean gone;	/* nothing came back: the update is done, the device is not here */
};

void
fu_sdk_follow_start(FuSdkFollow *follow,
		    guint leave_within_ms,
		    guint back_within_ms,
		    guint margin_ms);
void
fu_sdk_follow_stop(FuSdkFollow *follow);

/* whether an interface is the one a plugin looks for */
typedef gboolean (*FuSdkUsbInterfaceFunc)(FuUsbInterface *intf);
gboolean
fu_sdk_usb_device_find_interface(FuUsbDevice *usb_device,
				 FuSdkUsbInterfaceFunc func,
				 FuUsbInterface **intf,
				 GError **error);
