package dev.fleetpki.kms;

/**
 * A key could not be created, found, unlocked or used. The message names the key reference and
 * what to do; it never contains key material or a passphrase.
 */
public class KeyStoreFailure extends RuntimeException {
    public KeyStoreFailure(String message) {
        super(message);
    }

    public KeyStoreFailure(String message, Throwable cause) {
        super(message, cause);
    }
}
