package dev.fleetpki.server.cmp;

import dev.fleetpki.kms.Crypto;
import dev.fleetpki.kms.SigningKey;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.security.cert.CertificateEncodingException;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.ASN1Integer;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.ASN1OctetString;
import org.bouncycastle.asn1.DERNull;
import org.bouncycastle.asn1.cmp.CMPCertificate;
import org.bouncycastle.asn1.cmp.CMPObjectIdentifiers;
import org.bouncycastle.asn1.cmp.ErrorMsgContent;
import org.bouncycastle.asn1.cmp.InfoTypeAndValue;
import org.bouncycastle.asn1.cmp.PBMParameter;
import org.bouncycastle.asn1.cmp.PKIBody;
import org.bouncycastle.asn1.cmp.PKIFailureInfo;
import org.bouncycastle.asn1.cmp.PKIFreeText;
import org.bouncycastle.asn1.cmp.PKIHeader;
import org.bouncycastle.asn1.cmp.PKIMessage;
import org.bouncycastle.asn1.cmp.PKIStatus;
import org.bouncycastle.asn1.cmp.PKIStatusInfo;
import org.bouncycastle.asn1.pkcs.PBKDF2Params;
import org.bouncycastle.asn1.pkcs.PBMAC1Params;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.AlgorithmIdentifier;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.cmp.CMPException;
import org.bouncycastle.cert.cmp.GeneralPKIMessage;
import org.bouncycastle.cert.cmp.ProtectedPKIMessage;
import org.bouncycastle.cert.cmp.ProtectedPKIMessageBuilder;
import org.bouncycastle.cert.crmf.PKMACBuilder;
import org.bouncycastle.cert.crmf.jcajce.JcePKMACValuesCalculator;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.operator.MacCalculator;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.pkcs.jcajce.JcePBMac1CalculatorBuilder;
import org.bouncycastle.pkcs.jcajce.JcePBMac1CalculatorProviderBuilder;

/**
 * CMP messages (RFC 9810, the lightweight profile of RFC 9483) as the server reads and answers
 * them: the header checks every request must pass before its body is looked at, the two kinds of
 * protection (a MAC keyed by a shared secret through PBM or PBMAC1, or a signature by the first
 * certificate in extraCerts), and answers protected the way the request was (a MAC with the same
 * secret) or signed by the registration authority. Everything that can be wrong with a request
 * becomes a {@link Failure} with the PKIFailureInfo bit RFC 9810 names for it; the cost of a MAC
 * is bounded before it is computed.
 */
public final class CmpMessage {
    /** Requests larger than this are refused before parsing (an ir is about a kilobyte). */
    public static final int MAX_BYTES = 64 * 1024;
    /** PBM and PBKDF2 iteration counts accepted: below is too weak (RFC 9481 6.1.1 asks at least 100 for PBM), above costs unbounded CPU. */
    public static final int MIN_ITERATIONS = 100;
    public static final int MAX_ITERATIONS = 100_000;
    /** How far a request's messageTime may be from the server's clock (badTime outside). */
    public static final Duration MAX_CLOCK_SKEW = Duration.ofMinutes(10);
    /** How many extraCerts are read as the protection certificate's chain. */
    static final int MAX_CHAIN = 8;
    /** transactionID and senderNonce lengths RFC 9483 3.1 asks for (128 bits). */
    static final int MIN_NONCE_BYTES = 16;
    private static final SecureRandom RANDOM = new SecureRandom();

    /** How a request is protected. */
    public enum Protection { PBM, PBMAC1, SIGNATURE }

    /** A refusal with its PKIFailureInfo bit; {@code request} is null when the header itself could not be read. */
    public static final class Failure extends Exception {
        private final int failInfo;
        private final transient Request request;

        public Failure(int failInfo, String text, Request request) {
            super(text);
            this.failInfo = failInfo;
            this.request = request;
        }

        public int failInfo() {
            return failInfo;
        }

        public Request request() {
            return request;
        }
    }

    /** A request whose header passed the checks; its protection is not verified yet. */
    public record Request(PKIMessage message, int pvno, int bodyType, byte[] transactionId, byte[] senderNonce, byte[] recipNonce,
                          String senderKid, GeneralName sender, Protection protection, boolean implicitConfirm) {
        public PKIHeader header() {
            return message.getHeader();
        }

        public String transactionHex() {
            return java.util.HexFormat.of().formatHex(transactionId);
        }

        /**
         * The protection certificate (RFC 9483 3.3: the first extraCert), then the others that are
         * X.509 certificates, at most {@value #MAX_CHAIN}; empty when the first is none.
         */
        public List<X509Certificate> extraCertificates() {
            CMPCertificate[] extra = message.getExtraCerts();
            List<X509Certificate> out = new ArrayList<>();
            for (int i = 0; extra != null && i < extra.length && out.size() < MAX_CHAIN; i++) {
                try {
                    out.add(new JcaX509CertificateConverter().getCertificate(new X509CertificateHolder(extra[i].getX509v3PKCert())));
                } catch (CertificateException | RuntimeException e) {
                    if (i == 0) {
                        return List.of(); // no protection certificate
                    }
                    // not an X.509 certificate: not part of the chain
                }
            }
            return out;
        }
    }

    private CmpMessage() {}

    /**
     * Reads a request and checks its header: DER of a PKIMessage, pvno 2 or 3, a transactionID
     * and a senderNonce of at least 128 bits, a messageTime near the server's clock, and a
     * protection of a kind served here with a sane cost. The body is not interpreted.
     */
    public static Request read(byte[] der, Instant now) throws Failure {
        if (der == null || der.length == 0) {
            throw new Failure(PKIFailureInfo.badDataFormat, "the request body is empty; POST a DER PKIMessage as application/pkixcmp", null);
        }
        if (der.length > MAX_BYTES) {
            throw new Failure(PKIFailureInfo.badDataFormat, "the request is " + der.length + " bytes, more than the " + MAX_BYTES + "-byte limit", null);
        }
        PKIMessage m;
        try {
            m = PKIMessage.getInstance(der);
            if (m == null || m.getHeader() == null || m.getBody() == null || !Arrays.equals(m.getEncoded("DER"), der)) {
                throw new IllegalArgumentException("not DER");
            }
        } catch (IOException | RuntimeException e) {
            throw new Failure(PKIFailureInfo.badDataFormat, "the request is not a DER-encoded PKIMessage (RFC 9810 5.1)", null);
        }
        PKIHeader h = m.getHeader();
        int pvno;
        byte[] tid = octets(h.getTransactionID());
        byte[] nonce = octets(h.getSenderNonce());
        int type;
        String kid;
        boolean implicit = false;
        try {
            pvno = h.getPvno().intValueExact();
            type = m.getBody().getType();
            kid = h.getSenderKID() == null ? null : new String(h.getSenderKID().getOctets(), StandardCharsets.UTF_8);
            for (InfoTypeAndValue itv : h.getGeneralInfo() == null ? new InfoTypeAndValue[0] : h.getGeneralInfo()) {
                implicit |= CMPObjectIdentifiers.it_implicitConfirm.equals(itv.getInfoType());
            }
        } catch (RuntimeException e) {
            throw new Failure(PKIFailureInfo.badDataFormat, "the PKIHeader does not parse: " + e.getMessage(), null);
        }
        Protection protection = protection(h.getProtectionAlg());
        Request r = new Request(m, pvno, type, tid == null ? new byte[0] : tid, nonce, octets(h.getRecipNonce()), kid, h.getSender(), protection, implicit);
        if (pvno != PKIHeader.CMP_2000 && pvno != PKIHeader.CMP_2021) {
            throw new Failure(PKIFailureInfo.unsupportedVersion, "pvno " + pvno + " is not served; use cmp2000 (2) or cmp2021 (3)", tid == null ? null : r);
        }
        if (tid == null || tid.length < MIN_NONCE_BYTES) {
            throw new Failure(PKIFailureInfo.badRequest, "the transactionID must be at least 128 random bits (RFC 9483 3.1)", tid == null ? null : r);
        }
        if (nonce == null || nonce.length < MIN_NONCE_BYTES) {
            throw new Failure(PKIFailureInfo.badSenderNonce, "the senderNonce must be at least 128 random bits (RFC 9483 3.1)", r);
        }
        if (h.getMessageTime() != null) {
            Instant at;
            try {
                at = h.getMessageTime().getDate().toInstant();
            } catch (Exception e) {
                throw new Failure(PKIFailureInfo.badTime, "the messageTime does not parse", r);
            }
            if (Duration.between(at, now).abs().compareTo(MAX_CLOCK_SKEW) > 0) {
                throw new Failure(PKIFailureInfo.badTime, "the messageTime " + at + " is more than " + MAX_CLOCK_SKEW.toMinutes()
                        + " minutes from the server's clock (" + now + "); set the device's clock", r);
            }
        }
        if (protection == null) {
            throw new Failure(h.getProtectionAlg() == null ? PKIFailureInfo.badMessageCheck : PKIFailureInfo.badAlg,
                    h.getProtectionAlg() == null ? "the request is not protected; protect it with a MAC (the device's one-time secret) or a signature"
                            : "the protection algorithm " + h.getProtectionAlg().getAlgorithm() + " is not served; use PBM, PBMAC1 or a signature", r);
        }
        if (protection != Protection.SIGNATURE) {
            checkMacCost(h.getProtectionAlg(), r);
        }
        return r;
    }

    private static Protection protection(AlgorithmIdentifier alg) {
        if (alg == null) {
            return null;
        }
        if (CMPObjectIdentifiers.passwordBasedMac.equals(alg.getAlgorithm())) {
            return Protection.PBM;
        }
        if (PKCSObjectIdentifiers.id_PBMAC1.equals(alg.getAlgorithm())) {
            return Protection.PBMAC1;
        }
        return alg.getAlgorithm().getId().startsWith("1.2.840.113533.7.66.") ? null : Protection.SIGNATURE;
    }

    /** The iteration count of a MAC's key derivation, within bounds, before anything is computed. */
    private static void checkMacCost(AlgorithmIdentifier alg, Request r) throws Failure {
        long iterations;
        try {
            if (CMPObjectIdentifiers.passwordBasedMac.equals(alg.getAlgorithm())) {
                PBMParameter p = PBMParameter.getInstance(alg.getParameters());
                iterations = p.getIterationCount().longValueExact();
            } else {
                PBMAC1Params p = PBMAC1Params.getInstance(alg.getParameters());
                // id-PBKDF2 (RFC 8018 A.5); BouncyCastle 1.82's PBMAC1 builder labels the same PBKDF2-params id-PBES2
                ASN1ObjectIdentifier kdfOid = p.getKeyDerivationFunc().getAlgorithm();
                if (!PKCSObjectIdentifiers.id_PBKDF2.equals(kdfOid) && !PKCSObjectIdentifiers.id_PBES2.equals(kdfOid)) {
                    throw new Failure(PKIFailureInfo.badAlg, "PBMAC1 is served with PBKDF2 (RFC 9481 6.1.3), not "
                            + p.getKeyDerivationFunc().getAlgorithm(), r);
                }
                PBKDF2Params kdf = PBKDF2Params.getInstance(p.getKeyDerivationFunc().getParameters());
                iterations = kdf.getIterationCount().longValueExact();
            }
        } catch (RuntimeException e) {
            throw new Failure(PKIFailureInfo.badDataFormat, "the MAC's parameters do not parse", r);
        }
        if (iterations < MIN_ITERATIONS || iterations > MAX_ITERATIONS) {
            throw new Failure(PKIFailureInfo.badMessageCheck, "the MAC's iteration count " + iterations + " is outside " + MIN_ITERATIONS + ".."
                    + MAX_ITERATIONS, r);
        }
    }

    /** Whether the request's MAC verifies with this secret (PBM or PBMAC1; the cost was checked by {@link #read}). */
    public static boolean macValid(Request r, char[] secret) {
        try {
            ProtectedPKIMessage pm = new ProtectedPKIMessage(new GeneralPKIMessage(r.message()));
            return r.protection() == Protection.PBM
                    ? pm.verify(new PKMACBuilder(new JcePKMACValuesCalculator().setProvider(Crypto.bc()), MAX_ITERATIONS), secret)
                    : pm.verify(new JcePBMac1CalculatorProviderBuilder().setProvider(Crypto.bc()).build(), secret);
        } catch (CMPException | RuntimeException e) {
            return false;
        }
    }

    /** Whether the request's signature verifies with this certificate's key. */
    public static boolean signatureValid(Request r, X509Certificate signer) {
        try {
            ProtectedPKIMessage pm = new ProtectedPKIMessage(new GeneralPKIMessage(r.message()));
            return pm.verify(Crypto.verifier(signer.getPublicKey()));
        } catch (CMPException | RuntimeException e) {
            return false;
        }
    }

    /** How an answer is protected: a MAC with the request's secret, or a signature by the registration authority. */
    public sealed interface Protector {
        record Mac(char[] secret) implements Protector {}

        record Signature(X509Certificate certificate, SigningKey key) implements Protector {}
    }

    /** An answer's DER and the senderNonce it carries (the client's next message in the transaction echoes it). */
    public record Answer(byte[] der, byte[] senderNonce) {}

    /**
     * An answer to a request: the same transactionID, the request's senderNonce as recipNonce, a
     * new senderNonce, the protection, the certificates in extraCerts (the RA's first when
     * signed), and implicitConfirm when granted.
     */
    public static Answer answer(Request r, PKIBody body, Protector p, List<X509Certificate> extraCerts, boolean implicitConfirm, Instant now) {
        byte[] nonce = new byte[MIN_NONCE_BYTES];
        RANDOM.nextBytes(nonce);
        try {
            GeneralName sender = p instanceof Protector.Signature s
                    ? new GeneralName(X500Name.getInstance(s.certificate().getSubjectX500Principal().getEncoded()))
                    : new GeneralName(new X500Name(new org.bouncycastle.asn1.x500.RDN[0]));
            GeneralName recipient = r.sender() == null ? new GeneralName(new X500Name(new org.bouncycastle.asn1.x500.RDN[0])) : r.sender();
            ProtectedPKIMessageBuilder b = new ProtectedPKIMessageBuilder(r.pvno() == PKIHeader.CMP_2021 ? PKIHeader.CMP_2021 : PKIHeader.CMP_2000,
                    sender, recipient)
                    .setTransactionID(r.transactionId())
                    .setSenderNonce(nonce)
                    .setRecipNonce(r.senderNonce())
                    .setMessageTime(Date.from(now))
                    .setBody(body);
            if (r.senderKid() != null && p instanceof Protector.Mac) {
                b.setRecipKID(r.senderKid().getBytes(StandardCharsets.UTF_8));
            }
            if (implicitConfirm) {
                b.addGeneralInfo(new InfoTypeAndValue(CMPObjectIdentifiers.it_implicitConfirm, DERNull.INSTANCE));
            }
            if (p instanceof Protector.Signature s) {
                b.addCMPCertificate(new X509CertificateHolder(s.certificate().getEncoded()));
            }
            for (X509Certificate c : extraCerts) {
                b.addCMPCertificate(new X509CertificateHolder(c.getEncoded()));
            }
            ProtectedPKIMessage out = switch (p) {
                case Protector.Mac mac -> b.build(macLike(r, mac.secret()));
                case Protector.Signature s -> b.build(s.key().contentSigner());
            };
            return new Answer(out.toASN1Structure().getEncoded("DER"), nonce);
        } catch (IOException | CMPException | CertificateEncodingException | OperatorCreationException e) {
            throw new IllegalStateException("cannot build the CMP answer: " + e.getMessage(), e);
        }
    }

    /** A MAC of the request's kind and cost with a new salt (RFC 9810 5.1.3.1: the answer is protected as the request was). */
    private static MacCalculator macLike(Request r, char[] secret) throws OperatorCreationException {
        AlgorithmIdentifier alg = r.header().getProtectionAlg();
        byte[] salt = new byte[16];
        RANDOM.nextBytes(salt);
        if (r.protection() == Protection.PBM) {
            PBMParameter req = PBMParameter.getInstance(alg.getParameters());
            try {
                return new PKMACBuilder(new JcePKMACValuesCalculator().setProvider(Crypto.bc()), MAX_ITERATIONS)
                        .setParameters(new PBMParameter(salt, req.getOwf(), req.getIterationCount().intValueExact(), req.getMac()))
                        .build(secret);
            } catch (org.bouncycastle.cert.crmf.CRMFException e) {
                throw new OperatorCreationException(e.getMessage(), e);
            }
        }
        PBMAC1Params req = PBMAC1Params.getInstance(alg.getParameters());
        PBKDF2Params kdf = PBKDF2Params.getInstance(req.getKeyDerivationFunc().getParameters());
        BigInteger keyLength = kdf.getKeyLength();
        PBKDF2Params fresh = keyLength == null ? new PBKDF2Params(salt, kdf.getIterationCount().intValueExact(), kdf.getPrf())
                : new PBKDF2Params(salt, kdf.getIterationCount().intValueExact(), keyLength.intValueExact(), kdf.getPrf());
        return new JcePBMac1CalculatorBuilder(new PBMAC1Params(new AlgorithmIdentifier(req.getKeyDerivationFunc().getAlgorithm(), fresh),
                req.getMessageAuthScheme()))
                .setProvider(Crypto.bc())
                .build(secret);
    }

    /** An error message (RFC 9810 5.3.21): rejection, the failure bit, and the text saying what was wrong. */
    public static PKIBody error(int failInfo, String text) {
        return new PKIBody(PKIBody.TYPE_ERROR, new ErrorMsgContent(status(PKIStatus.REJECTION, failInfo, text)));
    }

    public static PKIStatusInfo status(int status, int failInfo, String text) {
        PKIFreeText free = text == null ? null : new PKIFreeText(text);
        return failInfo == 0 ? new PKIStatusInfo(PKIStatus.getInstance(new ASN1Integer(status)), free)
                : new PKIStatusInfo(PKIStatus.getInstance(new ASN1Integer(status)), free, new PKIFailureInfo(failInfo));
    }

    private static byte[] octets(ASN1OctetString s) {
        return s == null ? null : s.getOctets();
    }
}
