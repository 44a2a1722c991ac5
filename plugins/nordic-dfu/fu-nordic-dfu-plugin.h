/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <fwupdplugin.h>

/* the type fwupd's own tree links in as a built-in plugin */
G_DECLARE_FINAL_TYPE(FuNordicDfuPlugin, fu_nordic_dfu_plugin, FU, NORDIC_DFU_PLUGIN, FuPlugin)

/* the vfuncs of the built-in type and of the loadable module (fu-nordic-dfu-module.c) alike */
void
fu_nordic_dfu_plugin_set_vfuncs(FuPluginVfuncs *vfuncs);
