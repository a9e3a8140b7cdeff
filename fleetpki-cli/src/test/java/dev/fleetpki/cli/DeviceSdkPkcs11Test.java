package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fleetpki.device.DeviceIdentity;
import dev.fleetpki.device.EstClient;
import dev.fleetpki.kms.KeyAlgorithm;
import dev.fleetpki.kms.KeyRef;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A device whose key is made on a PKCS#11 token (SoftHSM2, standing in for a secure element) as
 * non-extractable: the token signs the CSR, enrollment and a rekeying renewal (the old token key
 * authenticating the TLS connection) work against a real server, and the token reports the keys
 * sensitive and never extractable. The device runs in a child JVM because SoftHSM reads
 * SOFTHSM2_CONF from the environment.
 */
class DeviceSdkPkcs11Test {
    static final String MODULE = TestHome.SOFTHSM_MODULE;

    @TempDir Path dir;

    @Test
    void theDeviceKeyIsMadeOnTheTokenNeverLeavesItAndEnrollsAndRenews() throws Exception {
        Path device = Files.createDirectories(dir.resolve("device"));
        Map<String, String> env = TestHome.softHsmToken(dir, "se");
        Files.writeString(device.resolve("pin.txt"), "1234\n");

        try (TestServer ts = TestServer.start(dir, null)) {
            Cli.Result added = Cli.run(ts.home, "device", "add", "se-1", "--enrollment-secret", "--key-location", "pkcs11:token=se;object=device");
            assertThat(added.exit()).as(added.all()).isZero();
            String[] lines = added.out().trim().split("\n");
            List<String> cmd = Proc.java(List.of("--add-exports=jdk.crypto.cryptoki/sun.security.pkcs11.wrapper=ALL-UNNAMED"), Child.class,
                    device.toString(), ts.base, ts.home.resolve("ca/root.pem").toString(), lines[lines.length - 1]);
            Proc.Result child = Proc.run(dir, env, cmd.toArray(new String[0]));
            assertThat(child.exit()).as(child.output()).isZero();
            assertThat(child.output()).contains("ENROLLED CN=se-1").contains("RENEWED new key").contains("KEY_BYTES none");

            // the rekey destroyed the old token object: one private key is left, the current one
            String current = child.output().lines().filter(l -> l.startsWith("RENEWED ")).findFirst().orElseThrow()
                    .replaceAll(".*object=([^;?]+).*", "$1");
            assertThat(current).startsWith("device-r");
            Proc.Result objects = Proc.run(dir, env, "pkcs11-tool", "--module", MODULE, "--token-label", "se", "--login", "--pin", "1234",
                    "--list-objects", "--type", "privkey");
            assertThat(objects.output().split("Private Key Object", -1)).as(objects.output()).hasSize(2);
            // SunPKCS11 keeps the alias in CKA_ID
            String id = HexFormat.of().formatHex(current.getBytes(StandardCharsets.US_ASCII));
            assertThat(objects.output()).contains("ID:         " + id).contains("never extractable").contains("always sensitive");
            // asked through the raw PKCS#11 API for the key's value, the token itself refuses (pkcs11-tool cannot even try)
            assertThat(child.output()).contains("RAW_VALUE 1 private key(s), value refused: CKR_ATTRIBUTE_SENSITIVE");
            assertThat(Files.readString(device.resolve("chain.pem"))).contains("BEGIN CERTIFICATE");
            try (var files = Files.list(device)) {
                assertThat(files.map(p -> p.getFileName().toString())).as("no key file on the device's disk").noneMatch(n -> n.endsWith(".p8"));
            }
        }
    }

    /** The device: runs with SOFTHSM2_CONF set. Args: device folder, server base URL, anchor, one-time secret. */
    public static final class Child {
        public static void main(String[] args) throws Exception {
            Path device = Path.of(args[0]);
            X509Certificate anchor = DeviceIdentity.certificate(Files.readAllBytes(Path.of(args[2])));
            KeyRef ref = KeyRef.parse("pkcs11:token=se;object=device?module-path=" + MODULE + "&pin-source=file:pin.txt");
            DeviceIdentity id = DeviceIdentity.create(device, "se-1", ref, KeyAlgorithm.EC_P256, null, anchor);
            EstClient est = new EstClient(URI.create(args[1] + "/.well-known/est"), anchor, Duration.ofSeconds(10));
            DeviceIdentity.Result first = id.enroll(est, args[3].toCharArray(), Clock.systemUTC());
            System.out.println("ENROLLED " + first.chain().getFirst().getSubjectX500Principal().getName());
            DeviceIdentity.Result renewed = id.renew(est, Clock.systemUTC(), true);
            boolean newKey = !renewed.chain().getFirst().getPublicKey().equals(first.chain().getFirst().getPublicKey());
            System.out.println("RENEWED " + (newKey ? "new key" : "same key") + " " + id.key().ref().uri());
            System.out.println("KEY_BYTES " + (id.key().handle().getEncoded() == null ? "none" : "READABLE"));
            System.out.println("RAW_VALUE " + rawValueProbe(device.resolve("pin.txt")));
        }

        /** C_GetAttributeValue(CKA_VALUE) on every private key stored on the token, straight through the PKCS#11 interface. */
        static String rawValueProbe(Path pinFile) throws Exception {
            var p11 = sun.security.pkcs11.wrapper.PKCS11.getInstance(MODULE, "C_GetFunctionList", null, false);
            long slot = -1;
            for (long s : p11.C_GetSlotList(true)) {
                if (new String(p11.C_GetTokenInfo(s).label).trim().equals("se")) {
                    slot = s;
                }
            }
            long session = p11.C_OpenSession(slot, sun.security.pkcs11.wrapper.PKCS11Constants.CKF_SERIAL_SESSION, null, null);
            try {
                p11.C_Login(session, sun.security.pkcs11.wrapper.PKCS11Constants.CKU_USER, Files.readString(pinFile).strip().toCharArray());
            } catch (sun.security.pkcs11.wrapper.PKCS11Exception alreadyLoggedIn) {
                // the SunPKCS11 provider of this JVM logged in to the token already
            }
            p11.C_FindObjectsInit(session, new sun.security.pkcs11.wrapper.CK_ATTRIBUTE[] {new sun.security.pkcs11.wrapper.CK_ATTRIBUTE(
                    sun.security.pkcs11.wrapper.PKCS11Constants.CKA_CLASS, sun.security.pkcs11.wrapper.PKCS11Constants.CKO_PRIVATE_KEY),
                new sun.security.pkcs11.wrapper.CK_ATTRIBUTE(sun.security.pkcs11.wrapper.PKCS11Constants.CKA_TOKEN, true)}); // not this JVM's session objects
            long[] keys = p11.C_FindObjects(session, 16);
            p11.C_FindObjectsFinal(session);
            List<String> outcomes = new ArrayList<>();
            for (long k : keys) {
                try {
                    var value = new sun.security.pkcs11.wrapper.CK_ATTRIBUTE(sun.security.pkcs11.wrapper.PKCS11Constants.CKA_VALUE);
                    p11.C_GetAttributeValue(session, k, new sun.security.pkcs11.wrapper.CK_ATTRIBUTE[] {value});
                    outcomes.add("READ " + (value.pValue == null ? 0 : ((byte[]) value.pValue).length) + " bytes");
                } catch (sun.security.pkcs11.wrapper.PKCS11Exception e) {
                    outcomes.add(e.getMessage());
                }
            }
            return keys.length + " private key(s), value refused: " + String.join(", ", outcomes);
        }
    }
}
