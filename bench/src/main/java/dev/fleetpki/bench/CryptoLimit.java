package dev.fleetpki.bench;

import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Provider;
import java.security.Security;
import java.security.Signature;
import java.security.spec.ECGenParameterSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;

/** ECDSA P-256 sign + verify pairs per second through one JCA provider, on N threads. */
final class CryptoLimit {
    private CryptoLimit() {}

    record Result(String provider, int threads, double signPerSec, double verifyPerSec, double pairsPerSec) {}

    static Result measure(String providerName, int threads, double seconds) throws Exception {
        Provider p = Security.getProvider(providerName);
        if (p == null) {
            return null;
        }
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC", p);
        g.initialize(new ECGenParameterSpec("secp256r1"));
        KeyPair kp = g.generateKeyPair();
        byte[] msg = new byte[600]; // about a device certificate's TBS
        LongAdder signs = new LongAdder();
        LongAdder verifies = new LongAdder();
        long[] phaseNanos = new long[2];
        for (int phase = 0; phase < 2; phase++) {
            final int ph = phase;
            byte[] sig;
            Signature s0 = Signature.getInstance("SHA256withECDSA", p);
            s0.initSign(kp.getPrivate());
            s0.update(msg);
            sig = s0.sign();
            final byte[] fixedSig = sig;
            long end = System.nanoTime() + (long) (seconds * 1e9);
            long start = System.nanoTime();
            List<Thread> ts = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                ts.add(Thread.ofPlatform().start(() -> {
                    try {
                        Signature s = Signature.getInstance("SHA256withECDSA", p);
                        long n = 0;
                        while (System.nanoTime() < end) {
                            if (ph == 0) {
                                s.initSign(kp.getPrivate());
                                s.update(msg);
                                s.sign();
                            } else {
                                s.initVerify(kp.getPublic());
                                s.update(msg);
                                if (!s.verify(fixedSig)) {
                                    throw new IllegalStateException("verify failed");
                                }
                            }
                            n++;
                        }
                        (ph == 0 ? signs : verifies).add(n);
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                }));
            }
            for (Thread t : ts) {
                t.join();
            }
            phaseNanos[phase] = System.nanoTime() - start;
        }
        double sign = signs.sum() / (phaseNanos[0] / 1e9);
        double verify = verifies.sum() / (phaseNanos[1] / 1e9);
        return new Result(p.getName(), threads, sign, verify, 1 / (1 / sign + 1 / verify));
    }
}
