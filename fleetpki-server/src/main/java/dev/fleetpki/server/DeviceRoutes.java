package dev.fleetpki.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fleetpki.core.AuditAction;
import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.Device;
import dev.fleetpki.core.DeviceImport;
import dev.fleetpki.core.Durations;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.Role;
import dev.fleetpki.core.StoredCertificate;
import dev.fleetpki.core.enrollment.Enrollment;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/** {@code /api/v1/devices}: register, list (keyset paging, filters), show, disable. */
final class DeviceRoutes {

    private final Services s;
    private final ApiAuth auth;

    DeviceRoutes(Services s, ApiAuth auth) {
        this.s = s;
        this.auth = auth;
    }

    void register(RoutesConfig app) {
        app.post("/api/v1/devices", this::create);
        app.post("/api/v1/devices/import", this::importDevices);
        app.get("/api/v1/devices", this::list);
        app.get("/api/v1/devices/{id}", this::show);
        app.post("/api/v1/devices/{id}/disable", ctx -> setStatus(ctx, Device.Status.DISABLED));
        app.post("/api/v1/devices/{id}/enable", ctx -> setStatus(ctx, Device.Status.ACTIVE));
        app.post("/api/v1/devices/{id}/enrollment-secret", this::secret);
    }

    /**
     * Many devices in one request (docs/devices.md): {@code {"devices": [{id, model, tags, keyLocation}],
     * "skipExisting"?, "skipInvalid"?, "enrollmentSecrets"?: {"expiresIn"?: "7d"}}}. Every row is
     * checked first; then all are stored in one transaction (with their one-time secrets, returned
     * in this answer only), or, when rows are refused and skipInvalid is off, none (400 with the
     * refused rows).
     */
    private void importDevices(Context ctx) {
        ApiAuth.Caller a = auth.require(ctx, Access.ISSUE);
        JsonNode body = Requests.jsonBody(ctx);
        body.fieldNames().forEachRemaining(f -> {
            if (!Set.of("devices", "skipExisting", "skipInvalid", "enrollmentSecrets").contains(f)) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "unknown field '" + f + "'; the fields are devices, skipExisting, skipInvalid, "
                        + "enrollmentSecrets");
            }
        });
        JsonNode list = body.path("devices");
        if (!list.isArray() || list.isEmpty()) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "'devices' must be a non-empty list of {\"id\", \"model\"?, \"tags\"?, \"keyLocation\"?}");
        }
        List<DeviceImport.Row> rows = new java.util.ArrayList<>();
        List<DeviceImport.RowError> errors = new java.util.ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            try {
                rows.add(DeviceImport.row(i, list.get(i)));
            } catch (IllegalArgumentException e) {
                errors.add(new DeviceImport.RowError(i, null, e.getMessage()));
            }
        }
        Duration life = null;
        JsonNode secrets = body.path("enrollmentSecrets");
        if (!secrets.isMissingNode() && !secrets.isNull()) {
            String in = secrets.path("expiresIn").asText(null);
            try {
                life = in == null ? s.config().enrollment().secretValidity() : Durations.parse(in);
            } catch (IllegalArgumentException e) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "enrollmentSecrets.expiresIn: " + e.getMessage());
            }
        }
        Instant now = s.clock().instant().truncatedTo(ChronoUnit.MILLIS);
        DeviceImport.Result r = DeviceImport.run(new DeviceImport.Parsed(rows, errors), new DeviceImport.Options(body.path("skipExisting").asBoolean(false),
                body.path("skipInvalid").asBoolean(false), life), s.devices(), life == null ? null : s.secrets(), a.actor(), now);
        Map<String, Object> out = new LinkedHashMap<>();
        boolean refused = r.imported().isEmpty() && !r.errors().isEmpty() && !body.path("skipInvalid").asBoolean(false);
        if (refused) {
            out.put("type", "https://fleetpki.dev/problems/rows-refused");
            out.put("title", "Rows refused");
            out.put("status", 400);
            out.put("detail", r.errors().size() + " of " + list.size() + " devices refused; nothing was imported. Fix them, or send skipInvalid: true");
            out.put("instance", ctx.path());
        }
        out.put("imported", r.imported());
        out.put("skipped", r.skipped());
        out.put("errors", r.errors().stream().map(e -> {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("index", e.line());
            m.put("id", e.id());
            m.put("error", e.error());
            return m;
        }).toList());
        if (life != null) {
            ctx.header("Cache-Control", "no-store");
            out.put("secrets", r.secrets().stream().map(x -> Map.of("device", x.deviceId(), "secret", x.text(), "expiresAt", x.expiresAt().toString()))
                    .toList());
        }
        if (refused) {
            ctx.status(400).json(out).contentType("application/problem+json");
        } else {
            ctx.status(r.imported().isEmpty() ? 200 : 201).json(out);
        }
    }

    private void create(Context ctx) {
        ApiAuth.Caller a = auth.require(ctx, Access.ISSUE);
        JsonNode body = Requests.jsonBody(ctx);
        String id = text(body, "id");
        Device.checkId(id);
        Map<String, String> tags = new LinkedHashMap<>();
        JsonNode t = body.path("tags");
        if (!t.isMissingNode() && !t.isNull()) {
            if (!t.isObject()) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "'tags' must be an object of strings, e.g. {\"line\": \"3\"}");
            }
            t.properties().forEach(e -> {
                if (!e.getValue().isTextual()) {
                    throw new PkiException(ErrorKind.MALFORMED_REQUEST, "tag '" + e.getKey() + "' must be a string");
                }
                tags.put(e.getKey(), e.getValue().asText());
            });
        }
        Instant now = s.clock().instant().truncatedTo(ChronoUnit.MILLIS); // as the store keeps it
        Device d = new Device(id, optionalText(body, "model"), tags, Device.Status.ACTIVE, optionalText(body, "keyLocation"), now);
        Map<String, String> detail = new LinkedHashMap<>();
        if (d.model() != null) {
            detail.put("model", d.model());
        }
        detail.put("via", "rest");
        s.devices().addDevice(d, new AuditEvent(now, a.actor(), AuditAction.DEVICE_ADD, "device:" + id, detail));
        ctx.status(201).header("Location", location(id)).json(deviceJson(d));
    }

    private void list(Context ctx) {
        auth.requireWithSession(ctx, Access.READ);
        int limit = Requests.limit(ctx, 50);
        Device.Status status = null;
        String st = ctx.queryParam("status");
        if (st != null) {
            try {
                status = Device.Status.valueOf(st.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new HttpProblem(400, "bad-parameter", "Bad parameter", "status must be active, disabled or revoked, not '" + st + "'");
            }
        }
        String model = ctx.queryParam("model");
        String after = ctx.queryParam("after");
        List<Device> page = s.devices().devices(after, status, model, limit + 1);
        boolean more = page.size() > limit;
        List<Device> items = more ? page.subList(0, limit) : page;
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("items", items.stream().map(DeviceRoutes::deviceJson).toList());
        String next = null;
        if (more) {
            StringBuilder q = new StringBuilder("/api/v1/devices?limit=" + limit + "&after=" + enc(items.getLast().id()));
            if (status != null) {
                q.append("&status=").append(status.name().toLowerCase(Locale.ROOT));
            }
            if (model != null) {
                q.append("&model=").append(enc(model));
            }
            next = q.toString();
        }
        out.put("next", next);
        ctx.json(out);
    }

    private void show(Context ctx) {
        auth.requireWithSession(ctx, Access.READ);
        Device d = device(ctx.pathParam("id"));
        Instant now = s.clock().instant();
        // versions, newest first: the newest valid certificate of each profile is the current one
        Map<String, Object> out = dev.fleetpki.core.DeviceJson.withCertificates(d, s.certificates().certificates(d.id(), now, null, 100), now);
        out.put("href", location(d.id()));
        ctx.json(out);
    }

    /** A one-time enrollment secret for the device, shown in this answer only (201). */
    private void secret(Context ctx) {
        ApiAuth.Caller a = auth.require(ctx, Access.ISSUE);
        String id = ctx.pathParam("id");
        device(id);
        Duration life = s.config().enrollment().secretValidity();
        String in = ctx.queryParam("expiresIn");
        if (in != null) {
            try {
                life = Durations.parse(in);
            } catch (IllegalArgumentException e) {
                throw new HttpProblem(400, "bad-parameter", "Bad parameter", "expiresIn must be a duration such as 7d or 12h, not '" + in + "'");
            }
        }
        Enrollment.NewSecret secret = Enrollment.newSecret(s.devices(), s.credentials(), s.secrets(), id, life, a.actor(), s.clock().instant());
        ctx.status(201).header("Cache-Control", "no-store").json(Map.of("device", id, "secret", secret.text(), "expiresAt", secret.expiresAt().toString()));
    }

    /** Disable or enable again (409 for a revoked device, which stays revoked); doing it twice is fine. */
    private void setStatus(Context ctx, Device.Status status) {
        ApiAuth.Caller a = auth.requireWithSession(ctx, Access.ISSUE);
        String id = ctx.pathParam("id");
        device(id);
        s.devices().setDeviceStatus(id, status, new AuditEvent(s.clock().instant(), a.actor(),
                status == Device.Status.ACTIVE ? AuditAction.DEVICE_ENABLE : AuditAction.DEVICE_DISABLE, "device:" + id, Map.of("via", "rest")));
        ctx.json(deviceJson(device(id)));
    }

    private Device device(String id) {
        return s.devices().deviceNow(id).orElseThrow(() -> new PkiException(ErrorKind.NOT_FOUND,
                "device '" + id + "' is not registered; register it with POST /api/v1/devices"));
    }

    static Map<String, Object> deviceJson(Device d) {
        Map<String, Object> m = dev.fleetpki.core.DeviceJson.of(d);
        m.put("href", location(d.id()));
        return m;
    }

    private static String text(JsonNode body, String field) {
        JsonNode n = body.path(field);
        if (!n.isTextual() || n.asText().isEmpty()) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "'" + field + "' is required and must be a string");
        }
        return n.asText();
    }

    private static String optionalText(JsonNode body, String field) {
        JsonNode n = body.path(field);
        if (n.isMissingNode() || n.isNull()) {
            return null;
        }
        if (!n.isTextual()) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "'" + field + "' must be a string");
        }
        return n.asText();
    }

    private static String location(String id) {
        return "/api/v1/devices/" + enc(id);
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }
}
