package dev.fleetpki.server;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;

/**
 * What the console's pages are written with. Every value that did not come from this source file
 * (a device id, an audit detail, a CSR's subject, a reason an operator typed) goes through {@link
 * #esc}, for text and for attribute values alike.
 */
final class Html {
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm").withZone(ZoneOffset.UTC);

    private Html() {}

    /** The text escaped for HTML text and quoted attribute values; null is the empty string. */
    static String esc(Object value) {
        if (value == null) {
            return "";
        }
        String s = value.toString();
        StringBuilder b = new StringBuilder(s.length() + 16);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '&' -> b.append("&amp;");
                case '"' -> b.append("&quot;");
                case '\'' -> b.append("&#39;");
                default -> b.append(c);
            }
        }
        return b.toString();
    }

    /** A query parameter or path segment value. */
    static String url(String value) {
        return URLEncoder.encode(value == null ? "" : value, StandardCharsets.UTF_8).replace("+", "%20");
    }

    /** A time to the minute in UTC, with the exact instant in the element's datetime. */
    static String time(Instant t) {
        return t == null ? "" : "<time datetime=\"" + t + "\">" + TIME.format(t) + "</time>";
    }

    /** A status word as a coloured label (the word itself picks the colour in console.css). */
    static String badge(String status) {
        return "<span class=\"badge badge-" + esc(status.toLowerCase(java.util.Locale.ROOT)) + "\">" + esc(status) + "</span>";
    }
}
