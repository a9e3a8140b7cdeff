package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fleetpki.kms.KeyAlgorithm;
import dev.fleetpki.kms.Pem;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code fleetpki ca rollover}: an issuing CA and a root replaced by successors with new keys, step
 * by step, checked with openssl: issuance moves to the successor only at the switch, a device that
 * trusts only the old root verifies the new hierarchy through the new-with-old cross certificate,
 * and the old certificates verify under the new root through old-with-new. A dry run changes
 * nothing, a run cut short after the key was made continues with that key, and a CA is not retired
 * while a certificate it signed is valid.
 */
class CaRolloverTest {
    @TempDir Path home;
    @TempDir Path offline;

    @Test
    void anIssuingCaIsPublishedBeforeIssuanceSwitchesToIt() throws Exception {
        TestHome.write(home, "ecdsa-p256", null, null);
        TestHome.init(home);
        Path before = sign("dev-1");
        assertThat(issuer(before)).contains("CN=Test Issuing CA,");

        Cli.Result dry = Cli.run(home, "ca", "rollover", "--name", "issuing", "--dry-run");
        assertThat(dry.exit()).as(dry.all()).isZero();
        assertThat(dry.out()).contains("Rollover of issuing CA 'issuing' to 'issuing-2' (CN=Test Issuing CA G2,O=fleetpki test)")
                .contains("would  key").contains("would  certified 'root' certifies 'issuing-2'").contains("later  switched")
                .contains("Dry run: nothing changed.");
        assertThat(home.resolve("keys/issuing-2.p8")).doesNotExist();
        assertThat(Cli.run(home, "ca", "list").out()).doesNotContain("issuing-2");

        Cli.Result published = Cli.run(home, "ca", "rollover", "--name", "issuing");
        assertThat(published.exit()).as(published.all()).isZero();
        assertThat(published.out()).contains("The rollover of 'issuing' is at step published.").contains("issuing-2.pem");
        assertThat(home.resolve("keys/issuing-2.p8")).exists();
        assertThat(Cli.run(home, "export", "trust-bundle").out()).contains("# issuing-2 (issuing): CN=Test Issuing CA G2");
        assertThat(issuer(sign("dev-2"))).as("published, not switched: the old CA still issues").contains("CN=Test Issuing CA,");

        Cli.Result switched = Cli.run(home, "ca", "rollover", "--name", "issuing", "--to", "switch");
        assertThat(switched.exit()).as(switched.all()).isZero();
        assertThat(switched.out()).contains("done   published").contains("switched  new certificates come from 'issuing-2'");
        Path after = sign("dev-3");
        assertThat(issuer(after)).contains("CN=Test Issuing CA G2");
        assertThat(Proc.ok(home, Proc.opensslVerify(home.resolve("ca/root.pem"), home.resolve("ca/issuing-2.pem"), after).toArray(String[]::new)))
                .contains(": OK");
        assertThat(Proc.ok(home, Proc.opensslVerify(home.resolve("ca/root.pem"), home.resolve("ca/issuing.pem"), before).toArray(String[]::new)))
                .as("the old CA's certificates stay valid").contains(": OK");
        // naming the old CA explicitly still gets the successor: the old key signs no new certificates
        Path explicit = sign("dev-4", "--ca", "issuing");
        assertThat(issuer(explicit)).contains("CN=Test Issuing CA G2");

        assertThat(Cli.run(home, "ca", "rollover", "--name", "issuing", "--to", "switched").out()).contains("Nothing to do up to step switched.");
        assertThat(Cli.run(home, "ca", "list").out()).containsPattern("issuing +-> issuing-2 +switched");
        Cli.Result retire = Cli.run(home, "ca", "rollover", "--name", "issuing", "--to", "retired");
        assertThat(retire.exit()).isEqualTo(65);
        assertThat(retire.err()).contains("'issuing' cannot be retired yet: a certificate it signed is valid until");
        assertThat(Cli.run(home, "export", "trust-bundle").out()).as("not retired: still trusted").contains("# issuing (issuing)");
        assertThat(Cli.run(home, "audit", "list").out()).contains("ca.rollover");
        assertThat(Cli.run(home, "audit", "verify").exit()).isZero();
    }

    /**
     * Under an offline root, the server makes the successor's key and request; the root's machine
     * signs it as a successor; the server takes the certificate (refusing one for another key) and
     * switches to it.
     */
    @Test
    void anIssuingCaUnderAnOfflineRootIsCertifiedThroughARequest() throws Exception {
        offlineRootWithIssuingCa();
        Path before = sign("off-1");

        Cli.Result key = Cli.run(home, "ca", "rollover", "--name", "issuing", "--to", "switched");
        assertThat(key.exit()).as(key.all()).isZero();
        assertThat(key.out()).contains("The parent's key is offline: wrote the request for 'issuing-2'")
                .contains("fleetpki ca sign --name issuing --successor --csr issuing-2.csr");
        Path request = home.resolve("ca/issuing-2.csr");
        assertThat(Proc.ok(home, "openssl", "req", "-in", request.toString(), "-noout", "-verify", "-subject"))
                .contains("CN = Test Issuing CA G2");
        // run again before the root signed: the same request, no second key
        byte[] keyFile = Files.readAllBytes(home.resolve("keys/issuing-2.p8"));
        assertThat(Cli.run(home, "ca", "rollover", "--name", "issuing").out()).contains("wrote the request for 'issuing-2'");
        assertThat(Files.readAllBytes(home.resolve("keys/issuing-2.p8"))).isEqualTo(keyFile);

        // the root's machine: a successor request must have a subject of its own
        assertThat(Cli.run(offline, "ca", "sign", "--name", "issuing", "--successor", "--csr", home.resolve("ca/issuing.csr").toString(),
                "--out", offline.resolve("x.pem").toString()).err()).contains("a successor has a subject of its own");
        Cli.Result signed = Cli.run(offline, "ca", "sign", "--name", "issuing", "--successor", "--csr", request.toString(), "--out",
                offline.resolve("issuing-2.pem").toString());
        assertThat(signed.exit()).as(signed.all()).isZero();
        assertThat(signed.out()).contains("fleetpki ca rollover --name issuing --signed issuing-2.pem");

        // a certificate for another key is refused; the right one is taken and issuance switches
        Cli.Result wrong = Cli.run(home, "ca", "rollover", "--name", "issuing", "--signed", offline.resolve("issuing.pem").toString());
        assertThat(wrong.exit()).isEqualTo(65);
        assertThat(wrong.err()).contains("certifies another key than the one made for 'issuing-2'").contains("its subject is");
        assertThat(Cli.run(home, "ca", "list").out()).containsPattern("issuing +-> issuing-2 +key").doesNotContainPattern("(?m)^  issuing-2 ");
        Cli.Result done = Cli.run(home, "ca", "rollover", "--name", "issuing", "--to", "switched", "--signed", offline.resolve("issuing-2.pem").toString());
        assertThat(done.exit()).as(done.all()).isZero();
        assertThat(done.out()).contains("The rollover of 'issuing' is at step switched.");
        Path after = sign("off-2");
        assertThat(issuer(after)).contains("CN=Test Issuing CA G2");
        assertThat(Proc.ok(home, Proc.opensslVerify(offline.resolve("ca/root.pem"), home.resolve("ca/issuing-2.pem"), after).toArray(String[]::new)))
                .contains(": OK");
        assertThat(Proc.ok(home, Proc.opensslVerify(offline.resolve("ca/root.pem"), home.resolve("ca/issuing.pem"), before).toArray(String[]::new)))
                .contains(": OK");
        assertThat(home.resolve("keys/root.p8")).as("the root key never reaches the server").doesNotExist();
    }

    @Test
    void aNewRootIsCrossSignedBothWaysAndTheOldTrustReachesTheNewHierarchy() throws Exception {
        TestHome.write(home, "ecdsa-p256", null, null);
        TestHome.init(home);
        Path old = sign("dev-1");
        Cli.Result root = Cli.run(home, "ca", "rollover", "--name", "root", "--to", "switched");
        assertThat(root.exit()).as(root.all()).isZero();
        assertThat(root.out()).contains("root-2-by-root.pem").contains("root-by-root-2.pem");
        assertThat(Proc.ok(home, "openssl", "x509", "-in", "ca/root-2.pem", "-noout", "-subject", "-issuer"))
                .contains("subject=O = fleetpki test, CN = Test Root CA G2").contains("issuer=O = fleetpki test, CN = Test Root CA G2");
        assertThat(Proc.ok(home, "openssl", "x509", "-in", "ca/root-2-by-root.pem", "-noout", "-ext", "basicConstraints"))
                .as("a cross certificate has a hierarchy below it: no path length limit").contains("CA:TRUE").doesNotContain("pathlen");

        Cli.Result issuing = Cli.run(home, "ca", "rollover", "--name", "issuing", "--to", "switched");
        assertThat(issuing.exit()).as(issuing.all()).isZero();
        assertThat(issuing.out()).contains("'root-2' certifies 'issuing-2' (CN=Test Issuing CA G2,O=fleetpki test), in place of 'root'");
        Path fresh = sign("dev-2");
        // a device that trusts only the old root: the new chain plus new-with-old
        Files.writeString(home.resolve("untrusted-new.pem"), Files.readString(home.resolve("ca/issuing-2.pem"))
                + Files.readString(home.resolve("ca/root-2-by-root.pem")));
        assertThat(Proc.ok(home, "openssl", "verify", "-CAfile", "ca/root.pem", "-untrusted", "untrusted-new.pem", fresh.toString()))
                .contains(": OK");
        assertThat(Proc.run(home, java.util.Map.of(), "openssl", "verify", "-CAfile", "ca/root.pem", "-untrusted", "ca/issuing-2.pem",
                fresh.toString()).exit()).as("without the cross certificate the old root does not reach it").isNotZero();
        // a relying party that trusts only the new root: the old chain plus old-with-new
        Files.writeString(home.resolve("untrusted-old.pem"), Files.readString(home.resolve("ca/issuing.pem"))
                + Files.readString(home.resolve("ca/root-by-root-2.pem")));
        assertThat(Proc.ok(home, "openssl", "verify", "-CAfile", "ca/root-2.pem", "-untrusted", "untrusted-old.pem", old.toString()))
                .contains(": OK");
        assertThat(Proc.ok(home, "openssl", "verify", "-CAfile", "ca/root-2.pem", "-untrusted", "ca/issuing-2.pem", fresh.toString()))
                .contains(": OK");
        // the old root is needed until the last CA it certified ends (the cross certificate to its successor does not count)
        Cli.Result retire = Cli.run(home, "ca", "rollover", "--name", "root", "--to", "retired");
        assertThat(retire.exit()).isEqualTo(65);
        X509Certificate issuingCa = (X509Certificate) CertificateFactory.getInstance("X.509")
                .generateCertificate(new ByteArrayInputStream(Files.readAllBytes(home.resolve("ca/issuing.pem"))));
        assertThat(retire.err()).contains("valid until " + issuingCa.getNotAfter().toInstant());
        String bundle = Cli.run(home, "export", "trust-bundle", "--root-only").out();
        assertThat(bundle).contains("# root (root)").contains("# root-2 (root)");
    }

    @TempDir Path otherRoot;

    /**
     * An offline root is rolled over on its own machine; the server, which holds only the root's
     * certificate, refuses to make a root key itself and takes the new root with both cross
     * certificates from the bundle the root's machine wrote, after checking every signature (a
     * bundle from another root is refused); the issuing CA then moves under the new root through a
     * request signed there, and a device that trusts only the old root verifies the new chain.
     */
    @Test
    void anOfflineRootIsRolledOverOnItsMachineAndTakenByTheServerFromItsBundle() throws Exception {
        offlineRootWithIssuingCa();

        // the server has no root key: it makes none and says where the rollover happens
        Cli.Result here = Cli.run(home, "ca", "rollover", "--name", "root");
        assertThat(here.exit()).as(here.all()).isEqualTo(78);
        assertThat(here.err()).contains("the key of root 'root' is not on this machine").contains("--signed");
        assertThat(home.resolve("keys/root-2.p8")).doesNotExist();
        assertThat(Cli.run(home, "ca", "list").out()).doesNotContain("Rollovers:");

        // the root's machine rolls it over and writes the bundle for the server
        Cli.Result there = Cli.run(offline, "ca", "rollover", "--name", "root", "--to", "switched");
        assertThat(there.exit()).as(there.all()).isZero();
        Path bundle = offline.resolve("ca/root-2-rollover.pem");
        assertThat(there.out()).contains("root-2-rollover.pem").contains("fleetpki ca rollover --name root --signed root-2-rollover.pem");
        assertThat(Files.readString(bundle).split("BEGIN CERTIFICATE", -1)).hasSize(4);

        // a bundle from another root (same names, other keys) and one without the cross certificates: refused, nothing recorded
        TestHome.write(otherRoot, "ecdsa-p256", null, null);
        assertThat(Cli.run(otherRoot, "init", "--root-only").exit()).isZero();
        assertThat(Cli.run(otherRoot, "ca", "rollover", "--name", "root", "--to", "certified").exit()).isZero();
        Cli.Result stranger = Cli.run(home, "ca", "rollover", "--name", "root", "--signed", otherRoot.resolve("ca/root-2-rollover.pem").toString());
        assertThat(stranger.exit()).as(stranger.all()).isEqualTo(65);
        assertThat(stranger.err()).contains("is not signed by 'root'");
        Cli.Result alone = Cli.run(home, "ca", "rollover", "--name", "root", "--signed", offline.resolve("ca/root-2.pem").toString());
        assertThat(alone.exit()).isEqualTo(65);
        assertThat(alone.err()).contains("the new root and both cross certificates");
        assertThat(Cli.run(home, "ca", "list").out()).doesNotContain("root-2");

        Cli.Result taken = Cli.run(home, "ca", "rollover", "--name", "root", "--to", "switched", "--signed", bundle.toString());
        assertThat(taken.exit()).as(taken.all()).isZero();
        assertThat(taken.out()).contains("The rollover of 'root' is at step switched.");
        assertThat(Files.readString(home.resolve("ca/root-2-by-root.pem"))).isEqualTo(Files.readString(offline.resolve("ca/root-2-by-root.pem")));
        assertThat(Cli.run(home, "export", "trust-bundle", "--root-only").out()).contains("# root-2 (root)");
        var listed = new com.fasterxml.jackson.databind.ObjectMapper().readTree(Cli.run(home, "ca", "list", "--json").out());
        assertThat(listed.get("rollovers").get(0).get("old").asText()).isEqualTo("root");
        assertThat(listed.get("rollovers").get(0).get("new").asText()).isEqualTo("root-2");
        assertThat(listed.get("rollovers").get(0).get("step").asText()).isEqualTo("switched");
        assertThat(listed.get("cas").findValuesAsText("name")).contains("root", "root-2", "issuing");

        // the issuing CA moves under the new root: its request is signed by the new root on the root's machine
        Path before = sign("r-1");
        Cli.Result key = Cli.run(home, "ca", "rollover", "--name", "issuing", "--to", "switched");
        assertThat(key.out()).as(key.all()).contains("wrote the request for 'issuing-2'");
        Cli.Result signed = Cli.run(offline, "ca", "sign", "--name", "issuing", "--successor", "--csr", home.resolve("ca/issuing-2.csr").toString(),
                "--out", offline.resolve("issuing-2.pem").toString());
        assertThat(signed.exit()).as(signed.all()).isZero();
        assertThat(Proc.ok(offline, "openssl", "x509", "-in", "issuing-2.pem", "-noout", "-issuer", "-subject")).contains("Test Root CA G2")
                .as("the successor's name in the order of its predecessor's").contains("subject=O = fleetpki test, CN = Test Issuing CA G2");
        Cli.Result moved = Cli.run(home, "ca", "rollover", "--name", "issuing", "--to", "switched", "--signed", offline.resolve("issuing-2.pem").toString());
        assertThat(moved.exit()).as(moved.all()).isZero();
        Path after = sign("r-2");
        Files.writeString(home.resolve("untrusted-new.pem"), Files.readString(home.resolve("ca/issuing-2.pem"))
                + Files.readString(home.resolve("ca/root-2-by-root.pem")));
        assertThat(Proc.ok(home, "openssl", "verify", "-CAfile", offline.resolve("ca/root.pem").toString(), "-untrusted", "untrusted-new.pem",
                after.toString())).as("a device that trusts only the old root").contains(": OK");
        assertThat(Proc.ok(home, "openssl", "verify", "-CAfile", offline.resolve("ca/root-2.pem").toString(), "-untrusted", "ca/issuing-2.pem",
                after.toString())).contains(": OK");
        assertThat(Proc.ok(home, Proc.opensslVerify(offline.resolve("ca/root.pem"), home.resolve("ca/issuing.pem"), before).toArray(String[]::new)))
                .contains(": OK");
        try (var keys = Files.list(home.resolve("keys"))) {
            assertThat(keys.map(k -> k.getFileName().toString())).as("no root key ever on the server").noneMatch(n -> n.startsWith("root"));
        }
    }

    @Test
    void aRunCutShortAfterTheKeyWasMadeContinuesWithThatKey() throws Exception {
        TestHome.write(home, "ecdsa-p256", null, null);
        TestHome.init(home);
        List<String> cmd = Proc.java(List.of("-Dfleetpki.failpoint=rollover.key-created"), Main.class,
                "ca", "rollover", "--name", "issuing", "--home", home.toString());
        Proc.Result cut = Proc.run(home, java.util.Map.of(), cmd.toArray(String[]::new));
        assertThat(cut.exit()).as(cut.output()).isEqualTo(137);
        assertThat(home.resolve("keys/issuing-2.p8")).as("made, not recorded").exists();
        assertThat(Cli.run(home, "ca", "list").out()).doesNotContain("issuing-2");
        byte[] keyFile = Files.readAllBytes(home.resolve("keys/issuing-2.p8"));

        Cli.Result again = Cli.run(home, "ca", "rollover", "--name", "issuing");
        assertThat(again.exit()).as(again.all()).isZero();
        assertThat(Files.readAllBytes(home.resolve("keys/issuing-2.p8"))).as("the key made before, not a second one").isEqualTo(keyFile);
        assertThat(Cli.run(home, "ca", "rollover", "--name", "issuing", "--to", "switched").exit()).isZero();
        Path leaf = sign("dev-1");
        assertThat(Proc.ok(home, Proc.opensslVerify(home.resolve("ca/root.pem"), home.resolve("ca/issuing-2.pem"), leaf).toArray(String[]::new)))
                .contains(": OK");
    }

    @Test
    void badRequestsAreRefusedAndChangeNothing() throws Exception {
        TestHome.write(home, "ecdsa-p256", null, null);
        TestHome.init(home);
        Cli.Result nothing = Cli.run(home, "ca", "rollover", "--name", "nope");
        assertThat(nothing.exit()).isEqualTo(66);
        assertThat(nothing.err()).contains("no CA named 'nope'");
        Cli.Result taken = Cli.run(home, "ca", "rollover", "--name", "issuing", "--new-name", "root");
        assertThat(taken.exit()).isEqualTo(65);
        assertThat(taken.err()).contains("a CA named 'root' exists already");
        Cli.Result step = Cli.run(home, "ca", "rollover", "--name", "issuing", "--to", "sideways");
        assertThat(step.err()).contains("no rollover step 'sideways'");
        assertThat(step.exit()).isNotZero();
        assertThat(Cli.run(home, "ca", "rollover", "--name", "issuing", "--to", "certified", "--new-name", "issuing-b").exit()).isZero();
        Cli.Result early = Cli.run(home, "ca", "rollover", "--name", "issuing-b");
        assertThat(early.exit()).isEqualTo(65);
        assertThat(early.err()).contains("'issuing-b' is the successor of 'issuing', whose rollover is at step certified");
        assertThat(Cli.run(home, "export", "trust-bundle").out()).as("certified, not published").doesNotContain("issuing-b");
        assertThat(home.resolve("keys/issuing-2.p8")).doesNotExist();
    }

    /** The root on its own machine ({@code offline}), the server ({@code home}) with an issuing CA the root certified from its request. */
    private void offlineRootWithIssuingCa() throws Exception {
        TestHome.write(offline, "ecdsa-p256", null, null);
        TestHome.write(home, "ecdsa-p256", null, null);
        assertThat(Cli.run(offline, "init", "--root-only").exit()).isZero();
        assertThat(Cli.run(home, "ca", "csr", "--name", "issuing").exit()).isZero();
        assertThat(Cli.run(offline, "ca", "sign", "--name", "issuing", "--csr", home.resolve("ca/issuing.csr").toString(), "--out",
                offline.resolve("issuing.pem").toString()).exit()).isZero();
        assertThat(Cli.run(home, "ca", "import", "--name", "issuing", "--cert", offline.resolve("issuing.pem").toString(), "--root",
                offline.resolve("ca/root.pem").toString()).exit()).isZero();
    }

    private Path sign(String device, String... extra) throws Exception {
        Cli.Result added = Cli.run(home, "device", "add", device, "--model", "sensor");
        assertThat(added.exit()).as(added.all()).isZero();
        Path csr = home.resolve(device + ".csr");
        var kp = KeyAlgorithm.EC_P256.generate();
        var req = new org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder(
                new org.bouncycastle.asn1.x500.X500Name("CN=" + device), kp.getPublic())
                .build(new org.bouncycastle.operator.jcajce.JcaContentSignerBuilder("SHA256withECDSA").build(kp.getPrivate()));
        Files.writeString(csr, Pem.encode("CERTIFICATE REQUEST", req.getEncoded()));
        Path out = home.resolve(device + ".pem");
        List<String> args = new java.util.ArrayList<>(List.of("sign", "--csr", csr.toString(), "--device", device, "--out", out.toString()));
        args.addAll(List.of(extra));
        Cli.Result r = Cli.run(home, args.toArray(String[]::new));
        assertThat(r.exit()).as(r.all()).isZero();
        return out;
    }

    private static String issuer(Path pem) throws Exception {
        X509Certificate c = (X509Certificate) CertificateFactory.getInstance("X.509")
                .generateCertificate(new ByteArrayInputStream(Files.readAllBytes(pem)));
        return c.getIssuerX500Principal().getName() + ",";
    }
}
