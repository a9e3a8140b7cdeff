package dev.fleetpki.core;

import dev.fleetpki.core.config.CaSpec;
import dev.fleetpki.core.config.FleetConfig;
import dev.fleetpki.kms.KeyManager;
import dev.fleetpki.kms.KeyStoreFailure;
import dev.fleetpki.kms.SigningKey;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * CAs as the store records them, with keys opened as the configuration names them. A CA's key is
 * opened on first use and kept open (the key stays in its file or token; only a handle is held).
 */
public final class StoredCaDirectory implements CaDirectory {
    private final FleetConfig config;
    private final KeyManager keys;
    private final CaRegistry registry;
    private final Map<String, CertificateAuthority> open = new ConcurrentHashMap<>();

    public StoredCaDirectory(FleetConfig config, KeyManager keys, CaRegistry registry) {
        this.config = config;
        this.keys = keys;
        this.registry = registry;
    }

    /** The key manager CA keys are opened through (a ceremony step run by the server needs it too). */
    public KeyManager keys() {
        return keys;
    }

    /** How long the rollover records read for {@link #current} are used before they are read again. */
    static final java.time.Duration ROLLOVER_RECHECK = java.time.Duration.ofSeconds(5);

    private record Switched(Map<String, String> successor, long readAtNanos) {}

    private volatile Switched switched;

    /**
     * The CA that signs new certificates in {@code name}'s place: {@code name} itself, or the successor
     * a rollover switched issuance to (and its successor, and so on). A running server sees a switch
     * made by {@code fleetpki ca rollover} within {@link #ROLLOVER_RECHECK}.
     */
    @Override
    public String current(String name) {
        Switched sw = switched;
        long now = System.nanoTime();
        if (sw == null || now - sw.readAtNanos() > ROLLOVER_RECHECK.toNanos()) {
            Map<String, String> m = new java.util.HashMap<>();
            for (Rollover r : registry.rollovers()) {
                if (r.atLeast(Rollover.Step.SWITCHED)) {
                    m.put(r.oldName(), r.newName());
                }
            }
            sw = new Switched(Map.copyOf(m), now);
            switched = sw;
        }
        String at = name;
        for (int guard = 0; guard < 64 && sw.successor().containsKey(at); guard++) {
            at = sw.successor().get(at);
        }
        return at;
    }

    /** Forgets the rollover records read, so the next {@link #current} reads them (after a rollover step in this process). */
    public void rolloversChanged() {
        switched = null;
    }

    @Override
    public CertificateAuthority get(String name) {
        CertificateAuthority ca = open.get(name);
        if (ca != null) {
            return ca;
        }
        // one opening per CA: threads asking at once wait for it (a file key's PBKDF2 costs a few hundred ms of CPU each time)
        return open.computeIfAbsent(name, this::load);
    }

    private CertificateAuthority load(String name) {
        CaRecord rec = registry.ca(name).orElseThrow(() -> new PkiException(ErrorKind.NOT_FOUND, "no CA named '" + name
                + "' in the store; run the ceremony (fleetpki init) or import it (fleetpki ca import)"));
        CaSpec spec = CaSpecs.of(config, registry, rec);
        SigningKey key;
        try {
            key = keys.open(spec.key(), spec.passphrase());
        } catch (KeyStoreFailure e) {
            throw new PkiException(ErrorKind.CONFIG, "cannot open the key of CA '" + name + "': " + e.getMessage(), e);
        }
        if (!Arrays.equals(key.publicKey().getEncoded(), rec.certificate().getPublicKey().getEncoded())) {
            throw new PkiException(ErrorKind.CONFIG, "key " + spec.key() + " does not match CA '" + name + "''s certificate; "
                    + "fleetpki.yaml names the wrong key");
        }
        return new CertificateAuthority(name, rec.role(), rec.certificate(), chain(rec), key);
    }

    /** A CA's certificate, then the certificates above it up to the root: what a relying party needs for its certificates. */
    public List<X509Certificate> chainFrom(CaRecord rec) {
        List<X509Certificate> out = new ArrayList<>();
        out.add(rec.certificate());
        out.addAll(chain(rec));
        return out;
    }

    /** The certificates above a CA, ending with the root. */
    public List<X509Certificate> chain(CaRecord rec) {
        List<X509Certificate> out = new ArrayList<>();
        String parent = rec.parent();
        int guard = 0;
        while (parent != null && guard++ < 8) {
            CaRecord p = registry.ca(parent).orElseThrow();
            out.add(p.certificate());
            parent = p.parent();
        }
        return out;
    }
}
