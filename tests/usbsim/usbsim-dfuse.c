/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "usbsim-dfuse.h"

#include <gio/gio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "usbsim-dfu-common.h"

#define USBSIM_DFUSE_BCD_DFU 0x011a

/* after a leave the device jumps to the application at once; the bus sees it go after this */
#define USBSIM_DFUSE_LEAVE_US 1000
/* a busy time that never ends: the device is stuck */
#define USBSIM_DFUSE_NEVER (G_MAXINT64 / 2)

/*
 * What the STM32 system bootloaders (AN2606, AN3156) share: ST's IDs, the product string,
 * bootloader version 2.2, DFU mode only, canDnload, canUpload and willDetach but not
 * manifestation tolerant, 2048-byte blocks, and the internal flash at 0x08000000
 */
#define USBSIM_DFUSE_STM32_SYSTEM_BOOTLOADER                                                       \
	.ids = {.vid = 0x0483, .runtime_pid = 0x5740, .dfu_pid = 0xdf11},                          \
	.bcd_bootloader = 0x2200, .manufacturer = "STMicroelectronics",                            \
	.product = "STM32  BOOTLOADER", .default_mode = USBSIM_DFU_MODE_DFU, .attributes = 0x0b,   \
	.detach_timeout_ms = 255, .transfer_size = 2048, .flash_base = 0x08000000,                 \
	.flash_name = "Internal Flash  "

static const UsbsimDfuseProfile usbsim_dfuse_profile_stm32f4 = {
    .name = "stm32f4-dfuse",
    .description = "STM32F405/407 system bootloader (DfuSe), 4x16K+1x64K+7x128K sectors",
    USBSIM_DFUSE_STM32_SYSTEM_BOOTLOADER,
    .bcd_usb = 0x0100,
    .app_product = "usbsim STM32F4 application",
    .serial = "325A36763138",
    .flash_run_digits = 2,
    .flash_runs = {{4, 16 * 1024, 'g'}, {1, 64 * 1024, 'g'}, {7, 128 * 1024, 'g'}},
    .flash_size = 1024 * 1024,
    .extra_alts = {{"@Option Bytes  /0x1FFFC000/01*016 e", FALSE, 0xff},
		   {"@OTP Memory /0x1FFF7800/01*512 e,01*016 e", TRUE, 0xff},
		   {"@Device Feature/0xFFFF0000/01*004 e", FALSE, 0x00}},
    .erase_times = {{16 * 1024, 250000, 500000},
		    {64 * 1024, 550000, 1100000},
		    {128 * 1024, 1000000, 2000000}},
    .report_erase_max = TRUE,
    .mass_erase_typ_ms = 16000,
    .mass_erase_max_ms = 32000,
    .program_unit = 4,
    .program_typ_ns = 16000,
    .program_max_ns = 100000,
    .report_block_ms = 104,
    .report_set_address_bogus_ms = 104,
    .report_mass_erase_short_ms = 100,
};

static const UsbsimDfuseProfile usbsim_dfuse_profile_gd32vf103 = {
    .name = "gd32vf103-dfuse",
    .description = "GD32VF103 bootloader (DfuSe), reports 512x2K pages for 1 KiB pages",
    .ids = {.vid = 0x28e9, .runtime_pid = 0x018a, .dfu_pid = 0x0189},
    .bcd_bootloader = 0x1000,
    .bcd_usb = 0x0200,
    .manufacturer = "usbsim GigaDevice",
    .product = "usbsim GD32VF103 DfuSe",
    .app_product = "usbsim GD32VF103 application",
    .serial_8bit = TRUE,
    .silent_leave = TRUE,
    .default_mode = USBSIM_DFU_MODE_DFU,
    .attributes = 0x0b,
    .detach_timeout_ms = 255,
    .transfer_size = 2048,
    .flash_base = 0x08000000,
    .flash_name = "Internal Flash  ",
    .flash_run_digits = 3,
    .flash_runs = {{128, 1024, 'g'}},
    .flash_layout_reported = "@Internal Flash  /0x08000000/512*002Kg",
    .flash_size = 128 * 1024,
    .extra_alts = {{"@Option Bytes  /0x1FFFF800/01*016 g", FALSE, 0xff}},
    .erase_times = {{1024, 50000, 400000}},
    .report_erase_ms = 100,
    .mass_erase_typ_ms = 50,
    .mass_erase_max_ms = 400,
    .program_unit = 4,
    .program_typ_ns = 37500,
    .program_max_ns = 105000,
    .report_block_ms = 104,
    .report_set_address_bogus_ms = 104,
    .report_mass_erase_short_ms = 100,
};

static const UsbsimDfuseProfile usbsim_dfuse_profile_stm32f1 = {
    .name = "stm32f1-dfuse",
    .description = "STM32F1-class custom DfuSe bootloader, 1 KiB pages, application at 16 KiB",
    .ids = {.vid = 0x1209, .runtime_pid = 0x0015, .dfu_pid = 0x0014},
    .bcd_bootloader = 0x0100,
    .bcd_usb = 0x0200,
    .manufacturer = "usbsim",
    .product = "usbsim STM32F1 DfuSe",
    .app_product = "usbsim application",
    .serial = "USBSIM0001",
    .app_has_dfu = TRUE,
    .reset_boots_app = TRUE,
    .default_mode = USBSIM_DFU_MODE_RUNTIME,
    .attributes = 0x0b,
    .detach_timeout_ms = 255,
    .transfer_size = 1024,
    .flash_base = 0x08000000,
    .flash_name = "Internal Flash  ",
    .flash_run_digits = 3,
    .flash_runs = {{16, 1024, 'a'}, {112, 1024, 'g'}},
    .flash_size = 128 * 1024,
    .app_offset = 16 * 1024,
    .erase_times = {{1024, 20000, 40000}},
    .report_erase_ms = 20,
    .mass_erase_typ_ms = 20,
    .mass_erase_max_ms = 40,
    .program_unit = 2,
    .program_typ_ns = 52500,
    .program_max_ns = 70000,
    .report_block_ms = 27,
    .report_set_address_bogus_ms = 104,
    .report_mass_erase_short_ms = 100,
};

/*
 * The STM32L476 system bootloader: 2 KiB pages erased in 22.02 ms typical, 24.47 ms at most,
 * 64-bit double words programmed in 81.69/90.76 us (STM32L476 datasheet, flash memory
 * characteristics). dfu-util 0.11 (src/dfuse.c) works around "STM32L4 bootloaders that report
 * a too short poll timeout and may stall the pipe when we poll", and dfu-util ticket 40 shows
 * an STM32L43x stalling GETSTATUS during ERASE_PAGE: no source gives the figure an erase
 * reports, so the model reports 10 ms, less than half the erase, and an early poll is made
 * every time by a host that obeys it. --stall-early-poll-during-erase switches the stall on.
 */
static const UsbsimDfuseProfile usbsim_dfuse_profile_stm32l4 = {
    .name = "stm32l4-dfuse",
    .description = "STM32L476 system bootloader (DfuSe), 512x2K pages, short erase timeout",
    USBSIM_DFUSE_STM32_SYSTEM_BOOTLOADER,
    .bcd_usb = 0x0200,
    .app_product = "usbsim STM32L4 application",
    .serial = "205F36A04E4D",
    .flash_run_digits = 3,
    .flash_runs = {{512, 2 * 1024, 'g'}},
    .flash_size = 1024 * 1024,
    .erase_times = {{2 * 1024, 22020, 24470}},
    .report_erase_ms = 10,
    .mass_erase_typ_ms = 22,
    .mass_erase_max_ms = 25,
    .program_unit = 8,
    .program_typ_ns = 81690,
    .program_max_ns = 90760,
    .report_block_ms = 24,
    .report_set_address_bogus_ms = 104,
    .report_mass_erase_short_ms = 100,
};

static const UsbsimDfuseProfile *const usbsim_dfuse_profile_list[] = {
    &usbsim_dfuse_profile_stm32f4,
    &usbsim_dfuse_profile_gd32vf103,
    &usbsim_dfuse_profile_stm32f1,
    &usbsim_dfuse_profile_stm32l4,
    NULL,
};

const UsbsimDfuseProfile *const *
usbsim_dfuse_profiles(void)
{
	return usbsim_dfuse_profile_list;
}

const UsbsimDfuseProfile *
usbsim_dfuse_profile_find(const gchar *name)
{
	for (guint i = 0; usbsim_dfuse_profile_list[i] != NULL; i++) {
		if (g_strcmp0(usbsim_dfuse_profile_list[i]->name, name) == 0)
			return usbsim_dfuse_profile_list[i];
	}
	return NULL;
}

/* GD32VF103 part numbers code the flash size in the third character of the serial */
static gchar
usbsim_dfuse_gd32_size_letter(guint32 flash_size)
{
	switch (flash_size / 1024) {
	case 16:
		return '4';
	case 32:
		return '6';
	case 64:
		return '8';
	case 128:
		return 'B';
	default:
		return 0;
	}
}

void
usbsim_dfuse_config_init(UsbsimDfuseConfig *config, const UsbsimDfuseProfile *profile)
{
	memset(config, 0, sizeof(*config));
	config->profile = *profile;
	usbsim_dfu_settings_init(&config->common, profile->default_mode, profile->bcd_bootloader);
}

void
usbsim_dfuse_config_clear(UsbsimDfuseConfig *config)
{
	usbsim_dfu_settings_clear(&config->common);
}

/* the flash must end on a sector boundary of the part's geometry, past the bootloader */
gboolean
usbsim_dfuse_check_flash_size(const UsbsimDfuseProfile *profile, guint32 size, GError **error)
{
	guint64 total = 0;

	if (profile->serial_8bit && usbsim_dfuse_gd32_size_letter(size) == 0) {
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_INVALID_ARGUMENT,
			    "%s flash size must be 16, 32, 64 or 128 KiB",
			    profile->name);
		return FALSE;
	}
	for (guint i = 0; i < USBSIM_DFUSE_MAX_RUNS && profile->flash_runs[i].count > 0; i++) {
		for (guint j = 0; j < profile->flash_runs[i].count; j++) {
			total += profile->flash_runs[i].size;
			if (total == size && size > profile->app_offset)
				return TRUE;
		}
	}
	g_set_error(
	    error,
	    G_IO_ERROR,
	    G_IO_ERROR_INVALID_ARGUMENT,
	    "%s flash size must end on a sector boundary, past 0x%x, at most %" G_GUINT64_FORMAT
	    " bytes",
	    profile->name,
	    profile->app_offset,
	    total);
	return FALSE;
}

/* access letters a..g: the low three bits of (letter - 'a' + 1) are read, erase, write */
static guint8
usbsim_dfuse_access_from_letter(gchar letter)
{
	if (letter < 'a' || letter > 'g')
		return 0;
	return (letter - 'a' + 1) & 0x07;
}

/* a layout string, UM0424: "@Name/0xADDR/NN*SSSxy[,NN*SSSxy]...[/0xADDR/...]"; the multiplier
 * x is B, K, M or a space (bytes); parsed leniently as real devices bend the grammar */
gboolean
usbsim_dfuse_parse_layout(const gchar *layout, GArray *sectors, gchar **name)
{
	g_auto(GStrv) parts = NULL;
	guint nparts;

	if (layout == NULL || layout[0] != '@')
		return FALSE;
	parts = g_strsplit(layout + 1, "/", -1);
	nparts = g_strv_length(parts);
	if (nparts < 3)
		return FALSE;
	if (name != NULL)
		*name = g_strdup(parts[0]);
	for (guint i = 1; i + 1 < nparts; i += 2) {
		guint64 address = g_ascii_strtoull(parts[i], NULL, 16);
		g_auto(GStrv) runs = g_strsplit(parts[i + 1], ",", -1);
		for (guint j = 0; runs[j] != NULL; j++) {
			gchar *end = NULL;
			guint64 count = g_ascii_strtoull(runs[j], &end, 10);
			guint64 size;
			guint64 multiplier = 1;
			if (end == NULL || *end != '*')
				return FALSE;
			size = g_ascii_strtoull(end + 1, &end, 10);
			if (*end == 'K')
				multiplier = 1024;
			else if (*end == 'M')
				multiplier = 1024 * 1024;
			else if (*end != 'B' && *end != ' ')
				return FALSE;
			end++;
			if (count == 0 || size == 0 || count > 65536 ||
			    size * multiplier > G_MAXUINT32)
				return FALSE;
			for (guint64 k = 0; k < count; k++) {
				UsbsimDfuseSector sector = {
				    .address = address,
				    .size = size * multiplier,
				    .access = usbsim_dfuse_access_from_letter(*end),
				};
				if (address + sector.size > G_MAXUINT32 + 1ull)
					return FALSE;
				g_array_append_val(sectors, sector);
				address += sector.size;
			}
		}
	}
	return sectors->len > 0;
}

typedef struct {
	gchar *layout; /* iInterface, as reported */
	GArray *sectors;
	guint32 base;
	guint32 size;
	guint8 *memory;
	gboolean writes_clear_bits;
} UsbsimDfuseRegion;

static void
usbsim_dfuse_region_free(UsbsimDfuseRegion *region)
{
	g_free(region->layout);
	g_array_unref(region->sectors);
	g_free(region->memory);
	g_free(region);
}

static const UsbsimDfuCoreClass usbsim_dfuse_core_class;

typedef enum {
	USBSIM_DFUSE_OP_NONE,
	USBSIM_DFUSE_OP_SET_ADDRESS,
	USBSIM_DFUSE_OP_ERASE,
	USBSIM_DFUSE_OP_MASS_ERASE,
	USBSIM_DFUSE_OP_READ_UNPROTECT,
	USBSIM_DFUSE_OP_WRITE,
} UsbsimDfuseOp;

struct _UsbsimDfuse {
	UsbsimDfuCore core; /* first: the model is a UsbsimDfuCore */
	UsbsimDfuseConfig config;
	GPtrArray *regions; /* of UsbsimDfuseRegion, one per alt setting */
	guint8 alt;
	guint32 address_pointer;
	gboolean read_protected;

	/* the operation of the last DNLOAD, executed on the first GETSTATUS */
	UsbsimDfuseOp op;
	guint32 op_address;
	GByteArray *op_data;
	gboolean op_executed;
	UsbsimDfuStatus op_result;
	guint32 op_report_ms;
	guint operations;
	guint16 dnload_next_block;

	/* leaving (core.leaving): the device answers nothing until it re-enumerates */

	GRand *rand;
	gdouble mass_erase_us;
	UsbsimDfuseStats stats;
};

/* reported times shrink with the scale but a non-zero figure never reads as zero */
static guint32
usbsim_dfuse_scale_report_ms(UsbsimDfuse *self, guint32 ms)
{
	if (ms == 0 || self->config.zero_poll_timeout)
		return 0;
	return MAX(1, (guint32)ceil(ms * self->config.common.time_scale));
}

static UsbsimDfuseRegion *
usbsim_dfuse_region(UsbsimDfuse *self, guint8 alt)
{
	if (alt >= self->regions->len)
		return NULL;
	return g_ptr_array_index(self->regions, alt);
}

static const UsbsimDfuseEraseTime *
usbsim_dfuse_erase_time(const UsbsimDfuseProfile *profile, guint32 size)
{
	const UsbsimDfuseEraseTime *best = &profile->erase_times[0];
	for (guint i = 0; i < USBSIM_DFUSE_MAX_RUNS && profile->erase_times[i].size > 0; i++) {
		if (profile->erase_times[i].size == size)
			return &profile->erase_times[i];
		if (profile->erase_times[i].size <= size)
			best = &profile->erase_times[i];
	}
	return best;
}

/* the real erase time of every erasable sector is drawn once, so that it does not depend on
 * the order a host erases in; a sector of a size the profile has no figure for scales */
static void
usbsim_dfuse_draw_erase_times(UsbsimDfuse *self, UsbsimDfuseRegion *region, GRand *rand)
{
	const UsbsimDfuseProfile *profile = &self->config.profile;
	for (guint i = 0; i < region->sectors->len; i++) {
		UsbsimDfuseSector *sector = &g_array_index(region->sectors, UsbsimDfuseSector, i);
		const UsbsimDfuseEraseTime *t = usbsim_dfuse_erase_time(profile, sector->size);
		gdouble ratio = t->size > 0 ? (gdouble)sector->size / t->size : 1.0;
		if ((sector->access & USBSIM_DFUSE_ACCESS_ERASE) == 0)
			continue;
		sector->erase_us = g_rand_double_range(rand, t->typ_us, t->max_us) * ratio;
		sector->report_erase_ms = profile->report_erase_max
					      ? (guint32)ceil(t->max_us * ratio / 1000.0)
					      : profile->report_erase_ms;
	}
}

static gchar *
usbsim_dfuse_flash_layout(UsbsimDfuse *self, GArray *runs)
{
	const UsbsimDfuseProfile *profile = &self->config.profile;
	GString *str = g_string_new(NULL);

	g_string_append_printf(str, "@%s/0x%08X/", profile->flash_name, profile->flash_base);
	for (guint i = 0; i < runs->len; i++) {
		UsbsimDfuseRun *run = &g_array_index(runs, UsbsimDfuseRun, i);
		if (i > 0)
			g_string_append_c(str, ',');
		g_string_append_printf(str,
				       "%0*u*%03uK%c",
				       (gint)profile->flash_run_digits,
				       run->count,
				       run->size / 1024,
				       run->access);
	}
	return g_string_free(str, FALSE);
}

/* the internal flash: the part's geometry cut at the flash size */
static UsbsimDfuseRegion *
usbsim_dfuse_flash_region(UsbsimDfuse *self)
{
	const UsbsimDfuseProfile *profile = &self->config.profile;
	UsbsimDfuseRegion *region = g_new0(UsbsimDfuseRegion, 1);
	g_autoptr(GArray) runs = g_array_new(FALSE, TRUE, sizeof(UsbsimDfuseRun));
	guint32 left = profile->flash_size;
	guint32 address = profile->flash_base;

	region->sectors = g_array_new(FALSE, TRUE, sizeof(UsbsimDfuseSector));
	for (guint i = 0; i < USBSIM_DFUSE_MAX_RUNS && left > 0; i++) {
		UsbsimDfuseRun run = profile->flash_runs[i];
		if (run.count == 0)
			break;
		run.count = MIN(run.count, left / run.size);
		if (run.count == 0)
			break;
		for (guint j = 0; j < run.count; j++) {
			UsbsimDfuseSector sector = {
			    .address = address,
			    .size = run.size,
			    .access = usbsim_dfuse_access_from_letter(run.access),
			};
			g_array_append_val(region->sectors, sector);
			address += run.size;
		}
		left -= run.count * run.size;
		g_array_append_val(runs, run);
	}
	region->base = profile->flash_base;
	region->size = profile->flash_size;
	region->writes_clear_bits = TRUE;
	region->layout = profile->flash_layout_reported != NULL
			     ? g_strdup(profile->flash_layout_reported)
			     : usbsim_dfuse_flash_layout(self, runs);
	region->memory = g_malloc(region->size);
	memset(region->memory, 0xff, region->size);
	return region;
}

static UsbsimDfuseRegion *
usbsim_dfuse_extra_region(const UsbsimDfuseAltSpec *spec)
{
	UsbsimDfuseRegion *region = g_new0(UsbsimDfuseRegion, 1);
	UsbsimDfuseSector *last;

	region->sectors = g_array_new(FALSE, TRUE, sizeof(UsbsimDfuseSector));
	region->layout = g_strdup(spec->layout);
	if (!usbsim_dfuse_parse_layout(spec->layout, region->sectors, NULL))
		g_error("profile layout '%s' does not parse", spec->layout);
	last = &g_array_index(region->sectors, UsbsimDfuseSector, region->sectors->len - 1);
	region->base = g_array_index(region->sectors, UsbsimDfuseSector, 0).address;
	region->size = last->address + last->size - region->base;
	region->writes_clear_bits = spec->writes_clear_bits;
	region->memory = g_malloc(region->size);
	memset(region->memory, spec->fill, region->size);
	return region;
}

UsbsimDfuse *
usbsim_dfuse_new(const UsbsimDfuseConfig *config)
{
	UsbsimDfuse *self = g_new0(UsbsimDfuse, 1);
	const UsbsimDfuseProfile *profile = &config->profile;
	g_autoptr(GRand) rand_erase = g_rand_new_with_seed(config->common.seed);
	UsbsimDfuseRegion *flash;
	guint alts;

	self->config = *config;
	usbsim_dfu_settings_keep(&self->config.common);
	if (self->config.common.serial == NULL && profile->serial != NULL)
		self->config.common.serial = g_strdup(profile->serial);
	if (self->config.common.serial == NULL && profile->serial_8bit) {
		self->config.common.serial =
		    g_strdup_printf("3C%cJ", usbsim_dfuse_gd32_size_letter(profile->flash_size));
	}

	self->regions = g_ptr_array_new_with_free_func((GDestroyNotify)usbsim_dfuse_region_free);
	flash = usbsim_dfuse_flash_region(self);
	g_ptr_array_add(self->regions, flash);
	for (guint i = 0; i < USBSIM_DFUSE_MAX_ALTS && profile->extra_alts[i].layout != NULL; i++)
		g_ptr_array_add(self->regions, usbsim_dfuse_extra_region(&profile->extra_alts[i]));
	alts = config->common.alts > 0 ? MIN(config->common.alts, self->regions->len)
				       : self->regions->len;
	g_ptr_array_set_size(self->regions, alts);
	for (guint i = 0; i < self->regions->len; i++)
		usbsim_dfuse_draw_erase_times(self, usbsim_dfuse_region(self, i), rand_erase);
	self->mass_erase_us = g_rand_double_range(rand_erase,
						  profile->mass_erase_typ_ms * 1000.0,
						  profile->mass_erase_max_ms * 1000.0);
	self->rand = g_rand_new_with_seed(config->common.seed + 1);

	if (config->common.flash_in != NULL) {
		gsize len = 0;
		const guint8 *data = g_bytes_get_data(config->common.flash_in, &len);
		memcpy(flash->memory, data, MIN(len, flash->size));
	}
	self->op_data = g_byte_array_new();
	self->read_protected = config->read_protected;
	self->address_pointer = flash->base;
	usbsim_dfu_core_init(&self->core,
			     &usbsim_dfuse_core_class,
			     &config->common,
			     &self->stats.counts);
	self->core.app_has_dfu = profile->app_has_dfu;
	self->core.will_detach = (profile->attributes & USBSIM_DFU_ATTR_WILL_DETACH) != 0;
	self->core.detach_timeout_ms = profile->detach_timeout_ms;
	return self;
}

void
usbsim_dfuse_free(UsbsimDfuse *self)
{
	usbsim_dfu_core_clear(&self->core);
	usbsim_dfuse_config_clear(&self->config);
	g_ptr_array_unref(self->regions);
	g_byte_array_unref(self->op_data);
	g_rand_free(self->rand);
	g_free(self);
}

UsbsimDfuMode
usbsim_dfuse_get_mode(UsbsimDfuse *self)
{
	/* a device that has left is gone from the bootloader, whether or not the bus saw it */
	return self->core.leaving ? self->core.reenumeration_mode : self->core.mode;
}

UsbsimDfuState
usbsim_dfuse_get_state(UsbsimDfuse *self)
{
	return self->core.state;
}

UsbsimDfuStatus
usbsim_dfuse_get_status(UsbsimDfuse *self)
{
	return self->core.status;
}

guint8
usbsim_dfuse_get_alt(UsbsimDfuse *self)
{
	return self->alt;
}

guint32
usbsim_dfuse_get_address_pointer(UsbsimDfuse *self)
{
	return self->address_pointer;
}

gboolean
usbsim_dfuse_get_read_protected(UsbsimDfuse *self)
{
	return self->read_protected;
}

GBytes *
usbsim_dfuse_get_memory(UsbsimDfuse *self, guint8 alt)
{
	UsbsimDfuseRegion *region = usbsim_dfuse_region(self, alt);
	if (region == NULL)
		return NULL;
	return g_bytes_new(region->memory, region->size);
}

GBytes *
usbsim_dfuse_get_flash(UsbsimDfuse *self)
{
	return usbsim_dfuse_get_memory(self, 0);
}

const gchar *
usbsim_dfuse_get_layout(UsbsimDfuse *self, guint8 alt)
{
	UsbsimDfuseRegion *region = usbsim_dfuse_region(self, alt);
	return region != NULL ? region->layout : NULL;
}

const UsbsimDfuseStats *
usbsim_dfuse_get_stats(UsbsimDfuse *self)
{
	return &self->stats;
}

const UsbsimFlashLog *
usbsim_dfuse_get_flash_log(UsbsimDfuse *self)
{
	return &self->core.log;
}

/* an application is present when its first word is not erased */
static gboolean
usbsim_dfuse_image_valid(UsbsimDfuse *self)
{
	UsbsimDfuseRegion *flash = usbsim_dfuse_region(self, 0);
	guint32 offset = self->config.profile.app_offset;
	for (guint i = 0; i < 4 && offset + i < flash->size; i++) {
		if (flash->memory[offset + i] != 0xff)
			return TRUE;
	}
	return FALSE;
}

/* the application's version is stored in its image; an erased word means none */
guint16
usbsim_dfuse_get_runtime_version(UsbsimDfuse *self)
{
	UsbsimDfuseRegion *flash = usbsim_dfuse_region(self, 0);
	guint64 offset =
	    (guint64)self->config.profile.app_offset + self->config.common.version_offset;

	return usbsim_dfu_core_read_version(flash->memory,
					    flash->size,
					    offset,
					    self->config.common.bcd_device);
}

/* a device that comes back starts over on alt 0 at the start of the flash */
static void
usbsim_dfuse_entered_mode(UsbsimDfuCore *core)
{
	UsbsimDfuse *self = (UsbsimDfuse *)core;
	self->alt = 0;
	self->op = USBSIM_DFUSE_OP_NONE;
	self->address_pointer = usbsim_dfuse_region(self, 0)->base;
}

/* the device goes: after a leave it runs the application, or the bootloader again when there
 * is none; it answers nothing until then */
static void
usbsim_dfuse_start_leaving(UsbsimDfuse *self, gint64 delay_us, gboolean to_app)
{
	self->core.leaving = TRUE;
	usbsim_dfu_core_schedule_reenumeration(&self->core,
					       delay_us,
					       to_app && usbsim_dfuse_image_valid(self)
						   ? USBSIM_DFU_MODE_RUNTIME
						   : USBSIM_DFU_MODE_DFU);
}

static const UsbsimDfuseSector *
usbsim_dfuse_find_sector(UsbsimDfuseRegion *region, guint32 address)
{
	for (guint i = 0; i < region->sectors->len; i++) {
		const UsbsimDfuseSector *s = &g_array_index(region->sectors, UsbsimDfuseSector, i);
		if (address >= s->address && (guint64)address < (guint64)s->address + s->size)
			return s;
	}
	return NULL;
}

/* every sector that [address, address + len) touches grants the access */
static gboolean
usbsim_dfuse_range_allows(UsbsimDfuseRegion *region, guint32 address, guint32 len, guint8 access)
{
	guint64 end = (guint64)address + len;
	for (guint i = 0; i < region->sectors->len; i++) {
		const UsbsimDfuseSector *s = &g_array_index(region->sectors, UsbsimDfuseSector, i);
		guint64 s_end = (guint64)s->address + s->size;
		if (s->address < end && s_end > address && (s->access & access) == 0)
			return FALSE;
	}
	return TRUE;
}

static gboolean
usbsim_dfuse_range_inside(UsbsimDfuseRegion *region, guint32 address, guint32 len)
{
	return address >= region->base &&
	       (guint64)address + len <= (guint64)region->base + region->size;
}

static guint32
usbsim_dfuse_mass_erase_report_ms(UsbsimDfuse *self)
{
	if (self->config.short_mass_erase_timeout)
		return self->config.profile.report_mass_erase_short_ms;
	return self->config.profile.mass_erase_max_ms;
}

static guint32
usbsim_dfuse_set_address_report_ms(UsbsimDfuse *self)
{
	if (self->config.bogus_set_address_timeout)
		return self->config.profile.report_set_address_bogus_ms;
	return 0;
}

static UsbsimDfuStatus
usbsim_dfuse_exec_set_address(UsbsimDfuse *self, gdouble *real_us, guint32 *report_ms)
{
	UsbsimDfuseRegion *region = usbsim_dfuse_region(self, self->alt);
	guint32 address = self->op_address;
	UsbsimDfuStatus result = USBSIM_DFU_STATUS_OK;

	*real_us = 0;
	*report_ms = usbsim_dfuse_set_address_report_ms(self);
	if (!usbsim_dfuse_range_inside(region, address, 1))
		result = USBSIM_DFU_STATUS_ERR_TARGET;
	else
		self->address_pointer = address;
	self->core.log.set_address_commands++;
	usbsim_flash_log_event(&self->core.log,
			       "\"event\":\"set-address\",\"alt\":%u,\"address\":%u,\"status\":%d",
			       self->alt,
			       address,
			       result);
	return result;
}

static void
usbsim_dfuse_erase_sector(UsbsimDfuse *self, UsbsimDfuseRegion *region, const UsbsimDfuseSector *s)
{
	memset(region->memory + (s->address - region->base), 0xff, s->size);
	usbsim_ranges_add(self->core.log.erased, self->alt, s->address, s->size);
	self->stats.sectors_erased++;
}

static UsbsimDfuStatus
usbsim_dfuse_exec_erase(UsbsimDfuse *self, gdouble *real_us, guint32 *report_ms)
{
	UsbsimDfuseRegion *region = usbsim_dfuse_region(self, self->alt);
	const UsbsimDfuseSector *sector = usbsim_dfuse_find_sector(region, self->op_address);
	UsbsimDfuStatus result = USBSIM_DFU_STATUS_OK;

	*real_us = 0;
	*report_ms = sector != NULL ? sector->report_erase_ms
				    : self->config.profile.report_erase_ms;
	if (self->read_protected)
		result = USBSIM_DFU_STATUS_ERR_VENDOR;
	else if (sector == NULL || (sector->access & USBSIM_DFUSE_ACCESS_ERASE) == 0)
		result = USBSIM_DFU_STATUS_ERR_TARGET;
	if (result == USBSIM_DFU_STATUS_OK) {
		usbsim_dfuse_erase_sector(self, region, sector);
		*real_us = sector->erase_us;
	}
	usbsim_flash_log_event(&self->core.log,
			       "\"event\":\"erase\",\"alt\":%u,\"address\":%u,\"size\":%u,"
			       "\"mass\":false,\"status\":%d",
			       self->alt,
			       sector != NULL ? sector->address : self->op_address,
			       result == USBSIM_DFU_STATUS_OK ? sector->size : 0,
			       result);
	return result;
}

/* erases every erasable sector of the memory; returns the span erased */
static guint
usbsim_dfuse_erase_all(UsbsimDfuse *self, UsbsimDfuseRegion *region, guint32 *first, guint32 *end)
{
	guint erased = 0;
	for (guint i = 0; i < region->sectors->len; i++) {
		const UsbsimDfuseSector *s = &g_array_index(region->sectors, UsbsimDfuseSector, i);
		if ((s->access & USBSIM_DFUSE_ACCESS_ERASE) == 0)
			continue;
		if (erased++ == 0)
			*first = s->address;
		*end = s->address + s->size;
		usbsim_dfuse_erase_sector(self, region, s);
	}
	return erased;
}

static UsbsimDfuStatus
usbsim_dfuse_exec_mass_erase(UsbsimDfuse *self, gdouble *real_us, guint32 *report_ms)
{
	UsbsimDfuseRegion *region = usbsim_dfuse_region(self, self->alt);
	UsbsimDfuStatus result = USBSIM_DFU_STATUS_OK;
	guint32 first = 0;
	guint32 end = 0;

	*real_us = 0;
	*report_ms = usbsim_dfuse_mass_erase_report_ms(self);
	if (self->read_protected)
		result = USBSIM_DFU_STATUS_ERR_VENDOR;
	else if (usbsim_dfuse_erase_all(self, region, &first, &end) == 0)
		result = USBSIM_DFU_STATUS_ERR_TARGET;
	else
		*real_us = self->mass_erase_us;
	if (result == USBSIM_DFU_STATUS_OK)
		self->stats.mass_erases++;
	usbsim_flash_log_event(&self->core.log,
			       "\"event\":\"erase\",\"alt\":%u,\"address\":%u,\"size\":%u,"
			       "\"mass\":true,\"status\":%d",
			       self->alt,
			       first,
			       end - first,
			       result);
	return result;
}

/* AN3156: the device erases the whole flash, lifts the protection and resets */
static UsbsimDfuStatus
usbsim_dfuse_exec_read_unprotect(UsbsimDfuse *self, gdouble *real_us, guint32 *report_ms)
{
	UsbsimDfuseRegion *flash = usbsim_dfuse_region(self, 0);
	guint8 alt = self->alt;
	guint32 first = 0;
	guint32 end = 0;

	self->alt = 0;
	usbsim_dfuse_erase_all(self, flash, &first, &end);
	self->alt = alt;
	self->read_protected = FALSE;
	self->stats.mass_erases++;
	*real_us = self->mass_erase_us;
	*report_ms = usbsim_dfuse_mass_erase_report_ms(self);
	usbsim_flash_log_event(&self->core.log,
			       "\"event\":\"read-unprotect\",\"alt\":0,\"address\":%u,\"size\":%u",
			       first,
			       end - first);
	return USBSIM_DFU_STATUS_OK;
}

static UsbsimDfuStatus
usbsim_dfuse_exec_write(UsbsimDfuse *self, gdouble *real_us, guint32 *report_ms)
{
	const UsbsimDfuseProfile *profile = &self->config.profile;
	UsbsimDfuseRegion *region = usbsim_dfuse_region(self, self->alt);
	guint32 address = self->op_address;
	guint32 len = self->op_data->len;
	UsbsimDfuStatus result = USBSIM_DFU_STATUS_OK;
	gboolean erased = TRUE;

	*real_us = 0;
	*report_ms = profile->report_block_ms;
	if (self->read_protected)
		result = USBSIM_DFU_STATUS_ERR_VENDOR;
	else if (!usbsim_dfuse_range_inside(region, address, len))
		result = USBSIM_DFU_STATUS_ERR_ADDRESS;
	else if (!usbsim_dfuse_range_allows(region, address, len, USBSIM_DFUSE_ACCESS_WRITE))
		result = USBSIM_DFU_STATUS_ERR_TARGET;
	if (result == USBSIM_DFU_STATUS_OK) {
		guint8 *mem = region->memory + (address - region->base);
		guint units = (len + profile->program_unit - 1) / profile->program_unit;
		for (guint32 i = 0; i < len; i++) {
			if (mem[i] != 0xff)
				erased = FALSE;
		}
		/* NOR flash only clears bits: a write over programmed cells ANDs them */
		for (guint32 i = 0; i < len; i++)
			mem[i] = region->writes_clear_bits ? mem[i] & self->op_data->data[i]
							   : self->op_data->data[i];
		if (!erased)
			self->core.log.writes_not_erased++;
		*real_us = units *
			   g_rand_double_range(self->rand,
					       profile->program_typ_ns,
					       profile->program_max_ns) /
			   1000.0;
		self->stats.counts.bytes_programmed += len;
		self->stats.program_us += *real_us;
		usbsim_ranges_add(self->core.log.written, self->alt, address, len);
	}
	usbsim_flash_log_event(&self->core.log,
			       "\"event\":\"write\",\"alt\":%u,\"address\":%u,\"length\":%u,"
			       "\"erased\":%s,\"status\":%d",
			       self->alt,
			       address,
			       len,
			       result == USBSIM_DFU_STATUS_OK && erased ? "true" : "false",
			       result);
	return result;
}

/* the first GETSTATUS after a DNLOAD executes its operation and reports dfuDNBUSY */
static void
usbsim_dfuse_execute(UsbsimDfuse *self, gint64 now_us, UsbsimReply *reply)
{
	gdouble real_us = 0;
	guint32 report_ms = 0;
	UsbsimDfuStatus result = USBSIM_DFU_STATUS_OK;
	gint64 busy_us;

	switch (self->op) {
	case USBSIM_DFUSE_OP_SET_ADDRESS:
		result = usbsim_dfuse_exec_set_address(self, &real_us, &report_ms);
		break;
	case USBSIM_DFUSE_OP_ERASE:
		result = usbsim_dfuse_exec_erase(self, &real_us, &report_ms);
		break;
	case USBSIM_DFUSE_OP_MASS_ERASE:
		result = usbsim_dfuse_exec_mass_erase(self, &real_us, &report_ms);
		break;
	case USBSIM_DFUSE_OP_READ_UNPROTECT:
		result = usbsim_dfuse_exec_read_unprotect(self, &real_us, &report_ms);
		break;
	case USBSIM_DFUSE_OP_WRITE:
		result = usbsim_dfuse_exec_write(self, &real_us, &report_ms);
		break;
	default:
		break;
	}
	if (self->core.pending_status != USBSIM_DFU_STATUS_OK) {
		result = self->core.pending_status;
		self->core.pending_status = USBSIM_DFU_STATUS_OK;
	}
	self->operations++;
	self->op_executed = TRUE;
	self->op_result = result;
	self->op_report_ms = usbsim_dfuse_scale_report_ms(self, report_ms);
	busy_us = usbsim_dfu_core_scale_us(&self->core, real_us);
	self->stats.counts.busy_us += busy_us;
	if (self->config.stuck_busy_from > 0 && self->operations >= self->config.stuck_busy_from)
		self->core.busy_until_us = USBSIM_DFUSE_NEVER;
	else
		self->core.busy_until_us = now_us + busy_us;
	self->core.state = USBSIM_DFU_STATE_DNBUSY;
	usbsim_dfu_core_answer_status(&self->core, self->op_report_ms, reply);

	/* it resets once the flash is erased and comes back as a blank bootloader */
	if (self->op == USBSIM_DFUSE_OP_READ_UNPROTECT)
		usbsim_dfuse_start_leaving(self, busy_us, FALSE);
}

static void
usbsim_dfuse_getstatus_sync(UsbsimDfuCore *core, gint64 now_us, UsbsimReply *reply)
{
	UsbsimDfuse *self = (UsbsimDfuse *)core;
	if (!self->op_executed) {
		usbsim_dfuse_execute(self, now_us, reply);
		return;
	}
	if (self->op_result != USBSIM_DFU_STATUS_OK) {
		self->core.state = USBSIM_DFU_STATE_ERROR;
		self->core.status = self->op_result;
	} else {
		self->core.state = USBSIM_DFU_STATE_DNLOAD_IDLE;
	}
	usbsim_dfu_core_answer_status(&self->core, 0, reply);
}

static void
usbsim_dfuse_getstatus_busy(UsbsimDfuCore *core, gint64 now_us, UsbsimReply *reply)
{
	UsbsimDfuse *self = (UsbsimDfuse *)core;
	gint64 remaining_us = self->core.busy_until_us - now_us;
	gboolean erasing = self->op == USBSIM_DFUSE_OP_ERASE ||
			   self->op == USBSIM_DFUSE_OP_MASS_ERASE ||
			   self->op == USBSIM_DFUSE_OP_READ_UNPROTECT;
	guint32 poll_ms;

	usbsim_dfu_core_early_poll(&self->core, reply);
	if (self->config.stall_early_poll_during_erase && erasing) {
		/* as STM32L4: the pipe stalls, the erase goes on */
		reply->outcome = USBSIM_OUTCOME_STALL;
		return;
	}
	if (self->core.early_poll_stalls) {
		usbsim_dfu_core_stall_error(&self->core, USBSIM_DFU_STATUS_ERR_STALLEDPKT, reply);
		return;
	}
	if (self->config.zero_poll_timeout)
		poll_ms = 0;
	else if (self->core.busy_until_us == USBSIM_DFUSE_NEVER)
		poll_ms = self->op_report_ms;
	else
		poll_ms = MAX(1, (remaining_us + 999) / 1000);
	usbsim_dfu_core_answer_status(&self->core, poll_ms, reply);
}

/* the step between the addresses of consecutive blocks */
static guint32
usbsim_dfuse_stride(UsbsimDfuse *self, const UsbsimSetup *setup)
{
	if (self->config.stride_transfer_size)
		return self->config.profile.transfer_size;
	return setup->length;
}

/* a DNLOAD: a command in block 0, data in blocks 2 and up, a leave when empty */
static void
usbsim_dfuse_dnload(UsbsimDfuCore *core,
		    const UsbsimSetup *setup,
		    const guint8 *data,
		    gsize len,
		    UsbsimReply *reply)
{
	UsbsimDfuse *self = (UsbsimDfuse *)core;
	if (setup->length > self->config.profile.transfer_size ||
	    (self->config.profile.attributes & USBSIM_DFU_ATTR_CAN_DNLOAD) == 0) {
		usbsim_dfu_core_stall_error(&self->core, USBSIM_DFU_STATUS_ERR_STALLEDPKT, reply);
		return;
	}
	if (setup->length == 0) {
		self->stats.leaves++;
		usbsim_flash_log_event(&self->core.log,
				       "\"event\":\"leave\",\"address\":%u,\"image_valid\":%s",
				       self->address_pointer,
				       usbsim_dfuse_image_valid(self) ? "true" : "false");
		if (self->config.profile.silent_leave) {
			self->core.state = USBSIM_DFU_STATE_MANIFEST;
			usbsim_dfuse_start_leaving(self, USBSIM_DFUSE_LEAVE_US, TRUE);
			return;
		}
		self->core.state = USBSIM_DFU_STATE_MANIFEST_SYNC;
		return;
	}
	g_byte_array_set_size(self->op_data, 0);
	if (setup->value == 0) {
		guint8 cmd = len > 0 ? data[0] : 0xff;
		guint32 address =
		    len >= 5 ? data[1] | (data[2] << 8) | (data[3] << 16) | ((guint32)data[4] << 24)
			     : 0;
		if (cmd == USBSIM_DFUSE_CMD_SET_ADDRESS && len == 5) {
			self->op = USBSIM_DFUSE_OP_SET_ADDRESS;
		} else if (cmd == USBSIM_DFUSE_CMD_ERASE && len == 5) {
			self->op = USBSIM_DFUSE_OP_ERASE;
		} else if (cmd == USBSIM_DFUSE_CMD_ERASE && len == 1) {
			self->op = USBSIM_DFUSE_OP_MASS_ERASE;
		} else if (cmd == USBSIM_DFUSE_CMD_READ_UNPROTECT && len == 1) {
			self->op = USBSIM_DFUSE_OP_READ_UNPROTECT;
		} else {
			usbsim_dfu_core_stall_error(&self->core,
						    USBSIM_DFU_STATUS_ERR_STALLEDPKT,
						    reply);
			return;
		}
		self->op_address = address;
	} else if (setup->value == 1) {
		/* reserved by AN3156 */
		usbsim_dfu_core_stall_error(&self->core, USBSIM_DFU_STATUS_ERR_STALLEDPKT, reply);
		return;
	} else {
		/* AN2662: the block size in this formula is the request's own length */
		if (self->core.state == USBSIM_DFU_STATE_DNLOAD_IDLE &&
		    self->op == USBSIM_DFUSE_OP_WRITE && setup->value != self->dnload_next_block)
			self->stats.counts.blocks_out_of_sequence++;
		self->dnload_next_block = setup->value + 1;
		self->op = USBSIM_DFUSE_OP_WRITE;
		self->op_address =
		    (guint32)((setup->value - 2) * (guint64)usbsim_dfuse_stride(self, setup) +
			      self->address_pointer);
		g_byte_array_append(self->op_data, data, len);
	}
	self->op_executed = FALSE;
	self->core.state = USBSIM_DFU_STATE_DNLOAD_SYNC;
}

static void
usbsim_dfuse_upload(UsbsimDfuCore *core, const UsbsimSetup *setup, UsbsimReply *reply)
{
	UsbsimDfuse *self = (UsbsimDfuse *)core;
	static const guint8 commands[] = {USBSIM_DFUSE_CMD_GET_COMMANDS,
					  USBSIM_DFUSE_CMD_SET_ADDRESS,
					  USBSIM_DFUSE_CMD_ERASE,
					  USBSIM_DFUSE_CMD_READ_UNPROTECT};
	UsbsimDfuseRegion *region = usbsim_dfuse_region(self, self->alt);
	guint32 address;
	guint32 len;

	if (setup->length > self->config.profile.transfer_size ||
	    (self->config.profile.attributes & USBSIM_DFU_ATTR_CAN_UPLOAD) == 0 ||
	    setup->value == 1) {
		usbsim_dfu_core_stall_error(&self->core, USBSIM_DFU_STATUS_ERR_STALLEDPKT, reply);
		return;
	}
	if (setup->value == 0) {
		len = MIN(setup->length, sizeof(commands));
		g_byte_array_append(reply->data, commands, len);
		self->core.state = len < setup->length ? USBSIM_DFU_STATE_DFU_IDLE
						       : USBSIM_DFU_STATE_UPLOAD_IDLE;
		return;
	}
	if (self->read_protected) {
		usbsim_dfu_core_stall_error(&self->core, USBSIM_DFU_STATUS_ERR_VENDOR, reply);
		return;
	}
	address = (guint32)((setup->value - 2) * (guint64)usbsim_dfuse_stride(self, setup) +
			    self->address_pointer);
	if (!usbsim_dfuse_range_inside(region, address, 1)) {
		usbsim_dfu_core_stall_error(&self->core, USBSIM_DFU_STATUS_ERR_ADDRESS, reply);
		return;
	}
	len = MIN(setup->length, region->base + region->size - address);
	if (!usbsim_dfuse_range_allows(region, address, len, USBSIM_DFUSE_ACCESS_READ)) {
		usbsim_dfu_core_stall_error(&self->core, USBSIM_DFU_STATUS_ERR_TARGET, reply);
		return;
	}
	g_byte_array_append(reply->data, region->memory + (address - region->base), len);
	self->stats.counts.bytes_uploaded += len;
	self->core.state = len < setup->length ? USBSIM_DFU_STATE_DFU_IDLE
					       : USBSIM_DFU_STATE_UPLOAD_IDLE;
}
/* AN3156: the leave reports dfuMANIFEST, then the device jumps to the application */
static void
usbsim_dfuse_getstatus_manifest_sync(UsbsimDfuCore *core, gint64 now_us, UsbsimReply *reply)
{
	UsbsimDfuse *self = (UsbsimDfuse *)core;
	core->state = USBSIM_DFU_STATE_MANIFEST;
	usbsim_dfu_core_answer_status(core, 0, reply);
	usbsim_dfuse_start_leaving(self, USBSIM_DFUSE_LEAVE_US, TRUE);
}

static gboolean
usbsim_dfuse_usb_reset_dfu_mode(UsbsimDfuCore *core)
{
	UsbsimDfuse *self = (UsbsimDfuse *)core;

	if (self->config.profile.reset_boots_app && usbsim_dfuse_image_valid(self)) {
		usbsim_dfu_core_enter_mode(&self->core, USBSIM_DFU_MODE_RUNTIME);
		return TRUE;
	}

	/* a bus reset restarts the USB stack of the bootloader, not the part */
	self->core.state = USBSIM_DFU_STATE_DFU_IDLE;
	self->core.status = USBSIM_DFU_STATUS_OK;
	self->alt = 0;
	return FALSE;
}

static void
usbsim_dfuse_set_alt(gpointer model, guint8 interface, guint8 alt)
{
	UsbsimDfuse *self = model;
	if (self->core.mode == USBSIM_DFU_MODE_DFU && interface == 0 && alt < self->regions->len)
		self->alt = alt;
}

static UsbsimDescription *
usbsim_dfuse_describe(gpointer model)
{
	UsbsimDfuse *self = model;
	const UsbsimDfuseProfile *profile = &self->config.profile;
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	const UsbsimDfuFunctional functional = {
	    .attributes = profile->attributes,
	    .detach_timeout_ms = profile->detach_timeout_ms,
	    .transfer_size = profile->transfer_size,
	    .bcd_dfu = USBSIM_DFUSE_BCD_DFU,
	};
	UsbsimDescription *desc;
	guint16 bcd_device = self->config.common.bcd_device;

	if (self->core.mode == USBSIM_DFU_MODE_RUNTIME) {
		bcd_device = usbsim_dfuse_get_runtime_version(self);
		g_ptr_array_add(names, g_strdup(profile->app_product));
		g_ptr_array_add(names, g_strdup("usbsim DfuSe runtime"));
	} else {
		/* each alt setting names its memory by its layout string */
		for (guint i = 0; i < self->regions->len; i++)
			g_ptr_array_add(names, g_strdup(usbsim_dfuse_get_layout(self, i)));
	}
	/* the STM32 bootloaders put the functional descriptor once, after the last alt, as DFU
	 * 1.1 section 4.2 says */
	desc = usbsim_dfu_core_describe(&self->core,
					&profile->ids,
					bcd_device,
					names,
					&self->config.common,
					&functional);
	if (self->core.mode == USBSIM_DFU_MODE_RUNTIME) {
		desc->product = g_strdup(profile->app_product);
	} else {
		desc->bcd_usb = profile->bcd_usb;
		desc->config_attributes = 0xc0;
		if (!self->config.no_product_string)
			desc->product = g_strdup(profile->product);
		desc->serial_8bit = profile->serial_8bit;
	}
	desc->manufacturer = g_strdup(profile->manufacturer);
	usbsim_description_build(desc);
	return desc;
}

static const UsbsimDfuCoreClass usbsim_dfuse_core_class = {
    .dnload = usbsim_dfuse_dnload,
    .upload = usbsim_dfuse_upload,
    .getstatus_sync = usbsim_dfuse_getstatus_sync,
    .getstatus_busy = usbsim_dfuse_getstatus_busy,
    .getstatus_manifest_sync = usbsim_dfuse_getstatus_manifest_sync,
    .entered_mode = usbsim_dfuse_entered_mode,
    .usb_reset_dfu_mode = usbsim_dfuse_usb_reset_dfu_mode,
};

static const UsbsimModelOps usbsim_dfuse_model_ops = {
    USBSIM_DFU_CORE_MODEL_OPS,
    .describe = usbsim_dfuse_describe,
    .set_alt = usbsim_dfuse_set_alt,
};

const UsbsimModelOps *
usbsim_dfuse_ops(void)
{
	return &usbsim_dfuse_model_ops;
}

/*
 * tests/usbsim/README.md, the physical limit of the data this run wrote: per contiguous written
 * range one set-address; per block of wTransferSize its bus time and the real program time; per
 * erasable sector the range touches its real erase time; per operation the command and one status
 * read; one leave. The spec-compliant limit takes max(real, reported) for each operation. The
 * obeying host waits each operation as the model answers it: the reported time, then the rest
 * rounded up to a millisecond, a status read each (usbsim_poll_sequence_us()).
 */
void
usbsim_dfuse_get_limits(UsbsimDfuse *self, UsbsimLimits *limits)
{
	const UsbsimDfuseProfile *profile = &self->config.profile;
	g_autoptr(GHashTable) counted = g_hash_table_new(g_direct_hash, g_direct_equal);
	gdouble status_us = usbsim_bus_cost_us(6);
	gdouble command_us = usbsim_bus_cost_us(5);
	gdouble per_byte_us = 0;
	gdouble block_report_us;
	gdouble set_address_report_us;
	gdouble physical = 0;
	gdouble spec = 0;
	gdouble obeying = 0;
	gboolean rest_reported = !self->config.zero_poll_timeout;

	block_report_us = self->config.zero_poll_timeout ? 0 : profile->report_block_ms * 1000.0;
	set_address_report_us =
	    self->config.zero_poll_timeout ? 0 : usbsim_dfuse_set_address_report_ms(self) * 1000.0;
	if (self->stats.counts.bytes_programmed > 0)
		per_byte_us = self->stats.program_us / self->stats.counts.bytes_programmed;

	for (guint i = 0; i < self->core.log.written->len; i++) {
		UsbsimRange *range = &g_array_index(self->core.log.written, UsbsimRange, i);
		UsbsimDfuseRegion *region = usbsim_dfuse_region(self, range->alt);
		guint64 end = (guint64)range->address + range->size;

		physical += command_us + status_us;
		spec += command_us + status_us + set_address_report_us;
		obeying +=
		    command_us + usbsim_poll_sequence_us(0,
							 (guint32)(set_address_report_us / 1000),
							 rest_reported);
		for (guint32 off = 0; off < range->size; off += profile->transfer_size) {
			guint32 len = MIN(profile->transfer_size, range->size - off);
			gdouble real_us = per_byte_us * len;
			physical += usbsim_bus_cost_us(len) + status_us + real_us;
			spec += usbsim_bus_cost_us(len) + status_us + MAX(real_us, block_report_us);
			obeying += usbsim_bus_cost_us(len) +
				   usbsim_poll_sequence_us(real_us,
							   (guint32)(block_report_us / 1000),
							   rest_reported);
		}
		for (guint j = 0; region != NULL && j < region->sectors->len; j++) {
			UsbsimDfuseSector *s =
			    &g_array_index(region->sectors, UsbsimDfuseSector, j);
			gdouble report_us;
			if ((s->access & USBSIM_DFUSE_ACCESS_ERASE) == 0 || s->address >= end ||
			    (guint64)s->address + s->size <= range->address ||
			    g_hash_table_contains(counted, s))
				continue;
			g_hash_table_add(counted, s);
			report_us = self->config.zero_poll_timeout ? 0
								   : s->report_erase_ms * 1000.0;
			physical += command_us + status_us + s->erase_us;
			spec += command_us + status_us + MAX(s->erase_us, report_us);
			obeying += command_us + usbsim_poll_sequence_us(s->erase_us,
									(guint32)(report_us / 1000),
									rest_reported);
		}
	}
	if (self->stats.leaves > 0) {
		physical += usbsim_bus_cost_us(0) + status_us;
		spec += usbsim_bus_cost_us(0) + status_us;
		obeying += usbsim_bus_cost_us(0) + status_us;
	}
	usbsim_dfu_core_set_limits(&self->config.common, physical, spec, obeying, limits);
}

void
usbsim_dfuse_get_report(UsbsimDfuse *self, UsbsimDfuReport *report)
{
	usbsim_dfu_core_report(&self->core, report);
	/* a device that has left is counted where it goes */
	report->mode = usbsim_dfuse_get_mode(self);
	report->erases = self->stats.sectors_erased;
	report->manifestations = self->stats.leaves;
	report->runtime_version = usbsim_dfuse_get_runtime_version(self);
	usbsim_dfuse_get_limits(self, &report->limits);
}
