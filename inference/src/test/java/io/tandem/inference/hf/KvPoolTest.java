package io.tandem.inference.hf;

import static io.tandem.inference.hf.Golden.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.Device;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The pool behind every sequence's KV cache: rows handed out lowest first, reused, grown, shrunk and freed. */
class KvPoolTest {

  private static DecoderModel load() {
    return DecoderModel.load(Golden.fixture("qwen2-tiny"), Device.cpu(), Precision.FLOAT32, d -> {}, true);
  }

  @Test
  void rowsAreTakenLowestFirstReusedAndTheArraysFreedWithTheLastSequence() {
    try (DecoderModel m = load()) {
      List<KvCache> caches = new ArrayList<>();
      for (int i = 0; i < 9; i++) {
        KvCache c = m.newCache();
        assertEquals(0, c.bytes(), "no row before the first token");
        m.forward(List.of(c), List.of(new int[] {1, 2}));
        assertEquals(i, c.row());
        caches.add(c);
      }
      assertEquals(16, m.pool().rows(), "grown by doubling: 4, 8, 16");
      caches.get(3).close();
      KvCache reused = m.newCache();
      m.forward(List.of(reused), List.of(new int[] {3}));
      assertEquals(3, reused.row(), "the lowest free row");
      for (int i = 8; i >= 2; i--) caches.get(i).close();
      reused.close();
      assertEquals(4, m.pool().rows(), "halved while three quarters of it are free at the top");
      caches.get(0).close();
      caches.get(1).close();
      assertEquals(0, m.pool().rows(), "freed with the last sequence");
      assertEquals(0, m.pool().capacity());
    }
  }

  @Test
  void aSequenceKeepsItsCacheWhileThePoolGrowsAndShrinksAroundIt() {
    int[] prompt = {3, 14, 15, 9, 26, 5, 35, 8};
    try (DecoderModel grown = load(); DecoderModel quiet = load();
        KvCache kept = grown.newCache(); KvCache reference = quiet.newCache()) {
      grown.forward(List.of(kept), List.of(prompt));
      quiet.forward(List.of(reference), List.of(prompt));
      // Others come and go: the pool's rows double and halve, and its capacity doubles past 64.
      List<KvCache> others = new ArrayList<>();
      for (int i = 0; i < 6; i++) {
        KvCache c = grown.newCache();
        grown.forward(List.of(c), List.of(new int[i == 5 ? 100 : 3]));
        others.add(c);
      }
      assertEquals(128, grown.pool().capacity());
      others.forEach(KvCache::close);
      assertEquals(4, grown.pool().rows(), "halved, the kept sequence's row copied over");
      assertEquals(64, grown.pool().capacity(), "halved: the longest cache left holds 8 tokens");
      // A fork of the kept prefix, in a row of its own.
      try (KvCache fork = kept.forkPrefix(5); KvCache forkReference = reference.forkPrefix(5)) {
        assertEquals(1, fork.row());
        for (int step = 0; step < 3; step++) {
          int[] next = {(4 + step) % grown.config().vocabSize()};
          float[][] x = grown.forward(List.of(kept, fork), List.of(next, next));
          float[][] y = quiet.forward(List.of(reference, forkReference), List.of(next, next));
          assertClose("kept, step " + step, y[0], x[0]);
          assertClose("fork, step " + step, y[1], x[1]);
        }
      }
    }
  }

  @Test
  void aCacheClosedAfterItsModelIsHarmless() {
    DecoderModel m = load();
    KvCache c = m.newCache();
    m.forward(List.of(c), List.of(new int[] {1, 2, 3}));
    m.close();
    c.close();
    assertEquals(0, c.bytes());
  }
}
