package dev.fleetpki.cli;

import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.RevocationReason;
import dev.fleetpki.core.Role;
import dev.fleetpki.core.StoredCertificate;
import dev.fleetpki.core.firmware.Signer;
import dev.fleetpki.core.firmware.SignerRegistry;
import dev.fleetpki.kms.KeyAlgorithm;
import dev.fleetpki.kms.KeyRef;
import dev.fleetpki.kms.Pem;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "signer", mixinStandardHelpOptions = true,
        description = {"Firmware signers: named keys (in an encrypted file or a PKCS#11 token, never exported) certified by the code-signing "
            + "CA, each bound to the device models it signs images for. See 'fleetpki firmware sign'."},
        subcommands = {SignerCommand.Add.class, SignerCommand.ListSigners.class, SignerCommand.Rotate.class, SignerCommand.Revoke.class})
final class SignerCommand {
    private static final String KEY_HELP = "where the signer's key is: file:signers/NAME.p8 (encrypted with the code-signing CA's "
            + "passphrase, relative to the CA home) or a PKCS#11 URI such as pkcs11:token=fleet;object=release?module-path=...&pin-source=file:pin.txt";

    @Command(name = "add", mixinStandardHelpOptions = true, description = {"Create a firmware signer: open its key (or create it with "
        + "--create), check that it signs, and have the code-signing CA certify it with the codeSigning extended key usage.",
        "--models is required: a signer bound to no model would sign nothing, and '*' (every model) must be said explicitly."})
    static final class Add implements Callable<Integer> {
        @Mixin HomeOption home;
        @Parameters(paramLabel = "NAME", description = "the signer's name, the certificate's CN") String name;
        @Option(names = "--key", required = true, paramLabel = "KEY", description = KEY_HELP) String key;
        @Option(names = "--create", description = "create the key at --key (a new key; refused if one is there)") boolean create;
        @Option(names = "--algorithm", defaultValue = "ecdsa-p256", description = "with --create: ecdsa-p256 (MCUboot, raw, cms), "
                + "ed25519 (MCUboot, cms) or ecdsa-p384 (raw, cms); default ${DEFAULT-VALUE}") String algorithm;
        @Option(names = "--models", required = true, split = ",", paramLabel = "M1,M2", description = "the device models it signs for, or '*'")
        List<String> models;
        @Option(names = "--profile", defaultValue = "code-signing", description = "a code-signing profile (default ${DEFAULT-VALUE})") String profile;
        @Option(names = "--out", paramLabel = "FILE", description = "also write its certificate chain (PEM) here") Path out;

        @Override
        public Integer call() {
            KeyRef ref = KeyRef.parse(key);
            KeyAlgorithm alg = create ? KeyAlgorithm.parse(algorithm) : null;
            try (Fleet f = home.open()) {
                SignerRegistry.Enrolled e = f.signers().add(home.actor(), Role.ADMIN, name, new HashSet<>(models), ref, alg, profile, "cli");
                report("Created signer", f, e, out);
            }
            return 0;
        }
    }

    @Command(name = "rotate", mixinStandardHelpOptions = true, description = {"Give an active signer a new certificate: for a new key "
        + "(--key, with --create to make it) or, without --key, for its current key (a renewal).",
        "Its older certificates stay valid for the images they signed until they expire; revoke the signer if its key was compromised."})
    static final class Rotate implements Callable<Integer> {
        @Mixin HomeOption home;
        @Parameters(paramLabel = "NAME") String name;
        @Option(names = "--key", paramLabel = "KEY", description = "its new key; default: keep the current one. " + KEY_HELP) String key;
        @Option(names = "--create", description = "create the new key at --key") boolean create;
        @Option(names = "--algorithm", defaultValue = "ecdsa-p256", description = "with --create (default ${DEFAULT-VALUE})") String algorithm;
        @Option(names = "--profile", defaultValue = "code-signing", description = "a code-signing profile (default ${DEFAULT-VALUE})") String profile;
        @Option(names = "--out", paramLabel = "FILE", description = "also write the new certificate chain (PEM) here") Path out;

        @Override
        public Integer call() {
            KeyRef ref = key == null ? null : KeyRef.parse(key);
            KeyAlgorithm alg = create ? KeyAlgorithm.parse(algorithm) : null;
            try (Fleet f = home.open()) {
                SignerRegistry.Enrolled e = f.signers().rotate(home.actor(), Role.ADMIN, name, ref, alg, profile, "cli");
                report("Rotated signer", f, e, out);
            }
            return 0;
        }
    }

    private static void report(String what, Fleet f, SignerRegistry.Enrolled e, Path out) {
        String chain = Certs.pemChain(e.certificate().certificate(), f.chainAbove(e.certificate()));
        if (out != null) {
            Pem.writePublicFile(out, chain.getBytes(StandardCharsets.US_ASCII));
        }
        System.out.println(what + " " + e.signer().name() + " for models " + e.signer().modelList());
        System.out.println("  key:         " + e.key().location());
        System.out.println("  certificate: " + e.certificate().serialHex() + " from CA " + e.certificate().caName() + ", valid until "
                + e.certificate().notAfter() + (out == null ? "" : " (chain written to " + out + ")"));
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List the signers: status, models, key, current certificate.")
    static final class ListSigners implements Callable<Integer> {
        @Mixin HomeOption home;
        @Option(names = "--certificates", description = "also list every certificate each signer has held") boolean certificates;
        @Option(names = "--json", description = "one JSON object: {\"signers\": [{\"name\", \"status\", \"models\", \"serial\", \"key\", "
                + "\"createdAt\", \"createdBy\", \"certificates\" (with --certificates: [{\"serial\", \"status\", \"notBefore\", \"notAfter\"}])}]}; "
                + "the key without its query (never a PIN)") boolean json;

        @Override
        public Integer call() {
            try (Fleet f = home.open()) {
                List<Signer> all = f.store().signers().signers();
                if (json) {
                    Instant now = f.clock().instant();
                    List<java.util.Map<String, Object>> out = new java.util.ArrayList<>();
                    for (Signer s : all) {
                        java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
                        m.put("name", s.name());
                        m.put("status", s.status().name().toLowerCase(Locale.ROOT));
                        m.put("models", new java.util.TreeSet<>(s.models()));
                        m.put("serial", s.serial());
                        m.put("key", withoutQuery(s.keyRef()));
                        m.put("createdAt", s.createdAt().toString());
                        m.put("createdBy", s.createdBy().toString());
                        if (certificates) {
                            m.put("certificates", f.store().signers().signerCertificates(s.name()).stream().map(c -> java.util.Map.<String, Object>of(
                                    "serial", c.issued().serialHex(), "status", c.status(now), "notBefore", c.issued().notBefore().toString(),
                                    "notAfter", c.issued().notAfter().toString())).toList());
                        }
                        out.add(m);
                    }
                    Certs.printJson(java.util.Map.of("signers", out));
                    return 0;
                }
                if (all.isEmpty()) {
                    System.out.println("No signers. Create one: fleetpki signer add NAME --key file:signers/NAME.p8 --create --models MODEL");
                    return 0;
                }
                Instant now = f.clock().instant();
                System.out.printf("%-20s %-8s %-24s %-34s %s%n", "NAME", "STATUS", "MODELS", "CERTIFICATE", "KEY");
                for (Signer s : all) {
                    System.out.printf("%-20s %-8s %-24s %-34s %s%n", s.name(), s.status().name().toLowerCase(Locale.ROOT), s.modelList(),
                            s.serial(), withoutQuery(s.keyRef()));
                    if (certificates) {
                        for (StoredCertificate c : f.store().signers().signerCertificates(s.name())) {
                            System.out.printf("    %s %-8s until %s%n", c.issued().serialHex(), c.status(now), c.issued().notAfter());
                        }
                    }
                }
            }
            return 0;
        }
    }

    private static String withoutQuery(String uri) {
        int q = uri.indexOf('?');
        return q < 0 ? uri : uri.substring(0, q);
    }

    @Command(name = "revoke", mixinStandardHelpOptions = true, description = {"Revoke a signer and every certificate it has held, and "
        + "publish the revocation (CRL, OCSP). It signs nothing from now on.",
        "Verifiers keep accepting images it signed before the revocation time (the signing time is in the signature, from fleetpki's "
            + "clock); with --invalid-since, the CRL entry carries the time the key was compromised. docs/firmware.md says what this "
            + "does and does not defend against."})
    static final class Revoke implements Callable<Integer> {
        @Mixin HomeOption home;
        @Parameters(paramLabel = "NAME") String name;
        @Option(names = "--reason", defaultValue = "key-compromise", description = "revocation reason (default: ${DEFAULT-VALUE})") String reason;
        @Option(names = "--invalid-since", paramLabel = "TIME", description = "when the key was (or may have been) compromised, RFC 3339 UTC")
        String invalidSince;
        @Option(names = "--no-publish", description = "only record the revocation; leave CRL and OCSP to the server's schedule") boolean noPublish;

        @Override
        public Integer call() {
            RevocationReason r = RevocationReason.parse(reason);
            Instant invalid = RevokeCommand.parseTime(invalidSince);
            try (Fleet f = home.open()) {
                if (f.store().signers().signer(name).isEmpty()) {
                    throw new PkiException(ErrorKind.NOT_FOUND, "no firmware signer named '" + name + "'; list them with: fleetpki signer list");
                }
                var dual = f.dualControl();
                var d = dual.check(dev.fleetpki.core.DualControl.Action.SIGNER_REVOKE, "signer:" + name,
                        "reason=" + r.configName() + (invalid == null ? "" : ", invalidSince=" + invalid), home.actor());
                if (!Fleet.secondOperator(d)) {
                    return Fleet.AWAITING_SECOND;
                }
                List<String> serials = f.signers().revoke(home.actor(), name, r, invalid);
                dual.done((dev.fleetpki.core.DualControl.Decision.Proceed) d, home.actor());
                System.out.println("Revoked signer " + name + " and its " + serials.size() + " certificate" + (serials.size() == 1 ? "" : "s")
                        + (serials.isEmpty() ? "" : " " + String.join(", ", serials)) + " (" + r.configName() + ")");
                if (!noPublish) {
                    RevokeCommand.publish(f, serials, home.actor());
                }
            }
            return 0;
        }
    }
}
