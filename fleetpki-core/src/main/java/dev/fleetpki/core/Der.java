package dev.fleetpki.core;

import java.io.ByteArrayOutputStream;

/** Writing DER by hand where a structure is only put together from parts already encoded (a signed certificate, a certs-only CMS answer). */
public final class Der {
    public static final int SEQUENCE = 0x30;

    private Der() {}

    /** One DER element: the tag, the definite length (short or long form), the parts one after another. */
    public static byte[] tlv(int tag, byte[]... parts) {
        int length = 0;
        for (byte[] p : parts) {
            length += p.length;
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(length + 6);
        out.write(tag);
        if (length < 0x80) {
            out.write(length);
        } else {
            int bytes = length < 0x100 ? 1 : length < 0x10000 ? 2 : length < 0x1000000 ? 3 : 4;
            out.write(0x80 | bytes);
            for (int i = bytes - 1; i >= 0; i--) {
                out.write(length >>> (8 * i));
            }
        }
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }
}
