package dev.fleetpki.server.cmp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.security.SecureRandom;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.DERNull;
import org.bouncycastle.asn1.cmp.PKIBody;
import org.bouncycastle.asn1.cmp.PKIFailureInfo;
import org.bouncycastle.asn1.cmp.PKIHeader;
import org.bouncycastle.asn1.cmp.PKIMessage;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.cert.cmp.GeneralPKIMessage;
import org.bouncycastle.cert.cmp.ProtectedPKIMessage;
import org.bouncycastle.cert.cmp.ProtectedPKIMessageBuilder;
import org.bouncycastle.cert.crmf.PKMACBuilder;
import org.bouncycastle.cert.crmf.jcajce.JcePKMACValuesCalculator;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.operator.MacCalculator;
import org.bouncycastle.pkcs.jcajce.JcePBMac1CalculatorBuilder;
import org.bouncycastle.pkcs.jcajce.JcePBMac1CalculatorProviderBuilder;
import org.junit.jupiter.api.Test;

/** The header checks, both MACs, and answers protected with the request's secret, without a server. */
class CmpMessageTest {
    static final BouncyCastleProvider BC = new BouncyCastleProvider();
    static final char[] SECRET = "fpe_0123456789abcdef_secret".toCharArray();

    static byte[] random(int n) {
        byte[] b = new byte[n];
        new SecureRandom().nextBytes(b);
        return b;
    }

    static byte[] pkiconf(MacCalculator mac, byte[] tid, byte[] nonce, Date time) throws Exception {
        return new ProtectedPKIMessageBuilder(PKIHeader.CMP_2000, new GeneralName(new X500Name("CN=dev-1")), new GeneralName(new X500Name("CN=ca")))
                .setTransactionID(tid).setSenderNonce(nonce).setSenderKID("dev-1".getBytes()).setMessageTime(time)
                .setBody(new PKIBody(PKIBody.TYPE_CONFIRM, DERNull.INSTANCE)).build(mac).toASN1Structure().getEncoded();
    }

    static MacCalculator pbm(int iterations, char[] secret) throws Exception {
        return new PKMACBuilder(new JcePKMACValuesCalculator().setProvider(BC)).setIterationCount(iterations).build(secret);
    }

    static MacCalculator pbmac1(int iterations, char[] secret) throws Exception {
        return new JcePBMac1CalculatorBuilder("HmacSHA256", 256).setProvider(BC).setIterationCount(iterations)
                .setPrf(JcePBMac1CalculatorBuilder.PRF_SHA256).build(secret);
    }

    @Test
    void bothMacsVerifyWithTheSecretOnlyAndTheAnswerCarriesOneWithTheSameSecret() throws Exception {
        for (MacCalculator mac : List.of(pbm(500, SECRET), pbmac1(1000, SECRET))) {
            byte[] tid = random(16);
            byte[] nonce = random(16);
            CmpMessage.Request r = CmpMessage.read(pkiconf(mac, tid, nonce, new Date()), Instant.now());
            assertEquals("dev-1", r.senderKid());
            assertTrue(CmpMessage.macValid(r, SECRET), r.protection().name());
            assertFalse(CmpMessage.macValid(r, "another".toCharArray()), r.protection().name());
            CmpMessage.Answer a = CmpMessage.answer(r, new PKIBody(PKIBody.TYPE_CONFIRM, DERNull.INSTANCE), new CmpMessage.Protector.Mac(SECRET),
                    List.of(), false, Instant.now());
            PKIMessage answer = PKIMessage.getInstance(a.der());
            assertEquals(new org.bouncycastle.asn1.DEROctetString(tid), answer.getHeader().getTransactionID());
            assertEquals(new org.bouncycastle.asn1.DEROctetString(nonce), answer.getHeader().getRecipNonce());
            assertEquals(new org.bouncycastle.asn1.DEROctetString(a.senderNonce()), answer.getHeader().getSenderNonce());
            ProtectedPKIMessage p = new ProtectedPKIMessage(new GeneralPKIMessage(answer));
            boolean ok = r.protection() == CmpMessage.Protection.PBM ? p.verify(new PKMACBuilder(new JcePKMACValuesCalculator().setProvider(BC)), SECRET)
                    : p.verify(new JcePBMac1CalculatorProviderBuilder().setProvider(BC).build(), SECRET);
            assertTrue(ok, "the answer's " + r.protection() + " verifies with the secret");
        }
    }

    @Test
    void headerFailuresCarryTheirFailInfo() throws Exception {
        assertNull(assertThrows(CmpMessage.Failure.class, () -> CmpMessage.read(new byte[] {0x30, 0x00}, Instant.now())).request());
        assertNull(assertThrows(CmpMessage.Failure.class, () -> CmpMessage.read(new byte[CmpMessage.MAX_BYTES + 1], Instant.now())).request());
        assertEquals(PKIFailureInfo.badMessageCheck, assertThrows(CmpMessage.Failure.class,
                () -> CmpMessage.read(pkiconf(pbm(CmpMessage.MAX_ITERATIONS + 1, SECRET), random(16), random(16), new Date()), Instant.now())).failInfo());
        assertEquals(PKIFailureInfo.badMessageCheck, assertThrows(CmpMessage.Failure.class,
                () -> CmpMessage.read(pkiconf(pbmac1(CmpMessage.MIN_ITERATIONS - 1, SECRET), random(16), random(16), new Date()), Instant.now())).failInfo());
        assertEquals(PKIFailureInfo.badTime, assertThrows(CmpMessage.Failure.class,
                () -> CmpMessage.read(pkiconf(pbm(500, SECRET), random(16), random(16), new Date(0)), Instant.now())).failInfo());
        assertEquals(PKIFailureInfo.badSenderNonce, assertThrows(CmpMessage.Failure.class,
                () -> CmpMessage.read(pkiconf(pbm(500, SECRET), random(16), random(8), new Date()), Instant.now())).failInfo());
        assertEquals(PKIFailureInfo.badRequest, assertThrows(CmpMessage.Failure.class,
                () -> CmpMessage.read(pkiconf(pbm(500, SECRET), random(8), random(16), new Date()), Instant.now())).failInfo());
    }
}
