package dev.fleetpki.core;

/**
 * Crash injection for tests: when the JVM runs with {@code -Dfleetpki.failpoint=NAME}, reaching
 * the point of that name halts the process at once (no shutdown hooks, no flushing), as a power
 * cut or {@code kill -9} would. Unset, each point is one comparison with null.
 */
public final class Failpoints {
    private static final String ACTIVE = System.getProperty("fleetpki.failpoint");

    private Failpoints() {}

    public static void hit(String name) {
        if (ACTIVE != null && ACTIVE.equals(name)) {
            System.err.println("failpoint " + name + ": halting");
            System.err.flush();
            Runtime.getRuntime().halt(137);
        }
    }
}
