package dev.fleetpki.core;

import java.io.ByteArrayOutputStream;

/**
 * Writing DER by hand where a structure is only put together from parts already encoded (a signed
 * certificate, a certs-only CMS answer, an OCSP response) or written many times over (CRL entries).
 */
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

    /** A DER GeneralizedTime of whole seconds, YYYYMMDDHHMMSSZ (RFC 5280 4.1.2.5.2; sub-second part dropped). */
    public static byte[] generalizedTime(long millis) {
        byte[] out = new byte[17];
        out[0] = 0x18;
        out[1] = 15;
        timeDigits(out, 2, millis, true);
        return out;
    }

    /** Whether RFC 5280 4.1.2.5 writes this instant as UTCTime (1950 through 2049), else GeneralizedTime. */
    static boolean utc(long millis) {
        return millis >= -631152000000L && millis < 2524608000000L; // 1950-01-01T00:00:00Z, 2050-01-01T00:00:00Z
    }

    /**
     * A DER Time as RFC 5280 4.1.2.5 wants it in a certificate's or CRL's validity: UTCTime
     * (YYMMDDHHMMSSZ) from 1950 through 2049, GeneralizedTime otherwise; whole seconds (the
     * sub-second part dropped, as BouncyCastle's {@code Time(Date)} does, without its
     * SimpleDateFormat per call).
     */
    public static byte[] time(long millis) {
        boolean utc = utc(millis);
        byte[] out = new byte[utc ? 15 : 17];
        out[0] = (byte) (utc ? 0x17 : 0x18);
        out[1] = (byte) (out.length - 2);
        timeDigits(out, 2, millis, !utc);
        return out;
    }

    /**
     * Writes YYMMDDHHMMSSZ or YYYYMMDDHHMMSSZ in UTC at {@code p}, without java.time objects (days to
     * civil date, H. Hinnant's algorithm).
     *
     * @return the position after the 'Z'
     */
    static int timeDigits(byte[] out, int p, long millis, boolean fourDigitYear) {
        long secs = Math.floorDiv(millis, 1000);
        long days = Math.floorDiv(secs, 86400);
        int sod = (int) Math.floorMod(secs, 86400);
        long z = days + 719468;
        long era = Math.floorDiv(z, 146097);
        long doe = z - era * 146097;
        long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        long y = yoe + era * 400;
        long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        long mp = (5 * doy + 2) / 153;
        int day = (int) (doy - (153 * mp + 2) / 5 + 1);
        int month = (int) (mp < 10 ? mp + 3 : mp - 9);
        int year = (int) (month <= 2 ? y + 1 : y);
        if (fourDigitYear) {
            p = two(out, p, year / 100);
        }
        p = two(out, p, year % 100);
        p = two(out, p, month);
        p = two(out, p, day);
        p = two(out, p, sod / 3600);
        p = two(out, p, sod / 60 % 60);
        p = two(out, p, sod % 60);
        out[p++] = 'Z';
        return p;
    }

    private static int two(byte[] out, int p, int v) {
        out[p++] = (byte) ('0' + v / 10);
        out[p++] = (byte) ('0' + v % 10);
        return p;
    }
}
