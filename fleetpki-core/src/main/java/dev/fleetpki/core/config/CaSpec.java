package dev.fleetpki.core.config;

import dev.fleetpki.kms.KeyAlgorithm;
import dev.fleetpki.kms.KeyRef;
import dev.fleetpki.kms.SecretSource;
import java.time.Duration;
import java.util.List;

/**
 * One CA of the ceremony as configured.
 *
 * @param permittedDns RFC 5280 4.2.1.10 name constraints (issuing CAs only); empty means none
 */
public record CaSpec(String name, CaRole role, String subject, KeyAlgorithm algorithm, KeyRef key,
                     SecretSource passphrase, Duration validity, List<String> permittedDns, List<String> excludedDns,
                     List<String> permittedUris) {
    public CaSpec {
        permittedDns = List.copyOf(permittedDns);
        excludedDns = List.copyOf(excludedDns);
        permittedUris = List.copyOf(permittedUris);
    }

    public boolean hasNameConstraints() {
        return !permittedDns.isEmpty() || !excludedDns.isEmpty() || !permittedUris.isEmpty();
    }
}
