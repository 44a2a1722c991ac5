/*
 * The nRF5 SDK Secure DFU bootloader model, see usbsim-nrf.h.
 *
 * Sources: the nRF5 SDK's bootloader (nrf_dfu_req_handler.c for the object rules,
 * nrf_dfu_validation.c for the init packet checks and post-validation, nrf_dfu_serial.c and
 * nrf_dfu_serial_{usb,uart}.c for SLIP, MTU and packet receipt notifications) and the
 * nRF52840 product specification for the flash times.
 *
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "usbsim-nrf.h"

#include <string.h>

/* the CRC-32 (IEEE) the SDK's crc32_compute() gives, as tests/models' bootloader computes it */
#include "nrf-dfu-fake-bootloader.h"

/* request opcodes */
#define NRF_OP_PROTOCOL_VERSION 0x00
#define NRF_OP_CREATE		0x01
#define NRF_OP_PRN_SET		0x02
#define NRF_OP_CRC_GET		0x03
#define NRF_OP_EXECUTE		0x04
#define NRF_OP_SELECT		0x06
#define NRF_OP_MTU_GET		0x07
#define NRF_OP_WRITE		0x08
#define NRF_OP_PING		0x09
#define NRF_OP_HW_VERSION	0x0A
#define NRF_OP_FW_VERSION	0x0B
#define NRF_OP_ABORT		0x0C
#define NRF_OP_RESPONSE		0x60

/* results and extended errors (nrf_dfu_types.h) */
#define NRF_RES_SUCCESS		       0x01
#define NRF_RES_OP_NOT_SUPPORTED       0x02
#define NRF_RES_INVALID_PARAMETER      0x03
#define NRF_RES_INSUFFICIENT_RESOURCES 0x04
#define NRF_RES_INVALID_OBJECT	       0x05
#define NRF_RES_UNSUPPORTED_TYPE       0x07
#define NRF_RES_NOT_PERMITTED	       0x08
#define NRF_RES_OPERATION_FAILED       0x0A
#define NRF_RES_EXT_ERROR	       0x0B
#define NRF_EXT_WRONG_COMMAND_FORMAT   0x02
#define NRF_EXT_INIT_COMMAND_INVALID   0x04
#define NRF_EXT_FW_VERSION_FAILURE     0x05
#define NRF_EXT_HW_VERSION_FAILURE     0x06
#define NRF_EXT_SD_VERSION_FAILURE     0x07
#define NRF_EXT_SIGNATURE_MISSING      0x08
#define NRF_EXT_WRONG_HASH_TYPE	       0x09
#define NRF_EXT_WRONG_SIGNATURE_TYPE   0x0B
#define NRF_EXT_VERIFICATION_FAILED    0x0C
#define NRF_EXT_INSUFFICIENT_SPACE     0x0D
/* a result with an extended error, as the SDK's EXT_ERR() folds them */
#define NRF_EXT(code) (0x100 | (code))

/* the init packet: field numbers of the SDK's Packet, Command and InitCommand */
#define NRF_FW_TYPE_APPLICATION		  0
#define NRF_FW_TYPE_SOFTDEVICE		  1
#define NRF_FW_TYPE_BOOTLOADER		  2
#define NRF_FW_TYPE_SOFTDEVICE_BOOTLOADER 3
#define NRF_HASH_TYPE_SHA256		  3
#define NRF_SIGNATURE_ECDSA_P256_SHA256	  0
#define NRF_SD_REQ_ANY			  0xFFFE
/* FW version image types (nrf_dfu_types.h) */
#define NRF_FIRMWARE_TYPE_SOFTDEVICE  0x00
#define NRF_FIRMWARE_TYPE_APPLICATION 0x01
#define NRF_FIRMWARE_TYPE_BOOTLOADER  0x02

#define SLIP_END     0xC0
#define SLIP_ESC     0xDB
#define SLIP_ESC_END 0xDC
#define SLIP_ESC_ESC 0xDD

typedef enum {
	NRF_OBJ_NONE = 0,
	NRF_OBJ_COMMAND = 1,
	NRF_OBJ_DATA = 2,
} NrfObjType;

typedef struct {
	guint32 fw_version;
	guint32 hw_version;
	guint32 sd_req[16];
	guint sd_req_count;
	guint32 type;
	gboolean has_type;
	guint32 sd_size;
	guint32 bl_size;
	guint32 app_size;
	guint32 hash_type;
	guint8 hash[32];
	gsize hash_len;
	gboolean is_debug;
	gboolean is_signed;
	guint32 signature_type;
	gsize signature_len;
	guint32 op_code;
	gboolean has_init;
} NrfInit;

/* what the SDK keeps in its settings page, and so across a reset */
typedef struct {
	guint8 command[USBSIM_NRF_CMD_MAX_SIZE];
	guint32 command_size;
	guint32 command_offset;
	guint32 command_crc;
	gboolean init_valid;
	guint32 image_offset_last;
	guint32 image_crc_last;
	gboolean app_valid;
	guint32 app_version;
	guint32 app_size;
	guint32 bootloader_version;
	guint32 sd_fwid;
} NrfSettings;

typedef struct {
	GByteArray *frame; /* SLIP encoded */
	gint64 ready_us;
} NrfResponse;

struct _UsbsimNrf {
	UsbsimNrfConfig config;
	gint64 epoch_us;
	guint8 *flash;
	gboolean running;
	gboolean port_open;
	gboolean app_running; /* the application runs instead of the bootloader */
	gboolean enter_dfu;   /* the next reset is a pin reset: the bootloader stays */
	gint64 app_log_next_us;
	guint app_log_lines;

	/* SLIP receive */
	GByteArray *rx;
	gboolean rx_escape;
	gboolean rx_bad;

	/* the request handler */
	NrfSettings settings; /* as last written to flash */
	NrfSettings live;     /* what RAM holds now */
	NrfInit init;
	NrfObjType current;
	guint32 data_object_size;
	guint32 image_offset;
	guint32 image_crc;
	guint32 firmware_size;
	guint16 prn;
	guint16 prn_count;

	/* time */
	gint64 cpu_free_us;
	gint64 flash_free_us;
	gint64 last_ready_us;
	gint64 reset_at_us;
	gint64 back_us;
	gboolean reset_waits_response; /* the response that ends an update goes out first */
	GQueue responses;

	/* faults */
	guint responses_sent;
	guint8 prev_op;	   /* the request handled before the current one */
	gint64 endless_us; /* from then on only bytes without an END (-1: never) */
	guint64 endless_bytes;
	guint data_writes;
	guint op_counts[256];
	guint faults_fired;

	/* record */
	GPtrArray *trace;
	GHashTable *requests;
	guint erases;
	guint64 bytes_stored;
	guint objects_command;
	guint objects_data;
	guint resets;
	guint images_activated;
	guint writes_dropped;
	guint frames_oversize;
	guint64 host_idle_us;
	guint64 busy_us;
	gint64 last_arrival_us;
	gdouble limit_us;
	guint32 object_wire_bytes;
	gint64 first_request_us;
	gint64 last_request_us;
	GString *images;
};

static gdouble
usbsim_nrf_scaled(UsbsimNrf *self, gdouble us)
{
	return us * self->config.time_scale;
}

/* bus time of bytes on the wire, scaled */
static gdouble
usbsim_nrf_wire_us(UsbsimNrf *self, gsize bytes)
{
	gdouble us;
	if (self->config.front == USBSIM_NRF_FRONT_UART)
		us = bytes * 10.0 * 1e6 / self->config.baud_rate;
	else
		us = bytes * 1000.0 / USBSIM_NRF_USB_BYTES_PER_MS;
	return usbsim_nrf_scaled(self, us);
}

static gdouble
usbsim_nrf_program_us(UsbsimNrf *self, gsize bytes)
{
	return usbsim_nrf_scaled(self, (bytes + 3) / 4 * USBSIM_NRF_PROGRAM_WORD_NS / 1000.0);
}

static gdouble
usbsim_nrf_erase_us(UsbsimNrf *self, guint pages)
{
	return usbsim_nrf_scaled(self, (gdouble)pages * USBSIM_NRF_ERASE_PAGE_US);
}

static GByteArray *
usbsim_nrf_slip_encode(const guint8 *buf, gsize bufsz)
{
	GByteArray *out = g_byte_array_sized_new(bufsz * 2 + 1);
	for (gsize i = 0; i < bufsz; i++) {
		guint8 esc[2] = {SLIP_ESC, 0};
		if (buf[i] == SLIP_END) {
			esc[1] = SLIP_ESC_END;
			g_byte_array_append(out, esc, 2);
		} else if (buf[i] == SLIP_ESC) {
			esc[1] = SLIP_ESC_ESC;
			g_byte_array_append(out, esc, 2);
		} else {
			g_byte_array_append(out, &buf[i], 1);
		}
	}
	g_byte_array_append(out, (const guint8[]){SLIP_END}, 1);
	return out;
}

static void
usbsim_nrf_trace(UsbsimNrf *self, gint64 t_us, const gchar *fmt, ...) G_GNUC_PRINTF(3, 4);

static void
usbsim_nrf_trace(UsbsimNrf *self, gint64 t_us, const gchar *fmt, ...)
{
	va_list args;
	g_autofree gchar *members = NULL;

	va_start(args, fmt);
	members = g_strdup_vprintf(fmt, args);
	va_end(args);
	g_ptr_array_add(
	    self->trace,
	    g_strdup_printf("{\"t_ms\":%.3f,%s}", (t_us - self->epoch_us) / 1000.0, members));
}

void
usbsim_nrf_config_init(UsbsimNrfConfig *config, UsbsimNrfFront front)
{
	memset(config, 0, sizeof(*config));
	config->front = front;
	config->port_always_open = front == USBSIM_NRF_FRONT_UART;
	config->profile = front == USBSIM_NRF_FRONT_USB ? "nrf52840-dongle" : "nrf52-uart";
	config->time_scale = 1.0;
	config->baud_rate = 115200;
	config->hw_version = 52;
	config->sd_fwid = 0x0100;     /* S140 7.2.0 */
	config->sd_version = 7002000; /* its version as SD_VERSION_GET reports it */
	config->bootloader_version = 1;
	config->reenumerate_us = -1;
	config->sd_bl_back_us = -1;
	config->mtu_reply = -1;
	config->data_max_reply = -1;
	config->select_offset = -1;
	config->other_op = -1;
	config->short_op = -1;
	config->endless_op = -1;
}

static void
usbsim_nrf_settings_from_config(UsbsimNrf *self)
{
	memset(&self->settings, 0, sizeof(self->settings));
	self->settings.app_valid = self->config.app_valid;
	self->settings.app_version = self->config.app_version;
	self->settings.bootloader_version = self->config.bootloader_version;
	self->settings.sd_fwid = self->config.sd_fwid;
	if (self->config.app_valid) {
		/* the application's size: up to the last programmed byte of bank 0 */
		guint32 end = USBSIM_NRF_BL_START;
		while (end > USBSIM_NRF_APP_START && self->flash[end - 1] == 0xFF)
			end--;
		self->settings.app_size = end - USBSIM_NRF_APP_START;
	}
}

static gboolean
nrf_pb_packet(const guint8 *buf, gsize len, NrfInit *init);
static guint32
usbsim_nrf_image_size(const NrfInit *init);

/* what a reset leaves: the settings page, the flash; RAM state is gone */
static void
usbsim_nrf_restore(UsbsimNrf *self)
{
	self->live = self->settings;
	memset(&self->init, 0, sizeof(self->init));
	/* the SDK decodes the stored init command again when it starts */
	if (self->live.init_valid &&
	    nrf_pb_packet(self->live.command, self->live.command_offset, &self->init))
		self->firmware_size = usbsim_nrf_image_size(&self->init);
	self->current = NRF_OBJ_NONE;
	self->data_object_size = 0;
	self->image_offset = self->live.image_offset_last;
	self->image_crc = self->live.image_crc_last;
	self->prn = 0;
	self->prn_count = 0;
	g_byte_array_set_size(self->rx, 0);
	self->rx_escape = FALSE;
	self->rx_bad = FALSE;
	while (!g_queue_is_empty(&self->responses)) {
		NrfResponse *rsp = g_queue_pop_head(&self->responses);
		g_byte_array_unref(rsp->frame);
		g_free(rsp);
	}
}

UsbsimNrf *
usbsim_nrf_new(const UsbsimNrfConfig *config, gint64 epoch_us)
{
	UsbsimNrf *self = g_new0(UsbsimNrf, 1);

	self->config = *config;
	self->config.flash_in = config->flash_in != NULL ? g_bytes_ref(config->flash_in) : NULL;
	self->epoch_us = epoch_us;
	self->flash = g_malloc(USBSIM_NRF_FLASH_SIZE);
	memset(self->flash, 0xFF, USBSIM_NRF_FLASH_SIZE);
	if (config->flash_in != NULL) {
		gsize sz = 0;
		const guint8 *data = g_bytes_get_data(config->flash_in, &sz);
		memcpy(self->flash, data, MIN(sz, (gsize)USBSIM_NRF_FLASH_SIZE));
	}
	self->rx = g_byte_array_new();
	g_queue_init(&self->responses);
	self->trace = g_ptr_array_new_with_free_func(g_free);
	self->requests = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, NULL);
	self->images = g_string_new(NULL);
	self->running = TRUE;
	self->port_open = config->port_always_open;
	self->app_running = config->app_valid && !config->dfu_mode_at_start &&
			    config->app_runs != USBSIM_NRF_APP_RUNS_BOOTLOADER;
	self->app_log_next_us = epoch_us;
	self->reset_at_us = G_MAXINT64;
	self->cpu_free_us = epoch_us;
	self->flash_free_us = epoch_us;
	self->last_arrival_us = epoch_us;
	self->first_request_us = -1;
	self->endless_us = -1;
	usbsim_nrf_settings_from_config(self);
	usbsim_nrf_restore(self);
	return self;
}

void
usbsim_nrf_free(UsbsimNrf *self)
{
	usbsim_nrf_restore(self);
	if (self->config.flash_in != NULL)
		g_bytes_unref(self->config.flash_in);
	g_byte_array_unref(self->rx);
	g_ptr_array_unref(self->trace);
	g_hash_table_unref(self->requests);
	g_string_free(self->images, TRUE);
	g_free(self->flash);
	g_free(self);
}

/* --- the init packet: a protobuf Packet, decoded here by hand --- */

typedef struct {
	const guint8 *buf;
	gsize len;
	gsize pos;
	gboolean bad; /* a field was cut short or malformed */
} NrfPb;

typedef struct {
	guint num;
	guint wire;
	guint64 value; /* of a varint */
	NrfPb bytes;   /* of a length-delimited field */
} NrfPbField;

static gboolean
nrf_pb_varint(NrfPb *pb, guint64 *value)
{
	*value = 0;
	for (guint shift = 0; shift < 64; shift += 7) {
		guint8 b;
		if (pb->pos >= pb->len)
			return FALSE;
		b = pb->buf[pb->pos++];
		*value |= (guint64)(b & 0x7F) << shift;
		if ((b & 0x80) == 0)
			return TRUE;
	}
	return FALSE;
}

/* the next field: its number, wire type, and value (varint) or bytes (length-delimited) */
static gboolean
nrf_pb_field(NrfPb *pb, guint *num, guint *wire, guint64 *value, NrfPb *sub)
{
	guint64 key = 0;
	if (!nrf_pb_varint(pb, &key))
		return FALSE;
	*num = key >> 3;
	*wire = key & 7;
	switch (*wire) {
	case 0:
		return nrf_pb_varint(pb, value);
	case 2: {
		guint64 n = 0;
		if (!nrf_pb_varint(pb, &n) || n > pb->len - pb->pos)
			return FALSE;
		sub->buf = pb->buf + pb->pos;
		sub->len = n;
		sub->pos = 0;
		pb->pos += n;
		return TRUE;
	}
	case 1:
		if (pb->len - pb->pos < 8)
			return FALSE;
		pb->pos += 8;
		return TRUE;
	case 5:
		if (pb->len - pb->pos < 4)
			return FALSE;
		pb->pos += 4;
		return TRUE;
	default:
		return FALSE;
	}
}

/* the next field of @pb: FALSE at its end, or with pb->bad set on a field cut short */
static gboolean
nrf_pb_next(NrfPb *pb, NrfPbField *field)
{
	memset(field, 0, sizeof(*field));
	if (pb->pos >= pb->len)
		return FALSE;
	if (!nrf_pb_field(pb, &field->num, &field->wire, &field->value, &field->bytes)) {
		pb->bad = TRUE;
		return FALSE;
	}
	return TRUE;
}

/* a SoftDevice the image accepts; past the ones the bootloader keeps, it is not recorded */
static void
nrf_init_add_sd_req(NrfInit *init, guint64 sd_req)
{
	if (init->sd_req_count < G_N_ELEMENTS(init->sd_req))
		init->sd_req[init->sd_req_count++] = sd_req;
}

static gboolean
nrf_pb_init_command(NrfPb *pb, NrfInit *init)
{
	NrfPbField f;

	while (nrf_pb_next(pb, &f)) {
		NrfPbField hash;
		guint64 v = f.value;
		switch (f.num) {
		case 1:
			init->fw_version = v;
			break;
		case 2:
			init->hw_version = v;
			break;
		case 3:
			/* sd_req: one varint, or packed ones */
			if (f.wire == 0) {
				nrf_init_add_sd_req(init, v);
				break;
			}
			while (f.bytes.pos < f.bytes.len) {
				if (!nrf_pb_varint(&f.bytes, &v))
					return FALSE;
				nrf_init_add_sd_req(init, v);
			}
			break;
		case 4:
			init->type = v;
			init->has_type = TRUE;
			break;
		case 5:
			init->sd_size = v;
			break;
		case 6:
			init->bl_size = v;
			break;
		case 7:
			init->app_size = v;
			break;
		case 8:
			while (f.wire == 2 && nrf_pb_next(&f.bytes, &hash)) {
				if (hash.num == 1)
					init->hash_type = hash.value;
				if (hash.num == 2 && hash.wire == 2) {
					init->hash_len = MIN(hash.bytes.len, sizeof(init->hash));
					memcpy(init->hash, hash.bytes.buf, init->hash_len);
				}
			}
			if (f.bytes.bad)
				return FALSE;
			break;
		case 9:
			init->is_debug = v != 0;
			break;
		default:
			break;
		}
	}
	return !pb->bad;
}

static gboolean
nrf_pb_command(NrfPb *pb, NrfInit *init)
{
	NrfPbField f;

	while (nrf_pb_next(pb, &f)) {
		if (f.num == 1)
			init->op_code = f.value;
		if (f.num == 2 && f.wire == 2) {
			init->has_init = TRUE;
			if (!nrf_pb_init_command(&f.bytes, init))
				return FALSE;
		}
	}
	return !pb->bad;
}

static gboolean
nrf_pb_packet(const guint8 *buf, gsize len, NrfInit *init)
{
	NrfPb pb = {.buf = buf, .len = len};
	NrfPbField f;
	gboolean has_command = FALSE;

	memset(init, 0, sizeof(*init));
	while (nrf_pb_next(&pb, &f)) {
		NrfPbField signed_field;
		if (f.num == 1 && f.wire == 2) {
			has_command = TRUE;
			if (!nrf_pb_command(&f.bytes, init))
				return FALSE;
		}
		if (f.num != 2 || f.wire != 2)
			continue;
		/* SignedCommand: command 1, signature_type 2, signature 3 */
		init->is_signed = TRUE;
		while (nrf_pb_next(&f.bytes, &signed_field)) {
			if (signed_field.num == 1 && signed_field.wire == 2) {
				has_command = TRUE;
				if (!nrf_pb_command(&signed_field.bytes, init))
					return FALSE;
			}
			if (signed_field.num == 2)
				init->signature_type = signed_field.value;
			if (signed_field.num == 3)
				init->signature_len = signed_field.bytes.len;
		}
		if (f.bytes.bad)
			return FALSE;
	}
	return !pb.bad && has_command;
}

/* --- the request handler --- */

static const gchar *
usbsim_nrf_op_name(guint8 op)
{
	switch (op) {
	case NRF_OP_PROTOCOL_VERSION:
		return "protocol_version";
	case NRF_OP_CREATE:
		return "create";
	case NRF_OP_PRN_SET:
		return "prn_set";
	case NRF_OP_CRC_GET:
		return "crc_get";
	case NRF_OP_EXECUTE:
		return "execute";
	case NRF_OP_SELECT:
		return "select";
	case NRF_OP_MTU_GET:
		return "mtu_get";
	case NRF_OP_WRITE:
		return "write";
	case NRF_OP_PING:
		return "ping";
	case NRF_OP_HW_VERSION:
		return "hw_version";
	case NRF_OP_FW_VERSION:
		return "fw_version";
	case NRF_OP_ABORT:
		return "abort";
	default:
		return "unknown";
	}
}

static guint
usbsim_nrf_mtu(UsbsimNrf *self)
{
	return self->config.front == USBSIM_NRF_FRONT_USB ? USBSIM_NRF_MTU_USB
							  : USBSIM_NRF_MTU_UART;
}

static void
usbsim_nrf_put_u32(guint8 *buf, guint32 v)
{
	buf[0] = v;
	buf[1] = v >> 8;
	buf[2] = v >> 16;
	buf[3] = v >> 24;
}

/* a hostile execute of the @nth data object (1-based, 0 for none), @how: "refuse" or "mute";
 * TRUE, counted and traced, when the current object is that one */
static gboolean
usbsim_nrf_execute_fault(UsbsimNrf *self, gint64 t_us, guint nth, const gchar *how)
{
	if (nth == 0 || self->live.image_offset_last / USBSIM_NRF_PAGE_SIZE + 1 != nth)
		return FALSE;
	self->faults_fired++;
	usbsim_nrf_trace(self,
			 t_us,
			 "\"event\":\"fault\",\"fault\":\"%s-execute\",\"object\":%u",
			 how,
			 nth);
	return TRUE;
}

/* the payload of a CRC response: the offset and the CRC so far of the current object */
static gsize
usbsim_nrf_put_crc(UsbsimNrf *self, guint8 *payload)
{
	if (self->current == NRF_OBJ_COMMAND) {
		usbsim_nrf_put_u32(payload, self->live.command_offset);
		usbsim_nrf_put_u32(payload + 4, self->live.command_crc);
	} else {
		usbsim_nrf_put_u32(payload, self->image_offset);
		usbsim_nrf_put_u32(payload + 4, self->image_crc);
	}
	return 8;
}

static guint32
usbsim_nrf_get_u32(const guint8 *buf)
{
	return buf[0] | (buf[1] << 8) | (buf[2] << 16) | ((guint32)buf[3] << 24);
}

/* a hostile response to @op, counted and traced */
static void
usbsim_nrf_response_fault(UsbsimNrf *self, gint64 ready_us, const gchar *fault, guint8 op)
{
	self->faults_fired++;
	usbsim_nrf_trace(self,
			 ready_us,
			 "\"event\":\"fault\",\"fault\":\"%s\",\"op\":\"%s\"",
			 fault,
			 usbsim_nrf_op_name(op));
}

static void
usbsim_nrf_queue_response(UsbsimNrf *self,
			  guint8 op,
			  guint result,
			  const guint8 *payload,
			  gsize payloadsz,
			  gint64 ready_us)
{
	guint8 buf[32] = {NRF_OP_RESPONSE, op, result & 0xFF};
	gsize len = 3;
	NrfResponse *rsp;

	if (result & 0x100) {
		buf[2] = NRF_RES_EXT_ERROR;
		buf[3] = result & 0xFF;
		len = 4;
	} else if (result == NRF_RES_SUCCESS && payloadsz > 0) {
		memcpy(buf + 3, payload, MIN(payloadsz, sizeof(buf) - 3));
		len += MIN(payloadsz, sizeof(buf) - 3);
	}
	ready_us = MAX(ready_us, self->last_ready_us);
	self->last_ready_us = ready_us;
	self->responses_sent++;
	if (self->config.drop_response != 0 && self->responses_sent == self->config.drop_response) {
		usbsim_nrf_response_fault(self, ready_us, "drop-response", op);
		return;
	}
	/* a bootloader that starts a frame and never ends it: from then on it sends bytes only */
	if (self->config.endless_op == op) {
		if (self->endless_us < 0)
			self->endless_us = ready_us;
		usbsim_nrf_response_fault(self, ready_us, "endless-frame", op);
		return;
	}
	/* a response that names the request handled before this one */
	if (self->config.other_op == op) {
		buf[1] = self->prev_op != op ? self->prev_op : NRF_OP_PING;
		self->faults_fired++;
		usbsim_nrf_trace(self,
				 ready_us,
				 "\"event\":\"fault\",\"fault\":\"other-op\",\"op\":\"%s\","
				 "\"named\":\"%s\"",
				 usbsim_nrf_op_name(op),
				 usbsim_nrf_op_name(buf[1]));
	}
	/* a response one byte short of its length, or one byte over when it has no payload */
	if (self->config.short_op == op) {
		if (len > 3)
			len--;
		else
			buf[len++] = 0x00;
		self->faults_fired++;
		usbsim_nrf_trace(self,
				 ready_us,
				 "\"event\":\"fault\",\"fault\":\"wrong-length\",\"op\":\"%s\","
				 "\"length\":%" G_GSIZE_FORMAT,
				 usbsim_nrf_op_name(op),
				 len);
	}
	/* line noise that ends in an END, and a CRC notification nobody asked for, carrying what
	 * the device holds, before every response */
	if (self->config.unsolicited) {
		const guint8 noise[] = {'n', 'o', 'i', 's', 'e', 0x0D, 0x0A, SLIP_END};
		guint8 notif[11] = {NRF_OP_RESPONSE, NRF_OP_CRC_GET, NRF_RES_SUCCESS};
		NrfResponse *extra = g_new0(NrfResponse, 1);
		gboolean cmd = self->current == NRF_OBJ_COMMAND;
		extra->frame = g_byte_array_new();
		g_byte_array_append(extra->frame, noise, sizeof(noise));
		usbsim_nrf_put_u32(notif + 3, cmd ? self->live.command_offset : self->image_offset);
		usbsim_nrf_put_u32(notif + 7, cmd ? self->live.command_crc : self->image_crc);
		{
			g_autoptr(GByteArray) enc = usbsim_nrf_slip_encode(notif, sizeof(notif));
			g_byte_array_append(extra->frame, enc->data, enc->len);
		}
		extra->ready_us = ready_us;
		g_queue_push_tail(&self->responses, extra);
		self->faults_fired++;
	}
	rsp = g_new0(NrfResponse, 1);
	rsp->frame = usbsim_nrf_slip_encode(buf, len);
	rsp->ready_us = ready_us;
	g_queue_push_tail(&self->responses, rsp);
}

/* the flash erases one page at a time after what it already has queued */
static gint64
usbsim_nrf_erase(UsbsimNrf *self, guint32 addr, guint32 size, gint64 t_us)
{
	guint32 first = addr / USBSIM_NRF_PAGE_SIZE;
	guint32 last = (addr + MAX(size, 1) - 1) / USBSIM_NRF_PAGE_SIZE;
	guint pages = last - first + 1;
	gdouble erase_us = usbsim_nrf_erase_us(self, pages);
	gint64 start_us = MAX(t_us, self->flash_free_us);

	memset(self->flash + first * USBSIM_NRF_PAGE_SIZE, 0xFF, pages * USBSIM_NRF_PAGE_SIZE);
	self->flash_free_us = start_us + (gint64)erase_us;
	self->busy_us += (guint64)erase_us;
	self->erases += pages;
	usbsim_nrf_trace(
	    self,
	    t_us,
	    "\"event\":\"erase\",\"address\":%u,\"size\":%u,\"pages\":%u,\"done_ms\":%.3f",
	    first * USBSIM_NRF_PAGE_SIZE,
	    pages * USBSIM_NRF_PAGE_SIZE,
	    pages,
	    (self->flash_free_us - self->epoch_us) / 1000.0);
	return self->flash_free_us;
}

/* NOR flash: programming only clears bits; done in the background */
static void
usbsim_nrf_program(UsbsimNrf *self, guint32 addr, const guint8 *buf, gsize len, gint64 t_us)
{
	gdouble program_us = usbsim_nrf_program_us(self, len);
	gboolean erased = TRUE;

	if (addr + len > USBSIM_NRF_FLASH_SIZE)
		return;
	for (gsize i = 0; i < len; i++) {
		if (self->flash[addr + i] != 0xFF)
			erased = FALSE;
		self->flash[addr + i] &= buf[i];
	}
	self->flash_free_us = MAX(t_us, self->flash_free_us) + (gint64)program_us;
	self->busy_us += (guint64)program_us;
	self->bytes_stored += len;
	usbsim_nrf_trace(self,
			 t_us,
			 "\"event\":\"write\",\"address\":%u,\"length\":%" G_GSIZE_FORMAT
			 ",\"erased\":%s,\"done_ms\":%.3f",
			 addr,
			 len,
			 erased ? "true" : "false",
			 (self->flash_free_us - self->epoch_us) / 1000.0);
}

static guint32
usbsim_nrf_image_size(const NrfInit *init)
{
	return init->sd_size + init->bl_size + init->app_size;
}

static gboolean
usbsim_nrf_sd_req_ok(UsbsimNrf *self, const NrfInit *init)
{
	gboolean accept_any = init->type == NRF_FW_TYPE_SOFTDEVICE ||
			      init->type == NRF_FW_TYPE_SOFTDEVICE_BOOTLOADER ||
			      init->type == NRF_FW_TYPE_BOOTLOADER;
	for (guint i = 0; i < init->sd_req_count; i++) {
		if (self->live.sd_fwid != 0 && init->sd_req[i] == self->live.sd_fwid)
			return TRUE;
		if (accept_any && init->sd_req[i] == NRF_SD_REQ_ANY)
			return TRUE;
		/* 0x00: no SoftDevice; an image that brings its own or needs none */
		if (init->sd_req[i] == 0x00 &&
		    (self->live.sd_fwid == 0 || init->type == NRF_FW_TYPE_SOFTDEVICE ||
		     init->type == NRF_FW_TYPE_SOFTDEVICE_BOOTLOADER))
			return TRUE;
	}
	return FALSE;
}

/* nrf_dfu_validation_init_cmd_execute(): decode, signature, prevalidate, space */
static guint
usbsim_nrf_validate_init(UsbsimNrf *self, const gchar **field)
{
	NrfInit *init = &self->init;
	guint32 size;

	*field = "format";
	if (!nrf_pb_packet(self->live.command, self->live.command_offset, init))
		return NRF_EXT(NRF_EXT_WRONG_COMMAND_FORMAT);
	*field = "op_code";
	if (!init->has_init || init->op_code != 1)
		return NRF_EXT(NRF_EXT_INIT_COMMAND_INVALID);
	*field = "signature";
	if (init->is_signed && init->signature_type != NRF_SIGNATURE_ECDSA_P256_SHA256)
		return NRF_EXT(NRF_EXT_WRONG_SIGNATURE_TYPE);
	if (self->config.require_signature && !init->is_signed)
		return NRF_EXT(NRF_EXT_SIGNATURE_MISSING);
	if (self->config.require_signature)
		return NRF_EXT(NRF_EXT_VERIFICATION_FAILED);
	*field = "type";
	if (!init->has_type || init->type > NRF_FW_TYPE_SOFTDEVICE_BOOTLOADER)
		return NRF_EXT(NRF_EXT_INIT_COMMAND_INVALID);
	if ((init->type == NRF_FW_TYPE_APPLICATION && init->app_size == 0) ||
	    (init->type == NRF_FW_TYPE_SOFTDEVICE && init->sd_size == 0) ||
	    (init->type == NRF_FW_TYPE_BOOTLOADER && init->bl_size == 0) ||
	    (init->type == NRF_FW_TYPE_SOFTDEVICE_BOOTLOADER &&
	     (init->sd_size == 0 || init->bl_size == 0)))
		return NRF_EXT(NRF_EXT_INIT_COMMAND_INVALID);
	*field = "hw_version";
	if (init->hw_version != self->config.hw_version)
		return NRF_EXT(NRF_EXT_HW_VERSION_FAILURE);
	*field = "sd_req";
	if (!usbsim_nrf_sd_req_ok(self, init))
		return NRF_EXT(NRF_EXT_SD_VERSION_FAILURE);
	*field = "fw_version";
	if (!init->is_debug) {
		if (init->type == NRF_FW_TYPE_APPLICATION && self->live.app_valid &&
		    init->fw_version < self->live.app_version)
			return NRF_EXT(NRF_EXT_FW_VERSION_FAILURE);
		if ((init->type == NRF_FW_TYPE_BOOTLOADER ||
		     init->type == NRF_FW_TYPE_SOFTDEVICE_BOOTLOADER) &&
		    init->fw_version < self->live.bootloader_version)
			return NRF_EXT(NRF_EXT_FW_VERSION_FAILURE);
	}
	*field = "hash_type";
	if (init->hash_type != NRF_HASH_TYPE_SHA256 || init->hash_len != 32)
		return NRF_EXT(NRF_EXT_WRONG_HASH_TYPE);
	*field = "size";
	size = usbsim_nrf_image_size(init);
	if (init->bl_size > USBSIM_NRF_BL_SIZE || size > USBSIM_NRF_BL_START - USBSIM_NRF_APP_START)
		return NRF_EXT(NRF_EXT_INSUFFICIENT_SPACE);
	*field = NULL;
	return NRF_RES_SUCCESS;
}

static void
usbsim_nrf_copy(UsbsimNrf *self, guint32 dst, guint32 src, guint32 len)
{
	memmove(self->flash + dst, self->flash + src, len);
}

/* the image is whole: post-validate (nrf_dfu_validation_post_data_execute) and activate */
static guint
usbsim_nrf_post_validate(UsbsimNrf *self, gint64 t_us, gint64 *activate_us)
{
	NrfInit *init = &self->init;
	guint32 size = usbsim_nrf_image_size(init);
	guint8 digest[32];
	gsize digest_len = sizeof(digest);
	g_autoptr(GChecksum) sha = g_checksum_new(G_CHECKSUM_SHA256);
	gboolean hash_ok = TRUE;
	gdouble copy_us = 0;

	g_checksum_update(sha, self->flash + USBSIM_NRF_APP_START, size);
	g_checksum_get_digest(sha, digest, &digest_len);
	/* the packet holds the digest byte-reversed, as the SDK's hash check reads it */
	for (guint i = 0; i < 32; i++) {
		if (init->hash[i] != digest[31 - i])
			hash_ok = FALSE;
	}
	if (!hash_ok) {
		usbsim_nrf_trace(self,
				 t_us,
				 "\"event\":\"post-validate\",\"ok\":false,\"reason\":\"hash\"");
		return NRF_EXT(NRF_EXT_VERIFICATION_FAILED);
	}

	/* activation: the SoftDevice and bootloader are copied from the bank where they were
	 * received; an application runs where it is */
	if (init->type == NRF_FW_TYPE_APPLICATION) {
		self->live.app_valid = TRUE;
		self->live.app_version = init->fw_version;
		self->live.app_size = init->app_size;
	} else {
		guint32 src = USBSIM_NRF_APP_START;
		if (init->sd_size > 0) {
			usbsim_nrf_copy(self, USBSIM_NRF_SD_START, src, init->sd_size);
			copy_us += usbsim_nrf_erase_us(self,
						       (init->sd_size + USBSIM_NRF_PAGE_SIZE - 1) /
							   USBSIM_NRF_PAGE_SIZE) +
				   usbsim_nrf_program_us(self, init->sd_size);
			src += init->sd_size;
		}
		if (init->bl_size > 0) {
			memset(self->flash + USBSIM_NRF_BL_START, 0xFF, USBSIM_NRF_BL_SIZE);
			usbsim_nrf_copy(self, USBSIM_NRF_BL_START, src, init->bl_size);
			copy_us += usbsim_nrf_erase_us(self,
						       (init->bl_size + USBSIM_NRF_PAGE_SIZE - 1) /
							   USBSIM_NRF_PAGE_SIZE) +
				   usbsim_nrf_program_us(self, init->bl_size);
			self->live.bootloader_version = init->fw_version;
		}
		/* a new SoftDevice or bootloader leaves no valid application behind */
		self->live.app_valid = FALSE;
		self->live.app_size = 0;
	}
	*activate_us = (gint64)copy_us;
	self->images_activated++;
	g_string_append_printf(self->images,
			       "%s{\"type\":%u,\"size\":%u,\"fw_version\":%u}",
			       self->images->len > 0 ? "," : "",
			       init->type,
			       size,
			       init->fw_version);
	usbsim_nrf_trace(self,
			 t_us,
			 "\"event\":\"post-validate\",\"ok\":true,\"type\":%u,\"size\":%u,"
			 "\"activate_ms\":%.3f",
			 init->type,
			 size,
			 copy_us / 1000.0);
	return NRF_RES_SUCCESS;
}

/* the device resets at reset_us: RAM is lost, the settings page stays */
static void
usbsim_nrf_schedule_reset(UsbsimNrf *self, gint64 reset_us, gint64 back_us, const gchar *why)
{
	self->reset_at_us = reset_us;
	self->back_us = back_us;
	usbsim_nrf_trace(self,
			 reset_us,
			 "\"event\":\"reset\",\"reason\":\"%s\",\"back_ms\":%.3f",
			 why,
			 (back_us - self->epoch_us) / 1000.0);
}

/* the least time for what an executed object needed (tests/usbsim/README.md, create blocks for the
 * erase): erase + max(wire, program) + one round trip (CRC and execute) */
static void
usbsim_nrf_limit_add_object(UsbsimNrf *self, guint32 size, gboolean data)
{
	guint32 chunk = (usbsim_nrf_mtu(self) - 1) / 2 - 1;
	guint32 frames = (size + chunk - 1) / chunk;
	/* an unescaped frame a write: opcode, data, END; the round trip's four frames */
	gdouble wire_us = usbsim_nrf_wire_us(self, size + frames * 2);
	gdouble rtt_us = usbsim_nrf_wire_us(self, 2 + 12 + 2 + 4 + 2 + 4);
	gdouble program_us = data ? usbsim_nrf_program_us(self, size) : 0;
	gdouble erase_us =
	    data ? usbsim_nrf_erase_us(self,
				       (size + USBSIM_NRF_PAGE_SIZE - 1) / USBSIM_NRF_PAGE_SIZE)
		 : 0;
	self->limit_us += erase_us + MAX(wire_us, program_us) + rtt_us;
}

static void
usbsim_nrf_request(UsbsimNrf *self, const guint8 *req, gsize len, gint64 now_us)
{
	guint8 op = req[0];
	guint8 payload[20] = {0};
	gsize payloadsz = 0;
	guint result = NRF_RES_SUCCESS;
	gint64 t_us = MAX(now_us, self->cpu_free_us);
	gint64 ready_us = t_us;
	gboolean respond = TRUE;
	const gchar *field = NULL;
	guint count;

	count = ++self->op_counts[op];
	g_hash_table_insert(
	    self->requests,
	    (gpointer)usbsim_nrf_op_name(op),
	    GUINT_TO_POINTER(
		GPOINTER_TO_UINT(g_hash_table_lookup(self->requests, usbsim_nrf_op_name(op))) + 1));
	if (self->first_request_us < 0)
		self->first_request_us = now_us;
	self->last_request_us = now_us;

	switch (op) {
	case NRF_OP_PROTOCOL_VERSION:
		payload[0] = 1;
		payloadsz = 1;
		break;
	case NRF_OP_PING:
		if (len < 2) {
			result = NRF_RES_INVALID_PARAMETER;
			break;
		}
		payload[0] = req[1];
		payloadsz = 1;
		break;
	case NRF_OP_PRN_SET:
		if (len < 3) {
			result = NRF_RES_INVALID_PARAMETER;
			break;
		}
		self->prn = req[1] | (req[2] << 8);
		self->prn_count = self->prn;
		break;
	case NRF_OP_MTU_GET: {
		/* what it claims; frames longer than its own buffer are still dropped */
		guint mtu = self->config.mtu_reply >= 0 ? (guint)self->config.mtu_reply
							: usbsim_nrf_mtu(self);
		payload[0] = mtu & 0xFF;
		payload[1] = (mtu >> 8) & 0xFF;
		payloadsz = 2;
		break;
	}
	case NRF_OP_HW_VERSION:
		usbsim_nrf_put_u32(payload, 0x52840);
		usbsim_nrf_put_u32(payload + 4, 0x41414430); /* "AAD0" */
		usbsim_nrf_put_u32(payload + 8,
				   self->config.flash_size_reply != 0
				       ? self->config.flash_size_reply
				       : USBSIM_NRF_FLASH_SIZE);
		usbsim_nrf_put_u32(payload + 12, 0x40000);
		usbsim_nrf_put_u32(payload + 16, USBSIM_NRF_PAGE_SIZE);
		payloadsz = 20;
		break;
	case NRF_OP_FW_VERSION: {
		guint8 image = len >= 2 ? req[1] : 0xFF;
		payloadsz = 13;
		if (image == 0) {
			payload[0] = NRF_FIRMWARE_TYPE_BOOTLOADER;
			usbsim_nrf_put_u32(payload + 1, self->live.bootloader_version);
			usbsim_nrf_put_u32(payload + 5, USBSIM_NRF_BL_START);
			usbsim_nrf_put_u32(payload + 9, USBSIM_NRF_BL_SIZE);
		} else if (image == 1 && self->live.sd_fwid != 0) {
			payload[0] = NRF_FIRMWARE_TYPE_SOFTDEVICE;
			usbsim_nrf_put_u32(payload + 1, self->config.sd_version);
			usbsim_nrf_put_u32(payload + 5, USBSIM_NRF_SD_START);
			usbsim_nrf_put_u32(payload + 9, USBSIM_NRF_APP_START - USBSIM_NRF_SD_START);
		} else if (image == 2 && self->live.app_valid) {
			payload[0] = NRF_FIRMWARE_TYPE_APPLICATION;
			usbsim_nrf_put_u32(payload + 1, self->live.app_version);
			usbsim_nrf_put_u32(payload + 5, USBSIM_NRF_APP_START);
			usbsim_nrf_put_u32(payload + 9, self->live.app_size);
		} else {
			/* no such image: success, type unknown, all zero */
			memset(payload, 0, 13);
			payload[0] = 0xFF;
		}
		break;
	}
	case NRF_OP_SELECT:
		if (len < 2 || (req[1] != NRF_OBJ_COMMAND && req[1] != NRF_OBJ_DATA)) {
			result = NRF_RES_UNSUPPORTED_TYPE;
			break;
		}
		self->current = req[1];
		payloadsz = 12;
		if (req[1] == NRF_OBJ_COMMAND) {
			usbsim_nrf_put_u32(payload, USBSIM_NRF_CMD_MAX_SIZE);
			usbsim_nrf_put_u32(payload + 4, self->live.command_offset);
			usbsim_nrf_put_u32(payload + 8, self->live.command_crc);
		} else {
			/* a hostile bootloader may claim another object size or offset; create
			 * still takes a page at most, from the true offset */
			usbsim_nrf_put_u32(payload,
					   self->config.data_max_reply >= 0
					       ? (guint32)self->config.data_max_reply
					       : USBSIM_NRF_PAGE_SIZE);
			usbsim_nrf_put_u32(payload + 4,
					   self->config.select_offset >= 0
					       ? (guint32)self->config.select_offset
					       : self->image_offset);
			usbsim_nrf_put_u32(payload + 8, self->image_crc);
		}
		break;
	case NRF_OP_CREATE: {
		guint32 size;
		if (len < 6 || (req[1] != NRF_OBJ_COMMAND && req[1] != NRF_OBJ_DATA)) {
			result = len < 6 ? NRF_RES_INVALID_PARAMETER : NRF_RES_UNSUPPORTED_TYPE;
			break;
		}
		size = usbsim_nrf_get_u32(req + 2);
		self->current = req[1];
		/* the serial transport counts notifications from each create, as hosts do */
		self->prn_count = self->prn;
		if (req[1] == NRF_OBJ_COMMAND) {
			if (size == 0) {
				result = NRF_RES_INVALID_PARAMETER;
			} else if (size > USBSIM_NRF_CMD_MAX_SIZE) {
				result = NRF_RES_INSUFFICIENT_RESOURCES;
			} else {
				/* a new init packet resets all progress */
				memset(self->live.command, 0, sizeof(self->live.command));
				self->live.command_size = size;
				self->live.command_offset = 0;
				self->live.command_crc = 0;
				self->live.init_valid = FALSE;
				self->live.image_offset_last = 0;
				self->live.image_crc_last = 0;
				self->image_offset = 0;
				self->image_crc = 0;
				self->data_object_size = 0;
			}
			break;
		}
		if (!self->live.init_valid) {
			result = NRF_RES_NOT_PERMITTED;
		} else if (size == 0) {
			result = NRF_RES_INVALID_PARAMETER;
		} else if ((size & (USBSIM_NRF_PAGE_SIZE - 1)) != 0 &&
			   self->live.image_offset_last + size != self->firmware_size) {
			result = NRF_RES_INVALID_PARAMETER;
		} else if (size > USBSIM_NRF_PAGE_SIZE) {
			result = NRF_RES_INSUFFICIENT_RESOURCES;
		} else if (self->live.image_offset_last + size > self->firmware_size) {
			result = NRF_RES_NOT_PERMITTED;
		} else {
			self->data_object_size = size;
			self->image_offset = self->live.image_offset_last;
			self->image_crc = self->live.image_crc_last;
			/* the response waits for the page erase */
			ready_us = usbsim_nrf_erase(self,
						    USBSIM_NRF_APP_START + self->image_offset,
						    size,
						    t_us);
			self->cpu_free_us = ready_us;
			self->object_wire_bytes = 0;
		}
		break;
	}
	case NRF_OP_WRITE: {
		const guint8 *data = req + 1;
		gsize datasz = len - 1;
		g_autofree guint8 *stored = NULL;
		respond = FALSE;
		if (self->current == NRF_OBJ_COMMAND) {
			if (self->live.command_offset + datasz > self->live.command_size) {
				result = NRF_RES_INVALID_PARAMETER;
			} else {
				memcpy(self->live.command + self->live.command_offset,
				       data,
				       datasz);
				self->live.command_offset += datasz;
				self->live.command_crc =
				    fake_bl_crc32(self->live.command_crc, data, datasz);
			}
		} else if (self->current == NRF_OBJ_DATA && self->live.init_valid) {
			guint32 in_object = self->image_offset - self->live.image_offset_last;
			if (in_object + datasz > self->data_object_size) {
				result = NRF_RES_INVALID_PARAMETER;
			} else {
				self->data_writes++;
				stored = g_memdup2(data, datasz);
				if (self->config.corrupt_write != 0 &&
				    self->data_writes == self->config.corrupt_write) {
					stored[datasz / 2] ^= 0x5A;
					self->faults_fired++;
					usbsim_nrf_trace(self,
							 t_us,
							 "\"event\":\"fault\",\"fault\":\"corrupt-"
							 "write\",\"offset\":%u",
							 self->image_offset +
							     (guint32)(datasz / 2));
				}
				self->image_crc = fake_bl_crc32(self->image_crc, stored, datasz);
				usbsim_nrf_program(self,
						   USBSIM_NRF_APP_START + self->image_offset,
						   stored,
						   datasz,
						   t_us);
				self->image_offset += datasz;
				self->object_wire_bytes += datasz;
				if (self->config.reset_after_writes != 0 &&
				    self->data_writes == self->config.reset_after_writes) {
					self->faults_fired++;
					usbsim_nrf_schedule_reset(
					    self,
					    t_us,
					    t_us +
						(gint64)usbsim_nrf_scaled(self, USBSIM_NRF_BOOT_US),
					    "reset-after-writes");
				}
			}
		} else {
			result = NRF_RES_NOT_PERMITTED;
		}
		/* nrf_dfu_serial.c: a write is answered only by a CRC notification every PRN */
		if (result != NRF_RES_SUCCESS) {
			self->writes_dropped++;
			break;
		}
		if (self->prn != 0 && --self->prn_count == 0) {
			self->prn_count = self->prn;
			op = NRF_OP_CRC_GET;
			respond = TRUE;
			payloadsz = usbsim_nrf_put_crc(self, payload);
		}
		break;
	}
	case NRF_OP_CRC_GET:
		payloadsz = usbsim_nrf_put_crc(self, payload);
		break;
	case NRF_OP_EXECUTE:
		if (self->current == NRF_OBJ_COMMAND) {
			if (self->live.command_size == 0 ||
			    self->live.command_offset != self->live.command_size) {
				result = NRF_RES_NOT_PERMITTED;
				break;
			}
			result = usbsim_nrf_validate_init(self, &field);
			if (result == NRF_RES_SUCCESS) {
				gboolean again = self->live.init_valid;
				self->live.init_valid = TRUE;
				self->firmware_size = usbsim_nrf_image_size(&self->init);
				self->settings = self->live;
				if (!again) {
					self->objects_command++;
					usbsim_nrf_limit_add_object(self,
								    self->live.command_size,
								    FALSE);
				}
			}
			usbsim_nrf_trace(
			    self,
			    t_us,
			    "\"event\":\"init-execute\",\"result\":%u,\"field\":%s%s%s,"
			    "\"type\":%u,\"size\":%u,\"hw_version\":%u,\"fw_version\":%u",
			    result,
			    field != NULL ? "\"" : "",
			    field != NULL ? field : "null",
			    field != NULL ? "\"" : "",
			    self->init.type,
			    usbsim_nrf_image_size(&self->init),
			    self->init.hw_version,
			    self->init.fw_version);
			break;
		}
		if (self->current != NRF_OBJ_DATA || !self->live.init_valid) {
			result = NRF_RES_NOT_PERMITTED;
			break;
		}
		/* the whole created object, or nothing: a second execute at a boundary fails */
		if (self->data_object_size == 0 ||
		    self->image_offset - self->live.image_offset_last != self->data_object_size) {
			result = NRF_RES_NOT_PERMITTED;
			break;
		}
		/* hostile: the Nth data object's execute is refused and all progress lost, or
		 * never answered (nor done) */
		if (usbsim_nrf_execute_fault(self, t_us, self->config.refuse_execute, "refuse")) {
			self->live.image_offset_last = 0;
			self->live.image_crc_last = 0;
			self->image_offset = 0;
			self->image_crc = 0;
			self->data_object_size = 0;
			self->settings = self->live;
			result = NRF_RES_NOT_PERMITTED;
			break;
		}
		if (usbsim_nrf_execute_fault(self, t_us, self->config.mute_execute, "mute")) {
			respond = FALSE;
			break;
		}
		/* an execute answers once the flash has written everything */
		ready_us = MAX(t_us, self->flash_free_us);
		self->cpu_free_us = ready_us;
		usbsim_nrf_limit_add_object(self, self->data_object_size, TRUE);
		self->objects_data++;
		self->live.image_offset_last = self->image_offset;
		self->live.image_crc_last = self->image_crc;
		self->data_object_size = 0;
		if (self->image_offset == self->firmware_size) {
			gint64 activate_us = 0;
			gint64 settings_us;
			result = usbsim_nrf_post_validate(self, ready_us, &activate_us);
			if (result == NRF_RES_SUCCESS) {
				gint64 back_us = self->config.reenumerate_us;
				gint64 delay_us;
				/* a SoftDevice or bootloader is copied into place after the reset
				 */
				if (self->init.type != NRF_FW_TYPE_APPLICATION &&
				    self->config.sd_bl_back_us >= 0)
					back_us = self->config.sd_bl_back_us;
				delay_us =
				    back_us >= 0
					? (gint64)usbsim_nrf_scaled(self, back_us)
					: activate_us +
					      (gint64)usbsim_nrf_scaled(self, USBSIM_NRF_BOOT_US);
				delay_us = MIN(
				    delay_us,
				    (gint64)usbsim_nrf_scaled(self, USBSIM_NRF_REENUMERATE_MAX));
				/* the next update starts from nothing */
				self->live.command_size = 0;
				self->live.command_offset = 0;
				self->live.command_crc = 0;
				self->live.init_valid = FALSE;
				self->live.image_offset_last = 0;
				self->live.image_crc_last = 0;
				self->settings = self->live;
				self->limit_us += delay_us;
				/* the response goes out and the settings page is written (an erase
				 * and a few words), then the device resets */
				settings_us =
				    usbsim_nrf_erase_us(self, 1) + usbsim_nrf_program_us(self, 256);
				usbsim_nrf_schedule_reset(self,
							  ready_us + settings_us,
							  ready_us + settings_us + delay_us,
							  "activated");
				self->reset_waits_response = TRUE;
			} else {
				/* the SDK invalidates the failed update */
				self->live.init_valid = FALSE;
				self->settings = self->live;
			}
		} else {
			self->settings = self->live;
		}
		break;
	case NRF_OP_ABORT:
		usbsim_nrf_schedule_reset(self,
					  t_us + 1000,
					  t_us + 1000 +
					      (gint64)usbsim_nrf_scaled(self, USBSIM_NRF_BOOT_US),
					  "abort");
		self->reset_waits_response = TRUE;
		break;
	default:
		result = NRF_RES_OP_NOT_SUPPORTED;
		break;
	}

	if (self->config.ext_error_nth != 0 && req[0] == self->config.ext_error_op &&
	    count == self->config.ext_error_nth) {
		self->faults_fired++;
		result = NRF_EXT(self->config.ext_error_code);
		respond = TRUE;
		op = req[0];
	}

	if (req[0] != NRF_OP_WRITE || respond || result != NRF_RES_SUCCESS) {
		usbsim_nrf_trace(self,
				 now_us,
				 "\"request\":\"%s\",\"op\":%u,\"length\":%" G_GSIZE_FORMAT
				 ",\"object\":%u,\"result\":%u,\"ext\":%u,\"ready_ms\":%.3f,"
				 "\"offset\":%u,\"crc\":%u",
				 usbsim_nrf_op_name(req[0]),
				 req[0],
				 len,
				 self->current,
				 result & 0x100 ? NRF_RES_EXT_ERROR : result,
				 result & 0x100 ? result & 0xFF : 0,
				 (ready_us - self->epoch_us) / 1000.0,
				 self->current == NRF_OBJ_COMMAND ? self->live.command_offset
								  : self->image_offset,
				 self->current == NRF_OBJ_COMMAND ? self->live.command_crc
								  : self->image_crc);
	}
	if (respond && self->config.crc_wrong && op == NRF_OP_CRC_GET && payloadsz == 8) {
		usbsim_nrf_put_u32(payload + 4, usbsim_nrf_get_u32(payload + 4) ^ 1);
		self->faults_fired++;
	}
	if (respond)
		usbsim_nrf_queue_response(self, op, result, payload, payloadsz, ready_us);
	self->prev_op = req[0];
	if (op != NRF_OP_WRITE)
		self->last_arrival_us = MAX(self->last_arrival_us, ready_us);
}

static void
usbsim_nrf_frame(UsbsimNrf *self, gint64 now_us)
{
	gsize max_decoded = (usbsim_nrf_mtu(self) - 1) / 2;

	if (self->rx->len == 0)
		return;
	if (self->rx->len > max_decoded) {
		/* larger than the transport's buffer: the SDK drops it */
		self->frames_oversize++;
		usbsim_nrf_trace(self,
				 now_us,
				 "\"event\":\"dropped\",\"reason\":\"oversize\",\"length\":%u",
				 self->rx->len);
		return;
	}
	usbsim_nrf_request(self, self->rx->data, self->rx->len, now_us);
}

void
usbsim_nrf_receive(UsbsimNrf *self, const guint8 *buf, gsize bufsz, gint64 now_us)
{
	if (!self->running || now_us >= self->reset_at_us)
		return;
	/* the application reads its port for its own purposes: nothing is a request */
	if (self->app_running) {
		usbsim_nrf_trace(self,
				 now_us,
				 "\"event\":\"dropped\",\"reason\":\"application\",\"length\":"
				 "%" G_GSIZE_FORMAT,
				 bufsz);
		return;
	}
	if (!self->port_open) {
		usbsim_nrf_trace(self,
				 now_us,
				 "\"event\":\"dropped\",\"reason\":\"port-not-open\",\"length\":"
				 "%" G_GSIZE_FORMAT,
				 bufsz);
		return;
	}
	/* the device waited for the host since it last had something to do */
	if (self->first_request_us >= 0) {
		gint64 idle_from = MAX(MAX(self->last_arrival_us, self->flash_free_us),
				       MAX(self->cpu_free_us, self->last_ready_us));
		/* the bytes' own time on the wire is not the host's idleness */
		gint64 sent_us = now_us - (gint64)usbsim_nrf_wire_us(self, bufsz);
		if (sent_us > idle_from)
			self->host_idle_us += sent_us - idle_from;
	}
	self->last_arrival_us = MAX(self->last_arrival_us, now_us);
	for (gsize i = 0; i < bufsz; i++) {
		guint8 b = buf[i];
		if (self->running == FALSE || self->reset_at_us != G_MAXINT64)
			break;
		if (b == SLIP_END) {
			if (!self->rx_bad)
				usbsim_nrf_frame(self, now_us);
			g_byte_array_set_size(self->rx, 0);
			self->rx_escape = FALSE;
			self->rx_bad = FALSE;
			continue;
		}
		if (self->rx_bad)
			continue;
		if (self->rx_escape) {
			self->rx_escape = FALSE;
			if (b == SLIP_ESC_END)
				b = SLIP_END;
			else if (b == SLIP_ESC_ESC)
				b = SLIP_ESC;
			else {
				self->rx_bad = TRUE;
				continue;
			}
		} else if (b == SLIP_ESC) {
			self->rx_escape = TRUE;
			continue;
		}
		if (self->rx->len < 4096)
			g_byte_array_append(self->rx, &b, 1);
	}
}

/* what an application that owns the UART writes: a log line and a frame of its own protocol
 * (SLIP-framed, as a host that speaks it would read it) every USBSIM_NRF_APP_LOG_US; nothing
 * from one that does not use the port */
static GByteArray *
usbsim_nrf_app_take_output(UsbsimNrf *self, gint64 now_us, gint64 *next_us)
{
	const guint8 frame[] = {SLIP_END, 'T', 0x01, 0x02, NRF_OP_RESPONSE, SLIP_END};
	GByteArray *out;
	g_autofree gchar *line = NULL;

	*next_us = G_MAXINT64;
	if (self->config.app_runs != USBSIM_NRF_APP_RUNS_UART_LOG)
		return NULL;
	if (now_us < self->app_log_next_us) {
		*next_us = self->app_log_next_us;
		return NULL;
	}
	self->app_log_lines++;
	self->app_log_next_us = now_us + (gint64)usbsim_nrf_scaled(self, USBSIM_NRF_APP_LOG_US);
	*next_us = self->app_log_next_us;
	line = g_strdup_printf("<info> app: running, version %u, tick %u\r\n",
			       self->live.app_version,
			       self->app_log_lines);
	out = g_byte_array_new();
	g_byte_array_append(out, (const guint8 *)line, strlen(line));
	g_byte_array_append(out, frame, sizeof(frame));
	return out;
}

GByteArray *
usbsim_nrf_take_response(UsbsimNrf *self, gint64 now_us, gint64 *next_us)
{
	NrfResponse *rsp = g_queue_peek_head(&self->responses);
	GByteArray *frame;

	*next_us = G_MAXINT64;
	if (self->running && self->app_running)
		return usbsim_nrf_app_take_output(self, now_us, next_us);
	/* a frame that never ends: 64 bytes at a time, never an END */
	if (self->running && self->endless_us >= 0) {
		GByteArray *junk;
		if (now_us < self->endless_us) {
			*next_us = self->endless_us;
			return NULL;
		}
		junk = g_byte_array_sized_new(64);
		for (guint i = 0; i < 64; i++) {
			guint8 b = 0x55;
			g_byte_array_append(junk, &b, 1);
		}
		self->endless_bytes += junk->len;
		self->endless_us = now_us + MAX((gint64)usbsim_nrf_wire_us(self, junk->len), 1);
		*next_us = self->endless_us;
		return junk;
	}
	if (rsp == NULL || !self->running)
		return NULL;
	if (rsp->ready_us > now_us) {
		*next_us = rsp->ready_us;
		return NULL;
	}
	g_queue_pop_head(&self->responses);
	frame = rsp->frame;
	g_free(rsp);
	rsp = g_queue_peek_head(&self->responses);
	if (rsp != NULL)
		*next_us = rsp->ready_us;
	return frame;
}

void
usbsim_nrf_set_port_open(UsbsimNrf *self, gboolean open, gint64 now_us)
{
	if (self->port_open == open)
		return;
	self->port_open = open;
	usbsim_nrf_trace(self, now_us, "\"event\":\"port\",\"open\":%s", open ? "true" : "false");
}

gboolean
usbsim_nrf_take_reset(UsbsimNrf *self, gint64 now_us, gint64 *back_us)
{
	if (!self->running || now_us < self->reset_at_us)
		return FALSE;
	if (self->reset_waits_response && !g_queue_is_empty(&self->responses))
		return FALSE;
	self->reset_waits_response = FALSE;
	*back_us = self->back_us;
	self->running = FALSE;
	self->app_running = FALSE;
	self->resets++;
	self->reset_at_us = G_MAXINT64;
	usbsim_nrf_restore(self);
	/* the USB transport waits for a host to open the port again */
	self->port_open = self->config.port_always_open;
	return TRUE;
}

void
usbsim_nrf_boot(UsbsimNrf *self, gint64 now_us)
{
	self->running = TRUE;
	self->app_running = !self->enter_dfu && self->live.app_valid &&
			    self->config.app_runs != USBSIM_NRF_APP_RUNS_BOOTLOADER;
	self->enter_dfu = FALSE;
	self->app_log_next_us = now_us;
	self->cpu_free_us = MAX(self->cpu_free_us, now_us);
	self->last_arrival_us = MAX(self->last_arrival_us, now_us);
	self->last_ready_us = now_us;
	usbsim_nrf_trace(self,
			 now_us,
			 "\"event\":\"boot\",\"runs\":\"%s\",\"app_valid\":%s,\"offset\":%u,"
			 "\"command_offset\":%u",
			 self->app_running ? "application" : "bootloader",
			 self->live.app_valid ? "true" : "false",
			 self->image_offset,
			 self->live.command_offset);
}

gboolean
usbsim_nrf_is_running(UsbsimNrf *self)
{
	return self->running;
}

gboolean
usbsim_nrf_app_running(UsbsimNrf *self)
{
	return self->running && self->app_running;
}

/* the application's version string: nrfutil's --application-version-string "M.m.p" puts
 * M * 10000 + m * 100 + p in the init packet's fw_version (pc-nrfutil __main__.py,
 * convert_version_string_to_int), and the application is built with the same M.m.p in
 * APP_VERSION_MAJOR/MINOR/PATCH, which the SDK's nrf_dfu_trigger_usb.c sends as SEMVER
 * after APP_NAME and a space */
static void
usbsim_nrf_app_version_triplet(UsbsimNrf *self, guint *major, guint *minor, guint *patch)
{
	guint32 v = self->live.app_version;
	*major = v / 10000;
	*minor = (v / 100) % 100;
	*patch = v % 100;
}

GByteArray *
usbsim_nrf_app_semver(UsbsimNrf *self)
{
	GByteArray *buf = g_byte_array_new();
	guint major, minor, patch;
	g_autofree gchar *str = NULL;

	if (self->config.trigger_garbage) {
		/* no text, no NUL: bytes of every kind, control characters, invalid UTF-8 */
		for (guint i = 0; i < 64; i++) {
			guint8 b = (guint8)(0x80 + i * 37);
			g_byte_array_append(buf, &b, 1);
		}
		return buf;
	}
	usbsim_nrf_app_version_triplet(self, &major, &minor, &patch);
	str = g_strdup_printf("Simulated nRF52840 application %u.%u.%u", major, minor, patch);
	g_byte_array_append(buf, (const guint8 *)str, strlen(str) + 1);
	return buf;
}

void
usbsim_nrf_app_nordic_info(UsbsimNrf *self, guint8 *buf)
{
	guint major, minor, patch;

	if (self->config.trigger_garbage) {
		/* an address and size beyond the flash, version 0xFFFF.0xFFFF, flash and page
		 * sizes of 0xFFFFFFFF */
		memset(buf, 0xFF, USBSIM_NRF_NORDIC_INFO_SIZE);
		return;
	}
	usbsim_nrf_app_version_triplet(self, &major, &minor, &patch);
	usbsim_nrf_put_u32(buf, USBSIM_NRF_APP_START);
	usbsim_nrf_put_u32(buf + 4, self->live.app_size);
	buf[8] = major & 0xFF;
	buf[9] = major >> 8;
	buf[10] = minor & 0xFF;
	buf[11] = minor >> 8;
	usbsim_nrf_put_u32(buf + 12, 0); /* APP_ID */
	usbsim_nrf_put_u32(buf + 16, USBSIM_NRF_FLASH_SIZE);
	usbsim_nrf_put_u32(buf + 20, USBSIM_NRF_PAGE_SIZE);
}

void
usbsim_nrf_app_detach(UsbsimNrf *self, gint64 now_us)
{
	/* dfu_trigger_evt_handler() pulls the reset pin low at once; the Dongle's bootloader
	 * stays in DFU mode after a pin reset */
	self->enter_dfu = TRUE;
	usbsim_nrf_schedule_reset(self,
				  now_us,
				  now_us + (gint64)usbsim_nrf_scaled(self, USBSIM_NRF_BOOT_US),
				  "detach");
}

GPtrArray *
usbsim_nrf_take_trace(UsbsimNrf *self)
{
	GPtrArray *out = self->trace;
	self->trace = g_ptr_array_new_with_free_func(g_free);
	return out;
}

gchar *
usbsim_nrf_summary_json(UsbsimNrf *self, gint64 now_us, const gchar *extra_members)
{
	GString *str = g_string_new("{\"summary\":true,\"requests\":{");
	GHashTableIter iter;
	gpointer key, value;
	gboolean first = TRUE;

	g_hash_table_iter_init(&iter, self->requests);
	while (g_hash_table_iter_next(&iter, &key, &value)) {
		g_string_append_printf(str,
				       "%s\"%s\":%u",
				       first ? "" : ",",
				       (const gchar *)key,
				       GPOINTER_TO_UINT(value));
		first = FALSE;
	}
	g_string_append_printf(
	    str,
	    "},\"profile\":\"%s\",\"erases\":%u,\"bytes_stored\":%" G_GUINT64_FORMAT
	    ",\"objects_command\":%u,\"objects_data\":%u,\"data_writes\":%u,\"resets\":%u,"
	    "\"images_activated\":%u,\"images\":[%s],\"writes_refused\":%u,"
	    "\"frames_oversize\":%u,\"faults_fired\":%u,\"device_busy_ms\":%.3f,"
	    "\"host_idle_ms\":%.3f,\"limit_physical_ms\":%.3f,\"transfer_ms\":%.3f,"
	    "\"elapsed_ms\":%.3f,\"time_scale\":%g,\"app_valid\":%s,\"app_version\":%u,"
	    "\"bootloader_version\":%u,\"offset\":%u,\"crc\":%u,\"app_running\":%s,"
	    "\"app_log_lines\":%u,\"endless_bytes\":%" G_GUINT64_FORMAT,
	    self->config.profile,
	    self->erases,
	    self->bytes_stored,
	    self->objects_command,
	    self->objects_data,
	    self->data_writes,
	    self->resets,
	    self->images_activated,
	    self->images->str,
	    self->writes_dropped,
	    self->frames_oversize,
	    self->faults_fired,
	    self->busy_us / 1000.0,
	    self->host_idle_us / 1000.0,
	    self->limit_us / 1000.0,
	    self->first_request_us >= 0 ? (self->last_request_us - self->first_request_us) / 1000.0
					: 0.0,
	    (now_us - self->epoch_us) / 1000.0,
	    self->config.time_scale,
	    self->live.app_valid ? "true" : "false",
	    self->live.app_version,
	    self->live.bootloader_version,
	    self->image_offset,
	    self->image_crc,
	    usbsim_nrf_app_running(self) ? "true" : "false",
	    self->app_log_lines,
	    self->endless_bytes);
	if (self->config.front == USBSIM_NRF_FRONT_UART)
		g_string_append_printf(str, ",\"baud_rate\":%u", self->config.baud_rate);
	if (extra_members != NULL)
		g_string_append_printf(str, ",%s", extra_members);
	g_string_append(str, ",\"protocol\":\"nrf-secure-dfu\"}");
	return g_string_free(str, FALSE);
}

GBytes *
usbsim_nrf_get_flash(UsbsimNrf *self)
{
	return g_bytes_new(self->flash, USBSIM_NRF_FLASH_SIZE);
}

/* CDC ACM (USB CDC 1.2 PSTN): header, call management, ACM, union */
static void
usbsim_nrf_add_cdc_acm(UsbsimDescription *desc, guint8 ep_notify, guint8 ep_in, guint8 ep_out)
{
	const guint8 functional[] = {0x05,
				     0x24,
				     0x00,
				     0x10,
				     0x01, /* header, CDC 1.10 */
				     0x05,
				     0x24,
				     0x01,
				     0x03,
				     0x01, /* call management */
				     0x04,
				     0x24,
				     0x02,
				     0x02, /* ACM: line coding */
				     0x05,
				     0x24,
				     0x06,
				     0x00,
				     0x01}; /* union: 0 controls 1 */
	UsbsimInterface *iface = usbsim_description_add_interface(desc);
	UsbsimAltSetting *alt = usbsim_interface_add_alt(iface, 0x02, 0x02, 0x01, NULL);
	UsbsimEndpoint *ep;

	g_byte_array_append(alt->extra, functional, sizeof(functional));
	usbsim_alt_add_endpoint(alt, ep_notify, 0x03, 16);
	ep = &g_array_index(alt->endpoints, UsbsimEndpoint, alt->endpoints->len - 1);
	ep->interval = 16;
	iface = usbsim_description_add_interface(desc);
	alt = usbsim_interface_add_alt(iface, 0x0A, 0x00, 0x00, NULL);
	usbsim_alt_add_endpoint(alt, ep_in, 0x02, 64);
	usbsim_alt_add_endpoint(alt, ep_out, 0x02, 64);
}

/* the USB device of the nRF52840 itself; the SDK derives the serial number from FICR */
static UsbsimDescription *
usbsim_nrf_description_new(guint16 vid, guint16 pid, const gchar *product)
{
	UsbsimDescription *desc = usbsim_description_new(vid, pid, 0x0100);
	desc->bcd_usb = 0x0200;
	desc->manufacturer = g_strdup("Nordic Semiconductor");
	desc->product = g_strdup(product);
	desc->serial = g_strdup("D7A1C9E3F501");
	return desc;
}

/* a CDC ACM port of the nRF52840: the SDK's CDC ACM class example sets the class on the device */
static UsbsimDescription *
usbsim_nrf_describe_cdc_acm(guint16 vid, guint16 pid, const gchar *product)
{
	UsbsimDescription *desc = usbsim_nrf_description_new(vid, pid, product);
	desc->device_class = 0x02;
	usbsim_nrf_add_cdc_acm(desc, 0x82, 0x81, 0x01);
	usbsim_description_build(desc);
	return desc;
}

UsbsimDescription *
usbsim_nrf_describe_dongle(void)
{
	return usbsim_nrf_describe_cdc_acm(USBSIM_NRF_DONGLE_VID,
					   USBSIM_NRF_DONGLE_PID,
					   "Open DFU Bootloader");
}

/* an application built with nrf_dfu_trigger_usb.c alone (NRF_DFU_TRIGGER_USB_USB_SHARED 0):
 * one vendor interface without endpoints and the DFU-style functional descriptor of
 * app_usbd_nrf_dfu_trigger.c (can download, will detach, detach timeout and transfer size 0,
 * DFU 1.1) */
UsbsimDescription *
usbsim_nrf_describe_app_dfu_trigger(void)
{
	const guint8 functional[] = {0x09, 0x21, 0x09, 0x00, 0x00, 0x00, 0x00, 0x10, 0x01};
	UsbsimDescription *desc = usbsim_nrf_description_new(USBSIM_NRF_APP_VID,
							     USBSIM_NRF_APP_PID,
							     "Simulated nRF52840 application");
	UsbsimInterface *iface;
	UsbsimAltSetting *alt;

	iface = usbsim_description_add_interface(desc);
	alt = usbsim_interface_add_alt(iface, 0xFF, 0x01, 0x01, NULL);
	g_byte_array_append(alt->extra, functional, sizeof(functional));
	usbsim_description_build(desc);
	return desc;
}

/* an application with a serial port of its own (the SDK's usbd_cdc_acm example): nothing of the
 * nordic-dfu plugin's, on IDs no quirk names */
UsbsimDescription *
usbsim_nrf_describe_app_other_usb(void)
{
	return usbsim_nrf_describe_cdc_acm(USBSIM_NRF_APP_VID,
					   USBSIM_NRF_APP_OTHER_PID,
					   "Simulated nRF52840 serial application");
}

UsbsimDescription *
usbsim_nrf_describe_uart_bridge(void)
{
	UsbsimDescription *desc =
	    usbsim_description_new(USBSIM_NRF_JLINK_VID, USBSIM_NRF_JLINK_PID, 0x0100);
	desc->device_class = 0xEF; /* interface association, as a J-Link reports */
	desc->device_subclass = 0x02;
	desc->device_protocol = 0x01;
	desc->manufacturer = g_strdup("SEGGER");
	desc->product = g_strdup("J-Link");
	desc->serial = g_strdup("000683000001");
	usbsim_nrf_add_cdc_acm(desc, 0x83, 0x82, 0x02);
	usbsim_description_build(desc);
	return desc;
}
