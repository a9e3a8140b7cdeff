package dev.fleetpki.core.store;

import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.RevocationReason;
import dev.fleetpki.core.StoredCertificate;
import dev.fleetpki.core.firmware.Signer;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * Firmware signers. A signer is created and rotated only together with its certificate (the
 * issuance pipeline's commit writes both, see {@code Authorization.SignerEnrollment}); this store
 * reads them and revokes them.
 */
public interface SignerStore {
    Optional<Signer> signer(String name);

    /** All signers, by name. */
    List<Signer> signers();

    /** Every certificate the signer has held, newest first. */
    List<StoredCertificate> signerCertificates(String signer);

    /**
     * Revokes the signer and every unrevoked certificate it has held, with one audit event, in one
     * transaction.
     *
     * @param invalidSince when its key is known or suspected to have been compromised, or null
     * @return the serials revoked
     */
    List<String> revokeSigner(String name, RevocationReason reason, Instant at, Instant invalidSince, AuditEvent event);
}
