package dev.fleetpki.core.firmware;

import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.PkiException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.MessageDigest;

/** Copying an image of a known size through a digest, in one pass and a fixed buffer. */
final class Streams {
    /** 256 KiB: large enough that the digest, not the loop, sets the pace. */
    static final int BUFFER = 256 * 1024;

    private Streams() {}

    /**
     * Reads exactly {@code size} bytes from {@code in} into {@code digest} and, unless null, {@code out}.
     *
     * @throws PkiException MALFORMED_REQUEST when the stream is shorter or longer than {@code size}
     */
    static void copy(InputStream in, long size, MessageDigest digest, OutputStream out) throws IOException {
        byte[] buf = new byte[(int) Math.min(BUFFER, Math.max(1, size))];
        long left = size;
        while (left > 0) {
            int n = in.read(buf, 0, (int) Math.min(buf.length, left));
            if (n < 0) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the image ended after " + (size - left) + " of its " + size
                        + " bytes; it is truncated (or the size given is wrong)");
            }
            digest.update(buf, 0, n);
            if (out != null) {
                out.write(buf, 0, n);
            }
            left -= n;
        }
        if (in.read() >= 0) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the image is longer than the " + size + " bytes given");
        }
    }
}
