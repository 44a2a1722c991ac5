/*
 * What a simulated device did to its memory during a run, kept by the device models:
 * erased and written address ranges (merged), set-address commands, writes over memory
 * that was not erased, and trace events waiting to be written. Also the USB full-speed
 * bus model the physical limit is computed with (tests/usbsim/README.md).
 *
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib.h>

/* a full-speed control transfer: about 1 ms fixed, plus 832 bytes of data a ms */
#define USBSIM_BUS_FIXED_US	1000.0
#define USBSIM_BUS_BYTES_PER_MS 832.0

typedef struct {
	guint8 alt;
	guint32 address;
	guint32 size;
} UsbsimRange;

typedef struct {
	GArray *erased;	 /* of UsbsimRange, sorted and merged */
	GArray *written; /* of UsbsimRange, sorted and merged */
	guint set_address_commands;
	guint writes_not_erased;
	GPtrArray *events; /* JSON members of trace events not yet taken */
} UsbsimFlashLog;

/* the physical and spec-compliant limits (tests/usbsim/README.md) for the data a run wrote, in
 * milliseconds of the run's own time */
typedef struct {
	gdouble physical_ms; /* real busy time, no sleep beyond it */
	gdouble spec_ms;     /* every reported poll timeout obeyed, one status read an operation */
	gdouble obeying_ms;  /* a host with no latency that waits each reported poll timeout
				exactly and reads the status until it sees the operation done */
} UsbsimLimits;

/* the bus time of one control transfer carrying that many data bytes, at scale 1.0 */
gdouble
usbsim_bus_cost_us(gsize bytes);
gdouble
usbsim_poll_sequence_us(gdouble busy_us, guint32 report_ms, gboolean rest_reported);

void
usbsim_flash_log_init(UsbsimFlashLog *self);
void
usbsim_flash_log_clear(UsbsimFlashLog *self);
void
usbsim_ranges_add(GArray *ranges, guint8 alt, guint32 address, guint32 size);
void
usbsim_ranges_append_json(GArray *ranges, GString *str);
void
usbsim_flash_log_event(UsbsimFlashLog *self, const gchar *format, ...) G_GNUC_PRINTF(2, 3);
GPtrArray *
usbsim_flash_log_take_events(UsbsimFlashLog *self);
