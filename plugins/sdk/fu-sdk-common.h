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
fu_sdk_parse_quirk_u32(const gchar *value, guint64 min, guint64 max, guint32 *out, GError **error);
gboolean
fu_sdk_parse_quirk_u16(const gchar *value, guint64 min, guint16 *out, GError **error);
