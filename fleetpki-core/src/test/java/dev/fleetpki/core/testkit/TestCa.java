package dev.fleetpki.core.testkit;

import dev.fleetpki.core.Actor;
import dev.fleetpki.core.Ceremony;
import dev.fleetpki.core.EnrollmentAuthorizer;
import dev.fleetpki.core.IssuancePipeline;
import dev.fleetpki.core.StoredCaDirectory;
import dev.fleetpki.core.config.ConfigLoader;
import dev.fleetpki.core.config.FleetConfig;
import dev.fleetpki.kms.DefaultKeyManager;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;

/**
 * A CA for tests of core, without a database or a server: a fleetpki.yaml in a folder (a P-256
 * root and one issuing CA, encrypted file keys), the ceremony run into an {@link InMemoryLedger},
 * and the pipeline and authorizer over them. Add profiles and enrollment rules as YAML:
 *
 * <pre>{@code
 * TestCa ca = TestCa.builder().profiles("device:\n  validity: 30d\n").build(tempDir);
 * }</pre>
 */
public final class TestCa {
    private final FleetConfig config;
    private final InMemoryLedger ledger;
    private final StoredCaDirectory cas;
    private final Clock clock;

    private TestCa(FleetConfig config, InMemoryLedger ledger, StoredCaDirectory cas, Clock clock) {
        this.config = config;
        this.ledger = ledger;
        this.cas = cas;
        this.clock = clock;
    }

    public static Builder builder() {
        return new Builder();
    }

    public FleetConfig config() {
        return config;
    }

    public InMemoryLedger ledger() {
        return ledger;
    }

    public StoredCaDirectory cas() {
        return cas;
    }

    public Clock clock() {
        return clock;
    }

    public IssuancePipeline pipeline() {
        return new IssuancePipeline(config, cas, ledger, clock);
    }

    public EnrollmentAuthorizer authorizer() {
        return new EnrollmentAuthorizer(config, ledger, clock);
    }

    public static final class Builder {
        private String profiles = "device:\n  validity: 365d\n";
        private String enrollment = "";
        private String issuingExtra = "";
        private Clock clock = Clock.systemUTC();

        /** The {@code profiles:} section (indented by the builder). Default: a device profile of 365 days. */
        public Builder profiles(String yaml) {
            this.profiles = yaml;
            return this;
        }

        /** The {@code enrollment:} section (indented by the builder). Default: none (the built-in rule). */
        public Builder enrollment(String yaml) {
            this.enrollment = yaml;
            return this;
        }

        /** More keys of the issuing CA's spec ({@code nameConstraints: ...}), indented by the builder. */
        public Builder issuing(String yaml) {
            this.issuingExtra = yaml;
            return this;
        }

        public Builder clock(Clock clock) {
            this.clock = clock;
            return this;
        }

        public TestCa build(Path dir) {
            try {
                Files.createDirectories(dir.resolve("secrets"));
                Files.writeString(dir.resolve("secrets/passphrase"), "test-passphrase-not-secret\n");
                String yaml = """
                        passphrase: file:secrets/passphrase
                        urls:
                          crl: http://ca.test/crl/{ca}.crl
                          ocsp: http://ca.test/ocsp
                        ceremony:
                          root:
                            name: root
                            subject: "CN=Test Root CA,O=fleetpki test"
                            algorithm: ecdsa-p256
                            key: file:keys/root.p8
                            validity: 20y
                          issuing:
                            - name: issuing
                              subject: "CN=Test Issuing CA,O=fleetpki test"
                              algorithm: ecdsa-p256
                              key: file:keys/issuing.p8
                              validity: 10y
                        """ + indent(issuingExtra, 6) + "profiles:\n" + indent(profiles, 2)
                        + (enrollment.isEmpty() ? "" : "enrollment:\n" + indent(enrollment, 2));
                Files.writeString(dir.resolve(ConfigLoader.FILE_NAME), yaml, StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            FleetConfig config = ConfigLoader.load(dir.resolve(ConfigLoader.FILE_NAME));
            InMemoryLedger ledger = new InMemoryLedger();
            DefaultKeyManager keys = new DefaultKeyManager(dir);
            new Ceremony(config, keys, ledger, clock, Actor.operator("test")).init(false);
            return new TestCa(config, ledger, new StoredCaDirectory(config, keys, ledger), clock);
        }

        private static String indent(String yaml, int spaces) {
            String pad = " ".repeat(spaces);
            return yaml.isEmpty() ? "" : yaml.lines().map(l -> pad + l).reduce("", (a, b) -> a + b + "\n");
        }
    }
}
