package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fleetpki.device.DeviceIdentity;
import dev.fleetpki.device.EstClient;
import dev.fleetpki.kms.KeyAlgorithm;
import dev.fleetpki.kms.KeyRef;
import dev.fleetpki.kms.SecretSource;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code fleetpki device import}: devices registered in bulk from CSV and JSON lines, every row
 * checked before anything is stored; one-time secrets written once, encrypted to an EC certificate
 * or a passphrase, opened by {@code openssl cms -decrypt}, and good for an EST enrollment; a rerun
 * passes over what is registered; refused rows import nothing unless asked to.
 */
class DeviceImportTest {
    @TempDir Path dir;

    @Test
    void devicesAndTheirSecretsAreImportedInOneGoAndTheSecretsOpenWithOpenssl() throws Exception {
        try (TestServer ts = TestServer.start(dir, null)) {
            Path csv = dir.resolve("devices.csv");
            Files.writeString(csv, """
                    id,model,tag.line,key_location
                    esp-0001,esp32,3,se:0
                    esp-0002,esp32,3,
                    "esp-0003",esp32,"4",software
                    """);
            Proc.ok(dir, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "30",
                    "-keyout", "station.key", "-out", "station.pem", "-subj", "/CN=flashing station");
            Cli.Result r = Cli.run(ts.home, "device", "import", csv.toString(), "--secrets-out", dir.resolve("secrets.pem").toString(),
                    "--recipient", dir.resolve("station.pem").toString());
            assertThat(r.exit()).as(r.all()).isZero();
            assertThat(r.out()).contains("Imported 3 devices; their one-time secrets are in");
            assertThat(Files.readString(dir.resolve("secrets.pem"))).startsWith("-----BEGIN CMS-----").doesNotContain("esp-0001");
            String plain = Proc.ok(dir, "openssl", "cms", "-decrypt", "-inform", "PEM", "-in", "secrets.pem", "-inkey", "station.key");
            List<String> lines = plain.lines().toList();
            assertThat(lines.getFirst()).isEqualTo("device_id,secret,expires_at");
            assertThat(lines).hasSize(4);
            assertThat(lines.get(1)).startsWith("esp-0001,fpe_");
            assertThat(Cli.run(ts.home, "device", "show", "esp-0003").out()).contains("esp32").contains("line=4").contains("software");
            assertThat(Cli.run(ts.home, "audit", "list").out()).contains("\"via\":\"import\"");

            // a secret from the file enrolls its device over EST
            String secret = lines.get(2).split(",")[1];
            Path folder = Files.createDirectories(dir.resolve("esp-0002"));
            Files.writeString(folder.resolve("pass"), "device passphrase esp-0002\n");
            DeviceIdentity dev = DeviceIdentity.create(folder, "esp-0002", KeyRef.parse("file:device.p8"), KeyAlgorithm.EC_P256,
                    SecretSource.parse("file:pass", folder), DeviceIdentity.certificate(Files.readAllBytes(ts.home.resolve("ca/root.pem"))));
            assertThat(dev.enroll(new EstClient(URI.create(ts.base + "/.well-known/est"), dev.anchor(), Duration.ofSeconds(10)), secret.toCharArray(),
                    Clock.systemUTC()).issued()).isTrue();

            // the same file again: refused; with --skip-existing nothing new, and no secrets file
            Cli.Result again = Cli.run(ts.home, "device", "import", csv.toString());
            assertThat(again.exit()).isEqualTo(65);
            assertThat(again.err()).contains("line 2 (esp-0001): already registered").contains("nothing was imported");
            Files.writeString(csv, "esp-0004,esp32,5,\n", java.nio.file.StandardOpenOption.APPEND);
            Cli.Result rerun = Cli.run(ts.home, "device", "import", csv.toString(), "--skip-existing", "--secrets-out",
                    dir.resolve("secrets-2.pem").toString(), "--passphrase", "file:" + write("pp", "a long flashing passphrase"));
            assertThat(rerun.exit()).as(rerun.all()).isZero();
            assertThat(rerun.out()).contains("Imported 1 device, passed over 3 already registered");
            String second = Proc.ok(dir, "openssl", "cms", "-decrypt", "-inform", "PEM", "-in", "secrets-2.pem", "-pwri_password",
                    "a long flashing passphrase");
            assertThat(second.lines().toList()).hasSize(2).last().asString().startsWith("esp-0004,fpe_");
            assertThat(Proc.run(dir, Map.of(), "openssl", "cms", "-decrypt", "-inform", "PEM", "-in", "secrets-2.pem", "-pwri_password",
                    "the wrong passphrase").exit()).isNotZero();

            // the REST equivalent: one request, many devices, the secrets in the answer only
            String token = Cli.run(ts.home, "token", "create", "mes", "--role", "issuer").out().trim();
            var ok = rest(ts, token, "{\"devices\": [{\"id\": \"esp-0100\", \"model\": \"esp32\", \"tags\": {\"line\": \"7\"}}, "
                    + "{\"id\": \"esp-0101\"}], \"enrollmentSecrets\": {\"expiresIn\": \"2d\"}}");
            assertThat(ok.statusCode()).as(ok.body()).isEqualTo(201);
            assertThat(ok.headers().firstValue("Cache-Control")).hasValue("no-store");
            var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(ok.body());
            assertThat(json.path("imported").toString()).isEqualTo("[\"esp-0100\",\"esp-0101\"]");
            assertThat(json.path("secrets").get(1).path("secret").asText()).startsWith("fpe_");
            var bad = rest(ts, token, "{\"devices\": [{\"id\": \"esp-0102\"}, {\"id\": \"esp-0100\"}, {\"id\": 7}]}");
            assertThat(bad.statusCode()).isEqualTo(400);
            assertThat(bad.headers().firstValue("Content-Type").orElseThrow()).startsWith("application/problem+json");
            var errors = new com.fasterxml.jackson.databind.ObjectMapper().readTree(bad.body()).path("errors");
            assertThat(errors.toString()).contains("already registered").contains("'id' must be a string");
            assertThat(Cli.run(ts.home, "device", "show", "esp-0102").exit()).as("nothing imported").isNotZero();
            var skipped = rest(ts, token, "{\"devices\": [{\"id\": \"esp-0102\"}, {\"id\": \"esp-0100\"}], \"skipExisting\": true}");
            assertThat(skipped.statusCode()).as(skipped.body()).isEqualTo(201);
            assertThat(skipped.body()).contains("\"skipped\":[\"esp-0100\"]").doesNotContain("secrets");
            String auditor = Cli.run(ts.home, "token", "create", "audit", "--role", "auditor").out().trim();
            assertThat(rest(ts, auditor, "{\"devices\": [{\"id\": \"esp-0200\"}]}").statusCode()).isEqualTo(403);
        }
    }

    @Test
    void refusedRowsImportNothingUnlessAskedAndSecretsAreNeverPlain() throws Exception {
        TestHome.write(dir, "ecdsa-p256", null, null);
        TestHome.init(dir);
        Path jsonl = write("devices.jsonl", """
                {"id": "cam-1", "model": "camera", "tags": {"site": "berlin"}}
                {"id": "cam-1", "model": "camera"}
                {"id": "bad id!", "model": "camera"}
                {"id": "pki.fleet.example", "model": "fleetpki-server"}
                {"id": "cam-2", "colour": "red"}
                not json
                {"id": "cam-3", "keyLocation": "pkcs11:token=cam;object=dev"}
                """);
        Cli.Result refused = Cli.run(dir, "device", "import", jsonl.toString());
        assertThat(refused.exit()).isEqualTo(65);
        assertThat(refused.err()).contains("line 2 (cam-1): the id appears twice").contains("line 3 (bad id!): device id 'bad id!' is not valid")
                .contains("line 4 (pki.fleet.example): model 'fleetpki-server' is reserved").contains("line 5: unknown field 'colour'")
                .contains("line 6: not a JSON object").contains("5 rows refused");
        assertThat(Cli.run(dir, "device", "list").out()).doesNotContain("cam-1").doesNotContain("cam-3");

        Cli.Result plain = Cli.run(dir, "device", "import", jsonl.toString(), "--secrets-out", dir.resolve("s.pem").toString());
        assertThat(plain.exit()).isEqualTo(65);
        assertThat(plain.err()).contains("never written in plain text");
        Cli.Result shortPass = Cli.run(dir, "device", "import", jsonl.toString(), "--secrets-out", dir.resolve("s.pem").toString(),
                "--passphrase", "file:" + write("short", "short"));
        assertThat(shortPass.exit()).isEqualTo(65);
        assertThat(dir.resolve("s.pem")).doesNotExist();

        Cli.Result partial = Cli.run(dir, "device", "import", jsonl.toString(), "--skip-invalid");
        assertThat(partial.exit()).as(partial.all()).isZero();
        assertThat(partial.out()).contains("Imported 2 devices, refused 5 rows");
        assertThat(Cli.run(dir, "device", "list").out()).contains("cam-1").contains("cam-3");

        Path badCsv = write("bad.csv", "id,colour\nx,red\n");
        Cli.Result header = Cli.run(dir, "device", "import", badCsv.toString());
        assertThat(header.exit()).isEqualTo(65);
        assertThat(header.err()).contains("unknown column 'colour'");
    }

    private static java.net.http.HttpResponse<String> rest(TestServer ts, String token, String body) throws Exception {
        return ts.http.send(java.net.http.HttpRequest.newBuilder(URI.create(ts.base + "/api/v1/devices/import"))
                .header("Authorization", "Bearer " + token).header("Content-Type", "application/json")
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString(body)).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
    }

    private Path write(String name, String content) throws Exception {
        Path p = dir.resolve(name);
        Files.writeString(p, content + (content.endsWith("\n") ? "" : "\n"));
        return p;
    }
}
