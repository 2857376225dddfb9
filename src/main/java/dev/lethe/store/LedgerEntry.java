package dev.lethe.store;

/**
 * One event of the erasure ledger.
 *
 * @param idSha256 hex SHA-256 of the sample id (the id itself is never stored)
 * @param version the version the event concerns (the erase version, or the version activated by
 *     a rollback)
 * @param event "erase" or "unerase"
 */
public record LedgerEntry(String idSha256, long version, String requestId, long unixMs, String event) {}
