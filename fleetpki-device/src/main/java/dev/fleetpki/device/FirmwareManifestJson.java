package dev.fleetpki.device;

import java.math.BigInteger;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A strict reader for fleetpki's firmware manifest: one flat JSON object whose values are strings,
 * whole numbers or null, each key once. Anything else (nesting, a repeated key, trailing bytes) is
 * refused: a verifier reads exactly what was signed or nothing.
 */
final class FirmwareManifestJson {
    private final String s;
    private int i;

    private FirmwareManifestJson(String s) {
        this.s = s;
    }

    /** The manifest's fields: String, Long or null values. */
    static Map<String, Object> parse(String text) {
        FirmwareManifestJson p = new FirmwareManifestJson(text);
        Map<String, Object> out = p.object();
        p.space();
        if (p.i != text.length()) {
            throw p.bad("bytes after the manifest's closing brace");
        }
        return out;
    }

    private Map<String, Object> object() {
        space();
        expect('{');
        Map<String, Object> m = new LinkedHashMap<>();
        space();
        if (peek() == '}') {
            i++;
            return m;
        }
        while (true) {
            space();
            String key = string();
            space();
            expect(':');
            space();
            Object value = value();
            if (m.containsKey(key)) {
                throw bad("the key \"" + key + "\" appears twice");
            }
            m.put(key, value);
            space();
            char c = next();
            if (c == '}') {
                return m;
            }
            if (c != ',') {
                throw bad("expected ',' or '}'");
            }
        }
    }

    private Object value() {
        char c = peek();
        if (c == '"') {
            return string();
        }
        if (s.startsWith("null", i)) {
            i += 4;
            return null;
        }
        if (c == '-' || Character.isDigit(c)) {
            int start = i;
            if (c == '-') {
                i++;
            }
            while (i < s.length() && Character.isDigit(s.charAt(i))) {
                i++;
            }
            String digits = s.substring(start, i);
            if (digits.equals("-") || digits.length() > 19) {
                throw bad("a number out of range");
            }
            BigInteger v = new BigInteger(digits);
            if (v.bitLength() > 63) {
                throw bad("a number out of range");
            }
            return v.longValue();
        }
        throw bad("a value that is not a string, a whole number or null");
    }

    private String string() {
        expect('"');
        StringBuilder b = new StringBuilder();
        while (true) {
            char c = next();
            if (c == '"') {
                return b.toString();
            }
            if (c < 0x20) {
                throw bad("a control character in a string");
            }
            if (c == '\\') {
                char e = next();
                switch (e) {
                    case '"', '\\', '/' -> b.append(e);
                    case 'n' -> b.append('\n');
                    case 't' -> b.append('\t');
                    case 'r' -> b.append('\r');
                    case 'b' -> b.append('\b');
                    case 'f' -> b.append('\f');
                    case 'u' -> {
                        if (i + 4 > s.length()) {
                            throw bad("a cut-off \\u escape");
                        }
                        try {
                            b.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                        } catch (NumberFormatException ex) {
                            throw bad("a bad \\u escape");
                        }
                        i += 4;
                    }
                    default -> throw bad("an unknown escape \\" + e);
                }
            } else {
                b.append(c);
            }
        }
    }

    private void space() {
        while (i < s.length() && (s.charAt(i) == ' ' || s.charAt(i) == '\n' || s.charAt(i) == '\r' || s.charAt(i) == '\t')) {
            i++;
        }
    }

    private char peek() {
        if (i >= s.length()) {
            throw bad("it ends early");
        }
        return s.charAt(i);
    }

    private char next() {
        char c = peek();
        i++;
        return c;
    }

    private void expect(char c) {
        if (next() != c) {
            throw bad("expected '" + c + "'");
        }
    }

    private DeviceException bad(String what) {
        return new DeviceException("the firmware manifest is not valid JSON of fleetpki's form (at byte " + i + ": " + what + "); refused");
    }
}
