/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "usbsim-cobs.h"

#include <gio/gio.h>
#include <string.h>

#define USBSIM_COBS_NEVER G_MAXINT64

/* the verification extension, as the cobs plugin's README defines it */
#define USBSIM_COBS_EXTENSION_VERSION 0x01
#define USBSIM_COBS_CAP_VERIFY	      0x01
#define USBSIM_COBS_CAP_VERSION	      0x02
/* the CRC unit of an STM32H7 reads a word a cycle; 64 bytes a us is a slow floor */
#define USBSIM_COBS_CRC_BYTES_PER_US 64

typedef enum {
	USBSIM_COBS_STATE_READY,
	USBSIM_COBS_STATE_PANICKED, /* stopped on a malformed message: answers nothing more */
	USBSIM_COBS_STATE_LEFT,	    /* answered bye: runs the image, ignores messages */
	USBSIM_COBS_STATE_GONE,	    /* off the bus for good */
	USBSIM_COBS_STATE_APP,	    /* reset into an application with other IDs */
} UsbsimCobsState;

typedef struct {
	guint8 bytes[USBSIM_COBS_PACKET_MAX];
	gsize len;
	guint index; /* 1-based, every message counts */
	gint64 accept_us;
	gint64 arrival_us;
} UsbsimCobsMessage;

typedef struct {
	guint8 bytes[32];
	gsize len;
	gint64 ready_us;
} UsbsimCobsReply;

/* what the limits need of each message the firmware finished */
typedef struct {
	gsize wire_len;
	gint64 work_us; /* scaled, without injected lateness */
	gsize reply_len;
} UsbsimCobsServed;

struct _UsbsimCobs {
	UsbsimCobsConfig config;
	guint8 *flash;
	gint64 *sector_erase_us; /* real erase time of each sector, drawn once, scale 1.0 */
	GRand *rand;
	UsbsimFlashLog log;
	UsbsimCobsStats stats;
	UsbsimCobsState state;
	gint64 epoch_us;
	guint8 line_coding[USBSIM_CDC_LINE_CODING_SIZE];

	/* the one receive buffer */
	gboolean rx_full;
	UsbsimCobsMessage rx;
	gint64 rx_free_since_us;
	gint64 out_pipe_free_us;
	gint64 in_pipe_free_us;
	guint messages_received;

	/* the firmware: one message at a time */
	gboolean fw_busy;
	gint64 fw_done_us;
	gint64 fw_idle_since_us; /* -1 before the first message */
	UsbsimCobsReply fw_reply;
	gboolean fw_has_reply;
	gboolean fw_blocked; /* done, its reply waiting for the IN buffer (ACKs each alone) */
	gint64 now_us;	     /* the latest time an entry point was given */
	gint64 reset_at_us;  /* the reset after bye, or USBSIM_COBS_NEVER */

	GQueue replies; /* of UsbsimCobsReply, in the order the firmware wrote them */
	GArray *served; /* of UsbsimCobsServed */
	guint32 stored; /* payload bytes stored since the erase: the next chunk's offset */
	guint chunks_seen;
	GHashTable *counts; /* message name -> count */

	/* hostile devices */
	guint fw_index;		 /* the message the firmware works on */
	guint replied_through;	 /* the last message whose reply was written */
	gint64 garbage_since_us; /* when the streams began: the reply they follow was written */
	gint64 ack_stream_since_us;
	gsize reply_offset; /* split replies: bytes of the head reply already sent */
	GRand *garbage_rand;
};

void
usbsim_cobs_config_init(UsbsimCobsConfig *config)
{
	memset(config, 0, sizeof(*config));
	config->vid = 0x1209;
	config->pid = 0x0020;
	config->bcd_device = 0x0200;
	config->serial = g_strdup("USBSIM0001");
	config->flash_size = 1024 * 1024;
	config->sector_size = 128 * 1024;
	config->word_size = 32;
	config->erase_typ_us = 1000000;
	config->erase_max_us = 2000000;
	config->program_typ_us = 100;
	config->program_max_us = 200;
	config->time_scale = 1.0;
	config->seed = 1;
	config->wrong_ack_byte = 0x15; /* NAK */
	config->version_offset = USBSIM_COBS_VERSION_OFFSET;
	config->after_bye = USBSIM_COBS_AFTER_BYE_STAY;
	config->app_pid = USBSIM_COBS_APP_PID;
	config->ack_mode = USBSIM_COBS_ACK_EACH;
}

void
usbsim_cobs_config_clear(UsbsimCobsConfig *config)
{
	g_clear_pointer(&config->serial, g_free);
	g_clear_pointer(&config->flash_in, g_bytes_unref);
}

gdouble
usbsim_bulk_cost_us(gsize bytes)
{
	return USBSIM_BULK_FIXED_US + bytes * 1000.0 / USBSIM_BULK_BYTES_PER_MS;
}

static gint64
usbsim_cobs_bus_us(UsbsimCobs *self, gsize bytes)
{
	return (gint64)(usbsim_bulk_cost_us(bytes) * self->config.time_scale);
}

/* the values of --cobs-after-bye, in the order of UsbsimCobsAfterBye */
static const gchar *const usbsim_cobs_after_bye_names[] = {"stay", "bootloader", "app", "gone"};

static gdouble
usbsim_cobs_ms(UsbsimCobs *self, gint64 t_us)
{
	if (t_us == USBSIM_COBS_NEVER)
		return -1;
	return (t_us - self->epoch_us) / 1000.0;
}

/* a plain ACK of the device's own, answering no message */
static void
usbsim_cobs_push_ack(UsbsimCobs *self, gint64 t_us)
{
	UsbsimCobsReply *reply = g_new0(UsbsimCobsReply, 1);
	reply->bytes[0] = USBSIM_COBS_CONTROL_ACK;
	reply->bytes[1] = 0x00;
	reply->len = 2;
	reply->ready_us = t_us;
	g_queue_push_tail(&self->replies, reply);
	self->stats.extra_replies++;
}

UsbsimCobs *
usbsim_cobs_new(const UsbsimCobsConfig *config)
{
	UsbsimCobs *self = g_new0(UsbsimCobs, 1);
	guint sectors = config->flash_size / config->sector_size;
	const guint8 line_coding[] = {0x00, 0xc2, 0x01, 0x00, 0x00, 0x00, 0x08}; /* 115200 8N1 */

	self->config = *config;
	self->config.serial = g_strdup(config->serial);
	self->config.flash_in = config->flash_in != NULL ? g_bytes_ref(config->flash_in) : NULL;
	self->flash = g_malloc(config->flash_size);
	memset(self->flash, 0xff, config->flash_size);
	if (config->flash_in != NULL) {
		gsize len = 0;
		const guint8 *data = g_bytes_get_data(config->flash_in, &len);
		memcpy(self->flash, data, MIN(len, config->flash_size));
	}
	self->rand = g_rand_new_with_seed(config->seed);
	/* apart, so that the garbage does not change the flash timings drawn */
	self->garbage_rand = g_rand_new_with_seed(config->seed ^ 0x5a5a5a5a);
	self->sector_erase_us = g_new0(gint64, MAX(sectors, 1u));
	for (guint i = 0; i < sectors; i++)
		self->sector_erase_us[i] = (gint64)g_rand_double_range(self->rand,
								       config->erase_typ_us,
								       config->erase_max_us);
	usbsim_flash_log_init(&self->log);
	memcpy(self->line_coding, line_coding, sizeof(line_coding));
	self->fw_idle_since_us = -1;
	self->reset_at_us = USBSIM_COBS_NEVER;
	g_queue_init(&self->replies);
	self->served = g_array_new(FALSE, TRUE, sizeof(UsbsimCobsServed));
	self->counts = g_hash_table_new(g_str_hash, g_str_equal);
	/* ACKs the device holds from power-on, before any message */
	if (config->unsolicited_ack && config->unsolicited_ack_after == 0) {
		for (guint i = 0; i < config->unsolicited_ack_count; i++)
			usbsim_cobs_push_ack(self, 0);
	}
	return self;
}

void
usbsim_cobs_free(UsbsimCobs *self)
{
	g_free(self->flash);
	g_free(self->sector_erase_us);
	g_rand_free(self->rand);
	g_rand_free(self->garbage_rand);
	usbsim_flash_log_clear(&self->log);
	g_queue_clear_full(&self->replies, g_free);
	g_array_unref(self->served);
	g_hash_table_unref(self->counts);
	usbsim_cobs_config_clear(&self->config);
	g_free(self);
}

void
usbsim_cobs_set_epoch(UsbsimCobs *self, gint64 epoch_us)
{
	self->epoch_us = epoch_us;
}

static void
usbsim_cobs_count(UsbsimCobs *self, const gchar *name)
{
	guint count = GPOINTER_TO_UINT(g_hash_table_lookup(self->counts, name));
	g_hash_table_insert(self->counts, (gpointer)name, GUINT_TO_POINTER(count + 1));
}

/* ---- COBS, written from the algorithm's description ---- */

/* one COBS block without its end marker; FALSE when malformed or larger than dst */
static gboolean
usbsim_cobs_decode(const guint8 *src, gsize len, guint8 *dst, gsize dst_size, gsize *dst_len)
{
	gsize i = 0;
	gsize out = 0;

	if (len == 0)
		return FALSE;
	while (i < len) {
		guint8 code = src[i];
		if (code == 0 || i + code > len)
			return FALSE;
		for (guint j = 1; j < code; j++) {
			if (src[i + j] == 0 || out >= dst_size)
				return FALSE;
			dst[out++] = src[i + j];
		}
		i += code;
		if (code != 0xff && i < len) {
			if (out >= dst_size)
				return FALSE;
			dst[out++] = 0x00;
		}
	}
	*dst_len = out;
	return TRUE;
}

static gsize
usbsim_cobs_encode(const guint8 *src, gsize len, guint8 *dst)
{
	gsize code_at = 0;
	gsize out = 1;
	guint8 code = 1;

	for (gsize i = 0; i < len; i++) {
		if (src[i] == 0) {
			dst[code_at] = code;
			code_at = out++;
			code = 1;
			continue;
		}
		dst[out++] = src[i];
		if (++code == 0xff) {
			dst[code_at] = code;
			code_at = out++;
			code = 1;
		}
	}
	dst[code_at] = code;
	return out;
}

/* CRC-32 of IEEE 802.3 (reflected, 0xEDB88320, as zlib's crc32()) */
static guint32
usbsim_cobs_crc32(const guint8 *buf, gsize len)
{
	guint32 crc = 0xffffffff;
	for (gsize i = 0; i < len; i++) {
		crc ^= buf[i];
		for (guint b = 0; b < 8; b++)
			crc = (crc >> 1) ^ (0xedb88320 & (0u - (crc & 1)));
	}
	return crc ^ 0xffffffff;
}

/* ---- the firmware ---- */

static void
usbsim_cobs_set_reply(UsbsimCobs *self, const guint8 *payload, gsize payload_len)
{
	UsbsimCobsReply *reply = &self->fw_reply;
	reply->bytes[0] = USBSIM_COBS_CONTROL_ACK;
	reply->len = 1;
	if (payload_len > 0)
		reply->len += usbsim_cobs_encode(payload, payload_len, reply->bytes + 1);
	reply->bytes[reply->len++] = 0x00;
	self->fw_has_reply = TRUE;
}

static gint64
usbsim_cobs_erase(UsbsimCobs *self, gint64 start_us)
{
	gint64 t_us = start_us;
	guint sectors = self->config.flash_size / self->config.sector_size;

	/* the erase command carries no address: it clears the whole application flash */
	for (guint i = 0; i < sectors; i++) {
		gint64 erase_us = (gint64)(self->sector_erase_us[i] * self->config.time_scale);
		guint32 address = i * self->config.sector_size;
		memset(self->flash + address, 0xff, self->config.sector_size);
		t_us += erase_us;
		self->stats.sectors_erased++;
		usbsim_ranges_add(self->log.erased, 0, address, self->config.sector_size);
		usbsim_flash_log_event(&self->log,
				       "\"event\":\"erase\",\"address\":%u,\"size\":%u,"
				       "\"erase_ms\":%.3f,\"done_ms\":%.3f",
				       address,
				       self->config.sector_size,
				       erase_us / 1000.0,
				       usbsim_cobs_ms(self, t_us));
	}
	self->stats.erases++;
	self->stored = 0;
	return t_us - start_us;
}

/* the flash words a chunk completes are programmed; the last chunk also pads the final one */
static gint64
usbsim_cobs_program_time(UsbsimCobs *self, guint32 offset, guint32 len, gboolean last)
{
	guint32 word = self->config.word_size;
	guint words = (offset + len) / word - offset / word;
	gdouble total_us = 0;

	if (last && (offset + len) % word != 0)
		words++;
	for (guint i = 0; i < words; i++)
		total_us += g_rand_double_range(self->rand,
						self->config.program_typ_us,
						self->config.program_max_us);
	self->stats.words_programmed += words;
	self->stats.bytes_programmed += (guint64)words * word;
	return (gint64)(total_us * self->config.time_scale);
}

static gint64
usbsim_cobs_store_chunk(UsbsimCobs *self, const guint8 *data, gsize len, gboolean last)
{
	guint32 offset = self->stored;
	gboolean erased = TRUE;
	gboolean corrupted = FALSE;
	gint64 work_us;

	self->chunks_seen++;
	for (gsize i = 0; i < len; i++) {
		guint8 value = data[i];
		if (self->flash[offset + i] != 0xff)
			erased = FALSE;
		if (i == 0 && self->chunks_seen == self->config.corrupt_chunk) {
			value ^= 0x01;
			corrupted = TRUE;
			self->stats.faults_fired++;
		}
		/* NOR flash: programming only clears bits */
		self->flash[offset + i] &= value;
	}
	if (!erased)
		self->stats.writes_not_erased++;
	work_us = usbsim_cobs_program_time(self, offset, len, last);
	self->stored += len;
	self->stats.chunks++;
	if (last)
		self->stats.last_chunks++;
	self->stats.bytes_stored += len;
	usbsim_ranges_add(self->log.written, 0, offset, len);
	usbsim_flash_log_event(&self->log,
			       "\"event\":\"write\",\"address\":%u,\"length\":%" G_GSIZE_FORMAT
			       ",\"erased\":%s,\"corrupted\":%s",
			       offset,
			       len,
			       erased ? "true" : "false",
			       corrupted ? "true" : "false");
	return work_us;
}

static const gchar *
usbsim_cobs_control_name(guint8 control)
{
	switch (control) {
	case USBSIM_COBS_CONTROL_WRITE_MORE:
		return "write";
	case USBSIM_COBS_CONTROL_WRITE_LAST:
		return "write_last";
	case USBSIM_COBS_CONTROL_ERASE:
		return "erase";
	case USBSIM_COBS_CONTROL_BYE:
		return "bye";
	case USBSIM_COBS_CONTROL_VERIFY:
		return "verify";
	case USBSIM_COBS_CONTROL_VERSION:
		return "version";
	default:
		return "unknown";
	}
}

/*
 * What the firmware does with a message: *why is set when it is malformed (the seed's
 * firmware panics then). Returns the real work time, scaled.
 */
static gint64
usbsim_cobs_execute(UsbsimCobs *self,
		    const UsbsimCobsMessage *msg,
		    gint64 start_us,
		    gsize *payload_len,
		    const gchar **why)
{
	guint8 control = msg->bytes[0];
	guint8 payload[USBSIM_COBS_PACKET_MAX];

	*payload_len = 0;
	*why = NULL;
	if (msg->len < 2 || msg->bytes[msg->len - 1] != 0x00) {
		*why = "no end marker";
		return 0;
	}
	if (memchr(msg->bytes, 0x00, msg->len - 1) != NULL) {
		*why = "a zero byte before the end marker";
		return 0;
	}
	switch (control) {
	case USBSIM_COBS_CONTROL_ERASE:
	case USBSIM_COBS_CONTROL_BYE:
	case USBSIM_COBS_CONTROL_VERIFY:
	case USBSIM_COBS_CONTROL_VERSION: {
		gint64 work_us = 0;
		if ((control == USBSIM_COBS_CONTROL_VERIFY && !self->config.verify) ||
		    (control == USBSIM_COBS_CONTROL_VERSION && !self->config.version_query)) {
			*why = "unknown control byte";
			return 0;
		}
		/* no payload: nothing between the control byte and the end marker, or the COBS
		 * encoding of nothing (01), as a host that encodes every payload sends it */
		if (msg->len != 2 && (msg->len != 3 || msg->bytes[1] != 0x01)) {
			*why = "a payload on a command that takes none";
			return 0;
		}
		if (control == USBSIM_COBS_CONTROL_ERASE) {
			guint8 announce[] = {USBSIM_COBS_EXTENSION_VERSION, 0x00};
			if (self->config.verify)
				announce[1] |= USBSIM_COBS_CAP_VERIFY;
			if (self->config.version_query)
				announce[1] |= USBSIM_COBS_CAP_VERSION;
			work_us = usbsim_cobs_erase(self, start_us);
			usbsim_cobs_set_reply(self, announce, announce[1] != 0 ? 2 : 0);
		} else if (control == USBSIM_COBS_CONTROL_VERSION) {
			/* the version word of the image it holds, as the flash reads back:
			 * all ones when erased */
			guint8 answer[5] = {USBSIM_COBS_CONTROL_VERSION, 0xff, 0xff, 0xff, 0xff};
			guint32 offset = self->config.version_offset;
			if ((guint64)offset + 4 <= self->config.flash_size)
				memcpy(answer + 1, self->flash + offset, 4);
			self->stats.version_queries++;
			usbsim_cobs_set_reply(self, answer, sizeof(answer));
		} else if (control == USBSIM_COBS_CONTROL_VERIFY) {
			/* over the flash as read back, not over the messages received */
			guint32 count = self->stored;
			guint32 crc;
			gsize answer_len = 9;
			guint8 answer[10] = {USBSIM_COBS_CONTROL_VERIFY};
			/* hostile: a count beyond what it stored, with the CRC over that much of
			 * the flash (erased past the image), or one no flash holds */
			if (self->config.verify_reply == USBSIM_COBS_VERIFY_REPLY_COUNT_OVER_IMAGE)
				count = MIN(self->stored + USBSIM_COBS_PAYLOAD_MAX,
					    self->config.flash_size);
			else if (self->config.verify_reply ==
				 USBSIM_COBS_VERIFY_REPLY_COUNT_OVER_FLASH)
				count = G_MAXUINT32;
			crc = usbsim_cobs_crc32(self->flash, MIN(count, self->config.flash_size));
			for (guint i = 0; i < 4; i++) {
				answer[1 + i] = (count >> (8 * i)) & 0xff;
				answer[5 + i] = (crc >> (8 * i)) & 0xff;
			}
			if (self->config.verify_reply == USBSIM_COBS_VERIFY_REPLY_SHORT)
				answer_len = 8;
			else if (self->config.verify_reply == USBSIM_COBS_VERIFY_REPLY_LONG)
				answer[answer_len++] = 0x01;
			if (self->config.verify_reply != USBSIM_COBS_VERIFY_REPLY_RIGHT)
				self->stats.faults_fired++;
			work_us = (gint64)(self->stored / USBSIM_COBS_CRC_BYTES_PER_US *
					   self->config.time_scale);
			self->stats.verifies++;
			usbsim_cobs_set_reply(self, answer, answer_len);
		} else {
			self->stats.byes++;
			usbsim_cobs_set_reply(self, NULL, 0);
		}
		return work_us;
	}
	case USBSIM_COBS_CONTROL_WRITE_MORE:
	case USBSIM_COBS_CONTROL_WRITE_LAST: {
		gint64 work_us;
		if (!usbsim_cobs_decode(msg->bytes + 1,
					msg->len - 2,
					payload,
					sizeof(payload),
					payload_len)) {
			*why = "broken COBS";
			return 0;
		}
		if (*payload_len == 0 || *payload_len > USBSIM_COBS_PAYLOAD_MAX) {
			*why = "a chunk of 0 or more than 61 bytes";
			return 0;
		}
		if ((guint64)self->stored + *payload_len > self->config.flash_size) {
			*why = "a chunk past the end of the flash";
			return 0;
		}
		work_us = usbsim_cobs_store_chunk(self,
						  payload,
						  *payload_len,
						  control == USBSIM_COBS_CONTROL_WRITE_LAST);
		usbsim_cobs_set_reply(self, NULL, 0);
		return work_us;
	}
	default:
		*why = "unknown control byte";
		return 0;
	}
}

/* the misbehaviour switched on for this message, if any, applied to its reply */
static const gchar *
usbsim_cobs_misbehave(UsbsimCobs *self, guint index, gint64 *late_us)
{
	UsbsimCobsReply *reply = &self->fw_reply;

	*late_us = 0;
	if (self->config.no_ack_always || index == self->config.no_ack_message) {
		self->fw_has_reply = FALSE;
		self->stats.faults_fired++;
		return "no-ack";
	}
	if (index == self->config.wrong_ack_message) {
		reply->bytes[0] = self->config.wrong_ack_byte;
		reply->bytes[1] = 0x00;
		reply->len = 2;
		self->stats.faults_fired++;
		return "wrong-ack";
	}
	if (index == self->config.garbage_message) {
		/* a code byte that runs past the end marker */
		const guint8 garbage[] = {USBSIM_COBS_CONTROL_ACK, 0x07, 0xde, 0xad, 0x00};
		memcpy(reply->bytes, garbage, sizeof(garbage));
		reply->len = sizeof(garbage);
		self->stats.faults_fired++;
		return "garbage";
	}
	if (index == self->config.late_ack_message) {
		*late_us = (gint64)self->config.late_ack_ms * 1000;
		self->stats.faults_fired++;
		return "late-ack";
	}
	return "ack";
}

/* the firmware takes the message in the receive buffer, which frees at once */
static void
usbsim_cobs_start(UsbsimCobs *self, gint64 start_us)
{
	UsbsimCobsMessage msg = self->rx;
	UsbsimCobsServed served = {.wire_len = msg.len};
	const gchar *why = NULL;
	const gchar *outcome;
	const gchar *name = usbsim_cobs_control_name(msg.bytes[0]);
	gsize payload_len = 0;
	gint64 late_us = 0;
	gint64 work_us;

	self->rx_full = FALSE;
	self->rx_free_since_us = start_us;
	/* idle: the firmware was done and the buffer empty until the host's transfer began */
	if (self->fw_idle_since_us >= 0 && msg.accept_us > self->fw_idle_since_us)
		self->stats.host_idle_us += msg.accept_us - self->fw_idle_since_us;
	self->fw_has_reply = FALSE;

	if (self->state == USBSIM_COBS_STATE_LEFT) {
		usbsim_cobs_count(self, "after_bye");
		usbsim_flash_log_event(&self->log,
				       "\"event\":\"message\",\"index\":%u,\"control\":%u,"
				       "\"name\":\"%s\",\"wire_length\":%" G_GSIZE_FORMAT
				       ",\"outcome\":\"ignored-after-bye\",\"arrival_ms\":%.3f",
				       msg.index,
				       msg.bytes[0],
				       name,
				       msg.len,
				       usbsim_cobs_ms(self, msg.arrival_us));
		self->fw_idle_since_us = start_us;
		return;
	}

	self->stats.messages++;
	self->fw_index = msg.index;
	work_us = usbsim_cobs_execute(self, &msg, start_us, &payload_len, &why);
	if (why != NULL) {
		/* the seed's firmware stops: it answers nothing and takes nothing more */
		self->state = USBSIM_COBS_STATE_PANICKED;
		self->stats.panicked = TRUE;
		self->fw_busy = TRUE;
		self->fw_done_us = USBSIM_COBS_NEVER;
		usbsim_cobs_count(self, "malformed");
		usbsim_flash_log_event(&self->log,
				       "\"event\":\"message\",\"index\":%u,\"control\":%u,"
				       "\"name\":\"%s\",\"wire_length\":%" G_GSIZE_FORMAT
				       ",\"outcome\":\"panic\",\"why\":\"%s\",\"arrival_ms\":%.3f,"
				       "\"start_ms\":%.3f",
				       msg.index,
				       msg.bytes[0],
				       name,
				       msg.len,
				       why,
				       usbsim_cobs_ms(self, msg.arrival_us),
				       usbsim_cobs_ms(self, start_us));
		usbsim_flash_log_event(&self->log,
				       "\"event\":\"panic\",\"index\":%u,\"why\":\"%s\"",
				       msg.index,
				       why);
		return;
	}
	usbsim_cobs_count(self, name);
	outcome = usbsim_cobs_misbehave(self, msg.index, &late_us);
	/* a bootloader that answers bye with anything but ACK refuses to start the image */
	if (msg.bytes[0] == USBSIM_COBS_CONTROL_BYE && g_strcmp0(outcome, "wrong-ack") != 0 &&
	    g_strcmp0(outcome, "garbage") != 0) {
		self->state = USBSIM_COBS_STATE_LEFT;
		self->stats.left = TRUE;
		if (self->config.after_bye != USBSIM_COBS_AFTER_BYE_STAY) {
			self->reset_at_us =
			    start_us + work_us + late_us +
			    MAX(1000,
				(gint64)(USBSIM_COBS_RESET_DELAY_US * self->config.time_scale));
		}
	}
	served.work_us = work_us;
	served.reply_len = self->fw_has_reply ? self->fw_reply.len : 0;
	g_array_append_val(self->served, served);
	self->stats.busy_us += work_us;
	self->fw_busy = TRUE;
	self->fw_done_us = start_us + work_us + late_us;
	usbsim_flash_log_event(&self->log,
			       "\"event\":\"message\",\"index\":%u,\"control\":%u,\"name\":\"%s\","
			       "\"wire_length\":%" G_GSIZE_FORMAT
			       ",\"payload_length\":%" G_GSIZE_FORMAT
			       ",\"outcome\":\"%s\",\"arrival_ms\":%.3f,\"start_ms\":%.3f,"
			       "\"done_ms\":%.3f",
			       msg.index,
			       msg.bytes[0],
			       name,
			       msg.len,
			       payload_len,
			       outcome,
			       usbsim_cobs_ms(self, msg.arrival_us),
			       usbsim_cobs_ms(self, start_us),
			       usbsim_cobs_ms(self, self->fw_done_us));
}

/* the firmware's reply goes into the IN path at t_us */
static void
usbsim_cobs_queue_reply(UsbsimCobs *self, gint64 t_us)
{
	UsbsimCobsReply *reply = g_memdup2(&self->fw_reply, sizeof(*reply));
	reply->ready_us = t_us;
	g_queue_push_tail(&self->replies, reply);
	self->stats.acks++;
	self->replied_through = self->fw_index;
	if (self->config.garbage_stream && self->fw_index == self->config.garbage_stream_from)
		self->garbage_since_us = t_us;
	if (self->config.ack_stream && self->fw_index == self->config.ack_stream_from)
		self->ack_stream_since_us = t_us;
	/* hostile: the same reply written again, or ACKs answering no message */
	if (self->fw_index == self->config.double_ack_message) {
		UsbsimCobsReply *again = g_memdup2(reply, sizeof(*reply));
		g_queue_push_tail(&self->replies, again);
		self->stats.extra_replies++;
		self->stats.faults_fired++;
	}
	if (self->config.unsolicited_ack && self->config.unsolicited_ack_after > 0 &&
	    self->fw_index == self->config.unsolicited_ack_after) {
		for (guint i = 0; i < self->config.unsolicited_ack_count; i++)
			usbsim_cobs_push_ack(self, t_us);
		self->stats.faults_fired++;
	}
	self->fw_has_reply = FALSE;
	self->fw_blocked = FALSE;
	self->fw_busy = FALSE;
	self->fw_idle_since_us = t_us;
}

/* runs the device's timeline up to now */
static void
usbsim_cobs_advance(UsbsimCobs *self, gint64 now_us)
{
	self->now_us = MAX(self->now_us, now_us);
	for (;;) {
		if (self->fw_busy) {
			if (self->fw_blocked || self->fw_done_us > now_us)
				return;
			/* one reply at a time in the IN buffer: the firmware waits until the host
			 * has taken the one before (usbsim_cobs_bulk_in releases it) */
			if (self->fw_has_reply && self->config.ack_mode == USBSIM_COBS_ACK_EACH &&
			    !g_queue_is_empty(&self->replies)) {
				self->fw_blocked = TRUE;
				return;
			}
			if (self->fw_has_reply) {
				usbsim_cobs_queue_reply(self, self->fw_done_us);
			} else {
				self->fw_busy = FALSE;
				self->fw_idle_since_us = self->fw_done_us;
			}
		}
		if (!self->rx_full || self->rx.arrival_us > now_us)
			return;
		usbsim_cobs_start(self, MAX(self->rx.arrival_us, self->fw_idle_since_us));
	}
}

/* when a transfer that waits on the firmware may go: for a firmware waiting on the IN
 * buffer, when the reply in it could be taken at the earliest */
static gint64
usbsim_cobs_fw_free_us(UsbsimCobs *self)
{
	UsbsimCobsReply *head = g_queue_peek_head(&self->replies);
	if (self->fw_blocked && head != NULL)
		return MAX(head->ready_us, self->in_pipe_free_us) +
		       usbsim_cobs_bus_us(self, head->len);
	return self->fw_done_us;
}

static gint64
usbsim_cobs_bulk_out(gpointer model,
		     guint8 endpoint,
		     const guint8 *buf,
		     gsize bufsz,
		     gint64 submit_us,
		     gint64 now_us,
		     gint64 *retry_us)
{
	UsbsimCobs *self = model;
	UsbsimCobsMessage *msg = &self->rx;
	gint64 bus_us;

	usbsim_cobs_advance(self, now_us);
	*retry_us = USBSIM_COBS_NEVER;
	/* an application has no bootloader on these endpoints */
	if (self->state == USBSIM_COBS_STATE_GONE || self->state == USBSIM_COBS_STATE_APP)
		return -1;
	if (self->rx_full) {
		/* NAK until the firmware starts on the message in the buffer */
		if (self->fw_busy)
			*retry_us = usbsim_cobs_fw_free_us(self);
		else
			*retry_us = self->rx.arrival_us;
		return -1;
	}
	if (self->config.disconnect_after > 0 &&
	    self->messages_received == self->config.disconnect_after) {
		self->state = USBSIM_COBS_STATE_GONE;
		self->stats.unplugged = TRUE;
		self->stats.faults_fired++;
		usbsim_flash_log_event(&self->log,
				       "\"event\":\"disconnect\",\"after_messages\":%u",
				       self->messages_received);
		return -1;
	}
	memset(msg, 0, sizeof(*msg));
	msg->len = MIN(bufsz, sizeof(msg->bytes));
	if (buf != NULL)
		memcpy(msg->bytes, buf, msg->len);
	if (bufsz > sizeof(msg->bytes))
		msg->len = sizeof(msg->bytes) + 1; /* longer than a packet: malformed */
	msg->index = ++self->messages_received;
	msg->accept_us = MAX(submit_us, MAX(self->rx_free_since_us, self->out_pipe_free_us));
	bus_us = usbsim_cobs_bus_us(self, bufsz);
	msg->arrival_us = msg->accept_us + bus_us;
	self->out_pipe_free_us = msg->arrival_us;
	self->stats.bus_us += bus_us;
	self->rx_full = TRUE;
	usbsim_cobs_advance(self, now_us);
	return msg->arrival_us;
}

/* the garbage stream is on for an IN transfer starting at start_us: from the reply to its
 * message on, or from power-on */
static gboolean
usbsim_cobs_garbage_on(UsbsimCobs *self, gint64 start_us)
{
	return self->config.garbage_stream &&
	       self->replied_through >= self->config.garbage_stream_from &&
	       start_us >= self->garbage_since_us;
}

static gboolean
usbsim_cobs_streaming(UsbsimCobs *self, gint64 start_us)
{
	if (usbsim_cobs_garbage_on(self, start_us))
		return TRUE;
	return self->config.ack_stream && self->replied_through >= self->config.ack_stream_from &&
	       start_us >= self->ack_stream_since_us;
}

/* an IN transfer of the stream, when no reply is waiting: an ACK, or a packet of bytes
 * without an end marker */
static gssize
usbsim_cobs_bulk_in_stream(UsbsimCobs *self,
			   guint8 *buf,
			   gsize bufsz,
			   gint64 submit_us,
			   gint64 now_us,
			   gint64 *retry_us)
{
	gint64 start_us = MAX(submit_us, self->in_pipe_free_us);
	gboolean garbage = usbsim_cobs_garbage_on(self, start_us);
	gsize len = MIN(garbage ? USBSIM_COBS_PACKET_MAX : 2, bufsz);
	gint64 bus_us = usbsim_cobs_bus_us(self, len);
	gint64 done_us = start_us + bus_us;

	if (done_us > now_us) {
		*retry_us = done_us;
		return -1;
	}
	for (gsize i = 0; i < len && buf != NULL; i++) {
		if (garbage)
			buf[i] = (guint8)g_rand_int_range(self->garbage_rand, 1, 256);
		else
			buf[i] = i == 0 ? USBSIM_COBS_CONTROL_ACK : 0x00;
	}
	self->in_pipe_free_us = done_us;
	self->stats.bus_us += bus_us;
	self->stats.stream_transfers++;
	return len;
}

static gssize
usbsim_cobs_bulk_in(gpointer model,
		    guint8 endpoint,
		    guint8 *buf,
		    gsize bufsz,
		    gint64 submit_us,
		    gint64 now_us,
		    gint64 *retry_us)
{
	UsbsimCobs *self = model;
	UsbsimCobsReply *reply;
	gint64 start_us;
	gint64 done_us;
	gint64 bus_us;
	gsize len = 0;
	guint count = 0;

	usbsim_cobs_advance(self, now_us);
	*retry_us = USBSIM_COBS_NEVER;
	/* the notification endpoint never has anything to say */
	if (endpoint != USBSIM_COBS_EP_IN || self->state == USBSIM_COBS_STATE_GONE ||
	    self->state == USBSIM_COBS_STATE_APP)
		return -1;
	reply = g_queue_peek_head(&self->replies);
	/* a stream fills the pipe whenever no reply is waiting */
	if (usbsim_cobs_streaming(self, MAX(submit_us, self->in_pipe_free_us)) &&
	    (reply == NULL || reply->ready_us > MAX(submit_us, self->in_pipe_free_us)))
		return usbsim_cobs_bulk_in_stream(self, buf, bufsz, submit_us, now_us, retry_us);
	if (reply == NULL) {
		if (self->fw_busy && self->fw_done_us != USBSIM_COBS_NEVER)
			*retry_us = self->fw_done_us + usbsim_cobs_bus_us(self, 2);
		else if (self->rx_full)
			*retry_us = self->rx.arrival_us;
		return -1;
	}
	/* the packet holds what is waiting when the transfer starts: one reply, or with
	 * packing every reply written by then that fits */
	start_us = MAX(submit_us, MAX(reply->ready_us, self->in_pipe_free_us));
	for (GList *l = self->replies.head; l != NULL; l = l->next) {
		UsbsimCobsReply *r = l->data;
		if (count > 0 &&
		    (self->config.ack_mode == USBSIM_COBS_ACK_EACH || r->ready_us > start_us ||
		     len + r->len > USBSIM_COBS_PACKET_MAX || len + r->len > bufsz))
			break;
		len += r->len;
		count++;
	}
	/* hostile: one byte of the reply an IN transfer */
	if (self->config.split_replies)
		len = 1;
	bus_us = usbsim_cobs_bus_us(self, len);
	done_us = start_us + bus_us;
	if (done_us > now_us) {
		*retry_us = done_us;
		return -1;
	}
	self->in_pipe_free_us = done_us;
	self->stats.bus_us += bus_us;
	self->stats.reply_transfers++;
	if (self->config.split_replies) {
		if (buf != NULL && bufsz > 0)
			buf[0] = reply->bytes[self->reply_offset];
		if (++self->reply_offset < reply->len)
			return 1;
		self->reply_offset = 0;
		g_free(g_queue_pop_head(&self->replies));
		self->stats.replies_taken++;
		if (self->fw_blocked) {
			usbsim_cobs_queue_reply(self, MAX(done_us, self->fw_done_us));
			usbsim_cobs_advance(self, now_us);
		}
		return 1;
	}
	len = 0;
	for (guint i = 0; i < count; i++) {
		g_autofree UsbsimCobsReply *r = g_queue_pop_head(&self->replies);
		gsize n = MIN(r->len, bufsz - len);
		if (buf != NULL)
			memcpy(buf + len, r->bytes, n);
		len += n;
		self->stats.replies_taken++;
	}
	/* the IN buffer is free: a firmware waiting on it writes its reply and goes on */
	if (self->fw_blocked) {
		usbsim_cobs_queue_reply(self, MAX(done_us, self->fw_done_us));
		usbsim_cobs_advance(self, now_us);
	}
	return len;
}

static gboolean
usbsim_cobs_unplugged(gpointer model)
{
	UsbsimCobs *self = model;
	return self->state == USBSIM_COBS_STATE_GONE;
}

/* the communication interface's CDC requests: line coding and control lines, nothing more */
static void
usbsim_cobs_control(gpointer model,
		    const UsbsimSetup *setup,
		    const guint8 *data_out,
		    gint64 now_us,
		    UsbsimReply *reply)
{
	UsbsimCobs *self = model;

	usbsim_cobs_advance(self, now_us);
	usbsim_cdc_acm_control(self->line_coding, setup, data_out, reply);
}

/* a port reset does not restart the bootloader's protocol state */
static gboolean
usbsim_cobs_usb_reset(gpointer model, gint64 now_us)
{
	usbsim_cobs_advance(model, now_us);
	return FALSE;
}

/* the reset after bye: the device leaves the bus when it is due */
static gboolean
usbsim_cobs_pending_reenumeration(gpointer model, gint64 *delay_us)
{
	UsbsimCobs *self = model;
	if (self->reset_at_us == USBSIM_COBS_NEVER)
		return FALSE;
	*delay_us = MAX(0, self->reset_at_us - self->now_us);
	return TRUE;
}

static void
usbsim_cobs_reenumerate(gpointer model, gint64 now_us)
{
	UsbsimCobs *self = model;
	const gchar *into = "bootloader";

	if (self->reset_at_us == USBSIM_COBS_NEVER)
		return;
	usbsim_cobs_advance(self, now_us);
	self->reset_at_us = USBSIM_COBS_NEVER;
	self->stats.resets++;
	/* a reset loses whatever the USB stack and the firmware held */
	g_queue_clear_full(&self->replies, g_free);
	self->rx_full = FALSE;
	self->fw_busy = FALSE;
	self->fw_blocked = FALSE;
	self->fw_has_reply = FALSE;
	switch (self->config.after_bye) {
	case USBSIM_COBS_AFTER_BYE_BOOTLOADER:
		self->state = USBSIM_COBS_STATE_READY;
		self->stored = 0;
		break;
	case USBSIM_COBS_AFTER_BYE_APP:
		self->state = USBSIM_COBS_STATE_APP;
		into = "application";
		break;
	default:
		self->state = USBSIM_COBS_STATE_GONE;
		self->stats.unplugged = TRUE;
		into = "application without USB";
		break;
	}
	usbsim_flash_log_event(&self->log, "\"event\":\"reset\",\"into\":\"%s\"", into);
}

static UsbsimDescription *
usbsim_cobs_describe(gpointer model)
{
	UsbsimCobs *self = model;
	UsbsimDescription *desc;
	UsbsimInterface *iface;
	UsbsimAltSetting *alt;
	/* CDC 1.2 functional descriptors: header 1.10, call management (no call handling
	 * over the data interface), ACM (line coding and serial state), union 0 -> 1 */
	const guint8 functional[] = {0x05,
				     0x24,
				     0x00,
				     0x10,
				     0x01,
				     0x05,
				     0x24,
				     0x01,
				     0x00,
				     0x01,
				     0x04,
				     0x24,
				     0x02,
				     0x02,
				     0x05,
				     0x24,
				     0x06,
				     0x00,
				     0x01};

	/* the application: a vendor-specific function, no CDC and no bootloader */
	if (self->state == USBSIM_COBS_STATE_APP) {
		desc = usbsim_description_new(self->config.vid,
					      self->config.app_pid,
					      self->config.bcd_device);
		iface = usbsim_description_add_interface(desc);
		alt = usbsim_interface_add_alt(iface, 0xff, 0x00, 0x00, NULL);
		usbsim_alt_add_endpoint(alt, USBSIM_COBS_EP_OUT, 0x02, USBSIM_COBS_PACKET_MAX);
		usbsim_alt_add_endpoint(alt, USBSIM_COBS_EP_IN, 0x02, USBSIM_COBS_PACKET_MAX);
		desc->manufacturer = g_strdup("usbsim");
		desc->product = g_strdup("usbsim STM32H7 application");
		desc->serial = g_strdup(self->config.serial);
		usbsim_description_build(desc);
		return desc;
	}
	desc = usbsim_description_new(self->config.vid, self->config.pid, self->config.bcd_device);
	desc->device_class = 0x02; /* CDC */
	iface = usbsim_description_add_interface(desc);
	alt = usbsim_interface_add_alt(iface, 0x02, 0x02, 0x01, NULL);
	g_byte_array_append(alt->extra, functional, sizeof(functional));
	usbsim_alt_add_endpoint(alt, USBSIM_COBS_EP_NOTIFY, 0x03, 8);
	g_array_index(alt->endpoints, UsbsimEndpoint, 0).interval = 16;
	iface = usbsim_description_add_interface(desc);
	alt = usbsim_interface_add_alt(iface, 0x0a, 0x00, 0x00, NULL);
	usbsim_alt_add_endpoint(alt, USBSIM_COBS_EP_OUT, 0x02, USBSIM_COBS_PACKET_MAX);
	usbsim_alt_add_endpoint(alt, USBSIM_COBS_EP_IN, 0x02, USBSIM_COBS_PACKET_MAX);
	desc->manufacturer = g_strdup("usbsim");
	desc->product = g_strdup("usbsim STM32H7 COBS bootloader");
	desc->serial = g_strdup(self->config.serial);
	usbsim_description_build(desc);
	return desc;
}

static gint64
usbsim_cobs_busy_until(gpointer model)
{
	UsbsimCobs *self = model;
	return self->fw_busy ? self->fw_done_us : 0;
}

const gchar *
usbsim_cobs_get_state_name(UsbsimCobs *self)
{
	switch (self->state) {
	case USBSIM_COBS_STATE_READY:
		return "bootloader";
	case USBSIM_COBS_STATE_PANICKED:
		return "panicked";
	case USBSIM_COBS_STATE_LEFT:
		return "left";
	case USBSIM_COBS_STATE_APP:
		return "application";
	default:
		return "gone";
	}
}

static const gchar *
usbsim_cobs_mode_name(gpointer model)
{
	return usbsim_cobs_get_state_name(model);
}

static gint
usbsim_cobs_state(gpointer model)
{
	UsbsimCobs *self = model;
	return self->state;
}

static GPtrArray *
usbsim_cobs_take_events(gpointer model)
{
	UsbsimCobs *self = model;
	return usbsim_flash_log_take_events(&self->log);
}

static const UsbsimModelOps usbsim_cobs_model_ops = {
    .control = usbsim_cobs_control,
    .usb_reset = usbsim_cobs_usb_reset,
    .pending_reenumeration = usbsim_cobs_pending_reenumeration,
    .reenumerate = usbsim_cobs_reenumerate,
    .describe = usbsim_cobs_describe,
    .busy_until = usbsim_cobs_busy_until,
    .mode_name = usbsim_cobs_mode_name,
    .state = usbsim_cobs_state,
    .take_events = usbsim_cobs_take_events,
    .bulk_out = usbsim_cobs_bulk_out,
    .bulk_in = usbsim_cobs_bulk_in,
    .unplugged = usbsim_cobs_unplugged,
};

const UsbsimModelOps *
usbsim_cobs_ops(void)
{
	return &usbsim_cobs_model_ops;
}

GBytes *
usbsim_cobs_get_flash(UsbsimCobs *self)
{
	return g_bytes_new(self->flash, self->config.flash_size);
}

const UsbsimCobsStats *
usbsim_cobs_get_stats(UsbsimCobs *self)
{
	return &self->stats;
}

const UsbsimFlashLog *
usbsim_cobs_get_flash_log(UsbsimCobs *self)
{
	return &self->log;
}

void
usbsim_cobs_get_limits(UsbsimCobs *self, gdouble *physical_ms, gdouble *stop_and_wait_ms)
{
	gdouble scale = self->config.time_scale;
	gdouble out_free = 0;
	gdouble rx_free = 0;
	gdouble fw_free = 0;
	gdouble in_free = 0;
	gdouble end = 0;
	gdouble serial = 0;
	g_autoptr(GArray) ready = g_array_new(FALSE, FALSE, sizeof(gdouble));
	g_autoptr(GArray) lens = g_array_new(FALSE, FALSE, sizeof(gsize));

	/* a host that has every message queued and an IN transfer always waiting: each message
	 * crosses the bus once the buffer is free, the firmware starts on it when it is there
	 * and done with the one before; a reply leaves as the device's IN rules allow */
	for (guint i = 0; i < self->served->len; i++) {
		UsbsimCobsServed *m = &g_array_index(self->served, UsbsimCobsServed, i);
		gdouble bus = usbsim_bulk_cost_us(m->wire_len) * scale;
		gdouble reply = m->reply_len > 0 ? usbsim_bulk_cost_us(m->reply_len) * scale : 0;
		gdouble arrival = MAX(out_free, rx_free) + bus;
		gdouble start = MAX(arrival, fw_free);
		gdouble done = start + m->work_us;

		out_free = arrival;
		rx_free = start;
		fw_free = done;
		end = MAX(end, done);
		serial += bus + m->work_us + reply;
		if (m->reply_len == 0)
			continue;
		if (self->config.ack_mode == USBSIM_COBS_ACK_EACH) {
			/* the reply waits for the one before to leave the IN buffer, and so does
			 * the firmware */
			gdouble written = MAX(done, in_free);
			fw_free = written;
			in_free = written + reply;
			end = MAX(end, in_free);
		} else {
			g_array_append_val(ready, done);
			g_array_append_val(lens, m->reply_len);
		}
	}
	/* packed: a transfer takes every reply written by the time it starts, up to a packet */
	for (guint i = 0; i < ready->len;) {
		gdouble start = MAX(in_free, g_array_index(ready, gdouble, i));
		gsize len = 0;
		while (i < ready->len && g_array_index(ready, gdouble, i) <= start &&
		       len + g_array_index(lens, gsize, i) <= USBSIM_COBS_PACKET_MAX) {
			len += g_array_index(lens, gsize, i);
			i++;
		}
		in_free = start + usbsim_bulk_cost_us(len) * scale;
		end = MAX(end, in_free);
	}
	*physical_ms = end / 1000.0;
	*stop_and_wait_ms = serial / 1000.0;
}

void
usbsim_cobs_append_summary(UsbsimCobs *self, GString *str)
{
	g_autoptr(GList) names =
	    g_list_sort(g_hash_table_get_keys(self->counts), (GCompareFunc)g_strcmp0);
	gdouble physical_ms = 0;
	gdouble stop_and_wait_ms = 0;

	usbsim_cobs_get_limits(self, &physical_ms, &stop_and_wait_ms);
	g_string_append(str, ",\"messages_by_name\":{");
	for (GList *l = names; l != NULL; l = l->next) {
		g_string_append_printf(
		    str,
		    "%s\"%s\":%u",
		    l == names ? "" : ",",
		    (const gchar *)l->data,
		    GPOINTER_TO_UINT(g_hash_table_lookup(self->counts, l->data)));
	}
	g_string_append_printf(
	    str,
	    "},\"messages_received\":%u,\"messages\":%u,\"erase_commands\":%u"
	    ",\"chunks\":%u,\"last_chunks\":%u,\"verifies\":%u,\"byes\":%u"
	    ",\"replies\":%u,\"replies_taken\":%u,\"bytes_stored\":%" G_GUINT64_FORMAT
	    ",\"words_programmed\":%u,\"panicked\":%s,\"verify_extension\":%s"
	    ",\"flash_size\":%u,\"limit_stop_and_wait_ms\":%.3f,\"version_queries\":%u"
	    ",\"version_extension\":%s,\"resets\":%u,\"reply_transfers\":%u,\"after_bye\":\"%s\","
	    "\"ack_mode\":\"%s\",\"extra_replies\":%u,\"stream_transfers\":%u,"
	    "\"split_replies\":%s",
	    self->messages_received,
	    self->stats.messages,
	    self->stats.erases,
	    self->stats.chunks,
	    self->stats.last_chunks,
	    self->stats.verifies,
	    self->stats.byes,
	    self->stats.acks,
	    self->stats.replies_taken,
	    self->stats.bytes_stored,
	    self->stats.words_programmed,
	    self->stats.panicked ? "true" : "false",
	    self->config.verify ? "true" : "false",
	    self->config.flash_size,
	    stop_and_wait_ms,
	    self->stats.version_queries,
	    self->config.version_query ? "true" : "false",
	    self->stats.resets,
	    self->stats.reply_transfers,
	    usbsim_cobs_after_bye_names[self->config.after_bye],
	    self->config.ack_mode == USBSIM_COBS_ACK_PACK ? "pack" : "each",
	    self->stats.extra_replies,
	    self->stats.stream_transfers,
	    self->config.split_replies ? "true" : "false");
}

/* ---- command line ---- */

static gboolean
usbsim_cobs_parse_uint(const gchar *str, guint64 min, guint64 max, guint64 *value)
{
	gboolean hex = g_str_has_prefix(str, "0x") || g_str_has_prefix(str, "0X");
	return g_ascii_string_to_unsigned(hex ? str + 2 : str,
					  hex ? 16 : 10,
					  min,
					  max,
					  value,
					  NULL);
}

/* the refusal of an option's text */
static gboolean
usbsim_cobs_invalid(const gchar *what, const gchar *str, GError **error)
{
	g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "invalid %s '%s'", what, str);
	return FALSE;
}

/* a message index from index_min on, optionally followed by :VALUE */
static gboolean
usbsim_cobs_parse_index_min(const gchar *str,
			    const gchar *what,
			    guint64 index_min,
			    guint *index,
			    guint64 value_max,
			    guint64 *value,
			    gboolean value_required,
			    GError **error)
{
	g_auto(GStrv) parts = g_strsplit(str, ":", 2);
	guint64 tmp = 0;

	if (!usbsim_cobs_parse_uint(parts[0], index_min, G_MAXUINT32, &tmp) ||
	    (parts[1] == NULL && value_required) || (parts[1] != NULL && value == NULL) ||
	    (parts[1] != NULL && !usbsim_cobs_parse_uint(parts[1], 0, value_max, value)))
		return usbsim_cobs_invalid(what, str, error);
	*index = tmp;
	return TRUE;
}

/* a message index (1-based), optionally followed by :VALUE */
static gboolean
usbsim_cobs_parse_index(const gchar *str,
			const gchar *what,
			guint *index,
			guint64 value_max,
			guint64 *value,
			gboolean value_required,
			GError **error)
{
	return usbsim_cobs_parse_index_min(str,
					   what,
					   1,
					   index,
					   value_max,
					   value,
					   value_required,
					   error);
}

/* a number up to @max */
static gboolean
usbsim_cobs_parse_number(const gchar *str,
			 const gchar *what,
			 guint64 max,
			 guint32 *value,
			 GError **error)
{
	guint64 tmp = 0;

	if (!usbsim_cobs_parse_uint(str, 0, max, &tmp))
		return usbsim_cobs_invalid(what, str, error);
	*value = tmp;
	return TRUE;
}

typedef struct UsbsimCobsOptionSpec UsbsimCobsOptionSpec;

/* applies an option that was given to @config; @what is the name its errors use */
typedef gboolean (*UsbsimCobsOptionApply)(const UsbsimCobsOptionSpec *spec,
					  const UsbsimCobsOptionValue *value,
					  const gchar *what,
					  UsbsimCobsConfig *config,
					  GError **error);

/* an option of the stm32h7-cobs profile: its GOption entry (whose arg_data is its value in
 * UsbsimCobsOptions), how it is applied, and what that takes: the field of UsbsimCobsConfig it
 * lands in, the gboolean it turns on, the maximum of a number, the choices of a choice and the
 * message refusing any other text, the name its errors use when not --LONG-NAME */
struct UsbsimCobsOptionSpec {
	GOptionEntry entry;
	UsbsimCobsOptionApply apply;
	gsize field;
	gsize field_size;
	gsize on;
	guint64 max;
	const gchar *const *choices;
	guint n_choices;
	const gchar *refused;
	const gchar *what;
};

static gpointer
usbsim_cobs_config_field(UsbsimCobsConfig *config, gsize offset)
{
	return (guint8 *)config + offset;
}

/* a number up to the maximum, into a guint16 or a guint32 */
static gboolean
usbsim_cobs_apply_number(const UsbsimCobsOptionSpec *spec,
			 const UsbsimCobsOptionValue *value,
			 const gchar *what,
			 UsbsimCobsConfig *config,
			 GError **error)
{
	gpointer field = usbsim_cobs_config_field(config, spec->field);
	guint32 number = 0;

	if (!usbsim_cobs_parse_number(value->text, what, spec->max, &number, error))
		return FALSE;
	if (spec->field_size == sizeof(guint16))
		*(guint16 *)field = number;
	else
		*(guint32 *)field = number;
	return TRUE;
}

/* one of the choices, its index stored into an enum or a gboolean; a NULL name is no choice */
static gboolean
usbsim_cobs_apply_choice(const UsbsimCobsOptionSpec *spec,
			 const UsbsimCobsOptionValue *value,
			 const gchar *what,
			 UsbsimCobsConfig *config,
			 GError **error)
{
	for (guint i = 0; i < spec->n_choices; i++) {
		if (spec->choices[i] != NULL && g_strcmp0(value->text, spec->choices[i]) == 0) {
			*(gint *)usbsim_cobs_config_field(config, spec->field) = i;
			return TRUE;
		}
	}
	g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, spec->refused);
	return FALSE;
}

/* a message index (1-based) on its own */
static gboolean
usbsim_cobs_apply_message(const UsbsimCobsOptionSpec *spec,
			  const UsbsimCobsOptionValue *value,
			  const gchar *what,
			  UsbsimCobsConfig *config,
			  GError **error)
{
	return usbsim_cobs_parse_index(value->text,
				       what,
				       usbsim_cobs_config_field(config, spec->field),
				       0,
				       NULL,
				       FALSE,
				       error);
}

/* a message index (1-based), or "always", which turns on the option's gboolean */
static gboolean
usbsim_cobs_apply_message_or_always(const UsbsimCobsOptionSpec *spec,
				    const UsbsimCobsOptionValue *value,
				    const gchar *what,
				    UsbsimCobsConfig *config,
				    GError **error)
{
	if (g_strcmp0(value->text, "always") == 0) {
		*(gboolean *)usbsim_cobs_config_field(config, spec->on) = TRUE;
		return TRUE;
	}
	return usbsim_cobs_apply_message(spec, value, what, config, error);
}

/* a message index from 0 (power-on) on, from which the option's gboolean is on */
static gboolean
usbsim_cobs_apply_from(const UsbsimCobsOptionSpec *spec,
		       const UsbsimCobsOptionValue *value,
		       const gchar *what,
		       UsbsimCobsConfig *config,
		       GError **error)
{
	if (!usbsim_cobs_parse_index_min(value->text,
					 what,
					 0,
					 usbsim_cobs_config_field(config, spec->field),
					 0,
					 NULL,
					 FALSE,
					 error))
		return FALSE;
	*(gboolean *)usbsim_cobs_config_field(config, spec->on) = TRUE;
	return TRUE;
}

/* a flag given: its gboolean is on */
static gboolean
usbsim_cobs_apply_flag(const UsbsimCobsOptionSpec *spec,
		       const UsbsimCobsOptionValue *value,
		       const gchar *what,
		       UsbsimCobsConfig *config,
		       GError **error)
{
	*(gboolean *)usbsim_cobs_config_field(config, spec->field) = TRUE;
	return TRUE;
}

/* N[:0xBB]: the byte defaults to the config's */
static gboolean
usbsim_cobs_apply_wrong_ack(const UsbsimCobsOptionSpec *spec,
			    const UsbsimCobsOptionValue *value,
			    const gchar *what,
			    UsbsimCobsConfig *config,
			    GError **error)
{
	guint64 byte = config->wrong_ack_byte;

	if (!usbsim_cobs_parse_index(value->text,
				     what,
				     &config->wrong_ack_message,
				     0xff,
				     &byte,
				     FALSE,
				     error))
		return FALSE;
	config->wrong_ack_byte = byte;
	return TRUE;
}

/* N:MS, the delay required */
static gboolean
usbsim_cobs_apply_late_ack(const UsbsimCobsOptionSpec *spec,
			   const UsbsimCobsOptionValue *value,
			   const gchar *what,
			   UsbsimCobsConfig *config,
			   GError **error)
{
	guint64 ms = 0;

	if (!usbsim_cobs_parse_index(value->text,
				     what,
				     &config->late_ack_message,
				     600000,
				     &ms,
				     TRUE,
				     error))
		return FALSE;
	config->late_ack_ms = ms;
	return TRUE;
}

/* N[:COUNT] from 0 (power-on) on, one ACK unless told */
static gboolean
usbsim_cobs_apply_unsolicited_ack(const UsbsimCobsOptionSpec *spec,
				  const UsbsimCobsOptionValue *value,
				  const gchar *what,
				  UsbsimCobsConfig *config,
				  GError **error)
{
	guint64 count = 1;

	if (!usbsim_cobs_parse_index_min(value->text,
					 what,
					 0,
					 &config->unsolicited_ack_after,
					 64,
					 &count,
					 FALSE,
					 error))
		return FALSE;
	config->unsolicited_ack = TRUE;
	config->unsolicited_ack_count = count;
	return TRUE;
}

/* the choices are stored into enums and gbooleans as a gint */
G_STATIC_ASSERT(sizeof(UsbsimCobsAfterBye) == sizeof(gint));
G_STATIC_ASSERT(sizeof(UsbsimCobsAckMode) == sizeof(gint));
G_STATIC_ASSERT(sizeof(UsbsimCobsVerifyReply) == sizeof(gint));

static const gchar *const usbsim_cobs_no_yes[] = {"no", "yes"};
static const gchar *const usbsim_cobs_ack_names[] = {
    [USBSIM_COBS_ACK_EACH] = "each",
    [USBSIM_COBS_ACK_PACK] = "pack",
};
static const gchar *const usbsim_cobs_verify_reply_names[] = {
    [USBSIM_COBS_VERIFY_REPLY_SHORT] = "short",
    [USBSIM_COBS_VERIFY_REPLY_LONG] = "long",
    [USBSIM_COBS_VERIFY_REPLY_COUNT_OVER_IMAGE] = "count-over-image",
    [USBSIM_COBS_VERIFY_REPLY_COUNT_OVER_FLASH] = "count-over-flash",
};

#define USBSIM_COBS_FIELD(member) G_STRUCT_OFFSET(UsbsimCobsConfig, member)
#define USBSIM_COBS_CHOICES(names)                                                                 \
	.apply = usbsim_cobs_apply_choice, .choices = (names), .n_choices = G_N_ELEMENTS(names)

/* in the order --help lists them, and applied in that order: the first wrong one says why */
static const UsbsimCobsOptionSpec usbsim_cobs_option_specs[] = {
    {.entry = {"pid", 0, 0, G_OPTION_ARG_STRING, NULL, "USB product ID", "0xNNNN"},
     .apply = usbsim_cobs_apply_number,
     .field = USBSIM_COBS_FIELD(pid),
     .field_size = G_SIZEOF_MEMBER(UsbsimCobsConfig, pid),
     .max = 0xffff,
     .what = "pid"},
    {.entry = {"cobs-verify",
	       0,
	       0,
	       G_OPTION_ARG_STRING,
	       NULL,
	       "The verification extension, yes or no (default no)",
	       "B"},
     USBSIM_COBS_CHOICES(usbsim_cobs_no_yes),
     .field = USBSIM_COBS_FIELD(verify),
     .refused = "--cobs-verify must be yes or no"},
    {.entry = {"cobs-version-query",
	       0,
	       0,
	       G_OPTION_ARG_STRING,
	       NULL,
	       "The version query extension, yes or no (default no)",
	       "B"},
     USBSIM_COBS_CHOICES(usbsim_cobs_no_yes),
     .field = USBSIM_COBS_FIELD(version_query),
     .refused = "--cobs-version-query must be yes or no"},
    {.entry = {"cobs-version-offset",
	       0,
	       0,
	       G_OPTION_ARG_STRING,
	       NULL,
	       "Where the version query reads the image's u32 LE version (default 0x20)",
	       "N"},
     .apply = usbsim_cobs_apply_number,
     .field = USBSIM_COBS_FIELD(version_offset),
     .field_size = G_SIZEOF_MEMBER(UsbsimCobsConfig, version_offset),
     .max = G_MAXUINT32},
    {.entry = {"cobs-after-bye",
	       0,
	       0,
	       G_OPTION_ARG_STRING,
	       NULL,
	       "After answering bye: stay (default), reset into the bootloader again, into an "
	       "application with other IDs (app), or into one without USB (gone)",
	       "stay|bootloader|app|gone"},
     USBSIM_COBS_CHOICES(usbsim_cobs_after_bye_names),
     .field = USBSIM_COBS_FIELD(after_bye),
     .refused = "--cobs-after-bye must be stay, bootloader, app or gone"},
    {.entry = {"cobs-ack",
	       0,
	       0,
	       G_OPTION_ARG_STRING,
	       NULL,
	       "Replies each in an IN transfer of its own (default), or packed when several wait",
	       "each|pack"},
     USBSIM_COBS_CHOICES(usbsim_cobs_ack_names),
     .field = USBSIM_COBS_FIELD(ack_mode),
     .refused = "--cobs-ack must be each or pack"},
    {.entry = {"cobs-no-ack",
	       0,
	       0,
	       G_OPTION_ARG_STRING,
	       NULL,
	       "Never answer the Nth message, or any",
	       "N|always"},
     .apply = usbsim_cobs_apply_message_or_always,
     .field = USBSIM_COBS_FIELD(no_ack_message),
     .on = USBSIM_COBS_FIELD(no_ack_always)},
    {.entry = {"cobs-wrong-ack",
	       0,
	       0,
	       G_OPTION_ARG_STRING,
	       NULL,
	       "Answer the Nth message with another byte (default 0x15)",
	       "N[:0xBB]"},
     .apply = usbsim_cobs_apply_wrong_ack},
    {.entry = {"cobs-late-ack",
	       0,
	       0,
	       G_OPTION_ARG_STRING,
	       NULL,
	       "Answer the Nth message MS ms late (real time)",
	       "N:MS"},
     .apply = usbsim_cobs_apply_late_ack},
    {.entry = {"cobs-garbage",
	       0,
	       0,
	       G_OPTION_ARG_STRING,
	       NULL,
	       "Answer the Nth message with a broken frame",
	       "N"},
     .apply = usbsim_cobs_apply_message,
     .field = USBSIM_COBS_FIELD(garbage_message)},
    {.entry = {"cobs-disconnect-after",
	       0,
	       0,
	       G_OPTION_ARG_STRING,
	       NULL,
	       "Leave the bus for good after N messages",
	       "N"},
     .apply = usbsim_cobs_apply_message,
     .field = USBSIM_COBS_FIELD(disconnect_after)},
    {.entry = {"cobs-corrupt-write",
	       0,
	       0,
	       G_OPTION_ARG_STRING,
	       NULL,
	       "Store one byte of the Nth write chunk wrong",
	       "N"},
     .apply = usbsim_cobs_apply_message,
     .field = USBSIM_COBS_FIELD(corrupt_chunk)},
    {.entry = {"cobs-unsolicited-ack",
	       0,
	       0,
	       G_OPTION_ARG_STRING,
	       NULL,
	       "After answering the Nth message (0: at power-on), send COUNT ACKs (default 1) "
	       "answering no message",
	       "N[:COUNT]"},
     .apply = usbsim_cobs_apply_unsolicited_ack},
    {.entry =
	 {"cobs-double-ack", 0, 0, G_OPTION_ARG_STRING, NULL, "Answer the Nth message twice", "N"},
     .apply = usbsim_cobs_apply_message,
     .field = USBSIM_COBS_FIELD(double_ack_message)},
    {.entry = {"cobs-ack-stream",
	       0,
	       0,
	       G_OPTION_ARG_STRING,
	       NULL,
	       "From the reply to the Nth message on (0: from power-on), an ACK in every IN "
	       "transfer no reply is waiting for, forever",
	       "N"},
     .apply = usbsim_cobs_apply_from,
     .field = USBSIM_COBS_FIELD(ack_stream_from),
     .on = USBSIM_COBS_FIELD(ack_stream)},
    {.entry = {"cobs-garbage-stream",
	       0,
	       0,
	       G_OPTION_ARG_STRING,
	       NULL,
	       "From the reply to the Nth message on (0: from power-on), 64 random bytes without "
	       "0x00 in every IN transfer no reply is waiting for, forever",
	       "N"},
     .apply = usbsim_cobs_apply_from,
     .field = USBSIM_COBS_FIELD(garbage_stream_from),
     .on = USBSIM_COBS_FIELD(garbage_stream)},
    {.entry = {"cobs-split-ack",
	       0,
	       0,
	       G_OPTION_ARG_NONE,
	       NULL,
	       "Send every byte of every reply in an IN transfer of its own",
	       NULL},
     .apply = usbsim_cobs_apply_flag,
     .field = USBSIM_COBS_FIELD(split_replies)},
    {.entry = {"cobs-verify-reply",
	       0,
	       0,
	       G_OPTION_ARG_STRING,
	       NULL,
	       "Answer verify with 8 or 10 bytes instead of 9, or with a count a chunk beyond "
	       "what was stored (its CRC over that much flash), or of 0xffffffff bytes",
	       "short|long|count-over-image|count-over-flash"},
     USBSIM_COBS_CHOICES(usbsim_cobs_verify_reply_names),
     .field = USBSIM_COBS_FIELD(verify_reply),
     .refused = "--cobs-verify-reply must be short, long, count-over-image or count-over-flash"},
};

GOptionGroup *
usbsim_cobs_option_group(UsbsimCobsOptions *options)
{
	const guint n_specs = G_N_ELEMENTS(usbsim_cobs_option_specs);
	g_autofree GOptionEntry *entries = g_new0(GOptionEntry, n_specs + 1);
	GOptionGroup *group = g_option_group_new("cobs",
						 "stm32h7-cobs profile options:",
						 "Show the stm32h7-cobs options",
						 NULL,
						 NULL);

	options->values = g_new0(UsbsimCobsOptionValue, n_specs);
	for (guint i = 0; i < n_specs; i++) {
		entries[i] = usbsim_cobs_option_specs[i].entry;
		entries[i].arg_data = &options->values[i];
	}
	/* the group keeps a copy of the entries */
	g_option_group_add_entries(group, entries);
	return group;
}

static gboolean
usbsim_cobs_option_given(const UsbsimCobsOptions *options, guint i)
{
	if (options->values == NULL)
		return FALSE;
	if (usbsim_cobs_option_specs[i].entry.arg == G_OPTION_ARG_NONE)
		return options->values[i].set;
	return options->values[i].text != NULL;
}

gboolean
usbsim_cobs_options_given(const UsbsimCobsOptions *options)
{
	for (guint i = 0; i < G_N_ELEMENTS(usbsim_cobs_option_specs); i++) {
		if (usbsim_cobs_option_given(options, i))
			return TRUE;
	}
	return FALSE;
}

gboolean
usbsim_cobs_options_apply(const UsbsimCobsOptions *options,
			  UsbsimCobsConfig *config,
			  GError **error)
{
	for (guint i = 0; i < G_N_ELEMENTS(usbsim_cobs_option_specs); i++) {
		const UsbsimCobsOptionSpec *spec = &usbsim_cobs_option_specs[i];
		g_autofree gchar *what = NULL;

		if (!usbsim_cobs_option_given(options, i))
			continue;
		what = spec->what != NULL ? g_strdup(spec->what)
					  : g_strdup_printf("--%s", spec->entry.long_name);
		if (!spec->apply(spec, &options->values[i], what, config, error))
			return FALSE;
	}
	return TRUE;
}

void
usbsim_cobs_options_clear(UsbsimCobsOptions *options)
{
	if (options->values == NULL)
		return;
	for (guint i = 0; i < G_N_ELEMENTS(usbsim_cobs_option_specs); i++) {
		if (usbsim_cobs_option_specs[i].entry.arg == G_OPTION_ARG_STRING)
			g_clear_pointer(&options->values[i].text, g_free);
	}
	g_clear_pointer(&options->values, g_free);
}
