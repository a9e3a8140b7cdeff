package dev.fleetpki.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Opening a store skips Flyway only when its schema is exactly this version's; anything older still migrates. */
class SchemaVersionTest {
    @TempDir Path dir;
    private String url;

    @AfterEach
    void drop() {
        if (url != null) {
            TestDatabases.drop(url);
        }
    }

    @Test
    void theSkipVersionIsTheNewestMigration() throws Exception {
        int newest;
        try (Stream<Path> files = Files.list(Path.of("src/main/resources/db/fleetpki"))) {
            newest = files.map(p -> p.getFileName().toString()).filter(n -> n.matches("V\\d+__.*\\.sql"))
                    .mapToInt(n -> Integer.parseInt(n.substring(1, n.indexOf("__")))).max().orElseThrow();
        }
        assertThat(Database.SCHEMA_VERSION).as("Database.SCHEMA_VERSION must name the newest migration").isEqualTo(String.valueOf(newest));
    }

    @ParameterizedTest
    @ValueSource(strings = {"sqlite", "postgresql"})
    void aStoreOneMigrationBehindIsMigratedACurrentOneIsOpenedAsItIs(String kind) throws Exception {
        url = TestDatabases.create(kind, dir);
        Database.open(url, null, null, dir).close();
        try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement()) {
            // as a store left by the previous version looks: nothing of V13, history ending at 12
            s.execute("DROP TABLE crl_number_floor");
            s.execute("DELETE FROM flyway_schema_history WHERE version = '" + Database.SCHEMA_VERSION + "'");
        }
        Database.open(url, null, null, dir).close();
        assertThat(floorTable(url)).as("re-migrated").isTrue();
        try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement()) {
            // Flyway would refuse this store (validateOnMigrate: checksum mismatch), so opening it proves Flyway was not run
            s.execute("UPDATE flyway_schema_history SET checksum = 1 WHERE version = '1'");
        }
        Database.open(url, null, null, dir).close();
    }

    private static boolean floorTable(String url) throws Exception {
        try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement()) {
            s.executeQuery("SELECT ca, floor FROM crl_number_floor").close();
            return true;
        } catch (java.sql.SQLException e) {
            return false;
        }
    }
}
