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

// the request written to the buttonless DFU characteristic (ble_dfu.h): enter the bootloader
#[derive(New, Default)]
#[repr(C, packed)]
struct FuStructNordicDfuButtonlessRequest {
    opcode: u8 == 0x01,
}

// the results of a buttonless DFU request (ble_dfu.h ble_dfu_buttonless_rsp_code_t)
#[repr(u8)]
enum FuNordicDfuButtonlessResult {
    Success = 0x01,
    OpNotSupported = 0x02,
    OperationFailed = 0x04,
    InvalidAdvName = 0x05,
    Busy = 0x06,
    NotBonded = 0x07,
}

// the indication the buttonless DFU characteristic answers it with (ble_dfu.h): the response
// opcode, the request's opcode and the result
#[derive(Parse, Default)]
#[repr(C, packed)]
struct FuStructNordicDfuButtonlessResponse {
    opcode: u8 == 0x20,
    request_op: u8 == 0x01,
    result: FuNordicDfuButtonlessResult,
}
