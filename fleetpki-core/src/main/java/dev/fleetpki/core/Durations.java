package dev.fleetpki.core;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Durations as operators write them in YAML and on the command line: 90d, 12h, 30m, 10y, 45s. */
public final class Durations {
    private static final Pattern P = Pattern.compile("(\\d+)\\s*([smhdy])");

    private Durations() {}

    public static Duration parse(String text) {
        Matcher m = P.matcher(text == null ? "" : text.trim());
        if (!m.matches()) {
            throw new IllegalArgumentException("'" + text + "' is not a duration; write a number and a unit: 45s, 30m, 12h, 90d or 10y");
        }
        long n = Long.parseLong(m.group(1));
        return switch (m.group(2)) {
            case "s" -> Duration.ofSeconds(n);
            case "m" -> Duration.ofMinutes(n);
            case "h" -> Duration.ofHours(n);
            case "d" -> Duration.ofDays(n);
            default -> Duration.ofDays(n * 365);
        };
    }

    public static String format(Duration d) {
        long s = d.getSeconds();
        if (s % (365 * 86400L) == 0 && s > 0) {
            return s / (365 * 86400L) + "y";
        }
        if (s % 86400 == 0 && s > 0) {
            return s / 86400 + "d";
        }
        if (s % 3600 == 0 && s > 0) {
            return s / 3600 + "h";
        }
        if (s % 60 == 0 && s > 0) {
            return s / 60 + "m";
        }
        return s + "s";
    }
}
