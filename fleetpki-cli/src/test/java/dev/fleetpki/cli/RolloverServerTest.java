package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fleetpki.core.Actor;
import dev.fleetpki.device.DeviceIdentity;
import dev.fleetpki.device.EstClient;
import dev.fleetpki.kms.Pem;
import dev.fleetpki.server.FleetServer;
import dev.fleetpki.server.RevocationHttp;
import dev.fleetpki.server.ServerIdentity;
import java.io.ByteArrayInputStream;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.cmp.GenMsgContent;
import org.bouncycastle.asn1.cmp.GenRepContent;
import org.bouncycastle.asn1.cmp.InfoTypeAndValue;
import org.bouncycastle.asn1.cmp.PKIBody;
import org.bouncycastle.asn1.cmp.PKIHeader;
import org.bouncycastle.asn1.cmp.PKIMessage;
import org.bouncycastle.asn1.cmp.RootCaKeyUpdateContent;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.cmp.ProtectedPKIMessageBuilder;
import org.bouncycastle.cert.crmf.PKMACBuilder;
import org.bouncycastle.cert.crmf.jcajce.JcePKMACValuesCalculator;
import org.bouncycastle.cms.CMSSignedData;
import org.bouncycastle.cms.SignerInformation;
import org.bouncycastle.cms.jcajce.JcaSimpleSignerInfoVerifierBuilder;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A root and an issuing CA rolled over under a running server, as a fleet would: a device enrolled
 * under root 1 learns root 2 from EST cacerts through the new-with-old cross certificate, renews
 * under root 2 (issuing-2), and still verifies a server whose certificate comes from the new
 * hierarchy; a device that never learned root 2 connects too, because the server presents the
 * cross certificate. CMP genm rootCaCert answers the root CA key update; SCEP GetCACaps lists
 * GetNextCACert while the issuing CA's successor is published, and GetNextCACert returns it signed
 * by the current RA.
 */
class RolloverServerTest {
    @TempDir Path dir;

    @Test
    void aDeviceEnrolledUnderRootOneRenewsUnderRootTwoAndStillVerifiesTheServer() throws Exception {
        try (TestServer ts = TestServer.start(dir, null)) {
            DeviceIdentity dev = ts.enrolledDevice(dir.resolve("dev"), "roll-1", null);
            X509Certificate root1 = dev.anchor();
            URI estUri = URI.create(ts.base + "/.well-known/est");
            assertThat(dev.refreshAnchors(new EstClient(estUri, dev.anchors(), Duration.ofSeconds(10)), Clock.systemUTC()))
                    .as("no rollover: nothing to learn").isEmpty();
            assertThat(rootKeyUpdate(ts, "roll-1")).as("no rollover: the value is absent").isNull();

            Cli.Result root = Cli.run(ts.home, "ca", "rollover", "--name", "root", "--to", "switched");
            assertThat(root.exit()).as(root.all()).isZero();
            X509Certificate root2 = ts.fleet.store().ca("root-2").orElseThrow().certificate();

            RootCaKeyUpdateContent update = rootKeyUpdate(ts, "roll-1");
            assertThat(update).isNotNull();
            assertThat(x509(update.getNewWithNew().getEncoded())).isEqualTo(root2);
            X509Certificate newWithOld = x509(update.getNewWithOld().getEncoded());
            newWithOld.verify(root1.getPublicKey());
            assertThat(newWithOld.getPublicKey()).isEqualTo(root2.getPublicKey());
            x509(update.getOldWithNew().getEncoded()).verify(root2.getPublicKey());

            List<X509Certificate> learned = dev.refreshAnchors(new EstClient(estUri, dev.anchors(), Duration.ofSeconds(10)), Clock.systemUTC());
            assertThat(learned).as("learned through new-with-old from cacerts").containsExactly(root2);
            assertThat(dev.anchors()).containsExactly(root1, root2);

            Cli.Result published = Cli.run(ts.home, "ca", "rollover", "--name", "issuing");
            assertThat(published.exit()).as(published.all()).isZero();
            assertThat(scep(ts, "GetCACaps")).contains("GetNextCACert");
            CMSSignedData next = new CMSSignedData(scepBytes(ts, "GetNextCACert"));
            SignerInformation signer = next.getSignerInfos().getSigners().iterator().next();
            X509CertificateHolder ra = (X509CertificateHolder) next.getCertificates().getMatches(signer.getSID()).iterator().next();
            assertThat(signer.verify(new JcaSimpleSignerInfoVerifierBuilder().build(ra))).as("signed by the current RA").isTrue();
            assertThat(ra.getSubject().toString()).contains("SCEP RA (issuing)");
            CMSSignedData inner = new CMSSignedData((byte[]) next.getSignedContent().getContent());
            List<String> nextSubjects = new ArrayList<>();
            for (Object h : inner.getCertificates().getMatches(null)) {
                nextSubjects.add(((X509CertificateHolder) h).getSubject().toString());
            }
            assertThat(nextSubjects).anyMatch(sub -> sub.contains("Test Issuing CA G2"));

            Cli.Result switched = Cli.run(ts.home, "ca", "rollover", "--name", "issuing", "--to", "switched");
            assertThat(switched.exit()).as(switched.all()).isZero();
            ts.fleet.cas().rolloversChanged(); // what the running server does by itself within StoredCaDirectory.ROLLOVER_RECHECK
            assertThat(scep(ts, "GetCACaps")).as("switched: nothing next").doesNotContain("GetNextCACert");

            DeviceIdentity.Result renewed = dev.renew(new EstClient(estUri, dev.anchors(), Duration.ofSeconds(10)), Clock.systemUTC(), true);
            assertThat(renewed.issued()).isTrue();
            X509Certificate leaf = renewed.chain().getFirst();
            assertThat(leaf.getIssuerX500Principal().getName()).contains("CN=Test Issuing CA G2");
            assertThat(renewed.chain().getLast().getIssuerX500Principal()).isEqualTo(root2.getSubjectX500Principal());

            // OCSP answers for the successor's certificates without a restart (the responder finds the new CA)
            java.nio.file.Files.writeString(dir.resolve("leaf.pem"), Pem.encode("CERTIFICATE", leaf.getEncoded()));
            try (var http = RevocationHttp.start(ts.services.revocation(), ts.fleet.store(), ts.fleet.store().revocation(),
                    ts.services.metrics(), "127.0.0.1", 0)) {
                String ocsp = Proc.run(ts.home, java.util.Map.of(), "openssl", "ocsp", "-issuer", "ca/issuing-2.pem", "-cert",
                        dir.resolve("leaf.pem").toString(), "-url", "http://127.0.0.1:" + http.port() + "/ocsp", "-CAfile", "ca/root-2.pem").output();
                assertThat(ocsp).contains("Response verify OK").contains("leaf.pem: good");
            }

            // a server whose certificate comes from the new hierarchy
            ServerIdentity.Loaded id2 = ServerIdentity.ensure(ts.services, "pki2.fleet.example", Actor.operator("test"));
            assertThat(id2.certificate().getIssuerX500Principal().getName()).contains("CN=Test Issuing CA G2");
            try (FleetServer second = FleetServer.start(ts.services, id2, "127.0.0.1", 0)) {
                URI est2 = URI.create("https://127.0.0.1:" + second.port() + "/.well-known/est");
                assertThat(new EstClient(est2, dev.anchors(), Duration.ofSeconds(10)).cacerts()).as("the device that learned root 2").isNotEmpty();
                assertThat(new EstClient(est2, root1, Duration.ofSeconds(10)).cacerts())
                        .as("a device that trusts only root 1, through the cross certificate the server presents").isNotEmpty();
                String sClient = Proc.run(ts.home, java.util.Map.of(), "sh", "-c", "openssl s_client -connect 127.0.0.1:" + second.port()
                        + " -CAfile ca/root.pem -verify_return_error </dev/null 2>&1").output();
                assertThat(sClient).as("openssl trusting only root 1").contains("Verify return code: 0 (ok)");
            }
        }
    }

    private static X509Certificate x509(byte[] der) throws Exception {
        return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(new ByteArrayInputStream(der));
    }

    /** CMP genm asking for the root CA key update (RFC 9483 4.3.2), MAC'd with a fresh one-time secret of the device; null when absent. */
    private static RootCaKeyUpdateContent rootKeyUpdate(TestServer ts, String device) throws Exception {
        Cli.Result sec = Cli.run(ts.home, "device", "secret", device);
        assertThat(sec.exit()).as(sec.all()).isZero();
        String secret = sec.out().trim();
        PKIMessage genm = new ProtectedPKIMessageBuilder(PKIHeader.CMP_2000, new GeneralName(new X500Name("CN=" + device)),
                new GeneralName(new X500Name("CN=fleetpki")))
                .setTransactionID(CmpTest.random(16))
                .setSenderNonce(CmpTest.random(16))
                .setSenderKID(device.getBytes(java.nio.charset.StandardCharsets.UTF_8))
                .setMessageTime(new Date())
                .setBody(new PKIBody(PKIBody.TYPE_GEN_MSG, new GenMsgContent(new InfoTypeAndValue(
                        new org.bouncycastle.asn1.ASN1ObjectIdentifier("1.3.6.1.5.5.7.4.20")))))
                .build(new PKMACBuilder(new JcePKMACValuesCalculator().setProvider(new BouncyCastleProvider())).setIterationCount(1000)
                        .build(secret.toCharArray()))
                .toASN1Structure();
        HttpResponse<byte[]> r = ts.http.send(HttpRequest.newBuilder(URI.create(ts.base + "/.well-known/cmp"))
                .header("Content-Type", "application/pkixcmp").POST(HttpRequest.BodyPublishers.ofByteArray(genm.getEncoded())).build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertThat(r.statusCode()).isEqualTo(200);
        PKIMessage answer = PKIMessage.getInstance(r.body());
        assertThat(answer.getBody().getType()).as(CmpTest.type(answer)).isEqualTo(PKIBody.TYPE_GEN_REP);
        InfoTypeAndValue itv = GenRepContent.getInstance(answer.getBody().getContent()).toInfoTypeAndValueArray()[0];
        assertThat(itv.getInfoType().getId()).as("id-it-rootCaKeyUpdate").isEqualTo("1.3.6.1.5.5.7.4.18");
        return itv.getInfoValue() == null ? null : RootCaKeyUpdateContent.getInstance(itv.getInfoValue());
    }

    private static String scep(TestServer ts, String operation) throws Exception {
        return new String(scepBytes(ts, operation), java.nio.charset.StandardCharsets.US_ASCII);
    }

    private static byte[] scepBytes(TestServer ts, String operation) throws Exception {
        HttpResponse<byte[]> r = ts.http.send(HttpRequest.newBuilder(URI.create(ts.base + "/scep?operation=" + operation)).GET().build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertThat(r.statusCode()).as(new String(r.body())).isEqualTo(200);
        return r.body();
    }
}
