package dev.fleetpki.server;

import static dev.fleetpki.server.Html.badge;
import static dev.fleetpki.server.Html.esc;
import static dev.fleetpki.server.Html.time;
import static dev.fleetpki.server.Html.url;

import dev.fleetpki.core.AuditAction;
import dev.fleetpki.core.AuditVerification;
import dev.fleetpki.core.CaRecord;
import dev.fleetpki.core.Device;
import dev.fleetpki.core.DualControl;
import dev.fleetpki.core.EnrollmentRequest;
import dev.fleetpki.core.EnrollmentSecret;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.Operator;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.RevocationReason;
import dev.fleetpki.core.Role;
import dev.fleetpki.core.StoredCertificate;
import dev.fleetpki.core.UntrustedCsr;
import dev.fleetpki.core.firmware.Signer;
import dev.fleetpki.core.revocation.RevocationLedger;
import dev.fleetpki.kms.KeyAlgorithm;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.javalin.http.HttpStatus;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The web console at {@code /console}: pages rendered here, on the store, for a signed-in
 * operator. A page shows only what its operator's role may read over the REST API ({@link
 * Access}); every action on a page (approve, reject, revoke, disable, enable, export) is a call
 * from the browser to the REST API with the session cookie and CSRF token, so the API decides
 * it, under the same roles. Pages carry a strict Content-Security-Policy: scripts and styles only
 * from {@code /console/assets}, which are served from the classpath (htmx from its webjar).
 */
final class ConsoleRoutes {
    static final String BASE = "/console";
    static final int PAGE = 50;
    /** How long the dashboard's numbers are reused before they are counted again (the console benchmark sets 0). */
    static final Duration DASHBOARD_TTL = Duration.ofSeconds(Long.getLong("fleetpki.console.dashboardTtlSeconds", 30));
    private static final DateTimeFormatter DAY = DateTimeFormatter.ofPattern("MM-dd").withZone(ZoneOffset.UTC);
    private static final String CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
            + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
    private static final Map<String, String> ASSETS = Map.of(
            "htmx.min.js", "/META-INF/resources/webjars/htmx.org/2.0.8/dist/htmx.min.js",
            "console.js", "/dev/fleetpki/server/console/console.js",
            "console.css", "/dev/fleetpki/server/console/console.css");

    private final Services s;
    private final ConsoleSessions sessions;
    private volatile Dashboard dashboard;

    ConsoleRoutes(Services s, ConsoleSessions sessions) {
        this.s = s;
        this.sessions = sessions;
    }

    /** A page's title and body. */
    record View(String title, String body) {}

    interface Page {
        View render(Context ctx, ConsoleSessions.Signed who);
    }

    void register(RoutesConfig app) {
        app.get(BASE + "/assets/{file}", this::asset);
        app.get(BASE + "/login", this::loginPage);
        app.post(BASE + "/login", this::login);
        app.post(BASE + "/login/certificate", this::loginCertificate);
        app.post(BASE + "/logout", this::logout);
        page(app, BASE, Access.ANY_OPERATOR, this::dashboardPage); // also /console/: Javalin ignores a trailing slash
        page(app, BASE + "/devices", Access.READ, this::devicesPage);
        page(app, BASE + "/devices/{id}", Access.READ, this::devicePage);
        page(app, BASE + "/certificates/{serial}", Access.READ, this::certificatePage);
        page(app, BASE + "/requests", Access.READ, this::requestsPage);
        page(app, BASE + "/audit", Access.AUDIT, this::auditPage);
        page(app, BASE + "/audit/verify", Access.AUDIT, this::auditVerifyPage);
        page(app, BASE + "/cas", Access.ANY_OPERATOR, this::casPage);
    }

    /** Headers every console answer gets: no caching, no framing, no sniffing, no referrer to other sites, and the CSP. */
    private static void secure(Context ctx) {
        ctx.header("Content-Security-Policy", CSP);
        ctx.header("X-Frame-Options", "DENY");
        ctx.header("X-Content-Type-Options", "nosniff");
        ctx.header("Referrer-Policy", "same-origin"); // no-referrer would make the browser send "Origin: null" with the forms
        ctx.header("Cache-Control", "no-store");
    }

    private void page(RoutesConfig app, String path, Role[] roles, Page page) {
        app.get(path, ctx -> {
            secure(ctx);
            Optional<ConsoleSessions.Signed> who = sessions.current(ctx);
            if (who.isEmpty()) {
                ctx.redirect(BASE + "/login?next=" + url(ctx.path() + (ctx.queryString() == null ? "" : "?" + ctx.queryString())), HttpStatus.SEE_OTHER);
                return;
            }
            Operator o = who.get().operator();
            if (!ApiAuth.may(o.role(), roles)) {
                ctx.status(403).html(layout(who.get(), "Not allowed", "<h1>Not allowed</h1><p class=\"flash error\">Operator " + esc(o.name())
                        + " has role " + esc(o.role().configName()) + "; this page needs " + esc(String.join(" or ",
                        Arrays.stream(roles).map(Role::configName).toList())) + " (or admin). Ask an administrator for another role.</p>"));
                return;
            }
            try {
                View v = page.render(ctx, who.get());
                ctx.html(layout(who.get(), v.title(), v.body()));
            } catch (PkiException e) {
                if (e.kind() != ErrorKind.NOT_FOUND && e.kind() != ErrorKind.MALFORMED_REQUEST) {
                    throw e;
                }
                ctx.status(e.kind() == ErrorKind.NOT_FOUND ? 404 : 400).html(layout(who.get(), "Not found",
                        "<h1>" + (e.kind() == ErrorKind.NOT_FOUND ? "Not found" : "Bad request") + "</h1><p class=\"flash error\">" + esc(e.detail()) + "</p>"));
            }
        });
    }

    private String layout(ConsoleSessions.Signed who, String title, String body) {
        Role role = who.operator().role();
        StringBuilder nav = new StringBuilder();
        nav.append(link("/", "Dashboard"));
        if (ApiAuth.may(role, Access.READ)) {
            nav.append(link("/devices", "Devices")).append(link("/requests", "Requests"));
        }
        if (ApiAuth.may(role, Access.AUDIT)) {
            nav.append(link("/audit", "Audit log"));
        }
        nav.append(link("/cas", "CAs"));
        return "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + esc(title) + " · fleetpki</title>"
                + "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                + "<meta name=\"htmx-config\" content='{\"includeIndicatorStyles\":false,\"allowEval\":false,\"allowScriptTags\":false,\"selfRequestsOnly\":true}'>"
                + "<meta name=\"csrf-token\" content=\"" + esc(who.csrf()) + "\">"
                + "<link rel=\"stylesheet\" href=\"" + BASE + "/assets/console.css\">"
                + "<script src=\"" + BASE + "/assets/htmx.min.js\" defer></script><script src=\"" + BASE + "/assets/console.js\" defer></script>"
                + "</head><body hx-ext=\"api-json\"><header><a class=\"brand\" href=\"" + BASE + "/\">fleetpki</a><nav>" + nav + "</nav>"
                + "<form class=\"who\" method=\"post\" action=\"" + BASE + "/logout\"><span>" + esc(who.operator().name()) + " · "
                + esc(role.configName()) + "</span><input type=\"hidden\" name=\"csrf\" value=\"" + esc(who.csrf()) + "\">"
                + "<button type=\"submit\">Sign out</button></form></header><main><div id=\"flash\" role=\"status\" aria-live=\"polite\"></div>"
                + body + "</main></body></html>";
    }

    private static String link(String path, String text) {
        return "<a href=\"" + BASE + path + "\">" + esc(text) + "</a>";
    }

    // ---- assets and sign-in ----

    private void asset(Context ctx) throws IOException {
        String where = ASSETS.get(ctx.pathParam("file"));
        if (where == null) {
            throw new PkiException(ErrorKind.NOT_FOUND, "no console asset " + ctx.pathParam("file"));
        }
        try (InputStream in = ConsoleRoutes.class.getResourceAsStream(where)) {
            if (in == null) {
                throw new PkiException(ErrorKind.INTERNAL, "console asset " + where + " is missing from the build");
            }
            ctx.header("X-Content-Type-Options", "nosniff");
            ctx.header("Cache-Control", "max-age=3600");
            ctx.contentType(where.endsWith(".css") ? "text/css; charset=utf-8" : "text/javascript; charset=utf-8").result(in.readAllBytes());
        }
    }

    private static String next(Context ctx) {
        String next = ctx.queryParam("next");
        if (next == null) {
            next = ctx.formParam("next");
        }
        // only a path of this console: never another site, never a scheme-relative //host
        return next != null && next.startsWith(BASE + "/") && !next.startsWith("//") && !next.contains("\\") && !next.contains("//")
                ? next : BASE + "/";
    }

    private void loginPage(Context ctx) {
        secure(ctx);
        if (sessions.current(ctx).isPresent()) {
            ctx.redirect(next(ctx), HttpStatus.SEE_OTHER);
            return;
        }
        ctx.html(loginHtml(ctx, null));
    }

    private String loginHtml(Context ctx, String error) {
        StringBuilder b = new StringBuilder();
        b.append("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign in · fleetpki</title>")
                .append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
                .append("<link rel=\"stylesheet\" href=\"").append(BASE).append("/assets/console.css\"></head><body class=\"login\"><main>")
                .append("<h1>fleetpki</h1>");
        if (error != null) {
            b.append("<p class=\"flash error\" role=\"alert\">").append(esc(error)).append("</p>");
        }
        String next = esc(next(ctx));
        Optional<Operator> byCert = sessions.certificate(ctx);
        if (byCert.isPresent()) {
            b.append("<form method=\"post\" action=\"").append(BASE).append("/login/certificate\"><input type=\"hidden\" name=\"next\" value=\"")
                    .append(next).append("\"><button type=\"submit\">Sign in as ").append(esc(byCert.get().name()))
                    .append(" with your client certificate</button></form><p class=\"or\">or with a password:</p>");
        }
        b.append("<form method=\"post\" action=\"").append(BASE).append("/login\"><input type=\"hidden\" name=\"next\" value=\"").append(next).append("\">")
                .append("<label>Operator <input name=\"name\" autocomplete=\"username\" required autofocus></label>")
                .append("<label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label>")
                .append("<button type=\"submit\">Sign in</button></form></main></body></html>");
        return b.toString();
    }

    private void login(Context ctx) {
        secure(ctx);
        if (!ConsoleSessions.originOk(ctx)) {
            ctx.status(403).html(loginHtml(ctx, "Sign-in refused: the form was sent from another site."));
            return;
        }
        String password = ctx.formParam("password");
        ConsoleSessions.SignIn result = sessions.password(ctx.formParam("name"), password == null ? new char[0] : password.toCharArray(), ctx.ip());
        switch (result) {
            case ConsoleSessions.SignIn.Ok ok -> {
                sessions.start(ctx, ok.operator(), "password");
                ctx.redirect(next(ctx), HttpStatus.SEE_OTHER);
            }
            case ConsoleSessions.SignIn.Refused r -> ctx.status(401).html(loginHtml(ctx, r.reason()));
            case ConsoleSessions.SignIn.Busy b -> {
                ctx.header("Retry-After", "5");
                ctx.status(429).html(loginHtml(ctx, "Too many sign-ins at once; try again in a few seconds."));
            }
        }
    }

    private void loginCertificate(Context ctx) {
        secure(ctx);
        Optional<Operator> o = ConsoleSessions.originOk(ctx) ? sessions.certificate(ctx) : Optional.empty();
        if (o.isEmpty()) {
            ctx.status(401).html(loginHtml(ctx, "No client certificate of an active operator came with this connection; sign in with a password, "
                    + "or ask an administrator to register yours (fleetpki operator add NAME --role R --client-cert FILE)."));
            return;
        }
        sessions.start(ctx, o.get(), "client-certificate");
        ctx.redirect(next(ctx), HttpStatus.SEE_OTHER);
    }

    private void logout(Context ctx) {
        secure(ctx);
        Optional<ConsoleSessions.Signed> who = sessions.current(ctx);
        String sent = ctx.formParam("csrf");
        if (who.isPresent() && (sent == null || !sent.equals(who.get().csrf()) || !ConsoleSessions.originOk(ctx))) {
            ctx.status(403).result("sign-out refused: the form did not come from this console");
            return;
        }
        sessions.end(ctx);
        ctx.redirect(BASE + "/login", HttpStatus.SEE_OTHER);
    }

    // ---- dashboard ----

    /** What the dashboard shows, counted at {@code at}. */
    record Dashboard(Instant at, Map<Device.Status, Long> devices, long[] issued, long[] expiring, long pending, List<RevocationLedger.StoredCrl> crls,
                     long ocspAnswers, Optional<Instant> ocspOldest) {}

    private Dashboard dashboard() {
        Instant now = s.clock().instant();
        Dashboard d = dashboard;
        if (d != null && Duration.between(d.at(), now).compareTo(DASHBOARD_TTL) < 0) {
            return d;
        }
        Instant today = now.truncatedTo(ChronoUnit.DAYS);
        d = new Dashboard(now, s.devices().deviceCounts(), s.certificates().perDay(true, today.minus(29, ChronoUnit.DAYS), 30),
                s.certificates().perDay(false, today, 90), s.requests().pendingCount(), s.published().crls(), s.published().ocspResponseCount(),
                s.published().oldestOcspNextUpdate());
        dashboard = d;
        return d;
    }

    private View dashboardPage(Context ctx, ConsoleSessions.Signed who) {
        Dashboard d = dashboard();
        Instant today = d.at().truncatedTo(ChronoUnit.DAYS);
        StringBuilder b = new StringBuilder("<h1>Dashboard</h1><section class=\"cards\">");
        for (Device.Status st : Device.Status.values()) {
            long n = d.devices().getOrDefault(st, 0L);
            String label = st.name().toLowerCase(Locale.ROOT);
            b.append("<a class=\"card\" href=\"").append(BASE).append("/devices?status=").append(label).append("\"><span class=\"n\">").append(n)
                    .append("</span><span>devices ").append(label).append("</span></a>");
        }
        b.append("<a class=\"card").append(d.pending() > 0 ? " attention" : "").append("\" href=\"").append(BASE).append("/requests\"><span class=\"n\">")
                .append(d.pending()).append("</span><span>pending requests</span></a></section>");
        String[] issuedDays = new String[30];
        for (int i = 0; i < 30; i++) {
            issuedDays[i] = DAY.format(today.minus(29 - i, ChronoUnit.DAYS));
        }
        String[] expiryDays = new String[90];
        for (int i = 0; i < 90; i++) {
            expiryDays[i] = DAY.format(today.plus(i, ChronoUnit.DAYS));
        }
        long issuedTotal = Arrays.stream(d.issued()).sum();
        long expiringTotal = Arrays.stream(d.expiring()).sum();
        b.append("<section><h2>Certificates issued per day, last 30 days (").append(issuedTotal).append(")</h2>")
                .append(Charts.bars(issuedTotal + " certificates issued in the last 30 days", d.issued(), issuedDays, 5)).append("</section>");
        b.append("<section><h2>Certificates expiring per day, next 90 days (").append(expiringTotal).append(")</h2>")
                .append(Charts.bars(expiringTotal + " unrevoked certificates end in the next 90 days", d.expiring(), expiryDays, 10)).append("</section>");
        b.append("<section><h2>Revocation freshness</h2><table><thead><tr><th>CA</th><th>CRL</th><th>number</th><th>entries</th><th>this update</th>")
                .append("<th>next update</th><th>state</th></tr></thead><tbody>");
        for (RevocationLedger.StoredCrl c : d.crls()) {
            boolean stale = !d.at().isBefore(c.nextUpdate());
            b.append("<tr><td>").append(esc(c.ca())).append("</td><td>").append(c.shards() > 1 ? "shard " + c.shard() : "full").append("</td><td>")
                    .append(c.number()).append("</td><td>").append(c.entries()).append("</td><td>").append(time(c.thisUpdate())).append("</td><td>")
                    .append(time(c.nextUpdate())).append("</td><td>").append(badge(stale ? "stale" : "fresh")).append("</td></tr>");
        }
        if (d.crls().isEmpty()) {
            b.append("<tr><td colspan=\"7\">No CRL made yet (fleetpki crl generate, or the server makes them as it runs).</td></tr>");
        }
        b.append("</tbody></table><p>OCSP: ").append(d.ocspAnswers()).append(" pre-signed answers");
        d.ocspOldest().ifPresent(t -> b.append(", the first to end at ").append(time(t)).append(' ')
                .append(badge(d.at().isBefore(t) ? "fresh" : "stale")));
        b.append(". Counted ").append(time(d.at())).append(" UTC (counts are reused for ").append(DASHBOARD_TTL.toSeconds()).append(" s).</p></section>");
        return new View("Dashboard", b.toString());
    }

    // ---- devices ----

    private View devicesPage(Context ctx, ConsoleSessions.Signed who) {
        String q = blankToNull(ctx.queryParam("q"));
        String model = blankToNull(ctx.queryParam("model"));
        String after = blankToNull(ctx.queryParam("after"));
        String statusText = blankToNull(ctx.queryParam("status"));
        Device.Status status = null;
        if (statusText != null) {
            try {
                status = Device.Status.valueOf(statusText.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "status must be active, disabled or revoked, not '" + statusText + "'");
            }
        }
        List<Device> page = s.devices().devices(after, q, status, model, PAGE + 1);
        boolean more = page.size() > PAGE;
        if (more) {
            page = page.subList(0, PAGE);
        }
        StringBuilder b = new StringBuilder("<h1>Devices</h1><form class=\"filters\" method=\"get\" action=\"" + BASE + "/devices\">");
        b.append("<label>Id starts with <input name=\"q\" value=\"").append(esc(q)).append("\"></label>");
        b.append("<label>Model <input name=\"model\" value=\"").append(esc(model)).append("\"></label>");
        b.append("<label>Status <select name=\"status\"><option value=\"\">any</option>");
        for (Device.Status st : Device.Status.values()) {
            String v = st.name().toLowerCase(Locale.ROOT);
            b.append("<option value=\"").append(v).append('"').append(st == status ? " selected" : "").append('>').append(v).append("</option>");
        }
        b.append("</select></label><button type=\"submit\">Search</button></form>");
        b.append("<table><thead><tr><th>Device</th><th>Model</th><th>Status</th><th>Key location</th><th>Registered</th></tr></thead><tbody>");
        for (Device d : page) {
            b.append("<tr><td><a href=\"").append(BASE).append("/devices/").append(url(d.id())).append("\">").append(esc(d.id())).append("</a></td><td>")
                    .append(esc(d.model())).append("</td><td>").append(badge(d.status().name().toLowerCase(Locale.ROOT))).append("</td><td>")
                    .append(esc(d.keyLocation())).append("</td><td>").append(time(d.createdAt())).append("</td></tr>");
        }
        if (page.isEmpty()) {
            b.append("<tr><td colspan=\"5\">No device matches.</td></tr>");
        }
        b.append("</tbody></table>");
        if (more) {
            String last = page.getLast().id();
            b.append("<p><a class=\"next\" href=\"").append(BASE).append("/devices?after=").append(url(last))
                    .append(q == null ? "" : "&amp;q=" + url(q)).append(model == null ? "" : "&amp;model=" + url(model))
                    .append(statusText == null ? "" : "&amp;status=" + url(statusText)).append("\">Next ").append(PAGE).append(" →</a></p>");
        }
        return new View("Devices", b.toString());
    }

    private View devicePage(Context ctx, ConsoleSessions.Signed who) {
        String id = ctx.pathParam("id");
        Device d = s.devices().deviceNow(id).orElseThrow(() -> new PkiException(ErrorKind.NOT_FOUND, "no device '" + id + "' is registered"));
        Instant now = s.clock().instant();
        StringBuilder b = new StringBuilder("<h1>Device " + esc(d.id()) + "</h1><dl>");
        row(b, "Model", esc(d.model()));
        row(b, "Status", badge(d.status().name().toLowerCase(Locale.ROOT)));
        row(b, "Key location", esc(d.keyLocation() == null ? "not stated" : d.keyLocation()));
        row(b, "Tags", esc(d.tags().isEmpty() ? "none" : d.tags().toString()));
        row(b, "Registered", time(d.createdAt()));
        Optional<EnrollmentSecret> secret = s.credentials().newestEnrollmentSecret(d.id());
        row(b, "Enrollment secret", esc(secret.map(e -> e.usedAt() != null ? "used " + e.usedAt() + " for certificate " + e.usedSerial()
                : e.usableAt(now) ? "unused, valid until " + e.expiresAt() : "expired unused at " + e.expiresAt()).orElse("none")));
        b.append("</dl>");
        if (ApiAuth.may(who.operator().role(), Access.ISSUE) && d.status() != Device.Status.REVOKED) {
            boolean active = d.status() == Device.Status.ACTIVE;
            b.append("<p><button class=\"").append(active ? "danger" : "").append("\" hx-post=\"/api/v1/devices/").append(url(d.id()))
                    .append(active ? "/disable" : "/enable").append("\" hx-swap=\"none\" data-done=\"Device ").append(esc(d.id()))
                    .append(active ? " disabled." : " enabled.").append("\">").append(active ? "Disable device" : "Enable device").append("</button></p>");
        }
        b.append("<h2>Certificates</h2><table><thead><tr><th>Serial</th><th>Profile</th><th>CA</th><th>Valid from</th><th>Valid until</th>")
                .append("<th>Status</th><th>Protocol</th></tr></thead><tbody>");
        List<StoredCertificate> certs = s.certificates().certificates(d.id(), now, null, 100);
        for (StoredCertificate c : certs) {
            certificateRow(b, c, now);
        }
        if (certs.isEmpty()) {
            b.append("<tr><td colspan=\"7\">No certificate yet.</td></tr>");
        }
        b.append("</tbody></table>");
        return new View("Device " + d.id(), b.toString());
    }

    private static void certificateRow(StringBuilder b, StoredCertificate c, Instant now) {
        var i = c.issued();
        b.append("<tr><td><a href=\"").append(BASE).append("/certificates/").append(url(i.serialHex())).append("\"><code>").append(esc(i.serialHex()))
                .append("</code></a></td><td>").append(esc(i.profile())).append("</td><td>").append(esc(i.caName())).append("</td><td>")
                .append(time(i.notBefore())).append("</td><td>").append(time(i.notAfter())).append("</td><td>").append(badge(c.status(now)))
                .append("</td><td>").append(esc(i.protocol())).append("</td></tr>");
    }

    private static void row(StringBuilder b, String label, String html) {
        b.append("<dt>").append(esc(label)).append("</dt><dd>").append(html).append("</dd>");
    }

    // ---- certificate ----

    private View certificatePage(Context ctx, ConsoleSessions.Signed who) {
        String serial = ctx.pathParam("serial").replace(":", "").toLowerCase(Locale.ROOT);
        StoredCertificate c = s.certificates().certificate(serial).orElseThrow(() -> new PkiException(ErrorKind.NOT_FOUND,
                "no certificate with serial " + serial));
        Instant now = s.clock().instant();
        var i = c.issued();
        StringBuilder b = new StringBuilder("<h1>Certificate <code>" + esc(i.serialHex()) + "</code></h1><dl>");
        row(b, "Status", badge(c.status(now)) + (c.revoked() ? " " + time(c.revokedAt()) + " (" + esc(c.reason().configName()) + ")" : ""));
        row(b, "Device", i.deviceId() == null ? "" : "<a href=\"" + BASE + "/devices/" + url(i.deviceId()) + "\">" + esc(i.deviceId()) + "</a>");
        row(b, "Profile", esc(i.profile()));
        row(b, "Issuing CA", esc(i.caName()));
        row(b, "Issued", time(i.issuedAt()) + " by " + esc(i.issuedBy()) + " over " + esc(i.protocol()));
        row(b, "Proof of possession", i.proofOfPossession() ? "yes (the CSR's signature)" : "no (issued from a bare public key)");
        for (String[] r : CertificateDetails.of(i.certificate())) {
            row(b, r[0], esc(r[1]));
        }
        b.append("</dl><p class=\"downloads\">Download: ");
        for (String[] f : new String[][] {{"pem", "PEM"}, {"der", "DER"}, {"chain", "chain (PEM)"}}) {
            b.append("<a href=\"/api/v1/certificates/").append(url(i.serialHex())).append('/').append(f[0]).append("\" download=\"")
                    .append(esc(i.serialHex())).append(f[0].equals("der") ? ".der" : f[0].equals("chain") ? "-chain.pem" : ".pem").append("\">")
                    .append(f[1]).append("</a> ");
        }
        b.append("</p>");
        if (!c.revoked() && ApiAuth.may(who.operator().role(), Access.ISSUE)) {
            b.append("<h2>Revoke</h2><form class=\"revoke\" hx-post=\"/api/v1/certificates/").append(url(i.serialHex()))
                    .append("/revoke\" hx-swap=\"none\" hx-confirm=\"Revoke certificate ").append(esc(i.serialHex()))
                    .append("? Relying parties will refuse it; this cannot be undone.\" data-done=\"Certificate revoked.\"><label>Reason <select name=\"reason\">");
            for (RevocationReason r : RevocationReason.values()) {
                b.append("<option value=\"").append(esc(r.configName())).append('"').append(r == RevocationReason.UNSPECIFIED ? " selected" : "")
                        .append('>').append(esc(r.configName())).append("</option>");
            }
            b.append("</select></label><button class=\"danger\" type=\"submit\">Revoke certificate</button></form>");
        }
        return new View("Certificate " + i.serialHex(), b.toString());
    }

    // ---- requests ----

    private View requestsPage(Context ctx, ConsoleSessions.Signed who) {
        String statusText = Optional.ofNullable(blankToNull(ctx.queryParam("status"))).orElse("pending");
        EnrollmentRequest.Status status;
        try {
            status = "all".equals(statusText) ? null : EnrollmentRequest.Status.valueOf(statusText.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "status must be pending, issued, rejected or all, not '" + statusText + "'");
        }
        boolean decide = ApiAuth.may(who.operator().role(), Access.DECIDE);
        StringBuilder b = new StringBuilder("<h1>Requests</h1><p class=\"tabs\">");
        for (String st : List.of("pending", "issued", "rejected", "all")) {
            b.append(st.equals(statusText) ? "<strong>" + st + "</strong> " : "<a href=\"" + BASE + "/requests?status=" + st + "\">" + st + "</a> ");
        }
        b.append("</p><table><thead><tr><th>Request</th><th>Device</th><th>Profile</th><th>CSR</th><th>Credential</th><th>Requested</th>")
                .append("<th>Status</th><th></th></tr></thead><tbody>");
        List<EnrollmentRequest> rs = s.requests().requests(status, 200);
        for (EnrollmentRequest r : rs) {
            String csr;
            try {
                UntrustedCsr u = UntrustedCsr.stored(r.csrDer());
                csr = esc(u.subject()) + "<br><small>" + esc(KeyAlgorithm.of(u.publicKey()).configName()) + "</small>";
            } catch (RuntimeException e) {
                csr = "(unreadable)";
            }
            b.append("<tr id=\"request-").append(esc(r.id())).append("\"><td><code>").append(esc(r.id())).append("</code></td><td><a href=\"").append(BASE)
                    .append("/devices/").append(url(r.deviceId())).append("\">").append(esc(r.deviceId())).append("</a></td><td>").append(esc(r.profile()))
                    .append("</td><td>").append(csr).append("</td><td>").append(esc(r.credential())).append(" · ").append(esc(r.requestedBy()))
                    .append(" over ").append(esc(r.protocol())).append("</td><td>").append(time(r.createdAt())).append("</td><td>")
                    .append(badge(r.status().configName()));
            if (r.decidedAt() != null) {
                b.append("<br><small>").append(esc(r.decidedBy())).append(' ').append(time(r.decidedAt())).append(r.reason() == null ? "" : ": " + esc(r.reason()))
                        .append("</small>");
            }
            if (r.serial() != null) {
                b.append("<br><a href=\"").append(BASE).append("/certificates/").append(url(r.serial())).append("\">certificate</a>");
            }
            b.append("</td><td>");
            if (r.status() == EnrollmentRequest.Status.PENDING) {
                s.dualControl().waiting(DualControl.Action.REQUEST_APPROVE, "request:" + r.id()).ifPresent(f -> b.append("<br><small class=\"waiting\">")
                        .append("approved once by ").append(esc(f.by())).append(' ').append(time(f.at())).append("; a second operator must approve</small>"));
            }
            if (decide && r.status() == EnrollmentRequest.Status.PENDING) {
                String base = "/api/v1/certificate-requests/" + url(r.id());
                b.append("<button hx-post=\"").append(base).append("/approve\" hx-swap=\"none\" data-done=\"Request ").append(esc(r.id()))
                        .append(" approved: certificate issued.\">Approve</button><form class=\"inline\" hx-post=\"").append(base)
                        .append("/reject\" hx-swap=\"none\" data-done=\"Request ").append(esc(r.id())).append(" rejected.\"><input name=\"reason\" ")
                        .append("placeholder=\"reason\" aria-label=\"reason for rejecting ").append(esc(r.id())).append("\"><button class=\"danger\" type=\"submit\">")
                        .append("Reject</button></form>");
            }
            b.append("</td></tr>");
        }
        if (rs.isEmpty()) {
            b.append("<tr><td colspan=\"8\">No ").append(status == null ? "" : esc(statusText) + " ").append("requests.</td></tr>");
        }
        b.append("</tbody></table>");
        return new View("Requests", b.toString());
    }

    // ---- audit ----

    private View auditPage(Context ctx, ConsoleSessions.Signed who) {
        String action = blankToNull(ctx.queryParam("action"));
        String target = blankToNull(ctx.queryParam("target"));
        String actor = blankToNull(ctx.queryParam("actor"));
        Long before = AuditRoutes.seq(ctx.queryParam("before"));
        if (action != null) {
            AuditRoutes.action(action);
        }
        List<Map<String, Object>> events = s.audit().auditPage(before, action, target, actor, PAGE + 1);
        boolean more = events.size() > PAGE;
        if (more) {
            events = events.subList(0, PAGE);
        }
        String filters = (action == null ? "" : "&action=" + url(action)) + (target == null ? "" : "&target=" + url(target))
                + (actor == null ? "" : "&actor=" + url(actor));
        StringBuilder b = new StringBuilder("<h1>Audit log</h1><form class=\"filters\" method=\"get\" action=\"" + BASE + "/audit\">");
        b.append("<label>Action <select name=\"action\"><option value=\"\">any</option>");
        for (AuditAction a : AuditAction.values()) {
            b.append("<option").append(a.wireName().equals(action) ? " selected" : "").append('>').append(esc(a.wireName())).append("</option>");
        }
        b.append("</select></label><label>Target <input name=\"target\" value=\"").append(esc(target)).append("\" placeholder=\"serial:… or device id\"></label>")
                .append("<label>Actor <input name=\"actor\" value=\"").append(esc(actor)).append("\" placeholder=\"operator:alice\"></label>")
                .append("<button type=\"submit\">Filter</button></form><p class=\"actions\"><a class=\"button\" href=\"").append(BASE)
                .append("/audit/verify\">Verify the chain</a> <a class=\"button\" href=\"/api/v1/audit?format=jsonl").append(esc(filters))
                .append("\" download=\"fleetpki-audit.jsonl\">Export (JSON lines)</a></p>");
        b.append("<table><thead><tr><th>#</th><th>Time</th><th>Actor</th><th>Action</th><th>Target</th><th>Detail</th></tr></thead><tbody>");
        for (Map<String, Object> e : events) {
            b.append("<tr><td>").append(e.get("seq")).append("</td><td>").append(time((Instant) e.get("at"))).append("</td><td>").append(esc(e.get("actor")))
                    .append("</td><td>").append(esc(e.get("action"))).append("</td><td>").append(esc(e.get("target"))).append("</td><td><code>")
                    .append(esc(e.get("detail"))).append("</code></td></tr>");
        }
        if (events.isEmpty()) {
            b.append("<tr><td colspan=\"6\">No event matches.</td></tr>");
        }
        b.append("</tbody></table>");
        if (more) {
            b.append("<p><a class=\"next\" href=\"").append(BASE).append("/audit?before=").append(events.getLast().get("seq")).append(esc(filters))
                    .append("\">Older →</a></p>");
        }
        return new View("Audit log", b.toString());
    }

    private View auditVerifyPage(Context ctx, ConsoleSessions.Signed who) {
        AuditVerification v = s.audit().verifyAudit();
        StringBuilder b = new StringBuilder("<h1>Audit chain</h1>");
        if (v.intact()) {
            b.append("<p class=\"flash ok\">Intact: ").append(v.events()).append(" events, every link verified. Head hash <code>")
                    .append(esc(v.headHash())).append("</code> (record it elsewhere to anchor the log).</p>");
        } else {
            b.append("<p class=\"flash error\">Broken: ").append(v.problems().size()).append(" problems in ").append(v.events()).append(" events.</p><ul>");
            v.problems().forEach(p -> b.append("<li>").append(esc(p)).append("</li>"));
            b.append("</ul>");
        }
        b.append("<p><a href=\"").append(BASE).append("/audit\">Back to the log</a></p>");
        return new View("Audit chain", b.toString());
    }

    // ---- CAs ----

    private View casPage(Context ctx, ConsoleSessions.Signed who) {
        List<CaRecord> cas = s.caRecords().cas();
        Instant now = s.clock().instant();
        boolean admin = ApiAuth.may(who.operator().role(), Access.ADMIN);
        StringBuilder b = new StringBuilder("<h1>Certificate authorities</h1><ul class=\"tree\">");
        for (CaRecord root : cas.stream().filter(c -> c.parent() == null || cas.stream().noneMatch(p -> p.name().equals(c.parent()))).toList()) {
            caTree(b, root, cas, s.published().crls(), now, admin);
        }
        b.append("</ul>");
        List<Signer> signers = s.signers().signers();
        b.append("<h2>Firmware signers</h2><table><thead><tr><th>Signer</th><th>Models</th><th>Status</th><th>Certificate</th><th>Created</th><th></th></tr></thead><tbody>");
        for (Signer sg : signers) {
            b.append("<tr><td>").append(esc(sg.name())).append("</td><td>").append(esc(String.join(", ", sg.models()))).append("</td><td>")
                    .append(badge(sg.status().name().toLowerCase(Locale.ROOT)));
            waiting(b, DualControl.Action.SIGNER_REVOKE, "signer:" + sg.name());
            b.append("</td><td>").append(sg.serial() == null ? "" : "<code>" + esc(sg.serial()) + "</code>").append("</td><td>").append(time(sg.createdAt()))
                    .append("</td><td>");
            if (admin && sg.status() == Signer.Status.ACTIVE) {
                revokeForm(b, "/api/v1/signers/" + url(sg.name()) + "/revoke", "signer " + sg.name(), RevocationReason.KEY_COMPROMISE,
                        "Revoke signer", "Signer " + sg.name() + " and its certificates revoked.");
            }
            b.append("</td></tr>");
        }
        if (signers.isEmpty()) {
            b.append("<tr><td colspan=\"6\">No firmware signer.</td></tr>");
        }
        b.append("</tbody></table>");
        return new View("CAs", b.toString());
    }

    /** The first approval of this action waiting for a second operator, if dualControl asks for one. */
    private void waiting(StringBuilder b, DualControl.Action action, String target) {
        s.dualControl().waiting(action, target).ifPresent(f -> b.append("<br><small class=\"waiting\">revocation approved once by ").append(esc(f.by()))
                .append(' ').append(time(f.at())).append(" (").append(esc(f.params())).append("); a second operator must confirm</small>"));
    }

    /** A revocation form posting {@code {"reason": ...}} to an admin API route, after the browser's confirmation. */
    private static void revokeForm(StringBuilder b, String api, String what, RevocationReason preset, String button, String done) {
        b.append("<form class=\"inline\" hx-post=\"").append(api).append("\" hx-swap=\"none\" hx-confirm=\"Revoke ").append(esc(what))
                .append("? This cannot be undone.\" data-done=\"").append(esc(done)).append("\"><select name=\"reason\" aria-label=\"reason for revoking ")
                .append(esc(what)).append("\">");
        for (RevocationReason r : RevocationReason.values()) {
            b.append("<option").append(r == preset ? " selected" : "").append('>').append(esc(r.configName())).append("</option>");
        }
        b.append("</select><button class=\"danger\" type=\"submit\">").append(esc(button)).append("</button></form>");
    }

    private void caTree(StringBuilder b, CaRecord ca, List<CaRecord> all, List<RevocationLedger.StoredCrl> allCrls, Instant now, boolean admin) {
        var cert = ca.certificate();
        Optional<Instant> revoked = s.published().caRevokedAt(ca.name());
        String state = revoked.isPresent() ? "revoked" : now.isAfter(cert.getNotAfter().toInstant()) ? "expired" : "valid";
        List<RevocationLedger.StoredCrl> crls = allCrls.stream().filter(c -> c.ca().equals(ca.name())).toList();
        b.append("<li><div class=\"ca\"><strong>").append(esc(ca.name())).append("</strong> ").append(esc(ca.role().configName())).append(' ')
                .append(badge(state)).append("<br><small>").append(esc(cert.getSubjectX500Principal().getName())).append("</small><br>valid ")
                .append(time(cert.getNotBefore().toInstant())).append(" – ").append(time(cert.getNotAfter().toInstant()))
                .append(" · key ").append(ca.keyElsewhere() ? "on another machine" : ca.keyRef().startsWith("pkcs11:") ? "in an HSM (PKCS#11)" : "in an encrypted file");
        if (!crls.isEmpty()) {
            RevocationLedger.StoredCrl c = crls.getFirst();
            b.append(" · CRL number ").append(c.number()).append(", next update ").append(time(c.nextUpdate()));
        }
        waiting(b, DualControl.Action.CA_REVOKE, "ca:" + ca.name());
        if (admin && revoked.isEmpty() && ca.parent() != null && !ca.parent().equals(ca.name())) {
            b.append("<div class=\"actions\">");
            revokeForm(b, "/api/v1/cas/" + url(ca.name()) + "/revoke", "CA " + ca.name(), RevocationReason.CA_COMPROMISE, "Revoke CA",
                    "CA " + ca.name() + " revoked.");
            b.append("</div>");
        }
        b.append("</div>");
        List<CaRecord> children = all.stream().filter(c -> ca.name().equals(c.parent()) && !c.name().equals(ca.name())).toList();
        if (!children.isEmpty()) {
            b.append("<ul>");
            children.forEach(c -> caTree(b, c, all, allCrls, now, admin));
            b.append("</ul>");
        }
        b.append("</li>");
    }

    private static String blankToNull(String v) {
        return v == null || v.isBlank() ? null : v.strip();
    }
}
