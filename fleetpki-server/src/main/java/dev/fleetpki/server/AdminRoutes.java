package dev.fleetpki.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fleetpki.core.AuditAction;
import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.CaRecord;
import dev.fleetpki.core.DualControl;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.RevocationReason;
import dev.fleetpki.core.firmware.Signer;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What only an admin does over the API (and the console's CAs page): revoke a subordinate CA
 * ({@code POST /api/v1/cas/{name}/revoke}, its parent's CRL made at once when its key is here)
 * and revoke a firmware signer with every certificate it held ({@code POST
 * /api/v1/signers/{name}/revoke}). Either can need a second operator (dualControl).
 */
final class AdminRoutes {
    private final Services s;
    private final ApiAuth auth;

    AdminRoutes(Services s, ApiAuth auth) {
        this.s = s;
        this.auth = auth;
    }

    void register(RoutesConfig app) {
        app.post("/api/v1/cas/{name}/revoke", this::revokeCa);
        app.post("/api/v1/signers/{name}/revoke", this::revokeSigner);
    }

    private static RevocationReason reason(JsonNode body, String otherwise) {
        String text = body == null || !body.path("reason").isTextual() ? otherwise : body.path("reason").asText();
        try {
            return RevocationReason.parse(text);
        } catch (IllegalArgumentException e) {
            throw new HttpProblem(400, "bad-parameter", "Bad parameter", e.getMessage());
        }
    }

    private void revokeCa(Context ctx) {
        ApiAuth.Caller a = auth.requireWithSession(ctx, Access.ADMIN);
        String name = ctx.pathParam("name");
        CaRecord ca = s.caRecords().ca(name).orElseThrow(() -> new PkiException(ErrorKind.NOT_FOUND, "no CA named '" + name + "'; list them at /api/v1/cas"));
        if (ca.parent() == null || ca.parent().equals(ca.name())) {
            throw new PkiException(ErrorKind.POLICY_VIOLATION, "'" + name + "' is a root: nothing above it can list it on a CRL; replace it "
                    + "instead (fleetpki ca rollover --name " + name + ")");
        }
        if (s.published().caRevokedAt(name).isPresent()) {
            throw new PkiException(ErrorKind.CONFLICT, "CA '" + name + "' is revoked already");
        }
        JsonNode body = ctx.body().isBlank() ? null : Requests.jsonBody(ctx);
        RevocationReason r = reason(body, "ca-compromise");
        DualControl.Decision d = s.dualControl().check(DualControl.Action.CA_REVOKE, "ca:" + name, "reason=" + r.configName(), a.actor());
        if (d instanceof DualControl.Decision.Recorded rec) {
            Requests.awaitingSecond(ctx, rec);
            return;
        }
        Instant now = s.clock().instant();
        s.published().revokeCa(name, r, now, new AuditEvent(now, a.actor(), AuditAction.CA_REVOKE, "ca:" + name,
                Map.of("reason", r.configName(), "serial", ca.certificate().getSerialNumber().toString(16), "via", "rest")));
        s.dualControl().done((DualControl.Decision.Proceed) d, a.actor());
        Map<String, Object> out = new LinkedHashMap<>(dev.fleetpki.core.CaJson.of(s.caRecords().ca(name).orElseThrow()));
        out.put("revokedAt", now.toString());
        out.put("revocationReason", r.configName());
        try {
            var run = s.revocation().generateCrl(ca.parent(), a.actor());
            out.put("crl", Map.of("ca", run.ca(), "number", run.number(), "entries", run.entries()));
        } catch (PkiException e) {
            if (e.kind() != ErrorKind.CONFIG) {
                throw e;
            }
            out.put("crl", null);
            out.put("note", "the CRL of " + ca.parent() + " is not made here (" + e.detail() + "); generate it where its key is: fleetpki crl generate");
        }
        ctx.json(out);
    }

    private void revokeSigner(Context ctx) {
        ApiAuth.Caller a = auth.requireWithSession(ctx, Access.ADMIN);
        String name = ctx.pathParam("name");
        Signer signer = s.signers().signer(name).orElseThrow(() -> new PkiException(ErrorKind.NOT_FOUND, "no firmware signer named '" + name + "'"));
        if (signer.status() == Signer.Status.REVOKED) {
            throw new PkiException(ErrorKind.CONFLICT, "signer '" + name + "' is revoked already");
        }
        JsonNode body = ctx.body().isBlank() ? null : Requests.jsonBody(ctx);
        RevocationReason r = reason(body, "key-compromise");
        Instant invalidSince = Requests.invalidSince(body);
        String params = "reason=" + r.configName() + (invalidSince == null ? "" : ", invalidSince=" + invalidSince);
        DualControl.Decision d = s.dualControl().check(DualControl.Action.SIGNER_REVOKE, "signer:" + name, params, a.actor());
        if (d instanceof DualControl.Decision.Recorded rec) {
            Requests.awaitingSecond(ctx, rec);
            return;
        }
        Instant now = s.clock().instant();
        Map<String, String> detail = new LinkedHashMap<>();
        detail.put("reason", r.configName());
        detail.put("via", "rest");
        if (invalidSince != null) {
            detail.put("invalidSince", invalidSince.toString());
        }
        List<String> serials = s.signers().revokeSigner(name, r, now, invalidSince, new AuditEvent(now, a.actor(), AuditAction.SIGNER_REVOKE,
                "signer:" + name, detail));
        s.dualControl().done((DualControl.Decision.Proceed) d, a.actor());
        s.revocation().revoked(serials);
        ctx.json(Map.of("signer", name, "status", "revoked", "reason", r.configName(), "serials", serials));
    }
}
