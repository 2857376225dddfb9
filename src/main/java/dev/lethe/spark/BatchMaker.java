package dev.lethe.spark;

import dev.lethe.core.Samples;
import java.io.Serializable;
import java.util.List;

/**
 * Turns a few elements of a partition (Parquet rows, or row numbers of an IDX/CSV file) into
 * one batch of samples shaped and preprocessed for the model, without ids (a Fisher needs none;
 * MONTE_CARLO draws are then seeded by stream position). Serialised into the job's closures;
 * implementations are immutable and may cache per-JVM state.
 *
 * @param <T> the partition's element
 */
public interface BatchMaker<T> extends Serializable {
  Samples batch(List<T> elements);
}
