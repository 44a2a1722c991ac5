/*
 * A simulated USB device on a umockdev testbed: its sysfs description and device node,
 * the usbdevfs ioctls libusb sends, standard requests answered from the descriptors,
 * plug, unplug and re-enumeration, and a trace of every request.
 *
 * The ioctl handler runs on umockdev's worker thread and the testbed is changed only from
 * the main loop: the device state is behind one lock.
 *
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <umockdev.h>

#include "usbsim-model.h"

#define USBSIM_TYPE_DEVICE (usbsim_device_get_type())
G_DECLARE_FINAL_TYPE(UsbsimDevice, usbsim_device, USBSIM, DEVICE, UMockdevIoctlBase)

typedef struct {
	guint64 bus_us;
	guint64 host_idle_us;
	guint enumerations;
	guint usb_resets;
	gboolean gone; /* unplugged for good */
} UsbsimDeviceStats;

UsbsimDevice *
usbsim_device_new(UMockdevTestbed *testbed,
		  const UsbsimModelOps *ops,
		  gpointer model,
		  gdouble time_scale);
gboolean
usbsim_device_set_trace(UsbsimDevice *self, const gchar *filename, GError **error);
gboolean
usbsim_device_plug(UsbsimDevice *self, GError **error);
void
usbsim_device_remove(UsbsimDevice *self);
void
usbsim_device_lock(UsbsimDevice *self);
void
usbsim_device_unlock(UsbsimDevice *self);
UsbsimDeviceStats
usbsim_device_get_stats(UsbsimDevice *self);
GHashTable *
usbsim_device_get_request_counts(UsbsimDevice *self);
GHashTable *
usbsim_device_get_host_idle_by_request(UsbsimDevice *self);
gdouble
usbsim_device_elapsed_ms(UsbsimDevice *self);
void
usbsim_device_trace_line(UsbsimDevice *self, const gchar *json);
gchar *
usbsim_device_build_umockdev_description(UsbsimDescription *desc,
					 const gchar *sysfs_path,
					 guint busnum,
					 guint devnum);
