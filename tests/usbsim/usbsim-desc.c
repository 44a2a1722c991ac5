/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "usbsim-desc.h"

#include <string.h>

#include "usbsim-model.h"

static void
usbsim_alt_setting_free(UsbsimAltSetting *alt)
{
	g_free(alt->name);
	g_byte_array_unref(alt->extra);
	g_array_unref(alt->endpoints);
	g_free(alt);
}

static void
usbsim_interface_free(UsbsimInterface *iface)
{
	g_ptr_array_unref(iface->alts);
	g_byte_array_unref(iface->trailer);
	g_free(iface);
}

UsbsimDescription *
usbsim_description_new(guint16 vid, guint16 pid, guint16 bcd_device)
{
	UsbsimDescription *self = g_new0(UsbsimDescription, 1);
	self->vid = vid;
	self->pid = pid;
	self->bcd_device = bcd_device;
	self->bcd_usb = 0x0200;
	self->max_packet_size0 = 64;
	self->configuration_value = 1;
	self->config_attributes = 0x80;
	self->max_power = 50;
	self->interfaces = g_ptr_array_new_with_free_func((GDestroyNotify)usbsim_interface_free);
	self->strings = g_ptr_array_new_with_free_func(g_free);
	self->device_descriptor = g_byte_array_new();
	self->config_descriptor = g_byte_array_new();
	return self;
}

void
usbsim_description_free(UsbsimDescription *self)
{
	g_free(self->manufacturer);
	g_free(self->product);
	g_free(self->serial);
	g_ptr_array_unref(self->interfaces);
	g_ptr_array_unref(self->strings);
	g_byte_array_unref(self->device_descriptor);
	g_byte_array_unref(self->config_descriptor);
	g_free(self);
}

UsbsimInterface *
usbsim_description_add_interface(UsbsimDescription *self)
{
	UsbsimInterface *iface = g_new0(UsbsimInterface, 1);
	iface->number = self->interfaces->len;
	iface->alts = g_ptr_array_new_with_free_func((GDestroyNotify)usbsim_alt_setting_free);
	iface->trailer = g_byte_array_new();
	g_ptr_array_add(self->interfaces, iface);
	return iface;
}

UsbsimAltSetting *
usbsim_interface_add_alt(UsbsimInterface *iface,
			 guint8 class_code,
			 guint8 subclass,
			 guint8 protocol,
			 const gchar *name)
{
	UsbsimAltSetting *alt = g_new0(UsbsimAltSetting, 1);
	alt->alt_setting = iface->alts->len;
	alt->class_code = class_code;
	alt->subclass = subclass;
	alt->protocol = protocol;
	alt->name = g_strdup(name);
	alt->extra = g_byte_array_new();
	alt->endpoints = g_array_new(FALSE, TRUE, sizeof(UsbsimEndpoint));
	g_ptr_array_add(iface->alts, alt);
	return alt;
}

void
usbsim_alt_add_endpoint(UsbsimAltSetting *alt,
			guint8 address,
			guint8 attributes,
			guint16 max_packet_size)
{
	UsbsimEndpoint ep = {.address = address,
			     .attributes = attributes,
			     .max_packet_size = max_packet_size,
			     .interval = (attributes & 0x03) == 0x03 ? 1 : 0};
	g_array_append_val(alt->endpoints, ep);
}

static guint8
usbsim_description_add_string(UsbsimDescription *self, const gchar *str)
{
	if (str == NULL)
		return 0;
	for (guint i = 1; i < self->strings->len; i++) {
		if (g_strcmp0(g_ptr_array_index(self->strings, i), str) == 0)
			return i;
	}
	g_ptr_array_add(self->strings, g_strdup(str));
	return self->strings->len - 1;
}

static void
usbsim_append_u8(GByteArray *buf, guint8 value)
{
	g_byte_array_append(buf, &value, 1);
}

static void
usbsim_append_u16(GByteArray *buf, guint16 value)
{
	guint8 tmp[2] = {value & 0xff, value >> 8};
	g_byte_array_append(buf, tmp, sizeof(tmp));
}

/* serializes the structure; call again after changing it */
void
usbsim_description_build(UsbsimDescription *self)
{
	GByteArray *dev = self->device_descriptor;
	GByteArray *cfg = self->config_descriptor;

	g_ptr_array_set_size(self->strings, 0);
	g_ptr_array_add(self->strings, NULL);
	self->manufacturer_index = usbsim_description_add_string(self, self->manufacturer);
	self->product_index = usbsim_description_add_string(self, self->product);
	self->serial_index = usbsim_description_add_string(self, self->serial);

	g_byte_array_set_size(dev, 0);
	usbsim_append_u8(dev, 18);
	usbsim_append_u8(dev, USBSIM_DT_DEVICE);
	usbsim_append_u16(dev, self->bcd_usb);
	usbsim_append_u8(dev, self->device_class);
	usbsim_append_u8(dev, self->device_subclass);
	usbsim_append_u8(dev, self->device_protocol);
	usbsim_append_u8(dev, self->max_packet_size0);
	usbsim_append_u16(dev, self->vid);
	usbsim_append_u16(dev, self->pid);
	usbsim_append_u16(dev, self->bcd_device);
	usbsim_append_u8(dev, self->manufacturer_index);
	usbsim_append_u8(dev, self->product_index);
	usbsim_append_u8(dev, self->serial_index);
	usbsim_append_u8(dev, 1);

	g_byte_array_set_size(cfg, 0);
	usbsim_append_u8(cfg, 9);
	usbsim_append_u8(cfg, USBSIM_DT_CONFIG);
	usbsim_append_u16(cfg, 0); /* wTotalLength, patched below */
	usbsim_append_u8(cfg, self->interfaces->len);
	usbsim_append_u8(cfg, self->configuration_value);
	usbsim_append_u8(cfg, 0);
	usbsim_append_u8(cfg, self->config_attributes);
	usbsim_append_u8(cfg, self->max_power);
	for (guint i = 0; i < self->interfaces->len; i++) {
		UsbsimInterface *iface = g_ptr_array_index(self->interfaces, i);
		for (guint j = 0; j < iface->alts->len; j++) {
			UsbsimAltSetting *alt = g_ptr_array_index(iface->alts, j);
			alt->name_index = usbsim_description_add_string(self, alt->name);
			usbsim_append_u8(cfg, 9);
			usbsim_append_u8(cfg, USBSIM_DT_INTERFACE);
			usbsim_append_u8(cfg, iface->number);
			usbsim_append_u8(cfg, alt->alt_setting);
			usbsim_append_u8(cfg, alt->endpoints->len);
			usbsim_append_u8(cfg, alt->class_code);
			usbsim_append_u8(cfg, alt->subclass);
			usbsim_append_u8(cfg, alt->protocol);
			usbsim_append_u8(cfg, alt->name_index);
			g_byte_array_append(cfg, alt->extra->data, alt->extra->len);
			for (guint k = 0; k < alt->endpoints->len; k++) {
				UsbsimEndpoint *ep =
				    &g_array_index(alt->endpoints, UsbsimEndpoint, k);
				usbsim_append_u8(cfg, 7);
				usbsim_append_u8(cfg, USBSIM_DT_ENDPOINT);
				usbsim_append_u8(cfg, ep->address);
				usbsim_append_u8(cfg, ep->attributes);
				usbsim_append_u16(cfg, ep->max_packet_size);
				usbsim_append_u8(cfg, ep->interval);
			}
		}
		g_byte_array_append(cfg, iface->trailer->data, iface->trailer->len);
	}
	cfg->data[2] = cfg->len & 0xff;
	cfg->data[3] = cfg->len >> 8;
}

/* what the kernel's usbfs node and the sysfs "descriptors" attribute contain */
GBytes *
usbsim_description_get_blob(UsbsimDescription *self)
{
	g_autoptr(GByteArray) buf = g_byte_array_new();
	g_byte_array_append(buf, self->device_descriptor->data, self->device_descriptor->len);
	g_byte_array_append(buf, self->config_descriptor->data, self->config_descriptor->len);
	return g_byte_array_free_to_bytes(g_steal_pointer(&buf));
}

/* index 0 is the list of language IDs; NULL when there is no such string */
GByteArray *
usbsim_description_get_string_descriptor(UsbsimDescription *self, guint8 index)
{
	GByteArray *buf = g_byte_array_new();
	const gchar *str;
	g_autofree gunichar2 *utf16 = NULL;
	glong items = 0;

	if (index == 0) {
		usbsim_append_u8(buf, 4);
		usbsim_append_u8(buf, USBSIM_DT_STRING);
		usbsim_append_u16(buf, 0x0409);
		return buf;
	}
	if (index >= self->strings->len) {
		g_byte_array_unref(buf);
		return NULL;
	}
	str = g_ptr_array_index(self->strings, index);
	if (self->serial_8bit && index == self->serial_index) {
		gsize len = MIN(strlen(str), 253);
		usbsim_append_u8(buf, 2 + len);
		usbsim_append_u8(buf, USBSIM_DT_STRING);
		g_byte_array_append(buf, (const guint8 *)str, len);
		return buf;
	}
	utf16 = g_utf8_to_utf16(str, -1, NULL, &items, NULL);
	items = MIN(items, 126);
	usbsim_append_u8(buf, 2 + items * 2);
	usbsim_append_u8(buf, USBSIM_DT_STRING);
	for (glong i = 0; i < items; i++)
		usbsim_append_u16(buf, utf16[i]);
	return buf;
}

UsbsimInterface *
usbsim_description_find_interface(UsbsimDescription *self, guint8 number)
{
	for (guint i = 0; i < self->interfaces->len; i++) {
		UsbsimInterface *iface = g_ptr_array_index(self->interfaces, i);
		if (iface->number == number)
			return iface;
	}
	return NULL;
}

UsbsimAltSetting *
usbsim_interface_find_alt(UsbsimInterface *iface, guint8 alt_setting)
{
	for (guint i = 0; i < iface->alts->len; i++) {
		UsbsimAltSetting *alt = g_ptr_array_index(iface->alts, i);
		if (alt->alt_setting == alt_setting)
			return alt;
	}
	return NULL;
}

gboolean
usbsim_alt_has_endpoint(UsbsimAltSetting *alt, guint8 address)
{
	return usbsim_alt_find_endpoint(alt, address) != NULL;
}

const UsbsimEndpoint *
usbsim_alt_find_endpoint(UsbsimAltSetting *alt, guint8 address)
{
	for (guint i = 0; i < alt->endpoints->len; i++) {
		const UsbsimEndpoint *ep = &g_array_index(alt->endpoints, UsbsimEndpoint, i);
		if (ep->address == address)
			return ep;
	}
	return NULL;
}

/* the udev ID_USB_INTERFACES form, e.g. ":ff0000:fe0101:" */
gchar *
usbsim_description_interfaces_string(UsbsimDescription *self)
{
	GString *str = g_string_new(":");
	for (guint i = 0; i < self->interfaces->len; i++) {
		UsbsimInterface *iface = g_ptr_array_index(self->interfaces, i);
		UsbsimAltSetting *alt = g_ptr_array_index(iface->alts, 0);
		g_autofree gchar *entry =
		    g_strdup_printf("%02x%02x%02x:", alt->class_code, alt->subclass, alt->protocol);
		if (strstr(str->str, entry) == NULL)
			g_string_append(str, entry);
	}
	return g_string_free(str, FALSE);
}

/* the serial as a host that decodes the descriptor as UTF-16 reads it, as the kernel does for
 * sysfs: an 8-bit serial pairs its bytes into UTF-16 code units */
gchar *
usbsim_description_serial_as_read(UsbsimDescription *self)
{
	g_autofree gunichar2 *units = NULL;
	gsize len;

	if (self->serial == NULL)
		return NULL;
	if (!self->serial_8bit)
		return g_strdup(self->serial);
	len = strlen(self->serial) / 2;
	units = g_new0(gunichar2, len + 1);
	for (gsize i = 0; i < len; i++)
		units[i] = (guint8)self->serial[2 * i] | ((guint8)self->serial[2 * i + 1] << 8);
	return g_utf16_to_utf8(units, len, NULL, NULL, NULL);
}

/* the CDC class requests of the communication interface (USB CDC 1.2 PSTN 6.3) */
#define USBSIM_CDC_SET_LINE_CODING	  0x20
#define USBSIM_CDC_GET_LINE_CODING	  0x21
#define USBSIM_CDC_SET_CONTROL_LINE_STATE 0x22

gboolean
usbsim_cdc_acm_control(guint8 *line_coding,
		       const UsbsimSetup *setup,
		       const guint8 *data_out,
		       UsbsimReply *reply)
{
	reply->outcome = USBSIM_OUTCOME_OK;
	/* a class request to the communications interface (0); one to the device or an endpoint
	 * is no CDC request, and a device's USB stack stalls it */
	if ((setup->request_type & 0x7f) != 0x21 || (setup->index & 0xff) != 0) {
		reply->name = "other";
		reply->outcome = USBSIM_OUTCOME_STALL;
		return FALSE;
	}
	switch (setup->request) {
	case USBSIM_CDC_SET_LINE_CODING:
		reply->name = "set_line_coding";
		if (setup->length != USBSIM_CDC_LINE_CODING_SIZE || data_out == NULL) {
			reply->outcome = USBSIM_OUTCOME_STALL;
			return FALSE;
		}
		memcpy(line_coding, data_out, USBSIM_CDC_LINE_CODING_SIZE);
		return FALSE;
	case USBSIM_CDC_GET_LINE_CODING:
		reply->name = "get_line_coding";
		g_byte_array_append(reply->data,
				    line_coding,
				    MIN(USBSIM_CDC_LINE_CODING_SIZE, setup->length));
		return FALSE;
	case USBSIM_CDC_SET_CONTROL_LINE_STATE:
		reply->name = "set_control_line_state";
		return TRUE;
	default:
		reply->name = "other";
		reply->outcome = USBSIM_OUTCOME_STALL;
		return FALSE;
	}
}
