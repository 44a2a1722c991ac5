/*
 * What every DFU 1.1 device model shares (usbsim-dfu.c, and usbsim-dfuse.c that extends it):
 * the state and status of the DFU 1.1 state machine, GETSTATUS and GETSTATE replies, the
 * runtime mode, fault injection, the requests valid in every state, the functional
 * descriptor, the re-enumerations of detach, power loss and the model's own, the settings and
 * counts of both models and the report at the end of a run. A model embeds a UsbsimDfuCore as
 * its first member and adds its own download, upload and manifestation through the hooks of a
 * UsbsimDfuCoreClass.
 *
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "usbsim-dfu.h"
#include "usbsim-flashlog.h"

#define USBSIM_DFU_DESCRIPTOR_FUNCTIONAL 0x21
#define USBSIM_DFU_ATTR_CAN_DNLOAD	 (1u << 0)
#define USBSIM_DFU_ATTR_CAN_UPLOAD	 (1u << 1)
#define USBSIM_DFU_ATTR_MANIFEST_TOL	 (1u << 2)
#define USBSIM_DFU_ATTR_WILL_DETACH	 (1u << 3)

typedef struct _UsbsimDfuCore UsbsimDfuCore;

typedef struct {
	/* the DFU-mode requests of DFU 1.1 section 6, in the states that take them: DNLOAD in
	 * dfuIDLE or dfuDNLOAD-IDLE, UPLOAD in dfuIDLE or dfuUPLOAD-IDLE, GETSTATUS in
	 * dfuDNLOAD-SYNC, in dfuDNBUSY or dfuMANIFEST (the device is busy), and in
	 * dfuMANIFEST-SYNC; the core answers every other request in every state */
	void (*dnload)(UsbsimDfuCore *core,
		       const UsbsimSetup *setup,
		       const guint8 *data,
		       gsize len,
		       UsbsimReply *reply);
	void (*upload)(UsbsimDfuCore *core, const UsbsimSetup *setup, UsbsimReply *reply);
	void (*getstatus_sync)(UsbsimDfuCore *core, gint64 now_us, UsbsimReply *reply);
	void (*getstatus_busy)(UsbsimDfuCore *core, gint64 now_us, UsbsimReply *reply);
	void (*getstatus_manifest_sync)(UsbsimDfuCore *core, gint64 now_us, UsbsimReply *reply);
	/* optional: transitions of the model's own as time passes */
	void (*advance)(UsbsimDfuCore *core, gint64 now_us);
	/* optional: the device came back in a mode, after the core reset its state */
	void (*entered_mode)(UsbsimDfuCore *core);
	/* a USB reset in DFU mode; TRUE when the device comes back with other descriptors */
	gboolean (*usb_reset_dfu_mode)(UsbsimDfuCore *core);
} UsbsimDfuCoreClass;

struct _UsbsimDfuCore {
	const UsbsimDfuCoreClass *klass;
	UsbsimDfuMode mode;
	UsbsimDfuState state;
	UsbsimDfuStatus status;

	/* what the model's configuration says */
	gboolean app_has_dfu; /* the application has a DFU runtime interface */
	gboolean will_detach;
	guint16 detach_timeout_ms;
	gboolean early_poll_stalls;
	UsbsimPoll poll;
	gdouble time_scale;
	GArray *faults; /* of UsbsimFault, owned */

	UsbsimDfuCounts *counts; /* in the model's own stats */

	UsbsimDfuStatus pending_status; /* a status fault for the operation in progress */
	gint64 busy_until_us;
	gint64 detach_deadline_us;
	gboolean self_detach_pending;
	gboolean power_lost; /* off the bus, back in the bootloader with the memory as it is */
	gboolean leaving;    /* gone on its own: answers nothing until it re-enumerates */
	/* a re-enumeration the model asked for (usbsim_dfu_core_schedule_reenumeration()), which
	 * comes before a detach's */
	gboolean reenumeration_pending;
	gint64 reenumeration_delay_us;
	UsbsimDfuMode reenumeration_mode;

	GRand *rand_poll; /* --hostile-poll-timeout random */
	guint status_replies;
	guint requests_any;
	UsbsimFlashLog log;
};

/* a model's copy of its configuration's settings: its own serial, no initial flash or faults
 * (the core keeps a copy of those) */
void
usbsim_dfu_settings_keep(UsbsimDfuSettings *settings);

/* the core in the initial mode, with the faults, seed, poll behaviour and time scale of
 * @settings, counting into @counts */
void
usbsim_dfu_core_init(UsbsimDfuCore *core,
		     const UsbsimDfuCoreClass *klass,
		     const UsbsimDfuSettings *settings,
		     UsbsimDfuCounts *counts);
void
usbsim_dfu_core_clear(UsbsimDfuCore *core);

/* the model re-enumerates by itself, after @delay_us (at least 1 ms), in @mode */
void
usbsim_dfu_core_schedule_reenumeration(UsbsimDfuCore *core, gint64 delay_us, UsbsimDfuMode mode);
/* what the core knows of a model's report: its counts, mode, state, status and flash log */
void
usbsim_dfu_core_report(UsbsimDfuCore *core, UsbsimDfuReport *report);
gint64
usbsim_dfu_core_scale_us(UsbsimDfuCore *core, gdouble us);
void
usbsim_dfu_core_enter_mode(UsbsimDfuCore *core, UsbsimDfuMode mode);
void
usbsim_dfu_core_answer_status(UsbsimDfuCore *core, guint32 poll_ms, UsbsimReply *reply);
void
usbsim_dfu_core_answer_state(UsbsimDfuCore *core, UsbsimReply *reply);
void
usbsim_dfu_core_stall_error(UsbsimDfuCore *core, UsbsimDfuStatus status, UsbsimReply *reply);
void
usbsim_dfu_core_early_poll(UsbsimDfuCore *core, UsbsimReply *reply);

/* the fields of the DFU functional descriptor (DFU 1.1 section 4.1.3) a model reports */
typedef struct {
	guint8 attributes;
	guint16 detach_timeout_ms;
	guint16 transfer_size;
	guint16 bcd_dfu;
} UsbsimDfuFunctional;

UsbsimDescription *
usbsim_dfu_core_describe(UsbsimDfuCore *core,
			 const UsbsimDfuIds *ids,
			 guint16 bcd_device,
			 GPtrArray *names,
			 const UsbsimDfuSettings *settings,
			 const UsbsimDfuFunctional *functional);
/* the limits in ms of the run's time, from their sums in microseconds at scale 1.0 */
void
usbsim_dfu_core_set_limits(const UsbsimDfuSettings *settings,
			   gdouble physical_us,
			   gdouble spec_us,
			   gdouble obeying_us,
			   UsbsimLimits *limits);
guint16
usbsim_dfu_core_read_version(const guint8 *memory, guint64 size, guint64 offset, guint16 none);

/* the UsbsimModelOps members that are the same for every DFU model; a model adds describe */
#define USBSIM_DFU_CORE_MODEL_OPS                                                                  \
	.control = usbsim_dfu_core_control, .usb_reset = usbsim_dfu_core_usb_reset,                \
	.pending_reenumeration = usbsim_dfu_core_pending_reenumeration,                            \
	.reenumerate = usbsim_dfu_core_reenumerate, .busy_until = usbsim_dfu_core_busy_until,      \
	.mode_name = usbsim_dfu_core_mode_name, .state = usbsim_dfu_core_state,                    \
	.take_events = usbsim_dfu_core_take_events

void
usbsim_dfu_core_control(gpointer model,
			const UsbsimSetup *setup,
			const guint8 *data_out,
			gint64 now_us,
			UsbsimReply *reply);
void
usbsim_dfu_core_advance(UsbsimDfuCore *core, gint64 now_us);
gboolean
usbsim_dfu_core_usb_reset(gpointer model, gint64 now_us);
gboolean
usbsim_dfu_core_pending_reenumeration(gpointer model, gint64 *delay_us);
void
usbsim_dfu_core_reenumerate(gpointer model, gint64 now_us);
gint64
usbsim_dfu_core_busy_until(gpointer model);
const gchar *
usbsim_dfu_core_mode_name(gpointer model);
gint
usbsim_dfu_core_state(gpointer model);
GPtrArray *
usbsim_dfu_core_take_events(gpointer model);
