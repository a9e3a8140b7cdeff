package dev.fleetpki.core.config;

import dev.fleetpki.core.DualControl;
import dev.fleetpki.core.EnrollmentPolicy;
import dev.fleetpki.core.Profile;
import dev.fleetpki.core.ProfileKind;
import dev.fleetpki.kms.SecretSource;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

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
 * @param webhooks registry notification endpoints (none by default)
 */
public record FleetConfig(Path home, String storeUrl, String storeUser, SecretSource storePassword,
                          String crlUrl, String ocspUrl, String caIssuersUrl,
                          CaSpec root, List<CaSpec> issuing, CaSpec ocsp, CaSpec codeSigning,
                          Map<String, Profile> profiles, EnrollmentPolicy enrollment,
                          RevocationSettings revocation, List<Webhook> webhooks, Set<DualControl.Action> dualControl) {
    public FleetConfig {
        webhooks = webhooks == null ? List.of() : List.copyOf(webhooks);
        dualControl = dualControl == null ? Set.of() : Set.copyOf(dualControl);
    }

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

    /** The registry notification endpoint of this name; NOT_FOUND when fleetpki.yaml names none so. */
    public Webhook webhook(String name) {
        return webhooks.stream().filter(w -> w.name().equals(name)).findFirst().orElseThrow(() -> new dev.fleetpki.core.PkiException(
                dev.fleetpki.core.ErrorKind.NOT_FOUND, "no webhook named '" + name + "' in fleetpki.yaml's notifications.webhooks"));
    }

    public Optional<CaSpec> ca(String name) {
        return allCas().stream().filter(c -> c.name().equals(name)).findFirst();
    }

    /** The URL of a CA's CRL shard, or null when no CRL URL is configured. */
    public String crlUrl(String ca, int shard) {
        return crlUrl == null ? null : crlUrl.replace("{ca}", ca).replace("{shard}", Integer.toString(shard));
    }

    /**
     * What protects firmware signers' file keys: the code-signing CA's passphrase (the fleet
     * passphrase unless the ceremony gives it its own), else the first issuing CA's.
     */
    public SecretSource signerPassphrase() {
        return codeSigning != null ? codeSigning.passphrase() : issuing.getFirst().passphrase();
    }

    public String defaultIssuer() {
        return issuing.getFirst().name();
    }

    /** The CA that signs for this profile unless a request names one: the profile's issuer, the code-signing CA for code signing, else the default issuing CA. */
    public String issuerOf(Profile profile) {
        if (profile.issuer() != null) {
            return profile.issuer();
        }
        if (profile.kind() == ProfileKind.CODE_SIGNING && codeSigning != null) {
            return codeSigning.name();
        }
        return defaultIssuer();
    }

    /**
     * What is allowed but likely a mistake, one sentence each (shown by {@code init} and
     * {@code config check}): an issuing CA with name constraints that signs device certificates,
     * which Mbed TLS cannot verify: it does not implement name constraints (2.28 and 3.x), and a
     * certificate with the critical extension fails to parse with -0x2562 (invalid extensions,
     * unexpected tag).
     */
    public List<String> warnings() {
        List<String> out = new ArrayList<>();
        for (CaSpec ca : issuing) {
            if (ca.permittedDns().isEmpty() && ca.excludedDns().isEmpty() && ca.permittedUris().isEmpty()) {
                continue;
            }
            List<String> device = profiles.values().stream().filter(Profile::deviceSide).filter(p -> issuerOf(p).equals(ca.name()))
                    .map(Profile::name).sorted().toList();
            if (!device.isEmpty()) {
                out.add("issuing CA '" + ca.name() + "' has name constraints and signs device profiles " + device + ": devices on Mbed TLS "
                        + "(2.28 and 3.x) cannot parse its certificate (-0x2562: a critical extension it does not implement), and device "
                        + "ids must be host names inside the constraints; keep name constraints on a CA that signs only server-tls "
                        + "certificates, and devices on another issuing CA (docs/ceremony.md)");
            }
        }
        return out;
    }
}
