package dev.fleetpki.cli;

import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.config.Webhook;
import dev.fleetpki.core.store.WebhookStore;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Registry notifications: where each endpoint stands, what failed, retrying it (docs/cloud.md). */
@Command(name = "webhook", mixinStandardHelpOptions = true,
        description = "Registry notifications (notifications.webhooks in fleetpki.yaml): their state, failed events, retries. "
                + "'fleetpki serve' delivers them.",
        subcommands = {WebhookCommand.ListHooks.class, WebhookCommand.Failed.class, WebhookCommand.Retry.class})
final class WebhookCommand {
    @Command(name = "list", mixinStandardHelpOptions = true,
            description = "Each endpoint: URL, events, backlog (events not yet delivered), delivered, failed, last error.")
    static final class ListHooks implements Callable<Integer> {
        @Mixin HomeOption home;
        @Option(names = "--json", description = "one JSON object: {\"webhooks\": [...]}, each the REST API's endpoint object (name, url, events, "
                + "signed, perMinute, cursor, backlog, delivered, lastDeliveryAt, failed, lastError, lastErrorAt; never the secret)") boolean json;

        @Override
        public Integer call() {
            try (Fleet f = home.open()) {
                if (json) {
                    Certs.printJson(java.util.Map.of("webhooks", f.config().webhooks().stream()
                            .map(h -> dev.fleetpki.core.WebhookJson.endpoint(f.store().webhooks(), h)).toList()));
                    return 0;
                }
                if (f.config().webhooks().isEmpty()) {
                    System.out.println("No webhooks: add notifications.webhooks to fleetpki.yaml (docs/cloud.md).");
                    return 0;
                }
                WebhookStore store = f.store().webhooks();
                System.out.printf("  %-14s %-8s %-9s %-6s %s%n", "NAME", "BACKLOG", "DELIVERED", "FAILED", "URL / LAST ERROR");
                for (Webhook h : f.config().webhooks()) {
                    WebhookStore.Endpoint e = store.webhookEndpoint(h.name());
                    long backlog = store.auditEventsCountAfter(e.cursor(), h.actions());
                    System.out.printf("  %-14s %-8d %-9d %-6d %s%n", h.name(), backlog, e.delivered(), e.failed(), h.url());
                    if (e.lastError() != null) {
                        System.out.printf("  %-14s %-8s %-9s %-6s last error %s: %s%n", "", "", "", "", e.lastErrorAt(), e.lastError());
                    }
                }
            }
            return 0;
        }
    }

    @Command(name = "failed", mixinStandardHelpOptions = true, description = "Events set aside after their attempts ran out.")
    static final class Failed implements Callable<Integer> {
        @Mixin HomeOption home;
        @Parameters(paramLabel = "NAME", arity = "0..1", description = "only this endpoint's") String name;
        @Option(names = "--json", description = "one JSON object: {\"failures\": [...]}, each the REST API's failed event (endpoint, seq, id, "
                + "event, attempts, lastError, failedAt, retryRequested)") boolean json;

        @Override
        public Integer call() {
            try (Fleet f = home.open()) {
                if (name != null) {
                    f.config().webhook(name);
                }
                List<WebhookStore.Failure> failures = f.store().webhooks().webhookFailures(name, 1000);
                if (json) {
                    Certs.printJson(java.util.Map.of("failures", failures.stream().map(dev.fleetpki.core.WebhookJson::failure).toList()));
                    return 0;
                }
                if (failures.isEmpty()) {
                    System.out.println("No failed events.");
                    return 0;
                }
                System.out.printf("  %-14s %-8s %-20s %-8s %-24s %s%n", "ENDPOINT", "SEQ", "EVENT", "ATTEMPTS", "FAILED AT", "LAST ERROR");
                for (WebhookStore.Failure x : failures) {
                    System.out.printf("  %-14s %-8d %-20s %-8d %-24s %s%s%n", x.endpoint(), x.seq(), x.event(), x.attempts(), x.failedAt(), x.lastError(),
                            x.retryRequested() ? " (retry requested)" : "");
                }
            }
            return 0;
        }
    }

    @Command(name = "retry", mixinStandardHelpOptions = true,
            description = "Have 'fleetpki serve' try failed events again: one (--seq) or all of an endpoint's.")
    static final class Retry implements Callable<Integer> {
        @Mixin HomeOption home;
        @Parameters(paramLabel = "NAME", description = "the endpoint") String name;
        @Option(names = "--seq", paramLabel = "N", description = "only this event (fleetpki webhook failed shows them)") Long seq;

        @Override
        public Integer call() {
            try (Fleet f = home.open()) {
                f.config().webhook(name);
                int n = f.store().webhooks().requestWebhookRetry(name, seq);
                if (seq != null && n == 0) {
                    throw new PkiException(ErrorKind.NOT_FOUND, "no failed event " + seq + " for webhook '" + name + "'; fleetpki webhook failed lists them");
                }
                System.out.println(n + " event" + (n == 1 ? "" : "s") + " of '" + name + "' will be tried again by 'fleetpki serve' (within a second "
                        + "when it is running).");
            }
            return 0;
        }
    }
}
