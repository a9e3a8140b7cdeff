package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Expiry monitoring: the server's gauges of certificates nearing their end by CA, profile and
 * window, of each CA's end and each CRL's next update; and {@code cert list --expiring-within
 * --json} for a cron job. Revoked certificates and those far from their end are not counted.
 */
class ExpiryMonitoringTest {
    @TempDir Path dir;

    @Test
    void certificatesNearTheirEndAreCountedByWindowAndListedAsJson() throws Exception {
        try (TestServer ts = TestServer.start(dir, """
                week:
                  kind: device
                  validity: 5d
                month:
                  kind: device
                  validity: 20d
                """)) {
            Path home = ts.home;
            String[][] issue = {{"w-1", "week"}, {"w-2", "week"}, {"w-3", "week"}, {"m-1", "month"}, {"y-1", "device"}};
            String revokedSerial = null;
            for (String[] d : issue) {
                assertThat(Cli.run(home, "device", "add", d[0]).exit()).isZero();
                Proc.ok(dir, "openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", d[0] + ".key",
                        "-out", d[0] + ".csr", "-subj", "/CN=" + d[0]);
                Cli.Result r = Cli.run(home, "sign", "--device", d[0], "--profile", d[1], "--csr", dir.resolve(d[0] + ".csr").toString(),
                        "--out", dir.resolve(d[0] + ".pem").toString());
                assertThat(r.exit()).as(r.all()).isZero();
                if (d[0].equals("w-3")) {
                    revokedSerial = Proc.ok(dir, "openssl", "x509", "-in", "w-3.pem", "-noout", "-serial").strip().substring(7).toLowerCase();
                }
            }
            assertThat(Cli.run(home, "device", "add", "j-1").exit()).isZero();
            Proc.ok(dir, "openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "j-1.key",
                    "-out", "j-1.csr", "-subj", "/CN=j-1");
            JsonNode signedJson = new ObjectMapper().readTree(Cli.run(home, "sign", "--device", "j-1", "--csr", dir.resolve("j-1.csr").toString(),
                    "--json").out());
            assertThat(signedJson.get("profile").asText()).isEqualTo("device");
            assertThat(signedJson.get("proofOfPossession").asBoolean()).isTrue();
            assertThat(signedJson.get("chainPem").asText()).contains("BEGIN CERTIFICATE");
            assertThat(Cli.run(home, "revoke", revokedSerial).exit()).isZero();
            assertThat(Cli.run(home, "crl", "generate").exit()).isZero();

            String metrics = ts.http.send(HttpRequest.newBuilder(URI.create(ts.base + "/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
            assertThat(metrics).containsPattern("fleetpki_certificates_expiring\\{ca=\"issuing\",profile=\"week\",within=\"7d\"} 2(\\.0)?\\n")
                    .as("the revoked one is not counted");
            assertThat(metrics).containsPattern("fleetpki_certificates_expiring\\{ca=\"issuing\",profile=\"week\",within=\"30d\"} 2(\\.0)?\\n");
            assertThat(metrics).containsPattern("fleetpki_certificates_expiring\\{ca=\"issuing\",profile=\"month\",within=\"7d\"} 0(\\.0)?\\n");
            assertThat(metrics).containsPattern("fleetpki_certificates_expiring\\{ca=\"issuing\",profile=\"month\",within=\"30d\"} 1(\\.0)?\\n");
            assertThat(metrics).as("a year-long certificate is not near its end").doesNotContain("profile=\"device\",within");
            long rootEnd = ts.fleet.store().ca("root").orElseThrow().certificate().getNotAfter().getTime() / 1000;
            String rootLine = metrics.lines().filter(l -> l.startsWith("fleetpki_ca_not_after_seconds{ca=\"root\",role=\"root\"} ")).findFirst().orElseThrow();
            assertThat(Double.parseDouble(rootLine.substring(rootLine.lastIndexOf(' ') + 1))).isEqualTo((double) rootEnd);
            assertThat(metrics).contains("fleetpki_crl_next_update_seconds{ca=\"issuing\",shard=\"0\"}");
            // the documented alert rules use only metrics the server exports
            JsonNode rules = new ObjectMapper(new com.fasterxml.jackson.dataformat.yaml.YAMLFactory())
                    .readTree(Path.of("..", "docs", "alerts", "fleetpki-rules.yml").toFile());
            int checked = 0;
            for (JsonNode rule : rules.get("groups").get(0).get("rules")) {
                var m = java.util.regex.Pattern.compile("fleetpki_\\w+").matcher(rule.get("expr").asText());
                while (m.find()) {
                    assertThat(metrics).as(rule.get("alert").asText()).contains("\n" + m.group() + "{");
                    checked++;
                }
            }
            assertThat(checked).isGreaterThanOrEqualTo(4);

            JsonNode listed = new ObjectMapper().readTree(Cli.run(home, "cert", "list", "--expiring-within", "7d", "--json").out());
            assertThat(listed.get("certificates")).hasSize(2);
            assertThat(listed.get("certificates").get(0).get("profile").asText()).isEqualTo("week");
            assertThat(listed.get("certificates").get(0).get("status").asText()).isEqualTo("valid");
            assertThat(listed.get("certificates").get(0).get("notAfter").asText()).matches("\\d{4}-.*Z");
            assertThat(listed.get("more").asBoolean()).isFalse();
            // one shape for a certificate: the CLI's is the REST API's, without the link
            String token = Cli.run(home, "token", "create", "watch", "--role", "auditor").out().trim();
            JsonNode first = listed.get("certificates").get(0);
            JsonNode rest = new ObjectMapper().readTree(ts.http.send(HttpRequest.newBuilder(URI.create(ts.base + "/api/v1/certificates/"
                    + first.get("serial").asText())).header("Authorization", "Bearer " + token).build(), HttpResponse.BodyHandlers.ofString()).body());
            ((com.fasterxml.jackson.databind.node.ObjectNode) rest).remove("href");
            assertThat(first).isEqualTo(rest);
            assertThat(new ObjectMapper().readTree(Cli.run(home, "cert", "show", first.get("serial").asText().toUpperCase(), "--json").out()))
                    .as("cert show --json, the serial in any case").isEqualTo(rest);
            JsonNode shown = new ObjectMapper().readTree(Cli.run(home, "device", "show", "w-3", "--json").out());
            JsonNode restShown = new ObjectMapper().readTree(ts.http.send(HttpRequest.newBuilder(URI.create(ts.base + "/api/v1/devices/w-3"))
                    .header("Authorization", "Bearer " + token).build(), HttpResponse.BodyHandlers.ofString()).body());
            ((com.fasterxml.jackson.databind.node.ObjectNode) restShown).remove("href");
            assertThat(shown).isEqualTo(restShown).as("device show --json: the REST API's device with its certificates");
            assertThat(shown.get("certificates").get(0).get("status").asText()).isEqualTo("revoked");
            assertThat(shown.get("certificates").get(0).get("current").asBoolean()).isFalse();
            JsonNode cas = new ObjectMapper().readTree(Cli.run(home, "ca", "list", "--json").out()).get("cas");
            assertThat(cas).isEqualTo(new ObjectMapper().readTree(ts.http.send(HttpRequest.newBuilder(URI.create(ts.base + "/api/v1/cas")).build(),
                    HttpResponse.BodyHandlers.ofString()).body())).as("ca list --json: the REST API's CAs");
            Cli.Result table = Cli.run(home, "cert", "list", "--expiring-within", "30d");
            assertThat(table.out()).contains("w-1").contains("w-2").contains("m-1").doesNotContain("y-1").doesNotContain("w-3")
                    .contains("3 certificates");
        }
    }
}
