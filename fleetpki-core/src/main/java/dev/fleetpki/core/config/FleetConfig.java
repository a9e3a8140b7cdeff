package dev.fleetpki.core.config;

import dev.fleetpki.core.EnrollmentPolicy;
import dev.fleetpki.core.Profile;
import dev.fleetpki.kms.SecretSource;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The validated contents of {@code fleetpki.yaml}: where the store is, the CA ceremony, the URLs
 * certificates point to, and the profiles. Built by {@link ConfigLoader}, which reports every
 * error at once.
 *
 * @param home the folder the file is in; relative paths resolve against it
 * @param storeUrl JDBC URL: {@code jdbc:sqlite:fleetpki.db} (default) or {@code jdbc:postgresql://...}
 * @param storeUser database user for PostgreSQL, or null
 * @param storePassword database password source, or null
 * @param crlUrl CRL distribution point template ({@code {ca}} is the CA name), or null
 * @param ocspUrl OCSP responder URL for AIA, or null
 * @param caIssuersUrl CA certificate URL template for AIA, or null
 * @param enrollment which enrollment credentials each fleet accepts, and the rate limits
 * @param revocation how CRLs and OCSP responses are published
 */
public record FleetConfig(Path home, String storeUrl, String storeUser, SecretSource storePassword,
                          String crlUrl, String ocspUrl, String caIssuersUrl,
                          CaSpec root, List<CaSpec> issuing, CaSpec ocsp, CaSpec codeSigning,
                          Map<String, Profile> profiles, EnrollmentPolicy enrollment,
                          RevocationSettings revocation) {

    public Optional<Profile> profile(String name) {
        return Optional.ofNullable(profiles.get(name));
    }

    /** All CA specs of the ceremony, root first. */
    public List<CaSpec> allCas() {
        var out = new ArrayList<CaSpec>();
        out.add(root);
        out.addAll(issuing);
        if (ocsp != null) {
            out.add(ocsp);
        }
        if (codeSigning != null) {
            out.add(codeSigning);
        }
        return out;
    }

    public Optional<CaSpec> ca(String name) {
        return allCas().stream().filter(c -> c.name().equals(name)).findFirst();
    }

    /** The URL of a CA's CRL shard, or null when no CRL URL is configured. */
    public String crlUrl(String ca, int shard) {
        return crlUrl == null ? null : crlUrl.replace("{ca}", ca).replace("{shard}", Integer.toString(shard));
    }

    public String defaultIssuer() {
        return issuing.getFirst().name();
    }
}
