package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fleetpki.core.CmpTransaction;
import dev.fleetpki.core.StoredCertificate;
import java.math.BigInteger;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.bouncycastle.asn1.cmp.ErrorMsgContent;
import org.bouncycastle.asn1.cmp.PKIBody;
import org.bouncycastle.asn1.cmp.PKIFailureInfo;
import org.bouncycastle.asn1.cmp.PKIHeader;
import org.bouncycastle.asn1.cmp.PKIMessage;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.cert.cmp.GeneralPKIMessage;
import org.bouncycastle.cert.cmp.ProtectedPKIMessage;
import org.bouncycastle.cert.cmp.ProtectedPKIMessageBuilder;
import org.bouncycastle.cert.crmf.CertificateRequestMessageBuilder;
import org.bouncycastle.cert.crmf.PKMACBuilder;
import org.bouncycastle.cert.crmf.jcajce.JcePKMACValuesCalculator;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcePBMac1CalculatorBuilder;
import org.bouncycastle.pkcs.jcajce.JcePBMac1CalculatorProviderBuilder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * CMP against a running fleetpki with the stock client, {@code openssl cmp} (OpenSSL 3.0): ir
 * with the device's one-time secret (PBM), p10cr, kur with the current certificate, rr by the
 * device, genm, ir signed by a manufacturer IDevID, a request kept for an operator and polled,
 * implicit confirmation and a certificate revoked for want of certConf, and a refusal for each
 * wrong credential. Requests openssl cannot make (PBMAC1, a replayed transactionID, an absurd
 * iteration count, a stale messageTime) are built here with BouncyCastle.
 */
class CmpTest {
    @TempDir static Path dir;
    static TestServer ts;
    static Path root;
    static Path issuing;

    @BeforeAll
    static void start() throws Exception {
        ts = TestServer.start(dir, null, """
                enrollment:
                  cmpImplicitConfirm: true
                  fleets:
                    pend:
                      accept: []
                      otherwise: pending
                """);
        root = ts.home.resolve("ca/root.pem");
        issuing = ts.home.resolve("ca/issuing.pem");
    }

    @AfterAll
    static void stop() {
        if (ts != null) {
            ts.close();
        }
    }

    static String secret(String device, String... more) {
        List<String> args = new ArrayList<>(List.of("device", "add", device, "--enrollment-secret"));
        args.addAll(List.of(more));
        Cli.Result r = Cli.run(ts.home, args.toArray(String[]::new));
        assertThat(r.exit()).as(r.all()).isZero();
        String[] lines = r.out().trim().split("\n");
        return lines[lines.length - 1];
    }

    /** openssl cmp against the server over TLS; answers signed by the RA are checked against the root. */
    static Proc.Result cmp(String... args) {
        List<String> cmd = new ArrayList<>(List.of("openssl", "cmp", "-server", ts.base + "/.well-known/cmp",
                "-tls_used", "-tls_trusted", root.toString(), "-tls_host", TestServer.HOST, "-trusted", root.toString(), "-untrusted", issuing.toString(),
                "-msg_timeout", "20", "-total_timeout", "40"));
        cmd.addAll(List.of(args));
        return Proc.run(dir, Map.of(), cmd.toArray(String[]::new));
    }

    static Path key(String name) {
        Path k = dir.resolve(name + ".key");
        Proc.ok(dir, "openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", k.toString());
        return k;
    }

    static String subject(Path cert) {
        return Proc.ok(dir, "openssl", "x509", "-in", cert.toString(), "-noout", "-subject").trim();
    }

    static String serial(Path cert) {
        return Proc.ok(dir, "openssl", "x509", "-in", cert.toString(), "-noout", "-serial").trim().substring("serial=".length()).toLowerCase();
    }

    @Test
    void irWithTheOneTimeSecretThenKurRrAndGenm() throws Exception {
        String secret = secret("cmp-1");
        Path k1 = key("cmp-1");
        Path c1 = dir.resolve("cmp-1.pem");
        Proc.Result ir = cmp("-cmd", "ir", "-ref", "cmp-1", "-secret", "pass:" + secret, "-newkey", k1.toString(), "-subject", "/CN=cmp-1",
                "-certout", c1.toString(), "-cacertsout", dir.resolve("cmp-1-ca.pem").toString());
        assertThat(ir.exit()).as(ir.output()).isZero();
        assertThat(ir.output()).contains("received IP").contains("sending CERTCONF").contains("received PKICONF");
        assertThat(subject(c1)).isEqualTo("subject=CN = cmp-1");
        assertThat(Proc.ok(dir, Proc.opensslVerify(root, issuing, c1).toArray(String[]::new))).contains(": OK");
        assertThat(Files.readString(dir.resolve("cmp-1-ca.pem"))).as("the root in caPubs").isEqualTo(Files.readString(root));
        CmpTransaction t = ts.fleet.store().cmp().unconfirmedCmpTransactions(Instant.now().plusSeconds(3600), 100).stream()
                .filter(x -> serial(c1).equals(x.serial())).findFirst().orElse(null);
        assertThat(t).as("confirmed by certConf, so not waiting").isNull();

        // the same secret again: refused (notAuthorized), nothing issued
        long before = ts.fleet.store().certificates().certificateCount();
        Proc.Result again = cmp("-cmd", "ir", "-ref", "cmp-1", "-secret", "pass:" + secret, "-newkey", k1.toString(), "-subject", "/CN=cmp-1",
                "-certout", dir.resolve("cmp-1-again.pem").toString());
        assertThat(again.exit()).isNotZero();
        assertThat(again.output()).contains("notAuthorized").contains("already used");
        assertThat(ts.fleet.store().certificates().certificateCount()).isEqualTo(before);

        // kur: a new key, signed with the current certificate; the answer is signed by the RA, checked against the root
        Path k2 = key("cmp-1b");
        Path c2 = dir.resolve("cmp-1b.pem");
        Proc.Result kur = cmp("-cmd", "kur", "-cert", c1.toString(), "-key", k1.toString(), "-oldcert", c1.toString(), "-newkey", k2.toString(),
                "-certout", c2.toString());
        assertThat(kur.exit()).as(kur.output()).isZero();
        assertThat(kur.output()).contains("received KUP");
        assertThat(subject(c2)).isEqualTo("subject=CN = cmp-1");
        assertThat(serial(c2)).isNotEqualTo(serial(c1));

        // genm: the CA certificates, the current CRL
        Proc.Result genm = cmp("-cmd", "genm", "-cert", c2.toString(), "-key", k2.toString(), "-infotype", "currentCRL");
        assertThat(genm.exit()).as(genm.output()).isZero();
        assertThat(genm.output()).contains("id-it-currentCRL");
        Proc.Result caCerts = cmp("-cmd", "genm", "-cert", c2.toString(), "-key", k2.toString());
        assertThat(caCerts.output()).contains("id-it-caCerts");

        // rr by the device itself, with a reason
        Proc.Result rr = cmp("-cmd", "rr", "-cert", c2.toString(), "-key", k2.toString(), "-oldcert", c2.toString(), "-revreason", "1");
        assertThat(rr.exit()).as(rr.output()).isZero();
        StoredCertificate revoked = ts.fleet.store().certificates().certificate(serial(c2)).orElseThrow();
        assertThat(revoked.revoked()).isTrue();
        assertThat(revoked.reason()).isEqualTo(dev.fleetpki.core.RevocationReason.KEY_COMPROMISE);
        // a revoked certificate neither renews nor revokes again
        Proc.Result after = cmp("-cmd", "kur", "-cert", c2.toString(), "-key", k2.toString(), "-oldcert", c2.toString(), "-newkey", k1.toString(),
                "-certout", dir.resolve("cmp-1c.pem").toString());
        assertThat(after.exit()).isNotZero();
        assertThat(after.output()).contains("notAuthorized").contains("revoked");
        // another device's certificate cannot revoke cmp-1's first one
        Proc.Result foreign = cmp("-cmd", "rr", "-cert", c2.toString(), "-key", k2.toString(), "-oldcert", c1.toString(), "-revreason", "1");
        assertThat(foreign.exit()).isNotZero();
        assertThat(ts.fleet.store().certificates().certificate(serial(c1)).orElseThrow().revoked()).isFalse();
    }

    @Test
    void p10crWithASecretAndRefusalsForAWrongOrForeignSecret() throws Exception {
        String s2 = secret("cmp-2");
        String s3 = secret("cmp-3");
        Path k = key("cmp-2");
        Path csr = dir.resolve("cmp-2.csr");
        Proc.ok(dir, "openssl", "req", "-new", "-key", k.toString(), "-subj", "/CN=cmp-2", "-out", csr.toString());
        long before = ts.fleet.store().certificates().certificateCount();
        Proc.Result wrong = cmp("-cmd", "p10cr", "-ref", "cmp-2", "-secret", "pass:" + s2.substring(0, s2.length() - 2) + "AA", "-csr", csr.toString(),
                "-certout", dir.resolve("cmp-2-wrong.pem").toString());
        assertThat(wrong.exit()).isNotZero();
        assertThat(wrong.output()).contains("notAuthorized").contains("does not verify");
        // cmp-3's secret, presented as cmp-3, for a CSR naming cmp-2: refused, and cmp-3's secret is not used up
        Proc.Result foreign = cmp("-cmd", "p10cr", "-ref", "cmp-3", "-secret", "pass:" + s3, "-csr", csr.toString(),
                "-certout", dir.resolve("cmp-2-foreign.pem").toString());
        assertThat(foreign.exit()).isNotZero();
        assertThat(foreign.output()).contains("badCertTemplate");
        assertThat(ts.fleet.store().certificates().certificateCount()).isEqualTo(before);
        assertThat(dir.resolve("cmp-2-foreign.pem")).doesNotExist();

        Path c = dir.resolve("cmp-2.pem");
        Proc.Result ok = cmp("-cmd", "p10cr", "-ref", "cmp-2", "-secret", "pass:" + s2, "-csr", csr.toString(), "-certout", c.toString());
        assertThat(ok.exit()).as(ok.output()).isZero();
        assertThat(subject(c)).isEqualTo("subject=CN = cmp-2");
        assertThat(cmp("-cmd", "ir", "-ref", "cmp-3", "-secret", "pass:" + s3, "-newkey", k.toString(), "-subject", "/CN=cmp-3",
                "-certout", dir.resolve("cmp-3.pem").toString()).exit()).as("cmp-3's secret still works").isZero();
    }

    @Test
    void irSignedByAManufacturerIdevid() throws Exception {
        Proc.ok(dir, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "3650", "-keyout",
                "vendor.key", "-out", "vendor.pem", "-subj", "/O=acme-se/CN=acme-se Device Root", "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign");
        Path idevKey = key("idev");
        Proc.ok(dir, "openssl", "req", "-new", "-key", idevKey.toString(), "-subj", "/O=acme-se/CN=cmp-m1", "-out", "idev.csr");
        Files.writeString(dir.resolve("leaf.ext"), "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n");
        Proc.ok(dir, "openssl", "x509", "-req", "-in", "idev.csr", "-CA", "vendor.pem", "-CAkey", "vendor.key", "-CAcreateserial", "-days", "3650",
                "-extfile", "leaf.ext", "-out", "idevid.pem");
        assertThat(Cli.run(ts.home, "device", "add", "cmp-m1", "--model", "sensor").exit()).isZero();
        Path k = key("cmp-m1");
        // the vendor is not trusted yet: refused
        Proc.Result untrusted = cmp("-cmd", "ir", "-cert", "idevid.pem", "-key", idevKey.toString(), "-newkey", k.toString(), "-subject", "/CN=cmp-m1",
                "-certout", dir.resolve("cmp-m1-no.pem").toString());
        assertThat(untrusted.exit()).isNotZero();
        assertThat(untrusted.output()).contains("notAuthorized");
        assertThat(Cli.run(ts.home, "trust", "add-manufacturer", dir.resolve("vendor.pem").toString(), "--name", "acme-cmp", "--fleet", "sensor").exit())
                .isZero();
        Path c = dir.resolve("cmp-m1.pem");
        Proc.Result ok = cmp("-cmd", "ir", "-cert", "idevid.pem", "-key", idevKey.toString(), "-newkey", k.toString(), "-subject", "/CN=cmp-m1",
                "-certout", c.toString());
        assertThat(ok.exit()).as(ok.output()).isZero();
        assertThat(subject(c)).isEqualTo("subject=CN = cmp-m1");
        // the IDevID names cmp-m1: a request for another device is refused
        Proc.Result other = cmp("-cmd", "ir", "-cert", "idevid.pem", "-key", idevKey.toString(), "-newkey", k.toString(), "-subject", "/CN=cmp-m2",
                "-certout", dir.resolve("cmp-m2.pem").toString());
        assertThat(other.exit()).isNotZero();
        assertThat(dir.resolve("cmp-m2.pem")).doesNotExist();
    }

    @Test
    void irSignedByAFactoryStationForDevicesOfItsFleetOnly() throws Exception {
        Proc.ok(dir, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "30", "-keyout",
                "line-c.key", "-out", "line-c.pem", "-subj", "/CN=line-c");
        assertThat(Cli.run(ts.home, "station", "add", "line-c", "--certificate", dir.resolve("line-c.pem").toString(), "--fleet", "gateway").exit())
                .isZero();
        assertThat(Cli.run(ts.home, "device", "add", "cmp-g1", "--model", "gateway").exit()).isZero();
        assertThat(Cli.run(ts.home, "device", "add", "cmp-c1", "--model", "camera").exit()).isZero();
        Path k = key("cmp-g1");
        Path c = dir.resolve("cmp-g1.pem");
        // openssl cmp leaves a self-signed protection certificate out of extraCerts (it adds its certificate with
        // X509_ADD_FLAG_NO_SS), and the server knows a station by its certificate's fingerprint only: -extracerts sends it
        Proc.Result ok = cmp("-cmd", "ir", "-cert", "line-c.pem", "-key", "line-c.key", "-extracerts", "line-c.pem", "-newkey", k.toString(),
                "-subject", "/CN=cmp-g1", "-certout", c.toString());
        assertThat(ok.exit()).as(ok.output()).isZero();
        assertThat(subject(c)).isEqualTo("subject=CN = cmp-g1");
        // a device of another fleet: refused, nothing issued
        Proc.Result outside = cmp("-cmd", "ir", "-cert", "line-c.pem", "-key", "line-c.key", "-extracerts", "line-c.pem", "-newkey", k.toString(),
                "-subject", "/CN=cmp-c1", "-certout", dir.resolve("cmp-c1.pem").toString());
        assertThat(outside.exit()).isNotZero();
        assertThat(outside.output()).contains("notAuthorized");
        assertThat(dir.resolve("cmp-c1.pem")).doesNotExist();
    }

    @Test
    void aPendingRequestIsPolledUntilAnOperatorApprovesIt() throws Exception {
        String secret = secret("cmp-p1", "--model", "pend");
        Path k = key("cmp-p1");
        Thread approver = Thread.ofVirtual().start(() -> {
            for (int i = 0; i < 100; i++) { // bounded: 20 s
                var pending = ts.fleet.store().requests().pendingRequest("cmp-p1", "device");
                if (pending.isPresent()) {
                    assertThat(Cli.run(ts.home, "request", "approve", pending.get().id()).exit()).isZero();
                    return;
                }
                try {
                    Thread.sleep(200);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        Path c = dir.resolve("cmp-p1.pem");
        Proc.Result r = cmp("-cmd", "ir", "-ref", "cmp-p1", "-secret", "pass:" + secret, "-newkey", k.toString(), "-subject", "/CN=cmp-p1",
                "-certout", c.toString());
        approver.join();
        assertThat(r.exit()).as(r.output()).isZero();
        assertThat(r.output()).contains("received POLLREP").contains("received IP");
        assertThat(subject(c)).isEqualTo("subject=CN = cmp-p1");
    }

    @Test
    void implicitConfirmWhenAskedAndRevocationWhenAConfirmationNeverComes() throws Exception {
        Path k = key("cmp-i");
        Path c = dir.resolve("cmp-i.pem");
        Proc.Result implicit = cmp("-cmd", "ir", "-ref", "cmp-i", "-secret", "pass:" + secret("cmp-i"), "-newkey", k.toString(), "-subject", "/CN=cmp-i",
                "-implicit_confirm", "-certout", c.toString());
        assertThat(implicit.exit()).as(implicit.output()).isZero();
        assertThat(implicit.output()).doesNotContain("sending CERTCONF");

        Path u = dir.resolve("cmp-u.pem");
        Proc.Result unconfirmed = cmp("-cmd", "ir", "-ref", "cmp-u", "-secret", "pass:" + secret("cmp-u"), "-newkey", k.toString(), "-subject", "/CN=cmp-u",
                "-disable_confirm", "-certout", u.toString());
        assertThat(unconfirmed.exit()).as(unconfirmed.output()).isZero();
        assertThat(unconfirmed.output()).doesNotContain("sending CERTCONF");
        String serial = serial(u);
        assertThat(ts.server.revokeUnconfirmedCmp(Instant.now())).as("the wait is not over yet").isZero();
        assertThat(ts.server.revokeUnconfirmedCmp(Instant.now().plus(Duration.ofMinutes(6)))).as("cmp-u's, and any other test's left unconfirmed")
                .isGreaterThanOrEqualTo(1);
        StoredCertificate revoked = ts.fleet.store().certificates().certificate(serial).orElseThrow();
        assertThat(revoked.revoked()).isTrue();
        assertThat(ts.fleet.store().certificates().certificate(serial(c)).orElseThrow().revoked()).as("implicitly confirmed").isFalse();
    }

    // ---- requests openssl 3.0 does not make ----

    static final SecureRandom RANDOM = new SecureRandom();

    static byte[] random(int n) {
        byte[] b = new byte[n];
        RANDOM.nextBytes(b);
        return b;
    }

    static KeyPair ecKey() throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"));
        return g.generateKeyPair();
    }

    /** An ir for {@code device} with a MAC: PBMAC1 when {@code pbmac1}, else PBM with this iteration count. */
    static byte[] ir(String device, String secret, boolean pbmac1, int iterations, byte[] transactionId, Date messageTime) throws Exception {
        KeyPair kp = ecKey();
        var req = new CertificateRequestMessageBuilder(BigInteger.ZERO)
                .setPublicKey(SubjectPublicKeyInfo.getInstance(kp.getPublic().getEncoded()))
                .setSubject(new X500Name("CN=" + device))
                .setProofOfPossessionSigningKeySigner(new JcaContentSignerBuilder("SHA256withECDSA").build(kp.getPrivate()));
        var b = new ProtectedPKIMessageBuilder(PKIHeader.CMP_2000, new GeneralName(new X500Name("CN=" + device)), new GeneralName(new X500Name("CN=fleetpki")))
                .setTransactionID(transactionId)
                .setSenderNonce(random(16))
                .setSenderKID(device.getBytes(java.nio.charset.StandardCharsets.UTF_8))
                .setMessageTime(messageTime)
                .setBody(new PKIBody(PKIBody.TYPE_INIT_REQ, new org.bouncycastle.asn1.crmf.CertReqMessages(req.build().toASN1Structure())));
        var mac = pbmac1
                ? new JcePBMac1CalculatorBuilder("HmacSHA256", 256).setProvider(new BouncyCastleProvider()).setIterationCount(iterations)
                        .setPrf(JcePBMac1CalculatorBuilder.PRF_SHA256).build(secret.toCharArray())
                : new PKMACBuilder(new JcePKMACValuesCalculator().setProvider(new BouncyCastleProvider())).setIterationCount(iterations)
                        .build(secret.toCharArray());
        return b.build(mac).toASN1Structure().getEncoded();
    }

    static PKIMessage post(byte[] message) throws Exception {
        HttpResponse<byte[]> r = ts.http.send(HttpRequest.newBuilder(URI.create(ts.base + "/.well-known/cmp"))
                .header("Content-Type", "application/pkixcmp").POST(HttpRequest.BodyPublishers.ofByteArray(message)).build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("Content-Type")).hasValue("application/pkixcmp");
        return PKIMessage.getInstance(r.body());
    }

    static int failInfo(PKIMessage m) {
        assertThat(m.getBody().getType()).isEqualTo(PKIBody.TYPE_ERROR);
        var status = ErrorMsgContent.getInstance(m.getBody().getContent()).getPKIStatusInfo();
        System.out.println("CMP error: " + status.getStatusString().getStringAtUTF8(0).getString());
        return status.getFailInfo().intValue();
    }

    /** The body type, or the error's text when it is an error message. */
    static String type(PKIMessage m) {
        if (m.getBody().getType() != PKIBody.TYPE_ERROR) {
            return String.valueOf(m.getBody().getType());
        }
        return ErrorMsgContent.getInstance(m.getBody().getContent()).getPKIStatusInfo().getStatusString().getStringAtUTF8(0).getString();
    }

    @Test
    void pbmac1IsServedAndAnsweredWithTheSameSecret() throws Exception {
        String secret = secret("cmp-b1");
        PKIMessage answer = post(ir("cmp-b1", secret, true, 10_000, random(16), new Date()));
        assertThat(type(answer)).isEqualTo(String.valueOf(PKIBody.TYPE_INIT_REP));
        ProtectedPKIMessage p = new ProtectedPKIMessage(new GeneralPKIMessage(answer));
        assertThat(p.getProtectionAlgorithm().getAlgorithm()).isEqualTo(org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers.id_PBMAC1);
        assertThat(p.verify(new JcePBMac1CalculatorProviderBuilder().setProvider(new BouncyCastleProvider()).build(), secret.toCharArray()))
                .as("the answer's MAC is keyed with the device's secret").isTrue();
        assertThat(p.verify(new JcePBMac1CalculatorProviderBuilder().setProvider(new BouncyCastleProvider()).build(), "another".toCharArray())).isFalse();
    }

    @Test
    void aReplayAnAbsurdIterationCountAndAStaleTimeAreRefusedWithTheirFailInfo() throws Exception {
        String secret = secret("cmp-b2");
        long before = ts.fleet.store().certificates().certificateCount();
        assertThat(failInfo(post(ir("cmp-b2", secret, false, 100_000_000, random(16), new Date())))).isEqualTo(PKIFailureInfo.badMessageCheck);
        assertThat(failInfo(post(ir("cmp-b2", secret, true, 50, random(16), new Date())))).isEqualTo(PKIFailureInfo.badMessageCheck);
        assertThat(failInfo(post(ir("cmp-b2", secret, false, 500, random(16), Date.from(Instant.now().minus(Duration.ofHours(1)))))))
                .isEqualTo(PKIFailureInfo.badTime);
        assertThat(failInfo(post(ir("cmp-b2", secret, false, 500, random(4), new Date())))).as("a short transactionID").isEqualTo(PKIFailureInfo.badRequest);
        assertThat(ts.fleet.store().certificates().certificateCount()).as("nothing issued, the secret unused").isEqualTo(before);

        byte[] tid = random(16);
        byte[] first = ir("cmp-b2", secret, false, 500, tid, new Date());
        assertThat(type(post(first))).isEqualTo(String.valueOf(PKIBody.TYPE_INIT_REP));
        String secret2 = secret("cmp-b2-again");
        assertThat(failInfo(post(ir("cmp-b2-again", secret2, false, 500, tid, new Date())))).as("a known transactionID")
                .isEqualTo(PKIFailureInfo.transactionIdInUse);
        assertThat(ts.fleet.store().cmp().cmpTransaction(HexFormat.of().formatHex(tid)).orElseThrow().deviceId()).isEqualTo("cmp-b2");
    }

    /** A certConf in transaction {@code tid} confirming a certificate by this hash, MAC'd with the secret. */
    static byte[] certConf(String device, String secret, byte[] tid, byte[] recipNonce, byte[] hash) throws Exception {
        var status = new org.bouncycastle.asn1.cmp.CertStatus(hash, BigInteger.ZERO);
        return new ProtectedPKIMessageBuilder(PKIHeader.CMP_2000, new GeneralName(new X500Name("CN=" + device)), new GeneralName(new X500Name("CN=fleetpki")))
                .setTransactionID(tid)
                .setSenderNonce(random(16))
                .setRecipNonce(recipNonce)
                .setSenderKID(device.getBytes(java.nio.charset.StandardCharsets.UTF_8))
                .setBody(new PKIBody(PKIBody.TYPE_CERT_CONFIRM, org.bouncycastle.asn1.cmp.CertConfirmContent.getInstance(
                        new org.bouncycastle.asn1.DERSequence(status))))
                .build(new PKMACBuilder(new JcePKMACValuesCalculator().setProvider(new BouncyCastleProvider())).setIterationCount(500)
                        .build(secret.toCharArray()))
                .toASN1Structure().getEncoded();
    }

    @Test
    void aCertConfForAnotherCertificateOrWithAStaleNonceLeavesTheCertificateWaitingToBeRevoked() throws Exception {
        String secret = secret("cmp-b3");
        byte[] tid = random(16);
        PKIMessage ip = post(ir("cmp-b3", secret, false, 500, tid, new Date()));
        assertThat(type(ip)).isEqualTo(String.valueOf(PKIBody.TYPE_INIT_REP));
        byte[] serverNonce = ip.getHeader().getSenderNonce().getOctets();
        assertThat(failInfo(post(certConf("cmp-b3", secret, tid, random(16), new byte[32])))).as("a recipNonce that is not the server's")
                .isEqualTo(PKIFailureInfo.badRecipientNonce);
        assertThat(failInfo(post(certConf("cmp-b3", secret, tid, serverNonce, new byte[32])))).as("another certificate's hash")
                .isEqualTo(PKIFailureInfo.badCertId);
        CmpTransaction t = ts.fleet.store().cmp().cmpTransaction(HexFormat.of().formatHex(tid)).orElseThrow();
        assertThat(t.state()).as("still waiting for a valid certConf").isEqualTo(CmpTransaction.State.ISSUED);
        ts.server.revokeUnconfirmedCmp(Instant.now().plus(Duration.ofMinutes(6)));
        assertThat(ts.fleet.store().certificates().certificate(t.serial()).orElseThrow().revoked()).isTrue();
    }
}
