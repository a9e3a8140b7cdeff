package dev.fleetpki.core;

import dev.fleetpki.core.config.CaRole;
import dev.fleetpki.core.config.CaSpec;
import dev.fleetpki.core.config.FleetConfig;
import dev.fleetpki.kms.KeyAlgorithm;
import dev.fleetpki.kms.KeyManager;
import dev.fleetpki.kms.KeyRef;
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

    @Override
    public CertificateAuthority get(String name) {
        CertificateAuthority ca = open.get(name);
        if (ca != null) {
            return ca;
        }
        ca = load(name);
        open.put(name, ca);
        return ca;
    }

    private CertificateAuthority load(String name) {
        CaRecord rec = registry.ca(name).orElseThrow(() -> new PkiException(ErrorKind.NOT_FOUND, "no CA named '" + name
                + "' in the store; run the ceremony (fleetpki init) or import it (fleetpki ca import)"));
        CaSpec spec = config.ca(name).orElseGet(() -> delegatedOcspSpec(rec));
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

    /**
     * An OCSP signer certified after the ceremony (Ceremony.certifyOcspSigner) is not in
     * fleetpki.yaml: its key is where its record says, opened with ceremony.ocsp's passphrase.
     */
    private CaSpec delegatedOcspSpec(CaRecord rec) {
        if (rec.role() == CaRole.SCEP_RA) { // Ceremony.certifyScepRa: the key where its record says, with its CA's passphrase
            CaSpec parent = config.ca(rec.parent()).orElseThrow(() -> new PkiException(ErrorKind.CONFIG, "SCEP RA '" + rec.name()
                    + "' belongs to CA '" + rec.parent() + "', which fleetpki.yaml no longer names"));
            return new CaSpec(rec.name(), rec.role(), rec.certificate().getSubjectX500Principal().getName(), KeyAlgorithm.RSA_2048,
                    KeyRef.parse(rec.keyRef()), parent.passphrase(), ProfileKind.SCEP_RA.defaultValidity(), List.of(), List.of(), List.of());
        }
        CaSpec base = config.ocsp();
        if (rec.role() != CaRole.OCSP || base == null) {
            throw new PkiException(ErrorKind.CONFIG, "CA '" + rec.name() + "' is in the store but not in fleetpki.yaml's ceremony section; "
                    + "add it there so its key can be found");
        }
        return new CaSpec(rec.name(), rec.role(), base.subject(), base.algorithm(), KeyRef.parse(rec.keyRef()),
                base.passphrase(), base.validity(), List.of(), List.of(), List.of());
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
