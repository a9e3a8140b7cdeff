package dev.fleetpki.core;

import java.security.PublicKey;
import java.util.List;
import org.bouncycastle.asn1.x509.GeneralName;

/**
 * What a protocol adapter asks the pipeline to certify, after parsing and authenticating. The
 * names are what the requester asked for; the pipeline checks them against the device and profile.
 *
 * @param deviceId the registered device (or, for cloud-verification, null)
 * @param requestedCn the CN the request carried, or null (a bare public key has none)
 * @param proofOfPossession whether the requester proved it holds the private key (a verified CSR)
 * @param protocol the adapter, for audit and metrics: cli, rest, est, scep, cmp, batch
 * @param registrationCode for cloud-verification: the code the cloud asked for
 * @param caName for cloud-verification: which CA proves possession of its key
 * @param signer for code-signing: the firmware signer the certificate is for (its CN)
 */
public record IssuanceRequest(String deviceId, String profile, PublicKey publicKey, String requestedCn,
                              List<GeneralName> requestedSans, boolean proofOfPossession, String protocol,
                              String registrationCode, String caName, String signer) {
    public IssuanceRequest {
        requestedSans = requestedSans == null ? List.of() : List.copyOf(requestedSans);
    }

    /** A request for a device or a registration code (no signer). */
    public IssuanceRequest(String deviceId, String profile, PublicKey publicKey, String requestedCn, List<GeneralName> requestedSans,
                           boolean proofOfPossession, String protocol, String registrationCode, String caName) {
        this(deviceId, profile, publicKey, requestedCn, requestedSans, proofOfPossession, protocol, registrationCode, caName, null);
    }

    /**
     * A firmware signer's certificate for its key, which the CA opened itself (the key never leaves
     * its file or token, so its possession is shown by opening it, not by a CSR).
     */
    public static IssuanceRequest forSigner(String signer, PublicKey key, String profile, String protocol) {
        return new IssuanceRequest(null, profile, key, signer, List.of(), true, protocol, null, null, signer);
    }

    public static IssuanceRequest fromCsr(UntrustedCsr csr, String deviceId, String profile, String protocol) {
        return new IssuanceRequest(deviceId, profile, csr.publicKey(), csr.commonName(), csr.requestedSubjectAltNames(),
                true, protocol, null, null);
    }

    public static IssuanceRequest fromBareKey(PublicKey key, String deviceId, String profile, String protocol) {
        return new IssuanceRequest(deviceId, profile, key, null, List.of(), false, protocol, null, null);
    }
}
