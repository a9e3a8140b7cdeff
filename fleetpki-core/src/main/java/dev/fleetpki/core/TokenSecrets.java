package dev.fleetpki.core;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * API token text: {@code fpk_<id>_<secret>} (enrollment secrets: {@code fpe_...}), id 8 random bytes in hex (public, the lookup key),
 * secret 32 random bytes in base64url. Only SHA-256(secret) is stored.
 */
public final class TokenSecrets {
    private static final SecureRandom RANDOM = new SecureRandom();
    /** API tokens. */
    public static final String TOKEN = "fpk";
    /** One-time device enrollment secrets. */
    public static final String ENROLLMENT = "fpe";
    private static final Pattern FORMAT = Pattern.compile("(fpk|fpe)_([0-9a-f]{16})_([A-Za-z0-9_-]{43})");

    /** A new token: its text (shown once) and what the store keeps. */
    public record New(String text, String id, String secretHash) {}

    /** A presented token split into its parts. */
    public record Presented(String id, String secret) {}

    private TokenSecrets() {}

    public static New create() {
        return create(TOKEN);
    }

    /** A new secret with this prefix ({@link #TOKEN} or {@link #ENROLLMENT}). */
    public static New create(String prefix) {
        byte[] id = new byte[8];
        byte[] secret = new byte[32];
        RANDOM.nextBytes(id);
        RANDOM.nextBytes(secret);
        String idHex = HexFormat.of().formatHex(id);
        String secretText = Base64.getUrlEncoder().withoutPadding().encodeToString(secret);
        return new New(prefix + "_" + idHex + "_" + secretText, idHex, hash(secretText));
    }

    /** Null when the text is not shaped like an API token. */
    public static Presented parse(String text) {
        return parse(TOKEN, text);
    }

    /** Null when the text is not shaped like a secret with this prefix. */
    public static Presented parse(String prefix, String text) {
        if (text == null) {
            return null;
        }
        Matcher m = FORMAT.matcher(text.trim());
        return m.matches() && m.group(1).equals(prefix) ? new Presented(m.group(2), m.group(3)) : null;
    }

    public static String hash(String secret) {
        return Fingerprints.sha256(secret.getBytes(StandardCharsets.US_ASCII));
    }

    /** Constant-time comparison of the presented secret with the stored hash. */
    public static boolean matches(Presented p, String storedHash) {
        return MessageDigest.isEqual(hash(p.secret()).getBytes(StandardCharsets.US_ASCII), storedHash.getBytes(StandardCharsets.US_ASCII));
    }
}
