package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fleetpki.core.StationJournal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Offline factory stations (docs/factory.md): the root certifies a station CA (name-constrained to
 * one model, with a quota); the air-gapped station issues a batch with it through the pipeline,
 * keeping its append-only journal; {@code factory sync} brings the records into the central
 * store once, and refuses a rewritten journal, a changed export, a CA of another root and a
 * revoked station CA; conflicts are reported, not taken.
 */
class OfflineStationTest {
    @TempDir Path dir;

    @Test
    void aStationIssuesOfflineWithinItsCertificateAndSyncsOnce() throws Exception {
        Path central = TestHome.write(dir.resolve("central"), "ecdsa-p256", null, null);
        TestHome.init(central);
        Path station = TestHome.write(dir.resolve("station"), "ecdsa-p256", null, null);
        Files.writeString(station.resolve("fleetpki.yaml"), Files.readString(station.resolve("fleetpki.yaml"))
                .replace("name: issuing", "name: line-3-ca").replace("CN=Test Issuing CA", "CN=Line 3 Station CA"));
        Cli.Result csr = Cli.run(station, "ca", "csr", "--name", "line-3-ca");
        assertThat(csr.exit()).as(csr.all()).isZero();
        Path request = station.resolve("ca/line-3-ca.csr");

        // the root certifies it: one model, a quota, name constraints every verifier applies
        assertThat(Cli.run(central, "station", "certify", "line-3", "--csr", request.toString(), "--fleet", "*", "--quota", "3").err())
                .contains("one device model");
        assertThat(Cli.run(central, "station", "certify", "line-3", "--csr", request.toString(), "--fleet", "esp32", "--quota", "0").err())
                .contains("--quota must be 1 to");
        Path caPem = dir.resolve("line-3-ca.pem");
        Cli.Result cert = Cli.run(central, "station", "certify", "line-3", "--csr", request.toString(), "--fleet", "esp32", "--quota", "3",
                "--issue-for", "10d", "--out", caPem.toString());
        assertThat(cert.exit()).as(cert.all()).isZero();
        assertThat(cert.out()).contains("for model esp32, at most 3 certificates");
        String text = Proc.ok(dir, "openssl", "x509", "-in", caPem.toString(), "-noout", "-text");
        assertThat(text).contains("CA:TRUE, pathlen:0").contains("X509v3 Name Constraints: critical").contains("DirName:OU = esp32");
        assertThat(Proc.ok(dir, "openssl", "verify", "-CAfile", central.resolve("ca/root.pem").toString(), caPem.toString())).contains(": OK");

        // the station takes it in and issues while air-gapped
        Cli.Result imp = Cli.run(station, "ca", "import", "--name", "line-3-ca", "--cert", caPem.toString(), "--root",
                central.resolve("ca/root.pem").toString());
        assertThat(imp.exit()).as(imp.all()).isZero();
        // bound to every model here, so the refusal of the camera below is the station CA's own rule
        assertThat(Cli.run(station, "station", "add", "line-3", "--fleet", "*").exit()).isZero();
        Path in = Files.createDirectories(dir.resolve("in"));
        for (String id : List.of("a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8")) {
            Proc.ok(in, "openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", id + ".key", "-out",
                    id + ".csr", "-subj", "/CN=" + id);
        }
        Files.writeString(in.resolve("one.csv"), "id,model,csr\na1,esp32,a1.csr\na2,esp32,a2.csr\ncam1,camera,a1.csr\n");
        Path out = dir.resolve("out");
        Cli.Result run = Cli.run(station, "factory", "run", "--station", "line-3", "--input", in.resolve("one.csv").toString(), "--out", out.toString());
        assertThat(run.exit()).as(run.all()).isEqualTo(65);
        assertThat(run.out()).as(run.all()).contains("issued 2");
        assertThat(run.err()).contains("cam1").contains("signs devices of model 'esp32' only");
        assertThat(Proc.ok(out, "openssl", "verify", "-CAfile", central.resolve("ca/root.pem").toString(), "-untrusted", caPem.toString(),
                "a1/chain.pem")).contains(": OK");
        assertThat(Proc.ok(out, "openssl", "x509", "-in", "a1/cert.der", "-inform", "DER", "-noout", "-subject")).contains("OU = esp32, CN = a1");
        // the quota: 3 in all, counted from what the store holds, and not overrun by devices issued at once
        Files.writeString(in.resolve("two.csv"), "id,model,csr\na3,esp32,a3.csr\na4,esp32,a4.csr\na5,esp32,a5.csr\na6,esp32,a6.csr\n"
                + "a7,esp32,a7.csr\na8,esp32,a8.csr\n");
        Cli.Result second = Cli.run(station, "factory", "run", "--station", "line-3", "--input", in.resolve("two.csv").toString(), "--out",
                out.toString(), "--threads", "6");
        assertThat(second.exit()).as(second.all()).isEqualTo(65);
        assertThat(second.out()).contains("issued 1,").contains("refused 5");
        assertThat(second.err()).contains("has used its quota of 3 certificates");
        Path journal = station.resolve("journal/line-3-ca.jsonl");
        assertThat(Files.readAllLines(journal)).hasSize(3);

        Path export = dir.resolve("line-3.export");
        Cli.Result ex = Cli.run(station, "factory", "export", "--station", "line-3", "--out", export.toString());
        assertThat(ex.exit()).as(ex.all()).isZero();
        assertThat(ex.out()).contains("(3 certificates");
        // a standard CMS SignedData: openssl checks its signature up to the root
        assertThat(Proc.ok(dir, "openssl", "cms", "-verify", "-inform", "DER", "-in", export.toString(), "-CAfile",
                central.resolve("ca/root.pem").toString(), "-purpose", "any", "-out", dir.resolve("content.json").toString())).contains("Verification successful");
        assertThat(Files.readString(dir.resolve("content.json"))).contains(StationJournal.FORMAT);

        // a device registered centrally as another model: a conflict, reported and not taken (the third certificate's device:
        // whichever of the second batch got the last of the quota)
        List<String> lastOfQuota = java.util.stream.Stream.of("a3", "a4", "a5", "a6", "a7", "a8").filter(id -> Files.isDirectory(out.resolve(id))).toList();
        assertThat(lastOfQuota).hasSize(1);
        String third = lastOfQuota.getFirst();
        assertThat(Cli.run(central, "device", "add", third, "--model", "camera").exit()).isZero();
        Cli.Result sync = Cli.run(central, "factory", "sync", export.toString());
        assertThat(sync.exit()).as(sync.all()).isEqualTo(65);
        assertThat(sync.out()).contains("journal of 3 entries, 0 synced before; taken 2, already here 0, conflicts 1");
        assertThat(sync.err()).contains("entry 3 (device " + third).contains("is model 'camera' here, 'esp32' on the station");
        assertThat(Cli.run(central, "device", "show", "a1").out()).contains("esp32");
        assertThat(Cli.run(central, "audit", "list").out()).contains("factory-sync").contains("factory.sync");
        assertThat(Cli.run(central, "ca", "list").out()).contains("line-3-ca").contains("station");
        // again: nothing twice
        Cli.Result again = Cli.run(central, "factory", "sync", export.toString());
        assertThat(again.exit()).as(again.all()).isZero();
        assertThat(again.out()).contains("3 synced before; taken 0, already here 0, conflicts 0");

        // a changed export: its signature no longer verifies
        byte[] bytes = Files.readAllBytes(export);
        String content = new String(bytes, java.nio.charset.StandardCharsets.ISO_8859_1);
        int at = content.indexOf("\"device\":\"a1\"");
        assertThat(at).isPositive();
        bytes[at + 11] = 'b';
        Path changed = dir.resolve("changed.export");
        Files.write(changed, bytes);
        Cli.Result bad = Cli.run(central, "factory", "sync", changed.toString());
        assertThat(bad.exit()).isEqualTo(65);
        assertThat(bad.err()).contains("signature does not verify");

        // a journal rewritten on the station (re-hashed in another order, as the journal file allows): refused, nothing taken
        List<StationJournal.Entry> entries = StationJournal.read(journal);
        List<StationJournal.Entry> reordered = new ArrayList<>(List.of(entries.get(1), entries.get(0), entries.get(2)));
        Files.delete(journal);
        StationJournal.append(journal, List.of(), reordered);
        Path rewritten = dir.resolve("rewritten.export");
        assertThat(Cli.run(station, "factory", "export", "--station", "line-3", "--out", rewritten.toString()).exit()).isZero();
        Cli.Result re = Cli.run(central, "factory", "sync", rewritten.toString());
        assertThat(re.exit()).isEqualTo(65);
        assertThat(re.err()).contains("entry 3 of the journal differs from the one synced before");
        // an edit of the journal file without re-hashing: the station itself refuses to export it
        Files.writeString(journal, Files.readString(journal).replace("\"device\":\"a2\"", "\"device\":\"zz\""));
        Cli.Result edited = Cli.run(station, "factory", "export", "--station", "line-3", "--out", dir.resolve("edited.export").toString());
        assertThat(edited.exit()).isNotZero();
        assertThat(edited.err()).contains("does not follow the one before it");

        // another fleet's root: not taken
        Path other = TestHome.write(dir.resolve("other"), "ecdsa-p256", null, null);
        TestHome.init(other);
        Cli.Result foreign = Cli.run(other, "factory", "sync", export.toString());
        assertThat(foreign.exit()).isEqualTo(77);
        assertThat(foreign.err()).contains("was not certified by a root of this store");
        // the station CA revoked centrally: nothing more of its journal is taken
        java.security.cert.X509Certificate ca = Certs.readCertificate(caPem);
        assertThat(Cli.run(central, "revoke", ca.getSerialNumber().toString(16), "--reason", "ca-compromise", "--no-publish").exit()).isZero();
        Cli.Result revoked = Cli.run(central, "factory", "sync", export.toString());
        assertThat(revoked.exit()).isEqualTo(77);
        assertThat(revoked.err()).contains("is revoked here");
    }

    /** After the sync, a device renews over EST with its station certificate, from the central issuing CA; once revoked here it cannot. */
    @Test
    void aSyncedDeviceRenewsOnlineUntilRevoked() throws Exception {
        try (TestServer ts = TestServer.start(dir, null)) {
            Path station = TestHome.write(dir.resolve("station"), "ecdsa-p256", null, null);
            Files.writeString(station.resolve("fleetpki.yaml"), Files.readString(station.resolve("fleetpki.yaml"))
                    .replace("name: issuing", "name: line-9-ca").replace("CN=Test Issuing CA", "CN=Line 9 Station CA"));
            assertThat(Cli.run(station, "ca", "csr", "--name", "line-9-ca").exit()).isZero();
            Path caPem = dir.resolve("line-9-ca.pem");
            assertThat(Cli.run(ts.home, "station", "certify", "line-9", "--csr", station.resolve("ca/line-9-ca.csr").toString(), "--fleet", "sensor",
                    "--quota", "10", "--out", caPem.toString()).exit()).isZero();
            assertThat(Cli.run(station, "ca", "import", "--name", "line-9-ca", "--cert", caPem.toString(), "--root",
                    ts.home.resolve("ca/root.pem").toString()).exit()).isZero();
            assertThat(Cli.run(station, "station", "add", "line-9", "--fleet", "sensor").exit()).isZero();
            Proc.ok(dir, "openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "s9.key", "-out",
                    "s9.csr", "-subj", "/CN=s9");
            Files.writeString(dir.resolve("b.csv"), "id,model,csr\ns9,sensor,s9.csr\n");
            Cli.Result run = Cli.run(station, "factory", "run", "--station", "line-9", "--input", dir.resolve("b.csv").toString(), "--out",
                    dir.resolve("out").toString());
            assertThat(run.exit()).as(run.all()).isZero();
            Path export = dir.resolve("line-9.export");
            assertThat(Cli.run(station, "factory", "export", "--station", "line-9", "--out", export.toString()).exit()).isZero();
            Path chain = dir.resolve("out/s9/chain.pem");
            String auth = "--cert " + chain + " --key " + dir.resolve("s9.key");
            EstCurl curl = EstCurl.of(ts, dir);
            // not synced yet: the central CA does not know the certificate
            assertThat(curl.est("/simplereenroll", curl.csr("s9a", "s9"), auth).status()).isEqualTo(401);
            Cli.Result sync = Cli.run(ts.home, "factory", "sync", export.toString());
            assertThat(sync.exit()).as(sync.all()).isZero();
            EstCurl.Http renewed = curl.est("/simplereenroll", curl.csr("s9n", "s9"), auth);
            assertThat(renewed.status()).as(renewed.body()).isEqualTo(200);
            assertThat(curl.certificate(renewed, "s9n.pem")).contains("CN = s9").contains("Issuer: O = fleetpki test, CN = Test Issuing CA").contains("Subject: OU = sensor, CN = s9");
            // revoked here: it renews no more
            String serial = Proc.ok(dir, "openssl", "x509", "-in", chain.toString(), "-noout", "-serial").trim().substring(7)
                    .toLowerCase(java.util.Locale.ROOT);
            assertThat(Cli.run(ts.home, "revoke", serial).exit()).isZero();
            EstCurl.Http refused = curl.est("/simplereenroll", curl.csr("s9r", "s9"), auth);
            assertThat(refused.status()).isEqualTo(401);
            assertThat(refused.body()).contains("revoked");
        }
    }

    /**
     * A station CA key used outside fleetpki (a compromised or patched station): what it signed past
     * its certificate's rules is reported by the sync and not taken.
     */
    @Test
    void whatAStationCaSignedPastItsRulesIsNotTaken() throws Exception {
        Path central = TestHome.write(dir.resolve("central"), "ecdsa-p256", null, null);
        TestHome.init(central);
        java.security.KeyPair caKey = dev.fleetpki.kms.KeyAlgorithm.EC_P256.generate();
        var csr = new org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder(new org.bouncycastle.asn1.x500.X500Name(
                "CN=Rogue Line CA,O=fleetpki test"), caKey.getPublic()).build(new org.bouncycastle.operator.jcajce.JcaContentSignerBuilder(
                "SHA256withECDSA").build(caKey.getPrivate()));
        Path csrFile = dir.resolve("rogue.csr");
        Files.write(csrFile, csr.getEncoded());
        Path caPem = dir.resolve("rogue.pem");
        Cli.Result cert = Cli.run(central, "station", "certify", "rogue", "--csr", csrFile.toString(), "--fleet", "esp32", "--quota", "4",
                "--issue-for", "1d", "--out", caPem.toString());
        assertThat(cert.exit()).as(cert.all()).isZero();
        java.security.cert.X509Certificate ca = Certs.readCertificate(caPem);
        java.security.cert.X509Certificate root = Certs.readCertificate(central.resolve("ca/root.pem"));
        java.security.KeyPair k1 = dev.fleetpki.kms.KeyAlgorithm.EC_P256.generate();
        java.security.KeyPair other = dev.fleetpki.kms.KeyAlgorithm.EC_P256.generate();
        java.time.Instant now = java.time.Instant.now();
        List<StationJournal.Entry> entries = new ArrayList<>();
        entries.add(entry("r1", "esp32", device(ca, caKey, "r1", k1, now), now));
        entries.add(entry("r2", "esp32", device(ca, caKey, "r2", k1, now), now)); // the same key as r1
        entries.add(entry("r3", "esp32", device(ca, other, "r3", dev.fleetpki.kms.KeyAlgorithm.EC_P256.generate(), now), now)); // not the CA's signature
        entries.add(entry("r4", "esp32", device(ca, caKey, "r4", dev.fleetpki.kms.KeyAlgorithm.EC_P256.generate(), now.plus(java.time.Duration.ofDays(3))), now));
        entries.add(entry("r5", "camera", device(ca, caKey, "r5", dev.fleetpki.kms.KeyAlgorithm.EC_P256.generate(), now), now)); // another model
        entries.add(entry("r6", "esp32", device(ca, caKey, "r6", dev.fleetpki.kms.KeyAlgorithm.EC_P256.generate(), now), now)); // past the quota of 4
        Path journal = dir.resolve("rogue.jsonl");
        StationJournal.append(journal, List.of(), entries);
        Path export = dir.resolve("rogue.export");
        Files.write(export, StationJournal.export("rogue", "rogue-ca", StationJournal.read(journal), key(caKey), ca, List.of(root)));
        Cli.Result sync = Cli.run(central, "factory", "sync", export.toString());
        assertThat(sync.exit()).as(sync.all()).isEqualTo(65);
        assertThat(sync.out()).contains("journal of 6 entries, 0 synced before; taken 1, already here 0, conflicts 5");
        assertThat(sync.err()).contains("entry 2 (device r2").contains("also certified for device 'r1'")
                .contains("entry 3 (device r3").contains("not one the station CA signed")
                .contains("entry 4 (device r4").contains("after the station CA's production run ended")
                .contains("entry 5 (device r5").contains("model 'camera' is not the station CA's fleet 'esp32'")
                .contains("entry 6 (device r6").contains("past the station CA's quota of 4");
        assertThat(Cli.run(central, "cert", "list", "--device", "r1").out()).contains("1 certificate");
        for (String id : List.of("r2", "r3", "r4", "r5", "r6")) {
            assertThat(Cli.run(central, "device", "show", id).exit()).as(id + " not registered").isEqualTo(66);
        }
    }

    private static StationJournal.Entry entry(String id, String model, java.security.cert.X509Certificate c, java.time.Instant at) throws Exception {
        return new StationJournal.Entry(0, dev.fleetpki.core.SerialNumbers.hex(c.getSerialNumber()), id, model, "device", at.toEpochMilli(), true,
                c.getEncoded(), null);
    }

    /** A device certificate as a station would sign it (OU=esp32, CN=id), with {@code signer}'s key and {@code ca} as issuer. */
    private static java.security.cert.X509Certificate device(java.security.cert.X509Certificate ca, java.security.KeyPair signer, String id,
                                                             java.security.KeyPair subject, java.time.Instant notBefore) throws Exception {
        var b = new org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder(ca, dev.fleetpki.core.SerialNumbers.next(), java.util.Date.from(notBefore),
                java.util.Date.from(notBefore.plus(java.time.Duration.ofDays(30))), new javax.security.auth.x500.X500Principal("OU=esp32,CN=" + id),
                subject.getPublic());
        var h = b.build(new org.bouncycastle.operator.jcajce.JcaContentSignerBuilder("SHA256withECDSA").build(signer.getPrivate()));
        return new org.bouncycastle.cert.jcajce.JcaX509CertificateConverter().getCertificate(h);
    }

    private static dev.fleetpki.kms.SigningKey key(java.security.KeyPair kp) {
        return new dev.fleetpki.kms.SigningKey() {
            public dev.fleetpki.kms.KeyRef ref() {
                return dev.fleetpki.kms.KeyRef.parse("file:rogue.p8");
            }

            public java.security.PublicKey publicKey() {
                return kp.getPublic();
            }

            public dev.fleetpki.kms.KeyAlgorithm algorithm() {
                return dev.fleetpki.kms.KeyAlgorithm.EC_P256;
            }

            public org.bouncycastle.operator.ContentSigner contentSigner() {
                try {
                    return new org.bouncycastle.operator.jcajce.JcaContentSignerBuilder("SHA256withECDSA").build(kp.getPrivate());
                } catch (org.bouncycastle.operator.OperatorCreationException e) {
                    throw new IllegalStateException(e);
                }
            }

            public String location() {
                return "test";
            }

            public java.security.PrivateKey handle() {
                return kp.getPrivate();
            }

            public java.security.Provider provider() {
                return null;
            }
        };
    }
}
