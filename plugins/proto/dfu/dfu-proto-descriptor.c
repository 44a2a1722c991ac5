/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dfu-proto.h"
#include "proto-format.h"

#define USB_DESCRIPTOR_TYPE_DEVICE	  0x01
#define USB_DESCRIPTOR_TYPE_CONFIGURATION 0x02
#define USB_DESCRIPTOR_TYPE_INTERFACE	  0x04
#define USB_CONFIGURATION_LENGTH	  9
#define USB_INTERFACE_LENGTH		  9

typedef struct {
	DfuProtoDescriptors *out;
	char *msg;
	size_t msg_size;
} DfuProtoParser;

static DfuProtoError __attribute__((format(printf, 3, 4)))
dfu_proto_parser_fail(DfuProtoParser *parser, DfuProtoError error, const char *fmt, ...)
{
	va_list args;
	va_start(args, fmt);
	proto_vformat(parser->msg, parser->msg_size, fmt, args);
	va_end(args);
	return error;
}

/* the @what descriptor at @offset is shorter than its type's fields */
static DfuProtoError
dfu_proto_parser_fail_short(DfuProtoParser *parser,
			    const char *what,
			    size_t offset,
			    unsigned length)
{
	return dfu_proto_parser_fail(parser,
				     DFU_PROTO_ERROR_DESCRIPTOR,
				     "%s descriptor at offset %zu too short: %u bytes",
				     what,
				     offset,
				     length);
}

static uint16_t
dfu_proto_read_le16(const uint8_t *buf)
{
	return (uint16_t)(buf[0] | (buf[1] << 8));
}

/* the DFU interface with that number in that configuration, created on first sight */
static DfuProtoInterface *
dfu_proto_parser_get_interface(DfuProtoParser *parser,
			       uint8_t configuration_value,
			       uint8_t interface_number,
			       uint8_t protocol)
{
	DfuProtoDescriptors *out = parser->out;
	DfuProtoInterface *iface;

	for (unsigned i = 0; i < out->interface_count; i++) {
		iface = &out->interfaces[i];
		if (iface->configuration_value == configuration_value &&
		    iface->interface_number == interface_number)
			return iface;
	}
	if (out->interface_count >= DFU_PROTO_INTERFACES_MAX)
		return NULL;
	iface = &out->interfaces[out->interface_count++];
	iface->configuration_value = configuration_value;
	iface->interface_number = interface_number;
	iface->protocol = protocol;
	return iface;
}

/* @cfg holds exactly one configuration: wTotalLength bytes, already bounds-checked */
static DfuProtoError
dfu_proto_parser_configuration(DfuProtoParser *parser,
			       const uint8_t *cfg,
			       size_t total,
			       size_t base_offset)
{
	const uint8_t configuration_value = cfg[5];
	DfuProtoInterface *current = NULL; /* DFU interface whose alts precede this point */

	for (size_t pos = cfg[0]; pos < total;) {
		const uint8_t *d; /* the descriptor, once its bLength is known to fit */
		uint8_t length;
		uint8_t type;

		if (total - pos < 2) {
			return dfu_proto_parser_fail(parser,
						     DFU_PROTO_ERROR_DESCRIPTOR,
						     "descriptor at offset %zu truncated",
						     base_offset + pos);
		}
		length = cfg[pos];
		type = cfg[pos + 1];
		if (length < 2 || length > total - pos) {
			return dfu_proto_parser_fail(
			    parser,
			    DFU_PROTO_ERROR_DESCRIPTOR,
			    "descriptor at offset %zu has invalid bLength %u "
			    "(%zu bytes left in the configuration)",
			    base_offset + pos,
			    length,
			    total - pos);
		}

		d = cfg + pos;
		if (type == USB_DESCRIPTOR_TYPE_INTERFACE) {
			if (length < USB_INTERFACE_LENGTH) {
				return dfu_proto_parser_fail_short(parser,
								   "interface",
								   base_offset + pos,
								   length);
			}
			current = NULL;
			if (d[5] == DFU_PROTO_INTERFACE_CLASS &&
			    d[6] == DFU_PROTO_INTERFACE_SUBCLASS) {
				current = dfu_proto_parser_get_interface(parser,
									 configuration_value,
									 d[2],
									 d[7]);
				if (current == NULL) {
					return dfu_proto_parser_fail(
					    parser,
					    DFU_PROTO_ERROR_DESCRIPTOR_LIMIT,
					    "more than %u DFU interfaces",
					    (unsigned)DFU_PROTO_INTERFACES_MAX);
				}
				if (current->alt_count >= DFU_PROTO_ALTS_MAX) {
					return dfu_proto_parser_fail(
					    parser,
					    DFU_PROTO_ERROR_DESCRIPTOR_LIMIT,
					    "DFU interface %u has more than %u alt settings",
					    d[2],
					    (unsigned)DFU_PROTO_ALTS_MAX);
				}
				current->alts[current->alt_count].alt_setting = d[3];
				current->alts[current->alt_count].name_index = d[8];
				current->alt_count++;
			}
		} else if (type == DFU_PROTO_DESCRIPTOR_TYPE_FUNCTIONAL && current != NULL) {
			/* 0x21 is also the HID descriptor: only trusted inside a DFU interface */
			if (length < DFU_PROTO_FUNCTIONAL_LENGTH_DFU10) {
				return dfu_proto_parser_fail_short(parser,
								   "DFU functional",
								   base_offset + pos,
								   length);
			}
			/* DFU 1.1 puts one after the last alt; some devices repeat it per alt */
			if (!current->has_functional) {
				current->has_functional = true;
				current->functional.attributes = d[2];
				current->functional.detach_timeout_ms = dfu_proto_read_le16(d + 3);
				current->functional.transfer_size = dfu_proto_read_le16(d + 5);
				current->functional.dfu_version =
				    length >= DFU_PROTO_FUNCTIONAL_LENGTH
					? dfu_proto_read_le16(d + 7)
					: DFU_PROTO_VERSION_DFU10;
			}
		}
		pos += length;
	}
	return DFU_PROTO_ERROR_NONE;
}

DfuProtoError
dfu_proto_descriptors_parse(const uint8_t *buf,
			    size_t len,
			    DfuProtoDescriptors *out,
			    char *msg,
			    size_t msg_size)
{
	DfuProtoParser parser = {.out = out, .msg = msg, .msg_size = msg_size};
	size_t pos = 0;

	memset(out, 0, sizeof(*out));
	if (msg != NULL && msg_size > 0)
		msg[0] = '\0';
	if (buf == NULL || len == 0) {
		return dfu_proto_parser_fail(&parser,
					     DFU_PROTO_ERROR_DESCRIPTOR,
					     "no configuration descriptor");
	}

	/* sysfs `descriptors` starts with the device descriptor */
	if (len >= 2 && buf[1] == USB_DESCRIPTOR_TYPE_DEVICE) {
		if (buf[0] < 2 || buf[0] > len) {
			return dfu_proto_parser_fail(&parser,
						     DFU_PROTO_ERROR_DESCRIPTOR,
						     "device descriptor has invalid bLength %u",
						     buf[0]);
		}
		pos = buf[0];
	}

	while (pos < len) {
		const uint8_t *cfg = buf + pos;
		size_t total;

		if (len - pos < USB_CONFIGURATION_LENGTH) {
			return dfu_proto_parser_fail(
			    &parser,
			    DFU_PROTO_ERROR_DESCRIPTOR,
			    "configuration descriptor at offset %zu truncated",
			    pos);
		}
		if (cfg[1] != USB_DESCRIPTOR_TYPE_CONFIGURATION ||
		    cfg[0] < USB_CONFIGURATION_LENGTH) {
			return dfu_proto_parser_fail(
			    &parser,
			    DFU_PROTO_ERROR_DESCRIPTOR,
			    "expected a configuration descriptor at offset %zu, "
			    "found type 0x%02x length %u",
			    pos,
			    cfg[1],
			    cfg[0]);
		}
		total = dfu_proto_read_le16(cfg + 2);
		if (total < cfg[0] || total > len - pos) {
			return dfu_proto_parser_fail(
			    &parser,
			    DFU_PROTO_ERROR_DESCRIPTOR,
			    "configuration at offset %zu has wTotalLength %zu "
			    "but %zu bytes are left",
			    pos,
			    total,
			    len - pos);
		}
		{
			DfuProtoError error =
			    dfu_proto_parser_configuration(&parser, cfg, total, pos);
			if (error != DFU_PROTO_ERROR_NONE)
				return error;
		}
		pos += total;
	}
	return DFU_PROTO_ERROR_NONE;
}

const DfuProtoInterface *
dfu_proto_descriptors_find(const DfuProtoDescriptors *descs, uint8_t protocol)
{
	for (unsigned i = 0; i < descs->interface_count && i < DFU_PROTO_INTERFACES_MAX; i++) {
		if (descs->interfaces[i].protocol == protocol)
			return &descs->interfaces[i];
	}
	return NULL;
}
