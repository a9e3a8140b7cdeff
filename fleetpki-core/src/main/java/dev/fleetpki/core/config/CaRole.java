package dev.fleetpki.core.config;

import java.util.Locale;

/** The part a CA key plays in the hierarchy. */
public enum CaRole {
    ROOT, ISSUING, OCSP, CODE_SIGNING;

    public String configName() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }
}
