package dev.fleetpki.bench;

import java.io.BufferedWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.spec.ECGenParameterSpec;
import java.util.Base64;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;

/**
 * The input of the factory benchmark: N devices, each with a CSR made by its own P-256 key (as a
 * device makes it), written as DIR/csr/ID.csr and DIR/batch.csv (id,model,csr). Usage:
 * {@code FactoryInput DIR N MODEL}.
 */
public final class FactoryInput {
    private FactoryInput() {}

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        int n = Integer.parseInt(args[1]);
        String model = args[2];
        Files.createDirectories(dir.resolve("csr"));
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"));
        JcaContentSignerBuilder signer = new JcaContentSignerBuilder("SHA256withECDSA");
        Base64.Encoder b64 = Base64.getMimeEncoder(64, new byte[] {'\n'});
        try (BufferedWriter csv = Files.newBufferedWriter(dir.resolve("batch.csv"), StandardCharsets.US_ASCII)) {
            csv.write("id,model,csr\n");
            for (int i = 0; i < n; i++) {
                String id = String.format("dev-%07d", i);
                KeyPair kp = g.generateKeyPair();
                byte[] der = new JcaPKCS10CertificationRequestBuilder(new X500Name("CN=" + id), kp.getPublic()).build(signer.build(kp.getPrivate()))
                        .getEncoded();
                Files.writeString(dir.resolve("csr").resolve(id + ".csr"), "-----BEGIN CERTIFICATE REQUEST-----\n" + b64.encodeToString(der)
                        + "\n-----END CERTIFICATE REQUEST-----\n", StandardCharsets.US_ASCII);
                csv.write(id + "," + model + ",csr/" + id + ".csr\n");
            }
        }
    }
}
