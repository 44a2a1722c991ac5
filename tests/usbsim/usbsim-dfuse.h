/*
 * An STM32 DfuSe device (AN3156, AN2662, UM0424): DFU 1.1 with bcdDFUVersion 0x011A, commands
 * in DNLOAD block 0 (set address pointer, erase page, mass erase, read unprotect), data blocks
 * addressed from the address pointer, leave, and one memory region per alternate setting,
 * described by its iInterface layout string and guarded by the access letters of it.
 *
 * As the DFU 1.1 model, it never sleeps and never reads a clock.
 *
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "usbsim-dfu.h"
#include "usbsim-flashlog.h"

#define USBSIM_DFUSE_ACCESS_READ  (1u << 0)
#define USBSIM_DFUSE_ACCESS_ERASE (1u << 1)
#define USBSIM_DFUSE_ACCESS_WRITE (1u << 2)

#define USBSIM_DFUSE_CMD_GET_COMMANDS	0x00
#define USBSIM_DFUSE_CMD_SET_ADDRESS	0x21
#define USBSIM_DFUSE_CMD_ERASE		0x41
#define USBSIM_DFUSE_CMD_READ_UNPROTECT 0x92

#define USBSIM_DFUSE_MAX_RUNS 4
#define USBSIM_DFUSE_MAX_ALTS 4

/* NN sectors of SIZE bytes with access letter a..g, as in a layout string */
typedef struct {
	guint32 count;
	guint32 size;
	gchar access;
} UsbsimDfuseRun;

/* an alternate setting besides the internal flash: its layout is the real geometry */
typedef struct {
	const gchar *layout;
	gboolean writes_clear_bits; /* OTP is NOR flash; option bytes are replaced as a whole */
	guint8 fill;		    /* contents at start */
} UsbsimDfuseAltSpec;

/* erase time of a sector of that size, at scale 1.0 */
typedef struct {
	guint32 size;
	guint32 typ_us;
	guint32 max_us;
} UsbsimDfuseEraseTime;

typedef struct {
	const gchar *name;
	const gchar *description;
	UsbsimDfuIds ids;
	guint16 bcd_bootloader;
	guint16 bcd_usb;
	const gchar *manufacturer;
	const gchar *product;
	const gchar *app_product;
	const gchar *serial;	  /* NULL: made from the flash size (GD32) */
	gboolean serial_8bit;	  /* GD32: 8-bit serial string coding the flash size */
	gboolean app_has_dfu;	  /* the application has a DFU runtime interface */
	gboolean reset_boots_app; /* a USB reset in DFU mode runs a valid application */
	gboolean silent_leave;	  /* leaves on the zero-length DNLOAD, answers nothing after it */
	UsbsimDfuMode default_mode;
	guint8 attributes; /* functional descriptor bmAttributes */
	guint16 detach_timeout_ms;
	guint16 transfer_size;
	/* the internal flash (alt 0): name, real geometry, and the string the device reports */
	guint32 flash_base;
	const gchar *flash_name;
	guint flash_run_digits; /* digits of a run's sector count in the layout string */
	UsbsimDfuseRun flash_runs[USBSIM_DFUSE_MAX_RUNS];
	const gchar *flash_layout_reported; /* a wrong string the device reports, or NULL */
	guint32 flash_size;
	guint32 app_offset; /* where the application starts, from the flash base */
	UsbsimDfuseAltSpec extra_alts[USBSIM_DFUSE_MAX_ALTS];
	/* timing, tests/usbsim/README.md */
	UsbsimDfuseEraseTime erase_times[USBSIM_DFUSE_MAX_RUNS];
	gboolean report_erase_max; /* an erase reports its maximum time, else report_erase_ms */
	guint32 report_erase_ms;
	guint32 mass_erase_typ_ms;
	guint32 mass_erase_max_ms;
	guint32 program_unit;
	guint32 program_typ_ns;
	guint32 program_max_ns;
	guint32 report_block_ms; /* reported for every data block, whatever its length */
	guint32 report_set_address_bogus_ms; /* what a misbehaving SET_ADDRESS reports */
	guint32 report_mass_erase_short_ms;  /* what a misbehaving mass erase reports */
} UsbsimDfuseProfile;

const UsbsimDfuseProfile *
usbsim_dfuse_profile_find(const gchar *name);
const UsbsimDfuseProfile *const *
usbsim_dfuse_profiles(void);

typedef struct {
	UsbsimDfuseProfile profile; /* with the command line overrides applied */
	UsbsimDfuSettings common;
	/* a block's address steps by wTransferSize, as ST's USB device library does, instead of
	 * by the request's own length, as AN2662 words it */
	gboolean stride_transfer_size;
	/* misbehaviours */
	gboolean bogus_set_address_timeout;
	gboolean zero_poll_timeout;
	gboolean short_mass_erase_timeout;
	gboolean stall_early_poll_during_erase;
	guint stuck_busy_from; /* 1-based operation from which the device stays busy; 0 never */
	gboolean read_protected;
	gboolean no_product_string; /* DFU mode: iProduct 0, the device names itself nowhere */
} UsbsimDfuseConfig;

void
usbsim_dfuse_config_init(UsbsimDfuseConfig *config, const UsbsimDfuseProfile *profile);
void
usbsim_dfuse_config_clear(UsbsimDfuseConfig *config);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(UsbsimDfuseConfig, usbsim_dfuse_config_clear)
gboolean
usbsim_dfuse_check_flash_size(const UsbsimDfuseProfile *profile, guint32 size, GError **error);

/* one sector of the real geometry of an alternate setting */
typedef struct {
	guint32 address;
	guint32 size;
	guint8 access;
	gdouble erase_us; /* real erase time at scale 1.0, drawn once per sector */
	guint32 report_erase_ms;
} UsbsimDfuseSector;

gboolean
usbsim_dfuse_parse_layout(const gchar *layout, GArray *sectors, gchar **name);

typedef struct {
	UsbsimDfuCounts counts;
	guint sectors_erased;
	guint mass_erases;
	guint leaves;
	gdouble program_us; /* real program time at scale 1.0 */
} UsbsimDfuseStats;

typedef struct _UsbsimDfuse UsbsimDfuse;

UsbsimDfuse *
usbsim_dfuse_new(const UsbsimDfuseConfig *config);
void
usbsim_dfuse_free(UsbsimDfuse *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UsbsimDfuse, usbsim_dfuse_free)

const UsbsimModelOps *
usbsim_dfuse_ops(void);

UsbsimDfuMode
usbsim_dfuse_get_mode(UsbsimDfuse *self);
UsbsimDfuState
usbsim_dfuse_get_state(UsbsimDfuse *self);
UsbsimDfuStatus
usbsim_dfuse_get_status(UsbsimDfuse *self);
guint8
usbsim_dfuse_get_alt(UsbsimDfuse *self);
guint32
usbsim_dfuse_get_address_pointer(UsbsimDfuse *self);
gboolean
usbsim_dfuse_get_read_protected(UsbsimDfuse *self);
guint16
usbsim_dfuse_get_runtime_version(UsbsimDfuse *self);
GBytes *
usbsim_dfuse_get_flash(UsbsimDfuse *self);
GBytes *
usbsim_dfuse_get_memory(UsbsimDfuse *self, guint8 alt);
const gchar *
usbsim_dfuse_get_layout(UsbsimDfuse *self, guint8 alt);
const UsbsimDfuseStats *
usbsim_dfuse_get_stats(UsbsimDfuse *self);
const UsbsimFlashLog *
usbsim_dfuse_get_flash_log(UsbsimDfuse *self);
void
usbsim_dfuse_get_limits(UsbsimDfuse *self, UsbsimLimits *limits);
void
usbsim_dfuse_get_report(UsbsimDfuse *self, UsbsimDfuReport *report);
