// Copyright 2026 The fwupd-dfu-plugins authors
// SPDX-License-Identifier: LGPL-2.1-or-later

// the reply to the USB DFU trigger's NORDIC_INFO request: the nRF5 SDK's
// app_usbd_nrf_dfu_trigger_nordic_info_t, packed
#[derive(Parse)]
#[repr(C, packed)]
struct FuStructNordicDfuTriggerInfo {
    fw_address: u32le,
    fw_size: u32le,
    version_major: u16le,
    version_minor: u16le,
    fw_id: u32le,
    flash_size: u32le,
    flash_page_size: u32le,
}
