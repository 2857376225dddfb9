package dev.lethe.storage;

import java.nio.charset.StandardCharsets;

/** The column families of Lethe's RocksDB, one per kind of record (see DESIGN.md, Storage). */
public enum Family {
  /** model name -> ModelRecord. */
  MODELS("models", false),
  /** model name -> ONNX skeleton (the file without the erasable weights), as a blob. */
  GRAPHS("graphs", true),
  /** (model, version) -> erasable parameters, float32 little-endian in spec order, as a blob. */
  WEIGHTS("weights", true),
  /** (model, fisher id, block) -> inverse Fisher block. */
  FISHER("fisher", true),
  /** (model, sha256(sample id)) -> erasure record. */
  LEDGER("ledger", false),
  /** idempotency keys -> first response. */
  REQUESTS("requests", false);

  private final String cfName;
  private final boolean largeValues;

  Family(String cfName, boolean largeValues) {
    this.cfName = cfName;
    this.largeValues = largeValues;
  }

  public String cfName() {
    return cfName;
  }

  byte[] cfNameBytes() {
    return cfName.getBytes(StandardCharsets.UTF_8);
  }

  /** Large values go to blob files instead of SST files. */
  boolean largeValues() {
    return largeValues;
  }
}
