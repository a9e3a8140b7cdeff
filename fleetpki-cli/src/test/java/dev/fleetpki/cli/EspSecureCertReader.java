package dev.fleetpki.cli;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Reads an esp_secure_cert partition in TLV format as Espressif's format documentation and the
 * TLV header's definition describe it, written for the tests without looking at
 * {@link EspSecureCert}: records from offset 0 while the magic holds, each record's CRC32 (header,
 * data and padding) checked, the data padded to 16 bytes, the rest of the partition erased.
 */
final class EspSecureCertReader {
    /** type -> data */
    final Map<Integer, byte[]> records = new LinkedHashMap<>();

    static EspSecureCertReader read(byte[] part) {
        EspSecureCertReader r = new EspSecureCertReader();
        int at = 0;
        while (at + 12 <= part.length && u32(part, at) == 0xBA5EBA11L) {
            int flags = part[at + 4] & 0xFF;
            if (flags != 0 || part[at + 5] != 0 || part[at + 6] != 0 || part[at + 7] != 0) {
                throw new IllegalStateException("record at " + at + ": flags or reserved bytes not 0");
            }
            int type = part[at + 8] & 0xFF;
            int subtype = part[at + 9] & 0xFF;
            int length = (part[at + 10] & 0xFF) | (part[at + 11] & 0xFF) << 8;
            int padded = (length + 15) / 16 * 16;
            long crc = NvsReader.crc(part, at, at + 12 + padded);
            if (crc != u32(part, at + 12 + padded)) {
                throw new IllegalStateException("record at " + at + " (type " + type + "): CRC32 does not match");
            }
            if (subtype != 0 || r.records.put(type, java.util.Arrays.copyOfRange(part, at + 12, at + 12 + length)) != null) {
                throw new IllegalStateException("record at " + at + ": type " + type + " subtype " + subtype + " twice or not 0");
            }
            at += 12 + padded + 4;
            if (at % 16 != 0) {
                throw new IllegalStateException("records are not 16-byte aligned");
            }
        }
        for (int i = at; i < part.length; i++) {
            if (part[i] != (byte) 0xFF) {
                throw new IllegalStateException("byte " + i + " after the last record is not erased");
            }
        }
        return r;
    }

    private static long u32(byte[] b, int at) {
        return (b[at] & 0xFFL) | (b[at + 1] & 0xFFL) << 8 | (b[at + 2] & 0xFFL) << 16 | (b[at + 3] & 0xFFL) << 24;
    }
}
