package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code fleetpki factory run}: a batch of devices with a CSR, a bare public key or no key (made
 * here, as the fleet rule allows stations) issued as a factory station; files checked with openssl
 * and sha256sum; a rerun does nothing, a run killed right after issuing is finished by the next
 * without a second certificate; a station of another fleet, and server-made keys where the rule
 * does not allow them, are refused with nothing issued.
 */
class FactoryRunTest {
    @TempDir Path dir;

    @Test
    void aBatchIsIssuedOnceWhateverHappensAndOnlyAsTheStationMay() throws Exception {
        Path home = esp32Home();
        station(home, "line-3", "esp32");
        station(home, "line-cam", "camera");
        Path in = Files.createDirectories(dir.resolve("in"));
        Proc.ok(in, "openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "a1.key", "-out", "a1.csr",
                "-subj", "/CN=a1");
        Proc.ok(in, "openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "a2.key");
        Proc.ok(in, "openssl", "pkey", "-in", "a2.key", "-pubout", "-out", "a2.pub");
        Path csv = in.resolve("batch.csv");
        Files.writeString(csv, """
                id,model,csr,public_key
                a1,esp32,a1.csr,
                a2,esp32,,a2.pub
                a3,esp32,,
                """);
        Path out = dir.resolve("out");
        Cli.Result r = Cli.run(home, "factory", "run", "--station", "line-3", "--input", csv.toString(), "--out", out.toString());
        assertThat(r.exit()).as(r.all()).isZero();
        assertThat(r.out()).contains("3 devices; registered 3, issued 3, already issued (files rewritten) 0, already done 0, refused 0");
        assertThat(Proc.ok(out, "sha256sum", "-c", "manifest.sha256")).contains("a1/chain.pem: OK").contains("a3/key.pem: OK");
        for (String id : List.of("a1", "a2", "a3")) {
            assertThat(Proc.ok(out, "openssl", "verify", "-CAfile", home.resolve("ca/root.pem").toString(), "-untrusted",
                    home.resolve("ca/issuing.pem").toString(), id + "/chain.pem")).contains(": OK");
            assertThat(Proc.ok(out, "openssl", "x509", "-in", id + "/cert.der", "-inform", "DER", "-noout", "-subject")).contains("CN = " + id);
        }
        assertThat(Proc.ok(out, "openssl", "x509", "-in", "a3/chain.pem", "-noout", "-pubkey"))
                .isEqualTo(Proc.ok(out, "openssl", "pkey", "-in", "a3/key.pem", "-pubout")).as("the made key is the certified one");
        assertThat(Files.getPosixFilePermissions(out.resolve("a3/key.pem")).toString()).isEqualTo("[OWNER_READ, OWNER_WRITE]");
        assertThat(Proc.ok(out, "openssl", "x509", "-in", "a2/chain.pem", "-noout", "-pubkey"))
                .isEqualTo(Proc.ok(in, "openssl", "pkey", "-in", "a2.key", "-pubout"));
        assertThat(Cli.run(home, "device", "show", "a2").out()).contains("esp32").contains("station=line-3");
        assertThat(Files.readString(out.resolve("report.txt"))).contains("issued 3");
        long certs = count(home);

        Cli.Result again = Cli.run(home, "factory", "run", "--station", "line-3", "--input", csv.toString(), "--out", out.toString());
        assertThat(again.out()).contains("issued 0, already issued (files rewritten) 0, already done 3");
        assertThat(count(home)).isEqualTo(certs);
        Cli.Result asJson = Cli.run(home, "factory", "run", "--station", "line-3", "--input", csv.toString(), "--out", out.toString(), "--json");
        assertThat(asJson.exit()).as(asJson.all()).isZero();
        var summary = new com.fasterxml.jackson.databind.ObjectMapper().readTree(asJson.out());
        assertThat(summary.path("devices").asInt()).isEqualTo(3);
        assertThat(summary.path("alreadyDone").asInt()).isEqualTo(3);
        assertThat(summary.path("issued").asInt()).isZero();
        assertThat(summary.path("refused")).isEmpty();
        assertThat(summary.path("manifest").asText()).isEqualTo(out.resolve("manifest.sha256").toString());

        // killed right after the certificate was stored, before its files: the next run writes them from the stored certificate
        Proc.ok(in, "openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "a4.key");
        Proc.ok(in, "openssl", "pkey", "-in", "a4.key", "-pubout", "-out", "a4.pub");
        Files.writeString(csv, "a4,esp32,,a4.pub\n", java.nio.file.StandardOpenOption.APPEND);
        Proc.Result cut = Proc.run(dir, Map.of(), Proc.java(List.of("-Dfleetpki.failpoint=factory.issued"), Main.class, "factory", "run", "--station",
                "line-3", "--input", csv.toString(), "--out", out.toString(), "--home", home.toString(), "--threads", "1").toArray(String[]::new));
        assertThat(cut.exit()).as(cut.output()).isEqualTo(137);
        assertThat(count(home)).isEqualTo(certs + 1);
        assertThat(out.resolve("a4")).doesNotExist();
        Cli.Result resumed = Cli.run(home, "factory", "run", "--station", "line-3", "--input", csv.toString(), "--out", out.toString());
        assertThat(resumed.exit()).as(resumed.all()).isZero();
        assertThat(resumed.out()).contains("issued 0, already issued (files rewritten) 1, already done 3");
        assertThat(count(home)).as("nothing issued twice").isEqualTo(certs + 1);
        assertThat(Proc.ok(out, "sha256sum", "-c", "manifest.sha256")).contains("a4/chain.pem: OK").contains("a1/chain.pem: OK");
        // killed after its files were written, before its folder was renamed into place: the next run makes the folder again
        Files.writeString(csv, "a5,esp32,,\n", java.nio.file.StandardOpenOption.APPEND);
        Proc.Result cut2 = Proc.run(dir, Map.of(), Proc.java(List.of("-Dfleetpki.failpoint=factory.files"), Main.class, "factory", "run", "--station",
                "line-3", "--input", csv.toString(), "--out", out.toString(), "--home", home.toString(), "--threads", "1").toArray(String[]::new));
        assertThat(cut2.exit()).as(cut2.output()).isEqualTo(137);
        assertThat(out.resolve("a5")).doesNotExist();
        String madeKey = Files.readString(out.resolve(".a5.partial/key.pem"));
        Cli.Result resumed2 = Cli.run(home, "factory", "run", "--station", "line-3", "--input", csv.toString(), "--out", out.toString());
        assertThat(resumed2.out()).as(resumed2.all()).contains("issued 0, already issued (files rewritten) 1, already done 4");
        assertThat(Files.readString(out.resolve("a5/key.pem"))).as("the key made before the crash").isEqualTo(madeKey);
        assertThat(out.resolve(".a5.partial")).doesNotExist();
        assertThat(count(home)).as("nothing issued twice").isEqualTo(certs + 2);
        assertThat(Proc.ok(out, "sha256sum", "-c", "manifest.sha256")).contains("a5/key.pem: OK").contains("a4/chain.pem: OK");

        // another fleet's station, and a made key where the fleet rule does not allow it: refused, nothing issued
        Path other = in.resolve("other.csv");
        Files.writeString(other, "id,model,public_key,csr\nb1,esp32,a2.pub,\nb2,stm32,,\nb3,esp32,,a1.csr\n");
        Cli.Result cam = Cli.run(home, "factory", "run", "--station", "line-cam", "--input", other.toString(), "--out", dir.resolve("out2").toString());
        assertThat(cam.exit()).isEqualTo(65);
        assertThat(cam.err()).contains("(b1)").contains("(b2)");
        Cli.Result stm = Cli.run(home, "factory", "run", "--station", "line-3", "--input", other.toString(), "--out", dir.resolve("out3").toString());
        assertThat(stm.exit()).isEqualTo(65);
        assertThat(stm.err()).contains("(b2)").doesNotContain("(b1)").contains("(b3)").as("a CSR naming another device").contains("a1");
        assertThat(count(home)).as("b1 issued by line-3 only").isEqualTo(certs + 3);
        assertThat(dir.resolve("out3/b2/chain.pem")).doesNotExist();
        // an id with '/' and ':' gets a folder of its own
        Path slashed = in.resolve("slashed.csv");
        Files.writeString(slashed, "id,model,public_key\nline/7:x,esp32,a4.pub\nline_7_x,esp32,a2.pub\n");
        Cli.Result ids = Cli.run(home, "factory", "run", "--station", "line-3", "--input", slashed.toString(), "--out", out.toString());
        assertThat(ids.exit()).as(ids.all()).isZero();
        assertThat(out.resolve("line%2F7%3Ax/chain.pem")).exists();
        assertThat(out.resolve("line_7_x/chain.pem")).exists();
        // NVS partition images, read back by the reader written from Espressif's format documentation
        Path nvsBatch = in.resolve("nvs.csv");
        Files.writeString(nvsBatch, "id,model,public_key\nn1,esp32,\nn2,esp32,a2.pub\n");
        Cli.Result nvs = Cli.run(home, "factory", "run", "--station", "line-3", "--input", nvsBatch.toString(), "--out", dir.resolve("out-nvs").toString(),
                "--nvs", "--nvs-namespace", "certs", "--nvs-key", "cert=client_cert", "--nvs-key", "key=client_key");
        assertThat(nvs.exit()).as(nvs.all()).isZero();
        NvsReader n1 = NvsReader.read(Files.readAllBytes(dir.resolve("out-nvs/n1/nvs.bin")));
        var values = n1.values.get("certs");
        assertThat(values.get("device_id")).isEqualTo("n1");
        String chain = Files.readString(dir.resolve("out-nvs/n1/chain.pem"));
        assertThat(new String((byte[]) values.get("client_cert"), java.nio.charset.StandardCharsets.US_ASCII)).as("what the device presents")
                .isEqualTo(chain + "\0");
        assertThat(new String((byte[]) values.get("ca_cert"), java.nio.charset.StandardCharsets.US_ASCII)).as("the root it verifies servers with")
                .isEqualTo(Files.readString(home.resolve("ca/root.pem")) + "\0");
        assertThat(new String((byte[]) values.get("client_key"), java.nio.charset.StandardCharsets.US_ASCII))
                .isEqualTo(Files.readString(dir.resolve("out-nvs/n1/key.pem")) + "\0");
        assertThat(Files.getPosixFilePermissions(dir.resolve("out-nvs/n1/nvs.bin")).toString()).as("it holds the key").isEqualTo("[OWNER_READ, OWNER_WRITE]");
        assertThat(NvsReader.read(Files.readAllBytes(dir.resolve("out-nvs/n2/nvs.bin"))).values.get("certs")).as("a device's own key stays on it")
                .containsOnlyKeys("device_id", "client_cert", "ca_cert");
        assertThat(Proc.ok(dir.resolve("out-nvs"), "sha256sum", "-c", "manifest.sha256")).contains("n1/nvs.bin: OK");
        // NVS encryption: keys made per device (nvs_keys.bin beside the image), or one nvs_keys image for all; each image decrypted
        // by Python's cryptography (AES-XTS, the tweak each entry's offset, as ESP-IDF's NVS encryption documentation gives it)
        Path decrypt = dir.resolve("nvs_decrypt.py");
        Files.writeString(decrypt, """
                import struct, sys, zlib
                from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
                img = bytearray(open(sys.argv[1], 'rb').read())
                keys = open(sys.argv[2], 'rb').read()
                assert len(keys) == 4096 and struct.unpack('<I', keys[64:68])[0] == zlib.crc32(keys[:64], 0xFFFFFFFF), 'nvs_keys CRC'
                encrypted = 0
                for p in range(len(img) // 4096):
                    for s in range(126):
                        if (img[p * 4096 + 32 + s // 4] >> (2 * (s % 4))) & 3 == 3:
                            continue  # empty entries stay erased
                        at = p * 4096 + 64 + s * 32
                        d = Cipher(algorithms.AES(keys[:64]), modes.XTS(at.to_bytes(16, 'little'))).decryptor()
                        img[at:at + 32] = d.update(bytes(img[at:at + 32])) + d.finalize()
                        encrypted += 1
                open(sys.argv[3], 'wb').write(img)
                print(encrypted, 'entries decrypted')
                """);
        Path shared = dir.resolve("shared_nvs_keys.bin");
        Proc.ok(dir, "python3", "-c", "import os,struct,zlib; k=os.urandom(64); open('" + shared + "','wb').write(k+struct.pack('<I', "
                + "zlib.crc32(k, 0xFFFFFFFF))+b'\\xff'*4028)");
        Files.writeString(in.resolve("nvs-enc.csv"), "id,model,public_key\nn3,esp32,\n");
        Files.writeString(in.resolve("nvs-shared.csv"), "id,model,public_key\nn4,esp32,\n");
        Cli.Result enc = Cli.run(home, "factory", "run", "--station", "line-3", "--input", in.resolve("nvs-enc.csv").toString(), "--out",
                dir.resolve("out-enc").toString(), "--nvs", "--nvs-encrypt");
        assertThat(enc.exit()).as(enc.all()).isZero();
        Cli.Result sharedRun = Cli.run(home, "factory", "run", "--station", "line-3", "--input", in.resolve("nvs-shared.csv").toString(), "--out",
                dir.resolve("out-enc").toString(), "--nvs", "--nvs-keys", shared.toString());
        assertThat(sharedRun.exit()).as(sharedRun.all()).isZero();
        for (String[] c : new String[][] {{"n3", dir.resolve("out-enc/n3/nvs_keys.bin").toString()}, {"n4", shared.toString()}}) {
            byte[] encrypted = Files.readAllBytes(dir.resolve("out-enc/" + c[0] + "/nvs.bin"));
            assertThat(new String(encrypted, java.nio.charset.StandardCharsets.ISO_8859_1)).as("no PEM in the clear").doesNotContain("BEGIN");
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> NvsReader.read(encrypted)).isInstanceOf(IllegalStateException.class);
            Path plain = dir.resolve(c[0] + "-plain.bin");
            assertThat(Proc.ok(dir, "python3", decrypt.toString(), dir.resolve("out-enc/" + c[0] + "/nvs.bin").toString(), c[1], plain.toString()))
                    .containsPattern("\\d+ entries decrypted");
            var read = NvsReader.read(Files.readAllBytes(plain)).values.get("fleetpki");
            assertThat(read.get("device_id")).isEqualTo(c[0]);
            assertThat(new String((byte[]) read.get("key"), java.nio.charset.StandardCharsets.US_ASCII))
                    .isEqualTo(Files.readString(dir.resolve("out-enc/" + c[0] + "/key.pem")) + "\0");
        }
        assertThat(Files.getPosixFilePermissions(dir.resolve("out-enc/n3/nvs_keys.bin")).toString()).isEqualTo("[OWNER_READ, OWNER_WRITE]");
        assertThat(dir.resolve("out-enc/n4/nvs_keys.bin")).as("shared keys are not copied per device").doesNotExist();
        Cli.Result badKeys = Cli.run(home, "factory", "run", "--station", "line-3", "--input", in.resolve("nvs-shared.csv").toString(), "--out",
                dir.resolve("out-bad").toString(), "--nvs", "--nvs-keys", decrypt.toString());
        assertThat(badKeys.exit()).isEqualTo(65);
        assertThat(badKeys.err()).contains("is not an nvs_keys partition image");
        assertThat(dir.resolve("out-bad")).doesNotExist();
        // the esp_secure_cert partition (TLV), read back by a reader written from Espressif's format description
        Files.writeString(in.resolve("esc.csv"), "id,model,public_key\ne1,esp32,\ne2,esp32,a2.pub\n");
        Cli.Result esc = Cli.run(home, "factory", "run", "--station", "line-3", "--input", in.resolve("esc.csv").toString(), "--out",
                dir.resolve("out-esc").toString(), "--esp-secure-cert");
        assertThat(esc.exit()).as(esc.all()).isZero();
        byte[] e1 = Files.readAllBytes(dir.resolve("out-esc/e1/esp_secure_cert.bin"));
        assertThat(e1).hasSize(0x2000);
        var tlv = EspSecureCertReader.read(e1).records;
        assertThat(tlv).containsOnlyKeys(0, 1, 2);
        assertThat(new String(tlv.get(1), java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo(Files.readString(dir.resolve("out-esc/e1/chain.pem")) + "\0");
        assertThat(new String(tlv.get(0), java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo(Files.readString(home.resolve("ca/root.pem")) + "\0");
        assertThat(new String(tlv.get(2), java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo(Files.readString(dir.resolve("out-esc/e1/key.pem")) + "\0");
        assertThat(Files.getPosixFilePermissions(dir.resolve("out-esc/e1/esp_secure_cert.bin")).toString()).isEqualTo("[OWNER_READ, OWNER_WRITE]");
        assertThat(EspSecureCertReader.read(Files.readAllBytes(dir.resolve("out-esc/e2/esp_secure_cert.bin"))).records).as("its own key stays on it")
                .containsOnlyKeys(0, 1);
        e1[20] ^= 1;
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> EspSecureCertReader.read(e1)).hasMessageContaining("CRC32 does not match");
        // PKCS#12 for a key made here, its password written beside it encrypted to the station's certificate
        Path p12Batch = in.resolve("p12.csv");
        Files.writeString(p12Batch, "id,model,public_key\np1,esp32,\np2,esp32,a2.pub\n");
        Path p12Out = dir.resolve("out-p12");
        Cli.Result noRecipient = Cli.run(home, "factory", "run", "--station", "line-3", "--input", p12Batch.toString(), "--out", p12Out.toString(),
                "--pkcs12");
        assertThat(noRecipient.exit()).isEqualTo(65);
        assertThat(noRecipient.err()).contains("never in plain text");
        Cli.Result p12 = Cli.run(home, "factory", "run", "--station", "line-3", "--input", p12Batch.toString(), "--out", p12Out.toString(),
                "--pkcs12", "--secrets-recipient", dir.resolve("line-3.pem").toString());
        assertThat(p12.exit()).as(p12.all()).isZero();
        String password = Proc.ok(p12Out, "openssl", "cms", "-decrypt", "-inform", "PEM", "-in", "p1/p1.p12-password.pem", "-inkey",
                dir.resolve("line-3.key").toString()).strip();
        assertThat(password).hasSize(21);
        String opened = Proc.ok(p12Out, "openssl", "pkcs12", "-in", "p1/p1.p12", "-passin", "pass:" + password, "-nodes");
        assertThat(opened).contains("friendlyName: p1").contains("subject=CN = p1").contains("-----BEGIN PRIVATE KEY-----")
                .contains("Test Issuing CA");
        assertThat(Proc.run(p12Out, Map.of(), "openssl", "pkcs12", "-in", "p1/p1.p12", "-passin", "pass:wrong-password", "-nodes").exit())
                .isNotZero();
        assertThat(p12Out.resolve("p2/p2.p12")).as("the device keeps its own key: nothing to bundle").doesNotExist();
        Cli.Result badNvs = Cli.run(home, "factory", "run", "--station", "line-3", "--input", nvsBatch.toString(), "--out", dir.resolve("out-x").toString(),
                "--nvs", "--nvs-size", "0x2000");
        assertThat(badNvs.exit()).isEqualTo(65);
        assertThat(badNvs.err()).contains("0x3000");
        // JSON lines with the CSR and the public key inline
        Proc.ok(in, "openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "j1.key", "-out", "j1.csr",
                "-subj", "/CN=j1");
        Proc.ok(in, "openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "j2.key");
        Proc.ok(in, "openssl", "pkey", "-in", "j2.key", "-pubout", "-out", "j2.pub");
        var json = new com.fasterxml.jackson.databind.ObjectMapper();
        Path jsonl = in.resolve("batch.jsonl");
        Files.writeString(jsonl, json.writeValueAsString(Map.of("id", "j1", "model", "esp32", "csr", Files.readString(in.resolve("j1.csr")))) + "\n"
                + json.writeValueAsString(Map.of("id", "j2", "publicKey", Files.readString(in.resolve("j2.pub")))) + "\n"
                + "{\"id\": \"j3\", \"colour\": \"red\"}\n");
        Cli.Result jr = Cli.run(home, "factory", "run", "--station", "line-3", "--input", jsonl.toString(), "--out", dir.resolve("out-json").toString());
        assertThat(jr.exit()).as("j3 refused, the others done").isEqualTo(65);
        assertThat(jr.out()).contains("2 devices").contains("issued 2");
        assertThat(jr.err()).contains("line 3: unknown field 'colour'");
        assertThat(Proc.ok(dir.resolve("out-json"), "openssl", "x509", "-in", "j2/chain.pem", "-noout", "-pubkey"))
                .isEqualTo(Proc.ok(in, "openssl", "pkey", "-in", "j2.key", "-pubout"));
        assertThat(Cli.run(home, "device", "show", "j2").out()).as("the station's fleet as model").contains("esp32");
        Cli.Result off = Cli.run(home, "factory", "run", "--station", "nobody", "--input", other.toString(), "--out", dir.resolve("out4").toString());
        assertThat(off.exit()).isEqualTo(77);
    }

    @Test
    void aBatchOfSeveralRegistrationChunksIsRegisteredIssuedAndReportedWhole() throws Exception {
        Path home = esp32Home();
        station(home, "line-9", "esp32");
        // devices are registered a chunk at a time, ahead of issuance: two whole chunks and a bit, and one bad id
        int n = 2 * FactoryCommand.Run.REGISTER_CHUNK + 3;
        StringBuilder csv = new StringBuilder("id,model\n");
        for (int i = 0; i < n; i++) {
            csv.append(i == FactoryCommand.Run.REGISTER_CHUNK + 7 ? "bad id!" : "k-" + i).append(",esp32\n");
        }
        Path in = Files.writeString(dir.resolve("big.csv"), csv);
        Path out = dir.resolve("out");
        Cli.Result r = Cli.run(home, "factory", "run", "--station", "line-9", "--input", in.toString(), "--out", out.toString());
        assertThat(r.exit()).as(r.all()).isEqualTo(65);
        assertThat(r.out()).as("the bad row is refused as the input is read").contains((n - 1) + " devices; registered " + (n - 1) + ", issued " + (n - 1) + ", already issued (files rewritten) 0, "
                + "already done 0, refused 1");
        assertThat(r.err()).contains("bad id!");
        assertThat(out.resolve("k-0/chain.pem")).exists();
        assertThat(out.resolve("k-" + (n - 1) + "/chain.pem")).exists();
        assertThat(Proc.ok(out, "sha256sum", "-c", "--quiet", "manifest.sha256")).isEmpty();
        assertThat(Files.readString(out.resolve("manifest.sha256")).lines().filter(l -> l.endsWith("/chain.pem"))).hasSize(n - 1);

        // the CA key cannot be opened: the command says so and issues nothing
        Files.writeString(home.resolve("secrets/passphrase"), "not the passphrase\n");
        Files.writeString(in, "id,model\nk-late,esp32\n");
        Cli.Result locked = Cli.run(home, "factory", "run", "--station", "line-9", "--input", in.toString(), "--out", dir.resolve("out2").toString());
        assertThat(locked.exit()).as(locked.all()).isEqualTo(78);
        assertThat(locked.err()).contains("cannot open the key of CA");
        assertThat(dir.resolve("out2/k-late")).doesNotExist();
    }

    /** A CA home whose esp32 fleet lets stations have keys made here. */
    private Path esp32Home() throws Exception {
        Path home = TestHome.write(dir.resolve("home"), "ecdsa-p256", null, null);
        Files.writeString(home.resolve("fleetpki.yaml"), """

                enrollment:
                  fleets:
                    esp32:
                      serverKeygen: [station]
                """, java.nio.file.StandardOpenOption.APPEND);
        TestHome.init(home);
        return home;
    }

    /** A factory station for {@code fleet}, with a TLS client certificate made by openssl. */
    private void station(Path home, String name, String fleet) throws Exception {
        Proc.ok(dir, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "30",
                "-keyout", name + ".key", "-out", name + ".pem", "-subj", "/CN=" + name);
        assertThat(Cli.run(home, "station", "add", name, "--certificate", dir.resolve(name + ".pem").toString(), "--fleet", fleet).exit()).isZero();
    }

    private static long count(Path home) {
        return Cli.run(home, "audit", "list", "--last", "1000").out().lines().filter(l -> l.contains("certificate.issue ")).count();
    }
}
