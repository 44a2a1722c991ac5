/*
 * usbsim-run: runs a client program against a simulated USB DFU device.
 *
 * The harness owns a umockdev testbed and the device model. It runs under umockdev's
 * preload itself (it re-executes itself with LD_PRELOAD set, or no uevents reach the
 * client), spawns the client with the same environment, and returns its exit status.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <errno.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "usbsim-device.h"
#include "usbsim-dfu.h"

#define USBSIM_EXIT_TIMEOUT 124
#define USBSIM_EXIT_SETUP   125

typedef struct {
	GMainLoop *loop;
	GPid child_pid;
	gint child_status;
	gboolean child_exited;
	gboolean timed_out;
} UsbsimRun;

static gboolean usbsim_verbose = FALSE;
static UMockdevTestbed *usbsim_testbed_kept = NULL;

static void
usbsim_log_handler(const gchar *log_domain,
		   GLogLevelFlags log_level,
		   const gchar *message,
		   gpointer user_data)
{
	if (!usbsim_verbose &&
	    (log_level & (G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_MESSAGE)) != 0)
		return;
	g_printerr("usbsim-run: %s%s%s\n",
		   log_domain != NULL ? log_domain : "",
		   log_domain != NULL ? ": " : "",
		   message);
}

/* umockdev only answers the ioctls of processes that run under its preload */
static void
usbsim_reexec_under_preload(gchar **argv)
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
	execv("/proc/self/exe", argv);
	g_printerr("usbsim-run: cannot re-execute under the umockdev preload: %s\n",
		   g_strerror(errno));
	exit(USBSIM_EXIT_SETUP);
}

static gboolean
usbsim_parse_u32(const gchar *str, guint64 max, guint64 *value, const gchar *what, GError **error)
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

static gboolean
usbsim_parse_bool(const gchar *str, gboolean *value, const gchar *what, GError **error)
{
	if (g_strcmp0(str, "yes") == 0) {
		*value = TRUE;
		return TRUE;
	}
	if (g_strcmp0(str, "no") == 0) {
		*value = FALSE;
		return TRUE;
	}
	g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "%s must be yes or no", what);
	return FALSE;
}

static void
usbsim_child_watch_cb(GPid pid, gint status, gpointer user_data)
{
	UsbsimRun *run = user_data;
	run->child_status = status;
	run->child_exited = TRUE;
	g_spawn_close_pid(pid);
	g_main_loop_quit(run->loop);
}

static gboolean
usbsim_timeout_cb(gpointer user_data)
{
	UsbsimRun *run = user_data;
	g_warning("client timed out, killing process %d", (gint)run->child_pid);
	run->timed_out = TRUE;
	kill(run->child_pid, SIGKILL);
	return G_SOURCE_REMOVE;
}

/* removes a directory tree from outside the preload, which traps paths under the testbed */
static void
usbsim_remove_tree(const gchar *path)
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

static gchar *
usbsim_summary_json(UsbsimDevice *device, UsbsimDfu *dfu)
{
	const UsbsimDfuStats *stats = usbsim_dfu_get_stats(dfu);
	UsbsimDeviceStats dev_stats = usbsim_device_get_stats(device);
	GHashTable *counts = usbsim_device_get_request_counts(device);
	g_autoptr(GList) names =
	    g_list_sort(g_hash_table_get_keys(counts), (GCompareFunc)g_strcmp0);
	GString *str = g_string_new("{\"summary\":true,\"requests\":{");

	for (GList *l = names; l != NULL; l = l->next) {
		g_string_append_printf(str,
				       "%s\"%s\":%u",
				       l == names ? "" : ",",
				       (const gchar *)l->data,
				       GPOINTER_TO_UINT(g_hash_table_lookup(counts, l->data)));
	}
	g_string_append_printf(str,
			       "},\"erases\":%u,\"bytes_programmed\":%" G_GUINT64_FORMAT
			       ",\"bytes_uploaded\":%" G_GUINT64_FORMAT ",\"early_polls\":%u"
			       ",\"blocks_out_of_sequence\":%u,\"manifestations\":%u"
			       ",\"device_busy_ms\":%.3f,\"bus_ms\":%.3f,\"host_idle_ms\":%.3f"
			       ",\"reenumerations\":%u,\"usb_resets\":%u,\"faults_fired\":%u"
			       ",\"unplugged\":%s,\"final_mode\":\"%s\",\"final_state\":%d"
			       ",\"final_status\":%d,\"runtime_version\":%u,\"elapsed_ms\":%.3f}",
			       stats->pages_erased,
			       stats->bytes_programmed,
			       stats->bytes_uploaded,
			       stats->early_polls,
			       stats->blocks_out_of_sequence,
			       stats->manifestations,
			       stats->busy_us / 1000.0,
			       dev_stats.bus_us / 1000.0,
			       dev_stats.host_idle_us / 1000.0,
			       stats->reenumerations,
			       dev_stats.usb_resets,
			       stats->faults_fired,
			       dev_stats.gone ? "true" : "false",
			       usbsim_dfu_get_mode(dfu) == USBSIM_DFU_MODE_RUNTIME ? "runtime"
										   : "dfu",
			       usbsim_dfu_get_state(dfu),
			       usbsim_dfu_get_status(dfu),
			       usbsim_dfu_get_runtime_version(dfu),
			       usbsim_device_elapsed_ms(device));
	return g_string_free(str, FALSE);
}

static void
usbsim_list_profiles(void)
{
	const UsbsimDfuProfile *const *profiles = usbsim_dfu_profiles();
	for (guint i = 0; profiles[i] != NULL; i++) {
		const UsbsimDfuProfile *p = profiles[i];
		g_print("%s\t%04x:%04x runtime, %04x:%04x DFU, %u KiB flash, %u B pages, "
			"wTransferSize %u: %s\n",
			p->name,
			p->vid,
			p->runtime_pid,
			p->vid,
			p->dfu_pid,
			p->flash_size / 1024,
			p->page_size,
			p->transfer_size,
			p->description);
	}
}

static gint
usbsim_run(UsbsimDfuConfig *config,
	   gchar **client_argv,
	   const gchar *flash_out,
	   const gchar *trace,
	   guint timeout_s)
{
	g_autoptr(UMockdevTestbed) testbed = NULL;
	g_autoptr(UsbsimDfu) dfu = NULL;
	g_autoptr(UsbsimDevice) device = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
	g_autofree gchar *root_dir = NULL;
	g_autofree gchar *summary = NULL;
	UsbsimRun run = {.loop = loop};
	guint timeout_id;
	gint exit_status;

	testbed = umockdev_testbed_new();
	root_dir = umockdev_testbed_get_root_dir(testbed);
	g_debug("testbed in %s", root_dir);
	dfu = usbsim_dfu_new(config);
	device = usbsim_device_new(testbed, usbsim_dfu_ops(), dfu, config->time_scale);
	if (trace != NULL && !usbsim_device_set_trace(device, trace, &error)) {
		g_printerr("usbsim-run: %s\n", error->message);
		return USBSIM_EXIT_SETUP;
	}
	if (!usbsim_device_plug(device, &error)) {
		g_printerr("usbsim-run: cannot add the device: %s\n", error->message);
		return USBSIM_EXIT_SETUP;
	}

	if (!g_spawn_async(NULL,
			   client_argv,
			   NULL,
			   G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD |
			       G_SPAWN_CHILD_INHERITS_STDIN,
			   NULL,
			   NULL,
			   &run.child_pid,
			   &error)) {
		g_printerr("usbsim-run: cannot run %s: %s\n", client_argv[0], error->message);
		usbsim_device_remove(device);
		return USBSIM_EXIT_SETUP;
	}
	g_child_watch_add(run.child_pid, usbsim_child_watch_cb, &run);
	timeout_id = g_timeout_add_seconds(timeout_s, usbsim_timeout_cb, &run);
	g_main_loop_run(loop);
	if (!run.timed_out)
		g_source_remove(timeout_id);

	/* the flash dump and the summary, then the testbed goes */
	usbsim_device_lock(device);
	summary = usbsim_summary_json(device, dfu);
	usbsim_device_trace_line(device, summary);
	if (flash_out != NULL) {
		g_autoptr(GBytes) flash = usbsim_dfu_get_flash(dfu);
		if (!g_file_set_contents(flash_out,
					 g_bytes_get_data(flash, NULL),
					 g_bytes_get_size(flash),
					 &error))
			g_warning("cannot write flash dump: %s", error->message);
	}
	usbsim_device_unlock(device);
	g_debug("%s", summary);
	usbsim_device_remove(device);

	/* let pending main loop work drop its references before the testbed goes */
	while (g_main_context_iteration(NULL, FALSE))
		;

	/* the testbed's own removal runs under the preload and aborts on the trapped paths:
	 * it is kept until the process exits and its directory removed from outside */
	usbsim_testbed_kept = g_steal_pointer(&testbed);
	usbsim_remove_tree(root_dir);

	if (run.timed_out)
		exit_status = USBSIM_EXIT_TIMEOUT;
	else if (WIFEXITED(run.child_status))
		exit_status = WEXITSTATUS(run.child_status);
	else if (WIFSIGNALED(run.child_status))
		exit_status = 128 + WTERMSIG(run.child_status);
	else
		exit_status = 1;
	return exit_status;
}

int
main(int argc, char **argv)
{
	g_autofree gchar *profile_name = g_strdup("stm32f1-dfu");
	g_autofree gchar *mode = NULL;
	g_autofree gchar *vid = NULL;
	g_autofree gchar *runtime_pid = NULL;
	g_autofree gchar *dfu_pid = NULL;
	g_autofree gchar *bcd_device = NULL;
	g_autofree gchar *serial = NULL;
	g_autofree gchar *flash_size = NULL;
	g_autofree gchar *flash_in = NULL;
	g_autofree gchar *flash_out = NULL;
	g_autofree gchar *transfer_size = NULL;
	g_autofree gchar *manifest_tolerant = NULL;
	g_autofree gchar *will_detach = NULL;
	g_autofree gchar *can_upload = NULL;
	g_autofree gchar *can_download = NULL;
	g_autofree gchar *alts = NULL;
	g_autofree gchar *version_offset = NULL;
	g_autofree gchar *early_poll = NULL;
	g_autofree gchar *seed = NULL;
	g_autofree gchar *trace = NULL;
	g_auto(GStrv) faults = NULL;
	g_auto(GStrv) client_argv = NULL;
	gboolean func_desc_every_alt = FALSE;
	gboolean list_profiles = FALSE;
	gdouble time_scale = 1.0;
	gint timeout_s = 120;
	const UsbsimDfuProfile *profile;
	UsbsimDfuConfig config;
	guint64 value = 0;
	gint rc;
	g_autoptr(GError) error = NULL;
	g_autoptr(GOptionContext) context = NULL;
	g_autofree gchar *tmpdir = NULL;
	const GOptionEntry entries[] = {
	    {"profile", 0, 0, G_OPTION_ARG_STRING, &profile_name, "Timing profile", "NAME"},
	    {"list-profiles", 0, 0, G_OPTION_ARG_NONE, &list_profiles, "List the profiles", NULL},
	    {"mode", 0, 0, G_OPTION_ARG_STRING, &mode, "Initial mode: runtime or dfu", "MODE"},
	    {"vid", 0, 0, G_OPTION_ARG_STRING, &vid, "USB vendor ID", "0xNNNN"},
	    {"runtime-pid",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &runtime_pid,
	     "Runtime product ID",
	     "0xNNNN"},
	    {"dfu-pid", 0, 0, G_OPTION_ARG_STRING, &dfu_pid, "DFU mode product ID", "0xNNNN"},
	    {"bcd-device", 0, 0, G_OPTION_ARG_STRING, &bcd_device, "Bootloader version", "0xNNNN"},
	    {"serial", 0, 0, G_OPTION_ARG_STRING, &serial, "Serial number", "STR"},
	    {"flash-size", 0, 0, G_OPTION_ARG_STRING, &flash_size, "Flash size", "BYTES"},
	    {"flash-in", 0, 0, G_OPTION_ARG_FILENAME, &flash_in, "Initial flash contents", "FILE"},
	    {"flash-out", 0, 0, G_OPTION_ARG_FILENAME, &flash_out, "Flash dump at the end", "FILE"},
	    {"transfer-size", 0, 0, G_OPTION_ARG_STRING, &transfer_size, "wTransferSize", "N"},
	    {"manifest-tolerant", 0, 0, G_OPTION_ARG_STRING, &manifest_tolerant, "yes or no", "B"},
	    {"will-detach", 0, 0, G_OPTION_ARG_STRING, &will_detach, "yes or no", "B"},
	    {"can-upload", 0, 0, G_OPTION_ARG_STRING, &can_upload, "yes or no", "B"},
	    {"can-download", 0, 0, G_OPTION_ARG_STRING, &can_download, "yes or no", "B"},
	    {"alts", 0, 0, G_OPTION_ARG_STRING, &alts, "DFU mode alt settings", "N"},
	    {"func-desc-every-alt",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &func_desc_every_alt,
	     "Repeat the functional descriptor after every alt setting",
	     NULL},
	    {"version-offset", 0, 0, G_OPTION_ARG_STRING, &version_offset, "Version offset", "N"},
	    {"early-poll", 0, 0, G_OPTION_ARG_STRING, &early_poll, "answer or stall", "HOW"},
	    {"seed", 0, 0, G_OPTION_ARG_STRING, &seed, "Seed of the busy time draws", "N"},
	    {"time-scale", 0, 0, G_OPTION_ARG_DOUBLE, &time_scale, "Time scale", "F"},
	    {"fault", 0, 0, G_OPTION_ARG_STRING_ARRAY, &faults, "Fault", "KIND:REQUEST:N"},
	    {"trace", 0, 0, G_OPTION_ARG_FILENAME, &trace, "JSON lines trace", "FILE"},
	    {"timeout", 0, 0, G_OPTION_ARG_INT, &timeout_s, "Client timeout", "SECONDS"},
	    {"verbose", 'v', 0, G_OPTION_ARG_NONE, &usbsim_verbose, "Log more", NULL},
	    {G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &client_argv, NULL, NULL},
	    {NULL}};

	usbsim_reexec_under_preload(argv);

	/* a client's '-x' style arguments after "--" belong to the client */
	context = g_option_context_new("-- CLIENT [ARGS...]");
	g_option_context_set_summary(context, "Run a client against a simulated USB DFU device");
	g_option_context_add_main_entries(context, entries, NULL);
	if (!g_option_context_parse(context, &argc, &argv, &error)) {
		g_printerr("usbsim-run: %s\n", error->message);
		return USBSIM_EXIT_SETUP;
	}
	if (list_profiles) {
		usbsim_list_profiles();
		return EXIT_SUCCESS;
	}
	g_log_set_default_handler(usbsim_log_handler, NULL);
	if (client_argv == NULL || client_argv[0] == NULL) {
		g_printerr(
		    "usbsim-run: no client given; usage: usbsim-run [OPTIONS] -- CLIENT...\n");
		return USBSIM_EXIT_SETUP;
	}
	profile = usbsim_dfu_profile_find(profile_name);
	if (profile == NULL) {
		g_printerr("usbsim-run: unknown profile '%s'\n", profile_name);
		return USBSIM_EXIT_SETUP;
	}
	usbsim_dfu_config_init(&config, profile);
	config.time_scale = time_scale;
	config.func_desc_every_alt = func_desc_every_alt;
	if (time_scale < 0 || timeout_s <= 0) {
		g_printerr("usbsim-run: --time-scale and --timeout must be positive\n");
		return USBSIM_EXIT_SETUP;
	}
	if (mode != NULL) {
		if (g_strcmp0(mode, "runtime") == 0) {
			config.initial_mode = USBSIM_DFU_MODE_RUNTIME;
		} else if (g_strcmp0(mode, "dfu") == 0) {
			config.initial_mode = USBSIM_DFU_MODE_DFU;
		} else {
			g_printerr("usbsim-run: --mode must be runtime or dfu\n");
			return USBSIM_EXIT_SETUP;
		}
	}
	if (vid != NULL && usbsim_parse_u32(vid, 0xffff, &value, "vid", &error))
		config.profile.vid = value;
	if (error == NULL && runtime_pid != NULL &&
	    usbsim_parse_u32(runtime_pid, 0xffff, &value, "runtime-pid", &error))
		config.profile.runtime_pid = value;
	if (error == NULL && dfu_pid != NULL &&
	    usbsim_parse_u32(dfu_pid, 0xffff, &value, "dfu-pid", &error))
		config.profile.dfu_pid = value;
	if (error == NULL && bcd_device != NULL &&
	    usbsim_parse_u32(bcd_device, 0xffff, &value, "bcd-device", &error))
		config.bcd_device = value;
	if (error == NULL && flash_size != NULL &&
	    usbsim_parse_u32(flash_size, 64 * 1024 * 1024, &value, "flash-size", &error)) {
		if (value == 0 || value % config.profile.page_size != 0) {
			g_set_error(&error,
				    G_IO_ERROR,
				    G_IO_ERROR_INVALID_ARGUMENT,
				    "flash size must be a non-zero multiple of the %u byte page",
				    config.profile.page_size);
		}
		config.profile.flash_size = value;
	}
	if (error == NULL && transfer_size != NULL &&
	    usbsim_parse_u32(transfer_size, 0xffff, &value, "transfer-size", &error)) {
		if (value == 0)
			g_set_error_literal(&error,
					    G_IO_ERROR,
					    G_IO_ERROR_INVALID_ARGUMENT,
					    "transfer size must not be zero");
		config.profile.transfer_size = value;
	}
	if (error == NULL && alts != NULL && usbsim_parse_u32(alts, 255, &value, "alts", &error)) {
		if (value == 0)
			g_set_error_literal(&error,
					    G_IO_ERROR,
					    G_IO_ERROR_INVALID_ARGUMENT,
					    "alts must be at least 1");
		config.alts = value;
	}
	if (error == NULL && version_offset != NULL &&
	    usbsim_parse_u32(version_offset, G_MAXUINT32, &value, "version-offset", &error))
		config.version_offset = value;
	if (error == NULL && seed != NULL &&
	    usbsim_parse_u32(seed, G_MAXUINT32, &value, "seed", &error))
		config.seed = value;
	if (error == NULL && manifest_tolerant != NULL)
		usbsim_parse_bool(manifest_tolerant,
				  &config.manifest_tolerant,
				  "--manifest-tolerant",
				  &error);
	if (error == NULL && will_detach != NULL)
		usbsim_parse_bool(will_detach, &config.will_detach, "--will-detach", &error);
	if (error == NULL && can_upload != NULL)
		usbsim_parse_bool(can_upload, &config.can_upload, "--can-upload", &error);
	if (error == NULL && can_download != NULL)
		usbsim_parse_bool(can_download, &config.can_download, "--can-download", &error);
	if (error == NULL && early_poll != NULL) {
		if (g_strcmp0(early_poll, "stall") == 0)
			config.early_poll_stalls = TRUE;
		else if (g_strcmp0(early_poll, "answer") != 0)
			g_set_error_literal(&error,
					    G_IO_ERROR,
					    G_IO_ERROR_INVALID_ARGUMENT,
					    "--early-poll must be answer or stall");
	}
	if (error == NULL && serial != NULL) {
		g_free(config.serial);
		config.serial = g_strdup(serial);
	}
	for (guint i = 0; error == NULL && faults != NULL && faults[i] != NULL; i++) {
		UsbsimFault fault;
		if (usbsim_fault_parse(faults[i], &fault, &error))
			g_array_append_val(config.faults, fault);
	}
	if (error == NULL && flash_in != NULL) {
		gchar *contents = NULL;
		gsize len = 0;
		if (g_file_get_contents(flash_in, &contents, &len, &error))
			config.flash_in = g_bytes_new_take(contents, len);
	}
	if (error != NULL) {
		g_printerr("usbsim-run: %s\n", error->message);
		usbsim_dfu_config_clear(&config);
		return USBSIM_EXIT_SETUP;
	}

	/* the testbed and the client's temporary files stay in the build tree */
	tmpdir = g_strdup(g_getenv("USBSIM_TMPDIR") != NULL ? g_getenv("USBSIM_TMPDIR")
							    : USBSIM_DEFAULT_TMPDIR);
	if (g_mkdir_with_parents(tmpdir, 0755) != 0) {
		g_printerr("usbsim-run: cannot create %s: %s\n", tmpdir, g_strerror(errno));
		usbsim_dfu_config_clear(&config);
		return USBSIM_EXIT_SETUP;
	}
	g_setenv("TMPDIR", tmpdir, TRUE);

	rc = usbsim_run(&config, client_argv, flash_out, trace, timeout_s);
	usbsim_dfu_config_clear(&config);
	return rc;
}
