package dev.fleetpki.core.firmware;

import dev.fleetpki.core.Actor;
import dev.fleetpki.core.AuditAction;
import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.Authorization;
import dev.fleetpki.core.EnrollmentAuthorizer;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.IssuancePipeline;
import dev.fleetpki.core.IssuanceRequest;
import dev.fleetpki.core.IssuedCertificate;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.RevocationReason;
import dev.fleetpki.core.Role;
import dev.fleetpki.core.store.SignerStore;
import dev.fleetpki.kms.Crypto;
import dev.fleetpki.kms.KeyAlgorithm;
import dev.fleetpki.kms.KeyManager;
import dev.fleetpki.kms.KeyRef;
import dev.fleetpki.kms.KeyStoreFailure;
import dev.fleetpki.kms.SecretSource;
import dev.fleetpki.kms.SigningKey;
import java.io.IOException;
import java.io.OutputStream;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.ContentVerifier;
import org.bouncycastle.operator.OperatorCreationException;

/**
 * Making, rotating and revoking firmware signers. A signer's certificate comes from the one
 * issuance pipeline after the authorizer decided ({@link EnrollmentAuthorizer#signer}); the signer
 * row is written in the transaction that stores the certificate, so neither exists without the
 * other. A key this class created for a signer that then failed is destroyed again: no orphan key.
 */
public final class SignerRegistry {
    private final SignerStore signers;
    private final EnrollmentAuthorizer authorizer;
    private final IssuancePipeline pipeline;
    private final KeyManager keys;
    private final SecretSource passphrase;
    private final Clock clock;

    public SignerRegistry(SignerStore signers, EnrollmentAuthorizer authorizer, IssuancePipeline pipeline, KeyManager keys, SecretSource passphrase,
                          Clock clock) {
        this.signers = signers;
        this.authorizer = authorizer;
        this.pipeline = pipeline;
        this.keys = keys;
        this.passphrase = passphrase;
        this.clock = clock;
    }

    /** A signer and the certificate it was just given. */
    public record Enrolled(Signer signer, IssuedCertificate certificate, SigningKey key) {}

    /**
     * Makes a signer: opens its key (or creates it when {@code create} names an algorithm), checks
     * the key signs, and has the code-signing CA certify it.
     */
    public Enrolled add(Actor actor, Role role, String name, Set<String> models, KeyRef key, KeyAlgorithm create, String profile, String protocol) {
        Signer.checkName(name);
        Set<String> checked = Signer.checkModels(models);
        if (signers.signer(name).isPresent()) {
            throw new PkiException(ErrorKind.CONFLICT, "a signer named '" + name + "' already exists; pick another name, or give it a new key: "
                    + "fleetpki signer rotate " + name + " --key ...");
        }
        return enroll(actor, role, name, checked, key, create, profile, false, protocol);
    }

    /**
     * Gives an active signer a new certificate: for a new key ({@code key} not null; created when
     * {@code create} names an algorithm), or for its current key. Its older certificates stay valid
     * for what they signed until they expire or are revoked.
     */
    public Enrolled rotate(Actor actor, Role role, String name, KeyRef key, KeyAlgorithm create, String profile, String protocol) {
        Signer s = signers.signer(name).orElseThrow(() -> new PkiException(ErrorKind.NOT_FOUND, "no signer named '" + name
                + "'; list them with: fleetpki signer list"));
        if (!s.active()) {
            throw new PkiException(ErrorKind.CONFLICT, "signer '" + name + "' was revoked at " + s.revokedAt() + "; a revoked signer stays "
                    + "revoked: add a new one");
        }
        if (key == null && create != null) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "--create makes a new key at --key; name where it goes");
        }
        return enroll(actor, role, name, s.models(), key != null ? key : KeyRef.parse(s.keyRef()), create, profile, true, protocol);
    }

    private Enrolled enroll(Actor actor, Role role, String name, Set<String> models, KeyRef ref, KeyAlgorithm create, String profile, boolean rotate,
                            String protocol) {
        Authorization auth = authorizer.signer(actor, role, name, models, ref.uri(), profile, rotate, protocol);
        SigningKey key;
        try {
            key = create != null ? keys.create(ref, create, passphrase) : keys.open(ref, passphrase);
        } catch (KeyStoreFailure e) {
            throw new PkiException(ErrorKind.CONFIG, "cannot " + (create != null ? "create" : "open") + " the key of signer '" + name + "': "
                    + e.getMessage(), e);
        }
        try {
            proveSigns(key);
            IssuedCertificate cert = pipeline.issue(IssuanceRequest.forSigner(name, key.publicKey(), profile, protocol), auth);
            Signer signer = signers.signer(name).orElseThrow(() -> new PkiException(ErrorKind.INTERNAL, "signer '" + name + "' was not stored"));
            return new Enrolled(signer, cert, key);
        } catch (RuntimeException e) {
            if (create != null) {
                keys.destroy(ref); // created for this signer only: it certifies nothing now
            }
            throw e;
        }
    }

    /** The key signs, and its signature verifies with its public key: the possession a CSR would show. */
    private static void proveSigns(SigningKey key) {
        byte[] challenge = new byte[32];
        new SecureRandom().nextBytes(challenge);
        try {
            ContentSigner signer = key.contentSigner();
            try (OutputStream out = signer.getOutputStream()) {
                out.write(challenge);
            }
            ContentVerifier v = Crypto.verifier(key.publicKey()).get(signer.getAlgorithmIdentifier());
            try (OutputStream out = v.getOutputStream()) {
                out.write(challenge);
            }
            if (!v.verify(signer.getSignature())) {
                throw new PkiException(ErrorKind.KEY_POLICY, "key " + key.ref() + " made a signature its own public key does not verify");
            }
        } catch (IOException | OperatorCreationException e) {
            throw new PkiException(ErrorKind.KEY_POLICY, "key " + key.ref() + " cannot sign: " + e.getMessage(), e);
        }
    }

    /**
     * Revokes a signer and every certificate it held. Firmware it signed before {@code at} stays
     * valid for a verifier that compares signing time with revocation time (docs/firmware.md says
     * what that does and does not defend against).
     *
     * @return the serials revoked (publish them: their CRL and OCSP answers)
     */
    public List<String> revoke(Actor actor, String name, RevocationReason reason, Instant invalidSince) {
        Instant now = clock.instant();
        Map<String, String> detail = new LinkedHashMap<>();
        detail.put("reason", reason.configName());
        if (invalidSince != null) {
            detail.put("invalidSince", invalidSince.toString());
        }
        return signers.revokeSigner(name, reason, now, invalidSince, new AuditEvent(now, actor, AuditAction.SIGNER_REVOKE, "signer:" + name, detail));
    }
}
