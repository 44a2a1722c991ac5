/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <fwupdplugin.h>

#include <stdlib.h>

/*
 * What every plugin fuzz target checks beyond its own promises: a GLib critical or warning
 * (a g_return_if_fail() that tripped, in our code or in a library we hand data to) aborts,
 * and a call that fails has said why. fwupd dereferences the error of a failed parse, so a
 * FALSE without one crashes the daemon; libFuzzer reports both as crashes.
 */

/* abort() rather than GLib's own G_BREAKPOINT(): libFuzzer reports a SIGABRT as a crash and
 * keeps the input, a SIGTRAP it does not handle */
static GLogWriterOutput
fu_fuzz_log_writer(GLogLevelFlags log_level,
		   const GLogField *fields,
		   gsize n_fields,
		   gpointer user_data)
{
	GLogWriterOutput rc = g_log_writer_default(log_level, fields, n_fields, user_data);
	if (log_level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
		abort();
	return rc;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* g_log() without a handler of its own goes to the writer too */
	g_log_set_writer_func(fu_fuzz_log_writer, NULL, NULL);
	g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
	return 0;
}

/* a failure must carry an error, a success none */
static inline void
fu_fuzz_check_result(gboolean ok, const GError *error, const gchar *what)
{
	if (!ok && error == NULL) {
		g_printerr("%s failed but set no error\n", what);
		abort();
	}
	if (ok && error != NULL) {
		g_printerr("%s succeeded but set an error: %s\n", what, error->message);
		abort();
	}
}
