/*
 * A USB DFU 1.1 device: runtime and DFU mode, the state machine of the DFU 1.1
 * specification, a page-erased flash and the busy times of a timing profile.
 *
 * The model never sleeps and never reads a clock: every entry point takes the time now,
 * so that the same code runs in real time under the harness and in unit tests.
 *
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "usbsim-flashlog.h"
#include "usbsim-model.h"

typedef enum {
	USBSIM_DFU_STATE_APP_IDLE = 0,
	USBSIM_DFU_STATE_APP_DETACH = 1,
	USBSIM_DFU_STATE_DFU_IDLE = 2,
	USBSIM_DFU_STATE_DNLOAD_SYNC = 3,
	USBSIM_DFU_STATE_DNBUSY = 4,
	USBSIM_DFU_STATE_DNLOAD_IDLE = 5,
	USBSIM_DFU_STATE_MANIFEST_SYNC = 6,
	USBSIM_DFU_STATE_MANIFEST = 7,
	USBSIM_DFU_STATE_MANIFEST_WAIT_RESET = 8,
	USBSIM_DFU_STATE_UPLOAD_IDLE = 9,
	USBSIM_DFU_STATE_ERROR = 10,
} UsbsimDfuState;

typedef enum {
	USBSIM_DFU_STATUS_OK = 0,
	USBSIM_DFU_STATUS_ERR_TARGET = 1,
	USBSIM_DFU_STATUS_ERR_FILE = 2,
	USBSIM_DFU_STATUS_ERR_WRITE = 3,
	USBSIM_DFU_STATUS_ERR_ERASE = 4,
	USBSIM_DFU_STATUS_ERR_CHECK_ERASED = 5,
	USBSIM_DFU_STATUS_ERR_PROG = 6,
	USBSIM_DFU_STATUS_ERR_VERIFY = 7,
	USBSIM_DFU_STATUS_ERR_ADDRESS = 8,
	USBSIM_DFU_STATUS_ERR_NOTDONE = 9,
	USBSIM_DFU_STATUS_ERR_FIRMWARE = 10,
	USBSIM_DFU_STATUS_ERR_VENDOR = 11,
	USBSIM_DFU_STATUS_ERR_USBR = 12,
	USBSIM_DFU_STATUS_ERR_POR = 13,
	USBSIM_DFU_STATUS_ERR_UNKNOWN = 14,
	USBSIM_DFU_STATUS_ERR_STALLEDPKT = 15,
} UsbsimDfuStatus;

typedef enum {
	USBSIM_DFU_REQUEST_DETACH = 0,
	USBSIM_DFU_REQUEST_DNLOAD = 1,
	USBSIM_DFU_REQUEST_UPLOAD = 2,
	USBSIM_DFU_REQUEST_GETSTATUS = 3,
	USBSIM_DFU_REQUEST_CLRSTATUS = 4,
	USBSIM_DFU_REQUEST_GETSTATE = 5,
	USBSIM_DFU_REQUEST_ABORT = 6,
	USBSIM_DFU_REQUEST_LAST,
} UsbsimDfuRequest;

#define USBSIM_DFU_REQUEST_ANY (-1)

typedef enum {
	USBSIM_FAULT_STALL,
	USBSIM_FAULT_TIMEOUT,
	USBSIM_FAULT_UNPLUG,
	USBSIM_FAULT_CORRUPT,
	USBSIM_FAULT_SHORT,
	USBSIM_FAULT_STATUS,	 /* the operation fails with a DFU status code */
	USBSIM_FAULT_POWER_LOSS, /* unanswered; the part restarts in its bootloader */
} UsbsimFaultKind;

typedef struct {
	UsbsimFaultKind kind;
	UsbsimDfuStatus status; /* for USBSIM_FAULT_STATUS */
	gint request;		/* UsbsimDfuRequest or USBSIM_DFU_REQUEST_ANY */
	guint count;		/* 1-based count of that request type */
} UsbsimFault;

typedef enum {
	USBSIM_DFU_MODE_RUNTIME,
	USBSIM_DFU_MODE_DFU,
} UsbsimDfuMode;

/* how a device that is not manifestation tolerant ends its manifestation (DFU 1.1 section
 * 7.2 allows the first two; the third is the GD32VF103's) */
typedef enum {
	USBSIM_DFU_ENDING_WAIT_RESET, /* waits in dfuMANIFEST-WAIT-RESET for a bus reset */
	USBSIM_DFU_ENDING_RESET,      /* resets itself once manifested and runs the application */
	USBSIM_DFU_ENDING_SILENT,     /* answers no GETSTATUS after the last DNLOAD, then resets */
} UsbsimDfuEnding;

/* the USB identities of a DFU device, both modes under one vendor ID */
typedef struct {
	guint16 vid;
	guint16 runtime_pid; /* the application */
	guint16 dfu_pid;
} UsbsimDfuIds;

/* a timing profile, tests/usbsim/README.md; times at scale 1.0 */
typedef struct {
	const gchar *name;
	const gchar *description;
	UsbsimDfuIds ids;
	guint32 flash_size;
	guint32 page_size;
	guint16 transfer_size;
	guint32 erase_typ_us; /* per page */
	guint32 erase_max_us;
	guint32 program_unit;	/* bytes programmed at once: 2 half-word, 4 word */
	guint32 program_typ_ns; /* per unit */
	guint32 program_max_ns;
	guint32 report_erase_ms;   /* bwPollTimeout share for each page erased */
	guint32 report_program_ms; /* bwPollTimeout share for each report_block bytes */
	guint32 report_block;
	guint32 manifest_ms; /* manifestation of a device that is not manifestation tolerant */
	const gchar *product;
} UsbsimDfuProfile;

const UsbsimDfuProfile *
usbsim_dfu_profile_find(const gchar *name);
const UsbsimDfuProfile *const *
usbsim_dfu_profiles(void);

/* what the poll timeout of every status reply says, whatever the device is doing */
typedef enum {
	USBSIM_POLL_HONEST,    /* the profile's own figures */
	USBSIM_POLL_MAX,       /* 0xFFFFFF ms, the 24-bit field's maximum (4.6 h) */
	USBSIM_POLL_ALTERNATE, /* 0, then 0xFFFFFF, then 0, ... from reply to reply */
	USBSIM_POLL_RANDOM,    /* drawn uniformly in [0, 0xFFFFFF] with the seed */
} UsbsimPoll;

#define USBSIM_POLL_TIMEOUT_FIELD_MAX 0xFFFFFFu

/* the figure a device with @poll puts into its @n-th status reply instead of @poll_ms */
guint32
usbsim_poll_reported(UsbsimPoll poll, guint n, GRand *rand, guint32 poll_ms);

/* what the configuration of every DFU model holds, the DfuSe model's too */
typedef struct {
	UsbsimDfuMode initial_mode;
	guint16 bcd_device; /* bootloader version and runtime version without an image one */
	gchar *serial;
	guint alts; /* DFU mode alt settings; for DfuSe the first N memories, 0 all of them */
	gboolean func_desc_every_alt;
	gboolean stall_functional_request; /* a standalone GET_DESCRIPTOR 0x21 stalls (STM32C5) */
	guint32 version_offset;		   /* DfuSe: from the start of the application */
	gboolean early_poll_stalls; /* a status poll while busy stalls instead of answering */
	UsbsimPoll poll;	    /* unscaled: a lie is not a time */
	gdouble time_scale;
	guint32 seed;
	GBytes *flash_in; /* initial contents of the (internal) flash, or NULL for erased */
	GArray *faults;	  /* of UsbsimFault */
} UsbsimDfuSettings;

/* the defaults both models share: the version at 0x100, time scale 1.0, seed 1, no faults */
void
usbsim_dfu_settings_init(UsbsimDfuSettings *settings,
			 UsbsimDfuMode initial_mode,
			 guint16 bcd_device);
void
usbsim_dfu_settings_clear(UsbsimDfuSettings *settings);

typedef struct {
	UsbsimDfuProfile profile; /* with the command line overrides applied */
	UsbsimDfuSettings common;
	gboolean manifest_tolerant;
	UsbsimDfuEnding ending; /* when not manifestation tolerant */
	gboolean app_has_dfu;	/* the application has a DFU runtime interface */
	/* what the image check at manifestation reports: OK, or the status refusing it */
	UsbsimDfuStatus manifest_status;
	gboolean will_detach;
	gboolean can_upload;
	gboolean can_download;
	guint16 detach_timeout_ms;
} UsbsimDfuConfig;

void
usbsim_dfu_config_init(UsbsimDfuConfig *config, const UsbsimDfuProfile *profile);
void
usbsim_dfu_config_clear(UsbsimDfuConfig *config);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(UsbsimDfuConfig, usbsim_dfu_config_clear)
gboolean
usbsim_fault_parse(const gchar *spec, UsbsimFault *fault, GError **error);

/* what every DFU model counts, the DfuSe model too */
typedef struct {
	guint requests[USBSIM_DFU_REQUEST_LAST];
	guint64 bytes_programmed;
	guint64 bytes_uploaded;
	guint early_polls;
	guint blocks_out_of_sequence;
	gint64 busy_us; /* real device busy time spent, scaled */
	guint reenumerations;
	guint usb_resets;
	guint faults_fired;
} UsbsimDfuCounts;

typedef struct {
	UsbsimDfuCounts counts;
	guint pages_erased;
	guint manifestations;
} UsbsimDfuStats;

/* what a DFU 1.1 or DfuSe model reports at the end of a run */
typedef struct {
	const UsbsimDfuCounts *counts;
	guint erases;	      /* pages (DFU 1.1) or sectors (DfuSe) */
	guint manifestations; /* a DfuSe device's leaves */
	UsbsimDfuMode mode;
	UsbsimDfuState state;
	UsbsimDfuStatus status;
	guint16 runtime_version;
	const UsbsimFlashLog *log;
	UsbsimLimits limits;
} UsbsimDfuReport;

typedef struct _UsbsimDfu UsbsimDfu;

UsbsimDfu *
usbsim_dfu_new(const UsbsimDfuConfig *config);
void
usbsim_dfu_free(UsbsimDfu *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UsbsimDfu, usbsim_dfu_free)

const UsbsimModelOps *
usbsim_dfu_ops(void);

UsbsimDfuMode
usbsim_dfu_get_mode(UsbsimDfu *self);
UsbsimDfuState
usbsim_dfu_get_state(UsbsimDfu *self);
UsbsimDfuStatus
usbsim_dfu_get_status(UsbsimDfu *self);
guint16
usbsim_dfu_get_runtime_version(UsbsimDfu *self);
GBytes *
usbsim_dfu_get_flash(UsbsimDfu *self);
const UsbsimDfuStats *
usbsim_dfu_get_stats(UsbsimDfu *self);
const gchar *
usbsim_dfu_state_to_string(gint state);
const gchar *
usbsim_dfu_status_to_string(gint status);
const gchar *
usbsim_dfu_request_to_string(gint request);
const UsbsimFlashLog *
usbsim_dfu_get_flash_log(UsbsimDfu *self);
void
usbsim_dfu_get_limits(UsbsimDfu *self, UsbsimLimits *limits);
void
usbsim_dfu_get_report(UsbsimDfu *self, UsbsimDfuReport *report);
