/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "proto-io.h"

const char *
proto_io_to_string(ProtoIo io)
{
	switch (io) {
	case PROTO_IO_OK:
		return "ok";
	case PROTO_IO_TIMEOUT:
		return "timeout";
	case PROTO_IO_NO_DEVICE:
		return "no-device";
	case PROTO_IO_ERROR:
		return "io-error";
	case PROTO_IO_STALL:
		return "stall";
	}
	return "unknown";
}
