#!/usr/bin/python3
# Copyright 2026 The fwupd-dfu-plugins authors
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A download remote's content, as LVFS publishes it, built from cabinets.

  remote_metadata.py --out DIR --keyring DIR CABINET...

DIR receives each cabinet signed as LVFS signs an upload (a `firmware.jcat` added to the
archive: SHA-256, SHA-512 and a PKCS#7 signature of each file in it), `firmware.xml.gz` and
its signed catalogue `firmware.xml.gz.jcat`.
The metadata is a `<components>` list holding each cabinet's own metainfo component, its
release completed with what fwupd's client needs to fetch and check the cabinet: `<location>`
(a bare file name, which fwupd resolves against the directory of the remote's MetadataURI),
the container's SHA-1 and SHA-256, and the download and installed sizes.
Catalogues and signatures are made by libjcat, the library fwupd verifies them with; the
signing key and its certificate are a throw-away pair libjcat creates in the keyring directory
on first use (KEYRING/pki/client.pem, which the daemon must trust in its pki/fwupd-metadata
directory for the metadata and in pki/fwupd for the cabinets, as it trusts LVFS's CA).
"""

import argparse
import gzip
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

import gi

gi.require_version("Jcat", "1.0")
from gi.repository import Gio, GLib, Jcat  # noqa: E402

METADATA = "firmware.xml.gz"


def cabinet_files(cab):
    """{name: bytes} of every file in the cabinet, read with gcab."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["gcab", "--extract", "--directory", tmp, cab], check=True,
                       stdout=subprocess.DEVNULL)
        files = {}
        for name in os.listdir(tmp):
            with open(os.path.join(tmp, name), "rb") as f:
                files[name] = f.read()
        return files


def jcat_item(context, name, data):
    """A catalogue item for data: its SHA-256, SHA-512 and a PKCS#7 signature made with the
    context's keyring."""
    blob = GLib.Bytes.new(data)
    item = Jcat.Item.new(name)
    for kind in (Jcat.BlobKind.SHA256, Jcat.BlobKind.SHA512):
        item.add_blob(context.get_engine(kind).self_sign(blob, Jcat.SignFlags.NONE))
    # the signing time is what fwupd compares to refuse older metadata
    pkcs7 = context.get_engine(Jcat.BlobKind.PKCS7)
    item.add_blob(pkcs7.self_sign(blob, Jcat.SignFlags.ADD_TIMESTAMP | Jcat.SignFlags.ADD_CERT))
    return item


def keyring_context(keyring):
    context = Jcat.Context()
    context.set_keyring_path(keyring)
    return context


def sign_cabinet(cab, out, keyring):
    """Writes to out the cabinet with firmware.jcat added (or replaced): every other file of
    it checksummed and signed, which is what fwupd needs to count the payload as trusted."""
    files = cabinet_files(cab)
    files.pop("firmware.jcat", None)
    context = keyring_context(keyring)
    catalogue = Jcat.File()
    for name in sorted(files):
        catalogue.add_item(jcat_item(context, name, files[name]))
    with tempfile.TemporaryDirectory() as tmp:
        catalogue.export_file(Gio.File.new_for_path(os.path.join(tmp, "firmware.jcat")),
                              Jcat.ExportFlags.NONE)
        for name, data in files.items():
            with open(os.path.join(tmp, name), "wb") as f:
                f.write(data)
        names = sorted(files) + ["firmware.jcat"]
        subprocess.run(["gcab", "--create", "--nopath", "--zip", out] +
                       [os.path.join(tmp, n) for n in names], check=True)


def component_of(cab):
    """The cabinet's metainfo component, its release given location, checksums and sizes."""
    files = cabinet_files(cab)
    metainfo = [n for n in files if n.endswith(".metainfo.xml")]
    if len(metainfo) != 1:
        raise ValueError("%s: expected one metainfo file, found %r" % (cab, sorted(files)))
    component = ET.fromstring(files[metainfo[0]])
    releases = component.findall("releases/release")
    if len(releases) != 1:
        raise ValueError("%s: expected one release, found %d" % (cab, len(releases)))
    release = releases[0]
    with open(cab, "rb") as f:
        data = f.read()
    name = os.path.basename(cab)
    location = ET.Element("location")
    location.text = name
    extra = [location]
    for kind in ("sha1", "sha256"):
        checksum = ET.Element("checksum", type=kind, filename=name, target="container")
        checksum.text = hashlib.new(kind, data).hexdigest()
        extra.append(checksum)
    payloads = [n for n in files if n not in metainfo and not n.endswith(".jcat")]
    for kind, size in (("download", len(data)),
                       ("installed", sum(len(files[n]) for n in payloads))):
        element = ET.Element("size", type=kind)
        element.text = str(size)
        extra.append(element)
    # the metainfo's own content checksums stay after these, as LVFS orders them
    for index, element in enumerate(extra):
        release.insert(index, element)
    return component


def build_metadata(cabinets, out_dir, keyring=None, origin="usbsim"):
    """Puts the cabinets into out_dir, signed with the keyring's certificate if one is given,
    and writes firmware.xml.gz beside them."""
    os.makedirs(out_dir, exist_ok=True)
    components = ET.Element("components", version="0.9", origin=origin)
    for cab in cabinets:
        served = os.path.join(out_dir, os.path.basename(cab))
        if keyring:
            sign_cabinet(cab, served, keyring)
        else:
            shutil.copy(cab, served)
        components.append(component_of(served))
    ET.indent(components)
    xml = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(components) + b"\n"
    path = os.path.join(out_dir, METADATA)
    with open(path, "wb") as f:
        # a fixed mtime: the same cabinets give the same bytes
        f.write(gzip.compress(xml, mtime=0))
    return path


def sign(path, keyring):
    """Writes PATH.jcat (checksums and a PKCS#7 signature made with the keyring's throw-away
    certificate, created on first use); returns the certificate to trust."""
    with open(path, "rb") as f:
        data = f.read()
    catalogue = Jcat.File()
    catalogue.add_item(jcat_item(keyring_context(keyring), os.path.basename(path), data))
    catalogue.export_file(Gio.File.new_for_path(path + ".jcat"), Jcat.ExportFlags.NONE)
    return os.path.join(keyring, "pki", "client.pem")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True, help="the directory the remote serves")
    parser.add_argument("--keyring", required=True,
                        help="where the throw-away signing key and certificate are kept")
    parser.add_argument("cabinets", nargs="+")
    args = parser.parse_args()
    path = build_metadata(args.cabinets, args.out, args.keyring)
    cert = sign(path, args.keyring)
    print("%s signed; the daemon must trust %s" % (path, cert))
    return 0


if __name__ == "__main__":
    sys.exit(main())
