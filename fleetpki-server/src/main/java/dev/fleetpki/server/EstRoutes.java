package dev.fleetpki.server;

import dev.fleetpki.core.CaRecord;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.Profile;
import io.javalin.Javalin;
import io.javalin.http.Context;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import org.bouncycastle.cert.jcajce.JcaCertStore;
import org.bouncycastle.cms.CMSAbsentContent;
import org.bouncycastle.cms.CMSSignedDataGenerator;

/**
 * EST (RFC 7030, with RFC 8951): {@code /.well-known/est[/<label>]/cacerts}. A label names a
 * certificate profile (no label: {@code device}); the answer is the CA certificates a client
 * needs for that profile (the issuing CA, then the CAs above it up to the root) as a base64
 * certs-only CMS SignedData, {@code application/pkcs7-mime}. Per RFC 7030 4.1.1 it needs no
 * authentication. Enrollment (simpleenroll, simplereenroll, csrattrs, serverkeygen) follows.
 */
final class EstRoutes {
    static final String DEFAULT_LABEL = "device";
    private final Services s;

    EstRoutes(Services s) {
        this.s = s;
    }

    void register(Javalin app) {
        app.get("/.well-known/est/cacerts", ctx -> cacerts(ctx, DEFAULT_LABEL));
        app.get("/.well-known/est/{label}/cacerts", ctx -> cacerts(ctx, ctx.pathParam("label")));
    }

    private void cacerts(Context ctx, String label) throws Exception {
        Profile profile = s.config().profile(label).orElseThrow(() -> new PkiException(ErrorKind.NOT_FOUND,
                "no EST label '" + label + "'; a label is a certificate profile name: " + String.join(", ", s.config().profiles().keySet())));
        String issuer = s.pipeline().issuerFor(profile);
        CaRecord ca = s.store().ca(issuer).orElseThrow(() -> new PkiException(ErrorKind.CONFIG,
                "profile '" + label + "' is signed by CA '" + issuer + "', which is not in the store; run the ceremony"));
        List<X509Certificate> certs = new ArrayList<>(List.of(ca.certificate()));
        certs.addAll(s.cas().chain(ca));
        CMSSignedDataGenerator gen = new CMSSignedDataGenerator();
        gen.addCertificates(new JcaCertStore(certs));
        byte[] der = gen.generate(new CMSAbsentContent()).getEncoded(org.bouncycastle.asn1.ASN1Encoding.DER); // DER, not BER: small parsers
        ctx.header("Content-Transfer-Encoding", "base64")
                .contentType("application/pkcs7-mime; smime-type=certs-only")
                .result(Base64.getMimeEncoder(64, new byte[] {'\r', '\n'}).encodeToString(der) + "\r\n");
    }
}
