/*
 * usbsim-run: runs a client program against a simulated USB DFU device.
 *
 * The harness owns a umockdev testbed and the device model. It runs under umockdev's
 * preload itself (it re-executes itself with LD_PRELOAD set, or no uevents reach the
 * client), spawns the client with the same environment, and returns its exit status.
 *
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <errno.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "usbsim-cobs.h"
#include "usbsim-device.h"
#include "usbsim-dfu.h"
#include "usbsim-dfuse.h"
#include "usbsim-harness.h"

/* the device model a run serves: DFU 1.1, DfuSe or the COBS bootloader */
typedef struct {
	const UsbsimModelOps *ops;
	UsbsimDfu *dfu;
	UsbsimDfuse *dfuse;
	UsbsimCobs *cobs;
	gdouble time_scale;
} UsbsimModel;

static gboolean usbsim_verbose = FALSE;

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

/* a choice and the value it stands for; a list of them ends with a NULL name */
typedef struct {
	const gchar *name;
	gint value;
} UsbsimChoice;

typedef enum {
	USBSIM_OPTION_BOOL,   /* yes or no, into a gboolean */
	USBSIM_OPTION_BIT,    /* yes or no, as a bit of a guint8 */
	USBSIM_OPTION_UINT,   /* decimal or 0x-hex up to max, into a guint16 or a guint32 */
	USBSIM_OPTION_CHOICE, /* one of the names of choices, into an enum or a gboolean */
} UsbsimOptionKind;

/* an option of the command line as a model takes it: its text (NULL when not given), the
 * name its errors use, where it lands, and per kind: the bit, the maximum, the choices; the
 * message that refuses a 0 (NULL: 0 is fine) or a text that is none of the choices */
typedef struct {
	UsbsimOptionKind kind;
	const gchar *text;
	const gchar *what;
	gpointer value;
	gsize value_size;
	guint64 number; /* the maximum of a UINT, the bit of a BIT */
	const UsbsimChoice *choices;
	const gchar *refused;
} UsbsimOption;

#define USBSIM_BOOL_OPTION(text, what, value)                                                      \
	{                                                                                          \
		USBSIM_OPTION_BOOL, (text), (what), (value), sizeof(gboolean), 0, NULL, NULL       \
	}
#define USBSIM_BIT_OPTION(text, what, attributes, bit)                                             \
	{                                                                                          \
		USBSIM_OPTION_BIT, (text), (what), (attributes), sizeof(guint8), (bit), NULL, NULL \
	}
#define USBSIM_UINT_OPTION(text, what, max, zero_refused, value)                                   \
	{                                                                                          \
		USBSIM_OPTION_UINT, (text), (what), (value), sizeof(*(value)), (max), NULL,        \
		    (zero_refused)                                                                 \
	}
#define USBSIM_CHOICE_OPTION(text, choices, refused, value)                                        \
	{                                                                                          \
		USBSIM_OPTION_CHOICE, (text), NULL, (value), sizeof(gint), 0, (choices), (refused) \
	}

static gboolean
usbsim_parse_option(const UsbsimOption *opt, GError **error)
{
	const UsbsimChoice *choice = opt->choices;
	gboolean set = FALSE;
	guint64 value = 0;

	switch (opt->kind) {
	case USBSIM_OPTION_BOOL:
		return usbsim_parse_bool(opt->text, opt->value, opt->what, error);
	case USBSIM_OPTION_BIT:
		if (!usbsim_parse_bool(opt->text, &set, opt->what, error))
			return FALSE;
		if (set)
			*(guint8 *)opt->value |= opt->number;
		else
			*(guint8 *)opt->value &= ~opt->number;
		return TRUE;
	case USBSIM_OPTION_UINT:
		if (!usbsim_harness_parse_uint(opt->text, opt->number, &value, opt->what, error))
			return FALSE;
		if (value == 0 && opt->refused != NULL)
			break;
		if (opt->value_size == sizeof(guint16))
			*(guint16 *)opt->value = value;
		else
			*(guint32 *)opt->value = value;
		return TRUE;
	case USBSIM_OPTION_CHOICE:
		while (choice->name != NULL && g_strcmp0(opt->text, choice->name) != 0)
			choice++;
		if (choice->name == NULL)
			break;
		*(gint *)opt->value = choice->value;
		return TRUE;
	}
	g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, opt->refused);
	return FALSE;
}

/* the options given, in order; the first that is wrong says why */
static gboolean
usbsim_parse_options(const UsbsimOption *opts, gsize n_opts, GError **error)
{
	for (gsize i = 0; i < n_opts; i++) {
		if (opts[i].text != NULL && !usbsim_parse_option(&opts[i], error))
			return FALSE;
	}
	return TRUE;
}

/* the enums a choice sets are stored as a gint */
G_STATIC_ASSERT(sizeof(UsbsimDfuMode) == sizeof(gint));
G_STATIC_ASSERT(sizeof(UsbsimDfuEnding) == sizeof(gint));
G_STATIC_ASSERT(sizeof(UsbsimPoll) == sizeof(gint));

static const UsbsimChoice usbsim_mode_choices[] = {{"runtime", USBSIM_DFU_MODE_RUNTIME},
						   {"dfu", USBSIM_DFU_MODE_DFU},
						   {NULL}};
static const UsbsimChoice usbsim_poll_choices[] = {{"max", USBSIM_POLL_MAX},
						   {"alternate", USBSIM_POLL_ALTERNATE},
						   {"random", USBSIM_POLL_RANDOM},
						   {NULL}};
static const UsbsimChoice usbsim_early_poll_choices[] = {{"answer", FALSE},
							 {"stall", TRUE},
							 {NULL}};
static const UsbsimChoice usbsim_ending_choices[] = {{"wait-reset", USBSIM_DFU_ENDING_WAIT_RESET},
						     {"reset", USBSIM_DFU_ENDING_RESET},
						     {"silent", USBSIM_DFU_ENDING_SILENT},
						     {NULL}};
static const UsbsimChoice usbsim_stride_choices[] = {{"wlength", FALSE},
						     {"transfer-size", TRUE},
						     {NULL}};

static void
usbsim_summary_append_requests(GString *str, UsbsimDevice *device)
{
	GHashTable *counts = usbsim_device_get_request_counts(device);
	g_autoptr(GList) names =
	    g_list_sort(g_hash_table_get_keys(counts), (GCompareFunc)g_strcmp0);

	g_string_append(str, "{\"summary\":true,\"requests\":{");
	for (GList *l = names; l != NULL; l = l->next) {
		g_string_append_printf(str,
				       "%s\"%s\":%u",
				       l == names ? "" : ",",
				       (const gchar *)l->data,
				       GPOINTER_TO_UINT(g_hash_table_lookup(counts, l->data)));
	}
	g_string_append_c(str, '}');
}

/* what both models add: memory ranges, set-address and write counts, the limits, idle time */
static void
usbsim_summary_append_flash(GString *str,
			    UsbsimDevice *device,
			    const UsbsimFlashLog *log,
			    const UsbsimLimits *limits)
{
	GHashTable *idle = usbsim_device_get_host_idle_by_request(device);
	g_autoptr(GList) names = g_list_sort(g_hash_table_get_keys(idle), (GCompareFunc)g_strcmp0);

	g_string_append(str, ",\"erased_ranges\":");
	usbsim_ranges_append_json(log->erased, str);
	g_string_append(str, ",\"written_ranges\":");
	usbsim_ranges_append_json(log->written, str);
	g_string_append_printf(
	    str,
	    ",\"set_address_commands\":%u,\"writes_not_erased\":%u"
	    ",\"limit_physical_ms\":%.3f,\"limit_spec_ms\":%.3f,\"obeying_host_ms\":%.3f"
	    ",\"host_idle_ms_by_request\":{",
	    log->set_address_commands,
	    log->writes_not_erased,
	    limits->physical_ms,
	    limits->spec_ms,
	    limits->obeying_ms);
	for (GList *l = names; l != NULL; l = l->next) {
		const gint64 *idle_us = g_hash_table_lookup(idle, l->data);
		g_string_append_printf(str,
				       "%s\"%s\":%.3f",
				       l == names ? "" : ",",
				       (const gchar *)l->data,
				       *idle_us / 1000.0);
	}
	g_string_append_c(str, '}');
}

/* the summary of a DFU 1.1 or DfuSe run, from the model's report; a DfuSe model (@dfuse) adds
 * its mass erases and read protection */
static gchar *
usbsim_summary_json_dfu(UsbsimDevice *device, const UsbsimDfuReport *report, UsbsimDfuse *dfuse)
{
	UsbsimDeviceStats dev_stats = usbsim_device_get_stats(device);
	GString *str = g_string_new(NULL);

	usbsim_summary_append_requests(str, device);
	g_string_append_printf(str, ",\"erases\":%u", report->erases);
	if (dfuse != NULL)
		g_string_append_printf(str,
				       ",\"mass_erases\":%u",
				       usbsim_dfuse_get_stats(dfuse)->mass_erases);
	g_string_append_printf(str,
			       ",\"bytes_programmed\":%" G_GUINT64_FORMAT
			       ",\"bytes_uploaded\":%" G_GUINT64_FORMAT ",\"early_polls\":%u"
			       ",\"blocks_out_of_sequence\":%u,\"manifestations\":%u"
			       ",\"device_busy_ms\":%.3f,\"bus_ms\":%.3f,\"host_idle_ms\":%.3f"
			       ",\"reenumerations\":%u,\"usb_resets\":%u,\"faults_fired\":%u"
			       ",\"unplugged\":%s,\"final_mode\":\"%s\",\"final_state\":%d"
			       ",\"final_status\":%d,\"runtime_version\":%u",
			       report->counts->bytes_programmed,
			       report->counts->bytes_uploaded,
			       report->counts->early_polls,
			       report->counts->blocks_out_of_sequence,
			       report->manifestations,
			       report->counts->busy_us / 1000.0,
			       dev_stats.bus_us / 1000.0,
			       dev_stats.host_idle_us / 1000.0,
			       report->counts->reenumerations,
			       dev_stats.usb_resets,
			       report->counts->faults_fired,
			       dev_stats.gone ? "true" : "false",
			       report->mode == USBSIM_DFU_MODE_RUNTIME ? "runtime" : "dfu",
			       report->state,
			       report->status,
			       report->runtime_version);
	if (dfuse != NULL)
		g_string_append_printf(str,
				       ",\"read_protected\":%s",
				       usbsim_dfuse_get_read_protected(dfuse) ? "true" : "false");
	g_string_append_printf(str, ",\"elapsed_ms\":%.3f", usbsim_device_elapsed_ms(device));
	usbsim_summary_append_flash(str, device, report->log, &report->limits);
	g_string_append_printf(str, ",\"protocol\":\"%s\"}", dfuse != NULL ? "dfuse" : "dfu");
	return g_string_free(str, FALSE);
}

static gchar *
usbsim_summary_json_cobs(UsbsimDevice *device, UsbsimCobs *cobs)
{
	const UsbsimCobsStats *stats = usbsim_cobs_get_stats(cobs);
	UsbsimDeviceStats dev_stats = usbsim_device_get_stats(device);
	GString *str = g_string_new(NULL);
	UsbsimLimits limits = {0};
	gdouble physical_ms = 0;
	gdouble stop_and_wait_ms = 0;

	usbsim_summary_append_requests(str, device);
	g_string_append_printf(str,
			       ",\"erases\":%u,\"bytes_programmed\":%" G_GUINT64_FORMAT
			       ",\"bytes_uploaded\":0,\"device_busy_ms\":%.3f,\"bus_ms\":%.3f"
			       ",\"host_idle_ms\":%.3f,\"reenumerations\":0,\"usb_resets\":%u"
			       ",\"faults_fired\":%u,\"unplugged\":%s,\"final_mode\":\"%s\""
			       ",\"final_state\":%d,\"elapsed_ms\":%.3f",
			       stats->sectors_erased,
			       stats->bytes_stored,
			       stats->busy_us / 1000.0,
			       (dev_stats.bus_us + stats->bus_us) / 1000.0,
			       stats->host_idle_us / 1000.0,
			       dev_stats.usb_resets,
			       stats->faults_fired,
			       dev_stats.gone ? "true" : "false",
			       usbsim_cobs_get_state_name(cobs),
			       usbsim_cobs_ops()->state(cobs),
			       usbsim_device_elapsed_ms(device));
	usbsim_cobs_append_summary(cobs, str);
	/* the device reports no busy times a host must obey: the three limits are the same */
	usbsim_cobs_get_limits(cobs, &physical_ms, &stop_and_wait_ms);
	limits.physical_ms = physical_ms;
	limits.spec_ms = physical_ms;
	limits.obeying_ms = physical_ms;
	usbsim_summary_append_flash(str, device, usbsim_cobs_get_flash_log(cobs), &limits);
	g_string_append(str, ",\"protocol\":\"cobs\"}");
	return g_string_free(str, FALSE);
}

/* a JSON string; the profile texts are ASCII, control characters become \u escapes */
static void
usbsim_json_append_string(GString *str, const gchar *text)
{
	g_string_append_c(str, '"');
	for (const gchar *c = text; *c != '\0'; c++) {
		if (*c == '"' || *c == '\\')
			g_string_append_printf(str, "\\%c", *c);
		else if ((guchar)*c < 0x20)
			g_string_append_printf(str, "\\u%04x", (guint)(guchar)*c);
		else
			g_string_append_c(str, *c);
	}
	g_string_append_c(str, '"');
}

/* the members every profile has; the object is left open */
static void
usbsim_json_append_profile(GString *str,
			   const gchar *name,
			   const gchar *family,
			   const UsbsimDfuIds *ids,
			   guint32 flash_size,
			   const gchar *description)
{
	g_string_append(str, str->len > 1 ? ",\n {\"name\":" : "\n {\"name\":");
	usbsim_json_append_string(str, name);
	g_string_append_printf(str,
			       ",\"family\":\"%s\",\"vid\":%u,\"runtime_pid\":%u,\"dfu_pid\":%u,"
			       "\"flash_size\":%u,\"description\":",
			       family,
			       ids->vid,
			       ids->runtime_pid,
			       ids->dfu_pid,
			       flash_size);
	usbsim_json_append_string(str, description);
}

/* --list-profiles --json: the device facts the Python tools (tests/e2e, contrib/bench.py,
 * contrib/demo.py) read instead of keeping copies; a COBS device has one identity, so its
 * runtime_pid and dfu_pid are the same */
static void
usbsim_list_profiles_json(void)
{
	g_autoptr(GString) str = g_string_new("[");
	const UsbsimDfuProfile *const *profiles = usbsim_dfu_profiles();
	UsbsimCobsConfig cobs;
	UsbsimDfuIds cobs_ids;

	for (guint i = 0; profiles[i] != NULL; i++) {
		const UsbsimDfuProfile *p = profiles[i];
		usbsim_json_append_profile(str,
					   p->name,
					   "dfu",
					   &p->ids,
					   p->flash_size,
					   p->description);
		g_string_append_printf(str,
				       ",\"page_size\":%u,\"transfer_size\":%u}",
				       p->page_size,
				       p->transfer_size);
	}
	for (guint i = 0; usbsim_dfuse_profiles()[i] != NULL; i++) {
		const UsbsimDfuseProfile *p = usbsim_dfuse_profiles()[i];
		usbsim_json_append_profile(str,
					   p->name,
					   "dfuse",
					   &p->ids,
					   p->flash_size,
					   p->description);
		g_string_append_printf(str,
				       ",\"transfer_size\":%u,\"flash_base\":%u,"
				       "\"app_address\":%u,\"default_mode\":\"%s\"}",
				       p->transfer_size,
				       p->flash_base,
				       p->flash_base + p->app_offset,
				       p->default_mode == USBSIM_DFU_MODE_DFU ? "dfu" : "runtime");
	}
	usbsim_cobs_config_init(&cobs);
	cobs_ids.vid = cobs.vid;
	cobs_ids.runtime_pid = cobs.pid;
	cobs_ids.dfu_pid = cobs.pid;
	usbsim_json_append_profile(str,
				   USBSIM_COBS_PROFILE_NAME,
				   "cobs",
				   &cobs_ids,
				   cobs.flash_size,
				   "STM32H7 bootloader speaking the COBS-framed bulk protocol");
	g_string_append_printf(str,
			       ",\"sector_size\":%u,\"erase_max_us\":%u,\"word_size\":%u,"
			       "\"program_max_us\":%u}\n]\n",
			       cobs.sector_size,
			       cobs.erase_max_us,
			       cobs.word_size,
			       cobs.program_max_us);
	usbsim_cobs_config_clear(&cobs);
	g_print("%s", str->str);
}

/* the start of a profile's line in --list-profiles: its name, its IDs in its two modes (named
 * @runtime and @dfu) and its flash size */
static void
usbsim_list_profile_ids(const gchar *name,
			const UsbsimDfuIds *ids,
			const gchar *runtime,
			const gchar *dfu,
			guint32 flash_size)
{
	g_print("%s\t%04x:%04x %s, %04x:%04x %s, %u KiB flash, ",
		name,
		ids->vid,
		ids->runtime_pid,
		runtime,
		ids->vid,
		ids->dfu_pid,
		dfu,
		flash_size / 1024);
}

static void
usbsim_list_profiles(void)
{
	UsbsimCobsConfig cobs;
	const UsbsimDfuProfile *const *profiles = usbsim_dfu_profiles();
	for (guint i = 0; profiles[i] != NULL; i++) {
		const UsbsimDfuProfile *p = profiles[i];
		usbsim_list_profile_ids(p->name, &p->ids, "runtime", "DFU", p->flash_size);
		g_print("%u B pages, wTransferSize %u: %s\n",
			p->page_size,
			p->transfer_size,
			p->description);
	}
	for (guint i = 0; usbsim_dfuse_profiles()[i] != NULL; i++) {
		const UsbsimDfuseProfile *p = usbsim_dfuse_profiles()[i];
		g_autoptr(UsbsimDfuse) dfuse = NULL;
		UsbsimDfuseConfig config;
		usbsim_dfuse_config_init(&config, p);
		dfuse = usbsim_dfuse_new(&config);
		usbsim_dfuse_config_clear(&config);
		usbsim_list_profile_ids(p->name, &p->ids, "application", "DfuSe", p->flash_size);
		g_print("wTransferSize %u, %s by default: %s\n",
			p->transfer_size,
			p->default_mode == USBSIM_DFU_MODE_DFU ? "DFU mode" : "runtime",
			p->description);
		for (guint alt = 0; usbsim_dfuse_get_layout(dfuse, alt) != NULL; alt++)
			g_print("\talt %u: %s\n", alt, usbsim_dfuse_get_layout(dfuse, alt));
	}
	usbsim_cobs_config_init(&cobs);
	g_print("%s\t%04x:%04x CDC ACM, %u KiB flash, %u KiB sectors: STM32H7 bootloader speaking "
		"the COBS-framed bulk protocol\n",
		USBSIM_COBS_PROFILE_NAME,
		cobs.vid,
		cobs.pid,
		cobs.flash_size / 1024,
		cobs.sector_size / 1024);
	usbsim_cobs_config_clear(&cobs);
}

static gint
usbsim_run(UsbsimModel *model,
	   gchar **client_argv,
	   const gchar *flash_out,
	   const gchar *trace,
	   guint timeout_s)
{
	g_autoptr(UMockdevTestbed) testbed = NULL;
	g_autoptr(UsbsimDevice) device = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
	g_autofree gchar *root_dir = NULL;
	g_autofree gchar *summary = NULL;
	UsbsimHarnessChild child = {.loop = loop};
	gint exit_status;

	testbed = umockdev_testbed_new();
	root_dir = umockdev_testbed_get_root_dir(testbed);
	g_debug("testbed in %s", root_dir);
	device = usbsim_device_new(testbed,
				   model->ops,
				   model->dfu != NULL	  ? (gpointer)model->dfu
				   : model->dfuse != NULL ? (gpointer)model->dfuse
							  : (gpointer)model->cobs,
				   model->time_scale);
	if (model->cobs != NULL)
		usbsim_cobs_set_epoch(model->cobs, g_get_monotonic_time());
	if (trace != NULL && !usbsim_device_set_trace(device, trace, &error)) {
		g_printerr("usbsim-run: %s\n", error->message);
		return USBSIM_EXIT_SETUP;
	}
	if (!usbsim_device_plug(device, &error)) {
		g_printerr("usbsim-run: cannot add the device: %s\n", error->message);
		return USBSIM_EXIT_SETUP;
	}

	if (!usbsim_harness_child_spawn(&child, client_argv, timeout_s, &error)) {
		g_printerr("usbsim-run: cannot run %s: %s\n", client_argv[0], error->message);
		usbsim_device_remove(device);
		return USBSIM_EXIT_SETUP;
	}
	exit_status = usbsim_harness_child_wait(&child, 1);

	/* the flash dump and the summary, then the testbed goes */
	usbsim_device_lock(device);
	if (model->cobs != NULL) {
		summary = usbsim_summary_json_cobs(device, model->cobs);
	} else {
		UsbsimDfuReport report = {0};
		if (model->dfu != NULL)
			usbsim_dfu_get_report(model->dfu, &report);
		else
			usbsim_dfuse_get_report(model->dfuse, &report);
		summary = usbsim_summary_json_dfu(device, &report, model->dfuse);
	}
	usbsim_device_trace_line(device, summary);
	if (flash_out != NULL) {
		g_autoptr(GBytes) flash = model->cobs != NULL ? usbsim_cobs_get_flash(model->cobs)
					  : model->dfu != NULL
					      ? usbsim_dfu_get_flash(model->dfu)
					      : usbsim_dfuse_get_flash(model->dfuse);
		usbsim_harness_write_flash(flash_out, flash);
	}
	usbsim_device_unlock(device);
	g_debug("%s", summary);
	usbsim_device_remove(device);
	usbsim_harness_testbed_release(g_steal_pointer(&testbed));
	return exit_status;
}

/* the command line, as given: one parse, whichever model the profile picks; NULL (FALSE)
 * for an option not given; usbsim_option_specs says how each is parsed and who takes it */
typedef struct {
	gchar *mode;
	gchar *vid;
	gchar *runtime_pid;
	gchar *dfu_pid;
	gchar *bcd_device;
	gchar *serial;
	gchar *flash_size;
	gchar *flash_in;
	gchar *flash_out;
	gchar *transfer_size;
	gchar *manifest_tolerant;
	gchar *will_detach;
	gchar *can_upload;
	gchar *can_download;
	gchar *can_accelerate;
	gchar *alts;
	gchar *version_offset;
	gchar *early_poll;
	gchar *seed;
	gchar *stuck_busy;
	gchar *block_stride;
	gchar *hostile_poll_timeout;
	gchar *flash_layout;
	gchar *manifest_ending;
	gchar *manifest_status;
	gchar *app_dfu;
	gchar **faults;
	gboolean func_desc_every_alt;
	gboolean stall_functional_request;
	gboolean bogus_set_address_timeout;
	gboolean zero_poll_timeout;
	gboolean short_mass_erase_timeout;
	gboolean stall_early_poll_during_erase;
	gboolean read_protected;
	gboolean no_product_string;
	gdouble time_scale;
} UsbsimOptions;

/* the models that take an option; a profile whose model does not take one refuses it */
typedef enum {
	USBSIM_FOR_EVERY_MODEL,
	USBSIM_FOR_DFU_MODELS, /* DFU 1.1 and DfuSe */
	USBSIM_FOR_DFU11,
	USBSIM_FOR_DFUSE,
} UsbsimOptionScope;

/* an option of UsbsimOptions: its GOption entry (whose arg_data is the field at @offset), and
 * the models that take it */
typedef struct {
	GOptionEntry entry;
	gsize offset;
	UsbsimOptionScope scope;
} UsbsimOptionSpec;

/* in the order --help lists them */
static const UsbsimOptionSpec usbsim_option_specs[] = {
    {{"mode", 0, 0, G_OPTION_ARG_STRING, NULL, "Initial mode: runtime or dfu", "MODE"},
     G_STRUCT_OFFSET(UsbsimOptions, mode),
     USBSIM_FOR_DFU_MODELS},
    {{"vid", 0, 0, G_OPTION_ARG_STRING, NULL, "USB vendor ID", "0xNNNN"},
     G_STRUCT_OFFSET(UsbsimOptions, vid),
     USBSIM_FOR_EVERY_MODEL},
    {{"runtime-pid", 0, 0, G_OPTION_ARG_STRING, NULL, "Runtime product ID", "0xNNNN"},
     G_STRUCT_OFFSET(UsbsimOptions, runtime_pid),
     USBSIM_FOR_DFU_MODELS},
    {{"dfu-pid", 0, 0, G_OPTION_ARG_STRING, NULL, "DFU mode product ID", "0xNNNN"},
     G_STRUCT_OFFSET(UsbsimOptions, dfu_pid),
     USBSIM_FOR_DFU_MODELS},
    {{"bcd-device", 0, 0, G_OPTION_ARG_STRING, NULL, "Bootloader version", "0xNNNN"},
     G_STRUCT_OFFSET(UsbsimOptions, bcd_device),
     USBSIM_FOR_EVERY_MODEL},
    {{"serial", 0, 0, G_OPTION_ARG_STRING, NULL, "Serial number", "STR"},
     G_STRUCT_OFFSET(UsbsimOptions, serial),
     USBSIM_FOR_EVERY_MODEL},
    {{"flash-size", 0, 0, G_OPTION_ARG_STRING, NULL, "Flash size", "BYTES"},
     G_STRUCT_OFFSET(UsbsimOptions, flash_size),
     USBSIM_FOR_EVERY_MODEL},
    {{"flash-in", 0, 0, G_OPTION_ARG_FILENAME, NULL, "Initial flash contents", "FILE"},
     G_STRUCT_OFFSET(UsbsimOptions, flash_in),
     USBSIM_FOR_EVERY_MODEL},
    {{"flash-out", 0, 0, G_OPTION_ARG_FILENAME, NULL, "Flash dump at the end", "FILE"},
     G_STRUCT_OFFSET(UsbsimOptions, flash_out),
     USBSIM_FOR_EVERY_MODEL},
    {{"transfer-size", 0, 0, G_OPTION_ARG_STRING, NULL, "wTransferSize", "N"},
     G_STRUCT_OFFSET(UsbsimOptions, transfer_size),
     USBSIM_FOR_DFU_MODELS},
    {{"manifest-tolerant", 0, 0, G_OPTION_ARG_STRING, NULL, "yes or no", "B"},
     G_STRUCT_OFFSET(UsbsimOptions, manifest_tolerant),
     USBSIM_FOR_DFU_MODELS},
    {{"will-detach", 0, 0, G_OPTION_ARG_STRING, NULL, "yes or no", "B"},
     G_STRUCT_OFFSET(UsbsimOptions, will_detach),
     USBSIM_FOR_DFU_MODELS},
    {{"can-upload", 0, 0, G_OPTION_ARG_STRING, NULL, "yes or no", "B"},
     G_STRUCT_OFFSET(UsbsimOptions, can_upload),
     USBSIM_FOR_DFU_MODELS},
    {{"can-download", 0, 0, G_OPTION_ARG_STRING, NULL, "yes or no", "B"},
     G_STRUCT_OFFSET(UsbsimOptions, can_download),
     USBSIM_FOR_DFU_MODELS},
    {{"alts", 0, 0, G_OPTION_ARG_STRING, NULL, "DFU mode alt settings", "N"},
     G_STRUCT_OFFSET(UsbsimOptions, alts),
     USBSIM_FOR_DFU_MODELS},
    {{"func-desc-every-alt",
      0,
      0,
      G_OPTION_ARG_NONE,
      NULL,
      "Repeat the functional descriptor after every alt setting",
      NULL},
     G_STRUCT_OFFSET(UsbsimOptions, func_desc_every_alt),
     USBSIM_FOR_DFU_MODELS},
    {{"stall-functional-descriptor-request",
      0,
      0,
      G_OPTION_ARG_NONE,
      NULL,
      "A standalone GET_DESCRIPTOR for the functional descriptor stalls (STM32C5)",
      NULL},
     G_STRUCT_OFFSET(UsbsimOptions, stall_functional_request),
     USBSIM_FOR_DFU_MODELS},
    {{"version-offset", 0, 0, G_OPTION_ARG_STRING, NULL, "Version offset", "N"},
     G_STRUCT_OFFSET(UsbsimOptions, version_offset),
     USBSIM_FOR_DFU_MODELS},
    {{"early-poll", 0, 0, G_OPTION_ARG_STRING, NULL, "answer or stall", "HOW"},
     G_STRUCT_OFFSET(UsbsimOptions, early_poll),
     USBSIM_FOR_DFU_MODELS},
    {{"manifest-ending",
      0,
      0,
      G_OPTION_ARG_STRING,
      NULL,
      "DFU 1.1, not manifestation tolerant: wait-reset, reset or silent",
      "HOW"},
     G_STRUCT_OFFSET(UsbsimOptions, manifest_ending),
     USBSIM_FOR_DFU11},
    {{"manifest-status",
      0,
      0,
      G_OPTION_ARG_STRING,
      NULL,
      "DFU 1.1: the status the image check at manifestation reports (OK)",
      "STATUS"},
     G_STRUCT_OFFSET(UsbsimOptions, manifest_status),
     USBSIM_FOR_DFU11},
    {{"app-dfu",
      0,
      0,
      G_OPTION_ARG_STRING,
      NULL,
      "DFU 1.1: the application has a DFU runtime interface, yes or no",
      "B"},
     G_STRUCT_OFFSET(UsbsimOptions, app_dfu),
     USBSIM_FOR_DFU11},
    {{"can-accelerate",
      0,
      0,
      G_OPTION_ARG_STRING,
      NULL,
      "DfuSe: functional descriptor bit 7, yes or no",
      "B"},
     G_STRUCT_OFFSET(UsbsimOptions, can_accelerate),
     USBSIM_FOR_DFUSE},
    {{"bogus-set-address-timeout",
      0,
      0,
      G_OPTION_ARG_NONE,
      NULL,
      "DfuSe: SET_ADDRESS reports 104 ms while it takes none",
      NULL},
     G_STRUCT_OFFSET(UsbsimOptions, bogus_set_address_timeout),
     USBSIM_FOR_DFUSE},
    {{"zero-poll-timeout",
      0,
      0,
      G_OPTION_ARG_NONE,
      NULL,
      "DfuSe: report a 0 ms poll timeout while really busy",
      NULL},
     G_STRUCT_OFFSET(UsbsimOptions, zero_poll_timeout),
     USBSIM_FOR_DFUSE},
    {{"short-mass-erase-timeout",
      0,
      0,
      G_OPTION_ARG_NONE,
      NULL,
      "DfuSe: a mass erase reports 100 ms",
      NULL},
     G_STRUCT_OFFSET(UsbsimOptions, short_mass_erase_timeout),
     USBSIM_FOR_DFUSE},
    {{"stall-early-poll-during-erase",
      0,
      0,
      G_OPTION_ARG_NONE,
      NULL,
      "DfuSe: GETSTATUS before an erase is done stalls",
      NULL},
     G_STRUCT_OFFSET(UsbsimOptions, stall_early_poll_during_erase),
     USBSIM_FOR_DFUSE},
    {{"stuck-busy",
      0,
      0,
      G_OPTION_ARG_STRING,
      NULL,
      "DfuSe: stay in dfuDNBUSY from the Nth operation on",
      "N|always"},
     G_STRUCT_OFFSET(UsbsimOptions, stuck_busy),
     USBSIM_FOR_DFUSE},
    {{"hostile-poll-timeout",
      0,
      0,
      G_OPTION_ARG_STRING,
      NULL,
      "Every status reports 0xFFFFFF ms, 0 and 0xFFFFFF in turn, or a random figure",
      "max|alternate|random"},
     G_STRUCT_OFFSET(UsbsimOptions, hostile_poll_timeout),
     USBSIM_FOR_DFU_MODELS},
    {{"flash-layout",
      0,
      0,
      G_OPTION_ARG_STRING,
      NULL,
      "DfuSe: the layout string the internal flash reports (its real geometry stays)",
      "STR"},
     G_STRUCT_OFFSET(UsbsimOptions, flash_layout),
     USBSIM_FOR_DFUSE},
    {{"block-stride",
      0,
      0,
      G_OPTION_ARG_STRING,
      NULL,
      "DfuSe: block address step, wlength (AN2662) or transfer-size",
      "HOW"},
     G_STRUCT_OFFSET(UsbsimOptions, block_stride),
     USBSIM_FOR_DFUSE},
    {{"read-protected",
      0,
      0,
      G_OPTION_ARG_NONE,
      NULL,
      "DfuSe: flash read protection until a read unprotect",
      NULL},
     G_STRUCT_OFFSET(UsbsimOptions, read_protected),
     USBSIM_FOR_DFUSE},
    {{"no-product-string",
      0,
      0,
      G_OPTION_ARG_NONE,
      NULL,
      "DfuSe: no product string in DFU mode (iProduct 0)",
      NULL},
     G_STRUCT_OFFSET(UsbsimOptions, no_product_string),
     USBSIM_FOR_DFUSE},
    {{"seed", 0, 0, G_OPTION_ARG_STRING, NULL, "Seed of the busy time draws", "N"},
     G_STRUCT_OFFSET(UsbsimOptions, seed),
     USBSIM_FOR_EVERY_MODEL},
    {{"time-scale", 0, 0, G_OPTION_ARG_DOUBLE, NULL, "Time scale", "F"},
     G_STRUCT_OFFSET(UsbsimOptions, time_scale),
     USBSIM_FOR_EVERY_MODEL},
    {{"fault", 0, 0, G_OPTION_ARG_STRING_ARRAY, NULL, "Fault", "KIND:REQUEST:N"},
     G_STRUCT_OFFSET(UsbsimOptions, faults),
     USBSIM_FOR_DFU_MODELS},
};

static gpointer
usbsim_option_value(const UsbsimOptions *o, const UsbsimOptionSpec *spec)
{
	return (guint8 *)o + spec->offset;
}

/* the GOption entries of the table, with where each lands in @o */
static void
usbsim_options_add_entries(UsbsimOptions *o, GArray *entries)
{
	for (guint i = 0; i < G_N_ELEMENTS(usbsim_option_specs); i++) {
		GOptionEntry entry = usbsim_option_specs[i].entry;
		entry.arg_data = usbsim_option_value(o, &usbsim_option_specs[i]);
		g_array_append_val(entries, entry);
	}
}

/* a time scale always has a value: it is never "given" */
static gboolean
usbsim_option_given(const UsbsimOptions *o, const UsbsimOptionSpec *spec)
{
	gpointer value = usbsim_option_value(o, spec);
	if (spec->entry.arg == G_OPTION_ARG_NONE)
		return *(gboolean *)value;
	if (spec->entry.arg == G_OPTION_ARG_DOUBLE)
		return FALSE;
	return *(gpointer *)value != NULL;
}

/* whether an option only the models of @scope take was given */
static gboolean
usbsim_options_have(const UsbsimOptions *o, UsbsimOptionScope scope)
{
	for (guint i = 0; i < G_N_ELEMENTS(usbsim_option_specs); i++) {
		if (usbsim_option_specs[i].scope == scope &&
		    usbsim_option_given(o, &usbsim_option_specs[i]))
			return TRUE;
	}
	return FALSE;
}

static void
usbsim_options_clear(UsbsimOptions *o)
{
	for (guint i = 0; i < G_N_ELEMENTS(usbsim_option_specs); i++) {
		const UsbsimOptionSpec *spec = &usbsim_option_specs[i];
		gpointer value = usbsim_option_value(o, spec);
		if (spec->entry.arg == G_OPTION_ARG_STRING ||
		    spec->entry.arg == G_OPTION_ARG_FILENAME)
			g_clear_pointer((gchar **)value, g_free);
		else if (spec->entry.arg == G_OPTION_ARG_STRING_ARRAY)
			g_clear_pointer((gchar ***)value, g_strfreev);
	}
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(UsbsimOptions, usbsim_options_clear)

/* the options the DFU 1.1 and DfuSe models share, parsed the same way for both */
static gboolean
usbsim_configure_dfu_common(
    const UsbsimOptions *o,
    UsbsimDfuSettings *settings,
    UsbsimDfuIds *ids,
    guint32 *flash_size, /* checked against the model's geometry by the caller */
    guint16 *transfer_size,
    GError **error)
{
	const UsbsimOption opts[] = {
	    USBSIM_CHOICE_OPTION(o->mode,
				 usbsim_mode_choices,
				 "--mode must be runtime or dfu",
				 &settings->initial_mode),
	    /* over a profile's IDs */
	    USBSIM_UINT_OPTION(o->vid, "vid", 0xffff, NULL, &ids->vid),
	    USBSIM_UINT_OPTION(o->runtime_pid, "runtime-pid", 0xffff, NULL, &ids->runtime_pid),
	    USBSIM_UINT_OPTION(o->dfu_pid, "dfu-pid", 0xffff, NULL, &ids->dfu_pid),
	    USBSIM_UINT_OPTION(o->bcd_device, "bcd-device", 0xffff, NULL, &settings->bcd_device),
	    USBSIM_UINT_OPTION(o->flash_size, "flash-size", 64 * 1024 * 1024, NULL, flash_size),
	    USBSIM_UINT_OPTION(o->transfer_size,
			       "transfer-size",
			       0xffff,
			       "transfer size must not be zero",
			       transfer_size),
	    USBSIM_UINT_OPTION(o->alts, "alts", 255, "alts must be at least 1", &settings->alts),
	    USBSIM_UINT_OPTION(o->version_offset,
			       "version-offset",
			       G_MAXUINT32,
			       NULL,
			       &settings->version_offset),
	    USBSIM_UINT_OPTION(o->seed, "seed", G_MAXUINT32, NULL, &settings->seed),
	    USBSIM_CHOICE_OPTION(o->hostile_poll_timeout,
				 usbsim_poll_choices,
				 "--hostile-poll-timeout must be max, alternate or random",
				 &settings->poll),
	    USBSIM_CHOICE_OPTION(o->early_poll,
				 usbsim_early_poll_choices,
				 "--early-poll must be answer or stall",
				 &settings->early_poll_stalls),
	};

	settings->time_scale = o->time_scale;
	settings->func_desc_every_alt = o->func_desc_every_alt;
	settings->stall_functional_request = o->stall_functional_request;
	if (!usbsim_parse_options(opts, G_N_ELEMENTS(opts), error))
		return FALSE;
	if (o->serial != NULL) {
		g_free(settings->serial);
		settings->serial = g_strdup(o->serial);
	}
	for (guint i = 0; o->faults != NULL && o->faults[i] != NULL; i++) {
		UsbsimFault fault;
		if (!usbsim_fault_parse(o->faults[i], &fault, error))
			return FALSE;
		g_array_append_val(settings->faults, fault);
	}
	return TRUE;
}

/* the DFU 1.1 model of a profile, as the command line configures it: the shared options and
 * its own */
static UsbsimDfu *
usbsim_model_dfu_new(const UsbsimDfuProfile *profile, const UsbsimOptions *o, GError **error)
{
	g_auto(UsbsimDfuConfig) config = {0};
	/* --manifest-status is checked between the manifestation options and the attributes */
	const UsbsimOption manifestation[] = {
	    USBSIM_BOOL_OPTION(o->manifest_tolerant,
			       "--manifest-tolerant",
			       &config.manifest_tolerant),
	    USBSIM_CHOICE_OPTION(o->manifest_ending,
				 usbsim_ending_choices,
				 "--manifest-ending must be wait-reset, reset or silent",
				 &config.ending),
	};
	const UsbsimOption attributes[] = {
	    USBSIM_BOOL_OPTION(o->app_dfu, "--app-dfu", &config.app_has_dfu),
	    USBSIM_BOOL_OPTION(o->will_detach, "--will-detach", &config.will_detach),
	    USBSIM_BOOL_OPTION(o->can_upload, "--can-upload", &config.can_upload),
	    USBSIM_BOOL_OPTION(o->can_download, "--can-download", &config.can_download),
	};

	usbsim_dfu_config_init(&config, profile);
	if (!usbsim_configure_dfu_common(o,
					 &config.common,
					 &config.profile.ids,
					 &config.profile.flash_size,
					 &config.profile.transfer_size,
					 error))
		return NULL;
	if (o->flash_size != NULL && (config.profile.flash_size == 0 ||
				      config.profile.flash_size % config.profile.page_size != 0)) {
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_INVALID_ARGUMENT,
			    "flash size must be a non-zero multiple of the %u byte page",
			    config.profile.page_size);
		return NULL;
	}
	if (!usbsim_parse_options(manifestation, G_N_ELEMENTS(manifestation), error))
		return NULL;
	if (o->manifest_status != NULL) {
		gint status = USBSIM_DFU_STATUS_ERR_STALLEDPKT;
		while (status >= 0 &&
		       g_strcmp0(o->manifest_status, usbsim_dfu_status_to_string(status)) != 0)
			status--;
		if (status < 0) {
			g_set_error(
			    error,
			    G_IO_ERROR,
			    G_IO_ERROR_INVALID_ARGUMENT,
			    "--manifest-status '%s' is not a DFU status (OK, errTARGET, ...)",
			    o->manifest_status);
			return NULL;
		}
		config.manifest_status = status;
	}
	if (!usbsim_parse_options(attributes, G_N_ELEMENTS(attributes), error) ||
	    !usbsim_harness_read_flash(o->flash_in, &config.common.flash_in, error))
		return NULL;
	return usbsim_dfu_new(&config);
}

/* the DfuSe model of a part, as the command line configures it: the shared options, its own,
 * and the DFU 1.1 attributes as the functional descriptor's bits */
static UsbsimDfuse *
usbsim_model_dfuse_new(const UsbsimDfuseProfile *part, const UsbsimOptions *o, GError **error)
{
	g_auto(UsbsimDfuseConfig) config = {0};
	UsbsimDfuseProfile *profile = &config.profile;
	/* 'always' is busy from the first operation on; the DFU 1.1 attributes are bits of the
	 * functional descriptor's bmAttributes */
	const UsbsimOption opts[] = {
	    USBSIM_UINT_OPTION(g_strcmp0(o->stuck_busy, "always") == 0 ? "1" : o->stuck_busy,
			       "stuck-busy",
			       G_MAXUINT32,
			       "--stuck-busy counts from 1, or is 'always'",
			       &config.stuck_busy_from),
	    USBSIM_BIT_OPTION(o->can_download, "--can-download", &profile->attributes, 0x01),
	    USBSIM_BIT_OPTION(o->can_upload, "--can-upload", &profile->attributes, 0x02),
	    USBSIM_BIT_OPTION(o->manifest_tolerant,
			      "--manifest-tolerant",
			      &profile->attributes,
			      0x04),
	    USBSIM_BIT_OPTION(o->will_detach, "--will-detach", &profile->attributes, 0x08),
	    USBSIM_BIT_OPTION(o->can_accelerate, "--can-accelerate", &profile->attributes, 0x80),
	    USBSIM_CHOICE_OPTION(o->block_stride,
				 usbsim_stride_choices,
				 "--block-stride must be wlength or transfer-size",
				 &config.stride_transfer_size),
	};

	usbsim_dfuse_config_init(&config, part);
	if (!usbsim_configure_dfu_common(o,
					 &config.common,
					 &profile->ids,
					 &profile->flash_size,
					 &profile->transfer_size,
					 error))
		return NULL;
	if (o->flash_size != NULL &&
	    !usbsim_dfuse_check_flash_size(profile, profile->flash_size, error))
		return NULL;
	config.bogus_set_address_timeout = o->bogus_set_address_timeout;
	config.zero_poll_timeout = o->zero_poll_timeout;
	config.short_mass_erase_timeout = o->short_mass_erase_timeout;
	config.stall_early_poll_during_erase = o->stall_early_poll_during_erase;
	config.read_protected = o->read_protected;
	config.no_product_string = o->no_product_string;
	/* the internal flash reports this string; its real geometry stays the profile's */
	if (o->flash_layout != NULL)
		profile->flash_layout_reported = o->flash_layout;
	if (!usbsim_parse_options(opts, G_N_ELEMENTS(opts), error) ||
	    !usbsim_harness_read_flash(o->flash_in, &config.common.flash_in, error))
		return NULL;
	return usbsim_dfuse_new(&config);
}

/* the stm32h7-cobs profile: only the options that mean something to a CDC ACM device */
static UsbsimCobs *
usbsim_model_cobs_new(const UsbsimOptions *options,
		      const UsbsimCobsOptions *cobs_options,
		      GError **error)
{
	UsbsimCobsConfig config;
	UsbsimCobs *cobs = NULL;
	const UsbsimOption numbers[] = {
	    USBSIM_UINT_OPTION(options->vid, "vid", 0xffff, NULL, &config.vid),
	    USBSIM_UINT_OPTION(options->bcd_device, "bcd-device", 0xffff, NULL, &config.bcd_device),
	    USBSIM_UINT_OPTION(options->seed, "seed", G_MAXUINT32, NULL, &config.seed),
	    USBSIM_UINT_OPTION(options->flash_size,
			       "flash-size",
			       64 * 1024 * 1024,
			       NULL,
			       &config.flash_size),
	};

	usbsim_cobs_config_init(&config);
	config.time_scale = options->time_scale;
	if (usbsim_options_have(options, USBSIM_FOR_DFU_MODELS) ||
	    usbsim_options_have(options, USBSIM_FOR_DFU11)) {
		g_set_error_literal(error,
				    G_IO_ERROR,
				    G_IO_ERROR_INVALID_ARGUMENT,
				    "the DFU options do not apply to the " USBSIM_COBS_PROFILE_NAME
				    " profile (its faults are the --cobs-* options)");
	}
	if (*error == NULL && usbsim_parse_options(numbers, G_N_ELEMENTS(numbers), error) &&
	    options->flash_size != NULL &&
	    (config.flash_size == 0 || config.flash_size % config.sector_size != 0))
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_INVALID_ARGUMENT,
			    "flash size must be a non-zero multiple of the %u byte sector",
			    config.sector_size);
	if (*error == NULL && options->serial != NULL) {
		g_free(config.serial);
		config.serial = g_strdup(options->serial);
	}
	if (*error == NULL)
		usbsim_cobs_options_apply(cobs_options, &config, error);
	if (*error == NULL)
		usbsim_harness_read_flash(options->flash_in, &config.flash_in, error);
	if (*error == NULL)
		cobs = usbsim_cobs_new(&config);
	usbsim_cobs_config_clear(&config);
	return cobs;
}

/* serves a model built from the command line, or says why there is none */
static gint
usbsim_run_model(UsbsimModel *model,
		 gchar **client_argv,
		 const gchar *flash_out,
		 const gchar *trace,
		 guint timeout_s,
		 const GError *error)
{
	if (error != NULL) {
		g_printerr("usbsim-run: %s\n", error->message);
		return USBSIM_EXIT_SETUP;
	}
	if (!usbsim_harness_setup_tmpdir())
		return USBSIM_EXIT_SETUP;
	return usbsim_run(model, client_argv, flash_out, trace, timeout_s);
}

int
main(int argc, char **argv)
{
	/* GOption replaces a string without freeing what was there: no allocated default */
	g_auto(UsbsimOptions) o = {.time_scale = 1.0};
	g_autofree gchar *profile_name = NULL;
	g_autofree gchar *trace = NULL;
	g_auto(GStrv) client_argv = NULL;
	gboolean list_profiles = FALSE;
	gboolean json = FALSE;
	gint timeout_s = 120;
	const UsbsimDfuseProfile *dfuse_profile;
	const UsbsimDfuProfile *profile;
	g_autoptr(GError) error = NULL;
	g_autoptr(GOptionContext) context = NULL;
	/* its values are made with its option group, and freed on every way out */
	g_auto(UsbsimCobsOptions) cobs_options = {NULL};
	g_autoptr(UsbsimDfu) dfu = NULL;
	g_autoptr(UsbsimDfuse) dfuse = NULL;
	g_autoptr(UsbsimCobs) cobs = NULL;
	UsbsimModel model = {NULL};
	const GOptionEntry head[] = {
	    {"profile", 0, 0, G_OPTION_ARG_STRING, &profile_name, "Timing profile", "NAME"},
	    USBSIM_HARNESS_LIST_PROFILES_ENTRIES(&list_profiles, &json),
	};
	const GOptionEntry tail[] = {
	    {"trace", 0, 0, G_OPTION_ARG_FILENAME, &trace, "JSON lines trace", "FILE"},
	    {"timeout", 0, 0, G_OPTION_ARG_INT, &timeout_s, "Client timeout", "SECONDS"},
	    {"verbose", 'v', 0, G_OPTION_ARG_NONE, &usbsim_verbose, "Log more", NULL},
	    {G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &client_argv, NULL, NULL},
	    {NULL}};
	g_autoptr(GArray) entries = g_array_new(FALSE, FALSE, sizeof(GOptionEntry));

	usbsim_harness_reexec_under_preload(argv);

	/* a client's '-x' style arguments after "--" belong to the client */
	context = g_option_context_new("-- CLIENT [ARGS...]");
	g_option_context_set_summary(context, "Run a client against a simulated USB DFU device");
	g_array_append_vals(entries, head, G_N_ELEMENTS(head));
	usbsim_options_add_entries(&o, entries);
	g_array_append_vals(entries, tail, G_N_ELEMENTS(tail));
	g_option_context_add_main_entries(context, (const GOptionEntry *)entries->data, NULL);
	g_option_context_add_group(context, usbsim_cobs_option_group(&cobs_options));
	if (!g_option_context_parse(context, &argc, &argv, &error)) {
		g_printerr("usbsim-run: %s\n", error->message);
		return USBSIM_EXIT_SETUP;
	}
	if (profile_name == NULL)
		profile_name = g_strdup("stm32f1-dfu");
	if (list_profiles && json) {
		usbsim_list_profiles_json();
		return EXIT_SUCCESS;
	}
	if (list_profiles) {
		usbsim_list_profiles();
		return EXIT_SUCCESS;
	}
	usbsim_harness_set_log("usbsim-run", &usbsim_verbose);
	if (client_argv == NULL || client_argv[0] == NULL) {
		g_printerr(
		    "usbsim-run: no client given; usage: usbsim-run [OPTIONS] -- CLIENT...\n");
		return USBSIM_EXIT_SETUP;
	}
	if (o.time_scale < 0 || timeout_s <= 0) {
		g_printerr("usbsim-run: --time-scale and --timeout must be positive\n");
		return USBSIM_EXIT_SETUP;
	}
	model.time_scale = o.time_scale;
	if (g_strcmp0(profile_name, USBSIM_COBS_PROFILE_NAME) == 0) {
		if (usbsim_options_have(&o, USBSIM_FOR_DFUSE)) {
			g_printerr("usbsim-run: the DfuSe options need a DfuSe profile\n");
			return USBSIM_EXIT_SETUP;
		}
		cobs = usbsim_model_cobs_new(&o, &cobs_options, &error);
		model.ops = usbsim_cobs_ops();
		model.cobs = cobs;
		return usbsim_run_model(&model, client_argv, o.flash_out, trace, timeout_s, error);
	}
	if (usbsim_cobs_options_given(&cobs_options)) {
		g_printerr(
		    "usbsim-run: the --cobs-* and --pid options need the " USBSIM_COBS_PROFILE_NAME
		    " profile\n");
		return USBSIM_EXIT_SETUP;
	}
	dfuse_profile = usbsim_dfuse_profile_find(profile_name);
	if (dfuse_profile != NULL) {
		if (usbsim_options_have(&o, USBSIM_FOR_DFU11)) {
			g_printerr("usbsim-run: --manifest-ending, --manifest-status and --app-dfu "
				   "need a DFU 1.1 profile\n");
			return USBSIM_EXIT_SETUP;
		}
		dfuse = usbsim_model_dfuse_new(dfuse_profile, &o, &error);
		model.ops = usbsim_dfuse_ops();
		model.dfuse = dfuse;
		return usbsim_run_model(&model, client_argv, o.flash_out, trace, timeout_s, error);
	}
	if (usbsim_options_have(&o, USBSIM_FOR_DFUSE)) {
		g_printerr("usbsim-run: the DfuSe options need a DfuSe profile\n");
		return USBSIM_EXIT_SETUP;
	}
	profile = usbsim_dfu_profile_find(profile_name);
	if (profile == NULL) {
		g_printerr("usbsim-run: unknown profile '%s'\n", profile_name);
		return USBSIM_EXIT_SETUP;
	}
	dfu = usbsim_model_dfu_new(profile, &o, &error);
	model.ops = usbsim_dfu_ops();
	model.dfu = dfu;
	return usbsim_run_model(&model, client_argv, o.flash_out, trace, timeout_s, error);
}
