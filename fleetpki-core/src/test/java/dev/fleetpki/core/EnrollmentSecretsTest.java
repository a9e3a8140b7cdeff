package dev.fleetpki.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fleetpki.kms.DefaultKeyManager;
import dev.fleetpki.kms.KeyStoreFailure;
import dev.fleetpki.kms.SecretSource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One-time secrets the CA can recompute (for CMP's MAC) from the key in its home, and only with it. */
class EnrollmentSecretsTest {
    @TempDir
    Path home;

    private EnrollmentSecrets secrets(String passphrase) throws Exception {
        Path pass = home.resolve("pass-" + passphrase);
        Files.writeString(pass, passphrase);
        return new EnrollmentSecrets(home, new DefaultKeyManager(home), new SecretSource.File(pass));
    }

    private static EnrollmentSecret stored(TokenSecrets.New t, String device) {
        return new EnrollmentSecret(t.id(), device, t.secretHash(), Instant.EPOCH, Actor.operator("t"), Instant.MAX, null, null);
    }

    @Test
    void aStoredSecretIsRecomputedFromItsIdAndDevice_byAnotherProcessWithTheKey() throws Exception {
        TokenSecrets.New made = secrets("right passphrase").create("dev-1");
        TokenSecrets.Presented p = TokenSecrets.parse(TokenSecrets.ENROLLMENT, made.text());
        assertNotNull(p, "the text has the fpe_ID_SECRET shape: " + made.text());
        assertTrue(TokenSecrets.matches(p, made.secretHash()), "only its hash is stored, and it is the hash of the secret");
        assertTrue(Files.exists(home.resolve(EnrollmentSecrets.KEY_FILE)), "the key was made on first use");
        EnrollmentSecrets reopened = secrets("right passphrase");
        assertEquals(made.text(), reopened.text(stored(made, "dev-1")), "the same key recomputes the text");
    }

    @Test
    void theSecretIsBoundToItsDeviceAndUnlikeAnyOther() throws Exception {
        EnrollmentSecrets s = secrets("right passphrase");
        TokenSecrets.New a = s.create("dev-1");
        TokenSecrets.New b = s.create("dev-1");
        assertNotEquals(a.id(), b.id());
        assertNotEquals(a.text().substring(21), b.text().substring(21), "another id, another secret");
        String forOther = s.text(stored(a, "dev-2"));
        assertFalse(TokenSecrets.matches(TokenSecrets.parse(TokenSecrets.ENROLLMENT, forOther), a.secretHash()),
                "the same id for another device recomputes another secret, which the stored hash refuses");
    }

    @Test
    void withoutThePassphraseNothingIsRecomputed() throws Exception {
        TokenSecrets.New made = secrets("right passphrase").create("dev-1");
        EnrollmentSecrets wrong = secrets("wrong passphrase");
        assertThrows(KeyStoreFailure.class, () -> wrong.text(stored(made, "dev-1")));
    }
}
