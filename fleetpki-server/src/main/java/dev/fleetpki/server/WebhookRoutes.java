package dev.fleetpki.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.Role;
import dev.fleetpki.core.config.Webhook;
import dev.fleetpki.core.store.WebhookStore;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code /api/v1/webhooks}: registry notification endpoints, where each stands (cursor, backlog,
 * delivered, last error), the events set aside as failed, and retrying them (docs/cloud.md).
 */
final class WebhookRoutes {
    private final Services s;
    private final ApiAuth auth;

    WebhookRoutes(Services s, ApiAuth auth) {
        this.s = s;
        this.auth = auth;
    }

    void register(RoutesConfig app) {
        app.get("/api/v1/webhooks", this::list);
        app.get("/api/v1/webhooks/{name}/failures", this::failures);
        app.post("/api/v1/webhooks/{name}/retry", this::retry);
    }

    private void list(Context ctx) {
        auth.require(ctx, Access.READ);
        List<Map<String, Object>> out = new ArrayList<>();
        for (Webhook h : s.config().webhooks()) {
            out.add(dev.fleetpki.core.WebhookJson.endpoint(s.webhooks(), h));
        }
        ctx.json(Map.of("items", out));
    }

    private void failures(Context ctx) {
        auth.require(ctx, Access.READ);
        Webhook h = s.config().webhook(ctx.pathParam("name"));
        List<Map<String, Object>> out = new ArrayList<>();
        for (WebhookStore.Failure f : s.webhooks().webhookFailures(h.name(), 1000)) {
            out.add(dev.fleetpki.core.WebhookJson.failure(f));
        }
        ctx.json(Map.of("items", out));
    }

    private void retry(Context ctx) {
        auth.require(ctx, Access.ISSUE);
        Webhook h = s.config().webhook(ctx.pathParam("name"));
        Long seq = null;
        if (!ctx.body().isBlank()) {
            JsonNode body = Requests.jsonBody(ctx);
            JsonNode v = body.path("seq");
            if (!v.isMissingNode() && !v.isNull()) {
                if (!v.canConvertToLong()) {
                    throw new PkiException(ErrorKind.MALFORMED_REQUEST, "'seq' must be the failed event's number (GET /api/v1/webhooks/"
                            + h.name() + "/failures), or left out to retry all");
                }
                seq = v.asLong();
            }
        }
        int n = s.webhooks().requestWebhookRetry(h.name(), seq);
        if (seq != null && n == 0) {
            throw new PkiException(ErrorKind.NOT_FOUND, "no failed event " + seq + " for webhook '" + h.name() + "'");
        }
        ctx.json(Map.of("retrying", n));
    }
}
