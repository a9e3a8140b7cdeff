/**
 * The store as each consumer sees it: one narrow interface per aggregate (devices, enrollment
 * credentials, pending requests, certificates, the audit log), so a component asks for exactly
 * what it reads and writes. fleetpki-store's {@code JdbcStore} implements them all on SQLite and
 * PostgreSQL; the test kit has in-memory ones. Every write takes the audit event that goes into
 * the same transaction.
 */
package dev.fleetpki.core.store;
