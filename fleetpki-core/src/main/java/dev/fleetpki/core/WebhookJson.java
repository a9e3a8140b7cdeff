package dev.fleetpki.core;

import dev.fleetpki.core.config.Webhook;
import dev.fleetpki.core.store.WebhookStore;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Registry notification endpoints and failed events as JSON: the one shape {@code GET
 * /api/v1/webhooks[/{name}/failures]} and {@code fleetpki webhook list|failed --json} give.
 */
public final class WebhookJson {
    private WebhookJson() {}

    /** One endpoint's configuration and delivery state (no secret: only whether it signs). */
    public static Map<String, Object> endpoint(WebhookStore store, Webhook h) {
        WebhookStore.Endpoint e = store.webhookEndpoint(h.name());
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", h.name());
        m.put("url", h.url().toString());
        m.put("events", Webhook.EVENTS.stream().filter(h.events()::contains).toList());
        m.put("signed", h.secret() != null);
        m.put("perMinute", h.perMinute());
        m.put("cursor", e.cursor());
        m.put("backlog", store.auditEventsCountAfter(e.cursor(), h.actions()));
        m.put("delivered", e.delivered());
        m.put("lastDeliveryAt", e.lastDeliveryAt() == null ? null : e.lastDeliveryAt().toString());
        m.put("failed", e.failed());
        m.put("lastError", e.lastError());
        m.put("lastErrorAt", e.lastErrorAt() == null ? null : e.lastErrorAt().toString());
        return m;
    }

    /** An event set aside after its attempts ran out. */
    public static Map<String, Object> failure(WebhookStore.Failure f) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("endpoint", f.endpoint());
        m.put("seq", f.seq());
        m.put("id", "fleetpki-audit-" + f.seq());
        m.put("event", f.event());
        m.put("attempts", f.attempts());
        m.put("lastError", f.lastError());
        m.put("failedAt", f.failedAt().toString());
        m.put("retryRequested", f.retryRequested());
        return m;
    }
}
