package dev.lethe.storage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.InputStream;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LetheDbTest {
  @TempDir Path dir;

  @Test
  void blobsSpanPartsAndSurviveReopen() {
    byte[] big = new byte[LetheDb.BLOB_PART_BYTES * 2 + 12345];
    new Random(1).nextBytes(big);
    byte[] key = Keys.version("m", 3);
    try (LetheDb db = LetheDb.open(dir)) {
      db.write(b -> b.putBlob(Family.WEIGHTS, key, big));
    }
    try (LetheDb db = LetheDb.open(dir)) {
      assertArrayEquals(big, db.readBlob(Family.WEIGHTS, key));
      assertNull(db.readBlob(Family.WEIGHTS, Keys.version("m", 4)));
      // A shorter replacement leaves no stale parts behind.
      db.write(b -> b.putBlob(Family.WEIGHTS, key, new byte[] {1, 2, 3}));
      assertArrayEquals(new byte[] {1, 2, 3}, db.readBlob(Family.WEIGHTS, key));
    }
  }

  @Test
  void ingestedBlobsEqualTheirBytesReplaceLongerOnesAndSurviveReopen() throws Exception {
    byte[] big = new byte[LetheDb.BLOB_PART_BYTES * 2 + 777];
    new Random(3).nextBytes(big);
    // position 5 .. limit: what is stored is what lies between them
    java.nio.ByteBuffer direct = java.nio.ByteBuffer.allocateDirect(big.length + 9);
    direct.position(5);
    direct.put(big).flip().position(5);
    byte[] key = Keys.version("m", 7);
    try (LetheDb db = LetheDb.open(dir)) {
      // a longer blob there before (a failed commit's): none of its 4 parts may survive
      db.write(b -> b.putBlob(Family.WEIGHTS, key, new byte[LetheDb.BLOB_PART_BYTES * 4]));
      db.ingestBlob(Family.WEIGHTS, key, direct.asReadOnlyBuffer());
      assertEquals(5, direct.position());
      assertArrayEquals(big, db.readBlob(Family.WEIGHTS, key));
      assertThrows(IllegalArgumentException.class,
          () -> db.ingestBlob(Family.WEIGHTS, key, java.nio.ByteBuffer.wrap(big)));
      assertArrayEquals(big, db.readBlob(Family.WEIGHTS, key));
      // an ingested blob is another blob to a batch: replaced and deleted like one
      db.ingestBlob(Family.WEIGHTS, Keys.version("m", 8), direct.duplicate());
      db.write(b -> b.deletePrefix(Family.WEIGHTS, Keys.version("m", 8)));
      assertNull(db.readBlob(Family.WEIGHTS, Keys.version("m", 8)));
      assertEquals(0, java.nio.file.Files.list(dir.resolve("ingest")).count());
    }
    // a model deleted (one range deletion over all its keys) and registered again: what is
    // ingested under the old name later is visible, beside the range deletion and after a reopen
    try (LetheDb db = LetheDb.open(dir)) {
      db.write(b -> b.deletePrefix(Family.WEIGHTS, Keys.modelPrefix("m")));
      assertNull(db.readBlob(Family.WEIGHTS, key));
      db.ingestBlob(Family.WEIGHTS, key, direct.duplicate());
      assertArrayEquals(big, db.readBlob(Family.WEIGHTS, key));
    }
    try (LetheDb db = LetheDb.open(dir)) {
      assertArrayEquals(big, db.readBlob(Family.WEIGHTS, key));
    }
    // a file a crash left in the ingest folder is deleted when the store opens
    java.nio.file.Files.write(dir.resolve("ingest").resolve("9.sst"), new byte[] {1, 2});
    try (LetheDb db = LetheDb.open(dir)) {
      assertArrayEquals(big, db.readBlob(Family.WEIGHTS, key));
      assertEquals(0, java.nio.file.Files.list(dir.resolve("ingest")).count());
    }
  }

  @Test
  void openBlobReadsASnapshot() throws Exception {
    byte[] first = new byte[LetheDb.BLOB_PART_BYTES + 10];
    new Random(2).nextBytes(first);
    byte[] key = Keys.modelPrefix("m");
    try (LetheDb db = LetheDb.open(dir)) {
      db.write(b -> b.putBlob(Family.GRAPHS, key, first));
      try (InputStream in = db.openBlob(Family.GRAPHS, key)) {
        db.write(b -> b.deletePrefix(Family.GRAPHS, key));
        assertArrayEquals(first, in.readAllBytes());
      }
      assertNull(db.readBlob(Family.GRAPHS, key));
    }
  }

  @Test
  void prefixesOfOneModelDoNotMatchAnother() {
    try (LetheDb db = LetheDb.open(dir)) {
      db.write(b -> {
        b.putBlob(Family.WEIGHTS, Keys.version("a", 1), new byte[] {1});
        b.putBlob(Family.WEIGHTS, Keys.version("ab", 1), new byte[] {2});
        b.deletePrefix(Family.WEIGHTS, Keys.modelPrefix("a"));
      });
      assertNull(db.readBlob(Family.WEIGHTS, Keys.version("a", 1)));
      assertArrayEquals(new byte[] {2}, db.readBlob(Family.WEIGHTS, Keys.version("ab", 1)));
    }
  }

  @Test
  void useAfterCloseIsIllegalState() {
    LetheDb db = LetheDb.open(dir);
    db.close();
    db.close(); // idempotent
    assertThrows(IllegalStateException.class, () -> db.get(Family.MODELS, new byte[] {1}));
  }
}
