/*
 * What the harness programs (usbsim-run, usbsim-nrf-run) share: running under umockdev's
 * preload, logging, the temporary directory, the --flash-in and --flash-out files, cleaning up
 * the testbed, and parsing numbers of the command line.
 *
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <umockdev.h>

/* exit status when the harness itself cannot start */
#define USBSIM_EXIT_SETUP 125
/* exit status when the client was killed for taking too long */
#define USBSIM_EXIT_TIMEOUT 124

/* the GOptionEntry rows of --list-profiles and --json, which both harnesses take */
#define USBSIM_HARNESS_LIST_PROFILES_ENTRIES(list_profiles, json)                                  \
	{"list-profiles", 0, 0, G_OPTION_ARG_NONE, (list_profiles), "List the profiles", NULL},    \
	{                                                                                          \
		"json", 0, 0, G_OPTION_ARG_NONE, (json),                                           \
		    "--list-profiles: as JSON, the facts the test tools read", NULL                \
	}

/* the client under test, run from @loop */
typedef struct {
	GMainLoop *loop;
	GPid pid;
	gint status;
	gboolean exited;
	gboolean timed_out;
	guint timeout_id;
} UsbsimHarnessChild;

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
/* points TMPDIR at $USBSIM_TMPDIR, else the build tree's directory, and creates it: the testbed
 * and the client's temporary files stay in the build tree */
gboolean
usbsim_harness_setup_tmpdir(void);
/* the initial memory of --flash-in FILE; none (and TRUE) without a @path */
gboolean
usbsim_harness_read_flash(const gchar *path, GBytes **bytes, GError **error);
/* the memory dump of --flash-out FILE; a failure is warned about */
void
usbsim_harness_write_flash(const gchar *path, GBytes *flash);
/* lets pending main loop work drop its references to the testbed, then keeps it until the
 * process exits and removes its directory from outside the preload */
void
usbsim_harness_testbed_release(UMockdevTestbed *testbed);
/* spawns @argv, quits @child->loop when it exits and kills it after @timeout_s seconds */
gboolean
usbsim_harness_child_spawn(UsbsimHarnessChild *child,
			   gchar **argv,
			   guint timeout_s,
			   GError **error);
/* runs the loop until the client exits or times out and returns the exit status to pass on,
 * @otherwise if it neither exited nor was killed by a signal */
gint
usbsim_harness_child_wait(UsbsimHarnessChild *child, gint otherwise);
