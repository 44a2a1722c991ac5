/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "fu-nordic-dfu-device.h"

G_DEFINE_INTERFACE(FuNordicDfuDevice, fu_nordic_dfu_device, FU_TYPE_DEVICE)

static void
fu_nordic_dfu_device_default_init(FuNordicDfuDeviceInterface *iface)
{
}

static FuNordicDfuState *
fu_nordic_dfu_device_get_state(FuNordicDfuDevice *self)
{
	g_return_val_if_fail(FU_IS_NORDIC_DFU_DEVICE(self), NULL);
	return FU_NORDIC_DFU_DEVICE_GET_IFACE(self)->get_state(self);
}

/* the class of the fwupd device type the implementing class derives from */
static FuDeviceClass *
fu_nordic_dfu_device_peek_base_class(FuNordicDfuDevice *self)
{
	GType gtype = G_OBJECT_TYPE(self);
	while (g_type_is_a(g_type_parent(gtype), FU_TYPE_NORDIC_DFU_DEVICE))
		gtype = g_type_parent(gtype);
	return FU_DEVICE_CLASS(g_type_class_peek(g_type_parent(gtype)));
}

/* nocheck:name -- a FuDeviceClass vfunc, set by fu_nordic_dfu_device_class_add_vfuncs() */
static gboolean
fu_nordic_dfu_device_setup(FuDevice *device, GError **error)
{
	FuNordicDfuState *state = fu_nordic_dfu_device_get_state(FU_NORDIC_DFU_DEVICE(device));
	FuDeviceClass *base_class =
	    fu_nordic_dfu_device_peek_base_class(FU_NORDIC_DFU_DEVICE(device));

	/* e.g. a USB device's descriptors and strings */
	if (base_class->setup != NULL && !base_class->setup(device, error))
		return FALSE;
	return fu_nordic_dfu_setup(&state->transport, state, error);
}

/* nocheck:name -- a FuDeviceClass vfunc, set by fu_nordic_dfu_device_class_add_vfuncs() */
static FuFirmware *
fu_nordic_dfu_device_prepare_firmware(FuDevice *device,
				      GInputStream *stream,
				      FuProgress *progress,
				      FuFirmwareParseFlags flags,
				      GError **error)
{
	FuNordicDfuDevice *self = FU_NORDIC_DFU_DEVICE(device);
	return fu_nordic_dfu_prepare_firmware(device,
					      fu_nordic_dfu_device_get_state(self),
					      stream,
					      flags,
					      error);
}

/* nocheck:name -- a FuDeviceClass vfunc, set by fu_nordic_dfu_device_class_add_vfuncs() */
gboolean
fu_nordic_dfu_device_set_quirk_kv(FuDevice *device,
				  const gchar *key,
				  const gchar *value,
				  GError **error)
{
	FuNordicDfuDevice *self = FU_NORDIC_DFU_DEVICE(device);
	return fu_nordic_dfu_set_quirk_kv(fu_nordic_dfu_device_get_state(self), key, value, error);
}

void
fu_nordic_dfu_device_class_add_vfuncs(FuDeviceClass *device_class)
{
	device_class->setup = fu_nordic_dfu_device_setup;
	device_class->prepare_firmware = fu_nordic_dfu_device_prepare_firmware;
	device_class->set_quirk_kv = fu_nordic_dfu_device_set_quirk_kv;
	device_class->set_progress = fu_nordic_dfu_set_progress_in_place;
	device_class->convert_version = fu_nordic_dfu_convert_version;
}
