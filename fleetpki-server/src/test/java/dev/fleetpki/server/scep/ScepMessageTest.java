package dev.fleetpki.server.scep;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fleetpki.kms.DefaultKeyManager;
import dev.fleetpki.kms.KeyAlgorithm;
import dev.fleetpki.kms.KeyRef;
import dev.fleetpki.kms.SecretSource;
import dev.fleetpki.kms.SigningKey;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.ASN1Encodable;
import org.bouncycastle.asn1.ASN1EncodableVector;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.DEROctetString;
import org.bouncycastle.asn1.DERPrintableString;
import org.bouncycastle.asn1.DERSet;
import org.bouncycastle.asn1.cms.Attribute;
import org.bouncycastle.asn1.cms.AttributeTable;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
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
import org.bouncycastle.cms.SignerInformation;
import org.bouncycastle.cms.jcajce.JcaSignerInfoGeneratorBuilder;
import org.bouncycastle.cms.jcajce.JcaSimpleSignerInfoVerifierBuilder;
import org.bouncycastle.cms.jcajce.JceCMSContentEncryptorBuilder;
import org.bouncycastle.cms.jcajce.JceKeyTransEnvelopedRecipient;
import org.bouncycastle.cms.jcajce.JceKeyTransRecipientInfoGenerator;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.operator.jcajce.JcaDigestCalculatorProviderBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The SCEP message codec, driven as a SCEP client drives it (a self-signed requester certificate,
 * the CSR with its challengePassword, AES to the RA's RSA key): the request is read back, a
 * CertRep comes out that the client can check and open, and each broken request gets its failInfo.
 */
class ScepMessageTest {
    @TempDir static Path dir;
    static SigningKey raKey;
    static X509Certificate ra;
    static KeyPair client;
    static X509Certificate clientCert;

    @BeforeAll
    static void keys() throws Exception {
        Files.writeString(dir.resolve("pass"), "ra passphrase\n");
        raKey = new DefaultKeyManager(dir).create(KeyRef.parse("file:ra.p8"), KeyAlgorithm.RSA_2048, new SecretSource.File(dir.resolve("pass")));
        ra = selfSigned("CN=fleetpki SCEP RA", raKey.publicKey(), raKey.contentSigner());
        client = rsa();
        clientCert = selfSigned("CN=router-7", client.getPublic(), new JcaContentSignerBuilder("SHA256withRSA").build(client.getPrivate()));
    }

    static KeyPair rsa() throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
        g.initialize(2048);
        return g.generateKeyPair();
    }

    static X509Certificate selfSigned(String dn, PublicKey key, ContentSigner signer) throws Exception {
        X500Name n = new X500Name(dn);
        return new JcaX509CertificateConverter().getCertificate(new JcaX509v3CertificateBuilder(n, BigInteger.valueOf(new SecureRandom().nextInt(1 << 30)),
                new Date(System.currentTimeMillis() - 60_000), new Date(System.currentTimeMillis() + 86_400_000L), n, key).build(signer));
    }

    static byte[] csr() throws Exception {
        return new JcaPKCS10CertificationRequestBuilder(new X500Name("CN=router-7"), client.getPublic())
                .addAttribute(PKCSObjectIdentifiers.pkcs_9_at_challengePassword, new DERPrintableString("fpe_0123_secret"))
                .build(new JcaContentSignerBuilder("SHA256withRSA").build(client.getPrivate())).getEncoded();
    }

    /** A pkiMessage as a client builds it: the content enveloped to {@code recipient}, signed by the client's key with {@code signerCert}. */
    static byte[] request(String type, byte[] content, X509Certificate recipient, ASN1ObjectIdentifier encryption, PrivateKey signingKey,
                          X509Certificate signerCert, byte[] nonce) throws Exception {
        CMSEnvelopedDataGenerator env = new CMSEnvelopedDataGenerator();
        env.addRecipientInfoGenerator(new JceKeyTransRecipientInfoGenerator(recipient));
        byte[] enveloped = env.generate(new CMSProcessableByteArray(content), new JceCMSContentEncryptorBuilder(encryption).build()).getEncoded();
        ASN1EncodableVector v = new ASN1EncodableVector();
        v.add(attr(ScepMessage.MESSAGE_TYPE, new DERPrintableString(type)));
        v.add(attr(ScepMessage.TRANSACTION_ID, new DERPrintableString("tx-42")));
        v.add(attr(ScepMessage.SENDER_NONCE, new DEROctetString(nonce)));
        CMSSignedDataGenerator gen = new CMSSignedDataGenerator();
        gen.addSignerInfoGenerator(new JcaSignerInfoGeneratorBuilder(new JcaDigestCalculatorProviderBuilder().build())
                .setSignedAttributeGenerator(new DefaultSignedAttributeTableGenerator(new AttributeTable(v)))
                .build(new JcaContentSignerBuilder("SHA256withRSA").build(signingKey), signerCert));
        gen.addCertificates(new JcaCertStore(List.of(signerCert)));
        return gen.generate(new CMSProcessableByteArray(enveloped), true).getEncoded();
    }

    static byte[] ecSigned(byte[] csr) throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(256);
        KeyPair ec = g.generateKeyPair();
        X509Certificate cert = selfSigned("CN=router-ec", ec.getPublic(), new JcaContentSignerBuilder("SHA256withECDSA").build(ec.getPrivate()));
        CMSEnvelopedDataGenerator env = new CMSEnvelopedDataGenerator();
        env.addRecipientInfoGenerator(new JceKeyTransRecipientInfoGenerator(ra));
        byte[] enveloped = env.generate(new CMSProcessableByteArray(csr), new JceCMSContentEncryptorBuilder(CMSAlgorithm.AES128_CBC).build()).getEncoded();
        ASN1EncodableVector v = new ASN1EncodableVector();
        v.add(attr(ScepMessage.MESSAGE_TYPE, new DERPrintableString("19")));
        v.add(attr(ScepMessage.TRANSACTION_ID, new DERPrintableString("tx-ec")));
        v.add(attr(ScepMessage.SENDER_NONCE, new DEROctetString(NONCE)));
        CMSSignedDataGenerator gen = new CMSSignedDataGenerator();
        gen.addSignerInfoGenerator(new JcaSignerInfoGeneratorBuilder(new JcaDigestCalculatorProviderBuilder().build())
                .setSignedAttributeGenerator(new DefaultSignedAttributeTableGenerator(new AttributeTable(v)))
                .build(new JcaContentSignerBuilder("SHA256withECDSA").build(ec.getPrivate()), cert));
        gen.addCertificates(new JcaCertStore(List.of(cert)));
        return gen.generate(new CMSProcessableByteArray(enveloped), true).getEncoded();
    }

    static Attribute attr(ASN1ObjectIdentifier type, ASN1Encodable value) {
        return new Attribute(type, new DERSet(value));
    }

    static final byte[] NONCE = "0123456789abcdef".getBytes();

    @Test
    void aPkcsReqIsReadAndItsCertRepOpensForTheClient() throws Exception {
        byte[] csr = csr();
        ScepMessage.Request req = ScepMessage.read(request("19", csr, ra, CMSAlgorithm.AES128_CBC, client.getPrivate(), clientCert, NONCE), ra,
                raKey.handle(), raKey.provider());
        assertThat(req.type()).isEqualTo(ScepMessage.Type.PKCS_REQ);
        assertThat(req.transactionId()).isEqualTo("tx-42");
        assertThat(req.senderNonce()).isEqualTo(NONCE);
        assertThat(req.content()).isEqualTo(csr);
        assertThat(req.signer()).isEqualTo(clientCert);

        X509Certificate issued = selfSigned("CN=router-7,O=issued", client.getPublic(), raKey.contentSigner());
        CMSSignedData rep = new CMSSignedData(ScepMessage.success(req, List.of(issued, ra), ra, raKey));
        SignerInformation si = rep.getSignerInfos().getSigners().iterator().next();
        assertThat(si.verify(new JcaSimpleSignerInfoVerifierBuilder().build(ra))).isTrue();
        AttributeTable a = si.getSignedAttributes();
        assertThat(a.get(ScepMessage.MESSAGE_TYPE).getAttrValues().getObjectAt(0).toString()).isEqualTo("3");
        assertThat(a.get(ScepMessage.PKI_STATUS).getAttrValues().getObjectAt(0).toString()).isEqualTo("0");
        assertThat(a.get(ScepMessage.TRANSACTION_ID).getAttrValues().getObjectAt(0).toString()).isEqualTo("tx-42");
        assertThat(((DEROctetString) a.get(ScepMessage.RECIPIENT_NONCE).getAttrValues().getObjectAt(0)).getOctets()).isEqualTo(NONCE);
        byte[] opened = new CMSEnvelopedData((byte[]) rep.getSignedContent().getContent()).getRecipientInfos().getRecipients().iterator().next()
                .getContent(new JceKeyTransEnvelopedRecipient(client.getPrivate()));
        assertThat(new CMSSignedData(opened).getCertificates().getMatches(null)).extracting(h -> ((X509CertificateHolder) h).getSubject().toString())
                .containsExactlyInAnyOrder("CN=router-7,O=issued", "CN=fleetpki SCEP RA");

        CMSSignedData pending = new CMSSignedData(ScepMessage.pending(req, ra, raKey));
        assertThat(pending.getSignerInfos().getSigners().iterator().next().getSignedAttributes().get(ScepMessage.PKI_STATUS).getAttrValues()
                .getObjectAt(0).toString()).isEqualTo("3");
        CMSSignedData failed = new CMSSignedData(ScepMessage.failure(req, ScepMessage.FailInfo.BAD_REQUEST, ra, raKey));
        AttributeTable f = failed.getSignerInfos().getSigners().iterator().next().getSignedAttributes();
        assertThat(f.get(ScepMessage.PKI_STATUS).getAttrValues().getObjectAt(0).toString()).isEqualTo("2");
        assertThat(f.get(ScepMessage.FAIL_INFO).getAttrValues().getObjectAt(0).toString()).isEqualTo("2");
    }

    @Test
    void eachBrokenRequestGetsItsFailInfo() throws Exception {
        byte[] csr = csr();
        KeyPair other = rsa();
        X509Certificate otherRa = selfSigned("CN=another RA", other.getPublic(), new JcaContentSignerBuilder("SHA256withRSA").build(other.getPrivate()));
        record Case(String what, byte[] message, ScepMessage.FailInfo info, boolean answerable) {}
        for (Case c : List.of(
                new Case("not DER at all", "GET / HTTP/1.0".getBytes(), ScepMessage.FailInfo.BAD_REQUEST, false),
                new Case("signed by another key than its certificate's", request("19", csr, ra, CMSAlgorithm.AES128_CBC, other.getPrivate(), clientCert, NONCE),
                        ScepMessage.FailInfo.BAD_MESSAGE_CHECK, true),
                new Case("encrypted to another RA", request("19", csr, otherRa, CMSAlgorithm.AES128_CBC, client.getPrivate(), clientCert, NONCE),
                        ScepMessage.FailInfo.BAD_MESSAGE_CHECK, true),
                new Case("RC2, which nobody should use", request("19", csr, ra, PKCSObjectIdentifiers.RC2_CBC, client.getPrivate(), clientCert, NONCE),
                        ScepMessage.FailInfo.BAD_ALG, true),
                new Case("signed with an EC key, which no answer can be encrypted to", ecSigned(csr), ScepMessage.FailInfo.BAD_ALG, true),
                new Case("an unknown message type", request("42", csr, ra, CMSAlgorithm.AES128_CBC, client.getPrivate(), clientCert, NONCE),
                        ScepMessage.FailInfo.BAD_REQUEST, true))) {
            assertThatThrownBy(() -> ScepMessage.read(c.message(), ra, raKey.handle(), raKey.provider())).as(c.what())
                    .isInstanceOfSatisfying(ScepMessage.Failure.class, e -> {
                        assertThat(e.info()).as(c.what()).isEqualTo(c.info());
                        assertThat(e.request() != null).as(c.what() + ": answerable with a signed FAILURE").isEqualTo(c.answerable());
                    });
        }
        // triple DES and single DES, which older clients send (micromdm's scepclient 2.1: nothing else), are read
        for (ASN1ObjectIdentifier des : List.of(CMSAlgorithm.DES_EDE3_CBC, new ASN1ObjectIdentifier("1.3.14.3.2.7"))) {
            assertThat(ScepMessage.read(request("19", csr, ra, des, client.getPrivate(), clientCert, NONCE), ra, raKey.handle(), raKey.provider())
                    .content()).isEqualTo(csr);
        }
    }
}
