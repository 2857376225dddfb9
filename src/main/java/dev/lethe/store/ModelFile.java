package dev.lethe.store;

import java.io.InputStream;

/**
 * The ONNX file of one version, streamed. The caller owns {@code content} and must close it
 * (it holds a storage snapshot).
 */
public record ModelFile(String name, long version, long sizeBytes, String sha256, InputStream content)
    implements AutoCloseable {
  @Override
  public void close() throws java.io.IOException {
    content.close();
  }
}
