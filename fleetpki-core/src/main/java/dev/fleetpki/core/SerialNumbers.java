package dev.fleetpki.core;

import java.math.BigInteger;
import java.security.SecureRandom;

/**
 * Certificate serial numbers: positive, at most 20 octets (RFC 5280 4.1.2.2), 16 octets of which
 * 126 bits come from a CSPRNG (the top two are fixed: 0 keeps it positive, 1 keeps it 16 octets;
 * CA/Browser Forum Baseline Requirements 7.1: at least 64). Uniqueness is enforced by
 * the store's primary key on reservation.
 */
public final class SerialNumbers {
    private static final SecureRandom RANDOM = new SecureRandom();

    private SerialNumbers() {}

    public static BigInteger next() {
        byte[] b = new byte[16];
        RANDOM.nextBytes(b);
        b[0] &= 0x7f;
        b[0] |= 0x40; // fixed top bit: always 16 octets DER, never zero
        return new BigInteger(1, b);
    }

    public static String hex(BigInteger serial) {
        return serial.toString(16);
    }
}
