package dev.fleetpki.server;

import java.util.Map;

/** An HTTP-level refusal (authentication, content type, paging) answered as problem details. */
final class HttpProblem extends RuntimeException {
    final int status;
    final String type;
    final String title;
    final Map<String, String> headers;

    HttpProblem(int status, String type, String title, String detail, Map<String, String> headers) {
        super(detail, null, false, false);
        this.status = status;
        this.type = type;
        this.title = title;
        this.headers = headers;
    }

    HttpProblem(int status, String type, String title, String detail) {
        this(status, type, title, detail, Map.of());
    }
}
