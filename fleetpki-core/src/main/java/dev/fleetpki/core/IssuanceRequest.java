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
 */
public record IssuanceRequest(String deviceId, String profile, PublicKey publicKey, String requestedCn,
                              List<GeneralName> requestedSans, boolean proofOfPossession, String protocol,
                              String registrationCode, String caName) {
    public IssuanceRequest {
        requestedSans = requestedSans == null ? List.of() : List.copyOf(requestedSans);
    }

    public static IssuanceRequest fromCsr(UntrustedCsr csr, String deviceId, String profile, String protocol) {
        return new IssuanceRequest(deviceId, profile, csr.publicKey(), csr.commonName(), csr.requestedSubjectAltNames(),
                true, protocol, null, null);
    }

    public static IssuanceRequest fromBareKey(PublicKey key, String deviceId, String profile, String protocol) {
        return new IssuanceRequest(deviceId, profile, key, null, List.of(), false, protocol, null, null);
    }
}
