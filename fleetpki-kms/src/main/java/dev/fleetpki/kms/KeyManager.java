package dev.fleetpki.kms;

/**
 * Creates and opens keys by reference. Implementations keep private keys inside their store
 * (an encrypted file or a PKCS#11 token) and return {@link SigningKey} handles.
 */
public interface KeyManager {
    /**
     * Creates a new key at {@code ref}. Refuses to overwrite an existing key.
     *
     * @param secret protects a file key (ignored for PKCS#11, whose URI names its pin-source)
     */
    SigningKey create(KeyRef ref, KeyAlgorithm algorithm, SecretSource secret);

    /** Opens an existing key; the message on failure says what was missing or wrong. */
    SigningKey open(KeyRef ref, SecretSource secret);

    /**
     * Destroys the key at {@code ref} for good (a device key superseded by a rekey): a key file is
     * deleted, a token's private key object and its certificate are destroyed. A key that is not
     * there is nothing to do. Never used on CA keys by fleetpki itself.
     */
    void destroy(KeyRef ref);
}
