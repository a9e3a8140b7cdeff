package dev.fleetpki.core.config;

import dev.fleetpki.kms.SecretSource;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;

/**
 * A registry notification endpoint ({@code notifications.webhooks} in fleetpki.yaml; docs/cloud.md):
 * after a certificate is issued or revoked, or a device revoked, disabled or enabled, {@code fleetpki
 * serve} POSTs a JSON event here, so a back end can register or disable the device in its IoT hub.
 *
 * @param events which events go here (of {@link #EVENTS}; default all)
 * @param secret the key of the HMAC-SHA256 signature in {@code X-Fleetpki-Signature}, or null for none
 * @param perMinute at most this many requests a minute (IoT hubs allow about 100 registry operations a minute)
 * @param timeout how long one request may take, connecting included
 * @param attempts how many times one event is tried before it is set aside as failed (retriable from the CLI and API)
 * @param backoff the wait after the first failed attempt; it doubles after each, up to 5 minutes
 * @param trust a PEM file of CAs to trust for an https URL instead of the JDK's, or null
 */
public record Webhook(String name, URI url, Set<String> events, SecretSource secret, int perMinute, Duration timeout, int attempts,
                      Duration backoff, Path trust) {
    /** The events, by their wire names, in the order the audit log records their causes. */
    public static final List<String> EVENTS = List.of("certificate.issued", "certificate.revoked", "device.revoked", "device.disabled",
            "device.enabled");

    public static final int DEFAULT_PER_MINUTE = 100;
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);
    public static final int DEFAULT_ATTEMPTS = 10;
    public static final Duration DEFAULT_BACKOFF = Duration.ofSeconds(1);
    public static final Duration MAX_BACKOFF = Duration.ofMinutes(5);

    /** The audit actions that cause each event (the audit log is the outbox: docs/cloud.md). */
    public static final java.util.Map<String, String> EVENT_OF = java.util.Map.of("certificate.issue", "certificate.issued",
            "certificate.revoke", "certificate.revoked", "device.revoke", "device.revoked", "device.disable", "device.disabled",
            "device.enable", "device.enabled");

    public Webhook {
        events = Set.copyOf(events);
    }

    /** The audit actions behind the events this endpoint wants. */
    public List<String> actions() {
        return EVENT_OF.entrySet().stream().filter(e -> events.contains(e.getValue())).map(java.util.Map.Entry::getKey).sorted().toList();
    }
}
