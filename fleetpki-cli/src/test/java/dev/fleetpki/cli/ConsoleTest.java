package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The console's sign-in, sessions and CSRF defence over real HTTPS, each rule seen holding and
 * seen refusing: wrong passwords and unknown names get one answer, five failures lock the account,
 * a session's cookie is __Host-, Secure, HttpOnly and SameSite=Strict, a state-changing API call
 * with the cookie but without the session's CSRF token (or from another origin) is refused and
 * changes nothing, a session ends when its operator is disabled or given a new password or signs
 * out, and what anyone typed is escaped on every page.
 */
class ConsoleTest {
    @TempDir static Path dir;
    static TestServer ts;
    static final Pattern CSRF = Pattern.compile("<meta name=\"csrf-token\" content=\"([^\"]+)\">");

    @BeforeAll
    static void start() throws Exception {
        ts = TestServer.start(dir, null, """
                enrollment:
                  fleets:
                    pend:
                      accept: []
                      otherwise: pending
                """);
    }

    @AfterAll
    static void stop() {
        if (ts != null) {
            ts.close();
        }
    }

    static String password(String name) {
        return name + " correct horse battery";
    }

    /** Adds an operator (if needed) and signs in with a password: the Cookie header and the session's CSRF token. */
    static String[] signIn(TestServer ts, Path dir, String name, String role) throws Exception {
        if (ts.fleet.store().operators().operator(name).isEmpty()) {
            Path pw = dir.resolve(name + ".password");
            Files.writeString(pw, password(name) + "\n");
            Cli.Result added = Cli.run(ts.home, "operator", "add", name, "--role", role, "--password-file", pw.toString());
            assertThat(added.exit()).as(added.all()).isZero();
        }
        HttpResponse<String> r = login(ts, name, password(name));
        assertThat(r.statusCode()).as(r.body()).isEqualTo(303);
        String cookie = r.headers().firstValue("Set-Cookie").orElseThrow();
        String pair = cookie.substring(0, cookie.indexOf(';'));
        HttpResponse<String> page = ts.http.send(HttpRequest.newBuilder(URI.create(ts.base + "/console/")).header("Cookie", pair).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(page.statusCode()).as(page.body()).isEqualTo(200);
        Matcher m = CSRF.matcher(page.body());
        assertThat(m.find()).as(page.body()).isTrue();
        return new String[] {pair, m.group(1)};
    }

    static HttpResponse<String> login(TestServer ts, String name, String password) throws Exception {
        String form = "name=" + URLEncoder.encode(name, StandardCharsets.UTF_8) + "&password=" + URLEncoder.encode(password, StandardCharsets.UTF_8);
        return ts.http.send(HttpRequest.newBuilder(URI.create(ts.base + "/console/login")).header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString(form)).build(), HttpResponse.BodyHandlers.ofString());
    }

    static HttpResponse<String> get(String path, String[] session) throws Exception {
        return get(ts, path, session);
    }

    static HttpResponse<String> get(TestServer ts, String path, String[] session) throws Exception {
        return ts.http.send(HttpRequest.newBuilder(URI.create(ts.base + path)).header("Cookie", session[0]).build(), HttpResponse.BodyHandlers.ofString());
    }

    static HttpResponse<String> post(String path, String[] session, String csrf, String origin, String json) throws Exception {
        return post(ts, path, session, csrf, origin, json);
    }

    static HttpResponse<String> post(TestServer ts, String path, String[] session, String csrf, String origin, String json) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(ts.base + path)).header("Cookie", session[0]).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json));
        if (csrf != null) {
            b.header("X-CSRF-Token", csrf);
        }
        if (origin != null) {
            b.header("Origin", origin);
        }
        return ts.http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void theSessionCookieIsHostOnlySecureHttpOnlyAndStrict() throws Exception {
        signIn(ts, dir, "cookie-op", "auditor");
        HttpResponse<String> r = login(ts, "cookie-op", password("cookie-op"));
        String cookie = r.headers().firstValue("Set-Cookie").orElseThrow();
        assertThat(cookie).startsWith("__Host-fleetpki-session=").contains("; Path=/").contains("; Secure").contains("; HttpOnly")
                .contains("; SameSite=Strict").doesNotContain("Domain");
        // the store keeps the id's hash, never the id
        String id = cookie.substring(cookie.indexOf('=') + 1, cookie.indexOf(';'));
        assertThat(ts.fleet.store().operators().session(id)).isEmpty();
        assertThat(ts.fleet.store().operators().session(dev.fleetpki.core.TokenSecrets.hash(id))).isPresent();
    }

    @Test
    void aWrongPasswordAndAnUnknownNameGetTheSameAnswerAndFiveFailuresLockTheAccount() throws Exception {
        signIn(ts, dir, "lock-op", "issuer");
        HttpResponse<String> unknown = login(ts, "nobody-here", "whatever password");
        HttpResponse<String> wrong = login(ts, "lock-op", "not the password at all");
        assertThat(unknown.statusCode()).isEqualTo(401);
        assertThat(wrong.statusCode()).isEqualTo(401);
        assertThat(wrong.body()).isEqualTo(unknown.body()).contains("Wrong name or password").contains("locked for 15 minutes");
        for (int i = 0; i < 3; i++) {
            assertThat(login(ts, "lock-op", "not the password at all").statusCode()).isEqualTo(401);
        }
        assertThat(ts.fleet.store().operators().operator("lock-op").orElseThrow().lockedUntil()).as("not locked after four").isNull();
        assertThat(login(ts, "lock-op", "not the password at all").statusCode()).isEqualTo(401);
        assertThat(ts.fleet.store().operators().operator("lock-op").orElseThrow().lockedUntil()).isNotNull();
        // locked: the right password is refused too, with the same answer
        HttpResponse<String> locked = login(ts, "lock-op", password("lock-op"));
        assertThat(locked.statusCode()).isEqualTo(401);
        assertThat(locked.body()).isEqualTo(unknown.body());
        Cli.Result list = Cli.run(ts.home, "operator", "list");
        assertThat(list.out()).containsPattern("lock-op +issuer +locked until");
        assertThat(Cli.run(ts.home, "operator", "unlock", "lock-op").exit()).isZero();
        assertThat(login(ts, "lock-op", password("lock-op")).statusCode()).isEqualTo(303);
        Cli.Result audit = Cli.run(ts.home, "audit", "list", "--last", "200");
        assertThat(audit.out()).contains("operator.lock").contains("operator.unlock").contains("console.sign-in-refuse");
    }

    @Test
    void theApiRefusesASessionCallWithoutItsCsrfTokenOrFromAnotherOriginAndChangesNothing() throws Exception {
        String[] s = signIn(ts, dir, "csrf-op", "issuer");
        assertThat(Cli.run(ts.home, "device", "add", "csrf-dev", "--model", "sensor").exit()).isZero();
        HttpResponse<String> none = post("/api/v1/devices/csrf-dev/disable", s, null, null, "{}");
        assertThat(none.statusCode()).as(none.body()).isEqualTo(403);
        assertThat(none.body()).contains("X-CSRF-Token");
        HttpResponse<String> forged = post("/api/v1/devices/csrf-dev/disable", s, "a".repeat(43), null, "{}");
        assertThat(forged.statusCode()).isEqualTo(403);
        HttpResponse<String> elsewhere = post("/api/v1/devices/csrf-dev/disable", s, s[1], "https://evil.example", "{}");
        assertThat(elsewhere.statusCode()).isEqualTo(403);
        assertThat(ts.fleet.store().devices().deviceNow("csrf-dev").orElseThrow().status()).isEqualTo(dev.fleetpki.core.Device.Status.ACTIVE);
        HttpResponse<String> ok = post("/api/v1/devices/csrf-dev/disable", s, s[1], ts.base, "{}");
        assertThat(ok.statusCode()).as(ok.body()).isEqualTo(200);
        assertThat(ts.fleet.store().devices().deviceNow("csrf-dev").orElseThrow().status()).isEqualTo(dev.fleetpki.core.Device.Status.DISABLED);
        // and the audit log names the operator
        assertThat(Cli.run(ts.home, "audit", "list", "--last", "5").out()).containsPattern("operator:csrf-op +device.disable +device:csrf-dev");
    }

    @Test
    void aSessionEndsWhenItsOperatorIsDisabledOrGivenANewPasswordOrSignsOut() throws Exception {
        String[] s = signIn(ts, dir, "end-op", "auditor");
        assertThat(get("/api/v1/devices", s).statusCode()).isEqualTo(200);
        assertThat(Cli.run(ts.home, "operator", "disable", "end-op").exit()).isZero();
        HttpResponse<String> after = get("/api/v1/devices", s);
        assertThat(after.statusCode()).isEqualTo(401);
        assertThat(after.body()).contains("sign in again");
        assertThat(get("/console/devices", s).statusCode()).isEqualTo(303);
        assertThat(login(ts, "end-op", password("end-op")).statusCode()).isEqualTo(401);
        assertThat(Cli.run(ts.home, "operator", "enable", "end-op").exit()).isZero();
        // the old session stays ended; a new password ends the new one
        assertThat(get("/api/v1/devices", s).statusCode()).isEqualTo(401);
        String[] s2 = signIn(ts, dir, "end-op", "auditor");
        Path pw = dir.resolve("end-op.new");
        Files.writeString(pw, "a brand new password\n");
        assertThat(Cli.run(ts.home, "operator", "password", "end-op", "--password-file", pw.toString()).exit()).isZero();
        assertThat(get("/api/v1/devices", s2).statusCode()).isEqualTo(401);
        assertThat(login(ts, "end-op", "a brand new password").statusCode()).isEqualTo(303);
        // signing out with the form's CSRF field ends the session
        HttpResponse<String> fresh = login(ts, "end-op", "a brand new password");
        String cookie = fresh.headers().firstValue("Set-Cookie").orElseThrow();
        String[] s3 = {cookie.substring(0, cookie.indexOf(';')), null};
        Matcher m = CSRF.matcher(get("/console/", s3).body());
        assertThat(m.find()).isTrue();
        HttpResponse<String> out = ts.http.send(HttpRequest.newBuilder(URI.create(ts.base + "/console/logout")).header("Cookie", s3[0])
                .header("Content-Type", "application/x-www-form-urlencoded").POST(HttpRequest.BodyPublishers.ofString("csrf=" + m.group(1))).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(out.statusCode()).isEqualTo(303);
        assertThat(get("/api/v1/devices", s3).statusCode()).isEqualTo(401);
    }

    @Test
    void rolesDecideWhatAPageShowsAndTheApiAllows() throws Exception {
        String[] approver = signIn(ts, dir, "appr-op", "approver");
        String[] auditor = signIn(ts, dir, "aud-op", "auditor");
        assertThat(Cli.run(ts.home, "device", "add", "role-dev", "--model", "sensor").exit()).isZero();
        Path key = dir.resolve("role.key");
        Path csr = dir.resolve("role.csr");
        Proc.ok(dir, "openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key.toString(),
                "-out", csr.toString(), "-subj", "/CN=role-dev");
        Cli.Result signed = Cli.run(ts.home, "sign", "--csr", csr.toString(), "--device", "role-dev", "--json");
        assertThat(signed.exit()).as(signed.all()).isZero();
        String serial = new com.fasterxml.jackson.databind.ObjectMapper().readTree(signed.out()).path("serial").asText();
        // the approver sees the certificate but no revoke form, and the API refuses the revocation
        HttpResponse<String> page = get("/console/certificates/" + serial, approver);
        assertThat(page.statusCode()).isEqualTo(200);
        assertThat(page.body()).contains(serial).doesNotContain("Revoke certificate");
        HttpResponse<String> revoke = post("/api/v1/certificates/" + serial + "/revoke", approver, approver[1], null, "{}");
        assertThat(revoke.statusCode()).isEqualTo(403);
        assertThat(revoke.body()).contains("operator 'appr-op' has role approver");
        assertThat(ts.fleet.store().certificates().certificate(serial).orElseThrow().revoked()).isFalse();
        // the audit log is the auditor's: the approver's page says so, and so does the API
        HttpResponse<String> audit = get("/console/audit", approver);
        assertThat(audit.statusCode()).isEqualTo(403);
        assertThat(audit.body()).contains("this page needs auditor");
        assertThat(get("/api/v1/audit", approver).statusCode()).isEqualTo(403);
        assertThat(get("/console/audit", auditor).statusCode()).isEqualTo(200);
        assertThat(get("/api/v1/audit?format=jsonl&action=certificate.issue", auditor).body()).contains("\"action\":\"certificate.issue\"");
        assertThat(get("/api/v1/audit/verify", auditor).body()).contains("\"intact\":true");
        // the auditor reads requests but gets no approve button
        assertThat(get("/console/requests", auditor).body()).doesNotContain(">Approve<");
    }

    @Test
    void whatAnyoneTypedIsEscapedOnEveryPage() throws Exception {
        String[] issuer = signIn(ts, dir, "xss-op", "issuer");
        // a request kept for an operator, rejected with a reason that is markup
        Cli.Result added = Cli.run(ts.home, "device", "add", "xss-dev", "--model", "pend", "--enrollment-secret");
        assertThat(added.exit()).as(added.all()).isZero();
        String[] lines = added.out().trim().split("\n");
        EstCurl curl = EstCurl.of(ts, dir);
        curl.est("/simpleenroll", curl.csr("xss", "xss-dev"), "-u xss-dev:" + lines[lines.length - 1]);
        String id = ts.fleet.store().requests().pendingRequest("xss-dev", "device").orElseThrow().id();
        String reason = "<script>alert('x')</script><img src=x onerror=alert(1)>";
        HttpResponse<String> rejected = post("/api/v1/certificate-requests/" + id + "/reject", issuer, issuer[1], null,
                "{\"reason\": \"" + reason.replace("'", "\\u0027") + "\"}");
        assertThat(rejected.statusCode()).as(rejected.body()).isEqualTo(200);
        for (String page : List.of("/console/requests?status=all", "/console/devices/xss-dev")) {
            HttpResponse<String> r = get(page, issuer);
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.body()).doesNotContain("<script>alert").doesNotContain("<img src=x");
            assertThat(r.headers().firstValue("Content-Security-Policy").orElseThrow()).contains("script-src 'self'").contains("frame-ancestors 'none'");
        }
        assertThat(get("/console/requests?status=all", issuer).body()).contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;");
        String[] auditor = signIn(ts, dir, "xss-aud", "auditor");
        assertThat(get("/console/audit?action=request.reject", auditor).body()).doesNotContain("<script>alert").contains("&lt;script&gt;");
    }

    @Test
    void signInSendsBackOnlyToAPageOfTheConsole() throws Exception {
        signIn(ts, dir, "next-op", "issuer");
        for (String next : List.of("https://evil.example/", "//evil.example/console/", "/console//evil.example", "/api/v1/devices")) {
            String form = "name=next-op&password=" + URLEncoder.encode(password("next-op"), StandardCharsets.UTF_8) + "&next="
                    + URLEncoder.encode(next, StandardCharsets.UTF_8);
            HttpResponse<String> r = ts.http.send(HttpRequest.newBuilder(URI.create(ts.base + "/console/login"))
                    .header("Content-Type", "application/x-www-form-urlencoded").POST(HttpRequest.BodyPublishers.ofString(form)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(r.headers().firstValue("Location").orElseThrow()).as(next).isEqualTo("/console/");
        }
        String form = "name=next-op&password=" + URLEncoder.encode(password("next-op"), StandardCharsets.UTF_8) + "&next=%2Fconsole%2Fcas";
        HttpResponse<String> r = ts.http.send(HttpRequest.newBuilder(URI.create(ts.base + "/console/login"))
                .header("Content-Type", "application/x-www-form-urlencoded").POST(HttpRequest.BodyPublishers.ofString(form)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.headers().firstValue("Location").orElseThrow()).isEqualTo("/console/cas");
    }

    @Test
    void passwordsAreStoredAsArgon2idAndNeverInTheStore() throws Exception {
        signIn(ts, dir, "hash-op", "auditor");
        String hash = ts.fleet.store().operators().operator("hash-op").orElseThrow().passwordHash();
        assertThat(hash).startsWith("$argon2id$v=19$m=19456,t=2,p=1$");
        assertThat(dev.fleetpki.core.Passwords.matches(password("hash-op").toCharArray(), hash)).isTrue();
        assertThat(dev.fleetpki.core.Passwords.matches("another password".toCharArray(), hash)).isFalse();
        // a bcrypt hash brought from elsewhere is accepted
        String bcrypt = org.bouncycastle.crypto.generators.OpenBSDBCrypt.generate("legacy password".toCharArray(), new byte[16], 10);
        assertThat(dev.fleetpki.core.Passwords.matches("legacy password".toCharArray(), bcrypt)).isTrue();
        assertThat(dev.fleetpki.core.Passwords.matches("legacy Password".toCharArray(), bcrypt)).isFalse();
        // a short password is refused before anything is stored
        Path weak = dir.resolve("weak");
        Files.writeString(weak, "short\n");
        Cli.Result r = Cli.run(ts.home, "operator", "add", "weak-op", "--role", "issuer", "--password-file", weak.toString());
        assertThat(r.exit()).isEqualTo(65);
        assertThat(r.err()).contains("at least 12 characters");
        assertThat(ts.fleet.store().operators().operator("weak-op")).isEmpty();
        // no password source and no terminal: a usage error naming the options
        Cli.Result none = Cli.run(ts.home, "operator", "add", "quiet-op", "--role", "issuer");
        assertThat(none.exit()).isEqualTo(64);
        assertThat(none.err()).contains("--password-file");
    }

    @Test
    void anOperatorsClientCertificateSignsIn() throws Exception {
        EstCurl curl = EstCurl.of(ts, dir);
        Path cert = curl.selfSigned("carol", "/CN=carol");
        Cli.Result added = Cli.run(ts.home, "operator", "add", "carol", "--role", "auditor", "--client-cert", cert.toString());
        assertThat(added.exit()).as(added.all()).isZero();
        HttpClient withCert = ts.clientWith(cert, dir.resolve("carol.key"));
        HttpResponse<String> page = withCert.send(HttpRequest.newBuilder(URI.create(ts.base + "/console/login")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(page.body()).contains("Sign in as carol with your client certificate");
        HttpResponse<String> r = withCert.send(HttpRequest.newBuilder(URI.create(ts.base + "/console/login/certificate"))
                .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(303);
        assertThat(r.headers().firstValue("Set-Cookie").orElseThrow()).startsWith("__Host-fleetpki-session=");
        // without the certificate, the same button is refused
        HttpResponse<String> bare = ts.http.send(HttpRequest.newBuilder(URI.create(ts.base + "/console/login/certificate"))
                .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(bare.statusCode()).isEqualTo(401);
    }
}
