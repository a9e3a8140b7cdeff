package dev.fleetpki.server;

import java.util.Locale;

/**
 * The one reader of the {@code Authorization} header (RFC 9110 11.6.2: {@code auth-scheme 1*SP
 * credentials}, the scheme case-insensitive). Every route reads the header through it, so two
 * routes cannot disagree about what a header says, as they once did about a second space.
 */
final class AuthHeader {
    private AuthHeader() {}

    /** The credentials after {@code scheme} and its white space, or null when the header is absent or of another scheme. */
    static String value(String header, String scheme) {
        if (header == null) {
            return null;
        }
        String h = header.strip();
        int end = 0;
        while (end < h.length() && !Character.isWhitespace(h.charAt(end))) {
            end++;
        }
        if (!h.substring(0, end).toLowerCase(Locale.ROOT).equals(scheme.toLowerCase(Locale.ROOT))) {
            return null;
        }
        String v = h.substring(end).strip();
        return v.isEmpty() ? null : v;
    }
}
