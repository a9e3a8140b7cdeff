package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code device list}: pages that say when there are more, filters, columns that fit, and the documented JSON shape. */
class DeviceListTest {
    @TempDir Path home;

    @Test
    void aPageSaysWhenThereAreMoreAndJsonHasTheDocumentedShape() throws Exception {
        TestHome.write(home, "ecdsa-p256", null, null);
        TestHome.init(home);
        for (String id : new String[] {"esp-01", "esp-02", "esp-03", "esp-04", "a-very-long-device-identifier-of-forty-chars"}) {
            assertThat(Cli.run(home, "device", "add", id, "--model", id.startsWith("esp") ? "esp32" : "stm32").exit()).isZero();
        }
        assertThat(Cli.run(home, "device", "disable", "esp-02").exit()).isZero();

        Cli.Result page = Cli.run(home, "device", "list", "--limit", "3");
        assertThat(page.exit()).as(page.all()).isZero();
        assertThat(page.out().lines().toList()).hasSize(5); // header, 3 rows, the line about more
        assertThat(page.out()).contains("the first 3 devices; more are registered: the next page is --after esp-02");
        assertThat(page.out().lines().skip(1).limit(3).map(l -> l.indexOf("active") >= 0 ? l.indexOf("active") : l.indexOf("disabled")).distinct())
                .as("the status column starts at the same place in every row, after the longest id").hasSize(1);
        Cli.Result rest = Cli.run(home, "device", "list", "--limit", "3", "--after", "esp-02");
        assertThat(rest.out()).contains("esp-03").contains("esp-04").contains("2 devices").doesNotContain("more are registered");

        JsonNode json = new ObjectMapper().readTree(Cli.run(home, "device", "list", "--json", "--model", "esp32", "--limit", "2").out());
        assertThat(json.get("devices")).hasSize(2);
        assertThat(json.get("devices").get(0).get("id").asText()).isEqualTo("esp-01");
        assertThat(json.get("devices").get(0).get("status").asText()).isEqualTo("active");
        assertThat(json.get("devices").get(1).get("status").asText()).isEqualTo("disabled");
        assertThat(json.get("devices").get(0).get("createdAt").asText()).matches("\\d{4}-\\d\\d-\\d\\dT.*Z");
        assertThat(json.get("more").asBoolean()).isTrue();
        assertThat(json.get("next").asText()).isEqualTo("esp-02");
        JsonNode disabled = new ObjectMapper().readTree(Cli.run(home, "device", "list", "--json", "--status", "disabled").out());
        assertThat(disabled.get("devices")).hasSize(1);
        assertThat(disabled.get("more").asBoolean()).isFalse();
        assertThat(disabled.get("next").isNull()).isTrue();

        assertThat(Cli.run(home, "device", "list", "--status", "sleeping").exit()).isEqualTo(65);
        assertThat(Cli.run(home, "device", "list", "--limit", "0").exit()).isEqualTo(65);
    }
}
