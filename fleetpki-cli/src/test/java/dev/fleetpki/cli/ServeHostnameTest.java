package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fleetpki.core.Actor;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.server.ServerIdentity;
import dev.fleetpki.server.Services;
import java.nio.file.Path;
import java.time.Clock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A server name its server-tls profile does not allow: refused, saying which names are and how to give one. */
class ServeHostnameTest {
    @TempDir Path dir;

    @Test
    void aHostnameOutsideTheServerProfileIsRefusedWithTheWayOut() throws Exception {
        Path home = TestHome.write(dir, "ecdsa-p256", null, null); // server-tls: dnsSuffixes [fleet.example]
        TestHome.init(home);
        try (Fleet f = Fleet.open(home, Clock.systemUTC())) {
            Services s = Services.of(f.config(), f.store(), f.cas(), f.pipeline(), f.clock());
            assertThatThrownBy(() -> ServerIdentity.ensure(s, "localhost", Actor.operator("test")))
                    .isInstanceOf(PkiException.class)
                    .hasMessageContaining("'localhost'")
                    .hasMessageContaining("--hostname")
                    .hasMessageContaining("fleet.example");
            assertThat(ServerIdentity.ensure(s, "pki.fleet.example", Actor.operator("test"))).isNotNull();
        }
    }
}
