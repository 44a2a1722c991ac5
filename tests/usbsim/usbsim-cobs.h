/*
 * An STM32H7 bootloader speaking the COBS-framed bulk protocol (plugins/cobs/README.md) on
 * the data interface of a USB CDC ACM device, with the optional verification extension the
 * cobs plugin's README defines, the stm32h7-cobs timing profile (STM32H743 datasheet flash tables)
 * and switchable misbehaviours.
 *
 * Written from the protocol description only: it shares no code with plugins/proto.
 * The model never sleeps and never reads a clock: every entry point takes the time now,
 * and every effect is placed on the device's own timeline (a message arrives when its bulk
 * transfer ends, is stored when the flash is done, is answered then), so the same code runs
 * in real time under the harness and in unit tests.
 *
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "usbsim-flashlog.h"
#include "usbsim-model.h"

#define USBSIM_COBS_PROFILE_NAME "stm32h7-cobs"

#define USBSIM_COBS_EP_OUT	0x01
#define USBSIM_COBS_EP_IN	0x81
#define USBSIM_COBS_EP_NOTIFY	0x82
#define USBSIM_COBS_PACKET_MAX	64
#define USBSIM_COBS_PAYLOAD_MAX 61

#define USBSIM_COBS_CONTROL_WRITE_MORE 0x01
#define USBSIM_COBS_CONTROL_WRITE_LAST 0x02
#define USBSIM_COBS_CONTROL_ERASE      0x03
#define USBSIM_COBS_CONTROL_BYE	       0x04
#define USBSIM_COBS_CONTROL_VERIFY     0x05
#define USBSIM_COBS_CONTROL_ACK	       0x06
#define USBSIM_COBS_CONTROL_VERSION    0x07

/* where the version query reads the image's version by default: a word of the Cortex-M
 * vector table the core never reads (0x1C-0x2B are reserved) */
#define USBSIM_COBS_VERSION_OFFSET 0x20
/* the application a reset starts, when it has USB: another product ID, no bootloader */
#define USBSIM_COBS_APP_PID 0x0021
/* from bye's reply written to the USB reset: the firmware flushes its log and resets */
#define USBSIM_COBS_RESET_DELAY_US 10000

/* what the device does once it has answered bye (plugins/cobs/README.md, "How an update ends") */
typedef enum {
	USBSIM_COBS_AFTER_BYE_STAY,	  /* the seed: logs "done." and ignores what follows */
	USBSIM_COBS_AFTER_BYE_BOOTLOADER, /* resets, the bootloader again at a new address */
	USBSIM_COBS_AFTER_BYE_APP,	  /* resets into an application with other IDs */
	USBSIM_COBS_AFTER_BYE_GONE,	  /* resets into an application without USB */
} UsbsimCobsAfterBye;

/* how replies leave the device on its bulk IN endpoint */
typedef enum {
	USBSIM_COBS_ACK_EACH, /* one reply an IN transfer; the firmware waits for a busy buffer */
	USBSIM_COBS_ACK_PACK, /* the replies waiting go together, up to a packet */
} UsbsimCobsAckMode;

/* what the reply to verify is, beside the right one (hostile devices) */
typedef enum {
	USBSIM_COBS_VERIFY_REPLY_RIGHT,
	USBSIM_COBS_VERIFY_REPLY_SHORT,		   /* the CRC's last byte left out: 8 bytes */
	USBSIM_COBS_VERIFY_REPLY_LONG,		   /* a byte more after the CRC: 10 bytes */
	USBSIM_COBS_VERIFY_REPLY_COUNT_OVER_IMAGE, /* a chunk more than it stored, and its CRC */
	USBSIM_COBS_VERIFY_REPLY_COUNT_OVER_FLASH, /* 0xffffffff bytes, an unset counter */
} UsbsimCobsVerifyReply;

/* a full-speed bulk transfer: about 1 ms fixed, plus 1216 bytes of data a ms
 * (tests/usbsim/README.md) */
#define USBSIM_BULK_FIXED_US	 1000.0
#define USBSIM_BULK_BYTES_PER_MS 1216.0

/* what a message's answer is; the misbehaviours pick one message by its 1-based index */
typedef enum {
	USBSIM_COBS_FAULT_NONE,
	USBSIM_COBS_FAULT_NO_ACK,     /* stored, never answered; the device carries on */
	USBSIM_COBS_FAULT_WRONG_ACK,  /* answered with another byte instead of 0x06 */
	USBSIM_COBS_FAULT_LATE_ACK,   /* answered late_ms (real time, not scaled) late */
	USBSIM_COBS_FAULT_GARBAGE,    /* answered with a frame whose COBS is broken */
	USBSIM_COBS_FAULT_DISCONNECT, /* leaves the bus for good when this message comes */
} UsbsimCobsFault;

typedef struct {
	guint16 vid;
	guint16 pid;
	guint16 bcd_device;
	gchar *serial;
	guint32 flash_size;  /* a multiple of the sector size */
	guint32 sector_size; /* 128 KiB */
	guint32 word_size;   /* bytes the flash programs at once: 32 */
	guint32 erase_typ_us;
	guint32 erase_max_us; /* per sector */
	guint32 program_typ_us;
	guint32 program_max_us; /* per flash word */
	gdouble time_scale;
	guint32 seed;
	gboolean verify; /* the verification extension: extended ACK to erase, verify answered */
	gboolean version_query; /* the version extension: announced, 07 answered */
	guint32 version_offset; /* where in the image the version query reads a u32 LE */
	UsbsimCobsAfterBye after_bye;
	guint16 app_pid;
	UsbsimCobsAckMode ack_mode;
	GBytes *flash_in; /* initial contents, or NULL for erased */

	/* misbehaviours: a message index (1-based, every message counts), 0 for none */
	guint no_ack_message;
	gboolean no_ack_always;
	guint wrong_ack_message;
	guint8 wrong_ack_byte;
	guint late_ack_message;
	guint late_ack_ms;
	guint garbage_message;
	guint disconnect_after; /* messages taken before the device leaves the bus */
	guint corrupt_chunk;	/* the Nth write chunk has one byte stored wrong */

	/* hostile devices: a message index as above, 0 for "at power-on, before any message" */
	gboolean unsolicited_ack; /* ACKs of its own after the reply to unsolicited_ack_after */
	guint unsolicited_ack_after;
	guint unsolicited_ack_count;
	guint double_ack_message; /* its reply written twice */
	gboolean ack_stream;	  /* from the reply to ack_stream_from on, ACKs forever */
	guint ack_stream_from;
	gboolean garbage_stream; /* from the reply to garbage_stream_from on, bytes without 0x00 */
	guint garbage_stream_from;
	gboolean split_replies; /* every byte of every reply in an IN transfer of its own */
	UsbsimCobsVerifyReply verify_reply;
} UsbsimCobsConfig;

void
usbsim_cobs_config_init(UsbsimCobsConfig *config);
void
usbsim_cobs_config_clear(UsbsimCobsConfig *config);

typedef struct {
	guint messages; /* messages the firmware worked on */
	guint erases;	/* erase commands */
	guint sectors_erased;
	guint chunks; /* write chunks stored (0x01 and 0x02) */
	guint last_chunks;
	guint verifies;
	guint version_queries;
	guint byes;
	guint resets;	       /* left the bus after bye (and came back, unless it is gone) */
	guint acks;	       /* replies sent, extended ACK and verify replies included */
	guint replies_taken;   /* replies the host read */
	guint reply_transfers; /* IN transfers that carried them */
	guint faults_fired;
	guint extra_replies;	/* replies to no message: unsolicited and doubled ACKs */
	guint stream_transfers; /* IN transfers of an endless ACK or garbage stream */
	guint64 bytes_stored;
	guint64 bytes_programmed; /* flash words programmed, in bytes */
	guint words_programmed;
	guint writes_not_erased;
	gboolean panicked;
	gboolean left;	    /* answered bye */
	gboolean unplugged; /* left the bus for good */
	gint64 busy_us;	    /* firmware busy time (erase, program, CRC), scaled */
	gint64 bus_us;	    /* bulk transfer time, scaled */
	gint64 host_idle_us;
} UsbsimCobsStats;

typedef struct _UsbsimCobs UsbsimCobs;

UsbsimCobs *
usbsim_cobs_new(const UsbsimCobsConfig *config);
void
usbsim_cobs_free(UsbsimCobs *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UsbsimCobs, usbsim_cobs_free)

const UsbsimModelOps *
usbsim_cobs_ops(void);

/* the time trace records count from (monotonic microseconds) */
void
usbsim_cobs_set_epoch(UsbsimCobs *self, gint64 epoch_us);

GBytes *
usbsim_cobs_get_flash(UsbsimCobs *self);
const UsbsimCobsStats *
usbsim_cobs_get_stats(UsbsimCobs *self);
const UsbsimFlashLog *
usbsim_cobs_get_flash_log(UsbsimCobs *self);
const gchar *
usbsim_cobs_get_state_name(UsbsimCobs *self);
/* the summary members after the common ones, starting with a comma */
void
usbsim_cobs_append_summary(UsbsimCobs *self, GString *str);

/*
 * tests/usbsim/README.md: the least time any host could take for the messages this run served,
 * against the model's own rules (one receive buffer freed when the firmware starts on a message, a
 * bulk transfer's bus time, each message's real work); and the least time of a host that
 * waits for each reply before it sends the next message.
 */
void
usbsim_cobs_get_limits(UsbsimCobs *self, gdouble *physical_ms, gdouble *stop_and_wait_ms);

/* the bus time of one full-speed bulk transfer of that many bytes, at scale 1.0 */
gdouble
usbsim_bulk_cost_us(gsize bytes);

/* a command line option of the stm32h7-cobs profile as given: its text (NULL when not given),
 * or whether a flag was given */
typedef union {
	gchar *text;
	gboolean set;
} UsbsimCobsOptionValue;

/* the stm32h7-cobs options as given, one value for each row of the option table in
 * usbsim-cobs.c; made by usbsim_cobs_option_group() */
typedef struct {
	UsbsimCobsOptionValue *values;
} UsbsimCobsOptions;

GOptionGroup *
usbsim_cobs_option_group(UsbsimCobsOptions *options);
gboolean
usbsim_cobs_options_given(const UsbsimCobsOptions *options);
gboolean
usbsim_cobs_options_apply(const UsbsimCobsOptions *options,
			  UsbsimCobsConfig *config,
			  GError **error);
void
usbsim_cobs_options_clear(UsbsimCobsOptions *options);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(UsbsimCobsOptions, usbsim_cobs_options_clear)
