/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "usbsim-dfu.h"

#include <gio/gio.h>
#include <math.h>
#include <string.h>

#define USBSIM_DFU_DESCRIPTOR_FUNCTIONAL 0x21
#define USBSIM_DFU_ATTR_CAN_DNLOAD	 (1u << 0)
#define USBSIM_DFU_ATTR_CAN_UPLOAD	 (1u << 1)
#define USBSIM_DFU_ATTR_MANIFEST_TOL	 (1u << 2)
#define USBSIM_DFU_ATTR_WILL_DETACH	 (1u << 3)

/* how long a device that detaches by itself takes to drop off the bus, at scale 1.0 */
#define USBSIM_DFU_SELF_DETACH_US 20000

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
	config->initial_mode = USBSIM_DFU_MODE_RUNTIME;
	config->bcd_device = 0x0100;
	config->serial = g_strdup("USBSIM0001");
	config->manifest_tolerant = TRUE;
	config->ending = USBSIM_DFU_ENDING_WAIT_RESET;
	config->app_has_dfu = TRUE;
	config->will_detach = FALSE;
	config->can_upload = TRUE;
	config->can_download = TRUE;
	config->alts = 1;
	config->version_offset = 0x100;
	config->detach_timeout_ms = 1000;
	config->time_scale = 1.0;
	config->seed = 1;
	config->faults = g_array_new(FALSE, TRUE, sizeof(UsbsimFault));
}

void
usbsim_dfu_config_clear(UsbsimDfuConfig *config)
{
	g_clear_pointer(&config->serial, g_free);
	g_clear_pointer(&config->flash_in, g_bytes_unref);
	g_clear_pointer(&config->faults, g_array_unref);
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
	UsbsimDfuConfig config;
	UsbsimDfuMode mode;
	UsbsimDfuState state;
	UsbsimDfuStatus status;
	guint8 *flash;
	gboolean image_valid; /* what a reset in DFU mode boots */

	/* download session */
	guint32 dnload_offset;
	guint16 dnload_next_block;
	gboolean *page_erased; /* erased during this session */
	GByteArray *pending_block;
	gboolean block_done;
	UsbsimDfuStatus pending_error;
	gint64 busy_until_us;

	guint32 upload_offset;

	gint64 detach_deadline_us;
	gboolean self_detach_pending;
	gboolean manifest_reset_pending; /* resets itself into the application */
	gint64 manifest_reset_delay_us;
	gboolean power_lost; /* off the bus, back in the bootloader with the flash as it is */

	GRand *rand;
	GRand *rand_poll; /* --hostile-poll-timeout random */
	guint status_replies;
	guint requests_any;
	UsbsimDfuStats stats;
	UsbsimFlashLog log;
	gdouble *page_erase_us; /* real erase time of each page when last erased, scale 1.0 */
	gdouble program_us;	/* real program time of the run, scale 1.0 */
};

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
	self->config.serial = g_strdup(config->serial);
	self->config.flash_in = NULL;
	self->config.faults = g_array_copy(config->faults);
	self->flash = g_malloc(profile->flash_size);
	memset(self->flash, 0xff, profile->flash_size);
	if (config->flash_in != NULL) {
		gsize len = 0;
		const guint8 *data = g_bytes_get_data(config->flash_in, &len);
		memcpy(self->flash, data, MIN(len, profile->flash_size));
	}
	self->page_erased = g_new0(gboolean, usbsim_dfu_page_count(self));
	self->page_erase_us = g_new0(gdouble, usbsim_dfu_page_count(self));
	usbsim_flash_log_init(&self->log);
	self->pending_block = g_byte_array_new();
	self->rand = g_rand_new_with_seed(config->seed);
	self->rand_poll = g_rand_new_with_seed(config->seed + 2);

	/* an application is present when the start of the flash holds anything */
	for (guint i = 0; i < MIN(16u, profile->flash_size); i++) {
		if (self->flash[i] != 0xff)
			self->image_valid = TRUE;
	}
	self->mode = config->initial_mode;
	self->state = self->mode == USBSIM_DFU_MODE_RUNTIME ? USBSIM_DFU_STATE_APP_IDLE
							    : USBSIM_DFU_STATE_DFU_IDLE;
	return self;
}

void
usbsim_dfu_free(UsbsimDfu *self)
{
	g_free(self->config.serial);
	g_array_unref(self->config.faults);
	g_free(self->flash);
	g_free(self->page_erased);
	g_free(self->page_erase_us);
	usbsim_flash_log_clear(&self->log);
	g_byte_array_unref(self->pending_block);
	g_rand_free(self->rand);
	g_rand_free(self->rand_poll);
	g_free(self);
}

UsbsimDfuMode
usbsim_dfu_get_mode(UsbsimDfu *self)
{
	return self->mode;
}

UsbsimDfuState
usbsim_dfu_get_state(UsbsimDfu *self)
{
	return self->state;
}

UsbsimDfuStatus
usbsim_dfu_get_status(UsbsimDfu *self)
{
	return self->status;
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
	guint32 offset = self->config.version_offset;
	guint16 version;

	if ((guint64)offset + 2 > self->config.profile.flash_size)
		return self->config.bcd_device;
	version = self->flash[offset] | ((guint16)self->flash[offset + 1] << 8);
	if (version == 0xffff)
		return self->config.bcd_device;
	return version;
}

static gint64
usbsim_dfu_scale_us(UsbsimDfu *self, gdouble us)
{
	return (gint64)(us * self->config.time_scale);
}

/* reported times shrink with the scale but a non-zero figure never reads as zero */
static guint32
usbsim_dfu_scale_report_ms(UsbsimDfu *self, gdouble ms)
{
	gdouble scaled = ms * self->config.time_scale;
	if (ms <= 0)
		return 0;
	return MAX(1, (guint32)ceil(scaled));
}

static guint8
usbsim_dfu_interface_number(UsbsimDfu *self)
{
	/* in runtime mode interface 0 is the application's own */
	return self->mode == USBSIM_DFU_MODE_RUNTIME ? 1 : 0;
}

static void
usbsim_dfu_enter_dfu_mode(UsbsimDfu *self)
{
	self->mode = USBSIM_DFU_MODE_DFU;
	self->state = USBSIM_DFU_STATE_DFU_IDLE;
	self->status = USBSIM_DFU_STATUS_OK;
	self->self_detach_pending = FALSE;
	self->stats.reenumerations++;
}

static void
usbsim_dfu_enter_runtime_mode(UsbsimDfu *self)
{
	self->mode = USBSIM_DFU_MODE_RUNTIME;
	self->state = USBSIM_DFU_STATE_APP_IDLE;
	self->status = USBSIM_DFU_STATUS_OK;
	self->stats.reenumerations++;
}

/* the transitions the device makes by itself as time passes */
static void
usbsim_dfu_advance(UsbsimDfu *self, gint64 now_us)
{
	if (self->state == USBSIM_DFU_STATE_APP_DETACH && !self->self_detach_pending &&
	    now_us > self->detach_deadline_us) {
		self->state = USBSIM_DFU_STATE_APP_IDLE;
		return;
	}
	if (self->state == USBSIM_DFU_STATE_DNBUSY && now_us >= self->busy_until_us) {
		self->state = USBSIM_DFU_STATE_DNLOAD_SYNC;
		self->block_done = TRUE;
		return;
	}
	if (self->state == USBSIM_DFU_STATE_MANIFEST && now_us >= self->busy_until_us &&
	    !self->manifest_reset_pending) {
		self->state = USBSIM_DFU_STATE_MANIFEST_WAIT_RESET;
		return;
	}
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
usbsim_dfu_answer_status(UsbsimDfu *self, guint32 poll_ms, UsbsimReply *reply)
{
	guint32 reported = usbsim_poll_reported(self->config.poll,
						self->status_replies++,
						self->rand_poll,
						poll_ms);
	guint8 buf[6] = {self->status,
			 reported & 0xff,
			 (reported >> 8) & 0xff,
			 (reported >> 16) & 0xff,
			 self->state,
			 0};
	g_byte_array_append(reply->data, buf, sizeof(buf));
	reply->status = self->status;
	reply->poll_timeout_ms = reported;
}

static void
usbsim_dfu_answer_state(UsbsimDfu *self, UsbsimReply *reply)
{
	guint8 state = self->state;
	g_byte_array_append(reply->data, &state, 1);
}

/* DFU 1.1: a request the state does not allow stalls and the device enters dfuERROR */
static void
usbsim_dfu_stall_error(UsbsimDfu *self, UsbsimReply *reply)
{
	reply->outcome = USBSIM_OUTCOME_STALL;
	if (self->state != USBSIM_DFU_STATE_ERROR) {
		self->state = USBSIM_DFU_STATE_ERROR;
		self->status = USBSIM_DFU_STATUS_ERR_STALLEDPKT;
	}
}

static void
usbsim_dfu_accept_block(UsbsimDfu *self,
			const UsbsimSetup *setup,
			const guint8 *data,
			gsize len,
			UsbsimReply *reply)
{
	if (setup->value != self->dnload_next_block)
		self->stats.blocks_out_of_sequence++;
	self->dnload_next_block = setup->value + 1;
	g_byte_array_set_size(self->pending_block, 0);
	g_byte_array_append(self->pending_block, data, len);
	self->block_done = FALSE;
	self->state = USBSIM_DFU_STATE_DNLOAD_SYNC;
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
		usbsim_ranges_add(self->log.erased,
				  0,
				  page * profile->page_size,
				  profile->page_size);
		usbsim_flash_log_event(&self->log,
				       "\"event\":\"erase\",\"alt\":0,\"address\":%u,\"size\":%u,"
				       "\"mass\":false,\"status\":0",
				       page * profile->page_size,
				       profile->page_size);
	}

	/* flash only clears bits: writing over programmed cells is an error */
	for (guint32 i = 0; i < len; i++) {
		if (self->flash[offset + i] != 0xff) {
			self->log.writes_not_erased++;
			usbsim_flash_log_event(&self->log,
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
	usbsim_ranges_add(self->log.written, 0, offset, len);
	usbsim_flash_log_event(&self->log,
			       "\"event\":\"write\",\"alt\":0,\"address\":%u,\"length\":%u,"
			       "\"erased\":true,\"status\":0",
			       offset,
			       len);

	self->dnload_offset += len;
	self->stats.bytes_programmed += len;
	*busy_us = usbsim_dfu_scale_us(self, busy);
	*report_ms = report;
	return USBSIM_DFU_STATUS_OK;
}

static void
usbsim_dfu_getstatus_dnload_sync(UsbsimDfu *self, gint64 now_us, UsbsimReply *reply)
{
	UsbsimDfuStatus result;
	gint64 busy_us = 0;
	gdouble report_ms = 0;

	if (self->block_done) {
		self->state = USBSIM_DFU_STATE_DNLOAD_IDLE;
		usbsim_dfu_answer_status(self, 0, reply);
		return;
	}
	if (self->pending_error != USBSIM_DFU_STATUS_OK) {
		result = self->pending_error;
		self->pending_error = USBSIM_DFU_STATUS_OK;
	} else {
		result = usbsim_dfu_write_block(self, &busy_us, &report_ms);
	}
	if (result != USBSIM_DFU_STATUS_OK) {
		self->state = USBSIM_DFU_STATE_ERROR;
		self->status = result;
		usbsim_dfu_answer_status(self, 0, reply);
		return;
	}
	self->busy_until_us = now_us + busy_us;
	self->stats.busy_us += busy_us;
	self->state = USBSIM_DFU_STATE_DNBUSY;
	usbsim_dfu_answer_status(self, usbsim_dfu_scale_report_ms(self, report_ms), reply);
}

static void
usbsim_dfu_getstatus_busy(UsbsimDfu *self, gint64 now_us, UsbsimReply *reply)
{
	gint64 remaining_us = self->busy_until_us - now_us;

	self->stats.early_polls++;
	reply->early = TRUE;
	if (self->config.early_poll_stalls) {
		usbsim_dfu_stall_error(self, reply);
		return;
	}
	usbsim_dfu_answer_status(self, MAX(1, (remaining_us + 999) / 1000), reply);
}

static void
usbsim_dfu_getstatus_manifest_sync(UsbsimDfu *self, gint64 now_us, UsbsimReply *reply)
{
	const UsbsimDfuProfile *profile = &self->config.profile;
	gint64 busy_us;

	self->stats.manifestations++;

	/* the image check fails (a CRC or signature of the image): nothing is started */
	if (self->config.manifest_status != USBSIM_DFU_STATUS_OK) {
		self->state = USBSIM_DFU_STATE_ERROR;
		self->status = self->config.manifest_status;
		usbsim_dfu_answer_status(self, 0, reply);
		return;
	}
	self->image_valid = TRUE;

	/* everything was programmed during the download: a tolerant device is done at once */
	if (self->config.manifest_tolerant) {
		self->state = USBSIM_DFU_STATE_DFU_IDLE;
		usbsim_dfu_answer_status(self, 0, reply);
		return;
	}
	busy_us = usbsim_dfu_scale_us(self, profile->manifest_ms * 1000.0);
	self->busy_until_us = now_us + busy_us;
	self->stats.busy_us += busy_us;
	self->state = USBSIM_DFU_STATE_MANIFEST;
	if (self->config.ending != USBSIM_DFU_ENDING_WAIT_RESET) {
		self->manifest_reset_pending = TRUE;
		self->manifest_reset_delay_us = MAX(1000, busy_us);
	}
	if (self->config.ending == USBSIM_DFU_ENDING_SILENT) {
		reply->outcome = USBSIM_OUTCOME_TIMEOUT;
		return;
	}
	usbsim_dfu_answer_status(self,
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
	self->stats.bytes_uploaded += len;

	/* a short frame ends the upload */
	self->state = len < setup->length ? USBSIM_DFU_STATE_DFU_IDLE
					  : USBSIM_DFU_STATE_UPLOAD_IDLE;
}

static void
usbsim_dfu_request_dfu_mode(UsbsimDfu *self,
			    const UsbsimSetup *setup,
			    const guint8 *data,
			    gsize len,
			    gint64 now_us,
			    UsbsimReply *reply)
{
	guint16 transfer_size = self->config.profile.transfer_size;
	guint8 request = setup->request;

	switch (self->state) {
	case USBSIM_DFU_STATE_DFU_IDLE:
		if (request == USBSIM_DFU_REQUEST_DNLOAD) {
			if (!self->config.can_download || setup->length == 0 ||
			    setup->length > transfer_size) {
				usbsim_dfu_stall_error(self, reply);
				return;
			}
			/* a new download session starts at offset 0 with a fresh erase */
			self->dnload_offset = 0;
			self->dnload_next_block = setup->value;
			memset(self->page_erased,
			       0,
			       usbsim_dfu_page_count(self) * sizeof(gboolean));
			self->image_valid = FALSE;
			usbsim_dfu_accept_block(self, setup, data, len, reply);
			return;
		}
		if (request == USBSIM_DFU_REQUEST_UPLOAD) {
			if (!self->config.can_upload || setup->length > transfer_size) {
				usbsim_dfu_stall_error(self, reply);
				return;
			}
			self->upload_offset = 0;
			usbsim_dfu_upload(self, setup, reply);
			return;
		}
		if (request == USBSIM_DFU_REQUEST_ABORT)
			return;
		break;
	case USBSIM_DFU_STATE_DNLOAD_SYNC:
		if (request == USBSIM_DFU_REQUEST_GETSTATUS) {
			usbsim_dfu_getstatus_dnload_sync(self, now_us, reply);
			return;
		}
		break;
	case USBSIM_DFU_STATE_DNBUSY:
		if (request == USBSIM_DFU_REQUEST_GETSTATUS) {
			usbsim_dfu_getstatus_busy(self, now_us, reply);
			return;
		}
		usbsim_dfu_stall_error(self, reply);
		return;
	case USBSIM_DFU_STATE_DNLOAD_IDLE:
		if (request == USBSIM_DFU_REQUEST_DNLOAD) {
			if (setup->length == 0) {
				self->state = USBSIM_DFU_STATE_MANIFEST_SYNC;
				return;
			}
			if (setup->length > transfer_size) {
				usbsim_dfu_stall_error(self, reply);
				return;
			}
			usbsim_dfu_accept_block(self, setup, data, len, reply);
			return;
		}
		if (request == USBSIM_DFU_REQUEST_ABORT) {
			self->state = USBSIM_DFU_STATE_DFU_IDLE;
			return;
		}
		break;
	case USBSIM_DFU_STATE_MANIFEST_SYNC:
		if (request == USBSIM_DFU_REQUEST_GETSTATUS) {
			usbsim_dfu_getstatus_manifest_sync(self, now_us, reply);
			return;
		}
		break;
	case USBSIM_DFU_STATE_MANIFEST:
		if (request == USBSIM_DFU_REQUEST_GETSTATUS) {
			usbsim_dfu_getstatus_busy(self, now_us, reply);
			return;
		}
		usbsim_dfu_stall_error(self, reply);
		return;
	case USBSIM_DFU_STATE_MANIFEST_WAIT_RESET:
		/* waits for a reset; it still reports where it is */
		if (request == USBSIM_DFU_REQUEST_GETSTATUS) {
			usbsim_dfu_answer_status(self, 0, reply);
			return;
		}
		if (request == USBSIM_DFU_REQUEST_GETSTATE) {
			usbsim_dfu_answer_state(self, reply);
			return;
		}
		reply->outcome = USBSIM_OUTCOME_STALL;
		return;
	case USBSIM_DFU_STATE_UPLOAD_IDLE:
		if (request == USBSIM_DFU_REQUEST_UPLOAD) {
			if (setup->length > transfer_size) {
				usbsim_dfu_stall_error(self, reply);
				return;
			}
			usbsim_dfu_upload(self, setup, reply);
			return;
		}
		if (request == USBSIM_DFU_REQUEST_ABORT) {
			self->state = USBSIM_DFU_STATE_DFU_IDLE;
			return;
		}
		break;
	case USBSIM_DFU_STATE_ERROR:
		if (request == USBSIM_DFU_REQUEST_CLRSTATUS) {
			self->state = USBSIM_DFU_STATE_DFU_IDLE;
			self->status = USBSIM_DFU_STATUS_OK;
			return;
		}
		if (request == USBSIM_DFU_REQUEST_GETSTATUS) {
			usbsim_dfu_answer_status(self, 0, reply);
			return;
		}
		if (request == USBSIM_DFU_REQUEST_GETSTATE) {
			usbsim_dfu_answer_state(self, reply);
			return;
		}
		/* stays in dfuERROR until CLRSTATUS */
		reply->outcome = USBSIM_OUTCOME_STALL;
		return;
	default:
		break;
	}

	/* GETSTATUS and GETSTATE are valid in every other state and change nothing */
	if (request == USBSIM_DFU_REQUEST_GETSTATUS) {
		usbsim_dfu_answer_status(self, 0, reply);
		return;
	}
	if (request == USBSIM_DFU_REQUEST_GETSTATE) {
		usbsim_dfu_answer_state(self, reply);
		return;
	}
	usbsim_dfu_stall_error(self, reply);
}

static void
usbsim_dfu_request_runtime_mode(UsbsimDfu *self,
				const UsbsimSetup *setup,
				gint64 now_us,
				UsbsimReply *reply)
{
	switch (setup->request) {
	case USBSIM_DFU_REQUEST_DETACH:
		self->state = USBSIM_DFU_STATE_APP_DETACH;
		self->detach_deadline_us =
		    now_us + (gint64)MIN(setup->value, self->config.detach_timeout_ms) * 1000;
		if (self->config.will_detach)
			self->self_detach_pending = TRUE;
		return;
	case USBSIM_DFU_REQUEST_GETSTATUS:
		usbsim_dfu_answer_status(self, 0, reply);
		return;
	case USBSIM_DFU_REQUEST_GETSTATE:
		usbsim_dfu_answer_state(self, reply);
		return;
	default:
		reply->outcome = USBSIM_OUTCOME_STALL;
		return;
	}
}

static const UsbsimFault *
usbsim_dfu_find_fault(UsbsimDfu *self, guint8 request)
{
	for (guint i = 0; i < self->config.faults->len; i++) {
		const UsbsimFault *fault = &g_array_index(self->config.faults, UsbsimFault, i);
		if (fault->request == USBSIM_DFU_REQUEST_ANY && fault->count == self->requests_any)
			return fault;
		if (fault->request == request && fault->count == self->stats.requests[request])
			return fault;
	}
	return NULL;
}

/* a status fault: the operation of that request fails with the code */
static void
usbsim_dfu_apply_status_fault(UsbsimDfu *self,
			      const UsbsimSetup *setup,
			      UsbsimDfuStatus status,
			      UsbsimReply *reply)
{
	if (self->mode == USBSIM_DFU_MODE_RUNTIME) {
		reply->outcome = USBSIM_OUTCOME_STALL;
		return;
	}
	if (setup->request == USBSIM_DFU_REQUEST_GETSTATUS) {
		self->state = USBSIM_DFU_STATE_ERROR;
		self->status = status;
		usbsim_dfu_answer_status(self, 0, reply);
		return;
	}
	reply->outcome = USBSIM_OUTCOME_STALL;
	self->state = USBSIM_DFU_STATE_ERROR;
	self->status = status;
}

static void
usbsim_dfu_control(gpointer model,
		   const UsbsimSetup *setup,
		   const guint8 *data_out,
		   gint64 now_us,
		   UsbsimReply *reply)
{
	UsbsimDfu *self = model;
	const UsbsimFault *fault;
	gboolean direction_in = (setup->request_type & 0x80) != 0;
	gboolean expect_in;
	g_autofree guint8 *data = NULL;
	gsize data_len = direction_in ? 0 : setup->length;

	if ((setup->request_type & 0x60) != 0x20 || (setup->request_type & 0x1f) != 0x01 ||
	    (self->mode == USBSIM_DFU_MODE_RUNTIME && !self->config.app_has_dfu) ||
	    (setup->index & 0xff) != usbsim_dfu_interface_number(self) ||
	    setup->request >= USBSIM_DFU_REQUEST_LAST) {
		reply->name = "other";
		reply->outcome = USBSIM_OUTCOME_STALL;
		return;
	}
	reply->name = usbsim_dfu_request_names[setup->request];
	reply->is_status_poll = setup->request == USBSIM_DFU_REQUEST_GETSTATUS;
	self->stats.requests[setup->request]++;
	self->requests_any++;
	if (self->power_lost) {
		reply->outcome = USBSIM_OUTCOME_TIMEOUT;
		return;
	}
	usbsim_dfu_advance(self, now_us);

	expect_in = setup->request == USBSIM_DFU_REQUEST_UPLOAD ||
		    setup->request == USBSIM_DFU_REQUEST_GETSTATUS ||
		    setup->request == USBSIM_DFU_REQUEST_GETSTATE;
	if (direction_in != expect_in) {
		reply->outcome = USBSIM_OUTCOME_STALL;
		return;
	}

	data = g_memdup2(data_out, data_len);
	fault = usbsim_dfu_find_fault(self, setup->request);
	if (fault != NULL) {
		self->stats.faults_fired++;
		switch (fault->kind) {
		case USBSIM_FAULT_STALL:
			reply->outcome = USBSIM_OUTCOME_STALL;
			return;
		case USBSIM_FAULT_TIMEOUT:
			reply->outcome = USBSIM_OUTCOME_TIMEOUT;
			return;
		case USBSIM_FAULT_UNPLUG:
			reply->outcome = USBSIM_OUTCOME_UNPLUGGED;
			return;
		case USBSIM_FAULT_POWER_LOSS:
			self->power_lost = TRUE;
			reply->outcome = USBSIM_OUTCOME_TIMEOUT;
			return;
		case USBSIM_FAULT_STATUS:
			if (setup->request == USBSIM_DFU_REQUEST_DNLOAD &&
			    self->mode == USBSIM_DFU_MODE_DFU && setup->length > 0) {
				/* the block is taken; programming it fails */
				usbsim_dfu_request_dfu_mode(self,
							    setup,
							    data,
							    data_len,
							    now_us,
							    reply);
				if (self->state == USBSIM_DFU_STATE_DNLOAD_SYNC)
					self->pending_error = fault->status;
				return;
			}
			usbsim_dfu_apply_status_fault(self, setup, fault->status, reply);
			return;
		case USBSIM_FAULT_CORRUPT:
			/* what the device received is garbled, it does not notice */
			for (gsize i = 0; i < data_len; i += 7)
				data[i] ^= 0x5a;
			break;
		case USBSIM_FAULT_SHORT:
			data_len /= 2;
			break;
		default:
			break;
		}
	}

	if (self->mode == USBSIM_DFU_MODE_RUNTIME)
		usbsim_dfu_request_runtime_mode(self, setup, now_us, reply);
	else
		usbsim_dfu_request_dfu_mode(self, setup, data, data_len, now_us, reply);

	if (fault != NULL && reply->outcome == USBSIM_OUTCOME_OK) {
		if (fault->kind == USBSIM_FAULT_CORRUPT) {
			for (guint i = 0; i < reply->data->len; i += 3)
				reply->data->data[i] ^= 0xa5;
		} else if (fault->kind == USBSIM_FAULT_SHORT && reply->data->len > 0) {
			g_byte_array_set_size(reply->data, reply->data->len / 2);
		}
	}
}

static gboolean
usbsim_dfu_usb_reset(gpointer model, gint64 now_us)
{
	UsbsimDfu *self = model;

	self->stats.usb_resets++;
	usbsim_dfu_advance(self, now_us);
	if (self->mode == USBSIM_DFU_MODE_RUNTIME) {
		if (self->state == USBSIM_DFU_STATE_APP_DETACH) {
			usbsim_dfu_enter_dfu_mode(self);
			return TRUE;
		}
		return FALSE;
	}
	if (self->state == USBSIM_DFU_STATE_MANIFEST_WAIT_RESET || self->image_valid) {
		usbsim_dfu_enter_runtime_mode(self);
		return TRUE;
	}

	/* nothing valid to boot: the bootloader stays and says why */
	self->state = USBSIM_DFU_STATE_ERROR;
	self->status = USBSIM_DFU_STATUS_ERR_FIRMWARE;
	return FALSE;
}

static gboolean
usbsim_dfu_pending_reenumeration(gpointer model, gint64 *delay_us)
{
	UsbsimDfu *self = model;
	if (self->power_lost) {
		*delay_us = 1000;
		return TRUE;
	}
	if (self->manifest_reset_pending) {
		*delay_us = self->manifest_reset_delay_us;
		return TRUE;
	}
	if (!self->self_detach_pending)
		return FALSE;
	*delay_us = MAX(1000, usbsim_dfu_scale_us(self, USBSIM_DFU_SELF_DETACH_US));
	return TRUE;
}

static void
usbsim_dfu_reenumerate(gpointer model, gint64 now_us)
{
	UsbsimDfu *self = model;
	if (self->power_lost) {
		/* a block not yet programmed is lost with the power */
		self->power_lost = FALSE;
		self->pending_error = USBSIM_DFU_STATUS_OK;
		usbsim_dfu_enter_dfu_mode(self);
		return;
	}
	if (self->manifest_reset_pending) {
		self->manifest_reset_pending = FALSE;
		usbsim_dfu_enter_runtime_mode(self);
		return;
	}
	if (self->self_detach_pending)
		usbsim_dfu_enter_dfu_mode(self);
}

static void
usbsim_dfu_append_functional(UsbsimDfu *self, GByteArray *buf)
{
	guint8 attributes = 0;
	guint16 transfer_size = self->config.profile.transfer_size;
	guint8 desc[9];

	if (self->config.can_download)
		attributes |= USBSIM_DFU_ATTR_CAN_DNLOAD;
	if (self->config.can_upload)
		attributes |= USBSIM_DFU_ATTR_CAN_UPLOAD;
	if (self->config.manifest_tolerant)
		attributes |= USBSIM_DFU_ATTR_MANIFEST_TOL;
	if (self->config.will_detach)
		attributes |= USBSIM_DFU_ATTR_WILL_DETACH;
	desc[0] = sizeof(desc);
	desc[1] = USBSIM_DFU_DESCRIPTOR_FUNCTIONAL;
	desc[2] = attributes;
	desc[3] = self->config.detach_timeout_ms & 0xff;
	desc[4] = self->config.detach_timeout_ms >> 8;
	desc[5] = transfer_size & 0xff;
	desc[6] = transfer_size >> 8;
	desc[7] = 0x10; /* bcdDFUVersion 1.1 */
	desc[8] = 0x01;
	g_byte_array_append(buf, desc, sizeof(desc));
}

static UsbsimDescription *
usbsim_dfu_describe(gpointer model)
{
	UsbsimDfu *self = model;
	const UsbsimDfuProfile *profile = &self->config.profile;
	UsbsimDescription *desc;
	UsbsimInterface *iface;

	if (self->mode == USBSIM_DFU_MODE_RUNTIME) {
		UsbsimAltSetting *alt;
		desc = usbsim_description_new(profile->ids.vid,
					      profile->ids.runtime_pid,
					      usbsim_dfu_get_runtime_version(self));
		iface = usbsim_description_add_interface(desc);
		usbsim_interface_add_alt(iface, 0xff, 0x00, 0x00, "usbsim application");
		if (self->config.app_has_dfu) {
			iface = usbsim_description_add_interface(desc);
			alt =
			    usbsim_interface_add_alt(iface, 0xfe, 0x01, 0x01, "usbsim DFU runtime");
			usbsim_dfu_append_functional(self, alt->extra);
		}
	} else {
		desc = usbsim_description_new(profile->ids.vid,
					      profile->ids.dfu_pid,
					      self->config.bcd_device);
		iface = usbsim_description_add_interface(desc);
		for (guint i = 0; i < MAX(self->config.alts, 1u); i++) {
			g_autofree gchar *name = g_strdup_printf("usbsim flash %u KiB alt %u",
								 profile->flash_size / 1024,
								 i);
			UsbsimAltSetting *alt =
			    usbsim_interface_add_alt(iface, 0xfe, 0x01, 0x02, name);
			if (self->config.func_desc_every_alt)
				usbsim_dfu_append_functional(self, alt->extra);
		}
		/* DFU 1.1 section 4.2: one functional descriptor after the last alt setting */
		if (!self->config.func_desc_every_alt)
			usbsim_dfu_append_functional(self, iface->trailer);
	}
	desc->manufacturer = g_strdup("usbsim");
	desc->product = g_strdup(profile->product);
	desc->serial = g_strdup(self->config.serial);
	desc->class_descriptor_request_stalls = self->config.stall_functional_request;
	usbsim_description_build(desc);
	return desc;
}

static gint64
usbsim_dfu_busy_until(gpointer model)
{
	UsbsimDfu *self = model;
	return self->busy_until_us;
}

static const gchar *
usbsim_dfu_mode_name(gpointer model)
{
	UsbsimDfu *self = model;
	return self->mode == USBSIM_DFU_MODE_RUNTIME ? "runtime" : "dfu";
}

static gint
usbsim_dfu_state(gpointer model)
{
	UsbsimDfu *self = model;
	return self->state;
}

static GPtrArray *
usbsim_dfu_take_events(gpointer model)
{
	UsbsimDfu *self = model;
	return usbsim_flash_log_take_events(&self->log);
}

static const UsbsimModelOps usbsim_dfu_model_ops = {
    .control = usbsim_dfu_control,
    .usb_reset = usbsim_dfu_usb_reset,
    .pending_reenumeration = usbsim_dfu_pending_reenumeration,
    .reenumerate = usbsim_dfu_reenumerate,
    .describe = usbsim_dfu_describe,
    .busy_until = usbsim_dfu_busy_until,
    .mode_name = usbsim_dfu_mode_name,
    .state = usbsim_dfu_state,
    .take_events = usbsim_dfu_take_events,
};

const UsbsimModelOps *
usbsim_dfu_ops(void)
{
	return &usbsim_dfu_model_ops;
}

const UsbsimFlashLog *
usbsim_dfu_get_flash_log(UsbsimDfu *self)
{
	return &self->log;
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

	if (self->stats.bytes_programmed > 0)
		per_byte_us = self->program_us / self->stats.bytes_programmed;
	for (guint i = 0; i < self->log.written->len; i++) {
		UsbsimRange *range = &g_array_index(self->log.written, UsbsimRange, i);
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
	limits->physical_ms = physical * self->config.time_scale / 1000.0;
	limits->spec_ms = spec * self->config.time_scale / 1000.0;
	limits->obeying_ms = obeying * self->config.time_scale / 1000.0;
}
