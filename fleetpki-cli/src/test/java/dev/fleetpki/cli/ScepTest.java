package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fleetpki.kms.KeyAlgorithm;
import java.io.ByteArrayInputStream;
import java.math.BigInteger;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.Date;
import java.util.List;
import java.util.Map;
import org.bouncycastle.asn1.ASN1Encodable;
import org.bouncycastle.asn1.ASN1EncodableVector;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.DEROctetString;
import org.bouncycastle.asn1.DERPrintableString;
import org.bouncycastle.asn1.DERSequence;
import org.bouncycastle.asn1.DERSet;
import org.bouncycastle.asn1.cms.Attribute;
import org.bouncycastle.asn1.cms.AttributeTable;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaCertStore;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.cms.CMSAlgorithm;
import org.bouncycastle.cms.CMSEnvelopedData;
import org.bouncycastle.cms.CMSEnvelopedDataGenerator;
import org.bouncycastle.cms.CMSProcessableByteArray;
import org.bouncycastle.cms.CMSSignedData;
import org.bouncycastle.cms.CMSSignedDataGenerator;
import org.bouncycastle.cms.DefaultSignedAttributeTableGenerator;
import org.bouncycastle.cms.jcajce.JcaSignerInfoGeneratorBuilder;
import org.bouncycastle.cms.jcajce.JceCMSContentEncryptorBuilder;
import org.bouncycastle.cms.jcajce.JceKeyTransEnvelopedRecipient;
import org.bouncycastle.cms.jcajce.JceKeyTransRecipientInfoGenerator;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.operator.jcajce.JcaDigestCalculatorProviderBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SCEP against a running fleetpki with a stock client: micromdm's scepclient (Debian package scep)
 * enrolls with the device's one-time enrollment secret as its challenge password, and is refused
 * with another device's secret and with a secret already used; then a RenewalReq (built as a
 * client builds it, signed by the current certificate) renews, and one signed by a self-signed
 * certificate is refused.
 */
class ScepTest {
    @TempDir static Path dir;
    static TestServer ts;

    @BeforeAll
    static void start() throws Exception {
        ts = TestServer.start(dir, null, """
                enrollment:
                  fleets:
                    pend:
                      accept: []
                      otherwise: pending
                """);
    }

    @AfterAll
    static void stop() {
        if (ts != null) {
            ts.close();
        }
    }

    static String secret(String device) {
        return secretOn(ts, device);
    }

    /** Registers a device on this server's fleet and returns its one-time secret. */
    static String secretOn(TestServer ts, String device) {
        Cli.Result r = Cli.run(ts.home, "device", "add", device, "--enrollment-secret");
        assertThat(r.exit()).as(r.all()).isZero();
        String[] lines = r.out().trim().split("\n");
        return lines[lines.length - 1];
    }

    static Proc.Result scepclient(Path in, String cn, String challenge) throws Exception {
        Files.createDirectories(in);
        return Proc.run(in, Map.of("SSL_CERT_FILE", ts.home.resolve("ca/root.pem").toString()), "scepclient", "-server-url", ts.base + "/scep",
                "-challenge", challenge, "-cn", cn, "-private-key", in.resolve("key.pem").toString(), "-certificate", in.resolve("cert.pem").toString());
    }

    @Test
    void scepclientEnrollsWithItsOneTimeSecretAndOnlyWithIt() throws Exception {
        String s7 = secret("router-7");
        Proc.Result ok = scepclient(dir.resolve("r7"), "router-7", s7);
        assertThat(ok.exit()).as(ok.output()).isZero();
        Path cert = dir.resolve("r7/cert.pem");
        assertThat(Proc.ok(dir, "openssl", "x509", "-in", cert.toString(), "-noout", "-subject", "-ext", "extendedKeyUsage"))
                .contains("CN = router-7").contains("TLS Web Client Authentication");
        Files.writeString(dir.resolve("chain.pem"), Files.readString(ts.home.resolve("ca/issuing.pem")));
        assertThat(Proc.ok(dir, "openssl", "verify", "-CAfile", ts.home.resolve("ca/root.pem").toString(), "-untrusted",
                dir.resolve("chain.pem").toString(), cert.toString())).contains(": OK");

        long before = ts.fleet.store().certificates().certificateCount();
        Proc.Result reused = scepclient(dir.resolve("r7-again"), "router-7", s7);
        assertThat(reused.exit()).as(reused.output()).isNotZero();
        String s8 = secret("router-8");
        Proc.Result foreign = scepclient(dir.resolve("r9"), "router-9", s8);
        assertThat(foreign.exit()).as(foreign.output()).isNotZero();
        assertThat(dir.resolve("r9/cert.pem")).doesNotExist();
        assertThat(ts.fleet.store().certificates().certificateCount()).isEqualTo(before);
        // the refusals used nothing up: router-8's secret still enrolls router-8
        assertThat(scepclient(dir.resolve("r8"), "router-8", s8).exit()).isZero();

        // RenewalReq, signed by router-7's current certificate and key: a certificate for a new key, the same name
        PrivateKey currentKey = (PrivateKey) new JcaPEMKeyConverter().getKeyPair((PEMKeyPair) new PEMParser(
                Files.newBufferedReader(dir.resolve("r7/key.pem"))).readObject()).getPrivate();
        X509Certificate current = parse(Files.readAllBytes(cert));
        KeyPair next = KeyAlgorithm.RSA_2048.generate();
        byte[] csr = new JcaPKCS10CertificationRequestBuilder(new X500Name("CN=router-7"), next.getPublic())
                .build(new JcaContentSignerBuilder("SHA256withRSA").build(next.getPrivate())).getEncoded();
        CMSSignedData answer = post(pkiMessage("17", csr, current, currentKey));
        assertThat(status(answer)).isEqualTo("0");
        byte[] opened = new CMSEnvelopedData((byte[]) answer.getSignedContent().getContent()).getRecipientInfos().getRecipients().iterator().next()
                .getContent(new JceKeyTransEnvelopedRecipient(currentKey));
        X509CertificateHolder renewed = (X509CertificateHolder) new CMSSignedData(opened).getCertificates().getMatches(null).iterator().next();
        assertThat(renewed.getSubject().toString()).isEqualTo("CN=router-7");
        assertThat(renewed.getSubjectPublicKeyInfo().getEncoded()).isEqualTo(next.getPublic().getEncoded());
        // a RenewalReq signed by a self-signed certificate is no renewal: FAILURE badRequest, nothing issued
        long count = ts.fleet.store().certificates().certificateCount();
        KeyPair stranger = KeyAlgorithm.RSA_2048.generate();
        X500Name n = new X500Name("CN=router-7");
        X509Certificate selfSigned = new JcaX509CertificateConverter().getCertificate(new JcaX509v3CertificateBuilder(n, BigInteger.ONE,
                new Date(System.currentTimeMillis() - 60_000), new Date(System.currentTimeMillis() + 3_600_000), n, stranger.getPublic())
                .build(new JcaContentSignerBuilder("SHA256withRSA").build(stranger.getPrivate())));
        CMSSignedData refused = post(pkiMessage("17", csr, selfSigned, stranger.getPrivate()));
        assertThat(status(refused)).isEqualTo("2");
        assertThat(ts.fleet.store().certificates().certificateCount()).isEqualTo(count);
    }

    @Test
    void aFactoryStationSignsPkcsReqsForDevicesOfItsFleetWithoutAChallenge() throws Exception {
        Path st = dir.resolve("station");
        Files.createDirectories(st);
        Proc.ok(st, "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-keyout", "st.key", "-out", "st.pem",
                "-subj", "/CN=line-4");
        assertThat(Cli.run(ts.home, "station", "add", "line-4", "--certificate", st.resolve("st.pem").toString(), "--fleet", "router").exit()).isZero();
        assertThat(Cli.run(ts.home, "device", "add", "router-40", "--model", "router").exit()).isZero();
        assertThat(Cli.run(ts.home, "device", "add", "camera-41", "--model", "camera").exit()).isZero();
        X509Certificate station = parse(Files.readAllBytes(st.resolve("st.pem")));
        PrivateKey stationKey = new JcaPEMKeyConverter().getPrivateKey((PrivateKeyInfo) new PEMParser(
                Files.newBufferedReader(st.resolve("st.key"))).readObject());
        KeyPair device = KeyAlgorithm.RSA_2048.generate();
        for (String[] c : new String[][] {{"router-40", "0"}, {"camera-41", "2"}}) { // inside its fleet: issued; outside: FAILURE
            byte[] csr = new JcaPKCS10CertificationRequestBuilder(new X500Name("CN=" + c[0]), device.getPublic())
                    .build(new JcaContentSignerBuilder("SHA256withRSA").build(device.getPrivate())).getEncoded();
            assertThat(status(post(pkiMessage("19", csr, station, stationKey)))).as(c[0]).isEqualTo(c[1]);
        }
        // a captured message sent again (the same senderNonce) is a replay: FAILURE badMessageCheck, nothing issued
        assertThat(Cli.run(ts.home, "device", "add", "router-42", "--model", "router").exit()).isZero();
        byte[] message = pkiMessage("19", new JcaPKCS10CertificationRequestBuilder(new X500Name("CN=router-42"), device.getPublic())
                .build(new JcaContentSignerBuilder("SHA256withRSA").build(device.getPrivate())).getEncoded(), station, stationKey);
        assertThat(status(post(message))).isEqualTo("0");
        long count = ts.fleet.store().certificates().certificateCount();
        CMSSignedData replayed = post(message);
        assertThat(status(replayed)).isEqualTo("2");
        assertThat(failInfo(replayed)).isEqualTo("1");
        assertThat(ts.fleet.store().certificates().certificateCount()).isEqualTo(count);
    }

    @Test
    void getNextCaCertSaysThereIsNoPublishedSuccessorAndGetCaCapsDoesNotOfferIt() throws Exception {
        HttpResponse<String> next = ts.http.send(HttpRequest.newBuilder(URI.create(ts.base + "/scep?operation=GetNextCACert")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(next.statusCode()).isEqualTo(404);
        assertThat(next.body()).contains("no rollover of CA 'issuing' is published");
        HttpResponse<String> caps = ts.http.send(HttpRequest.newBuilder(URI.create(ts.base + "/scep?operation=GetCACaps")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(caps.body()).contains("Renewal").doesNotContain("GetNextCACert");
    }

    @Test
    void aPendingRequestIsPolledUntilAnOperatorApprovesIt() throws Exception {
        Cli.Result added = Cli.run(ts.home, "device", "add", "pend-1", "--model", "pend", "--enrollment-secret");
        assertThat(added.exit()).as(added.all()).isZero();
        String[] lines = added.out().trim().split("\n");
        KeyPair k = KeyAlgorithm.RSA_2048.generate();
        X509Certificate self = selfSigned("CN=pend-1", k);
        byte[] csr = new JcaPKCS10CertificationRequestBuilder(new X500Name("CN=pend-1"), k.getPublic())
                .addAttribute(PKCSObjectIdentifiers.pkcs_9_at_challengePassword, new DERPrintableString(lines[lines.length - 1]))
                .build(new JcaContentSignerBuilder("SHA256withRSA").build(k.getPrivate())).getEncoded();
        assertThat(status(post(pkiMessage("19", csr, self, k.getPrivate())))).isEqualTo("3");
        X500Name issuer = new X500Name(ts.fleet.store().ca("issuing").orElseThrow().certificate().getSubjectX500Principal().getName());
        byte[] poll = new DERSequence(new ASN1Encodable[] {issuer, new X500Name("CN=pend-1")}).getEncoded();
        assertThat(status(post(pkiMessage("20", poll, self, k.getPrivate())))).as("still pending").isEqualTo("3");

        String id = ts.fleet.store().requests().pendingRequest("pend-1", "device").orElseThrow().id();
        assertThat(Cli.run(ts.home, "request", "approve", id).exit()).isZero();
        CMSSignedData issued = post(pkiMessage("20", poll, self, k.getPrivate()));
        assertThat(status(issued)).isEqualTo("0");
        byte[] opened = new CMSEnvelopedData((byte[]) issued.getSignedContent().getContent()).getRecipientInfos().getRecipients().iterator().next()
                .getContent(new JceKeyTransEnvelopedRecipient(k.getPrivate()));
        X509CertificateHolder cert = (X509CertificateHolder) new CMSSignedData(opened).getCertificates().getMatches(null).iterator().next();
        assertThat(cert.getSubject().toString()).isEqualTo("CN=pend-1");
        // polled with another key: not this requester's certificate
        KeyPair other = KeyAlgorithm.RSA_2048.generate();
        assertThat(status(post(pkiMessage("20", poll, selfSigned("CN=pend-1", other), other.getPrivate())))).isEqualTo("2");
    }

    static X509Certificate selfSigned(String dn, KeyPair k) throws Exception {
        X500Name n = new X500Name(dn);
        return new JcaX509CertificateConverter().getCertificate(new JcaX509v3CertificateBuilder(n, BigInteger.valueOf(System.nanoTime()),
                new Date(System.currentTimeMillis() - 60_000), new Date(System.currentTimeMillis() + 3_600_000), n, k.getPublic())
                .build(new JcaContentSignerBuilder("SHA256withRSA").build(k.getPrivate())));
    }

    static X509Certificate parse(byte[] pem) throws Exception {
        return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(new ByteArrayInputStream(pem));
    }

    /** The RA certificate from GetCACert (the first of its certs-only answer). */
    static X509Certificate ra() throws Exception {
        HttpResponse<byte[]> r = ts.http.send(HttpRequest.newBuilder(URI.create(ts.base + "/scep?operation=GetCACert")).build(),
                HttpResponse.BodyHandlers.ofByteArray());
        X509CertificateHolder h = (X509CertificateHolder) new CMSSignedData(r.body()).getCertificates().getMatches(null).iterator().next();
        return new JcaX509CertificateConverter().getCertificate(h);
    }

    /** A pkiMessage as a SCEP client builds it: the CSR enveloped (AES) to the RA, signed with this certificate and key. */
    static byte[] pkiMessage(String type, byte[] csr, X509Certificate signer, PrivateKey key) throws Exception {
        CMSEnvelopedDataGenerator env = new CMSEnvelopedDataGenerator();
        env.addRecipientInfoGenerator(new JceKeyTransRecipientInfoGenerator(ra()));
        byte[] enveloped = env.generate(new CMSProcessableByteArray(csr), new JceCMSContentEncryptorBuilder(CMSAlgorithm.AES128_CBC).build()).getEncoded();
        ASN1EncodableVector v = new ASN1EncodableVector();
        v.add(new Attribute(new ASN1ObjectIdentifier("2.16.840.1.113733.1.9.2"), new DERSet(new DERPrintableString(type))));
        v.add(new Attribute(new ASN1ObjectIdentifier("2.16.840.1.113733.1.9.7"), new DERSet(new DERPrintableString("renew-" + System.nanoTime()))));
        v.add(new Attribute(new ASN1ObjectIdentifier("2.16.840.1.113733.1.9.5"), new DERSet(new DEROctetString(nonce()))));
        CMSSignedDataGenerator gen = new CMSSignedDataGenerator();
        gen.addSignerInfoGenerator(new JcaSignerInfoGeneratorBuilder(new JcaDigestCalculatorProviderBuilder().build())
                .setSignedAttributeGenerator(new DefaultSignedAttributeTableGenerator(new AttributeTable(v)))
                .build(new JcaContentSignerBuilder("SHA256withRSA").build(key), signer));
        gen.addCertificates(new JcaCertStore(List.of(signer)));
        return gen.generate(new CMSProcessableByteArray(enveloped), true).getEncoded();
    }

    static CMSSignedData post(byte[] message) throws Exception {
        HttpResponse<byte[]> r = ts.http.send(HttpRequest.newBuilder(URI.create(ts.base + "/scep?operation=PKIOperation"))
                .header("Content-Type", "application/x-pki-message").POST(HttpRequest.BodyPublishers.ofByteArray(message)).build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertThat(r.statusCode()).isEqualTo(200);
        return new CMSSignedData(r.body());
    }

    /** The CertRep's pkiStatus: 0 SUCCESS, 2 FAILURE, 3 PENDING. */
    static String status(CMSSignedData rep) {
        return rep.getSignerInfos().getSigners().iterator().next().getSignedAttributes().get(new ASN1ObjectIdentifier("2.16.840.1.113733.1.9.3"))
                .getAttrValues().getObjectAt(0).toString();
    }

    /** The CertRep's failInfo: 0 badAlg, 1 badMessageCheck, 2 badRequest, 3 badTime, 4 badCertId. */
    static String failInfo(CMSSignedData rep) {
        return rep.getSignerInfos().getSigners().iterator().next().getSignedAttributes().get(new ASN1ObjectIdentifier("2.16.840.1.113733.1.9.4"))
                .getAttrValues().getObjectAt(0).toString();
    }

    /** A new random senderNonce, as every client message carries (the server refuses one it has seen). */
    static byte[] nonce() {
        byte[] n = new byte[16];
        new java.security.SecureRandom().nextBytes(n);
        return n;
    }
}
