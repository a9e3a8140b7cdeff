package dev.fleetpki.core;

import dev.fleetpki.core.config.CaRole;
import dev.fleetpki.core.config.CaSpec;
import dev.fleetpki.core.config.FleetConfig;
import dev.fleetpki.kms.KeyAlgorithm;
import dev.fleetpki.kms.KeyRef;
import java.util.List;

/**
 * How to open and describe a CA the store records. A CA of the ceremony is as fleetpki.yaml says;
 * CAs made later are not in fleetpki.yaml, and their record says where the key is: a delegated OCSP
 * signer (passphrase and validity of {@code ceremony.ocsp}), a SCEP RA (its CA's passphrase), and a
 * rollover successor (everything of the CA it replaces, except the key, subject and algorithm).
 */
public final class CaSpecs {
    private CaSpecs() {}

    public static CaSpec of(FleetConfig config, CaRegistry registry, CaRecord rec) {
        var configured = config.ca(rec.name());
        if (configured.isPresent()) {
            return configured.get();
        }
        if (rec.role() == CaRole.SCEP_RA) {
            CaSpec parent = config.ca(rec.parent()).or(() -> registry.ca(rec.parent()).map(p -> of(config, registry, p)))
                    .orElseThrow(() -> new PkiException(ErrorKind.CONFIG, "SCEP RA '" + rec.name() + "' belongs to CA '" + rec.parent()
                            + "', which fleetpki.yaml no longer names"));
            return new CaSpec(rec.name(), rec.role(), rec.certificate().getSubjectX500Principal().getName(), KeyAlgorithm.RSA_2048,
                    KeyRef.parse(rec.keyRef()), parent.passphrase(), ProfileKind.SCEP_RA.defaultValidity(), List.of(), List.of(), List.of());
        }
        if (rec.role() == CaRole.OCSP) {
            CaSpec base = config.ocsp();
            if (base == null) {
                throw new PkiException(ErrorKind.CONFIG, "OCSP signer '" + rec.name() + "' is in the store but fleetpki.yaml has no "
                        + "ceremony.ocsp section; add it back so its key can be found");
            }
            return new CaSpec(rec.name(), rec.role(), base.subject(), base.algorithm(), KeyRef.parse(rec.keyRef()),
                    base.passphrase(), base.validity(), List.of(), List.of(), List.of());
        }
        if (rec.role() == CaRole.STATION) {
            throw new PkiException(ErrorKind.CONFIG, "CA '" + rec.name() + "' is an offline station's CA: its key stays on the station, so "
                    + "nothing is signed with it here (no CRL of it either); the revocation is recorded here, where renewal and re-enrollment "
                    + "check it");
        }
        Rollover r = registry.rollovers().stream().filter(x -> x.newName().equals(rec.name())).findFirst()
                .orElseThrow(() -> new PkiException(ErrorKind.CONFIG, "CA '" + rec.name() + "' is in the store but not in fleetpki.yaml's "
                        + "ceremony section; add it there so its key can be found"));
        CaRecord old = registry.ca(r.oldName()).orElseThrow(() -> new PkiException(ErrorKind.INTERNAL, "the rollover of '" + r.oldName()
                + "' names a CA the store does not have"));
        return successor(of(config, registry, old), r.newName(), r.newSubject(), KeyAlgorithm.of(rec.certificate().getPublicKey()),
                KeyRef.parse(r.newKeyRef()));
    }

    /** A successor's spec: the old CA's passphrase, validity and name constraints, with its own name, subject, algorithm and key. */
    static CaSpec successor(CaSpec old, String name, String subject, KeyAlgorithm algorithm, KeyRef key) {
        return new CaSpec(name, old.role(), subject, algorithm, key, old.passphrase(), old.validity(), old.permittedDns(),
                old.excludedDns(), old.permittedUris());
    }
}
