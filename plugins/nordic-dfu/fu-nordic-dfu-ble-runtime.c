/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "fu-nordic-dfu-ble-common.h"
#include "fu-nordic-dfu-ble-device.h"
#include "fu-nordic-dfu-ble-runtime.h"
#include "fu-nordic-dfu-common.h"
#include "fu-nordic-dfu-firmware.h"
#include "fu-nordic-dfu-struct.h"

/*
 * An application with the SDK's buttonless DFU service (ble_dfu.c): 8EC90003 when the
 * bootloader does not share the application's bond, 8EC90004 when it does. With indications
 * enabled, the enter-bootloader command (0x01) is answered by an indication 0x20 0x01 result,
 * then the application disconnects and resets into the bootloader.
 *
 * An unbonded bootloader advertises under the application's address plus one, so BlueZ sees
 * a new device; it is not paired, and fwupd's BlueZ backend only takes paired devices. After
 * the command the plugin therefore finds the bootloader itself: it discovers, connects, and
 * adds the bootloader device it made, which replaces this one because both carry the
 * instance ID NRFDFU_BLE\ADDR_<application address>. A bonded bootloader keeps the address
 * and the bond: once connected, the backend adds it as it does any paired device.
 */

/* the application indicates at once; allow for a slow connection interval and the ATT
 * write response before it */
#define FU_NORDIC_DFU_BUTTONLESS_INDICATION_MS 5000

struct _FuNordicDfuBleRuntime {
	FuBluezDevice parent_instance;
	FuPlugin *plugin; /* weak */
	gboolean bonds;
	FuNordicDfuUnverified unverified;
};

G_DEFINE_TYPE(FuNordicDfuBleRuntime, fu_nordic_dfu_ble_runtime, FU_TYPE_BLUEZ_DEVICE)

/* finds the bootloader after the application reset and hands it to fwupd */
typedef struct {
	FuPlugin *plugin; /* weak */
	FuContext *ctx;
	GDBusObjectManager *object_manager;
	gchar *app_path;
	gboolean app_gone; /* the application's link dropped: it reset into the bootloader */
	gchar *app_address;
	gchar *bl_address;
	gint64 deadline_us;
	FuNordicDfuBleSeek seek;
} FuNordicDfuBleRuntimeFollower;

static void
fu_nordic_dfu_ble_runtime_follower_free(FuNordicDfuBleRuntimeFollower *helper)
{
	g_clear_weak_pointer(&helper->plugin);
	fu_nordic_dfu_ble_seek_clear(&helper->seek);
	g_object_unref(helper->ctx);
	g_object_unref(helper->object_manager);
	g_free(helper->app_path);
	g_free(helper->app_address);
	g_free(helper->bl_address);
	g_free(helper);
}

static gboolean
fu_nordic_dfu_ble_runtime_follower_cb(gpointer user_data)
{
	FuNordicDfuBleRuntimeFollower *helper = user_data;
	const gchar *addresses[] = {helper->bl_address, NULL};
	g_autofree gchar *path = NULL;
	g_autoptr(GError) error_local = NULL;

	if (helper->plugin == NULL)
		return G_SOURCE_REMOVE;
	if (g_get_monotonic_time() > helper->deadline_us) {
		/* fwupd's own wait for the replug ends with the error the user sees */
		g_autofree gchar *why = fu_nordic_dfu_ble_seek_why(&helper->seek);
		if (!helper->app_gone) {
			g_warning("the application accepted enter-bootloader but did not "
				  "disconnect to reset within %u ms: power-cycle the device, "
				  "then update it again",
				  (guint)FU_NORDIC_DFU_BLE_RECONNECT_MS);
			return G_SOURCE_REMOVE;
		}
		g_warning("the bootloader did not advertise as %s and connect within %u ms%s%s: "
			  "check that the device is powered and in range, then update it again",
			  helper->bl_address,
			  (guint)FU_NORDIC_DFU_BLE_RECONNECT_MS,
			  why != NULL ? ": " : "",
			  why != NULL ? why : "");
		return G_SOURCE_REMOVE;
	}
	/* a bonded bootloader has the application's address and object: not before it reset */
	if (!helper->app_gone) {
		if (fu_nordic_dfu_ble_get_bool(helper->app_path, "Connected"))
			return G_SOURCE_CONTINUE;
		helper->app_gone = TRUE;
	}
	path = fu_nordic_dfu_ble_seek_step(&helper->seek, addresses, helper->deadline_us);
	if (path == NULL)
		return G_SOURCE_CONTINUE;

	/* paired: fwupd's BlueZ backend adds it */
	if (fu_nordic_dfu_ble_get_bool(path, "Paired")) {
		g_info("bootloader %s connected; the BlueZ backend adds it", path);
		return G_SOURCE_REMOVE;
	}
	/* the object manager has not seen the GATT objects yet: try again */
	if (!fu_nordic_dfu_ble_device_add_unpaired(helper->plugin,
						   helper->ctx,
						   helper->object_manager,
						   path,
						   helper->app_address,
						   &error_local)) {
		g_debug("adding bootloader %s: %s", path, error_local->message);
		return G_SOURCE_CONTINUE;
	}
	g_info("added the unbonded bootloader %s", path);
	return G_SOURCE_REMOVE;
}

void
fu_nordic_dfu_ble_runtime_set_plugin(FuNordicDfuBleRuntime *self, FuPlugin *plugin)
{
	g_set_weak_pointer(&self->plugin, plugin);
}

static gboolean
fu_nordic_dfu_ble_runtime_probe(FuDevice *device, GError **error)
{
	FuNordicDfuBleRuntime *self = FU_NORDIC_DFU_BLE_RUNTIME(device);
	const gchar *device_path = fu_nordic_dfu_ble_device_path(FU_BLUEZ_DEVICE(device));
	g_autofree gchar *path = NULL;

	if (!FU_DEVICE_CLASS(fu_nordic_dfu_ble_runtime_parent_class)->probe(device, error))
		return FALSE;
	path = fu_nordic_dfu_ble_find_characteristic(device_path,
						     FU_NORDIC_DFU_BLE_UUID_BUTTONLESS_BONDS,
						     NULL);
	self->bonds = path != NULL;
	fu_nordic_dfu_ble_add_link_instance_id(FU_BLUEZ_DEVICE(device),
					       fu_device_get_logical_id(device));
	fu_device_build_vendor_id(device, "BLUETOOTH", "Nordic");
	return TRUE;
}

static const gchar *
fu_nordic_dfu_ble_runtime_result_to_string(FuNordicDfuButtonlessResult result)
{
	switch (result) {
	case FU_NORDIC_DFU_BUTTONLESS_RESULT_OP_NOT_SUPPORTED:
		return "the command is not supported";
	case FU_NORDIC_DFU_BUTTONLESS_RESULT_OPERATION_FAILED:
		return "the application could not enter the bootloader";
	case FU_NORDIC_DFU_BUTTONLESS_RESULT_INVALID_ADV_NAME:
		return "invalid advertisement name";
	case FU_NORDIC_DFU_BUTTONLESS_RESULT_BUSY:
		return "the application is busy";
	case FU_NORDIC_DFU_BUTTONLESS_RESULT_NOT_BONDED:
		return "the host is not bonded with the device";
	default:
		return "unknown result";
	}
}

/* the indication is awaited on a context of its own, so fwupd sees no other signal meanwhile */
static gboolean
fu_nordic_dfu_ble_runtime_enter(FuNordicDfuBleRuntime *self, const gchar *path, GError **error)
{
	FuNordicDfuBleWatch watch = {0};
	g_autoptr(FuStructNordicDfuButtonlessRequest) st_req =
	    fu_struct_nordic_dfu_buttonless_request_new();
	g_autoptr(FuStructNordicDfuButtonlessResponse) st_rsp = NULL;
	g_autoptr(GVariant) value = NULL;
	FuNordicDfuButtonlessResult result;
	const guint8 *data = NULL;
	gsize len = 0;
	gboolean ok;

	ok = fu_nordic_dfu_ble_watch_start(&watch, path, "org.bluez.GattCharacteristic1", error);
	if (ok)
		ok = fu_nordic_dfu_ble_call(path,
					    "org.bluez.GattCharacteristic1",
					    "StartNotify",
					    error);
	if (ok) {
		ok = fu_bluez_device_write(FU_BLUEZ_DEVICE(self),
					   self->bonds ? FU_NORDIC_DFU_BLE_UUID_BUTTONLESS_BONDS
						       : FU_NORDIC_DFU_BLE_UUID_BUTTONLESS,
					   st_req->buf,
					   error);
	}
	if (ok) {
		value = fu_nordic_dfu_ble_watch_wait(&watch,
						     "Value",
						     G_VARIANT_TYPE_BYTESTRING,
						     FU_NORDIC_DFU_BUTTONLESS_INDICATION_MS);
	}
	fu_nordic_dfu_ble_watch_stop(&watch);
	if (!ok)
		return FALSE;
	if (value != NULL)
		data = g_variant_get_fixed_array(value, &len, 1);
	if (len == 0) {
		g_set_error(error,
			    FWUPD_ERROR,
			    FWUPD_ERROR_TIMED_OUT,
			    "the application did not indicate a response to enter-bootloader "
			    "within %u ms",
			    (guint)FU_NORDIC_DFU_BUTTONLESS_INDICATION_MS);
		return FALSE;
	}
	st_rsp = fu_struct_nordic_dfu_buttonless_response_parse(data, len, 0x0, error);
	if (st_rsp == NULL) {
		g_prefix_error(error,
			       "the application indicated %u bytes that are not a response to "
			       "enter-bootloader: ",
			       (guint)len);
		return FALSE;
	}
	result = fu_struct_nordic_dfu_buttonless_response_get_result(st_rsp);
	if (result != FU_NORDIC_DFU_BUTTONLESS_RESULT_SUCCESS) {
		g_set_error(error,
			    FWUPD_ERROR,
			    FWUPD_ERROR_NOT_SUPPORTED,
			    "the application refused to enter the bootloader: %s (0x%02x)",
			    fu_nordic_dfu_ble_runtime_result_to_string(result),
			    (guint)result);
		return FALSE;
	}
	return TRUE;
}

static gboolean
fu_nordic_dfu_ble_runtime_detach(FuDevice *device, FuProgress *progress, GError **error)
{
	FuNordicDfuBleRuntime *self = FU_NORDIC_DFU_BLE_RUNTIME(device);
	const gchar *device_path = fu_nordic_dfu_ble_device_path(FU_BLUEZ_DEVICE(device));
	const gchar *address = fu_device_get_logical_id(device);
	FuNordicDfuBleRuntimeFollower *helper;
	g_autofree gchar *path = NULL;
	g_autofree gchar *bl_address = NULL;

	if (self->plugin == NULL) {
		g_set_error_literal(error, FWUPD_ERROR, FWUPD_ERROR_INTERNAL, "no plugin");
		return FALSE;
	}
	/* a new update is checked again */
	fu_nordic_dfu_clear_unverified(device, &self->unverified);
	bl_address = self->bonds ? g_strdup(address)
				 : fu_nordic_dfu_ble_address_next(address, error);
	if (bl_address == NULL)
		return FALSE;
	path = fu_nordic_dfu_ble_find_characteristic(device_path,
						     self->bonds
							 ? FU_NORDIC_DFU_BLE_UUID_BUTTONLESS_BONDS
							 : FU_NORDIC_DFU_BLE_UUID_BUTTONLESS,
						     error);
	if (path == NULL)
		return FALSE;
	if (!fu_nordic_dfu_ble_runtime_enter(self, path, error)) {
		g_prefix_error_literal(error, "buttonless DFU: ");
		return FALSE;
	}
	g_info("entering the bootloader, expected as %s", bl_address);

	/* fwupd runs its main loop while it waits for the replug: find the bootloader there */
	helper = g_new0(FuNordicDfuBleRuntimeFollower, 1);
	g_set_weak_pointer(&helper->plugin, self->plugin);
	helper->ctx = g_object_ref(fu_device_get_context(device));
	g_object_get(device, "object-manager", &helper->object_manager, NULL);
	fu_nordic_dfu_ble_seek_init(&helper->seek, fu_device_get_physical_id(device));
	helper->app_path = g_strdup(device_path);
	helper->app_address = g_strdup(address);
	helper->bl_address = g_steal_pointer(&bl_address);
	helper->deadline_us =
	    g_get_monotonic_time() + (gint64)FU_NORDIC_DFU_BLE_RECONNECT_MS * 1000;
	g_timeout_add_full(G_PRIORITY_DEFAULT,
			   FU_NORDIC_DFU_BLE_FOLLOW_POLL_MS,
			   fu_nordic_dfu_ble_runtime_follower_cb,
			   helper,
			   (GDestroyNotify)fu_nordic_dfu_ble_runtime_follower_free);
	fu_device_add_flag(device, FWUPD_DEVICE_FLAG_WAIT_FOR_REPLUG);
	return TRUE;
}

/* the application the update started replaces its bootloader: without a Device Information
 * firmware revision it has no version of its own, and fwupd would give it the bootloader's old
 * one and fail its check; the final execute was answered success, so the update is done, with
 * the version the bootloader accepted in the init packet, not read back */
static void
fu_nordic_dfu_ble_runtime_replace(FuDevice *device, FuDevice *donor)
{
	FuNordicDfuBleRuntime *self = FU_NORDIC_DFU_BLE_RUNTIME(device);
	FuNordicDfuFwType fw_type = FU_NORDIC_DFU_FW_TYPE_APPLICATION;
	guint32 fw_version = 0;
	g_autofree gchar *why = NULL;

	if (fu_device_get_version(device) != NULL || !FU_IS_NORDIC_DFU_BLE_DEVICE(donor) ||
	    !fu_nordic_dfu_ble_device_get_activated(FU_NORDIC_DFU_BLE_DEVICE(donor),
						    &fw_type,
						    &fw_version))
		return;
	why = g_strdup_printf("the %s image was validated and activated by the bootloader, and "
			      "the application it started (%s) has the buttonless DFU service but "
			      "no Device Information firmware revision: the update is done, but "
			      "the version the device runs was not read back",
			      fu_nordic_dfu_image_fw_type_to_string(fw_type),
			      fu_device_get_logical_id(device));
	fu_nordic_dfu_set_unverified(device, &self->unverified, why);
	if (fw_type == FU_NORDIC_DFU_FW_TYPE_APPLICATION) {
		g_autofree gchar *version = g_strdup_printf("%u", (guint)fw_version);
		fu_device_set_version(device, version); /* nocheck:set-version */
	}
}

/* after the update, once it has replaced the bootloader: what fwupd's clients are told when the
 * version was not read back (fwupd hands a request the progress of attach) */
static gboolean
fu_nordic_dfu_ble_runtime_attach(FuDevice *device, FuProgress *progress, GError **error)
{
	FuNordicDfuBleRuntime *self = FU_NORDIC_DFU_BLE_RUNTIME(device);
	return fu_nordic_dfu_emit_unverified(device, &self->unverified, progress, error);
}

static void
fu_nordic_dfu_ble_runtime_to_string(FuDevice *device, guint idt, GString *str)
{
	FuNordicDfuBleRuntime *self = FU_NORDIC_DFU_BLE_RUNTIME(device);
	FU_DEVICE_CLASS(fu_nordic_dfu_ble_runtime_parent_class)->to_string(device, idt, str);
	fwupd_codec_string_append_bool(str, idt, "Bonds", self->bonds);
}

static void
fu_nordic_dfu_ble_runtime_init(FuNordicDfuBleRuntime *self)
{
	fu_nordic_dfu_init_updatable(FU_DEVICE(self));
	fu_device_set_version_format(FU_DEVICE(self), FWUPD_VERSION_FORMAT_NUMBER);
	fu_device_set_remove_delay(FU_DEVICE(self),
				   FU_NORDIC_DFU_BLE_RECONNECT_MS +
				       FU_NORDIC_DFU_BLE_FOLLOW_MARGIN_MS);
	/* its only request is the generic message after an update not read back */
	fu_device_add_request_flag(FU_DEVICE(self), FWUPD_REQUEST_FLAG_ALLOW_GENERIC_MESSAGE);
}

static void
fu_nordic_dfu_ble_runtime_finalize(GObject *object)
{
	FuNordicDfuBleRuntime *self = FU_NORDIC_DFU_BLE_RUNTIME(object);
	g_clear_weak_pointer(&self->plugin);
	G_OBJECT_CLASS(fu_nordic_dfu_ble_runtime_parent_class)->finalize(object);
}

static void
fu_nordic_dfu_ble_runtime_class_init(FuNordicDfuBleRuntimeClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	FuDeviceClass *device_class = FU_DEVICE_CLASS(klass);
	object_class->finalize = fu_nordic_dfu_ble_runtime_finalize;
	device_class->probe = fu_nordic_dfu_ble_runtime_probe;
	device_class->detach = fu_nordic_dfu_ble_runtime_detach;
	device_class->replace = fu_nordic_dfu_ble_runtime_replace;
	device_class->attach = fu_nordic_dfu_ble_runtime_attach;
	device_class->to_string = fu_nordic_dfu_ble_runtime_to_string;
}
