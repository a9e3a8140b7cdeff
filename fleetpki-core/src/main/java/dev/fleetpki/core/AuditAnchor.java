package dev.fleetpki.core;

import dev.fleetpki.kms.Crypto;
import dev.fleetpki.kms.KeyAlgorithm;
import dev.fleetpki.kms.KeyManager;
import dev.fleetpki.kms.KeyRef;
import dev.fleetpki.kms.Pem;
import dev.fleetpki.kms.SecretSource;
import dev.fleetpki.kms.SigningKey;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.X509EncodedKeySpec;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.function.LongFunction;

/**
 * Anchors the hash-chained audit log outside the database. The chain alone shows an edited or
 * deleted event only to someone who cannot recompute the hashes; anyone who can write the
 * database can. So the head of the chain (sequence number and hash) is signed now and then with
 * the audit key, which lives in the CA home beside the CA keys ({@code keys/audit.p8}, encrypted
 * with the issuing CA's passphrase), never in the database, and each signed checkpoint is appended
 * to {@code audit/checkpoints} in the CA home. Verification checks every checkpoint's signature
 * with the public key kept in {@code ca/audit-key.pem} and that the chain in the database still
 * has that hash at that sequence number: a rewritten chain no longer does.
 */
public final class AuditAnchor {
    public static final String KEY_FILE = "keys/audit.p8";
    public static final String PUBLIC_KEY_FILE = "ca/audit-key.pem";
    public static final String CHECKPOINTS_FILE = "audit/checkpoints";
    private static final String DOMAIN = "fleetpki audit checkpoint v1";

    /** A signed statement: the chain's event {@code seq} had {@code hash} at {@code at}. */
    public record Checkpoint(long seq, String hash, Instant at, String signature) {
        String line() {
            return seq + " " + hash + " " + at + " " + signature;
        }

        static Checkpoint parse(String line) {
            String[] p = line.trim().split(" ");
            if (p.length != 4) {
                throw new IllegalArgumentException("not 'SEQ HASH TIME SIGNATURE'");
            }
            return new Checkpoint(Long.parseLong(p[0]), p[1], Instant.parse(p[2]), p[3]);
        }
    }

    private final Path home;
    private final KeyManager keys;
    private final SecretSource passphrase;
    /** The audit key once opened (opening a file key costs its PBKDF2 work). */
    private SigningKey key;

    public AuditAnchor(Path home, KeyManager keys, SecretSource passphrase) {
        this.home = home;
        this.keys = keys;
        this.passphrase = passphrase;
    }

    /** The audit key, made on first use (an ECDSA P-256 file key) with its public key written beside the CA certificates. */
    private synchronized SigningKey key() {
        if (key == null) {
            key = openOrCreate();
        }
        return key;
    }

    private SigningKey openOrCreate() {
        KeyRef ref = KeyRef.parse("file:" + KEY_FILE);
        Path pub = home.resolve(PUBLIC_KEY_FILE);
        if (Files.exists(home.resolve(KEY_FILE))) {
            SigningKey k = keys.open(ref, passphrase);
            if (!Files.exists(pub)) {
                writePublic(pub, k.publicKey());
            }
            return k;
        }
        SigningKey k = keys.create(ref, KeyAlgorithm.EC_P256, passphrase);
        writePublic(pub, k.publicKey());
        return k;
    }

    private static void writePublic(Path file, PublicKey key) {
        Pem.writePublicFile(file, Pem.encode("PUBLIC KEY", key.getEncoded()).getBytes(StandardCharsets.US_ASCII));
    }

    /** Signs the chain's head and appends the checkpoint to the file (synced before this returns). */
    public Checkpoint checkpoint(long seq, String hash, Instant at) {
        SigningKey k = key();
        byte[] signature;
        try {
            var signer = k.contentSigner();
            try (var out = signer.getOutputStream()) {
                out.write(message(seq, hash, at));
            }
            signature = signer.getSignature();
        } catch (IOException e) {
            throw new PkiException(ErrorKind.INTERNAL, "cannot sign the audit checkpoint: " + e.getMessage(), e);
        }
        Checkpoint c = new Checkpoint(seq, hash, at, Base64.getEncoder().encodeToString(signature));
        Path file = home.resolve(CHECKPOINTS_FILE);
        try {
            Files.createDirectories(file.getParent());
            try (var ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.APPEND, StandardOpenOption.WRITE)) {
                ch.write(ByteBuffer.wrap((c.line() + "\n").getBytes(StandardCharsets.US_ASCII)));
                ch.force(true);
            }
        } catch (IOException e) {
            throw new PkiException(ErrorKind.INTERNAL, "cannot append to " + file + ": " + e.getMessage(), e);
        }
        return c;
    }

    /** The newest checkpoint in the file, if any. */
    public Optional<Checkpoint> latest() {
        List<Checkpoint> all = read();
        return all.isEmpty() ? Optional.empty() : Optional.of(all.getLast());
    }

    /** Every checkpoint in the file, oldest first (a line that does not parse is reported by {@link #check}). */
    public List<Checkpoint> read() {
        List<Checkpoint> out = new ArrayList<>();
        for (String line : lines()) {
            try {
                out.add(Checkpoint.parse(line));
            } catch (RuntimeException e) {
                // reported by check()
            }
        }
        return out;
    }

    private List<String> lines() {
        Path file = home.resolve(CHECKPOINTS_FILE);
        try {
            return Files.exists(file) ? Files.readAllLines(file, StandardCharsets.US_ASCII).stream().filter(l -> !l.isBlank()).toList() : List.of();
        } catch (IOException e) {
            throw new PkiException(ErrorKind.INTERNAL, "cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    /** What verification found: how many checkpoints were checked, and one line per problem. */
    public record Result(int checkpoints, List<String> problems) {}

    /**
     * Checks every checkpoint: its signature with the audit public key, and that the chain has the
     * same hash at its sequence number ({@code hashAt}: the stored hash of event seq, or empty).
     */
    public Result check(LongFunction<Optional<String>> hashAt) {
        List<String> lines = lines();
        List<String> problems = new ArrayList<>();
        if (lines.isEmpty()) {
            return new Result(0, problems);
        }
        PublicKey key = publicKey();
        int n = 0;
        for (String line : lines) {
            n++;
            Checkpoint c;
            try {
                c = Checkpoint.parse(line);
            } catch (RuntimeException e) {
                problems.add("checkpoint line " + n + " of " + CHECKPOINTS_FILE + " is not 'SEQ HASH TIME SIGNATURE'");
                continue;
            }
            if (!verifies(key, c)) {
                problems.add("checkpoint line " + n + " (event " + c.seq() + ") is not signed by the audit key " + PUBLIC_KEY_FILE);
                continue;
            }
            Optional<String> now = hashAt.apply(c.seq());
            if (now.isEmpty()) {
                problems.add("event " + c.seq() + ", signed in a checkpoint at " + c.at() + ", is no longer in the log (deleted)");
            } else if (!now.get().equals(c.hash())) {
                problems.add("event " + c.seq() + " no longer has the hash signed at " + c.at() + ": the chain up to it was rewritten");
            }
        }
        return new Result(n, problems);
    }

    private PublicKey publicKey() {
        Path file = home.resolve(PUBLIC_KEY_FILE);
        try {
            String pem = Files.readString(file, StandardCharsets.US_ASCII);
            byte[] der = Base64.getMimeDecoder().decode(pem.replaceAll("-----(BEGIN|END) PUBLIC KEY-----", ""));
            Crypto.init();
            return KeyFactory.getInstance("EC").generatePublic(new X509EncodedKeySpec(der));
        } catch (IOException | GeneralSecurityException | RuntimeException e) {
            throw new PkiException(ErrorKind.CONFIG, "cannot read the audit public key " + file + " (" + e.getMessage()
                    + "); checkpoints cannot be checked without it", e);
        }
    }

    static boolean verifies(PublicKey key, Checkpoint c) {
        try {
            Signature v = Signature.getInstance(KeyAlgorithm.EC_P256.signatureAlgorithm());
            v.initVerify(key);
            v.update(message(c.seq(), c.hash(), c.at()));
            return v.verify(Base64.getDecoder().decode(c.signature()));
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            return false;
        }
    }

    private static byte[] message(long seq, String hash, Instant at) {
        return (DOMAIN + "\n" + seq + "\n" + hash + "\n" + at + "\n").getBytes(StandardCharsets.US_ASCII);
    }
}
