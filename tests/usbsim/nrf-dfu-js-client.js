// Copyright 2026 The fwupd-dfu-plugins authors
//
// SPDX-License-Identifier: LGPL-2.1-or-later
// Nordic's own host code (pc-nrf-dfu-js 0.2.12, installed by contrib/setup into .cache/npm)
// flashes images through the UART of the simulated bootloader (usbsim-nrf-run --profile
// nrf52-uart puts the tty's path in USBSIM_NRF_TTY).
//   node nrf-dfu-js-client.js MODULES_DIR PRN INIT.dat IMAGE.bin [INIT.dat IMAGE.bin ...]
// The images come from an nrfutil package unpacked by the caller, in the bootloader's order:
// pc-nrf-dfu-js's own DfuUpdates.fromZipFilePath() takes every manifest member as an image,
// and nrfutil's "dfu_version" member breaks it.
'use strict';

const fs = require('fs');
const path = require('path');
const modules = process.argv[2];
const prn = Number(process.argv[3]);
const files = process.argv.slice(4);
const dfu = require(path.join(modules, 'pc-nrf-dfu-js'));
const SerialPort = require(path.join(modules, 'serialport'));

async function main() {
    const tty = process.env.USBSIM_NRF_TTY;
    if (!tty) throw new Error('USBSIM_NRF_TTY is not set: run under usbsim-nrf-run');
    const images = [];
    for (let i = 0; i + 1 < files.length; i += 2) {
        images.push({
            initPacket: new Uint8Array(fs.readFileSync(files[i])),
            firmwareImage: new Uint8Array(fs.readFileSync(files[i + 1])),
        });
    }
    const port = new SerialPort(tty, { baudRate: 115200, autoOpen: false });
    const transport = new dfu.DfuTransportSerial(port, prn);
    const operation = new dfu.DfuOperation(new dfu.DfuUpdates(images), transport);
    const start = process.hrtime.bigint();
    await operation.start();
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    console.log(JSON.stringify({ ok: true, ms: ms }));
    await new Promise((resolve) => port.close(() => resolve()));
}

main().then(() => process.exit(0), (err) => {
    console.error('pc-nrf-dfu-js failed:', err && (err.message || err));
    process.exit(1);
});
