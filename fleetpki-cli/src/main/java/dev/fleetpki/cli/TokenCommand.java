package dev.fleetpki.cli;

import dev.fleetpki.core.ApiToken;
import dev.fleetpki.core.firmware.Signer;
import dev.fleetpki.core.AuditAction;
import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.Device;
import dev.fleetpki.core.Durations;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.Fingerprints;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.ProfileKind;
import dev.fleetpki.core.Role;
import dev.fleetpki.core.TokenSecrets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "token", mixinStandardHelpOptions = true,
        description = "API tokens for the REST API (operators and automation). Only a token's hash is stored; its text is shown once.",
        subcommands = {TokenCommand.Create.class, TokenCommand.ListTokens.class, TokenCommand.Disable.class, TokenCommand.Enable.class,
            TokenCommand.Revoke.class})
final class TokenCommand {
    @Command(name = "create", mixinStandardHelpOptions = true,
            description = {"Create a token and print it once (keep it in a secret store; it cannot be shown again).",
                "Roles: admin (everything), issuer (devices, requests, certificates, revocation), auditor (read only), factory (enroll devices), "
                    + "firmware-signer (sign firmware with the --signers it is bound to, for the --models it is bound to; nothing else)."})
    static final class Create implements Callable<Integer> {
        @Mixin HomeOption home;
        @Parameters(paramLabel = "NAME", description = "a name for the token, as the audit log shows it (token:NAME)") String name;
        @Option(names = "--role", required = true, description = "admin, issuer, auditor, factory or firmware-signer") String role;
        @Option(names = "--expires-in", paramLabel = "DURATION", description = "e.g. 90d; default: does not expire") String expiresIn;
        @Option(names = "--client-cert", paramLabel = "FILE", description = "an operator's TLS client certificate (PEM or DER) that "
                + "authenticates instead of a bearer secret; no secret is made or printed") Path clientCert;
        @Option(names = "--profiles", split = ",", paramLabel = "P1,P2", description = "for an issuer or factory token: profiles it may obtain "
                + "beyond the fleet rules' device profiles, e.g. server-tls for a deployment pipeline (never sub-ca or ocsp-signing, "
                + "which come from the ceremony, nor code-signing, which goes to firmware signers); server names still need the profile's "
                + "dnsSuffixes or ipRanges") List<String> profiles;
        @Option(names = "--signers", split = ",", paramLabel = "S1,S2", description = "for a firmware-signer token: the signers it may sign with "
                + "(required: a token bound to none signs nothing)") List<String> signers;
        @Option(names = "--models", split = ",", paramLabel = "M1,M2", description = "for a firmware-signer token: the device models it may "
                + "sign for, or '*' for every model its signers cover (required)") List<String> models;

        @Override
        public Integer call() {
            Device.checkId(name);
            Role r = parseRole(role);
            Set<String> bound = profiles == null ? Set.of() : new TreeSet<>(profiles);
            if (!bound.isEmpty() && r != Role.ISSUER && r != Role.FACTORY) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "--profiles is for issuer and factory tokens; an admin token may obtain "
                        + "every profile already, an auditor none");
            }
            Set<String> boundSigners = signers == null ? Set.of() : new TreeSet<>(signers);
            Set<String> boundModels = models == null ? Set.of() : new TreeSet<>(models);
            if (r == Role.FIRMWARE_SIGNER) {
                if (boundSigners.isEmpty() || boundModels.isEmpty()) {
                    throw new PkiException(ErrorKind.MALFORMED_REQUEST, "a firmware-signer token signs with named signers for named models "
                            + "only; give both: --signers release --models sensor-v2 (or --models '*')");
                }
                Signer.checkModels(boundModels);
            } else if (!boundSigners.isEmpty() || !boundModels.isEmpty()) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "--signers and --models are for firmware-signer tokens; an admin token "
                        + "signs with every signer already, other roles sign nothing");
            }
            try (Fleet f = home.open()) {
                for (String sn : boundSigners) {
                    if (f.store().signers().signer(sn).isEmpty()) {
                        throw new PkiException(ErrorKind.MALFORMED_REQUEST, "--signers: no signer named '" + sn + "'; list them with: fleetpki signer list");
                    }
                }
                for (String p : bound) {
                    var profile = f.config().profile(p).orElseThrow(() -> new PkiException(ErrorKind.MALFORMED_REQUEST, "--profiles: no profile named '"
                            + p + "'; profiles: " + new TreeSet<>(f.config().profiles().keySet())));
                    if (profile.kind() == ProfileKind.SUB_CA || profile.kind() == ProfileKind.OCSP_SIGNING || profile.kind() == ProfileKind.SCEP_RA) {
                        throw new PkiException(ErrorKind.MALFORMED_REQUEST, "--profiles: '" + p + "' makes CA, OCSP or SCEP RA certificates, which come from "
                                + "the ceremony (fleetpki init, fleetpki ca ...), never from a token");
                    }
                    if (profile.kind() == ProfileKind.CODE_SIGNING) {
                        throw new PkiException(ErrorKind.MALFORMED_REQUEST, "--profiles: '" + p + "' makes code-signing certificates, which go "
                                + "to firmware signers (fleetpki signer add), never to a token's devices; a pipeline that signs firmware gets "
                                + "--role firmware-signer --signers S --models M");
                    }
                }
                Instant now = f.clock().instant();
                Instant expires;
                try {
                    expires = expiresIn == null ? null : now.plus(Durations.parse(expiresIn));
                } catch (IllegalArgumentException e) {
                    throw new PkiException(ErrorKind.MALFORMED_REQUEST, "--expires-in: " + e.getMessage());
                }
                TokenSecrets.New t = TokenSecrets.create();
                String cert = clientCert == null ? null : Fingerprints.of(Certs.readCertificate(clientCert));
                Map<String, String> detail = new LinkedHashMap<>();
                detail.put("role", r.configName());
                detail.put("id", t.id());
                detail.put("expires", expires == null ? "never" : expires.toString());
                if (cert != null) {
                    detail.put("certificateSha256", cert);
                }
                if (!bound.isEmpty()) {
                    detail.put("profiles", String.join(",", bound));
                }
                if (!boundSigners.isEmpty()) {
                    detail.put("signers", String.join(",", boundSigners));
                    detail.put("models", String.join(",", boundModels));
                }
                f.store().credentials().addToken(new ApiToken(t.id(), name, r, cert == null ? t.secretHash() : "", now, home.actor(), expires, null, cert,
                        null, bound, boundSigners, boundModels),
                        new AuditEvent(now, home.actor(), AuditAction.TOKEN_CREATE, "token:" + name, detail));
                if (cert != null) {
                    System.out.println("Operator '" + name + "' (role " + r.configName() + ") authenticates with the client "
                            + "certificate SHA-256 " + cert);
                    return 0;
                }
                System.err.println("Token '" + name + "' (role " + r.configName() + ", "
                        + (expires == null ? "does not expire" : "expires " + expires) + "). It is shown only now:");
                System.out.println(t.text());
            }
            return 0;
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List tokens (never their secrets).")
    static final class ListTokens implements Callable<Integer> {
        @Mixin HomeOption home;
        @Option(names = "--json", description = "one JSON object: {\"tokens\": [{\"name\", \"role\", \"id\", \"clientCertificateSha256\", \"status\", "
                + "\"expiresAt\", \"createdBy\", \"createdAt\", \"profiles\", \"signers\", \"models\"}]} (never a secret)") boolean json;

        @Override
        public Integer call() throws Exception {
            try (Fleet f = home.open()) {
                Instant now = f.clock().instant();
                if (json) {
                    List<Map<String, Object>> out = new java.util.ArrayList<>();
                    for (ApiToken t : f.store().credentials().tokens()) {
                        Map<String, Object> m = new java.util.LinkedHashMap<>();
                        m.put("name", t.name());
                        m.put("role", t.role().configName());
                        m.put("id", t.id());
                        m.put("clientCertificateSha256", t.certSha256());
                        m.put("status", t.status(now));
                        m.put("expiresAt", t.expiresAt() == null ? null : t.expiresAt().toString());
                        m.put("createdBy", t.createdBy().toString());
                        m.put("createdAt", t.createdAt().toString());
                        m.put("profiles", new TreeSet<>(t.profiles()));
                        m.put("signers", new TreeSet<>(t.signers()));
                        m.put("models", new TreeSet<>(t.models()));
                        out.add(m);
                    }
                    Certs.printJson(Map.of("tokens", out));
                    return 0;
                }
                Table table = new Table("NAME", "ROLE", "ID", "STATUS", "EXPIRES", "CREATED BY", "BOUND TO");
                for (ApiToken t : f.store().credentials().tokens()) {
                    table.row(t.name(), t.role().configName(), t.certSha256() == null ? t.id() : "cert:" + t.certSha256().substring(0, 12),
                            t.status(now), t.expiresAt() == null ? "never" : t.expiresAt().toString(), t.createdBy().toString(), bindings(t));
                }
                System.out.print(table.render());
            }
            return 0;
        }
    }

    @Command(name = "disable", mixinStandardHelpOptions = true, description = {"Disable a token or operator certificate: the server "
        + "refuses it from the next request on, until it is enabled again.", "Disabling a disabled token is fine; revoke ends it for good."})
    static final class Disable implements Callable<Integer> {
        @Mixin HomeOption home;
        @Parameters(paramLabel = "NAME") String name;

        @Override
        public Integer call() {
            return setDisabled(home, name, true);
        }
    }

    @Command(name = "enable", mixinStandardHelpOptions = true, description = {"Enable a disabled token or operator certificate again.",
        "Enabling an enabled token is fine; a revoked token stays revoked (exit 66)."})
    static final class Enable implements Callable<Integer> {
        @Mixin HomeOption home;
        @Parameters(paramLabel = "NAME") String name;

        @Override
        public Integer call() {
            return setDisabled(home, name, false);
        }
    }

    private static int setDisabled(HomeOption home, String name, boolean disable) {
        try (Fleet f = home.open()) {
            Instant now = f.clock().instant();
            f.store().credentials().setTokenDisabled(name, disable ? now : null, new AuditEvent(now, home.actor(), disable ? AuditAction.TOKEN_DISABLE : AuditAction.TOKEN_ENABLE,
                    "token:" + name, Map.of()));
            System.out.println((disable ? "Disabled" : "Enabled") + " token " + name);
        }
        return 0;
    }

    @Command(name = "revoke", mixinStandardHelpOptions = true, description = "Revoke a token; the server refuses it from the next request on.")
    static final class Revoke implements Callable<Integer> {
        @Mixin HomeOption home;
        @Parameters(paramLabel = "NAME") String name;

        @Override
        public Integer call() {
            try (Fleet f = home.open()) {
                Instant now = f.clock().instant();
                f.store().credentials().revokeToken(name, now, new AuditEvent(now, home.actor(), AuditAction.TOKEN_REVOKE, "token:" + name, Map.of()));
                System.out.println("Revoked token " + name);
            }
            return 0;
        }
    }

    /** What a token is bound to beyond its role: profiles, or signers and models. */
    private static String bindings(ApiToken t) {
        if (!t.signers().isEmpty() || !t.models().isEmpty()) {
            return "signers " + String.join(",", new TreeSet<>(t.signers())) + "; models " + String.join(",", new TreeSet<>(t.models()));
        }
        return t.profiles().isEmpty() ? "-" : String.join(",", new TreeSet<>(t.profiles()));
    }

    static Role parseRole(String role) {
        try {
            Role r = Role.valueOf(role.toUpperCase(Locale.ROOT).replace('-', '_'));
            if (r == Role.DEVICE) {
                throw new IllegalArgumentException();
            }
            return r;
        } catch (IllegalArgumentException e) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "role '" + role + "' is not one of admin, issuer, approver, auditor, factory, firmware-signer");
        }
    }
}
