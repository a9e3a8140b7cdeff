package dev.fleetpki.core;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** RFC 5280 5.3.1 CRLReason codes, by the names operators type. */
public enum RevocationReason {
    UNSPECIFIED(0), KEY_COMPROMISE(1), CA_COMPROMISE(2), AFFILIATION_CHANGED(3), SUPERSEDED(4),
    CESSATION_OF_OPERATION(5), CERTIFICATE_HOLD(6), PRIVILEGE_WITHDRAWN(9), AA_COMPROMISE(10);

    private final int code;

    RevocationReason(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }

    public String configName() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    public static RevocationReason parse(String s) {
        String n = s == null ? "" : s.trim().toLowerCase(Locale.ROOT).replace('_', '-');
        for (RevocationReason r : values()) {
            if (r.configName().equals(n) || r.name().replace("_", "").equalsIgnoreCase(n.replace("-", ""))) {
                return r;
            }
        }
        throw new PkiException(ErrorKind.MALFORMED_REQUEST, "unknown revocation reason '" + s + "'; use one of "
                + Arrays.stream(values()).map(RevocationReason::configName).collect(Collectors.joining(", ")));
    }
}
