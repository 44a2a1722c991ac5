/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <fwupdplugin.h>

/* the type fwupd's own tree links in as a built-in plugin */
G_DECLARE_FINAL_TYPE(FuCobsPlugin, fu_cobs_plugin, FU, COBS_PLUGIN, FuPlugin)

/* the vfuncs of the built-in type and of the loadable module (fu-cobs-module.c) alike */
void
fu_cobs_plugin_set_vfuncs(FuPluginVfuncs *vfuncs);
