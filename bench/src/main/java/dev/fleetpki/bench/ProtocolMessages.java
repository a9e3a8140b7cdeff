package dev.fleetpki.bench;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.ASN1EncodableVector;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.DEROctetString;
import org.bouncycastle.asn1.DERPrintableString;
import org.bouncycastle.asn1.DERSet;
import org.bouncycastle.asn1.cmp.CMPObjectIdentifiers;
import org.bouncycastle.asn1.cmp.CertRepMessage;
import org.bouncycastle.asn1.cmp.InfoTypeAndValue;
import org.bouncycastle.asn1.cmp.PKIBody;
import org.bouncycastle.asn1.cmp.PKIHeader;
import org.bouncycastle.asn1.cmp.PKIMessage;
import org.bouncycastle.asn1.cmp.PKIStatus;
import org.bouncycastle.asn1.cms.Attribute;
import org.bouncycastle.asn1.cms.AttributeTable;
import org.bouncycastle.asn1.crmf.CertReqMessages;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.cert.cmp.ProtectedPKIMessageBuilder;
import org.bouncycastle.cert.crmf.CertificateRequestMessageBuilder;
import org.bouncycastle.cert.crmf.PKMACBuilder;
import org.bouncycastle.cert.crmf.jcajce.JcePKMACValuesCalculator;
import org.bouncycastle.cert.jcajce.JcaCertStore;
import org.bouncycastle.cms.CMSAlgorithm;
import org.bouncycastle.cms.CMSEnvelopedDataGenerator;
import org.bouncycastle.cms.CMSProcessableByteArray;
import org.bouncycastle.cms.CMSSignedData;
import org.bouncycastle.cms.CMSSignedDataGenerator;
import org.bouncycastle.cms.DefaultSignedAttributeTableGenerator;
import org.bouncycastle.cms.SignerInformation;
import org.bouncycastle.cms.jcajce.JcaSignerInfoGeneratorBuilder;
import org.bouncycastle.cms.jcajce.JceCMSContentEncryptorBuilder;
import org.bouncycastle.cms.jcajce.JceKeyTransRecipientInfoGenerator;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.operator.jcajce.JcaDigestCalculatorProviderBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;

/**
 * Requests as SCEP and CMP clients send them, for the enrollment benchmark: a SCEP PKCSReq with
 * the device's one-time secret as challengePassword (RFC 8894: the CSR enveloped with AES to the
 * RA, signed by the requester's throwaway RSA certificate), and a CMP ir protected by a PBM MAC
 * with the secret (RFC 9483 4.1.5, what {@code openssl cmp -secret} sends), asking for implicit
 * confirmation. And the checks that an answer is a success.
 */
final class ProtocolMessages {
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final BouncyCastleProvider BC = new BouncyCastleProvider();
    static final ASN1ObjectIdentifier MESSAGE_TYPE = new ASN1ObjectIdentifier("2.16.840.1.113733.1.9.2");
    static final ASN1ObjectIdentifier PKI_STATUS = new ASN1ObjectIdentifier("2.16.840.1.113733.1.9.3");
    static final ASN1ObjectIdentifier SENDER_NONCE = new ASN1ObjectIdentifier("2.16.840.1.113733.1.9.5");
    static final ASN1ObjectIdentifier TRANSACTION_ID = new ASN1ObjectIdentifier("2.16.840.1.113733.1.9.7");

    private ProtocolMessages() {}

    static byte[] random(int n) {
        byte[] b = new byte[n];
        RANDOM.nextBytes(b);
        return b;
    }

    /** A SCEP PKCSReq for {@code device}: its CSR (key {@code certified}) carries the secret; signed by {@code signer} (RSA). */
    static byte[] scepPkcsReq(String device, String secret, KeyPair certified, ContentSigner csrSigner, X509Certificate ra,
                              X509Certificate signerCert, KeyPair signer) throws Exception {
        byte[] csr = new JcaPKCS10CertificationRequestBuilder(new X500Name("CN=" + device), certified.getPublic())
                .addAttribute(PKCSObjectIdentifiers.pkcs_9_at_challengePassword, new DERPrintableString(secret))
                .build(csrSigner).getEncoded();
        CMSEnvelopedDataGenerator env = new CMSEnvelopedDataGenerator();
        env.addRecipientInfoGenerator(new JceKeyTransRecipientInfoGenerator(ra));
        byte[] enveloped = env.generate(new CMSProcessableByteArray(csr), new JceCMSContentEncryptorBuilder(CMSAlgorithm.AES128_CBC).build())
                .getEncoded();
        ASN1EncodableVector v = new ASN1EncodableVector();
        v.add(new Attribute(MESSAGE_TYPE, new DERSet(new DERPrintableString("19"))));
        v.add(new Attribute(TRANSACTION_ID, new DERSet(new DERPrintableString(new BigInteger(1, random(16)).toString(16)))));
        v.add(new Attribute(SENDER_NONCE, new DERSet(new DEROctetString(random(16)))));
        CMSSignedDataGenerator gen = new CMSSignedDataGenerator();
        gen.addSignerInfoGenerator(new JcaSignerInfoGeneratorBuilder(new JcaDigestCalculatorProviderBuilder().build())
                .setSignedAttributeGenerator(new DefaultSignedAttributeTableGenerator(new AttributeTable(v)))
                .build(new JcaContentSignerBuilder("SHA256withRSA").build(signer.getPrivate()), signerCert));
        gen.addCertificates(new JcaCertStore(List.of(signerCert)));
        return gen.generate(new CMSProcessableByteArray(enveloped), true).getEncoded();
    }

    /** Whether a SCEP CertRep says SUCCESS (pkiStatus 0). */
    static boolean scepSuccess(byte[] answer) {
        try {
            SignerInformation si = new CMSSignedData(answer).getSignerInfos().getSigners().iterator().next();
            Attribute status = si.getSignedAttributes().get(PKI_STATUS);
            return status != null && "0".equals(DERPrintableString.getInstance(status.getAttrValues().getObjectAt(0)).getString());
        } catch (Exception e) {
            return false;
        }
    }

    /** A CMP ir for {@code device} (key {@code certified}), MAC'd with its secret by PBM (500 iterations), asking for implicitConfirm. */
    static byte[] cmpIr(String device, String secret, KeyPair certified, ContentSigner popSigner) throws Exception {
        var req = new CertificateRequestMessageBuilder(BigInteger.ZERO)
                .setPublicKey(SubjectPublicKeyInfo.getInstance(certified.getPublic().getEncoded()))
                .setSubject(new X500Name("CN=" + device))
                .setProofOfPossessionSigningKeySigner(popSigner);
        return new ProtectedPKIMessageBuilder(PKIHeader.CMP_2000, new GeneralName(new X500Name("CN=" + device)),
                new GeneralName(new X500Name("CN=fleetpki")))
                .setTransactionID(random(16))
                .setSenderNonce(random(16))
                .setSenderKID(device.getBytes(StandardCharsets.UTF_8))
                .addGeneralInfo(new InfoTypeAndValue(CMPObjectIdentifiers.it_implicitConfirm, org.bouncycastle.asn1.DERNull.INSTANCE))
                .setBody(new PKIBody(PKIBody.TYPE_INIT_REQ, new CertReqMessages(req.build().toASN1Structure())))
                .build(new PKMACBuilder(new JcePKMACValuesCalculator().setProvider(BC)).setIterationCount(500).build(secret.toCharArray()))
                .toASN1Structure().getEncoded();
    }

    /** Whether a CMP answer is an ip granting a certificate. */
    static boolean cmpSuccess(byte[] answer) {
        try {
            PKIMessage m = PKIMessage.getInstance(answer);
            return m.getBody().getType() == PKIBody.TYPE_INIT_REP
                    && CertRepMessage.getInstance(m.getBody().getContent()).getResponse()[0].getStatus().getStatus().intValue() == PKIStatus.GRANTED;
        } catch (RuntimeException e) {
            return false;
        }
    }
}
