package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The tests find Debian's daemons outside a normal user's PATH. */
class ProcTest {
    @Test
    void daemonsAreFoundInSbinWhenPathLacksIt() {
        assertThat(Proc.program("nginx", "/usr/bin:/bin")).isEqualTo("/usr/sbin/nginx");
        assertThat(Proc.program("mosquitto", "/usr/bin:/bin")).isEqualTo("/usr/sbin/mosquitto");
        assertThat(Proc.program("openssl", "/usr/bin:/bin")).isEqualTo("/usr/bin/openssl");
        assertThat(Proc.program("no-such-program-here", "/usr/bin")).isEqualTo("no-such-program-here");
    }
}
