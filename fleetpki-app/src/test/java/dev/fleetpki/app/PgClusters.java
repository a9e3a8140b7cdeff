package dev.fleetpki.app;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fleetpki.cli.Proc;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Throw-away PostgreSQL clusters made with Debian's tools (pg_createcluster, pg_basebackup,
 * pg_ctlcluster): a primary and a streaming-replication hot standby on ports of their own, so a
 * test can stop the primary and promote the standby without touching the machine's main cluster.
 * Needs root (the clusters belong to the postgres user).
 */
final class PgClusters {
    static final String VERSION = "15";
    private static final String HBA = """
            local all all trust
            local replication all trust
            host all all 127.0.0.1/32 trust
            host replication all 127.0.0.1/32 trust
            """;

    private PgClusters() {}

    private static String run(String... cmd) {
        Proc.Result r = Proc.run(Path.of("/"), Map.of(), cmd);
        assertThat(r.exit()).as(String.join(" ", cmd) + "\n" + r.output()).isZero();
        return r.output();
    }

    private static Path data(String name) {
        return Path.of("/var/lib/postgresql", VERSION, name);
    }

    /** A new cluster listening on 127.0.0.1:port with trust authentication (replication too), started. */
    static void primary(String name, int port) throws Exception {
        drop(name);
        run("pg_createcluster", VERSION, name, "-p", String.valueOf(port), "--", "--auth=trust");
        Files.writeString(Path.of("/etc/postgresql", VERSION, name, "pg_hba.conf"), HBA);
        start(name);
    }

    /** A hot standby of the cluster on primaryPort, streaming from it, listening on port, started. */
    static void standby(String name, int port, int primaryPort) throws Exception {
        drop(name);
        run("pg_createcluster", VERSION, name, "-p", String.valueOf(port));
        Files.writeString(Path.of("/etc/postgresql", VERSION, name, "pg_hba.conf"), HBA);
        run("bash", "-c", "rm -rf " + data(name) + "/*");
        run("runuser", "-u", "postgres", "--", "pg_basebackup", "-h", "127.0.0.1", "-p", String.valueOf(primaryPort), "-U", "postgres",
                "-D", data(name).toString(), "-R", "-X", "stream", "-c", "fast"); // fast: checkpoint now, not spread over minutes
        start(name);
    }

    static void start(String name) {
        run("pg_ctlcluster", "--skip-systemctl-redirect", VERSION, name, "start");
    }

    /** Stops at once, as a crash would (no shutdown checkpoint). */
    static void crash(String name) {
        run("pg_ctlcluster", "--skip-systemctl-redirect", VERSION, name, "stop", "-m", "immediate");
    }

    static void promote(String name) {
        run("pg_ctlcluster", "--skip-systemctl-redirect", VERSION, name, "promote");
    }

    static void drop(String name) {
        Proc.run(Path.of("/"), Map.of(), "pg_dropcluster", "--stop", VERSION, name);
    }
}
