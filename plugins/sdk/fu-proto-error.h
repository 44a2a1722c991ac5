/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <fwupdplugin.h>

#include "cobs-proto.h"
#include "dfu-proto.h"
#include "nrf-dfu-proto.h"
#include "proto-io.h"

ProtoIo
fu_proto_error_to_io(const GError *error);
gboolean
fu_proto_error_set_dfu(GError **error, DfuProtoError code, const gchar *message);
gboolean
fu_proto_error_set_nrf(GError **error, NrfDfuProtoError code, const gchar *message);
gboolean
fu_proto_error_set_cobs(GError **error, CobsProtoError code, const gchar *message);
gboolean
fu_proto_error_set_unknown_action(GError **error, guint kind);
