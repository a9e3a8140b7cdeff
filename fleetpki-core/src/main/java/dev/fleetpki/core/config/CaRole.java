package dev.fleetpki.core.config;

import java.util.Locale;

/** The part a CA key plays in the hierarchy. */
public enum CaRole {
    ROOT, ISSUING, OCSP, CODE_SIGNING,
    /** The SCEP registration authority of an issuing CA: it opens SCEP requests and signs the answers, and issues nothing. */
    SCEP_RA,
    /**
     * An offline factory station's CA (docs/factory.md): its key stays on the station; the central
     * store keeps its certificate and, after {@code fleetpki factory sync}, what it signed.
     */
    STATION;

    public String configName() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }
}
