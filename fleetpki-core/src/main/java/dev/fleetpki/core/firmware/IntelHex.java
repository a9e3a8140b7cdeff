package dev.fleetpki.core.firmware;

import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.PkiException;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.Reader;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.TreeMap;

/**
 * Reads an Intel HEX file (what Zephyr writes as zephyr.hex) into the binary it describes: from
 * its lowest address to its highest, gaps filled with 0xFF as erased flash reads (as MCUboot's
 * imgtool does). Record types 00 (data), 01 (end of file), 02 (extended segment address),
 * 03 and 05 (start address, ignored), 04 (extended linear address); every record's checksum is checked.
 */
public final class IntelHex {
    /** The largest span an image may cover: a sparse file must not make a huge array. */
    public static final long MAX_SPAN = 256L * 1024 * 1024;

    private IntelHex() {}

    /** The image's bytes and the flash address of its first byte. */
    public record Image(long baseAddress, byte[] bytes) {}

    public static Image read(Reader in) throws IOException {
        BufferedReader r = new BufferedReader(in);
        TreeMap<Long, byte[]> chunks = new TreeMap<>();
        long upper = 0;
        boolean end = false;
        int lineNo = 0;
        String line;
        while ((line = r.readLine()) != null) {
            lineNo++;
            line = line.strip();
            if (line.isEmpty()) {
                continue;
            }
            if (end) {
                throw bad(lineNo, "a record follows the end-of-file record");
            }
            if (line.charAt(0) != ':' || line.length() < 11 || line.length() % 2 == 0) {
                throw bad(lineNo, "a record is ':' then an even number of hex digits (at least 10)");
            }
            byte[] rec;
            try {
                rec = HexFormat.of().parseHex(line, 1, line.length());
            } catch (IllegalArgumentException e) {
                throw bad(lineNo, "it has a character that is not a hex digit");
            }
            int count = rec[0] & 0xFF;
            if (rec.length != count + 5) {
                throw bad(lineNo, "its byte count says " + count + " data bytes, it has " + (rec.length - 5));
            }
            int sum = 0;
            for (byte b : rec) {
                sum += b & 0xFF;
            }
            if ((sum & 0xFF) != 0) {
                throw bad(lineNo, "its checksum is wrong (the file is damaged)");
            }
            int offset = ((rec[1] & 0xFF) << 8) | (rec[2] & 0xFF);
            int type = rec[3] & 0xFF;
            byte[] data = Arrays.copyOfRange(rec, 4, 4 + count);
            switch (type) {
                case 0 -> {
                    if (count > 0) {
                        long at = upper + offset;
                        if (chunks.put(at, data) != null) {
                            throw bad(lineNo, "it writes address 0x" + Long.toHexString(at) + " a second time");
                        }
                    }
                }
                case 1 -> end = true;
                case 2 -> upper = (long) word(data, lineNo) << 4;
                case 4 -> upper = (long) word(data, lineNo) << 16;
                case 3, 5 -> { } // start address: where execution begins, not part of the image
                default -> throw bad(lineNo, "record type " + type + " is not an Intel HEX record type");
            }
        }
        if (!end) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the Intel HEX file has no end-of-file record (:00000001FF); it is truncated");
        }
        if (chunks.isEmpty()) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the Intel HEX file holds no data");
        }
        long base = chunks.firstKey();
        long top = 0;
        for (var e : chunks.entrySet()) {
            top = Math.max(top, e.getKey() + e.getValue().length);
        }
        if (top - base > MAX_SPAN) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the Intel HEX file spans 0x" + Long.toHexString(base) + " to 0x"
                    + Long.toHexString(top) + ", more than " + (MAX_SPAN >> 20) + " MB; sign each flash region's image on its own");
        }
        byte[] out = new byte[(int) (top - base)];
        Arrays.fill(out, (byte) 0xFF);
        long covered = base;
        for (var e : chunks.entrySet()) {
            if (e.getKey() < covered) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the Intel HEX file writes address 0x" + Long.toHexString(e.getKey()) + " twice");
            }
            System.arraycopy(e.getValue(), 0, out, (int) (e.getKey() - base), e.getValue().length);
            covered = e.getKey() + e.getValue().length;
        }
        return new Image(base, out);
    }

    private static int word(byte[] data, int lineNo) {
        if (data.length != 2) {
            throw bad(lineNo, "an address record has 2 data bytes");
        }
        return ((data[0] & 0xFF) << 8) | (data[1] & 0xFF);
    }

    private static PkiException bad(int line, String why) {
        return new PkiException(ErrorKind.MALFORMED_REQUEST, "Intel HEX line " + line + " is not valid: " + why);
    }
}
