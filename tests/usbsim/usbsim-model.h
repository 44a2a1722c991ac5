/*
 * The contract between the generic USB device (usbsim-device.c) and a device model:
 * the device answers standard requests and usbdevfs ioctls itself and hands class and
 * vendor requests to the model.
 *
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "usbsim-desc.h"

typedef struct {
	guint8 request_type;
	guint8 request;
	guint16 value;
	guint16 index;
	guint16 length;
} UsbsimSetup;

typedef enum {
	USBSIM_OUTCOME_OK,
	USBSIM_OUTCOME_STALL,
	USBSIM_OUTCOME_TIMEOUT,	  /* never answered: the URB stays pending until discarded */
	USBSIM_OUTCOME_UNPLUGGED, /* the device disappears for good */
} UsbsimOutcome;

typedef struct {
	UsbsimOutcome outcome;
	GByteArray *data;  /* IN data, at most setup->length bytes */
	const gchar *name; /* request name for the trace and the counters */
	gboolean is_status_poll;
	gboolean early;	      /* a status poll that came while the device was busy */
	gint status;	      /* reported status code, or -1 */
	gint poll_timeout_ms; /* reported poll timeout, or -1 */
} UsbsimReply;

typedef struct {
	/* class or vendor request addressed to an interface of the model */
	void (*control)(gpointer model,
			const UsbsimSetup *setup,
			const guint8 *data_out,
			gint64 now_us,
			UsbsimReply *reply);
	/* USB port reset; TRUE when the device comes back with other descriptors */
	gboolean (*usb_reset)(gpointer model, gint64 now_us);
	/* the device wants to re-enumerate by itself; delay in microseconds */
	gboolean (*pending_reenumeration)(gpointer model, gint64 *delay_us);
	void (*reenumerate)(gpointer model, gint64 now_us);
	UsbsimDescription *(*describe)(gpointer model);
	/* until when the device is busy with its own work (monotonic microseconds) */
	gint64 (*busy_until)(gpointer model);
	const gchar *(*mode_name)(gpointer model);
	gint (*state)(gpointer model);
	/* optional: bulk and interrupt endpoints; IN returns -1 while the model has no data */
	gssize (*endpoint_in)(gpointer model, guint8 endpoint, guint8 *buf, gsize bufsz);
	void (*endpoint_out)(gpointer model, guint8 endpoint, const guint8 *buf, gsize bufsz);
	/* optional: the host selected an alternate setting (SET_INTERFACE) */
	void (*set_alt)(gpointer model, guint8 interface, guint8 alt);
	/* optional: trace events since the last call, each the JSON members after "t_ms" */
	GPtrArray *(*take_events)(gpointer model);
	/*
	 * optional, and used instead of endpoint_in/endpoint_out when set: bulk endpoints with
	 * USB flow control on the device's own timeline. OUT returns when the transfer ends
	 * (possibly later than now_us), or -1 while the endpoint NAKs; IN returns the length of
	 * a transfer that ended by now_us, or -1. On -1 *retry_us says when to ask again
	 * (G_MAXINT64: only after the host does something).
	 */
	gint64 (*bulk_out)(gpointer model,
			   guint8 endpoint,
			   const guint8 *buf,
			   gsize bufsz,
			   gint64 submit_us,
			   gint64 now_us,
			   gint64 *retry_us);
	gssize (*bulk_in)(gpointer model,
			  guint8 endpoint,
			  guint8 *buf,
			  gsize bufsz,
			  gint64 submit_us,
			  gint64 now_us,
			  gint64 *retry_us);
	/* optional: the device left the bus for good by itself */
	gboolean (*unplugged)(gpointer model);
} UsbsimModelOps;

/* the length of a CDC line coding: dwDTERate, bCharFormat, bParityType, bDataBits */
#define USBSIM_CDC_LINE_CODING_SIZE 7

/* the class requests of a CDC ACM communication interface (interface 0): the line coding,
 * kept in @line_coding, and the control lines (USB CDC 1.2 PSTN 6.3); anything else stalls.
 * TRUE for SET_CONTROL_LINE_STATE, whose wValue holds the lines */
gboolean
usbsim_cdc_acm_control(guint8 *line_coding,
		       const UsbsimSetup *setup,
		       const guint8 *data_out,
		       UsbsimReply *reply);
