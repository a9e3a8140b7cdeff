package dev.fleetpki.core;

import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.bouncycastle.crypto.generators.Argon2BytesGenerator;
import org.bouncycastle.crypto.generators.OpenBSDBCrypt;
import org.bouncycastle.crypto.params.Argon2Parameters;

/**
 * Console operator passwords. New ones are hashed with argon2id (RFC 9106) at OWASP's minimum
 * settings, m=19 MiB, t=2, p=1, with a 16-byte random salt, written in the PHC string format
 * ({@code $argon2id$v=19$m=19456,t=2,p=1$salt$hash}); a bcrypt hash ({@code $2a$}, {@code $2b$},
 * {@code $2y$}, from an earlier system) is accepted when checking. The password itself is never
 * stored, logged or put in an error.
 */
public final class Passwords {
    private static final SecureRandom RANDOM = new SecureRandom();
    static final int MEMORY_KIB = 19_456;
    static final int ITERATIONS = 2;
    static final int PARALLELISM = 1;
    private static final int HASH_BYTES = 32;
    /** Shortest password an operator may choose. */
    public static final int MIN_LENGTH = 12;
    private static final Pattern ARGON2ID = Pattern.compile("\\$argon2id\\$v=19\\$m=(\\d{1,7}),t=(\\d{1,3}),p=(\\d{1,2})\\$([A-Za-z0-9+/]+)\\$([A-Za-z0-9+/]+)");
    /** A hash of a password nobody has, so that checking an unknown name costs as much as a known one. */
    private static final String DUMMY = hash("not a password of anyone".toCharArray());

    private Passwords() {}

    /** Why a new password is refused, or null when it is acceptable. */
    public static String weakness(char[] password) {
        if (password.length < MIN_LENGTH) {
            return "a password needs at least " + MIN_LENGTH + " characters (this one has " + password.length + ")";
        }
        if (password.length > 1024) {
            return "a password has at most 1024 characters";
        }
        return null;
    }

    /** The argon2id PHC string of a new password. */
    public static String hash(char[] password) {
        byte[] salt = new byte[16];
        RANDOM.nextBytes(salt);
        byte[] out = argon2(password, salt, MEMORY_KIB, ITERATIONS, PARALLELISM, HASH_BYTES);
        Base64.Encoder b64 = Base64.getEncoder().withoutPadding();
        return "$argon2id$v=19$m=" + MEMORY_KIB + ",t=" + ITERATIONS + ",p=" + PARALLELISM + "$" + b64.encodeToString(salt) + "$" + b64.encodeToString(out);
    }

    /** Whether {@code password} is the one {@code encoded} (argon2id or bcrypt) was made from; false for anything unreadable. */
    public static boolean matches(char[] password, String encoded) {
        if (encoded == null) {
            return false;
        }
        Matcher m = ARGON2ID.matcher(encoded);
        if (m.matches()) {
            int mem = Integer.parseInt(m.group(1));
            int t = Integer.parseInt(m.group(2));
            int p = Integer.parseInt(m.group(3));
            if (mem < 8 * p || mem > 1_048_576 || t < 1 || p < 1) {
                return false;
            }
            Base64.Decoder b64 = Base64.getDecoder();
            byte[] expected = b64.decode(m.group(5));
            byte[] got = argon2(password, b64.decode(m.group(4)), mem, t, p, expected.length);
            return MessageDigest.isEqual(expected, got);
        }
        if (encoded.startsWith("$2a$") || encoded.startsWith("$2b$") || encoded.startsWith("$2y$")) {
            try {
                return OpenBSDBCrypt.checkPassword(encoded, password);
            } catch (IllegalArgumentException e) {
                return false;
            }
        }
        return false;
    }

    /** Spends the time of one check and answers false: for a sign-in with a name nobody has. */
    public static boolean matchesNobody(char[] password) {
        matches(password, DUMMY);
        return false;
    }

    private static byte[] argon2(char[] password, byte[] salt, int memKib, int iterations, int parallelism, int length) {
        Argon2Parameters params = new Argon2Parameters.Builder(Argon2Parameters.ARGON2_id).withVersion(Argon2Parameters.ARGON2_VERSION_13)
                .withMemoryAsKB(memKib).withIterations(iterations).withParallelism(parallelism).withSalt(salt).build();
        Argon2BytesGenerator g = new Argon2BytesGenerator();
        g.init(params);
        byte[] out = new byte[length];
        g.generateBytes(password, out);
        return out;
    }

    /** Overwrites a password held in memory. */
    public static void wipe(char[] password) {
        if (password != null) {
            Arrays.fill(password, '\0');
        }
    }
}
