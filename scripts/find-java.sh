# Sourced by ./fleetpki and bench/run: sets JAVA to a Java 25+ binary (FLEETPKI_JAVA, JAVA_HOME,
# /usr/lib/jvm, then PATH) or fails with a message saying what to install.
# The JDK's release file says its version without starting a JVM (which costs a third of a second
# on every command); a java without one is asked.
java_version() {
  local home
  home="$(dirname "$(dirname "$(readlink -f "$1")")")"
  if [ -f "$home/release" ]; then
    sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$home/release"
  else
    "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p'
  fi
}

find_java() {
  local c v
  for c in "${FLEETPKI_JAVA:-}" "${JAVA_HOME:+$JAVA_HOME/bin/java}" /usr/lib/jvm/*25*/bin/java /usr/lib/jvm/*/bin/java "$(command -v java || true)"; do
    [ -n "$c" ] && [ -x "$c" ] || continue
    v="$(java_version "$c")"
    if [ -n "$v" ] && [ "${v%%.*}" -ge 25 ] 2>/dev/null; then echo "$c"; return 0; fi
  done
  return 1
}

JAVA="$(find_java)" || { echo "fleetpki: needs a Java 25 JDK; install one (e.g. Temurin 25) under /usr/lib/jvm or set JAVA_HOME" >&2; exit 69; }
