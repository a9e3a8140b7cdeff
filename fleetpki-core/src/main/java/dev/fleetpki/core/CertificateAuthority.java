package dev.fleetpki.core;

import dev.fleetpki.core.config.CaRole;
import dev.fleetpki.kms.SigningKey;
import java.security.cert.X509Certificate;
import java.util.List;

/**
 * A CA that can sign now: its certificate, the chain above it (up to and including the root) and
 * a handle to its key.
 */
public record CertificateAuthority(String name, CaRole role, X509Certificate certificate, List<X509Certificate> chain, SigningKey key) {
    public CertificateAuthority {
        chain = List.copyOf(chain);
    }
}
