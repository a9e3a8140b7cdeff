package dev.fleetpki.server.scep;

import dev.fleetpki.core.Actor;
import dev.fleetpki.core.CaRecord;
import dev.fleetpki.core.CaRegistry;
import dev.fleetpki.core.Ceremony;
import dev.fleetpki.core.CertificateAuthority;
import dev.fleetpki.core.StoredCaDirectory;
import dev.fleetpki.core.config.CaRole;
import dev.fleetpki.core.config.FleetConfig;
import dev.fleetpki.core.revocation.RevocationLedger;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The SCEP registration authority of the issuing CA that signs a SCEP label's profile: its newest
 * unrevoked RA record with more than 30 days left, or a new one certified now
 * ({@link Ceremony#certifyScepRa}). Its key is opened once (the directory keeps it).
 */
public final class ScepRa {
    static final Duration RENEW_BEFORE = Duration.ofDays(30);

    private final FleetConfig config;
    private final CaRegistry registry;
    private final RevocationLedger revocations;
    private final StoredCaDirectory cas;
    private final Clock clock;

    public ScepRa(FleetConfig config, CaRegistry registry, RevocationLedger revocations, StoredCaDirectory cas, Clock clock) {
        this.config = config;
        this.registry = registry;
        this.revocations = revocations;
        this.cas = cas;
        this.clock = clock;
    }

    /** How long a chosen RA is used before the CA records are read again (a revoked RA is replaced within this). */
    static final Duration RECHECK = Duration.ofSeconds(60);

    private record Chosen(CertificateAuthority ra, Instant checkedAt) {}

    private final Map<String, Chosen> chosen = new ConcurrentHashMap<>();

    /**
     * The RA (certificate, key, and the chain above it) for requests to {@code caName}'s
     * certificates. The choice is kept for {@link #RECHECK}: every SCEP and CMP request needs the
     * RA, and reading the CA records and their revocation for each one serialized them all.
     */
    public CertificateAuthority forCa(String caName) {
        Instant now = clock.instant();
        Chosen c = chosen.get(caName);
        if (c != null && now.isBefore(c.checkedAt().plus(RECHECK)) && now.isBefore(c.ra().certificate().getNotAfter().toInstant().minus(RENEW_BEFORE))) {
            return c.ra();
        }
        return choose(caName);
    }

    private synchronized CertificateAuthority choose(String caName) {
        Instant now = clock.instant();
        Optional<CaRecord> current = registry.cas().stream()
                .filter(c -> c.role() == CaRole.SCEP_RA && caName.equals(c.parent()))
                .filter(c -> c.certificate().getNotAfter().toInstant().isAfter(now.plus(RENEW_BEFORE)))
                .filter(c -> revocations.caRevokedAt(c.name()).isEmpty())
                .max(Comparator.comparing(c -> c.certificate().getNotBefore()));
        CaRecord rec = current.orElseGet(() -> new Ceremony(config, cas.keys(), registry, clock, Actor.system()).certifyScepRa(caName));
        CertificateAuthority ra = cas.get(rec.name());
        chosen.put(caName, new Chosen(ra, now));
        return ra;
    }
}
