#!/usr/bin/env python3
"""ELF -> UF2 for drag-and-drop flashing of the Pico W (RP2040) and Pico 2 W (RP2350).

Usage: uf2.py rp2040|rp2350 firmware.elf out.uf2

Writes the ELF's loadable segments that fall in flash (0x1000_0000..0x2000_0000) as 256-byte
payloads in 512-byte UF2 blocks (magic 0x0A324655 / 0x9E5D5157, end 0x0AB16F30, flag 0x2000 =
family id present). elf2uf2-rs writes the RP2040 family for RP2350 images, which the RP2350
boot ROM rejects, hence this small writer.
"""
import struct
import sys

FAMILY = {"rp2040": 0xE48BFF56, "rp2350": 0xE48BFF59}  # RP2350: ARM secure image
FLASH_START, FLASH_END = 0x10000000, 0x20000000
PAYLOAD = 256


def flash_bytes(elf):
    if elf[:4] != b"\x7fELF" or elf[4] != 1 or elf[5] != 1:
        sys.exit("not a little-endian ELF32 file")
    phoff, = struct.unpack_from("<I", elf, 28)
    phentsize, phnum = struct.unpack_from("<HH", elf, 42)
    image = {}
    for i in range(phnum):
        p_type, p_offset, _vaddr, p_paddr, p_filesz = struct.unpack_from("<IIIII", elf, phoff + i * phentsize)
        if p_type != 1 or p_filesz == 0 or not FLASH_START <= p_paddr < FLASH_END:
            continue  # PT_LOAD in flash only (.data's load image has its LMA in flash too)
        for j in range(p_filesz):
            image[p_paddr + j] = elf[p_offset + j]
    return image


def main():
    family, src, dst = sys.argv[1], sys.argv[2], sys.argv[3]
    image = flash_bytes(open(src, "rb").read())
    if not image:
        sys.exit("no flash segments")
    pages = sorted({addr & ~(PAYLOAD - 1) for addr in image})
    out = bytearray()
    for n, page in enumerate(pages):
        data = bytes(image.get(page + k, 0) for k in range(PAYLOAD))
        header = struct.pack("<IIIIIIII", 0x0A324655, 0x9E5D5157, 0x2000, page, PAYLOAD, n, len(pages), FAMILY[family])
        out += header + data.ljust(476, b"\0") + struct.pack("<I", 0x0AB16F30)
    open(dst, "wb").write(out)
    print(f"{dst}: {len(pages)} blocks, {len(pages) * PAYLOAD} bytes of flash, family {FAMILY[family]:#x}")


if __name__ == "__main__":
    main()
