/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "fu-cobs-common.h"
#include "fu-cobs-device.h"
#include "fu-cobs-plugin.h"

struct _FuCobsPlugin {
	FuPlugin parent_instance;
};

G_DEFINE_TYPE(FuCobsPlugin, fu_cobs_plugin, FU_TYPE_PLUGIN)

static void
fu_cobs_plugin_constructed(GObject *obj)
{
	FuPlugin *plugin = FU_PLUGIN(obj);
	FuContext *ctx = fu_plugin_get_context(plugin);

	fu_plugin_add_flag(plugin, FWUPD_PLUGIN_FLAG_MUTABLE_ENUMERATION);
	fu_plugin_add_udev_subsystem(plugin, "usb");
	fu_plugin_add_device_gtype(plugin, FU_TYPE_COBS_DEVICE);
	fu_context_add_quirk_key(ctx, FU_COBS_QUIRK_INTERFACE);
	fu_context_add_quirk_key(ctx, FU_COBS_QUIRK_ENDPOINT_OUT);
	fu_context_add_quirk_key(ctx, FU_COBS_QUIRK_ENDPOINT_IN);
	fu_context_add_quirk_key(ctx, FU_COBS_QUIRK_SECTOR_SIZE);
	fu_context_add_quirk_key(ctx, FU_COBS_QUIRK_SECTOR_ERASE_TIME);
	fu_context_add_quirk_key(ctx, FU_COBS_QUIRK_WORD_SIZE);
	fu_context_add_quirk_key(ctx, FU_COBS_QUIRK_WORD_PROGRAM_TIME);
	fu_context_add_quirk_key(ctx, FU_COBS_QUIRK_REPLY_TIMEOUT);
	fu_context_add_quirk_key(ctx, FU_COBS_QUIRK_QUEUE_DEPTH);
	fu_context_add_quirk_key(ctx, FU_COBS_QUIRK_RESET_TIMEOUT);
	fu_context_add_quirk_key(ctx, FU_COBS_QUIRK_RETURN_TIMEOUT);
}

void
fu_cobs_plugin_set_vfuncs(FuPluginVfuncs *vfuncs)
{
	vfuncs->constructed = fu_cobs_plugin_constructed;
}

static void
fu_cobs_plugin_init(FuCobsPlugin *self)
{
}

static void
fu_cobs_plugin_class_init(FuCobsPluginClass *klass)
{
	fu_cobs_plugin_set_vfuncs(FU_PLUGIN_CLASS(klass));
}
