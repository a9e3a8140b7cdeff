package dev.fleetpki.core;

import dev.fleetpki.kms.Pem;
import java.security.cert.CertificateEncodingException;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * A CA as JSON, the one shape the REST API ({@code /api/v1/cas}) and {@code fleetpki ca list --json}
 * give: name, role, subject, parent, notBefore, notAfter, serial, certificatePem.
 */
public final class CaJson {
    private CaJson() {}

    public static Map<String, Object> of(CaRecord c) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", c.name());
        m.put("role", c.role().name().toLowerCase(Locale.ROOT).replace('_', '-'));
        m.put("subject", c.certificate().getSubjectX500Principal().getName());
        m.put("parent", c.parent());
        m.put("notBefore", c.certificate().getNotBefore().toInstant().toString());
        m.put("notAfter", c.certificate().getNotAfter().toInstant().toString());
        m.put("serial", c.certificate().getSerialNumber().toString(16));
        try {
            m.put("certificatePem", Pem.encode("CERTIFICATE", c.certificate().getEncoded()));
        } catch (CertificateEncodingException e) {
            throw new PkiException(ErrorKind.INTERNAL, "cannot encode CA certificate " + c.name(), e);
        }
        return m;
    }
}
