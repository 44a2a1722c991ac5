/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <fwupdplugin.h>

/* the type fwupd's own tree links in as a built-in plugin */
G_DECLARE_FINAL_TYPE(FuDfuCorePlugin, fu_dfu_core_plugin, FU, DFU_CORE_PLUGIN, FuPlugin)

/* the vfuncs of the built-in type and of the loadable module (fu-dfu-core-module.c) alike */
void
fu_dfu_core_plugin_set_vfuncs(FuPluginVfuncs *vfuncs);
