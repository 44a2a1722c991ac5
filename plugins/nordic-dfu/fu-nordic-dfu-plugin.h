/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <fwupdplugin.h>

/* the module's only export; everything else is hidden */
G_MODULE_EXPORT void
fu_plugin_init_vfuncs(FuPluginVfuncs *vfuncs);
