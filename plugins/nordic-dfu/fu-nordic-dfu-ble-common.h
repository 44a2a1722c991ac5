/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <fwupdplugin.h>

#include <gio/gunixfdlist.h>

#include "nrf-dfu-proto.h"

/* the Secure DFU service and its characteristics (nrf_dfu_ble.c, ble_dfu.h) */
#define FU_NORDIC_DFU_BLE_UUID_SERVICE		"0000fe59-0000-1000-8000-00805f9b34fb"
#define FU_NORDIC_DFU_BLE_UUID_CONTROL_POINT	"8ec90001-f315-4f60-9fb8-838830daea50"
#define FU_NORDIC_DFU_BLE_UUID_PACKET		"8ec90002-f315-4f60-9fb8-838830daea50"
#define FU_NORDIC_DFU_BLE_UUID_BUTTONLESS	"8ec90003-f315-4f60-9fb8-838830daea50"
#define FU_NORDIC_DFU_BLE_UUID_BUTTONLESS_BONDS "8ec90004-f315-4f60-9fb8-838830daea50"

/* the ATT MTU every link starts with (Core 5.3 Vol 3 Part F 3.2.8) */
#define FU_NORDIC_DFU_BLE_ATT_MTU_DEFAULT 23
/* opcode and handle of an ATT write command or notification */
#define FU_NORDIC_DFU_BLE_ATT_HEADER 3
/* a slow link's time for one packet, for the bound on a transfer's length: one packet a
 * connection event at the longest interval Linux asks for by default (le_conn_max_interval
 * 0x0028 units of 1.25 ms in the kernel's hci_core.c: 50 ms) */
#define FU_NORDIC_DFU_BLE_SLOW_PACKET_US 50000u
/* the largest ATT MTU BlueZ negotiates (BT_ATT_MAX_LE_MTU, src/shared/att-types.h): an
 * attribute value of at most 512 bytes (Core 5.3 Vol 3 Part F 3.2.9) and the 5-byte header
 * of a Prepare Write */
#define FU_NORDIC_DFU_BLE_ATT_MTU_MAX 517

/* our own bound on one synchronous BlueZ call (a choice, not a device figure): a Connect
 * that times out is asked again until FU_NORDIC_DFU_BLE_RECONNECT_MS */
#define FU_NORDIC_DFU_BLE_CALL_TIMEOUT_MS 5000

/* from a lost link or a reset to the device connected again: an SDK bootloader advertises
 * within a second of its reset; a SoftDevice+bootloader image takes up to 13 s */
#define FU_NORDIC_DFU_BLE_RECONNECT_MS 15000
/* fwupd waits this much longer than the plugin looks for a device that resets, so that what
 * the plugin found is said (in its error, or its warning) before fwupd's "did not come back" */
#define FU_NORDIC_DFU_BLE_FOLLOW_MARGIN_MS 5000
/* how often a device that resets (into its bootloader, or into the new image) is looked for
 * while fwupd waits for it: a few BLE connection events, short against its 15 s */
#define FU_NORDIC_DFU_BLE_FOLLOW_POLL_MS 20

/* the object path of the device's characteristic with this UUID, asked of BlueZ now: the
 * paths change when an unbonded device reconnects */
gchar *
fu_nordic_dfu_ble_find_characteristic(const gchar *device_path, const gchar *uuid, GError **error);
/* a property of a BlueZ object, read now rather than from a proxy's cache */
GVariant *
fu_nordic_dfu_ble_get_property(const gchar *path,
			       const gchar *iface,
			       const gchar *name,
			       GError **error);
gboolean
fu_nordic_dfu_ble_get_bool(const gchar *path, const gchar *name);
/* the PropertiesChanged of one interface of a BlueZ object, followed on a main context of its
 * own: nothing else of the caller's runs while it waits, as fwupd's main loop does not during
 * a write */
typedef struct {
	GDBusConnection *bus;
	GMainContext *context;
	guint subscription;
	const gchar *name;	  /* the property waited for, NULL for any */
	const GVariantType *type; /* its type */
	GVariant *value;	  /* its new value, or every changed property when @name is NULL */
	gboolean expired;
	gboolean released; /* the subscription's user data is no longer referenced */
} FuNordicDfuBleWatch;

/* subscribes to the interface's PropertiesChanged of @path; always stopped after, even when it
 * fails */
gboolean
fu_nordic_dfu_ble_watch_start(FuNordicDfuBleWatch *watch,
			      const gchar *path,
			      const gchar *iface,
			      GError **error);
/* the new value of @name (of @type) when it next changes, or every changed property when @name
 * is NULL; a change signalled since the last wait counts; NULL after @timeout_ms */
GVariant *
fu_nordic_dfu_ble_watch_wait(FuNordicDfuBleWatch *watch,
			     const gchar *name,
			     const GVariantType *type,
			     gint64 timeout_ms);
void
fu_nordic_dfu_ble_watch_stop(FuNordicDfuBleWatch *watch);
/* Device1.Connect, then wait for ServicesResolved */
gboolean
fu_nordic_dfu_ble_connect(const gchar *device_path, guint timeout_ms, GError **error);
/* a method of a BlueZ object with no arguments and no reply */
gboolean
fu_nordic_dfu_ble_call(const gchar *path, const gchar *iface, const gchar *method, GError **error);
/* a call whose failure changes nothing for the caller (a Disconnect of what may be gone, a
 * StopDiscovery): its error is only logged */
void
fu_nordic_dfu_ble_call_best_effort(const gchar *path, const gchar *iface, const gchar *method);
/* the device's object path from the FuBluezDevice's proxy */
const gchar *
fu_nordic_dfu_ble_device_path(FuBluezDevice *bluez_device);
/* the address the SDK's bootloader advertises under after a buttonless entry from an
 * unbonded application: the least significant byte plus one (nrf_dfu_ble.c) */
gchar *
fu_nordic_dfu_ble_address_next(const gchar *address, GError **error);
/* the visible instance ID that links an application and its bootloader across the address
 * change: NRFDFU_BLE\ADDR_<the application's address> */
void
fu_nordic_dfu_ble_add_link_instance_id(FuBluezDevice *bluez_device, const gchar *app_address);

/*
 * Connects the first of some addresses that advertises, a step at a time on fwupd's main
 * loop, so that no call waits for a device that is not there: BlueZ keeps an LE Connect to a
 * device that does not advertise pending until its own connection timeout. It discovers, as
 * BlueZ only shows an advertiser it has not met while it discovers, and the RSSI of one it
 * knows says that it advertises; the Connect is asynchronous and cancelled after a while.
 */
typedef struct {
	gchar *adapter_path;
	gboolean discovering;
	guint attempts;		    /* the Connect calls asked, to alternate when nothing is seen */
	GCancellable *cancellable;  /* the Connect under way */
	gchar *connect_path;	    /* the device it is for */
	gint64 connect_deadline_us; /* then it is cancelled */
	gboolean connected;	    /* it succeeded: the services are being resolved */
	gint64 resolve_deadline_us;
	GError *last_error;	/* why the last attempt failed */
	gchar *discovery_error; /* why the adapter did not discover */
} FuNordicDfuBleSeek;

void
fu_nordic_dfu_ble_seek_init(FuNordicDfuBleSeek *seek, const gchar *adapter_path);
/* stops discovering and forgets a Connect under way (what fwupd got may just have connected) */
void
fu_nordic_dfu_ble_seek_clear(FuNordicDfuBleSeek *seek);
/* why nothing has connected so far, for the caller's final error, or NULL */
gchar *
fu_nordic_dfu_ble_seek_why(const FuNordicDfuBleSeek *seek);
/* one step towards a connection to one of @addresses (NULL-terminated, the preferred first),
 * no later than @deadline_us: the object path of the device once connected with its services
 * resolved (again at each step until the caller stops), else NULL */
gchar *
fu_nordic_dfu_ble_seek_step(FuNordicDfuBleSeek *seek,
			    const gchar *const *addresses,
			    gint64 deadline_us);
/* the ATT MTU BlueZ reports, within what a link can have: below the default is the default,
 * above the largest is the largest (a larger packet than the link carries would be cut) */
guint
fu_nordic_dfu_ble_att_mtu_bounded(guint att_mtu);
/* the descriptor an Acquire* reply names by its handle @idx in @fds (which BlueZ may have left
 * out), or -1 with an error */
gint
fu_nordic_dfu_ble_fd_from_reply(GUnixFDList *fds, gint32 idx, const gchar *method, GError **error);

/* the largest notification of the control point read: its ATT header and the longest reply the
 * core takes; a longer one is cut by recv() */
#define FU_NORDIC_DFU_BLE_NOTIFICATION_MAX                                                         \
	(FU_NORDIC_DFU_BLE_ATT_HEADER + NRF_DFU_PROTO_SLIP_RX_MAX)

/* a request of the core, as @channel takes it over the link: object data of at most one
 * packet of @chunk_size bytes, or a request that is not empty and not an MTU get, which the
 * SDK's BLE transport does not have (the device refuses anything else with an internal error) */
gboolean
fu_nordic_dfu_ble_check_request(NrfDfuProtoChannel channel,
				const guint8 *buf,
				gsize bufsz,
				gsize chunk_size,
				GError **error);
