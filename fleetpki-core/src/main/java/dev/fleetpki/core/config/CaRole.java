package dev.fleetpki.core.config;

/** The part a CA key plays in the hierarchy. */
public enum CaRole {
    ROOT, ISSUING, OCSP, CODE_SIGNING;

    public String configName() {
        return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
    }
}
