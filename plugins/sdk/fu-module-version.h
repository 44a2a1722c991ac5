/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <fwupd.h>

/*
 * libfwupdplugin has no stable ABI and no symbol versions: a module built for one fwupd would
 * corrupt memory in another instead of failing to load. The module's entry point therefore
 * sets nothing, and the plugin stays inert, when the fwupd that loads it is not the one it was
 * built for. Only libfwupd's version string is read: its ABI is stable. FU_MODULE_BUILT_FOR
 * may name another version, for the test of a module built for another fwupd.
 */
#ifndef FU_MODULE_BUILT_FOR
#define FU_MODULE_BUILT_FOR                                                                        \
	G_STRINGIFY(FWUPD_MAJOR_VERSION)                                                           \
	"." G_STRINGIFY(FWUPD_MINOR_VERSION) "." G_STRINGIFY(FWUPD_MICRO_VERSION)
#endif

static inline gboolean
fu_module_version_matches(const gchar *plugin_name)
{
	const gchar *built = FU_MODULE_BUILT_FOR;
	const gchar *running = fwupd_version_string();

	if (g_strcmp0(running, built) == 0)
		return TRUE;
	g_warning("the %s plugin was built for fwupd %s, not for this fwupd %s, and does nothing: "
		  "install the fwupd-plugins-dfu package built for fwupd %s",
		  plugin_name,
		  built,
		  running,
		  running);
	return FALSE;
}
