package dev.fleetpki.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fleetpki.core.AuditAction;
import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.CaRecord;
import dev.fleetpki.core.Durations;
import dev.fleetpki.core.EnrollmentCredential;
import dev.fleetpki.core.DualControl;
import dev.fleetpki.core.EnrollmentRequest;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.IssuedCertificate;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.RevocationReason;
import dev.fleetpki.core.Role;
import dev.fleetpki.core.StoredCertificate;
import dev.fleetpki.core.TokenSecrets;
import dev.fleetpki.core.UntrustedCsr;
import dev.fleetpki.core.enrollment.Enrollment;
import dev.fleetpki.kms.Pem;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.security.PublicKey;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;

/**
 * {@code /api/v1/certificate-requests} (a CSR for a device: issued at once when the fleet's rule
 * accepts the credential, else pending for an operator; and the pending requests) and {@code /api/v1/certificates} (list, show, PEM, DER, chain, revoke).
 */
final class CertificateRoutes {
    private final Services s;
    private final ApiAuth auth;
    private final Credentials credentials;
    private final Enrollment enrollment;

    CertificateRoutes(Services s, ApiAuth auth, Credentials credentials, Enrollment enrollment) {
        this.s = s;
        this.auth = auth;
        this.credentials = credentials;
        this.enrollment = enrollment;
    }

    void register(RoutesConfig app) {
        app.post("/api/v1/certificate-requests", this::request);
        app.get("/api/v1/certificate-requests", this::requests);
        app.get("/api/v1/certificate-requests/{id}", this::showRequest);
        app.post("/api/v1/certificate-requests/{id}/approve", this::approve);
        app.post("/api/v1/certificate-requests/{id}/reject", this::reject);
        app.get("/api/v1/certificates", this::list);
        app.get("/api/v1/certificates/{serial}", this::show);
        app.get("/api/v1/certificates/{serial}/pem", ctx -> pem(ctx, false));
        app.get("/api/v1/certificates/{serial}/chain", ctx -> pem(ctx, true));
        app.get("/api/v1/certificates/{serial}/der", this::der);
        app.post("/api/v1/certificates/{serial}/revoke", this::revoke);
    }

    /**
     * A CSR (or, for a factory station, a bare public key) for a device. Authenticated like EST
     * enrollment ({@link Credentials}): an API token, a device's one-time secret as a bearer
     * token, or a client certificate. 201 with the certificate, or 202 with the pending request.
     */
    private void request(Context ctx) throws CertificateEncodingException {
        EnrollmentCredential cred = credentials.enrollment(ctx);
        EnrollmentAnswers.checkSource(enrollment, ctx.ip(), "rest");
        String profile = "device";
        String device;
        UntrustedCsr csr = null;
        PublicKey bareKey = null;
        try {
            JsonNode body = Requests.jsonBody(ctx);
            String csrPem = body.path("csr").asText("");
            String keyPem = body.path("publicKey").asText("");
            device = body.path("device").isTextual() ? body.path("device").asText() : null;
            profile = body.path("profile").isTextual() ? body.path("profile").asText() : "device";
            if (csrPem.isEmpty() == keyPem.isEmpty()) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "send exactly one of 'csr' (the device's PKCS#10 request in PEM) or, "
                        + "for a factory station, 'publicKey' (a PEM public key) with 'device'");
            }
            if (!csrPem.isEmpty()) {
                csr = UntrustedCsr.parse(csrPem.getBytes(StandardCharsets.US_ASCII));
            } else {
                if (device == null) {
                    throw new PkiException(ErrorKind.MALFORMED_REQUEST, "a bare public key needs 'device': the registered device id it is for");
                }
                bareKey = publicKey(keyPem);
            }
        } catch (PkiException e) {
            s.metrics().refused(e.kind(), profile, "rest"); // refused before the pipeline (which counts its own)
            enrollment.malformed(ctx.ip());
            throw e;
        }
        Enrollment.Outcome outcome = bareKey != null ? enrollment.enrollBareKey(cred, bareKey, device, profile, "rest")
                : enrollment.enroll(cred, csr, profile, device, "rest", false);
        switch (EnrollmentAnswers.orRefuse(outcome)) {
            case Enrollment.Issued i -> created(ctx, i.certificate());
            case Enrollment.Pending p -> EnrollmentAnswers.pending(ctx, p.request()).json(requestJson(p.request()));
            default -> throw new IllegalStateException("an enrollment answered " + outcome);
        }
    }

    private void created(Context ctx, IssuedCertificate issued) {
        Map<String, Object> out = certificateJson(new StoredCertificate(issued, null, null), s.clock().instant());
        out.put("chainPem", chainPem(issued.certificate(), issued.caName()));
        ctx.status(201).header("Location", href(issued.serialHex())).json(out);
    }

    private static PublicKey publicKey(String pem) {
        try (PEMParser p = new PEMParser(new StringReader(pem))) {
            Object o = p.readObject();
            if (o instanceof SubjectPublicKeyInfo spki) {
                return new JcaPEMKeyConverter().getPublicKey(spki);
            }
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "'publicKey' must be a PEM PUBLIC KEY (SubjectPublicKeyInfo), as "
                    + "openssl pkey -pubout writes it");
        } catch (IOException | RuntimeException e) {
            if (e instanceof PkiException pe) {
                throw pe;
            }
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "'publicKey' is not a readable PEM public key (" + e.getMessage() + ")");
        }
    }

    // ---- pending requests ----

    private void requests(Context ctx) {
        auth.requireWithSession(ctx, Access.READ);
        String status = ctx.queryParam("status");
        EnrollmentRequest.Status st = null;
        if (status != null) {
            try {
                st = EnrollmentRequest.Status.valueOf(status.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new HttpProblem(400, "bad-parameter", "Bad parameter", "status must be pending, issued or rejected, not '" + status + "'");
            }
        }
        ctx.json(Map.of("items", s.requests().requests(st, Requests.limit(ctx, 100)).stream().map(this::requestJson).toList()));
    }

    /**
     * Readable by an operator (API token or client certificate with role issuer, auditor or
     * admin), by the device the request is for with its enrollment credential, and by the factory
     * station that made it; not by a factory token or another station.
     */
    private void showRequest(Context ctx) {
        EnrollmentRequest r = pending(ctx);
        if (ApiAuth.operatorCredential(ctx)) { // an API token (whatever white space came before it) or a console session
            auth.requireWithSession(ctx, Access.READ);
            ctx.json(requestJson(r));
            return;
        }
        EnrollmentCredential cred = credentials.enrollment(ctx);
        boolean may = switch (cred) {
            case EnrollmentCredential.Operator o -> true;
            case EnrollmentCredential.ApiCaller a -> a.role() == Role.ISSUER;
            case EnrollmentCredential.FactoryStation st -> st.actor().equals(r.requestedBy());
            case EnrollmentCredential.Secret d -> d.deviceId().equals(r.deviceId());
            case EnrollmentCredential.Manufacturer d -> d.deviceId().equals(r.deviceId());
            case EnrollmentCredential.Renewal d -> d.deviceId().equals(r.deviceId());
        };
        if (!may) {
            throw new PkiException(ErrorKind.NOT_AUTHORIZED, cred.actor() + " may not read request " + r.id()
                    + "; a request is shown to operators, to its device and to the station that made it");
        }
        ctx.json(requestJson(r));
    }

    private void approve(Context ctx) {
        ApiAuth.Caller a = auth.requireWithSession(ctx, Access.DECIDE);
        EnrollmentRequest r = pending(ctx);
        DualControl.Decision d = s.dualControl().check(DualControl.Action.REQUEST_APPROVE, "request:" + r.id(), "", a.actor());
        if (d instanceof DualControl.Decision.Recorded rec) {
            Requests.awaitingSecond(ctx, rec);
            return;
        }
        s.enrollment().approve(r, a.actor());
        s.dualControl().done((DualControl.Decision.Proceed) d, a.actor());
        ctx.json(requestJson(s.requests().request(r.id()).orElseThrow()));
    }

    private void reject(Context ctx) {
        ApiAuth.Caller a = auth.requireWithSession(ctx, Access.DECIDE);
        EnrollmentRequest r = pending(ctx);
        JsonNode body = ctx.body().isBlank() ? null : Requests.jsonBody(ctx);
        String reason = body == null || !body.path("reason").isTextual() ? null : body.path("reason").asText();
        s.enrollment().reject(r.id(), reason, a.actor());
        ctx.json(requestJson(s.requests().request(r.id()).orElseThrow()));
    }

    private EnrollmentRequest pending(Context ctx) {
        String id = ctx.pathParam("id");
        return s.requests().request(id).orElseThrow(() -> new PkiException(ErrorKind.NOT_FOUND,
                "no certificate request " + id + "; list them at /api/v1/certificate-requests"));
    }

    private Map<String, Object> requestJson(EnrollmentRequest r) {
        Map<String, Object> m = dev.fleetpki.core.RequestJson.of(r);
        m.put("href", EnrollmentAnswers.requestHref(r.id()));
        if (r.serial() != null) {
            m.put("certificate", href(r.serial()));
            s.certificates().certificate(r.serial()).ifPresent(c -> {
                m.put("certificatePem", Pem.encode("CERTIFICATE", c.issued().der()));
                m.put("chainPem", chainPem(c.issued().certificate(), c.issued().caName()));
            });
        }
        return m;
    }

    private void list(Context ctx) {
        auth.requireWithSession(ctx, Access.READ);
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
        for (StoredCertificate c : s.certificates().certificates(ctx.queryParam("device"), now, before, limit)) {
            items.add(certificateJson(c, now));
        }
        ctx.json(Map.of("items", items));
    }

    private void show(Context ctx) {
        auth.requireWithSession(ctx, Access.READ);
        StoredCertificate c = stored(ctx);
        ctx.json(certificateJson(c, s.clock().instant()));
    }

    private void pem(Context ctx, boolean chain) throws CertificateEncodingException {
        auth.requireWithSession(ctx, Access.READ);
        StoredCertificate c = stored(ctx);
        String text = chain ? chainPem(c.issued().certificate(), c.issued().caName()) : Pem.encode("CERTIFICATE", c.issued().der());
        ctx.contentType("application/pem-certificate-chain").result(text);
    }

    private void der(Context ctx) {
        auth.requireWithSession(ctx, Access.READ);
        ctx.contentType("application/pkix-cert").result(stored(ctx).issued().der());
    }

    private void revoke(Context ctx) {
        ApiAuth.Caller a = auth.requireWithSession(ctx, Access.ISSUE);
        String serial = serial(ctx);
        JsonNode body = ctx.body().isBlank() ? null : Requests.jsonBody(ctx);
        RevocationReason reason = RevocationReason.parse(body == null || !body.path("reason").isTextual() ? "unspecified" : body.path("reason").asText());
        Instant invalidSince = Requests.invalidSince(body);
        Instant now = s.clock().instant();
        s.certificates().revoke(serial, reason, now, invalidSince, new AuditEvent(now, a.actor(), AuditAction.CERTIFICATE_REVOKE, "serial:" + serial,
                invalidSince == null ? Map.of("reason", reason.configName(), "via", "rest")
                        : Map.of("reason", reason.configName(), "via", "rest", "invalidSince", invalidSince.toString())));
        s.revocation().revoked(List.of(serial)); // OCSP answer re-signed now, CRL regenerated shortly
        StoredCertificate c = stored(ctx);
        ctx.json(certificateJson(c, now));
    }

    private static String serial(Context ctx) {
        return ctx.pathParam("serial").replace(":", "").toLowerCase(Locale.ROOT);
    }

    private StoredCertificate stored(Context ctx) {
        String serial = serial(ctx);
        return s.certificates().certificate(serial).orElseThrow(() -> new PkiException(ErrorKind.NOT_FOUND,
                "no certificate with serial " + serial + "; list them at /api/v1/certificates"));
    }

    /** Leaf, its issuing CA, and the CAs above up to the root, as PEM. */
    private String chainPem(X509Certificate leaf, String caName) {
        CaRecord ca = s.caRecords().ca(caName).orElseThrow(() -> new PkiException(ErrorKind.INTERNAL, "CA " + caName + " is missing from the store"));
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
        Map<String, Object> m = dev.fleetpki.core.CertificateJson.of(stored, now);
        m.put("href", href(stored.issued().serialHex()));
        return m;
    }

    private static String href(String serial) {
        return "/api/v1/certificates/" + serial;
    }
}
