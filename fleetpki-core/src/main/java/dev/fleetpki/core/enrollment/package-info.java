/**
 * Enrollment as every protocol adapter shares it (EST, REST, and next SCEP, CMP and factory
 * batches): the fleet rule through {@link dev.fleetpki.core.EnrollmentAuthorizer}, deduplication
 * of re-sent CSRs, requests kept for an operator, approval and rejection, and rate limits. It
 * answers with typed outcomes; the adapter turns each into its protocol's status and headers.
 */
package dev.fleetpki.core.enrollment;
