package dev.fleetpki.core;

import dev.fleetpki.core.config.FleetConfig;
import dev.fleetpki.kms.KeyAlgorithm;
import dev.fleetpki.kms.KeyManager;
import dev.fleetpki.kms.KeyRef;
import dev.fleetpki.kms.SecretSource;
import dev.fleetpki.kms.SigningKey;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;

/**
 * Makes one-time enrollment secrets ({@code fpe_<id>_<secret>}) that the CA can recompute and
 * nobody else can. Most credentials only need to be checked against what the store keeps (the
 * SHA-256 of the secret), but CMP's MAC protection (RFC 9810 5.1.3.1, PBM and PBMAC1) keys a MAC
 * with the secret itself, so the server must know it while the database still holds only hashes.
 * The secret part is therefore SHA-256 of an Ed25519 signature, by the fleet's enrollment-secret
 * key, over the secret's random id and its device id. Ed25519 signatures are deterministic (RFC
 * 8032 5.1.6), so the same id and device give the same secret; predicting one without the key
 * would be forging a signature. The key lives in the CA home ({@value #KEY_FILE}), encrypted with
 * the issuing CA's passphrase like the CA and audit keys, and is made on first use; a database
 * alone yields no secret, and the key alone names none.
 */
public final class EnrollmentSecrets {
    public static final String KEY_FILE = "keys/enrollment-secrets.p8";
    private static final String DOMAIN = "fleetpki enrollment secret v1";
    private static final SecureRandom RANDOM = new SecureRandom();

    private final Path home;
    private final KeyManager keys;
    private final SecretSource passphrase;
    private SigningKey key;

    public EnrollmentSecrets(Path home, KeyManager keys, SecretSource passphrase) {
        this.home = home;
        this.keys = keys;
        this.passphrase = passphrase;
    }

    /** The fleet's: the key in its home, under the first issuing CA's passphrase. */
    public static EnrollmentSecrets of(FleetConfig config, KeyManager keys) {
        return new EnrollmentSecrets(config.home(), keys, config.issuing().getFirst().passphrase());
    }

    /** A new secret for this device: its text (shown once) and what the store keeps. */
    public TokenSecrets.New create(String deviceId) {
        byte[] id = new byte[8];
        RANDOM.nextBytes(id);
        String idHex = HexFormat.of().formatHex(id);
        String secret = derive(idHex, deviceId);
        return new TokenSecrets.New(TokenSecrets.ENROLLMENT + "_" + idHex + "_" + secret, idHex, TokenSecrets.hash(secret));
    }

    /**
     * The text of a stored secret, recomputed: what its device was given, if it was made by this
     * key (a secret made before, with random bits, gives another text, whose hash does not match).
     */
    public String text(EnrollmentSecret stored) {
        return TokenSecrets.ENROLLMENT + "_" + stored.id() + "_" + derive(stored.id(), stored.deviceId());
    }

    private String derive(String id, String deviceId) {
        byte[] signature;
        try {
            var signer = key().contentSigner();
            try (var out = signer.getOutputStream()) {
                out.write((DOMAIN + "\0" + id + "\0" + deviceId).getBytes(StandardCharsets.UTF_8));
            }
            signature = signer.getSignature();
        } catch (IOException e) {
            throw new PkiException(ErrorKind.INTERNAL, "cannot make the enrollment secret: " + e.getMessage(), e);
        }
        try {
            byte[] secret = MessageDigest.getInstance("SHA-256").digest(signature);
            return Base64.getUrlEncoder().withoutPadding().encodeToString(secret);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private synchronized SigningKey key() {
        if (key == null) {
            KeyRef ref = KeyRef.parse("file:" + KEY_FILE);
            key = Files.exists(home.resolve(KEY_FILE)) ? keys.open(ref, passphrase) : keys.create(ref, KeyAlgorithm.ED25519, passphrase);
        }
        return key;
    }
}
