package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The refusals the docs describe, each run for real: every one exits with its documented code (or
 * HTTP status), says what was wrong in words a person can act on, and never shows a Java class or
 * exception name ({@link ExitCodesTest#JAVA}). A new refusal belongs in one of the two lists.
 */
class RefusalMessagesTest {
    static final ObjectMapper JSON = new ObjectMapper();
    @TempDir static Path dir;
    static TestServer ts;

    @BeforeAll
    static void start() throws Exception {
        ts = TestServer.start(dir, null);
        assertThat(Cli.run(ts.home, "device", "add", "d1", "--model", "sensor").exit()).isZero();
        assertThat(Cli.run(ts.home, "device", "add", "d-off", "--model", "sensor").exit()).isZero();
        assertThat(Cli.run(ts.home, "device", "disable", "d-off").exit()).isZero();
    }

    @AfterAll
    static void stop() {
        if (ts != null) {
            ts.close();
        }
    }

    /** A CLI refusal: the arguments, the exit code and words the message must hold. */
    record Case(int exit, String says, String... args) {}

    @Test
    void everyCliRefusalExitsWithItsCodeAndSaysWhatToDoWithoutAJavaName() throws Exception {
        Path home = ts.home;
        Path otherCn = TestHome.opensslCsr(dir, "other", "ec", "/CN=someone-else", "-pkeyopt", "ec_paramgen_curve:P-256");
        Path good = TestHome.opensslCsr(dir, "good", "ec", "/CN=d1", "-pkeyopt", "ec_paramgen_curve:P-256");
        Path junk = dir.resolve("junk.der");
        Files.write(junk, new byte[] {1, 2, 3, 4, 5});
        Path shortPassword = dir.resolve("short.txt");
        Files.writeString(shortPassword, "short\n");
        Path badCsv = dir.resolve("bad.csv");
        Files.writeString(badCsv, "id,model\nbad id!,sensor\n");
        Path missing = dir.resolve("no-such-file.csr");
        Path notAFolder = dir.resolve("plain-file");
        Files.writeString(notAFolder, "x");
        String root = home.resolve("ca/root.pem").toString();
        List<Case> cases = List.of(
                new Case(64, "Unknown option", "device", "list", "--bogus"),
                new Case(64, "Missing required option", "sign", "--device", "d1"),
                new Case(64, "--password-file", "operator", "add", "quiet-op", "--role", "issuer"),
                new Case(65, "already registered", "device", "add", "d1"),
                new Case(65, "letters, digits", "device", "add", "bad id!"),
                new Case(66, "d-none", "device", "show", "d-none"),
                new Case(66, "no certificate", "cert", "show", "ffff"),
                new Case(66, "cannot read", "sign", "--csr", missing.toString(), "--device", "d1"),
                new Case(65, "holds a certificate", "sign", "--csr", root, "--device", "d1"),
                new Case(66, "not registered", "sign", "--csr", good.toString(), "--device", "d-unknown"),
                new Case(65, "someone-else", "sign", "--csr", otherCn.toString(), "--device", "d1"),
                new Case(77, "disabled", "device", "secret", "d-off"),
                new Case(65, "is not one of admin, issuer, approver", "token", "create", "t1", "--role", "wizard"),
                new Case(65, "at least 12 characters", "operator", "add", "weak-op", "--role", "issuer", "--password-file", shortPassword.toString()),
                new Case(65, "firmware-signer token", "operator", "add", "fw-op", "--role", "firmware-signer", "--password-file", shortPassword.toString()),
                new Case(66, "no console operator", "operator", "unlock", "nobody"),
                new Case(66, "no console operator", "operator", "disable", "nobody"),
                new Case(66, "no request", "request", "approve", "0000000000000000"),
                new Case(66, "no CA named", "ca", "revoke", "no-such-ca"),
                new Case(66, "no firmware signer", "signer", "revoke", "no-such-signer"),
                new Case(65, "bad id!", "device", "import", badCsv.toString()),
                new Case(73, "cannot write", "export", "trust-bundle", "--out", notAFolder.resolve("bundle.pem").toString()),
                new Case(65, "junk.der", "issue", "--public-key", junk.toString(), "--device", "d1", "--station", "no-station"),
                new Case(64, "gcp", "cloud", "export", "--for", "gcp"));
        List<String> wrong = new ArrayList<>();
        for (Case c : cases) {
            Cli.Result r = Cli.run(home, c.args());
            String all = r.all();
            String what = String.join(" ", c.args());
            if (r.exit() != c.exit()) {
                wrong.add(what + ": exit " + r.exit() + ", expected " + c.exit() + " (" + all.strip() + ")");
            }
            if (!all.contains(c.says())) {
                wrong.add(what + ": the message does not say '" + c.says() + "': " + all.strip());
            }
            // a usage error's first line is the message; the usage under it names environment variables ($FLEETPKI_HOME)
            String message = c.exit() == 64 ? all.strip().lines().findFirst().orElse("") : all;
            if (ExitCodesTest.JAVA.matcher(message).find()) {
                wrong.add(what + ": a Java name in the message: " + all.strip());
            }
        }
        assertThat(wrong).as("CLI refusals that do not hold").isEmpty();
    }

    /** An HTTP refusal: method, path, body and its type, bearer token or none, the status and words the problem's detail must hold. */
    record Http(String method, String path, String body, String type, boolean token, int status, String says) {}

    @Test
    void everyApiRefusalIsAProblemThatSaysWhatToDoWithoutAJavaName() throws Exception {
        Cli.Result t = Cli.run(ts.home, "token", "create", "refusals", "--role", "issuer");
        assertThat(t.exit()).isZero();
        String token = t.out().trim();
        Cli.Result a = Cli.run(ts.home, "token", "create", "refusals-auditor", "--role", "auditor");
        String auditor = a.out().trim();
        List<Http> cases = List.of(
                new Http("GET", "/api/v1/nothing-here", null, null, true, 404, "openapi.json"),
                new Http("GET", "/api/v1/devices", null, null, false, 401, "fleetpki token create"),
                new Http("POST", "/api/v1/devices", "{not json", "application/json", true, 400, "JSON"),
                new Http("POST", "/api/v1/devices", "{\"id\": \"x\"}", "text/plain", true, 415, "application/json"),
                new Http("POST", "/api/v1/devices", "{\"id\": \"bad id!\"}", "application/json", true, 400, "letters"),
                new Http("POST", "/api/v1/devices", "{\"id\": \"d1\"}", "application/json", true, 409, "already registered"),
                new Http("GET", "/api/v1/devices/d-none", null, null, true, 404, "d-none"),
                new Http("GET", "/api/v1/certificates/ffff", null, null, true, 404, "no certificate"),
                new Http("POST", "/api/v1/certificates/ffff/revoke", "{}", "application/json", true, 404, "no certificate"),
                new Http("POST", "/api/v1/certificate-requests", "{\"csr\": \"not a csr\"}", "application/json", true, 400, "CSR"),
                new Http("GET", "/api/v1/audit?action=no.such", null, null, false, 400, "is not an audit action"),
                new Http("POST", "/api/v1/cas/issuing/revoke", "{}", "application/json", true, 403, "this needs admin"),
                new Http("GET", "/api/v1/devices?status=sleeping", null, null, true, 400, "status"),
                new Http("GET", "/api/v1/certificates?expiringWithin=soon", null, null, true, 400, "duration"),
                new Http("POST", "/.well-known/est/simpleenroll", "@@@", "application/pkcs10", false, 401, "credential"));
        List<String> wrong = new ArrayList<>();
        for (Http c : cases) {
            HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(ts.base + c.path()))
                    .method(c.method(), c.body() == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(c.body()));
            if (c.type() != null) {
                b.header("Content-Type", c.type());
            }
            if (c.token()) {
                b.header("Authorization", "Bearer " + token);
            } else if (c.path().startsWith("/api/v1/audit")) {
                b.header("Authorization", "Bearer " + auditor);
            }
            HttpResponse<String> r = ts.http.send(b.build(), HttpResponse.BodyHandlers.ofString());
            String what = c.method() + " " + c.path();
            if (r.statusCode() != c.status()) {
                wrong.add(what + ": " + r.statusCode() + ", expected " + c.status() + " (" + r.body() + ")");
                continue;
            }
            JsonNode p;
            try {
                p = JSON.readTree(r.body());
            } catch (Exception e) {
                wrong.add(what + ": not a problem document: " + r.body());
                continue;
            }
            String detail = p.path("detail").asText();
            if (!r.headers().firstValue("Content-Type").orElse("").startsWith("application/problem+json")) {
                wrong.add(what + ": not application/problem+json");
            }
            if (!detail.contains(c.says())) {
                wrong.add(what + ": the detail does not say '" + c.says() + "': " + detail);
            }
            if (ExitCodesTest.JAVA.matcher(r.body()).find()) {
                wrong.add(what + ": a Java name in the problem: " + r.body());
            }
        }
        assertThat(wrong).as("API refusals that do not hold").isEmpty();
    }
}
