/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <gio/gio.h>
#include <math.h>
#include <string.h>

#include "usbsim-dfu-common.h"

static const UsbsimDfuProfile usbsim_dfu_profile_stm32f1 = {
    .name = "stm32f1-dfu",
    .description = "STM32F1-class DFU 1.1 bootloader, 1 KiB pages",
    .ids = {.vid = 0x1209, .runtime_pid = 0x0010, .dfu_pid = 0x0011},
    .flash_size = 64 * 1024,
    .page_size = 1024,
    .transfer_size = 1024,
    .erase_typ_us = 20000,
    .erase_max_us = 40000,
    .program_unit = 2,
    .program_typ_ns = 52500,
    .program_max_ns = 70000,
    .report_erase_ms = 20,
    .report_program_ms = 27,
    .report_block = 1024,
    .manifest_ms = 10,
    .product = "usbsim STM32F1 DFU",
};

static const UsbsimDfuProfile usbsim_dfu_profile_gd32vf103 = {
    .name = "gd32vf103-dfu",
    .description = "GD32VF103-class bootloader speaking plain DFU 1.1, 1 KiB pages",
    .ids = {.vid = 0x1209, .runtime_pid = 0x0012, .dfu_pid = 0x0013},
    .flash_size = 128 * 1024,
    .page_size = 1024,
    .transfer_size = 2048,
    .erase_typ_us = 50000,
    .erase_max_us = 400000,
    .program_unit = 4,
    .program_typ_ns = 37500,
    .program_max_ns = 105000,
    .report_erase_ms = 100,
    .report_program_ms = 104,
    .report_block = 2048,
    .manifest_ms = 10,
    .product = "usbsim GD32VF103 DFU",
};

static const UsbsimDfuProfile *const usbsim_dfu_profile_list[] = {
    &usbsim_dfu_profile_stm32f1,
    &usbsim_dfu_profile_gd32vf103,
    NULL,
};

const UsbsimDfuProfile *const *
usbsim_dfu_profiles(void)
{
	return usbsim_dfu_profile_list;
}

const UsbsimDfuProfile *
usbsim_dfu_profile_find(const gchar *name)
{
	for (guint i = 0; usbsim_dfu_profile_list[i] != NULL; i++) {
		if (g_strcmp0(usbsim_dfu_profile_list[i]->name, name) == 0)
			return usbsim_dfu_profile_list[i];
	}
	return NULL;
}

void
usbsim_dfu_config_init(UsbsimDfuConfig *config, const UsbsimDfuProfile *profile)
{
	memset(config, 0, sizeof(*config));
	config->profile = *profile;
	usbsim_dfu_settings_init(&config->common, USBSIM_DFU_MODE_RUNTIME, 0x0100);
	config->common.serial = g_strdup("USBSIM0001");
	config->common.alts = 1;
	config->manifest_tolerant = TRUE;
	config->ending = USBSIM_DFU_ENDING_WAIT_RESET;
	config->app_has_dfu = TRUE;
	config->will_detach = FALSE;
	config->can_upload = TRUE;
	config->can_download = TRUE;
	config->detach_timeout_ms = 1000;
}

void
usbsim_dfu_config_clear(UsbsimDfuConfig *config)
{
	usbsim_dfu_settings_clear(&config->common);
}

static const gchar *usbsim_dfu_request_names[] =
    {"detach", "dnload", "upload", "getstatus", "clrstatus", "getstate", "abort"};

const gchar *
usbsim_dfu_request_to_string(gint request)
{
	if (request < 0 || request >= USBSIM_DFU_REQUEST_LAST)
		return NULL;
	return usbsim_dfu_request_names[request];
}

static const gchar *usbsim_dfu_state_names[] = {"appIDLE",
						"appDETACH",
						"dfuIDLE",
						"dfuDNLOAD-SYNC",
						"dfuDNBUSY",
						"dfuDNLOAD-IDLE",
						"dfuMANIFEST-SYNC",
						"dfuMANIFEST",
						"dfuMANIFEST-WAIT-RESET",
						"dfuUPLOAD-IDLE",
						"dfuERROR"};

const gchar *
usbsim_dfu_state_to_string(gint state)
{
	if (state < 0 || state > USBSIM_DFU_STATE_ERROR)
		return NULL;
	return usbsim_dfu_state_names[state];
}

static const gchar *usbsim_dfu_status_names[] = {"OK",
						 "errTARGET",
						 "errFILE",
						 "errWRITE",
						 "errERASE",
						 "errCHECK_ERASED",
						 "errPROG",
						 "errVERIFY",
						 "errADDRESS",
						 "errNOTDONE",
						 "errFIRMWARE",
						 "errVENDOR",
						 "errUSBR",
						 "errPOR",
						 "errUNKNOWN",
						 "errSTALLEDPKT"};

const gchar *
usbsim_dfu_status_to_string(gint status)
{
	if (status < 0 || status > USBSIM_DFU_STATUS_ERR_STALLEDPKT)
		return NULL;
	return usbsim_dfu_status_names[status];
}

/* KIND:REQUEST:N, e.g. stall:dnload:3 or errVERIFY:getstatus:10 */
gboolean
usbsim_fault_parse(const gchar *spec, UsbsimFault *fault, GError **error)
{
	g_auto(GStrv) parts = g_strsplit(spec, ":", -1);
	guint64 count = 0;

	if (g_strv_length(parts) != 3) {
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_INVALID_ARGUMENT,
			    "fault '%s' is not KIND:REQUEST:N",
			    spec);
		return FALSE;
	}
	memset(fault, 0, sizeof(*fault));
	if (g_strcmp0(parts[0], "stall") == 0) {
		fault->kind = USBSIM_FAULT_STALL;
	} else if (g_strcmp0(parts[0], "timeout") == 0) {
		fault->kind = USBSIM_FAULT_TIMEOUT;
	} else if (g_strcmp0(parts[0], "unplug") == 0) {
		fault->kind = USBSIM_FAULT_UNPLUG;
	} else if (g_strcmp0(parts[0], "corrupt") == 0) {
		fault->kind = USBSIM_FAULT_CORRUPT;
	} else if (g_strcmp0(parts[0], "short") == 0) {
		fault->kind = USBSIM_FAULT_SHORT;
	} else if (g_strcmp0(parts[0], "powerloss") == 0) {
		fault->kind = USBSIM_FAULT_POWER_LOSS;
	} else {
		gboolean found = FALSE;
		for (guint i = 1; i < G_N_ELEMENTS(usbsim_dfu_status_names); i++) {
			if (g_ascii_strcasecmp(parts[0], usbsim_dfu_status_names[i]) == 0) {
				fault->kind = USBSIM_FAULT_STATUS;
				fault->status = i;
				found = TRUE;
			}
		}
		if (!found) {
			g_set_error(error,
				    G_IO_ERROR,
				    G_IO_ERROR_INVALID_ARGUMENT,
				    "unknown fault kind '%s'",
				    parts[0]);
			return FALSE;
		}
	}
	if (g_strcmp0(parts[1], "any") == 0) {
		fault->request = USBSIM_DFU_REQUEST_ANY;
	} else {
		fault->request = -2;
		for (guint i = 0; i < USBSIM_DFU_REQUEST_LAST; i++) {
			if (g_strcmp0(parts[1], usbsim_dfu_request_names[i]) == 0)
				fault->request = i;
		}
		if (fault->request == -2) {
			g_set_error(error,
				    G_IO_ERROR,
				    G_IO_ERROR_INVALID_ARGUMENT,
				    "unknown fault request '%s'",
				    parts[1]);
			return FALSE;
		}
	}
	if (!g_ascii_string_to_unsigned(parts[2], 10, 1, G_MAXUINT, &count, error)) {
		g_prefix_error(error, "fault '%s': ", spec);
		return FALSE;
	}
	fault->count = count;
	return TRUE;
}

struct _UsbsimDfu {
	UsbsimDfuCore core; /* first: the model is a UsbsimDfuCore */
	UsbsimDfuConfig config;
	guint8 *flash;
	gboolean image_valid; /* what a reset in DFU mode boots */

	/* download session */
	guint32 dnload_offset;
	guint16 dnload_next_block;
	gboolean *page_erased; /* erased during this session */
	GByteArray *pending_block;
	gboolean block_done;

	guint32 upload_offset;

	GRand *rand;
	UsbsimDfuStats stats;
	gdouble *page_erase_us; /* real erase time of each page when last erased, scale 1.0 */
	gdouble program_us;	/* real program time of the run, scale 1.0 */
};

static const UsbsimDfuCoreClass usbsim_dfu_core_class;

static guint
usbsim_dfu_page_count(UsbsimDfu *self)
{
	return (self->config.profile.flash_size + self->config.profile.page_size - 1) /
	       self->config.profile.page_size;
}

UsbsimDfu *
usbsim_dfu_new(const UsbsimDfuConfig *config)
{
	UsbsimDfu *self = g_new0(UsbsimDfu, 1);
	const UsbsimDfuProfile *profile = &config->profile;

	self->config = *config;
	usbsim_dfu_settings_keep(&self->config.common);
	self->flash = g_malloc(profile->flash_size);
	memset(self->flash, 0xff, profile->flash_size);
	if (config->common.flash_in != NULL) {
		gsize len = 0;
		const guint8 *data = g_bytes_get_data(config->common.flash_in, &len);
		memcpy(self->flash, data, MIN(len, profile->flash_size));
	}
	self->page_erased = g_new0(gboolean, usbsim_dfu_page_count(self));
	self->page_erase_us = g_new0(gdouble, usbsim_dfu_page_count(self));
	self->pending_block = g_byte_array_new();
	self->rand = g_rand_new_with_seed(config->common.seed);

	/* an application is present when the start of the flash holds anything */
	for (guint i = 0; i < MIN(16u, profile->flash_size); i++) {
		if (self->flash[i] != 0xff)
			self->image_valid = TRUE;
	}
	usbsim_dfu_core_init(&self->core,
			     &usbsim_dfu_core_class,
			     &config->common,
			     &self->stats.counts);
	self->core.app_has_dfu = config->app_has_dfu;
	self->core.will_detach = config->will_detach;
	self->core.detach_timeout_ms = config->detach_timeout_ms;
	return self;
}

void
usbsim_dfu_free(UsbsimDfu *self)
{
	usbsim_dfu_core_clear(&self->core);
	usbsim_dfu_settings_clear(&self->config.common);
	g_free(self->flash);
	g_free(self->page_erased);
	g_free(self->page_erase_us);
	g_byte_array_unref(self->pending_block);
	g_rand_free(self->rand);
	g_free(self);
}

UsbsimDfuMode
usbsim_dfu_get_mode(UsbsimDfu *self)
{
	return self->core.mode;
}

UsbsimDfuState
usbsim_dfu_get_state(UsbsimDfu *self)
{
	return self->core.state;
}

UsbsimDfuStatus
usbsim_dfu_get_status(UsbsimDfu *self)
{
	return self->core.status;
}

GBytes *
usbsim_dfu_get_flash(UsbsimDfu *self)
{
	return g_bytes_new(self->flash, self->config.profile.flash_size);
}

const UsbsimDfuStats *
usbsim_dfu_get_stats(UsbsimDfu *self)
{
	return &self->stats;
}

/* the application's version is stored in its image; an erased word means none */
guint16
usbsim_dfu_get_runtime_version(UsbsimDfu *self)
{
	return usbsim_dfu_core_read_version(self->flash,
					    self->config.profile.flash_size,
					    self->config.common.version_offset,
					    self->config.common.bcd_device);
}

/* reported times shrink with the scale but a non-zero figure never reads as zero */
static guint32
usbsim_dfu_scale_report_ms(UsbsimDfu *self, gdouble ms)
{
	gdouble scaled = ms * self->config.common.time_scale;
	if (ms <= 0)
		return 0;
	return MAX(1, (guint32)ceil(scaled));
}

/* a device that waits for a reset is done with its manifestation in time */
static void
usbsim_dfu_advance(UsbsimDfuCore *core, gint64 now_us)
{
	if (core->state == USBSIM_DFU_STATE_MANIFEST && now_us >= core->busy_until_us &&
	    !core->reenumeration_pending)
		core->state = USBSIM_DFU_STATE_MANIFEST_WAIT_RESET;
}

/* a hostile device puts its own figure into every status reply, busy or not */
guint32
usbsim_poll_reported(UsbsimPoll poll, guint n, GRand *rand, guint32 poll_ms)
{
	switch (poll) {
	case USBSIM_POLL_MAX:
		return USBSIM_POLL_TIMEOUT_FIELD_MAX;
	case USBSIM_POLL_ALTERNATE:
		return n % 2 == 0 ? 0 : USBSIM_POLL_TIMEOUT_FIELD_MAX;
	case USBSIM_POLL_RANDOM:
		return (guint32)g_rand_int_range(rand, 0, USBSIM_POLL_TIMEOUT_FIELD_MAX + 1);
	case USBSIM_POLL_HONEST:
		break;
	}
	return poll_ms;
}

static void
usbsim_dfu_accept_block(UsbsimDfu *self,
			const UsbsimSetup *setup,
			const guint8 *data,
			gsize len,
			UsbsimReply *reply)
{
	if (setup->value != self->dnload_next_block)
		self->stats.counts.blocks_out_of_sequence++;
	self->dnload_next_block = setup->value + 1;
	g_byte_array_set_size(self->pending_block, 0);
	g_byte_array_append(self->pending_block, data, len);
	self->block_done = FALSE;
	self->core.state = USBSIM_DFU_STATE_DNLOAD_SYNC;
}

/* erase what the block needs, program it; returns the busy time and the reported time */
static UsbsimDfuStatus
usbsim_dfu_write_block(UsbsimDfu *self, gint64 *busy_us, gdouble *report_ms)
{
	const UsbsimDfuProfile *profile = &self->config.profile;
	guint32 len = self->pending_block->len;
	guint32 offset = self->dnload_offset;
	gdouble busy = 0;
	gdouble report = 0;
	gdouble program;
	guint units;

	*busy_us = 0;
	*report_ms = 0;
	if ((guint64)offset + len > profile->flash_size)
		return USBSIM_DFU_STATUS_ERR_ADDRESS;
	for (guint32 page = offset / profile->page_size;
	     page <= (offset + len - 1) / profile->page_size;
	     page++) {
		if (self->page_erased[page])
			continue;
		memset(self->flash + (gsize)page * profile->page_size, 0xff, profile->page_size);
		self->page_erased[page] = TRUE;
		self->stats.pages_erased++;
		self->page_erase_us[page] =
		    g_rand_double_range(self->rand, profile->erase_typ_us, profile->erase_max_us);
		busy += self->page_erase_us[page];
		report += profile->report_erase_ms;
		usbsim_ranges_add(self->core.log.erased,
				  0,
				  page * profile->page_size,
				  profile->page_size);
		usbsim_flash_log_event(&self->core.log,
				       "\"event\":\"erase\",\"alt\":0,\"address\":%u,\"size\":%u,"
				       "\"mass\":false,\"status\":0",
				       page * profile->page_size,
				       profile->page_size);
	}

	/* flash only clears bits: writing over programmed cells is an error */
	for (guint32 i = 0; i < len; i++) {
		if (self->flash[offset + i] != 0xff) {
			self->core.log.writes_not_erased++;
			usbsim_flash_log_event(&self->core.log,
					       "\"event\":\"write\",\"alt\":0,\"address\":%u,"
					       "\"length\":%u,\"erased\":false,\"status\":%d",
					       offset,
					       len,
					       USBSIM_DFU_STATUS_ERR_CHECK_ERASED);
			return USBSIM_DFU_STATUS_ERR_CHECK_ERASED;
		}
	}
	memcpy(self->flash + offset, self->pending_block->data, len);
	units = (len + profile->program_unit - 1) / profile->program_unit;
	program =
	    units *
	    g_rand_double_range(self->rand, profile->program_typ_ns, profile->program_max_ns) /
	    1000.0;
	busy += program;
	self->program_us += program;
	report += (gdouble)profile->report_program_ms * len / profile->report_block;
	usbsim_ranges_add(self->core.log.written, 0, offset, len);
	usbsim_flash_log_event(&self->core.log,
			       "\"event\":\"write\",\"alt\":0,\"address\":%u,\"length\":%u,"
			       "\"erased\":true,\"status\":0",
			       offset,
			       len);

	self->dnload_offset += len;
	self->stats.counts.bytes_programmed += len;
	*busy_us = usbsim_dfu_core_scale_us(&self->core, busy);
	*report_ms = report;
	return USBSIM_DFU_STATUS_OK;
}

static void
usbsim_dfu_getstatus_dnload_sync(UsbsimDfuCore *core, gint64 now_us, UsbsimReply *reply)
{
	UsbsimDfu *self = (UsbsimDfu *)core;
	UsbsimDfuStatus result;
	gint64 busy_us = 0;
	gdouble report_ms = 0;

	if (self->block_done) {
		self->core.state = USBSIM_DFU_STATE_DNLOAD_IDLE;
		usbsim_dfu_core_answer_status(&self->core, 0, reply);
		return;
	}
	if (self->core.pending_status != USBSIM_DFU_STATUS_OK) {
		result = self->core.pending_status;
		self->core.pending_status = USBSIM_DFU_STATUS_OK;
	} else {
		result = usbsim_dfu_write_block(self, &busy_us, &report_ms);
	}
	if (result != USBSIM_DFU_STATUS_OK) {
		self->core.state = USBSIM_DFU_STATE_ERROR;
		self->core.status = result;
		usbsim_dfu_core_answer_status(&self->core, 0, reply);
		return;
	}
	/* programmed: the next GETSTATUS once the device is no longer busy ends the block */
	self->block_done = TRUE;
	self->core.busy_until_us = now_us + busy_us;
	self->stats.counts.busy_us += busy_us;
	self->core.state = USBSIM_DFU_STATE_DNBUSY;
	usbsim_dfu_core_answer_status(&self->core,
				      usbsim_dfu_scale_report_ms(self, report_ms),
				      reply);
}

static void
usbsim_dfu_getstatus_busy(UsbsimDfuCore *core, gint64 now_us, UsbsimReply *reply)
{
	UsbsimDfu *self = (UsbsimDfu *)core;
	gint64 remaining_us = self->core.busy_until_us - now_us;

	usbsim_dfu_core_early_poll(&self->core, reply);
	if (self->core.early_poll_stalls) {
		usbsim_dfu_core_stall_error(&self->core, USBSIM_DFU_STATUS_ERR_STALLEDPKT, reply);
		return;
	}
	usbsim_dfu_core_answer_status(&self->core, MAX(1, (remaining_us + 999) / 1000), reply);
}

static void
usbsim_dfu_getstatus_manifest_sync(UsbsimDfuCore *core, gint64 now_us, UsbsimReply *reply)
{
	UsbsimDfu *self = (UsbsimDfu *)core;
	const UsbsimDfuProfile *profile = &self->config.profile;
	gint64 busy_us;

	self->stats.manifestations++;

	/* the image check fails (a CRC or signature of the image): nothing is started */
	if (self->config.manifest_status != USBSIM_DFU_STATUS_OK) {
		self->core.state = USBSIM_DFU_STATE_ERROR;
		self->core.status = self->config.manifest_status;
		usbsim_dfu_core_answer_status(&self->core, 0, reply);
		return;
	}
	self->image_valid = TRUE;

	/* everything was programmed during the download: a tolerant device is done at once */
	if (self->config.manifest_tolerant) {
		self->core.state = USBSIM_DFU_STATE_DFU_IDLE;
		usbsim_dfu_core_answer_status(&self->core, 0, reply);
		return;
	}
	busy_us = usbsim_dfu_core_scale_us(&self->core, profile->manifest_ms * 1000.0);
	self->core.busy_until_us = now_us + busy_us;
	self->stats.counts.busy_us += busy_us;
	self->core.state = USBSIM_DFU_STATE_MANIFEST;
	if (self->config.ending != USBSIM_DFU_ENDING_WAIT_RESET) {
		/* it resets itself into the application */
		usbsim_dfu_core_schedule_reenumeration(&self->core,
						       busy_us,
						       USBSIM_DFU_MODE_RUNTIME);
	}
	if (self->config.ending == USBSIM_DFU_ENDING_SILENT) {
		reply->outcome = USBSIM_OUTCOME_TIMEOUT;
		return;
	}
	usbsim_dfu_core_answer_status(&self->core,
				      usbsim_dfu_scale_report_ms(self, profile->manifest_ms),
				      reply);
}

static void
usbsim_dfu_upload(UsbsimDfu *self, const UsbsimSetup *setup, UsbsimReply *reply)
{
	guint32 remaining = self->config.profile.flash_size - self->upload_offset;
	guint32 len = MIN(setup->length, remaining);

	g_byte_array_append(reply->data, self->flash + self->upload_offset, len);
	self->upload_offset += len;
	self->stats.counts.bytes_uploaded += len;

	/* a short frame ends the upload */
	self->core.state = len < setup->length ? USBSIM_DFU_STATE_DFU_IDLE
					       : USBSIM_DFU_STATE_UPLOAD_IDLE;
}
/* dfuIDLE starts a download session, dfuDNLOAD-IDLE goes on with it or ends it */
static void
usbsim_dfu_dnload(UsbsimDfuCore *core,
		  const UsbsimSetup *setup,
		  const guint8 *data,
		  gsize len,
		  UsbsimReply *reply)
{
	UsbsimDfu *self = (UsbsimDfu *)core;
	gboolean first = core->state == USBSIM_DFU_STATE_DFU_IDLE;

	if (!first && setup->length == 0) {
		core->state = USBSIM_DFU_STATE_MANIFEST_SYNC;
		return;
	}
	if ((first && (!self->config.can_download || setup->length == 0)) ||
	    setup->length > self->config.profile.transfer_size) {
		usbsim_dfu_core_stall_error(core, USBSIM_DFU_STATUS_ERR_STALLEDPKT, reply);
		return;
	}
	if (first) {
		/* a new download session starts at offset 0 with a fresh erase */
		self->dnload_offset = 0;
		self->dnload_next_block = setup->value;
		memset(self->page_erased, 0, usbsim_dfu_page_count(self) * sizeof(gboolean));
		self->image_valid = FALSE;
	}
	usbsim_dfu_accept_block(self, setup, data, len, reply);
}

/* dfuIDLE starts an upload from offset 0, dfuUPLOAD-IDLE goes on with it */
static void
usbsim_dfu_upload_request(UsbsimDfuCore *core, const UsbsimSetup *setup, UsbsimReply *reply)
{
	UsbsimDfu *self = (UsbsimDfu *)core;
	gboolean first = core->state == USBSIM_DFU_STATE_DFU_IDLE;

	if ((first && !self->config.can_upload) ||
	    setup->length > self->config.profile.transfer_size) {
		usbsim_dfu_core_stall_error(core, USBSIM_DFU_STATUS_ERR_STALLEDPKT, reply);
		return;
	}
	if (first)
		self->upload_offset = 0;
	usbsim_dfu_upload(self, setup, reply);
}

static gboolean
usbsim_dfu_usb_reset_dfu_mode(UsbsimDfuCore *core)
{
	UsbsimDfu *self = (UsbsimDfu *)core;

	if (self->core.state == USBSIM_DFU_STATE_MANIFEST_WAIT_RESET || self->image_valid) {
		usbsim_dfu_core_enter_mode(&self->core, USBSIM_DFU_MODE_RUNTIME);
		return TRUE;
	}

	/* nothing valid to boot: the bootloader stays and says why */
	self->core.state = USBSIM_DFU_STATE_ERROR;
	self->core.status = USBSIM_DFU_STATUS_ERR_FIRMWARE;
	return FALSE;
}

static guint8
usbsim_dfu_get_attributes(UsbsimDfu *self)
{
	guint8 attributes = 0;

	if (self->config.can_download)
		attributes |= USBSIM_DFU_ATTR_CAN_DNLOAD;
	if (self->config.can_upload)
		attributes |= USBSIM_DFU_ATTR_CAN_UPLOAD;
	if (self->config.manifest_tolerant)
		attributes |= USBSIM_DFU_ATTR_MANIFEST_TOL;
	if (self->config.will_detach)
		attributes |= USBSIM_DFU_ATTR_WILL_DETACH;
	return attributes;
}

static UsbsimDescription *
usbsim_dfu_describe(gpointer model)
{
	UsbsimDfu *self = model;
	const UsbsimDfuProfile *profile = &self->config.profile;
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	const UsbsimDfuFunctional functional = {
	    .attributes = usbsim_dfu_get_attributes(self),
	    .detach_timeout_ms = self->config.detach_timeout_ms,
	    .transfer_size = profile->transfer_size,
	    .bcd_dfu = 0x0110, /* DFU 1.1 */
	};
	UsbsimDescription *desc;
	guint16 bcd_device = self->config.common.bcd_device;

	if (self->core.mode == USBSIM_DFU_MODE_RUNTIME) {
		bcd_device = usbsim_dfu_get_runtime_version(self);
		g_ptr_array_add(names, g_strdup("usbsim application"));
		g_ptr_array_add(names, g_strdup("usbsim DFU runtime"));
	} else {
		for (guint i = 0; i < MAX(self->config.common.alts, 1u); i++) {
			g_ptr_array_add(names,
					g_strdup_printf("usbsim flash %u KiB alt %u",
							profile->flash_size / 1024,
							i));
		}
	}
	desc = usbsim_dfu_core_describe(&self->core,
					&profile->ids,
					bcd_device,
					names,
					&self->config.common,
					&functional);
	desc->manufacturer = g_strdup("usbsim");
	desc->product = g_strdup(profile->product);
	usbsim_description_build(desc);
	return desc;
}

static const UsbsimDfuCoreClass usbsim_dfu_core_class = {
    .dnload = usbsim_dfu_dnload,
    .upload = usbsim_dfu_upload_request,
    .getstatus_sync = usbsim_dfu_getstatus_dnload_sync,
    .getstatus_busy = usbsim_dfu_getstatus_busy,
    .getstatus_manifest_sync = usbsim_dfu_getstatus_manifest_sync,
    .advance = usbsim_dfu_advance,
    .usb_reset_dfu_mode = usbsim_dfu_usb_reset_dfu_mode,
};

static const UsbsimModelOps usbsim_dfu_model_ops = {
    USBSIM_DFU_CORE_MODEL_OPS,
    .describe = usbsim_dfu_describe,
};

const UsbsimModelOps *
usbsim_dfu_ops(void)
{
	return &usbsim_dfu_model_ops;
}

const UsbsimFlashLog *
usbsim_dfu_get_flash_log(UsbsimDfu *self)
{
	return &self->core.log;
}

/*
 * tests/usbsim/README.md, the physical limit of the data this run wrote: per block of wTransferSize
 * its bus time, one status read, the real erase time of the pages it is first to touch and its real
 * program time; the manifestation's request and status read. The spec-compliant limit takes
 * max(real, reported) for each block, reported by the model's own rule. The obeying host
 * waits each block as the model answers it: the reported time, then the rest rounded up to a
 * millisecond, a status read each (usbsim_poll_sequence_us()).
 */
void
usbsim_dfu_get_limits(UsbsimDfu *self, UsbsimLimits *limits)
{
	const UsbsimDfuProfile *profile = &self->config.profile;
	g_autofree gboolean *counted = g_new0(gboolean, usbsim_dfu_page_count(self));
	gdouble status_us = usbsim_bus_cost_us(6);
	gdouble per_byte_us = 0;
	gdouble physical = 0;
	gdouble spec = 0;
	gdouble obeying = 0;

	if (self->stats.counts.bytes_programmed > 0)
		per_byte_us = self->program_us / self->stats.counts.bytes_programmed;
	for (guint i = 0; i < self->core.log.written->len; i++) {
		UsbsimRange *range = &g_array_index(self->core.log.written, UsbsimRange, i);
		for (guint32 off = 0; off < range->size; off += profile->transfer_size) {
			guint32 address = range->address + off;
			guint32 len = MIN(profile->transfer_size, range->size - off);
			gdouble real_us = per_byte_us * len;
			gdouble report_us =
			    1000.0 * profile->report_program_ms * len / profile->report_block;
			for (guint32 page = address / profile->page_size;
			     page <= (address + len - 1) / profile->page_size;
			     page++) {
				if (counted[page])
					continue;
				counted[page] = TRUE;
				real_us += self->page_erase_us[page];
				report_us += 1000.0 * profile->report_erase_ms;
			}
			physical += usbsim_bus_cost_us(len) + status_us + real_us;
			spec += usbsim_bus_cost_us(len) + status_us + MAX(real_us, report_us);
			obeying += usbsim_bus_cost_us(len) +
				   usbsim_poll_sequence_us(real_us,
							   (guint32)ceil(report_us / 1000.0),
							   TRUE);
		}
	}
	if (self->stats.manifestations > 0) {
		gdouble manifest_us =
		    self->config.manifest_tolerant ? 0 : profile->manifest_ms * 1000.0;
		physical += usbsim_bus_cost_us(0) + status_us + manifest_us;
		spec += usbsim_bus_cost_us(0) + status_us + manifest_us;
		obeying += usbsim_bus_cost_us(0) + status_us + manifest_us;
	}
	usbsim_dfu_core_set_limits(&self->config.common, physical, spec, obeying, limits);
}

void
usbsim_dfu_get_report(UsbsimDfu *self, UsbsimDfuReport *report)
{
	usbsim_dfu_core_report(&self->core, report);
	report->erases = self->stats.pages_erased;
	report->manifestations = self->stats.manifestations;
	report->runtime_version = usbsim_dfu_get_runtime_version(self);
	usbsim_dfu_get_limits(self, &report->limits);
}
