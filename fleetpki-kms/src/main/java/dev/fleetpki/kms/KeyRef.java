package dev.fleetpki.kms;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A key named by URI, never by its bytes: {@code file:ca/issuing.p8} (an encrypted PKCS#8 or
 * PKCS#12 file, relative to the CA home) or an RFC 7512 PKCS#11 URI such as
 * {@code pkcs11:token=fleet;object=issuing-2026?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:pin.txt}.
 *
 * @param uri the URI as written
 * @param scheme {@code file} or {@code pkcs11}
 * @param path the opaque part for file keys; for pkcs11 the path attributes
 * @param pathAttributes RFC 7512 path attributes (token, object, id, slot-id ...), decoded
 * @param queryAttributes RFC 7512 query attributes (module-path, pin-source ...), decoded
 */
public record KeyRef(String uri, String scheme, String path,
                     Map<String, String> pathAttributes, Map<String, String> queryAttributes) {

    public static KeyRef parse(String text) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException("empty key reference; write file:PATH or pkcs11:token=...;object=...");
        }
        String t = text.trim();
        int colon = t.indexOf(':');
        String scheme = colon < 0 ? "" : t.substring(0, colon);
        String rest = colon < 0 ? t : t.substring(colon + 1);
        switch (scheme) {
            case "file" -> {
                if (rest.isBlank()) {
                    throw new IllegalArgumentException("key reference '" + t + "' has no path; write file:ca/issuing.p8");
                }
                return new KeyRef(t, "file", rest, Map.of(), Map.of());
            }
            case "pkcs11" -> {
                int q = rest.indexOf('?');
                String pathPart = q < 0 ? rest : rest.substring(0, q);
                String query = q < 0 ? "" : rest.substring(q + 1);
                Map<String, String> pa = attributes(pathPart, ";", t);
                Map<String, String> qa = attributes(query, "&", t);
                if (!pa.containsKey("object") && !pa.containsKey("id")) {
                    throw new IllegalArgumentException("PKCS#11 key reference '" + t
                            + "' names no key; add ;object=LABEL (RFC 7512)");
                }
                if (!qa.containsKey("module-path")) {
                    throw new IllegalArgumentException("PKCS#11 key reference '" + t
                            + "' has no ?module-path=...; add the PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so");
                }
                return new KeyRef(t, "pkcs11", pathPart, pa, qa);
            }
            default -> throw new IllegalArgumentException("key reference '" + t
                    + "' has an unknown scheme; use file:PATH or pkcs11:... (RFC 7512)");
        }
    }

    private static Map<String, String> attributes(String part, String sep, String whole) {
        Map<String, String> m = new LinkedHashMap<>();
        if (part.isEmpty()) {
            return m;
        }
        for (String kv : part.split(sep)) {
            if (kv.isEmpty()) {
                continue;
            }
            int eq = kv.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("attribute '" + kv + "' in '" + whole + "' is not name=value");
            }
            m.put(kv.substring(0, eq), URLDecoder.decode(kv.substring(eq + 1).replace("+", "%2B"), StandardCharsets.UTF_8));
        }
        return Map.copyOf(m);
    }

    public boolean isFile() {
        return scheme.equals("file");
    }

    public boolean isPkcs11() {
        return scheme.equals("pkcs11");
    }

    /** A file key reference resolved against a base directory (the CA home). */
    public Path filePath(Path base) {
        Path p = Path.of(path);
        return p.isAbsolute() ? p : base.resolve(p);
    }

    @Override
    public String toString() {
        return uri;
    }

}
