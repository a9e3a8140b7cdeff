package dev.fleetpki.core;

import java.time.Instant;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * A registered device: the id the cloud knows it by, and where its key lives when known
 * ({@code software}, {@code se:stsafe-a110/slot0}, a PKCS#11 URI ...).
 */
public record Device(String id, String model, Map<String, String> tags, Status status, String keyLocation, Instant createdAt) {
    public enum Status { ACTIVE, DISABLED, REVOKED }

    /**
     * The model of the CA's own servers: each {@code fleetpki serve} registers its TLS identity as a
     * device of this model. Only an operator may obtain certificates for such a device, so no
     * enrollment credential can impersonate the CA's own services.
     */
    public static final String SERVER_MODEL = "fleetpki-server";

    public Device {
        tags = tags == null ? Map.of() : Map.copyOf(tags);
    }

    /**
     * Device ids: 1-64 characters (the id is the certificate's CN, and RFC 5280's ub-common-name is
     * 64), no control characters or DN/URI metacharacters that would be escaped.
     */
    private static final Pattern ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._:@/-]*");

    public static final int MAX_ID = 64;

    public static void checkId(String id) {
        if (id == null || id.isEmpty() || id.length() > MAX_ID || !ID.matcher(id).matches()) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "device id '" + (id == null ? "" : id.replaceAll("\\p{Cntrl}", "?"))
                    + "' is not valid; use 1-" + MAX_ID + " letters, digits and . _ : @ / - (starting with a letter or digit); the id "
                    + "is the certificate's CN, which RFC 5280 caps at 64 characters");
        }
        // ids go into URI SANs and URL paths as they are: no segment may be empty, '.' or '..' (RFC 3986 5.2.4 would rewrite it)
        for (String segment : id.split("/", -1)) {
            if (segment.isEmpty() || segment.equals(".") || segment.equals("..")) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "device id '" + id + "' is not valid: a '/'-separated part is empty, '.' or "
                        + "'..', which URIs and paths would rewrite; use a name without such a part");
            }
        }
    }
}
