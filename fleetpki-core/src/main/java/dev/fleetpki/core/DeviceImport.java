package dev.fleetpki.core;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleetpki.core.store.DeviceStore;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.Reader;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Registering many devices at once ({@code fleetpki device import}, {@code POST
 * /api/v1/devices/import}; docs/devices.md): rows from CSV (a header line naming the columns:
 * {@code id}, and any of {@code model}, {@code key_location}, {@code tag.NAME}) or JSON lines
 * ({@code {"id", "model", "tags", "keyLocation"}}), every row checked first; then all of them, with
 * their one-time secrets when asked for, are stored in one transaction, or none is.
 */
public final class DeviceImport {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Rows in one import: a factory batch, not a migration (larger sets are split into several files). */
    public static final int MAX_ROWS = 1_000_000;

    public record Row(int line, String id, String model, Map<String, String> tags, String keyLocation) {}

    public record RowError(int line, String id, String error) {
        @Override
        public String toString() {
            return "line " + line + (id == null || id.isEmpty() ? "" : " (" + id + ")") + ": " + error;
        }
    }

    public record Parsed(List<Row> rows, List<RowError> errors) {}

    /**
     * @param skipExisting a device already registered is passed over (a rerun of the same file), not an error
     * @param skipInvalid the valid rows are imported even when others are not (they are reported)
     * @param secretLife make a one-time enrollment secret for each imported device, living this long; null: none
     */
    public record Options(boolean skipExisting, boolean skipInvalid, Duration secretLife) {}

    /** What was done: the devices imported (with their secrets, shown once), those passed over, the rows refused. */
    public record Result(List<String> imported, List<String> skipped, List<RowError> errors, List<Secret> secrets) {}

    public record Secret(String deviceId, String text, Instant expiresAt) {}

    private DeviceImport() {}

    /** CSV with a header line; fields may be quoted ("a,b", "say ""hi"""). */
    public static Parsed csv(Reader in) throws IOException {
        List<Row> rows = new ArrayList<>();
        List<RowError> errors = new ArrayList<>();
        BufferedReader r = new BufferedReader(in);
        String header = r.readLine();
        if (header == null) {
            errors.add(new RowError(1, null, "the file is empty; the first line names the columns: id,model,key_location,tag.NAME"));
            return new Parsed(rows, errors);
        }
        List<String> columns = csvFields(header.startsWith("\ufeff") ? header.substring(1) : header);
        Set<String> seen = new HashSet<>();
        for (String c : columns) {
            if (!(c.equals("id") || c.equals("model") || c.equals("key_location") || c.matches("tag\\.[A-Za-z0-9_.-]{1,64}"))) {
                errors.add(new RowError(1, null, "unknown column '" + c + "'; the columns are id, model, key_location and tag.NAME"));
            } else if (!seen.add(c)) {
                errors.add(new RowError(1, null, "column '" + c + "' appears twice"));
            }
        }
        if (!columns.contains("id")) {
            errors.add(new RowError(1, null, "no 'id' column; the first line names the columns, e.g. id,model,tag.line"));
        }
        if (!errors.isEmpty()) {
            return new Parsed(rows, errors);
        }
        String line;
        int n = 1;
        while ((line = r.readLine()) != null) {
            n++;
            if (line.isBlank()) {
                continue;
            }
            List<String> f;
            try {
                f = csvFields(line);
            } catch (IllegalArgumentException e) {
                errors.add(new RowError(n, null, e.getMessage()));
                continue;
            }
            if (f.size() != columns.size()) {
                errors.add(new RowError(n, f.isEmpty() ? null : f.getFirst(), f.size() + " fields where the header has " + columns.size()));
                continue;
            }
            String id = null;
            String model = null;
            String keyLocation = null;
            Map<String, String> tags = new LinkedHashMap<>();
            for (int i = 0; i < columns.size(); i++) {
                String c = columns.get(i);
                String v = f.get(i);
                switch (c) {
                    case "id" -> id = v;
                    case "model" -> model = v.isEmpty() ? null : v;
                    case "key_location" -> keyLocation = v.isEmpty() ? null : v;
                    default -> {
                        if (!v.isEmpty()) {
                            tags.put(c.substring(4), v);
                        }
                    }
                }
            }
            rows.add(new Row(n, id, model, tags, keyLocation));
            if (rows.size() > MAX_ROWS) {
                errors.add(new RowError(n, id, "more than " + MAX_ROWS + " rows; split the file"));
                break;
            }
        }
        return new Parsed(rows, errors);
    }

    /** JSON lines: one object per line, {"id": ..., "model"?: ..., "tags"?: {...}, "keyLocation"?: ...}. */
    public static Parsed jsonLines(Reader in) throws IOException {
        List<Row> rows = new ArrayList<>();
        List<RowError> errors = new ArrayList<>();
        BufferedReader r = new BufferedReader(in);
        String line;
        int n = 0;
        while ((line = r.readLine()) != null) {
            n++;
            if (line.isBlank()) {
                continue;
            }
            try {
                JsonNode o = JSON.readTree(line);
                rows.add(row(n, o));
            } catch (IOException | IllegalArgumentException e) {
                errors.add(new RowError(n, null, e instanceof IllegalArgumentException ? e.getMessage() : "not a JSON object: "
                        + e.getMessage().lines().findFirst().orElse("")));
            }
            if (rows.size() > MAX_ROWS) {
                errors.add(new RowError(n, null, "more than " + MAX_ROWS + " rows; split the file"));
                break;
            }
        }
        return new Parsed(rows, errors);
    }

    /** One device from a JSON object (a JSON line, or an element of the REST request's "devices"). */
    public static Row row(int line, JsonNode o) {
        if (o == null || !o.isObject()) {
            throw new IllegalArgumentException("each device is a JSON object {\"id\": ..., \"model\": ..., \"tags\": {...}}");
        }
        o.fieldNames().forEachRemaining(f -> {
            if (!Set.of("id", "model", "tags", "keyLocation").contains(f)) {
                throw new IllegalArgumentException("unknown field '" + f + "'; the fields are id, model, tags, keyLocation");
            }
        });
        Map<String, String> tags = new LinkedHashMap<>();
        JsonNode t = o.path("tags");
        if (!t.isMissingNode() && !t.isNull()) {
            if (!t.isObject()) {
                throw new IllegalArgumentException("'tags' must be an object of strings");
            }
            t.properties().forEach(e -> {
                if (!e.getValue().isTextual()) {
                    throw new IllegalArgumentException("tag '" + e.getKey() + "' must be a string");
                }
                tags.put(e.getKey(), e.getValue().asText());
            });
        }
        return new Row(line, text(o, "id"), text(o, "model"), tags, text(o, "keyLocation"));
    }

    private static String text(JsonNode o, String f) {
        JsonNode v = o.path(f);
        if (v.isMissingNode() || v.isNull()) {
            return null;
        }
        if (!v.isTextual()) {
            throw new IllegalArgumentException("'" + f + "' must be a string");
        }
        return v.asText();
    }

    /**
     * What an import will store once {@link #commit}ted: the result to report (secrets included) and
     * the rows to write. {@code commit} is empty when rows were refused and {@code skipInvalid} is off.
     */
    public record Prepared(Result result, List<Device> devices, List<EnrollmentSecret> secrets, List<AuditEvent> events) {
        public boolean committable() {
            return !devices.isEmpty();
        }

        /** Stores the devices, their secrets and audit events in one transaction. */
        public void commit(DeviceStore store) {
            if (!devices.isEmpty()) {
                store.addDevices(devices, secrets, events);
            }
        }
    }

    /** {@link #prepare} then {@link Prepared#commit}. */
    public static Result run(Parsed in, Options o, DeviceStore devices, EnrollmentSecrets secrets, Actor by, Instant now) {
        Prepared p = prepare(in, o, devices, secrets, by, now);
        p.commit(devices);
        return p.result();
    }

    /**
     * Checks every row (id, duplicates in the input, reserved model, already registered) and makes
     * the secrets; nothing is stored yet. With refused rows and without {@code skipInvalid}, there is
     * nothing to commit and the errors are the result.
     */
    public static Prepared prepare(Parsed in, Options o, DeviceStore devices, EnrollmentSecrets secrets, Actor by, Instant now) {
        List<RowError> errors = new ArrayList<>(in.errors());
        List<String> skipped = new ArrayList<>();
        List<Device> toAdd = new ArrayList<>();
        Set<String> ids = new HashSet<>();
        if (o.secretLife() != null && (o.secretLife().isNegative() || o.secretLife().isZero()
                || o.secretLife().compareTo(EnrollmentPolicy.MAX_SECRET_VALIDITY) > 0)) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "an enrollment secret lives from 1 s to "
                    + Durations.format(EnrollmentPolicy.MAX_SECRET_VALIDITY) + ", not " + Durations.format(o.secretLife()));
        }
        for (Row r : in.rows()) {
            try {
                Device.checkId(r.id());
            } catch (PkiException e) {
                errors.add(new RowError(r.line(), r.id(), e.detail()));
                continue;
            }
            if (!ids.add(r.id())) {
                errors.add(new RowError(r.line(), r.id(), "the id appears twice in the input"));
                continue;
            }
            if (Device.SERVER_MODEL.equals(r.model())) {
                errors.add(new RowError(r.line(), r.id(), "model '" + Device.SERVER_MODEL + "' is reserved for the CA's own servers"));
                continue;
            }
            if (devices.deviceNow(r.id()).isPresent()) {
                if (o.skipExisting()) {
                    skipped.add(r.id());
                } else {
                    errors.add(new RowError(r.line(), r.id(), "already registered (rerun with skip-existing to pass over registered devices)"));
                }
                continue;
            }
            toAdd.add(new Device(r.id(), r.model(), r.tags(), Device.Status.ACTIVE, r.keyLocation(), now));
        }
        if (!errors.isEmpty() && !o.skipInvalid()) {
            return new Prepared(new Result(List.of(), List.of(), errors, List.of()), List.of(), List.of(), List.of());
        }
        List<AuditEvent> events = new ArrayList<>(toAdd.size() * (o.secretLife() == null ? 1 : 2));
        List<EnrollmentSecret> made = new ArrayList<>();
        List<Secret> shown = new ArrayList<>();
        for (Device d : toAdd) {
            Map<String, String> detail = new LinkedHashMap<>();
            if (d.model() != null) {
                detail.put("model", d.model());
            }
            d.tags().forEach((k, v) -> detail.put("tag." + k, v));
            detail.put("via", "import");
            events.add(new AuditEvent(now, by, AuditAction.DEVICE_ADD, "device:" + d.id(), detail));
            if (o.secretLife() != null) {
                TokenSecrets.New t = secrets.create(d.id());
                Instant expires = now.plus(o.secretLife());
                made.add(new EnrollmentSecret(t.id(), d.id(), t.secretHash(), now, by, expires, null, null));
                events.add(new AuditEvent(now, by, AuditAction.DEVICE_SECRET, "device:" + d.id(), Map.of("id", t.id(), "expires", expires.toString())));
                shown.add(new Secret(d.id(), t.text(), expires));
            }
        }
        return new Prepared(new Result(toAdd.stream().map(Device::id).toList(), skipped, errors, shown), toAdd, made, events);
    }

    /** The fields of one CSV line (RFC 4180 quoting); IllegalArgumentException for an unclosed quote. */
    public static List<String> csvFields(String line) {
        List<String> out = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        boolean quoted = false;
        boolean wasQuoted = false;
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            if (quoted) {
                if (c == '"') {
                    if (i + 1 < line.length() && line.charAt(i + 1) == '"') {
                        cur.append('"');
                        i++;
                    } else {
                        quoted = false;
                    }
                } else {
                    cur.append(c);
                }
            } else if (c == '"' && cur.isEmpty() && !wasQuoted) {
                quoted = true;
                wasQuoted = true;
            } else if (c == ',') {
                out.add(wasQuoted ? cur.toString() : cur.toString().strip());
                cur.setLength(0);
                wasQuoted = false;
            } else {
                cur.append(c);
            }
        }
        if (quoted) {
            throw new IllegalArgumentException("a quoted field is not closed");
        }
        out.add(wasQuoted ? cur.toString() : cur.toString().strip());
        return out;
    }
}
