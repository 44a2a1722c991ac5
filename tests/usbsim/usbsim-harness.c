/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "usbsim-harness.h"

#include <errno.h>
#include <gio/gio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const gchar *usbsim_harness_program = "usbsim";
static const gboolean *usbsim_harness_verbose = NULL;

static void
usbsim_harness_log_handler(const gchar *log_domain,
			   GLogLevelFlags log_level,
			   const gchar *message,
			   gpointer user_data)
{
	gboolean verbose = usbsim_harness_verbose != NULL && *usbsim_harness_verbose;
	if (!verbose &&
	    (log_level & (G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_MESSAGE)) != 0)
		return;
	g_printerr("%s: %s%s%s\n",
		   usbsim_harness_program,
		   log_domain != NULL ? log_domain : "",
		   log_domain != NULL ? ": " : "",
		   message);
}

void
usbsim_harness_set_log(const gchar *program, const gboolean *verbose)
{
	usbsim_harness_program = program;
	usbsim_harness_verbose = verbose;
	g_log_set_default_handler(usbsim_harness_log_handler, NULL);
}

/* set by the harnesses after the umockdev testbed exists; an empty value means unset to
 * them and to their clients */
static const gchar *usbsim_harness_late_variables[] = {"TMPDIR", "USBSIM_NRF_TTY", NULL};

/* umockdev only answers the ioctls of processes that run under its preload */
void
usbsim_harness_reexec_under_preload(gchar **argv)
{
	const gchar *preload = g_getenv("LD_PRELOAD");
	g_autofree gchar *value = NULL;

	if (preload != NULL && strstr(preload, "libumockdev-preload") != NULL)
		return;
	if (preload != NULL && preload[0] != '\0')
		value = g_strdup_printf("%s:%s", USBSIM_UMOCKDEV_PRELOAD, preload);
	else
		value = g_strdup(USBSIM_UMOCKDEV_PRELOAD);
	g_setenv("LD_PRELOAD", value, TRUE);

	/* the variables the harness sets once umockdev's threads run must already be in the
	 * environment it starts with: setting one then replaces a value in place, where adding
	 * a new one makes glibc reallocate the array the other threads may be reading in getenv()
	 * (the testbed's own UMOCKDEV_DIR is the only one added, into a copy) */
	for (guint i = 0; usbsim_harness_late_variables[i] != NULL; i++) {
		if (g_getenv(usbsim_harness_late_variables[i]) == NULL)
			g_setenv(usbsim_harness_late_variables[i], "", TRUE);
	}
	execv("/proc/self/exe", argv);
	g_printerr("%s: cannot re-execute under the umockdev preload: %s\n",
		   usbsim_harness_program,
		   g_strerror(errno));
	exit(USBSIM_EXIT_SETUP);
}

/* removes a directory tree from outside the preload, which traps paths under the testbed */
void
usbsim_harness_remove_tree(const gchar *path)
{
	const gchar *argv[] = {"rm", "-rf", path, NULL};
	g_auto(GStrv) envp = g_environ_unsetenv(g_get_environ(), "LD_PRELOAD");
	g_autoptr(GError) error = NULL;
	gint status = 0;

	if (!g_spawn_sync(NULL,
			  (gchar **)argv,
			  envp,
			  G_SPAWN_SEARCH_PATH,
			  NULL,
			  NULL,
			  NULL,
			  NULL,
			  &status,
			  &error) ||
	    !g_spawn_check_wait_status(status, &error))
		g_warning("cannot remove %s: %s", path, error->message);
}

gboolean
usbsim_harness_parse_uint(const gchar *str,
			  guint64 max,
			  guint64 *value,
			  const gchar *what,
			  GError **error)
{
	gboolean hex = g_str_has_prefix(str, "0x") || g_str_has_prefix(str, "0X");
	if (!g_ascii_string_to_unsigned(hex ? str + 2 : str, hex ? 16 : 10, 0, max, value, NULL)) {
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_INVALID_ARGUMENT,
			    "invalid %s '%s'",
			    what,
			    str);
		return FALSE;
	}
	return TRUE;
}

gboolean
usbsim_harness_setup_tmpdir(void)
{
	const gchar *tmpdir = g_getenv("USBSIM_TMPDIR") != NULL ? g_getenv("USBSIM_TMPDIR")
								: USBSIM_DEFAULT_TMPDIR;
	if (g_mkdir_with_parents(tmpdir, 0755) != 0) {
		g_printerr("%s: cannot create %s: %s\n",
			   usbsim_harness_program,
			   tmpdir,
			   g_strerror(errno));
		return FALSE;
	}
	g_setenv("TMPDIR", tmpdir, TRUE);
	return TRUE;
}

gboolean
usbsim_harness_read_flash(const gchar *path, GBytes **bytes, GError **error)
{
	gchar *contents = NULL;
	gsize len = 0;
	if (path == NULL)
		return TRUE;
	if (!g_file_get_contents(path, &contents, &len, error))
		return FALSE;
	*bytes = g_bytes_new_take(contents, len);
	return TRUE;
}

void
usbsim_harness_write_flash(const gchar *path, GBytes *flash)
{
	g_autoptr(GError) error = NULL;
	if (!g_file_set_contents(path,
				 g_bytes_get_data(flash, NULL),
				 g_bytes_get_size(flash),
				 &error))
		g_warning("cannot write the flash dump: %s", error->message);
}

/* the testbed's own removal runs under the preload and aborts on the trapped paths: a process
 * keeps its one testbed until it exits */
static UMockdevTestbed *usbsim_harness_testbed_kept = NULL;

void
usbsim_harness_testbed_release(UMockdevTestbed *testbed)
{
	g_autofree gchar *root_dir = umockdev_testbed_get_root_dir(testbed);

	while (g_main_context_iteration(NULL, FALSE))
		;
	usbsim_harness_testbed_kept = testbed;
	usbsim_harness_remove_tree(root_dir);
}

static void
usbsim_harness_child_watch_cb(GPid pid, gint status, gpointer user_data)
{
	UsbsimHarnessChild *child = user_data;
	child->status = status;
	child->exited = TRUE;
	g_spawn_close_pid(pid);
	g_main_loop_quit(child->loop);
}

static gboolean
usbsim_harness_child_timeout_cb(gpointer user_data)
{
	UsbsimHarnessChild *child = user_data;
	g_warning("client timed out, killing process %d", (gint)child->pid);
	child->timed_out = TRUE;
	kill(child->pid, SIGKILL);
	return G_SOURCE_REMOVE;
}

gboolean
usbsim_harness_child_spawn(UsbsimHarnessChild *child, gchar **argv, guint timeout_s, GError **error)
{
	if (!g_spawn_async(NULL,
			   argv,
			   NULL,
			   G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD |
			       G_SPAWN_CHILD_INHERITS_STDIN,
			   NULL,
			   NULL,
			   &child->pid,
			   error))
		return FALSE;
	g_child_watch_add(child->pid, usbsim_harness_child_watch_cb, child);
	child->timeout_id =
	    g_timeout_add_seconds(timeout_s, usbsim_harness_child_timeout_cb, child);
	return TRUE;
}

gint
usbsim_harness_child_wait(UsbsimHarnessChild *child, gint otherwise)
{
	g_main_loop_run(child->loop);
	if (!child->timed_out)
		g_source_remove(child->timeout_id);
	if (child->timed_out)
		return USBSIM_EXIT_TIMEOUT;
	if (WIFEXITED(child->status))
		return WEXITSTATUS(child->status);
	if (WIFSIGNALED(child->status))
		return 128 + WTERMSIG(child->status);
	return otherwise;
}
