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
