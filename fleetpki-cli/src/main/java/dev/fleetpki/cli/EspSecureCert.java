package dev.fleetpki.cli;

import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.PkiException;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * An {@code esp_secure_cert} partition image in Espressif's TLV format (esp_secure_cert_mgr, the
 * partition Espressif recommends for a device's identity: {@code esp_secure_cert, 0x3F, , ,
 * 0x2000, encrypted} in partitions.csv). Each record: a 12-byte header (magic 0xBA5EBA11, flags,
 * three reserved zero bytes, type, subtype, data length; little-endian), the data, zero padding to
 * a multiple of 16 bytes, and the CRC32 of header, data and padding ({@code crc32_le(0xffffffff,
 * ...)}, as for NVS). The rest of the partition stays erased (0xFF); a reader stops at the first
 * record without the magic.
 */
final class EspSecureCert {
    static final int MAGIC = 0xBA5EBA11;
    static final int CA_CERT = 0;
    static final int DEV_CERT = 1;
    static final int PRIV_KEY = 2;
    static final int SIZE = 0x2000;

    private final ByteArrayOutputStream records = new ByteArrayOutputStream();

    /** Adds a record of {@code type} (subtype 0, no flags). */
    EspSecureCert add(int type, byte[] data) {
        if (data.length > 0xFFFF) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "an esp_secure_cert record holds at most 65535 bytes; this one has " + data.length);
        }
        int padding = (16 - data.length % 16) % 16;
        ByteBuffer b = ByteBuffer.allocate(12 + data.length + padding + 4).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(MAGIC).put((byte) 0).put(new byte[3]).put((byte) type).put((byte) 0).putShort((short) data.length);
        b.put(data).put(new byte[padding]);
        b.putInt(NvsImage.crc(b.array(), 0, 12 + data.length + padding));
        records.writeBytes(b.array());
        return this;
    }

    /** The partition image: the records, then 0xFF to {@link #SIZE} bytes. */
    byte[] build() {
        byte[] r = records.toByteArray();
        if (r.length > SIZE) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the device's certificates and key need " + r.length + " bytes, more than the "
                    + SIZE + "-byte esp_secure_cert partition");
        }
        byte[] image = new byte[SIZE];
        Arrays.fill(image, (byte) 0xFF);
        System.arraycopy(r, 0, image, 0, r.length);
        return image;
    }
}
