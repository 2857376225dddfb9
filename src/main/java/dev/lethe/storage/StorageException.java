package dev.lethe.storage;

/** A RocksDB failure, wrapped once, naming the store and the operation. Server fault (INTERNAL). */
public final class StorageException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public StorageException(String message, Throwable cause) {
    super(message, cause);
  }

  public StorageException(String message) {
    super(message);
  }
}
