package dev.fleetpki.server;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.PkiException;
import io.javalin.http.Context;
import java.io.IOException;

/** Reading what REST requests send: paging limits and JSON bodies, refused with a problem that says what to send. */
final class Requests {
    static final int MAX_PAGE = 500;
    private static final ObjectMapper JSON = new ObjectMapper();

    private Requests() {}

    /** The {@code limit} query parameter: 1 to {@link #MAX_PAGE}, {@code otherwise} when absent. */
    static int limit(Context ctx, int otherwise) {
        String l = ctx.queryParam("limit");
        if (l == null) {
            return otherwise;
        }
        int limit;
        try {
            limit = Integer.parseInt(l);
        } catch (NumberFormatException e) {
            limit = -1;
        }
        if (limit < 1 || limit > MAX_PAGE) {
            throw new HttpProblem(400, "bad-parameter", "Bad parameter", "limit must be a number from 1 to " + MAX_PAGE + ", not '" + l + "'");
        }
        return limit;
    }

    static JsonNode jsonBody(Context ctx) {
        String type = String.valueOf(ctx.contentType());
        if (!type.startsWith("application/json")) {
            throw new HttpProblem(415, "unsupported-media-type", "Unsupported media type",
                    "send the body as JSON with Content-Type: application/json (got " + (ctx.contentType() == null ? "none" : type) + ")");
        }
        try {
            JsonNode n = JSON.readTree(ctx.bodyAsBytes());
            if (n == null || !n.isObject()) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the body must be a JSON object");
            }
            return n;
        } catch (JsonProcessingException e) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the body is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the body could not be read: " + e.getMessage());
        }
    }

    /** 202: the call was recorded as the first of two operators' approvals (dualControl), nothing done yet. */
    static void awaitingSecond(Context ctx, dev.fleetpki.core.DualControl.Decision.Recorded rec) {
        java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
        m.put("status", "awaiting-second-operator");
        m.put("action", rec.first().action().configName());
        m.put("target", rec.first().target());
        m.put("firstBy", rec.first().by().toString());
        m.put("expiresAt", rec.first().expiresAt().toString());
        m.put("detail", "Recorded: " + rec.message() + ".");
        ctx.status(202).json(m);
    }

    /** The body's {@code invalidSince} (RFC 3339 UTC), or null when absent; 400 when it is not such a time. */
    static java.time.Instant invalidSince(JsonNode body) {
        if (body == null || !body.hasNonNull("invalidSince")) {
            return null;
        }
        try {
            return java.time.Instant.parse(body.path("invalidSince").asText());
        } catch (java.time.format.DateTimeParseException e) {
            throw new HttpProblem(400, "bad-parameter", "Bad parameter", "invalidSince '" + body.path("invalidSince").asText()
                    + "' is not an RFC 3339 UTC time like 2026-11-30T08:00:00Z");
        }
    }
}
