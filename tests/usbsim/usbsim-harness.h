/*
 * What the harness programs (usbsim-run, usbsim-nrf-run) share: running under umockdev's
 * preload, logging, cleaning up the testbed, and parsing numbers of the command line.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib.h>

/* exit status when the harness itself cannot start */
#define USBSIM_EXIT_SETUP 125

/* logs to stderr as @program, warnings only unless @verbose points at TRUE */
void
usbsim_harness_set_log(const gchar *program, const gboolean *verbose);
/* re-executes the program under umockdev's preload unless it already runs under it */
void
usbsim_harness_reexec_under_preload(gchar **argv);
void
usbsim_harness_remove_tree(const gchar *path);
/* decimal or 0x-prefixed hexadecimal, at most @max */
gboolean
usbsim_harness_parse_uint(const gchar *str,
			  guint64 max,
			  guint64 *value,
			  const gchar *what,
			  GError **error);
