/*
 * bluez-sim: a fake org.bluez on a private system bus, for the nordic-dfu plugin's BLE tests.
 *
 * It exposes what fwupd 2.0.20 reads (src/fu-bluez-backend.c, libfwupdplugin/fu-bluez-device.c)
 * and what the plugin uses: the ObjectManager at /, one Adapter1, Device1 objects with
 * Address, Name, Alias, Adapter, Connected, Paired and ServicesResolved, and GattService1 and
 * GattCharacteristic1 objects with UUID, Flags, Value, Notifying and MTU, ReadValue,
 * WriteValue, StartNotify, StopNotify, AcquireWrite and AcquireNotify.
 *
 * Behind it is one nRF52840 running either an application with the Secure DFU buttonless
 * service (8EC90003 unbonded, 8EC90004 bonded) or the Secure DFU bootloader (8EC90001 control
 * point, 8EC90002 packet), the bootloader being tests/usbsim's model (usbsim-nrf.c). After a
 * reset of the bootloader (an image activated) the application runs when the model's bank 0
 * holds a valid one, at its own address and with the version the model's settings give it,
 * as the SDK's bootloader starts a valid application; else the bootloader runs again. The
 * control point's requests and the packets reach it as the serial frames it takes, and its
 * replies leave as notifications. The link is a BLE connection with a connection interval, a
 * number of packets a connection event, and the controller's buffers: a write without
 * response is read from the host's socket only when the link can take it. SIGUSR1 drops the
 * link at once, as a device that goes out of range or resets on its own.
 *
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <errno.h>
#include <gio/gio.h>
#include <gio/gunixfdlist.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "usbsim-nrf.h"

#define BLUEZ_SIM_ADAPTER_PATH "/org/bluez/hci0"
#define BLUEZ_SIM_ADAPTER_ADDR "00:1A:7D:DA:71:13"

#define UUID_DFU_SERVICE      "0000fe59-0000-1000-8000-00805f9b34fb"
#define UUID_CONTROL_POINT    "8ec90001-f315-4f60-9fb8-838830daea50"
#define UUID_PACKET	      "8ec90002-f315-4f60-9fb8-838830daea50"
#define UUID_BUTTONLESS	      "8ec90003-f315-4f60-9fb8-838830daea50"
#define UUID_BUTTONLESS_BONDS "8ec90004-f315-4f60-9fb8-838830daea50"
#define UUID_DIS_SERVICE      "0000180a-0000-1000-8000-00805f9b34fb"
#define UUID_DIS_MODEL	      "00002a24-0000-1000-8000-00805f9b34fb"
#define UUID_DIS_MANUFACTURER "00002a29-0000-1000-8000-00805f9b34fb"
#define UUID_DIS_FW_REVISION  "00002a26-0000-1000-8000-00805f9b34fb"

/* the buttonless service's opcodes and response code (ble_dfu.h) */
#define BUTTONLESS_OP_ENTER_BOOTLOADER 0x01
#define BUTTONLESS_OP_RESPONSE	       0x20
#define BUTTONLESS_RES_SUCCESS	       0x01
#define BUTTONLESS_RES_NOT_SUPPORTED   0x02

/* ATT header of a write command or a notification: opcode and handle */
#define ATT_HEADER 3

/* from the buttonless indication to the bootloader advertising (scale 1.0): the application
 * waits for the indication's confirmation and the disconnection, the bootloader starts the
 * SoftDevice and advertises */
#define BLUEZ_SIM_REBOOT_US 300000

typedef enum {
	CHAR_CONTROL_POINT,
	CHAR_PACKET,
	CHAR_BUTTONLESS,
	CHAR_DIS,
} CharKind;

typedef enum {
	PERSONA_NONE,
	PERSONA_APP,
	PERSONA_BOOTLOADER,
} Persona;

typedef struct _Sim Sim;

typedef struct {
	Sim *sim;
	gchar *path;
	GHashTable *ifaces; /* name -> GHashTable(prop -> GVariant) */
	GArray *reg_ids;
	CharKind kind;
	gchar *dis_value;
	gboolean is_device;
	gboolean bonded_address; /* the object of the application's own address */
} SimObject;

typedef enum {
	UP_PACKET,
	UP_CONTROL,
	UP_BUTTONLESS,
} UpKind;

typedef struct {
	gint64 arrival_us;
	UpKind kind;
	GByteArray *bytes;
} UpItem;

typedef struct {
	gint64 due_us;
	GDBusMethodInvocation *invocation;
} PendingReply;

typedef struct {
	gint64 due_us;
	GByteArray *bytes;
	SimObject *chr;
} DownItem;

struct _Sim {
	GMainLoop *loop;
	GDBusConnection *conn;
	GDBusNodeInfo *introspection;
	GPtrArray *objects;
	guint handle_counter;
	UsbsimNrf *model;
	gint64 epoch_us;

	/* configuration */
	gchar *address;	     /* the application's */
	gchar *bl_address;   /* the bootloader's: address + 1 unless bonded */
	guint app_version;   /* the application's, from the model's settings after a reset */
	gboolean app_bonds;  /* its buttonless characteristic is 8EC90004 (bonded bootloader) */
	gboolean app_no_dfu; /* it has no buttonless DFU service at all */
	gboolean app_no_fw_revision; /* its Device Information has no firmware revision */
	gboolean app_silent;	     /* after the activation reset it never advertises (or is out of
				      * range) */
	gboolean app_unpaired;	    /* BlueZ holds no pairing for the application that comes back */
	gboolean bootloader_stays;  /* after the activation it stays connected in DFU mode */
	gboolean lose_final_answer; /* the link drops with the answer to an image's final execute */
	guint images_activated_seen;
	gchar *flash_out;
	gchar *mode; /* bootloader, buttonless-unbonded, buttonless-bonded */
	gdouble time_scale;
	gdouble ci_ms;
	guint ppi; /* packets a connection event, each direction */
	guint att_mtu;
	guint controller_buffers;
	guint drop_link_after;	   /* packets, 0: never */
	gboolean no_acquire_write; /* AcquireWrite refused: packets come by WriteValue */
	gint buttonless_result;	   /* -1: success */
	gboolean buttonless_silent;
	gboolean buttonless_stays; /* answers success to enter-bootloader but never resets */
	gboolean bootloader_absent;
	gboolean connect_hangs; /* a Connect to what does not advertise waits, as BlueZ's does */
	gboolean discovery_refused; /* StartDiscovery fails, as with the adapter powered off */
	guint resolve_ms; /* from a Connect's reply to ServicesResolved, 0: with the reply */
	guint resolve_id;
	gchar *summary_path;
	gchar *trace_path;

	/* the device */
	Persona persona;
	SimObject *app_dev;
	SimObject *bl_dev;
	SimObject *cur_dev; /* the object the link is on */
	SimObject *cp;
	SimObject *packet;
	SimObject *buttonless;
	gboolean advertising;
	gboolean discovering;
	gboolean connected;
	gint64 reboot_at_us;
	gint64 boot_at_us;
	gint64 disconnect_at_us;
	GDBusMethodInvocation *pending_connect; /* --connect-hangs: waits for pending_dev */
	SimObject *pending_dev;

	/* the link */
	gint64 link_t0_us;
	gint64 up_event;
	guint up_used;
	gint64 down_event;
	guint down_used;
	GQueue uplink;
	GQueue downlink;
	GQueue replies;
	gint write_fd;
	gint notify_fd;
	guint write_watch;
	guint pump_id;
	gboolean drop_done;

	/* record */
	guint packets;
	guint packets_lost;
	guint packets_write_value; /* of the packets, those written by WriteValue */
	guint notifications;
	guint link_drops;
	guint connects;
	guint enter_bootloader;
	guint app_adverts;   /* the application advertised after a reset */
	guint connects_hung; /* Connects to a device that did not advertise (--connect-hangs) */
	guint32 create_size;
	guint8 create_type;
	gdouble limit_us;
	guint64 data_bytes_executed;
	gint64 first_packet_us;
	gint64 last_execute_us;
	GString *trace;
	GString *addresses;
};

static const gchar introspection_xml[] =
    "<node>"
    " <interface name='org.freedesktop.DBus.ObjectManager'>"
    "  <method name='GetManagedObjects'>"
    "   <arg type='a{oa{sa{sv}}}' direction='out'/>"
    "  </method>"
    "  <signal name='InterfacesAdded'><arg type='o'/><arg type='a{sa{sv}}'/></signal>"
    "  <signal name='InterfacesRemoved'><arg type='o'/><arg type='as'/></signal>"
    " </interface>"
    " <interface name='org.bluez.Adapter1'>"
    "  <method name='StartDiscovery'/>"
    "  <method name='StopDiscovery'/>"
    "  <method name='SetDiscoveryFilter'><arg type='a{sv}' direction='in'/></method>"
    "  <method name='RemoveDevice'><arg type='o' direction='in'/></method>"
    "  <property name='Address' type='s' access='read'/>"
    "  <property name='Powered' type='b' access='read'/>"
    "  <property name='Discovering' type='b' access='read'/>"
    " </interface>"
    " <interface name='org.bluez.Device1'>"
    "  <method name='Connect'/>"
    "  <method name='Disconnect'/>"
    "  <method name='Pair'/>"
    "  <property name='Address' type='s' access='read'/>"
    "  <property name='AddressType' type='s' access='read'/>"
    "  <property name='Name' type='s' access='read'/>"
    "  <property name='Alias' type='s' access='read'/>"
    "  <property name='Adapter' type='o' access='read'/>"
    "  <property name='Connected' type='b' access='read'/>"
    "  <property name='Paired' type='b' access='read'/>"
    "  <property name='Bonded' type='b' access='read'/>"
    "  <property name='ServicesResolved' type='b' access='read'/>"
    "  <property name='RSSI' type='n' access='read'/>"
    "  <property name='UUIDs' type='as' access='read'/>"
    " </interface>"
    " <interface name='org.bluez.GattService1'>"
    "  <property name='UUID' type='s' access='read'/>"
    "  <property name='Primary' type='b' access='read'/>"
    "  <property name='Device' type='o' access='read'/>"
    " </interface>"
    " <interface name='org.bluez.GattCharacteristic1'>"
    "  <method name='ReadValue'>"
    "   <arg type='a{sv}' direction='in'/><arg type='ay' direction='out'/>"
    "  </method>"
    "  <method name='WriteValue'><arg type='ay' direction='in'/><arg type='a{sv}' "
    "direction='in'/></method>"
    "  <method name='StartNotify'/>"
    "  <method name='StopNotify'/>"
    "  <method name='AcquireWrite'>"
    "   <arg type='a{sv}' direction='in'/><arg type='h' direction='out'/>"
    "   <arg type='q' direction='out'/>"
    "  </method>"
    "  <method name='AcquireNotify'>"
    "   <arg type='a{sv}' direction='in'/><arg type='h' direction='out'/>"
    "   <arg type='q' direction='out'/>"
    "  </method>"
    "  <property name='UUID' type='s' access='read'/>"
    "  <property name='Service' type='o' access='read'/>"
    "  <property name='Value' type='ay' access='read'/>"
    "  <property name='Notifying' type='b' access='read'/>"
    "  <property name='Flags' type='as' access='read'/>"
    "  <property name='MTU' type='q' access='read'/>"
    " </interface>"
    "</node>";

static void
sim_pump_schedule(Sim *sim);
static void
sim_link_down(Sim *sim, const gchar *why);

static gint64
sim_now(void)
{
	return g_get_monotonic_time();
}

static gdouble
sim_ci_us(Sim *sim)
{
	return sim->ci_ms * 1000.0 * sim->time_scale;
}

static void
sim_trace(Sim *sim, const gchar *fmt, ...) G_GNUC_PRINTF(2, 3);

static void
sim_trace(Sim *sim, const gchar *fmt, ...)
{
	va_list args;
	g_autofree gchar *body = NULL;

	va_start(args, fmt);
	body = g_strdup_vprintf(fmt, args);
	va_end(args);
	g_string_append_printf(sim->trace,
			       "{\"t_ms\":%.3f,%s}\n",
			       (sim_now() - sim->epoch_us) / 1000.0,
			       body);
}

/* ---- objects and properties ---- */

static GHashTable *
sim_object_props(SimObject *obj, const gchar *iface)
{
	GHashTable *props = g_hash_table_lookup(obj->ifaces, iface);
	if (props == NULL) {
		props = g_hash_table_new_full(g_str_hash,
					      g_str_equal,
					      g_free,
					      (GDestroyNotify)g_variant_unref);
		g_hash_table_insert(obj->ifaces, g_strdup(iface), props);
	}
	return props;
}

static void
sim_object_set(SimObject *obj, const gchar *iface, const gchar *name, GVariant *value)
{
	g_hash_table_insert(sim_object_props(obj, iface),
			    g_strdup(name),
			    g_variant_ref_sink(value));
}

static GVariant *
sim_object_get(SimObject *obj, const gchar *iface, const gchar *name)
{
	GHashTable *props = g_hash_table_lookup(obj->ifaces, iface);
	return props != NULL ? g_hash_table_lookup(props, name) : NULL;
}

/* sets properties and emits one PropertiesChanged for them: NULL-terminated name, value pairs */
static void
sim_object_update(SimObject *obj, const gchar *iface, ...)
{
	GVariantBuilder changed;
	va_list args;
	const gchar *name;

	g_variant_builder_init(&changed, G_VARIANT_TYPE("a{sv}"));
	va_start(args, iface);
	while ((name = va_arg(args, const gchar *)) != NULL) {
		GVariant *value = g_variant_ref_sink(va_arg(args, GVariant *));
		sim_object_set(obj, iface, name, value);
		g_variant_builder_add(&changed, "{sv}", name, value);
		g_variant_unref(value);
	}
	va_end(args);
	if (obj->reg_ids->len == 0)
		return;
	g_dbus_connection_emit_signal(obj->sim->conn,
				      NULL,
				      obj->path,
				      "org.freedesktop.DBus.Properties",
				      "PropertiesChanged",
				      g_variant_new("(sa{sv}as)", iface, &changed, NULL),
				      NULL);
}

/* BlueZ drops a property it no longer knows, e.g. RSSI when discovery stops */
static void
sim_object_invalidate(SimObject *obj, const gchar *iface, const gchar *name)
{
	const gchar *names[] = {name, NULL};
	if (!g_hash_table_remove(sim_object_props(obj, iface), name) || obj->reg_ids->len == 0)
		return;
	g_dbus_connection_emit_signal(
	    obj->sim->conn,
	    NULL,
	    obj->path,
	    "org.freedesktop.DBus.Properties",
	    "PropertiesChanged",
	    g_variant_new("(s@a{sv}^as)",
			  iface,
			  g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0),
			  names),
	    NULL);
}

static GVariant *
sim_object_ifaces_variant(SimObject *obj)
{
	GVariantBuilder ifaces;
	GHashTableIter it;
	gpointer iface;
	gpointer props;

	g_variant_builder_init(&ifaces, G_VARIANT_TYPE("a{sa{sv}}"));
	g_hash_table_iter_init(&it, obj->ifaces);
	while (g_hash_table_iter_next(&it, &iface, &props)) {
		GVariantBuilder pb;
		GHashTableIter pit;
		gpointer name;
		gpointer value;
		g_variant_builder_init(&pb, G_VARIANT_TYPE("a{sv}"));
		g_hash_table_iter_init(&pit, props);
		while (g_hash_table_iter_next(&pit, &name, &value))
			g_variant_builder_add(&pb, "{sv}", name, value);
		g_variant_builder_add(&ifaces, "{sa{sv}}", iface, &pb);
	}
	return g_variant_builder_end(&ifaces);
}

static void
sim_method_call(GDBusConnection *conn,
		const gchar *sender,
		const gchar *path,
		const gchar *iface,
		const gchar *method,
		GVariant *params,
		GDBusMethodInvocation *invocation,
		gpointer user_data);

static GVariant *
sim_get_property(GDBusConnection *conn,
		 const gchar *sender,
		 const gchar *path,
		 const gchar *iface,
		 const gchar *name,
		 GError **error,
		 gpointer user_data)
{
	SimObject *obj = user_data;
	GVariant *value = sim_object_get(obj, iface, name);
	if (value == NULL) {
		g_set_error(error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_PROPERTY, "no %s", name);
		return NULL;
	}
	return g_variant_ref(value);
}

static const GDBusInterfaceVTable sim_vtable = {sim_method_call, sim_get_property, NULL};

static void
sim_object_export(SimObject *obj)
{
	GHashTableIter it;
	gpointer iface;

	g_hash_table_iter_init(&it, obj->ifaces);
	while (g_hash_table_iter_next(&it, &iface, NULL)) {
		GDBusInterfaceInfo *info =
		    g_dbus_node_info_lookup_interface(obj->sim->introspection, iface);
		g_autoptr(GError) error = NULL;
		guint id = g_dbus_connection_register_object(obj->sim->conn,
							     obj->path,
							     info,
							     &sim_vtable,
							     obj,
							     NULL,
							     &error);
		if (id == 0)
			g_error("registering %s on %s: %s",
				(gchar *)iface,
				obj->path,
				error->message);
		g_array_append_val(obj->reg_ids, id);
	}
	if (g_strcmp0(obj->path, "/") != 0) {
		g_dbus_connection_emit_signal(
		    obj->sim->conn,
		    NULL,
		    "/",
		    "org.freedesktop.DBus.ObjectManager",
		    "InterfacesAdded",
		    g_variant_new("(o@a{sa{sv}})", obj->path, sim_object_ifaces_variant(obj)),
		    NULL);
	}
}

static void
sim_object_unexport(SimObject *obj)
{
	GVariantBuilder names;
	GHashTableIter it;
	gpointer iface;

	if (obj->reg_ids->len == 0)
		return;
	for (guint i = 0; i < obj->reg_ids->len; i++)
		g_dbus_connection_unregister_object(obj->sim->conn,
						    g_array_index(obj->reg_ids, guint, i));
	g_array_set_size(obj->reg_ids, 0);
	g_variant_builder_init(&names, G_VARIANT_TYPE("as"));
	g_hash_table_iter_init(&it, obj->ifaces);
	while (g_hash_table_iter_next(&it, &iface, NULL))
		g_variant_builder_add(&names, "s", iface);
	g_dbus_connection_emit_signal(obj->sim->conn,
				      NULL,
				      "/",
				      "org.freedesktop.DBus.ObjectManager",
				      "InterfacesRemoved",
				      g_variant_new("(oas)", obj->path, &names),
				      NULL);
}

static SimObject *
sim_object_new(Sim *sim, const gchar *path)
{
	SimObject *obj = g_new0(SimObject, 1);
	obj->sim = sim;
	obj->path = g_strdup(path);
	obj->ifaces = g_hash_table_new_full(g_str_hash,
					    g_str_equal,
					    g_free,
					    (GDestroyNotify)g_hash_table_unref);
	obj->reg_ids = g_array_new(FALSE, FALSE, sizeof(guint));
	g_ptr_array_add(sim->objects, obj);
	return obj;
}

static void
sim_object_free(SimObject *obj)
{
	g_free(obj->path);
	g_free(obj->dis_value);
	g_hash_table_unref(obj->ifaces);
	g_array_unref(obj->reg_ids);
	g_free(obj);
}

/* removes the GATT objects under a device, as BlueZ does when a device disconnects and its
 * database is not cached (an unbonded device) or changes (service changed) */
static void
sim_device_remove_gatt(Sim *sim, SimObject *dev)
{
	g_autofree gchar *prefix = g_strdup_printf("%s/", dev->path);
	for (guint i = sim->objects->len; i > 0; i--) {
		SimObject *obj = g_ptr_array_index(sim->objects, i - 1);
		if (!g_str_has_prefix(obj->path, prefix))
			continue;
		sim_object_unexport(obj);
		g_ptr_array_remove_index(sim->objects, i - 1);
	}
	sim->cp = NULL;
	sim->packet = NULL;
	sim->buttonless = NULL;
}

static SimObject *
sim_add_service(Sim *sim, SimObject *dev, const gchar *uuid)
{
	g_autofree gchar *path = g_strdup_printf("%s/service%04x", dev->path, sim->handle_counter);
	SimObject *svc = sim_object_new(sim, path);
	sim->handle_counter += 1;
	sim_object_set(svc, "org.bluez.GattService1", "UUID", g_variant_new_string(uuid));
	sim_object_set(svc, "org.bluez.GattService1", "Primary", g_variant_new_boolean(TRUE));
	sim_object_set(svc,
		       "org.bluez.GattService1",
		       "Device",
		       g_variant_new_object_path(dev->path));
	return svc;
}

static SimObject *
sim_add_char(Sim *sim, SimObject *svc, const gchar *uuid, CharKind kind, const gchar *const *flags)
{
	g_autofree gchar *path = g_strdup_printf("%s/char%04x", svc->path, sim->handle_counter);
	SimObject *chr = sim_object_new(sim, path);
	const gchar *iface = "org.bluez.GattCharacteristic1";
	sim->handle_counter += 2;
	chr->kind = kind;
	sim_object_set(chr, iface, "UUID", g_variant_new_string(uuid));
	sim_object_set(chr, iface, "Service", g_variant_new_object_path(svc->path));
	sim_object_set(chr,
		       iface,
		       "Value",
		       g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, "", 0, 1));
	sim_object_set(chr, iface, "Notifying", g_variant_new_boolean(FALSE));
	sim_object_set(chr, iface, "Flags", g_variant_new_strv(flags, -1));
	sim_object_set(chr, iface, "MTU", g_variant_new_uint16(sim->att_mtu));
	return chr;
}

static void
sim_export_under(Sim *sim, SimObject *dev)
{
	g_autofree gchar *prefix = g_strdup_printf("%s/", dev->path);
	for (guint i = 0; i < sim->objects->len; i++) {
		SimObject *obj = g_ptr_array_index(sim->objects, i);
		if (g_str_has_prefix(obj->path, prefix) && obj->reg_ids->len == 0)
			sim_object_export(obj);
	}
}

/* the GATT database of what runs now */
static void
sim_device_add_gatt(Sim *sim, SimObject *dev)
{
	static const gchar *cp_flags[] = {"write", "notify", NULL};
	static const gchar *packet_flags[] = {"write-without-response", NULL};
	static const gchar *buttonless_flags[] = {"write", "indicate", NULL};
	static const gchar *read_flags[] = {"read", NULL};
	SimObject *svc;

	if (sim->persona == PERSONA_APP) {
		SimObject *chr;
		svc = sim_add_service(sim, dev, UUID_DIS_SERVICE);
		chr = sim_add_char(sim, svc, UUID_DIS_MODEL, CHAR_DIS, read_flags);
		chr->dis_value = g_strdup("nRF52840-sim");
		chr = sim_add_char(sim, svc, UUID_DIS_MANUFACTURER, CHAR_DIS, read_flags);
		chr->dis_value = g_strdup("Nordic Semiconductor");
		if (!sim->app_no_fw_revision) {
			chr = sim_add_char(sim, svc, UUID_DIS_FW_REVISION, CHAR_DIS, read_flags);
			chr->dis_value = g_strdup_printf("%u", sim->app_version);
		}
		if (!sim->app_no_dfu) {
			svc = sim_add_service(sim, dev, UUID_DFU_SERVICE);
			sim->buttonless =
			    sim_add_char(sim,
					 svc,
					 sim->app_bonds ? UUID_BUTTONLESS_BONDS : UUID_BUTTONLESS,
					 CHAR_BUTTONLESS,
					 buttonless_flags);
		}
	} else {
		svc = sim_add_service(sim, dev, UUID_DFU_SERVICE);
		sim->cp = sim_add_char(sim, svc, UUID_CONTROL_POINT, CHAR_CONTROL_POINT, cp_flags);
		sim->packet = sim_add_char(sim, svc, UUID_PACKET, CHAR_PACKET, packet_flags);
	}
	sim_export_under(sim, dev);
}

static gchar *
sim_address_to_path(const gchar *address)
{
	g_autofree gchar *tmp = g_strdup(address);
	g_strdelimit(tmp, ":", '_');
	return g_strdup_printf("%s/dev_%s", BLUEZ_SIM_ADAPTER_PATH, tmp);
}

/* BlueZ holds GATT objects under the device: resolved on this link or cached from the last */
static gboolean
sim_device_has_gatt(Sim *sim, SimObject *dev)
{
	g_autofree gchar *prefix = g_strdup_printf("%s/", dev->path);
	for (guint i = 0; i < sim->objects->len; i++) {
		SimObject *obj = g_ptr_array_index(sim->objects, i);
		if (g_str_has_prefix(obj->path, prefix))
			return TRUE;
	}
	return FALSE;
}

static SimObject *
sim_device_new(Sim *sim, const gchar *address, const gchar *name, gboolean paired)
{
	g_autofree gchar *path = sim_address_to_path(address);
	SimObject *dev = sim_object_new(sim, path);
	const gchar *iface = "org.bluez.Device1";
	const gchar *uuids[] = {UUID_DFU_SERVICE, NULL};

	dev->is_device = TRUE;
	sim_object_set(dev, iface, "Address", g_variant_new_string(address));
	sim_object_set(dev, iface, "AddressType", g_variant_new_string("random"));
	sim_object_set(dev, iface, "Name", g_variant_new_string(name));
	sim_object_set(dev, iface, "Alias", g_variant_new_string(name));
	sim_object_set(dev, iface, "Adapter", g_variant_new_object_path(BLUEZ_SIM_ADAPTER_PATH));
	sim_object_set(dev, iface, "Connected", g_variant_new_boolean(FALSE));
	sim_object_set(dev, iface, "Paired", g_variant_new_boolean(paired));
	sim_object_set(dev, iface, "Bonded", g_variant_new_boolean(paired));
	sim_object_set(dev, iface, "ServicesResolved", g_variant_new_boolean(FALSE));
	sim_object_set(dev, iface, "UUIDs", g_variant_new_strv(uuids, -1));
	return dev;
}

/* ---- the link ---- */

/* the host's write channel: its watch and its end */
static void
sim_close_write(Sim *sim)
{
	if (sim->write_watch != 0) {
		g_source_remove(sim->write_watch);
		sim->write_watch = 0;
	}
	if (sim->write_fd >= 0) {
		close(sim->write_fd);
		sim->write_fd = -1;
	}
}

static void
sim_close_fds(Sim *sim)
{
	sim_close_write(sim);
	if (sim->notify_fd >= 0) {
		close(sim->notify_fd);
		sim->notify_fd = -1;
	}
}

/* the connection event at or after t that has room in this direction */
static gint64
sim_link_slot(Sim *sim, gint64 t_us, gint64 *event, guint *used)
{
	gdouble ci = sim_ci_us(sim);
	gint64 k = (gint64)ceil((t_us - sim->link_t0_us) / ci);
	if (k < *event)
		k = *event;
	if (k == *event && *used >= sim->ppi)
		k++;
	if (k != *event) {
		*event = k;
		*used = 0;
	}
	(*used)++;
	return sim->link_t0_us + (gint64)(k * ci);
}

static void
sim_link_up(Sim *sim)
{
	sim->connected = TRUE;
	sim->link_t0_us = sim_now();
	sim->up_event = 0;
	sim->up_used = 0;
	sim->down_event = 0;
	sim->down_used = 0;
	sim->connects++;
}

static void
sim_up_item_free(UpItem *item)
{
	g_byte_array_unref(item->bytes);
	g_free(item);
}

static void
sim_down_item_free(DownItem *item)
{
	g_byte_array_unref(item->bytes);
	g_free(item);
}

static guint
sim_packets_in_flight(Sim *sim)
{
	guint n = 0;
	for (GList *l = sim->uplink.head; l != NULL; l = l->next) {
		UpItem *item = l->data;
		if (item->kind == UP_PACKET)
			n++;
	}
	return n;
}

static void
sim_link_down(Sim *sim, const gchar *why)
{
	UpItem *item;
	DownItem *down;
	PendingReply *reply;
	SimObject *dev = sim->cur_dev;

	if (!sim->connected)
		return;
	sim->connected = FALSE;
	sim->link_drops++;
	if (sim->resolve_id != 0) {
		g_source_remove(sim->resolve_id);
		sim->resolve_id = 0;
	}
	while ((item = g_queue_pop_head(&sim->uplink)) != NULL) {
		if (item->kind == UP_PACKET)
			sim->packets_lost++;
		sim_up_item_free(item);
	}
	while ((down = g_queue_pop_head(&sim->downlink)) != NULL)
		sim_down_item_free(down);
	while ((reply = g_queue_pop_head(&sim->replies)) != NULL) {
		g_dbus_method_invocation_return_dbus_error(reply->invocation,
							   "org.bluez.Error.Failed",
							   "Not connected");
		g_free(reply);
	}
	sim_close_fds(sim);
	sim_trace(sim,
		  "\"event\":\"disconnect\",\"reason\":\"%s\",\"device\":\"%s\"",
		  why,
		  dev->path);
	sim_object_update(dev,
			  "org.bluez.Device1",
			  "Connected",
			  g_variant_new_boolean(FALSE),
			  "ServicesResolved",
			  g_variant_new_boolean(FALSE),
			  NULL);
	/* the characteristics stop notifying with the link */
	for (guint i = 0; i < sim->objects->len; i++) {
		SimObject *obj = g_ptr_array_index(sim->objects, i);
		GVariant *notifying =
		    sim_object_get(obj, "org.bluez.GattCharacteristic1", "Notifying");
		if (notifying != NULL && g_variant_get_boolean(notifying))
			sim_object_update(obj,
					  "org.bluez.GattCharacteristic1",
					  "Notifying",
					  g_variant_new_boolean(FALSE),
					  NULL);
	}
	/* an unbonded device's database is not kept */
	if (sim->persona == PERSONA_BOOTLOADER && sim->bl_dev != sim->app_dev)
		sim_device_remove_gatt(sim, dev);
}

/* a frame of the serial transport the model takes: the request, SLIP-encoded */
static void
sim_model_feed(Sim *sim, const guint8 *buf, gsize len, gint64 t_us)
{
	g_autoptr(GByteArray) frame = g_byte_array_new();
	for (gsize i = 0; i < len; i++) {
		guint8 b = buf[i];
		if (b == 0xC0) {
			const guint8 esc[] = {0xDB, 0xDC};
			g_byte_array_append(frame, esc, 2);
		} else if (b == 0xDB) {
			const guint8 esc[] = {0xDB, 0xDD};
			g_byte_array_append(frame, esc, 2);
		} else {
			g_byte_array_append(frame, &b, 1);
		}
	}
	g_byte_array_append(frame, (const guint8 *)"\xC0", 1);
	usbsim_nrf_receive(sim->model, frame->data, frame->len, t_us);
}

static GByteArray *
sim_slip_decode(GByteArray *frame)
{
	GByteArray *out = g_byte_array_new();
	for (guint i = 0; i < frame->len; i++) {
		guint8 b = frame->data[i];
		if (b == 0xC0)
			continue;
		if (b == 0xDB && i + 1 < frame->len) {
			b = frame->data[++i] == 0xDC ? 0xC0 : 0xDB;
		}
		g_byte_array_append(out, &b, 1);
	}
	return out;
}

/* the BLE limit of one executed object (README): the erase that create waits for, the larger of
 * the link time of its packets and the flash time of its words, and four connection events
 * for the create and execute exchanges */
static void
sim_limit_add_object(Sim *sim, guint32 size, gboolean data)
{
	guint chunk = sim->att_mtu - ATT_HEADER;
	guint packets = (size + chunk - 1) / chunk;
	gdouble ci = sim_ci_us(sim);
	gdouble wire = ceil((gdouble)packets / sim->ppi) * ci;
	gdouble program =
	    data ? (size + 3) / 4 * (USBSIM_NRF_PROGRAM_WORD_NS / 1000.0) * sim->time_scale : 0;
	gdouble erase = data ? ceil(size / (gdouble)USBSIM_NRF_PAGE_SIZE) *
				   USBSIM_NRF_ERASE_PAGE_US * sim->time_scale
			     : 0;
	sim->limit_us += erase + MAX(wire, program) + 4 * ci;
	if (data)
		sim->data_bytes_executed += size;
}

/* what the bootloader's replies say, for the limit */
static void
sim_observe_response(Sim *sim, GByteArray *rsp)
{
	if (rsp->len < 3 || rsp->data[0] != 0x60 || rsp->data[2] != 0x01)
		return;
	if (rsp->data[1] == 0x04 && sim->create_size != 0) {
		sim_limit_add_object(sim, sim->create_size, sim->create_type == 2);
		sim->create_size = 0;
		sim->last_execute_us = sim_now();
	}
}

static void
sim_deliver_notification(Sim *sim, SimObject *chr, GByteArray *bytes)
{
	sim->notifications++;
	if (chr == sim->cp && sim->notify_fd >= 0) {
		if (send(sim->notify_fd, bytes->data, bytes->len, MSG_DONTWAIT) < 0)
			g_debug("notify: %s", g_strerror(errno));
		return;
	}
	if (!g_variant_get_boolean(
		sim_object_get(chr, "org.bluez.GattCharacteristic1", "Notifying")))
		return;
	sim_object_update(
	    chr,
	    "org.bluez.GattCharacteristic1",
	    "Value",
	    g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, bytes->data, bytes->len, 1),
	    NULL);
}

static void
sim_queue_notification(Sim *sim, SimObject *chr, const guint8 *buf, gsize len, gint64 ready_us)
{
	DownItem *item = g_new0(DownItem, 1);
	item->due_us = sim_link_slot(sim, ready_us, &sim->down_event, &sim->down_used);
	item->bytes = g_byte_array_new();
	g_byte_array_append(item->bytes, buf, len);
	item->chr = chr;
	g_queue_push_tail(&sim->downlink, item);
}

static void
sim_reply_later(Sim *sim, GDBusMethodInvocation *invocation, gint64 due_us)
{
	PendingReply *reply = g_new0(PendingReply, 1);
	reply->due_us = due_us;
	reply->invocation = invocation;
	g_queue_push_tail(&sim->replies, reply);
}

static void
sim_device_connect(Sim *sim, SimObject *dev, GDBusMethodInvocation *invocation);

/* while BlueZ discovers, an advertiser it sees has an RSSI */
static void
sim_seen(Sim *sim)
{
	if (sim->discovering && sim->advertising && sim->cur_dev->reg_ids->len > 0)
		sim_object_update(sim->cur_dev,
				  "org.bluez.Device1",
				  "RSSI",
				  g_variant_new_int16(-60),
				  NULL);
}

static void
sim_advertise_start(Sim *sim);

/* what runs now advertises: the application at its address, or the bootloader; a Connect that
 * waited for it completes, as BlueZ's does */
static void
sim_advertise(Sim *sim)
{
	sim_advertise_start(sim);
	if (sim->pending_connect != NULL && sim->pending_dev == sim->cur_dev) {
		GDBusMethodInvocation *invocation = g_steal_pointer(&sim->pending_connect);
		sim->pending_dev = NULL;
		sim_device_connect(sim, sim->cur_dev, invocation);
	}
}

static void
sim_advertise_start(Sim *sim)
{
	sim->advertising = TRUE;
	if (sim->persona == PERSONA_APP) {
		/* a device BlueZ knows (and has paired): its object stays */
		sim->app_adverts++;
		sim_trace(sim,
			  "\"event\":\"advertising\",\"address\":\"%s\",\"runs\":\"application\"",
			  sim->address);
		sim_seen(sim);
		return;
	}
	sim_trace(sim, "\"event\":\"advertising\",\"address\":\"%s\"", sim->bl_address);
	g_string_append_printf(sim->addresses,
			       "%s\"%s\"",
			       sim->addresses->len ? "," : "",
			       sim->bl_address);
	/* BlueZ shows a device it has not seen before once discovery finds it */
	if (sim->bl_dev->reg_ids->len == 0 && sim->discovering)
		sim_object_export(sim->bl_dev);
	sim_seen(sim);
}

static void
sim_buttonless_write(Sim *sim, const guint8 *buf, gsize len, gint64 t_us)
{
	guint8 rsp[3] = {BUTTONLESS_OP_RESPONSE,
			 len > 0 ? buf[0] : 0,
			 BUTTONLESS_RES_NOT_SUPPORTED};

	if (len == 1 && buf[0] == BUTTONLESS_OP_ENTER_BOOTLOADER) {
		sim->enter_bootloader++;
		if (sim->buttonless_silent) {
			sim_trace(sim, "\"event\":\"buttonless\",\"indication\":false");
			return;
		}
		rsp[2] = sim->buttonless_result >= 0 ? (guint8)sim->buttonless_result
						     : BUTTONLESS_RES_SUCCESS;
		sim_trace(sim, "\"event\":\"buttonless\",\"result\":%u", rsp[2]);
		if (rsp[2] == BUTTONLESS_RES_SUCCESS && !sim->buttonless_stays)
			sim->reboot_at_us = t_us + (gint64)(3 * sim_ci_us(sim));
	}
	sim_queue_notification(sim,
			       sim->buttonless,
			       rsp,
			       sizeof(rsp),
			       t_us + (gint64)sim_ci_us(sim));
}

/* the application reset into the bootloader, or the bootloader into the application */
static void
sim_switch_persona(Sim *sim, Persona persona)
{
	SimObject *old_dev = sim->cur_dev;
	sim_link_down(sim, persona == PERSONA_BOOTLOADER ? "enter-bootloader" : "reset");
	sim->persona = persona;
	if (old_dev != NULL && old_dev->reg_ids->len > 0)
		sim_device_remove_gatt(sim, old_dev);
	sim->cur_dev = persona == PERSONA_BOOTLOADER ? sim->bl_dev : sim->app_dev;
	sim->advertising = FALSE;
	sim_trace(sim,
		  "\"event\":\"persona\",\"runs\":\"%s\"",
		  persona == PERSONA_BOOTLOADER ? "bootloader" : "application");
}

/* how many images the model has post-validated and activated so far */
static guint
sim_model_images_activated(Sim *sim, gint64 now_us)
{
	g_autofree gchar *json = usbsim_nrf_summary_json(sim->model, now_us, NULL);
	const gchar *n = strstr(json, "\"images_activated\":");
	if (n == NULL)
		return 0;
	return (guint)g_ascii_strtoull(n + strlen("\"images_activated\":"), NULL, 10);
}

/* whether the model's settings hold a valid application, and its version, after a reset: what
 * the SDK's bootloader checks before it starts the application */
static gboolean
sim_model_app(Sim *sim, gint64 now_us, guint *version)
{
	g_autofree gchar *json = usbsim_nrf_summary_json(sim->model, now_us, NULL);
	const gchar *ver = strstr(json, "\"app_version\":");
	if (strstr(json, "\"app_valid\":true") == NULL || ver == NULL)
		return FALSE;
	*version = (guint)g_ascii_strtoull(ver + strlen("\"app_version\":"), NULL, 10);
	return TRUE;
}

static gboolean
sim_write_readable_cb(gint fd, GIOCondition cond, gpointer user_data);

static void
sim_write_watch(Sim *sim)
{
	if (sim->write_fd >= 0 && sim->write_watch == 0)
		sim->write_watch =
		    g_unix_fd_add(sim->write_fd, G_IO_IN | G_IO_HUP, sim_write_readable_cb, sim);
}

/* one write without response from the host's socket onto the link */
/* --drop-link-after: the link is lost once, after the packet of that number */
static gboolean
sim_drop_link_at_packet(Sim *sim)
{
	if (sim->drop_link_after == 0 || sim->drop_done || sim->packets < sim->drop_link_after)
		return FALSE;
	sim->drop_done = TRUE;
	sim_link_down(sim, "link-loss");
	sim->advertising = TRUE;
	return TRUE;
}

static gboolean
sim_read_packet(Sim *sim)
{
	guint8 buf[600];
	gssize n = recv(sim->write_fd, buf, sizeof(buf), MSG_DONTWAIT);
	UpItem *item;

	if (n <= 0)
		return FALSE;
	sim->packets++;
	if (sim->first_packet_us == 0)
		sim->first_packet_us = sim_now();
	if ((gsize)n > sim->att_mtu - ATT_HEADER) {
		sim_trace(sim, "\"event\":\"packet-too-long\",\"length\":%d", (gint)n);
		return TRUE;
	}
	item = g_new0(UpItem, 1);
	item->kind = UP_PACKET;
	item->bytes = g_byte_array_new();
	g_byte_array_append(item->bytes, (const guint8 *)"\x08", 1);
	g_byte_array_append(item->bytes, buf, n);
	item->arrival_us = sim_link_slot(sim, sim_now(), &sim->up_event, &sim->up_used);
	g_queue_push_tail(&sim->uplink, item);
	return !sim_drop_link_at_packet(sim);
}

static gboolean
sim_write_readable_cb(gint fd, GIOCondition cond, gpointer user_data)
{
	Sim *sim = user_data;
	while (sim->connected && sim_packets_in_flight(sim) < sim->controller_buffers) {
		if (!sim_read_packet(sim))
			break;
	}
	if (!sim->connected) {
		sim->write_watch = 0;
		return G_SOURCE_REMOVE;
	}
	if (cond & G_IO_HUP) {
		/* the host released the write: what is in the socket still goes out */
		while (sim_read_packet(sim))
			;
		close(sim->write_fd);
		sim->write_fd = -1;
		sim->write_watch = 0;
		sim_pump_schedule(sim);
		return G_SOURCE_REMOVE;
	}
	sim_pump_schedule(sim);
	/* the controller's buffers are full: the host's socket fills up until the link drains */
	if (sim_packets_in_flight(sim) >= sim->controller_buffers) {
		sim->write_watch = 0;
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

/* the write responses and notifications due by @until reach the host */
static void
sim_deliver(Sim *sim, gint64 until)
{
	PendingReply *reply;
	DownItem *down;

	while ((reply = g_queue_peek_head(&sim->replies)) != NULL && reply->due_us <= until) {
		g_queue_pop_head(&sim->replies);
		g_dbus_method_invocation_return_value(reply->invocation, NULL);
		g_free(reply);
	}
	while ((down = g_queue_peek_head(&sim->downlink)) != NULL && down->due_us <= until) {
		g_queue_pop_head(&sim->downlink);
		sim_deliver_notification(sim, down->chr, down->bytes);
		sim_down_item_free(down);
	}
}

static gboolean
sim_pump_cb(gpointer user_data);

static void
sim_pump_schedule(Sim *sim)
{
	if (sim->pump_id != 0)
		g_source_remove(sim->pump_id);
	sim->pump_id = g_idle_add(sim_pump_cb, sim);
}

static gboolean
sim_pump_cb(gpointer user_data)
{
	Sim *sim = user_data;
	gint64 now = sim_now();
	gint64 next = G_MAXINT64;
	gint64 model_next = G_MAXINT64;
	gint64 back_us = 0;
	UpItem *up;
	PendingReply *reply;
	DownItem *down;
	GByteArray *frame;

	sim->pump_id = 0;

	if (sim->boot_at_us != 0 && now >= sim->boot_at_us) {
		sim->boot_at_us = 0;
		sim_advertise(sim);
	}

	/* what arrived at the device, in the order it arrived */
	while ((up = g_queue_peek_head(&sim->uplink)) != NULL && up->arrival_us <= now) {
		g_queue_pop_head(&sim->uplink);
		if (up->kind == UP_BUTTONLESS) {
			sim_buttonless_write(sim, up->bytes->data, up->bytes->len, up->arrival_us);
		} else {
			if (up->kind == UP_CONTROL && up->bytes->len >= 6 &&
			    up->bytes->data[0] == 0x01) {
				sim->create_type = up->bytes->data[1];
				sim->create_size = up->bytes->data[2] | (up->bytes->data[3] << 8) |
						   (up->bytes->data[4] << 16) |
						   ((guint32)up->bytes->data[5] << 24);
			}
			sim_model_feed(sim, up->bytes->data, up->bytes->len, up->arrival_us);
		}
		sim_up_item_free(up);
	}

	/* the bootloader's replies go out as notifications of the control point */
	if (sim->persona == PERSONA_BOOTLOADER) {
		while ((frame = usbsim_nrf_take_response(sim->model, now, &model_next)) != NULL) {
			g_autoptr(GByteArray) rsp = sim_slip_decode(frame);
			g_byte_array_unref(frame);
			if (!sim->connected || sim->cp == NULL)
				continue;
			/* the answer to the execute that activated an image is lost with the link,
			 * as when the bootloader resets before it has gone out */
			if (sim->lose_final_answer && rsp->len >= 3 && rsp->data[1] == 0x04 &&
			    rsp->data[2] == 0x01) {
				guint activated = sim_model_images_activated(sim, now);
				if (activated > sim->images_activated_seen) {
					sim->images_activated_seen = activated;
					sim_trace(sim, "\"event\":\"final-answer-lost\"");
					sim_link_down(sim, "reset");
					continue;
				}
			}
			sim_observe_response(sim, rsp);
			sim_queue_notification(sim, sim->cp, rsp->data, rsp->len, now);
		}
		if (usbsim_nrf_take_reset(sim->model, now, &back_us)) {
			guint app_version = 0;
			gboolean app_valid = sim_model_app(sim, now, &app_version);
			sim_trace(sim,
				  "\"event\":\"bootloader-reset\",\"app_valid\":%s",
				  app_valid ? "true" : "false");
			/* the response that ended the update went out before the reset, however
			 * late this runs */
			sim_deliver(sim, G_MAXINT64);
			if (sim->bootloader_stays) {
				/* a bootloader built to stay in DFU mode: it keeps the link and
				 * answers, with the settings of the image it activated */
				usbsim_nrf_boot(sim->model, now);
				usbsim_nrf_app_detach(sim->model, now);
				usbsim_nrf_take_reset(sim->model, now, &back_us);
				usbsim_nrf_boot(sim->model, now);
				sim_trace(sim, "\"event\":\"bootloader-stays\"");
				goto deliver;
			}
			/* an image was activated and the chip boots through the bootloader: it
			 * starts the application if that is valid; a SoftDevice or bootloader
			 * update leaves none, and the bootloader stays */
			usbsim_nrf_boot(sim->model, MAX(back_us, now));
			if (app_valid)
				sim->app_version = app_version;
			sim_switch_persona(sim, app_valid ? PERSONA_APP : PERSONA_BOOTLOADER);
			/* the application's pairing is gone (removed on the host, or the keys
			 * changed), so fwupd's BlueZ backend does not offer it */
			if (app_valid && sim->app_unpaired)
				sim_object_update(sim->app_dev,
						  "org.bluez.Device1",
						  "Paired",
						  g_variant_new_boolean(FALSE),
						  "Bonded",
						  g_variant_new_boolean(FALSE),
						  NULL);
			/* an application that does not advertise, or is out of range */
			if (app_valid && sim->app_silent)
				sim_trace(sim, "\"event\":\"app-silent\"");
			else
				sim->boot_at_us = MAX(back_us, now);
		}
	}
deliver:
	sim_deliver(sim, now);

	/* the application restarts into the bootloader, after the indication and the write
	 * response due before it went out above */
	if (sim->reboot_at_us != 0 && now >= sim->reboot_at_us) {
		sim->reboot_at_us = 0;
		sim_switch_persona(sim, PERSONA_BOOTLOADER);
		if (!sim->bootloader_absent)
			sim->boot_at_us = now + (gint64)(BLUEZ_SIM_REBOOT_US * sim->time_scale);
	}

	/* room on the link again: read the host's socket */
	if (sim->connected && sim_packets_in_flight(sim) < sim->controller_buffers)
		sim_write_watch(sim);

	/* when something is due next */
	if ((up = g_queue_peek_head(&sim->uplink)) != NULL)
		next = MIN(next, up->arrival_us);
	if ((reply = g_queue_peek_head(&sim->replies)) != NULL)
		next = MIN(next, reply->due_us);
	if ((down = g_queue_peek_head(&sim->downlink)) != NULL)
		next = MIN(next, down->due_us);
	if (sim->persona == PERSONA_BOOTLOADER)
		next = MIN(next, model_next);
	/* the bootloader resets on its own once it has activated an image: the link notices
	 * it at the next connection event */
	if (sim->persona == PERSONA_BOOTLOADER && sim->connected) {
		gdouble ci = sim_ci_us(sim);
		next =
		    MIN(next,
			sim->link_t0_us + (gint64)((floor((now - sim->link_t0_us) / ci) + 1) * ci));
	}
	if (sim->reboot_at_us != 0)
		next = MIN(next, sim->reboot_at_us);
	if (sim->boot_at_us != 0)
		next = MIN(next, sim->boot_at_us);
	if (next != G_MAXINT64) {
		GSource *source = g_timeout_source_new(0);
		g_source_set_ready_time(source, MAX(next, now));
		g_source_set_callback(source, sim_pump_cb, sim, NULL);
		sim->pump_id = g_source_attach(source, NULL);
		g_source_unref(source);
	}
	return G_SOURCE_REMOVE;
}

static gboolean
sim_fd_hung_up(gint fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	return poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLHUP | POLLERR)) != 0;
}

/* the host's socket to a characteristic, as BlueZ's AcquireWrite and AcquireNotify give */
static void
sim_acquire(Sim *sim, SimObject *chr, GDBusMethodInvocation *invocation, gboolean write)
{
	gint sv[2];
	g_autoptr(GUnixFDList) fds = NULL;
	gint idx;

	if (!sim->connected) {
		g_dbus_method_invocation_return_dbus_error(invocation,
							   "org.bluez.Error.NotConnected",
							   "Not connected");
		return;
	}
	/* the host closing its end releases what it acquired */
	if (!write && sim->notify_fd >= 0 && sim_fd_hung_up(sim->notify_fd)) {
		close(sim->notify_fd);
		sim->notify_fd = -1;
	}
	if (write && sim->write_fd >= 0 && sim_fd_hung_up(sim->write_fd)) {
		while (sim_read_packet(sim))
			;
		sim_close_write(sim);
	}
	if ((write && sim->write_fd >= 0) || (!write && sim->notify_fd >= 0)) {
		g_dbus_method_invocation_return_dbus_error(invocation,
							   "org.bluez.Error.NotPermitted",
							   write ? "Write acquired"
								 : "Notify acquired");
		return;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
		g_dbus_method_invocation_return_dbus_error(invocation,
							   "org.bluez.Error.Failed",
							   g_strerror(errno));
		return;
	}
	fds = g_unix_fd_list_new();
	idx = g_unix_fd_list_append(fds, sv[1], NULL);
	close(sv[1]);
	if (write) {
		/* the kernel's socket buffer stands for the host's own queue: keep it small */
		gint size = 4096;
		setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
		sim->write_fd = sv[0];
		sim_write_watch(sim);
	} else {
		sim->notify_fd = sv[0];
		sim_object_update(chr,
				  "org.bluez.GattCharacteristic1",
				  "Notifying",
				  g_variant_new_boolean(TRUE),
				  NULL);
	}
	sim_trace(sim,
		  "\"event\":\"acquire\",\"write\":%s,\"mtu\":%u",
		  write ? "true" : "false",
		  sim->att_mtu);
	g_dbus_method_invocation_return_value_with_unix_fd_list(
	    invocation,
	    g_variant_new("(hq)", idx, (guint16)sim->att_mtu),
	    fds);
}

static void
sim_char_write(Sim *sim, SimObject *chr, GVariant *params, GDBusMethodInvocation *invocation)
{
	g_autoptr(GVariant) value = NULL;
	g_autoptr(GVariant) options = NULL;
	const guint8 *data;
	gsize len = 0;
	UpItem *item;
	gint64 arrival;

	g_variant_get(params, "(@ay@a{sv})", &value, &options);
	data = g_variant_get_fixed_array(value, &len, 1);
	if (!sim->connected || chr->reg_ids->len == 0) {
		g_dbus_method_invocation_return_dbus_error(invocation,
							   "org.bluez.Error.Failed",
							   "Not connected");
		return;
	}
	if (len > sim->att_mtu - ATT_HEADER) {
		g_dbus_method_invocation_return_dbus_error(invocation,
							   "org.bluez.Error.InvalidValueLength",
							   "Invalid Length");
		return;
	}
	if (chr->kind == CHAR_BUTTONLESS &&
	    !g_variant_get_boolean(
		sim_object_get(chr, "org.bluez.GattCharacteristic1", "Notifying"))) {
		/* ble_dfu.c answers an enter request without indications enabled so */
		g_dbus_method_invocation_return_dbus_error(invocation,
							   "org.bluez.Error.Failed",
							   "CCCD Improperly Configured (0xfd)");
		return;
	}
	/* what the host wrote to its socket before this request goes out before it */
	if (sim->write_fd >= 0) {
		while (sim->connected && sim_read_packet(sim))
			;
		if (!sim->connected) {
			g_dbus_method_invocation_return_dbus_error(invocation,
								   "org.bluez.Error.Failed",
								   "Not connected");
			return;
		}
	}
	item = g_new0(UpItem, 1);
	item->bytes = g_byte_array_new();
	g_byte_array_append(item->bytes, data, len);
	arrival = sim_link_slot(sim, sim_now(), &sim->up_event, &sim->up_used);
	item->arrival_us = arrival;
	switch (chr->kind) {
	case CHAR_PACKET:
		item->kind = UP_PACKET;
		g_byte_array_prepend(item->bytes, (const guint8 *)"\x08", 1);
		sim->packets++;
		sim->packets_write_value++;
		g_dbus_method_invocation_return_value(invocation, NULL);
		g_queue_push_tail(&sim->uplink, item);
		if (!sim_drop_link_at_packet(sim))
			sim_pump_schedule(sim);
		return;
	case CHAR_BUTTONLESS:
		item->kind = UP_BUTTONLESS;
		/* a write request: the response comes in the next connection event */
		sim_reply_later(sim, invocation, arrival + (gint64)sim_ci_us(sim));
		break;
	default:
		item->kind = UP_CONTROL;
		sim_reply_later(sim, invocation, arrival + (gint64)sim_ci_us(sim));
		break;
	}
	g_queue_push_tail(&sim->uplink, item);
	sim_pump_schedule(sim);
}

/* BlueZ has read the GATT database of the device it connected */
static gboolean
sim_services_resolved_cb(gpointer user_data)
{
	Sim *sim = user_data;
	sim->resolve_id = 0;
	sim_trace(sim, "\"event\":\"services-resolved\",\"device\":\"%s\"", sim->cur_dev->path);
	sim_object_update(sim->cur_dev,
			  "org.bluez.Device1",
			  "ServicesResolved",
			  g_variant_new_boolean(TRUE),
			  NULL);
	return G_SOURCE_REMOVE;
}

static void
sim_device_connect(Sim *sim, SimObject *dev, GDBusMethodInvocation *invocation)
{
	gboolean reachable;

	if (sim->connected && sim->cur_dev == dev) {
		g_dbus_method_invocation_return_value(invocation, NULL);
		return;
	}
	reachable = sim->cur_dev == dev && sim->advertising;
	/* BlueZ's LE Connect to a device that does not advertise waits for it to (until the
	 * connection timeout, or a Disconnect): one at a time */
	if (!reachable && sim->connect_hangs) {
		if (sim->pending_connect != NULL) {
			g_dbus_method_invocation_return_dbus_error(invocation,
								   "org.bluez.Error.InProgress",
								   "In Progress");
			return;
		}
		sim->connects_hung++;
		sim->pending_connect = invocation;
		sim->pending_dev = dev;
		sim_trace(sim, "\"event\":\"connect-pending\",\"device\":\"%s\"", dev->path);
		return;
	}
	if (!reachable) {
		g_dbus_method_invocation_return_dbus_error(invocation,
							   "org.bluez.Error.Failed",
							   "le-connection-abort-by-local");
		return;
	}
	sim->advertising = FALSE;
	sim_link_up(sim);
	sim_trace(sim, "\"event\":\"connect\",\"device\":\"%s\"", dev->path);
	if (!sim_device_has_gatt(sim, dev))
		sim_device_add_gatt(sim, dev);
	if (sim->resolve_ms == 0) {
		sim_object_update(dev,
				  "org.bluez.Device1",
				  "Connected",
				  g_variant_new_boolean(TRUE),
				  "ServicesResolved",
				  g_variant_new_boolean(TRUE),
				  NULL);
	} else {
		/* --resolve-ms: the services are resolved after Connect returns, as BlueZ reads
		 * the GATT database once connected */
		sim_object_update(dev,
				  "org.bluez.Device1",
				  "Connected",
				  g_variant_new_boolean(TRUE),
				  NULL);
		sim->resolve_id = g_timeout_add((guint)(sim->resolve_ms * sim->time_scale),
						sim_services_resolved_cb,
						sim);
	}
	g_dbus_method_invocation_return_value(invocation, NULL);
}

static void
sim_method_call(GDBusConnection *conn,
		const gchar *sender,
		const gchar *path,
		const gchar *iface,
		const gchar *method,
		GVariant *params,
		GDBusMethodInvocation *invocation,
		gpointer user_data)
{
	SimObject *obj = user_data;
	Sim *sim = obj->sim;

	if (g_strcmp0(method, "GetManagedObjects") == 0) {
		GVariantBuilder b;
		g_variant_builder_init(&b, G_VARIANT_TYPE("a{oa{sa{sv}}}"));
		for (guint i = 0; i < sim->objects->len; i++) {
			SimObject *o = g_ptr_array_index(sim->objects, i);
			if (g_strcmp0(o->path, "/") == 0 || o->reg_ids->len == 0)
				continue;
			g_variant_builder_add(&b,
					      "{o@a{sa{sv}}}",
					      o->path,
					      sim_object_ifaces_variant(o));
		}
		g_dbus_method_invocation_return_value(invocation,
						      g_variant_new("(a{oa{sa{sv}}})", &b));
		return;
	}
	if (g_strcmp0(iface, "org.bluez.Adapter1") == 0) {
		if (g_strcmp0(method, "StartDiscovery") == 0 && sim->discovery_refused) {
			/* as BlueZ with the adapter powered off */
			sim_trace(sim, "\"event\":\"discovery-refused\"");
			g_dbus_method_invocation_return_dbus_error(invocation,
								   "org.bluez.Error.NotReady",
								   "Resource Not Ready");
			return;
		}
		if (g_strcmp0(method, "StartDiscovery") == 0) {
			sim->discovering = TRUE;
			sim_object_update(obj,
					  iface,
					  "Discovering",
					  g_variant_new_boolean(TRUE),
					  NULL);
			if (sim->advertising && sim->cur_dev->reg_ids->len == 0)
				sim_object_export(sim->cur_dev);
			sim_seen(sim);
			sim_trace(sim, "\"event\":\"discovery\",\"on\":true");
		} else if (g_strcmp0(method, "StopDiscovery") == 0) {
			sim->discovering = FALSE;
			sim_object_update(obj,
					  iface,
					  "Discovering",
					  g_variant_new_boolean(FALSE),
					  NULL);
			sim_object_invalidate(sim->app_dev, "org.bluez.Device1", "RSSI");
			sim_object_invalidate(sim->bl_dev, "org.bluez.Device1", "RSSI");
		}
		g_dbus_method_invocation_return_value(invocation, NULL);
		return;
	}
	if (g_strcmp0(iface, "org.bluez.Device1") == 0) {
		if (g_strcmp0(method, "Connect") == 0) {
			sim_device_connect(sim, obj, invocation);
			return;
		}
		if (g_strcmp0(method, "Disconnect") == 0) {
			/* cancels a Connect that waits */
			if (sim->pending_connect != NULL && sim->pending_dev == obj) {
				g_dbus_method_invocation_return_dbus_error(
				    g_steal_pointer(&sim->pending_connect),
				    "org.bluez.Error.Failed",
				    "le-connection-abort-by-local");
				sim->pending_dev = NULL;
				sim_trace(sim, "\"event\":\"connect-cancelled\"");
			}
			if (sim->cur_dev == obj && sim->connected) {
				sim_link_down(sim, "host");
				sim->advertising = TRUE;
			}
			g_dbus_method_invocation_return_value(invocation, NULL);
			return;
		}
		/* the bootloader of an unbonded device has no security: pairing fails */
		if (!g_variant_get_boolean(sim_object_get(obj, iface, "Paired"))) {
			g_dbus_method_invocation_return_dbus_error(
			    invocation,
			    "org.bluez.Error.AuthenticationFailed",
			    "Pairing not supported");
			return;
		}
		g_dbus_method_invocation_return_dbus_error(invocation,
							   "org.bluez.Error.AlreadyExists",
							   "Already Paired");
		return;
	}
	if (g_strcmp0(method, "ReadValue") == 0) {
		const gchar *value = obj->dis_value != NULL ? obj->dis_value : "";
		g_dbus_method_invocation_return_value(
		    invocation,
		    g_variant_new(
			"(@ay)",
			g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, value, strlen(value), 1)));
		return;
	}
	if (g_strcmp0(method, "WriteValue") == 0) {
		sim_char_write(sim, obj, params, invocation);
		return;
	}
	if (g_strcmp0(method, "StartNotify") == 0 || g_strcmp0(method, "StopNotify") == 0) {
		gboolean on = g_strcmp0(method, "StartNotify") == 0;
		if (!sim->connected) {
			g_dbus_method_invocation_return_dbus_error(invocation,
								   "org.bluez.Error.Failed",
								   "Not connected");
			return;
		}
		sim_object_update(obj, iface, "Notifying", g_variant_new_boolean(on), NULL);
		g_dbus_method_invocation_return_value(invocation, NULL);
		return;
	}
	if (g_strcmp0(method, "AcquireWrite") == 0 || g_strcmp0(method, "AcquireNotify") == 0) {
		gboolean write = g_strcmp0(method, "AcquireWrite") == 0;
		if ((write && (obj->kind != CHAR_PACKET || sim->no_acquire_write)) ||
		    (!write && obj->kind != CHAR_CONTROL_POINT)) {
			g_dbus_method_invocation_return_dbus_error(invocation,
								   "org.bluez.Error.NotSupported",
								   "Not Supported");
			return;
		}
		sim_acquire(sim, obj, invocation, write);
		return;
	}
	g_dbus_method_invocation_return_dbus_error(invocation,
						   "org.bluez.Error.NotSupported",
						   method);
}

static void
sim_write_summary(Sim *sim)
{
	g_autofree gchar *extra = NULL;
	g_autofree gchar *summary = NULL;
	gdouble ci = sim_ci_us(sim);
	gdouble transfer_ms =
	    sim->first_packet_us != 0 && sim->last_execute_us > sim->first_packet_us
		? (sim->last_execute_us - sim->first_packet_us) / 1000.0
		: 0.0;

	extra = g_strdup_printf(
	    "\"ble\":{\"mode\":\"%s\",\"ci_ms\":%g,\"ppi\":%u,\"att_mtu\":%u,\"time_scale\":%g,"
	    "\"controller_buffers\":%u,\"packets\":%u,\"packets_write_value\":%u,"
	    "\"packets_lost\":%u,\"notifications\":%u,"
	    "\"link_drops\":%u,\"connects\":%u,\"enter_bootloader\":%u,\"addresses\":[%s],"
	    "\"app_adverts\":%u,\"connects_hung\":%u,"
	    "\"data_bytes_executed\":%" G_GUINT64_FORMAT ",\"limit_ble_ms\":%.3f,"
	    "\"link_bytes_per_s\":%.1f,\"transfer_ms\":%.3f}",
	    sim->mode,
	    sim->ci_ms,
	    sim->ppi,
	    sim->att_mtu,
	    sim->time_scale,
	    sim->controller_buffers,
	    sim->packets,
	    sim->packets_write_value,
	    sim->packets_lost,
	    sim->notifications,
	    sim->link_drops,
	    sim->connects,
	    sim->enter_bootloader,
	    sim->addresses->str,
	    sim->app_adverts,
	    sim->connects_hung,
	    sim->data_bytes_executed,
	    sim->limit_us / 1000.0,
	    (sim->att_mtu - ATT_HEADER) * sim->ppi / (ci / 1e6),
	    transfer_ms);
	summary = usbsim_nrf_summary_json(sim->model, sim_now(), extra);
	if (sim->summary_path != NULL) {
		g_autoptr(GError) error = NULL;
		g_autoptr(GPtrArray) model_trace = usbsim_nrf_take_trace(sim->model);
		g_autoptr(GString) out = g_string_new(NULL);
		for (guint i = 0; i < model_trace->len; i++)
			g_string_append_printf(out,
					       "%s\n",
					       (gchar *)g_ptr_array_index(model_trace, i));
		g_string_append(out, sim->trace->str);
		g_string_append_printf(out, "%s\n", summary);
		if (!g_file_set_contents(sim->summary_path, out->str, out->len, &error))
			g_printerr("bluez-sim: %s\n", error->message);
	} else {
		g_print("%s\n", summary);
	}
}

static gboolean
sim_quit_cb(gpointer user_data)
{
	Sim *sim = user_data;
	g_main_loop_quit(sim->loop);
	return G_SOURCE_REMOVE;
}

/* SIGUSR1: the link drops now, as when the device goes out of range or resets on its own (the
 * SDK's bootloader after its inactivity timeout): Connected turns false and an unbonded
 * device's GATT objects go; the device does not advertise until something makes it */
static gboolean
sim_drop_link_cb(gpointer user_data)
{
	Sim *sim = user_data;
	sim_trace(sim,
		  "\"event\":\"drop-on-request\",\"connected\":%s",
		  sim->connected ? "true" : "false");
	sim_link_down(sim, "dropped on request");
	return G_SOURCE_CONTINUE;
}

static void
sim_name_acquired_cb(GDBusConnection *conn, const gchar *name, gpointer user_data)
{
	/* the harness waits for this line before it starts fwupd */
	g_print("bluez-sim: ready\n");
	fflush(stdout);
}

static gchar *
sim_address_plus_one(const gchar *address)
{
	guint b[6] = {0};
	guint64 v = 0;
	if (sscanf(address,
		   "%02X:%02X:%02X:%02X:%02X:%02X",
		   &b[0],
		   &b[1],
		   &b[2],
		   &b[3],
		   &b[4],
		   &b[5]) != 6)
		return NULL;
	for (guint i = 0; i < 6; i++)
		v = (v << 8) | b[i];
	/* nrf_dfu_ble.c gap_address_change(): the least significant byte plus one */
	v = (v & ~(guint64)0xFF) | ((v + 1) & 0xFF);
	return g_strdup_printf("%02X:%02X:%02X:%02X:%02X:%02X",
			       (guint)(v >> 40) & 0xFF,
			       (guint)(v >> 32) & 0xFF,
			       (guint)(v >> 24) & 0xFF,
			       (guint)(v >> 16) & 0xFF,
			       (guint)(v >> 8) & 0xFF,
			       (guint)v & 0xFF);
}

int
main(int argc, char **argv)
{
	Sim sim_ = {0};
	Sim *sim = &sim_;
	UsbsimNrfConfig config;
	SimObject *root;
	SimObject *adapter;
	g_autoptr(GError) error = NULL;
	g_autoptr(GOptionContext) ctx = NULL;
	g_autofree gchar *bus = NULL;
	gchar *address = NULL;
	gchar *mode = NULL;
	gdouble ci_ms = 7.5;
	gdouble time_scale = 1.0;
	gint ppi = 4;
	gint att_mtu = 247;
	gint buffers = 8;
	gint drop_after = 0;
	gint app_version = 0;
	gint resolve_ms = 0;
	gboolean unsolicited = FALSE;
	g_autofree gchar *wrong_length_op = NULL;
	gboolean app_valid = FALSE;
	gboolean require_signature = FALSE;
	const GOptionEntry entries[] = {
	    {"bus",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &bus,
	     "D-Bus address (default: the system bus)",
	     "ADDR"},
	    {"address", 0, 0, G_OPTION_ARG_STRING, &address, "The application's address", "ADDR"},
	    {"mode",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &mode,
	     "bootloader, buttonless-unbonded or buttonless-bonded",
	     "MODE"},
	    {"time-scale",
	     0,
	     0,
	     G_OPTION_ARG_DOUBLE,
	     &time_scale,
	     "Scale of every device time",
	     "F"},
	    {"ci-ms",
	     0,
	     0,
	     G_OPTION_ARG_DOUBLE,
	     &ci_ms,
	     "Connection interval (7.5 to 30 ms)",
	     "MS"},
	    {"ppi", 0, 0, G_OPTION_ARG_INT, &ppi, "Packets a connection event", "N"},
	    {"mtu", 0, 0, G_OPTION_ARG_INT, &att_mtu, "ATT MTU (23 to 247)", "N"},
	    {"controller-buffers",
	     0,
	     0,
	     G_OPTION_ARG_INT,
	     &buffers,
	     "Packets queued on the link",
	     "N"},
	    {"drop-link-after",
	     0,
	     0,
	     G_OPTION_ARG_INT,
	     &drop_after,
	     "Lose the link once at this packet",
	     "N"},
	    {"no-acquire-write",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &sim->no_acquire_write,
	     "Refuse AcquireWrite, as a BlueZ without it does: packets come by WriteValue",
	     NULL},
	    {"buttonless-result",
	     0,
	     0,
	     G_OPTION_ARG_INT,
	     &sim->buttonless_result,
	     "Answer enter-bootloader with this result",
	     "N"},
	    {"buttonless-silent",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &sim->buttonless_silent,
	     "Never indicate the enter-bootloader response",
	     NULL},
	    {"buttonless-stays",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &sim->buttonless_stays,
	     "Answer enter-bootloader with success but never reset",
	     NULL},
	    {"bootloader-absent",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &sim->bootloader_absent,
	     "The bootloader never advertises",
	     NULL},
	    {"connect-hangs",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &sim->connect_hangs,
	     "A Connect to a device that does not advertise waits for it, as BlueZ's",
	     NULL},
	    {"resolve-ms",
	     0,
	     0,
	     G_OPTION_ARG_INT,
	     &resolve_ms,
	     "ServicesResolved this long after a Connect returns (scaled), not with it",
	     "MS"},
	    {"discovery-refused",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &sim->discovery_refused,
	     "StartDiscovery fails, as with the adapter powered off",
	     NULL},
	    {"app-no-dfu",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &sim->app_no_dfu,
	     "The application has no buttonless DFU service",
	     NULL},
	    {"app-no-fw-revision",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &sim->app_no_fw_revision,
	     "The application's Device Information has no firmware revision",
	     NULL},
	    {"app-silent",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &sim->app_silent,
	     "After the activation reset the application never advertises",
	     NULL},
	    {"app-unpaired",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &sim->app_unpaired,
	     "After the activation reset BlueZ holds no pairing for the application",
	     NULL},
	    {"bootloader-stays",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &sim->bootloader_stays,
	     "After the activation the bootloader stays connected in DFU mode",
	     NULL},
	    {"lose-final-answer",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &sim->lose_final_answer,
	     "The link drops with the answer to an image's final execute",
	     NULL},
	    {"reply-wrong-length",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &wrong_length_op,
	     "Hostile: every response to OP (select, create, execute, crc) is a byte short",
	     "OP"},
	    {"unsolicited",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &unsolicited,
	     "Hostile: a notification that is no response, and a CRC notification nobody asked "
	     "for, before every response",
	     NULL},
	    {"flash-out",
	     0,
	     0,
	     G_OPTION_ARG_FILENAME,
	     &sim->flash_out,
	     "Flash dump at exit",
	     "FILE"},
	    {"app-valid", 0, 0, G_OPTION_ARG_NONE, &app_valid, "Bank 0 holds an application", NULL},
	    {"app-version", 0, 0, G_OPTION_ARG_INT, &app_version, "Its version", "N"},
	    {"require-signature",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &require_signature,
	     "A key is provisioned",
	     NULL},
	    {"summary",
	     0,
	     0,
	     G_OPTION_ARG_FILENAME,
	     &sim->summary_path,
	     "Trace and summary at exit",
	     "FILE"},
	    {NULL}};

	/* the options that need no check land in the device's own fields */
	sim->buttonless_result = -1;
	ctx = g_option_context_new("- a fake org.bluez with a simulated nRF52 Secure DFU device");
	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		g_printerr("bluez-sim: %s\n", error->message);
		return 2;
	}
	sim->address = address != NULL ? address : g_strdup("C0:DE:00:11:22:F0");
	sim->mode = mode != NULL ? mode : g_strdup("bootloader");
	sim->time_scale = time_scale;
	sim->app_version = app_version;
	sim->ci_ms = ci_ms;
	sim->ppi = MAX(ppi, 1);
	sim->att_mtu = CLAMP(att_mtu, 23, 517);
	sim->controller_buffers = MAX(buffers, 1);
	sim->drop_link_after = drop_after;
	sim->resolve_ms = (guint)MAX(resolve_ms, 0);
	/* the bootloader of --mode bootloader is paired: it shares the application's bond */
	sim->app_bonds = g_strcmp0(sim->mode, "buttonless-unbonded") != 0;
	sim->write_fd = -1;
	sim->notify_fd = -1;
	sim->trace = g_string_new(NULL);
	sim->addresses = g_string_new(NULL);
	sim->objects = g_ptr_array_new_with_free_func((GDestroyNotify)sim_object_free);
	sim->handle_counter = 0x10;
	sim->epoch_us = sim_now();
	if (ci_ms < 7.5 || ci_ms > 4000) {
		g_printerr("bluez-sim: the connection interval is 7.5 ms to 4 s\n");
		return 2;
	}
	if (g_strcmp0(sim->mode, "buttonless-unbonded") == 0)
		sim->bl_address = sim_address_plus_one(sim->address);
	else
		sim->bl_address = g_strdup(sim->address);
	if (sim->bl_address == NULL) {
		g_printerr("bluez-sim: bad address %s\n", sim->address);
		return 2;
	}

	/* the bootloader: tests/usbsim's model, reached as by its serial transports */
	usbsim_nrf_config_init(&config, USBSIM_NRF_FRONT_USB);
	config.profile = "nrf52840-ble";
	config.time_scale = time_scale;
	config.app_valid = app_valid;
	config.app_version = app_version;
	config.require_signature = require_signature;
	/* over BLE the bootloader takes requests as soon as a host is connected */
	config.port_always_open = TRUE;
	config.unsolicited = unsolicited;
	if (wrong_length_op != NULL) {
		const gchar *names[] = {"create", "crc", "execute", "select"};
		const gint ops[] = {0x01, 0x03, 0x04, 0x06};
		for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
			if (g_strcmp0(wrong_length_op, names[i]) == 0)
				config.short_op = ops[i];
		}
		if (config.short_op < 0) {
			g_printerr("bluez-sim: unknown request '%s' in --reply-wrong-length\n",
				   wrong_length_op);
			return 2;
		}
	}
	sim->model = usbsim_nrf_new(&config, sim->epoch_us);

	sim->introspection = g_dbus_node_info_new_for_xml(introspection_xml, &error);
	g_assert_no_error(error);
	if (bus != NULL) {
		sim->conn = g_dbus_connection_new_for_address_sync(
		    bus,
		    G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
			G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
		    NULL,
		    NULL,
		    &error);
	} else {
		sim->conn = g_bus_get_sync(G_BUS_TYPE_SYSTEM, NULL, &error);
	}
	if (sim->conn == NULL) {
		g_printerr("bluez-sim: %s\n", error->message);
		return 1;
	}
	g_dbus_connection_set_exit_on_close(sim->conn, FALSE);

	root = sim_object_new(sim, "/");
	sim_object_props(root, "org.freedesktop.DBus.ObjectManager");
	sim_object_export(root);
	adapter = sim_object_new(sim, BLUEZ_SIM_ADAPTER_PATH);
	sim_object_set(adapter,
		       "org.bluez.Adapter1",
		       "Address",
		       g_variant_new_string(BLUEZ_SIM_ADAPTER_ADDR));
	sim_object_set(adapter, "org.bluez.Adapter1", "Powered", g_variant_new_boolean(TRUE));
	sim_object_set(adapter, "org.bluez.Adapter1", "Discovering", g_variant_new_boolean(FALSE));
	sim_object_export(adapter);

	/* a paired, connected device, as a user leaves it for fwupd to find */
	if (g_strcmp0(sim->mode, "bootloader") == 0) {
		sim->app_dev = sim_device_new(sim, sim->address, "DfuTarg", TRUE);
		sim->bl_dev = sim->app_dev;
		sim->persona = PERSONA_BOOTLOADER;
	} else if (g_str_has_prefix(sim->mode, "buttonless-")) {
		gboolean bonded = g_strcmp0(sim->mode, "buttonless-bonded") == 0;
		sim->app_dev = sim_device_new(sim, sim->address, "Nordic_Buttonless", TRUE);
		sim->bl_dev = bonded ? sim->app_dev
				     : sim_device_new(sim, sim->bl_address, "DfuTarg", FALSE);
		sim->persona = PERSONA_APP;
	} else {
		g_printerr("bluez-sim: unknown mode %s\n", sim->mode);
		return 2;
	}
	sim->cur_dev = sim->persona == PERSONA_APP ? sim->app_dev : sim->bl_dev;
	sim->advertising = TRUE;
	sim_device_add_gatt(sim, sim->cur_dev);
	sim_link_up(sim);
	sim->connects = 0;
	sim->advertising = FALSE;
	sim_object_set(sim->cur_dev, "org.bluez.Device1", "Connected", g_variant_new_boolean(TRUE));
	sim_object_set(sim->cur_dev,
		       "org.bluez.Device1",
		       "ServicesResolved",
		       g_variant_new_boolean(TRUE));
	sim_object_export(sim->cur_dev);
	sim_trace(sim,
		  "\"event\":\"start\",\"mode\":\"%s\",\"address\":\"%s\"",
		  sim->mode,
		  sim->address);

	sim->loop = g_main_loop_new(NULL, FALSE);
	g_unix_signal_add(SIGTERM, sim_quit_cb, sim);
	g_unix_signal_add(SIGINT, sim_quit_cb, sim);
	g_unix_signal_add(SIGUSR1, sim_drop_link_cb, sim);
	g_bus_own_name_on_connection(sim->conn,
				     "org.bluez",
				     G_BUS_NAME_OWNER_FLAGS_NONE,
				     sim_name_acquired_cb,
				     NULL,
				     NULL,
				     NULL);
	g_main_loop_run(sim->loop);
	sim_write_summary(sim);
	if (sim->flash_out != NULL) {
		g_autoptr(GBytes) flash = usbsim_nrf_get_flash(sim->model);
		if (!g_file_set_contents(sim->flash_out,
					 g_bytes_get_data(flash, NULL),
					 (gssize)g_bytes_get_size(flash),
					 &error))
			g_printerr("bluez-sim: %s\n", error->message);
	}
	sim_close_fds(sim);
	usbsim_nrf_free(sim->model);
	return 0;
}
