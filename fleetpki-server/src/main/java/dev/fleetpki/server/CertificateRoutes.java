package dev.fleetpki.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.Authorization;
import dev.fleetpki.core.CaRecord;
import dev.fleetpki.core.Durations;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.IssuanceRequest;
import dev.fleetpki.core.IssuedCertificate;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.RevocationReason;
import dev.fleetpki.core.Role;
import dev.fleetpki.core.StoredCertificate;
import dev.fleetpki.core.UntrustedCsr;
import dev.fleetpki.kms.Pem;
import io.javalin.Javalin;
import io.javalin.http.Context;
import java.nio.charset.StandardCharsets;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code /api/v1/certificate-requests} (a CSR for a registered device, issued at once when it
 * passes every check) and {@code /api/v1/certificates} (list, show, PEM, DER, chain, revoke).
 */
final class CertificateRoutes {
    private final Services s;
    private final ApiAuth auth;

    CertificateRoutes(Services s, ApiAuth auth) {
        this.s = s;
        this.auth = auth;
    }

    void register(Javalin app) {
        app.post("/api/v1/certificate-requests", this::request);
        app.get("/api/v1/certificates", this::list);
        app.get("/api/v1/certificates/{serial}", this::show);
        app.get("/api/v1/certificates/{serial}/pem", ctx -> pem(ctx, false));
        app.get("/api/v1/certificates/{serial}/chain", ctx -> pem(ctx, true));
        app.get("/api/v1/certificates/{serial}/der", this::der);
        app.post("/api/v1/certificates/{serial}/revoke", this::revoke);
    }

    private void request(Context ctx) {
        Authorization a = auth.require(ctx, Role.ISSUER, Role.FACTORY);
        String profile = "device";
        String device;
        UntrustedCsr csr;
        try {
            JsonNode body = Requests.jsonBody(ctx);
            String csrPem = body.path("csr").asText("");
            if (csrPem.isEmpty()) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "'csr' is required: the device's PKCS#10 request in PEM");
            }
            device = body.path("device").isTextual() ? body.path("device").asText() : null;
            profile = body.path("profile").isTextual() ? body.path("profile").asText() : "device";
            csr = UntrustedCsr.parse(csrPem.getBytes(StandardCharsets.US_ASCII));
        } catch (PkiException e) {
            s.metrics().refused(e.kind(), profile, "rest"); // refused before the pipeline (which counts its own)
            throw e;
        }
        IssuedCertificate issued = s.pipeline().issue(IssuanceRequest.fromCsr(csr, device, profile, "rest"), a);
        Map<String, Object> out = certificateJson(new StoredCertificate(issued, null, null), s.clock().instant());
        out.put("chainPem", chainPem(issued.certificate(), issued.caName()));
        ctx.status(201).header("Location", href(issued.serialHex())).json(out);
    }

    private void list(Context ctx) {
        auth.require(ctx, Role.ISSUER, Role.AUDITOR);
        int limit = Requests.limit(ctx, 100);
        Instant now = s.clock().instant();
        Instant before = null;
        String within = ctx.queryParam("expiringWithin");
        if (within != null) {
            try {
                before = now.plus(Durations.parse(within));
            } catch (IllegalArgumentException e) {
                throw new HttpProblem(400, "bad-parameter", "Bad parameter", "expiringWithin must be a duration such as 30d or 12h, not '" + within + "'");
            }
        }
        List<Map<String, Object>> items = new ArrayList<>();
        for (StoredCertificate c : s.store().certificates(ctx.queryParam("device"), now, before, limit)) {
            items.add(certificateJson(c, now));
        }
        ctx.json(Map.of("items", items));
    }

    private void show(Context ctx) {
        auth.require(ctx, Role.ISSUER, Role.AUDITOR);
        StoredCertificate c = stored(ctx);
        ctx.json(certificateJson(c, s.clock().instant()));
    }

    private void pem(Context ctx, boolean chain) throws CertificateEncodingException {
        auth.require(ctx, Role.ISSUER, Role.AUDITOR);
        StoredCertificate c = stored(ctx);
        String text = chain ? chainPem(c.issued().certificate(), c.issued().caName()) : Pem.encode("CERTIFICATE", c.issued().der());
        ctx.contentType("application/pem-certificate-chain").result(text);
    }

    private void der(Context ctx) {
        auth.require(ctx, Role.ISSUER, Role.AUDITOR);
        ctx.contentType("application/pkix-cert").result(stored(ctx).issued().der());
    }

    private void revoke(Context ctx) {
        Authorization a = auth.require(ctx, Role.ISSUER);
        String serial = serial(ctx);
        JsonNode body = ctx.body().isBlank() ? null : Requests.jsonBody(ctx);
        RevocationReason reason = RevocationReason.parse(body == null || !body.path("reason").isTextual() ? "unspecified" : body.path("reason").asText());
        Instant now = s.clock().instant();
        s.store().revoke(serial, reason, now, new AuditEvent(now, a.actor(), "certificate.revoke", "serial:" + serial,
                Map.of("reason", reason.configName(), "via", "rest")));
        StoredCertificate c = stored(ctx);
        ctx.json(certificateJson(c, now));
    }

    private static String serial(Context ctx) {
        return ctx.pathParam("serial").replace(":", "").toLowerCase(Locale.ROOT);
    }

    private StoredCertificate stored(Context ctx) {
        String serial = serial(ctx);
        return s.store().certificate(serial).orElseThrow(() -> new PkiException(ErrorKind.NOT_FOUND,
                "no certificate with serial " + serial + "; list them at /api/v1/certificates"));
    }

    /** Leaf, its issuing CA, and the CAs above up to the root, as PEM. */
    private String chainPem(X509Certificate leaf, String caName) {
        CaRecord ca = s.store().ca(caName).orElseThrow(() -> new PkiException(ErrorKind.INTERNAL, "CA " + caName + " is missing from the store"));
        List<X509Certificate> chain = new ArrayList<>(List.of(leaf));
        chain.addAll(s.cas().chainFrom(ca));
        StringBuilder sb = new StringBuilder();
        try {
            for (X509Certificate c : chain) {
                sb.append(Pem.encode("CERTIFICATE", c.getEncoded()));
            }
        } catch (CertificateEncodingException e) {
            throw new PkiException(ErrorKind.INTERNAL, "cannot encode a certificate of the chain", e);
        }
        return sb.toString();
    }

    private static Map<String, Object> certificateJson(StoredCertificate stored, Instant now) {
        IssuedCertificate i = stored.issued();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("serial", i.serialHex());
        m.put("device", i.deviceId());
        m.put("profile", i.profile());
        m.put("ca", i.caName());
        m.put("subject", i.subject());
        m.put("notBefore", i.notBefore().toString());
        m.put("notAfter", i.notAfter().toString());
        m.put("status", stored.status(now));
        if (stored.revoked()) {
            m.put("revokedAt", stored.revokedAt().toString());
            m.put("revocationReason", stored.reason().configName());
        }
        m.put("proofOfPossession", i.proofOfPossession());
        m.put("issuedBy", i.issuedBy().toString());
        m.put("issuedAt", i.issuedAt().toString());
        m.put("protocol", i.protocol());
        m.put("certificatePem", Pem.encode("CERTIFICATE", i.der()));
        m.put("href", href(i.serialHex()));
        return m;
    }

    private static String href(String serial) {
        return "/api/v1/certificates/" + serial;
    }
}
