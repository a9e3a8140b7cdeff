package dev.fleetpki.server;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleetpki.core.AuditAction;
import dev.fleetpki.core.AuditVerification;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import java.io.IOException;
import java.io.OutputStream;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The audit log over the API, for role auditor (or admin), API token or console session:
 * {@code GET /api/v1/audit} a page of events newest first (filters {@code action}, {@code
 * target}, {@code actor}; keyset paging with {@code before}), or with {@code format=jsonl} every
 * matching event as JSON lines (the console's export); {@code GET /api/v1/audit/verify} the
 * chain recomputed.
 */
final class AuditRoutes {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int EXPORT_PAGE = 1000;
    private final Services s;
    private final ApiAuth auth;

    AuditRoutes(Services s, ApiAuth auth) {
        this.s = s;
        this.auth = auth;
    }

    void register(RoutesConfig app) {
        app.get("/api/v1/audit", this::list);
        app.get("/api/v1/audit/verify", this::verify);
    }

    /** A sequence number parameter, or null when absent. */
    static Long seq(String text) {
        if (text == null || text.isBlank()) {
            return null;
        }
        try {
            return Long.parseLong(text.strip());
        } catch (NumberFormatException e) {
            throw new HttpProblem(400, "bad-parameter", "Bad parameter", "before must be an event's sequence number, not '" + text + "'");
        }
    }

    /** The action named, or 400 listing them. */
    static AuditAction action(String wire) {
        try {
            return AuditAction.parse(wire);
        } catch (IllegalArgumentException e) {
            throw new HttpProblem(400, "bad-parameter", "Bad parameter", "'" + wire + "' is not an audit action; they are: "
                    + String.join(", ", java.util.Arrays.stream(AuditAction.values()).map(AuditAction::wireName).toList()));
        }
    }

    private static String param(Context ctx, String name) {
        String v = ctx.queryParam(name);
        return v == null || v.isBlank() ? null : v.strip();
    }

    private static Map<String, Object> json(Map<String, Object> e) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("seq", e.get("seq"));
        m.put("at", e.get("at").toString());
        m.put("actor", e.get("actor"));
        m.put("action", e.get("action"));
        m.put("target", e.get("target"));
        try {
            m.put("detail", JSON.readTree((String) e.get("detail")));
        } catch (IOException ex) {
            m.put("detail", e.get("detail"));
        }
        return m;
    }

    private void list(Context ctx) throws IOException {
        auth.requireWithSession(ctx, Access.AUDIT);
        String action = param(ctx, "action");
        if (action != null) {
            action(action);
        }
        String target = param(ctx, "target");
        String actor = param(ctx, "actor");
        Long before = seq(ctx.queryParam("before"));
        if ("jsonl".equals(ctx.queryParam("format"))) {
            ctx.contentType("application/jsonl; charset=utf-8");
            ctx.header("Content-Disposition", "attachment; filename=\"fleetpki-audit.jsonl\"");
            OutputStream out = ctx.outputStream();
            Long cursor = before;
            while (true) {
                List<Map<String, Object>> page = s.audit().auditPage(cursor, action, target, actor, EXPORT_PAGE);
                for (Map<String, Object> e : page) {
                    out.write(JSON.writeValueAsBytes(json(e)));
                    out.write('\n');
                }
                if (page.size() < EXPORT_PAGE) {
                    break;
                }
                cursor = (Long) page.getLast().get("seq");
            }
            return;
        }
        int limit = Requests.limit(ctx, 100);
        List<Map<String, Object>> page = s.audit().auditPage(before, action, target, actor, limit + 1);
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("items", page.stream().limit(limit).map(AuditRoutes::json).toList());
        body.put("next", page.size() > limit ? page.get(limit - 1).get("seq") : null);
        ctx.json(body);
    }

    private void verify(Context ctx) {
        auth.requireWithSession(ctx, Access.AUDIT);
        AuditVerification v = s.audit().verifyAudit();
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("intact", v.intact());
        body.put("events", v.events());
        body.put("head", v.headHash());
        body.put("problems", v.problems());
        ctx.json(body);
    }
}
