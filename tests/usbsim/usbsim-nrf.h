/*
 * An nRF5 SDK Secure DFU bootloader (nRF52840, SDK 15-17 behaviour) behind a serial
 * transport: SLIP frames in, SLIP frames out, the request handler's object rules, the
 * init packet checks of its validation, a flash that erases at create and programs in the
 * background, and resets. Written from the SDK's documented behaviour, not from the plugin.
 *
 * The model never sleeps and never reads a clock: every entry point takes the time now.
 * One model serves two fronts: the nRF52840 Dongle's USB CDC ACM interface
 * (usbsim-nrf-run.c drives it from bulk transfers) and a UART (from a pty's bytes).
 *
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib.h>

#include "usbsim-desc.h"

typedef enum {
	USBSIM_NRF_FRONT_USB,
	USBSIM_NRF_FRONT_UART,
} UsbsimNrfFront;

/* nRF52840 memory as the SDK's defaults place it with S140 7.x and the Dongle's bootloader */
#define USBSIM_NRF_FLASH_SIZE	    0x100000
#define USBSIM_NRF_PAGE_SIZE	    0x1000
#define USBSIM_NRF_MBR_SIZE	    0x1000
#define USBSIM_NRF_SD_START	    USBSIM_NRF_MBR_SIZE
#define USBSIM_NRF_APP_START	    0x27000 /* bank 0: the end of S140 7.x */
#define USBSIM_NRF_BL_START	    0xE0000
#define USBSIM_NRF_BL_SIZE	    0x1C000 /* up to the MBR parameters and settings pages */
#define USBSIM_NRF_SETTINGS_ADDR    0xFF000
#define USBSIM_NRF_CMD_MAX_SIZE	    512
#define USBSIM_NRF_MTU_USB	    2051
#define USBSIM_NRF_MTU_UART	    131
#define USBSIM_NRF_REENUMERATE_MAX  13000000 /* us at scale 1.0 */
#define USBSIM_NRF_BOOT_US	    100000   /* from reset to answering again, scale 1.0 */
#define USBSIM_NRF_ERASE_PAGE_US    85000
#define USBSIM_NRF_PROGRAM_WORD_NS  41000
#define USBSIM_NRF_USB_BYTES_PER_MS 1216.0

/* what runs after a reset when bank 0 holds a valid application (the SDK's bootloader starts
 * it unless DFU mode was asked for, by a pin reset such as the DFU trigger's DETACH) */
typedef enum {
	/* the bootloader stays in DFU mode, as if it were always asked to */
	USBSIM_NRF_APP_RUNS_BOOTLOADER,
	/* the application, with no USB at all and nothing on the UART */
	USBSIM_NRF_APP_RUNS_NO_USB,
	/* USB: the application with the SDK's DFU trigger interface (nrf_dfu_trigger_usb.c) */
	USBSIM_NRF_APP_RUNS_DFU_TRIGGER,
	/* UART: the application owns the port, writes log lines and frames of its own to it and
	 * ignores what it reads */
	USBSIM_NRF_APP_RUNS_UART_LOG,
	/* USB: the application with a USB function of its own (a CDC ACM port) and no DFU
	 * trigger interface, on its own IDs */
	USBSIM_NRF_APP_RUNS_OTHER_USB,
} UsbsimNrfAppRuns;

/* the bootloader's USB IDs: the nRF52840 Dongle's own, and the J-Link whose CDC port carries
 * the UART */
#define USBSIM_NRF_DONGLE_VID 0x1915
#define USBSIM_NRF_DONGLE_PID 0x521F
#define USBSIM_NRF_JLINK_VID  0x1366
#define USBSIM_NRF_JLINK_PID  0x1015
/* the application's own USB IDs (pid.codes test IDs): with the DFU trigger interface, and
 * with a CDC ACM port only */
#define USBSIM_NRF_APP_VID	 0x1209
#define USBSIM_NRF_APP_PID	 0x0030
#define USBSIM_NRF_APP_OTHER_PID 0x0031
/* app_usbd_nrf_dfu_trigger_nordic_info_t, packed */
#define USBSIM_NRF_NORDIC_INFO_SIZE 24
/* how often the UART_LOG application writes to its port, scale 1.0 */
#define USBSIM_NRF_APP_LOG_US 200000

typedef struct {
	const gchar *profile; /* "nrf52840-dongle" or "nrf52-uart" */
	UsbsimNrfFront front;
	/* no port a host opens (UART, or a BLE link): requests are taken from the start and
	 * after each reset; else the USB CDC port waits for a host to open it each time */
	gboolean port_always_open;
	gdouble time_scale;
	guint baud_rate;    /* UART only */
	guint32 hw_version; /* NRF_DFU_HW_VERSION, 52 */
	guint32 sd_fwid;    /* the installed SoftDevice's FWID, 0 for none */
	guint32 sd_version; /* what FW version reports for it */
	guint32 bootloader_version;
	guint32 app_version; /* of a valid application, when flash_in holds one */
	gboolean app_valid;
	gboolean require_signature; /* a key is provisioned: only signed packets, none verifies */
	guint reset_after_writes;   /* the device resets right after its Nth data write */
	guint drop_response;	    /* the Nth response is never sent */
	guint corrupt_write;	    /* the Nth data write is stored with one byte flipped */
	guint8 ext_error_op;	    /* answer the ext_error_nth request of this opcode ... */
	guint ext_error_nth;
	guint8 ext_error_code; /* ... with result 0x0B and this extended error */
	gint64 reenumerate_us; /* after an image, at scale 1.0; -1: from the copy work */
	gint64 sd_bl_back_us;  /* after a SoftDevice or bootloader image, instead; -1: as above */
	UsbsimNrfAppRuns app_runs;
	gboolean dfu_mode_at_start; /* started by a pin reset (the Dongle's reset button) */
	/* hostile bootloaders: what they claim, not what they do */
	gint64 mtu_reply;	  /* MTU GET answers this (-1: the transport's own) */
	gint64 data_max_reply;	  /* SELECT(data) reports this max object size (-1: a page) */
	gint64 select_offset;	  /* SELECT(data) reports this offset (-1: the true one) */
	gboolean crc_wrong;	  /* every CRC (reply and notification) is off by one bit */
	gint other_op;		  /* responses to this opcode name the previous request's */
	gint short_op;		  /* responses to this opcode lose their last byte */
	gboolean unsolicited;	  /* noise and a CRC notification before every response */
	gint endless_op;	  /* instead of answering this opcode: bytes, never an END */
	guint32 flash_size_reply; /* HW version's flash size (0: the chip's 1 MiB) */
	guint refuse_execute;	  /* refuse EXECUTE of this data object and lose all progress */
	guint mute_execute;	  /* never answer EXECUTE of this data object, nor execute it */
	gboolean trigger_garbage; /* the DFU trigger answers NORDIC_INFO and SEMVER with junk */
	GBytes *flash_in;
} UsbsimNrfConfig;

typedef struct _UsbsimNrf UsbsimNrf;

void
usbsim_nrf_config_init(UsbsimNrfConfig *config, UsbsimNrfFront front);
UsbsimNrf *
usbsim_nrf_new(const UsbsimNrfConfig *config, gint64 epoch_us);
void
usbsim_nrf_free(UsbsimNrf *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UsbsimNrf, usbsim_nrf_free)

/* bytes from the host that finished arriving at now_us (a bulk OUT, or UART bytes) */
void
usbsim_nrf_receive(UsbsimNrf *self, const guint8 *buf, gsize bufsz, gint64 now_us);
/* the next SLIP-encoded response ready by now_us, or NULL; *next_us: when one will be */
GByteArray *
usbsim_nrf_take_response(UsbsimNrf *self, gint64 now_us, gint64 *next_us);
/* the CDC host opened the port (DTR): before it the USB transport reads nothing */
void
usbsim_nrf_set_port_open(UsbsimNrf *self, gboolean open, gint64 now_us);
/* TRUE once when the device resets at or before now_us; *back_us: when it runs again */
gboolean
usbsim_nrf_take_reset(UsbsimNrf *self, gint64 now_us, gint64 *back_us);
/* the bootloader runs again after a reset (USB: it enumerates) */
void
usbsim_nrf_boot(UsbsimNrf *self, gint64 now_us);
gboolean
usbsim_nrf_is_running(UsbsimNrf *self);
/* the application runs (not the bootloader): what app_runs says it does */
gboolean
usbsim_nrf_app_running(UsbsimNrf *self);
/* the DFU trigger's SEMVER answer, its terminating NUL included as the SDK sends it */
GByteArray *
usbsim_nrf_app_semver(UsbsimNrf *self);
/* the DFU trigger's NORDIC_INFO answer, USBSIM_NRF_NORDIC_INFO_SIZE bytes */
void
usbsim_nrf_app_nordic_info(UsbsimNrf *self, guint8 *buf);
/* the DFU trigger's DETACH: a pin reset, after which the bootloader stays in DFU mode */
void
usbsim_nrf_app_detach(UsbsimNrf *self, gint64 now_us);
/* trace lines (complete JSON objects) since the last call */
GPtrArray *
usbsim_nrf_take_trace(UsbsimNrf *self);
gchar *
usbsim_nrf_summary_json(UsbsimNrf *self, gint64 now_us, const gchar *extra_members);
GBytes *
usbsim_nrf_get_flash(UsbsimNrf *self);
/* the Dongle's bootloader descriptors */
UsbsimDescription *
usbsim_nrf_describe_dongle(void);
/* the application with the DFU trigger interface */
UsbsimDescription *
usbsim_nrf_describe_app_dfu_trigger(void);
/* the application with a CDC ACM port of its own */
UsbsimDescription *
usbsim_nrf_describe_app_other_usb(void);
/* the USB-UART bridge in front of the UART bootloader (a J-Link's CDC port) */
UsbsimDescription *
usbsim_nrf_describe_uart_bridge(void);
