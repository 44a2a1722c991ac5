/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "fu-module-version.h"
#include "fu-nordic-dfu-plugin.h"

/*
 * The entry point of the module fwupd loads from its plugin directory, and the module's only
 * export. fwupd's own tree builds the plugin in instead (its GType), without this file. It sets
 * nothing in a fwupd other than the one it was built for.
 */
G_MODULE_EXPORT void
fu_plugin_init_vfuncs(FuPluginVfuncs *vfuncs);

void
fu_plugin_init_vfuncs(FuPluginVfuncs *vfuncs)
{
	if (!fu_module_version_matches("nordic_dfu"))
		return;
	fu_nordic_dfu_plugin_set_vfuncs(vfuncs);
}
