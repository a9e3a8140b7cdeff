package dev.fleetpki.server;

import dev.fleetpki.core.EnrollmentRequest;
import dev.fleetpki.core.enrollment.Enrollment;
import dev.fleetpki.core.enrollment.Enrollment.Outcome;
import io.javalin.http.Context;
import java.util.Map;

/**
 * Where enrollment outcomes become HTTP, for EST and REST alike: a conflict with a pending
 * request is 409 with the request's Location, a rate limit 429 with Retry-After, a pending request
 * 202 with Retry-After and Location. Refusals ({@code PkiException}) are mapped by their kind in
 * {@link FleetServer}. The adapters write only the body of what was issued.
 */
final class EnrollmentAnswers {
    /** How long a client waiting for an operator is told to wait before asking again. */
    static final int RETRY_AFTER_SECONDS = 60;

    private EnrollmentAnswers() {}

    /** The outcome, unless it is a conflict or a rate limit: those are thrown as their HTTP refusal. */
    static Outcome orRefuse(Outcome outcome) {
        return switch (outcome) {
            case Enrollment.Conflict c -> throw new HttpProblem(409, "request-pending", "A request is pending", c.detail(),
                    Map.of("Location", c.pendingId().map(EnrollmentAnswers::requestHref).orElse("")));
            case Enrollment.RateLimited r -> throw rateLimited(r);
            default -> outcome;
        };
    }

    /** 429 when this source address sent too many malformed requests (before its request is read). */
    static void checkSource(Enrollment enrollment, String source, String protocol) {
        enrollment.sourceLimited(source, protocol).ifPresent(r -> {
            throw new HttpProblem(429, "rate-limited", "Too many malformed requests", r.detail(),
                    Map.of("Retry-After", String.valueOf(r.retryAfterSeconds())));
        });
    }

    private static HttpProblem rateLimited(Enrollment.RateLimited r) {
        return new HttpProblem(429, "rate-limited", "Too many requests", r.detail(), Map.of("Retry-After", String.valueOf(r.retryAfterSeconds())));
    }

    /** 202 with Retry-After and the request's Location; the adapter writes the body. */
    static Context pending(Context ctx, EnrollmentRequest r) {
        return ctx.status(202).header("Location", requestHref(r.id())).header("Retry-After", String.valueOf(RETRY_AFTER_SECONDS));
    }

    static String requestHref(String id) {
        return "/api/v1/certificate-requests/" + id;
    }
}
