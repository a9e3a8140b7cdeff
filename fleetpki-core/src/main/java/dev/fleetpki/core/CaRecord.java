package dev.fleetpki.core;

import dev.fleetpki.core.config.CaRole;
import java.security.cert.X509Certificate;
import java.time.Instant;

/**
 * A CA the store knows: its certificate, where its key is (null when the key is elsewhere, as an
 * offline root's is), and the CA that signed it (null for the root).
 */
public record CaRecord(String name, CaRole role, X509Certificate certificate, String keyRef, String parent, Instant createdAt) {
    /** Its key is on another machine (an offline root, a station's CA): nothing is signed with it here. */
    public boolean keyElsewhere() {
        return keyRef == null;
    }
}
