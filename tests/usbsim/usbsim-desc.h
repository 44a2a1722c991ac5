/*
 * USB descriptors of a simulated device: built from a structured description, serialized
 * into the blobs the kernel exposes (device descriptor followed by the configuration).
 *
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib.h>

#define USBSIM_DT_DEVICE	   0x01
#define USBSIM_DT_CONFIG	   0x02
#define USBSIM_DT_STRING	   0x03
#define USBSIM_DT_INTERFACE	   0x04
#define USBSIM_DT_ENDPOINT	   0x05
#define USBSIM_DT_DEVICE_QUALIFIER 0x06
#define USBSIM_DT_BOS		   0x0F

typedef struct {
	guint8 address; /* bit 7 set for IN */
	guint8 attributes;
	guint16 max_packet_size;
	guint8 interval;
} UsbsimEndpoint;

typedef struct {
	guint8 alt_setting;
	guint8 class_code;
	guint8 subclass;
	guint8 protocol;
	gchar *name;	   /* iInterface, or NULL */
	GByteArray *extra; /* class-specific descriptors right after the interface descriptor */
	GArray *endpoints; /* of UsbsimEndpoint */
	guint8 name_index; /* assigned by usbsim_description_build() */
} UsbsimAltSetting;

typedef struct {
	guint8 number;
	GPtrArray *alts;     /* of UsbsimAltSetting */
	GByteArray *trailer; /* descriptors after the last alt setting of this interface */
} UsbsimInterface;

typedef struct {
	guint16 vid;
	guint16 pid;
	guint16 bcd_device;
	guint16 bcd_usb;
	guint8 device_class;
	guint8 device_subclass;
	guint8 device_protocol;
	guint8 max_packet_size0;
	gchar *manufacturer;
	gchar *product;
	gchar *serial;
	gboolean serial_8bit; /* the serial string descriptor holds 8-bit characters, not UTF-16 */
	guint8 configuration_value;
	guint8 config_attributes;
	guint8 max_power;      /* in units of 2 mA */
	GPtrArray *interfaces; /* of UsbsimInterface */
	/* a standalone GET_DESCRIPTOR for a class descriptor (the DFU functional one, 0x21) is
	 * answered with the first of that type in the configuration, unless this is set: some
	 * ROMs stall it (STM32C5), and a host has to read it from the configuration */
	gboolean class_descriptor_request_stalls;

	/* filled by usbsim_description_build() */
	GPtrArray *strings; /* index -> gchar*, index 0 unused (language IDs) */
	GByteArray *device_descriptor;
	GByteArray *config_descriptor;
	guint8 manufacturer_index;
	guint8 product_index;
	guint8 serial_index;
} UsbsimDescription;

UsbsimDescription *
usbsim_description_new(guint16 vid, guint16 pid, guint16 bcd_device);
void
usbsim_description_free(UsbsimDescription *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UsbsimDescription, usbsim_description_free)

UsbsimInterface *
usbsim_description_add_interface(UsbsimDescription *self);
UsbsimAltSetting *
usbsim_interface_add_alt(UsbsimInterface *iface,
			 guint8 class_code,
			 guint8 subclass,
			 guint8 protocol,
			 const gchar *name);
void
usbsim_alt_add_endpoint(UsbsimAltSetting *alt,
			guint8 address,
			guint8 attributes,
			guint16 max_packet_size);

void
usbsim_description_build(UsbsimDescription *self);

GBytes *
usbsim_description_get_blob(UsbsimDescription *self);
GByteArray *
usbsim_description_get_string_descriptor(UsbsimDescription *self, guint8 index);

UsbsimInterface *
usbsim_description_find_interface(UsbsimDescription *self, guint8 number);
UsbsimAltSetting *
usbsim_interface_find_alt(UsbsimInterface *iface, guint8 alt_setting);
gboolean
usbsim_alt_has_endpoint(UsbsimAltSetting *alt, guint8 address);
const UsbsimEndpoint *
usbsim_alt_find_endpoint(UsbsimAltSetting *alt, guint8 address);
gchar *
usbsim_description_interfaces_string(UsbsimDescription *self);
gchar *
usbsim_description_serial_as_read(UsbsimDescription *self);
